//! Registerer: the seed's flow D.1 steps 1–4, refresh, stale nonce, wrong
//! password, 423, AKA and AUTS resync, unregister.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::auth::Credentials;
use imsip::message::Method;
use imsip::ua::{Event, Outcome, RegistrationState, UaError};

#[test]
fn seed_flow_d1_register_challenge_register_200() {
    let mut h = Harness::alice();
    let op = h.register();
    let Outcome::Registered(info) = h.ok(op) else {
        panic!()
    };
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 2, "REGISTER, 401, REGISTER, 200");
    let (r1, r2) = (&regs[0], &regs[1]);
    for r in [r1, r2] {
        assert_eq!(r.request_uri().unwrap().as_str(), "sip:imsip.test");
        let contact = &r.contact_list().unwrap()[0];
        assert!(
            contact.params.has("+g.oma.sip-im"),
            "feature tag in Contact"
        );
        assert!(contact.instance().unwrap().starts_with("<urn:uuid:"));
        assert_eq!(contact.reg_id(), Some(1));
        assert_eq!(contact.uri.params().str("transport"), Some("ws"));
        assert!(contact
            .uri
            .host()
            .unwrap()
            .to_string()
            .ends_with(".invalid"));
        let via = r.top_via().unwrap();
        assert_eq!(via.transport, "WSS", "wss:// server → Via WSS (RFC 7118)");
        assert!(via.host.to_string().ends_with(".invalid"));
        assert_eq!(via.rport(), Some(None));
        assert!(via.branch().unwrap().starts_with("z9hG4bK"));
        assert_eq!(r.from().unwrap().uri.as_str(), ALICE);
        assert_eq!(r.to().unwrap().uri.as_str(), ALICE);
        assert_eq!(r.to().unwrap().tag(), None);
        assert_eq!(r.expires().unwrap(), Some(600));
        assert_eq!(r.supported().unwrap(), ["path", "outbound", "gruu"]);
        assert_eq!(r.p_preferred_identity().unwrap()[0].uri.as_str(), ALICE);
        assert!(r
            .user_agent()
            .unwrap()
            .starts_with("IM-client/OMA1.0 imsip/"));
    }
    assert_eq!(
        r1.from().unwrap().tag(),
        r2.from().unwrap().tag(),
        "same From tag"
    );
    assert_eq!(r1.call_id().unwrap(), r2.call_id().unwrap(), "same Call-ID");
    assert_eq!(
        r2.cseq().unwrap().seq,
        r1.cseq().unwrap().seq + 1,
        "CSeq + 1"
    );
    assert!(r1.authorization().unwrap().is_empty());
    let auth = &r2.authorization().unwrap()[0];
    assert_eq!(auth.param("username"), Some("alice@imsip.test"));
    assert_eq!(auth.param("uri"), Some("sip:imsip.test"));
    assert_eq!(auth.param("nc"), Some("00000001"));
    assert_eq!(auth.param("opaque"), Some("op1"));
    assert_eq!(info.state, RegistrationState::Registered);
    assert_eq!(info.expires, Some(600));
    assert_eq!(info.service_route, ["sip:orig@scscf.imsip.test;lr"]);
    assert_eq!(
        info.associated_uris,
        ["sip:alice@imsip.test", "tel:+15550100"]
    );
    assert_eq!(info.contacts.len(), 2);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::Registration(r) if r.state == RegistrationState::Registered)));
    assert!(
        !h.sent.iter().any(|f| f.contains("alice-secret")),
        "the password never goes on the wire"
    );
}

