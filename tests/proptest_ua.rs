//! Property tests of the user agent: random sequences of commands (register, publish,
//! fetch, watch, message, close ...), replies to the requests it sent (any status, with
//! or without challenges, ETags, Expires, routes, raw header garbage), NOTIFYs, peer
//! requests, raw frames, and Connected / Disconnected / time steps at random moments.
//!
//! The driver (`fuzz/src/ua_driver.rs`, shared with the `ua_frames` fuzz target)
//! checks after every call that the UA
//! - never panics;
//! - completes an `OpId` at most once, and only one it handed out;
//! - transmits only frames that parse, and requests that pass `validate()`;
//! - never asks for an `Output::Timeout(at)` earlier than the `now` of the call;
//!
//! and, at the end, after the flow is lost and a long time passes, that every `OpId`
//! has completed exactly once.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/src/ua_driver.rs"]
mod ua_driver;

use proptest::prelude::*;
use proptest::sample::select;
use ua_driver::{Driver, Step};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const STATUSES: &[u16] = &[
    100, 180, 200, 200, 200, 202, 401, 401, 407, 403, 404, 408, 412, 423, 481, 489, 500, 503, 604,
];
const DELAYS: &[u64] = &[0, 1, 499, 5_000, 10_001, 30_000, 32_000, 300_000, 3_600_000];

fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\r\n\r\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("X-Junk: <\"unbalanced".to_owned()),
        Just("Via: SIP/2.0/WSS evil.invalid;branch=z9hG4bKevil".to_owned()),
        Just("CSeq: 1 MESSAGE".to_owned()),
        Just("Content-Length: 99".to_owned()),
        Just("Expires: 99999999999".to_owned()),
        Just("Contact: *".to_owned()),
        Just("Subscription-State: terminated;reason=giveup".to_owned()),
        "[ -~\t]{0,40}",
        ".{0,20}",
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Register),
        1 => Just(Step::Unregister),
        2 => any::<u8>().prop_map(Step::Publish),
        1 => Just(Step::Remove),
        2 => Just(Step::Fetch),
        2 => Just(Step::Watch),
        1 => Just(Step::Unwatch),
        2 => (
            prop_oneof![
                Just("sip:bob@imsip.test".to_owned()),
                Just("tel:+15551234".to_owned()),
                Just("mailto:x@y".to_owned()),
                "[ -~]{0,12}",
            ],
            prop_oneof![
                ".{0,20}".prop_map(String::into_bytes),
                // Not UTF-8: the binary-frame path (RFC 7118 §4.2).
                proptest::collection::vec(any::<u8>(), 1..20),
            ],
            proptest::option::of(prop_oneof![Just("text/plain".to_owned()), "[ -~]{0,12}"]),
        )
            .prop_map(|(to, body, content_type)| Step::SendMessage {
                to,
                body,
                content_type,
            }),
        1 => Just(Step::Close),
        4 => Just(Step::Connected),
        2 => Just(Step::Disconnected),
        3 => select(DELAYS).prop_map(Step::Advance),
        4 => Just(Step::FireTimer),
        1 => garbage().prop_map(Step::Raw),
        1 => (garbage(), any::<usize>()).prop_map(|(raw, at)| {
            let mut bytes = raw.into_bytes();
            bytes.insert(at % (bytes.len() + 1), 0xff);
            Step::RawBinary(bytes)
        }),
        14 => (any::<u8>(), select(STATUSES), any::<u8>(), garbage()).prop_map(
            |(pick, status, extras, raw)| Step::Reply { pick: pick % 4, status, extras, raw }
        ),
        3 => (any::<u8>(), any::<u8>(), any::<u8>(), garbage()).prop_map(
            |(pick, state, body, raw)| Step::Notify { pick: pick % 3, state, body, raw }
        ),
        2 => (any::<u8>(), garbage()).prop_map(|(kind, raw)| Step::Incoming { kind, raw }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_runs_keep_the_ua_contract(
        seed in any::<u64>(),
        variant in any::<u8>(),
        steps in proptest::collection::vec(step(), 0..60),
    ) {
        let mut d = Driver::new(seed, variant);
        for s in &steps {
            d.step(s);
        }
        d.finish();
    }

    /// Mostly well-behaved runs: connected early, answered with 200s, so the deeper
    /// states (registered, published, watching, refreshing) are reached often.
    #[test]
    fn mostly_successful_runs_keep_the_ua_contract(
        seed in any::<u64>(),
        variant in any::<u8>(),
        steps in proptest::collection::vec(prop_oneof![
            6 => (any::<u8>(), prop_oneof![4 => Just(200u16), 1 => Just(401u16), 1 => Just(202u16)],
                  any::<u8>()).prop_map(|(pick, status, extras)| Step::Reply {
                      pick: pick % 2, status, extras: extras & 0x7f, raw: String::new() }),
            2 => step(),
        ], 0..60),
    ) {
        let mut d = Driver::new(seed, variant);
        d.step(&Step::Register);
        d.step(&Step::Connected);
        for s in &steps {
            d.step(s);
        }
        d.finish();
    }
}

