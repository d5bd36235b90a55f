//! `message/cpim` (RFC 3862, Common Presence and Instant Messaging: Message Format),
//! the envelope OMA IM and RCS put around a page-mode message so that it can carry
//! IMDN requests (RFC 5438), a sender-side `DateTime` and other namespaced metadata.
//!
//! A CPIM message is two header sections and a body, each section ending with an
//! empty line:
//!
//! ```text
//! From: Alice <im:alice@imsip.test>          ┐
//! To: <sip:bob@imsip.test>                   │ message headers (RFC 3862 §3, §4)
//! DateTime: 2026-11-29T23:05:00Z             │
//! NS: imdn <urn:ietf:params:imdn>            │
//! imdn.Message-ID: 7kQ2s9                    ┘
//!                                              empty line
//! Content-Type: text/plain;charset=UTF-8     ┐ MIME headers of the
//! Content-Length: 6                          ┘ encapsulated object
//!                                              empty line
//! héllo                                        its body (bytes)
//! ```
//!
//! The outer MIME headers RFC 3862 §2 draws above the message headers are the SIP
//! message's own `Content-Type: message/cpim`: [`CpimMessage::decode`] takes the SIP
//! body, which starts at the message headers.
//!
//! ```
//! use imsip::im::cpim::{CpimAddress, CpimMessage};
//! let imdn = "urn:ietf:params:imdn";
//! let bytes = CpimMessage::new(
//!     CpimAddress::new("sip:alice@imsip.test").with_display("Alice"),
//!     "sip:bob@imsip.test",
//!     "text/plain;charset=UTF-8",
//!     "héllo",
//! )
//! .date_time(1_795_993_500)
//! .namespaced("imdn", imdn, "Message-ID", "7kQ2s9")
//! .namespaced("imdn", imdn, "Disposition-Notification", "positive-delivery, display")
//! .encode()
//! .unwrap();
//!
//! let msg = CpimMessage::decode(&bytes).unwrap();
//! assert_eq!(msg.from().unwrap().display.as_deref(), Some("Alice"));
//! assert_eq!(msg.to().unwrap().uri, "sip:bob@imsip.test");
//! assert_eq!(msg.date_time(), Some(1_795_993_500));
//! assert_eq!(msg.header(imdn, "Message-ID").as_deref(), Some("7kQ2s9"));
//! assert_eq!(msg.content_type(), "text/plain;charset=UTF-8");
//! assert_eq!(msg.body(), "héllo".as_bytes());
//! ```
//!
//! Reading follows the rest of the crate: one pass over the two header sections,
//! values kept as received until a typed read asks for them, typed errors only for
//! what makes the message unreadable (no empty line, a line that is not a header, no
//! `Content-Type` in the encapsulated object, a `Content-Length` beyond the body,
//! more than [`MAX_HEADER_BYTES`] of headers, headers that are not UTF-8). An odd
//! *value* never fails the message: its typed read returns `None`.
//!
//! Choices where RFC 3862 leaves room or where senders stray from it:
//! - Line ends are CRLF or a bare LF on input, CRLF on output.
//! - Message header names are case-sensitive (RFC 3862 §3.1: `From` is not `from`);
//!   names of the encapsulated MIME headers are not (RFC 2045).
//! - Header names are accepted if they are printable ASCII without `:`; only names
//!   made of RFC 3862 `Name` characters can resolve through a namespace. White space
//!   before the colon is ignored. A line that starts with white space continues the
//!   previous header (RFC 3862 does not fold lines, MIME does; joined with one space).
//! - A header value is everything after the colon (and its parameters, such as
//!   `Subject:;lang=fr`) minus the one space that separates them; it is kept
//!   verbatim, RFC 3862 §2.3 escapes (`\\`, `\n`, `\u00e9`, ...) included, so that
//!   encoding a decoded message writes the same values back. Typed reads decode the
//!   escapes ([`unescape`]); the builder escapes what needs it ([`escape`]).
//! - A namespaced header (`prefix.Name`) resolves through the nearest `NS: prefix
//!   <urn>` before it, or, when none precedes it, the first one after it. A prefix
//!   no `NS` declares leaves the header in [`CpimMessage::headers`] with no
//!   namespace ([`CpimMessage::header_namespaces`] gives `None`): it is never an
//!   error and never answers [`CpimMessage::header`]. Unprefixed names are in the
//!   default namespace, [`CPIM_HEADERS_NS`] unless an `NS: <urn>` before them says
//!   otherwise; the typed reads (`from()`, `to()`, ...) go through it too.
//!   Namespace URNs compare ASCII-case-insensitively.
//! - The inner `Content-Length` counts bytes. When present, the body is that many
//!   bytes (what follows is ignored, such as a CRLF some senders add); when absent,
//!   the body is the rest of the input.
//! - Messages are owned (`String`s and a `Vec<u8>`): a decoded message outlives the
//!   SIP frame it came in, as [`crate::message::Message`] does.

use crate::message::date::iso8601;
use crate::message::{HeaderError, MediaType};
use core::fmt;
use std::borrow::Cow;

/// The media type of a CPIM message (matched case-insensitively).
pub const CPIM_CONTENT_TYPE: &str = "message/cpim";

