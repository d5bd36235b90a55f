//! The proxy's unit tests: relaying driven by frames and a stepped clock.
use super::*;
use crate::message_store::MessageStore;
use crate::store::Store;
use crate::testing::{request, Kit};
use imsip::message::Method;
use std::time::Duration;

const ALICE: &str = "sip:alice@imsip.test";
const BOB: &str = "sip:bob@imsip.test";

/// A proxy, a registrar, alice's flow and a flow for each of bob's
/// `n` registered instances.
fn setup(n: u32) -> (Kit, Proxy, Registrar, ConnId, Vec<ConnId>) {
    let mut kit = Kit::new();
    let mut reg = Registrar::default();
    let alice = kit.conn();
    let bob = kit.user(BOB);
    let mut bobs = Vec::new();
    for i in 1..=n {
        let conn = kit.conn();
        let contact =
            format!("<sip:b{i}@h.invalid;transport=ws>;+sip.instance=\"<urn:uuid:{i}>\";reg-id=1");
        let req = request(Method::Register, "sip:imsip.test", BOB, i)
            .header("Contact", contact)
            .build();
        reg.on_register(&mut kit.cx(), conn, &req, &bob);
        assert_eq!(kit.last(conn).status(), Some(200));
        bobs.push(conn);
    }
    (kit, Proxy::default(), reg, alice, bobs)
}

fn message(to: &str) -> Message {
    request(Method::Message, to, ALICE, 1)
        .header("Route", "<sip:orig@scscf.imsip.test;lr>")
        .header("P-Asserted-Identity", "<sip:someone@else>")
        .body(Some("text/plain;charset=UTF-8"), "hi")
        .build()
}

fn send(
    kit: &mut Kit,
    p: &mut Proxy,
    reg: &Registrar,
    im: &mut ImServer,
    from: ConnId,
    m: &Message,
) {
    p.on_message(&mut kit.cx(), from, m, reg, im);
}

fn answer(kit: &mut Kit, p: &mut Proxy, reg: &Registrar, req: &Message, status: u16) -> bool {
    let resp = MessageBuilder::reply(req, status, "Whatever", Some("x")).build();
    let branch = resp.top_via().unwrap().branch().unwrap().to_owned();
    p.on_response(&mut kit.cx(), &branch, &resp, &mut ImServer::default(), reg)
}

#[test]
fn forks_to_every_contact_and_a_2xx_wins() {
    let (mut kit, mut p, reg, alice, bobs) = setup(2);
    let m = message(BOB);
    send(&mut kit, &mut p, &reg, &mut ImServer::default(), alice, &m);
    let legs: Vec<Message> = bobs.iter().map(|&b| kit.last(b)).collect();
    for (i, got) in legs.iter().enumerate() {
        assert_eq!(
            got.request_uri().unwrap().as_str(),
            format!("sip:b{}@h.invalid;transport=ws", i + 1)
        );
        assert_eq!(got.via().unwrap().len(), 2);
        assert_eq!(got.max_forwards().unwrap(), Some(69));
        assert!(got.header("Route").is_none());
        let pai = got.p_asserted_identity().unwrap();
        assert_eq!(pai.len(), 1);
        assert_eq!(pai[0].uri.as_str(), ALICE);
        assert_eq!(got.body(), b"hi");
    }
    assert!(kit.timers.get(Timer::Relay(1)).is_some());
    assert!(
        answer(&mut kit, &mut p, &reg, &legs[0], 180),
        "a 1xx is absorbed"
    );
    assert!(kit.take(alice).is_empty());
    assert!(answer(&mut kit, &mut p, &reg, &legs[0], 486));
    assert!(kit.take(alice).is_empty(), "the other leg may still accept");
    assert!(answer(&mut kit, &mut p, &reg, &legs[1], 200));
    let r = kit.last(alice);
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.via().unwrap(), m.via().unwrap(), "our Via removed");
    assert_eq!(
        kit.timers.next(),
        Some(kit.timers.get(Timer::Bindings).unwrap())
    );
    assert!(
        !answer(&mut kit, &mut p, &reg, &legs[1], 200),
        "the relay is over"
    );
}

#[test]
fn best_refusal_after_the_deadline_or_480() {
    let (mut kit, mut p, reg, alice, bobs) = setup(2);
    send(
        &mut kit,
        &mut p,
        &reg,
        &mut ImServer::default(),
        alice,
        &message(BOB),
    );
    let leg = kit.last(bobs[0]);
    assert!(answer(&mut kit, &mut p, &reg, &leg, 486));
    kit.advance(Duration::from_secs(2));
    assert_eq!(kit.timers.pop_expired(kit.now.mono), Some(Timer::Relay(1)));
    p.relay_timed_out(&mut kit.cx(), 1, &mut ImServer::default(), &reg);
    assert_eq!(kit.last(alice).status(), Some(486));

    send(
        &mut kit,
        &mut p,
        &reg,
        &mut ImServer::default(),
        alice,
        &message(BOB),
    );
    let legs: Vec<Message> = bobs.iter().map(|&b| kit.last(b)).collect();
    assert!(answer(&mut kit, &mut p, &reg, &legs[0], 486));
    assert!(answer(&mut kit, &mut p, &reg, &legs[1], 603));
    assert_eq!(kit.last(alice).status(), Some(603), "a 6xx wins");

    send(
        &mut kit,
        &mut p,
        &reg,
        &mut ImServer::default(),
        alice,
        &message(BOB),
    );
    p.relay_timed_out(&mut kit.cx(), 3, &mut ImServer::default(), &reg);
    assert_eq!(kit.last(alice).status(), Some(480), "no answer at all");
}

