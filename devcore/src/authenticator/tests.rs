//! Unit tests of the authenticator: digest answers, replays, stale nonces,
//! failures, AKA SQN, and the request-level 401/407/403 decision.

use super::*;
use crate::store::MemoryStore;
use crate::testing::{request, t0, test_config, Kit};
use imsip::auth::{Authorization, Credentials, DigestSession, RandomSource};
use imsip::message::Method;

struct Rng(u8);
impl RandomSource for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

const ALICE: &str = "sip:alice@imsip.test";

/// A REGISTER of alice carrying `session`'s answer, and its credentials.
fn answered(session: &mut DigestSession) -> Message {
    let a = session
        .authorize("REGISTER", "sip:imsip.test", b"", &mut Rng(0))
        .expect("an answer");
    request(Method::Register, "sip:imsip.test", ALICE, 1)
        .header(a.header_name(), a.to_header_value())
        .build()
}

fn verify(auth: &mut Authenticator, req: &Message, now: Instant) -> Verdict {
    let values = req.authorization().unwrap();
    let creds = credentials_for(&values, "imsip.test").unwrap();
    let alice = Kit::new().user(ALICE);
    auth.verify(creds, &alice, &Digested::sip(req).unwrap(), now)
}

#[test]
fn digest_answer_replay_and_stale_nonce() {
    let (mut auth, mut store, now) = (
        Authenticator::new(test_config().auth),
        MemoryStore::default(),
        t0().mono,
    );
    let alice = Kit::new().user(ALICE);
    let values = auth.issue(&alice, false, &mut store, now).unwrap();
    assert_eq!(values.len(), 1);
    assert_eq!(values[0].param("realm"), Some("imsip.test"));
    assert_eq!(values[0].param("algorithm"), Some("MD5"));
    assert_eq!(values[0].param("qop"), Some("auth"));
    let mut session = DigestSession::new(Credentials::password("alice@imsip.test", "alice-secret"));
    session.on_challenge(&values, false).unwrap();
    let req = answered(&mut session);
    assert_eq!(verify(&mut auth, &req, now), Verdict::Ok);
    assert_eq!(
        verify(&mut auth, &req, now),
        Verdict::Challenge { stale: false },
        "the same nc again is a replay"
    );
    let later = now + Duration::from_secs(301);
    let req = answered(&mut session);
    assert_eq!(
        verify(&mut auth, &req, later),
        Verdict::Challenge { stale: true }
    );
}

#[test]
fn three_wrong_answers_are_403() {
    let (mut auth, mut store, now) = (
        Authenticator::new(test_config().auth),
        MemoryStore::default(),
        t0().mono,
    );
    let alice = Kit::new().user(ALICE);
    let mut verdicts = Vec::new();
    for _ in 0..3 {
        let values = auth.issue(&alice, false, &mut store, now).unwrap();
        let mut s = DigestSession::new(Credentials::password("alice@imsip.test", "wrong"));
        s.on_challenge(&values, false).unwrap();
        verdicts.push(verify(&mut auth, &answered(&mut s), now));
    }
    assert_eq!(verdicts[0], Verdict::Challenge { stale: false });
    assert_eq!(verdicts[1], Verdict::Challenge { stale: false });
    assert!(matches!(verdicts[2], Verdict::Forbidden(_)));
}

#[test]
fn aka_challenges_draw_the_sqn_from_the_store() {
    let (mut auth, mut store, now) = (
        Authenticator::new(test_config().auth),
        MemoryStore::default(),
        t0().mono,
    );
    let carol = Kit::new().user("sip:carol@imsip.test");
    let values = auth.issue(&carol, false, &mut store, now).unwrap();
    assert_eq!(values[0].param("algorithm"), Some("AKAv1-MD5"));
    assert_eq!(store.aka_sqn("carol@imsip.test").unwrap(), Some(1));
    auth.issue(&carol, false, &mut store, now).unwrap();
    assert_eq!(store.aka_sqn("carol@imsip.test").unwrap(), Some(2));
    store.fail = true;
    assert!(auth.issue(&carol, false, &mut store, now).is_err());
}

#[test]
fn requests_get_401_407_403_or_pass() {
    let mut kit = Kit::new();
    let mut auth = Authenticator::new(test_config().auth);
    let conn = kit.conn();
    // REGISTER without credentials: 401, and the nonce's timer is set.
    let req = request(Method::Register, "sip:imsip.test", ALICE, 1).build();
    assert!(auth
        .authenticate_register(&mut kit.cx(), conn, &req)
        .is_none());
    let r = kit.last(conn);
    assert_eq!(r.status(), Some(401));
    assert_eq!(r.www_authenticate().unwrap().len(), 1);
    let forget = kit.now.mono + Duration::from_secs(300) + KEEP_EXPIRED;
    assert_eq!(kit.timers.get(Timer::Nonces), Some(forget));
    // Unknown user: 403.
    let req = request(Method::Register, "sip:imsip.test", "sip:eve@imsip.test", 1).build();
    assert!(auth
        .authenticate_register(&mut kit.cx(), conn, &req)
        .is_none());
    assert_eq!(kit.last(conn).reason(), Some("Forbidden (unknown user)"));
    // Another user's private identity: 403.
    let a = Authorization::ims_initial("bob@imsip.test", "imsip.test");
    let req = request(Method::Register, "sip:imsip.test", ALICE, 1)
        .header(a.header_name(), a.to_header_value())
        .build();
    assert!(auth
        .authenticate_register(&mut kit.cx(), conn, &req)
        .is_none());
    assert_eq!(kit.last(conn).status(), Some(403));
    // A MESSAGE over alice's registered flow passes untouched; elsewhere 407.
    let req = request(Method::Message, "sip:bob@imsip.test", ALICE, 1).build();
    let user = auth.authenticate_request(&mut kit.cx(), conn, &req, |aor| aor == ALICE);
    assert_eq!(user.map(|u| u.aor), Some(ALICE.to_owned()));
    assert!(kit.take(conn).is_empty());
    assert!(auth
        .authenticate_request(&mut kit.cx(), conn, &req, |_| false)
        .is_none());
    let r = kit.last(conn);
    assert_eq!(r.status(), Some(407));
    assert_eq!(r.proxy_authenticate().unwrap().len(), 1);
    // A store failure while challenging an AKA user: 500.
    kit.store.fail = true;
    let req = request(
        Method::Register,
        "sip:imsip.test",
        "sip:carol@imsip.test",
        1,
    )
    .build();
    assert!(auth
        .authenticate_register(&mut kit.cx(), conn, &req)
        .is_none());
    assert_eq!(kit.last(conn).status(), Some(500));

    // Nonces are forgotten when their timer fires.
    assert!(!auth.nonces.is_empty());
    kit.now = kit.now.plus(Duration::from_secs(900));
    assert_eq!(kit.timers.pop_expired(kit.now.mono), Some(Timer::Nonces));
    auth.handle_timeout(&mut kit.cx());
    assert!(auth.nonces.is_empty());
    assert_eq!(kit.timers.next(), None);
}
