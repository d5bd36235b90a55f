//! An MSRP session engine (`imsip::msrp::session::MsrpSession`) and its WebSocket
//! to a relay, driven as the package's binding will drive it: shared by the
//! devcore and Kamailio relay tests.

use super::{TestRng, WAIT};
use futures_util::future::select_all;
use futures_util::{SinkExt, StreamExt};
use imsip::auth::Credentials;
use imsip::msrp::session::{Config, Event, Input, MsrpSession, Output};
use imsip::msrp::MsrpUri;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub enum Got {
    Frame(Vec<u8>),
    Closed,
    Timer,
}

/// One engine and its WebSocket, driven as the package's binding will drive it.
pub struct Driver {
    pub session: MsrpSession,
    pub addr: SocketAddr,
    pub ws: Option<Ws>,
    pub epoch: Instant,
    pub timer: Option<u64>,
    pub events: VecDeque<Event>,
}

impl Driver {
    pub fn new(addr: SocketAddr, name: &str, user: &str, password: &str, seed: u64) -> Driver {
        let local =
            MsrpUri::parse(&format!("msrps://{name}.invalid:2855/{name}{seed};ws")).unwrap();
        let relay = MsrpUri::parse(&format!("msrps://{addr};ws")).unwrap();
        let config = Config::new(local, relay, Credentials::password(user, password));
        Driver {
            session: MsrpSession::new(config, Box::new(TestRng(seed))),
            addr,
            ws: None,
            epoch: Instant::now(),
            timer: None,
            events: VecDeque::new(),
        }
    }

    pub fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    pub async fn pump(&mut self) {
        while let Some(o) = self.session.poll_output() {
            match o {
                Output::Connect => {
                    let mut req = format!("ws://{}/msrp", self.addr)
                        .into_client_request()
                        .unwrap();
                    req.headers_mut()
                        .insert("Sec-WebSocket-Protocol", "msrp".parse().unwrap());
                    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
                    self.ws = Some(ws);
                    let now = self.now();
                    self.session.handle_input(now, Input::Connected);
                }
                Output::Transmit(bytes) => {
                    if let Some(ws) = self.ws.as_mut() {
                        ws.send(WsMessage::binary(bytes)).await.unwrap();
                    }
                }
                Output::Close => {
                    if let Some(mut ws) = self.ws.take() {
                        let _ = ws.close(None).await;
                    }
                }
                Output::Timeout(at) => self.timer = Some(at),
                Output::Event(e) => self.events.push_back(e),
            }
        }
    }

    pub async fn next_input(&mut self) -> Got {
        let timer = self.timer;
        let epoch = self.epoch;
        let sleep = async move {
            match timer {
                Some(at) => {
                    let wait = at.saturating_sub(epoch.elapsed().as_millis() as u64);
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        let frame = async {
            match self.ws.as_mut() {
                Some(ws) => loop {
                    match ws.next().await {
                        Some(Ok(WsMessage::Binary(b))) => return Got::Frame(b.to_vec()),
                        Some(Ok(WsMessage::Text(t))) => return Got::Frame(t.as_bytes().to_vec()),
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => return Got::Closed,
                        Some(Ok(_)) => continue,
                    }
                },
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            g = frame => g,
            _ = sleep => Got::Timer,
        }
    }

    pub fn feed(&mut self, got: Got) {
        let now = self.now();
        match got {
            Got::Frame(f) => self.session.handle_input(now, Input::Frame(&f)),
            Got::Closed => {
                self.ws = None;
                self.session.handle_input(now, Input::Disconnected)
            }
            Got::Timer => {
                self.timer = None;
                self.session.handle_input(now, Input::Timeout)
            }
        }
    }
}

/// Runs both drivers until driver `who` reports an event matching `want`.
pub async fn until(
    drivers: &mut [&mut Driver],
    who: usize,
    mut want: impl FnMut(&Event) -> bool,
) -> Event {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        for d in drivers.iter_mut() {
            d.pump().await;
        }
        if let Some(i) = drivers[who].events.iter().position(&mut want) {
            return drivers[who].events.remove(i).unwrap();
        }
        let inputs = drivers.iter_mut().map(|d| Box::pin(d.next_input()));
        let Ok((got, i, _)) = tokio::time::timeout_at(deadline, select_all(inputs)).await else {
            panic!("timed out; events of {who}: {:?}", drivers[who].events);
        };
        drivers[i].feed(got);
    }
}
