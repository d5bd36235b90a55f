//! The UA's server side: OPTIONS, unknown methods, and the refusals RFC 4475
//! §3.3 names.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::Message;

fn answer_to(req: &str) -> Message {
    answer_with(alice_config(), req)
}

fn answer_with(cfg: imsip::ua::Config, req: &str) -> Message {
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let before = h.core.received.len();
    h.core.outbox.push(req.to_owned());
    h.pump();
    h.core.received[before..]
        .iter()
        .find(|m| !m.is_request())
        .cloned()
        .expect("an answer")
}

fn req(method: &str, ruri: &str, extra: &str) -> String {
    format!("{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKu1\r\nMax-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b\r\nTo: <sip:alice@imsip.test>\r\nCall-ID: uas1\r\nCSeq: 5 {method}\r\n{extra}Content-Length: 0\r\n\r\n")
}

#[test]
fn options_is_answered_with_allow_and_accept() {
    let r = answer_to(&req("OPTIONS", "sip:alice@imsip.test", ""));
    assert_eq!(r.status(), Some(200));
    assert!(r.allow().unwrap().contains(&"MESSAGE".to_string()));
    // RFC 3261 §11.2: every body type a request to us may carry — a MESSAGE's
    // (any type by default, and those the user agent reads itself: receipts
    // and typing travel in CPIM, IMDN and isComposing bodies), NOTIFY bodies,
    // an INVITE's SDP. A peer that checks capabilities reads this.
    assert_eq!(
        r.header("Accept"),
        Some(
            "*/*, message/cpim, message/imdn+xml, application/im-iscomposing+xml, \
             application/service-settings+xml, application/vnd.imsip.im-history+xml, \
             application/sdp"
        )
    );
    let mut cfg = alice_config();
    cfg.accept_types = vec!["text/plain".into(), "image/*".into()];
    let r = answer_with(cfg, &req("OPTIONS", "sip:alice@imsip.test", ""));
    assert_eq!(
        r.header("Accept"),
        Some(
            "text/plain, image/*, message/cpim, message/imdn+xml, \
             application/im-iscomposing+xml, application/service-settings+xml, \
             application/vnd.imsip.im-history+xml, application/sdp"
        )
    );
}

#[test]
fn unknown_methods_get_405_with_allow() {
    // INVITE is ours since sessions (tests/sessions.rs); UPDATE is not (RFC 3311).
    let r = answer_to(&req("UPDATE", "sip:alice@imsip.test", ""));
    assert_eq!(r.status(), Some(405));
    assert!(r.allow().unwrap().contains(&"INVITE".to_string()));
    let r = answer_to(&req("FOOBAR", "sip:alice@imsip.test", ""));
    assert_eq!(r.status(), Some(405));
}

#[test]
fn unknown_uri_scheme_gets_416() {
    let r = answer_to(&req("MESSAGE", "unknown:alice", ""));
    assert_eq!(r.status(), Some(416));
}

#[test]
fn unknown_required_extension_gets_420_with_unsupported() {
    let r = answer_to(&req(
        "MESSAGE",
        "sip:alice@imsip.test",
        "Require: nothingsupported, other\r\n",
    ));
    assert_eq!(r.status(), Some(420));
    assert_eq!(r.header("Unsupported"), Some("nothingsupported, other"));
}

#[test]
fn notify_with_wrong_body_type_gets_415_with_accept() {
    let mut h = Harness::alice();
    let op = h.register();
    h.ok(op);
    let w = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(w);
    let (call_id, tag, _) = h.core.watchers[0].clone();
    let n = format!("NOTIFY sip:x@a.invalid SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKn9\r\nFrom: <sip:alice@imsip.test>;tag=core1\r\nTo: <sip:alice@imsip.test>;tag={tag}\r\nCall-ID: {call_id}\r\nCSeq: 50 NOTIFY\r\nEvent: service-settings\r\nSubscription-State: active\r\nContent-Type: text/html\r\nContent-Length: 4\r\n\r\n<p/>");
    let before = h.core.received.len();
    h.core.outbox.push(n);
    h.pump();
    let r = h.core.received[before..]
        .iter()
        .find(|m| !m.is_request())
        .unwrap();
    assert_eq!(r.status(), Some(415));
    assert_eq!(r.header("Accept"), Some("application/service-settings+xml"));
}

#[test]
fn rfc4475_semantic_messages_get_the_status_the_rfc_names() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/rfc4475/");
    for (file, status) in [
        ("insuf.dat", 400),
        ("multi01.dat", 400),
        ("unkscm.dat", 416),
        ("novelsc.dat", 416),
        ("bext01.dat", 420),
    ] {
        let raw = std::fs::read_to_string(format!("{dir}{file}")).unwrap();
        eprintln!("{file}");
        let r = answer_to(&raw);
        assert_eq!(r.status(), Some(status), "{file}");
    }
}

