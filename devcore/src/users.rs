//! The users file: addresses of record, private identities, and their
//! passwords or Milenage AKA keys (TOML, see `devcore/users.toml`).

use core::fmt;
use imsip::auth::{hex_decode, AkaKeys, Key, OpOrOpc, Secret};
use imsip::message::{Scheme, Uri};
use serde::Deserialize;
use std::path::Path;

/// The users file built in as the default (`devcore/users.toml`).
pub const DEFAULT_USERS_TOML: &str = include_str!("../users.toml");

/// Why a users file was refused. Never carries a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersError(pub String);

impl fmt::Display for UsersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "users file: {}", self.0)
    }
}

impl std::error::Error for UsersError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    domain: Option<String>,
    realm: Option<String>,
    #[serde(default, rename = "user")]
    users: Vec<UserEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    aor: String,
    private_id: Option<String>,
    password: Option<String>,
    k: Option<String>,
    op: Option<String>,
    opc: Option<String>,
    amf: Option<String>,
    sqn: Option<u64>,
}

/// How a user authenticates. `Debug` prints no secret.
#[derive(Debug, Clone)]
pub enum UserSecret {
    /// HTTP digest with this password.
    Password(Secret),
    /// IMS AKA with these Milenage keys; `initial_sqn` is the sequence number
    /// to start from when the database has none for the user yet.
    Aka {
        /// K, OP/OPc and AMF.
        keys: AkaKeys,
        /// The starting SQN.
        initial_sqn: u64,
    },
}

/// One subscriber.
#[derive(Debug, Clone)]
pub struct User {
    /// The address of record, normalised (`sip:user@host`, host lower-cased).
    pub aor: String,
    /// The private identity (digest username), e.g. `alice@imsip.test`.
    pub private_id: String,
    /// Password or AKA keys.
    pub secret: UserSecret,
}

/// The subscriber database of the dev core.
#[derive(Debug, Clone)]
pub struct Users {
    /// The SIP domain (`imsip.test`).
    pub domain: String,
    /// The digest realm (defaults to the domain).
    pub realm: String,
    /// The users, in file order.
    pub list: Vec<User>,
}

/// `sip:user@host` with the host lower-cased, for a SIP/SIPS URI with a user
/// part; `None` otherwise. Two URIs name the same AoR when their keys are equal.
pub fn aor_key(uri: &Uri) -> Option<String> {
    if !matches!(uri.scheme(), Scheme::Sip | Scheme::Sips) {
        return None;
    }
    let user = uri.user_decoded()?;
    let host = uri.host()?.to_string().to_ascii_lowercase();
    Some(format!("sip:{user}@{host}"))
}

fn key(hex: &str, what: &str, aor: &str) -> Result<Key, UsersError> {
    Key::from_hex(hex).ok_or_else(|| UsersError(format!("{aor}: {what} is not 32 hex digits")))
}

impl Users {
    /// The built-in users: alice and bob (digest passwords) and carol (AKA,
    /// Milenage test set 1), in the domain and realm `imsip.test`.
    pub fn builtin() -> Users {
        // The built-in file is part of this crate and checked by its tests.
        Users::parse(DEFAULT_USERS_TOML).unwrap_or_else(|e| panic!("built-in {e}"))
    }

