//! `Message::parse` on arbitrary frames, every typed read, print → reparse round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imsip_fuzz::checks::check_message(data));