/// The content of a `message/cpim` body (OMA IM wraps what it sends in CPIM, RFC
/// 3862): its inner type and bytes; anything else, or a CPIM body that does not
/// decode, as it came. What an app is shown of a message in a session, in large-
/// message mode and in history, as the `message` event shows a pager one.
pub fn unwrap(content_type: String, body: Vec<u8>) -> (String, Vec<u8>) {
    let bare = content_type.split(';').next().unwrap_or("").trim();
    if !bare.eq_ignore_ascii_case(CPIM_CONTENT_TYPE) {
        return (content_type, body);
    }
    match CpimMessage::decode(&body) {
        Ok(m) if !m.content_type().is_empty() => (m.content_type().to_owned(), m.body().to_vec()),
        _ => (content_type, body),
    }
}
/// The namespace of the headers RFC 3862 defines (`From`, `To`, `cc`, `DateTime`,
/// `Subject`, `NS`, `Require`): the default namespace of unprefixed names.
pub const CPIM_HEADERS_NS: &str = "urn:ietf:params:cpim-headers:";
/// The most header bytes [`CpimMessage::decode`] reads: both header sections with
/// their line ends and empty lines (64 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Which header section an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpimPart {
    /// The message headers (`From`, `To`, `NS`, ...).
    Message,
    /// The MIME headers of the encapsulated object (`Content-Type`, ...).
    Content,
}

impl fmt::Display for CpimPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CpimPart::Message => "message headers",
            CpimPart::Content => "MIME headers of the encapsulated object",
        })
    }
}

/// Why bytes could not be read as a CPIM message, or why the builder refused a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpimError {
    /// A header section is not terminated by an empty line: the message is
    /// incomplete (or the input is not CPIM).
    MissingBlankLine(CpimPart),
    /// The header sections exceed [`MAX_HEADER_BYTES`]; `part` is the one being
    /// read when the limit was reached.
    HeadersTooLarge {
        /// The section being read.
        part: CpimPart,
        /// The limit in bytes.
        max: usize,
    },
    /// A header line is not valid UTF-8 (RFC 3862 §3.1: header values are UTF-8).
    NotUtf8 {
        /// The section.
        part: CpimPart,
        /// The line, counted from 1 at the start of the section.
        line: usize,
    },
    /// A header line has no colon.
    MissingColon {
        /// The section.
        part: CpimPart,
        /// The line, counted from 1 at the start of the section.
        line: usize,
    },
    /// A header name is empty or holds white space, control or non-ASCII
    /// characters; or a continuation line (leading white space) opens a section.
    BadHeaderName {
        /// The section.
        part: CpimPart,
        /// The line, counted from 1 at the start of the section.
        line: usize,
    },
    /// The encapsulated MIME object has no `Content-Type`.
    MissingContentType,
    /// The encapsulated object's `Content-Length` is not a decimal number.
    BadContentLength,
    /// The encapsulated object's `Content-Length` announces more bytes than follow.
    ContentLengthTooLarge {
        /// What Content-Length said.
        declared: usize,
        /// The bytes after the MIME headers.
        available: usize,
    },
    /// The builder was given a value it cannot write (a URI with `>` or white space,
    /// a name outside RFC 3862 `Name`, a prefix bound to two URNs, ...).
    Invalid {
        /// The header the value was meant for.
        header: &'static str,
        /// What is wrong, in a few words.
        what: &'static str,
    },
}

impl fmt::Display for CpimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpimError::MissingBlankLine(part) => {
                write!(f, "CPIM {part} not terminated by an empty line")
            }
            CpimError::HeadersTooLarge { part, max } => {
                write!(f, "CPIM headers exceed {max} bytes (in the {part})")
            }
            CpimError::NotUtf8 { part, line } => {
                write!(f, "line {line} of the CPIM {part} is not valid UTF-8")
            }
            CpimError::MissingColon { part, line } => {
                write!(f, "line {line} of the CPIM {part} has no colon")
            }
            CpimError::BadHeaderName { part, line } => write!(
                f,
                "line {line} of the CPIM {part} has no valid header name before its colon"
            ),
            CpimError::MissingContentType => {
                f.write_str("the CPIM encapsulated object has no Content-Type")
            }
            CpimError::BadContentLength => {
                f.write_str("the CPIM encapsulated object's Content-Length is not a number")
            }
            CpimError::ContentLengthTooLarge {
                declared,
                available,
            } => write!(
                f,
                "the CPIM encapsulated object's Content-Length {declared} exceeds the {available} body bytes"
            ),
            CpimError::Invalid { header, what } => {
                write!(f, "cannot write CPIM {header} header: {what}")
            }
        }
    }
}

impl std::error::Error for CpimError {}

// ───────────────────────── lexical helpers ─────────────────────────

/// RFC 3862 §3.6 `NAMECHAR`: the characters of a header name or prefix (no `.`).
fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'^'..=b'`' | b'|' | b'~'
        )
}

/// A non-empty RFC 3862 `Name`.
fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_name_char)
}

/// A field name as read: printable ASCII (the colon was split off already).
fn is_field_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(s: &str) -> &str {
    crate::message::text::trim(s)
}

/// `s` without the one SP or HTAB that separates a header value from its colon.
fn skip_one_wsp(s: &str) -> &str {
    match s.as_bytes().first() {
        Some(&b) if is_wsp(b) => s.get(1..).unwrap_or(""),
        _ => s,
    }
}

