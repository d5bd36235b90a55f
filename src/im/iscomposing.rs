//! Message composition indication ("is typing", RFC 3994): the
//! `application/im-iscomposing+xml` status message, sent in a SIP `MESSAGE` like any
//! instant message.
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
//!   <state>active</state>
//!   <lastactive>2003-01-27T10:43:00Z</lastactive>
//!   <contenttype>text/plain</contenttype>
//!   <refresh>90</refresh>
//! </isComposing>
//! ```
//!
//! # The two state machines (RFC 3994 §3.2, §3.3)
//!
//! The composer (ours, for the local user):
//!
//! ```text
//!            composing starts: send "active"
//!   +------+ ------------------------------> +--------+ --+ refresh timer (the refresh
//!   | Idle |                                 | Active |   | interval): send "active" again
//!   +------+ <------------------------------ +--------+ <-+
//!            IDLE_TIMEOUT_SECS without composing: send "idle";
//!            the message is sent: nothing (the message itself says idle)
//! ```
//!
//! While active the composer re-sends "active" once per refresh interval (its `<refresh>`,
//! default [`DEFAULT_REFRESH_SECS`]) and not more often: keystrokes inside an interval send
//! nothing. The receiver (the peer's indicator, shown to the local user):
//!
//! ```text
//!            "active" received
//!   +------+ -----------------> +--------+ --+ "active" received:
//!   | Idle |                    | Active |   | restart the timer
//!   +------+ <----------------- +--------+ <-+
//!            "idle" received, or a message (content) received, or no refresh
//!            within IsComposing::active_timeout_secs (the refresh, or 120 s)
//! ```
//!
//! Only the document is here; the timers are the user agent's (sans-IO: it owns the
//! clock). Decoding resolves namespaces like [`imdn`](super::imdn): the root must be
//! `isComposing` in [`ISCOMPOSING_NS`], other namespaces' elements and unknown elements are
//! ignored, a known element given twice is refused. A `<state>` is required; a malformed
//! optional element (a `lastactive` that is no date, a `refresh` that is no positive
//! number) is read as absent, so an odd hint never drops the indication.

use super::imdn::{children_in, expanded_name, parse_date_time, text_element, trim_xml_space};
use crate::message::date::iso8601;
use crate::settings::{parse_xml, write_xml, SettingsError, XmlChild, XmlNode};
use std::fmt;

/// The media type of a composition indication.
pub const ISCOMPOSING_CONTENT_TYPE: &str = "application/im-iscomposing+xml";
/// The XML namespace of the document (RFC 3994).
pub const ISCOMPOSING_NS: &str = "urn:ietf:params:xml:ns:im-iscomposing";

/// The composer's refresh interval when it states none (RFC 3994 §3.2): while active it
/// sends "active" again every this many seconds, and at most once per interval.
pub const DEFAULT_REFRESH_SECS: u32 = 120;
/// The composer turns idle (and sends "idle") after this many seconds without composing
/// activity (RFC 3994 §3.2).
pub const IDLE_TIMEOUT_SECS: u32 = 15;
/// A receiver that saw "active" without a `<refresh>` falls back to idle after this many
/// seconds without another indication (RFC 3994 §3.3).
pub const RECEIVER_ACTIVE_TIMEOUT_SECS: u32 = 120;

/// Whether the sender is composing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// `active`: composing now.
    Active,
    /// `idle`: not composing (stopped, or gave up).
    Idle,
}

impl State {
    /// `active` / `idle`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Idle => "idle",
        }
    }
}

/// A composition indication (RFC 3994).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsComposing {
    /// Composing or not (`<state>`).
    pub state: State,
    /// When the sender was last active, Unix seconds (`<lastactive>`; useful with
    /// `Idle`); written in UTC, read with any RFC 3339 offset.
    pub last_active: Option<u64>,
    /// What is being composed, a media type such as `text/plain` or a top-level type such
    /// as `audio` (`<contenttype>`).
    pub content_type: Option<String>,
    /// With `Active`: the seconds within which the sender will refresh (`<refresh>`, a
    /// positive integer); absent means the receiver waits
    /// [`RECEIVER_ACTIVE_TIMEOUT_SECS`].
    pub refresh: Option<u32>,
}

impl IsComposing {
    /// An indication of `state` and nothing else.
    pub fn new(state: State) -> IsComposing {
        IsComposing {
            state,
            last_active: None,
            content_type: None,
            refresh: None,
        }
    }

    /// For a receiver: how long an `Active` indication holds without another one, in
    /// seconds (its `refresh`, or [`RECEIVER_ACTIVE_TIMEOUT_SECS`]); `None` for `Idle`.
    pub fn active_timeout_secs(&self) -> Option<u32> {
        (self.state == State::Active)
            .then_some(self.refresh.unwrap_or(RECEIVER_ACTIVE_TIMEOUT_SECS))
    }

