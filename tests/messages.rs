//! Messager (RFC 3428): pager-mode MESSAGE both ways, UTF-8 bodies, duplicates.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::Method;
use imsip::ua::{Event, Outcome, UaError};

#[test]
fn send_message_with_utf8_body_counts_bytes() {
    let mut h = registered();
    let body = "héllo wörld ✓ 😀";
    let op = h.ua.send_message(h.now, BOB, body.as_bytes(), None);
    h.pump();
    assert_eq!(
        h.ok(op),
        Outcome::MessageSent {
            status: 200,
            reason: "OK".into(),
            message_id: None,
        }
    );
    let m = &h.sent_requests(Method::Message)[0];
    assert_eq!(m.request_uri().unwrap().as_str(), BOB);
    assert_eq!(m.to().unwrap().uri.as_str(), BOB);
    assert_eq!(
        m.content_type().unwrap().unwrap().to_string(),
        "text/plain;charset=UTF-8"
    );
    assert_eq!(m.content_length(), Some(body.len()));
    assert_eq!(m.body(), body.as_bytes());
    assert!(m.accept_contact().unwrap()[0].params.has("+g.oma.sip-im"));
    assert_eq!(
        m.route().unwrap()[0].uri.as_str(),
        "sip:orig@scscf.imsip.test;lr"
    );
}

#[test]
fn rejected_message_reports_the_status() {
    let mut h = registered();
    h.core.behaviour.message_status = Some(404);
    let op = h.ua.send_message(h.now, BOB, b"x", Some("text/plain"));
    h.pump();
    let e = h.err(op);
    assert_eq!((e.code(), e.status()), ("rejected", Some(404)));
}

#[test]
fn bad_recipient_is_bad_input() {
    let mut h = registered();
    let op = h.ua.send_message(h.now, "not a uri", b"x", None);
    h.pump();
    assert!(matches!(h.err(op), UaError::BadInput(_)));
    assert!(h.sent_requests(Method::Message).is_empty());
}

fn incoming(call_id: &str, cseq: u32, body: &str) -> String {
    format!(
        "MESSAGE sip:x@a.invalid;transport=ws SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bK{call_id}{cseq}\r\nMax-Forwards: 69\r\nFrom: \"Bob\" <sip:bob@imsip.test>;tag=b1\r\nTo: <sip:alice@imsip.test>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} MESSAGE\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn incoming_message_is_delivered_once_and_answered_200() {
    let mut h = registered();
    let text = "grüße 🌍";
    h.core.outbox.push(incoming("m1", 1, text));
    h.core.outbox.push(incoming("m1", 1, text)); // retransmission
    h.core.outbox.push(incoming("m1", 2, "second"));
    h.pump();
    let msgs: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs.len(),
        2,
        "the duplicate is answered but not delivered twice"
    );
    assert_eq!(msgs[0].from, BOB);
    assert_eq!(msgs[0].display_name.as_deref(), Some("Bob"));
    assert_eq!(msgs[0].to, ALICE);
    assert_eq!(msgs[0].content_type, "text/plain;charset=UTF-8");
    assert_eq!(String::from_utf8(msgs[0].body.clone()).unwrap(), text);
    let oks = h
        .core
        .received
        .iter()
        .filter(|m| m.status() == Some(200))
        .count();
    assert_eq!(oks, 3, "every copy answered");
    let ok = h
        .core
        .received
        .iter()
        .find(|m| m.status() == Some(200))
        .unwrap();
    assert!(ok.to().unwrap().tag().is_some(), "To tag added");
}
