//! Disposition notifications we send (RFC 5438 §7): `delivered` by ourselves when a
//! message asking for it reaches the app, `failed` when it cannot, `displayed` when
//! the app says the user saw it.
//!
//! A notification is a MESSAGE to the message's CPIM From carrying CPIM with
//! `Content-Type: message/imdn+xml` and `Content-Disposition: notification`, its own
//! `imdn.Message-ID`, and never a `Disposition-Notification` of its own (RFC 5438
//! §7.1.1: notifications are not asked about). A peer that refuses one (415, 488,
//! 606) gets no more for the session.

use super::context::Ctx;
use super::error::UaError;
use super::messager::{remember_at_most, ImdnRequest, Messager};
use super::transaction::Req;
use crate::im::cpim::CpimMessage;
use crate::im::cpim::CPIM_CONTENT_TYPE;
use crate::im::imdn::{self, Kind, Notification, Status};
use crate::message::Uri;

/// Received messages remembered for `mark_displayed` (the newest; an older one can
/// no longer be marked).
const DISPLAY_WINDOW: usize = 512;
/// Peers remembered as refusing notifications.
const REFUSED_WINDOW: usize = 256;

#[derive(Debug, Default)]
pub(super) struct Receipts {
    /// Received messages whose sender asked for a display notification.
    awaiting_display: Vec<ImdnRequest>,
    /// Peers that refused a notification (415, 488, 606).
    refused: Vec<String>,
}

/// Which of the notifications asked for an incoming message answers right away.
fn delivery_answer(r: &ImdnRequest, auto_delivery: bool) -> Option<Status> {
    (auto_delivery && r.asked.positive_delivery).then_some(Status::Delivered)
}

impl Receipts {
    /// A message reached the app: remembered for a display notification when one
    /// was asked for, and the delivery notification to send when `auto_delivery`.
    pub fn on_message(&mut self, cx: &mut Ctx, request: &ImdnRequest) -> Option<Req> {
        if request.asked.display {
            remember_at_most(&mut self.awaiting_display, request.clone(), DISPLAY_WINDOW);
        }
        let status = delivery_answer(request, cx.cfg.auto_delivery)?;
        self.notification(cx, request, Kind::Delivery, status)
    }

    /// A message was refused (its type is not accepted) and its sender asked for
    /// negative delivery reports (RFC 5438 §7.2.1.1): `failed`.
    pub fn undeliverable(&mut self, cx: &mut Ctx, request: &ImdnRequest) -> Option<Req> {
        self.notification(cx, request, Kind::Delivery, Status::Failed)
    }

    /// The app says the user saw message `message_id`: the display notification to
    /// send; `None` when none is due: its sender asked for none, it was sent already,
    /// the message is unknown (another page load, or pushed out of the window), or
    /// the peer refuses notifications. An empty id is an input error.
    pub fn displayed(&mut self, cx: &mut Ctx, message_id: &str) -> Result<Option<Req>, UaError> {
        let message_id = message_id.trim();
        if message_id.is_empty() {
            return Err(UaError::BadInput("messageId: empty".into()));
        }
        let Some(i) = self
            .awaiting_display
            .iter()
            .position(|r| r.message_id == message_id)
        else {
            return Ok(None);
        };
        let request = self.awaiting_display.remove(i);
        Ok(self.notification(cx, &request, Kind::Display, Status::Displayed))
    }

    /// `peer` refused a notification: none more for the session.
    pub fn refused(&mut self, peer: &Uri) {
        let key = peer.as_str().to_ascii_lowercase();
        if !self.refused.contains(&key) {
            remember_at_most(&mut self.refused, key, REFUSED_WINDOW);
        }
    }

    fn notification(
        &self,
        cx: &mut Ctx,
        request: &ImdnRequest,
        kind: Kind,
        status: Status,
    ) -> Option<Req> {
        let peer = &request.peer;
        if self.refused.contains(&peer.as_str().to_ascii_lowercase()) {
            return None;
        }
        let aor = cx.cfg.aor.as_str().to_owned();
        let document = Notification {
            message_id: request.message_id.clone(),
            date_time: request.date_time.clone(),
            recipient_uri: Some(aor.clone()),
            // The schema has the two together or neither: without a CPIM To, the
            // addressed recipient is us.
            original_recipient_uri: Some(
                request
                    .original_recipient
                    .clone()
                    .unwrap_or_else(|| aor.clone()),
            ),
            subject: None,
            kind,
            status,
        }
        .encode();
        let mut random = [0u8; 16];
        cx.rng.fill(&mut random);
        let own_id = imdn::new_message_id(&random);
        let cpim = CpimMessage::new(
            aor.as_str(),
            peer.as_str(),
            imdn::MESSAGE_IMDN_CONTENT_TYPE,
            document,
        )
        .date_time(cx.unix_secs())
        .namespaced(
            imdn::CPIM_NS_PREFIX,
            imdn::CPIM_NS,
            imdn::MESSAGE_ID_HEADER,
            &own_id,
        )
        .content_header("Content-Disposition", imdn::NOTIFICATION_DISPOSITION)
        .encode()
        // A peer URI CPIM cannot carry: no notification (nothing the app can fix).
        .ok()?;
        Some(Messager::notice(cx, peer, CPIM_CONTENT_TYPE, cpim))
    }
}
