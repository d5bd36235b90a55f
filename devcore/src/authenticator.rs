//! The server side of authentication: digest challenges (RFC 2617,
//! RFC 7616, RFC 8760) and IMS AKA (RFC 3310 AKAv1-MD5, RFC 4169 AKAv2-MD5),
//! nonce lifetime (`stale=true`), nonce-count replay protection, AKA
//! resynchronisation (AUTS), the count of consecutive failures per user, and
//! the answer a request gets: 401/407 challenges, 403, 400, or through.
//! (The client side is `imsip::auth::DigestSession`.)
//!
//! It is devcore's one digest verifier: the SIP core's instance checks
//! REGISTER and other requests ([`Authenticator::authenticate_register`],
//! [`Authenticator::authenticate_request`]); the MSRP relay owns another
//! instance (same [`AuthConfig`], its own nonces and failure counts) for
//! RFC 4976 AUTH ([`Authenticator::issue_digest`],
//! [`Authenticator::verify_credentials`]). What a digest covers is a
//! [`Digested`]: method, the URI the digest `uri` must name, and the body.
//!
//! Users have a password or AKA keys (no stored HA1). An AKA user has no
//! digest password: the relay's AUTH answers such a user 403.
//!
//! Nonces live in memory only (forgotten on [`Timer::Nonces`], when a new
//! challenge is issued after they aged out, or on a restart); the AKA SQN of
//! each user is in the [`Store`]. Responses are recomputed with
//! [`DigestInput`] and compared with [`ct_eq`]; nothing here logs a password,
//! a key or an expected response.

use crate::core::Cx;
use crate::flows::ConnId;
use crate::store::{Store, StoreResult};
use crate::timers::{Timer, TimerTable};
use crate::users::{aor_key, User, UserSecret, Users};
use crate::util::random_hex;
use imsip::auth::{
    base64_decode, ct_eq, generate_challenge, verify_auts, AkaVector, AkaVersion, Algorithm,
    DigestInput, DigestSecret, Hash, Qop, Secret,
};
use imsip::message::{AuthParam, AuthValue, Message};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long an expired nonce is remembered (to answer `stale=true`).
const KEEP_EXPIRED: Duration = Duration::from_secs(600);
/// Upper bound on remembered nonces.
const MAX_NONCES: usize = 10_000;
/// Largest SQN (48 bits).
const SQN_MAX: u64 = (1 << 48) - 1;

/// Settings of the [`Authenticator`].
#[derive(Debug, Clone)]
pub(crate) struct AuthConfig {
    /// The realm of every challenge.
    pub realm: String,
    /// Digest algorithms offered to password users, one challenge each.
    pub digest: Vec<Algorithm>,
    /// AKA versions offered to AKA users, one challenge each (same vector).
    pub aka: Vec<AkaVersion>,
    /// Nonce lifetime.
    pub nonce_ttl: Duration,
    /// Consecutive failures after which the answer is 403.
    pub max_failures: u32,
}

/// What to answer to a request's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Authenticated.
    Ok,
    /// Challenge again (401/407), with `stale=true` when the credentials were
    /// right but the nonce expired.
    Challenge {
        /// Whether to send `stale=true`.
        stale: bool,
    },
    /// 403 with this reason.
    Forbidden(&'static str),
    /// 400 with this reason.
    BadRequest(&'static str),
    /// AKA resynchronisation (RFC 3310 §3.4): the AUTS verified; the user's
    /// SQN is to be set to `sqn` in the store, then a fresh challenge sent.
    Resync {
        /// SQN_MS from the AUTS.
        sqn: u64,
    },
}

/// What a digest response covers (RFC 7616 §3.4.3): the request's method,
/// the URI the digest `uri` parameter must name, and the body (`auth-int`).
#[derive(Clone, Copy)]
pub(crate) struct Digested<'a> {
    /// The request's method (`REGISTER`, `MESSAGE`, `AUTH`…).
    pub method: &'a str,
    /// The URI the request is sent to: a SIP Request-URI, the first To-Path
    /// URI of an MSRP AUTH (the relay's, RFC 4976 §5.1).
    pub target: &'a str,
    /// Whether a digest `uri` (first argument) names `target` (second).
    pub same_uri: fn(&str, &str) -> bool,
    /// The body (empty when there is none).
    pub body: &'a [u8],
}

