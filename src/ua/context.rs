//! What every part of the user agent shares for one step: the clock, the
//! configuration, our local identity, the output queue, the transaction table,
//! the credentials and the timer table. The agent lends them out as a [`Ctx`]
//! for each call into a part; the parts own everything else.

use super::api::{Event, Millis, OpId, Outcome, Output};
use super::config::Config;
use super::credentials::CredentialStore;
use super::error::UaError;
use super::timers::{Timer, TimerTable};
use super::transaction::{ClientTx, Req, Transactions, Usage};
use crate::auth::RandomSource;
use crate::message::{HeaderName, Message, MessageBuilder, Method, NameAddr, Uri};
use std::collections::VecDeque;

/// Methods we answer (RFC 3261 §20.5 Allow).
pub(super) const ALLOW: &str = "MESSAGE, NOTIFY, OPTIONS";
/// Our option tags (RFC 3261 §20.37).
pub(super) const SUPPORTED: &str = "path, outbound, gruu";

/// Local facts: ours, or learnt from the registrar.
#[derive(Debug)]
pub(super) struct Local {
    /// `WS` or `WSS` (RFC 7118 §5).
    pub transport: &'static str,
    /// The `.invalid` host of our Via and Contact (RFC 7118 §5.2).
    pub via_host: String,
    /// Our Contact URI.
    pub contact_uri: String,
    /// The `+sip.instance` URN.
    pub instance: String,
    /// The registrar's URI.
    pub registrar: Uri,
    /// The User-Agent header value.
    pub user_agent: String,
    /// Service-Route of the last registration, as `<uri>` Route values.
    pub service_route: Vec<String>,
    /// Our public GRUU, when assigned.
    pub pub_gruu: Option<String>,
    /// The registrar negotiated outbound (`Require: outbound`, RFC 5626 §4.2.1).
    pub outbound: bool,
}

impl Local {
    /// The Contact of requests outside REGISTER: the pub-gruu when assigned, else
    /// our contact with `;ob` when outbound was negotiated (RFC 5626 §4.3).
    pub fn dialog_contact(&self) -> String {
        match &self.pub_gruu {
            Some(g) => format!("<{g}>"),
            None if self.outbound => format!("<{};ob>", self.contact_uri),
            None => format!("<{}>", self.contact_uri),
        }
    }
}

/// The shared state lent to a part for one call.
pub(super) struct Ctx<'a> {
    pub now: Millis,
    pub cfg: &'a Config,
    pub local: &'a mut Local,
    pub rng: &'a mut dyn RandomSource,
    pub out: &'a mut VecDeque<Output>,
    pub txs: &'a mut Transactions,
    pub creds: &'a mut CredentialStore,
    pub timers: &'a mut TimerTable,
    /// The flow is open: requests may be sent.
    pub connected: bool,
}

