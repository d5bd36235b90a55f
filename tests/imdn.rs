//! RFC 5438 disposition notifications (imsip::im::imdn): the RFC's examples, every
//! kind/status pair, namespaces, typed errors, the XML reader's limits, the request
//! headers, and properties (decode never panics; what decodes round trips).
#![cfg(not(target_arch = "wasm32"))]

mod mutation;

use imsip::im::imdn::{
    new_message_id, DispositionRequest, ImdnError, Kind, Notification, Status, CPIM_NS,
    DISPOSITION_NOTIFICATION_HEADER, IMDN_NS, MESSAGE_ID_HEADER, MESSAGE_ID_MIN_RANDOM_BYTES,
    MESSAGE_IMDN_CONTENT_TYPE, NOTIFICATION_DISPOSITION,
};
use imsip::settings::{SettingsError, MAX_DEPTH, MAX_DOCUMENT_SIZE};
use proptest::prelude::*;

/// RFC 5438's delivery notification example, re-typed (CRLF line ends, as in the RFC
/// text).
const RFC_DELIVERED: &str = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n",
    "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\r\n",
    "   <message-id>34jk324j</message-id>\r\n",
    "   <datetime>2008-04-04T12:16:49-05:00</datetime>\r\n",
    "   <recipient-uri>im:bob@example.com</recipient-uri>\r\n",
    "   <original-recipient-uri>im:bob@example.com</original-recipient-uri>\r\n",
    "   <subject>Project Tomorrow</subject>\r\n",
    "   <delivery-notification>\r\n",
    "      <status>\r\n",
    "         <delivered/>\r\n",
    "      </status>\r\n",
    "   </delivery-notification>\r\n",
    "</imdn>\r\n",
);

/// The same message's display notification, re-typed.
const RFC_DISPLAYED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
   <message-id>34jk324j</message-id>
   <datetime>2008-04-04T12:16:49-05:00</datetime>
   <recipient-uri>im:bob@example.com</recipient-uri>
   <original-recipient-uri>im:bob@example.com</original-recipient-uri>
   <subject>Project Tomorrow</subject>
   <display-notification>
      <status>
         <displayed/>
      </status>
   </display-notification>
</imdn>
"#;

fn rfc_notification(kind: Kind, status: Status) -> Notification {
    Notification {
        message_id: "34jk324j".into(),
        date_time: "2008-04-04T12:16:49-05:00".into(),
        recipient_uri: Some("im:bob@example.com".into()),
        original_recipient_uri: Some("im:bob@example.com".into()),
        subject: Some("Project Tomorrow".into()),
        kind,
        status,
    }
}

/// A document with `body` between the required elements and nothing else.
fn doc(body: &str) -> String {
    format!(
        "<imdn xmlns=\"{IMDN_NS}\"><message-id>m1</message-id>\
         <datetime>2026-11-29T23:05:00Z</datetime>{body}</imdn>"
    )
}

fn decode(s: &str) -> Result<Notification, ImdnError> {
    Notification::decode(s.as_bytes())
}

const KINDS: [Kind; 3] = [Kind::Delivery, Kind::Display, Kind::Processing];
const STATUSES: [Status; 7] = [
    Status::Delivered,
    Status::Failed,
    Status::Forbidden,
    Status::Error,
    Status::Displayed,
    Status::Processed,
    Status::Stored,
];

// ---- Known answers (RFC 5438) ----

#[test]
fn rfc5438_delivery_notification_example() {
    assert_eq!(
        decode(RFC_DELIVERED),
        Ok(rfc_notification(Kind::Delivery, Status::Delivered))
    );
}

#[test]
fn rfc5438_display_notification_example() {
    assert_eq!(
        decode(RFC_DISPLAYED),
        Ok(rfc_notification(Kind::Display, Status::Displayed))
    );
}

#[test]
fn rfc5438_request_headers_example() {
    // The RFC's CPIM example asks for positive and negative delivery notifications only.
    let r = DispositionRequest::parse("positive-delivery, negative-delivery");
    assert_eq!(
        r,
        DispositionRequest {
            positive_delivery: true,
            negative_delivery: true,
            display: false,
            processing: false,
        }
    );
    assert_eq!(r.to_string(), "positive-delivery, negative-delivery");
    assert_eq!(
        format!("NS: imdn <{CPIM_NS}>"),
        "NS: imdn <urn:ietf:params:imdn>"
    );
    assert_eq!(MESSAGE_ID_HEADER, "Message-ID");
    assert_eq!(DISPOSITION_NOTIFICATION_HEADER, "Disposition-Notification");
    assert_eq!(MESSAGE_IMDN_CONTENT_TYPE, "message/imdn+xml");
    assert_eq!(NOTIFICATION_DISPOSITION, "notification");
    assert_eq!(IMDN_NS, "urn:ietf:params:xml:ns:imdn");
}

