//! The whole client (`imsip::client::Client`: user agent + MSRP sessions joined
//! through SDP) against the dev core's SIP proxy and MSRP relay over real
//! WebSockets, driven as the JS binding drives it: OMA IM large-message mode
//! (byte-exact, progress, the `send_message` switch, `a=max-size`, a socket lost
//! mid-transfer) and chat sessions (typing, messages both ways with reports, BYE,
//! decline, CANCEL). Every wait is for an event or a state, bounded by `WAIT`; the
//! only timer that must fire is alice's 1 s composing idle timeout.

mod common;

use common::client_driver::{completed, configs, result, ua_completed, Driver};
use common::driver::{run_until, until};
use common::*;
use imsip::client::{ChannelId, ChatEndReason, ChatEvent, Done, Event, MsrpConfig};
use imsip::im::iscomposing::State as Typing;
use imsip::ua::{self, Config, MessageOptions, Outcome, UaError};

const BOB: &str = "sip:bob@imsip.test";
const ALICE: &str = "sip:alice@imsip.test";

/// alice and bob as clients of `core`, registered; `tweak_*` adjust their
/// configurations first.
async fn pair(
    core: &TestCore,
    tweak_alice: impl FnOnce(&mut Config, &mut MsrpConfig),
    tweak_bob: impl FnOnce(&mut Config, &mut MsrpConfig),
) -> (Driver, Driver) {
    let (mut cfg, mut msrp) = configs(core.addr, "alice", "alice-secret");
    tweak_alice(&mut cfg, &mut msrp);
    let mut alice = Driver::new(core.addr, cfg, msrp, 100);
    let (mut cfg, mut msrp) = configs(core.addr, "bob", "bob-secret");
    tweak_bob(&mut cfg, &mut msrp);
    let mut bob = Driver::new(core.addr, cfg, msrp, 200);
    for who in 0..2 {
        let d = if who == 0 { &mut alice } else { &mut bob };
        let now = d.now();
        let op = d.client.ua().register(now);
        match until(&mut [&mut alice, &mut bob], who, ua_completed(op)).await {
            Event::Ua(ua::Event::Completed {
                result: Ok(Outcome::Registered(_)),
                ..
            }) => {}
            other => panic!("register: {other:?}"),
        }
    }
    (alice, bob)
}

/// Runs both until neither has a channel left (BYEs answered, MSRP sockets
/// closed), then checks that no MSRP socket is left open and that the test took
/// every event of the client's own (nothing stray or doubled).
async fn until_no_channels(alice: &mut Driver, bob: &mut Driver) {
    let done = run_until(&mut [alice, bob], |ds| {
        ds.iter()
            .all(|d| d.client.channel_count() == 0)
            .then_some(())
    })
    .await;
    assert!(
        done.is_some(),
        "channels left: alice {}, bob {}",
        alice.client.channel_count(),
        bob.client.channel_count()
    );
    assert!(alice.msrp.is_empty(), "alice's MSRP sockets closed");
    assert!(bob.msrp.is_empty(), "bob's MSRP sockets closed");
    for (who, d) in [("alice", alice), ("bob", bob)] {
        let stray: Vec<_> = d
            .events
            .iter()
            .filter(|e| !matches!(e, Event::Ua(_)))
            .collect();
        assert!(stray.is_empty(), "{who}'s events left: {stray:?}");
    }
}

/// A body of every byte value in an order that shows a misplaced chunk.
fn binary(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 7 + (i >> 11)) & 0xff) as u8)
        .collect()
}

fn is_large(e: &Event) -> bool {
    matches!(e, Event::LargeMessage(_))
}

/// The `Progress` events of `op` so far, as `(bytes_sent, total)`, taken off the
/// queue.
fn progress(d: &mut Driver, op: ua::OpId) -> Vec<(u64, u64)> {
    let mut taken = Vec::new();
    d.events.retain(|e| match e {
        Event::Progress {
            op: o,
            bytes_sent,
            total,
            to,
        } if *o == op => {
            assert_eq!(to, BOB);
            taken.push((*bytes_sent, *total));
            false
        }
        _ => true,
    });
    taken
}

