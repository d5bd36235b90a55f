//! The UA's server side: OPTIONS, unknown methods, and the refusals RFC 4475
//! §3.3 names.

mod common;
use common::*;
use imsip::message::Message;

fn answer_to(req: &str) -> Message {
    let mut h = Harness::alice();
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
    assert!(r.header("Accept").is_some());
}

#[test]
fn unknown_methods_get_405_with_allow() {
    let r = answer_to(&req("INVITE", "sip:alice@imsip.test", ""));
    assert_eq!(r.status(), Some(405));
    assert!(r.header("Allow").is_some());
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

#[test]
fn malformed_request_gets_400_naming_the_problem() {
    let r = answer_to(&req("MESSAGE", "sip:alice@imsip.test", "Expires: soon\r\n"));
    assert_eq!(r.status(), Some(400));
    assert!(r.header("Warning").unwrap().contains("Expires"));
}
