//! Flow recovery (RFC 5626): keep-alive, disconnection, backoff, re-registration
//! first, then publications and subscriptions, then queued work.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::Method;
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{ConnectionState, Event, Outcome, RegistrationState, UaError};

#[test]
fn keep_alive_ping_and_pong() {
    let mut h = registered();
    h.run_for(30_500);
    assert!(
        h.sent.iter().any(|f| f == "\r\n\r\n"),
        "CRLFCRLF ping every 30 s"
    );
    assert_eq!(h.closes, 0, "pong received: the flow lives");
    h.run_for(60_000);
    assert_eq!(h.closes, 0);
    assert!(
        !h.events.iter().any(|e| matches!(e, Event::Dropped { .. })),
        "a pong is not an error"
    );
}

#[test]
fn no_pong_declares_the_flow_dead_and_recovers_when_outbound_was_negotiated() {
    let mut h = Harness::alice();
    h.core.behaviour.require_outbound = true;
    let op = h.register();
    h.ok(op);
    h.core.behaviour.no_pong = true;
    h.run_for(30_000 + 10_001);
    assert_eq!(h.closes, 1, "no pong within 10 s → close");
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Connection(ConnectionState::Disconnected { retry_in: Some(_) })
    )));
    h.core.behaviour.no_pong = false;
    h.run_for(1_000);
    assert_eq!(h.connects, 2, "reconnected after the backoff");
    assert_eq!(
        h.ua.registration().state,
        RegistrationState::Registered,
        "re-registered"
    );
}

#[test]
fn keep_alive_can_be_turned_off() {
    let mut cfg = alice_config();
    cfg.keep_alive_interval = 0;
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    h.run_for(200_000);
    assert!(!h.sent.iter().any(|f| f == "\r\n\r\n"));
}

#[test]
fn disconnect_mid_transaction_fails_with_transport_then_reregisters_first() {
    let mut h = registered();
    let mut e = Entity::new(ALICE);
    e.visibility = Some(true);
    let doc = ServiceSettings {
        entities: vec![e],
        ..Default::default()
    };
    let op = h.ua.publish_settings(h.now, &doc, None);
    h.pump();
    h.ok(op);
    let w = h.ua.watch_settings(h.now);
    h.pump();
    h.ok(w);
    h.core.behaviour.silent = true;
    let msg = h.ua.send_message(h.now, BOB, "lost?".as_bytes(), None);
    h.pump();
    h.core.behaviour.silent = false;
    h.drop_connection();
    assert_eq!(
        h.err(msg),
        UaError::Transport,
        "the app learns: nothing lost silently"
    );
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::Registration(r) if r.error == Some(UaError::Transport))));
    let before = h.sent.len();
    h.run_for(1_000);
    assert_eq!(h.connects, 2);
    let after: Vec<_> = h.sent[before..]
        .iter()
        .filter_map(|f| imsip::message::Message::parse(f.as_bytes()).ok())
        .filter(|m| m.is_request())
        .map(|m| m.method().unwrap().to_string())
        .collect();
    assert_eq!(
        after.first().map(String::as_str),
        Some("REGISTER"),
        "re-REGISTER first: {after:?}"
    );
    assert!(after.iter().position(|m| m == "PUBLISH") > after.iter().position(|m| m == "REGISTER"));
    assert!(after.contains(&"SUBSCRIBE".to_string()), "watch restored");
    let regs = h.sent_requests(Method::Register);
    let last = regs.last().unwrap();
    let c = &last.contact_list().unwrap()[0];
    let first_c = &regs[0].contact_list().unwrap()[0];
    assert_eq!(c.instance(), first_c.instance(), "same instance-id");
    assert_eq!(c.reg_id(), Some(1), "same reg-id");
    let pubs = h.sent_requests(Method::Publish);
    assert_eq!(
        pubs.last().unwrap().sip_if_match().unwrap().as_deref(),
        Some("e1"),
        "publication refreshed"
    );
}

/// The last reconnect delay the user agent announced.
fn last_retry_in(h: &Harness) -> u64 {
    h.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Connection(ConnectionState::Disconnected { retry_in: Some(d) }) => Some(*d),
            _ => None,
        })
        .expect("a reconnect was scheduled")
}