impl Ctx<'_> {
    pub fn emit(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    pub fn complete(&mut self, op: OpId, result: Result<Outcome, UaError>) {
        self.emit(Event::Completed { op, result });
    }

    pub fn transmit(&mut self, frame: String) {
        self.out.push_back(Output::Transmit(frame));
    }

    pub fn token(&mut self, n: usize) -> String {
        token(self.rng, n)
    }

    pub fn fraction(&mut self) -> f64 {
        fraction(self.rng)
    }

    /// The wait after `failures` consecutive failures (RFC 5626 §4.5):
    /// `min(max, base · 2^failures)`, randomised to 50–100 % so that many clients
    /// do not come back in step.
    pub fn backoff(&mut self, failures: u32) -> Millis {
        let base = self.cfg.reconnect_min_delay.max(1);
        let max = self.cfg.reconnect_max_delay.max(base);
        let wait = base.saturating_mul(1u64 << failures.min(30)).min(max);
        wait / 2 + (self.fraction() * (wait / 2) as f64) as Millis
    }

    /// `"Display" <aor>;tag=...`
    pub fn own_from(&self, tag: &str) -> String {
        let mut na = NameAddr::new(self.cfg.aor.clone());
        na.display = self.cfg.display_name.clone();
        na.params.push("tag", Some(tag), false);
        na.to_string()
    }

    /// `"Display" <aor>` for P-Preferred-Identity.
    pub fn identity(&self) -> String {
        let mut na = NameAddr::new(self.cfg.aor.clone());
        na.display = self.cfg.display_name.clone();
        na.to_string()
    }

    /// Sends `req` as a new client transaction owned by `usage`; returns its id.
    pub fn send(&mut self, req: Req, usage: Usage) -> u64 {
        self.send_round(req, usage, 0)
    }

    /// Sends `req` again after a challenge (new branch; the caller set the CSeq).
    pub fn resend(&mut self, tx: ClientTx) -> u64 {
        self.send_round(tx.req, tx.usage, tx.auth_rounds.saturating_add(1))
    }

    fn send_round(&mut self, req: Req, usage: Usage, auth_rounds: u8) -> u64 {
        let branch = format!("z9hG4bK{}", self.token(16));
        let mut b = MessageBuilder::request(req.method.clone(), req.ruri.clone());
        b.push_header(
            HeaderName::Via,
            format_args!(
                "SIP/2.0/{} {};branch={};rport",
                self.local.transport, self.local.via_host, branch
            ),
        );
        b.push_header(HeaderName::MaxForwards, 70);
        for r in &req.route {
            b.push_header(HeaderName::Route, r);
        }
        b.push_header(HeaderName::From, &req.from);
        b.push_header(HeaderName::To, &req.to);
        b.push_header(HeaderName::CallId, &req.call_id);
        b.push_header(
            HeaderName::CSeq,
            format_args!("{} {}", req.cseq, req.method),
        );
        for (n, v) in &req.headers {
            b.push_header(n.clone(), v);
        }
        let body = req.body.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
        let answers = self
            .creds
            .authorize(req.method.as_str(), req.ruri.as_str(), body, self.rng);
        let is_register = req.method == Method::Register;
        if answers.is_empty() && is_register && self.cfg.ims_initial_authorization {
            if let Some(v) = self.creds.initial_authorization(&self.local.registrar) {
                b.push_header(HeaderName::Authorization, v);
            }
        }
        let mut carried = Vec::with_capacity(answers.len());
        for (name, value, c) in answers {
            b.push_header(name, value);
            carried.push(c);
        }
        b.push_header(HeaderName::UserAgent, &self.local.user_agent);
        let msg = match &req.body {
            Some((ct, bytes)) => b.body(Some(ct), bytes.clone()).build(),
            None => b.build(),
        };
        self.transmit(msg.to_string());
        let id = self.txs.next_id();
        self.timers.set(
            Timer::Transaction(id),
            self.now + self.cfg.transaction_timeout,
        );
        self.txs.push(ClientTx {
            id,
            branch,
            req,
            usage,
            carried,
            auth_rounds,
        });
        id
    }

    /// Answers a request (RFC 3261 §8.2.6), adding `extra` headers.
    pub fn respond(
        &mut self,
        req: &Message,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, String)],
    ) {
        let tag = self.token(10);
        let mut b = MessageBuilder::reply(req, status, reason, Some(&tag));
        for (n, v) in extra {
            b.push_header(n.clone(), v);
        }
        b.push_header(HeaderName::UserAgent, &self.local.user_agent);
        let frame = b.build().to_string();
        self.transmit(frame);
    }
}

/// A random token of lowercase letters and digits (tags, branches, Call-IDs).
pub(super) fn token(rng: &mut dyn RandomSource, n: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut buf = vec![0u8; n];
    rng.fill(&mut buf);
    buf.iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A uniformly distributed fraction in [0, 1).
pub(super) fn fraction(rng: &mut dyn RandomSource) -> f64 {
    let mut b = [0u8; 4];
    rng.fill(&mut b);
    u32::from_le_bytes(b) as f64 / (u32::MAX as f64 + 1.0)
}

/// A version-4 UUID URN (RFC 4122 §4.4) for `+sip.instance`.
pub(super) fn uuid_urn(rng: &mut dyn RandomSource) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `UaError::Rejected` from a final response.
pub(super) fn rejected(msg: &Message, status: u16) -> UaError {
    UaError::Rejected {
        status,
        reason: msg.reason().unwrap_or("").to_owned(),
        retry_after: retry_after(msg),
    }
}

/// The Retry-After seconds of a response.
pub(super) fn retry_after(msg: &Message) -> Option<u32> {
    msg.retry_after().ok().flatten().map(|r| r.seconds)
}

/// Whether a failure is worth retrying by itself: no answer, a lost flow, or
/// 408/480/500/503/504 (RFC 5626 §4.5 lists the flow failures; RFC 3261 §21.5
/// the transient server errors).
pub(super) fn is_transient(err: &UaError) -> bool {
    match err {
        UaError::Timeout | UaError::Transport => true,
        UaError::Rejected {
            status,
            retry_after,
            ..
        } => matches!(status, 408 | 480 | 500 | 503 | 504) || retry_after.is_some(),
        _ => false,
    }
}
