//! A small XML tree: a hardened, non-validating XML 1.0 reader and a writer, both by hand.
//!
//! The tree keeps names as written (`x:foo`) and attributes in document order, namespace
//! declarations included; namespace resolution happens one layer up, in `schema.rs`.

use super::{SettingsError, MAX_DEPTH, MAX_DOCUMENT_SIZE};

/// One element of an XML document, kept verbatim: how unknown content survives a
/// decode → encode round trip.
///
/// Names are qualified names as written (`x:foo`, or `foo` for the default namespace). Nodes
/// taken from a decoded document are self-contained: they carry an `xmlns`/`xmlns:p`
/// declaration for every namespace prefix they use, so they stay correct wherever they are
/// written again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlNode {
    /// Qualified element name, e.g. `x:note`.
    pub name: String,
    /// Attributes in document order as `(qualified name, unescaped value)`, namespace
    /// declarations included.
    pub attributes: Vec<(String, String)>,
    /// Child elements and text, in document order. Whitespace-only text between child
    /// elements (indentation) is not kept.
    pub children: Vec<XmlChild>,
}

/// A child of an [`XmlNode`]: an element or a run of (unescaped) text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlChild {
    /// A child element.
    Element(XmlNode),
    /// Character data (entity and character references resolved, CDATA sections merged).
    Text(String),
}

impl XmlNode {
    /// An element with no attributes and no children.
    pub fn new(name: impl Into<String>) -> Self {
        XmlNode {
            name: name.into(),
            ..Default::default()
        }
    }

    /// The value of the attribute with this exact qualified name.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The concatenated text children (not descending into child elements).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            if let XmlChild::Text(t) = c {
                out.push_str(t);
            }
        }
        out
    }

    /// The child elements, skipping text.
    pub fn elements(&self) -> impl Iterator<Item = &XmlNode> {
        self.children.iter().filter_map(|c| match c {
            XmlChild::Element(e) => Some(e),
            XmlChild::Text(_) => None,
        })
    }

    fn push_text(&mut self, s: String) {
        // An empty run (`<![CDATA[]]>`) would not survive being written and read again.
        if s.is_empty() {
            return;
        }
        if let Some(XmlChild::Text(t)) = self.children.last_mut() {
            t.push_str(&s);
        } else {
            self.children.push(XmlChild::Text(s));
        }
    }

    /// Drops indentation: whitespace-only text among child elements.
    fn finish(mut self) -> Self {
        if self.elements().next().is_some() {
            self.children
                .retain(|c| !matches!(c, XmlChild::Text(t) if t.bytes().all(is_space)));
        }
        self
    }
}

/// Characters XML 1.0 can carry (its `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// XML 1.0 `NameStartChar`, without `:`.
fn is_name_start(c: char) -> bool {
    matches!(c, 'A'..='Z' | '_' | 'a'..='z' | '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}'
        | '\u{f8}'..='\u{2ff}' | '\u{370}'..='\u{37d}' | '\u{37f}'..='\u{1fff}'
        | '\u{200c}'..='\u{200d}' | '\u{2070}'..='\u{218f}' | '\u{2c00}'..='\u{2fef}'
        | '\u{3001}'..='\u{d7ff}' | '\u{f900}'..='\u{fdcf}' | '\u{fdf0}'..='\u{fffd}'
        | '\u{10000}'..='\u{effff}')
}

/// XML 1.0 `NameChar`, without `:`.
fn is_name_char(c: char) -> bool {
    is_name_start(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{b7}' | '\u{300}'..='\u{36f}' | '\u{203f}'..='\u{2040}')
}

/// Namespaces in XML 1.0 `NCName`: an XML name without colons.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(is_name_start) && chars.all(is_name_char)
}

/// Namespaces in XML 1.0 `QName`: `prefix:local` or `local`.
fn is_qname(name: &str) -> bool {
    match name.split_once(':') {
        Some((prefix, local)) => is_ncname(prefix) && is_ncname(local),
        None => is_ncname(name),
    }
}

/// Whether an attribute name is a namespace declaration (`xmlns` or `xmlns:p`).
pub(crate) fn is_declaration(name: &str) -> bool {
    name == "xmlns" || name.starts_with("xmlns:")
}

