//! Their side: INVITE, ACK, CANCEL and BYE as they arrive (past the UAS rules),
//! and the app's answer to an invitation.

use super::*;
use crate::message::NameAddr;

/// What an incoming request is matched by.
struct Keys<'a> {
    call_id: &'a str,
    cseq: u32,
    from: &'a NameAddr,
    to: &'a NameAddr,
    /// The top Via branch.
    branch: &'a str,
}

impl Session {
    /// Whether the request belongs to this session's dialog (RFC 3261 §12.2.2:
    /// Call-ID, our tag in To, theirs in From).
    fn in_dialog(&self, k: &Keys<'_>) -> bool {
        self.call_id == k.call_id
            && k.to.tag() == Some(self.local_tag.as_str())
            && self.dialog.as_ref().map(|d| d.remote_tag.as_str()) == k.from.tag()
    }

    /// Whether the request is their INVITE's server transaction, or a CANCEL of it
    /// (RFC 3261 §17.2.3, §9.2: the top Via branch, with the Call-ID and CSeq
    /// number).
    fn is_invite_of(&self, k: &Keys<'_>) -> bool {
        !self.outgoing
            && self.call_id == k.call_id
            && self.invite_cseq == k.cseq
            && self.invite_branch == k.branch
    }

    fn ended(&self, cx: &mut Ctx, reason: SessionEndReason) {
        cx.emit(Event::Session(SessionEvent::Ended {
            session: self.id,
            reason,
        }));
    }
}

impl Sessions {
    /// An INVITE, ACK, CANCEL or BYE that passed the UAS rules (so its Via, From,
    /// To, Call-ID and CSeq read).
    pub fn on_request(&mut self, cx: &mut Ctx, msg: &Message) {
        let (Ok(call_id), Ok(cseq), Ok(from), Ok(to), Ok(via)) = (
            msg.call_id(),
            msg.cseq(),
            msg.from(),
            msg.to(),
            msg.top_via(),
        ) else {
            return;
        };
        let k = Keys {
            call_id,
            cseq: cseq.seq,
            from: &from,
            to: &to,
            branch: via.branch().unwrap_or(""),
        };
        match msg.method() {
            Some(Method::Invite) => self.on_invite(cx, msg, &k),
            Some(Method::Ack) => self.on_ack(cx, msg, &k),
            Some(Method::Cancel) => self.on_cancel(cx, msg, &k),
            Some(Method::Bye) => self.on_bye(cx, msg, &k),
            _ => {}
        }
    }

