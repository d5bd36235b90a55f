//! The SIP side of the dev core, one state machine behind one lock: the
//! registrar (RFC 3261 §10.3), the IM server's event state compositor
//! (RFC 3903 PUBLISH) and notifier (RFC 6665 SUBSCRIBE/NOTIFY) for
//! `service-settings` and `poc-settings`, the MESSAGE proxy (RFC 3428) and the
//! WebSocket flows (RFC 7118, RFC 5626 keep-alive).
//!
//! Like the `imsip` user agent it is sans-IO: frames come in with
//! [`Core::on_frame`], time with a [`Now`] argument, and frames go out to each
//! flow's channel ([`Outbound`]). The web layer (`web.rs`) owns the sockets.

use crate::authn::{credentials_for, is_initial, AuthConfig, Authenticator, Verdict};
use crate::store::{Publication, Store};
use crate::users::{aor_key, User, Users};
use crate::util::{random_hex, unix_now};
use imsip::message::{Contact, Contacts, HeaderName, Message, MessageBuilder, Method, Uri};
use imsip::settings::{
    PocSettings, ServiceSettings, POC_SETTINGS_CONTENT_TYPE, SERVICE_SETTINGS_CONTENT_TYPE,
};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, error, info, warn};

/// Identifies one WebSocket flow.
pub(crate) type ConnId = u64;

/// What the core asks a flow's writer to do.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send one frame (text when UTF-8, binary otherwise).
    Frame(Vec<u8>),
    /// Close the WebSocket.
    Close,
}

/// The time, as the core sees it: monotonic for in-memory state, Unix
/// seconds for what is stored.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// Monotonic time.
    pub mono: Instant,
    /// Seconds since the Unix epoch.
    pub unix: u64,
}

impl Now {
    /// The current time.
    pub fn system() -> Now {
        Now {
            mono: Instant::now(),
            unix: unix_now(),
        }
    }
}

/// Frames larger than this are dropped (with a log line).
pub(crate) const MAX_FRAME: usize = 64 * 1024;
/// The shortest registration, publication or subscription accepted.
const MIN_EXPIRES: u32 = 60;
/// Expiry when the request names none.
const DEFAULT_EXPIRES: u32 = 3600;
/// The longest registration or publication granted.
const MAX_EXPIRES: u32 = 86_400;
/// The longest subscription granted.
const MAX_SUB_EXPIRES: u32 = 3600;
/// Responses to our NOTIFYs are awaited this long (64·T1).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(32);
/// How often expired publications are looked for in the database.
const DB_SWEEP: Duration = Duration::from_secs(1);
const ALLOW: &str = "REGISTER, PUBLISH, SUBSCRIBE, MESSAGE, OPTIONS, ACK";

/// An event package of the IM server.
#[derive(Debug)]
struct Package {
    name: &'static str,
    content_type: &'static str,
}

const PACKAGES: [Package; 2] = [
    Package {
        name: "service-settings",
        content_type: SERVICE_SETTINGS_CONTENT_TYPE,
    },
    Package {
        name: "poc-settings",
        content_type: POC_SETTINGS_CONTENT_TYPE,
    },
];

impl Package {
    fn find(name: &str) -> Option<&'static Package> {
        PACKAGES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    fn validate(&self, body: &[u8]) -> Result<(), String> {
        let r = if self.name == "poc-settings" {
            PocSettings::decode(body).map(drop)
        } else {
            ServiceSettings::decode(body).map(drop)
        };
        r.map_err(|e| e.to_string())
    }
}

/// Settings of the [`Core`].
#[derive(Debug, Clone)]
pub(crate) struct CoreConfig {
    /// The SIP domain (Service-Route, P-Asserted-Identity, Warning).
    pub domain: String,
    /// Our Via sent-by and Contact host (the bound address).
    pub sent_by: String,
    /// How long a relayed MESSAGE waits for the contacts' answers.
    pub relay_timeout: Duration,
    /// Authentication settings.
    pub auth: AuthConfig,
}

struct Binding {
    contact: Contact,
    instance: Option<String>,
    reg_id: Option<u32>,
    conn: ConnId,
    expires_at: Instant,
    call_id: String,
    cseq: u32,
}

impl Binding {
    fn matches(&self, c: &Contact) -> bool {
        match c.instance() {
            Some(i) => {
                self.instance.as_deref().map(strip_angle) == Some(strip_angle(i))
                    && self.reg_id == c.reg_id()
            }
            None => self.instance.is_none() && self.contact.uri.as_str() == c.uri.as_str(),
        }
    }
}

