//! The MSRP codec (imsip::msrp, RFC 4975, RFC 4976, RFC 7977): the RFCs' examples as
//! known answers (re-typed, with byte counts made to match their bodies), URIs and
//! their RFC 4975 §6.1 comparison, transaction ids, the builders, every error variant,
//! truncation and streaming. Properties live in `tests/msrp_props.rs`.
#![cfg(not(target_arch = "wasm32"))]

use imsip::auth::{Challenge, Credentials, DigestSession, RandomSource};
use imsip::message::Host;
use imsip::msrp::{
    is_ident, parse_frame, ByteRange, ContinuationFlag, Decoder, FailureReport, Frame, Method,
    MsrpError, MsrpUri, Parsed, RequestBuilder, ResponseBuilder, StartLine, Status, SuccessReport,
    TransactionId, Transport, FROM_PATH, MAX_BODY_BYTES, MAX_HEADERS, MAX_HEADER_BYTES, MESSAGE_ID,
    TO_PATH,
};

fn parse(s: &str) -> Result<Frame, MsrpError> {
    Frame::parse(s.as_bytes())
}

fn uri(s: &str) -> MsrpUri {
    MsrpUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn tid(s: &str) -> TransactionId {
    TransactionId::new(s).unwrap()
}

/// A counter as random source: deterministic ids.
struct Counter(u8);

impl RandomSource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// A random source stuck on one byte: every id it draws is the same.
struct Stuck;

impl RandomSource for Stuck {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(0);
    }
}

// ───────────────────────── RFC 4975 known answers ─────────────────────────

const ALICE: &str = "msrp://atlanta.example.com:7654/jshA7weztas;tcp";
const BOB: &str = "msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp";

/// RFC 4975 §7.1 / §4: a SEND with a Byte-Range and a success report asked for.
const SEND: &str = concat!(
    "MSRP a786hjs2 SEND\r\n",
    "To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
    "From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
    "Message-ID: 87652491\r\n",
    "Byte-Range: 1-23/23\r\n",
    "Success-Report: yes\r\n",
    "Content-Type: text/plain\r\n",
    "\r\n",
    "Hey Bob, are you there?\r\n",
    "-------a786hjs2$\r\n",
);

/// Its 200: the paths swapped, no body.
const SEND_200: &str = concat!(
    "MSRP a786hjs2 200 OK\r\n",
    "To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
    "From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
    "-------a786hjs2$\r\n",
);

/// RFC 4975 §7.1.2: the success REPORT for that message.
const REPORT: &str = concat!(
    "MSRP dkei38sd REPORT\r\n",
    "To-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
    "From-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
    "Message-ID: 87652491\r\n",
    "Byte-Range: 1-23/23\r\n",
    "Status: 000 200 OK\r\n",
    "-------dkei38sd$\r\n",
);

/// RFC 4975 §5.1, §7.1.1: one message in two chunks, `+` then `$`.
const CHUNKS: &str = concat!(
    "MSRP 7443jd3e SEND\r\n",
    "To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
    "From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
    "Message-ID: 12339sdqwer\r\n",
    "Byte-Range: 1-11/23\r\n",
    "Content-Type: text/plain\r\n",
    "\r\n",
    "Hey Bob, ar\r\n",
    "-------7443jd3e+\r\n",
    "MSRP 7443jd3f SEND\r\n",
    "To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
    "From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
    "Message-ID: 12339sdqwer\r\n",
    "Byte-Range: 12-23/23\r\n",
    "Content-Type: text/plain\r\n",
    "\r\n",
    "e you there?\r\n",
    "-------7443jd3f$\r\n",
);

#[test]
fn rfc4975_send_with_byte_range_and_success_report() {
    let f = parse(SEND).unwrap();
    assert_eq!(f.tid().as_str(), "a786hjs2");
    assert_eq!(f.method(), Some(&Method::Send));
    assert!(f.is_request());
    assert_eq!(f.to_path(), &[uri(BOB)]);
    assert_eq!(f.from_path(), &[uri(ALICE)]);
    assert_eq!(f.message_id().unwrap(), Some("87652491"));
    assert_eq!(
        f.byte_range().unwrap(),
        Some(ByteRange {
            start: 1,
            end: Some(23),
            total: Some(23)
        })
    );
    assert_eq!(f.success_report().unwrap(), SuccessReport::Yes);
    assert_eq!(f.failure_report().unwrap(), FailureReport::Yes, "default");
    assert_eq!(f.content_type(), Some("text/plain"));
    assert!(f.media_type().unwrap().unwrap().is("text/plain"));
    assert_eq!(f.body(), Some(&b"Hey Bob, are you there?"[..]));
    assert_eq!(f.byte_range().unwrap().unwrap().len(), Some(23));
    assert_eq!(f.continuation(), ContinuationFlag::Complete);
    assert_eq!(
        f.headers().len(),
        3,
        "paths and Content-Type are kept apart"
    );
    // The RFC's layout is the canonical one: encoding gives the same bytes.
    assert_eq!(f.encode().unwrap(), SEND.as_bytes());

    let built = RequestBuilder::send(tid("a786hjs2"), uri(BOB), uri(ALICE))
        .message_id("87652491")
        .byte_range(ByteRange::whole(23))
        .success_report(SuccessReport::Yes)
        .body("text/plain", "Hey Bob, are you there?")
        .build()
        .unwrap();
    assert_eq!(built, f);
}

#[test]
fn rfc4975_200_to_the_send_swaps_the_paths() {
    let send = parse(SEND).unwrap();
    let ok = parse(SEND_200).unwrap();
    assert_eq!(
        ok.start_line(),
        &StartLine::Response {
            code: 200,
            comment: Some("OK".into())
        }
    );
    assert_eq!(ok.status_code(), Some(200));
    assert_eq!(ok.comment(), Some("OK"));
    assert_eq!(ok.body(), None);
    let built = ResponseBuilder::for_request(&send, 200).unwrap();
    assert_eq!(built.encode().unwrap(), SEND_200.as_bytes());
}

#[test]
fn rfc4975_report_with_status() {
    let f = parse(REPORT).unwrap();
    assert_eq!(f.method(), Some(&Method::Report));
    assert_eq!(
        f.status().unwrap(),
        Some(Status {
            namespace: 0,
            code: 200,
            comment: Some("OK".into())
        })
    );
    assert_eq!(f.message_id().unwrap(), Some("87652491"));
    assert_eq!(f.body(), None);
    let built = RequestBuilder::report(tid("dkei38sd"), uri(ALICE), uri(BOB))
        .message_id("87652491")
        .byte_range(ByteRange::whole(23))
        .status(&Status::new(200).with_comment("OK"))
        .encode()
        .unwrap();
    assert_eq!(built, REPORT.as_bytes());
    // REPORTs are never answered (RFC 4975 §7.1.2).
    assert_eq!(
        ResponseBuilder::for_request(&f, 200).unwrap_err(),
        MsrpError::CannotRespond("a REPORT request")
    );
}

