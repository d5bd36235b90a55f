//! The SIP message codec: seed-shaped messages (OMA IM flow D.1), framing rules,
//! typed reads and the builder.
#![cfg(not(target_arch = "wasm32"))]

use std::net::{Ipv4Addr, Ipv6Addr};

use imsip::message::{
    Contacts, FramingError, HeaderName, Host, Message, MessageBuilder, Method, ParseError, Scheme,
    StartLine, Uri, ValidationError, Via,
};

fn crlf(s: &str) -> String {
    s.replace('\n', "\r\n")
}

const REGISTER_1: &str = "REGISTER sip:networkA.net SIP/2.0
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;rport
Max-Forwards: 70
From: <sip:IM-UserA@networkA.net>;tag=4fa3
To: <sip:IM-UserA@networkA.net>
Call-ID: apb03a0s09dkjdfglkj49111
CSeq: 1 REGISTER
User-Agent: IM-client/OMA1.0 Acme-Talk5000/v1.01
Authorization: Digest username=\"IM-UserA-private@networkA.net\", realm=\"registrar.networkA.net\", nonce=\"\", uri=\"sip:registrar.networkA.net\", response=\"\"
Contact: <sip:IM-ClientA@df7jal23ls0d.invalid;transport=ws>;+g.oma.sip-im;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1;expires=600
Supported: path, outbound, gruu
Expires: 600
Content-Length: 0

";

#[test]
fn seed_register_with_oma_feature_tag() {
    let m = Message::parse(crlf(REGISTER_1).as_bytes()).unwrap();
    m.validate().unwrap();
    assert_eq!(m.method(), Some(&Method::Register));
    let Some(Contacts::List(c)) = m.contacts().unwrap() else {
        panic!("contacts")
    };
    assert_eq!(c.len(), 1);
    assert!(c[0].params.has("+g.oma.sip-im"));
    assert_eq!(c[0].params.value("+g.oma.sip-im"), Some(None));
    assert_eq!(
        c[0].instance(),
        Some("<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>")
    );
    assert_eq!(c[0].reg_id(), Some(1));
    assert_eq!(c[0].expires(), Some(600));
    assert_eq!(c[0].uri.params().str("transport"), Some("ws"));
    let via = m.top_via().unwrap();
    assert_eq!(via.transport, "WSS");
    assert_eq!(via.rport(), Some(None));
    assert_eq!(via.host, Host::Name("df7jal23ls0d.invalid".into()));
    let auth = m.authorization().unwrap();
    assert_eq!(auth[0].scheme, "Digest");
    assert_eq!(auth[0].param("nonce"), Some(""));
    assert_eq!(
        auth[0].param("username"),
        Some("IM-UserA-private@networkA.net")
    );
    assert_eq!(m.supported().unwrap(), ["path", "outbound", "gruu"]);
    assert_eq!(m.user_agent(), Some("IM-client/OMA1.0 Acme-Talk5000/v1.01"));
}

