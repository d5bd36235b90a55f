//! Building requests and responses: CRLF line ends, stable header order (the
//! order headers are added), Content-Length computed in bytes.

use super::{Field, HeaderName, Message, Method, NameAddr, Span, StartLine, Uri, Value};
use core::fmt::{self, Write as _};

/// Builds a [`Message`]. Headers appear in the order they are added;
/// `Content-Length` is appended last by [`MessageBuilder::build`] and always counts
/// body **bytes**.
///
/// ```
/// use imsip::message::{Message, MessageBuilder, Method, Uri};
/// let uri = Uri::parse("sip:imsip.test").unwrap();
/// let msg = MessageBuilder::request(Method::Register, uri)
///     .header("Via", "SIP/2.0/WS x.invalid;branch=z9hG4bK1;rport")
///     .header("CSeq", "1 REGISTER")
///     .body(Some("text/plain"), "é")
///     .build();
/// let text = msg.to_string();
/// assert!(text.ends_with("Content-Length: 2\r\n\r\né"));
/// assert_eq!(Message::parse(text.as_bytes()).unwrap(), msg);
/// ```
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    start: StartLine,
    text: String,
    fields: Vec<Field>,
    body: Vec<u8>,
}

impl MessageBuilder {
    /// A request with the given method and Request-URI.
    pub fn request(method: Method, uri: Uri) -> Self {
        Self::with_start(StartLine::Request { method, uri })
    }

    /// A response with the given status and reason phrase.
    pub fn response(status: u16, reason: &str) -> Self {
        Self::with_start(StartLine::Response {
            status,
            reason: reason.replace(['\r', '\n'], " "),
        })
    }

    /// A response to `request` (RFC 3261 §8.2.6.2): copies every Via, From, To,
    /// Call-ID and CSeq; adds `tag=to_tag` to To when it has no tag yet.
    pub fn reply(request: &Message, status: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut b = Self::response(status, reason);
        // Every Via; the first From, To, Call-ID and CSeq (a request that repeats
        // them, RFC 4475 multi01.dat, still gets a well-formed 400).
        let mut seen = [false; 4];
        for (name, value) in request.headers() {
            let n = HeaderName::parse(name);
            let slot = match n {
                HeaderName::From => Some(0),
                HeaderName::To => Some(1),
                HeaderName::CallId => Some(2),
                HeaderName::CSeq => Some(3),
                _ => None,
            };
            if let Some(i) = slot {
                if seen[i] {
                    continue;
                }
                seen[i] = true;
            }
            match n {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    b.push_header(n, value);
                }
                HeaderName::To => match to_tag {
                    Some(tag)
                        if NameAddr::parse(value, "To")
                            .map(|t| t.tag().is_none())
                            .unwrap_or(false) =>
                    {
                        b.push_header(n, format_args!("{value};tag={tag}"));
                    }
                    _ => {
                        b.push_header(n, value);
                    }
                },
                _ => {}
            }
        }
        b
    }

    fn with_start(start: StartLine) -> Self {
        MessageBuilder {
            start,
            text: String::with_capacity(512),
            fields: Vec::with_capacity(16),
            body: Vec::new(),
        }
    }

    /// Adds a header from raw text or any typed value that implements `Display`
    /// (`Via`, `NameAddr`, `CSeq`, ...). CR and LF in the value are replaced by
    /// spaces, so a value can never inject a header.
    pub fn header(mut self, name: impl Into<HeaderName>, value: impl fmt::Display) -> Self {
        self.push_header(name, value);
        self
    }

    /// As [`MessageBuilder::header`], by reference.
    pub fn push_header(
        &mut self,
        name: impl Into<HeaderName>,
        value: impl fmt::Display,
    ) -> &mut Self {
        let name = name.into();
        if name == HeaderName::ContentLength {
            // Computed by build().
            return self;
        }
        let name_start = self.text.len();
        self.text.push_str(name.as_str());
        let name_end = self.text.len();
        self.text.push_str(": ");
        let vstart = self.text.len();
        // Writing to a String cannot fail.
        let _ = write!(self.text, "{value}");
        // A byte search: CR and LF are ASCII, and the generic `[char; 2]` pattern
        // decodes every character (most of the cost of building a message).
        if self.text.as_bytes()[vstart..]
            .iter()
            .any(|&b| b == b'\r' || b == b'\n')
        {
            let clean = self.text[vstart..].replace(['\r', '\n'], " ");
            self.text.truncate(vstart);
            self.text.push_str(&clean);
        }
        let vend = self.text.len();
        self.text.push_str("\r\n");
        self.fields.push(Field {
            name,
            raw_name: Span {
                start: name_start as u32,
                end: name_end as u32,
            },
            value: Value::Span(Span {
                start: vstart as u32,
                end: vend as u32,
            }),
        });
        self
    }

    /// Sets the body, with a Content-Type header when `content_type` is given.
    pub fn body(mut self, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        if let Some(ct) = content_type {
            self.push_header(HeaderName::ContentType, ct);
        }
        self.body = body.into();
        self
    }

    /// Finishes the message, appending `Content-Length` (in bytes).
    pub fn build(mut self) -> Message {
        let len = self.body.len();
        self.push_header(HeaderName::Other("Content-Length".into()), len);
        if let Some(last) = self.fields.last_mut() {
            last.name = HeaderName::ContentLength;
        }
        Message {
            framing: None,
            start: self.start,
            text: self.text,
            fields: self.fields,
            body: self.body,
        }
    }
}
