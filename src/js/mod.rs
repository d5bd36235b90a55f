//! The JavaScript binding (wasm32 only): glue between JS and the sans-IO core.
//!
//! ```text
//!  js/imclient.js (ImClient extends EventTarget, ImError)  ◄── re-exported by the package's
//!      │                                                       entry imsip.js (+ init)
//!      │  new ImClientCore(options, emit)      emit(type, detail) ──► dispatchEvent(CustomEvent)
//!      ▼
//!  ImClientCore (client.rs)   one Rc<Shared>: the UserAgent, the WebSocket, one timer,
//!      │                      the OpId → Promise resolvers
//!      │  handle_input(now, …) then drain poll_output()
//!      ▼
//!  crate::ua::UserAgent
//! ```
//!
//! This module holds no SIP logic: it reads options into a [`crate::ua::Config`],
//! moves frames between the WebSocket and the user agent, re-arms one `setTimeout` to
//! the earliest wake-up, and turns events and outcomes into plain JS objects. The
//! free functions [`parse_index`], [`encode_service_settings`],
//! [`decode_service_settings`] and [`version`] expose the codecs.
//!
//! Errors cross as `Error` objects with `name = "ImError"` and the stable `code`
//! of [`crate::ua::UaError::code`] (plus `status` / `reason` for SIP rejections);
//! the JS shim gives them the `ImError` prototype.
//!
//! Objects in and out (options, settings objects, event details) cross through
//! serde-wasm-bindgen with derived (de)serializers (`obj.rs`), every refusal naming
//! the field by its path (`aka.k`, `reconnect.minDelay`). `parseMessage` returns an
//! index of offsets into the caller's string instead (see `parse.rs`). Sockets are
//! touched only through calls that catch (`socket.rs`): a JS exception must never
//! unwind through the core. Build and tests: `js/build.sh`, `js/test.sh`; tests in
//! `tests/js.rs`.

mod chat;
mod client;
mod details;
mod error;
mod obj;
mod options;
mod parse;
mod settings;
mod socket;

pub use client::ImClientCore;

use wasm_bindgen::prelude::*;

/// Parses one SIP message (one WebSocket frame) and leaves its index in wasm
/// memory (see `parse.rs`); returns the index's address. Throws an error with code
/// `bad_input` when the text is not a usable SIP message. The shim's
/// `parseMessage` wraps this.
#[wasm_bindgen(js_name = parseIndex)]
pub fn parse_index(text: &str) -> Result<usize, JsValue> {
    parse::parse_to_index(text)
}

/// Makes the parse input buffer at least `capacity` bytes; returns its address.
/// The shim writes a message there with `TextEncoder.encodeInto`, then calls
/// `parseInput(length)`.
#[wasm_bindgen(js_name = parseBuffer)]
pub fn parse_buffer(capacity: usize) -> usize {
    parse::input_buffer(capacity)
}

/// `parseIndex` on the first `len` bytes of the parse input buffer.
#[wasm_bindgen(js_name = parseInput)]
pub fn parse_input(len: usize) -> Result<usize, JsValue> {
    parse::parse_input(len)
}

/// The side string of the last `parseIndex` (values not found verbatim in the input).
#[wasm_bindgen(js_name = parseSide)]
pub fn parse_side() -> String {
    parse::side_string()
}

/// The layout of the index `parseIndex` leaves (word positions and markers, by
/// name): defined once, in `src/js/parse.rs`.
#[wasm_bindgen(js_name = parseLayout)]
pub fn parse_layout() -> JsValue {
    let o = js_sys::Object::new();
    for (name, value) in parse::LAYOUT {
        // A fresh ordinary object: Reflect.set cannot throw.
        let _ = js_sys::Reflect::set(&o, &(*name).into(), &f64::from(*value).into());
    }
    o.into()
}

/// The module's memory, where `parseIndex` leaves its index.
#[wasm_bindgen(js_name = wasmMemory)]
pub fn wasm_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Encodes a settings object (see `ServiceSettings` in the TypeScript types) as an
/// `application/service-settings+xml` document.
#[wasm_bindgen(js_name = encodeServiceSettings)]
pub fn encode_service_settings(settings: JsValue) -> Result<String, JsValue> {
    settings::from_js(&settings, "settings", None)
        .map(|s| s.encode())
        .map_err(|e| error::from_ua(&e))
}

/// Decodes an `application/service-settings+xml` document into a settings object
/// for the entity `aor` (or the first entity when `aor` is absent or not found).
#[wasm_bindgen(js_name = decodeServiceSettings)]
pub fn decode_service_settings(xml: &str, aor: Option<String>) -> Result<JsValue, JsValue> {
    let doc = crate::settings::ServiceSettings::decode(xml.as_bytes()).map_err(|e| {
        error::from_ua(&crate::ua::UaError::BadInput(format!(
            "service settings: {e}"
        )))
    })?;
    let mut view =
        crate::settings::EntitySettings::from_document(&doc, aor.as_deref().unwrap_or(""));
    // The caller's own text, verbatim, as extensions.xml.
    view.document = Some(xml.to_owned());
    Ok(obj::write(&settings::view_object(view)))
}

/// The crate version.
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_owned()
}
