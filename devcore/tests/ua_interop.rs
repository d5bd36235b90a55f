//! The imsip user agent (the sans-IO core the wasm binding wraps) against the
//! dev core over real WebSockets: register (digest and AKA), the publish
//! policy, watch + publish, and a MESSAGE between two agents.

mod common;

use common::driver::until;
use common::ua_driver::{completed, outcome, Driver};
use common::*;
use imsip::auth::{AkaKeys, Credentials, Key, OpOrOpc};
use imsip::settings::ServiceSettings;
use imsip::ua::{Event, Outcome, PolicyOutcome, RegistrationState};

#[tokio::test]
async fn user_agents_register_publish_watch_and_message() {
    let core = start().await;
    let mut alice = Driver::new(
        core.addr,
        "sip:alice@imsip.test",
        Credentials::password("alice@imsip.test", "alice-secret"),
        1,
    );
    let mut bob = Driver::new(
        core.addr,
        "sip:bob@imsip.test",
        Credentials::password("bob@imsip.test", "bob-secret"),
        2,
    );

    let op = alice.ua.register(alice.now());
    match outcome(until(&mut [&mut alice], 0, completed(op)).await) {
        Outcome::Registered(r) => {
            assert_eq!(r.state, RegistrationState::Registered);
            assert_eq!(r.associated_uris, ["sip:alice@imsip.test"]);
            assert_eq!(r.service_route, ["sip:orig@scscf.imsip.test;lr"]);
        }
        other => panic!("{other:?}"),
    }
    // The default policy fetches the server's settings: there are none yet.
    let e = until(&mut [&mut alice], 0, |e| matches!(e, Event::Policy(_))).await;
    assert_eq!(e, Event::Policy(PolicyOutcome::NothingToPublish));

    // Watch, then publish: the NOTIFY brings the document back.
    let op = alice.ua.watch_settings(alice.now());
    assert!(matches!(
        outcome(until(&mut [&mut alice], 0, completed(op)).await),
        Outcome::Subscribed { .. }
    ));
    let mut doc = ServiceSettings::default();
    doc.entity_mut("sip:alice@imsip.test")
        .incoming_session_barring = Some(true);
    let op = alice.ua.publish_settings(alice.now(), &doc, None);
    assert!(matches!(
        outcome(until(&mut [&mut alice], 0, completed(op)).await),
        Outcome::Published { .. }
    ));
    let e = until(&mut [&mut alice], 0, |e| {
        matches!(e, Event::ServiceSettings { settings, .. }
            if settings.for_entity("sip:alice@imsip.test").and_then(|x| x.incoming_session_barring) == Some(true))
    })
    .await;
    assert!(matches!(e, Event::ServiceSettings { .. }));

    // bob registers; alice sends him a MESSAGE.
    let op = bob.ua.register(bob.now());
    outcome(until(&mut [&mut alice, &mut bob], 1, completed(op)).await);
    let text = "héllo bob ✓";
    let op = alice
        .ua
        .send_message(alice.now(), "sip:bob@imsip.test", text.as_bytes(), None);
    let e = until(&mut [&mut alice, &mut bob], 1, |e| {
        matches!(e, Event::Message(_))
    })
    .await;
    match e {
        Event::Message(m) => {
            assert_eq!(m.body, text.as_bytes());
            assert_eq!(m.from, "sip:alice@imsip.test");
        }
        other => panic!("{other:?}"),
    }
    match outcome(until(&mut [&mut alice, &mut bob], 0, completed(op)).await) {
        Outcome::MessageSent { status, .. } => assert_eq!(status, 200),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn aka_user_agent_registers() {
    let core = start().await;
    let keys = AkaKeys {
        k: Key::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap(),
        op_or_opc: OpOrOpc::Op(Key::from_hex("cdc202d5123e20f62b6d676ac72cb318").unwrap()),
        amf: [0xb9, 0xb9],
    };
    let mut carol = Driver::new(
        core.addr,
        "sip:carol@imsip.test",
        Credentials::aka("carol@imsip.test", keys, 0),
        3,
    );
    let op = carol.ua.register(carol.now());
    assert!(matches!(
        outcome(until(&mut [&mut carol], 0, completed(op)).await),
        Outcome::Registered(_)
    ));
    assert_eq!(carol.ua.aka_sqn(), Some(1));
}

/// Issue 18, items 3 and 5: a SIP session set up, answered and ended between two
/// user agents through devcore (Record-Route, ACK and BYE over devcore's flows), and
/// an invitation the callee declines.
#[tokio::test]
async fn user_agents_set_up_and_end_a_session_through_devcore() {
    use imsip::ua::{SessionEndReason, SessionEvent};
    let core = start().await;
    let mut alice = Driver::new(
        core.addr,
        "sip:alice@imsip.test",
        Credentials::password("alice@imsip.test", "alice-secret"),
        3,
    );
    let mut bob = Driver::new(
        core.addr,
        "sip:bob@imsip.test",
        Credentials::password("bob@imsip.test", "bob-secret"),
        4,
    );
    for d in [&mut alice, &mut bob] {
        let op = d.ua.register(d.now());
        outcome(until(&mut [d], 0, completed(op)).await);
    }
    let offer = "v=0\r\no=- 1 1 IN IP4 alice.invalid\r\ns=-\r\nc=IN IP4 alice.invalid\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\na=accept-types:text/plain\r\na=path:msrps://alice.invalid:2855/a1;ws\r\n";
    let answer = offer.replace("alice", "bob").replace("/a1", "/b1");

    // alice invites; bob is told, with the offer, and accepts.
    let (op, alice_session) =
        alice
            .ua
            .start_session(alice.now(), "sip:bob@imsip.test", offer, false);
    let e = until(&mut [&mut alice, &mut bob], 1, |e| {
        matches!(e, Event::Session(SessionEvent::Invitation { .. }))
    })
    .await;
    let Event::Session(SessionEvent::Invitation {
        session: bob_session,
        from,
        offer: got_offer,
        large_message,
        ..
    }) = e
    else {
        unreachable!()
    };
    assert_eq!(from, "sip:alice@imsip.test");
    assert_eq!(got_offer.as_deref(), Some(offer));
    assert!(!large_message);
    let accepted = bob.ua.accept_session(bob.now(), bob_session, &answer);
    match outcome(until(&mut [&mut alice, &mut bob], 0, completed(op)).await) {
        Outcome::SessionEstablished { answer: got, .. } => {
            assert_eq!(got.as_deref(), Some(answer.as_str()))
        }
        other => panic!("{other:?}"),
    }
    // bob's accept completes when alice's ACK has come through devcore.
    assert!(matches!(
        outcome(until(&mut [&mut alice, &mut bob], 1, completed(accepted)).await),
        Outcome::SessionEstablished { .. }
    ));

    // alice hangs up: the BYE reaches bob through devcore.
    let bye = alice.ua.end_session(alice.now(), alice_session);
    let e = until(&mut [&mut alice, &mut bob], 1, |e| {
        matches!(e, Event::Session(SessionEvent::Ended { .. }))
    })
    .await;
    assert!(matches!(
        e,
        Event::Session(SessionEvent::Ended { session, reason: SessionEndReason::RemoteBye })
            if session == bob_session
    ));
    assert_eq!(
        outcome(until(&mut [&mut alice, &mut bob], 0, completed(bye)).await),
        Outcome::SessionEnded
    );

    // bob declines the next one: alice's start fails with the 603.
    let (op, _) = alice
        .ua
        .start_session(alice.now(), "sip:bob@imsip.test", offer, true);
    let e = until(&mut [&mut alice, &mut bob], 1, |e| {
        matches!(e, Event::Session(SessionEvent::Invitation { .. }))
    })
    .await;
    let Event::Session(SessionEvent::Invitation {
        session,
        large_message,
        ..
    }) = e
    else {
        unreachable!()
    };
    assert!(large_message, "the large-message tag came through devcore");
    bob.ua.reject_session(bob.now(), session, 603).unwrap();
    match until(&mut [&mut alice, &mut bob], 0, completed(op)).await {
        Event::Completed { result: Err(e), .. } => assert_eq!(e.status(), Some(603)),
        other => panic!("{other:?}"),
    }
}