const BAD_URI: &str = "URI empty or with white space, control characters, '<', '>' or '\"'";

/// A URI as the builder writes it between `<` and `>`.
fn valid_uri(uri: &str) -> bool {
    !uri.is_empty()
        && !uri
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || matches!(b, b'<' | b'>' | b'"'))
}

/// Text with no ASCII control character (the builder's MIME header values).
fn no_controls(s: &str) -> bool {
    !s.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f)
}

/// Escapes a header value for the wire (RFC 3862 §2.3): backslash, CR, LF, HTAB,
/// backspace and the other ASCII control characters (`\u001b`); UTF-8 stays as is.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text, false);
    out
}

fn push_escaped(out: &mut String, text: &str, quote: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' if quote => out.push_str("\\\""),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

/// Decodes the RFC 3862 §2.3 escapes of a header value (`\\`, `\"`, `\'`, `\b`,
/// `\t`, `\n`, `\r`, `\uXXXX` with UTF-16 surrogate pairs). A backslash that starts
/// no escape stays as it is; a lone surrogate becomes U+FFFD.
pub fn unescape(value: &str) -> Cow<'_, str> {
    if !value.contains('\\') {
        return Cow::Borrowed(value);
    }
    Cow::Owned(decode_escapes(value, false).0)
}

/// Decodes escapes from the start of `s`; with `until_quote`, stops at the first
/// unescaped `"` and returns the byte offset just after it.
fn decode_escapes(s: &str, until_quote: bool) -> (String, Option<usize>) {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        match c {
            '"' if until_quote => return (out, Some(i + 1)),
            '\\' => {
                let Some(&(_, e)) = it.peek() else {
                    out.push('\\');
                    continue;
                };
                let simple = match e {
                    'b' => Some('\u{8}'),
                    't' => Some('\t'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    '"' | '\'' | '\\' => Some(e),
                    _ => None,
                };
                if let Some(ch) = simple {
                    it.next();
                    out.push(ch);
                    continue;
                }
                let rest = s.get(i + 1..).unwrap_or("");
                match unicode_escape(rest) {
                    Some((ch, used)) => {
                        // `used` ASCII bytes after the backslash: skip them.
                        for _ in 0..used {
                            it.next();
                        }
                        out.push(ch);
                    }
                    None => out.push('\\'),
                }
            }
            c => out.push(c),
        }
    }
    (out, None)
}

/// `uXXXX` at the start of `s` (the text after a backslash), or a UTF-16 surrogate
/// pair `uD83D\uDE80`: the character and how many (ASCII) bytes of `s` it took.
fn unicode_escape(s: &str) -> Option<(char, usize)> {
    let unit = |t: &str| -> Option<u32> {
        let hex = t.strip_prefix('u')?.get(..4)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(hex, 16).ok()
    };
    let hi = unit(s)?;
    if (0xd800..0xdc00).contains(&hi) {
        let lo = s
            .get(5..)
            .and_then(|t| t.strip_prefix('\\'))
            .and_then(unit)
            .filter(|lo| (0xdc00..0xe000).contains(lo));
        if let Some(lo) = lo {
            let c = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
            return Some((char::from_u32(c).unwrap_or('\u{fffd}'), 11));
        }
    }
    Some((char::from_u32(hi).unwrap_or('\u{fffd}'), 5))
}

/// Seconds since the epoch of an RFC 3339 date-time with any offset
/// (`2000-12-13T13:40:00-08:00`, `...Z`, fractional seconds ignored), as the CPIM
/// `DateTime` header carries (RFC 3862 §4.4). `None` when it is not one or is before
/// 1970.
pub fn parse_date_time(value: &str) -> Option<u64> {
    crate::message::date::parse_rfc3339(value)
}

// ───────────────────────── addresses ─────────────────────────

/// A `From`, `To` or `cc` value (RFC 3862 §4.1–§4.3): `[Formal-name] <URI>`, the
/// formal name either tokens (`MR SANDERS <im:piglet@100akerwood.com>`) or a quoted
/// string with escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpimAddress {
    /// The formal (display) name, unquoted and unescaped.
    pub display: Option<String>,
    /// The URI between `<` and `>` (`sip:`, `tel:`, `im:`, `pres:` ...), as written.
    pub uri: String,
}

impl CpimAddress {
    /// An address with no display name.
    pub fn new(uri: impl Into<String>) -> Self {
        CpimAddress {
            display: None,
            uri: uri.into(),
        }
    }

    /// The same address with a display name.
    pub fn with_display(mut self, display: impl Into<String>) -> Self {
        self.display = Some(display.into());
        self
    }

    /// Reads a `From`/`To`/`cc` value; `None` when it is not `[name] <URI>` (a bare
    /// URI without white space or `>` is accepted too).
    pub fn parse(value: &str) -> Option<CpimAddress> {
        let v = trim(value);
        let angle = |s: &str| -> Option<String> {
            let inner = s.strip_prefix('<')?;
            let gt = inner.find('>')?;
            let uri = trim(inner.get(..gt)?);
            (!uri.is_empty()).then(|| uri.to_owned())
        };
        if let Some(quoted) = v.strip_prefix('"') {
            let (display, end) = decode_escapes(quoted, true);
            let rest = trim(quoted.get(end?..)?);
            return Some(CpimAddress {
                display: Some(display),
                uri: angle(rest)?,
            });
        }
        if let Some(lt) = v.find('<') {
            let name = trim(v.get(..lt)?);
            return Some(CpimAddress {
                display: (!name.is_empty()).then(|| name.to_owned()),
                uri: angle(v.get(lt..)?)?,
            });
        }
        let bare = !v.is_empty() && !v.bytes().any(|b| is_wsp(b) || b == b'>');
        bare.then(|| CpimAddress::new(v))
    }
}