fn sends(d: &Driver) -> usize {
    d.requests.iter().filter(|(_, m)| m == "SEND").count()
}

#[tokio::test]
async fn a_large_message_goes_byte_exact_with_progress_then_both_sides_let_go() {
    let core = start().await;
    let (mut alice, mut bob) = pair(&core, |_, _| {}, |_, _| {}).await;
    let body = binary(256 * 1024);
    let now = alice.now();
    let op = alice
        .client
        .send_large_message(now, BOB, "application/octet-stream", body.clone());

    match until(&mut [&mut alice, &mut bob], 1, is_large).await {
        Event::LargeMessage(m) => {
            assert_eq!(m.from, ALICE);
            assert_eq!(m.to, BOB);
            assert_eq!(m.content_type, "application/octet-stream");
            assert_eq!(m.body.len(), body.len());
            assert!(m.body == body, "the body arrived byte-exact");
        }
        other => panic!("{other:?}"),
    }
    let done = result(until(&mut [&mut alice, &mut bob], 0, completed(op)).await);
    assert_eq!(done, Ok(Done::LargeMessageSent { bytes: 256 * 1024 }));

    let p = progress(&mut alice, op);
    assert!(p.len() > 1, "progress came in steps: {p:?}");
    assert!(
        p.windows(2).all(|w| w[0].0 < w[1].0),
        "progress only grows: {p:?}"
    );
    assert!(p.iter().all(|&(_, total)| total == body.len() as u64));
    assert_eq!(p.last(), Some(&(body.len() as u64, body.len() as u64)));
    // 2048-byte chunks (the default), each its own SEND.
    assert_eq!(sends(&alice), 128);

    until_no_channels(&mut alice, &mut bob).await;
    assert!(!bob.events.iter().any(is_large), "the message came once");
}