#[test]
fn unknown_offline_hops_and_closed_flows() {
    let (mut kit, mut p, reg, alice, bobs) = setup(1);
    let mut im = ImServer::default();
    send(
        &mut kit,
        &mut p,
        &reg,
        &mut im,
        alice,
        &message("sip:nobody@imsip.test"),
    );
    assert_eq!(kit.last(alice).status(), Some(404));
    send(
        &mut kit,
        &mut p,
        &reg,
        &mut im,
        alice,
        &message("sip:carol@imsip.test"),
    );
    // A known user with no contact: 480 (RFC 3261 §21.4.18), unless the IM
    // Server stores it (offline delivery, not set here).
    assert_eq!(kit.last(alice).status(), Some(480));
    let mut spent = MessageBuilder::request(Method::Message, BOB.parse().unwrap());
    for (name, value) in message(BOB).headers() {
        let value = if name == "Max-Forwards" { "0" } else { value };
        spent.push_header(name, value);
    }
    let spent = spent.build();
    send(&mut kit, &mut p, &reg, &mut im, alice, &spent);
    assert_eq!(kit.last(alice).status(), Some(483));

    // The only leg's flow closes while it is pending: 480 at once.
    send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
    let _ = kit.last(bobs[0]);
    assert!(kit.flows.close(bobs[0]));
    p.close(&mut kit.cx(), bobs[0], &mut ImServer::default(), &reg);
    assert_eq!(kit.last(alice).status(), Some(480));
    // And nothing is sent to it afterwards.
    send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
    assert_eq!(kit.last(alice).status(), Some(480));
    assert!(p.relays.is_empty() && p.legs.is_empty());
}

#[test]
fn the_im_server_may_refuse_or_store() {
    let (mut kit, mut p, reg, alice, bobs) = setup(1);
    let mut im = ImServer::default();
    im.fixed = Some(Disposition::Refuse {
        status: 403,
        reason: "Forbidden (barred)".into(),
        warning: Some("barred by \"settings\"".into()),
    });
    send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
    let r = kit.last(alice);
    assert_eq!(r.status(), Some(403));
    assert_eq!(
        r.header("Warning"),
        Some("399 imsip.test \"barred by 'settings'\"")
    );
    assert!(kit.take(bobs[0]).is_empty());

    im.fixed = Some(Disposition::Store);
    send(
        &mut kit,
        &mut p,
        &reg,
        &mut im,
        alice,
        &message("sip:carol@imsip.test"),
    );
    assert_eq!(
        kit.last(alice).status(),
        Some(202),
        "stored even when offline"
    );
    assert!(p.relays.is_empty());
}

#[test]
fn top_via_stripping_and_best_choice() {
    let req = request(Method::Message, BOB, ALICE, 1).build();
    let one = MessageBuilder::reply(&req, 200, "OK", None).build();
    assert!(strip_top_via(&one).is_none());
    let two = MessageBuilder::response(486, "Busy Here")
        .header("Via", "SIP/2.0/WS a;branch=z9hG4bK1")
        .header(
            "Via",
            "SIP/2.0/WS b;branch=z9hG4bK2, SIP/2.0/WS c;branch=z9hG4bK3",
        )
        .header("Call-ID", "x")
        .build();
    let s = strip_top_via(&two).unwrap();
    assert_eq!(s.via().unwrap().len(), 2);
    assert_eq!(s.top_via().unwrap().branch(), Some("z9hG4bK2"));
    assert_eq!(s.call_id().unwrap(), "x");
    let r = |st: u16| MessageBuilder::response(st, "x").build();
    assert_eq!(better(None, r(486)).status(), Some(486));
    assert_eq!(better(Some(r(486)), r(404)).status(), Some(404));
    assert_eq!(better(Some(r(404)), r(603)).status(), Some(603));
    assert_eq!(better(Some(r(603)), r(400)).status(), Some(603));
}

/// A CPIM envelope from alice to bob around `inner` bytes, asking for
/// `dispositions` (RFC 5438).
fn cpim_asking(inner: &[u8], dispositions: &str) -> Vec<u8> {
    use imsip::im::cpim::CpimMessage;
    use imsip::im::imdn::CPIM_NS;
    CpimMessage::new(ALICE, BOB, "application/octet-stream", inner.to_vec())
        .date_time(1_795_993_500)
        .namespaced("imdn", CPIM_NS, "Message-ID", "m-1")
        .namespaced("imdn", CPIM_NS, "Disposition-Notification", dispositions)
        .encode()
        .unwrap()
}

