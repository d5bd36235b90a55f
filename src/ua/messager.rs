//! The Messager: pager-mode MESSAGEs both ways (RFC 3428).

use super::api::{
    check_extra_headers, Event, ImdnReceived, IncomingMessage, MessageOptions, OpId, Outcome,
};
use super::context::{rejected, Ctx};
use super::error::UaError;
use super::transaction::{Notice, Req, Usage};
use crate::im::cpim::{CpimAddress, CpimMessage, CPIM_CONTENT_TYPE};
use crate::im::imdn::{self, DispositionRequest, Notification, MESSAGE_IMDN_CONTENT_TYPE};
use crate::im::iscomposing::{IsComposing, ISCOMPOSING_CONTENT_TYPE};
use crate::message::date::{iso8601, parse_sip_date};
use crate::message::{HeaderName, MediaType, Message, Method, Scheme, Uri};

/// Incoming MESSAGEs remembered for duplicate detection (same Call-ID and CSeq).
const DEDUP_WINDOW: usize = 128;
/// The default body type of `send_message`.
pub(super) const TEXT_PLAIN_UTF8: &str = "text/plain;charset=UTF-8";

#[derive(Debug, Default)]
pub(super) struct Messager {
    /// (Call-ID, CSeq) of recent incoming MESSAGEs.
    seen: Vec<(String, u32)>,
    /// `imdn.Message-ID`s of recent incoming messages.
    seen_ids: Vec<String>,
    /// Our messages in flight that went in CPIM, for their outcomes and for the
    /// fallback to plain (bounded: a message that fails otherwise leaves its entry
    /// until it is pushed out).
    in_cpim: Vec<InCpim>,
    /// Peers that refused `message/cpim`: they get plain bodies for the session.
    plain_only: Vec<String>,
}

/// A message of ours sent in CPIM with IMDN requests.
#[derive(Debug)]
struct InCpim {
    op: OpId,
    message_id: String,
    /// The same message without CPIM, sent instead if the peer refuses CPIM.
    plain: Req,
}

