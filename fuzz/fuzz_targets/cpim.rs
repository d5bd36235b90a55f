//! `message/cpim` (RFC 3862): `CpimMessage::decode` never panics; every typed read runs;
//! what decodes encodes to bytes that decode to the same message and encode to the same
//! bytes; addresses print and parse back; every header with a namespace answers
//! `header()`. (The same invariant, `check`, runs on stable in `tests/cpim.rs`.)
#![no_main]
use imsip::im::cpim::{CpimAddress, CpimError, CpimMessage, MAX_HEADER_BYTES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = CpimMessage::decode(data) else {
        return;
    };
    let _ = (m.to_all(), m.subjects(), m.namespaces(), m.require());
    let _ = (m.date_time(), m.subject(), m.media_type(), m.body_str());
    for a in m.from().into_iter().chain(m.to_all()).chain(m.cc()) {
        let text = a.to_string();
        assert_eq!(CpimAddress::parse(&text), Some(a), "address {text:?}");
    }
    for (h, ns) in m.headers().iter().zip(m.header_namespaces()) {
        let _ = (h.lang(), h.text(), h.params());
        if let Some(ns) = ns {
            assert!(m.header(ns, h.local_name()).is_some(), "{h:?} in {ns}");
        }
    }
    let bytes = m.encode();
    match CpimMessage::decode(&bytes) {
        Ok(again) => {
            assert_eq!(again, m, "{:?}", String::from_utf8_lossy(&bytes));
            assert_eq!(again.encode(), bytes, "encoding is not a fixpoint");
        }
        // CRLF for LF and the space after each colon can push a header section that was
        // just under the limit over it.
        Err(CpimError::HeadersTooLarge { .. })
            if bytes.len() - m.body().len() > MAX_HEADER_BYTES => {}
        Err(e) => panic!(
            "an encoded message does not decode: {e}\n{:?}",
            String::from_utf8_lossy(&bytes)
        ),
    }
});
