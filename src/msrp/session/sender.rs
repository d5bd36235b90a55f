//! Sending messages (RFC 4975 §7.1.1): each body cut into chunks, each chunk a `SEND`
//! transaction, a window of chunks awaiting their responses, and the reports that
//! follow (RFC 4975 §7.1.2).
//!
//! ```text
//!            chunks written as the window allows         the last chunk acknowledged
//!   queued ─────────────────────────────────────► sending ──────────────────────────► Sent
//!     │                                              │                                 │
//!     │                                              │        Success-Report: yes ─────┤ Failure-Report yes/partial:
//!     │                                              │        REPORT 200 covering all  │ linger for a failure REPORT
//!     │                                              │              ▼                  ▼ until the report timeout
//!     │                                              │          Delivered            (gone)
//!     └──────────────────────────────────────────────┴─► SendFailed: a non-2xx response, a failure REPORT,
//!                                                        no response in time, cancel, the session's end
//! ```
//!
//! Messages go out in the order given, one after the other (a message's chunks are
//! all written before the next message's first): per direction, messages complete
//! in order. A chunk is written only when the caller polls for output and the
//! window has room, so a large body is never queued as frames all at once.
//!
//! Under `Failure-Report: no` nothing comes back; under `partial` only failures do
//! (RFC 4975 §7.1.1): such chunks count as acknowledged once written and do not
//! take a place in the window, but a failure response to a `partial` chunk still
//! fails the message.

use super::api::{Event, MessageHandle, Millis, Output, Reports, SendFailure};
use super::ranges::ByteSet;
use crate::auth::RandomSource;
use crate::msrp::{
    default_comment, ByteRange, ContinuationFlag, FailureReport, Frame, Method, MsrpError, MsrpUri,
    RequestBuilder, SuccessReport, TransactionId,
};
use std::collections::VecDeque;

/// Where chunks go: `To-Path` the relay's `Use-Path` then the peer's path (RFC 4976
/// §5.2), `From-Path` our URI.
#[derive(Debug, Clone)]
pub(super) struct Route {
    pub to_path: Vec<MsrpUri>,
    pub from: MsrpUri,
}

/// One message given to `send`.
#[derive(Debug)]
struct Outgoing {
    handle: MessageHandle,
    message_id: String,
    content_type: String,
    /// Freed once every chunk is written.
    body: Vec<u8>,
    total: u64,
    reports: Reports,
    /// Body bytes written into chunks.
    written: u64,
    /// A chunk was written (an empty body still takes one chunk).
    started: bool,
    /// Body bytes acknowledged (or written, without 200s).
    acked: u64,
    /// Chunks awaiting a 200.
    awaiting_ok: usize,
    sent: bool,
    /// What success REPORTs have acknowledged.
    delivered: ByteSet,
    /// After `Sent`: when to stop waiting for a report.
    report_deadline: Option<Millis>,
}

impl Outgoing {
    fn all_written(&self) -> bool {
        self.started && self.written == self.total
    }

    /// Whether a report may still come once every chunk is acknowledged.
    fn lingers(&self) -> bool {
        self.reports.success == SuccessReport::Yes || self.reports.failure != FailureReport::No
    }
}

/// A chunk's transaction: a small tag naming its message, never the message's data.
#[derive(Debug)]
struct ChunkTx {
    tid: TransactionId,
    message: MessageHandle,
    bytes: u64,
    /// `Failure-Report: yes`: a 200 is awaited and the chunk holds a place in the
    /// window; `partial`: only a failure may come, silence is success.
    expects_ok: bool,
    deadline: Millis,
}

/// The sending half of a session.
#[derive(Debug)]
pub(super) struct Sender {
    chunk_size: usize,
    window: usize,
    timeout: Millis,
    report_timeout: Millis,
    /// In the order given.
    messages: Vec<Outgoing>,
    transactions: Vec<ChunkTx>,
    next_handle: u64,
}