#[test]
fn rfc4975_chunked_message_continues_then_completes() {
    let bytes = CHUNKS.as_bytes();
    let Parsed::Complete {
        frame: first,
        consumed,
    } = parse_frame(bytes).unwrap()
    else {
        panic!("first chunk")
    };
    assert_eq!(first.continuation(), ContinuationFlag::Continued);
    assert_eq!(first.body(), Some(&b"Hey Bob, ar"[..]));
    assert_eq!(first.byte_range().unwrap().unwrap().end, Some(11));
    let rest = &bytes[consumed..];
    let Parsed::Complete {
        frame: second,
        consumed: c2,
    } = parse_frame(rest).unwrap()
    else {
        panic!("second chunk")
    };
    assert_eq!(c2, rest.len());
    assert_eq!(second.continuation(), ContinuationFlag::Complete);
    assert_eq!(second.byte_range().unwrap().unwrap().start, 12);
    let whole = [first.body().unwrap(), second.body().unwrap()].concat();
    assert_eq!(whole, b"Hey Bob, are you there?");

    let mut encoded = first.encode().unwrap();
    encoded.extend(second.encode().unwrap());
    assert_eq!(encoded, bytes);

    let chunk = RequestBuilder::send(tid("7443jd3e"), uri(BOB), uri(ALICE))
        .message_id("12339sdqwer")
        .byte_range(ByteRange::new(1, Some(11), Some(23)).unwrap())
        .body("text/plain", "Hey Bob, ar")
        .continuation(ContinuationFlag::Continued)
        .build()
        .unwrap();
    assert_eq!(chunk, first);
}

#[test]
fn an_interrupted_chunk_and_an_abort() {
    // RFC 4975 §7.1.1: a chunk cut short keeps `*` as its end; `#` abandons the message.
    let text = concat!(
        "MSRP 9kdi3sss SEND\r\n",
        "To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
        "From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
        "Message-ID: 12339sdqwer\r\n",
        "Byte-Range: 1-*/4096\r\n",
        "Content-Type: application/octet-stream\r\n",
        "\r\n",
        "\u{0}\u{1}\u{2}\r\n",
        "-------9kdi3sss#\r\n",
    );
    let f = parse(text).unwrap();
    assert_eq!(f.continuation(), ContinuationFlag::Aborted);
    assert_eq!(
        f.byte_range().unwrap(),
        Some(ByteRange {
            start: 1,
            end: None,
            total: Some(4096)
        })
    );
    assert_eq!(f.byte_range().unwrap().unwrap().len(), None);
    assert_eq!(f.body(), Some(&[0u8, 1, 2][..]));
    assert_eq!(f.encode().unwrap(), text.as_bytes());
}

