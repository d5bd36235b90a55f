//! The harness of `tests/msrp_session.rs`: a deterministic random source, the fake
//! relay and the two-client network with its manual clock. See that file's docs.
#![allow(dead_code)]

use imsip::auth::{Algorithm, Credentials, DigestInput, DigestSecret, Qop, RandomSource};
use imsip::msrp::session::{
    Config, EndReason, Event, Input, MessageHandle, MsrpSession, Output, Reports, SendFailure,
};
use imsip::msrp::{
    ByteRange, FailureReport, Frame, Method, MsrpUri, RequestBuilder, ResponseBuilder, StartLine,
    Status, TransactionId,
};
use std::collections::{HashMap, VecDeque};

/// Deterministic random source (xorshift).
pub struct Rng(pub u64);
impl RandomSource for Rng {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 24) as u8;
        }
    }
}

pub fn uri(s: &str) -> MsrpUri {
    MsrpUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub const RELAY: &str = "msrps://relay.test:443;ws";
pub const REALM: &str = "relay.test";
pub const ALICE: usize = 0;
pub const BOB: usize = 1;

pub fn local_of(leg: usize) -> MsrpUri {
    uri(&format!(
        "msrps://client{leg}.invalid:2855/session{leg}x;ws"
    ))
}

pub fn relay_leg_uri(leg: usize) -> MsrpUri {
    uri(&format!("msrps://relay.test:443/leg{leg}path;ws"))
}

pub fn config(leg: usize, password: &str) -> Config {
    let user = ["alice", "bob"][leg];
    Config::new(
        local_of(leg),
        uri(RELAY),
        Credentials::password(user, password),
    )
}

pub fn password_of(user: &str) -> &'static str {
    match user {
        "alice" => "alice-secret",
        _ => "bob-secret",
    }
}

// ───────────── the fake relay ─────────────

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    HopByHop,
    PassThrough,
}

/// What the relay remembers of a SEND it forwarded, to route its response.
pub struct Forwarded {
    from_leg: usize,
    from_path: Vec<MsrpUri>,
    message_id: Option<String>,
    range: Option<ByteRange>,
    failure_report: FailureReport,
}

pub struct Relay {
    pub mode: Mode,
    /// The client URI of each leg, learnt from its AUTH.
    pub clients: Vec<Option<MsrpUri>>,
    /// The nonce of each leg's last challenge.
    pub nonces: [u32; 2],
    pub expires: u32,
    /// Answer every AUTH with this code.
    pub refuse_auth: Option<u16>,
    /// 423 with these bounds to an `Expires` outside them.
    pub expires_bounds: Option<(u32, u32)>,
    pub silent_auth: bool,
    /// The next AUTH whose answer is right is told its nonce expired (401
    /// `stale=true` with a fresh one, RFC 7616 §3.3), as a relay whose nonces
    /// outlive their lifetime does.
    pub stale_once: bool,
    /// Swallow SENDs: no answer, no forwarding.
    pub silent_sends: bool,
    pub drop_reports: bool,
    /// Hold what would be delivered to this leg.
    pub hold_for: Option<usize>,
    pub held: Vec<Vec<u8>>,
    pub outbox: VecDeque<(usize, Vec<u8>)>,
    pub forwarded: HashMap<String, Forwarded>,
    /// Per leg: SENDs forwarded and not answered yet, and the most at once.
    pub outstanding: [usize; 2],
    pub max_outstanding: [usize; 2],
    pub auths: Vec<Frame>,
}

impl Relay {
    pub fn new(mode: Mode) -> Relay {
        Relay {
            mode,
            clients: vec![None, None],
            nonces: [0; 2],
            expires: 600,
            refuse_auth: None,
            expires_bounds: None,
            silent_auth: false,
            stale_once: false,
            silent_sends: false,
            drop_reports: false,
            hold_for: None,
            held: Vec::new(),
            outbox: VecDeque::new(),
            forwarded: HashMap::new(),
            outstanding: [0; 2],
            max_outstanding: [0; 2],
            auths: Vec::new(),
        }
    }

