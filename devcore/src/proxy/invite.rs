//! The session proxy: INVITE sessions between registered users, relayed
//! statefully (RFC 3261 §16), and the requests inside their dialogs.
//!
//! ```text
//!  caller ──INVITE──► devcore ──INVITE (Via, Record-Route)──► every contact of the callee
//!         ◄──100────         (at once, §16.2)
//!         ◄──18x────         ◄──18x──   provisional answers go back as they come (§16.7 step 5)
//!         ◄──2xx────         ◄──2xx──   every 2xx at once; the other legs get CANCEL (§16.7 step 10)
//!                            ◄──≥300──  ACKed here, hop by hop (§17.1.1.3); the best goes back
//!                                       once every leg has answered (§16.7 step 6)
//!  CANCEL ──► 200 at once, CANCEL to every pending leg; their 487 comes back (§16.10)
//!  ACK (2xx), BYE, … with `Route: <sip:devcore;lr>` ──► the flow of the Request-URI
//!         (the remote target: a contact registered here; loose routing, §16.4, §16.12)
//! ```
//!
//! An [`InviteRelay`] is one caller's INVITE and its legs, each leg keyed by
//! the branch of the Via we put on top; [`Timer::Invite`] is Timer C
//! (§16.8): a call nobody answers is cancelled and 408 goes back. A request
//! inside a dialog is a [`DialogHop`]: one branch, the flow to answer on, and
//! [`Timer::DialogHop`] (64·T1) to forget it. An ACK creates no state.
//!
//! Our Record-Route names devcore as `<sip:HOST:PORT;transport=ws;lr>`
//! (§16.6 step 4): the ACK and BYE then come through devcore, the only one
//! that knows which WebSocket flow reaches each party.
//!
//! What is simplified: a CANCEL goes to a leg at once, even before its first
//! provisional answer (§9.1 asks a UAC to wait; the legs are WebSocket flows,
//! reliable, and the callee answers a CANCEL for an unknown INVITE with 481,
//! harmless); a 6xx does not cancel the other legs; an in-dialog request is
//! trusted when it comes over a flow someone registered on (no digest
//! challenge: an ACK cannot be challenged, §22.1, nor a CANCEL, which must
//! instead come from the flow of its INVITE).

use crate::core::Cx;
use crate::flows::ConnId;
use crate::im_server::{Disposition, ImServer};
use crate::registrar::Registrar;
use crate::timers::Timer;
use crate::users::aor_key;
use crate::util::random_hex;
use imsip::message::{branch, warning_399, HeaderName, Message, MessageBuilder, Method, Uri};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tracing::{debug, info, warn};

use super::{better, strip_top_via};

/// Timer C (RFC 3261 §16.6 step 11: more than 3 minutes).
const TIMER_C: Duration = Duration::from_secs(181);
/// How long an in-dialog request waits for its answer: 64·T1 (§17.1.2.2).
const DIALOG_HOP_TIMEOUT: Duration = Duration::from_secs(32);

/// One caller's INVITE and the state of its legs.
#[derive(Debug)]
struct InviteRelay {
    /// The flow the INVITE came from (CANCEL must come from it too).
    origin: ConnId,
    /// The INVITE as received (for answers of our own).
    request: Message,
    /// The branch of the caller's Via: a CANCEL names it (§9.2).
    upstream_branch: String,
    /// The branches of the legs still waiting for a final answer.
    pending: HashSet<String>,
    /// The best final non-2xx answer so far, its top Via removed.
    best: Option<Message>,
    /// A 2xx went back: no other final answer will.
    answered: bool,
}

/// One downstream leg of an INVITE.
#[derive(Debug)]
struct InviteLeg {
    relay: u64,
    conn: ConnId,
    /// The INVITE as forwarded (a CANCEL and the ACK of a non-2xx copy it).
    forwarded: Message,
}

impl super::Forked for InviteRelay {
    fn pending(&mut self) -> &mut HashSet<String> {
        &mut self.pending
    }
}

impl super::ForkLeg for InviteLeg {
    fn relay(&self) -> u64 {
        self.relay
    }
    fn conn(&self) -> ConnId {
        self.conn
    }
}

/// One request inside a dialog, forwarded and waiting for its answer.
#[derive(Debug)]
struct DialogHop {
    branch: String,
    origin: ConnId,
}

