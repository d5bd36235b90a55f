//! What goes in and out of an [`MsrpSession`](super::MsrpSession): its configuration,
//! inputs, outputs, events, and the typed reasons things fail.

use crate::auth::{AuthError, Credentials};
use crate::msrp::{FailureReport, MsrpError, MsrpUri, SuccessReport};
use core::fmt;

pub use crate::ua::Millis;

/// The default chunk size: 2048 bytes of body per `SEND` (RFC 4975 §7.1.1 has large
/// messages sent in chunks; small chunks let a relay forward without buffering).
pub const DEFAULT_CHUNK_SIZE: usize = 2048;
/// The default number of chunks awaiting their transaction response at once.
pub const DEFAULT_WINDOW: usize = 4;
/// The default largest message accepted: 1 MiB (the SDP `a=max-size` to announce).
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 1024 * 1024;
/// The default number of incoming messages reassembled at once.
pub const DEFAULT_MAX_PARTIAL_MESSAGES: usize = 16;
/// The default bound on the bytes held by incoming messages not yet complete.
pub const DEFAULT_MAX_BUFFERED_BYTES: usize = 4 * 1024 * 1024;
/// The default transaction timeout: 30 s (RFC 4975 §7.1.1: a SEND with no response
/// within 30 seconds has failed).
pub const DEFAULT_TRANSACTION_TIMEOUT: Millis = 30_000;
/// The default wait for a success REPORT (and for a failure REPORT a relay may send
/// after its 200) once every chunk was acknowledged.
pub const DEFAULT_REPORT_TIMEOUT: Millis = 30_000;

/// How to run one MSRP session. [`Config::new`] fills in the defaults.
#[derive(Debug)]
pub struct Config {
    /// Our session URI: the last URI of our SDP `a=path` and the `From-Path` of all
    /// we send. A WebSocket client has no address of its own: a random `.invalid`
    /// host, a random session-id and the `ws` transport (RFC 7977 §5),
    /// `msrps://x8f2k.invalid:2855/s3k9d0aq;ws`.
    pub local: MsrpUri,
    /// The relay to authenticate to (RFC 4976 §5): the `To-Path` of `AUTH` and the
    /// digest `uri`. Its `Use-Path` answer routes everything else.
    pub relay: MsrpUri,
    /// The digest credentials the relay checks (password or HA1).
    pub credentials: Credentials,
    /// Body bytes per chunk; clamped to `1..=`[`crate::msrp::MAX_BODY_BYTES`].
    pub chunk_size: usize,
    /// Chunks awaiting a transaction response at once (at least 1): a 1 MiB message
    /// does not queue 512 frames on the socket at once.
    pub window: usize,
    /// The largest incoming message; a larger one is answered 413 (RFC 4975 §10).
    pub max_message_bytes: u64,
    /// Incoming messages reassembled at once; a chunk of one more is answered 413.
    pub max_partial_messages: usize,
    /// Bytes held by incoming messages not complete yet, all together; a chunk that
    /// would hold more is answered 413 and its message dropped.
    pub max_buffered_bytes: usize,
    /// How long a `SEND` or `AUTH` waits for its response (RFC 4975 §7.1.1).
    pub transaction_timeout: Millis,
    /// How long a sent message waits for its success REPORT, or may still get a
    /// failure REPORT (RFC 4975 §7.1.2).
    pub report_timeout: Millis,
    /// The `Expires` asked for in `AUTH` (RFC 4976 §5.1), `None` to let the relay
    /// choose.
    pub auth_expires: Option<u32>,
}

impl Config {
    /// A configuration with the defaults: 2048-byte chunks, a window of 4, incoming
    /// messages up to 1 MiB (16 at once, 4 MiB held in all), 30 s timeouts.
    pub fn new(local: MsrpUri, relay: MsrpUri, credentials: Credentials) -> Config {
        Config {
            local,
            relay,
            credentials,
            chunk_size: DEFAULT_CHUNK_SIZE,
            window: DEFAULT_WINDOW,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_partial_messages: DEFAULT_MAX_PARTIAL_MESSAGES,
            max_buffered_bytes: DEFAULT_MAX_BUFFERED_BYTES,
            transaction_timeout: DEFAULT_TRANSACTION_TIMEOUT,
            report_timeout: DEFAULT_REPORT_TIMEOUT,
            auth_expires: None,
        }
    }
}

