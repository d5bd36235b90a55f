#![cfg(not(target_arch = "wasm32"))]
//! The MSRP session engine (`imsip::msrp::session`): two engines, Alice and Bob, each
//! on its own WebSocket leg to a small fake relay built from the codec, with a
//! deterministic random source and a manual clock (no sleeps, no sockets).
//!
//! The relay does what RFC 4976 has a relay do, as far as these tests need: `AUTH`
//! with a digest challenge, then 200 with a `Use-Path` naming the leg; requests
//! routed by `To-Path`, the relay taking its own URIs off the front of `To-Path` and
//! putting each at the front of `From-Path` (RFC 4976 §6). For `SEND` responses it
//! runs in one of two modes: `HopByHop` answers 200 itself at once and turns a
//! failure response from downstream into a failure REPORT to the sender (RFC 4976
//! §6); `PassThrough` carries the downstream response back to the sender (Kamailio's
//! `msrp` module relays replies too, with `msrp_relay()`). The engine must work
//! with both.

#[path = "msrp_session/harness.rs"]
mod harness;

use harness::*;
use imsip::auth::RandomSource;
use imsip::msrp::session::{
    AbortReason, EndReason, Event, Input, MsrpSession, Output, Reports, SendFailure, SessionError,
};
use imsip::msrp::{
    ByteRange, ContinuationFlag, FailureReport, Frame, Method, RequestBuilder, SuccessReport,
    TransactionId,
};

// ───────────── relay AUTH ─────────────

#[test]
fn relay_auth_answers_the_challenge_and_gets_a_use_path() {
    let mut net = Net::new(Mode::PassThrough);
    net.pump();
    let auths = &net.relay.auths;
    assert_eq!(auths.len(), 4, "two AUTHs from each: bare, then answered");
    let first = auths
        .iter()
        .find(|a| a.from_path()[0].matches(&local_of(ALICE)))
        .unwrap();
    assert_eq!(first.to_path(), &[uri(RELAY)]);
    assert!(first.authorization().unwrap().is_empty());
    let second = auths
        .iter()
        .filter(|a| a.from_path()[0].matches(&local_of(ALICE)))
        .nth(1)
        .unwrap();
    let creds = second.authorization().unwrap();
    assert_eq!(creds[0].param("uri"), Some(RELAY));
    assert_eq!(creds[0].param("username"), Some("alice"));
    let alice = &mut net.clients[ALICE];
    assert_eq!(
        alice.take_events(),
        vec![Event::Authenticated {
            use_path: vec![relay_leg_uri(ALICE)],
            expires: Some(600),
        }]
    );
    assert_eq!(alice.session.use_path(), Some(&[relay_leg_uri(ALICE)][..]));
    assert_eq!(
        alice.session.sdp_path(),
        Some(vec![relay_leg_uri(ALICE), local_of(ALICE)])
    );
}

#[test]
fn a_wrong_password_fails_the_session() {
    let mut net = Net::with(
        Mode::PassThrough,
        config(ALICE, "not-the-password"),
        config(BOB, "bob-secret"),
    );
    net.pump();
    let alice = &mut net.clients[ALICE];
    assert!(matches!(
        alice.ended(),
        Some(EndReason::Failed(SessionError::AuthRejected(_)))
    ));
    assert!(alice.closed, "the socket is closed");
    assert!(alice.session.is_ended());
    assert!(alice
        .session
        .send(0, "text/plain", b"x".to_vec(), Reports::default())
        .is_err());
    // Bare AUTH, answered AUTH, and nothing after the second 401.
    let alice_auths = net
        .relay
        .auths
        .iter()
        .filter(|a| a.from_path()[0].matches(&local_of(ALICE)))
        .count();
    assert_eq!(alice_auths, 2);
}

#[test]
fn a_403_to_auth_fails_the_session() {
    let mut net = Net::new(Mode::PassThrough);
    net.relay.refuse_auth = Some(403);
    net.pump();
    for c in &net.clients {
        assert_eq!(
            c.ended(),
            Some(&EndReason::Failed(SessionError::AuthRefused {
                code: 403,
                reason: "Forbidden".into()
            }))
        );
    }
}

#[test]
fn no_answer_to_auth_times_out() {
    let mut net = Net::new(Mode::PassThrough);
    net.relay.silent_auth = true;
    net.pump();
    assert_eq!(net.clients[ALICE].armed, Some(1_000 + 30_000));
    net.advance(29_999);
    assert!(net.clients[ALICE].ended().is_none());
    net.advance(1);
    assert_eq!(
        net.clients[ALICE].ended(),
        Some(&EndReason::Failed(SessionError::AuthTimeout))
    );
}

