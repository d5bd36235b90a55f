//! Service settings documents: OMA IM `application/service-settings+xml` and its RFC 4354
//! sibling `application/poc-settings+xml`.
//!
//! Both are read with [`ServiceSettings::decode`] / [`PocSettings::decode`] and written with
//! `encode`. Decoding is hardened for hostile input and never panics; unknown content is kept
//! so that a read-modify-write never truncates a server's richer document.
//!
//! # `application/service-settings+xml`
//!
//! The OMA IM schema is not public; this crate uses the RFC 4354 shape with the element names
//! OMA IM implementations use. The root `<service-settings>` in namespace
//! [`SERVICE_SETTINGS_NS`] holds zero or more `<entity id="AoR">` elements; each entity holds
//! zero or one of each element below, written in this order:
//!
//! | element                                              | field                      |
//! |------------------------------------------------------|----------------------------|
//! | `<isb-settings><incoming-session-barring active=B/>` | [`Entity::incoming_session_barring`] |
//! | `<vis-settings><vis-status active=B/>`               | [`Entity::visibility`]     |
//! | `<deferred-settings><offline-delivery active=B/>`    | [`Entity::offline_delivery`] |
//! | `<hist-settings><hist-activation type=N active=B/>`  | [`Entity::history`] (`type` optional, unsigned integer) |
//! | `<session-mode>text</session-mode>`                  | [`Entity::session_mode`]   |
//! | `<pager-large-mode>text</pager-large-mode>`          | [`Entity::pager_large_mode`] |
//! | `<service-id>text</service-id>`                      | [`Entity::service_id`]     |
//! | `<active>B</active>`                                 | [`Entity::active`]         |
//!
//! `B` is an `xs:boolean` (`true`, `false`, `1`, `0`; written as `true`/`false`); `active`
//! attributes are unqualified, as in RFC 4354. Text values are trimmed. A full document:
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <service-settings xmlns="urn:oma:xml:im:service-settings">
//!   <entity id="sip:IM-UserA@networkA.net">
//!     <isb-settings>
//!       <incoming-session-barring active="true"/>
//!     </isb-settings>
//!     <vis-settings>
//!       <vis-status active="false"/>
//!     </vis-settings>
//!     <deferred-settings>
//!       <offline-delivery active="true"/>
//!     </deferred-settings>
//!     <hist-settings>
//!       <hist-activation type="1" active="true"/>
//!     </hist-settings>
//!     <session-mode>enabled</session-mode>
//!     <pager-large-mode>enabled</pager-large-mode>
//!     <service-id>org.openmobilealliance:IM-session</service-id>
//!     <active>true</active>
//!   </entity>
//! </service-settings>
//! ```
//!
//! # `application/poc-settings+xml` (RFC 4354 §6)
//!
//! Root `<poc-settings>` in [`POC_SETTINGS_NS`], `<entity id="AoR">` elements holding
//! `<isb-settings><incoming-session-barring active=B/>`,
//! `<am-settings><answer-mode>automatic|manual</answer-mode>`,
//! `<ipab-settings><incoming-personal-alert-barring active=B/>` and
//! `<sss-settings><simultaneous-sessions-support active=B/>`, in that order.
//!
//! # Namespaces and unknown content
//!
//! Names are resolved through namespaces: `<ss:service-settings xmlns:ss="...">` with
//! `<ss:entity>` decodes exactly like the default-namespace form. The encoder always writes
//! the default-namespace form. Everything the typed fields cannot hold survives a round trip:
//!
//! - unknown children of `<entity>` (any namespace, including unknown names in our own) go to
//!   [`Entity::extensions`], unknown children of the root to [`ServiceSettings::extensions`],
//!   kept as [`XmlNode`]s that declare the namespace prefixes they use (the declarations
//!   they borrow from enclosing elements follow their own attributes, sorted; a declaration
//!   that repeats the binding in force where the encoder writes the node is not kept as
//!   written, since the encoder skips it: so `decode(encode(x)) == x` holds exactly);
//! - unknown attributes (on the root, `<entity>` and known elements), unknown content inside
//!   known elements, and the order of children go to a [`Preserved`], which the encoder uses to
//!   write them back in place. A known element whose field is set to `None` is dropped with its
//!   unknown content; a newly set one is written in the order of the table above.
//!
//! A second occurrence of a known element is kept as an extension. Comments, processing
//! instructions and indentation are not kept.
//!
//! # Hostile input
//!
//! Documents over [`MAX_DOCUMENT_SIZE`] bytes are refused before parsing, as are nesting
//! deeper than [`MAX_DEPTH`] elements, non-UTF-8 bytes, any `<!DOCTYPE>` (so no entity is ever
//! declared or expanded; only the five predefined entities and character references are
//! resolved), characters XML 1.0 does not allow, malformed XML (including element and
//! attribute names that are not QNames, an empty `xmlns:p=""` and misuse of the reserved
//! `xml`/`xmlns` prefixes, as Namespaces in XML 1.0 requires), a wrong root, and bad values of
//! known elements. Each has its [`SettingsError`]. When encoding, text and attribute values are
//! escaped and characters XML 1.0 cannot carry are dropped; element and attribute names of
//! [`XmlNode`]s built in code are written as given and must be valid XML names.
//!
//! ```
//! use imsip::settings::ServiceSettings;
//!
//! let mut doc = ServiceSettings::decode(br#"<service-settings
//!     xmlns="urn:oma:xml:im:service-settings"><entity id="sip:IM-UserA@networkA.net">
//!     <isb-settings><incoming-session-barring active="false"/></isb-settings>
//!     </entity></service-settings>"#).unwrap();
//! doc.entity_mut("sip:IM-UserA@networkA.net").incoming_session_barring = Some(true);
//! assert!(doc.encode().contains(r#"<incoming-session-barring active="true"/>"#));
//! ```

