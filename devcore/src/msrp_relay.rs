//! The MSRP relay (RFC 4976) over WebSocket (RFC 7977): `ws://HOST:PORT/msrp`,
//! subprotocol `msrp`. Clients put `ws://HOST:PORT/msrp` as their relay.
//!
//! ```text
//!  connection ──AUTH──► 401 (digest, realm = devcore's realm)        RFC 4976 §5
//!             ──AUTH + Authorization──► 200 Use-Path: msrps://HOST:PORT/<id>;ws, Expires
//!                                     (423 Min-Expires when too brief)
//!                                     401 again: wrong answer, replayed nc, unknown
//!                                       user; with stale=true: nonce expired
//!                                     403: an AKA user, or too many failures
//!                                     400: malformed credentials
//!  SEND/REPORT, To-Path = [this connection's relay URI, …]            RFC 4976 §6
//!     our URIs popped off To-Path, each pushed onto From-Path; the frame goes,
//!     as it arrived (chunk by chunk, nothing buffered), to the connection whose
//!     relay URI was the last popped, else whose client URI is next in To-Path;
//!     none: 481 to a SEND (a REPORT is dropped).
//!  response to a forwarded SEND ──► back to the connection that sent the SEND
//!     (table keyed by connection + transaction id); none within 30 s: 408 to
//!     the sender instead (RFC 4975 §7.3: only relays send it), unless it
//!     asked for no failure reports
//! ```
//!
//! Sans-IO like the SIP core: frames come in as bytes with a monotonic time,
//! frames go out to each connection's channel. The digest check is the
//! SIP side's: the relay owns an [`Authenticator`] with the same
//! [`AuthConfig`] (realm, algorithms, nonce lifetime, failures before 403),
//! its own nonces and failure counts. The first 401 names no user (an AUTH
//! carries no AoR): its nonce may be answered by any password user, whose
//! digest username is the private identity, `method` AUTH, digest `uri` the
//! relay's URI (first in To-Path). Nonces expire (`stale=true`), each nc is
//! accepted once, MD5 and the other configured algorithms are offered. An AKA
//! user has no password to digest with: 403. A frame that does not parse
//! closes its connection (logged).

use crate::authenticator::{AuthConfig, Authenticator, Digested, Verdict as AuthVerdict};
use crate::flows::Outbound;
use crate::users::Users;
use crate::util::random_hex;
use imsip::msrp::{
    FailureReport, Frame, Method, MsrpUri, RequestBuilder, ResponseBuilder, StartLine,
    TransactionId,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

/// One relay connection's id.
pub(crate) type RelayConnId = u64;

/// The shortest AUTH lifetime granted (below: 423).
const MIN_EXPIRES: u32 = 60;
/// The lifetime granted when none is asked (RFC 4976 §5.1 leaves it to us).
const DEFAULT_EXPIRES: u32 = 3600;
/// The longest lifetime granted.
const MAX_EXPIRES: u32 = 86_400;
/// How long a forwarded SEND waits for its response (RFC 4975 §7.2: 30 s).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// One WebSocket connection to the relay.
struct Connection {
    tx: UnboundedSender<Outbound>,
    /// This connection's relay URI (its Use-Path), drawn at open.
    relay_uri: MsrpUri,
    /// The client's URI (From-Path of its AUTH) once authenticated.
    client: Option<MsrpUri>,
    /// When the authentication ends.
    expires_at: Option<Instant>,
}

/// A forwarded SEND waiting for its response.
struct Pending {
    origin: RelayConnId,
    /// The transaction id its sender used (ours on the next hop is another).
    origin_tid: TransactionId,
    /// Whether its sender wants a 408 when no response comes (not
    /// `Failure-Report: no`).
    wants_failure: bool,
    deadline: Instant,
}

/// The relay's settings.
#[derive(Debug, Clone)]
pub(crate) struct RelayConfig {
    /// `HOST:PORT` of devcore (the authority of every relay URI).
    pub authority: String,
    /// The digest settings (the SIP core's: realm, algorithms, nonce
    /// lifetime, failures before 403).
    pub auth: AuthConfig,
}

/// Every relay connection and every forwarded SEND.
pub(crate) struct MsrpRelay {
    cfg: RelayConfig,
    users: Users,
    /// Challenges and checks AUTH credentials.
    auth: Authenticator,
    conns: HashMap<RelayConnId, Connection>,
    /// (connection it was forwarded to, transaction id) → who sent it.
    pending: HashMap<(RelayConnId, String), Pending>,
    last_id: RelayConnId,
}

/// What the relay makes of one frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Handled.
    Ok,
    /// The frame is garbage: close the connection.
    Close,
}