#[test]
fn a_refresh_told_its_nonce_is_stale_answers_the_fresh_one_and_keeps_the_path() {
    let mut net = Net::ready(Mode::PassThrough);
    let path = net.clients[ALICE].session.sdp_path().unwrap();
    let before = net.relay.auths.len();
    net.relay.stale_once = true;
    // The refresh at three quarters of 600 s: 401 stale=true, then the fresh nonce.
    net.advance(450_000);
    let auths = &net.relay.auths[before..];
    assert_eq!(auths.len(), 3, "alice twice (stale, fresh), bob once");
    let nonces: Vec<String> = auths
        .iter()
        .map(|a| {
            a.authorization().unwrap()[0]
                .param("nonce")
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(nonces.iter().filter(|n| n.starts_with("n0-")).count(), 2);
    assert_ne!(
        nonces[0], nonces[1],
        "the stale nonce is not answered again"
    );
    assert_eq!(
        net.clients[ALICE].session.sdp_path().unwrap(),
        path,
        "the same path"
    );
    for c in &mut net.clients {
        assert!(matches!(
            c.take_events().as_slice(),
            [Event::Authenticated {
                expires: Some(600),
                ..
            }]
        ));
    }
}

#[test]
fn auth_is_refreshed_before_it_expires_and_messages_keep_flowing() {
    let mut net = Net::ready(Mode::PassThrough);
    let before = net.relay.auths.len();
    // Expires 600 s: the refresh comes at three quarters, 450 s.
    net.advance(449_999);
    assert_eq!(net.relay.auths.len(), before);
    net.advance(1);
    assert_eq!(net.relay.auths.len(), before + 2, "one refresh from each");
    let refresh = net.relay.auths.last().unwrap();
    let creds = refresh.authorization().unwrap();
    assert_eq!(
        creds[0].param("nc"),
        Some("00000002"),
        "the nonce reused, nc+1"
    );
    for c in &mut net.clients {
        assert!(matches!(
            c.take_events().as_slice(),
            [Event::Authenticated {
                expires: Some(600),
                ..
            }]
        ));
    }
    // And again 450 s later; a message goes through in between.
    net.send(
        ALICE,
        "text/plain",
        b"still here".to_vec(),
        Reports::default(),
    );
    assert_eq!(
        messages(&net.clients[BOB].take_events()),
        vec![("text/plain".into(), b"still here".to_vec())]
    );
    net.advance(450_000);
    assert_eq!(net.relay.auths.len(), before + 4);
}

#[test]
fn an_expires_out_of_bounds_is_asked_again_inside_them() {
    let mut alice = config(ALICE, "alice-secret");
    alice.auth_expires = Some(60);
    let mut net = Net::with(Mode::PassThrough, alice, config(BOB, "bob-secret"));
    net.relay.expires_bounds = Some((300, 3600));
    net.pump();
    let asked: Vec<_> = net
        .relay
        .auths
        .iter()
        .filter(|a| a.from_path()[0].matches(&local_of(ALICE)))
        .map(|a| a.expires().unwrap())
        .collect();
    // 60 → 423, then 300 (bare → 401, then answered → 200).
    assert_eq!(asked, vec![Some(60), Some(300), Some(300)]);
    assert!(matches!(
        net.clients[ALICE].take_events().as_slice(),
        [Event::Authenticated { .. }]
    ));
    // A relay that keeps refusing the interval fails the session after one retry.
    let mut alice = config(ALICE, "alice-secret");
    alice.auth_expires = Some(60);
    let mut net = Net::with(Mode::PassThrough, alice, config(BOB, "bob-secret"));
    net.relay.expires_bounds = Some((300, 200));
    net.pump();
    assert!(matches!(
        net.clients[ALICE].ended(),
        Some(EndReason::Failed(SessionError::AuthRefused {
            code: 423,
            ..
        }))
    ));
}

// ───────────── sending and receiving ─────────────

fn one_mebibyte_arrives(mode: Mode) {
    let mut net = Net::ready(mode);
    let body = all_byte_values(1024 * 1024);
    let h = net.send(
        ALICE,
        "application/octet-stream",
        body.clone(),
        Reports::large_message(),
    );
    let bob_events = net.clients[BOB].take_events();
    assert_eq!(
        messages(&bob_events),
        vec![("application/octet-stream".into(), body.clone())]
    );
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 0);

    let alice = &mut net.clients[ALICE];
    let sends: Vec<_> = alice.sends().collect();
    assert_eq!(sends.len(), 512, "2048-byte chunks");
    for (i, s) in sends.iter().enumerate() {
        let r = s.byte_range().unwrap().unwrap();
        assert_eq!(r.start, i as u64 * 2048 + 1);
        assert_eq!(r.end, Some((i as u64 + 1) * 2048));
        assert_eq!(r.total, Some(1024 * 1024));
        assert!(s.body().unwrap().len() <= 2048);
        let last = i == 511;
        let flag = if last {
            ContinuationFlag::Complete
        } else {
            ContinuationFlag::Continued
        };
        assert_eq!(s.continuation(), flag);
        assert_eq!(s.success_report().unwrap(), SuccessReport::Yes);
        assert_eq!(
            s.to_path(),
            &[relay_leg_uri(ALICE), relay_leg_uri(BOB), local_of(BOB)]
        );
        assert_eq!(s.from_path(), &[local_of(ALICE)]);
    }
    let events = alice.take_events();
    let progress: Vec<u64> = events
        .iter()
        .filter_map(|e| match e {
            Event::Progress {
                message,
                bytes_sent,
                total,
            } => {
                assert_eq!((*message, *total), (h, 1024 * 1024));
                Some(*bytes_sent)
            }
            _ => None,
        })
        .collect();
    assert_eq!(progress.len(), 512);
    assert!(
        progress.windows(2).all(|w| w[1] - w[0] == 2048),
        "steps add up"
    );
    assert_eq!(progress.last(), Some(&(1024 * 1024)));
    let tail: Vec<_> = events
        .iter()
        .filter(|e| !matches!(e, Event::Progress { .. }))
        .collect();
    assert_eq!(
        tail,
        vec![
            &Event::Sent { message: h },
            &Event::Delivered { message: h }
        ]
    );
    if mode == Mode::PassThrough {
        assert_eq!(
            net.relay.max_outstanding[ALICE], 4,
            "the window holds at 4 chunks"
        );
    }
}

#[test]
fn a_mebibyte_of_every_byte_value_arrives_byte_exact_through_a_passing_relay() {
    one_mebibyte_arrives(Mode::PassThrough);
}

#[test]
fn a_mebibyte_of_every_byte_value_arrives_byte_exact_through_a_hop_by_hop_relay() {
    one_mebibyte_arrives(Mode::HopByHop);
}

#[test]
fn chunks_out_of_order_repeated_and_overlapping_reassemble_once() {
    let mut cfg = config(ALICE, "alice-secret");
    cfg.chunk_size = 1000;
    let mut net = Net::with(Mode::HopByHop, cfg, config(BOB, "bob-secret"));
    net.pump();
    net.pair();
    net.relay.hold_for = Some(BOB);
    let body = all_byte_values(9_500);
    let h = net.send(ALICE, "image/png", body.clone(), Reports::large_message());
    let mut held = std::mem::take(&mut net.relay.held);
    assert_eq!(held.len(), 10);
    // An extra chunk overlapping the 3rd and 4th, as a resending sender might.
    let third = Frame::parse(&held[2]).unwrap();
    let overlap = RequestBuilder::new(
        Method::Send,
        TransactionId::new("overlap1").unwrap(),
        third.to_path().to_vec(),
        third.from_path().to_vec(),
    )
    .message_id(third.message_id().unwrap().unwrap())
    .byte_range(ByteRange::new(2_501, Some(3_500), Some(9_500)).unwrap())
    .body("image/png", body[2_500..3_500].to_vec())
    .continuation(ContinuationFlag::Continued)
    .encode()
    .unwrap();
    // Reversed (the `$` chunk first), the overlap in the middle, then the first
    // half again.
    held.reverse();
    held.insert(5, overlap);
    let again: Vec<_> = held[6..].to_vec();
    held.extend(again);
    let count = held.len();
    for bytes in held {
        net.clients[BOB]
            .session
            .handle_input(net.now, Input::Frame(&bytes));
    }
    net.pump();
    let bob = &mut net.clients[BOB];
    assert_eq!(
        messages(&bob.take_events()),
        vec![("image/png".into(), body)]
    );
    assert_eq!(bob.session.buffered_bytes(), 0);
    assert_eq!(
        bob.responses()
            .filter(|r| r.status_code() == Some(200))
            .count(),
        count
    );
    assert_eq!(
        bob.sent
            .iter()
            .filter(|f| f.method() == Some(&Method::Report))
            .count(),
        1
    );
    assert!(net.clients[ALICE]
        .take_events()
        .contains(&Event::Delivered { message: h }));
}

#[test]
fn a_hundred_messages_each_way_interleaved_arrive_in_order() {
    let mut net = Net::ready(Mode::PassThrough);
    let mut handles = Vec::new();
    for i in 0..100 {
        let a = net.clients[ALICE]
            .session
            .send(
                net.now,
                "text/plain",
                format!("from alice {i}").into_bytes(),
                Reports::default(),
            )
            .unwrap();
        let b = net.clients[BOB]
            .session
            .send(
                net.now,
                "text/plain",
                format!("from bob {i}").into_bytes(),
                Reports::large_message(),
            )
            .unwrap();
        handles.push((a, b));
        if i % 7 == 3 {
            net.pump();
        }
    }
    net.pump();
    let at_bob = messages(&net.clients[BOB].take_events());
    let at_alice = messages(&net.clients[ALICE].take_events());
    let expect = |who: &str| -> Vec<(String, Vec<u8>)> {
        (0..100)
            .map(|i| ("text/plain".into(), format!("from {who} {i}").into_bytes()))
            .collect()
    };
    assert_eq!(at_bob, expect("alice"));
    assert_eq!(at_alice, expect("bob"));
    assert_eq!(net.clients[ALICE].sends().count(), 100);
}

#[test]
fn events_for_what_alice_sent_and_bob_confirmed() {
    let mut net = Net::ready(Mode::PassThrough);
    let h = net.send(
        ALICE,
        "text/plain",
        b"hi".to_vec(),
        Reports::large_message(),
    );
    assert_eq!(
        net.clients[ALICE].take_events(),
        vec![
            Event::Progress {
                message: h,
                bytes_sent: 2,
                total: 2
            },
            Event::Sent { message: h },
            Event::Delivered { message: h },
        ]
    );
    // An empty body is one chunk, 1-0/0.
    let e = net.send(ALICE, "text/plain", Vec::new(), Reports::default());
    let last = net.clients[ALICE]
        .sends()
        .last()
        .unwrap()
        .byte_range()
        .unwrap()
        .unwrap();
    assert_eq!(last, ByteRange::whole(0));
    assert!(net.clients[ALICE]
        .take_events()
        .contains(&Event::Sent { message: e }));
    assert_eq!(
        messages(&net.clients[BOB].take_events()).last(),
        Some(&("text/plain".into(), Vec::new()))
    );
}

#[test]
fn failure_report_no_takes_no_responses_and_partial_only_failures() {
    let mut net = Net::ready(Mode::PassThrough);
    let no = Reports {
        success: SuccessReport::No,
        failure: FailureReport::No,
    };
    let h = net.send(ALICE, "text/plain", vec![b'x'; 5_000], no);
    assert_eq!(net.clients[BOB].responses().count(), 0);
    assert!(net.clients[ALICE]
        .take_events()
        .contains(&Event::Sent { message: h }));
    assert_eq!(messages(&net.clients[BOB].take_events()).len(), 1);

    let partial = Reports {
        success: SuccessReport::No,
        failure: FailureReport::Partial,
    };
    let p = net.send(ALICE, "text/plain", vec![b'y'; 5_000], partial);
    assert_eq!(
        net.clients[BOB].responses().count(),
        0,
        "no 200s under partial"
    );
    assert!(net.clients[ALICE]
        .take_events()
        .contains(&Event::Sent { message: p }));
    assert_eq!(messages(&net.clients[BOB].take_events()).len(), 1);
}

// ───────────── aborts, limits, failures ─────────────

#[test]
fn a_cancelled_message_is_aborted_with_hash_and_the_receiver_frees_it() {
    let mut net = Net::ready(Mode::PassThrough);
    net.relay.hold_for = Some(BOB);
    let h = net.send(
        ALICE,
        "application/octet-stream",
        all_byte_values(100_000),
        Reports::default(),
    );
    assert_eq!(net.relay.held.len(), 4, "the window");
    net.release(2);
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 4096);
    assert!(net.clients[ALICE].session.cancel(net.now, h));
    net.pump();
    let last = net.clients[ALICE].sends().last().unwrap().clone();
    assert_eq!(last.continuation(), ContinuationFlag::Aborted);
    assert_eq!(
        failures(&net.clients[ALICE].take_events()),
        vec![(h, SendFailure::Cancelled)]
    );
    assert!(!net.clients[ALICE].session.cancel(net.now, h), "once");
    let held = net.relay.held.len();
    net.release(held);
    let bob = &mut net.clients[BOB];
    assert_eq!(bob.session.buffered_bytes(), 0, "the partial is freed");
    let aborted: Vec<_> = bob
        .take_events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::MessageAborted {
                    reason: AbortReason::Sender,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(aborted.len(), 1);
    // Nothing more of it is sent.
    let sends = net.clients[ALICE].sends().count();
    net.pump();
    assert_eq!(net.clients[ALICE].sends().count(), sends);
}

fn over_size(mode: Mode) {
    let mut bob = config(BOB, "bob-secret");
    bob.max_message_bytes = 64 * 1024;
    let mut net = Net::with(mode, config(ALICE, "alice-secret"), bob);
    net.pump();
    net.pair();
    let h = net.send(
        ALICE,
        "application/octet-stream",
        all_byte_values(1024 * 1024),
        Reports::default(),
    );
    let expect = match mode {
        Mode::PassThrough => SendFailure::Response { code: 413 },
        Mode::HopByHop => SendFailure::Report { code: 413 },
    };
    assert_eq!(
        failures(&net.clients[ALICE].take_events()),
        vec![(h, expect.clone())]
    );
    assert_eq!(expect.code(), Some(413));
    let sends = net.clients[ALICE].sends().count();
    match mode {
        Mode::PassThrough => assert_eq!(sends, 4, "only the window went out"),
        Mode::HopByHop => assert!(sends < 20, "{sends} chunks: it stopped"),
    }
    let bob = &mut net.clients[BOB];
    assert_eq!(bob.session.buffered_bytes(), 0);
    assert!(bob.responses().all(|r| r.status_code() == Some(413)));
    let aborted = bob
        .take_events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::MessageAborted {
                    reason: AbortReason::TooLarge,
                    ..
                }
            )
        })
        .count();
    assert_eq!(aborted, 1);
    // The session goes on: a small message still passes.
    net.send(ALICE, "text/plain", b"small".to_vec(), Reports::default());
    assert_eq!(messages(&net.clients[BOB].take_events()).len(), 1);
}

