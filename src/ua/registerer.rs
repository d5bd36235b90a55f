//! The Registerer: our one binding at the registrar (RFC 3261 §10, RFC 5626 §4.2).
//!
//! ```text
//!                 register()                 2xx
//!  Unregistered ─────────────► Registering ───────────► Registered ◄──┐ refresh 2xx
//!     ▲   ▲                     │    │  ▲                │  │  └──────┘
//!     │   │        408/480/5xx/ │    │  │ register()     │  │ refresh: 408/480/500/503/504,
//!     │   │   no answer/flow    │    │  │                │  │ no answer, flow lost, a 2xx
//!     │   │   lost/2xx unbound  ▼    │  │                │  ▼ without our binding
//!     │   │                   Retrying ◄─────────────────┘ Retrying ──2xx──► Registered
//!     │   │                     │  (retry timer: REGISTER again; backoff as the flow's)
//!     │   │ 401/403 refusal,    ▼
//!     │   └──── unregister() ─ Failed ◄── 404, other 4xx/6xx, credentials refused
//!     │                                    (from Registering, Registered or Retrying)
//!     └── 2xx/any answer ── Unregistering ◄── unregister() (from Registering, Registered, Retrying,
//!                                          or Failed with a REGISTER still in flight)
//! ```
//! [`Registerer::transition`] refuses any other change. Refreshes happen in
//! `Registered` (the binding stays valid meanwhile) at a random point between 50 %
//! and 85 % of the granted expiry. One REGISTER is in flight at a time; jobs asked
//! for meanwhile wait and are coalesced.

use super::api::{Event, Millis, OpId, Outcome, Registration, RegistrationState};
use super::context::{is_transient, rejected, texts, Ctx, ALLOW, SUPPORTED};
use super::error::UaError;
use super::timers::Timer;
use super::transaction::{Req, Usage};
use super::work::take_jobs;
use super::work::Fifo;
use crate::message::{Contact, HeaderName, Message, Method, Uri};

/// What the registrar said in its last 2xx.
#[derive(Debug, Clone, Default)]
struct RegistrarAnswer {
    expires: Option<u32>,
    contacts: Vec<String>,
    service_route: Vec<String>,
    associated_uris: Vec<String>,
    pub_gruu: Option<String>,
}

#[derive(Debug)]
struct RegJob {
    unregister: bool,
    ops: Vec<OpId>,
}

/// What the agent must do after a Registerer step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RegSignal {
    Nothing,
    /// A REGISTER succeeded: `outbound` negotiated, `flow_timer` seconds.
    Registered {
        outbound: bool,
        flow_timer: Option<u32>,
    },
    /// Failed for good: work waiting for the registration may go now.
    Failed,
}

#[derive(Debug)]
pub(super) struct Registerer {
    state: RegistrationState,
    /// The app wants to be registered (re-register after a loss, refresh).
    wanted: bool,
    call_id: String,
    from_tag: String,
    cseq: u32,
    /// Requested expiry (s); raised by 423.
    expires: u32,
    answer: RegistrarAnswer,
    error: Option<UaError>,
    retry_in: Option<Millis>,
    /// No REGISTER before this time: a Retry-After still running (RFC 3261 §20.33),
    /// also when the flow dropped meanwhile and came back sooner.
    not_before: Millis,
    in_flight: Option<RegJob>,
    queued: Vec<RegJob>,
    /// Consecutive failed attempts (sets the retry backoff).
    failures: u32,
    /// A 500 already made us switch to a fresh Call-ID.
    fresh_call_id_tried: bool,
    /// When the binding expires at the registrar, as of the last 2xx.
    bound_until: Option<Millis>,
}

