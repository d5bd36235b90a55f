//! The IM server's event state compositor (RFC 3903): the event packages it
//! accepts — name, content type, document check — and PUBLISH: initial
//! publication, refresh (SIP-If-Match), modification and removal, with the
//! expiry of stored state.
//!
//! The state itself lives in the [`Store`] (it survives a restart); this
//! part is its only writer and the one reader others go through
//! ([`current`]). Each expiry is a row's `expires_at`: [`Timer::Publications`]
//! is set to the earliest one, queried from the store, and the expired rows
//! are purged when it fires. Who watches a change is the notifier's business:
//! PUBLISH and expiry return what changed, and the core passes it on.

use crate::core::{requested_expires, targets_own_aor, Cx, MAX_EXPIRES};
use crate::flows::ConnId;
use crate::store::{Publication, Store, StoreResult};
use crate::timers::Timer;
use crate::users::User;
use crate::util::random_hex;
use imsip::message::{warning_399, Message};
use imsip::settings::{
    PocSettings, ServiceSettings, POC_SETTINGS_CONTENT_TYPE, SERVICE_SETTINGS_CONTENT_TYPE,
};
use std::time::Duration;
use tracing::{error, info};

/// An event package of the IM server.
#[derive(Debug)]
pub(crate) struct Package {
    /// The Event token.
    pub name: &'static str,
    /// The one Content-Type of its documents.
    pub content_type: &'static str,
    /// Checks a document.
    validate: fn(&[u8]) -> Result<(), String>,
}

/// The event packages accepted.
const PACKAGES: [Package; 2] = [
    Package {
        name: "service-settings",
        content_type: SERVICE_SETTINGS_CONTENT_TYPE,
        validate: |b| {
            ServiceSettings::decode(b)
                .map(drop)
                .map_err(|e| e.to_string())
        },
    },
    Package {
        name: "poc-settings",
        content_type: POC_SETTINGS_CONTENT_TYPE,
        validate: |b| PocSettings::decode(b).map(drop).map_err(|e| e.to_string()),
    },
];

impl Package {
    /// The package named `name` (case-insensitive).
    pub fn find(name: &str) -> Option<&'static Package> {
        PACKAGES.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether `body` is a valid document of this package.
    pub fn validate(&self, body: &[u8]) -> Result<(), String> {
        (self.validate)(body)
    }
}

/// The Allow-Events value: every package.
pub(crate) fn allow_events() -> String {
    PACKAGES.map(|p| p.name).join(", ")
}

