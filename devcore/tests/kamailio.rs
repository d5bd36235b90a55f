//! Interop: the sans-IO user agent (`imsip::ua::UserAgent`) over real WebSockets
//! against a real Kamailio 5.6 (tests/interop/kamailio.cfg, started by
//! tests/interop/kamailio.sh on a free loopback port).
//!
//! Skipped (with a message) when /usr/sbin/kamailio is absent; CI installs it.
//! Each test starts its own Kamailio in its own directory under
//! target/interop/ (log: kamailio.log there, every SIP message traced in full)
//! and stops it when done, also on failure.

mod common;

use common::kamailio::Kamailio;
use futures_util::{SinkExt, StreamExt};
use imsip::auth::{Credentials, RandomSource};
use imsip::message::{Message as Sip, Method};
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{
    Config, ConnectionState, Event, Input, OpId, Outcome, Output, PolicyOutcome, PublishPolicy,
    RegistrationState, SettingsSource, UaError, UserAgent,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const ALICE: &str = "sip:alice@imsip.test";
const BOB: &str = "sip:bob@imsip.test";
/// How long any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------
// A client: one UserAgent driven over a real WebSocket by a local task.

struct OsRng;
impl RandomSource for OsRng {
    fn fill(&mut self, buf: &mut [u8]) {
        getrandom::fill(buf).expect("OS randomness");
    }
}

thread_local! {
    /// The running test's directory (each test runs on its own thread).
    static LOG_DIR: std::cell::RefCell<PathBuf> = const { std::cell::RefCell::new(PathBuf::new()) };
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Cmd = Box<dyn FnOnce(&mut UserAgent, u64)>;

#[derive(Debug, Clone, PartialEq)]
enum Wire {
    Sent(String),
    Received(String),
}

/// Every frame sent and received, in order, and a wake-up for a test waiting on it.
#[derive(Default)]
struct WireLog {
    frames: Mutex<Vec<Wire>>,
    grew: Notify,
}

impl WireLog {
    fn push(&self, w: Wire) {
        self.frames.lock().unwrap().push(w);
        self.grew.notify_one();
    }
}

struct Client {
    name: &'static str,
    cmds: mpsc::UnboundedSender<Cmd>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    /// Every event so far, and whether a `wait_*` already returned it.
    events: Vec<(Event, bool)>,
    /// Every frame sent and received, in order.
    wire: Arc<WireLog>,
    /// Where the wire log is written when the client is dropped.
    log_dir: PathBuf,
}

impl Drop for Client {
    /// Writes the whole conversation to `<test dir>/<name>.wire` for debugging.
    fn drop(&mut self) {
        let text: String = self
            .wire()
            .iter()
            .map(|w| match w {
                Wire::Sent(f) => format!("--> sent\n{f}\n"),
                Wire::Received(f) => format!("<-- received\n{f}\n"),
            })
            .collect();
        let _ = std::fs::write(self.log_dir.join(format!("{}.wire", self.name)), text);
    }
}

async fn connect(url: &str) -> Result<Ws, String> {
    let mut req = url.into_client_request().map_err(|e| e.to_string())?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .map_err(|e| e.to_string())?;
    let proto = resp.headers().get("Sec-WebSocket-Protocol");
    if proto.is_none_or(|p| p.as_bytes() != b"sip") {
        return Err(format!("subprotocol not accepted: {proto:?}"));
    }
    Ok(ws)
}

async fn next_frame(ws: &mut Option<Ws>) -> Option<Result<WsMessage, String>> {
    match ws {
        Some(s) => s.next().await.map(|r| r.map_err(|e| e.to_string())),
        None => std::future::pending().await,
    }
}

/// Sends `msg` on the socket, if any; `false` when the send failed (the socket is
/// then gone).
async fn send(ws: &mut Option<Ws>, msg: WsMessage) -> bool {
    let failed = match ws.as_mut() {
        Some(s) => s.send(msg).await.is_err(),
        None => false,
    };
    if failed {
        *ws = None;
    }
    !failed
}

/// The I/O loop the README describes: outputs to the socket and the timer, socket
/// and timer events back in as inputs.
///
/// The events of one step reach the test only after every output of that step has
/// been carried out: a test holding an event also finds on `wire` every frame the
/// agent sent in the same step (a request sent along with a failure, say).
async fn drive(
    mut ua: UserAgent,
    url: String,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    events: mpsc::UnboundedSender<Event>,
    wire: Arc<WireLog>,
) {
    let t0 = Instant::now();
    let now = move || t0.elapsed().as_millis() as u64;
    let mut ws: Option<Ws> = None;
    let mut wake: Option<u64> = None;
    loop {
        let mut step_events = Vec::new();
        while let Some(out) = ua.poll_output() {
            match out {
                Output::Connect => match connect(&url).await {
                    Ok(s) => {
                        ws = Some(s);
                        ua.handle_input(now(), Input::Connected);
                    }
                    Err(e) => {
                        eprintln!("connect {url}: {e}");
                        ua.handle_input(now(), Input::Disconnected);
                    }
                },
                Output::Transmit(frame) => {
                    wire.push(Wire::Sent(frame.clone()));
                    if !send(&mut ws, WsMessage::text(frame)).await {
                        ua.handle_input(now(), Input::Disconnected);
                    }
                }
                Output::TransmitBinary(frame) => {
                    // No test here sends a binary body; kept in the log as text.
                    wire.push(Wire::Sent(String::from_utf8_lossy(&frame).into_owned()));
                    if !send(&mut ws, WsMessage::binary(frame)).await {
                        ua.handle_input(now(), Input::Disconnected);
                    }
                }
                Output::Close => {
                    if let Some(mut s) = ws.take() {
                        let _ = s.close(None).await;
                    }
                }
                Output::Timeout(at) => wake = Some(at),
                Output::Event(e) => step_events.push(e),
            }
        }
        for e in step_events {
            let _ = events.send(e);
        }
        let sleep_to =
            tokio::time::Instant::from_std(wake.map_or(t0 + Duration::from_secs(3600), |w| {
                t0 + Duration::from_millis(w)
            }));
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(c) => c(&mut ua, now()),
                None => {
                    if let Some(mut s) = ws.take() {
                        let _ = s.close(None).await;
                    }
                    return;
                }
            },
            frame = next_frame(&mut ws) => match frame {
                Some(Ok(WsMessage::Text(t))) => {
                    wire.push(Wire::Received(t.to_string()));
                    ua.handle_input(now(), Input::Frame(t.as_str()));
                }
                Some(Ok(WsMessage::Binary(b))) => {
                    let t = String::from_utf8_lossy(&b).into_owned();
                    wire.push(Wire::Received(t.clone()));
                    ua.handle_input(now(), Input::Frame(&t));
                }
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => {
                    ws = None;
                    ua.handle_input(now(), Input::Disconnected);
                }
                Some(Ok(_)) => {} // ping/pong: tungstenite answers pings itself
            },
            _ = tokio::time::sleep_until(sleep_to) => {
                wake = None;
                ua.handle_input(now(), Input::Timeout);
            }
        }
    }
}

