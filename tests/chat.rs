//! Chat semantics in pager mode, sans-IO: CPIM (RFC 3862), disposition
//! notifications (RFC 5438) and composition indications (RFC 3994), including the
//! refusal fallback (a peer that answers 415 gets no more of that kind, and the
//! app's own messages are never affected).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::im::cpim::CpimMessage;
use imsip::im::imdn::{self, DispositionRequest, Kind, Notification, Status};
use imsip::im::iscomposing::{IsComposing, State};
use imsip::message::{Message, Method};
use imsip::ua::{Event, MessageOptions, Outcome};

/// 2026-11-30T00:00:00Z in Unix ms.
const WALL: u64 = 1_795_996_800_000;

fn chat() -> Harness {
    let mut h = registered();
    h.ua.set_wall_clock(h.now, WALL);
    h
}

fn delivery_and_display() -> DispositionRequest {
    DispositionRequest {
        positive_delivery: true,
        display: true,
        ..DispositionRequest::default()
    }
}

/// A MESSAGE from Bob with `content_type` and `body`.
fn from_bob(call_id: &str, content_type: &str, body: &[u8]) -> String {
    format!(
        "MESSAGE sip:x@a.invalid;transport=ws SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bK{call_id}\r\nMax-Forwards: 69\r\nFrom: <sip:bob@imsip.test>;tag=b1\r\nTo: <sip:alice@imsip.test>\r\nCall-ID: {call_id}\r\nCSeq: 1 MESSAGE\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{}",
        body.len(),
        String::from_utf8_lossy(body)
    )
}

/// Bob's CPIM message `id` asking for `asked`.
fn bob_cpim(id: &str, asked: &str, content_type: &str, text: &str) -> Vec<u8> {
    CpimMessage::new("sip:bob@imsip.test", ALICE, content_type, text.as_bytes())
        .date_time(1_795_996_000)
        .namespaced("imdn", imdn::CPIM_NS, "Message-ID", id)
        .namespaced("imdn", imdn::CPIM_NS, "Disposition-Notification", asked)
        .encode()
        .unwrap()
}

fn composing_events(h: &Harness) -> Vec<imsip::ua::ComposingReceived> {
    h.events_of(|e| match e {
        Event::Composing(c) => Some(c.clone()),
        _ => None,
    })
}

/// MESSAGEs we sent to Bob, unwrapped: (SIP content type, CPIM if any).
fn sent_to_bob(h: &Harness) -> Vec<(String, Message)> {
    h.sent_requests(Method::Message)
        .into_iter()
        .filter(|m| m.request_uri().unwrap().as_str() == BOB)
        .map(|m| (m.content_type().unwrap().unwrap().to_string(), m))
        .collect()
}

fn notifications_sent(h: &Harness) -> Vec<(CpimMessage, Notification)> {
    sent_to_bob(h)
        .into_iter()
        .filter(|(ct, _)| ct == "message/cpim")
        .filter_map(|(_, m)| {
            let c = CpimMessage::decode(m.body()).unwrap();
            let n = Notification::decode(c.body()).ok()?;
            Some((c, n))
        })
        .collect()
}

fn indications_sent(h: &Harness) -> Vec<IsComposing> {
    sent_to_bob(h)
        .into_iter()
        .filter(|(ct, _)| ct == "application/im-iscomposing+xml")
        .map(|(_, m)| IsComposing::decode(m.body()).unwrap())
        .collect()
}

// ───────────────────────── IMDN: asking ─────────────────────────

#[test]
fn a_message_asking_for_notifications_goes_in_cpim_with_an_id_and_a_date() {
    let mut h = chat();
    let options = MessageOptions {
        imdn: delivery_and_display(),
        ..MessageOptions::default()
    };
    let op =
        h.ua.send_message_with(h.now, BOB, "hej 👋".as_bytes(), &options);
    h.pump();
    let Outcome::MessageSent {
        message_id: Some(id),
        status: 200,
        ..
    } = h.ok(op)
    else {
        panic!("no message id in the outcome");
    };
    let sent = sent_to_bob(&h);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "message/cpim");
    let cpim = CpimMessage::decode(sent[0].1.body()).unwrap();
    assert_eq!(cpim.header(imdn::CPIM_NS, "Message-ID").unwrap(), id);
    assert_eq!(
        DispositionRequest::parse(
            &cpim
                .header(imdn::CPIM_NS, "Disposition-Notification")
                .unwrap()
        ),
        delivery_and_display()
    );
    assert!(
        id.len() >= 16,
        "at least 32 random bits (RFC 5438 §6.3): {id}"
    );
    assert_eq!(
        cpim.date_time(),
        Some(WALL / 1000),
        "DateTime from the wall clock"
    );
    assert_eq!(cpim.from().unwrap().uri, ALICE);
    assert_eq!(cpim.to().unwrap().uri, BOB);
    assert_eq!(cpim.content_type(), "text/plain;charset=UTF-8");
    assert_eq!(cpim.body(), "hej 👋".as_bytes());
}