/// Whether the declaration `name="value"` repeats the binding in force; `in_force` holds the
/// declarations of the enclosing elements, innermost last, and without any the default
/// namespace is none (`xmlns=""`). The writer skips such declarations.
fn is_redundant(in_force: &[(&str, &str)], name: &str, value: &str) -> bool {
    let current = in_force
        .iter()
        .rev()
        .find(|(d, _)| *d == name)
        .map(|(_, v)| *v);
    current.or((name == "xmlns").then_some("")) == Some(value)
}

/// `node` as [`write()`] writes it below elements declaring `in_force` (innermost last): without
/// the namespace declarations that repeat a binding in force, at any depth.
pub(crate) fn without_redundant<'a>(
    node: &'a XmlNode,
    in_force: &mut Vec<(&'a str, &'a str)>,
) -> XmlNode {
    let outer = in_force.len();
    let mut out = XmlNode::new(node.name.as_str());
    for (k, v) in &node.attributes {
        if is_declaration(k) {
            if is_redundant(in_force, k, v) {
                continue;
            }
            in_force.push((k, v));
        }
        out.attributes.push((k.clone(), v.clone()));
    }
    out.children = node
        .children
        .iter()
        .map(|c| match c {
            XmlChild::Element(e) => XmlChild::Element(without_redundant(e, in_force)),
            XmlChild::Text(t) => XmlChild::Text(t.clone()),
        })
        .collect();
    in_force.truncate(outer);
    out
}

fn malformed(position: usize, what: &'static str) -> SettingsError {
    SettingsError::Malformed { position, what }
}

/// The namespace name bound to the `xml` prefix.
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// Checks the namespace constraints of Namespaces in XML 1.0 that concern a declaration:
/// `xmlns:p` is not empty, and the reserved prefixes and names are bound only as fixed.
fn check_declaration(name: &str, value: &str, pos: usize) -> Result<(), SettingsError> {
    let prefix = name.strip_prefix("xmlns:");
    if prefix.is_some() && value.is_empty() {
        return Err(malformed(pos, "empty namespace name for a prefix"));
    }
    let reserved = match prefix {
        Some("xmlns") => true,
        Some("xml") => value != XML_NS,
        _ => value == XML_NS || value == XMLNS_NS,
    };
    if reserved {
        return Err(malformed(pos, "reserved namespace prefix or name"));
    }
    Ok(())
}

const SYNTAX: &str = "syntax error";
const BAD_ATTRIBUTE: &str = "invalid or duplicate attribute";
const OUTSIDE: &str = "text outside the root element";

/// XML 1.0 `S` (§2.3).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_space(b: &[u8], mut at: usize) -> usize {
    while b.get(at).is_some_and(|&c| is_space(c)) {
        at += 1;
    }
    at
}

/// Where `pat` next occurs in `b` at or after `from`.
fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    // `windows(0)` would panic; every caller passes a literal, but stay total.
    let k = b
        .get(from..)?
        .windows(pat.len().max(1))
        .position(|w| w == pat)?;
    Some(from + k)
}

/// The `>` closing the tag that starts at `from`, skipping quoted attribute values (§3.1).
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut quote = 0;
    for (k, &c) in b.iter().enumerate().skip(from) {
        match c {
            b'>' if quote == 0 => return Some(k),
            b'"' | b'\'' if quote == 0 => quote = c,
            _ if c == quote => quote = 0,
            _ => {}
        }
    }
    None
}

/// The `>` closing a document type declaration (§2.8) whose name starts at `k`: literals, the
/// internal subset and the markup declarations in it are skipped, so that only a complete one
/// is reported as [`SettingsError::Doctype`] (an unterminated one is a syntax error).
fn doctype_end(b: &[u8], mut k: usize) -> Option<usize> {
    loop {
        match *b.get(k)? {
            b'>' => return Some(k),
            b'[' => break,
            q @ (b'"' | b'\'') => k = find(b, k + 1, &[q])?,
            _ => {}
        }
        k += 1;
    }
    loop {
        k += 1;
        match *b.get(k)? {
            b']' => return find(b, k, b">"),
            b'<' => {
                let rest = b.get(k + 1..)?;
                k = if rest.starts_with(b"?") {
                    find(b, k + 2, b"?>")? + 1
                } else if rest.starts_with(b"!--") {
                    find(b, k + 4, b"-->")? + 2
                } else if [&b"!ENTITY"[..], b"!ATTLIST", b"!NOTATION"]
                    .iter()
                    .any(|p| rest.starts_with(p))
                {
                    tag_end(b, k)?
                } else {
                    find(b, k, b">")?
                };
            }
            _ => {}
        }
    }
}

