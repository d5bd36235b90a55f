//! The `message/cpim` codec (imsip::im::cpim, RFC 3862): the RFC 3862 §6 and RFC 5438
//! examples as known answers, builder → encode → decode round trips, namespace
//! resolution, every error variant, and properties (no panic on any bytes; what
//! decodes encodes back to itself; generated messages round trip with their typed
//! values). The property `check` below is the one `fuzz/fuzz_targets/cpim.rs` runs.
#![cfg(not(target_arch = "wasm32"))]

use imsip::im::cpim::{
    escape, parse_date_time, unescape, CpimAddress, CpimError, CpimMessage, CpimPart,
    CPIM_HEADERS_NS, MAX_HEADER_BYTES,
};
use proptest::prelude::*;
use proptest::sample::select;

const IMDN: &str = "urn:ietf:params:imdn";

fn decode(s: &str) -> Result<CpimMessage, CpimError> {
    CpimMessage::decode(s.as_bytes())
}

// ───────────────────────── known answers ─────────────────────────

/// RFC 3862 §6, the example message (its `h:`/`e:` lines), re-typed with CRLF.
const RFC3862_EXAMPLE: &str = concat!(
    "From: MR SANDERS <im:piglet@100akerwood.com>\r\n",
    "To: Depressed Donkey <im:eeyore@100akerwood.com>\r\n",
    "DateTime: 2000-12-13T13:40:00-08:00\r\n",
    "Subject: the weather will be fine today\r\n",
    "Subject:;lang=fr beau temps prevu pour aujourd'hui\r\n",
    "NS: MyFeatures <mid:MessageFeatures@id.foo.com>\r\n",
    "Require: MyFeatures.VitalMessageOption\r\n",
    "MyFeatures.VitalMessageOption: Confirmation-requested\r\n",
    "MyFeatures.WackyMessageOption: Use-silly-font\r\n",
    "\r\n",
    "Content-type: text/xml; charset=utf-8\r\n",
    "Content-ID: <1234567890@foo.com>\r\n",
    "\r\n",
    "<body>\r\n",
    "Here is the text of my message.\r\n",
    "</body>\r\n",
);

#[test]
fn rfc3862_example_reads_field_by_field() {
    let m = decode(RFC3862_EXAMPLE).unwrap();
    let from = m.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("MR SANDERS"));
    assert_eq!(from.uri, "im:piglet@100akerwood.com");
    assert_eq!(
        m.to(),
        Some(CpimAddress::new("im:eeyore@100akerwood.com").with_display("Depressed Donkey"))
    );
    assert_eq!(m.cc(), []);
    // 13:40 at UTC-8 is 21:40 UTC.
    assert_eq!(m.date_time(), Some(976_743_600));
    assert_eq!(
        m.subject().as_deref(),
        Some("the weather will be fine today")
    );
    let subjects: Vec<(Option<&str>, String)> = m
        .subjects()
        .into_iter()
        .map(|(l, t)| (l, t.into_owned()))
        .collect();
    assert_eq!(
        subjects,
        [
            (None, "the weather will be fine today".to_owned()),
            (Some("fr"), "beau temps prevu pour aujourd'hui".to_owned()),
        ]
    );
    assert_eq!(
        m.namespaces(),
        [(Some("MyFeatures"), "mid:MessageFeatures@id.foo.com")]
    );
    assert_eq!(m.require(), ["MyFeatures.VitalMessageOption"]);
    let features = "mid:MessageFeatures@id.foo.com";
    assert_eq!(
        m.header(features, "VitalMessageOption").as_deref(),
        Some("Confirmation-requested")
    );
    assert_eq!(
        m.header(features, "WackyMessageOption").as_deref(),
        Some("Use-silly-font")
    );
    assert_eq!(m.header(features, "From"), None);
    assert_eq!(
        m.header(CPIM_HEADERS_NS, "From").as_deref(),
        Some("MR SANDERS <im:piglet@100akerwood.com>")
    );
    let names: Vec<&str> = m.headers().iter().map(|h| h.name()).collect();
    assert_eq!(names.len(), 9);
    assert_eq!(m.headers()[8].prefix(), Some("MyFeatures"));
    assert_eq!(m.headers()[8].local_name(), "WackyMessageOption");
    // The encapsulated object: MIME header names are case-insensitive.
    assert_eq!(m.content_type(), "text/xml; charset=utf-8");
    assert_eq!(m.media_type().unwrap().essence(), "text/xml");
    assert_eq!(m.content_header("content-id"), Some("<1234567890@foo.com>"));
    assert_eq!(
        m.body_str(),
        Some("<body>\r\nHere is the text of my message.\r\n</body>\r\n")
    );
    // Written as received (CRLF, one space after each colon): the same bytes.
    assert_eq!(m.encode(), RFC3862_EXAMPLE.as_bytes());
}