#[test]
fn every_body_is_relayed_byte_exact() {
    let (mut kit, mut p, reg, alice, bobs) = setup(1);
    let mut im = ImServer::default();
    let bodies: [(&str, Vec<u8>); 3] = [
        // A CPIM envelope with an IMDN request around bytes that are not UTF-8.
        ("message/cpim", cpim_asking(b"\xff\xfe\x00 \xc3(", "positive-delivery, display")),
        (
            "application/im-iscomposing+xml",
            b"<?xml version=\"1.0\"?><isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state></isComposing>".to_vec(),
        ),
        ("application/octet-stream", (0..=255).collect()),
    ];
    for (ct, body) in bodies {
        let m = request(Method::Message, BOB, ALICE, 1)
            .body(Some(ct), body.clone())
            .build();
        send(&mut kit, &mut p, &reg, &mut im, alice, &m);
        let got = kit.last(bobs[0]);
        assert_eq!(got.body(), body, "{ct}: untouched");
        assert_eq!(got.header("Content-Type"), Some(ct));
        assert_eq!(got.content_length(), Some(body.len()));
        assert!(answer(&mut kit, &mut p, &reg, &got, 200));
        assert_eq!(kit.last(alice).status(), Some(200));
    }
}

#[test]
fn unanswered_a_composing_indication_is_480_a_message_asking_for_processing_202_and_stored() {
    let (mut kit, mut p, mut reg, alice, bobs) = setup(1);
    // alice is registered on her flow (to hear the `stored` notification).
    let alice_user = kit.user(ALICE);
    let req = request(Method::Register, "sip:imsip.test", ALICE, 9)
        .header(
            "Contact",
            "<sip:a1@h.invalid;transport=ws>;+sip.instance=\"<urn:uuid:a>\";reg-id=1",
        )
        .build();
    reg.on_register(&mut kit.cx(), alice, &req, &alice_user);
    assert_eq!(kit.last(alice).status(), Some(200));
    offline_delivery_for_bob(&mut kit);
    let mut im = ImServer::default();

    let composing = request(Method::Message, BOB, ALICE, 1)
        .body(Some("application/im-iscomposing+xml"), "<isComposing/>")
        .build();
    send(&mut kit, &mut p, &reg, &mut im, alice, &composing);
    let _leg = kit.last(bobs[0]);
    p.relay_timed_out(&mut kit.cx(), 1, &mut im, &reg);
    assert_eq!(kit.last(alice).status(), Some(480), "never stored");

    let body = cpim_asking(b"hello", "processing");
    let chat = request(Method::Message, BOB, ALICE, 2)
        .body(Some("message/cpim"), body.clone())
        .build();
    send(&mut kit, &mut p, &reg, &mut im, alice, &chat);
    let _leg = kit.last(bobs[0]);
    p.relay_timed_out(&mut kit.cx(), 2, &mut im, &reg);
    let got = kit.take(alice);
    assert_eq!(got[0].status(), Some(202), "{got:?}");
    assert_eq!(
        got[1].method(),
        Some(&Method::Message),
        "then the stored notification"
    );
    assert!(String::from_utf8_lossy(got[1].body()).contains("<stored/>"));
    let kept = kit.store.deferred_for(BOB).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, body);
}

/// Bob's published settings turn offline delivery on.
fn offline_delivery_for_bob(kit: &mut Kit) {
    let doc = "<service-settings xmlns=\"urn:oma:xml:im:service-settings\"><entity id=\"sip:bob@imsip.test\"><deferred-settings><offline-delivery active=\"true\"/></deferred-settings></entity></service-settings>";
    let publication = crate::store::Publication {
        content_type: "application/service-settings+xml".into(),
        document: doc.as_bytes().to_vec(),
        etag: "e".into(),
        expires_at: u64::MAX / 2,
    };
    kit.store
        .put_publication(BOB, "service-settings", &publication)
        .unwrap();
}

#[test]
fn every_flow_closed_before_the_binding_expired_is_offline_and_stored() {
    // Bob's two tabs closed without un-REGISTERing: both bindings are alive,
    // neither flow is. Offline delivery must store the MESSAGE (202), not
    // answer 480 as if he were online and silent.
    let (mut kit, mut p, reg, alice, bobs) = setup(2);
    offline_delivery_for_bob(&mut kit);
    let mut im = ImServer::default();
    for &b in &bobs {
        assert!(kit.flows.close(b));
    }
    send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
    assert_eq!(kit.last(alice).status(), Some(202));
    assert!(p.relays.is_empty() && p.legs.is_empty(), "nothing relayed");
    let kept = kit.store.deferred_for(BOB).unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, b"hi");

    // Without offline delivery, the same closed flows are 480 at once (RFC 3261 §21.4.18).
    let (mut kit2, mut p2, reg2, alice2, bobs2) = setup(1);
    assert!(kit2.flows.close(bobs2[0]));
    send(&mut kit2, &mut p2, &reg2, &mut im, alice2, &message(BOB));
    assert_eq!(kit2.last(alice2).status(), Some(480));
}
