//! The thin agent: routes inputs to the parts that own them, folds their
//! deadlines into one wake-up, orders recovery (RFC 5626 §4.2: register first,
//! then the publication and the watch, then queued work) and runs the publish
//! policy. The parts are the [`Flow`], the Registerer, the Publisher, the
//! Subscriber, the Messager, the Sessions and the UAS rules.

use super::api::*;
use super::composing::Composing;
use super::config::{Config, PublishPolicy};
use super::context::{token, Ctx, Local};
use super::credentials::CredentialStore;
use super::error::UaError;
use super::fetcher::{FetchKind, Fetcher};
use super::flow::{Flow, FlowState};
use super::messager::Messager;
use super::publisher::Publisher;
use super::receipts::Receipts;
use super::registerer::{RegSignal, Registerer};
use super::sessions::Sessions;
use super::subscriber::{NotifyOutcome, Subscriber};
use super::timers::{Timer, TimerTable};
use super::transaction::{ClientTx, Notice, Transactions, Usage, MAX_AUTH_ROUNDS};
use super::uas::{screen, Incoming};
use super::work::Fifo;
use super::work::{Work, WorkQueue};
use crate::auth::{AuthError, RandomSource};
use crate::message::{refusal, FramingError, Message, Method, ParseError};
use crate::settings::ServiceSettings;

/// Times are clamped here (about 146 million years of milliseconds) so that adding
/// any delay can never overflow.
const MAX_TIME: Millis = 1 << 62;

/// Lends the shared state to one part for one call.
macro_rules! cx {
    ($s:ident) => {
        &mut $s.cx
    };
}

// The app's commands (register, publish, send...), in their own file.
mod commands;
// Incoming MESSAGEs and the notices the user agent sends by itself.
mod chat;
// INVITE sessions: the app's commands and the routing of their messages.
mod sessions;

/// The sans-IO user agent. See [`crate::ua`].
pub struct UserAgent {
    /// The state every part is lent (clock, configuration, identity, output,
    /// transactions, credentials, timers).
    cx: Ctx,
    next_op: u64,
    /// The wake-up last handed to the caller.
    armed: Option<Millis>,
    flow: Flow,
    registerer: Registerer,
    publisher: Publisher,
    subscriber: Subscriber,
    fetcher: Fetcher,
    messager: Messager,
    receipts: Receipts,
    composing: Composing,
    sessions: Sessions,
    queue: WorkQueue,
    /// Settings last published by us or adopted from the server.
    current_settings: Option<ServiceSettings>,
    /// Run the publish policy after the next successful registration.
    policy_pending: bool,
    /// Restore the publication and the watch after the next registration.
    restore_pending: bool,
}

impl UserAgent {
    /// A user agent for `cfg`, drawing every tag, branch, Call-ID, cnonce and
    /// instance id from `rng`.
    pub fn new(mut cfg: Config, mut rng: Box<dyn RandomSource>) -> UserAgent {
        if cfg.credentials.as_ref().is_some_and(|c| c.is_aka()) {
            cfg.ims_initial_authorization = true;
        }
        let local = Local::new(&cfg, &mut *rng);
        // A fresh Call-ID per user agent (page load): no (Call-ID, CSeq) pair is
        // ever re-used, however quickly the page is reloaded.
        let reg_call_id = cfg.call_id.clone().unwrap_or_else(|| token(&mut *rng, 22));
        let reg_tag = token(&mut *rng, 10);
        let pub_call_id = token(&mut *rng, 22);
        let pub_tag = token(&mut *rng, 10);
        let watch_call_id = token(&mut *rng, 22);
        let watch_tag = token(&mut *rng, 10);
        let creds = CredentialStore::new(cfg.credentials.take());
        UserAgent {
            next_op: 1,
            armed: None,
            flow: Flow::new(),
            registerer: Registerer::new(reg_call_id, reg_tag, cfg.register_cseq_start, cfg.expires),
            publisher: Publisher::new(pub_call_id, pub_tag, cfg.publish_expires),
            subscriber: Subscriber::new(watch_call_id, watch_tag),
            fetcher: Fetcher::default(),
            messager: Messager::default(),
            receipts: Receipts::default(),
            composing: Composing::default(),
            sessions: Sessions::default(),
            queue: WorkQueue::default(),
            current_settings: None,
            policy_pending: false,
            restore_pending: false,
            cx: Ctx {
                oversize: Vec::new(),
                now: 0,
                cfg,
                local,
                rng,
                out: Vec::new(),
                txs: Transactions::default(),
                creds,
                timers: TimerTable::default(),
                flow: FlowState::Idle,
                unix_offset: 0,
            },
        }
    }

