//! Subscriber (RFC 6665): one-shot fetch and watch of service-settings.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::Method;
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{Event, Outcome, SettingsSource};

fn doc(vis: bool) -> ServiceSettings {
    let mut e = Entity::new(ALICE);
    e.visibility = Some(vis);
    ServiceSettings {
        entities: vec![e],
        ..Default::default()
    }
}

#[test]
fn fetch_returns_the_stored_document() {
    let mut h = registered();
    h.core.settings = Some(("e9".into(), doc(true).encode()));
    let op = h.ua.fetch_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Settings(Some(doc(true))));
    let s = &h.sent_requests(Method::Subscribe)[0];
    assert_eq!(s.expires().unwrap(), Some(0));
    assert_eq!(s.event().unwrap().unwrap().value, "service-settings");
    assert_eq!(s.header("Accept"), Some("application/service-settings+xml"));
    assert!(
        h.core.received.iter().any(|m| m.status() == Some(200)),
        "the NOTIFY was answered 200"
    );
}

#[test]
fn fetch_with_nothing_stored_is_none() {
    let mut h = registered();
    let op = h.ua.fetch_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Settings(None));
}

#[test]
fn fetch_when_the_notify_overtakes_the_200() {
    let mut h = registered();
    h.core.behaviour.notify_first = true;
    h.core.settings = Some(("e9".into(), doc(false).encode()));
    let op = h.ua.fetch_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Settings(Some(doc(false))));
}

#[test]
fn fetch_without_notify_times_out() {
    let mut h = registered();
    // A core that answers 200 but never notifies.
    h.core.behaviour.silent = true;
    let op = h.ua.fetch_settings(h.now);
    h.run_for(40_000);
    assert_eq!(h.err(op).code(), "timeout");
}

#[test]
fn watch_receives_changes_and_refreshes() {
    let mut h = registered();
    let op = h.ua.watch_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Subscribed { expires: 3600 });
    // Another client publishes: the core notifies our watch.
    assert_eq!(h.core.watchers.len(), 1);
    let publish = imsip::message::MessageBuilder::request(
        Method::Publish,
        imsip::message::Uri::parse(ALICE).unwrap(),
    )
    .header("Via", "SIP/2.0/WS o.invalid;branch=z9hG4bKother")
    .header("From", format!("<{ALICE}>;tag=o"))
    .header("To", format!("<{ALICE}>"))
    .header("Call-ID", "other")
    .header("CSeq", "1 PUBLISH")
    .header("Event", "service-settings")
    .body(Some("application/service-settings+xml"), doc(true).encode())
    .build();
    h.core.receive(&publish.to_string());
    h.core.outbox.retain(|f| f.starts_with("NOTIFY"));
    h.pump();
    assert!(h.events.iter().any(|e| matches!(e, Event::ServiceSettings { settings, source: SettingsSource::Notify } if *settings == doc(true))));
    // The first NOTIFY (nothing published yet) said nothing new: no "removed".
    let removed = |h: &Harness| {
        h.events
            .iter()
            .filter(|e| matches!(e, Event::ServiceSettingsRemoved))
            .count()
    };
    assert_eq!(removed(&h), 0);
    // Removed at the server (another tab's remove): the watch's NOTIFY has no
    // document, and the app hears so, once.
    h.core.settings = None;
    h.core.notify_watchers("active;expires=3000");
    h.pump();
    assert_eq!(removed(&h), 1);
    assert!(h.ua.current_settings().is_none());
    h.core.notify_watchers("active;expires=3000");
    h.pump();
    assert_eq!(removed(&h), 1, "nothing new the second time");
    // Refresh within the dialog before expiry.
    h.run_for(3_100_000);
    let subs = h.sent_requests(Method::Subscribe);
    assert!(subs.len() >= 2, "refreshed");
    assert_eq!(
        subs[1].call_id().unwrap(),
        subs[0].call_id().unwrap(),
        "same dialog"
    );
    assert_eq!(subs[1].to().unwrap().tag(), Some("core1"));
    assert_eq!(subs[1].cseq().unwrap().seq, subs[0].cseq().unwrap().seq + 1);
}

