//! Property tests of the codecs: the stable-toolchain stand-in for the fuzz targets in
//! `fuzz/` (same invariants: `fuzz/src/checks.rs` is included here).
//!
//! - arbitrary bytes never panic `Message::parse`, `validate` or any typed read, and
//!   whatever parses prints and parses back to the same start line, headers and body;
//! - mutations of real messages (byte flips, truncations, insertions of `\r\n`, `"`,
//!   `<`, `>`, `,`, `;`, `:`, `%`, `\t`, non-ASCII) keep those properties;
//! - generated valid messages (random header sets, compact forms, display names with
//!   quotes and escapes, UTF-8 bodies) round trip through MessageBuilder → text → parse;
//! - generated URIs print back to their text; settings documents never panic the
//!   decoder and generated ones round trip.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/src/checks.rs"]
mod checks;

use imsip::message::{HeaderName, Host, Message, MessageBuilder, Method, Uri};
use imsip::settings::{Entity, History, ServiceSettings};
use proptest::prelude::*;
use proptest::sample::select;
use std::path::PathBuf;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Seed messages: the hostile corpus and the RFC 4475 archive when it is beside us.
fn seeds() -> Vec<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for d in [
        root.join("tests/corpus/hostile"),
        root.join("../shared/corpora/rfc4475"),
    ] {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        for f in files {
            if f.extension().is_some_and(|e| e == "sip" || e == "dat") {
                out.extend(std::fs::read(f).ok());
            }
        }
    }
    assert!(out.len() >= 30, "seed corpus missing");
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, &'static str),
    Delete(usize, usize),
    /// Duplicates the line containing the position (repeated headers).
    DupLine(usize),
}

const INSERTS: &[&str] = &[
    "\r\n",
    "\r",
    "\n",
    "\"",
    "<",
    ">",
    ",",
    ";",
    ":",
    "%",
    "\t",
    " ",
    "\\",
    "=",
    "@",
    "é",
    "\u{1F680}",
    "\r\n ",
    "\r\n\r\n",
    "\u{0}",
    "\u{ff}",
    "[",
    "]",
    "?",
    "%0",
    "\u{2028}",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), select(INSERTS)).prop_map(|(p, s)| Mutation::Insert(p, s)),
        (any::<usize>(), 1usize..40).prop_map(|(p, n)| Mutation::Delete(p, n)),
        any::<usize>().prop_map(Mutation::DupLine),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = b.len().max(1);
        match *m {
            Mutation::Flip(p, x) => {
                if let Some(c) = b.get_mut(p % len) {
                    *c ^= x;
                }
            }
            Mutation::Truncate(p) => b.truncate(p % len),
            Mutation::Insert(p, s) => {
                let at = p % (b.len() + 1);
                b.splice(at..at, s.bytes());
            }
            Mutation::Delete(p, n) => {
                let at = p % len;
                let end = (at + n).min(b.len());
                if at < end {
                    b.drain(at..end);
                }
            }
            Mutation::DupLine(p) => {
                let at = p % len;
                let start = b[..at.min(b.len())]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |i| i + 1);
                let end = b[at.min(b.len())..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |i| at + i + 1);
                let line = b[start..end].to_vec();
                b.splice(start..start, line);
            }
        }
    }
    b
}

// ───────────────────────── generators ─────────────────────────

fn token() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        select(
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~".to_vec(),
        ),
        1..12,
    )
    .prop_map(|v| String::from_utf8(v).expect("ascii"))
}

fn lower_alnum(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        select(b"abcdefghijklmnopqrstuvwxyz0123456789".to_vec()),
        1..max,
    )
    .prop_map(|v| String::from_utf8(v).expect("ascii"))
}

/// Free text for display names and reasons: quotes, backslashes, commas, angle
/// brackets, tabs and non-ASCII.
fn display_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => select(vec!['a', 'Z', '0', ' ', '"', '\\', ',', '<', '>', ';', ':', '\t', '@']),
            1 => select(vec!['é', 'ß', '中', '🚀', 'Ω', '\u{a0}']),
        ],
        0..16,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn host() -> impl Strategy<Value = (String, Host)> {
    prop_oneof![
        (lower_alnum(8), lower_alnum(6)).prop_map(|(a, b)| {
            let n = format!("{a}.{b}");
            (n.clone(), Host::Name(n))
        }),
        any::<[u8; 4]>().prop_map(|o| {
            let a = std::net::Ipv4Addr::from(o);
            (a.to_string(), Host::Ipv4(a))
        }),
        any::<[u16; 8]>().prop_map(|s| {
            let a = std::net::Ipv6Addr::from(s);
            (format!("[{a}]"), Host::Ipv6(a))
        }),
    ]
}