#[test]
fn ims_initial_authorization_as_in_the_seed_step_1() {
    let mut cfg = alice_config();
    cfg.ims_initial_authorization = true;
    cfg.user_agent = Some("Acme-Talk5000/v1.01".into());
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let r1 = &h.sent_requests(Method::Register)[0];
    let a = &r1.authorization().unwrap()[0];
    assert_eq!(a.param("username"), Some("alice@imsip.test"));
    assert_eq!(a.param("realm"), Some("imsip.test"));
    assert_eq!(a.param("nonce"), Some(""));
    assert_eq!(a.param("uri"), Some("sip:imsip.test"));
    assert_eq!(a.param("response"), Some(""));
    assert_eq!(
        r1.user_agent().unwrap(),
        format!(
            "IM-client/OMA1.0 imsip/{} Acme-Talk5000/v1.01",
            imsip::VERSION
        )
    );
}

#[test]
fn refresh_between_50_and_85_percent_reusing_the_nonce() {
    for seed in 1..6u64 {
        let mut h = Harness::new(alice_config(), FakeCore::with_password("alice-secret"));
        h.ua = imsip::ua::UserAgent::new(alice_config(), Box::new(TestRng(seed * 7919)));
        let start = h.now;
        let op = h.register();
        h.ok(op);
        assert_eq!(h.sent_requests(Method::Register).len(), 2);
        // Nothing before 50 % of 600 s.
        h.run_until(start + 299_000);
        assert_eq!(
            h.sent_requests(Method::Register).len(),
            2,
            "no refresh before 50 %"
        );
        h.run_until(start + 511_000);
        let regs = h.sent_requests(Method::Register);
        assert_eq!(regs.len(), 3, "one refresh by 85 %, and no 401 round trip");
        let auth = &regs[2].authorization().unwrap()[0];
        assert_eq!(
            auth.param("nc"),
            Some("00000002"),
            "the last nonce with nc+1"
        );
        assert_eq!(
            h.core
                .received
                .iter()
                .filter(|m| m.method() == Some(&Method::Register))
                .count(),
            3
        );
    }
}

#[test]
fn stale_nonce_is_retried_with_the_new_nonce() {
    let mut h = Harness::alice();
    let op = h.register();
    h.ok(op);
    h.core.expire_nonce();
    h.run_for(600_000);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 4, "refresh (stale) + retry");
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    assert!(!h
        .events
        .iter()
        .any(|e| matches!(e, Event::Registration(r) if r.state == RegistrationState::Failed)));
}

#[test]
fn wrong_password_is_exactly_two_registers_and_auth_failed() {
    let mut h = Harness::new(alice_config(), FakeCore::with_password("something-else"));
    let op = h.register();
    assert_eq!(h.err(op).code(), "auth_failed");
    assert_eq!(h.sent_requests(Method::Register).len(), 2);
    assert!(h.events.iter().any(
        |e| matches!(e, Event::Registration(r) if r.state == RegistrationState::Failed
        && matches!(r.error, Some(UaError::AuthFailed { .. })))
    ));
    // No loop, not even later.
    h.run_for(3_600_000);
    assert_eq!(h.sent_requests(Method::Register).len(), 2);
}

#[test]
fn a_core_that_challenges_every_answer_gets_one_retry() {
    let mut h = Harness::alice();
    h.core.behaviour.always_challenge = true;
    let op = h.register();
    assert_eq!(h.err(op).code(), "auth_failed");
    assert_eq!(h.sent_requests(Method::Register).len(), 2);
}

#[test]
fn interval_too_brief_retries_with_min_expires() {
    let mut h = Harness::alice();
    h.core.behaviour.min_expires = Some(3600);
    let op = h.register();
    let Outcome::Registered(info) = h.ok(op) else {
        panic!()
    };
    assert_eq!(info.expires, Some(3600));
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.last().unwrap().expires().unwrap(), Some(3600));
}

#[test]
fn granted_expiry_comes_from_our_contact() {
    let mut h = Harness::alice();
    h.core.behaviour.max_expires = Some(120);
    let op = h.register();
    let Outcome::Registered(info) = h.ok(op) else {
        panic!()
    };
    assert_eq!(
        info.expires,
        Some(120),
        "our Contact's expires, not the other binding's 100"
    );
}