/// The package of `req`'s Event header, or `None` when 489 Bad Event has
/// been sent.
pub(crate) fn package_of(cx: &Cx<'_>, conn: ConnId, req: &Message) -> Option<&'static Package> {
    let p = req
        .event()
        .ok()
        .flatten()
        .and_then(|e| Package::find(&e.value));
    if p.is_none() {
        cx.flows.reply(
            conn,
            req,
            489,
            "Bad Event",
            &[("Allow-Events", allow_events())],
        );
    }
    p
}

/// The current state of `aor` for `package` at `now` (Unix seconds).
pub(crate) fn current(
    store: &dyn Store,
    aor: &str,
    package: &Package,
    now: u64,
) -> StoreResult<Option<Publication>> {
    store.publication(aor, package.name, now)
}

/// The event state compositor. Its state is in the store.
#[derive(Debug, Default)]
pub(crate) struct Publications;

impl Publications {
    /// A PUBLISH of `user` (authenticated) on `conn`: answers it (200 with
    /// SIP-ETag, or 400, 403, 412, 415, 423, 489, 500) and returns the AoR
    /// and package whose state changed (a new document or a removal), for
    /// the watchers to be told.
    pub fn on_publish(
        &mut self,
        cx: &mut Cx<'_>,
        conn: ConnId,
        req: &Message,
        user: &User,
    ) -> Option<(String, &'static Package)> {
        let pkg = package_of(cx, conn, req)?;
        if !targets_own_aor(req, user) {
            let r = "Forbidden (not your address of record)";
            cx.flows.reply(conn, req, 403, r, &[]);
            return None;
        }
        let expires = requested_expires(cx, conn, req, MAX_EXPIRES)?;
        let if_match = req.sip_if_match().ok().flatten();
        let has_body = !req.body().iter().all(u8::is_ascii_whitespace);
        let stored = match current(cx.store, &user.aor, pkg, cx.now.unix) {
            Ok(s) => s,
            Err(e) => {
                cx.flows.server_error(conn, req, &e);
                return None;
            }
        };
        let stored = match (&if_match, stored) {
            (Some(tag), Some(s)) if s.etag == *tag => Some(s),
            (Some(_), _) => {
                cx.flows
                    .reply(conn, req, 412, "Conditional Request Failed", &[]);
                return None;
            }
            (None, _) if expires == 0 => {
                let r = "Bad Request (removing a publication needs SIP-If-Match)";
                cx.flows.reply(conn, req, 400, r, &[]);
                return None;
            }
            (None, _) if !has_body => {
                let r = "Bad Request (an initial PUBLISH needs a body)";
                cx.flows.reply(conn, req, 400, r, &[]);
                return None;
            }
            (None, _) => None,
        };
        let im_headers = |etag: &str, expires: u32| -> Vec<(&'static str, String)> {
            vec![
                ("SIP-ETag", etag.to_owned()),
                ("Expires", expires.to_string()),
                ("Server", "IM-serv/OMA1.0".to_owned()),
                (
                    "P-Asserted-Identity",
                    format!("<sip:IM-Server@{}>", cx.cfg.domain),
                ),
            ]
        };
        if expires == 0 {
            if let Err(e) = cx.store.delete_publication(&user.aor, pkg.name) {
                cx.flows.server_error(conn, req, &e);
                return None;
            }
            let etag = if_match.unwrap_or_default();
            info!(conn, aor = %user.aor, package = pkg.name, "publication removed");
            cx.flows.reply(conn, req, 200, "OK", &im_headers(&etag, 0));
            self.arm(cx);
            return Some((user.aor.clone(), pkg));
        }
        let (document, changed) = if has_body {
            let ct = req.content_type().ok().flatten();
            if !ct.is_some_and(|c| c.is(pkg.content_type)) {
                cx.flows.reply(
                    conn,
                    req,
                    415,
                    "Unsupported Media Type",
                    &[("Accept", pkg.content_type.to_owned())],
                );
                return None;
            }
            if let Err(e) = pkg.validate(req.body()) {
                let reason = format!("Bad Request (invalid {} document)", pkg.name);
                let w = warning_399(&cx.cfg.domain, &e);
                cx.flows.reply(conn, req, 400, &reason, &[("Warning", w)]);
                return None;
            }
            (req.body().to_vec(), true)
        } else if let Some(s) = stored {
            (s.document, false)
        } else {
            // Unreachable: no body and no stored state was answered above.
            cx.flows
                .reply(conn, req, 412, "Conditional Request Failed", &[]);
            return None;
        };
        let p = Publication {
            content_type: pkg.content_type.to_owned(),
            document,
            etag: random_hex(12),
            expires_at: cx.now.unix + u64::from(expires),
        };
        if let Err(e) = cx.store.put_publication(&user.aor, pkg.name, &p) {
            cx.flows.server_error(conn, req, &e);
            return None;
        }
        info!(conn, aor = %user.aor, package = pkg.name, etag = %p.etag, expires, changed, "published");
        cx.flows
            .reply(conn, req, 200, "OK", &im_headers(&p.etag, expires));
        self.arm(cx);
        changed.then(|| (user.aor.clone(), pkg))
    }

    /// [`Timer::Publications`] fired: purges the expired publications and
    /// returns them (AoR, package), for the watchers to be told.
    pub fn handle_timeout(&mut self, cx: &mut Cx<'_>) -> Vec<(String, &'static Package)> {
        let gone = match cx.store.purge_expired(cx.now.unix) {
            Ok(gone) => gone,
            Err(e) => {
                error!(error = %e, "database error");
                // Try again in a second rather than at once.
                let retry = cx.now.mono + Duration::from_secs(1);
                cx.timers.set(Timer::Publications, retry);
                return Vec::new();
            }
        };
        self.arm(cx);
        gone.into_iter()
            .filter_map(|(aor, package)| {
                info!(%aor, %package, "publication expired");
                Package::find(&package).map(|p| (aor, p))
            })
            .collect()
    }

    /// Sets [`Timer::Publications`] to the earliest stored expiry.
    pub fn arm(&self, cx: &mut Cx<'_>) {
        match cx.store.next_expiry() {
            Ok(next) => {
                let at = next.map(|unix| cx.now.mono_at_unix(unix));
                cx.timers.set_or_stop(Timer::Publications, at);
            }
            Err(e) => {
                error!(error = %e, "database error");
                let retry = cx.now.mono + Duration::from_secs(1);
                cx.timers.set(Timer::Publications, retry);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{request, settings_doc, Kit};
    use imsip::message::Method;

    const ALICE: &str = "sip:alice@imsip.test";

    fn publish(
        kit: &mut Kit,
        expires: Option<u32>,
        if_match: Option<&str>,
        body: Option<&str>,
    ) -> (Message, Option<(String, &'static Package)>) {
        let conn = kit.conn();
        let mut b = request(Method::Publish, ALICE, ALICE, 1).header("Event", "service-settings");
        if let Some(e) = expires {
            b = b.header("Expires", e);
        }
        if let Some(t) = if_match {
            b = b.header("SIP-If-Match", t);
        }
        if let Some(body) = body {
            b = b.body(Some(SERVICE_SETTINGS_CONTENT_TYPE), body);
        }
        let alice = kit.user(ALICE);
        let changed = Publications.on_publish(&mut kit.cx(), conn, &b.build(), &alice);
        (kit.last(conn), changed)
    }

    #[test]
    fn publish_refresh_modify_remove() {
        let mut kit = Kit::new();
        let doc = settings_doc(ALICE, true);
        let (r, changed) = publish(&mut kit, Some(600), None, Some(&doc));
        assert_eq!(r.status(), Some(200), "{r}");
        assert_eq!(
            changed.map(|(a, p)| (a, p.name)),
            Some((ALICE.into(), "service-settings"))
        );
        let etag = r.sip_etag().unwrap().unwrap();
        let at = kit.timers.get(Timer::Publications).unwrap();
        assert_eq!(at, kit.now.mono + Duration::from_secs(600));

        // A refresh without a body: same document, new entity-tag, no change.
        let (r, changed) = publish(&mut kit, Some(900), Some(&etag), None);
        assert_eq!(r.status(), Some(200));
        assert!(changed.is_none());
        let etag2 = r.sip_etag().unwrap().unwrap();
        assert_ne!(etag, etag2);
        let (r, _) = publish(&mut kit, Some(900), Some(&etag), None);
        assert_eq!(r.status(), Some(412), "the old entity-tag is gone");
        let (r, _) = publish(&mut kit, None, None, Some("<not-settings/>"));
        assert_eq!(r.status(), Some(400));
        assert!(r
            .header("Warning")
            .unwrap()
            .starts_with("399 imsip.test \""));
        let (r, _) = publish(&mut kit, Some(0), None, None);
        assert_eq!(r.status(), Some(400), "removal needs SIP-If-Match");
        let (r, changed) = publish(&mut kit, Some(0), Some(&etag2), None);
        assert_eq!(r.status(), Some(200));
        assert!(changed.is_some());
        assert_eq!(kit.timers.get(Timer::Publications), None);
    }

    #[test]
    fn stored_state_expires_on_the_earliest_deadline() {
        let mut kit = Kit::new();
        let doc = settings_doc(ALICE, false);
        let (r, _) = publish(&mut kit, Some(60), None, Some(&doc));
        assert_eq!(r.status(), Some(200));
        kit.advance(Duration::from_secs(59));
        assert!(Publications.handle_timeout(&mut kit.cx()).is_empty());
        kit.advance(Duration::from_secs(1));
        assert_eq!(
            kit.timers.pop_expired(kit.now.mono),
            Some(Timer::Publications)
        );
        let gone = Publications.handle_timeout(&mut kit.cx());
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].1.name, "service-settings");
        assert_eq!(kit.timers.next(), None);
        let state = current(&kit.store, ALICE, gone[0].1, kit.now.unix).unwrap();
        assert!(state.is_none());
    }

    #[test]
    fn a_store_failure_is_500_and_retried() {
        let mut kit = Kit::new();
        kit.store.fail = true;
        let (r, changed) = publish(&mut kit, None, None, Some(&settings_doc(ALICE, true)));
        assert_eq!(r.status(), Some(500));
        assert!(changed.is_none());
        assert!(Publications.handle_timeout(&mut kit.cx()).is_empty());
        let retry = kit.timers.get(Timer::Publications).unwrap();
        assert_eq!(retry, kit.now.mono + Duration::from_secs(1));
    }

    #[test]
    fn packages() {
        assert_eq!(allow_events(), "service-settings, poc-settings");
        assert_eq!(Package::find("POC-settings").unwrap().name, "poc-settings");
        assert!(Package::find("presence").is_none());
        let p = Package::find("service-settings").unwrap();
        assert!(p.validate(settings_doc(ALICE, true).as_bytes()).is_ok());
        assert!(p.validate(b"<x/>").is_err());
    }
}
