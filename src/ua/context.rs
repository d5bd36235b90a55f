//! What every part of the user agent shares for one step: the clock, the
//! configuration, our local identity, the output queue, the transaction table,
//! the credentials and the timer table. The agent lends them out as a [`Ctx`]
//! for each call into a part; the parts own everything else.

use super::api::{check_extra_headers, Event, Millis, OpId, Outcome, Output, OWN_HEADERS_ANY};
use super::config::Config;
use super::credentials::CredentialStore;
use super::error::UaError;
use super::flow::FlowState;
use super::timers::{Timer, TimerTable};
use super::transaction::{ClientTx, Req, Transactions, Usage};
use crate::auth::RandomSource;
use crate::message::{HeaderName, Message, MessageBuilder, Method, NameAddr, Uri};

/// Methods we answer (RFC 3261 §20.5 Allow).
pub(super) const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, MESSAGE, NOTIFY, OPTIONS";
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
    /// [`Config::extra_headers`], checked: on every request and response we write.
    pub extra_headers: Vec<(HeaderName, String)>,
    /// Service-Route of the last registration, as `<uri>` Route values.
    pub service_route: Vec<String>,
    /// Our public GRUU, when assigned.
    pub pub_gruu: Option<String>,
    /// The registrar negotiated outbound (`Require: outbound`, RFC 5626 §4.2.1).
    pub outbound: bool,
}

impl Local {
    /// Our identity for `cfg`. With a persisted instance id the Via host and the
    /// Contact are derived from it (RFC 7118 §5.2: a `.invalid` host), so a reload
    /// presents the same Contact and even a registrar without RFC 5626 support
    /// replaces the earlier binding instead of keeping a stale one.
    pub fn new(cfg: &Config, rng: &mut dyn RandomSource) -> Local {
        let instance = cfg.instance_id.clone().unwrap_or_else(|| uuid_urn(rng));
        let via_host = format!("{}.invalid", stable_token(&instance, 1, 12));
        let contact_uri = format!(
            "sip:{}@{};transport=ws",
            stable_token(&instance, 2, 8),
            via_host
        );
        let transport = if cfg.server.to_ascii_lowercase().starts_with("wss:") {
            "WSS"
        } else {
            "WS"
        };
        let registrar = cfg.registrar.clone().unwrap_or_else(|| {
            let host = cfg.aor.host().map(|h| h.to_string()).unwrap_or_default();
            Uri::parse(&format!("sip:{host}")).unwrap_or_else(|_| cfg.aor.clone())
        });
        // OMA IM requires the IM-client/OMA1.0 product token first.
        let user_agent = match &cfg.user_agent {
            Some(app) => format!("IM-client/OMA1.0 imsip/{} {app}", crate::VERSION),
            None => format!("IM-client/OMA1.0 imsip/{}", crate::VERSION),
        };
        Local {
            transport,
            via_host,
            contact_uri,
            instance,
            registrar,
            user_agent,
            // Config::validate refuses bad ones; unchecked, they are left out.
            extra_headers: check_extra_headers(
                &cfg.extra_headers,
                OWN_HEADERS_ANY,
                cfg.max_frame_size / 4,
            )
            .unwrap_or_default(),
            service_route: Vec::new(),
            pub_gruu: None,
            outbound: false,
        }
    }

    /// The Contact of dialog-forming requests and answers (our SUBSCRIBE and
    /// INVITE, our 2xx to an INVITE): with outbound negotiated, our contact with
    /// `;ob`, so that the edge proxy routes the dialog over this flow (RFC 5626
    /// §4.3, §5.4); else the pub-gruu when assigned (RFC 5627 §4.1); else our
    /// contact.
    pub fn dialog_contact(&self) -> String {
        match &self.pub_gruu {
            _ if self.outbound => format!("<{};ob>", self.contact_uri),
            Some(g) => format!("<{g}>"),
            None => format!("<{}>", self.contact_uri),
        }
    }
}

/// The shared state every part is lent for a call: the agent owns one and passes
/// `&mut` to it (one pointer, where a struct of borrows would be rebuilt at every
/// call).
pub(super) struct Ctx {
    pub now: Millis,
    pub cfg: Config,
    pub local: Local,
    pub rng: Box<dyn RandomSource>,
    pub out: Vec<Output>,
    pub txs: Transactions,
    pub creds: CredentialStore,
    pub timers: TimerTable,
    /// The flow's state (changed by the [`Flow`](super::flow::Flow) only).
    pub flow: FlowState,
    /// Unix time in ms at `now == 0` (see `UserAgent::set_wall_clock`).
    pub unix_offset: u64,
    /// Transactions whose request was too large to send, with its size: their
    /// Timer F is due at once, and fails them `bad_input` instead of `timeout`.
    pub oversize: Vec<(u64, usize)>,
}

impl Ctx {
    /// The flow is open: requests may be sent.
    pub fn is_connected(&self) -> bool {
        self.flow == FlowState::Connected
    }

    /// `close()` was called: nothing more happens.
    pub fn is_closed(&self) -> bool {
        self.flow == FlowState::Closed
    }

