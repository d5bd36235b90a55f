//! In-memory harness: the sans-IO user agent against a fake registrar / IM server
//! built from the project's own codecs. Time is stepped to the next wake-up: no
//! sleeps, no real clock, no sockets.
#![allow(dead_code)]

use imsip::auth::{
    base64_decode, generate_challenge, verify_auts, AkaKeys, Algorithm, Credentials, DigestInput,
    DigestSecret, Key, OpOrOpc, Qop, RandomSource,
};
use imsip::message::{HeaderName, Message, MessageBuilder, Method};
use imsip::settings::ServiceSettings;
use imsip::ua::{Config, Event, Input, OpId, Outcome, Output, UaError, UserAgent};

/// Deterministic random source (xorshift), seedable per test.
pub struct TestRng(pub u64);
impl RandomSource for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 24) as u8;
        }
    }
}

pub const REALM: &str = "imsip.test";
pub const ALICE: &str = "sip:alice@imsip.test";
pub const BOB: &str = "sip:bob@imsip.test";
/// Bob's Contact in his answers to our INVITEs (the remote target).
pub const BOB_CONTACT: &str = "sip:bob@b0b.invalid;transport=ws";
/// The Record-Route of Bob's 2xx: the proxy nearest Bob first (RFC 3261 §16.6).
pub const BOB_RECORD_ROUTE: &str = "<sip:scscf.imsip.test;lr>, <sip:edge.imsip.test;lr>";
/// Bob's SDP answer.
pub const BOB_ANSWER: &str = "v=0\r\no=bob 1 1 IN IP4 b0b.invalid\r\ns=-\r\nc=IN IP4 b0b.invalid\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\na=accept-types:text/plain\r\na=path:msrps://b0b.invalid:443/bob1;ws\r\n";

pub fn carol_keys() -> AkaKeys {
    AkaKeys {
        k: Key::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap(),
        op_or_opc: OpOrOpc::Op(Key::from_hex("cdc202d5123e20f62b6d676ac72cb318").unwrap()),
        amf: [0xb9, 0xb9],
    }
}

