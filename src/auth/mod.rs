//! SIP authentication: HTTP digest (RFC 2617, RFC 7616, RFC 8760, RFC 3261 §22)
//! and IMS AKA (RFC 3310 AKAv1-MD5, RFC 4169 AKAv2-MD5, Milenage from
//! 3GPP TS 35.206).
//!
//! - [`DigestSession`]: the per-realm state machine the user agent drives
//!   (`on_challenge` with the challenges of a 401/407, then `authorize` for
//!   each request).
//! - [`Challenge`], [`DigestInput`]: the pure digest computation, also usable by
//!   a server to verify a response.
//! - [`Milenage`], [`SoftUsim`], [`AkaAuthenticator`]: the AKA client, and
//!   [`generate_challenge`] / [`verify_auts`] for a server.
//!
//! Nothing here owns a random source: pass a [`RandomSource`]. Secrets live in
//! [`Secret`] and [`Key`], whose `Debug`/`Display` print `<redacted>`.

mod aka;
pub(crate) mod codec;
mod digest;
mod milenage;

pub use aka::{
    aka_password, auts, decode_nonce, generate_challenge, verify_auts, AkaAuthenticator, AkaKeys,
    AkaNonce, AkaOutcome, AkaVector, OpOrOpc, SoftUsim,
};
pub use codec::{base64_decode, base64_encode, hex_decode, hex_encode};
pub use digest::{
    AkaVersion, Algorithm, Authorization, Challenge, DigestInput, DigestSecret, DigestSession,
    Hash, Qop, SessionState,
};
pub use milenage::{Milenage, MilenageOutput};

use core::fmt;

/// A source of random bytes (cnonce). The caller supplies it: the core owns no
/// randomness of its own (`crypto.getRandomValues` in the browser).
pub trait RandomSource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// Secret bytes (a password, a hex HA1, an AKA RES). `Debug` and `Display`
/// print `<redacted>`; the bytes are overwritten on drop (best effort).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes (`&str`, `String` and `Vec<u8>` convert).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret bytes. Keep the borrow short and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.iter_mut().for_each(|b| *b = 0);
        core::hint::black_box(&self.0);
    }
}

/// A 128-bit secret key (K, OP, OPc, CK, IK). `Debug` and `Display` print
/// `<redacted>`.
#[derive(Clone)]
pub struct Key([u8; 16]);

impl Key {
    /// Wraps 16 key bytes.
    pub fn new(bytes: [u8; 16]) -> Self {
        Key(bytes)
    }

    /// Parses 32 hex digits; `None` otherwise.
    pub fn from_hex(hex: &str) -> Option<Self> {
        hex_decode(hex)?.try_into().ok().map(Key)
    }

    /// The key bytes. Never log them.
    pub fn expose(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0 = [0; 16];
        core::hint::black_box(&self.0);
    }
}

macro_rules! redacted {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("<redacted>")
            }
        }
    )*};
}
redacted!(Secret, Key);

/// Compares two byte strings in time independent of where they differ (for a
/// server checking a digest response or RES).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && core::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

/// What the client authenticates with: the private identity and a secret.
pub struct Credentials {
    /// The username (IMS: the private user identity, `user@realm`).
    pub username: String,
    /// The secret.
    pub secret: CredentialSecret,
}

/// The secret half of [`Credentials`].
pub enum CredentialSecret {
    /// A plain password.
    Password(Secret),
    /// `H(username:realm:password)` as lowercase hex, instead of the password
    /// (MD5 realms only: such credentials only answer MD5 challenges).
    Ha1(Secret),
    /// IMS AKA: only AKAv1-MD5/AKAv2-MD5 challenges are answered. A
    /// [`SoftUsim`] for keys held here, or any [`AkaAuthenticator`] (smart
    /// card, remote server).
    Aka(Box<dyn AkaAuthenticator>),
}

impl Credentials {
    /// Username and password.
    pub fn password(username: impl Into<String>, password: impl Into<Vec<u8>>) -> Self {
        Self::with(username, CredentialSecret::Password(Secret::new(password)))
    }

    /// Username and a hex MD5 HA1 (lowercased here).
    pub fn ha1(username: impl Into<String>, ha1_hex: &str) -> Self {
        Self::with(
            username,
            CredentialSecret::Ha1(Secret::new(ha1_hex.to_ascii_lowercase())),
        )
    }

    /// IMS AKA with Milenage keys held here; `last_sqn` is the last accepted
    /// sequence number the caller persisted (0 at first use). Read the new one
    /// with [`DigestSession::aka_sqn`] after each challenge.
    pub fn aka(username: impl Into<String>, keys: AkaKeys, last_sqn: u64) -> Self {
        Self::with(
            username,
            CredentialSecret::Aka(Box::new(SoftUsim::new(keys, last_sqn))),
        )
    }

    /// IMS AKA through an external authenticator (smart card, server).
    pub fn aka_external(
        username: impl Into<String>,
        authenticator: Box<dyn AkaAuthenticator>,
    ) -> Self {
        Self::with(username, CredentialSecret::Aka(authenticator))
    }

    fn with(username: impl Into<String>, secret: CredentialSecret) -> Self {
        Credentials {
            username: username.into(),
            secret,
        }
    }

    /// Whether these are AKA credentials (they answer only AKA challenges).
    pub fn is_aka(&self) -> bool {
        matches!(self.secret, CredentialSecret::Aka(_))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.secret {
            CredentialSecret::Password(_) => "Password",
            CredentialSecret::Ha1(_) => "Ha1",
            CredentialSecret::Aka(_) => "Aka",
        };
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &format_args!("{kind}(<redacted>)"))
            .finish()
    }
}

/// Why authentication cannot proceed. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No challenge we can answer with these credentials; lists what was
    /// offered as `scheme` or `Digest/algorithm`.
    NoUsableChallenge {
        /// The offered schemes/algorithms.
        offered: Vec<String>,
    },
    /// The server challenged again after an answer with these credentials
    /// (wrong password, unknown user), or kept answering `stale=true`.
    Rejected,
    /// AKA: MAC-A in AUTN did not verify: the network is not authentic. No RES
    /// was computed or sent.
    NetworkAuthFailed,
    /// AKA: resynchronisation (AUTS) did not converge: a second sequence
    /// failure right after one.
    SyncFailed,
    /// AKA: the nonce is not base64 of RAND ‖ AUTN.
    BadNonce,
    /// A required challenge parameter is missing.
    MissingParam(&'static str),
    /// A scheme, algorithm or qop we do not implement.
    Unsupported(String),
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::NoUsableChallenge { offered } => {
                write!(
                    f,
                    "no usable authentication challenge (offered: {})",
                    crate::message::text::join(offered, ", ")
                )
            }
            AuthError::Rejected => f.write_str("credentials rejected"),
            AuthError::NetworkAuthFailed => {
                f.write_str("AKA network authentication failed (MAC-A mismatch)")
            }
            AuthError::SyncFailed => f.write_str("AKA resynchronisation failed"),
            AuthError::BadNonce => f.write_str("undecodable AKA nonce"),
            AuthError::MissingParam(p) => write!(f, "challenge without {p}"),
            AuthError::Unsupported(what) => write!(f, "unsupported {what}"),
        }
    }
}

impl std::error::Error for AuthError {}
