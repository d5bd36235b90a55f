//! The MSRP codec's fuzz invariant, shared by `fuzz_targets/msrp.rs` and
//! `tests/msrp_props.rs` (which includes this file with `#[path]`), so stable CI checks
//! the property libFuzzer checks on nightly.
#![allow(dead_code)]

use imsip::msrp::{
    parse_frame, Decoder, Frame, Method, MsrpError, MsrpUri, Parsed, ResponseBuilder,
    MAX_HEADER_BYTES,
};

/// The invariant `fuzz/fuzz_targets/msrp.rs` checks: parsing never panics; reading
/// frame after frame with `parse_frame` and feeding the same bytes to a `Decoder` in
/// three pieces give the same frames and the same end (need more, or the same error);
/// every typed read runs; what parses encodes to bytes that parse back to the same
/// frame and encode to the same bytes, unless the body holds its own end-line (which
/// the parser tolerates when the flag or CRLF after it is missing, and the encoder
/// refuses) or the canonical header section outgrows the limit.
pub fn check_msrp(data: &[u8]) {
    let mut frames = Vec::new();
    let mut rest = data;
    let end = loop {
        match parse_frame(rest) {
            Ok(Parsed::Complete { frame, consumed }) => {
                assert!(
                    consumed > 0 && consumed <= rest.len(),
                    "consumed {consumed}"
                );
                frames.push(frame);
                rest = &rest[consumed..];
            }
            Ok(Parsed::NeedMore) => break None,
            Err(e) => break Some(e),
        }
    };
    let mut decoder = Decoder::new();
    let mut streamed = Vec::new();
    let mut streamed_end = None;
    let (a, b) = (data.len() / 3, 2 * data.len() / 3);
    'pieces: for piece in [&data[..a], &data[a..b], &data[b..]] {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(f)) => streamed.push(f),
                Ok(None) => break,
                Err(e) => {
                    streamed_end = Some(e);
                    break 'pieces;
                }
            }
        }
    }
    assert_eq!(streamed, frames, "decoder and parse_frame disagree");
    assert_eq!(streamed_end, end, "decoder and parse_frame end differently");

    for frame in frames {
        let _ = (frame.message_id(), frame.byte_range(), frame.status());
        let _ = (
            frame.success_report(),
            frame.failure_report(),
            frame.use_path(),
        );
        let _ = (frame.expires(), frame.min_expires(), frame.max_expires());
        let _ = (
            frame.www_authenticate(),
            frame.authorization(),
            frame.media_type(),
        );
        let _ = (
            frame.authentication_info(),
            frame.comment(),
            frame.status_code(),
        );
        for u in frame.to_path().iter().chain(frame.from_path()) {
            let text = u.to_string();
            assert_eq!(MsrpUri::parse(&text).as_ref(), Ok(u), "URI {text}");
            assert!(u.matches(u));
        }
        if frame.is_request() && frame.method() != Some(&Method::Report) {
            // A response whose paths hold URIs that filled a request to the limit may
            // itself be over it (its start line is longer).
            match ResponseBuilder::for_request(&frame, 200).unwrap().build() {
                Ok(r) => assert_eq!(Frame::parse(&r.encode().unwrap()), Ok(r)),
                Err(MsrpError::HeadersTooLarge { .. }) => {}
                Err(e) => panic!("no response to a request: {e}"),
            }
        }
        match frame.encode() {
            Ok(bytes) => match Frame::parse(&bytes) {
                Ok(again) => {
                    assert_eq!(again, frame, "{:?}", String::from_utf8_lossy(&bytes));
                    assert_eq!(again.encode().unwrap(), bytes, "encoding is not a fixpoint");
                }
                // `name:value` written `name: value` can push a header section that was
                // just under the limit over it.
                Err(MsrpError::HeadersTooLarge { .. }) if bytes.len() > MAX_HEADER_BYTES => {}
                Err(e) => panic!(
                    "an encoded frame does not parse: {e}\n{:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            },
            Err(MsrpError::BodyContainsEndLine) => {
                assert!(frame.tid().collides_with(frame.body().unwrap_or_default()));
            }
            Err(e) => panic!("encode failed: {e}"),
        }
    }
}
