//! The Publisher: our service-settings publication (RFC 3903).
//!
//! ```text
//!              publish 2xx                      refresh 2xx (quiet)
//!  (none) ───────────────────► Published ◄──────────────────────┐
//!    ▲  ▲                        │   │  └───────────────────────┘
//!    │  │ remove 2xx             │   │ refresh: 408/480/5xx, Retry-After, no answer
//!    │  └──────── Removed ◄──────┘   ▼
//!    │                          Retrying ──2xx──► Published
//!    │                               │ 412: initial PUBLISH with the last document
//!    └──────── Lost ◄────────────────┘ the entity expired first, or a final refusal
//! ```
//! Refreshes go at 80 % of the granted expiry (RFC 3903 §4.3, no body, SIP-If-Match).
//! A failed refresh is retried with backoff (Retry-After honoured) until the entity
//! would expire at the server; only then is it `Lost`, and the app is told. A remove
//! in flight when the flow drops stays a remove: it is sent again once the flow is
//! back, never turned into a refresh. One PUBLISH is in flight at a time.

use super::api::{Event, Millis, OpId, Outcome, PolicyOutcome, Publication, PublicationState};
use super::context::{is_transient, rejected, Ctx};
use super::error::UaError;
use super::timers::Timer;
use super::transaction::{Req, Usage};
use super::work::take_jobs;
use super::work::Fifo;
use crate::message::{HeaderName, Message, Method};
use crate::settings::SERVICE_SETTINGS_CONTENT_TYPE;

pub(super) const SERVICE_SETTINGS: &str = "service-settings";

#[derive(Debug, Clone)]
enum PubJob {
    /// Initial or modifying PUBLISH with a body. `op`: the app's; `policy`: the
    /// publish policy's.
    Publish {
        body: String,
        expires: u32,
        op: Option<OpId>,
        policy: bool,
    },
    /// Refresh: no body, SIP-If-Match (RFC 3903 §4.3).
    Refresh,
    /// Expires 0 + SIP-If-Match (RFC 3903 §4.5).
    Remove(Option<OpId>),
}

#[derive(Debug)]
pub(super) struct Publisher {
    call_id: String,
    from_tag: String,
    cseq: u32,
    etag: Option<String>,
    /// The last document the server accepted (for 412 recovery).
    body: Option<String>,
    /// Granted expiry (s).
    expires: u32,
    state: Option<PublicationState>,
    last_error: Option<UaError>,
    in_flight: Option<PubJob>,
    queued: Vec<PubJob>,
    /// A 412 restarted a job: a second 412 cannot loop.
    restarted: bool,
    failures: u32,
    /// The app asked to remove; survives a lost flow.
    removing: bool,
}

impl Publisher {
    pub fn new(call_id: String, from_tag: String, expires: u32) -> Publisher {
        Publisher {
            call_id,
            from_tag,
            cseq: 0,
            etag: None,
            body: None,
            expires,
            state: None,
            last_error: None,
            in_flight: None,
            queued: Vec::new(),
            restarted: false,
            failures: 0,
            removing: false,
        }
    }

    /// Whether the server holds (or may hold) our publication.
    pub fn has_publication(&self) -> bool {
        self.etag.is_some()
    }

    pub fn publish(
        &mut self,
        cx: &mut Ctx,
        body: String,
        expires: u32,
        op: Option<OpId>,
        policy: bool,
    ) {
        self.removing = false;
        self.queued.push(PubJob::Publish {
            body,
            expires,
            op,
            policy,
        });
        self.pump(cx);
    }

    pub fn remove(&mut self, cx: &mut Ctx, op: OpId) {
        if self.etag.is_none() && self.in_flight.is_none() && self.queued.is_empty() {
            cx.complete(
                op,
                Err(UaError::InvalidState(
                    "nothing published by this client".into(),
                )),
            );
            return;
        }
        self.removing = true;
        self.queued.push(PubJob::Remove(Some(op)));
        self.pump(cx);
    }

    /// After the flow came back and the registration with it: a remove asked for
    /// before goes again; otherwise the publication is refreshed.
    pub fn restore(&mut self, cx: &mut Ctx) {
        if self.etag.is_none() {
            return;
        }
        let job = if self.removing {
            PubJob::Remove(None)
        } else {
            PubJob::Refresh
        };
        let already = self
            .queued
            .iter()
            .any(|j| matches!(j, PubJob::Refresh | PubJob::Remove(_)));
        if !already {
            self.queued.push(job);
        }
        self.pump(cx);
    }

    pub fn pump(&mut self, cx: &mut Ctx) {
        if self.in_flight.is_some() || !cx.is_connected() {
            return;
        }
        while let Some(job) = self.queued.pop_front() {
            if self.send(cx, job) {
                return;
            }
        }
    }

