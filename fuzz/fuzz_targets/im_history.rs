//! The IM history document and the wire times: `history::decode` never panics and
//! what decodes encodes to a document that decodes to the same entries; the SIP
//! `Date` and RFC 3339 parsers never panic and read back what they print.
#![no_main]
use imsip::im::history;
use imsip::message::date::{iso8601, parse_iso8601, parse_rfc3339, parse_sip_date, sip_date};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = history::decode(data) {
        let again = history::encode(&entries);
        let back = history::decode(again.as_bytes()).expect("an encoded history decodes");
        assert_eq!(back, entries);
    }
    if let Ok(text) = core::str::from_utf8(data) {
        for t in [parse_sip_date(text), parse_iso8601(text), parse_rfc3339(text)]
            .into_iter()
            .flatten()
        {
            assert_eq!(parse_sip_date(&sip_date(t)), Some(t));
            assert_eq!(parse_iso8601(&iso8601(t)), Some(t));
        }
    }
});
