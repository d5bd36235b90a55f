//! HTTP digest for SIP: challenges, the response computation (RFC 2617,
//! RFC 7616, RFC 8760, RFC 3261 §22) and the per-realm [`DigestSession`].

use super::{
    aka_password, decode_nonce, hex_encode, AkaOutcome, AuthError, CredentialSecret, Credentials,
    RandomSource, Secret,
};
use crate::message::{AuthParam, AuthValue};
use core::fmt;
use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

/// The hash function of a digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// MD5 (RFC 2617).
    Md5,
    /// SHA-256 (RFC 7616).
    Sha256,
    /// SHA-512/256 (RFC 7616, RFC 8760).
    Sha512_256,
}

fn join<D: Digest>(parts: &[&[u8]]) -> String {
    let mut d = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            d.update(b":");
        }
        d.update(p);
    }
    hex_encode(&d.finalize())
}

impl Hash {
    /// Lowercase hex of the hash of `parts` joined with `:`.
    pub fn hex(self, parts: &[&[u8]]) -> String {
        match self {
            Hash::Md5 => join::<Md5>(parts),
            Hash::Sha256 => join::<Sha256>(parts),
            Hash::Sha512_256 => join::<Sha512_256>(parts),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Hash::Md5 => "MD5",
            Hash::Sha256 => "SHA-256",
            Hash::Sha512_256 => "SHA-512-256",
        }
    }
}

/// The AKA version of an `AKAv<n>-<alg>` algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AkaVersion {
    /// AKAv1 (RFC 3310): the password is RES.
    V1,
    /// AKAv2 (RFC 4169): the password is derived from RES, IK and CK.
    V2,
}

/// A digest algorithm: `MD5`, `SHA-256`, `SHA-512-256`, each optionally
/// `-sess`, optionally prefixed `AKAv1-`/`AKAv2-` (RFC 3310 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// The hash function.
    pub hash: Hash,
    /// `-sess`: HA1 = H(H(user:realm:password):nonce:cnonce).
    pub sess: bool,
    /// AKA: the password comes from AKA.
    pub aka: Option<AkaVersion>,
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let head = s.get(..p.len())?;
    head.eq_ignore_ascii_case(p)
        .then(|| s.get(p.len()..))
        .flatten()
}

impl Algorithm {
    /// MD5, the default when a challenge names none.
    pub const MD5: Algorithm = Algorithm {
        hash: Hash::Md5,
        sess: false,
        aka: None,
    };

    /// Parses an `algorithm` token (case-insensitive); `None` if unknown.
    pub fn parse(s: &str) -> Option<Algorithm> {
        let (aka, s) = match (strip_prefix_ci(s, "AKAv1-"), strip_prefix_ci(s, "AKAv2-")) {
            (Some(r), _) => (Some(AkaVersion::V1), r),
            (_, Some(r)) => (Some(AkaVersion::V2), r),
            _ => (None, s),
        };
        let sess_at = s
            .len()
            .checked_sub(5)
            .filter(|&i| s.get(i..).is_some_and(|t| t.eq_ignore_ascii_case("-sess")));
        let (s, sess) = match sess_at.and_then(|i| s.get(..i)) {
            Some(h) => (h, true),
            None => (s, false),
        };
        let hash = [Hash::Md5, Hash::Sha256, Hash::Sha512_256]
            .into_iter()
            .find(|h| h.name().eq_ignore_ascii_case(s))?;
        Some(Algorithm { hash, sess, aka })
    }

    /// Preference among usable challenges (higher is stronger).
    fn strength(self) -> u8 {
        let h = match self.hash {
            Hash::Md5 => 1,
            Hash::Sha256 => 2,
            Hash::Sha512_256 => 3,
        };
        h + if self.aka == Some(AkaVersion::V2) {
            4
        } else {
            0
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.aka {
            Some(AkaVersion::V1) => f.write_str("AKAv1-")?,
            Some(AkaVersion::V2) => f.write_str("AKAv2-")?,
            None => {}
        }
        f.write_str(self.hash.name())?;
        if self.sess {
            f.write_str("-sess")?;
        }
        Ok(())
    }
}

/// Quality of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`: method and URI are protected.
    Auth,
    /// `auth-int`: the body is protected as well.
    AuthInt,
}