/// Which reports a message asks for (RFC 4975 §7.1.1): `Success-Report` and
/// `Failure-Report` on each of its chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reports {
    /// `Success-Report`: `yes` makes the receiver send a REPORT once the whole
    /// message arrived ([`Event::Delivered`]).
    pub success: SuccessReport,
    /// `Failure-Report`: `yes` (transaction responses and failure REPORTs),
    /// `partial` (failures only: no 200s, chunks count as sent once written) or `no`
    /// (nothing comes back).
    pub failure: FailureReport,
}

impl Default for Reports {
    /// The RFC 4975 defaults: `Success-Report: no`, `Failure-Report: yes`.
    fn default() -> Reports {
        Reports {
            success: SuccessReport::No,
            failure: FailureReport::Yes,
        }
    }
}

impl Reports {
    /// OMA IM large-message mode: the sender learns of delivery, so
    /// `Success-Report: yes` and `Failure-Report: yes`.
    pub fn large_message() -> Reports {
        Reports {
            success: SuccessReport::Yes,
            failure: FailureReport::Yes,
        }
    }
}

/// Names a message given to [`MsrpSession::send`](super::MsrpSession::send); its
/// events carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageHandle(pub u64);

/// What the caller feeds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The WebSocket (subprotocol `msrp`) opened.
    Connected,
    /// A WebSocket message arrived. It normally holds one frame (RFC 7977 §4.2), but
    /// bytes are decoded as a stream: part of a frame, or several, are fine.
    Frame(&'a [u8]),
    /// The WebSocket closed or failed.
    Disconnected,
    /// The timer armed by [`Output::Timeout`] fired (early or late is fine).
    Timeout,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send these bytes as one WebSocket message (binary: bodies are bytes).
    Transmit(Vec<u8>),
    /// Open the WebSocket to the relay, subprotocol `msrp` (RFC 7977 §4.1).
    Connect,
    /// Close the WebSocket.
    Close,
    /// Call `handle_input(now, Input::Timeout)` at this time (replaces any earlier
    /// request).
    Timeout(Millis),
    /// Tell the app.
    Event(Event),
}

/// What happened, for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The relay accepted our `AUTH` (RFC 4976 §5): put `use_path`, then our own
    /// URI, in the SDP `a=path`. Comes again after each refresh.
    Authenticated {
        /// The relay's `Use-Path`.
        use_path: Vec<MsrpUri>,
        /// How long the relay keeps the path, in seconds (refreshed before it ends).
        expires: Option<u32>,
    },
    /// More of a message was acknowledged (written, under `Failure-Report` `no` or
    /// `partial`).
    Progress {
        /// The message.
        message: MessageHandle,
        /// Body bytes acknowledged so far.
        bytes_sent: u64,
        /// The body's size.
        total: u64,
    },
    /// Every chunk of the message was accepted by the next hop (or written, without
    /// responses). A failure REPORT may still follow from further along the path.
    Sent {
        /// The message.
        message: MessageHandle,
    },
    /// The receiver's success REPORT covers the whole message (only with
    /// `Success-Report: yes`).
    Delivered {
        /// The message.
        message: MessageHandle,
    },
    /// The message failed; nothing more of it is sent and nothing more is said of
    /// it.
    SendFailed {
        /// The message.
        message: MessageHandle,
        /// Why.
        status: SendFailure,
        /// The response comment, the REPORT's status comment, or a few words.
        reason: String,
    },
    /// A whole message arrived.
    Message {
        /// Its `Message-ID`.
        message_id: String,
        /// Its `Content-Type`.
        content_type: String,
        /// The body, byte-exact.
        body: Vec<u8>,
    },
    /// An incoming message will not complete; what had arrived of it is freed.
    MessageAborted {
        /// Its `Message-ID`.
        message_id: String,
        /// Why.
        reason: AbortReason,
    },
    /// The session is over: nothing more comes out but what is already queued.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// Why a message we sent failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// A chunk got a non-2xx transaction response (RFC 4975 §7.1.1, §10); 413 means
    /// the receiver wants no more of it (RFC 4975 §10).
    Response {
        /// The status code.
        code: u16,
    },
    /// A REPORT with a failure `Status` arrived (RFC 4975 §7.1.2).
    Report {
        /// The status code (namespace `000`).
        code: u16,
    },
    /// A chunk had no response within the transaction timeout (RFC 4975 §7.1.1
    /// counts it as a 408).
    Timeout,
    /// Every chunk was accepted but the success REPORT asked for did not come in
    /// time.
    ReportTimeout,
    /// The connection was lost, or the session failed, before the message was done.
    Transport,
    /// [`MsrpSession::cancel`](super::MsrpSession::cancel).
    Cancelled,
    /// [`MsrpSession::close`](super::MsrpSession::close).
    Closed,
    /// A chunk could not be written (a path too long for the header limits, say).
    Local(MsrpError),
}

