//! The SIP side of the dev core: a thin [`Core`] that routes each frame to
//! the part that owns it (flows, authenticator, registrar, publications,
//! notifier, proxy, IM server; drawn in the crate documentation) and hands
//! each expired deadline back to its part. The parts own their state, their
//! methods and their deadlines; the core owns only what they share, lent to
//! them for one step as a [`Cx`], and the few rules that span parts (which
//! part a method goes to; a change of published state reaches the watchers).
//!
//! What is sans-IO and what is not: the core owns no socket and reads no
//! clock. Frames come in through [`Core::on_frame`] and time as a [`Now`]
//! argument; frames go out to each flow's channel without waiting (see
//! `flows.rs`); the web layer sleeps until [`Core::next_deadline`] and then
//! calls [`Core::handle_timeout`]. Two things are not passed in: the
//! [`Store`] is called synchronously (SQLite on a local file, while the
//! caller holds the core's lock), and tags, branches, nonces and entity-tags
//! are drawn from the OS random source.

use crate::authenticator::{AuthConfig, Authenticator};
use crate::flows::{ConnId, Flows, Outbound, Received};
use crate::im_server::ImServer;
use crate::notifier::Notifier;
use crate::proxy::invite::{routed_to_us, SessionProxy};
use crate::proxy::Proxy;
use crate::publications::{allow_events, Publications};
use crate::registrar::Registrar;
use crate::store::Store;
use crate::timers::{Now, Timer, TimerTable};
use crate::users::{aor_key, User, Users};
use imsip::message::{refusal, warning_399, Host, Message, Method, ParseError, Scheme, Uri};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

/// The shortest registration, publication or subscription accepted.
pub(crate) const MIN_EXPIRES: u32 = 60;
/// Expiry when the request names none.
pub(crate) const DEFAULT_EXPIRES: u32 = 3600;
/// The longest registration or publication granted.
pub(crate) const MAX_EXPIRES: u32 = 86_400;
/// The methods the core answers (Allow).
const ALLOW: &str = "REGISTER, PUBLISH, SUBSCRIBE, MESSAGE, OPTIONS, ACK, INVITE, CANCEL, BYE";
/// The option tags a `Require` of a request answered here may name (RFC 5626
/// outbound, RFC 5627 GRUU: the registrar's).
const SUPPORTED: &[&str] = &["outbound", "gruu"];

/// Settings of the [`Core`].
#[derive(Debug, Clone)]
pub(crate) struct CoreConfig {
    /// The SIP domain (Service-Route, P-Asserted-Identity, Warning).
    pub domain: String,
    /// Our Via sent-by and Contact host (the bound address).
    pub sent_by: String,
    /// How long a relayed MESSAGE waits for the contacts' answers.
    pub relay_timeout: Duration,
    /// What the IM Server keeps per offline user.
    pub deferred: crate::im_server::DeferredLimits,
    /// Authentication settings.
    pub auth: AuthConfig,
}

/// What the core lends a part for one step: the time, the settings, the
/// users, the flows, the store and the timer table. The parts own
/// everything else.
pub(crate) struct Cx<'a> {
    /// The time of this step.
    pub now: Now,
    /// The settings.
    pub cfg: &'a CoreConfig,
    /// The subscribers.
    pub users: &'a Users,
    /// The open flows (to send on).
    pub flows: &'a Flows,
    /// The persistent store.
    pub store: &'a mut dyn Store,
    /// Every deadline.
    pub timers: &'a mut TimerTable,
}

