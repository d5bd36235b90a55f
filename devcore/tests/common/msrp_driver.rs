//! An MSRP session engine (`imsip::msrp::session::MsrpSession`) and its WebSocket
//! to a relay, driven as the package's binding will drive it: shared by the
//! devcore and Kamailio relay tests.

use super::driver::{next_wake, Driven, Wake, Ws};
use super::TestRng;
use futures_util::SinkExt;
use imsip::auth::Credentials;
use imsip::msrp::session::{Config, Event, Input, MsrpSession, Output, Reports};
use imsip::msrp::MsrpUri;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

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
}

impl Driven for Driver {
    type Event = Event;

    async fn pump(&mut self) {
        Driver::pump(self).await
    }

    async fn next_wake(&mut self) -> Wake {
        next_wake(self.ws.as_mut(), self.timer, self.epoch).await
    }

    fn feed(&mut self, wake: Wake) {
        let now = self.now();
        match wake {
            Wake::Frame(f) => self.session.handle_input(now, Input::Frame(&f)),
            Wake::Closed => {
                self.ws = None;
                self.session.handle_input(now, Input::Disconnected)
            }
            Wake::Timer => {
                self.timer = None;
                self.session.handle_input(now, Input::Timeout)
            }
        }
    }

    fn events(&mut self) -> &mut VecDeque<Event> {
        &mut self.events
    }
}

/// `sender` sends 1 MiB of every byte value with a success report (large-message
/// mode) to `receiver`, whose peer it is: it arrives byte-exact, the report comes
/// back, and nothing stays buffered at the receiver after reassembly.
pub async fn mebibyte_arrives_byte_exact(sender: &mut Driver, receiver: &mut Driver) {
    let body: Vec<u8> = (0..1024 * 1024).map(|i| (i % 256) as u8).collect();
    let now = sender.now();
    let handle = sender
        .session
        .send(
            now,
            "application/octet-stream",
            body.clone(),
            Reports::large_message(),
        )
        .unwrap();
    match super::driver::until(&mut [&mut *sender, &mut *receiver], 1, |e| {
        matches!(e, Event::Message { .. })
    })
    .await
    {
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
    let e = super::driver::until(&mut [&mut *sender, &mut *receiver], 0, |e| {
        matches!(e, Event::Delivered { .. } | Event::SendFailed { .. })
    })
    .await;
    assert!(
        matches!(e, Event::Delivered { message } if message == handle),
        "{e:?}"
    );
    assert_eq!(
        receiver.session.buffered_bytes(),
        0,
        "nothing held after reassembly"
    );
}