impl SendFailure {
    /// The MSRP status code, where there is one: the response's or report's, 408 for
    /// a transaction timeout or a success report that never came (RFC 4975 §10: the
    /// transaction did not complete in the allotted time).
    pub fn code(&self) -> Option<u16> {
        match self {
            SendFailure::Response { code } | SendFailure::Report { code } => Some(*code),
            SendFailure::Timeout | SendFailure::ReportTimeout => Some(408),
            _ => None,
        }
    }
}

/// Why an incoming message was given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortReason {
    /// The sender aborted it: a chunk ended with `#` (RFC 4975 §7.1.1).
    Sender,
    /// It is larger than [`Config::max_message_bytes`], or would hold more than the
    /// limits on partial messages: answered 413 (RFC 4975 §10).
    TooLarge,
    /// The session ended before it completed.
    SessionEnded,
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// [`MsrpSession::close`](super::MsrpSession::close).
    Closed,
    /// The WebSocket closed or failed.
    Disconnected,
    /// The relay refused us, or the stream broke.
    Failed(SessionError),
}

/// Why a session failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    /// The digest exchange failed: a second 401 after our answer (wrong
    /// credentials), or no challenge we can answer (RFC 4976 §5.1).
    AuthRejected(AuthError),
    /// The relay answered `AUTH` with another failure (403, or a 423 we could not
    /// satisfy).
    AuthRefused {
        /// The status code.
        code: u16,
        /// The response comment.
        reason: String,
    },
    /// No response to `AUTH` within the transaction timeout.
    AuthTimeout,
    /// The relay's 200 to `AUTH` has no readable `Use-Path` (RFC 4976 §5.1 requires
    /// one).
    NoUsePath,
    /// Our `AUTH` could not be written (URIs too long for the header limits).
    Unwritable(MsrpError),
    /// Bytes that are not MSRP arrived: MSRP cannot find the next frame after a
    /// malformed one (RFC 4975 §9), so the connection is closed.
    Malformed(MsrpError),
    /// A request of ours was answered 481: the other end has no such session any
    /// more (RFC 4975 §10: the sender should terminate it).
    NoSuchSession,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::AuthRejected(e) => write!(f, "MSRP relay authentication failed: {e}"),
            SessionError::AuthRefused { code, reason } => {
                write!(f, "MSRP relay refused AUTH: {code} {reason}")
            }
            SessionError::AuthTimeout => f.write_str("MSRP relay did not answer AUTH"),
            SessionError::NoUsePath => f.write_str("MSRP relay granted no readable Use-Path"),
            SessionError::Unwritable(e) => write!(f, "cannot write MSRP AUTH: {e}"),
            SessionError::Malformed(e) => write!(f, "malformed MSRP from the relay: {e}"),
            SessionError::NoSuchSession => {
                f.write_str("the other end has no such MSRP session (481)")
            }
        }
    }
}

impl std::error::Error for SessionError {}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    /// The session has ended.
    Ended,
    /// [`MsrpSession::set_peer`](super::MsrpSession::set_peer) with no URI.
    EmptyPath,
    /// The content type is not a `type/subtype` on one line (RFC 4975 §7.1.1).
    BadContentType,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommandError::Ended => "the MSRP session has ended",
            CommandError::EmptyPath => "the peer's MSRP path has no URI",
            CommandError::BadContentType => "the content type is not type/subtype on one line",
        })
    }
}

impl std::error::Error for CommandError {}
