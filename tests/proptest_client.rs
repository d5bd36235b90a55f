//! Property tests of `imsip::client::Client`: random sequences of commands (large
//! messages, pager messages around the threshold, chats started, accepted, rejected,
//! closed, written to, typed in — with ids that exist and ids that do not), SIP
//! inputs (connects, drops, INVITEs with usable and unusable offers, answers of any
//! status to the last INVITE), MSRP inputs on any channel (opens, drops, answers to
//! the last request with or without a Use-Path, garbage) and time steps.
//!
//! After every call: no panic; an op completes at most once, and only one handed
//! out; MSRP sockets are written to or closed only after they were asked for; no
//! wake-up is asked for in the past. At the end, after `close()`: every op handed out
//! has completed exactly once and no channel is left.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{alice_config, TestRng, ALICE};
use imsip::auth::{Credentials, RandomSource};
use imsip::client::{ChannelId, Client, Event, MsrpConfig, Output};
use imsip::msrp::session::Input as MsrpInput;
use imsip::ua::{self, MessageOptions, OpId};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

#[derive(Debug, Clone)]
enum Step {
    SendLarge(usize),
    SendMessage(usize),
    StartChat,
    Accept(u8),
    Reject(u8, u16),
    Close(u8),
    ChatSend(u8),
    Composing(u8, bool),
    SipConnected,
    SipDropped,
    Invite(u8),
    AnswerInvite(u16),
    MsrpOpen(u8),
    MsrpDrop(u8),
    MsrpAnswer(u8, u16, bool),
    MsrpGarbage(u8, Vec<u8>),
    Time(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0usize..5000).prop_map(Step::SendLarge),
        2 => (1000usize..1700).prop_map(Step::SendMessage),
        2 => Just(Step::StartChat),
        1 => any::<u8>().prop_map(Step::Accept),
        1 => (any::<u8>(), prop::sample::select(vec![200u16, 299, 486, 603, 700])).prop_map(|(k, s)| Step::Reject(k, s)),
        1 => any::<u8>().prop_map(Step::Close),
        2 => any::<u8>().prop_map(Step::ChatSend),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(k, a)| Step::Composing(k, a)),
        2 => Just(Step::SipConnected),
        1 => Just(Step::SipDropped),
        2 => (0u8..4).prop_map(Step::Invite),
        3 => prop::sample::select(vec![100u16, 180, 200, 200, 407, 480, 486, 488, 603]).prop_map(Step::AnswerInvite),
        3 => any::<u8>().prop_map(Step::MsrpOpen),
        1 => any::<u8>().prop_map(Step::MsrpDrop),
        5 => (any::<u8>(), prop::sample::select(vec![200u16, 200, 401, 403, 413, 481]), any::<bool>())
            .prop_map(|(k, s, u)| Step::MsrpAnswer(k, s, u)),
        1 => (any::<u8>(), prop::collection::vec(any::<u8>(), 0..80)).prop_map(|(k, b)| Step::MsrpGarbage(k, b)),
        2 => prop::sample::select(vec![0u64, 1, 500, 15_000, 32_000, 64_000]).prop_map(Step::Time),
    ]
}

const CHAT_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\na=accept-types:*\r\na=max-size:4000\r\na=path:msrps://b.invalid:2855/x;ws\r\n";

struct Driver {
    client: Client,
    now: u64,
    handed: HashSet<OpId>,
    completed: HashMap<OpId, usize>,
    sockets: Vec<ChannelId>,
    chats: Vec<ChannelId>,
    /// The last MSRP request written on each channel.
    last_msrp: HashMap<ChannelId, String>,
    last_invite: Option<String>,
    invites: u32,
}

impl Driver {
    fn new() -> Driver {
        let mut seed = 7u64;
        let rngs: Box<dyn FnMut() -> Box<dyn RandomSource>> = Box::new(move || {
            seed += 1;
            Box::new(TestRng(seed)) as Box<dyn RandomSource>
        });
        let creds = Credentials::password("alice@imsip.test", "alice-secret");
        let mut msrp = MsrpConfig::new("wss://core.imsip.test/msrp", Some(creds)).unwrap();
        msrp.chunk_size = 512;
        Driver {
            client: Client::new(alice_config(), Some(msrp), rngs),
            now: 0,
            handed: HashSet::new(),
            completed: HashMap::new(),
            sockets: Vec::new(),
            chats: Vec::new(),
            last_msrp: HashMap::new(),
            last_invite: None,
            invites: 0,
        }
    }

