//! The IM Server's policy (OMA IM "IM Server A/B"): what the users' stored
//! `service-settings` change for pager-mode MESSAGEs. The document's elements and
//! what devcore does with each (the OMA IM text is not public; these are devcore's
//! choices, documented in README, "IM Server"):
//!
//! - `<isb-settings><incoming-session-barring active="true"/>`: MESSAGEs to the
//!   user are refused `403 Forbidden (incoming session barring)` with
//!   `Warning: 399 <domain> "incoming session barring active"`; the user's own
//!   outgoing MESSAGEs are not affected.
//! - `<deferred-settings><offline-delivery active="true"/>`: a MESSAGE to the user
//!   while no contact is registered, or when no contact answered, is stored
//!   (SQLite) and answered `202 Accepted`. When the user registers again, the
//!   stored messages are delivered one at a time in order, each with a `Date`
//!   header holding the time it was stored (RFC 3261 §20.17), and removed once a
//!   2xx comes back. Limits per user (count, bytes, age) are flags; over them the
//!   MESSAGE gets 480 with a Warning. Inactive: 480 for an unregistered user.
//! - `<hist-settings><hist-activation active="true"/>`: MESSAGEs the user sends
//!   or receives (delivered or stored) are kept with time, peer and direction,
//!   and read back with a one-shot `SUBSCRIBE Event: im-history`
//!   ([`imsip::im::history`]). Switching it off keeps what was kept.
//! - `<vis-settings>`: stored only (devcore answers OPTIONS itself and has no
//!   presence service, so visibility changes nothing anyone can observe).
//!
//! # What a MESSAGE carries (chat, notifications, typing)
//!
//! Every MESSAGE body is relayed, stored and delivered exactly as received,
//! bytes and Content-Type (a `message/cpim` envelope, an IMDN, bytes that are
//! not UTF-8): only the history keeps a text copy. What the IM Server keeps
//! depends on what the MESSAGE carries, read once when it arrives
//! ([`MessageContent`]: its Content-Type, and for `message/cpim` (RFC 3862) the
//! envelope's inner Content-Type; an envelope that cannot be decoded is chat
//! content):
//!
//! | content | recipient offline, offline delivery on | history |
//! |---|---|---|
//! | chat (anything else) | stored, 202 | kept |
//! | disposition notification (`message/imdn+xml`, bare or in CPIM, RFC 5438) | stored, 202: the sender of the original waits for it | never |
//! | composing indication (`application/im-iscomposing+xml`, bare or in CPIM, RFC 3994) | 480, never stored: stale by the time the user is back (RFC 3994 §3.3) | never |
//!
//! A chat message stored in CPIM whose `imdn.Disposition-Notification` asks
//! for `processing` (the `imdn` prefix resolved through the envelope's `NS`
//! headers) makes the IM Server, as the intermediary holding it, send its
//! sender a `stored` processing notification (RFC 5438 §5.2, §8;
//! `stored_notice.rs` draws it). It never sends `delivered` or `displayed` on
//! the recipient's behalf: those come from the recipient's client, which gets
//! the message, IMDN request included, at its next registration. A sender
//! that is offline gets nothing.

use crate::core::Cx;
use crate::flows::ConnId;
use crate::message_store::Deferred;
use crate::registrar::Registrar;
use crate::store::Store;
use crate::timers::{Now, Timer};
use crate::users::User;
use crate::util::random_hex;
use imsip::im::history::{self, Direction, HistoryEntry, HistoryQuery, HISTORY_CONTENT_TYPE};
use imsip::message::date::sip_date;
use imsip::message::{branch, HeaderName, Message, MessageBuilder, Method};
use imsip::settings::{Entity, ServiceSettings};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tracing::{error, info, warn};

pub(crate) use content::{ContentKind, MessageContent};
use stored_notice::StoredNotices;

