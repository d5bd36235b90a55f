//! Typed header values (RFC 3261 §20 and the extensions named on each type).
//! Each type parses from one header value (or one element of a list header) and
//! prints back in canonical form with `Display`.

use super::error::HeaderError;
use super::text::{
    find_any, is_token, is_token_byte, is_wsp, parse_all_params, parse_params, parse_u32,
    push_quoted, take_quoted, trim, trim_start, Params,
};
use super::uri::{parse_host_port, Host, Uri};
use super::Method;
use core::fmt;

/// `[display-name] <uri>;params` or `uri;params` (RFC 3261 §20.10, §25.1 `name-addr` /
/// `addr-spec`). Used for From, To, Contact, Route, Record-Route, Path,
/// Service-Route, P-Associated-URI, P-Asserted-Identity, P-Preferred-Identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted (quoted-pairs decoded).
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters after the URI (`tag`, `expires`, `q`, feature tags ...).
    pub params: Params,
}

impl NameAddr {
    /// A name-addr with no display name and no parameters.
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display: None,
            uri,
            params: Params::default(),
        }
    }

    /// Parses one name-addr / addr-spec with its header parameters.
    /// `hdr` names the header in errors.
    pub fn parse(value: &str, hdr: &'static str) -> Result<NameAddr, HeaderError> {
        Self::parse_inner(value, hdr, false)
    }

    /// As [`NameAddr::parse`] but the `<...>` form is required (Route, Record-Route,
    /// Path, Service-Route: RFC 3261 §20.30/§20.34, RFC 3327, RFC 3608).
    pub fn parse_angle(value: &str, hdr: &'static str) -> Result<NameAddr, HeaderError> {
        Self::parse_inner(value, hdr, true)
    }

    fn parse_inner(
        value: &str,
        hdr: &'static str,
        need_angle: bool,
    ) -> Result<NameAddr, HeaderError> {
        let err = |what| HeaderError::new(hdr, what);
        let v = trim(value);
        if v.is_empty() {
            return Err(err("empty value"));
        }
        let (display, after_display) = if v.starts_with('"') {
            let (d, rest) = take_quoted(v).ok_or(err("unterminated quoted display name"))?;
            let rest = trim_start(rest);
            if !rest.starts_with('<') {
                return Err(err("quoted display name not followed by <URI>"));
            }
            (Some(d), rest)
        } else if let Some(lt) = memchr::memchr(b'<', v.as_bytes()) {
            let d = trim(&v[..lt]);
            // display-name = *(token LWS): tokens separated by white space only.
            if !d.split([' ', '\t']).filter(|t| !t.is_empty()).all(is_token) {
                return Err(err("display name is neither a token list nor quoted"));
            }
            ((!d.is_empty()).then(|| d.to_owned()), &v[lt..])
        } else {
            (None, v)
        };
        if let Some(inner) = after_display.strip_prefix('<') {
            let gt = memchr::memchr(b'>', inner.as_bytes()).ok_or(err("missing '>'"))?;
            let uri_text = &inner[..gt];
            let uri = Uri::parse(uri_text).map_err(|e| err(e.0))?;
            let params = parse_all_params(&inner[gt + 1..]).map_err(err)?;
            return Ok(NameAddr {
                display,
                uri,
                params,
            });
        }
        if need_angle {
            return Err(err("URI must be enclosed in <>"));
        }
        // addr-spec form: the URI ends at the first ';' (what follows are header
        // parameters) and may not contain ',', ';' or '?' (RFC 3261 §20.10).
        let end = find_any(after_display, b"; \t").unwrap_or(after_display.len());
        let uri_text = &after_display[..end];
        if find_any(uri_text, b"?,").is_some() {
            return Err(err("URI with '?' or ',' must be enclosed in <>"));
        }
        let uri = Uri::parse(uri_text).map_err(|e| err(e.0))?;
        let params = parse_all_params(&after_display[end..]).map_err(err)?;
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    /// The `tag` parameter (From/To).
    pub fn tag(&self) -> Option<&str> {
        self.params.str("tag")
    }
}