    // ───────────── public API ─────────────

    /// The URL the last [`Output::Connect`] is for: [`Config::server`], or one of
    /// [`Config::alternate_servers`] after a failed connect.
    pub fn server(&self) -> &str {
        self.flow.server(&self.cx.cfg)
    }

    /// The next thing to do, or `None` when there is nothing left.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.cx.out.pop_front()
    }

    /// The `+sip.instance` URN in use: persist it and pass it back as
    /// [`Config::instance_id`], so that a reload replaces the earlier binding.
    pub fn instance_id(&self) -> &str {
        &self.cx.local.instance
    }

    /// The Call-ID of the registration (fresh for each user agent unless
    /// [`Config::call_id`] was given; nothing needs it persisted).
    pub fn registration_call_id(&self) -> &str {
        self.registerer.call_id()
    }

    /// The registration state and the registrar's last answer.
    pub fn registration(&self) -> Registration {
        self.registerer.snapshot()
    }

    /// The AKA sequence number to persist, when AKA keys are used.
    pub fn aka_sqn(&self) -> Option<u64> {
        self.cx.creds.aka_sqn()
    }

    /// Settings last published by this client or adopted from the server.
    pub fn current_settings(&self) -> Option<&ServiceSettings> {
        self.current_settings.as_ref()
    }

    /// Feeds an input at time `now`. A `now` far past the requested wake-up (a
    /// throttled or frozen tab) is fine: every due deadline is handled as of `now`.
    pub fn handle_input(&mut self, now: Millis, input: Input<'_>) {
        self.advance(now);
        if self.cx.is_closed() {
            // Nothing more happens after close(), whatever still arrives.
            return;
        }
        if input == Input::Timeout {
            // The caller's timer is spent: always tell it the next wake-up again, even
            // when unchanged (a timer that fires a little early finds nothing due).
            self.armed = None;
        }
        match input {
            Input::Connected => self.on_connected(),
            Input::Disconnected => self.on_flow_lost(),
            Input::Frame(text) => self.on_frame(text.as_bytes()),
            Input::BinaryFrame(bytes) => self.on_frame(bytes),
            Input::Timeout => {}
        }
        self.run_timers();
        self.arm();
    }

    // ───────────── plumbing ─────────────

    /// Moves the clock forward to `now` (never back; clamped to [`MAX_TIME`]).
    fn advance(&mut self, now: Millis) {
        self.cx.now = self.cx.now.max(now.min(MAX_TIME));
    }

    /// The start of every command: the clock moves to `now`, a new OpId.
    fn begin(&mut self, now: Millis) -> OpId {
        self.advance(now);
        let id = OpId(self.next_op);
        self.next_op += 1;
        id
    }

    /// Completes `op` with `invalid_state` when the client is closed.
    fn refuse_if_closed(&mut self, op: OpId) -> bool {
        let closed = self.cx.is_closed();
        if closed {
            cx!(self).complete(
                op,
                Err(UaError::InvalidState("the client is closed".into())),
            );
        }
        closed
    }

    /// Re-arms the caller's one timer to the earliest deadline in the table.
    fn arm(&mut self) {
        let next = self.cx.timers.next();
        if next != self.armed {
            self.armed = next;
            if let Some(at) = next {
                self.cx.out.push(Output::Timeout(at));
            }
        }
    }

    /// Whether app work may be sent now: connected, and not waiting for a
    /// registration the app asked for.
    fn ready(&self) -> bool {
        self.cx.is_connected() && (!self.registerer.wanted() || self.registerer.is_registered())
    }

    fn submit(&mut self, work: Work) {
        if !self.refuse_if_closed(work.op()) {
            if self.registerer.wanted() && !self.registerer.is_registered() {
                // Waits for the registration, but not for ever.
                let at = self.cx.now + self.cx.cfg.work_wait_timeout;
                self.cx.timers.set(Timer::WorkWait(work.op()), at);
            }
            self.queue.push(work);
            self.flow.want(cx!(self));
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
            self.cx.timers.stop(Timer::WorkWait(work.op()));
            self.start_work(work);
        }
    }

    fn start_work(&mut self, work: Work) {
        match work {
            Work::Publish { body, expires, op } => {
                self.publisher
                    .publish(cx!(self), body, expires, Some(op), false)
            }
            Work::Remove(op) => self.publisher.remove(cx!(self), op),
            Work::Fetch(op) => self.fetcher.fetch(cx!(self), FetchKind::Settings, Some(op)),
            Work::History(query, op) => {
                self.fetcher
                    .fetch(cx!(self), FetchKind::History(query), Some(op))
            }
            Work::Watch(op) => self.subscriber.watch(cx!(self), op),
            Work::Unwatch(op) => self.subscriber.unwatch(cx!(self), op),
            Work::Message(req, op) => Messager::send(cx!(self), *req, Usage::Message(op)),
            Work::DisplayNotice(req, op) => {
                Messager::send(cx!(self), *req, Usage::Notice(Notice::Imdn, Some(op)))
            }
            Work::Invite(session, _) => self.sessions.send_invite(cx!(self), session),
            Work::Bye(session, op) => self.sessions.end(cx!(self), session, op),
        }
    }

    fn run_timers(&mut self) {
        while let Some(timer) = self.cx.timers.pop_expired(self.cx.now) {
            match timer {
                Timer::Transaction(id) => {
                    // Timer F (RFC 3261 §17.1.2.2): no final response in time; or
                    // the request was never sent, too large for a frame.
                    let oversize = self.cx.oversize.iter().position(|(t, _)| *t == id);
                    let err = match oversize.map(|i| self.cx.oversize.swap_remove(i)) {
                        Some((_, len)) => UaError::BadInput(format!(
                            "the request would be {len} bytes: over the {} a WebSocket frame \
                             may carry (RFC 7118 §5.1); shorten what goes in it",
                            self.cx.cfg.max_frame_size
                        )),
                        None => UaError::Timeout,
                    };
                    if let Some(tx) = self.cx.txs.take(id) {
                        self.tx_failed(tx, err);
                    }
                }
                Timer::FetchNotify(id) => {
                    if let Some(result) = self.fetcher.on_failed(cx!(self), id, UaError::Timeout) {
                        self.policy_after_fetch(result);
                    }
                }
                Timer::WorkWait(op) => {
                    if let Some(work) = self.queue.remove(op) {
                        self.drop_work(work, UaError::Timeout);
                    }
                }
                Timer::KeepAlive
                | Timer::PongDeadline
                | Timer::Reconnect
                | Timer::ConnectDeadline => {
                    if self.flow.on_timer(cx!(self), timer) {
                        self.on_flow_lost();
                    }
                }
                Timer::RegisterRefresh | Timer::RegisterRetry => {
                    self.registerer.on_timer(cx!(self), timer)
                }
                Timer::PublishRefresh | Timer::PublishRetry | Timer::PublishExpiry => {
                    self.publisher.on_timer(cx!(self), timer)
                }
                Timer::WatchRefresh | Timer::WatchRetry => {
                    self.subscriber.on_timer(cx!(self), timer)
                }
                Timer::ComposingSend => {
                    let ready = self.ready() && self.registerer.is_registered();
                    for req in self.composing.on_send_timer(cx!(self)) {
                        if ready {
                            Messager::send(cx!(self), req, Usage::Notice(Notice::Composing, None));
                        }
                    }
                }
                Timer::ComposingLapse => self.composing.on_lapse_timer(cx!(self)),
                Timer::AnswerRetransmit(_) | Timer::AckWait(_) => {
                    self.sessions.on_timer(cx!(self), timer)
                }
            }
        }
    }

    // ───────────── flow ─────────────

    fn on_connected(&mut self) {
        if !self.flow.on_connected(cx!(self)) {
            return;
        }
        if self.registerer.wanted() {
            // RFC 5626 §4.2: after a flow is (re)established, register first.
            self.registerer.on_flow_up(cx!(self));
        } else {
            if self.restore_pending {
                self.restore_pending = false;
                self.publisher.restore(cx!(self));
                self.subscriber.restore(cx!(self));
            }
            // Work queued while unregistered (and `unregister` itself).
            self.registerer.pump(cx!(self));
        }
        self.flush_queue();
    }

    /// The socket closed or failed (or the flow was declared dead).
    fn on_flow_lost(&mut self) {
        self.lose_flow(UaError::Transport);
    }

    /// [`on_flow_lost`](Self::on_flow_lost), the registration's retry saying
    /// `cause` (a REGISTER's timeout that showed the flow dead: `timeout`).
    fn lose_flow(&mut self, cause: UaError) {
        if !self.cx.flow_active() {
            return;
        }
        let reconnect = self.registerer.wanted()
            || self.subscriber.wanted()
            || self.publisher.has_publication();
        // The flow is gone before anything fails: nothing may be sent on it while
        // the failures are reported.
        let delay = self.flow.on_lost(cx!(self), reconnect);
        // A connect that failed with another of the core's URLs to try next: what
        // waits for the flow keeps waiting (a transaction needs an open flow: none).
        let trying_others = self.flow.trying_others(&self.cx);
        for tx in self.cx.txs.drain() {
            self.cx.timers.stop(Timer::Transaction(tx.id));
            if let Some(op) = tx.usage.op() {
                cx!(self).complete(op, Err(UaError::Transport));
            }
        }
        self.sessions.on_flow_lost(cx!(self));
        self.registerer
            .on_flow_lost(cx!(self), delay, trying_others, cause);
        self.publisher.on_flow_lost(cx!(self));
        self.subscriber.on_flow_lost(cx!(self));
        for result in self.fetcher.on_flow_lost(cx!(self)) {
            self.policy_after_fetch(result);
        }
        if !trying_others {
            for w in self.queue.drain() {
                self.drop_work(w, UaError::Transport);
            }
        }
        self.restore_pending = true;
    }

    fn on_frame(&mut self, frame: &[u8]) {
        // Any frame proves the flow alive.
        self.flow.on_frame(cx!(self));
        if frame == b"\r\n\r\n" && self.cx.is_connected() {
            // A ping from the server: answer with a pong (RFC 5626 §3.5.1).
            cx!(self).transmit("\r\n".to_owned());
            return;
        }
        if frame.iter().all(|&b| b == b'\r' || b == b'\n') {
            // A pong (CRLF), or a keep-alive from the server: not an error.
            return;
        }
        let max = self.cx.cfg.max_frame_size;
        let parsed = if frame.len() > max {
            // Not parsed: only its header text is read, to answer 513.
            Err(ParseError::Framing(FramingError::TooLarge {
                len: frame.len(),
                max,
            }))
        } else {
            Message::parse(frame)
        };
        match parsed {
            Ok(msg) if msg.is_request() => self.on_request(&msg),
            Ok(msg) => self.on_response(&msg),
            Err(e) => {
                // A request is answered 400/505/513 when its Via, From, To, Call-ID
                // and CSeq can be found (RFC 3261 §8.2, §21.4.1; RFC 4475 §3.1.2).
                let tag = cx!(self).token(10);
                if let Some(answer) = refusal(frame, &e, "imsip", &tag) {
                    cx!(self).transmit(answer);
                }
                cx!(self).emit(Event::Dropped {
                    reason: format!("unparseable frame: {e}"),
                });
            }
        }
    }

    fn on_request(&mut self, msg: &Message) {
        match screen(cx!(self), msg) {
            Some(Incoming::Message) => self.on_message(msg),
            Some(Incoming::Session) => self.on_session_request(msg),
            Some(Incoming::Notify) if self.fetcher.owns(msg) => {
                if let Some(result) = self.fetcher.on_notify(cx!(self), msg) {
                    self.policy_after_fetch(result);
                }
            }
            Some(Incoming::Notify) => match self.subscriber.on_notify(cx!(self), msg) {
                NotifyOutcome::Watch(Some(settings)) => {
                    self.current_settings = Some(settings.clone());
                    cx!(self).emit(Event::ServiceSettings {
                        settings,
                        source: SettingsSource::Notify,
                    });
                }
                // No document: news only when there was one (the first NOTIFY of a
                // watch on a user with no settings says nothing new).
                NotifyOutcome::Watch(None) => {
                    if self.current_settings.take().is_some() {
                        cx!(self).emit(Event::ServiceSettingsRemoved);
                    }
                }
                NotifyOutcome::Unknown | NotifyOutcome::Done => {}
            },
            None => {}
        }
    }

    // ───────────── client transactions ─────────────

    fn on_response(&mut self, msg: &Message) {
        // RFC 3261 §8.1.3.3: a response with more than one Via is discarded.
        let vias = msg.via().map(|v| v.len()).unwrap_or(0);
        let (Ok(cseq), Some(status)) = (msg.cseq(), msg.status()) else {
            cx!(self).emit(Event::Dropped {
                reason: "response without usable CSeq".into(),
            });
            return;
        };
        if vias != 1 {
            cx!(self).emit(Event::Dropped {
                reason: format!("response with {vias} Via header values (RFC 3261 §8.1.3.3)"),
            });
            return;
        }
        let Some(branch) = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
        else {
            return;
        };
        // RFC 3261 §17.1.3: match by the top Via branch and the CSeq method.
        if status < 200 {
            // Provisional: only an INVITE's matters (Timer F keeps running otherwise).
            if let Some(Usage::Invite(s)) = self.cx.txs.usage_of(&branch, &cseq.method) {
                self.sessions.on_provisional(cx!(self), s, msg, status);
            }
            return;
        }
        let Some(tx) = self.cx.txs.take_matching(&branch, &cseq.method) else {
            if cseq.method == Method::Invite && status < 300 {
                self.sessions.on_stray_2xx(cx!(self), msg);
            }
            return; // stray
        };
        self.cx.timers.stop(Timer::Transaction(tx.id));
        if let Usage::Invite(s) = tx.usage {
            return self.on_invite_final(s, tx, msg, status);
        }
        if status == 401 || status == 407 {
            return self.on_challenge(tx, msg, status == 407);
        }
        self.cx.creds.accepted(&tx.carried);
        if (200..300).contains(&status) && !self.registerer.wanted() {
            self.flow.on_success_without_registration();
        }
        match tx.usage {
            Usage::Register => {
                let signal = self.registerer.on_final(cx!(self), msg, status);
                self.on_registration_signal(signal);
            }
            Usage::MacFailureNotice | Usage::Probe => {}
            Usage::Publish => self.publisher.on_final(cx!(self), msg, status),
            Usage::Watch => self.subscriber.on_final(cx!(self), msg, status),
            Usage::Fetch(id) => {
                if let Some(result) = self.fetcher.on_final(cx!(self), id, msg, status) {
                    self.policy_after_fetch(result);
                }
            }
            Usage::Message(op) => self.messager.on_final(cx!(self), op, msg, status),
            Usage::Notice(kind, op) => self.on_notice_final(kind, op, &tx.req.ruri, msg, status),
            Usage::Bye(s) => self.sessions.on_bye_final(cx!(self), s),
            Usage::Invite(_) | Usage::Cancel(_) => {}
        }
    }

    /// A 401/407: answer it (RFC 3261 §22.2) or fail the request.
    fn on_challenge(&mut self, mut tx: ClientTx, msg: &Message, proxy: bool) {
        // A CANCEL is never sent again (it must keep its INVITE's branch).
        if matches!(
            tx.usage,
            Usage::MacFailureNotice | Usage::Probe | Usage::Cancel(_)
        ) {
            return;
        }
        if tx.auth_rounds >= MAX_AUTH_ROUNDS {
            return self.tx_failed(
                tx,
                UaError::AuthFailed {
                    detail: "challenged again after every answer".into(),
                },
            );
        }
        let answered = self.cx.creds.on_challenge(msg, proxy, &tx.carried);
        // RFC 3261 §22.3, §16.7: a forking proxy may send one response with both
        // kinds of challenge (Proxy- and WWW-Authenticate): the other kind is
        // answered too, so the retry carries both (else it is challenged once more).
        // Its failure leaves the retry as it would have been.
        let other = if proxy {
            msg.www_authenticate()
        } else {
            msg.proxy_authenticate()
        };
        if answered.is_ok() && other.is_ok_and(|v| !v.is_empty()) {
            let _ = self.cx.creds.on_challenge(msg, !proxy, &tx.carried);
        }
        match answered {
            Ok(()) => {
                tx.req.cseq = match tx.usage {
                    Usage::Register => self.registerer.next_cseq(),
                    Usage::Publish => self.publisher.next_cseq(),
                    Usage::Watch => self.subscriber.next_cseq(),
                    Usage::Bye(s) => self.sessions.next_cseq(s, tx.req.cseq),
                    _ => tx.req.cseq.saturating_add(1),
                };
                cx!(self).resend(tx);
            }
            Err(e) => {
                if e == AuthError::NetworkAuthFailed && tx.usage == Usage::Register {
                    let uri = self.cx.local.registrar.as_str().to_owned();
                    if let Some(a) = self.cx.creds.mac_failure_authorization(msg, &uri) {
                        self.registerer.send_mac_failure_notice(cx!(self), a);
                    }
                }
                self.tx_failed(tx, UaError::from_auth(e));
            }
        }
    }

    /// A transaction ended without a usable final response.
    fn tx_failed(&mut self, tx: ClientTx, err: UaError) {
        match tx.usage {
            Usage::Register => {
                // No answer from the registrar within Timer F on a connection that is
                // still up: a half-open socket (the core or a middlebox gone, the TCP
                // left standing). Without outbound's pongs nothing else would notice,
                // and every retry would time out on it for ever: the flow is closed
                // and recovered (RFC 5626 §4.4's failure, detected by the REGISTER).
                let dead_flow = err == UaError::Timeout && self.cx.flow == FlowState::Connected;
                let signal = self.registerer.on_failed(cx!(self), err);
                self.on_registration_signal(signal);
                if dead_flow && self.cx.flow == FlowState::Connected {
                    self.cx.out.push(Output::Close);
                    self.lose_flow(UaError::Timeout);
                }
            }
            Usage::MacFailureNotice | Usage::Probe => {}
            Usage::Publish => self.publisher.on_failed(cx!(self), err),
            Usage::Watch => self.subscriber.on_failed(cx!(self), err),
            Usage::Fetch(id) => {
                if let Some(result) = self.fetcher.on_failed(cx!(self), id, err) {
                    self.policy_after_fetch(result);
                }
            }
            Usage::Message(op) | Usage::Notice(_, Some(op)) => cx!(self).complete(op, Err(err)),
            Usage::Notice(_, None) => {}
            Usage::Invite(_) | Usage::Cancel(_) | Usage::Bye(_) => {
                self.sessions.on_failed(cx!(self), tx.usage, err)
            }
        }
    }

    // ───────────── recovery order and the publish policy ─────────────

    fn on_registration_signal(&mut self, signal: RegSignal) {
        match signal {
            RegSignal::Nothing => {}
            RegSignal::Registered {
                outbound,
                flow_timer,
            } => {
                self.flow.on_registered(cx!(self), outbound, flow_timer);
                // RFC 5626 §4.2: the registration first, then publication and
                // watch, then queued work.
                if self.restore_pending {
                    self.restore_pending = false;
                    self.publisher.restore(cx!(self));
                    self.subscriber.restore(cx!(self));
                }
                if self.policy_pending {
                    self.policy_pending = false;
                    self.run_policy();
                }
                self.flush_queue();
            }
            RegSignal::Failed => {
                self.policy_pending = false;
                // Work queued behind the registration goes now: the core decides.
                self.flush_queue();
            }
        }
    }

    fn run_policy(&mut self) {
        match self.cx.cfg.publish_policy {
            PublishPolicy::Never => {}
            PublishPolicy::Always => self.publish_configured(),
            PublishPolicy::IfAbsent => self.fetcher.fetch(cx!(self), FetchKind::Settings, None),
        }
    }

    fn publish_configured(&mut self) {
        match self.cx.cfg.service_settings.clone() {
            Some(s) => {
                let body = s.encode();
                self.current_settings = Some(s);
                let expires = self.cx.cfg.publish_expires;
                self.publisher.publish(cx!(self), body, expires, None, true);
            }
            None => cx!(self).emit(Event::Policy(PolicyOutcome::NothingToPublish)),
        }
    }

    /// The `if-absent` policy (seed step 5): adopt the server's settings when it
    /// has some; otherwise publish ours.
    fn policy_after_fetch(&mut self, result: Result<Option<ServiceSettings>, UaError>) {
        match result {
            Ok(Some(server)) if !server.entities.is_empty() => {
                self.current_settings = Some(server.clone());
                cx!(self).emit(Event::ServiceSettings {
                    settings: server,
                    source: SettingsSource::Adopted,
                });
                cx!(self).emit(Event::Policy(PolicyOutcome::Adopted));
            }
            Ok(_) => self.publish_configured(),
            Err(e) => cx!(self).emit(Event::Policy(PolicyOutcome::Failed(e))),
        }
    }
}
