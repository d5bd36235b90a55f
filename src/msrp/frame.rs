//! The frame: one MSRP request or response as it travels on the wire, with typed reads
//! of its headers and the encoder.

use super::headers::{
    Header, AUTHENTICATION_INFO, AUTHORIZATION, BYTE_RANGE, CONTENT_TYPE, EXPIRES, FAILURE_REPORT,
    FROM_PATH, MAX_EXPIRES, MESSAGE_ID, MIN_EXPIRES, STATUS, SUCCESS_REPORT, TO_PATH, USE_PATH,
    WWW_AUTHENTICATE,
};
use super::ident::{is_ident, END_PREFIX};
use super::uri::{parse_path, write_path};
use super::{ByteRange, FailureReport, MsrpError, MsrpUri, Status, SuccessReport, TransactionId};
use crate::message::{AuthValue, MediaType};
use core::fmt;

/// A request method (RFC 4975 §9 `method`: `SEND`, `REPORT` or `1*UPALPHA`; RFC 4976
/// adds `AUTH`). Case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// `SEND`: carries a message or a chunk of one (RFC 4975 §7.1.1).
    Send,
    /// `REPORT`: tells the sender how a message fared (RFC 4975 §7.1.2); never answered.
    Report,
    /// `AUTH`: asks a relay for a path, with digest credentials (RFC 4976 §5).
    Auth,
    /// Any other method: upper-case letters, as written (a receiver answers 501).
    Other(String),
}

impl Method {
    /// Reads a method; `None` unless it is one or more upper-case ASCII letters.
    pub fn parse(s: &str) -> Option<Method> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(match s {
            "SEND" => Method::Send,
            "REPORT" => Method::Report,
            "AUTH" => Method::Auth,
            _ => Method::Other(s.to_owned()),
        })
    }

    /// The method as written.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Send => "SEND",
            Method::Report => "REPORT",
            Method::Auth => "AUTH",
            Method::Other(s) => s,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the start line says after the transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `MSRP <tid> <method>`.
    Request(Method),
    /// `MSRP <tid> <code>[ <comment>]`.
    Response {
        /// The three-digit status code.
        code: u16,
        /// The comment after the code, when present and not empty.
        comment: Option<String>,
    },
}

/// The flag after the transaction id in the end-line (RFC 4975 §9
/// `continuation-flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContinuationFlag {
    /// `$`: the last chunk of the message (or the whole message); responses always.
    #[default]
    Complete,
    /// `+`: more chunks of the message follow (RFC 4975 §5.1).
    Continued,
    /// `#`: the sender gives up on the message; no more chunks (RFC 4975 §7.1.1).
    Aborted,
}

impl ContinuationFlag {
    /// `$`, `+` or `#`.
    pub fn as_byte(self) -> u8 {
        match self {
            ContinuationFlag::Complete => b'$',
            ContinuationFlag::Continued => b'+',
            ContinuationFlag::Aborted => b'#',
        }
    }

    /// Reads `$`, `+` or `#`.
    pub fn from_byte(b: u8) -> Option<ContinuationFlag> {
        match b {
            b'$' => Some(ContinuationFlag::Complete),
            b'+' => Some(ContinuationFlag::Continued),
            b'#' => Some(ContinuationFlag::Aborted),
            _ => None,
        }
    }
}

/// The comment imsip writes after a status code when none is given: the meaning RFC
/// 4975 §10 and RFC 4976 give each code, in a few words.
pub fn default_comment(code: u16) -> Option<&'static str> {
    Some(match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        408 => "Request Timeout",
        413 => "Message Too Large",
        415 => "Unsupported Media Type",
        423 => "Interval Out-of-Bounds",
        481 => "Session Does Not Exist",
        501 => "Unknown Method",
        506 => "Session Already Bound",
        _ => return None,
    })
}

/// One MSRP request or response: start line, `To-Path`, `From-Path`, the other headers
/// in order, `Content-Type`, the body (bytes) and the end-line's flag.
///
/// Read with [`Frame::parse`], [`crate::msrp::parse_frame`] or a
/// [`crate::msrp::Decoder`]; made with [`crate::msrp::RequestBuilder`] or
/// [`crate::msrp::ResponseBuilder`]; written with [`Frame::encode`]. Parsing what
/// `encode` writes gives the same frame.
///
/// `To-Path` and `From-Path` are read when the frame is (they are required); every
/// other header stays as text until a typed read asks for it, so an odd header fails
/// only its own read, with an error naming it. Where a header appears twice, typed
/// reads take the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub(crate) tid: TransactionId,
    pub(crate) start: StartLine,
    pub(crate) to_path: Vec<MsrpUri>,
    pub(crate) from_path: Vec<MsrpUri>,
    pub(crate) headers: Vec<Header>,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) flag: ContinuationFlag,
}

