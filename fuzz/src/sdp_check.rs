//! The SDP codec's fuzz invariant, shared by `fuzz_targets/sdp.rs` and `tests/sdp.rs`
//! (which includes this file with `#[path]`), so stable CI checks the property
//! libFuzzer checks on nightly. SDP comes from the peer (an INVITE's offer, a 2xx's
//! answer): `imsip::client` reads it with `SessionDescription::parse` and `msrp()`.
#![allow(dead_code)]

use imsip::msrp::MsrpUri;
use imsip::sdp::SessionDescription;

/// Parsing never panics; what parses encodes to text that parses back to the same
/// description and encodes to the same text; reading its MSRP media and each path URI
/// never panics, and the media written back as a description reads back equal.
pub fn check_sdp(data: &[u8]) {
    let Ok(d) = SessionDescription::parse(data) else {
        return;
    };
    let text = d.encode();
    match SessionDescription::parse(text.as_bytes()) {
        Ok(again) => {
            assert_eq!(again, d, "parse(encode(x)) != x\n{text}");
            assert_eq!(again.encode(), text, "encoding is not a fixpoint");
        }
        Err(e) => panic!("an encoded description does not parse: {e}\n{text}"),
    }
    let Some(media) = d.msrp() else {
        return;
    };
    for uri in &media.path {
        let _ = MsrpUri::parse(uri);
    }
    let _ = media.accepts("text/plain");
    let rewritten = media.description("x.invalid", 1, 1).encode();
    let back = SessionDescription::parse(rewritten.as_bytes())
        .unwrap_or_else(|e| panic!("written MSRP media does not parse: {e}\n{rewritten}"));
    assert_eq!(back.msrp().as_ref(), Some(&media), "{rewritten}");
}
