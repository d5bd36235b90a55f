//! Drives a [`UserAgent`] through arbitrary sequences of commands, inputs and frames,
//! checking its contract after every call. Shared by the `ua_frames` fuzz target and
//! `tests/proptest_ua.rs` (which includes this file with `#[path]`).
//!
//! The "core" on the other side is only a frame factory: it answers whichever request
//! the UA sent that a step picks, with whatever status and headers the step says, so
//! replies match real transactions (right branch, Call-ID, tags) often enough to reach
//! the deep states, while raw frames and raw header lines bring the garbage.
//!
//! Checked on every call:
//! - every `Event::Completed` names an `OpId` a command returned, at most once;
//! - every frame the UA transmits parses; every request it sends passes `validate()`;
//! - every `Output::Timeout(at)` is not earlier than the `now` of the call (see
//!   [`Driver::strict_timeouts`]).
//!
//! [`Driver::finish`] then loses the flow and lets a long time pass: every `OpId` must
//! have completed exactly once.
#![allow(dead_code)]

use imsip::auth::{generate_challenge, AkaKeys, Credentials, Key, OpOrOpc, RandomSource};
use imsip::message::{HeaderName, Message, MessageBuilder, Method, Uri};
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{Config, Event, Input, OpId, Output, PublishPolicy, UserAgent};
use std::collections::BTreeMap;

/// One thing that happens to the UA.
#[derive(Debug, Clone)]
pub enum Step {
    Register,
    Unregister,
    /// Publish one of a few documents (index modulo the set).
    Publish(u8),
    Remove,
    Fetch,
    Watch,
    Unwatch,
    SendMessage {
        to: String,
        body: Vec<u8>,
        content_type: Option<String>,
    },
    Close,
    Connected,
    Disconnected,
    /// Let `ms` pass, then `Input::Timeout`.
    Advance(u64),
    /// Jump to the armed timer (if any) and fire it.
    FireTimer,
    /// An arbitrary frame from the core.
    Raw(String),
    /// An arbitrary binary frame from the core (bytes that are not all UTF-8).
    RawBinary(Vec<u8>),
    /// Answer the `pick`-th remembered request of the UA.
    Reply {
        pick: u8,
        status: u16,
        /// Bit set: 0 challenge, 1 SIP-ETag, 2 Expires, 3 Contact, 4 Min-Expires +
        /// Retry-After, 5 stale/second challenge, 6 Service-Route + Record-Route,
        /// 7 splice `raw` into the header section.
        extras: u8,
        raw: String,
    },
    /// A NOTIFY in the dialog of the `pick`-th remembered SUBSCRIBE.
    Notify {
        pick: u8,
        /// Subscription-State and Event variant.
        state: u8,
        /// Body variant; `raw` is the body for the last one.
        body: u8,
        raw: String,
    },
    /// A request from a peer (MESSAGE, OPTIONS, INFO, ...), `raw` as body or header.
    Incoming {
        kind: u8,
        raw: String,
    },
}

/// Deterministic xorshift random source.
pub struct XorShift(pub u64);
impl RandomSource for XorShift {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = (self.0 >> 24) as u8;
        }
    }
}

pub const AOR: &str = "sip:alice@imsip.test";
const REALM: &str = "imsip.test";

fn aka_keys() -> AkaKeys {
    AkaKeys {
        k: Key::new([0x46; 16]),
        op_or_opc: OpOrOpc::Op(Key::new([0xcd; 16])),
        amf: [0xb9, 0xb9],
    }
}

fn settings_doc(v: u8) -> ServiceSettings {
    let mut s = ServiceSettings::default();
    let kind = v % 3;
    if kind != 0 {
        let e: &mut Entity = s.entity_mut(AOR);
        e.incoming_session_barring = Some(v & 1 == 0);
        e.session_mode = Some("enabled".into());
        if kind == 2 {
            e.history = Some(imsip::settings::History {
                active: true,
                kind: Some(u32::from(v)),
            });
        }
    }
    s
}