impl NameAddr {
    /// The value as a header writes it: `"Display" <uri>;params` (the `Display` text,
    /// without the formatting machinery).
    pub fn text(&self) -> String {
        let mut s = String::new();
        if let Some(d) = &self.display {
            push_quoted(&mut s, d);
            s.push(' ');
        }
        s.push('<');
        s.push_str(self.uri.as_str());
        s.push('>');
        self.params.push_to(&mut s);
        s
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// One Via value (RFC 3261 §20.42, RFC 3581 `rport`, RFC 7118 `WS`/`WSS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// The sent-protocol's name and version as received, `SIP/2.0` in practice
    /// (RFC 3261 §25.1: `protocol-name SLASH protocol-version`, each a token, so
    /// another is well-formed and a Via naming one is kept, not refused).
    pub protocol: String,
    /// Transport as received, upper-cased (`UDP`, `TCP`, `TLS`, `WS`, `WSS`, ...).
    pub transport: String,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`, `maddr`, ...).
    pub params: Params,
}

impl Via {
    /// Parses one via-parm.
    pub fn parse(value: &str) -> Result<Via, HeaderError> {
        let err = |what| HeaderError::new("Via", what);
        // sent-protocol = protocol-name SLASH protocol-version SLASH transport; SLASH = SWS "/" SWS
        let mut rest = trim(value);
        let mut parts = [""; 3];
        for (i, part) in parts.iter_mut().enumerate() {
            let len = rest.bytes().take_while(|&b| is_token_byte(b)).count();
            if len == 0 {
                return Err(err("malformed sent-protocol"));
            }
            *part = &rest[..len];
            rest = trim_start(&rest[len..]);
            if i < 2 {
                rest = trim_start(
                    rest.strip_prefix('/')
                        .ok_or(err("malformed sent-protocol"))?,
                );
            }
        }
        let end = find_any(rest, b"; \t").unwrap_or(rest.len());
        let (host, port) = parse_host_port(&rest[..end]).map_err(err)?;
        let params = parse_all_params(&rest[end..]).map_err(err)?;
        if let Some(p) = params.get("rport") {
            if let Some(v) = &p.value {
                v.parse::<u16>().map_err(|_| err("invalid rport"))?;
            }
        }
        if let Some(r) = params.str("received") {
            // RFC 3261 §20.42 writes IPv6 without brackets, RFC 5118 §4.5 says both forms occur.
            if Host::parse(r).is_err() && super::uri::parse_ipv6(r).is_none() {
                return Err(err("invalid received address"));
            }
        }
        let mut protocol = String::with_capacity(parts[0].len() + 1 + parts[1].len());
        protocol.push_str(parts[0]);
        protocol.push('/');
        protocol.push_str(parts[1]);
        Ok(Via {
            protocol,
            transport: parts[2].to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.str("branch")
    }
    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        self.params.str("received")
    }
    /// `rport`: `None` if absent, `Some(None)` when present without value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .value("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.protocol, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// CSeq (RFC 3261 §20.16): sequence number below 2^31 and the method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    /// Sequence number (≤ 2^31 − 1, RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl CSeq {
    /// Parses `1*DIGIT LWS Method`.
    pub fn parse(value: &str) -> Result<CSeq, HeaderError> {
        let err = |what| HeaderError::new("CSeq", what);
        let v = trim(value);
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        let seq = parse_u32(&v[..digits]).ok_or(err("invalid sequence number"))?;
        if seq > 0x7fff_ffff {
            return Err(err("sequence number is 2^31 or larger"));
        }
        let rest = &v[digits..];
        if !rest.bytes().next().is_some_and(is_wsp) {
            return Err(err("missing method"));
        }
        let m = trim(rest);
        if !is_token(m) {
            return Err(err("invalid method"));
        }
        Ok(CSeq {
            seq,
            method: Method::from_token(m),
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// One Contact value (RFC 3261 §20.10, RFC 5626 `+sip.instance`/`reg-id`,
/// RFC 5627 `pub-gruu`/`temp-gruu`, RFC 3840 feature tags).
pub type Contact = NameAddr;

/// The Contact header of a message: `*` or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    /// `Contact: *` (REGISTER with Expires 0, RFC 3261 §10.2.2).
    Star,
    /// The listed contacts, in order.
    List(Vec<Contact>),
}

/// Convenience reads of Contact parameters.
impl NameAddr {
    /// `expires` parameter (saturating at 2^32 − 1).
    pub fn expires(&self) -> Option<u32> {
        let v = self.params.str("expires")?;
        if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
            Some(
                v.parse::<u64>()
                    .map(|n| n.min(u32::MAX as u64) as u32)
                    .unwrap_or(u32::MAX),
            )
        } else {
            None
        }
    }
    /// `q` parameter.
    pub fn q(&self) -> Option<&str> {
        self.params.str("q")
    }
    /// `+sip.instance` value (unquoted, e.g. `<urn:uuid:...>`).
    pub fn instance(&self) -> Option<&str> {
        self.params.str("+sip.instance")
    }
    /// `reg-id` parameter.
    pub fn reg_id(&self) -> Option<u32> {
        self.params.str("reg-id").and_then(parse_u32)
    }
    /// `pub-gruu` parameter (RFC 5627), unquoted.
    pub fn pub_gruu(&self) -> Option<&str> {
        self.params.str("pub-gruu")
    }
}

/// `type/subtype;params` (RFC 3261 §20.15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Type, lower-cased.
    pub kind: String,
    /// Subtype, lower-cased.
    pub subtype: String,
    /// Parameters (`charset`, ...).
    pub params: Params,
}

impl MediaType {
    /// Parses a media type; `hdr` names the header in errors.
    pub fn parse(value: &str, hdr: &'static str) -> Result<MediaType, HeaderError> {
        let err = |what| HeaderError::new(hdr, what);
        let v = trim(value);
        let end = find_any(v, b"; \t").unwrap_or(v.len());
        let (t, s) = v[..end]
            .split_once('/')
            .ok_or(err("missing '/' in media type"))?;
        if !is_token(t) || !is_token(s) {
            return Err(err("invalid media type"));
        }
        let params = parse_all_params(&v[end..]).map_err(err)?;
        Ok(MediaType {
            kind: t.to_ascii_lowercase(),
            subtype: s.to_ascii_lowercase(),
            params,
        })
    }
    /// `type/subtype` without parameters.
    pub fn essence(&self) -> String {
        format!("{}/{}", self.kind, self.subtype)
    }
    /// Whether this is `kind/subtype` (case-insensitive).
    pub fn is(&self, essence: &str) -> bool {
        essence.split_once('/').is_some_and(|(k, s)| {
            k.eq_ignore_ascii_case(&self.kind) && s.eq_ignore_ascii_case(&self.subtype)
        })
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.kind, self.subtype, self.params)
    }
}

/// A token with parameters: Event (RFC 6665 §8.2.1, `id`), Subscription-State
/// (RFC 6665 §8.2.3, `expires`/`reason`/`retry-after`), Accept-Contact values (RFC 3841).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParams {
    /// The leading token (event package, substate, or `*`).
    pub value: String,
    /// Parameters.
    pub params: Params,
}

impl TokenParams {
    /// Parses `token *(;param)`; `hdr` names the header in errors.
    pub fn parse(value: &str, hdr: &'static str) -> Result<TokenParams, HeaderError> {
        let err = |what| HeaderError::new(hdr, what);
        let v = trim(value);
        let len = v.bytes().take_while(|&b| is_token_byte(b)).count();
        if len == 0 {
            return Err(err("missing value"));
        }
        let params = parse_all_params(&v[len..]).map_err(err)?;
        Ok(TokenParams {
            value: v[..len].to_owned(),
            params,
        })
    }
    /// Event `id` parameter.
    pub fn id(&self) -> Option<&str> {
        self.params.str("id")
    }
    /// Subscription-State `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        self.params.str("expires").and_then(parse_u32)
    }
    /// Subscription-State `reason` parameter.
    pub fn reason(&self) -> Option<&str> {
        self.params.str("reason")
    }
    /// Subscription-State `retry-after` parameter.
    pub fn retry_after(&self) -> Option<u32> {
        self.params.str("retry-after").and_then(parse_u32)
    }
}