struct Subscription {
    aor: String,
    package: &'static Package,
    call_id: String,
    our_tag: String,
    their_tag: String,
    their_from: String,
    target: Uri,
    conn: ConnId,
    expires_at: Instant,
    cseq: u32,
}

struct Relay {
    origin: ConnId,
    request: Message,
    pending: HashSet<String>,
    best: Option<Message>,
    answered: bool,
    deadline: Instant,
}

/// The dev core's SIP state.
pub(crate) struct Core {
    cfg: CoreConfig,
    users: Users,
    auth: Authenticator,
    store: Store,
    conns: HashMap<ConnId, UnboundedSender<Outbound>>,
    next_id: u64,
    bindings: HashMap<String, Vec<Binding>>,
    subs: HashMap<u64, Subscription>,
    notifies: HashMap<String, (u64, Instant)>,
    relays: HashMap<u64, Relay>,
    relay_branches: HashMap<String, (u64, ConnId)>,
    last_sweep: Option<Instant>,
}

fn strip_angle(s: &str) -> &str {
    s.trim_matches(['<', '>'])
}

fn secs(n: u32) -> Duration {
    Duration::from_secs(u64::from(n))
}

/// Whole seconds left until `at`, rounded up.
fn remaining(at: Instant, now: Instant) -> u64 {
    at.saturating_duration_since(now).as_millis().div_ceil(1000) as u64
}

fn warning(domain: &str, text: &str) -> String {
    format!("399 {domain} \"{}\"", text.replace(['"', '\\'], "'"))
}

/// A response with the top Via removed, to pass back upstream; `None` if it
/// has fewer than two Vias.
fn strip_top_via(resp: &Message) -> Option<Message> {
    let vias = resp.via().ok()?;
    if vias.len() < 2 {
        return None;
    }
    let mut b = MessageBuilder::response(resp.status()?, resp.reason()?);
    let mut done = false;
    for (name, value) in resp.headers() {
        let n = HeaderName::parse(name);
        if n == HeaderName::Via {
            if !done {
                for v in vias.iter().skip(1) {
                    b.push_header(HeaderName::Via, v);
                }
                done = true;
            }
            continue;
        }
        b.push_header(n, value);
    }
    Some(b.body(None, resp.body().to_vec()).build())
}

/// Of two final non-2xx responses, the one to pass upstream (RFC 3261
/// §16.7 step 6, simplified: a 6xx wins, then the lowest status).
fn better(a: Option<Message>, b: Message) -> Message {
    let Some(a) = a else { return b };
    let (sa, sb) = (a.status().unwrap_or(999), b.status().unwrap_or(999));
    let key = |s: u16| if (600..700).contains(&s) { 0 } else { s };
    if key(sb) < key(sa) {
        b
    } else {
        a
    }
}