const SETTINGS_XML: &str = "<?xml version=\"1.0\"?>\n<service-settings \
xmlns=\"urn:oma:xml:im:service-settings\"><entity id=\"sip:alice@imsip.test\">\
<isb-settings><incoming-session-barring active=\"true\"/></isb-settings>\
<active>true</active></entity></service-settings>";

/// The UA under test and what the driver knows about it.
pub struct Driver {
    pub ua: UserAgent,
    pub now: u64,
    /// Every OpId returned by a command, with how many times it completed.
    pub ops: BTreeMap<OpId, u32>,
    /// Requests the UA sent, most recent last (bounded).
    pub sent: Vec<Message>,
    pub armed: Option<u64>,
    /// Assert `Output::Timeout(at) >= now` of the call.
    pub strict_timeouts: bool,
    /// Timeouts seen earlier than the call's `now` (when not strict).
    pub past_timeouts: Vec<(u64, u64)>,
    /// Print every output (debugging a failing case).
    pub trace: bool,
    /// Whether the socket is open as the caller sees it: after `Connected`, until
    /// `Disconnected`, `close()` or `Output::Close`. Frames arrive only while it is.
    pub open: bool,
    /// Assert that nothing is transmitted while the socket is not open. Off by default:
    /// see the ignored regression tests in tests/proptest_ua.rs.
    pub forbid_transmit_while_down: bool,
    closed: bool,
    aka: bool,
    counter: u32,
    sqn: u64,
}

impl Driver {
    /// A UA whose configuration is chosen by `variant`, randomness by `seed`.
    pub fn new(seed: u64, variant: u8) -> Driver {
        let mut cfg = Config::new(
            if variant & 1 == 0 {
                "ws://127.0.0.1:8088/sip"
            } else {
                "wss://core.imsip.test/sip"
            },
            AOR,
        )
        .expect("config");
        let aka = variant >> 1 & 3 == 2;
        cfg.credentials = match variant >> 1 & 3 {
            0 | 1 => Some(Credentials::password("alice@imsip.test", "alice-secret")),
            2 => Some(Credentials::aka("alice@imsip.test", aka_keys(), 0)),
            _ => None,
        };
        cfg.publish_policy = match variant >> 3 & 3 {
            0 => PublishPolicy::IfAbsent,
            1 => PublishPolicy::Always,
            _ => PublishPolicy::Never,
        };
        if variant & 0x20 != 0 {
            cfg.service_settings = Some(settings_doc(variant));
        }
        if variant & 0x40 != 0 {
            cfg.keep_alive_interval = 0;
        }
        if variant & 0x80 != 0 {
            cfg.display_name = Some("Alice \"A\" \\ Liddell".into());
            cfg.ims_initial_authorization = true;
        }
        Driver {
            ua: UserAgent::new(cfg, Box::new(XorShift(seed | 1))),
            now: 0,
            ops: BTreeMap::new(),
            sent: Vec::new(),
            armed: None,
            strict_timeouts: true,
            past_timeouts: Vec::new(),
            trace: false,
            open: false,
            forbid_transmit_while_down: false,
            closed: false,
            aka,
            counter: 0,
            sqn: 32,
        }
    }

    fn issued(&mut self, op: OpId) {
        assert!(
            self.ops.insert(op, 0).is_none(),
            "OpId {op:?} returned twice"
        );
    }

