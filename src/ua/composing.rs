//! Composition indications both ways (RFC 3994): ours, refreshed and timed out as
//! §3.2 says, and the peers', which lapse by themselves as §3.3 says. The state
//! machines are drawn in [`crate::im::iscomposing`].
//!
//! Sending: `set_composing(peer, true)` sends "active" when idle and otherwise only
//! notes the activity, so keystrokes cost nothing; while activity continues,
//! "active" is sent again a tenth of the refresh interval before the interval we
//! announced lapses (never more often); after `composing_idle_timeout` without
//! activity, or on `set_composing(peer, false)`, "idle" is sent; sending a message
//! to the peer ends the state without an "idle" (the message says it, §3.2). A peer
//! that refuses an indication (415, 488, 606) gets no more for the session.

use super::api::{ComposingReceived, Event, Millis};
use super::context::Ctx;
use super::messager::{remember_at_most, Messager};
use super::timers::Timer;
use super::transaction::Req;
use crate::im::iscomposing::{IsComposing, State, ISCOMPOSING_CONTENT_TYPE};
use crate::message::date::iso8601;
use crate::message::Uri;

/// Peers tracked each way; the oldest is forgotten beyond this.
const MAX_PEERS: usize = 64;
/// The smallest refresh RFC 3994 §3.2 allows.
const MIN_REFRESH_SECS: u32 = 60;
/// What the composer reports it composes.
const COMPOSED_TYPE: &str = "text/plain";

/// Our state towards one peer, while active.
#[derive(Debug)]
struct Composer {
    peer: Uri,
    key: String,
    /// When "active" was last sent.
    last_sent: Millis,
    /// The app's last report of activity.
    last_activity: Millis,
}

/// A peer's "active", until it lapses.
#[derive(Debug)]
struct Indicator {
    from: String,
    lapses_at: Millis,
}

#[derive(Debug, Default)]
pub(super) struct Composing {
    composers: Vec<Composer>,
    indicators: Vec<Indicator>,
    /// Peers that refused an indication.
    refused: Vec<String>,
}

fn key_of(peer: &Uri) -> String {
    peer.as_str().to_ascii_lowercase()
}

impl Composing {
    fn refresh_secs(cx: &Ctx) -> u32 {
        cx.cfg.composing_refresh.max(MIN_REFRESH_SECS)
    }

    /// When an active composer sends "active" again.
    fn resend_at(cx: &Ctx, c: &Composer) -> Millis {
        let refresh = Millis::from(Self::refresh_secs(cx)) * 1000;
        c.last_sent + refresh - refresh / 10
    }

    fn idle_at(cx: &Ctx, c: &Composer) -> Millis {
        c.last_activity + Millis::from(cx.cfg.composing_idle_timeout.max(1)) * 1000
    }

    /// The app reports composing (`active`) or not towards `peer`; the indications
    /// to send now. `ready`: whether requests can go out (if not, nothing is sent
    /// or remembered: the next keystroke starts again).
    pub fn set(&mut self, cx: &mut Ctx, peer: Uri, active: bool, ready: bool) -> Option<Req> {
        let key = key_of(&peer);
        if !ready || self.refused.contains(&key) {
            return None;
        }
        let at = self.composers.iter().position(|c| c.key == key);
        let req = match (at, active) {
            (Some(i), true) => {
                if let Some(c) = self.composers.get_mut(i) {
                    c.last_activity = cx.now;
                }
                None
            }
            (None, true) => {
                let req = Self::indication(cx, &peer, State::Active, cx.now);
                let composer = Composer {
                    peer,
                    key,
                    last_sent: cx.now,
                    last_activity: cx.now,
                };
                remember_at_most(&mut self.composers, composer, MAX_PEERS);
                Some(req)
            }
            (Some(i), false) => {
                let c = self.composers.remove(i);
                Some(Self::indication(cx, &c.peer, State::Idle, c.last_activity))
            }
            (None, false) => None,
        };
        self.arm_send(cx);
        req
    }

    /// A message of ours went to `peer`: it ends our composing state there without
    /// an "idle" (RFC 3994 §3.2).
    pub fn on_message_sent(&mut self, cx: &mut Ctx, peer: &Uri) {
        let key = key_of(peer);
        self.composers.retain(|c| c.key != key);
        self.arm_send(cx);
    }

