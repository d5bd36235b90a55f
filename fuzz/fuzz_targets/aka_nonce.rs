//! `imsip::auth::decode_nonce` (and base64/hex) on arbitrary text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imsip_fuzz::checks::check_nonce(&String::from_utf8_lossy(data)));
