//! The Subscriber: the service-settings watch, a refreshed subscription (RFC 6665).
//! One-shot fetches are the Fetcher's (`fetcher.rs`).
//!
//! ```text
//!   Idle ──watch()──► Subscribing ──2xx──► Active ──refresh 2xx──► Active
//!    ▲                    │                 │  │ NOTIFY terminated / refresh failed
//!    │  unwatch() 2xx     │ failure         │  ▼
//!    └────────────── Closing ◄── unwatch() ─┘ Ended ──(reason allows: retry timer)──► Subscribing
//! ```
//! After `terminated` (RFC 6665 §4.1.3, reasons compared case-insensitively):
//! `deactivated`, `timeout`, no reason or an unknown one → subscribe again at once
//! (or after `retry-after`); `probation`, `giveup` → after `retry-after` (or the
//! backoff); `rejected`, `noresource`, `invariant` → the watch ends. A refresh
//! answered 481 starts a new subscription; a refresh answered 408/480/5xx or not
//! answered ends the watch (`watchterminated`) and subscribes again after the
//! backoff. A NOTIFY whose From tag is not the dialog's remote tag gets 481.
//! `Subscription-State: active;expires=N` shortens the refresh.

use super::api::{Event, Millis, OpId, Outcome};
use super::context::{is_transient, rejected, route_set, Ctx};
use super::error::UaError;
use super::publisher::SERVICE_SETTINGS;
use super::timers::Timer;
use super::transaction::{Req, Usage};
use crate::message::{HeaderName, Message, Method, Uri};
use crate::settings::{ServiceSettings, SERVICE_SETTINGS_CONTENT_TYPE};

#[derive(Debug)]
struct Dialog {
    remote_tag: Option<String>,
    route: Vec<String>,
    target: Option<Uri>,
}

#[derive(Debug)]
struct WatchJob {
    unwatch: bool,
    ops: Vec<OpId>,
}

/// What happened to an incoming NOTIFY.
pub(super) enum NotifyOutcome {
    /// Not ours (481 sent).
    Unknown,
    /// Handled; settings to report, if any.
    Watch(Option<ServiceSettings>),
    /// Handled, nothing more to do.
    Done,
}

#[derive(Debug)]
pub(super) struct Subscriber {
    wanted: bool,
    call_id: String,
    from_tag: String,
    cseq: u32,
    dialog: Option<Dialog>,
    in_flight: Option<WatchJob>,
    /// Ops waiting for the next (un)watch to finish.
    waiting: Vec<OpId>,
    /// Ended by us: the dialog stays only to accept the final NOTIFY (RFC 6665
    /// §4.1.2.3), never to be refreshed.
    closing: bool,
    failures: u32,
}

impl Subscriber {
    pub fn new(call_id: String, from_tag: String) -> Subscriber {
        Subscriber {
            wanted: false,
            call_id,
            from_tag,
            cseq: 0,
            dialog: None,
            in_flight: None,
            waiting: Vec::new(),
            closing: false,
            failures: 0,
        }
    }

    pub fn wanted(&self) -> bool {
        self.wanted
    }

    fn active(&self, cx: &Ctx) -> bool {
        self.dialog.as_ref().is_some_and(|d| d.remote_tag.is_some())
            && cx.timers.is_set(Timer::WatchRefresh)
    }

    fn headers(cx: &Ctx, expires: u32) -> Vec<(HeaderName, String)> {
        let mut h = vec![
            (HeaderName::Event, SERVICE_SETTINGS.to_owned()),
            (HeaderName::Accept, SERVICE_SETTINGS_CONTENT_TYPE.to_owned()),
            (HeaderName::Expires, expires.to_string()),
            (HeaderName::Contact, cx.local.dialog_contact()),
            (HeaderName::PPreferredIdentity, cx.identity()),
            (HeaderName::AcceptContact, "*;+g.oma.sip-im".to_owned()),
        ];
        if cx.local.outbound {
            // RFC 5626 §4.3: tell the edge we use outbound on this dialog.
            h.push((HeaderName::Supported, "outbound".to_owned()));
        }
        h
    }

    // ───────────── watch ─────────────

    pub fn watch(&mut self, cx: &mut Ctx, op: OpId) {
        self.wanted = true;
        cx.timers.stop(Timer::WatchRetry);
        if self.in_flight.is_none() && self.active(cx) {
            cx.complete(
                op,
                Ok(Outcome::Subscribed {
                    expires: cx.cfg.subscribe_expires,
                }),
            );
            return;
        }
        self.waiting.push(op);
        if self.in_flight.is_none() {
            self.send(cx, false);
        }
    }

