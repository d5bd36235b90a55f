//! The IM Server's policy on pager-mode MESSAGEs to local users (OMA IM
//! "IM Server A/B"): the hook the proxy consults before relaying one.
//!
//! Today there is no policy: every MESSAGE is relayed. This is where the
//! policy acting on the users' stored settings is to live (the
//! `service-settings` published through the publications part): incoming
//! message barring (refuse), deferred delivery while the recipient is offline
//! (store, for delivery when it registers again) and history. Whatever state
//! that needs — stored messages, history — belongs to this part and, when
//! persistent, to new methods of the [`Store`].

use crate::store::Store;
use crate::timers::Now;
use crate::users::User;
use imsip::message::Message;

/// A MESSAGE on its way to a local user, as the policy sees it.
#[derive(Debug)]
#[allow(
    dead_code,
    reason = "read by the IM Server policy, still to be written"
)]
pub(crate) struct Incoming<'a> {
    /// The sender's AoR, as authenticated (`sip:user@host`).
    pub sender: &'a str,
    /// The local user the Request-URI names.
    pub recipient: &'a User,
    /// The request, as received.
    pub request: &'a Message,
    /// Whether the recipient has a current registration (a contact to
    /// relay to).
    pub online: bool,
    /// The time of this step.
    pub now: Now,
}

/// What the proxy does with an [`Incoming`] MESSAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(dead_code, reason = "Refuse and Store come with the IM Server policy")]
pub(crate) enum Disposition {
    /// Relay it to the recipient's contacts (404 if there are none).
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

/// The IM Server's policy state (none yet).
#[derive(Debug, Default)]
pub(crate) struct ImServer {
    /// Unit tests of the proxy set the disposition here.
    #[cfg(test)]
    pub fixed: Option<Disposition>,
}

impl ImServer {
    /// Decides what happens to `incoming`, with the store at hand to read
    /// the recipient's settings or keep the message. Today: always
    /// [`Disposition::Relay`].
    pub fn on_incoming(&mut self, incoming: &Incoming<'_>, store: &mut dyn Store) -> Disposition {
        let _ = (incoming, store);
        #[cfg(test)]
        if let Some(d) = self.fixed.clone() {
            return d;
        }
        Disposition::Relay
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::testing::{request, Kit};
    use imsip::message::Method;

    #[test]
    fn every_message_is_relayed_for_now() {
        let kit = Kit::new();
        let bob = kit.user("sip:bob@imsip.test");
        let req = request(
            Method::Message,
            "sip:bob@imsip.test",
            "sip:alice@imsip.test",
            1,
        )
        .build();
        for online in [true, false] {
            let incoming = Incoming {
                sender: "sip:alice@imsip.test",
                recipient: &bob,
                request: &req,
                online,
                now: kit.now,
            };
            let d = ImServer::default().on_incoming(&incoming, &mut MemoryStore::default());
            assert_eq!(d, Disposition::Relay);
        }
    }
}
