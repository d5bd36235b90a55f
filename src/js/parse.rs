//! `parseMessage(text)`: one SIP message, read lazily from an index.
//!
//! Crossing the boundary is what costs in a parser called from JS: one JS string
//! per field, or a JSON text and `JSON.parse`, cost 10–20 times the parse itself.
//! So nothing crosses but numbers. The message is parsed and validated here exactly
//! as the user agent does (start line, Call-ID, CSeq, From, To, every Via), and the
//! result is an *index*: for every field the shim may be asked for, where in the
//! caller's own string its text is (UTF-16 offsets). The shim (js/imclient.js,
//! `SipMessage`) copies the index out of wasm memory and slices the original
//! string only when a field is read; V8 slices without copying.
//!
//! A field's text need not be *the* place it was parsed from, only a place in the
//! input with the same characters: a value is looked for inside its header's raw
//! value, and one that appears nowhere verbatim (an unfolded header, a display name
//! with escapes, an IPv6 address printed canonically, a body cut inside a
//! character) goes to a side string that the shim decodes once. Equal content is
//! checked byte for byte, so the index can never point at the wrong text.
//!
//! Layout of the index (u32 words; a span is two words, `start, end`):
//!
//! ```text
//! [0] number of words   [1] flags (bit 0: request, bit 1: side string present)
//! [2] status (0 for a request)   [3] CSeq number
//! span method | span Request-URI | span reason
//! span Call-ID | span CSeq method
//! span From URI | span From tag | span From display   (same three for To)
//! span Content-Type | span body
//! Via count, then per Via: span transport, span host, port, span branch,
//!                          span received, rport
//! header count, then per header: span name, span value
//! ```
//!
//! A span's start is [`ABSENT`] when the field is absent, and has [`SIDE`] set when
//! it indexes the side string instead of the input. `port` is [`ABSENT`] or the
//! number; `rport` is [`ABSENT`], [`RPORT_FLAG`] (present without a value) or the
//! number.

use super::error::js_error;
use crate::message::{Framing, HeaderName, Message, NameAddr, StartLine};
use std::cell::RefCell;
use wasm_bindgen::JsValue;

/// A span start (or number) meaning "absent".
pub(crate) const ABSENT: u32 = u32::MAX;
/// Set in a span's start when the span indexes the side string.
pub(crate) const SIDE: u32 = 1 << 31;
/// `rport` present without a value.
pub(crate) const RPORT_FLAG: u32 = u32::MAX - 1;

/// Word positions in the index (the drawing above). The one definition: the shim
/// reads them with `parseLayout()`, and the writer below checks each position in
/// debug builds (the wasm-bindgen tests run those).
pub(crate) const LAYOUT: &[(&str, u32)] = &[
    ("ABSENT", ABSENT),
    ("SIDE", SIDE),
    ("RPORT_FLAG", RPORT_FLAG),
    ("W_FLAGS", W_FLAGS),
    ("W_STATUS", 2),
    ("W_SEQ", 3),
    ("W_METHOD", 4),
    ("W_URI", 6),
    ("W_REASON", 8),
    ("W_CALL_ID", W_CALL_ID),
    ("W_CSEQ_METHOD", 12),
    ("W_FROM", W_FROM),
    ("W_TO", 20),
    ("W_CONTENT_TYPE", W_CONTENT_TYPE),
    ("W_BODY", 28),
    ("W_VIAS", W_VIAS),
    ("VIA_WORDS", VIA_WORDS),
];
const W_FLAGS: u32 = 1;
const W_CALL_ID: u32 = 10;
const W_FROM: u32 = 14;
const W_CONTENT_TYPE: u32 = 26;
const W_VIAS: u32 = 30;
/// Words per Via: span transport, span host, port, span branch, span received, rport.
const VIA_WORDS: u32 = 10;

/// The last parse's index and side string, reused from call to call so a parse
/// allocates nothing here once they have grown to the messages seen.
#[derive(Default)]
struct Output {
    words: Vec<u32>,
    side: String,
    side_utf16: u32,
}