#[test]
fn without_imdn_the_message_is_plain_text_as_before() {
    let mut h = chat();
    let op =
        h.ua.send_message_with(h.now, BOB, b"plain", &MessageOptions::default());
    h.pump();
    assert!(matches!(
        h.ok(op),
        Outcome::MessageSent {
            message_id: None,
            ..
        }
    ));
    let sent = sent_to_bob(&h);
    assert_eq!(sent[0].0, "text/plain;charset=UTF-8");
    assert_eq!(sent[0].1.body(), b"plain");
}

// ───────────────────────── IMDN: answering ─────────────────────────

#[test]
fn a_notification_copies_the_datetime_as_written_and_names_the_original_recipient() {
    // RFC 5438 §7.2.1: <datetime> is the message's DateTime (it was re-written in UTC
    // seconds: a sender matching by it lost the offset and the fraction);
    // <original-recipient-uri> is imdn.Original-To when an intermediary set one
    // (§6.4), else the CPIM To, else us (the schema pairs it with <recipient-uri>).
    let mut h = chat();
    let cpim = |id: &str, extra: &str, to: &str| {
        format!(
            "From: <sip:bob@imsip.test>\r\n{to}NS: imdn <urn:ietf:params:imdn>\r\n\
             DateTime: 2026-12-01T03:00:00.5+01:00\r\nimdn.Message-ID: {id}\r\n\
             imdn.Disposition-Notification: positive-delivery\r\n{extra}\r\n\
             Content-Type: text/plain\r\n\r\nhello"
        )
    };
    let bodies = [
        cpim(
            "dt-1",
            "imdn.Original-To: <sip:list@imsip.test>\r\n",
            &format!("To: <{ALICE}>\r\n"),
        ),
        cpim("dt-2", "", ""),
        // Several recipients: the one that is us is the one addressed here.
        cpim(
            "dt-3",
            "",
            &format!("To: <sip:carol@imsip.test>\r\nTo: <{ALICE}>\r\n"),
        ),
    ];
    for (i, body) in bodies.iter().enumerate() {
        h.inject(&from_bob(
            &format!("dt{i}"),
            "message/cpim",
            body.as_bytes(),
        ));
    }
    let sent = notifications_sent(&h);
    assert_eq!(sent.len(), 3);
    for (_, n) in &sent {
        assert_eq!(n.date_time, "2026-12-01T03:00:00.5+01:00");
        assert_eq!(n.recipient_uri.as_deref(), Some(ALICE));
    }
    assert_eq!(
        sent[0].1.original_recipient_uri.as_deref(),
        Some("sip:list@imsip.test")
    );
    assert_eq!(sent[1].1.original_recipient_uri.as_deref(), Some(ALICE));
    assert_eq!(sent[2].1.original_recipient_uri.as_deref(), Some(ALICE));
}