#[tokio::test]
async fn send_message_goes_large_above_the_threshold_and_pager_below() {
    let core = start().await;
    let (mut alice, mut bob) = pair(&core, |_, _| {}, |_, _| {}).await;
    let threshold = imsip::client::DEFAULT_LARGE_MESSAGE_THRESHOLD;

    // Above: large-message mode (an MSRP channel, bob gets LargeMessage).
    let long = "é".repeat(threshold / 2 + 1).into_bytes();
    assert!(long.len() > threshold);
    let now = alice.now();
    let op = alice
        .client
        .send_message(now, BOB, long.clone(), &MessageOptions::default());
    match until(&mut [&mut alice, &mut bob], 1, is_large).await {
        Event::LargeMessage(m) => {
            assert_eq!(m.body, long);
            assert_eq!(m.content_type, "text/plain;charset=UTF-8");
        }
        other => panic!("{other:?}"),
    }
    let done = result(until(&mut [&mut alice, &mut bob], 0, completed(op)).await);
    assert_eq!(
        done,
        Ok(Done::LargeMessageSent {
            bytes: long.len() as u64
        })
    );
    assert_eq!(alice.connected.len(), 1, "one MSRP channel");
    let p = progress(&mut alice, op);
    assert_eq!(p.last(), Some(&(long.len() as u64, long.len() as u64)));
    until_no_channels(&mut alice, &mut bob).await;

    // At the threshold: pager mode (a SIP MESSAGE, no channel).
    let short = vec![b'x'; threshold];
    let now = alice.now();
    let op = alice
        .client
        .send_message(now, BOB, short.clone(), &MessageOptions::default());
    match until(&mut [&mut alice, &mut bob], 1, |e| {
        matches!(e, Event::Ua(ua::Event::Message(_)) | Event::LargeMessage(_))
    })
    .await
    {
        Event::Ua(ua::Event::Message(m)) => {
            assert_eq!(m.body, short);
            assert_eq!(m.from, ALICE);
        }
        other => panic!("a pager message, not {other:?}"),
    }
    match until(&mut [&mut alice, &mut bob], 0, ua_completed(op)).await {
        Event::Ua(ua::Event::Completed { result, .. }) => assert!(result.is_ok(), "{result:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(alice.connected.len(), 1, "no channel for a pager message");
    assert_eq!(alice.client.channel_count(), 0);
}

#[tokio::test]
async fn a_message_over_the_receivers_max_size_is_refused_413_before_any_chunk() {
    let core = start().await;
    let (mut alice, mut bob) = pair(
        &core,
        |_, _| {},
        |_, m| m.max_large_message_size = 64 * 1024,
    )
    .await;
    let now = alice.now();
    let op =
        alice
            .client
            .send_large_message(now, BOB, "application/octet-stream", binary(100 * 1024));
    match result(until(&mut [&mut alice, &mut bob], 0, completed(op)).await) {
        Err(UaError::Rejected { status: 413, .. }) => {}
        other => panic!("expected 413, got {other:?}"),
    }
    assert_eq!(sends(&alice), 0, "no chunk went: {:?}", alice.requests);
    assert!(progress(&mut alice, op).is_empty());
    until_no_channels(&mut alice, &mut bob).await;
    assert!(!bob.events.iter().any(is_large));
}

#[tokio::test]
async fn a_socket_lost_mid_transfer_fails_the_send_and_frees_both_sides() {
    let core = start().await;
    let (mut alice, mut bob) = pair(&core, |_, _| {}, |_, _| {}).await;
    let total = 256 * 1024;
    let now = alice.now();
    let op = alice
        .client
        .send_large_message(now, BOB, "application/octet-stream", binary(total));
    let first = until(
        &mut [&mut alice, &mut bob],
        0,
        |e| matches!(e, Event::Progress { op: o, .. } if *o == op),
    )
    .await;
    match first {
        Event::Progress { bytes_sent, .. } => assert!(bytes_sent < total as u64),
        other => panic!("{other:?}"),
    }
    let channel = *alice.msrp.keys().next().expect("alice's MSRP socket");
    alice.cut_msrp(channel).await;

    match result(until(&mut [&mut alice, &mut bob], 0, completed(op)).await) {
        Err(UaError::Transport) => {}
        other => panic!("expected a transport failure, got {other:?}"),
    }
    let p = progress(&mut alice, op);
    assert!(
        p.iter().all(|&(sent, _)| sent < total as u64),
        "never all of it: {p:?}"
    );
    assert!(
        sends(&alice) < total / 2048,
        "cut before the last chunk: {} SENDs",
        sends(&alice)
    );
    until_no_channels(&mut alice, &mut bob).await;
    assert!(
        !bob.events.iter().any(is_large),
        "a partial message never surfaces: {:?}",
        bob.events
    );
}

fn chat_event(chat: ChannelId, want: impl Fn(&ChatEvent) -> bool) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Chat { chat: c, event } if *c == chat && want(event))
}

/// Runs both until driver `who`'s chat `chat` reports an event matching `want`:
/// that event.
async fn until_chat(
    alice: &mut Driver,
    bob: &mut Driver,
    who: usize,
    chat: ChannelId,
    want: impl Fn(&ChatEvent) -> bool,
) -> Event {
    until(&mut [alice, bob], who, chat_event(chat, want)).await
}

fn composing(state: Typing) -> impl Fn(&ChatEvent) -> bool {
    move |e| matches!(e, ChatEvent::Composing { state: s, .. } if *s == state)
}

fn is_message(e: &ChatEvent) -> bool {
    matches!(e, ChatEvent::Message { .. })
}

/// Runs both until bob is invited: his chat id and the caller.
async fn invitation(alice: &mut Driver, bob: &mut Driver) -> (ChannelId, String) {
    match until(&mut [alice, bob], 1, |e| {
        matches!(e, Event::Invitation { .. })
    })
    .await
    {
        Event::Invitation { chat, from, .. } => (chat, from),
        other => panic!("{other:?}"),
    }
}

