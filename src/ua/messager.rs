//! The Messager: pager-mode MESSAGEs both ways (RFC 3428).

use super::api::{Event, IncomingMessage, OpId, Outcome};
use super::context::{rejected, Ctx};
use super::error::UaError;
use super::transaction::{Req, Usage};
use crate::message::{HeaderName, MediaType, Message, Method, Scheme, Uri};
use std::collections::VecDeque;

/// Incoming MESSAGEs remembered for duplicate detection (same Call-ID and CSeq).
const DEDUP_WINDOW: usize = 128;
/// The default body type of `send_message`.
pub(super) const TEXT_PLAIN_UTF8: &str = "text/plain;charset=UTF-8";

#[derive(Debug, Default)]
pub(super) struct Messager {
    seen: VecDeque<(String, u32)>,
}

/// Whether `ct` is one of `accepted` (`type/subtype`, `type/*` or `*/*`); an
/// empty list accepts everything.
pub(super) fn accepts(accepted: &[String], ct: &MediaType) -> bool {
    accepted.is_empty()
        || accepted.iter().any(|a| {
            let a = a.trim();
            match a.split_once('/') {
                Some(("*", "*")) => true,
                Some((t, "*")) => t.eq_ignore_ascii_case(&ct.kind),
                _ => ct.is(a),
            }
        })
}

impl Messager {
    /// Builds the MESSAGE of `send_message`, or the input error.
    pub fn request(
        cx: &mut Ctx<'_>,
        to: &str,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<Req, UaError> {
        let target = match Uri::parse(to.trim()) {
            Ok(u) if u.is_sip() || matches!(u.scheme(), Scheme::Tel) => u,
            _ => {
                return Err(UaError::BadInput(format!(
                    "to: not a sip:, sips: or tel: URI: \"{to}\""
                )))
            }
        };
        let ct = content_type.unwrap_or(TEXT_PLAIN_UTF8);
        if MediaType::parse(ct, "Content-Type").is_err() {
            return Err(UaError::BadInput("contentType: not a media type".into()));
        }
        let tag = cx.token(10);
        Ok(Req {
            method: Method::Message,
            to: format!("<{target}>"),
            ruri: target,
            from: cx.own_from(&tag),
            call_id: cx.token(22),
            cseq: 1,
            route: Vec::new(),
            headers: vec![
                (HeaderName::AcceptContact, "*;+g.oma.sip-im".into()),
                (HeaderName::PPreferredIdentity, cx.identity()),
            ],
            body: Some((ct.to_owned(), body.to_vec())),
        })
    }

    /// An OPTIONS to our registrar's domain (RFC 3261 §11): any answer at all proves
    /// the flow alive.
    pub fn probe(cx: &mut Ctx<'_>) -> Req {
        let tag = cx.token(10);
        Req {
            method: Method::Options,
            ruri: cx.local.registrar.clone(),
            from: cx.own_from(&tag),
            to: format!("<{}>", cx.local.registrar),
            call_id: cx.token(22),
            cseq: 1,
            route: cx.local.service_route.clone(),
            headers: vec![(HeaderName::Accept, "application/sdp".into())],
            body: None,
        }
    }

    /// Sends a MESSAGE built by [`Messager::request`] (the route is taken now:
    /// the Service-Route of the registration in force).
    pub fn send(cx: &mut Ctx<'_>, mut req: Req, op: OpId) {
        req.route = cx.local.service_route.clone();
        cx.send(req, Usage::Message(op));
    }

    pub fn on_final(cx: &mut Ctx<'_>, op: OpId, msg: &Message, status: u16) {
        let result = if (200..300).contains(&status) {
            Ok(Outcome::MessageSent {
                status,
                reason: msg.reason().unwrap_or("").to_owned(),
            })
        } else {
            Err(rejected(msg, status))
        };
        cx.complete(op, result);
    }

    /// An incoming MESSAGE (already checked by the UAS rules).
    pub fn on_message(&mut self, cx: &mut Ctx<'_>, msg: &Message) {
        let (Ok(call_id), Ok(cseq), Ok(from), Ok(to)) =
            (msg.call_id(), msg.cseq(), msg.from(), msg.to())
        else {
            return;
        };
        let content_type = msg.content_type().ok().flatten();
        if let Some(ct) = &content_type {
            if !accepts(&cx.cfg.accept_types, ct) {
                // RFC 3261 §21.4.16: say what we accept.
                let accept = cx.cfg.accept_types.join(", ");
                cx.respond(
                    msg,
                    415,
                    "Unsupported Media Type",
                    &[(HeaderName::Accept, accept)],
                );
                return;
            }
        }
        let key = (call_id.to_owned(), cseq.seq);
        cx.respond(msg, 200, "OK", &[]);
        // RFC 3428 §7 / RFC 3261 §17.2.3: a retransmission is answered but delivered once.
        if self.seen.contains(&key) {
            return;
        }
        self.seen.push_back(key);
        if self.seen.len() > DEDUP_WINDOW {
            self.seen.pop_front();
        }
        // RFC 3261 §20.17: the time the request was first sent; from an IM Server, the
        // time a deferred message was stored.
        let date_time = msg
            .date()
            .ok()
            .flatten()
            .and_then(crate::message::date::parse_sip_date)
            .map(crate::message::date::iso8601);
        cx.emit(Event::Message(IncomingMessage {
            from: from.uri.to_string(),
            display_name: from.display.clone(),
            to: to.uri.to_string(),
            content_type: content_type
                .map(|c| c.to_string())
                .unwrap_or_else(|| "text/plain".into()),
            body: msg.body().to_vec(),
            deferred: date_time.is_some(),
            date_time,
        }));
    }
}
