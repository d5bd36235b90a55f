//! `parseMessage(text)`: one SIP message as a plain object.
//!
//! The object is written as JSON text here and turned into an object by one
//! `JSON.parse` in the shim: one string crosses the boundary instead of a
//! `Reflect.set` (and a string conversion) per field. Measured in Node 20 over
//! benches/corpus: 30 µs per message against 53 µs for the object built with
//! `Reflect.set` (and 7 µs of that is `Message::parse` itself).

use super::error::js_error;
use crate::message::{HeaderName, Message, NameAddr, StartLine, Via};
use core::fmt::Write;
use wasm_bindgen::JsValue;

/// A JSON writer just big enough for this object.
struct Json(String);

impl Json {
    fn raw(&mut self, s: &str) -> &mut Self {
        self.0.push_str(s);
        self
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.0.reserve(s.len() + 2);
        self.0.push('"');
        let bytes = s.as_bytes();
        let mut start = 0;
        while let Some(off) = bytes.get(start..).and_then(|rest| {
            rest.iter()
                .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        }) {
            let i = start + off;
            // `i` is in bounds (found by `position`) and at an ASCII byte, so both
            // slices end on character boundaries.
            self.0.push_str(&s[start..i]);
            match bytes[i] {
                b'"' => self.0.push_str("\\\""),
                b'\\' => self.0.push_str("\\\\"),
                b'\n' => self.0.push_str("\\n"),
                b'\r' => self.0.push_str("\\r"),
                b'\t' => self.0.push_str("\\t"),
                b => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.0.push_str("\\u00");
                    self.0.push(char::from(HEX[usize::from(b >> 4)]));
                    self.0.push(char::from(HEX[usize::from(b & 15)]));
                }
            }
            start = i + 1;
        }
        self.0.push_str(&s[start..]);
        self.0.push('"');
        self
    }

    fn opt_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.str(s),
            None => self.raw("null"),
        }
    }

    fn num(&mut self, n: impl core::fmt::Display) -> &mut Self {
        let _ = write!(self.0, "{n}");
        self
    }

    fn key(&mut self, k: &str) -> &mut Self {
        // Keys are literals here: no escaping needed.
        self.0.push('"');
        self.0.push_str(k);
        self.0.push_str("\":");
        self
    }

    fn name_addr(&mut self, n: &NameAddr) -> &mut Self {
        self.raw("{")
            .key("uri")
            .str(n.uri.as_str())
            .raw(",")
            .key("tag")
            .opt_str(n.tag())
            .raw(",")
            .key("display")
            .opt_str(n.display.as_deref())
            .raw("}")
    }

    fn via(&mut self, v: &Via) -> &mut Self {
        self.raw("{")
            .key("transport")
            .str(&v.transport)
            .raw(",")
            .key("host")
            .str(&v.host.to_string())
            .raw(",")
            .key("port");
        match v.port {
            Some(p) => self.num(p),
            None => self.raw("null"),
        };
        self.raw(",")
            .key("branch")
            .opt_str(v.branch())
            .raw(",")
            .key("received")
            .opt_str(v.received())
            .raw(",")
            .key("rport");
        match v.rport() {
            None => self.raw("null"),
            Some(None) => self.raw("true"),
            Some(Some(p)) => self.num(p),
        };
        self.raw("}")
    }
}

fn bad(e: impl core::fmt::Display) -> JsValue {
    js_error(
        "bad_input",
        &format!("invalid SIP message: {e}"),
        None,
        None,
    )
}

/// The message as JSON text (the shim parses it), or a `bad_input` error.
pub(crate) fn parse_message_json(text: &str) -> Result<String, JsValue> {
    let msg = Message::parse(text.as_bytes()).map_err(bad)?;
    let mut j = Json(String::with_capacity(text.len() + 512));
    j.raw("{");
    match msg.start_line() {
        StartLine::Request { method, uri } => {
            j.key("kind")
                .str("request")
                .raw(",")
                .key("method")
                .str(method.as_str())
                .raw(",")
                .key("uri")
                .str(uri.as_str());
        }
        StartLine::Response { status, reason } => {
            j.key("kind")
                .str("response")
                .raw(",")
                .key("status")
                .num(status)
                .raw(",")
                .key("reason")
                .str(reason);
        }
    }
    let cseq = msg.cseq().map_err(bad)?;
    j.raw(",")
        .key("callId")
        .str(msg.call_id().map_err(bad)?)
        .raw(",")
        .key("cseq")
        .raw("{")
        .key("seq")
        .num(cseq.seq)
        .raw(",")
        .key("method")
        .str(cseq.method.as_str())
        .raw("},")
        .key("from")
        .name_addr(&msg.from().map_err(bad)?)
        .raw(",")
        .key("to")
        .name_addr(&msg.to().map_err(bad)?)
        .raw(",")
        .key("via")
        .raw("[");
    for (i, v) in msg.via().map_err(bad)?.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.via(v);
    }
    j.raw("],").key("headers").raw("[");
    for (i, (name, value)) in msg.headers().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.raw("[").str(name).raw(",").str(value).raw("]");
    }
    j.raw("],").key("contentType");
    j.opt_str(msg.header(HeaderName::ContentType));
    j.raw(",")
        .key("body")
        .str(&String::from_utf8_lossy(msg.body()))
        .raw("}");
    Ok(j.0)
}