impl Registerer {
    pub fn new(call_id: String, from_tag: String, cseq_start: u32, expires: u32) -> Registerer {
        Registerer {
            state: RegistrationState::Unregistered,
            wanted: false,
            call_id,
            from_tag,
            // Room for 2^28 REGISTERs below the RFC 3261 §8.1.1.5 limit of 2^31.
            cseq: cseq_start.min(0x7000_0000),
            expires,
            answer: RegistrarAnswer::default(),
            error: None,
            retry_in: None,
            not_before: 0,
            in_flight: None,
            queued: Vec::new(),
            failures: 0,
            fresh_call_id_tried: false,
            bound_until: None,
        }
    }

    /// Refreshes now when registered and the binding expires within `margin`
    /// ms (or has expired: a frozen or throttled page whose timers did not run).
    pub fn refresh_if_near(&mut self, cx: &mut Ctx, margin: Millis) {
        let near = self
            .bound_until
            .is_some_and(|t| t <= cx.now.saturating_add(margin));
        if self.wanted && self.state == RegistrationState::Registered && near {
            cx.timers.set(Timer::RegisterRefresh, cx.now);
        }
    }

    pub fn state(&self) -> RegistrationState {
        self.state
    }

    pub fn wanted(&self) -> bool {
        self.wanted
    }

    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    pub fn is_registered(&self) -> bool {
        self.state == RegistrationState::Registered
    }

    /// The registration as the app sees it.
    pub fn snapshot(&self) -> Registration {
        Registration {
            state: self.state,
            expires: self.answer.expires,
            contacts: self.answer.contacts.clone(),
            service_route: self.answer.service_route.clone(),
            associated_uris: self.answer.associated_uris.clone(),
            pub_gruu: self.answer.pub_gruu.clone(),
            error: self.error.clone(),
            retry_in: self.retry_in,
        }
    }

    /// The one place the state changes. Returns false (and changes nothing) for a
    /// transition the drawing above does not have.
    fn transition(&mut self, to: RegistrationState) -> bool {
        use RegistrationState::*;
        let legal = matches!(
            (self.state, to),
            (_, Unregistered)
                | (Unregistered | Failed | Unregistering, Registering)
                | (
                    Registering | Registered | Retrying,
                    Registered | Retrying | Failed
                )
                | (Registering | Registered | Retrying | Failed, Unregistering)
        );
        debug_assert!(legal, "registration: {:?} → {:?}", self.state, to);
        if legal {
            self.state = to;
            if to != Retrying {
                self.retry_in = None;
            }
            if matches!(to, Registering | Registered | Unregistering | Unregistered) {
                self.error = None;
            }
        }
        legal
    }

    fn announce(&self, cx: &mut Ctx) {
        cx.emit(Event::Registration(self.snapshot()));
    }

    /// `register()`: register, or refresh now when registered.
    pub fn register(&mut self, cx: &mut Ctx, op: OpId) {
        self.wanted = true;
        if matches!(
            self.state,
            RegistrationState::Unregistered
                | RegistrationState::Failed
                | RegistrationState::Unregistering
        ) && self.transition(RegistrationState::Registering)
        {
            self.announce(cx);
        }
        cx.timers.stop(Timer::RegisterRetry);
        self.queue(false, Some(op));
        self.pump(cx);
    }

    /// `unregister()`. Returns false when there was nothing to unregister (the op
    /// is then complete).
    pub fn unregister(&mut self, cx: &mut Ctx, op: OpId) {
        let bound = matches!(
            self.state,
            RegistrationState::Registering
                | RegistrationState::Registered
                | RegistrationState::Retrying
                | RegistrationState::Unregistering
        ) || self.in_flight.is_some();
        self.wanted = false;
        cx.timers.stop(Timer::RegisterRefresh);
        cx.timers.stop(Timer::RegisterRetry);
        // Register jobs still waiting are overtaken by this unregister.
        for job in std::mem::take(&mut self.queued) {
            if job.unregister {
                self.queued.push(job);
            } else {
                for op in job.ops {
                    cx.complete(
                        op,
                        Err(UaError::InvalidState("unregister() was called".into())),
                    );
                }
            }
        }
        if !bound {
            if self.state == RegistrationState::Failed
                && self.transition(RegistrationState::Unregistered)
            {
                self.announce(cx);
            }
            cx.complete(op, Ok(Outcome::Unregistered));
            return;
        }
        if matches!(
            self.state,
            RegistrationState::Registering
                | RegistrationState::Registered
                | RegistrationState::Retrying
                | RegistrationState::Failed
        ) && self.transition(RegistrationState::Unregistering)
        {
            self.announce(cx);
        }
        self.queue(true, Some(op));
        self.pump(cx);
    }

