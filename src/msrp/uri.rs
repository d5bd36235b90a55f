//! MSRP URIs (RFC 4975 §6, §9; RFC 7977 §5 for the `ws` transport):
//!
//! ```text
//! msrp://alice@atlanta.example.com:7654/jshA7weztas;tcp;x=1
//! └┬─┘   └─┬─┘ └───────┬─────────┘└┬─┘ └────┬────┘ └┬┘ └┬┘
//! scheme userinfo     host        port  session-id transport params
//! ```
//!
//! `msrps` is the TLS form (over WebSocket: `wss`). The transport is required; the
//! session-id is absent in a relay's own URI (`msrps://relay.example.com;tcp`,
//! RFC 4976). A WebSocket client has no address of its own to put in its URI and uses
//! a random `.invalid` host (`msrp://df7jal23ls0d.invalid/2s93i93idj;ws`, RFC 7977).

use super::ident::is_token;
use super::MsrpError;
use crate::message::text::{find_any, push_decimal, split_once_str, trim_start};
use crate::message::Host;
use core::fmt;
use core::str::FromStr;

/// The transport parameter of an MSRP URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// `tcp` (RFC 4975): TCP, or TLS under `msrps`.
    Tcp,
    /// `ws` (RFC 7977): WebSocket, or secure WebSocket under `msrps`.
    Ws,
    /// `wss`: not registered by RFC 7977 (which writes a secure WebSocket as
    /// `msrps://…;ws`) but written by some stacks; read so that it can be matched.
    Wss,
    /// Any other `1*ALPHANUM` value, as written.
    Other(String),
}

impl Transport {
    /// The value as written in a URI.
    pub fn as_str(&self) -> &str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
            Transport::Other(s) => s,
        }
    }

    /// Reads a transport value: known ones case-insensitively (RFC 4975 §6.1).
    fn parse(s: &str) -> Result<Transport, MsrpError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(MsrpError::BadUri("transport is not letters and digits"));
        }
        Ok(match s {
            _ if s.eq_ignore_ascii_case("tcp") => Transport::Tcp,
            _ if s.eq_ignore_ascii_case("ws") => Transport::Ws,
            _ if s.eq_ignore_ascii_case("wss") => Transport::Wss,
            _ => Transport::Other(s.to_owned()),
        })
    }

    fn same(&self, other: &Transport) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An MSRP URI. [`MsrpUri::parse`] reads one, `Display` writes it back (scheme and
/// known transports lower-cased, everything else as read), and parsing what it
/// prints gives the same URI. `==` compares every part as read;
/// [`MsrpUri::matches`] is the RFC 4975 §6.1 comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsrpUri {
    secure: bool,
    userinfo: Option<String>,
    host: Host,
    port: Option<u16>,
    session_id: Option<String>,
    transport: Transport,
    params: Vec<(String, Option<String>)>,
}

/// RFC 3986 `unreserved`.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// RFC 3986 `sub-delims`.
fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// RFC 3986 `userinfo = *( unreserved / pct-encoded / sub-delims / ":" )`, non-empty.
fn valid_userinfo(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if is_unreserved(c) || is_sub_delim(c) || c == b':' {
            i += 1;
        } else {
            return false;
        }
    }
    !b.is_empty()
}

/// RFC 4975 §9 `session-id = 1*( unreserved / "+" / "=" / "/" )`.
fn valid_session_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| is_unreserved(b) || matches!(b, b'+' | b'=' | b'/'))
}

/// `host[:port]`, the host a name, an IPv4 address or a bracketed IPv6 reference.
fn parse_host_port(s: &str) -> Result<(Host, Option<u16>), MsrpError> {
    let (host, port) = if s.starts_with('[') {
        let close = s
            .find(']')
            .ok_or(MsrpError::BadUri("unterminated IPv6 reference"))?;
        let (h, rest) = s.split_at(close + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err(MsrpError::BadUri("text after the IPv6 reference")),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MsrpError::BadUri("port is not a number"));
            }
            Some(
                p.parse::<u16>()
                    .map_err(|_| MsrpError::BadUri("port above 65535"))?,
            )
        }
    };
    let host = Host::parse(host).map_err(|_| MsrpError::BadUri("invalid host"))?;
    Ok((host, port))
}

