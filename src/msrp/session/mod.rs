//! The MSRP session engine (sans-IO): one MSRP session over one WebSocket to a relay
//! (RFC 7977: subprotocol `msrp`; a WebSocket client always goes through a relay and
//! authenticates to it, RFC 4976). Messages go out in chunks and come back together
//! (RFC 4975 §5.1, §7.1), with transaction responses, reports and timeouts.
//!
//! It owns no socket, clock, timer or random source. The caller runs the loop the
//! user agent ([`crate::ua`]) uses:
//!
//! ```text
//!   new(config, rng) ─────────────────────────────────┐ (queues Connect)
//!   socket opened ─► handle_input(now, Connected)      │
//!   bytes arrived ─► handle_input(now, Frame(bytes))   ├─► then drain:
//!   socket closed ─► handle_input(now, Disconnected)   │   while let Some(o) = session.poll_output() {
//!   timer fired ───► handle_input(now, Timeout)        │     Transmit(bytes) → ws.send(bytes)
//!   app ───────────► send / set_peer / cancel / close ─┘     Connect / Close → open / close the socket
//!                                                            Timeout(at)     → re-arm the one timer
//!                                                            Event(e)        → tell the app }
//! ```
//!
//! Time is milliseconds on any monotonic clock the caller likes.
//!
//! ```
//! use imsip::auth::{Credentials, RandomSource};
//! use imsip::msrp::session::{Config, Input, MsrpSession, Output, Reports};
//! use imsip::msrp::MsrpUri;
//! struct Rng(u64);
//! impl RandomSource for Rng {
//!     fn fill(&mut self, buf: &mut [u8]) {
//!         for b in buf { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1); *b = (self.0 >> 33) as u8; }
//!     }
//! }
//! let local = MsrpUri::parse("msrps://x8f2k.invalid:2855/s3k9d0aq;ws").unwrap();
//! let relay = MsrpUri::parse("msrps://relay.example.org:443;ws").unwrap();
//! let config = Config::new(local, relay, Credentials::password("alice", "secret"));
//! let mut session = MsrpSession::new(config, Box::new(Rng(7)));
//! assert_eq!(session.poll_output(), Some(Output::Connect));
//! session.handle_input(0, Input::Connected);
//! match session.poll_output() {
//!     // MSRP <tid> AUTH, To-Path the relay, From-Path ours (RFC 4976 §5.1).
//!     Some(Output::Transmit(auth)) => assert!(String::from_utf8_lossy(&auth).contains(" AUTH\r\nTo-Path: msrps://relay.example.org:443;ws\r\n")),
//!     other => panic!("{other:?}"),
//! }
//! // Messages may be given at once: chunks go out once the relay granted a path
//! // (`Event::Authenticated`) and the peer's path is known (`set_peer`).
//! let handle = session.send(0, "text/plain", b"Hello".to_vec(), Reports::default()).unwrap();
//! # let _ = handle;
//! ```
//!
//! ## The parts
//!
//! ```text
//!  mod.rs         MsrpSession: routes inputs and frames, folds deadlines, ends the session
//!   ├ relay_auth.rs  AUTH to the relay, digest answers, Use-Path, refresh (RFC 4976 §5)
//!   ├ sender.rs      chunking, the window, SEND transactions, reports on our messages (RFC 4975 §7.1)
//!   ├ receiver.rs    answers, reassembly, success REPORTs, the memory bounds (RFC 4975 §7.2, §7.3)
//!   └ ranges.rs      byte ranges covered (reassembly, success reports)
//!  api.rs         Config, Input, Output, Event and the error types
//! ```
//!
//! Each part owns its state and its deadlines (`next_deadline`, `handle_timeout`);
//! the session only takes the earliest. Addressing (RFC 4976 §5.2 for clients, §6 for relays): chunks go
//! `To-Path` = the relay's `Use-Path` then the peer's path, `From-Path` = our URI;
//! a request reaches us with our URI alone in its `To-Path` (each relay takes itself
//! off the front and puts itself at the front of the `From-Path`), anything else is
//! answered 481; responses go back one hop (to the first `From-Path` URI) and
//! success REPORTs to the whole `From-Path` of the message.

mod api;
mod ranges;
mod receiver;
mod relay_auth;
mod sender;

