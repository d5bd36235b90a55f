//! Typed MSRP header values: `Byte-Range`, `Status`, `Success-Report`,
//! `Failure-Report` (RFC 4975 §7.1, §9), and the header line as kept in a frame.

use super::ident::trim_wsp;
use super::MsrpError;
use core::fmt;

/// `To-Path` (RFC 4975 §7.1): the URIs the frame still has to visit, the next hop
/// first.
pub const TO_PATH: &str = "To-Path";
/// `From-Path` (RFC 4975 §7.1): the URIs the frame came through, the previous hop
/// first.
pub const FROM_PATH: &str = "From-Path";
/// `Message-ID` (RFC 4975 §7.1.1): names the message all chunks belong to.
pub const MESSAGE_ID: &str = "Message-ID";
/// `Byte-Range` (RFC 4975 §7.1.1).
pub const BYTE_RANGE: &str = "Byte-Range";
/// `Success-Report` (RFC 4975 §7.1.1).
pub const SUCCESS_REPORT: &str = "Success-Report";
/// `Failure-Report` (RFC 4975 §7.1.1).
pub const FAILURE_REPORT: &str = "Failure-Report";
/// `Status` (RFC 4975 §7.1.2), in REPORT requests.
pub const STATUS: &str = "Status";
/// `Content-Type` (RFC 4975 §7.1.1): present exactly when there is a body.
pub const CONTENT_TYPE: &str = "Content-Type";
/// `Use-Path` (RFC 4976 §5): in a relay's 200 to AUTH, the path to put in SDP.
pub const USE_PATH: &str = "Use-Path";
/// `Expires` (RFC 4976): how long the relay keeps the path granted by AUTH.
pub const EXPIRES: &str = "Expires";
/// `Min-Expires` (RFC 4976): the shortest `Expires` a relay accepts (423).
pub const MIN_EXPIRES: &str = "Min-Expires";
/// `Max-Expires` (RFC 4976): the longest `Expires` a relay accepts (423).
pub const MAX_EXPIRES: &str = "Max-Expires";
/// `WWW-Authenticate` (RFC 4976): the relay's digest challenge in a 401 to AUTH.
pub const WWW_AUTHENTICATE: &str = "WWW-Authenticate";
/// `Authorization` (RFC 4976): the client's digest credentials in AUTH.
pub const AUTHORIZATION: &str = "Authorization";
/// `Authentication-Info` (RFC 4976): the relay's digest `rspauth`/`nextnonce`.
pub const AUTHENTICATION_INFO: &str = "Authentication-Info";
/// `Content-ID` (RFC 2045), a MIME header of the body.
pub const CONTENT_ID: &str = "Content-ID";
/// `Content-Description` (RFC 2045), a MIME header of the body.
pub const CONTENT_DESCRIPTION: &str = "Content-Description";
/// `Content-Disposition` (RFC 2183), a MIME header of the body.
pub const CONTENT_DISPOSITION: &str = "Content-Disposition";

/// One header line as read (name as written, value trimmed of SP/HTAB), or as a
/// builder wrote it. `To-Path`, `From-Path` and `Content-Type` are kept apart by the
/// frame and never appear among its [`Header`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) name: String,
    pub(crate) value: String,
}

impl Header {
    /// The name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value without the white space around it.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Whether the header is `name` (case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// Digits (at most 19, so that the number fits a `u64`).
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A `Byte-Range` (RFC 4975 §7.1.1): which bytes of the whole message this chunk
/// carries, counted from 1, `end` inclusive. `end` is `None` (`*`) when the sender
/// does not know where the chunk ends (it may be interrupted), `total` is `None`
/// (`*`) when it does not know the message's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// The first byte, from 1.
    pub start: u64,
    /// The last byte (inclusive), or `None` for `*`.
    pub end: Option<u64>,
    /// The size of the whole message, or `None` for `*`.
    pub total: Option<u64>,
}

impl ByteRange {
    /// A range `start-end/total`; checked as [`ByteRange::parse`] checks it.
    pub fn new(start: u64, end: Option<u64>, total: Option<u64>) -> Result<ByteRange, MsrpError> {
        let r = ByteRange { start, end, total };
        r.check()?;
        Ok(r)
    }

    /// The range of a message sent whole in one chunk: `1-len/len` (`1-0/0` when
    /// empty).
    pub fn whole(len: u64) -> ByteRange {
        ByteRange {
            start: 1,
            end: Some(len),
            total: Some(len),
        }
    }

    /// Reads `start-end/total` (RFC 4975 §9 `Byte-Range`), `end` and `total` numbers
    /// or `*`.
    pub fn parse(value: &str) -> Result<ByteRange, MsrpError> {
        let v = trim_wsp(value);
        let (range, total) = v
            .split_once('/')
            .ok_or(MsrpError::BadByteRange("no '/' before the total"))?;
        let (start, end) = range
            .split_once('-')
            .ok_or(MsrpError::BadByteRange("no '-' between start and end"))?;
        let star_or_number = |s: &str, what| match s {
            "*" => Ok(None),
            _ => number(s).map(Some).ok_or(MsrpError::BadByteRange(what)),
        };
        let r = ByteRange {
            start: number(start).ok_or(MsrpError::BadByteRange("start is not a number"))?,
            end: star_or_number(end, "end is not a number or '*'")?,
            total: star_or_number(total, "total is not a number or '*'")?,
        };
        r.check()?;
        Ok(r)
    }

