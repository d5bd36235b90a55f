//! The whole client, sans-IO: the user agent ([`crate::ua`]) and the MSRP sessions
//! ([`crate::msrp::session`]) of OMA IM's large-message and session modes, joined
//! through SDP (RFC 4975 §8, RFC 7977).
//!
//! The user agent does SIP; the client owns every SIP session it has and an MSRP
//! session for each, each over its own WebSocket to the relay. The binding drives
//! one `Client` as it would drive a user agent, with a socket per MSRP channel:
//!
//! ```text
//!   SIP socket ──► handle_input(now, ua::Input)          ┐
//!   MSRP socket ─► handle_msrp(now, channel, Input)      ├─► drain poll_output():
//!   timer ───────► handle_input(now, ua::Input::Timeout) │   Transmit / Connect / Close (SIP socket)
//!   app ─────────► ua().register(..), send_message, …    ┘   MsrpConnect / MsrpTransmit / MsrpClose
//!                                                            Timeout(at): the one timer
//!                                                            Event(e): the app's
//! ```
//!
//! Large message, ours (OMA IM large-message mode):
//!
//! ```text
//!  MSRP: AUTH ─► 200 Use-Path ─► SIP: INVITE (+g.oma.sip-im.large-message, SDP a=path)
//!  ─► 200 (their a=path, a=max-size) + ACK ─► MSRP: SEND chunks ─► success REPORT
//!  ─► operation done ─► SIP: BYE, MSRP socket closed
//! ```
//!
//! Theirs: the invitation is accepted by itself (our 200 after our relay granted a
//! path), the message arrives as [`Event::LargeMessage`] and the sender's BYE ends
//! it (or ours, [`LARGE_MESSAGE_LINGER`] later). Chat sessions go the same way, but
//! an invitation waits for [`Client::accept_chat`] / [`Client::reject_chat`] and the
//! session stays until either side closes it; typing goes as RFC 3994 documents
//! inside the session.
//!
//! Each channel's state is its `Phase` (`channel.rs`); the client folds the wake-ups of
//! the user agent, of every MSRP session and of every channel into one timer.

mod api;
mod channel;

pub use api::*;

use crate::auth::RandomSource;
use crate::im::iscomposing::{IsComposing, State as Typing};
use crate::message::MediaType;
use crate::msrp::session::{Event as MsrpEvent, Input as MsrpInput, Output as MsrpOutput, Reports};
use crate::msrp::{FailureReport, SuccessReport};
use crate::ua::{
    self, Config, MessageOptions, Millis, OpId, Outcome, SessionEndReason, SessionEvent, SessionId,
    UaError, UserAgent,
};
use channel::{their_media, Channel, Phase, Role};

/// The client's own operation ids start here, clear of the user agent's.
const FIRST_OP: u64 = 1 << 48;
/// Large messages and chat sessions at once (each has its own WebSocket; the user
/// agent takes 16 SIP sessions).
const MAX_CHANNELS: usize = 16;
/// The content type of RFC 3994 documents.
const ISCOMPOSING: &str = "application/im-iscomposing+xml";

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this frame on the SIP WebSocket.
    Transmit(String),
    /// Send this frame on the SIP WebSocket as a binary message (its body is not
    /// UTF-8, RFC 7118 §4.2).
    TransmitBinary(Vec<u8>),
    /// Open the SIP WebSocket (subprotocol `sip`).
    Connect,
    /// Close the SIP WebSocket.
    Close,
    /// Open a WebSocket to `url` with subprotocol `msrp` for `channel` (RFC 7977 §4.1).
    MsrpConnect {
        /// The channel.
        channel: ChannelId,
        /// The relay's WebSocket URL.
        url: String,
    },
    /// Send these bytes as one binary WebSocket message on `channel`'s socket.
    MsrpTransmit(ChannelId, Vec<u8>),
    /// Close `channel`'s socket.
    MsrpClose(ChannelId),
    /// Call `handle_input(now, ua::Input::Timeout)` at this time (replaces any
    /// earlier request).
    Timeout(Millis),
    /// Tell the app.
    Event(Event),
}

/// The user agent and its MSRP sessions. See the module docs.
pub struct Client {
    ua: UserAgent,
    msrp: Option<MsrpConfig>,
    new_rng: Box<dyn FnMut() -> Box<dyn RandomSource>>,
    /// RFC 3994 timing of our indications, from the user agent's configuration.
    composing_refresh: u32,
    composing_idle: Millis,
    /// How long a relay's WebSocket may take to open (the user agent's own
    /// `connect_timeout`, so one option bounds every socket of the client).
    connect_timeout: Millis,
    channels: Vec<Channel>,
    next_channel: u64,
    next_op: u64,
    /// The user agent's operations we started for ourselves (BYEs, INVITEs we
    /// cancelled), with the app's `close_chat` waiting on some.
    internal: Vec<(OpId, Option<OpId>)>,
    /// MESSAGEs sent instead of large messages: the user agent's op, the app's.
    pagers: Vec<(OpId, OpId)>,
    out: Vec<Output>,
    ua_wake: Option<Millis>,
    armed: Option<Millis>,
    now: Millis,
    /// Unix milliseconds at `now == 0`.
    unix_offset: u64,
}