#[test]
fn our_exact_contact_wins_over_a_stale_binding_of_the_same_instance() {
    // RFC 3261 §10.2.4: the expiry is the one of the Contact we registered. A
    // binding left by an earlier connection (same instance and reg-id, another
    // URI) listed first must not be read as ours: with its 3600 s the client
    // would never refresh its own 120 s binding; with its 0 it would set no
    // refresh at all.
    for stale in [3600, 0] {
        let mut h = Harness::alice();
        h.core.behaviour.max_expires = Some(120);
        h.core.behaviour.stale_binding = Some(stale);
        let op = h.register();
        let Outcome::Registered(info) = h.ok(op) else {
            panic!()
        };
        assert_eq!(info.expires, Some(120), "stale binding expires={stale}");
        assert_eq!(
            info.contacts.len(),
            2 + 1,
            "both listed, and the other user's"
        );
        let before = h.sent_requests(Method::Register).len();
        h.run_for(110_000);
        assert_eq!(
            h.sent_requests(Method::Register).len(),
            before + 1,
            "refreshed before our 120 s ran out (stale {stale})"
        );
    }
}

#[test]
fn no_answer_ends_the_register_with_timer_f() {
    let mut h = Harness::alice();
    h.core.behaviour.silent = true;
    let op = h.register();
    h.run_for(32_001);
    assert_eq!(h.err(op), UaError::Timeout, "Timer F: 64·T1");
}

#[test]
fn unregister_in_one_round_trip_with_cached_credentials() {
    let mut h = Harness::alice();
    let op = h.register();
    h.ok(op);
    let op = h.ua.unregister(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Unregistered);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 3, "no 401 round trip");
    let last = regs.last().unwrap();
    assert_eq!(last.expires().unwrap(), Some(0));
    assert_eq!(last.contact_list().unwrap()[0].expires(), Some(0));
    assert!(!last.authorization().unwrap().is_empty());
    assert_eq!(h.ua.registration().state, RegistrationState::Unregistered);
    h.run_for(3_600_000);
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        3,
        "no refresh after unregister"
    );
}

#[test]
fn only_one_register_in_flight() {
    let mut h = Harness::alice();
    h.core.behaviour.silent = true;
    let a = h.register();
    let b = h.register();
    let c = h.ua.unregister(h.now);
    h.pump();
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        1,
        "queued, never parallel"
    );
    h.core.behaviour.silent = false;
    h.run_for(32_001);
    assert_eq!(h.err(a), UaError::Timeout);
    let _ = (b, c);
    // b and c then went one after the other.
    let regs = h.sent_requests(Method::Register);
    assert!(regs.len() >= 2);
    h.run_for(100_000);
    assert!(h.result(b).is_some() && h.result(c).is_some());
}

fn aka_config(sqn: u64) -> imsip::ua::Config {
    let mut cfg =
        imsip::ua::Config::new("ws://127.0.0.1:8088/sip", "sip:carol@imsip.test").unwrap();
    cfg.credentials = Some(Credentials::aka("carol@imsip.test", carol_keys(), sqn));
    cfg.publish_policy = imsip::ua::PublishPolicy::Never;
    cfg
}

#[test]
fn aka_registration_succeeds() {
    let mut h = Harness::new(aka_config(0), FakeCore::with_aka(0x100));
    let op = h.register();
    h.ok(op);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 2);
    let a = &regs[0].authorization().unwrap()[0];
    assert_eq!(
        a.param("response"),
        Some(""),
        "AKA users send the IMS initial form"
    );
    let a = &regs[1].authorization().unwrap()[0];
    assert_eq!(a.param("algorithm"), Some("AKAv1-MD5"));
    assert!(
        h.ua.aka_sqn().unwrap() > 0x100,
        "the SQN to persist advanced"
    );
    assert_eq!(regs[0].top_via().unwrap().transport, "WS");
}

