//! Conversation history (the OMA IM `hist-settings` of a user, kept by the IM
//! Server), read back by the client.
//!
//! The OMA text for history retrieval is not public here, so imsip defines a small
//! SIP-native exchange, documented in README:
//!
//! - the client sends a one-shot `SUBSCRIBE` (Expires 0, RFC 6665 §4.4.3 fetch) to
//!   its own AoR with `Event: im-history` and the query as event parameters
//!   ([`HistoryQuery`]): `with` (a peer URI, quoted), `since` (Unix seconds),
//!   `limit` (most recent first, then returned oldest first);
//! - the IM Server answers 200 and one NOTIFY whose body is an
//!   [`HISTORY_CONTENT_TYPE`] document:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <im-history xmlns="urn:imsip:params:xml:ns:im-history">
//!   <message id="17" direction="received" peer="sip:bob@imsip.test"
//!            time="2026-11-29T23:05:00Z" content-type="text/plain;charset=UTF-8">héllo</message>
//! </im-history>
//! ```
//!
//! A body that XML 1.0 text cannot carry as it is — bytes that are not UTF-8 (a
//! binary body, RFC 7118 §4.2), or control characters outside TAB, LF and CR —
//! is written in base64 with `encoding="base64"` on its `message`, so every body
//! reads back byte for byte. A `message` with another `encoding`, or whose base64
//! does not decode, is skipped like one without a usable `direction`.
//!
//! Unknown attributes and elements are ignored (never an error), so servers may add
//! to it.

use crate::message::date::{iso8601, parse_iso8601};
use crate::message::Event;
use crate::settings::{parse_xml, SettingsError, XmlChild, XmlNode};

/// The event package of the history fetch.
pub const HISTORY_EVENT: &str = "im-history";
/// The NOTIFY body's media type.
pub const HISTORY_CONTENT_TYPE: &str = "application/vnd.imsip.im-history+xml";
/// The document's namespace.
pub const HISTORY_NS: &str = "urn:imsip:params:xml:ns:im-history";

/// Which messages to read back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// Only the conversation with this peer (a SIP URI).
    pub with: Option<String>,
    /// Only messages at or after this time (Unix seconds).
    pub since: Option<u64>,
    /// At most this many (the most recent ones).
    pub limit: Option<u32>,
}

impl HistoryQuery {
    /// The `Event` header value: `im-history;with="sip:bob@x";since=N;limit=N`.
    pub fn event_value(&self) -> String {
        let mut v = String::from(HISTORY_EVENT);
        if let Some(w) = &self.with {
            v.push_str(";with=\"");
            // A quoted-string (RFC 3261 §25.1): escape quote and backslash.
            for c in w.chars() {
                if c == '"' || c == '\\' {
                    v.push('\\');
                }
                v.push(c);
            }
            v.push('"');
        }
        if let Some(s) = self.since {
            v.push_str(&format!(";since={s}"));
        }
        if let Some(l) = self.limit {
            v.push_str(&format!(";limit={l}"));
        }
        v
    }

    /// The query of an `Event: im-history;...` header; unknown or malformed
    /// parameters are ignored.
    pub fn from_event(event: &Event) -> HistoryQuery {
        HistoryQuery {
            with: event.params.str("with").map(str::to_owned),
            since: event.params.str("since").and_then(|s| s.parse().ok()),
            limit: event.params.str("limit").and_then(|s| s.parse().ok()),
        }
    }
}

/// Whether a message was sent or received by the history's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent by the owner to `peer`.
    Sent,
    /// Received by the owner from `peer`.
    Received,
}

impl Direction {
    /// `sent` / `received`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Sent => "sent",
            Direction::Received => "received",
        }
    }
}

/// One message of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The server's id of the message.
    pub id: String,
    /// Sent or received.
    pub direction: Direction,
    /// The other party's URI.
    pub peer: String,
    /// When the server relayed (or stored) it, Unix seconds.
    pub time: u64,
    /// The body's media type.
    pub content_type: String,
    /// The body's bytes, as sent.
    pub body: Vec<u8>,
}

/// `body` as the text of a `message` element: itself when XML 1.0 can carry it,
/// else its base64 (`true`).
fn body_text(body: &[u8]) -> (String, bool) {
    match core::str::from_utf8(body) {
        Ok(t) if t.chars().all(crate::settings::xml::is_xml_char) => (t.to_owned(), false),
        _ => (crate::auth::codec::base64_encode(body), true),
    }
}

/// Encodes a history document.
pub fn encode(entries: &[HistoryEntry]) -> String {
    let mut root = XmlNode::new("im-history");
    root.attributes.push(("xmlns".into(), HISTORY_NS.into()));
    for e in entries {
        let mut m = XmlNode::new("message");
        m.attributes = vec![
            ("id".into(), e.id.clone()),
            ("direction".into(), e.direction.as_str().into()),
            ("peer".into(), e.peer.clone()),
            ("time".into(), iso8601(e.time)),
            ("content-type".into(), e.content_type.clone()),
        ];
        let (text, base64) = body_text(&e.body);
        if base64 {
            m.attributes.push(("encoding".into(), "base64".into()));
        }
        if !text.is_empty() {
            m.children.push(XmlChild::Text(text));
        }
        root.children.push(XmlChild::Element(m));
    }
    crate::settings::write_xml(&root)
}

/// Decodes a history document: the `message` elements with a usable `direction`,
/// `peer` and `time`; others are skipped.
pub fn decode(bytes: &[u8]) -> Result<Vec<HistoryEntry>, SettingsError> {
    let root = parse_xml(bytes)?;
    let local = |n: &str| crate::message::text::after_last(n, b':').to_owned();
    if local(&root.name) != "im-history" {
        return Err(SettingsError::UnexpectedRoot {
            namespace: None,
            name: root.name.clone(),
        });
    }
    let mut out = Vec::new();
    for m in root.elements().filter(|e| local(&e.name) == "message") {
        let direction = match m.attribute("direction") {
            Some("sent") => Direction::Sent,
            Some("received") => Direction::Received,
            _ => continue,
        };
        let (Some(peer), Some(time)) = (
            m.attribute("peer"),
            m.attribute("time").and_then(parse_iso8601),
        ) else {
            continue;
        };
        let text = m.text();
        let body = match m.attribute("encoding") {
            None => text.into_bytes(),
            Some(e) if e.eq_ignore_ascii_case("base64") => {
                // Line breaks and spaces a server may wrap base64 with are not data.
                let compact: String = text.split_ascii_whitespace().collect();
                match crate::auth::codec::base64_decode(&compact) {
                    Some(bytes) => bytes,
                    None => continue,
                }
            }
            Some(_) => continue,
        };
        out.push(HistoryEntry {
            id: m.attribute("id").unwrap_or("").to_owned(),
            direction,
            peer: peer.to_owned(),
            time,
            content_type: m
                .attribute("content-type")
                .unwrap_or("text/plain")
                .to_owned(),
            body,
        });
    }
    Ok(out)
}