    /// The document, with `xmlns="urn:ietf:params:xml:ns:im-iscomposing"` and the
    /// elements in the schema's order (`state`, `lastactive`, `contenttype`, `refresh`).
    ///
    /// Written as given: an empty `content_type` or a `refresh` of 0 are read back as
    /// absent.
    pub fn encode(&self) -> String {
        let mut root = XmlNode::new("isComposing");
        root.attributes
            .push(("xmlns".into(), ISCOMPOSING_NS.into()));
        let mut push = |name: &str, text: &str| {
            root.children
                .push(XmlChild::Element(text_element(name, text)));
        };
        push("state", self.state.as_str());
        if let Some(t) = self.last_active {
            push("lastactive", &iso8601(t));
        }
        if let Some(ct) = &self.content_type {
            push("contenttype", ct);
        }
        if let Some(r) = self.refresh {
            push("refresh", &r.to_string());
        }
        write_xml(&root)
    }

    /// Reads a composition indication.
    ///
    /// The state is read case-insensitively, every value with surrounding XML white space
    /// trimmed; `lastactive`, `contenttype` and `refresh` are absent when empty or (the
    /// first and last) malformed.
    pub fn decode(bytes: &[u8]) -> Result<IsComposing, IsComposingError> {
        let root = parse_xml(bytes)?;
        let (ns, name) = expanded_name(&root, &[]);
        if ns != Some(ISCOMPOSING_NS) || name != "isComposing" {
            return Err(IsComposingError::UnexpectedRoot {
                namespace: ns.map(str::to_owned),
                name: name.to_owned(),
            });
        }
        let mut state = None;
        let mut last_active = None;
        let mut content_type = None;
        let mut refresh = None;
        for (name, child) in children_in(ISCOMPOSING_NS, &[&root]) {
            let (slot, element) = match name {
                "state" => (&mut state, "state"),
                "lastactive" => (&mut last_active, "lastactive"),
                "contenttype" => (&mut content_type, "contenttype"),
                "refresh" => (&mut refresh, "refresh"),
                _ => continue,
            };
            if slot.replace(child.text()).is_some() {
                return Err(IsComposingError::Duplicate(element));
            }
        }
        let state = state.ok_or(IsComposingError::MissingState)?;
        let state = match trim_xml_space(&state).to_ascii_lowercase().as_str() {
            "active" => State::Active,
            "idle" => State::Idle,
            _ => {
                return Err(IsComposingError::UnknownState(
                    trim_xml_space(&state).to_owned(),
                ))
            }
        };
        let refresh = refresh.and_then(|r| {
            let r = trim_xml_space(&r);
            // Digits only: `u32::from_str` would take a sign.
            r.bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| r.parse::<u32>().ok())
                .flatten()
                .filter(|&r| r > 0)
        });
        Ok(IsComposing {
            state,
            last_active: last_active.and_then(|t| parse_date_time(&t)),
            content_type: content_type
                .map(|c| trim_xml_space(&c).to_owned())
                .filter(|c| !c.is_empty()),
            refresh,
        })
    }
}

/// Why a composition indication was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IsComposingError {
    /// The XML reader refused the body: not UTF-8, not well-formed, larger than
    /// [`MAX_DOCUMENT_SIZE`](crate::settings::MAX_DOCUMENT_SIZE), nested deeper than
    /// [`MAX_DEPTH`](crate::settings::MAX_DEPTH), or with a `DOCTYPE`.
    Xml(SettingsError),
    /// The root element is not `isComposing` in [`ISCOMPOSING_NS`].
    UnexpectedRoot {
        /// Namespace of the root found (`None`: no namespace).
        namespace: Option<String>,
        /// Local name of the root found.
        name: String,
    },
    /// No `<state>`.
    MissingState,
    /// The state is neither `active` nor `idle` (the text found).
    UnknownState(String),
    /// A known element (`state`, `lastactive`, `contenttype`, `refresh`) occurs more
    /// than once.
    Duplicate(&'static str),
}

impl From<SettingsError> for IsComposingError {
    fn from(e: SettingsError) -> Self {
        IsComposingError::Xml(e)
    }
}

impl fmt::Display for IsComposingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Xml(e) => write!(f, "isComposing document: {e}"),
            Self::UnexpectedRoot { namespace, name } => write!(
                f,
                "not an isComposing document: root element {name} in namespace {}",
                namespace.as_deref().unwrap_or("(none)")
            ),
            Self::MissingState => f.write_str("isComposing document without <state>"),
            // Quoted by hand: Debug formatting would add its escaping code to the wasm.
            Self::UnknownState(s) => write!(f, "unknown isComposing state \"{s}\""),
            Self::Duplicate(element) => {
                write!(f, "isComposing document with more than one <{element}>")
            }
        }
    }
}

impl std::error::Error for IsComposingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Xml(e) => Some(e),
            _ => None,
        }
    }
}
