//! RFC 3994 isComposing documents: `IsComposing::decode` never panics; what decodes
//! encodes to a document that decodes to the same indication, and encoding is a fixpoint.
//! (The same invariants run on stable in `tests/iscomposing.rs`.)
#![no_main]
use imsip::im::iscomposing::IsComposing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(c) = IsComposing::decode(data) else {
        return;
    };
    assert_ne!(c.refresh, Some(0));
    assert_ne!(c.content_type.as_deref(), Some(""));
    let _ = c.active_timeout_secs();
    let text = c.encode();
    match IsComposing::decode(text.as_bytes()) {
        Ok(again) => {
            assert_eq!(again, c, "decode(encode(x)) != x\n{text}");
            assert_eq!(again.encode(), text, "encoding is not a fixpoint");
        }
        Err(e) => panic!("an encoded indication does not decode: {e}\n{text}"),
    }
});
