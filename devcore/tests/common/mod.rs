//! Test harness: the dev core in-process on 127.0.0.1:0 with a temporary
//! SQLite file, and a small SIP-over-WebSocket test client built from the
//! imsip codecs and `DigestSession`.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use imsip::auth::{Credentials, DigestSession, RandomSource};
use imsip::message::{Message, MessageBuilder, Method};
use imsip_devcore::{serve, Config, Server};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected frame before failing.
pub const WAIT: Duration = Duration::from_secs(5);

/// A deterministic random source for cnonces (the server draws its own
/// nonces from the OS).
pub struct TestRng(pub u64);

impl RandomSource for TestRng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *b = (self.0 >> 33) as u8;
        }
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(1);

/// The Via headers of `req` as devcore passes them on and echoes them back: the
/// top one with `received` set to the loopback address the test client comes
/// from (RFC 3261 §18.2.1: its sent-by is a `.invalid` name).
#[allow(dead_code)] // Not every test file uses it.
pub fn vias_as_received(req: &Message) -> Vec<imsip::message::Via> {
    let mut vias = req.via().unwrap();
    vias[0].params.set("received", Some("127.0.0.1"));
    vias
}

/// A unique token for tags, Call-IDs and branches.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", UNIQUE.fetch_add(1, Ordering::Relaxed))
}

/// A running dev core with its temporary directory.
pub struct TestCore {
    pub server: Option<Server>,
    pub addr: SocketAddr,
    pub config: Config,
    pub dir: TempDir,
}

/// Starts a dev core with the defaults (built-in users), a short relay
/// timeout and `f` applied to its config.
pub async fn start_with(f: impl FnOnce(&mut Config)) -> TestCore {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config::new(dir.path().join("devcore.sqlite"));
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.relay_timeout = Duration::from_secs(2);
    config.www = dir.path().join("www");
    config.pkg = dir.path().join("pkg");
    f(&mut config);
    let server = serve(config.clone()).await.expect("serve");
    TestCore {
        addr: server.local_addr(),
        server: Some(server),
        config,
        dir,
    }
}

/// Starts a dev core with the test defaults.
pub async fn start() -> TestCore {
    start_with(|_| {}).await
}