impl From<&str> for CpimAddress {
    /// An address with no display name.
    fn from(uri: &str) -> Self {
        CpimAddress::new(uri)
    }
}

impl From<String> for CpimAddress {
    /// An address with no display name.
    fn from(uri: String) -> Self {
        CpimAddress::new(uri)
    }
}

impl fmt::Display for CpimAddress {
    /// `"Display" <uri>` or `<uri>` (the display name quoted and escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            let mut s = String::with_capacity(d.len() + 3);
            s.push('"');
            push_escaped(&mut s, d, true);
            s.push_str("\" ");
            f.write_str(&s)?;
        }
        write!(f, "<{}>", self.uri)
    }
}

// ───────────────────────── headers ─────────────────────────

/// One message header as received: `Name:;param=value;... value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpimHeader {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl CpimHeader {
    /// The name as received, prefix included (`imdn.Message-ID`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace prefix (`imdn` of `imdn.Message-ID`), if the name has one.
    pub fn prefix(&self) -> Option<&str> {
        self.split().0
    }

    /// The name without its prefix (`Message-ID` of `imdn.Message-ID`).
    pub fn local_name(&self) -> &str {
        self.split().1
    }

    fn split(&self) -> (Option<&str>, &str) {
        match self.name.split_once('.') {
            Some((p, n)) if !p.is_empty() && !n.is_empty() => (Some(p), n),
            _ => (None, &self.name),
        }
    }

    /// The header parameters (`Subject:;lang=fr ...`): names as received, values as
    /// written (a quoted string keeps its quotes).
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// A parameter by name (case-insensitive), as written.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `lang` parameter (RFC 3862 §3.3).
    pub fn lang(&self) -> Option<&str> {
        self.param("lang")
    }

    /// The value as received: escapes not decoded, white space kept.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value with its escapes decoded ([`unescape`]).
    pub fn text(&self) -> Cow<'_, str> {
        unescape(&self.value)
    }

    /// Reads the text after the colon: parameters right after it, then one SP.
    fn from_line(name: &str, rest: &str) -> CpimHeader {
        let (params, value) = split_params(rest).unwrap_or((Vec::new(), skip_one_wsp(rest)));
        CpimHeader {
            name: name.to_owned(),
            params,
            value: value.to_owned(),
        }
    }
}

/// `;name=value;...` at the start of `rest` (RFC 3862 §3.6 `Header-parameters`) and
/// the value after the separating space. `None` when `rest` does not start with
/// well-formed parameters: then it is all value.
fn split_params(rest: &str) -> Option<(Vec<(String, String)>, &str)> {
    let b = rest.as_bytes();
    if b.first() != Some(&b';') {
        return None;
    }
    let mut params = Vec::new();
    let mut i = 0;
    loop {
        // At a ';'.
        let name_start = i + 1;
        let mut j = name_start;
        while b.get(j).copied().is_some_and(is_name_char) {
            j += 1;
        }
        if j == name_start || b.get(j) != Some(&b'=') {
            return None;
        }
        let value_start = j + 1;
        let mut k = value_start;
        if b.get(k) == Some(&b'"') {
            k += 1;
            loop {
                match b.get(k)? {
                    b'\\' => k += 2,
                    b'"' => break,
                    _ => k += 1,
                }
            }
            k += 1;
        } else {
            while b.get(k).is_some_and(|&c| c != b';' && !is_wsp(c)) {
                k += 1;
            }
            if k == value_start {
                return None;
            }
        }
        params.push((
            rest.get(name_start..j)?.to_owned(),
            rest.get(value_start..k)?.to_owned(),
        ));
        match b.get(k) {
            Some(b';') => i = k,
            Some(&c) if is_wsp(c) => return Some((params, rest.get(k + 1..)?)),
            None => return Some((params, "")),
            Some(_) => return None,
        }
    }
}

/// One header line of a section after unfolding: the name and the text after the
/// colon.
struct RawField<'a> {
    name: &'a str,
    rest: Cow<'a, str>,
}

