//! The user agent state machine. See the module docs of [`crate::ua`] for the run
//! loop and the registration states.

use super::types::*;
use crate::auth::RandomSource;
use crate::message::{HeaderName, Message, MessageBuilder, Method, NameAddr, Uri};
use crate::settings::{ServiceSettings, SERVICE_SETTINGS_CONTENT_TYPE};
use std::collections::VecDeque;

const SERVICE_SETTINGS: &str = "service-settings";
/// Methods we answer (RFC 3261 §20.5 Allow).
const ALLOW: &str = "MESSAGE, NOTIFY, OPTIONS";
/// Times are clamped here (about 146 million years of milliseconds) so that adding
/// any delay can never overflow.
const MAX_TIME: Millis = 1 << 62;
/// Incoming MESSAGEs remembered for duplicate detection (same Call-ID and CSeq).
const DEDUP_WINDOW: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    /// No flow wanted.
    Idle,
    /// Output::Connect was emitted; waiting for Input::Connected.
    Connecting,
    Connected,
    /// Lost; reconnecting at `reconnect_at`.
    Waiting,
    /// close() was called: nothing more happens.
    Closed,
}

/// A request as the owner wants it sent; rebuilt on an authentication retry with
/// a new branch and CSeq.
#[derive(Debug, Clone)]
pub(super) struct Req {
    pub method: Method,
    pub ruri: Uri,
    pub from: String,
    pub to: String,
    pub call_id: String,
    pub cseq: u32,
    pub route: Vec<String>,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Option<(String, Vec<u8>)>,
}

#[derive(Debug, Clone)]
enum Owner {
    Register { unregister: bool, ops: Vec<OpId> },
    Publish(PubJob),
    Watch { unwatch: bool, ops: Vec<OpId> },
    Fetch { call_id: String },
    Message(OpId),
}

#[derive(Debug)]
struct ClientTx {
    branch: String,
    deadline: Millis,
    req: Req,
    owner: Owner,
}

#[derive(Debug, Clone)]
enum PubJob {
    /// Initial or modifying PUBLISH with a body.
    Publish {
        body: String,
        expires: u32,
        op: Option<OpId>,
        policy: bool,
    },
    /// Refresh: no body, SIP-If-Match (RFC 3903 §4.3).
    Refresh,
    /// Expires 0 + SIP-If-Match (RFC 3903 §4.5).
    Remove(OpId),
}

#[derive(Debug, Clone)]
enum Work {
    Publish {
        body: String,
        expires: u32,
        op: OpId,
    },
    Remove(OpId),
    Fetch(Option<OpId>),
    Watch(OpId),
    Unwatch(OpId),
    Message(Box<Req>, OpId),
}

impl Work {
    fn op(&self) -> Option<OpId> {
        match self {
            Work::Publish { op, .. }
            | Work::Remove(op)
            | Work::Watch(op)
            | Work::Unwatch(op)
            | Work::Message(_, op) => Some(*op),
            Work::Fetch(op) => *op,
        }
    }
}

#[derive(Debug)]
struct Registerer {
    /// The app wants to be registered: re-register after a flow loss.
    wanted: bool,
    state: RegistrationState,
    call_id: String,
    from_tag: String,
    cseq: u32,
    expires: u32,
    in_flight: bool,
    pending: VecDeque<(bool, Option<OpId>)>,
    refresh_at: Option<Millis>,
    retry_at: Option<Millis>,
    info: Registration,
    /// Run the publish policy after the next successful registration.
    policy_pending: bool,
    /// Restore publication and watch after the next successful registration.
    restore_pending: bool,
    service_route: Vec<String>,
}

#[derive(Debug)]
struct Publisher {
    call_id: String,
    from_tag: String,
    cseq: u32,
    etag: Option<String>,
    body: Option<String>,
    expires: u32,
    refresh_at: Option<Millis>,
    in_flight: bool,
    pending: VecDeque<PubJob>,
    /// Set when a 412 restarted a job, so a second 412 cannot loop.
    restarted: bool,
}

#[derive(Debug)]
struct Dialog {
    to_tag: Option<String>,
    route: Vec<String>,
    target: Option<Uri>,
}

#[derive(Debug)]
struct Watcher {
    wanted: bool,
    call_id: String,
    from_tag: String,
    cseq: u32,
    dialog: Option<Dialog>,
    refresh_at: Option<Millis>,
    in_flight: bool,
    /// Ops waiting for the next (un)watch to finish.
    waiting: Vec<OpId>,
    /// The watch was ended by us: the dialog stays only to accept the final NOTIFY
    /// (RFC 6665 §4.1.2.3), never to be refreshed.
    closing: bool,
}

#[derive(Debug)]
struct Fetch {
    call_id: String,
    from_tag: String,
    op: Option<OpId>,
    /// No NOTIFY by then (after the 2xx) → timeout.
    deadline: Option<Millis>,
    answered: bool,
    result: Option<Result<Option<ServiceSettings>, UaError>>,
}

/// The sans-IO user agent. See [`crate::ua`].
pub struct UserAgent {
    pub(super) cfg: Config,
    pub(super) rng: Box<dyn RandomSource>,
    out: VecDeque<Output>,
    pub(super) now: Millis,
    next_op: u64,
    armed: Option<Millis>,
    transport: &'static str,
    via_host: String,
    contact_uri: String,
    instance: String,
    registrar: Uri,
    conn: Conn,
    backoff_attempt: u32,
    reconnect_at: Option<Millis>,
    ping_at: Option<Millis>,
    pong_deadline: Option<Millis>,
    txs: Vec<ClientTx>,
    pub(super) auth: super::authn::AuthState,
    reg: Registerer,
    publ: Publisher,
    watch: Watcher,
    fetches: Vec<Fetch>,
    queue: VecDeque<Work>,
    seen: VecDeque<(String, u32)>,
    /// Settings last published by us or adopted from the server.
    current_settings: Option<ServiceSettings>,
}

impl UserAgent {
    /// A user agent for `cfg`, drawing every tag, branch, Call-ID, cnonce and
    /// instance id from `rng`.
    pub fn new(mut cfg: Config, mut rng: Box<dyn RandomSource>) -> UserAgent {
        let mut tok = |n: usize| token(&mut *rng, n);
        let via_host = format!("{}.invalid", tok(12));
        let contact_uri = format!("sip:{}@{};transport=ws", tok(8), via_host);
        let reg_call_id = cfg.call_id.clone().unwrap_or_else(|| tok(22));
        let reg_tag = tok(10);
        let pub_call_id = tok(22);
        let pub_tag = tok(10);
        let watch_call_id = tok(22);
        let watch_tag = tok(10);
        let instance = cfg
            .instance_id
            .clone()
            .unwrap_or_else(|| uuid_urn(&mut *rng));
        let transport = if cfg.server.to_ascii_lowercase().starts_with("wss:") {
            "WSS"
        } else {
            "WS"
        };
        let registrar = cfg.registrar.clone().unwrap_or_else(|| {
            let host = cfg.aor.host().map(|h| h.to_string()).unwrap_or_default();
            Uri::parse(&format!("sip:{host}")).unwrap_or_else(|_| cfg.aor.clone())
        });
        if cfg.credentials.as_ref().is_some_and(|c| c.is_aka()) {
            cfg.ims_initial_authorization = true;
        }
        let auth = super::authn::AuthState::new(cfg.credentials.take());
        UserAgent {
            out: VecDeque::new(),
            now: 0,
            next_op: 1,
            armed: None,
            transport,
            via_host,
            contact_uri,
            instance,
            registrar,
            conn: Conn::Idle,
            backoff_attempt: 0,
            reconnect_at: None,
            ping_at: None,
            pong_deadline: None,
            txs: Vec::new(),
            auth,
            reg: Registerer {
                wanted: false,
                state: RegistrationState::Unregistered,
                call_id: reg_call_id,
                from_tag: reg_tag,
                cseq: cfg.register_cseq_start.min(0x7000_0000),
                expires: cfg.expires,
                in_flight: false,
                pending: VecDeque::new(),
                refresh_at: None,
                retry_at: None,
                info: Registration {
                    state: RegistrationState::Unregistered,
                    expires: None,
                    contacts: Vec::new(),
                    service_route: Vec::new(),
                    associated_uris: Vec::new(),
                    pub_gruu: None,
                    error: None,
                },
                policy_pending: false,
                restore_pending: false,
                service_route: Vec::new(),
            },
            publ: Publisher {
                call_id: pub_call_id,
                from_tag: pub_tag,
                cseq: 0,
                etag: None,
                body: None,
                expires: cfg.publish_expires,
                refresh_at: None,
                in_flight: false,
                pending: VecDeque::new(),
                restarted: false,
            },
            watch: Watcher {
                wanted: false,
                call_id: watch_call_id,
                from_tag: watch_tag,
                cseq: 0,
                dialog: None,
                refresh_at: None,
                in_flight: false,
                waiting: Vec::new(),
                closing: false,
            },
            fetches: Vec::new(),
            queue: VecDeque::new(),
            seen: VecDeque::new(),
            current_settings: None,
            cfg,
            rng,
        }
    }

