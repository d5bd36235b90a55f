//! Issue 18 through Kamailio: two user agents (`imsip::ua::UserAgent`) set up a SIP
//! session through the interop Kamailio (tests/interop/kamailio.cfg: INVITE
//! record-routed between registered WebSocket users), each SDP carrying in `a=path`
//! the Use-Path its MSRP session engine (`imsip::msrp::session`) got from
//! Kamailio's MSRP relay (the `msrp` module over WebSocket subprotocol `msrp`,
//! AUTH with the SIP users' digest) then its own URI; the engines send a 1 MiB
//! binary message through the relay, byte-exact with a success REPORT, and chat
//! lines back; then BYE.
//!
//! Skipped (with a message) when /usr/sbin/kamailio is absent. The instance runs
//! in target/interop/kamailio_msrp/ (kamailio.log there, every SIP message and
//! every MSRP request's first line traced).

mod common;

use common::driver::until;
use common::kamailio::Kamailio;
use common::{msrp_driver, ua_driver};
use imsip::auth::Credentials;
use imsip::msrp::session::{Event as MsrpEvent, Reports};
use imsip::msrp::MsrpUri;
use imsip::sdp::{MsrpMedia, SessionDescription};
use imsip::ua::{Event, Outcome, SessionEndReason, SessionEvent};
use std::net::SocketAddr;

/// The SDP of an MSRP endpoint whose `a=path` is `path` (RFC 4975 §8, RFC 7977 §6).
fn sdp(host: &str, path: &[MsrpUri]) -> String {
    MsrpMedia {
        proto: "TCP/WSS/MSRP".into(),
        path: path.iter().map(ToString::to_string).collect(),
        accept_types: vec!["*".into()],
        accept_wrapped_types: Vec::new(),
        max_size: None,
        setup: Some("active".into()),
    }
    .description(host, 1, 1)
    .encode()
}

/// The `a=path` of an offer or answer, parsed.
fn path_of(sdp: &str) -> Vec<MsrpUri> {
    let media = SessionDescription::parse(sdp.as_bytes())
        .expect("SDP")
        .msrp()
        .expect("an MSRP media");
    media
        .path
        .iter()
        .map(|u| MsrpUri::parse(u).expect("an MSRP URI"))
        .collect()
}

#[tokio::test]
async fn a_session_through_kamailio_carries_a_mebibyte_and_chat_lines() {
    let Some(k) = Kamailio::start("kamailio_msrp", &[]) else {
        return;
    };
    let _log = LogOnPanic(&k);
    run(k.url.clone()).await;
}

/// Prints the end of Kamailio's log when the test fails.
struct LogOnPanic<'a>(&'a Kamailio);

impl Drop for LogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "Kamailio's log ({}):\n{}",
                self.0.dir.display(),
                self.0.log_tail()
            );
        }
    }
}

async fn run(url: String) {
    let addr: SocketAddr = url
        .trim_start_matches("ws://")
        .trim_end_matches("/sip")
        .parse()
        .expect("ws://127.0.0.1:PORT/sip");

    // The MSRP engines authenticate at Kamailio's relay (its Use-Path each).
    let mut alice_msrp =
        msrp_driver::Driver::new(addr, "alice", "alice@imsip.test", "alice-secret", 21);
    let mut bob_msrp = msrp_driver::Driver::new(addr, "bob", "bob@imsip.test", "bob-secret", 22);
    for who in 0..2 {
        let e = until(&mut [&mut alice_msrp, &mut bob_msrp], who, |e| {
            matches!(e, MsrpEvent::Authenticated { .. })
        })
        .await;
        assert!(matches!(e, MsrpEvent::Authenticated { .. }), "{e:?}");
    }
    let alice_path = alice_msrp.session.sdp_path().expect("authenticated");
    let bob_path = bob_msrp.session.sdp_path().expect("authenticated");
    assert_eq!(
        alice_path.len(),
        2,
        "the relay's Use-Path, then alice's URI"
    );
    assert_ne!(alice_path[0], bob_path[0], "a relay session each");

    // The user agents register and set up the session through Kamailio.
    let mut alice = ua_driver::Driver::new(
        addr,
        "sip:alice@imsip.test",
        Credentials::password("alice@imsip.test", "alice-secret"),
        23,
    );
    let mut bob = ua_driver::Driver::new(
        addr,
        "sip:bob@imsip.test",
        Credentials::password("bob@imsip.test", "bob-secret"),
        24,
    );
    for d in [&mut alice, &mut bob] {
        let op = d.ua.register(d.now());
        ua_driver::outcome(until(&mut [d], 0, ua_driver::completed(op)).await);
    }
    let offer = sdp("alice.invalid", &alice_path);
    let (op, alice_session) =
        alice
            .ua
            .start_session(alice.now(), "sip:bob@imsip.test", &offer, true);
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
    assert!(large_message, "the large-message tag came through Kamailio");
    let got_offer = got_offer.expect("the INVITE carried the offer");
    assert_eq!(path_of(&got_offer), alice_path);
    bob_msrp.session.set_peer(path_of(&got_offer)).unwrap();

    let answer = sdp("bob.invalid", &bob_path);
    let accepted = bob.ua.accept_session(bob.now(), bob_session, &answer);
    match ua_driver::outcome(until(&mut [&mut alice, &mut bob], 0, ua_driver::completed(op)).await)
    {
        Outcome::SessionEstablished { answer: got, .. } => {
            let got = got.expect("the 200 carried the answer");
            assert_eq!(path_of(&got), bob_path);
            alice_msrp.session.set_peer(path_of(&got)).unwrap();
        }
        other => panic!("{other:?}"),
    }
    // bob's accept completes when alice's ACK came along the route set.
    assert!(matches!(
        ua_driver::outcome(
            until(
                &mut [&mut alice, &mut bob],
                1,
                ua_driver::completed(accepted)
            )
            .await
        ),
        Outcome::SessionEstablished { .. }
    ));

    // 1 MiB of every byte value through the relay, with a success report.
    msrp_driver::mebibyte_arrives_byte_exact(&mut alice_msrp, &mut bob_msrp).await;

    // Chat lines back.
    for i in 0..5 {
        let line = format!("line {i} from bob");
        let now = bob_msrp.now();
        bob_msrp
            .session
            .send(
                now,
                "text/plain",
                line.clone().into_bytes(),
                Reports::default(),
            )
            .unwrap();
        let e = until(&mut [&mut alice_msrp, &mut bob_msrp], 0, |e| {
            matches!(e, MsrpEvent::Message { .. })
        })
        .await;
        assert!(
            matches!(&e, MsrpEvent::Message { body, .. } if *body == line.as_bytes()),
            "{e:?}"
        );
    }

    // bob hangs up: the BYE reaches alice along the route set.
    let bye = bob.ua.end_session(bob.now(), bob_session);
    let e = until(&mut [&mut alice, &mut bob], 0, |e| {
        matches!(e, Event::Session(SessionEvent::Ended { .. }))
    })
    .await;
    assert!(matches!(
        e,
        Event::Session(SessionEvent::Ended { session, reason: SessionEndReason::RemoteBye })
            if session == alice_session
    ));
    assert_eq!(
        ua_driver::outcome(until(&mut [&mut alice, &mut bob], 1, ua_driver::completed(bye)).await),
        Outcome::SessionEnded
    );
}
