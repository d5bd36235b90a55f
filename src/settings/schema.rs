//! The schema-driven layer shared by both documents: namespace resolution, known elements
//! (RFC 4354 shapes), and everything needed to write unknown content back in place.

use super::xml::{self, XmlChild, XmlNode, XML_NS};
use super::{Preserved, SettingsError};

/// Where the value of a known element lives.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `active="true|false"` on the value element.
    Active,
    /// `active` plus an optional integer `type` attribute.
    ActiveType,
    /// The text of the value element.
    Text,
}

/// A known child of `<entity>`: `<name>` itself or `<name><inner/></name>` carries the value.
pub(crate) struct Spec {
    pub name: &'static str,
    pub inner: Option<&'static str>,
    pub form: Form,
}

/// One document type: root element, namespace and the known children of `<entity>`; the
/// position in `specs` is the kind number kept in [`Preserved`].
pub(crate) struct Schema {
    pub ns: &'static str,
    pub root: &'static str,
    pub specs: &'static [Spec],
}

/// The value of one known element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Active(bool, Option<u32>),
    Text(String),
}

/// An `<entity>` before typing: known values by kind.
pub(crate) struct RawEntity {
    pub id: String,
    pub vals: Vec<(u8, Val)>,
    pub extensions: Vec<XmlNode>,
    pub preserved: Preserved,
}

/// Kind number of an unknown element in [`Preserved::order`].
const EXT: u8 = u8::MAX;

/// The namespace declarations in force at a node: the node and its ancestors.
///
/// Decoding walks two of these side by side: the document as read (`source`) and the
/// elements the encoder will write around each unknown element (`out`: our own elements with
/// the attributes they are written with), which [`foreign`] needs to put unknown elements in
/// the form they have after a round trip.
#[derive(Clone, Copy)]
struct Scope<'a> {
    node: &'a XmlNode,
    parent: Option<&'a Scope<'a>>,
}

/// `xmlns` → `Some("")`, `xmlns:p` → `Some("p")`, anything else → `None`.
fn decl_prefix(attr: &str) -> Option<&str> {
    if attr == "xmlns" {
        Some("")
    } else {
        attr.strip_prefix("xmlns:")
    }
}

/// The prefix of a qualified name (`""` when unprefixed) and its local part.
fn split(name: &str) -> (&str, &str) {
    name.split_once(':').unwrap_or(("", name))
}

fn declares(node: &XmlNode, prefix: &str) -> bool {
    node.attributes
        .iter()
        .any(|(k, _)| decl_prefix(k) == Some(prefix))
}

impl<'a> Scope<'a> {
    fn child(&'a self, node: &'a XmlNode) -> Scope<'a> {
        Scope {
            node,
            parent: Some(self),
        }
    }

    /// The namespace bound to `prefix` (`""`: the default namespace); `None` when unbound.
    fn lookup(&self, prefix: &str) -> Option<&'a str> {
        if prefix == "xml" {
            return Some(XML_NS);
        }
        let mut scope = Some(self);
        while let Some(s) = scope {
            let node: &'a XmlNode = s.node;
            for (k, v) in &node.attributes {
                if decl_prefix(k) == Some(prefix) {
                    return Some(v.as_str()).filter(|v| !v.is_empty());
                }
            }
            scope = s.parent;
        }
        None
    }

    /// The namespace declarations of this element and its ancestors, outermost first.
    fn declarations(&self) -> Vec<(&'a str, &'a str)> {
        let mut nodes = Vec::new();
        let mut scope = Some(self);
        while let Some(s) = scope {
            nodes.push(s.node);
            scope = s.parent;
        }
        let mut out = Vec::new();
        for n in nodes.into_iter().rev() {
            for (k, v) in &n.attributes {
                if xml::is_declaration(k) {
                    out.push((k.as_str(), v.as_str()));
                }
            }
        }
        out
    }

    /// The namespace and local name of this scope's own element.
    fn resolve(&self) -> (Option<&'a str>, &'a str) {
        let node: &'a XmlNode = self.node;
        let (prefix, local) = split(&node.name);
        (self.lookup(prefix), local)
    }
}

/// Whether `node` or a descendant relies on an enclosing declaration of `prefix`.
fn uses(node: &XmlNode, prefix: &str) -> bool {
    split(&node.name).0 == prefix
        || !prefix.is_empty()
            && node.attributes.iter().any(|(k, _)| {
                decl_prefix(k).is_none() && k.split_once(':').is_some_and(|(p, _)| p == prefix)
            })
        || node
            .elements()
            .any(|c| !declares(c, prefix) && uses(c, prefix))
}

