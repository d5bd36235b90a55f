//! URIs: `sip:`/`sips:` (RFC 3261 §19.1, §25.1), `tel:` (RFC 3966), and any other
//! scheme kept as an opaque absolute URI. Printing a parsed URI gives back the text
//! it was parsed from.

use super::text::{find_any, rfind_byte, Params};
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

impl Host {
    /// Appends the host as a URI writes it (an IPv6 address in brackets): the
    /// `Display` text, without the formatting machinery.
    pub(crate) fn push_to(&self, out: &mut String) {
        match self {
            Host::Name(n) => out.push_str(n),
            Host::Ipv4(a) => push_ipv4(out, a.octets()),
            Host::Ipv6(a) => {
                out.push('[');
                push_ipv6(out, a.segments());
                out.push(']');
            }
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.push_to(&mut out);
        f.write_str(&out)
    }
}

// IP addresses, read and printed here rather than by `core::net` (about 5 KB of wasm
// for its parser and Display). The accepted set and the text are std's exactly:
// `tests/message.rs` compares both with `std::net` on every short address shape.

/// A decimal octet at `b[p..]` as std reads one: 1–3 digits, no leading zero, ≤ 255.
fn read_octet(b: &[u8], mut p: usize) -> Option<(u8, usize)> {
    let start = p;
    let mut v = 0u32;
    while let Some(d) = b.get(p).filter(|c| c.is_ascii_digit()) {
        v = v * 10 + u32::from(d - b'0');
        p += 1;
        if p - start > 3 {
            return None;
        }
    }
    let leading_zero = p - start > 1 && b.get(start) == Some(&b'0');
    if p == start || leading_zero || v > 255 {
        return None;
    }
    Some((v as u8, p))
}

/// A dotted IPv4 address at `b[p..]`, and the position after it.
fn read_ipv4(b: &[u8], mut p: usize) -> Option<([u8; 4], usize)> {
    let mut octets = [0u8; 4];
    for (i, slot) in octets.iter_mut().enumerate() {
        if i > 0 {
            if b.get(p) != Some(&b'.') {
                return None;
            }
            p += 1;
        }
        (*slot, p) = read_octet(b, p)?;
    }
    Some((octets, p))
}

/// Colon-separated IPv6 groups at `b[*p..]`, with an optional trailing embedded IPv4
/// address, into `groups` (std's `read_groups`): how many groups were read and whether
/// the last two came from an IPv4 address.
fn read_groups(b: &[u8], p: &mut usize, groups: &mut [u16]) -> (usize, bool) {
    let limit = groups.len();
    for i in 0..limit {
        let mut q = *p;
        if i > 0 {
            if b.get(q) != Some(&b':') {
                return (i, false);
            }
            q += 1;
        }
        if i + 1 < limit {
            if let Some(([a, b1, c, d], end)) = read_ipv4(b, q) {
                // i + 1 < limit = groups.len(): both in range.
                groups[i] = u16::from_be_bytes([a, b1]);
                groups[i + 1] = u16::from_be_bytes([c, d]);
                *p = end;
                return (i + 2, true);
            }
        }
        let start = q;
        let mut v = 0u32;
        while let Some(d) = b.get(q).and_then(|&c| char::from(c).to_digit(16)) {
            v = v * 16 + d;
            q += 1;
            if q - start > 4 {
                return (i, false);
            }
        }
        if q == start {
            return (i, false);
        }
        groups[i] = v as u16; // i < limit; at most 4 hex digits fit in a u16
        *p = q;
    }
    (limit, false)
}

/// Parses a whole IPv4 address as `str::parse::<Ipv4Addr>` does.
pub(crate) fn parse_ipv4(s: &str) -> Option<std::net::Ipv4Addr> {
    match read_ipv4(s.as_bytes(), 0) {
        Some((o, end)) if end == s.len() => Some(o.into()),
        _ => None,
    }
}

/// Parses a whole IPv6 address (no brackets) as `str::parse::<Ipv6Addr>` does.
pub(crate) fn parse_ipv6(s: &str) -> Option<std::net::Ipv6Addr> {
    let b = s.as_bytes();
    let mut p = 0;
    let mut head = [0u16; 8];
    let (head_len, head_ipv4) = read_groups(b, &mut p, &mut head);
    if head_len < 8 {
        // IPv4 is only allowed at the end, and fewer than 8 groups need a "::".
        if head_ipv4 || b.get(p..p + 2) != Some(b"::") {
            return None;
        }
        p += 2;
        let mut tail = [0u16; 7];
        // head_len ≤ 7, so the "::" stands for at least one zero group.
        let (tail_len, _) = read_groups(b, &mut p, &mut tail[..7 - head_len]);
        head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    }
    (p == b.len()).then(|| head.into())
}

fn push_u8(out: &mut String, v: u8) {
    if v >= 100 {
        out.push(char::from(b'0' + v / 100));
    }
    if v >= 10 {
        out.push(char::from(b'0' + v / 10 % 10));
    }
    out.push(char::from(b'0' + v % 10));
}

/// `a.b.c.d`, as `Ipv4Addr`'s Display.
fn push_ipv4(out: &mut String, o: [u8; 4]) {
    for (i, v) in o.into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_u8(out, v);
    }
}

/// RFC 5952 text, as `Ipv6Addr`'s Display: IPv4-mapped as `::ffff:a.b.c.d`, else
/// lower-case hex with the first longest run of two or more zero groups as `::`.
fn push_ipv6(out: &mut String, g: [u16; 8]) {
    if let [0, 0, 0, 0, 0, 0xffff, x, y] = g {
        out.push_str("::ffff:");
        let [a, b] = x.to_be_bytes();
        let [c, d] = y.to_be_bytes();
        return push_ipv4(out, [a, b, c, d]);
    }
    let (mut best, mut best_len, mut run) = (0, 0, 0);
    for (i, &v) in g.iter().enumerate() {
        run = if v == 0 { run + 1 } else { 0 };
        if run > best_len {
            best = i + 1 - run;
            best_len = run;
        }
    }
    if best_len < 2 {
        best = 8;
    }
    let mut i = 0;
    while i < 8 {
        if i == best {
            out.push_str("::");
            i += best_len;
            continue;
        }
        if i > 0 && i != best + best_len {
            out.push(':');
        }
        let v = g[i]; // i < 8
        let mut shift = 12;
        while shift > 0 && v >> shift == 0 {
            shift -= 4;
        }
        loop {
            out.push(char::from(
                b"0123456789abcdef"[usize::from(v >> shift & 15)],
            ));
            if shift == 0 {
                break;
            }
            shift -= 4;
        }
        i += 1;
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
            return parse_ipv6(inner)
                .map(Host::Ipv6)
                .ok_or("invalid IPv6 reference");
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
            if let Some(a) = parse_ipv4(s) {
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
        match rfind_byte(s, b':') {
            // `:` is ASCII: both sides are on character boundaries.
            Some(i) => (&s[..i], Some(&s[i + 1..])),
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
