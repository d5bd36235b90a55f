//! The whole client (`imsip::client::Client`: the user agent and its MSRP sessions)
//! with its SIP WebSocket and one WebSocket per MSRP channel, driven as the JS
//! binding drives it (`src/js/client.rs`, `src/js/chat.rs`).

use super::driver::{
    close_ws, connect_sip, feed_sip, recv, send_sip, send_sip_binary, sleep_until, Driven, Wake, Ws,
};
use super::TestRng;
use futures_util::future::{select_all, BoxFuture};
use futures_util::{FutureExt, SinkExt};
use imsip::auth::Credentials;
use imsip::client::{ChannelId, Client, Done, Event, MsrpConfig, Output};
use imsip::msrp::session::Input as MsrpInput;
use imsip::ua::{self, Config, Input, Millis, OpId, UaError};
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Where the last wake came from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Sip,
    Msrp(ChannelId),
    Timer,
}

/// One client and its sockets.
pub struct Driver {
    pub client: Client,
    pub addr: SocketAddr,
    /// The SIP socket.
    pub ws: Option<Ws>,
    /// The open MSRP sockets, by channel.
    pub msrp: BTreeMap<ChannelId, Ws>,
    /// Every channel that asked for a socket, in order.
    pub connected: Vec<ChannelId>,
    /// The method of every MSRP request the client wrote (`AUTH`, `SEND`, `REPORT`),
    /// by channel, in order.
    pub requests: Vec<(ChannelId, String)>,
    pub epoch: Instant,
    pub timer: Option<Millis>,
    pub events: VecDeque<Event>,
    woke: Option<Source>,
}

/// `user`'s configuration at the dev core `addr`: SIP at `/sip`, the relay at
/// `/msrp`, both with `user`'s password.
pub fn configs(addr: SocketAddr, user: &str, password: &str) -> (Config, MsrpConfig) {
    let creds = || Credentials::password(format!("{user}@imsip.test"), password);
    let mut cfg = Config::new(
        &format!("ws://{addr}/sip"),
        &format!("sip:{user}@imsip.test"),
    )
    .expect("config");
    cfg.credentials = Some(creds());
    let msrp = MsrpConfig::new(&format!("ws://{addr}/msrp"), Some(creds())).expect("msrp config");
    (cfg, msrp)
}

impl Driver {
    /// A client of `cfg` and `msrp`; random sources seeded from `seed`.
    pub fn new(addr: SocketAddr, cfg: Config, msrp: MsrpConfig, seed: u64) -> Driver {
        let mut next = seed;
        let new_rng = Box::new(move || {
            next = next.wrapping_add(0x9e37_79b9);
            Box::new(TestRng(next)) as Box<dyn imsip::auth::RandomSource>
        });
        Driver {
            client: Client::new(cfg, Some(msrp), new_rng),
            addr,
            ws: None,
            msrp: BTreeMap::new(),
            connected: Vec::new(),
            requests: Vec::new(),
            epoch: Instant::now(),
            timer: None,
            events: VecDeque::new(),
            woke: None,
        }
    }

    /// The monotonic time, telling the client the wall clock as the binding does.
    pub fn now(&mut self) -> Millis {
        let now = self.epoch.elapsed().as_millis() as Millis;
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.client.set_clock(now, unix);
        now
    }