#[test]
fn aka_answers_a_registrar_that_challenges_in_another_realm_later() {
    // Another S-CSCF (another realm) challenges the refresh: the AKA keys are the
    // subscriber's, not the first realm's (they used to stay with it: auth_failed).
    let mut h = Harness::new(aka_config(0), FakeCore::with_aka(0x100));
    let op = h.register();
    h.ok(op);
    h.core.behaviour.aka_realm = Some("scscf2.imsip.test");
    h.core.expire_nonce();
    let op = h.register();
    h.ok(op);
    let last = h.sent_requests(Method::Register).pop().unwrap();
    let a = &last.authorization().unwrap()[0];
    assert_eq!(a.param("realm"), Some("scscf2.imsip.test"));
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn aka_sequence_failure_resyncs_with_auts_then_succeeds() {
    // The USIM has seen a higher SQN than the network uses: sync failure → AUTS.
    let mut h = Harness::new(aka_config(0x10_0000), FakeCore::with_aka(0x100));
    let op = h.register();
    h.ok(op);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 3, "initial, AUTS, answer");
    let a = &regs[1].authorization().unwrap()[0];
    assert!(a.param("auts").is_some());
    assert_eq!(a.param("algorithm"), Some("AKAv1-MD5"));
}

#[test]
fn aka_wrong_network_mac_is_network_auth_failed_and_sends_no_res() {
    let mut h = Harness::new(aka_config(0), FakeCore::with_aka(0x100));
    // The network uses other keys: MAC-A cannot verify.
    let mut other = carol_keys();
    other.k = imsip::auth::Key::from_hex("00000000000000000000000000000001").unwrap();
    h.core.aka = Some((other, 0x100));
    let op = h.register();
    assert_eq!(h.err(op), UaError::NetworkAuthFailed);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(
        regs.len(),
        2,
        "the initial REGISTER and the MAC-failure notice"
    );
    // TS 24.229 §5.1.1.5.2: the network is told with an empty response and no auts.
    let a = &regs[1].authorization().unwrap()[0];
    assert_eq!(a.param("response"), Some(""), "no RES is ever sent");
    assert!(
        a.param("nonce").is_some_and(|n| !n.is_empty()),
        "the challenge's nonce"
    );
    assert!(a.param("auts").is_none());
    assert_eq!(regs[1].authorization().unwrap().len(), 1);
}

#[test]
fn each_user_agent_registers_with_a_fresh_call_id_and_a_contact_stable_for_its_instance() {
    let reg = |instance: &str| {
        let mut cfg = alice_config();
        cfg.instance_id = Some(instance.into());
        let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
        h.ua = imsip::ua::UserAgent::new(
            {
                let mut c = alice_config();
                c.instance_id = Some(instance.into());
                c
            },
            Box::new(TestRng(instance.len() as u64 * 7919 + h.now)),
        );
        let op = h.register();
        h.ok(op);
        h.sent_requests(Method::Register)[0].clone()
    };
    let a = reg("urn:uuid:11111111-2222-4333-8444-555555555555");
    let b = reg("urn:uuid:11111111-2222-4333-8444-555555555555x");
    let a2 = {
        let mut cfg = alice_config();
        cfg.instance_id = Some("urn:uuid:11111111-2222-4333-8444-555555555555".into());
        let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
        h.ua = imsip::ua::UserAgent::new(
            {
                let mut c = alice_config();
                c.instance_id = Some("urn:uuid:11111111-2222-4333-8444-555555555555".into());
                c
            },
            Box::new(TestRng(42)),
        );
        let op = h.register();
        h.ok(op);
        h.sent_requests(Method::Register)[0].clone()
    };
    let contact = |m: &imsip::message::Message| m.contact_list().unwrap()[0].uri.to_string();
    assert_eq!(
        contact(&a),
        contact(&a2),
        "same instance, same Contact: the binding is replaced"
    );
    assert_ne!(contact(&a), contact(&b));
    assert_ne!(
        a.call_id().unwrap(),
        a2.call_id().unwrap(),
        "a fresh Call-ID per load"
    );
}