    fn queue(&mut self, unregister: bool, op: Option<OpId>) {
        // Coalesce with a waiting job of the same kind.
        if let Some(job) = self.queued.iter_mut().find(|j| j.unregister == unregister) {
            job.ops.extend(op);
        } else {
            self.queued.push(RegJob {
                unregister,
                ops: op.into_iter().collect(),
            });
        }
    }

    /// Sends the next waiting job when the flow is up and nothing is in flight.
    pub fn pump(&mut self, cx: &mut Ctx) {
        if !cx.is_connected() || self.in_flight.is_some() {
            return;
        }
        let Some(job) = self.queued.pop_front() else {
            return;
        };
        self.send(cx, job);
    }

    fn request(&mut self, cx: &mut Ctx, unregister: bool) -> Req {
        self.cseq += 1;
        let expires = if unregister { 0 } else { self.expires };
        let contact = format!(
            "<{}>;+g.oma.sip-im;+sip.instance=\"{}\";reg-id=1{}",
            cx.local.contact_uri,
            angle(&cx.local.instance),
            if unregister { ";expires=0" } else { "" }
        );
        Req {
            method: Method::Register,
            ruri: cx.local.registrar.clone(),
            from: cx.own_from(&self.from_tag),
            to: format!("<{}>", cx.cfg.aor),
            call_id: self.call_id.clone(),
            cseq: self.cseq,
            route: Vec::new(),
            headers: vec![
                (HeaderName::Contact, contact),
                (HeaderName::Expires, expires.to_string()),
                (HeaderName::Supported, SUPPORTED.into()),
                (HeaderName::Allow, ALLOW.into()),
                (HeaderName::PPreferredIdentity, cx.identity()),
            ],
            body: None,
        }
    }

    fn send(&mut self, cx: &mut Ctx, job: RegJob) {
        let req = self.request(cx, job.unregister);
        self.in_flight = Some(job);
        cx.send(req, Usage::Register);
    }

    /// After an AKA MAC failure: one REGISTER whose Authorization has an empty
    /// response and no `auts` tells the network (TS 24.229 §5.1.1.5.2). Its answer
    /// changes nothing.
    pub fn send_mac_failure_notice(&mut self, cx: &mut Ctx, authorization: String) {
        let mut req = self.request(cx, false);
        req.headers.push((HeaderName::Authorization, authorization));
        cx.send(req, Usage::MacFailureNotice);
    }

    /// The CSeq for sending the REGISTER again after a challenge.
    pub fn next_cseq(&mut self) -> u32 {
        self.cseq += 1;
        self.cseq
    }

    /// The flow is (re)established: register first (RFC 5626 §4.2).
    pub fn on_flow_up(&mut self, cx: &mut Ctx) {
        if self.wanted && cx.now < self.not_before {
            // The core asked for time (Retry-After) and then closed the flow: the
            // reconnect's backoff must not cut that short.
            cx.timers.set(Timer::RegisterRetry, self.not_before);
            return;
        }
        if self.wanted && !self.queued.iter().any(|j| !j.unregister) {
            self.queue(false, None);
        }
        self.pump(cx);
    }

