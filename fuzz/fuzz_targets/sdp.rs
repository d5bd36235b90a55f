//! SDP offers and answers as peers send them: the invariant of `fuzz/src/sdp_check.rs`
//! (also run on stable by `tests/sdp.rs`).
#![no_main]
use imsip_fuzz::sdp_check::check_sdp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check_sdp(data));