impl<'a> Digested<'a> {
    /// A SIP request: its method, its Request-URI compared as text, its body.
    /// `None` for a response.
    fn sip(req: &'a Message) -> Option<Digested<'a>> {
        Some(Digested {
            method: req.method()?.as_str(),
            target: req.request_uri()?.as_str(),
            same_uri: |a, b| a == b,
            body: req.body(),
        })
    }
}

/// Which challenge a request gets: a registrar's 401 with WWW-Authenticate
/// or a proxy's 407 with Proxy-Authenticate (RFC 3261 §22.1, §22.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// 401, WWW-Authenticate; credentials in Authorization.
    Registrar,
    /// 407, Proxy-Authenticate; credentials in Proxy-Authorization (or
    /// Authorization).
    Proxy,
}

#[derive(Clone)]
enum NonceKind {
    Digest,
    Aka(Box<AkaVector>),
}

struct NonceState {
    created: Instant,
    /// The user challenged; `None` when the challenge went out before the
    /// user was known (MSRP AUTH): any password user may answer it.
    private_id: Option<String>,
    offered: Vec<Algorithm>,
    kind: NonceKind,
    last_nc: u32,
}

/// Issues and checks challenges; decides what an unauthenticated request
/// gets.
pub(crate) struct Authenticator {
    cfg: AuthConfig,
    nonces: HashMap<String, NonceState>,
    failures: HashMap<String, u32>,
}

fn param(name: &str, value: impl Into<String>, quoted: bool) -> AuthParam {
    AuthParam {
        name: name.to_owned(),
        value: value.into(),
        quoted,
    }
}

/// The Digest credentials meant for `realm` among a request's Authorization
/// or Proxy-Authorization values (the first Digest one without a realm as a
/// fallback).
fn credentials_for<'a>(values: &'a [AuthValue], realm: &str) -> Option<&'a AuthValue> {
    let digest = || {
        values
            .iter()
            .filter(|v| v.scheme.eq_ignore_ascii_case("Digest"))
    };
    digest()
        .find(|v| v.param("realm") == Some(realm))
        .or_else(|| digest().find(|v| v.param("realm").is_none()))
}

/// Whether credentials are the empty ones of an IMS initial REGISTER
/// (`nonce=""`, `response=""`, 3GPP TS 24.229 §5.1.1.2): no answer yet.
fn is_initial(creds: &AuthValue) -> bool {
    creds.param("nonce").unwrap_or("").is_empty()
        || creds.param("response").unwrap_or("").is_empty()
}

impl Authenticator {
    /// A new authenticator.
    pub fn new(cfg: AuthConfig) -> Self {
        Authenticator {
            cfg,
            nonces: HashMap::new(),
            failures: HashMap::new(),
        }
    }

    /// Builds the challenges for `user` (one per offered algorithm, all with
    /// the same fresh nonce). For an AKA user this draws the next SQN (kept
    /// in `store`) and a fresh RAND: nonce = base64(RAND ‖ AUTN).
    pub fn issue(
        &mut self,
        user: &User,
        stale: bool,
        store: &mut dyn Store,
        now: Instant,
    ) -> StoreResult<Vec<AuthValue>> {
        self.prune(now);
        let (nonce, offered, kind) = match &user.secret {
            UserSecret::Password(_) => (random_hex(16), self.cfg.digest.clone(), NonceKind::Digest),
            UserSecret::Aka { keys, initial_sqn } => {
                let last = store.aka_sqn(&user.private_id)?.unwrap_or(*initial_sqn);
                let sqn = if last >= SQN_MAX { 1 } else { last + 1 };
                store.set_aka_sqn(&user.private_id, sqn)?;
                let rand: [u8; 16] = crate::util::random_bytes();
                let vector = generate_challenge(keys, sqn, &rand);
                let offered = self
                    .cfg
                    .aka
                    .iter()
                    .map(|v| Algorithm {
                        hash: Hash::Md5,
                        sess: false,
                        aka: Some(*v),
                    })
                    .collect();
                (
                    vector.nonce.clone(),
                    offered,
                    NonceKind::Aka(Box::new(vector)),
                )
            }
        };
        Ok(self.offer(
            nonce,
            Some(user.private_id.clone()),
            offered,
            kind,
            stale,
            now,
        ))
    }