/// The URI of `to` (`sip:`, `sips:` or `tel:`), or the input error.
pub(super) fn target_uri(to: &str) -> Result<Uri, UaError> {
    match Uri::parse(to.trim()) {
        Ok(u) if u.is_sip() || matches!(u.scheme(), Scheme::Tel) => Ok(u),
        _ => Err(UaError::BadInput(format!(
            "to: not a sip:, sips: or tel: URI: \"{to}\""
        ))),
    }
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
    /// Builds the MESSAGE of `send_message`, or the input error. With IMDN
    /// requests the body goes in CPIM (RFC 5438 §6: `NS: imdn`, `imdn.Message-ID`,
    /// `DateTime`, `imdn.Disposition-Notification`); the id is remembered for the
    /// outcome of `op`.
    pub fn request(
        &mut self,
        cx: &mut Ctx,
        op: OpId,
        to: &str,
        body: &[u8],
        options: &MessageOptions,
    ) -> Result<Req, UaError> {
        let target = target_uri(to)?;
        let ct = options.content_type.as_deref().unwrap_or(TEXT_PLAIN_UTF8);
        if MediaType::parse(ct, "Content-Type").is_err() {
            return Err(UaError::BadInput("contentType: not a media type".into()));
        }
        let extra = check_extra_headers(&options.extra_headers, &[], usize::MAX)?;
        let mut plain = Self::message_to(cx, target.clone(), ct, body.to_vec());
        plain.headers.extend(extra.iter().cloned());
        let peer = target.as_str().to_ascii_lowercase();
        if options.imdn.is_empty() || self.plain_only.contains(&peer) {
            return Ok(plain);
        }
        let mut random = [0u8; 16];
        cx.rng.fill(&mut random);
        let id = imdn::new_message_id(&random);
        let cpim = CpimMessage::new(cx.cfg.aor.as_str(), target.as_str(), ct, body)
            .date_time(cx.unix_secs())
            .namespaced(
                imdn::CPIM_NS_PREFIX,
                imdn::CPIM_NS,
                imdn::MESSAGE_ID_HEADER,
                &id,
            )
            .namespaced(
                imdn::CPIM_NS_PREFIX,
                imdn::CPIM_NS,
                imdn::DISPOSITION_NOTIFICATION_HEADER,
                &options.imdn.to_string(),
            )
            .encode()
            .map_err(|e| UaError::BadInput(format!("message: {e}")))?;
        remember(
            &mut self.in_cpim,
            InCpim {
                op,
                message_id: id,
                plain,
            },
        );
        let mut wrapped = Self::message_to(cx, target, CPIM_CONTENT_TYPE, cpim);
        wrapped.headers.extend(extra);
        Ok(wrapped)
    }

    /// A MESSAGE of the user agent's own (a notification or an indication) to
    /// `peer`.
    pub fn notice(cx: &mut Ctx, peer: &Uri, content_type: &str, body: Vec<u8>) -> Req {
        Self::message_to(cx, peer.clone(), content_type, body)
    }

    fn message_to(cx: &mut Ctx, target: Uri, content_type: &str, body: Vec<u8>) -> Req {
        let tag = cx.token(10);
        Req {
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
            body: Some((content_type.to_owned(), body)),
        }
    }

    /// An OPTIONS to our registrar's domain (RFC 3261 §11): any answer at all proves
    /// the flow alive.
    pub fn probe(cx: &mut Ctx) -> Req {
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

    /// Sends a MESSAGE built by [`Messager::request`] or [`Messager::notice`]
    /// (the route is taken now: the Service-Route of the registration in force).
    pub fn send(cx: &mut Ctx, mut req: Req, usage: Usage) {
        req.route = cx.local.service_route.clone();
        cx.send(req, usage);
    }

    pub fn on_final(&mut self, cx: &mut Ctx, op: OpId, msg: &Message, status: u16) {
        let sent = self
            .in_cpim
            .iter()
            .position(|s| s.op == op)
            .map(|i| self.in_cpim.remove(i));
        if let Some(sent) = sent {
            if matches!(status, 415 | 488 | 606) && !accepts_cpim(msg) {
                // The peer (or a server on the way) does not take CPIM: the app's
                // message goes again as it is, without receipts (there is no other
                // way to ask for them in pager mode), and so do later ones.
                let peer = sent.plain.ruri.as_str().to_ascii_lowercase();
                if !self.plain_only.contains(&peer) {
                    remember(&mut self.plain_only, peer);
                }
                Self::send(cx, sent.plain, Usage::Message(op));
                return;
            }
            return Self::complete(cx, op, msg, status, Some(sent.message_id));
        }
        Self::complete(cx, op, msg, status, None);
    }

    fn complete(cx: &mut Ctx, op: OpId, msg: &Message, status: u16, message_id: Option<String>) {
        let result = if (200..300).contains(&status) {
            Ok(Outcome::MessageSent {
                status,
                reason: msg.reason().unwrap_or("").to_owned(),
                message_id,
            })
        } else {
            Err(rejected(msg, status))
        };
        cx.complete(op, result);
    }

    /// The final answer to a notice: `Some(kind)` when the peer refused that kind
    /// for good (415, 488, 606: RFC 3994 §3.2, RFC 5438 §7), so no more are sent.
    pub fn notice_refused(kind: Notice, status: u16) -> Option<Notice> {
        matches!(status, 415 | 488 | 606).then_some(kind)
    }

    /// Whether the MESSAGE `call_id`/`cseq` (with `imdn.Message-ID` `message_id`, when
    /// it has one) is new, remembering it: a retransmission (RFC 3428 §7, RFC 3261
    /// §17.2.3) or a Message-ID seen before (RFC 5438 §6.3) is answered but handled
    /// once — a message delivered, a notification reported.
    fn first_time(&mut self, call_id: &str, cseq: u32, message_id: Option<&str>) -> bool {
        let key = (call_id.to_owned(), cseq);
        if self.seen.contains(&key)
            || message_id.is_some_and(|id| self.seen_ids.iter().any(|s| s == id))
        {
            return false;
        }
        remember(&mut self.seen, key);
        if let Some(id) = message_id {
            remember(&mut self.seen_ids, id.to_owned());
        }
        true
    }

    /// An incoming MESSAGE (already checked by the UAS rules): answered here, and
    /// classified for the agent. A `message/cpim` body is unwrapped first (RFC 3862):
    /// what it carries decides, so a notification or an indication in CPIM is one.
    pub fn receive(&mut self, cx: &mut Ctx, msg: &Message) -> Option<Received> {
        let (Ok(call_id), Ok(cseq), Ok(from), Ok(to)) =
            (msg.call_id(), msg.cseq(), msg.from(), msg.to())
        else {
            return None;
        };
        let outer_type = msg.content_type().ok().flatten();
        let cpim = match &outer_type {
            Some(ct) if ct.is(CPIM_CONTENT_TYPE) => match CpimMessage::decode(msg.body()) {
                Ok(c) => Some(c),
                Err(e) => {
                    // RFC 3862 §3.1 / RFC 3261 §21.4.1: a body we cannot read.
                    cx.respond(msg, 400, "Bad Request (malformed message/cpim)", &[]);
                    cx.emit(Event::Dropped {
                        reason: format!("malformed message/cpim body: {e}"),
                    });
                    return None;
                }
            },
            _ => None,
        };
        // RFC 3862 §3: the encapsulated object is a MIME entity; one sent base64
        // (`Content-Transfer-Encoding: base64`, RFC 2045 §6.8) reaches the app
        // decoded (it arrived as its base64 text). Undecodable: left as it came.
        let decoded = cpim.as_ref().and_then(|c| {
            c.content_header("Content-Transfer-Encoding")
                .filter(|e| e.eq_ignore_ascii_case("base64"))
                .and_then(|_| core::str::from_utf8(c.body()).ok())
                .and_then(|text| {
                    let compact: String = text.split_ascii_whitespace().collect();
                    crate::auth::base64_decode(&compact)
                })
        });
        let (content_type, body) = match &cpim {
            Some(c) => (c.media_type().ok(), decoded.as_deref().unwrap_or(c.body())),
            None => (outer_type.clone(), msg.body()),
        };
        let sender = from.uri.as_str().to_owned();
        let now_secs = cx.unix_secs();
        let aor = cx.cfg.aor.as_str().to_owned();
        let envelope = cpim.as_ref().map(|c| Envelope::of(c, &aor));

        if content_type
            .as_ref()
            .is_some_and(|t| t.is(MESSAGE_IMDN_CONTENT_TYPE))
        {
            return match Notification::decode(body) {
                Ok(n) => {
                    cx.respond(msg, 200, "OK", &[]);
                    // A retransmission, or the same notification again (its own
                    // imdn.Message-ID, RFC 5438 §6.3): answered, reported once.
                    let own_id = envelope.as_ref().and_then(|e| e.message_id.as_deref());
                    if !self.first_time(call_id, cseq.seq, own_id) {
                        return None;
                    }
                    let at = envelope
                        .as_ref()
                        .and_then(|e| e.date_time)
                        .unwrap_or(now_secs);
                    Some(Received::Notification(ImdnReceived {
                        message_id: n.message_id,
                        from: envelope.and_then(|e| e.from).unwrap_or(sender),
                        kind: n.kind,
                        status: n.status,
                        at: iso8601(at),
                    }))
                }
                Err(e) => {
                    cx.respond(msg, 400, "Bad Request (malformed message/imdn+xml)", &[]);
                    cx.emit(Event::Dropped {
                        reason: format!("malformed disposition notification: {e}"),
                    });
                    None
                }
            };
        }
        if content_type
            .as_ref()
            .is_some_and(|t| t.is(ISCOMPOSING_CONTENT_TYPE))
        {
            return match IsComposing::decode(body) {
                Ok(doc) => {
                    cx.respond(msg, 200, "OK", &[]);
                    Some(Received::Composing { from: sender, doc })
                }
                // RFC 3994's schema types <state> as a string: a state of another
                // extension ("paused") is not an error, and it is not "active" —
                // taken as idle (it was refused 400).
                Err(crate::im::iscomposing::IsComposingError::UnknownState(_)) => {
                    cx.respond(msg, 200, "OK", &[]);
                    let doc = IsComposing::new(crate::im::iscomposing::State::Idle);
                    Some(Received::Composing { from: sender, doc })
                }
                Err(e) => {
                    cx.respond(msg, 400, "Bad Request (malformed im-iscomposing+xml)", &[]);
                    cx.emit(Event::Dropped {
                        reason: format!("malformed composition indication: {e}"),
                    });
                    None
                }
            };
        }
        // The notification target (RFC 5438 §7.1: the CPIM From of the message).
        let request = envelope.as_ref().and_then(|e| {
            let id = e.message_id.clone()?;
            let peer = e
                .from
                .as_deref()
                .and_then(|u| Uri::parse(u).ok())
                .filter(|u| u.is_sip() || matches!(u.scheme(), Scheme::Tel))
                .unwrap_or_else(|| from.uri.clone());
            Some(ImdnRequest {
                message_id: id,
                peer,
                original_recipient: e.original_to.clone().or_else(|| e.to.clone()),
                // RFC 5438 §7.2.1: the DateTime as the message wrote it; §6.3 requires
                // one, and without it, the time it arrived.
                date_time: e
                    .date_time_text
                    .clone()
                    .unwrap_or_else(|| iso8601(now_secs)),
                asked: e.asked,
            })
        });
        if let Some(ct) = &content_type {
            if !accepts(&cx.cfg.accept_types, ct) {
                // RFC 3261 §21.4.16: say what we accept.
                cx.respond(
                    msg,
                    415,
                    "Unsupported Media Type",
                    &[(HeaderName::Accept, message_accept(&cx.cfg.accept_types))],
                );
                // RFC 5438 §7.2.1.1: negative delivery is reported when asked.
                return request
                    .filter(|r| r.asked.negative_delivery)
                    .map(Received::Undeliverable);
            }
        }
        cx.respond(msg, 200, "OK", &[]);
        // RFC 3428 §7 / RFC 3261 §17.2.3: a retransmission is answered but delivered
        // once; RFC 5438 §6.3: so is a message whose Message-ID was seen.
        if !self.first_time(
            call_id,
            cseq.seq,
            request.as_ref().map(|r| r.message_id.as_str()),
        ) {
            return None;
        }
        // RFC 3261 §20.17: the time the request was first sent; from an IM Server, the
        // time a deferred message was stored.
        let sip_date = msg.date().ok().flatten().and_then(parse_sip_date);
        let date_time = envelope
            .as_ref()
            .and_then(|e| e.date_time)
            .or(sip_date)
            .map(iso8601);
        let message = IncomingMessage {
            from: sender,
            display_name: from.display.clone(),
            to: to.uri.as_str().to_owned(),
            content_type: content_type
                .map(|c| c.to_string())
                .unwrap_or_else(|| "text/plain".into()),
            body: body.to_vec(),
            deferred: sip_date.is_some(),
            date_time,
            message_id: request.as_ref().map(|r| r.message_id.clone()),
            imdn: request.as_ref().map(|r| r.asked).unwrap_or_default(),
            headers: msg
                .headers()
                .map(|(name, value)| (name.to_owned(), value.to_owned()))
                .collect(),
        };
        Some(Received::Message { message, request })
    }
}

/// The body types a MESSAGE may carry to us (RFC 3261 §20.1, for a 415 and the
/// answer to OPTIONS): the app's `accept_types` (`*/*` when it named none: every
/// type reaches it) and those the user agent reads itself — CPIM, disposition
/// notifications, composition indications.
pub(super) fn message_accept(app_types: &[String]) -> String {
    let mut accept = if app_types.is_empty() {
        "*/*".to_owned()
    } else {
        crate::message::text::join(app_types, ", ")
    };
    for t in [
        CPIM_CONTENT_TYPE,
        MESSAGE_IMDN_CONTENT_TYPE,
        ISCOMPOSING_CONTENT_TYPE,
    ] {
        accept.push_str(", ");
        accept.push_str(t);
    }
    accept
}

/// Whether a refusal lists `message/cpim` in its `Accept` (then the body inside was
/// the problem, not the envelope).
fn accepts_cpim(refusal: &Message) -> bool {
    refusal.header(HeaderName::Accept).is_some_and(|a| {
        a.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(CPIM_CONTENT_TYPE))
    })
}

