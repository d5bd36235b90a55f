//! RFC 3994 composition indications (imsip::im::iscomposing): the RFC's example, both
//! states, namespaces, typed errors, lenient optional elements, the XML reader's limits,
//! the timer values, and properties (decode never panics; what decodes round trips).
#![cfg(not(target_arch = "wasm32"))]

mod mutation;

use imsip::im::iscomposing::{
    IsComposing, IsComposingError, State, DEFAULT_REFRESH_SECS, IDLE_TIMEOUT_SECS,
    ISCOMPOSING_CONTENT_TYPE, ISCOMPOSING_NS, RECEIVER_ACTIVE_TIMEOUT_SECS,
};
use imsip::settings::{SettingsError, MAX_DEPTH, MAX_DOCUMENT_SIZE};
use proptest::prelude::*;

/// RFC 3994's example (an idle indication for an audio message), re-typed.
const RFC_EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="urn:ietf:params:xml:ns:im-composing iscomposing.xsd">
  <state>idle</state>
  <lastactive>2003-01-27T10:43:00Z</lastactive>
  <contenttype>audio</contenttype>
</isComposing>
"#;

/// 2003-01-27T10:43:00Z.
const RFC_LAST_ACTIVE: u64 = 1_043_664_180;

fn decode(s: &str) -> Result<IsComposing, IsComposingError> {
    IsComposing::decode(s.as_bytes())
}

fn doc(body: &str) -> String {
    format!("<isComposing xmlns=\"{ISCOMPOSING_NS}\">{body}</isComposing>")
}

// ---- Known answers ----

#[test]
fn rfc3994_example() {
    assert_eq!(
        decode(RFC_EXAMPLE),
        Ok(IsComposing {
            state: State::Idle,
            last_active: Some(RFC_LAST_ACTIVE),
            content_type: Some("audio".into()),
            refresh: None,
        })
    );
    assert_eq!(ISCOMPOSING_CONTENT_TYPE, "application/im-iscomposing+xml");
    assert_eq!(ISCOMPOSING_NS, "urn:ietf:params:xml:ns:im-iscomposing");
}

#[test]
fn rfc3994_timer_values() {
    // §3.2: refresh every 120 s by default while active, idle after 15 s without
    // composing; §3.3: a receiver gives an unrefreshed "active" 120 s.
    assert_eq!(DEFAULT_REFRESH_SECS, 120);
    assert_eq!(IDLE_TIMEOUT_SECS, 15);
    assert_eq!(RECEIVER_ACTIVE_TIMEOUT_SECS, 120);
    let mut active = IsComposing::new(State::Active);
    assert_eq!(active.active_timeout_secs(), Some(120));
    active.refresh = Some(60);
    assert_eq!(active.active_timeout_secs(), Some(60));
    assert_eq!(IsComposing::new(State::Idle).active_timeout_secs(), None);
}

#[test]
fn encoding_is_the_schema_order_in_utc() {
    let c = IsComposing {
        state: State::Active,
        last_active: Some(RFC_LAST_ACTIVE),
        content_type: Some("text/plain".into()),
        refresh: Some(90),
    };
    let xml = c.encode();
    assert_eq!(
        xml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<isComposing xmlns="urn:ietf:params:xml:ns:im-iscomposing">
  <state>active</state>
  <lastactive>2003-01-27T10:43:00Z</lastactive>
  <contenttype>text/plain</contenttype>
  <refresh>90</refresh>
</isComposing>
"#
    );
    assert_eq!(decode(&xml), Ok(c));
    let idle = IsComposing::new(State::Idle).encode();
    assert!(
        idle.ends_with("<state>idle</state>\n</isComposing>\n"),
        "{idle}"
    );
}

#[test]
fn both_states_round_trip_with_any_optional_elements() {
    for state in [State::Active, State::Idle] {
        for bits in 0..8u8 {
            let c = IsComposing {
                state,
                last_active: (bits & 1 != 0).then_some(0),
                content_type: (bits & 2 != 0).then(|| "video".to_owned()),
                refresh: (bits & 4 != 0).then_some(u32::MAX),
            };
            assert_eq!(IsComposing::decode(c.encode().as_bytes()), Ok(c));
        }
    }
}

// ---- Lenient reading ----

#[test]
fn the_state_is_trimmed_and_read_case_insensitively() {
    for (text, state) in [
        ("active", State::Active),
        (" ACTIVE\n", State::Active),
        ("\tIdle ", State::Idle),
    ] {
        let got = decode(&doc(&format!("<state>{text}</state>")));
        assert_eq!(got, Ok(IsComposing::new(state)), "{text:?}");
    }
}

