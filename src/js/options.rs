//! `new ImClient(options)`: the options object into a [`Config`].
//!
//! The helpers of [`read`] are `#[inline(never)]`: inlined, their error paths and
//! drops made `read` the largest function of the module (−0.4 KB gzipped apart).

use super::obj::{check, field, read as read_object, required, Js, Sub, Val};
use super::settings::{self, SettingsObject};
use crate::auth::{hex_decode, AkaKeys, Credentials, Key, OpOrOpc};
use crate::client::{relay_uri, MsrpConfig};
use crate::message::text::split_once_str;
use crate::msrp::MsrpUri;
use crate::ua::{Config, PublishPolicy, UaError};
use js_sys::Function;
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};

/// The options object as the package's `ImClientOptions` (js/imsip.d.ts) types it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImClientOptions {
    server: Option<Js>,
    aor: Option<Val<String>>,
    username: Option<Val<String>>,
    password: Option<Val<String>>,
    ha1: Option<Val<String>>,
    aka: Option<Sub<AkaOptions>>,
    display_name: Option<Val<String>>,
    user_agent: Option<Val<String>>,
    expires: Option<Val<f64>>,
    instance_id: Option<Val<String>>,
    call_id: Option<Val<String>>,
    keep_alive_interval: Option<Val<f64>>,
    connect_timeout: Option<Val<f64>>,
    reconnect: Option<Sub<ReconnectOptions>>,
    service_settings: Option<Sub<SettingsObject>>,
    publish_policy: Option<Val<String>>,
    web_socket: Option<Js>,
    accept: Option<Val<Vec<String>>>,
    request_timeout: Option<Val<f64>>,
    auto_delivery: Option<Val<bool>>,
    composing_refresh: Option<Val<f64>>,
    composing_idle_timeout: Option<Val<f64>>,
    msrp_relay: Option<MsrpRelay>,
    large_message_threshold: Option<Val<f64>>,
    max_large_message_size: Option<Val<f64>>,
    extra_headers: Option<Val<Vec<String>>>,
    registrar: Option<Val<String>>,
}

#[derive(Deserialize)]
struct AkaOptions {
    k: Option<Val<String>>,
    op: Option<Val<String>>,
    opc: Option<Val<String>>,
    amf: Option<Val<String>>,
    sqn: Option<Val<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReconnectOptions {
    min_delay: Option<Val<f64>>,
    max_delay: Option<Val<f64>>,
}

/// `msrpRelay`: a URL, or `{ url, uri }`.
enum MsrpRelay {
    Url(String),
    Relay(Sub<RelayObject>),
}

#[derive(Deserialize)]
struct RelayObject {
    url: Option<Val<String>>,
    uri: Option<Val<String>>,
}

impl<'de> Deserialize<'de> for MsrpRelay {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Js(value) = Js::deserialize(d)?;
        match value.as_string() {
            Some(url) => Ok(MsrpRelay::Url(url)),
            None => Ok(MsrpRelay::Relay(Sub::Raw(value))),
        }
    }
}

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

/// `server`: a URL, or the core's URLs in order of preference (trimmed; the user
/// agent checks each).
#[inline(never)]
fn server_urls(value: Option<Js>) -> Result<Vec<String>, UaError> {
    const WHAT: &str = "server: must be a ws:// or wss:// URL, or a non-empty array of them";
    let value = match value {
        Some(Js(v)) if !v.is_undefined() && !v.is_null() => v,
        _ => return Err(bad(format!("{WHAT} (it is required)"))),
    };
    if let Some(url) = value.as_string() {
        return Ok(vec![url.trim().to_owned()]);
    }
    match string_list(&value) {
        Some(urls) if !urls.is_empty() => Ok(urls.iter().map(|u| u.trim().to_owned()).collect()),
        _ => Err(bad(WHAT.into())),
    }
}

/// An array of strings, or `None`.
pub(super) fn string_list(value: &JsValue) -> Option<Vec<String>> {
    let list = value.dyn_ref::<js_sys::Array>()?;
    let mut out = Vec::with_capacity(list.length() as usize);
    for i in 0..list.length() {
        out.push(list.get(i).as_string()?);
    }
    Some(out)
}

/// Header fields in JsSIP's and SIP.js's form, `'Name: value'` strings, as
/// `(name, value)` pairs (the user agent checks them).
#[inline(never)]
pub(super) fn header_lines(
    lines: Vec<String>,
    path: &str,
) -> Result<Vec<(String, String)>, UaError> {
    let mut out = Vec::with_capacity(lines.len());
    for line in &lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad(format!("{path}: each must be 'Name: value'")));
        };
        out.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(out)
}

/// A 128-bit key given as 32 hex digits. The message never shows the value.
fn key(path: &str, hex: Option<&str>) -> Result<Option<Key>, UaError> {
    match hex {
        None => Ok(None),
        Some(h) => Key::from_hex(h.trim())
            .map(Some)
            .ok_or_else(|| bad(format!("{path}: must be 32 hex digits"))),
    }
}

