//! Time as the core sees it, and every deadline of the core in one table.
//!
//! Time comes in as a [`Now`] argument; nothing here reads a clock except
//! [`Now::system`], which only the web layer calls (moved on by the offset
//! tests add with `Server::advance_clock`). Each part names its
//! deadlines with a [`Timer`] and sets or stops them in the one
//! [`TimerTable`]; the core's next wake-up is the earliest entry
//! ([`TimerTable::next`]) and an expired entry is handed back to the part that
//! owns it. Nothing keeps a hand-written list of deadlines and nothing polls.
//!
//! A deadline handled late (a busy or suspended host) is simply expired: its
//! owner acts as of the `now` it is given.

use crate::util::unix_now;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// The time, as the core sees it: monotonic for in-memory state, Unix
/// seconds for what is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Seconds since the Unix epoch.
    pub unix: u64,
}

impl Now {
    /// The current time (read by the web layer, never by the core).
    pub fn system() -> Now {
        Now {
            mono: Instant::now(),
            unix: unix_now(),
        }
    }

    /// This time plus `d` (both clocks; the Unix one in whole seconds).
    pub fn plus(self, d: Duration) -> Now {
        Now {
            mono: self.mono + d,
            unix: self.unix + d.as_secs(),
        }
    }

    /// The monotonic instant at which the Unix time `at` (seconds) is
    /// reached, as of this time: `mono` itself when `at` is already past.
    pub fn mono_at_unix(self, at: u64) -> Instant {
        self.mono + Duration::from_secs(at.saturating_sub(self.unix))
    }
}

/// `n` seconds.
pub(crate) fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}

/// Whole seconds left until `at`, rounded up.
pub(crate) fn remaining(at: Instant, now: Instant) -> u64 {
    at.saturating_duration_since(now).as_millis().div_ceil(1000) as u64
}

/// A named deadline, and which part owns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Registrar: the earliest binding expires.
    Bindings,
    /// Authenticator: the oldest nonce is forgotten.
    Nonces,
    /// Publications: the earliest stored publication expires.
    Publications,
    /// Notifier: subscription `id` expires.
    Subscription(u64),
    /// Notifier: NOTIFY `id` stops waiting for its response (64·T1).
    Notify(u64),
    /// Proxy: relay `id` stops waiting for answers.
    Relay(u64),
    /// IM Server: the delivery `id` of a deferred message stops waiting.
    Delivery(u64),
    /// IM Server: the `stored` notification `id` stops waiting for its answer.
    StoredNotice(u64),
    /// Session proxy: relayed INVITE `id` has rung too long (Timer C).
    Invite(u64),
    /// Session proxy: in-dialog request `id` stops waiting for its answer.
    DialogHop(u64),
}

/// The deadlines in force: at most one per [`Timer`], kept ordered so the
/// next one is found without a scan.
#[derive(Debug, Default)]
pub(crate) struct TimerTable {
    at: HashMap<Timer, Instant>,
    queue: BTreeSet<(Instant, Timer)>,
}

impl TimerTable {
    /// Sets (or moves) `timer` to `at`.
    pub fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.at.insert(timer, at) {
            self.queue.remove(&(old, timer));
        }
        self.queue.insert((at, timer));
    }

    /// Sets `timer` to `at`, or stops it when `at` is `None`.
    pub fn set_or_stop(&mut self, timer: Timer, at: Option<Instant>) {
        match at {
            Some(at) => self.set(timer, at),
            None => self.stop(timer),
        }
    }

    /// Stops `timer` (nothing happens if it is not set).
    pub fn stop(&mut self, timer: Timer) {
        if let Some(old) = self.at.remove(&timer) {
            self.queue.remove(&(old, timer));
        }
    }

    /// When `timer` fires, if set.
    #[cfg(test)]
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.at.get(&timer).copied()
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns the earliest timer due at `now`, if any.
    pub fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.remove(&(at, timer));
        self.at.remove(&timer);
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_minimum_and_expiry_comes_in_order() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut t = TimerTable::default();
        t.set(Timer::Bindings, at(30));
        t.set(Timer::Relay(1), at(10));
        t.set(Timer::Subscription(7), at(20));
        t.set(Timer::Bindings, at(5)); // moved, not added
        assert_eq!(t.next(), Some(at(5)));
        assert_eq!(t.get(Timer::Bindings), Some(at(5)));
        assert_eq!(t.pop_expired(at(4)), None);
        assert_eq!(t.pop_expired(at(100)), Some(Timer::Bindings));
        assert_eq!(t.pop_expired(at(100)), Some(Timer::Relay(1)));
        t.stop(Timer::Subscription(7));
        t.stop(Timer::Subscription(7)); // twice: nothing happens
        assert_eq!(t.pop_expired(at(100)), None);
        assert_eq!(t.next(), None);
        t.set_or_stop(Timer::Nonces, Some(at(1)));
        assert_eq!(t.next(), Some(at(1)));
        t.set_or_stop(Timer::Nonces, None);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn equal_deadlines_are_all_handed_out() {
        let t0 = Instant::now();
        let mut t = TimerTable::default();
        t.set(Timer::Notify(1), t0);
        t.set(Timer::Notify(2), t0);
        let mut got = vec![t.pop_expired(t0), t.pop_expired(t0)];
        got.sort();
        assert_eq!(got, [Some(Timer::Notify(1)), Some(Timer::Notify(2))]);
        assert_eq!(t.pop_expired(t0), None);
    }

    #[test]
    fn unix_deadlines_map_to_monotonic_ones() {
        let now = Now {
            mono: Instant::now(),
            unix: 1_000,
        };
        assert_eq!(now.mono_at_unix(1_030), now.mono + Duration::from_secs(30));
        assert_eq!(now.mono_at_unix(900), now.mono, "already past");
        assert_eq!(
            remaining(now.mono + Duration::from_millis(1_001), now.mono),
            2
        );
        assert_eq!(remaining(now.mono, now.mono + secs(5)), 0);
    }
}