mod schema;
mod view;
pub(crate) mod xml;

use schema::{parse_bool, Form, RawEntity, Schema, Spec, Val};
use std::fmt;
/// The XML reader under the decoders (for tests: the tree as read, before the schema).
#[doc(hidden)]
pub use view::EntitySettings;
pub use xml::parse as parse_xml;
pub use xml::write as write_xml;
pub use xml::{XmlChild, XmlNode};

/// MIME type of OMA IM service settings documents.
pub const SERVICE_SETTINGS_CONTENT_TYPE: &str = "application/service-settings+xml";
/// XML namespace of OMA IM service settings documents.
pub const SERVICE_SETTINGS_NS: &str = "urn:oma:xml:im:service-settings";
/// MIME type of RFC 4354 PoC settings documents.
pub const POC_SETTINGS_CONTENT_TYPE: &str = "application/poc-settings+xml";
/// XML namespace of RFC 4354 PoC settings documents.
pub const POC_SETTINGS_NS: &str = "urn:oma:params:xml:ns:poc:poc-settings";
/// Largest document accepted, in bytes.
pub const MAX_DOCUMENT_SIZE: usize = 64 * 1024;
/// Deepest element nesting accepted (the root is at depth 1).
pub const MAX_DEPTH: usize = 32;

/// Why a settings document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingsError {
    /// The document is larger than `max` bytes.
    TooLarge {
        /// Size of the document in bytes.
        len: usize,
        /// [`MAX_DOCUMENT_SIZE`].
        max: usize,
    },
    /// Elements nest deeper than `max`.
    TooDeep {
        /// [`MAX_DEPTH`].
        max: usize,
    },
    /// The document has a `<!DOCTYPE>` (and so possibly entity declarations).
    Doctype,
    /// The document is not valid UTF-8.
    NotUtf8 {
        /// Byte offset of the first invalid sequence.
        position: usize,
    },
    /// The document is not well-formed XML.
    Malformed {
        /// Byte offset where the problem was found.
        position: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The root element is not the expected one.
    UnexpectedRoot {
        /// Namespace of the root found.
        namespace: Option<String>,
        /// Local name of the root found.
        name: String,
    },
    /// A known element or attribute has a value outside its type.
    InvalidValue {
        /// The element concerned.
        element: &'static str,
        /// What is wrong.
        what: &'static str,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { len, max } => write!(f, "document of {len} bytes exceeds {max}"),
            Self::TooDeep { max } => write!(f, "elements nest deeper than {max}"),
            Self::Doctype => f.write_str("DOCTYPE and entity declarations are not allowed"),
            Self::NotUtf8 { position } => write!(f, "invalid UTF-8 at byte {position}"),
            Self::Malformed { position, what } => {
                write!(f, "malformed XML at byte {position}: {what}")
            }
            Self::UnexpectedRoot { namespace, name } => {
                write!(
                    f,
                    "unexpected root element {name} in namespace {}",
                    namespace.as_deref().unwrap_or("(none)")
                )
            }
            Self::InvalidValue { element, what } => write!(f, "invalid <{element}>: {what}"),
        }
    }
}