impl TestCore {
    /// Stops the server and starts a new one on the same SQLite file.
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let server = serve(self.config.clone()).await.expect("serve again");
        self.addr = server.local_addr();
        self.server = Some(server);
    }

    /// The running server.
    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the dev core is running")
    }

    /// Moves the dev core's clock on by `by` (its deadlines now due are
    /// handled when this returns): time passes for the core, not the test.
    pub fn advance_clock(&self, by: Duration) {
        self.server().advance_clock(by);
    }

    /// Waits (at most `WAIT`) until the core has `n` SIP flows open: after
    /// a client closed its socket, the core has handled the close.
    pub async fn wait_open_flows(&self, n: usize) {
        let mut flows = self.server().open_flows();
        let seen = matches!(
            tokio::time::timeout(WAIT, flows.wait_for(|open| *open == n)).await,
            Ok(Ok(_))
        );
        assert!(
            seen,
            "the core did not get to {n} open flows (has {})",
            *flows.borrow()
        );
    }

    /// A client for `user` (`alice`, `bob`, `carol`) with `creds`.
    pub async fn ua(&self, user: &str, creds: Credentials) -> Ua {
        Ua::connect(self.addr, user, creds).await
    }

    /// alice with her password.
    pub async fn alice(&self) -> Ua {
        self.ua(
            "alice",
            Credentials::password("alice@imsip.test", "alice-secret"),
        )
        .await
    }

    /// bob with his password.
    pub async fn bob(&self) -> Ua {
        self.ua("bob", Credentials::password("bob@imsip.test", "bob-secret"))
            .await
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The next frame's payload on `ws` (text or binary), skipping WebSocket pings;
/// panics after [`WAIT`] or when the server closes.
pub async fn next_payload(ws: &mut Ws) -> Vec<u8> {
    loop {
        let m = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("stream ended")
            .expect("ws error");
        match m {
            WsMessage::Text(t) => return t.as_bytes().to_vec(),
            WsMessage::Binary(b) => return b.to_vec(),
            WsMessage::Close(_) => panic!("closed by the server"),
            _ => continue,
        }
    }
}

/// Opens a WebSocket to `/sip` requesting the `sip` subprotocol; returns the
/// stream and the subprotocol the server selected.
pub async fn connect_ws(addr: SocketAddr) -> (Ws, Option<String>) {
    let mut req = format!("ws://{addr}/sip")
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
    let (ws, resp) = tokio_tungstenite::connect_async_with_config(req, None, true)
        .await
        .expect("connect");
    let proto = resp
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (ws, proto)
}

/// A SIP user agent for tests: one WebSocket flow, one AoR.
pub struct Ua {
    pub ws: Ws,
    pub aor: String,
    pub contact_uri: String,
    pub instance: String,
    pub reg_call_id: String,
    pub tag: String,
    pub cseq: u32,
    pub auth: DigestSession,
    pub rng: TestRng,
    /// Requests received while waiting for a response.
    pub inbox: VecDeque<Message>,
}

impl Ua {
    /// Connects `user` (`sip:USER@imsip.test`).
    pub async fn connect(addr: SocketAddr, user: &str, creds: Credentials) -> Ua {
        let (ws, proto) = connect_ws(addr).await;
        assert_eq!(proto.as_deref(), Some("sip"), "subprotocol echoed");
        let host = unique("h");
        Ua {
            ws,
            aor: format!("sip:{user}@imsip.test"),
            contact_uri: format!("sip:{}@{host}.invalid;transport=ws", unique("c")),
            instance: format!(
                "<urn:uuid:00000000-0000-4000-8000-{:012}>",
                UNIQUE.fetch_add(1, Ordering::Relaxed)
            ),
            reg_call_id: unique("reg-"),
            tag: unique("t"),
            cseq: 0,
            auth: DigestSession::new(creds),
            rng: TestRng(UNIQUE.fetch_add(1, Ordering::Relaxed)),
            inbox: VecDeque::new(),
        }
    }

    /// The Contact header value of this UA.
    pub fn contact(&self) -> String {
        format!(
            "<{}>;+g.oma.sip-im;+sip.instance=\"{}\";reg-id=1",
            self.contact_uri, self.instance
        )
    }

    /// A request with Via, Max-Forwards, From (our tag), To, Call-ID, CSeq.
    pub fn base(&mut self, method: Method, ruri: &str, to: &str, call_id: &str) -> MessageBuilder {
        self.cseq += 1;
        MessageBuilder::request(method.clone(), ruri.parse().expect("ruri"))
            .header(
                "Via",
                format!(
                    "SIP/2.0/WS {}.invalid;branch=z9hG4bK{}",
                    unique("v"),
                    unique("b")
                ),
            )
            .header("Max-Forwards", 70)
            .header("From", format!("<{}>;tag={}", self.aor, self.tag))
            .header("To", to)
            .header("Call-ID", call_id)
            .header("CSeq", format!("{} {}", self.cseq, method))
    }

    /// The Authorization/Proxy-Authorization our session has for a request.
    pub fn credentials(
        &mut self,
        method: &str,
        ruri: &str,
        body: &[u8],
    ) -> Option<(String, String)> {
        self.auth
            .authorize(method, ruri, body, &mut self.rng)
            .map(|a| (a.header_name().to_owned(), a.to_header_value()))
    }

    /// A REGISTER for `expires` seconds with our Contact and whatever
    /// credentials the session has (none before the first challenge).
    pub fn register_request(&mut self, expires: u32) -> Message {
        let call_id = self.reg_call_id.clone();
        let to = format!("<{}>", self.aor);
        let contact = self.contact();
        let mut b = self
            .base(Method::Register, "sip:imsip.test", &to, &call_id)
            .header("Contact", contact)
            .header("Expires", expires);
        if let Some((n, v)) = self.credentials("REGISTER", "sip:imsip.test", b"") {
            b = b.header(n.as_str(), v);
        }
        b.build()
    }

    /// Sends one message.
    pub async fn send(&mut self, msg: &Message) {
        self.send_raw(&msg.to_string()).await;
    }

    /// Sends one message as a binary frame (its bytes as they are: a body
    /// that is not UTF-8 cannot go in a text frame).
    pub async fn send_bytes(&mut self, msg: &Message) {
        self.ws
            .send(WsMessage::binary(msg.to_bytes()))
            .await
            .expect("send");
    }

    /// Sends one text frame.
    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(WsMessage::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// The next frame's payload (text or binary), skipping WebSocket pings.
    pub async fn recv_frame(&mut self) -> Vec<u8> {
        next_payload(&mut self.ws).await
    }

    /// The next SIP message.
    pub async fn recv(&mut self) -> Message {
        let f = self.recv_frame().await;
        Message::parse(&f)
            .unwrap_or_else(|e| panic!("unparseable frame {e}: {}", String::from_utf8_lossy(&f)))
    }

    /// The next response (requests arriving meanwhile are kept in `inbox`).
    pub async fn response(&mut self) -> Message {
        loop {
            let m = self.recv().await;
            if m.is_request() {
                self.inbox.push_back(m);
            } else {
                return m;
            }
        }
    }

    /// The next request received.
    pub async fn request(&mut self) -> Message {
        if let Some(m) = self.inbox.pop_front() {
            return m;
        }
        let m = self.recv().await;
        assert!(m.is_request(), "expected a request, got {m}");
        m
    }

    /// Sends `msg` and returns the response.
    pub async fn call(&mut self, msg: &Message) -> Message {
        self.send(msg).await;
        self.response().await
    }

    /// REGISTER until a final answer other than an answerable 401.
    pub async fn register_for(&mut self, expires: u32) -> Message {
        for _ in 0..4 {
            let req = self.register_request(expires);
            let resp = self.call(&req).await;
            if resp.status() != Some(401) {
                self.auth.on_success();
                return resp;
            }
            let ch = resp.www_authenticate().expect("WWW-Authenticate");
            if self.auth.on_challenge(&ch, false).is_err() {
                return resp;
            }
        }
        panic!("no final answer to REGISTER");
    }

    /// REGISTER for an hour; asserts 200.
    pub async fn register(&mut self) -> Message {
        let r = self.register_for(3600).await;
        assert_eq!(r.status(), Some(200), "{r}");
        r
    }

    /// Answers a received request with `status`.
    pub async fn answer(&mut self, req: &Message, status: u16, reason: &str) {
        let tag = unique("a");
        let r = MessageBuilder::reply(req, status, reason, Some(&tag)).build();
        self.send(&r).await;
    }
}

/// A service-settings document for `aor`.
pub fn settings_doc(aor: &str, barring: bool) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <service-settings xmlns=\"urn:oma:xml:im:service-settings\">\
         <entity id=\"{aor}\"><isb-settings><incoming-session-barring active=\"{barring}\"/>\
         </isb-settings></entity></service-settings>"
    )
}

