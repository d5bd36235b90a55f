//! Digest authentication: known answers (shared/vectors/digest.tsv, RFC 7616
//! §3.9.2), challenge choice, header building and the session state machine.
#![cfg(not(target_arch = "wasm32"))]

use imsip::auth::{
    Algorithm, AuthError, Authorization, Challenge, Credentials, DigestInput, DigestSecret,
    DigestSession, Hash, Qop, RandomSource, SessionState,
};
use imsip::message::AuthValue;

const DIGEST_TSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors/digest.tsv");

/// Deterministic "random" bytes: a counter.
struct Counter(u8);

impl RandomSource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
    }
}

fn values(s: &str) -> Vec<AuthValue> {
    AuthValue::parse_list(s, "WWW-Authenticate").expect("test challenge parses")
}

fn rows() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(DIGEST_TSV).expect("digest.tsv readable");
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    assert_eq!(
        header,
        [
            "case",
            "algorithm",
            "qop",
            "username",
            "realm",
            "password",
            "method",
            "uri",
            "nonce",
            "nc",
            "cnonce",
            "body",
            "response"
        ]
    );
    lines
        .map(|l| {
            let mut r: Vec<String> = l.split('\t').map(str::to_owned).collect();
            r.resize(13, String::new());
            r
        })
        .collect()
}

fn qop_of(s: &str) -> Option<Qop> {
    match s {
        "" => None,
        "auth" => Some(Qop::Auth),
        "auth-int" => Some(Qop::AuthInt),
        other => panic!("unknown qop {other}"),
    }
}

/// Every row of digest.tsv, computed from the password and from HA1.
#[test]
fn digest_tsv_known_answers() {
    let rows = rows();
    assert!(
        rows.len() >= 8,
        "expected the shared vectors, got {} rows",
        rows.len()
    );
    for r in &rows {
        let algorithm = Algorithm::parse(&r[1]).expect("algorithm");
        let nc = if r[9].is_empty() {
            0
        } else {
            u32::from_str_radix(&r[9], 16).expect("nc")
        };
        let input = DigestInput {
            algorithm,
            username: &r[3],
            realm: &r[4],
            nonce: &r[8],
            cnonce: &r[10],
            nc,
            qop: qop_of(&r[2]),
            method: &r[6],
            uri: &r[7],
            body: r[11].as_bytes(),
        };
        assert_eq!(
            input.response(DigestSecret::Password(r[5].as_bytes())),
            r[12],
            "row {}",
            r[0]
        );
        // The same from a stored HA1 (H(user:realm:password), before -sess).
        let ha1 = algorithm
            .hash
            .hex(&[r[3].as_bytes(), r[4].as_bytes(), r[5].as_bytes()]);
        assert_eq!(
            input.response(DigestSecret::Ha1(ha1.as_bytes())),
            r[12],
            "row {} via HA1",
            r[0]
        );
    }
    println!("digest.tsv: {} rows checked", rows.len());
}

