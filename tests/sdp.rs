//! The SDP codec for MSRP sessions (RFC 8866, RFC 4975 §8, RFC 7977 §6).
#![cfg(not(target_arch = "wasm32"))]

use imsip::sdp::{MsrpMedia, SdpError, SessionDescription, MAX_LINES, MAX_SDP_BYTES};
use proptest::prelude::*;

// The invariant lives in fuzz/src/sdp_check.rs, shared with the fuzz target.
#[path = "../fuzz/src/sdp_check.rs"]
mod sdp_check;
use sdp_check::check_sdp;

/// An offer shaped like RFC 4975 §7.1's, re-typed for a WebSocket client.
const OFFER: &str = "v=0\r\n\
o=alice 2890844526 2890844527 IN IP4 alice.invalid\r\n\
s=-\r\n\
c=IN IP4 alice.invalid\r\n\
t=0 0\r\n\
m=message 9 TCP/WSS/MSRP *\r\n\
a=accept-types:message/cpim text/plain text/html\r\n\
a=accept-wrapped-types:*\r\n\
a=max-size:1048576\r\n\
a=path:msrps://relay.example.com:2855/hjdhfha;tcp msrps://alice.invalid:2855/9di4eae923wzd;ws\r\n\
a=setup:active\r\n";

#[test]
fn an_msrp_offer_is_read_and_written_back_as_it_was() {
    let sdp = SessionDescription::parse(OFFER.as_bytes()).unwrap();
    assert_eq!(sdp.encode(), OFFER);
    let m = sdp.msrp().unwrap();
    assert_eq!(m.proto, "TCP/WSS/MSRP");
    assert_eq!(
        m.path,
        [
            "msrps://relay.example.com:2855/hjdhfha;tcp",
            "msrps://alice.invalid:2855/9di4eae923wzd;ws"
        ]
    );
    assert_eq!(m.accept_types, ["message/cpim", "text/plain", "text/html"]);
    assert_eq!(m.accept_wrapped_types, ["*"]);
    assert_eq!(m.max_size, Some(1_048_576));
    assert_eq!(m.setup.as_deref(), Some("active"));
    assert!(m.accepts("text/plain;charset=UTF-8"));
    assert!(!m.accepts("image/png"));
}

#[test]
fn a_description_made_from_msrp_media_reads_back_equal() {
    let media = MsrpMedia {
        proto: "TCP/WSS/MSRP".into(),
        path: vec!["msrps://bob.invalid:2855/s3cr3t;ws".into()],
        accept_types: vec!["text/plain".into(), "application/*".into()],
        accept_wrapped_types: vec![],
        max_size: None,
        setup: Some("passive".into()),
    };
    let text = media.description("bob.invalid", 7, 1).encode();
    assert!(text.starts_with("v=0\r\no=- 7 1 IN IP4 bob.invalid\r\ns=-\r\n"));
    assert!(text.contains("m=message 9 TCP/WSS/MSRP *\r\n"));
    let back = SessionDescription::parse(text.as_bytes())
        .unwrap()
        .msrp()
        .unwrap();
    assert_eq!(back, media);
    assert!(back.accepts("application/octet-stream"));
}

#[test]
fn lf_line_ends_and_other_media_are_tolerated() {
    let text = "v=0\no=- 1 1 IN IP4 h.invalid\ns=-\nt=0 0\nm=audio 0 RTP/AVP 0\nm=message 9 TCP/MSRP *\na=path:msrp://h.invalid:2855/x;tcp\n\n";
    let sdp = SessionDescription::parse(text.as_bytes()).unwrap();
    assert_eq!(sdp.media.len(), 2);
    assert_eq!(sdp.msrp().unwrap().path, ["msrp://h.invalid:2855/x;tcp"]);
}

#[test]
fn rejected_or_pathless_msrp_media_is_none() {
    let rejected = OFFER.replace("m=message 9", "m=message 0");
    assert_eq!(
        SessionDescription::parse(rejected.as_bytes())
            .unwrap()
            .msrp(),
        None
    );
    let pathless: String = OFFER
        .lines()
        .filter(|l| !l.starts_with("a=path"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        SessionDescription::parse(pathless.as_bytes())
            .unwrap()
            .msrp(),
        None
    );
}

#[test]
fn hostile_descriptions_are_typed_errors() {
    let parse = |s: &str| SessionDescription::parse(s.as_bytes());
    assert_eq!(parse(""), Err(SdpError::BadVersion));
    assert_eq!(parse("v=1\r\n"), Err(SdpError::BadVersion));
    assert_eq!(parse("o=- 1 1 IN IP4 h\r\n"), Err(SdpError::BadVersion));
    assert_eq!(
        parse("v=0\r\nhello\r\n"),
        Err(SdpError::BadLine { line: 2 })
    );
    assert_eq!(parse("v=0\r\nX=1\r\n"), Err(SdpError::BadLine { line: 2 }));
    assert_eq!(
        parse("v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n"),
        Err(SdpError::Missing("s"))
    );
    assert_eq!(
        parse("v=0\r\no=- 1\r\ns=-\r\nt=0 0\r\n"),
        Err(SdpError::BadField { kind: 'o', line: 2 })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=message x TCP/MSRP *\r\n"),
        Err(SdpError::BadField { kind: 'm', line: 5 })
    );
    assert_eq!(
        parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/MSRP\r\n"),
        Err(SdpError::BadField { kind: 'm', line: 5 })
    );
    assert_eq!(
        SessionDescription::parse(b"v=0\r\n\xff\r\n"),
        Err(SdpError::NotUtf8)
    );
    let huge = "v=0\r\n".to_owned() + &"a=x\r\n".repeat(MAX_SDP_BYTES / 5);
    assert_eq!(parse(&huge), Err(SdpError::TooLarge));
    let many =
        "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\n".to_owned() + &"a=x\r\n".repeat(MAX_LINES);
    assert_eq!(parse(&many), Err(SdpError::TooLarge));
    for e in [
        SdpError::TooLarge,
        SdpError::NotUtf8,
        SdpError::Missing("t"),
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn no_prefix_of_an_offer_panics() {
    for end in 0..=OFFER.len() {
        let _ = SessionDescription::parse(&OFFER.as_bytes()[..end]);
    }
}

/// Lines an SDP is made of, right and wrong.
fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("v=0".to_owned()),
        Just("o=- 1 1 IN IP4 a.invalid".to_owned()),
        Just("s=-".to_owned()),
        Just("t=0 0".to_owned()),
        Just("c=IN IP4 a.invalid".to_owned()),
        Just("m=message 9 TCP/WSS/MSRP *".to_owned()),
        Just("m=message 0 TCP/MSRP *".to_owned()),
        Just("m=audio 9 RTP/AVP 0".to_owned()),
        "a=path:[ -~]{0,60}",
        "a=(accept-types|accept-wrapped-types|max-size|setup):[ -~]{0,30}",
        "[a-z]=[ -~]{0,20}",
        "[ -~]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn descriptions_from_lines_keep_the_fuzz_invariant(lines in prop::collection::vec(line(), 0..14), lf in any::<bool>()) {
        let end = if lf { "\n" } else { "\r\n" };
        check_sdp(lines.join(end).as_bytes());
    }

    #[test]
    fn mutated_offers_keep_the_fuzz_invariant(at in 0..OFFER.len(), byte in any::<u8>(), cut in any::<bool>()) {
        let mut bytes = OFFER.as_bytes().to_vec();
        bytes[at] = byte;
        if cut {
            bytes.truncate(at);
        }
        check_sdp(&bytes);
    }
}