/// Every INVITE relayed and every in-dialog request in flight.
#[derive(Debug, Default)]
pub(crate) struct SessionProxy {
    invites: HashMap<u64, InviteRelay>,
    /// Our branch → its leg.
    legs: HashMap<String, InviteLeg>,
    hops: HashMap<u64, DialogHop>,
    /// The dialogs set up through devcore (a 2xx to an INVITE went back), by
    /// Call-ID, with their two parties' AoRs; the newest [`MAX_DIALOGS`]. A
    /// request "in a dialog" must belong to one of them and come from a flow
    /// one of its parties registered: a To tag and our Route are not enough.
    dialogs: VecDeque<(String, [String; 2])>,
    last_id: u64,
}

/// The most dialogs remembered (the oldest are forgotten first).
const MAX_DIALOGS: usize = 4096;

/// Our Record-Route value: devcore, on the WebSocket transport, loose
/// routing (RFC 3261 §16.6 step 4).
fn record_route(cx: &Cx<'_>) -> String {
    format!("<sip:{};transport=ws;lr>", cx.cfg.sent_by)
}

/// Whether `uri` names devcore (the Route it put in a dialog's route set).
fn names_us(cx: &Cx<'_>, uri: &Uri) -> bool {
    let Some(host) = uri.host() else { return false };
    let hostport = match uri.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    hostport.eq_ignore_ascii_case(&cx.cfg.sent_by) && uri.user().is_none()
}

/// Whether `req`'s first Route names devcore (an in-dialog request sent
/// along the route set our Record-Route put there).
pub(crate) fn routed_to_us(cx: &Cx<'_>, req: &Message) -> bool {
    req.route()
        .ok()
        .and_then(|r| r.into_iter().next())
        .is_some_and(|first| names_us(cx, &first.uri))
}

/// A copy of `req` for the next hop: `uri` as Request-URI, our Via on top
/// with `branch`, Max-Forwards `max_forwards`, the Route values after
/// `skip_routes`, the other headers and the body as received, `extra`
/// headers first.
fn forward(
    cx: &Cx<'_>,
    req: &Message,
    uri: Uri,
    branch: &str,
    max_forwards: u8,
    skip_routes: usize,
    extra: &[(HeaderName, String)],
) -> Option<Message> {
    let method = req.method()?.clone();
    let mut b = MessageBuilder::request(method, uri).header(
        "Via",
        format!("SIP/2.0/WS {};branch={branch}", cx.cfg.sent_by),
    );
    b.push_header("Max-Forwards", max_forwards);
    for (n, v) in extra {
        b.push_header(n.clone(), v);
    }
    for route in req.route().ok()?.iter().skip(skip_routes) {
        b.push_header(HeaderName::Route, route);
    }
    for (name, value) in req.headers() {
        let n = HeaderName::parse(name);
        let skip = matches!(
            n,
            HeaderName::Route
                | HeaderName::MaxForwards
                | HeaderName::ProxyAuthorization
                | HeaderName::PAssertedIdentity
                | HeaderName::PPreferredIdentity
        ) || extra
            .iter()
            .any(|(e, _)| *e == n && n != HeaderName::RecordRoute);
        if !skip {
            b.push_header(n, value);
        }
    }
    // The Content-Type was copied with the other headers; the body goes as it is.
    Some(b.body(None, req.body().to_vec()).build())
}

/// The Max-Forwards of the next hop, or `None` when it is spent (483 sent,
/// unless `req` is an ACK, which is not answered).
fn next_max_forwards(cx: &Cx<'_>, conn: ConnId, req: &Message) -> Option<u8> {
    match req.max_forwards().ok().flatten() {
        Some(0) => {
            if req.method() != Some(&Method::Ack) {
                cx.flows.reply(conn, req, 483, "Too Many Hops", &[]);
            }
            None
        }
        Some(n) => Some(n - 1),
        None => Some(70),
    }
}

/// A request built from a leg's forwarded INVITE for the same hop (RFC 3261
/// §9.1 for CANCEL, §17.1.1.3 for the ACK of a non-2xx): the same
/// Request-URI, single Via, From, Call-ID and CSeq number; `to` as To.
fn hop_request(forwarded: &Message, method: Method, to: &str) -> Option<Message> {
    let via = forwarded.header(HeaderName::Via)?;
    let cseq = forwarded.cseq().ok()?;
    Some(
        MessageBuilder::request(method.clone(), forwarded.request_uri()?.clone())
            .header("Via", via)
            .header("Max-Forwards", 70)
            .header("From", forwarded.header(HeaderName::From)?)
            .header("To", to)
            .header("Call-ID", forwarded.call_id().ok()?)
            .header("CSeq", format!("{} {method}", cseq.seq))
            .build(),
    )
}