#[test]
fn an_over_size_message_gets_413_and_the_sender_stops_passing_relay() {
    over_size(Mode::PassThrough);
}

#[test]
fn an_over_size_message_gets_413_and_the_sender_stops_hop_by_hop_relay() {
    over_size(Mode::HopByHop);
}

#[test]
fn a_dropped_connection_fails_the_transfer_and_frees_the_partial() {
    let mut net = Net::ready(Mode::PassThrough);
    net.relay.hold_for = Some(BOB);
    let h = net.send(
        ALICE,
        "application/octet-stream",
        all_byte_values(1024 * 1024),
        Reports::large_message(),
    );
    net.release(4);
    net.release(4);
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 8 * 2048);
    net.drop_connections();
    let alice = &mut net.clients[ALICE];
    let events = alice.take_events();
    assert_eq!(failures(&events), vec![(h, SendFailure::Transport)]);
    assert_eq!(
        events.last(),
        Some(&Event::Ended {
            reason: EndReason::Disconnected
        })
    );
    let bob = &mut net.clients[BOB];
    assert_eq!(bob.session.buffered_bytes(), 0);
    let events = bob.take_events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::MessageAborted {
            reason: AbortReason::SessionEnded,
            ..
        }
    )));
    assert_eq!(
        events.last(),
        Some(&Event::Ended {
            reason: EndReason::Disconnected
        })
    );
    // Nothing more: no timers, no frames, no commands.
    assert!(bob.session.poll_output().is_none());
    bob.session.handle_input(net.now + 60_000, Input::Timeout);
    assert!(bob.session.poll_output().is_none());
}

