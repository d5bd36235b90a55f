//! IMS AKA: Milenage conformance sets (TS 35.207/35.208), AKAv1/AKAv2 digest
//! end to end (shared/vectors/aka.tsv), resynchronisation, network
//! authentication failure, and the server-side helpers.
#![cfg(not(target_arch = "wasm32"))]

use imsip::auth::{
    aka_password, auts, base64_decode, base64_encode, decode_nonce, generate_challenge, hex_decode,
    hex_encode, verify_auts, AkaAuthenticator, AkaKeys, AkaOutcome, AkaVersion, Algorithm,
    AuthError, Credentials, DigestInput, DigestSecret, DigestSession, Key, Milenage, OpOrOpc, Qop,
    RandomSource, Secret, SessionState, SoftUsim,
};
use imsip::message::AuthValue;
use std::collections::HashMap;

const MILENAGE_TSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/milenage.tsv"
);
const AKA_TSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/aka.tsv");

struct Counter(u8);

impl RandomSource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
    }
}

fn hex<const N: usize>(s: &str) -> [u8; N] {
    hex_decode(s).expect("hex").try_into().expect("length")
}

fn milenage_sets() -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(MILENAGE_TSV).expect("milenage.tsv readable");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split('\t')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn aka_rows() -> HashMap<String, String> {
    let text = std::fs::read_to_string(AKA_TSV).expect("aka.tsv readable");
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn set1_keys(use_opc: bool) -> AkaKeys {
    let s = &milenage_sets()[0];
    AkaKeys {
        k: Key::from_hex(&s["k"]).expect("k"),
        op_or_opc: if use_opc {
            OpOrOpc::Opc(Key::from_hex(&s["opc"]).expect("opc"))
        } else {
            OpOrOpc::Op(Key::from_hex(&s["op"]).expect("op"))
        },
        amf: hex(&s["amf"]),
    }
}

fn set1_sqn() -> u64 {
    u64::from_str_radix(&milenage_sets()[0]["sqn"], 16).expect("sqn")
}

fn set1_rand() -> [u8; 16] {
    hex(&milenage_sets()[0]["rand"])
}

fn challenge(nonce: &str, algorithm: &str) -> Vec<AuthValue> {
    AuthValue::parse_list(
        &format!(
            "Digest realm=\"ims.example\", nonce=\"{nonce}\", algorithm={algorithm}, qop=\"auth\""
        ),
        "WWW-Authenticate",
    )
    .expect("parses")
}

/// All six conformance sets, keyed from OP and from OPc.
#[test]
fn milenage_conformance_sets() {
    let sets = milenage_sets();
    assert_eq!(sets.len(), 6);
    for s in &sets {
        let k = Key::from_hex(&s["k"]).expect("k");
        let from_op = Milenage::with_op(&k, &Key::from_hex(&s["op"]).expect("op"));
        let from_opc = Milenage::with_opc(&k, &Key::from_hex(&s["opc"]).expect("opc"));
        assert_eq!(
            hex_encode(from_op.opc().expose()),
            s["opc"],
            "set {} OPc",
            s["set"]
        );
        for m in [from_op, from_opc] {
            let (rand, sqn, amf) = (hex(&s["rand"]), hex(&s["sqn"]), hex(&s["amf"]));
            assert_eq!(
                hex_encode(&m.f1(&rand, &sqn, &amf)),
                s["f1"],
                "set {} f1",
                s["set"]
            );
            assert_eq!(
                hex_encode(&m.f1_star(&rand, &sqn, &amf)),
                s["f1star"],
                "set {} f1*",
                s["set"]
            );
            let o = m.f2345(&rand);
            assert_eq!(hex_encode(&o.res), s["f2_res"], "set {} f2", s["set"]);
            assert_eq!(hex_encode(&o.ck), s["f3_ck"], "set {} f3", s["set"]);
            assert_eq!(hex_encode(&o.ik), s["f4_ik"], "set {} f4", s["set"]);
            assert_eq!(hex_encode(&o.ak), s["f5_ak"], "set {} f5", s["set"]);
            assert_eq!(
                hex_encode(&m.f5_star(&rand)),
                s["f5star"],
                "set {} f5*",
                s["set"]
            );
        }
    }
    println!("milenage.tsv: {} sets x 2 entry points checked", sets.len());
}

/// aka.tsv, every value: AUTN, nonce, AKAv1/AKAv2 passwords and responses,
/// AUTS and the response that carries it.
#[test]
fn aka_tsv_known_answers() {
    let v = aka_rows();
    let rand = set1_rand();
    let mut checked = 0;
    for use_opc in [false, true] {
        let keys = set1_keys(use_opc);
        let vector = generate_challenge(&keys, set1_sqn(), &rand);
        assert_eq!(hex_encode(&vector.autn), v["autn_hex"]);
        assert_eq!(vector.nonce, v["nonce_b64"]);

        let input = |cnonce| DigestInput {
            algorithm: Algorithm::parse("AKAv1-MD5").expect("known"),
            username: "alice@ims.example",
            realm: "ims.example",
            nonce: &v["nonce_b64"],
            cnonce,
            nc: 1,
            qop: Some(Qop::Auth),
            method: "REGISTER",
            uri: "sip:ims.example",
            body: b"",
        };
        let v1 = vector.password(AkaVersion::V1);
        assert_eq!(
            input("0a4f113b").response(DigestSecret::Password(v1.expose())),
            v["akav1_response"]
        );
        // The classic mistake (RES as hex text) gives the other, documented value.
        let wrong = hex_encode(v1.expose());
        assert_eq!(
            input("0a4f113b").response(DigestSecret::Password(wrong.as_bytes())),
            v["akav1_response_if_res_were_hex_text (wrong)"]
        );
        let v2 = vector.password(AkaVersion::V2);
        assert_eq!(
            std::str::from_utf8(v2.expose()).expect("base64 text"),
            v["akav2_password_b64"]
        );
        let v2_input = DigestInput {
            algorithm: Algorithm::parse("AKAv2-MD5").expect("known"),
            ..input("0a4f113b")
        };
        assert_eq!(
            v2_input.response(DigestSecret::Password(v2.expose())),
            v["akav2_response"]
        );

        let m = keys.milenage();
        let a = auts(&m, &rand, 0x20);
        assert_eq!(hex_encode(&a), v["auts_hex for SQN_MS=000000000020"]);
        assert_eq!(base64_encode(&a), v["auts_b64"]);
        assert_eq!(verify_auts(&keys, &rand, &a), Some(0x20));
        assert_eq!(
            input("0a4f113b").response(DigestSecret::Password(b"")),
            v["response_with_auts (empty password, AKAv1)"]
        );
        checked += 8;
    }
    assert_eq!(v.len(), 10, "aka.tsv rows (inputs + 9 values)");
    println!("aka.tsv: 9 values checked, from OP and from OPc ({checked} assertions)");
}

/// The client side through a session: the response verifies with the server's
/// expected password, and the SQN to persist is exposed.
#[test]
fn akav1_and_akav2_sessions() {
    let v = aka_rows();
    for (alg, version) in [("AKAv1-MD5", AkaVersion::V1), ("AKAv2-MD5", AkaVersion::V2)] {
        let mut s = DigestSession::new(Credentials::aka("alice@ims.example", set1_keys(false), 0));
        s.on_challenge(&challenge(&v["nonce_b64"], alg), false)
            .expect("authentic network");
        assert_eq!(s.aka_sqn(), Some(set1_sqn()));
        let a = s
            .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(3))
            .expect("auth");
        assert_eq!(a.value.param("algorithm"), Some(alg));
        assert_eq!(a.value.param("auts"), None);
        let server = generate_challenge(&set1_keys(true), set1_sqn(), &set1_rand());
        let pw = server.password(version);
        let expect = DigestInput {
            algorithm: Algorithm::parse(alg).expect("known"),
            username: "alice@ims.example",
            realm: "ims.example",
            nonce: &v["nonce_b64"],
            cnonce: a.value.param("cnonce").expect("cnonce"),
            nc: 1,
            qop: Some(Qop::Auth),
            method: "REGISTER",
            uri: "sip:ims.example",
            body: b"",
        }
        .response(DigestSecret::Password(pw.expose()));
        assert_eq!(a.value.param("response"), Some(expect.as_str()));
        // Proactive reuse of the same nonce: nc+1, same RES.
        s.on_success();
        let a2 = s
            .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(50))
            .expect("auth");
        assert_eq!(a2.value.param("nc"), Some("00000002"));
    }
}

