//! The one error type of the MSRP codec: a variant per cause, each with a `Display`
//! that names what was wrong.

use core::fmt;

/// Why bytes could not be read as an MSRP frame, why a typed read of a header failed,
/// or why a builder or the encoder refused a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MsrpError {
    /// The start line is not `MSRP <tid> <METHOD>` or `MSRP <tid> <code>[ <comment>]`
    /// (RFC 4975 §9 `req-start`, `resp-start`); says what is wrong.
    BadStartLine(&'static str),
    /// The transaction id is not an RFC 4975 §9 `ident`: 4 to 32 characters of letters,
    /// digits and `.-+%=`, the first a letter or a digit.
    BadTransactionId,
    /// A complete frame was expected ([`crate::msrp::Frame::parse`]) but the bytes end
    /// before its end-line.
    MissingEndLine,
    /// An end-line closes the header section with another transaction id than the
    /// start line's (RFC 4975 §9 `end-line = "-------" transact-id continuation-flag`).
    EndLineMismatch,
    /// A line of the header section starts with `-------` but is not an end-line: no
    /// continuation flag (`$`, `+`, `#`) after the transaction id, or more after it.
    BadEndLine,
    /// The start line and headers exceed [`crate::msrp::MAX_HEADER_BYTES`].
    HeadersTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// The frame has more header fields than [`crate::msrp::MAX_HEADERS`].
    TooManyHeaders {
        /// The limit.
        max: usize,
    },
    /// The body of one frame (one chunk) exceeds [`crate::msrp::MAX_BODY_BYTES`].
    BodyTooLarge {
        /// The limit in bytes.
        max: usize,
    },
    /// A line of the start line or header section is not UTF-8 (RFC 4975 §9
    /// `utf8text`).
    NotUtf8 {
        /// The line, counted from 1 at the start line.
        line: usize,
    },
    /// A header line is not `name: value` with a token name and a value free of control
    /// characters.
    BadHeaderLine {
        /// The line, counted from 1 at the start line.
        line: usize,
    },
    /// A required header is absent: `To-Path` or `From-Path` (RFC 4975 §7.1).
    MissingHeader(&'static str),
    /// A header that appears once appears twice (`To-Path`, `From-Path`,
    /// `Content-Type`).
    DuplicateHeader(&'static str),
    /// A `To-Path` or `From-Path` holds something that is not a list of MSRP URIs.
    BadPath {
        /// `To-Path` or `From-Path`.
        header: &'static str,
        /// What is wrong with the URI.
        what: &'static str,
    },
    /// Text is not an MSRP URI (RFC 4975 §6, RFC 7977); says what is wrong.
    BadUri(&'static str),
    /// A `Byte-Range` is not `start-end/total` with `start >= 1`, `end` and `total`
    /// numbers or `*`, `end >= start - 1` and `end <= total` (RFC 4975 §7.1.1, §9).
    BadByteRange(&'static str),
    /// A `Status` is not `namespace code[ comment]` with three-digit numbers
    /// (RFC 4975 §7.1.2, §9).
    BadStatus(&'static str),
    /// Another header's typed read failed: `Message-ID`, `Success-Report`,
    /// `Failure-Report`, `Expires`, `Use-Path`, an auth header, `Content-Type`...
    BadHeader {
        /// The header.
        name: &'static str,
        /// What is wrong, in a few words.
        what: &'static str,
    },
    /// The body holds `CRLF -------<tid>`, which would end the frame early: RFC 4975
    /// §7.1 has the sender choose another transaction id
    /// ([`crate::msrp::TransactionId::for_body`] picks one that does not collide).
    BodyContainsEndLine,
    /// A builder was given a value it cannot write.
    BadValue {
        /// The header (or part of the frame) the value was meant for.
        header: &'static str,
        /// What is wrong, in a few words.
        what: &'static str,
    },
    /// [`crate::msrp::Frame::parse`] was given a complete frame followed by more bytes.
    TrailingData {
        /// How many bytes follow the frame.
        extra: usize,
    },
    /// A response was asked for a frame that takes none: a response, or a `REPORT`
    /// (RFC 4975 §7.1.2: REPORT requests are never answered).
    CannotRespond(&'static str),
}

impl fmt::Display for MsrpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MsrpError::BadStartLine(what) => write!(f, "bad MSRP start line: {what}"),
            MsrpError::BadTransactionId => f.write_str(
                "MSRP transaction id is not 4 to 32 letters, digits or .-+%= starting with a letter or digit",
            ),
            MsrpError::MissingEndLine => {
                f.write_str("MSRP frame ends before its end-line (-------<tid> and a flag)")
            }
            MsrpError::EndLineMismatch => {
                f.write_str("MSRP end-line names another transaction id than the start line")
            }
            MsrpError::BadEndLine => f.write_str(
                "malformed MSRP end-line: -------<tid> must be followed by $, + or # and CRLF",
            ),
            MsrpError::HeadersTooLarge { max } => {
                write!(f, "MSRP start line and headers exceed {max} bytes")
            }
            MsrpError::TooManyHeaders { max } => {
                write!(f, "MSRP frame has more than {max} header fields")
            }
            MsrpError::BodyTooLarge { max } => {
                write!(f, "MSRP frame body (one chunk) exceeds {max} bytes")
            }
            MsrpError::NotUtf8 { line } => write!(f, "line {line} of the MSRP frame is not UTF-8"),
            MsrpError::BadHeaderLine { line } => write!(
                f,
                "line {line} of the MSRP frame is not a header (`name: value` without control characters)"
            ),
            MsrpError::MissingHeader(name) => write!(f, "MSRP frame has no {name} header"),
            MsrpError::DuplicateHeader(name) => {
                write!(f, "MSRP frame has more than one {name} header")
            }
            MsrpError::BadPath { header, what } => {
                write!(f, "MSRP {header} is not a list of MSRP URIs: {what}")
            }
            MsrpError::BadUri(what) => write!(f, "invalid MSRP URI: {what}"),
            MsrpError::BadByteRange(what) => write!(f, "bad MSRP Byte-Range: {what}"),
            MsrpError::BadStatus(what) => write!(f, "bad MSRP Status: {what}"),
            MsrpError::BadHeader { name, what } => write!(f, "bad MSRP {name} header: {what}"),
            MsrpError::BodyContainsEndLine => f.write_str(
                "MSRP body contains the end-line of its transaction id; choose another transaction id",
            ),
            MsrpError::BadValue { header, what } => {
                write!(f, "cannot write MSRP {header}: {what}")
            }
            MsrpError::TrailingData { extra } => {
                write!(f, "{extra} bytes follow the MSRP frame")
            }
            MsrpError::CannotRespond(what) => write!(f, "no MSRP response to {what}"),
        }
    }
}

impl std::error::Error for MsrpError {}