impl MsrpRelay {
    /// A relay for `users`.
    pub fn new(cfg: RelayConfig, users: Users) -> MsrpRelay {
        MsrpRelay {
            auth: Authenticator::new(cfg.auth.clone()),
            cfg,
            users,
            conns: HashMap::new(),
            pending: HashMap::new(),
            last_id: 0,
        }
    }

    /// A new connection whose frames go to `tx`; `None` if its URI cannot be
    /// built (an authority that is no MSRP host).
    pub fn open(&mut self, tx: UnboundedSender<Outbound>) -> Option<RelayConnId> {
        let text = format!("msrps://{}/{};ws", self.cfg.authority, random_hex(12));
        let relay_uri = MsrpUri::parse(&text).ok()?;
        self.last_id += 1;
        self.conns.insert(
            self.last_id,
            Connection {
                tx,
                relay_uri,
                client: None,
                expires_at: None,
            },
        );
        Some(self.last_id)
    }

    /// The connection `conn` closed.
    pub fn close(&mut self, conn: RelayConnId) {
        self.conns.remove(&conn);
        self.pending
            .retain(|(to, _), p| *to != conn && p.origin != conn);
    }

    fn send(&self, conn: RelayConnId, bytes: Vec<u8>) -> bool {
        self.conns
            .get(&conn)
            .is_some_and(|c| c.tx.send(Outbound::Frame(bytes)).is_ok())
    }

    /// An error response of the relay's own to `req` — unless its sender asked
    /// for none (`Failure-Report: no`, RFC 4975 §7.1.1; `partial` still gets
    /// errors, and these are all errors).
    fn answer(&self, conn: RelayConnId, req: &Frame, code: u16) {
        if req.failure_report().ok() == Some(FailureReport::No) {
            return;
        }
        if let Ok(bytes) = ResponseBuilder::for_request(req, code).and_then(|r| r.encode()) {
            self.send(conn, bytes);
        }
    }

    /// One WebSocket message received on `conn` at `now`.
    pub fn on_frame(&mut self, conn: RelayConnId, bytes: &[u8], now: Instant) -> Verdict {
        self.handle_timeout(now);
        let frame = match Frame::parse(bytes) {
            Ok(f) => f,
            Err(e) => {
                warn!(conn, error = %e, "MSRP: unparseable frame, connection closed");
                return Verdict::Close;
            }
        };
        debug!(conn, tid = %frame.tid(), "MSRP ← {:?}", frame.start_line());
        match frame.start_line().clone() {
            StartLine::Request(Method::Auth) => self.on_auth(conn, &frame, now),
            StartLine::Request(method) => self.on_request(conn, method, &frame, now),
            StartLine::Response { .. } => self.on_response(conn, &frame),
        }
        Verdict::Ok
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do: the
    /// earliest deadline of a forwarded SEND.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.deadline).min()
    }

    /// The time is `now`: every forwarded SEND whose response did not come
    /// within 30 s gets a 408 to its sender (RFC 4975 §7.3, RFC 4976 §6.3),
    /// unless the sender asked for no failure reports.
    pub fn handle_timeout(&mut self, now: Instant) {
        let expired: Vec<_> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in expired {
            if let Some(p) = self.pending.remove(&key) {
                if p.wants_failure {
                    debug!(to = key.0, "MSRP: no response to a forwarded SEND, 408");
                    self.respond_upstream(p, 408, Some("no response from the next hop"));
                }
            }
        }
    }