/// Every row again, end to end through a session: challenge → Authorization,
/// whose response must verify with the row's password (the session picks its
/// own cnonce).
#[test]
fn digest_tsv_through_session() {
    for r in rows() {
        let mut ch = format!("Digest realm=\"{}\", nonce=\"{}\"", r[4], r[8]);
        if !r[2].is_empty() {
            ch += &format!(", qop=\"{}\"", r[2]);
        }
        if r[1] != "MD5" {
            ch += &format!(", algorithm={}", r[1]);
        }
        let mut s = DigestSession::new(Credentials::password(r[3].as_str(), r[5].as_str()));
        s.on_challenge(&values(&ch), false).expect("usable");
        let a = s
            .authorize(&r[6], &r[7], r[11].as_bytes(), &mut Counter(7))
            .expect("authorization");
        let v = &a.value;
        assert_eq!(v.param("username"), Some(r[3].as_str()));
        assert_eq!(v.param("uri"), Some(r[7].as_str()));
        let nc = v
            .param("nc")
            .map_or(0, |n| u32::from_str_radix(n, 16).expect("nc"));
        let input = DigestInput {
            algorithm: Algorithm::parse(&r[1]).expect("algorithm"),
            username: &r[3],
            realm: &r[4],
            nonce: &r[8],
            cnonce: v.param("cnonce").unwrap_or(""),
            nc,
            qop: qop_of(&r[2]),
            method: &r[6],
            uri: &r[7],
            body: r[11].as_bytes(),
        };
        assert_eq!(
            v.param("response"),
            Some(
                input
                    .response(DigestSecret::Password(r[5].as_bytes()))
                    .as_str()
            ),
            "row {}",
            r[0]
        );
        assert_eq!(
            v.param("qop"),
            if r[2].is_empty() {
                None
            } else {
                Some(r[2].as_str())
            }
        );
        assert_eq!(
            v.param("nc"),
            if r[2].is_empty() {
                None
            } else {
                Some("00000001")
            }
        );
    }
}