#[test]
fn a_chunk_without_response_times_out() {
    let mut net = Net::ready(Mode::PassThrough);
    net.relay.silent_sends = true;
    let t0 = net.now;
    let h = net.send(ALICE, "text/plain", b"anyone?".to_vec(), Reports::default());
    assert_eq!(net.clients[ALICE].armed, Some(t0 + 30_000));
    net.advance(29_999);
    assert!(failures(&net.clients[ALICE].events).is_empty());
    net.advance(1);
    let failed = failures(&net.clients[ALICE].take_events());
    assert_eq!(failed, vec![(h, SendFailure::Timeout)]);
    assert_eq!(failed[0].1.code(), Some(408));
    assert!(
        !net.clients[ALICE].session.is_ended(),
        "the session goes on"
    );
}

#[test]
fn a_481_ends_the_session_instead_of_leaving_it_open() {
    // RFC 4975 §10: 481, the session does not exist — the sender should end it.
    // Bob went away and the relay forgot his leg: alice's session must not stay
    // "open" with every later message failing one by one (found with the demo).
    let mut net = Net::ready(Mode::PassThrough);
    net.relay.clients[BOB] = None;
    let h = net.send(
        ALICE,
        "text/plain",
        b"still there?".to_vec(),
        Reports::default(),
    );
    let alice = &mut net.clients[ALICE];
    let events = alice.take_events();
    assert_eq!(
        failures(&events),
        vec![(h, SendFailure::Response { code: 481 })]
    );
    assert_eq!(
        events.last(),
        Some(&Event::Ended {
            reason: EndReason::Failed(SessionError::NoSuchSession)
        })
    );
    assert!(alice.session.is_ended());
    assert!(alice.closed, "its connection is closed");
}

