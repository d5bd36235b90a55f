//! The HTTP side: the demo page and the wasm package as static files, the
//! SIP WebSocket endpoint `/sip` (subprotocol `sip`, RFC 7118), and the timer
//! task that calls the core back at its next deadline.
//!
//! This is where the I/O is: sockets, the clock ([`App::now`]) and
//! sleeping. Every call into the core goes through [`App::with_core`], which
//! wakes the timer task when the call moved the core's next deadline.
//!
//! The clock is the system clock plus an offset that only
//! [`App::advance_clock`] moves (zero unless a test calls
//! `Server::advance_clock`): a test ages nonces or expires bindings by moving
//! the clock on, not by sleeping.

use crate::core::Core;
use crate::flows::{ConnId, Outbound};
use crate::msrp_relay::{MsrpRelay, Verdict};
use crate::timers::Now;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SEC_WEBSOCKET_PROTOCOL};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch, Notify};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::{info, warn};

/// What every request handler shares.
pub(crate) struct App {
    core: Mutex<Core>,
    /// The MSRP relay (`/msrp`): its own lock, it shares nothing with SIP.
    relay: Mutex<MsrpRelay>,
    www: PathBuf,
    stop: watch::Receiver<bool>,
    /// Tells the timer task that the core's next deadline moved.
    deadline_moved: Notify,
    /// How far [`App::advance_clock`] moved the clock on in total.
    clock_offset: Mutex<Duration>,
    /// How many SIP flows the core has open, as of its last call.
    open_flows: watch::Sender<usize>,
}

impl App {
    pub fn new(core: Core, relay: MsrpRelay, www: PathBuf, stop: watch::Receiver<bool>) -> App {
        App {
            core: Mutex::new(core),
            relay: Mutex::new(relay),
            www,
            stop,
            deadline_moved: Notify::new(),
            clock_offset: Mutex::new(Duration::ZERO),
            open_flows: watch::Sender::new(0),
        }
    }

    /// The number of SIP flows the core has open, updated when a call into
    /// the core changed it (after the core handled the opening or closing).
    pub fn open_flows(&self) -> watch::Receiver<usize> {
        self.open_flows.subscribe()
    }

