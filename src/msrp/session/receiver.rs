//! Receiving messages (RFC 4975 §7.3): each `SEND` answered (§7.2), chunks put back
//! together by `Message-ID` and `Byte-Range` in whatever order they come, and the
//! success REPORT sent once a message is whole (RFC 4975 §7.1.2).
//!
//! ```text
//!   first chunk ──► partial ──► … every byte 1..total present, and the `$` chunk seen ──► Message (+ REPORT)
//!                     │
//!                     ├── a chunk ending `#` ────────────────────────────────────────────► MessageAborted(Sender)
//!                     └── over the size limit, the partial limits, too scattered: 413 ──► MessageAborted(TooLarge)
//! ```
//!
//! Memory is bounded three ways: one message's size ([`Limits::max_message_bytes`],
//! checked against the declared total and against every chunk's end), the number of
//! partial messages, and the bytes they hold together. A partial holds a buffer as
//! long as the furthest byte received, never the declared total up front. Message-IDs
//! finished lately are remembered (a bounded list) so that a repeated chunk is
//! answered but does not start the message again.

use super::api::{AbortReason, Event, Output};
use super::ranges::ByteSet;
use crate::auth::RandomSource;
use crate::msrp::{
    ByteRange, ContinuationFlag, FailureReport, Frame, Method, MsrpUri, RequestBuilder,
    ResponseBuilder, Status, SuccessReport, TransactionId,
};
use std::collections::VecDeque;

/// How many finished Message-IDs are remembered.
const RECENT: usize = 256;

/// The receiver's bounds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub max_message_bytes: u64,
    pub max_partial_messages: usize,
    pub max_buffered_bytes: usize,
}

/// A message being reassembled.
#[derive(Debug)]
struct Partial {
    message_id: String,
    content_type: String,
    /// Known from any chunk that gives it, or from the `$` chunk's end.
    total: Option<u64>,
    /// Bytes 1..=buf.len(); holes are zeros until their chunk comes.
    buf: Vec<u8>,
    received: ByteSet,
    last_seen: bool,
    success_report: SuccessReport,
    /// Where the success REPORT goes: the `From-Path` of the chunks (RFC 4975
    /// §7.1.2: the REPORT's `To-Path` is the SEND's `From-Path`).
    report_to: Vec<MsrpUri>,
}

/// How a message finished, for repeated chunks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finished {
    Delivered,
    Aborted,
    Refused,
}

/// What to answer a `SEND` with.
type Code = u16;

/// The receiving half of a session.
#[derive(Debug)]
pub(super) struct Receiver {
    limits: Limits,
    partials: Vec<Partial>,
    buffered: usize,
    recent: VecDeque<(String, Finished)>,
}

fn event(out: &mut VecDeque<Output>, e: Event) {
    out.push_back(Output::Event(e));
}

/// The transaction response to `request`, unless its `Failure-Report` says none
/// (RFC 4975 §7.1.1, §7.2: `no` takes no response, `partial` failures only). A
/// `Failure-Report` that cannot be read counts as the default, `yes`.
pub(super) fn respond(request: &Frame, code: Code, out: &mut VecDeque<Output>) {
    let policy = request.failure_report().unwrap_or_default();
    let wanted = match policy {
        FailureReport::Yes => true,
        FailureReport::Partial => code != 200,
        FailureReport::No => false,
    };
    if !wanted {
        return;
    }
    // `for_request` fails only for responses and REPORTs, which callers never pass;
    // `encode` only on values a request's own paths cannot produce.
    if let Ok(bytes) = ResponseBuilder::for_request(request, code).and_then(|r| r.encode()) {
        out.push_back(Output::Transmit(bytes));
    }
}

impl Receiver {
    pub fn new(limits: Limits) -> Receiver {
        Receiver {
            limits,
            partials: Vec::new(),
            buffered: 0,
            recent: VecDeque::new(),
        }
    }

    /// Body bytes held by partial messages.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// A `SEND` addressed to us: answered, then its body put in place.
    pub fn on_send(
        &mut self,
        send: &Frame,
        local: &MsrpUri,
        rng: &mut dyn RandomSource,
        out: &mut VecDeque<Output>,
    ) {
        match self.accept(send, out) {
            Ok(done) => {
                respond(send, 200, out);
                if let Some((partial, complete)) = done {
                    self.finish(partial, complete, local, rng, out);
                }
            }
            Err(code) => respond(send, code, out),
        }
    }

