//! The SIP message codec (RFC 3261 §7, §25; RFC 7118 framing).
//!
//! One WebSocket frame carries exactly one SIP message (RFC 7118 §5), so
//! [`Message::parse`] takes a whole frame and returns a message or a typed
//! [`ParseError`]. The frame is scanned once; header values stay as text until a
//! typed read asks for them (`msg.via()`, `msg.cseq()`, ...), so an odd header
//! never makes the whole message fail — only a typed read of it does, naming the
//! header.
//!
//! ```
//! use imsip::message::{Message, Method};
//! let frame = "MESSAGE sip:bob@imsip.test SIP/2.0\r\n\
//!     Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK776\r\n\
//!     Max-Forwards: 70\r\n\
//!     f: <sip:alice@imsip.test>;tag=49583\r\n\
//!     t: <sip:bob@imsip.test>\r\n\
//!     i: 1234@abc.invalid\r\n\
//!     CSeq: 1 MESSAGE\r\n\
//!     c: text/plain;charset=UTF-8\r\n\
//!     l: 6\r\n\r\nhéllo";
//! let msg = Message::parse(frame.as_bytes()).unwrap();
//! assert_eq!(msg.method(), Some(&Method::Message));
//! assert_eq!(msg.from().unwrap().tag(), Some("49583"));
//! assert_eq!(msg.body(), "héllo".as_bytes());
//! msg.validate().unwrap();
//! ```

mod build;
pub mod date;
mod error;
mod headers;
mod helpers;
mod name;
mod refusal;
pub(crate) mod text;
mod uri;

pub use build::MessageBuilder;
pub use error::{FramingError, HeaderError, ParseError, ValidationError};
pub use headers::{
    check_call_id, check_date, parse_delta, parse_etag, parse_token_list, AuthParam, AuthValue,
    CSeq, Contact, Contacts, Event, MediaType, NameAddr, RetryAfter, SubscriptionState,
    TokenParams, Via,
};
pub use helpers::{branch, is_keepalive, warning_399, KeepAlive, BRANCH_MAGIC};
pub use name::HeaderName;
pub use refusal::refusal;
pub use text::{Param, Params};
pub use uri::{percent_decode, Host, Scheme, Uri, UriError};

use core::fmt;
use text::{is_token, is_token_byte, is_wsp, split_list, trim, trim_end, trim_start};

/// A SIP method (case-sensitive, RFC 3261 §7.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// REGISTER (RFC 3261 §10)
    Register,
    /// INVITE
    Invite,
    /// ACK
    Ack,
    /// BYE
    Bye,
    /// CANCEL
    Cancel,
    /// OPTIONS
    Options,
    /// MESSAGE (RFC 3428)
    Message,
    /// PUBLISH (RFC 3903)
    Publish,
    /// SUBSCRIBE (RFC 6665)
    Subscribe,
    /// NOTIFY (RFC 6665)
    Notify,
    /// REFER (RFC 3515)
    Refer,
    /// INFO (RFC 6086)
    Info,
    /// UPDATE (RFC 3311)
    Update,
    /// PRACK (RFC 3262)
    Prack,
    /// Any other extension method token.
    Other(String),
}