impl std::error::Error for SettingsError {}

/// Round-trip details of a decoded element that typed fields cannot hold: its unknown
/// attributes, unknown content inside known child elements, and the order of its children.
///
/// Empty for documents built in code and for documents whose only unknown content is
/// extensions at the end; leave it at its default when building a document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preserved {
    attributes: Vec<(String, String)>,
    templates: Vec<(u8, XmlNode)>,
    order: Vec<u8>,
}

impl Preserved {
    /// Whether nothing is preserved.
    pub fn is_empty(&self) -> bool {
        self.attributes.is_empty() && self.templates.is_empty() && self.order.is_empty()
    }
}

/// An `application/service-settings+xml` document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceSettings {
    /// The `<entity>` elements, in document order.
    pub entities: Vec<Entity>,
    /// Unknown children of the root, verbatim.
    pub extensions: Vec<XmlNode>,
    /// Unknown attributes of the root and the order of its children.
    pub preserved: Preserved,
}

/// The settings of one address of record in a [`ServiceSettings`] document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entity {
    /// The address of record (`id` attribute).
    pub id: String,
    /// `<isb-settings><incoming-session-barring active>`: incoming sessions barred.
    pub incoming_session_barring: Option<bool>,
    /// `<vis-settings><vis-status active>`: visible to others.
    pub visibility: Option<bool>,
    /// `<deferred-settings><offline-delivery active>`: messages stored while offline.
    pub offline_delivery: Option<bool>,
    /// `<hist-settings><hist-activation>`: conversation history.
    pub history: Option<History>,
    /// `<session-mode>` text.
    pub session_mode: Option<String>,
    /// `<pager-large-mode>` text.
    pub pager_large_mode: Option<String>,
    /// `<service-id>` text.
    pub service_id: Option<String>,
    /// `<active>` boolean text.
    pub active: Option<bool>,
    /// Unknown child elements of `<entity>`, verbatim.
    pub extensions: Vec<XmlNode>,
    /// Unknown attributes and content, and the order of children.
    pub preserved: Preserved,
}

/// `<hist-settings><hist-activation type="N" active="B"/></hist-settings>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct History {
    /// `active`: history recording on.
    pub active: bool,
    /// `type`: which history is meant (operator-defined).
    pub kind: Option<u32>,
}

const fn spec(name: &'static str, inner: Option<&'static str>, form: Form) -> Spec {
    Spec { name, inner, form }
}

const ISB: Spec = spec(
    "isb-settings",
    Some("incoming-session-barring"),
    Form::Active,
);

static SERVICE: Schema = Schema {
    ns: SERVICE_SETTINGS_NS,
    root: "service-settings",
    specs: &[
        ISB,
        spec("vis-settings", Some("vis-status"), Form::Active),
        spec("deferred-settings", Some("offline-delivery"), Form::Active),
        spec("hist-settings", Some("hist-activation"), Form::ActiveType),
        spec("session-mode", None, Form::Text),
        spec("pager-large-mode", None, Form::Text),
        spec("service-id", None, Form::Text),
        spec("active", None, Form::Text),
    ],
};

static POC: Schema = Schema {
    ns: POC_SETTINGS_NS,
    root: "poc-settings",
    specs: &[
        ISB,
        spec("am-settings", Some("answer-mode"), Form::Text),
        spec(
            "ipab-settings",
            Some("incoming-personal-alert-barring"),
            Form::Active,
        ),
        spec(
            "sss-settings",
            Some("simultaneous-sessions-support"),
            Form::Active,
        ),
    ],
};

fn flag(kind: u8, value: Option<bool>) -> Option<(u8, Val)> {
    value.map(|v| (kind, Val::Active(v, None)))
}