impl fmt::Display for TokenParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.params)
    }
}

/// Event header (RFC 6665 §8.2.1).
pub type Event = TokenParams;
/// Subscription-State header (RFC 6665 §8.2.3).
pub type SubscriptionState = TokenParams;

/// Retry-After (RFC 3261 §20.33): seconds, an optional comment, parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// Delay in seconds.
    pub seconds: u32,
    /// The comment, without parentheses.
    pub comment: Option<String>,
    /// Parameters (`duration`).
    pub params: Params,
}

impl RetryAfter {
    /// Parses `delta-seconds [comment] *(;param)`.
    pub fn parse(value: &str) -> Result<RetryAfter, HeaderError> {
        let err = |what| HeaderError::new("Retry-After", what);
        let v = trim(value);
        let digits = v.bytes().take_while(u8::is_ascii_digit).count();
        let seconds = parse_u32(&v[..digits]).ok_or(err("invalid delta-seconds"))?;
        let mut rest = trim_start(&v[digits..]);
        let mut comment = None;
        if let Some(c) = rest.strip_prefix('(') {
            let end = memchr::memchr(b')', c.as_bytes()).ok_or(err("unterminated comment"))?;
            comment = Some(c[..end].to_owned());
            rest = &c[end + 1..];
        }
        let params = parse_all_params(rest).map_err(err)?;
        Ok(RetryAfter {
            seconds,
            comment,
            params,
        })
    }
}

