//! Service settings as one plain object for ONE entity (the AoR's):
//!
//! ```text
//! { entity, incomingSessionBarring?, visibility?, offlineDelivery?,
//!   history?: { active, type? }, sessionMode?, pagerLargeMode?, serviceId?, active?,
//!   extensions?: { xml } }
//! ```
//!
//! `extensions.xml` is the whole document the object was decoded from. The object is
//! [`EntitySettings`] field for field; the read-modify-write merge is
//! [`EntitySettings::to_document`] (in `imsip::settings`, tested natively).

use super::obj::{check, field, read, required, write, Sub, Val};
use crate::settings::{EntitySettings, History, ServiceSettings};
use crate::ua::UaError;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// A settings object as JS has it (js/imsip.d.ts `ServiceSettingsObject`).
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SettingsObject {
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<Val<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    incoming_session_barring: Option<Val<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visibility: Option<Val<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offline_delivery: Option<Val<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Sub<HistoryObject>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_mode: Option<Val<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pager_large_mode: Option<Val<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_id: Option<Val<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<Val<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extensions: Option<Sub<Extensions>>,
}

#[derive(Deserialize, Serialize)]
struct HistoryObject {
    active: Option<Val<bool>>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<Val<f64>>,
}

#[derive(Deserialize, Serialize)]
struct Extensions {
    xml: Option<Val<String>>,
}

/// Reads a settings object (the argument called `path`).
pub(crate) fn from_js(
    value: &JsValue,
    path: &str,
    default_entity: Option<&str>,
) -> Result<ServiceSettings, UaError> {
    if value.is_undefined() || value.is_null() {
        return Err(UaError::BadInput(format!("{path}: must be an object")));
    }
    to_document(read(value, path)?, path, default_entity)
}

/// The document of settings object `s` (read from the argument called `path`).
/// `default_entity` fills a missing `entity` (the client's AoR); without it
/// `entity` is required.
pub(crate) fn to_document(
    mut s: SettingsObject,
    path: &str,
    default_entity: Option<&str>,
) -> Result<ServiceSettings, UaError> {
    let at = |name: &str| format!("{path}.{name}");
    let entity = match (field(s.entity.take(), &at("entity"))?, default_entity) {
        (Some(id), _) => id,
        (None, Some(d)) => d.to_owned(),
        (None, None) => {
            return Err(UaError::BadInput(format!(
                "{path}.entity: is required (the entity's AoR)"
            )))
        }
    };
    // The entity is the user's public identity; every string goes into the XML as
    // text, which has no place for control characters (they were dropped silently).
    let is_aor = crate::message::Uri::parse(entity.trim())
        .is_ok_and(|u| u.is_sip() || matches!(u.scheme(), crate::message::Scheme::Tel));
    if !is_aor {
        return Err(UaError::BadInput(format!(
            "{path}.entity: must be a sip:, sips: or tel: URI (the entity's AoR)"
        )));
    }
    let text = |v: Option<Val<String>>, name: &str| -> Result<Option<String>, UaError> {
        let v = field(v, &at(name))?;
        if v.as_deref()
            .is_some_and(|t| !t.chars().all(crate::settings::xml::is_xml_char))
        {
            return Err(UaError::BadInput(format!(
                "{}: has a control character XML cannot carry",
                at(name)
            )));
        }
        Ok(v)
    };
    let history = match s.history.take() {
        None => None,
        Some(h) => {
            let mut h = h.read(&at("history"))?;
            Some(History {
                active: required(h.active.take(), &at("history.active"))?,
                kind: check::integer(
                    &at("history.type"),
                    field(h.kind.take(), &at("history.type"))?,
                    0,
                    u32::MAX,
                )?,
            })
        }
    };
    let document = match s.extensions.take() {
        None => None,
        Some(x) => Some(required(
            x.read(&at("extensions"))?.xml,
            &at("extensions.xml"),
        )?),
    };
    let view = EntitySettings {
        entity,
        incoming_session_barring: field(
            s.incoming_session_barring.take(),
            &at("incomingSessionBarring"),
        )?,
        visibility: field(s.visibility.take(), &at("visibility"))?,
        offline_delivery: field(s.offline_delivery.take(), &at("offlineDelivery"))?,
        history,
        session_mode: text(s.session_mode.take(), "sessionMode")?,
        pager_large_mode: text(s.pager_large_mode.take(), "pagerLargeMode")?,
        service_id: text(s.service_id.take(), "serviceId")?,
        active: field(s.active.take(), &at("active"))?,
        document,
    };
    // The merge is imsip::settings' (tested natively there).
    view.to_document()
        .map_err(|e| UaError::BadInput(format!("{path}.extensions.xml: {e}")))
}

/// The object for the entity `aor` (or the first one) of `doc`, its whole document
/// as `extensions.xml` (its re-encoding keeps every unknown part).
pub(crate) fn doc_to_js(doc: &ServiceSettings, aor: &str) -> JsValue {
    write(&view_object(EntitySettings::from_document(doc, aor)))
}

/// The settings object of `v`.
pub(crate) fn view_object(v: EntitySettings) -> SettingsObject {
    SettingsObject {
        entity: Some(Val::Ok(v.entity)),
        incoming_session_barring: v.incoming_session_barring.map(Val::Ok),
        visibility: v.visibility.map(Val::Ok),
        offline_delivery: v.offline_delivery.map(Val::Ok),
        history: v.history.map(|h| {
            Sub::Value(HistoryObject {
                active: Some(Val::Ok(h.active)),
                kind: h.kind.map(|k| Val::Ok(f64::from(k))),
            })
        }),
        session_mode: v.session_mode.map(Val::Ok),
        pager_large_mode: v.pager_large_mode.map(Val::Ok),
        service_id: v.service_id.map(Val::Ok),
        active: v.active.map(Val::Ok),
        extensions: Some(Sub::Value(Extensions {
            xml: Some(Val::Ok(v.document.unwrap_or_default())),
        })),
    }
}