impl MsrpUri {
    /// Reads `msrp[s]://[userinfo@]host[:port][/session-id];transport[;param[=value]]...`
    /// (RFC 4975 §9 `MSRP-URI`). The scheme and known transports are matched
    /// case-insensitively; nothing else is changed.
    pub fn parse(text: &str) -> Result<MsrpUri, MsrpError> {
        let (scheme, rest) =
            split_once_str(text, "://").ok_or(MsrpError::BadUri("no `msrp://` or `msrps://`"))?;
        let secure = if scheme.eq_ignore_ascii_case("msrp") {
            false
        } else if scheme.eq_ignore_ascii_case("msrps") {
            true
        } else {
            return Err(MsrpError::BadUri("scheme is not msrp or msrps"));
        };
        // Only the userinfo may hold '@' (and ';'): session-ids and params cannot.
        let (userinfo, rest) = match rest.split_once('@') {
            Some((u, r)) => {
                if !valid_userinfo(u) || r.contains('@') {
                    return Err(MsrpError::BadUri("invalid userinfo"));
                }
                (Some(u.to_owned()), r)
            }
            None => (None, rest),
        };
        let end = find_any(rest, b"/;").unwrap_or(rest.len());
        let (host_port, rest) = rest.split_at(end);
        let (host, port) = parse_host_port(host_port)?;
        let (session_id, rest) = match rest.strip_prefix('/') {
            Some(r) => {
                let end = r.find(';').unwrap_or(r.len());
                let (id, r) = r.split_at(end);
                if !valid_session_id(id) {
                    return Err(MsrpError::BadUri("invalid session-id"));
                }
                (Some(id.to_owned()), r)
            }
            None => (None, rest),
        };
        let mut parts = rest
            .strip_prefix(';')
            .ok_or(MsrpError::BadUri("no ;transport"))?
            .split(';');
        let transport = Transport::parse(parts.next().unwrap_or_default())?;
        let mut params = Vec::new();
        for p in parts {
            let (name, value) = match p.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if !is_token(name) || !value.is_none_or(is_token) {
                return Err(MsrpError::BadUri("URI parameter is not token[=token]"));
            }
            params.push((name.to_owned(), value.map(str::to_owned)));
        }
        Ok(MsrpUri {
            secure,
            userinfo,
            host,
            port,
            session_id,
            transport,
            params,
        })
    }

    /// `msrps` (TLS) rather than `msrp`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// `"msrp"` or `"msrps"`.
    pub fn scheme(&self) -> &'static str {
        if self.secure {
            "msrps"
        } else {
            "msrp"
        }
    }

    /// The userinfo before `@`, as written (percent escapes kept).
    pub fn userinfo(&self) -> Option<&str> {
        self.userinfo.as_deref()
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port, when written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The session-id after the authority's `/`, when present.
    pub fn session_id(&self) -> Option<&str> {
        self.session_id.as_deref()
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Whether the transport is a WebSocket (`ws`, or the unregistered `wss`).
    pub fn is_websocket(&self) -> bool {
        matches!(self.transport, Transport::Ws | Transport::Wss)
    }

    /// The parameters after the transport, names and values as written.
    pub fn params(&self) -> &[(String, Option<String>)] {
        &self.params
    }

    /// A parameter by name (case-insensitive): `Some(None)` for a parameter without a
    /// value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// RFC 4975 §6.1 equality: same scheme, host (case-insensitive), port (an
    /// absent port equals only an absent port), session-id (case-sensitive) and
    /// transport (case-insensitive); the userinfo and the parameters do not count.
    pub fn matches(&self, other: &MsrpUri) -> bool {
        let same_host = match (&self.host, &other.host) {
            (Host::Name(a), Host::Name(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        };
        self.secure == other.secure
            && same_host
            && self.port == other.port
            && self.session_id == other.session_id
            && self.transport.same(&other.transport)
    }
}

impl FromStr for MsrpUri {
    type Err = MsrpError;

    fn from_str(s: &str) -> Result<MsrpUri, MsrpError> {
        MsrpUri::parse(s)
    }
}

impl MsrpUri {
    /// Appends the URI's text (what `Display` writes), without the formatting machinery.
    pub(crate) fn push_to(&self, out: &mut String) {
        out.push_str(self.scheme());
        out.push_str("://");
        if let Some(u) = &self.userinfo {
            out.push_str(u);
            out.push('@');
        }
        self.host.push_to(out);
        if let Some(p) = self.port {
            out.push(':');
            push_decimal(out, u64::from(p));
        }
        if let Some(s) = &self.session_id {
            out.push('/');
            out.push_str(s);
        }
        out.push(';');
        out.push_str(self.transport.as_str());
        for (name, value) in &self.params {
            out.push(';');
            out.push_str(name);
            if let Some(v) = value {
                out.push('=');
                out.push_str(v);
            }
        }
    }

    /// The URI's text (as `to_string()`, see [`MsrpUri::push_to`]).
    pub(crate) fn text(&self) -> String {
        let mut out = String::new();
        self.push_to(&mut out);
        out
    }
}

impl fmt::Display for MsrpUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Reads a path header value: one or more MSRP URIs separated by spaces (RFC 4975 §9
/// `To-Path`, `From-Path`; RFC 4976 `Use-Path`). Runs of SP/HTAB count as one.
pub(crate) fn parse_path(value: &str, header: &'static str) -> Result<Vec<MsrpUri>, MsrpError> {
    let mut uris = Vec::new();
    let mut rest = trim_start(value);
    while !rest.is_empty() {
        let end = find_any(rest, b" \t").unwrap_or(rest.len());
        let (uri, after) = rest.split_at(end);
        uris.push(MsrpUri::parse(uri).map_err(|e| bad_path(header, e))?);
        rest = trim_start(after);
    }
    if uris.is_empty() {
        return Err(MsrpError::BadPath {
            header,
            what: "no URI",
        });
    }
    Ok(uris)
}

fn bad_path(header: &'static str, e: MsrpError) -> MsrpError {
    match e {
        MsrpError::BadUri(what) => MsrpError::BadPath { header, what },
        other => other,
    }
}

/// Writes a path: the URIs separated by one space.
pub(crate) fn write_path(out: &mut String, uris: &[MsrpUri]) {
    for (i, u) in uris.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        u.push_to(out);
    }
}