#[test]
fn a_reload_with_a_persisted_call_id_refused_500_out_of_order_registers_at_once() {
    // RFC 3261 §10.3 step 7: the registrar holds the binding of the previous page
    // load with a higher CSeq for that Call-ID and answers 500.
    let mut cfg = alice_config();
    cfg.call_id = Some("persisted-call-id".into());
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    h.core.behaviour.register_script.push_back((500, None));
    let op = h.register();
    h.ok(op);
    let regs = h.sent_requests(Method::Register);
    let last = regs.last().unwrap();
    assert_ne!(
        last.call_id().unwrap(),
        "persisted-call-id",
        "a fresh Call-ID"
    );
    assert_eq!(last.cseq().unwrap().seq, 1);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn a_refresh_answered_408_480_500_503_504_is_retried_and_the_registration_survives() {
    for status in [408u16, 480, 500, 503, 504] {
        let mut h = registered();
        h.core.behaviour.register_script.push_back((status, None));
        let regs = h.sent_requests(Method::Register).len();
        h.run_for(600_000);
        let states: Vec<RegistrationState> =
            h.registration_events().iter().map(|r| r.state).collect();
        let retrying = h
            .registration_events()
            .into_iter()
            .find(|r| r.state == RegistrationState::Retrying)
            .unwrap_or_else(|| panic!("{status}: {states:?}"));
        assert_eq!(
            retrying.error.as_ref().and_then(|e| e.status()),
            Some(status)
        );
        assert!(retrying.retry_in.is_some_and(|d| d <= 500));
        assert_eq!(
            states.last(),
            Some(&RegistrationState::Registered),
            "{status}: {states:?}"
        );
        assert!(h.sent_requests(Method::Register).len() >= regs + 2);
        assert!(!states.contains(&RegistrationState::Failed));
    }
}

#[test]
fn a_refresh_with_retry_after_waits_that_long() {
    let mut h = registered();
    h.core.behaviour.register_script.push_back((503, Some(40)));
    h.run_until_sent(Method::Register);
    let n = h.sent_requests(Method::Register).len();
    h.run_for(39_000);
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        n,
        "not before Retry-After"
    );
    h.run_for(1_500);
    assert_eq!(h.sent_requests(Method::Register).len(), n + 1);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn a_refresh_without_answer_is_retried() {
    let mut h = registered();
    h.core.behaviour.silent = true;
    h.run_until_sent(Method::Register);
    h.run_for(32_001);
    assert_eq!(h.ua.registration().state, RegistrationState::Retrying);
    h.core.behaviour.silent = false;
    // A retry sent while the core was still silent times out too; the next one works.
    h.run_for(40_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn a_refresh_refused_403_fails_for_good_and_stops() {
    let mut h = registered();
    h.core.behaviour.register_script.push_back((403, None));
    h.run_for(600_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Failed);
    let n = h.sent_requests(Method::Register).len();
    h.run_for(3_600_000);
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        n,
        "no loop on a refusal"
    );
}

#[test]
fn work_queued_behind_a_retrying_registration_times_out() {
    let mut h = Harness::alice();
    for _ in 0..50 {
        h.core.behaviour.register_script.push_back((503, None));
    }
    let reg = h.register();
    assert!(matches!(h.err(reg), UaError::Rejected { status: 503, .. }));
    let msg = h.ua.send_message(h.now, BOB, b"hi", None);
    h.pump();
    h.run_for(31_000);
    assert!(h.result(msg).is_none(), "still waiting");
    h.run_for(2_000);
    assert_eq!(h.err(msg), UaError::Timeout);
    assert!(h.sent_requests(Method::Message).is_empty());
}

#[test]
fn a_persisted_call_id_starts_from_the_configured_cseq() {
    let mut cfg = alice_config();
    cfg.call_id = Some("persisted-call-id".into());
    cfg.register_cseq_start = 5000;
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs[0].call_id().unwrap(), "persisted-call-id");
    assert_eq!(regs[0].cseq().unwrap().seq, 5001);
}

#[test]
fn every_state_is_announced_registering_and_unregistering_too() {
    // README's `registration` event lists every state: an app showing
    // "connecting…" learns of `registering` from the event, not by polling.
    let mut h = Harness::alice();
    let op = h.register();
    h.ok(op);
    let op = h.ua.unregister(h.now);
    h.pump();
    h.ok(op);
    let states: Vec<_> = h.registration_events().iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            RegistrationState::Registering,
            RegistrationState::Registered,
            RegistrationState::Unregistering,
            RegistrationState::Unregistered
        ]
    );
    // A register() while registered is a refresh: no `registering`, and
    // `registered` again with the new expiry.
    let op = h.register();
    h.ok(op);
    let op = h.register();
    h.ok(op);
    let states: Vec<_> = h.registration_events().iter().map(|r| r.state).collect();
    assert_eq!(
        states[4..],
        [
            RegistrationState::Registering,
            RegistrationState::Registered,
            RegistrationState::Registered
        ]
    );
}