/// Reads the header section that starts at `start` through its empty line; returns
/// its fields and the offset after the empty line.
fn read_section(
    bytes: &[u8],
    start: usize,
    part: CpimPart,
) -> Result<(Vec<RawField<'_>>, usize), CpimError> {
    let mut fields: Vec<RawField<'_>> = Vec::new();
    let mut pos = start;
    let mut line_no = 0;
    loop {
        line_no += 1;
        let window = bytes
            .get(pos..bytes.len().min(MAX_HEADER_BYTES))
            .unwrap_or(&[]);
        let Some(nl) = memchr::memchr(b'\n', window) else {
            return Err(if bytes.len() > MAX_HEADER_BYTES {
                CpimError::HeadersTooLarge {
                    part,
                    max: MAX_HEADER_BYTES,
                }
            } else {
                CpimError::MissingBlankLine(part)
            });
        };
        let raw = window.get(..nl).unwrap_or(&[]);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        pos += nl + 1;
        if raw.is_empty() {
            return Ok((fields, pos));
        }
        let line = core::str::from_utf8(raw).map_err(|_| CpimError::NotUtf8 {
            part,
            line: line_no,
        })?;
        if line.as_bytes().first().copied().is_some_and(is_wsp) {
            // A continuation line: joined to the previous value with one space.
            let last = fields.last_mut().ok_or(CpimError::BadHeaderName {
                part,
                line: line_no,
            })?;
            let cont = trim(line);
            if !cont.is_empty() {
                let joined = last.rest.to_mut();
                if !joined.is_empty() {
                    joined.push(' ');
                }
                joined.push_str(cont);
            }
            continue;
        }
        let (name, rest) = line.split_once(':').ok_or(CpimError::MissingColon {
            part,
            line: line_no,
        })?;
        let name = crate::message::text::trim_end(name);
        if !is_field_name(name) {
            return Err(CpimError::BadHeaderName {
                part,
                line: line_no,
            });
        }
        fields.push(RawField {
            name,
            rest: Cow::Borrowed(rest),
        });
    }
}