    /// Drains every output, checking each one.
    fn drain(&mut self, call_now: u64) {
        while let Some(out) = self.ua.poll_output() {
            if self.trace {
                println!("@{call_now} {out:?}");
            }
            match out {
                Output::Transmit(frame) => self.on_transmit(frame.as_bytes()),
                Output::TransmitBinary(frame) => {
                    // RFC 7118 §4.2: binary only for a body that is not UTF-8.
                    assert!(std::str::from_utf8(&frame).is_err(), "UTF-8 sent as binary");
                    self.on_transmit(&frame)
                }
                Output::Timeout(at) => {
                    if at < call_now {
                        assert!(
                            !self.strict_timeouts,
                            "Output::Timeout({at}) is earlier than now = {call_now}"
                        );
                        self.past_timeouts.push((at, call_now));
                    }
                    self.armed = Some(at);
                }
                Output::Event(Event::Completed { op, .. }) => {
                    let n = self
                        .ops
                        .get_mut(&op)
                        .unwrap_or_else(|| panic!("Completed for unknown {op:?}"));
                    *n += 1;
                    assert_eq!(*n, 1, "{op:?} completed twice");
                }
                Output::Close => self.open = false,
                Output::Event(_) | Output::Connect => {}
            }
        }
    }

    fn on_transmit(&mut self, bytes: &[u8]) {
        let frame = String::from_utf8_lossy(bytes);
        assert!(
            self.open || !self.forbid_transmit_while_down,
            "transmitted while the socket is not open:\n{frame}"
        );
        if bytes.iter().all(|&b| b == b'\r' || b == b'\n') {
            return; // keep-alive ping
        }
        let msg = Message::parse(bytes)
            .unwrap_or_else(|e| panic!("the UA sent an unparseable frame: {e}\n{frame}"));
        if msg.is_request() {
            if let Err(e) = msg.validate() {
                panic!("the UA sent an invalid request: {e}\n{frame}");
            }
            if self.sent.len() >= 32 {
                self.sent.remove(0);
            }
            self.sent.push(msg);
        }
    }

    fn input(&mut self, input: Input<'_>) {
        self.ua.handle_input(self.now, input);
        self.drain(self.now);
    }

    /// Applies one step.
    pub fn step(&mut self, step: &Step) {
        let now = self.now;
        if self.trace {
            println!("== {step:?}");
        }
        match step {
            Step::Register => {
                let op = self.ua.register(now);
                if self.trace {
                    println!("-> {op:?}");
                }
                self.issued(op);
            }
            Step::Unregister => {
                let op = self.ua.unregister(now);
                self.issued(op);
            }
            Step::Publish(v) => {
                let op = self.ua.publish_settings(now, &settings_doc(*v), None);
                self.issued(op);
            }
            Step::Remove => {
                let op = self.ua.remove_settings(now);
                self.issued(op);
            }
            Step::Fetch => {
                let op = self.ua.fetch_settings(now);
                self.issued(op);
            }
            Step::Watch => {
                let op = self.ua.watch_settings(now);
                self.issued(op);
            }
            Step::Unwatch => {
                let op = self.ua.unwatch_settings(now);
                self.issued(op);
            }
            Step::SendMessage {
                to,
                body,
                content_type,
            } => {
                let op = self.ua.send_message(now, to, body, content_type.as_deref());
                self.issued(op);
            }
            Step::Close => {
                self.closed = true;
                self.open = false;
                self.ua.close(now);
            }
            Step::Connected => {
                self.open = !self.closed;
                return self.input(Input::Connected);
            }
            Step::Disconnected => {
                self.open = false;
                return self.input(Input::Disconnected);
            }
            // A closed socket delivers no frames.
            Step::Raw(_)
            | Step::RawBinary(_)
            | Step::Reply { .. }
            | Step::Notify { .. }
            | Step::Incoming { .. }
                if !self.open => {}
            Step::Advance(ms) => {
                self.now = self.now.saturating_add(*ms);
                return self.input(Input::Timeout);
            }
            Step::FireTimer => {
                if let Some(at) = self.armed {
                    self.now = self.now.max(at);
                }
                return self.input(Input::Timeout);
            }
            Step::Raw(text) => return self.input(Input::Frame(text)),
            Step::RawBinary(bytes) => return self.input(Input::BinaryFrame(bytes)),
            Step::Reply {
                pick,
                status,
                extras,
                raw,
            } => {
                if let Some(frame) = self.reply(*pick, *status, *extras, raw) {
                    self.input(Input::Frame(&frame));
                }
                return;
            }
            Step::Notify {
                pick,
                state,
                body,
                raw,
            } => {
                if let Some(frame) = self.notify(*pick, *state, *body, raw) {
                    self.input(Input::Frame(&frame));
                }
                return;
            }
            Step::Incoming { kind, raw } => {
                let frame = self.incoming(*kind, raw);
                return self.input(Input::Frame(&frame));
            }
        }
        self.drain(now);
    }