/// A copy of an unknown element that declares every prefix it borrowed from its ancestors,
/// so it can be written under our own elements (whose default namespace is `ns`). The
/// borrowed declarations follow its own attributes, sorted by name: which ancestor declared
/// them does not matter (the encoder writes them on different elements).
fn self_contained(node: &XmlNode, parent: &Scope<'_>, ns: &str) -> XmlNode {
    let mut out = node.clone();
    let mut borrowed: Vec<(String, String)> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut scope = Some(parent);
    while let Some(s) = scope {
        for (k, v) in &s.node.attributes {
            let Some(p) = decl_prefix(k) else { continue };
            if seen.contains(&p) {
                continue;
            }
            seen.push(p);
            if !declares(node, p) && uses(node, p) && !(p.is_empty() && v == ns) {
                // Kept sorted as they come (names are unique: `seen`); a sort routine
                // would cost more code than the few declarations it orders.
                let at = borrowed.partition_point(|(name, _)| name < k);
                borrowed.insert(at, (k.clone(), v.clone()));
            }
        }
        scope = s.parent;
    }
    if !seen.contains(&"") && !declares(node, "") && uses(node, "") {
        let at = borrowed.partition_point(|(name, _)| name.as_str() < "xmlns");
        borrowed.insert(at, ("xmlns".into(), String::new()));
    }
    out.attributes.append(&mut borrowed);
    out
}

/// An unknown element as decoded: [`self_contained`], and in the form it has once written
/// inside `out` (the encoder's elements around it) and read back: the writer skips the
/// declarations that repeat a binding in force there, and reading borrows back those the
/// element uses. So `decode(encode(x)) == x`, and the node stays self-contained.
fn foreign(node: &XmlNode, source: &Scope<'_>, out: &Scope<'_>, ns: &str) -> XmlNode {
    let node = self_contained(node, source, ns);
    let written = xml::without_redundant(&node, &mut out.declarations());
    self_contained(&written, out, ns)
}

/// The attributes of `scope`'s element other than namespace declarations and `known`,
/// followed by the declarations their prefixes need.
fn foreign_attrs(scope: &Scope<'_>, known: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut decls: Vec<(String, String)> = Vec::new();
    for (k, v) in &scope.node.attributes {
        if decl_prefix(k).is_some() || known.contains(&k.as_str()) {
            continue;
        }
        out.push((k.clone(), v.clone()));
        if let Some((p, _)) = k.split_once(':') {
            let decl = format!("xmlns:{p}");
            if let (Some(uri), true) = (scope.lookup(p), p != "xml") {
                if !decls.iter().any(|(d, _)| *d == decl) {
                    decls.push((decl, uri.to_owned()));
                }
            }
        }
    }
    out.append(&mut decls);
    out
}