    /// Builds digest challenges bound to no user (one per offered password
    /// algorithm, the same fresh nonce): the first answer to an MSRP AUTH,
    /// which names no user (RFC 4976 §5.1). Answered through
    /// [`Authenticator::verify_credentials`].
    pub fn issue_digest(&mut self, stale: bool, now: Instant) -> Vec<AuthValue> {
        self.prune(now);
        let offered = self.cfg.digest.clone();
        self.offer(random_hex(16), None, offered, NonceKind::Digest, stale, now)
    }

    /// Remembers `nonce` and returns its challenges.
    fn offer(
        &mut self,
        nonce: String,
        private_id: Option<String>,
        offered: Vec<Algorithm>,
        kind: NonceKind,
        stale: bool,
        now: Instant,
    ) -> Vec<AuthValue> {
        let values = offered
            .iter()
            .map(|a: &Algorithm| {
                let mut params = vec![
                    param("realm", self.cfg.realm.as_str(), true),
                    param("nonce", nonce.as_str(), true),
                    param("algorithm", a.to_string(), false),
                    param("qop", "auth", true),
                ];
                if stale {
                    params.push(param("stale", "true", false));
                }
                AuthValue {
                    scheme: "Digest".to_owned(),
                    params,
                }
            })
            .collect();
        self.nonces.insert(
            nonce,
            NonceState {
                created: now,
                private_id,
                offered,
                kind,
                last_nc: 0,
            },
        );
        values
    }

    /// The verdict on the `Authorization` values of a request that names its
    /// user only there (MSRP AUTH: the digest username is the private
    /// identity). No credentials for our realm, or an unknown username: a
    /// fresh challenge ([`Verdict::Challenge`], no failure counted). An AKA
    /// user: 403, there is no digest password to answer with. Otherwise as
    /// [`Authenticator::verify`].
    pub fn verify_credentials(
        &mut self,
        authorization: &[AuthValue],
        users: &Users,
        req: &Digested<'_>,
        now: Instant,
    ) -> Verdict {
        let creds = credentials_for(authorization, &self.cfg.realm).filter(|c| !is_initial(c));
        let Some((creds, user)) =
            creds.and_then(|c| Some((c, users.by_private_id(c.param("username")?)?)))
        else {
            return Verdict::Challenge { stale: false };
        };
        if let UserSecret::Aka { .. } = user.secret {
            return Verdict::Forbidden("Forbidden (an AKA user has no digest password)");
        }
        self.verify(creds, user, req, now)
    }