    /// Reads a users file.
    pub fn load(path: &Path) -> Result<Users, UsersError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsersError(format!("cannot read {}: {e}", path.display())))?;
        Users::parse(&text)
    }

    /// Parses the TOML text of a users file.
    pub fn parse(text: &str) -> Result<Users, UsersError> {
        let file: UsersFile = toml::from_str(text).map_err(|e| UsersError(e.to_string()))?;
        let domain = file.domain.unwrap_or_else(|| "imsip.test".to_owned());
        let realm = file.realm.unwrap_or_else(|| domain.clone());
        let mut list: Vec<User> = Vec::with_capacity(file.users.len());
        for e in file.users {
            let uri =
                Uri::parse(&e.aor).map_err(|err| UsersError(format!("aor {:?}: {err}", e.aor)))?;
            let aor = aor_key(&uri).ok_or_else(|| {
                UsersError(format!("aor {:?} is not a sip: URI with a user", e.aor))
            })?;
            let private_id = e
                .private_id
                .unwrap_or_else(|| aor.trim_start_matches("sip:").to_owned());
            let secret = match (e.password, e.k) {
                (Some(p), None) => {
                    if e.op.is_some() || e.opc.is_some() || e.amf.is_some() || e.sqn.is_some() {
                        return Err(UsersError(format!("{aor}: op/opc/amf/sqn given without k")));
                    }
                    UserSecret::Password(Secret::new(p))
                }
                (None, Some(k)) => {
                    let k = key(&k, "k", &aor)?;
                    let op_or_opc = match (e.op, e.opc) {
                        (Some(op), None) => OpOrOpc::Op(key(&op, "op", &aor)?),
                        (None, Some(opc)) => OpOrOpc::Opc(key(&opc, "opc", &aor)?),
                        _ => {
                            return Err(UsersError(format!(
                                "{aor}: an AKA user needs exactly one of op and opc"
                            )))
                        }
                    };
                    let amf_hex = e.amf.unwrap_or_else(|| "0000".to_owned());
                    let amf: [u8; 2] = hex_decode(&amf_hex)
                        .and_then(|v| v.try_into().ok())
                        .ok_or_else(|| UsersError(format!("{aor}: amf is not 4 hex digits")))?;
                    let initial_sqn = e.sqn.unwrap_or(0);
                    if initial_sqn >= 1 << 48 {
                        return Err(UsersError(format!("{aor}: sqn does not fit 48 bits")));
                    }
                    UserSecret::Aka {
                        keys: AkaKeys { k, op_or_opc, amf },
                        initial_sqn,
                    }
                }
                _ => {
                    return Err(UsersError(format!(
                        "{aor}: give either a password or AKA keys (k with op or opc)"
                    )))
                }
            };
            if list
                .iter()
                .any(|u| u.aor == aor || u.private_id == private_id)
            {
                return Err(UsersError(format!("{aor}: duplicated user")));
            }
            list.push(User {
                aor,
                private_id,
                secret,
            });
        }
        Ok(Users {
            domain,
            realm,
            list,
        })
    }

    /// The user whose AoR is `aor` (a normalised key, see [`aor_key`]).
    pub fn by_aor(&self, aor: &str) -> Option<&User> {
        self.list.iter().find(|u| u.aor == aor)
    }

    /// The user whose private identity is `private_id`.
    pub fn by_private_id(&self, private_id: &str) -> Option<&User> {
        self.list.iter().find(|u| u.private_id == private_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_users() {
        let u = Users::builtin();
        assert_eq!(u.domain, "imsip.test");
        assert_eq!(u.realm, "imsip.test");
        let names: Vec<_> = u.list.iter().map(|u| u.private_id.as_str()).collect();
        assert_eq!(
            names,
            ["alice@imsip.test", "bob@imsip.test", "carol@imsip.test"]
        );
        match &u.by_aor("sip:alice@imsip.test").map(|u| &u.secret) {
            Some(UserSecret::Password(p)) => assert_eq!(p.expose(), b"alice-secret"),
            other => panic!("alice: {other:?}"),
        }
        match &u.by_aor("sip:carol@imsip.test").map(|u| &u.secret) {
            Some(UserSecret::Aka { keys, initial_sqn }) => {
                assert_eq!(keys.amf, [0xb9, 0xb9]);
                assert_eq!(*initial_sqn, 0);
            }
            other => panic!("carol: {other:?}"),
        }
        // Debug never shows a secret.
        let dbg = format!("{u:?}");
        assert!(!dbg.contains("alice-secret") && !dbg.contains("465b5ce8"));
    }

    #[test]
    fn refuses_bad_files() {
        for bad in [
            "[[user]]\naor = \"sip:x@y\"\n",
            "[[user]]\naor = \"tel:+1\"\npassword = \"p\"\n",
            "[[user]]\naor = \"sip:x@y\"\nk = \"00\"\nop = \"00\"\n",
            "[[user]]\naor = \"sip:x@y\"\npassword = \"p\"\n[[user]]\naor = \"sip:x@Y\"\npassword = \"q\"\n",
            "[[user]]\naor = \"sip:x@y\"\npassword = \"p\"\nunknown = 1\n",
        ] {
            assert!(Users::parse(bad).is_err(), "{bad}");
        }
    }
}
