//! The Sessions part: INVITE sessions both ways (RFC 3261 §12–§15) carrying an
//! SDP offer and answer (RFC 3264) as opaque text — the app builds and reads the
//! SDP (see [`crate::sdp`]); the user agent only carries it.
//!
//! ```text
//!  ours    Queued ──flow (+ registration)──► Calling ──2xx: ACK──► Established
//!            │ cancel: gone, `cancelled`       │ 1xx: provisional (Progress on 180/183)
//!            │                                 │ cancel: CANCEL at once after a 1xx, else at
//!            │                                 │   the first 1xx (RFC 3261 §9.1); then any final
//!            │                                 │   → `cancelled` (a 2xx is ACKed and BYEd)
//!            │                                 └ ≥300: ACK, gone, `rejected` (401/407: ACK, INVITE again)
//!  theirs  Invited ──accept: 2xx, resent T1…T2──► Accepted ──ACK──► Established
//!            │ reject / their CANCEL: final               │ 64·T1 without ACK: BYE, Ended{Timeout}
//!            ▼                                            ▼
//!          Refused ──their ACK, or 64·T1──► gone        Ending
//!  both    Established ──end_session: BYE──► Ending ──any final──► gone
//!          Established ──their BYE: 200──► gone, Ended{RemoteBye}
//! ```
//! One source of truth per session: its [`State`]. Our INVITE, CANCEL and BYE
//! are client transactions tagged `Usage::Invite/Cancel/Bye(id)`; the session
//! keeps the app's op. Timer B is the transaction table's Timer F (the same
//! 64·T1) and stops at the first provisional (RFC 3261 §17.1.1.2: it only runs in
//! "Calling"); the proxy's Timer C bounds a call that rings for ever.
//!
//! Not done here: re-INVITE and UPDATE (an INVITE in one of our dialogs gets
//! 488), early dialogs (a 1xx's To tag is not kept: no BYE before the 2xx),
//! forked 2xx from a second callee (only the first dialog is kept; the other
//! callee's 2xx goes unACKed and its UAS ends it, RFC 3261 §13.3.1.4), strict
//! routers (a route set without `;lr`), reliable provisionals (RFC 3262: an
//! INVITE requiring `100rel` gets 420 from the UAS rules).

use super::api::{Event, Millis, OpId, Outcome, SessionEndReason, SessionEvent, SessionId};
use super::context::{rejected, route_set, Ctx, ALLOW};
use super::error::UaError;
use super::timers::Timer;
use super::transaction::{ClientTx, Req, Usage};
use crate::message::{HeaderName, Message, Method, Uri};

// Incoming INVITE, ACK, CANCEL and BYE; accept and reject.
mod incoming;
// start, cancel, and the responses to our INVITE.
mod outgoing;

pub(super) use outgoing::ack_failure;

/// Sessions at once; an INVITE beyond gets 486 Busy Here (RFC 3261 §21.4.24).
pub(super) const MAX_SESSIONS: usize = 16;
/// RFC 3261 §17.1.1.1: the round-trip estimate the 2xx retransmissions start at…
const T1: Millis = 500;
/// …and the interval they double up to (RFC 3261 §13.3.1.4).
const T2: Millis = 4_000;
/// The body type of offers and answers.
const SDP: &str = "application/sdp";
/// OMA SIMPLE IM's feature tag (session mode), RFC 3840 / RFC 3841.
const IM_TAG: &str = "+g.oma.sip-im";
/// OMA SIMPLE IM's large-message mode feature tag.
const LARGE_MESSAGE_TAG: &str = "+g.oma.sip-im.large-message";

/// A dialog (RFC 3261 §12): what in-dialog requests are built from.
#[derive(Debug)]
struct Dialog {
    remote_tag: String,
    /// Our From (our INVITE) or the INVITE's To (theirs), with our tag.
    local: String,
    /// The other side's, with its tag.
    remote: String,
    /// The remote target: the peer's Contact.
    target: Uri,
    /// `<uri>` Route values (RFC 3261 §12.1.1: Record-Route as it came in the
    /// INVITE for theirs; §12.1.2: reversed from the 2xx for ours).
    route: Vec<String>,
    local_cseq: u32,
}

