//! Our side: the INVITE (RFC 3261 §13.2), its CANCEL (§9.1), and the responses
//! to it.

use super::*;

impl Sessions {
    /// A new session of ours, queued until the flow (and the registration) lets
    /// its INVITE go; or the refusal when there are [`MAX_SESSIONS`] already.
    pub fn create(
        &mut self,
        cx: &mut Ctx,
        target: Uri,
        offer: String,
        large_message: bool,
        op: OpId,
    ) -> Result<SessionId, UaError> {
        if self.list.len() >= MAX_SESSIONS {
            return Err(UaError::InvalidState(format!(
                "{MAX_SESSIONS} sessions already"
            )));
        }
        let id = self.new_id();
        self.list.push(Session {
            id,
            state: State::Queued { target, offer },
            op: Some(op),
            outgoing: true,
            large_message,
            call_id: cx.token(22),
            local_tag: cx.token(10),
            dialog: None,
            invite_cseq: 1,
            invite_branch: String::new(),
            invite: None,
            last: None,
        });
        Ok(id)
    }

    /// An id that names no session (a `start_session` refused at once).
    pub fn unused_id(&mut self) -> SessionId {
        self.new_id()
    }

    /// Forgets a queued session whose work was dropped (its op is completed by
    /// the agent).
    pub fn forget(&mut self, cx: &mut Ctx, id: SessionId) {
        if let Some(i) = self.index(id) {
            self.remove(cx, i);
        }
    }

    /// Sends the INVITE of a queued session (RFC 3261 §13.2.1) with our feature
    /// tags in Contact and Accept-Contact (RFC 3840, RFC 3841), so that the core
    /// routes it to an IM client.
    pub fn send_invite(&mut self, cx: &mut Ctx, id: SessionId) {
        let Some(s) = self.list.iter_mut().find(|s| s.id == id) else {
            return;
        };
        let State::Queued { target, offer } = std::mem::replace(
            &mut s.state,
            State::Calling {
                provisional: false,
                cancel: Cancel::No,
            },
        ) else {
            return;
        };
        let tags = feature_tags(s.large_message);
        let mut headers = vec![
            (HeaderName::Contact, cx.local.dialog_contact() + &tags),
            (HeaderName::AcceptContact, format!("*{tags}")),
            (HeaderName::PPreferredIdentity, cx.identity()),
            // RFC 3261 §13.2.1: what may be sent in the dialog.
            (HeaderName::Allow, ALLOW.to_owned()),
        ];
        if cx.local.outbound {
            // RFC 5626 §4.3: the dialog uses outbound.
            headers.push((HeaderName::Supported, "outbound".to_owned()));
        }
        let req = Req {
            method: Method::Invite,
            to: format!("<{target}>"),
            ruri: target,
            from: cx.own_from(&s.local_tag),
            call_id: s.call_id.clone(),
            cseq: s.invite_cseq,
            route: cx.local.service_route.clone(),
            headers,
            body: Some((SDP.to_owned(), offer.into_bytes())),
        };
        cx.send(req, Usage::Invite(id));
    }

    /// Whether the app cancelled session `id` (a challenge to its INVITE is not
    /// answered then).
    pub fn is_cancelled(&self, id: SessionId) -> bool {
        self.list.iter().any(|s| {
            s.id == id && matches!(s.state, State::Calling { cancel, .. } if cancel != Cancel::No)
        })
    }

    /// `cancel_session` (RFC 3261 §9.1). `Ok(Some(op))`: the INVITE had not gone
    /// yet, the session is gone and its op failed with `cancelled`; the agent
    /// drops its queued work.
    pub fn cancel(&mut self, cx: &mut Ctx, id: SessionId) -> Result<Option<OpId>, UaError> {
        let i = self.index(id).ok_or_else(no_such_session)?;
        match &mut self.list[i].state {
            State::Queued { .. } => {
                let op = self.remove(cx, i).op;
                if let Some(op) = op {
                    cx.complete(op, Err(UaError::Cancelled));
                }
                Ok(op)
            }
            State::Calling {
                provisional,
                cancel,
            } => {
                if *cancel == Cancel::No {
                    // A CANCEL may only follow a provisional response.
                    *cancel = if *provisional {
                        send_cancel(cx, id);
                        Cancel::Sent
                    } else {
                        Cancel::Wanted
                    };
                }
                Ok(None)
            }
            _ => Err(UaError::InvalidState(
                "the session is not an INVITE of ours waiting for its answer".into(),
            )),
        }
    }

    /// Our INVITE goes again after a challenge: a new transaction, with no
    /// provisional response yet (a CANCEL must wait for one again).
    pub fn on_challenged(&mut self, id: SessionId) {
        let state = self
            .list
            .iter_mut()
            .find(|s| s.id == id)
            .map(|s| &mut s.state);
        if let Some(State::Calling { provisional, .. }) = state {
            *provisional = false;
        }
    }

    /// A provisional response to our INVITE.
    pub fn on_provisional(&mut self, cx: &mut Ctx, id: SessionId, msg: &Message, status: u16) {
        let Some(s) = self.list.iter_mut().find(|s| s.id == id) else {
            return;
        };
        let State::Calling {
            provisional,
            cancel,
        } = &mut s.state
        else {
            return;
        };
        *provisional = true;
        match *cancel {
            Cancel::No => {
                // RFC 3261 §17.1.1.2: Timer B runs only until a provisional response.
                if let Some(tx) = cx.txs.find(Usage::Invite(id)) {
                    cx.timers.stop(Timer::Transaction(tx.id));
                }
                if matches!(status, 180 | 183) {
                    cx.emit(Event::Session(SessionEvent::Progress {
                        session: id,
                        status,
                        reason: msg.reason().unwrap_or("").to_owned(),
                    }));
                }
            }
            Cancel::Wanted => {
                send_cancel(cx, id);
                *cancel = Cancel::Sent;
            }
            Cancel::Sent => {}
        }
    }