    pub fn unwatch(&mut self, cx: &mut Ctx, op: OpId) {
        self.wanted = false;
        cx.timers.stop(Timer::WatchRefresh);
        cx.timers.stop(Timer::WatchRetry);
        if self.dialog.is_none() && self.in_flight.is_none() {
            cx.complete(op, Ok(Outcome::Subscribed { expires: 0 }));
            return;
        }
        self.waiting.push(op);
        if self.in_flight.is_none() {
            self.send(cx, true);
        }
    }

    /// After the flow came back and the registration with it.
    pub fn restore(&mut self, cx: &mut Ctx) {
        if self.wanted && self.in_flight.is_none() {
            self.dialog = None;
            self.send(cx, false);
        }
    }

    fn send(&mut self, cx: &mut Ctx, unwatch: bool) {
        if !cx.is_connected() {
            return;
        }
        if !unwatch && self.closing {
            // A new watch after an unwatch is a new subscription.
            self.closing = false;
            self.dialog = None;
        }
        let expires = if unwatch { 0 } else { cx.cfg.subscribe_expires };
        let (to, route, ruri) = match &self.dialog {
            Some(d) if d.remote_tag.is_some() => (
                format!(
                    "<{}>;tag={}",
                    cx.cfg.aor,
                    d.remote_tag.as_deref().unwrap_or("")
                ),
                d.route.clone(),
                d.target.clone().unwrap_or_else(|| cx.cfg.aor.clone()),
            ),
            _ => {
                // A new subscription: new Call-ID and tag.
                self.call_id = cx.token(22);
                self.from_tag = cx.token(10);
                self.cseq = 0;
                self.dialog = Some(Dialog {
                    remote_tag: None,
                    route: Vec::new(),
                    target: None,
                });
                (
                    format!("<{}>", cx.cfg.aor),
                    cx.local.service_route.clone(),
                    cx.cfg.aor.clone(),
                )
            }
        };
        self.cseq += 1;
        let ops = if unwatch || self.wanted {
            std::mem::take(&mut self.waiting)
        } else {
            Vec::new()
        };
        let req = Req {
            method: Method::Subscribe,
            ruri,
            from: cx.own_from(&self.from_tag),
            to,
            call_id: self.call_id.clone(),
            cseq: self.cseq,
            route,
            headers: Self::headers(cx, expires),
            body: None,
        };
        self.in_flight = Some(WatchJob { unwatch, ops });
        cx.send(req, Usage::Watch);
    }

    pub fn next_cseq(&mut self) -> u32 {
        self.cseq += 1;
        self.cseq
    }

    pub fn on_final(&mut self, cx: &mut Ctx, msg: &Message, status: u16) {
        let Some(WatchJob { unwatch, ops }) = self.in_flight.take() else {
            return;
        };
        if (200..300).contains(&status) {
            self.failures = 0;
            let expires = msg.expires().ok().flatten().unwrap_or(if unwatch {
                0
            } else {
                cx.cfg.subscribe_expires
            });
            if unwatch || expires == 0 {
                // Keep the dialog to answer the final NOTIFY with 200 (RFC 6665 §4.1.2.3).
                self.closing = self.dialog.is_some();
                if !self.closing {
                    self.dialog = None;
                }
                cx.timers.stop(Timer::WatchRefresh);
            } else {
                let remote_tag = msg.to().ok().and_then(|t| t.tag().map(str::to_owned));
                let route = route_set(msg, true);
                let target = msg
                    .contact_list()
                    .ok()
                    .and_then(|c| c.first().map(|c| c.uri.clone()));
                let d = self.dialog.get_or_insert(Dialog {
                    remote_tag: None,
                    route: Vec::new(),
                    target: None,
                });
                if d.remote_tag.is_none() {
                    d.remote_tag = remote_tag;
                    d.route = route;
                    d.target = target;
                }
                // RFC 6665 §4.1.2.2: refresh before expiry.
                cx.timers
                    .set(Timer::WatchRefresh, cx.now + expires as Millis * 850);
            }
            for op in ops {
                cx.complete(op, Ok(Outcome::Subscribed { expires }));
            }
            if !unwatch && self.wanted && expires > 0 {
                // Watches asked for while this SUBSCRIBE was in flight (the restore
                // after a reconnect, a refresh) are answered by it: they waited for
                // the next send, the refresh at 85 % of the expiry (51 minutes).
                for op in std::mem::take(&mut self.waiting) {
                    cx.complete(op, Ok(Outcome::Subscribed { expires }));
                }
            }
            if unwatch && self.wanted {
                // A watch was asked for while the unwatch was in flight.
                self.send(cx, false);
            } else if !unwatch && !self.wanted && self.dialog.is_some() {
                // An unwatch was asked for while the watch was in flight.
                self.send(cx, true);
            }
            return;
        }
        let refresh = !unwatch && self.dialog.as_ref().is_some_and(|d| d.remote_tag.is_some());
        if status == 481 && !unwatch && self.wanted {
            // The dialog is gone: start a new subscription.
            self.dialog = None;
            self.waiting.extend(ops);
            return self.send(cx, false);
        }
        let err = if matches!(status, 489 | 501 | 405) {
            UaError::UnsupportedEvent {
                package: SERVICE_SETTINGS.into(),
                status,
            }
        } else {
            rejected(msg, status)
        };
        self.failed(cx, unwatch, ops, err, refresh);
    }

