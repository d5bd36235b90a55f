//! A small XML tree: a hardened, non-validating XML 1.0 reader as a thin layer over quick-xml's
//! events, and a writer by hand.
//!
//! The tree keeps names as written (`x:foo`) and attributes in document order, namespace
//! declarations included; namespace resolution happens one layer up, in `schema.rs`.

use super::{SettingsError, MAX_DEPTH, MAX_DOCUMENT_SIZE};
use crate::message::text::find_str;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

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

    fn push_text(&mut self, s: &str) {
        // An empty run (`<![CDATA[]]>`) would not survive being written and read again.
        if s.is_empty() {
            return;
        }
        if let Some(XmlChild::Text(t)) = self.children.last_mut() {
            t.push_str(s);
        } else {
            self.children.push(XmlChild::Text(s.to_owned()));
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
pub(crate) fn is_xml_char(c: char) -> bool {
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
const OUTSIDE: &str = "text outside the root element";

/// XML 1.0 `S` (§2.3).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// The element of the start or empty-element tag `e` at `pos`: a QName (Namespaces in XML 1.0
/// §3) and its attributes, values normalized (§3.3.3). quick-xml checks `Name Eq AttValue`
/// and unique names; this adds what XML 1.0 §3.1 also wants: no `<` in values, white space
/// before each attribute.
fn start_node(e: &BytesStart<'_>, pos: usize) -> Result<XmlNode, SettingsError> {
    let bad = |what| malformed(pos, what);
    let name: &str = e.name().into_inner();
    if !is_qname(name) {
        return Err(bad("element name is not a QName"));
    }
    if name.starts_with("xmlns:") {
        return Err(bad("reserved namespace prefix or name"));
    }
    let mut node = XmlNode::new(name);
    for attr in e.attributes() {
        let attr = attr.map_err(|_| bad("invalid or duplicate attribute"))?;
        let key: &str = attr.key.into_inner();
        if !is_qname(key) {
            return Err(bad("attribute name is not a QName"));
        }
        // WFC: No < in Attribute Values.
        if attr.value.contains('<') {
            return Err(bad(SYNTAX));
        }
        // Only the five XML entities, whatever quick-xml's `escape-html` feature says.
        let value = normalize_attribute(&attr.value)
            .filter(|v| v.chars().all(is_xml_char))
            .ok_or_else(|| bad("invalid reference in attribute value"))?;
        if is_declaration(key) {
            check_declaration(key, &value, pos)?;
        }
        node.attributes.push((key.to_owned(), value));
    }
    // White space between attributes: a closing quote (the attributes are valid, so quotes
    // pair up) is followed by white space or the end of the tag.
    let mut quote = 0;
    let raw = e.attributes_raw().as_bytes();
    for (k, &c) in raw.iter().enumerate() {
        if quote == 0 {
            if c == b'"' || c == b'\'' {
                quote = c;
            }
        } else if c == quote {
            quote = 0;
            if raw.get(k + 1).is_some_and(|&c| !is_space(c)) {
                return Err(bad(SYNTAX));
            }
        }
    }
    Ok(node)
}

/// An attribute value normalized (XML 1.0 §3.3.3, after the end-of-line handling of §2.11):
/// `\r\n`, `\r`, `\n` and `\t` become a space, a character reference its character, one
/// of the five predefined entities its text; `None` for any other or unterminated reference.
/// The same as quick-xml's `normalized_value_with(XmlVersion::Implicit1_0, _,
/// resolve_xml_entity)`, whose 1.0/1.1 dispatch linked both versions' code (1.8 KB of wasm).
fn normalize_attribute(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = crate::message::text::find_any(rest, b"&\t\r\n") {
        out.push_str(&rest[..i]);
        let special = rest.as_bytes()[i]; // i < rest.len(): found there, an ASCII byte
        rest = &rest[i + 1..];
        match special {
            b'&' => {
                let (reference, after) = rest.split_once(';')?;
                rest = after;
                match reference.strip_prefix('#') {
                    Some(number) => out.push(char_reference(number)?),
                    None => out.push_str(resolve_xml_entity(reference)?),
                }
            }
            b'\r' => {
                out.push(' ');
                rest = rest.strip_prefix('\n').unwrap_or(rest);
            }
            _ => out.push(' '),
        }
    }
    out.push_str(rest);
    Some(out)
}

/// The character of a reference `&#number;` (`x` and hex digits, or decimal digits), as
/// quick-xml reads one: no sign, no `&#0;`, a Unicode scalar value.
fn char_reference(number: &str) -> Option<char> {
    let (digits, radix) = match number.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (number, 10),
    };
    if matches!(digits.as_bytes().first(), Some(b'+' | b'-')) {
        return None;
    }
    u32::from_str_radix(digits, radix)
        .ok()
        .filter(|&c| c != 0)
        .and_then(char::from_u32)
}

/// Parses a whole document into its root element, enforcing the size, depth, encoding and
/// no-DTD rules and XML 1.0 well-formedness, except that comments, processing instructions
/// and the XML declaration are skipped unread (their targets, content and place unchecked).
///
/// quick-xml reads the events; this layer builds the tree and refuses what XML 1.0 forbids
/// and quick-xml lets through: characters that are not `Char`s, a second byte order mark,
/// any `DOCTYPE`, `--` in a comment, `]]>` in text, anything but white space outside the root
/// (references and CDATA sections included), `<` in and glued attributes, names that are not
/// QNames, namespace declarations Namespaces in XML 1.0 forbids, references to anything but a
/// `Char` or the five predefined entities, and the depth limit.
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
    // quick-xml would drop a second one too; it is a character before the root.
    if text.starts_with('\u{feff}') {
        return Err(malformed(0, OUTSIDE));
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<XmlNode> = Vec::new();
    let mut root: Option<XmlNode> = None;
    loop {
        // Offsets fit: the document is at most MAX_DOCUMENT_SIZE bytes.
        let pos = reader.buffer_position() as usize;
        let event = reader.read_event().map_err(|e| {
            use quick_xml::errors::IllFormedError::*;
            use quick_xml::Error::*;
            let what = match e {
                // A `&` outside the root is refused before it is read.
                IllFormed(UnclosedReference) if stack.is_empty() => OUTSIDE,
                IllFormed(UnclosedReference) => "invalid entity or character reference",
                IllFormed(MissingDoctypeName) | Syntax(_) => SYNTAX,
                IllFormed(_) => "mismatched or missing end tag",
                _ => "malformed XML",
            };
            malformed(reader.error_position() as usize, what)
        })?;
        match event {
            Event::DocType(_) => return Err(SettingsError::Doctype),
            Event::Start(e) => {
                let node = open(&stack, &root, &e, pos)?;
                stack.push(node);
            }
            Event::Empty(e) => {
                let node = open(&stack, &root, &e, pos)?;
                close(&mut stack, &mut root, node);
            }
            Event::End(_) => {
                // quick-xml matched the name (WFC: Element Type Match).
                let node = stack
                    .pop()
                    .ok_or_else(|| malformed(pos, "mismatched or missing end tag"))?;
                close(&mut stack, &mut root, node);
            }
            Event::Text(t) => {
                let Some(node) = stack.last_mut() else {
                    // Only white space may surround the root element (§2.1, §2.8).
                    if let Some(k) = t.bytes().position(|c| !is_space(c)) {
                        return Err(malformed(pos + k, OUTSIDE));
                    }
                    continue;
                };
                // `]]>` may not occur in character data (§2.4).
                if let Some(k) = find_str(&t, "]]>") {
                    return Err(malformed(pos + k, SYNTAX));
                }
                node.push_text(&t.xml10_content());
            }
            // A CDATA section (§2.7) is character data, so only inside the root.
            Event::CData(t) => {
                let node = stack.last_mut().ok_or_else(|| malformed(pos, OUTSIDE))?;
                node.push_text(&t.xml10_content());
            }
            // So is a reference (§4.1), `&#32;` included: a character reference to a `Char`
            // (§2.2), or one of the five predefined entities (§4.6); with no `DOCTYPE` nothing
            // else is declared (WFC: Entity Declared).
            Event::GeneralRef(r) => {
                let node = stack.last_mut().ok_or_else(|| malformed(pos, OUTSIDE))?;
                let mut buf = [0; 4];
                node.push_text(match r.resolve_char_ref() {
                    Ok(Some(c)) if is_xml_char(c) => c.encode_utf8(&mut buf),
                    Ok(None) => resolve_xml_entity(&r)
                        .ok_or_else(|| malformed(pos, "undeclared entity reference"))?,
                    _ => return Err(malformed(pos, "invalid character reference")),
                });
            }
            // A comment (§2.5) holds no `--` and does not end in `-`.
            Event::Comment(c) if find_str(&c, "--").is_some() || c.ends_with('-') => {
                return Err(malformed(pos, SYNTAX));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => {
                return match (stack.is_empty(), root) {
                    (true, Some(root)) => Ok(root),
                    (true, None) => Err(malformed(pos, "no root element")),
                    (false, _) => Err(malformed(pos, "unexpected end of document")),
                };
            }
        }
    }
}

fn open(
    stack: &[XmlNode],
    root: &Option<XmlNode>,
    e: &BytesStart<'_>,
    pos: usize,
) -> Result<XmlNode, SettingsError> {
    if root.is_some() && stack.is_empty() {
        return Err(malformed(pos, "more than one root element"));
    }
    if stack.len() >= MAX_DEPTH {
        return Err(SettingsError::TooDeep { max: MAX_DEPTH });
    }
    start_node(e, pos)
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
