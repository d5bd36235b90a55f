//! A UserAgent fed arbitrary commands, inputs and frames (see `src/ua_driver.rs`):
//! never panics, every OpId completes exactly once, every frame it sends parses.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imsip_fuzz::ua_driver::run_bytes(data));
