//! What goes in and out of the user agent: inputs, outputs, events and outcomes.

use super::error::UaError;
use crate::im::imdn::{DispositionRequest, Kind, Status};
use crate::im::iscomposing::State as ComposingState;
use crate::message::text::is_token;
use crate::message::HeaderName;
use crate::settings::ServiceSettings;

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Identifies an operation started by a command; its outcome arrives once as
/// [`Event::Completed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

/// Identifies a SIP session (one INVITE dialog, RFC 3261 §12–§15), ours or the
/// peer's, for as long as the user agent keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

/// What the caller feeds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The WebSocket opened.
    Connected,
    /// A frame arrived (text).
    Frame(&'a str),
    /// A frame arrived as a binary WebSocket message (RFC 7118 §4.2: how a message
    /// whose body is not UTF-8 travels).
    BinaryFrame(&'a [u8]),
    /// The WebSocket closed or failed.
    Disconnected,
    /// The timer armed by [`Output::Timeout`] fired (early or late is fine).
    Timeout,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this frame on the WebSocket (a text message).
    Transmit(String),
    /// Send this frame on the WebSocket as a binary message: its body is not UTF-8
    /// (RFC 7118 §4.2), so it cannot go as text.
    TransmitBinary(Vec<u8>),
    /// Open the WebSocket (subprotocol `sip`).
    Connect,
    /// Close the WebSocket.
    Close,
    /// Call `handle_input(now, Input::Timeout)` at this time (replaces any earlier request).
    Timeout(Millis),
    /// Tell the app.
    Event(Event),
}

/// The state of the WebSocket flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the socket.
    Connecting,
    /// Open.
    Connected,
    /// Closed; `retry_in` ms until the next attempt when reconnecting.
    Disconnected {
        /// Delay before the next attempt, if one is scheduled.
        retry_in: Option<Millis>,
    },
}

/// The registration state (one per user agent). Transitions are checked by the
/// [`Registerer`](crate::ua) and drawn in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registered, and not trying to be.
    Unregistered,
    /// A REGISTER is in progress (first registration, or after `Failed`).
    Registering,
    /// Registered; refreshes happen in this state.
    Registered,
    /// A REGISTER failed in a way worth retrying (408, 480, 500, 503, 504, a
    /// Retry-After, no answer, the flow lost): the user agent tries again by
    /// itself after a backoff.
    Retrying,
    /// An unregister is in progress.
    Unregistering,
    /// Failed for good (credentials refused, 403, 404, another final refusal):
    /// nothing more happens until the app calls `register()` again.
    Failed,
}

impl RegistrationState {
    /// The JS name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationState::Unregistered => "unregistered",
            RegistrationState::Registering => "registering",
            RegistrationState::Registered => "registered",
            RegistrationState::Retrying => "retrying",
            RegistrationState::Unregistering => "unregistering",
            RegistrationState::Failed => "failed",
        }
    }
}

/// A registration change with what the registrar returned (RFC 3608, RFC 7315).
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The new state.
    pub state: RegistrationState,
    /// Granted expiry in seconds.
    pub expires: Option<u32>,
    /// All contacts bound to the AoR, as returned in the 200.
    pub contacts: Vec<String>,
    /// Service-Route URIs (used as Route of later requests).
    pub service_route: Vec<String>,
    /// P-Associated-URI values.
    pub associated_uris: Vec<String>,
    /// Our public GRUU, when the registrar assigned one (RFC 5627).
    pub pub_gruu: Option<String>,
    /// Why it failed, when `state` is `Failed` or `Retrying`.
    pub error: Option<UaError>,
    /// When `Retrying`: ms until the next attempt.
    pub retry_in: Option<Millis>,
}

/// The state of our service-settings publication (RFC 3903).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicationState {
    /// The server holds our document.
    Published,
    /// A refresh (or re-publication) failed; retrying before the entity expires.
    Retrying,
    /// The publication is gone: it expired while refreshes failed, or the server
    /// refused it for good. The app may publish again.
    Lost,
    /// Removed by the app.
    Removed,
}

