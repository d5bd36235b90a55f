//! Authenticating to the relay (RFC 4976 §5): `AUTH` until a 200 grants a
//! `Use-Path`, digest answers through [`DigestSession`], and a refresh before the
//! path expires.
//!
//! ```text
//!          start              2xx + Use-Path              refresh due
//!   Idle ─────────► Authenticating ─────────► Authenticated ─────────► Refreshing
//!                     │  ▲                         ▲                     │  ▲
//!                     │  └ 401: answer the         └──── 2xx + Use-Path ─┘  └ 401 / 423:
//!                     │    challenge; 423: the                               as on the left
//!                     │    relay's bounds (once)
//!                     └─ 403, other failures, a second 401, no answer in time,
//!                        no Use-Path ──► Failed          (from Refreshing too)
//! ```
//!
//! A 401 to an answer is a refusal unless it says `stale=true`: [`DigestSession`]
//! keeps that verdict. While refreshing, the path granted before still routes our
//! chunks.

use super::api::{Millis, SessionError};
use crate::auth::{Credentials, DigestSession, RandomSource};
use crate::msrp::{Frame, MsrpUri, RequestBuilder, TransactionId};

/// The states drawn in the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthState {
    Idle,
    Authenticating,
    Authenticated,
    Refreshing,
    Failed,
}

/// What the session does after a step of the exchange.
#[derive(Debug)]
pub(super) enum AuthStep {
    /// Send this `AUTH`.
    Send(Vec<u8>),
    /// The relay granted a path.
    Authenticated {
        use_path: Vec<MsrpUri>,
        expires: Option<u32>,
    },
    /// The relay refused us, or did not answer: the session fails.
    Failed(SessionError),
}

/// Our side of RFC 4976 §5.
#[derive(Debug)]
pub(super) struct RelayAuth {
    relay: MsrpUri,
    local: MsrpUri,
    digest: DigestSession,
    /// The `Expires` we ask for.
    expires: Option<u32>,
    timeout: Millis,
    state: AuthState,
    /// The `AUTH` awaiting its response, and when it gives up.
    pending: Option<(TransactionId, Millis)>,
    /// A 423 was answered already (a second one is a failure).
    bounds_tried: bool,
    use_path: Option<Vec<MsrpUri>>,
    refresh_at: Option<Millis>,
}

impl RelayAuth {
    pub fn new(
        relay: MsrpUri,
        local: MsrpUri,
        credentials: Credentials,
        expires: Option<u32>,
        timeout: Millis,
    ) -> RelayAuth {
        RelayAuth {
            relay,
            local,
            digest: DigestSession::new(credentials),
            expires,
            timeout,
            state: AuthState::Idle,
            pending: None,
            bounds_tried: false,
            use_path: None,
            refresh_at: None,
        }
    }

    /// The first `AUTH`, once the connection is open.
    /// `None` when it was started before (a second `Connected`).
    pub fn start(&mut self, now: Millis, rng: &mut dyn RandomSource) -> Option<AuthStep> {
        if self.state != AuthState::Idle {
            return None;
        }
        self.state = AuthState::Authenticating;
        Some(self.request(now, rng))
    }

    /// The relay's path while it is granted (refreshing included).
    pub fn use_path(&self) -> Option<&[MsrpUri]> {
        match self.state {
            AuthState::Authenticated | AuthState::Refreshing => self.use_path.as_deref(),
            _ => None,
        }
    }

    /// Whether `tid` is the `AUTH` awaiting its response.
    pub fn owns(&self, tid: &TransactionId) -> bool {
        self.pending.as_ref().is_some_and(|(t, _)| t == tid)
    }

    /// The next deadline: the pending `AUTH` gives up, or the refresh is due.
    pub fn next_deadline(&self) -> Option<Millis> {
        match (&self.pending, self.refresh_at) {
            (Some((_, at)), _) => Some(*at),
            (None, refresh) => refresh,
        }
    }

