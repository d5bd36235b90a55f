//! `ImClientCore`: one [`Client`] (the user agent and its MSRP sessions) driven by
//! a WebSocket, one more per MSRP session, one timer and the app's commands.
//!
//! Every entry (a command, a socket event, the timer) does the same: feed the user
//! agent while holding the state, drain `poll_output` (send frames, open or close the
//! socket, re-arm the timer), release the state, and only then run JS callbacks
//! (events, promise settlement), so a listener may call back into the client.

use super::chat::MsrpSocket;
use super::details as d;
use super::error::{from_ua, js_error};
use super::obj::{check, field, read, write, Body, Js, Val};
use super::options::{self, Options};
use super::settings;
use super::socket::{self, Handlers};
use crate::auth::RandomSource;
use crate::client::{Client, Output};
use crate::im::imdn::{DispositionRequest, Kind};
use crate::ua::Fifo;
use crate::ua::{
    ConnectionState, Event, Input, MessageOptions, OpId, Outcome, PolicyOutcome, PublicationState,
    Registration, RegistrationState, SettingsSource, UaError,
};
use js_sys::{Function, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use web_sys::WebSocket;

#[wasm_bindgen]
extern "C" {
    // Globals of every JS context the package supports (page, worker, Node 20+).
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    fn date_now() -> f64;
    #[wasm_bindgen(catch, js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]) -> Result<JsValue, JsValue>;
}

/// Milliseconds on the monotonic clock.
fn now() -> u64 {
    performance_now().max(0.0) as u64
}

/// `crypto.getRandomValues`, never `Math.random`.
struct CryptoRandom;

impl RandomSource for CryptoRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        // At most 65 536 bytes per call (Web Crypto); the core asks for a few.
        for chunk in buf.chunks_mut(65_536) {
            // Checked to work in `ImClientCore::new`.
            let _ = get_random_values(chunk);
        }
    }
}

/// The four socket handlers and the timer callback: made once, reused for every
/// socket, freed by `close()`.
struct Callbacks {
    open: Closure<dyn FnMut(JsValue)>,
    message: Closure<dyn FnMut(JsValue)>,
    gone: Closure<dyn FnMut(JsValue)>,
    timer: Closure<dyn FnMut()>,
}

pub(super) struct State {
    pub(super) client: Client,
    aor: String,
    web_socket: Option<Function>,
    socket: Option<WebSocket>,
    /// One WebSocket per MSRP session (subprotocol `msrp`).
    pub(super) msrp_sockets: Vec<MsrpSocket>,
    /// The shared state itself, for the handlers of MSRP sockets made later.
    pub(super) weak: Weak<Shared>,
    timer: Option<JsValue>,
    callbacks: Option<Callbacks>,
    /// OpId → (resolve, reject) of the promise returned for it.
    /// The promises of operations in flight, by op id (few at a time: a vector).
    pub(super) pending: Vec<(u64, Function, Function)>,
    /// The app's tags of large messages in flight, by op id: echoed in `progress`.
    pub(super) tags: Vec<(u64, String)>,
}

/// JS work decided while the state was held, run after releasing it.
pub(super) enum Action {
    Emit(&'static str, JsValue),
    Settle(Function, JsValue),
}

type Deferred = (Vec<Action>, Box<dyn FnOnce(&mut State)>);

pub(super) struct Shared {
    state: RefCell<State>,
    /// Work that arrived while the state was held (a socket or constructor that
    /// calls back synchronously): run by the holder before it lets go.
    deferred: RefCell<Vec<Deferred>>,
    /// `emit(type, detail)`: the shim dispatches a `CustomEvent`.
    emit: Function,
}

/// The engine under the shim's `ImClient`. Not meant to be used directly: the
/// package's `ImClient` wraps it with `EventTarget` semantics and `ImError`.
#[wasm_bindgen]
pub struct ImClientCore {
    shared: Rc<Shared>,
}

pub(super) fn trace(direction: &str, text: &str, protocol: Option<&'static str>) -> Action {
    let detail = write(&d::Trace {
        direction,
        text,
        at: date_now(),
        protocol,
    });
    Action::Emit("trace", detail)
}

fn registration_state(s: RegistrationState) -> &'static str {
    s.as_str()
}