    /// RFC 4976 §5: AUTH to this connection's relay (any of our URIs first in
    /// To-Path): 401 without (or with wrong, replayed or expired: then
    /// `stale=true`) credentials; 403 for an AKA user or after too many
    /// failures; 400 for malformed credentials; 423 when the Expires is too
    /// brief; 200 with Use-Path and Expires.
    fn on_auth(&mut self, conn: RelayConnId, req: &Frame, now: Instant) {
        if !self.conns.contains_key(&conn) {
            return;
        }
        // A malformed Authorization counts as none: challenged.
        let authorization = req.authorization().unwrap_or_default();
        let target = req
            .to_path()
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        let method = Method::Auth;
        let digested = Digested {
            method: method.as_str(),
            target: &target,
            same_uri: same_msrp_uri,
            body: req.body().unwrap_or_default(),
        };
        let verdict = self
            .auth
            .verify_credentials(&authorization, &self.users, &digested, now);
        let (code, comment, challenges) = match verdict {
            AuthVerdict::Ok => return self.grant(conn, req, now),
            AuthVerdict::Challenge { stale } => (401, None, self.auth.issue_digest(stale, now)),
            // No AKA nonce is issued here, so no resynchronisation either.
            AuthVerdict::Resync { .. } => (401, None, self.auth.issue_digest(false, now)),
            AuthVerdict::Forbidden(reason) => (403, Some(reason), Vec::new()),
            AuthVerdict::BadRequest(reason) => (400, Some(reason), Vec::new()),
        };
        let built = ResponseBuilder::for_request(req, code).and_then(|mut r| {
            if let Some(c) = comment {
                r = r.comment(c);
            }
            for c in &challenges {
                r = r.www_authenticate(c);
            }
            r.encode()
        });
        if let Ok(bytes) = built {
            self.send(conn, bytes);
        }
    }

    /// Authenticated AUTH: 423 when the Expires is too brief, else 200 with
    /// Use-Path and the granted Expires.
    fn grant(&mut self, conn: RelayConnId, req: &Frame, now: Instant) {
        let asked = req.expires().ok().flatten().unwrap_or(DEFAULT_EXPIRES);
        if asked < MIN_EXPIRES {
            if let Ok(bytes) = ResponseBuilder::for_request(req, 423)
                .and_then(|r| r.min_expires(MIN_EXPIRES).encode())
            {
                self.send(conn, bytes);
            }
            return;
        }
        let granted = asked.min(MAX_EXPIRES);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.client = req.from_path().first().cloned();
        c.expires_at = Some(now + Duration::from_secs(u64::from(granted)));
        let use_path = [c.relay_uri.clone()];
        info!(conn, relay = %c.relay_uri, "MSRP: AUTH accepted");
        if let Ok(bytes) = ResponseBuilder::for_request(req, 200)
            .and_then(|r| r.use_path(&use_path).expires(granted).encode())
        {
            self.send(conn, bytes);
        }
    }

    /// The connection whose relay URI is `uri`.
    fn by_relay_uri(&self, uri: &MsrpUri) -> Option<RelayConnId> {
        self.conns
            .iter()
            .find(|(_, c)| c.relay_uri.matches(uri))
            .map(|(id, _)| *id)
    }

    /// The authenticated connection whose client URI is `uri`.
    fn by_client_uri(&self, uri: &MsrpUri, now: Instant) -> Option<RelayConnId> {
        self.conns
            .iter()
            .find(|(_, c)| {
                c.expires_at.is_some_and(|e| e > now)
                    && c.client.as_ref().is_some_and(|u| u.matches(uri))
            })
            .map(|(id, _)| *id)
    }

