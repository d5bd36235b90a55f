//! The WebSockets the core opens (the SIP flow, one per MSRP session): the JS
//! context's own, or made with the app's `webSocket` constructor (Node's `ws`, a
//! test double, anything WebSocket-shaped).
//!
//! A JS exception must never unwind through the core's frames: it skips their
//! cleanup, which leaves the client's state borrowed ("the client is busy" for
//! every later call) and the wasm stack pointer where the exception found it. An
//! app's socket object may throw from anything — its constructor, a setter, the
//! `data` getter of the event it hands back — so every touch of a socket goes
//! through `Reflect` or a web-sys method declared `catch`. A socket that cannot be
//! set up is a failed connect (the flow's backoff and retry take it from there);
//! an event whose data cannot be read is dropped with a trace.

use js_sys::{ArrayBuffer, Function, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::WebSocket;

/// The handlers a socket calls: `open`, `message` (with the message event),
/// `close` and `error` (both `gone`).
pub(super) struct Handlers<'a> {
    pub open: &'a JsValue,
    pub message: &'a JsValue,
    pub gone: &'a JsValue,
}

/// A socket to `url` speaking `protocol`, made by `ctor` (or the context's
/// `WebSocket`), binary frames as `ArrayBuffer`s and `handlers` attached; `None`
/// when it cannot be made or set up (closed again if it was made).
pub(super) fn open(
    ctor: Option<&Function>,
    url: &str,
    protocol: &str,
    handlers: &Handlers,
) -> Option<WebSocket> {
    let ws = match ctor {
        Some(ctor) => {
            let args = js_sys::Array::of2(&url.into(), &protocol.into());
            Reflect::construct(ctor, &args)
                .ok()?
                .unchecked_into::<WebSocket>()
        }
        None => WebSocket::new_with_str(url, protocol).ok()?,
    };
    let set = [
        ("binaryType", &JsValue::from_str("arraybuffer")),
        ("onopen", handlers.open),
        ("onmessage", handlers.message),
        ("onclose", handlers.gone),
        ("onerror", handlers.gone),
    ];
    for (key, value) in set {
        if Reflect::set(&ws, &key.into(), value) != Ok(true) {
            close(&ws);
            return None;
        }
    }
    Some(ws)
}

/// Detaches our handlers (so a late event of an old socket is never taken for the
/// current one) and closes the socket; whatever it throws is ignored.
pub(super) fn close(ws: &WebSocket) {
    // A no-op rather than null: Node's `ws` throws an 'error' event that has no
    // listener (closing while connecting emits one).
    let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value();
    for key in ["onopen", "onmessage", "onclose", "onerror"] {
        let _ = Reflect::set(ws, &key.into(), &ignore);
    }
    // 1000, a normal closure (RFC 6455 §7.4.1): without a code the core sees 1005,
    // "no status", which some log as an abnormal end.
    let _ = ws.close_with_code(1000);
}

/// What a message event carries: its text, or its bytes (a binary frame: an
/// `ArrayBuffer`, or a view such as Node's `Buffer`); `None` when its `data` cannot
/// be read or is neither.
pub(super) fn data(event: &JsValue) -> Option<Result<String, Vec<u8>>> {
    let data = Reflect::get(event, &"data".into()).ok()?;
    if let Some(text) = data.as_string() {
        return Some(Ok(text));
    }
    if data.is_instance_of::<ArrayBuffer>() || ArrayBuffer::is_view(&data) {
        return Some(Err(Uint8Array::new(&data).to_vec()));
    }
    None
}