    /// Carries out everything the client asked for.
    pub async fn pump(&mut self) {
        while let Some(o) = self.client.poll_output() {
            match o {
                Output::Connect => {
                    self.ws = Some(connect_sip(self.addr).await);
                    let now = self.now();
                    self.client.handle_input(now, Input::Connected);
                }
                Output::Transmit(frame) => send_sip(self.ws.as_mut(), frame).await,
                Output::TransmitBinary(frame) => send_sip_binary(self.ws.as_mut(), frame).await,
                Output::Close => close_ws(self.ws.take()).await,
                Output::MsrpConnect { channel, url } => {
                    self.connected.push(channel);
                    let input = match connect_msrp(&url).await {
                        Some(ws) => {
                            self.msrp.insert(channel, ws);
                            MsrpInput::Connected
                        }
                        None => MsrpInput::Disconnected,
                    };
                    let now = self.now();
                    self.client.handle_msrp(now, channel, input);
                }
                Output::MsrpTransmit(channel, bytes) => {
                    // `MSRP <tid> <METHOD>` starts a request, `MSRP <tid> <code>` a response.
                    let first = bytes.split(|&b| b == b'\r').next().unwrap_or_default();
                    let words: Vec<_> = first.split(|&b| b == b' ').collect();
                    if let [b"MSRP", _, method] = words.as_slice() {
                        if method.iter().all(u8::is_ascii_uppercase) {
                            let method = String::from_utf8_lossy(method).into_owned();
                            self.requests.push((channel, method));
                        }
                    }
                    // A socket cut by the test: the bytes are lost, as on a dead socket.
                    let Some(ws) = self.msrp.get_mut(&channel) else {
                        continue;
                    };
                    if ws.send(WsMessage::binary(bytes)).await.is_err() {
                        self.msrp.remove(&channel);
                        let now = self.now();
                        self.client
                            .handle_msrp(now, channel, MsrpInput::Disconnected);
                    }
                }
                Output::MsrpClose(channel) => close_ws(self.msrp.remove(&channel)).await,
                Output::Timeout(at) => self.timer = Some(at),
                Output::Event(e) => self.events.push_back(e),
            }
        }
    }

    /// The test cuts `channel`'s MSRP socket (as a relay dropping it would): closed
    /// on our side, and the client told.
    pub async fn cut_msrp(&mut self, channel: ChannelId) {
        let mut ws = self.msrp.remove(&channel).expect("an open MSRP socket");
        let _ = ws.close(None).await;
        let now = self.now();
        self.client
            .handle_msrp(now, channel, MsrpInput::Disconnected);
    }
}

/// A WebSocket to the relay at `url`, subprotocol `msrp` (RFC 7977 §4.1).
async fn connect_msrp(url: &str) -> Option<Ws> {
    let mut req = url.into_client_request().ok()?;
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "msrp".parse().expect("header"));
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.ok()?;
    let proto = resp.headers().get("sec-websocket-protocol");
    assert_eq!(
        proto.and_then(|v| v.to_str().ok()),
        Some("msrp"),
        "the relay selects msrp"
    );
    Some(ws)
}

impl Driven for Driver {
    type Event = Event;

    async fn pump(&mut self) {
        Driver::pump(self).await
    }

    async fn next_wake(&mut self) -> Wake {
        let (source, wake) = {
            let mut wakes: Vec<BoxFuture<'_, (Source, Wake)>> = Vec::new();
            let (timer, epoch) = (self.timer, self.epoch);
            wakes.push(
                sleep_until(timer, epoch)
                    .map(|()| (Source::Timer, Wake::Timer))
                    .boxed(),
            );
            if let Some(ws) = self.ws.as_mut() {
                wakes.push(recv(ws).map(|w| (Source::Sip, w)).boxed());
            }
            for (&id, ws) in self.msrp.iter_mut() {
                wakes.push(recv(ws).map(move |w| (Source::Msrp(id), w)).boxed());
            }
            select_all(wakes).await.0
        };
        self.woke = Some(source);
        wake
    }

    fn feed(&mut self, wake: Wake) {
        let now = self.now();
        let source = self.woke.take().expect("fed after a wake");
        match (source, wake) {
            // The SIP socket's wakes are frames or its closing, the timer's `Timer`.
            (Source::Sip | Source::Timer, wake) => {
                feed_sip(wake, &mut self.ws, &mut self.timer, |input| {
                    self.client.handle_input(now, input)
                })
            }
            (Source::Msrp(id), Wake::Frame(f)) => {
                self.client.handle_msrp(now, id, MsrpInput::Frame(&f))
            }
            (Source::Msrp(id), _) => {
                self.msrp.remove(&id);
                self.client.handle_msrp(now, id, MsrpInput::Disconnected)
            }
        }
    }

    fn events(&mut self) -> &mut VecDeque<Event> {
        &mut self.events
    }
}

/// The client's operation `op` completed.
pub fn completed(op: OpId) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Completed { op: o, .. } if *o == op)
}

/// The result of a `Completed` event.
pub fn result(e: Event) -> Result<Done, UaError> {
    match e {
        Event::Completed { result, .. } => result,
        other => panic!("not a completion: {other:?}"),
    }
}

/// The user agent's operation `op` completed (register, pager messages…).
pub fn ua_completed(op: OpId) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Ua(ua::Event::Completed { op: o, .. }) if *o == op)
}