/// The registrar's answer: what `register()` resolves with, and the base of the
/// `registration` event.
fn registration_info(r: &Registration) -> d::RegistrationDetail<'_> {
    d::RegistrationDetail {
        expires: r.expires,
        contacts: &r.contacts,
        service_route: &r.service_route,
        associated_uris: &r.associated_uris,
        pub_gruu: r.pub_gruu.as_deref(),
        state: None,
        retry_in: None,
        error: None,
    }
}

/// Milliseconds as the seconds the JS API counts in.
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

pub(super) fn outcome(aor: &str, o: Outcome) -> JsValue {
    match o {
        Outcome::Registered(r) => write(&d::RegistrationDetail {
            expires: Some(r.expires.unwrap_or(0)),
            ..registration_info(&r)
        }),
        Outcome::Unregistered | Outcome::Removed => JsValue::UNDEFINED,
        Outcome::Published { etag, expires } => write(&d::Published { etag, expires }),
        Outcome::Settings(None) => JsValue::NULL,
        Outcome::Settings(Some(doc)) => settings::doc_to_js(&doc, aor),
        Outcome::History(entries) => write(
            &entries
                .into_iter()
                .map(|e| d::HistoryMessage {
                    id: e.id,
                    direction: e.direction.as_str(),
                    peer: e.peer,
                    time: crate::message::date::iso8601(e.time),
                    content_type: e.content_type,
                    body: Body::utf8_or_bytes(e.body),
                })
                .collect::<Vec<_>>(),
        ),
        Outcome::Subscribed { expires } => write(&d::Subscribed { expires }),
        Outcome::MessageSent {
            status,
            reason,
            message_id,
        } => write(&d::MessageSent {
            status,
            reason,
            message_id,
            large_message: None,
            bytes: None,
        }),
        Outcome::DisplayNotified { sent } => write(&d::DisplayNotified { sent }),
        // The client (src/client) owns every SIP session: never the app's ops.
        Outcome::SessionEstablished { .. } | Outcome::SessionEnded => JsValue::UNDEFINED,
    }
}

impl State {
    /// The monotonic time for the user agent; tells it the wall clock as well (for
    /// CPIM and IMDN `DateTime`s), which the host may have set since.
    pub(super) fn now(&mut self) -> u64 {
        let now = now();
        self.client.set_clock(now, date_now().max(0.0) as u64);
        now
    }

    /// Drains the user agent's outputs into socket and timer work (done here) and
    /// JS callbacks (returned).
    fn drain(&mut self, actions: &mut Vec<Action>) {
        while let Some(out) = self.client.poll_output() {
            match out {
                Output::MsrpConnect { channel, url } => self.connect_msrp(channel, &url),
                Output::MsrpTransmit(channel, bytes) => self.send_msrp(channel, &bytes, actions),
                Output::MsrpClose(channel) => self.close_msrp(channel),
                Output::Transmit(frame) => {
                    actions.push(trace("out", &frame, None));
                    if let Some(s) = &self.socket {
                        // A send on a socket that is going away throws; its close
                        // event tells the user agent.
                        let _ = s.send_with_str(&frame);
                    }
                }
                Output::TransmitBinary(frame) => {
                    actions.push(trace("out", &binary_text(&frame), None));
                    if let Some(s) = &self.socket {
                        // A copy out of wasm memory (a socket may keep what it is given).
                        let _ = s.send_with_array_buffer(&Uint8Array::from(&frame[..]).buffer());
                    }
                }
                Output::Connect => self.connect(),
                Output::Close => self.drop_socket(),
                Output::Timeout(at) => self.arm(at),
                Output::Event(e) => self.client_event(e, actions),
            }
        }
    }

    /// The WebSocket constructor the app gave, if any.
    pub(super) fn web_socket(&self) -> Option<Function> {
        self.web_socket.clone()
    }

    fn connect(&mut self) {
        self.drop_socket();
        let Some(cb) = &self.callbacks else { return };
        let handlers = Handlers {
            open: cb.open.as_ref(),
            message: cb.message.as_ref(),
            gone: cb.gone.as_ref(),
        };
        let server = self.client.ua_ref().server();
        match socket::open(self.web_socket.as_ref(), server, "sip", &handlers) {
            Some(ws) => self.socket = Some(ws),
            None => {
                // No WebSocket in this context, the URL was refused, or the app's
                // socket threw: the flow failed (the user agent reports it and
                // retries with backoff).
                let now = self.now();
                self.client.handle_input(now, Input::Disconnected);
            }
        }
    }

