//! A user agent (`imsip::ua::UserAgent`) and its WebSocket, driven as the JS
//! binding drives it: shared by the devcore and Kamailio session tests.

use super::driver::{
    close_ws, connect_sip, feed_sip, next_wake, send_sip, send_sip_binary, Driven, Wake, Ws,
};
use super::TestRng;
use imsip::auth::Credentials;
use imsip::ua::{Config, Event, Input, Millis, OpId, Outcome, Output, UserAgent};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// One user agent and its socket, driven as the JS binding drives it.
pub struct Driver {
    pub ua: UserAgent,
    pub addr: SocketAddr,
    pub ws: Option<Ws>,
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
                    self.ws = Some(connect_sip(self.addr).await);
                    let now = self.now();
                    self.ua.handle_input(now, Input::Connected);
                }
                Output::Transmit(frame) => send_sip(self.ws.as_mut(), frame).await,
                Output::TransmitBinary(frame) => send_sip_binary(self.ws.as_mut(), frame).await,
                Output::Close => close_ws(self.ws.take()).await,
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
        feed_sip(wake, &mut self.ws, &mut self.timer, |input| {
            self.ua.handle_input(now, input)
        });
    }

    fn events(&mut self) -> &mut VecDeque<Event> {
        &mut self.events
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