    fn next(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    fn reply(&mut self, pick: u8, status: u16, extras: u8, raw: &str) -> Option<String> {
        if self.sent.is_empty() {
            return None;
        }
        let n = self.next();
        let i = self.sent.len() - 1 - usize::from(pick) % self.sent.len();
        let req = &self.sent[i];
        let reason = match status {
            200 => "OK",
            401 => "Unauthorized",
            407 => "Proxy Authentication Required",
            423 => "Interval Too Brief",
            _ => "",
        };
        let mut b = MessageBuilder::reply(req, status, reason, Some(&format!("srv{n}")));
        if extras & 1 != 0 {
            let stale = if extras & 0x20 != 0 {
                ", stale=true"
            } else {
                ""
            };
            let value = if self.aka {
                self.sqn += 1 + u64::from(extras & 0x10);
                let v = generate_challenge(&aka_keys(), self.sqn, &[n as u8; 16]);
                let alg = if extras & 0x40 != 0 {
                    "AKAv2-MD5"
                } else {
                    "AKAv1-MD5"
                };
                format!(
                    "Digest realm=\"{REALM}\", nonce=\"{}\", qop=\"auth\", algorithm={alg}{stale}",
                    v.nonce
                )
            } else {
                let alg =
                    ["MD5", "SHA-256", "MD5-sess", "SHA-512-256"][usize::from(extras >> 2 & 3)];
                format!(
                    "Digest realm=\"{REALM}\", nonce=\"n{n}\", qop=\"auth,auth-int\", \
                     algorithm={alg}, opaque=\"o{n}\"{stale}"
                )
            };
            let name = if status == 407 {
                HeaderName::ProxyAuthenticate
            } else {
                HeaderName::WwwAuthenticate
            };
            b.push_header(name, value);
        }
        if extras & 2 != 0 {
            b.push_header(HeaderName::SipETag, format!("e{n}"));
        }
        if extras & 4 != 0 {
            let e = [0u32, 1, 60, 3600][usize::from(extras >> 4 & 3)];
            b.push_header(HeaderName::Expires, e);
        }
        if extras & 8 != 0 {
            for c in req.header_all(HeaderName::Contact) {
                b.push_header(HeaderName::Contact, format!("{c};expires=300"));
            }
            b.push_header(
                HeaderName::Contact,
                "<sip:other@192.0.2.7;transport=ws>;expires=100;pub-gruu=\"sip:alice@imsip.test;gr=x\"",
            );
            b.push_header(
                HeaderName::PAssociatedUri,
                "<sip:alice@imsip.test>, <tel:+15551234>",
            );
        }
        if extras & 0x10 != 0 {
            b.push_header(HeaderName::MinExpires, 1200);
            b.push_header(HeaderName::RetryAfter, "5 (busy);duration=10");
        }
        if extras & 0x40 != 0 {
            b.push_header(HeaderName::ServiceRoute, "<sip:orig@scscf.imsip.test;lr>");
            b.push_header(
                HeaderName::RecordRoute,
                "<sip:p1.imsip.test;lr>, <sip:[2001:db8::1]:5060;lr;transport=ws>",
            );
        }
        let mut frame = b.build().to_string();
        if extras & 0x80 != 0 {
            splice_header(&mut frame, raw);
        }
        Some(frame)
    }

    fn notify(&mut self, pick: u8, state: u8, body: u8, raw: &str) -> Option<String> {
        let is_sub = |m: &&Message| m.method() == Some(&Method::Subscribe);
        let subs = self.sent.iter().filter(is_sub).count();
        if subs == 0 {
            return None;
        }
        let n = self.next();
        let k = subs - 1 - usize::from(pick) % subs;
        let sub = self.sent.iter().filter(is_sub).nth(k)?;
        let target = sub
            .contact_list()
            .ok()
            .and_then(|c| c.first().map(|c| c.uri.clone()))
            .unwrap_or_else(|| Uri::parse(AOR).expect("aor"));
        let to = sub
            .header(HeaderName::From)
            .unwrap_or("<sip:x@y>")
            .to_owned();
        let call_id = sub.header(HeaderName::CallId).unwrap_or("x").to_owned();
        let sub_state = [
            "active;expires=600",
            "pending",
            "terminated;reason=timeout",
            "terminated;reason=rejected",
            "terminated",
            "active;expires=0",
            "terminated;reason=deactivated",
            "bogus;;",
        ][usize::from(state & 7)];
        let event = match state >> 3 & 3 {
            0 | 1 => "service-settings",
            2 => "presence",
            _ => "Service-Settings;id=1",
        };
        let (ct, text) = match body % 5 {
            0 => (
                Some("application/service-settings+xml"),
                SETTINGS_XML.to_owned(),
            ),
            1 => (None, String::new()),
            2 => (Some("text/plain"), "not xml".to_owned()),
            3 => (
                Some("application/service-settings+xml"),
                "<service-settings xmlns=\"urn:oma:xml:im:service-settings\"/>".to_owned(),
            ),
            _ => (Some("application/service-settings+xml"), raw.to_owned()),
        };
        let mut b = MessageBuilder::request(Method::Notify, target)
            .header(
                HeaderName::Via,
                format!("SIP/2.0/WSS core.invalid;branch=z9hG4bKn{n}"),
            )
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, format!("<{AOR}>;tag=srvn{}", state >> 5))
            .header(HeaderName::To, to)
            .header(HeaderName::CallId, call_id)
            .header(HeaderName::CSeq, format!("{n} NOTIFY"))
            .header(HeaderName::Event, event)
            .header(HeaderName::SubscriptionState, sub_state)
            .header(HeaderName::Contact, "<sip:core.imsip.test;transport=ws>");
        if state & 0x80 != 0 {
            b = b.header(HeaderName::RecordRoute, "<sip:p1.imsip.test;lr>");
        }
        Some(b.body(ct, text).build().to_string())
    }