    /// Checks `creds` (an answer to one of our challenges) of `user` for
    /// `req`: realm, nonce (known, offered to this user, not expired:
    /// else `stale=true`), algorithm among those offered, qop, nc above the
    /// last one seen for the nonce (replays are challenged again), digest
    /// `uri` naming the request's target, and the response. A wrong response
    /// counts a failure (403 after `max_failures`). AKA resynchronisation (an
    /// `auts` parameter that verifies) gives [`Verdict::Resync`].
    pub fn verify(
        &mut self,
        creds: &AuthValue,
        user: &User,
        req: &Digested<'_>,
        now: Instant,
    ) -> Verdict {
        let p = |n: &str| creds.param(n);
        if p("username") != Some(user.private_id.as_str()) {
            return Verdict::Forbidden(
                "Forbidden (private identity does not match the public identity)",
            );
        }
        let nonce = p("nonce").unwrap_or("");
        if p("realm") != Some(self.cfg.realm.as_str()) {
            return Verdict::Challenge { stale: false };
        }
        let Some(state) = self.nonces.get(nonce) else {
            // Unknown (never issued, or forgotten): a fresh challenge, no failure.
            return Verdict::Challenge { stale: false };
        };
        if state
            .private_id
            .as_ref()
            .is_some_and(|id| *id != user.private_id)
        {
            return Verdict::Challenge { stale: false };
        }
        let algorithm = match p("algorithm") {
            Some(t) => match Algorithm::parse(t) {
                Some(a) => a,
                None => return Verdict::BadRequest("Bad Request (unknown digest algorithm)"),
            },
            None => Algorithm::MD5,
        };
        if !state.offered.contains(&algorithm) {
            return Verdict::Challenge { stale: false };
        }
        let (created, last_nc, kind) = (state.created, state.last_nc, state.kind.clone());
        if let (Some(auts), NonceKind::Aka(vector), UserSecret::Aka { keys, .. }) =
            (p("auts"), &kind, &user.secret)
        {
            let sqn_ms = base64_decode(auts).and_then(|a| verify_auts(keys, &vector.rand, &a));
            if let Some(sqn_ms) = sqn_ms {
                info!(user = %user.private_id, sqn_ms, "AKA resynchronisation");
                self.nonces.remove(nonce);
                return Verdict::Resync {
                    sqn: sqn_ms.min(SQN_MAX),
                };
            }
            warn!(user = %user.private_id, "AKA resynchronisation: AUTS does not verify");
            return self.failed(user);
        }
        let qop = match p("qop") {
            Some(q) if q.eq_ignore_ascii_case("auth") => Qop::Auth,
            Some(q) if q.eq_ignore_ascii_case("auth-int") => Qop::AuthInt,
            Some(_) => return Verdict::BadRequest("Bad Request (unknown qop)"),
            None => return Verdict::BadRequest("Bad Request (qop=auth was offered)"),
        };
        let Some(nc) = p("nc").and_then(|s| u32::from_str_radix(s, 16).ok()) else {
            return Verdict::BadRequest("Bad Request (missing or bad nc)");
        };
        let Some(cnonce) = p("cnonce") else {
            return Verdict::BadRequest("Bad Request (missing cnonce)");
        };
        let Some(uri) = p("uri") else {
            return Verdict::BadRequest("Bad Request (missing digest uri)");
        };
        if !(req.same_uri)(uri, req.target) {
            return Verdict::BadRequest(
                "Bad Request (digest uri does not name the request's target)",
            );
        }
        let secret: Secret = match (&user.secret, &kind, algorithm.aka) {
            (UserSecret::Password(pw), NonceKind::Digest, None) => pw.clone(),
            (UserSecret::Aka { .. }, NonceKind::Aka(v), Some(version)) => v.password(version),
            _ => return Verdict::Challenge { stale: false },
        };
        let input = DigestInput {
            algorithm,
            username: &user.private_id,
            realm: &self.cfg.realm,
            nonce,
            cnonce,
            nc,
            qop: Some(qop),
            method: req.method,
            uri,
            body: req.body,
        };
        let expected = Secret::new(input.response(DigestSecret::Password(secret.expose())));
        let given = p("response").unwrap_or("").to_ascii_lowercase();
        if !ct_eq(expected.expose(), given.as_bytes()) {
            warn!(user = %user.private_id, "wrong digest response");
            return self.failed(user);
        }
        if now.saturating_duration_since(created) > self.cfg.nonce_ttl {
            self.nonces.remove(nonce);
            return Verdict::Challenge { stale: true };
        }
        if nc <= last_nc {
            warn!(user = %user.private_id, nc, last_nc, "nonce-count replay");
            return Verdict::Challenge { stale: false };
        }
        if let Some(s) = self.nonces.get_mut(nonce) {
            s.last_nc = nc;
        }
        self.failures.remove(&user.private_id);
        Verdict::Ok
    }

    fn failed(&mut self, user: &User) -> Verdict {
        let n = self.failures.entry(user.private_id.clone()).or_insert(0);
        *n += 1;
        if *n >= self.cfg.max_failures {
            self.failures.remove(&user.private_id);
            Verdict::Forbidden("Forbidden (too many failed authentication attempts)")
        } else {
            Verdict::Challenge { stale: false }
        }
    }

    /// How long a nonce is remembered.
    fn keep(&self) -> Duration {
        self.cfg.nonce_ttl + KEEP_EXPIRED
    }

    /// Forgets nonces issued `keep` or longer ago (and, over
    /// [`MAX_NONCES`], every expired one).
    fn prune(&mut self, now: Instant) {
        let keep = self.keep();
        self.nonces
            .retain(|_, s| now.saturating_duration_since(s.created) < keep);
        if self.nonces.len() > MAX_NONCES {
            let ttl = self.cfg.nonce_ttl;
            self.nonces
                .retain(|_, s| now.saturating_duration_since(s.created) <= ttl);
        }
    }
}

impl Authenticator {
    /// The user a REGISTER registers (its To AoR), once authenticated; on
    /// `None` the answer (403, 401, 400 or 500) has been sent.
    pub fn authenticate_register(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
    ) -> Option<User> {
        let Some(user) = req
            .to()
            .ok()
            .and_then(|t| aor_key(&t.uri))
            .and_then(|a| cx.users.by_aor(&a).cloned())
        else {
            cx.flows
                .reply(conn, req, 403, "Forbidden (unknown user)", &[]);
            return None;
        };
        self.check(cx, conn, req, &user, Role::Registrar)
            .then_some(user)
    }