/// RFC 5438 §7.1.1.1-style IMDN request (its CPIM part, re-typed; the inner
/// Content-Length counts this body's bytes).
const RFC5438_REQUEST: &str = concat!(
    "From: Alice <im:alice@example.com>\r\n",
    "To: Bob <im:bob@example.com>\r\n",
    "NS: imdn <urn:ietf:params:imdn>\r\n",
    "imdn.Message-ID: 34jk324j\r\n",
    "DateTime: 2006-04-04T12:16:49-05:00\r\n",
    "imdn.Disposition-Notification: positive-delivery, display\r\n",
    "\r\n",
    "Content-type: text/plain\r\n",
    "Content-length: 11\r\n",
    "\r\n",
    "Hello World",
);

#[test]
fn rfc5438_imdn_request_resolves_the_imdn_namespace() {
    let m = decode(RFC5438_REQUEST).unwrap();
    assert_eq!(
        m.from(),
        Some(CpimAddress::new("im:alice@example.com").with_display("Alice"))
    );
    assert_eq!(m.to().unwrap().uri, "im:bob@example.com");
    assert_eq!(m.namespaces(), [(Some("imdn"), IMDN)]);
    assert_eq!(m.header(IMDN, "Message-ID").as_deref(), Some("34jk324j"));
    assert_eq!(
        m.header(IMDN, "Disposition-Notification").as_deref(),
        Some("positive-delivery, display")
    );
    // 12:16:49 at UTC-5 is 17:16:49 UTC.
    assert_eq!(m.date_time(), Some(1_144_171_009));
    assert_eq!(m.content_type(), "text/plain");
    assert_eq!(m.body(), b"Hello World");
    assert_eq!(m.encode(), RFC5438_REQUEST.as_bytes());

    // Whatever prefix the sender chose, and with bare LF line ends.
    let other = RFC5438_REQUEST
        .replace("NS: imdn", "NS: x")
        .replace("imdn.", "x.")
        .replace("\r\n", "\n");
    let m2 = decode(&other).unwrap();
    assert_eq!(m2.header(IMDN, "Message-ID").as_deref(), Some("34jk324j"));
    assert_eq!(
        m2.header(IMDN, "Disposition-Notification").as_deref(),
        Some("positive-delivery, display")
    );
    assert_eq!(m2.body(), b"Hello World");
    // Written back with CRLF.
    assert!(m2.encode().windows(2).any(|w| w == b"\r\n"));
    assert_eq!(CpimMessage::decode(&m2.encode()).unwrap(), m2);
}

#[test]
fn the_builder_writes_an_imdn_request_like_rfc5438() {
    let bytes = CpimMessage::new(
        CpimAddress::new("im:alice@example.com").with_display("Alice"),
        CpimAddress::new("im:bob@example.com").with_display("Bob"),
        "text/plain",
        "Hello World",
    )
    .date_time(1_144_171_009)
    .namespaced("imdn", IMDN, "Message-ID", "34jk324j")
    .namespaced(
        "imdn",
        IMDN,
        "Disposition-Notification",
        "positive-delivery, display",
    )
    .encode()
    .unwrap();
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        concat!(
            "From: \"Alice\" <im:alice@example.com>\r\n",
            "To: \"Bob\" <im:bob@example.com>\r\n",
            "DateTime: 2006-04-04T17:16:49Z\r\n",
            "NS: imdn <urn:ietf:params:imdn>\r\n",
            "imdn.Message-ID: 34jk324j\r\n",
            "imdn.Disposition-Notification: positive-delivery, display\r\n",
            "\r\n",
            "Content-Type: text/plain\r\n",
            "Content-Length: 11\r\n",
            "\r\n",
            "Hello World",
        )
    );
}

// ───────────────────────── round trips ─────────────────────────

