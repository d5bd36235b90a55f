//! Hostile SIP: odd real-world messages (`tests/corpus/hostile/*.sip`, each with the
//! verdict below) of the kinds JsSIP and SIP.js users reported breaking their parsers,
//! plus regression tests for what the fuzz targets (`fuzz/`) found.
//!
//! Every corpus file must have a row in [`CASES`] and every row a file. Besides its own
//! verdict, each file goes through the fuzz invariants (`fuzz/src/checks.rs`: typed reads,
//! print → reparse) and is fed to a user agent as a frame.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/src/checks.rs"]
mod checks;
#[path = "../fuzz/src/ua_driver.rs"]
mod ua_driver;

use imsip::auth::{decode_nonce, AkaVersion, Challenge, Credentials, Hash, Qop};
use imsip::message::{
    Contacts, FramingError, HeaderError, Host, Message, ParseError, Scheme, ValidationError,
};
use imsip::settings::ServiceSettings;
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile")
}

/// Parses and validates; panics with the error otherwise.
fn valid(b: &[u8]) -> Message {
    let m = Message::parse(b).unwrap_or_else(|e| panic!("parse: {e}"));
    m.validate().unwrap_or_else(|e| panic!("validate: {e}"));
    m
}

/// Parses (the framing holds) but `validate` fails on the header named `name`.
fn bad_header(b: &[u8], name: &str) -> Message {
    let m = Message::parse(b).unwrap_or_else(|e| panic!("parse: {e}"));
    match m.validate() {
        Err(ParseError::Header(HeaderError { name: n, .. })) if n == name => {}
        other => panic!("expected a malformed {name} header, got {other:?}"),
    }
    m
}

fn framing(b: &[u8], want: FramingError) {
    assert_eq!(Message::parse(b).err(), Some(ParseError::Framing(want)));
}

fn password() -> Credentials {
    Credentials::password("alice@imsip.test", "alice-secret")
}

type Check = fn(&[u8]);

