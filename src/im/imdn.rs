//! Instant Message Disposition Notification (IMDN, RFC 5438): the `message/imdn+xml`
//! document a recipient sends back, and the CPIM headers with which a sender asks for it.
//!
//! # Asking (RFC 5438, the CPIM header fields)
//!
//! The sender wraps its message in CPIM (`message/cpim`, RFC 3862), declares the IMDN
//! header namespace and names the message:
//!
//! ```text
//! NS: imdn <urn:ietf:params:imdn>
//! imdn.Message-ID: 34jk324j
//! DateTime: 2006-04-04T12:16:49-05:00
//! imdn.Disposition-Notification: positive-delivery, negative-delivery
//! ```
//!
//! [`CPIM_NS`], [`MESSAGE_ID_HEADER`], [`DISPOSITION_NOTIFICATION_HEADER`],
//! [`DispositionRequest`] and [`new_message_id`] are those pieces; the CPIM envelope itself
//! is the CPIM codec's.
//!
//! # Answering (RFC 5438, the IMDN format)
//!
//! The recipient (or an IM Server on its behalf) sends a CPIM message whose body has
//! `Content-Type: message/imdn+xml` and `Content-Disposition: notification`
//! ([`MESSAGE_IMDN_CONTENT_TYPE`], [`NOTIFICATION_DISPOSITION`]) and this document
//! ([`Notification`]):
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <imdn xmlns="urn:ietf:params:xml:ns:imdn">
//!   <message-id>34jk324j</message-id>
//!   <datetime>2008-04-04T17:16:49Z</datetime>
//!   <recipient-uri>im:bob@example.com</recipient-uri>
//!   <original-recipient-uri>im:bob@example.com</original-recipient-uri>
//!   <delivery-notification>
//!     <status>
//!       <delivered/>
//!     </status>
//!   </delivery-notification>
//! </imdn>
//! ```
//!
//! Decoding resolves namespaces: the root must be `imdn` in [`IMDN_NS`], and only children
//! in that namespace are read. Elements in other namespaces, and unknown elements of the
//! IMDN namespace, are ignored (the schema's extension points), except inside `<status>`,
//! where an IMDN element is a status value: an unknown one is
//! [`ImdnError::UnknownStatus`]. A known element given twice (two `message-id`s, two
//! notifications, two status values) is refused: which one was meant cannot be told. The
//! document goes through the crate's hardened XML reader, so its limits (size, depth, no
//! `DOCTYPE`) surface as [`ImdnError::Xml`].
//!
//! ```
//! use imsip::im::imdn::{Kind, Notification, Status};
//!
//! let n = Notification {
//!     message_id: "34jk324j".into(),
//!     date_time: "2008-04-04T12:16:49-05:00".into(),
//!     recipient_uri: Some("im:bob@example.com".into()),
//!     original_recipient_uri: None,
//!     subject: None,
//!     kind: Kind::Display,
//!     status: Status::Displayed,
//! };
//! let xml = n.encode();
//! assert!(xml.contains("<displayed/>"));
//! assert_eq!(Notification::decode(xml.as_bytes()), Ok(n));
//! ```

use crate::auth::base64_encode;
use crate::settings::{parse_xml, write_xml, SettingsError, XmlChild, XmlNode};
use std::fmt;