/// The inputs of RFC 7616 §3.9.2 (SHA-512-256, UTF-8 username, userhash). The
/// RFC's printed username hash and response cannot be reproduced (RFC erratum
/// 4897); the expected values here were computed independently with OpenSSL's
/// SHA-512/256 (Python `hashlib.new("sha512_256")`), with uri `/doe.json` as in
/// the RFC's Authorization.
#[test]
fn rfc7616_userhash_example() {
    let user = "J\u{e4}s\u{f8}n Doe";
    let realm = "api@example.org";
    let alg = Algorithm::parse("SHA-512-256").expect("known");
    assert_eq!(
        alg.hash.hex(&[user.as_bytes(), realm.as_bytes()]),
        "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
    );
    let input = DigestInput {
        algorithm: alg,
        username: user,
        realm,
        nonce: "5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK",
        cnonce: "NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v",
        nc: 1,
        qop: Some(Qop::Auth),
        method: "GET",
        uri: "/doe.json",
        body: b"",
    };
    assert_eq!(
        input.response(DigestSecret::Password(b"Secret, or not?")),
        "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
    );

    // Through a session: username is the hash, userhash=true is sent.
    let ch = values(
        "Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-512-256, \
         nonce=\"5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK\", \
         opaque=\"HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS\", charset=UTF-8, userhash=true",
    );
    let mut s = DigestSession::new(Credentials::password(user, "Secret, or not?"));
    s.on_challenge(&ch, false).expect("usable");
    let a = s
        .authorize("GET", "/doe.json", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(
        a.value.param("username"),
        Some("793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b")
    );
    assert_eq!(a.value.param("userhash"), Some("true"));
    assert_eq!(
        a.value.param("opaque"),
        Some("HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS")
    );
    assert_eq!(a.value.param("algorithm"), Some("SHA-512-256"));
    let cnonce = a.value.param("cnonce").expect("cnonce");
    let expect =
        DigestInput { cnonce, ..input }.response(DigestSecret::Password(b"Secret, or not?"));
    assert_eq!(a.value.param("response"), Some(expect.as_str()));
}

#[test]
fn header_format_and_quoting() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    s.on_challenge(
        &values("Digest realm=\"example.com\", nonce=\"abc\", opaque=\"xyz\", algorithm=MD5, qop=\"auth,auth-int\""),
        true,
    )
    .expect("usable");
    let a = s
        .authorize("REGISTER", "sip:example.com", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(a.header_name(), "Proxy-Authorization");
    let cnonce = "000102030405060708090a0b0c0d0e0f";
    let response = DigestInput {
        algorithm: Algorithm::MD5,
        username: "alice",
        realm: "example.com",
        nonce: "abc",
        cnonce,
        nc: 1,
        qop: Some(Qop::Auth),
        method: "REGISTER",
        uri: "sip:example.com",
        body: b"",
    }
    .response(DigestSecret::Password(b"secret"));
    assert_eq!(
        a.to_header_value(),
        format!(
            "Digest username=\"alice\", realm=\"example.com\", nonce=\"abc\", uri=\"sip:example.com\", \
             response=\"{response}\", algorithm=MD5, cnonce=\"{cnonce}\", opaque=\"xyz\", qop=auth, nc=00000001"
        )
    );
    // The value round-trips through the codec.
    let back = AuthValue::parse_list(&a.to_header_value(), "Proxy-Authorization").expect("parses");
    assert_eq!(back, vec![a.value.clone()]);
}

#[test]
fn ims_initial_form() {
    let a = Authorization::ims_initial("alice@ims.example", "ims.example");
    assert_eq!(a.header_name(), "Authorization");
    assert_eq!(
        a.to_header_value(),
        "Digest username=\"alice@ims.example\", realm=\"ims.example\", nonce=\"\", uri=\"sip:ims.example\", response=\"\""
    );
}

#[test]
fn legacy_no_qop_has_no_cnonce_or_nc() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    s.on_challenge(
        &values("Digest realm=\"example.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\""),
        false,
    )
    .expect("usable");
    let a = s
        .authorize("REGISTER", "sip:example.com", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(
        a.value.param("response"),
        Some("b75dc11e0cde1fc2f921ce28378036bb")
    );
    assert_eq!(a.value.param("cnonce"), None);
    assert_eq!(a.value.param("nc"), None);
    assert_eq!(a.value.param("qop"), None);
    assert_eq!(a.value.param("algorithm"), None);
}

#[test]
fn chooses_strongest_supported() {
    let offered = values(
        "Basic realm=\"x\", Digest realm=\"r\", nonce=\"1\", algorithm=MD5, \
         Digest realm=\"r\", nonce=\"2\", algorithm=SHA-256, \
         Digest realm=\"r\", nonce=\"3\", algorithm=SHA-512-256-sess, \
         Digest realm=\"r\", nonce=\"4\", algorithm=SHA-1, \
         Digest realm=\"r\", nonce=\"5\", algorithm=AKAv1-MD5, \
         Newauth realm=\"apps\", type=1",
    );
    let pw = Credentials::password("u", "p");
    let c = Challenge::choose(&offered, &pw).expect("usable");
    assert_eq!(c.nonce, "3");
    assert_eq!(
        c.algorithm,
        Algorithm {
            hash: Hash::Sha512_256,
            sess: true,
            aka: None
        }
    );
    assert_eq!(c.algorithm.to_string(), "SHA-512-256-sess");

    // An HA1 only answers MD5.
    let ha1 = Credentials::ha1("u", "939E7578ED9E3C518A452ACEE763BCE9");
    assert_eq!(
        Challenge::choose(&offered, &ha1).expect("usable").nonce,
        "1"
    );

    // Case-insensitive scheme and algorithm; ties go to the first offered.
    let c = Challenge::choose(
        &values("digest realm=\"r\", nonce=\"a\", algorithm=md5, DIGEST realm=\"r\", nonce=\"b\""),
        &pw,
    )
    .expect("usable");
    assert_eq!(c.nonce, "a");

    // Nothing usable: a typed error listing the offers.
    let e = Challenge::choose(
        &values("Basic realm=\"x\", Digest realm=\"r\", nonce=\"1\", algorithm=SHA-1"),
        &pw,
    )
    .expect_err("unusable");
    assert_eq!(
        e,
        AuthError::NoUsableChallenge {
            offered: vec!["Basic".into(), "Digest/SHA-1".into()]
        }
    );
    assert_eq!(
        e.to_string(),
        "no usable authentication challenge (offered: Basic, Digest/SHA-1)"
    );
    // AKA-only offers with password credentials.
    let e = Challenge::choose(
        &values("Digest realm=\"r\", nonce=\"1\", algorithm=AKAv1-MD5"),
        &pw,
    )
    .expect_err("aka");
    assert!(matches!(e, AuthError::NoUsableChallenge { .. }));
}

#[test]
fn challenge_parse_details() {
    let c = Challenge::parse(&values(
        "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int, auth\", stale=TRUE, domain=\"sip:a.example sip:b.example\"",
    )[0])
    .expect("parses");
    assert_eq!(c.qop, vec![Qop::AuthInt, Qop::Auth]);
    assert_eq!(c.qop_choice(), Some(Qop::Auth));
    assert!(c.stale);
    assert!(!c.userhash);
    assert_eq!(c.domain, ["sip:a.example", "sip:b.example"]);
    assert_eq!(c.algorithm, Algorithm::MD5);
    assert_eq!(c.algorithm_token, None);

    assert_eq!(
        Challenge::parse(&values("Digest nonce=\"n\"")[0]),
        Err(AuthError::MissingParam("realm"))
    );
    assert_eq!(
        Challenge::parse(&values("Digest realm=\"r\"")[0]),
        Err(AuthError::MissingParam("nonce"))
    );
    assert!(matches!(
        Challenge::parse(&values("Digest realm=\"r\", nonce=\"n\", qop=\"auth-conf\"")[0]),
        Err(AuthError::Unsupported(_))
    ));
    let only_int =
        Challenge::parse(&values("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"")[0])
            .expect("ok");
    assert_eq!(only_int.qop_choice(), Some(Qop::AuthInt));
}

#[test]
fn auth_int_hashes_the_body() {
    let ch = values("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"");
    let mut s = DigestSession::new(Credentials::password("u", "p"));
    s.on_challenge(&ch, false).expect("usable");
    let a = s
        .authorize("MESSAGE", "sip:bob@r", "héllo".as_bytes(), &mut Counter(1))
        .expect("auth");
    assert_eq!(a.value.param("qop"), Some("auth-int"));
    let input = DigestInput {
        algorithm: Algorithm::MD5,
        username: "u",
        realm: "r",
        nonce: "n",
        cnonce: a.value.param("cnonce").expect("cnonce"),
        nc: 1,
        qop: Some(Qop::AuthInt),
        method: "MESSAGE",
        uri: "sip:bob@r",
        body: "héllo".as_bytes(),
    };
    assert_eq!(
        a.value.param("response"),
        Some(input.response(DigestSecret::Password(b"p")).as_str())
    );
    let other = DigestInput {
        body: b"hello",
        ..input
    }
    .response(DigestSecret::Password(b"p"));
    assert_ne!(a.value.param("response"), Some(other.as_str()));
}

#[test]
fn nonce_count_and_proactive_reuse() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    let mut rng = Counter(0);
    assert_eq!(s.state(), SessionState::Idle);
    assert!(s
        .authorize("REGISTER", "sip:example.com", b"", &mut rng)
        .is_none());

    s.on_challenge(
        &values("Digest realm=\"example.com\", nonce=\"n1\", qop=\"auth\""),
        false,
    )
    .expect("ok");
    assert_eq!(s.state(), SessionState::Challenged);
    assert_eq!(s.realm(), Some("example.com"));
    let a1 = s
        .authorize("REGISTER", "sip:example.com", b"", &mut rng)
        .expect("auth");
    assert_eq!(a1.value.param("nc"), Some("00000001"));
    assert_eq!(s.state(), SessionState::Answered);
    s.on_success();
    assert_eq!(s.state(), SessionState::Established);

    // A refresh an hour later: same nonce, nc+1, fresh cnonce, no 401 round trip.
    let a2 = s
        .authorize("REGISTER", "sip:example.com", b"", &mut rng)
        .expect("auth");
    assert_eq!(a2.value.param("nc"), Some("00000002"));
    assert_eq!(a2.value.param("nonce"), Some("n1"));
    assert_ne!(a2.value.param("cnonce"), a1.value.param("cnonce"));
    let a3 = s
        .authorize("MESSAGE", "sip:bob@example.com", b"hi", &mut rng)
        .expect("auth");
    assert_eq!(a3.value.param("nc"), Some("00000003"));

    // The server forgot the nonce: a new challenge (even without stale) after a
    // proactive reuse starts a new round, nc back to 1.
    s.on_challenge(
        &values("Digest realm=\"example.com\", nonce=\"n2\", qop=\"auth\""),
        false,
    )
    .expect("new round");
    let a4 = s
        .authorize("REGISTER", "sip:example.com", b"", &mut rng)
        .expect("auth");
    assert_eq!(a4.value.param("nc"), Some("00000001"));
    assert_eq!(a4.value.param("nonce"), Some("n2"));
}

#[test]
fn second_authorize_implies_success() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    s.on_challenge(
        &values("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\""),
        false,
    )
    .expect("ok");
    s.authorize("REGISTER", "sip:r", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(s.state(), SessionState::Answered);
    s.authorize("MESSAGE", "sip:b@r", b"", &mut Counter(0))
        .expect("auth");
    assert_eq!(s.state(), SessionState::Established);
}

#[test]
fn sess_keeps_its_cnonce() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    s.on_challenge(
        &values("Digest realm=\"r\", nonce=\"n\", qop=\"auth\", algorithm=MD5-sess"),
        false,
    )
    .expect("ok");
    let a1 = s
        .authorize("REGISTER", "sip:r", b"", &mut Counter(0))
        .expect("auth");
    let a2 = s
        .authorize("REGISTER", "sip:r", b"", &mut Counter(100))
        .expect("auth");
    assert_eq!(a1.value.param("cnonce"), a2.value.param("cnonce"));
    assert_eq!(a2.value.param("algorithm"), Some("MD5-sess"));
}

#[test]
fn stale_retries_then_rejection() {
    let mut s = DigestSession::new(Credentials::password("alice", "wrong"));
    let mut rng = Counter(0);
    s.on_challenge(
        &values("Digest realm=\"r\", nonce=\"n1\", qop=\"auth\""),
        false,
    )
    .expect("ok");
    s.authorize("REGISTER", "sip:r", b"", &mut rng)
        .expect("auth");
    // stale=true: same credentials, new nonce.
    s.on_challenge(
        &values("Digest realm=\"r\", nonce=\"n2\", qop=\"auth\", stale=true"),
        false,
    )
    .expect("stale ok");
    let a = s
        .authorize("REGISTER", "sip:r", b"", &mut rng)
        .expect("auth");
    assert_eq!(a.value.param("nonce"), Some("n2"));
    assert_eq!(a.value.param("nc"), Some("00000001"));
    // Challenged again without stale after answering: refused, no loop.
    let e = s.on_challenge(
        &values("Digest realm=\"r\", nonce=\"n3\", qop=\"auth\""),
        false,
    );
    assert_eq!(e, Err(AuthError::Rejected));
    assert_eq!(s.state(), SessionState::Failed);
    assert_eq!(s.failure(), Some(&AuthError::Rejected));
    assert!(s.authorize("REGISTER", "sip:r", b"", &mut rng).is_none());
    assert_eq!(
        s.on_challenge(&values("Digest realm=\"r\", nonce=\"n4\""), false),
        Err(AuthError::Rejected)
    );
    // reset() starts over with the same credentials.
    s.reset();
    assert_eq!(s.state(), SessionState::Idle);
    s.on_challenge(&values("Digest realm=\"r\", nonce=\"n5\""), false)
        .expect("ok after reset");
}

#[test]
fn endless_stale_is_bounded() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    let mut rng = Counter(0);
    s.on_challenge(&values("Digest realm=\"r\", nonce=\"n0\""), false)
        .expect("ok");
    let mut outcome = Ok(());
    for i in 1..10 {
        s.authorize("REGISTER", "sip:r", b"", &mut rng)
            .expect("auth");
        outcome = s.on_challenge(
            &values(&format!("Digest realm=\"r\", nonce=\"n{i}\", stale=true")),
            false,
        );
        if outcome.is_err() {
            assert!(i <= 3, "stopped after {i}");
            break;
        }
    }
    assert_eq!(outcome, Err(AuthError::Rejected));
}

#[test]
fn no_usable_challenge_fails_the_session() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    let e = s
        .on_challenge(&values("Basic realm=\"r\""), false)
        .expect_err("unusable");
    assert_eq!(
        e,
        AuthError::NoUsableChallenge {
            offered: vec!["Basic".into()]
        }
    );
    assert_eq!(s.state(), SessionState::Failed);
}

