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

use super::obj::{Fields, Obj};
use crate::settings::{EntitySettings, History, ServiceSettings};
use crate::ua::UaError;
use wasm_bindgen::JsValue;

const KEYS: &[&str] = &[
    "entity",
    "incomingSessionBarring",
    "visibility",
    "offlineDelivery",
    "history",
    "sessionMode",
    "pagerLargeMode",
    "serviceId",
    "active",
    "extensions",
];

/// Reads a settings object. `default_entity` fills a missing `entity` (the client's
/// AoR); without it `entity` is required.
pub(crate) fn from_js(
    value: &JsValue,
    path: &str,
    default_entity: Option<&str>,
) -> Result<ServiceSettings, UaError> {
    let f = Fields::new(value, path, KEYS)?;
    let id = match (f.string("entity")?, default_entity) {
        (Some(id), _) => id,
        (None, Some(d)) => d.to_owned(),
        (None, None) => {
            return Err(UaError::BadInput(format!(
                "{}: is required (the entity's AoR)",
                f.path("entity")
            )))
        }
    };
    let history = match f.get("history") {
        None => None,
        Some(h) => {
            let p = f.path("history");
            let h = Fields::new(&h, &p, &["active", "type"])?;
            let active = h.bool("active")?.ok_or_else(|| {
                UaError::BadInput(format!("{}: is required (a boolean)", h.path("active")))
            })?;
            Some(History {
                active,
                kind: h.integer("type", 0, u32::MAX)?,
            })
        }
    };
    let document = match f.get("extensions") {
        None => None,
        Some(x) => {
            let p = f.path("extensions");
            let x = Fields::new(&x, &p, &["xml"])?;
            Some(x.required_string("xml")?)
        }
    };
    let view = EntitySettings {
        entity: id,
        incoming_session_barring: f.bool("incomingSessionBarring")?,
        visibility: f.bool("visibility")?,
        offline_delivery: f.bool("offlineDelivery")?,
        history,
        session_mode: f.string("sessionMode")?,
        pager_large_mode: f.string("pagerLargeMode")?,
        service_id: f.string("serviceId")?,
        active: f.bool("active")?,
        document,
    };
    // The merge is imsip::settings' (tested natively there).
    view.to_document()
        .map_err(|e| UaError::BadInput(format!("{}: {e}", f.path("extensions.xml"))))
}

/// The object for the entity `aor` (or the first one) of `doc`, its whole document
/// as `extensions.xml` (its re-encoding keeps every unknown part).
pub(crate) fn doc_to_js(doc: &ServiceSettings, aor: &str) -> JsValue {
    view_to_js(&EntitySettings::from_document(doc, aor))
}

/// The settings object of `v`.
pub(crate) fn view_to_js(v: &EntitySettings) -> JsValue {
    let o = Obj::new();
    o.str("entity", &v.entity)
        .opt_bool("incomingSessionBarring", v.incoming_session_barring)
        .opt_bool("visibility", v.visibility)
        .opt_bool("offlineDelivery", v.offline_delivery);
    if let Some(h) = v.history {
        let ho = Obj::new();
        ho.opt_bool("active", Some(h.active))
            .opt_num("type", h.kind.map(f64::from));
        o.set("history", &ho.done());
    }
    o.opt_str("sessionMode", v.session_mode.as_deref())
        .opt_str("pagerLargeMode", v.pager_large_mode.as_deref())
        .opt_str("serviceId", v.service_id.as_deref())
        .opt_bool("active", v.active);
    let x = Obj::new();
    x.str("xml", v.document.as_deref().unwrap_or(""));
    o.set("extensions", &x.done());
    o.done()
}
