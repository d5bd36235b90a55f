//! Builders that write canonical frames: `To-Path`, `From-Path`, the other headers in
//! the order given, `Content-Type` last before the body (RFC 4975 §7.1).
//!
//! Setters never fail; [`RequestBuilder::build`] and [`ResponseBuilder::build`] check
//! everything and report the first value they cannot write, so that what they return
//! always encodes and parses back to itself.

use super::frame::{default_comment, ContinuationFlag, Frame, Method, StartLine};
use super::headers::{
    Header, AUTHENTICATION_INFO, AUTHORIZATION, BYTE_RANGE, CONTENT_TYPE, EXPIRES, FAILURE_REPORT,
    FROM_PATH, MAX_EXPIRES, MESSAGE_ID, MIN_EXPIRES, STATUS, SUCCESS_REPORT, TO_PATH, USE_PATH,
    WWW_AUTHENTICATE,
};
use super::ident::{is_ident, is_token, is_utf8text, trim_wsp, END_PREFIX};
use super::uri::write_path;
use super::{
    ByteRange, FailureReport, MsrpError, MsrpUri, Status, SuccessReport, TransactionId,
    MAX_BODY_BYTES, MAX_HEADERS, MAX_HEADER_BYTES,
};
use crate::auth::Authorization;
use crate::message::AuthValue;

/// What both builders hold: the transaction id, the paths and the other headers.
#[derive(Debug, Clone)]
struct Draft {
    tid: TransactionId,
    to_path: Vec<MsrpUri>,
    from_path: Vec<MsrpUri>,
    headers: Vec<(String, String)>,
}

impl Draft {
    fn push(&mut self, name: &str, value: impl Into<String>) {
        self.headers.push((name.to_owned(), value.into()));
    }

    /// Checks the headers and assembles the frame.
    fn finish(
        self,
        start: StartLine,
        content_type: Option<String>,
        body: Option<Vec<u8>>,
        flag: ContinuationFlag,
    ) -> Result<Frame, MsrpError> {
        for (header, path) in [(TO_PATH, &self.to_path), (FROM_PATH, &self.from_path)] {
            if path.is_empty() {
                return Err(MsrpError::BadValue {
                    header,
                    what: "no URI",
                });
            }
        }
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in self.headers {
            let value = trim_wsp(&value).to_owned();
            check_header(&name, &value)?;
            headers.push(Header { name, value });
        }
        if let Some(ct) = &content_type {
            if ct.is_empty() || !is_utf8text(ct) || trim_wsp(ct) != ct || !ct.contains('/') {
                return Err(MsrpError::BadValue {
                    header: CONTENT_TYPE,
                    what: "not a type/subtype media type on one line",
                });
            }
        }
        let count = headers.len() + 2 + usize::from(content_type.is_some());
        if count > MAX_HEADERS {
            return Err(MsrpError::TooManyHeaders { max: MAX_HEADERS });
        }
        if let Some(b) = &body {
            if b.len() > MAX_BODY_BYTES {
                return Err(MsrpError::BodyTooLarge {
                    max: MAX_BODY_BYTES,
                });
            }
            if self.tid.collides_with(b) {
                return Err(MsrpError::BodyContainsEndLine);
            }
        }
        let frame = Frame {
            tid: self.tid,
            start,
            to_path: self.to_path,
            from_path: self.from_path,
            headers,
            content_type,
            body,
            flag,
        };
        // The header section ends with the blank line, or with the end-line when there
        // is no body: all of it must fit the parser's limit.
        let closing = match frame.body {
            Some(_) => 2,
            None => END_PREFIX.len() + frame.tid.as_str().len() + 3,
        };
        if frame.encode_head().len() + closing > MAX_HEADER_BYTES {
            return Err(MsrpError::HeadersTooLarge {
                max: MAX_HEADER_BYTES,
            });
        }
        Ok(frame)
    }
}

/// Names the builders set through their own methods, never through `header()`.
const RESERVED: [&str; 3] = [TO_PATH, FROM_PATH, CONTENT_TYPE];