/// User part characters, with `%XX` escapes and `#`.
fn user() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            6 => select(vec![
                "a", "b", "Z", "0", "9", "-", "_", ".", "!", "~", "*", "'", "(", ")", "&", "=",
                "+", "$", ",", ";", "?", "/", "#"
            ])
            .prop_map(str::to_owned),
            1 => any::<u8>().prop_map(|b| format!("%{b:02X}")),
        ],
        1..10,
    )
    .prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
struct GenUri {
    text: String,
    scheme: &'static str,
    user: Option<String>,
    host: Option<Host>,
    port: Option<u16>,
    params: Vec<(String, Option<String>)>,
}

fn uri_param() -> impl Strategy<Value = (String, Option<String>)> {
    (
        select(vec!["transport", "lr", "user", "maddr", "x-y", "gr", "ob"]),
        proptest::option::of(select(vec![
            "ws", "wss", "phone", "1.2.3.4", "a%20b", "[::1]",
        ])),
    )
        .prop_map(|(n, v)| (n.to_owned(), v.map(str::to_owned)))
}

fn sip_uri() -> impl Strategy<Value = GenUri> {
    (
        select(vec!["sip", "sips", "SIP"]),
        proptest::option::of(user()),
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(uri_param(), 0..4),
    )
        .prop_map(|(scheme, user, (htext, host), port, params)| {
            let mut text = format!("{scheme}:");
            if let Some(u) = &user {
                text.push_str(u);
                text.push('@');
            }
            text.push_str(&htext);
            if let Some(p) = port {
                text.push_str(&format!(":{p}"));
            }
            for (n, v) in &params {
                text.push(';');
                text.push_str(n);
                if let Some(v) = v {
                    text.push('=');
                    text.push_str(v);
                }
            }
            GenUri {
                text,
                scheme,
                user,
                host: Some(host),
                port,
                params,
            }
        })
}

fn tel_uri() -> impl Strategy<Value = GenUri> {
    (
        proptest::bool::ANY,
        proptest::collection::vec(
            select(vec!["1", "2", "9", "-", ".", "(", ")", "*", "#"]),
            1..12,
        ),
        proptest::collection::vec(uri_param(), 0..2),
    )
        .prop_map(|(global, digits, params)| {
            let number = format!("{}1{}", if global { "+" } else { "" }, digits.concat());
            let mut text = format!("tel:{number}");
            for (n, v) in &params {
                text.push(';');
                text.push_str(n);
                if let Some(v) = v {
                    text.push('=');
                    text.push_str(v);
                }
            }
            GenUri {
                text,
                scheme: "tel",
                user: Some(number),
                host: None,
                port: None,
                params,
            }
        })
}

/// A header the generated messages may carry, with the name in long or compact form.
fn extra_header() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        (select(vec!["Subject", "s", "subject"]), display_text())
            .prop_map(|(n, v)| (n.to_owned(), v.trim_matches([' ', '\t']).to_owned())),
        (
            select(vec!["Supported", "k"]),
            proptest::collection::vec(token(), 1..4)
        )
            .prop_map(|(n, v)| (n.to_owned(), v.join(", "))),
        (select(vec!["Event", "o"]), token(), token())
            .prop_map(|(n, e, id)| (n.to_owned(), format!("{e};id={id}"))),
        (
            select(vec!["Accept-Contact", "a"]),
            Just("*;+g.oma.sip-im;explicit")
        )
            .prop_map(|(n, v)| (n.to_owned(), v.to_owned())),
        (token(), display_text())
            .prop_map(|(n, v)| (format!("X-{n}"), v.trim_matches([' ', '\t']).to_owned())),
    ]
}

#[derive(Debug, Clone)]
struct GenMessage {
    method: Method,
    ruri: GenUri,
    display: Option<String>,
    from_tag: String,
    call_id: String,
    cseq: u32,
    compact: [bool; 5],
    extras: Vec<(String, String)>,
    body: Option<String>,
}