#[test]
fn a_connect_that_neither_opens_nor_fails_is_given_up_after_connect_timeout() {
    let mut h = registered();
    h.hang_connects = true;
    h.drop_connection();
    h.run_for(last_retry_in(&h));
    assert_eq!(h.connects, 2, "the reconnect attempt started (and hangs)");
    let closes = h.closes;
    h.run_for(10_000 - 1);
    assert_eq!(h.closes, closes, "not before connect_timeout (10 s)");
    h.run_for(1);
    assert_eq!(h.closes, closes + 1, "the hanging socket is closed");
    let retry = last_retry_in(&h);
    assert!(
        retry <= 1_000,
        "a failed connect: the next backoff step, {retry} ms"
    );
    h.hang_connects = false;
    h.run_for(retry);
    assert_eq!(h.connects, 3);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    // Connected: the deadline is gone, nothing closes the flow later.
    h.run_for(120_000);
    assert_eq!(h.closes, closes + 1);
}

#[test]
fn reconnect_backoff_grows_and_is_capped() {
    let mut h = registered();
    h.online = false;
    h.drop_connection();
    let mut delays = Vec::new();
    for e in &h.events {
        if let Event::Connection(ConnectionState::Disconnected { retry_in: Some(d) }) = e {
            delays.push(*d);
        }
    }
    h.run_for(300_000);
    delays.clear();
    for e in &h.events {
        if let Event::Connection(ConnectionState::Disconnected { retry_in: Some(d) }) = e {
            delays.push(*d);
        }
    }
    assert!(delays.len() >= 8, "{delays:?}");
    assert!(delays[0] <= 500 && delays[0] >= 250, "{delays:?}");
    assert!(delays[3] >= 2_000, "doubling: {delays:?}");
    assert!(delays.iter().all(|d| *d <= 30_000), "capped: {delays:?}");
    h.online = true;
    h.run_for(31_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn queued_work_waits_for_the_registration_and_goes_after_it() {
    let mut h = Harness::alice();
    let reg = h.ua.register(h.now);
    let msg = h.ua.send_message(h.now, BOB, b"queued", None);
    h.pump();
    h.ok(reg);
    assert!(matches!(h.ok(msg), Outcome::MessageSent { .. }));
    let order: Vec<_> = h
        .core
        .received
        .iter()
        .filter_map(|m| m.method().map(|x| x.to_string()))
        .collect();
    assert_eq!(order, ["REGISTER", "REGISTER", "MESSAGE"]);
}

#[test]
fn timer_f_without_any_answer() {
    let mut h = registered();
    h.core.behaviour.silent = true;
    let op = h.ua.send_message(h.now, BOB, b"x", None);
    h.run_for(31_999);
    assert!(h.result(op).is_none());
    h.run_for(2);
    assert_eq!(h.err(op), UaError::Timeout);
}

#[test]
fn close_fails_pending_and_stops_everything() {
    let mut h = registered();
    h.core.behaviour.silent = true;
    let op = h.ua.send_message(h.now, BOB, b"x", None);
    h.pump();
    h.ua.close(h.now);
    h.pump();
    assert_eq!(h.err(op).code(), "invalid_state");
    assert_eq!(h.closes, 1);
    let n = h.sent.len();
    h.run_for(10_000_000);
    assert_eq!(h.sent.len(), n, "nothing more is sent");
    let op = h.ua.register(h.now);
    h.pump();
    assert_eq!(h.err(op).code(), "invalid_state");
}

#[test]
fn oversize_and_garbage_frames_are_dropped_and_the_flow_survives() {
    let mut h = registered();
    h.core.outbox.push("x".repeat(70_000));
    h.core.outbox.push("this is not SIP\r\n\r\n".into());
    h.core.outbox.push(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x;branch=z9hG4bKstray\r\nCSeq: 1 MESSAGE\r\n\r\n".into(),
    );
    h.pump();
    let dropped = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::Dropped { .. }))
        .count();
    assert_eq!(
        dropped, 2,
        "oversize + unparseable; the stray response is ignored"
    );
    let op = h.ua.send_message(h.now, BOB, b"still works", None);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { .. }));
}

#[test]
fn a_server_ping_gets_a_pong_and_huge_times_do_not_overflow() {
    let mut h = registered();
    let before = h.sent.len();
    h.core.outbox.push("\r\n\r\n".into());
    h.pump();
    assert_eq!(
        h.sent[before..],
        ["\r\n".to_string()],
        "CRLFCRLF ping → CRLF pong (RFC 5626 §3.5.1)"
    );
    h.ua.handle_input(u64::MAX, imsip::ua::Input::Timeout);
    h.pump();
}