    /// Sends `job`; false when there was nothing to send.
    fn send(&mut self, cx: &mut Ctx, job: PubJob) -> bool {
        let mut headers = vec![
            (HeaderName::Event, SERVICE_SETTINGS.to_owned()),
            (
                HeaderName::AcceptContact,
                "*;+g.oma.sip-im;require;explicit".to_owned(),
            ),
            (HeaderName::PPreferredIdentity, cx.identity()),
        ];
        let mut body = None;
        match &job {
            PubJob::Publish {
                body: b, expires, ..
            } => {
                if let Some(etag) = &self.etag {
                    headers.push((HeaderName::SipIfMatch, etag.clone()));
                }
                headers.push((HeaderName::Expires, expires.to_string()));
                body = Some((
                    SERVICE_SETTINGS_CONTENT_TYPE.to_owned(),
                    b.clone().into_bytes(),
                ));
            }
            PubJob::Refresh => {
                let Some(etag) = self.etag.clone() else {
                    return false;
                };
                headers.push((HeaderName::SipIfMatch, etag));
                headers.push((HeaderName::Expires, self.expires.to_string()));
            }
            PubJob::Remove(op) => {
                let Some(etag) = self.etag.clone() else {
                    // Removed meanwhile (or never published): nothing left to do.
                    self.removing = false;
                    if let Some(op) = op {
                        cx.complete(*op, Ok(Outcome::Removed));
                    }
                    return false;
                };
                headers.push((HeaderName::SipIfMatch, etag));
                headers.push((HeaderName::Expires, "0".into()));
            }
        }
        self.cseq += 1;
        let req = Req {
            method: Method::Publish,
            ruri: cx.cfg.aor.clone(),
            from: cx.own_from(&self.from_tag),
            to: format!("<{}>", cx.cfg.aor),
            call_id: self.call_id.clone(),
            cseq: self.cseq,
            route: cx.local.service_route.clone(),
            headers,
            body,
        };
        self.in_flight = Some(job);
        cx.send(req, Usage::Publish);
        true
    }

    pub fn next_cseq(&mut self) -> u32 {
        self.cseq += 1;
        self.cseq
    }

    fn set_state(&mut self, cx: &mut Ctx, state: PublicationState, retry_in: Option<Millis>) {
        self.state = Some(state);
        let published = state == PublicationState::Published;
        cx.emit(Event::Publication(Publication {
            state,
            etag: self.etag.clone().filter(|_| published),
            expires: published.then_some(self.expires),
            retry_in,
            error: if published {
                None
            } else {
                self.last_error.clone()
            },
        }));
    }

    /// Our entity is gone at the server (a remove's 200, or its 412).
    fn removed(&mut self, cx: &mut Ctx, op: Option<OpId>) {
        self.forget(cx);
        self.removing = false;
        self.set_state(cx, PublicationState::Removed, None);
        if let Some(op) = op {
            cx.complete(op, Ok(Outcome::Removed));
        }
    }