    /// The flow is gone: the REGISTER in flight and waiting jobs fail with
    /// `transport` (unless `keep_ops`: the flow failed before it registered and
    /// another of the core's URLs comes next — then the REGISTER in flight is sent
    /// again there); a wanted registration is retried once the flow is back, and
    /// says `cause`.
    pub fn on_flow_lost(
        &mut self,
        cx: &mut Ctx,
        reconnect_in: Option<Millis>,
        keep_ops: bool,
        cause: UaError,
    ) {
        cx.timers.stop(Timer::RegisterRefresh);
        cx.timers.stop(Timer::RegisterRetry);
        if !keep_ops {
            self.fail_all(cx, &UaError::Transport);
        } else if let Some(job) = self.in_flight.take() {
            // The REGISTER went with the flow (one lost before it registered, and
            // another URL comes next): it is sent again there, its ops still waiting.
            self.queued.push_front(job);
        }
        let before = self.state;
        let reconnect_in = reconnect_in.map(|r| r.max(self.not_before.saturating_sub(cx.now)));
        if self.wanted {
            if before != RegistrationState::Retrying || self.retry_in != reconnect_in {
                self.transition(RegistrationState::Retrying);
                self.error = Some(cause);
                self.retry_in = reconnect_in;
                self.announce(cx);
            }
        } else if matches!(
            before,
            RegistrationState::Registering
                | RegistrationState::Registered
                | RegistrationState::Retrying
                | RegistrationState::Unregistering
        ) {
            self.transition(RegistrationState::Unregistered);
            self.error = Some(cause);
            self.announce(cx);
        }
    }

    pub fn on_timer(&mut self, cx: &mut Ctx, timer: Timer) {
        if matches!(timer, Timer::RegisterRefresh | Timer::RegisterRetry)
            && self.wanted
            && !self.queued.iter().any(|j| !j.unregister)
        {
            self.queue(false, None);
            self.pump(cx);
        }
    }

    /// A final response to our REGISTER (401/407 were handled by the agent).
    pub fn on_final(&mut self, cx: &mut Ctx, msg: &Message, status: u16) -> RegSignal {
        let Some(job) = self.in_flight.take() else {
            return RegSignal::Nothing;
        };
        let signal = if (200..300).contains(&status) {
            if job.unregister {
                self.unregistered(cx, job.ops);
                RegSignal::Nothing
            } else {
                self.registered(cx, msg, job)
            }
        } else if status == 423 {
            // RFC 3261 §10.2.8: retry with the registrar's minimum.
            match msg.min_expires().ok().flatten() {
                Some(min) if min > self.expires && !job.unregister => {
                    self.expires = min;
                    self.send(cx, job);
                    return RegSignal::Nothing;
                }
                _ => self.failed(cx, job, rejected(msg, status)),
            }
        } else if status == 500
            && !job.unregister
            && !self.fresh_call_id_tried
            && self.answer.expires.is_none()
            && msg.retry_after().ok().flatten().is_none()
        {
            // RFC 3261 §10.3 step 7: a registrar holding a binding of an earlier page
            // load (same instance, same persisted Call-ID, a higher CSeq) answers
            // 500. A fresh Call-ID replaces that binding (the CSeq check applies to
            // one Call-ID only); tried once, at once. A 500 with Retry-After is a
            // server asking for time (§20.33): retried after it, like a 503.
            self.fresh_call_id_tried = true;
            self.call_id = cx.token(22);
            self.cseq = 0;
            self.send(cx, job);
            return RegSignal::Nothing;
        } else {
            self.failed(cx, job, rejected(msg, status))
        };
        self.pump(cx);
        signal
    }

    /// The REGISTER in flight failed without a usable answer (Timer F, refused
    /// credentials).
    pub fn on_failed(&mut self, cx: &mut Ctx, err: UaError) -> RegSignal {
        let Some(job) = self.in_flight.take() else {
            return RegSignal::Nothing;
        };
        let signal = self.failed(cx, job, err);
        self.pump(cx);
        signal
    }

    fn unregistered(&mut self, cx: &mut Ctx, ops: Vec<OpId>) {
        cx.local.service_route.clear();
        cx.local.pub_gruu = None;
        cx.local.outbound = false;
        self.answer = RegistrarAnswer {
            expires: Some(0),
            ..RegistrarAnswer::default()
        };
        if !self.wanted {
            self.transition(RegistrationState::Unregistered);
            self.announce(cx);
        }
        for op in ops {
            cx.complete(op, Ok(Outcome::Unregistered));
        }
    }