fn config(url: &str, aor: &str, user: &str, password: &str) -> Config {
    let mut cfg = Config::new(url, aor).unwrap();
    cfg.credentials = Some(Credentials::password(user, password));
    cfg.publish_policy = PublishPolicy::Never;
    cfg
}

impl Client {
    fn spawn(name: &'static str, url: &str, cfg: Config) -> Client {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let wire = Arc::new(WireLog::default());
        let ua = UserAgent::new(cfg, Box::new(OsRng));
        tokio::task::spawn_local(drive(ua, url.to_owned(), cmd_rx, ev_tx, wire.clone()));
        Client {
            name,
            cmds: cmd_tx,
            events_rx: ev_rx,
            events: Vec::new(),
            wire,
            log_dir: LOG_DIR.with(|d| d.borrow().clone()),
        }
    }

    /// Runs a command on the UA and returns its OpId.
    async fn op(&self, f: impl FnOnce(&mut UserAgent, u64) -> OpId + 'static) -> OpId {
        self.with_ua(f).await
    }

    /// Runs `f` on the UA in its task, between two steps, and returns its result.
    async fn with_ua<T: 'static>(&self, f: impl FnOnce(&mut UserAgent, u64) -> T + 'static) -> T {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Box::new(move |ua, now| {
                let _ = tx.send(f(ua, now));
            }))
            .expect("client task alive");
        rx.await.expect("client task alive")
    }

    /// Waits for the first event not returned before that matches `pred`.
    async fn wait_for(&mut self, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + STEP;
        loop {
            if let Some((e, taken)) = self.events.iter_mut().find(|(e, t)| !*t && pred(e)) {
                *taken = true;
                return e.clone();
            }
            match tokio::time::timeout_at(deadline, self.events_rx.recv()).await {
                Ok(Some(e)) => self.events.push((e, false)),
                Ok(None) => panic!("{}: client task ended while waiting for {what}", self.name),
                Err(_) => panic!(
                    "{}: no {what} within {STEP:?}; events: {:#?}\nwire:\n{}",
                    self.name,
                    self.events,
                    self.wire_dump()
                ),
            }
        }
    }

    async fn result(&mut self, op: OpId) -> Result<Outcome, UaError> {
        match self
            .wait_for(
                &format!("completion of {op:?}"),
                |e| matches!(e, Event::Completed { op: o, .. } if *o == op),
            )
            .await
        {
            Event::Completed { result, .. } => result,
            _ => unreachable!(),
        }
    }

    async fn ok(&mut self, op: OpId) -> Outcome {
        match self.result(op).await {
            Ok(o) => o,
            Err(e) => panic!(
                "{}: {op:?} failed: {e:?} ({})\nwire:\n{}",
                self.name,
                e.code(),
                self.wire_dump()
            ),
        }
    }

    async fn register(&mut self) -> Outcome {
        let op = self.op(|ua, now| ua.register(now)).await;
        self.ok(op).await
    }

    /// Lets `d` pass on the wall clock (the UA runs meanwhile; its events are
    /// collected) for a timer inside Kamailio: an external process whose clock the
    /// test cannot move, for a fact it shows nothing of until its own clock has
    /// passed it. Use only then, with a generous `d`; nothing may be asserted about
    /// how long anything took.
    async fn wait_on_kamailio_clock(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
        while let Ok(e) = self.events_rx.try_recv() {
            self.events.push((e, false));
        }
    }

    /// Waits until `pred` holds for the wire log, checking again on each frame.
    async fn wait_wire(&self, what: &str, pred: impl Fn(&[Wire]) -> bool) {
        let deadline = tokio::time::Instant::now() + STEP;
        while !pred(&self.wire()) {
            if tokio::time::timeout_at(deadline, self.wire.grew.notified())
                .await
                .is_err()
            {
                panic!(
                    "{}: no {what} within {STEP:?}\nwire:\n{}",
                    self.name,
                    self.wire_dump()
                );
            }
        }
    }

    fn wire(&self) -> Vec<Wire> {
        self.wire.frames.lock().unwrap().clone()
    }

    fn wire_dump(&self) -> String {
        self.wire()
            .iter()
            .map(|w| match w {
                Wire::Sent(f) => format!("--> {}\n", first_line(f)),
                Wire::Received(f) => format!("<-- {}\n", first_line(f)),
            })
            .collect()
    }

    /// Requests of `method` the UA sent, parsed.
    fn sent(&self, method: Method) -> Vec<Sip> {
        self.wire()
            .iter()
            .filter_map(|w| match w {
                Wire::Sent(f) => Sip::parse(f.as_bytes()).ok(),
                _ => None,
            })
            .filter(|m| m.method() == Some(&method))
            .collect()
    }

    /// The start lines of every SIP frame on the wire for `method` (requests
    /// sent and responses received, by CSeq method), in order.
    fn exchange(&self, method: &str) -> Vec<String> {
        self.wire()
            .iter()
            .filter_map(|w| {
                let (dir, f) = match w {
                    Wire::Sent(f) => ("-->", f),
                    Wire::Received(f) => ("<--", f),
                };
                let m = Sip::parse(f.as_bytes()).ok()?;
                let cseq = m.cseq().ok()?;
                (cseq.method.as_str() == method).then(|| format!("{dir} {}", first_line(f)))
            })
            .collect()
    }
}