#[test]
fn close_leaves_the_registration_unregistered_and_says_so() {
    // Nothing keeps the binding up after close(): the state must not stay
    // `registered` (or `registering`, when closed mid-way) for ever.
    for closed_mid_way in [false, true] {
        let mut h = Harness::alice();
        let op = if closed_mid_way {
            h.ua.register(h.now) // not pumped: the REGISTER is still out
        } else {
            let op = h.register();
            h.ok(op);
            op
        };
        h.ua.close(h.now);
        h.pump();
        assert_eq!(h.ua.registration().state, RegistrationState::Unregistered);
        assert_eq!(h.ua.registration().expires, None);
        assert_eq!(
            h.registration_events().last().map(|r| r.state),
            Some(RegistrationState::Unregistered),
            "closed mid-way: {closed_mid_way}"
        );
        if closed_mid_way {
            assert_eq!(h.err(op).code(), "invalid_state");
        }
    }
}

#[test]
fn retry_after_zero_is_no_faster_than_the_backoff() {
    // A core answering 503 with Retry-After: 0 had the client send thousands of
    // REGISTERs a second: Retry-After is a lower bound, the backoff still applies
    // (RFC 3261 §20.33, RFC 5626 §4.5).
    let mut h = Harness::alice();
    for _ in 0..6 {
        h.core.behaviour.register_script.push_back((503, Some(0)));
    }
    let op = h.register();
    // The six waits add up to 31.5 s at most; the refresh comes minutes later.
    h.run_for(60_000);
    assert_eq!(h.err(op).status(), Some(503));
    let waits: Vec<u64> = h
        .registration_events()
        .iter()
        .filter(|r| r.state == RegistrationState::Retrying)
        .filter_map(|r| r.retry_in)
        .collect();
    assert_eq!(waits.len(), 6, "{waits:?}");
    // 250–500 ms at first (the default base, randomised to 50–100 %), then doubling.
    for (i, w) in waits.iter().enumerate() {
        let base = 500u64 << i;
        assert!(
            *w >= base / 2 && *w <= base,
            "wait {i}: {w} ms of {waits:?}"
        );
    }
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        7 + 1,
        "one challenge, six 503s, the 200"
    );
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn a_refusal_with_retry_after_is_not_repeated() {
    // RFC 3261 §21.4.4: a 403 is not to be repeated; its Retry-After does not make it
    // transient (neither does a 603's).
    for status in [403u16, 603] {
        let mut h = registered();
        h.core
            .behaviour
            .register_script
            .push_back((status, Some(1)));
        h.run_for(600_000);
        assert_eq!(
            h.ua.registration().state,
            RegistrationState::Failed,
            "{status}"
        );
        let n = h.sent_requests(Method::Register).len();
        h.run_for(3_600_000);
        assert_eq!(
            h.sent_requests(Method::Register).len(),
            n,
            "{status}: no loop"
        );
    }
}