#[test]
fn a_success_report_that_never_comes_fails_after_the_report_timeout() {
    let mut net = Net::ready(Mode::PassThrough);
    net.relay.drop_reports = true;
    let h = net.send(
        ALICE,
        "text/plain",
        b"tell me".to_vec(),
        Reports::large_message(),
    );
    assert!(net.clients[ALICE]
        .take_events()
        .contains(&Event::Sent { message: h }));
    net.advance(30_000);
    assert_eq!(
        failures(&net.clients[ALICE].take_events()),
        vec![(h, SendFailure::ReportTimeout)]
    );
    // A chat's `report` event names it 408, as a transaction timeout.
    assert_eq!(SendFailure::ReportTimeout.code(), Some(408));
}

#[test]
fn close_fails_what_is_pending_and_sends_nothing_more() {
    let mut net = Net::ready(Mode::PassThrough);
    net.relay.hold_for = Some(BOB);
    let h = net.send(ALICE, "text/plain", vec![b'z'; 50_000], Reports::default());
    let sent = net.clients[ALICE].sent.len();
    net.clients[ALICE].session.close(net.now);
    net.pump();
    let alice = &mut net.clients[ALICE];
    assert!(alice.closed);
    assert_eq!(alice.sent.len(), sent);
    let events = alice.take_events();
    assert_eq!(failures(&events), vec![(h, SendFailure::Closed)]);
    assert_eq!(
        events.last(),
        Some(&Event::Ended {
            reason: EndReason::Closed
        })
    );
}

// ───────────── hostile input ─────────────

/// Bob, authenticated, and a way to feed him frames and read what he answers.
fn bob_alone(max_message_bytes: u64) -> Net {
    let mut cfg = config(BOB, "bob-secret");
    cfg.max_message_bytes = max_message_bytes;
    let mut net = Net::with(Mode::PassThrough, config(ALICE, "alice-secret"), cfg);
    net.pump();
    net.pair();
    net
}

fn feed(net: &mut Net, bytes: &[u8]) -> Vec<Output> {
    let bob = &mut net.clients[BOB].session;
    bob.handle_input(net.now, Input::Frame(bytes));
    std::iter::from_fn(|| bob.poll_output()).collect()
}