impl Qop {
    /// The token.
    pub fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

/// A parsed `Digest` challenge (WWW-Authenticate / Proxy-Authenticate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed.
    pub opaque: Option<String>,
    /// The algorithm (MD5 when absent).
    pub algorithm: Algorithm,
    /// The `algorithm` token as received, echoed verbatim; `None` if absent.
    pub algorithm_token: Option<String>,
    /// The known qop options offered, in order; empty = legacy RFC 2069 mode.
    pub qop: Vec<Qop>,
    /// `stale=true`: the nonce expired, the credentials were right.
    pub stale: bool,
    /// `userhash=true` (RFC 7616 §3.4.4): send `H(user:realm)` as username.
    pub userhash: bool,
    /// `domain` URIs (space-separated in the header).
    pub domain: Vec<String>,
}

fn describe(v: &AuthValue) -> String {
    if v.scheme.eq_ignore_ascii_case("Digest") {
        format!("Digest/{}", v.param("algorithm").unwrap_or("MD5"))
    } else {
        v.scheme.clone()
    }
}

impl Challenge {
    /// Parses one challenge. Errors: not `Digest`, an unknown algorithm or
    /// only unknown qop options ([`AuthError::Unsupported`]), no realm or
    /// nonce ([`AuthError::MissingParam`]).
    pub fn parse(v: &AuthValue) -> Result<Challenge, AuthError> {
        if !v.scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::Unsupported(v.scheme.clone()));
        }
        let algorithm_token = v.param("algorithm").map(str::to_owned);
        let algorithm = match &algorithm_token {
            Some(a) => Algorithm::parse(a).ok_or_else(|| AuthError::Unsupported(describe(v)))?,
            None => Algorithm::MD5,
        };
        let qop_param = v.param("qop").unwrap_or("");
        let mut qop: Vec<Qop> = Vec::new();
        for t in qop_param.split(',') {
            let t = t.trim();
            if t.eq_ignore_ascii_case("auth") {
                qop.push(Qop::Auth);
            } else if t.eq_ignore_ascii_case("auth-int") {
                qop.push(Qop::AuthInt);
            }
        }
        if qop.is_empty() && !qop_param.trim().is_empty() {
            return Err(AuthError::Unsupported(format!("qop={qop_param}")));
        }
        let mut domain = Vec::new();
        for d in v.param("domain").unwrap_or("").split_ascii_whitespace() {
            domain.push(d.to_owned());
        }
        let flag = |name| {
            v.param(name)
                .is_some_and(|s| s.eq_ignore_ascii_case("true"))
        };
        Ok(Challenge {
            realm: v
                .param("realm")
                .ok_or(AuthError::MissingParam("realm"))?
                .to_owned(),
            nonce: v
                .param("nonce")
                .ok_or(AuthError::MissingParam("nonce"))?
                .to_owned(),
            opaque: v.param("opaque").map(str::to_owned),
            algorithm,
            algorithm_token,
            qop,
            stale: flag("stale"),
            userhash: flag("userhash"),
            domain,
        })
    }

    /// Picks the challenge to answer among all those of one response: the
    /// strongest one these credentials can answer (AKA credentials answer only
    /// AKA challenges, AKAv2 before AKAv1; passwords answer SHA-512-256 before
    /// SHA-256 before MD5; an HA1 answers only MD5); ties go to the first
    /// offered. Unparsable or unknown challenges are skipped.
    pub fn choose(values: &[AuthValue], credentials: &Credentials) -> Result<Challenge, AuthError> {
        let mut best: Option<Challenge> = None;
        for c in values.iter().filter_map(|v| Challenge::parse(v).ok()) {
            let a = c.algorithm;
            let usable = match credentials.secret {
                CredentialSecret::Aka(_) => a.aka.is_some(),
                CredentialSecret::Ha1(_) => a.aka.is_none() && a.hash == Hash::Md5,
                CredentialSecret::Password(_) => a.aka.is_none(),
            };
            // Every strength is >= 1, so any usable challenge beats "none yet".
            if usable && a.strength() > best.as_ref().map_or(0, |b| b.algorithm.strength()) {
                best = Some(c);
            }
        }
        best.ok_or_else(|| {
            let mut offered = Vec::with_capacity(values.len());
            for v in values {
                offered.push(describe(v));
            }
            AuthError::NoUsableChallenge { offered }
        })
    }

    /// The qop to answer with: `auth` when offered, else `auth-int`, else
    /// none (legacy).
    pub fn qop_choice(&self) -> Option<Qop> {
        if self.qop.contains(&Qop::Auth) {
            Some(Qop::Auth)
        } else {
            self.qop.first().copied()
        }
    }
}

