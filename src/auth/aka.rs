//! IMS AKA for HTTP digest: AKAv1-MD5 (RFC 3310) and AKAv2-MD5 (RFC 4169),
//! the USIM side (verify AUTN, RES or AUTS, TS 33.102 §6.3) and the server
//! side (build a challenge, check an AUTS).

use super::{base64_decode, base64_encode, ct_eq, AkaVersion, AuthError, Key, Milenage, Secret};
use md5::{Digest, Md5};

/// OP (operator variant key) or OPc (OP already combined with K).
#[derive(Clone, Debug)]
pub enum OpOrOpc {
    /// OP; OPc is derived with K.
    Op(Key),
    /// OPc.
    Opc(Key),
}

/// Milenage subscriber keys. `Debug` shows no key bytes.
#[derive(Clone, Debug)]
pub struct AkaKeys {
    /// The subscriber key K.
    pub k: Key,
    /// OP or OPc.
    pub op_or_opc: OpOrOpc,
    /// The authentication management field a server puts in AUTN.
    pub amf: [u8; 2],
}

impl AkaKeys {
    /// Milenage keyed with these keys.
    pub fn milenage(&self) -> Milenage {
        match &self.op_or_opc {
            OpOrOpc::Op(op) => Milenage::with_op(&self.k, op),
            OpOrOpc::Opc(opc) => Milenage::with_opc(&self.k, opc),
        }
    }
}

/// What a USIM answers to RAND and AUTN (TS 33.102 §6.3.3). `Debug` shows no
/// RES, CK or IK.
#[derive(Debug)]
pub enum AkaOutcome {
    /// AUTN verified and SQN fresh.
    Ok {
        /// RES (4 to 16 bytes).
        res: Secret,
        /// Cipher key.
        ck: Key,
        /// Integrity key.
        ik: Key,
    },
    /// AUTN verified but SQN not fresh: AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S.
    SyncFailure {
        /// AUTS (14 bytes).
        auts: [u8; 14],
    },
    /// MAC-A wrong: the network is not authentic.
    MacFailure,
}

/// Runs AKA for a challenge: a [`SoftUsim`], or keys kept elsewhere (smart
/// card, a server holding K).
pub trait AkaAuthenticator {
    /// Verifies AUTN and computes RES/CK/IK, or AUTS on a sequence failure.
    fn authenticate(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> AkaOutcome;

    /// The last accepted SQN, for authenticators whose caller persists it
    /// (see [`SoftUsim`]); `None` for those that keep it themselves.
    fn sqn(&self) -> Option<u64> {
        None
    }
}

/// A software USIM: Milenage keys held in memory and the last accepted SQN
/// (SQN_MS). Freshness is "SQN > SQN_MS" (the simplest scheme TS 33.102
/// Annex C allows, no IND array); the caller persists [`SoftUsim::sqn_ms`]
/// across runs.
#[derive(Debug)]
pub struct SoftUsim {
    keys: AkaKeys,
    sqn_ms: u64,
}

impl SoftUsim {
    /// Keys and the last accepted SQN (0 when new).
    pub fn new(keys: AkaKeys, sqn_ms: u64) -> Self {
        SoftUsim { keys, sqn_ms }
    }

    /// The last accepted SQN, to persist.
    pub fn sqn_ms(&self) -> u64 {
        self.sqn_ms
    }
}

impl AkaAuthenticator for SoftUsim {
    fn authenticate(&mut self, rand: &[u8; 16], autn: &[u8; 16]) -> AkaOutcome {
        let m = self.keys.milenage();
        let o = m.f2345(rand);
        let sqn: [u8; 6] = core::array::from_fn(|i| autn[i] ^ o.ak[i]);
        let amf = [autn[6], autn[7]];
        if !ct_eq(&m.f1(rand, &sqn, &amf), &autn[8..]) {
            return AkaOutcome::MacFailure;
        }
        let sqn = sqn_from_bytes(&sqn);
        if sqn <= self.sqn_ms {
            return AkaOutcome::SyncFailure {
                auts: auts(&m, rand, self.sqn_ms),
            };
        }
        self.sqn_ms = sqn;
        AkaOutcome::Ok {
            res: Secret::new(o.res.to_vec()),
            ck: Key::new(o.ck),
            ik: Key::new(o.ik),
        }
    }