impl Dialog {
    /// A request in the dialog (RFC 3261 §12.2.1.1).
    fn request(&self, method: Method, call_id: &str, cseq: u32) -> Req {
        Req {
            method,
            ruri: self.target.clone(),
            from: self.local.clone(),
            to: self.remote.clone(),
            call_id: call_id.to_owned(),
            cseq,
            route: self.route.clone(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// Where our CANCEL stands (RFC 3261 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancel {
    No,
    /// Asked for before any provisional response: sent at the first.
    Wanted,
    Sent,
}

/// A session's state (drawn in the module docs).
#[derive(Debug)]
enum State {
    /// Ours, waiting for the flow or the registration (the agent's queue holds
    /// its work).
    Queued {
        target: Uri,
        offer: String,
    },
    /// Ours, the INVITE in flight.
    Calling {
        provisional: bool,
        cancel: Cancel,
    },
    /// Theirs, waiting for the app.
    Invited,
    /// Theirs, our 2xx sent and re-sent every `interval` until the ACK.
    Accepted {
        interval: Millis,
    },
    Established,
    /// Our BYE in flight.
    Ending,
    /// Theirs, refused (by the app or by their CANCEL): waits for the ACK and
    /// answers a retransmitted INVITE again.
    Refused,
}

#[derive(Debug)]
struct Session {
    id: SessionId,
    state: State,
    /// The app's operation waiting on the session (start, accept or end).
    op: Option<OpId>,
    /// Ours (we sent the INVITE).
    outgoing: bool,
    large_message: bool,
    call_id: String,
    local_tag: String,
    /// Theirs: from the INVITE on; ours: from the 2xx on.
    dialog: Option<Dialog>,
    /// The CSeq number of the INVITE that made the dialog.
    invite_cseq: u32,
    /// Theirs: the INVITE's top Via branch (its server transaction, RFC 3261
    /// §17.2.3) and the INVITE itself, whose Via, From, To, Call-ID and CSeq every
    /// response copies.
    invite_branch: String,
    invite: Option<Box<Message>>,
    /// Theirs: the last response to the INVITE; ours: the ACK of the 2xx. Sent
    /// again when the INVITE or the 2xx comes again.
    last: Option<String>,
}

/// Every session of the user agent.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    list: Vec<Session>,
    next_id: u64,
}

impl Sessions {
    fn new_id(&mut self) -> SessionId {
        self.next_id += 1;
        SessionId(self.next_id)
    }

    fn index(&self, id: SessionId) -> Option<usize> {
        self.list.iter().position(|s| s.id == id)
    }

    /// Takes session `i` out, with its deadlines.
    fn remove(&mut self, cx: &mut Ctx, i: usize) -> Session {
        let s = self.list.remove(i);
        cx.timers.stop(Timer::AnswerRetransmit(s.id));
        cx.timers.stop(Timer::AckWait(s.id));
        s
    }

    // ───────────── both ─────────────

    /// Whether `end_session` may end session `id` now.
    pub fn can_end(&self, id: SessionId) -> Result<(), UaError> {
        let i = self.index(id).ok_or_else(no_such_session)?;
        let why = match self.list[i].state {
            State::Established => return Ok(()),
            State::Queued { .. } | State::Calling { .. } => "not answered yet: cancel it",
            State::Invited => "not answered yet: reject it",
            // RFC 3261 §15: the callee's BYE waits for the ACK of its 2xx.
            State::Accepted { .. } => "waiting for the ACK of our 2xx",
            State::Ending | State::Refused => "ending already",
        };
        Err(UaError::InvalidState(format!("the session is {why}")))
    }

    /// `end_session`, when the flow lets the BYE go: completes `op` at once when
    /// the peer ended the session meanwhile.
    pub fn end(&mut self, cx: &mut Ctx, id: SessionId, op: OpId) {
        match self.index(id) {
            Some(i) if matches!(self.list[i].state, State::Established) => {
                self.send_bye(cx, i, Some(op))
            }
            Some(_) => cx.complete(
                op,
                Err(UaError::InvalidState(
                    "the session is ending already".into(),
                )),
            ),
            None => cx.complete(op, Ok(Outcome::SessionEnded)),
        }
    }

    /// Sends BYE in session `i` (RFC 3261 §15.1.1): the session is over for us
    /// from now on; the answer only completes `op`.
    fn send_bye(&mut self, cx: &mut Ctx, i: usize, op: Option<OpId>) {
        let s = &mut self.list[i];
        let Some(d) = s.dialog.as_mut() else {
            return;
        };
        d.local_cseq = d.local_cseq.saturating_add(1);
        let req = d.request(Method::Bye, &s.call_id, d.local_cseq);
        s.state = State::Ending;
        s.op = op;
        cx.timers.stop(Timer::AnswerRetransmit(s.id));
        cx.timers.stop(Timer::AckWait(s.id));
        cx.send(req, Usage::Bye(s.id));
    }

    /// The CSeq of a BYE sent again after a challenge (the dialog's next).
    pub fn next_cseq(&mut self, id: SessionId, current: u32) -> u32 {
        let d = self
            .list
            .iter_mut()
            .find(|s| s.id == id)
            .and_then(|s| s.dialog.as_mut());
        match d {
            Some(d) => {
                d.local_cseq = d.local_cseq.saturating_add(1);
                d.local_cseq
            }
            None => current.saturating_add(1),
        }
    }

    /// The final response to our BYE: the session is gone whatever it says.
    pub fn on_bye_final(&mut self, cx: &mut Ctx, id: SessionId) {
        if let Some(i) = self.index(id) {
            if let Some(op) = self.remove(cx, i).op {
                cx.complete(op, Ok(Outcome::SessionEnded));
            }
        }
    }

    /// Our INVITE or BYE ended without a final response (Timer B or F, the flow,
    /// credentials refused); a CANCEL's fate changes nothing.
    pub fn on_failed(&mut self, cx: &mut Ctx, usage: Usage, err: UaError) {
        let (Usage::Invite(id) | Usage::Bye(id)) = usage else {
            return;
        };
        let Some(i) = self.index(id) else {
            return;
        };
        let err = match (&self.list[i].state, usage) {
            // RFC 3261 §9.1: no final response within 64·T1 of the CANCEL.
            (State::Calling { cancel, .. }, Usage::Invite(_)) if *cancel != Cancel::No => {
                UaError::Cancelled
            }
            (State::Calling { .. }, Usage::Invite(_)) | (State::Ending, Usage::Bye(_)) => err,
            _ => return,
        };
        if let Some(op) = self.remove(cx, i).op {
            cx.complete(op, Err(err));
        }
    }

    /// A deadline of ours expired.
    pub fn on_timer(&mut self, cx: &mut Ctx, timer: Timer) {
        let (Timer::AnswerRetransmit(id) | Timer::AckWait(id)) = timer else {
            return;
        };
        let Some(i) = self.index(id) else {
            return;
        };
        let s = &mut self.list[i];
        match (&mut s.state, timer) {
            (State::Accepted { interval }, Timer::AnswerRetransmit(_)) => {
                if let Some(frame) = &s.last {
                    cx.transmit(frame.clone());
                }
                *interval = (*interval * 2).min(T2);
                cx.timers.set(timer, cx.now + *interval);
            }
            (State::Accepted { .. }, Timer::AckWait(_)) => {
                // RFC 3261 §13.3.1.4: the dialog is confirmed, but the session ends.
                if let Some(op) = s.op.take() {
                    cx.complete(op, Err(UaError::Timeout));
                }
                cx.emit(Event::Session(SessionEvent::Ended {
                    session: id,
                    reason: SessionEndReason::Timeout,
                }));
                self.send_bye(cx, i, None);
            }
            (State::Refused, Timer::AckWait(_)) => {
                self.remove(cx, i);
            }
            _ => {}
        }
    }

    /// The flow is gone: sessions not yet confirmed end (nothing can be answered
    /// on a flow that is gone, and our transactions failed with it); established
    /// ones stay (their BYE goes on the next flow). Queued ones wait for the
    /// agent, which drops their work.
    pub fn on_flow_lost(&mut self, cx: &mut Ctx) {
        let mut i = 0;
        while i < self.list.len() {
            if matches!(
                self.list[i].state,
                State::Established | State::Queued { .. }
            ) {
                i += 1;
                continue;
            }
            let s = self.remove(cx, i);
            if let Some(op) = s.op {
                cx.complete(op, Err(UaError::Transport));
            }
            if matches!(s.state, State::Invited | State::Accepted { .. }) {
                cx.emit(Event::Session(SessionEvent::Ended {
                    session: s.id,
                    reason: SessionEndReason::FlowLost,
                }));
            }
        }
    }

    /// The client is closed: pending operations fail with `err` and every session
    /// is forgotten, without a BYE (the socket closes at once).
    /// The client closes on an open flow: what the peer would otherwise keep
    /// for ever (no session timers) is ended, before the flow closes, with nobody
    /// here to hear the answers: an established session gets a BYE (RFC 3261
    /// §15), our INVITE that rings a CANCEL (§9.1), an invitation waiting for the
    /// app 480 (§21.4.18).
    pub fn goodbye_all(&mut self, cx: &mut Ctx) {
        for i in 0..self.list.len() {
            match self.list[i].state {
                State::Established => self.send_bye(cx, i, None),
                State::Calling {
                    provisional: true, ..
                } => outgoing::send_cancel(cx, self.list[i].id),
                State::Invited if self.list[i].invite.is_some() => {
                    incoming::refuse(cx, &mut self.list[i], 480, "Temporarily Unavailable")
                }
                _ => {}
            }
        }
    }

    pub fn close(&mut self, cx: &mut Ctx, err: &UaError) {
        for s in self.list.drain(..) {
            if let Some(op) = s.op {
                cx.complete(op, Err(err.clone()));
            }
        }
    }
}

/// `;+g.oma.sip-im`, and `;+g.oma.sip-im.large-message` in large-message mode.
fn feature_tags(large_message: bool) -> String {
    if large_message {
        format!(";{IM_TAG};{LARGE_MESSAGE_TAG}")
    } else {
        format!(";{IM_TAG}")
    }
}

/// The SDP a message carries, if any (a body of another type is not SDP).
fn sdp_of(msg: &Message) -> Option<String> {
    let is_sdp = match msg.content_type() {
        Ok(Some(ct)) => ct.is(SDP),
        Ok(None) => true,
        Err(_) => false,
    };
    (is_sdp && !msg.body().is_empty()).then(|| String::from_utf8_lossy(msg.body()).into_owned())
}

fn no_such_session() -> UaError {
    UaError::InvalidState("no such session".into())
}