    /// Frees every partial message (the session ends).
    pub fn abort_all(&mut self, out: &mut VecDeque<Output>) {
        for p in self.partials.drain(..) {
            event(
                out,
                Event::MessageAborted {
                    message_id: p.message_id,
                    reason: AbortReason::SessionEnded,
                },
            );
        }
        self.buffered = 0;
        self.recent.clear();
    }

    /// Puts the chunk in place. `Ok(Some((message, complete)))` when the message is
    /// done with (whole, or aborted), `Err(code)` for a failure response.
    fn accept(
        &mut self,
        send: &Frame,
        out: &mut VecDeque<Output>,
    ) -> Result<Option<(Partial, bool)>, Code> {
        // RFC 4975 §7.1.1: a SEND carries a Message-ID; reads that fail are 400.
        let message_id = match send.message_id() {
            Ok(Some(id)) => id.to_owned(),
            _ => return Err(400),
        };
        let body = match send.body() {
            Some(body) => body,
            // A body-less chunk that ends (`$`) or aborts (`#`) a message under way is
            // its last, empty, chunk (RFC 4975 §9: the body is optional in any SEND).
            None if send.continuation() != ContinuationFlag::Continued
                && self.partials.iter().any(|p| p.message_id == message_id) =>
            {
                &[]
            }
            // Otherwise a SEND without a body carries nothing to deliver (RFC 4975
            // §5.4, §7.1.1: one binds the connection): acknowledged only.
            None => return Ok(None),
        };
        let range = match send.byte_range() {
            Ok(r) => r.unwrap_or(ByteRange {
                start: 1,
                end: None,
                total: None,
            }),
            Err(_) => return Err(400),
        };
        let len = body.len() as u64;
        // The chunk's last byte (start - 1 for an empty chunk).
        let end = (range.start - 1).saturating_add(len);
        if range.end.is_some_and(|e| e != end) || range.total.is_some_and(|t| end > t) {
            // The Byte-Range does not describe this body.
            return Err(400);
        }
        // RFC 4975 §9: data comes with its Content-Type. Later chunks may leave it to
        // the first (as many stacks do), but a first chunk with data and none leaves
        // the message without a type: 400.
        if range.start == 1 && !body.is_empty() && send.content_type().is_none() {
            return Err(400);
        }
        match self.finished(&message_id) {
            Some(Finished::Refused) => return Err(413),
            Some(_) => return Ok(None), // a repeat of a message already done with
            None => {}
        }
        let max = self.limits.max_message_bytes;
        if range.total.is_some_and(|t| t > max) || end > max {
            return Err(self.refuse(&message_id, out));
        }
        let i = match self
            .partials
            .iter()
            .position(|p| p.message_id == message_id)
        {
            Some(i) => i,
            None => {
                if self.partials.len() >= self.limits.max_partial_messages {
                    return Err(self.refuse(&message_id, out));
                }
                self.partials.push(Partial {
                    message_id: message_id.clone(),
                    content_type: send.content_type().unwrap_or_default().to_owned(),
                    total: None,
                    buf: Vec::new(),
                    received: ByteSet::default(),
                    last_seen: false,
                    success_report: SuccessReport::No,
                    report_to: Vec::new(),
                });
                self.partials.len() - 1
            }
        };
        // `i` is an index of `partials` (found, or just pushed).
        let p = &mut self.partials[i];
        if let Some(t) = range.total {
            match p.total {
                Some(known) if known != t => return Err(400),
                _ => p.total = Some(t),
            }
        }
        // `end <= max_message_bytes`, which fits the buffer limit below, so the
        // conversions cannot truncate what is compared.
        let new_len = usize::try_from(end).unwrap_or(usize::MAX).max(p.buf.len());
        let grows_by = new_len - p.buf.len();
        if self.buffered.saturating_add(grows_by) > self.limits.max_buffered_bytes {
            return Err(self.refuse(&message_id, out));
        }
        if p.received.insert(range.start, end).is_err() {
            return Err(self.refuse(&message_id, out));
        }
        p.buf.resize(new_len, 0);
        self.buffered += grows_by;
        let from = usize::try_from(range.start - 1).unwrap_or(usize::MAX);
        if let Some(place) = p.buf.get_mut(from..from.saturating_add(body.len())) {
            place.copy_from_slice(body);
        }
        // RFC 4975 §7.1.2: the sender asks for the report on its chunks; chunks come
        // in any order, so one that asks is enough (not whichever came last).
        if send.success_report().ok() == Some(SuccessReport::Yes) {
            p.success_report = SuccessReport::Yes;
        }
        p.report_to = send.from_path().to_vec();
        if p.content_type.is_empty() {
            p.content_type = send.content_type().unwrap_or_default().to_owned();
        }
        match send.continuation() {
            ContinuationFlag::Aborted => return Ok(Some((self.take(i), false))),
            ContinuationFlag::Complete => {
                p.last_seen = true;
                if p.total.is_none() {
                    p.total = Some(end);
                }
            }
            ContinuationFlag::Continued => {}
        }
        let Some(total) = p.total else {
            return Ok(None);
        };
        if p.received.max().is_some_and(|m| m > total) {
            // An earlier chunk, sent before the total was given, reaches past it.
            return Err(self.refuse(&message_id, out));
        }
        if p.last_seen && p.received.covers_all(total) {
            return Ok(Some((self.take(i), true)));
        }
        Ok(None)
    }

