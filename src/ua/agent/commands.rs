//! The app's commands. Each starts an operation (an [`OpId`]) that completes
//! exactly once with [`Event::Completed`], moves the clock to `now`, and leaves the
//! outputs to drain with [`UserAgent::poll_output`].

use super::super::api::*;
use super::super::config::PublishPolicy;
use super::super::error::UaError;
use super::super::messager::{target_uri, Messager};
use super::super::transaction::{Notice, Usage};
use super::super::work::Work;
use super::UserAgent;
use crate::im::history::HistoryQuery;
use crate::settings::ServiceSettings;

impl UserAgent {
    /// Registers (or refreshes now when registered). Completes with
    /// [`Outcome::Registered`].
    pub fn register(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        if !self.refuse_if_closed(op) {
            if !self.registerer.wanted() || !self.registerer.is_registered() {
                self.policy_pending = self.cx.cfg.publish_policy != PublishPolicy::Never;
            }
            if !self.registerer.wanted() {
                // A new attempt by the app: forget an earlier refusal.
                self.cx.creds.reset();
            }
            self.flow.want(cx!(self));
            self.registerer.register(cx!(self), op);
        }
        self.run_timers();
        self.arm();
        op
    }

    /// Unregisters our contact (Expires 0). Completes with [`Outcome::Unregistered`].
    pub fn unregister(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        if !self.refuse_if_closed(op) {
            self.policy_pending = false;
            self.registerer.unregister(cx!(self), op);
            if self.registerer.state() == RegistrationState::Unregistering {
                self.flow.want(cx!(self));
            }
            // Work that waited for the registration goes now: the core decides.
            self.flush_queue();
        }
        self.run_timers();
        self.arm();
        op
    }

    /// Publishes `settings` (initial, or modify when we hold an entity-tag).
    /// Completes with [`Outcome::Published`].
    pub fn publish_settings(
        &mut self,
        now: Millis,
        settings: &ServiceSettings,
        expires: Option<u32>,
    ) -> OpId {
        let op = self.begin(now);
        let body = settings.encode();
        self.current_settings = Some(settings.clone());
        let expires = expires.unwrap_or(self.cx.cfg.publish_expires);
        self.submit(Work::Publish { body, expires, op });
        op
    }