    /// RFC 4976 §6: a SEND or REPORT to relay on.
    fn on_request(&mut self, conn: RelayConnId, method: Method, req: &Frame, now: Instant) {
        let is_send = method == Method::Send;
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let authenticated = c.expires_at.is_some_and(|e| e > now);
        let mut to: Vec<MsrpUri> = req.to_path().to_vec();
        // §6.3: the first To-Path URI must be ours for this connection, and
        // the connection must have authenticated.
        let first_ok = to.first().is_some_and(|u| c.relay_uri.matches(u));
        if !authenticated || !first_ok {
            if is_send {
                let code = if authenticated { 481 } else { 403 };
                self.answer(conn, req, code);
            }
            return;
        }
        let mut from: Vec<MsrpUri> = req.from_path().to_vec();
        let mut next = None;
        while let Some(id) = to.first().and_then(|u| self.by_relay_uri(u)) {
            from.insert(0, to.remove(0));
            next = (id != conn).then_some(id).or(next);
        }
        let next = next.or_else(|| to.first().and_then(|u| self.by_client_uri(u, now)));
        let Some(next) = next.filter(|_| !to.is_empty()) else {
            debug!(conn, "MSRP: no next hop");
            if is_send {
                self.answer(conn, req, 481);
            } else if method != Method::Report {
                // Addressed to the relay itself, which only takes AUTH (RFC 4975
                // §10: a method the recipient does not understand, 501).
                self.answer(conn, req, 501);
            }
            return;
        };
        // A transaction id of our own on the next hop (ids are hop by hop): two
        // senders that pick the same one never get each other's response, and a
        // body may hold the sender's end-line text (only its end-line with our id
        // would break the frame: drawn again then).
        let mut encoded = None;
        for _ in 0..4 {
            let Ok(tid) = TransactionId::new(random_hex(16)) else {
                break;
            };
            let mut out =
                RequestBuilder::new(method.clone(), tid.clone(), to.clone(), from.clone());
            for h in req.headers() {
                out = out.header(h.name(), h.value());
            }
            if let (Some(ct), Some(body)) = (req.content_type(), req.body()) {
                out = out.body(ct, body.to_vec());
            }
            match out.continuation(req.continuation()).encode() {
                Ok(b) => {
                    encoded = Some((tid, b));
                    break;
                }
                Err(e) => warn!(conn, error = %e, "MSRP: cannot re-encode a frame"),
            }
        }
        let Some((tid, bytes)) = encoded else {
            if is_send {
                self.answer(conn, req, 400);
            }
            return;
        };
        if !self.send(next, bytes) {
            if is_send {
                self.answer(conn, req, 481);
            }
            return;
        }
        if is_send {
            self.pending.insert(
                (next, tid.as_str().to_owned()),
                Pending {
                    origin: conn,
                    origin_tid: req.tid().clone(),
                    wants_failure: req.failure_report().ok() != Some(FailureReport::No),
                    deadline: now + RESPONSE_TIMEOUT,
                },
            );
        }
    }

    /// A response from `conn` to a SEND we forwarded to it: back to the
    /// connection that sent the SEND (RFC 4976 §6.1: To-Path its sender,
    /// From-Path that connection's relay URI).
    fn on_response(&mut self, conn: RelayConnId, resp: &Frame) {
        let Some(p) = self.pending.remove(&(conn, resp.tid().as_str().to_owned())) else {
            debug!(conn, "MSRP: response to nothing pending dropped");
            return;
        };
        if let Some(code) = resp.status_code() {
            self.respond_upstream(p, code, resp.comment());
        }
    }

    /// A response to the forwarded SEND `p`, to the connection that sent it
    /// (RFC 4976 §6.1: To-Path its sender, From-Path that connection's relay
    /// URI, the sender's own transaction id).
    fn respond_upstream(&self, p: Pending, code: u16, comment: Option<&str>) {
        let Some(origin) = self.conns.get(&p.origin) else {
            return;
        };
        let to: Vec<MsrpUri> = origin.client.clone().into_iter().collect();
        let mut r = ResponseBuilder::new(p.origin_tid, code, to, vec![origin.relay_uri.clone()]);
        if let Some(c) = comment {
            r = r.comment(c);
        }
        if let Ok(bytes) = r.encode() {
            self.send(p.origin, bytes);
        }
    }
}

/// Whether the digest `uri` of an AUTH names `target`, the first To-Path URI
/// (RFC 4975 §6.1 comparison).
fn same_msrp_uri(uri: &str, target: &str) -> bool {
    match (MsrpUri::parse(uri), MsrpUri::parse(target)) {
        (Ok(a), Ok(b)) => a.matches(&b),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
