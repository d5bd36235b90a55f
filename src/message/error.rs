//! Typed parse errors: small enums with a `Display`, never strings.

use core::fmt;

/// Why a frame could not be read as a SIP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The frame cannot be split into start line, headers and body.
    Framing(FramingError),
    /// The request or status line is malformed.
    StartLine(&'static str),
    /// The SIP version is not `SIP/2.0`: a UA answers 505 (RFC 3261 §8.2.2, §21.5.6).
    UnsupportedVersion(String),
    /// A header field is malformed.
    Header(HeaderError),
    /// The message is well formed but breaks a rule of RFC 3261 (missing or duplicated
    /// required header, CSeq method that differs from the request line, ...).
    Validation(ValidationError),
}

/// Framing problems: how the frame is cut into parts (RFC 3261 §7.5, §18.3; RFC 7118 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramingError {
    /// Nothing but whitespace in the frame.
    Empty,
    /// The header section has no terminating empty line: the message is incomplete.
    Incomplete,
    /// The start line and header section are not valid UTF-8.
    NotUtf8,
    /// A line of the header section is not `name: value` (or a continuation line).
    BadHeaderLine,
    /// Content-Length is not a non-negative decimal number.
    BadContentLength,
    /// Content-Length announces more bytes than the frame holds.
    ContentLengthTooLarge {
        /// What Content-Length said.
        declared: usize,
        /// What the frame holds after the header section.
        available: usize,
    },
    /// Several Content-Length headers with different values.
    ConflictingContentLength,
    /// The frame is larger than the configured limit.
    TooLarge {
        /// Frame size in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
}

/// A malformed header field: which header, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderError {
    /// Canonical name of the header field (e.g. `Via`).
    pub name: &'static str,
    /// What is wrong, in a few words.
    pub what: &'static str,
}

/// A rule of RFC 3261 broken by an otherwise well-formed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationError {
    /// A required header field is absent (RFC 3261 §8.1.1): a UA answers 400.
    Missing(&'static str),
    /// A single-valued header field appears more than once (RFC 3261 §7.3): 400.
    Duplicated(&'static str),
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5): 400.
    CSeqMethodMismatch,
}

impl HeaderError {
    pub(crate) fn new(name: &'static str, what: &'static str) -> Self {
        HeaderError { name, what }
    }
}

impl From<HeaderError> for ParseError {
    fn from(e: HeaderError) -> Self {
        ParseError::Header(e)
    }
}

impl From<FramingError> for ParseError {
    fn from(e: FramingError) -> Self {
        ParseError::Framing(e)
    }
}

impl From<ValidationError> for ParseError {
    fn from(e: ValidationError) -> Self {
        ParseError::Validation(e)
    }
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FramingError::Empty => f.write_str("empty frame"),
            FramingError::Incomplete => {
                f.write_str("header section not terminated by an empty line")
            }
            FramingError::NotUtf8 => f.write_str("start line or headers are not valid UTF-8"),
            FramingError::BadHeaderLine => f.write_str("a header line is not `name: value`"),
            FramingError::BadContentLength => {
                f.write_str("Content-Length is not a non-negative number")
            }
            FramingError::ContentLengthTooLarge {
                declared,
                available,
            } => write!(
                f,
                "Content-Length {declared} exceeds the {available} body bytes in the frame"
            ),
            FramingError::ConflictingContentLength => {
                f.write_str("conflicting Content-Length values")
            }
            FramingError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max}-byte limit")
            }
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed {} header: {}", self.name, self.what)
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::Missing(h) => write!(f, "missing required {h} header"),
            ValidationError::Duplicated(h) => write!(f, "{h} header appears more than once"),
            ValidationError::CSeqMethodMismatch => {
                f.write_str("CSeq method differs from the request method")
            }
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Framing(e) => write!(f, "framing error: {e}"),
            ParseError::StartLine(what) => write!(f, "malformed start line: {what}"),
            ParseError::UnsupportedVersion(v) => write!(f, "unsupported SIP version \"{v}\""),
            ParseError::Header(e) => e.fmt(f),
            ParseError::Validation(e) => write!(f, "invalid message: {e}"),
        }
    }
}

impl std::error::Error for ParseError {}
impl std::error::Error for HeaderError {}
