//! `new ImClient(options)`: the options object into a [`Config`].

use super::obj::Fields;
use super::settings;
use crate::auth::{hex_decode, AkaKeys, Credentials, Key, OpOrOpc};
use crate::client::{relay_uri, MsrpConfig};
use crate::msrp::MsrpUri;
use crate::ua::{Config, PublishPolicy, UaError};
use js_sys::Function;
use wasm_bindgen::JsValue;

const KEYS: &[&str] = &[
    "server",
    "aor",
    "username",
    "password",
    "ha1",
    "aka",
    "displayName",
    "userAgent",
    "expires",
    "instanceId",
    "callId",
    "keepAliveInterval",
    "reconnect",
    "serviceSettings",
    "publishPolicy",
    "webSocket",
    "accept",
    "requestTimeout",
    "autoDelivery",
    "composingRefresh",
    "composingIdleTimeout",
    "msrpRelay",
    "largeMessageThreshold",
    "maxLargeMessageSize",
];

/// What the binding needs besides the user agent's configuration.
pub(crate) struct Options {
    pub config: Config,
    /// The MSRP relay and limits (large messages, chat sessions).
    pub msrp: Option<MsrpConfig>,
    /// The WebSocket constructor to use instead of the global one.
    pub web_socket: Option<Function>,
}

fn bad(msg: String) -> UaError {
    UaError::BadInput(msg)
}

/// A 128-bit key given as 32 hex digits. The message never shows the value.
fn key(f: &Fields<'_>, name: &str) -> Result<Option<Key>, UaError> {
    match f.string(name)? {
        None => Ok(None),
        Some(h) => Key::from_hex(h.trim())
            .map(Some)
            .ok_or_else(|| bad(format!("{}: must be 32 hex digits", f.path(name)))),
    }
}

fn aka(value: &JsValue, username: String) -> Result<Credentials, UaError> {
    let f = Fields::new(value, "aka", &["k", "op", "opc", "amf", "sqn"])?;
    let k = key(&f, "k")?.ok_or_else(|| bad("aka.k: is required (32 hex digits)".into()))?;
    let op_or_opc = match (key(&f, "op")?, key(&f, "opc")?) {
        (Some(op), None) => OpOrOpc::Op(op),
        (None, Some(opc)) => OpOrOpc::Opc(opc),
        (None, None) => return Err(bad("aka: one of aka.op or aka.opc is required".into())),
        (Some(_), Some(_)) => return Err(bad("aka: give aka.op or aka.opc, not both".into())),
    };
    let amf = match f.string("amf")? {
        None => [0x80, 0x00],
        Some(h) => hex_decode(h.trim())
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .ok_or_else(|| bad("aka.amf: must be 4 hex digits".into()))?,
    };
    let sqn = match f.string("sqn")? {
        None => 0,
        Some(h) => {
            let h = h.trim();
            if h.is_empty() || h.len() > 12 {
                return Err(bad("aka.sqn: must be 1 to 12 hex digits (48 bits)".into()));
            }
            u64::from_str_radix(h, 16)
                .map_err(|_| bad("aka.sqn: must be 1 to 12 hex digits (48 bits)".into()))?
        }
    };
    let keys = AkaKeys { k, op_or_opc, amf };
    Ok(Credentials::aka(username, keys, sqn))
}