#[test]
fn an_incoming_cpim_message_is_unwrapped_and_its_delivery_answered_by_itself() {
    let mut h = chat();
    let body = bob_cpim(
        "m-1",
        "positive-delivery, display",
        "text/plain;charset=UTF-8",
        "hi ✓",
    );
    h.inject(&from_bob("c1", "message/cpim", &body));
    let m = h.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].content_type, "text/plain;charset=UTF-8");
    assert_eq!(m[0].body, "hi ✓".as_bytes());
    assert_eq!(m[0].message_id.as_deref(), Some("m-1"));
    assert!(m[0].imdn.positive_delivery && m[0].imdn.display && !m[0].imdn.negative_delivery);
    assert_eq!(m[0].date_time.as_deref(), Some("2026-11-29T23:46:40Z"));
    assert!(!m[0].deferred, "no SIP Date: not a deferred delivery");

    let sent = notifications_sent(&h);
    assert_eq!(
        sent.len(),
        1,
        "one delivery notification, nothing for display yet"
    );
    let (cpim, n) = &sent[0];
    assert_eq!((n.kind, n.status), (Kind::Delivery, Status::Delivered));
    assert_eq!(n.message_id, "m-1");
    assert_eq!(
        n.date_time, "2026-11-29T23:46:40Z",
        "the original DateTime (RFC 5438 §7.2.1.1)"
    );
    assert_eq!(n.recipient_uri.as_deref(), Some(ALICE));
    assert_eq!(
        cpim.content_header("Content-Disposition"),
        Some("notification")
    );
    assert!(
        cpim.header(imdn::CPIM_NS, "Disposition-Notification")
            .is_none(),
        "a notification never asks for notifications"
    );
    assert!(cpim
        .header(imdn::CPIM_NS, "Message-ID")
        .is_some_and(|id| id != "m-1"));
}

#[test]
fn auto_delivery_off_sends_nothing_by_itself() {
    let mut cfg = alice_config();
    cfg.auto_delivery = false;
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let body = bob_cpim("m-2", "positive-delivery", "text/plain", "x");
    h.inject(&from_bob("c2", "message/cpim", &body));
    assert_eq!(h.messages().len(), 1);
    assert!(notifications_sent(&h).is_empty());
}

#[test]
fn mark_displayed_sends_one_display_notification_when_asked_for() {
    let mut h = chat();
    let body = bob_cpim("m-3", "display", "text/plain", "look");
    h.inject(&from_bob("c3", "message/cpim", &body));
    assert!(
        notifications_sent(&h).is_empty(),
        "display only: nothing on arrival"
    );
    let op = h.ua.mark_displayed(h.now, Some("m-3"));
    h.pump();
    assert_eq!(h.ok(op), Outcome::DisplayNotified { sent: true });
    let sent = notifications_sent(&h);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].1.kind, sent[0].1.status),
        (Kind::Display, Status::Displayed)
    );
    // Once only, and nothing for what was never asked or is unknown.
    let again = h.ua.mark_displayed(h.now, Some("m-3"));
    let unknown = h.ua.mark_displayed(h.now, Some("nope"));
    h.pump();
    assert_eq!(h.ok(again), Outcome::DisplayNotified { sent: false });
    assert_eq!(h.ok(unknown), Outcome::DisplayNotified { sent: false });
    assert_eq!(notifications_sent(&h).len(), 1);
    let empty = h.ua.mark_displayed(h.now, Some(" "));
    let no_id = h.ua.mark_displayed(h.now, None);
    h.pump();
    assert_eq!(h.err(empty).code(), "bad_input");
    assert_eq!(h.ok(no_id), Outcome::DisplayNotified { sent: false });
    // Closed: invalid_state, as every command (and set_extra_headers).
    h.ua.close(h.now);
    let closed = h.ua.mark_displayed(h.now, Some("m-9"));
    h.pump();
    assert_eq!(h.err(closed).code(), "invalid_state");
    let e = h.ua.set_extra_headers(&[]).unwrap_err();
    assert_eq!(e.code(), "invalid_state");
}

#[test]
fn an_incoming_notification_is_an_imdn_event_never_a_message() {
    let mut h = chat();
    let n = Notification {
        message_id: "ours-1".into(),
        date_time: "2026-11-29T23:46:40Z".into(),
        recipient_uri: Some(BOB.into()),
        original_recipient_uri: None,
        subject: None,
        kind: Kind::Display,
        status: Status::Displayed,
    };
    let body = CpimMessage::new(BOB, ALICE, "message/imdn+xml", n.encode())
        .date_time(1_795_996_100)
        .namespaced("i", imdn::CPIM_NS, "Message-ID", "n-1")
        .content_header("Content-Disposition", "notification")
        .encode()
        .unwrap();
    h.inject(&from_bob("c4", "message/cpim", &body));
    assert!(h.messages().is_empty());
    let got: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Imdn(i) => Some(i.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, "ours-1");
    assert_eq!(got[0].from, BOB);
    assert_eq!(
        (got[0].kind, got[0].status),
        (Kind::Display, Status::Displayed)
    );
    assert_eq!(got[0].at, "2026-11-29T23:48:20Z");
    assert!(
        notifications_sent(&h).is_empty(),
        "a notification is not answered"
    );
    let answered = h.core.received.iter().any(|m| m.status() == Some(200));
    assert!(answered);
    // The same notification again (a new Call-ID, its own imdn.Message-ID repeated,
    // RFC 5438 §6.3), and a retransmission of the first: answered, reported once.
    h.inject(&from_bob("c5", "message/cpim", &body));
    h.inject(&from_bob("c4", "message/cpim", &body));
    let count = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::Imdn(_)))
        .count();
    assert_eq!(count, 1, "one imdn event");
    let answers = h
        .core
        .received
        .iter()
        .filter(|m| m.status() == Some(200))
        .count();
    assert!(answers >= 3, "each answered");
}