    /// Removes our publication (Expires 0 + SIP-If-Match). Completes with
    /// [`Outcome::Removed`].
    pub fn remove_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Remove(op));
        op
    }

    /// One-shot fetch of the server's settings (SUBSCRIBE with Expires 0, one
    /// NOTIFY). Completes with [`Outcome::Settings`].
    pub fn fetch_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Fetch(op));
        op
    }

    /// Reads back the conversation history the IM Server keeps (one-shot SUBSCRIBE
    /// `Event: im-history`, see [`crate::im::history`]). Completes with
    /// [`Outcome::History`].
    /// Fails `BadInput` at once when `query.with` is not a sip:, sips: or tel: URI.
    pub fn fetch_history(&mut self, now: Millis, query: HistoryQuery) -> OpId {
        let op = self.begin(now);
        if query
            .with
            .as_deref()
            .is_some_and(|w| target_uri(w).is_err())
        {
            let e = UaError::BadInput("query.with: not a sip:, sips: or tel: URI".into());
            cx!(self).complete(op, Err(e));
            self.arm();
        } else {
            self.submit(Work::History(query, op));
        }
        op
    }

    /// Starts watching settings (SUBSCRIBE, refreshed before expiry); NOTIFYs
    /// arrive as [`Event::ServiceSettings`]. Completes with [`Outcome::Subscribed`].
    pub fn watch_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Watch(op));
        op
    }

    /// Ends the watch (SUBSCRIBE with Expires 0 in the dialog).
    pub fn unwatch_settings(&mut self, now: Millis) -> OpId {
        let op = self.begin(now);
        self.submit(Work::Unwatch(op));
        op
    }

    /// Sends a pager-mode MESSAGE (RFC 3428). `content_type` defaults to
    /// `text/plain;charset=UTF-8`. Completes with [`Outcome::MessageSent`].
    pub fn send_message(
        &mut self,
        now: Millis,
        to: &str,
        body: &[u8],
        content_type: Option<&str>,
    ) -> OpId {
        let options = MessageOptions {
            content_type: content_type.map(str::to_owned),
            ..MessageOptions::default()
        };
        self.send_message_with(now, to, body, &options)
    }

    /// Sends a pager-mode MESSAGE with `options`: with IMDN requests it is wrapped
    /// in CPIM and named by an `imdn.Message-ID` (RFC 5438 §6), reported in
    /// [`Outcome::MessageSent`]; without, the body goes as it is. Our composing
    /// state towards `to` ends (RFC 3994 §3.2: the message says it).
    pub fn send_message_with(
        &mut self,
        now: Millis,
        to: &str,
        body: &[u8],
        options: &MessageOptions,
    ) -> OpId {
        let op = self.begin(now);
        match self.messager.request(cx!(self), op, to, body, options) {
            Ok(req) => {
                self.composing.on_message_sent(cx!(self), &req.ruri);
                self.submit(Work::Message(Box::new(req), op))
            }
            Err(e) => {
                cx!(self).complete(op, Err(e));
                self.arm();
            }
        }
        op
    }

    /// Replaces [`Config::extra_headers`](crate::ua::Config::extra_headers): what is
    /// written from now on carries `headers` (checked as there; a refusal changes
    /// nothing). The registrar sees them at the next REGISTER (a refresh, or
    /// [`register`](Self::register) now).
    pub fn set_extra_headers(&mut self, headers: &[(String, String)]) -> Result<(), UaError> {
        if self.cx.is_closed() {
            return Err(UaError::InvalidState("the client is closed".into()));
        }
        // One copy in force: the checked list (the configuration's is only where it
        // started, read once by `Local::new`).
        self.cx.local.extra_headers =
            check_extra_headers(headers, OWN_HEADERS_ANY, self.cx.cfg.max_frame_size / 4)?;
        Ok(())
    }

    /// The user saw message `message_id` (an [`IncomingMessage::message_id`];
    /// `None` for a message whose sender named none): sends the display
    /// notification its sender asked for (RFC 5438 §7.2.1.2). Completes with
    /// [`Outcome::DisplayNotified`]: `sent: false` when none was due (not asked
    /// for, no id, sent already, unknown id, or the peer refuses them).
    pub fn mark_displayed(&mut self, now: Millis, message_id: Option<&str>) -> OpId {
        let op = self.begin(now);
        if self.refuse_if_closed(op) {
            self.arm();
            return op;
        }
        let Some(message_id) = message_id else {
            cx!(self).complete(op, Ok(Outcome::DisplayNotified { sent: false }));
            self.arm();
            return op;
        };
        match self.receipts.displayed(cx!(self), message_id) {
            Ok(Some(req)) => self.submit(Work::DisplayNotice(Box::new(req), op)),
            Ok(None) => {
                cx!(self).complete(op, Ok(Outcome::DisplayNotified { sent: false }));
                self.arm();
            }
            Err(e) => {
                cx!(self).complete(op, Err(e));
                self.arm();
            }
        }
        op
    }

    /// A message from `from` reached the app another way than a MESSAGE (large-
    /// message mode, over MSRP: [`crate::client`]): its "active" composition
    /// indication ends as a MESSAGE's arrival ends it (RFC 3994 §3.3).
    pub fn peer_message_arrived(&mut self, now: Millis, from: &str) {
        self.advance(now);
        self.composing.on_peer_message(cx!(self), from);
        self.arm();
    }

    /// The local user is composing a message to `to` (`active`), or stopped:
    /// composition indications as RFC 3994 §3.2 says (see [`crate::im::iscomposing`]);
    /// call it on every keystroke, it sends only what is due. Nothing is sent while
    /// not registered; a peer that refused an indication gets none more.
    pub fn set_composing(&mut self, now: Millis, to: &str, active: bool) -> Result<(), UaError> {
        self.advance(now);
        let peer = target_uri(to)?;
        if self.cx.is_closed() {
            return Err(UaError::InvalidState("the client is closed".into()));
        }
        let ready = self.ready() && self.registerer.is_registered();
        if let Some(req) = self.composing.set(cx!(self), peer, active, ready) {
            Messager::send(cx!(self), req, Usage::Notice(Notice::Composing, None));
        }
        self.run_timers();
        self.arm();
        Ok(())
    }

    /// Tells the user agent the wall-clock time: `unix_ms` (milliseconds since
    /// 1970) at its monotonic `now`. `DateTime`s of CPIM, IMDN and composition
    /// indications are derived from it; call it once at start (again after the
    /// host's clock was set). Without it, Unix time is taken to start at `now == 0`.
    pub fn set_wall_clock(&mut self, now: Millis, unix_ms: u64) {
        self.advance(now);
        self.cx.unix_offset = unix_ms.saturating_sub(self.cx.now);
    }

    /// Checks the flow at once (the page became visible, resumed from a freeze or
    /// from the back/forward cache, or the host came back online), instead of
    /// waiting for a timer the browser may have throttled: when connected, a probe
    /// (a CRLF keep-alive when outbound was negotiated, else an OPTIONS) that must be
    /// answered within [`Config::keep_alive_timeout`] or the flow is declared
    /// dead; when waiting to reconnect, reconnects now; and a registration that has
    /// expired or expires within 30 s is refreshed now.
    ///
    /// [`Config::keep_alive_timeout`]: super::super::config::Config::keep_alive_timeout
    pub fn check_flow(&mut self, now: Millis) {
        self.advance(now);
        if self.cx.is_closed() {
            return;
        }
        if self.cx.is_connected() {
            if self.flow.pong_required() {
                self.cx.out.push(Output::Transmit("\r\n\r\n".to_owned()));
            } else {
                let req = Messager::probe(cx!(self));
                cx!(self).send(req, Usage::Probe);
            }
            let within = self.cx.cfg.keep_alive_timeout;
            self.flow.expect_answer(cx!(self), within);
        } else {
            self.flow.reconnect_now(cx!(self));
        }
        self.registerer.refresh_if_near(cx!(self), 30_000);
        self.run_timers();
        self.arm();
    }

    /// The host went offline (`online == false`: no reconnect attempts, which
    /// would fail and grow the backoff) or came back (reconnect at once).
    pub fn set_online(&mut self, now: Millis, online: bool) {
        self.advance(now);
        if self.cx.is_closed() {
            return;
        }
        self.flow.set_online(cx!(self), online);
        self.run_timers();
        self.arm();
    }

    /// Closes the client: pending operations fail with `invalid_state`, the socket
    /// is closed and nothing more is sent (no BYE either: sessions are forgotten).
    pub fn close(&mut self, now: Millis) {
        self.advance(now);
        if self.cx.is_closed() {
            return;
        }
        // Sessions the peer would keep for ever end while the flow can still
        // carry it (BYE, CANCEL, 480).
        if self.cx.is_connected() {
            self.sessions.goodbye_all(cx!(self));
        }
        // Closed first, so that nothing queued is sent while pending work fails.
        let was_open = self.flow.close(cx!(self));
        let err = UaError::InvalidState("the client was closed".into());
        // Queued work first: an INVITE still queued forgets its session there, so
        // the Sessions part does not fail the same op a second time.
        for w in self.queue.drain() {
            self.drop_work(w, err.clone());
        }
        self.registerer.close(cx!(self), &err);
        self.publisher.close(cx!(self), &err);
        self.subscriber.close(cx!(self), &err);
        self.fetcher.close(cx!(self), &err);
        self.sessions.close(cx!(self), &err);
        for tx in self.cx.txs.drain() {
            if let Some(op) = tx.usage.op() {
                cx!(self).complete(op, Err(err.clone()));
            }
        }
        self.cx.timers.clear();
        if was_open {
            self.cx.out.push(Output::Close);
        }
        self.arm();
    }
}