    /// The final response to our INVITE (a non-2xx was ACKed already; a 401/407
    /// answered by the agent never comes here).
    pub fn on_invite_final(
        &mut self,
        cx: &mut Ctx,
        id: SessionId,
        tx: &ClientTx,
        msg: &Message,
        status: u16,
    ) {
        let Some(i) = self.index(id) else {
            return;
        };
        let State::Calling { cancel, .. } = self.list[i].state else {
            return;
        };
        if status >= 300 {
            let op = self.remove(cx, i).op;
            let err = match cancel {
                Cancel::No => rejected(msg, status),
                // 487 Request Terminated, or whatever crossed our CANCEL.
                _ => UaError::Cancelled,
            };
            if let Some(op) = op {
                cx.complete(op, Err(err));
            }
            return;
        }
        // The dialog (RFC 3261 §12.1.2).
        let dialog = Dialog {
            remote_tag: msg
                .to()
                .ok()
                .and_then(|t| t.tag().map(str::to_owned))
                .unwrap_or_default(),
            local: tx.req.from.clone(),
            remote: msg.header(HeaderName::To).unwrap_or(&tx.req.to).to_owned(),
            target: msg
                .contact_list()
                .ok()
                .and_then(|c| c.into_iter().next().map(|c| c.uri))
                .unwrap_or_else(|| tx.req.ruri.clone()),
            route: route_set(msg, true),
            local_cseq: tx.req.cseq,
        };
        // RFC 3261 §13.2.2.4: the ACK is the UA core's, a new transaction-less
        // request with the INVITE's CSeq number and credentials.
        let ack = dialog.request(Method::Ack, &tx.req.call_id, tx.req.cseq);
        let branch = format!("z9hG4bK{}", cx.token(16));
        let s = &mut self.list[i];
        s.last = Some(cx.send_ack(&ack, &branch, &tx.credentials));
        s.invite_cseq = tx.req.cseq;
        s.dialog = Some(dialog);
        s.state = State::Established;
        let op = s.op.take();
        if cancel == Cancel::No {
            if let Some(op) = op {
                let answer = sdp_of(msg);
                cx.complete(
                    op,
                    Ok(Outcome::SessionEstablished {
                        session: id,
                        answer,
                    }),
                );
            }
        } else {
            // Answered as our CANCEL went: the session the app gave up ends at
            // once (RFC 3261 §9.1 leaves it to the UAC; §15 says BYE).
            if let Some(op) = op {
                cx.complete(op, Err(UaError::Cancelled));
            }
            self.send_bye(cx, i, None);
        }
    }

    /// A 2xx to an INVITE whose transaction is gone: our 2xx retransmitted
    /// because its ACK was lost gets the same ACK again (RFC 3261 §13.2.2.4).
    pub fn on_stray_2xx(&mut self, cx: &mut Ctx, msg: &Message) {
        let (Ok(call_id), Ok(cseq), Ok(from), Ok(to)) =
            (msg.call_id(), msg.cseq(), msg.from(), msg.to())
        else {
            return;
        };
        let ack = self.list.iter().find_map(|s| {
            let ours = s.outgoing
                && s.call_id == call_id
                && s.invite_cseq == cseq.seq
                && from.tag() == Some(s.local_tag.as_str())
                && s.dialog.as_ref().map(|d| d.remote_tag.as_str()) == to.tag();
            ours.then_some(s.last.as_ref()).flatten()
        });
        if let Some(ack) = ack {
            cx.transmit(ack.clone());
        }
    }
}

/// The ACK of a non-2xx final response to our INVITE (RFC 3261 §17.1.1.3): the
/// INVITE's branch, Request-URI, Call-ID, From, CSeq number and Route; the
/// response's To.
pub(in crate::ua) fn ack_failure(cx: &mut Ctx, tx: &ClientTx, msg: &Message) {
    let req = Req {
        method: Method::Ack,
        ruri: tx.req.ruri.clone(),
        from: tx.req.from.clone(),
        to: msg.header(HeaderName::To).unwrap_or(&tx.req.to).to_owned(),
        call_id: tx.req.call_id.clone(),
        cseq: tx.req.cseq,
        route: tx.req.route.clone(),
        headers: Vec::new(),
        body: None,
    };
    cx.send_ack(&req, &tx.branch, &[]);
}

/// Sends the CANCEL of session `id`'s INVITE (RFC 3261 §9.1): its Request-URI,
/// Call-ID, From, To, CSeq number, Route and branch.
pub(super) fn send_cancel(cx: &mut Ctx, id: SessionId) {
    let Some(tx) = cx.txs.find(Usage::Invite(id)) else {
        return;
    };
    let req = Req {
        method: Method::Cancel,
        headers: Vec::new(),
        body: None,
        ..tx.req.clone()
    };
    let (branch, invite_tx) = (tx.branch.clone(), tx.id);
    cx.send_on_branch(req, Usage::Cancel(id), branch);
    // RFC 3261 §9.1: without a final response within 64·T1 of the CANCEL, the
    // INVITE is taken as cancelled (Timer B again, stopped by the provisional).
    let at = cx.now + cx.cfg.transaction_timeout;
    cx.timers.set(Timer::Transaction(invite_tx), at);
}