/// The media type of an IMDN document.
pub const MESSAGE_IMDN_CONTENT_TYPE: &str = "message/imdn+xml";
/// The XML namespace of an IMDN document (RFC 5438).
pub const IMDN_NS: &str = "urn:ietf:params:xml:ns:imdn";
/// The CPIM header namespace of the IMDN headers (RFC 5438), declared with
/// `NS: imdn <urn:ietf:params:imdn>`.
pub const CPIM_NS: &str = "urn:ietf:params:imdn";
/// The prefix the RFC's examples bind [`CPIM_NS`] to (`imdn.Message-ID`); a receiver
/// must honour whatever prefix the `NS` header declares.
pub const CPIM_NS_PREFIX: &str = "imdn";
/// The CPIM header naming a message for its notifications (RFC 5438), in
/// [`CPIM_NS`].
pub const MESSAGE_ID_HEADER: &str = "Message-ID";
/// The CPIM header asking for notifications (RFC 5438), in [`CPIM_NS`]; its value
/// is a [`DispositionRequest`].
pub const DISPOSITION_NOTIFICATION_HEADER: &str = "Disposition-Notification";
/// The recipient the sender addressed, kept by an intermediary that redirected the
/// message (a list server): `imdn.Original-To` (RFC 5438 §6.4).
pub const ORIGINAL_TO_HEADER: &str = "Original-To";
/// The `Content-Disposition` value of an IMDN body (RFC 5438): `notification`.
pub const NOTIFICATION_DISPOSITION: &str = "notification";
/// The fewest random bytes [`new_message_id`] should be given: RFC 5438 asks for at
/// least 32 bits of randomness. 16 bytes (128 bits) make collisions negligible.
pub const MESSAGE_ID_MIN_RANDOM_BYTES: usize = 4;

/// A `Message-ID` value (RFC 5438) from `random` bytes: their URL-safe base64
/// (RFC 4648 §5, `A-Z a-z 0-9 - _`, no padding), so a token in CPIM and SIP and plain
/// text in XML. Pass at least [`MESSAGE_ID_MIN_RANDOM_BYTES`] bytes (16 recommended);
/// fewer give fewer than the 32 bits the RFC requires.
///
/// ```
/// assert_eq!(imsip::im::imdn::new_message_id(&[0xfb, 0xff, 0x00, 0x01]), "-_8AAQ");
/// ```
pub fn new_message_id(random: &[u8]) -> String {
    base64_encode(random)
        .chars()
        .filter(|&c| c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect()
}

/// Which notifications a sender asks for: the value of `imdn.Disposition-Notification`
/// (RFC 5438), `positive-delivery, negative-delivery, display, processing` in any
/// subset and order.
///
/// [`parse`](Self::parse) reads the names case-insensitively, ignores parameters
/// (`;name=value`) and names it does not know, and never fails; `Display` writes the set
/// names in the order above, comma-separated. An empty request means the header is left
/// out.
///
/// ```
/// use imsip::im::imdn::DispositionRequest;
///
/// let r = DispositionRequest::parse("positive-delivery, negative-delivery");
/// assert!(r.positive_delivery && r.negative_delivery && !r.display && !r.processing);
/// assert_eq!(r.to_string(), "positive-delivery, negative-delivery");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DispositionRequest {
    /// `positive-delivery`: report successful delivery (`<delivered/>`).
    pub positive_delivery: bool,
    /// `negative-delivery`: report failed delivery (`<failed/>`).
    pub negative_delivery: bool,
    /// `display`: report that the message was displayed (`<displayed/>`).
    pub display: bool,
    /// `processing`: report intermediate processing (`<processed/>`, `<stored/>`).
    pub processing: bool,
}

impl DispositionRequest {
    /// Every notification: positive and negative delivery, display and processing.
    pub const ALL: DispositionRequest = DispositionRequest {
        positive_delivery: true,
        negative_delivery: true,
        display: true,
        processing: true,
    };

    /// The request of a `Disposition-Notification` header value.
    pub fn parse(value: &str) -> DispositionRequest {
        let mut r = DispositionRequest::default();
        for item in value.split(',') {
            let name = trim_xml_space(item.split(';').next().unwrap_or_default());
            let flag = match name.to_ascii_lowercase().as_str() {
                "positive-delivery" => &mut r.positive_delivery,
                "negative-delivery" => &mut r.negative_delivery,
                "display" => &mut r.display,
                "processing" => &mut r.processing,
                _ => continue,
            };
            *flag = true;
        }
        r
    }

    /// Whether nothing is asked for (no header to send).
    pub fn is_empty(&self) -> bool {
        *self == DispositionRequest::default()
    }
}

impl fmt::Display for DispositionRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (self.positive_delivery, "positive-delivery"),
            (self.negative_delivery, "negative-delivery"),
            (self.display, "display"),
            (self.processing, "processing"),
        ];
        let mut sep = "";
        for (_, name) in names.iter().filter(|(set, _)| *set) {
            write!(f, "{sep}{name}")?;
            sep = ", ";
        }
        Ok(())
    }
}

