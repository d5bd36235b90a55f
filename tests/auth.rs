//! 401/407 handling against a core configured like Kamailio's default script
//! (WITH_AUTH): REGISTER challenged with 401, every other request with its own
//! 407 and a fresh nonce, no trust of the registered flow (RFC 3261 §22,
//! RFC 7616). Any number of requests in flight, each challenged, all succeed.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::{Message, MessageBuilder, Method};
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{Event, PolicyOutcome, PublishPolicy, UaError};

fn strict_core(password: &str) -> FakeCore {
    let mut core = FakeCore::with_password(password);
    core.behaviour.proxy_auth = true;
    core
}

fn settings() -> ServiceSettings {
    let mut e = Entity::new(ALICE);
    e.incoming_session_barring = Some(false);
    ServiceSettings {
        entities: vec![e],
        ..Default::default()
    }
}

#[test]
fn the_seed_flow_with_default_options_publishes_after_every_request_is_challenged() {
    // The publish policy's fetch and the app's first requests are all challenged
    // with 407 at once: every one is answered, none is taken as a refusal.
    let mut cfg = alice_config();
    cfg.publish_policy = PublishPolicy::IfAbsent;
    cfg.service_settings = Some(settings());
    let mut h = Harness::new(cfg, strict_core("alice-secret"));
    let reg = h.ua.register(h.now);
    let m1 = h.ua.send_message(h.now, BOB, b"one", None);
    let m2 = h.ua.send_message(h.now, BOB, b"two", None);
    let fetch = h.ua.fetch_settings(h.now);
    h.pump();
    h.ok(reg);
    h.ok(m1);
    h.ok(m2);
    h.ok(fetch);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Policy(PolicyOutcome::Published { .. }))),
        "the seed's step 5: {:?}",
        h.events
            .iter()
            .filter(|e| matches!(e, Event::Policy(_)))
            .collect::<Vec<_>>()
    );
    assert!(h.core.proxy_challenges >= 4);
    // Later requests are answered proactively or after their own 407; all pass.
    let more: Vec<_> = (0..5)
        .map(|i| {
            h.ua.send_message(h.now, BOB, format!("m{i}").as_bytes(), None)
        })
        .collect();
    let publish = h.ua.publish_settings(h.now, &settings(), None);
    h.pump();
    for op in more {
        h.ok(op);
    }
    h.ok(publish);
}

#[test]
fn a_wrong_proxy_password_fails_after_one_answer_per_request() {
    let mut h = Harness::new(alice_config(), strict_core("alice-secret"));
    let reg = h.register();
    h.ok(reg);
    // The proxy knows another password (the registrar accepted ours).
    h.core.password = Some("other".into());
    let op = h.ua.send_message(h.now, BOB, b"x", None);
    h.pump();
    assert!(matches!(h.err(op), UaError::AuthFailed { .. }));
    assert_eq!(
        h.sent_requests(Method::Message).len(),
        2,
        "the MESSAGE and one answer"
    );
    // No loop: a later request fails on its first 407.
    let op = h.ua.send_message(h.now, BOB, b"y", None);
    h.pump();
    assert!(matches!(h.err(op), UaError::AuthFailed { .. }));
    assert_eq!(h.sent_requests(Method::Message).len(), 3);
}

#[test]
fn two_realms_challenging_at_once_get_one_answer_each() {
    let mut h = registered();
    h.core.behaviour.silent = true;
    let op = h.ua.send_message(h.now, BOB, b"x", None);
    h.pump();
    let sent = h.sent_requests(Method::Message);
    let req = sent.last().unwrap().clone();
    let challenge = MessageBuilder::reply(&req, 407, "Proxy Authentication Required", Some("p"))
        .header(
            "Proxy-Authenticate",
            "Digest realm=\"edge.test\", nonce=\"n-edge\", algorithm=MD5, qop=\"auth\"",
        )
        .header(
            "Proxy-Authenticate",
            "Digest realm=\"imsip.test\", nonce=\"n-core\", algorithm=MD5, qop=\"auth\"",
        )
        .build()
        .to_string();
    h.inject(&challenge);
    let sent = h.sent_requests(Method::Message);
    assert_eq!(sent.len(), 2);
    let answers = sent[1].proxy_authorization().unwrap();
    let mut realms: Vec<&str> = answers.iter().filter_map(|a| a.param("realm")).collect();
    realms.sort();
    assert_eq!(realms, ["edge.test", "imsip.test"]);
    // The 200 ends it.
    let ok = MessageBuilder::reply(&sent[1], 200, "OK", Some("p"))
        .build()
        .to_string();
    h.inject(&ok);
    h.ok(op);
}

#[test]
fn a_challenge_to_a_request_sent_before_the_answer_is_answered_not_refused() {
    // Two MESSAGEs leave without credentials; the first 407 is answered; the second
    // request's own 407 (a fresh nonce) arrives while that answer is pending.
    let mut h = registered();
    h.core.behaviour.silent = true;
    let a = h.ua.send_message(h.now, BOB, b"a", None);
    let b = h.ua.send_message(h.now, BOB, b"b", None);
    h.pump();
    let sent = h.sent_requests(Method::Message);
    let (ra, rb) = (sent[0].clone(), sent[1].clone());
    let challenge = |req: &Message, nonce: &str| {
        MessageBuilder::reply(req, 407, "Proxy Authentication Required", Some("p"))
            .header(
                "Proxy-Authenticate",
                format!("Digest realm=\"imsip.test\", nonce=\"{nonce}\", qop=\"auth\""),
            )
            .build()
            .to_string()
    };
    h.inject(&challenge(&ra, "n1"));
    h.inject(&challenge(&rb, "n2"));
    let sent = h.sent_requests(Method::Message);
    assert_eq!(sent.len(), 4, "both answered");
    for m in &sent[2..] {
        let ok = MessageBuilder::reply(m, 202, "Accepted", Some("p"))
            .build()
            .to_string();
        h.inject(&ok);
    }
    h.ok(a);
    h.ok(b);
}
