//! One entity's settings as apps see them, and the read-modify-write merge.
//!
//! Apps (the JS API's settings object among them) work with the typed fields of
//! ONE entity, the AoR's. The document those fields came from may hold more: other
//! entities, unknown elements and attributes. [`EntitySettings::from_document`]
//! keeps that document beside the fields; [`EntitySettings::to_document`] decodes
//! it again, sets the typed fields on the named entity (a field left out removes
//! its element) and leaves everything else as it was, so a read-modify-write never
//! truncates a server's richer document.

use super::{Entity, History, ServiceSettings, SettingsError};

/// The typed settings of one entity, plus the document they were read from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EntitySettings {
    /// The entity's AoR (`id`).
    pub entity: String,
    /// Incoming session barring active.
    pub incoming_session_barring: Option<bool>,
    /// Visible to others.
    pub visibility: Option<bool>,
    /// Offline (deferred) delivery active.
    pub offline_delivery: Option<bool>,
    /// Conversation history.
    pub history: Option<History>,
    /// `<session-mode>` text.
    pub session_mode: Option<String>,
    /// `<pager-large-mode>` text.
    pub pager_large_mode: Option<String>,
    /// `<service-id>` text.
    pub service_id: Option<String>,
    /// `<active>`.
    pub active: Option<bool>,
    /// The whole document these fields were read from (`None`: write a fresh
    /// one-entity document).
    pub document: Option<String>,
}

impl EntitySettings {
    /// The fields of the entity `aor` (or the first entity) of `doc`, with `doc`
    /// encoded as [`document`](Self::document). A document without entities gives
    /// the bare `aor`.
    pub fn from_document(doc: &ServiceSettings, aor: &str) -> EntitySettings {
        let document = Some(doc.encode());
        match doc.for_entity(aor).or_else(|| doc.entities.first()) {
            None => EntitySettings {
                entity: aor.to_owned(),
                document,
                ..EntitySettings::default()
            },
            Some(e) => EntitySettings {
                entity: e.id.clone(),
                incoming_session_barring: e.incoming_session_barring,
                visibility: e.visibility,
                offline_delivery: e.offline_delivery,
                history: e.history,
                session_mode: e.session_mode.clone(),
                pager_large_mode: e.pager_large_mode.clone(),
                service_id: e.service_id.clone(),
                active: e.active,
                document,
            },
        }
    }

    /// The document to publish: [`document`](Self::document) decoded again (or a
    /// fresh one), with this entity's typed fields set. Fails only when
    /// `document` is not a valid settings document.
    pub fn to_document(&self) -> Result<ServiceSettings, SettingsError> {
        let mut doc = match &self.document {
            Some(xml) => ServiceSettings::decode(xml.as_bytes())?,
            None => ServiceSettings::default(),
        };
        let e: &mut Entity = doc.entity_mut(&self.entity);
        e.incoming_session_barring = self.incoming_session_barring;
        e.visibility = self.visibility;
        e.offline_delivery = self.offline_delivery;
        e.history = self.history;
        e.session_mode = self.session_mode.clone();
        e.pager_large_mode = self.pager_large_mode.clone();
        e.service_id = self.service_id.clone();
        e.active = self.active;
        Ok(doc)
    }
}