/// alice invites bob, bob accepts: their chat ids.
async fn open_chat(alice: &mut Driver, bob: &mut Driver) -> (ChannelId, ChannelId) {
    let now = alice.now();
    let (start, _) = alice.client.start_chat(now, BOB);
    let (b_chat, from) = invitation(alice, bob).await;
    assert_eq!(from, ALICE);
    let now = bob.now();
    let accept = bob.client.accept_chat(now, b_chat);
    let a_chat = match result(until(&mut [&mut *alice, &mut *bob], 0, completed(start)).await) {
        Ok(Done::ChatOpened { chat, peer }) => {
            assert_eq!(peer, BOB);
            chat
        }
        other => panic!("{other:?}"),
    };
    match result(until(&mut [&mut *alice, &mut *bob], 1, completed(accept)).await) {
        Ok(Done::ChatOpened { chat, peer }) => {
            assert_eq!(chat, b_chat);
            assert_eq!(peer, ALICE);
        }
        other => panic!("{other:?}"),
    }
    (a_chat, b_chat)
}

/// `from` (driver `who`) sends `count` lines in `chat`: their ops.
fn send_lines(d: &mut Driver, chat: ChannelId, tag: &str, count: usize) -> Vec<ua::OpId> {
    (0..count)
        .map(|i| {
            let now = d.now();
            let body = format!("{tag} line {i}").into_bytes();
            d.client.chat_send(now, chat, "text/plain", body)
        })
        .collect()
}

#[tokio::test]
async fn a_chat_session_types_talks_both_ways_with_reports_and_ends_with_bye() {
    let core = start().await;
    let (mut alice, mut bob) = pair(&core, |c, _| c.composing_idle_timeout = 1, |_, _| {}).await;
    let (a_chat, b_chat) = open_chat(&mut alice, &mut bob).await;

    // Typing: "active" shows at bob, and "idle" follows alice's 1 s idle timeout.
    let typed = alice.now();
    alice.client.chat_composing(typed, a_chat, true).unwrap();
    until_chat(&mut alice, &mut bob, 1, b_chat, composing(Typing::Active)).await;
    until_chat(&mut alice, &mut bob, 1, b_chat, composing(Typing::Idle)).await;
    // Measured on the clock alice's client runs on (not the wall clock's rounding).
    assert!(
        alice.now() >= typed + 1000,
        "idle after the idle timeout, not before"
    );

    // Typing again, then a message: bob sees "idle" (RFC 3994 §3.3), then the message.
    let now = alice.now();
    alice.client.chat_composing(now, a_chat, true).unwrap();
    until_chat(&mut alice, &mut bob, 1, b_chat, composing(Typing::Active)).await;
    let now = alice.now();
    let op = alice
        .client
        .chat_send(now, a_chat, "text/plain", b"done typing".to_vec());
    let e = until_chat(&mut alice, &mut bob, 1, b_chat, |e| {
        composing(Typing::Idle)(e) || is_message(e)
    })
    .await;
    assert!(
        matches!(
            &e,
            Event::Chat {
                event: ChatEvent::Composing {
                    state: Typing::Idle,
                    ..
                },
                ..
            }
        ),
        "idle before the message: {e:?}"
    );
    match until_chat(&mut alice, &mut bob, 1, b_chat, is_message).await {
        Event::Chat {
            event: ChatEvent::Message { body, .. },
            ..
        } => assert_eq!(body, b"done typing"),
        other => panic!("{other:?}"),
    }
    let ops = vec![op];

    // 20 lines each way, at once: they arrive in order, each sent and reported.
    let a_ops = [ops, send_lines(&mut alice, a_chat, "alice", 20)].concat();
    let b_ops = send_lines(&mut bob, b_chat, "bob", 20);
    for (who, chat, tag) in [(1, b_chat, "alice"), (0, a_chat, "bob")] {
        for i in 0..20 {
            match until_chat(&mut alice, &mut bob, who, chat, is_message).await {
                Event::Chat {
                    event:
                        ChatEvent::Message {
                            body, content_type, ..
                        },
                    ..
                } => {
                    assert_eq!(String::from_utf8_lossy(&body), format!("{tag} line {i}"));
                    assert_eq!(content_type, "text/plain");
                }
                other => panic!("{other:?}"),
            }
        }
    }
    for (who, chat, ops) in [(0, a_chat, a_ops), (1, b_chat, b_ops)] {
        for op in ops {
            let id = match result(until(&mut [&mut alice, &mut bob], who, completed(op)).await) {
                Ok(Done::ChatSent { message_id }) => message_id,
                other => panic!("{other:?}"),
            };
            assert!(!id.is_empty());
            let report = until(
                &mut [&mut alice, &mut bob],
                who,
                chat_event(
                    chat,
                    |e| matches!(e, ChatEvent::Report { message_id, .. } if *message_id == id),
                ),
            )
            .await;
            assert!(
                matches!(
                    report,
                    Event::Chat {
                        event: ChatEvent::Report {
                            delivered: true,
                            ..
                        },
                        ..
                    }
                ),
                "{report:?}"
            );
        }
    }

    // bob hangs up.
    let now = bob.now();
    let close = bob.client.close_chat(now, b_chat);
    until_chat(&mut alice, &mut bob, 1, b_chat, ended(ChatEndReason::Local)).await;
    assert_eq!(
        result(until(&mut [&mut alice, &mut bob], 1, completed(close)).await),
        Ok(Done::ChatClosed)
    );
    until_chat(
        &mut alice,
        &mut bob,
        0,
        a_chat,
        ended(ChatEndReason::RemoteBye),
    )
    .await;
    until_no_channels(&mut alice, &mut bob).await;
    for d in [&alice, &bob] {
        assert!(
            !d.events.iter().any(|e| matches!(
                e,
                Event::Chat {
                    event: ChatEvent::Ended { .. },
                    ..
                }
            )),
            "one Ended each: {:?}",
            d.events
        );
    }
}