/// The kind of a notification: which element of the document carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `<delivery-notification>`: delivered, failed, forbidden or error.
    Delivery,
    /// `<display-notification>`: displayed, forbidden or error.
    Display,
    /// `<processing-notification>`: processed, stored, forbidden or error.
    Processing,
}

impl Kind {
    /// The element name: `delivery-notification`, `display-notification`,
    /// `processing-notification`.
    pub fn element(self) -> &'static str {
        match self {
            Kind::Delivery => "delivery-notification",
            Kind::Display => "display-notification",
            Kind::Processing => "processing-notification",
        }
    }

    /// The kind of a notification element's local name.
    pub fn from_element(name: &str) -> Option<Kind> {
        [Kind::Delivery, Kind::Display, Kind::Processing]
            .into_iter()
            .find(|k| k.element() == name)
    }

    /// Whether a notification of this kind may carry `status` (the RFC 5438 schema).
    pub fn allows(self, status: Status) -> bool {
        use Status::*;
        match self {
            Kind::Delivery => matches!(status, Delivered | Failed | Forbidden | Error),
            Kind::Display => matches!(status, Displayed | Forbidden | Error),
            Kind::Processing => matches!(status, Processed | Stored | Forbidden | Error),
        }
    }
}

/// The disposition reported, an empty element inside `<status>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `<delivered/>` (delivery): the message reached the recipient's device.
    Delivered,
    /// `<failed/>` (delivery): it could not be delivered.
    Failed,
    /// `<forbidden/>` (any kind): policy forbids sending this notification.
    Forbidden,
    /// `<error/>` (any kind): an error occurred producing the notification.
    Error,
    /// `<displayed/>` (display): the message was shown to the user.
    Displayed,
    /// `<processed/>` (processing): an intermediary processed it.
    Processed,
    /// `<stored/>` (processing): an intermediary stored it for later delivery.
    Stored,
}

impl Status {
    const ALL: [Status; 7] = [
        Status::Delivered,
        Status::Failed,
        Status::Forbidden,
        Status::Error,
        Status::Displayed,
        Status::Processed,
        Status::Stored,
    ];

    /// The element name: `delivered`, `failed`, `forbidden`, `error`, `displayed`,
    /// `processed`, `stored`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Forbidden => "forbidden",
            Status::Error => "error",
            Status::Displayed => "displayed",
            Status::Processed => "processed",
            Status::Stored => "stored",
        }
    }

    /// The status of an element's local name.
    pub fn from_element(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// An IMDN document (RFC 5438): the disposition of one message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The `Message-ID` of the message this reports on (`<message-id>`).
    pub message_id: String,
    /// The `DateTime` of that message as it wrote it (`<datetime>`, RFC 3339): RFC
    /// 5438 §7.2.1 copies it, and a sender may match notifications by it, so it is
    /// never re-formatted. [`decode`](Self::decode) checks it and keeps the text
    /// (trimmed); [`unix_time`](Self::unix_time) reads it.
    pub date_time: String,
    /// The recipient that produced the notification (`<recipient-uri>`).
    pub recipient_uri: Option<String>,
    /// The recipient the sender addressed, before any redirection
    /// (`<original-recipient-uri>`).
    pub original_recipient_uri: Option<String>,
    /// The subject of the message (`<subject>`), kept as written.
    pub subject: Option<String>,
    /// Delivery, display or processing.
    pub kind: Kind,
    /// The disposition; [`Kind::allows`] says which go with `kind`.
    pub status: Status,
}

impl Notification {
    /// [`date_time`](Self::date_time) in Unix seconds (any RFC 3339 offset, fractions
    /// of a second dropped); `None` when it is not RFC 3339.
    pub fn unix_time(&self) -> Option<u64> {
        parse_date_time(&self.date_time)
    }