/// Limits on what the IM Server keeps for one offline user.
#[derive(Debug, Clone)]
pub(crate) struct DeferredLimits {
    /// Most messages kept per user.
    pub max_count: u64,
    /// Most body bytes kept per user.
    pub max_bytes: u64,
    /// Messages older than this are dropped.
    pub max_age: Duration,
}

impl Default for DeferredLimits {
    fn default() -> Self {
        DeferredLimits {
            max_count: 100,
            max_bytes: 1024 * 1024,
            max_age: Duration::from_secs(7 * 86_400),
        }
    }
}

/// A MESSAGE on its way to a local user, as the policy sees it.
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    /// The sender's AoR, as authenticated (`sip:user@host`).
    pub sender: &'a str,
    /// The local user the Request-URI names.
    pub recipient: &'a User,
    /// The request, as received.
    pub request: &'a Message,
    /// What it carries ([`MessageContent::of`] the request, read once by the
    /// proxy).
    pub content: &'a MessageContent,
    /// Whether the recipient has a current registration (a contact to
    /// relay to).
    pub online: bool,
    /// The time of this step.
    pub now: Now,
}

/// What the proxy does with an [`Incoming`] MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Relay it to the recipient's contacts.
    Relay,
    /// Answer the sender with `status` and `reason`, plus a
    /// `Warning: 399 <domain> "warning"` when `warning` is given; relay
    /// nothing.
    Refuse {
        /// A final status, 300–699.
        status: u16,
        /// The reason phrase.
        reason: String,
        /// The text of a 399 Warning, if any.
        warning: Option<String>,
    },
    /// The policy has kept the request for later delivery: the proxy
    /// answers 202 Accepted and relays nothing.
    Store,
}

/// A deferred message on its way to its recipient.
#[derive(Debug)]
struct Delivery {
    id: u64,
    stored: Deferred,
}

/// The IM Server's state: deliveries of deferred messages in flight, and the
/// `stored` notifications waiting for their answers.
#[derive(Debug, Default)]
pub(crate) struct ImServer {
    limits: DeferredLimits,
    /// By our branch.
    deliveries: HashMap<String, Delivery>,
    /// Recipients with a delivery in flight (one message at a time, in order).
    delivering: HashSet<String>,
    next: u64,
    notices: StoredNotices,
    /// Unit tests of the proxy set the disposition here.
    #[cfg(test)]
    pub fixed: Option<Disposition>,
}

/// The settings entity of `aor` in its stored `service-settings` document.
fn settings_of(store: &dyn Store, aor: &str, now: u64) -> Option<Entity> {
    let p = match store.publication(aor, "service-settings", now) {
        Ok(p) => p?,
        Err(e) => {
            error!(error = %e, "database error");
            return None;
        }
    };
    let doc = ServiceSettings::decode(&p.document).ok()?;
    doc.for_entity(aor)
        .or_else(|| doc.entities.first())
        .cloned()
}

fn history_active(store: &dyn Store, aor: &str, now: u64) -> bool {
    settings_of(store, aor, now)
        .and_then(|e| e.history)
        .is_some_and(|h| h.active)
}

/// One message as history would keep it (one row per party).
struct Said<'a> {
    /// Only chat content is kept.
    kind: ContentKind,
    /// Its Content-Type as written.
    content_type: &'a str,
    /// Its body's bytes.
    body: &'a [u8],
    /// When it was sent or stored (Unix seconds).
    time: u64,
}

