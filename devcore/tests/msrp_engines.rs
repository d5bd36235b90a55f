//! Two MSRP session engines (`imsip::msrp::session`, the sans-IO client the package
//! will run) through devcore's MSRP relay at `/msrp` over real WebSockets (RFC 4976
//! with RFC 7977): each authenticates and gets its Use-Path, learns the other's
//! `a=path` (as the SDP answer would carry it), and a 1 MiB binary message goes in
//! chunks, arrives byte-exact and is confirmed by a success REPORT; chat lines go
//! both ways. Every wait is for an event, bounded by `WAIT`.

mod common;

use common::*;
use futures_util::future::select_all;
use futures_util::{SinkExt, StreamExt};
use imsip::auth::Credentials;
use imsip::msrp::session::{Config, Event, Input, MsrpSession, Output, Reports};
use imsip::msrp::MsrpUri;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

enum Got {
    Frame(Vec<u8>),
    Closed,
    Timer,
}

/// One engine and its WebSocket, driven as the package's binding will drive it.
struct Driver {
    session: MsrpSession,
    addr: SocketAddr,
    ws: Option<Ws>,
    epoch: Instant,
    timer: Option<u64>,
    events: VecDeque<Event>,
}

impl Driver {
    fn new(addr: SocketAddr, name: &str, user: &str, password: &str, seed: u64) -> Driver {
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

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    async fn pump(&mut self) {
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

    async fn next_input(&mut self) -> Got {
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

    fn feed(&mut self, got: Got) {
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
async fn until(
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

#[tokio::test]
async fn a_mebibyte_and_chat_lines_go_through_devcores_relay() {
    let core = start().await;
    let mut alice = Driver::new(core.addr, "alice", "alice@imsip.test", "alice-secret", 11);
    let mut bob = Driver::new(core.addr, "bob", "bob@imsip.test", "bob-secret", 12);
    for who in 0..2 {
        let e = until(&mut [&mut alice, &mut bob], who, |e| {
            matches!(e, Event::Authenticated { .. })
        })
        .await;
        assert!(matches!(e, Event::Authenticated { .. }), "{e:?}");
    }
    // What each side's SDP would carry in a=path: the relay's Use-Path, then its own URI.
    let alice_path = alice.session.sdp_path().unwrap();
    let bob_path = bob.session.sdp_path().unwrap();
    assert_eq!(alice_path.len(), 2);
    alice.session.set_peer(bob_path).unwrap();
    bob.session.set_peer(alice_path).unwrap();

    // 1 MiB of every byte value, with a success report (large-message mode).
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 256) as u8).collect();
    let now = alice.now();
    let handle = alice
        .session
        .send(
            now,
            "application/octet-stream",
            body.clone(),
            Reports::large_message(),
        )
        .unwrap();
    let e = until(&mut [&mut alice, &mut bob], 1, |e| {
        matches!(e, Event::Message { .. })
    })
    .await;
    match e {
        Event::Message {
            content_type,
            body: got,
            ..
        } => {
            assert_eq!(content_type, "application/octet-stream");
            assert!(got == body, "the body arrived byte-exact");
        }
        other => panic!("{other:?}"),
    }
    let e = until(&mut [&mut alice, &mut bob], 0, |e| {
        matches!(e, Event::Delivered { .. } | Event::SendFailed { .. })
    })
    .await;
    assert!(
        matches!(e, Event::Delivered { message } if message == handle),
        "{e:?}"
    );
    assert_eq!(
        bob.session.buffered_bytes(),
        0,
        "nothing held after reassembly"
    );

    // Chat lines both ways.
    for i in 0..5 {
        let now = bob.now();
        bob.session
            .send(
                now,
                "text/plain",
                format!("line {i} from bob").into_bytes(),
                Reports::default(),
            )
            .unwrap();
        let e = until(&mut [&mut alice, &mut bob], 0, |e| {
            matches!(e, Event::Message { .. })
        })
        .await;
        assert!(
            matches!(e, Event::Message { body, .. } if body == format!("line {i} from bob").as_bytes())
        );
    }
}
