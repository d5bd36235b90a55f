//! Lexical helpers shared by the typed header reads (RFC 3261 §25.1).

use core::fmt;

/// `token` characters (RFC 3261 §25.1): alphanumerics and `-.!%*_+`'~`, as a
/// lookup table (the parser asks for every byte of names and parameters).
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

/// Whether `b` is a `token` character.
#[inline]
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN[b as usize]
}

/// True when the whole string is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

// The helpers below work on bytes rather than with `str` patterns: in the size-
// optimised wasm build the generic char searchers are not inlined and decode every
// character, which made them most of the time spent reading a message from JS.
// Every position they return is at an ASCII byte, so slicing there keeps char
// boundaries.

/// SP or HTAB (RFC 3261 §25.1 `WSP`).
#[inline]
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims linear white space (SP, HTAB; folded lines are already unfolded).
pub(crate) fn trim(s: &str) -> &str {
    trim_end(trim_start(s))
}

/// Trims leading SP / HTAB.
pub(crate) fn trim_start(s: &str) -> &str {
    let n = s.bytes().take_while(|&b| is_wsp(b)).count();
    s.get(n..).unwrap_or_default()
}

/// Trims trailing SP / HTAB.
pub(crate) fn trim_end(s: &str) -> &str {
    let n = s.bytes().rev().take_while(|&b| is_wsp(b)).count();
    s.get(..s.len() - n).unwrap_or_default()
}

/// The position of the first byte of `s` that is one of the ASCII bytes `set`.
pub(crate) fn find_any(s: &str, set: &[u8]) -> Option<usize> {
    s.bytes().position(|b| set.contains(&b))
}

/// The byte position of the first `needle` in `s`. For the short needles of this crate
/// (`://`, `]]>`, `--`) a plain scan: `str::find` with a `&str` pattern links core's
/// two-way searcher and its tables into the wasm.
pub(crate) fn find_str(s: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    s.as_bytes()
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
}

/// `s` without the ASCII bytes of `set` at either end (a byte loop, without core's
/// per-pattern char searchers).
pub(crate) fn trim_set<'a>(s: &'a str, set: &[u8]) -> &'a str {
    let bytes = s.as_bytes();
    let start = bytes
        .iter()
        .position(|b| !set.contains(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |i| i + 1);
    s.get(start..end).unwrap_or_default()
}

/// Appends `n` in decimal (the `Display` text of an unsigned integer, without the
/// formatting machinery).
pub(crate) fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// The byte position of the last ASCII byte `b` in `s` (a byte scan, without core's
/// reverse char searcher).
pub(crate) fn rfind_byte(s: &str, b: u8) -> Option<usize> {
    s.bytes().rposition(|c| c == b)
}

/// What follows the last ASCII byte `b` in `s`, or all of `s` (`s.rsplit(b).next()`).
pub(crate) fn after_last(s: &str, b: u8) -> &str {
    match rfind_byte(s, b) {
        Some(i) => s.get(i + 1..).unwrap_or_default(),
        None => s,
    }
}

/// `items` joined with `sep`: one loop, instead of `[S]::join`'s generic copy.
pub(crate) fn join<S: AsRef<str>>(items: &[S], sep: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item.as_ref());
    }
    out
}

/// `s` split around the first `needle` (as `str::split_once`, see [`find_str`]).
pub(crate) fn split_once_str<'a>(s: &'a str, needle: &str) -> Option<(&'a str, &'a str)> {
    let at = find_str(s, needle)?;
    Some((s.get(..at)?, s.get(at + needle.len()..)?))
}

