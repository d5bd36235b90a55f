//! 401/407 state: one digest session per realm and per kind of challenge
//! (WWW-Authenticate from a registrar or UAS, Proxy-Authenticate from a proxy),
//! RFC 3261 §22 and RFC 7616.
//!
//! Each request records what it carried ([`Carried`]: kind, realm, nonce). A new
//! challenge to a request that carried no credentials for that realm, or older
//! ones, is answered; only a challenge to the very credentials just sent (same
//! realm, same nonce, not stale) is a refusal. So any number of requests may be in
//! flight and challenged at once (Kamailio's default script challenges every
//! request with its own 407 and a fresh nonce), and several realms challenged at
//! once each get their own Authorization / Proxy-Authorization.

use crate::auth::{
    AuthError, Authorization, CredentialSecret, Credentials, DigestSession, RandomSource,
    SessionState,
};
use crate::message::{AuthParam, AuthValue, HeaderName, Message, Uri};

/// Credentials one request carried for one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Carried {
    proxy: bool,
    realm: String,
    nonce: String,
}

struct RealmSession {
    proxy: bool,
    realm: String,
    session: DigestSession,
    /// Answer REGISTERs with it (a REGISTER was challenged in this realm).
    for_register: bool,
    /// Answer other requests with it (another request was challenged in this realm).
    for_other: bool,
    /// It holds the AKA keys (and their SQN): there is one such session.
    aka: bool,
}

impl RealmSession {
    fn applies_to(&self, is_register: bool) -> bool {
        if is_register {
            self.for_register
        } else {
            self.for_other
        }
    }

    fn nonce(&self) -> Option<&str> {
        self.session.challenge().map(|c| c.nonce.as_str())
    }
}

/// The user agent's credentials and every realm's digest state.
pub(super) struct CredentialStore {
    /// Password or HA1 credentials, copied into each new realm session.
    plain: Option<Credentials>,
    /// AKA credentials (not copyable: they hold the USIM), moved into the first
    /// session a registrar's 401 creates.
    aka: Option<Credentials>,
    username: Option<String>,
    sessions: Vec<RealmSession>,
}

fn copy_plain(c: &Credentials) -> Option<Credentials> {
    let secret = match &c.secret {
        CredentialSecret::Password(p) => CredentialSecret::Password(p.clone()),
        CredentialSecret::Ha1(h) => CredentialSecret::Ha1(h.clone()),
        CredentialSecret::Aka(_) => return None,
    };
    Some(Credentials {
        username: c.username.clone(),
        secret,
    })
}

impl CredentialStore {
    pub fn new(credentials: Option<Credentials>) -> CredentialStore {
        let username = credentials.as_ref().map(|c| c.username.clone());
        let (plain, aka) = match credentials {
            Some(c) if c.is_aka() => (None, Some(c)),
            other => (other, None),
        };
        CredentialStore {
            plain,
            aka,
            username,
            sessions: Vec::new(),
        }
    }

    /// The AKA sequence number to persist.
    pub fn aka_sqn(&self) -> Option<u64> {
        let in_session = self.sessions.iter().find_map(|s| s.session.aka_sqn());
        in_session.or_else(|| match self.aka.as_ref().map(|c| &c.secret) {
            Some(CredentialSecret::Aka(a)) => a.sqn(),
            _ => None,
        })
    }

    /// Forgets refusals and challenges (the app asked to register again).
    pub fn reset(&mut self) {
        for s in &mut self.sessions {
            s.session.reset();
        }
    }

    /// The IMS initial Authorization (3GPP TS 24.229 §5.1.1.2.1): private identity
    /// and an empty response, sent before any challenge of the registrar.
    pub fn initial_authorization(&self, registrar: &Uri) -> Option<String> {
        let username = self.username.as_deref()?;
        let answered = self
            .sessions
            .iter()
            .any(|s| s.for_register && s.session.state() != SessionState::Idle);
        if answered {
            return None;
        }
        let domain = registrar.host()?.to_string();
        Some(Authorization::ims_initial(username, &domain).to_header_value())
    }