impl Client {
    /// A client: the user agent of `config`, and MSRP through `msrp` (`None`: large
    /// messages and chat sessions are unavailable and incoming ones are answered
    /// 488). `new_rng` makes the random source of the user agent and of each MSRP
    /// session.
    pub fn new(
        config: Config,
        msrp: Option<MsrpConfig>,
        mut new_rng: Box<dyn FnMut() -> Box<dyn RandomSource>>,
    ) -> Client {
        let composing_refresh = config.composing_refresh;
        let composing_idle = Millis::from(config.composing_idle_timeout) * 1000;
        let connect_timeout = config.connect_timeout;
        Client {
            ua: UserAgent::new(config, new_rng()),
            msrp,
            new_rng,
            composing_refresh,
            composing_idle,
            connect_timeout,
            channels: Vec::new(),
            next_channel: 1,
            next_op: FIRST_OP,
            internal: Vec::new(),
            pagers: Vec::new(),
            out: Vec::new(),
            ua_wake: None,
            armed: None,
            now: 0,
            unix_offset: 0,
        }
    }

    /// The user agent, for its own commands (register, publish, pager messages…).
    /// Drain [`poll_output`](Self::poll_output) after each, as after any command.
    pub fn ua(&mut self) -> &mut UserAgent {
        &mut self.ua
    }

    /// The user agent, to read.
    pub fn ua_ref(&self) -> &UserAgent {
        &self.ua
    }

    /// Moves the clock to `now` and tells the wall clock (Unix ms) for the
    /// `DateTime`s of CPIM, IMDN and isComposing.
    pub fn set_clock(&mut self, now: Millis, unix_ms: u64) {
        self.now = self.now.max(now);
        self.unix_offset = unix_ms.saturating_sub(now);
        self.ua.set_wall_clock(now, unix_ms);
    }