#[test]
fn a_peer_refusing_notifications_gets_none_more_and_real_messages_still_go() {
    let mut h = chat();
    h.core.behaviour.message_status_for = vec![("message/imdn+xml", 415)];
    for (i, id) in ["r-1", "r-2"].iter().enumerate() {
        let body = bob_cpim(id, "positive-delivery", "text/plain", "x");
        h.inject(&from_bob(&format!("c5{i}"), "message/cpim", &body));
    }
    assert_eq!(h.messages().len(), 2);
    assert_eq!(
        notifications_sent(&h).len(),
        1,
        "the second is not sent after the 415"
    );
    let op = h.ua.send_message(h.now, BOB, b"still here", None);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
}

#[test]
fn content_of_a_refused_type_is_415_and_reported_failed_when_asked() {
    let mut cfg = alice_config();
    cfg.accept_types = vec!["text/plain".into()];
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let body = bob_cpim(
        "f-1",
        "positive-delivery, negative-delivery",
        "image/png",
        "PNG",
    );
    h.inject(&from_bob("c6", "message/cpim", &body));
    assert!(h.messages().is_empty());
    let refusal = h
        .core
        .received
        .iter()
        .find(|m| m.status().is_some())
        .unwrap();
    assert_eq!(refusal.status(), Some(415));
    assert!(Harness::header(refusal, "Accept").contains("message/cpim"));
    let sent = notifications_sent(&h);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].1.kind, sent[0].1.status),
        (Kind::Delivery, Status::Failed)
    );
}

#[test]
fn a_malformed_cpim_or_imdn_body_is_400_and_nothing_else() {
    let mut h = chat();
    h.inject(&from_bob(
        "c7",
        "message/cpim",
        b"From: <sip:bob@imsip.test>\r\nno blank line",
    ));
    let imdn_body = CpimMessage::new(BOB, ALICE, "message/imdn+xml", "<imdn>".as_bytes())
        .encode()
        .unwrap();
    h.inject(&from_bob("c8", "message/cpim", &imdn_body));
    h.inject(&from_bob(
        "c9",
        "application/im-iscomposing+xml",
        b"<isComposing/>",
    ));
    let statuses: Vec<_> = h.core.received.iter().filter_map(|m| m.status()).collect();
    assert_eq!(statuses, [400, 400, 400]);
    assert!(h.messages().is_empty() && composing_events(&h).is_empty());
    let dropped = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::Dropped { .. }))
        .count();
    assert_eq!(dropped, 3);
}

#[test]
fn a_message_seen_before_by_its_message_id_is_delivered_once() {
    let mut h = chat();
    let body = bob_cpim("d-1", "positive-delivery", "text/plain", "once");
    h.inject(&from_bob("c10", "message/cpim", &body));
    h.inject(&from_bob("c11", "message/cpim", &body)); // resent in a new transaction
    assert_eq!(h.messages().len(), 1);
}

// ───────────────────────── isComposing: sending ─────────────────────────