fn first_line(f: &str) -> &str {
    f.lines().next().unwrap_or("")
}

fn settings(aor: &str, isb: bool) -> ServiceSettings {
    let mut e = Entity::new(aor);
    e.incoming_session_barring = Some(isb);
    e.visibility = Some(true);
    e.offline_delivery = Some(!isb);
    ServiceSettings {
        entities: vec![e],
        ..Default::default()
    }
}

/// Runs `body` on a LocalSet (the UA is not Send) with Kamailio started for
/// `name`; prints Kamailio's log tail when the body panics.
fn with_kamailio<F, Fut>(name: &str, env: &[(&str, &str)], body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(k) = Kamailio::start(name, env) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let url = k.url.clone();
    LOG_DIR.with(|d| *d.borrow_mut() = k.dir.clone());
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        local.block_on(&rt, async move {
            tokio::time::timeout(Duration::from_secs(25), body(url))
                .await
                .expect("test body within 25 s");
        })
    }));
    if let Err(p) = result {
        eprintln!(
            "---- kamailio log ({}) ----\n{}",
            k.dir.display(),
            k.log_tail()
        );
        drop(k);
        std::panic::resume_unwind(p);
    }
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn register_publish_modify_fetch_remove_unregister() {
    with_kamailio("register_publish", &[], |url| async move {
        let mut alice = Client::spawn(
            "alice",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );

        // REGISTER → 401 → REGISTER (Authorization) → 200.
        let Outcome::Registered(reg) = alice.register().await else {
            panic!("not a registration")
        };
        assert_eq!(
            alice.exchange("REGISTER"),
            [
                "--> REGISTER sip:imsip.test SIP/2.0",
                "<-- SIP/2.0 401 Unauthorized",
                "--> REGISTER sip:imsip.test SIP/2.0",
                "<-- SIP/2.0 200 OK",
            ]
        );
        let regs = alice.sent(Method::Register);
        assert!(regs[0].authorization().unwrap_or_default().is_empty());
        assert!(!regs[1].authorization().unwrap().is_empty());
        assert!(reg.expires.is_some_and(|e| e > 0 && e <= 600), "{reg:?}");
        assert_eq!(reg.contacts.len(), 1, "{reg:?}");
        // Kamailio's registrar assigns a public GRUU from +sip.instance (RFC 5627).
        assert!(
            reg.pub_gruu
                .as_deref()
                .is_some_and(|g| g.starts_with("sip:alice@imsip.test;gr=urn:uuid:")),
            "{reg:?}"
        );

        // PUBLISH → 200 with SIP-ETag.
        let op = alice
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, true), Some(600)))
            .await;
        let Outcome::Published { etag, expires } = alice.ok(op).await else {
            panic!()
        };
        assert!(!etag.is_empty());
        assert_eq!(expires, 600);

        // Modify: SIP-If-Match with that tag, a new tag back.
        let op = alice
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, false), Some(600)))
            .await;
        let Outcome::Published { etag: etag2, .. } = alice.ok(op).await else {
            panic!()
        };
        assert_ne!(etag, etag2);
        let pubs = alice.sent(Method::Publish);
        assert_eq!(
            pubs[1].sip_if_match().unwrap().as_deref(),
            Some(etag.as_str())
        );

        // Fetch: SUBSCRIBE Expires 0 → 200 + NOTIFY with the stored document.
        let op = alice.op(|ua, now| ua.fetch_settings(now)).await;
        let Outcome::Settings(got) = alice.ok(op).await else {
            panic!()
        };
        assert_eq!(got, Some(settings(ALICE, false)));
        let sub = &alice.sent(Method::Subscribe)[0];
        assert_eq!(sub.expires().unwrap(), Some(0));

        // Remove, then a fetch finds nothing.
        let op = alice.op(|ua, now| ua.remove_settings(now)).await;
        assert_eq!(alice.ok(op).await, Outcome::Removed);
        let rm = alice.sent(Method::Publish).pop().unwrap();
        assert_eq!(rm.expires().unwrap(), Some(0));
        assert_eq!(rm.sip_if_match().unwrap().as_deref(), Some(etag2.as_str()));
        let op = alice.op(|ua, now| ua.fetch_settings(now)).await;
        assert_eq!(alice.ok(op).await, Outcome::Settings(None));

        // OPTIONS from the core's side is not sent by Kamailio; unregister.
        let op = alice.op(|ua, now| ua.unregister(now)).await;
        assert_eq!(alice.ok(op).await, Outcome::Unregistered);
        let unreg = alice.sent(Method::Register).pop().unwrap();
        assert_eq!(unreg.expires().unwrap(), Some(0));
        assert_eq!(
            alice.exchange("REGISTER").last().map(String::as_str),
            Some("<-- SIP/2.0 200 OK")
        );
    });
}