impl SessionProxy {
    /// An authenticated INVITE that starts a session: 100 at once; 404 unless
    /// the Request-URI is a local user; the IM Server's incoming-session
    /// barring (403 with its Warning); 480 when the user has no reachable
    /// contact; else forked to every contact.
    pub fn on_invite(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        registrar: &Registrar,
    ) {
        // RFC 3261 §16.2: a stateful proxy answers 100 at once, so that the
        // caller stops retransmitting; it has no To tag (§8.2.6.2).
        let trying = MessageBuilder::reply(req, 100, "Trying", None).build();
        cx.flows.send(conn, &trying);
        let target = req.request_uri().and_then(aor_key);
        let Some(recipient) = target.and_then(|t| cx.users.by_aor(&t)) else {
            cx.flows.reply(conn, req, 404, "Not Found", &[]);
            return;
        };
        if let Some(Disposition::Refuse {
            status,
            reason,
            warning,
        }) = ImServer::barring(cx.store, &recipient.aor, cx.now.unix)
        {
            let headers: Vec<(&str, String)> = warning
                .map(|w| ("Warning", warning_399(&cx.cfg.domain, &w)))
                .into_iter()
                .collect();
            info!(conn, to = %recipient.aor, status, "INVITE refused by the IM server");
            cx.flows.reply(conn, req, status, &reason, &headers);
            return;
        }
        let Some(upstream_branch) = req
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned))
        else {
            cx.flows
                .reply(conn, req, 400, "Bad Request (no Via branch)", &[]);
            return;
        };
        let contacts = registrar.reachable(&recipient.aor, cx.now.mono, cx.flows);
        let Some(max_forwards) = next_max_forwards(cx, conn, req) else {
            return;
        };
        let asserted = req
            .from()
            .ok()
            .and_then(|f| aor_key(&f.uri))
            .unwrap_or_default();
        let extra = [
            (HeaderName::RecordRoute, record_route(cx)),
            (HeaderName::PAssertedIdentity, format!("<{asserted}>")),
        ];
        self.last_id += 1;
        let id = self.last_id;
        let mut pending = HashSet::new();
        for (uri, to_conn) in contacts {
            let leg_branch = branch(&random_hex(10));
            // The Route of an initial INVITE is the caller's Service-Route,
            // which names this core: all of it is consumed here.
            let skip = usize::MAX;
            let Some(fwd) = forward(cx, req, uri, &leg_branch, max_forwards, skip, &extra) else {
                continue;
            };
            if cx.flows.send(to_conn, &fwd) {
                self.legs.insert(
                    leg_branch.clone(),
                    InviteLeg {
                        relay: id,
                        conn: to_conn,
                        forwarded: fwd,
                    },
                );
                pending.insert(leg_branch);
            }
        }
        if pending.is_empty() {
            cx.flows
                .reply(conn, req, 480, "Temporarily Unavailable", &[]);
            return;
        }
        info!(conn, to = %recipient.aor, legs = pending.len(), "INVITE relayed");
        self.invites.insert(
            id,
            InviteRelay {
                origin: conn,
                request: req.clone(),
                upstream_branch,
                pending,
                best: None,
                answered: false,
            },
        );
        cx.timers.set(Timer::Invite(id), cx.now.mono + TIMER_C);
    }

    /// A CANCEL on `conn` (RFC 3261 §16.10): 200 at once and CANCEL to every
    /// leg still pending when it matches an INVITE relayed from this flow
    /// (same top Via branch, §9.2); 481 otherwise.
    pub fn on_cancel(&mut self, cx: &mut Cx<'_>, conn: ConnId, req: &Message) {
        let cancel_branch = req
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_owned));
        let found = self.invites.values().find(|r| {
            r.origin == conn && Some(r.upstream_branch.as_str()) == cancel_branch.as_deref()
        });
        let Some(relay) = found else {
            cx.flows
                .reply(conn, req, 481, "Call/Transaction Does Not Exist", &[]);
            return;
        };
        cx.flows.reply(conn, req, 200, "OK", &[]);
        if relay.answered {
            return;
        }
        let legs: Vec<String> = relay.pending.iter().cloned().collect();
        info!(conn, legs = legs.len(), "CANCEL relayed");
        for leg in legs {
            self.cancel_leg(cx, &leg);
        }
    }

    /// Sends CANCEL for leg `leg_branch` (its answer is absorbed; the leg's
    /// own final answer, 487, still counts).
    fn cancel_leg(&self, cx: &Cx<'_>, leg_branch: &str) {
        let Some(leg) = self.legs.get(leg_branch) else {
            return;
        };
        let to = leg.forwarded.header(HeaderName::To).unwrap_or_default();
        if let Some(cancel) = hop_request(&leg.forwarded, Method::Cancel, to) {
            cx.flows.send(leg.conn, &cancel);
        }
    }

    /// A response whose top Via has `branch`: `true` when it belongs to one
    /// of our INVITE legs or in-dialog hops.
    pub fn on_response(&mut self, cx: &mut Cx<'_>, branch: &str, resp: &Message) -> bool {
        if let Some((&id, hop)) = self.hops.iter().find(|(_, h)| h.branch == branch) {
            let status = resp.status().unwrap_or(0);
            match strip_top_via(resp) {
                Some(m) => {
                    cx.flows.send(hop.origin, &m);
                }
                None => warn!(%branch, "in-dialog response with a single Via dropped"),
            }
            if status >= 200 {
                self.hops.remove(&id);
                cx.timers.stop(Timer::DialogHop(id));
            }
            return true;
        }
        let Some(leg) = self.legs.get(branch) else {
            return false;
        };
        // The answer to our own CANCEL of this leg: nothing goes upstream.
        if resp.cseq().is_ok_and(|c| c.method == Method::Cancel) {
            return true;
        }
        let relay_id = leg.relay;
        let status = resp.status().unwrap_or(0);
        let fwd = strip_top_via(resp);
        if status < 200 {
            // §16.7 step 5: every provisional but 100 goes back.
            if status > 100 {
                if let (Some(m), Some(r)) = (fwd, self.invites.get(&relay_id)) {
                    if !r.answered {
                        cx.flows.send(r.origin, &m);
                    }
                }
            }
            return true;
        }
        let Some(leg) = self.legs.remove(branch) else {
            return true;
        };
        if status >= 300 {
            // §17.1.1.3: the ACK of a non-2xx goes hop by hop, from us.
            let to = resp.header(HeaderName::To).unwrap_or_default();
            if let Some(ack) = hop_request(&leg.forwarded, Method::Ack, to) {
                cx.flows.send(leg.conn, &ack);
            }
        }
        let mut done = false;
        let mut cancel = Vec::new();
        if let Some(r) = self.invites.get_mut(&relay_id) {
            r.pending.remove(branch);
            match fwd {
                Some(m) if status < 300 => {
                    // §16.7 step 5: every 2xx goes back at once (each is a
                    // dialog the caller ACKs or BYEs); the first ends the
                    // other legs (step 10).
                    cx.flows.send(r.origin, &m);
                    let call_id = r.request.call_id().unwrap_or_default();
                    if !self.dialogs.iter().any(|(c, _)| c == call_id) {
                        let (caller, callee) = super::parties(&r.request);
                        if self.dialogs.len() == MAX_DIALOGS {
                            self.dialogs.pop_front();
                        }
                        self.dialogs
                            .push_back((call_id.to_owned(), [caller, callee]));
                    }
                    if !r.answered {
                        r.answered = true;
                        cancel.extend(r.pending.iter().cloned());
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
        for leg in cancel {
            self.cancel_leg(cx, &leg);
        }
        if done {
            self.finish(cx, relay_id);
        }
        true
    }

    /// Ends INVITE relay `id`: unless a 2xx went back, the best answer goes
    /// (480 when none came).
    fn finish(&mut self, cx: &mut Cx<'_>, id: u64) {
        cx.timers.stop(Timer::Invite(id));
        let Some(r) = self.invites.remove(&id) else {
            return;
        };
        for b in &r.pending {
            self.legs.remove(b);
        }
        if r.answered {
            return;
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

    /// [`Timer::Invite`] (Timer C) fired: the legs still ringing are
    /// cancelled and the caller gets 408 (RFC 3261 §16.8), unless a 2xx
    /// went back already.
    pub fn invite_timed_out(&mut self, cx: &mut Cx<'_>, id: u64) {
        let Some(r) = self.invites.remove(&id) else {
            return;
        };
        for leg in &r.pending {
            self.cancel_leg(cx, leg);
            self.legs.remove(leg);
        }
        if !r.answered {
            cx.flows
                .reply(r.origin, &r.request, 408, "Request Timeout", &[]);
        }
    }

    /// [`Timer::DialogHop`] fired: the in-dialog request `id` got no answer;
    /// the sender's own transaction times out (nothing is sent).
    pub fn hop_timed_out(&mut self, id: u64) {
        self.hops.remove(&id);
    }

    /// A request inside a dialog (its first Route names devcore) on `conn`:
    /// routed to the flow of its Request-URI, the remote target (RFC 3261
    /// §16.4, §16.12), with our Route removed and our Via on top. Refused
    /// (403) from a flow nobody registered on; 404 when the target is no
    /// contact registered here; an ACK is never answered, only dropped.
    pub fn on_in_dialog(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        registrar: &Registrar,
    ) {
        let is_ack = req.method() == Some(&Method::Ack);
        if !registrar.any_registered_on(conn, cx.now.mono) {
            warn!(conn, "in-dialog request from an unregistered flow refused");
            if !is_ack {
                cx.flows
                    .reply(conn, req, 403, "Forbidden (not registered)", &[]);
            }
            return;
        }
        // Only in a dialog set up through devcore, from one of its parties (a
        // forged To tag and Route would carry any From to any flow, past
        // authentication and barring). RFC 3261 §12.2.2: no such dialog, 481.
        let call_id = req.call_id().unwrap_or_default();
        let dialog = self.dialogs.iter().position(|(c, _)| c == call_id);
        let party = dialog.is_some_and(|i| {
            self.dialogs[i]
                .1
                .iter()
                .any(|aor| registrar.registered_on(aor, conn, cx.now.mono))
        });
        if !party {
            warn!(
                conn,
                call_id, "in-dialog request for no dialog of this flow's"
            );
            if !is_ack {
                cx.flows
                    .reply(conn, req, 481, "Call/Transaction Does Not Exist", &[]);
            }
            return;
        }
        if req.method() == Some(&Method::Bye) {
            // The dialog ends with its BYE (§15), whatever the answer.
            if let Some(i) = dialog {
                self.dialogs.remove(i);
            }
        }
        let Some(target) = req.request_uri().cloned() else {
            return;
        };
        let to_conn = registrar
            .flow_of_target(&target, cx.now.mono)
            .filter(|c| cx.flows.is_open(*c));
        let Some(to_conn) = to_conn else {
            debug!(conn, %target, "in-dialog request for an unknown target");
            if !is_ack {
                cx.flows
                    .reply(conn, req, 404, "Not Found (no such remote target)", &[]);
            }
            return;
        };
        let Some(max_forwards) = next_max_forwards(cx, conn, req) else {
            return;
        };
        let hop_branch = branch(&random_hex(10));
        // Our Route is first (that is how the request got here): it is
        // consumed; any after it stay (§16.4).
        let Some(fwd) = forward(cx, req, target, &hop_branch, max_forwards, 1, &[]) else {
            return;
        };
        if !cx.flows.send(to_conn, &fwd) || is_ack {
            return;
        }
        self.last_id += 1;
        let id = self.last_id;
        self.hops.insert(
            id,
            DialogHop {
                branch: hop_branch,
                origin: conn,
            },
        );
        cx.timers
            .set(Timer::DialogHop(id), cx.now.mono + DIALOG_HOP_TIMEOUT);
    }

    /// The flow `conn` closed: its INVITE legs count as not answering (and
    /// the caller of an INVITE it sent gets nothing more).
    pub fn close(&mut self, cx: &mut Cx<'_>, conn: ConnId) {
        for relay in super::legs_lost(&mut self.legs, &mut self.invites, conn) {
            self.finish(cx, relay);
        }
        let hops: Vec<u64> = self
            .hops
            .iter()
            .filter(|(_, h)| h.origin == conn)
            .map(|(id, _)| *id)
            .collect();
        for id in hops {
            self.hops.remove(&id);
            cx.timers.stop(Timer::DialogHop(id));
        }
    }
}