impl Method {
    /// Maps a method token (already checked to be a token).
    pub fn from_token(t: &str) -> Method {
        match t {
            "REGISTER" => Method::Register,
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "MESSAGE" => Method::Message,
            "PUBLISH" => Method::Publish,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Register => "REGISTER",
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Message => "MESSAGE",
            Method::Publish => "PUBLISH",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP/2.0`
    Request {
        /// The method.
        method: Method,
        /// The Request-URI.
        uri: Uri,
    },
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase`
    Response {
        /// Status code, 100–699.
        status: u16,
        /// Reason phrase (may be empty; UTF-8).
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    /// A slice of the message's header text.
    Span(Span),
    /// An unfolded value (continuation lines joined with one space).
    Owned(Box<str>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: HeaderName,
    raw_name: Span,
    value: Value,
}

/// A parsed or built SIP message.
///
/// Header fields are kept in received order with their names as received; typed
/// reads parse on demand. Printing (`Display` / [`Message::to_bytes`]) reproduces
/// the start line, every header and the body. Two messages are equal when those are:
/// where a parsed one sat in its frame ([`Message::framing`]) is not compared.
#[derive(Clone)]
pub struct Message {
    start: StartLine,
    /// Header text: the header lines as received (or as built).
    text: String,
    fields: Vec<Field>,
    body: Vec<u8>,
    /// Where the parts were in the parsed frame (`None` for a built message).
    framing: Option<Framing>,
}

impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.start == other.start
            && self.text == other.text
            && self.fields == other.fields
            && self.body == other.body
    }
}

impl Eq for Message {}

/// Where [`Message::parse`] found the parts of its frame (byte offsets into the frame),
/// so that a reader of the same frame need not find them again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// The start line's first byte (after any leading CRLFs, RFC 3261 §7.5).
    pub start_line: usize,
    /// The first header line's first byte (just after the start line's LF); the
    /// header text ([`Message::header_offset`]) begins here.
    pub headers: usize,
    /// The body's first byte (just after the blank line).
    pub body: usize,
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("start", &self.start)
            .field("headers", &self.fields.len())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Headers that may appear at most once (RFC 3261 §7.3.1: not comma-separated lists).
const SINGLE_VALUED: &[HeaderName] = &[
    HeaderName::To,
    HeaderName::From,
    HeaderName::CallId,
    HeaderName::CSeq,
    HeaderName::MaxForwards,
    HeaderName::ContentType,
    HeaderName::Expires,
    HeaderName::MinExpires,
    HeaderName::Event,
    HeaderName::SubscriptionState,
    HeaderName::SipETag,
    HeaderName::SipIfMatch,
    HeaderName::Date,
    HeaderName::RetryAfter,
];

impl Message {
    /// Parses one whole frame (RFC 7118 §5: one message per WebSocket frame).
    ///
    /// Leading CRLFs are skipped (RFC 3261 §7.5). Line ends may be CRLF or a bare
    /// LF. The body is `Content-Length` bytes (counted in bytes, never characters);
    /// without Content-Length it is the rest of the frame; octets beyond
    /// Content-Length are ignored.
    pub fn parse(frame: &[u8]) -> Result<Message, ParseError> {
        let start_at = frame
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .ok_or(FramingError::Empty)?;
        let b = frame.get(start_at..).unwrap_or(&[]);
        // One pass over the header section: the end of each line and its first
        // colon. All recorded positions are at ASCII bytes ('\n', '\r', ':'), so
        // they are char boundaries of the UTF-8 text checked below.
        let first_nl = memchr::memchr(b'\n', b).ok_or(FramingError::Incomplete)?;
        let mut lines: Vec<(usize, usize, Option<usize>)> = Vec::with_capacity(20);
        let mut line_start = first_nl + 1;
        let (head_end, body_start) = loop {
            let rest = b.get(line_start..).unwrap_or(&[]);
            // The name is a token followed by optional white space and ':' (only
            // the first few bytes need looking at); the line ends at the next LF.
            let name_len = rest
                .iter()
                .take_while(|&&c| text::is_token_byte(c) || c == b' ' || c == b'\t')
                .count();
            let colon = (rest.get(name_len) == Some(&b':')).then_some(line_start + name_len);
            let j = line_start + memchr::memchr(b'\n', rest).ok_or(FramingError::Incomplete)?;
            let line_end = if j > line_start && b.get(j - 1) == Some(&b'\r') {
                j - 1
            } else {
                j
            };
            if line_end == line_start {
                break (line_start, j + 1);
            }
            lines.push((line_start, line_end, colon.filter(|c| *c < line_end)));
            line_start = j + 1;
        };
        let head = core::str::from_utf8(b.get(..head_end).unwrap_or(&[]))
            .map_err(|_| FramingError::NotUtf8)?;
        let start_line = head.get(..first_nl).unwrap_or("");
        let start = parse_start_line(start_line.strip_suffix('\r').unwrap_or(start_line))?;
        // Header text is stored without the start line; offsets shift by `base`.
        let base = first_nl + 1;
        let text = head.get(base..).unwrap_or("").to_owned();
        let mut fields: Vec<Field> = Vec::with_capacity(lines.len());
        let mut content_length: Option<usize> = None;
        for (ls, le, colon) in lines {
            let (ls, le) = (ls - base, le - base);
            let line = text.get(ls..le).unwrap_or("");
            if line.bytes().next().is_some_and(is_wsp) {
                // Folded continuation (RFC 3261 §7.3.1): joined with a single space.
                let last = fields.last_mut().ok_or(FramingError::BadHeaderLine)?;
                let cont = trim(line);
                let mut joined = String::from(value_str(&text, &last.value));
                if !cont.is_empty() {
                    if !joined.is_empty() {
                        joined.push(' ');
                    }
                    joined.push_str(cont);
                }
                last.value = Value::Owned(joined.into_boxed_str());
                continue;
            }
            let colon = colon
                .filter(|c| *c < le + base)
                .ok_or(FramingError::BadHeaderLine)?
                - base;
            let raw_name = trim_end(text.get(ls..colon).unwrap_or(""));
            if raw_name.is_empty() || !raw_name.bytes().all(is_token_byte) {
                return Err(FramingError::BadHeaderLine.into());
            }
            let v = text.get(colon + 1..le).unwrap_or("");
            let lead = v.len() - trim_start(v).len();
            let vtrim_end = trim_end(v).len();
            fields.push(Field {
                name: HeaderName::parse(raw_name),
                raw_name: Span {
                    start: ls as u32,
                    end: (ls + raw_name.len()) as u32,
                },
                value: Value::Span(Span {
                    start: (colon + 1 + lead) as u32,
                    end: (colon + 1 + vtrim_end.max(lead)) as u32,
                }),
            });
        }
        for f in &fields {
            if f.name == HeaderName::ContentLength {
                let v = trim(value_str(&text, &f.value));
                if v.is_empty() || v.len() > 10 || !v.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(FramingError::BadContentLength.into());
                }
                let n: usize = v.parse().map_err(|_| FramingError::BadContentLength)?;
                if content_length.is_some_and(|c| c != n) {
                    return Err(FramingError::ConflictingContentLength.into());
                }
                content_length = Some(n);
            }
        }
        let rest = b.get(body_start..).unwrap_or(&[]);
        let body = match content_length {
            Some(n) if n > rest.len() => {
                // RFC 3261 §18.3: a body shorter than Content-Length is an error. Over
                // WebSocket the frame boundary is authoritative (RFC 7118 §5), and a
                // body whose line ends were rewritten (LF <-> CRLF) in transit or in an
                // archive is short by about one byte per line; such a shortfall, at most
                // two bytes per body line, is tolerated and the body is the rest of the
                // frame. Anything larger (RFC 4475 clerr.dat) is refused.
                let lines = rest.iter().filter(|&&c| c == b'\n').count();
                if n - rest.len() > 2 * lines {
                    return Err(FramingError::ContentLengthTooLarge {
                        declared: n,
                        available: rest.len(),
                    }
                    .into());
                }
                rest.to_vec()
            }
            Some(n) => rest[..n].to_vec(),
            None => rest.to_vec(),
        };
        Ok(Message {
            start,
            text,
            fields,
            body,
            framing: Some(Framing {
                start_line: start_at,
                headers: start_at + base,
                body: start_at + body_start,
            }),
        })
    }

    /// Where the parts were in the frame this message was parsed from (`None` for a
    /// built message).
    pub fn framing(&self) -> Option<Framing> {
        self.framing
    }

    /// Where `s`, a header name or value this message lends out (from
    /// [`Message::headers`], [`Message::header`], ...), was in the parsed frame: its
    /// byte range there. `None` when `s` is not a slice of the stored header text (an
    /// unfolded value is a new string) or the message was built.
    pub fn header_offset(&self, s: &str) -> Option<(usize, usize)> {
        let framing = self.framing?;
        let off = (s.as_ptr() as usize).checked_sub(self.text.as_ptr() as usize)?;
        let end = off.checked_add(s.len())?;
        (end <= self.text.len()).then_some((framing.headers + off, framing.headers + end))
    }

    /// Parses a frame given as text.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(frame: &str) -> Result<Message, ParseError> {
        Message::parse(frame.as_bytes())
    }