    pub fn on_final(&mut self, cx: &mut Ctx, msg: &Message, status: u16) {
        let Some(job) = self.in_flight.take() else {
            return;
        };
        if (200..300).contains(&status) {
            self.restarted = false;
            self.failures = 0;
            self.last_error = None;
            if let PubJob::Remove(op) = job {
                self.removed(cx, op);
            } else {
                let Some(etag) = msg.sip_etag().ok().flatten() else {
                    self.job_failed(
                        cx,
                        job,
                        UaError::BadResponse("2xx to PUBLISH without SIP-ETag".into()),
                    );
                    return self.pump(cx);
                };
                let expires = msg.expires().ok().flatten().unwrap_or(self.expires);
                self.etag = Some(etag.clone());
                self.expires = expires;
                cx.timers.stop(Timer::PublishRetry);
                if expires > 0 {
                    // RFC 3903 §4.3: refresh before the publication expires.
                    cx.timers
                        .set(Timer::PublishRefresh, cx.now + expires as Millis * 800);
                    cx.timers
                        .set(Timer::PublishExpiry, cx.now + expires as Millis * 1000);
                }
                let quiet_refresh = matches!(job, PubJob::Refresh)
                    && self.state == Some(PublicationState::Published);
                if let PubJob::Publish {
                    body, op, policy, ..
                } = job
                {
                    self.body = Some(body);
                    if let Some(op) = op {
                        cx.complete(
                            op,
                            Ok(Outcome::Published {
                                etag: etag.clone(),
                                expires,
                            }),
                        );
                    }
                    if policy {
                        cx.emit(Event::Policy(PolicyOutcome::Published { etag }));
                    }
                }
                if !quiet_refresh {
                    self.set_state(cx, PublicationState::Published, None);
                }
            }
        } else if let (412, PubJob::Remove(op)) = (status, &job) {
            // RFC 3903 §4.3: the server knows no such entity: what a remove
            // wanted, the same outcome and event as its 200.
            let op = *op;
            self.restarted = false;
            self.failures = 0;
            self.last_error = None;
            self.removed(cx, op);
        } else if status == 412 && !self.restarted {
            // RFC 3903 §4.3: our entity-tag is unknown: start again with an initial
            // PUBLISH of the last document.
            self.restarted = true;
            self.etag = None;
            match job {
                PubJob::Remove(_) => {}
                PubJob::Refresh => {
                    if let Some(body) = self.body.clone() {
                        self.queued.push_front(PubJob::Publish {
                            body,
                            expires: self.expires,
                            op: None,
                            policy: false,
                        });
                    }
                }
                job @ PubJob::Publish { .. } => self.queued.push_front(job),
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
                ) if min > expires => self.queued.push_front(PubJob::Publish {
                    body,
                    expires: min,
                    op,
                    policy,
                }),
                (Some(min), PubJob::Refresh) if min > self.expires => {
                    self.expires = min;
                    self.queued.push_front(PubJob::Refresh);
                }
                (_, job) => self.job_failed(cx, job, rejected(msg, status)),
            }
        } else if matches!(status, 489 | 501 | 405) {
            let err = UaError::UnsupportedEvent {
                package: SERVICE_SETTINGS.into(),
                status,
            };
            self.job_failed(cx, job, err);
        } else {
            self.restarted = false;
            self.job_failed(cx, job, rejected(msg, status));
        }
        self.pump(cx);
    }

    /// The PUBLISH in flight failed without a usable answer.
    pub fn on_failed(&mut self, cx: &mut Ctx, err: UaError) {
        if let Some(job) = self.in_flight.take() {
            self.job_failed(cx, job, err);
        }
        self.pump(cx);
    }

    fn job_failed(&mut self, cx: &mut Ctx, job: PubJob, err: UaError) {
        match job {
            PubJob::Publish { op, policy, .. } => {
                if let Some(op) = op {
                    cx.complete(op, Err(err.clone()));
                }
                if policy {
                    cx.emit(Event::Policy(PolicyOutcome::Failed(err.clone())));
                }
                if op.is_none() && !policy && self.body.is_some() {
                    // A re-publication after 412 (ours, not the app's).
                    self.refresh_failed(cx, err);
                }
            }
            PubJob::Remove(op) => {
                if let Some(op) = op {
                    cx.complete(op, Err(err));
                }
            }
            PubJob::Refresh => self.refresh_failed(cx, err),
        }
    }

    /// A refresh (or our own re-publication) failed: retry before the entity
    /// expires, or report the publication lost.
    fn refresh_failed(&mut self, cx: &mut Ctx, err: UaError) {
        self.last_error = Some(err.clone());
        let expiry = cx.timers.get(Timer::PublishExpiry);
        if is_transient(&err) {
            let delay = cx.retry_delay(&err, self.failures);
            self.failures = self.failures.saturating_add(1);
            let at = cx.now + delay;
            if expiry.is_none_or(|e| at < e) {
                cx.timers.set(Timer::PublishRetry, at);
                self.set_state(cx, PublicationState::Retrying, Some(delay));
                return;
            }
        }
        self.lost(cx);
    }

    fn lost(&mut self, cx: &mut Ctx) {
        self.forget(cx);
        self.set_state(cx, PublicationState::Lost, None);
    }

    fn forget(&mut self, cx: &mut Ctx) {
        self.etag = None;
        self.body = None;
        self.failures = 0;
        cx.timers.stop(Timer::PublishRefresh);
        cx.timers.stop(Timer::PublishRetry);
        cx.timers.stop(Timer::PublishExpiry);
    }

    pub fn on_timer(&mut self, cx: &mut Ctx, timer: Timer) {
        match timer {
            Timer::PublishRefresh | Timer::PublishRetry => {
                if self.etag.is_some() {
                    self.restore(cx);
                } else if let (Some(body), PublicationState::Retrying) = (
                    self.body.clone(),
                    self.state.unwrap_or(PublicationState::Lost),
                ) {
                    self.queued.push(PubJob::Publish {
                        body,
                        expires: self.expires,
                        op: None,
                        policy: false,
                    });
                    self.pump(cx);
                }
            }
            Timer::PublishExpiry => {
                // Not refreshed in time: the server has forgotten it.
                if self.in_flight.is_none() && !self.removing {
                    self.last_error.get_or_insert(UaError::Timeout);
                    self.lost(cx);
                } else {
                    self.forget(cx);
                }
            }
            _ => {}
        }
    }

    /// The flow is gone: jobs fail with `transport`; a remove stays wanted.
    pub fn on_flow_lost(&mut self, cx: &mut Ctx) {
        cx.timers.stop(Timer::PublishRefresh);
        cx.timers.stop(Timer::PublishRetry);
        self.fail_all(cx, &UaError::Transport);
        self.restarted = false;
    }

    /// The client is closed.
    pub fn close(&mut self, cx: &mut Ctx, err: &UaError) {
        self.fail_all(cx, err);
    }

    /// Every job fails with `err` (the policy is told of its own); a remove stays
    /// wanted.
    fn fail_all(&mut self, cx: &mut Ctx, err: &UaError) {
        for job in take_jobs(&mut self.in_flight, &mut self.queued) {
            match job {
                PubJob::Publish { op, policy, .. } => {
                    if let Some(op) = op {
                        cx.complete(op, Err(err.clone()));
                    }
                    if policy {
                        cx.emit(Event::Policy(PolicyOutcome::Failed(err.clone())));
                    }
                }
                PubJob::Remove(op) => {
                    self.removing = true;
                    if let Some(op) = op {
                        cx.complete(op, Err(err.clone()));
                    }
                }
                PubJob::Refresh => {}
            }
        }
    }
}