/// A publication change.
#[derive(Debug, Clone, PartialEq)]
pub struct Publication {
    /// The new state.
    pub state: PublicationState,
    /// SIP-ETag, when published.
    pub etag: Option<String>,
    /// Granted expiry in seconds, when published.
    pub expires: Option<u32>,
    /// When `Retrying`: ms until the next attempt.
    pub retry_in: Option<Millis>,
    /// Why, when `Retrying` or `Lost`.
    pub error: Option<UaError>,
}

/// A pager-mode MESSAGE received (RFC 3428).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// Sender URI.
    pub from: String,
    /// Sender display name.
    pub display_name: Option<String>,
    /// To URI.
    pub to: String,
    /// Content-Type (default `text/plain`).
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Stored by the IM Server while we were offline and delivered now (the
    /// MESSAGE carries a `Date` header: imsip never sends one in a MESSAGE, and an
    /// IM Server delivering a deferred message puts the original time there).
    pub deferred: bool,
    /// When the message was sent, RFC 3339 UTC (`2026-11-29T23:05:00Z`): the CPIM
    /// `DateTime` of a `message/cpim` message, else the SIP `Date` header, when present.
    pub date_time: Option<String>,
    /// The CPIM `imdn.Message-ID` (RFC 5438), when the message carried one: the id
    /// its notifications name (see [`UserAgent::mark_displayed`](super::UserAgent::mark_displayed)).
    pub message_id: Option<String>,
    /// The notifications the sender asked for (`imdn.Disposition-Notification`).
    pub imdn: DispositionRequest,
    /// Every header field of the MESSAGE, `(name, value)` as received and in order
    /// (an app's own `X-` headers among them).
    pub headers: Vec<(String, String)>,
}

/// A disposition notification received (RFC 5438): what became of a message we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImdnReceived {
    /// The `imdn.Message-ID` of our message that it is about.
    pub message_id: String,
    /// Who sends it (the CPIM `From`, else the SIP `From`).
    pub from: String,
    /// Delivery, display or processing.
    pub kind: Kind,
    /// What happened.
    pub status: Status,
    /// When it happened, RFC 3339 UTC: the notification's CPIM `DateTime`, else
    /// the time it arrived.
    pub at: String,
}

/// A composition indication received (RFC 3994), or the peer's indication lapsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposingReceived {
    /// The peer (the SIP `From` URI).
    pub from: String,
    /// Active or idle. Idle also when the peer's refresh lapsed or its message arrived
    /// (RFC 3994 §3.3).
    pub state: ComposingState,
    /// `<lastactive>` as RFC 3339 UTC, when given.
    pub last_active: Option<String>,
    /// `<contenttype>`, when given.
    pub content_type: Option<String>,
}

/// Where a settings event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsSource {
    /// A NOTIFY of a watch subscription.
    Notify,
    /// The publish policy adopted the server's settings instead of publishing.
    Adopted,
}

/// What the publish policy did after registering.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyOutcome {
    /// The app's settings were published.
    Published {
        /// SIP-ETag.
        etag: String,
    },
    /// The server already had settings; they were adopted (not overwritten).
    Adopted,
    /// The server has none and the app configured none: nothing to do.
    NothingToPublish,
    /// The core does not support the settings package or the step failed.
    Failed(UaError),
}

/// Successful outcomes of operations.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `register()` succeeded.
    Registered(Registration),
    /// `unregister()` succeeded.
    Unregistered,
    /// `publish_settings()` succeeded.
    Published {
        /// SIP-ETag.
        etag: String,
        /// Granted expiry (s).
        expires: u32,
    },
    /// `remove_settings()` succeeded.
    Removed,
    /// `fetch_settings()`: the server's document, `None` when it has none.
    Settings(Option<ServiceSettings>),
    /// `fetch_history()`: the messages, oldest first.
    History(Vec<crate::im::history::HistoryEntry>),
    /// `watch_settings()` / `unwatch_settings()` succeeded.
    Subscribed {
        /// Granted expiry (s); 0 after unwatch.
        expires: u32,
    },
    /// `send_message()`: the final response.
    MessageSent {
        /// Status code (2xx).
        status: u16,
        /// Reason phrase.
        reason: String,
        /// The `imdn.Message-ID` the message carried (sent with IMDN requests),
        /// which its notifications will name.
        message_id: Option<String>,
    },
    /// `mark_displayed()`: whether a display notification was sent (`false` when
    /// the sender had not asked for one, or it was sent already: RFC 5438 §7.2
    /// allows none then).
    DisplayNotified {
        /// A notification was sent and accepted.
        sent: bool,
    },
    /// `start_session()`: the peer answered 2xx and was ACKed; `accept_session()`:
    /// the peer's ACK arrived.
    SessionEstablished {
        /// The session.
        session: SessionId,
        /// The peer's SDP: the answer in the 2xx (ours) or the body of the ACK
        /// (theirs: an answer to the offer our 2xx carried when the INVITE had
        /// none, RFC 3264 §4); `None` when it carried none.
        answer: Option<String>,
    },
    /// `end_session()`: the BYE was answered.
    SessionEnded,
}

