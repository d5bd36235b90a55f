//! ServiceSettings / PocSettings decode; decode(encode(x)) == x.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imsip_fuzz::checks::check_settings(data));
