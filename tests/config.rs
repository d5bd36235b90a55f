//! `Config::validate` (what the user agent copies into its requests as given is
//! well-formed, or refused naming the field) and `Config::extra_headers` (on every
//! request and response the user agent writes).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::{Message, Method};
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{Config, MessageOptions, Outcome, UaError};

fn refusal(edit: impl FnOnce(&mut Config)) -> String {
    let mut cfg = alice_config();
    edit(&mut cfg);
    match cfg.validate() {
        Err(UaError::BadInput(m)) => m,
        other => panic!("expected BadInput, got {other:?}"),
    }
}

#[test]
fn values_copied_into_requests_must_be_well_formed() {
    assert!(alice_config().validate().is_ok());
    for (edit, field) in [
        (
            Box::new(|c: &mut Config| c.display_name = Some("Alice\r\nX-Evil: 1".into()))
                as Box<dyn FnOnce(&mut Config)>,
            "displayName:",
        ),
        (
            Box::new(|c: &mut Config| c.display_name = Some("A\u{7f}".into())),
            "displayName:",
        ),
        (
            Box::new(|c: &mut Config| c.user_agent = Some("app/1\r\nX-Evil: 1".into())),
            "userAgent:",
        ),
        (
            Box::new(|c: &mut Config| c.user_agent = Some("app:1".into())),
            "userAgent:",
        ),
        (
            Box::new(|c: &mut Config| c.user_agent = Some("app/".into())),
            "userAgent:",
        ),
        (
            Box::new(|c: &mut Config| c.user_agent = Some("app (unclosed".into())),
            "userAgent:",
        ),
        (
            Box::new(|c: &mut Config| c.user_agent = Some("  ".into())),
            "userAgent:",
        ),
        (
            Box::new(|c: &mut Config| c.instance_id = Some("urn:uuid:x\";evil=1".into())),
            "instanceId:",
        ),
        (
            Box::new(|c: &mut Config| c.instance_id = Some("f81d4fae-7dec".into())),
            "instanceId:",
        ),
        (
            Box::new(|c: &mut Config| c.instance_id = Some("urn:uuid:a b".into())),
            "instanceId:",
        ),
        (
            Box::new(|c: &mut Config| c.call_id = Some("abc\r\nX-Evil: 1".into())),
            "callId:",
        ),
        (
            Box::new(|c: &mut Config| c.call_id = Some("a b".into())),
            "callId:",
        ),
        (
            Box::new(|c: &mut Config| c.call_id = Some(String::new())),
            "callId:",
        ),
        (
            Box::new(|c: &mut Config| {
                c.extra_headers = vec![("Expires".into(), "60".into())];
            }),
            "extraHeaders: Expires is written by the client itself",
        ),
        (
            Box::new(|c: &mut Config| c.extra_headers = vec![("v".into(), "x".into())]),
            "extraHeaders: Via is written by the client itself",
        ),
        (
            Box::new(|c: &mut Config| {
                c.extra_headers = vec![("X-Token".into(), "a\nEvent: x".into())];
            }),
            "extraHeaders: a header value must be one line",
        ),
        (
            // 16 KiB + 1 written out ("X-Big: " + value + CRLF): every request would
            // carry it, so it is refused here, not by each request later.
            Box::new(|c: &mut Config| {
                c.extra_headers = vec![("X-Big".into(), "a".repeat(16 * 1024 - 8))];
            }),
            "extraHeaders: the list may take at most a quarter of max_frame_size",
        ),
    ] {
        let m = refusal(edit);
        assert!(m.starts_with(field), "{m:?} names {field:?}");
    }
    // Exactly a quarter of the frame limit written out is taken.
    let mut cfg = alice_config();
    cfg.extra_headers = vec![("X-Big".into(), "a".repeat(16 * 1024 - 9))];
    assert!(cfg.validate().is_ok());
}

#[test]
fn usual_values_pass() {
    let mut cfg = alice_config();
    cfg.display_name = Some("Alice \"Al\" O'Neil\\".into());
    cfg.user_agent = Some("Acme-Talk5000/v1.01 (Linux; x86_64 (64-bit)) beta Web/2(x)".into());
    cfg.instance_id = Some("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>".into());
    cfg.call_id = Some("a84b4c76e66710@pc33.atlanta.com".into());
    cfg.extra_headers = vec![
        ("P-Access-Network-Info".into(), "IEEE-802.11".into()),
        ("X-Tenant".into(), "t1".into()),
    ];
    assert_eq!(cfg.validate(), Ok(()));
    cfg.instance_id = Some("urn:gsma:imei:90420156-025763-0".into());
    assert_eq!(cfg.validate(), Ok(()));
}

