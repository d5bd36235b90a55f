//! Invariants of the pure codecs, shared by the fuzz targets (`fuzz_targets/`) and the
//! proptest suites (`tests/proptest_codec.rs` includes this file with `#[path]`), so a
//! property checked on stable in CI is exactly the one libFuzzer checks on nightly.
//!
//! Every function here panics only when an invariant breaks; malformed input is fine.
#![allow(dead_code)]

use imsip::auth::{
    base64_decode, base64_encode, decode_nonce, hex_decode, hex_encode, Challenge, Credentials,
    DigestSession, RandomSource,
};
use imsip::message::{
    AuthValue, CSeq, Contacts, Host, MediaType, Message, MessageBuilder, NameAddr, TokenParams,
    Uri, Via,
};
use imsip::settings::{PocSettings, ServiceSettings, XmlChild, XmlNode};

/// `Message::parse` on any bytes; on success every typed read, the print → reparse round
/// trip (same start line, same headers in order, same body, same verdict of `validate`),
/// and a reply built to it must parse.
pub fn check_message(data: &[u8]) {
    let Ok(msg) = Message::parse(data) else {
        return;
    };
    exercise_message(&msg);
    let printed = msg.to_bytes();
    let again = match Message::parse(&printed) {
        Ok(m) => m,
        Err(e) => panic!(
            "printed message does not parse again: {e}\n{:?}",
            String::from_utf8_lossy(&printed)
        ),
    };
    assert_eq!(msg.start_line(), again.start_line(), "start line changed");
    let h1: Vec<_> = msg.headers().collect();
    let h2: Vec<_> = again.headers().collect();
    assert_eq!(h1, h2, "headers changed in the round trip");
    assert_eq!(msg.body(), again.body(), "body changed in the round trip");
    assert_eq!(
        msg.validate(),
        again.validate(),
        "validate() verdict changed in the round trip"
    );
    // Printing is stable: print(parse(print(m))) == print(m).
    assert_eq!(again.to_bytes(), printed, "printing is not idempotent");
    let _ = msg.to_string();
    // A UAS answers even broken requests (400 with Warning): the reply must frame.
    let reply = MessageBuilder::reply(&msg, 400, "Bad Request", Some("t4g")).build();
    let text = reply.to_string();
    if let Err(e) = Message::parse(text.as_bytes()) {
        panic!("a reply built from a parsed message does not parse: {e}\n{text:?}");
    }
}

/// Every typed read of a parsed message, with a Display → parse round trip for each
/// typed value that prints.
pub fn exercise_message(msg: &Message) {
    let _ = msg.validate();
    let _ = (msg.method(), msg.request_uri(), msg.status(), msg.reason());
    let _ = (msg.is_request(), msg.body_str(), msg.header_count());
    if let Some(uri) = msg.request_uri() {
        check_uri_value(uri);
    }
    for (name, _) in msg.headers() {
        let _ = msg.header(name);
        let _ = msg.header_all(name).count();
    }
    if let Ok(vias) = msg.via() {
        for v in &vias {
            let _ = (v.branch(), v.received(), v.rport());
            roundtrip_via(v);
        }
    }
    if let Ok(v) = msg.top_via() {
        roundtrip_via(&v);
    }
    for na in [msg.from(), msg.to()].into_iter().flatten() {
        let _ = na.tag();
        roundtrip_name_addr(&na, false);
    }
    let _ = msg.call_id();
    if let Ok(c) = msg.cseq() {
        roundtrip_cseq(&c);
    }
    let _ = msg.max_forwards();
    match msg.contacts() {
        Ok(Some(Contacts::List(list))) => {
            for c in &list {
                let _ = (c.expires(), c.q(), c.instance(), c.reg_id(), c.pub_gruu());
                roundtrip_name_addr(c, false);
            }
        }
        Ok(Some(Contacts::Star)) | Ok(None) | Err(_) => {}
    }
    let _ = msg.contact_list();
    for list in [
        msg.route(),
        msg.record_route(),
        msg.path(),
        msg.service_route(),
        msg.p_associated_uri(),
    ]
    .into_iter()
    .flatten()
    {
        for na in &list {
            roundtrip_name_addr(na, true);
        }
    }
    for list in [msg.p_asserted_identity(), msg.p_preferred_identity()]
        .into_iter()
        .flatten()
    {
        for na in &list {
            roundtrip_name_addr(na, false);
        }
    }
    if let Ok(ac) = msg.accept_contact() {
        for tp in &ac {
            let _ = tp.to_string();
        }
    }
    let _ = (
        msg.require(),
        msg.proxy_require(),
        msg.supported(),
        msg.allow(),
    );
    let _ = (msg.expires(), msg.min_expires(), msg.content_length());
    if let Ok(Some(ct)) = msg.content_type() {
        let _ = (ct.essence(), ct.is("text/plain"));
        roundtrip_media_type(&ct);
    }
    for tp in [msg.event(), msg.subscription_state()]
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = (tp.id(), tp.expires(), tp.reason(), tp.retry_after());
        roundtrip_token_params(&tp);
    }
    let _ = (
        msg.sip_etag(),
        msg.sip_if_match(),
        msg.retry_after(),
        msg.date(),
    );
    let _ = (msg.user_agent(), msg.server());
    for list in [
        msg.www_authenticate(),
        msg.proxy_authenticate(),
        msg.authorization(),
        msg.proxy_authorization(),
    ]
    .into_iter()
    .flatten()
    {
        for av in &list {
            roundtrip_auth_value(av);
        }
    }
}