/// What the fake core does with a request.
#[derive(Default)]
pub struct Behaviour {
    /// Never answer anything (Timer F tests).
    pub silent: bool,
    /// Answer every REGISTER with 401, even correct ones.
    pub always_challenge: bool,
    /// Min-Expires: 423 for REGISTERs asking less.
    pub min_expires: Option<u32>,
    /// Granted registration expiry (caps the request).
    pub max_expires: Option<u32>,
    /// Answer PUBLISH/SUBSCRIBE with this status.
    pub settings_status: Option<u16>,
    /// Answer MESSAGE with this status instead of 200.
    pub message_status: Option<u16>,
    /// Answer a MESSAGE whose body contains the first string with the status
    /// (before `message_status`): a peer that refuses some kinds of content.
    pub message_status_for: Vec<(&'static str, u16)>,
    /// Do not answer keep-alive pings.
    pub no_pong: bool,
    /// Send NOTIFY before the 200 to SUBSCRIBE.
    pub notify_first: bool,
    /// The REGISTER 200 carries `Require: outbound` (RFC 5626 §4.2.1).
    pub require_outbound: bool,
    /// The REGISTER 200 carries `Flow-Timer: N`.
    pub flow_timer: Option<u32>,
    /// Scripted answers to authenticated REGISTERs, in order: (status, Retry-After).
    /// Empty: the normal registrar.
    pub register_script: std::collections::VecDeque<(u16, Option<u32>)>,
    /// Scripted answers to PUBLISHes, in order (after the settings_status check).
    pub publish_script: std::collections::VecDeque<u16>,
    /// Kamailio's default WITH_AUTH script: every non-REGISTER request is
    /// challenged with its own 407 and a fresh nonce until it carries a valid
    /// Proxy-Authorization (no trust of the registered flow).
    pub proxy_auth: bool,
    /// Close the connection whenever a REGISTER arrives (a front proxy that
    /// accepts the upgrade and then drops the flow).
    pub drop_on_register: bool,
    /// Bob's final answer to an INVITE (after 100 and 180) when not 200.
    pub invite_status: Option<u16>,
    /// Bob rings (100, 180) and never answers: the INVITE waits for a CANCEL.
    pub invite_ring_only: bool,
    /// The REGISTER 200 lists first a binding of an earlier connection with this
    /// expiry: the same instance and reg-id, our URI with an `;alias` parameter
    /// (Kamailio's `set_contact_alias` without outbound gives each connection
    /// its own URI).
    pub stale_binding: Option<u32>,
    /// The next this many REGISTER 200s list only another device's binding, not
    /// ours (a registrar that lost or never made it).
    pub omit_own_contact: u32,
    /// The realm of AKA challenges (default [`REALM`]): another S-CSCF's.
    pub aka_realm: Option<&'static str>,
    /// The registrar's challenge comes as a forking proxy aggregates it: one 407
    /// with a Proxy-Authenticate (realm `proxy.imsip.test`) and the registrar's
    /// WWW-Authenticate (RFC 3261 §16.7).
    pub aggregate_challenge: bool,
    /// The core closes the connection right after each REGISTER 200 (a flapping
    /// edge).
    pub drop_after_register: bool,
}

pub struct FakeCore {
    pub password: Option<String>,
    pub aka: Option<(AkaKeys, u64)>,
    pub behaviour: Behaviour,
    /// Every request received, in order.
    pub received: Vec<Message>,
    pub outbox: Vec<String>,
    nonce_seq: u64,
    /// Current nonce (and AKA XRES-derived password when AKA).
    nonce: Option<String>,
    aka_rand: Option<[u8; 16]>,
    aka_password: Option<Vec<u8>>,
    last_nc: u32,
    pub stale_nonces: Vec<String>,
    pub registered_expires: Option<u32>,
    pub settings: Option<(String, String)>,
    etag_seq: u32,
    /// (call_id, subscriber from-tag, our tag, expires)
    pub watchers: Vec<(String, String, String)>,
    notify_cseq: u32,
    /// Nonces of 407 challenges issued, with the highest nc seen for each.
    proxy_nonces: Vec<(String, u32)>,
    /// Requests challenged with 407.
    pub proxy_challenges: usize,
    /// The core closes the connection now (drop_on_register).
    pub drop_now: bool,
    /// Close the connection once the outbox is delivered.
    pub drop_after_outbox: bool,
    /// The IM Server's history of Alice.
    pub history: Vec<imsip::im::history::HistoryEntry>,
    /// The last history query received.
    pub last_history_query: Option<imsip::im::history::HistoryQuery>,
    /// INVITEs ringing without a final answer (`invite_ring_only`).
    pub ringing: Vec<Message>,
    /// Bob's last 2xx to an INVITE (to send again).
    pub last_invite_ok: Option<String>,
}

impl FakeCore {
    pub fn with_password(pw: &str) -> Self {
        Self::new(Some(pw.to_owned()), None)
    }
    pub fn with_aka(sqn: u64) -> Self {
        Self::new(None, Some((carol_keys(), sqn)))
    }
    fn new(password: Option<String>, aka: Option<(AkaKeys, u64)>) -> Self {
        FakeCore {
            password,
            aka,
            behaviour: Behaviour::default(),
            received: Vec::new(),
            outbox: Vec::new(),
            nonce_seq: 0,
            nonce: None,
            aka_rand: None,
            aka_password: None,
            last_nc: 0,
            stale_nonces: Vec::new(),
            registered_expires: None,
            settings: None,
            etag_seq: 0,
            watchers: Vec::new(),
            notify_cseq: 0,
            proxy_nonces: Vec::new(),
            proxy_challenges: 0,
            drop_now: false,
            drop_after_outbox: false,
            history: Vec::new(),
            last_history_query: None,
            ringing: Vec::new(),
            last_invite_ok: None,
        }
    }

    /// Kamailio-style proxy authentication: true when `req` may pass.
    fn proxy_check(&mut self, req: &Message) -> bool {
        let creds = req.proxy_authorization().unwrap_or_default();
        let ok = creds.iter().any(|a| {
            let nonce = a.param("nonce").unwrap_or("");
            let nc = u32::from_str_radix(a.param("nc").unwrap_or("0"), 16).unwrap_or(0);
            let Some(i) = self.proxy_nonces.iter().position(|(n, _)| n == nonce) else {
                return false;
            };
            if nc <= self.proxy_nonces[i].1 {
                return false;
            }
            let input = DigestInput {
                algorithm: Algorithm::MD5,
                username: a.param("username").unwrap_or(""),
                realm: a.param("realm").unwrap_or(""),
                nonce,
                cnonce: a.param("cnonce").unwrap_or(""),
                nc,
                qop: a.param("qop").map(|_| Qop::Auth),
                method: req.method().map(|m| m.as_str()).unwrap_or(""),
                uri: a.param("uri").unwrap_or(""),
                body: req.body(),
            };
            let pw = self.password.clone().unwrap_or_default().into_bytes();
            let good =
                input.response(DigestSecret::Password(&pw)) == a.param("response").unwrap_or("");
            if good {
                self.proxy_nonces[i].1 = nc;
            }
            good
        });
        if !ok {
            self.nonce_seq += 1;
            let n = format!("p{:08}", self.nonce_seq);
            self.proxy_nonces.push((n.clone(), 0));
            self.proxy_challenges += 1;
            self.reply(
                req,
                407,
                "Proxy Authentication Required",
                &[(
                    "Proxy-Authenticate",
                    format!("Digest realm=\"{REALM}\", nonce=\"{n}\", algorithm=MD5, qop=\"auth\""),
                )],
            );
        }
        ok
    }