fn check_header(name: &str, value: &str) -> Result<(), MsrpError> {
    // RFC 4975 §9 `hname = ALPHA *token`, `hval = utf8text`.
    if !is_token(name) || !name.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
        return Err(MsrpError::BadValue {
            header: "header name",
            what: "not a letter followed by token characters",
        });
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(MsrpError::BadValue {
            header: "header name",
            what: "To-Path, From-Path and Content-Type have their own builder methods",
        });
    }
    if !is_utf8text(value) {
        return Err(MsrpError::BadValue {
            header: "header value",
            what: "control characters (CR, LF, ...) in the value",
        });
    }
    if name.eq_ignore_ascii_case(MESSAGE_ID) && !is_ident(value) {
        return Err(MsrpError::BadValue {
            header: MESSAGE_ID,
            what: "not 4 to 32 letters, digits or .-+%= starting with a letter or digit",
        });
    }
    Ok(())
}

/// Builds a request: `SEND`, `REPORT`, `AUTH` or an extension method.
///
/// ```
/// use imsip::msrp::{ByteRange, MsrpUri, RequestBuilder, SuccessReport, TransactionId};
/// let to = MsrpUri::parse("msrp://bob.example.com:8888/9di4eae923wzd;tcp").unwrap();
/// let from = MsrpUri::parse("msrp://alice.example.com:7777/iau39soe2843z;tcp").unwrap();
/// let bytes = RequestBuilder::send(TransactionId::new("d93kswow").unwrap(), to, from)
///     .message_id("12339sdqwer")
///     .byte_range(ByteRange::whole(6))
///     .success_report(SuccessReport::Yes)
///     .body("text/plain", "Hello!")
///     .encode()
///     .unwrap();
/// assert!(bytes.ends_with(b"\r\n\r\nHello!\r\n-------d93kswow$\r\n"));
/// ```
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    draft: Draft,
    method: Method,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
    flag: ContinuationFlag,
}

impl RequestBuilder {
    /// A request with its method, transaction id and paths (the first `To-Path` URI is
    /// the next hop, the first `From-Path` URI is the sender's own).
    pub fn new(
        method: Method,
        tid: TransactionId,
        to_path: impl Into<Vec<MsrpUri>>,
        from_path: impl Into<Vec<MsrpUri>>,
    ) -> RequestBuilder {
        RequestBuilder {
            draft: Draft {
                tid,
                to_path: to_path.into(),
                from_path: from_path.into(),
                headers: Vec::new(),
            },
            method,
            content_type: None,
            body: None,
            flag: ContinuationFlag::Complete,
        }
    }

    /// A `SEND` to one URI (give a `Vec` to [`RequestBuilder::new`] for relays).
    pub fn send(tid: TransactionId, to: MsrpUri, from: MsrpUri) -> RequestBuilder {
        RequestBuilder::new(Method::Send, tid, vec![to], vec![from])
    }

    /// A `REPORT` to one URI.
    pub fn report(tid: TransactionId, to: MsrpUri, from: MsrpUri) -> RequestBuilder {
        RequestBuilder::new(Method::Report, tid, vec![to], vec![from])
    }

    /// An `AUTH` to a relay (RFC 4976): `To-Path` the relay's URI, `From-Path` ours.
    pub fn auth(tid: TransactionId, relay: MsrpUri, from: MsrpUri) -> RequestBuilder {
        RequestBuilder::new(Method::Auth, tid, vec![relay], vec![from])
    }