thread_local! {
    static OUTPUT: RefCell<Output> = RefCell::new(Output::default());
    /// Where the shim writes the message (`TextEncoder.encodeInto`): one copy into
    /// wasm memory, without wasm-bindgen's per-character string passing.
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Makes the input buffer at least `capacity` bytes and returns its address.
pub(crate) fn input_buffer(capacity: usize) -> usize {
    INPUT.with(|cell| {
        let mut input = cell.borrow_mut();
        if input.len() < capacity {
            input.resize(capacity, 0);
        }
        input.as_ptr() as usize
    })
}

/// Parses the first `len` bytes of the input buffer (see [`parse_to_index`]).
pub(crate) fn parse_input(len: usize) -> Result<usize, JsValue> {
    INPUT.with(|cell| {
        let input = cell.borrow();
        let bytes = input.get(..len).unwrap_or_default();
        // TextEncoder writes UTF-8 only; checked all the same (no unsafe here).
        let text = core::str::from_utf8(bytes).map_err(bad)?;
        parse_to_index(text)
    })
}

/// Maps byte offsets of the input to UTF-16 offsets (what JS strings index by).
/// For ASCII input (nearly every SIP message) the two are the same.
struct Utf16Map {
    /// `(byte offset just after a non-ASCII character, UTF-16 units saved so far)`,
    /// in increasing order; empty for ASCII input.
    steps: Vec<(u32, u32)>,
}

impl Utf16Map {
    fn new(text: &str) -> Self {
        let mut steps = Vec::new();
        if !text.is_ascii() {
            // By lead byte: 2- and 3-byte sequences are one UTF-16 unit, 4-byte
            // sequences two (a surrogate pair).
            let mut saved = 0u32;
            for (at, &b) in text.as_bytes().iter().enumerate() {
                let (len, units) = match b {
                    0xC0..=0xDF => (2, 1),
                    0xE0..=0xEF => (3, 1),
                    0xF0..=0xF7 => (4, 2),
                    _ => continue,
                };
                saved += len - units;
                steps.push((at as u32 + len, saved));
            }
        }
        Utf16Map { steps }
    }

    /// `byte` must be a character boundary of the input.
    fn map(&self, byte: usize) -> u32 {
        let byte = byte as u32;
        if self.steps.is_empty() {
            return byte;
        }
        let i = self.steps.partition_point(|&(end, _)| end <= byte);
        byte - if i == 0 { 0 } else { self.steps[i - 1].1 }
    }
}

/// Builds one index.
struct Indexer<'a> {
    input: &'a str,
    map: Utf16Map,
    out: &'a mut Output,
}