#[test]
fn messages_both_ways_keep_utf8() {
    with_kamailio("messages", &[], |url| async move {
        let mut alice = Client::spawn(
            "alice",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        let mut bob = Client::spawn(
            "bob",
            &url,
            config(&url, BOB, "bob@imsip.test", "bob-secret"),
        );
        alice.register().await;
        bob.register().await;

        let text = "grüße 👋".as_bytes();
        let op = alice
            .op(move |ua, now| ua.send_message(now, BOB, text, None))
            .await;
        let Outcome::MessageSent { status, .. } = alice.ok(op).await else {
            panic!()
        };
        assert_eq!(status, 200);
        let Event::Message(m) = bob
            .wait_for("a MESSAGE from alice", |e| matches!(e, Event::Message(_)))
            .await
        else {
            unreachable!()
        };
        assert_eq!(m.body, text);
        assert_eq!(m.from, ALICE);
        assert!(
            m.content_type.starts_with("text/plain"),
            "{}",
            m.content_type
        );

        let reply = "zurück: grüße 👋 ✓".as_bytes();
        let op = bob
            .op(move |ua, now| ua.send_message(now, ALICE, reply, None))
            .await;
        assert!(matches!(
            bob.ok(op).await,
            Outcome::MessageSent { status: 200, .. }
        ));
        let Event::Message(m) = alice
            .wait_for("a MESSAGE from bob", |e| matches!(e, Event::Message(_)))
            .await
        else {
            unreachable!()
        };
        assert_eq!(m.body, reply);
        assert_eq!(m.from, BOB);

        // A load-test user (generated at start-up) registers and gets a MESSAGE.
        let mut u = Client::spawn(
            "user1999",
            &url,
            config(
                &url,
                "sip:user1999@imsip.test",
                "user1999@imsip.test",
                "pw-user1999",
            ),
        );
        u.register().await;
        let op = alice
            .op(|ua, now| ua.send_message(now, "sip:user1999@imsip.test", b"load", None))
            .await;
        assert!(matches!(
            alice.ok(op).await,
            Outcome::MessageSent { status: 200, .. }
        ));
        u.wait_for("a MESSAGE", |e| matches!(e, Event::Message(_)))
            .await;

        // Nobody registered as user0001: 404.
        let op = alice
            .op(|ua, now| ua.send_message(now, "sip:user0001@imsip.test", b"hi", None))
            .await;
        match alice.result(op).await {
            Err(UaError::Rejected { status: 404, .. }) => {}
            other => panic!("expected 404, got {other:?}"),
        }
    });
}

#[test]
fn message_from_an_unregistered_flow_answers_407() {
    with_kamailio("message_407", &[], |url| async move {
        let mut bob = Client::spawn(
            "bob",
            &url,
            config(&url, BOB, "bob@imsip.test", "bob-secret"),
        );
        bob.register().await;
        // alice never registers: her MESSAGE is challenged with 407 and answered once.
        let mut alice = Client::spawn(
            "alice",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        let op = alice
            .op(|ua, now| ua.send_message(now, BOB, "über 407".as_bytes(), None))
            .await;
        assert!(matches!(
            alice.ok(op).await,
            Outcome::MessageSent { status: 200, .. }
        ));
        assert_eq!(
            alice.exchange("MESSAGE"),
            [
                format!("--> MESSAGE {BOB} SIP/2.0"),
                "<-- SIP/2.0 407 Proxy Authentication Required".into(),
                format!("--> MESSAGE {BOB} SIP/2.0"),
                "<-- SIP/2.0 200 OK".into(),
            ]
        );
        let Event::Message(m) = bob
            .wait_for("a MESSAGE from alice", |e| matches!(e, Event::Message(_)))
            .await
        else {
            unreachable!()
        };
        assert_eq!(m.body, "über 407".as_bytes());
    });
}

#[test]
fn wrong_password_fails_after_one_retry() {
    with_kamailio("wrong_password", &[], |url| async move {
        let mut alice = Client::spawn(
            "alice",
            &url,
            config(&url, ALICE, "alice@imsip.test", "not-the-secret"),
        );
        let op = alice.op(|ua, now| ua.register(now)).await;
        let err = alice.result(op).await.unwrap_err();
        assert_eq!(err.code(), "auth_failed", "{err:?}");
        // Nothing to wait for: the agent gives up in the step that reports the
        // error, and the driver puts every frame of a step on `wire` before it
        // hands over the step's events, so a third REGISTER sent with the failure
        // is already there. `Failed` means it sends nothing more (no retry timer)
        // until register() is called again.
        let state = alice.with_ua(|ua, _| ua.registration().state).await;
        assert_eq!(state, RegistrationState::Failed);
        assert_eq!(
            alice.exchange("REGISTER"),
            [
                "--> REGISTER sip:imsip.test SIP/2.0",
                "<-- SIP/2.0 401 Unauthorized",
                "--> REGISTER sip:imsip.test SIP/2.0",
                "<-- SIP/2.0 401 Unauthorized",
            ],
            "exactly two REGISTERs"
        );
    });
}

#[test]
fn watch_gets_notifies_for_publications() {
    with_kamailio("watch", &[], |url| async move {
        let mut alice = Client::spawn(
            "alice",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        alice.register().await;
        let op = alice.op(|ua, now| ua.watch_settings(now)).await;
        let Outcome::Subscribed { expires } = alice.ok(op).await else {
            panic!()
        };
        assert!(expires > 0);

        // A second client of alice publishes: the watcher gets a NOTIFY with it.
        let mut alice2 = Client::spawn(
            "alice2",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        alice2.register().await;
        let op = alice2
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, true), None))
            .await;
        alice2.ok(op).await;
        let Event::ServiceSettings {
            settings: got,
            source,
        } = alice
            .wait_for("a NOTIFY with settings", |e| {
                matches!(e, Event::ServiceSettings { .. })
            })
            .await
        else {
            unreachable!()
        };
        assert_eq!(source, SettingsSource::Notify);
        assert_eq!(got, settings(ALICE, true));

        let op = alice.op(|ua, now| ua.unwatch_settings(now)).await;
        assert_eq!(alice.ok(op).await, Outcome::Subscribed { expires: 0 });
    });
}

#[test]
fn publish_policy_if_absent_publishes_then_adopts() {
    with_kamailio("policy", &[], |url| async move {
        let mut cfg = config(&url, BOB, "bob@imsip.test", "bob-secret");
        cfg.publish_policy = PublishPolicy::IfAbsent;
        cfg.service_settings = Some(settings(BOB, true));
        let mut first = Client::spawn("bob1", &url, cfg);
        first.register().await;
        let Event::Policy(p) = first
            .wait_for("the publish policy", |e| matches!(e, Event::Policy(_)))
            .await
        else {
            unreachable!()
        };
        assert!(matches!(p, PolicyOutcome::Published { .. }), "{p:?}");

        // Another client of bob with other settings adopts the server's.
        let mut cfg = config(&url, BOB, "bob@imsip.test", "bob-secret");
        cfg.publish_policy = PublishPolicy::IfAbsent;
        cfg.service_settings = Some(settings(BOB, false));
        let mut second = Client::spawn("bob2", &url, cfg);
        second.register().await;
        let Event::Policy(p) = second
            .wait_for("the publish policy", |e| matches!(e, Event::Policy(_)))
            .await
        else {
            unreachable!()
        };
        assert_eq!(p, PolicyOutcome::Adopted);
        let Event::ServiceSettings {
            settings: got,
            source,
        } = second
            .wait_for("adopted settings", |e| {
                matches!(e, Event::ServiceSettings { .. })
            })
            .await
        else {
            unreachable!()
        };
        assert_eq!(source, SettingsSource::Adopted);
        assert_eq!(got, settings(BOB, true));
        assert!(second.sent(Method::Publish).is_empty());
    });
}

#[test]
fn stale_nonce_on_refresh_and_crlf_keep_alive() {
    // Nonces live 2 s: a refresh with the cached nonce gets 401 stale=true and is
    // answered. Keep-alives every second must not lose the flow.
    with_kamailio(
        "stale_keepalive",
        &[("KAMAILIO_NONCE_EXPIRE", "2")],
        |url| async move {
            let mut cfg = config(&url, ALICE, "alice@imsip.test", "alice-secret");
            cfg.keep_alive_interval = 1;
            cfg.keep_alive_timeout = 2_000;
            let mut alice = Client::spawn("alice", &url, cfg);
            alice.register().await;
            // Kamailio finds the cached nonce stale only once its own clock (whole
            // seconds) is past the nonce's expiry: at most 3 s after the 401 that
            // issued it. Nothing shows that until a request carries the nonce, so
            // the test waits on that clock, with 2 s to spare. Keep-alives run
            // meanwhile.
            alice.wait_on_kamailio_clock(Duration::from_secs(5)).await;
            // A refresh now (register() when registered refreshes at once).
            let op = alice.op(|ua, now| ua.register(now)).await;
            alice.ok(op).await;
            let ex = alice.exchange("REGISTER");
            assert_eq!(
                ex[4..],
                [
                    "--> REGISTER sip:imsip.test SIP/2.0",
                    "<-- SIP/2.0 401 Unauthorized",
                    "--> REGISTER sip:imsip.test SIP/2.0",
                    "<-- SIP/2.0 200 OK",
                ],
                "{ex:#?}"
            );
            let challenge = alice
                .wire()
                .iter()
                .rev()
                .find_map(|w| match w {
                    Wire::Received(f) if f.starts_with("SIP/2.0 401") => Some(f.clone()),
                    _ => None,
                })
                .unwrap();
            assert!(challenge.contains("stale=true"), "{challenge}");
            // Kamailio answers CRLFCRLF with CRLF: two pongs at least (by now, or
            // as soon as they come).
            let pongs = |wire: &[Wire]| {
                wire.iter()
                    .filter(|w| {
                        matches!(w, Wire::Received(f) if f.trim_matches(['\r', '\n']).is_empty())
                    })
                    .count()
            };
            alice.wait_wire("two pongs", |wire| pongs(wire) >= 2).await;
            // The flow survived the keep-alives: one connection, no loss.
            let lost = alice
                .events
                .iter()
                .any(|(e, _)| matches!(e, Event::Connection(ConnectionState::Disconnected { .. })));
            assert!(
                !lost,
                "flow lost; pongs received: {}\n{}",
                pongs(&alice.wire()),
                alice.wire_dump()
            );
        },
    );
}

#[test]
fn stale_entity_tag_gets_412_and_publishes_again() {
    with_kamailio("publish_412", &[], |url| async move {
        let mut a1 = Client::spawn(
            "alice1",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        let mut a2 = Client::spawn(
            "alice2",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        a1.register().await;
        a2.register().await;
        let op = a1
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, true), None))
            .await;
        a1.ok(op).await;
        // The other client replaces the publication: a1's entity-tag is gone.
        let op = a2
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, false), None))
            .await;
        a2.ok(op).await;
        let op = a1
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, true), None))
            .await;
        assert!(matches!(a1.ok(op).await, Outcome::Published { .. }));
        assert_eq!(
            a1.exchange("PUBLISH"),
            [
                format!("--> PUBLISH {ALICE} SIP/2.0"),
                "<-- SIP/2.0 200 OK".into(),
                format!("--> PUBLISH {ALICE} SIP/2.0"),
                "<-- SIP/2.0 412 Conditional Request Failed".into(),
                format!("--> PUBLISH {ALICE} SIP/2.0"),
                "<-- SIP/2.0 200 OK".into(),
            ]
        );
        let pubs = a1.sent(Method::Publish);
        assert!(pubs[1].sip_if_match().unwrap().is_some());
        assert!(
            pubs[2].sip_if_match().unwrap().is_none(),
            "412: initial PUBLISH again"
        );
        let op = a2.op(|ua, now| ua.fetch_settings(now)).await;
        assert_eq!(
            a2.ok(op).await,
            Outcome::Settings(Some(settings(ALICE, true)))
        );
    });
}