fn event(out: &mut VecDeque<Output>, e: Event) {
    out.push_back(Output::Event(e));
}

impl Sender {
    pub fn new(
        chunk_size: usize,
        window: usize,
        timeout: Millis,
        report_timeout: Millis,
    ) -> Sender {
        Sender {
            chunk_size,
            window,
            timeout,
            report_timeout,
            messages: Vec::new(),
            transactions: Vec::new(),
            next_handle: 1,
        }
    }

    /// Queues a message (the content type is checked by the caller).
    pub fn queue(
        &mut self,
        content_type: &str,
        body: Vec<u8>,
        reports: Reports,
        rng: &mut dyn RandomSource,
    ) -> MessageHandle {
        let handle = MessageHandle(self.next_handle);
        self.next_handle += 1;
        // 16 random letters and digits: an RFC 4975 §9 ident, unique in the session.
        let message_id = TransactionId::random(rng).as_str().to_owned();
        self.messages.push(Outgoing {
            handle,
            message_id,
            content_type: content_type.to_owned(),
            total: body.len() as u64,
            body,
            reports,
            written: 0,
            started: false,
            acked: 0,
            awaiting_ok: 0,
            sent: false,
            delivered: ByteSet::default(),
            report_deadline: None,
        });
        handle
    }

    /// The `Message-ID` of a message still known here.
    pub fn message_id(&self, handle: MessageHandle) -> Option<&str> {
        self.messages
            .iter()
            .find(|m| m.handle == handle)
            .map(|m| m.message_id.as_str())
    }

    /// Writes the next chunk if the window has room: `true` when something was
    /// written (or a message failed trying).
    pub fn write_next(
        &mut self,
        now: Millis,
        route: &Route,
        rng: &mut dyn RandomSource,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let waiting = self.transactions.iter().filter(|t| t.expects_ok).count();
        if waiting >= self.window {
            return false;
        }
        let Some(i) = self.messages.iter().position(|m| !m.all_written()) else {
            return false;
        };
        let chunk_size = self.chunk_size as u64;
        let Some(m) = self.messages.get_mut(i) else {
            return false;
        };
        let start = m.written;
        let end = m.total.min(start.saturating_add(chunk_size));
        let flag = if end == m.total {
            ContinuationFlag::Complete
        } else {
            ContinuationFlag::Continued
        };
        let frame = chunk_frame(m, start, end, flag, route, rng);
        let (tid, bytes) = match frame {
            Ok(written) => written,
            Err(e) => {
                let handle = m.handle;
                self.fail(handle, SendFailure::Local(e.clone()), e.to_string(), out);
                return true;
            }
        };
        out.push_back(Output::Transmit(bytes));
        m.started = true;
        m.written = end;
        let len = end - start;
        let handle = m.handle;
        if m.reports.failure == FailureReport::Yes {
            m.awaiting_ok += 1;
        } else {
            m.acked += len;
            let (bytes_sent, total) = (m.acked, m.total);
            event(
                out,
                Event::Progress {
                    message: handle,
                    bytes_sent,
                    total,
                },
            );
        }
        if m.reports.failure != FailureReport::No {
            self.transactions.push(ChunkTx {
                tid,
                message: handle,
                bytes: len,
                expects_ok: m.reports.failure == FailureReport::Yes,
                deadline: now.saturating_add(self.timeout),
            });
        }
        self.maybe_sent(handle, now, out);
        true
    }