#[test]
fn a_send_with_no_body_and_mime_headers() {
    // RFC 4975 §7.1.1: a SEND may have no body (no blank line, no Content-Type).
    let text = concat!(
        "MSRP 10kd9s8a SEND\r\n",
        "To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
        "From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
        "Message-ID: 3k3k3k3k\r\n",
        "Byte-Range: 1-0/0\r\n",
        "-------10kd9s8a$\r\n",
    );
    let f = parse(text).unwrap();
    assert_eq!(f.body(), None);
    assert_eq!(f.content_type(), None);
    assert!(f.byte_range().unwrap().unwrap().is_empty());
    assert_eq!(f.encode().unwrap(), text.as_bytes());

    // MIME headers of the body come before Content-Type (RFC 4975 §9 content-stuff).
    let with_mime = RequestBuilder::send(tid("10kd9s8b"), uri(BOB), uri(ALICE))
        .message_id("3k3k3k3l")
        .header("Content-ID", "<1234@example.com>")
        .header("Content-Description", "a picture")
        .header("Content-Disposition", "inline")
        .body("image/png", vec![0x89, b'P', b'N', b'G'])
        .encode()
        .unwrap();
    let text = String::from_utf8_lossy(&with_mime);
    let order: Vec<usize> = [
        "To-Path",
        "From-Path",
        "Content-ID",
        "Content-Disposition",
        "Content-Type",
    ]
    .iter()
    .map(|h| text.find(h).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
    let back = Frame::parse(&with_mime).unwrap();
    assert_eq!(back.header("content-id"), Some("<1234@example.com>"));
    assert_eq!(back.body(), Some(&[0x89, b'P', b'N', b'G'][..]));

    // An empty body: the blank line and nothing before the CRLF.
    let empty = RequestBuilder::send(tid("10kd9s8c"), uri(BOB), uri(ALICE))
        .body("text/plain", Vec::new())
        .encode()
        .unwrap();
    assert!(empty.ends_with(b"text/plain\r\n\r\n\r\n-------10kd9s8c$\r\n"));
    assert_eq!(Frame::parse(&empty).unwrap().body(), Some(&[][..]));
}

#[test]
fn a_blank_line_straight_into_the_end_line_is_an_empty_body() {
    // Kamailio-style: the CRLF after the (empty) data is missing.
    let text = concat!(
        "MSRP 10kd9s8d SEND\r\n",
        "To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n",
        "From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n",
        "Content-Type: text/plain\r\n",
        "\r\n",
        "-------10kd9s8d$\r\n",
    );
    let f = parse(text).unwrap();
    assert_eq!(f.body(), Some(&[][..]));
    // Written canonically, with the CRLF.
    assert!(f
        .encode()
        .unwrap()
        .ends_with(b"\r\n\r\n\r\n-------10kd9s8d$\r\n"));
}

// ───────────────────────── RFC 4976: relays and AUTH ─────────────────────────

const CLIENT: &str = "msrps://alice.example.com:9892/98cjs;tcp";
const RELAY: &str = "msrps://alice@intra.example.com;tcp";

const AUTH: &str = concat!(
    "MSRP 49fh AUTH\r\n",
    "To-Path: msrps://alice@intra.example.com;tcp\r\n",
    "From-Path: msrps://alice.example.com:9892/98cjs;tcp\r\n",
    "-------49fh$\r\n",
);

const AUTH_401: &str = concat!(
    "MSRP 49fh 401 Unauthorized\r\n",
    "To-Path: msrps://alice.example.com:9892/98cjs;tcp\r\n",
    "From-Path: msrps://alice@intra.example.com;tcp\r\n",
    "WWW-Authenticate: Digest realm=\"intra.example.com\", qop=\"auth\", ",
    "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"\r\n",
    "-------49fh$\r\n",
);

const AUTH_200: &str = concat!(
    "MSRP 49fi 200 OK\r\n",
    "To-Path: msrps://alice.example.com:9892/98cjs;tcp\r\n",
    "From-Path: msrps://alice@intra.example.com;tcp\r\n",
    "Use-Path: msrps://intra.example.com:9000/jui787s2f;tcp\r\n",
    "Expires: 900\r\n",
    "-------49fi$\r\n",
);

#[test]
fn rfc4976_auth_and_its_401_challenge() {
    let auth = parse(AUTH).unwrap();
    assert_eq!(auth.method(), Some(&Method::Auth));
    assert_eq!(auth.to_path()[0].userinfo(), Some("alice"));
    assert_eq!(auth.to_path()[0].session_id(), None, "a relay's own URI");
    assert_eq!(auth.to_path()[0].port(), None);
    assert!(auth.to_path()[0].is_secure());
    assert_eq!(
        RequestBuilder::auth(tid("49fh"), uri(RELAY), uri(CLIENT))
            .encode()
            .unwrap(),
        AUTH.as_bytes()
    );

    let challenge = parse(AUTH_401).unwrap();
    assert_eq!(challenge.status_code(), Some(401));
    let values = challenge.www_authenticate().unwrap();
    assert_eq!(values.len(), 1);
    let parsed = Challenge::parse(&values[0]).unwrap();
    assert_eq!(parsed.realm, "intra.example.com");
    assert_eq!(parsed.nonce, "dcd98b7102dd2f0e8b11d0f600bfb0c093");

    let built = ResponseBuilder::for_request(&auth, 401)
        .unwrap()
        .www_authenticate(&values[0])
        .encode()
        .unwrap();
    let again = Frame::parse(&built).unwrap();
    assert_eq!(again.www_authenticate().unwrap(), values);
    assert_eq!(again.comment(), Some("Unauthorized"));
    assert_eq!(again.to_path(), challenge.to_path());
    assert_eq!(again.from_path(), challenge.from_path());
}

#[test]
fn rfc4976_auth_answered_with_the_digest_code_then_200_with_use_path() {
    let challenge = parse(AUTH_401).unwrap();
    let mut session = DigestSession::new(Credentials::password("Alice", "secret"));
    session
        .on_challenge(&challenge.www_authenticate().unwrap(), false)
        .unwrap();
    let relay = uri(RELAY);
    let credentials = session
        .authorize("AUTH", &relay.to_string(), b"", &mut Counter(0))
        .unwrap();
    let auth = RequestBuilder::auth(tid("49fi"), relay.clone(), uri(CLIENT))
        .authorization(&credentials)
        .build()
        .unwrap();
    let sent = Frame::parse(&auth.encode().unwrap()).unwrap();
    let read = sent.authorization().unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0], credentials.value);
    assert_eq!(read[0].param("uri"), Some(RELAY));
    assert_eq!(read[0].param("username"), Some("Alice"));

    let ok = parse(AUTH_200).unwrap();
    assert_eq!(
        ok.use_path().unwrap(),
        Some(vec![uri("msrps://intra.example.com:9000/jui787s2f;tcp")])
    );
    assert_eq!(ok.expires().unwrap(), Some(900));
    assert_eq!(ok.min_expires().unwrap(), None);
    let built = ResponseBuilder::for_request(&sent, 200)
        .unwrap()
        .use_path(&[uri("msrps://intra.example.com:9000/jui787s2f;tcp")])
        .expires(900)
        .encode()
        .unwrap();
    assert_eq!(built, AUTH_200.as_bytes());

    // A 423 names the bounds.
    let bounds = ResponseBuilder::for_request(&sent, 423)
        .unwrap()
        .min_expires(300)
        .max_expires(3600)
        .authentication_info("nextnonce=\"abc\"")
        .build()
        .unwrap();
    assert_eq!(bounds.comment(), Some("Interval Out-of-Bounds"));
    assert_eq!(bounds.min_expires().unwrap(), Some(300));
    assert_eq!(bounds.max_expires().unwrap(), Some(3600));
    assert_eq!(bounds.authentication_info(), Some("nextnonce=\"abc\""));
}

#[test]
fn rfc4976_a_send_through_a_relay_and_the_relays_answer() {
    // The To-Path lists the relay then Bob; the relay answers one hop back.
    let text = concat!(
        "MSRP 6aef SEND\r\n",
        "To-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://bob.example.net:8145/foo;tcp\r\n",
        "From-Path: msrps://alice.example.com:9892/98cjs;tcp\r\n",
        "Message-ID: 87652492\r\n",
        "Byte-Range: 1-*/*\r\n",
        "Content-Type: text/plain\r\n",
        "\r\n",
        "Hi!\r\n",
        "-------6aef$\r\n",
    );
    let send = parse(text).unwrap();
    assert_eq!(send.to_path().len(), 2);
    assert_eq!(send.encode().unwrap(), text.as_bytes());
    let ok = ResponseBuilder::for_request(&send, 200)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(ok.to_path(), &[uri(CLIENT)]);
    assert_eq!(
        ok.from_path(),
        &[uri("msrps://intra.example.com:9000/jui787s2f;tcp")]
    );

    // At Bob, after the relay put itself in front of the From-Path: the 200 goes to the
    // relay, the first From-Path URI.
    let at_bob = concat!(
        "MSRP 6aeg SEND\r\n",
        "To-Path: msrps://bob.example.net:8145/foo;tcp\r\n",
        "From-Path: msrps://intra.example.com:9000/jui787s2f;tcp msrps://alice.example.com:9892/98cjs;tcp\r\n",
        "-------6aeg$\r\n",
    );
    let ok = ResponseBuilder::for_request(&parse(at_bob).unwrap(), 200)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        ok.to_path(),
        &[uri("msrps://intra.example.com:9000/jui787s2f;tcp")]
    );
    assert_eq!(
        ok.from_path(),
        &[uri("msrps://bob.example.net:8145/foo;tcp")]
    );
}

// ───────────────────────── RFC 7977: MSRP over WebSocket ─────────────────────────