pub use api::*;

use crate::auth::RandomSource;
use crate::message::MediaType;
use crate::msrp::{Decoder, Frame, Method, MsrpUri, StartLine, CONTENT_TYPE, MAX_BODY_BYTES};
use receiver::{respond, Limits, Receiver};
use relay_auth::{AuthStep, RelayAuth};
use sender::{Route, Sender};
use std::collections::VecDeque;

/// The latest time handled; later times are clamped (no deadline overflows).
const MAX_TIME: Millis = 1 << 62;

/// The session's lifetime, tied to its connection:
///
/// ```text
///   Connecting ── Connected ──► Open ── close() / Disconnected / AUTH refused / malformed bytes ──► Ended
///        └──────────────── close() / Disconnected ─────────────────────────────────────────────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    Open,
    Ended,
}

/// One MSRP session over one WebSocket connection to a relay. See the module docs.
pub struct MsrpSession {
    local: MsrpUri,
    rng: Box<dyn RandomSource>,
    state: State,
    decoder: Decoder,
    auth: RelayAuth,
    sender: Sender,
    receiver: Receiver,
    /// The peer's `a=path`, its relays first, its own URI last.
    peer: Option<Vec<MsrpUri>>,
    out: VecDeque<Output>,
    now: Millis,
    /// The wake-up last asked for with [`Output::Timeout`].
    armed: Option<Millis>,
}

impl MsrpSession {
    /// A session; its first output is [`Output::Connect`]. `chunk_size` is clamped
    /// to `1..=`[`MAX_BODY_BYTES`], `window` to at least 1.
    pub fn new(config: Config, rng: Box<dyn RandomSource>) -> MsrpSession {
        let Config {
            local,
            relay,
            credentials,
            chunk_size,
            window,
            max_message_bytes,
            max_partial_messages,
            max_buffered_bytes,
            transaction_timeout,
            report_timeout,
            auth_expires,
        } = config;
        let mut out = VecDeque::new();
        out.push_back(Output::Connect);
        MsrpSession {
            auth: RelayAuth::new(
                relay,
                local.clone(),
                credentials,
                auth_expires,
                transaction_timeout,
            ),
            sender: Sender::new(
                chunk_size.clamp(1, MAX_BODY_BYTES),
                window.max(1),
                transaction_timeout,
                report_timeout,
            ),
            receiver: Receiver::new(Limits {
                max_message_bytes,
                max_partial_messages,
                max_buffered_bytes,
            }),
            local,
            rng,
            state: State::Connecting,
            decoder: Decoder::new(),
            peer: None,
            out,
            now: 0,
            armed: None,
        }
    }

    // ───────────── public API ─────────────

    /// The next thing to do, or `None` when there is nothing left. Chunks are
    /// written here, as the window allows: drain it after every input and command.
    pub fn poll_output(&mut self) -> Option<Output> {
        loop {
            if let Some(o) = self.out.pop_front() {
                return Some(o);
            }
            if !self.write_chunk() {
                return None;
            }
            self.arm();
        }
    }

    /// Feeds an input at time `now`. A `now` far past the requested wake-up (a
    /// throttled tab) is fine: every due deadline is handled as of `now`.
    pub fn handle_input(&mut self, now: Millis, input: Input<'_>) {
        self.advance(now);
        if self.state == State::Ended {
            return;
        }
        if input == Input::Timeout {
            // The caller's timer is spent: say the next wake-up again.
            self.armed = None;
        }
        match input {
            Input::Connected => self.on_connected(),
            Input::Frame(bytes) => self.on_bytes(bytes),
            Input::Disconnected => self.end(EndReason::Disconnected, false),
            Input::Timeout => {}
        }
        self.run_timers();
        self.arm();
    }

    /// Sets the peer's path from its SDP `a=path` ([`crate::sdp::MsrpMedia::path`]):
    /// its relays first, its own URI last. Chunks go to the relay's `Use-Path`
    /// followed by this path (RFC 4976 §5.2). May be called again (a new offer).
    pub fn set_peer(&mut self, path: Vec<MsrpUri>) -> Result<(), CommandError> {
        if self.state == State::Ended {
            return Err(CommandError::Ended);
        }
        if path.is_empty() {
            return Err(CommandError::EmptyPath);
        }
        self.peer = Some(path);
        Ok(())
    }

