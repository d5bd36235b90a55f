//! Event details and promise results, as js/imsip.d.ts types them: one derived
//! `Serialize` struct each, turned into a plain object by [`write`](super::obj::write).
//!
//! Every optional field is skipped when `None`: an absent value is an absent key.

use super::obj::{Body, Js};
use super::settings::SettingsObject;
use serde::Serialize;

/// `trace`: one frame as sent or received.
#[derive(Serialize)]
pub(crate) struct Trace<'a> {
    pub direction: &'a str,
    pub text: &'a str,
    pub at: f64,
    /// `'msrp'` for MSRP frames (SIP's is absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
}

/// `register()`'s result, the `registration` event and the `registration` getter.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationDetail<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    pub contacts: &'a [String],
    pub service_route: &'a [String],
    pub associated_uris: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pub_gruu: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Js>,
}

/// `publishServiceSettings()`'s result.
#[derive(Serialize)]
pub(crate) struct Published {
    pub etag: String,
    pub expires: u32,
}

/// `watchServiceSettings()`'s result.
#[derive(Serialize)]
pub(crate) struct Subscribed {
    pub expires: u32,
}

/// One message of `fetchHistory()`'s result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HistoryMessage {
    pub id: String,
    pub direction: &'static str,
    pub peer: String,
    pub time: String,
    pub content_type: String,
    /// A string when UTF-8, else a `Uint8Array` (as a `message` event's).
    pub body: Body,
}

/// `sendMessage()`'s and `sendLargeMessage()`'s result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageSent {
    pub status: u16,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_message: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

/// `markDisplayed()`'s result.
#[derive(Serialize)]
pub(crate) struct DisplayNotified {
    pub sent: bool,
}

/// `connection`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Connection<'a> {
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in: Option<f64>,
    /// The core's URL this connection is (or was) to.
    pub server: &'a str,
}

/// `message`: pager mode (a MESSAGE) or large-message mode (MSRP).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Message<'a> {
    pub from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
    pub to: &'a str,
    pub content_type: &'a str,
    pub body: Body,
    pub deferred: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imdn: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub large_message: Option<bool>,
    /// A MESSAGE's header fields, `[name, value]` pairs as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<&'a [(String, String)]>,
}

/// `imdn`: a delivery, display or processing notification came.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Imdn<'a> {
    pub message_id: &'a str,
    pub from: &'a str,
    pub kind: &'static str,
    pub status: &'a str,
    pub at: &'a str,
}

/// `composing`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Composing<'a> {
    pub from: &'a str,
    pub state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<&'a str>,
}

/// `servicesettings`.
#[derive(Serialize)]
pub(crate) struct ServiceSettings {
    /// `null`: removed at the server.
    pub settings: Option<SettingsObject>,
    pub source: &'static str,
}

/// `watchterminated`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WatchTerminated<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    pub resubscribe: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

/// `publication`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Publication<'a> {
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Js>,
}

/// `policy`: what the publish policy did after registering.
#[derive(Serialize)]
pub(crate) struct Policy {
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Js>,
}

/// `dropped`: an input that could not be used.
#[derive(Serialize)]
pub(crate) struct Dropped {
    pub reason: String,
}

/// `progress`: bytes of a large message the relay took.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Progress<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'a str>,
    pub transfer: u64,
    pub to: &'a str,
    pub bytes_sent: u64,
    pub total: u64,
}

/// `invitation`: a chat session offered.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Invitation<'a> {
    pub chat: u64,
    pub from: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<&'a str>,
}

/// `chat`: something happened in chat session `chat` (`type` says what).
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Chat<'a> {
    pub chat: u64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_active: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// `startChat()`'s and `acceptChat()`'s result.
#[derive(Serialize)]
pub(crate) struct ChatOpened {
    pub chat: u64,
    pub peer: String,
}

/// A chat message's result.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChatSent {
    pub message_id: String,
}

/// The third argument of `new ImError(code, message, init)`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorInit<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}