    fn registered(&mut self, cx: &mut Ctx, msg: &Message, job: RegJob) -> RegSignal {
        let contacts = msg.contact_list().unwrap_or_default();
        let own_user = Uri::parse(&cx.local.contact_uri)
            .ok()
            .and_then(|u| u.user().map(str::to_owned));
        let ours = own_contact(&contacts, cx, own_user.as_deref());
        let granted = ours
            .and_then(|c| c.expires())
            .or_else(|| msg.expires().ok().flatten())
            .unwrap_or(self.expires);
        // RFC 3261 §10.2.4, §10.3 step 8: the 2xx lists every current binding with
        // its expiry. Ours missing, or given 0 s, means we are not registered,
        // whatever the status says: a typed error, and retried with backoff (the
        // registrar may have raced another device's unregister).
        let unbound = if ours.is_none() {
            Some("the registrar's 2xx does not list our Contact (RFC 3261 §10.3)")
        } else if granted == 0 {
            Some("the registrar's 2xx gives our Contact 0 s: it is not bound")
        } else {
            None
        };
        if let Some(why) = unbound.filter(|_| self.wanted) {
            return self.failed_as(cx, job, UaError::BadResponse(why.into()), true);
        }
        let ops = job.ops;
        let service_route = msg.service_route().unwrap_or_default();
        let outbound = msg
            .require()
            .unwrap_or_default()
            .iter()
            .any(|t| t.eq_ignore_ascii_case("outbound"));
        let flow_timer = msg
            .header("Flow-Timer")
            .and_then(|v| v.trim().parse::<u32>().ok());
        self.answer = RegistrarAnswer {
            expires: Some(granted),
            contacts: texts(&contacts, false),
            service_route: texts(&service_route, true),
            associated_uris: texts(&msg.p_associated_uri().unwrap_or_default(), true),
            pub_gruu: ours.and_then(|c| c.pub_gruu()).map(str::to_owned),
        };
        if !self.wanted {
            // An unregister was asked for meanwhile: it follows at once.
            let snapshot = self.snapshot();
            for op in ops {
                cx.complete(op, Ok(Outcome::Registered(snapshot.clone())));
            }
            return RegSignal::Nothing;
        }
        cx.local.service_route = service_route
            .iter()
            .map(|r| format!("<{}>", r.uri))
            .collect();
        cx.local.pub_gruu = self.answer.pub_gruu.clone();
        cx.local.outbound = outbound;
        self.failures = 0;
        self.not_before = 0;
        let changed = self.state != RegistrationState::Registered;
        self.transition(RegistrationState::Registered);
        self.bound_until = Some(cx.now + granted as Millis * 1000);
        // Refresh at a random point between 50 % and 85 % of the granted expiry.
        if granted > 0 {
            let f = 0.5 + 0.35 * cx.fraction();
            let at = cx.now + (granted as f64 * 1000.0 * f) as Millis;
            cx.timers.set(Timer::RegisterRefresh, at);
        }
        let snapshot = self.snapshot();
        if changed || !ops.is_empty() {
            self.announce(cx);
        }
        for op in ops {
            cx.complete(op, Ok(Outcome::Registered(snapshot.clone())));
        }
        RegSignal::Registered {
            outbound,
            flow_timer,
        }
    }

    fn failed(&mut self, cx: &mut Ctx, job: RegJob, err: UaError) -> RegSignal {
        let transient = is_transient(&err);
        self.failed_as(cx, job, err, transient)
    }

