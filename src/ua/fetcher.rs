//! The Fetcher: one-shot fetches (RFC 6665 §4.4.3: SUBSCRIBE with Expires 0, then
//! exactly one NOTIFY) of the service settings and of the conversation history.
//!
//! ```text
//!   fetch() ──SUBSCRIBE Expires 0──► 2xx ──NOTIFY──► done (200 to the NOTIFY)
//!                  │                  └─ no NOTIFY within Timer N (64·T1) ─► timeout
//!                  └─ NOTIFY first (it may overtake the 2xx, §4.1.2.4): kept until the 2xx
//! ```

use super::api::{OpId, Outcome};
use super::context::{rejected, Ctx};
use super::error::UaError;
use super::publisher::SERVICE_SETTINGS;
use super::subscriber::{answer_notify, settings_body};
use super::timers::Timer;
use super::transaction::{Req, Usage};
use crate::im::history::{self, HistoryEntry, HistoryQuery, HISTORY_CONTENT_TYPE, HISTORY_EVENT};
use crate::message::{HeaderName, Message, Method};
use crate::settings::{ServiceSettings, SERVICE_SETTINGS_CONTENT_TYPE};

/// What is fetched.
#[derive(Debug, Clone)]
pub(super) enum FetchKind {
    /// The service settings (`Event: service-settings`).
    Settings,
    /// The conversation history (`Event: im-history`, see [`crate::im::history`]).
    History(HistoryQuery),
}

/// What a fetch returns.
#[derive(Debug)]
enum Fetched {
    Settings(Option<ServiceSettings>),
    History(Vec<HistoryEntry>),
}

#[derive(Debug)]
struct Fetch {
    id: u64,
    kind: FetchKind,
    call_id: String,
    from_tag: String,
    /// The app's operation; `None` for the publish policy's settings fetch.
    op: Option<OpId>,
    answered: bool,
    result: Option<Result<Fetched, UaError>>,
}

/// The publish policy's fetch finished: its result, for the agent.
pub(super) type PolicyFetch = Option<Result<Option<ServiceSettings>, UaError>>;

#[derive(Debug, Default)]
pub(super) struct Fetcher {
    fetches: Vec<Fetch>,
    next: u64,
}

impl Fetcher {
    pub fn fetch(&mut self, cx: &mut Ctx, kind: FetchKind, op: Option<OpId>) {
        self.next += 1;
        let id = self.next;
        let call_id = cx.token(22);
        let from_tag = cx.token(10);
        let (event, accept) = match &kind {
            FetchKind::Settings => (SERVICE_SETTINGS.to_owned(), SERVICE_SETTINGS_CONTENT_TYPE),
            FetchKind::History(q) => (q.event_value(), HISTORY_CONTENT_TYPE),
        };
        let req = Req {
            method: Method::Subscribe,
            ruri: cx.cfg.aor.clone(),
            from: cx.own_from(&from_tag),
            to: format!("<{}>", cx.cfg.aor),
            call_id: call_id.clone(),
            cseq: 1,
            route: cx.local.service_route.clone(),
            headers: vec![
                (HeaderName::Event, event),
                (HeaderName::Accept, accept.to_owned()),
                (HeaderName::Expires, "0".to_owned()),
                (HeaderName::Contact, cx.local.dialog_contact()),
                (HeaderName::PPreferredIdentity, cx.identity()),
                (HeaderName::AcceptContact, "*;+g.oma.sip-im".to_owned()),
            ],
            body: None,
        };
        self.fetches.push(Fetch {
            id,
            kind,
            call_id,
            from_tag,
            op,
            answered: false,
            result: None,
        });
        cx.send(req, Usage::Fetch(id));
    }

    pub fn on_final(&mut self, cx: &mut Ctx, id: u64, msg: &Message, status: u16) -> PolicyFetch {
        let i = self.fetches.iter().position(|f| f.id == id)?;
        if (200..300).contains(&status) {
            let f = &mut self.fetches[i];
            f.answered = true;
            if let Some(result) = f.result.take() {
                let f = self.fetches.remove(i);
                return finish(cx, f, result);
            }
            // RFC 6665 §4.1.2.4: the NOTIFY follows; wait Timer N (64·T1) for it.
            cx.timers
                .set(Timer::FetchNotify(id), cx.now + cx.cfg.transaction_timeout);
            return None;
        }
        let f = self.fetches.remove(i);
        let err = if matches!(status, 489 | 501 | 405) {
            UaError::UnsupportedEvent {
                package: match f.kind {
                    FetchKind::Settings => SERVICE_SETTINGS.into(),
                    FetchKind::History(_) => HISTORY_EVENT.into(),
                },
                status,
            }
        } else {
            rejected(msg, status)
        };
        finish(cx, f, Err(err))
    }