    // ───────────────────────────── public API ─────────────────────────────

    /// The next thing to do, or `None` when there is nothing left.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The `+sip.instance` URN in use (persist it to keep the same instance).
    pub fn instance_id(&self) -> &str {
        &self.instance
    }

    /// The Call-ID of the registration (persist it across page loads).
    pub fn registration_call_id(&self) -> &str {
        &self.reg.call_id
    }

    /// The last registration information.
    pub fn registration(&self) -> &Registration {
        &self.reg.info
    }

    /// The AKA sequence number to persist, when AKA keys are used.
    pub fn aka_sqn(&self) -> Option<u64> {
        self.auth.aka_sqn()
    }

    /// Settings last published by this client or adopted from the server.
    pub fn current_settings(&self) -> Option<&ServiceSettings> {
        self.current_settings.as_ref()
    }

    /// Feeds an input at time `now`.
    pub fn handle_input(&mut self, now: Millis, input: Input<'_>) {
        self.advance(now);
        if self.conn == Conn::Closed {
            // Nothing more happens after close(), whatever still arrives.
            return;
        }
        if input == Input::Timeout {
            // The caller's timer is spent: always tell it the next wake-up again, even
            // when it is unchanged (a timer that fires a little early, as Node's
            // setTimeout does against performance.now(), finds nothing due yet and must
            // not be left without a timer).
            self.armed = None;
        }
        match input {
            Input::Connected => self.on_connected(),
            Input::Disconnected => self.on_disconnected(),
            Input::Frame(text) => self.on_frame(text),
            Input::Timeout => {}
        }
        self.run_timers();
        self.arm();
    }

    /// Registers (or refreshes now when registered). Completes with
    /// [`Outcome::Registered`].
    pub fn register(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        if !self.refuse_if_closed(op) {
            if !self.reg.wanted || self.reg.state != RegistrationState::Registered {
                self.reg.policy_pending = self.cfg.publish_policy != PublishPolicy::Never;
            }
            if !self.reg.wanted {
                // A new attempt by the app: forget an earlier refusal.
                self.auth.reset();
            }
            self.reg.wanted = true;
            self.reg.pending.push_back((false, Some(op)));
            self.ensure_connection();
            self.reg_pump();
        }
        self.run_timers();
        self.arm();
        op
    }

    /// Unregisters our contact (Expires 0). Completes with [`Outcome::Unregistered`].
    pub fn unregister(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        if self.refuse_if_closed(op) {
            // Answered.
        } else if !self.reg.wanted
            && self.reg.state != RegistrationState::Registered
            && !self.reg.in_flight
        {
            self.complete(op, Ok(Outcome::Unregistered));
        } else {
            self.reg.wanted = false;
            self.reg.refresh_at = None;
            self.reg.retry_at = None;
            self.reg
                .pending
                .retain(|(unreg, op)| *unreg || op.is_some());
            self.reg.pending.push_back((true, Some(op)));
            self.ensure_connection();
            self.reg_pump();
        }
        self.arm();
        op
    }

    /// Publishes `settings` (initial, or modify when we hold an entity-tag).
    /// Completes with [`Outcome::Published`].
    pub fn publish_settings(
        &mut self,
        now: Millis,
        settings: &ServiceSettings,
        expires: Option<u32>,
    ) -> OpId {
        let op = self.begin(now);
        let body = settings.encode();
        self.current_settings = Some(settings.clone());
        let expires = expires.unwrap_or(self.cfg.publish_expires);
        self.submit(Work::Publish { body, expires, op });
        op
    }