    /// How far the clock was moved on (even if a panic poisoned the lock).
    fn clock_offset(&self) -> Duration {
        *self.clock_offset.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The time for the core and the MSRP relay: the system clock moved on
    /// by every [`App::advance_clock`] so far.
    pub fn now(&self) -> Now {
        Now::system().plus(self.clock_offset())
    }

    /// Moves the clock on by `by`, hands the core every deadline now due,
    /// and has the timer task sleep on the moved clock from now on.
    pub fn advance_clock(&self, by: Duration) {
        {
            let mut offset = self.clock_offset.lock().unwrap_or_else(|e| e.into_inner());
            *offset += by;
        }
        self.with_core(|core| core.handle_timeout(self.now()));
        self.relay().handle_timeout(self.now().mono);
        // The deadline the timer task sleeps until is now nearer in system
        // time even when it did not move in the core's time.
        self.deadline_moved.notify_one();
    }

    /// The core, even if a panic poisoned the lock (its state stays usable:
    /// every handler leaves it consistent between statements that matter).
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The MSRP relay (even if a panic poisoned the lock).
    fn relay(&self) -> MutexGuard<'_, MsrpRelay> {
        self.relay.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the relay; wakes the timer task if the relay's next
    /// deadline (a forwarded SEND's response timeout) moved.
    fn with_relay<R>(&self, f: impl FnOnce(&mut MsrpRelay) -> R) -> R {
        let mut relay = self.relay();
        let before = relay.next_deadline();
        let r = f(&mut relay);
        if relay.next_deadline() != before {
            self.deadline_moved.notify_one();
        }
        r
    }

    /// The nearest deadline of the core and the relay (one clock).
    fn next_deadline(&self) -> Option<Instant> {
        let core = self.core().next_deadline();
        let relay = self.relay().next_deadline();
        match (core, relay) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs `f` on the core; wakes the timer task if its next deadline
    /// moved, and tells the [`App::open_flows`] watchers if a flow opened or
    /// closed.
    pub fn with_core<R>(&self, f: impl FnOnce(&mut Core) -> R) -> R {
        let mut core = self.core();
        let before = core.next_deadline();
        let r = f(&mut core);
        if core.next_deadline() != before {
            self.deadline_moved.notify_one();
        }
        let flows = core.open_flows();
        self.open_flows.send_if_modified(|n| {
            let changed = *n != flows;
            *n = flows;
            changed
        });
        r
    }
}

/// The timer task: sleeps until the next deadline of the core or the MSRP
/// relay (or, with none, until one is set), hands both the time, and goes
/// back to sleep; a handler that moves a deadline, or a test that moves the
/// clock, wakes it early.
/// Ends when `stop` turns `true`.
pub(crate) async fn run_timers(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    loop {
        let next = app.next_deadline();
        // The deadline is on the core's clock; the sleep is on the system's.
        let offset = app.clock_offset();
        let sleep = async {
            match next {
                Some(at) => {
                    let at = at.checked_sub(offset).unwrap_or_else(Instant::now);
                    tokio::time::sleep_until(at.into()).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {
                app.core().handle_timeout(app.now());
                app.relay().handle_timeout(app.now().mono);
            }
            _ = app.deadline_moved.notified() => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// Shown at `/` while `www/index.html` does not exist.
const PLACEHOLDER: &str = "<!doctype html>
<html lang=\"en\"><head><meta charset=\"utf-8\"><title>imsip dev core</title></head>
<body>
<h1>imsip dev core</h1>
<p>The demo page is not built yet: there is no <code>www/index.html</code>.</p>
<p>The SIP core is running: connect a SIP-over-WebSocket client to
<code>/sip</code> (subprotocol <code>sip</code>) on this host and port.</p>
</body></html>
";

/// The router: `/sip` (WebSocket), `/` (www/index.html or a placeholder),
/// `/pkg/...` and `/www/pkg/...` (the wasm package), `/www/...` and every
/// other path (the www directory).
pub(crate) fn router(app: Arc<App>, www: PathBuf, pkg: PathBuf) -> Router {
    Router::new()
        .route("/sip", get(ws_upgrade))
        .route("/msrp", get(msrp_upgrade))
        .route("/", get(index))
        .nest_service("/pkg", ServeDir::new(&pkg))
        .nest_service("/www/pkg", ServeDir::new(&pkg))
        .nest_service("/www", ServeDir::new(&www))
        .fallback_service(ServeDir::new(&www))
        .layer(SetResponseHeaderLayer::overriding(
            CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .with_state(app)
}

async fn index(State(app): State<Arc<App>>) -> Response {
    match tokio::fs::read(app.www.join("index.html")).await {
        Ok(page) => ([(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response(),
        Err(_) => Html(PLACEHOLDER).into_response(),
    }
}

/// Largest WebSocket message accepted by the transport; SIP frames over
/// 64 KiB are dropped by the core with a log line.
const MAX_WS_MESSAGE: usize = 1 << 20;

async fn ws_upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    State(app): State<Arc<App>>,
) -> Response {
    let offered_sip = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("sip"));
    if !offered_sip {
        warn!(%peer, "WebSocket client did not request the `sip` subprotocol");
    }
    ws.protocols(["sip"])
        .max_message_size(MAX_WS_MESSAGE)
        .max_frame_size(MAX_WS_MESSAGE)
        .on_upgrade(move |socket| flow(app, socket, peer))
}

/// One SIP flow: frames in go to the core; frames the core queues go out.
async fn flow(app: Arc<App>, socket: WebSocket, peer: SocketAddr) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
    let conn: ConnId = app.with_core(|core| core.open(tx, Some(peer)));
    info!(conn, %peer, "flow opened");
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let msg = match out {
                Outbound::Frame(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => WsMessage::Text(text.into()),
                    Err(e) => WsMessage::Binary(e.into_bytes().into()),
                },
                Outbound::Close => {
                    let _ = sink.send(WsMessage::Close(None)).await;
                    break;
                }
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut stop = app.stop.clone();
    loop {
        let next = tokio::select! {
            m = stream.next() => m,
            _ = stop.wait_for(|s| *s) => None,
        };
        match next {
            Some(Ok(WsMessage::Text(t))) => {
                app.with_core(|core| core.on_frame(conn, t.as_bytes(), app.now()))
            }
            Some(Ok(WsMessage::Binary(b))) => {
                app.with_core(|core| core.on_frame(conn, &b, app.now()))
            }
            Some(Ok(WsMessage::Close(_))) | None => break,
            Some(Ok(_)) => {} // Ping/Pong: answered by the WebSocket layer.
            Some(Err(e)) => {
                warn!(conn, error = %e, "WebSocket error");
                break;
            }
        }
    }
    // Dropping the core's sender ends the writer, which closes the socket.
    app.with_core(|core| core.close(conn, app.now()));
    let _ = writer.await;
    info!(conn, %peer, "flow closed");
}

/// `/msrp`: the MSRP relay's WebSocket (RFC 7977 §3, subprotocol `msrp`).
async fn msrp_upgrade(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(app): State<Arc<App>>,
) -> Response {
    // MSRP chunks are small (RFC 4975 §7.1 suggests 2048 bytes); a client
    // that sends whole messages in one frame is still bounded by this.
    ws.protocols(["msrp"])
        .max_message_size(MAX_WS_MESSAGE * 2)
        .max_frame_size(MAX_WS_MESSAGE * 2)
        .on_upgrade(move |socket| msrp_connection(app, socket, peer))
}

/// One MSRP relay connection: frames in go to the relay as they arrive (no
/// buffering of whole messages); frames it queues go out.
async fn msrp_connection(app: Arc<App>, socket: WebSocket, peer: SocketAddr) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outbound>();
    let Some(conn) = app.relay().open(tx) else {
        warn!(%peer, "MSRP: cannot name a relay URI for this host");
        return;
    };
    info!(conn, %peer, "MSRP connection opened");
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let msg = match out {
                Outbound::Frame(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => WsMessage::Text(text.into()),
                    Err(e) => WsMessage::Binary(e.into_bytes().into()),
                },
                Outbound::Close => break,
            };
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    let mut stop = app.stop.clone();
    loop {
        let next = tokio::select! {
            m = stream.next() => m,
            _ = stop.wait_for(|s| *s) => None,
        };
        let verdict = match next {
            Some(Ok(WsMessage::Text(t))) => {
                app.with_relay(|r| r.on_frame(conn, t.as_bytes(), app.now().mono))
            }
            Some(Ok(WsMessage::Binary(b))) => {
                app.with_relay(|r| r.on_frame(conn, &b, app.now().mono))
            }
            Some(Ok(WsMessage::Close(_))) | None => break,
            Some(Ok(_)) => Verdict::Ok,
            Some(Err(e)) => {
                warn!(conn, error = %e, "MSRP WebSocket error");
                break;
            }
        };
        if verdict == Verdict::Close {
            break;
        }
    }
    app.relay().close(conn);
    let _ = writer.await;
    info!(conn, %peer, "MSRP connection closed");
}
