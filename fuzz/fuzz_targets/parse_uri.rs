//! `Uri::parse` on arbitrary text; Display gives the same text back.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        imsip_fuzz::checks::check_uri(s);
    }
});