#[inline(never)]
fn aka(mut a: AkaOptions, username: String) -> Result<Credentials, UaError> {
    let k = required(a.k.take(), "aka.k")?;
    let k = key("aka.k", Some(&k))?.ok_or_else(|| bad("aka.k: is required".into()))?;
    let op = field(a.op.take(), "aka.op")?;
    let opc = field(a.opc.take(), "aka.opc")?;
    let op_or_opc = match (
        key("aka.op", op.as_deref())?,
        key("aka.opc", opc.as_deref())?,
    ) {
        (Some(op), None) => OpOrOpc::Op(op),
        (None, Some(opc)) => OpOrOpc::Opc(opc),
        (None, None) => return Err(bad("aka: one of aka.op or aka.opc is required".into())),
        (Some(_), Some(_)) => return Err(bad("aka: give aka.op or aka.opc, not both".into())),
    };
    let amf = match field(a.amf.take(), "aka.amf")? {
        None => [0x80, 0x00],
        Some(h) => hex_decode(h.trim())
            .and_then(|b| <[u8; 2]>::try_from(b).ok())
            .ok_or_else(|| bad("aka.amf: must be 4 hex digits".into()))?,
    };
    let sqn = match field(a.sqn.take(), "aka.sqn")? {
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

/// A timeout option: seconds from 1 to 3600, in milliseconds.
#[inline(never)]
fn timeout_ms(path: &str, value: Option<Val<f64>>) -> Result<Option<u64>, UaError> {
    let seconds = check::number(
        path,
        field(value, path)?,
        1.0,
        3600.0,
        "a number of seconds from 1 to 3600",
    )?;
    Ok(seconds.map(|t| (t * 1000.0).round() as u64))
}

/// Reads and checks every option; the error names the first bad field.
pub(crate) fn read(value: &JsValue) -> Result<Options, UaError> {
    if value.is_undefined() || value.is_null() {
        return Err(bad("options: must be an object".into()));
    }
    let mut o: ImClientOptions = read_object(value, "")?;
    let mut servers = server_urls(o.server.take())?;
    let server = servers.remove(0);
    let aor = required(o.aor.take(), "aor")?;
    let given_username = field(o.username.take(), "username")?;
    let password = field(o.password.take(), "password")?;
    let ha1 = field(o.ha1.take(), "ha1")?;
    let mut config = Config::new(&server, aor.trim()).map_err(|e| match e {
        // Config::new names the field in its own words; keep them.
        UaError::BadInput(m) => bad(m),
        other => other,
    })?;
    config.alternate_servers = servers;
    let username = match given_username.clone() {
        Some(u) if u.trim().is_empty() => return Err(bad("username: must not be empty".into())),
        Some(u) => u,
        None => config.aor.user_at_host(),
    };
    let secrets = [password.is_some(), ha1.is_some(), o.aka.is_some()];
    if secrets.iter().filter(|s| **s).count() > 1 {
        return Err(bad("password, ha1, aka: give at most one of them".into()));
    }
    if let Some(p) = password {
        config.credentials = Some(Credentials::password(username, p.into_bytes()));
    } else if let Some(h) = ha1 {
        let h = h.trim();
        if h.len() != 32 || hex_decode(h).is_none() {
            return Err(bad("ha1: must be 32 hex digits (an MD5 HA1)".into()));
        }
        config.credentials = Some(Credentials::ha1(username, h));
    } else if let Some(a) = o.aka.take() {
        let a = a.read("aka")?;
        config.credentials = Some(aka(a, username)?);
    } else if given_username.is_some() {
        return Err(bad("username: given without password, ha1 or aka".into()));
    }
    config.display_name = field(o.display_name.take(), "displayName")?;
    config.user_agent = field(o.user_agent.take(), "userAgent")?;
    if let Some(e) = check::integer("expires", field(o.expires.take(), "expires")?, 1, u32::MAX)? {
        config.expires = e;
    }
    config.instance_id = field(o.instance_id.take(), "instanceId")?;
    // Not needed: each client registers with a fresh Call-ID (the registrar replaces
    // the binding by instance and Contact). Still honoured for apps that pass one: a
    // registrar that refuses it 500 (an earlier load's higher CSeq, RFC 3261 §10.3
    // step 7) gets a fresh Call-ID at once.
    config.call_id = field(o.call_id.take(), "callId")?;
    if let Some(types) = field(o.accept.take(), "accept")? {
        for t in &types {
            if crate::message::MediaType::parse(t, "accept").is_err() && !t.ends_with("/*") {
                return Err(bad(format!("accept: not a media type: \"{t}\"")));
            }
        }
        config.accept_types = types;
    }
    if let Some(ms) = timeout_ms("requestTimeout", o.request_timeout.take())? {
        config.transaction_timeout = ms;
        config.work_wait_timeout = ms;
    }
    if let Some(ms) = timeout_ms("connectTimeout", o.connect_timeout.take())? {
        config.connect_timeout = ms;
    }
    if let Some(a) = field(o.auto_delivery.take(), "autoDelivery")? {
        config.auto_delivery = a;
    }
    // RFC 3994 §3.2: a refresh of at least 60 s.
    if let Some(r) = check::integer(
        "composingRefresh",
        field(o.composing_refresh.take(), "composingRefresh")?,
        60,
        3600,
    )? {
        config.composing_refresh = r;
    }
    if let Some(i) = check::integer(
        "composingIdleTimeout",
        field(o.composing_idle_timeout.take(), "composingIdleTimeout")?,
        1,
        3600,
    )? {
        config.composing_idle_timeout = i;
    }
    if let Some(k) = check::integer(
        "keepAliveInterval",
        field(o.keep_alive_interval.take(), "keepAliveInterval")?,
        0,
        86_400,
    )? {
        config.keep_alive_interval = k;
    }
    if let Some(r) = o.reconnect.take() {
        let mut r = r.read("reconnect")?;
        // Seconds in, milliseconds in the core; at most a day.
        let ms = |s: f64| (s * 1000.0).round() as u64;
        const RANGE: &str = "a number of seconds from 0.001 to 86400";
        if let Some(min) = check::number(
            "reconnect.minDelay",
            field(r.min_delay.take(), "reconnect.minDelay")?,
            0.001,
            86_400.0,
            RANGE,
        )? {
            config.reconnect_min_delay = ms(min);
        }
        if let Some(max) = check::number(
            "reconnect.maxDelay",
            field(r.max_delay.take(), "reconnect.maxDelay")?,
            0.001,
            86_400.0,
            RANGE,
        )? {
            config.reconnect_max_delay = ms(max);
        }
        if config.reconnect_min_delay > config.reconnect_max_delay {
            return Err(bad(
                "reconnect.minDelay: must not exceed reconnect.maxDelay".into(),
            ));
        }
    }
    if let Some(s) = o.service_settings.take() {
        let s = s.read("serviceSettings")?;
        let aor = config.aor.as_str().to_owned();
        config.service_settings = Some(settings::to_document(s, "serviceSettings", Some(&aor))?);
    }
    if let Some(p) = field(o.publish_policy.take(), "publishPolicy")? {
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
    if let Some(r) = field(o.registrar.take(), "registrar")? {
        let uri =
            crate::message::Uri::parse(r.trim()).map_err(|e| bad(format!("registrar: {e}")))?;
        config.registrar = Some(uri);
    }
    if let Some(lines) = field(o.extra_headers.take(), "extraHeaders")? {
        config.extra_headers = header_lines(lines, "extraHeaders")?;
    }
    // What the user agent copies into its requests as given (identity, product
    // tokens, instance, Call-ID, extra headers): well-formed, or refused here.
    config.validate()?;
    let msrp = msrp(
        o.msrp_relay.take(),
        field(o.large_message_threshold.take(), "largeMessageThreshold")?,
        field(o.max_large_message_size.take(), "maxLargeMessageSize")?,
        &config,
    )?;
    let web_socket = match o.web_socket.take() {
        None => None,
        Some(Js(f)) if f.is_undefined() => None,
        Some(Js(f)) => Some(
            f.dyn_into::<Function>()
                .map_err(|_| bad("webSocket: must be a constructor function".into()))?,
        ),
    };
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
#[inline(never)]
fn msrp(
    relay: Option<MsrpRelay>,
    threshold: Option<f64>,
    max_size: Option<f64>,
    config: &Config,
) -> Result<Option<MsrpConfig>, UaError> {
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
    let (url, uri) = match relay {
        None => (default_relay(&config.server), None),
        Some(MsrpRelay::Url(url)) => (url, None),
        Some(MsrpRelay::Relay(r)) => {
            let mut r = r.read("msrpRelay")?;
            (
                required(r.url.take(), "msrpRelay.url")?,
                field(r.uri.take(), "msrpRelay.uri")?,
            )
        }
    };
    let mut m = MsrpConfig::new(url.trim(), credentials)?;
    if let Some(uri) = uri {
        m.relay = MsrpUri::parse(uri.trim()).map_err(|e| bad(format!("msrpRelay.uri: {e}")))?;
    } else {
        m.relay = relay_uri(url.trim())?;
    }
    if let Some(t) = check::integer("largeMessageThreshold", threshold, 0, u32::MAX)? {
        m.large_message_threshold = t as usize;
    }
    if let Some(max) = check::number(
        "maxLargeMessageSize",
        max_size,
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
    let (scheme, rest) = split_once_str(server, "://").unwrap_or(("ws", server));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!("{scheme}://{authority}/msrp")
}
