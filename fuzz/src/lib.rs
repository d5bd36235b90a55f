//! Helpers of the imsip fuzz targets. The invariants live in `checks.rs` and
//! `ua_driver.rs`, which `tests/proptest_codec.rs` and `tests/proptest_ua.rs` include
//! too, so stable CI checks the same properties the fuzzer does.

pub mod checks;
pub mod msrp_check;
pub mod sdp_check;
pub mod ua_driver;