// ───────────────────────── regressions found by these properties ─────────────────────────

fn ok200(pick: u8) -> Step {
    Step::Reply {
        pick,
        status: 200,
        extras: 0,
        raw: String::new(),
    }
}

/// Config variant: keep-alives off, publish policy `Never`.
const QUIET: u8 = 0x40 | 0x10;

/// On `Input::Disconnected` the UA fails the in-flight PUBLISH, and `tx_failed` →
/// `pub_pump` (src/ua/core.rs) immediately sends the next queued PUBLISH: a Transmit
/// after the socket is gone (`conn` is still `Connected` inside `fail_everything`).
/// That operation then fails with `timeout` 32 s later (Timer F) instead of `transport`
/// at once. The same happens to a REGISTER queued behind one in flight (`reg_pump`).
#[test]

fn disconnect_transmits_nothing_and_fails_queued_work_at_once() {
    let mut d = Driver::new(0, QUIET);
    d.forbid_transmit_while_down = true;
    for s in [
        Step::Register,
        Step::Connected,
        ok200(0),
        Step::Publish(1),
        Step::Publish(2),
    ] {
        d.step(&s);
    }
    let queued = *d.ops.keys().last().unwrap();
    d.step(&Step::Disconnected);
    assert_eq!(d.ops[&queued], 1, "queued PUBLISH not failed at once");
}

/// `close()` documents that pending operations fail with `invalid_state` and nothing
/// more is sent. With a policy PUBLISH in flight and the app's PUBLISH queued behind it,
/// `close()` → `fail_everything` → `tx_failed` → `pub_pump` transmits the queued PUBLISH
/// (just before `Output::Close`), so that operation is not failed by `close()`; it ends
/// only by Timer F — or never, if a 412 for it is still delivered (the job is re-queued
/// on a closed client).
#[test]

fn close_fails_every_pending_operation_at_once() {
    // Publish policy Always with configured settings: a policy PUBLISH follows the 200.
    let mut d = Driver::new(0, 0x40 | 0x08 | 0x20);
    d.forbid_transmit_while_down = true;
    for s in [
        Step::Register,
        Step::Connected,
        ok200(0),
        Step::Publish(0),
        Step::Close,
    ] {
        d.step(&s);
    }
    let pending: Vec<_> = d.ops.iter().filter(|(_, n)| **n == 0).collect();
    assert!(
        pending.is_empty(),
        "still pending after close(): {pending:?}"
    );
}

/// `unwatch_settings()` while the initial watch SUBSCRIBE is in flight: the op waits in
/// `watch.waiting`, the 2xx of the SUBSCRIBE completes only the watch op, and nothing
/// sends the unSUBSCRIBE (`watch_final` re-sends only when `unwatch && wanted`). The
/// unwatch op never completes (until the flow is lost) and the subscription stays.
#[test]

fn unwatch_during_initial_subscribe_completes() {
    let mut d = Driver::new(0, QUIET);
    for s in [Step::Watch, Step::Connected, Step::Unwatch, ok200(0)] {
        d.step(&s);
    }
    d.step(&Step::Advance(60_000));
    let unsubscribed = d.sent.iter().any(|m| {
        m.method() == Some(&imsip::message::Method::Subscribe)
            && m.expires().ok().flatten() == Some(0)
    });
    let unwatch = *d.ops.keys().last().unwrap();
    assert!(unsubscribed, "no SUBSCRIBE with Expires: 0 was sent");
    assert_eq!(d.ops[&unwatch], 1, "unwatch never completed");
}
