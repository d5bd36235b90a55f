//! Errors as `ImError` instances carrying the stable code of [`UaError::code`].
//!
//! `ImError` is defined once, in `js/imerror.js`; the core constructs it through
//! this import, and the shim re-exports the same class.

use super::details::ErrorInit;
use super::obj::write;
use crate::ua::UaError;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/imerror.js")]
extern "C" {
    #[wasm_bindgen(js_name = ImError)]
    type JsImError;

    #[wasm_bindgen(constructor, js_class = "ImError")]
    fn new(code: &str, message: &str, init: &JsValue) -> JsImError;
}

/// An `ImError` with `code`, and `status` / `reason` / `retryAfter` when a SIP
/// response caused it.
pub(crate) fn js_error(
    code: &str,
    message: &str,
    status: Option<u16>,
    reason: Option<&str>,
) -> JsValue {
    error_with(code, message, status, reason, None)
}

fn error_with(
    code: &str,
    message: &str,
    status: Option<u16>,
    reason: Option<&str>,
    retry_after: Option<u32>,
) -> JsValue {
    let init = write(&ErrorInit {
        status,
        reason,
        retry_after,
    });
    JsImError::new(code, message, &init).into()
}

/// The JS error for a user-agent error. Its message is the error's `Display`,
/// which never carries a secret.
pub(crate) fn from_ua(e: &UaError) -> JsValue {
    let (reason, retry_after) = match e {
        UaError::Rejected {
            reason,
            retry_after,
            ..
        } => (Some(reason.as_str()), *retry_after),
        _ => (None, None),
    };
    error_with(e.code(), &e.to_string(), e.status(), reason, retry_after)
}