/// Why a session ended without the app asking (the app's own `end_session`,
/// `cancel_session` and `reject_session` complete or return instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEndReason {
    /// The peer sent BYE (RFC 3261 §15.1.2).
    RemoteBye,
    /// The peer cancelled its INVITE before the app answered it (RFC 3261 §9.2).
    RemoteCancel,
    /// Our 2xx was never ACKed (RFC 3261 §13.3.1.4): a BYE was sent.
    Timeout,
    /// The flow broke before the session was confirmed (an invitation, or our 2xx
    /// waiting for its ACK): nothing can be answered on a flow that is gone.
    FlowLost,
}

/// A SIP session's news for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionEvent {
    /// An INVITE arrived (answered 100 Trying): the app calls `accept_session` or
    /// `reject_session`.
    Invitation {
        /// The new session.
        session: SessionId,
        /// The caller (the From URI).
        from: String,
        /// The caller's display name.
        display_name: Option<String>,
        /// The To URI.
        to: String,
        /// The SDP offer, when the INVITE carried one (else our 2xx must offer).
        offer: Option<String>,
        /// The INVITE asked for OMA IM large-message mode (`Accept-Contact` with
        /// `+g.oma.sip-im.large-message`).
        large_message: bool,
    },
    /// A provisional response to our INVITE (180 Ringing, 183 Session Progress).
    Progress {
        /// The session.
        session: SessionId,
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The session is gone.
    Ended {
        /// The session.
        session: SessionId,
        /// Why.
        reason: SessionEndReason,
    },
}

/// The options of [`UserAgent::send_message_with`](super::UserAgent::send_message_with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageOptions {
    /// The body's type; `text/plain;charset=UTF-8` when `None`.
    pub content_type: Option<String>,
    /// The notifications to ask for. Empty (the default) sends the body as it is;
    /// anything else wraps it in CPIM with an `imdn.Message-ID` (RFC 5438 §6).
    pub imdn: DispositionRequest,
    /// Header fields the app adds to the MESSAGE, `(name, value)`, in order (kept on
    /// an authenticated retry). A name must be a token and not one the user agent
    /// writes itself ([`OWN_HEADERS`]); a value one line without control characters.
    pub extra_headers: Vec<(String, String)>,
}

/// The header fields the user agent writes itself on a MESSAGE, which
/// [`MessageOptions::extra_headers`] cannot name: the transaction and dialog
/// identifiers (RFC 3261 §8.1.1), the body's framing, routing and credentials, and
/// the OMA IM feature tag and identity of every MESSAGE.
pub const OWN_HEADERS: &[&str] = &[
    "Via",
    "From",
    "To",
    "Call-ID",
    "CSeq",
    "Max-Forwards",
    "Contact",
    "Route",
    "Record-Route",
    "Content-Type",
    "Content-Length",
    "Authorization",
    "Proxy-Authorization",
    "Accept-Contact",
    "P-Preferred-Identity",
    "User-Agent",
];

/// The header fields the user agent writes itself on some request or response,
/// which [`Config::extra_headers`](super::Config::extra_headers) (added to every
/// one) cannot name: [`OWN_HEADERS`] and those of REGISTER, PUBLISH, SUBSCRIBE and
/// the answers (expiry, event package, capabilities, entity tag, warnings).
pub const OWN_HEADERS_ANY: &[&str] = &[
    "Expires",
    "Event",
    "Accept",
    "Allow",
    "Supported",
    "Unsupported",
    "SIP-If-Match",
    "Warning",
    "Content-Disposition",
];