fn answers(outputs: &[Output]) -> Vec<u16> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Transmit(b) => Frame::parse(b).unwrap().status_code(),
            _ => None,
        })
        .collect()
}

fn send_to(to: &str, headers: &[(&str, &str)], body: Option<&[u8]>, flag: char) -> Vec<u8> {
    let mut s = format!(
        "MSRP t0x1 SEND\r\nTo-Path: {to}\r\nFrom-Path: {} {}\r\n",
        relay_leg_uri(BOB),
        local_of(ALICE)
    );
    for (n, v) in headers {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    let mut bytes = s.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b"Content-Type: text/plain\r\n\r\n");
        bytes.extend_from_slice(b);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(format!("-------t0x1{flag}\r\n").as_bytes());
    bytes
}

#[test]
fn hostile_frames_get_typed_answers_and_never_a_panic() {
    let mut net = bob_alone(1_000);
    let bob = local_of(BOB).to_string();
    let id = ("Message-ID", "m1x2y3");
    let ok = |net: &mut Net, bytes: Vec<u8>| answers(&feed(net, &bytes));

    // A To-Path that is not Bob's session, or that has more hops left: 481.
    let other = "msrps://client1.invalid:2855/another;ws";
    assert_eq!(
        ok(&mut net, send_to(other, &[id], Some(b"x"), '$')),
        vec![481]
    );
    let two = format!("{bob} {other}");
    assert_eq!(
        ok(&mut net, send_to(&two, &[id], Some(b"x"), '$')),
        vec![481]
    );
    // A Byte-Range beyond its total, or not matching the body: 400.
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[id, ("Byte-Range", "1-20/10")], Some(b"x"), '$')
        ),
        vec![400]
    );
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[id, ("Byte-Range", "1-5/5")], Some(b"x"), '$')
        ),
        vec![400]
    );
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[id, ("Byte-Range", "1-*/1")], Some(b"xy"), '$')
        ),
        vec![400]
    );
    // No Message-ID, or a bad one: 400.
    assert_eq!(ok(&mut net, send_to(&bob, &[], Some(b"x"), '$')), vec![400]);
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[("Message-ID", "!")], Some(b"x"), '$')
        ),
        vec![400]
    );
    // Over the size limit, declared or reached: 413; a later chunk of it too.
    let big = ("Message-ID", "big1");
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[big, ("Byte-Range", "1-1/5000")], Some(b"x"), '+')
        ),
        vec![413]
    );
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[big, ("Byte-Range", "2-2/5000")], Some(b"x"), '+')
        ),
        vec![413]
    );
    let far = ("Message-ID", "far1");
    assert_eq!(
        ok(
            &mut net,
            send_to(
                &bob,
                &[far, ("Byte-Range", "999-*/*")],
                Some(b"0123456789"),
                '+'
            )
        ),
        vec![413]
    );
    let huge = ("Message-ID", "huge");
    assert_eq!(
        ok(
            &mut net,
            send_to(
                &bob,
                &[huge, ("Byte-Range", "9999999999999999999-*/*")],
                Some(b"x"),
                '+'
            )
        ),
        vec![413]
    );
    // A total changed midway: 400.
    let tt = ("Message-ID", "tot1");
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[tt, ("Byte-Range", "1-1/10")], Some(b"x"), '+')
        ),
        vec![200]
    );
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[tt, ("Byte-Range", "2-2/20")], Some(b"y"), '+')
        ),
        vec![400]
    );
    // Failure-Report: no — no answer, even to a failure.
    assert_eq!(
        ok(
            &mut net,
            send_to(&bob, &[("Failure-Report", "no")], Some(b"x"), '$')
        ),
        Vec::<u16>::new()
    );
    // Unknown methods and AUTH: 501.
    let foo = format!(
        "MSRP t0x2 FOO\r\nTo-Path: {bob}\r\nFrom-Path: {}\r\n-------t0x2$\r\n",
        relay_leg_uri(BOB)
    );
    assert_eq!(ok(&mut net, foo.into_bytes()), vec![501]);
    let auth = format!(
        "MSRP t0x3 AUTH\r\nTo-Path: {bob}\r\nFrom-Path: {}\r\n-------t0x3$\r\n",
        relay_leg_uri(BOB)
    );
    assert_eq!(ok(&mut net, auth.into_bytes()), vec![501]);
    // A REPORT and a response for nothing we know: silence.
    let report = format!(
        "MSRP t0x4 REPORT\r\nTo-Path: {bob}\r\nFrom-Path: {}\r\nMessage-ID: nope1\r\nStatus: 000 200 OK\r\n-------t0x4$\r\n",
        relay_leg_uri(BOB)
    );
    assert!(feed(&mut net, report.as_bytes()).is_empty());
    let stray = format!(
        "MSRP zzzz 200 OK\r\nTo-Path: {bob}\r\nFrom-Path: {}\r\n-------zzzz$\r\n",
        relay_leg_uri(BOB)
    );
    assert!(feed(&mut net, stray.as_bytes()).is_empty());
    // A SEND with no body: acknowledged, nothing delivered.
    assert_eq!(ok(&mut net, send_to(&bob, &[id], None, '$')), vec![200]);
    // Two frames in one WebSocket message, and one frame in two: both fine.
    let mut two_frames = send_to(&bob, &[("Message-ID", "pair1")], Some(b"a"), '$');
    two_frames.extend(send_to(&bob, &[("Message-ID", "pair2")], Some(b"b"), '$'));
    assert_eq!(ok(&mut net, two_frames[..30].to_vec()), Vec::<u16>::new());
    assert_eq!(ok(&mut net, two_frames[30..].to_vec()), vec![200, 200]);
    assert_eq!(
        net.clients[BOB].session.buffered_bytes(),
        1,
        "tot1 is still partial"
    );

    // Garbage: the stream cannot be framed any more, the session ends, typed.
    let outputs = feed(&mut net, b"\x00\x01 not msrp at all\r\n\r\n");
    assert!(outputs.contains(&Output::Close));
    assert!(outputs.iter().any(|o| matches!(
        o,
        Output::Event(Event::Ended {
            reason: EndReason::Failed(SessionError::Malformed(_))
        })
    )));
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 0);
}