    fn check(&self) -> Result<(), MsrpError> {
        if self.start == 0 {
            return Err(MsrpError::BadByteRange("start is 0 (bytes count from 1)"));
        }
        if let Some(end) = self.end {
            // `end = start - 1` is an empty chunk (`1-0/0`, a message with no body).
            if end < self.start - 1 {
                return Err(MsrpError::BadByteRange("end before start"));
            }
            if self.total.is_some_and(|t| end > t) {
                return Err(MsrpError::BadByteRange("end beyond total"));
            }
        }
        if self.total.is_some_and(|t| self.start - 1 > t) {
            return Err(MsrpError::BadByteRange("start beyond total"));
        }
        Ok(())
    }

    /// How many bytes the range covers, when `end` is known.
    pub fn len(&self) -> Option<u64> {
        self.end.map(|e| e + 1 - self.start)
    }

    /// Whether the range is known to cover no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-", self.start)?;
        match self.end {
            Some(e) => write!(f, "{e}")?,
            None => f.write_str("*")?,
        }
        match self.total {
            Some(t) => write!(f, "/{t}"),
            None => f.write_str("/*"),
        }
    }
}

/// A `Status` (RFC 4975 §7.1.2): `namespace code[ comment]`, in a REPORT. Namespace
/// `000` holds the codes RFC 4975 defines, which are the transaction response codes
/// (200, 400, 403, 408, 413, 415, 423, 481, 501, 506).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The namespace, 0–999 (`000` for RFC 4975's codes).
    pub namespace: u16,
    /// The status code, 0–999.
    pub code: u16,
    /// The comment after the code, when present and not empty.
    pub comment: Option<String>,
}

impl Status {
    /// A status in namespace `000`, with no comment.
    pub fn new(code: u16) -> Status {
        Status {
            namespace: 0,
            code,
            comment: None,
        }
    }

    /// Reads `namespace SP code [SP comment]`, both numbers of exactly three digits.
    pub fn parse(value: &str) -> Result<Status, MsrpError> {
        let v = trim_wsp(value);
        let three = |s: &str, what| {
            if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse::<u16>().map_err(|_| MsrpError::BadStatus(what))
            } else {
                Err(MsrpError::BadStatus(what))
            }
        };
        let (ns, rest) = v
            .split_once(' ')
            .ok_or(MsrpError::BadStatus("no status code after the namespace"))?;
        let namespace = three(ns, "namespace is not three digits")?;
        let (code, comment) = match rest.split_once(' ') {
            Some((c, text)) => (c, trim_wsp(text)),
            None => (rest, ""),
        };
        let code = three(code, "status code is not three digits")?;
        Ok(Status {
            namespace,
            code,
            comment: (!comment.is_empty()).then(|| comment.to_owned()),
        })
    }

    /// The same status with a comment.
    pub fn with_comment(mut self, comment: impl Into<String>) -> Status {
        self.comment = Some(comment.into());
        self
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {:03}", self.namespace, self.code)?;
        match &self.comment {
            Some(c) => write!(f, " {c}"),
            None => Ok(()),
        }
    }
}

/// `Success-Report` (RFC 4975 §7.1.1): whether the sender wants a REPORT once the
/// whole message has arrived. Absent means `no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SuccessReport {
    /// `yes`.
    Yes,
    /// `no` (the default).
    #[default]
    No,
}

impl SuccessReport {
    /// `yes` or `no`, case-insensitively.
    pub fn parse(value: &str) -> Result<SuccessReport, MsrpError> {
        match trim_wsp(value) {
            v if v.eq_ignore_ascii_case("yes") => Ok(SuccessReport::Yes),
            v if v.eq_ignore_ascii_case("no") => Ok(SuccessReport::No),
            _ => Err(MsrpError::BadHeader {
                name: SUCCESS_REPORT,
                what: "not yes or no",
            }),
        }
    }

    /// `"yes"` or `"no"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SuccessReport::Yes => "yes",
            SuccessReport::No => "no",
        }
    }
}

/// `Failure-Report` (RFC 4975 §7.1.1): which failures the sender wants to hear of.
/// Absent means `yes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureReport {
    /// `yes` (the default): transaction responses, and failure REPORTs.
    #[default]
    Yes,
    /// `no`: no transaction responses and no failure REPORTs.
    No,
    /// `partial`: failures only, no 200 transaction responses.
    Partial,
}

impl FailureReport {
    /// `yes`, `no` or `partial`, case-insensitively.
    pub fn parse(value: &str) -> Result<FailureReport, MsrpError> {
        match trim_wsp(value) {
            v if v.eq_ignore_ascii_case("yes") => Ok(FailureReport::Yes),
            v if v.eq_ignore_ascii_case("no") => Ok(FailureReport::No),
            v if v.eq_ignore_ascii_case("partial") => Ok(FailureReport::Partial),
            _ => Err(MsrpError::BadHeader {
                name: FAILURE_REPORT,
                what: "not yes, no or partial",
            }),
        }
    }

    /// `"yes"`, `"no"` or `"partial"`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReport::Yes => "yes",
            FailureReport::No => "no",
            FailureReport::Partial => "partial",
        }
    }
}