#[test]
fn encoding_is_the_schema_order_with_the_datetime_as_given() {
    let xml = rfc_notification(Kind::Delivery, Status::Delivered).encode();
    assert_eq!(
        xml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<imdn xmlns="urn:ietf:params:xml:ns:imdn">
  <message-id>34jk324j</message-id>
  <datetime>2008-04-04T12:16:49-05:00</datetime>
  <recipient-uri>im:bob@example.com</recipient-uri>
  <original-recipient-uri>im:bob@example.com</original-recipient-uri>
  <subject>Project Tomorrow</subject>
  <delivery-notification>
    <status>
      <delivered/>
    </status>
  </delivery-notification>
</imdn>
"#
    );
}

// ---- Kinds and statuses ----

#[test]
fn every_allowed_pair_round_trips_and_every_other_pair_is_refused() {
    let mut allowed = 0;
    for kind in KINDS {
        for status in STATUSES {
            let n = Notification {
                message_id: "x".into(),
                date_time: "1970-01-01T00:00:00Z".into(),
                recipient_uri: None,
                original_recipient_uri: None,
                subject: None,
                kind,
                status,
            };
            let got = Notification::decode(n.encode().as_bytes());
            if kind.allows(status) {
                allowed += 1;
                assert_eq!(got, Ok(n), "{kind:?} {status:?}");
            } else {
                assert_eq!(
                    got,
                    Err(ImdnError::MismatchedStatus { kind, status }),
                    "{kind:?} {status:?}"
                );
            }
        }
    }
    // delivered/failed/forbidden/error, displayed/forbidden/error,
    // processed/stored/forbidden/error.
    assert_eq!(allowed, 11);
}

#[test]
fn names_of_kinds_and_statuses() {
    for kind in KINDS {
        assert_eq!(Kind::from_element(kind.element()), Some(kind));
    }
    for status in STATUSES {
        assert_eq!(Status::from_element(status.as_str()), Some(status));
    }
    assert_eq!(Kind::from_element("status"), None);
    assert_eq!(Status::from_element("read"), None);
    assert_eq!(Status::from_element("Delivered"), None);
}

#[test]
fn an_unknown_status_is_a_typed_error() {
    assert_eq!(
        decode(&doc(
            "<display-notification><status><read/></status></display-notification>"
        )),
        Err(ImdnError::UnknownStatus {
            kind: Kind::Display,
            status: "read".into()
        })
    );
}

#[test]
fn processing_notifications() {
    let n = decode(&doc(
        "<processing-notification><status><stored/></status></processing-notification>",
    ))
    .unwrap();
    assert_eq!((n.kind, n.status), (Kind::Processing, Status::Stored));
    assert_eq!(n.message_id, "m1");
    assert_eq!(n.date_time, "2026-11-29T23:05:00Z");
    assert_eq!(n.unix_time(), Some(1_795_993_500));
    assert_eq!((n.recipient_uri, n.subject), (None, None));
}

// ---- Namespaces ----

#[test]
fn a_prefixed_document_reads_the_same() {
    let xml = "<i:imdn xmlns:i=\"urn:ietf:params:xml:ns:imdn\" xmlns=\"urn:elsewhere\">\
        <i:message-id>34jk324j</i:message-id>\
        <i:datetime>2008-04-04T12:16:49-05:00</i:datetime>\
        <i:recipient-uri>im:bob@example.com</i:recipient-uri>\
        <original-recipient-uri xmlns=\"urn:ietf:params:xml:ns:imdn\">im:bob@example.com</original-recipient-uri>\
        <i:subject>Project Tomorrow</i:subject>\
        <j:delivery-notification xmlns:j=\"urn:ietf:params:xml:ns:imdn\">\
          <j:status><i:delivered/></j:status>\
        </j:delivery-notification>\
      </i:imdn>";
    assert_eq!(
        decode(xml),
        Ok(rfc_notification(Kind::Delivery, Status::Delivered))
    );
}