    /// The document, with `xmlns="urn:ietf:params:xml:ns:imdn"` and the elements in the
    /// schema's order.
    ///
    /// It is written as given: an empty `message_id`, or a `status` that `kind` does not
    /// allow, gives a document [`decode`](Self::decode) refuses.
    pub fn encode(&self) -> String {
        let mut root = XmlNode::new("imdn");
        root.attributes.push(("xmlns".into(), IMDN_NS.into()));
        let mut push = |name: &str, text: &str| {
            root.children
                .push(XmlChild::Element(text_element(name, text)));
        };
        push("message-id", &self.message_id);
        push("datetime", &self.date_time);
        if let Some(uri) = &self.recipient_uri {
            push("recipient-uri", uri);
        }
        if let Some(uri) = &self.original_recipient_uri {
            push("original-recipient-uri", uri);
        }
        if let Some(subject) = &self.subject {
            push("subject", subject);
        }
        let mut status = XmlNode::new("status");
        status
            .children
            .push(XmlChild::Element(XmlNode::new(self.status.as_str())));
        let mut kind = XmlNode::new(self.kind.element());
        kind.children.push(XmlChild::Element(status));
        root.children.push(XmlChild::Element(kind));
        write_xml(&root)
    }

    /// Reads an IMDN document.
    ///
    /// `message-id` and `datetime` are required (surrounding XML white space trimmed);
    /// `recipient-uri` and `original-recipient-uri` are trimmed, and absent when empty;
    /// `subject` is kept as written. Exactly one notification element with exactly one
    /// status value is required.
    pub fn decode(bytes: &[u8]) -> Result<Notification, ImdnError> {
        let root = parse_xml(bytes)?;
        let (ns, name) = expanded_name(&root, &[]);
        if ns != Some(IMDN_NS) || name != "imdn" {
            return Err(ImdnError::UnexpectedRoot {
                namespace: ns.map(str::to_owned),
                name: name.to_owned(),
            });
        }
        let mut message_id = None;
        let mut date_time = None;
        let mut recipient_uri = None;
        let mut original_recipient_uri = None;
        let mut subject = None;
        let mut notification = None;
        for (name, child) in children_in(IMDN_NS, &[&root]) {
            let (slot, element) = match name {
                "message-id" => (&mut message_id, "message-id"),
                "datetime" => (&mut date_time, "datetime"),
                "recipient-uri" => (&mut recipient_uri, "recipient-uri"),
                "original-recipient-uri" => (&mut original_recipient_uri, "original-recipient-uri"),
                "subject" => (&mut subject, "subject"),
                _ => {
                    if let Some(kind) = Kind::from_element(name) {
                        if notification.is_some() {
                            return Err(ImdnError::Duplicate("notification"));
                        }
                        notification = Some((kind, child));
                    }
                    continue;
                }
            };
            if slot.replace(child).is_some() {
                return Err(ImdnError::Duplicate(element));
            }
        }
        let message_id = message_id
            .map(|n| trim_xml_space(&n.text()).to_owned())
            .filter(|s| !s.is_empty())
            .ok_or(ImdnError::Missing("message-id"))?;
        let date_time = date_time
            .map(|n| n.text())
            .filter(|t| !trim_xml_space(t).is_empty())
            .ok_or(ImdnError::Missing("datetime"))?;
        let date_time = trim_xml_space(&date_time).to_owned();
        parse_date_time(&date_time).ok_or(ImdnError::InvalidDateTime)?;
        let uri = |n: Option<&XmlNode>| {
            n.map(|n| trim_xml_space(&n.text()).to_owned())
                .filter(|s| !s.is_empty())
        };
        let (kind, element) = notification.ok_or(ImdnError::MissingNotification)?;
        let status = read_status(kind, &[&root, element])?;
        Ok(Notification {
            message_id,
            date_time,
            recipient_uri: uri(recipient_uri),
            original_recipient_uri: uri(original_recipient_uri),
            subject: subject.map(XmlNode::text),
            kind,
            status,
        })
    }
}

