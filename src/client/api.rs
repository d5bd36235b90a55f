//! What goes in and out of a [`Client`](super::Client) besides the user agent's own
//! inputs and outputs: the MSRP configuration, the channel ids, the events and
//! outcomes of large messages and chat sessions.

use crate::auth::Credentials;
use crate::im::iscomposing;
use crate::message::text::{after_last, rfind_byte};
use crate::msrp::MsrpUri;
use crate::ua::{Millis, OpId, UaError};

/// OMA IM's usual limit for pager mode: bodies above it go in large-message mode.
pub const DEFAULT_LARGE_MESSAGE_THRESHOLD: usize = 1300;
/// The largest incoming large message accepted by default: 16 MiB (the SDP
/// `a=max-size` of our answers).
pub const DEFAULT_MAX_LARGE_MESSAGE_SIZE: u64 = 16 * 1024 * 1024;
/// How long an incoming large-message session waits for its sender's BYE once the
/// message arrived, before ending it itself.
pub const LARGE_MESSAGE_LINGER: Millis = 32_000;

/// Where and how the client reaches its MSRP relay (RFC 7977: a WebSocket client
/// always goes through a relay, RFC 4976).
#[derive(Debug)]
pub struct MsrpConfig {
    /// The relay's WebSocket URL (`ws://` or `wss://`), opened with subprotocol `msrp`.
    pub relay_url: String,
    /// The relay's MSRP URI (the `To-Path` of `AUTH`), by default
    /// [`relay_uri`] of `relay_url`.
    pub relay: MsrpUri,
    /// The digest credentials the relay checks; `None` (an AKA-only client) leaves
    /// large messages and chat sessions unavailable (`invalid_state`), and incoming
    /// ones are answered 488.
    pub credentials: Option<Credentials>,
    /// `send_message` bodies larger than this many bytes go in large-message mode.
    pub large_message_threshold: usize,
    /// The largest incoming large message or chat message (our `a=max-size`); a
    /// larger one is refused 413 by the MSRP engine.
    pub max_large_message_size: u64,
    /// Body bytes per MSRP chunk (RFC 4975 §5.1).
    pub chunk_size: usize,
}

impl MsrpConfig {
    /// The defaults, with the relay at `relay_url`.
    pub fn new(relay_url: &str, credentials: Option<Credentials>) -> Result<MsrpConfig, UaError> {
        Ok(MsrpConfig {
            relay: relay_uri(relay_url)?,
            relay_url: relay_url.to_owned(),
            credentials,
            large_message_threshold: DEFAULT_LARGE_MESSAGE_THRESHOLD,
            max_large_message_size: DEFAULT_MAX_LARGE_MESSAGE_SIZE,
            chunk_size: crate::msrp::session::DEFAULT_CHUNK_SIZE,
        })
    }
}