    fn on_invite(&mut self, cx: &mut Ctx, msg: &Message, k: &Keys<'_>) {
        if k.to.tag().is_some() {
            // A re-INVITE (RFC 3261 §14.2): a session is never changed here.
            let (status, reason) = if self.list.iter().any(|s| s.in_dialog(k)) {
                (488, "Not Acceptable Here (re-INVITE not supported)")
            } else {
                (481, "Call/Transaction Does Not Exist")
            };
            return cx.respond(msg, status, reason, &[]);
        }
        if let Some(s) = self.list.iter().find(|s| s.is_invite_of(k)) {
            // A retransmission (RFC 3261 §17.2.1): the last response again.
            if let Some(frame) = &s.last {
                cx.transmit(frame.clone());
            }
            return;
        }
        let merged = self.list.iter().any(|s| {
            !s.outgoing
                && s.call_id == k.call_id
                && s.invite_cseq == k.cseq
                && s.dialog.as_ref().map(|d| d.remote_tag.as_str()) == k.from.tag()
        });
        if merged {
            // RFC 3261 §8.2.2.2: the same request again by another path.
            return cx.respond(msg, 482, "Loop Detected", &[]);
        }
        if self.list.len() >= MAX_SESSIONS {
            return cx.respond(msg, 486, "Busy Here", &[]);
        }
        // RFC 3261 §8.1.1.8: an INVITE must say where the dialog goes.
        let Some(contact) = msg.contact_list().ok().and_then(|c| c.into_iter().next()) else {
            return cx.respond(msg, 400, "Bad Request (no Contact)", &[]);
        };
        let offer = match msg.content_type() {
            _ if msg.body().is_empty() => None,
            Ok(Some(ct)) if ct.is(SDP) => Some(String::from_utf8_lossy(msg.body()).into_owned()),
            // RFC 3261 §21.4.16: say what we take.
            _ => {
                return cx.respond(
                    msg,
                    415,
                    "Unsupported Media Type",
                    &[(HeaderName::Accept, SDP.to_owned())],
                )
            }
        };
        let large_message = msg
            .accept_contact()
            .unwrap_or_default()
            .iter()
            .any(|a| a.params.has(LARGE_MESSAGE_TAG));
        let local_tag = cx.token(10);
        let dialog = Dialog {
            remote_tag: k.from.tag().unwrap_or("").to_owned(),
            local: format!(
                "{};tag={local_tag}",
                msg.header(HeaderName::To).unwrap_or("")
            ),
            remote: msg.header(HeaderName::From).unwrap_or("").to_owned(),
            target: contact.uri,
            // RFC 3261 §12.1.1: the UAS keeps the Record-Route in its order.
            route: route_set(msg, false),
            // RFC 3261 §12.1.1: empty; our first request takes 1.
            local_cseq: 0,
        };
        // RFC 3261 §8.2.6.1: the app may take a while.
        let trying = cx.reply(msg, 100, "Trying", None, &[], None);
        let id = self.new_id();
        self.list.push(Session {
            id,
            state: State::Invited,
            op: None,
            outgoing: false,
            large_message,
            call_id: k.call_id.to_owned(),
            local_tag,
            dialog: Some(dialog),
            invite_cseq: k.cseq,
            invite_branch: k.branch.to_owned(),
            invite: Some(Box::new(msg.clone())),
            last: Some(trying),
        });
        cx.emit(Event::Session(SessionEvent::Invitation {
            session: id,
            from: k.from.uri.as_str().to_owned(),
            display_name: k.from.display.clone(),
            to: k.to.uri.as_str().to_owned(),
            offer,
            large_message,
        }));
    }

    fn on_ack(&mut self, cx: &mut Ctx, msg: &Message, k: &Keys<'_>) {
        // RFC 3261 §17.2.3 / §13.3.1.4: the ACK of a 2xx is a new transaction in
        // the dialog; that of a non-2xx has the INVITE's branch. Both carry the
        // INVITE's CSeq number and our tag.
        let Some(i) = self.list.iter().position(|s| {
            !s.outgoing
                && s.call_id == k.call_id
                && s.invite_cseq == k.cseq
                && k.to.tag() == Some(s.local_tag.as_str())
        }) else {
            return;
        };
        match self.list[i].state {
            State::Accepted { .. } => {
                let s = &mut self.list[i];
                s.state = State::Established;
                cx.timers.stop(Timer::AnswerRetransmit(s.id));
                cx.timers.stop(Timer::AckWait(s.id));
                if let Some(op) = s.op.take() {
                    let answer = sdp_of(msg);
                    let session = s.id;
                    cx.complete(op, Ok(Outcome::SessionEstablished { session, answer }));
                }
            }
            State::Refused => {
                self.remove(cx, i);
            }
            _ => {}
        }
    }

    fn on_cancel(&mut self, cx: &mut Ctx, msg: &Message, k: &Keys<'_>) {
        let Some(i) = self.list.iter().position(|s| s.is_invite_of(k)) else {
            return cx.respond(msg, 481, "Call/Transaction Does Not Exist", &[]);
        };
        let s = &mut self.list[i];
        // RFC 3261 §9.2: the 200 carries the To tag of the INVITE's responses.
        cx.reply(msg, 200, "OK", Some(&s.local_tag), &[], None);
        if !matches!(s.state, State::Invited) {
            // Answered already: the CANCEL changes nothing.
            return;
        }
        refuse(cx, s, 487, "Request Terminated");
        s.ended(cx, SessionEndReason::RemoteCancel);
    }

