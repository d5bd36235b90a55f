//! One MSRP session of the client and what it is for: its role, where it stands,
//! the SDP it offers or answers, its typing state, and how MSRP failures read as
//! [`UaError`]s.

use super::api::{ChannelId, MsrpConfig};
use crate::auth::{Credentials, RandomSource};
use crate::im::iscomposing::{IsComposing, State as Typing};
use crate::msrp::session::{
    Config, EndReason, MessageHandle, MsrpSession, SendFailure, SessionError,
};
use crate::msrp::MsrpUri;
use crate::sdp::{MsrpMedia, SessionDescription};
use crate::ua::{Millis, OpId, SessionId, UaError};

/// What a channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// Carries one message of ours, then BYE (OMA IM large-message mode).
    LargeOut,
    /// Carries one message to us; the sender ends it.
    LargeIn,
    /// A chat session (OMA IM session mode), either side's invitation.
    Chat,
}

/// Where a channel stands.
///
/// ```text
///  ours    Relay ──Use-Path──► Signalling(INVITE) ──2xx ACKed──► Open ──► Closed
///  theirs  Invited ──accept_chat──► Relay ──Use-Path──► Signalling(200) ──ACK──► Open ──► Closed
///          (large messages skip Invited: accepted by themselves)
///  any     ──failure, BYE, CANCEL, close──► Closed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Theirs, a chat invitation waiting for the app.
    Invited,
    /// Authenticating to the relay for the path our SDP will carry.
    Relay,
    /// Our INVITE, or our 200, waiting for its answer or ACK.
    Signalling,
    Open,
    /// Done: removed once its MSRP session has ended.
    Closed,
}

/// Our typing state in a chat session (RFC 3994 §3.2, sent as MSRP messages).
#[derive(Debug, Default)]
pub(super) struct Composer {
    /// "active" went and holds until this time (a tenth before its refresh lapses).
    pub active_until: Option<Millis>,
    /// When "idle" goes unless the user types again.
    pub idle_at: Option<Millis>,
    /// The peer's "active" lapses at this time.
    pub peer_active_until: Option<Millis>,
}

pub(super) struct Channel {
    pub id: ChannelId,
    pub role: Role,
    pub phase: Phase,
    pub msrp: Option<MsrpSession>,
    /// The wake-up its MSRP session asked for.
    pub wake: Option<Millis>,
    pub sip: Option<SessionId>,
    /// The other side's URI and display name.
    pub peer: String,
    pub display_name: Option<String>,
    /// The To URI of their INVITE.
    pub to: String,
    /// The app's operation waiting on this channel (send, start or accept).
    pub op: Option<OpId>,
    /// The user agent's operation we wait for (start_session, accept_session).
    pub sip_op: Option<OpId>,
    /// Theirs: the peer's path from their offer.
    pub peer_path: Vec<MsrpUri>,
    /// LargeOut: the message until it is queued, then its handle.
    pub body: Option<(String, Vec<u8>)>,
    pub handle: Option<MessageHandle>,
    /// LargeOut: the body's size.
    pub total: u64,
    /// LargeOut from `send_message`: its options, to send it as a MESSAGE when
    /// large-message mode cannot be had.
    pub fallback: Option<crate::ua::MessageOptions>,
    /// Chat: messages in flight, with the app's op until the relay took them.
    pub sends: Vec<(MessageHandle, Option<OpId>, String)>,
    pub composer: Composer,
    /// LargeIn: BYE ourselves at this time if the sender did not.
    pub linger_until: Option<Millis>,
    /// The relay's WebSocket has neither opened nor failed by then: it is given up
    /// as failed (the user agent's `connect_timeout`).
    pub connect_by: Option<Millis>,
}

impl Channel {
    pub fn new(id: ChannelId, role: Role, peer: String) -> Channel {
        Channel {
            id,
            role,
            phase: Phase::Relay,
            msrp: None,
            wake: None,
            sip: None,
            peer,
            display_name: None,
            to: String::new(),
            op: None,
            sip_op: None,
            peer_path: Vec::new(),
            body: None,
            handle: None,
            total: 0,
            fallback: None,
            sends: Vec::new(),
            composer: Composer::default(),
            linger_until: None,
            connect_by: None,
        }
    }

    /// The earliest of the channel's own deadlines (the MSRP session's aside).
    pub fn deadline(&self) -> Option<Millis> {
        let c = &self.composer;
        let idle = c.idle_at.filter(|_| c.active_until.is_some());
        let own = soonest(soonest(idle, c.peer_active_until), self.linger_until);
        soonest(own, self.connect_by)
    }
}