    /// The next thing to do, or `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.out.is_empty() {
            self.pump();
        }
        (!self.out.is_empty()).then(|| self.out.remove(0))
    }

    /// The SIP socket's news, or the timer.
    pub fn handle_input(&mut self, now: Millis, input: ua::Input<'_>) {
        self.now = self.now.max(now);
        if input == ua::Input::Timeout {
            self.on_timeout();
        } else {
            self.ua.handle_input(now, input);
        }
        self.pump();
    }

    /// An MSRP socket's news (a channel already gone is ignored).
    pub fn handle_msrp(&mut self, now: Millis, channel: ChannelId, input: MsrpInput<'_>) {
        self.now = self.now.max(now);
        if let Some(c) = self.channel(channel) {
            if matches!(input, MsrpInput::Connected | MsrpInput::Disconnected) {
                c.connect_by = None;
            }
            if let Some(m) = c.msrp.as_mut() {
                m.handle_input(now, input);
            }
        }
        self.pump();
    }

    // ───────────── commands ─────────────

    /// A message to `to`: pager mode (a SIP MESSAGE) up to the large-message
    /// threshold, large-message mode above it when an MSRP relay is configured (and
    /// the options carry no extra header fields).
    pub fn send_message(
        &mut self,
        now: Millis,
        to: &str,
        body: Vec<u8>,
        options: &MessageOptions,
    ) -> OpId {
        // Extra header fields belong to a MESSAGE: with them it goes as one, whatever
        // its size (large-message mode's INVITE is the client's own).
        let large = options.extra_headers.is_empty()
            && self
                .msrp
                .as_ref()
                .is_some_and(|m| m.credentials.is_some() && body.len() > m.large_message_threshold);
        if large {
            let content_type = options
                .content_type
                .clone()
                .unwrap_or_else(|| "text/plain;charset=UTF-8".into());
            let op = self.send_large_message(now, to, &content_type, body);
            // Large-message mode is ours to choose here: when it cannot be had (no
            // relay, a peer or core refusing the INVITE) the MESSAGE goes after all.
            if let Some(c) = self.channels.iter_mut().find(|c| c.op == Some(op)) {
                c.fallback = Some(options.clone());
            }
            op
        } else {
            let op = self.ua.send_message_with(now, to, &body, options);
            self.pump();
            op
        }
    }

    /// Sends `body` in OMA IM large-message mode (see the module docs); completes
    /// with [`Done::LargeMessageSent`] once the success REPORT came, and reports
    /// [`Event::Progress`] as the relay takes chunks.
    pub fn send_large_message(
        &mut self,
        now: Millis,
        to: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> OpId {
        self.now = self.now.max(now);
        let op = self.op();
        if let Err(e) = MediaType::parse(content_type, "contentType") {
            self.fail(op, UaError::BadInput(format!("contentType: {e}")));
        } else if let Some(i) = self.open(op, Role::LargeOut, to.to_owned(), None) {
            self.channels[i].total = body.len() as u64;
            self.channels[i].body = Some((content_type.to_owned(), body));
        }
        self.pump();
        op
    }

    /// Invites `to` to a chat session; completes with [`Done::ChatOpened`]. The
    /// chat's id comes at once, for [`close_chat`](Self::close_chat) while it rings
    /// (an id no channel has when the op failed at once).
    pub fn start_chat(&mut self, now: Millis, to: &str) -> (OpId, ChannelId) {
        self.now = self.now.max(now);
        let op = self.op();
        let id = ChannelId(self.next_channel);
        self.open(op, Role::Chat, to.to_owned(), None);
        self.pump();
        (op, id)
    }

    /// Accepts a chat invitation ([`Event::Invitation`]): our relay grants a path,
    /// then our 200 goes; completes with [`Done::ChatOpened`] at the ACK.
    pub fn accept_chat(&mut self, now: Millis, chat: ChannelId) -> OpId {
        self.now = self.now.max(now);
        let op = self.op();
        match self
            .index(chat)
            .filter(|&i| self.channels[i].phase == Phase::Invited)
        {
            None => self.fail(op, not_invited()),
            Some(i) => {
                let peer = self.channels[i].peer.clone();
                if let Some(j) = self.open(op, Role::Chat, peer, Some(chat)) {
                    debug_assert_eq!(i, j);
                }
            }
        }
        self.pump();
        op
    }

    /// Refuses a chat invitation with `status` (300–699; 486 Busy Here, 603
    /// Decline).
    pub fn reject_chat(
        &mut self,
        now: Millis,
        chat: ChannelId,
        status: u16,
    ) -> Result<(), UaError> {
        self.now = self.now.max(now);
        let i = self
            .index(chat)
            .filter(|&i| self.channels[i].phase == Phase::Invited)
            .ok_or_else(not_invited)?;
        let sip = self.channels[i].sip.ok_or_else(not_invited)?;
        self.ua.reject_session(now, sip, status)?;
        self.channels[i].phase = Phase::Closed;
        self.channels[i].sip = None;
        // Whoever else shows the invitation (another tab) learns it is answered.
        let ended = ChatEvent::Ended {
            reason: ChatEndReason::Local,
        };
        self.emit_chat(i, ended);
        self.pump();
        Ok(())
    }

    /// Sends a message in an open chat session; completes with
    /// [`Done::ChatSent`] once the relay took it; [`ChatEvent::Report`] follows.
    /// Sending ends our typing state silently (RFC 3994 §3.2).
    pub fn chat_send(
        &mut self,
        now: Millis,
        chat: ChannelId,
        content_type: &str,
        body: Vec<u8>,
    ) -> OpId {
        self.now = self.now.max(now);
        let op = self.op();
        let reports = Reports {
            success: SuccessReport::Yes,
            failure: FailureReport::Yes,
        };
        match self.open_chat(chat) {
            Err(e) => self.fail(op, e),
            Ok(i) => {
                let c = &mut self.channels[i];
                let sent = c
                    .msrp
                    .as_mut()
                    .ok_or_else(not_open)
                    .and_then(|m| {
                        m.send(now, content_type, body, reports)
                            .map_err(|e| match e {
                                // The JS name of the field it came in (README's ChatSession.send).
                                crate::msrp::session::CommandError::BadContentType => {
                                    UaError::BadInput(format!("options.contentType: {e}"))
                                }
                                e => UaError::BadInput(format!("chat: {e}")),
                            })
                    })
                    .map(|h| {
                        let id = c
                            .msrp
                            .as_ref()
                            .and_then(|m| m.message_id(h))
                            .unwrap_or_default()
                            .to_owned();
                        (h, id)
                    });
                match sent {
                    Ok((h, id)) => {
                        c.sends.push((h, Some(op), id));
                        c.composer.active_until = None;
                        c.composer.idle_at = None;
                    }
                    Err(e) => self.fail(op, e),
                }
            }
        }
        self.pump();
        op
    }

    /// The local user is typing in `chat` (`true`: call it on every keystroke) or
    /// stopped; indications go as RFC 3994 §3.2 says, inside the session.
    pub fn chat_composing(
        &mut self,
        now: Millis,
        chat: ChannelId,
        active: bool,
    ) -> Result<(), UaError> {
        self.now = self.now.max(now);
        let i = self.open_chat(chat)?;
        let (refresh, idle) = (self.composing_refresh, self.composing_idle);
        let c = &mut self.channels[i].composer;
        let state = if active {
            c.idle_at = Some(now + idle);
            if c.active_until.is_some_and(|t| now < t) {
                None
            } else {
                // Sent again a tenth before the refresh it announced lapses.
                c.active_until = Some(now + Millis::from(refresh) * 900);
                Some(Typing::Active)
            }
        } else {
            c.idle_at = None;
            c.active_until.take().map(|_| Typing::Idle)
        };
        if let Some(state) = state {
            self.indicate(i, state);
        }
        self.pump();
        Ok(())
    }

    /// Ends a chat session: BYE when it is up (completes with
    /// [`Done::ChatClosed`] when it is answered), CANCEL while our invitation
    /// rings, 603 to an invitation not answered yet.
    pub fn close_chat(&mut self, now: Millis, chat: ChannelId) -> OpId {
        self.now = self.now.max(now);
        let op = self.op();
        match self
            .index(chat)
            .filter(|&i| self.channels[i].role == Role::Chat)
        {
            None => self.fail(op, UaError::InvalidState("no such chat session".into())),
            Some(i) => match self.channels[i].phase {
                Phase::Closed => self.done(op, Done::ChatClosed),
                Phase::Invited => {
                    if let Some(sip) = self.channels[i].sip.take() {
                        let _ = self.ua.reject_session(now, sip, 603);
                    }
                    self.channels[i].phase = Phase::Closed;
                    let ended = ChatEvent::Ended {
                        reason: ChatEndReason::Local,
                    };
                    self.emit_chat(i, ended);
                    self.done(op, Done::ChatClosed);
                }
                Phase::Open => {
                    self.emit_chat(
                        i,
                        ChatEvent::Ended {
                            reason: ChatEndReason::Local,
                        },
                    );
                    self.teardown(i, Some(op));
                }
                Phase::Relay | Phase::Signalling => {
                    let c = &mut self.channels[i];
                    let (phase, incoming) = (c.phase, c.incoming());
                    let start = c.op.take();
                    if let Some(start) = start {
                        self.fail(start, UaError::Cancelled);
                    }
                    let c = &mut self.channels[i];
                    match c.sip {
                        // Theirs, not answered yet: declined.
                        Some(sip) if incoming && phase == Phase::Relay => {
                            c.sip = None;
                            c.phase = Phase::Closed;
                            let _ = self.ua.reject_session(now, sip, 603);
                        }
                        // Theirs, our 200 out: BYE once it is ACKed (`on_sip_done`).
                        Some(_) if incoming => {}
                        // Ours ringing: CANCEL (a 2xx crossing it is ACKed and BYEd by
                        // the user agent, RFC 3261 §9.1).
                        Some(sip) => {
                            c.sip = None;
                            c.phase = Phase::Closed;
                            if let Some(pending) = c.sip_op.take() {
                                self.internal.push((pending, None));
                            }
                            let _ = self.ua.cancel_session(now, sip);
                        }
                        None => c.phase = Phase::Closed,
                    }
                    self.close_msrp(i);
                    self.done(op, Done::ChatClosed);
                }
            },
        }
        self.pump();
        op
    }

    /// Closes everything: MSRP sockets, then the user agent (no BYE is sent).
    pub fn close(&mut self, now: Millis) {
        self.now = self.now.max(now);
        for i in 0..self.channels.len() {
            if let Some(op) = self.channels[i].op.take() {
                self.fail(op, UaError::InvalidState("the client is closed".into()));
            }
            self.channels[i].phase = Phase::Closed;
            self.close_msrp(i);
        }
        self.ua.close(now);
        self.pump();
    }

    /// The chat sessions and large messages under way.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    // ───────────── routing ─────────────

    /// Takes what the user agent has to say; `true` when it had anything.
    fn drain_ua(&mut self) -> bool {
        let mut any = false;
        while let Some(o) = self.ua.poll_output() {
            any = true;
            match o {
                ua::Output::Transmit(f) => self.out.push(Output::Transmit(f)),
                ua::Output::TransmitBinary(f) => self.out.push(Output::TransmitBinary(f)),
                ua::Output::Connect => self.out.push(Output::Connect),
                ua::Output::Close => self.out.push(Output::Close),
                ua::Output::Timeout(at) => self.ua_wake = Some(at),
                ua::Output::Event(e) => self.on_ua_event(e),
            }
        }
        any
    }

    /// Drains the user agent and every MSRP session until nothing new comes out,
    /// forgets finished channels, and asks for the earliest wake-up.
    fn pump(&mut self) {
        loop {
            let mut busy = self.drain_ua();
            let mut i = 0;
            while i < self.channels.len() {
                let Some(o) = self.channels[i].msrp.as_mut().and_then(|m| m.poll_output()) else {
                    i += 1;
                    continue;
                };
                busy = true;
                let id = self.channels[i].id;
                match o {
                    MsrpOutput::Transmit(b) => self.out.push(Output::MsrpTransmit(id, b)),
                    MsrpOutput::Connect => {
                        let url = self.msrp.as_ref().map(|m| m.relay_url.clone());
                        self.out.push(Output::MsrpConnect {
                            channel: id,
                            url: url.unwrap_or_default(),
                        });
                    }
                    MsrpOutput::Close => self.out.push(Output::MsrpClose(id)),
                    MsrpOutput::Timeout(at) => self.channels[i].wake = Some(at),
                    MsrpOutput::Event(e) => self.on_msrp_event(i, e),
                }
            }
            if !busy {
                break;
            }
        }
        // A channel is forgotten once closed, its MSRP session over and its SIP
        // session handed back (ended, or left to the user agent).
        let done =
            |c: &Channel| c.phase == Phase::Closed && c.msrp.as_ref().is_none_or(|m| m.is_ended());
        // A user agent op still out for a channel that goes (the user agent
        // completes it later: at close, its work fails on the next step) is ours to
        // swallow, never the app's.
        for c in self.channels.iter_mut().filter(|c| done(c)) {
            if let Some(op) = c.sip_op.take() {
                self.internal.push((op, None));
            }
        }
        self.channels.retain(|c| !done(c));
        let mut next = self.ua_wake;
        for c in &self.channels {
            next = channel::soonest(channel::soonest(next, c.wake), c.deadline());
        }
        if next != self.armed {
            if let Some(at) = next {
                self.out.push(Output::Timeout(at));
            }
            self.armed = next;
        }
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        self.armed = None;
        if self.ua_wake.is_some_and(|w| w <= now) {
            self.ua_wake = None;
            self.ua.handle_input(now, ua::Input::Timeout);
        }
        for i in 0..self.channels.len() {
            let c = &mut self.channels[i];
            if c.wake.is_some_and(|w| w <= now) {
                c.wake = None;
                if let Some(m) = c.msrp.as_mut() {
                    m.handle_input(now, MsrpInput::Timeout);
                }
            }
            let due = |t: Option<Millis>| t.is_some_and(|t| t <= now);
            let c = &mut self.channels[i];
            if c.composer.active_until.is_some() && due(c.composer.idle_at) {
                c.composer.active_until = None;
                c.composer.idle_at = None;
                self.indicate(i, Typing::Idle);
            }
            let c = &mut self.channels[i];
            if due(c.composer.peer_active_until) {
                c.composer.peer_active_until = None;
                let idle = ChatEvent::Composing {
                    state: Typing::Idle,
                    last_active: None,
                };
                self.emit_chat(i, idle);
            }
            if due(self.channels[i].connect_by) {
                // The relay's socket hangs: closed, and failed as if it had
                // dropped (before any SIP a large message then goes as a MESSAGE).
                let c = &mut self.channels[i];
                c.connect_by = None;
                self.out.push(Output::MsrpClose(c.id));
                if let Some(m) = c.msrp.as_mut() {
                    m.handle_input(now, MsrpInput::Disconnected);
                }
            }
            if due(self.channels[i].linger_until) {
                self.channels[i].linger_until = None;
                self.teardown(i, None);
            }
        }
    }

    fn on_ua_event(&mut self, e: ua::Event) {
        match e {
            ua::Event::Completed { op, result } => {
                if let Some(i) = self.channels.iter().position(|c| c.sip_op == Some(op)) {
                    self.channels[i].sip_op = None;
                    return self.on_sip_done(i, result);
                }
                if let Some(j) = self.pagers.iter().position(|(pager, _)| *pager == op) {
                    let (_, app) = self.pagers.swap_remove(j);
                    let done = ua::Event::Completed { op: app, result };
                    return self.emit(Event::Ua(done));
                }
                if let Some(j) = self.internal.iter().position(|(bye, _)| *bye == op) {
                    if let (_, Some(app)) = self.internal.swap_remove(j) {
                        self.done(app, Done::ChatClosed);
                    }
                    return;
                }
                self.emit(Event::Ua(ua::Event::Completed { op, result }));
            }
            ua::Event::Session(s) => self.on_session_event(s),
            other => self.emit(Event::Ua(other)),
        }
    }

    /// Our INVITE was answered and ACKed, or the ACK to our 200 came; or either
    /// failed.
    fn on_sip_done(&mut self, i: usize, result: Result<Outcome, UaError>) {
        let answer = match result {
            Ok(Outcome::SessionEstablished { answer, .. }) => answer,
            Ok(_) => None,
            Err(e) => {
                self.channels[i].sip = None;
                if matches!(e, UaError::Rejected { .. }) && self.as_pager(i) {
                    return;
                }
                if let Some(op) = self.channels[i].op.take() {
                    self.fail(op, e);
                }
                self.channels[i].phase = Phase::Closed;
                return self.close_msrp(i);
            }
        };
        if self.channels[i].phase == Phase::Closed
            || self.channels[i].msrp.as_ref().is_none_or(|m| m.is_ended())
        {
            // Closed or lost while the answer was on its way: end it now.
            if let Some(op) = self.channels[i].op.take() {
                self.fail(op, UaError::Transport);
            }
            return self.teardown(i, None);
        }
        let c = &mut self.channels[i];
        if !c.incoming() {
            match their_media(answer.as_deref()) {
                Ok((media, path)) => {
                    let fits = c.body.as_ref().map(|(ct, body)| {
                        (
                            media.max_size.is_none_or(|max| body.len() as u64 <= max),
                            media.accepts(ct),
                            media.max_size,
                        )
                    });
                    let refused = match fits {
                        Some((false, _, max)) => Some((
                            413,
                            format!("the peer takes at most {} bytes", max.unwrap_or(0)),
                        )),
                        Some((true, false, _)) => {
                            Some((415, "the peer does not take this content type".into()))
                        }
                        _ => None,
                    };
                    if let Some((status, reason)) = refused {
                        if let Some(op) = c.op.take() {
                            self.fail(
                                op,
                                UaError::Rejected {
                                    status,
                                    reason,
                                    retry_after: None,
                                },
                            );
                        }
                        return self.teardown(i, None);
                    }
                    if let Some(m) = c.msrp.as_mut() {
                        let _ = m.set_peer(path);
                    }
                }
                Err(reason) => {
                    if let Some(op) = c.op.take() {
                        self.fail(
                            op,
                            UaError::BadResponse(format!("the peer's answer: {reason}")),
                        );
                    }
                    return self.teardown(i, None);
                }
            }
        }
        let c = &mut self.channels[i];
        c.phase = Phase::Open;
        match c.role {
            Role::LargeOut => {
                let now = self.now;
                if let (Some((ct, body)), Some(m)) = (c.body.take(), c.msrp.as_mut()) {
                    match m.send(now, &ct, body, Reports::large_message()) {
                        Ok(h) => c.handle = Some(h),
                        Err(e) => {
                            if let Some(op) = c.op.take() {
                                self.fail(op, UaError::BadInput(format!("msrp: {e}")));
                            }
                            self.teardown(i, None);
                        }
                    }
                }
            }
            Role::Chat => {
                let (chat, peer) = (c.id, c.peer.clone());
                if let Some(op) = c.op.take() {
                    self.done(op, Done::ChatOpened { chat, peer });
                }
            }
            Role::LargeIn => {}
        }
    }

    fn on_session_event(&mut self, e: SessionEvent) {
        match e {
            SessionEvent::Invitation {
                session,
                from,
                display_name,
                to,
                offer,
                large_message,
            } => self.on_invitation(session, from, display_name, to, offer, large_message),
            SessionEvent::Progress { .. } => {}
            SessionEvent::Ended { session, reason } => {
                let Some(i) = self.channels.iter().position(|c| c.sip == Some(session)) else {
                    return;
                };
                self.channels[i].sip = None;
                if let Some(op) = self.channels[i].op.take() {
                    let e = match reason {
                        SessionEndReason::RemoteCancel => UaError::Cancelled,
                        _ => UaError::Transport,
                    };
                    self.fail(op, e);
                }
                let c = &self.channels[i];
                if c.role == Role::Chat && matches!(c.phase, Phase::Invited | Phase::Open) {
                    let reason = match reason {
                        SessionEndReason::RemoteBye => ChatEndReason::RemoteBye,
                        SessionEndReason::RemoteCancel => ChatEndReason::RemoteCancel,
                        SessionEndReason::Timeout | SessionEndReason::FlowLost => {
                            ChatEndReason::Failed
                        }
                    };
                    self.emit_chat(i, ChatEvent::Ended { reason });
                }
                self.teardown(i, None);
            }
        }
    }

    fn on_invitation(
        &mut self,
        session: SessionId,
        from: String,
        display_name: Option<String>,
        to: String,
        offer: Option<String>,
        large_message: bool,
    ) {
        let now = self.now;
        let usable = self.msrp.as_ref().is_some_and(|m| m.credentials.is_some());
        let path = match their_media(offer.as_deref()) {
            Ok((_, path)) if usable => path,
            // RFC 3261 §21.4.26: an offer we cannot take.
            _ => {
                let _ = self.ua.reject_session(now, session, 488);
                return;
            }
        };
        let id = ChannelId(self.next_channel);
        self.next_channel += 1;
        let role = if large_message {
            Role::LargeIn
        } else {
            Role::Chat
        };
        let mut c = Channel::new(id, role, from.clone());
        c.sip = Some(session);
        c.display_name = display_name.clone();
        c.to = to;
        c.peer_path = path;
        c.phase = Phase::Invited;
        self.channels.push(c);
        if large_message {
            let i = self.channels.len() - 1;
            if self.start_msrp(i).is_err() {
                let _ = self.ua.reject_session(now, session, 488);
                self.channels[i].sip = None;
                self.channels[i].phase = Phase::Closed;
            }
        } else {
            self.emit(Event::Invitation {
                chat: id,
                from,
                display_name,
            });
        }
    }

    fn on_msrp_event(&mut self, i: usize, e: MsrpEvent) {
        let now = self.now;
        match e {
            MsrpEvent::Authenticated { .. } if self.channels[i].phase == Phase::Relay => {
                self.on_relay_path(i)
            }
            MsrpEvent::Authenticated { .. } => {}
            MsrpEvent::Progress {
                message,
                bytes_sent,
                total,
            } => {
                let c = &self.channels[i];
                if let (Some(op), true) = (c.op, c.handle == Some(message)) {
                    let to = c.peer.clone();
                    self.emit(Event::Progress {
                        op,
                        to,
                        bytes_sent,
                        total,
                    });
                }
            }
            MsrpEvent::Sent { message } => {
                let c = &mut self.channels[i];
                let sent = c.sends.iter_mut().find(|s| s.0 == message);
                if let Some((_, op @ Some(_), id)) = sent {
                    let (op, message_id) = (op.take(), id.clone());
                    if let Some(op) = op {
                        self.done(op, Done::ChatSent { message_id });
                    }
                }
            }
            MsrpEvent::Delivered { message } => {
                let c = &mut self.channels[i];
                if c.role == Role::LargeOut && c.handle == Some(message) {
                    if let Some(op) = c.op.take() {
                        let bytes = c.total;
                        self.done(op, Done::LargeMessageSent { bytes });
                    }
                    return self.teardown(i, None);
                }
                if let Some(at) = c.sends.iter().position(|s| s.0 == message) {
                    let (_, op, message_id) = c.sends.remove(at);
                    if let Some(op) = op {
                        self.done(
                            op,
                            Done::ChatSent {
                                message_id: message_id.clone(),
                            },
                        );
                    }
                    let report = ChatEvent::Report {
                        message_id,
                        delivered: true,
                        code: None,
                        reason: String::new(),
                    };
                    self.emit_chat(i, report);
                }
            }
            MsrpEvent::SendFailed {
                message,
                status,
                reason,
            } => {
                let c = &mut self.channels[i];
                if c.role == Role::LargeOut && c.handle == Some(message) {
                    if let Some(op) = c.op.take() {
                        self.fail(op, channel::send_error(&status, &reason));
                    }
                    return self.teardown(i, None);
                }
                if let Some(at) = c.sends.iter().position(|s| s.0 == message) {
                    let (_, op, message_id) = c.sends.remove(at);
                    match op {
                        Some(op) => self.fail(op, channel::send_error(&status, &reason)),
                        None => {
                            let report = ChatEvent::Report {
                                message_id,
                                delivered: false,
                                code: status.code(),
                                reason,
                            };
                            self.emit_chat(i, report);
                        }
                    }
                }
            }
            MsrpEvent::Message {
                message_id,
                content_type,
                body,
            } => self.on_msrp_message(i, message_id, content_type, body, now),
            MsrpEvent::MessageAborted { .. } => {
                // A large message its sender aborted (or we refused) ends the session
                // as a delivered one does: BYE after the linger if the sender sends
                // none (a peer that aborts and forgets the BYE held it for good).
                let c = &mut self.channels[i];
                if c.role == Role::LargeIn && c.linger_until.is_none() {
                    c.linger_until = Some(now + LARGE_MESSAGE_LINGER);
                }
            }
            MsrpEvent::Ended { reason } => {
                let c = &mut self.channels[i];
                if c.phase == Phase::Closed {
                    return;
                }
                if c.phase == Phase::Relay && self.as_pager(i) {
                    return;
                }
                let c = &mut self.channels[i];
                let error = channel::end_error(&reason);
                if let Some(op) = c.op.take() {
                    self.fail(op, error);
                }
                for op in self.channels[i].sends.iter_mut().filter_map(|s| s.1.take()) {
                    self.out.push(Output::Event(Event::Completed {
                        op,
                        result: Err(UaError::Transport),
                    }));
                }
                let c = &mut self.channels[i];
                match c.phase {
                    Phase::Relay if c.incoming() => {
                        // Our relay would not have us: the invitation cannot be taken.
                        if let Some(sip) = c.sip.take() {
                            let _ = self.ua.reject_session(now, sip, 480);
                        }
                        self.channels[i].phase = Phase::Closed;
                    }
                    Phase::Signalling if !c.incoming() => {
                        if let Some(sip) = c.sip {
                            let _ = self.ua.cancel_session(now, sip);
                        }
                        // The answer may cross: `on_sip_done` ends it then.
                    }
                    Phase::Signalling => {}
                    Phase::Open => {
                        if c.role == Role::Chat {
                            let ended = ChatEvent::Ended {
                                reason: ChatEndReason::Transport,
                            };
                            self.emit_chat(i, ended);
                        }
                        self.teardown(i, None);
                    }
                    _ => self.channels[i].phase = Phase::Closed,
                }
            }
        }
    }

    fn on_msrp_message(
        &mut self,
        i: usize,
        message_id: String,
        content_type: String,
        body: Vec<u8>,
        now: Millis,
    ) {
        let (content_type, body) = crate::im::cpim::unwrap(content_type, body);
        let c = &mut self.channels[i];
        match c.role {
            Role::LargeIn => {
                c.linger_until = Some(now + LARGE_MESSAGE_LINGER);
                let from = c.peer.clone();
                // The sender's "typing…" ends with its message, as with a MESSAGE
                // (and is told first, as there).
                self.ua.peer_message_arrived(now, &from);
                self.drain_ua();
                let c = &mut self.channels[i];
                let m = LargeMessage {
                    from,
                    display_name: c.display_name.clone(),
                    to: c.to.clone(),
                    content_type,
                    body,
                };
                self.emit(Event::LargeMessage(m));
            }
            Role::Chat => {
                let bare = content_type.split(';').next().unwrap_or("").trim();
                if bare.eq_ignore_ascii_case(ISCOMPOSING) {
                    // A document we cannot read changes nothing (RFC 3994 §4).
                    if let Ok(doc) = IsComposing::decode(&body) {
                        c.composer.peer_active_until = doc
                            .active_timeout_secs()
                            .map(|s| now + Millis::from(s) * 1000);
                        let e = ChatEvent::Composing {
                            state: doc.state,
                            last_active: doc.last_active,
                        };
                        self.emit_chat(i, e);
                    }
                    return;
                }
                // RFC 3994 §3.3: a message ends the peer's "active".
                if c.composer.peer_active_until.take().is_some() {
                    let idle = ChatEvent::Composing {
                        state: Typing::Idle,
                        last_active: None,
                    };
                    self.emit_chat(i, idle);
                }
                let e = ChatEvent::Message {
                    message_id,
                    content_type,
                    body,
                };
                self.emit_chat(i, e);
            }
            Role::LargeOut => {}
        }
    }

    /// The relay granted the path our SDP carries: INVITE (ours) or 200 (theirs).
    fn on_relay_path(&mut self, i: usize) {
        let now = self.now;
        let max = self.msrp.as_ref().map_or(0, |m| m.max_large_message_size);
        let c = &mut self.channels[i];
        let Some(path) = c.msrp.as_ref().and_then(|m| m.sdp_path()) else {
            return;
        };
        let sdp = channel::our_sdp(&path, max, now / 1000 + 1);
        c.phase = Phase::Signalling;
        if c.incoming() {
            let peer = c.peer_path.clone();
            if let Some(m) = c.msrp.as_mut() {
                let _ = m.set_peer(peer);
            }
            if let Some(sip) = c.sip {
                c.sip_op = Some(self.ua.accept_session(now, sip, &sdp));
            }
        } else {
            let large = c.role == Role::LargeOut;
            let peer = c.peer.clone();
            let (op, sip) = self.ua.start_session(now, &peer, &sdp, large);
            let c = &mut self.channels[i];
            c.sip_op = Some(op);
            c.sip = Some(sip);
        }
    }

    // ───────────── helpers ─────────────

    /// A message `send_message` put in large-message mode that cannot go that way
    /// (the relay failed before any SIP, or the INVITE was refused): sent as a SIP
    /// MESSAGE after all, its op completing with the MESSAGE's outcome. `false` when
    /// the channel is no such message.
    fn as_pager(&mut self, i: usize) -> bool {
        let now = self.now;
        let c = &mut self.channels[i];
        if c.role != Role::LargeOut || c.fallback.is_none() || c.op.is_none() {
            return false;
        }
        let (Some(options), Some(op), Some((_, body))) =
            (c.fallback.take(), c.op.take(), c.body.take())
        else {
            return false;
        };
        c.phase = Phase::Closed;
        let peer = c.peer.clone();
        let pager = self.ua.send_message_with(now, &peer, &body, &options);
        self.pagers.push((pager, op));
        self.close_msrp(i);
        true
    }

    fn op(&mut self) -> OpId {
        self.next_op += 1;
        OpId(self.next_op)
    }

    fn emit(&mut self, e: Event) {
        self.out.push(Output::Event(e));
    }

    fn emit_chat(&mut self, i: usize, event: ChatEvent) {
        let chat = self.channels[i].id;
        self.emit(Event::Chat { chat, event });
    }

    fn done(&mut self, op: OpId, d: Done) {
        self.emit(Event::Completed { op, result: Ok(d) });
    }

    fn fail(&mut self, op: OpId, e: UaError) {
        self.emit(Event::Completed { op, result: Err(e) });
    }

    fn index(&self, id: ChannelId) -> Option<usize> {
        self.channels.iter().position(|c| c.id == id)
    }

    fn channel(&mut self, id: ChannelId) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|c| c.id == id)
    }

    fn open_chat(&self, chat: ChannelId) -> Result<usize, UaError> {
        self.index(chat)
            .filter(|&i| {
                self.channels[i].role == Role::Chat && self.channels[i].phase == Phase::Open
            })
            .ok_or_else(not_open)
    }

    /// A new channel (or the invitation `existing`) with its MSRP session started;
    /// fails `op` and returns `None` when MSRP is unavailable.
    fn open(
        &mut self,
        op: OpId,
        role: Role,
        peer: String,
        existing: Option<ChannelId>,
    ) -> Option<usize> {
        let i = match existing.and_then(|id| self.index(id)) {
            Some(i) => i,
            None if self.channels.len() >= MAX_CHANNELS => {
                let e = UaError::InvalidState(format!(
                    "{MAX_CHANNELS} large messages and chat sessions at once: no more"
                ));
                self.fail(op, e);
                return None;
            }
            None => {
                let id = ChannelId(self.next_channel);
                self.next_channel += 1;
                self.channels.push(Channel::new(id, role, peer));
                self.channels.len() - 1
            }
        };
        match self.start_msrp(i) {
            Ok(()) => {
                self.channels[i].op = Some(op);
                Some(i)
            }
            Err(e) => {
                self.fail(op, e);
                if existing.is_none() {
                    self.channels.remove(i);
                }
                None
            }
        }
    }

    fn start_msrp(&mut self, i: usize) -> Result<(), UaError> {
        let cfg = self.msrp.as_ref().ok_or_else(channel::no_relay)?;
        let creds = cfg.credentials.as_ref().ok_or_else(channel::no_relay)?;
        let session = channel::open_session(cfg, creds, (self.new_rng)())?;
        let connect_by = self.now + self.connect_timeout;
        let c = &mut self.channels[i];
        c.msrp = Some(session);
        c.phase = Phase::Relay;
        c.connect_by = Some(connect_by);
        Ok(())
    }

    /// Sends our typing `state` inside the chat (no reports: RFC 3994 indications
    /// are not worth a REPORT).
    fn indicate(&mut self, i: usize, state: Typing) {
        let now = self.now;
        let last = (self.unix_offset + now) / 1000;
        let doc = channel::typing(state, self.composing_refresh, Some(last));
        let reports = Reports {
            success: SuccessReport::No,
            failure: FailureReport::No,
        };
        if let Some(m) = self.channels[i].msrp.as_mut() {
            let _ = m.send(now, ISCOMPOSING, doc, reports);
        }
    }

    /// Ends a channel: BYE if its SIP session is up (the app's `close` op waits on
    /// it), its MSRP socket closed.
    fn teardown(&mut self, i: usize, close_op: Option<OpId>) {
        let now = self.now;
        let c = &mut self.channels[i];
        let was_up = matches!(c.phase, Phase::Open | Phase::Signalling);
        c.phase = Phase::Closed;
        match c.sip.take() {
            Some(sip) if was_up => {
                let bye = self.ua.end_session(now, sip);
                self.internal.push((bye, close_op));
            }
            _ => {
                if let Some(op) = close_op {
                    self.done(op, Done::ChatClosed);
                }
            }
        }
        self.close_msrp(i);
    }

    fn close_msrp(&mut self, i: usize) {
        let now = self.now;
        if let Some(m) = self.channels[i].msrp.as_mut() {
            if !m.is_ended() {
                m.close(now);
            }
        }
    }
}

impl Channel {
    /// Theirs: the peer's offer came first.
    fn incoming(&self) -> bool {
        !self.peer_path.is_empty()
    }
}

fn not_invited() -> UaError {
    UaError::InvalidState("no chat invitation waiting with this id".into())
}

fn not_open() -> UaError {
    UaError::InvalidState("the chat session is not open".into())
}