#[test]
fn a_500_with_retry_after_keeps_the_call_id_and_waits() {
    // The fresh Call-ID after a 500 is for a registrar's CSeq-order refusal (§10.3
    // step 7); a 500 with Retry-After asks for time (§20.33).
    let mut h = Harness::alice();
    h.core.behaviour.register_script.push_back((500, Some(3)));
    let _op = h.register();
    h.pump();
    let sent = h.sent_requests(Method::Register);
    assert_eq!(sent.len(), 2, "challenged, then answered 500");
    let refused_call_id = sent.last().unwrap().call_id().unwrap().to_owned();
    let n = sent.len();
    h.run_for(2_900);
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        n,
        "not before Retry-After"
    );
    h.run_for(200);
    let sent = h.sent_requests(Method::Register);
    assert_eq!(sent.len(), n + 1);
    assert_eq!(sent[n].call_id().unwrap(), refused_call_id);
    h.run_for(1_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}

#[test]
fn a_200_that_does_not_bind_our_contact_is_not_a_registration() {
    // RFC 3261 §10.2.4, §10.3 step 8: the 2xx lists every binding with its expiry.
    // Ours given 0 s, or not listed: not registered (a typed error, retried).
    let mut h = Harness::alice();
    h.core.behaviour.max_expires = Some(0);
    let op = h.register();
    h.run_for(100);
    assert!(
        matches!(h.err(op), UaError::BadResponse(m) if m.contains("0 s")),
        "{:?}",
        h.result(op)
    );
    assert_eq!(h.ua.registration().state, RegistrationState::Retrying);
    h.core.behaviour.max_expires = None;
    h.core.behaviour.omit_own_contact = 1;
    h.run_for(2_000);
    let errors: Vec<String> = h
        .registration_events()
        .iter()
        .filter_map(|r| r.error.as_ref().map(|e| e.to_string()))
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("does not list our Contact")),
        "{errors:?}"
    );
    h.run_for(10_000);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
    assert!(h.ua.registration().expires.is_some_and(|e| e > 0));
}

#[test]
fn a_407_that_also_carries_the_registrars_challenge_is_answered_for_both() {
    // RFC 3261 §16.7, §22.3: a forking proxy aggregates the challenges into one 407.
    // The retry carries both answers (it carried only the proxy's, and was challenged
    // again).
    let mut h = Harness::alice();
    h.core.behaviour.aggregate_challenge = true;
    let op = h.register();
    h.ok(op);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 2, "one challenge, one answer");
    let retry = &regs[1];
    assert_eq!(
        retry.authorization().unwrap()[0].param("realm"),
        Some("imsip.test")
    );
    assert_eq!(
        retry.proxy_authorization().unwrap()[0].param("realm"),
        Some("proxy.imsip.test")
    );
}

#[test]
fn retry_after_holds_when_the_core_also_closes_the_flow() {
    // An overloaded edge answers 503 Retry-After: 20 and closes: the reconnect's
    // backoff (half a second) must not cut the 20 s short (RFC 3261 §20.33).
    let mut h = registered();
    h.core.behaviour.register_script.push_back((503, Some(20)));
    h.run_until_sent(Method::Register);
    h.pump();
    let n = h.sent_requests(Method::Register).len();
    h.drop_connection();
    h.run_for(5_000);
    let connected = h
        .events
        .iter()
        .filter(|e| matches!(e, Event::Connection(imsip::ua::ConnectionState::Connected)))
        .count();
    assert!(connected >= 2, "reconnected meanwhile");
    assert_eq!(
        h.sent_requests(Method::Register).len(),
        n,
        "no REGISTER before Retry-After"
    );
    h.run_for(16_000);
    assert_eq!(h.sent_requests(Method::Register).len(), n + 1);
    assert_eq!(h.ua.registration().state, RegistrationState::Registered);
}