/// The relay's MSRP URI for its WebSocket URL (RFC 7977 §5): `msrps://host:port;ws`
/// for `wss://`, `msrp://host:port;ws` for `ws://`, the port defaulting to 443/80.
pub fn relay_uri(url: &str) -> Result<MsrpUri, UaError> {
    let bad = || UaError::BadInput(format!("msrpRelay: not a ws:// or wss:// URL: \"{url}\""));
    let (scheme, default_port, rest) = if let Some(rest) = url.strip_prefix("wss://") {
        ("msrps", 443, rest)
    } else if let Some(rest) = url.strip_prefix("ws://") {
        ("msrp", 80, rest)
    } else {
        return Err(bad());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = after_last(authority, b'@');
    // A port after the host (after the `]` of an IPv6 reference).
    let host_end = rfind_byte(authority, b']').map_or(0, |i| i + 1);
    let with_port = match authority[host_end..].find(':') {
        Some(_) => authority.to_owned(),
        None => format!("{authority}:{default_port}"),
    };
    if authority.is_empty() {
        return Err(bad());
    }
    MsrpUri::parse(&format!("{scheme}://{with_port};ws")).map_err(|_| bad())
}

/// Names one MSRP session of the client: a large message going or coming, or a
/// chat session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u64);

/// A large message that arrived (OMA IM large-message mode).
#[derive(Debug, Clone, PartialEq)]
pub struct LargeMessage {
    /// The sender (the INVITE's From URI).
    pub from: String,
    /// The sender's display name.
    pub display_name: Option<String>,
    /// The To URI of the INVITE.
    pub to: String,
    /// Its `Content-Type`.
    pub content_type: String,
    /// The body, byte-exact.
    pub body: Vec<u8>,
}

/// What the client's own operations complete with.
#[derive(Debug, Clone, PartialEq)]
pub enum Done {
    /// `send_large_message`: the receiver's success REPORT covers the whole body.
    LargeMessageSent {
        /// The body's size.
        bytes: u64,
    },
    /// `start_chat` / `accept_chat`: the session is up (2xx ACKed).
    ChatOpened {
        /// The session.
        chat: ChannelId,
        /// The other side's URI.
        peer: String,
    },
    /// `chat_send`: the relay took every chunk.
    ChatSent {
        /// The MSRP `Message-ID`, which the `Report` events name.
        message_id: String,
    },
    /// `close_chat`: the BYE went (and was answered, or the session was gone).
    ChatClosed,
}

/// Why a chat session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatEndReason {
    /// This side closed it.
    Local,
    /// The peer sent BYE.
    RemoteBye,
    /// The peer cancelled its invitation before it was answered.
    RemoteCancel,
    /// The MSRP connection to the relay was lost or refused (a BYE was sent).
    Transport,
    /// The SIP session failed (no ACK, the flow lost before it was confirmed).
    Failed,
}

impl ChatEndReason {
    /// `local`, `remote`, `cancelled`, `transport`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChatEndReason::Local => "local",
            ChatEndReason::RemoteBye => "remote",
            ChatEndReason::RemoteCancel => "cancelled",
            ChatEndReason::Transport => "transport",
            ChatEndReason::Failed => "failed",
        }
    }
}

/// News of one chat session.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    /// A message (never an isComposing document: those are `Composing`).
    Message {
        /// Its MSRP `Message-ID`.
        message_id: String,
        /// Its `Content-Type`.
        content_type: String,
        /// The body, byte-exact.
        body: Vec<u8>,
    },
    /// The peer's typing state (RFC 3994 over MSRP): `Active` lapses by itself after
    /// the peer's refresh, and a message from the peer ends it.
    Composing {
        /// Active or idle.
        state: iscomposing::State,
        /// When the peer was last active (Unix seconds), when it said.
        last_active: Option<u64>,
    },
    /// The outcome of a message we sent: the peer's success REPORT, or a failure
    /// after the relay took it.
    Report {
        /// The message's MSRP `Message-ID`.
        message_id: String,
        /// Delivered (a success REPORT) or failed.
        delivered: bool,
        /// The failure's status code, when there is one.
        code: Option<u16>,
        /// A few words on a failure.
        reason: String,
    },
    /// The session is over; nothing more comes of it.
    Ended {
        /// Why.
        reason: ChatEndReason,
    },
}

/// What happened, for the app: the user agent's events, and the client's own.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An event of the user agent (its operations' completions included). Session
    /// events never come this way: the client owns every SIP session.
    Ua(crate::ua::Event),
    /// One of the client's operations finished.
    Completed {
        /// The operation.
        op: OpId,
        /// How.
        result: Result<Done, UaError>,
    },
    /// More of a large message was acknowledged by the relay.
    Progress {
        /// The `send_large_message` operation.
        op: OpId,
        /// The recipient.
        to: String,
        /// Body bytes acknowledged so far.
        bytes_sent: u64,
        /// The body's size.
        total: u64,
    },
    /// A large message arrived whole.
    LargeMessage(LargeMessage),
    /// A peer invites us to a chat session: `accept_chat` or `reject_chat`.
    Invitation {
        /// The session to be.
        chat: ChannelId,
        /// The caller's URI.
        from: String,
        /// The caller's display name.
        display_name: Option<String>,
    },
    /// News of a chat session.
    Chat {
        /// The session.
        chat: ChannelId,
        /// What.
        event: ChatEvent,
    },
}