impl Core {
    /// A core over `store` for `users`.
    pub fn new(cfg: CoreConfig, users: Users, store: Store) -> Core {
        Core {
            auth: Authenticator::new(cfg.auth.clone()),
            cfg,
            users,
            store,
            conns: HashMap::new(),
            next_id: 1,
            bindings: HashMap::new(),
            subs: HashMap::new(),
            notifies: HashMap::new(),
            relays: HashMap::new(),
            relay_branches: HashMap::new(),
            last_sweep: None,
        }
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// A new flow whose frames go to `tx`.
    pub fn open(&mut self, tx: UnboundedSender<Outbound>) -> ConnId {
        let id = self.id();
        self.conns.insert(id, tx);
        id
    }

    /// The flow `conn` closed. Its bindings stay until they expire (a
    /// reconnect and re-REGISTER recovers them), but nothing is relayed to it
    /// any more; its subscriptions end; relayed MESSAGEs waiting for it count
    /// it as not answering.
    pub fn close(&mut self, conn: ConnId) {
        if self.conns.remove(&conn).is_none() {
            return;
        }
        self.subs.retain(|_, s| s.conn != conn);
        let gone: Vec<(String, u64)> = self
            .relay_branches
            .iter()
            .filter(|(_, (_, c))| *c == conn)
            .map(|(b, (r, _))| (b.clone(), *r))
            .collect();
        for (branch, relay) in gone {
            self.relay_branches.remove(&branch);
            let done = self.relays.get_mut(&relay).is_some_and(|r| {
                r.pending.remove(&branch);
                r.pending.is_empty()
            });
            if done {
                self.finish_relay(relay);
            }
        }
    }

    /// Asks every flow to close (server shutdown).
    pub fn shutdown(&mut self) {
        for (_, tx) in self.conns.drain() {
            let _ = tx.send(Outbound::Close);
        }
    }

    fn send_frame(&self, conn: ConnId, bytes: Vec<u8>) -> bool {
        match self.conns.get(&conn) {
            Some(tx) => tx.send(Outbound::Frame(bytes)).is_ok(),
            None => false,
        }
    }

    fn send(&self, conn: ConnId, msg: &Message) -> bool {
        let bytes = msg.to_bytes();
        if !self.conns.contains_key(&conn) {
            debug!(
                conn,
                "flow closed: not sent\n{}",
                String::from_utf8_lossy(&bytes)
            );
            return false;
        }
        debug!(
            conn,
            "→ {} bytes\n{}",
            bytes.len(),
            String::from_utf8_lossy(&bytes)
        );
        self.send_frame(conn, bytes)
    }

    fn reply_with(
        &self,
        conn: ConnId,
        req: &Message,
        status: u16,
        reason: &str,
        to_tag: &str,
        headers: &[(&str, String)],
    ) {
        let mut b = MessageBuilder::reply(req, status, reason, Some(to_tag));
        for (n, v) in headers {
            b.push_header(*n, v);
        }
        self.send(conn, &b.build());
    }

    fn reply(
        &self,
        conn: ConnId,
        req: &Message,
        status: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) {
        self.reply_with(conn, req, status, reason, &random_hex(8), headers);
    }

    fn server_error(&self, conn: ConnId, req: &Message, e: &rusqlite::Error) {
        error!(conn, error = %e, "database error");
        self.reply(conn, req, 500, "Server Internal Error", &[]);
    }

    /// One frame received on `conn`.
    pub fn on_frame(&mut self, conn: ConnId, frame: &[u8], now: Now) {
        if frame.len() > MAX_FRAME {
            warn!(conn, bytes = frame.len(), "frame over 64 KiB dropped");
            return;
        }
        if !frame.is_empty() && frame.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            // RFC 5626 §3.5.1 keep-alive: a CRLFCRLF ping gets a CRLF pong.
            if frame.len() >= 4 {
                debug!(conn, "← ping, → pong");
                self.send_frame(conn, b"\r\n".to_vec());
            }
            return;
        }
        debug!(
            conn,
            "← {} bytes\n{}",
            frame.len(),
            String::from_utf8_lossy(frame)
        );
        match Message::parse(frame) {
            Ok(msg) if msg.is_request() => self.on_request(conn, msg, now),
            Ok(msg) => self.on_response(msg),
            Err(e) => warn!(conn, error = %e, "unparseable frame dropped"),
        }
    }

    fn on_request(&mut self, conn: ConnId, req: Message, now: Now) {
        let Some(method) = req.method().cloned() else {
            return;
        };
        if let Err(e) = req.validate() {
            if method != Method::Ack && req.top_via().is_ok() && req.cseq().is_ok() {
                let w = warning(&self.cfg.domain, &e.to_string());
                self.reply(conn, &req, 400, "Bad Request", &[("Warning", w)]);
            } else {
                warn!(conn, error = %e, "invalid request dropped (cannot be answered)");
            }
            return;
        }
        match method {
            Method::Register => self.on_register(conn, &req, now),
            Method::Publish | Method::Subscribe | Method::Message => {
                let Some(user) = self.authenticate(conn, &req, now) else {
                    return;
                };
                match method {
                    Method::Publish => self.on_publish(conn, &req, &user, now),
                    Method::Subscribe => self.on_subscribe(conn, &req, &user, now),
                    _ => self.on_message(conn, &req, now),
                }
            }
            Method::Options => self.reply(
                conn,
                &req,
                200,
                "OK",
                &[
                    ("Allow", ALLOW.into()),
                    ("Allow-Events", "service-settings, poc-settings".into()),
                ],
            ),
            Method::Ack => {}
            Method::Notify => self.reply(conn, &req, 481, "Subscription Does Not Exist", &[]),
            _ => self.reply(
                conn,
                &req,
                405,
                "Method Not Allowed",
                &[("Allow", ALLOW.into())],
            ),
        }
    }

    fn challenge(
        &mut self,
        conn: ConnId,
        req: &Message,
        user: &User,
        proxy: bool,
        stale: bool,
        now: Now,
    ) {
        match self.auth.challenge(user, stale, &self.store, now.mono) {
            Ok(values) => {
                let (status, reason, header) = if proxy {
                    (407, "Proxy Authentication Required", "Proxy-Authenticate")
                } else {
                    (401, "Unauthorized", "WWW-Authenticate")
                };
                let headers: Vec<(&str, String)> =
                    values.iter().map(|v| (header, v.to_string())).collect();
                self.reply(conn, req, status, reason, &headers);
            }
            Err(e) => self.server_error(conn, req, &e),
        }
    }