#[test]
fn malformed_optional_elements_read_as_absent() {
    let xml = doc("<state>active</state><lastactive>yesterday</lastactive>\
         <contenttype>  </contenttype><refresh>-5</refresh>");
    assert_eq!(decode(&xml), Ok(IsComposing::new(State::Active)));
    for refresh in ["0", "+60", "1e3", "4294967296", "", "sixty", "60s"] {
        let xml = doc(&format!(
            "<state>active</state><refresh>{refresh}</refresh>"
        ));
        assert_eq!(decode(&xml).unwrap().refresh, None, "{refresh:?}");
    }
    for (refresh, want) in [("60", 60), (" 0090\n", 90), ("4294967295", u32::MAX)] {
        let xml = doc(&format!(
            "<state>active</state><refresh>{refresh}</refresh>"
        ));
        assert_eq!(decode(&xml).unwrap().refresh, Some(want), "{refresh:?}");
    }
}

#[test]
fn last_active_takes_any_rfc3339_offset() {
    let xml = doc("<state>idle</state><lastactive>2003-01-27T05:43:00.25-05:00</lastactive>");
    assert_eq!(decode(&xml).unwrap().last_active, Some(RFC_LAST_ACTIVE));
}

#[test]
fn unknown_and_extension_elements_are_ignored() {
    let xml = doc(
        "<x:mood xmlns:x=\"urn:x\">happy</x:mood><state>active</state>\
         <future/><refresh>30</refresh><y:z xmlns:y=\"urn:y\"><y:deep/></y:z>",
    );
    let c = decode(&xml).unwrap();
    assert_eq!((c.state, c.refresh), (State::Active, Some(30)));
}

#[test]
fn a_prefixed_document_reads_the_same() {
    let xml = "<c:isComposing xmlns:c=\"urn:ietf:params:xml:ns:im-iscomposing\">\
        <c:state>idle</c:state><c:lastactive>2003-01-27T10:43:00Z</c:lastactive>\
        <contenttype xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\">audio</contenttype>\
        </c:isComposing>";
    assert_eq!(decode(xml), decode(RFC_EXAMPLE));
}

// ---- Typed errors ----

#[test]
fn the_wrong_root_or_namespace_is_refused() {
    let cases: [(&str, Option<&str>, &str); 4] = [
        // Seen in the wild: no namespace, or the namespace misspelt.
        ("<isComposing><state>active</state></isComposing>", None, "isComposing"),
        (
            "<isComposing xmlns=\"urn:ietf:params:xml:ns:im-isComposing\"><state>active</state></isComposing>",
            Some("urn:ietf:params:xml:ns:im-isComposing"),
            "isComposing",
        ),
        (
            "<iscomposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"/>",
            Some(ISCOMPOSING_NS),
            "iscomposing",
        ),
        (
            "<imdn xmlns=\"urn:ietf:params:xml:ns:imdn\"/>",
            Some("urn:ietf:params:xml:ns:imdn"),
            "imdn",
        ),
    ];
    for (xml, ns, name) in cases {
        assert_eq!(
            decode(xml),
            Err(IsComposingError::UnexpectedRoot {
                namespace: ns.map(str::to_owned),
                name: name.into()
            }),
            "{xml}"
        );
    }
}

#[test]
fn the_state_is_required_and_must_be_known() {
    assert_eq!(decode(&doc("")), Err(IsComposingError::MissingState));
    assert_eq!(
        decode(&doc("<x:state xmlns:x=\"urn:x\">active</x:state>")),
        Err(IsComposingError::MissingState)
    );
    for (text, kept) in [("gone", "gone"), ("", ""), (" typing \n", "typing")] {
        assert_eq!(
            decode(&doc(&format!("<state>{text}</state>"))),
            Err(IsComposingError::UnknownState(kept.into())),
            "{text:?}"
        );
    }
}

#[test]
fn repeated_known_elements_are_refused() {
    for (body, element) in [
        ("<state>active</state><state>idle</state>", "state"),
        (
            "<state>idle</state><lastactive/><lastactive/>",
            "lastactive",
        ),
        (
            "<contenttype>a</contenttype><state>idle</state><contenttype>b</contenttype>",
            "contenttype",
        ),
        (
            "<state>active</state><refresh>1</refresh><refresh>1</refresh>",
            "refresh",
        ),
    ] {
        assert_eq!(
            decode(&doc(body)),
            Err(IsComposingError::Duplicate(element)),
            "{body}"
        );
    }
}