#[test]
fn rfc7977_websocket_uris() {
    // The client has no address of its own: a random `.invalid` host and `;ws`.
    let client = uri("msrp://df7jal23ls0d.invalid/2s93i93idj;ws");
    assert_eq!(client.transport(), &Transport::Ws);
    assert!(client.is_websocket());
    assert!(!client.is_secure());
    assert_eq!(client.host(), &Host::Name("df7jal23ls0d.invalid".into()));
    // Secure WebSocket is the msrps scheme with the ws transport.
    let relay = uri("msrps://relay.example.org:443/3f4a9c;ws");
    assert!(relay.is_secure() && relay.is_websocket());
    assert_eq!(relay.to_string(), "msrps://relay.example.org:443/3f4a9c;ws");
    // Written `wss` or `WS` by some stacks: still a WebSocket.
    assert_eq!(
        uri("msrps://relay.example.org;wss").transport(),
        &Transport::Wss
    );
    assert_eq!(uri("msrp://a.invalid/x;WS").transport(), &Transport::Ws);
    assert_eq!(
        uri("msrp://a.invalid/x;WS").to_string(),
        "msrp://a.invalid/x;ws"
    );

    let auth = concat!(
        "MSRP 4d8cc34a AUTH\r\n",
        "To-Path: msrps://relay.example.org:443;ws\r\n",
        "From-Path: msrps://df7jal23ls0d.invalid/2s93i93idj;ws\r\n",
        "-------4d8cc34a$\r\n",
    );
    let f = parse(auth).unwrap();
    assert!(f.to_path()[0].is_websocket() && f.from_path()[0].is_websocket());
    assert_eq!(f.encode().unwrap(), auth.as_bytes());
}

// ───────────────────────── URIs ─────────────────────────

#[test]
fn uri_parts_and_printing() {
    let u = uri("MSRP://al%20ice:pw@[2001:db8::1]:2855/se+s=s/i.d~_;tcp;x=1;flag");
    assert!(!u.is_secure());
    assert_eq!(u.scheme(), "msrp");
    assert_eq!(u.userinfo(), Some("al%20ice:pw"));
    assert_eq!(u.host(), &Host::Ipv6("2001:db8::1".parse().unwrap()));
    assert_eq!(u.port(), Some(2855));
    assert_eq!(u.session_id(), Some("se+s=s/i.d~_"));
    assert_eq!(u.param("X"), Some(Some("1")));
    assert_eq!(u.param("flag"), Some(None));
    assert_eq!(u.param("none"), None);
    assert_eq!(u.params().len(), 2);
    assert_eq!(
        u.to_string(),
        "msrp://al%20ice:pw@[2001:db8::1]:2855/se+s=s/i.d~_;tcp;x=1;flag"
    );
    let v = uri("msrps://192.0.2.7;sctp");
    assert_eq!(v.host(), &Host::Ipv4("192.0.2.7".parse().unwrap()));
    assert_eq!(v.transport(), &Transport::Other("sctp".into()));
    assert_eq!(v.transport().as_str(), "sctp");
    for text in [
        "msrp://a.example.com/x;tcp",
        "msrps://u@h;ws",
        "msrp://h:1/a/b/c;Foo;p=q",
        "msrp://[::1]/s;tcp",
    ] {
        let u = uri(text);
        assert_eq!(uri(&u.to_string()), u, "{text}");
        assert_eq!(text.parse::<MsrpUri>().unwrap(), u);
    }
}

#[test]
fn uri_comparison_follows_rfc4975_section_6_1() {
    let a = uri("msrp://Atlanta.Example.COM:7654/jshA7weztas;TCP;x=1");
    // Scheme and host case-insensitive, transport case-insensitive, userinfo and
    // parameters ignored.
    assert!(a.matches(&uri("MSRP://atlanta.example.com:7654/jshA7weztas;tcp")));
    assert!(a.matches(&uri(
        "msrp://bob@atlanta.example.com:7654/jshA7weztas;tcp;y"
    )));
    // The session-id is case-sensitive.
    assert!(!a.matches(&uri("msrp://atlanta.example.com:7654/JSHA7WEZTAS;tcp")));
    // An absent port equals only an absent port.
    assert!(!a.matches(&uri("msrp://atlanta.example.com/jshA7weztas;tcp")));
    assert!(!a.matches(&uri("msrp://atlanta.example.com:7655/jshA7weztas;tcp")));
    assert!(!a.matches(&uri("msrps://atlanta.example.com:7654/jshA7weztas;tcp")));
    assert!(!a.matches(&uri("msrp://atlanta.example.com:7654/jshA7weztas;ws")));
    assert!(!a.matches(&uri("msrp://atlanta.example.com:7654;tcp")));
    assert!(uri("msrp://h/s;Xyz").matches(&uri("msrp://H/s;xYZ")));
    // IP addresses compare as addresses.
    assert!(uri("msrp://[2001:db8::1]/s;tcp").matches(&uri("msrp://[2001:DB8:0::1]/s;tcp")));
}

#[test]
fn bad_uris_name_what_is_wrong() {
    for (text, what) in [
        ("sip:alice@example.com", "no `msrp://` or `msrps://`"),
        ("http://example.com/x;tcp", "scheme is not msrp or msrps"),
        ("msrp://example.com/x", "no ;transport"),
        ("msrp://example.com", "no ;transport"),
        (
            "msrp://example.com/x;",
            "transport is not letters and digits",
        ),
        (
            "msrp://example.com/x;t-cp",
            "transport is not letters and digits",
        ),
        ("msrp://example.com/;tcp", "invalid session-id"),
        ("msrp://example.com/a b;tcp", "invalid session-id"),
        (
            "msrp://example.com/a;tcp;",
            "URI parameter is not token[=token]",
        ),
        (
            "msrp://example.com/a;tcp;a=b=c",
            "URI parameter is not token[=token]",
        ),
        ("msrp://example.com:/a;tcp", "port is not a number"),
        ("msrp://example.com:99999/a;tcp", "port above 65535"),
        ("msrp://example.com:12a/a;tcp", "port is not a number"),
        ("msrp://[::1/a;tcp", "unterminated IPv6 reference"),
        ("msrp://[::1]x/a;tcp", "text after the IPv6 reference"),
        ("msrp://[zz]/a;tcp", "invalid host"),
        ("msrp:///a;tcp", "invalid host"),
        ("msrp://exa mple.com/a;tcp", "invalid host"),
        ("msrp://@example.com/a;tcp", "invalid userinfo"),
        ("msrp://a@b@example.com/a;tcp", "invalid userinfo"),
        ("msrp://a%zz@example.com/a;tcp", "invalid userinfo"),
    ] {
        assert_eq!(MsrpUri::parse(text), Err(MsrpError::BadUri(what)), "{text}");
    }
    assert!(MsrpError::BadUri("invalid host")
        .to_string()
        .contains("invalid host"));
}