/// Unknown children of `scope`'s element (written inside `out`), see [`foreign`]; text only
/// when `keep_text`.
fn foreign_children(
    scope: &Scope<'_>,
    out_scope: &Scope<'_>,
    ns: &str,
    keep_text: bool,
) -> Vec<XmlChild> {
    let mut out = Vec::new();
    for c in &scope.node.children {
        match c {
            XmlChild::Element(e) => out.push(XmlChild::Element(foreign(e, scope, out_scope, ns))),
            XmlChild::Text(t) if keep_text => out.push(XmlChild::Text(t.clone())),
            XmlChild::Text(_) => {}
        }
    }
    out
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn invalid(element: &'static str, what: &'static str) -> SettingsError {
    SettingsError::InvalidValue { element, what }
}

/// Reads the value element (`<inner>`, or `<name>` for flat specs; written inside `out`) and
/// returns its value and its template: the element stripped of the value.
fn read_value(
    spec: &Spec,
    scope: &Scope<'_>,
    out: &Scope<'_>,
    ns: &str,
) -> Result<(Val, XmlNode), SettingsError> {
    let name = spec.inner.unwrap_or(spec.name);
    let node = scope.node;
    let (val, known): (Val, &[&str]) = match spec.form {
        Form::Text => (Val::Text(node.text().trim().to_owned()), &[]),
        Form::Active | Form::ActiveType => {
            let active = node
                .attribute("active")
                .ok_or(invalid(name, "missing active"))?;
            let active = parse_bool(active).ok_or(invalid(name, "active is not a boolean"))?;
            if spec.form == Form::Active {
                (Val::Active(active, None), &["active"])
            } else {
                let kind = node.attribute("type").map(|t| t.trim().parse::<u32>());
                let kind = kind
                    .transpose()
                    .map_err(|_| invalid(name, "type is not an integer"))?;
                (Val::Active(active, kind), &["active", "type"])
            }
        }
    };
    let mut template = XmlNode {
        name: name.into(),
        attributes: foreign_attrs(scope, known),
        children: Vec::new(),
    };
    let keep_text = spec.form != Form::Text;
    template.children = foreign_children(scope, &out.child(&template), ns, keep_text);
    Ok((val, template))
}

/// The element a spec produces when nothing unknown is attached to it.
fn skeleton(spec: &Spec) -> XmlNode {
    let mut node = XmlNode::new(spec.name);
    if let Some(inner) = spec.inner {
        node.children.push(XmlChild::Element(XmlNode::new(inner)));
    }
    node
}

/// Reads a known child of `<entity>` (written inside `out`); the template is kept only when
/// it holds unknown content.
fn read_known(
    spec: &Spec,
    scope: &Scope<'_>,
    out: &Scope<'_>,
    ns: &str,
) -> Result<(Val, Option<XmlNode>), SettingsError> {
    let (val, template) = match spec.inner {
        None => read_value(spec, scope, out, ns)?,
        Some(inner) => {
            let mut template = XmlNode {
                name: spec.name.into(),
                attributes: foreign_attrs(scope, &[]),
                children: Vec::new(),
            };
            let out = out.child(&template);
            let mut val = None;
            let mut children = Vec::new();
            for child in scope.node.elements() {
                let cs = scope.child(child);
                if val.is_none() && cs.resolve() == (Some(ns), inner) {
                    let (v, t) = read_value(spec, &cs, &out, ns)?;
                    val = Some(v);
                    children.push(XmlChild::Element(t));
                } else {
                    children.push(XmlChild::Element(foreign(child, scope, &out, ns)));
                }
            }
            let val = val.ok_or(invalid(spec.name, "missing value element"))?;
            template.children = children;
            (val, template)
        }
    };
    Ok((val, Some(template).filter(|t| *t != skeleton(spec))))
}

/// Writes a known element: its template (or skeleton) with the value put back first.
fn build(spec: &Spec, val: &Val, template: Option<&XmlNode>) -> XmlNode {
    let mut node = template.cloned().unwrap_or_else(|| skeleton(spec));
    let target = match spec.inner {
        None => &mut node,
        Some(inner) => {
            let at = node
                .children
                .iter()
                // A foreign element of the same name carries its own `xmlns`; ours never does.
                .position(|c| matches!(c, XmlChild::Element(e) if e.name == inner && e.attribute("xmlns").is_none()));
            let at = at.unwrap_or_else(|| {
                node.children.push(XmlChild::Element(XmlNode::new(inner)));
                node.children.len() - 1
            });
            match node.children.get_mut(at) {
                Some(XmlChild::Element(e)) => e,
                _ => return node, // unreachable: `at` points at an element
            }
        }
    };
    match val {
        Val::Text(t) if t.is_empty() => {}
        Val::Text(t) => target.children.insert(0, XmlChild::Text(t.clone())),
        Val::Active(active, kind) => {
            let mut attrs = Vec::new();
            if let (Some(k), Form::ActiveType) = (kind, spec.form) {
                attrs.push(("type".to_owned(), k.to_string()));
            }
            attrs.push(("active".to_owned(), active.to_string()));
            target.attributes.splice(0..0, attrs);
        }
    }
    node
}

/// The order to record: empty when it is the one the encoder produces anyway (known kinds
/// ascending, then unknown elements): as `EXT` is the largest kind, a non-decreasing order.
fn settle(order: Vec<u8>) -> Vec<u8> {
    // In bounds: `windows(2)` yields slices of length 2.
    if order.windows(2).all(|w| w[0] <= w[1]) {
        Vec::new()
    } else {
        order
    }
}

/// Puts known and unknown children back in the recorded order; what the order does not place
/// (new values, or no order recorded) follows: known kinds ascending, then unknown elements.
fn arrange(order: &[u8], known: Vec<(u8, XmlNode)>, ext: &[XmlNode]) -> Vec<XmlChild> {
    let mut slots: Vec<Option<(u8, XmlNode)>> = Vec::with_capacity(known.len());
    for k in known {
        slots.push(Some(k));
    }
    let mut known = slots;
    let mut ext = ext.iter();
    let mut out = Vec::new();
    for &k in order {
        let next = if k == EXT {
            ext.next().cloned()
        } else {
            let slot = known
                .iter_mut()
                .find(|s| matches!(s, Some((kk, _)) if *kk == k));
            slot.and_then(Option::take).map(|(_, n)| n)
        };
        out.extend(next.map(XmlChild::Element));
    }
    out.extend(
        known
            .into_iter()
            .flatten()
            .map(|(_, n)| XmlChild::Element(n)),
    );
    out.extend(ext.cloned().map(XmlChild::Element));
    out
}

/// Decodes an `<entity>`; `out` is the root as the encoder writes it.
fn decode_entity(
    schema: &Schema,
    scope: &Scope<'_>,
    out: &Scope<'_>,
) -> Result<RawEntity, SettingsError> {
    let ns = schema.ns;
    let id = scope
        .node
        .attribute("id")
        .ok_or(invalid("entity", "missing id"))?;
    let mut entity = RawEntity {
        id: id.to_owned(),
        vals: Vec::new(),
        extensions: Vec::new(),
        preserved: Preserved {
            attributes: foreign_attrs(scope, &["id"]),
            ..Default::default()
        },
    };
    // Only the namespace declarations of the written `<entity>` matter here.
    let written = XmlNode {
        name: "entity".into(),
        attributes: entity.preserved.attributes.clone(),
        children: Vec::new(),
    };
    let out = out.child(&written);
    let mut order = Vec::new();
    for child in scope.node.elements() {
        let cs = scope.child(child);
        let known = match cs.resolve() {
            (Some(n), local) if n == ns => schema.specs.iter().position(|s| s.name == local),
            _ => None,
        };
        let kind = known.and_then(|k| u8::try_from(k).ok());
        let spec = known.and_then(|k| schema.specs.get(k));
        match (kind, spec) {
            (Some(kind), Some(spec)) if !entity.vals.iter().any(|(k, _)| *k == kind) => {
                let (val, template) = read_known(spec, &cs, &out, ns)?;
                entity.vals.push((kind, val));
                entity
                    .preserved
                    .templates
                    .extend(template.map(|t| (kind, t)));
                order.push(kind);
            }
            _ => {
                entity.extensions.push(foreign(child, scope, &out, ns));
                order.push(EXT);
            }
        }
    }
    entity.preserved.order = settle(order);
    Ok(entity)
}

/// Decodes a document of this schema into raw entities, root-level unknown elements and the
/// root's preserved details.
pub(crate) fn decode(
    schema: &Schema,
    bytes: &[u8],
) -> Result<(Vec<RawEntity>, Vec<XmlNode>, Preserved), SettingsError> {
    let root = xml::parse(bytes)?;
    let scope = Scope {
        node: &root,
        parent: None,
    };
    let (ns, local) = scope.resolve();
    if ns != Some(schema.ns) || local != schema.root {
        return Err(SettingsError::UnexpectedRoot {
            namespace: ns.map(str::to_owned),
            name: local.to_owned(),
        });
    }
    let attributes = foreign_attrs(&scope, &[]);
    let mut written = XmlNode::new(schema.root);
    written.attributes = root_attributes(schema, &attributes);
    let out = Scope {
        node: &written,
        parent: None,
    };
    let mut entities = Vec::new();
    let mut extensions = Vec::new();
    let mut order = Vec::new();
    for child in root.elements() {
        let cs = scope.child(child);
        if cs.resolve() == (Some(schema.ns), "entity") {
            entities.push(decode_entity(schema, &cs, &out)?);
            order.push(0);
        } else {
            extensions.push(foreign(child, &scope, &out, schema.ns));
            order.push(EXT);
        }
    }
    let preserved = Preserved {
        attributes,
        order: settle(order),
        templates: vec![],
    };
    Ok((entities, extensions, preserved))
}

/// The attributes the encoder writes on the root: our namespace, then the preserved ones.
fn root_attributes(schema: &Schema, preserved: &[(String, String)]) -> Vec<(String, String)> {
    let mut attributes = vec![("xmlns".to_owned(), schema.ns.to_owned())];
    attributes.extend(preserved.iter().cloned());
    attributes
}

/// Encodes a document of this schema.
pub(crate) fn encode(
    schema: &Schema,
    entities: impl Iterator<Item = RawEntity>,
    extensions: &[XmlNode],
    preserved: &Preserved,
) -> String {
    // Loops rather than filter_map/map/collect chains: smaller in the wasm.
    let mut nodes = Vec::new();
    for e in entities {
        let mut known = Vec::new();
        for (kind, val) in &e.vals {
            let Some(spec) = schema.specs.get(usize::from(*kind)) else {
                continue;
            };
            let template = e
                .preserved
                .templates
                .iter()
                .find(|(k, _)| k == kind)
                .map(|(_, t)| t);
            known.push((*kind, build(spec, val, template)));
        }
        let mut attributes = vec![("id".to_owned(), e.id)];
        attributes.extend(e.preserved.attributes);
        let children = arrange(&e.preserved.order, known, &e.extensions);
        nodes.push((
            0,
            XmlNode {
                name: "entity".into(),
                attributes,
                children,
            },
        ));
    }
    let attributes = root_attributes(schema, &preserved.attributes);
    let children = arrange(&preserved.order, nodes, extensions);
    xml::write(&XmlNode {
        name: schema.root.into(),
        attributes,
        children,
    })
}
