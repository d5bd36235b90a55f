//! Randomness (the OS RNG) and wall-clock helpers.

use imsip::auth::hex_encode;
use std::time::{SystemTime, UNIX_EPOCH};

/// `N` bytes from the OS random source.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // `serve` checks at start-up that the OS RNG works; it does not stop
    // working afterwards on any supported OS, and a dev core that cannot draw
    // nonces must not go on with predictable ones.
    if let Err(e) = getrandom::fill(&mut b) {
        panic!("OS random source failed: {e}");
    }
    b
}

/// Lowercase hex of `n` random bytes (nonces, tags, branches, entity-tags).
pub(crate) fn random_hex(n: usize) -> String {
    let b: [u8; 32] = random_bytes();
    hex_encode(&b[..n.min(32)])
}

/// Checks that the OS random source works.
pub(crate) fn check_rng() -> Result<(), getrandom::Error> {
    getrandom::fill(&mut [0u8; 16])
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