/// An authentication header value: a scheme and its ordered auth-params
/// (WWW-Authenticate, Proxy-Authenticate, Authorization, Proxy-Authorization,
/// RFC 3261 §25.1, RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthValue {
    /// The scheme as received (`Digest`).
    pub scheme: String,
    /// `name=value` pairs in order; values unquoted.
    pub params: Vec<AuthParam>,
}

/// One `name=value` auth-param.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthParam {
    /// Name as received.
    pub name: String,
    /// Value, unquoted.
    pub value: String,
    /// Whether the value was quoted.
    pub quoted: bool,
}

impl fmt::Debug for AuthParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Auth params carry only public values (nonce, response hashes), never a
        // password, but keep Debug compact.
        write!(f, "{}={:?}", self.name, self.value)
    }
}

impl AuthValue {
    /// The value of `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value.as_str())
    }

    /// Parses one header value, which may hold several challenges or credentials
    /// separated by commas (RFC 7235 §4.1): `Digest a=1, b="2", Digest c=3`.
    pub fn parse_list(value: &str, hdr: &'static str) -> Result<Vec<AuthValue>, HeaderError> {
        let err = |what| HeaderError::new(hdr, what);
        let mut out: Vec<AuthValue> = Vec::new();
        let mut rest = trim(value);
        while !rest.is_empty() {
            // Element separators: commas (empty elements are allowed by #rule).
            if let Some(r) = rest.strip_prefix(',') {
                rest = trim_start(r);
                continue;
            }
            let len = rest.bytes().take_while(|&b| is_token_byte(b)).count();
            if len == 0 {
                return Err(err("expected a scheme or auth-param"));
            }
            let tok = &rest[..len];
            let after = trim_start(&rest[len..]);
            if let Some(v) = after.strip_prefix('=') {
                // auth-param of the current scheme.
                let cur = out.last_mut().ok_or(err("auth-param before any scheme"))?;
                let v = trim_start(v);
                let (value, quoted, r) = if v.starts_with('"') {
                    let (q, r) = take_quoted(v).ok_or(err("unterminated quoted auth-param"))?;
                    (q, true, r)
                } else {
                    // token68-like values may end in '=' (RFC 7235 §2.1); take up to ','.
                    let end = find_any(v, b", \t").unwrap_or(v.len());
                    if end == 0 {
                        return Err(err("empty auth-param value"));
                    }
                    (v[..end].to_owned(), false, &v[end..])
                };
                cur.params.push(AuthParam {
                    name: tok.to_owned(),
                    value,
                    quoted,
                });
                rest = trim_start(r);
                if !rest.is_empty() && !rest.starts_with(',') {
                    return Err(err("missing ',' between auth-params"));
                }
            } else {
                // A new scheme.
                out.push(AuthValue {
                    scheme: tok.to_owned(),
                    params: Vec::new(),
                });
                rest = after;
            }
        }
        if out.is_empty() {
            return Err(err("empty value"));
        }
        Ok(out)
    }
}