/// The status value of the notification element last in `scope` (its ancestors before
/// it).
fn read_status(kind: Kind, scope: &[&XmlNode]) -> Result<Status, ImdnError> {
    let mut statuses = children_in(IMDN_NS, scope)
        .into_iter()
        .filter(|(name, _)| *name == "status");
    let (_, status) = statuses.next().ok_or(ImdnError::Missing("status"))?;
    if statuses.next().is_some() {
        return Err(ImdnError::Duplicate("status"));
    }
    let mut scope = scope.to_vec();
    scope.push(status);
    let mut value = None;
    for (name, _) in children_in(IMDN_NS, &scope) {
        if value.is_some() {
            return Err(ImdnError::Duplicate("status"));
        }
        value = Some(name);
    }
    let name = value.ok_or(ImdnError::Missing("status"))?;
    let status = Status::from_element(name).ok_or_else(|| ImdnError::UnknownStatus {
        kind,
        status: name.to_owned(),
    })?;
    if !kind.allows(status) {
        return Err(ImdnError::MismatchedStatus { kind, status });
    }
    Ok(status)
}

/// Why an IMDN document was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImdnError {
    /// The XML reader refused the body: not UTF-8, not well-formed, larger than
    /// [`MAX_DOCUMENT_SIZE`](crate::settings::MAX_DOCUMENT_SIZE), nested deeper than
    /// [`MAX_DEPTH`](crate::settings::MAX_DEPTH), or with a `DOCTYPE`.
    Xml(SettingsError),
    /// The root element is not `imdn` in [`IMDN_NS`].
    UnexpectedRoot {
        /// Namespace of the root found (`None`: no namespace).
        namespace: Option<String>,
        /// Local name of the root found.
        name: String,
    },
    /// A required element is absent or empty: `message-id`, `datetime`, or `status`
    /// (the element or its value).
    Missing(&'static str),
    /// None of `delivery-notification`, `display-notification`,
    /// `processing-notification`.
    MissingNotification,
    /// A known element occurs more than once: the name, or `notification` for a second
    /// notification element of any kind, or `status` for a second status (element or
    /// value).
    Duplicate(&'static str),
    /// `datetime` is not an RFC 3339 date-time (or is before 1970).
    InvalidDateTime,
    /// The status value is no status RFC 5438 defines.
    UnknownStatus {
        /// The notification it was found in.
        kind: Kind,
        /// Its local name.
        status: String,
    },
    /// The status value is one this kind of notification cannot carry
    /// (`<displayed/>` in a delivery notification).
    MismatchedStatus {
        /// The notification it was found in.
        kind: Kind,
        /// The status found.
        status: Status,
    },
}

impl From<SettingsError> for ImdnError {
    fn from(e: SettingsError) -> Self {
        ImdnError::Xml(e)
    }
}

impl fmt::Display for ImdnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Xml(e) => write!(f, "IMDN document: {e}"),
            Self::UnexpectedRoot { namespace, name } => write!(
                f,
                "not an IMDN document: root element {name} in namespace {}",
                namespace.as_deref().unwrap_or("(none)")
            ),
            Self::Missing(element) => write!(f, "IMDN document without <{element}>"),
            Self::MissingNotification => f.write_str("IMDN document without a notification"),
            Self::Duplicate(element) => write!(f, "IMDN document with more than one {element}"),
            Self::InvalidDateTime => f.write_str("IMDN <datetime> is not an RFC 3339 date-time"),
            Self::UnknownStatus { kind, status } => {
                write!(f, "unknown status <{status}/> in <{}>", kind.element())
            }
            Self::MismatchedStatus { kind, status } => write!(
                f,
                "status <{}/> is not allowed in <{}>",
                status.as_str(),
                kind.element()
            ),
        }
    }
}

impl std::error::Error for ImdnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Xml(e) => Some(e),
            _ => None,
        }
    }
}

// Helpers shared with `iscomposing` (both read small namespaced documents whose dates are
// RFC 3339 with offsets).

/// An element holding only `text` (no child when `text` is empty).
pub(crate) fn text_element(name: &str, text: &str) -> XmlNode {
    let mut node = XmlNode::new(name);
    if !text.is_empty() {
        node.children.push(XmlChild::Text(text.to_owned()));
    }
    node
}

/// `s` without leading and trailing XML white space (space, tab, CR, LF).
pub(crate) fn trim_xml_space(s: &str) -> &str {
    crate::message::text::trim_set(s, b" \t\r\n")
}

