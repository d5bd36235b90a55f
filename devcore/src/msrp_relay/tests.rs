//! Unit tests of the relay's AUTH (RFC 4976 §5) through the shared
//! authenticator: a stale nonce and the client's fresh answer, replays, wrong
//! passwords, SHA-256, AKA users, a digest uri that is not the relay. The
//! client side is `imsip::auth::DigestSession`, the digest state the MSRP
//! session engine (`src/msrp/session/relay_auth.rs`) answers with; frames are
//! written as that engine writes them.

use super::*;
use crate::testing::{t0, test_config};
use imsip::auth::{Algorithm, Credentials, DigestSession, Hash, RandomSource};
use imsip::msrp::TransactionId;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

struct Rng(u8);
impl RandomSource for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

/// What the client puts first in To-Path and as its digest `uri`.
const RELAY: &str = "msrps://127.0.0.1:5060;ws";

/// A relay with the test settings changed by `f`, one connection to it, and
/// what it sends on that connection.
fn relay_with(
    f: impl FnOnce(&mut AuthConfig),
) -> (MsrpRelay, RelayConnId, UnboundedReceiver<Outbound>) {
    let mut auth = test_config().auth;
    f(&mut auth);
    let mut relay = MsrpRelay::new(
        RelayConfig {
            authority: "127.0.0.1:5060".into(),
            auth,
        },
        Users::builtin(),
    );
    let (conn, rx) = connect(&mut relay);
    (relay, conn, rx)
}

fn connect(relay: &mut MsrpRelay) -> (RelayConnId, UnboundedReceiver<Outbound>) {
    let (tx, rx) = unbounded_channel();
    (relay.open(tx).expect("a relay URI"), rx)
}

/// An AUTH as the session engine writes it: with `session`'s answer when it
/// has a challenge (method AUTH, digest uri the relay's URI, no body).
fn auth_frame(session: &mut DigestSession, rng: &mut Rng) -> Vec<u8> {
    let relay = MsrpUri::parse(RELAY).unwrap();
    let me = MsrpUri::parse("msrps://a.invalid:2855/me1;ws").unwrap();
    let tid = TransactionId::random(rng);
    let mut auth = RequestBuilder::auth(tid, relay.clone(), me);
    if let Some(answer) = session.authorize("AUTH", &relay.to_string(), b"", rng) {
        auth = auth.authorization(&answer);
    }
    auth.encode().unwrap()
}

/// The one frame the relay sent since the last call.
fn sent(rx: &mut UnboundedReceiver<Outbound>) -> Frame {
    let Ok(Outbound::Frame(bytes)) = rx.try_recv() else {
        panic!("a frame sent");
    };
    assert!(rx.try_recv().is_err(), "one frame only");
    Frame::parse(&bytes).unwrap()
}

/// Sends `bytes` on `conn` at `now`; the relay's answer.
fn exchange(
    relay: &mut MsrpRelay,
    conn: RelayConnId,
    rx: &mut UnboundedReceiver<Outbound>,
    bytes: &[u8],
    now: Instant,
) -> Frame {
    assert_eq!(relay.on_frame(conn, bytes, now), Verdict::Ok);
    sent(rx)
}

fn password(user: &str, pw: &str) -> DigestSession {
    DigestSession::new(Credentials::password(user, pw))
}

/// Sends `session`'s AUTH (`auth_frame`) on `conn` at `now`; the relay's answer.
fn send_auth(
    relay: &mut MsrpRelay,
    conn: RelayConnId,
    rx: &mut UnboundedReceiver<Outbound>,
    session: &mut DigestSession,
    rng: &mut Rng,
    now: Instant,
) -> Frame {
    exchange(relay, conn, rx, &auth_frame(session, rng), now)
}

/// Sends `session`'s AUTH on `conn` at `now` and has `session` take the relay's
/// challenge.
fn get_challenged(
    relay: &mut MsrpRelay,
    conn: RelayConnId,
    rx: &mut UnboundedReceiver<Outbound>,
    session: &mut DigestSession,
    rng: &mut Rng,
    now: Instant,
) {
    let r = send_auth(relay, conn, rx, session, rng, now);
    session
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap();
}