    pub fn deliver(&mut self, leg: usize, bytes: Vec<u8>) {
        if self.hold_for == Some(leg) {
            self.held.push(bytes);
        } else {
            self.outbox.push_back((leg, bytes));
        }
    }

    pub fn is_mine(u: &MsrpUri) -> bool {
        u.matches(&relay_leg_uri(ALICE)) || u.matches(&relay_leg_uri(BOB))
    }

    pub fn leg_of(&self, u: &MsrpUri) -> Option<usize> {
        self.clients
            .iter()
            .position(|c| c.as_ref().is_some_and(|c| c.matches(u)))
    }

    pub fn receive(&mut self, leg: usize, bytes: &[u8]) {
        let frame = Frame::parse(bytes).expect("the engine writes one whole frame per message");
        match frame.start_line().clone() {
            StartLine::Request(Method::Auth) => self.on_auth(leg, frame),
            StartLine::Request(method) => self.on_request(leg, method, frame),
            StartLine::Response { code, comment } => self.on_response(code, comment, frame),
        }
    }

    pub fn on_auth(&mut self, leg: usize, auth: Frame) {
        self.auths.push(auth.clone());
        if self.silent_auth {
            return;
        }
        self.clients[leg] = auth.from_path().first().cloned();
        let answer = |code| ResponseBuilder::for_request(&auth, code).unwrap();
        if let Some(code) = self.refuse_auth {
            self.deliver(leg, answer(code).encode().unwrap());
            return;
        }
        if let (Some((min, max)), Some(asked)) = (self.expires_bounds, auth.expires().unwrap()) {
            if asked < min || asked > max {
                let r = answer(423).min_expires(min).max_expires(max);
                self.deliver(leg, r.encode().unwrap());
                return;
            }
        }
        let verified = auth.authorization().unwrap().first().is_some_and(|a| {
            let p = |n| a.param(n).unwrap_or_default();
            let input = DigestInput {
                algorithm: Algorithm::MD5,
                username: p("username"),
                realm: p("realm"),
                nonce: p("nonce"),
                cnonce: p("cnonce"),
                nc: u32::from_str_radix(p("nc"), 16).unwrap_or(0),
                qop: Some(Qop::Auth),
                method: "AUTH",
                uri: p("uri"),
                body: b"",
            };
            p("uri") == RELAY
                && p("nonce") == format!("n{leg}-{}", self.nonces[leg])
                && input.response(DigestSecret::Password(
                    password_of(p("username")).as_bytes(),
                )) == p("response")
        });
        let stale = verified && std::mem::take(&mut self.stale_once);
        let response = if verified && !stale {
            answer(200)
                .use_path(&[relay_leg_uri(leg)])
                .expires(self.expires)
        } else {
            self.nonces[leg] += 1;
            let challenge = format!(
                "Digest realm=\"{REALM}\", nonce=\"n{leg}-{}\", qop=\"auth\", algorithm=MD5{}",
                self.nonces[leg],
                if stale { ", stale=true" } else { "" }
            );
            answer(401).header("WWW-Authenticate", challenge)
        };
        self.deliver(leg, response.encode().unwrap());
    }

