//! A user agent (`imsip::ua::UserAgent`) and its WebSocket, driven as the JS
//! binding drives it: shared by the devcore and Kamailio session tests.

use super::{connect_ws, TestRng, WAIT};
use futures_util::future::select_all;
use futures_util::{SinkExt, StreamExt};
use imsip::auth::Credentials;
use imsip::ua::{Config, Event, Input, Millis, OpId, Outcome, Output, UserAgent};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub enum Got {
    Frame(String),
    Closed,
    Timer,
}

/// One user agent and its socket, driven as the JS binding drives it.
pub struct Driver {
    pub ua: UserAgent,
    pub addr: SocketAddr,
    pub ws: Option<WebSocketStream<MaybeTlsStream<TcpStream>>>,
    pub epoch: Instant,
    pub timer: Option<Millis>,
    pub events: VecDeque<Event>,
}

impl Driver {
    pub fn new(addr: SocketAddr, aor: &str, creds: Credentials, seed: u64) -> Driver {
        let mut cfg = Config::new(&format!("ws://{addr}/sip"), aor).unwrap();
        cfg.credentials = Some(creds);
        Driver {
            ua: UserAgent::new(cfg, Box::new(TestRng(seed))),
            addr,
            ws: None,
            epoch: Instant::now(),
            timer: None,
            events: VecDeque::new(),
        }
    }

    pub fn now(&self) -> Millis {
        self.epoch.elapsed().as_millis() as Millis
    }

    /// Carries out everything the agent asked for.
    pub async fn pump(&mut self) {
        while let Some(o) = self.ua.poll_output() {
            match o {
                Output::Connect => {
                    let (ws, proto) = connect_ws(self.addr).await;
                    assert_eq!(proto.as_deref(), Some("sip"));
                    self.ws = Some(ws);
                    let now = self.now();
                    self.ua.handle_input(now, Input::Connected);
                }
                Output::Transmit(frame) => {
                    if let Some(ws) = self.ws.as_mut() {
                        ws.send(WsMessage::text(frame)).await.unwrap();
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
        let sleep = async {
            match timer {
                Some(at) => {
                    let wait = at.saturating_sub(self.epoch.elapsed().as_millis() as Millis);
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        let frame = async {
            match self.ws.as_mut() {
                Some(ws) => loop {
                    match ws.next().await {
                        Some(Ok(WsMessage::Text(t))) => return Got::Frame(t.as_str().to_owned()),
                        Some(Ok(WsMessage::Binary(b))) => {
                            return Got::Frame(String::from_utf8_lossy(&b).into_owned())
                        }
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
            Got::Frame(f) => self.ua.handle_input(now, Input::Frame(&f)),
            Got::Closed => {
                self.ws = None;
                self.ua.handle_input(now, Input::Disconnected)
            }
            Got::Timer => {
                self.timer = None;
                self.ua.handle_input(now, Input::Timeout)
            }
        }
    }
}

/// Runs every driver until driver `who` reports an event matching `want`.
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

pub fn completed(op: OpId) -> impl FnMut(&Event) -> bool {
    move |e| matches!(e, Event::Completed { op: o, .. } if *o == op)
}

pub fn outcome(e: Event) -> Outcome {
    match e {
        Event::Completed { result, .. } => result.unwrap_or_else(|e| panic!("{e:?}")),
        other => panic!("{other:?}"),
    }
}
