//! Glue between the user agent and [`crate::auth::DigestSession`]: one session for
//! the registrar's 401 challenges (WWW-Authenticate → Authorization) and one for a
//! proxy's 407 challenges (Proxy-Authenticate → Proxy-Authorization), so that a
//! core that challenges REGISTER with 401 and other requests with 407 (Kamailio's
//! usual script) is answered in one round trip each time.

use crate::auth::AuthError;
use crate::auth::{
    Authorization, CredentialSecret, Credentials, DigestSession, RandomSource, SessionState,
};
use crate::message::{HeaderName, Message, Uri};

pub(crate) struct AuthState {
    www: Option<DigestSession>,
    proxy: Option<DigestSession>,
    /// A non-REGISTER request was challenged with 401: answer such requests
    /// from the registrar session too.
    www_for_all: bool,
}

impl AuthState {
    pub(crate) fn new(credentials: Option<Credentials>) -> AuthState {
        let proxy = credentials.as_ref().and_then(|c| {
            let secret = match &c.secret {
                CredentialSecret::Password(p) => CredentialSecret::Password(p.clone()),
                CredentialSecret::Ha1(h) => CredentialSecret::Ha1(h.clone()),
                // IMS proxies do not challenge with AKA; an AKA authenticator is not shared.
                CredentialSecret::Aka(_) => return None,
            };
            Some(DigestSession::new(Credentials {
                username: c.username.clone(),
                secret,
            }))
        });
        AuthState {
            www: credentials.map(DigestSession::new),
            proxy,
            www_for_all: false,
        }
    }

    pub(crate) fn aka_sqn(&self) -> Option<u64> {
        self.www.as_ref().and_then(DigestSession::aka_sqn)
    }

    /// Forget failures and challenges (the app asked to register again).
    pub(crate) fn reset(&mut self) {
        if let Some(s) = self.www.as_mut() {
            s.reset();
        }
        if let Some(s) = self.proxy.as_mut() {
            s.reset();
        }
    }

    /// The IMS initial Authorization (3GPP TS 24.229 §5.1.1.2.1): private identity
    /// and empty response, sent before any challenge.
    pub(crate) fn initial_authorization(&self, registrar: &Uri) -> Option<String> {
        let s = self.www.as_ref()?;
        if s.state() != SessionState::Idle {
            return None;
        }
        let domain = registrar.host()?.to_string();
        Some(Authorization::ims_initial(&s.credentials().username, &domain).to_header_value())
    }

    /// Credentials for a request, if a challenge is known for it.
    pub(crate) fn authorize(
        &mut self,
        method: &str,
        uri: &str,
        body: &[u8],
        rng: &mut dyn RandomSource,
    ) -> Option<(HeaderName, String)> {
        let is_register = method == "REGISTER";
        let mut out = Vec::with_capacity(2);
        if is_register || self.www_for_all {
            if let Some(a) = self
                .www
                .as_mut()
                .and_then(|s| s.authorize(method, uri, body, rng))
            {
                out.push(a);
            }
        }
        if !is_register {
            if let Some(a) = self
                .proxy
                .as_mut()
                .and_then(|s| s.authorize(method, uri, body, rng))
            {
                out.push(a);
            }
        }
        // One header is enough for every core we know; prefer the proxy answer for
        // non-REGISTER requests.
        let a = out.pop()?;
        let name = if a.proxy {
            HeaderName::ProxyAuthorization
        } else {
            HeaderName::Authorization
        };
        Some((name, a.to_header_value()))
    }

    /// A 401 (`proxy == false`) or 407 arrived: `Ok` means resend with credentials.
    pub(crate) fn on_challenge(&mut self, msg: &Message, proxy: bool) -> Result<(), AuthError> {
        let challenges = if proxy {
            msg.proxy_authenticate()
        } else {
            msg.www_authenticate()
        }
        .map_err(|_| AuthError::MissingParam("a readable challenge"))?;
        if !proxy
            && msg
                .cseq()
                .map(|c| c.method.as_str() != "REGISTER")
                .unwrap_or(false)
        {
            self.www_for_all = true;
        }
        let session = if proxy {
            self.proxy.as_mut()
        } else {
            self.www.as_mut()
        };
        match session {
            Some(s) => s.on_challenge(&challenges, proxy),
            None => Err(AuthError::NoUsableChallenge {
                offered: vec!["(no credentials configured)".into()],
            }),
        }
    }

    /// A final non-401/407 response: the answer got through.
    pub(crate) fn accepted(&mut self) {
        if let Some(s) = self.www.as_mut() {
            s.on_success();
        }
        if let Some(s) = self.proxy.as_mut() {
            s.on_success();
        }
    }
}
