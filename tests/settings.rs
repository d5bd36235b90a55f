//! Service settings and PoC settings documents: round trips, unknown content, hostile input.
#![cfg(not(target_arch = "wasm32"))]

use imsip::settings::{
    AnswerMode, Entity, History, PocEntity, PocSettings, Preserved, ServiceSettings, SettingsError,
    XmlChild, XmlNode, MAX_DEPTH, MAX_DOCUMENT_SIZE, POC_SETTINGS_NS, SERVICE_SETTINGS_NS,
};

const AOR: &str = "sip:IM-UserA@networkA.net";

fn decode(doc: &str) -> Result<ServiceSettings, SettingsError> {
    ServiceSettings::decode(doc.as_bytes())
}

fn full_entity() -> Entity {
    Entity {
        id: AOR.into(),
        incoming_session_barring: Some(true),
        visibility: Some(false),
        offline_delivery: Some(true),
        history: Some(History {
            active: true,
            kind: Some(1),
        }),
        session_mode: Some("enabled".into()),
        pager_large_mode: Some("disabled".into()),
        service_id: Some("org.openmobilealliance:IM-session".into()),
        active: Some(true),
        ..Default::default()
    }
}

#[test]
fn seed_example_decodes() {
    let doc = decode(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<service-settings xmlns="urn:oma:xml:im:service-settings">
  <entity id="sip:IM-UserA@networkA.net">
    <isb-settings>
      <incoming-session-barring active="true"/>
    </isb-settings>
    <vis-settings>
      <vis-status active="false"/>
    </vis-settings>
  </entity>
</service-settings>"#,
    )
    .unwrap();
    let e = doc.for_entity(AOR).unwrap();
    assert_eq!(e.incoming_session_barring, Some(true));
    assert_eq!(e.visibility, Some(false));
    assert_eq!(e.offline_delivery, None);
    assert!(e.preserved.is_empty() && e.extensions.is_empty());
    assert!(doc.for_entity("sip:other@networkA.net").is_none());
}

#[test]
fn full_document_round_trips_and_matches_documented_shape() {
    let doc = ServiceSettings {
        entities: vec![full_entity()],
        ..Default::default()
    };
    let xml = doc.encode();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    for shape in [
        r#"<service-settings xmlns="urn:oma:xml:im:service-settings">"#,
        r#"<entity id="sip:IM-UserA@networkA.net">"#,
        "<isb-settings>\n      <incoming-session-barring active=\"true\"/>\n    </isb-settings>",
        r#"<vis-status active="false"/>"#,
        r#"<offline-delivery active="true"/>"#,
        r#"<hist-activation type="1" active="true"/>"#,
        "<session-mode>enabled</session-mode>",
        "<pager-large-mode>disabled</pager-large-mode>",
        "<service-id>org.openmobilealliance:IM-session</service-id>",
        "<active>true</active>",
    ] {
        assert!(xml.contains(shape), "{shape} missing in\n{xml}");
    }
    assert_eq!(ServiceSettings::decode(xml.as_bytes()).unwrap(), doc);
}

#[test]
fn round_trips() {
    let mut two = full_entity();
    two.id = "sip:IM-UserB@networkA.net".into();
    two.history = Some(History {
        active: false,
        kind: None,
    });
    two.active = Some(false);
    two.session_mode = Some("a < b & \"c\" 'd' \u{e9}\u{1F600}".into());
    let cases = [
        ServiceSettings::default(),
        ServiceSettings {
            entities: vec![Entity::new(AOR)],
            ..Default::default()
        },
        ServiceSettings {
            entities: vec![full_entity(), two],
            ..Default::default()
        },
    ];
    for doc in cases {
        assert_eq!(
            ServiceSettings::decode(doc.encode().as_bytes()).unwrap(),
            doc
        );
    }
}

#[test]
fn entity_mut_creates_then_finds() {
    let mut doc = ServiceSettings::default();
    doc.entity_mut(AOR).visibility = Some(true);
    doc.entity_mut(AOR).offline_delivery = Some(false);
    assert_eq!(doc.entities.len(), 1);
    let back = ServiceSettings::decode(doc.encode().as_bytes()).unwrap();
    assert_eq!(back.for_entity(AOR).unwrap().visibility, Some(true));
    assert_eq!(back, doc);
}