/// Appends `s` with line ends normalized: CR LF and CR become LF (§2.11), and in an attribute
/// value tab, CR, LF and CR LF become one space (§3.3.3).
fn push_normalized(out: &mut String, s: &str, attr: bool) {
    let mut after_cr = false;
    for c in s.chars() {
        if !(after_cr && c == '\n') {
            out.push(match c {
                '\t' | '\n' | '\r' if attr => ' ',
                '\r' => '\n',
                c => c,
            });
        }
        after_cr = c == '\r';
    }
}

const PREDEFINED: [(&str, char); 5] = [
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("apos", '\''),
    ("quot", '"'),
];

/// The reference starting with the `&` at `at` and where it ends: a character reference
/// (§4.1) to a `Char` (§2.2), or one of the five predefined entities (§4.6). With no `DOCTYPE`
/// nothing else is declared (WFC: Entity Declared).
fn reference(s: &str, at: usize) -> Result<(char, usize), (usize, &'static str)> {
    let b = s.as_bytes();
    let end = (at + 1..b.len())
        .find(|&k| matches!(b.get(k), Some(b';' | b'&' | b'<')))
        .filter(|&k| b.get(k) == Some(&b';'))
        .ok_or((at, "invalid entity or character reference"))?;
    let name = s.get(at + 1..end).unwrap_or_default();
    let c = match name.strip_prefix('#') {
        Some(num) => {
            let (digits, radix) = match num.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (num, 10),
            };
            // No digits, a non-digit (a sign too) or too many digits: an invalid code point.
            let mut code = u32::from(digits.is_empty()) << 31;
            for d in digits.chars() {
                code = code
                    .saturating_mul(radix)
                    .saturating_add(d.to_digit(radix).unwrap_or(u32::MAX));
            }
            char::from_u32(code)
                .filter(|&c| is_xml_char(c))
                .ok_or((at, "invalid character reference"))?
        }
        None => {
            PREDEFINED
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or((at, "undeclared entity reference"))?
                .1
        }
    };
    Ok((c, end + 1))
}

/// Appends character data or an attribute value (`attr`) with its references resolved and its
/// line ends normalized; errors carry the offset in `s`. `]]>` may not occur in character data
/// (§2.4).
fn unescape(out: &mut String, s: &str, attr: bool) -> Result<(), (usize, &'static str)> {
    let mut from = 0;
    loop {
        let amp = find(s.as_bytes(), from, b"&");
        let literal = s.get(from..amp.unwrap_or(s.len())).unwrap_or_default();
        if let Some(k) = find(literal.as_bytes(), 0, b"]]>").filter(|_| !attr) {
            return Err((from + k, SYNTAX));
        }
        push_normalized(out, literal, attr);
        let Some(amp) = amp else {
            return Ok(());
        };
        let (c, next) = reference(s, amp)?;
        out.push(c);
        from = next;
    }
}

