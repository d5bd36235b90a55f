//! The MSRP side of `ImClientCore`: a WebSocket per MSRP session (subprotocol
//! `msrp`, RFC 7977), the commands of large messages and chat sessions, and the
//! client's events as JS objects.

use super::client::{message_head, trace, Action, ImClientCore, Shared, State};
use super::error::from_ua;
use super::obj::{Fields, Obj};
use crate::client::{ChannelId, ChatEvent, Done, Event};
use crate::msrp::session::Input as MsrpInput;
use crate::ua::UaError;
use js_sys::{Promise, Reflect, Uint8Array};
use std::rc::Weak;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, MessageEvent, WebSocket};

/// One MSRP session's socket and its handlers; dropping it detaches them and closes
/// the socket.
pub(super) struct MsrpSocket {
    channel: ChannelId,
    ws: WebSocket,
    _open: Closure<dyn FnMut(JsValue)>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _gone: Closure<dyn FnMut(JsValue)>,
}

impl Drop for MsrpSocket {
    fn drop(&mut self) {
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {}).into_js_value();
        let ignore = ignore.unchecked_ref();
        self.ws.set_onopen(Some(ignore));
        self.ws.set_onmessage(Some(ignore));
        self.ws.set_onclose(Some(ignore));
        self.ws.set_onerror(Some(ignore));
        let _ = self.ws.close();
    }
}

/// Feeds an MSRP socket's news to the client (deferred when the state is held).
fn msrp_input(weak: &Weak<Shared>, channel: ChannelId, first: Vec<Action>, input: Input) {
    if let Some(s) = weak.upgrade() {
        s.with(first, move |st| {
            let now = st.now();
            let input = match &input {
                Input::Connected => MsrpInput::Connected,
                Input::Bytes(b) => MsrpInput::Frame(b),
                Input::Gone => {
                    st.msrp_sockets.retain(|m| m.channel != channel);
                    MsrpInput::Disconnected
                }
            };
            st.client.handle_msrp(now, channel, input);
        });
    }
}

/// An MSRP socket event, owned (it crosses into a deferred closure).
enum Input {
    Connected,
    Bytes(Vec<u8>),
    Gone,
}

/// What a trace shows of an MSRP frame: its text, a binary body summarised.
fn msrp_trace(direction: &str, bytes: &[u8]) -> Action {
    let text = match core::str::from_utf8(bytes) {
        Ok(t) => t.to_owned(),
        Err(_) => {
            // Headers are text; a binary body is shown by its size.
            let head = bytes
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(bytes.len(), |i| i + 4);
            let head = String::from_utf8_lossy(bytes.get(..head).unwrap_or(bytes));
            format!("{head}({} bytes of binary body)", bytes.len() - head.len())
        }
    };
    match trace(direction, &text) {
        Action::Emit(kind, detail) => {
            let _ = Reflect::set(&detail, &"protocol".into(), &"msrp".into());
            Action::Emit(kind, detail)
        }
        other => other,
    }
}

impl State {
    pub(super) fn connect_msrp(&mut self, channel: ChannelId, url: &str) {
        self.msrp_sockets.retain(|m| m.channel != channel);
        let w = self.weak.clone();
        let open = Closure::new(move |_: JsValue| {
            msrp_input(&w, channel, Vec::new(), Input::Connected);
        });
        let w = self.weak.clone();
        let message = Closure::new(move |ev: MessageEvent| {
            let data = ev.data();
            let bytes = match data.as_string() {
                Some(t) => t.into_bytes(),
                None => Uint8Array::new(&data).to_vec(),
            };
            let first = vec![msrp_trace("in", &bytes)];
            msrp_input(&w, channel, first, Input::Bytes(bytes));
        });
        let w = self.weak.clone();
        let gone = Closure::new(move |_: JsValue| {
            msrp_input(&w, channel, Vec::new(), Input::Gone);
        });
        let made = match self.web_socket() {
            Some(ctor) => {
                let args = js_sys::Array::of2(&JsValue::from_str(url), &"msrp".into());
                Reflect::construct(&ctor, &args).map(JsCast::unchecked_into::<WebSocket>)
            }
            None => WebSocket::new_with_str(url, "msrp"),
        };
        match made {
            Ok(ws) => {
                ws.set_binary_type(BinaryType::Arraybuffer);
                ws.set_onopen(Some(open.as_ref().unchecked_ref()));
                ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
                ws.set_onclose(Some(gone.as_ref().unchecked_ref()));
                ws.set_onerror(Some(gone.as_ref().unchecked_ref()));
                self.msrp_sockets.push(MsrpSocket {
                    channel,
                    ws,
                    _open: open,
                    _message: message,
                    _gone: gone,
                });
            }
            Err(_) => {
                let now = self.now();
                self.client
                    .handle_msrp(now, channel, MsrpInput::Disconnected);
            }
        }
    }