    /// Any header, after those set before it. `To-Path`, `From-Path` and
    /// `Content-Type` are refused at build: they have their own methods.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> RequestBuilder {
        self.draft.push(name, value);
        self
    }

    /// `Message-ID` (an `ident`, checked at build).
    pub fn message_id(self, id: impl Into<String>) -> RequestBuilder {
        self.header(MESSAGE_ID, id)
    }

    /// `Byte-Range`.
    pub fn byte_range(self, range: ByteRange) -> RequestBuilder {
        self.header(BYTE_RANGE, range.to_string())
    }

    /// `Success-Report`.
    pub fn success_report(self, value: SuccessReport) -> RequestBuilder {
        self.header(SUCCESS_REPORT, value.as_str())
    }

    /// `Failure-Report`.
    pub fn failure_report(self, value: FailureReport) -> RequestBuilder {
        self.header(FAILURE_REPORT, value.as_str())
    }

    /// `Status` (REPORT).
    pub fn status(self, status: &Status) -> RequestBuilder {
        self.header(STATUS, status.to_string())
    }

    /// `Expires` (AUTH, RFC 4976): how long the path should last, in seconds.
    pub fn expires(self, seconds: u32) -> RequestBuilder {
        self.header(EXPIRES, seconds.to_string())
    }

    /// `Authorization` (AUTH, RFC 4976) from the digest code: pass what
    /// [`crate::auth::DigestSession::authorize`] returns for method `AUTH` and the
    /// relay's URI.
    pub fn authorization(self, credentials: &Authorization) -> RequestBuilder {
        self.header(AUTHORIZATION, credentials.to_header_value())
    }

    /// The body and its `Content-Type` (RFC 4975 §7.1.1: a body always has one). The
    /// body is bytes; an empty one is written as a blank line and nothing.
    pub fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> RequestBuilder {
        self.content_type = Some(content_type.to_owned());
        self.body = Some(body.into());
        self
    }

    /// The end-line's flag: `$` by default, `+` for a chunk with more to follow, `#`
    /// to abort the message.
    pub fn continuation(mut self, flag: ContinuationFlag) -> RequestBuilder {
        self.flag = flag;
        self
    }

    /// Checks every value and returns the frame. Errors: [`MsrpError::BadValue`] (a
    /// path with no URI, a header name or value that cannot be written, a `Message-ID`
    /// that is not an `ident`, a bad `Content-Type`),
    /// [`MsrpError::BodyContainsEndLine`], and the limits
    /// ([`MsrpError::HeadersTooLarge`], [`MsrpError::TooManyHeaders`],
    /// [`MsrpError::BodyTooLarge`]).
    pub fn build(self) -> Result<Frame, MsrpError> {
        self.draft.finish(
            StartLine::Request(self.method),
            self.content_type,
            self.body,
            self.flag,
        )
    }

    /// [`RequestBuilder::build`], then [`Frame::encode`].
    pub fn encode(self) -> Result<Vec<u8>, MsrpError> {
        self.build()?.encode()
    }
}

/// Builds a response. Responses carry no body and end with `$`.
///
/// ```
/// use imsip::msrp::{Frame, ResponseBuilder};
/// let request = Frame::parse(b"MSRP a786hjs2 SEND\r\n\
///     To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n\
///     From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n\
///     -------a786hjs2$\r\n").unwrap();
/// let ok = ResponseBuilder::for_request(&request, 200).unwrap().encode().unwrap();
/// assert_eq!(ok, b"MSRP a786hjs2 200 OK\r\n\
///     To-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n\
///     From-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n\
///     -------a786hjs2$\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct ResponseBuilder {
    draft: Draft,
    code: u16,
    comment: Option<String>,
}

impl ResponseBuilder {
    /// A response with its transaction id, status code and paths.
    pub fn new(
        tid: TransactionId,
        code: u16,
        to_path: impl Into<Vec<MsrpUri>>,
        from_path: impl Into<Vec<MsrpUri>>,
    ) -> ResponseBuilder {
        ResponseBuilder {
            draft: Draft {
                tid,
                to_path: to_path.into(),
                from_path: from_path.into(),
                headers: Vec::new(),
            },
            code,
            comment: None,
        }
    }

