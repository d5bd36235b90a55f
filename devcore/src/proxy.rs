//! The proxy: requests to a local user relayed to every registered contact
//! (parallel forking), responses matched by the branch of our Via and the
//! best one passed back upstream (RFC 3261 §16.7, simplified). Today it
//! relays MESSAGE (RFC 3428), after consulting the IM server's policy.
//!
//! The relay itself is method-agnostic: a [`Relay`] is one upstream request
//! and its downstream legs, each leg keyed by the branch of the Via we put on
//! top; [`Timer::Relay`] ends the wait. INVITE sessions, which add forwarded
//! 1xx, CANCEL, the ACK of a non-2xx hop by hop, Timer C, Record-Route and
//! the requests inside dialogs, are relayed by [`invite::SessionProxy`].
//!
//! Relays live in memory only. A relay never sends to a closed flow; a leg
//! whose flow closes counts as not answering.
//!
//! The body goes on untouched, whatever it is (`message/cpim` envelopes,
//! `message/imdn+xml` notifications, `application/im-iscomposing+xml`, bytes
//! that are not UTF-8): the IM Server reads what a MESSAGE carries
//! ([`MessageContent`]) once, when it arrives, to decide what it keeps, and
//! never changes it.

use crate::core::Cx;
use crate::flows::ConnId;
use crate::im_server::{Disposition, ImServer, Incoming, MessageContent};
use crate::registrar::Registrar;
use crate::timers::Timer;
use crate::users::aor_key;
use crate::util::random_hex;
use imsip::message::{branch, warning_399, HeaderName, Message, MessageBuilder, Uri};
use std::collections::{HashMap, HashSet};
use tracing::{info, warn};

pub(crate) mod invite;

/// One relayed request: the upstream side (who sent it, what it was) and
/// the state of its downstream legs.
#[derive(Debug)]
struct Relay {
    /// The flow the request came from.
    origin: ConnId,
    /// The request, as received (for a 480 of our own).
    request: Message,
    /// What it carries, read when it arrived.
    content: MessageContent,
    /// The branches of the legs still waiting for a final response.
    pending: HashSet<String>,
    /// The best final non-2xx response so far, its top Via removed.
    best: Option<Message>,
    /// A 2xx went upstream: nothing else will.
    answered: bool,
}

/// One downstream leg: which relay it belongs to and the flow it went out on.
#[derive(Debug)]
struct Leg {
    relay: u64,
    conn: ConnId,
}

/// A forwarded request waiting on its legs (a MESSAGE relay or an INVITE relay).
trait Forked {
    /// The branches of the legs still waiting for a final response.
    fn pending(&mut self) -> &mut HashSet<String>;
}

/// One leg of a forwarded request.
trait ForkLeg {
    fn relay(&self) -> u64;
    fn conn(&self) -> ConnId;
}

impl Forked for Relay {
    fn pending(&mut self) -> &mut HashSet<String> {
        &mut self.pending
    }
}

impl ForkLeg for Leg {
    fn relay(&self) -> u64 {
        self.relay
    }
    fn conn(&self) -> ConnId {
        self.conn
    }
}

/// The flow `conn` closed: its legs are forgotten and count as not answering.
/// Returns the relays left with no leg pending, for the caller to finish (a relay
/// may appear twice; finishing is idempotent).
fn legs_lost<L: ForkLeg, R: Forked>(
    legs: &mut HashMap<String, L>,
    relays: &mut HashMap<u64, R>,
    conn: ConnId,
) -> Vec<u64> {
    let gone: Vec<(String, u64)> = legs
        .iter()
        .filter(|(_, l)| l.conn() == conn)
        .map(|(b, l)| (b.clone(), l.relay()))
        .collect();
    let mut done = Vec::new();
    for (branch, relay) in gone {
        legs.remove(&branch);
        let empty = relays.get_mut(&relay).is_some_and(|r| {
            let pending = r.pending();
            pending.remove(&branch);
            pending.is_empty()
        });
        if empty {
            done.push(relay);
        }
    }
    done
}

/// Every relay in progress.
#[derive(Debug, Default)]
pub(crate) struct Proxy {
    relays: HashMap<u64, Relay>,
    /// Our branch → its leg.
    legs: HashMap<String, Leg>,
    last_id: u64,
}

/// A response with the top Via removed, to pass back upstream; `None` if it
/// has fewer than two Vias.
pub(crate) fn strip_top_via(resp: &Message) -> Option<Message> {
    let vias = resp.via().ok()?;
    if vias.len() < 2 {
        return None;
    }
    let mut b = MessageBuilder::response(resp.status()?, resp.reason()?);
    let mut done = false;
    for (name, value) in resp.headers() {
        let n = HeaderName::parse(name);
        if n == HeaderName::Via {
            if !done {
                for v in vias.iter().skip(1) {
                    b.push_header(HeaderName::Via, v);
                }
                done = true;
            }
            continue;
        }
        b.push_header(n, value);
    }
    Some(b.body(None, resp.body().to_vec()).build())
}