#[test]
fn secrets_are_redacted() {
    let creds = Credentials::password("alice", "hunter2-secret");
    let dbg = format!("{creds:?}");
    assert!(dbg.contains("alice") && !dbg.contains("hunter2"), "{dbg}");
    let ha1 = Credentials::ha1("alice", "939e7578ed9e3c518a452acee763bce9");
    assert!(!format!("{ha1:?}").contains("939e"));
    let mut s = DigestSession::new(creds);
    s.on_challenge(&values("Digest realm=\"r\", nonce=\"n\""), false)
        .expect("ok");
    assert!(!format!("{s:?}").contains("hunter2"));
    let secret = imsip::auth::Secret::new("hunter2");
    assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
    assert_eq!(
        format!("{:?}", DigestSecret::Password(b"hunter2")),
        "<redacted>"
    );
}

#[test]
fn hostile_input_does_not_panic() {
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    for ch in [
        "Digest realm=\"r\", nonce=\"n\", algorithm=\"\"",
        "Digest realm=\"r\", nonce=\"n\", algorithm=-sess",
        "Digest realm=\"r\", nonce=\"n\", algorithm=AKAv1-",
        "Digest realm=\"r\", nonce=\"n\", algorithm=é-sess",
        "Digest realm=\"r\", nonce=\"n\", qop=\",,,\"",
        "Digest realm=\"\", nonce=\"\"",
    ] {
        s.reset();
        let _ = s.on_challenge(&values(ch), false);
        let _ = s.authorize("REGISTER", "sip:r", b"", &mut Counter(0));
    }
}