fn message() -> impl Strategy<Value = GenMessage> {
    (
        select(vec![
            Method::Message,
            Method::Notify,
            Method::Options,
            Method::Publish,
            Method::Other("FOO-BAR".into()),
        ]),
        prop_oneof![3 => sip_uri(), 1 => tel_uri()],
        proptest::option::of(display_text()),
        token(),
        (lower_alnum(20), proptest::option::of(lower_alnum(10))),
        0u32..=0x7fff_ffff,
        any::<[bool; 5]>(),
        proptest::collection::vec(extra_header(), 0..6),
        proptest::option::of(".{0,40}"),
    )
        .prop_map(
            |(
                method,
                ruri,
                display,
                from_tag,
                (cid, cid_host),
                cseq,
                compact,
                mut extras,
                body,
            )| {
                // Event is single-valued: keep the first one only.
                let mut seen = false;
                extras.retain(|(n, _)| {
                    let ev = HeaderName::parse(n) == HeaderName::Event;
                    let keep = !(ev && seen);
                    seen |= ev;
                    keep
                });
                GenMessage {
                    method,
                    ruri,
                    display,
                    from_tag,
                    call_id: match cid_host {
                        Some(h) => format!("{cid}@{h}"),
                        None => cid,
                    },
                    cseq,
                    compact,
                    extras,
                    body,
                }
            },
        )
}

fn build(g: &GenMessage) -> Message {
    let name = |compact: bool, long: &str, short: &str| -> String {
        if compact { short } else { long }.to_owned()
    };
    let uri = Uri::parse(&g.ruri.text).expect("generated URI");
    let mut from = imsip::message::NameAddr::new(Uri::parse("sip:bob@imsip.test").unwrap());
    from.display = g.display.clone();
    from.params.push("tag", Some(&g.from_tag), false);
    let mut b = MessageBuilder::request(g.method.clone(), uri)
        .header(
            name(g.compact[0], "Via", "v").as_str(),
            "SIP/2.0/WSS bob.invalid;branch=z9hG4bKprop;rport",
        )
        .header("Max-Forwards", 70)
        .header(name(g.compact[1], "From", "f").as_str(), &from)
        .header(
            name(g.compact[2], "To", "t").as_str(),
            "<sip:alice@imsip.test>",
        )
        .header(name(g.compact[3], "Call-ID", "i").as_str(), &g.call_id)
        .header("CSeq", format!("{} {}", g.cseq, g.method));
    for (n, v) in &g.extras {
        b = b.header(n.as_str(), v);
    }
    if let Some(body) = &g.body {
        let ct = if g.compact[4] { "c" } else { "Content-Type" };
        b = b.header(ct, "text/plain;charset=UTF-8");
        b = b.body(None, body.as_bytes());
    }
    b.build()
}

// ───────────────────────── settings generator ─────────────────────────

/// Text that XML 1.0 can carry, trimmed (the decoder trims text values).
fn xml_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            6 => select(vec!['a', 'Z', '1', ' ', '<', '>', '&', '"', '\'', ':', '/', '=']),
            1 => select(vec!['\t', '\n', '\r', 'é', '✓', '🚀', '\u{fffd}']),
        ],
        1..20,
    )
    .prop_map(|v| v.into_iter().collect::<String>().trim().to_owned())
    .prop_filter("non-empty", |s| !s.is_empty())
}