/// The (sender, recipient) AoRs of a relayed request: From and Request-URI.
fn parties(req: &Message) -> (String, String) {
    let sender = req
        .from()
        .ok()
        .and_then(|f| aor_key(&f.uri))
        .unwrap_or_default();
    let recipient = req.request_uri().and_then(aor_key).unwrap_or_default();
    (sender, recipient)
}

/// Of two final non-2xx responses, the one to pass upstream (RFC 3261
/// §16.7 step 6, simplified: a 6xx wins, then the lowest status).
pub(crate) fn better(a: Option<Message>, b: Message) -> Message {
    let Some(a) = a else { return b };
    let (sa, sb) = (a.status().unwrap_or(999), b.status().unwrap_or(999));
    let key = |s: u16| if (600..700).contains(&s) { 0 } else { s };
    if key(sb) < key(sa) {
        b
    } else {
        a
    }
}

impl Proxy {
    /// A MESSAGE from an authenticated sender on `conn`: 404 unless the
    /// Request-URI is a local user; then the IM server's policy decides
    /// (relay, refuse, or store); then 404 if the user has no contact, 483
    /// when Max-Forwards is spent, else the relay (480 if no leg could be
    /// sent).
    pub fn on_message(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        registrar: &Registrar,
        im_server: &mut ImServer,
    ) {
        let target = req.request_uri().and_then(aor_key);
        let Some(recipient) = target.and_then(|t| cx.users.by_aor(&t)) else {
            cx.flows.reply(conn, req, 404, "Not Found", &[]);
            return;
        };
        // A user whose every flow closed (a tab closed without un-REGISTERing)
        // is offline: the IM Server's offline delivery applies.
        let contacts = registrar.reachable(&recipient.aor, cx.now.mono, cx.flows);
        let sender = req
            .from()
            .ok()
            .and_then(|f| aor_key(&f.uri))
            .unwrap_or_default();
        let content = MessageContent::of(req);
        let incoming = Incoming {
            sender: &sender,
            recipient,
            request: req,
            content: &content,
            online: !contacts.is_empty(),
            now: cx.now,
        };
        match im_server.on_incoming(&incoming, cx.store) {
            Disposition::Relay => {}
            Disposition::Refuse {
                status,
                reason,
                warning,
            } => {
                let headers: Vec<(&str, String)> = warning
                    .map(|w| ("Warning", warning_399(&cx.cfg.domain, &w)))
                    .into_iter()
                    .collect();
                info!(conn, to = %recipient.aor, status, "MESSAGE refused by the IM server");
                cx.flows.reply(conn, req, status, &reason, &headers);
                return;
            }
            Disposition::Store => {
                info!(conn, to = %recipient.aor, "MESSAGE stored by the IM server");
                cx.flows.reply(conn, req, 202, "Accepted", &[]);
                im_server.on_stored(cx, &incoming, registrar);
                return;
            }
        }
        if contacts.is_empty() {
            cx.flows
                .reply(conn, req, 480, "Temporarily Unavailable", &[]);
            return;
        }
        let max_forwards = match req.max_forwards().ok().flatten() {
            Some(0) => {
                cx.flows.reply(conn, req, 483, "Too Many Hops", &[]);
                return;
            }
            Some(n) => n - 1,
            None => 70,
        };
        if !self.relay(cx, conn, &incoming, contacts, max_forwards) {
            cx.flows
                .reply(conn, req, 480, "Temporarily Unavailable", &[]);
        }
    }

    /// Forwards a copy of `incoming`'s request to every target (a contact URI
    /// and its flow) with our Via on top, Max-Forwards `max_forwards`, no
    /// Route and `P-Asserted-Identity` of its authenticated sender (whatever
    /// the sender claimed), its body as received, and starts waiting for the
    /// answers. `false` when no leg could be sent (nothing is then kept).
    fn relay(
        &mut self,
        cx: &mut Cx<'_>,
        origin: ConnId,
        incoming: &Incoming<'_>,
        targets: Vec<(Uri, ConnId)>,
        max_forwards: u8,
    ) -> bool {
        let (req, asserted) = (incoming.request, incoming.sender);
        let Some(method) = req.method() else {
            return false;
        };
        self.last_id += 1;
        let id = self.last_id;
        let mut pending = HashSet::new();
        for (uri, to_conn) in targets {
            let branch = branch(&random_hex(10));
            let mut b = MessageBuilder::request(method.clone(), uri).header(
                "Via",
                format!("SIP/2.0/WS {};branch={branch}", cx.cfg.sent_by),
            );
            b.push_header("Max-Forwards", max_forwards);
            for (name, value) in req.headers() {
                let n = HeaderName::parse(name);
                let skip = matches!(
                    n,
                    HeaderName::Route
                        | HeaderName::MaxForwards
                        | HeaderName::ProxyAuthorization
                        | HeaderName::PAssertedIdentity
                        | HeaderName::PPreferredIdentity
                );
                if !skip {
                    b.push_header(n, value);
                }
            }
            b.push_header("P-Asserted-Identity", format!("<{asserted}>"));
            let fwd = b.body(None, req.body().to_vec()).build();
            if cx.flows.send(to_conn, &fwd) {
                self.legs.insert(
                    branch.clone(),
                    Leg {
                        relay: id,
                        conn: to_conn,
                    },
                );
                pending.insert(branch);
            }
        }
        if pending.is_empty() {
            return false;
        }
        self.relays.insert(
            id,
            Relay {
                origin,
                request: req.clone(),
                content: incoming.content.clone(),
                pending,
                best: None,
                answered: false,
            },
        );
        cx.timers
            .set(Timer::Relay(id), cx.now.mono + cx.cfg.relay_timeout);
        true
    }