    /// Sends a NOTIFY with `state` to every watcher.
    pub fn notify_watchers(&mut self, state: &str) {
        for (c, s, o) in self.watchers.clone() {
            self.notify(&c, &s, &o, state);
        }
        if state.starts_with("terminated") {
            self.watchers.clear();
        }
    }

    /// Makes the current nonce stale: the next use gets 401 stale=true.
    pub fn expire_nonce(&mut self) {
        if let Some(n) = self.nonce.take() {
            self.stale_nonces.push(n);
        }
    }

    pub fn requests(&self, method: Method) -> Vec<&Message> {
        self.received
            .iter()
            .filter(|m| m.method() == Some(&method))
            .collect()
    }

    fn reply(&mut self, req: &Message, status: u16, reason: &str, extra: &[(&str, String)]) {
        self.reply_as(req, status, reason, "core1", extra, None);
    }

    /// A response with our To `tag` and an optional SDP body; returns the frame.
    fn reply_as(
        &mut self,
        req: &Message,
        status: u16,
        reason: &str,
        tag: &str,
        extra: &[(&str, String)],
        sdp: Option<&str>,
    ) -> String {
        let mut b = MessageBuilder::reply(req, status, reason, Some(tag));
        for (n, v) in extra {
            b.push_header(*n, v);
        }
        if let Some(sdp) = sdp {
            b = b.body(Some("application/sdp"), sdp);
        }
        let frame = b.build().to_string();
        self.outbox.push(frame.clone());
        frame
    }

    /// Bob (through the core) answers an INVITE: 100, 180, then 200 with his SDP,
    /// Contact and the proxies' Record-Route, or `invite_status`, or nothing more
    /// (`invite_ring_only`).
    fn on_invite(&mut self, msg: &Message) {
        self.reply_as(msg, 100, "Trying", "bob1", &[], None);
        let contact = ("Contact", format!("<{BOB_CONTACT}>"));
        self.reply_as(
            msg,
            180,
            "Ringing",
            "bob1",
            std::slice::from_ref(&contact),
            None,
        );
        if self.behaviour.invite_ring_only {
            self.ringing.push(msg.clone());
            return;
        }
        match self.behaviour.invite_status {
            Some(s) => {
                self.reply_as(msg, s, "Scripted", "bob1", &[], None);
            }
            None => {
                let extra = [contact, ("Record-Route", BOB_RECORD_ROUTE.to_owned())];
                let ok = self.reply_as(msg, 200, "OK", "bob1", &extra, Some(BOB_ANSWER));
                self.last_invite_ok = Some(ok);
            }
        }
    }

    /// A CANCEL of a ringing INVITE (same top Via branch): 200, then 487 to the
    /// INVITE (RFC 3261 §9.2); else 481.
    fn on_cancel(&mut self, msg: &Message) {
        let branch = |m: &Message| m.top_via().unwrap().branch().map(str::to_owned);
        let Some(i) = self.ringing.iter().position(|i| branch(i) == branch(msg)) else {
            self.reply(msg, 481, "Call/Transaction Does Not Exist", &[]);
            return;
        };
        let invite = self.ringing.remove(i);
        self.reply_as(msg, 200, "OK", "bob1", &[], None);
        self.reply_as(&invite, 487, "Request Terminated", "bob1", &[], None);
    }

    /// Sends Bob's last 2xx to an INVITE again (its ACK was lost).
    pub fn retransmit_invite_ok(&mut self) {
        let ok = self.last_invite_ok.clone().expect("a 2xx was sent");
        self.outbox.push(ok);
    }

    /// The responses the user agent sent (to requests the core delivered).
    pub fn responses(&self) -> Vec<&Message> {
        self.received.iter().filter(|m| !m.is_request()).collect()
    }