/// The Expires a PUBLISH or SUBSCRIBE asks for (default 3600), capped at
/// `max`; `None` when it is too brief and 423 has been sent.
pub(crate) fn requested_expires(cx: &Cx<'_>, conn: ConnId, req: &Message, max: u32) -> Option<u32> {
    let e = req.expires().ok().flatten().unwrap_or(DEFAULT_EXPIRES);
    if e != 0 && e < MIN_EXPIRES {
        cx.flows.reply(
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

/// Whether `req` (a PUBLISH or SUBSCRIBE) is about `user`'s own AoR, by its
/// Request-URI or its To.
pub(crate) fn targets_own_aor(req: &Message, user: &User) -> bool {
    let ruri = req.request_uri().and_then(aor_key);
    let to = req.to().ok().and_then(|t| aor_key(&t.uri));
    ruri.as_deref() == Some(user.aor.as_str()) || to.as_deref() == Some(user.aor.as_str())
}

/// The dev core's SIP state: the parts, and what they share.
pub(crate) struct Core {
    cfg: CoreConfig,
    users: Users,
    store: Box<dyn Store>,
    flows: Flows,
    timers: TimerTable,
    authenticator: Authenticator,
    registrar: Registrar,
    publications: Publications,
    notifier: Notifier,
    proxy: Proxy,
    sessions: SessionProxy,
    im_server: ImServer,
}

/// The [`Cx`] of one step, borrowing the shared fields of a [`Core`] only,
/// so that its parts can be called with it.
macro_rules! cx {
    ($core:ident, $now:expr) => {
        Cx {
            now: $now,
            cfg: &$core.cfg,
            users: &$core.users,
            flows: &$core.flows,
            store: &mut *$core.store,
            timers: &mut $core.timers,
        }
    };
}

impl Core {
    /// A core over `store` for `users`, started at `now` (the expiry of
    /// publications already stored is scheduled).
    pub fn new(cfg: CoreConfig, users: Users, store: Box<dyn Store>, now: Now) -> Core {
        let mut core = Core {
            authenticator: Authenticator::new(cfg.auth.clone()),
            im_server: ImServer::new(cfg.deferred.clone()),
            cfg,
            users,
            store,
            flows: Flows::default(),
            timers: TimerTable::default(),
            registrar: Registrar::default(),
            publications: Publications,
            notifier: Notifier::default(),
            proxy: Proxy::default(),
            sessions: SessionProxy::default(),
        };
        let mut cx = cx!(core, now);
        core.publications.arm(&mut cx);
        core
    }

    /// A new flow from `peer` whose frames go to `tx`.
    pub fn open(&mut self, tx: UnboundedSender<Outbound>, peer: Option<SocketAddr>) -> ConnId {
        self.flows.open(tx, peer)
    }

    /// The flow `conn` closed. Its bindings stay until they expire (a
    /// reconnect and re-REGISTER recovers them), but nothing is relayed to it
    /// any more; its subscriptions end; relayed requests waiting for it count
    /// it as not answering.
    pub fn close(&mut self, conn: ConnId, now: Now) {
        if !self.flows.close(conn) {
            return;
        }
        let mut cx = cx!(self, now);
        self.notifier.close(&mut cx, conn);
        self.proxy
            .close(&mut cx, conn, &mut self.im_server, &self.registrar);
        self.sessions.close(&mut cx, conn);
    }

    /// How many flows are open.
    pub fn open_flows(&self) -> usize {
        self.flows.count()
    }

    /// Asks every flow to close (server shutdown).
    pub fn shutdown(&mut self) {
        self.flows.shutdown();
    }

    /// The earliest deadline of any part: call [`Core::handle_timeout`] then.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Hands every deadline expired at `now` to its part: bindings,
    /// subscriptions (final NOTIFY), publications (NOTIFY without body),
    /// relays (480 or the best answer), NOTIFY transactions and old nonces.
    pub fn handle_timeout(&mut self, now: Now) {
        let mut cx = cx!(self, now);
        while let Some(timer) = cx.timers.pop_expired(now.mono) {
            match timer {
                Timer::Bindings => self.registrar.handle_timeout(&mut cx),
                Timer::Nonces => self.authenticator.handle_timeout(&mut cx),
                Timer::Publications => {
                    for (aor, package) in self.publications.handle_timeout(&mut cx) {
                        self.notifier.notify_watchers(&mut cx, &aor, package);
                    }
                }
                Timer::Subscription(id) => self.notifier.subscription_expired(&mut cx, id),
                Timer::Notify(id) => self.notifier.notify_timed_out(id),
                Timer::Relay(id) => {
                    self.proxy
                        .relay_timed_out(&mut cx, id, &mut self.im_server, &self.registrar)
                }
                Timer::Delivery(id) => self.im_server.delivery_timed_out(id),
                Timer::StoredNotice(id) => self.im_server.stored_notice_timed_out(id),
                Timer::Invite(id) => self.sessions.invite_timed_out(&mut cx, id),
                Timer::DialogHop(id) => self.sessions.hop_timed_out(id),
            }
        }
    }

    /// One frame received on `conn`.
    pub fn on_frame(&mut self, conn: ConnId, frame: &[u8], now: Now) {
        match self.flows.receive(conn, frame, now.mono) {
            Received::Message(msg) if msg.is_request() => self.on_request(conn, *msg, frame, now),
            Received::Message(msg) => self.on_response(*msg, now),
            Received::Refused(e) => self.answer_refused(conn, frame, &e),
            Received::Nothing => {}
        }
    }

    /// A request the codec refuses, answered from its header text when it can be
    /// (RFC 3261 §16.3 step 1, RFC 4475 §3.1.2: [`imsip::message::refusal`], which
    /// the client's user agent answers with too).
    fn answer_refused(&self, conn: ConnId, frame: &[u8], e: &ParseError) {
        match refusal(frame, e, &self.cfg.domain, &crate::util::random_hex(8)) {
            Some(answer) => {
                self.flows.send_raw(conn, answer.into_bytes());
            }
            None => warn!(conn, error = %e, "invalid request dropped (cannot be answered)"),
        }
    }

    /// What a proxy and a UAS check before anything else (RFC 3261 §16.3 steps 2 and 5,
    /// §8.2.2.1, §8.2.2.3): a Request-URI scheme it cannot route (416), a
    /// Proxy-Require option — it supports none —, or, for the requests it answers
    /// itself, a Require option it lacks (420 with Unsupported). `true` when refused.
    fn refuse_unsupported(&self, conn: ConnId, req: &Message, method: &Method) -> bool {
        if let Some(Scheme::Other(_)) = req.request_uri().map(Uri::scheme) {
            self.flows
                .reply(conn, req, 416, "Unsupported URI Scheme", &[]);
            return true;
        }
        if *method == Method::Cancel {
            return false; // §8.2.2.3: never refused for its extensions.
        }
        let answered_here = matches!(
            method,
            Method::Register | Method::Publish | Method::Subscribe | Method::Options
        );
        let mut unsupported: Vec<&str> = req
            .header_all("Proxy-Require")
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if answered_here {
            unsupported.extend(
                req.header_all("Require")
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .filter(|t| {
                        !t.is_empty() && !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t))
                    }),
            );
        }
        if unsupported.is_empty() {
            return false;
        }
        self.flows.reply(
            conn,
            req,
            420,
            "Bad Extension",
            &[("Unsupported", unsupported.join(", "))],
        );
        true
    }

    fn on_request(&mut self, conn: ConnId, req: Message, frame: &[u8], now: Now) {
        let Some(method) = req.method().cloned() else {
            return;
        };
        if let Err(e) = req.validate() {
            if method != Method::Ack && req.top_via().is_ok() && req.cseq().is_ok() {
                let w = warning_399(&self.cfg.domain, &e.to_string());
                self.flows
                    .reply(conn, &req, 400, "Bad Request", &[("Warning", w)]);
            } else if method != Method::Ack {
                // A CSeq too large to read, two CSeqs, ...: answered from the text.
                self.answer_refused(conn, frame, &e);
            }
            return;
        }
        if method != Method::Ack && self.refuse_unsupported(conn, &req, &method) {
            return;
        }
        let mut cx = cx!(self, now);
        // A request inside a dialog our Record-Route is in: it goes to the
        // flow of its remote target, whatever its method (RFC 3261 §16.12).
        let in_dialog = req.to().ok().is_some_and(|t| t.tag().is_some());
        if in_dialog && method != Method::Cancel && routed_to_us(&cx, &req) {
            self.sessions
                .on_in_dialog(&mut cx, conn, &req, &self.registrar);
            return;
        }
        match method {
            Method::Register if !serves(&self.cfg.domain, &req) => {
                // RFC 3261 §10.3 step 1 and §21.4.5: a domain this registrar is not
                // authoritative for (and devcore forwards nowhere).
                let w = warning_399(&self.cfg.domain, "this registrar serves another domain");
                self.flows
                    .reply(conn, &req, 404, "Not Found", &[("Warning", w)]);
            }
            Method::Register => {
                if let Some(user) = self
                    .authenticator
                    .authenticate_register(&mut cx, conn, &req)
                {
                    self.registrar.on_register(&mut cx, conn, &req, &user);
                    // Deferred messages go out once the user is reachable again.
                    if !self
                        .registrar
                        .reachable(&user.aor, now.mono, &self.flows)
                        .is_empty()
                    {
                        self.im_server
                            .on_registered(&mut cx, &user.aor, &self.registrar);
                    }
                }
            }
            Method::Publish | Method::Subscribe | Method::Message | Method::Invite => {
                let registrar = &self.registrar;
                let Some(user) =
                    self.authenticator
                        .authenticate_request(&mut cx, conn, &req, |aor| {
                            registrar.registered_on(aor, conn, now.mono)
                        })
                else {
                    return;
                };
                match method {
                    Method::Publish => {
                        let changed = self.publications.on_publish(&mut cx, conn, &req, &user);
                        if let Some((aor, package)) = changed {
                            self.notifier.notify_watchers(&mut cx, &aor, package);
                        }
                    }
                    Method::Subscribe
                        if req.event().ok().flatten().is_some_and(|e| {
                            e.value
                                .eq_ignore_ascii_case(imsip::im::history::HISTORY_EVENT)
                        }) =>
                    {
                        self.im_server
                            .on_history_subscribe(&mut cx, conn, &req, &user)
                    }
                    Method::Subscribe => self.notifier.on_subscribe(&mut cx, conn, &req, &user),
                    Method::Invite => self
                        .sessions
                        .on_invite(&mut cx, conn, &req, &self.registrar),
                    _ => self.proxy.on_message(
                        &mut cx,
                        conn,
                        &req,
                        &self.registrar,
                        &mut self.im_server,
                    ),
                }
            }
            Method::Options => cx.flows.reply(
                conn,
                &req,
                200,
                "OK",
                &[("Allow", ALLOW.into()), ("Allow-Events", allow_events())],
            ),
            // The ACK of a non-2xx answer we sent (ours, or the best one we
            // passed back): it ends the transaction here (RFC 3261 §16.7:
            // the ACK of a non-2xx is hop by hop).
            Method::Ack => {}
            Method::Cancel => self.sessions.on_cancel(&mut cx, conn, &req),
            Method::Bye => cx
                .flows
                .reply(conn, &req, 481, "Call/Transaction Does Not Exist", &[]),
            Method::Notify => cx
                .flows
                .reply(conn, &req, 481, "Subscription Does Not Exist", &[]),
            _ => cx.flows.reply(
                conn,
                &req,
                405,
                "Method Not Allowed",
                &[("Allow", ALLOW.into())],
            ),
        }
    }

    fn on_response(&mut self, resp: Message, now: Now) {
        let Some(status) = resp.status() else { return };
        let Some(branch) = resp
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
        else {
            warn!("response without a Via branch dropped");
            return;
        };
        let mut cx = cx!(self, now);
        if self.notifier.on_response(&mut cx, &branch, status) {
            return;
        }
        if self.sessions.on_response(&mut cx, &branch, &resp) {
            return;
        }
        if self.proxy.on_response(
            &mut cx,
            &branch,
            &resp,
            &mut self.im_server,
            &self.registrar,
        ) {
            return;
        }
        if self
            .im_server
            .on_response(&mut cx, &branch, status, &self.registrar)
        {
            return;
        }
        debug!(%branch, "stray response dropped");
    }
}

/// Whether REGISTER's Request-URI names a registrar for `domain`: that domain,
/// or an address (a client that registers to the server's IP or `localhost`
/// reached it directly; which addresses are its own devcore cannot list).
fn serves(domain: &str, req: &Message) -> bool {
    match req.request_uri().and_then(Uri::host) {
        Some(Host::Name(name)) => {
            name.eq_ignore_ascii_case(domain) || name.eq_ignore_ascii_case("localhost")
        }
        Some(Host::Ipv4(_) | Host::Ipv6(_)) | None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::testing::{request, request_to, settings_doc, t0, test_config};
    use imsip::auth::{Credentials, DigestSession, RandomSource};
    use imsip::message::MessageBuilder;
    use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

    struct Rng;
    impl RandomSource for Rng {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(7);
        }
    }

    const ALICE: &str = "sip:alice@imsip.test";

    fn received(rx: &mut UnboundedReceiver<Outbound>) -> Vec<Message> {
        let mut out = Vec::new();
        while let Ok(Outbound::Frame(f)) = rx.try_recv() {
            out.push(Message::parse(&f).unwrap());
        }
        out
    }

    /// Hands the core every deadline up to `until`, each at its own time.
    fn run_until(core: &mut Core, start: Now, until: Now) {
        while let Some(at) = core.next_deadline().filter(|at| *at <= until.mono) {
            let now = start.plus(at.duration_since(start.mono));
            core.handle_timeout(now);
        }
    }

    /// The whole core, driven through frames and deadlines only: register
    /// (digest), watch, publish, then let the clock run.
    #[test]
    fn frames_in_deadlines_out() {
        let start = t0();
        let store = Box::new(MemoryStore::default());
        let mut core = Core::new(test_config(), crate::users::Users::builtin(), store, start);
        assert_eq!(
            core.next_deadline(),
            None,
            "nothing stored, nothing to wait for"
        );
        let (tx, mut rx) = unbounded_channel();
        let conn = core.open(tx, None);

        core.on_frame(conn, b"\r\n\r\n", start);
        assert_eq!(rx.try_recv().ok(), Some(Outbound::Frame(b"\r\n".to_vec())));
        let options = request(Method::Options, "sip:imsip.test", ALICE, 1).build();
        core.on_frame(conn, &options.to_bytes(), start);
        let r = received(&mut rx).remove(0);
        assert_eq!(
            r.header("Allow-Events"),
            Some("service-settings, poc-settings")
        );

        let contact = "<sip:a@h.invalid;transport=ws>;+sip.instance=\"<urn:uuid:1>\";reg-id=1";
        let register = |cseq: u32, auth: Option<(String, String)>| {
            let mut b =
                request(Method::Register, "sip:imsip.test", ALICE, cseq).header("Contact", contact);
            if let Some((n, v)) = auth {
                b = b.header(n.as_str(), v);
            }
            b.build().to_bytes()
        };
        core.on_frame(conn, &register(1, None), start);
        let r = received(&mut rx).remove(0);
        assert_eq!(r.status(), Some(401));
        let mut session =
            DigestSession::new(Credentials::password("alice@imsip.test", "alice-secret"));
        session
            .on_challenge(&r.www_authenticate().unwrap(), false)
            .unwrap();
        let a = session
            .authorize("REGISTER", "sip:imsip.test", b"", &mut Rng)
            .unwrap();
        core.on_frame(
            conn,
            &register(2, Some((a.header_name().into(), a.to_header_value()))),
            start,
        );
        assert_eq!(received(&mut rx).remove(0).status(), Some(200));

        // Over the registered flow: no challenge.
        let subscribe = request_to(Method::Subscribe, ALICE, ALICE, &format!("<{ALICE}>"), 1)
            .header("Event", "service-settings")
            .header("Contact", "<sip:a@h.invalid;transport=ws>")
            .header("Expires", 600)
            .build();
        core.on_frame(conn, &subscribe.to_bytes(), start);
        let got = received(&mut rx);
        assert_eq!(got[0].status(), Some(200));
        assert_eq!(got[1].method(), Some(&Method::Notify));
        assert!(got[1].body().is_empty(), "nothing published yet");
        let ok = MessageBuilder::reply(&got[1], 200, "OK", None).build();
        core.on_frame(conn, &ok.to_bytes(), start);

        let publish = request(Method::Publish, ALICE, ALICE, 1)
            .header("Event", "service-settings")
            .header("Expires", 60)
            .body(
                Some("application/service-settings+xml"),
                settings_doc(ALICE, true),
            )
            .build();
        core.on_frame(conn, &publish.to_bytes(), start);
        let got = received(&mut rx);
        assert_eq!(got[0].status(), Some(200));
        assert_eq!(got[1].method(), Some(&Method::Notify));
        assert!(!got[1].body().is_empty());
        let ok = MessageBuilder::reply(&got[1], 200, "OK", None).build();
        core.on_frame(conn, &ok.to_bytes(), start);

        // The publication expires at 60 s: its watcher hears so then.
        let next = core.next_deadline().unwrap();
        assert_eq!(next, start.mono + Duration::from_secs(60));
        run_until(&mut core, start, start.plus(Duration::from_secs(59)));
        assert!(received(&mut rx).is_empty());
        run_until(&mut core, start, start.plus(Duration::from_secs(60)));
        let got = received(&mut rx);
        assert_eq!(got.len(), 1);
        assert!(got[0].body().is_empty(), "publication expired");
        // The subscription ends at 600 s (its NOTIFY goes unanswered).
        run_until(&mut core, start, start.plus(Duration::from_secs(600)));
        let got = received(&mut rx);
        let state = got[0].subscription_state().unwrap().unwrap();
        assert_eq!(state.to_string(), "terminated;reason=timeout");

        // A MESSAGE nobody answers is 480 at the relay timeout (2 s here).
        let at = start.plus(Duration::from_secs(700));
        let m = request(Method::Message, ALICE, ALICE, 1)
            .body(Some("text/plain"), "hi")
            .build();
        core.on_frame(conn, &m.to_bytes(), at);
        assert_eq!(received(&mut rx)[0].method(), Some(&Method::Message));
        run_until(&mut core, start, at.plus(Duration::from_millis(1999)));
        assert!(received(&mut rx).is_empty());
        run_until(&mut core, start, at.plus(Duration::from_secs(2)));
        assert_eq!(received(&mut rx)[0].status(), Some(480));

        // Only the binding (3600 s) and the nonce (900 s) are left; then nothing.
        run_until(&mut core, start, start.plus(Duration::from_secs(3600)));
        assert_eq!(core.next_deadline(), None);
        core.close(conn, start.plus(Duration::from_secs(3600)));
        core.shutdown();
    }

    #[test]
    fn register_for_another_domain_is_404_and_binds_nothing() {
        let start = t0();
        let store = Box::new(MemoryStore::default());
        let mut core = Core::new(test_config(), crate::users::Users::builtin(), store, start);
        let (tx, mut rx) = unbounded_channel();
        let conn = core.open(tx, None);
        let contact = "<sip:a@h.invalid;transport=ws>";
        for (cseq, (uri, status)) in (1..).zip([
            ("sip:other.example", 404),
            ("sip:IMSIP.test", 401),
            ("sip:127.0.0.1:8088", 401),
            ("sip:[::1]", 401),
            ("sip:localhost", 401),
        ]) {
            let r = request(Method::Register, uri, ALICE, cseq)
                .header("Contact", contact)
                .build();
            core.on_frame(conn, &r.to_bytes(), start);
            let got = received(&mut rx).remove(0);
            assert_eq!(got.status(), Some(status), "{uri}");
            if status == 404 {
                assert!(got.header("Warning").unwrap().contains("another domain"));
            }
        }
        assert!(core
            .registrar
            .reachable(ALICE, start.mono, &core.flows)
            .is_empty());
    }

    #[test]
    fn stored_publications_are_scheduled_at_start() {
        let start = t0();
        let mut store = MemoryStore::default();
        let p = crate::store::Publication {
            content_type: "application/service-settings+xml".into(),
            document: b"<x/>".to_vec(),
            etag: "e".into(),
            expires_at: start.unix + 90,
        };
        store
            .put_publication(ALICE, "service-settings", &p)
            .unwrap();
        let core = Core::new(
            test_config(),
            crate::users::Users::builtin(),
            Box::new(store),
            start,
        );
        assert_eq!(
            core.next_deadline(),
            Some(start.mono + Duration::from_secs(90))
        );
    }

    #[test]
    fn invalid_requests_get_400_with_a_warning() {
        let start = t0();
        let mut core = Core::new(
            test_config(),
            crate::users::Users::builtin(),
            Box::new(MemoryStore::default()),
            start,
        );
        let (tx, mut rx) = unbounded_channel();
        let conn = core.open(tx, None);
        let frame = "MESSAGE sip:bob@imsip.test SIP/2.0\r\n\
            Via: SIP/2.0/WS x.invalid;branch=z9hG4bKbad1\r\n\
            From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\n\
            CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        core.on_frame(conn, frame.as_bytes(), start);
        let r = received(&mut rx).remove(0);
        assert_eq!(r.status(), Some(400));
        assert!(r
            .header("Warning")
            .unwrap()
            .starts_with("399 imsip.test \""));
        let refer = request(Method::Refer, "sip:bob@imsip.test", ALICE, 1).build();
        core.on_frame(conn, &refer.to_bytes(), start);
        assert_eq!(received(&mut rx).remove(0).status(), Some(405));
        // An INVITE is authenticated like a MESSAGE (not registered on this flow: 407).
        let invite = request(Method::Invite, "sip:bob@imsip.test", ALICE, 1).build();
        core.on_frame(conn, &invite.to_bytes(), start);
        assert_eq!(received(&mut rx).remove(0).status(), Some(407));
        let notify = request(Method::Notify, "sip:bob@imsip.test", ALICE, 1).build();
        core.on_frame(conn, &notify.to_bytes(), start);
        assert_eq!(received(&mut rx).remove(0).status(), Some(481));
    }
}