    /// Detaches our handlers and closes the socket ([`socket::close`]).
    fn drop_socket(&mut self) {
        if let Some(ws) = self.socket.take() {
            socket::close(&ws);
        }
    }

    fn arm(&mut self, at: u64) {
        if let Some(h) = self.timer.take() {
            clear_timeout(&h);
        }
        if let Some(cb) = &self.callbacks {
            // setTimeout takes at most 2^31 - 1 ms (larger values fire at once).
            // One more millisecond: `now()` is floored and timers may fire early.
            let delay = (at.saturating_sub(now()) + 1).min(0x7fff_ffff) as f64;
            self.timer = Some(set_timeout(cb.timer.as_ref().unchecked_ref(), delay));
        }
    }

    pub(super) fn event(&mut self, e: Event, actions: &mut Vec<Action>) {
        let (kind, detail) = match e {
            Event::Completed { op, result } => {
                let at = self.pending.iter().position(|(id, ..)| *id == op.0);
                if let Some((_, resolve, reject)) = at.map(|i| self.pending.swap_remove(i)) {
                    actions.push(match result {
                        Ok(o) => Action::Settle(resolve, outcome(&self.aor, o)),
                        Err(e) => Action::Settle(reject, from_ua(&e)),
                    });
                }
                return;
            }
            Event::Connection(c) => {
                let (state, retry_in) = match c {
                    ConnectionState::Connecting => ("connecting", None),
                    ConnectionState::Connected => ("connected", None),
                    ConnectionState::Disconnected { retry_in } => {
                        ("disconnected", retry_in.map(seconds))
                    }
                };
                let server = self.client.ua_ref().server();
                let detail = d::Connection {
                    state,
                    retry_in,
                    server,
                };
                ("connection", write(&detail))
            }
            Event::Registration(r) => {
                let detail = d::RegistrationDetail {
                    state: Some(registration_state(r.state)),
                    retry_in: r.retry_in.map(seconds),
                    error: r.error.as_ref().map(|e| Js(from_ua(e))),
                    ..registration_info(&r)
                };
                ("registration", write(&detail))
            }
            Event::Message(m) => {
                let detail = d::Message {
                    from: &m.from,
                    display_name: m.display_name.as_deref(),
                    to: &m.to,
                    content_type: &m.content_type,
                    body: Body::utf8_or_bytes(m.body),
                    deferred: m.deferred,
                    date_time: m.date_time.as_deref(),
                    message_id: m.message_id.as_deref(),
                    imdn: (!m.imdn.is_empty()).then(|| imdn_names(m.imdn)),
                    large_message: None,
                    headers: Some(&m.headers),
                };
                ("message", write(&detail))
            }
            Event::Imdn(n) => {
                let detail = d::Imdn {
                    message_id: &n.message_id,
                    from: &n.from,
                    kind: imdn_kind(n.kind),
                    status: n.status.as_str(),
                    at: &n.at,
                };
                ("imdn", write(&detail))
            }
            Event::Composing(c) => {
                let detail = d::Composing {
                    from: &c.from,
                    state: c.state.as_str(),
                    last_active: c.last_active.as_deref(),
                    content_type: c.content_type.as_deref(),
                };
                ("composing", write(&detail))
            }
            Event::ServiceSettings { settings, source } => {
                let detail = d::ServiceSettings {
                    settings: Some(settings::view_object(
                        crate::settings::EntitySettings::from_document(&settings, &self.aor),
                    )),
                    source: match source {
                        SettingsSource::Notify => "notify",
                        SettingsSource::Adopted => "adopted",
                    },
                };
                ("servicesettings", write(&detail))
            }
            Event::ServiceSettingsRemoved => {
                let detail = d::ServiceSettings {
                    settings: None,
                    source: "notify",
                };
                ("servicesettings", write(&detail))
            }
            Event::WatchTerminated {
                reason,
                resubscribe,
                retry_after,
            } => {
                let detail = d::WatchTerminated {
                    reason: reason.as_deref(),
                    resubscribe,
                    retry_after,
                };
                ("watchterminated", write(&detail))
            }
            Event::Publication(p) => {
                let detail = d::Publication {
                    state: match p.state {
                        PublicationState::Published => "published",
                        PublicationState::Retrying => "retrying",
                        PublicationState::Lost => "lost",
                        PublicationState::Removed => "removed",
                    },
                    etag: p.etag.as_deref(),
                    expires: p.expires,
                    retry_in: p.retry_in.map(seconds),
                    error: p.error.as_ref().map(|e| Js(from_ua(e))),
                };
                ("publication", write(&detail))
            }
            Event::Policy(p) => {
                let (outcome, etag, error) = match p {
                    PolicyOutcome::Published { etag } => ("published", Some(etag), None),
                    PolicyOutcome::Adopted => ("adopted", None, None),
                    PolicyOutcome::NothingToPublish => ("nothing-to-publish", None, None),
                    PolicyOutcome::Failed(e) => ("failed", None, Some(Js(from_ua(&e)))),
                };
                (
                    "policy",
                    write(&d::Policy {
                        outcome,
                        etag,
                        error,
                    }),
                )
            }
            Event::Dropped { reason } => ("dropped", write(&d::Dropped { reason })),
            // The client (src/client) keeps every SIP session to itself.
            Event::Session(_) => return,
        };
        actions.push(Action::Emit(kind, detail));
    }
}