/// SQN_MS ahead of the network: AUTS with an empty password (RFC 3310 §3.4),
/// then the server's new challenge is accepted, and the AUTS verifies.
#[test]
fn sequence_failure_and_resync() {
    let v = aka_rows();
    let keys = set1_keys(false);
    let rand = set1_rand();

    // SQN_MS = 0x20 and a network SQN of 0x10 → AUTS of aka.tsv.
    let old = generate_challenge(&keys, 0x10, &rand);
    let mut s = DigestSession::new(Credentials::aka("alice@ims.example", keys.clone(), 0x20));
    s.on_challenge(&challenge(&old.nonce, "AKAv1-MD5"), false)
        .expect("sync failure is answered");
    let a = s
        .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(a.value.param("auts"), Some(v["auts_b64"].as_str()));
    assert_eq!(s.state(), SessionState::Resyncing);
    assert_eq!(s.aka_sqn(), Some(0x20), "a refused SQN is not accepted");
    let cnonce = a.value.param("cnonce").expect("cnonce");
    let empty_pw = DigestInput {
        algorithm: Algorithm::parse("AKAv1-MD5").expect("known"),
        username: "alice@ims.example",
        realm: "ims.example",
        nonce: &old.nonce,
        cnonce,
        nc: 1,
        qop: Some(Qop::Auth),
        method: "REGISTER",
        uri: "sip:ims.example",
        body: b"",
    }
    .response(DigestSecret::Password(b""));
    assert_eq!(a.value.param("response"), Some(empty_pw.as_str()));
    // Nothing to send until the server challenges again.
    assert!(s
        .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(0))
        .is_none());

    // Server: recover SQN_MS, challenge with SQN_MS + 1.
    let auts_bytes = base64_decode(a.value.param("auts").expect("auts")).expect("b64");
    let sqn_ms = verify_auts(&keys, &rand, &auts_bytes).expect("MAC-S verifies");
    assert_eq!(sqn_ms, 0x20);
    let fresh = generate_challenge(&keys, sqn_ms + 1, &[9; 16]);
    s.on_challenge(&challenge(&fresh.nonce, "AKAv1-MD5"), false)
        .expect("new challenge after resync");
    let a = s
        .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(a.value.param("auts"), None);
    assert_eq!(s.state(), SessionState::Answered);
    assert_eq!(s.aka_sqn(), Some(0x21));
}