    /// Checks credentials of `req` for `user`: `true` when authenticated;
    /// otherwise the answer (401/407, 403, 400, 500) has been sent.
    fn check_credentials(
        &mut self,
        conn: ConnId,
        req: &Message,
        user: &User,
        proxy: bool,
        now: Now,
    ) -> bool {
        let mut values = if proxy {
            req.proxy_authorization().unwrap_or_default()
        } else {
            Vec::new()
        };
        values.extend(req.authorization().unwrap_or_default());
        let creds = credentials_for(&values, self.auth.realm());
        if let Some(name) = creds.and_then(|c| c.param("username")) {
            if !name.is_empty() && name != user.private_id {
                let r = "Forbidden (private identity does not match the public identity)";
                self.reply(conn, req, 403, r, &[]);
                return false;
            }
        }
        let Some(creds) = creds.filter(|c| !is_initial(c)) else {
            self.challenge(conn, req, user, proxy, false, now);
            return false;
        };
        match self.auth.verify(creds, user, req, &self.store, now.mono) {
            Ok(Verdict::Ok) => true,
            Ok(Verdict::Challenge { stale }) => {
                self.challenge(conn, req, user, proxy, stale, now);
                false
            }
            Ok(Verdict::Forbidden(reason)) => {
                self.reply(conn, req, 403, reason, &[]);
                false
            }
            Ok(Verdict::BadRequest(reason)) => {
                self.reply(conn, req, 400, reason, &[]);
                false
            }
            Err(e) => {
                self.server_error(conn, req, &e);
                false
            }
        }
    }

    /// Whether the AoR has a current registration over `conn`.
    fn registered_on(&self, aor: &str, conn: ConnId, now: Now) -> bool {
        self.bindings
            .get(aor)
            .is_some_and(|bs| bs.iter().any(|b| b.conn == conn && b.expires_at > now.mono))
    }

    /// Authenticates a non-REGISTER request: trusted when its From AoR is
    /// registered over this flow (as a P-CSCF trusts the registered flow),
    /// else by digest with 407 challenges.
    fn authenticate(&mut self, conn: ConnId, req: &Message, now: Now) -> Option<User> {
        let from = req.from().ok()?;
        let Some(user) = aor_key(&from.uri).and_then(|a| self.users.by_aor(&a).cloned()) else {
            self.reply(conn, req, 403, "Forbidden (unknown user)", &[]);
            return None;
        };
        if self.registered_on(&user.aor, conn, now) {
            return Some(user);
        }
        self.check_credentials(conn, req, &user, true, now)
            .then_some(user)
    }

    fn targets_own_aor(req: &Message, user: &User) -> bool {
        let ruri = req.request_uri().and_then(aor_key);
        let to = req.to().ok().and_then(|t| aor_key(&t.uri));
        ruri.as_deref() == Some(user.aor.as_str()) || to.as_deref() == Some(user.aor.as_str())
    }

    // ---------------------------------------------------------------- registrar

