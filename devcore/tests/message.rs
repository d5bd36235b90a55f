//! Proxy, RFC 3428: MESSAGE relayed to every registered contact, responses
//! relayed back, 404 / 480 / timeouts.

mod common;

use common::*;
use imsip::message::{Message, Method};
use std::time::Duration;

const TEXT: &str = "héllo wörld ✓ — 日本語 🎉";

fn message(from: &mut Ua, to_aor: &str, text: &str) -> Message {
    message_to(from, to_aor, text)
}

#[tokio::test]
async fn relayed_between_two_clients() {
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;

    let m = message(&mut alice, "sip:bob@imsip.test", TEXT);
    alice.send(&m).await;
    let got = bob.request().await;
    assert_eq!(got.method(), Some(&Method::Message));
    assert_eq!(got.request_uri().unwrap().as_str(), bob.contact_uri);
    assert_eq!(got.body_str(), Some(TEXT));
    assert_eq!(got.content_length(), Some(TEXT.len()));
    assert_eq!(got.max_forwards().unwrap(), Some(69));
    let vias = got.via().unwrap();
    assert_eq!(vias.len(), 2, "devcore's Via on top of alice's");
    // Alice's Via, with the address her request came from (RFC 3261 §18.2.1:
    // her sent-by is a `.invalid` name).
    let sent = vias_as_received(&m);
    assert_eq!(vias[1..], sent);
    assert!(got.header("Route").is_none());
    assert_eq!(
        got.p_asserted_identity().unwrap()[0].uri.as_str(),
        "sip:alice@imsip.test"
    );
    assert_eq!(got.from().unwrap(), m.from().unwrap());
    got.validate().unwrap();

    bob.answer(&got, 200, "OK").await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.via().unwrap(), sent, "only alice's Via left");
    assert_eq!(r.call_id().unwrap(), m.call_id().unwrap());
}

#[tokio::test]
async fn every_contact_gets_it_and_a_2xx_wins() {
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob1 = core.bob().await;
    let mut bob2 = core.bob().await;
    alice.register().await;
    bob1.register().await;
    bob2.register().await;

    {
        let m = message(&mut alice, "sip:bob@imsip.test", "hi");
        alice.send(&m).await
    };
    let m1 = bob1.request().await;
    let m2 = bob2.request().await;
    assert_eq!(m1.body_str(), Some("hi"));
    assert_eq!(m2.body_str(), Some("hi"));
    bob1.answer(&m1, 486, "Busy Here").await;
    bob2.answer(&m2, 200, "OK").await;
    assert_eq!(alice.response().await.status(), Some(200));

    // All refuse: the best refusal goes back.
    {
        let m = message(&mut alice, "sip:bob@imsip.test", "again");
        alice.send(&m).await
    };
    let m1 = bob1.request().await;
    let m2 = bob2.request().await;
    bob1.answer(&m1, 486, "Busy Here").await;
    bob2.answer(&m2, 603, "Decline").await;
    assert_eq!(alice.response().await.status(), Some(603));
}

#[tokio::test]
async fn a_retransmitted_message_is_relayed_once_and_gets_the_same_answer() {
    // RFC 3261 §17.2.3: the same branch, sent-by and method is the same
    // transaction, whether it comes again while bob is silent or after he
    // answered (a client that lost its socket may send it again).
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    let m = message(&mut alice, "sip:bob@imsip.test", "once");
    alice.send(&m).await;
    let got = bob.request().await;
    alice.send(&m).await; // while the relay waits for bob: absorbed
    bob.answer(&got, 200, "OK").await;
    let first = alice.response().await;
    assert_eq!(first.status(), Some(200));
    alice.send(&m).await; // after the answer: the same answer again
    let again = alice.response().await;
    assert_eq!(again.to_text(), first.to_text());
    // Bob's next request is the next message: neither copy reached him.
    let next = message(&mut alice, "sip:bob@imsip.test", "next");
    alice.send(&next).await;
    assert_eq!(bob.request().await.body_str(), Some("next"));
}

#[tokio::test]
async fn an_unknown_target_is_404_an_unregistered_one_480() {
    let core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;
    let r = alice.message("sip:nobody@imsip.test", "?").await;
    assert_eq!(r.status(), Some(404), "{r}");
    // carol exists but is not registered (and keeps no offline delivery).
    let r = alice.message("sip:carol@imsip.test", "?").await;
    assert_eq!(r.status(), Some(480), "{r}");
}

#[tokio::test]
async fn no_answer_is_480() {
    let core = start_with(|c| c.relay_timeout = Duration::from_millis(300)).await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    {
        let m = message(&mut alice, "sip:bob@imsip.test", "anyone?");
        alice.send(&m).await
    };
    let _ignored = bob.request().await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(480), "{r}");

    // A late answer is dropped quietly.
    bob.answer(&_ignored, 200, "OK").await;
    let ping = alice
        .base(
            Method::Options,
            "sip:imsip.test",
            "<sip:imsip.test>",
            &unique("o"),
        )
        .build();
    assert_eq!(alice.call(&ping).await.status(), Some(200));
}