/// RFC 7616 §3.4: `nc` counts every request sent with a nonce. A new challenge
/// naming the nonce already in use (a server that challenges a request which
/// carried no credentials, with its current nonce) keeps counting; it restarted at
/// 1, which a server tracking nc reads as a replay. Another nonce starts again.
#[test]
fn nc_keeps_counting_when_challenged_again_with_the_same_nonce() {
    let nc_of = |s: &mut DigestSession| {
        let a = s
            .authorize("REGISTER", "sip:example.com", b"", &mut Counter(3))
            .expect("authorization");
        a.value.param("nc").map(str::to_owned)
    };
    let ch = |nonce: &str| {
        values(&format!(
            "Digest realm=\"example.com\", nonce=\"{nonce}\", qop=\"auth\""
        ))
    };
    let mut s = DigestSession::new(Credentials::password("alice", "secret"));
    s.on_challenge(&ch("n1"), false).unwrap();
    assert_eq!(nc_of(&mut s).as_deref(), Some("00000001"));
    s.on_success();
    assert_eq!(nc_of(&mut s).as_deref(), Some("00000002"));
    s.on_success();
    // A request sent without these credentials is challenged with the same nonce.
    s.on_challenge_to(&ch("n1"), false, false).unwrap();
    assert_eq!(nc_of(&mut s).as_deref(), Some("00000003"));
    s.on_success();
    s.on_challenge_to(&ch("n2"), false, false).unwrap();
    assert_eq!(nc_of(&mut s).as_deref(), Some("00000001"));
}
