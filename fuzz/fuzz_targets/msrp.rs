//! MSRP frames (RFC 4975/4976/7977): `parse_frame` never panics; reading frame after
//! frame with `parse_frame` and feeding the bytes to a `Decoder` in three pieces give
//! the same frames and the same end; every typed read runs; paths print and parse
//! back; what parses encodes to bytes that parse to the same frame and encode to the
//! same bytes (unless the body holds its own end-line, which the encoder refuses, or
//! the canonical header section outgrows the limit). The invariant is
//! `imsip_fuzz::msrp_check::check_msrp`, which `tests/msrp_props.rs` runs on stable too.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| imsip_fuzz::msrp_check::check_msrp(data));