    fn on_register(&mut self, conn: ConnId, req: &Message, now: Now) {
        let Some(user) = req
            .to()
            .ok()
            .and_then(|t| aor_key(&t.uri))
            .and_then(|a| self.users.by_aor(&a).cloned())
        else {
            self.reply(conn, req, 403, "Forbidden (unknown user)", &[]);
            return;
        };
        if !self.check_credentials(conn, req, &user, false, now) {
            return;
        }
        let contacts = match req.contacts() {
            Ok(c) => c,
            Err(e) => {
                let w = warning(&self.cfg.domain, &e.to_string());
                self.reply(conn, req, 400, "Bad Request", &[("Warning", w)]);
                return;
            }
        };
        let header_expires = req.expires().ok().flatten();
        let call_id = req.call_id().unwrap_or("").to_owned();
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        let aor = user.aor.clone();
        match contacts {
            None => {}
            Some(Contacts::Star) => {
                if header_expires != Some(0) {
                    let r = "Bad Request (Contact: * needs Expires: 0)";
                    self.reply(conn, req, 400, r, &[]);
                    return;
                }
                self.bindings.remove(&aor);
                info!(conn, %aor, "all bindings removed");
            }
            Some(Contacts::List(list)) => {
                let existing = self.bindings.get(&aor);
                let mut wanted = Vec::with_capacity(list.len());
                for c in list {
                    let e = c.expires().or(header_expires).unwrap_or(DEFAULT_EXPIRES);
                    if e != 0 && e < MIN_EXPIRES {
                        self.reply(
                            conn,
                            req,
                            423,
                            "Interval Too Brief",
                            &[("Min-Expires", MIN_EXPIRES.to_string())],
                        );
                        return;
                    }
                    let stale = existing
                        .and_then(|bs| bs.iter().find(|b| b.matches(&c)))
                        .is_some_and(|b| b.call_id == call_id && cseq <= b.cseq);
                    if stale {
                        // RFC 3261 §10.3 step 7.
                        let r = "Server Internal Error (out-of-order REGISTER)";
                        self.reply(conn, req, 500, r, &[]);
                        return;
                    }
                    wanted.push((c, e.min(MAX_EXPIRES)));
                }
                let list = self.bindings.entry(aor.clone()).or_default();
                for (mut c, e) in wanted {
                    let pos = list.iter().position(|b| b.matches(&c));
                    if e == 0 {
                        if let Some(i) = pos {
                            list.remove(i);
                        }
                        continue;
                    }
                    c.params.remove("expires");
                    let b = Binding {
                        instance: c.instance().map(str::to_owned),
                        reg_id: c.reg_id(),
                        contact: c,
                        conn,
                        expires_at: now.mono + secs(e),
                        call_id: call_id.clone(),
                        cseq,
                    };
                    match pos.and_then(|i| list.get_mut(i)) {
                        Some(slot) => *slot = b,
                        None => list.push(b),
                    }
                }
                if list.is_empty() {
                    self.bindings.remove(&aor);
                }
            }
        }
        let mut headers: Vec<(&str, String)> = Vec::new();
        for b in self.bindings.get(&aor).into_iter().flatten() {
            if b.expires_at > now.mono {
                let mut c = b.contact.clone();
                c.params.set(
                    "expires",
                    Some(&remaining(b.expires_at, now.mono).to_string()),
                );
                headers.push(("Contact", c.to_string()));
            }
        }
        info!(conn, %aor, contacts = headers.len(), "registration updated");
        headers.push((
            "Service-Route",
            format!("<sip:orig@scscf.{};lr>", self.cfg.domain),
        ));
        headers.push(("P-Associated-URI", format!("<{aor}>")));
        // RFC 5626 §6: a registrar that supports outbound says so when the UA asked
        // for it (Supported: outbound) and registered a flow (reg-id + instance); the
        // UA then requires keep-alive pongs, which devcore answers on every flow.
        let asked = req
            .supported()
            .unwrap_or_default()
            .iter()
            .any(|t| t.eq_ignore_ascii_case("outbound"));
        let flow = req
            .contact_list()
            .unwrap_or_default()
            .iter()
            .any(|c| c.reg_id().is_some() && c.instance().is_some());
        if asked && flow {
            headers.push(("Require", "outbound".to_owned()));
        }
        self.reply(conn, req, 200, "OK", &headers);
    }

    // ---------------------------------------------------------------- IM server