fn entity() -> impl Strategy<Value = Entity> {
    (
        prop_oneof![Just("sip:IM-UserA@networkA.net".to_owned()), xml_text()],
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of((any::<bool>(), proptest::option::of(any::<u32>()))),
        proptest::option::of(xml_text()),
        proptest::option::of(xml_text()),
        proptest::option::of(xml_text()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(id, isb, vis, off, hist, sm, plm, sid, active)| {
            let mut e = Entity::new(id);
            e.incoming_session_barring = isb;
            e.visibility = vis;
            e.offline_delivery = off;
            e.history = hist.map(|(active, kind)| History { active, kind });
            e.session_mode = sm;
            e.pager_large_mode = plm;
            e.service_id = sid;
            e.active = active;
            e
        })
}

// ───────────────────────── properties ─────────────────────────

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        checks::check_message(&bytes);
    }

    #[test]
    fn sip_shaped_text_never_panics(
        lines in proptest::collection::vec(
            (select(vec!["Via", "v", "From", "To", "Contact", "m", "Route", "CSeq", "Call-ID",
                "WWW-Authenticate", "Content-Length", "l", "Expires", "Event",
                "Subscription-State", "Accept-Contact", "Max-Forwards", "Date", "Retry-After",
                "P-Associated-URI", "Content-Type", "X-Y"]),
             "[ -~\t]{0,60}"),
            0..12),
        start in select(vec!["MESSAGE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "NOTIFY sip:x SIP/2.0",
            "SIP/2.0 401 Unauthorized", "REGISTER sips:[::1]:5 SIP/2.0"]),
        body in "(.|\r\n){0,40}",
    ) {
        let mut text = format!("{start}\r\n");
        for (n, v) in &lines {
            text.push_str(&format!("{n}: {v}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(&body);
        checks::check_message(text.as_bytes());
    }

    #[test]
    fn mutated_real_messages_never_panic(
        seed in any::<prop::sample::Index>(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        thread_local!(static SEEDS: Vec<Vec<u8>> = seeds());
        let bytes = SEEDS.with(|s| apply(seed.get(s).clone(), &muts));
        checks::check_message(&bytes);
    }

    #[test]
    fn built_messages_round_trip(g in message()) {
        let msg = build(&g);
        let text = msg.to_string();
        let back = Message::parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &msg);
        back.validate().map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back.method(), Some(&g.method));
        prop_assert_eq!(back.request_uri().map(|u| u.as_str()), Some(g.ruri.text.as_str()));
        let from = back.from().unwrap();
        prop_assert_eq!(from.display.as_deref(), g.display.as_deref());
        prop_assert_eq!(from.tag(), Some(g.from_tag.as_str()));
        prop_assert_eq!(back.call_id().unwrap(), g.call_id.as_str());
        prop_assert_eq!(back.cseq().unwrap().seq, g.cseq);
        for (n, v) in &g.extras {
            prop_assert!(back.header_all(n.as_str()).any(|x| x == v), "{} missing in\n{}", n, text);
        }
        let body = g.body.clone().unwrap_or_default();
        prop_assert_eq!(back.body(), body.as_bytes());
        prop_assert_eq!(back.content_length(), Some(body.len()));
        if g.body.is_some() {
            prop_assert!(back.content_type().unwrap().unwrap().is("text/plain"));
        }
        checks::exercise_message(&back);
    }

    #[test]
    fn generated_uris_round_trip(g in prop_oneof![3 => sip_uri(), 1 => tel_uri()]) {
        let u = Uri::parse(&g.text).map_err(|e| TestCaseError::fail(format!("{e}: {}", g.text)))?;
        prop_assert_eq!(u.to_string(), g.text.clone());
        prop_assert_eq!(u.user(), g.user.as_deref());
        prop_assert_eq!(u.host(), g.host.as_ref());
        prop_assert_eq!(u.port(), g.port);
        prop_assert_eq!(u.is_sip(), g.scheme != "tel");
        let params: Vec<(String, Option<String>)> = u
            .params()
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect();
        prop_assert_eq!(params, g.params.clone());
        checks::check_uri(&g.text);
        // Inside a name-addr, as every header carries it.
        let na = imsip::message::NameAddr::parse(&format!("\"x\" <{}>;tag=1", g.text), "To").unwrap();
        prop_assert_eq!(na.uri, u);
    }

    #[test]
    fn arbitrary_uri_text_never_panics(s in "(sips?|tel|[a-z]{1,4}):[ -~]{0,40}") {
        checks::check_uri(&s);
    }

    #[test]
    fn settings_decode_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        text in "(<[a-z:]{0,12}( [a-z:]{1,8}=\"[^\"]{0,8}\")*/?>|</[a-z:-]{0,18}>|[ -~]{0,10}|&[a-z#0-9]{0,5};){0,12}",
    ) {
        checks::check_settings(&bytes);
        let doc = format!(
            "<service-settings xmlns=\"urn:oma:xml:im:service-settings\" xmlns:x=\"urn:x\"><entity id=\"sip:a@b\">{text}</entity></service-settings>"
        );
        checks::check_settings(doc.as_bytes());
        checks::check_settings(text.as_bytes());
    }

    #[test]
    fn generated_settings_round_trip(entities in proptest::collection::vec(entity(), 0..4)) {
        let doc = ServiceSettings { entities, ..Default::default() };
        let text = doc.encode();
        let back = ServiceSettings::decode(text.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back, doc, "{}", text);
    }
}

#[test]
fn header_name_forms_are_equal() {
    // The compact and long forms the generator mixes name the same header.
    for (long, short) in [("Via", "v"), ("From", "f"), ("To", "t"), ("Call-ID", "i")] {
        assert_eq!(HeaderName::parse(long), HeaderName::parse(short));
    }
}