#[test]
fn the_wrong_root_or_namespace_is_refused() {
    let cases: [(&str, Option<&str>, &str); 5] = [
        ("<imdn><message-id>m</message-id></imdn>", None, "imdn"),
        (
            "<imdn xmlns=\"urn:ietf:params:imdn\"/>",
            Some("urn:ietf:params:imdn"),
            "imdn",
        ),
        (
            "<isComposing xmlns=\"urn:ietf:params:xml:ns:imdn\"/>",
            Some(IMDN_NS),
            "isComposing",
        ),
        (
            "<x:imdn xmlns:x=\"urn:ietf:params:xml:ns:IMDN\"/>",
            Some("urn:ietf:params:xml:ns:IMDN"),
            "imdn",
        ),
        // An undeclared prefix has no namespace.
        ("<i:imdn/>", None, "imdn"),
    ];
    for (xml, ns, name) in cases {
        assert_eq!(
            decode(xml),
            Err(ImdnError::UnexpectedRoot {
                namespace: ns.map(str::to_owned),
                name: name.into()
            }),
            "{xml}"
        );
    }
}

#[test]
fn children_in_another_namespace_are_not_imdn_elements() {
    // A message-id in another namespace is not the message-id.
    let xml = format!(
        "<imdn xmlns=\"{IMDN_NS}\" xmlns:x=\"urn:x\"><x:message-id>m</x:message-id>\
         <datetime>2026-11-29T23:05:00Z</datetime>\
         <delivery-notification><status><delivered/></status></delivery-notification></imdn>"
    );
    assert_eq!(decode(&xml), Err(ImdnError::Missing("message-id")));
    // Nor is a status value undeclared back to no namespace.
    let xml = doc(
        "<delivery-notification><status><delivered xmlns=\"\"/></status></delivery-notification>",
    );
    assert_eq!(decode(&xml), Err(ImdnError::Missing("status")));
}

#[test]
fn unknown_and_extension_elements_are_ignored() {
    let xml = doc(
        "<x:hint xmlns:x=\"urn:x\">a</x:hint><future-element/>\
         <delivery-notification>\
           <status><y:why xmlns:y=\"urn:y\"/><failed/><z:more xmlns:z=\"urn:z\"><z:deep/></z:more></status>\
           <reason-code xmlns=\"urn:ietf:params:xml:ns:\">0</reason-code>\
           <note lang=\"en\">full mailbox</note>\
         </delivery-notification><x:after xmlns:x=\"urn:x\"/>",
    );
    let n = decode(&xml).unwrap();
    assert_eq!((n.kind, n.status), (Kind::Delivery, Status::Failed));
}

// ---- Required elements and typed errors ----

#[test]
fn required_elements_are_typed_errors() {
    let status = "<delivery-notification><status><delivered/></status></delivery-notification>";
    let without = |drop: &str| {
        format!(
            "<imdn xmlns=\"{IMDN_NS}\">{}{status}</imdn>",
            [
                "<message-id>m1</message-id>",
                "<datetime>2026-11-29T23:05:00Z</datetime>"
            ]
            .iter()
            .filter(|e| !e.contains(drop))
            .copied()
            .collect::<String>()
        )
    };
    assert_eq!(
        decode(&without("message-id")),
        Err(ImdnError::Missing("message-id"))
    );
    assert_eq!(
        decode(&without("datetime")),
        Err(ImdnError::Missing("datetime"))
    );
    for empty in ["<message-id/>", "<message-id> \n\t</message-id>"] {
        let xml = without("message-id").replace("<datetime>", &format!("{empty}<datetime>"));
        assert_eq!(decode(&xml), Err(ImdnError::Missing("message-id")), "{xml}");
    }
    assert_eq!(decode(&doc("")), Err(ImdnError::MissingNotification));
    for bad in [
        "<delivery-notification/>",
        "<delivery-notification><status/></delivery-notification>",
        // Seen in the wild: the value as text rather than an element.
        "<delivery-notification><status>delivered</status></delivery-notification>",
        "<delivery-notification><delivered/></delivery-notification>",
    ] {
        assert_eq!(
            decode(&doc(bad)),
            Err(ImdnError::Missing("status")),
            "{bad}"
        );
    }
}