    fn challenge(&mut self, req: &Message, stale: bool) {
        self.nonce_seq += 1;
        self.last_nc = 0;
        let value = if let Some((keys, sqn)) = &mut self.aka {
            let mut rand = [0u8; 16];
            rand[..8].copy_from_slice(&self.nonce_seq.to_be_bytes());
            *sqn += 32;
            let v = generate_challenge(keys, *sqn, &rand);
            self.aka_rand = Some(rand);
            // AKAv1: the password is the raw RES.
            self.aka_password = Some(v.xres.expose().to_vec());
            self.nonce = Some(v.nonce.clone());
            format!(
                "Digest realm=\"{}\", nonce=\"{}\", algorithm=AKAv1-MD5, qop=\"auth\"",
                self.behaviour.aka_realm.unwrap_or(REALM),
                v.nonce
            )
        } else {
            let n = format!("n{:08}", self.nonce_seq);
            self.nonce = Some(n.clone());
            format!(
                "Digest realm=\"{REALM}\", nonce=\"{n}\", algorithm=MD5, qop=\"auth\", opaque=\"op1\"{}",
                if stale { ", stale=true" } else { "" }
            )
        };
        if self.behaviour.aggregate_challenge {
            let proxy =
                "Digest realm=\"proxy.imsip.test\", nonce=\"agg1\", algorithm=MD5, qop=\"auth\"";
            return self.reply(
                req,
                407,
                "Proxy Authentication Required",
                &[
                    ("Proxy-Authenticate", proxy.into()),
                    ("WWW-Authenticate", value),
                ],
            );
        }
        self.reply(req, 401, "Unauthorized", &[("WWW-Authenticate", value)]);
    }

    /// Checks the Authorization of `req`: Ok(true) valid, Ok(false) absent or
    /// wrong, Err(()) stale.
    fn check_auth(&mut self, req: &Message) -> Result<bool, ()> {
        let Some(a) = req.authorization().ok().and_then(|v| v.into_iter().next()) else {
            return Ok(false);
        };
        let nonce = a.param("nonce").unwrap_or("");
        if nonce.is_empty() {
            return Ok(false); // IMS initial form
        }
        if self.stale_nonces.iter().any(|n| n == nonce) {
            return Err(());
        }
        if Some(nonce) != self.nonce.as_deref() {
            return Ok(false);
        }
        if let Some(auts) = a.param("auts") {
            let (Some((keys, sqn)), Some(rand)) = (&mut self.aka, self.aka_rand) else {
                return Ok(false);
            };
            let auts = base64_decode(auts).unwrap_or_default();
            if let Some(sqn_ms) = verify_auts(keys, &rand, &auts) {
                *sqn = sqn_ms;
            }
            return Ok(false);
        }
        let nc = u32::from_str_radix(a.param("nc").unwrap_or("0"), 16).unwrap_or(0);
        if nc <= self.last_nc {
            return Ok(false); // replay
        }
        let secret_owned;
        let secret = if let Some(p) = &self.aka_password {
            secret_owned = p.clone();
            DigestSecret::Password(&secret_owned)
        } else {
            secret_owned = self.password.clone().unwrap_or_default().into_bytes();
            DigestSecret::Password(&secret_owned)
        };
        let input = DigestInput {
            algorithm: Algorithm::parse(a.param("algorithm").unwrap_or("MD5"))
                .unwrap_or(Algorithm::MD5),
            username: a.param("username").unwrap_or(""),
            realm: a.param("realm").unwrap_or(""),
            nonce,
            cnonce: a.param("cnonce").unwrap_or(""),
            nc,
            qop: a.param("qop").map(|q| {
                if q == "auth-int" {
                    Qop::AuthInt
                } else {
                    Qop::Auth
                }
            }),
            method: req.method().map(|m| m.as_str()).unwrap_or(""),
            uri: a.param("uri").unwrap_or(""),
            body: req.body(),
        };
        let ok = input.response(secret) == a.param("response").unwrap_or("");
        if ok {
            self.last_nc = nc;
        }
        Ok(ok)
    }

    pub fn receive(&mut self, frame: &str) {
        self.receive_bytes(frame.as_bytes());
    }