    fn on_bye(&mut self, cx: &mut Ctx, msg: &Message, k: &Keys<'_>) {
        let Some(i) = self.list.iter().position(|s| {
            s.in_dialog(k)
                && matches!(
                    s.state,
                    State::Accepted { .. } | State::Established | State::Ending
                )
        }) else {
            // RFC 3261 §15.1.2: no such dialog.
            return cx.respond(msg, 481, "Call/Transaction Does Not Exist", &[]);
        };
        cx.respond(msg, 200, "OK", &[]);
        if matches!(self.list[i].state, State::Ending) {
            // Both ended at once: our BYE completes the app's op.
            return;
        }
        let s = self.remove(cx, i);
        if let Some(op) = s.op {
            // A BYE before the ACK of our 2xx: the peer had the 2xx, so the
            // session was established, and is over.
            cx.complete(
                op,
                Ok(Outcome::SessionEstablished {
                    session: s.id,
                    answer: None,
                }),
            );
        }
        s.ended(cx, SessionEndReason::RemoteBye);
    }

    /// `accept_session`: the 2xx with our answer (RFC 3261 §13.3.1.4), sent again
    /// until the ACK; `op` completes when it arrives.
    pub fn accept(
        &mut self,
        cx: &mut Ctx,
        id: SessionId,
        op: OpId,
        answer: &str,
    ) -> Result<(), UaError> {
        let s = self.invited(id)?;
        let Some(invite) = &s.invite else {
            return Err(no_such_session());
        };
        let mut extra = vec![
            (
                HeaderName::Contact,
                cx.local.dialog_contact() + &feature_tags(s.large_message),
            ),
            (HeaderName::Allow, ALLOW.to_owned()),
        ];
        // RFC 3261 §12.1.1: the Record-Route of the INVITE, as it came.
        for rr in invite.header_all(HeaderName::RecordRoute) {
            extra.push((HeaderName::RecordRoute, rr.to_owned()));
        }
        let body = (!answer.is_empty()).then_some((SDP, answer.as_bytes()));
        let frame = cx.reply(invite, 200, "OK", Some(&s.local_tag), &extra, body);
        s.last = Some(frame);
        s.state = State::Accepted { interval: T1 };
        s.op = Some(op);
        cx.timers.set(Timer::AnswerRetransmit(id), cx.now + T1);
        cx.timers
            .set(Timer::AckWait(id), cx.now + cx.cfg.transaction_timeout);
        Ok(())
    }

    /// `reject_session`: a final refusal (486 Busy Here by default, 603 Decline,
    /// 488 Not Acceptable Here...); the ACK that follows is absorbed.
    pub fn reject(&mut self, cx: &mut Ctx, id: SessionId, status: u16) -> Result<(), UaError> {
        if !(300..700).contains(&status) {
            return Err(UaError::BadInput(format!(
                "status: {status} is not a final refusal (300-699)"
            )));
        }
        let s = self.invited(id)?;
        if s.invite.is_none() {
            return Err(no_such_session());
        }
        refuse(cx, s, status, reason_phrase(status));
        Ok(())
    }

    /// The invitation `id`, still waiting for the app.
    fn invited(&mut self, id: SessionId) -> Result<&mut Session, UaError> {
        let s = self
            .list
            .iter_mut()
            .find(|s| s.id == id)
            .ok_or_else(no_such_session)?;
        match s.state {
            State::Invited => Ok(s),
            _ => Err(UaError::InvalidState(
                "the session is not an invitation waiting for an answer".into(),
            )),
        }
    }
}

/// The reason phrase of a refusal (RFC 3261 §21).
fn reason_phrase(status: u16) -> &'static str {
    match status {
        480 => "Temporarily Unavailable",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Rejected",
    }
}

/// Answers the INVITE of `s` with the final refusal `status` (kept for its
/// retransmissions) and waits for the ACK that absorbs it (RFC 3261 §17.2.1).
pub(super) fn refuse(cx: &mut Ctx, s: &mut Session, status: u16, reason: &str) {
    if let Some(invite) = &s.invite {
        let frame = cx.reply(invite, status, reason, Some(&s.local_tag), &[], None);
        s.last = Some(frame);
    }
    s.state = State::Refused;
    cx.timers
        .set(Timer::AckWait(s.id), cx.now + cx.cfg.transaction_timeout);
}