/// The secret a response is computed from.
#[derive(Clone, Copy)]
pub enum DigestSecret<'a> {
    /// The password bytes (for AKA, the AKA password).
    Password(&'a [u8]),
    /// `H(user:realm:password)` as lowercase hex.
    Ha1(&'a [u8]),
}

impl fmt::Debug for DigestSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything a digest `response` depends on besides the secret. A server
/// fills it from a received Authorization to recompute the response (compare
/// with [`super::ct_eq`]).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The username (not its userhash).
    pub username: &'a str,
    /// `realm`.
    pub realm: &'a str,
    /// `nonce`.
    pub nonce: &'a str,
    /// `cnonce` (ignored without qop and -sess).
    pub cnonce: &'a str,
    /// Nonce count (ignored without qop).
    pub nc: u32,
    /// The qop answered; `None` for legacy RFC 2069.
    pub qop: Option<Qop>,
    /// The request method.
    pub method: &'a str,
    /// The digest-uri (the Request-URI as sent).
    pub uri: &'a str,
    /// The body (auth-int only).
    pub body: &'a [u8],
}

impl DigestInput<'_> {
    /// HA1, including the `-sess` step.
    pub fn ha1(&self, secret: DigestSecret<'_>) -> String {
        let h = self.algorithm.hash;
        let ha1 = match secret {
            DigestSecret::Password(p) => {
                h.hex(&[self.username.as_bytes(), self.realm.as_bytes(), p])
            }
            DigestSecret::Ha1(x) => String::from_utf8_lossy(x).into_owned(),
        };
        if self.algorithm.sess {
            h.hex(&[
                ha1.as_bytes(),
                self.nonce.as_bytes(),
                self.cnonce.as_bytes(),
            ])
        } else {
            ha1
        }
    }

    /// The `response` value (lowercase hex).
    pub fn response(&self, secret: DigestSecret<'_>) -> String {
        let h = self.algorithm.hash;
        let ha1 = Secret::new(self.ha1(secret));
        let body_hash;
        let mut a2: Vec<&[u8]> = vec![self.method.as_bytes(), self.uri.as_bytes()];
        if self.qop == Some(Qop::AuthInt) {
            body_hash = h.hex(&[self.body]);
            a2.push(body_hash.as_bytes());
        }
        let ha2 = h.hex(&a2);
        let nonce = self.nonce.as_bytes();
        match self.qop {
            Some(q) => {
                let nc = format!("{:08x}", self.nc);
                h.hex(&[
                    ha1.expose(),
                    nonce,
                    nc.as_bytes(),
                    self.cnonce.as_bytes(),
                    q.as_str().as_bytes(),
                    ha2.as_bytes(),
                ])
            }
            None => h.hex(&[ha1.expose(), nonce, ha2.as_bytes()]),
        }
    }
}

/// An Authorization or Proxy-Authorization header value to add to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `Proxy-Authorization` (answer to a 407) rather than `Authorization`.
    pub proxy: bool,
    /// The credentials: `Digest username="…", …`.
    pub value: AuthValue,
}

fn param(name: &str, value: impl Into<String>, quoted: bool) -> AuthParam {
    AuthParam {
        name: name.to_owned(),
        value: value.into(),
        quoted,
    }
}