    /// A response whose top Via has `branch`: `true` when it belongs to one
    /// of our legs. A provisional one is absorbed; the first 2xx goes
    /// upstream at once; otherwise the best final answer goes once every leg
    /// has answered.
    pub fn on_response(
        &mut self,
        cx: &mut Cx<'_>,
        branch: &str,
        resp: &Message,
        im_server: &mut ImServer,
        registrar: &Registrar,
    ) -> bool {
        let Some(leg) = self.legs.get(branch) else {
            return false;
        };
        let relay_id = leg.relay;
        let status = resp.status().unwrap_or(0);
        if status < 200 {
            return true;
        }
        self.legs.remove(branch);
        let fwd = strip_top_via(resp);
        let mut done = false;
        if let Some(r) = self.relays.get_mut(&relay_id) {
            r.pending.remove(branch);
            match fwd {
                Some(m) if (200..300).contains(&status) => {
                    if !r.answered {
                        r.answered = true;
                        cx.flows.send(r.origin, &m);
                        let (sender, recipient) = parties(&r.request);
                        if let Some(user) = cx.users.by_aor(&recipient) {
                            let incoming = Incoming {
                                sender: &sender,
                                recipient: user,
                                request: &r.request,
                                content: &r.content,
                                online: true,
                                now: cx.now,
                            };
                            im_server.on_delivered(cx.store, &incoming);
                        }
                    }
                }
                Some(m) => {
                    if !r.answered {
                        r.best = Some(better(r.best.take(), m));
                    }
                }
                None => warn!(%branch, "relayed response with a single Via dropped"),
            }
            done = r.pending.is_empty();
        }
        if done {
            self.finish(cx, relay_id, im_server, registrar);
        }
        true
    }

    /// Ends relay `id`: unless a 2xx went upstream already, the best answer
    /// goes (or 480 when none came).
    fn finish(
        &mut self,
        cx: &mut Cx<'_>,
        id: u64,
        im_server: &mut ImServer,
        registrar: &Registrar,
    ) {
        cx.timers.stop(Timer::Relay(id));
        let Some(r) = self.relays.remove(&id) else {
            return;
        };
        for b in &r.pending {
            self.legs.remove(b);
        }
        if r.answered {
            return;
        }
        // No contact accepted it: the IM Server may keep it for later (202).
        let unanswered = r
            .best
            .as_ref()
            .is_none_or(|m| matches!(m.status(), Some(408 | 480)));
        if unanswered {
            let (sender, recipient) = parties(&r.request);
            if let Some(user) = cx.users.by_aor(&recipient) {
                let incoming = Incoming {
                    sender: &sender,
                    recipient: user,
                    request: &r.request,
                    content: &r.content,
                    online: false,
                    now: cx.now,
                };
                if im_server.on_unanswered(&incoming, cx.store) {
                    cx.flows.reply(r.origin, &r.request, 202, "Accepted", &[]);
                    im_server.on_stored(cx, &incoming, registrar);
                    return;
                }
            }
        }
        match r.best {
            Some(m) => {
                cx.flows.send(r.origin, &m);
            }
            None => cx
                .flows
                .reply(r.origin, &r.request, 480, "Temporarily Unavailable", &[]),
        }
    }

    /// [`Timer::Relay`] fired: the legs still silent are given up.
    pub fn relay_timed_out(
        &mut self,
        cx: &mut Cx<'_>,
        id: u64,
        im_server: &mut ImServer,
        registrar: &Registrar,
    ) {
        self.finish(cx, id, im_server, registrar);
    }

    /// The flow `conn` closed: its legs count as not answering.
    pub fn close(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        im_server: &mut ImServer,
        registrar: &Registrar,
    ) {
        for relay in legs_lost(&mut self.legs, &mut self.relays, conn) {
            self.finish(cx, relay, im_server, registrar);
        }
    }
}

#[cfg(test)]
mod tests;