    /// The sender of a non-REGISTER request (its From AoR): trusted when that
    /// AoR is registered over this flow (`registered_on`, as a P-CSCF trusts
    /// the registered flow), else authenticated by digest with 407
    /// challenges. On `None` the answer (403, 407, 400 or 500) has been sent.
    pub fn authenticate_request(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        registered_on: impl Fn(&str) -> bool,
    ) -> Option<User> {
        let from = req.from().ok()?;
        let Some(user) = aor_key(&from.uri).and_then(|a| cx.users.by_aor(&a).cloned()) else {
            cx.flows
                .reply(conn, req, 403, "Forbidden (unknown user)", &[]);
            return None;
        };
        if registered_on(&user.aor) {
            return Some(user);
        }
        self.check(cx, conn, req, &user, Role::Proxy)
            .then_some(user)
    }

    /// Checks the credentials of `req` for `user`: `true` when
    /// authenticated; otherwise the answer (401/407, 403, 400, 500) has been
    /// sent.
    fn check(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        user: &User,
        role: Role,
    ) -> bool {
        let mut values = match role {
            Role::Proxy => req.proxy_authorization().unwrap_or_default(),
            Role::Registrar => Vec::new(),
        };
        values.extend(req.authorization().unwrap_or_default());
        let creds = credentials_for(&values, &self.cfg.realm);
        if let Some(name) = creds.and_then(|c| c.param("username")) {
            if !name.is_empty() && name != user.private_id {
                let r = "Forbidden (private identity does not match the public identity)";
                cx.flows.reply(conn, req, 403, r, &[]);
                return false;
            }
        }
        let Some(creds) = creds.filter(|c| !is_initial(c)) else {
            self.challenge(cx, conn, req, user, role, false);
            return false;
        };
        let Some(digested) = Digested::sip(req) else {
            cx.flows
                .reply(conn, req, 400, "Bad Request (not a request)", &[]);
            return false;
        };
        match self.verify(creds, user, &digested, cx.now.mono) {
            Verdict::Ok => true,
            Verdict::Challenge { stale } => {
                self.challenge(cx, conn, req, user, role, stale);
                false
            }
            Verdict::Resync { sqn } => {
                match cx.store.set_aka_sqn(&user.private_id, sqn) {
                    Ok(()) => self.challenge(cx, conn, req, user, role, false),
                    Err(e) => cx.flows.server_error(conn, req, &e),
                }
                false
            }
            Verdict::Forbidden(reason) => {
                cx.flows.reply(conn, req, 403, reason, &[]);
                false
            }
            Verdict::BadRequest(reason) => {
                cx.flows.reply(conn, req, 400, reason, &[]);
                false
            }
        }
    }

    /// Answers `req` with fresh challenges for `user` (or 500).
    fn challenge(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        user: &User,
        role: Role,
        stale: bool,
    ) {
        let issued = self.issue(user, stale, cx.store, cx.now.mono);
        self.arm(cx.timers);
        match issued {
            Ok(values) => {
                let (status, reason, header) = match role {
                    Role::Proxy => (407, "Proxy Authentication Required", "Proxy-Authenticate"),
                    Role::Registrar => (401, "Unauthorized", "WWW-Authenticate"),
                };
                let headers: Vec<(&str, String)> =
                    values.iter().map(|v| (header, v.to_string())).collect();
                cx.flows.reply(conn, req, status, reason, &headers);
            }
            Err(e) => cx.flows.server_error(conn, req, &e),
        }
    }

    /// [`Timer::Nonces`] fired: forgets old nonces.
    pub fn handle_timeout(&mut self, cx: &mut Cx<'_>) {
        self.prune(cx.now.mono);
        self.arm(cx.timers);
    }

    /// Sets [`Timer::Nonces`] to when the oldest nonce is to be forgotten.
    fn arm(&self, timers: &mut TimerTable) {
        let keep = self.keep();
        let next = self.nonces.values().map(|s| s.created + keep).min();
        timers.set_or_stop(Timer::Nonces, next);
    }
}

#[cfg(test)]
mod tests;
