//! Service settings as one plain object for ONE entity (the AoR's):
//!
//! ```text
//! { entity, incomingSessionBarring?, visibility?, offlineDelivery?,
//!   history?: { active, type? }, sessionMode?, pagerLargeMode?, serviceId?, active?,
//!   extensions?: { xml } }
//! ```
//!
//! `extensions.xml` is the whole document the object was decoded from (other
//! entities, unknown elements and attributes included). Encoding decodes it again,
//! sets the typed fields on the entity named `entity` (a field left out removes the
//! element) and re-encodes, so a read-modify-write keeps everything the typed
//! fields cannot hold. Without `extensions`, a new one-entity document is written.

use super::obj::{Fields, Obj};
use crate::settings::{Entity, History, ServiceSettings};
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
    let mut doc = match f.get("extensions") {
        None => ServiceSettings::default(),
        Some(x) => {
            let p = f.path("extensions");
            let x = Fields::new(&x, &p, &["xml"])?;
            let xml = x.required_string("xml")?;
            ServiceSettings::decode(xml.as_bytes())
                .map_err(|e| UaError::BadInput(format!("{}: {e}", x.path("xml"))))?
        }
    };
    let e: &mut Entity = doc.entity_mut(&id);
    e.incoming_session_barring = f.bool("incomingSessionBarring")?;
    e.visibility = f.bool("visibility")?;
    e.offline_delivery = f.bool("offlineDelivery")?;
    e.history = history;
    e.session_mode = f.string("sessionMode")?;
    e.pager_large_mode = f.string("pagerLargeMode")?;
    e.service_id = f.string("serviceId")?;
    e.active = f.bool("active")?;
    Ok(doc)
}

/// The object for the entity `aor` (or the first one) of `doc`, decoded from `xml`.
/// A document without entities gives `{ entity: aor, extensions }`.
pub(crate) fn to_js(doc: &ServiceSettings, aor: &str, xml: &str) -> JsValue {
    let entity = doc.for_entity(aor).or_else(|| doc.entities.first());
    let o = Obj::new();
    match entity {
        None => {
            o.str("entity", aor);
        }
        Some(e) => {
            o.str("entity", &e.id)
                .opt_bool("incomingSessionBarring", e.incoming_session_barring)
                .opt_bool("visibility", e.visibility)
                .opt_bool("offlineDelivery", e.offline_delivery);
            if let Some(h) = e.history {
                let ho = Obj::new();
                ho.opt_bool("active", Some(h.active))
                    .opt_num("type", h.kind.map(f64::from));
                o.set("history", &ho.done());
            }
            o.opt_str("sessionMode", e.session_mode.as_deref())
                .opt_str("pagerLargeMode", e.pager_large_mode.as_deref())
                .opt_str("serviceId", e.service_id.as_deref())
                .opt_bool("active", e.active);
        }
    }
    let x = Obj::new();
    x.str("xml", xml);
    o.set("extensions", &x.done());
    o.done()
}

/// [`to_js`] for a document the user agent decoded (its re-encoding keeps every
/// unknown part).
pub(crate) fn doc_to_js(doc: &ServiceSettings, aor: &str) -> JsValue {
    to_js(doc, aor, &doc.encode())
}