    /// Acts on a deadline that has passed, if any.
    pub fn handle_timeout(&mut self, now: Millis, rng: &mut dyn RandomSource) -> Option<AuthStep> {
        if let Some((_, at)) = &self.pending {
            return (*at <= now).then(|| self.fail(SessionError::AuthTimeout));
        }
        if self.refresh_at.is_some_and(|at| at <= now) && self.state == AuthState::Authenticated {
            self.refresh_at = None;
            self.state = AuthState::Refreshing;
            return Some(self.request(now, rng));
        }
        None
    }

    /// The relay's response to our `AUTH` ([`RelayAuth::owns`] its transaction id).
    pub fn on_response(
        &mut self,
        now: Millis,
        response: &Frame,
        rng: &mut dyn RandomSource,
    ) -> AuthStep {
        self.pending = None;
        let code = response.status_code().unwrap_or(0);
        match code {
            200..=299 => self.granted(now, response),
            // RFC 4976 §5.1: the relay challenges; the answer goes in a new AUTH.
            401 => match response
                .www_authenticate()
                .map_err(SessionError::Malformed)
                .and_then(|c| {
                    self.digest
                        .on_challenge(&c, false)
                        .map_err(SessionError::AuthRejected)
                }) {
                Ok(()) => self.request(now, rng),
                Err(e) => self.fail(e),
            },
            // RFC 4976 §5.1: the Expires asked for is out of the relay's bounds; ask
            // for one inside them, once.
            423 if !self.bounds_tried => {
                self.bounds_tried = true;
                let min = response.min_expires().ok().flatten();
                let max = response.max_expires().ok().flatten();
                let mut asked = self.expires.unwrap_or(0);
                if let Some(min) = min {
                    asked = asked.max(min);
                }
                if let Some(max) = max {
                    asked = asked.min(max);
                }
                self.expires = Some(asked);
                self.request(now, rng)
            }
            _ => self.fail(SessionError::AuthRefused {
                code,
                reason: response.comment().unwrap_or_default().to_owned(),
            }),
        }
    }

    /// Stops everything: the session is over.
    pub fn stop(&mut self) {
        self.pending = None;
        self.refresh_at = None;
        self.state = AuthState::Failed;
    }

    fn granted(&mut self, now: Millis, response: &Frame) -> AuthStep {
        self.digest.on_success();
        let use_path = match response.use_path() {
            Ok(Some(path)) if !path.is_empty() => path,
            _ => return self.fail(SessionError::NoUsePath),
        };
        let expires = response.expires().ok().flatten();
        // Refresh when three quarters of the granted time have passed: early enough
        // for a challenge round trip and a slow relay, late enough not to churn.
        self.refresh_at = expires
            .filter(|&s| s > 0)
            .map(|s| now.saturating_add((u64::from(s) * 1000 * 3 / 4).max(1000)));
        self.state = AuthState::Authenticated;
        self.bounds_tried = false;
        self.use_path = Some(use_path.clone());
        AuthStep::Authenticated { use_path, expires }
    }

    /// Writes an `AUTH`, with our digest answer when the session has a challenge.
    fn request(&mut self, now: Millis, rng: &mut dyn RandomSource) -> AuthStep {
        let tid = TransactionId::random(rng);
        let mut auth = RequestBuilder::auth(tid.clone(), self.relay.clone(), self.local.clone());
        if let Some(seconds) = self.expires {
            auth = auth.expires(seconds);
        }
        // RFC 4976 §5.1: the digest-uri is the relay's URI, the method `AUTH`, and
        // the request has no body.
        if let Some(answer) = self.digest.authorize("AUTH", &self.relay.text(), b"", rng) {
            auth = auth.authorization(&answer);
        }
        match auth.encode() {
            Ok(bytes) => {
                self.pending = Some((tid, now.saturating_add(self.timeout)));
                AuthStep::Send(bytes)
            }
            Err(e) => self.fail(SessionError::Unwritable(e)),
        }
    }

    fn fail(&mut self, error: SessionError) -> AuthStep {
        self.stop();
        self.use_path = None;
        AuthStep::Failed(error)
    }
}