    /// Removes our publication (Expires 0 + SIP-If-Match). Completes with
    /// [`Outcome::Removed`].
    pub fn remove_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Remove(op));
        op
    }

    /// One-shot fetch of the server's settings (SUBSCRIBE with Expires 0, one
    /// NOTIFY). Completes with [`Outcome::Settings`].
    pub fn fetch_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Fetch(Some(op)));
        op
    }

    /// Starts watching settings (SUBSCRIBE, refreshed before expiry); NOTIFYs
    /// arrive as [`Event::ServiceSettings`]. Completes with [`Outcome::Subscribed`].
    pub fn watch_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Watch(op));
        op
    }

    /// Ends the watch (SUBSCRIBE with Expires 0 in the dialog).
    pub fn unwatch_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Unwatch(op));
        op
    }

    /// Sends a pager-mode MESSAGE (RFC 3428). `content_type` defaults to
    /// `text/plain;charset=UTF-8`. Completes with [`Outcome::MessageSent`].
    pub fn send_message(
        &mut self,
        now: Millis,
        to: &str,
        body: &[u8],
        content_type: Option<&str>,
    ) -> OpId {
        let op = self.begin(now);
        let target = match Uri::parse(to.trim()) {
            Ok(u) if u.is_sip() || matches!(u.scheme(), crate::message::Scheme::Tel) => u,
            _ => {
                self.complete(
                    op,
                    Err(UaError::BadInput(format!(
                        "to: not a sip:, sips: or tel: URI: \"{to}\""
                    ))),
                );
                self.arm();
                return op;
            }
        };
        let ct = content_type.unwrap_or("text/plain;charset=UTF-8");
        if crate::message::MediaType::parse(ct, "Content-Type").is_err() {
            self.complete(
                op,
                Err(UaError::BadInput("contentType: not a media type".into())),
            );
            self.arm();
            return op;
        }
        let tag = token(&mut *self.rng, 10);
        let req = Req {
            method: Method::Message,
            to: format!("<{target}>"),
            ruri: target,
            from: self.own_from(&tag),
            call_id: token(&mut *self.rng, 22),
            cseq: 1,
            route: Vec::new(),
            headers: vec![
                (HeaderName::AcceptContact, "*;+g.oma.sip-im".into()),
                (HeaderName::PPreferredIdentity, self.identity_value()),
            ],
            body: Some((ct.to_owned(), body.to_vec())),
        };
        self.submit(Work::Message(Box::new(req), op));
        op
    }

    /// Closes the client: pending operations fail with `invalid_state`, the socket
    /// is closed and nothing more is sent.
    pub fn close(&mut self, now: Millis) {
        self.advance(now);
        if self.conn == Conn::Closed {
            return;
        }
        let was_open = matches!(self.conn, Conn::Connected | Conn::Connecting);
        // Closed first, so that nothing queued is sent while pending work fails.
        self.conn = Conn::Closed;
        self.reg.wanted = false;
        self.watch.wanted = false;
        self.fail_everything(UaError::InvalidState("the client was closed".into()));
        self.clear_timers();
        if was_open {
            self.out.push_back(Output::Close);
        }
        self.arm();
    }

    // ───────────────────────────── plumbing ─────────────────────────────

    /// Moves the clock forward to `now` (never back; clamped to [`MAX_TIME`]).
    fn advance(&mut self, now: Millis) {
        self.now = self.now.max(now.min(MAX_TIME));
    }

    /// The start of every command: the clock moves to `now`, a new OpId.
    fn begin(&mut self, now: Millis) -> OpId {
        self.advance(now);
        self.new_op()
    }

    /// Completes `op` with `invalid_state` when the client is closed.
    fn refuse_if_closed(&mut self, op: OpId) -> bool {
        let closed = self.conn == Conn::Closed;
        if closed {
            self.complete(
                op,
                Err(UaError::InvalidState("the client is closed".into())),
            );
        }
        closed
    }

    fn new_op(&mut self) -> OpId {
        let id = OpId(self.next_op);
        self.next_op += 1;
        id
    }

    fn complete(&mut self, op: OpId, result: Result<Outcome, UaError>) {
        self.out
            .push_back(Output::Event(Event::Completed { op, result }));
    }

    fn emit(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn transmit(&mut self, frame: String) {
        self.out.push_back(Output::Transmit(frame));
    }

    fn own_from(&self, tag: &str) -> String {
        let mut na = NameAddr::new(self.cfg.aor.clone());
        na.display = self.cfg.display_name.clone();
        na.params.push("tag", Some(tag), false);
        na.to_string()
    }

    fn identity_value(&self) -> String {
        let mut na = NameAddr::new(self.cfg.aor.clone());
        na.display = self.cfg.display_name.clone();
        na.to_string()
    }

    fn user_agent(&self) -> String {
        // OMA IM requires the IM-client/OMA1.0 product token first.
        match &self.cfg.user_agent {
            Some(app) => format!("IM-client/OMA1.0 imsip/{} {app}", crate::VERSION),
            None => format!("IM-client/OMA1.0 imsip/{}", crate::VERSION),
        }
    }

    fn ensure_connection(&mut self) {
        if self.conn == Conn::Idle {
            self.conn = Conn::Connecting;
            self.out.push_back(Output::Connect);
            self.emit(Event::Connection(ConnectionState::Connecting));
        }
    }

    /// Whether app work may be sent now: connected, and not waiting for a
    /// registration the app asked for.
    fn ready(&self) -> bool {
        self.conn == Conn::Connected
            && !(self.reg.wanted && self.reg.state != RegistrationState::Registered)
    }

    fn submit(&mut self, work: Work) {
        let refused = match work.op() {
            Some(op) => self.refuse_if_closed(op),
            None => self.conn == Conn::Closed,
        };
        if !refused {
            self.queue.push_back(work);
            self.ensure_connection();
            self.flush_queue();
        }
        self.run_timers();
        self.arm();
    }

    fn flush_queue(&mut self) {
        while self.ready() {
            let Some(work) = self.queue.pop_front() else {
                break;
            };
            self.start_work(work);
        }
    }

    fn start_work(&mut self, work: Work) {
        match work {
            Work::Publish { body, expires, op } => {
                self.publ.pending.push_back(PubJob::Publish {
                    body,
                    expires,
                    op: Some(op),
                    policy: false,
                });
                self.pub_pump();
            }
            Work::Remove(op) => {
                if self.publ.etag.is_none() && !self.publ.in_flight && self.publ.pending.is_empty()
                {
                    self.complete(
                        op,
                        Err(UaError::InvalidState(
                            "nothing published by this client".into(),
                        )),
                    );
                } else {
                    self.publ.pending.push_back(PubJob::Remove(op));
                    self.pub_pump();
                }
            }
            Work::Fetch(op) => self.start_fetch(op),
            Work::Watch(op) => {
                self.watch.wanted = true;
                self.watch.waiting.push(op);
                if !self.watch.in_flight {
                    if self
                        .watch
                        .dialog
                        .as_ref()
                        .is_some_and(|d| d.to_tag.is_some())
                        && self.watch.refresh_at.is_some()
                    {
                        // Already watching: answer at once.
                        let ops = std::mem::take(&mut self.watch.waiting);
                        for op in ops {
                            self.complete(
                                op,
                                Ok(Outcome::Subscribed {
                                    expires: self.cfg.subscribe_expires,
                                }),
                            );
                        }
                    } else {
                        self.send_watch(false);
                    }
                }
            }
            Work::Unwatch(op) => {
                self.watch.wanted = false;
                self.watch.refresh_at = None;
                if self.watch.dialog.is_none() && !self.watch.in_flight {
                    self.complete(op, Ok(Outcome::Subscribed { expires: 0 }));
                } else {
                    self.watch.waiting.push(op);
                    if !self.watch.in_flight {
                        self.send_watch(true);
                    }
                }
            }
            Work::Message(mut req, op) => {
                req.route = self.reg.service_route.clone();
                self.send(*req, Owner::Message(op));
            }
        }
    }

    /// Builds and sends a request, starting a client transaction (RFC 3261 §17.1.2).
    fn send(&mut self, req: Req, owner: Owner) {
        let branch = format!("z9hG4bK{}", token(&mut *self.rng, 16));
        let mut b = MessageBuilder::request(req.method.clone(), req.ruri.clone());
        b.push_header(
            HeaderName::Via,
            format_args!(
                "SIP/2.0/{} {};branch={};rport",
                self.transport, self.via_host, branch
            ),
        );
        b.push_header(HeaderName::MaxForwards, 70);
        for r in &req.route {
            b.push_header(HeaderName::Route, r);
        }
        b.push_header(HeaderName::From, &req.from);
        b.push_header(HeaderName::To, &req.to);
        b.push_header(HeaderName::CallId, &req.call_id);
        b.push_header(
            HeaderName::CSeq,
            format_args!("{} {}", req.cseq, req.method),
        );
        for (n, v) in &req.headers {
            b.push_header(n.clone(), v);
        }
        let body = req.body.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
        if let Some((name, value)) = self.authorization_for(&req.method, &req.ruri, body) {
            b.push_header(name, value);
        } else if req.method == Method::Register && self.cfg.ims_initial_authorization {
            if let Some(v) = self.auth.initial_authorization(&self.registrar) {
                b.push_header(HeaderName::Authorization, v);
            }
        }
        b.push_header(HeaderName::UserAgent, self.user_agent());
        let msg = match &req.body {
            Some((ct, bytes)) => b.body(Some(ct), bytes.clone()).build(),
            None => b.build(),
        };
        self.transmit(msg.to_string());
        self.txs.push(ClientTx {
            branch,
            deadline: self.now + self.cfg.transaction_timeout,
            req,
            owner,
        });
    }

    fn authorization_for(
        &mut self,
        method: &Method,
        uri: &Uri,
        body: &[u8],
    ) -> Option<(HeaderName, String)> {
        let rng = &mut *self.rng;
        self.auth
            .authorize(method.as_str(), uri.as_str(), body, rng)
    }

    fn arm(&mut self) {
        let next = self.next_wake();
        if next != self.armed {
            self.armed = next;
            if let Some(at) = next {
                self.out.push_back(Output::Timeout(at));
            }
        }
    }

    fn next_wake(&self) -> Option<Millis> {
        let mut t = [
            self.reconnect_at,
            self.ping_at,
            self.pong_deadline,
            self.reg.refresh_at,
            self.reg.retry_at,
            self.publ.refresh_at,
            self.watch.refresh_at,
        ]
        .into_iter()
        .flatten()
        .min();
        for tx in &self.txs {
            t = Some(t.map_or(tx.deadline, |x| x.min(tx.deadline)));
        }
        for f in &self.fetches {
            if let Some(d) = f.deadline {
                t = Some(t.map_or(d, |x| x.min(d)));
            }
        }
        t
    }

    fn clear_timers(&mut self) {
        self.reconnect_at = None;
        self.ping_at = None;
        self.pong_deadline = None;
        self.reg.refresh_at = None;
        self.reg.retry_at = None;
        self.publ.refresh_at = None;
        self.watch.refresh_at = None;
    }

    fn run_timers(&mut self) {
        let now = self.now;
        // Timer F (RFC 3261 §17.1.2.2): a transaction without final response ends in a timeout.
        while let Some(i) = self.txs.iter().position(|t| t.deadline <= now) {
            let tx = self.txs.remove(i);
            self.tx_failed(tx, UaError::Timeout);
        }
        let mut i = 0;
        while i < self.fetches.len() {
            if self.fetches[i].deadline.is_some_and(|d| d <= now) {
                let f = self.fetches.remove(i);
                self.finish_fetch(f, Err(UaError::Timeout));
            } else {
                i += 1;
            }
        }
        if self.pong_deadline.is_some_and(|d| d <= now) {
            // RFC 5626 §4.4.1: no pong → the flow is dead; close and recover.
            self.pong_deadline = None;
            self.out.push_back(Output::Close);
            self.on_disconnected();
        }
        if self.ping_at.is_some_and(|d| d <= now) && self.conn == Conn::Connected {
            self.ping_at = None;
            self.transmit("\r\n\r\n".to_owned());
            self.pong_deadline = Some(now + self.cfg.keep_alive_timeout);
        }
        if self.reconnect_at.is_some_and(|d| d <= now) {
            self.reconnect_at = None;
            if self.conn == Conn::Waiting {
                self.conn = Conn::Connecting;
                self.out.push_back(Output::Connect);
                self.emit(Event::Connection(ConnectionState::Connecting));
            }
        }
        if self.reg.refresh_at.is_some_and(|d| d <= now)
            || self.reg.retry_at.is_some_and(|d| d <= now)
        {
            self.reg.refresh_at = None;
            self.reg.retry_at = None;
            if self.reg.wanted && !self.reg.pending.iter().any(|(u, _)| !u) {
                self.reg.pending.push_back((false, None));
            }
            self.reg_pump();
        }
        if self.publ.refresh_at.is_some_and(|d| d <= now) {
            self.publ.refresh_at = None;
            if self.publ.etag.is_some() {
                self.publ.pending.push_back(PubJob::Refresh);
                self.pub_pump();
            }
        }
        if self.watch.refresh_at.is_some_and(|d| d <= now) {
            self.watch.refresh_at = None;
            if self.watch.wanted && !self.watch.in_flight && self.conn == Conn::Connected {
                self.send_watch(false);
            }
        }
    }

    fn backoff_delay(&mut self) -> Millis {
        // Jittered exponential backoff (RFC 5626 §4.5): base·2^n capped, then a random
        // point in [½, 1] of it so that many clients do not reconnect in step.
        let base = self
            .cfg
            .reconnect_min_delay
            .max(1)
            .saturating_mul(1u64 << self.backoff_attempt.min(20))
            .min(self.cfg.reconnect_max_delay.max(1));
        self.backoff_attempt = self.backoff_attempt.saturating_add(1);
        base / 2 + (fraction(&mut *self.rng) * (base / 2) as f64) as Millis
    }

    // ───────────────────────────── flow ─────────────────────────────

    fn on_connected(&mut self) {
        if self.conn == Conn::Closed {
            return;
        }
        self.conn = Conn::Connected;
        self.backoff_attempt = 0;
        self.reconnect_at = None;
        self.pong_deadline = None;
        self.ping_at = (self.cfg.keep_alive_interval > 0)
            .then(|| self.now + self.cfg.keep_alive_interval as Millis * 1000);
        self.emit(Event::Connection(ConnectionState::Connected));
        if self.reg.wanted {
            // RFC 5626 §4.2: after a flow is (re)established, register first.
            if !self.reg.pending.iter().any(|(u, _)| !u) {
                self.reg.pending.push_back((false, None));
            }
            if self.reg.state == RegistrationState::Registered {
                self.reg.state = RegistrationState::Registering;
            }
        } else if self.publ.etag.is_some() || self.watch.wanted {
            self.restore_publication_and_watch();
        }
        self.reg_pump();
        self.flush_queue();
    }

    fn on_disconnected(&mut self) {
        match self.conn {
            Conn::Idle | Conn::Waiting | Conn::Closed => return,
            Conn::Connecting | Conn::Connected => {}
        }
        self.ping_at = None;
        self.pong_deadline = None;
        let was_registered = self.reg.state == RegistrationState::Registered;
        // The flow is gone before anything fails: nothing may be sent on it while
        // the failures are reported (a pump would otherwise transmit queued work).
        self.conn = Conn::Idle;
        self.fail_everything(UaError::Transport);
        if self.reg.wanted && was_registered {
            self.reg.restore_pending = true;
        }
        if was_registered || self.reg.state == RegistrationState::Registering {
            self.reg.state = if self.reg.wanted {
                RegistrationState::Registering
            } else {
                RegistrationState::Unregistered
            };
            self.reg.info.state = RegistrationState::Unregistered;
            self.reg.info.error = Some(UaError::Transport);
            let info = self.reg.info.clone();
            self.emit(Event::Registration(info));
        }
        self.reg.refresh_at = None;
        self.reg.retry_at = None;
        self.publ.refresh_at = None;
        self.watch.refresh_at = None;
        self.watch.dialog = None;
        if self.reg.wanted || self.watch.wanted || self.publ.etag.is_some() {
            let delay = self.backoff_delay();
            self.conn = Conn::Waiting;
            self.reconnect_at = Some(self.now + delay);
            self.emit(Event::Connection(ConnectionState::Disconnected {
                retry_in: Some(delay),
            }));
        } else {
            self.conn = Conn::Idle;
            self.emit(Event::Connection(ConnectionState::Disconnected {
                retry_in: None,
            }));
        }
    }

    /// Fails every transaction and queued operation (nothing is lost silently).
    fn fail_everything(&mut self, err: UaError) {
        for tx in std::mem::take(&mut self.txs) {
            self.tx_failed(tx, err.clone());
        }
        for (_, op) in std::mem::take(&mut self.reg.pending) {
            if let Some(op) = op {
                self.complete(op, Err(err.clone()));
            }
        }
        for job in std::mem::take(&mut self.publ.pending) {
            self.pub_job_failed(job, err.clone());
        }
        for w in std::mem::take(&mut self.queue) {
            if let Some(op) = w.op() {
                self.complete(op, Err(err.clone()));
            }
        }
        for f in std::mem::take(&mut self.fetches) {
            self.finish_fetch(f, Err(err.clone()));
        }
        for op in std::mem::take(&mut self.watch.waiting) {
            self.complete(op, Err(err.clone()));
        }
        self.reg.in_flight = false;
        self.publ.in_flight = false;
        self.watch.in_flight = false;
    }

    fn on_frame(&mut self, text: &str) {
        // Any frame proves the flow alive.
        self.pong_deadline = None;
        if self.conn == Conn::Connected
            && self.cfg.keep_alive_interval > 0
            && self.ping_at.is_none()
        {
            self.ping_at = Some(self.now + self.cfg.keep_alive_interval as Millis * 1000);
        }
        if text == "\r\n\r\n" && self.conn == Conn::Connected {
            // A ping from the server (Asterisk sends them): answer with a pong
            // (RFC 5626 §3.5.1).
            self.transmit("\r\n".to_owned());
            return;
        }
        if text.bytes().all(|b| b == b'\r' || b == b'\n') {
            // RFC 5626 §3.5.1 pong (CRLF), or a keep-alive ping from the server: not an error.
            return;
        }
        if text.len() > self.cfg.max_frame_size {
            self.emit(Event::Dropped {
                reason: format!(
                    "frame of {} bytes exceeds the {}-byte limit",
                    text.len(),
                    self.cfg.max_frame_size
                ),
            });
            return;
        }
        match Message::parse(text.as_bytes()) {
            Ok(msg) if msg.is_request() => self.on_request(msg),
            Ok(msg) => self.on_response(msg),
            Err(e) => self.emit(Event::Dropped {
                reason: format!("unparseable frame: {e}"),
            }),
        }
    }

    // ───────────────────────────── client transactions ─────────────────────────────

    fn on_response(&mut self, msg: Message) {
        // RFC 3261 §17.1.3: match by the top Via branch and the CSeq method.
        let (Ok(via), Ok(cseq), Some(status)) = (msg.top_via(), msg.cseq(), msg.status()) else {
            self.emit(Event::Dropped {
                reason: "response without usable Via/CSeq".into(),
            });
            return;
        };
        let Some(branch) = via.branch() else { return };
        let Some(i) = self
            .txs
            .iter()
            .position(|t| t.branch == branch && t.req.method == cseq.method)
        else {
            return; // stray
        };
        if status < 200 {
            return; // Timer F keeps running (RFC 3261 §17.1.2.2).
        }
        let tx = self.txs.remove(i);
        if status == 401 || status == 407 {
            match self.auth.on_challenge(&msg, status == 407) {
                Ok(()) => {
                    let mut req = tx.req;
                    req.cseq = self.next_cseq(&tx.owner, req.cseq);
                    self.send(req, tx.owner);
                }
                Err(e) => self.tx_failed(tx, UaError::from_auth(e)),
            }
            return;
        }
        match tx.owner.clone() {
            Owner::Register { unregister, ops } => {
                self.reg_final(tx, unregister, ops, &msg, status)
            }
            Owner::Publish(job) => self.pub_final(tx, job, &msg, status),
            Owner::Watch { unwatch, ops } => self.watch_final(tx, unwatch, ops, &msg, status),
            Owner::Fetch { call_id } => self.fetch_final(&call_id, &msg, status),
            Owner::Message(op) => {
                let reason = msg.reason().unwrap_or("").to_owned();
                if (200..300).contains(&status) {
                    self.complete(op, Ok(Outcome::MessageSent { status, reason }));
                } else {
                    let retry_after = retry_after(&msg);
                    self.complete(
                        op,
                        Err(UaError::Rejected {
                            status,
                            reason,
                            retry_after,
                        }),
                    );
                }
            }
        }
    }

    fn next_cseq(&mut self, owner: &Owner, current: u32) -> u32 {
        match owner {
            Owner::Register { .. } => {
                self.reg.cseq += 1;
                self.reg.cseq
            }
            Owner::Publish(_) => {
                self.publ.cseq += 1;
                self.publ.cseq
            }
            Owner::Watch { .. } => {
                self.watch.cseq += 1;
                self.watch.cseq
            }
            _ => current + 1,
        }
    }

    fn tx_failed(&mut self, tx: ClientTx, err: UaError) {
        match tx.owner {
            Owner::Register { unregister, ops } => {
                self.reg_failed(unregister, ops, err);
                self.reg_pump();
            }
            Owner::Publish(job) => {
                self.publ.in_flight = false;
                self.pub_job_failed(job, err);
                self.pub_pump();
            }
            Owner::Watch { ops, .. } => {
                self.watch.in_flight = false;
                for op in ops {
                    self.complete(op, Err(err.clone()));
                }
            }
            Owner::Fetch { call_id } => {
                if let Some(i) = self.fetches.iter().position(|f| f.call_id == call_id) {
                    let f = self.fetches.remove(i);
                    self.finish_fetch(f, Err(err));
                }
            }
            Owner::Message(op) => self.complete(op, Err(err)),
        }
    }

    // ───────────────────────────── Registerer ─────────────────────────────

    fn reg_pump(&mut self) {
        if self.conn != Conn::Connected || self.reg.in_flight {
            return;
        }
        let Some((unregister, op)) = self.reg.pending.pop_front() else {
            return;
        };
        let mut ops: Vec<OpId> = op.into_iter().collect();
        // Coalesce queued jobs of the same kind into this REGISTER.
        while let Some((u, _)) = self.reg.pending.front() {
            if *u != unregister {
                break;
            }
            if let Some((_, Some(op))) = self.reg.pending.pop_front() {
                ops.push(op);
            }
        }
        if !unregister {
            self.reg.state = RegistrationState::Registering;
        }
        self.send_register(unregister, ops);
    }

    fn send_register(&mut self, unregister: bool, ops: Vec<OpId>) {
        self.reg.in_flight = true;
        self.reg.cseq += 1;
        let expires = if unregister { 0 } else { self.reg.expires };
        let contact = format!(
            "<{}>;+g.oma.sip-im;+sip.instance=\"{}\";reg-id=1{}",
            self.contact_uri,
            angle(&self.instance),
            if unregister { ";expires=0" } else { "" }
        );
        let aor = format!("<{}>", self.cfg.aor);
        let req = Req {
            method: Method::Register,
            ruri: self.registrar.clone(),
            from: self.own_from(&self.reg.from_tag.clone()),
            to: aor,
            call_id: self.reg.call_id.clone(),
            cseq: self.reg.cseq,
            route: Vec::new(),
            headers: vec![
                (HeaderName::Contact, contact),
                (HeaderName::Expires, expires.to_string()),
                (HeaderName::Supported, "path, outbound, gruu".into()),
                (HeaderName::Allow, ALLOW.into()),
                (HeaderName::PPreferredIdentity, self.identity_value()),
            ],
            body: None,
        };
        self.send(req, Owner::Register { unregister, ops });
    }

    fn reg_final(
        &mut self,
        tx: ClientTx,
        unregister: bool,
        ops: Vec<OpId>,
        msg: &Message,
        status: u16,
    ) {
        self.reg.in_flight = false;
        if (200..300).contains(&status) {
            self.auth.accepted();
            if unregister {
                self.reg.state = RegistrationState::Unregistered;
                self.reg.refresh_at = None;
                self.reg.info = Registration {
                    state: RegistrationState::Unregistered,
                    expires: Some(0),
                    contacts: Vec::new(),
                    service_route: Vec::new(),
                    associated_uris: Vec::new(),
                    pub_gruu: None,
                    error: None,
                };
                self.reg.service_route.clear();
                let info = self.reg.info.clone();
                self.emit(Event::Registration(info));
                for op in ops {
                    self.complete(op, Ok(Outcome::Unregistered));
                }
            } else {
                self.registered(msg, ops);
            }
        } else if status == 423 {
            // RFC 3261 §10.2.8: retry with the registrar's minimum.
            match msg.min_expires().ok().flatten() {
                Some(min) if min > self.reg.expires => {
                    self.reg.expires = min;
                    self.send_register(unregister, ops);
                    return;
                }
                _ => self.reg_failed(unregister, ops, rejected(msg, status)),
            }
        } else {
            let err = rejected(msg, status);
            if let (true, Some(secs)) = (self.reg.wanted && !unregister, retry_after(msg)) {
                // Retry-After honoured (RFC 3261 §20.33).
                self.reg.retry_at = Some(self.now + secs as Millis * 1000);
            }
            self.reg_failed(unregister, ops, err);
        }
        let _ = tx;
        self.reg_pump();
    }

    fn registered(&mut self, msg: &Message, ops: Vec<OpId>) {
        let contacts = msg.contact_list().unwrap_or_default();
        let ours = contacts.iter().find(|c| {
            c.instance().is_some_and(|i| {
                i.trim_matches(['<', '>']) == self.instance.trim_matches(['<', '>'])
            }) || c.uri.as_str() == self.contact_uri
                || c.uri.user()
                    == Uri::parse(&self.contact_uri)
                        .ok()
                        .as_ref()
                        .and_then(|u| u.user().map(str::to_owned))
                        .as_deref()
        });
        let granted = ours
            .and_then(|c| c.expires())
            .or_else(|| msg.expires().ok().flatten())
            .unwrap_or(self.reg.expires);
        let service_route: Vec<String> = msg
            .service_route()
            .unwrap_or_default()
            .iter()
            .map(|r| format!("<{}>", r.uri))
            .collect();
        self.reg.service_route = service_route.clone();
        self.reg.state = RegistrationState::Registered;
        self.reg.info = Registration {
            state: RegistrationState::Registered,
            expires: Some(granted),
            contacts: contacts.iter().map(|c| c.to_string()).collect(),
            service_route: msg
                .service_route()
                .unwrap_or_default()
                .iter()
                .map(|r| r.uri.to_string())
                .collect(),
            associated_uris: msg
                .p_associated_uri()
                .unwrap_or_default()
                .iter()
                .map(|r| r.uri.to_string())
                .collect(),
            pub_gruu: ours.and_then(|c| c.pub_gruu()).map(str::to_owned),
            error: None,
        };
        // Refresh at a random point between 50 % and 85 % of the granted expiry.
        let ms = granted as u64 * 1000;
        let f = 0.5 + 0.35 * fraction(&mut *self.rng);
        self.reg.refresh_at = (granted > 0).then(|| self.now + (ms as f64 * f) as Millis);
        let info = self.reg.info.clone();
        self.emit(Event::Registration(info.clone()));
        for op in ops {
            self.complete(op, Ok(Outcome::Registered(info.clone())));
        }
        if self.reg.restore_pending {
            self.reg.restore_pending = false;
            self.restore_publication_and_watch();
        }
        if self.reg.policy_pending {
            self.reg.policy_pending = false;
            self.run_policy();
        }
        self.flush_queue();
    }

    fn reg_failed(&mut self, unregister: bool, ops: Vec<OpId>, err: UaError) {
        self.reg.in_flight = false;
        let auth_problem = matches!(err, UaError::AuthFailed { .. } | UaError::NetworkAuthFailed);
        if unregister {
            for op in ops {
                self.complete(op, Err(err.clone()));
            }
            return;
        }
        if auth_problem || matches!(err, UaError::Rejected { .. }) && self.reg.retry_at.is_none() {
            // Never loop on refused credentials or a final rejection.
            self.reg.wanted = false;
            self.reg.policy_pending = false;
        } else if matches!(err, UaError::Timeout) && self.reg.wanted && self.reg.retry_at.is_none()
        {
            let d = self.backoff_delay();
            self.reg.retry_at = Some(self.now + d);
        }
        self.reg.state = RegistrationState::Failed;
        self.reg.refresh_at = None;
        self.reg.info.state = RegistrationState::Failed;
        self.reg.info.error = Some(err.clone());
        let info = self.reg.info.clone();
        self.emit(Event::Registration(info));
        for op in ops {
            self.complete(op, Err(err.clone()));
        }
        // Work queued behind the registration goes now: the core decides about it.
        if !self.reg.wanted {
            self.flush_queue();
        }
    }

    fn restore_publication_and_watch(&mut self) {
        if self.publ.etag.is_some()
            && !self
                .publ
                .pending
                .iter()
                .any(|j| matches!(j, PubJob::Refresh))
        {
            self.publ.pending.push_back(PubJob::Refresh);
            self.pub_pump();
        }
        if self.watch.wanted && !self.watch.in_flight {
            self.watch.dialog = None;
            self.send_watch(false);
        }
    }

    fn run_policy(&mut self) {
        match self.cfg.publish_policy {
            PublishPolicy::Never => {}
            PublishPolicy::Always => match self.cfg.service_settings.clone() {
                Some(s) => {
                    self.current_settings = Some(s.clone());
                    self.publ.pending.push_back(PubJob::Publish {
                        body: s.encode(),
                        expires: self.cfg.publish_expires,
                        op: None,
                        policy: true,
                    });
                    self.pub_pump();
                }
                None => self.emit(Event::Policy(PolicyOutcome::NothingToPublish)),
            },
            PublishPolicy::IfAbsent => self.start_fetch(None),
        }
    }

    // ───────────────────────────── Publisher (RFC 3903) ─────────────────────────────

    fn pub_pump(&mut self) {
        if self.publ.in_flight || self.conn != Conn::Connected {
            return;
        }
        let Some(job) = self.publ.pending.pop_front() else {
            return;
        };
        self.send_publish(job);
    }

    fn send_publish(&mut self, job: PubJob) {
        let mut headers = vec![
            (HeaderName::Event, SERVICE_SETTINGS.to_owned()),
            (
                HeaderName::AcceptContact,
                "*;+g.oma.sip-im;require;explicit".to_owned(),
            ),
            (HeaderName::PPreferredIdentity, self.identity_value()),
        ];
        let mut body = None;
        match &job {
            PubJob::Publish {
                body: b, expires, ..
            } => {
                if let Some(etag) = &self.publ.etag {
                    headers.push((HeaderName::SipIfMatch, etag.clone()));
                }
                headers.push((HeaderName::Expires, expires.to_string()));
                body = Some((
                    SERVICE_SETTINGS_CONTENT_TYPE.to_owned(),
                    b.clone().into_bytes(),
                ));
            }
            PubJob::Refresh => {
                let Some(etag) = self.publ.etag.clone() else {
                    return;
                };
                headers.push((HeaderName::SipIfMatch, etag));
                headers.push((HeaderName::Expires, self.publ.expires.to_string()));
            }
            PubJob::Remove(op) => {
                let Some(etag) = self.publ.etag.clone() else {
                    self.complete(
                        *op,
                        Err(UaError::InvalidState(
                            "nothing published by this client".into(),
                        )),
                    );
                    return self.pub_pump();
                };
                headers.push((HeaderName::SipIfMatch, etag));
                headers.push((HeaderName::Expires, "0".into()));
            }
        }
        self.publ.in_flight = true;
        self.publ.cseq += 1;
        let req = Req {
            method: Method::Publish,
            ruri: self.cfg.aor.clone(),
            from: self.own_from(&self.publ.from_tag.clone()),
            to: format!("<{}>", self.cfg.aor),
            call_id: self.publ.call_id.clone(),
            cseq: self.publ.cseq,
            route: self.reg.service_route.clone(),
            headers,
            body,
        };
        self.send(req, Owner::Publish(job));
    }

    fn pub_final(&mut self, _tx: ClientTx, job: PubJob, msg: &Message, status: u16) {
        self.publ.in_flight = false;
        if (200..300).contains(&status) {
            self.publ.restarted = false;
            if let PubJob::Remove(op) = job {
                self.publ.etag = None;
                self.publ.body = None;
                self.publ.refresh_at = None;
                self.complete(op, Ok(Outcome::Removed));
            } else {
                let Some(etag) = msg.sip_etag().ok().flatten() else {
                    self.pub_job_failed(
                        job,
                        UaError::BadResponse("2xx to PUBLISH without SIP-ETag".into()),
                    );
                    return self.pub_pump();
                };
                let expires = msg.expires().ok().flatten().unwrap_or(self.publ.expires);
                self.publ.etag = Some(etag.clone());
                self.publ.expires = expires;
                // RFC 3903 §4.3: refresh before the publication expires.
                self.publ.refresh_at = (expires > 0).then(|| self.now + expires as Millis * 800);
                if let PubJob::Publish {
                    body, op, policy, ..
                } = job
                {
                    self.publ.body = Some(body);
                    if let Some(op) = op {
                        self.complete(
                            op,
                            Ok(Outcome::Published {
                                etag: etag.clone(),
                                expires,
                            }),
                        );
                    }
                    if policy {
                        self.emit(Event::Policy(PolicyOutcome::Published { etag }));
                    }
                }
            }
        } else if status == 412 && !self.publ.restarted {
            // RFC 3903 §4.3: our entity-tag is unknown: start again with an initial PUBLISH.
            self.publ.restarted = true;
            self.publ.etag = None;
            match job {
                PubJob::Remove(op) => self.complete(op, Ok(Outcome::Removed)),
                PubJob::Refresh => {
                    if let Some(body) = self.publ.body.clone() {
                        self.publ.pending.push_front(PubJob::Publish {
                            body,
                            expires: self.publ.expires,
                            op: None,
                            policy: false,
                        });
                    }
                }
                job @ PubJob::Publish { .. } => self.publ.pending.push_front(job),
            }
        } else if status == 423 {
            match (msg.min_expires().ok().flatten(), job) {
                (
                    Some(min),
                    PubJob::Publish {
                        body,
                        expires,
                        op,
                        policy,
                    },
                ) if min > expires => {
                    self.publ.pending.push_front(PubJob::Publish {
                        body,
                        expires: min,
                        op,
                        policy,
                    });
                }
                (Some(min), PubJob::Refresh) if min > self.publ.expires => {
                    self.publ.expires = min;
                    self.publ.pending.push_front(PubJob::Refresh);
                }
                (_, job) => self.pub_job_failed(job, rejected(msg, status)),
            }
        } else if matches!(status, 489 | 501 | 405) {
            self.pub_job_failed(
                job,
                UaError::UnsupportedEvent {
                    package: SERVICE_SETTINGS.into(),
                    status,
                },
            );
        } else {
            self.publ.restarted = false;
            self.pub_job_failed(job, rejected(msg, status));
        }
        self.pub_pump();
    }

    fn pub_job_failed(&mut self, job: PubJob, err: UaError) {
        match job {
            PubJob::Publish { op, policy, .. } => {
                if let Some(op) = op {
                    self.complete(op, Err(err.clone()));
                }
                if policy {
                    self.emit(Event::Policy(PolicyOutcome::Failed(err)));
                }
            }
            PubJob::Remove(op) => self.complete(op, Err(err)),
            PubJob::Refresh => {}
        }
    }

    // ───────────────────────────── Subscriber (RFC 6665) ─────────────────────────────

    fn subscribe_headers(&self, expires: u32) -> Vec<(HeaderName, String)> {
        vec![
            (HeaderName::Event, SERVICE_SETTINGS.to_owned()),
            (HeaderName::Accept, SERVICE_SETTINGS_CONTENT_TYPE.to_owned()),
            (HeaderName::Expires, expires.to_string()),
            (HeaderName::Contact, format!("<{}>", self.contact_uri)),
            (HeaderName::PPreferredIdentity, self.identity_value()),
            (HeaderName::AcceptContact, "*;+g.oma.sip-im".to_owned()),
        ]
    }

    fn start_fetch(&mut self, op: Option<OpId>) {
        let call_id = token(&mut *self.rng, 22);
        let from_tag = token(&mut *self.rng, 10);
        let req = Req {
            method: Method::Subscribe,
            ruri: self.cfg.aor.clone(),
            from: self.own_from(&from_tag),
            to: format!("<{}>", self.cfg.aor),
            call_id: call_id.clone(),
            cseq: 1,
            route: self.reg.service_route.clone(),
            headers: self.subscribe_headers(0),
            body: None,
        };
        self.fetches.push(Fetch {
            call_id: call_id.clone(),
            from_tag,
            op,
            deadline: None,
            answered: false,
            result: None,
        });
        self.send(req, Owner::Fetch { call_id });
    }

    fn fetch_final(&mut self, call_id: &str, msg: &Message, status: u16) {
        let Some(i) = self.fetches.iter().position(|f| f.call_id == call_id) else {
            return;
        };
        if (200..300).contains(&status) {
            let f = &mut self.fetches[i];
            f.answered = true;
            if let Some(result) = f.result.take() {
                let f = self.fetches.remove(i);
                self.finish_fetch(f, result);
            } else {
                // RFC 6665 §4.1.2.4: the NOTIFY follows; wait Timer N (64·T1) for it.
                f.deadline = Some(self.now + self.cfg.transaction_timeout);
            }
        } else {
            let f = self.fetches.remove(i);
            let err = if matches!(status, 489 | 501 | 405) {
                UaError::UnsupportedEvent {
                    package: SERVICE_SETTINGS.into(),
                    status,
                }
            } else {
                rejected(msg, status)
            };
            self.finish_fetch(f, Err(err));
        }
    }

    fn finish_fetch(&mut self, f: Fetch, result: Result<Option<ServiceSettings>, UaError>) {
        match f.op {
            Some(op) => self.complete(op, result.map(Outcome::Settings)),
            None => self.policy_after_fetch(result),
        }
    }

    /// The `if-absent` policy (seed step 5): adopt the server's settings when it
    /// has some; otherwise publish ours.
    fn policy_after_fetch(&mut self, result: Result<Option<ServiceSettings>, UaError>) {
        match result {
            Ok(Some(server)) if !server.entities.is_empty() => {
                self.current_settings = Some(server.clone());
                self.emit(Event::ServiceSettings {
                    settings: server,
                    source: SettingsSource::Adopted,
                });
                self.emit(Event::Policy(PolicyOutcome::Adopted));
            }
            Ok(_) => match self.cfg.service_settings.clone() {
                Some(s) => {
                    self.current_settings = Some(s.clone());
                    self.publ.pending.push_back(PubJob::Publish {
                        body: s.encode(),
                        expires: self.cfg.publish_expires,
                        op: None,
                        policy: true,
                    });
                    self.pub_pump();
                }
                None => self.emit(Event::Policy(PolicyOutcome::NothingToPublish)),
            },
            Err(e) => self.emit(Event::Policy(PolicyOutcome::Failed(e))),
        }
    }

    fn send_watch(&mut self, unwatch: bool) {
        if self.conn != Conn::Connected {
            return;
        }
        if !unwatch && self.watch.closing {
            // A new watch after an unwatch is a new subscription.
            self.watch.closing = false;
            self.watch.dialog = None;
        }
        let expires = if unwatch {
            0
        } else {
            self.cfg.subscribe_expires
        };
        let (to, route, ruri) = match &self.watch.dialog {
            Some(d) if d.to_tag.is_some() => (
                format!(
                    "<{}>;tag={}",
                    self.cfg.aor,
                    d.to_tag.as_deref().unwrap_or("")
                ),
                d.route.clone(),
                d.target.clone().unwrap_or_else(|| self.cfg.aor.clone()),
            ),
            _ => {
                // A new subscription: new Call-ID and tag.
                self.watch.call_id = token(&mut *self.rng, 22);
                self.watch.from_tag = token(&mut *self.rng, 10);
                self.watch.cseq = 0;
                self.watch.dialog = Some(Dialog {
                    to_tag: None,
                    route: Vec::new(),
                    target: None,
                });
                (
                    format!("<{}>", self.cfg.aor),
                    self.reg.service_route.clone(),
                    self.cfg.aor.clone(),
                )
            }
        };
        self.watch.cseq += 1;
        self.watch.in_flight = true;
        let ops = if unwatch || self.watch.wanted {
            std::mem::take(&mut self.watch.waiting)
        } else {
            Vec::new()
        };
        let req = Req {
            method: Method::Subscribe,
            ruri,
            from: self.own_from(&self.watch.from_tag.clone()),
            to,
            call_id: self.watch.call_id.clone(),
            cseq: self.watch.cseq,
            route,
            headers: self.subscribe_headers(expires),
            body: None,
        };
        self.send(req, Owner::Watch { unwatch, ops });
    }

    fn watch_final(
        &mut self,
        _tx: ClientTx,
        unwatch: bool,
        ops: Vec<OpId>,
        msg: &Message,
        status: u16,
    ) {
        self.watch.in_flight = false;
        if (200..300).contains(&status) {
            let expires = msg.expires().ok().flatten().unwrap_or(if unwatch {
                0
            } else {
                self.cfg.subscribe_expires
            });
            if unwatch || expires == 0 {
                // Keep the dialog to answer the final NOTIFY with 200 (RFC 6665 §4.1.2.3).
                self.watch.closing = self.watch.dialog.is_some();
                if !self.watch.closing {
                    self.watch.dialog = None;
                }
                self.watch.refresh_at = None;
            } else {
                let to_tag = msg.to().ok().and_then(|t| t.tag().map(str::to_owned));
                let route: Vec<String> = msg
                    .record_route()
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .map(|r| r.to_string())
                    .collect();
                let target = msg
                    .contact_list()
                    .ok()
                    .and_then(|c| c.first().map(|c| c.uri.clone()));
                let d = self.watch.dialog.get_or_insert(Dialog {
                    to_tag: None,
                    route: Vec::new(),
                    target: None,
                });
                if d.to_tag.is_none() {
                    d.to_tag = to_tag;
                    d.route = route;
                    d.target = target;
                }
                // RFC 6665 §4.1.2.2: refresh before expiry.
                self.watch.refresh_at = Some(self.now + expires as Millis * 850);
            }
            for op in ops {
                self.complete(op, Ok(Outcome::Subscribed { expires }));
            }
            if unwatch && self.watch.wanted {
                // A watch was asked for while the unwatch was in flight.
                self.send_watch(false);
            } else if !unwatch && !self.watch.wanted && self.watch.dialog.is_some() {
                // An unwatch was asked for while the watch was in flight.
                self.send_watch(true);
            }
        } else {
            if status == 481 && !unwatch && self.watch.wanted {
                // The dialog is gone: start a new subscription.
                self.watch.dialog = None;
                self.watch.waiting.extend(ops);
                return self.send_watch(false);
            }
            if unwatch {
                self.watch.dialog = None;
            } else {
                self.watch.wanted = false;
            }
            let err = if matches!(status, 489 | 501 | 405) {
                UaError::UnsupportedEvent {
                    package: SERVICE_SETTINGS.into(),
                    status,
                }
            } else {
                rejected(msg, status)
            };
            for op in ops {
                self.complete(op, Err(err.clone()));
            }
            if !self.watch.wanted && !self.watch.in_flight {
                // An unwatch asked for meanwhile: there is no subscription left.
                for op in std::mem::take(&mut self.watch.waiting) {
                    self.complete(op, Ok(Outcome::Subscribed { expires: 0 }));
                }
            }
        }
    }

    // ───────────────────────────── UAS side ─────────────────────────────

    fn respond(
        &mut self,
        req: &Message,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, String)],
    ) {
        let tag = token(&mut *self.rng, 10);
        let mut b = MessageBuilder::reply(req, status, reason, Some(&tag));
        for (n, v) in extra {
            b.push_header(n.clone(), v);
        }
        b.push_header(HeaderName::UserAgent, self.user_agent());
        let frame = b.build().to_string();
        self.transmit(frame);
    }

    fn on_request(&mut self, msg: Message) {
        if let Err(e) = msg.validate() {
            // RFC 3261 §8.2 / RFC 4475 §3.3: refuse what we cannot act on.
            if msg.method() != Some(&Method::Ack)
                && msg.top_via().is_ok()
                && msg.header(HeaderName::CSeq).is_some()
            {
                let reason = match &e {
                    crate::message::ParseError::UnsupportedVersion(_) => "Version Not Supported",
                    _ => "Bad Request",
                };
                let status = if reason == "Bad Request" { 400 } else { 505 };
                let warning = e.to_string().replace('"', "'");
                self.respond(
                    &msg,
                    status,
                    reason,
                    &[(HeaderName::Warning, format!("399 imsip \"{warning}\""))],
                );
            }
            self.emit(Event::Dropped {
                reason: format!("invalid request: {e}"),
            });
            return;
        }
        let Some(method) = msg.method().cloned() else {
            return;
        };
        // RFC 3261 §8.2.1: method first.
        if method == Method::Ack {
            return;
        }
        if !matches!(method, Method::Message | Method::Notify | Method::Options) {
            self.respond(
                &msg,
                405,
                "Method Not Allowed",
                &[(HeaderName::Allow, ALLOW.into())],
            );
            return;
        }
        // §8.2.2.1: an unsupported Request-URI scheme.
        if msg.request_uri().is_some_and(|u| !u.is_sip()) {
            self.respond(&msg, 416, "Unsupported URI Scheme", &[]);
            return;
        }
        // §8.2.2.3: Require with option tags we do not support.
        let unsupported: Vec<String> = msg.require().unwrap_or_default();
        if !unsupported.is_empty() {
            self.respond(
                &msg,
                420,
                "Bad Extension",
                &[(HeaderName::Unsupported, unsupported.join(", "))],
            );
            return;
        }
        match method {
            Method::Options => {
                let accept = format!("text/plain, {SERVICE_SETTINGS_CONTENT_TYPE}");
                self.respond(
                    &msg,
                    200,
                    "OK",
                    &[
                        (HeaderName::Allow, ALLOW.into()),
                        (HeaderName::Accept, accept),
                        (HeaderName::Supported, "path, outbound, gruu".into()),
                    ],
                );
            }
            Method::Message => self.on_message(msg),
            Method::Notify => self.on_notify(msg),
            _ => {}
        }
    }

    fn on_message(&mut self, msg: Message) {
        let (Ok(call_id), Ok(cseq), Ok(from), Ok(to)) =
            (msg.call_id(), msg.cseq(), msg.from(), msg.to())
        else {
            return;
        };
        let key = (call_id.to_owned(), cseq.seq);
        self.respond(&msg, 200, "OK", &[]);
        // RFC 3428 §7 / RFC 3261 §17.2.3: a retransmission is answered but delivered once.
        if self.seen.contains(&key) {
            return;
        }
        self.seen.push_back(key);
        if self.seen.len() > DEDUP_WINDOW {
            self.seen.pop_front();
        }
        let content_type = msg
            .content_type()
            .ok()
            .flatten()
            .map(|c| c.to_string())
            .unwrap_or_else(|| "text/plain".into());
        self.emit(Event::Message(IncomingMessage {
            from: from.uri.to_string(),
            display_name: from.display.clone(),
            to: to.uri.to_string(),
            content_type,
            body: msg.body().to_vec(),
        }));
    }

    fn on_notify(&mut self, msg: Message) {
        let (Ok(call_id), Ok(to), Ok(from)) = (msg.call_id(), msg.to(), msg.from()) else {
            return;
        };
        let our_tag = to.tag().unwrap_or("");
        let is_watch = self.watch.call_id == call_id
            && self.watch.from_tag == our_tag
            && self.watch.dialog.is_some();
        let fetch_idx = self
            .fetches
            .iter()
            .position(|f| f.call_id == call_id && f.from_tag == our_tag);
        if !is_watch && fetch_idx.is_none() {
            // RFC 6665 §4.1.3: NOTIFY for an unknown subscription.
            self.respond(&msg, 481, "Subscription Does Not Exist", &[]);
            return;
        }
        if msg
            .event()
            .ok()
            .flatten()
            .is_none_or(|e| !e.value.eq_ignore_ascii_case(SERVICE_SETTINGS))
        {
            self.respond(&msg, 489, "Bad Event", &[]);
            return;
        }
        let body = msg.body();
        let settings = if body.iter().all(|b| b.is_ascii_whitespace()) {
            Ok(None)
        } else if msg
            .content_type()
            .ok()
            .flatten()
            .is_some_and(|c| !c.is(SERVICE_SETTINGS_CONTENT_TYPE))
        {
            self.respond(
                &msg,
                415,
                "Unsupported Media Type",
                &[(HeaderName::Accept, SERVICE_SETTINGS_CONTENT_TYPE.into())],
            );
            return;
        } else {
            ServiceSettings::decode(body)
                .map(Some)
                .map_err(UaError::from_settings)
        };
        match &settings {
            Err(e) => {
                let w = e.to_string().replace('"', "'");
                self.respond(
                    &msg,
                    400,
                    "Bad Request",
                    &[(HeaderName::Warning, format!("399 imsip \"{w}\""))],
                );
            }
            Ok(_) => self.respond(&msg, 200, "OK", &[]),
        }
        let state = msg.subscription_state().ok().flatten();
        let terminated = state
            .as_ref()
            .is_some_and(|s| s.value.eq_ignore_ascii_case("terminated"));
        if let Some(i) = fetch_idx {
            let f = &mut self.fetches[i];
            if f.answered {
                let f = self.fetches.remove(i);
                self.finish_fetch(f, settings);
            } else {
                // NOTIFY overtook the 2xx (RFC 6665 §4.1.2.4): keep the result.
                f.result = Some(settings);
            }
            return;
        }
        // Watch NOTIFY.
        if let Some(d) = self.watch.dialog.as_mut() {
            if d.to_tag.is_none() {
                d.to_tag = from.tag().map(str::to_owned);
                d.route = msg
                    .record_route()
                    .unwrap_or_default()
                    .iter()
                    .map(|r| r.to_string())
                    .collect();
                d.target = msg
                    .contact_list()
                    .ok()
                    .and_then(|c| c.first().map(|c| c.uri.clone()));
            }
        }
        if let Ok(Some(s)) = settings {
            self.current_settings = Some(s.clone());
            self.emit(Event::ServiceSettings {
                settings: s,
                source: SettingsSource::Notify,
            });
        }
        if terminated {
            let reason = state.as_ref().and_then(|s| s.reason().map(str::to_owned));
            self.watch.dialog = None;
            self.watch.refresh_at = None;
            self.watch.closing = false;
            self.emit(Event::WatchTerminated {
                reason: reason.clone(),
            });
            // RFC 6665 §4.1.3: after deactivated/timeout (or no reason) a new
            // subscription may be attempted at once; other reasons end the watch.
            let retry = matches!(
                reason.as_deref(),
                None | Some("deactivated") | Some("timeout")
            );
            if self.watch.wanted && retry && !self.watch.in_flight {
                self.send_watch(false);
            } else if !retry {
                self.watch.wanted = false;
            }
        }
    }
}

fn rejected(msg: &Message, status: u16) -> UaError {
    UaError::Rejected {
        status,
        reason: msg.reason().unwrap_or("").to_owned(),
        retry_after: retry_after(msg),
    }
}

fn retry_after(msg: &Message) -> Option<u32> {
    msg.retry_after().ok().flatten().map(|r| r.seconds)
}

fn angle(instance: &str) -> String {
    if instance.starts_with('<') {
        instance.to_owned()
    } else {
        format!("<{instance}>")
    }
}

/// A random token of lowercase letters and digits (tags, branches, Call-IDs).
pub(super) fn token(rng: &mut dyn RandomSource, n: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    buf.iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A uniformly distributed fraction in [0, 1).
fn fraction(rng: &mut dyn RandomSource) -> f64 {
    let mut b = [0u8; 4];
    rng.fill(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}

/// A version-4 UUID URN (RFC 4122 §4.4) for `+sip.instance`.
fn uuid_urn(rng: &mut dyn RandomSource) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