#[tokio::test]
async fn closed_flow_is_not_relayed_to_and_recovers_after_reregister() {
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    let instance = bob.instance.clone();
    bob.ws.close(None).await.unwrap();
    drop(bob);
    // The close reaches the core asynchronously: wait until it has handled
    // it (alice's flow is the only one left).
    core.wait_open_flows(1).await;

    // The binding outlives the flow, but nothing is sent to a closed socket:
    // 480 at once.
    let r = alice.message("sip:bob@imsip.test", "lost?").await;
    assert_eq!(r.status(), Some(480), "{r}");

    // bob reconnects with the same instance and registers again.
    let mut bob = core.bob().await;
    bob.instance = instance;
    let r = bob.register().await;
    assert_eq!(
        r.contact_list().unwrap().len(),
        1,
        "the binding was replaced"
    );
    {
        let m = message(&mut alice, "sip:bob@imsip.test", "back");
        alice.send(&m).await
    };
    let got = bob.request().await;
    assert_eq!(got.body_str(), Some("back"));
    bob.answer(&got, 200, "OK").await;
    assert_eq!(alice.response().await.status(), Some(200));
}

#[tokio::test]
async fn barring_refuses_messages_and_session_invites_alike() {
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    let doc = settings_doc("sip:alice@imsip.test", true);
    assert_eq!(
        alice.publish(None, None, Some(&doc)).await.status(),
        Some(200)
    );
    let r = bob.message("sip:alice@imsip.test", "hi").await;
    assert_eq!(r.status(), Some(403), "{r}");
    assert_eq!(
        r.header("Warning"),
        Some("399 imsip.test \"incoming session barring active\"")
    );
    let invite = |ua: &mut common::Ua, to: &str| {
        ua.base(Method::Invite, to, &format!("<{to}>"), &unique("inv"))
            .header("Contact", ua.contact())
            .body(Some("application/sdp"), "v=0\r\n")
            .build()
    };
    let req = invite(&mut bob, "sip:alice@imsip.test");
    assert_eq!(bob.call(&req).await.status(), Some(100));
    let r = bob.response().await;
    assert_eq!(r.status(), Some(403), "an INVITE is barred too: {r}");
    // Not barred: the INVITE is relayed (tests/sessions.rs has the rest).
    let req = invite(&mut alice, "sip:bob@imsip.test");
    assert_eq!(alice.call(&req).await.status(), Some(100));
    assert_eq!(bob.request().await.method(), Some(&Method::Invite));
}

/// bob's service settings: offline delivery on.
fn offline_delivery_doc() -> String {
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
     <service-settings xmlns=\"urn:oma:xml:im:service-settings\">\
     <entity id=\"sip:bob@imsip.test\"><deferred-settings><offline-delivery active=\"true\"/>\
     </deferred-settings></entity></service-settings>"
        .to_owned()
}

/// Through real sockets and SQLite: for an offline bob with offline
/// delivery, a composing indication is 480; a CPIM message asking for
/// processing notifications (its inner body not UTF-8) is 202, its sender
/// hears `stored`, and bob gets it at his next REGISTER byte for byte.
#[tokio::test]
async fn stored_cpim_is_delivered_byte_exact_and_its_sender_hears_stored() {
    use imsip::im::cpim::CpimMessage;
    use imsip::im::imdn::{Kind, Notification, Status, CPIM_NS};
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    let r = bob.publish(None, None, Some(&offline_delivery_doc())).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(bob.register_for(0).await.status(), Some(200));
    drop(bob);

    let composing = alice
        .base(Method::Message, "sip:bob@imsip.test", "<sip:bob@imsip.test>", &unique("m-"))
        .body(
            Some("application/im-iscomposing+xml"),
            "<?xml version=\"1.0\"?><isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state></isComposing>",
        )
        .build();
    let r = alice.call(&composing).await;
    assert_eq!(
        r.status(),
        Some(480),
        "a composing indication is never stored: {r}"
    );

    let inner = b"\xffbinary\x00\xfe\r\n".to_vec();
    let body = CpimMessage::new(
        "sip:alice@imsip.test",
        "sip:bob@imsip.test",
        "application/octet-stream",
        inner.clone(),
    )
    .date_time(1_795_993_500)
    .namespaced("imdn", CPIM_NS, "Message-ID", "kept-1")
    .namespaced(
        "imdn",
        CPIM_NS,
        "Disposition-Notification",
        "positive-delivery, processing",
    )
    .encode()
    .unwrap();
    let m = alice
        .base(
            Method::Message,
            "sip:bob@imsip.test",
            "<sip:bob@imsip.test>",
            &unique("m-"),
        )
        .body(Some("message/cpim"), body.clone())
        .build();
    alice.send_bytes(&m).await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(202), "{r}");
    let notice = alice.request().await;
    assert_eq!(notice.header("Content-Type"), Some("message/cpim"));
    let env = CpimMessage::decode(notice.body()).unwrap();
    let doc = Notification::decode(env.body()).unwrap();
    assert_eq!(
        (doc.message_id.as_str(), doc.unix_time()),
        ("kept-1", Some(1_795_993_500))
    );
    assert_eq!((doc.kind, doc.status), (Kind::Processing, Status::Stored));
    alice.answer(&notice, 200, "OK").await;

    let mut bob = core.bob().await;
    bob.register().await;
    let got = bob.request().await;
    assert_eq!(got.header("Content-Type"), Some("message/cpim"));
    assert_eq!(got.body(), body, "byte for byte through SQLite");
    assert!(got.header("Date").is_some(), "{got}");
    assert_eq!(CpimMessage::decode(got.body()).unwrap().body(), inner);
    bob.answer(&got, 200, "OK").await;
}