#[test]
fn notify_for_an_unknown_subscription_gets_481() {
    let mut h = registered();
    let notify = "NOTIFY sip:x@a.invalid SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKq\r\nFrom: <sip:alice@imsip.test>;tag=a\r\nTo: <sip:alice@imsip.test>;tag=nope\r\nCall-ID: unknown\r\nCSeq: 1 NOTIFY\r\nEvent: service-settings\r\nSubscription-State: active\r\nContent-Length: 0\r\n\r\n";
    h.core.outbox.push(notify.into());
    h.pump();
    assert!(h.core.received.iter().any(|m| m.status() == Some(481)));
}

#[test]
fn terminated_watch_is_reported() {
    let mut h = registered();
    let op = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(op);
    let (call_id, sub_tag, _) = h.core.watchers[0].clone();
    let notify = format!("NOTIFY sip:x@a.invalid SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKt\r\nFrom: <sip:alice@imsip.test>;tag=core1\r\nTo: <sip:alice@imsip.test>;tag={sub_tag}\r\nCall-ID: {call_id}\r\nCSeq: 99 NOTIFY\r\nEvent: service-settings\r\nSubscription-State: terminated;reason=rejected\r\nContent-Length: 0\r\n\r\n");
    h.core.outbox.push(notify);
    h.pump();
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::WatchTerminated { reason: Some(r), resubscribe: false, .. } if r == "rejected")));
    let n = h.sent_requests(Method::Subscribe).len();
    h.run_for(4_000_000);
    assert_eq!(
        h.sent_requests(Method::Subscribe).len(),
        n,
        "rejected: not re-subscribed"
    );
}

#[test]
fn unwatch_ends_the_subscription() {
    let mut h = registered();
    let op = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(op);
    let op = h.ua.unwatch_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Subscribed { expires: 0 });
    assert!(h.core.watchers.is_empty());
    // The final NOTIFY (terminated) is accepted with 200, not 481.
    let answer = h
        .core
        .received
        .iter()
        .rev()
        .find(|m| m.cseq().is_ok_and(|c| c.method == Method::Notify))
        .unwrap();
    assert_eq!(answer.status(), Some(200));
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::WatchTerminated { .. })));
    // Watching again starts a new subscription (new Call-ID).
    let again = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(again);
    let subs = h.sent_requests(Method::Subscribe);
    assert_ne!(
        subs.last().unwrap().call_id().unwrap(),
        subs[0].call_id().unwrap()
    );
}

/// Registered and watching; returns the harness.
fn watching() -> Harness {
    let mut h = registered();
    let op = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(op);
    h
}

fn terminated(h: &Harness) -> Vec<(Option<String>, bool, Option<u32>)> {
    h.events
        .iter()
        .filter_map(|e| match e {
            Event::WatchTerminated {
                reason,
                resubscribe,
                retry_after,
            } => Some((reason.clone(), *resubscribe, *retry_after)),
            _ => None,
        })
        .collect()
}

#[test]
fn each_termination_reason_is_handled_as_rfc_6665_says() {
    // (Subscription-State, resubscribe, when: ms after the NOTIFY or None)
    let cases: [(&str, bool, Option<u64>); 8] = [
        ("terminated;reason=deactivated", true, Some(0)),
        ("Terminated;Reason=Timeout", true, Some(0)),
        ("terminated", true, Some(0)),
        (
            "terminated;reason=probation;retry-after=20",
            true,
            Some(20_000),
        ),
        (
            "terminated;reason=giveup;retry-after=30",
            true,
            Some(30_000),
        ),
        ("terminated;reason=rejected", false, None),
        ("terminated;reason=NoResource", false, None),
        (
            "terminated;reason=deactivated;retry-after=5",
            true,
            Some(5_000),
        ),
    ];
    for (state, resubscribe, when) in cases {
        let mut h = watching();
        let n = h.sent_requests(Method::Subscribe).len();
        h.core.notify_watchers(state);
        h.pump();
        let t = terminated(&h);
        assert_eq!(t.len(), 1, "{state}: {t:?}");
        assert_eq!(t[0].1, resubscribe, "{state}");
        match when {
            Some(0) => assert_eq!(h.sent_requests(Method::Subscribe).len(), n + 1, "{state}"),
            Some(ms) => {
                h.run_for(ms - 500);
                assert_eq!(
                    h.sent_requests(Method::Subscribe).len(),
                    n,
                    "{state}: not before"
                );
                h.run_for(1_000);
                assert_eq!(h.sent_requests(Method::Subscribe).len(), n + 1, "{state}");
            }
            None => {
                h.run_for(4_000_000);
                assert_eq!(
                    h.sent_requests(Method::Subscribe).len(),
                    n,
                    "{state}: never"
                );
            }
        }
        if resubscribe {
            let subs = h.sent_requests(Method::Subscribe);
            assert_ne!(
                subs[n].call_id().unwrap(),
                subs[n - 1].call_id().unwrap(),
                "a new subscription"
            );
        }
    }
}