    fn incoming(&mut self, kind: u8, raw: &str) -> String {
        let n = self.next();
        let method = [
            "MESSAGE", "OPTIONS", "INFO", "MESSAGE", "NOTIFY", "ACK", "BYE", "MESSAGE",
        ][usize::from(kind & 7)];
        let ruri = match kind >> 3 & 3 {
            0 | 1 => AOR,
            2 => "tel:+15551234",
            _ => "sips:alice@imsip.test",
        };
        let mut frame = format!(
            "{method} {ruri} SIP/2.0\r\n\
             Via: SIP/2.0/WSS core.invalid;branch=z9hG4bKi{n}\r\n\
             Max-Forwards: 70\r\n\
             From: \"Bob, the \\\"builder\\\"\" <sip:bob@imsip.test>;tag=b{n}\r\n\
             To: <{AOR}>\r\n\
             Call-ID: in{}@core.invalid\r\n\
             CSeq: {} {method}\r\n",
            n >> (kind >> 5 & 1), // sometimes the same Call-ID twice: duplicates
            1 + (kind >> 6 & 1),
        );
        if kind & 0x80 != 0 {
            frame.push_str(raw);
            frame.push_str("\r\nContent-Length: 0\r\n\r\n");
        } else {
            frame.push_str("Content-Type: text/plain;charset=UTF-8\r\n");
            frame.push_str(&format!("Content-Length: {}\r\n\r\n{raw}", raw.len()));
        }
        frame
    }