#[test]
fn composing_sends_active_once_refreshes_before_it_lapses_and_idles_after_15_s() {
    let mut h = chat();
    h.ua.set_composing(h.now, BOB, true).unwrap();
    h.pump();
    for _ in 0..10 {
        h.run_for(1_000);
        h.ua.set_composing(h.now, BOB, true).unwrap(); // keystrokes
    }
    h.pump();
    let sent = indications_sent(&h);
    assert_eq!(sent.len(), 1, "keystrokes within the interval send nothing");
    assert_eq!(sent[0].state, State::Active);
    assert_eq!(sent[0].refresh, Some(120));
    // Typing on for two minutes: refreshed before the 120 s lapse, not more often.
    for _ in 0..120 {
        h.run_for(1_000);
        h.ua.set_composing(h.now, BOB, true).unwrap();
    }
    h.pump();
    let sent = indications_sent(&h);
    assert_eq!(sent.len(), 2, "one refresh in 130 s");
    assert_eq!(sent[1].state, State::Active);
    // Then nothing for 15 s: idle, with the time of the last activity.
    h.run_for(16_000);
    let sent = indications_sent(&h);
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].state, State::Idle);
    assert_eq!(sent[2].last_active, Some((WALL + 130_000) / 1000));
    h.run_for(600_000);
    assert_eq!(indications_sent(&h).len(), 3, "nothing more once idle");
}

#[test]
fn stopping_sends_idle_and_a_sent_message_ends_composing_silently() {
    let mut h = chat();
    h.ua.set_composing(h.now, BOB, true).unwrap();
    h.ua.set_composing(h.now, BOB, false).unwrap();
    h.pump();
    let states: Vec<_> = indications_sent(&h).iter().map(|i| i.state).collect();
    assert_eq!(states, [State::Active, State::Idle]);
    h.ua.set_composing(h.now, BOB, true).unwrap();
    let op = h.ua.send_message(h.now, BOB, b"done typing", None);
    h.pump();
    h.ok(op);
    h.run_for(600_000);
    let states: Vec<_> = indications_sent(&h).iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        [State::Active, State::Idle, State::Active],
        "the message itself says idle (RFC 3994 §3.2)"
    );
}

#[test]
fn a_peer_answering_415_to_composing_gets_no_more_and_the_next_message_succeeds() {
    let mut h = chat();
    h.core.behaviour.message_status_for = vec![("isComposing", 415)];
    h.ua.set_composing(h.now, BOB, true).unwrap();
    h.pump();
    h.ua.set_composing(h.now, BOB, false).unwrap();
    h.ua.set_composing(h.now, BOB, true).unwrap();
    h.run_for(300_000);
    assert_eq!(indications_sent(&h).len(), 1, "nothing after the 415");
    let op = h.ua.send_message(h.now, BOB, b"real text", None);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
    // Another peer is not affected.
    h.ua.set_composing(h.now, "sip:carol@imsip.test", true)
        .unwrap();
    h.pump();
    let to_carol = h
        .sent_requests(Method::Message)
        .iter()
        .filter(|m| m.request_uri().unwrap().as_str() == "sip:carol@imsip.test")
        .count();
    assert_eq!(to_carol, 1);
}

#[test]
fn composing_is_not_sent_unregistered_and_bad_peers_are_input_errors() {
    let mut h = Harness::alice();
    h.ua.set_composing(h.now, BOB, true).unwrap();
    h.pump();
    assert!(h.sent.is_empty(), "nothing sent, no connection opened");
    let mut h = chat();
    let e =
        h.ua.set_composing(h.now, "bob at example", true)
            .unwrap_err();
    assert_eq!(e.code(), "bad_input");
}

// ───────────────────────── isComposing: receiving ─────────────────────────

#[test]
fn a_peers_active_lapses_after_its_refresh_and_ends_with_its_message() {
    let mut h = chat();
    let mut active = IsComposing::new(State::Active);
    active.refresh = Some(60);
    active.content_type = Some("text/plain".into());
    h.inject(&from_bob(
        "k1",
        "application/im-iscomposing+xml",
        active.encode().as_bytes(),
    ));
    let ev = composing_events(&h);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].from.as_str(), ev[0].state), (BOB, State::Active));
    assert_eq!(ev[0].content_type.as_deref(), Some("text/plain"));
    h.run_for(59_000);
    assert_eq!(
        composing_events(&h).len(),
        1,
        "still active within the refresh"
    );
    h.run_for(2_000);
    let ev = composing_events(&h);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1].state, State::Idle, "lapsed (RFC 3994 §3.3)");

    // Active again, then Bob's message: idle at once, before the message event.
    h.inject(&from_bob(
        "k2",
        "application/im-iscomposing+xml",
        active.encode().as_bytes(),
    ));
    h.inject(&from_bob("k3", "text/plain", b"here it is"));
    let ev = composing_events(&h);
    assert_eq!(ev.len(), 4);
    assert_eq!(ev[3].state, State::Idle);
    h.run_for(600_000);
    assert_eq!(
        composing_events(&h).len(),
        4,
        "no second idle from the lapse timer"
    );
    assert!(indications_sent(&h).is_empty() && notifications_sent(&h).is_empty());
}

