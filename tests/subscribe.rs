//! Subscriber (RFC 6665): one-shot fetch and watch of service-settings.

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