    /// Delivers a whole message (and its success REPORT), or reports an abort.
    fn finish(
        &mut self,
        partial: Partial,
        complete: bool,
        local: &MsrpUri,
        rng: &mut dyn RandomSource,
        out: &mut VecDeque<Output>,
    ) {
        let Partial {
            message_id,
            content_type,
            total,
            mut buf,
            success_report,
            report_to,
            ..
        } = partial;
        if !complete {
            self.remember(&message_id, Finished::Aborted);
            event(
                out,
                Event::MessageAborted {
                    message_id,
                    reason: AbortReason::Sender,
                },
            );
            return;
        }
        self.remember(&message_id, Finished::Delivered);
        let total = total.unwrap_or(buf.len() as u64);
        buf.truncate(usize::try_from(total).unwrap_or(usize::MAX));
        // RFC 4975 §7.1.2: Status 000 200 over the whole message, to the sender's
        // From-Path. It cannot fail to encode but for a From-Path too long to echo.
        let report = (success_report == SuccessReport::Yes)
            .then(|| {
                RequestBuilder::new(
                    Method::Report,
                    TransactionId::random(rng),
                    report_to,
                    vec![local.clone()],
                )
                .message_id(message_id.as_str())
                .byte_range(ByteRange::whole(total))
                .status(&Status::new(200).with_comment("OK"))
                .encode()
                .ok()
            })
            .flatten();
        event(
            out,
            Event::Message {
                message_id,
                content_type,
                body: buf,
            },
        );
        if let Some(bytes) = report {
            out.push_back(Output::Transmit(bytes));
        }
    }

    /// Removes partial `i` from the list and from the byte count.
    fn take(&mut self, i: usize) -> Partial {
        let p = self.partials.swap_remove(i);
        self.buffered = self.buffered.saturating_sub(p.buf.len());
        p
    }

    /// A 413 (RFC 4975 §10: the receiver wants none of the message): the partial is
    /// freed and later chunks of it get 413 too.
    fn refuse(&mut self, message_id: &str, out: &mut VecDeque<Output>) -> Code {
        if let Some(i) = self
            .partials
            .iter()
            .position(|p| p.message_id == message_id)
        {
            drop(self.take(i));
        }
        self.remember(message_id, Finished::Refused);
        event(
            out,
            Event::MessageAborted {
                message_id: message_id.to_owned(),
                reason: AbortReason::TooLarge,
            },
        );
        413
    }

    fn finished(&self, message_id: &str) -> Option<Finished> {
        self.recent
            .iter()
            .find(|(id, _)| id == message_id)
            .map(|(_, f)| *f)
    }

    fn remember(&mut self, message_id: &str, how: Finished) {
        if self.recent.len() >= RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((message_id.to_owned(), how));
    }
}
