//! Incoming MESSAGEs, and the notices the user agent sends by itself: delivery
//! notifications (RFC 5438) and composition indications (RFC 3994).

use super::super::api::*;
use super::super::messager::{Messager, Received};
use super::super::transaction::{Notice, Req, Usage};
use super::UserAgent;
use crate::message::{Message, Uri};

impl UserAgent {
    /// An incoming MESSAGE (past the UAS rules).
    pub(super) fn on_message(&mut self, msg: &Message) {
        match self.messager.receive(cx!(self), msg) {
            Some(Received::Message { message, request }) => {
                // RFC 3994 §3.3: the peer's message ends its "active".
                self.composing.on_peer_message(cx!(self), &message.from);
                cx!(self).emit(Event::Message(message));
                // The notification follows the event: the message is with the app.
                if let Some(r) = request {
                    let notice = self.receipts.on_message(cx!(self), &r);
                    self.send_notice(notice, Notice::Imdn);
                }
            }
            Some(Received::Undeliverable(r)) => {
                let notice = self.receipts.undeliverable(cx!(self), &r);
                self.send_notice(notice, Notice::Imdn);
            }
            Some(Received::Notification(n)) => cx!(self).emit(Event::Imdn(n)),
            Some(Received::Composing { from, doc }) => {
                self.composing.on_indication(cx!(self), from, doc)
            }
            None => {}
        }
    }

    /// Sends a notice of the user agent's own when requests can go out now; it is
    /// not worth waiting for (a notification is about this moment, and its sender
    /// is waiting on a flow that works now).
    fn send_notice(&mut self, req: Option<Req>, kind: Notice) {
        if let Some(req) = req {
            if self.cx.is_connected() {
                Messager::send(cx!(self), req, Usage::Notice(kind, None));
            }
        }
    }

    /// The final response to a notice: a refusal stops that kind towards the peer
    /// (RFC 3994 §3.2, RFC 5438 §7); `mark_displayed` learns how it went.
    pub(super) fn on_notice_final(
        &mut self,
        kind: Notice,
        op: Option<OpId>,
        peer: &Uri,
        msg: &Message,
        status: u16,
    ) {
        match Messager::notice_refused(kind, status) {
            Some(Notice::Imdn) => self.receipts.refused(peer),
            Some(Notice::Composing) => self.composing.refused(cx!(self), peer),
            None => {}
        }
        if let Some(op) = op {
            let result = if (200..300).contains(&status) {
                Ok(Outcome::DisplayNotified { sent: true })
            } else {
                Err(super::super::context::rejected(msg, status))
            };
            cx!(self).complete(op, result);
        }
    }
}
