//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966), and any other
//! scheme kept as an opaque absolute URI. Printing a parsed URI gives back the text
//! it was parsed from.

use super::text::{find_any, Params};
use core::fmt;
use core::str::FromStr;

/// The scheme of a [`Uri`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheme {
    /// `sip:`
    Sip,
    /// `sips:`
    Sips,
    /// `tel:`
    Tel,
    /// Any other scheme (lower-cased), e.g. `http`, `urn`, `im`.
    Other(String),
}

/// The host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A domain name (`example.net`, `abc123.invalid`).
    Name(String),
    /// A dotted IPv4 address.
    Ipv4(std::net::Ipv4Addr),
    /// An IPv6 reference; printed in brackets.
    Ipv6(std::net::Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(n) => f.write_str(n),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

impl Host {
    /// Parses `hostname / IPv4address / IPv6reference` (the whole string).
    pub fn parse(s: &str) -> Result<Host, &'static str> {
        if let Some(inner) = s.strip_prefix('[') {
            let inner = inner
                .strip_suffix(']')
                .ok_or("unterminated IPv6 reference")?;
            // RFC 5118 §4.1/§4.2: the reference must be a valid IPv6 address.
            return inner
                .parse::<std::net::Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| "invalid IPv6 reference");
        }
        if s.is_empty() {
            return Err("empty host");
        }
        // One pass: classify as dotted digits (IPv4 candidate) or a hostname.
        // hostname = *( domainlabel "." ) toplabel [ "." ]; labels are alphanum and '-';
        // '_' is tolerated: it is common in real deployments.
        let mut digits_and_dots = true;
        let mut prev_dot = true; // rejects a leading dot and ".."
        for &b in s.as_bytes() {
            match b {
                b'.' if prev_dot => return Err("invalid host"),
                b'.' => prev_dot = true,
                b'0'..=b'9' => prev_dot = false,
                b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'_' => {
                    digits_and_dots = false;
                    prev_dot = false;
                }
                _ => return Err("invalid host"),
            }
        }
        if digits_and_dots {
            if let Ok(a) = s.parse::<std::net::Ipv4Addr>() {
                return Ok(Host::Ipv4(a));
            }
        }
        Ok(Host::Name(s.to_owned()))
    }
}

/// Splits `host[:port]` where host may be an IPv6 reference.
pub(crate) fn parse_host_port(s: &str) -> Result<(Host, Option<u16>), &'static str> {
    let (host, port) = if s.starts_with('[') {
        let end = memchr::memchr(b']', s.as_bytes()).ok_or("unterminated IPv6 reference")?;
        let (h, rest) = s.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(p) => (h, Some(p)),
            None if rest.is_empty() => (h, None),
            None => return Err("unexpected characters after IPv6 reference"),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err("invalid port");
            }
            Some(p.parse::<u16>().map_err(|_| "port out of range")?)
        }
    };
    Ok((Host::parse(host)?, port))
}

/// A parsed URI. The original text is kept, so printing round-trips exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    text: String,
    scheme: Scheme,
    user: Option<String>,
    password: Option<String>,
    host: Option<Host>,
    port: Option<u16>,
    params: Params,
    headers: Vec<(String, String)>,
}

/// Why a URI was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriError(pub &'static str);

impl fmt::Display for UriError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URI: {}", self.0)
    }
}

impl std::error::Error for UriError {}

/// `unreserved / escaped` (RFC 3261 §25.1), the base of every URI character class
/// below; `%` is checked separately by [`escapes_ok`].
fn is_unreserved_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')' | b'%'
        )
}

fn is_user_byte(b: u8) -> bool {
    // unreserved / escaped / user-unreserved (RFC 3261 §25.1). '#' is not allowed
    // by the grammar but is common in real user parts (JsSIP and SIP.js users
    // report it from PBX dial strings); accept it.
    is_unreserved_byte(b)
        || matches!(
            b,
            b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/' | b'#'
        )
}

