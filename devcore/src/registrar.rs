//! The registrar (RFC 3261 §10.3, with RFC 5626 outbound): the bindings of
//! each address of record, REGISTER once authenticated, their expiry, and
//! the two questions the other parts ask: the contacts of an AoR and whether
//! an AoR is registered over a given flow.
//!
//! Bindings live in memory only: a restart of the dev core forgets them (the
//! clients register again). A binding outlives its flow until it expires: a
//! client that reconnects and registers again from the same instance
//! replaces it, and nothing is sent to a closed flow meanwhile.

use crate::core::{Cx, DEFAULT_EXPIRES, MAX_EXPIRES, MIN_EXPIRES};
use crate::flows::{ConnId, Flows};
use crate::timers::{remaining, secs, Timer, TimerTable};
use crate::users::User;
use imsip::message::date::sip_date;
use imsip::message::{warning_399, Contact, Contacts, Message, Uri};
use std::collections::HashMap;
use std::time::Instant;
use tracing::info;

/// One registered contact of an AoR.
#[derive(Debug)]
struct Binding {
    contact: Contact,
    instance: Option<String>,
    reg_id: Option<u32>,
    conn: ConnId,
    expires_at: Instant,
    call_id: String,
    cseq: u32,
}

fn strip_angle(s: &str) -> &str {
    s.trim_matches(['<', '>'])
}

impl Binding {
    /// Whether `c` names this binding: same instance and reg-id (RFC 5626
    /// §6), or, without an instance, the same URI.
    fn matches(&self, c: &Contact) -> bool {
        match c.instance() {
            Some(i) => {
                self.instance.as_deref().map(strip_angle) == Some(strip_angle(i))
                    && self.reg_id == c.reg_id()
            }
            None => self.instance.is_none() && self.contact.uri.as_str() == c.uri.as_str(),
        }
    }
}

/// The bindings of every AoR.
#[derive(Debug, Default)]
pub(crate) struct Registrar {
    bindings: HashMap<String, Vec<Binding>>,
}