#[test]
fn resync_that_does_not_converge_stops() {
    let keys = set1_keys(true);
    let mut s = DigestSession::new(Credentials::aka("alice@ims.example", keys.clone(), 0x100));
    s.on_challenge(
        &challenge(
            &generate_challenge(&keys, 0x10, &[1; 16]).nonce,
            "AKAv1-MD5",
        ),
        false,
    )
    .expect("auts");
    s.authorize("REGISTER", "sip:ims.example", b"", &mut Counter(0))
        .expect("auth");
    // A broken server ignores the AUTS and sends a stale SQN again.
    let e = s.on_challenge(
        &challenge(
            &generate_challenge(&keys, 0x11, &[2; 16]).nonce,
            "AKAv1-MD5",
        ),
        false,
    );
    assert_eq!(e, Err(AuthError::SyncFailed));
    assert_eq!(s.state(), SessionState::Failed);
}

/// A wrong MAC-A: typed error, and no RES is ever sent.
#[test]
fn network_authentication_failure() {
    let keys = set1_keys(false);
    let vector = generate_challenge(&keys, set1_sqn(), &set1_rand());
    let mut raw = base64_decode(&vector.nonce).expect("b64");
    raw[31] ^= 1; // last byte of MAC-A
    let bad = base64_encode(&raw);
    let mut s = DigestSession::new(Credentials::aka("alice@ims.example", keys.clone(), 0));
    assert_eq!(
        s.on_challenge(&challenge(&bad, "AKAv1-MD5"), false),
        Err(AuthError::NetworkAuthFailed)
    );
    assert_eq!(s.state(), SessionState::Failed);
    assert!(s
        .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(0))
        .is_none());
    assert_eq!(s.aka_sqn(), Some(0), "nothing accepted");
    assert_eq!(
        AuthError::NetworkAuthFailed.to_string(),
        "AKA network authentication failed (MAC-A mismatch)"
    );

    // A different K is a MAC failure too.
    let mut other = set1_keys(false);
    other.k = Key::new([0x55; 16]);
    let mut usim = SoftUsim::new(other, 0);
    let n = decode_nonce(&vector.nonce).expect("decodes");
    assert!(matches!(
        usim.authenticate(&n.rand, &n.autn),
        AkaOutcome::MacFailure
    ));
}