pub fn roundtrip_via(v: &Via) {
    let text = v.to_string();
    assert_eq!(Via::parse(&text).as_ref(), Ok(v), "Via {text:?}");
}

pub fn roundtrip_name_addr(na: &NameAddr, angle: bool) {
    let text = na.to_string();
    let back = if angle {
        NameAddr::parse_angle(&text, "Route")
    } else {
        NameAddr::parse(&text, "From")
    };
    assert_eq!(back.as_ref(), Ok(na), "name-addr {text:?}");
}

pub fn roundtrip_cseq(c: &CSeq) {
    let text = c.to_string();
    assert_eq!(CSeq::parse(&text).as_ref(), Ok(c), "CSeq {text:?}");
}

pub fn roundtrip_media_type(m: &MediaType) {
    let text = m.to_string();
    assert_eq!(
        MediaType::parse(&text, "Content-Type").as_ref(),
        Ok(m),
        "media type {text:?}"
    );
}

pub fn roundtrip_token_params(t: &TokenParams) {
    let text = t.to_string();
    assert_eq!(
        TokenParams::parse(&text, "Event").as_ref(),
        Ok(t),
        "token params {text:?}"
    );
}

pub fn roundtrip_auth_value(av: &AuthValue) {
    let text = av.to_string();
    assert_eq!(
        AuthValue::parse_list(&text, "WWW-Authenticate"),
        Ok(vec![av.clone()]),
        "auth value {text:?}"
    );
}

/// `Uri::parse` on any text; on success printing gives the same text, which parses to
/// the same URI, and the URI fits in `<...>` of a name-addr.
pub fn check_uri(text: &str) {
    let Ok(uri) = Uri::parse(text) else {
        return;
    };
    assert_eq!(uri.to_string(), text, "URI printing changed the text");
    check_uri_value(&uri);
}

pub fn check_uri_value(uri: &Uri) {
    let text = uri.to_string();
    assert_eq!(Uri::parse(&text).as_ref(), Ok(uri), "URI {text:?}");
    let _ = (uri.scheme(), uri.user(), uri.user_decoded(), uri.password());
    let _ = (uri.port(), uri.params(), uri.headers(), uri.is_sip());
    let _ = (uri.user_at_host(), uri.same_aor(uri));
    if let Some(h) = uri.host() {
        let ht = h.to_string();
        assert_eq!(Host::parse(&ht).as_ref(), Ok(h), "host {ht:?}");
    }
    let na = NameAddr::new(uri.clone());
    roundtrip_name_addr(&na, true);
}

/// A deterministic random source for cnonces.
pub struct Counter(pub u8);
impl RandomSource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(31).wrapping_add(7);
            *b = self.0;
        }
    }
}