/// A decimal `Content-Length`.
fn parse_length(value: &str) -> Option<usize> {
    let v = trim(value);
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// An `NS` value: `[prefix SP] <urn>` (RFC 3862 §3.6 `NS-header-value`).
fn parse_ns(value: &str) -> Option<(Option<&str>, &str)> {
    let v = trim(value);
    let (prefix, rest) = match v.find('<') {
        Some(0) => (None, v),
        Some(lt) => {
            let p = trim(v.get(..lt)?);
            if p.bytes().any(is_wsp) {
                return None;
            }
            (Some(p), v.get(lt..)?)
        }
        None => return None,
    };
    let inner = rest.strip_prefix('<')?;
    let urn = trim(inner.get(..inner.find('>')?)?);
    (!urn.is_empty()).then_some((prefix, urn))
}

// ───────────────────────── the message ─────────────────────────

/// A CPIM message: message headers, the encapsulated object's MIME headers, its body.
///
/// Built with [`CpimMessage::new`] or read with [`CpimMessage::decode`]; either way
/// [`CpimMessage::encode`] writes it, and `decode(encode(m)) == m`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpimMessage {
    headers: Vec<CpimHeader>,
    content_headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl CpimMessage {
    /// Starts a message from `from` to `to` carrying `body` of `content_type`
    /// (`text/plain;charset=UTF-8`, `message/imdn+xml`, ...). Values are checked when
    /// the builder finishes ([`CpimBuilder::build`]).
    // A builder rather than `Self`: the message is only complete (and checked) once
    // the optional headers are in, and `CpimMessage::new(..)...encode()` reads as
    // what it writes.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(
        from: impl Into<CpimAddress>,
        to: impl Into<CpimAddress>,
        content_type: &str,
        body: impl Into<Vec<u8>>,
    ) -> CpimBuilder {
        let mut b = CpimBuilder {
            from: from.into(),
            to: to.into(),
            cc: Vec::new(),
            date_time: None,
            subjects: Vec::new(),
            ns: Vec::new(),
            extensions: Vec::new(),
            content_type: trim(content_type).to_owned(),
            content_headers: Vec::new(),
            body: body.into(),
            error: None,
        };
        b.need(valid_uri(&b.from.uri), "From", BAD_URI);
        b.need(valid_uri(&b.to.uri), "To", BAD_URI);
        let ct_ok = no_controls(&b.content_type)
            && MediaType::parse(&b.content_type, "Content-Type").is_ok();
        b.need(ct_ok, "Content-Type", "not a media type");
        b
    }

    /// Reads a CPIM message (the body of a SIP `message/cpim` request).
    pub fn decode(bytes: &[u8]) -> Result<CpimMessage, CpimError> {
        let (fields, after) = read_section(bytes, 0, CpimPart::Message)?;
        let headers = fields
            .iter()
            .map(|f| CpimHeader::from_line(f.name, &f.rest))
            .collect();
        let (fields, body_start) = read_section(bytes, after, CpimPart::Content)?;
        let content_headers: Vec<(String, String)> = fields
            .iter()
            .map(|f| (f.name.to_owned(), skip_one_wsp(&f.rest).to_owned()))
            .collect();
        let named = |n: &str| {
            content_headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        if named("Content-Type").is_none() {
            return Err(CpimError::MissingContentType);
        }
        let rest = bytes.get(body_start..).unwrap_or(&[]);
        let body = match named("Content-Length") {
            None => rest,
            Some(v) => {
                let n = parse_length(v).ok_or(CpimError::BadContentLength)?;
                rest.get(..n).ok_or(CpimError::ContentLengthTooLarge {
                    declared: n,
                    available: rest.len(),
                })?
            }
        };
        Ok(CpimMessage {
            headers,
            content_headers,
            body: body.to_vec(),
        })
    }

    /// The message on the wire: CRLF line ends, every header as stored.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = String::new();
        for h in &self.headers {
            out.push_str(&h.name);
            out.push(':');
            for (n, v) in &h.params {
                out.push(';');
                out.push_str(n);
                out.push('=');
                out.push_str(v);
            }
            out.push(' ');
            out.push_str(&h.value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        for (n, v) in &self.content_headers {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Every message header, in order.
    pub fn headers(&self) -> &[CpimHeader] {
        &self.headers
    }

    /// The encapsulated object's MIME headers, in order: (name, value as received).
    pub fn content_headers(&self) -> &[(String, String)] {
        &self.content_headers
    }

    /// The encapsulated object's body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text, if it is.
    pub fn body_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.body).ok()
    }

    /// The namespace URN of each header of [`CpimMessage::headers`], in order: the
    /// declaring `NS` for a prefixed name (the nearest before it, else the first
    /// after it), `None` when no `NS` declares its prefix; the default namespace for
    /// an unprefixed one.
    pub fn header_namespaces(&self) -> Vec<Option<&str>> {
        fn ns_of(h: &CpimHeader) -> Option<(Option<&str>, &str)> {
            (h.name == "NS").then(|| parse_ns(&h.value)).flatten()
        }
        // Prefix → URN maps: a handful of entries, so a vector (later binding wins,
        // first found from the end) beats a tree in code size.
        fn lookup<'a>(map: &[(&str, &'a str)], prefix: &str) -> Option<&'a str> {
            map.iter()
                .rev()
                .find(|(p, _)| *p == prefix)
                .map(|(_, u)| *u)
        }
        let mut out = Vec::with_capacity(self.headers.len());
        let mut bound: Vec<(&str, &str)> = Vec::new();
        let mut default = CPIM_HEADERS_NS;
        for h in &self.headers {
            out.push(match h.prefix() {
                Some(p) => lookup(&bound, p),
                None => Some(default),
            });
            match ns_of(h) {
                Some((Some(p), urn)) => bound.push((p, urn)),
                Some((None, urn)) => default = urn,
                None => {}
            }
        }
        // Prefixes used before any declaration: the first declaration after them.
        let mut next: Vec<(&str, &str)> = Vec::new();
        for (h, ns) in self.headers.iter().zip(out.iter_mut()).rev() {
            if ns.is_none() {
                *ns = h.prefix().and_then(|p| lookup(&next, p));
            }
            if let Some((Some(p), urn)) = ns_of(h) {
                next.push((p, urn));
            }
        }
        out
    }

    /// Every header named `name` in namespace `ns_urn`, in order.
    fn in_namespace(&self, ns_urn: &str, name: &str) -> Vec<&CpimHeader> {
        self.headers
            .iter()
            .zip(self.header_namespaces())
            .filter(|(h, ns)| {
                h.local_name() == name && ns.is_some_and(|u| u.eq_ignore_ascii_case(ns_urn))
            })
            .map(|(h, _)| h)
            .collect()
    }

    /// The first value of header `name` in namespace `ns_urn`, whatever prefix the
    /// sender bound it to, with its escapes decoded: `header("urn:ietf:params:imdn",
    /// "Message-ID")` reads `imdn.Message-ID` as well as `x.Message-ID` after
    /// `NS: x <urn:ietf:params:imdn>`. [`CPIM_HEADERS_NS`] reads unprefixed headers.
    pub fn header(&self, ns_urn: &str, name: &str) -> Option<Cow<'_, str>> {
        self.in_namespace(ns_urn, name).first().map(|h| h.text())
    }

    fn cpim(&self, name: &str) -> impl Iterator<Item = &CpimHeader> + '_ {
        self.in_namespace(CPIM_HEADERS_NS, name).into_iter()
    }

    /// The sender (RFC 3862 §4.1); `None` when absent or malformed.
    pub fn from(&self) -> Option<CpimAddress> {
        self.cpim("From")
            .next()
            .and_then(|h| CpimAddress::parse(&h.value))
    }

    /// The first recipient (RFC 3862 §4.2); `None` when absent or malformed.
    pub fn to(&self) -> Option<CpimAddress> {
        self.cpim("To")
            .next()
            .and_then(|h| CpimAddress::parse(&h.value))
    }

    /// Every `To` recipient that reads as an address.
    pub fn to_all(&self) -> Vec<CpimAddress> {
        self.cpim("To")
            .filter_map(|h| CpimAddress::parse(&h.value))
            .collect()
    }

    /// Every `cc` recipient that reads as an address (RFC 3862 §4.3).
    pub fn cc(&self) -> Vec<CpimAddress> {
        self.cpim("cc")
            .filter_map(|h| CpimAddress::parse(&h.value))
            .collect()
    }

    /// When the sender sent it, Unix seconds (RFC 3862 §4.4, any RFC 3339 offset);
    /// `None` when absent or malformed.
    pub fn date_time(&self) -> Option<u64> {
        self.cpim("DateTime")
            .next()
            .and_then(|h| parse_date_time(&h.value))
    }

    /// `DateTime` as written (trimmed), when it reads as RFC 3339: what a disposition
    /// notification copies (RFC 5438 §7.2.1).
    pub fn date_time_text(&self) -> Option<&str> {
        self.cpim("DateTime")
            .next()
            .map(|h| h.value.trim())
            .filter(|v| parse_date_time(v).is_some())
    }

    /// The subject (RFC 3862 §4.5): the first one without a `lang` parameter, else
    /// the first one; escapes decoded.
    pub fn subject(&self) -> Option<Cow<'_, str>> {
        let mut all = self.cpim("Subject").peekable();
        let first = *all.peek()?;
        let plain = all.find(|h| h.lang().is_none()).unwrap_or(first);
        Some(plain.text())
    }

    /// Every subject with its `lang` parameter, in order.
    pub fn subjects(&self) -> Vec<(Option<&str>, Cow<'_, str>)> {
        self.cpim("Subject").map(|h| (h.lang(), h.text())).collect()
    }

    /// The namespace declarations (RFC 3862 §4.6) in order: (prefix, URN), no prefix
    /// for a change of the default namespace. Malformed `NS` values are skipped.
    pub fn namespaces(&self) -> Vec<(Option<&str>, &str)> {
        self.headers
            .iter()
            .filter(|h| h.name == "NS")
            .filter_map(|h| parse_ns(&h.value))
            .collect()
    }

    /// The header names the recipient must understand (RFC 3862 §4.7), from every
    /// `Require` header, as written (`MyFeatures.VitalMessageOption`).
    pub fn require(&self) -> Vec<&str> {
        self.cpim("Require")
            .flat_map(|h| h.value.split(','))
            .map(trim)
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// A MIME header of the encapsulated object by name (case-insensitive), trimmed.
    pub fn content_header(&self, name: &str) -> Option<&str> {
        self.content_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| trim(v))
    }

    /// The encapsulated object's `Content-Type` as written (always present).
    pub fn content_type(&self) -> &str {
        self.content_header("Content-Type").unwrap_or_default()
    }

    /// The encapsulated object's `Content-Type`, typed.
    pub fn media_type(&self) -> Result<MediaType, HeaderError> {
        MediaType::parse(self.content_type(), "Content-Type")
    }
}