/// Reads a quoted-string at the start of `s` (which must begin with `"`), returns the
/// unescaped content and what follows the closing quote. `None` when unterminated.
pub(crate) fn take_quoted(s: &str) -> Option<(String, &str)> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut out = String::new();
    let mut i = 1;
    let mut run_start = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                out.push_str(s.get(run_start..i)?);
                return Some((out, s.get(i + 1..)?));
            }
            b'\\' => {
                out.push_str(s.get(run_start..i)?);
                // quoted-pair: the next character (any but CR/LF) stands for itself.
                let rest = s.get(i + 1..)?;
                let c = rest.chars().next()?;
                if c == '\r' || c == '\n' {
                    return None;
                }
                out.push(c);
                i += 1 + c.len_utf8();
                run_start = i;
            }
            b'\r' | b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// Appends `s` as a quoted-string, escaping `"` and `\`.
pub(crate) fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Splits a header value on commas that are outside quoted strings and `<...>`
/// (RFC 3261 §7.3.1). Elements are trimmed; an empty element is returned as `""`
/// so that list readers can reject it. `None` when a quote or `<` is unbalanced.
pub(crate) fn split_list(value: &str) -> Option<Vec<&str>> {
    let bytes = value.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut in_angle = false;
    while i < bytes.len() {
        match bytes[i] {
            b'"' if !in_angle => {
                // Skip the quoted string, honouring quoted-pairs.
                i += 1;
                loop {
                    match bytes.get(i) {
                        None => return None,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            b'<' => in_angle = true,
            b'>' => in_angle = false,
            b',' if !in_angle => {
                parts.push(trim(value.get(start..i)?));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if in_angle {
        return None;
    }
    parts.push(trim(value.get(start..)?));
    Some(parts)
}

/// The first element of a list header value: up to the first comma outside quoted
/// strings and `<...>` (no allocation; the hot path of `top_via`).
pub(crate) fn first_element(value: &str) -> &str {
    let bytes = value.as_bytes();
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if quoted {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => quoted = true,
            b'<' => angle = true,
            b'>' => angle = false,
            b',' if !angle => return trim(value.get(..i).unwrap_or(value)),
            _ => {}
        }
    }
    trim(value)
}

/// One `;name[=value]` parameter of a header or URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// The parameter name as received.
    pub name: String,
    /// The value, unquoted; `None` for a flag such as `lr` or `+g.oma.sip-im`.
    pub value: Option<String>,
    /// Whether the value was (and will be printed as) a quoted-string.
    pub quoted: bool,
}

/// An ordered list of parameters; names compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params(pub Vec<Param>);

impl Params {
    /// The parameter named `name`, if present.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.0.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of `name`: `None` if absent, `Some(None)` for a flag.
    pub fn value(&self, name: &str) -> Option<Option<&str>> {
        self.get(name).map(|p| p.value.as_deref())
    }

    /// The value of `name` when it is present with a value.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|p| p.value.as_deref())
    }

    /// Whether `name` is present (as a flag or with a value).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a parameter; `quoted` values are printed as quoted-strings.
    pub fn push(&mut self, name: &str, value: Option<&str>, quoted: bool) {
        self.0.push(Param {
            name: name.to_owned(),
            value: value.map(str::to_owned),
            quoted,
        });
    }

    /// Sets `name` (replacing an existing one) to `value`.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        match self
            .0
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value.map(str::to_owned),
            None => self.push(name, value, false),
        }
    }

    /// Removes `name` if present.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|p| !p.name.eq_ignore_ascii_case(name));
    }

    /// Iterates in received order.
    pub fn iter(&self) -> core::slice::Iter<'_, Param> {
        self.0.iter()
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Params {
    /// Appends `;name[=value]` for each parameter (the `Display` text, without the
    /// formatting machinery).
    pub(crate) fn push_to(&self, out: &mut String) {
        for p in &self.0 {
            out.push(';');
            out.push_str(&p.name);
            if let Some(v) = &p.value {
                out.push('=');
                if p.quoted {
                    push_quoted(out, v);
                } else {
                    out.push_str(v);
                }
            }
        }
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.push_to(&mut s);
        f.write_str(&s)
    }
}

/// Characters allowed in an unquoted generic parameter value: `token / host`
/// (RFC 3261 §25.1 `gen-value`), so also `:` `[` `]` for IPv6 references.
#[inline]
fn is_gen_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b':' | b'[' | b']')
}