/// The two-step AUTH on `conn` at `now`: the relay's challenge, then
/// `session`'s answer to it; the relay's response to the answer.
fn challenge_then_answer(
    relay: &mut MsrpRelay,
    conn: RelayConnId,
    rx: &mut UnboundedReceiver<Outbound>,
    session: &mut DigestSession,
    rng: &mut Rng,
    now: Instant,
) -> Frame {
    get_challenged(relay, conn, rx, session, rng, now);
    send_auth(relay, conn, rx, session, rng, now)
}

#[test]
fn a_stale_nonce_gets_stale_true_and_the_fresh_answer_passes() {
    let (mut relay, conn, mut rx) = relay_with(|_| {});
    let (mut s, mut rng) = (password("alice@imsip.test", "alice-secret"), Rng(0));
    let now = t0().mono;
    let r = send_auth(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    assert_eq!(r.status_code(), Some(401));
    let ch = r.www_authenticate().unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].param("stale"), None);
    s.on_challenge(&ch, false).unwrap();
    let r = send_auth(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    assert_eq!(r.status_code(), Some(200));
    s.on_success();

    // The refresh, after the nonce's 300 s: the same nonce with nc 2 is
    // right but expired: 401 with stale=true and a new nonce.
    let later = now + Duration::from_secs(301);
    let old_nonce = ch[0].param("nonce").unwrap().to_owned();
    let r = send_auth(&mut relay, conn, &mut rx, &mut s, &mut rng, later);
    assert_eq!(r.status_code(), Some(401));
    let ch = r.www_authenticate().unwrap();
    assert_eq!(ch[0].param("stale"), Some("true"));
    assert_ne!(ch[0].param("nonce"), Some(old_nonce.as_str()));
    s.on_challenge(&ch, false).unwrap();
    let r = send_auth(&mut relay, conn, &mut rx, &mut s, &mut rng, later);
    assert_eq!(r.status_code(), Some(200));
    assert_eq!(r.expires().unwrap(), Some(DEFAULT_EXPIRES));

    // A first answer that comes after its nonce expired: stale=true is no
    // refusal, the client answers the new nonce and gets through.
    let (conn2, mut rx2) = connect(&mut relay);
    let mut s = password("alice@imsip.test", "alice-secret");
    get_challenged(&mut relay, conn2, &mut rx2, &mut s, &mut rng, later);
    let much_later = later + Duration::from_secs(301);
    let r = send_auth(&mut relay, conn2, &mut rx2, &mut s, &mut rng, much_later);
    assert_eq!(r.status_code(), Some(401));
    let ch = r.www_authenticate().unwrap();
    assert_eq!(ch[0].param("stale"), Some("true"));
    s.on_challenge(&ch, false)
        .expect("stale=true is answered again");
    let r = send_auth(&mut relay, conn2, &mut rx2, &mut s, &mut rng, much_later);
    assert_eq!(r.status_code(), Some(200));
}