#[test]
fn a_bad_datetime_is_a_typed_error() {
    for bad in [
        "yesterday",
        "2008-04-04T12:16:49",
        "1207329409",
        "2008-13-04T12:16:49Z",
        "1969-12-31T23:59:59Z",
    ] {
        let xml =
            doc("<delivery-notification><status><delivered/></status></delivery-notification>")
                .replace("2026-11-29T23:05:00Z", bad);
        assert_eq!(decode(&xml), Err(ImdnError::InvalidDateTime), "{bad}");
    }
    // White space around it and fractions of a second are fine.
    let xml = doc("<display-notification><status><error/></status></display-notification>")
        .replace("2026-11-29T23:05:00Z", "\n 2026-11-30T00:05:00.999+01:00 ");
    // Kept as written (trimmed): a notification copies it (RFC 5438 §7.2.1).
    let n = decode(&xml).unwrap();
    assert_eq!(n.date_time, "2026-11-30T00:05:00.999+01:00");
    assert_eq!(n.unix_time(), Some(1_795_993_500));
}

#[test]
fn repeated_known_elements_are_refused() {
    let d = "<delivery-notification><status><delivered/></status></delivery-notification>";
    let cases = [
        (
            format!("<message-id>m2</message-id>{d}"),
            "message-id",
        ),
        (
            format!("<datetime>2026-11-29T23:05:00Z</datetime>{d}"),
            "datetime",
        ),
        (
            format!("<recipient-uri>a</recipient-uri><recipient-uri>b</recipient-uri>{d}"),
            "recipient-uri",
        ),
        (format!("<subject/><subject/>{d}"), "subject"),
        (format!("{d}{d}"), "notification"),
        (
            format!("{d}<display-notification><status><displayed/></status></display-notification>"),
            "notification",
        ),
        (
            "<delivery-notification><status><delivered/><failed/></status></delivery-notification>"
                .to_owned(),
            "status",
        ),
        (
            "<delivery-notification><status><delivered/></status><status><delivered/></status></delivery-notification>"
                .to_owned(),
            "status",
        ),
    ];
    for (body, element) in cases {
        assert_eq!(
            decode(&doc(&body)),
            Err(ImdnError::Duplicate(element)),
            "{body}"
        );
    }
}

#[test]
fn optional_values_are_trimmed_and_empty_ones_absent() {
    let xml = doc("<recipient-uri>\n  sip:bob@example.com  \n</recipient-uri>\
         <original-recipient-uri/><subject>  spaced  </subject>\
         <delivery-notification><status><delivered/></status></delivery-notification>")
    .replace(
        "<message-id>m1</message-id>",
        "<message-id> m1\n</message-id>",
    );
    let n = decode(&xml).unwrap();
    assert_eq!(n.message_id, "m1");
    assert_eq!(n.recipient_uri.as_deref(), Some("sip:bob@example.com"));
    assert_eq!(n.original_recipient_uri, None);
    assert_eq!(n.subject.as_deref(), Some("  spaced  "));
    assert_eq!(Notification::decode(n.encode().as_bytes()), Ok(n));
}

#[test]
fn markup_in_values_is_escaped_and_read_back() {
    let n = Notification {
        message_id: "a<b>&\"c'".into(),
        date_time: "2000-02-29T00:00:00Z".into(),
        recipient_uri: Some("sip:o'brien@example.com;x=\"<y>\"".into()),
        original_recipient_uri: Some("tel:+1-555".into()),
        subject: Some("héllo ]]> <![CDATA[ &amp; \r\n\t".into()),
        kind: Kind::Processing,
        status: Status::Processed,
    };
    let xml = n.encode();
    assert!(xml.contains("a&lt;b&gt;&amp;\"c'"), "{xml}");
    assert_eq!(Notification::decode(xml.as_bytes()), Ok(n));
}

#[test]
fn errors_display_and_chain() {
    use std::error::Error;
    let errors = [
        ImdnError::Xml(SettingsError::Doctype),
        ImdnError::UnexpectedRoot {
            namespace: None,
            name: "x".into(),
        },
        ImdnError::Missing("datetime"),
        ImdnError::MissingNotification,
        ImdnError::Duplicate("status"),
        ImdnError::InvalidDateTime,
        ImdnError::UnknownStatus {
            kind: Kind::Display,
            status: "read".into(),
        },
        ImdnError::MismatchedStatus {
            kind: Kind::Display,
            status: Status::Delivered,
        },
    ];
    for e in &errors {
        assert!(!e.to_string().is_empty());
    }
    assert!(errors[0].source().is_some());
    assert!(errors[1].source().is_none());
    assert_eq!(
        errors[7].to_string(),
        "status <delivered/> is not allowed in <display-notification>"
    );
}