    /// A transaction response: `false` when it answers none of our chunks.
    pub fn on_response(
        &mut self,
        now: Millis,
        response: &Frame,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(i) = self
            .transactions
            .iter()
            .position(|t| &t.tid == response.tid())
        else {
            return false;
        };
        let tx = self.transactions.swap_remove(i);
        let code = response.status_code().unwrap_or(0);
        if !(200..300).contains(&code) {
            let reason = response
                .comment()
                .or(default_comment(code))
                .unwrap_or_default()
                .to_owned();
            // RFC 4975 §10 (413 above all): the message failed; send no more of it.
            self.fail(tx.message, SendFailure::Response { code }, reason, out);
            return true;
        }
        if !tx.expects_ok {
            return true;
        }
        if let Some(m) = self.messages.iter_mut().find(|m| m.handle == tx.message) {
            m.awaiting_ok = m.awaiting_ok.saturating_sub(1);
            m.acked += tx.bytes;
            let (bytes_sent, total) = (m.acked, m.total);
            event(
                out,
                Event::Progress {
                    message: tx.message,
                    bytes_sent,
                    total,
                },
            );
            self.maybe_sent(tx.message, now, out);
        }
        true
    }

    /// A REPORT addressed to us (RFC 4975 §7.1.2): a success covering the whole
    /// message delivers it, a failure fails it. REPORTs for unknown messages, or
    /// without a readable `Status`, are dropped (REPORTs are never answered).
    pub fn on_report(&mut self, report: &Frame, out: &mut VecDeque<Output>) {
        let (Ok(Some(id)), Ok(Some(status))) = (report.message_id(), report.status()) else {
            return;
        };
        let Some(m) = self.messages.iter_mut().find(|m| m.message_id == id) else {
            return;
        };
        let handle = m.handle;
        if status.namespace != 0 || status.code != 200 {
            let reason = status
                .comment
                .clone()
                .or(default_comment(status.code).map(str::to_owned))
                .unwrap_or_default();
            let code = status.code;
            self.fail(handle, SendFailure::Report { code }, reason, out);
            return;
        }
        let (start, end) = match report.byte_range() {
            Ok(Some(r)) => (r.start, r.end.unwrap_or(m.total)),
            Ok(None) => (1, m.total),
            Err(_) => return,
        };
        if m.delivered.insert(start, end.min(m.total)).is_err() {
            return;
        }
        if m.sent && m.reports.success == SuccessReport::Yes && m.delivered.covers_all(m.total) {
            self.messages.retain(|m| m.handle != handle);
            event(out, Event::Delivered { message: handle });
        }
    }

    /// Stops a message not yet sent: `true` if it was still going. If part of it was
    /// written, a `SEND` ending with `#` tells the receiver to drop what it holds
    /// (RFC 4975 §7.1.1).
    pub fn cancel(
        &mut self,
        handle: MessageHandle,
        route: Option<&Route>,
        rng: &mut dyn RandomSource,
        out: &mut VecDeque<Output>,
    ) -> bool {
        let Some(m) = self.messages.iter().find(|m| m.handle == handle) else {
            return false;
        };
        if m.sent {
            return false;
        }
        if m.started && !m.all_written() {
            // An empty range at the next byte: the receiver learns the message ends
            // here, aborted. Its response is not awaited.
            if let Some(Ok((_, bytes))) = route
                .map(|r| chunk_frame(m, m.written, m.written, ContinuationFlag::Aborted, r, rng))
            {
                out.push_back(Output::Transmit(bytes));
            }
        }
        self.fail(handle, SendFailure::Cancelled, "cancelled".to_owned(), out);
        true
    }