/// The user agent's answer to `raw` (after registering), and the `dropped` reasons
/// it emitted.
fn answer_and_dropped(raw: &[u8]) -> (Option<Message>, Vec<String>) {
    let mut h = Harness::alice();
    let op = h.register();
    h.ok(op);
    let (received, events) = (h.core.received.len(), h.events.len());
    h.core
        .outbox
        .push(String::from_utf8_lossy(raw).into_owned());
    h.pump();
    let answer = h.core.received[received..]
        .iter()
        .find(|m| !m.is_request())
        .cloned();
    let dropped = h.events[events..]
        .iter()
        .filter_map(|e| match e {
            imsip::ua::Event::Dropped { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    (answer, dropped)
}

#[test]
fn rfc4475_invalid_requests_are_answered_even_when_the_codec_cannot_read_them() {
    // RFC 4475 §3.1.2: each of these "should" get the status below. The codec refuses
    // most of them outright (the frame, the start line or the version); the answer is
    // then built from the request's header text (imsip::message::refusal). Every one
    // is also reported as `dropped`: the app learns what arrived and was not used.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/corpora/rfc4475/");
    let answered = [
        ("badinv01.dat", 400),
        ("clerr.dat", 400),
        ("ncl.dat", 400),
        ("scalar02.dat", 400),
        ("quotbal.dat", 400),
        ("ltgtruri.dat", 400),
        ("lwsruri.dat", 400),
        ("lwsstart.dat", 400),
        ("trws.dat", 400),
        ("escruri.dat", 400),
        ("baddate.dat", 400),
        ("regbadct.dat", 400),
        ("badaspec.dat", 400),
        ("baddn.dat", 400),
        ("badvers.dat", 505),
        ("mismatch01.dat", 400),
        ("mismatch02.dat", 400),
        ("mcl01.dat", 400),
    ];
    for (file, status) in answered {
        let raw = std::fs::read(format!("{dir}{file}")).unwrap();
        let (answer, dropped) = answer_and_dropped(&raw);
        let answer = answer.unwrap_or_else(|| panic!("{file}: no answer ({dropped:?})"));
        assert_eq!(answer.status(), Some(status), "{file}");
        assert!(answer.header("Warning").is_some(), "{file}");
        assert_eq!(dropped.len(), 1, "{file}: {dropped:?}");
    }
}

#[test]
fn an_oversized_request_is_answered_513_without_being_parsed() {
    let body = "x".repeat(70 * 1024);
    let raw = format!(
        "MESSAGE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKbig\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b\r\nTo: <sip:alice@imsip.test>\r\n\
         Call-ID: big1\r\nCSeq: 5 MESSAGE\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (answer, dropped) = answer_and_dropped(raw.as_bytes());
    let answer = answer.expect("an answer");
    assert_eq!(answer.status(), Some(513));
    assert_eq!(answer.call_id().unwrap(), "big1");
    assert!(answer.to().unwrap().tag().is_some());
    assert_eq!(
        dropped,
        [format!(
            "unparseable frame: framing error: frame of {} bytes exceeds the 65536-byte limit",
            raw.len()
        )]
    );
}

#[test]
fn malformed_request_gets_400_naming_the_problem() {
    let r = answer_to(&req("MESSAGE", "sip:alice@imsip.test", "Expires: soon\r\n"));
    assert_eq!(r.status(), Some(400));
    assert!(r.header("Warning").unwrap().contains("Expires"));
}

#[test]
fn cancel_bye_and_info_without_a_transaction_or_dialog_get_481() {
    for method in ["CANCEL", "BYE", "INFO"] {
        let m = answer_to(&req(method, "sip:alice@imsip.test", ""));
        assert_eq!(m.status(), Some(481), "{method}");
    }
}

#[test]
fn a_message_of_a_type_the_app_did_not_accept_gets_415_with_accept() {
    let mut cfg = alice_config();
    cfg.accept_types = vec!["text/plain".into(), "message/*".into()];
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let msg = |ct: &str, n: u32| {
        format!("MESSAGE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKm{n}\r\nMax-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b\r\nTo: <sip:alice@imsip.test>\r\nCall-ID: m{n}\r\nCSeq: 1 MESSAGE\r\nContent-Type: {ct}\r\nContent-Length: 2\r\n\r\nhi")
    };
    h.inject(&msg("application/octet-stream", 1));
    let answer = h.core.received.last().unwrap();
    assert_eq!(answer.status(), Some(415));
    assert_eq!(
        Harness::header(answer, "Accept"),
        "text/plain, message/*, message/cpim, message/imdn+xml, application/im-iscomposing+xml",
        "the app's types, and what the user agent reads itself"
    );
    h.inject(&msg("message/sipfrag", 2));
    assert_eq!(h.core.received.last().unwrap().status(), Some(200));
    h.inject(&msg("text/plain;charset=UTF-8", 3));
    assert_eq!(h.core.received.last().unwrap().status(), Some(200));
    let delivered = h
        .events
        .iter()
        .filter(|e| matches!(e, imsip::ua::Event::Message(_)))
        .count();
    assert_eq!(delivered, 2);
}

#[test]
fn a_response_with_two_vias_is_dropped() {
    // RFC 3261 §8.1.3.3: it was meant for someone else.
    let mut h = registered();
    h.core.behaviour.silent = true;
    let op = h.ua.send_message(h.now, BOB, b"x", None);
    h.pump();
    let sent = h
        .sent_requests(imsip::message::Method::Message)
        .pop()
        .unwrap();
    let mut b = imsip::message::MessageBuilder::reply(&sent, 200, "OK", Some("t"));
    b.push_header("Via", "SIP/2.0/WS other.invalid;branch=z9hG4bKother");
    h.inject(&b.build().to_string());
    assert!(h.result(op).is_none(), "not taken as the answer");
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, imsip::ua::Event::Dropped { reason } if reason.contains("Via"))));
}
