//! The proxy: requests to a local user relayed to every registered contact
//! (parallel forking), responses matched by the branch of our Via and the
//! best one passed back upstream (RFC 3261 §16.7, simplified). Today it
//! relays MESSAGE (RFC 3428), after consulting the IM server's policy.
//!
//! The relay itself is method-agnostic: a [`Relay`] is one upstream request
//! and its downstream legs, each leg keyed by the branch of the Via we put on
//! top; [`Timer::Relay`] ends the wait. What INVITE would add is listed where
//! it belongs: forwarding 1xx, CANCEL matched to a relay by the upstream
//! branch, ACK of a non-2xx hop by hop, Timer C instead of one deadline.
//!
//! Relays live in memory only. A relay never sends to a closed flow; a leg
//! whose flow closes counts as not answering.

use crate::core::Cx;
use crate::flows::ConnId;
use crate::im_server::{Disposition, ImServer, Incoming};
use crate::registrar::Registrar;
use crate::timers::Timer;
use crate::users::aor_key;
use crate::util::random_hex;
use imsip::message::{branch, warning_399, HeaderName, Message, MessageBuilder, Uri};
use std::collections::{HashMap, HashSet};
use tracing::{debug, info, warn};

/// One relayed request: the upstream side (who sent it, what it was) and
/// the state of its downstream legs.
#[derive(Debug)]
struct Relay {
    /// The flow the request came from.
    origin: ConnId,
    /// The request, as received (for a 480 of our own).
    request: Message,
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
fn strip_top_via(resp: &Message) -> Option<Message> {
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

/// Of two final non-2xx responses, the one to pass upstream (RFC 3261
/// §16.7 step 6, simplified: a 6xx wins, then the lowest status).
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

fn better(a: Option<Message>, b: Message) -> Message {
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
        let contacts = registrar.contacts(&recipient.aor, cx.now.mono);
        let sender = req
            .from()
            .ok()
            .and_then(|f| aor_key(&f.uri))
            .unwrap_or_default();
        let incoming = Incoming {
            sender: &sender,
            recipient,
            request: req,
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
        if !self.relay(cx, conn, req, contacts, max_forwards, &sender) {
            cx.flows
                .reply(conn, req, 480, "Temporarily Unavailable", &[]);
        }
    }

    /// Forwards a copy of `req` to every target (a contact URI and its flow)
    /// with our Via on top, Max-Forwards `max_forwards`, no Route and
    /// `P-Asserted-Identity: <asserted>` (whatever the sender claimed), and
    /// starts waiting for the answers. `false` when no leg could be sent
    /// (nothing is then kept).
    fn relay(
        &mut self,
        cx: &mut Cx<'_>,
        origin: ConnId,
        req: &Message,
        targets: Vec<(Uri, ConnId)>,
        max_forwards: u8,
        asserted: &str,
    ) -> bool {
        let Some(method) = req.method() else {
            return false;
        };
        self.last_id += 1;
        let id = self.last_id;
        let mut pending = HashSet::new();
        for (uri, to_conn) in targets {
            if !cx.flows.is_open(to_conn) {
                debug!(conn = to_conn, "flow closed: contact skipped");
                continue;
            }
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
                        im_server.on_delivered(cx.store, &sender, &recipient, &r.request, cx.now);
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
            self.finish(cx, relay_id, im_server);
        }
        true
    }

    /// Ends relay `id`: unless a 2xx went upstream already, the best answer
    /// goes (or 480 when none came).
    fn finish(&mut self, cx: &mut Cx<'_>, id: u64, im_server: &mut ImServer) {
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
                    online: false,
                    now: cx.now,
                };
                if im_server.on_unanswered(&incoming, cx.store) {
                    cx.flows.reply(r.origin, &r.request, 202, "Accepted", &[]);
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
    pub fn relay_timed_out(&mut self, cx: &mut Cx<'_>, id: u64, im_server: &mut ImServer) {
        self.finish(cx, id, im_server);
    }

    /// The flow `conn` closed: its legs count as not answering.
    pub fn close(&mut self, cx: &mut Cx<'_>, conn: ConnId, im_server: &mut ImServer) {
        let gone: Vec<(String, u64)> = self
            .legs
            .iter()
            .filter(|(_, l)| l.conn == conn)
            .map(|(b, l)| (b.clone(), l.relay))
            .collect();
        for (branch, relay) in gone {
            self.legs.remove(&branch);
            let done = self.relays.get_mut(&relay).is_some_and(|r| {
                r.pending.remove(&branch);
                r.pending.is_empty()
            });
            if done {
                self.finish(cx, relay, im_server);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{request, Kit};
    use imsip::message::Method;
    use std::time::Duration;

    const ALICE: &str = "sip:alice@imsip.test";
    const BOB: &str = "sip:bob@imsip.test";

    /// A proxy, a registrar, alice's flow and a flow for each of bob's
    /// `n` registered instances.
    fn setup(n: u32) -> (Kit, Proxy, Registrar, ConnId, Vec<ConnId>) {
        let mut kit = Kit::new();
        let mut reg = Registrar::default();
        let alice = kit.conn();
        let bob = kit.user(BOB);
        let mut bobs = Vec::new();
        for i in 1..=n {
            let conn = kit.conn();
            let contact = format!(
                "<sip:b{i}@h.invalid;transport=ws>;+sip.instance=\"<urn:uuid:{i}>\";reg-id=1"
            );
            let req = request(Method::Register, "sip:imsip.test", BOB, i)
                .header("Contact", contact)
                .build();
            reg.on_register(&mut kit.cx(), conn, &req, &bob);
            assert_eq!(kit.last(conn).status(), Some(200));
            bobs.push(conn);
        }
        (kit, Proxy::default(), reg, alice, bobs)
    }

    fn message(to: &str) -> Message {
        request(Method::Message, to, ALICE, 1)
            .header("Route", "<sip:orig@scscf.imsip.test;lr>")
            .header("P-Asserted-Identity", "<sip:someone@else>")
            .body(Some("text/plain;charset=UTF-8"), "hi")
            .build()
    }

    fn send(
        kit: &mut Kit,
        p: &mut Proxy,
        reg: &Registrar,
        im: &mut ImServer,
        from: ConnId,
        m: &Message,
    ) {
        p.on_message(&mut kit.cx(), from, m, reg, im);
    }

    fn answer(kit: &mut Kit, p: &mut Proxy, req: &Message, status: u16) -> bool {
        let resp = MessageBuilder::reply(req, status, "Whatever", Some("x")).build();
        let branch = resp.top_via().unwrap().branch().unwrap().to_owned();
        p.on_response(&mut kit.cx(), &branch, &resp, &mut ImServer::default())
    }

    #[test]
    fn forks_to_every_contact_and_a_2xx_wins() {
        let (mut kit, mut p, reg, alice, bobs) = setup(2);
        let m = message(BOB);
        send(&mut kit, &mut p, &reg, &mut ImServer::default(), alice, &m);
        let legs: Vec<Message> = bobs.iter().map(|&b| kit.last(b)).collect();
        for (i, got) in legs.iter().enumerate() {
            assert_eq!(
                got.request_uri().unwrap().as_str(),
                format!("sip:b{}@h.invalid;transport=ws", i + 1)
            );
            assert_eq!(got.via().unwrap().len(), 2);
            assert_eq!(got.max_forwards().unwrap(), Some(69));
            assert!(got.header("Route").is_none());
            let pai = got.p_asserted_identity().unwrap();
            assert_eq!(pai.len(), 1);
            assert_eq!(pai[0].uri.as_str(), ALICE);
            assert_eq!(got.body(), b"hi");
        }
        assert!(kit.timers.get(Timer::Relay(1)).is_some());
        assert!(answer(&mut kit, &mut p, &legs[0], 180), "a 1xx is absorbed");
        assert!(kit.take(alice).is_empty());
        assert!(answer(&mut kit, &mut p, &legs[0], 486));
        assert!(kit.take(alice).is_empty(), "the other leg may still accept");
        assert!(answer(&mut kit, &mut p, &legs[1], 200));
        let r = kit.last(alice);
        assert_eq!(r.status(), Some(200));
        assert_eq!(r.via().unwrap(), m.via().unwrap(), "our Via removed");
        assert_eq!(
            kit.timers.next(),
            Some(kit.timers.get(Timer::Bindings).unwrap())
        );
        assert!(
            !answer(&mut kit, &mut p, &legs[1], 200),
            "the relay is over"
        );
    }

    #[test]
    fn best_refusal_after_the_deadline_or_480() {
        let (mut kit, mut p, reg, alice, bobs) = setup(2);
        send(
            &mut kit,
            &mut p,
            &reg,
            &mut ImServer::default(),
            alice,
            &message(BOB),
        );
        let leg = kit.last(bobs[0]);
        assert!(answer(&mut kit, &mut p, &leg, 486));
        kit.advance(Duration::from_secs(2));
        assert_eq!(kit.timers.pop_expired(kit.now.mono), Some(Timer::Relay(1)));
        p.relay_timed_out(&mut kit.cx(), 1, &mut ImServer::default());
        assert_eq!(kit.last(alice).status(), Some(486));

        send(
            &mut kit,
            &mut p,
            &reg,
            &mut ImServer::default(),
            alice,
            &message(BOB),
        );
        let legs: Vec<Message> = bobs.iter().map(|&b| kit.last(b)).collect();
        assert!(answer(&mut kit, &mut p, &legs[0], 486));
        assert!(answer(&mut kit, &mut p, &legs[1], 603));
        assert_eq!(kit.last(alice).status(), Some(603), "a 6xx wins");

        send(
            &mut kit,
            &mut p,
            &reg,
            &mut ImServer::default(),
            alice,
            &message(BOB),
        );
        p.relay_timed_out(&mut kit.cx(), 3, &mut ImServer::default());
        assert_eq!(kit.last(alice).status(), Some(480), "no answer at all");
    }

    #[test]
    fn unknown_offline_hops_and_closed_flows() {
        let (mut kit, mut p, reg, alice, bobs) = setup(1);
        let mut im = ImServer::default();
        send(
            &mut kit,
            &mut p,
            &reg,
            &mut im,
            alice,
            &message("sip:nobody@imsip.test"),
        );
        assert_eq!(kit.last(alice).status(), Some(404));
        send(
            &mut kit,
            &mut p,
            &reg,
            &mut im,
            alice,
            &message("sip:carol@imsip.test"),
        );
        // A known user with no contact: 480 (RFC 3261 §21.4.18), unless the IM
        // Server stores it (offline delivery, not set here).
        assert_eq!(kit.last(alice).status(), Some(480));
        let mut spent = MessageBuilder::request(Method::Message, BOB.parse().unwrap());
        for (name, value) in message(BOB).headers() {
            let value = if name == "Max-Forwards" { "0" } else { value };
            spent.push_header(name, value);
        }
        let spent = spent.build();
        send(&mut kit, &mut p, &reg, &mut im, alice, &spent);
        assert_eq!(kit.last(alice).status(), Some(483));

        // The only leg's flow closes while it is pending: 480 at once.
        send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
        let _ = kit.last(bobs[0]);
        assert!(kit.flows.close(bobs[0]));
        p.close(&mut kit.cx(), bobs[0], &mut ImServer::default());
        assert_eq!(kit.last(alice).status(), Some(480));
        // And nothing is sent to it afterwards.
        send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
        assert_eq!(kit.last(alice).status(), Some(480));
        assert!(p.relays.is_empty() && p.legs.is_empty());
    }

    #[test]
    fn the_im_server_may_refuse_or_store() {
        let (mut kit, mut p, reg, alice, bobs) = setup(1);
        let mut im = ImServer::default();
        im.fixed = Some(Disposition::Refuse {
            status: 403,
            reason: "Forbidden (barred)".into(),
            warning: Some("barred by \"settings\"".into()),
        });
        send(&mut kit, &mut p, &reg, &mut im, alice, &message(BOB));
        let r = kit.last(alice);
        assert_eq!(r.status(), Some(403));
        assert_eq!(
            r.header("Warning"),
            Some("399 imsip.test \"barred by 'settings'\"")
        );
        assert!(kit.take(bobs[0]).is_empty());

        im.fixed = Some(Disposition::Store);
        send(
            &mut kit,
            &mut p,
            &reg,
            &mut im,
            alice,
            &message("sip:carol@imsip.test"),
        );
        assert_eq!(
            kit.last(alice).status(),
            Some(202),
            "stored even when offline"
        );
        assert!(p.relays.is_empty());
    }

    #[test]
    fn top_via_stripping_and_best_choice() {
        let req = request(Method::Message, BOB, ALICE, 1).build();
        let one = MessageBuilder::reply(&req, 200, "OK", None).build();
        assert!(strip_top_via(&one).is_none());
        let two = MessageBuilder::response(486, "Busy Here")
            .header("Via", "SIP/2.0/WS a;branch=z9hG4bK1")
            .header(
                "Via",
                "SIP/2.0/WS b;branch=z9hG4bK2, SIP/2.0/WS c;branch=z9hG4bK3",
            )
            .header("Call-ID", "x")
            .build();
        let s = strip_top_via(&two).unwrap();
        assert_eq!(s.via().unwrap().len(), 2);
        assert_eq!(s.top_via().unwrap().branch(), Some("z9hG4bK2"));
        assert_eq!(s.call_id().unwrap(), "x");
        let r = |st: u16| MessageBuilder::response(st, "x").build();
        assert_eq!(better(None, r(486)).status(), Some(486));
        assert_eq!(better(Some(r(486)), r(404)).status(), Some(404));
        assert_eq!(better(Some(r(404)), r(603)).status(), Some(603));
        assert_eq!(better(Some(r(603)), r(400)).status(), Some(603));
    }
}