    pub fn on_request(&mut self, leg: usize, method: Method, frame: Frame) {
        if method == Method::Send && self.silent_sends {
            return;
        }
        if method == Method::Report && self.drop_reports {
            return;
        }
        // RFC 4976 §6: our URIs off the front of To-Path, each onto the front of
        // From-Path.
        let mut to: Vec<MsrpUri> = frame.to_path().to_vec();
        let mut from: Vec<MsrpUri> = frame.from_path().to_vec();
        while to.first().is_some_and(Relay::is_mine) {
            from.insert(0, to.remove(0));
        }
        let failure_report = frame.failure_report().unwrap_or_default();
        let Some(next) = to.first().and_then(|u| self.leg_of(u)) else {
            if method == Method::Send {
                let r = ResponseBuilder::for_request(&frame, 481).unwrap();
                self.deliver(leg, r.encode().unwrap());
            }
            return;
        };
        if method == Method::Send {
            if self.mode == Mode::HopByHop && failure_report == FailureReport::Yes {
                let ok = ResponseBuilder::for_request(&frame, 200).unwrap();
                self.deliver(leg, ok.encode().unwrap());
            }
            self.outstanding[leg] += 1;
            self.max_outstanding[leg] = self.max_outstanding[leg].max(self.outstanding[leg]);
            self.forwarded.insert(
                frame.tid().as_str().to_owned(),
                Forwarded {
                    from_leg: leg,
                    from_path: frame.from_path().to_vec(),
                    message_id: frame.message_id().ok().flatten().map(str::to_owned),
                    range: frame.byte_range().ok().flatten(),
                    failure_report,
                },
            );
        }
        let mut out = RequestBuilder::new(method, frame.tid().clone(), to, from);
        for h in frame.headers() {
            out = out.header(h.name(), h.value());
        }
        if let (Some(ct), Some(body)) = (frame.content_type(), frame.body()) {
            out = out.body(ct, body.to_vec());
        }
        let bytes = out.continuation(frame.continuation()).encode().unwrap();
        self.deliver(next, bytes);
    }

    pub fn on_response(&mut self, code: u16, comment: Option<String>, frame: Frame) {
        let Some(f) = self.forwarded.remove(frame.tid().as_str()) else {
            return; // an answer to the relay's own REPORT? (never answered) or AUTH
        };
        self.outstanding[f.from_leg] = self.outstanding[f.from_leg].saturating_sub(1);
        let relay_uri = relay_leg_uri(f.from_leg);
        match self.mode {
            Mode::PassThrough => {
                let mut r = ResponseBuilder::new(
                    frame.tid().clone(),
                    code,
                    vec![f.from_path[0].clone()],
                    vec![relay_uri],
                );
                if let Some(c) = comment {
                    r = r.comment(c);
                }
                self.deliver(f.from_leg, r.encode().unwrap());
            }
            Mode::HopByHop => {
                if code == 200 || f.failure_report == FailureReport::No {
                    return;
                }
                let mut report = RequestBuilder::report(
                    TransactionId::new(format!("rep{}", frame.tid())).unwrap(),
                    f.from_path[0].clone(),
                    relay_uri,
                )
                .status(&Status::new(code));
                if let Some(id) = f.message_id {
                    report = report.message_id(id);
                }
                if let Some(r) = f.range {
                    report = report.byte_range(r);
                }
                self.deliver(f.from_leg, report.encode().unwrap());
            }
        }
    }
}

// ───────────── the network ─────────────

pub struct Client {
    pub session: MsrpSession,
    pub events: Vec<Event>,
    pub armed: Option<u64>,
    /// Every frame it transmitted, in order.
    pub sent: Vec<Frame>,
    pub closed: bool,
    pub connected: bool,
}

impl Client {
    pub fn new(cfg: Config, seed: u64) -> Client {
        Client {
            session: MsrpSession::new(cfg, Box::new(Rng(seed))),
            events: Vec::new(),
            armed: None,
            sent: Vec::new(),
            closed: false,
            connected: false,
        }
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn sends(&self) -> impl Iterator<Item = &Frame> {
        self.sent
            .iter()
            .filter(|f| f.method() == Some(&Method::Send))
    }

    pub fn responses(&self) -> impl Iterator<Item = &Frame> {
        self.sent.iter().filter(|f| !f.is_request())
    }

    pub fn ended(&self) -> Option<&EndReason> {
        self.events.iter().find_map(|e| match e {
            Event::Ended { reason } => Some(reason),
            _ => None,
        })
    }
}

pub struct Net {
    pub now: u64,
    pub relay: Relay,
    pub clients: Vec<Client>,
}

impl Net {
    pub fn new(mode: Mode) -> Net {
        Net::with(
            mode,
            config(ALICE, "alice-secret"),
            config(BOB, "bob-secret"),
        )
    }

    pub fn with(mode: Mode, alice: Config, bob: Config) -> Net {
        Net {
            now: 1_000,
            relay: Relay::new(mode),
            clients: vec![Client::new(alice, 11), Client::new(bob, 22)],
        }
    }