#[test]
fn raw_websocket_options_and_subprotocol() {
    with_kamailio("raw", &[], |url| async move {
        // Without the `sip` subprotocol the upgrade is refused.
        let plain = tokio_tungstenite::connect_async(url.as_str()).await;
        assert!(plain.is_err(), "upgrade without subprotocol accepted");

        let mut ws = connect(&url).await.expect("upgrade with subprotocol sip");
        let options = "OPTIONS sip:imsip.test SIP/2.0\r\n\
            Via: SIP/2.0/WS raw.invalid;branch=z9hG4bKraw1;rport\r\n\
            Max-Forwards: 70\r\n\
            From: <sip:alice@imsip.test>;tag=raw1\r\n\
            To: <sip:imsip.test>\r\n\
            Call-ID: raw-options-1\r\n\
            CSeq: 1 OPTIONS\r\n\
            Content-Length: 0\r\n\r\n";
        ws.send(WsMessage::text(options)).await.unwrap();
        let reply = tokio::time::timeout(STEP, ws.next())
            .await
            .expect("a reply in time")
            .expect("a frame")
            .expect("no error");
        let WsMessage::Text(t) = reply else {
            panic!("not a text frame: {reply:?}")
        };
        let m = Sip::parse(t.as_bytes()).unwrap();
        assert_eq!(m.status(), Some(200), "{t}");
        assert_eq!(m.call_id().unwrap(), "raw-options-1");
    });
}