#[test]
fn an_indication_without_refresh_holds_120_s() {
    let mut h = chat();
    let active = IsComposing::new(State::Active);
    h.inject(&from_bob(
        "k4",
        "application/im-iscomposing+xml",
        active.encode().as_bytes(),
    ));
    h.run_for(119_000);
    assert_eq!(composing_events(&h).len(), 1);
    h.run_for(2_000);
    assert_eq!(composing_events(&h).len(), 2);
}

#[test]
fn a_peer_refusing_cpim_gets_the_message_plain_now_and_later() {
    let mut h = chat();
    // A peer (or a server on the way) that takes no message/cpim: 415 without it in Accept.
    h.core.behaviour.message_status_for = vec![("urn:ietf:params:imdn", 415)];
    let options = MessageOptions {
        imdn: delivery_and_display(),
        ..MessageOptions::default()
    };
    let op = h.ua.send_message_with(h.now, BOB, b"first", &options);
    h.pump();
    assert_eq!(
        h.ok(op),
        Outcome::MessageSent {
            status: 200,
            reason: "OK".into(),
            message_id: None
        },
        "delivered plain, without receipts"
    );
    let types: Vec<_> = sent_to_bob(&h).into_iter().map(|(ct, _)| ct).collect();
    assert_eq!(types, ["message/cpim", "text/plain;charset=UTF-8"]);
    let op = h.ua.send_message_with(h.now, BOB, b"second", &options);
    h.pump();
    assert!(matches!(
        h.ok(op),
        Outcome::MessageSent {
            message_id: None,
            ..
        }
    ));
    let types: Vec<_> = sent_to_bob(&h).into_iter().map(|(ct, _)| ct).collect();
    assert_eq!(
        types.len(),
        3,
        "no second CPIM attempt to that peer: {types:?}"
    );
    // Another kind of refusal is the app's to see.
    h.core.behaviour.message_status_for = vec![];
    h.core.behaviour.message_status = Some(404);
    let op =
        h.ua.send_message_with(h.now, "sip:carol@imsip.test", b"x", &options);
    h.pump();
    assert_eq!(h.err(op).status(), Some(404));
}

#[test]
fn an_indication_of_a_state_we_do_not_know_is_taken_as_idle() {
    // RFC 3994's schema types <state> as a string: "paused" (another extension) was
    // answered 400 and dropped; it is answered 200 and ends "active".
    let mut h = chat();
    let active = IsComposing::new(State::Active);
    h.inject(&from_bob(
        "k5",
        "application/im-iscomposing+xml",
        active.encode().as_bytes(),
    ));
    let paused = active.encode().replace(">active<", ">paused<");
    assert!(paused.contains(">paused<"));
    h.inject(&from_bob(
        "k6",
        "application/im-iscomposing+xml",
        paused.as_bytes(),
    ));
    let states: Vec<State> = composing_events(&h).iter().map(|e| e.state).collect();
    assert_eq!(states, [State::Active, State::Idle]);
    let answers: Vec<u16> = h.core.received.iter().filter_map(|m| m.status()).collect();
    assert!(!answers.contains(&400), "{answers:?}");
}

#[test]
fn a_cpim_body_sent_base64_reaches_the_app_decoded() {
    // RFC 3862 §3 / RFC 2045 §6.8: `Content-Transfer-Encoding: base64` on the
    // encapsulated object; the app got the base64 text ("aMOpbGxv").
    let mut h = chat();
    let body = "From: <sip:bob@imsip.test>\r\nTo: <sip:alice@imsip.test>\r\n\
                DateTime: 2026-12-01T03:00:00Z\r\n\r\n\
                Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                aMOp\r\nbGxv";
    h.inject(&from_bob("b64-1", "message/cpim", body.as_bytes()));
    let m = h.messages();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].body, "héllo".as_bytes());
    assert_eq!(m[0].content_type, "text/plain;charset=UTF-8");
}