#[test]
fn bad_nonces() {
    for nonce in ["not base64!", "AAAA", "", &base64_encode(&[0; 31])] {
        let mut s = DigestSession::new(Credentials::aka("alice@ims.example", set1_keys(false), 0));
        assert_eq!(
            s.on_challenge(&challenge(nonce, "AKAv1-MD5"), false),
            Err(AuthError::BadNonce),
            "{nonce:?}"
        );
    }
    // Server data after AUTN is kept, not an error.
    let mut raw = base64_decode(&aka_rows()["nonce_b64"]).expect("b64");
    raw.extend_from_slice(b"srv");
    let n = decode_nonce(&base64_encode(&raw)).expect("decodes");
    assert_eq!(n.server_data, b"srv");
    assert_eq!(verify_auts(&set1_keys(false), &set1_rand(), &[0; 13]), None);
    assert_eq!(verify_auts(&set1_keys(false), &set1_rand(), &[0; 14]), None);
}

/// Keys elsewhere: an external authenticator (here: a fake smart card that
/// records what it was asked).
#[test]
fn external_authenticator() {
    struct Card {
        asked: std::rc::Rc<std::cell::Cell<u32>>,
    }
    impl AkaAuthenticator for Card {
        fn authenticate(&mut self, _rand: &[u8; 16], _autn: &[u8; 16]) -> AkaOutcome {
            self.asked.set(self.asked.get() + 1);
            AkaOutcome::Ok {
                res: Secret::new(vec![1, 2, 3, 4]),
                ck: Key::new([5; 16]),
                ik: Key::new([6; 16]),
            }
        }
    }
    let asked = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut s = DigestSession::new(Credentials::aka_external(
        "alice@ims.example",
        Box::new(Card {
            asked: asked.clone(),
        }),
    ));
    // AKA credentials answer only AKA challenges, AKAv2 preferred.
    let values = AuthValue::parse_list(
        &format!(
            "Digest realm=\"ims.example\", nonce=\"abc\", algorithm=MD5, \
             Digest realm=\"ims.example\", nonce=\"{n}\", algorithm=AKAv1-MD5, qop=auth, \
             Digest realm=\"ims.example\", nonce=\"{n}\", algorithm=AKAv2-MD5, qop=auth",
            n = aka_rows()["nonce_b64"]
        ),
        "WWW-Authenticate",
    )
    .expect("parses");
    s.on_challenge(&values, true).expect("ok");
    assert_eq!(asked.get(), 1);
    assert_eq!(s.aka_sqn(), None);
    let a = s
        .authorize("REGISTER", "sip:ims.example", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(a.header_name(), "Proxy-Authorization");
    assert_eq!(a.value.param("algorithm"), Some("AKAv2-MD5"));
    let pw = aka_password(
        AkaVersion::V2,
        &[1, 2, 3, 4],
        &Key::new([6; 16]),
        &Key::new([5; 16]),
    );
    let expect = DigestInput {
        algorithm: Algorithm::parse("AKAv2-MD5").expect("known"),
        username: "alice@ims.example",
        realm: "ims.example",
        nonce: &aka_rows()["nonce_b64"],
        cnonce: a.value.param("cnonce").expect("cnonce"),
        nc: 1,
        qop: Some(Qop::Auth),
        method: "REGISTER",
        uri: "sip:ims.example",
        body: b"",
    }
    .response(DigestSecret::Password(pw.expose()));
    assert_eq!(a.value.param("response"), Some(expect.as_str()));
}

#[test]
fn aka_secrets_are_redacted() {
    let keys = set1_keys(false);
    let s = &milenage_sets()[0];
    let vector = generate_challenge(&keys, set1_sqn(), &set1_rand());
    let creds = Credentials::aka("alice@ims.example", keys.clone(), 0);
    let m = keys.milenage();
    let outcome = SoftUsim::new(keys.clone(), 0).authenticate(&vector.rand, &vector.autn);
    let printed = format!(
        "{keys:?} {vector:?} {creds:?} {m:?} {:?} {outcome:?}",
        m.f2345(&vector.rand)
    );
    for secret in [
        &s["k"],
        &s["op"],
        &s["opc"],
        &s["f2_res"],
        &s["f3_ck"],
        &s["f4_ik"],
    ] {
        assert!(
            !printed.to_lowercase().contains(secret.as_str()),
            "{secret} leaked in {printed}"
        );
    }
    // Also not as Rust's decimal byte-array Debug.
    assert!(!printed.contains("70, 91"), "{printed}");
    assert!(printed.contains("<redacted>"));
}