#[test]
fn seed_401_with_several_challenges() {
    let text = crlf("SIP/2.0 401 Unauthorized
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds7;rport=50123;received=192.0.2.4
From: <sip:IM-UserA@networkA.net>;tag=4fa3
To: <sip:IM-UserA@networkA.net>;tag=srv1
Call-ID: apb03a0s09dkjdfglkj49111
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm=\"registrar.networkA.net\", nonce=\"I1U8vpY3qJ0hiuZNrke/NVXzKLQ1d7m5Sp/6w1Tfr7M=\", algorithm=AKAv1-MD5, qop=\"auth,auth-int\"
WWW-Authenticate: Digest realm=\"networkA.net\", nonce=\"abc,def\", algorithm=SHA-256, qop=\"auth\", Digest realm=\"networkA.net\", nonce=\"x\", algorithm=MD5, stale=true
Content-Length: 0

");
    let m = Message::parse(text.as_bytes()).unwrap();
    m.validate().unwrap();
    assert_eq!(m.status(), Some(401));
    assert_eq!(m.reason(), Some("Unauthorized"));
    let ch = m.www_authenticate().unwrap();
    assert_eq!(ch.len(), 3);
    assert_eq!(ch[0].param("algorithm"), Some("AKAv1-MD5"));
    assert_eq!(ch[0].param("qop"), Some("auth,auth-int"));
    assert_eq!(ch[1].param("nonce"), Some("abc,def"));
    assert_eq!(ch[2].param("stale"), Some("true"));
    let via = m.top_via().unwrap();
    assert_eq!(via.rport(), Some(Some(50123)));
    assert_eq!(via.received(), Some("192.0.2.4"));
    assert_eq!(m.to().unwrap().tag(), Some("srv1"));
}

#[test]
fn seed_publish_with_xml_body_and_utf8() {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<service-settings xmlns=\"urn:oma:xml:im:service-settings\"><entity id=\"sip:IM-UserA@networkA.net\"/></service-settings>é";
    let text = format!(
        "PUBLISH sip:IM-UserA@networkA.net SIP/2.0\r\n\
Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n\
Max-Forwards: 70\r\n\
From: <sip:IM-UserA@networkA.net>;tag=1\r\n\
To: <sip:IM-UserA@networkA.net>\r\n\
Call-ID: x1\r\n\
CSeq: 3 PUBLISH\r\n\
P-Preferred-Identity: \"IM User A\" <sip:IM-UserA@networkA.net>\r\n\
Accept-Contact: *;+g.oma.sip-im;require;explicit\r\n\
Event: service-settings\r\n\
Expires: 3600\r\n\
Content-Type: application/service-settings+xml\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let m = Message::parse(text.as_bytes()).unwrap();
    m.validate().unwrap();
    assert_eq!(m.body(), body.as_bytes());
    assert_eq!(m.event().unwrap().unwrap().value, "service-settings");
    assert!(m
        .content_type()
        .unwrap()
        .unwrap()
        .is("application/service-settings+xml"));
    let ppi = m.p_preferred_identity().unwrap();
    assert_eq!(ppi[0].display.as_deref(), Some("IM User A"));
    let ac = m.accept_contact().unwrap();
    assert!(
        ac[0].params.has("+g.oma.sip-im")
            && ac[0].params.has("require")
            && ac[0].params.has("explicit")
    );
    assert_eq!(m.expires().unwrap(), Some(3600));
}

#[test]
fn seed_200_with_identity_routes_and_contacts() {
    let text = crlf("SIP/2.0 200 OK
Via: SIP/2.0/WS a.invalid;branch=z9hG4bK2
From: <sip:IM-UserA@networkA.net>;tag=1
To: <sip:IM-UserA@networkA.net>;tag=9
Call-ID: x1
CSeq: 2 REGISTER
P-Asserted-Identity: <sip:IM-ServerA@networkA.net>
Server: IM-serv/OMA1.0
Contact: <sip:a@a.invalid;transport=ws>;expires=300;+sip.instance=\"<urn:uuid:1>\";reg-id=1;pub-gruu=\"sip:alice@networkA.net;gr=urn:uuid:1\",
  <sip:b@b.invalid;transport=ws>;expires=120
Service-Route: <sip:orig@scscf.networkA.net;lr>
Path: <sip:pcscf.networkA.net;lr>
P-Associated-URI: <sip:IM-UserA@networkA.net>, <tel:+1-555-0100>
SIP-ETag: dx200xyz
Min-Expires: 60
Retry-After: 18 (maintenance);duration=60
Date: Sat, 13 Nov 2010 23:29:00 GMT
Allow: INVITE, MESSAGE, OPTIONS, NOTIFY
Content-Length: 0

");
    let m = Message::parse(text.as_bytes()).unwrap();
    m.validate().unwrap();
    let c = m.contact_list().unwrap();
    assert_eq!(c.len(), 2, "folded continuation joins the second contact");
    assert_eq!(
        c[0].pub_gruu(),
        Some("sip:alice@networkA.net;gr=urn:uuid:1")
    );
    assert_eq!(c[1].expires(), Some(120));
    assert_eq!(
        m.service_route().unwrap()[0].uri.as_str(),
        "sip:orig@scscf.networkA.net;lr"
    );
    let pau = m.p_associated_uri().unwrap();
    assert_eq!(pau[1].uri.scheme(), &Scheme::Tel);
    assert_eq!(m.sip_etag().unwrap().as_deref(), Some("dx200xyz"));
    assert_eq!(m.min_expires().unwrap(), Some(60));
    let ra = m.retry_after().unwrap().unwrap();
    assert_eq!(
        (ra.seconds, ra.comment.as_deref()),
        (18, Some("maintenance"))
    );
    assert_eq!(
        m.p_asserted_identity().unwrap()[0].uri.as_str(),
        "sip:IM-ServerA@networkA.net"
    );
    assert_eq!(m.server(), Some("IM-serv/OMA1.0"));
    assert_eq!(m.allow().unwrap().len(), 4);
}

#[test]
fn content_length_counts_bytes_and_ignores_trailing_octets() {
    let text = "MESSAGE sip:b@x SIP/2.0\r\nl: 6\r\n\r\nhéllo and more";
    let m = Message::parse(text.as_bytes()).unwrap();
    assert_eq!(m.body(), "héllo".as_bytes());
    // No Content-Length: the rest of the frame.
    let m = Message::parse(b"MESSAGE sip:b@x SIP/2.0\r\nTo: <sip:b@x>\r\n\r\nhi there").unwrap();
    assert_eq!(m.body(), b"hi there");
}

#[test]
fn framing_errors_are_typed() {
    let e = |t: &str| Message::parse(t.as_bytes()).unwrap_err();
    assert_eq!(e(""), ParseError::Framing(FramingError::Empty));
    assert_eq!(e("\r\n\r\n"), ParseError::Framing(FramingError::Empty));
    assert_eq!(
        e("OPTIONS sip:x SIP/2.0\r\nTo: <sip:x>\r\n"),
        ParseError::Framing(FramingError::Incomplete)
    );
    assert_eq!(
        e("OPTIONS sip:x SIP/2.0\r\nl: -1\r\n\r\n"),
        ParseError::Framing(FramingError::BadContentLength)
    );
    assert_eq!(
        e("OPTIONS sip:x SIP/2.0\r\nl: abc\r\n\r\n"),
        ParseError::Framing(FramingError::BadContentLength)
    );
    assert_eq!(
        e("OPTIONS sip:x SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab"),
        ParseError::Framing(FramingError::ConflictingContentLength)
    );
    assert!(matches!(
        e("OPTIONS sip:x SIP/2.0\r\nl: 100\r\n\r\nab"),
        ParseError::Framing(FramingError::ContentLengthTooLarge {
            declared: 100,
            available: 2
        })
    ));
    assert_eq!(
        e("OPTIONS sip:x SIP/2.0\r\nno colon here\r\n\r\n"),
        ParseError::Framing(FramingError::BadHeaderLine)
    );
    assert_eq!(
        e("OPTIONS sip:x SIP/3.0\r\n\r\n"),
        ParseError::UnsupportedVersion("SIP/3.0".into())
    );
    assert!(matches!(
        e("SIP/2.0 99 Low\r\n\r\n"),
        ParseError::StartLine(_)
    ));
    assert!(matches!(
        e("SIP/2.0 700 High\r\n\r\n"),
        ParseError::StartLine(_)
    ));
    assert_eq!(
        Message::parse(b"\xff\xfe\r\n\r\n").unwrap_err(),
        ParseError::Framing(FramingError::NotUtf8)
    );
}

#[test]
fn responses_with_empty_and_utf8_reasons() {
    let m = Message::parse(b"SIP/2.0 200 \r\n\r\n").unwrap();
    assert_eq!(m.reason(), Some(""));
    let m = Message::parse("SIP/2.0 480 Ñot here ✓\r\n\r\n".as_bytes()).unwrap();
    assert_eq!(m.reason(), Some("Ñot here ✓"));
}

#[test]
fn header_names_compact_and_case_insensitive() {
    let text = "MESSAGE sip:b@x SIP/2.0\r\nv: SIP/2.0/ws h.invalid;branch=z9hG4bKa\r\nf: <sip:a@x>;tag=1\r\nt: sip:b@x\r\ni: c1\r\nCSEQ: 2 MESSAGE\r\nm: <sip:a@h.invalid;transport=ws>\r\nk: path\r\nc: text/plain\r\no: presence\r\nu: presence\r\nX-Custom: whatever, \"odd\r\nl: 0\r\n\r\n";
    let m = Message::parse(text.as_bytes()).unwrap();
    m.validate().unwrap();
    assert_eq!(m.header("Call-ID"), Some("c1"));
    assert_eq!(m.header("cseq"), Some("2 MESSAGE"));
    assert_eq!(m.top_via().unwrap().transport, "WS");
    assert_eq!(m.event().unwrap().unwrap().value, "presence");
    assert_eq!(
        m.header("x-custom"),
        Some("whatever, \"odd"),
        "unknown headers are kept verbatim, never fatal"
    );
    assert_eq!(
        HeaderName::parse("X-Custom"),
        HeaderName::Other("X-Custom".into())
    );
    let names: Vec<_> = m.headers().map(|(n, _)| n).collect();
    assert_eq!(names[0], "v");
}

#[test]
fn repeated_and_comma_separated_lists_keep_order() {
    let text = crlf("OPTIONS sip:x@y SIP/2.0
Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1, SIP/2.0/UDP [2001:db8::1]:5070;branch=z9hG4bK2;received=2001:db8::1
Via: SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK3
Route: <sip:p1.example.net;lr>, <sip:p2.example.net;lr>
Route: <sip:p3.example.net;lr>
From: \"Doe, John\" <sip:j@x>;tag=1
To: sip:x@y
Call-ID: c
CSeq: 1 OPTIONS
Contact: \"a,b\" <sip:a@b>, <sip:c@d;x=1>;q=0.5

");
    let m = Message::parse(text.as_bytes()).unwrap();
    m.validate().unwrap();
    let via = m.via().unwrap();
    assert_eq!(via.len(), 3);
    assert_eq!(via[1].host, Host::Ipv6("2001:db8::1".parse().unwrap()));
    assert_eq!(via[1].port, Some(5070));
    assert_eq!(via[2].branch(), Some("z9hG4bK3"));
    let routes: Vec<_> = m
        .route()
        .unwrap()
        .into_iter()
        .map(|r| r.uri.to_string())
        .collect();
    assert_eq!(
        routes,
        [
            "sip:p1.example.net;lr",
            "sip:p2.example.net;lr",
            "sip:p3.example.net;lr"
        ]
    );
    assert_eq!(m.from().unwrap().display.as_deref(), Some("Doe, John"));
    let c = m.contact_list().unwrap();
    assert_eq!(c[0].display.as_deref(), Some("a,b"));
    assert_eq!(c[1].q(), Some("0.5"));
}

#[test]
fn typed_read_errors_name_the_header() {
    let base = |extra: &str| {
        crlf(&format!(
            "OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:x@y>\nCall-ID: c\nCSeq: 1 OPTIONS\n{extra}\n"
        ))
    };
    let err = |extra: &str| {
        let t = base(extra);
        Message::parse(t.as_bytes())
            .unwrap()
            .validate()
            .unwrap_err()
    };
    let name_of = |e: ParseError| match e {
        ParseError::Header(h) => h.name,
        other => panic!("{other:?}"),
    };
    assert_eq!(name_of(err("Max-Forwards: 256\n")), "Max-Forwards");
    assert_eq!(name_of(err("Expires: soon\n")), "Expires");
    assert_eq!(name_of(err("Contact: <sip:a@b\n")), "Contact");
    assert_eq!(name_of(err("Content-Type: text\n")), "Content-Type");
    assert_eq!(name_of(err("Event: ;id=1\n")), "Event");
    assert_eq!(name_of(err("Route: sip:no-angle@x\n")), "Route");
    assert_eq!(name_of(err("Date: yesterday\n")), "Date");
    assert_eq!(
        name_of(err("WWW-Authenticate: Digest realm=\"x\n")),
        "WWW-Authenticate"
    );
    assert_eq!(name_of(err("Subscription-State: \n")), "Subscription-State");
    assert_eq!(name_of(err("Require: a b\n")), "Require");
    let t = crlf("OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:x@y>\nCall-ID: c\nCSeq: 2147483648 OPTIONS\n\n");
    assert_eq!(
        name_of(Message::parse(t.as_bytes()).unwrap().cseq().unwrap_err()),
        "CSeq"
    );
    let t = crlf("OPTIONS sip:x@y SIP/2.0\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\nFrom: <sip:a@x>;tag=1\nTo: <sip:x@y>\nCSeq: 1 OPTIONS\n\n");
    assert_eq!(
        Message::parse(t.as_bytes())
            .unwrap()
            .validate()
            .unwrap_err(),
        ParseError::Validation(ValidationError::Missing("Call-ID"))
    );
}

#[test]
fn display_names_in_rfc4475_baddn_rejected_even_when_terminated() {
    let mut raw = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/corpora/rfc4475/baddn.dat"
    ))
    .unwrap();
    raw.extend_from_slice(b"\r\n");
    let m = Message::parse(&raw).unwrap();
    assert!(matches!(m.validate(), Err(ParseError::Header(h)) if h.name == "From"));
}

#[test]
fn uris_parse_and_print_round_trip() {
    for s in [
        "sip:alice@imsip.test",
        "sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?Subject=hi&Priority=urgent",
        "sip:%61lice;phone-context=x@192.0.2.1:5060;maddr=239.255.255.1;ttl=15",
        "sip:+1-555-0100;npdi@gw.example.com;user=phone",
        "tel:+1-201-555-0123;phone-context=example.com",
        "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
        "im:alice@example.com",
        "sip:1234#56@pbx.example.com",
    ] {
        let u = Uri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(u.to_string(), s);
    }
    let u = Uri::parse("sip:%61lice@Example.COM:5070;transport=ws?h=v").unwrap();
    assert_eq!(u.user_decoded().as_deref(), Some("alice"));
    assert_eq!(u.port(), Some(5070));
    assert_eq!(u.params().str("transport"), Some("ws"));
    assert_eq!(u.headers(), [("h".to_string(), "v".to_string())]);
    assert!(u.same_aor(&Uri::parse("sip:alice@example.com").unwrap()));
    for bad in [
        "sip:",
        "sip:a@",
        "sip:a@[::1",
        "sip:a@host:99999",
        "sip:a b@c",
        "1x:foo",
        "sip:a@[1:2:3]",
    ] {
        assert!(Uri::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn builder_round_trips_and_computes_length_in_bytes() {
    let msg = MessageBuilder::request(Method::Message, Uri::parse("sip:bob@imsip.test").unwrap())
        .header("Via", "SIP/2.0/WS h.invalid;branch=z9hG4bK9;rport")
        .header(HeaderName::MaxForwards, 70)
        .header("From", "<sip:alice@imsip.test>;tag=a1")
        .header("To", "<sip:bob@imsip.test>")
        .header("Call-ID", "k1")
        .header("CSeq", "1 MESSAGE")
        .header("X-Injected", "a\r\nEvil: 1")
        .body(Some("text/plain;charset=UTF-8"), "héllo ✓")
        .build();
    let text = msg.to_string();
    assert!(text.starts_with("MESSAGE sip:bob@imsip.test SIP/2.0\r\nVia: "));
    assert!(text.contains("Content-Length: 10\r\n\r\nhéllo ✓"));
    assert!(!text.contains("\r\nEvil"), "a value cannot inject a header");
    let parsed = Message::parse(text.as_bytes()).unwrap();
    parsed.validate().unwrap();
    assert_eq!(parsed, msg);
    assert_eq!(
        parsed.to_string(),
        text,
        "building a parsed message reproduces its headers"
    );
    let reply = MessageBuilder::reply(&parsed, 200, "OK", Some("t9")).build();
    let r = Message::parse(reply.to_bytes().as_slice()).unwrap();
    r.validate().unwrap();
    assert_eq!(r.to().unwrap().tag(), Some("t9"));
    assert_eq!(r.cseq().unwrap().method, Method::Message);
    assert!(matches!(
        r.start_line(),
        StartLine::Response { status: 200, .. }
    ));
}

#[test]
fn parse_never_panics_on_truncations_of_valid_messages() {
    let full = crlf(REGISTER_1);
    for i in 0..full.len() {
        if let Some(prefix) = full.get(..i) {
            if let Ok(m) = Message::parse(prefix.as_bytes()) {
                let _ = m.validate();
            }
        }
    }
    let bytes = full.as_bytes();
    for i in 0..bytes.len() {
        let mut b = bytes.to_vec();
        b[i] = b"\x00\"<>;,:@[]\t\r\n\xff"[i % 14];
        if let Ok(m) = Message::parse(&b) {
            let _ = m.validate();
            let _ = m.contacts();
            let _ = m.authorization();
        }
    }
}

#[test]
fn top_via_honours_quoted_commas_in_parameters() {
    let t = "OPTIONS sip:x@y SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1;x=\"a,b\", SIP/2.0/WS b.invalid;branch=z9hG4bK2\r\n\r\n";
    let m = Message::parse(t.as_bytes()).unwrap();
    let v = m.top_via().unwrap();
    assert_eq!(v.params.str("x"), Some("a,b"));
    assert_eq!(m.via().unwrap().len(), 2);
}

#[test]
fn a_via_of_another_protocol_version_is_kept_not_refused() {
    // RFC 3261 §25.1: sent-protocol = protocol-name SLASH protocol-version SLASH
    // transport, the name "SIP" or a token, the version a token (JsSIP's parser
    // test has `SIP /  3.0 \r\n / UDP`). It is read and written back as it came.
    let t = "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n\
             Via: SIP /  3.0 \r\n / udp [1:ab::FF]:6060 ;BRanch=1234;rport=1111\r\n\
             Via: XSIP/1.0/TCP b.example\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\
             Content-Length: 0\r\n\r\n";
    let m = Message::parse(t.as_bytes()).unwrap();
    m.validate().unwrap();
    let vias = m.via().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].protocol, "SIP/2.0");
    assert_eq!(vias[1].protocol, "SIP/3.0");
    assert_eq!(vias[1].transport, "UDP");
    assert_eq!(vias[1].port, Some(6060));
    assert_eq!(vias[1].branch(), Some("1234"));
    assert_eq!(vias[1].rport(), Some(Some(1111)));
    assert_eq!(vias[2].protocol, "XSIP/1.0");
    for v in &vias {
        assert_eq!(Via::parse(&v.to_string()).as_ref(), Ok(v));
    }
    assert_eq!(
        vias[1].to_string(),
        "SIP/3.0/UDP [1:ab::ff]:6060;BRanch=1234;rport=1111"
    );
    // Still refused: a sent-protocol that is not three tokens.
    assert!(Via::parse("SIP/2.0 a.invalid").is_err());
    assert!(Via::parse("SIP//WS a.invalid").is_err());
}

#[test]
fn header_names_are_recognised_in_any_case_and_long_names_are_extensions() {
    for (wire, canon) in [
        ("via", "Via"),
        ("VIA", "Via"),
        ("call-id", "Call-ID"),
        ("CALL-ID", "Call-ID"),
        ("cSeQ", "CSeq"),
        ("www-authenticate", "WWW-Authenticate"),
        ("p-preferred-identity", "P-Preferred-Identity"),
        ("Subscription-STATE", "Subscription-State"),
        ("mime-version", "MIME-Version"),
    ] {
        let name = HeaderName::parse(wire);
        assert!(!matches!(name, HeaderName::Other(_)), "{wire}");
        assert_eq!(name.as_str(), canon, "{wire}");
    }
    // Near misses and names longer than any known one stay extension headers, verbatim.
    for other in [
        "Vias",
        "Call-IDs",
        "P-Preferred-Identity-X",
        "X-A-Very-Long-Extension-Header-Name",
        "WWW-Authenticate-And-Then-Some-More",
    ] {
        assert_eq!(HeaderName::parse(other), HeaderName::Other(other.into()));
        assert_eq!(HeaderName::parse(other).as_str(), other);
    }
}

/// The codec reads and prints IP addresses itself (not through `core::net`, 5 KB of
/// wasm); what it accepts and the text it prints must stay std's exactly.
/// `[v6]` and `v4` read by the codec as `std::net` reads them (the same address, or both
/// refused), and an IPv6 host printed as std prints it, in brackets.
fn reads_as_std_does(v6: &str, v4: &str) {
    let host = Host::parse(&format!("[{v6}]")).ok();
    assert_eq!(host, v6.parse::<Ipv6Addr>().ok().map(Host::Ipv6), "[{v6}]");
    if let Some(Host::Ipv6(a)) = host {
        assert_eq!(Host::Ipv6(a).to_string(), format!("[{a}]"));
    }
    let std_v4 = v4.parse::<Ipv4Addr>().ok();
    match Host::parse(v4) {
        Ok(Host::Ipv4(a)) => assert_eq!(Some(a), std_v4, "{v4}"),
        _ => assert_eq!(std_v4, None, "{v4}"),
    }
}

#[test]
fn ip_addresses_are_read_and_printed_as_std_does() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    const PIECES: [&str; 16] = [
        ":", "::", ".", "0", "00", "1", "25", "255", "256", "012", "ffff", "FfFf", "abcde", "0000",
        "1.2.3.4", "9",
    ];
    for _ in 0..200_000 {
        let mut s = String::new();
        for _ in 0..next() % 12 {
            let r = next();
            if r % 5 == 0 {
                s.push(char::from(
                    b"0123456789abcdefABCDEF:.x"[(r >> 8) as usize % 25],
                ));
            } else {
                s.push_str(PIECES[(r >> 8) as usize % PIECES.len()]);
            }
        }
        reads_as_std_does(&s, &s);
    }
    // Shaped like addresses: groups (some empty, giving "::"), then maybe a dotted tail.
    const GROUPS: [&str; 8] = ["", "", "0", "1", "ffff", "0000", "abcde", "Fa9"];
    const OCTETS: [&str; 8] = ["0", "00", "01", "1", "99", "255", "256", "1000"];
    for _ in 0..200_000 {
        let mut s = String::new();
        for i in 0..next() % 10 {
            if i > 0 {
                s.push(':');
            }
            s.push_str(GROUPS[next() as usize % GROUPS.len()]);
        }
        let mut dotted = String::new();
        if next() % 2 == 0 {
            for i in 0..3 + next() % 3 {
                if i > 0 {
                    dotted.push('.');
                }
                dotted.push_str(OCTETS[next() as usize % OCTETS.len()]);
            }
            if !s.is_empty() {
                s.push(':');
            }
            s.push_str(&dotted);
        }
        reads_as_std_does(&s, &dotted);
    }
    for _ in 0..100_000 {
        let r = next();
        let mut g = [0u16; 8];
        for (i, v) in g.iter_mut().enumerate() {
            *v = match (r >> (i * 3)) & 7 {
                0..=3 => 0,
                4 => 0xffff,
                5 => (next() & 0xf) as u16,
                _ => next() as u16,
            };
        }
        let a = Ipv6Addr::from(g);
        assert_eq!(Host::Ipv6(a).to_string(), format!("[{a}]"));
        let b = Ipv4Addr::from((next() as u32).to_be_bytes());
        assert_eq!(Host::Ipv4(b).to_string(), b.to_string());
        let m = b.to_ipv6_mapped();
        assert_eq!(Host::Ipv6(m).to_string(), format!("[{m}]"));
    }
}

/// One framing pass serves every reader: `framing()` says where the start line, the
/// headers and the body were in the frame, and `header_offset` where a header value lent
/// out by the message was (what the JS parse index points at instead of framing again).
#[test]
fn framing_and_header_offsets_point_into_the_frame() {
    for (lead, eol) in [("", "\r\n"), ("\r\n\r\n", "\r\n"), ("\n", "\n")] {
        let frame = format!(
            "{lead}MESSAGE sip:bob@example.com SIP/2.0{eol}Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK1{eol}\
             Call-ID:   abc@x  {eol}Subject: one{eol} two{eol}Content-Length: 5{eol}{eol}héllo-and-more"
        );
        let msg = Message::from_str(&frame).unwrap();
        let f = msg.framing().expect("a parsed message has its framing");
        assert_eq!(f.start_line, lead.len());
        assert!(frame[f.start_line..f.headers].starts_with("MESSAGE sip:bob@example.com SIP/2.0"));
        assert!(frame[f.start_line..f.headers].ends_with('\n'));
        assert!(frame[f.headers..].starts_with("Via:"));
        assert!(frame[..f.body].ends_with(&format!("{eol}{eol}")));
        assert_eq!(
            &frame.as_bytes()[f.body..f.body + msg.body().len()],
            msg.body()
        );
        // A value as stored: its range in the frame holds the same text.
        let call_id = msg.header(HeaderName::CallId).unwrap();
        let (s, e) = msg.header_offset(call_id).expect("a stored value");
        assert_eq!(&frame[s..e], "abc@x");
        // An unfolded value is a new string, not a slice of the frame.
        let subject = msg.header(HeaderName::Subject).unwrap();
        assert_eq!(subject, "one two");
        assert_eq!(msg.header_offset(subject), None);
        // Any other string is not the message's.
        assert_eq!(msg.header_offset("abc@x"), None);
    }
    let built =
        MessageBuilder::request(Method::Message, "sip:bob@example.com".parse().unwrap()).build();
    assert_eq!(built.framing(), None);
}