    /// Loses the flow and lets time pass until nothing can be pending; then every
    /// OpId must have completed exactly once.
    pub fn finish(&mut self) {
        for _ in 0..3 {
            self.step(&Step::Disconnected);
            self.step(&Step::Advance(3_600_000));
        }
        self.step(&Step::Disconnected);
        let missing: Vec<OpId> = self
            .ops
            .iter()
            .filter(|(_, n)| **n != 1)
            .map(|(op, _)| *op)
            .collect();
        assert!(missing.is_empty(), "never completed: {missing:?}");
    }
}

/// Inserts `raw` as extra header text just before the empty line ending the headers.
fn splice_header(frame: &mut String, raw: &str) {
    if let Some(at) = frame.find("\r\n\r\n") {
        frame.insert_str(at + 2, &format!("{raw}\r\n"));
    }
}

/// Decodes a fuzzer's bytes into a configuration and a list of steps.
pub struct Bytes<'a>(pub &'a [u8]);
impl Bytes<'_> {
    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }
    pub fn string(&mut self) -> Option<String> {
        let n = usize::from(self.u8()?).min(self.0.len());
        let (s, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(String::from_utf8_lossy(s).into_owned())
    }
    pub fn step(&mut self) -> Option<Step> {
        const STATUSES: [u16; 16] = [
            100, 200, 202, 401, 407, 403, 404, 408, 412, 423, 481, 489, 500, 503, 180, 604,
        ];
        const DELAYS: [u64; 8] = [0, 1, 499, 5_000, 10_001, 32_000, 300_000, 3_600_000];
        Some(match self.u8()? % 20 {
            0 => Step::Register,
            1 => Step::Unregister,
            2 => Step::Publish(self.u8()?),
            3 => Step::Remove,
            4 => Step::Fetch,
            5 => Step::Watch,
            6 => Step::Unwatch,
            7 => Step::SendMessage {
                to: match self.u8()? % 4 {
                    0 => "sip:bob@imsip.test".into(),
                    1 => "tel:+15551234".into(),
                    _ => self.string()?,
                },
                body: {
                    // Now and then not UTF-8: the binary-frame path (RFC 7118 §4.2).
                    let mut body = self.string()?.into_bytes();
                    if self.u8()? & 3 == 0 {
                        body.push(0xff);
                    }
                    body
                },
                content_type: match self.u8()? % 3 {
                    0 => None,
                    1 => Some("text/plain".into()),
                    _ => Some(self.string()?),
                },
            },
            8 => match self.u8()? {
                0..=7 => Step::Close,
                _ => Step::FireTimer,
            },
            9 => Step::Connected,
            10 => Step::Disconnected,
            11 => Step::Advance(DELAYS[usize::from(self.u8()? & 7)]),
            12 => Step::Advance(u64::from(self.u16()?) * 64),
            13 => match self.u8()? & 1 {
                0 => Step::Raw(self.string()?),
                _ => {
                    let mut bytes = self.string()?.into_bytes();
                    let at = usize::from(self.u16()?) % (bytes.len() + 1);
                    bytes.insert(at, 0xff);
                    Step::RawBinary(bytes)
                }
            },
            14..=16 => Step::Reply {
                pick: self.u8()?,
                status: STATUSES[usize::from(self.u8()? & 15)],
                extras: self.u8()?,
                raw: self.string()?,
            },
            17 => Step::Notify {
                pick: self.u8()?,
                state: self.u8()?,
                body: self.u8()?,
                raw: self.string()?,
            },
            18 => Step::Incoming {
                kind: self.u8()?,
                raw: self.string()?,
            },
            _ => Step::FireTimer,
        })
    }
}

/// The whole fuzz case: configuration, steps, then [`Driver::finish`].
pub fn run_bytes(data: &[u8]) {
    let mut b = Bytes(data);
    let (Some(variant), Some(seed)) = (b.u8(), b.u16()) else {
        return;
    };
    let mut d = Driver::new(u64::from(seed), variant);
    let mut steps = 0;
    while let Some(s) = b.step() {
        d.step(&s);
        steps += 1;
        if steps > 400 {
            break;
        }
    }
    d.finish();
}