impl Authorization {
    /// `Authorization` or `Proxy-Authorization`.
    pub fn header_name(&self) -> &'static str {
        if self.proxy {
            "Proxy-Authorization"
        } else {
            "Authorization"
        }
    }

    /// The header value, quoted per RFC 3261 §25.1 / RFC 7616 §3.4.
    pub fn to_header_value(&self) -> String {
        self.value.text()
    }

    /// The Authorization of an IMS initial REGISTER (3GPP TS 24.229
    /// §5.1.1.2): `Digest username="<private id>", realm="<domain>",
    /// nonce="", uri="sip:<domain>", response=""`.
    pub fn ims_initial(private_id: &str, domain: &str) -> Authorization {
        Authorization {
            proxy: false,
            value: AuthValue {
                scheme: "Digest".to_owned(),
                params: vec![
                    param("username", private_id, true),
                    param("realm", domain, true),
                    param("nonce", "", true),
                    param("uri", format!("sip:{domain}"), true),
                    param("response", "", true),
                ],
            },
        }
    }
}

/// The state of a [`DigestSession`]:
///
/// ```text
///          on_challenge              authorize
///   Idle ───────────────► Challenged ─────────► Answered ── on_challenge, no stale ──► Failed
///                          ▲   ▲   │ ▲             │  │                              (Rejected)
///                          │   │   │ └─────────────┘  │ on_success, or
///                          │   │   │  on_challenge    │ a 2nd authorize
///                          │   │   │  stale=true (≤2) ▼
///                          │   │   │             Established ◄──┐
///                          │   │   │                 │  └───────┘ authorize:
///                          │   └───┼─────────────────┘          same nonce, nc+1
///                          │       │   on_challenge (new round)
///                          │       ▼ authorize (AKA sync failure: AUTS sent)
///                          └── Resyncing
///                 on_challenge
///
///   any state ── reset() ──► Idle        any Err from on_challenge ──► Failed
/// ```
///
/// | state       | `on_challenge`                                   | `authorize`                    |
/// |-------------|--------------------------------------------------|--------------------------------|
/// | Idle        | → Challenged                                     | `None`                         |
/// | Challenged  | → Challenged (the newer challenge replaces)      | nc=1 → Answered (or Resyncing) |
/// | Answered    | stale=true → Challenged (≤ 2 in a row); else Err(Rejected) → Failed | nc+1 → Established |
/// | Resyncing   | → Challenged                                     | `None`                         |
/// | Established | → Challenged (nonce expired: a new round)        | nc+1                           |
/// | Failed      | the same Err again                               | `None`                         |
///
/// Any `Err` from `on_challenge` (no usable challenge, bad AKA nonce, MAC
/// failure, rejected, resync twice) leaves the session `Failed` until
/// [`DigestSession::reset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// No challenge known: requests go without credentials.
    Idle,
    /// A challenge was received and not yet answered.
    Challenged,
    /// The challenge was answered once; the verdict is pending. A new
    /// challenge without `stale=true` now means the credentials are refused.
    Answered,
    /// AKA: AUTS was sent; the server will challenge again with a new nonce.
    Resyncing,
    /// An answer got through: later requests reuse the nonce with nc+1,
    /// proactively (no 401 round trip); a new challenge starts a new round.
    Established,
    /// Stopped on an error; see [`DigestSession::failure`].
    Failed,
}

enum AkaAnswer {
    Password(Secret),
    Auts([u8; 14]),
}

/// Digest authentication towards one realm (registrar or proxy): remembers
/// the last challenge to authorise later requests proactively, counts nonce
/// uses, and stops when credentials are refused. See [`SessionState`].
///
/// The user agent calls [`on_challenge`](Self::on_challenge) with the
/// challenges of each 401/407, [`authorize`](Self::authorize) for each request
/// it sends (and, optionally, [`on_success`](Self::on_success) on a final
/// response other than 401/407).
pub struct DigestSession {
    credentials: Credentials,
    state: SessionState,
    failure: Option<AuthError>,
    challenge: Option<Challenge>,
    proxy: bool,
    nc: u32,
    cnonce: String,
    aka: Option<AkaAnswer>,
    stale_retries: u8,
    resynced: bool,
}

impl fmt::Debug for DigestSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestSession")
            .field("credentials", &self.credentials)
            .field("state", &self.state)
            .field("realm", &self.realm())
            .field("nc", &self.nc)
            .finish_non_exhaustive()
    }
}

impl DigestSession {
    /// A new session in [`SessionState::Idle`].
    pub fn new(credentials: Credentials) -> Self {
        DigestSession {
            credentials,
            state: SessionState::Idle,
            failure: None,
            challenge: None,
            proxy: false,
            nc: 0,
            cnonce: String::new(),
            aka: None,
            stale_retries: 0,
            resynced: false,
        }
    }