    /// Queues a message: a new `Message-ID`, then chunks of the configured size as
    /// the window allows (RFC 4975 §7.1.1). Its events carry the handle returned.
    /// Messages wait for the relay's path and the peer's; they go out in order.
    pub fn send(
        &mut self,
        now: Millis,
        content_type: &str,
        body: Vec<u8>,
        reports: Reports,
    ) -> Result<MessageHandle, CommandError> {
        self.advance(now);
        if self.state == State::Ended {
            return Err(CommandError::Ended);
        }
        // RFC 4975 §7.1.1: a body goes with its Content-Type, one type/subtype line.
        let one_line =
            content_type.trim() == content_type && !content_type.chars().any(char::is_control);
        if !one_line || MediaType::parse(content_type, CONTENT_TYPE).is_err() {
            return Err(CommandError::BadContentType);
        }
        Ok(self
            .sender
            .queue(content_type, body, reports, &mut *self.rng))
    }

    /// Stops a message not yet sent (`SendFailed` with [`SendFailure::Cancelled`]);
    /// if part of it went out, a chunk ending `#` tells the receiver to drop it
    /// (RFC 4975 §7.1.1). `false` when the message is sent or unknown.
    pub fn cancel(&mut self, now: Millis, message: MessageHandle) -> bool {
        self.advance(now);
        let route = self.route();
        let cancelled = self
            .sender
            .cancel(message, route.as_ref(), &mut *self.rng, &mut self.out);
        self.arm();
        cancelled
    }

    /// Ends the session: nothing more is sent, every message still going fails with
    /// [`SendFailure::Closed`], partial messages are freed, then [`Output::Close`]
    /// and [`Event::Ended`].
    pub fn close(&mut self, now: Millis) {
        self.advance(now);
        self.out.retain(|o| !matches!(o, Output::Transmit(_)));
        self.end(EndReason::Closed, true);
    }

    /// The relay's `Use-Path` while it is granted.
    pub fn use_path(&self) -> Option<&[MsrpUri]> {
        self.auth.use_path()
    }

    /// Our SDP `a=path`: the relay's `Use-Path`, then our URI (RFC 4976 §5.1); `None`
    /// before the relay granted a path.
    pub fn sdp_path(&self) -> Option<Vec<MsrpUri>> {
        let mut path = self.auth.use_path()?.to_vec();
        path.push(self.local.clone());
        Some(path)
    }

    /// Our session URI.
    pub fn local(&self) -> &MsrpUri {
        &self.local
    }

    /// The `Message-ID` of a message not finished yet.
    pub fn message_id(&self, message: MessageHandle) -> Option<&str> {
        self.sender.message_id(message)
    }

    /// Body bytes held by incoming messages not complete yet (buffer lengths, as
    /// the limits count them; 0 once every partial message is done or freed).
    pub fn buffered_bytes(&self) -> usize {
        self.receiver.buffered_bytes()
    }

    /// Whether the session has ended.
    pub fn is_ended(&self) -> bool {
        self.state == State::Ended
    }

    // ───────────── plumbing ─────────────

    /// Moves the clock forward to `now` (never back; clamped to [`MAX_TIME`]).
    fn advance(&mut self, now: Millis) {
        self.now = self.now.max(now.min(MAX_TIME));
    }

    /// Where chunks go, once the relay granted a path and the peer is known.
    fn route(&self) -> Option<Route> {
        if self.state != State::Open {
            return None;
        }
        let use_path = self.auth.use_path()?;
        let peer = self.peer.as_ref()?;
        Some(Route {
            to_path: use_path.iter().chain(peer).cloned().collect(),
            from: self.local.clone(),
        })
    }

    fn write_chunk(&mut self) -> bool {
        match self.route() {
            Some(route) => self
                .sender
                .write_next(self.now, &route, &mut *self.rng, &mut self.out),
            None => false,
        }
    }

    fn on_connected(&mut self) {
        if self.state != State::Connecting {
            return;
        }
        self.state = State::Open;
        if let Some(step) = self.auth.start(self.now, &mut *self.rng) {
            self.auth_step(step);
        }
    }