/// Builds a [`CpimMessage`]: `CpimMessage::new(from, to, content_type, body)`, then
/// the optional headers, then [`CpimBuilder::build`] or [`CpimBuilder::encode`].
///
/// Headers are written in this order: `From`, `To`, `cc`, `DateTime`, `Subject`,
/// `NS` (once per prefix, in order of first use), the namespaced headers in call
/// order; then `Content-Type`, the added MIME headers and `Content-Length` (bytes).
/// Free-text values (subjects, namespaced values, display names) are escaped; names,
/// URIs, prefixes and MIME values that cannot be written make `build` fail with
/// [`CpimError::Invalid`] (the first such value).
#[derive(Debug, Clone)]
pub struct CpimBuilder {
    from: CpimAddress,
    to: CpimAddress,
    cc: Vec<CpimAddress>,
    date_time: Option<u64>,
    subjects: Vec<(Option<String>, String)>,
    ns: Vec<(String, String)>,
    extensions: Vec<(String, String)>,
    content_type: String,
    content_headers: Vec<(String, String)>,
    body: Vec<u8>,
    error: Option<CpimError>,
}

impl CpimBuilder {
    fn fail(&mut self, header: &'static str, what: &'static str) {
        if self.error.is_none() {
            self.error = Some(CpimError::Invalid { header, what });
        }
    }

    /// Records `what` against `header` unless `ok` (the first failure wins).
    fn need(&mut self, ok: bool, header: &'static str, what: &'static str) {
        if !ok {
            self.fail(header, what);
        }
    }

    /// Adds a `cc` recipient.
    pub fn cc(mut self, addr: impl Into<CpimAddress>) -> Self {
        let addr = addr.into();
        self.need(valid_uri(&addr.uri), "cc", BAD_URI);
        self.cc.push(addr);
        self
    }

    /// Sets `DateTime` to `unix` seconds, written in UTC (`...Z`). Years after 9999
    /// are written but do not read back.
    pub fn date_time(mut self, unix: u64) -> Self {
        self.date_time = Some(unix);
        self
    }

    /// Adds a `Subject`.
    pub fn subject(mut self, text: &str) -> Self {
        self.subjects.push((None, escape(text)));
        self
    }

