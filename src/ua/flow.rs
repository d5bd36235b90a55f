//! The WebSocket flow: connecting, CRLF keep-alive (RFC 5626 §4.4.1) and the
//! reconnect backoff (RFC 5626 §4.5).
//!
//! ```text
//!   Idle ──want()──► Connecting ──Connected──► Connected
//!    ▲                  │                         │ socket lost / no pong (when required)
//!    │                  ▼                         ▼
//!    └── nothing wanted ◄──────────────────── Waiting ──Reconnect timer──► Connecting
//!   any ──close()──► Closed (final)
//! ```
//!
//! Pongs are only *required* when the registrar negotiated outbound
//! (`Require: outbound`) or sent `Flow-Timer`; otherwise pings are still sent
//! but a core that never answers them (OpenSIPS' proto_ws does not) keeps its
//! flow. The consecutive-failure count that sets the backoff resets only when a
//! REGISTER succeeds on the flow (or, when no registration is wanted, on any 2xx),
//! so a core that accepts the upgrade and drops every REGISTER sees the waits grow
//! to the maximum instead of a reconnect storm.

use super::api::{ConnectionState, Event, Millis, Output};
use super::context::Ctx;
use super::timers::Timer;

/// The flow's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlowState {
    /// No flow wanted.
    Idle,
    /// `Output::Connect` was emitted; waiting for `Input::Connected`.
    Connecting,
    Connected,
    /// Lost; the Reconnect timer is set.
    Waiting,
    /// `close()` was called: nothing more happens.
    Closed,
}

/// The flow's connection state lives in [`Ctx::flow`] (the parts read it there);
/// the rest of the flow's bookkeeping is here.
#[derive(Debug)]
pub(super) struct Flow {
    /// Consecutive failures since the last success (RFC 5626 §4.5).
    failures: u32,
    /// Pongs are required on this flow.
    pong_required: bool,
    /// The keep-alive interval in force on this flow, ms (0: off).
    interval: Millis,
    /// The host is offline (the app said so): no reconnect attempts until online.
    offline: bool,
    /// Which of the core's URLs the last `Output::Connect` was for: 0 is
    /// [`Config::server`](super::Config::server), `i` is `alternate_servers[i - 1]`.
    server: usize,
    /// Whether the last connection opened (`None` before the first attempt).
    opened: Option<bool>,
    /// Connects that failed before opening since the last one that opened.
    failed_in_row: usize,
    /// When a REGISTER first succeeded on this flow.
    registered_at: Option<Millis>,
}

/// A flow that registered and then lived this long was a success for the backoff
/// (RFC 5626 §4.5: the count resets). One lost sooner — a core that closes right
/// after each 200 — keeps the count growing: resetting at the 200 made such a core
/// get a REGISTER every half second, for ever.
const STABLE_FLOW: Millis = 30_000;

impl Flow {
    pub fn new() -> Flow {
        Flow {
            failures: 0,
            pong_required: false,
            interval: 0,
            offline: false,
            server: 0,
            opened: None,
            failed_in_row: 0,
            registered_at: None,
        }
    }

    /// The connect that just failed (before it opened) leaves some of the core's URLs
    /// untried since the last connection that opened, and one is scheduled: the
    /// registration and the app's work wait for it instead of failing `transport`.
    pub fn trying_others(&self, cx: &Ctx) -> bool {
        self.opened == Some(false)
            && self.failed_in_row <= cx.cfg.alternate_servers.len()
            && cx.timers.is_set(Timer::Reconnect)
    }