#[test]
fn publication_expires_without_refresh() {
    with_kamailio("publish_expiry", &[], |url| async move {
        let mut a1 = Client::spawn(
            "alice1",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        a1.register().await;
        let op = a1
            .op(|ua, now| ua.publish_settings(now, &settings(ALICE, true), Some(2)))
            .await;
        assert!(matches!(
            a1.ok(op).await,
            Outcome::Published { expires: 2, .. }
        ));
        // The client goes away without refreshing or removing.
        a1.cmds
            .send(Box::new(|ua, now| ua.close(now)))
            .expect("client task alive");
        let mut a2 = Client::spawn(
            "alice2",
            &url,
            config(&url, ALICE, "alice@imsip.test", "alice-secret"),
        );
        a2.register().await;
        let op = a2.op(|ua, now| ua.fetch_settings(now)).await;
        assert_eq!(
            a2.ok(op).await,
            Outcome::Settings(Some(settings(ALICE, true)))
        );
        // The entry expires on Kamailio's clock (its htable checks expiry in whole
        // seconds, and sweeps every 2 s), which the test cannot move: fetch again on
        // each answer until it is gone. Until then every answer is the publication;
        // the deadline is generous (the expiry is due 2-4 s after the PUBLISH) and
        // nothing is asserted about how long it took.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        let mut fetches = 0;
        loop {
            let op = a2.op(|ua, now| ua.fetch_settings(now)).await;
            fetches += 1;
            match a2.ok(op).await {
                Outcome::Settings(None) => break,
                Outcome::Settings(Some(s)) => assert_eq!(s, settings(ALICE, true)),
                other => panic!("fetch answered {other:?}"),
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the publication outlived its 2 s by far: still there after {fetches} fetches"
            );
        }
    });
}