/// A PUBLISH of `Event: service-settings` by `ua` for its own AoR.
pub fn publish(
    ua: &mut Ua,
    expires: Option<u32>,
    if_match: Option<&str>,
    body: Option<&str>,
) -> Message {
    let aor = ua.aor.clone();
    let call_id = unique("pub-");
    let mut b = ua
        .base(Method::Publish, &aor, &format!("<{aor}>"), &call_id)
        .header("Event", "service-settings");
    if let Some(e) = expires {
        b = b.header("Expires", e);
    }
    if let Some(t) = if_match {
        b = b.header("SIP-If-Match", t);
    }
    match body {
        Some(body) => b
            .body(Some("application/service-settings+xml"), body)
            .build(),
        None => b.build(),
    }
}

impl Ua {
    /// Sends a PUBLISH of service-settings (see [`publish`]) and returns the
    /// response.
    pub async fn publish(
        &mut self,
        expires: Option<u32>,
        if_match: Option<&str>,
        body: Option<&str>,
    ) -> Message {
        let req = publish(self, expires, if_match, body);
        self.call(&req).await
    }

    /// Sends a text/plain MESSAGE to `to_aor` and returns the response.
    pub async fn message(&mut self, to_aor: &str, text: &str) -> Message {
        let req = message_to(self, to_aor, text);
        self.call(&req).await
    }
}

/// A text/plain MESSAGE from `from` to `to_aor`, with the Route a client
/// takes from Service-Route.
pub fn message_to(from: &mut Ua, to_aor: &str, text: &str) -> Message {
    from.base(
        Method::Message,
        to_aor,
        &format!("<{to_aor}>"),
        &unique("m-"),
    )
    .header("Route", "<sip:orig@scscf.imsip.test;lr>")
    .body(Some("text/plain;charset=UTF-8"), text)
    .build()
}

pub mod client_driver;
pub mod driver;
pub mod kamailio;
pub mod msrp_driver;
pub mod ua_driver;