    /// A frame from the user agent, text or binary (a body that is not UTF-8).
    pub fn receive_bytes(&mut self, frame: &[u8]) {
        if frame.iter().all(|&b| b == b'\r' || b == b'\n') {
            if !self.behaviour.no_pong {
                self.outbox.push("\r\n".into());
            }
            return;
        }
        let msg = Message::parse(frame).expect("the UA sends parseable frames");
        if !msg.is_request() {
            // Answers to broken requests (RFC 4475 insuf.dat) cannot carry what the request lacked.
            self.received.push(msg);
            return;
        }
        msg.validate().expect("the UA sends valid requests");
        self.received.push(msg.clone());
        if self.behaviour.silent {
            return;
        }
        // Kamailio's script relays ACK and CANCEL before authenticating (they
        // cannot be challenged: neither is ever sent again).
        if self.behaviour.proxy_auth
            && !matches!(
                msg.method(),
                Some(Method::Register | Method::Ack | Method::Cancel)
            )
            && !self.proxy_check(&msg)
        {
            return;
        }
        match msg.method().cloned() {
            Some(Method::Register) => self.on_register(&msg),
            Some(Method::Publish) => self.on_publish(&msg),
            Some(Method::Subscribe) => self.on_subscribe(&msg),
            Some(Method::Message) => {
                let body = String::from_utf8_lossy(msg.body());
                let s = self
                    .behaviour
                    .message_status_for
                    .iter()
                    .find(|(needle, _)| body.contains(needle))
                    .map(|(_, s)| *s)
                    .or(self.behaviour.message_status)
                    .unwrap_or(200);
                self.reply(&msg, s, if s == 200 { "OK" } else { "Rejected" }, &[]);
            }
            Some(Method::Invite) => self.on_invite(&msg),
            Some(Method::Cancel) => self.on_cancel(&msg),
            Some(Method::Bye) => self.reply(&msg, 200, "OK", &[]),
            Some(Method::Ack) => {}
            _ => self.reply(&msg, 405, "Method Not Allowed", &[]),
        }
    }

    fn on_register(&mut self, msg: &Message) {
        if self.behaviour.drop_on_register {
            self.drop_now = true;
            return;
        }
        match self.check_auth(msg) {
            Err(()) => return self.challenge(msg, true),
            Ok(false) => return self.challenge(msg, false),
            Ok(true) if self.behaviour.always_challenge => return self.challenge(msg, false),
            Ok(true) => {}
        }
        let asked = msg.expires().ok().flatten().unwrap_or(3600);
        if asked > 0 {
            if let Some((status, retry_after)) = self.behaviour.register_script.pop_front() {
                if status != 200 {
                    let extra: Vec<(&str, String)> = retry_after
                        .map(|s| vec![("Retry-After", s.to_string())])
                        .unwrap_or_default();
                    return self.reply(msg, status, "Scripted", &extra);
                }
            }
        }
        if let Some(min) = self.behaviour.min_expires {
            if asked > 0 && asked < min {
                return self.reply(
                    msg,
                    423,
                    "Interval Too Brief",
                    &[("Min-Expires", min.to_string())],
                );
            }
        }
        let granted = self.behaviour.max_expires.map_or(asked, |m| asked.min(m));
        self.registered_expires = Some(granted);
        let contact = msg.contact_list().unwrap().remove(0);
        let mut c = contact.clone();
        c.params.set("expires", Some(&granted.to_string()));
        let mut extra = Vec::new();
        if let Some(stale) = self.behaviour.stale_binding {
            let mut old = contact.clone();
            old.params.set("expires", Some(&stale.to_string()));
            let text = old
                .to_string()
                .replacen('>', ";alias=198.51.100.1~40001~6>", 1);
            extra.push(("Contact", text));
        }
        if self.behaviour.omit_own_contact > 0 && asked > 0 {
            self.behaviour.omit_own_contact -= 1;
        } else {
            extra.push(("Contact", c.to_string()));
        }
        if self.behaviour.require_outbound {
            extra.push(("Require", "outbound".into()));
        }
        if let Some(ft) = self.behaviour.flow_timer {
            extra.push(("Flow-Timer", ft.to_string()));
        }
        if granted > 0 {
            extra.push((
                "Contact",
                "<sip:other@x.invalid;transport=ws>;expires=100".into(),
            ));
            extra.push(("Service-Route", "<sip:orig@scscf.imsip.test;lr>".into()));
            extra.push((
                "P-Associated-URI",
                "<sip:alice@imsip.test>, <tel:+15550100>".into(),
            ));
        }
        self.reply(msg, 200, "OK", &extra);
        if self.behaviour.drop_after_register && asked > 0 {
            self.drop_after_outbox = true;
        }
    }