    pub(super) fn send_msrp(
        &mut self,
        channel: ChannelId,
        bytes: &[u8],
        actions: &mut Vec<Action>,
    ) {
        actions.push(msrp_trace("out", bytes));
        if let Some(m) = self.msrp_sockets.iter().find(|m| m.channel == channel) {
            // Binary: bodies are bytes (RFC 7977 §4.2 allows either kind of frame). A
            // copy out of wasm memory: a socket may keep what it is given (Node's `ws`
            // compressing with permessage-deflate) while that memory is reused.
            let _ =
                m.ws.send_with_array_buffer(&Uint8Array::from(bytes).buffer());
        }
    }

    pub(super) fn close_msrp(&mut self, channel: ChannelId) {
        self.msrp_sockets.retain(|m| m.channel != channel);
    }

    pub(super) fn client_event(&mut self, e: Event, actions: &mut Vec<Action>) {
        let (kind, detail) = match e {
            Event::Ua(e) => return self.event(e, actions),
            Event::Completed { op, result } => {
                self.tags.retain(|(id, _)| *id != op.0);
                let at = self.pending.iter().position(|(id, ..)| *id == op.0);
                if let Ok(Done::ChatOpened { chat, .. }) = &result {
                    // Other tabs of a shared client that show this invitation learn it
                    // was answered.
                    let o = Obj::new();
                    o.num("chat", chat.0 as f64).str("type", "opened");
                    actions.push(Action::Emit("chat", o.done()));
                }
                if let Some((_, resolve, reject)) = at.map(|i| self.pending.swap_remove(i)) {
                    actions.push(match result {
                        Ok(d) => Action::Settle(resolve, done(d)),
                        Err(e) => Action::Settle(reject, from_ua(&e)),
                    });
                }
                return;
            }
            Event::Progress {
                op,
                to,
                bytes_sent,
                total,
            } => {
                let o = Obj::new();
                let tag = self.tags.iter().find(|(id, _)| *id == op.0);
                o.opt_str("tag", tag.map(|(_, t)| t.as_str()))
                    .num("transfer", op.0 as f64)
                    .str("to", &to)
                    .num("bytesSent", bytes_sent as f64)
                    .num("total", total as f64);
                ("progress", o.done())
            }
            Event::LargeMessage(m) => {
                let o = message_head(&m.from, m.display_name.as_deref(), &m.to, &m.content_type);
                o.set("body", &body(&m.content_type, m.body))
                    .opt_bool("deferred", Some(false))
                    .opt_bool("largeMessage", Some(true));
                ("message", o.done())
            }
            Event::Invitation {
                chat,
                from,
                display_name,
            } => {
                let o = Obj::new();
                o.num("chat", chat.0 as f64)
                    .str("from", &from)
                    .opt_str("displayName", display_name.as_deref());
                ("invitation", o.done())
            }
            Event::Chat { chat, event } => {
                let o = Obj::new();
                o.num("chat", chat.0 as f64);
                match event {
                    ChatEvent::Message {
                        message_id,
                        content_type,
                        body: b,
                    } => {
                        o.str("type", "message")
                            .str("messageId", &message_id)
                            .str("contentType", &content_type)
                            .set("body", &body(&content_type, b));
                    }
                    ChatEvent::Composing { state, last_active } => {
                        o.str("type", "composing").str("state", state.as_str());
                        if let Some(t) = last_active {
                            o.str("lastActive", &crate::message::date::iso8601(t));
                        }
                    }
                    ChatEvent::Report {
                        message_id,
                        delivered,
                        code,
                        reason,
                    } => {
                        o.str("type", "report")
                            .str("messageId", &message_id)
                            .str("status", if delivered { "delivered" } else { "failed" })
                            .opt_num("code", code.map(f64::from))
                            .opt_str("reason", (!reason.is_empty()).then_some(reason.as_str()));
                    }
                    ChatEvent::Ended { reason } => {
                        o.str("type", "ended").str("reason", reason.as_str());
                    }
                }
                ("chat", o.done())
            }
        };
        actions.push(Action::Emit(kind, detail));
    }
}