    /// [`Timer::ComposingSend`] fired: refreshes and idles that are due.
    pub fn on_send_timer(&mut self, cx: &mut Ctx) -> Vec<Req> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.composers.len() {
            let c = &self.composers[i];
            if cx.now >= Self::idle_at(cx, c) {
                let c = self.composers.remove(i);
                out.push(Self::indication(cx, &c.peer, State::Idle, c.last_activity));
                continue;
            }
            if cx.now >= Self::resend_at(cx, c) {
                let peer = c.peer.clone();
                out.push(Self::indication(cx, &peer, State::Active, cx.now));
                self.composers[i].last_sent = cx.now;
            }
            i += 1;
        }
        self.arm_send(cx);
        out
    }

    /// `peer` refused an indication: none more for the session, and our state
    /// there ends.
    pub fn refused(&mut self, cx: &mut Ctx, peer: &Uri) {
        let key = key_of(peer);
        self.composers.retain(|c| c.key != key);
        if !self.refused.contains(&key) {
            remember_at_most(&mut self.refused, key, MAX_PEERS * 4);
        }
        self.arm_send(cx);
    }

    fn arm_send(&self, cx: &mut Ctx) {
        let next = self
            .composers
            .iter()
            .map(|c| Self::resend_at(cx, c).min(Self::idle_at(cx, c)))
            .min();
        match next {
            Some(at) => cx.timers.set(Timer::ComposingSend, at),
            None => cx.timers.stop(Timer::ComposingSend),
        }
    }

    fn indication(cx: &mut Ctx, peer: &Uri, state: State, activity: Millis) -> Req {
        let mut doc = IsComposing::new(state);
        doc.content_type = Some(COMPOSED_TYPE.into());
        match state {
            State::Active => doc.refresh = Some(Self::refresh_secs(cx)),
            // RFC 3994 §3.2: idle says when the user was last active.
            State::Idle => doc.last_active = Some(cx.unix_secs_at(activity)),
        }
        Messager::notice(
            cx,
            peer,
            ISCOMPOSING_CONTENT_TYPE,
            doc.encode().into_bytes(),
        )
    }

    // ───────────── the peers' indications ─────────────

    /// A peer's indication arrived: reported, and an "active" lapses by itself
    /// after its refresh (or 120 s) without another (RFC 3994 §3.3).
    pub fn on_indication(&mut self, cx: &mut Ctx, from: String, doc: IsComposing) {
        self.indicators.retain(|i| i.from != from);
        if let Some(secs) = doc.active_timeout_secs() {
            let indicator = Indicator {
                from: from.clone(),
                lapses_at: cx.now + Millis::from(secs) * 1000,
            };
            remember_at_most(&mut self.indicators, indicator, MAX_PEERS);
        }
        self.arm_lapse(cx);
        cx.emit(Event::Composing(ComposingReceived {
            from,
            state: doc.state,
            last_active: doc.last_active.map(iso8601),
            content_type: doc.content_type,
        }));
    }

    /// A message from `from` arrived: its "active" ends (RFC 3994 §3.3).
    pub fn on_peer_message(&mut self, cx: &mut Ctx, from: &str) {
        self.end_indicator(cx, |i| i.from == from);
    }

    /// [`Timer::ComposingLapse`] fired: the peers whose "active" lapsed go idle.
    pub fn on_lapse_timer(&mut self, cx: &mut Ctx) {
        let now = cx.now;
        self.end_indicator(cx, |i| i.lapses_at <= now);
    }

    fn end_indicator(&mut self, cx: &mut Ctx, ends: impl Fn(&Indicator) -> bool) {
        let mut ended = Vec::new();
        self.indicators.retain(|i| {
            let end = ends(i);
            if end {
                ended.push(i.from.clone());
            }
            !end
        });
        for from in ended {
            cx.emit(Event::Composing(ComposingReceived {
                from,
                state: State::Idle,
                last_active: None,
                content_type: None,
            }));
        }
        self.arm_lapse(cx);
    }

    fn arm_lapse(&self, cx: &mut Ctx) {
        match self.indicators.iter().map(|i| i.lapses_at).min() {
            Some(at) => cx.timers.set(Timer::ComposingLapse, at),
            None => cx.timers.stop(Timer::ComposingLapse),
        }
    }
}