    /// The earliest deadline: a chunk's response or a report wait.
    pub fn next_deadline(&self) -> Option<Millis> {
        let tx = self.transactions.iter().map(|t| t.deadline).min();
        let report = self.messages.iter().filter_map(|m| m.report_deadline).min();
        match (tx, report) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Acts on every deadline passed by `now`.
    pub fn handle_timeout(&mut self, now: Millis, out: &mut VecDeque<Output>) {
        while let Some(i) = self.transactions.iter().position(|t| t.deadline <= now) {
            let tx = self.transactions.swap_remove(i);
            if tx.expects_ok {
                let reason = format!("no response within {} ms", self.timeout);
                self.fail(tx.message, SendFailure::Timeout, reason, out);
            }
            // `partial`: silence means the chunk was accepted.
        }
        while let Some(i) = self
            .messages
            .iter()
            .position(|m| m.report_deadline.is_some_and(|at| at <= now))
        {
            let m = self.messages.remove(i);
            if m.reports.success == SuccessReport::Yes {
                let reason = format!("no success report within {} ms", self.report_timeout);
                event(
                    out,
                    Event::SendFailed {
                        message: m.handle,
                        status: SendFailure::ReportTimeout,
                        reason,
                    },
                );
            }
        }
    }

    /// Fails every message still awaiting something (the session ends); messages
    /// only lingering for a failure REPORT that may never come are dropped quietly.
    pub fn fail_all(&mut self, status: &SendFailure, reason: &str, out: &mut VecDeque<Output>) {
        self.transactions.clear();
        for m in self.messages.drain(..) {
            if !m.sent || m.reports.success == SuccessReport::Yes {
                event(
                    out,
                    Event::SendFailed {
                        message: m.handle,
                        status: status.clone(),
                        reason: reason.to_owned(),
                    },
                );
            }
        }
    }

    /// Emits `Sent` once every chunk of the message is written and acknowledged,
    /// then lets it wait for its reports (or forgets it).
    fn maybe_sent(&mut self, handle: MessageHandle, now: Millis, out: &mut VecDeque<Output>) {
        let report_timeout = self.report_timeout;
        let Some(i) = self.messages.iter().position(|m| m.handle == handle) else {
            return;
        };
        let Some(m) = self.messages.get_mut(i) else {
            return;
        };
        if m.sent || !m.all_written() || m.awaiting_ok > 0 {
            return;
        }
        m.sent = true;
        m.body = Vec::new();
        event(out, Event::Sent { message: handle });
        if m.reports.success == SuccessReport::Yes && m.delivered.covers_all(m.total) {
            // The success REPORT came before our last 200.
            self.messages.remove(i);
            event(out, Event::Delivered { message: handle });
        } else if m.lingers() {
            m.report_deadline = Some(now.saturating_add(report_timeout));
        } else {
            self.messages.remove(i);
        }
    }

    /// Drops a message and its transactions, and says why.
    fn fail(
        &mut self,
        handle: MessageHandle,
        status: SendFailure,
        reason: String,
        out: &mut VecDeque<Output>,
    ) {
        self.transactions.retain(|t| t.message != handle);
        let before = self.messages.len();
        self.messages.retain(|m| m.handle != handle);
        if self.messages.len() < before {
            event(
                out,
                Event::SendFailed {
                    message: handle,
                    status,
                    reason,
                },
            );
        }
    }
}

/// One chunk of `m`: body bytes `start..end` (0-based, end exclusive), as
/// `Byte-Range: start+1-end/total` (RFC 4975 §7.1.1: 1-based, end inclusive), with
/// a transaction id whose end-line is not in the body.
fn chunk_frame(
    m: &Outgoing,
    start: u64,
    end: u64,
    flag: ContinuationFlag,
    route: &Route,
    rng: &mut dyn RandomSource,
) -> Result<(TransactionId, Vec<u8>), MsrpError> {
    let body = usize::try_from(start)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(s, e)| m.body.get(s..e))
        .unwrap_or_default();
    let tid = TransactionId::for_body(rng, body);
    let range = ByteRange::new(start + 1, Some(end), Some(m.total))?;
    let mut request = RequestBuilder::new(
        Method::Send,
        tid.clone(),
        route.to_path.clone(),
        vec![route.from.clone()],
    )
    .message_id(m.message_id.as_str())
    .byte_range(range);
    // Only what differs from the RFC 4975 defaults is written.
    if m.reports.success == SuccessReport::Yes {
        request = request.success_report(SuccessReport::Yes);
    }
    if m.reports.failure != FailureReport::Yes {
        request = request.failure_report(m.reports.failure);
    }
    let bytes = request
        .body(&m.content_type, body.to_vec())
        .continuation(flag)
        .encode()?;
    Ok((tid, bytes))
}