#[test]
fn errors_display_and_chain() {
    use std::error::Error;
    let errors = [
        IsComposingError::Xml(SettingsError::Doctype),
        IsComposingError::UnexpectedRoot {
            namespace: Some("urn:x".into()),
            name: "x".into(),
        },
        IsComposingError::MissingState,
        IsComposingError::UnknownState("gone".into()),
        IsComposingError::Duplicate("state"),
    ];
    for e in &errors {
        assert!(!e.to_string().is_empty());
    }
    assert!(errors[0].source().is_some());
    assert!(errors[2].source().is_none());
    assert_eq!(errors[3].to_string(), "unknown isComposing state \"gone\"");
}

// ---- Hostile input: the XML reader's limits surface as typed errors ----

#[test]
fn a_doctype_is_refused() {
    let xml = format!(
        "<!DOCTYPE isComposing [<!ENTITY a \"{}\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>{}",
        "x".repeat(64),
        doc("<state>active</state><contenttype>&b;</contenttype>")
    );
    assert_eq!(
        decode(&xml),
        Err(IsComposingError::Xml(SettingsError::Doctype))
    );
}

#[test]
fn deep_nesting_is_refused() {
    let depth = MAX_DEPTH * 4;
    let xml = doc(&format!(
        "<state>active</state>{}{}",
        "<x xmlns=\"urn:x\">".repeat(depth),
        "</x>".repeat(depth)
    ));
    assert_eq!(
        decode(&xml),
        Err(IsComposingError::Xml(SettingsError::TooDeep {
            max: MAX_DEPTH
        }))
    );
}

#[test]
fn huge_documents_are_refused() {
    let xml = doc(&format!(
        "<state>active</state><contenttype>{}</contenttype>",
        "t".repeat(MAX_DOCUMENT_SIZE)
    ));
    assert_eq!(
        decode(&xml),
        Err(IsComposingError::Xml(SettingsError::TooLarge {
            len: xml.len(),
            max: MAX_DOCUMENT_SIZE
        }))
    );
}

#[test]
fn broken_bytes_are_typed_errors() {
    assert!(matches!(
        IsComposing::decode(b"<isComposing>\xc3\x28</isComposing>"),
        Err(IsComposingError::Xml(SettingsError::NotUtf8 { .. }))
    ));
    for bad in ["", "<isComposing", "<state>active</state>text", "<a></b>"] {
        assert!(
            matches!(
                decode(bad),
                Err(IsComposingError::Xml(SettingsError::Malformed { .. }))
            ),
            "{bad:?}: {:?}",
            decode(bad)
        );
    }
}

// ---- Properties ----

/// What the fuzz target checks: decode never panics, and what decodes encodes to a
/// document that decodes to the same indication, encoding being a fixpoint.
fn check(data: &[u8]) {
    let Ok(c) = IsComposing::decode(data) else {
        return;
    };
    assert_ne!(c.refresh, Some(0));
    assert_ne!(c.content_type.as_deref(), Some(""));
    let text = c.encode();
    let again = IsComposing::decode(text.as_bytes());
    assert_eq!(again.as_ref(), Ok(&c), "{text}");
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

fn indication() -> impl Strategy<Value = IsComposing> {
    (
        prop_oneof![Just(State::Active), Just(State::Idle)],
        proptest::option::of(0u64..253_402_300_800),
        proptest::option::of("[a-z]{1,8}(/[a-z0-9.+-]{1,12})?(;charset=\"<&\u{e9}>\")?"),
        proptest::option::of(1u32..),
    )
        .prop_map(|(state, last_active, content_type, refresh)| IsComposing {
            state,
            last_active,
            content_type,
            refresh,
        })
}

const SNIPPETS: [&str; 10] = [
    "<",
    ">",
    "/>",
    "</state>",
    "<state>idle</state>",
    "xmlns=\"\"",
    "&lt;",
    "&#xD;",
    "c:",
    "\u{1f600}",
];

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&data);
    }

    #[test]
    fn mutated_documents_never_panic_and_round_trip(seed in 0usize..2, edits in mutation::edits(SNIPPETS.len())) {
        let active = doc(
            "<state>active</state><contenttype>text/plain</contenttype><refresh>60</refresh>",
        );
        check(&mutation::mutate([RFC_EXAMPLE, &active][seed], edits, &SNIPPETS));
    }

    #[test]
    fn generated_indications_round_trip(c in indication()) {
        let text = c.encode();
        prop_assert_eq!(IsComposing::decode(text.as_bytes()), Ok(c));
        check(text.as_bytes());
    }
}