fn text(kind: u8, value: &Option<String>) -> Option<(u8, Val)> {
    value.clone().map(|v| (kind, Val::Text(v)))
}

impl Entity {
    /// An entity for this address of record, with no settings.
    pub fn new(id: impl Into<String>) -> Self {
        Entity {
            id: id.into(),
            ..Default::default()
        }
    }

    fn from_raw(raw: RawEntity) -> Result<Self, SettingsError> {
        let mut e = Entity {
            id: raw.id,
            extensions: raw.extensions,
            preserved: raw.preserved,
            ..Default::default()
        };
        for (kind, val) in raw.vals {
            match (kind, val) {
                (0, Val::Active(a, _)) => e.incoming_session_barring = Some(a),
                (1, Val::Active(a, _)) => e.visibility = Some(a),
                (2, Val::Active(a, _)) => e.offline_delivery = Some(a),
                (3, Val::Active(active, kind)) => e.history = Some(History { active, kind }),
                (4, Val::Text(t)) => e.session_mode = Some(t),
                (5, Val::Text(t)) => e.pager_large_mode = Some(t),
                (6, Val::Text(t)) => e.service_id = Some(t),
                (7, Val::Text(t)) => {
                    let invalid = SettingsError::InvalidValue {
                        element: "active",
                        what: "not a boolean",
                    };
                    e.active = Some(parse_bool(&t).ok_or(invalid)?);
                }
                _ => {}
            }
        }
        Ok(e)
    }

    fn to_raw(&self) -> RawEntity {
        let history = self.history.map(|h| (3, Val::Active(h.active, h.kind)));
        let vals = [
            flag(0, self.incoming_session_barring),
            flag(1, self.visibility),
            flag(2, self.offline_delivery),
            history,
            text(4, &self.session_mode),
            text(5, &self.pager_large_mode),
            text(6, &self.service_id),
            self.active.map(|a| (7, Val::Text(a.to_string()))),
        ];
        RawEntity {
            id: self.id.clone(),
            vals: vals.into_iter().flatten().collect(),
            extensions: self.extensions.clone(),
            preserved: self.preserved.clone(),
        }
    }
}

impl ServiceSettings {
    /// Decodes an `application/service-settings+xml` body.
    pub fn decode(bytes: &[u8]) -> Result<Self, SettingsError> {
        let (entities, extensions, preserved) = schema::decode(&SERVICE, bytes)?;
        // A loop, not `collect::<Result<Vec<_>, _>>()`: that was 1.7 KB of wasm.
        let mut list = Vec::with_capacity(entities.len());
        for raw in entities {
            list.push(Entity::from_raw(raw)?);
        }
        let entities = list;
        Ok(ServiceSettings {
            entities,
            extensions,
            preserved,
        })
    }

    /// Encodes the document, XML declaration included.
    pub fn encode(&self) -> String {
        schema::encode(
            &SERVICE,
            self.entities.iter().map(Entity::to_raw),
            &self.extensions,
            &self.preserved,
        )
    }

    /// The first entity whose `id` is exactly `aor`.
    pub fn for_entity(&self, aor: &str) -> Option<&Entity> {
        self.entities.iter().find(|e| e.id == aor)
    }

    /// The first entity whose `id` is exactly `aor`, appended empty if there is none.
    pub fn entity_mut(&mut self, aor: &str) -> &mut Entity {
        let at = self
            .entities
            .iter()
            .position(|e| e.id == aor)
            .unwrap_or_else(|| {
                self.entities.push(Entity::new(aor));
                self.entities.len() - 1
            });
        // In bounds: `at` was just found or just pushed.
        &mut self.entities[at]
    }
}

/// An `application/poc-settings+xml` document (RFC 4354).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PocSettings {
    /// The `<entity>` elements, in document order.
    pub entities: Vec<PocEntity>,
    /// Unknown children of the root, verbatim.
    pub extensions: Vec<XmlNode>,
    /// Unknown attributes of the root and the order of its children.
    pub preserved: Preserved,
}

