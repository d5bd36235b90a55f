//! Our UAS manners (RFC 3261 §8.2): what is refused before any part sees a
//! request, and the answers that need no part.

use super::context::{Ctx, ALLOW, SUPPORTED};
use super::messager::message_accept;
use crate::im::history::HISTORY_CONTENT_TYPE;
use crate::message::text::join;
use crate::message::{warning_399, HeaderName, Message, Method};
use crate::sdp::SDP_CONTENT_TYPE;
use crate::settings::SERVICE_SETTINGS_CONTENT_TYPE;

/// A request a part must handle.
pub(super) enum Incoming {
    Message,
    Notify,
    /// INVITE, ACK, CANCEL or BYE: the Sessions part matches it to a session or
    /// answers 481 (RFC 3261 §9.2, §12.2.2, §15.1.2).
    Session,
}

/// Checks and answers what it can; returns the requests a part must handle.
pub(super) fn screen(cx: &mut Ctx, msg: &Message) -> Option<Incoming> {
    if let Err(e) = msg.validate() {
        // RFC 3261 §8.2 / RFC 4475 §3.3: refuse what we cannot act on, when it can
        // be answered at all (a response needs Via and CSeq, copied as text, so a
        // malformed Via is answered too, RFC 4475 §3.1.2.1; ACK is never answered).
        if msg.method() != Some(&Method::Ack)
            && msg.header(HeaderName::Via).is_some()
            && msg.header(HeaderName::CSeq).is_some()
        {
            let (status, reason) = e.refusal_status();
            cx.respond(
                msg,
                status,
                reason,
                &[(HeaderName::Warning, warning_399("imsip", &e.to_string()))],
            );
        }
        cx.emit(super::api::Event::Dropped {
            reason: format!("invalid request: {e}"),
        });
        return None;
    }
    let method = msg.method()?.clone();
    // RFC 3261 §8.2.1: method first.
    match method {
        // Never answered (RFC 3261 §17.2.1): its session, if any, absorbs it.
        Method::Ack => return Some(Incoming::Session),
        Method::Message
        | Method::Notify
        | Method::Options
        | Method::Invite
        | Method::Cancel
        | Method::Bye => {}
        // RFC 3261 §12.2.2: INFO only travels in a dialog, and no usage of ours
        // takes it (no INFO packages, RFC 6086): 481, as for a dialog we lack.
        Method::Info => {
            cx.respond(msg, 481, "Call/Transaction Does Not Exist", &[]);
            return None;
        }
        _ => {
            cx.respond(
                msg,
                405,
                "Method Not Allowed",
                &[(HeaderName::Allow, ALLOW.into())],
            );
            return None;
        }
    }
    // §8.2.2.1: an unsupported Request-URI scheme.
    if msg.request_uri().is_some_and(|u| !u.is_sip()) {
        cx.respond(msg, 416, "Unsupported URI Scheme", &[]);
        return None;
    }
    // §8.2.2.3: Require with option tags we do not support.
    let unsupported: Vec<String> = msg.require().unwrap_or_default();
    if !unsupported.is_empty() {
        cx.respond(
            msg,
            420,
            "Bad Extension",
            &[(HeaderName::Unsupported, join(&unsupported, ", "))],
        );
        return None;
    }
    match method {
        Method::Options => {
            // RFC 3261 §11.2: every body type we take in a request — a MESSAGE's,
            // the NOTIFY bodies of what we subscribe to, an INVITE's SDP.
            let mut accept = message_accept(&cx.cfg.accept_types);
            for t in [
                SERVICE_SETTINGS_CONTENT_TYPE,
                HISTORY_CONTENT_TYPE,
                SDP_CONTENT_TYPE,
            ] {
                accept.push_str(", ");
                accept.push_str(t);
            }
            cx.respond(
                msg,
                200,
                "OK",
                &[
                    (HeaderName::Allow, ALLOW.into()),
                    (HeaderName::Accept, accept),
                    (HeaderName::Supported, SUPPORTED.into()),
                ],
            );
            None
        }
        Method::Message => Some(Incoming::Message),
        Method::Notify => Some(Incoming::Notify),
        Method::Invite | Method::Cancel | Method::Bye => Some(Incoming::Session),
        _ => None,
    }
}