impl Shared {
    /// Runs `f` on the state, drains the outputs (and any work deferred meanwhile),
    /// releases the state, then runs the JS callbacks. Gives `f` back when the
    /// state is held further up the stack.
    // Not generic (a `dyn` step): one copy of this body in the wasm, not one per
    // command.
    pub(super) fn run(
        &self,
        first: Vec<Action>,
        f: &mut dyn FnMut(&mut State),
    ) -> Result<(), Vec<Action>> {
        let mut actions = first;
        {
            let Ok(mut st) = self.state.try_borrow_mut() else {
                return Err(actions);
            };
            f(&mut st);
            st.drain(&mut actions);
            loop {
                let next = self.deferred.borrow_mut().pop_front();
                let Some((first, g)) = next else { break };
                actions.extend(first);
                g(&mut st);
                st.drain(&mut actions);
            }
        }
        for a in actions {
            match a {
                Action::Emit(kind, detail) => {
                    let _ = self.emit.call2(&JsValue::UNDEFINED, &kind.into(), &detail);
                }
                Action::Settle(f, v) => {
                    let _ = f.call1(&JsValue::UNDEFINED, &v);
                }
            }
        }
        Ok(())
    }

    /// [`Shared::run`], deferring `f` when the state is held.
    pub(super) fn with(&self, first: Vec<Action>, f: impl FnOnce(&mut State) + 'static) {
        let mut once = Some(f);
        let ran = self.run(first, &mut |st| {
            if let Some(f) = once.take() {
                f(st)
            }
        });
        if let (Err(first), Some(f)) = (ran, once) {
            self.deferred.borrow_mut().push((first, Box::new(f)));
        }
    }

    fn input(&self, first: Vec<Action>, input: Input<'static>) {
        self.with(first, move |st| {
            let now = st.now();
            st.client.handle_input(now, input);
        });
    }

    fn frame(&self, text: String) {
        let first = vec![trace("in", &text, None)];
        self.with(first, move |st| {
            let now = st.now();
            st.client.handle_input(now, Input::Frame(&text));
        });
    }

    /// A binary frame whose bytes are not UTF-8: a message with a binary body (RFC
    /// 7118 §4.2), traced with its body replaced by its size.
    fn binary_frame(&self, bytes: Vec<u8>) {
        let first = vec![trace("in", &binary_text(&bytes), None)];
        self.with(first, move |st| {
            let now = st.now();
            st.client.handle_input(now, Input::BinaryFrame(&bytes));
        });
    }
}

/// What a trace shows of a frame that is not UTF-8: its header section as text,
/// then the size of the binary body.
pub(super) fn binary_text(bytes: &[u8]) -> String {
    let head = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes.len(), |i| i + 4);
    let mut text = String::from_utf8_lossy(bytes.get(..head).unwrap_or(bytes)).into_owned();
    text.push('(');
    let mut n = String::new();
    crate::message::text::push_decimal(&mut n, (bytes.len() - head) as u64);
    text.push_str(&n);
    text.push_str(" bytes of binary body)");
    text
}