    fn package(&self, conn: ConnId, req: &Message) -> Option<&'static Package> {
        let p = req
            .event()
            .ok()
            .flatten()
            .and_then(|e| Package::find(&e.value));
        if p.is_none() {
            self.reply(
                conn,
                req,
                489,
                "Bad Event",
                &[("Allow-Events", "service-settings, poc-settings".into())],
            );
        }
        p
    }

    /// The Expires of a PUBLISH/SUBSCRIBE, or `None` when answered (423).
    fn expires(&self, conn: ConnId, req: &Message, max: u32) -> Option<u32> {
        let e = req.expires().ok().flatten().unwrap_or(DEFAULT_EXPIRES);
        if e != 0 && e < MIN_EXPIRES {
            self.reply(
                conn,
                req,
                423,
                "Interval Too Brief",
                &[("Min-Expires", MIN_EXPIRES.to_string())],
            );
            return None;
        }
        Some(e.min(max))
    }

    fn on_publish(&mut self, conn: ConnId, req: &Message, user: &User, now: Now) {
        let Some(pkg) = self.package(conn, req) else {
            return;
        };
        if !Self::targets_own_aor(req, user) {
            self.reply(
                conn,
                req,
                403,
                "Forbidden (not your address of record)",
                &[],
            );
            return;
        }
        let Some(expires) = self.expires(conn, req, MAX_EXPIRES) else {
            return;
        };
        let if_match = req.sip_if_match().ok().flatten();
        let has_body = !req.body().iter().all(u8::is_ascii_whitespace);
        let stored = match self.store.publication(&user.aor, pkg.name, now.unix) {
            Ok(s) => s,
            Err(e) => return self.server_error(conn, req, &e),
        };
        let stored = match (&if_match, stored) {
            (Some(tag), Some(s)) if s.etag == *tag => Some(s),
            (Some(_), _) => {
                self.reply(conn, req, 412, "Conditional Request Failed", &[]);
                return;
            }
            (None, _) if expires == 0 => {
                let r = "Bad Request (removing a publication needs SIP-If-Match)";
                self.reply(conn, req, 400, r, &[]);
                return;
            }
            (None, _) if !has_body => {
                let r = "Bad Request (an initial PUBLISH needs a body)";
                self.reply(conn, req, 400, r, &[]);
                return;
            }
            (None, _) => None,
        };
        let im_headers = |etag: &str, expires: u32| -> Vec<(&'static str, String)> {
            vec![
                ("SIP-ETag", etag.to_owned()),
                ("Expires", expires.to_string()),
                ("Server", "IM-serv/OMA1.0".to_owned()),
                (
                    "P-Asserted-Identity",
                    format!("<sip:IM-Server@{}>", self.cfg.domain),
                ),
            ]
        };
        if expires == 0 {
            if let Err(e) = self.store.delete_publication(&user.aor, pkg.name) {
                return self.server_error(conn, req, &e);
            }
            let etag = if_match.unwrap_or_default();
            info!(conn, aor = %user.aor, package = pkg.name, "publication removed");
            self.reply(conn, req, 200, "OK", &im_headers(&etag, 0));
            self.notify_watchers(&user.aor, pkg, now);
            return;
        }
        let (document, changed) = if has_body {
            let ct = req.content_type().ok().flatten();
            if !ct.is_some_and(|c| c.is(pkg.content_type)) {
                self.reply(
                    conn,
                    req,
                    415,
                    "Unsupported Media Type",
                    &[("Accept", pkg.content_type.to_owned())],
                );
                return;
            }
            if let Err(e) = pkg.validate(req.body()) {
                let reason = format!("Bad Request (invalid {} document)", pkg.name);
                let w = warning(&self.cfg.domain, &e);
                self.reply(conn, req, 400, &reason, &[("Warning", w)]);
                return;
            }
            (req.body().to_vec(), true)
        } else if let Some(s) = stored {
            (s.document, false)
        } else {
            // Unreachable: no body and no stored state was answered above.
            self.reply(conn, req, 412, "Conditional Request Failed", &[]);
            return;
        };
        let p = Publication {
            content_type: pkg.content_type.to_owned(),
            document,
            etag: random_hex(12),
            expires_at: now.unix + u64::from(expires),
        };
        if let Err(e) = self.store.put_publication(&user.aor, pkg.name, &p) {
            return self.server_error(conn, req, &e);
        }
        info!(conn, aor = %user.aor, package = pkg.name, etag = %p.etag, expires, changed, "published");
        self.reply(conn, req, 200, "OK", &im_headers(&p.etag, expires));
        if changed {
            self.notify_watchers(&user.aor, pkg, now);
        }
    }

    fn our_contact(&self) -> String {
        format!("<sip:IM-Server@{};transport=ws>", self.cfg.sent_by)
    }

    fn on_subscribe(&mut self, conn: ConnId, req: &Message, user: &User, now: Now) {
        let Some(pkg) = self.package(conn, req) else {
            return;
        };
        let Some(expires) = self.expires(conn, req, MAX_SUB_EXPIRES) else {
            return;
        };
        let (Ok(to), Ok(from), Ok(call_id)) = (req.to(), req.from(), req.call_id()) else {
            return;
        };
        let contact = req.contact_list().ok().and_then(|l| l.into_iter().next());
        let headers = [
            ("Expires", expires.to_string()),
            ("Contact", self.our_contact()),
        ];
        if let Some(tag) = to.tag() {
            // A refresh or an unsubscribe within the dialog.
            let found = self.subs.iter().find(|(_, s)| {
                s.call_id == call_id && s.our_tag == tag && from.tag() == Some(&s.their_tag)
            });
            let Some((&id, sub)) = found else {
                self.reply(conn, req, 481, "Subscription Does Not Exist", &[]);
                return;
            };
            if sub.aor != user.aor || sub.package.name != pkg.name {
                self.reply(conn, req, 403, "Forbidden (not your subscription)", &[]);
                return;
            }
            let tag = tag.to_owned();
            if let Some(s) = self.subs.get_mut(&id) {
                s.conn = conn;
                s.expires_at = now.mono + secs(expires);
                if let Some(c) = contact {
                    s.target = c.uri;
                }
            }
            self.reply_with(conn, req, 200, "OK", &tag, &headers);
            if expires == 0 {
                self.send_notify(id, Some("timeout"), now);
                self.subs.remove(&id);
                info!(conn, aor = %user.aor, "subscription ended");
            } else {
                self.send_notify(id, None, now);
            }
            return;
        }
        if !Self::targets_own_aor(req, user) {
            self.reply(
                conn,
                req,
                403,
                "Forbidden (not your address of record)",
                &[],
            );
            return;
        }
        let (Some(contact), Some(their_tag)) = (contact, from.tag()) else {
            let r = "Bad Request (SUBSCRIBE needs a Contact and a From tag)";
            self.reply(conn, req, 400, r, &[]);
            return;
        };
        let our_tag = random_hex(8);
        let id = self.id();
        self.subs.insert(
            id,
            Subscription {
                aor: user.aor.clone(),
                package: pkg,
                call_id: call_id.to_owned(),
                our_tag: our_tag.clone(),
                their_tag: their_tag.to_owned(),
                their_from: req.header(HeaderName::From).unwrap_or("").to_owned(),
                target: contact.uri,
                conn,
                expires_at: now.mono + secs(expires),
                cseq: 0,
            },
        );
        self.reply_with(conn, req, 200, "OK", &our_tag, &headers);
        if expires == 0 {
            self.send_notify(id, Some("timeout"), now);
            self.subs.remove(&id);
        } else {
            info!(conn, aor = %user.aor, package = pkg.name, expires, "subscribed");
            self.send_notify(id, None, now);
        }
    }

    /// Sends the current state to subscription `id`: `active;expires=N`, or
    /// `terminated;reason=R` when `terminated` is given.
    fn send_notify(&mut self, id: u64, terminated: Option<&str>, now: Now) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.cseq += 1;
        let branch = format!("z9hG4bK{}", random_hex(10));
        let state = match terminated {
            Some(reason) => format!("terminated;reason={reason}"),
            None => format!("active;expires={}", remaining(sub.expires_at, now.mono)),
        };
        let b = MessageBuilder::request(Method::Notify, sub.target.clone())
            .header(
                "Via",
                format!("SIP/2.0/WS {};branch={branch}", self.cfg.sent_by),
            )
            .header("Max-Forwards", 70)
            .header("From", format!("<{}>;tag={}", sub.aor, sub.our_tag))
            .header("To", &sub.their_from)
            .header("Call-ID", &sub.call_id)
            .header("CSeq", format!("{} NOTIFY", sub.cseq))
            .header(
                "Contact",
                format!("<sip:IM-Server@{};transport=ws>", self.cfg.sent_by),
            )
            .header("Event", sub.package.name)
            .header("Subscription-State", state);
        let (conn, aor, package) = (sub.conn, sub.aor.clone(), sub.package);
        let msg = match self.store.publication(&aor, package.name, now.unix) {
            Ok(Some(p)) => b.body(Some(&p.content_type), p.document).build(),
            Ok(None) => b.build(),
            Err(e) => {
                error!(error = %e, "database error");
                b.build()
            }
        };
        if self.send(conn, &msg) {
            self.notifies.insert(branch, (id, now.mono));
        }
    }

    fn notify_watchers(&mut self, aor: &str, pkg: &Package, now: Now) {
        let ids: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| s.aor == aor && s.package.name == pkg.name)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_notify(id, None, now);
        }
    }

    // ---------------------------------------------------------------- proxy

    fn on_message(&mut self, conn: ConnId, req: &Message, now: Now) {
        let target = req.request_uri().and_then(aor_key);
        let Some(target) = target.filter(|t| self.users.by_aor(t).is_some()) else {
            self.reply(conn, req, 404, "Not Found", &[]);
            return;
        };
        let contacts: Vec<(Uri, ConnId)> = self
            .bindings
            .get(&target)
            .into_iter()
            .flatten()
            .filter(|b| b.expires_at > now.mono)
            .map(|b| (b.contact.uri.clone(), b.conn))
            .collect();
        if contacts.is_empty() {
            self.reply(conn, req, 404, "Not Found (not registered)", &[]);
            return;
        }
        let max_forwards = match req.max_forwards().ok().flatten() {
            Some(0) => {
                self.reply(conn, req, 483, "Too Many Hops", &[]);
                return;
            }
            Some(n) => n - 1,
            None => 70,
        };
        let sender = req
            .from()
            .ok()
            .and_then(|f| aor_key(&f.uri))
            .unwrap_or_default();
        let relay_id = self.id();
        let mut pending = HashSet::new();
        for (uri, to_conn) in contacts {
            if !self.conns.contains_key(&to_conn) {
                debug!(conn = to_conn, "flow closed: contact skipped");
                continue;
            }
            let branch = format!("z9hG4bK{}", random_hex(10));
            let mut b = MessageBuilder::request(Method::Message, uri).header(
                "Via",
                format!("SIP/2.0/WS {};branch={branch}", self.cfg.sent_by),
            );
            b.push_header("Max-Forwards", max_forwards);
            for (name, value) in req.headers() {
                let n = HeaderName::parse(name);
                let skip = matches!(
                    n,
                    HeaderName::Route
                        | HeaderName::MaxForwards
                        | HeaderName::ProxyAuthorization
                        | HeaderName::PAssertedIdentity
                        | HeaderName::PPreferredIdentity
                );
                if !skip {
                    b.push_header(n, value);
                }
            }
            b.push_header("P-Asserted-Identity", format!("<{sender}>"));
            let fwd = b.body(None, req.body().to_vec()).build();
            if self.send(to_conn, &fwd) {
                self.relay_branches
                    .insert(branch.clone(), (relay_id, to_conn));
                pending.insert(branch);
            }
        }
        if pending.is_empty() {
            self.reply(conn, req, 480, "Temporarily Unavailable", &[]);
            return;
        }
        self.relays.insert(
            relay_id,
            Relay {
                origin: conn,
                request: req.clone(),
                pending,
                best: None,
                answered: false,
                deadline: now.mono + self.cfg.relay_timeout,
            },
        );
    }

    fn on_response(&mut self, resp: Message) {
        let Some(status) = resp.status() else { return };
        let Some(branch) = resp
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
        else {
            warn!("response without a Via branch dropped");
            return;
        };
        if let Some(&(sub, _)) = self.notifies.get(&branch) {
            if status >= 200 {
                self.notifies.remove(&branch);
                if status == 481 {
                    info!(sub, "NOTIFY answered 481: subscription removed");
                    self.subs.remove(&sub);
                } else if status >= 300 {
                    warn!(sub, status, "NOTIFY refused");
                }
            }
            return;
        }
        let Some(&(relay_id, _)) = self.relay_branches.get(&branch) else {
            debug!(%branch, "stray response dropped");
            return;
        };
        if status < 200 {
            return;
        }
        self.relay_branches.remove(&branch);
        let fwd = strip_top_via(&resp);
        let mut to_send = None;
        let mut done = false;
        if let Some(r) = self.relays.get_mut(&relay_id) {
            r.pending.remove(&branch);
            match fwd {
                Some(m) if (200..300).contains(&status) => {
                    if !r.answered {
                        r.answered = true;
                        to_send = Some((r.origin, m));
                    }
                }
                Some(m) => {
                    if !r.answered {
                        r.best = Some(better(r.best.take(), m));
                    }
                }
                None => warn!(%branch, "relayed response with a single Via dropped"),
            }
            done = r.pending.is_empty();
        }
        if let Some((origin, m)) = to_send {
            self.send(origin, &m);
        }
        if done {
            self.finish_relay(relay_id);
        }
    }

    fn finish_relay(&mut self, id: u64) {
        let Some(r) = self.relays.remove(&id) else {
            return;
        };
        for b in &r.pending {
            self.relay_branches.remove(b);
        }
        if r.answered {
            return;
        }
        match r.best {
            Some(m) => {
                self.send(r.origin, &m);
            }
            None => self.reply(r.origin, &r.request, 480, "Temporarily Unavailable", &[]),
        }
    }

    // ---------------------------------------------------------------- timers

    /// Expires bindings, subscriptions (final NOTIFY), publications (NOTIFY
    /// without body), relayed MESSAGEs (480 or the best answer) and old nonces.
    pub fn tick(&mut self, now: Now) {
        for list in self.bindings.values_mut() {
            list.retain(|b| b.expires_at > now.mono);
        }
        self.bindings.retain(|_, l| !l.is_empty());
        let expired: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| s.expires_at <= now.mono)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.send_notify(id, Some("timeout"), now);
            self.subs.remove(&id);
        }
        let late: Vec<u64> = self
            .relays
            .iter()
            .filter(|(_, r)| r.deadline <= now.mono)
            .map(|(id, _)| *id)
            .collect();
        for id in late {
            self.finish_relay(id);
        }
        self.notifies
            .retain(|_, (_, at)| now.mono.saturating_duration_since(*at) < NOTIFY_TIMEOUT);
        if self
            .last_sweep
            .is_none_or(|t| now.mono.saturating_duration_since(t) >= DB_SWEEP)
        {
            self.last_sweep = Some(now.mono);
            self.auth.prune(now.mono);
            match self.store.purge_expired(now.unix) {
                Ok(gone) => {
                    for (aor, package) in gone {
                        info!(%aor, %package, "publication expired");
                        if let Some(pkg) = Package::find(&package) {
                            self.notify_watchers(&aor, pkg, now);
                        }
                    }
                }
                Err(e) => error!(error = %e, "database error"),
            }
        }
    }
}
