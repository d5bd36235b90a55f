//! Unit-test kit: what the core lends a part (settings, the built-in users,
//! a [`MemoryStore`], flows whose frames are collected, the timer table) and
//! a clock that only moves when told. No socket, no sleep.

use crate::authenticator::AuthConfig;
use crate::core::{CoreConfig, Cx};
use crate::flows::{ConnId, Flows, Outbound};
use crate::store::MemoryStore;
use crate::timers::{Now, TimerTable};
use crate::users::{User, Users};
use imsip::auth::{AkaVersion, Algorithm};
use imsip::message::{Message, MessageBuilder, Method};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// The settings of the tests: domain and realm `imsip.test`, MD5 and
/// AKAv1-MD5, nonces valid 300 s, relays wait 2 s, 403 after 3 failures.
pub(crate) fn test_config() -> CoreConfig {
    CoreConfig {
        domain: "imsip.test".into(),
        sent_by: "127.0.0.1:5060".into(),
        relay_timeout: Duration::from_secs(2),
        deferred: crate::im_server::DeferredLimits::default(),
        auth: AuthConfig {
            realm: "imsip.test".into(),
            digest: vec![Algorithm::MD5],
            aka: vec![AkaVersion::V1],
            nonce_ttl: Duration::from_secs(300),
            max_failures: 3,
        },
    }
}

/// A fixed start time.
pub(crate) fn t0() -> Now {
    Now {
        mono: Instant::now(),
        unix: 1_800_000_000,
    }
}

/// The shared pieces one part needs, and what was sent on each flow.
pub(crate) struct Kit {
    pub cfg: CoreConfig,
    pub users: Users,
    pub store: MemoryStore,
    pub flows: Flows,
    pub timers: TimerTable,
    pub now: Now,
    rx: HashMap<ConnId, UnboundedReceiver<Outbound>>,
    inbox: HashMap<ConnId, VecDeque<Message>>,
}

impl Kit {
    /// A kit at [`t0`] with no flow open.
    pub fn new() -> Kit {
        Kit {
            cfg: test_config(),
            users: Users::builtin(),
            store: MemoryStore::default(),
            flows: Flows::default(),
            timers: TimerTable::default(),
            now: t0(),
            rx: HashMap::new(),
            inbox: HashMap::new(),
        }
    }

    /// The context of one step at the current time.
    pub fn cx(&mut self) -> Cx<'_> {
        Cx {
            now: self.now,
            cfg: &self.cfg,
            users: &self.users,
            flows: &self.flows,
            store: &mut self.store,
            timers: &mut self.timers,
        }
    }

    /// Opens a flow.
    pub fn conn(&mut self) -> ConnId {
        let (tx, rx) = unbounded_channel();
        let conn = self.flows.open(tx, None);
        self.rx.insert(conn, rx);
        conn
    }

    /// Moves the clock on by `d`.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.plus(d);
    }

    /// The built-in user `aor`.
    pub fn user(&self, aor: &str) -> User {
        self.users.by_aor(aor).cloned().expect("built-in user")
    }

    fn pull(&mut self, conn: ConnId) -> &mut VecDeque<Message> {
        let inbox = self.inbox.entry(conn).or_default();
        if let Some(rx) = self.rx.get_mut(&conn) {
            while let Ok(out) = rx.try_recv() {
                if let Outbound::Frame(bytes) = out {
                    inbox.push_back(Message::parse(&bytes).expect("a SIP message"));
                }
            }
        }
        inbox
    }

    /// Every message sent on `conn` not taken yet.
    pub fn take(&mut self, conn: ConnId) -> Vec<Message> {
        self.pull(conn).drain(..).collect()
    }

    /// The last message sent on `conn` (the others are dropped).
    pub fn last(&mut self, conn: ConnId) -> Message {
        let inbox = self.pull(conn);
        let last = inbox.pop_back().expect("something sent");
        inbox.clear();
        last
    }

    /// The first response sent on `conn` (requests stay queued).
    pub fn response(&mut self, conn: ConnId) -> Message {
        let inbox = self.pull(conn);
        let i = inbox
            .iter()
            .position(|m| !m.is_request())
            .expect("a response");
        inbox.remove(i).expect("just found")
    }
}

/// A request from `from` (an AoR) to `ruri` with a Via, Max-Forwards 70, a
/// From tag, To (the From AoR for a REGISTER, else the Request-URI), a
/// Call-ID per method and sender, and CSeq `cseq`.
pub(crate) fn request(method: Method, ruri: &str, from: &str, cseq: u32) -> MessageBuilder {
    let to = if method == Method::Register {
        from
    } else {
        ruri
    };
    request_to(method, ruri, from, &format!("<{to}>"), cseq)
}

/// As [`request`], with this To value.
pub(crate) fn request_to(
    method: Method,
    ruri: &str,
    from: &str,
    to: &str,
    cseq: u32,
) -> MessageBuilder {
    MessageBuilder::request(method.clone(), ruri.parse().expect("Request-URI"))
        .header("Via", format!("SIP/2.0/WS c.invalid;branch=z9hG4bKt{cseq}"))
        .header("Max-Forwards", 70)
        .header("From", format!("<{from}>;tag=f1"))
        .header("To", to)
        .header("Call-ID", format!("{method}-{from}"))
        .header("CSeq", format!("{cseq} {method}"))
}

/// A service-settings document for `aor`.
pub(crate) fn settings_doc(aor: &str, barring: bool) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <service-settings xmlns=\"urn:oma:xml:im:service-settings\">\
         <entity id=\"{aor}\"><isb-settings><incoming-session-barring active=\"{barring}\"/>\
         </isb-settings></entity></service-settings>"
    )
}