    fn pick(&self, k: u8) -> ChannelId {
        // Mostly a channel that exists; sometimes one that never did.
        if k % 8 == 7 || self.sockets.is_empty() {
            return ChannelId(1000 + u64::from(k));
        }
        self.sockets[usize::from(k) % self.sockets.len()]
    }

    fn chat(&self, k: u8) -> ChannelId {
        if k % 8 == 7 || self.chats.is_empty() {
            return ChannelId(2000 + u64::from(k));
        }
        self.chats[usize::from(k) % self.chats.len()]
    }

    fn op(&mut self, op: OpId) {
        assert!(self.handed.insert(op), "{op:?} handed out twice");
    }

    fn drain(&mut self) {
        while let Some(o) = self.client.poll_output() {
            match o {
                Output::MsrpConnect { channel, url } => {
                    assert_eq!(url, "wss://core.imsip.test/msrp");
                    if !self.sockets.contains(&channel) {
                        self.sockets.push(channel);
                    }
                }
                Output::MsrpTransmit(channel, bytes) => {
                    assert!(
                        self.sockets.contains(&channel),
                        "{channel:?} written before it was opened"
                    );
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if text
                        .split(' ')
                        .nth(2)
                        .is_some_and(|m| m.starts_with("AUTH") || m.starts_with("SEND"))
                    {
                        self.last_msrp.insert(channel, text);
                    }
                }
                Output::MsrpClose(channel) => {
                    assert!(
                        self.sockets.contains(&channel),
                        "{channel:?} closed before it was opened"
                    );
                }
                Output::Timeout(at) => {
                    assert!(at >= self.now, "a wake-up in the past: {at} < {}", self.now)
                }
                Output::Transmit(f) => {
                    if f.starts_with("INVITE ") {
                        self.last_invite = Some(f);
                    }
                }
                Output::TransmitBinary(f) => {
                    assert!(std::str::from_utf8(&f).is_err(), "UTF-8 sent as binary");
                }
                Output::Connect | Output::Close => {}
                Output::Event(Event::Completed { op, .. })
                | Output::Event(Event::Ua(ua::Event::Completed { op, .. })) => {
                    assert!(
                        self.handed.contains(&op),
                        "{op:?} completed but never handed out"
                    );
                    let n = self.completed.entry(op).or_default();
                    *n += 1;
                    assert_eq!(*n, 1, "{op:?} completed twice");
                }
                Output::Event(Event::Invitation { chat, .. }) => self.chats.push(chat),
                Output::Event(_) => {}
            }
        }
    }

    fn run(&mut self, s: &Step) {
        let now = self.now;
        let c = &mut self.client;
        match s {
            Step::SendLarge(n) => {
                let op = c.send_large_message(
                    now,
                    "sip:bob@imsip.test",
                    "application/octet-stream",
                    vec![7; *n],
                );
                self.op(op);
            }
            Step::SendMessage(n) => {
                let op = c.send_message(
                    now,
                    "sip:bob@imsip.test",
                    vec![b'x'; *n],
                    &MessageOptions::default(),
                );
                self.op(op);
            }
            Step::StartChat => {
                let (op, chat) = c.start_chat(now, "sip:bob@imsip.test");
                self.chats.push(chat);
                self.op(op);
            }
            Step::Accept(k) => {
                let chat = self.chat(*k);
                let op = self.client.accept_chat(now, chat);
                self.op(op);
            }
            Step::Reject(k, status) => {
                let chat = self.chat(*k);
                let _ = self.client.reject_chat(now, chat, *status);
            }
            Step::Close(k) => {
                let chat = self.chat(*k);
                let op = self.client.close_chat(now, chat);
                self.op(op);
            }
            Step::ChatSend(k) => {
                let chat = self.chat(*k);
                let op = self
                    .client
                    .chat_send(now, chat, "text/plain", b"hi".to_vec());
                self.op(op);
            }
            Step::Composing(k, active) => {
                let chat = self.chat(*k);
                let _ = self.client.chat_composing(now, chat, *active);
            }
            Step::SipConnected => c.handle_input(now, ua::Input::Connected),
            Step::SipDropped => c.handle_input(now, ua::Input::Disconnected),
            Step::Invite(kind) => {
                self.invites += 1;
                let sdp = match kind {
                    0 | 1 => CHAT_OFFER.to_owned(),
                    2 => "m=audio 9 RTP/AVP 0\r\n".to_owned(),
                    _ => "garbage".to_owned(),
                };
                let large = if *kind == 1 {
                    "Accept-Contact: *;+g.oma.sip-im.large-message\r\n"
                } else {
                    ""
                };
                let frame = format!(
                    "INVITE {ALICE} SIP/2.0\r\nVia: SIP/2.0/WSS core.invalid;branch=z9hG4bKi{n}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b{n}\r\nTo: <{ALICE}>\r\n\
                     Call-ID: inv-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@b.invalid;transport=ws>\r\n{large}\
                     Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                    sdp.len(),
                    n = self.invites
                );
                c.handle_input(now, ua::Input::Frame(&frame));
            }
            Step::AnswerInvite(status) => {
                if let Some(invite) = self.last_invite.clone() {
                    let frame = answer(&invite, *status);
                    self.client.handle_input(now, ua::Input::Frame(&frame));
                }
            }
            Step::MsrpOpen(k) => {
                let ch = self.pick(*k);
                self.client.handle_msrp(now, ch, MsrpInput::Connected);
            }
            Step::MsrpDrop(k) => {
                let ch = self.pick(*k);
                self.client.handle_msrp(now, ch, MsrpInput::Disconnected);
            }
            Step::MsrpAnswer(k, status, use_path) => {
                let ch = self.pick(*k);
                if let Some(req) = self.last_msrp.get(&ch).cloned() {
                    let frame = msrp_answer(&req, *status, *use_path);
                    self.client
                        .handle_msrp(now, ch, MsrpInput::Frame(frame.as_bytes()));
                }
            }
            Step::MsrpGarbage(k, bytes) => {
                let ch = self.pick(*k);
                self.client.handle_msrp(now, ch, MsrpInput::Frame(bytes));
            }
            Step::Time(d) => {
                self.now += d;
                self.client.handle_input(self.now, ua::Input::Timeout);
            }
        }
        self.drain();
    }
}

