//! RFC 4475 and RFC 5118 torture messages against their verdict manifests
//! (../shared/corpora/README.md).
#![cfg(not(target_arch = "wasm32"))]

use imsip::message::{Host, Message, ParseError};
use std::path::PathBuf;

fn corpora() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora")
}

/// Parse + the UA's validation step (every typed header present is read).
fn check(bytes: &[u8]) -> Result<Message, ParseError> {
    let m = Message::parse(bytes)?;
    m.validate()?;
    Ok(m)
}

#[test]
fn rfc4475_verdicts_all_match() {
    let dir = corpora().join("rfc4475");
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).expect("manifest");
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, _section, verdict, ..] = cols.as_slice() else {
            continue;
        };
        let bytes = std::fs::read(dir.join(file)).expect("corpus file");
        let result = check(&bytes);
        let ok = match *verdict {
            "parse" => result.is_ok(),
            "reject" => result.is_err(),
            "semantic" => true,
            _ => continue,
        };
        if !ok {
            failures.push(format!("{file}: expected {verdict}, got {result:?}"));
        }
        checked += 1;
    }
    println!("RFC 4475: {checked} classified messages checked");
    assert_eq!(checked, 49, "classified files");
    assert!(failures.is_empty(), "{failures:#?}");
}

fn rfc5118(name: &str) -> Result<Message, ParseError> {
    let raw = std::fs::read_to_string(corpora().join("rfc5118").join(name)).expect("corpus file");
    let mut text = raw.replace("\r\n", "\n").replace('\n', "\r\n");
    if !text.contains("\r\n\r\n") {
        text.push_str("\r\n");
    }
    check(text.as_bytes())
}

#[test]
fn rfc5118_verdicts_all_match() {
    let files = [
        "ipv4-mapped-ipv6",
        "ipv6-bad",
        "ipv6-bug-abnf-3-colons",
        "ipv6-correct-abnf-2-colons",
        "ipv6-good",
        "ipv6-in-sdp",
        "mult-ip-in-header",
        "mult-ip-in-sdp",
        "port-ambiguous",
        "port-unambiguous",
        "via-received-param-no-delim",
        "via-received-param-with-delim",
    ];
    for f in files {
        let r = rfc5118(f);
        let must_reject = f == "ipv6-bad" || f == "ipv6-bug-abnf-3-colons";
        assert_eq!(r.is_err(), must_reject, "{f}: {r:?}");
    }
    println!("RFC 5118: {} messages checked", files.len());
}

#[test]
fn rfc5118_ipv6_references_exposed() {
    let m = rfc5118("port-ambiguous").unwrap();
    // [2001:db8::10:5070] is an address with no port.
    let uri = m.request_uri().unwrap();
    assert!(matches!(uri.host(), Some(Host::Ipv6(_))));
    assert_eq!(uri.port(), None);
    let m = rfc5118("port-unambiguous").unwrap();
    assert_eq!(m.request_uri().unwrap().port(), Some(5070));
    let m = rfc5118("ipv6-good").unwrap();
    assert!(matches!(m.top_via().unwrap().host, Host::Ipv6(_)));
    let m = rfc5118("via-received-param-with-delim").unwrap();
    assert!(m.top_via().unwrap().received().unwrap().starts_with('['));
}