    fn on_publish(&mut self, msg: &Message) {
        if let Some(s) = self.behaviour.settings_status {
            return self.reply(msg, s, "Nope", &[]);
        }
        if let Some(s) = self.behaviour.publish_script.pop_front() {
            if s != 200 {
                return self.reply(msg, s, "Scripted", &[]);
            }
        }
        let if_match = msg.sip_if_match().unwrap();
        let expires = msg.expires().ok().flatten().unwrap_or(3600);
        if let Some(tag) = &if_match {
            if self.settings.as_ref().map(|(e, _)| e) != Some(tag) {
                return self.reply(msg, 412, "Conditional Request Failed", &[]);
            }
        } else if msg.body().is_empty() {
            return self.reply(msg, 400, "Missing Body", &[]);
        }
        if expires == 0 {
            self.settings = None;
            self.notify_all();
            return self.reply(
                msg,
                200,
                "OK",
                &[("SIP-ETag", "gone".into()), ("Expires", "0".into())],
            );
        }
        self.etag_seq += 1;
        let etag = format!("e{}", self.etag_seq);
        let body = if msg.body().is_empty() {
            self.settings
                .as_ref()
                .map(|(_, b)| b.clone())
                .unwrap_or_default()
        } else {
            ServiceSettings::decode(msg.body()).expect("the UA publishes valid settings");
            String::from_utf8(msg.body().to_vec()).unwrap()
        };
        self.settings = Some((etag.clone(), body));
        self.reply(
            msg,
            200,
            "OK",
            &[("SIP-ETag", etag), ("Expires", expires.to_string())],
        );
        if !msg.body().is_empty() {
            self.notify_all();
        }
    }

    /// The IM Server's history fetch (imsip::im::history): 200, then one NOTIFY.
    fn on_history(&mut self, msg: &Message, event: &imsip::message::Event) {
        let q = imsip::im::history::HistoryQuery::from_event(event);
        self.last_history_query = Some(q.clone());
        let mut picked: Vec<_> = self
            .history
            .iter()
            .filter(|e| q.with.as_deref().is_none_or(|w| e.peer == w))
            .filter(|e| q.since.is_none_or(|s| e.time >= s))
            .cloned()
            .collect();
        if let Some(l) = q.limit {
            let skip = picked.len().saturating_sub(l as usize);
            picked.drain(..skip);
        }
        self.reply(msg, 200, "OK", &[("Expires", "0".into())]);
        self.notify_cseq += 1;
        let sub_tag = msg.from().unwrap().tag().unwrap_or("").to_owned();
        let b = MessageBuilder::request(
            Method::Notify,
            imsip::message::Uri::parse("sip:u@a.invalid;transport=ws").unwrap(),
        )
        .header(
            "Via",
            format!(
                "SIP/2.0/WS core.invalid;branch=z9hG4bKh{}",
                self.notify_cseq
            ),
        )
        .header("Max-Forwards", 70)
        .header("From", format!("<{ALICE}>;tag=core1"))
        .header("To", format!("<{ALICE}>;tag={sub_tag}"))
        .header("Call-ID", msg.call_id().unwrap())
        .header("CSeq", format!("{} NOTIFY", self.notify_cseq))
        .header("Event", "im-history")
        .header("Subscription-State", "terminated;reason=timeout")
        .body(
            Some(imsip::im::history::HISTORY_CONTENT_TYPE),
            imsip::im::history::encode(&picked),
        );
        self.outbox.push(b.build().to_string());
    }

    fn notify(&mut self, call_id: &str, sub_tag: &str, our_tag: &str, state: &str) {
        self.notify_cseq += 1;
        let mut b = MessageBuilder::request(
            Method::Notify,
            imsip::message::Uri::parse("sip:u@a.invalid;transport=ws").unwrap(),
        )
        .header(
            "Via",
            format!(
                "SIP/2.0/WS core.invalid;branch=z9hG4bKn{}",
                self.notify_cseq
            ),
        )
        .header("Max-Forwards", 70)
        .header("From", format!("<{ALICE}>;tag={our_tag}"))
        .header("To", format!("<{ALICE}>;tag={sub_tag}"))
        .header("Call-ID", call_id)
        .header("CSeq", format!("{} NOTIFY", self.notify_cseq))
        .header("Event", "service-settings")
        .header("Subscription-State", state)
        .header("Contact", "<sip:core@core.invalid;transport=ws>");
        b = match &self.settings {
            Some((_, body)) => b.body(Some("application/service-settings+xml"), body.clone()),
            None => b,
        };
        self.outbox.push(b.build().to_string());
    }

    fn notify_all(&mut self) {
        for (c, s, o) in self.watchers.clone() {
            self.notify(&c, &s, &o, "active;expires=3000");
        }
    }

