//! Messager (RFC 3428): pager-mode MESSAGE both ways, UTF-8 bodies, duplicates.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::Method;
use imsip::ua::{Outcome, UaError};

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
    let msgs = h.messages();
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

fn with_extra(headers: &[(&str, &str)]) -> imsip::ua::MessageOptions {
    imsip::ua::MessageOptions {
        extra_headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

#[test]
fn extra_headers_go_on_the_message_in_order_and_stay_on_the_authenticated_retry() {
    let mut h = registered();
    h.core.behaviour.proxy_auth = true;
    let options = with_extra(&[
        ("X-Conversation", " c-42 "),
        ("Subject", "lunch?"),
        ("x-b", ""),
    ]);
    let op = h.ua.send_message_with(h.now, BOB, b"hi", &options);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
    let sent = h.sent_requests(Method::Message);
    assert_eq!(sent.len(), 2, "challenged 407 once, then sent again");
    for m in sent {
        let extra: Vec<_> = m
            .headers()
            .filter(|(n, _)| ["X-Conversation", "Subject", "x-b"].contains(n))
            .collect();
        assert_eq!(
            extra,
            [
                ("X-Conversation", "c-42"),
                ("Subject", "lunch?"),
                ("x-b", "")
            ]
        );
        assert!(m.validate().is_ok());
    }
}

#[test]
fn extra_headers_the_client_writes_itself_or_that_are_not_one_line_are_refused() {
    for (name, value, why) in [
        (
            "Via",
            "SIP/2.0/WS x.invalid",
            "Via is written by the client itself",
        ),
        ("call-id", "x", "Call-ID is written by the client itself"),
        (
            "f",
            "<sip:eve@imsip.test>",
            "From is written by the client itself",
        ),
        (
            "Content-Length",
            "0",
            "Content-Length is written by the client itself",
        ),
        ("X Bad", "v", "a header name must be a token"),
        ("", "v", "a header name must be a token"),
        (
            "X-Smuggle",
            "a\r\nVia: evil",
            "one line without control characters",
        ),
        ("X-Nul", "a\0b", "one line without control characters"),
    ] {
        let mut h = registered();
        let op =
            h.ua.send_message_with(h.now, BOB, b"x", &with_extra(&[(name, value)]));
        h.pump();
        match h.err(op) {
            UaError::BadInput(m) => assert!(m.contains(why), "{name:?}: {m}"),
            other => panic!("{name:?}: {other:?}"),
        }
        assert!(h.sent_requests(Method::Message).is_empty(), "{name:?}");
    }
}

#[test]
fn an_incoming_message_carries_its_header_fields_as_received() {
    let mut h = registered();
    let frame = incoming("hdr1", 1, "hello").replace(
        "Content-Type:",
        "X-Conversation: c-42\r\nsubject: lunch?\r\nContent-Type:",
    );
    h.core.outbox.push(frame);
    h.pump();
    let m = h.messages().remove(0);
    let get = |name: &str| {
        m.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("X-Conversation"), Some("c-42"));
    assert_eq!(get("subject"), Some("lunch?"), "the name as received");
    assert_eq!(get("Call-ID"), Some("hdr1"));
    assert_eq!(m.headers.len(), 10, "{:?}", m.headers);
}

#[test]
fn a_binary_body_goes_byte_exact_in_a_binary_frame_and_text_stays_text() {
    // RFC 7118 §4.2: a message with a body that is not UTF-8 travels in a binary
    // frame. As text its bytes would be replaced by U+FFFD and Content-Length broken.
    let mut h = registered();
    let body = [0x89, b'P', b'N', b'G', 0x00, 0xff, 0xfe, 0x80];
    let op =
        h.ua.send_message(h.now, BOB, &body, Some("application/octet-stream"));
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
    assert_eq!(h.sent_binary().len(), 1);
    let m = &h.sent_requests(Method::Message)[0];
    assert_eq!(m.body(), body);
    assert_eq!(m.content_length(), Some(body.len()));
    // With receipts the CPIM envelope around it is binary too.
    let options = imsip::ua::MessageOptions {
        content_type: Some("application/octet-stream".into()),
        imdn: imsip::im::imdn::DispositionRequest {
            positive_delivery: true,
            ..Default::default()
        },
        ..Default::default()
    };
    let op = h.ua.send_message_with(h.now, BOB, &body, &options);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
    assert_eq!(h.sent_binary().len(), 2);
    let cpim = &h.sent_requests(Method::Message)[1];
    assert!(cpim.body().ends_with(&body));
    // A UTF-8 body is still a text frame.
    let before = h.sent.len();
    let op = h.ua.send_message(h.now, BOB, "ünïcødé".as_bytes(), None);
    h.pump();
    h.ok(op);
    assert_eq!(h.sent_binary().len(), 2);
    assert!(h.sent[before..].iter().any(|f| f.ends_with("ünïcødé")));
}

#[test]
fn a_message_in_a_binary_frame_is_delivered_with_its_bytes_and_answered() {
    let mut h = registered();
    let body = [0x00, 0xff, 0x10, 0x80, b'x'];
    let mut frame = incoming("bin1", 1, "")
        .replace("text/plain;charset=UTF-8", "application/octet-stream")
        .replace("Content-Length: 0", "Content-Length: 5")
        .into_bytes();
    frame.extend_from_slice(&body);
    let before = h.core.received.len();
    h.ua.handle_input(h.now, imsip::ua::Input::BinaryFrame(&frame));
    h.pump();
    let m = h.messages().remove(0);
    assert_eq!(m.body, body);
    assert_eq!(m.content_type, "application/octet-stream");
    assert!(h.core.received[before..]
        .iter()
        .any(|r| r.status() == Some(200) && r.call_id().ok() == Some("bin1")));
}

#[test]
fn a_request_too_large_for_a_frame_is_not_sent_and_fails_bad_input() {
    // One SIP message per WebSocket frame (RFC 7118 §5.1), and no core takes a
    // frame over 64 KiB: a 200 KB Request-URI (or header) is refused at once,
    // typed, instead of a 513 or a Timer F timeout 32 s later.
    let mut h = registered();
    let before = h.core.received.len();
    let huge = format!("sip:{}@imsip.test", "b".repeat(200_000));
    let op = h.ua.send_message(h.now, &huge, b"hi", None);
    h.pump();
    let e = h.err(op);
    assert_eq!(e.code(), "bad_input");
    assert!(e.to_string().contains("65536"), "{e}");
    assert_eq!(h.core.received.len(), before, "nothing sent");
    // The client goes on: a normal message is sent and answered.
    let op = h.ua.send_message(h.now, BOB, b"after", None);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
}
