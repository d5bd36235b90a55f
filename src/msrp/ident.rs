//! Transaction ids and the RFC 4975 §9 lexical classes the rest of the codec shares.

use super::MsrpError;
use crate::auth::RandomSource;
use core::fmt;

/// RFC 4975 §9 `ident-char`: `ALPHANUM / "." / "-" / "+" / "%" / "="`.
fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'%' | b'=')
}

/// RFC 4975 §9 `ident = ALPHANUM 3*31ident-char`: 4 to 32 characters in all. Both the
/// transaction id and the `Message-ID` are idents.
pub fn is_ident(s: &str) -> bool {
    let b = s.as_bytes();
    (4..=32).contains(&b.len())
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(|&c| is_ident_char(c))
}

/// RFC 4975 §9 `token`: `%x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A /
/// %x5E-7E` (no `"(),/:;<=>?@[\]`).
pub(crate) fn is_token_byte(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x27 | 0x2a..=0x2b | 0x2d..=0x2e | 0x30..=0x39 | 0x41..=0x5a | 0x5e..=0x7e)
}

/// A non-empty run of [`is_token_byte`].
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// RFC 4975 §9 `utf8text = *(HTAB / %x20-7E / UTF8-NONASCII)`: text without control
/// characters other than HTAB (the `&str` already guarantees UTF-8).
pub(crate) fn is_utf8text(s: &str) -> bool {
    !s.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
}

/// SP and HTAB, trimmed from both ends of header values.
pub(crate) fn trim_wsp(s: &str) -> &str {
    crate::message::text::trim(s)
}

/// The letters and digits random ids are drawn from.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of a random transaction id: 16 of 62 characters, about 95 bits (the
/// modulo draw below skews them a little; uniqueness, not secrecy, is what counts).
const RANDOM_LEN: usize = 16;

/// An MSRP transaction id (RFC 4975 §7.1, §9 `transact-id = ident`): it names a
/// request and its response, and closes the frame in the end-line
/// `-------<tid>$`. Compared case-sensitively.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionId(String);

impl TransactionId {
    /// Checks `id` against the `ident` rule ([`is_ident`]).
    pub fn new(id: impl Into<String>) -> Result<TransactionId, MsrpError> {
        let id = id.into();
        if is_ident(&id) {
            Ok(TransactionId(id))
        } else {
            Err(MsrpError::BadTransactionId)
        }
    }

    /// A random id of 16 letters and digits from `rng`.
    pub fn random(rng: &mut dyn RandomSource) -> TransactionId {
        let mut bytes = [0u8; RANDOM_LEN];
        rng.fill(&mut bytes);
        TransactionId(
            bytes
                .iter()
                // The modulo keeps the index inside ALPHABET.
                .map(|&b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
                .collect(),
        )
    }

    /// A random id whose end-line does not occur in `body`, so that a frame carrying
    /// `body` can be written with it (RFC 4975 §7.1: the sender picks a transaction id
    /// that does not collide with the content).
    ///
    /// A random id collides only with a body built against it; when it does (or `rng`
    /// is broken), letters are appended one at a time, each time the one that leaves
    /// the fewest colliding places in the body. Each step keeps at most 1/62 of them,
    /// so eleven steps (16 + 11 ≤ 32 characters) clear any body that fits in memory.
    pub fn for_body(rng: &mut dyn RandomSource, body: &[u8]) -> TransactionId {
        let mut id = TransactionId::random(rng).0;
        let mut places = end_line_places(body, &id);
        while !places.is_empty() && id.len() < 32 {
            // Count the byte that follows the id at each colliding place; any letter that
            // follows none of them (or the least common one) is appended.
            let mut counts = [0usize; 62];
            for &p in &places {
                if let Some(pos) = body
                    .get(p + END_PREFIX.len() + id.len())
                    .and_then(|b| ALPHABET.iter().position(|a| a == b))
                {
                    if let Some(c) = counts.get_mut(pos) {
                        *c += 1;
                    }
                }
            }
            let best = (0..ALPHABET.len())
                .min_by_key(|&i| counts.get(i).copied().unwrap_or(0))
                .unwrap_or_default();
            // `best` < 62: an index of ALPHABET.
            id.push(char::from(ALPHABET[best]));
            let next_len = END_PREFIX.len() + id.len();
            places.retain(|&p| {
                body.get(p..p + next_len)
                    .is_some_and(|w| w.ends_with(id.as_bytes()))
            });
        }
        TransactionId(id)
    }

    /// Whether a frame with this id cannot carry `body`: `CRLF -------<tid>` occurs in
    /// the body as written after the blank line (a body that starts with
    /// `-------<tid>` counts, since the CRLF before it ends the header section).
    pub fn collides_with(&self, body: &[u8]) -> bool {
        !end_line_places(body, &self.0).is_empty()
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TransactionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The seven dashes of an end-line (RFC 4975 §9 `end-line`).
pub(crate) const END_PREFIX: &[u8] = b"-------";

/// Offsets in `body` where `-------<id>` starts right after a CRLF, the CRLF before the
/// body included (offset 0 counts when the body starts with `-------<id>`).
fn end_line_places(body: &[u8], id: &str) -> Vec<usize> {
    let id = id.as_bytes();
    let at = |p: usize| {
        body.get(p..).is_some_and(|rest| {
            rest.starts_with(END_PREFIX)
                && rest
                    .get(END_PREFIX.len()..)
                    .is_some_and(|r| r.starts_with(id))
        })
    };
    let mut out = Vec::new();
    if at(0) {
        out.push(0);
    }
    let mut from = 0;
    while let Some(i) = body.get(from..).and_then(|h| memchr::memchr(b'\n', h)) {
        let lf = from + i;
        if lf > 0 && body.get(lf - 1) == Some(&b'\r') && at(lf + 1) {
            out.push(lf + 1);
        }
        from = lf + 1;
    }
    out
}
