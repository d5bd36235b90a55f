//! The `stored` processing notification (RFC 5438 §5.2, §8): when the IM
//! Server keeps a chat message for an offline recipient and the message's
//! CPIM envelope asks for `processing` notifications, the IM Server, as the
//! intermediary holding it, tells the sender so.
//!
//! `stored` is a processing status, not a delivery one: the IM Server never
//! reports `delivered` (or `displayed`) on the recipient's behalf. Those come
//! from the recipient's own client when it really receives the message,
//! which it does from the stored copy, IMDN request and all.
//!
//! The notification is a MESSAGE to every registered contact of the sender (the
//! authenticated SIP sender, whatever the CPIM From claims)
//! (over flows still open), `Content-Type: message/cpim`:
//!
//! ```text
//! From: <sip:bob@imsip.test>                 the recipient, on whose behalf it reports
//! To: <sip:alice@imsip.test>                 the original's CPIM From (else its SIP From)
//! DateTime: 2027-01-15T08:00:00Z             now
//! NS: imdn <urn:ietf:params:imdn>
//! imdn.Message-ID: 3q2-7w                    fresh; no Disposition-Notification (RFC
//!                                            5438: never ask about a notification)
//! Content-Type: message/imdn+xml
//! Content-Disposition: notification
//!
//! <imdn> message-id and datetime of the original, recipient-uri the
//! recipient, <processing-notification><status><stored/>
//! ```
//!
//! A sender with no open flow gets nothing (logged): devcore does not store
//! notifications for it. Each MESSAGE waits for its answer until the relay
//! timeout ([`Timer::StoredNotice`]), for the log only: nothing is resent.

use super::content::ImdnRequest;
use super::Incoming;
use crate::core::Cx;
use crate::registrar::Registrar;
use crate::timers::Timer;
use crate::util::{random_bytes, random_hex};
use imsip::im::cpim::{CpimError, CpimMessage, CPIM_CONTENT_TYPE};
use imsip::im::imdn::{
    new_message_id, Kind, Notification, Status, CPIM_NS, CPIM_NS_PREFIX, MESSAGE_ID_HEADER,
    MESSAGE_IMDN_CONTENT_TYPE, NOTIFICATION_DISPOSITION,
};
use imsip::message::{branch, MessageBuilder, Method};
use std::collections::HashMap;
use tracing::{debug, info, warn};

/// `stored` notifications sent and not answered yet.
#[derive(Debug, Default)]
pub(crate) struct StoredNotices {
    /// Our branch → the id of its [`Timer::StoredNotice`].
    pending: HashMap<String, u64>,
    last_id: u64,
}

/// The CPIM body of a `stored` notification from `recipient` (an AoR) about
/// the message `request` names, to `sender` (a URI), at `now` (Unix
/// seconds), named `message_id`. `None` when the request cannot be answered:
/// without the original's `DateTime` there is nothing to put in the
/// document's required `<datetime>` (RFC 5438 asks every sender requesting
/// notifications to send one).
pub(crate) fn stored_notification(
    request: &ImdnRequest,
    recipient: &str,
    sender: &str,
    now: u64,
    message_id: &str,
) -> Option<Result<Vec<u8>, CpimError>> {
    let notification = Notification {
        message_id: request.message_id.clone(),
        date_time: request.date_time.clone()?,
        recipient_uri: Some(recipient.to_owned()),
        original_recipient_uri: None,
        subject: None,
        kind: Kind::Processing,
        status: Status::Stored,
    };
    let body = CpimMessage::new(
        recipient,
        sender,
        MESSAGE_IMDN_CONTENT_TYPE,
        notification.encode(),
    )
    .date_time(now)
    .namespaced(CPIM_NS_PREFIX, CPIM_NS, MESSAGE_ID_HEADER, message_id)
    .content_header("Content-Disposition", NOTIFICATION_DISPOSITION)
    .encode();
    Some(body)
}

impl StoredNotices {
    /// `incoming` was stored for its offline recipient (the proxy has
    /// answered 202): when it asked for processing notifications, its sender's
    /// contacts get `stored`.
    pub fn on_stored(&mut self, cx: &mut Cx<'_>, incoming: &Incoming<'_>, registrar: &Registrar) {
        let Some(request) = incoming.content.imdn.as_ref() else {
            return;
        };
        if !request.wants.processing {
            return;
        }
        let recipient = incoming.recipient.aor.as_str();
        // RFC 5438: notifications go to the CPIM sender; the authenticated SIP
        // sender when the envelope names none.
        let sender_uri = request.sender.as_deref().unwrap_or(incoming.sender);
        // Always routed to the authenticated SIP sender: the CPIM From is the
        // sender's own claim, and must not make devcore message another user.
        let sender_aor = incoming.sender.to_owned();
        let id = new_message_id(&random_bytes::<16>());
        let body = match stored_notification(request, recipient, sender_uri, cx.now.unix, &id) {
            Some(Ok(body)) => body,
            Some(Err(e)) => {
                warn!(to = %sender_uri, error = %e, "stored notification not sent: cannot be written");
                return;
            }
            None => {
                warn!(to = %sender_uri, message_id = %request.message_id,
                    "stored notification not sent: the message has no DateTime");
                return;
            }
        };
        let contacts = registrar.reachable(&sender_aor, cx.now.mono, cx.flows);
        if contacts.is_empty() {
            info!(to = %sender_aor, message_id = %request.message_id,
                "stored notification dropped: the sender is offline");
            return;
        }
        let from_tag = random_hex(8);
        let call_id = random_hex(16);
        let mut sent = 0;
        for (uri, conn) in contacts {
            let b = branch(&random_hex(10));
            let m = MessageBuilder::request(Method::Message, uri)
                .header("Via", format!("SIP/2.0/WS {};branch={b}", cx.cfg.sent_by))
                .header("Max-Forwards", 70)
                .header("From", format!("<{recipient}>;tag={from_tag}"))
                .header("To", format!("<{sender_aor}>"))
                .header("Call-ID", &call_id)
                .header("CSeq", "1 MESSAGE")
                .body(Some(CPIM_CONTENT_TYPE), body.clone())
                .build();
            if !cx.flows.send(conn, &m) {
                continue;
            }
            self.last_id += 1;
            cx.timers.set(
                Timer::StoredNotice(self.last_id),
                cx.now.mono + cx.cfg.relay_timeout,
            );
            self.pending.insert(b, self.last_id);
            sent += 1;
        }
        info!(to = %sender_aor, message_id = %request.message_id, contacts = sent, "stored notification sent");
    }

    /// A response to one of our notifications (`false`: not ours).
    pub fn on_response(&mut self, cx: &mut Cx<'_>, branch: &str, status: u16) -> bool {
        if !self.pending.contains_key(branch) {
            return false;
        }
        if status < 200 {
            return true;
        }
        if let Some(id) = self.pending.remove(branch) {
            cx.timers.stop(Timer::StoredNotice(id));
        }
        if (200..300).contains(&status) {
            debug!(%branch, status, "stored notification accepted");
        } else {
            info!(%branch, status, "stored notification refused");
        }
        true
    }

    /// [`Timer::StoredNotice`] `id` fired: no answer came; given up.
    pub fn timed_out(&mut self, id: u64) {
        self.pending.retain(|_, pending| *pending != id);
        info!(id, "stored notification unanswered");
    }

    /// How many notifications wait for an answer.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}