#[test]
fn prefixed_namespace_decodes_like_default_namespace() {
    let default = decode(
        r#"<service-settings xmlns="urn:oma:xml:im:service-settings">
  <entity id="sip:IM-UserA@networkA.net">
    <isb-settings><incoming-session-barring active="true"/></isb-settings>
    <hist-settings><hist-activation type="2" active="false"/></hist-settings>
    <service-id>svc</service-id>
  </entity>
</service-settings>"#,
    )
    .unwrap();
    let prefixed = decode(
        r#"<ss:service-settings xmlns:ss="urn:oma:xml:im:service-settings">
  <ss:entity id="sip:IM-UserA@networkA.net">
    <ss:isb-settings><ss:incoming-session-barring active="true"/></ss:isb-settings>
    <ss:hist-settings><ss:hist-activation type="2" active="false"/></ss:hist-settings>
    <ss:service-id>svc</ss:service-id>
  </ss:entity>
</ss:service-settings>"#,
    )
    .unwrap();
    assert_eq!(prefixed, default);
    assert_eq!(
        default.for_entity(AOR).unwrap().history,
        Some(History {
            active: false,
            kind: Some(2)
        })
    );
    // A namespace declared lower down, and a prefix rebound, resolve too.
    let nested = decode(
        r#"<a:service-settings xmlns:a="urn:oma:xml:im:service-settings">
  <entity xmlns="urn:oma:xml:im:service-settings" id="sip:IM-UserA@networkA.net">
    <a:isb-settings xmlns:a="urn:oma:xml:im:service-settings"><incoming-session-barring active="1"/></a:isb-settings>
    <hist-settings><hist-activation type="2" active="0"/></hist-settings>
    <service-id> svc </service-id>
  </entity>
</a:service-settings>"#,
    )
    .unwrap();
    assert_eq!(nested, default);
}

#[test]
fn wrong_namespace_is_unknown_not_known() {
    let doc = decode(
        r#"<service-settings xmlns="urn:oma:xml:im:service-settings" xmlns:o="urn:other">
  <entity id="x"><o:isb-settings><o:incoming-session-barring active="true"/></o:isb-settings></entity>
</service-settings>"#,
    )
    .unwrap();
    let e = doc.for_entity("x").unwrap();
    assert_eq!(e.incoming_session_barring, None);
    assert_eq!(e.extensions.len(), 1);
    assert_eq!(e.extensions[0].attribute("xmlns:o"), Some("urn:other"));
}

const RICH: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<service-settings xmlns="urn:oma:xml:im:service-settings" xmlns:x="urn:example:x" version="7" x:etag="abc">
  <x:server-info x:build="42">acme &amp; co</x:server-info>
  <entity id="sip:IM-UserA@networkA.net" x:origin="web">
    <x:first/>
    <isb-settings x:since="2024">
      <incoming-session-barring active="true" x:reason="busy"/>
      <x:note>kept</x:note>
    </isb-settings>
    <future-setting level="3"><deep><deeper>text</deeper></deep></future-setting>
    <vis-settings>
      <vis-status active="false"/>
    </vis-settings>
    <x:last mixed="yes">a<x:b/>c</x:last>
  </entity>
  <x:trailer/>
</service-settings>"#;