    /// The URL the last `Output::Connect` asked for (see [`start_connect`](Self::start_connect)).
    pub fn server<'c>(&self, cfg: &'c super::Config) -> &'c str {
        match self.server.checked_sub(1) {
            Some(i) => cfg.alternate_servers.get(i).map_or(&cfg.server, |s| s),
            None => &cfg.server,
        }
    }

    /// Opens the flow if none is open or coming.
    pub fn want(&mut self, cx: &mut Ctx) {
        if cx.flow == FlowState::Idle {
            self.start_connect(cx);
        }
    }

    /// Connects: to `server` first; after a connection that failed before it opened
    /// or before a REGISTER succeeded on it, to the next of the core's URLs (round the
    /// list); after one that registered and was lost, to `server` again (the first is
    /// the preferred one).
    fn start_connect(&mut self, cx: &mut Ctx) {
        let urls = 1 + cx.cfg.alternate_servers.len();
        self.server = match self.opened {
            Some(false) => (self.server + 1) % urls,
            _ => 0,
        };
        self.opened = Some(false);
        cx.flow = FlowState::Connecting;
        // A connect that neither opens nor fails (SYNs dropped by a firewall, a
        // network that changed under the handshake) would otherwise hold the flow
        // for as long as the host's TCP stack keeps trying, minutes.
        cx.timers
            .set(Timer::ConnectDeadline, cx.now + cx.cfg.connect_timeout);
        cx.out.push(Output::Connect);
        cx.emit(Event::Connection(ConnectionState::Connecting));
    }

    /// The socket opened. Returns false when it is not wanted any more (closed).
    pub fn on_connected(&mut self, cx: &mut Ctx) -> bool {
        if cx.flow == FlowState::Closed {
            return false;
        }
        cx.flow = FlowState::Connected;
        self.opened = Some(true);
        self.failed_in_row = 0;
        self.registered_at = None;
        cx.timers.stop(Timer::ConnectDeadline);
        self.pong_required = false;
        self.interval = cx.cfg.keep_alive_interval as Millis * 1000;
        cx.timers.stop(Timer::Reconnect);
        cx.timers.stop(Timer::PongDeadline);
        self.arm_keep_alive(cx);
        cx.emit(Event::Connection(ConnectionState::Connected));
        true
    }

    fn arm_keep_alive(&mut self, cx: &mut Ctx) {
        if self.interval > 0 {
            cx.timers.set(Timer::KeepAlive, cx.now + self.interval);
        } else {
            cx.timers.stop(Timer::KeepAlive);
        }
    }

    /// A REGISTER succeeded on this flow: the failure count resets once the flow
    /// has lived [`STABLE_FLOW`] since (checked when it is lost, or at a later
    /// REGISTER), and the 200 says whether pongs are required (RFC 5626 §4.4.1).
    pub fn on_registered(&mut self, cx: &mut Ctx, outbound: bool, flow_timer: Option<u32>) {
        let since = *self.registered_at.get_or_insert(cx.now);
        if cx.now.saturating_sub(since) >= STABLE_FLOW {
            self.failures = 0;
        }
        self.pong_required = outbound || flow_timer.is_some();
        if let Some(secs) = flow_timer.filter(|s| *s > 0) {
            // RFC 5626 §4.4.1: send the keep-alive at a random point between 80 %
            // and 100 % of the Flow-Timer.
            let ms = secs as f64 * 1000.0 * (0.8 + 0.2 * cx.fraction());
            self.interval = ms as Millis;
            self.arm_keep_alive(cx);
        }
    }

    /// Some request succeeded while no registration is wanted: the flow works.
    pub fn on_success_without_registration(&mut self) {
        self.failures = 0;
    }

    /// Any frame arrived: the flow is alive.
    pub fn on_frame(&mut self, cx: &mut Ctx) {
        cx.timers.stop(Timer::PongDeadline);
        if cx.flow == FlowState::Connected && !cx.timers.is_set(Timer::KeepAlive) {
            self.arm_keep_alive(cx);
        }
    }

    /// KeepAlive fired: ping. Returns true when PongDeadline fired and the flow is
    /// declared dead (the caller then treats it as lost).
    pub fn on_timer(&mut self, cx: &mut Ctx, timer: Timer) -> bool {
        match timer {
            Timer::KeepAlive if cx.flow == FlowState::Connected => {
                cx.transmit("\r\n\r\n".to_owned());
                if self.pong_required {
                    cx.timers
                        .set(Timer::PongDeadline, cx.now + cx.cfg.keep_alive_timeout);
                } else {
                    // No pong expected: ping again at the next interval.
                    self.arm_keep_alive(cx);
                }
                false
            }
            Timer::PongDeadline if cx.flow == FlowState::Connected => {
                // RFC 5626 §4.4.1: no pong → the flow is dead; close it and recover.
                cx.out.push(Output::Close);
                true
            }
            Timer::ConnectDeadline if cx.flow == FlowState::Connecting => {
                // Given up like a failed connect: closed, then the backoff.
                cx.out.push(Output::Close);
                true
            }
            Timer::Reconnect if cx.flow == FlowState::Waiting => {
                self.start_connect(cx);
                false
            }
            _ => false,
        }
    }

    /// The socket closed or failed. With `reconnect`, a new attempt is scheduled
    /// after the backoff; returns the delay.
    pub fn on_lost(&mut self, cx: &mut Ctx, reconnect: bool) -> Option<Millis> {
        if reconnect && self.opened == Some(true) && self.registered_at.is_none() {
            // Opened, and lost before any REGISTER succeeded on it (an edge whose
            // upgrade works but whose registrar side is dead, or that drops every
            // REGISTER): for failover it failed like a connect (RFC 5626 §4.5: a flow
            // that cannot be registered is a failed flow), so the next URL comes next.
            self.opened = Some(false);
        }
        if self.opened == Some(false) {
            self.failed_in_row += 1;
        }
        cx.timers.stop(Timer::ConnectDeadline);
        cx.timers.stop(Timer::KeepAlive);
        cx.timers.stop(Timer::PongDeadline);
        if reconnect {
            cx.flow = FlowState::Waiting;
            if self.offline {
                // Offline: nothing is scheduled until the host is online again (and
                // a loss while offline is not the core's failure: no backoff step).
                cx.emit(Event::Connection(ConnectionState::Disconnected {
                    retry_in: None,
                }));
                return None;
            }
            if self
                .registered_at
                .is_some_and(|t| cx.now.saturating_sub(t) >= STABLE_FLOW)
            {
                self.failures = 0;
            }
            self.registered_at = None;
            let delay = cx.backoff(self.failures);
            self.failures = self.failures.saturating_add(1);
            cx.timers.set(Timer::Reconnect, cx.now + delay);
            cx.emit(Event::Connection(ConnectionState::Disconnected {
                retry_in: Some(delay),
            }));
            Some(delay)
        } else {
            cx.flow = FlowState::Idle;
            cx.timers.stop(Timer::Reconnect);
            cx.emit(Event::Connection(ConnectionState::Disconnected {
                retry_in: None,
            }));
            None
        }
    }

    /// Whether pongs are required on this flow (outbound or Flow-Timer).
    pub fn pong_required(&self) -> bool {
        self.pong_required
    }

    /// Expect a sign of life within `within` ms (after a probe): without one the
    /// flow is declared dead (PongDeadline).
    pub fn expect_answer(&mut self, cx: &mut Ctx, within: Millis) {
        if cx.flow == FlowState::Connected {
            cx.timers.set(Timer::PongDeadline, cx.now + within);
        }
    }

    /// Reconnects now instead of waiting out the backoff (the page became
    /// visible, the host came back online).
    pub fn reconnect_now(&mut self, cx: &mut Ctx) {
        if cx.flow == FlowState::Waiting && !self.offline {
            cx.timers.set(Timer::Reconnect, cx.now);
        }
    }

    /// The host went offline (`false`) or came back (`true`). Offline: the
    /// reconnect timer stops (attempts would fail and grow the backoff);
    /// online: a flow that is wanted reconnects at once.
    pub fn set_online(&mut self, cx: &mut Ctx, online: bool) {
        self.offline = !online;
        if self.offline {
            if cx.timers.is_set(Timer::Reconnect) {
                // Tell the app no attempt is scheduled any more.
                cx.timers.stop(Timer::Reconnect);
                cx.emit(Event::Connection(ConnectionState::Disconnected {
                    retry_in: None,
                }));
            }
        } else if cx.flow == FlowState::Waiting {
            cx.timers.set(Timer::Reconnect, cx.now);
        }
    }

    /// `close()`: final. Returns whether the socket must be closed.
    pub fn close(&mut self, cx: &mut Ctx) -> bool {
        let open = cx.flow_active();
        if open || cx.flow == FlowState::Waiting {
            // The connection state says so, as the registration's does.
            cx.emit(Event::Connection(ConnectionState::Disconnected {
                retry_in: None,
            }));
        }
        cx.flow = FlowState::Closed;
        open
    }
}