impl Frame {
    /// The transaction id.
    pub fn tid(&self) -> &TransactionId {
        &self.tid
    }

    /// The start line after the transaction id.
    pub fn start_line(&self) -> &StartLine {
        &self.start
    }

    /// Whether the frame is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request(_))
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request(m) => Some(m),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn status_code(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { code, .. } => Some(code),
            StartLine::Request(_) => None,
        }
    }

    /// The comment of a response's start line.
    pub fn comment(&self) -> Option<&str> {
        match &self.start {
            StartLine::Response { comment, .. } => comment.as_deref(),
            StartLine::Request(_) => None,
        }
    }

    /// `To-Path`: never empty.
    pub fn to_path(&self) -> &[MsrpUri] {
        &self.to_path
    }

    /// `From-Path`: never empty.
    pub fn from_path(&self) -> &[MsrpUri] {
        &self.from_path
    }

    /// The headers other than `To-Path`, `From-Path` and `Content-Type`, in order.
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive) among [`Frame::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.is(name)).map(Header::value)
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.is(name))
            .map(Header::value)
    }

    /// `Content-Type`, as written: present when the frame has a body.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// `Content-Type` read as a media type.
    pub fn media_type(&self) -> Result<Option<MediaType>, MsrpError> {
        self.content_type
            .as_deref()
            .map(|v| {
                MediaType::parse(v, CONTENT_TYPE).map_err(|e| MsrpError::BadHeader {
                    name: CONTENT_TYPE,
                    what: e.what,
                })
            })
            .transpose()
    }

    /// The body: `None` when the frame has none (its header section ends with the
    /// end-line), `Some` (maybe empty) after a blank line.
    pub fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The body, taken out of the frame.
    pub fn into_body(self) -> Option<Vec<u8>> {
        self.body
    }

    /// The end-line's flag.
    pub fn continuation(&self) -> ContinuationFlag {
        self.flag
    }

    /// `Message-ID` (RFC 4975 §7.1.1), checked to be an `ident`.
    pub fn message_id(&self) -> Result<Option<&str>, MsrpError> {
        match self.header(MESSAGE_ID) {
            None => Ok(None),
            Some(v) if is_ident(v) => Ok(Some(v)),
            Some(_) => Err(MsrpError::BadHeader {
                name: MESSAGE_ID,
                what: "not 4 to 32 letters, digits or .-+%=",
            }),
        }
    }

    /// `Byte-Range` (RFC 4975 §7.1.1). Absent means the whole message is in this
    /// frame: `1-*/*`, which the caller reads from the body's length.
    pub fn byte_range(&self) -> Result<Option<ByteRange>, MsrpError> {
        self.header(BYTE_RANGE).map(ByteRange::parse).transpose()
    }

    /// `Status` (RFC 4975 §7.1.2), in REPORTs.
    pub fn status(&self) -> Result<Option<Status>, MsrpError> {
        self.header(STATUS).map(Status::parse).transpose()
    }

    /// `Success-Report`, `no` when absent (RFC 4975 §7.1.1).
    pub fn success_report(&self) -> Result<SuccessReport, MsrpError> {
        self.header(SUCCESS_REPORT)
            .map_or(Ok(SuccessReport::default()), SuccessReport::parse)
    }

    /// `Failure-Report`, `yes` when absent (RFC 4975 §7.1.1).
    pub fn failure_report(&self) -> Result<FailureReport, MsrpError> {
        self.header(FAILURE_REPORT)
            .map_or(Ok(FailureReport::default()), FailureReport::parse)
    }

    /// `Use-Path` (RFC 4976): the path a relay grants in its 200 to AUTH.
    pub fn use_path(&self) -> Result<Option<Vec<MsrpUri>>, MsrpError> {
        self.header(USE_PATH)
            .map(|v| parse_path(v, USE_PATH))
            .transpose()
    }

    fn seconds(&self, name: &'static str) -> Result<Option<u32>, MsrpError> {
        self.header(name)
            .map(|v| {
                let v = super::ident::trim_wsp(v);
                if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(MsrpError::BadHeader {
                        name,
                        what: "not a number of seconds",
                    });
                }
                v.parse().map_err(|_| MsrpError::BadHeader {
                    name,
                    what: "more seconds than 2^32 - 1",
                })
            })
            .transpose()
    }

    /// `Expires` (RFC 4976): seconds.
    pub fn expires(&self) -> Result<Option<u32>, MsrpError> {
        self.seconds(EXPIRES)
    }

    /// `Min-Expires` (RFC 4976): seconds.
    pub fn min_expires(&self) -> Result<Option<u32>, MsrpError> {
        self.seconds(MIN_EXPIRES)
    }

    /// `Max-Expires` (RFC 4976): seconds.
    pub fn max_expires(&self) -> Result<Option<u32>, MsrpError> {
        self.seconds(MAX_EXPIRES)
    }

    fn auth_values(&self, name: &'static str) -> Result<Vec<AuthValue>, MsrpError> {
        let mut out = Vec::new();
        for v in self.header_values(name) {
            out.extend(
                AuthValue::parse_list(v, name)
                    .map_err(|e| MsrpError::BadHeader { name, what: e.what })?,
            );
        }
        Ok(out)
    }

    /// The challenges of every `WWW-Authenticate` (RFC 4976, in a 401 to AUTH), for
    /// [`crate::auth::Challenge::choose`] or [`crate::auth::DigestSession::on_challenge`].
    pub fn www_authenticate(&self) -> Result<Vec<AuthValue>, MsrpError> {
        self.auth_values(WWW_AUTHENTICATE)
    }

    /// The credentials of every `Authorization` (RFC 4976, in AUTH), for a relay to
    /// check.
    pub fn authorization(&self) -> Result<Vec<AuthValue>, MsrpError> {
        self.auth_values(AUTHORIZATION)
    }

    /// `Authentication-Info` (RFC 4976), as written (`nextnonce`, `rspauth`, ...).
    pub fn authentication_info(&self) -> Option<&str> {
        self.header(AUTHENTICATION_INFO)
    }

    /// The header section as written by [`Frame::encode`]: start line, `To-Path`,
    /// `From-Path`, the other headers in order, `Content-Type` last (RFC 4975 §7.1).
    pub(crate) fn encode_head(&self) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("MSRP ");
        out.push_str(self.tid.as_str());
        out.push(' ');
        match &self.start {
            StartLine::Request(m) => out.push_str(m.as_str()),
            StartLine::Response { code, comment } => {
                out.push_str(&format!("{code:03}"));
                if let Some(c) = comment {
                    out.push(' ');
                    out.push_str(c);
                }
            }
        }
        out.push_str("\r\n");
        out.push_str(TO_PATH);
        out.push_str(": ");
        write_path(&mut out, &self.to_path);
        out.push_str("\r\n");
        out.push_str(FROM_PATH);
        out.push_str(": ");
        write_path(&mut out, &self.from_path);
        out.push_str("\r\n");
        for h in &self.headers {
            out.push_str(&h.name);
            out.push_str(": ");
            out.push_str(&h.value);
            out.push_str("\r\n");
        }
        if let Some(ct) = &self.content_type {
            out.push_str(CONTENT_TYPE);
            out.push_str(": ");
            out.push_str(ct);
            out.push_str("\r\n");
        }
        out
    }

    /// Writes the frame (RFC 4975 §9): the header section, then, with a body, a blank
    /// line, the body and CRLF, then the end-line `-------<tid><flag>` CRLF.
    ///
    /// Fails only with [`MsrpError::BodyContainsEndLine`]: the body holds the end-line
    /// of this frame's transaction id, which would cut the frame short.
    pub fn encode(&self) -> Result<Vec<u8>, MsrpError> {
        let head = self.encode_head();
        let body_len = self.body.as_ref().map_or(0, |b| b.len() + 4);
        let mut out = Vec::with_capacity(head.len() + body_len + self.tid.as_str().len() + 10);
        out.extend_from_slice(head.as_bytes());
        if let Some(body) = &self.body {
            if self.tid.collides_with(body) {
                return Err(MsrpError::BodyContainsEndLine);
            }
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(END_PREFIX);
        out.extend_from_slice(self.tid.as_str().as_bytes());
        out.push(self.flag.as_byte());
        out.extend_from_slice(b"\r\n");
        Ok(out)
    }
}