#[test]
fn partial_messages_are_bounded_in_number_and_bytes() {
    let mut cfg = config(BOB, "bob-secret");
    cfg.max_partial_messages = 3;
    cfg.max_buffered_bytes = 100;
    let mut net = Net::with(Mode::PassThrough, config(ALICE, "alice-secret"), cfg);
    net.pump();
    net.pair();
    let bob = local_of(BOB).to_string();
    let chunk = |id: &str, range: &str, body: &[u8]| {
        send_to(
            &bob,
            &[("Message-ID", id), ("Byte-Range", range)],
            Some(body),
            '+',
        )
    };
    for id in ["part1", "part2", "part3"] {
        assert_eq!(
            answers(&feed(&mut net, &chunk(id, "1-10/200", &[b'a'; 10]))),
            vec![200]
        );
    }
    // A fourth message while three are partial: 413.
    assert_eq!(
        answers(&feed(&mut net, &chunk("part4", "1-10/200", &[b'a'; 10]))),
        vec![413]
    );
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 30);
    // A chunk that would hold more than 100 bytes in all: 413, and its partial is freed.
    assert_eq!(
        answers(&feed(&mut net, &chunk("part1", "91-100/200", &[b'a'; 10]))),
        vec![413]
    );
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 20);
    // Scattered one-byte chunks: refused past 256 runs, then freed.
    let mut cfg = config(BOB, "bob-secret");
    cfg.max_buffered_bytes = 4096;
    let mut net = Net::with(Mode::PassThrough, config(ALICE, "alice-secret"), cfg);
    net.pump();
    for i in 0..256u64 {
        let range = format!("{}-{}/1000", i * 2 + 1, i * 2 + 1);
        assert_eq!(
            answers(&feed(&mut net, &chunk("dots", &range, b"x"))),
            vec![200]
        );
    }
    assert_eq!(
        answers(&feed(&mut net, &chunk("dots", "900-900/1000", b"x"))),
        vec![413]
    );
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 0);
    // A chunk reaching past a total given only later: 413.
    assert_eq!(
        answers(&feed(&mut net, &chunk("late", "1-20/*", &[b'b'; 20]))),
        vec![200]
    );
    let last = send_to(
        &bob,
        &[("Message-ID", "late"), ("Byte-Range", "10-10/10")],
        Some(b"c"),
        '$',
    );
    assert_eq!(answers(&feed(&mut net, &last)), vec![413]);
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 0);
}

#[test]
fn mutated_frames_never_panic() {
    let mut rng = Rng(99);
    let bob = local_of(BOB).to_string();
    let seed = send_to(
        &bob,
        &[("Message-ID", "mut1"), ("Byte-Range", "1-5/10")],
        Some(b"hello"),
        '+',
    );
    for round in 0..3_000 {
        let mut net_bytes = seed.clone();
        let mut r = [0u8; 4];
        for _ in 0..1 + round % 4 {
            rng.fill(&mut r);
            let at = usize::from(u16::from_le_bytes([r[0], r[1]])) % net_bytes.len();
            match r[2] % 3 {
                0 => net_bytes[at] = r[3],
                1 => {
                    net_bytes.remove(at);
                }
                _ => net_bytes.insert(at, r[3]),
            }
        }
        let mut session = MsrpSession::new(config(BOB, "bob-secret"), Box::new(Rng(round + 1)));
        session.handle_input(0, Input::Connected);
        session.handle_input(1, Input::Frame(&net_bytes));
        session.handle_input(2, Input::Frame(&seed));
        while session.poll_output().is_some() {}
    }
}

/// The messages and aborts among `outputs`, and whether a REPORT went out.
fn delivered(outputs: &[Output]) -> (Vec<Vec<u8>>, Vec<String>, usize) {
    let mut messages = Vec::new();
    let mut aborted = Vec::new();
    let mut reports = 0;
    for o in outputs {
        match o {
            Output::Event(Event::Message { body, .. }) => messages.push(body.clone()),
            Output::Event(Event::MessageAborted { message_id, .. }) => {
                aborted.push(message_id.clone())
            }
            Output::Transmit(b) if Frame::parse(b).unwrap().status_code().is_none() => reports += 1,
            _ => {}
        }
    }
    (messages, aborted, reports)
}

