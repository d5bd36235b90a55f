//! The IM server's notifier (RFC 6665): subscriptions to a user's own
//! settings packages, SUBSCRIBE (initial, refresh, unsubscribe), NOTIFY on
//! every change and at the end, and the responses to our NOTIFYs.
//!
//! Subscriptions live in memory only and end with their flow. Each has a
//! [`Timer::Subscription`] at its expiry (a final NOTIFY with
//! `terminated;reason=timeout`), and each NOTIFY sent a [`Timer::Notify`]
//! after which its response is no longer awaited (64·T1). The document sent
//! is the current state, read through the publications part.

use crate::core::{requested_expires, targets_own_aor, Cx};
use crate::flows::ConnId;
use crate::publications::{current, package_of, Package};
use crate::timers::{remaining, secs, Timer};
use crate::users::User;
use crate::util::random_hex;
use imsip::message::{branch, HeaderName, Message, MessageBuilder, Method, Uri};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// The longest subscription granted.
const MAX_SUB_EXPIRES: u32 = 3600;
/// Responses to our NOTIFYs are awaited this long (64·T1).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(32);

/// One subscription (a dialog of ours as notifier).
#[derive(Debug)]
struct Subscription {
    aor: String,
    package: &'static Package,
    call_id: String,
    our_tag: String,
    their_tag: String,
    their_from: String,
    target: Uri,
    conn: ConnId,
    expires_at: Instant,
    cseq: u32,
}

/// A NOTIFY waiting for its response.
#[derive(Debug)]
struct PendingNotify {
    branch: String,
    sub: u64,
}

/// Every subscription and every NOTIFY in flight.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    subs: HashMap<u64, Subscription>,
    pending: HashMap<u64, PendingNotify>,
    by_branch: HashMap<String, u64>,
    last_id: u64,
}

impl Notifier {
    fn id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    fn our_contact(cx: &Cx<'_>) -> String {
        format!("<sip:IM-Server@{};transport=ws>", cx.cfg.sent_by)
    }

    /// A SUBSCRIBE of `user` (authenticated) on `conn`: creates, refreshes
    /// or ends a subscription, answers it, then NOTIFYs.
    pub fn on_subscribe(&mut self, cx: &mut Cx<'_>, conn: ConnId, req: &Message, user: &User) {
        let Some(pkg) = package_of(cx, conn, req) else {
            return;
        };
        let Some(expires) = requested_expires(cx, conn, req, MAX_SUB_EXPIRES) else {
            return;
        };
        let (Ok(to), Ok(from), Ok(call_id)) = (req.to(), req.from(), req.call_id()) else {
            return;
        };
        let now = cx.now.mono;
        let contact = req.contact_list().ok().and_then(|l| l.into_iter().next());
        let headers = [
            ("Expires", expires.to_string()),
            ("Contact", Self::our_contact(cx)),
        ];
        if let Some(tag) = to.tag() {
            // A refresh or an unsubscribe within the dialog.
            let found = self.subs.iter_mut().find(|(_, s)| {
                s.call_id == call_id && s.our_tag == tag && from.tag() == Some(&s.their_tag)
            });
            let Some((&id, sub)) = found else {
                cx.flows
                    .reply(conn, req, 481, "Subscription Does Not Exist", &[]);
                return;
            };
            if sub.aor != user.aor || sub.package.name != pkg.name {
                let r = "Forbidden (not your subscription)";
                cx.flows.reply(conn, req, 403, r, &[]);
                return;
            }
            sub.conn = conn;
            sub.expires_at = now + secs(expires);
            if let Some(c) = contact {
                sub.target = c.uri;
            }
            cx.timers.set(Timer::Subscription(id), sub.expires_at);
            cx.flows.reply_with(conn, req, 200, "OK", tag, &headers);
            if expires == 0 {
                self.end(cx, id, "timeout");
                info!(conn, aor = %user.aor, "subscription ended");
            } else {
                self.send_notify(cx, id, None);
            }
            return;
        }
        if !targets_own_aor(req, user) {
            let r = "Forbidden (not your address of record)";
            cx.flows.reply(conn, req, 403, r, &[]);
            return;
        }
        let (Some(contact), Some(their_tag)) = (contact, from.tag()) else {
            let r = "Bad Request (SUBSCRIBE needs a Contact and a From tag)";
            cx.flows.reply(conn, req, 400, r, &[]);
            return;
        };
        let our_tag = random_hex(8);
        let id = self.id();
        let expires_at = now + secs(expires);
        self.subs.insert(
            id,
            Subscription {
                aor: user.aor.clone(),
                package: pkg,
                call_id: call_id.to_owned(),
                our_tag: our_tag.clone(),
                their_tag: their_tag.to_owned(),
                their_from: req.header(HeaderName::From).unwrap_or("").to_owned(),
                target: contact.uri,
                conn,
                expires_at,
                cseq: 0,
            },
        );
        cx.timers.set(Timer::Subscription(id), expires_at);
        cx.flows
            .reply_with(conn, req, 200, "OK", &our_tag, &headers);
        if expires == 0 {
            self.end(cx, id, "timeout");
        } else {
            info!(conn, aor = %user.aor, package = pkg.name, expires, "subscribed");
            self.send_notify(cx, id, None);
        }
    }