    /// Every Authorization / Proxy-Authorization a request gets now, with what
    /// each carried (nc+1 on reused nonces, RFC 7616 §3.4).
    pub fn authorize(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Vec<(HeaderName, String, Carried)> {
        let is_register = method == "REGISTER";
        let mut out = Vec::new();
        for s in self
            .sessions
            .iter_mut()
            .filter(|s| s.applies_to(is_register))
        {
            let Some(a) = s.session.authorize(method, uri, body, rng) else {
                continue;
            };
            let name = if s.proxy {
                HeaderName::ProxyAuthorization
            } else {
                HeaderName::Authorization
            };
            let carried = Carried {
                proxy: s.proxy,
                realm: s.realm.clone(),
                nonce: a.value.param("nonce").unwrap_or("").to_owned(),
            };
            out.push((name, a.to_header_value(), carried));
        }
        out
    }

    /// A 401 (`proxy == false`) or 407 arrived for a request that carried
    /// `carried`. `Ok` means: send the request again.
    pub fn on_challenge(
        &mut self,
        msg: &Message,
        proxy: bool,
        carried: &[Carried],
    ) -> Result<(), AuthError> {
        let values = if proxy {
            msg.proxy_authenticate()
        } else {
            msg.www_authenticate()
        }
        .map_err(|_| AuthError::MissingParam("a readable challenge"))?;
        let is_register = msg
            .cseq()
            .map(|c| c.method.as_str() == "REGISTER")
            .unwrap_or(false);
        // One answer per realm (RFC 3261 §22.3): group the challenges by realm, in
        // the order the realms first appear (the values are moved, not cloned).
        let mut groups: Vec<(String, Vec<AuthValue>)> = Vec::new();
        for v in values {
            let realm = v.param("realm").unwrap_or("");
            match groups.iter_mut().find(|(r, _)| r == realm) {
                Some((_, group)) => group.push(v),
                None => groups.push((realm.to_owned(), vec![v])),
            }
        }
        if groups.is_empty() {
            return Err(AuthError::MissingParam("realm"));
        }
        for (realm, group) in &groups {
            let realm = realm.as_str();
            let i = self.session_for(proxy, realm)?;
            let s = &mut self.sessions[i];
            if is_register {
                s.for_register = true;
            } else {
                s.for_other = true;
            }
            let sent = carried
                .iter()
                .find(|c| c.proxy == proxy && c.realm == realm)
                .map(|c| c.nonce.as_str());
            let answered_this = sent.is_some() && sent == s.nonce();
            s.session.on_challenge_to(group, proxy, answered_this)?;
        }
        Ok(())
    }

    /// The index of the session for (`proxy`, `realm`), made on first use.
    fn session_for(&mut self, proxy: bool, realm: &str) -> Result<usize, AuthError> {
        if let Some(i) = self
            .sessions
            .iter()
            .position(|s| s.proxy == proxy && s.realm == realm)
        {
            return Ok(i);
        }
        // The AKA keys moved to the first registrar realm's session (one SQN
        // state); for an AKA-only subscriber, a registrar that challenges in
        // another realm later (another S-CSCF) gets that session, renamed: the
        // keys are the subscriber's, not the realm's.
        if !proxy && self.plain.is_none() {
            if let Some(i) = self.sessions.iter().position(|s| s.aka) {
                self.sessions[i].realm = realm.to_owned();
                return Ok(i);
            }
        }
        // AKA answers the registrar (TS 24.229: proxies do not challenge with AKA);
        // password credentials answer any realm.
        let mut aka = false;
        let credentials = match (proxy, self.aka.take()) {
            (false, Some(keys)) => {
                aka = true;
                keys
            }
            (_, aka) => {
                self.aka = aka;
                self.plain.as_ref().and_then(copy_plain).ok_or_else(|| {
                    AuthError::NoUsableChallenge {
                        offered: vec!["(no credentials configured)".into()],
                    }
                })?
            }
        };
        self.sessions.push(RealmSession {
            proxy,
            realm: realm.to_owned(),
            session: DigestSession::new(credentials),
            for_register: false,
            for_other: false,
            aka,
        });
        Ok(self.sessions.len() - 1)
    }

    /// A final response other than 401/407 arrived for a request that carried
    /// `carried`: those answers got through.
    pub fn accepted(&mut self, carried: &[Carried]) {
        for c in carried {
            if let Some(s) = self
                .sessions
                .iter_mut()
                .find(|s| s.proxy == c.proxy && s.realm == c.realm)
            {
                if s.nonce() == Some(c.nonce.as_str()) {
                    s.session.on_success();
                }
            }
        }
    }

    /// After an AKA MAC failure (the network failed to authenticate): the
    /// Authorization that tells the network so, TS 24.229 §5.1.1.5.2 — the
    /// challenge's realm and nonce, an empty `response` and no `auts`.
    pub fn mac_failure_authorization(&self, msg: &Message, uri: &str) -> Option<String> {
        let username = self.username.as_deref()?;
        let values = msg.www_authenticate().ok()?;
        let c = values.iter().find(|v| {
            v.param("algorithm")
                .is_some_and(|a| a.to_ascii_uppercase().starts_with("AKAV"))
        })?;
        let p = |name: &str, value: &str, quoted: bool| AuthParam {
            name: name.to_owned(),
            value: value.to_owned(),
            quoted,
        };
        let value = AuthValue {
            scheme: "Digest".to_owned(),
            params: vec![
                p("username", username, true),
                p("realm", c.param("realm").unwrap_or(""), true),
                p("nonce", c.param("nonce").unwrap_or(""), true),
                p("uri", uri, true),
                p("response", "", true),
                p(
                    "algorithm",
                    c.param("algorithm").unwrap_or("AKAv1-MD5"),
                    false,
                ),
            ],
        };
        Some(value.to_string())
    }
}