#[test]
fn subscription_state_expires_shortens_the_refresh() {
    let mut h = watching();
    let n = h.sent_requests(Method::Subscribe).len();
    h.core.notify_watchers("active;expires=100");
    h.pump();
    h.run_for(86_000);
    assert_eq!(
        h.sent_requests(Method::Subscribe).len(),
        n + 1,
        "refreshed before 100 s, not at 85 % of 3600 s"
    );
}

#[test]
fn a_refresh_answered_503_ends_the_watch_and_subscribes_again() {
    let mut h = watching();
    h.core.behaviour.settings_status = Some(503);
    h.run_until_sent(Method::Subscribe);
    let t = terminated(&h);
    assert_eq!(t, [(None, true, None)]);
    h.core.behaviour.settings_status = None;
    h.run_for(2_000);
    let subs = h.sent_requests(Method::Subscribe);
    let last = subs.last().unwrap();
    assert!(
        Harness::header(last, "To").find(";tag=").is_none(),
        "a new subscription"
    );
    let call_id = last.call_id().unwrap().to_owned();
    assert!(
        h.core.watchers.iter().any(|(c, _, _)| *c == call_id),
        "accepted"
    );
}

#[test]
fn a_notify_from_another_remote_tag_gets_481() {
    let mut h = watching();
    let (call_id, sub_tag, _) = h.core.watchers[0].clone();
    let notify = format!("NOTIFY sip:x@a.invalid SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKo\r\nFrom: <sip:alice@imsip.test>;tag=intruder\r\nTo: <sip:alice@imsip.test>;tag={sub_tag}\r\nCall-ID: {call_id}\r\nCSeq: 77 NOTIFY\r\nEvent: service-settings\r\nSubscription-State: active\r\nContent-Length: 0\r\n\r\n");
    h.inject(&notify);
    let answer = h.core.received.last().unwrap();
    assert_eq!(answer.status(), Some(481));
}

#[test]
fn the_subscribe_contact_carries_ob_when_outbound_was_negotiated() {
    let mut h = Harness::alice();
    h.core.behaviour.require_outbound = true;
    let op = h.register();
    h.ok(op);
    let op = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(op);
    let sub = h.sent_requests(Method::Subscribe).pop().unwrap();
    assert!(
        Harness::header(&sub, "Contact").contains(";ob>"),
        "RFC 5626 §4.3"
    );
    let reg = h.sent_requests(Method::Register).pop().unwrap();
    assert!(!Harness::header(&reg, "Contact").contains(";ob"));
}

#[test]
fn a_watch_asked_for_while_a_subscribe_is_in_flight_is_answered_by_it() {
    // A watch asked for while the SUBSCRIBE was in flight (after a reconnect the
    // restore is, and an app retrying a watch that failed with the flow calls it
    // then) waited for the next send: the refresh, 51 minutes later.
    let mut h = registered();
    let first = h.ua.watch_settings(h.now);
    let second = h.ua.watch_settings(h.now);
    h.pump();
    assert_eq!(h.ok(first), Outcome::Subscribed { expires: 3600 });
    assert_eq!(h.ok(second), Outcome::Subscribed { expires: 3600 });
    assert_eq!(h.sent_requests(Method::Subscribe).len(), 1, "one SUBSCRIBE");
}