impl AuthValue {
    /// The header value: `scheme name=value, name="value"` (the `Display` text, without
    /// the formatting machinery).
    pub fn text(&self) -> String {
        let mut s = self.scheme.clone();
        for (i, p) in self.params.iter().enumerate() {
            s.push_str(if i == 0 { " " } else { ", " });
            s.push_str(&p.name);
            s.push('=');
            if p.quoted {
                push_quoted(&mut s, &p.value);
            } else {
                s.push_str(&p.value);
            }
        }
        s
    }
}

impl fmt::Display for AuthValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Validates an rfc1123-date as SIP requires it (RFC 3261 §20.17: always `GMT`).
pub fn check_date(value: &str) -> Result<(), HeaderError> {
    let err = |what| HeaderError::new("Date", what);
    // wkday "," SP date1 SP time SP "GMT"; date1 = 2DIGIT SP month SP 4DIGIT
    let v = trim(value);
    let parts: Vec<&str> = v.split(' ').collect();
    let [wk, day, mon, year, time, zone] = parts.as_slice() else {
        return Err(err("not an rfc1123-date"));
    };
    let wk_ok = wk
        .strip_suffix(',')
        .is_some_and(|w| ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&w));
    let mon_ok = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .contains(mon);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let t: Vec<&str> = time.split(':').collect();
    let time_ok = t.len() == 3 && t.iter().all(|p| digits(p, 2));
    if !wk_ok || !mon_ok || !digits(day, 2) || !digits(year, 4) || !time_ok {
        return Err(err("not an rfc1123-date"));
    }
    if *zone != "GMT" {
        return Err(err("time zone must be GMT"));
    }
    Ok(())
}

/// Validates a Call-ID: `word ["@" word]` (RFC 3261 §25.1).
pub fn check_call_id(value: &str) -> Result<&str, HeaderError> {
    let v = trim(value);
    let word_byte = |b: u8| {
        is_token_byte(b)
            || matches!(
                b,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
    };
    let ok = match v.split_once('@') {
        Some((a, b)) => {
            !a.is_empty() && !b.is_empty() && a.bytes().all(word_byte) && b.bytes().all(word_byte)
        }
        None => !v.is_empty() && v.bytes().all(word_byte),
    };
    if ok {
        Ok(v)
    } else {
        Err(HeaderError::new("Call-ID", "not a word[@word]"))
    }
}

/// Parses a comma-separated list of tokens (Require, Supported, Allow, ...).
pub fn parse_token_list(value: &str, hdr: &'static str) -> Result<Vec<String>, HeaderError> {
    let v = trim(value);
    if v.is_empty() {
        // Supported/Allow may legally be empty (RFC 3261 §20.37).
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for t in v.split(',') {
        let t = trim(t);
        if !is_token(t) {
            return Err(HeaderError::new(hdr, "list element is not a token"));
        }
        out.push(t.to_owned());
    }
    Ok(out)
}

/// Parses the value of a numeric header that must fit `u32` (Expires, Min-Expires).
pub fn parse_delta(value: &str, hdr: &'static str) -> Result<u32, HeaderError> {
    parse_u32(trim(value)).ok_or(HeaderError::new(hdr, "not a number of seconds below 2^32"))
}

/// Parses a single SIP-ETag / SIP-If-Match entity-tag (RFC 3903 §11.3: a token).
pub fn parse_etag(value: &str, hdr: &'static str) -> Result<String, HeaderError> {
    let v = trim(value);
    if is_token(v) {
        Ok(v.to_owned())
    } else {
        Err(HeaderError::new(hdr, "entity-tag is not a token"))
    }
}

/// Reads generic parameters (used by Accept-Contact values after `*`).
pub(crate) fn params_after<'a>(
    value: &'a str,
    hdr: &'static str,
) -> Result<(Params, &'a str), HeaderError> {
    parse_params(value).map_err(|w| HeaderError::new(hdr, w))
}