fn make_callbacks(weak: &Weak<Shared>) -> Callbacks {
    let w = weak.clone();
    let open = Closure::new(move |_: JsValue| {
        if let Some(s) = w.upgrade() {
            s.input(Vec::new(), Input::Connected);
        }
    });
    let w = weak.clone();
    let message = Closure::new(move |ev: JsValue| {
        let Some(s) = w.upgrade() else { return };
        // A binary frame (ArrayBuffer, or a Node Buffer from `ws`): text when it is
        // UTF-8, else a message with a binary body (RFC 7118 §4.2).
        match socket::data(&ev) {
            Some(Ok(text)) => s.frame(text),
            Some(Err(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => s.frame(text),
                Err(e) => s.binary_frame(e.into_bytes()),
            },
            None => s.with(
                vec![trace("in", "(message event without readable data)", None)],
                |_| {},
            ),
        }
    });
    let w = weak.clone();
    let gone = Closure::new(move |_: JsValue| {
        if let Some(s) = w.upgrade() {
            s.with(Vec::new(), |st| {
                // onerror and onclose both land here: only the first counts.
                st.drop_socket();
                let now = st.now();
                st.client.handle_input(now, Input::Disconnected);
            });
        }
    });
    let w = weak.clone();
    let timer = Closure::new(move || {
        if let Some(s) = w.upgrade() {
            s.input(Vec::new(), Input::Timeout);
        }
    });
    Callbacks {
        open,
        message,
        gone,
        timer,
    }
}

impl Drop for State {
    fn drop(&mut self) {
        // Garbage-collected without close(): leave nothing that calls freed closures.
        self.drop_socket();
        if let Some(h) = self.timer.take() {
            clear_timeout(&h);
        }
    }
}

#[wasm_bindgen]
impl ImClientCore {
    /// Checks `options` (throws a `bad_input` error naming the field) and makes an
    /// idle client: nothing is sent before the first command.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue, emit: Function) -> Result<ImClientCore, JsValue> {
        let Options {
            config,
            msrp,
            web_socket,
        } = options::read(&options).map_err(|e| from_ua(&e))?;
        if web_socket.is_none()
            && !Reflect::get(&js_sys::global(), &"WebSocket".into()).is_ok_and(|w| w.is_function())
        {
            return Err(from_ua(&UaError::BadInput(
                "webSocket: this JS context has no global WebSocket (Node < 22): pass one, \
                 e.g. the `ws` package's WebSocket"
                    .into(),
            )));
        }
        if get_random_values(&mut [0u8; 16]).is_err() {
            return Err(js_error(
                "invalid_state",
                "crypto.getRandomValues is not available in this JS context",
                None,
                None,
            ));
        }
        let aor = config.aor.as_str().to_owned();
        let state = State {
            client: Client::new(config, msrp, Box::new(|| Box::new(CryptoRandom))),
            aor,
            web_socket,
            socket: None,
            msrp_sockets: Vec::new(),
            weak: Weak::new(),
            timer: None,
            callbacks: None,
            pending: Vec::new(),
            tags: Vec::new(),
        };
        let shared = Rc::new(Shared {
            state: RefCell::new(state),
            deferred: RefCell::default(),
            emit,
        });
        let cbs = make_callbacks(&Rc::downgrade(&shared));
        shared.state.borrow_mut().callbacks = Some(cbs);
        shared.state.borrow_mut().weak = Rc::downgrade(&shared);
        Ok(ImClientCore { shared })
    }

    pub(super) fn command(
        &self,
        f: &mut dyn FnMut(&mut Client, u64) -> Result<OpId, UaError>,
    ) -> Promise {
        let mut result = None;
        let _ = self.shared.run(Vec::new(), &mut |st| {
            let now = st.now();
            result = Some(match f(&mut st.client, now) {
                Err(e) => Promise::reject(&from_ua(&e)),
                Ok(op) => {
                    let pending = &mut st.pending;
                    // The executor runs synchronously, before the outputs (and the
                    // op's completion, when immediate) are drained.
                    Promise::new(&mut |resolve, reject| {
                        pending.push((op.0, resolve, reject));
                    })
                }
            });
        });
        result.unwrap_or_else(|| {
            Promise::reject(&js_error("invalid_state", "the client is busy", None, None))
        })
    }

    /// Registers; resolves with `{expires, contacts, serviceRoute, associatedUris}`.
    pub fn register(&self) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().register(now)))
    }

    /// Unregisters (Expires 0).
    pub fn unregister(&self) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().unregister(now)))
    }

    /// Publishes settings; resolves with `{etag, expires}`.
    #[wasm_bindgen(js_name = publishServiceSettings)]
    pub fn publish_service_settings(&self, settings: JsValue, options: JsValue) -> Promise {
        let aor = self.aor();
        self.command(&mut |c, now| {
            let doc = settings::from_js(&settings, "settings", Some(&aor))?;
            let mut o: PublishOptions = read(&options, "options")?;
            let expires = field(o.expires.take(), "options.expires")?;
            let expires = check::integer("options.expires", expires, 1, u32::MAX)?;
            Ok(c.ua().publish_settings(now, &doc, expires))
        })
    }

    /// Removes our publication.
    #[wasm_bindgen(js_name = removeServiceSettings)]
    pub fn remove_service_settings(&self) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().remove_settings(now)))
    }

    /// One-shot fetch; resolves with a settings object or `null`.
    #[wasm_bindgen(js_name = fetchServiceSettings)]
    pub fn fetch_service_settings(&self) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().fetch_settings(now)))
    }

    /// Checks the flow at once (page visible again, resumed, back online): see
    /// `UserAgent::check_flow`.
    #[wasm_bindgen(js_name = checkFlow)]
    pub fn check_flow(&self) {
        let _ = self.shared.run(Vec::new(), &mut |st| {
            let now = st.now();
            st.client.ua().check_flow(now);
        });
    }

    /// The host went offline (`false`) or came back (`true`).
    #[wasm_bindgen(js_name = setOnline)]
    pub fn set_online(&self, online: bool) {
        let _ = self.shared.run(Vec::new(), &mut |st| {
            let now = st.now();
            st.client.ua().set_online(now, online);
        });
    }

    /// Reads back the conversation history the IM Server keeps (`query`: `{ with?,
    /// since?, limit? }`); resolves with the messages, oldest first.
    #[wasm_bindgen(js_name = fetchHistory)]
    pub fn fetch_history(&self, query: JsValue) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().fetch_history(now, history_query(&query)?)))
    }

    /// Starts watching; resolves with `{expires}`.
    #[wasm_bindgen(js_name = watchServiceSettings)]
    pub fn watch_service_settings(&self) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().watch_settings(now)))
    }

    /// Ends the watch.
    #[wasm_bindgen(js_name = unwatchServiceSettings)]
    pub fn unwatch_service_settings(&self) -> Promise {
        self.command(&mut |c, now| Ok(c.ua().unwatch_settings(now)))
    }

    /// Sends a pager-mode MESSAGE; `body` is a string (sent as UTF-8) or a
    /// `Uint8Array`. Resolves with `{status, reason}`.
    #[wasm_bindgen(js_name = sendMessage)]
    pub fn send_message(&self, to: JsValue, body: JsValue, options: JsValue) -> Promise {
        self.command(&mut |c, now| {
            let to = to
                .as_string()
                .ok_or_else(|| UaError::BadInput("to: must be a string".into()))?;
            let bytes = match body.as_string() {
                Some(s) => s.into_bytes(),
                None if body.is_instance_of::<Uint8Array>() => Uint8Array::new(&body).to_vec(),
                None => {
                    return Err(UaError::BadInput(
                        "body: must be a string or a Uint8Array".into(),
                    ))
                }
            };
            let mut o: SendOptions = read(&options, "options")?;
            let mut opts = MessageOptions {
                content_type: field(o.content_type.take(), "options.contentType")?,
                ..MessageOptions::default()
            };
            if let Some(names) = field(o.imdn.take(), "options.imdn")? {
                opts.imdn = imdn_request(&names)?;
            }
            if let Some(lines) = field(o.extra_headers.take(), "options.extraHeaders")? {
                opts.extra_headers = super::options::header_lines(lines, "options.extraHeaders")?;
            }
            Ok(c.send_message(now, &to, bytes, &opts))
        })
    }

    /// Sends the display notification the sender of a received message asked for
    /// (`message`: the `message` event's detail, or its `messageId`). Resolves with
    /// `{ sent }`: `false` when none was due.
    #[wasm_bindgen(js_name = markDisplayed)]
    pub fn mark_displayed(&self, message: JsValue) -> Promise {
        self.command(&mut |c, now| {
            // A detail without a messageId: its sender asked for nothing (README's
            // example calls this for every message shown).
            let id = match message.as_string() {
                Some(id) => Some(id),
                None if message.is_object() => Reflect::get(&message, &"messageId".into())
                    .ok()
                    .and_then(|v| v.as_string()),
                None => {
                    return Err(UaError::BadInput(
                        "message: must be a message event's detail or a messageId string".into(),
                    ))
                }
            };
            Ok(c.ua().mark_displayed(now, id.as_deref()))
        })
    }

    /// The local user is composing to `to` (`active` true; call it on every
    /// keystroke) or stopped (false). Resolves at once; indications go out as RFC
    /// 3994 says.
    #[wasm_bindgen(js_name = setComposing)]
    pub fn set_composing(&self, to: JsValue, active: JsValue) -> Promise {
        self.immediate(&mut |c, now| match (to.as_string(), active.as_bool()) {
            (Some(to), Some(active)) => c.ua().set_composing(now, &to, active),
            (None, _) => Err(UaError::BadInput("to: must be a string".into())),
            (_, None) => Err(UaError::BadInput("active: must be a boolean".into())),
        })
    }

    /// Replaces the `extraHeaders` option (`'Name: value'` strings) for what is sent
    /// from now on. Resolves at once.
    #[wasm_bindgen(js_name = setExtraHeaders)]
    pub fn set_extra_headers(&self, headers: JsValue) -> Promise {
        self.immediate(&mut |c, _| {
            let lines = super::options::string_list(&headers)
                .ok_or_else(|| UaError::BadInput("headers: must be an array of strings".into()))?;
            c.ua()
                .set_extra_headers(&super::options::header_lines(lines, "headers")?)
        })
    }

    /// A command that is done at once: a promise already settled.
    pub(super) fn immediate(
        &self,
        f: &mut dyn FnMut(&mut Client, u64) -> Result<(), UaError>,
    ) -> Promise {
        let mut result = Err(UaError::InvalidState("the client is busy".into()));
        let _ = self.shared.run(Vec::new(), &mut |st| {
            let now = st.now();
            result = f(&mut st.client, now);
        });
        match result {
            Ok(()) => Promise::resolve(&JsValue::UNDEFINED),
            Err(e) => Promise::reject(&from_ua(&e)),
        }
    }

    /// Closes: pending operations reject with `invalid_state`, the socket closes,
    /// the timer is cancelled and the callbacks are freed. Later commands reject.
    pub fn close(&self) {
        self.shared.with(Vec::new(), |st| {
            let now = st.now();
            st.client.close(now);
            st.msrp_sockets.clear();
            // Free the callbacks first: the outputs still to drain (Close, a last
            // Timeout) then find nothing to re-arm.
            st.callbacks = None;
            st.drop_socket();
            if let Some(h) = st.timer.take() {
                clear_timeout(&h);
            }
        });
    }

    /// The `+sip.instance` URN in use: persist it and pass it back as `instanceId`.
    #[wasm_bindgen(getter, js_name = instanceId)]
    pub fn instance_id(&self) -> String {
        self.read(|st| st.client.ua_ref().instance_id().to_owned())
    }

    /// The registration Call-ID: persist it and pass it back as `callId`.
    #[wasm_bindgen(getter, js_name = callId)]
    pub fn call_id(&self) -> String {
        self.read(|st| st.client.ua_ref().registration_call_id().to_owned())
    }

    /// The last accepted AKA sequence number (hex), to persist as `aka.sqn`.
    #[wasm_bindgen(getter, js_name = akaSqn)]
    pub fn aka_sqn(&self) -> Option<String> {
        self.read(|st| st.client.ua_ref().aka_sqn().map(|s| format!("{s:012x}")))
    }

    /// The last registration state and the registrar's answer.
    #[wasm_bindgen(getter)]
    pub fn registration(&self) -> JsValue {
        self.read(|st| {
            let r = st.client.ua_ref().registration();
            write(&d::RegistrationDetail {
                state: Some(registration_state(r.state)),
                ..registration_info(&r)
            })
        })
    }

    /// Dispatches an event now (the state must not be held).
    pub(super) fn emit_now(&self, kind: &str, detail: &JsValue) {
        let _ = self
            .shared
            .emit
            .call2(&JsValue::UNDEFINED, &kind.into(), detail);
    }

    /// Runs `f` on the state when it is free.
    pub(super) fn with_state(&self, f: impl FnOnce(&mut State)) {
        if let Ok(mut st) = self.shared.state.try_borrow_mut() {
            f(&mut st);
        }
    }

    fn aor(&self) -> String {
        self.read(|st| st.aor.clone())
    }

    /// Reads the state; the default when it is held further up the stack (a JS
    /// callback run while it is held, which the design avoids).
    fn read<T: Default>(&self, f: impl FnOnce(&State) -> T) -> T {
        self.shared
            .state
            .try_borrow()
            .map(|st| f(&st))
            .unwrap_or_default()
    }
}