/// file → expected verdict.
const CASES: &[(&str, Check)] = &[
    ("01_quoted_comma_display_contacts.sip", |b| {
        let c = valid(b).contact_list().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].display.as_deref(), Some("THOMPSON,ALICIA"));
        assert_eq!(c[0].expires(), Some(300));
        assert_eq!(
            c[1].instance(),
            Some("<urn:uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9>")
        );
        assert_eq!(c[1].reg_id(), Some(1));
    }),
    ("02_hash_in_contact_user.sip", |b| {
        let m = valid(b);
        let c = m.contact_list().unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].uri.user(), Some("PBX#1000#905448737777"));
        assert_eq!(c[1].expires(), Some(2519533));
        assert_eq!(m.supported().unwrap(), ["timer", "path", "replaces"]);
        assert_eq!(m.to().unwrap().display.as_deref(), Some("Ghanshyam K"));
        assert_eq!(m.allow().unwrap().len(), 13);
    }),
    ("03_lowercase_compact_headers.sip", |b| {
        let m = valid(b);
        assert_eq!(m.max_forwards().unwrap(), Some(70));
        assert_eq!(m.call_id().unwrap(), "1234@bob.invalid");
        assert_eq!(m.cseq().unwrap().seq, 7);
        let ct = m.content_type().unwrap().unwrap();
        assert!(ct.is("text/plain"));
        assert_eq!(ct.params.str("charset"), Some("UTF-8"));
        assert_eq!(m.supported().unwrap(), ["path"]);
        assert_eq!(m.accept_contact().unwrap().len(), 1);
        assert_eq!(m.body(), b"hello");
    }),
    ("04_tabs_and_folded_lines.sip", |b| {
        let m = valid(b);
        let via = m.top_via().unwrap();
        assert_eq!(via.branch(), Some("z9hG4bK74b43"));
        assert_eq!(via.transport, "WSS");
        assert_eq!(m.cseq().unwrap().seq, 1);
        assert_eq!(
            m.header("Subject"),
            Some("a folded subject spanning three lines")
        );
        assert_eq!(m.from().unwrap().display.as_deref(), Some("Bob"));
        assert_eq!(m.body(), b"hi");
    }),
    ("05_utf8_body_content_length_in_bytes.sip", |b| {
        let m = valid(b);
        let text = "héllo wörld 👋 你好";
        assert_eq!(m.body_str(), Some(text));
        assert_eq!(m.content_length(), Some(text.len()));
        assert!(text.len() > text.chars().count());
    }),
    ("06_content_length_counts_characters.sip", |b| {
        // A sender that counted characters: Content-Length (5) wins, the rest is ignored.
        let m = valid(b);
        assert_eq!(m.body(), "héll".as_bytes());
    }),
    ("07_two_challenges_one_line.sip", |b| {
        let m = valid(b);
        let ch = m.www_authenticate().unwrap();
        assert_eq!(ch.len(), 2);
        assert_eq!(ch[1].param("nonce"), Some("c3d4"));
        let c = Challenge::choose(&ch, &password()).unwrap();
        assert_eq!((c.algorithm.hash, c.nonce.as_str()), (Hash::Sha256, "a1b2"));
    }),
    ("08_challenges_on_several_lines.sip", |b| {
        let m = valid(b);
        let ch = m.www_authenticate().unwrap();
        assert_eq!(ch.len(), 3);
        assert_eq!(ch[2].scheme, "Bearer");
        let c = Challenge::choose(&ch, &password()).unwrap();
        assert_eq!((c.algorithm.hash, c.nonce.as_str()), (Hash::Sha256, "Sha1"));
        assert_eq!(c.opaque.as_deref(), Some("+GNywA=="));
        // An HA1 only answers MD5: the second line.
        let ha1 = Credentials::ha1("alice", "00112233445566778899aabbccddeeff");
        let c = Challenge::choose(&ch, &ha1).unwrap();
        assert_eq!((c.algorithm.hash, c.nonce.as_str()), (Hash::Md5, "Md5x"));
    }),
    ("09_keepalives_before_message.sip", |b| {
        let m = valid(b);
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.expires().unwrap(), Some(600));
    }),
    ("10_ipv6_via_received.sip", |b| {
        let m = valid(b);
        let v = m.via().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].host, Host::Ipv6("2001:db8::9".parse().unwrap()));
        assert_eq!(v[0].port, Some(443));
        assert_eq!(v[0].received(), Some("2001:db8::1"));
        assert_eq!(v[0].rport(), Some(Some(34314)));
        assert_eq!(v[1].received(), Some("0:0:0:0:0:0:0:1"));
        assert_eq!(v[2].host, Host::Ipv6("::ffff:192.0.2.128".parse().unwrap()));
        assert_eq!(v[2].received(), Some("[2001:db8::2]"));
        let c = m.contact_list().unwrap();
        assert_eq!(c[0].uri.host(), Some(&Host::Ipv6("::1".parse().unwrap())));
        assert_eq!(c[0].uri.port(), Some(8061));
    }),
    ("11_lr_routes.sip", |b| {
        let r = valid(b).route().unwrap();
        assert_eq!(r.len(), 3);
        assert!(r.iter().all(|r| r.uri.params().has("lr")));
        assert_eq!(r[1].uri.params().str("transport"), Some("ws"));
        assert_eq!(r[2].uri.port(), Some(5061));
    }),
    ("12_many_record_routes.sip", |b| {
        let m = valid(b);
        let rr = m.record_route().unwrap();
        assert_eq!(rr.len(), 12);
        assert_eq!(rr[0].uri.user(), Some("rE+E+4LTPqFh9AXAqAuaE8TAqBlcp44="));
        assert_eq!(rr[0].uri.params().str("did"), Some("43e.9161"));
        assert!(rr.iter().all(|r| r.uri.params().has("lr")));
        let to = m.to().unwrap();
        assert_eq!(to.uri.user_decoded().as_deref(), Some("*#9240"));
        assert_eq!(m.contact_list().unwrap()[0].uri.user(), Some("*#9240"));
    }),
    ("13_empty_reason_phrase.sip", |b| {
        assert_eq!(valid(b).reason(), Some(""));
    }),
    ("14_no_space_after_status.sip", |b| {
        // `SIP/2.0 486` without the SP before an empty reason: tolerated.
        let m = valid(b);
        assert_eq!((m.status(), m.reason()), (Some(486), Some("")));
    }),
    ("15_very_long_headers.sip", |b| {
        let m = valid(b);
        assert!(m.header("X-Long").unwrap().len() > 8000);
        assert_eq!(m.call_id().unwrap().len(), 2000 + "@bob.invalid".len());
    }),
    ("16_unknown_odd_headers.sip", |b| {
        let m = valid(b);
        assert_eq!(m.header("X-Empty"), Some(""));
        assert_eq!(m.header("x-weird"), Some(r#"<>"",,;;;==<<"#));
        assert_eq!(m.header("X-UTF8"), Some("Grüße 🚀 «quoted»"));
        assert_eq!(m.header("P-Some_thing!.~"), Some("a"));
        assert_eq!(m.header_all("X-Lower-Dup").count(), 2);
        assert_eq!(m.header("client-id").map(str::len), Some(64));
    }),
    ("17_contact_star.sip", |b| {
        let m = valid(b);
        assert_eq!(m.contacts().unwrap(), Some(Contacts::Star));
        assert_eq!(m.expires().unwrap(), Some(0));
        assert_eq!(m.to().unwrap().uri.user(), Some("alice"));
        assert_eq!(m.from().unwrap().tag(), Some("nhv49uae9s"));
    }),
    ("18_contact_star_mixed.sip", |b| {
        bad_header(b, "Contact");
    }),
    ("19_tel_uris.sip", |b| {
        let m = valid(b);
        let ruri = m.request_uri().unwrap();
        assert_eq!(ruri.scheme(), &Scheme::Tel);
        assert_eq!(ruri.user(), Some("+1-201-555-0123"));
        assert_eq!(ruri.params().str("phone-context"), Some("example.com"));
        assert_eq!(m.from().unwrap().uri.scheme(), &Scheme::Tel);
        assert_eq!(m.to().unwrap().uri.params().str("ext"), Some("22"));
        let pai = m.p_asserted_identity().unwrap();
        assert_eq!(pai.len(), 2);
        assert_eq!(pai[1].uri.params().str("user"), Some("phone"));
    }),
    ("20_sips_uris.sip", |b| {
        let m = valid(b);
        assert_eq!(m.request_uri().unwrap().scheme(), &Scheme::Sips);
        assert_eq!(m.to().unwrap().uri.scheme(), &Scheme::Sips);
    }),
    ("21_max_forwards_zero.sip", |b| {
        assert_eq!(valid(b).max_forwards().unwrap(), Some(0));
    }),
    ("22_max_forwards_256.sip", |b| {
        bad_header(b, "Max-Forwards");
    }),
    ("23_empty_quoted_display_name.sip", |b| {
        let m = valid(b);
        assert_eq!(m.from().unwrap().display.as_deref(), Some(""));
        let to = m.to().unwrap();
        assert_eq!(to.display.as_deref(), Some(""));
        assert_eq!(to.tag(), Some("4adc8bd5d0"));
        assert_eq!(to.params.str("epid"), Some("a22edc020e"));
    }),
    ("24_escaped_quotes_display_name.sip", |b| {
        let from = valid(b).from().unwrap();
        assert_eq!(
            from.display.as_deref(),
            Some(r#"John "The Duke" Wayne \ Jr"#)
        );
        assert_eq!(from.tag(), Some("1"));
    }),
    ("25_angle_brackets_in_display_name.sip", |b| {
        let from = valid(b).from().unwrap();
        assert_eq!(from.display.as_deref(), Some("a <b@c>, d"));
        assert_eq!(from.uri.user(), Some("foo"));
    }),
    ("26_unquoted_comma_display_name.sip", |b| {
        // `Bond, James <...>`: a comma is not a token character; quoting is required.
        bad_header(b, "From");
    }),
    ("27_quoted_comma_in_contact_param.sip", |b| {
        let c = valid(b).contact_list().unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].params.str("language"), Some("en,fr"));
        assert_eq!(
            c[0].params.str("+g.3gpp.icsi-ref"),
            Some("urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel")
        );
        assert!(c[0].params.has("+g.oma.sip-im"));
        assert_eq!(
            c[0].instance(),
            Some("<urn:uuid:d8d542fb-570f-44ea-accb-efb8387408e0>")
        );
    }),
    ("28_quoted_value_inside_uri.sip", |b| {
        // Asterisk topology hiding puts a quoted string inside the URI: the Contact read
        // fails (naming Contact); the rest of the 200 stays usable.
        let m = bad_header(b, "Contact");
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.cseq().unwrap().seq, 2);
        assert!(m.top_via().is_ok());
    }),
    ("29_utf8_display_names.sip", |b| {
        let m = valid(b);
        assert_eq!(m.from().unwrap().display.as_deref(), Some("中文字符"));
        assert_eq!(m.to().unwrap().display.as_deref(), Some("Zoë Ångström"));
        let pai = m.p_asserted_identity().unwrap();
        assert_eq!(pai[0].display.as_deref(), Some("Jürgen 🚀"));
    }),
    ("30_bare_lf_line_ends.sip", |b| {
        assert_eq!(valid(b).body(), b"line one\nline two\n");
    }),
    ("31_no_content_length.sip", |b| {
        let m = valid(b);
        assert_eq!(m.content_length(), None);
        assert_eq!(m.body(), b"the whole rest of the frame");
    }),
    ("32_octets_after_body.sip", |b| {
        assert_eq!(valid(b).body(), b"hello");
    }),
    ("33_negative_content_length.sip", |b| {
        framing(b, FramingError::BadContentLength);
    }),
    ("34_conflicting_content_lengths.sip", |b| {
        framing(b, FramingError::ConflictingContentLength);
    }),
    ("35_no_empty_line.sip", |b| {
        framing(b, FramingError::Incomplete);
    }),
    ("36_sip_version_3.sip", |b| {
        assert_eq!(
            Message::parse(b).err(),
            Some(ParseError::UnsupportedVersion("SIP/3.0".into()))
        );
    }),
    ("37_status_code_099.sip", |b| {
        assert!(matches!(Message::parse(b), Err(ParseError::StartLine(_))));
    }),
    ("38_cseq_method_mismatch.sip", |b| {
        let m = Message::parse(b).unwrap();
        assert_eq!(
            m.validate(),
            Err(ParseError::Validation(ValidationError::CSeqMethodMismatch))
        );
    }),
    ("39_missing_call_id.sip", |b| {
        let m = Message::parse(b).unwrap();
        assert_eq!(
            m.validate(),
            Err(ParseError::Validation(ValidationError::Missing("Call-ID")))
        );
    }),
    ("40_ims_register_200.sip", |b| {
        let m = valid(b);
        assert_eq!(m.path().unwrap().len(), 1);
        let sr = m.service_route().unwrap();
        assert_eq!(sr.len(), 2);
        assert_eq!(sr[0].uri.user(), Some("orig"));
        let pau = m.p_associated_uri().unwrap();
        assert_eq!(pau.len(), 3);
        assert_eq!(pau[1].uri.scheme(), &Scheme::Tel);
        assert_eq!(pau[2].display.as_deref(), Some("Alice"));
        let c = &m.contact_list().unwrap()[0];
        assert_eq!(
            c.pub_gruu(),
            Some("sip:alice@imsip.test;gr=urn:uuid:0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9")
        );
        assert_eq!(c.expires(), Some(3600));
        assert_eq!(m.date().unwrap(), Some("Thu, 21 Feb 2002 13:02:03 GMT"));
        assert_eq!(m.require().unwrap(), ["outbound"]);
    }),
    ("41_notify_terminated_settings.sip", |b| {
        let m = valid(b);
        let ev = m.event().unwrap().unwrap();
        assert_eq!(
            (ev.value.as_str(), ev.id()),
            ("service-settings", Some("7"))
        );
        let ss = m.subscription_state().unwrap().unwrap();
        assert_eq!(ss.value, "terminated");
        assert_eq!(ss.reason(), Some("noresource"));
        assert_eq!(ss.retry_after(), Some(30));
        assert!(m
            .content_type()
            .unwrap()
            .unwrap()
            .is("application/service-settings+xml"));
        let doc = ServiceSettings::decode(m.body()).unwrap();
        let e = doc.for_entity("sip:alice@imsip.test").unwrap();
        assert_eq!(e.incoming_session_barring, Some(true));
        assert_eq!(e.service_id.as_deref(), Some("Ünïcödé ✓"));
    }),
    ("42_space_before_colon.sip", |b| {
        let m = valid(b);
        assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bKsp"));
        assert_eq!(m.cseq().unwrap().seq, 1);
        assert_eq!(m.call_id().unwrap(), "sp@bob.invalid");
        assert_eq!(m.max_forwards().unwrap(), Some(70));
    }),
    ("43_lowercase_sip_version.sip", |b| {
        // SIP-Version is case-insensitive (RFC 3261 §7.1).
        assert_eq!(valid(b).status(), Some(200));
    }),
    ("44_retry_after_comment.sip", |b| {
        let r = valid(b).retry_after().unwrap().unwrap();
        assert_eq!(r.seconds, 120);
        assert_eq!(r.comment.as_deref(), Some("I'm in a meeting"));
        assert_eq!(r.params.str("duration"), Some("3600"));
    }),
    ("45_unquoted_challenge_params.sip", |b| {
        let ch = valid(b).www_authenticate().unwrap();
        let c = Challenge::choose(&ch, &password()).unwrap();
        assert_eq!(c.realm, "imsip.test");
        assert_eq!(c.nonce, "YWJj==");
        assert!(c.stale);
        assert_eq!(c.algorithm.hash, Hash::Md5);
        assert_eq!(c.qop, [Qop::Auth, Qop::AuthInt]);
    }),
    ("46_aka_challenge.sip", |b| {
        let ch = valid(b).www_authenticate().unwrap();
        let c = Challenge::parse(&ch[0]).unwrap();
        assert_eq!(c.algorithm.aka, Some(AkaVersion::V1));
        let n = decode_nonce(&c.nonce).unwrap();
        assert_eq!(n.rand, core::array::from_fn::<u8, 16, _>(|i| i as u8));
        assert!(n.server_data.is_empty());
    }),
    ("47_bare_cr_inside_value.sip", |b| {
        // A bare CR does not end a line: it stays inside the Subject value and never
        // starts a header (no Content-Length injection).
        let m = valid(b);
        assert_eq!(m.header("Subject"), Some("innocent\rContent-Length: 999"));
        assert_eq!(m.header_all("Content-Length").count(), 1);
        assert_eq!(m.body(), b"ok");
    }),
    ("48_double_crlf_keepalive_only.sip", |b| {
        // The UA treats such a frame as a keep-alive before parsing; the codec says Empty.
        framing(b, FramingError::Empty);
    }),
    ("49_garbage_in_contact_list.sip", |b| {
        // FreeSWITCH appended `Date:Thu, 24 May ...` inside the Contact list.
        let m = bad_header(b, "Contact");
        assert_eq!(m.status(), Some(200));
    }),
    ("50_publish_200_etag.sip", |b| {
        let m = valid(b);
        assert_eq!(m.sip_etag().unwrap().as_deref(), Some("dx200xyz"));
        assert_eq!(m.expires().unwrap(), Some(3600));
    }),
    ("51_accept_contact_forms.sip", |b| {
        let ac = valid(b).accept_contact().unwrap();
        assert_eq!(ac.len(), 2);
        assert!(["+g.oma.sip-im", "require", "explicit"]
            .iter()
            .all(|p| ac[0].params.has(p)));
        assert_eq!(
            ac[1].params.str("+g.3gpp.icsi-ref"),
            Some("urn%3Aurn-7%3A3gpp-service.ims.icsi.oma.cpm.msg")
        );
    }),
    ("52_via_without_branch.sip", |b| {
        // RFC 2543 peers: no branch. Readable; the UA simply matches no transaction.
        assert_eq!(valid(b).top_via().unwrap().branch(), None);
    }),
    ("53_sws_in_via_sent_protocol.sip", |b| {
        // SLASH, SEMI and EQUAL allow white space around them (RFC 3261 §25.1).
        let v = valid(b).top_via().unwrap();
        assert_eq!(v.transport, "WSS");
        assert_eq!(v.branch(), Some("z9hG4bKsws"));
        assert_eq!(v.rport(), Some(Some(50123)));
    }),
    ("54_header_injection_in_quoted_display.sip", |b| {
        // A folded line inside a quoted display name is part of the name, not a header.
        let m = valid(b);
        assert_eq!(
            m.from().unwrap().display.as_deref(),
            Some("Mallory To: <sip:evil@example.com>")
        );
        assert_eq!(m.header_all("To").count(), 1);
        assert_eq!(m.to().unwrap().uri.user(), Some("alice"));
    }),
];