/// A response of `status` to the SIP request `req` (its Via, From, To with a tag,
/// Call-ID, CSeq), with an MSRP answer on a 2xx.
fn answer(req: &str, status: u16) -> String {
    let mut out = format!("SIP/2.0 {status} Whatever\r\n");
    for line in req.split("\r\n").skip(1) {
        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
        match name.as_str() {
            "via" | "from" | "call-id" | "cseq" => out.push_str(&format!("{line}\r\n")),
            "to" => out.push_str(&format!("{line};tag=t1\r\n")),
            _ => {}
        }
    }
    if status == 407 {
        out.push_str(
            "Proxy-Authenticate: Digest realm=\"imsip.test\", nonce=\"n1\", qop=\"auth\"\r\n",
        );
    }
    if (200..300).contains(&status) {
        out.push_str("Contact: <sip:bob@b.invalid;transport=ws>\r\n");
        out.push_str(&format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{CHAT_OFFER}",
            CHAT_OFFER.len()
        ));
    } else {
        out.push_str("Content-Length: 0\r\n\r\n");
    }
    out
}

/// An MSRP response of `status` to `req` (its transaction id, paths swapped), with a
/// challenge on 401 and a Use-Path on a 200 to AUTH when `use_path`.
fn msrp_answer(req: &str, status: u16, use_path: bool) -> String {
    let tid = req.split(' ').nth(1).unwrap_or("x");
    let header = |name: &str| {
        req.split("\r\n")
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or("msrps://relay.invalid:443;ws")
            .to_owned()
    };
    let to = header("From-Path: ");
    let from = header("To-Path: ");
    let from = from.split(' ').next().unwrap_or("").to_owned();
    let mut out = format!("MSRP {tid} {status} Whatever\r\nTo-Path: {to}\r\nFrom-Path: {from}\r\n");
    if status == 401 {
        out.push_str(
            "WWW-Authenticate: Digest realm=\"imsip.test\", nonce=\"m1\", qop=\"auth\"\r\n",
        );
    }
    if status == 200 && use_path && req.contains(" AUTH\r\n") {
        out.push_str("Use-Path: msrps://relay.invalid:443/r1;ws\r\nExpires: 600\r\n");
    }
    out.push_str(&format!("-------{tid}$\r\n"));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_client_keeps_its_promises_whatever_comes(steps in prop::collection::vec(step(), 1..60)) {
        let mut d = Driver::new();
        d.drain();
        for s in &steps {
            d.run(s);
        }
        d.now += 1;
        d.client.close(d.now);
        d.drain();
        let mut open: Vec<_> = d.handed.iter().filter(|op| !d.completed.contains_key(op)).collect();
        open.sort();
        prop_assert!(open.is_empty(), "ops never completed: {:?}", open);
        prop_assert_eq!(d.client.channel_count(), 0);
    }
}