/// A body for JS: a string for `text/*` (UTF-8, lossy), a `Uint8Array` otherwise.
fn body(content_type: &str, bytes: Vec<u8>) -> JsValue {
    let bare = content_type.trim_start();
    if bare.len() >= 5 && bare[..5].eq_ignore_ascii_case("text/") {
        JsValue::from_str(&String::from_utf8_lossy(&bytes))
    } else {
        Uint8Array::from(bytes.as_slice()).into()
    }
}

fn done(d: Done) -> JsValue {
    let o = Obj::new();
    match d {
        Done::LargeMessageSent { bytes } => {
            o.num("status", 200.0)
                .str("reason", "OK")
                .opt_bool("largeMessage", Some(true))
                .num("bytes", bytes as f64);
        }
        Done::ChatOpened { chat, peer } => {
            o.num("chat", chat.0 as f64).str("peer", &peer);
        }
        Done::ChatSent { message_id } => {
            o.str("messageId", &message_id);
        }
        Done::ChatClosed => return JsValue::UNDEFINED,
    }
    o.done()
}

/// A body from JS: a string (sent as UTF-8) or a `Uint8Array`.
pub(super) fn body_bytes(body: &JsValue) -> Result<Vec<u8>, UaError> {
    match body.as_string() {
        Some(s) => Ok(s.into_bytes()),
        None if body.is_instance_of::<Uint8Array>() => Ok(Uint8Array::new(body).to_vec()),
        None => Err(UaError::BadInput(
            "body: must be a string or a Uint8Array".into(),
        )),
    }
}

fn chat_id(chat: &JsValue) -> Result<ChannelId, UaError> {
    chat.as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n < 9e15)
        .map(|n| ChannelId(n as u64))
        .ok_or_else(|| UaError::BadInput("chat: not a chat session id".into()))
}

/// `{ contentType, tag? }` (default `text/plain;charset=UTF-8`); `tag` where `tagged`.
fn send_options(options: &JsValue, tagged: bool) -> Result<(String, Option<String>), UaError> {
    let plain = || "text/plain;charset=UTF-8".to_owned();
    if options.is_undefined() || options.is_null() {
        return Ok((plain(), None));
    }
    let keys: &[&str] = if tagged {
        &["contentType", "tag"]
    } else {
        &["contentType"]
    };
    let f = Fields::new(options, "options", keys)?;
    let tag = if tagged { f.string("tag")? } else { None };
    Ok((f.string("contentType")?.unwrap_or_else(plain), tag))
}

fn string(value: &JsValue, name: &str) -> Result<String, UaError> {
    value
        .as_string()
        .ok_or_else(|| UaError::BadInput(format!("{name}: must be a string")))
}