/// Challenges from an arbitrary header value: `Challenge::choose` and a `DigestSession`
/// answering them (twice, as after a stale nonce) must never panic, and every
/// Authorization it produces must read back as the same auth value.
pub fn check_challenge(value: &str, method: &str, uri: &str, body: &[u8]) {
    // A header value never holds CR or LF once framed (a bare CR inside a line is
    // kept by the framing, see tests/hostile_sip.rs): keep the fuzzer on the rest.
    if value.contains(['\r', '\n']) {
        return;
    }
    let Ok(values) = AuthValue::parse_list(value, "WWW-Authenticate") else {
        return;
    };
    for av in &values {
        roundtrip_auth_value(av);
        if let Ok(c) = Challenge::parse(av) {
            let _ = c.qop_choice();
        }
    }
    let creds = [
        Credentials::password("alice@imsip.test", "alice-secret"),
        Credentials::ha1("alice@imsip.test", "0123456789abcdef0123456789abcdef"),
    ];
    for c in &creds {
        let _ = Challenge::choose(&values, c);
    }
    for (i, c) in creds.into_iter().enumerate() {
        let mut s = DigestSession::new(c);
        let mut rng = Counter(i as u8);
        for proxy in [false, true] {
            let _ = s.on_challenge(&values, proxy);
            let _ = (
                s.state(),
                s.failure(),
                s.realm(),
                s.challenge(),
                s.aka_sqn(),
            );
            for _ in 0..2 {
                if let Some(a) = s.authorize(method, uri, body, &mut rng) {
                    let _ = a.header_name();
                    let text = a.to_header_value();
                    assert_eq!(
                        AuthValue::parse_list(&text, "Authorization"),
                        Ok(vec![a.value.clone()]),
                        "our Authorization does not read back: {text:?}"
                    );
                }
            }
            s.on_success();
        }
        s.reset();
    }
}

/// Settings documents from arbitrary bytes: decode never panics; whatever decodes
/// encodes to a document that decodes again, with the same typed values and the same
/// unknown elements (up to the order of their namespace declarations), and encoding is
/// a fixpoint. Full equality `decode(encode(x)) == x` does not hold yet: the round-trip
/// details in `Preserved`, redundant namespace declarations and their order can change
/// once (see the ignored `settings_*` tests in `tests/hostile_sip.rs`).
pub fn check_settings(data: &[u8]) {
    // Names that are not namespace-well-formed (`<:a>`, `xmlns:=`, `a:b:c`) are accepted
    // by the decoder but do not survive a round trip (tests/hostile_sip.rs
    // `settings_rejects_names_that_are_not_qnames`): only "never panics" holds for them.
    let strict = std::str::from_utf8(data).is_ok_and(all_names_are_qnames);
    if !strict {
        if let Ok(doc) = ServiceSettings::decode(data) {
            let _ = ServiceSettings::decode(doc.encode().as_bytes());
        }
        if let Ok(doc) = PocSettings::decode(data) {
            let _ = PocSettings::decode(doc.encode().as_bytes());
        }
        return;
    }
    if let Ok(doc) = ServiceSettings::decode(data) {
        let text = doc.encode();
        match ServiceSettings::decode(text.as_bytes()) {
            Ok(back) => {
                assert_eq!(
                    normal(&back),
                    normal(&doc),
                    "service settings changed:\n{text}"
                );
                assert_eq!(back.encode(), text, "encoding is not a fixpoint");
            }
            Err(e) => panic!("encoded service settings do not decode: {e}\n{text}"),
        }
        let _ = doc.entities.first().map(|e| doc.for_entity(&e.id));
    }
    if let Ok(doc) = PocSettings::decode(data) {
        let text = doc.encode();
        match PocSettings::decode(text.as_bytes()) {
            Ok(back) => {
                assert_eq!(
                    normal_poc(&back),
                    normal_poc(&doc),
                    "poc settings changed:\n{text}"
                );
                assert_eq!(back.encode(), text, "encoding is not a fixpoint");
            }
            Err(e) => panic!("encoded poc settings do not decode: {e}\n{text}"),
        }
    }
}

/// `prefix:local` or `local`, each an NCName (approximated: ASCII rules, any non-ASCII
/// letter allowed).
pub fn is_qname(name: &str) -> bool {
    let ncname = |s: &str| {
        let mut c = s.chars();
        c.next().is_some_and(|f| f.is_alphabetic() || f == '_')
            && c.all(|x| x.is_alphanumeric() || matches!(x, '-' | '.' | '_'))
    };
    match name.split_once(':') {
        Some((p, l)) => ncname(p) && ncname(l),
        None => ncname(name),
    }
}

