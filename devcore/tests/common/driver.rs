//! What the engine drivers (`ua_driver`, `msrp_driver`, `client_driver`) share:
//! waiting for the next thing that wakes a sans-IO engine — a WebSocket message,
//! the socket closing, or the one timer it asked for — and running several
//! drivers until one of them reports the event a test waits for, or until any
//! condition on them holds (bounded by `WAIT`).

use super::{connect_ws, WAIT};
use futures_util::future::select_all;
use futures_util::{SinkExt, StreamExt};
use imsip::ua::{Input, Millis};
use std::collections::VecDeque;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What woke a driver.
pub enum Wake {
    /// A WebSocket message (text or binary), as bytes.
    Frame(Vec<u8>),
    /// The socket closed or failed.
    Closed,
    /// The engine's timer (`at` ms after the driver's epoch) is due.
    Timer,
}

/// The next message on `ws` or the timer at `timer` (ms since `epoch`), whichever
/// comes first; without a socket or a timer that side never wakes.
pub async fn next_wake(ws: Option<&mut Ws>, timer: Option<u64>, epoch: Instant) -> Wake {
    let frame = async {
        match ws {
            Some(ws) => recv(ws).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        w = frame => w,
        _ = sleep_until(timer, epoch) => Wake::Timer,
    }
}

/// The next message on `ws` (pings and pongs skipped), or `Closed`.
pub async fn recv(ws: &mut Ws) -> Wake {
    loop {
        match ws.next().await {
            Some(Ok(WsMessage::Binary(b))) => return Wake::Frame(b.to_vec()),
            Some(Ok(WsMessage::Text(t))) => return Wake::Frame(t.as_bytes().to_vec()),
            Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return Wake::Closed,
            Some(Ok(_)) => continue,
        }
    }
}

/// Returns when the timer at `timer` (ms since `epoch`) is due; never without one.
pub async fn sleep_until(timer: Option<u64>, epoch: Instant) {
    match timer {
        Some(at) => {
            let wait = at.saturating_sub(epoch.elapsed().as_millis() as u64);
            tokio::time::sleep(Duration::from_millis(wait)).await
        }
        None => std::future::pending().await,
    }
}

/// The SIP socket to the dev core at `addr`, subprotocol `sip` (RFC 7118 §4.1).
pub async fn connect_sip(addr: SocketAddr) -> Ws {
    let (ws, proto) = connect_ws(addr).await;
    assert_eq!(proto.as_deref(), Some("sip"));
    ws
}

/// Sends a SIP `frame` (text) on `ws` when the socket is open.
pub async fn send_sip(ws: Option<&mut Ws>, frame: String) {
    if let Some(ws) = ws {
        ws.send(WsMessage::text(frame)).await.expect("SIP send");
    }
}

/// Sends a frame whose body is not UTF-8 as a binary message (RFC 7118 §4.2).
pub async fn send_sip_binary(ws: Option<&mut Ws>, frame: Vec<u8>) {
    if let Some(ws) = ws {
        ws.send(WsMessage::binary(frame)).await.expect("SIP send");
    }
}

/// Closes `ws` when there is one (a failure is as good as closed).
pub async fn close_ws(ws: Option<Ws>) {
    if let Some(mut ws) = ws {
        let _ = ws.close(None).await;
    }
}

/// Hands what woke a SIP engine (a user agent, or a client's: both take
/// `imsip::ua::Input`) to `handle`: a message on its socket, the socket closing
/// (`ws` is dropped) or its timer (`timer` is cleared). A frame that is not UTF-8
/// carries a binary body (RFC 7118 §4.2) and goes in as bytes.
pub fn feed_sip(
    wake: Wake,
    ws: &mut Option<Ws>,
    timer: &mut Option<Millis>,
    handle: impl FnOnce(Input<'_>),
) {
    match wake {
        Wake::Frame(f) => match std::str::from_utf8(&f) {
            Ok(text) => handle(Input::Frame(text)),
            Err(_) => handle(Input::BinaryFrame(&f)),
        },
        Wake::Closed => {
            *ws = None;
            handle(Input::Disconnected)
        }
        Wake::Timer => {
            *timer = None;
            handle(Input::Timeout)
        }
    }
}

/// A sans-IO engine under test with its socket.
#[allow(async_fn_in_trait)] // test code: never used through `dyn`
pub trait Driven {
    type Event: Debug;
    /// Carries out everything the engine asked for.
    async fn pump(&mut self);
    /// Waits for what wakes it next.
    async fn next_wake(&mut self) -> Wake;
    /// Hands it what woke it.
    fn feed(&mut self, wake: Wake);
    /// The events it reported and nobody took yet.
    fn events(&mut self) -> &mut VecDeque<Self::Event>;
}

/// Runs every driver until driver `who` reports an event matching `want`.
pub async fn until<D: Driven>(
    drivers: &mut [&mut D],
    who: usize,
    mut want: impl FnMut(&D::Event) -> bool,
) -> D::Event {
    let found = run_until(drivers, |ds| {
        let events = ds[who].events();
        let i = events.iter().position(&mut want)?;
        events.remove(i)
    })
    .await;
    match found {
        Some(e) => e,
        None => panic!("timed out; events of {who}: {:?}", drivers[who].events()),
    }
}

/// Runs every driver until `done` returns something (checked after each round of
/// pumping); `None` when `WAIT` passed first.
pub async fn run_until<D: Driven, T>(
    drivers: &mut [&mut D],
    mut done: impl FnMut(&mut [&mut D]) -> Option<T>,
) -> Option<T> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for d in drivers.iter_mut() {
            d.pump().await;
        }
        if let Some(t) = done(drivers) {
            return Some(t);
        }
        let wakes = drivers.iter_mut().map(|d| Box::pin(d.next_wake()));
        let Ok((wake, i, _)) = tokio::time::timeout_at(deadline, select_all(wakes)).await else {
            return None;
        };
        drivers[i].feed(wake);
    }
}