/// `{ with?, since?, limit? }` (all optional; `since` a `Date` or milliseconds since
/// the epoch) into a history query.
/// The JS names of a disposition request: `delivery` (positive or negative
/// delivery asked), `display`, `processing`.
fn imdn_names(r: DispositionRequest) -> Vec<&'static str> {
    [
        (r.positive_delivery || r.negative_delivery, "delivery"),
        (r.display, "display"),
        (r.processing, "processing"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect()
}

/// `sendMessage`'s `imdn` option: `delivery` asks for positive and negative
/// delivery notifications, `display` and `processing` for those; the RFC 5438
/// names (`positive-delivery`, `negative-delivery`) are accepted too.
fn imdn_request(names: &[String]) -> Result<DispositionRequest, UaError> {
    let mut r = DispositionRequest::default();
    for name in names {
        match name.as_str() {
            "delivery" => {
                r.positive_delivery = true;
                r.negative_delivery = true;
            }
            "positive-delivery" => r.positive_delivery = true,
            "negative-delivery" => r.negative_delivery = true,
            "display" => r.display = true,
            "processing" => r.processing = true,
            other => {
                return Err(UaError::BadInput(format!(
                    "options.imdn: unknown notification \"{other}\" (delivery, display, processing)"
                )))
            }
        }
    }
    Ok(r)
}

fn imdn_kind(k: Kind) -> &'static str {
    match k {
        Kind::Delivery => "delivery",
        Kind::Display => "display",
        Kind::Processing => "processing",
    }
}