impl Registrar {
    /// A REGISTER of `user` (already authenticated) on `conn`: updates the
    /// bindings and answers (200 with every current contact, or 400, 423,
    /// 500).
    pub fn on_register(&mut self, cx: &mut Cx<'_>, conn: ConnId, req: &Message, user: &User) {
        let now = cx.now.mono;
        let contacts = match req.contacts() {
            Ok(c) => c,
            Err(e) => {
                let w = warning_399(&cx.cfg.domain, &e.to_string());
                cx.flows
                    .reply(conn, req, 400, "Bad Request", &[("Warning", w)]);
                return;
            }
        };
        let header_expires = req.expires().ok().flatten();
        let call_id = req.call_id().unwrap_or("").to_owned();
        let cseq = req.cseq().map(|c| c.seq).unwrap_or(0);
        let aor = user.aor.clone();
        match contacts {
            None => {}
            Some(Contacts::Star) => {
                if header_expires != Some(0) {
                    let r = "Bad Request (Contact: * needs Expires: 0)";
                    cx.flows.reply(conn, req, 400, r, &[]);
                    return;
                }
                self.bindings.remove(&aor);
                info!(conn, %aor, "all bindings removed");
            }
            Some(Contacts::List(list)) => {
                let existing = self.bindings.get(&aor);
                let mut wanted = Vec::with_capacity(list.len());
                for c in list {
                    let e = c.expires().or(header_expires).unwrap_or(DEFAULT_EXPIRES);
                    if e != 0 && e < MIN_EXPIRES {
                        cx.flows.reply(
                            conn,
                            req,
                            423,
                            "Interval Too Brief",
                            &[("Min-Expires", MIN_EXPIRES.to_string())],
                        );
                        return;
                    }
                    let stale = existing
                        .and_then(|bs| bs.iter().find(|b| b.matches(&c)))
                        .is_some_and(|b| b.call_id == call_id && cseq <= b.cseq);
                    if stale {
                        // RFC 3261 §10.3 step 7.
                        let r = "Server Internal Error (out-of-order REGISTER)";
                        cx.flows.reply(conn, req, 500, r, &[]);
                        return;
                    }
                    wanted.push((c, e.min(MAX_EXPIRES)));
                }
                let list = self.bindings.entry(aor.clone()).or_default();
                for (mut c, e) in wanted {
                    let pos = list.iter().position(|b| b.matches(&c));
                    if e == 0 {
                        if let Some(i) = pos {
                            list.remove(i);
                        }
                        continue;
                    }
                    c.params.remove("expires");
                    let b = Binding {
                        instance: c.instance().map(str::to_owned),
                        reg_id: c.reg_id(),
                        contact: c,
                        conn,
                        expires_at: now + secs(e),
                        call_id: call_id.clone(),
                        cseq,
                    };
                    match pos.and_then(|i| list.get_mut(i)) {
                        Some(slot) => *slot = b,
                        None => list.push(b),
                    }
                }
                if list.is_empty() {
                    self.bindings.remove(&aor);
                }
            }
        }
        self.arm(cx.timers);
        let mut headers: Vec<(&str, String)> = Vec::new();
        for b in self.bindings.get(&aor).into_iter().flatten() {
            if b.expires_at > now {
                let mut c = b.contact.clone();
                c.params
                    .set("expires", Some(&remaining(b.expires_at, now).to_string()));
                headers.push(("Contact", c.to_string()));
            }
        }
        info!(conn, %aor, contacts = headers.len(), "registration updated");
        headers.push((
            "Service-Route",
            format!("<sip:orig@scscf.{};lr>", cx.cfg.domain),
        ));
        headers.push(("P-Associated-URI", format!("<{aor}>")));
        // RFC 3261 §10.3 step 8: a Date, so a UA without a clock can set one.
        headers.push(("Date", sip_date(cx.now.unix)));
        // RFC 5626 §6: a registrar that supports outbound says so when the UA asked
        // for it (Supported: outbound) and registered a flow (reg-id + instance); the
        // UA then requires keep-alive pongs, which devcore answers on every flow.
        let asked = req
            .supported()
            .unwrap_or_default()
            .iter()
            .any(|t| t.eq_ignore_ascii_case("outbound"));
        let flow = req
            .contact_list()
            .unwrap_or_default()
            .iter()
            .any(|c| c.reg_id().is_some() && c.instance().is_some());
        if asked && flow {
            headers.push(("Require", "outbound".to_owned()));
        }
        cx.flows.reply(conn, req, 200, "OK", &headers);
    }

    /// The contacts of `aor` that can be reached now, each with the flow it was
    /// registered over: unexpired, on a flow still open. A binding outlives its
    /// flow until it expires (a tab closed without un-REGISTERing), but a
    /// closed flow cannot carry requests (RFC 5626 §5.3): such a user is
    /// offline, for the relay and for the IM Server's offline delivery alike.
    pub fn reachable(&self, aor: &str, now: Instant, flows: &Flows) -> Vec<(Uri, ConnId)> {
        self.bindings
            .get(aor)
            .into_iter()
            .flatten()
            .filter(|b| b.expires_at > now && flows.is_open(b.conn))
            .map(|b| (b.contact.uri.clone(), b.conn))
            .collect()
    }

    /// The flow of the current binding whose contact is `target` (the remote
    /// target of a dialog), compared by user, host and port: a dialog Contact
    /// carries parameters the registered one has not (`;ob` with outbound,
    /// RFC 5626 §5.4), yet names the same flow.
    pub fn flow_of_target(&self, target: &Uri, now: Instant) -> Option<ConnId> {
        let key = |u: &Uri| (u.user_at_host().to_ascii_lowercase(), u.port());
        let wanted = key(target);
        self.bindings
            .values()
            .flatten()
            .find(|b| b.expires_at > now && key(&b.contact.uri) == wanted)
            .map(|b| b.conn)
    }

    /// Whether any AoR has a current binding over `conn`.
    pub fn any_registered_on(&self, conn: ConnId, now: Instant) -> bool {
        self.bindings
            .values()
            .flatten()
            .any(|b| b.conn == conn && b.expires_at > now)
    }