// ---- Hostile input: the XML reader's limits surface as typed errors ----

#[test]
fn a_doctype_is_refused() {
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE imdn [\n\
        <!ENTITY a \"aaaaaaaaaa\">\n<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n\
        <!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n]>\n";
    let xml = format!("{laughs}{}", doc("<subject>&c;</subject>"));
    assert_eq!(decode(&xml), Err(ImdnError::Xml(SettingsError::Doctype)));
    let external = format!(
        "<!DOCTYPE imdn SYSTEM \"file:///etc/passwd\">{}",
        doc("<delivery-notification><status><delivered/></status></delivery-notification>")
    );
    assert_eq!(
        decode(&external),
        Err(ImdnError::Xml(SettingsError::Doctype))
    );
}

#[test]
fn deep_nesting_is_refused() {
    let depth = MAX_DEPTH + 8;
    let xml = doc(&format!(
        "{}{}",
        "<x:n xmlns:x=\"urn:x\">".repeat(depth),
        "</x:n>".repeat(depth)
    ));
    assert_eq!(
        decode(&xml),
        Err(ImdnError::Xml(SettingsError::TooDeep { max: MAX_DEPTH }))
    );
}

#[test]
fn huge_documents_are_refused_and_large_ones_kept() {
    let huge = doc(&format!(
        "<subject>{}</subject>",
        "a".repeat(MAX_DOCUMENT_SIZE)
    ));
    assert_eq!(
        decode(&huge),
        Err(ImdnError::Xml(SettingsError::TooLarge {
            len: huge.len(),
            max: MAX_DOCUMENT_SIZE
        }))
    );
    let large = doc(&format!(
        "<subject>{}</subject><display-notification><status><displayed/></status></display-notification>",
        "é".repeat(MAX_DOCUMENT_SIZE / 2 - 200)
    ));
    assert!(large.len() < MAX_DOCUMENT_SIZE);
    let n = decode(&large).unwrap();
    assert_eq!(
        n.subject.as_ref().map(|s| s.chars().count()),
        Some(MAX_DOCUMENT_SIZE / 2 - 200)
    );
    assert_eq!(Notification::decode(n.encode().as_bytes()), Ok(n));
}

#[test]
fn broken_bytes_are_typed_errors() {
    assert!(matches!(
        Notification::decode(b"<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">\xff</imdn>"),
        Err(ImdnError::Xml(SettingsError::NotUtf8 { .. }))
    ));
    for bad in [
        "",
        "imdn",
        "<imdn",
        "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"><message-id>m</imdn>",
        "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"/><imdn/>",
        "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\">&unknown;</imdn>",
        "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\" xmlns=\"x\"/>",
    ] {
        assert!(
            matches!(
                decode(bad),
                Err(ImdnError::Xml(SettingsError::Malformed { .. }))
            ),
            "{bad:?}: {:?}",
            decode(bad)
        );
    }
}

// ---- Requests ----

#[test]
fn disposition_requests_parse_leniently_and_print_canonically() {
    let cases = [
        ("", DispositionRequest::default(), ""),
        (
            "display",
            DispositionRequest {
                display: true,
                ..Default::default()
            },
            "display",
        ),
        (
            " Processing ,DISPLAY;x=1 , frobnicate, , negative-delivery\t",
            DispositionRequest {
                negative_delivery: true,
                display: true,
                processing: true,
                ..Default::default()
            },
            "negative-delivery, display, processing",
        ),
        (
            "display, positive-delivery, display",
            DispositionRequest {
                positive_delivery: true,
                display: true,
                ..Default::default()
            },
            "positive-delivery, display",
        ),
        (
            "processing, display, negative-delivery, positive-delivery",
            DispositionRequest::ALL,
            "positive-delivery, negative-delivery, display, processing",
        ),
    ];
    for (value, want, printed) in cases {
        let got = DispositionRequest::parse(value);
        assert_eq!(got, want, "{value:?}");
        assert_eq!(got.to_string(), printed);
        assert_eq!(got.is_empty(), printed.is_empty());
    }
    for bits in 0..16u8 {
        let r = DispositionRequest {
            positive_delivery: bits & 1 != 0,
            negative_delivery: bits & 2 != 0,
            display: bits & 4 != 0,
            processing: bits & 8 != 0,
        };
        assert_eq!(DispositionRequest::parse(&r.to_string()), r);
    }
}

#[test]
fn message_ids_are_url_safe_and_carry_every_random_bit() {
    assert_eq!(MESSAGE_ID_MIN_RANDOM_BYTES * 8, 32);
    assert_eq!(new_message_id(&[0, 0, 0, 0]), "AAAAAA");
    assert_eq!(new_message_id(&[0xff; 4]), "_____w");
    assert_eq!(new_message_id(&[0xfb, 0xef, 0xbe]), "----");
    let id = new_message_id(&[0x5a; 16]);
    assert_eq!(id.len(), 22);
    let mut seen = std::collections::HashSet::new();
    for n in 0..=u16::MAX {
        let [a, b] = n.to_be_bytes();
        let id = new_message_id(&[a, b, 0x17, 0x42]);
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
            "{id}"
        );
        assert!(seen.insert(id));
    }
}

// ---- Properties ----

/// What the fuzz target checks: decode never panics, and what decodes encodes to a
/// document that decodes to the same notification, encoding being a fixpoint.
fn check(data: &[u8]) {
    let Ok(n) = Notification::decode(data) else {
        return;
    };
    assert!(n.kind.allows(n.status));
    assert!(!n.message_id.is_empty());
    let text = n.encode();
    let again = Notification::decode(text.as_bytes());
    assert_eq!(again.as_ref(), Ok(&n), "{text}");
    if let Ok(again) = again {
        assert_eq!(again.encode(), text);
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A value as decode gives it back: no characters XML cannot carry, no white space at
/// the ends, not empty.
fn value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 <>&\"';:@+._\u{e9}\u{4e2d}\u{1f600}\r\n\t-]{1,24}".prop_filter_map(
        "trimmed, not empty",
        |s| {
            let t = s.trim_matches([' ', '\t', '\r', '\n']);
            (!t.is_empty()).then(|| t.to_owned())
        },
    )
}

fn notification() -> impl Strategy<Value = Notification> {
    let pair = proptest::sample::select(
        KINDS
            .iter()
            .flat_map(|&k| {
                STATUSES
                    .iter()
                    .filter(move |s| k.allows(**s))
                    .map(move |&s| (k, s))
            })
            .collect::<Vec<_>>(),
    );
    (
        value(),
        0u64..253_402_300_800,
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::option::of("[ a-z\u{e9}<&\r\n]{0,12}"),
        pair,
    )
        .prop_map(
            |(message_id, date_time, r, o, subject, (kind, status))| Notification {
                message_id,
                date_time: imsip::message::date::iso8601(date_time),
                recipient_uri: r,
                original_recipient_uri: o,
                subject,
                kind,
                status,
            },
        )
}

/// Pieces a mutation splices in.
const SNIPPETS: [&str; 12] = [
    "<",
    ">",
    "/>",
    "</status>",
    "<failed/>",
    "xmlns=\"\"",
    "<!DOCTYPE x>",
    "&amp;",
    "&#0;",
    "<![CDATA[x]]>",
    "i:",
    "\u{e9}",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&data);
    }

    #[test]
    fn mutated_documents_never_panic_and_round_trip(seed in 0usize..3, edits in mutation::edits(SNIPPETS.len())) {
        let stored = doc(
            "<processing-notification><status><stored/></status></processing-notification>",
        );
        check(&mutation::mutate([RFC_DELIVERED, RFC_DISPLAYED, &stored][seed], edits, &SNIPPETS));
    }

    #[test]
    fn generated_notifications_round_trip(n in notification()) {
        let text = n.encode();
        prop_assert_eq!(Notification::decode(text.as_bytes()), Ok(n));
        check(text.as_bytes());
    }

    #[test]
    fn disposition_requests_never_panic(value in "[a-zA-Z ,;=\t-]{0,80}") {
        let r = DispositionRequest::parse(&value);
        prop_assert_eq!(DispositionRequest::parse(&r.to_string()), r);
    }
}