// ───────────────────────── transaction ids ─────────────────────────

#[test]
fn transaction_ids_are_rfc4975_idents() {
    // ident = ALPHANUM 3*31ident-char: 4 to 32 characters.
    assert!(!is_ident("abc"));
    assert!(is_ident("abcd"));
    assert!(is_ident("a.-+%=b"));
    assert!(is_ident(&"a".repeat(32)));
    assert!(!is_ident(&"a".repeat(33)));
    assert!(!is_ident(".abc"));
    assert!(!is_ident("ab cd"));
    assert!(!is_ident("abc/d"));
    assert!(!is_ident("abcé"));
    assert_eq!(TransactionId::new("ab"), Err(MsrpError::BadTransactionId));
    let t = tid("Ab3x");
    assert_eq!(t.to_string(), "Ab3x");
    assert_eq!(t.as_ref(), "Ab3x");
    assert_ne!(t, tid("ab3x"), "case-sensitive");

    let r = TransactionId::random(&mut Counter(0));
    assert_eq!(r.as_str().len(), 16);
    assert!(is_ident(r.as_str()));
    assert_ne!(r, TransactionId::random(&mut Counter(0x80)));
}

#[test]
fn a_transaction_id_is_picked_that_the_body_does_not_contain() {
    let stuck = TransactionId::random(&mut Stuck);
    // A body that holds that id's end-line, many times with every next letter.
    let mut body = Vec::new();
    for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".chars() {
        body.extend_from_slice(format!("\r\n-------{stuck}{c}$\r\n").as_bytes());
    }
    body.extend_from_slice(format!("-------{stuck}+\r\n").as_bytes());
    assert!(stuck.collides_with(&body));
    let picked = TransactionId::for_body(&mut Stuck, &body);
    assert!(!picked.collides_with(&body), "{picked}");
    assert!(is_ident(picked.as_str()));
    assert!(picked.as_str().starts_with(stuck.as_str()));

    // At the very start (after the blank line's CRLF) counts too.
    let t = tid("abcd");
    assert!(t.collides_with(b"-------abcd"));
    assert!(t.collides_with(b"x\r\n-------abcdZ"));
    assert!(!t.collides_with(b"x\n-------abcd"));
    assert!(!t.collides_with(b"x\r\n-------abce"));
    assert!(!t.collides_with(b"x\r\n------abcd"));
    // A random id and an ordinary body: the id itself.
    assert_eq!(
        TransactionId::for_body(&mut Counter(7), b"hello"),
        TransactionId::random(&mut Counter(7))
    );
}

#[test]
fn the_encoder_refuses_a_body_holding_its_end_line() {
    let body = b"line one\r\n-------a786hjs2$\r\nline two".to_vec();
    let builder = RequestBuilder::send(tid("a786hjs2"), uri(BOB), uri(ALICE))
        .body("text/plain", body.clone());
    assert_eq!(builder.build(), Err(MsrpError::BodyContainsEndLine));
    let other = TransactionId::for_body(&mut Counter(1), &body);
    let bytes = RequestBuilder::send(other, uri(BOB), uri(ALICE))
        .body("text/plain", body.clone())
        .encode()
        .unwrap();
    assert_eq!(Frame::parse(&bytes).unwrap().body(), Some(&body[..]));
}

#[test]
fn a_body_with_another_tids_end_line_is_body() {
    let body =
        "a\r\n-------zzzz9999$\r\nb\r\n-------a786hjs2X\r\n-------a786hjs2$c\r\n-------a786hjs2";
    let text = format!(
        "MSRP a786hjs2 SEND\r\nTo-Path: {BOB}\r\nFrom-Path: {ALICE}\r\nContent-Type: text/plain\r\n\r\n{body}\r\n-------a786hjs2$\r\n"
    );
    let f = parse(&text).unwrap();
    assert_eq!(f.body(), Some(body.as_bytes()));
    // The encoder is stricter than the parser: `CRLF -------<tid>` anywhere is refused.
    assert_eq!(f.encode(), Err(MsrpError::BodyContainsEndLine));
    let clean = "a\r\n-------zzzz9999$\r\nb";
    let text = format!(
        "MSRP a786hjs2 SEND\r\nTo-Path: {BOB}\r\nFrom-Path: {ALICE}\r\nContent-Type: text/plain\r\n\r\n{clean}\r\n-------a786hjs2$\r\n"
    );
    let f = parse(&text).unwrap();
    assert_eq!(f.body(), Some(clean.as_bytes()));
    assert_eq!(f.encode().unwrap(), text.as_bytes());
}

// ───────────────────────── typed header values ─────────────────────────

#[test]
fn byte_ranges() {
    for (text, start, end, total) in [
        ("1-25/25", 1, Some(25), Some(25)),
        (" 1-*/* ", 1, None, None),
        ("26-50/*", 26, Some(50), None),
        ("1-0/0", 1, Some(0), Some(0)),
        ("11-10/10", 11, Some(10), Some(10)),
        ("5-*/9", 5, None, Some(9)),
    ] {
        let r = ByteRange::parse(text).unwrap();
        assert_eq!((r.start, r.end, r.total), (start, end, total), "{text}");
        assert_eq!(ByteRange::parse(&r.to_string()).unwrap(), r);
    }
    for (text, what) in [
        ("1-25", "no '/' before the total"),
        ("1/25", "no '-' between start and end"),
        ("0-5/5", "start is 0 (bytes count from 1)"),
        ("a-5/5", "start is not a number"),
        ("*-5/5", "start is not a number"),
        ("1-x/5", "end is not a number or '*'"),
        ("1-5/-", "total is not a number or '*'"),
        ("1-99999999999999999999/*", "end is not a number or '*'"),
        ("5-3/9", "end before start"),
        ("1-6/5", "end beyond total"),
        ("7-*/5", "start beyond total"),
    ] {
        assert_eq!(
            ByteRange::parse(text),
            Err(MsrpError::BadByteRange(what)),
            "{text}"
        );
    }
    assert_eq!(ByteRange::whole(0).to_string(), "1-0/0");
    assert!(ByteRange::new(3, Some(1), None).is_err());
}