/// The Content-Type of `req` as written (trimmed; empty without one): what a
/// stored message is delivered with, and what history shows.
fn content_type_of(req: &Message) -> String {
    req.header(HeaderName::ContentType)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

impl ImServer {
    /// An IM Server with these limits.
    pub fn new(limits: DeferredLimits) -> ImServer {
        ImServer {
            limits,
            ..ImServer::default()
        }
    }

    /// Decides what happens to `incoming`.
    pub fn on_incoming(&mut self, incoming: &Incoming<'_>, store: &mut dyn Store) -> Disposition {
        #[cfg(test)]
        if let Some(d) = self.fixed.clone() {
            return d;
        }
        let recipient = &incoming.recipient.aor;
        if let Some(refusal) = Self::barring(store, recipient, incoming.now.unix) {
            info!(to = %recipient, "MESSAGE barred (incoming session barring)");
            return refusal;
        }
        if incoming.online {
            return Disposition::Relay;
        }
        if Self::keeps_for_later(store, incoming) {
            return self.store_for_later(incoming, store);
        }
        Disposition::Refuse {
            status: 480,
            reason: "Temporarily Unavailable".into(),
            warning: None,
        }
    }

    /// Whether `incoming`, undeliverable now, is stored for the recipient's
    /// next registration: when their offline delivery is on, unless it is a
    /// composition indication (never stored: see [`ContentKind`]).
    fn keeps_for_later(store: &dyn Store, incoming: &Incoming<'_>) -> bool {
        if incoming.content.kind == ContentKind::ComposingIndication {
            info!(to = %incoming.recipient.aor, "composing indication for an offline user: not stored");
            return false;
        }
        settings_of(store, &incoming.recipient.aor, incoming.now.unix)
            .is_some_and(|e| e.offline_delivery == Some(true))
    }

    /// The refusal of anything incoming (MESSAGE or session INVITE) to `recipient`
    /// while its incoming session barring is active; `None` otherwise.
    pub fn barring(store: &dyn Store, recipient: &str, now: u64) -> Option<Disposition> {
        settings_of(store, recipient, now)
            .is_some_and(|e| e.incoming_session_barring == Some(true))
            .then(|| Disposition::Refuse {
                status: 403,
                reason: "Forbidden (incoming session barring)".into(),
                warning: Some("incoming session barring active".into()),
            })
    }

    /// A relayed MESSAGE got no 2xx from any contact: stored when the recipient
    /// has offline delivery on (`true`: the proxy answers 202).
    pub fn on_unanswered(&mut self, incoming: &Incoming<'_>, store: &mut dyn Store) -> bool {
        Self::keeps_for_later(store, incoming)
            && self.store_for_later(incoming, store) == Disposition::Store
    }

    /// `incoming` was stored and the proxy has answered 202: its sender hears
    /// `stored` when it asked for processing notifications
    /// ([`StoredNotices::on_stored`]).
    pub fn on_stored(&mut self, cx: &mut Cx<'_>, incoming: &Incoming<'_>, registrar: &Registrar) {
        self.notices.on_stored(cx, incoming, registrar);
    }

    fn store_for_later(&mut self, incoming: &Incoming<'_>, store: &mut dyn Store) -> Disposition {
        let now = incoming.now.unix;
        let recipient = &incoming.recipient.aor;
        let req = incoming.request;
        let full = || Disposition::Refuse {
            status: 480,
            reason: "Temporarily Unavailable".into(),
            warning: Some("offline storage for this user is full".into()),
        };
        let _ = store.purge_deferred(now.saturating_sub(self.limits.max_age.as_secs()));
        let (count, bytes) = match store.deferred_usage(recipient) {
            Ok(u) => u,
            Err(e) => {
                error!(error = %e, "database error");
                return full();
            }
        };
        if count + 1 > self.limits.max_count
            || bytes + req.body().len() as u64 > self.limits.max_bytes
        {
            warn!(to = %recipient, count, bytes, "offline storage full");
            return full();
        }
        // The Content-Type as written and the body's bytes: delivered later
        // exactly as they came (a CPIM envelope, a notification, any bytes).
        let m = Deferred {
            id: 0,
            recipient: recipient.clone(),
            sender: incoming.sender.to_owned(),
            from: req.header("From").unwrap_or_default().to_owned(),
            content_type: content_type_of(req),
            body: req.body().to_vec(),
            stored_at: now,
        };
        if let Err(e) = store.defer(&m) {
            error!(error = %e, "database error");
            return full();
        }
        info!(to = %recipient, kind = ?incoming.content.kind, "MESSAGE stored for deferred delivery");
        let said = Said {
            kind: incoming.content.kind,
            content_type: &m.content_type,
            body: &m.body,
            time: now,
        };
        Self::record(store, incoming.sender, Direction::Sent, recipient, &said);
        Disposition::Store
    }

    /// Adds what was `said` to `owner`'s history when their history setting
    /// is on and it is chat content: disposition notifications and
    /// composition indications are signalling about messages, not messages
    /// (see [`ContentKind`]).
    fn record(store: &mut dyn Store, owner: &str, dir: Direction, peer: &str, said: &Said<'_>) {
        if said.kind != ContentKind::Chat || !history_active(store, owner, said.time) {
            return;
        }
        let e = HistoryEntry {
            id: String::new(),
            direction: dir,
            peer: peer.to_owned(),
            time: said.time,
            content_type: said.content_type.to_owned(),
            body: said.body.to_vec(),
        };
        if let Err(e) = store.add_history(owner, &e) {
            error!(error = %e, "database error");
        }
    }

    /// A relayed MESSAGE was delivered (a 2xx went back to the sender): both
    /// parties' histories, where active and when it is chat content.
    pub fn on_delivered(&mut self, store: &mut dyn Store, incoming: &Incoming<'_>) {
        let (sender, recipient) = (incoming.sender, incoming.recipient.aor.as_str());
        let content_type = content_type_of(incoming.request);
        let said = Said {
            kind: incoming.content.kind,
            content_type: &content_type,
            body: incoming.request.body(),
            time: incoming.now.unix,
        };
        Self::record(store, sender, Direction::Sent, recipient, &said);
        Self::record(store, recipient, Direction::Received, sender, &said);
    }

    /// `aor` registered: deliver what was stored for it, oldest first.
    pub fn on_registered(&mut self, cx: &mut Cx<'_>, aor: &str, registrar: &Registrar) {
        if !self.delivering.contains(aor) {
            self.deliver_next(cx, aor, registrar);
        }
    }

    fn deliver_next(&mut self, cx: &mut Cx<'_>, aor: &str, registrar: &Registrar) {
        self.delivering.remove(aor);
        let first = match cx.store.deferred_for(aor) {
            Ok(list) => list.into_iter().next(),
            Err(e) => {
                error!(error = %e, "database error");
                None
            }
        };
        let Some(stored) = first else { return };
        let Some((uri, conn)) = registrar
            .reachable(aor, cx.now.mono, cx.flows)
            .into_iter()
            .next()
        else {
            return;
        };
        let b = branch(&random_hex(10));
        let mut m = MessageBuilder::request(Method::Message, uri)
            .header("Via", format!("SIP/2.0/WS {};branch={b}", cx.cfg.sent_by))
            .header("Max-Forwards", 70)
            .header("From", &stored.from)
            .header("To", format!("<{aor}>"))
            .header("Call-ID", random_hex(16))
            .header("CSeq", "1 MESSAGE")
            // RFC 3261 §20.17: when the message was first sent (stored, here).
            .header("Date", sip_date(stored.stored_at))
            .header("P-Asserted-Identity", format!("<{}>", stored.sender));
        let ct = (!stored.content_type.is_empty()).then_some(stored.content_type.as_str());
        m = m.body(ct, stored.body.clone());
        if !cx.flows.send(conn, &m.build()) {
            return;
        }
        self.next += 1;
        let id = self.next;
        cx.timers
            .set(Timer::Delivery(id), cx.now.mono + cx.cfg.relay_timeout);
        self.delivering.insert(aor.to_owned());
        self.deliveries.insert(b, Delivery { id, stored });
    }

    /// A response to one of our deliveries (`false`: not ours).
    pub fn on_response(
        &mut self,
        cx: &mut Cx<'_>,
        branch: &str,
        status: u16,
        registrar: &Registrar,
    ) -> bool {
        if self.notices.on_response(cx, branch, status) {
            return true;
        }
        if !self.deliveries.contains_key(branch) {
            return false;
        }
        if status < 200 {
            return true;
        }
        let Some(d) = self.deliveries.remove(branch) else {
            return true;
        };
        cx.timers.stop(Timer::Delivery(d.id));
        let aor = d.stored.recipient.clone();
        self.delivering.remove(&aor);
        if (200..300).contains(&status) {
            if let Err(e) = cx.store.delete_deferred(d.stored.id) {
                error!(error = %e, "database error");
                return true;
            }
            info!(to = %aor, "deferred MESSAGE delivered");
            // Read from the stored copy: the same bytes the proxy classified
            // when it stored them.
            let said = Said {
                kind: MessageContent::classify(&d.stored.content_type, &d.stored.body).kind,
                content_type: &d.stored.content_type,
                body: &d.stored.body,
                time: d.stored.stored_at,
            };
            Self::record(cx.store, &aor, Direction::Received, &d.stored.sender, &said);
            self.deliver_next(cx, &aor, registrar);
        } else {
            warn!(to = %aor, status, "deferred MESSAGE refused: kept for the next registration");
        }
        true
    }

    /// [`Timer::Delivery`] fired: kept for the next registration.
    pub fn delivery_timed_out(&mut self, id: u64) {
        let Some(branch) = self
            .deliveries
            .iter()
            .find(|(_, d)| d.id == id)
            .map(|(b, _)| b.clone())
        else {
            return;
        };
        if let Some(d) = self.deliveries.remove(&branch) {
            self.delivering.remove(&d.stored.recipient);
        }
    }

    /// [`Timer::StoredNotice`] fired: that notification is given up.
    pub fn stored_notice_timed_out(&mut self, id: u64) {
        self.notices.timed_out(id);
    }

    /// `SUBSCRIBE Event: im-history` (a one-shot fetch): 200, then one NOTIFY
    /// with the user's history matching the query ([`imsip::im::history`]).
    pub fn on_history_subscribe(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        user: &User,
    ) {
        let (Ok(from), Ok(call_id), Ok(Some(event))) = (req.from(), req.call_id(), req.event())
        else {
            cx.flows.reply(conn, req, 400, "Bad Request", &[]);
            return;
        };
        let Some(contact) = req.contact_list().ok().and_then(|l| l.into_iter().next()) else {
            cx.flows.reply(
                conn,
                req,
                400,
                "Bad Request (SUBSCRIBE needs a Contact)",
                &[],
            );
            return;
        };
        let query = HistoryQuery::from_event(&event);
        let entries = match cx.store.history(&user.aor, &query) {
            Ok(e) => e,
            Err(e) => {
                error!(error = %e, "database error");
                cx.flows.reply(conn, req, 500, "Server Internal Error", &[]);
                return;
            }
        };
        let our_tag = random_hex(8);
        let im_server = format!("<sip:IM-Server@{};transport=ws>", cx.cfg.sent_by);
        // A fetch: the subscription ends with this one NOTIFY (RFC 6665 §4.4.3).
        cx.flows.reply_with(
            conn,
            req,
            200,
            "OK",
            &our_tag,
            &[("Expires", "0".into()), ("Contact", im_server.clone())],
        );
        let b = branch(&random_hex(10));
        let notify = MessageBuilder::request(Method::Notify, contact.uri)
            .header("Via", format!("SIP/2.0/WS {};branch={b}", cx.cfg.sent_by))
            .header("Max-Forwards", 70)
            .header("From", format!("<{}>;tag={our_tag}", user.aor))
            .header("To", req.header("From").unwrap_or_default())
            .header("Call-ID", call_id)
            .header("CSeq", "1 NOTIFY")
            .header("Contact", im_server)
            .header("Event", history::HISTORY_EVENT)
            .header("Subscription-State", "terminated;reason=timeout")
            .body(Some(HISTORY_CONTENT_TYPE), history::encode(&entries))
            .build();
        let _ = from;
        cx.flows.send(conn, &notify);
    }
}

mod content;
mod stored_notice;
#[cfg(test)]
mod tests;