    /// The SUBSCRIBE in flight failed without a usable answer.
    pub fn on_failed(&mut self, cx: &mut Ctx, err: UaError) {
        let Some(WatchJob { unwatch, ops }) = self.in_flight.take() else {
            return;
        };
        let refresh = !unwatch && self.dialog.as_ref().is_some_and(|d| d.remote_tag.is_some());
        self.failed(cx, unwatch, ops, err, refresh);
    }

    fn failed(&mut self, cx: &mut Ctx, unwatch: bool, ops: Vec<OpId>, err: UaError, refresh: bool) {
        for op in ops {
            cx.complete(op, Err(err.clone()));
        }
        if unwatch {
            self.dialog = None;
            self.closing = false;
        } else if refresh && self.wanted {
            // A failed refresh ends the subscription (RFC 6665 §4.1.2.2).
            self.dialog = None;
            cx.timers.stop(Timer::WatchRefresh);
            let retry_after = match &err {
                UaError::Rejected { retry_after, .. } => *retry_after,
                _ => None,
            };
            let resubscribe = is_transient(&err);
            cx.emit(Event::WatchTerminated {
                reason: None,
                resubscribe,
                retry_after,
            });
            if resubscribe {
                let delay = cx.retry_delay(&err, self.failures);
                self.failures = self.failures.saturating_add(1);
                cx.timers.set(Timer::WatchRetry, cx.now + delay);
            } else {
                self.wanted = false;
            }
        } else {
            // The first SUBSCRIBE failed: the app's watch() is told.
            self.wanted = false;
            self.dialog = None;
        }
        if !self.wanted && self.in_flight.is_none() {
            // An unwatch asked for meanwhile: there is no subscription left.
            for op in std::mem::take(&mut self.waiting) {
                cx.complete(op, Ok(Outcome::Subscribed { expires: 0 }));
            }
        }
    }

    pub fn on_timer(&mut self, cx: &mut Ctx, timer: Timer) {
        match timer {
            Timer::WatchRefresh | Timer::WatchRetry if self.wanted && self.in_flight.is_none() => {
                if timer == Timer::WatchRetry {
                    self.dialog = None;
                }
                self.send(cx, false);
            }
            _ => {}
        }
    }

    /// The flow is gone.
    pub fn on_flow_lost(&mut self, cx: &mut Ctx) {
        cx.timers.stop(Timer::WatchRefresh);
        cx.timers.stop(Timer::WatchRetry);
        if let Some(job) = self.in_flight.take() {
            for op in job.ops {
                cx.complete(op, Err(UaError::Transport));
            }
        }
        for op in std::mem::take(&mut self.waiting) {
            cx.complete(op, Err(UaError::Transport));
        }
        self.dialog = None;
        self.closing = false;
    }

    /// The client is closed.
    pub fn close(&mut self, cx: &mut Ctx, err: &UaError) {
        self.wanted = false;
        if let Some(job) = self.in_flight.take() {
            for op in job.ops {
                cx.complete(op, Err(err.clone()));
            }
        }
        for op in std::mem::take(&mut self.waiting) {
            cx.complete(op, Err(err.clone()));
        }
    }

    // ───────────── NOTIFY (RFC 6665 §4.1.3) ─────────────

    pub fn on_notify(&mut self, cx: &mut Ctx, msg: &Message) -> NotifyOutcome {
        let (Ok(call_id), Ok(to), Ok(from)) = (msg.call_id(), msg.to(), msg.from()) else {
            return NotifyOutcome::Done;
        };
        let our_tag = to.tag().unwrap_or("");
        let their_tag = from.tag();
        let is_watch = self.call_id == call_id
            && self.from_tag == our_tag
            && self
                .dialog
                .as_ref()
                .is_some_and(|d| d.remote_tag.is_none() || d.remote_tag.as_deref() == their_tag);
        if !is_watch {
            // An unknown subscription, or a remote tag not the dialog's.
            cx.respond(msg, 481, "Subscription Does Not Exist", &[]);
            return NotifyOutcome::Unknown;
        }
        match settings_body(cx, msg) {
            Some(settings) => self.watch_notify(cx, msg, settings.ok().flatten()),
            None => NotifyOutcome::Done,
        }
    }