#[test]
fn statuses() {
    let s = Status::parse("000 413 Message too big, stop").unwrap();
    assert_eq!((s.namespace, s.code), (0, 413));
    assert_eq!(s.comment.as_deref(), Some("Message too big, stop"));
    assert_eq!(Status::parse("000 200").unwrap(), Status::new(200));
    assert_eq!(Status::new(8).to_string(), "000 008");
    assert_eq!(
        Status::parse(&Status::new(8).to_string()).unwrap(),
        Status::new(8)
    );
    for (text, what) in [
        ("000", "no status code after the namespace"),
        ("00 200", "namespace is not three digits"),
        ("0000 200", "namespace is not three digits"),
        ("000 20", "status code is not three digits"),
        ("000 2000 x", "status code is not three digits"),
        ("000 abc", "status code is not three digits"),
    ] {
        assert_eq!(
            Status::parse(text),
            Err(MsrpError::BadStatus(what)),
            "{text}"
        );
    }
}

#[test]
fn report_requests_and_odd_headers_fail_alone() {
    let text = format!(
        "MSRP abcd1234 SEND\r\nTo-Path: {BOB}\r\nFrom-Path: {ALICE}\r\n\
         Message-ID: x\r\nSuccess-Report: partial\r\nFailure-Report: PARTIAL\r\n\
         Expires: soon\r\nMin-Expires: 99999999999\r\nUse-Path: nowhere\r\n\
         WWW-Authenticate: =\r\nAuthorization: Digest a=\"\r\nByte-Range: 1-2\r\n\
         Status: 000\r\nX-Odd: \u{e9}t\u{e9}\r\nContent-Type: text\r\n-------abcd1234$\r\n"
    );
    let f = parse(&text).unwrap();
    assert_eq!(f.header("x-odd"), Some("été"));
    assert_eq!(f.failure_report().unwrap(), FailureReport::Partial);
    let bad = |name| MsrpError::BadHeader { name, what: "" };
    let name_of = |e: MsrpError| match e {
        MsrpError::BadHeader { name, .. } => bad(name),
        MsrpError::BadPath { header, .. } => bad(header),
        other => other,
    };
    assert_eq!(name_of(f.message_id().unwrap_err()), bad(MESSAGE_ID));
    assert_eq!(
        name_of(f.success_report().unwrap_err()),
        bad("Success-Report")
    );
    assert_eq!(name_of(f.expires().unwrap_err()), bad("Expires"));
    assert_eq!(name_of(f.min_expires().unwrap_err()), bad("Min-Expires"));
    assert_eq!(name_of(f.use_path().unwrap_err()), bad("Use-Path"));
    assert_eq!(
        name_of(f.www_authenticate().unwrap_err()),
        bad("WWW-Authenticate")
    );
    assert_eq!(
        name_of(f.authorization().unwrap_err()),
        bad("Authorization")
    );
    assert_eq!(name_of(f.media_type().unwrap_err()), bad("Content-Type"));
    assert!(matches!(f.byte_range(), Err(MsrpError::BadByteRange(_))));
    assert!(matches!(f.status(), Err(MsrpError::BadStatus(_))));
    assert_eq!(f.max_expires().unwrap(), None);
    assert!(f
        .success_report()
        .unwrap_err()
        .to_string()
        .contains("Success-Report"));
}

// ───────────────────────── every error variant ─────────────────────────

/// A frame with `middle` between the start line and the end-line.
fn with_headers(middle: &str) -> String {
    format!("MSRP abcd1234 SEND\r\n{middle}-------abcd1234$\r\n")
}

fn paths() -> String {
    format!("To-Path: {BOB}\r\nFrom-Path: {ALICE}\r\n")
}