/// Reads and checks every option; the error names the first bad field.
pub(crate) fn read(value: &JsValue) -> Result<Options, UaError> {
    let f = Fields::new(value, "", KEYS)?;
    let server = f.required_string("server")?;
    let aor = f.required_string("aor")?;
    let mut config = Config::new(server.trim(), aor.trim()).map_err(|e| match e {
        // Config::new names the field in its own words; keep them.
        UaError::BadInput(m) => bad(m),
        other => other,
    })?;
    let username = match f.string("username")? {
        Some(u) if u.trim().is_empty() => return Err(bad("username: must not be empty".into())),
        Some(u) => u,
        None => config.aor.user_at_host(),
    };
    let secrets = [
        f.get("password").is_some(),
        f.get("ha1").is_some(),
        f.get("aka").is_some(),
    ];
    if secrets.iter().filter(|s| **s).count() > 1 {
        return Err(bad("password, ha1, aka: give at most one of them".into()));
    }
    if let Some(p) = f.string("password")? {
        config.credentials = Some(Credentials::password(username, p.into_bytes()));
    } else if let Some(h) = f.string("ha1")? {
        let h = h.trim();
        if h.len() != 32 || hex_decode(h).is_none() {
            return Err(bad("ha1: must be 32 hex digits (an MD5 HA1)".into()));
        }
        config.credentials = Some(Credentials::ha1(username, h));
    } else if let Some(a) = f.get("aka") {
        config.credentials = Some(aka(&a, username)?);
    } else if f.get("username").is_some() {
        return Err(bad("username: given without password, ha1 or aka".into()));
    }
    config.display_name = f.string("displayName")?;
    config.user_agent = f.string("userAgent")?;
    if let Some(e) = f.integer("expires", 1, u32::MAX)? {
        config.expires = e;
    }
    config.instance_id = f.string("instanceId")?;
    // Not needed: each client registers with a fresh Call-ID (the registrar replaces
    // the binding by instance and Contact). Still honoured for apps that pass one: a
    // registrar that refuses it 500 (an earlier load's higher CSeq, RFC 3261 §10.3
    // step 7) gets a fresh Call-ID at once.
    config.call_id = f.string("callId")?;
    if let Some(types) = f.strings("accept")? {
        for t in &types {
            if crate::message::MediaType::parse(t, "accept").is_err() && !t.ends_with("/*") {
                return Err(bad(format!("accept: not a media type: \"{t}\"")));
            }
        }
        config.accept_types = types;
    }
    if let Some(t) = f.number(
        "requestTimeout",
        1.0,
        3600.0,
        "a number of seconds from 1 to 3600",
    )? {
        let ms = (t * 1000.0).round() as u64;
        config.transaction_timeout = ms;
        config.work_wait_timeout = ms;
    }
    if let Some(a) = f.bool("autoDelivery")? {
        config.auto_delivery = a;
    }
    // RFC 3994 §3.2: a refresh of at least 60 s.
    if let Some(r) = f.integer("composingRefresh", 60, 3600)? {
        config.composing_refresh = r;
    }
    if let Some(i) = f.integer("composingIdleTimeout", 1, 3600)? {
        config.composing_idle_timeout = i;
    }
    if let Some(k) = f.integer("keepAliveInterval", 0, 86_400)? {
        config.keep_alive_interval = k;
    }
    if let Some(r) = f.get("reconnect") {
        let r = Fields::new(&r, "reconnect", &["minDelay", "maxDelay"])?;
        // Seconds in, milliseconds in the core; at most a day.
        let ms = |s: f64| (s * 1000.0).round() as u64;
        const RANGE: &str = "a number of seconds from 0.001 to 86400";
        if let Some(min) = r.number("minDelay", 0.001, 86_400.0, RANGE)? {
            config.reconnect_min_delay = ms(min);
        }
        if let Some(max) = r.number("maxDelay", 0.001, 86_400.0, RANGE)? {
            config.reconnect_max_delay = ms(max);
        }
        if config.reconnect_min_delay > config.reconnect_max_delay {
            return Err(bad(
                "reconnect.minDelay: must not exceed reconnect.maxDelay".into(),
            ));
        }
    }
    if let Some(s) = f.get("serviceSettings") {
        let aor = config.aor.as_str().to_owned();
        config.service_settings = Some(settings::from_js(&s, "serviceSettings", Some(&aor))?);
    }
    if let Some(p) = f.string("publishPolicy")? {
        config.publish_policy = match p.as_str() {
            "if-absent" => PublishPolicy::IfAbsent,
            "always" => PublishPolicy::Always,
            "never" => PublishPolicy::Never,
            _ => {
                return Err(bad(
                    "publishPolicy: must be 'if-absent', 'always' or 'never'".into(),
                ))
            }
        };
    }
    let msrp = msrp(&f, &config)?;
    let web_socket = f.function("webSocket")?;
    Ok(Options {
        config,
        msrp,
        web_socket,
    })
}

/// The MSRP relay (`msrpRelay`: a `ws(s)://` URL, or `{ url, uri }` when its MSRP
/// URI is not the one its URL gives; default: the server's origin with path
/// `/msrp`), with copies of the password or HA1 (AKA answers no MSRP relay), and
/// the large-message limits.
fn msrp(f: &Fields<'_>, config: &Config) -> Result<Option<MsrpConfig>, UaError> {
    use crate::auth::CredentialSecret;
    let credentials = config.credentials.as_ref().and_then(|c| match &c.secret {
        CredentialSecret::Password(p) => Some(Credentials::password(
            c.username.clone(),
            p.expose().to_vec(),
        )),
        CredentialSecret::Ha1(h) => Some(Credentials::ha1(
            c.username.clone(),
            &String::from_utf8_lossy(h.expose()),
        )),
        CredentialSecret::Aka(_) => None,
    });
    let (url, uri) = match f.get("msrpRelay") {
        None => (default_relay(&config.server), None),
        Some(v) if v.is_string() => (v.as_string().unwrap_or_default(), None),
        Some(v) => {
            let r = Fields::new(&v, "msrpRelay", &["url", "uri"])?;
            (r.required_string("url")?, r.string("uri")?)
        }
    };
    let mut m = MsrpConfig::new(url.trim(), credentials)?;
    if let Some(uri) = uri {
        m.relay = MsrpUri::parse(uri.trim()).map_err(|e| bad(format!("msrpRelay.uri: {e}")))?;
    } else {
        m.relay = relay_uri(url.trim())?;
    }
    if let Some(t) = f.integer("largeMessageThreshold", 0, u32::MAX)? {
        m.large_message_threshold = t as usize;
    }
    if let Some(max) = f.number(
        "maxLargeMessageSize",
        1.0,
        2f64.powi(40),
        "a number of bytes from 1 to 2^40",
    )? {
        m.max_large_message_size = max as u64;
    }
    Ok(Some(m))
}

/// `ws(s)://host[:port]/msrp` for the server `ws(s)://host[:port]/...`: devcore's
/// relay; Kamailio with `sub_protocols` 3 takes any path.
fn default_relay(server: &str) -> String {
    let (scheme, rest) = server.split_once("://").unwrap_or(("ws", server));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{authority}/msrp")
}