/// Checks the app's extra header fields (`(name, value)`, in order): a name must
/// be a token (RFC 3261 §25.1), neither one of [`OWN_HEADERS`] nor of `own`; a
/// value one line without control characters; written out (`Name: value` CRLF
/// each) at most `room` bytes. Returns them with parsed names and trimmed values.
///
/// The client-wide list ([`Config::extra_headers`](super::Config::extra_headers),
/// [`UserAgent::set_extra_headers`](super::UserAgent::set_extra_headers)) goes on
/// every request, so its room is a quarter of `max_frame_size` (16 KiB of the
/// default 64 KiB): a list that large is refused when it is given, not by every
/// request failing later. A MESSAGE's own list has no room of its own (the whole
/// request is checked against `max_frame_size` when it is written).
pub(crate) fn check_extra_headers(
    given: &[(String, String)],
    own: &[&str],
    room: usize,
) -> Result<Vec<(HeaderName, String)>, UaError> {
    let mut out = Vec::with_capacity(given.len());
    let mut written = 0;
    for (name, value) in given {
        let refused = |why: &str| {
            let mut m = String::from("extraHeaders: ");
            m.push_str(why);
            UaError::BadInput(m)
        };
        if !is_token(name) {
            return Err(refused("a header name must be a token (RFC 3261 §25.1)"));
        }
        // RFC 3261 §7.3.1: one line; folding is never needed, and CR or LF would
        // let the value smuggle in header fields of its own.
        if has_control(value) {
            return Err(refused(
                "a header value must be one line without control characters",
            ));
        }
        let parsed = HeaderName::parse(name);
        let name = parsed.as_str();
        if OWN_HEADERS.contains(&name) || own.contains(&name) {
            let mut m = String::from(name);
            m.push_str(" is written by the client itself");
            return Err(refused(&m));
        }
        written += name.len() + value.len() + 4;
        if written > room {
            return Err(refused("the list may take at most a quarter of max_frame_size written out (16 KiB of the default 64 KiB)"));
        }
        out.push((parsed, value.trim().to_owned()));
    }
    Ok(out)
}

/// Whether `s` has a control character other than HTAB (none may be in a header
/// value's text, RFC 3261 §25.1 `TEXT-UTF8char`, `qdtext`).
pub(crate) fn has_control(s: &str) -> bool {
    s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// Something for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The flow changed state.
    Connection(ConnectionState),
    /// Registration changed.
    Registration(Registration),
    /// A MESSAGE arrived.
    Message(IncomingMessage),
    /// A disposition notification arrived (RFC 5438).
    Imdn(ImdnReceived),
    /// A peer's composition state changed (RFC 3994).
    Composing(ComposingReceived),
    /// An INVITE session changed (RFC 3261 §13–§15).
    Session(SessionEvent),
    /// Settings arrived (NOTIFY of a watch, or adopted by the policy).
    ServiceSettings {
        /// The document.
        settings: ServiceSettings,
        /// Where it came from.
        source: SettingsSource,
    },
    /// A NOTIFY of the watch carried no document where there was one: the
    /// settings were removed at the server (or expired there).
    ServiceSettingsRemoved,
    /// The watch subscription ended (Subscription-State: terminated, or a failed
    /// refresh).
    WatchTerminated {
        /// The reason parameter (lower case), `None` when absent or when a refresh failed.
        reason: Option<String>,
        /// Whether the user agent subscribes again by itself (RFC 6665 §4.1.3).
        resubscribe: bool,
        /// Seconds it waits before that (the `retry-after` parameter or Retry-After).
        retry_after: Option<u32>,
    },
    /// The publication changed state.
    Publication(Publication),
    /// What the publish policy did.
    Policy(PolicyOutcome),
    /// An operation finished (exactly once per OpId).
    Completed {
        /// The operation.
        op: OpId,
        /// Its result.
        result: Result<Outcome, UaError>,
    },
    /// A frame from the core could not be used (malformed, oversize); nothing else changed.
    Dropped {
        /// Why.
        reason: String,
    },
}