#[test]
fn every_error_variant_is_reached_and_named() {
    let p = paths();
    let too_many: String = (0..MAX_HEADERS - 1)
        .map(|i| format!("X-{i}: v\r\n"))
        .collect();
    let huge = format!("{p}X-Big: {}\r\n", "a".repeat(MAX_HEADER_BYTES));
    let cases: Vec<(Vec<u8>, MsrpError, &str)> = vec![
        (
            b"HTTP/1.1 200 OK\r\n".to_vec(),
            MsrpError::BadStartLine("does not start with `MSRP `"),
            "MSRP",
        ),
        (
            b"MSRP abcd1234\r\n".to_vec(),
            MsrpError::BadStartLine("no method or status code after the transaction id"),
            "transaction id",
        ),
        (
            with_headers("").replace("SEND", "send").into_bytes(),
            MsrpError::BadStartLine(
                "method is not upper-case letters, nor a status code three digits",
            ),
            "upper-case",
        ),
        (
            b"MSRP abcd1234 200 \x01\r\n".to_vec(),
            MsrpError::BadStartLine("control character in the comment"),
            "comment",
        ),
        (
            b"MSRP abcd1234 SEND\n".to_vec(),
            MsrpError::BadStartLine("line ends with LF, not CRLF"),
            "LF",
        ),
        (
            b"MSRP ab SEND\r\n".to_vec(),
            MsrpError::BadTransactionId,
            "4 to 32",
        ),
        (
            format!("MSRP abcd1234 SEND\r\n{p}").into_bytes(),
            MsrpError::MissingEndLine,
            "end-line",
        ),
        (
            format!("MSRP abcd1234 SEND\r\n{p}-------abcd1235$\r\n").into_bytes(),
            MsrpError::EndLineMismatch,
            "another transaction id",
        ),
        (
            format!("MSRP abcd1234 SEND\r\n{p}-------abcd1234\r\n").into_bytes(),
            MsrpError::BadEndLine,
            "$, + or #",
        ),
        (
            format!("MSRP abcd1234 SEND\r\n{p}-------abcd1234$$\r\n").into_bytes(),
            MsrpError::BadEndLine,
            "$, + or #",
        ),
        (
            with_headers(&huge).into_bytes(),
            MsrpError::HeadersTooLarge {
                max: MAX_HEADER_BYTES,
            },
            "16384",
        ),
        (
            with_headers(&format!("{p}{too_many}")).into_bytes(),
            MsrpError::TooManyHeaders { max: MAX_HEADERS },
            "64",
        ),
        (
            with_headers(&format!("{p}X-Bin: \u{ff}\r\n"))
                .into_bytes()
                .into_iter()
                .map(|b| if b == 0xc3 { 0xff } else { b })
                .collect(),
            MsrpError::NotUtf8 { line: 4 },
            "line 4",
        ),
        (
            with_headers(&format!("{p}No colon\r\n")).into_bytes(),
            MsrpError::BadHeaderLine { line: 4 },
            "line 4",
        ),
        (
            with_headers(&format!("{p}1x: y\r\n")).into_bytes(),
            MsrpError::BadHeaderLine { line: 4 },
            "line 4",
        ),
        (
            with_headers(&format!("{p}X: a\rb\r\n")).into_bytes(),
            MsrpError::BadHeaderLine { line: 4 },
            "line 4",
        ),
        (
            with_headers(&format!("{p}X: a\nb\r\n")).into_bytes(),
            MsrpError::BadHeaderLine { line: 4 },
            "line 4",
        ),
        (
            with_headers(&format!("From-Path: {ALICE}\r\n")).into_bytes(),
            MsrpError::MissingHeader(TO_PATH),
            "To-Path",
        ),
        (
            with_headers(&format!("To-Path: {BOB}\r\n")).into_bytes(),
            MsrpError::MissingHeader(FROM_PATH),
            "From-Path",
        ),
        (
            with_headers(&format!("{p}to-path: {BOB}\r\n")).into_bytes(),
            MsrpError::DuplicateHeader(TO_PATH),
            "more than one To-Path",
        ),
        (
            with_headers(&format!("{p}Content-Type: a/b\r\nContent-Type: a/b\r\n")).into_bytes(),
            MsrpError::DuplicateHeader("Content-Type"),
            "Content-Type",
        ),
        (
            with_headers(&format!(
                "To-Path: sip:bob@example.com\r\nFrom-Path: {ALICE}\r\n"
            ))
            .into_bytes(),
            MsrpError::BadPath {
                header: TO_PATH,
                what: "no `msrp://` or `msrps://`",
            },
            "To-Path",
        ),
        (
            with_headers(&format!("To-Path: {BOB}\r\nFrom-Path:  \r\n")).into_bytes(),
            MsrpError::BadPath {
                header: FROM_PATH,
                what: "no URI",
            },
            "From-Path",
        ),
        (
            format!("{}x", SEND).into_bytes(),
            MsrpError::TrailingData { extra: 1 },
            "1 bytes",
        ),
    ];
    for (bytes, expected, shown) in cases {
        let got = Frame::parse(&bytes);
        assert_eq!(
            got,
            Err(expected.clone()),
            "{:?}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(expected.to_string().contains(shown), "{expected}");
    }

    let mut big = format!("MSRP abcd1234 SEND\r\n{p}Content-Type: a/b\r\n\r\n").into_bytes();
    big.resize(big.len() + MAX_BODY_BYTES + 1, b'x');
    big.extend_from_slice(b"\r\n-------abcd1234$\r\n");
    let e = Frame::parse(&big).unwrap_err();
    assert_eq!(
        e,
        MsrpError::BodyTooLarge {
            max: MAX_BODY_BYTES
        }
    );
    assert!(e.to_string().contains("1048576"));

    // The rest come from typed reads, the encoder and the builders.
    let shown = [
        MsrpError::BadUri("invalid host").to_string(),
        MsrpError::BadByteRange("end before start").to_string(),
        MsrpError::BadStatus("namespace is not three digits").to_string(),
        MsrpError::BadHeader {
            name: "Expires",
            what: "not a number of seconds",
        }
        .to_string(),
        MsrpError::BodyContainsEndLine.to_string(),
        MsrpError::BadValue {
            header: "Message-ID",
            what: "x",
        }
        .to_string(),
        MsrpError::CannotRespond("a response").to_string(),
    ];
    assert!(shown[0].contains("URI") && shown[0].contains("invalid host"));
    assert!(shown[1].contains("Byte-Range") && shown[1].contains("end before start"));
    assert!(shown[2].contains("Status") && shown[2].contains("namespace"));
    assert!(shown[3].contains("Expires") && shown[3].contains("seconds"));
    assert!(shown[4].contains("end-line") && shown[4].contains("another transaction id"));
    assert!(shown[5].contains("Message-ID"));
    assert!(shown[6].contains("response"));
}

#[test]
fn the_body_limit_is_exact() {
    let p = paths();
    let mut at_limit = format!("MSRP abcd1234 SEND\r\n{p}Content-Type: a/b\r\n\r\n").into_bytes();
    at_limit.resize(at_limit.len() + MAX_BODY_BYTES, b'\r');
    at_limit.extend_from_slice(b"\r\n-------abcd1234$\r\n");
    assert_eq!(
        Frame::parse(&at_limit).unwrap().body().unwrap().len(),
        MAX_BODY_BYTES
    );

    // Streaming: the error comes as soon as the body cannot end in time.
    let mut d = Decoder::new();
    d.push(format!("MSRP abcd1234 SEND\r\n{p}Content-Type: a/b\r\n\r\n").as_bytes());
    let chunk = vec![b'y'; 64 * 1024];
    let mut err = None;
    for _ in 0..=(MAX_BODY_BYTES / chunk.len()) {
        d.push(&chunk);
        if let Err(e) = d.next_frame() {
            err = Some(e);
            break;
        }
    }
    assert_eq!(
        err,
        Some(MsrpError::BodyTooLarge {
            max: MAX_BODY_BYTES
        })
    );
    // And it stays.
    assert_eq!(
        d.next_frame(),
        Err(MsrpError::BodyTooLarge {
            max: MAX_BODY_BYTES
        })
    );

    // Headers: incomplete but past the limit.
    let mut long = b"MSRP abcd1234 SEND\r\nX-A: ".to_vec();
    long.resize(MAX_HEADER_BYTES, b'a');
    assert_eq!(
        parse_frame(&long),
        Err(MsrpError::HeadersTooLarge {
            max: MAX_HEADER_BYTES
        })
    );
    long.truncate(MAX_HEADER_BYTES - 1);
    assert_eq!(parse_frame(&long), Ok(Parsed::NeedMore));
}

#[test]
fn the_builders_check_their_values() {
    let send = || RequestBuilder::send(tid("abcd1234"), uri(BOB), uri(ALICE));
    let bad_value = |r: Result<Frame, MsrpError>| match r {
        Err(MsrpError::BadValue { header, .. }) => header,
        other => panic!("{other:?}"),
    };
    assert_eq!(bad_value(send().message_id("no").build()), MESSAGE_ID);
    assert_eq!(
        bad_value(send().header("To-Path", BOB).build()),
        "header name"
    );
    assert_eq!(
        bad_value(send().header("content-type", "a/b").build()),
        "header name"
    );
    assert_eq!(bad_value(send().header("X Y", "v").build()), "header name");
    assert_eq!(bad_value(send().header("-X", "v").build()), "header name");
    assert_eq!(
        bad_value(send().header("X", "a\r\nInjected: 1").build()),
        "header value"
    );
    assert_eq!(bad_value(send().body("text", "x").build()), "Content-Type");
    assert_eq!(
        bad_value(send().body("a/b\r\n", "x").build()),
        "Content-Type"
    );
    assert_eq!(
        bad_value(
            RequestBuilder::new(Method::Send, tid("abcd1234"), vec![], vec![uri(ALICE)]).build()
        ),
        TO_PATH
    );
    assert_eq!(
        bad_value(
            ResponseBuilder::new(tid("abcd1234"), 1000, vec![uri(BOB)], vec![uri(ALICE)]).build()
        ),
        "status code"
    );
    assert_eq!(
        bad_value(
            ResponseBuilder::new(tid("abcd1234"), 200, vec![uri(BOB)], vec![uri(ALICE)])
                .comment("a\nb")
                .build()
        ),
        "comment"
    );
    let mut many = send();
    for i in 0..MAX_HEADERS {
        many = many.header(&format!("X-{i}"), "v");
    }
    assert_eq!(
        many.build(),
        Err(MsrpError::TooManyHeaders { max: MAX_HEADERS })
    );
    assert_eq!(
        send().header("X", "a".repeat(MAX_HEADER_BYTES)).build(),
        Err(MsrpError::HeadersTooLarge {
            max: MAX_HEADER_BYTES
        })
    );
    assert_eq!(
        send().body("a/b", vec![0; MAX_BODY_BYTES + 1]).build(),
        Err(MsrpError::BodyTooLarge {
            max: MAX_BODY_BYTES
        })
    );
    // Values are trimmed as the parser trims them; a custom comment replaces the default.
    let f = send().header("X-Pad", "  v \t").build().unwrap();
    assert_eq!(f.header("X-Pad"), Some("v"));
    let r = ResponseBuilder::new(tid("abcd1234"), 413, vec![uri(BOB)], vec![uri(ALICE)])
        .comment("Stop sending")
        .build()
        .unwrap();
    assert_eq!(r.comment(), Some("Stop sending"));
    let r = ResponseBuilder::new(tid("abcd1234"), 299, vec![uri(BOB)], vec![uri(ALICE)])
        .build()
        .unwrap();
    assert_eq!(r.comment(), None);
    assert!(Frame::parse(&r.encode().unwrap()).unwrap() == r);
    // A response to a response.
    assert_eq!(
        ResponseBuilder::for_request(&parse(SEND_200).unwrap(), 200).unwrap_err(),
        MsrpError::CannotRespond("a response")
    );
    // Extension methods go through.
    let ext = RequestBuilder::new(
        Method::Other("NICKNAME".into()),
        tid("abcd1234"),
        vec![uri(BOB)],
        vec![uri(ALICE)],
    )
    .encode()
    .unwrap();
    assert!(ext.starts_with(b"MSRP abcd1234 NICKNAME\r\n"));
    assert_eq!(
        Frame::parse(&ext).unwrap().method(),
        Some(&Method::Other("NICKNAME".into()))
    );
}

// ───────────────────────── truncation and streaming ─────────────────────────

fn known_frames() -> Vec<&'static str> {
    vec![SEND, SEND_200, REPORT, CHUNKS, AUTH, AUTH_401, AUTH_200]
}