/// `publishServiceSettings`' options.
#[derive(serde::Deserialize)]
struct PublishOptions {
    expires: Option<Val<f64>>,
}

/// `sendMessage`'s options.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SendOptions {
    content_type: Option<Val<String>>,
    imdn: Option<Val<Vec<String>>>,
    extra_headers: Option<Val<Vec<String>>>,
}

/// `fetchHistory`'s query.
#[derive(serde::Deserialize)]
struct HistoryQuery {
    with: Option<Val<String>>,
    /// A `Date` or milliseconds since the epoch.
    since: Option<Js>,
    limit: Option<Val<f64>>,
}

fn history_query(value: &JsValue) -> Result<crate::im::history::HistoryQuery, UaError> {
    let mut q: HistoryQuery = read(value, "query")?;
    // The user agent checks it is a URI.
    let with = field(q.with.take(), "query.with")?;
    let since = match q.since {
        None => None,
        Some(Js(v)) if v.is_undefined() => None,
        Some(Js(v)) => {
            let ms = match v.dyn_ref::<js_sys::Date>() {
                Some(d) => d.get_time(),
                None => v.as_f64().unwrap_or(f64::NAN),
            };
            // ECMAScript's time values end at 8.64e15 ms (an invalid Date is NaN).
            if !ms.is_finite() || !(0.0..=8.64e15).contains(&ms) {
                return Err(UaError::BadInput(
                    "query.since: must be a Date or milliseconds since the epoch".into(),
                ));
            }
            Some((ms / 1000.0).floor() as u64)
        }
    };
    Ok(crate::im::history::HistoryQuery {
        with,
        since,
        limit: check::integer(
            "query.limit",
            field(q.limit.take(), "query.limit")?,
            1,
            10_000,
        )?,
    })
}