/// Whether every element and attribute name in the markup is a QName (a small lexer:
/// comments, PIs, CDATA and DOCTYPE are skipped, quoted attribute values too).
pub fn all_names_are_qnames(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(p) = text.get(i..).and_then(|t| t.find('<')) {
        i += p + 1;
        match b.get(i) {
            Some(b'!') | Some(b'?') => {
                let end = if text[i..].starts_with("!--") {
                    text[i..].find("-->")
                } else if text[i..].starts_with("![CDATA[") {
                    text[i..].find("]]>")
                } else {
                    text[i..].find('>')
                };
                match end {
                    Some(e) => i += e + 1,
                    None => return true,
                }
                continue;
            }
            Some(b'/') => i += 1,
            _ => {}
        }
        // Inside a tag: names and quoted values until '>'.
        loop {
            while b
                .get(i)
                .is_some_and(|c| c.is_ascii_whitespace() || matches!(c, b'=' | b'/'))
            {
                i += 1;
            }
            match b.get(i) {
                None => return true,
                Some(b'>') => {
                    i += 1;
                    break;
                }
                Some(&q @ (b'"' | b'\'')) => match text[i + 1..].find(q as char) {
                    Some(e) => i += e + 2,
                    None => return true,
                },
                Some(_) => {
                    let len = text[i..]
                        .find(|c: char| c.is_ascii_whitespace() || "=>/\"'".contains(c))
                        .unwrap_or(text.len() - i);
                    if !is_qname(&text[i..i + len]) {
                        return false;
                    }
                    i += len;
                }
            }
        }
    }
    true
}

/// Drops namespace declarations that repeat the binding in force (`scope`, innermost
/// last) and sorts the remaining ones after the other attributes, recursively.
fn normal_node(n: &mut XmlNode, scope: &mut Vec<(String, String)>) {
    let is_decl = |k: &str| k == "xmlns" || k.starts_with("xmlns:");
    let outer = scope.len();
    let in_force = |scope: &[(String, String)], k: &str| {
        scope
            .iter()
            .rev()
            .find(|(d, _)| d == k)
            .map(|(_, v)| v.clone())
    };
    let mut kept = Vec::new();
    for (k, v) in std::mem::take(&mut n.attributes) {
        if is_decl(&k) {
            let current = in_force(scope, &k).or_else(|| (k == "xmlns").then(String::new));
            if current.as_deref() == Some(v.as_str()) {
                continue;
            }
            scope.push((k.clone(), v.clone()));
        }
        kept.push((k, v));
    }
    kept.sort_by_key(|(k, _)| (is_decl(k), is_decl(k).then(|| k.clone())));
    n.attributes = kept;
    for c in &mut n.children {
        if let XmlChild::Element(e) = c {
            normal_node(e, scope);
        }
    }
    scope.truncate(outer);
}

fn normal_nodes(nodes: &mut [XmlNode], ns: &str) {
    for n in nodes {
        normal_node(n, &mut vec![("xmlns".to_owned(), ns.to_owned())]);
    }
}

fn normal(doc: &ServiceSettings) -> ServiceSettings {
    let ns = imsip::settings::SERVICE_SETTINGS_NS;
    let mut d = doc.clone();
    normal_nodes(&mut d.extensions, ns);
    d.preserved = Default::default();
    for e in &mut d.entities {
        normal_nodes(&mut e.extensions, ns);
        e.preserved = Default::default();
    }
    d
}

fn normal_poc(doc: &PocSettings) -> PocSettings {
    let ns = imsip::settings::POC_SETTINGS_NS;
    let mut d = doc.clone();
    normal_nodes(&mut d.extensions, ns);
    d.preserved = Default::default();
    for e in &mut d.entities {
        normal_nodes(&mut e.extensions, ns);
        e.preserved = Default::default();
    }
    d
}

/// AKA nonce and the small codecs under it: never panic, and what decodes re-encodes.
pub fn check_nonce(text: &str) {
    if let Ok(n) = decode_nonce(text) {
        let raw = [&n.rand[..], &n.autn[..], &n.server_data].concat();
        let back = decode_nonce(&base64_encode(&raw));
        assert_eq!(back.as_ref(), Ok(&n), "nonce does not re-encode");
    }
    if let Some(bytes) = base64_decode(text) {
        assert_eq!(base64_decode(&base64_encode(&bytes)), Some(bytes));
    }
    if let Some(bytes) = hex_decode(text) {
        assert_eq!(hex_encode(&bytes), text.to_ascii_lowercase());
    }
}