#[test]
fn a_timer_that_fires_early_is_armed_again() {
    use imsip::ua::{Input, Output};
    let mut h = registered();
    h.pump();
    let wake = h.wake.expect("a wake-up is armed");
    // The caller's timer fires 1 ms early: nothing is due, but a timer must be re-armed.
    h.wake = None;
    h.ua.handle_input(wake - 1, Input::Timeout);
    let mut rearmed = None;
    while let Some(o) = h.ua.poll_output() {
        if let Output::Timeout(at) = o {
            rearmed = Some(at);
        }
    }
    assert_eq!(rearmed, Some(wake), "the same wake-up is requested again");
}

#[test]
fn without_outbound_a_missing_pong_never_kills_the_flow() {
    // RFC 5626 §4.4.1: pongs are only required when the registrar negotiated
    // outbound or sent Flow-Timer (OpenSIPS' proto_ws never answers pings).
    let mut h = registered();
    h.core.behaviour.no_pong = true;
    h.run_for(300_000);
    let pings = h.sent.iter().filter(|f| *f == "\r\n\r\n").count();
    assert!(pings >= 9, "pings still sent every 30 s: {pings}");
    assert_eq!(h.closes, 0, "the flow lives");
    assert_eq!(h.connects, 1);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn flow_timer_sets_the_keep_alive_interval_and_requires_pongs() {
    let mut h = Harness::alice();
    h.core.behaviour.flow_timer = Some(10);
    let op = h.register();
    h.ok(op);
    let start = h.now;
    h.run_for(10_001);
    let pings = h.sent.iter().filter(|f| *f == "\r\n\r\n").count();
    assert_eq!(
        pings, 1,
        "one ping within 8–10 s of the Flow-Timer (RFC 5626 §4.4.1)"
    );
    h.core.behaviour.no_pong = true;
    h.run_until(start + 10_000 + 10_000 + 10_001);
    assert_eq!(h.closes, 1, "Flow-Timer makes the pong required");
}

/// The reconnect delays the `connection` events announced, in order.
fn reconnect_waits(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Connection(ConnectionState::Disconnected { retry_in: Some(d) }) => Some(*d),
            _ => None,
        })
        .collect()
}

/// Drops the connection: the reconnect comes after the first step of the backoff
/// (the failure count was reset).
fn assert_backoff_reset(h: &mut Harness) {
    let n = h.events.len();
    h.drop_connection();
    let reset = reconnect_waits(&h.events[n..]).first().copied();
    assert!(reset.is_some_and(|d| d <= 500), "{reset:?}");
}

#[test]
fn a_core_that_drops_every_register_sees_a_handful_of_attempts_a_minute() {
    let mut h = registered();
    h.core.behaviour.drop_on_register = true;
    h.drop_connection();
    let before = h.connects;
    h.run_for(60_000);
    let first_minute = h.connects - before;
    assert!(
        (3..=10).contains(&first_minute),
        "backoff 0.5 s · 2^n up to 30 s, reset only by a successful REGISTER: {first_minute} connects"
    );
    let before = h.connects;
    h.run_for(60_000);
    let second_minute = h.connects - before;
    assert!(
        second_minute <= 4,
        "then at most every 15–30 s: {second_minute}"
    );
    // The waits never went back to the minimum.
    let waits = reconnect_waits(&h.events);
    assert!(waits.len() >= 6, "{waits:?}");
    assert!(waits[waits.len() - 1] >= 15_000, "{waits:?}");
    // Once the core registers again and the flow lives on (30 s), the count resets.
    h.core.behaviour.drop_on_register = false;
    h.run_for(30_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    h.run_for(30_000);
    assert_backoff_reset(&mut h);
}

#[test]
fn a_timer_that_fires_minutes_late_is_handled_as_now() {
    // A frozen or throttled tab: the refresh timer fires 20 minutes after it was due
    // and the registration (600 s) has lapsed meanwhile.
    let mut h = registered();
    let regs = h.sent_requests(Method::Register).len();
    let due = h.wake.expect("a wake-up is armed");
    h.now = due + 20 * 60_000;
    h.wake = None;
    h.ua.handle_input(h.now, imsip::ua::Input::Timeout);
    h.pump();
    assert!(
        h.sent_requests(Method::Register).len() > regs,
        "re-registered at once"
    );
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, Event::Registration(r) if r.state == RegistrationState::Failed)));
}