fn tenant_config() -> Config {
    let mut cfg = alice_config();
    cfg.extra_headers = vec![
        ("P-Access-Network-Info".into(), " IEEE-802.11 ".into()),
        ("X-Tenant".into(), "t1".into()),
    ];
    cfg.validate().unwrap();
    cfg
}

/// The extra header fields of `m`, in order.
fn extras(m: &Message) -> Vec<(String, String)> {
    m.headers()
        .filter(|(n, _)| n.starts_with("X-") || n.starts_with("P-Access"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn tenant() -> Vec<(String, String)> {
    vec![
        ("P-Access-Network-Info".into(), "IEEE-802.11".into()),
        ("X-Tenant".into(), "t1".into()),
    ]
}

#[test]
fn extra_headers_go_on_every_register_publish_subscribe_and_message() {
    let mut h = Harness::new(tenant_config(), FakeCore::with_password("alice-secret"));
    h.core.behaviour.proxy_auth = true;
    let start = h.now;
    let op = h.register();
    h.ok(op);
    // The refresh (by 85 % of 600 s) carries them too.
    h.run_until(start + 511_000);
    let regs = h.sent_requests(Method::Register);
    assert_eq!(regs.len(), 3, "REGISTER, its 401 retry, the refresh");

    let mut e = Entity::new(ALICE);
    e.visibility = Some(true);
    let settings = ServiceSettings {
        entities: vec![e],
        ..Default::default()
    };
    let op = h.ua.publish_settings(h.now, &settings, None);
    h.pump();
    h.ok(op);
    let op = h.ua.fetch_settings(h.now);
    h.pump();
    h.ok(op);
    let options = MessageOptions {
        extra_headers: vec![("X-Conversation".into(), "c-42".into())],
        ..Default::default()
    };
    let op = h.ua.send_message_with(h.now, BOB, b"hi", &options);
    h.pump();
    assert!(matches!(h.ok(op), Outcome::MessageSent { status: 200, .. }));

    for method in [Method::Register, Method::Publish, Method::Subscribe] {
        let sent = h.sent_requests(method.clone());
        assert!(!sent.is_empty(), "{method:?} sent");
        for m in sent {
            assert_eq!(extras(&m), tenant(), "{method:?}");
            assert!(m.validate().is_ok());
        }
    }
    assert!(h.core.proxy_challenges > 0, "a 407 retry among them");
    let messages = h.sent_requests(Method::Message);
    assert!(!messages.is_empty());
    for m in messages {
        let mut want = vec![("X-Conversation".to_owned(), "c-42".to_owned())];
        want.extend(tenant());
        assert_eq!(
            extras(&m),
            want,
            "the message's own first, then the client's"
        );
    }
}

#[test]
fn extra_headers_go_on_our_answers() {
    let mut h = Harness::new(tenant_config(), FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    h.inject(
        "MESSAGE sip:x@a.invalid;transport=ws SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKm1\r\n\
         Max-Forwards: 69\r\nFrom: <sip:bob@imsip.test>;tag=b1\r\nTo: <sip:alice@imsip.test>\r\n\
         Call-ID: m1\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi",
    );
    let ok = h
        .core
        .received
        .iter()
        .find(|m| m.status() == Some(200))
        .expect("the MESSAGE answered");
    assert_eq!(extras(ok), tenant());
}

#[test]
fn unchecked_bad_extra_headers_are_left_out() {
    let mut cfg = alice_config();
    cfg.extra_headers = vec![("X-Ok".into(), "1".into()), ("Via".into(), "x".into())];
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    for m in h.sent_requests(Method::Register) {
        assert!(extras(&m).is_empty(), "none of a list validate refuses");
        assert_eq!(m.headers().filter(|(n, _)| *n == "Via").count(), 1);
    }
}

#[test]
fn a_history_query_with_a_peer_that_is_no_uri_is_bad_input() {
    let mut h = registered();
    for with in ["bob\"", "sip:bob@imsip.test\r\nX: 1", ""] {
        let query = imsip::im::history::HistoryQuery {
            with: Some(with.into()),
            since: None,
            limit: None,
        };
        let op = h.ua.fetch_history(h.now, query);
        h.pump();
        assert!(
            matches!(h.err(op), UaError::BadInput(m) if m.starts_with("query.with:")),
            "{with:?}"
        );
    }
    assert!(h.sent_requests(Method::Subscribe).is_empty());
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Text with the characters that matter here: token and URN characters,
    /// separators, quotes, brackets, backslash, white space, controls, non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::char::range('a', 'z'),
                2 => proptest::sample::select(vec![
                    '/', '(', ')', ':', ';', '"', '<', '>', '\\', ' ', '\t', '@', '-', '.', '%',
                    '=', ',', '\r', '\n', '\0', '\u{7f}', 'é', '✓',
                ]),
            ],
            0..24,
        )
        .prop_map(|c| c.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever the values, `validate` answers (no panic); when it accepts them,
        /// every request of a registration and a MESSAGE parses and validates (the
        /// fake core refuses anything else).
        #[test]
        fn accepted_values_make_well_formed_requests(
            display in proptest::option::of(text()),
            agent in proptest::option::of(text()),
            instance in proptest::option::of(text().prop_map(|t| format!("urn:{t}"))),
            call_id in proptest::option::of(text()),
            header in proptest::option::of((text(), text())),
        ) {
            let mut cfg = alice_config();
            cfg.display_name = display;
            cfg.user_agent = agent;
            cfg.instance_id = instance;
            cfg.call_id = call_id;
            cfg.extra_headers = header.into_iter().collect();
            if cfg.validate().is_ok() {
                let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
                let op = h.register();
                h.ok(op);
                let op = h.ua.send_message(h.now, BOB, b"hi", None);
                h.pump();
                h.ok(op);
                for frame in &h.sent {
                    let m = Message::parse(frame.as_bytes()).expect("parses");
                    prop_assert!(m.validate().is_ok(), "{frame}");
                }
            }
        }
    }
}

#[test]
fn a_registrar_other_than_the_aor_domain_is_the_request_uri_of_every_register() {
    let mut cfg = alice_config();
    cfg.registrar = Some(imsip::message::Uri::parse("sip:registrar.imsip.test").unwrap());
    assert_eq!(cfg.validate(), Ok(()));
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let op = h.ua.unregister(h.now);
    h.pump();
    h.ok(op);
    let registers = h.sent_requests(Method::Register);
    assert!(registers.len() >= 3);
    for m in registers {
        assert!(m
            .to_text()
            .starts_with("REGISTER sip:registrar.imsip.test SIP/2.0\r\n"));
        assert_eq!(
            Harness::header(&m, "To"),
            format!("<{ALICE}>"),
            "the AoR stays in To"
        );
    }
    for bad in [
        "sip:alice@imsip.test",
        "tel:+123",
        "sips:x@registrar.imsip.test",
    ] {
        let mut cfg = alice_config();
        cfg.registrar = Some(imsip::message::Uri::parse(bad).unwrap());
        assert!(
            matches!(cfg.validate(), Err(UaError::BadInput(m)) if m.starts_with("registrar:")),
            "{bad}"
        );
    }
}

#[test]
fn set_extra_headers_changes_what_is_sent_next_and_a_refusal_changes_nothing() {
    let mut h = Harness::new(tenant_config(), FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    h.ua.set_extra_headers(&[("X-Tenant".into(), "t2".into())])
        .unwrap();
    let refused = h.ua.set_extra_headers(&[("Event".into(), "x".into())]);
    assert!(
        matches!(refused, Err(UaError::BadInput(m)) if m.contains("Event is written by the client itself"))
    );
    // A list over a quarter of the frame limit, spread over many headers.
    let many: Vec<(String, String)> = (0..200)
        .map(|i| (format!("X-H{i}"), "v".repeat(80)))
        .collect();
    let refused = h.ua.set_extra_headers(&many);
    assert!(
        matches!(refused, Err(UaError::BadInput(m)) if m.contains("at most a quarter of max_frame_size"))
    );
    let op = h.ua.send_message(h.now, BOB, b"hi", None);
    h.pump();
    h.ok(op);
    let op = h.register();
    h.ok(op);
    let message = h.sent_requests(Method::Message).pop().unwrap();
    let register = h.sent_requests(Method::Register).pop().unwrap();
    for m in [message, register] {
        assert_eq!(extras(&m), [("X-Tenant".to_owned(), "t2".to_owned())]);
    }
}