fn is_password_byte(b: u8) -> bool {
    // unreserved / escaped / "&" / "=" / "+" / "$" / ","
    is_unreserved_byte(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_byte(b: u8) -> bool {
    // paramchar = param-unreserved / unreserved / escaped
    is_unreserved_byte(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_hdr_byte(b: u8) -> bool {
    // hnv-unreserved / hname-unreserved / unreserved / escaped
    is_unreserved_byte(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Checks that every `%` starts a two-hex-digit escape.
fn escapes_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// Decodes `%XX` escapes (invalid UTF-8 results are replaced, never panic).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Uri {
    /// Parses an absolute URI. `sip:`, `sips:` and `tel:` are parsed into parts;
    /// other schemes are validated only as `scheme ":" 1*uric` and kept opaque.
    pub fn parse(text: &str) -> Result<Uri, UriError> {
        let colon = memchr::memchr(b':', text.as_bytes()).ok_or(UriError("missing scheme"))?;
        let scheme_text = &text[..colon];
        let mut sb = scheme_text.bytes();
        if !sb.next().is_some_and(|b| b.is_ascii_alphabetic())
            || !sb.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return Err(UriError("invalid scheme"));
        }
        let rest = &text[colon + 1..];
        if rest.is_empty() {
            return Err(UriError("empty URI after scheme"));
        }
        if rest
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'<' || b == b'>' || b == b'"')
        {
            return Err(UriError("forbidden character in URI"));
        }
        let scheme = if scheme_text.eq_ignore_ascii_case("sip") {
            Scheme::Sip
        } else if scheme_text.eq_ignore_ascii_case("sips") {
            Scheme::Sips
        } else if scheme_text.eq_ignore_ascii_case("tel") {
            Scheme::Tel
        } else {
            Scheme::Other(scheme_text.to_ascii_lowercase())
        };
        let mut uri = Uri {
            text: text.to_owned(),
            scheme,
            user: None,
            password: None,
            host: None,
            port: None,
            params: Params::default(),
            headers: Vec::new(),
        };
        match uri.scheme {
            Scheme::Sip | Scheme::Sips => uri.parse_sip(rest)?,
            Scheme::Tel => uri.parse_tel(rest)?,
            Scheme::Other(_) => {}
        }
        Ok(uri)
    }

    fn parse_sip(&mut self, rest: &str) -> Result<(), UriError> {
        // userinfo ends at the first '@' (an unescaped '@' cannot occur in user or password).
        let (userinfo, hostpart) = match memchr::memchr(b'@', rest.as_bytes()) {
            Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
            None => (None, rest),
        };
        if let Some(ui) = userinfo {
            let (user, password) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if user.is_empty() || !user.bytes().all(is_user_byte) || !escapes_ok(user) {
                return Err(UriError("invalid user part"));
            }
            if let Some(p) = password {
                if !p.bytes().all(is_password_byte) || !escapes_ok(p) {
                    return Err(UriError("invalid password"));
                }
                self.password = Some(p.to_owned());
            }
            self.user = Some(user.to_owned());
        }
        let end = find_any(hostpart, b";?").unwrap_or(hostpart.len());
        let (host, port) = parse_host_port(&hostpart[..end]).map_err(UriError)?;
        self.host = Some(host);
        self.port = port;
        let mut tail = &hostpart[end..];
        if tail.starts_with(';') {
            let q = memchr::memchr(b'?', tail.as_bytes()).unwrap_or(tail.len());
            let ptext = &tail[..q];
            if !ptext
                .bytes()
                .all(|b| b == b';' || b == b'=' || is_param_byte(b))
                || !escapes_ok(ptext)
            {
                return Err(UriError("invalid URI parameter"));
            }
            let (params, left) = parse_uri_params(ptext)?;
            if !left.is_empty() {
                return Err(UriError("invalid URI parameter"));
            }
            self.params = params;
            tail = &tail[q..];
        }
        if let Some(h) = tail.strip_prefix('?') {
            for pair in h.split('&') {
                let (n, v) = pair
                    .split_once('=')
                    .ok_or(UriError("URI header without '='"))?;
                if n.is_empty()
                    || !n.bytes().all(is_hdr_byte)
                    || !v.bytes().all(is_hdr_byte)
                    || !escapes_ok(n)
                    || !escapes_ok(v)
                {
                    return Err(UriError("invalid URI header"));
                }
                self.headers.push((n.to_owned(), v.to_owned()));
            }
        }
        Ok(())
    }

    fn parse_tel(&mut self, rest: &str) -> Result<(), UriError> {
        let end = memchr::memchr(b';', rest.as_bytes()).unwrap_or(rest.len());
        let number = &rest[..end];
        // RFC 3966: global-number-digits ("+" digits) or local-number-digits, with visual separators.
        let ok = !number.is_empty()
            && number.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_hexdigit()
                    || matches!(b, b'-' | b'.' | b'(' | b')' | b'*' | b'#')
                    || (b == b'+' && i == 0)
            });
        if !ok {
            return Err(UriError("invalid telephone number"));
        }
        self.user = Some(number.to_owned());
        let (params, left) = parse_uri_params(&rest[end..])?;
        if !left.is_empty() {
            return Err(UriError("invalid tel parameter"));
        }
        self.params = params;
        Ok(())
    }

    /// The scheme.
    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }
    /// The user part as written (still %-escaped), or a tel: number.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }
    /// The user part with %-escapes decoded.
    pub fn user_decoded(&self) -> Option<String> {
        self.user.as_deref().map(percent_decode)
    }
    /// The password part, if any (deprecated by RFC 3261 but parsed).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
    /// The host of a sip:/sips: URI.
    pub fn host(&self) -> Option<&Host> {
        self.host.as_ref()
    }
    /// The port, when given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// URI parameters (`;transport=ws;lr`).
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// URI headers (`?Subject=x&Route=...`), still %-escaped.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
    /// Whether this is a `sip:` or `sips:` URI.
    pub fn is_sip(&self) -> bool {
        matches!(self.scheme, Scheme::Sip | Scheme::Sips)
    }
    /// The URI text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
    /// `user@host` for SIP URIs (the default private identity of an AoR); the
    /// text after the scheme otherwise.
    pub fn user_at_host(&self) -> String {
        match (&self.user, &self.host) {
            (Some(u), Some(h)) => format!("{u}@{h}"),
            (None, Some(h)) => h.to_string(),
            _ => self
                .text
                .split_once(':')
                .map(|(_, r)| r)
                .unwrap_or("")
                .to_owned(),
        }
    }
    /// Compares two SIP URIs as an address of record: scheme, user (case-sensitive,
    /// escapes decoded) and host (case-insensitive), ignoring port and parameters.
    pub fn same_aor(&self, other: &Uri) -> bool {
        let host_eq = match (&self.host, &other.host) {
            (Some(Host::Name(a)), Some(Host::Name(b))) => a.eq_ignore_ascii_case(b),
            (a, b) => a == b,
        };
        self.scheme == other.scheme && self.user_decoded() == other.user_decoded() && host_eq
    }
}

/// URI parameters: `;name[=value]` with paramchars (no quoting in URIs).
fn parse_uri_params(s: &str) -> Result<(Params, &str), UriError> {
    let mut params = Params::default();
    let mut rest = s;
    while let Some(r) = rest.strip_prefix(';') {
        let end = find_any(r, b";?").unwrap_or(r.len());
        let item = &r[..end];
        let (name, value) = match item.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (item, None),
        };
        if name.is_empty() || value == Some("") {
            return Err(UriError("empty URI parameter"));
        }
        params.push(name, value, false);
        rest = &r[end..];
    }
    Ok((params, rest))
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Uri {
    type Err = UriError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}