#[test]
fn every_hostile_message_gets_its_verdict() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/corpus/hostile")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".sip"))
        .collect();
    files.sort();
    let names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
    assert_eq!(files, names, "corpus files and CASES rows differ");
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for (name, check) in CASES {
        let bytes = std::fs::read(dir().join(name)).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| {
            check(&bytes);
            checks::check_message(&bytes);
        });
        if let Err(e) = outcome {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{name}: {msg}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Each hostile message as a frame to a registered-looking user agent, in turn: no
/// panic, every frame it answers with parses.
#[test]
fn user_agent_survives_every_hostile_frame() {
    use ua_driver::{Driver, Step};
    let mut d = Driver::new(7, 0);
    d.step(&Step::Register);
    d.step(&Step::Connected);
    for (name, _) in CASES {
        let bytes = std::fs::read(dir().join(name)).expect("corpus file");
        d.step(&Step::Raw(String::from_utf8_lossy(&bytes).into_owned()));
    }
    d.finish();
}

// ───────────────────────── fuzz regressions ─────────────────────────

/// Found by the `settings` fuzz target: an unknown element that needs both an enclosing
/// `xmlns:x` (declared on `<entity>`, whose own attributes are preserved) and
/// `xmlns=""` comes back from encode → decode with its two declarations swapped, so
/// `decode(encode(x)) != x` although both documents mean the same. The encoded text
/// itself is a fixpoint.
#[test]
fn settings_namespace_declaration_order_is_stable() {
    let doc = br#"<ss:service-settings xmlns:ss="urn:oma:xml:im:service-settings" xmlns:x="urn:x"><ss:entity id="sip:a@b" x:z="1"><x:note><b/></x:note></ss:entity></ss:service-settings>"#;
    let first = ServiceSettings::decode(doc).unwrap();
    let text = first.encode();
    let second = ServiceSettings::decode(text.as_bytes()).unwrap();
    assert_eq!(second.encode(), text, "the text is a fixpoint");
    assert_eq!(second, first);
}

/// Found by the `settings` fuzz target: names that are not namespace-well-formed
/// (`<:a>`, `xmlns:=""`, an attribute `1x:a`) were accepted by the decoder (the XML
/// reader then did not check names) and then did not survive a round trip: `xmlns:` is dropped on
/// encode. The README promises typed errors for malformed XML.
#[test]
fn settings_rejects_names_that_are_not_qnames() {
    for doc in [
        &br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="a"><:unknown/></entity></service-settings>"#[..],
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings" xmlns:="urn:x"><entity id="a"/></service-settings>"#,
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings" 1x:a="1"><entity id="a"/></service-settings>"#,
    ] {
        let r = ServiceSettings::decode(doc);
        assert!(
            r.is_err(),
            "{} decoded as {r:?}",
            String::from_utf8_lossy(doc)
        );
    }
}

/// Found by the `settings` fuzz target (twice): an unknown element that redeclares the
/// namespace already in force (`<foo xmlns="urn:oma:xml:im:service-settings"/>` in
/// `<entity>`, or nested in a known element such as `<service-id>`) keeps its `xmlns`
/// attribute on decode, the encoder drops the redundant declaration, and the second
/// decode has none: `decode(encode(x)) != x` (the encoded text is a fixpoint). The
/// fuzzer's inputs are the last two documents, as found.
#[test]
fn settings_redundant_namespace_declaration_survives_round_trip() {
    for doc in [
        &br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="a"><foo xmlns="urn:oma:xml:im:service-settings"/></entity></service-settings>"#[..],
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="a"><service-id>x<b xmlns="urn:oma:xml:im:service-settings"/></service-id></entity></service-settings>"#,
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="/>a&#x20;b"><session-mode><![CDATA[ en<abled ]]></session-mode><service-id>  x&#13;<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="/>a&#x20;b"><session-mode><![CDATA[ en<abled ]]></session-mode><service-id>  x&#13;y' </service-id></entity></service-settings>y' </service-id></entity></service-settings>"#,
        br#"<??><service-settings xmlns="urn:oma:xml:im:service-settings"><entity id=""><service-settings xmlns="urn:oma:xml:im:service-settings"><entity d=""><isb-settings></isb-settings></entity></service-settings><active>true</active></entity></service-settings>"#,
    ] {
        let first = ServiceSettings::decode(doc).unwrap();
        let text = first.encode();
        let second = ServiceSettings::decode(text.as_bytes()).unwrap();
        assert_eq!(second.encode(), text, "the text is a fixpoint");
        assert_eq!(second, first, "{text}");
    }
}