#[test]
fn a_replayed_authorization_is_challenged_again() {
    let (mut relay, conn, mut rx) = relay_with(|_| {});
    let (mut s, mut rng) = (password("bob@imsip.test", "bob-secret"), Rng(0));
    let now = t0().mono;
    get_challenged(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    let answer = auth_frame(&mut s, &mut rng);
    let r = exchange(&mut relay, conn, &mut rx, &answer, now);
    assert_eq!(r.status_code(), Some(200));
    // The same Authorization (same nonce, same nc) again, on this connection
    // or another one: 401, not stale.
    let r = exchange(&mut relay, conn, &mut rx, &answer, now);
    assert_eq!(r.status_code(), Some(401));
    assert_eq!(r.www_authenticate().unwrap()[0].param("stale"), None);
    let (conn2, mut rx2) = connect(&mut relay);
    let r = exchange(&mut relay, conn2, &mut rx2, &answer, now);
    assert_eq!(r.status_code(), Some(401));
    // The next nc on the nonce (a refresh) passes.
    let r = send_auth(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    assert_eq!(r.status_code(), Some(200));
}

#[test]
fn a_wrong_password_is_challenged_again_then_refused() {
    let (mut relay, conn, mut rx) = relay_with(|_| {});
    let mut rng = Rng(0);
    let now = t0().mono;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let mut s = password("alice@imsip.test", "wrong");
        let r = challenge_then_answer(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
        if r.status_code() == Some(401) {
            let ch = r.www_authenticate().unwrap();
            assert_eq!(ch[0].param("stale"), None);
            assert!(
                s.on_challenge(&ch, false).is_err(),
                "a refusal to the client"
            );
        }
        codes.push(r.status_code());
    }
    // 401 again, then 403 once the failures reach max_failures (3).
    assert_eq!(codes, [Some(401), Some(401), Some(403)]);
    // An unknown user is challenged again (no failure to count).
    let mut s = password("eve@imsip.test", "x");
    let r = challenge_then_answer(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    assert_eq!(r.status_code(), Some(401));
}

#[test]
fn sha256_is_offered_with_md5_and_checked() {
    let sha256 = Algorithm {
        hash: Hash::Sha256,
        sess: false,
        aka: None,
    };
    let (mut relay, conn, mut rx) = relay_with(|a| a.digest = vec![sha256, Algorithm::MD5]);
    let (mut s, mut rng) = (password("alice@imsip.test", "alice-secret"), Rng(0));
    let now = t0().mono;
    let r = send_auth(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    let ch = r.www_authenticate().unwrap();
    let algorithms: Vec<_> = ch.iter().map(|c| c.param("algorithm")).collect();
    assert_eq!(algorithms, [Some("SHA-256"), Some("MD5")]);
    assert_eq!(ch[0].param("nonce"), ch[1].param("nonce"));
    s.on_challenge(&ch, false).unwrap();
    let answer = auth_frame(&mut s, &mut rng);
    let frame = Frame::parse(&answer).unwrap();
    let creds = frame.authorization().unwrap();
    assert_eq!(creds[0].param("algorithm"), Some("SHA-256"));
    let r = exchange(&mut relay, conn, &mut rx, &answer, now);
    assert_eq!(r.status_code(), Some(200));
}

#[test]
fn an_aka_user_is_refused_with_403() {
    let (mut relay, conn, mut rx) = relay_with(|_| {});
    // carol has Milenage keys, no password: whatever she answers with, 403.
    let (mut s, mut rng) = (password("carol@imsip.test", "anything"), Rng(0));
    let now = t0().mono;
    let r = challenge_then_answer(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    assert_eq!(r.status_code(), Some(403));
    assert_eq!(
        r.comment(),
        Some("Forbidden (an AKA user has no digest password)")
    );
    assert!(r.www_authenticate().unwrap().is_empty());
}

#[test]
fn a_digest_uri_that_is_not_the_relay_is_a_bad_request() {
    let (mut relay, conn, mut rx) = relay_with(|_| {});
    let (mut s, mut rng) = (password("alice@imsip.test", "alice-secret"), Rng(0));
    let now = t0().mono;
    get_challenged(&mut relay, conn, &mut rx, &mut s, &mut rng, now);
    let relay_uri = MsrpUri::parse(RELAY).unwrap();
    let me = MsrpUri::parse("msrps://a.invalid:2855/me1;ws").unwrap();
    let answer = s
        .authorize("AUTH", "msrps://elsewhere.invalid;ws", b"", &mut rng)
        .unwrap();
    let frame = RequestBuilder::auth(TransactionId::random(&mut rng), relay_uri, me)
        .authorization(&answer)
        .encode()
        .unwrap();
    let r = exchange(&mut relay, conn, &mut rx, &frame, now);
    assert_eq!(r.status_code(), Some(400));
}