/// The namespace name (`None`: no namespace, or an undeclared prefix) and local part of
/// `node`'s name, `ancestors` being the elements around it, outermost first: the
/// innermost `xmlns` / `xmlns:p` declaration in force decides (Namespaces in XML 1.0 §6).
pub(crate) fn expanded_name<'a>(
    node: &'a XmlNode,
    ancestors: &[&'a XmlNode],
) -> (Option<&'a str>, &'a str) {
    let (prefix, local) = node.name.split_once(':').unwrap_or(("", &node.name));
    // Plain loops, not iterator chains: one copy of the code for every caller.
    let mut scope = ancestors.len();
    let mut n = node;
    loop {
        for (k, v) in &n.attributes {
            let declares = match k.strip_prefix("xmlns") {
                Some("") => prefix.is_empty(),
                Some(rest) => !prefix.is_empty() && rest.strip_prefix(':') == Some(prefix),
                None => false,
            };
            if declares {
                // `xmlns=""` undeclares the default namespace.
                return ((!v.is_empty()).then_some(v.as_str()), local);
            }
        }
        if scope == 0 {
            return (None, local);
        }
        scope -= 1;
        n = ancestors[scope]; // scope < ancestors.len()
    }
}

/// The child elements in namespace `ns` of the last element of `scope` (its ancestors
/// before it, outermost first), with their local names, in document order.
pub(crate) fn children_in<'a>(ns: &str, scope: &[&'a XmlNode]) -> Vec<(&'a str, &'a XmlNode)> {
    let mut out = Vec::new();
    if let Some(parent) = scope.last() {
        for child in parent.elements() {
            if let (Some(n), local) = expanded_name(child, scope) {
                if n == ns {
                    out.push((local, child));
                }
            }
        }
    }
    out
}

/// Unix seconds of an RFC 3339 date-time with any offset (`2008-04-04T12:16:49-05:00`,
/// `...Z`, `...+0100` too); fractions of a second are dropped. `None` when it is not one,
/// or is before 1970.
pub(crate) fn parse_date_time(value: &str) -> Option<u64> {
    crate::message::date::parse_rfc3339(trim_xml_space(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_with_offsets() {
        // The RFC 5438 examples' datetime, and the same instant in UTC.
        assert_eq!(
            parse_date_time("2008-04-04T12:16:49-05:00"),
            Some(1_207_329_409)
        );
        assert_eq!(parse_date_time("2008-04-04T17:16:49Z"), Some(1_207_329_409));
        assert_eq!(
            parse_date_time(" 2008-04-04T18:16:49.5+01:00\n"),
            Some(1_207_329_409)
        );
        assert_eq!(
            parse_date_time("2008-04-04T17:16:49+0000"),
            Some(1_207_329_409)
        );
        assert_eq!(
            parse_date_time("2008-04-04T17:16:49+00:00"),
            Some(1_207_329_409)
        );
        for bad in [
            "",
            "2008-04-04",
            "2008-04-04T17:16:49",
            "2008-04-04T17:16:49+24:00",
            "2008-04-04T17:16:49+01:60",
            "2008-04-04T17:16:49+1:00",
            "2008-04-04T17:16:49+01",
            "2008-04-04T17:16:49-",
            "1970-01-01T00:00:00+00:01",
            "2008-04-04T17:16:49+é:00",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefixes_resolve_innermost_first() {
        let doc = parse_xml(
            br#"<i:imdn xmlns:i="urn:ietf:params:xml:ns:imdn" xmlns="urn:x"><a/><i:b/><c xmlns=""/><d xmlns="urn:ietf:params:xml:ns:imdn"/><j:e/></i:imdn>"#,
        )
        .unwrap();
        assert_eq!(expanded_name(&doc, &[]), (Some(IMDN_NS), "imdn"));
        let names: Vec<_> = doc.elements().map(|e| expanded_name(e, &[&doc])).collect();
        assert_eq!(
            names,
            [
                (Some("urn:x"), "a"),
                (Some(IMDN_NS), "b"),
                (None, "c"),
                (Some(IMDN_NS), "d"),
                (None, "e"),
            ]
        );
        let local: Vec<_> = children_in(IMDN_NS, &[&doc])
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(local, ["b", "d"]);
    }
}
