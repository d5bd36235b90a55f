//! The app's session commands (INVITE sessions, RFC 3261 §13–§15) and the
//! routing of their responses; the sessions themselves are the Sessions part's
//! (`sessions.rs`). The SDP goes as opaque text both ways.

use super::super::api::*;
use super::super::error::UaError;
use super::super::messager::target_uri;
use super::super::sessions::ack_failure;
use super::super::timers::Timer;
use super::super::transaction::ClientTx;
use super::super::work::Work;
use super::UserAgent;
use crate::message::Message;

impl UserAgent {
    /// Invites `to` to a session with our SDP `offer_sdp` (`Accept-Contact` and
    /// Contact carry `+g.oma.sip-im`, and `+g.oma.sip-im.large-message` with
    /// `large_message`). The INVITE waits for the flow and a registration in
    /// progress, like a MESSAGE. 180/183 arrive as [`SessionEvent::Progress`].
    /// Completes with [`Outcome::SessionEstablished`] carrying the peer's SDP
    /// answer once the 2xx is ACKed; or fails: `rejected` (the peer's status),
    /// `timeout` (no answer within 64·T1 and no provisional), `transport`,
    /// `cancelled` (after [`cancel_session`](Self::cancel_session)).
    pub fn start_session(
        &mut self,
        now: Millis,
        to: &str,
        offer_sdp: &str,
        large_message: bool,
    ) -> (OpId, SessionId) {
        let op = self.begin(now);
        if self.refuse_if_closed(op) {
            self.arm();
            return (op, self.sessions.unused_id());
        }
        let created = target_uri(to).and_then(|target| {
            let offer = offer_sdp.to_owned();
            self.sessions
                .create(cx!(self), target, offer, large_message, op)
        });
        match created {
            Ok(id) => {
                self.submit(Work::Invite(id, op));
                (op, id)
            }
            Err(e) => {
                cx!(self).complete(op, Err(e));
                self.arm();
                (op, self.sessions.unused_id())
            }
        }
    }

    /// Cancels our INVITE before it is answered (RFC 3261 §9.1): the CANCEL goes
    /// at once when a provisional response came, else with the first one; the op of
    /// [`start_session`](Self::start_session) then fails with `cancelled`. A 2xx
    /// that crosses the CANCEL is ACKed and ended with a BYE. `invalid_state` when
    /// the session is not an INVITE of ours waiting for its answer.
    pub fn cancel_session(&mut self, now: Millis, session: SessionId) -> Result<(), UaError> {
        self.advance(now);
        if self.cx.is_closed() {
            return Err(UaError::InvalidState("the client is closed".into()));
        }
        let result = self.sessions.cancel(cx!(self), session);
        if let Ok(Some(op)) = result {
            // It had not gone yet.
            self.queue.remove(op);
            self.cx.timers.stop(Timer::WorkWait(op));
        }
        self.run_timers();
        self.arm();
        result.map(|_| ())
    }

    /// Accepts an invitation ([`SessionEvent::Invitation`]) with our SDP
    /// (`answer_sdp`: the answer to its offer, or our offer when it had none):
    /// a 200 with our Contact, the INVITE's Record-Route and the SDP, sent again
    /// (T1 doubling to T2) until the ACK. Completes with
    /// [`Outcome::SessionEstablished`] (the ACK's SDP, if any) when the ACK
    /// arrives; fails with `timeout` after 64·T1 without one (a BYE is sent and
    /// [`SessionEndReason::Timeout`] reported).
    pub fn accept_session(&mut self, now: Millis, session: SessionId, answer_sdp: &str) -> OpId {
        let op = self.begin(now);
        if !self.refuse_if_closed(op) {
            if let Err(e) = self.sessions.accept(cx!(self), session, op, answer_sdp) {
                cx!(self).complete(op, Err(e));
            }
        }
        self.run_timers();
        self.arm();
        op
    }

    /// Refuses an invitation with a final `status` (300–699): 486 Busy Here is
    /// the usual, 603 Decline the user's "no", 488 Not Acceptable Here an offer
    /// we cannot take.
    pub fn reject_session(
        &mut self,
        now: Millis,
        session: SessionId,
        status: u16,
    ) -> Result<(), UaError> {
        self.advance(now);
        if self.cx.is_closed() {
            return Err(UaError::InvalidState("the client is closed".into()));
        }
        let result = self.sessions.reject(cx!(self), session, status);
        self.run_timers();
        self.arm();
        result
    }

    /// Ends an established session with BYE (RFC 3261 §15.1.1: it is over for us
    /// when the BYE goes; the BYE waits for the flow like other work). Completes
    /// with [`Outcome::SessionEnded`] on any final response, or at once when the
    /// peer ended it meanwhile; fails with `invalid_state` when the session is not
    /// established (cancel or reject it instead; one we accepted waits for its
    /// ACK, RFC 3261 §15). `close()` sends no BYE.
    pub fn end_session(&mut self, now: Millis, session: SessionId) -> OpId {
        let op = self.begin(now);
        match self.sessions.can_end(session) {
            Ok(()) => self.submit(Work::Bye(session, op)),
            Err(e) => {
                cx!(self).complete(op, Err(e));
                self.arm();
            }
        }
        op
    }

    /// An INVITE, ACK, CANCEL or BYE past the UAS rules.
    pub(super) fn on_session_request(&mut self, msg: &Message) {
        self.sessions.on_request(cx!(self), msg);
    }

    /// The final response to a session's INVITE (its transaction is taken): a
    /// non-2xx is ACKed first (RFC 3261 §17.1.1.3), a challenge then answered
    /// unless the app cancelled.
    pub(super) fn on_invite_final(
        &mut self,
        session: SessionId,
        tx: ClientTx,
        msg: &Message,
        status: u16,
    ) {
        if status >= 300 {
            ack_failure(cx!(self), &tx, msg);
        }
        if matches!(status, 401 | 407) {
            if !self.sessions.is_cancelled(session) {
                self.sessions.on_challenged(session);
                return self.on_challenge(tx, msg, status == 407);
            }
        } else {
            self.cx.creds.accepted(&tx.carried);
        }
        if (200..300).contains(&status) && !self.registerer.wanted() {
            self.flow.on_success_without_registration();
        }
        self.sessions
            .on_invite_final(cx!(self), session, &tx, msg, status);
    }

    /// App work that will not go (no registration in time, the flow lost, the
    /// client closed): its op fails with `err`, and a queued session is forgotten.
    pub(super) fn drop_work(&mut self, work: Work, err: UaError) {
        self.cx.timers.stop(Timer::WorkWait(work.op()));
        if let Work::Invite(session, _) = work {
            self.sessions.forget(cx!(self), session);
        }
        cx!(self).complete(work.op(), Err(err));
    }
}