    /// Adds a `Subject` in language `lang` (`Subject:;lang=fr ...`, RFC 3862 §3.3).
    pub fn subject_lang(mut self, lang: &str, text: &str) -> Self {
        let ok = !lang.is_empty() && lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            self.fail("Subject", "language tag not letters, digits and '-'");
        }
        self.subjects.push((Some(lang.to_owned()), escape(text)));
        self
    }

    /// Adds `prefix.name: value`, declaring `NS: prefix <urn>` unless it already is
    /// (`namespaced("imdn", "urn:ietf:params:imdn", "Message-ID", id)`). The value is
    /// escaped. A prefix may be bound to one URN only.
    pub fn namespaced(mut self, prefix: &str, urn: &str, name: &str, value: &str) -> Self {
        if !is_name(prefix) || !is_name(name) {
            self.fail("namespaced", "prefix or name not an RFC 3862 Name");
        } else {
            self.need(valid_uri(urn), "NS", BAD_URI);
        }
        match self.ns.iter().find(|(p, _)| p == prefix) {
            Some((_, bound)) if bound != urn => {
                self.fail("NS", "prefix already bound to another URN");
            }
            Some(_) => {}
            None => self.ns.push((prefix.to_owned(), urn.to_owned())),
        }
        self.extensions
            .push((format!("{prefix}.{name}"), escape(value)));
        self
    }

    /// Adds a MIME header to the encapsulated object (`Content-ID`,
    /// `Content-Disposition: notification`, ...). `Content-Type` and
    /// `Content-Length` are the builder's own and refused.
    pub fn content_header(mut self, name: &str, value: &str) -> Self {
        let own = ["Content-Type", "Content-Length"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name));
        if own || !is_field_name(name) {
            self.fail(
                "content",
                "header name not printable ASCII, or Content-Type/Content-Length",
            );
        } else if !no_controls(value) {
            self.fail("content", "value with control characters");
        }
        self.content_headers
            .push((name.to_owned(), trim(value).to_owned()));
        self
    }

    /// The message, or the first value that cannot be written.
    pub fn build(self) -> Result<CpimMessage, CpimError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let h = |name: &str, value: String| CpimHeader {
            name: name.to_owned(),
            params: Vec::new(),
            value,
        };
        let mut headers = vec![
            h("From", self.from.to_string()),
            h("To", self.to.to_string()),
        ];
        headers.extend(self.cc.iter().map(|a| h("cc", a.to_string())));
        if let Some(t) = self.date_time {
            headers.push(h("DateTime", iso8601(t)));
        }
        for (lang, text) in self.subjects {
            let mut s = h("Subject", text);
            if let Some(l) = lang {
                s.params.push(("lang".to_owned(), l));
            }
            headers.push(s);
        }
        for (p, urn) in &self.ns {
            headers.push(h("NS", format!("{p} <{urn}>")));
        }
        for (name, value) in self.extensions {
            headers.push(h(&name, value));
        }
        let mut content_headers = vec![("Content-Type".to_owned(), self.content_type)];
        content_headers.extend(self.content_headers);
        content_headers.push(("Content-Length".to_owned(), self.body.len().to_string()));
        Ok(CpimMessage {
            headers,
            content_headers,
            body: self.body,
        })
    }

    /// [`CpimBuilder::build`], then [`CpimMessage::encode`].
    pub fn encode(self) -> Result<Vec<u8>, CpimError> {
        self.build().map(|m| m.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        for s in [
            "",
            "plain",
            "back\\slash",
            "line\r\nbreak\ttab\u{8}",
            "\u{1b}[0m\u{7f}",
            "héllo 🚀",
            "\\u0041 is not an escape once escaped",
        ] {
            assert_eq!(unescape(&escape(s)), s, "{s:?}");
        }
        assert_eq!(unescape("\\u00e9\\uD83D\\uDE80\\\"\\'"), "é🚀\"'");
        // Not escapes: kept as written; a lone surrogate is U+FFFD.
        assert_eq!(unescape("a\\qb\\u12\\"), "a\\qb\\u12\\");
        assert_eq!(unescape("\\uD800x"), "\u{fffd}x");
    }

    #[test]
    fn date_times_with_offsets() {
        // 2000-12-13T21:40:00Z.
        assert_eq!(
            parse_date_time("2000-12-13T13:40:00-08:00"),
            Some(976_743_600)
        );
        assert_eq!(
            parse_date_time("2000-12-14T03:10:00.5+05:30"),
            Some(976_743_600)
        );
        assert_eq!(parse_date_time("2000-12-13T21:40:00Z"), Some(976_743_600));
        // Without the colon (not RFC 3339, but sent by real clients): accepted.
        assert_eq!(
            parse_date_time("2000-12-14T05:40:00+0800"),
            Some(976_743_600)
        );
        assert_eq!(
            parse_date_time("2000-12-13T21:40:00-00:00"),
            Some(976_743_600)
        );
        for bad in [
            "",
            "2000-12-13",
            "2000-12-13T21:40:00",
            "2000-12-13T21:40:00+24:00",
            "2000-12-13T21:40:00+08:60",
            "1970-01-01T00:00:00+00:01",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn params_split_from_the_value() {
        let h = CpimHeader::from_line("Subject", ";lang=fr;x=\"a b;c\" beau temps");
        assert_eq!(h.lang(), Some("fr"));
        assert_eq!(h.param("X"), Some("\"a b;c\""));
        assert_eq!(h.value(), "beau temps");
        // Malformed parameters: all value.
        let h = CpimHeader::from_line("Subject", ";lang beau");
        assert!(h.params().is_empty());
        assert_eq!(h.value(), ";lang beau");
        // A space first: no parameters.
        assert_eq!(CpimHeader::from_line("Subject", " ;-)").value(), ";-)");
    }

    #[test]
    fn addresses() {
        let a = CpimAddress::parse("MR SANDERS <im:piglet@100akerwood.com>").unwrap();
        assert_eq!(a.display.as_deref(), Some("MR SANDERS"));
        assert_eq!(a.uri, "im:piglet@100akerwood.com");
        let a = CpimAddress::parse(r#" "a \"b\" \\ c" <sip:x@y> "#).unwrap();
        assert_eq!(a.display.as_deref(), Some(r#"a "b" \ c"#));
        assert_eq!(CpimAddress::parse(&a.to_string()), Some(a));
        assert_eq!(
            CpimAddress::parse("sip:bare@x"),
            Some(CpimAddress::new("sip:bare@x"))
        );
        for bad in ["", "<>", "\"unterminated <sip:x@y>", "Name <sip:x", "a b"] {
            assert_eq!(CpimAddress::parse(bad), None, "{bad:?}");
        }
    }
}
