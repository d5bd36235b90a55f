//! The MSRP side of `ImClientCore`: a WebSocket per MSRP session (subprotocol
//! `msrp`, RFC 7977), the commands of large messages and chat sessions, and the
//! client's events as JS objects.

use super::client::{binary_text, trace, Action, ImClientCore, Shared, State};
use super::details as d;
use super::error::from_ua;
use super::obj::{field, read, write, Body, Val};
use super::socket::{self, Handlers};
use crate::client::{ChannelId, ChatEvent, Done, Event};
use crate::msrp::session::Input as MsrpInput;
use crate::ua::UaError;
use js_sys::{Promise, Uint8Array};
use std::rc::Weak;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;
use web_sys::WebSocket;

/// One MSRP session's socket and its handlers; dropping it detaches them and closes
/// the socket.
pub(super) struct MsrpSocket {
    channel: ChannelId,
    ws: WebSocket,
    _open: Closure<dyn FnMut(JsValue)>,
    _message: Closure<dyn FnMut(JsValue)>,
    _gone: Closure<dyn FnMut(JsValue)>,
}

impl Drop for MsrpSocket {
    fn drop(&mut self) {
        socket::close(&self.ws);
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
        // Headers are text; a binary body is shown by its size.
        Err(_) => binary_text(bytes),
    };
    trace(direction, &text, Some("msrp"))
}

impl State {
    pub(super) fn connect_msrp(&mut self, channel: ChannelId, url: &str) {
        self.msrp_sockets.retain(|m| m.channel != channel);
        let w = self.weak.clone();
        let open = Closure::new(move |_: JsValue| {
            msrp_input(&w, channel, Vec::new(), Input::Connected);
        });
        let w = self.weak.clone();
        let message = Closure::new(move |ev: JsValue| {
            let bytes = match socket::data(&ev) {
                Some(Ok(text)) => text.into_bytes(),
                Some(Err(bytes)) => bytes,
                None => {
                    // A frame that cannot be read is lost, and MSRP has no way past
                    // a lost frame: the socket is given up, as if it dropped.
                    let first = vec![msrp_trace("in", b"(message event without readable data)")];
                    return msrp_input(&w, channel, first, Input::Gone);
                }
            };
            let first = vec![msrp_trace("in", &bytes)];
            msrp_input(&w, channel, first, Input::Bytes(bytes));
        });
        let w = self.weak.clone();
        let gone = Closure::new(move |_: JsValue| {
            msrp_input(&w, channel, Vec::new(), Input::Gone);
        });
        let handlers = Handlers {
            open: open.as_ref(),
            message: message.as_ref(),
            gone: gone.as_ref(),
        };
        match socket::open(self.web_socket().as_ref(), url, "msrp", &handlers) {
            Some(ws) => {
                self.msrp_sockets.push(MsrpSocket {
                    channel,
                    ws,
                    _open: open,
                    _message: message,
                    _gone: gone,
                });
            }
            None => {
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
                    let detail = d::Chat {
                        chat: chat.0,
                        kind: "opened",
                        ..Default::default()
                    };
                    actions.push(Action::Emit("chat", write(&detail)));
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
                let tag = self.tags.iter().find(|(id, _)| *id == op.0);
                let detail = d::Progress {
                    tag: tag.map(|(_, t)| t.as_str()),
                    transfer: op.0,
                    to: &to,
                    bytes_sent,
                    total,
                };
                ("progress", write(&detail))
            }
            Event::LargeMessage(m) => {
                let detail = d::Message {
                    from: &m.from,
                    display_name: m.display_name.as_deref(),
                    to: &m.to,
                    content_type: &m.content_type,
                    body: Body::new(&m.content_type, m.body),
                    deferred: false,
                    date_time: None,
                    message_id: None,
                    imdn: None,
                    large_message: Some(true),
                    headers: None,
                };
                ("message", write(&detail))
            }
            Event::Invitation {
                chat,
                from,
                display_name,
            } => {
                let detail = d::Invitation {
                    chat: chat.0,
                    from: &from,
                    display_name: display_name.as_deref(),
                };
                ("invitation", write(&detail))
            }
            Event::Chat { chat, event } => {
                let chat = chat.0;
                let detail = match event {
                    ChatEvent::Message {
                        message_id,
                        content_type,
                        body,
                    } => write(&d::Chat {
                        chat,
                        kind: "message",
                        message_id: Some(&message_id),
                        body: Some(Body::new(&content_type, body)),
                        content_type: Some(&content_type),
                        ..Default::default()
                    }),
                    ChatEvent::Composing { state, last_active } => write(&d::Chat {
                        chat,
                        kind: "composing",
                        state: Some(state.as_str()),
                        last_active: last_active.map(crate::message::date::iso8601),
                        ..Default::default()
                    }),
                    ChatEvent::Report {
                        message_id,
                        delivered,
                        code,
                        reason,
                    } => write(&d::Chat {
                        chat,
                        kind: "report",
                        message_id: Some(&message_id),
                        status: Some(if delivered { "delivered" } else { "failed" }),
                        code,
                        reason: (!reason.is_empty()).then_some(reason.as_str()),
                        ..Default::default()
                    }),
                    ChatEvent::Ended { reason } => write(&d::Chat {
                        chat,
                        kind: "ended",
                        reason: Some(reason.as_str()),
                        ..Default::default()
                    }),
                };
                ("chat", detail)
            }
        };
        actions.push(Action::Emit(kind, detail));
    }
}

fn done(done: Done) -> JsValue {
    match done {
        Done::LargeMessageSent { bytes } => write(&d::MessageSent {
            status: 200,
            reason: "OK".into(),
            message_id: None,
            large_message: Some(true),
            bytes: Some(bytes),
        }),
        Done::ChatOpened { chat, peer } => write(&d::ChatOpened { chat: chat.0, peer }),
        Done::ChatSent { message_id } => write(&d::ChatSent { message_id }),
        Done::ChatClosed => JsValue::UNDEFINED,
    }
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
    let (content_type, tag) = if tagged {
        let mut o: TaggedSendOptions = read(options, "options")?;
        (o.content_type.take(), field(o.tag.take(), "options.tag")?)
    } else {
        let mut o: ChatSendOptions = read(options, "options")?;
        (o.content_type.take(), None)
    };
    let content_type = field(content_type, "options.contentType")?;
    Ok((content_type.unwrap_or_else(plain), tag))
}

/// `sendLargeMessage`'s options (`tag` echoed in its `progress` events).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaggedSendOptions {
    content_type: Option<Val<String>>,
    tag: Option<Val<String>>,
}

/// A chat message's options.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatSendOptions {
    content_type: Option<Val<String>>,
}

/// `startChat`'s options.
#[derive(serde::Deserialize)]
struct StartChatOptions {
    tag: Option<Val<String>>,
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
            let tag = field(
                read::<StartChatOptions>(&options, "options")?.tag,
                "options.tag",
            )?;
            let (op, chat) = c.start_chat(now, &string(&to, "to")?);
            inviting = tag.map(|t| (chat, t));
            Ok(op)
        });
        if let Some((chat, tag)) = inviting {
            let detail = d::Chat {
                chat: chat.0,
                kind: "inviting",
                tag: Some(&tag),
                ..Default::default()
            };
            self.emit_now("chat", &write(&detail));
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