    /// The start line.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }
    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }
    /// The Request-URI of a request.
    pub fn request_uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }
    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        match &self.start {
            StartLine::Response { status, .. } => Some(*status),
            StartLine::Request { .. } => None,
        }
    }
    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }
    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }
    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The body as UTF-8 text, if it is.
    pub fn body_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.body).ok()
    }

    /// Number of header fields (lines after unfolding).
    pub fn header_count(&self) -> usize {
        self.fields.len()
    }

    /// Every header field in order: (name as received, value).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields.iter().map(move |f| {
            (
                span_str(&self.text, f.raw_name),
                value_str(&self.text, &f.value),
            )
        })
    }

    /// The first value of a header (by name or compact form, any case).
    pub fn header(&self, name: impl Into<HeaderName>) -> Option<&str> {
        let name = name.into();
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| value_str(&self.text, &f.value))
    }

    /// Every value line of a header, in order (not split on commas).
    pub fn header_all(&self, name: impl Into<HeaderName>) -> impl Iterator<Item = &str> + '_ {
        let name = name.into();
        self.fields
            .iter()
            .filter(move |f| f.name == name)
            .map(move |f| value_str(&self.text, &f.value))
    }

    fn single(&self, name: HeaderName) -> Result<Option<&str>, ParseError> {
        let mut it = self.fields.iter().filter(|f| f.name == name);
        let first = it.next();
        if it.next().is_some() {
            return Err(ValidationError::Duplicated(name.static_name()).into());
        }
        Ok(first.map(|f| value_str(&self.text, &f.value)))
    }

    fn required(&self, name: HeaderName) -> Result<&str, ParseError> {
        let n = name.static_name();
        self.single(name)?
            .ok_or(ParseError::Validation(ValidationError::Missing(n)))
    }

    /// Every element of a list header (all lines, split on commas outside quotes
    /// and `<>`). Empty elements are an error naming the header.
    fn list(&self, name: HeaderName) -> Result<Vec<&str>, HeaderError> {
        let n = name.static_name();
        let mut out = Vec::new();
        for f in self.fields.iter().filter(|f| f.name == name) {
            let parts = split_list(value_str(&self.text, &f.value))
                .ok_or(HeaderError::new(n, "unbalanced quote or <"))?;
            for p in parts {
                if p.is_empty() {
                    return Err(HeaderError::new(n, "empty list element"));
                }
                out.push(p);
            }
        }
        Ok(out)
    }

    /// All Via values, top first (RFC 3261 §20.42). Missing Via is an error.
    pub fn via(&self) -> Result<Vec<Via>, ParseError> {
        let v = self.list(HeaderName::Via)?;
        if v.is_empty() {
            return Err(ValidationError::Missing("Via").into());
        }
        // Loops rather than `collect::<Result<Vec<_>, _>>()` here and below: each of
        // those was its own iterator instantiation in the wasm.
        let mut out = Vec::with_capacity(v.len());
        for i in v {
            out.push(Via::parse(i)?);
        }
        Ok(out)
    }
    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let v = self
            .header(HeaderName::Via)
            .ok_or(ValidationError::Missing("Via"))?;
        Ok(Via::parse(text::first_element(v))?)
    }
    /// From (RFC 3261 §20.20).
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        Ok(NameAddr::parse(self.required(HeaderName::From)?, "From")?)
    }
    /// To (RFC 3261 §20.39).
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        Ok(NameAddr::parse(self.required(HeaderName::To)?, "To")?)
    }
    /// Call-ID (RFC 3261 §20.8).
    pub fn call_id(&self) -> Result<&str, ParseError> {
        Ok(check_call_id(self.required(HeaderName::CallId)?)?)
    }
    /// CSeq (RFC 3261 §20.16).
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        Ok(CSeq::parse(self.required(HeaderName::CSeq)?)?)
    }
    /// Max-Forwards (0–255, RFC 3261 §20.22).
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        match self.single(HeaderName::MaxForwards)? {
            None => Ok(None),
            Some(v) => {
                // 1*DIGIT: leading zeros are allowed (RFC 4475 wsinv.dat has "0068").
                let raw = trim(v);
                let v = raw.trim_start_matches('0');
                let v = if v.is_empty() && !raw.is_empty() {
                    "0"
                } else {
                    v
                };
                if v.is_empty() || v.len() > 3 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(HeaderError::new("Max-Forwards", "not a number").into());
                }
                Ok(Some(v.parse::<u8>().map_err(|_| {
                    HeaderError::new("Max-Forwards", "above 255")
                })?))
            }
        }
    }
    /// Contact: `None` when absent, `*` or the list.
    pub fn contacts(&self) -> Result<Option<Contacts>, HeaderError> {
        let items = self.list(HeaderName::Contact)?;
        if items.is_empty() {
            return Ok(None);
        }
        if items.contains(&"*") {
            if items.len() != 1 {
                return Err(HeaderError::new("Contact", "'*' mixed with other contacts"));
            }
            return Ok(Some(Contacts::Star));
        }
        let mut list = Vec::with_capacity(items.len());
        for i in items {
            list.push(NameAddr::parse(i, "Contact")?);
        }
        Ok(Some(Contacts::List(list)))
    }
    /// Contact entries (empty for none or `*`).
    pub fn contact_list(&self) -> Result<Vec<Contact>, HeaderError> {
        Ok(match self.contacts()? {
            Some(Contacts::List(l)) => l,
            _ => Vec::new(),
        })
    }
    fn name_addr_list(&self, name: HeaderName, angle: bool) -> Result<Vec<NameAddr>, HeaderError> {
        let n = name.static_name();
        let items = self.list(name)?;
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.push(if angle {
                NameAddr::parse_angle(i, n)?
            } else {
                NameAddr::parse(i, n)?
            });
        }
        Ok(out)
    }
    /// Route (RFC 3261 §20.34).
    pub fn route(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::Route, true)
    }
    /// Record-Route (RFC 3261 §20.30).
    pub fn record_route(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::RecordRoute, true)
    }
    /// Path (RFC 3327).
    pub fn path(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::Path, true)
    }
    /// Service-Route (RFC 3608).
    pub fn service_route(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::ServiceRoute, true)
    }
    /// P-Associated-URI (RFC 7315 §4.1).
    pub fn p_associated_uri(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::PAssociatedUri, true)
    }
    /// P-Asserted-Identity (RFC 3325 §9.1).
    pub fn p_asserted_identity(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::PAssertedIdentity, false)
    }
    /// P-Preferred-Identity (RFC 3325 §9.2).
    pub fn p_preferred_identity(&self) -> Result<Vec<NameAddr>, HeaderError> {
        self.name_addr_list(HeaderName::PPreferredIdentity, false)
    }
    /// Accept-Contact values (RFC 3841 §10): `*` followed by feature parameters.
    pub fn accept_contact(&self) -> Result<Vec<TokenParams>, HeaderError> {
        let items = self.list(HeaderName::AcceptContact)?;
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            let rest = i.strip_prefix('*').ok_or(HeaderError::new(
                "Accept-Contact",
                "value must start with '*'",
            ))?;
            let (params, left) = headers::params_after(rest, "Accept-Contact")?;
            if !trim(left).is_empty() {
                return Err(HeaderError::new("Accept-Contact", "unexpected characters"));
            }
            out.push(TokenParams {
                value: "*".into(),
                params,
            });
        }
        Ok(out)
    }
    fn tokens(&self, name: HeaderName) -> Result<Vec<String>, HeaderError> {
        let n = name.static_name();
        let mut out = Vec::new();
        for v in self.header_all(name) {
            out.extend(parse_token_list(v, n)?);
        }
        Ok(out)
    }
    /// Require option tags.
    pub fn require(&self) -> Result<Vec<String>, HeaderError> {
        self.tokens(HeaderName::Require)
    }
    /// Proxy-Require option tags.
    pub fn proxy_require(&self) -> Result<Vec<String>, HeaderError> {
        self.tokens(HeaderName::ProxyRequire)
    }
    /// Supported option tags.
    pub fn supported(&self) -> Result<Vec<String>, HeaderError> {
        self.tokens(HeaderName::Supported)
    }
    /// Allow methods.
    pub fn allow(&self) -> Result<Vec<String>, HeaderError> {
        self.tokens(HeaderName::Allow)
    }
    /// Expires (RFC 3261 §20.19).
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        Ok(self
            .single(HeaderName::Expires)?
            .map(|v| parse_delta(v, "Expires"))
            .transpose()?)
    }
    /// Min-Expires (RFC 3261 §20.23).
    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        Ok(self
            .single(HeaderName::MinExpires)?
            .map(|v| parse_delta(v, "Min-Expires"))
            .transpose()?)
    }
    /// Content-Type (RFC 3261 §20.15).
    pub fn content_type(&self) -> Result<Option<MediaType>, ParseError> {
        Ok(self
            .single(HeaderName::ContentType)?
            .map(|v| MediaType::parse(v, "Content-Type"))
            .transpose()?)
    }
    /// Content-Length as declared (the framing already enforced it).
    pub fn content_length(&self) -> Option<usize> {
        self.header(HeaderName::ContentLength)
            .and_then(|v| trim(v).parse().ok())
    }
    /// Event (RFC 6665 §8.2.1).
    pub fn event(&self) -> Result<Option<Event>, ParseError> {
        Ok(self
            .single(HeaderName::Event)?
            .map(|v| TokenParams::parse(v, "Event"))
            .transpose()?)
    }
    /// Subscription-State (RFC 6665 §8.2.3).
    pub fn subscription_state(&self) -> Result<Option<SubscriptionState>, ParseError> {
        Ok(self
            .single(HeaderName::SubscriptionState)?
            .map(|v| TokenParams::parse(v, "Subscription-State"))
            .transpose()?)
    }
    /// SIP-ETag (RFC 3903 §11.3.1).
    pub fn sip_etag(&self) -> Result<Option<String>, ParseError> {
        Ok(self
            .single(HeaderName::SipETag)?
            .map(|v| parse_etag(v, "SIP-ETag"))
            .transpose()?)
    }
    /// SIP-If-Match (RFC 3903 §11.3.2).
    pub fn sip_if_match(&self) -> Result<Option<String>, ParseError> {
        Ok(self
            .single(HeaderName::SipIfMatch)?
            .map(|v| parse_etag(v, "SIP-If-Match"))
            .transpose()?)
    }
    /// Retry-After (RFC 3261 §20.33).
    pub fn retry_after(&self) -> Result<Option<RetryAfter>, ParseError> {
        Ok(self
            .single(HeaderName::RetryAfter)?
            .map(RetryAfter::parse)
            .transpose()?)
    }
    /// Date, validated (RFC 3261 §20.17), as text.
    pub fn date(&self) -> Result<Option<&str>, ParseError> {
        match self.single(HeaderName::Date)? {
            None => Ok(None),
            Some(v) => {
                check_date(v)?;
                Ok(Some(trim(v)))
            }
        }
    }
    /// User-Agent (free text).
    pub fn user_agent(&self) -> Option<&str> {
        self.header(HeaderName::UserAgent)
    }
    /// Server (free text).
    pub fn server(&self) -> Option<&str> {
        self.header(HeaderName::Server)
    }
    fn auth(&self, name: HeaderName) -> Result<Vec<AuthValue>, HeaderError> {
        let n = name.static_name();
        let mut out = Vec::new();
        for v in self.header_all(name) {
            out.extend(AuthValue::parse_list(v, n)?);
        }
        Ok(out)
    }
    /// WWW-Authenticate challenges (every one, in order).
    pub fn www_authenticate(&self) -> Result<Vec<AuthValue>, HeaderError> {
        self.auth(HeaderName::WwwAuthenticate)
    }
    /// Proxy-Authenticate challenges.
    pub fn proxy_authenticate(&self) -> Result<Vec<AuthValue>, HeaderError> {
        self.auth(HeaderName::ProxyAuthenticate)
    }
    /// Authorization credentials.
    pub fn authorization(&self) -> Result<Vec<AuthValue>, HeaderError> {
        self.auth(HeaderName::Authorization)
    }
    /// Proxy-Authorization credentials.
    pub fn proxy_authorization(&self) -> Result<Vec<AuthValue>, HeaderError> {
        self.auth(HeaderName::ProxyAuthorization)
    }

    /// Checks the message as a UA must before acting on it (RFC 3261 §8.2, §16.3):
    /// required headers present (Via, From, To, Call-ID, CSeq), single-valued
    /// headers not repeated, CSeq method equal to the request method, and every
    /// typed header present readable. The first problem found is returned.
    pub fn validate(&self) -> Result<(), ParseError> {
        // One pass counts the fields of each known name, so repeated single-valued
        // headers are found without a scan per name, and only the typed headers
        // that are present are read (an absent one always reads as Ok).
        let mut count = [0u8; HeaderName::KINDS];
        for f in &self.fields {
            let c = &mut count[f.name.index()];
            *c = c.saturating_add(1);
        }
        for name in SINGLE_VALUED {
            if count[name.index()] > 1 {
                return Err(ValidationError::Duplicated(name.static_name()).into());
            }
        }
        self.via()?;
        self.from()?;
        self.to()?;
        self.call_id()?;
        let cseq = self.cseq()?;
        if let Some(m) = self.method() {
            if *m != cseq.method {
                return Err(ValidationError::CSeqMethodMismatch.into());
            }
        }
        self.check_optional(|name| count[name.index()] > 0)
    }

    /// Reads every optional typed header that is present (`has`), in a fixed order.
    fn check_optional(&self, has: impl Fn(HeaderName) -> bool) -> Result<(), ParseError> {
        use HeaderName as H;
        if has(H::MaxForwards) {
            self.max_forwards()?;
        }
        if has(H::Contact) {
            self.contacts()?;
        }
        if has(H::Route) {
            self.route()?;
        }
        if has(H::RecordRoute) {
            self.record_route()?;
        }
        if has(H::Path) {
            self.path()?;
        }
        if has(H::ServiceRoute) {
            self.service_route()?;
        }
        if has(H::PAssociatedUri) {
            self.p_associated_uri()?;
        }
        if has(H::PAssertedIdentity) {
            self.p_asserted_identity()?;
        }
        if has(H::PPreferredIdentity) {
            self.p_preferred_identity()?;
        }
        if has(H::AcceptContact) {
            self.accept_contact()?;
        }
        if has(H::Require) {
            self.require()?;
        }
        if has(H::ProxyRequire) {
            self.proxy_require()?;
        }
        if has(H::Supported) {
            self.supported()?;
        }
        if has(H::Allow) {
            self.allow()?;
        }
        if has(H::Expires) {
            self.expires()?;
        }
        if has(H::MinExpires) {
            self.min_expires()?;
        }
        if has(H::ContentType) {
            self.content_type()?;
        }
        if has(H::Event) {
            self.event()?;
        }
        if has(H::SubscriptionState) {
            self.subscription_state()?;
        }
        if has(H::SipETag) {
            self.sip_etag()?;
        }
        if has(H::SipIfMatch) {
            self.sip_if_match()?;
        }
        if has(H::RetryAfter) {
            self.retry_after()?;
        }
        if has(H::Date) {
            self.date()?;
        }
        if has(H::WwwAuthenticate) {
            self.www_authenticate()?;
        }
        if has(H::ProxyAuthenticate) {
            self.proxy_authenticate()?;
        }
        if has(H::Authorization) {
            self.authorization()?;
        }
        if has(H::ProxyAuthorization) {
            self.proxy_authorization()?;
        }
        Ok(())
    }

    /// The whole message as bytes (start line, headers, empty line, body).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.head_string().into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// The whole message as text, a non-UTF-8 body lossily (what `Display` prints,
    /// without the formatting machinery).
    pub fn to_text(&self) -> String {
        let mut s = self.head_string();
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }

    fn head_string(&self) -> String {
        let mut s = String::with_capacity(self.text.len() + 64);
        match &self.start {
            StartLine::Request { method, uri } => {
                s.push_str(method.as_str());
                s.push(' ');
                s.push_str(uri.as_str());
                s.push_str(" SIP/2.0\r\n");
            }
            StartLine::Response { status, reason } => {
                s.push_str("SIP/2.0 ");
                s.push_str(&status.to_string());
                s.push(' ');
                s.push_str(reason);
                s.push_str("\r\n");
            }
        }
        if self.text_is_printed_form() {
            s.push_str(&self.text);
        } else {
            for (n, v) in self.headers() {
                s.push_str(n);
                s.push_str(": ");
                s.push_str(v);
                s.push_str("\r\n");
            }
        }
        s.push_str("\r\n");
        s
    }

    /// Whether the header text already is what printing the fields gives: every
    /// field, in order, as `name: value` CRLF with nothing in between (always so for
    /// a built message, and for a parsed one written that way), so it can be copied
    /// whole instead of line by line.
    fn text_is_printed_form(&self) -> bool {
        let t = self.text.as_bytes();
        let mut at = 0;
        for f in &self.fields {
            let Value::Span(v) = f.value else {
                return false;
            };
            let (name_start, name_end) = (f.raw_name.start as usize, f.raw_name.end as usize);
            let (v_start, v_end) = (v.start as usize, v.end as usize);
            if name_start != at
                || t.get(name_end..v_start) != Some(b": ")
                || t.get(v_end..v_end + 2) != Some(b"\r\n")
            {
                return false;
            }
            at = v_end + 2;
        }
        at == t.len()
    }
}