    /// The response to `request` (RFC 4975 §7.2): same transaction id; `To-Path` the
    /// first URI of the request's `From-Path`, `From-Path` the first URI of its
    /// `To-Path`. Responses go back one hop only: each relay puts its own URI at the
    /// front of the `From-Path` it forwards (RFC 4976), so the first URI is the hop the
    /// request came from, and the first `To-Path` URI is the one who answers.
    ///
    /// Errors: [`MsrpError::CannotRespond`] for a response, and for a `REPORT`, which is
    /// never answered (RFC 4975 §7.1.2).
    pub fn for_request(request: &Frame, code: u16) -> Result<ResponseBuilder, MsrpError> {
        match request.method() {
            None => return Err(MsrpError::CannotRespond("a response")),
            Some(Method::Report) => return Err(MsrpError::CannotRespond("a REPORT request")),
            Some(_) => {}
        }
        Ok(ResponseBuilder::new(
            request.tid().clone(),
            code,
            request
                .from_path()
                .first()
                .cloned()
                .into_iter()
                .collect::<Vec<_>>(),
            request
                .to_path()
                .first()
                .cloned()
                .into_iter()
                .collect::<Vec<_>>(),
        ))
    }

    /// The comment after the status code; without one, [`default_comment`] gives it.
    pub fn comment(mut self, text: impl Into<String>) -> ResponseBuilder {
        self.comment = Some(text.into());
        self
    }

    /// Any header, after those set before it (`To-Path`, `From-Path` and
    /// `Content-Type` are refused at build).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> ResponseBuilder {
        self.draft.push(name, value);
        self
    }

    /// `Message-ID`.
    pub fn message_id(self, id: impl Into<String>) -> ResponseBuilder {
        self.header(MESSAGE_ID, id)
    }

    /// `Use-Path` (a relay's 200 to AUTH, RFC 4976).
    pub fn use_path(mut self, path: &[MsrpUri]) -> ResponseBuilder {
        let mut value = String::new();
        write_path(&mut value, path);
        self.draft.push(USE_PATH, value);
        self
    }

    /// `Expires` in seconds (a relay's 200 to AUTH, RFC 4976).
    pub fn expires(self, seconds: u32) -> ResponseBuilder {
        self.header(EXPIRES, seconds.to_string())
    }

    /// `Min-Expires` in seconds (a relay's 423, RFC 4976).
    pub fn min_expires(self, seconds: u32) -> ResponseBuilder {
        self.header(MIN_EXPIRES, seconds.to_string())
    }

    /// `Max-Expires` in seconds (a relay's 423, RFC 4976).
    pub fn max_expires(self, seconds: u32) -> ResponseBuilder {
        self.header(MAX_EXPIRES, seconds.to_string())
    }

    /// `WWW-Authenticate` (a relay's 401 to AUTH, RFC 4976): one digest challenge.
    pub fn www_authenticate(self, challenge: &AuthValue) -> ResponseBuilder {
        self.header(WWW_AUTHENTICATE, challenge.to_string())
    }

    /// `Authentication-Info` (a relay's 200 to AUTH, RFC 4976), as written.
    pub fn authentication_info(self, value: impl Into<String>) -> ResponseBuilder {
        self.header(AUTHENTICATION_INFO, value)
    }

    /// Checks every value and returns the frame: the errors of
    /// [`RequestBuilder::build`] but the body ones, and [`MsrpError::BadValue`] for a
    /// code above 999 or a comment with control characters.
    pub fn build(self) -> Result<Frame, MsrpError> {
        if self.code > 999 {
            return Err(MsrpError::BadValue {
                header: "status code",
                what: "more than three digits",
            });
        }
        let comment = match self.comment {
            Some(c) => Some(trim_wsp(&c).to_owned()),
            None => default_comment(self.code).map(str::to_owned),
        };
        if comment.as_deref().is_some_and(|c| !is_utf8text(c)) {
            return Err(MsrpError::BadValue {
                header: "comment",
                what: "control characters (CR, LF, ...) in the comment",
            });
        }
        let start = StartLine::Response {
            code: self.code,
            comment: comment.filter(|c| !c.is_empty()),
        };
        self.draft
            .finish(start, None, None, ContinuationFlag::Complete)
    }

    /// [`ResponseBuilder::build`], then [`Frame::encode`].
    pub fn encode(self) -> Result<Vec<u8>, MsrpError> {
        self.build()?.encode()
    }
}