/// Parses a run of `*( SEMI generic-param )` from the start of `s`. Each element
/// may be surrounded by linear white space. Returns the parameters and the rest of
/// `s` (starting at the first character that is not part of a parameter).
pub(crate) fn parse_params(mut s: &str) -> Result<(Params, &str), &'static str> {
    let mut params = Params::default();
    loop {
        let t = trim_start(s);
        let Some(after_semi) = t.strip_prefix(';') else {
            return Ok((params, s));
        };
        let after_semi = trim_start(after_semi);
        let name_len = after_semi.bytes().take_while(|&b| is_token_byte(b)).count();
        if name_len == 0 {
            return Err("empty parameter");
        }
        let name = &after_semi[..name_len];
        let rest = trim_start(&after_semi[name_len..]);
        if let Some(v) = rest.strip_prefix('=') {
            let v = trim_start(v);
            if v.starts_with('"') {
                let (value, rest) = take_quoted(v).ok_or("unterminated quoted parameter value")?;
                params.0.push(Param {
                    name: name.to_owned(),
                    value: Some(value),
                    quoted: true,
                });
                s = rest;
            } else {
                let len = v.bytes().take_while(|&b| is_gen_value_byte(b)).count();
                if len == 0 {
                    return Err("empty parameter value");
                }
                params.0.push(Param {
                    name: name.to_owned(),
                    value: Some(v[..len].to_owned()),
                    quoted: false,
                });
                s = &v[len..];
            }
        } else {
            params.0.push(Param {
                name: name.to_owned(),
                value: None,
                quoted: false,
            });
            s = rest;
        }
    }
}

/// Parses parameters that must make up the whole of `s`.
pub(crate) fn parse_all_params(s: &str) -> Result<Params, &'static str> {
    let (params, rest) = parse_params(s)?;
    if trim(rest).is_empty() {
        Ok(params)
    } else {
        Err("unexpected characters after parameters")
    }
}

/// Parses a decimal number that must fit `u32` (`delta-seconds`, RFC 3261 §25.1).
pub(crate) fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{after_last, find_str, join, push_decimal, rfind_byte, split_once_str, trim_set};

    #[test]
    fn find_str_agrees_with_str_find() {
        let hays = [
            "",
            "a",
            "://",
            "msrp://h",
            "a]]]>b",
            "--",
            "x-y--z",
            "ab:/a://b://",
            "é://ü",
        ];
        let needles = ["", "://", "]]>", "--", "a", "é"];
        for h in hays {
            for n in needles {
                assert_eq!(find_str(h, n), h.find(n), "{h:?} {n:?}");
                assert_eq!(split_once_str(h, n), h.split_once(n), "{h:?} {n:?}");
            }
            for b in [b':', b'@', b']', b'-'] {
                assert_eq!(rfind_byte(h, b), h.rfind(char::from(b)), "{h:?} {b}");
                assert_eq!(
                    Some(after_last(h, b)),
                    h.rsplit(char::from(b)).next(),
                    "{h:?} {b}"
                );
            }
        }
        for s in ["", " ", "<a>", " \t a b\r\n", "<<>>", "é<é>"] {
            assert_eq!(
                trim_set(s, b" \t\r\n"),
                s.trim_matches([' ', '\t', '\r', '\n'])
            );
            assert_eq!(trim_set(s, b"<>"), s.trim_matches(['<', '>']));
        }
        for n in [0, 1, 9, 10, 99, 100, 65_535, 1 << 32, u64::MAX] {
            let mut out = String::from("x");
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
        for items in [&[][..], &["a"], &["a", "", "b:c"]] {
            assert_eq!(join(items, ", "), items.join(", "));
        }
    }
}
