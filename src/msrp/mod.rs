//! The MSRP codec: frames of the Message Session Relay Protocol (RFC 4975), its relay
//! extensions (RFC 4976: `AUTH`, `Use-Path`, `Expires`, digest headers) and its
//! WebSocket transport (RFC 7977: the `ws` URI transport). The codec knows no
//! session: [`session`] is the sans-IO engine on top of it (relay AUTH, chunking,
//! reassembly, reports and timeouts over one WebSocket).
//!
//! ```text
//! MSRP a786hjs2 SEND                                         start line
//! To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp     ┐
//! From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp │ headers: the paths first,
//! Message-ID: 87652491                                       │ Content-Type last
//! Byte-Range: 1-25/25                                        │
//! Content-Type: text/plain                                   ┘
//!                                                            blank line (only with a body)
//! Hey Bob, are you there?                                    body: bytes, then CRLF
//! -------a786hjs2$                                           end-line: $ last chunk,
//!                                                            + more follow, # aborted
//! ```
//!
//! ```
//! use imsip::msrp::{Decoder, ResponseBuilder};
//! let wire = b"MSRP a786hjs2 SEND\r\n\
//!     To-Path: msrp://bob.example.com:8888/9di4eae923wzd;tcp\r\n\
//!     From-Path: msrp://alice.example.com:7777/iau39soe2843z;tcp\r\n\
//!     Message-ID: 87652491\r\n\
//!     Byte-Range: 1-25/25\r\n\
//!     Content-Type: text/plain\r\n\
//!     \r\n\
//!     Hey Bob, are you there?\r\n\
//!     -------a786hjs2$\r\n";
//! // Bytes arrive in any pieces: a WebSocket message usually holds one whole frame,
//! // but nothing relies on it.
//! let mut decoder = Decoder::new();
//! decoder.push(&wire[..50]);
//! assert_eq!(decoder.next_frame().unwrap(), None);
//! decoder.push(&wire[50..]);
//! let send = decoder.next_frame().unwrap().unwrap();
//! assert_eq!(send.message_id().unwrap(), Some("87652491"));
//! assert_eq!(send.byte_range().unwrap().unwrap().total, Some(25));
//! assert_eq!(send.body(), Some(&b"Hey Bob, are you there?"[..]));
//!
//! let ok = ResponseBuilder::for_request(&send, 200).unwrap().encode().unwrap();
//! assert!(ok.starts_with(b"MSRP a786hjs2 200 OK\r\nTo-Path: msrp://alice.example.com"));
//! ```
//!
//! Reading follows the rest of the crate: one pass over the header section, typed
//! errors ([`MsrpError`]) for what makes the frame unreadable — the start line, the
//! transaction id, the end-line, a missing or malformed `To-Path`/`From-Path`, the
//! limits — and typed reads for every other header, which fail alone, naming the
//! header. Choices where RFC 4975 leaves room or senders stray from it:
//! - Lines end with CRLF (a bare LF is an error: the body is found by its CRLF
//!   end-line, so line ends are not rewritten anywhere). Header names are matched
//!   case-insensitively; the headers may come in any order (RFC 4975 §9 puts the
//!   paths first, and the builders always do).
//! - The body ends at the first `CRLF -------<tid><flag> CRLF`. A line like it for
//!   another transaction id is body. A blank line followed at once by the end-line
//!   (no data, no CRLF) reads as an empty body.
//! - Responses are read with a body if they have one (RFC 4975 gives them none).
//! - Frames are owned (`String`s and a `Vec<u8>` body): they outlive the buffer.

mod build;
mod error;
mod frame;
mod headers;
mod ident;
mod parse;
pub mod session;
mod uri;

pub use build::{RequestBuilder, ResponseBuilder};
pub use error::MsrpError;
pub use frame::{default_comment, ContinuationFlag, Frame, Method, StartLine};
pub use headers::{
    ByteRange, FailureReport, Header, Status, SuccessReport, AUTHENTICATION_INFO, AUTHORIZATION,
    BYTE_RANGE, CONTENT_DESCRIPTION, CONTENT_DISPOSITION, CONTENT_ID, CONTENT_TYPE, EXPIRES,
    FAILURE_REPORT, FROM_PATH, MAX_EXPIRES, MESSAGE_ID, MIN_EXPIRES, STATUS, SUCCESS_REPORT,
    TO_PATH, USE_PATH, WWW_AUTHENTICATE,
};
pub use ident::{is_ident, TransactionId};
pub use parse::{parse_frame, Decoder, Parsed};
pub use uri::{MsrpUri, Transport};

/// The most bytes the start line and headers of one frame may take, the CRLF of the
/// blank line (or the end-line, when there is no body) included: 16 KiB. Paths through
/// two relays and a digest `Authorization` take well under 1 KiB.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The most header fields one frame may have (`To-Path` and `From-Path` included).
pub const MAX_HEADERS: usize = 64;

/// The most body bytes one frame (one chunk) may carry: 1 MiB. A larger message is
/// sent in chunks (RFC 4975 §5.1); a receiver answers a larger chunk with 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