    fn on_subscribe(&mut self, msg: &Message) {
        if let Some(s) = self.behaviour.settings_status {
            return self.reply(msg, s, "Nope", &[]);
        }
        let event = msg.event().ok().flatten();
        if event
            .as_ref()
            .is_some_and(|e| e.value == imsip::im::history::HISTORY_EVENT)
        {
            return self.on_history(msg, &event.unwrap());
        }
        let expires = msg.expires().ok().flatten().unwrap_or(3600);
        let call_id = msg.call_id().unwrap().to_owned();
        let sub_tag = msg.from().unwrap().tag().unwrap_or("").to_owned();
        let state = if expires == 0 {
            "terminated;reason=timeout".to_owned()
        } else {
            format!("active;expires={expires}")
        };
        let first = self.behaviour.notify_first;
        if first {
            self.notify(&call_id, &sub_tag, "core1", &state);
        }
        self.reply(
            msg,
            200,
            "OK",
            &[
                ("Expires", expires.to_string()),
                ("Contact", "<sip:core@core.invalid;transport=ws>".into()),
            ],
        );
        if !first {
            self.notify(&call_id, &sub_tag, "core1", &state);
        }
        self.watchers.retain(|(c, _, _)| *c != call_id);
        if expires > 0 {
            self.watchers.push((call_id, sub_tag, "core1".into()));
        }
    }
}

pub struct Harness {
    pub ua: UserAgent,
    pub core: FakeCore,
    pub now: u64,
    pub wake: Option<u64>,
    pub connected: bool,
    /// Whether connecting succeeds.
    pub online: bool,
    /// Connect attempts neither open nor fail (a handshake that hangs).
    pub hang_connects: bool,
    pub events: Vec<Event>,
    pub sent: Vec<String>,
    /// Every frame sent, text or binary, in order.
    pub frames: Vec<Vec<u8>>,
    pub connects: usize,
    /// The URL of each `Output::Connect` (`UserAgent::server`), in order.
    pub connect_urls: Vec<String>,
    pub closes: usize,
    pending_connect: bool,
}

/// Alice, registered against a fresh fake core.
pub fn registered() -> Harness {
    let mut h = Harness::alice();
    let op = h.register();
    h.ok(op);
    h
}

pub fn alice_config() -> Config {
    let mut cfg = Config::new("wss://core.imsip.test/sip", ALICE).unwrap();
    cfg.credentials = Some(Credentials::password("alice@imsip.test", "alice-secret"));
    cfg.publish_policy = imsip::ua::PublishPolicy::Never;
    cfg
}

impl Harness {
    pub fn new(cfg: Config, core: FakeCore) -> Harness {
        Harness {
            ua: UserAgent::new(cfg, Box::new(TestRng(0x9e3779b97f4a7c15))),
            core,
            now: 1_000,
            wake: None,
            connected: false,
            online: true,
            hang_connects: false,
            events: Vec::new(),
            sent: Vec::new(),
            frames: Vec::new(),
            connects: 0,
            connect_urls: Vec::new(),
            closes: 0,
            pending_connect: false,
        }
    }

    pub fn alice() -> Harness {
        Harness::new(alice_config(), FakeCore::with_password("alice-secret"))
    }