#[wasm_bindgen]
impl ImClientCore {
    /// Sends `body` in OMA IM large-message mode (an INVITE setting up an MSRP
    /// session through the relay); resolves `{ status, reason, largeMessage, bytes }`
    /// once the success report came. `options.tag` is echoed in its `progress` events.
    #[wasm_bindgen(js_name = sendLargeMessage)]
    pub fn send_large_message(&self, to: JsValue, body: JsValue, options: JsValue) -> Promise {
        let mut tagged = None;
        let p = self.command(&mut |c, now| {
            let to = string(&to, "to")?;
            let bytes = body_bytes(&body)?;
            let (ct, tag) = send_options(&options, true)?;
            let op = c.send_large_message(now, &to, &ct, bytes);
            tagged = tag.map(|t| (op.0, t));
            Ok(op)
        });
        if let Some(t) = tagged {
            // Not when the op is over already (refused at once).
            self.with_state(|st| {
                if st.pending.iter().any(|(id, ..)| *id == t.0) {
                    st.tags.push(t);
                }
            });
        }
        p
    }

    /// Invites `to` to a chat session; resolves `{ chat, peer }`. With
    /// `options.tag`, a `chat` event `{ type: 'inviting', chat, tag }` comes at once:
    /// the id `closeChat` takes to cancel the invitation while it rings.
    #[wasm_bindgen(js_name = startChat)]
    pub fn start_chat(&self, to: JsValue, options: JsValue) -> Promise {
        let mut inviting = None;
        let p = self.command(&mut |c, now| {
            let tag = if options.is_undefined() || options.is_null() {
                None
            } else {
                Fields::new(&options, "options", &["tag"])?.string("tag")?
            };
            let (op, chat) = c.start_chat(now, &string(&to, "to")?);
            inviting = tag.map(|t| (chat, t));
            Ok(op)
        });
        if let Some((chat, tag)) = inviting {
            let o = Obj::new();
            o.num("chat", chat.0 as f64)
                .str("type", "inviting")
                .str("tag", &tag);
            self.emit_now("chat", &o.done());
        }
        p
    }

    /// Accepts the invitation `chat`; resolves `{ chat, peer }`.
    #[wasm_bindgen(js_name = acceptChat)]
    pub fn accept_chat(&self, chat: JsValue) -> Promise {
        self.command(&mut |c, now| Ok(c.accept_chat(now, chat_id(&chat)?)))
    }

    /// Refuses the invitation `chat` (`status` default 603).
    #[wasm_bindgen(js_name = rejectChat)]
    pub fn reject_chat(&self, chat: JsValue, status: JsValue) -> Promise {
        self.immediate(&mut |c, now| {
            let status = match status.as_f64() {
                None if status.is_undefined() => 603,
                Some(s) if s.fract() == 0.0 && (300.0..700.0).contains(&s) => s as u16,
                _ => return Err(UaError::BadInput("status: must be 300 to 699".into())),
            };
            c.reject_chat(now, chat_id(&chat)?, status)
        })
    }

    /// Sends a message in the chat session; resolves `{ messageId }`.
    #[wasm_bindgen(js_name = chatSend)]
    pub fn chat_send(&self, chat: JsValue, body: JsValue, options: JsValue) -> Promise {
        self.command(&mut |c, now| {
            let bytes = body_bytes(&body)?;
            let (ct, _) = send_options(&options, false)?;
            Ok(c.chat_send(now, chat_id(&chat)?, &ct, bytes))
        })
    }

    /// Our typing state in the chat session (RFC 3994 inside MSRP).
    #[wasm_bindgen(js_name = chatComposing)]
    pub fn chat_composing(&self, chat: JsValue, active: JsValue) -> Promise {
        self.immediate(&mut |c, now| {
            let active = active
                .as_bool()
                .ok_or_else(|| UaError::BadInput("active: must be a boolean".into()))?;
            c.chat_composing(now, chat_id(&chat)?, active)
        })
    }

    /// Ends the chat session (BYE, CANCEL or 603 as it stands).
    #[wasm_bindgen(js_name = closeChat)]
    pub fn close_chat(&self, chat: JsValue) -> Promise {
        self.command(&mut |c, now| Ok(c.close_chat(now, chat_id(&chat)?)))
    }
}