/// The PoC settings of one address of record (RFC 4354 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PocEntity {
    /// The address of record (`id` attribute).
    pub id: String,
    /// `<isb-settings><incoming-session-barring active>`.
    pub incoming_session_barring: Option<bool>,
    /// `<am-settings><answer-mode>`.
    pub answer_mode: Option<AnswerMode>,
    /// `<ipab-settings><incoming-personal-alert-barring active>`.
    pub incoming_personal_alert_barring: Option<bool>,
    /// `<sss-settings><simultaneous-sessions-support active>`.
    pub simultaneous_sessions_support: Option<bool>,
    /// Unknown child elements of `<entity>`, verbatim.
    pub extensions: Vec<XmlNode>,
    /// Unknown attributes and content, and the order of children.
    pub preserved: Preserved,
}

/// RFC 4354 `<answer-mode>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerMode {
    /// `automatic`
    Automatic,
    /// `manual`
    Manual,
}

impl AnswerMode {
    /// The XML text of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerMode::Automatic => "automatic",
            AnswerMode::Manual => "manual",
        }
    }
}

impl PocEntity {
    /// An entity for this address of record, with no settings.
    pub fn new(id: impl Into<String>) -> Self {
        PocEntity {
            id: id.into(),
            ..Default::default()
        }
    }

    fn from_raw(raw: RawEntity) -> Result<Self, SettingsError> {
        let mut e = PocEntity {
            id: raw.id,
            extensions: raw.extensions,
            preserved: raw.preserved,
            ..Default::default()
        };
        for (kind, val) in raw.vals {
            match (kind, val) {
                (0, Val::Active(a, _)) => e.incoming_session_barring = Some(a),
                (1, Val::Text(t)) => {
                    e.answer_mode = Some(match t.as_str() {
                        "automatic" => AnswerMode::Automatic,
                        "manual" => AnswerMode::Manual,
                        _ => {
                            let what = "neither automatic nor manual";
                            return Err(SettingsError::InvalidValue {
                                element: "answer-mode",
                                what,
                            });
                        }
                    })
                }
                (2, Val::Active(a, _)) => e.incoming_personal_alert_barring = Some(a),
                (3, Val::Active(a, _)) => e.simultaneous_sessions_support = Some(a),
                _ => {}
            }
        }
        Ok(e)
    }

    fn to_raw(&self) -> RawEntity {
        let vals = [
            flag(0, self.incoming_session_barring),
            self.answer_mode
                .map(|m| (1, Val::Text(m.as_str().to_owned()))),
            flag(2, self.incoming_personal_alert_barring),
            flag(3, self.simultaneous_sessions_support),
        ];
        RawEntity {
            id: self.id.clone(),
            vals: vals.into_iter().flatten().collect(),
            extensions: self.extensions.clone(),
            preserved: self.preserved.clone(),
        }
    }
}

impl PocSettings {
    /// Decodes an `application/poc-settings+xml` body.
    pub fn decode(bytes: &[u8]) -> Result<Self, SettingsError> {
        let (entities, extensions, preserved) = schema::decode(&POC, bytes)?;
        // A loop, not `collect::<Result<Vec<_>, _>>()`: that was 1.7 KB of wasm.
        let mut list = Vec::with_capacity(entities.len());
        for raw in entities {
            list.push(PocEntity::from_raw(raw)?);
        }
        let entities = list;
        Ok(PocSettings {
            entities,
            extensions,
            preserved,
        })
    }

    /// Encodes the document, XML declaration included.
    pub fn encode(&self) -> String {
        schema::encode(
            &POC,
            self.entities.iter().map(PocEntity::to_raw),
            &self.extensions,
            &self.preserved,
        )
    }

    /// The first entity whose `id` is exactly `aor`.
    pub fn for_entity(&self, aor: &str) -> Option<&PocEntity> {
        self.entities.iter().find(|e| e.id == aor)
    }

    /// The first entity whose `id` is exactly `aor`, appended empty if there is none.
    pub fn entity_mut(&mut self, aor: &str) -> &mut PocEntity {
        let at = self
            .entities
            .iter()
            .position(|e| e.id == aor)
            .unwrap_or_else(|| {
                self.entities.push(PocEntity::new(aor));
                self.entities.len() - 1
            });
        // In bounds: `at` was just found or just pushed.
        &mut self.entities[at]
    }
}