    /// Whether `aor` has a current binding over `conn`.
    pub fn registered_on(&self, aor: &str, conn: ConnId, now: Instant) -> bool {
        self.bindings
            .get(aor)
            .is_some_and(|bs| bs.iter().any(|b| b.conn == conn && b.expires_at > now))
    }

    /// [`Timer::Bindings`] fired: removes the expired bindings.
    pub fn handle_timeout(&mut self, cx: &mut Cx<'_>) {
        let now = cx.now.mono;
        for list in self.bindings.values_mut() {
            list.retain(|b| b.expires_at > now);
        }
        self.bindings.retain(|_, l| !l.is_empty());
        self.arm(cx.timers);
    }

    /// Sets [`Timer::Bindings`] to the earliest expiry.
    fn arm(&self, timers: &mut TimerTable) {
        let next = self.bindings.values().flatten().map(|b| b.expires_at).min();
        timers.set_or_stop(Timer::Bindings, next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{request, Kit};
    use imsip::message::Method;
    use std::time::Duration;

    const ALICE: &str = "sip:alice@imsip.test";
    const FLOW: &str = "<sip:a@h.invalid;transport=ws>;+sip.instance=\"<urn:uuid:1>\";reg-id=1";

    fn register(
        kit: &mut Kit,
        reg: &mut Registrar,
        conn: ConnId,
        expires: u32,
        cseq: u32,
    ) -> Message {
        let req = request(Method::Register, "sip:imsip.test", ALICE, cseq)
            .header("Contact", FLOW)
            .header("Expires", expires)
            .header("Supported", "outbound")
            .build();
        let alice = kit.user(ALICE);
        reg.on_register(&mut kit.cx(), conn, &req, &alice);
        kit.last(conn)
    }

    #[test]
    fn bindings_expire_on_their_deadline() {
        let (mut kit, mut reg) = (Kit::new(), Registrar::default());
        let conn = kit.conn();
        let r = register(&mut kit, &mut reg, conn, 120, 1);
        assert_eq!(r.status(), Some(200), "{r}");
        assert_eq!(r.contact_list().unwrap()[0].expires(), Some(120));
        assert_eq!(r.header("Require"), Some("outbound"));
        // RFC 3261 §10.3 step 8.
        assert_eq!(r.date().unwrap(), Some(sip_date(kit.now.unix).as_str()));
        assert!(reg.registered_on(ALICE, conn, kit.now.mono));
        assert!(!reg.registered_on(ALICE, conn + 1, kit.now.mono));
        assert_eq!(reg.reachable(ALICE, kit.now.mono, &kit.flows).len(), 1);
        let at = kit.timers.get(Timer::Bindings).unwrap();
        assert_eq!(at, kit.now.mono + Duration::from_secs(120));

        kit.advance(Duration::from_secs(120));
        assert!(reg.reachable(ALICE, kit.now.mono, &kit.flows).is_empty());
        assert_eq!(kit.timers.pop_expired(kit.now.mono), Some(Timer::Bindings));
        reg.handle_timeout(&mut kit.cx());
        assert!(reg.bindings.is_empty());
        assert_eq!(kit.timers.next(), None, "nothing left to expire");
    }

    #[test]
    fn expiry_rules_refresh_and_removal() {
        let (mut kit, mut reg) = (Kit::new(), Registrar::default());
        let conn = kit.conn();
        let r = register(&mut kit, &mut reg, conn, 30, 1);
        assert_eq!(r.status(), Some(423));
        assert_eq!(r.min_expires().unwrap(), Some(60));
        let r = register(&mut kit, &mut reg, conn, 999_999, 2);
        assert_eq!(r.contact_list().unwrap()[0].expires(), Some(86_400));
        let r = register(&mut kit, &mut reg, conn, 600, 2);
        assert_eq!(
            r.status(),
            Some(500),
            "same Call-ID, same CSeq: out of order"
        );
        let r = register(&mut kit, &mut reg, conn, 600, 3);
        assert_eq!(r.contact_list().unwrap().len(), 1, "replaced, not added");
        let r = register(&mut kit, &mut reg, conn, 0, 4);
        assert_eq!(r.status(), Some(200));
        assert!(r.contact_list().unwrap().is_empty());
        assert_eq!(kit.timers.next(), None);
    }
}