/// The element of the tag `tag` (between `<` and `>` or `/>`) at `pos`: a QName (Namespaces in
/// XML 1.0 §3) and its attributes (XML 1.0 §3.1: `Name Eq AttValue`, whitespace before each,
/// unique names, no `<` in values), values normalized (§3.3.3).
fn start_node(tag: &str, pos: usize) -> Result<XmlNode, SettingsError> {
    let b = tag.as_bytes();
    let bad = |what| malformed(pos, what);
    let mut k = b.iter().position(|&c| is_space(c)).unwrap_or(b.len());
    let name = tag.get(..k).unwrap_or_default();
    if !is_qname(name) {
        return Err(bad("element name is not a QName"));
    }
    if name.starts_with("xmlns:") {
        return Err(bad("reserved namespace prefix or name"));
    }
    let mut node = XmlNode::new(name);
    let mut glued = false;
    loop {
        let after_value = k;
        k = skip_space(b, k);
        if k >= b.len() {
            break;
        }
        glued |= k == after_value;
        // The name: at least one byte (a name that is not a QName is refused below).
        let key_start = k;
        k += 1;
        while b.get(k).is_some_and(|&c| c != b'=' && !is_space(c)) {
            k += 1;
        }
        let key = tag.get(key_start..k).unwrap_or_default();
        k = skip_space(b, k);
        if b.get(k) != Some(&b'=') || node.attributes.iter().any(|(n, _)| n == key) {
            return Err(bad(BAD_ATTRIBUTE));
        }
        k = skip_space(b, k + 1);
        let (quote, start) = (b.get(k).copied(), k + 1);
        k = match quote {
            Some(q @ (b'"' | b'\'')) => find(b, start, &[q]).ok_or_else(|| bad(BAD_ATTRIBUTE))?,
            _ => return Err(bad(BAD_ATTRIBUTE)),
        };
        let raw = tag.get(start..k).unwrap_or_default();
        k += 1;
        if !is_qname(key) {
            return Err(bad("attribute name is not a QName"));
        }
        // WFC: No < in Attribute Values.
        if find(raw.as_bytes(), 0, b"<").is_some() {
            return Err(bad(SYNTAX));
        }
        let mut value = String::new();
        unescape(&mut value, raw, true).map_err(|_| bad("invalid reference in attribute value"))?;
        if is_declaration(key) {
            check_declaration(key, &value, pos)?;
        }
        node.attributes.push((key.to_owned(), value));
    }
    if glued {
        return Err(bad(SYNTAX));
    }
    Ok(node)
}

/// Parses a whole document into its root element, enforcing the size, depth, encoding and
/// no-DTD rules and XML 1.0 well-formedness, except that comments, processing instructions
/// and the XML declaration are skipped unread (their targets, content and place unchecked).
pub fn parse(bytes: &[u8]) -> Result<XmlNode, SettingsError> {
    if bytes.len() > MAX_DOCUMENT_SIZE {
        return Err(SettingsError::TooLarge {
            len: bytes.len(),
            max: MAX_DOCUMENT_SIZE,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| SettingsError::NotUtf8 {
        position: e.valid_up_to(),
    })?;
    // A byte order mark is not part of the document (§4.3.3); positions count from after it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Every character must be a `Char` (§2.2), in markup too.
    if let Some((at, _)) = text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        return Err(malformed(at, "character not allowed in XML"));
    }
    let b = text.as_bytes();
    let mut stack: Vec<XmlNode> = Vec::new();
    let mut root: Option<XmlNode> = None;
    let mut i = 0;
    loop {
        let syntax = || malformed(i, SYNTAX);
        let rest = b.get(i..).unwrap_or_default();
        if rest.is_empty() {
            return match (stack.is_empty(), root) {
                (true, Some(root)) => Ok(root),
                (true, None) => Err(malformed(i, "no root element")),
                (false, _) => Err(malformed(i, "unexpected end of document")),
            };
        }
        if !rest.starts_with(b"<") {
            // Character data (§2.4), up to the next markup.
            let end = find(b, i, b"<").unwrap_or(b.len());
            let run = text.get(i..end).unwrap_or_default();
            let Some(node) = stack.last_mut() else {
                // Only white space may surround the root element (§2.1, §2.8).
                if let Some(k) = run.bytes().position(|c| !is_space(c)) {
                    return Err(malformed(i + k, OUTSIDE));
                }
                i = end;
                continue;
            };
            let mut s = String::new();
            unescape(&mut s, run, false).map_err(|(k, what)| malformed(i + k, what))?;
            node.push_text(s);
            i = end;
            continue;
        }
        if rest.starts_with(b"<!") {
            if rest.starts_with(b"<![CDATA[") {
                // A CDATA section (§2.7) is character data, so only inside the root.
                let end = find(b, i + 9, b"]]>").ok_or_else(syntax)?;
                let node = stack.last_mut().ok_or_else(|| malformed(i, OUTSIDE))?;
                let mut s = String::new();
                push_normalized(&mut s, text.get(i + 9..end).unwrap_or_default(), false);
                node.push_text(s);
                i = end + 3;
            } else if rest.starts_with(b"<!--") {
                // A comment (§2.5) ends at the first `--`, which must be followed by `>`.
                i = find(b, i + 4, b"--")
                    .filter(|&k| b.get(k + 2) == Some(&b'>'))
                    .ok_or_else(syntax)?
                    + 3;
            } else if rest
                .get(..9)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"<!DOCTYPE"))
            {
                // No document type declaration (§2.8) is read, so no entity is ever declared;
                // one without a name is only a syntax error.
                let end = doctype_end(b, i + 9).ok_or_else(syntax)?;
                if b.get(i + 9..end)
                    .unwrap_or_default()
                    .iter()
                    .all(|&c| is_space(c))
                {
                    return Err(malformed(end, SYNTAX));
                }
                return Err(SettingsError::Doctype);
            } else {
                return Err(syntax());
            }
            continue;
        }
        if rest.starts_with(b"<?") {
            // A processing instruction or the XML declaration (§2.6, §2.8): skipped unread,
            // up to the first `?>` (`<?>` is not one).
            i = find(b, i + 1, b"?>")
                .filter(|&k| k > i + 1)
                .ok_or_else(syntax)?
                + 2;
            continue;
        }
        let end = tag_end(b, i).ok_or_else(syntax)?;
        if rest.starts_with(b"</") {
            // An end tag (§3.1) names the open element (WFC: Element Type Match).
            let name = b.get(i + 2..end).unwrap_or_default();
            let len = name
                .iter()
                .rposition(|&c| !is_space(c))
                .map_or(0, |k| k + 1);
            let node = stack
                .pop()
                .filter(|n| Some(n.name.as_bytes()) == name.get(..len))
                .ok_or_else(|| malformed(i, "mismatched or missing end tag"))?;
            close(&mut stack, &mut root, node);
        } else {
            if root.is_some() && stack.is_empty() {
                return Err(malformed(i, "more than one root element"));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(SettingsError::TooDeep { max: MAX_DEPTH });
            }
            // A start tag or an empty-element tag (`/>`).
            let empty = end > i + 1 && b.get(end - 1) == Some(&b'/');
            let node = start_node(
                text.get(i + 1..end - usize::from(empty))
                    .unwrap_or_default(),
                i,
            )?;
            if empty {
                close(&mut stack, &mut root, node);
            } else {
                stack.push(node);
            }
        }
        i = end + 1;
    }
}