#[test]
fn every_prefix_of_a_valid_frame_needs_more() {
    for text in known_frames() {
        let bytes = text.as_bytes();
        let Parsed::Complete { consumed, .. } = parse_frame(bytes).unwrap() else {
            panic!("{text}")
        };
        for cut in 0..consumed {
            assert_eq!(
                parse_frame(&bytes[..cut]),
                Ok(Parsed::NeedMore),
                "{:?}",
                String::from_utf8_lossy(&bytes[..cut])
            );
            assert_eq!(Frame::parse(&bytes[..cut]), Err(MsrpError::MissingEndLine));
        }
    }
}

#[test]
fn hostile_truncations_and_byte_flips_never_panic() {
    for text in known_frames() {
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let _ = parse_frame(&bytes[..cut]);
            for flip in [0u8, b'\r', b'\n', b'-', b' ', b':', 0xff] {
                let mut b = bytes[..cut].to_vec();
                if let Some(last) = b.last_mut() {
                    *last = flip;
                }
                if let Ok(Parsed::Complete { frame, consumed }) = parse_frame(&b) {
                    assert!(consumed <= b.len());
                    let _ = (frame.byte_range(), frame.status(), frame.message_id());
                }
            }
        }
    }
}

#[test]
fn the_decoder_reads_frames_in_any_pieces() {
    let all: String = known_frames().concat();
    let expected: Vec<Frame> = {
        let mut out = Vec::new();
        let mut rest = all.as_bytes();
        while let Parsed::Complete { frame, consumed } = parse_frame(rest).unwrap() {
            out.push(frame);
            rest = &rest[consumed..];
        }
        assert!(rest.is_empty());
        out
    };
    assert_eq!(expected.len(), 8);
    // Byte by byte.
    let mut d = Decoder::new();
    let mut got = Vec::new();
    for b in all.as_bytes() {
        d.push(std::slice::from_ref(b));
        while let Some(f) = d.next_frame().unwrap() {
            got.push(f);
        }
    }
    assert_eq!(got, expected);
    assert_eq!(d.buffered(), 0);
    // All at once.
    let mut d = Decoder::new();
    d.push(all.as_bytes());
    let mut got = Vec::new();
    while let Some(f) = d.next_frame().unwrap() {
        got.push(f);
    }
    assert_eq!(got, expected);
    // An error sticks.
    let mut d = Decoder::new();
    d.push(b"GET / HTTP/1.1\r\n");
    assert!(d.next_frame().is_err());
    d.push(SEND.as_bytes());
    assert!(d.next_frame().is_err());
}

#[test]
fn a_large_binary_body_arrives_whole_in_small_pieces() {
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    let id = TransactionId::for_body(&mut Counter(3), &body);
    let bytes = RequestBuilder::send(id, uri(BOB), uri(ALICE))
        .message_id("bigbody1")
        .byte_range(ByteRange::whole(body.len() as u64))
        .body("application/octet-stream", body.clone())
        .encode()
        .unwrap();
    let mut d = Decoder::new();
    let mut frames = Vec::new();
    for piece in bytes.chunks(1500) {
        d.push(piece);
        while let Some(f) = d.next_frame().unwrap() {
            frames.push(f);
        }
    }
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].body(), Some(&body[..]));
}