    fn sqn(&self) -> Option<u64> {
        Some(self.sqn_ms)
    }
}

fn sqn_bytes(sqn: u64) -> [u8; 6] {
    let b = sqn.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn sqn_from_bytes(b: &[u8; 6]) -> u64 {
    b.iter().fold(0, |acc, &x| acc << 8 | u64::from(x))
}

/// An AKA nonce: base64 of RAND(16) ‖ AUTN(16) ‖ optional server data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AkaNonce {
    /// RAND.
    pub rand: [u8; 16],
    /// AUTN = SQN ⊕ AK (6) ‖ AMF (2) ‖ MAC-A (8).
    pub autn: [u8; 16],
    /// Whatever follows AUTN.
    pub server_data: Vec<u8>,
}

/// Decodes an AKA nonce ([`AuthError::BadNonce`] if not base64 or shorter
/// than 32 bytes).
pub fn decode_nonce(nonce: &str) -> Result<AkaNonce, AuthError> {
    let raw = base64_decode(nonce).ok_or(AuthError::BadNonce)?;
    let rand = raw
        .get(..16)
        .and_then(|s| s.try_into().ok())
        .ok_or(AuthError::BadNonce)?;
    let autn = raw
        .get(16..32)
        .and_then(|s| s.try_into().ok())
        .ok_or(AuthError::BadNonce)?;
    Ok(AkaNonce {
        rand,
        autn,
        server_data: raw.get(32..).unwrap_or_default().to_vec(),
    })
}

/// The digest "password" of AKA: AKAv1 uses the raw RES bytes; AKAv2 uses
/// base64(HMAC-MD5(RES ‖ IK ‖ CK, "http-digest-akav2-password")) (RFC 4169 §7).
pub fn aka_password(version: AkaVersion, res: &[u8], ik: &Key, ck: &Key) -> Secret {
    match version {
        AkaVersion::V1 => Secret::new(res.to_vec()),
        AkaVersion::V2 => {
            let key = Secret::new([res, ik.expose(), ck.expose()].concat());
            let mac = Secret::new(hmac_md5(key.expose(), b"http-digest-akav2-password").to_vec());
            Secret::new(base64_encode(mac.expose()))
        }
    }
}

/// HMAC-MD5 (RFC 2104).
fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&Md5::digest(key));
    } else {
        // `key.len() <= 64` here.
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |x: u8| k.map(|b| b ^ x);
    let inner = Md5::new_with_prefix(pad(0x36))
        .chain_update(data)
        .finalize();
    Md5::new_with_prefix(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// AUTS = (SQN_MS ⊕ AK*) ‖ MAC-S, MAC-S = f1*(SQN_MS, AMF = 0000, RAND)
/// (TS 33.102 §6.3.3).
pub fn auts(m: &Milenage, rand: &[u8; 16], sqn_ms: u64) -> [u8; 14] {
    let sqn = sqn_bytes(sqn_ms);
    let ak = m.f5_star(rand);
    let mac = m.f1_star(rand, &sqn, &[0, 0]);
    core::array::from_fn(|i| if i < 6 { sqn[i] ^ ak[i] } else { mac[i - 6] })
}

/// A server-side authentication vector. `Debug` shows no XRES, CK or IK.
#[derive(Debug, Clone)]
pub struct AkaVector {
    /// RAND.
    pub rand: [u8; 16],
    /// AUTN.
    pub autn: [u8; 16],
    /// The `nonce` to send: base64(RAND ‖ AUTN).
    pub nonce: String,
    /// The expected RES.
    pub xres: Secret,
    /// CK.
    pub ck: Key,
    /// IK.
    pub ik: Key,
}

impl AkaVector {
    /// The digest password the client will use (see [`aka_password`]).
    pub fn password(&self, version: AkaVersion) -> Secret {
        aka_password(version, self.xres.expose(), &self.ik, &self.ck)
    }
}

/// Server side: builds the vector for `sqn` (48 bits) and `rand` with the
/// keys' AMF: AUTN = (SQN ⊕ AK) ‖ AMF ‖ f1(SQN, AMF, RAND).
pub fn generate_challenge(keys: &AkaKeys, sqn: u64, rand: &[u8; 16]) -> AkaVector {
    let m = keys.milenage();
    let o = m.f2345(rand);
    let sqn = sqn_bytes(sqn);
    let mac = m.f1(rand, &sqn, &keys.amf);
    let autn: [u8; 16] = core::array::from_fn(|i| match i {
        0..=5 => sqn[i] ^ o.ak[i],
        6 | 7 => keys.amf[i - 6],
        _ => mac[i - 8],
    });
    AkaVector {
        rand: *rand,
        autn,
        nonce: base64_encode(&[&rand[..], &autn].concat()),
        xres: Secret::new(o.res.to_vec()),
        ck: Key::new(o.ck),
        ik: Key::new(o.ik),
    }
}

/// Server side: checks an AUTS for `rand`; the client's SQN_MS if MAC-S
/// verifies (the next challenge must use a larger SQN).
pub fn verify_auts(keys: &AkaKeys, rand: &[u8; 16], auts: &[u8]) -> Option<u64> {
    let auts: &[u8; 14] = auts.try_into().ok()?;
    let m = keys.milenage();
    let ak = m.f5_star(rand);
    let sqn: [u8; 6] = core::array::from_fn(|i| auts[i] ^ ak[i]);
    ct_eq(&m.f1_star(rand, &sqn, &[0, 0]), &auts[6..]).then(|| sqn_from_bytes(&sqn))
}