    /// Bytes from the WebSocket: every complete frame in them, in order. Bytes that
    /// are not MSRP end the session: nothing after them can be framed.
    fn on_bytes(&mut self, bytes: &[u8]) {
        if self.state != State::Open {
            return;
        }
        self.decoder.push(bytes);
        while self.state == State::Open {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => self.on_frame(frame),
                Ok(None) => break,
                Err(e) => self.end(EndReason::Failed(SessionError::Malformed(e)), true),
            }
        }
    }

    fn on_frame(&mut self, frame: Frame) {
        let method = match frame.start_line() {
            StartLine::Response { .. } => {
                if self.auth.owns(frame.tid()) {
                    let step = self.auth.on_response(self.now, &frame, &mut *self.rng);
                    self.auth_step(step);
                } else {
                    // A response to none of ours (a `#` chunk's, a late one) is dropped.
                    let ours = self.sender.on_response(self.now, &frame, &mut self.out);
                    // RFC 4975 §10: 481, the session does not exist; the sender
                    // should terminate it (a peer that went away, a relay that
                    // forgot it): not left looking open.
                    if ours && frame.status_code() == Some(481) {
                        self.end(EndReason::Failed(SessionError::NoSuchSession), true);
                    }
                }
                return;
            }
            StartLine::Request(method) => method,
        };
        // RFC 4975 §7.3: a request for us has our URI, alone, in its To-Path.
        let for_us = frame.to_path().len() == 1
            && frame
                .to_path()
                .first()
                .is_some_and(|u| u.matches(&self.local));
        match method {
            // REPORTs are never answered (RFC 4975 §7.1.2): one not for us is dropped.
            Method::Report if for_us => self.sender.on_report(&frame, &mut self.out),
            Method::Report => {}
            _ if !for_us => respond(&frame, 481, &mut self.out),
            Method::Send => {
                self.receiver
                    .on_send(&frame, &self.local, &mut *self.rng, &mut self.out)
            }
            // RFC 4975 §10: a method not understood gets 501; AUTH is a relay's method
            // (RFC 4976 §5), unknown to an endpoint.
            Method::Auth | Method::Other(_) => respond(&frame, 501, &mut self.out),
        }
    }

    fn auth_step(&mut self, step: AuthStep) {
        match step {
            AuthStep::Send(bytes) => self.out.push_back(Output::Transmit(bytes)),
            AuthStep::Authenticated { use_path, expires } => self
                .out
                .push_back(Output::Event(Event::Authenticated { use_path, expires })),
            AuthStep::Failed(e) => self.end(EndReason::Failed(e), true),
        }
    }

    fn run_timers(&mut self) {
        if self.state != State::Open {
            return;
        }
        if let Some(step) = self.auth.handle_timeout(self.now, &mut *self.rng) {
            self.auth_step(step);
        }
        if self.state == State::Open {
            self.sender.handle_timeout(self.now, &mut self.out);
        }
    }

    /// Asks the caller for a wake-up at the earliest deadline, when it changed.
    fn arm(&mut self) {
        let next = match self.state {
            State::Open => match (self.auth.next_deadline(), self.sender.next_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            State::Connecting | State::Ended => None,
        };
        if next != self.armed {
            self.armed = next;
            if let Some(at) = next {
                self.out.push_back(Output::Timeout(at));
            }
        }
    }

    /// The end, whatever the cause: messages still going fail, partial messages are
    /// freed, deadlines stop.
    fn end(&mut self, reason: EndReason, close_socket: bool) {
        if self.state == State::Ended {
            return;
        }
        self.state = State::Ended;
        let (status, text) = match reason {
            EndReason::Closed => (SendFailure::Closed, "the session was closed"),
            EndReason::Disconnected => (SendFailure::Transport, "the connection was lost"),
            EndReason::Failed(_) => (SendFailure::Transport, "the session failed"),
        };
        if close_socket {
            self.out.push_back(Output::Close);
        }
        self.sender.fail_all(&status, text, &mut self.out);
        self.receiver.abort_all(&mut self.out);
        self.auth.stop();
        self.decoder = Decoder::new();
        self.armed = None;
        self.out.push_back(Output::Event(Event::Ended { reason }));
    }
}