#[test]
fn built_messages_round_trip_with_their_typed_values() {
    let body = "héllo \u{1F680}\r\n\0bytes".as_bytes().to_vec();
    let built = CpimMessage::new(
        CpimAddress::new("sip:alice@imsip.test").with_display("Alice \"A\" \\ Ünïcode\t"),
        "tel:+33612345678",
        "text/plain;charset=UTF-8",
        body.clone(),
    )
    .cc(CpimAddress::new("sip:carol@imsip.test").with_display(""))
    .cc("sip:dave@imsip.test")
    .date_time(1_795_993_500)
    .subject("line one\r\nline two \\ with a backslash")
    .subject_lang("fr", " ;-) été")
    .namespaced("imdn", IMDN, "Message-ID", "7kQ2s9")
    .namespaced("my", "urn:x-imsip:test", "Note", "ctl \u{1b} and \u{7f}")
    .namespaced("imdn", IMDN, "Disposition-Notification", "display")
    .content_header("Content-Disposition", "notification")
    .build()
    .unwrap();
    let bytes = built.encode();
    let back = CpimMessage::decode(&bytes).unwrap();
    assert_eq!(back, built);
    assert_eq!(back.encode(), bytes);

    assert_eq!(
        back.from().unwrap().display.as_deref(),
        Some("Alice \"A\" \\ Ünïcode\t")
    );
    assert_eq!(back.to(), Some(CpimAddress::new("tel:+33612345678")));
    assert_eq!(
        back.cc(),
        [
            CpimAddress::new("sip:carol@imsip.test").with_display(""),
            CpimAddress::new("sip:dave@imsip.test"),
        ]
    );
    assert_eq!(back.date_time(), Some(1_795_993_500));
    assert_eq!(
        back.subject().as_deref(),
        Some("line one\r\nline two \\ with a backslash")
    );
    assert_eq!(back.subjects()[1].0, Some("fr"));
    assert_eq!(back.subjects()[1].1, " ;-) été");
    assert_eq!(
        back.namespaces(),
        [(Some("imdn"), IMDN), (Some("my"), "urn:x-imsip:test")]
    );
    assert_eq!(back.header(IMDN, "Message-ID").as_deref(), Some("7kQ2s9"));
    assert_eq!(
        back.header(IMDN, "Disposition-Notification").as_deref(),
        Some("display")
    );
    assert_eq!(
        back.header("urn:x-imsip:test", "Note").as_deref(),
        Some("ctl \u{1b} and \u{7f}")
    );
    assert_eq!(
        back.content_header("Content-Disposition"),
        Some("notification")
    );
    // Content-Length counts bytes, not characters.
    assert_eq!(
        back.content_header("Content-Length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(back.body(), body);
    // No raw control character reached the header section.
    let head_len = bytes.len() - body.len();
    let head = &bytes[..head_len];
    assert!(!head
        .iter()
        .any(|&b| (b < b' ' && b != b'\r' && b != b'\n') || b == 0x7f));
}

#[test]
fn escapes_are_kept_on_the_wire_and_decoded_by_typed_reads() {
    let m = decode(
        "Subject: caf\\u00e9 \\\"quoted\\\" \\\\ \\n\r\nFrom: \"Jo \\\"J\\\" \\u00c9\" <sip:jo@x>\r\n\r\nContent-Type: text/plain\r\n\r\n",
    )
    .unwrap();
    assert_eq!(m.headers()[0].value(), "caf\\u00e9 \\\"quoted\\\" \\\\ \\n");
    assert_eq!(m.subject().as_deref(), Some("café \"quoted\" \\ \n"));
    assert_eq!(m.from().unwrap().display.as_deref(), Some("Jo \"J\" É"));
    assert_eq!(escape("a\\b\nc"), "a\\\\b\\nc");
    assert_eq!(unescape("a\\\\b\\nc"), "a\\b\nc");
}

// ───────────────────────── reading choices ─────────────────────────

#[test]
fn an_undeclared_prefix_is_kept_but_not_resolved() {
    let text = "From: <sip:a@x>\r\nfoo.Bar: 1\r\nNS: imdn <urn:ietf:params:imdn>\r\n\r\nContent-Type: text/plain\r\n\r\nhi";
    let m = decode(text).unwrap();
    assert_eq!(m.headers()[1].name(), "foo.Bar");
    assert_eq!(m.headers()[1].prefix(), Some("foo"));
    assert_eq!(
        m.header_namespaces(),
        [Some(CPIM_HEADERS_NS), None, Some(CPIM_HEADERS_NS)]
    );
    assert_eq!(m.header(IMDN, "Bar"), None);
    assert_eq!(m.header(CPIM_HEADERS_NS, "Bar"), None);
    assert_eq!(m.header(CPIM_HEADERS_NS, "foo.Bar"), None);
    // Written back untouched.
    assert_eq!(m.encode(), text.as_bytes());
}

#[test]
fn a_prefix_resolves_through_the_nearest_declaration_before_it_else_the_first_after() {
    let m = decode(concat!(
        "a.X: early\r\n",
        "NS: a <urn:one>\r\n",
        "a.X: one\r\n",
        "NS: a <urn:two>\r\n",
        "a.X: two\r\n",
        "NS: a <urn:three>\r\n",
        "\r\n",
        "Content-Type: text/plain\r\n",
        "\r\n",
    ))
    .unwrap();
    let ns = m.header_namespaces();
    assert_eq!(
        [ns[0], ns[2], ns[4]],
        [Some("urn:one"), Some("urn:one"), Some("urn:two")]
    );
    assert_eq!(m.header("urn:one", "X").as_deref(), Some("early"));
    assert_eq!(m.header("URN:TWO", "X").as_deref(), Some("two"));
    assert_eq!(m.header("urn:three", "X"), None);
}

#[test]
fn the_default_namespace_can_move_and_names_are_case_sensitive() {
    let m = decode(concat!(
        "from: <sip:lower@x>\r\n",
        "NS: <urn:elsewhere>\r\n",
        "From: <sip:moved@x>\r\n",
        "\r\n",
        "CONTENT-TYPE: text/plain\r\n",
        "\r\n",
    ))
    .unwrap();
    // `from` is not `From` (RFC 3862 §3.1), and the `From` after `NS: <urn>` is in
    // the new default namespace, not RFC 3862's.
    assert_eq!(m.from(), None);
    assert_eq!(
        m.header("urn:elsewhere", "From").as_deref(),
        Some("<sip:moved@x>")
    );
    assert_eq!(m.namespaces(), [(None, "urn:elsewhere")]);
    assert_eq!(m.content_type(), "text/plain");
}

#[test]
fn odd_values_read_as_none_and_never_fail_the_message() {
    let m = decode(concat!(
        "From: no angle brackets here\r\n",
        "To: Bob <sip:bob@x\r\n",
        "DateTime: yesterday\r\n",
        "NS: broken\r\n",
        "Require: , ,\r\n",
        "Subject:;lang\r\n",
        "\r\n",
        "Content-Type: not a type\r\n",
        "\r\n",
        "body",
    ))
    .unwrap();
    assert_eq!(m.from(), None);
    assert_eq!(m.to(), None);
    assert_eq!(m.date_time(), None);
    assert_eq!(m.namespaces(), []);
    assert!(m.require().is_empty());
    assert_eq!(m.subject().as_deref(), Some(";lang"));
    assert!(m.media_type().is_err());
    assert_eq!(m.body(), b"body");
}

#[test]
fn content_length_counts_bytes_and_bounds_the_body() {
    // "héllo" is 6 bytes; a trailing CRLF after it is not body.
    let m = decode(
        "From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhéllo\r\n",
    )
    .unwrap();
    assert_eq!(m.body_str(), Some("héllo"));
    // Without Content-Length the body is the rest.
    let m = decode("From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\n\r\nhéllo\r\n").unwrap();
    assert_eq!(m.body_str(), Some("héllo\r\n"));
    // The limit is on headers only: a large body is fine.
    let big = format!(
        "From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\n\r\n{}",
        "x".repeat(4 * MAX_HEADER_BYTES)
    );
    assert_eq!(decode(&big).unwrap().body().len(), 4 * MAX_HEADER_BYTES);
}

#[test]
fn folded_mime_headers_are_joined_and_sections_may_be_empty() {
    let m = decode("\r\nContent-Type: text/plain;\r\n\tcharset=UTF-8\r\n\r\nhi").unwrap();
    assert!(m.headers().is_empty());
    assert_eq!(m.content_type(), "text/plain; charset=UTF-8");
    assert_eq!(m.media_type().unwrap().params.str("charset"), Some("UTF-8"));
    assert_eq!(CpimMessage::decode(&m.encode()).unwrap(), m);
}

#[test]
fn date_times_in_any_offset() {
    assert_eq!(
        parse_date_time("2006-04-04T12:16:49-05:00"),
        Some(1_144_171_009)
    );
    assert_eq!(
        parse_date_time("2006-04-04T22:46:49.123+05:30"),
        Some(1_144_171_009)
    );
    assert_eq!(parse_date_time("2006-04-04T17:16:49Z"), Some(1_144_171_009));
    assert_eq!(parse_date_time("2006-04-04T17:16:49"), None);
}

// ───────────────────────── errors ─────────────────────────

fn err(s: &[u8]) -> CpimError {
    match CpimMessage::decode(s) {
        Ok(m) => panic!("decoded {m:?}"),
        Err(e) => e,
    }
}

fn invalid(r: Result<CpimMessage, CpimError>) -> (&'static str, String) {
    match r {
        Err(e @ CpimError::Invalid { header, .. }) => (header, e.to_string()),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn every_decode_error_is_typed_and_named() {
    use CpimPart::{Content, Message};
    let cases: Vec<(Vec<u8>, CpimError)> = vec![
        (b"".to_vec(), CpimError::MissingBlankLine(Message)),
        (
            b"From: <sip:a@x>\r\nTo: <sip:b@x>".to_vec(),
            CpimError::MissingBlankLine(Message),
        ),
        (
            b"From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\nhello".to_vec(),
            CpimError::MissingBlankLine(Content),
        ),
        (
            b"From: <sip:a@x>\r\nTo: \xff\xfe\r\n\r\nContent-Type: text/plain\r\n\r\n".to_vec(),
            CpimError::NotUtf8 {
                part: Message,
                line: 2,
            },
        ),
        (
            b"From: <sip:a@x>\r\n\r\nContent-Type: text/\xc3\r\n\r\n".to_vec(),
            CpimError::NotUtf8 {
                part: Content,
                line: 1,
            },
        ),
        (
            b"Hello, this is not CPIM\r\n\r\n".to_vec(),
            CpimError::MissingColon {
                part: Message,
                line: 1,
            },
        ),
        (
            b"From: <sip:a@x>\r\n\r\nContent-Type: text/plain\r\ngarbage\r\n\r\n".to_vec(),
            CpimError::MissingColon {
                part: Content,
                line: 2,
            },
        ),
        (
            b"From: <sip:a@x>\r\nFr om: x\r\n\r\n".to_vec(),
            CpimError::BadHeaderName {
                part: Message,
                line: 2,
            },
        ),
        (
            "Fröm: x\r\n\r\n".as_bytes().to_vec(),
            CpimError::BadHeaderName {
                part: Message,
                line: 1,
            },
        ),
        (
            b": no name\r\n\r\n".to_vec(),
            CpimError::BadHeaderName {
                part: Message,
                line: 1,
            },
        ),
        (
            b"From: <sip:a@x>\r\n\r\n continued: from nothing\r\n\r\n".to_vec(),
            CpimError::BadHeaderName {
                part: Content,
                line: 1,
            },
        ),
        (
            b"From: <sip:a@x>\r\n\r\nContent-ID: <1@x>\r\n\r\nbody".to_vec(),
            CpimError::MissingContentType,
        ),
        (b"\r\n\r\n".to_vec(), CpimError::MissingContentType),
        (
            b"\r\nContent-Type: text/plain\r\nContent-Length: 12a\r\n\r\nbody".to_vec(),
            CpimError::BadContentLength,
        ),
        (
            b"\r\nContent-Type: text/plain\r\nContent-Length: -1\r\n\r\nbody".to_vec(),
            CpimError::BadContentLength,
        ),
        (
            b"\r\nContent-Type: text/plain\r\nContent-Length: 99999999999999999999999\r\n\r\n"
                .to_vec(),
            CpimError::BadContentLength,
        ),
        (
            b"\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\nhello".to_vec(),
            CpimError::ContentLengthTooLarge {
                declared: 20,
                available: 5,
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(err(&input), want, "{:?}", String::from_utf8_lossy(&input));
    }
}

#[test]
fn headers_beyond_64_kib_are_refused_in_either_section() {
    let line = format!("X-Filler: {}\r\n", "y".repeat(100));
    let many = line.repeat(MAX_HEADER_BYTES / line.len() + 1);
    // In the message headers, blank line or not.
    for input in [
        many.clone(),
        format!("{many}\r\nContent-Type: text/plain\r\n\r\n"),
    ] {
        assert_eq!(
            err(input.as_bytes()),
            CpimError::HeadersTooLarge {
                part: CpimPart::Message,
                max: MAX_HEADER_BYTES
            }
        );
    }
    // One line longer than the limit.
    let long = format!("Subject: {}\r\n\r\n", "z".repeat(MAX_HEADER_BYTES));
    assert!(matches!(
        err(long.as_bytes()),
        CpimError::HeadersTooLarge { .. }
    ));
    // Split between the two sections.
    let half = line.repeat(MAX_HEADER_BYTES / line.len() / 2 + 1);
    let input = format!("{half}\r\nContent-Type: text/plain\r\n{half}\r\nbody");
    assert_eq!(
        err(input.as_bytes()),
        CpimError::HeadersTooLarge {
            part: CpimPart::Content,
            max: MAX_HEADER_BYTES
        }
    );
    // Just under the limit is fine.
    let under = line.repeat((MAX_HEADER_BYTES - 64) / line.len());
    let input = format!("{under}\r\nContent-Type: text/plain\r\n\r\nbody");
    assert!(input.len() - 4 <= MAX_HEADER_BYTES);
    assert_eq!(decode(&input).unwrap().body(), b"body");
}

#[test]
fn the_builder_refuses_what_it_cannot_write() {
    let new = |from: &str, to: &str, ct: &str| CpimMessage::new(from, to, ct, "x");
    let ok = || new("sip:a@x", "sip:b@x", "text/plain");
    let cases: Vec<(Result<CpimMessage, CpimError>, &str)> = vec![
        (new("sip:a @x", "sip:b@x", "text/plain").build(), "From"),
        (new("sip:a@x", "", "text/plain").build(), "To"),
        (new("sip:a@x", "sip:b@x>", "text/plain").build(), "To"),
        (new("sip:a@x", "sip:b@x", "text").build(), "Content-Type"),
        (
            new("sip:a@x", "sip:b@x", "text/plain\r\nX: y").build(),
            "Content-Type",
        ),
        (ok().cc("<sip:c@x>").build(), "cc"),
        (ok().subject_lang("f r", "x").build(), "Subject"),
        (
            ok().namespaced("a.b", "urn:x", "N", "v").build(),
            "namespaced",
        ),
        (ok().namespaced("a", "urn:x", "", "v").build(), "namespaced"),
        (ok().namespaced("a", "urn: x", "N", "v").build(), "NS"),
        (
            ok().namespaced("a", "urn:x", "N", "v")
                .namespaced("a", "urn:y", "M", "v")
                .build(),
            "NS",
        ),
        (
            ok().content_header("Content-Length", "1").build(),
            "content",
        ),
        (
            ok().content_header("content-type", "text/html").build(),
            "content",
        ),
        (
            ok().content_header("Content-ID", "a\r\nb").build(),
            "content",
        ),
        (ok().content_header("Bad Name", "v").build(), "content"),
    ];
    for (i, (r, header)) in cases.into_iter().enumerate() {
        let (h, text) = invalid(r);
        assert_eq!(h, header, "case {i}");
        assert!(text.contains(header), "case {i}: {text}");
    }
    // The first refusal wins; encode reports it too.
    let e = new("", "", "text")
        .namespaced("a.b", "urn:x", "N", "v")
        .encode()
        .unwrap_err();
    assert!(matches!(e, CpimError::Invalid { header: "From", .. }));
    // A prefix reused for the same URN is declared once.
    let m = ok()
        .namespaced("a", "urn:x", "N", "1")
        .namespaced("a", "urn:x", "M", "2")
        .build()
        .unwrap();
    assert_eq!(m.namespaces(), [(Some("a"), "urn:x")]);
}

#[test]
fn errors_display_the_part_or_the_header() {
    let shown = [
        CpimError::MissingBlankLine(CpimPart::Message).to_string(),
        CpimError::MissingBlankLine(CpimPart::Content).to_string(),
        CpimError::HeadersTooLarge {
            part: CpimPart::Message,
            max: MAX_HEADER_BYTES,
        }
        .to_string(),
        CpimError::NotUtf8 {
            part: CpimPart::Content,
            line: 3,
        }
        .to_string(),
        CpimError::MissingColon {
            part: CpimPart::Message,
            line: 2,
        }
        .to_string(),
        CpimError::BadHeaderName {
            part: CpimPart::Message,
            line: 4,
        }
        .to_string(),
        CpimError::MissingContentType.to_string(),
        CpimError::BadContentLength.to_string(),
        CpimError::ContentLengthTooLarge {
            declared: 20,
            available: 5,
        }
        .to_string(),
        CpimError::Invalid {
            header: "NS",
            what: "prefix already bound to another URN",
        }
        .to_string(),
    ];
    assert!(shown[0].contains("message headers") && shown[0].contains("empty line"));
    assert!(shown[1].contains("encapsulated object"));
    assert!(shown[2].contains("65536"));
    assert!(shown[3].contains("line 3") && shown[3].contains("UTF-8"));
    assert!(shown[4].contains("line 2") && shown[4].contains("colon"));
    assert!(shown[5].contains("line 4") && shown[5].contains("name"));
    assert!(shown[6].contains("Content-Type"));
    assert!(shown[7].contains("Content-Length"));
    assert!(shown[8].contains("20") && shown[8].contains('5'));
    assert!(shown[9].contains("NS") && shown[9].contains("prefix"));
}

// ───────────────────────── properties ─────────────────────────

/// The invariant `fuzz/fuzz_targets/cpim.rs` checks: decoding never panics; every
/// typed read runs; what decodes encodes to bytes that decode to the same message
/// and encode to the same bytes; addresses print and parse back; every header with a
/// namespace answers `header()`.
fn check(data: &[u8]) {
    let Ok(m) = CpimMessage::decode(data) else {
        return;
    };
    let _ = (m.to_all(), m.subjects(), m.namespaces(), m.require());
    let _ = (m.date_time(), m.subject(), m.media_type(), m.body_str());
    let addresses = m.from().into_iter().chain(m.to_all()).chain(m.cc());
    for a in addresses {
        let text = a.to_string();
        assert_eq!(CpimAddress::parse(&text), Some(a), "address {text:?}");
    }
    for (h, ns) in m.headers().iter().zip(m.header_namespaces()) {
        let _ = (h.lang(), h.text(), h.params());
        if let Some(ns) = ns {
            assert!(m.header(ns, h.local_name()).is_some(), "{h:?} in {ns}");
        }
    }
    assert!(m
        .content_headers()
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("Content-Type")));
    let bytes = m.encode();
    match CpimMessage::decode(&bytes) {
        Ok(again) => {
            assert_eq!(again, m, "{:?}", String::from_utf8_lossy(&bytes));
            assert_eq!(again.encode(), bytes, "encoding is not a fixpoint");
        }
        // CRLF for LF and the space after each colon can push a header section that
        // was just under the limit over it.
        Err(CpimError::HeadersTooLarge { .. })
            if bytes.len() - m.body().len() > MAX_HEADER_BYTES => {}
        Err(e) => panic!(
            "encoded message does not decode: {e}\n{:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
}

#[test]
fn the_fuzz_seeds_decode_and_hold_the_invariant() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/cpim");
    let mut seeds: Vec<_> = std::fs::read_dir(&dir)
        .expect("fuzz/seeds/cpim")
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 3, "{seeds:?}");
    for path in seeds {
        let data = std::fs::read(&path).unwrap();
        let m = CpimMessage::decode(&data).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(!m.headers().is_empty(), "{path:?}");
        check(&data);
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const MESSAGE_LINES: &[&str] = &[
    "From: MR SANDERS <im:piglet@100akerwood.com>",
    "From: \"a \\\"b\\\" \\u00e9\" <sip:x@y>",
    "To: <sip:bob@imsip.test>",
    "To: sip:bare@x",
    "cc: Carol <sip:c@d>",
    "DateTime: 2000-12-13T13:40:00-08:00",
    "DateTime: 2026-11-29T23:05:00.5Z",
    "Subject: the weather \\u00e9 \\n",
    "Subject:;lang=fr beau temps",
    "Subject:;lang=fr;q=\"a b;c\" t",
    "Subject:;lang",
    "NS: imdn <urn:ietf:params:imdn>",
    "NS: x <urn:ietf:params:imdn>",
    "NS: <urn:other>",
    "NS: broken",
    "imdn.Message-ID: 34jk324j",
    "x.Disposition-Notification: positive-delivery, display",
    "y.Undeclared: 1",
    "Require: imdn.Message-ID, y.Undeclared",
    "Name :value",
    "Empty:",
    " folded continuation",
];

const CONTENT_LINES: &[&str] = &[
    "Content-Type: text/plain;charset=UTF-8",
    "content-type: message/imdn+xml",
    "Content-Length: 0",
    "Content-Length: 5",
    "Content-Length: 99",
    "Content-ID: <1234@x>",
    "Content-Disposition: notification",
    "\tcharset=utf-8",
];

/// What a mutation inserts: separators, escapes, line ends, odd bytes.
const INSERTS: &[&str] = &[
    "\r\n",
    "\n",
    "\r",
    ":",
    ";",
    "=",
    ".",
    " ",
    "\t",
    "<",
    ">",
    "\"",
    "\\",
    "\\u00e9",
    "\\uD83D\\uDE80",
    "\\u",
    "é",
    "\u{0}",
    "\u{7f}",
    "\u{ff}",
    "\r\n\r\n",
    "\r\n ",
];

fn lines(
    set: &'static [&'static str],
    n: core::ops::Range<usize>,
) -> impl Strategy<Value = String> {
    proptest::collection::vec((select(set), select(vec!["\r\n", "\n"])), n)
        .prop_map(|v| v.into_iter().map(|(l, e)| format!("{l}{e}")).collect())
}

/// CPIM-shaped bytes: real header lines in any order and number, both sections, a
/// body, then a few insertions of separators and odd bytes at random places.
fn cpim_like() -> impl Strategy<Value = Vec<u8>> {
    (
        lines(MESSAGE_LINES, 0..8),
        lines(CONTENT_LINES, 0..4),
        select(vec!["hello", "héllo\r\n", ""]),
        proptest::collection::vec((any::<usize>(), select(INSERTS)), 0..3),
    )
        .prop_map(|(message, content, body, inserts)| {
            let content = format!("Content-Type: text/plain\r\n{content}");
            let mut b = format!("{message}\r\n{content}\r\n{body}").into_bytes();
            for (at, piece) in inserts {
                let at = at % (b.len() + 1);
                b.splice(at..at, piece.bytes());
            }
            b
        })
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            6 => select(vec!['a', 'Z', '0', ' ', '"', '\\', ',', '<', '>', ';', ':', '=', '.']),
            2 => select(vec!['\t', '\r', '\n', '\u{0}', '\u{8}', '\u{1b}', '\u{7f}']),
            2 => select(vec!['é', 'ß', '中', '🚀', '\u{a0}', '\u{2028}', '\u{fffd}']),
        ],
        0..20,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn from_set(set: &'static [u8], len: core::ops::Range<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(select(set), len).prop_map(|v| String::from_utf8(v).expect("ascii"))
}

const NAMECHARS: &[u8] = b"abcXYZ019!#$%&'*+-^_`|~";

fn uri() -> impl Strategy<Value = String> {
    (
        select(vec!["sip:", "sips:", "tel:", "im:", "pres:"]),
        from_set(b"abcz09-_.!~*'()%;?&=+$,/:@[]", 1..16),
        prop_oneof![Just(String::new()), Just("é".to_owned())],
    )
        .prop_map(|(s, r, u)| format!("{s}{r}{u}"))
}

fn address() -> impl Strategy<Value = CpimAddress> {
    (uri(), proptest::option::of(text())).prop_map(|(u, d)| CpimAddress { display: d, uri: u })
}

#[derive(Debug, Clone)]
struct Spec {
    from: CpimAddress,
    to: CpimAddress,
    cc: Vec<CpimAddress>,
    date_time: Option<u64>,
    subjects: Vec<(Option<String>, String)>,
    /// (prefix, name, value); the URN is derived from the prefix.
    extensions: Vec<(String, String, String)>,
    content_type: String,
    content_headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn urn_of(prefix: &str) -> String {
    format!("urn:x-imsip:{}", prefix.len() % 3)
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            address(),
            address(),
            proptest::collection::vec(address(), 0..3),
        ),
        proptest::option::of(0u64..=253_402_300_799),
        proptest::collection::vec(
            (
                proptest::option::of(from_set(b"abcdefXYZ019-", 1..8)),
                text(),
            ),
            0..3,
        ),
        proptest::collection::vec(
            (
                from_set(NAMECHARS, 1..4),
                from_set(NAMECHARS, 1..10),
                text(),
            ),
            0..5,
        ),
        select(vec![
            "text/plain",
            "text/plain;charset=UTF-8",
            "message/imdn+xml",
            "application/im-iscomposing+xml",
        ]),
        proptest::collection::vec(
            (
                select(vec!["Content-ID", "Content-Disposition", "X-Extra"]),
                from_set(b"abc <>@;=\"", 1..12),
            ),
            0..3,
        ),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |((from, to, cc), date_time, subjects, extensions, ct, ch, body)| {
                // One URN per prefix: the builder refuses a prefix bound to two.
                Spec {
                    from,
                    to,
                    cc,
                    date_time,
                    subjects,
                    extensions,
                    content_type: ct.to_owned(),
                    content_headers: ch
                        .into_iter()
                        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
                        .filter(|(_, v)| !v.is_empty())
                        .collect(),
                    body,
                }
            },
        )
}

fn build(s: &Spec) -> CpimMessage {
    let mut b = CpimMessage::new(
        s.from.clone(),
        s.to.clone(),
        &s.content_type,
        s.body.clone(),
    );
    for a in &s.cc {
        b = b.cc(a.clone());
    }
    if let Some(t) = s.date_time {
        b = b.date_time(t);
    }
    for (lang, text) in &s.subjects {
        b = match lang {
            Some(l) => b.subject_lang(l, text),
            None => b.subject(text),
        };
    }
    for (p, n, v) in &s.extensions {
        b = b.namespaced(p, &urn_of(p), n, v);
    }
    for (n, v) in &s.content_headers {
        b = b.content_header(n, v);
    }
    b.build().expect("generated values are writable")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn decode_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&data);
    }

    #[test]
    fn decode_never_panics_on_cpim_shaped_bytes(data in cpim_like()) {
        check(&data);
    }

    #[test]
    fn generated_messages_round_trip_with_their_values(s in spec()) {
        let m = build(&s);
        let bytes = m.encode();
        let back = CpimMessage::decode(&bytes).expect("built message decodes");
        prop_assert_eq!(&back, &m);
        prop_assert_eq!(back.encode(), bytes.clone());
        check(&bytes);

        prop_assert_eq!(back.from(), Some(s.from.clone()));
        prop_assert_eq!(back.to(), Some(s.to.clone()));
        prop_assert_eq!(back.cc(), s.cc.clone());
        prop_assert_eq!(back.date_time(), s.date_time);
        let subjects: Vec<(Option<String>, String)> = back
            .subjects()
            .into_iter()
            .map(|(l, t)| (l.map(str::to_owned), t.into_owned()))
            .collect();
        prop_assert_eq!(subjects, s.subjects.clone());
        for (p, n, _) in &s.extensions {
            let urn = urn_of(p);
            let want = s
                .extensions
                .iter()
                .find(|(p2, n2, _)| urn_of(p2) == urn && n2 == n)
                .map(|(_, _, v)| v.as_str());
            let got = back.header(&urn, n);
            prop_assert_eq!(got.as_deref(), want);
        }
        prop_assert_eq!(back.content_type(), s.content_type.as_str());
        for (n, v) in &s.content_headers {
            let first = s.content_headers.iter().find(|(n2, _)| n2 == n).map(|(_, v)| v);
            prop_assert_eq!(back.content_header(n), first.map(String::as_str));
            let _ = v;
        }
        let length = s.body.len().to_string();
        prop_assert_eq!(back.content_header("Content-Length"), Some(length.as_str()));
        prop_assert_eq!(back.body(), &s.body[..]);
    }

    #[test]
    fn escape_then_unescape_is_identity(t in text()) {
        let e = escape(&t);
        prop_assert!(!e.bytes().any(|b| b < b' ' || b == 0x7f));
        prop_assert_eq!(unescape(&e), t.as_str());
    }

    #[test]
    fn date_times_round_trip_through_any_offset(t in 86_400u64..253_402_214_400, off in -1439i64..=1439) {
        // The same instant written in local time at `off` minutes from UTC.
        let local = (t as i64 + off * 60) as u64;
        let base = imsip::message::date::iso8601(local);
        let sign = if off < 0 { '-' } else { '+' };
        let text = format!("{}{sign}{:02}:{:02}", base.trim_end_matches('Z'), off.abs() / 60, off.abs() % 60);
        prop_assert_eq!(parse_date_time(&text), Some(t), "{}", text);
    }
}