    /// Sends the final NOTIFY (`terminated;reason=R`) of subscription `id`
    /// and forgets it.
    fn end(&mut self, cx: &mut Cx<'_>, id: u64, reason: &str) {
        self.send_notify(cx, id, Some(reason));
        self.subs.remove(&id);
        cx.timers.stop(Timer::Subscription(id));
    }

    /// Sends the current state to subscription `id`: `active;expires=N`, or
    /// `terminated;reason=R` when `terminated` is given.
    fn send_notify(&mut self, cx: &mut Cx<'_>, id: u64, terminated: Option<&str>) {
        let notify_id = self.id();
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        sub.cseq += 1;
        let branch = branch(&random_hex(10));
        let state = match terminated {
            Some(reason) => format!("terminated;reason={reason}"),
            None => format!("active;expires={}", remaining(sub.expires_at, cx.now.mono)),
        };
        let b = MessageBuilder::request(Method::Notify, sub.target.clone())
            .header(
                "Via",
                format!("SIP/2.0/WS {};branch={branch}", cx.cfg.sent_by),
            )
            .header("Max-Forwards", 70)
            .header("From", format!("<{}>;tag={}", sub.aor, sub.our_tag))
            .header("To", &sub.their_from)
            .header("Call-ID", &sub.call_id)
            .header("CSeq", format!("{} NOTIFY", sub.cseq))
            .header("Contact", Self::our_contact(cx))
            .header("Event", sub.package.name)
            .header("Subscription-State", state);
        let msg = match current(cx.store, &sub.aor, sub.package, cx.now.unix) {
            Ok(Some(p)) => b.body(Some(&p.content_type), p.document).build(),
            Ok(None) => b.build(),
            Err(e) => {
                error!(error = %e, "database error");
                b.build()
            }
        };
        if cx.flows.send(sub.conn, &msg) {
            self.by_branch.insert(branch.clone(), notify_id);
            self.pending
                .insert(notify_id, PendingNotify { branch, sub: id });
            cx.timers
                .set(Timer::Notify(notify_id), cx.now.mono + NOTIFY_TIMEOUT);
        }
    }