#[test]
fn check_flow_probes_with_options_and_a_silent_core_is_declared_dead() {
    // The page became visible again: without outbound, an OPTIONS probes the flow;
    // any answer (here 405 from the fake core) proves it alive.
    let mut h = registered();
    h.ua.check_flow(h.now);
    h.pump();
    assert_eq!(h.sent_requests(Method::Options).len(), 1);
    h.run_for(20_000);
    assert_eq!(h.closes, 0, "answered: alive");
    // A core that answers nothing: dead after keep_alive_timeout, then recovered.
    h.core.behaviour.silent = true;
    h.core.behaviour.no_pong = true;
    h.ua.check_flow(h.now);
    h.pump();
    h.run_for(10_001);
    assert_eq!(h.closes, 1, "no answer within 10 s → the flow is dead");
    h.core.behaviour.silent = false;
    h.core.behaviour.no_pong = false;
    h.run_for(2_000);
    assert_eq!(h.connects, 2);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn check_flow_after_a_long_freeze_refreshes_a_lapsed_registration_at_once() {
    let mut h = registered();
    let regs = h.sent_requests(Method::Register).len();
    // Frozen for 20 minutes: no timer ran. The page resumes and checks the flow
    // before its (late) timer fires.
    h.now += 20 * 60_000;
    h.ua.check_flow(h.now);
    h.pump();
    assert!(
        h.sent_requests(Method::Register).len() > regs,
        "re-registered at once"
    );
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn offline_stops_reconnect_attempts_and_online_reconnects_at_once() {
    let mut h = registered();
    h.online = false;
    h.ua.set_online(h.now, false);
    h.drop_connection();
    let connects = h.connects;
    h.run_for(600_000);
    assert_eq!(h.connects, connects, "no attempt while offline");
    h.online = true;
    h.ua.set_online(h.now, true);
    h.pump();
    assert_eq!(h.connects, connects + 1, "at once when online");
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn going_offline_tells_the_app_no_attempt_is_scheduled() {
    let mut h = registered();
    h.online = false;
    h.drop_connection(); // a retry is scheduled...
    h.ua.set_online(h.now, false); // ...then the host says it is offline
    h.pump();
    assert_eq!(
        last_connection_state(&h),
        ConnectionState::Disconnected { retry_in: None }
    );
}

/// The state the last `connection` event said.
fn last_connection_state(h: &Harness) -> ConnectionState {
    h.events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::Connection(c) => Some(*c),
            _ => None,
        })
        .expect("a connection event")
}

/// Runs time forward in small steps until `h` made `n` connection attempts.
fn until_connects(h: &mut Harness, n: usize) {
    for _ in 0..100_000 {
        if h.connects >= n {
            return;
        }
        h.run_for(50);
    }
    panic!("{} connection attempts, not {n}", h.connects);
}

#[test]
fn a_failed_connect_moves_to_the_next_url_and_a_lost_flow_starts_again_from_the_first() {
    let [a, b, c] = [
        "wss://a.imsip.test/sip",
        "wss://b.imsip.test/sip",
        "wss://c.imsip.test/sip",
    ];
    let mut cfg = alice_config();
    cfg.server = a.into();
    cfg.alternate_servers = vec![b.into(), c.into()];
    assert_eq!(cfg.validate(), Ok(()));
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    assert_eq!(h.ua.server(), a, "before any connect: the first");
    // Every connect fails: round the list, with the backoff between attempts.
    h.online = false;
    let _ = h.register();
    until_connects(&mut h, 4);
    assert_eq!(h.connect_urls, [a, b, c, a]);
    // The next one (b) opens: registered there.
    h.online = true;
    until_connects(&mut h, 5);
    h.run_for(1_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    assert_eq!(h.connect_urls.last().map(String::as_str), Some(b));
    // A flow that opened and was lost: the next attempt goes to the first again.
    h.drop_connection();
    until_connects(&mut h, 6);
    h.run_for(1_000);
    assert_eq!(h.connect_urls, [a, b, c, a, b, a]);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    let op = h.ua.send_message(h.now, BOB, b"after failover", None);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));
}