    /// The SUBSCRIBE failed without a usable answer, or Timer N fired.
    pub fn on_failed(&mut self, cx: &mut Ctx, id: u64, err: UaError) -> PolicyFetch {
        let i = self.fetches.iter().position(|f| f.id == id)?;
        let f = self.fetches.remove(i);
        finish(cx, f, Err(err))
    }

    /// Whether a NOTIFY belongs to one of our fetches.
    pub fn owns(&self, msg: &Message) -> bool {
        let (Ok(call_id), Ok(to)) = (msg.call_id(), msg.to()) else {
            return false;
        };
        let tag = to.tag().unwrap_or("");
        self.fetches
            .iter()
            .any(|f| f.call_id == call_id && f.from_tag == tag)
    }

    /// A NOTIFY of one of our fetches (see [`Fetcher::owns`]).
    pub fn on_notify(&mut self, cx: &mut Ctx, msg: &Message) -> PolicyFetch {
        let call_id = msg.call_id().ok()?;
        let to = msg.to().ok()?;
        let tag = to.tag().unwrap_or("");
        let i = self
            .fetches
            .iter()
            .position(|f| f.call_id == call_id && f.from_tag == tag)?;
        let result = match &self.fetches[i].kind {
            FetchKind::Settings => settings_body(cx, msg)?.map(Fetched::Settings),
            FetchKind::History(_) => history_body(cx, msg)?.map(Fetched::History),
        };
        let f = &mut self.fetches[i];
        if !f.answered {
            // The NOTIFY overtook the 2xx (RFC 6665 §4.1.2.4): keep the result.
            f.result = Some(result);
            return None;
        }
        let f = self.fetches.remove(i);
        finish(cx, f, result)
    }

    /// The flow is gone: every fetch fails with `transport`.
    pub fn on_flow_lost(&mut self, cx: &mut Ctx) -> Vec<Result<Option<ServiceSettings>, UaError>> {
        let mut policy = Vec::new();
        for f in std::mem::take(&mut self.fetches) {
            if let Some(r) = finish(cx, f, Err(UaError::Transport)) {
                policy.push(r);
            }
        }
        policy
    }

    /// The client is closed.
    pub fn close(&mut self, cx: &mut Ctx, err: &UaError) {
        for f in std::mem::take(&mut self.fetches) {
            if let Some(op) = f.op {
                cx.complete(op, Err(err.clone()));
            }
        }
    }
}

fn finish(cx: &mut Ctx, f: Fetch, result: Result<Fetched, UaError>) -> PolicyFetch {
    cx.timers.stop(Timer::FetchNotify(f.id));
    match (f.op, result) {
        (Some(op), r) => {
            cx.complete(
                op,
                r.map(|fetched| match fetched {
                    Fetched::Settings(s) => Outcome::Settings(s),
                    Fetched::History(h) => Outcome::History(h),
                }),
            );
            None
        }
        (None, Ok(Fetched::Settings(s))) => Some(Ok(s)),
        (None, Ok(Fetched::History(_))) => None,
        (None, Err(e)) => Some(Err(e)),
    }
}

/// Reads a history NOTIFY's body and answers the NOTIFY (489 for another package,
/// 415 with Accept for another type, 400 for a broken document, else 200).
fn history_body(cx: &mut Ctx, msg: &Message) -> Option<Result<Vec<HistoryEntry>, UaError>> {
    if msg
        .event()
        .ok()
        .flatten()
        .is_none_or(|e| !e.value.eq_ignore_ascii_case(HISTORY_EVENT))
    {
        cx.respond(msg, 489, "Bad Event", &[]);
        return None;
    }
    let body = msg.body();
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        answer_notify(cx, msg, None);
        return Some(Ok(Vec::new()));
    }
    if msg
        .content_type()
        .ok()
        .flatten()
        .is_some_and(|c| !c.is(HISTORY_CONTENT_TYPE))
    {
        cx.respond(
            msg,
            415,
            "Unsupported Media Type",
            &[(HeaderName::Accept, HISTORY_CONTENT_TYPE.into())],
        );
        return None;
    }
    let result = history::decode(body)
        .map(|mut entries| {
            // A message sent with receipts is kept as its CPIM envelope: the app
            // gets its content, as the `message` event gave it.
            for e in &mut entries {
                (e.content_type, e.body) = crate::im::cpim::unwrap(
                    core::mem::take(&mut e.content_type),
                    core::mem::take(&mut e.body),
                );
            }
            entries
        })
        .map_err(|e| UaError::BadResponse(format!("history: {e}")));
    answer_notify(cx, msg, result.as_ref().err());
    Some(result)
}