    /// The state of `aor` for `package` changed: NOTIFYs every watcher.
    pub fn notify_watchers(&mut self, cx: &mut Cx<'_>, aor: &str, package: &Package) {
        let ids: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| s.aor == aor && s.package.name == package.name)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_notify(cx, id, None);
        }
    }

    /// A response whose top Via has `branch`: `true` when it answers one of
    /// our NOTIFYs (a 481 ends the subscription).
    pub fn on_response(&mut self, cx: &mut Cx<'_>, branch: &str, status: u16) -> bool {
        let Some(&notify_id) = self.by_branch.get(branch) else {
            return false;
        };
        if status >= 200 {
            self.by_branch.remove(branch);
            cx.timers.stop(Timer::Notify(notify_id));
            if let Some(p) = self.pending.remove(&notify_id) {
                let sub = p.sub;
                if status == 481 {
                    info!(sub, "NOTIFY answered 481: subscription removed");
                    self.subs.remove(&sub);
                    cx.timers.stop(Timer::Subscription(sub));
                } else if status >= 300 {
                    warn!(sub, status, "NOTIFY refused");
                }
            }
        }
        true
    }

    /// [`Timer::Subscription`] fired: the final NOTIFY, and the end.
    pub fn subscription_expired(&mut self, cx: &mut Cx<'_>, id: u64) {
        self.end(cx, id, "timeout");
    }

    /// [`Timer::Notify`] fired: the response is no longer awaited.
    pub fn notify_timed_out(&mut self, id: u64) {
        if let Some(p) = self.pending.remove(&id) {
            self.by_branch.remove(&p.branch);
        }
    }

    /// The flow `conn` closed: its subscriptions end (nothing can be sent).
    pub fn close(&mut self, cx: &mut Cx<'_>, conn: ConnId) {
        self.subs.retain(|&id, s| {
            let keep = s.conn != conn;
            if !keep {
                cx.timers.stop(Timer::Subscription(id));
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Publication, Store};
    use crate::testing::{request_to, Kit};
    use imsip::message::MessageBuilder;

    const ALICE: &str = "sip:alice@imsip.test";

    fn subscribe(
        kit: &mut Kit,
        n: &mut Notifier,
        conn: ConnId,
        expires: u32,
        to_tag: Option<&str>,
    ) -> Message {
        let to = match to_tag {
            Some(t) => format!("<{ALICE}>;tag={t}"),
            None => format!("<{ALICE}>"),
        };
        let req = request_to(Method::Subscribe, ALICE, ALICE, &to, 1)
            .header("Event", "service-settings")
            .header("Contact", "<sip:a@h.invalid;transport=ws>")
            .header("Expires", expires)
            .build();
        let alice = kit.user(ALICE);
        n.on_subscribe(&mut kit.cx(), conn, &req, &alice);
        kit.response(conn)
    }

    #[test]
    fn subscribe_notify_and_expiry() {
        let (mut kit, mut n) = (Kit::new(), Notifier::default());
        let conn = kit.conn();
        let doc = Publication {
            content_type: "application/service-settings+xml".into(),
            document: b"<doc/>".to_vec(),
            etag: "e".into(),
            expires_at: kit.now.unix + 3600,
        };
        kit.store
            .put_publication(ALICE, "service-settings", &doc)
            .unwrap();
        let ok = subscribe(&mut kit, &mut n, conn, 600, None);
        assert_eq!(ok.status(), Some(200));
        assert_eq!(ok.expires().unwrap(), Some(600));
        let notify = kit.last(conn);
        assert_eq!(notify.method(), Some(&Method::Notify));
        assert_eq!(notify.body(), b"<doc/>");
        let state = notify.subscription_state().unwrap().unwrap();
        assert_eq!(state.expires(), Some(600));

        // Answered: no longer pending; its NOTIFY timer stopped.
        let branch = notify.top_via().unwrap().branch().unwrap().to_owned();
        assert!(n.on_response(&mut kit.cx(), &branch, 200));
        assert!(!n.on_response(&mut kit.cx(), &branch, 200), "answered once");
        assert_eq!(kit.timers.pop_expired(kit.now.mono + NOTIFY_TIMEOUT), None);

        kit.advance(Duration::from_secs(600));
        assert_eq!(
            kit.timers.pop_expired(kit.now.mono),
            Some(Timer::Subscription(1))
        );
        n.subscription_expired(&mut kit.cx(), 1);
        let last = kit.last(conn);
        let state = last.subscription_state().unwrap().unwrap();
        assert_eq!(state.to_string(), "terminated;reason=timeout");
        assert!(n.subs.is_empty());
    }

    #[test]
    fn refresh_unsubscribe_481_and_close() {
        let (mut kit, mut n) = (Kit::new(), Notifier::default());
        let conn = kit.conn();
        let ok = subscribe(&mut kit, &mut n, conn, 600, None);
        let tag = ok.to().unwrap().tag().unwrap().to_owned();
        let _ = kit.last(conn);
        assert_eq!(
            subscribe(&mut kit, &mut n, conn, 600, Some("nope")).status(),
            Some(481)
        );
        let ok = subscribe(&mut kit, &mut n, conn, 300, Some(&tag));
        assert_eq!(ok.expires().unwrap(), Some(300));
        let notify = kit.last(conn);
        // A 481 to a NOTIFY ends the subscription.
        let resp = MessageBuilder::reply(&notify, 481, "Gone", Some("x")).build();
        let branch = resp.top_via().unwrap().branch().unwrap().to_owned();
        assert!(n.on_response(&mut kit.cx(), &branch, 481));
        assert!(n.subs.is_empty());
        assert_eq!(kit.timers.get(Timer::Subscription(1)), None);

        let _ = subscribe(&mut kit, &mut n, conn, 600, None);
        assert_eq!(n.subs.len(), 1);
        n.close(&mut kit.cx(), conn);
        assert!(n.subs.is_empty());
        assert!(
            kit.timers.next().is_some(),
            "its NOTIFY still awaits an answer"
        );
        let id = n.pending.keys().copied().max().unwrap();
        n.notify_timed_out(id);
        assert!(!n.by_branch.values().any(|&v| v == id));
    }
}