#[test]
fn unknown_content_survives_read_modify_write() {
    let mut doc = decode(RICH).unwrap();
    let e = doc.for_entity(AOR).unwrap();
    assert_eq!(e.incoming_session_barring, Some(true));
    assert_eq!(e.visibility, Some(false));
    let names: Vec<&str> = e.extensions.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["x:first", "future-setting", "x:last"]);
    // Self-contained: the extension carries the declaration it borrowed from the root.
    assert_eq!(e.extensions[0].attribute("xmlns:x"), Some("urn:example:x"));
    assert_eq!(e.extensions[1].attribute("xmlns"), None); // already in our namespace
    let mixed = &e.extensions[2];
    assert_eq!(
        mixed.children,
        [
            XmlChild::Text("a".into()),
            XmlChild::Element(XmlNode::new("x:b")),
            XmlChild::Text("c".into())
        ]
    );
    let names: Vec<&str> = doc.extensions.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["x:server-info", "x:trailer"]);
    assert_eq!(doc.extensions[0].text(), "acme & co");

    // Modify a known value; everything else must come back in place.
    doc.entity_mut(AOR).visibility = Some(true);
    let xml = doc.encode();
    let again = ServiceSettings::decode(xml.as_bytes()).unwrap();
    assert_eq!(again, doc);
    let order = [
        "<x:server-info",
        "<entity id=\"sip:IM-UserA@networkA.net\" x:origin=\"web\"",
        "<x:first",
        "<isb-settings x:since=\"2024\"",
        "<incoming-session-barring active=\"true\" x:reason=\"busy\"",
        "<x:note",
        "<future-setting level=\"3\"",
        "<deeper>text</deeper>",
        "<vis-status active=\"true\"/>",
        "<x:last mixed=\"yes\">a<x:b/>c</x:last>",
        "<x:trailer",
    ];
    let mut from = 0;
    for piece in order {
        let at = xml[from..]
            .find(piece)
            .unwrap_or_else(|| panic!("{piece} missing or out of order in\n{xml}"));
        from += at + piece.len();
    }
    assert!(xml.contains(r#"version="7""#) && xml.contains(r#"x:etag="abc""#));
    assert!(xml.contains("acme &amp; co"));

    // Dropping a setting drops its unknown content with it, and nothing else.
    doc.entity_mut(AOR).incoming_session_barring = None;
    let xml = doc.encode();
    assert!(!xml.contains("isb-settings") && !xml.contains("x:note"));
    assert!(xml.contains("<x:first") && xml.contains("future-setting"));
}

#[test]
fn unknown_content_in_prefixed_document_survives() {
    let doc = decode(
        r#"<ss:service-settings xmlns:ss="urn:oma:xml:im:service-settings" xmlns:x="urn:example:x">
  <ss:entity id="a">
    <ss:future/>
    <plain/>
    <x:thing x:k="v"/>
    <ss:vis-settings><ss:vis-status active="true" x:k="v"/></ss:vis-settings>
  </ss:entity>
</ss:service-settings>"#,
    )
    .unwrap();
    let xml = doc.encode();
    // Written back in the default-namespace form, foreign parts keep their meaning.
    assert!(
        xml.contains(r#"<ss:future xmlns:ss="urn:oma:xml:im:service-settings"/>"#),
        "{xml}"
    );
    assert!(xml.contains(r#"<plain xmlns=""/>"#), "{xml}");
    assert!(
        xml.contains(r#"<x:thing x:k="v" xmlns:x="urn:example:x"/>"#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<vis-status active="true" x:k="v" xmlns:x="urn:example:x"/>"#),
        "{xml}"
    );
    assert_eq!(ServiceSettings::decode(xml.as_bytes()).unwrap(), doc);
}

#[test]
fn extensions_built_in_code_are_written() {
    let mut e = Entity::new(AOR);
    e.active = Some(false);
    let mut ext = XmlNode::new("x:custom");
    ext.attributes
        .push(("xmlns:x".into(), "urn:example:x".into()));
    ext.attributes
        .push(("q".into(), "\"quoted\"\t<tab>\n".into()));
    ext.children.push(XmlChild::Text("one & two\r\n".into()));
    e.extensions.push(ext);
    let doc = ServiceSettings {
        entities: vec![e],
        ..Default::default()
    };
    let xml = doc.encode();
    assert!(
        xml.contains("q=\"&quot;quoted&quot;&#9;&lt;tab&gt;&#10;\""),
        "{xml}"
    );
    assert_eq!(ServiceSettings::decode(xml.as_bytes()).unwrap(), doc);
}

const POC_EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<poc-settings xmlns="urn:oma:params:xml:ns:poc:poc-settings">
  <entity id="do39s8zksn2d98x@example.com">
    <isb-settings>
      <incoming-session-barring active="true"/>
    </isb-settings>
    <am-settings>
      <answer-mode>automatic</answer-mode>
    </am-settings>
    <ipab-settings>
      <incoming-personal-alert-barring active="false"/>
    </ipab-settings>
    <sss-settings>
      <simultaneous-sessions-support active="false"/>
    </sss-settings>
  </entity>
</poc-settings>"#;

#[test]
fn poc_settings_rfc4354_example() {
    let doc = PocSettings::decode(POC_EXAMPLE.as_bytes()).unwrap();
    let expected = PocSettings {
        entities: vec![PocEntity {
            id: "do39s8zksn2d98x@example.com".into(),
            incoming_session_barring: Some(true),
            answer_mode: Some(AnswerMode::Automatic),
            incoming_personal_alert_barring: Some(false),
            simultaneous_sessions_support: Some(false),
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(doc, expected);
    // Our encoder writes the same document, byte for byte.
    assert_eq!(doc.encode(), format!("{POC_EXAMPLE}\n"));
    let mut manual = PocSettings::default();
    manual.entity_mut("sip:p@example.com").answer_mode = Some(AnswerMode::Manual);
    assert_eq!(
        PocSettings::decode(manual.encode().as_bytes()).unwrap(),
        manual
    );
    assert!(manual.for_entity("sip:p@example.com").is_some());
}

#[test]
fn poc_and_service_roots_are_not_interchangeable() {
    assert_eq!(
        ServiceSettings::decode(POC_EXAMPLE.as_bytes()),
        Err(SettingsError::UnexpectedRoot {
            namespace: Some(POC_SETTINGS_NS.into()),
            name: "poc-settings".into()
        })
    );
    let service = ServiceSettings {
        entities: vec![full_entity()],
        ..Default::default()
    };
    assert!(matches!(
        PocSettings::decode(service.encode().as_bytes()),
        Err(SettingsError::UnexpectedRoot { namespace: Some(ns), .. }) if ns == SERVICE_SETTINGS_NS
    ));
    assert_eq!(
        decode("<service-settings/>"),
        Err(SettingsError::UnexpectedRoot {
            namespace: None,
            name: "service-settings".into()
        })
    );
}

#[test]
fn bad_values_are_typed_errors() {
    let wrap = |entity: &str| {
        format!(
            r#"<service-settings xmlns="urn:oma:xml:im:service-settings">{entity}</service-settings>"#
        )
    };
    let cases = [
        (
            r#"<entity id="a"><isb-settings><incoming-session-barring active="yes"/></isb-settings></entity>"#,
            "incoming-session-barring",
        ),
        (
            r#"<entity id="a"><isb-settings><incoming-session-barring/></isb-settings></entity>"#,
            "incoming-session-barring",
        ),
        (r#"<entity id="a"><isb-settings/></entity>"#, "isb-settings"),
        (
            r#"<entity id="a"><hist-settings><hist-activation type="-1" active="true"/></hist-settings></entity>"#,
            "hist-activation",
        ),
        (
            r#"<entity id="a"><active>maybe</active></entity>"#,
            "active",
        ),
        (r#"<entity><active>true</active></entity>"#, "entity"),
    ];
    for (entity, element) in cases {
        match decode(&wrap(entity)) {
            Err(SettingsError::InvalidValue { element: e, .. }) => {
                assert_eq!(e, element, "{entity}")
            }
            other => panic!("{entity}: {other:?}"),
        }
    }
    let poc = POC_EXAMPLE.replace("automatic", "sometimes");
    assert!(matches!(
        PocSettings::decode(poc.as_bytes()),
        Err(SettingsError::InvalidValue {
            element: "answer-mode",
            ..
        })
    ));
}

fn assert_malformed(doc: &[u8]) {
    match ServiceSettings::decode(doc) {
        Err(SettingsError::Malformed { .. }) => {}
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(doc)),
    }
}

#[test]
fn billion_laughs_is_refused() {
    let doc = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="&lol9;"/></service-settings>"#;
    assert_eq!(decode(doc), Err(SettingsError::Doctype));
}

#[test]
fn external_entity_is_refused() {
    let doc = r#"<?xml version="1.0"?>
<!DOCTYPE service-settings [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>
<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="&x;"/></service-settings>"#;
    assert_eq!(decode(doc), Err(SettingsError::Doctype));
}

#[test]
fn doctype_alone_is_refused() {
    assert_eq!(
        decode("<!DOCTYPE service-settings>"),
        Err(SettingsError::Doctype)
    );
    let doc = r#"<!DOCTYPE service-settings SYSTEM "http://example.com/x.dtd"><service-settings xmlns="urn:oma:xml:im:service-settings"/>"#;
    assert_eq!(decode(doc), Err(SettingsError::Doctype));
}

#[test]
fn undeclared_entities_are_refused_predefined_ones_resolved() {
    let ok = decode(
        r#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="&lt;&#65;&#x42;&apos;&quot;&gt;&amp;"><service-id>&#x263A;&amp;</service-id></entity></service-settings>"#,
    )
    .unwrap();
    assert_eq!(ok.entities[0].id, "<AB'\">&");
    assert_eq!(ok.entities[0].service_id.as_deref(), Some("\u{263a}&"));
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="&x;"/></service-settings>"#);
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="a"><service-id>&x;</service-id></entity></service-settings>"#);
    assert_malformed(
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings">&#0;</service-settings>"#,
    );
    assert_malformed(
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings">&#1;</service-settings>"#,
    );
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings" a="&#x1;"/>"#);
    assert_malformed(
        b"<service-settings xmlns=\"urn:oma:xml:im:service-settings\">\x01</service-settings>",
    );
}

#[test]
fn ten_megabytes_is_refused_before_parsing() {
    let mut doc = br#"<service-settings xmlns="urn:oma:xml:im:service-settings">"#.to_vec();
    doc.resize(10 * 1024 * 1024, b' ');
    assert_eq!(
        ServiceSettings::decode(&doc),
        Err(SettingsError::TooLarge {
            len: 10 * 1024 * 1024,
            max: MAX_DOCUMENT_SIZE
        })
    );
    let just_over = vec![b' '; MAX_DOCUMENT_SIZE + 1];
    assert!(matches!(
        PocSettings::decode(&just_over),
        Err(SettingsError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    let open = r#"<service-settings xmlns="urn:oma:xml:im:service-settings">"#.to_owned();
    let doc = open.clone() + &"<a>".repeat(10_000);
    assert_eq!(decode(&doc), Err(SettingsError::TooDeep { max: MAX_DEPTH }));
    let closed = open + &"<a>".repeat(8_000) + &"</a>".repeat(8_000) + "</service-settings>";
    assert!(closed.len() <= MAX_DOCUMENT_SIZE);
    assert_eq!(
        decode(&closed),
        Err(SettingsError::TooDeep { max: MAX_DEPTH })
    );
    // Exactly the limit is fine.
    let ok = format!(
        r#"<service-settings xmlns="urn:oma:xml:im:service-settings">{}{}</service-settings>"#,
        "<a>".repeat(MAX_DEPTH - 1),
        "</a>".repeat(MAX_DEPTH - 1)
    );
    assert_eq!(decode(&ok).unwrap().extensions.len(), 1);
}

#[test]
fn invalid_utf8_is_refused() {
    let doc = b"<service-settings xmlns=\"urn:oma:xml:im:service-settings\"><entity id=\"\xff\xfe\"/></service-settings>";
    let position = doc.iter().position(|&b| b == 0xff).unwrap();
    assert_eq!(
        ServiceSettings::decode(doc),
        Err(SettingsError::NotUtf8 { position })
    );
}

#[test]
fn truncated_and_mismatched_documents_are_malformed() {
    let full = ServiceSettings {
        entities: vec![full_entity()],
        ..Default::default()
    }
    .encode();
    // Every proper prefix that still contains the root start tag is an error, never a panic.
    let root_end = full.find("service-settings\">").unwrap() + 18;
    for cut in root_end..full.len() - 1 {
        let r = ServiceSettings::decode(&full.as_bytes()[..cut]);
        assert!(
            matches!(r, Err(SettingsError::Malformed { .. })),
            "cut at {cut}: {r:?}"
        );
    }
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings"><entity id="a"></entiti></service-settings>"#);
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings"></entity></service-settings>"#);
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings"/><service-settings xmlns="urn:oma:xml:im:service-settings"/>"#);
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings"/>trailing"#);
    assert_malformed(br#"<service-settings xmlns="urn:oma:xml:im:service-settings" a="1" a="2"/>"#);
    assert_malformed(
        br#"<service-settings xmlns="urn:oma:xml:im:service-settings">a & b</service-settings>"#,
    );
    assert_malformed(b"");
    assert_malformed(b"   ");
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic fuzz over mutations of a rich document (the real fuzzing is in fuzz/).
    let base = RICH.as_bytes();
    let mut state: u32 = 0x1234_5678;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for _ in 0..3_000 {
        let mut doc = base.to_vec();
        for _ in 0..(next() % 4 + 1) {
            if doc.is_empty() {
                break;
            }
            let at = next() as usize % doc.len();
            match next() % 3 {
                0 => {
                    let alphabet = b"<>&;:\"'/=x \xff";
                    doc[at] = alphabet[next() as usize % alphabet.len()];
                }
                1 => {
                    doc.remove(at);
                }
                _ => doc.truncate(at.max(1)),
            }
        }
        if let Ok(parsed) = ServiceSettings::decode(&doc) {
            // Whatever decodes must round-trip.
            assert_eq!(
                ServiceSettings::decode(parsed.encode().as_bytes()).unwrap(),
                parsed
            );
        }
        let _ = PocSettings::decode(&doc);
    }
}

#[test]
fn errors_display_and_preserved_default() {
    let shown = [
        SettingsError::TooLarge { len: 10, max: 5 }.to_string(),
        SettingsError::TooDeep { max: 32 }.to_string(),
        SettingsError::Doctype.to_string(),
        SettingsError::NotUtf8 { position: 3 }.to_string(),
        SettingsError::Malformed {
            position: 4,
            what: "syntax error",
        }
        .to_string(),
        SettingsError::UnexpectedRoot {
            namespace: None,
            name: "x".into(),
        }
        .to_string(),
        SettingsError::InvalidValue {
            element: "active",
            what: "not a boolean",
        }
        .to_string(),
    ];
    assert!(shown.iter().all(|s| !s.is_empty()));
    assert!(Preserved::default().is_empty());
}

mod entity_view {
    use imsip::settings::{EntitySettings, History, ServiceSettings};

    const TWO_ENTITIES: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<service-settings xmlns="urn:oma:xml:im:service-settings" xmlns:x="urn:example:x">
  <entity id="sip:bob@imsip.test"><vis-settings><vis-status active="false"/></vis-settings></entity>
  <entity id="sip:alice@imsip.test" x:note="keep">
    <isb-settings><incoming-session-barring active="true"/></isb-settings>
    <x:unknown>kept</x:unknown>
  </entity>
</service-settings>"#;

    #[test]
    fn the_view_is_the_aor_s_entity_and_keeps_its_document() {
        let doc = ServiceSettings::decode(TWO_ENTITIES.as_bytes()).unwrap();
        let v = EntitySettings::from_document(&doc, "sip:alice@imsip.test");
        assert_eq!(v.entity, "sip:alice@imsip.test");
        assert_eq!(v.incoming_session_barring, Some(true));
        assert_eq!(v.visibility, None);
        let kept = ServiceSettings::decode(v.document.as_deref().unwrap().as_bytes()).unwrap();
        assert_eq!(kept, doc);
        // Another AoR: the first entity.
        let other = EntitySettings::from_document(&doc, "sip:carol@imsip.test");
        assert_eq!(other.entity, "sip:bob@imsip.test");
    }

    #[test]
    fn read_modify_write_changes_only_the_typed_fields_of_that_entity() {
        let doc = ServiceSettings::decode(TWO_ENTITIES.as_bytes()).unwrap();
        let mut v = EntitySettings::from_document(&doc, "sip:alice@imsip.test");
        v.incoming_session_barring = None; // removed
        v.visibility = Some(true);
        v.history = Some(History {
            active: true,
            kind: Some(2),
        });
        let out = v.to_document().unwrap();
        let xml = out.encode();
        assert!(xml.contains("x:unknown"), "unknown elements survive: {xml}");
        assert!(
            xml.contains("x:note=\"keep\""),
            "unknown attributes survive: {xml}"
        );
        let alice = out.for_entity("sip:alice@imsip.test").unwrap();
        assert_eq!(alice.incoming_session_barring, None);
        assert_eq!(alice.visibility, Some(true));
        assert_eq!(alice.history.unwrap().kind, Some(2));
        let bob = out.for_entity("sip:bob@imsip.test").unwrap();
        assert_eq!(bob.visibility, Some(false), "other entities untouched");
    }

    #[test]
    fn without_a_document_a_fresh_one_entity_document_is_written() {
        let v = EntitySettings {
            entity: "sip:alice@imsip.test".into(),
            offline_delivery: Some(true),
            ..Default::default()
        };
        let out = v.to_document().unwrap();
        assert_eq!(out.entities.len(), 1);
        assert_eq!(out.entities[0].offline_delivery, Some(true));
    }

    #[test]
    fn a_broken_document_is_a_typed_error() {
        let v = EntitySettings {
            entity: "sip:alice@imsip.test".into(),
            document: Some("<service-settings".into()),
            ..Default::default()
        };
        assert!(v.to_document().is_err());
    }
}