impl Indexer<'_> {
    fn word(&mut self, w: u32) {
        self.out.words.push(w);
    }

    fn absent(&mut self) {
        self.out.words.extend_from_slice(&[ABSENT, ABSENT]);
    }

    /// A span of the input by byte offsets (character boundaries).
    fn input_span(&mut self, start: usize, end: usize) {
        let (s, e) = (self.map.map(start), self.map.map(end));
        self.out.words.extend_from_slice(&[s, e]);
    }

    /// `value` as a span: found verbatim in the input between byte offsets
    /// `within`, else appended to the side string.
    fn text(&mut self, value: &str, within: (usize, usize)) {
        let hay = self
            .input
            .as_bytes()
            .get(within.0..within.1)
            .unwrap_or_default();
        // A first-byte scan and a compare: values and the header values searched are
        // short, and memchr's memmem would add kilobytes of wasm for no gain here.
        let needle = value.as_bytes();
        let found = match needle.first() {
            None => Some(0),
            Some(&first) => {
                let mut from = 0;
                loop {
                    let Some(i) = hay.get(from..).and_then(|h| memchr::memchr(first, h)) else {
                        break None;
                    };
                    if hay[from + i..].starts_with(needle) {
                        break Some(from + i);
                    }
                    from += i + 1;
                }
            }
        };
        match found {
            // A match of a whole UTF-8 string starts and ends on character boundaries.
            Some(at) => self.input_span(within.0 + at, within.0 + at + value.len()),
            None => {
                let start = self.out.side_utf16;
                self.out.side.push_str(value);
                self.out.side_utf16 += value.encode_utf16().count() as u32;
                let end = self.out.side_utf16;
                self.out
                    .words
                    .extend_from_slice(&[start | SIDE, end | SIDE]);
            }
        }
    }

    fn opt_text(&mut self, value: Option<&str>, within: (usize, usize)) {
        match value {
            Some(v) => self.text(v, within),
            None => self.absent(),
        }
    }

    fn name_addr(&mut self, n: &NameAddr, within: (usize, usize)) {
        self.text(n.uri.as_str(), within);
        self.opt_text(n.tag(), within);
        self.opt_text(n.display.as_deref(), within);
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

/// Parses `text` and leaves its index in wasm memory; returns the index's address
/// (its first word is its length), or a `bad_input` error.
pub(crate) fn parse_to_index(text: &str) -> Result<usize, JsValue> {
    let msg = Message::parse(text.as_bytes()).map_err(bad)?;
    // The reads every UA makes: a message that fails one is not usable.
    let call_id = msg.call_id().map_err(bad)?;
    let cseq = msg.cseq().map_err(bad)?;
    let from = msg.from().map_err(bad)?;
    let to = msg.to().map_err(bad)?;
    let vias = msg.via().map_err(bad)?;

    let whole = (0, text.len());
    // Where the codec found the start line, the headers and the body (its one framing
    // pass), and where each header's value sat in the input.
    let bytes = text.as_bytes();
    let framing = msg.framing().unwrap_or(Framing {
        start_line: 0,
        headers: 0,
        body: text.len(),
    });
    let header_span = |name: HeaderName| {
        msg.header(name)
            .and_then(|v| msg.header_offset(v))
            .unwrap_or(whole)
    };

    OUTPUT.with(|cell| {
        let mut out = cell.borrow_mut();
        out.words.clear();
        out.side.clear();
        out.side_utf16 = 0;
        let mut ix = Indexer {
            input: text,
            map: Utf16Map::new(text),
            out: &mut out,
        };
        ix.word(0); // length, set at the end
        ix.word(0); // flags
        debug_assert_eq!(W_FLAGS, 1);
        let start_line = (framing.start_line, framing.headers);
        match msg.start_line() {
            StartLine::Request { method, uri } => {
                ix.out.words[1] = 1;
                ix.word(0);
                ix.word(cseq.seq);
                ix.text(method.as_str(), start_line);
                ix.text(uri.as_str(), start_line);
                ix.absent();
            }
            StartLine::Response { status, reason } => {
                ix.word(u32::from(*status));
                ix.word(cseq.seq);
                ix.absent();
                ix.absent();
                ix.text(reason, start_line);
            }
        }
        debug_assert_eq!(ix.out.words.len() as u32, W_CALL_ID);
        ix.text(call_id, header_span(HeaderName::CallId));
        ix.text(cseq.method.as_str(), header_span(HeaderName::CSeq));
        debug_assert_eq!(ix.out.words.len() as u32, W_FROM);
        ix.name_addr(&from, header_span(HeaderName::From));
        ix.name_addr(&to, header_span(HeaderName::To));
        debug_assert_eq!(ix.out.words.len() as u32, W_CONTENT_TYPE);
        let content_type = msg.header(HeaderName::ContentType);
        ix.opt_text(content_type, header_span(HeaderName::ContentType));
        // The body is the input's tail (or a prefix of it, Content-Length); a body cut
        // inside a character is not a string slice and goes to the side string.
        let body = msg.body();
        let body_at = framing.body;
        match core::str::from_utf8(body) {
            Ok(b) if bytes.get(body_at..body_at + b.len()) == Some(body) => {
                ix.input_span(body_at, body_at + b.len())
            }
            Ok(b) => ix.text(b, whole),
            Err(_) => ix.text(&String::from_utf8_lossy(body), (0, 0)),
        }

        debug_assert_eq!(ix.out.words.len() as u32, W_VIAS);
        ix.word(vias.len() as u32);
        let via_lines: Vec<(usize, usize)> = msg
            .header_all(HeaderName::Via)
            .map(|v| msg.header_offset(v).unwrap_or(whole))
            .collect();
        for v in &vias {
            let via_start = ix.out.words.len();
            // A Via's parts are searched for in every Via line: the text found is equal
            // wherever it is found.
            let within = match via_lines.as_slice() {
                [one] => *one,
                _ => whole,
            };
            ix.text(&v.transport, within);
            ix.text(&v.host.to_string(), within);
            ix.word(v.port.map_or(ABSENT, u32::from));
            ix.opt_text(v.branch(), within);
            ix.opt_text(v.received(), within);
            ix.word(match v.rport() {
                None => ABSENT,
                Some(None) => RPORT_FLAG,
                Some(Some(p)) => u32::from(p),
            });
            debug_assert_eq!((ix.out.words.len() - via_start) as u32, VIA_WORDS);
        }

        ix.word(msg.header_count() as u32);
        for (name, value) in msg.headers() {
            match msg.header_offset(name) {
                Some((s, e)) => ix.input_span(s, e),
                None => ix.text(name, whole),
            }
            match msg.header_offset(value) {
                Some((s, e)) => ix.input_span(s, e),
                // An unfolded value (continuation lines joined) is not in the input.
                None => ix.text(value, (0, 0)),
            }
        }

        if !out.side.is_empty() {
            out.words[1] |= 2;
        }
        let len = out.words.len() as u32;
        out.words[0] = len;
        Ok(out.words.as_ptr() as usize)
    })
}

/// The side string of the last parse (see the module docs).
pub(crate) fn side_string() -> String {
    OUTPUT.with(|cell| cell.borrow().side.clone())
}