fn ended(reason: ChatEndReason) -> impl Fn(&ChatEvent) -> bool {
    move |e| matches!(e, ChatEvent::Ended { reason: r } if *r == reason)
}

#[tokio::test]
async fn a_declined_chat_fails_486_and_a_cancelled_one_ends_remote_cancel() {
    let core = start().await;
    let (mut alice, mut bob) = pair(&core, |_, _| {}, |_, _| {}).await;

    // bob declines: 486 Busy Here.
    let now = alice.now();
    let (start, _) = alice.client.start_chat(now, BOB);
    let (b_chat, _) = invitation(&mut alice, &mut bob).await;
    let now = bob.now();
    bob.client.reject_chat(now, b_chat, 486).unwrap();
    // Whoever else shows the invitation (another tab) learns it was answered.
    until_chat(&mut alice, &mut bob, 1, b_chat, ended(ChatEndReason::Local)).await;
    match result(until(&mut [&mut alice, &mut bob], 0, completed(start)).await) {
        Err(UaError::Rejected { status: 486, .. }) => {}
        other => panic!("expected 486, got {other:?}"),
    }
    until_no_channels(&mut alice, &mut bob).await;

    // alice gives up while it rings: bob's invitation ends as cancelled.
    let now = alice.now();
    let (start, a_chat) = alice.client.start_chat(now, BOB);
    let (b_chat, _) = invitation(&mut alice, &mut bob).await;
    // start_chat names the chat at once: the one whose MSRP socket opened.
    assert_eq!(alice.connected.last(), Some(&a_chat));
    let now = alice.now();
    let close = alice.client.close_chat(now, a_chat);
    assert_eq!(
        result(until(&mut [&mut alice, &mut bob], 0, completed(close)).await),
        Ok(Done::ChatClosed)
    );
    assert_eq!(
        result(until(&mut [&mut alice, &mut bob], 0, completed(start)).await),
        Err(UaError::Cancelled)
    );
    until_chat(
        &mut alice,
        &mut bob,
        1,
        b_chat,
        ended(ChatEndReason::RemoteCancel),
    )
    .await;
    until_no_channels(&mut alice, &mut bob).await;
}