    fn watch_notify(
        &mut self,
        cx: &mut Ctx,
        msg: &Message,
        settings: Option<ServiceSettings>,
    ) -> NotifyOutcome {
        if let Some(d) = self.dialog.as_mut() {
            if d.remote_tag.is_none() {
                // A NOTIFY before the 2xx creates the dialog (RFC 6665 §4.1.2.4).
                d.remote_tag = msg.from().ok().and_then(|f| f.tag().map(str::to_owned));
                d.route = route_set(msg, false);
                d.target = msg
                    .contact_list()
                    .ok()
                    .and_then(|c| c.first().map(|c| c.uri.clone()));
            }
        }
        let state = msg.subscription_state().ok().flatten();
        let value = state
            .as_ref()
            .map(|s| s.value.to_ascii_lowercase())
            .unwrap_or_default();
        if value != "terminated" {
            // RFC 6665 §4.1.3: the notifier's expires may shorten ours.
            if let Some(secs) = state.as_ref().and_then(|s| s.expires()) {
                let at = cx.now + secs as Millis * 850;
                if self.wanted
                    && !self.closing
                    && cx.timers.get(Timer::WatchRefresh).is_none_or(|t| at < t)
                {
                    cx.timers.set(Timer::WatchRefresh, at);
                }
            }
            return NotifyOutcome::Watch(settings);
        }
        let reason = state
            .as_ref()
            .and_then(|s| s.reason().map(str::to_ascii_lowercase));
        let retry_after = state.as_ref().and_then(|s| s.retry_after());
        self.dialog = None;
        self.closing = false;
        cx.timers.stop(Timer::WatchRefresh);
        let allowed = !matches!(
            reason.as_deref(),
            Some("rejected") | Some("noresource") | Some("invariant")
        );
        let resubscribe = self.wanted && allowed;
        cx.emit(Event::WatchTerminated {
            reason: reason.clone(),
            resubscribe,
            retry_after,
        });
        if resubscribe {
            let delay = match (retry_after, reason.as_deref()) {
                (Some(s), _) => Some(s as Millis * 1000),
                (None, Some("probation") | Some("giveup")) => Some(cx.backoff(self.failures)),
                _ => None,
            };
            match delay {
                Some(d) => cx.timers.set(Timer::WatchRetry, cx.now + d),
                None if self.in_flight.is_none() => self.send(cx, false),
                None => {}
            }
        } else {
            self.wanted = false;
        }
        NotifyOutcome::Watch(settings)
    }
}

/// Reads a service-settings NOTIFY's body and answers the NOTIFY (RFC 6665
/// §4.1.3): 489 for another event package, 415 with Accept for another body type
/// (both `None`: nothing to act on), 400 with a Warning for a broken document, else
/// 200. An empty body is `Ok(None)` (no settings stored).
pub(super) fn settings_body(
    cx: &mut Ctx,
    msg: &Message,
) -> Option<Result<Option<ServiceSettings>, UaError>> {
    if msg
        .event()
        .ok()
        .flatten()
        .is_none_or(|e| !e.value.eq_ignore_ascii_case(SERVICE_SETTINGS))
    {
        cx.respond(msg, 489, "Bad Event", &[]);
        return None;
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
        cx.respond(
            msg,
            415,
            "Unsupported Media Type",
            &[(HeaderName::Accept, SERVICE_SETTINGS_CONTENT_TYPE.into())],
        );
        return None;
    } else {
        ServiceSettings::decode(body)
            .map(Some)
            .map_err(UaError::from_settings)
    };
    answer_notify(cx, msg, settings.as_ref().err());
    Some(settings)
}

/// 200 to a NOTIFY whose body was usable, 400 with a Warning naming the problem
/// otherwise.
pub(super) fn answer_notify(cx: &mut Ctx, msg: &Message, problem: Option<&UaError>) {
    match problem {
        Some(e) => {
            let w = e.to_string().replace(['"', '\\'], "'");
            cx.respond(
                msg,
                400,
                "Bad Request",
                &[(HeaderName::Warning, format!("399 imsip \"{w}\""))],
            );
        }
        None => cx.respond(msg, 200, "OK", &[]),
    }
}