    /// Both connected and authenticated, each knowing the other's path.
    pub fn ready(mode: Mode) -> Net {
        let mut net = Net::new(mode);
        net.pump();
        net.pair();
        net
    }

    pub fn pair(&mut self) {
        let a = self.clients[ALICE]
            .session
            .sdp_path()
            .expect("alice has a path");
        let b = self.clients[BOB]
            .session
            .sdp_path()
            .expect("bob has a path");
        self.clients[ALICE].session.set_peer(b).unwrap();
        self.clients[BOB].session.set_peer(a).unwrap();
        for c in &mut self.clients {
            c.events.clear();
        }
    }

    pub fn drain(&mut self, leg: usize) -> bool {
        let mut moved = false;
        let now = self.now;
        loop {
            let c = &mut self.clients[leg];
            let Some(o) = c.session.poll_output() else {
                break;
            };
            moved = true;
            match o {
                Output::Connect => {
                    c.connected = true;
                    c.session.handle_input(now, Input::Connected);
                }
                Output::Transmit(bytes) => {
                    assert!(c.connected && !c.closed, "transmit on a closed socket");
                    c.sent.push(Frame::parse(&bytes).unwrap());
                    self.relay.receive(leg, &bytes);
                }
                Output::Close => c.closed = true,
                Output::Timeout(at) => c.armed = Some(at),
                Output::Event(e) => c.events.push(e),
            }
        }
        moved
    }

    /// Runs until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            for leg in [ALICE, BOB] {
                moved |= self.drain(leg);
            }
            while let Some((leg, bytes)) = self.relay.outbox.pop_front() {
                moved = true;
                let c = &mut self.clients[leg];
                if !c.closed {
                    c.session.handle_input(self.now, Input::Frame(&bytes));
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Moves the clock by `ms`, firing every timer due on the way.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now + ms;
        loop {
            self.pump();
            let due = self
                .clients
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.armed.filter(|&at| at <= target).map(|at| (at, i)))
                .min();
            let Some((at, leg)) = due else { break };
            self.now = self.now.max(at);
            self.clients[leg].armed = None;
            self.clients[leg]
                .session
                .handle_input(self.now, Input::Timeout);
        }
        self.now = target;
        self.pump();
    }

    /// Delivers the first `n` frames the relay held.
    pub fn release(&mut self, n: usize) {
        let leg = self.relay.hold_for.expect("holding");
        let take: Vec<_> = self
            .relay
            .held
            .drain(..n.min(self.relay.held.len()))
            .collect();
        for bytes in take {
            self.clients[leg]
                .session
                .handle_input(self.now, Input::Frame(&bytes));
        }
        self.pump();
    }

    pub fn send(&mut self, leg: usize, ct: &str, body: Vec<u8>, reports: Reports) -> MessageHandle {
        let h = self.clients[leg]
            .session
            .send(self.now, ct, body, reports)
            .unwrap();
        self.pump();
        h
    }

    /// The relay drops both WebSockets.
    pub fn drop_connections(&mut self) {
        for c in &mut self.clients {
            c.closed = true;
            c.session.handle_input(self.now, Input::Disconnected);
        }
        self.pump();
    }
}

pub fn messages(events: &[Event]) -> Vec<(String, Vec<u8>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message {
                content_type, body, ..
            } => Some((content_type.clone(), body.clone())),
            _ => None,
        })
        .collect()
}

pub fn failures(events: &[Event]) -> Vec<(MessageHandle, SendFailure)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::SendFailed {
                message, status, ..
            } => Some((*message, status.clone())),
            _ => None,
        })
        .collect()
}

pub fn all_byte_values(len: usize) -> Vec<u8> {
    // Every byte value, and CRLF followed by dashes now and then: nothing in a
    // body may end a frame early.
    (0..len)
        .map(|i| match i % 1000 {
            500 => b'\r',
            501 => b'\n',
            502..=508 => b'-',
            _ => (i % 256) as u8,
        })
        .collect()
}