fn close(stack: &mut [XmlNode], root: &mut Option<XmlNode>, node: XmlNode) {
    let node = node.finish();
    match stack.last_mut() {
        Some(parent) => parent.children.push(XmlChild::Element(node)),
        None => *root = Some(node),
    }
}

/// Writes a document: the XML declaration, then `root`, indented by two spaces.
///
/// A namespace declaration is skipped where the same binding is already in force, so
/// self-contained nodes do not repeat their parents' declarations (the decoder reads nodes
/// in the form `without_redundant` gives them, so that this loses nothing).
pub fn write(root: &XmlNode) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    write_node(&mut out, root, Some(0), &mut Vec::new());
    out.push('\n');
    out
}

/// `indent` is the depth for pretty-printing, or `None` inside mixed content; `decls` are the
/// namespace declarations in force, innermost last.
fn write_node<'a>(
    out: &mut String,
    node: &'a XmlNode,
    indent: Option<usize>,
    decls: &mut Vec<(&'a str, &'a str)>,
) {
    let outer = decls.len();
    out.push('<');
    out.push_str(&node.name);
    for (k, v) in &node.attributes {
        if is_declaration(k) {
            if is_redundant(decls, k, v) {
                continue;
            }
            decls.push((k, v));
        }
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape(out, v, true);
        out.push('"');
    }
    if node.children.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        let element_only = node
            .children
            .iter()
            .all(|c| matches!(c, XmlChild::Element(_)));
        let inner = indent.filter(|_| element_only).map(|d| d + 1);
        for child in &node.children {
            if let Some(d) = inner {
                newline(out, d);
            }
            match child {
                XmlChild::Element(e) => write_node(out, e, inner, decls),
                XmlChild::Text(t) => escape(out, t, false),
            }
        }
        if let (Some(d), Some(_)) = (indent, inner) {
            newline(out, d);
        }
        out.push_str("</");
        out.push_str(&node.name);
        out.push('>');
    }
    decls.truncate(outer);
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Escapes markup characters; in attributes also quotes and the whitespace that attribute
/// normalization would otherwise turn into spaces. Characters XML 1.0 cannot carry are dropped.
fn escape(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}