    /// Delivers outputs and the core's answers until nothing moves.
    pub fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(o) = self.ua.poll_output() {
                moved = true;
                match o {
                    Output::Transmit(f) => {
                        self.sent.push(f.clone());
                        self.frames.push(f.clone().into_bytes());
                        if self.connected {
                            self.core.receive(&f);
                            if std::mem::take(&mut self.core.drop_now) {
                                self.connected = false;
                                self.core.outbox.clear();
                                self.ua.handle_input(self.now, Input::Disconnected);
                            }
                        }
                    }
                    Output::TransmitBinary(f) => {
                        assert!(
                            std::str::from_utf8(&f).is_err(),
                            "a UTF-8 frame goes as text"
                        );
                        self.frames.push(f.clone());
                        if self.connected {
                            self.core.receive_bytes(&f);
                        }
                    }
                    Output::Connect => {
                        self.connects += 1;
                        self.connect_urls.push(self.ua.server().to_owned());
                        self.pending_connect = true;
                    }
                    Output::Close => {
                        self.closes += 1;
                        self.connected = false;
                        // Closing a socket still connecting abandons it.
                        self.pending_connect = false;
                    }
                    Output::Timeout(t) => self.wake = Some(t),
                    Output::Event(e) => self.events.push(e),
                }
            }
            if self.pending_connect && !self.hang_connects {
                self.pending_connect = false;
                moved = true;
                if self.online {
                    self.connected = true;
                    self.ua.handle_input(self.now, Input::Connected);
                } else {
                    self.ua.handle_input(self.now, Input::Disconnected);
                }
            }
            if self.connected && !self.core.outbox.is_empty() {
                moved = true;
                for f in std::mem::take(&mut self.core.outbox) {
                    self.ua.handle_input(self.now, Input::Frame(&f));
                }
                if std::mem::take(&mut self.core.drop_after_outbox) {
                    self.connected = false;
                    self.ua.handle_input(self.now, Input::Disconnected);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the harness did not settle");
    }

    /// Runs time forward to `until`, firing every wake-up on the way.
    pub fn run_until(&mut self, until: u64) {
        self.pump();
        while let Some(w) = self.wake.filter(|w| *w <= until) {
            self.now = self.now.max(w);
            self.wake = None;
            self.ua.handle_input(self.now, Input::Timeout);
            self.pump();
        }
        self.now = self.now.max(until);
    }

    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    /// The socket drops (the core stays reachable unless `online` is false).
    pub fn drop_connection(&mut self) {
        self.connected = false;
        self.ua.handle_input(self.now, Input::Disconnected);
        self.pump();
    }

    pub fn result(&self, op: OpId) -> Option<Result<Outcome, UaError>> {
        let mut found = self.events.iter().filter_map(|e| match e {
            Event::Completed { op: o, result } if *o == op => Some(result.clone()),
            _ => None,
        });
        let first = found.next();
        assert!(
            found.next().is_none(),
            "an operation completes exactly once"
        );
        first
    }

    pub fn ok(&self, op: OpId) -> Outcome {
        match self.result(op) {
            Some(Ok(o)) => o,
            other => panic!("op {op:?}: {other:?}"),
        }
    }

    pub fn err(&self, op: OpId) -> UaError {
        match self.result(op) {
            Some(Err(e)) => e,
            other => panic!("op {op:?}: expected an error, got {other:?}"),
        }
    }

    pub fn register(&mut self) -> OpId {
        let op = self.ua.register(self.now);
        self.pump();
        op
    }

    /// Frames the UA sent, parsed, requests only.
    pub fn sent_requests(&self, method: Method) -> Vec<Message> {
        self.frames
            .iter()
            .filter_map(|f| Message::parse(f).ok())
            .filter(|m| m.method() == Some(&method))
            .collect()
    }

    /// The events `pick` selects, in order.
    pub fn events_of<T>(&self, pick: impl Fn(&Event) -> Option<T>) -> Vec<T> {
        self.events.iter().filter_map(pick).collect()
    }

    /// The frames sent as binary WebSocket messages (RFC 7118 §4.2): those of
    /// `frames` that are not UTF-8 (a text frame always is).
    pub fn sent_binary(&self) -> Vec<&[u8]> {
        self.frames
            .iter()
            .filter(|f| std::str::from_utf8(f).is_err())
            .map(Vec::as_slice)
            .collect()
    }

    /// The messages delivered to the app, in order.
    pub fn messages(&self) -> Vec<imsip::ua::IncomingMessage> {
        self.events_of(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
    }

    /// Registration events, in order.
    pub fn registration_events(&self) -> Vec<imsip::ua::Registration> {
        self.events_of(|e| match e {
            Event::Registration(r) => Some(r.clone()),
            _ => None,
        })
    }

    /// Publication events, in order.
    pub fn publication_events(&self) -> Vec<imsip::ua::Publication> {
        self.events_of(|e| match e {
            Event::Publication(p) => Some(p.clone()),
            _ => None,
        })
    }

    /// Runs time forward (1 s steps, at most an hour) until one more `method`
    /// request has been sent.
    pub fn run_until_sent(&mut self, method: Method) {
        let n = self.sent_requests(method.clone()).len();
        for _ in 0..3600 {
            self.run_for(1_000);
            if self.sent_requests(method.clone()).len() > n {
                return;
            }
        }
        panic!("no {method:?} sent within an hour");
    }

    /// Delivers a frame from the core now.
    pub fn inject(&mut self, frame: &str) {
        self.ua.handle_input(self.now, Input::Frame(frame));
        self.pump();
    }

    pub fn header(m: &Message, name: &str) -> String {
        m.header(HeaderName::parse(name))
            .unwrap_or_default()
            .to_owned()
    }
}