    /// Whether the flow is up or coming (so that a loss must be handled).
    pub fn flow_active(&self) -> bool {
        matches!(self.flow, FlowState::Connecting | FlowState::Connected)
    }

    pub fn emit(&mut self, e: Event) {
        self.out.push(Output::Event(e));
    }

    pub fn complete(&mut self, op: OpId, result: Result<Outcome, UaError>) {
        self.emit(Event::Completed { op, result });
    }

    pub fn transmit(&mut self, frame: String) {
        self.out.push(Output::Transmit(frame));
    }

    /// Sends `msg`: as text, or as a binary frame when its body is not UTF-8 (RFC
    /// 7118 §4.2; as text its bytes would be replaced, and Content-Length break) —
    /// unless the frame would be over `max_frame_size` bytes: then nothing is sent
    /// and its size is returned.
    fn transmit_within_limit(&mut self, msg: &Message) -> Result<(), usize> {
        let (len, out) = if core::str::from_utf8(msg.body()).is_ok() {
            let text = msg.to_text();
            (text.len(), Output::Transmit(text))
        } else {
            let bytes = msg.to_bytes();
            (bytes.len(), Output::TransmitBinary(bytes))
        };
        if len > self.cfg.max_frame_size {
            return Err(len);
        }
        self.out.push(out);
        Ok(())
    }

    /// Unix seconds now (for `DateTime`s, RFC 3862 §5.4 / RFC 5438).
    pub fn unix_secs(&self) -> u64 {
        self.unix_secs_at(self.now)
    }

    /// Unix seconds at the monotonic time `at`.
    pub fn unix_secs_at(&self, at: Millis) -> u64 {
        self.unix_offset.saturating_add(at) / 1000
    }

    pub fn token(&mut self, n: usize) -> String {
        token(&mut *self.rng, n)
    }