    /// [`failed`](Self::failed), retried later when `transient`.
    fn failed_as(&mut self, cx: &mut Ctx, job: RegJob, err: UaError, transient: bool) -> RegSignal {
        for op in job.ops {
            cx.complete(op, Err(err.clone()));
        }
        if job.unregister {
            // Not wanted any more whatever the answer: the binding expires by itself.
            if !self.wanted && self.state == RegistrationState::Unregistering {
                self.transition(RegistrationState::Unregistered);
                self.error = Some(err);
                self.announce(cx);
            }
            return RegSignal::Nothing;
        }
        if !self.wanted {
            return RegSignal::Nothing;
        }
        if transient {
            let delay = cx.retry_delay(&err, self.failures);
            if matches!(
                err,
                UaError::Rejected {
                    retry_after: Some(_),
                    ..
                }
            ) {
                self.not_before = cx.now + delay;
            }
            self.failures = self.failures.saturating_add(1);
            cx.timers.stop(Timer::RegisterRefresh);
            cx.timers.set(Timer::RegisterRetry, cx.now + delay);
            self.transition(RegistrationState::Retrying);
            self.error = Some(err);
            self.retry_in = Some(delay);
            self.announce(cx);
            RegSignal::Nothing
        } else {
            // Never loop on refused credentials or a final refusal.
            self.wanted = false;
            cx.timers.stop(Timer::RegisterRefresh);
            cx.timers.stop(Timer::RegisterRetry);
            self.transition(RegistrationState::Failed);
            self.error = Some(err);
            self.announce(cx);
            RegSignal::Failed
        }
    }

    /// The client is closed: every job fails with `err`.
    pub fn close(&mut self, cx: &mut Ctx, err: &UaError) {
        self.wanted = false;
        self.fail_all(cx, err);
        // Nothing keeps a registration up any more: the state says so (a binding
        // left at the registrar lapses at its expiry), and so does an event.
        self.answer = RegistrarAnswer::default();
        self.bound_until = None;
        if self.state != RegistrationState::Unregistered
            && self.transition(RegistrationState::Unregistered)
        {
            self.announce(cx);
        }
    }

    /// Every job, in flight or waiting, fails with `err`.
    fn fail_all(&mut self, cx: &mut Ctx, err: &UaError) {
        for job in take_jobs(&mut self.in_flight, &mut self.queued) {
            for op in job.ops {
                cx.complete(op, Err(err.clone()));
            }
        }
    }
}

fn angle(instance: &str) -> String {
    if instance.starts_with('<') {
        instance.to_owned()
    } else {
        format!("<{instance}>")
    }
}

/// Which of the 200's Contacts is the binding we registered (RFC 3261 §10.2.4:
/// its `expires` is what we were granted), by the closest match first: the URI
/// exactly as we sent it; then our instance (RFC 5626 §4.2); then our user part
/// (a registrar that rewrote the Contact). A registrar may list bindings of our
/// earlier connections too — the same instance and reg-id under another URI
/// (Kamailio's `set_contact_alias` without outbound) — so where a rule matches
/// several, the shortest expiry is taken (one listed with 0, a binding being
/// removed, only when nothing else matches): refreshing early is harmless,
/// refreshing late loses the registration.
fn own_contact<'c>(
    contacts: &'c [Contact],
    cx: &Ctx,
    own_user: Option<&str>,
) -> Option<&'c Contact> {
    let instance = crate::message::text::trim_set(&cx.local.instance, b"<>");
    let rules: [&dyn Fn(&Contact) -> bool; 3] = [
        &|c| c.uri.as_str() == cx.local.contact_uri,
        &|c| {
            c.instance()
                .is_some_and(|i| crate::message::text::trim_set(i, b"<>") == instance)
        },
        &|c| own_user.is_some() && c.uri.user() == own_user,
    ];
    for rule in rules {
        // A binding listed with expires=0 is one being removed: last resort.
        let rank = |c: &Contact| match c.expires() {
            Some(0) => u64::MAX,
            Some(e) => u64::from(e),
            None => u64::MAX - 1,
        };
        let mut best: Option<&Contact> = None;
        for c in contacts.iter().filter(|c| rule(c)) {
            if best.is_none_or(|b| rank(c) < rank(b)) {
                best = Some(c);
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}
