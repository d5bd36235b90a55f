//! Errors as JS `Error` objects carrying the stable code of [`UaError::code`].
//!
//! The shim (`js/imclient.js`) gives them the `ImError` prototype, so `instanceof
//! ImError` holds for every error this package throws or rejects with.

use super::obj::Obj;
use crate::ua::UaError;
use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// An `Error` with `name = "ImError"`, `code`, and `status` / `reason` when a SIP
/// response caused it.
pub(crate) fn js_error(
    code: &str,
    message: &str,
    status: Option<u16>,
    reason: Option<&str>,
) -> JsValue {
    let e: JsValue = js_sys::Error::new(message).into();
    let o = Obj::from_value(&e);
    o.str("name", "ImError").str("code", code);
    o.opt_num("status", status.map(f64::from));
    o.opt_str("reason", reason);
    e
}

/// The JS error for a user-agent error. Its message is the error's `Display`,
/// which never carries a secret.
pub(crate) fn from_ua(e: &UaError) -> JsValue {
    let reason = match e {
        UaError::Rejected { reason, .. } => Some(reason.as_str()),
        _ => None,
    };
    let err = js_error(e.code(), &e.to_string(), e.status(), reason);
    if let UaError::Rejected {
        retry_after: Some(s),
        ..
    } = e
    {
        let _ = Reflect::set(&err, &"retryAfter".into(), &f64::from(*s).into());
    }
    err
}