    pub fn fraction(&mut self) -> f64 {
        fraction(&mut *self.rng)
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

    /// The wait before retrying after `err`: the backoff for `failures` (RFC 5626
    /// §4.5), or its Retry-After when that is longer (RFC 3261 §20.33: the time
    /// after which the request can be retried; a `Retry-After: 0` answered at once
    /// would loop as fast as the core answers).
    pub fn retry_delay(&mut self, err: &UaError, failures: u32) -> Millis {
        let backoff = self.backoff(failures);
        match err {
            UaError::Rejected {
                retry_after: Some(s),
                ..
            } => (Millis::from(*s) * 1000).max(backoff),
            _ => backoff,
        }
    }

    /// `"Display" <aor>;tag=...`
    pub fn own_from(&self, tag: &str) -> String {
        let mut na = NameAddr::new(self.cfg.aor.clone());
        na.display = self.cfg.display_name.clone();
        na.params.push("tag", Some(tag), false);
        na.text()
    }

    /// `"Display" <aor>` for P-Preferred-Identity.
    pub fn identity(&self) -> String {
        let mut na = NameAddr::new(self.cfg.aor.clone());
        na.display = self.cfg.display_name.clone();
        na.text()
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
        self.start_tx(req, usage, branch, auth_rounds, true)
    }

    /// Sends `req` as a new client transaction on `branch`, with no credentials of
    /// its own: a CANCEL, which carries its INVITE's branch (RFC 3261 §9.1) and is
    /// answered hop by hop, so never re-sent after a challenge.
    pub fn send_on_branch(&mut self, req: Req, usage: Usage, branch: String) -> u64 {
        self.start_tx(req, usage, branch, 0, false)
    }

    fn start_tx(
        &mut self,
        req: Req,
        usage: Usage,
        branch: String,
        auth_rounds: u8,
        authorize: bool,
    ) -> u64 {
        let mut b = self.request_head(&req, &branch);
        let body = req.body.as_ref().map(|(_, b)| b.as_slice()).unwrap_or(&[]);
        let answers = if authorize {
            self.creds
                .authorize(req.method.as_str(), req.ruri.as_str(), body, &mut *self.rng)
        } else {
            Vec::new()
        };
        let is_register = req.method == Method::Register;
        if answers.is_empty() && is_register && self.cfg.ims_initial_authorization {
            if let Some(v) = self.creds.initial_authorization(&self.local.registrar) {
                b.push_header(HeaderName::Authorization, v);
            }
        }
        let mut carried = Vec::with_capacity(answers.len());
        let mut credentials = Vec::with_capacity(answers.len());
        for (name, value, c) in answers {
            b.push_header(name.clone(), &value);
            credentials.push((name, value));
            carried.push(c);
        }
        let msg = Self::finish(b, &req, &self.local.user_agent);
        let id = self.txs.next_id();
        // One SIP message per WebSocket frame (RFC 7118 §5.1), and no core takes a
        // frame over max_frame_size (64 KiB, ours included: RFC 3261 §21.5.14's
        // 513): a request that large is never sent, it fails at once, typed.
        let deadline = match self.transmit_within_limit(&msg) {
            Ok(()) => self.now + self.cfg.transaction_timeout,
            Err(len) => {
                self.oversize.push((id, len));
                self.now
            }
        };
        self.timers.set(Timer::Transaction(id), deadline);
        self.txs.push(ClientTx {
            id,
            branch,
            req,
            usage,
            carried,
            auth_rounds,
            credentials,
        });
        id
    }

    /// Sends an ACK, which is no transaction (RFC 3261 §17.1.1.3 for a non-2xx,
    /// on the INVITE's branch; §13.2.2.4 for a 2xx, on a new one, with the INVITE's
    /// `credentials`). Returns the frame, for the ACK of a retransmitted 2xx.
    pub fn send_ack(
        &mut self,
        req: &Req,
        branch: &str,
        credentials: &[(HeaderName, String)],
    ) -> String {
        let mut b = self.request_head(req, branch);
        for (n, v) in credentials {
            b.push_header(n.clone(), v);
        }
        // An INVITE's and an ACK's body is SDP: text.
        let frame = Self::finish(b, req, &self.local.user_agent).to_text();
        self.transmit(frame.clone());
        frame
    }

    /// Via, Max-Forwards, Route, From, To, Call-ID, CSeq and the owner's headers.
    fn request_head(&self, req: &Req, branch: &str) -> MessageBuilder {
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
        for (n, v) in req.headers.iter().chain(&self.local.extra_headers) {
            b.push_header(n.clone(), v);
        }
        b
    }

    /// User-Agent and the body: the message.
    fn finish(mut b: MessageBuilder, req: &Req, user_agent: &str) -> Message {
        b.push_header(HeaderName::UserAgent, user_agent);
        match &req.body {
            Some((ct, bytes)) => b.body(Some(ct), bytes.clone()).build(),
            None => b.build(),
        }
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
        self.reply(req, status, reason, Some(&tag), extra, None);
    }

    /// Answers a request with our To `tag` (none on a 100 Trying, RFC 3261
    /// §8.2.6.1; the dialog's on every response to an INVITE, §12.1.1) and an
    /// optional body `(content type, bytes)`. Returns the frame, for a
    /// retransmission.
    pub fn reply(
        &mut self,
        req: &Message,
        status: u16,
        reason: &str,
        tag: Option<&str>,
        extra: &[(HeaderName, String)],
        body: Option<(&str, &[u8])>,
    ) -> String {
        let mut b = MessageBuilder::reply(req, status, reason, tag);
        for (n, v) in extra.iter().chain(&self.local.extra_headers) {
            b.push_header(n.clone(), v);
        }
        b.push_header(HeaderName::UserAgent, &self.local.user_agent);
        let msg = match body {
            Some((ct, bytes)) => b.body(Some(ct), bytes).build(),
            None => b.build(),
        };
        let frame = msg.to_text();
        self.transmit(frame.clone());
        frame
    }
}

/// A stable token of `n` letters and digits derived from `seed` (FNV-1a), so
/// that a persisted instance id gives the same Contact on every page load.
fn stable_token(seed: &str, salt: u8, n: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt as u64;
    let mut out = String::with_capacity(n);
    for i in 0..n {
        for b in seed.bytes().chain([i as u8, salt]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        out.push(ALPHABET[(h % 36) as usize] as char);
    }
    out
}

/// A random token of lowercase letters and digits (tags, branches, Call-IDs).
pub(crate) fn token(rng: &mut dyn RandomSource, n: usize) -> String {
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

/// Each name-addr as text: whole, or (`uri_only`) its URI alone. One copy of the
/// conversion for the route sets, the contacts and the registrar's lists.
pub(super) fn texts(list: &[NameAddr], uri_only: bool) -> Vec<String> {
    let mut out = Vec::with_capacity(list.len());
    for n in list {
        out.push(if uri_only {
            n.uri.as_str().to_owned()
        } else {
            n.text()
        });
    }
    out
}

/// The route set of a dialog from a message's Record-Route (RFC 3261 §12.1.1: in
/// its order for the UAS; §12.1.2: reversed for the UAC).
pub(super) fn route_set(msg: &Message, reverse: bool) -> Vec<String> {
    let mut route = texts(&msg.record_route().unwrap_or_default(), false);
    if reverse {
        route.reverse();
    }
    route
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
        } => {
            // RFC 3261 §20.33: Retry-After on a 413, 486 or 600 says when the
            // condition ends; on a refusal (403, 404, 603) it changes nothing (§21.4.4:
            // not to be repeated).
            matches!(status, 408 | 480 | 500 | 503 | 504)
                || (retry_after.is_some() && matches!(status, 413 | 486 | 600))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contact_is_stable_for_one_instance_and_differs_between_instances() {
        let a = stable_token("urn:uuid:00000000-0000-4000-8000-000000000001", 2, 8);
        let b = stable_token("urn:uuid:00000000-0000-4000-8000-000000000001", 2, 8);
        let c = stable_token("urn:uuid:00000000-0000-4000-8000-000000000002", 2, 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 8);
    }
}