    /// The current state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Why the session is [`SessionState::Failed`].
    pub fn failure(&self) -> Option<&AuthError> {
        self.failure.as_ref()
    }

    /// The challenge being answered.
    pub fn challenge(&self) -> Option<&Challenge> {
        self.challenge.as_ref()
    }

    /// The realm of the challenge being answered.
    pub fn realm(&self) -> Option<&str> {
        self.challenge.as_ref().map(|c| c.realm.as_str())
    }

    /// The credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// AKA with a [`SoftUsim`](super::SoftUsim): the last accepted SQN, to
    /// persist after each challenge.
    pub fn aka_sqn(&self) -> Option<u64> {
        match &self.credentials.secret {
            CredentialSecret::Aka(a) => a.sqn(),
            _ => None,
        }
    }

    /// Forgets the challenge and any failure: back to [`SessionState::Idle`].
    pub fn reset(&mut self) {
        self.state = SessionState::Idle;
        self.failure = None;
        self.challenge = None;
        self.aka = None;
        self.nc = 0;
        self.cnonce.clear();
        self.stale_retries = 0;
        self.resynced = false;
    }

    fn fail(&mut self, e: AuthError) -> Result<(), AuthError> {
        self.state = SessionState::Failed;
        self.failure = Some(e.clone());
        self.aka = None;
        Err(e)
    }

    fn succeeded(&mut self) {
        self.state = SessionState::Established;
        self.stale_retries = 0;
        self.resynced = false;
    }

    /// Takes the `WWW-Authenticate` (`proxy == false`) or `Proxy-Authenticate`
    /// values of a 401/407. `Ok` means: resend the request, calling
    /// [`authorize`](Self::authorize). `Err` means stop (the session is then
    /// `Failed`): [`AuthError::Rejected`] after a refused answer, AKA
    /// [`AuthError::NetworkAuthFailed`] (no RES is ever sent), etc.
    pub fn on_challenge(&mut self, challenges: &[AuthValue], proxy: bool) -> Result<(), AuthError> {
        let answered = self.state == SessionState::Answered;
        self.on_challenge_to(challenges, proxy, answered)
    }

    /// Like [`on_challenge`](Self::on_challenge), for a caller that knows which
    /// request was challenged: `answered_this` says whether that request carried
    /// this session's current answer (same realm, same nonce). Only then can the
    /// challenge be a refusal (RFC 3261 §22.2, RFC 7616 §3.3: a new challenge to a
    /// request that carried no credentials, or older ones, is simply answered).
    /// With several requests in flight, a 401/407 to a request sent before the
    /// first answer must not be taken as a verdict on that answer.
    pub fn on_challenge_to(
        &mut self,
        challenges: &[AuthValue],
        proxy: bool,
        answered_this: bool,
    ) -> Result<(), AuthError> {
        if let Some(e) = &self.failure {
            return Err(e.clone());
        }
        let c = match Challenge::choose(challenges, &self.credentials) {
            Ok(c) => c,
            Err(e) => return self.fail(e),
        };
        if answered_this && self.state == SessionState::Answered {
            if !c.stale || self.stale_retries >= 2 {
                return self.fail(AuthError::Rejected);
            }
            self.stale_retries += 1;
        }
        self.aka = None;
        if let (Some(version), CredentialSecret::Aka(auth)) =
            (c.algorithm.aka, &mut self.credentials.secret)
        {
            let n = match decode_nonce(&c.nonce) {
                Ok(n) => n,
                Err(e) => return self.fail(e),
            };
            match auth.authenticate(&n.rand, &n.autn) {
                AkaOutcome::Ok { res, ck, ik } => {
                    self.aka = Some(AkaAnswer::Password(aka_password(
                        version,
                        res.expose(),
                        &ik,
                        &ck,
                    )));
                }
                AkaOutcome::SyncFailure { .. } if self.resynced => {
                    return self.fail(AuthError::SyncFailed)
                }
                AkaOutcome::SyncFailure { auts } => self.aka = Some(AkaAnswer::Auts(auts)),
                AkaOutcome::MacFailure => return self.fail(AuthError::NetworkAuthFailed),
            }
        }
        // RFC 7616 §3.4: nc counts every request sent with this nonce, so a
        // challenge that names the nonce already in use keeps counting (restarting
        // at 1 reads as a replay to a server that tracks nc).
        let same_nonce = self
            .challenge
            .as_ref()
            .is_some_and(|old| old.nonce == c.nonce && old.realm == c.realm);
        if !same_nonce {
            self.nc = 0;
            self.cnonce.clear();
        }
        self.challenge = Some(c);
        self.proxy = proxy;
        self.state = SessionState::Challenged;
        Ok(())
    }

