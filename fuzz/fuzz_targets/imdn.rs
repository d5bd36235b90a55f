//! RFC 5438 IMDN documents: `Notification::decode` never panics; what decodes has a
//! status its kind allows, encodes to a document that decodes to the same notification,
//! and encoding is a fixpoint. `DispositionRequest` parses any text and its printing
//! parses back equal. (The same invariants run on stable in `tests/imdn.rs`.)
#![no_main]
use imsip::im::imdn::{DispositionRequest, Notification};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let r = DispositionRequest::parse(text);
        assert_eq!(DispositionRequest::parse(&r.to_string()), r);
    }
    let Ok(n) = Notification::decode(data) else {
        return;
    };
    assert!(n.kind.allows(n.status), "{n:?}");
    assert!(!n.message_id.is_empty());
    let text = n.encode();
    match Notification::decode(text.as_bytes()) {
        Ok(again) => {
            assert_eq!(again, n, "decode(encode(x)) != x\n{text}");
            assert_eq!(again.encode(), text, "encoding is not a fixpoint");
        }
        Err(e) => panic!("an encoded notification does not decode: {e}\n{text}"),
    }
});