#[test]
fn an_edge_that_opens_but_drops_every_register_fails_over_to_the_next() {
    // The first edge's upgrade works and its registrar side is dead (it drops every
    // REGISTER): a flow lost before any REGISTER succeeded is a failed one, so the
    // next URL comes next (it went back to the first for ever).
    let [a, b] = ["wss://a.imsip.test/sip", "wss://b.imsip.test/sip"];
    let mut cfg = alice_config();
    cfg.server = a.into();
    cfg.alternate_servers = vec![b.into()];
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    h.core.behaviour.drop_on_register = true;
    let _ = h.register();
    until_connects(&mut h, 2);
    assert_eq!(h.connect_urls, [a, b]);
    // And round the list while none registers.
    until_connects(&mut h, 4);
    assert_eq!(h.connect_urls, [a, b, a, b]);
    // Once one answers (the fake core is one: every URL reaches it), registered.
    h.core.behaviour.drop_on_register = false;
    h.run_for(60_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn alternate_servers_share_the_scheme_of_the_server() {
    for alternate in [
        "ws://b.imsip.test/sip",
        "https://b.imsip.test/sip",
        "wss://",
        "wss:///sip",
        "wss://b.imsip.test\r\n/sip",
        "wss://b.imsip.test/s ip",
        "",
    ] {
        let mut cfg = alice_config();
        cfg.alternate_servers = vec![alternate.into()];
        assert!(
            matches!(cfg.validate(), Err(UaError::BadInput(m)) if m.starts_with("server:")),
            "{alternate:?}"
        );
    }
}

#[test]
fn register_and_work_wait_while_another_url_is_tried_and_fail_once_every_url_failed() {
    let mut cfg = alice_config();
    cfg.server = "wss://a.imsip.test/sip".into();
    cfg.alternate_servers = vec!["wss://b.imsip.test/sip".into()];
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    // a fails, b opens: register() and a MESSAGE asked meanwhile both succeed.
    h.online = false;
    let reg = h.register();
    let msg = h.ua.send_message(h.now, BOB, b"queued", None);
    h.pump();
    assert_eq!(h.connects, 1);
    assert!(
        h.result(reg).is_none() && h.result(msg).is_none(),
        "waiting for b"
    );
    h.online = true;
    until_connects(&mut h, 2);
    h.run_for(1_000);
    assert!(matches!(h.ok(reg), Outcome::Registered(_)));
    assert!(matches!(
        h.ok(msg),
        Outcome::MessageSent { status: 200, .. }
    ));

    // Lost, and every URL fails: the work fails `transport` after the round.
    h.drop_connection();
    h.online = false;
    let msg = h.ua.send_message(h.now, BOB, b"lost", None);
    until_connects(&mut h, 3);
    h.pump();
    assert!(h.result(msg).is_none(), "a failed: b comes next");
    until_connects(&mut h, 4);
    h.pump();
    assert_eq!(h.err(msg), UaError::Transport, "a and b failed");
}

#[test]
fn with_one_url_a_failed_connect_fails_register_at_once() {
    let mut h = Harness::alice();
    h.online = false;
    let reg = h.register();
    h.pump();
    assert_eq!(h.err(reg), UaError::Transport);
}

#[test]
fn a_core_that_closes_after_every_200_register_gets_the_backoff_too() {
    // A flapping edge: each REGISTER gets its 200 and the connection closes at once.
    // Resetting the count at each 200 had the client back every 0.25–0.5 s for ever
    // (RFC 5626 §4.5: the backoff is there to stop exactly that).
    let mut h = registered();
    h.run_for(60_000);
    h.core.behaviour.drop_after_register = true;
    h.drop_connection();
    let before = h.connects;
    h.run_for(120_000);
    let connects = h.connects - before;
    assert!(
        (3..=12).contains(&connects),
        "{connects} connects in two minutes"
    );
    let waits = reconnect_waits(&h.events);
    assert!(waits.last().is_some_and(|w| *w >= 15_000), "{waits:?}");
    // The edge steadies: a flow that lives 30 s resets the count.
    h.core.behaviour.drop_after_register = false;
    h.run_for(90_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    assert_backoff_reset(&mut h);
}

#[test]
fn a_register_that_times_out_on_an_open_connection_recovers_the_flow() {
    // A half-open socket without outbound (no pongs required): the core stopped
    // answering, the TCP stayed up. Every REGISTER timed out on it for ever; the
    // timeout now closes the flow and a new one is made (and registered once the
    // core answers again).
    let mut h = registered();
    let connects = h.connects;
    h.core.behaviour.silent = true;
    h.run_until_sent(Method::Register);
    let closes = h.closes;
    h.run_for(32_001);
    assert_eq!(h.closes, closes + 1, "the flow was closed");
    assert!(h.connects > connects, "and made again");
    // The registration says why: the REGISTER's timeout, not a transport error.
    let retrying = h
        .registration_events()
        .into_iter()
        .rev()
        .find(|r| r.state == RegistrationState::Retrying)
        .unwrap();
    assert_eq!(retrying.error, Some(UaError::Timeout));
    h.core.behaviour.silent = false;
    h.run_for(40_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn close_says_the_connection_is_gone() {
    // The last connection event was `Connected` after close() (the registration's
    // said `unregistered`): now `Disconnected` with no retry, as a flow lost for good.
    let mut h = registered();
    h.ua.close(h.now);
    h.pump();
    assert_eq!(
        last_connection_state(&h),
        ConnectionState::Disconnected { retry_in: None }
    );
}