impl fmt::Display for Message {
    /// Prints the message; a non-UTF-8 body is printed lossily.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

fn span_str(text: &str, s: Span) -> &str {
    text.get(s.start as usize..s.end as usize).unwrap_or("")
}

fn value_str<'a>(text: &'a str, v: &'a Value) -> &'a str {
    match v {
        Value::Span(s) => span_str(text, *s),
        Value::Owned(o) => o,
    }
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if line.len() >= 4 && line.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let (version, rest) = line
            .split_once(' ')
            .ok_or(ParseError::StartLine("missing status code"))?;
        check_version(version)?;
        let (code, reason) = match rest.split_once(' ') {
            Some((c, r)) => (c, r),
            // Tolerate a missing SP before an empty reason phrase.
            None => (rest, ""),
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::StartLine("status code is not three digits"));
        }
        let status: u16 = code
            .parse()
            .map_err(|_| ParseError::StartLine("bad status code"))?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::StartLine("status code outside 100-699"));
        }
        if reason.bytes().any(|b| b < b' ' && b != b'\t') {
            return Err(ParseError::StartLine("control character in reason phrase"));
        }
        return Ok(StartLine::Response {
            status,
            reason: reason.to_owned(),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version CRLF: exactly single spaces.
    let mut parts = line.split(' ');
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::StartLine(
            "request line is not `Method SP Request-URI SP SIP-Version`",
        ));
    };
    if !is_token(method) {
        return Err(ParseError::StartLine("method is not a token"));
    }
    check_version(version)?;
    let uri = Uri::parse(uri).map_err(|e| ParseError::StartLine(e.0))?;
    if uri.is_sip() && !uri.headers().is_empty() {
        // RFC 3261 §19.1.5: headers are not allowed in a Request-URI.
        return Err(ParseError::StartLine("Request-URI contains headers"));
    }
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri,
    })
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        return Ok(());
    }
    let ok_shape = v.len() > 4
        && v.as_bytes()[..4].eq_ignore_ascii_case(b"SIP/")
        && v[4..].split_once('.').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        });
    if ok_shape {
        Err(ParseError::UnsupportedVersion(v.to_owned()))
    } else {
        Err(ParseError::StartLine("malformed SIP-Version"))
    }
}