#[test]
fn body_less_chunks_end_or_abort_a_message_under_way() {
    // RFC 4975 §9: the body is optional in any SEND. A body-less `#` chunk aborts the
    // message under way (it was ignored: the late rest was delivered, and sixteen such
    // aborts left sixteen partials, after which every message got 413); a body-less
    // `$` chunk ends one whose size was unknown.
    let mut net = bob_alone(1_000);
    let bob = local_of(BOB).to_string();
    let chunk = |id: &str, range: &str, body: Option<&[u8]>, flag: char| {
        send_to(
            &bob,
            &[("Message-ID", id), ("Byte-Range", range)],
            body,
            flag,
        )
    };
    for n in 0..20 {
        let id = format!("abort{n}");
        assert_eq!(
            answers(&feed(&mut net, &chunk(&id, "1-5/10", Some(b"Hello"), '+'))),
            vec![200]
        );
        let out = feed(&mut net, &chunk(&id, "6-5/10", None, '#'));
        assert_eq!(answers(&out), vec![200]);
        assert_eq!(delivered(&out).1, vec![id.clone()], "aborted");
        // The rest, late: acknowledged, not delivered.
        let out = feed(&mut net, &chunk(&id, "6-10/10", Some(b"World"), '$'));
        assert_eq!(delivered(&out).0, Vec::<Vec<u8>>::new());
    }
    assert_eq!(net.clients[BOB].session.buffered_bytes(), 0, "nothing held");
    // A message of unknown size ended by a body-less `$`: delivered.
    assert_eq!(
        answers(&feed(
            &mut net,
            &chunk("stream1", "1-*/*", Some(b"Hello"), '+')
        )),
        vec![200]
    );
    let out = feed(&mut net, &chunk("stream1", "6-5/5", None, '$'));
    assert_eq!(delivered(&out).0, vec![b"Hello".to_vec()]);
    // A body-less `$` SEND of no message under way (binding the connection,
    // RFC 4975 §5.4): acknowledged, nothing delivered.
    let out = feed(
        &mut net,
        &send_to(&bob, &[("Message-ID", "bind1")], None, '$'),
    );
    assert_eq!(answers(&out), vec![200]);
    assert_eq!(delivered(&out).0, Vec::<Vec<u8>>::new());
}

#[test]
fn a_success_report_asked_on_any_chunk_is_sent() {
    // RFC 4975 §7.1.2: chunks come in any order; the report was decided by whichever
    // came last, so a sender that asked on its first chunk only got none.
    let mut net = bob_alone(1_000);
    let bob = local_of(BOB).to_string();
    let first = send_to(
        &bob,
        &[
            ("Message-ID", "srep1"),
            ("Byte-Range", "1-5/10"),
            ("Success-Report", "yes"),
        ],
        Some(b"Hello"),
        '+',
    );
    assert_eq!(answers(&feed(&mut net, &first)), vec![200]);
    let last = send_to(
        &bob,
        &[("Message-ID", "srep1"), ("Byte-Range", "6-10/10")],
        Some(b"World"),
        '$',
    );
    let (messages, _, reports) = delivered(&feed(&mut net, &last));
    assert_eq!(messages, vec![b"HelloWorld".to_vec()]);
    assert_eq!(reports, 1, "the success REPORT");
}

/// A SEND to Bob, written by hand with no Content-Type: `tid`, `message_id`,
/// `range` and `data`, ending `$`.
fn untyped_send(tid: &str, message_id: &str, range: &str, data: &str) -> String {
    format!(
        "MSRP {tid} SEND\r\nTo-Path: {}\r\nFrom-Path: {} {}\r\nMessage-ID: {message_id}\r\n\
         Byte-Range: {range}\r\n\r\n{data}\r\n-------{tid}$\r\n",
        local_of(BOB),
        relay_leg_uri(BOB),
        local_of(ALICE)
    )
}

#[test]
fn a_first_chunk_with_data_and_no_content_type_gets_400() {
    // RFC 4975 §9: data comes with its Content-Type; it was delivered typed "".
    let mut net = bob_alone(1_000);
    let frame = untyped_send("t0x2", "notype1", "1-5/5", "Hello");
    let out = feed(&mut net, frame.as_bytes());
    assert_eq!(answers(&out), vec![400]);
    assert_eq!(delivered(&out).0, Vec::<Vec<u8>>::new());
    // A later chunk may leave the type to the first.
    let first = send_to(
        &local_of(BOB).to_string(),
        &[("Message-ID", "typed1"), ("Byte-Range", "1-5/10")],
        Some(b"Hello"),
        '+',
    );
    assert_eq!(answers(&feed(&mut net, &first)), vec![200]);
    let second = untyped_send("t0x3", "typed1", "6-10/10", "World");
    let out = feed(&mut net, second.as_bytes());
    assert_eq!(answers(&out), vec![200]);
    assert_eq!(delivered(&out).0, vec![b"HelloWorld".to_vec()]);
}
