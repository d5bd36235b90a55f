//! Every deadline of the user agent in one table.
//!
//! Each part names its deadlines with a [`Timer`] and sets or stops them here; the
//! agent's next wake-up is the minimum over the table and an expired entry is
//! handed back to its owner. Nothing keeps a hand-written list of deadlines, so a
//! new timer cannot be forgotten in "next wake-up" or "clear everything".
//!
//! A timer that fires late, by seconds or by minutes (a throttled or frozen
//! browser tab), is simply expired: its owner acts as of `now`.

use super::api::{Millis, OpId, SessionId};

/// A named deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Open the socket again after a backoff.
    Reconnect,
    /// The socket being opened has neither opened nor failed: give it up.
    ConnectDeadline,
    /// Send a CRLF keep-alive ping.
    KeepAlive,
    /// No pong by then: the flow is dead (only when pongs are required).
    PongDeadline,
    /// Refresh the registration.
    RegisterRefresh,
    /// Register again after a failure.
    RegisterRetry,
    /// Refresh the publication.
    PublishRefresh,
    /// Re-send a failed PUBLISH.
    PublishRetry,
    /// The server forgets our entity at this time unless refreshed.
    PublishExpiry,
    /// Refresh the watch subscription.
    WatchRefresh,
    /// Subscribe again after the watch ended.
    WatchRetry,
    /// Timer F of one client transaction (RFC 3261 §17.1.2.2).
    Transaction(u64),
    /// Timer N of one fetch: the NOTIFY must follow the 2xx (RFC 6665 §4.1.2.4).
    FetchNotify(u64),
    /// Our composition state needs a refresh or turns idle (RFC 3994 §3.2); the
    /// earliest over all peers.
    ComposingSend,
    /// A peer's "active" lapses without a refresh (RFC 3994 §3.3); the earliest over
    /// all peers.
    ComposingLapse,
    /// App work waiting for the registration gives up.
    WorkWait(OpId),
    /// Send our 2xx to an INVITE again: it travels end to end, so the UAS core
    /// retransmits it until the ACK, T1 doubling to T2, even over a reliable
    /// transport (RFC 3261 §13.3.1.4).
    AnswerRetransmit(SessionId),
    /// 64·T1 after our final response to an INVITE: a 2xx never ACKed ends the
    /// session with a BYE (RFC 3261 §13.3.1.4); a refused INVITE stops waiting for
    /// its ACK and retransmissions (Timer H, RFC 3261 §17.2.1).
    AckWait(SessionId),
}

/// The deadlines in force. Small (a handful of entries plus one per transaction),
/// so a vector scanned in full is the simplest correct table.
#[derive(Debug, Default)]
pub(super) struct TimerTable {
    entries: Vec<(Timer, Millis)>,
}

impl TimerTable {
    /// Sets (or moves) `timer` to `at`.
    pub fn set(&mut self, timer: Timer, at: Millis) {
        match self.entries.iter_mut().find(|(t, _)| *t == timer) {
            Some(e) => e.1 = at,
            None => self.entries.push((timer, at)),
        }
    }

    /// Stops `timer` (nothing happens if it is not set).
    pub fn stop(&mut self, timer: Timer) {
        self.entries.retain(|(t, _)| *t != timer);
    }

    /// When `timer` fires, if set.
    pub fn get(&self, timer: Timer) -> Option<Millis> {
        self.entries
            .iter()
            .find(|(t, _)| *t == timer)
            .map(|(_, at)| *at)
    }

    /// Whether `timer` is set.
    pub fn is_set(&self, timer: Timer) -> bool {
        self.get(timer).is_some()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Millis> {
        self.entries.iter().map(|(_, at)| *at).min()
    }

    /// Removes and returns the earliest timer due at `now`, if any.
    pub fn pop_expired(&mut self, now: Millis) -> Option<Timer> {
        // The first of the earliest, as `min_by_key` would pick.
        let mut due: Option<(usize, Millis)> = None;
        for (i, &(_, at)) in self.entries.iter().enumerate() {
            if at <= now && due.is_none_or(|(_, d)| at < d) {
                due = Some((i, at));
            }
        }
        let (i, _) = due?;
        Some(self.entries.swap_remove(i).0)
    }

    /// Stops everything.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_minimum_and_expiry_comes_in_order() {
        let mut t = TimerTable::default();
        t.set(Timer::KeepAlive, 30);
        t.set(Timer::Transaction(1), 10);
        t.set(Timer::RegisterRefresh, 20);
        t.set(Timer::KeepAlive, 5); // moved, not added
        assert_eq!(t.next(), Some(5));
        assert_eq!(t.pop_expired(4), None);
        assert_eq!(t.pop_expired(100), Some(Timer::KeepAlive));
        assert_eq!(t.pop_expired(100), Some(Timer::Transaction(1)));
        t.stop(Timer::RegisterRefresh);
        assert_eq!(t.pop_expired(100), None);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn a_timer_far_in_the_past_is_still_handed_out() {
        let mut t = TimerTable::default();
        t.set(Timer::RegisterRefresh, 1_000);
        // Fired ten minutes late: still expired, once.
        assert_eq!(t.pop_expired(601_000), Some(Timer::RegisterRefresh));
        assert_eq!(t.pop_expired(601_000), None);
    }
}