/// The earlier of two optional deadlines (a plain match: the iterator `flatten().min()`
/// it replaces was instantiated at each fold).
pub(super) fn soonest(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// An MSRP session to the relay for one channel: a random `.invalid` host and
/// session-id of our own (RFC 7977 §5), the relay's credentials copied.
pub(super) fn open_session(
    cfg: &MsrpConfig,
    credentials: &Credentials,
    mut rng: Box<dyn RandomSource>,
) -> Result<MsrpSession, UaError> {
    let host = crate::ua::random_token(&mut *rng, 10);
    let session = crate::ua::random_token(&mut *rng, 16);
    let scheme = cfg.relay.scheme();
    let local = MsrpUri::parse(&format!("{scheme}://{host}.invalid:2855/{session};ws"))
        .map_err(|e| UaError::BadInput(format!("msrp: {e}")))?;
    let mut config = Config::new(local, cfg.relay.clone(), copy(credentials)?);
    config.chunk_size = cfg.chunk_size;
    config.max_message_bytes = cfg.max_large_message_size;
    // One whole message may be held while it arrives.
    config.max_buffered_bytes = usize::try_from(cfg.max_large_message_size)
        .unwrap_or(usize::MAX)
        .max(config.max_buffered_bytes);
    Ok(MsrpSession::new(config, rng))
}

/// A copy of password or HA1 credentials (AKA answers no MSRP relay: RFC 4976 AUTH
/// is digest).
fn copy(c: &Credentials) -> Result<Credentials, UaError> {
    use crate::auth::CredentialSecret;
    match &c.secret {
        CredentialSecret::Password(p) => Ok(Credentials::password(c.username.clone(), p.expose())),
        CredentialSecret::Ha1(h) => Ok(Credentials::ha1(
            c.username.clone(),
            &String::from_utf8_lossy(h.expose()),
        )),
        CredentialSecret::Aka(_) => Err(no_relay()),
    }
}

pub(super) fn no_relay() -> UaError {
    UaError::InvalidState(
        "MSRP needs a relay and a password or ha1 (RFC 4976 AUTH is digest)".into(),
    )
}

/// Our SDP: one `m=message` over `TCP/WSS/MSRP` with our `a=path` (the relay's
/// Use-Path, then our URI), any type accepted up to `max_size` (RFC 4975 §8, RFC
/// 7977 §6: a WebSocket client is `active`).
pub(super) fn our_sdp(path: &[MsrpUri], max_size: u64, version: u64) -> String {
    MsrpMedia {
        proto: "TCP/WSS/MSRP".into(),
        path: path.iter().map(ToString::to_string).collect(),
        accept_types: vec!["*".into()],
        accept_wrapped_types: vec!["*".into()],
        max_size: Some(max_size),
        setup: Some("active".into()),
    }
    .description(
        path.last().map_or("client.invalid", |u| match u.host() {
            crate::message::Host::Name(n) => n.as_str(),
            _ => "client.invalid",
        }),
        version,
        version,
    )
    .encode()
}

/// The MSRP media of the peer's SDP and its path, or why it cannot be used (the
/// reason a 488 or a failed start gives).
pub(super) fn their_media(sdp: Option<&str>) -> Result<(MsrpMedia, Vec<MsrpUri>), String> {
    let sdp = sdp.ok_or("no SDP")?;
    let media = SessionDescription::parse(sdp.as_bytes())
        .map_err(|e| format!("unreadable SDP: {e}"))?
        .msrp()
        .ok_or("no MSRP media in the SDP")?;
    let mut path = Vec::with_capacity(media.path.len());
    for u in &media.path {
        path.push(MsrpUri::parse(u).map_err(|e| format!("unreadable a=path: {e}"))?);
    }
    if path.is_empty() {
        return Err("no a=path in the SDP".into());
    }
    Ok((media, path))
}

/// The isComposing document for our `state` (RFC 3994 §3.2: "active" carries its
/// refresh; "idle" when we were last active).
pub(super) fn typing(state: Typing, refresh: u32, last_active: Option<u64>) -> Vec<u8> {
    let mut doc = IsComposing::new(state);
    match state {
        Typing::Active => doc.refresh = Some(refresh),
        Typing::Idle => doc.last_active = last_active,
    }
    doc.encode().into_bytes()
}

/// A message that failed, as the error its operation rejects with.
pub(super) fn send_error(failure: &SendFailure, reason: &str) -> UaError {
    match failure {
        SendFailure::Response { code } | SendFailure::Report { code } => UaError::Rejected {
            status: *code,
            reason: reason.to_owned(),
            retry_after: None,
        },
        SendFailure::Timeout | SendFailure::ReportTimeout => UaError::Timeout,
        SendFailure::Transport => UaError::Transport,
        SendFailure::Cancelled => UaError::Cancelled,
        SendFailure::Closed => {
            UaError::InvalidState("the session ended before the message was sent".into())
        }
        SendFailure::Local(e) => UaError::BadInput(format!("msrp: {e}")),
    }
}

/// An MSRP session that ended, as the error of whatever waited on it.
pub(super) fn end_error(reason: &EndReason) -> UaError {
    match reason {
        EndReason::Closed => UaError::InvalidState("the MSRP session was closed".into()),
        EndReason::Disconnected => UaError::Transport,
        EndReason::Failed(SessionError::AuthRejected(e)) => UaError::AuthFailed {
            detail: format!("MSRP relay: {e}"),
        },
        EndReason::Failed(SessionError::AuthRefused { code, reason }) => UaError::Rejected {
            status: *code,
            reason: reason.clone(),
            retry_after: None,
        },
        EndReason::Failed(SessionError::AuthTimeout) => UaError::Timeout,
        EndReason::Failed(e) => UaError::BadResponse(e.to_string()),
    }
}