fn remember<T>(window: &mut Vec<T>, item: T) {
    remember_at_most(window, item, DEDUP_WINDOW);
}

/// Appends `item`, forgetting the oldest beyond `max`. The windows of the chat
/// parts are small and rarely full: a vector costs less code than a deque.
pub(super) fn remember_at_most<T>(window: &mut Vec<T>, item: T, max: usize) {
    window.push(item);
    if window.len() > max {
        window.remove(0);
    }
}

/// The CPIM headers the user agent reads (RFC 3862, RFC 5438 §6).
struct Envelope {
    from: Option<String>,
    to: Option<String>,
    date_time: Option<u64>,
    /// `DateTime` as written, when it reads as RFC 3339.
    date_time_text: Option<String>,
    /// `imdn.Original-To`'s URI (RFC 5438 §6.4).
    original_to: Option<String>,
    message_id: Option<String>,
    asked: DispositionRequest,
}

impl Envelope {
    /// The envelope of `c`, received by `aor`: of several CPIM `To`s, the one that
    /// names us is the recipient the sender addressed (else the first).
    fn of(c: &CpimMessage, aor: &str) -> Envelope {
        let to_all = c.to_all();
        let to = to_all
            .iter()
            .find(|a| a.uri.eq_ignore_ascii_case(aor))
            .or(to_all.first())
            .map(|a| a.uri.clone());
        Envelope {
            from: c.from().map(|a| a.uri),
            to,
            date_time: c.date_time(),
            date_time_text: c.date_time_text().map(str::to_owned),
            original_to: c
                .header(imdn::CPIM_NS, imdn::ORIGINAL_TO_HEADER)
                .and_then(|v| CpimAddress::parse(&v))
                .map(|a| a.uri),
            message_id: c
                .header(imdn::CPIM_NS, imdn::MESSAGE_ID_HEADER)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            asked: c
                .header(imdn::CPIM_NS, imdn::DISPOSITION_NOTIFICATION_HEADER)
                .map(|v| DispositionRequest::parse(&v))
                .unwrap_or_default(),
        }
    }
}

/// What an incoming MESSAGE turned out to be (it has been answered).
#[derive(Debug)]
pub(super) enum Received {
    /// Content for the app; with what its sender asked to be told.
    Message {
        message: IncomingMessage,
        request: Option<ImdnRequest>,
    },
    /// A disposition notification about a message of ours.
    Notification(ImdnReceived),
    /// A peer's composition indication.
    Composing { from: String, doc: IsComposing },
    /// Content refused (415) whose sender asked for negative delivery reports.
    Undeliverable(ImdnRequest),
}

/// A received message's IMDN headers: what its notifications must say and where
/// they go.
#[derive(Debug, Clone)]
pub(super) struct ImdnRequest {
    /// `imdn.Message-ID`.
    pub message_id: String,
    /// Where notifications go: the CPIM From (RFC 5438 §7.1), else the SIP From.
    pub peer: Uri,
    /// The recipient the sender addressed: `imdn.Original-To` (RFC 5438 §6.4), else
    /// the CPIM To.
    pub original_recipient: Option<String>,
    /// The message's `DateTime` as it wrote it (when it had none, when it arrived).
    pub date_time: String,
    /// The notifications asked for.
    pub asked: DispositionRequest,
}