    /// A final response other than 401/407 arrived for a request carrying our
    /// answer: `Answered` → `Established`. Optional: a second `authorize`
    /// implies it.
    pub fn on_success(&mut self) {
        if self.state == SessionState::Answered {
            self.succeeded();
        }
    }

    /// The credentials for a request (`method`, Request-URI `uri`, `body` for
    /// auth-int), or `None` when there is nothing to answer (`Idle`,
    /// `Resyncing`, `Failed`). Each call uses the nonce once more (nc+1) with a
    /// fresh cnonce from `rng` (kept for `-sess`).
    pub fn authorize(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Option<Authorization> {
        let next = match self.state {
            SessionState::Challenged => match self.aka {
                Some(AkaAnswer::Auts(_)) => SessionState::Resyncing,
                _ => SessionState::Answered,
            },
            SessionState::Answered | SessionState::Established => SessionState::Established,
            SessionState::Idle | SessionState::Resyncing | SessionState::Failed => return None,
        };
        let c = self.challenge.as_ref()?;
        let qop = c.qop_choice();
        if (qop.is_some() || c.algorithm.sess) && (self.cnonce.is_empty() || !c.algorithm.sess) {
            let mut b = [0u8; 16];
            rng.fill(&mut b);
            self.cnonce = hex_encode(&b);
        }
        self.nc = self.nc.saturating_add(1);
        let input = DigestInput {
            algorithm: c.algorithm,
            username: &self.credentials.username,
            realm: &c.realm,
            nonce: &c.nonce,
            cnonce: &self.cnonce,
            nc: self.nc,
            qop,
            method,
            uri,
            body,
        };
        let secret = match (&self.credentials.secret, &self.aka) {
            (CredentialSecret::Password(p), _) => DigestSecret::Password(p.expose()),
            (CredentialSecret::Ha1(h), _) => DigestSecret::Ha1(h.expose()),
            (CredentialSecret::Aka(_), Some(AkaAnswer::Password(p))) => {
                DigestSecret::Password(p.expose())
            }
            (CredentialSecret::Aka(_), Some(AkaAnswer::Auts(_))) => DigestSecret::Password(b""),
            (CredentialSecret::Aka(_), None) => return None,
        };
        let response = input.response(secret);
        let username = if c.userhash {
            c.algorithm
                .hash
                .hex(&[input.username.as_bytes(), c.realm.as_bytes()])
        } else {
            input.username.to_owned()
        };
        let mut params = vec![
            param("username", username, true),
            param("realm", c.realm.as_str(), true),
            param("nonce", c.nonce.as_str(), true),
            param("uri", uri, true),
            param("response", response, true),
        ];
        if let Some(a) = &c.algorithm_token {
            params.push(param("algorithm", a.as_str(), false));
        }
        if !self.cnonce.is_empty() {
            params.push(param("cnonce", self.cnonce.as_str(), true));
        }
        if let Some(o) = &c.opaque {
            params.push(param("opaque", o.as_str(), true));
        }
        if let Some(q) = qop {
            params.push(param("qop", q.as_str(), false));
            params.push(param("nc", format!("{:08x}", self.nc), false));
        }
        if c.userhash {
            params.push(param("userhash", "true", false));
        }
        if let Some(AkaAnswer::Auts(a)) = &self.aka {
            params.push(param("auts", super::base64_encode(a), true));
        }
        if next == SessionState::Established {
            self.succeeded();
        } else {
            if next == SessionState::Resyncing {
                self.resynced = true;
            }
            self.state = next;
        }
        Some(Authorization {
            proxy: self.proxy,
            value: AuthValue {
                scheme: "Digest".to_owned(),
                params,
            },
        })
    }
}
