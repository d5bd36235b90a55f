//! The IM Server's settings seen from the client: deferred messages (a Date header
//! on a stored MESSAGE) and the conversation history (imsip::im::history).
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::im::history::{self, Direction, HistoryEntry, HistoryQuery};
use imsip::message::Method;
use imsip::ua::{Event, Outcome, UaError};

fn entry(
    id: &str,
    dir: Direction,
    peer: &str,
    time: u64,
    body: impl Into<Vec<u8>>,
) -> HistoryEntry {
    HistoryEntry {
        id: id.into(),
        direction: dir,
        peer: peer.into(),
        time,
        content_type: "text/plain;charset=UTF-8".into(),
        body: body.into(),
    }
}

#[test]
fn a_stored_message_with_a_date_is_deferred_with_its_original_time() {
    let mut h = registered();
    let msg = |n: u32, date: &str| {
        format!("MESSAGE sip:alice@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS c.invalid;branch=z9hG4bKd{n}\r\nMax-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b{n}\r\nTo: <sip:alice@imsip.test>\r\nCall-ID: d{n}\r\nCSeq: 1 MESSAGE\r\n{date}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
    };
    h.inject(&msg(1, "Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n"));
    h.inject(&msg(2, ""));
    let got: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some((m.deferred, m.date_time.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [(true, Some("2010-11-13T23:29:00Z".into())), (false, None)]
    );
}

#[test]
fn fetch_history_sends_the_query_and_returns_the_messages_oldest_first() {
    let mut h = registered();
    h.core.history = vec![
        entry("1", Direction::Sent, BOB, 1_000, "first"),
        entry(
            "2",
            Direction::Received,
            "sip:carol@imsip.test",
            2_000,
            "other",
        ),
        entry("3", Direction::Received, BOB, 3_000, "héllo <&> \"quoted\""),
        entry("4", Direction::Sent, BOB, 4_000, "last"),
    ];
    let q = HistoryQuery {
        with: Some(BOB.into()),
        since: Some(1_500),
        limit: Some(10),
    };
    let op = h.ua.fetch_history(h.now, q.clone());
    h.pump();
    let Outcome::History(got) = h.ok(op) else {
        panic!()
    };
    assert_eq!(
        h.core.last_history_query.as_ref(),
        Some(&q),
        "the query crossed"
    );
    assert_eq!(
        got.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["3", "4"]
    );
    assert_eq!(got[0].body, "héllo <&> \"quoted\"".as_bytes());
    assert_eq!(got[0].direction, Direction::Received);
    let sub = h.sent_requests(Method::Subscribe).pop().unwrap();
    assert_eq!(Harness::header(&sub, "Expires"), "0");
    assert!(Harness::header(&sub, "Event").starts_with("im-history;with=\""));
}

#[test]
fn a_core_without_history_is_unsupported_event() {
    let mut h = registered();
    h.core.behaviour.settings_status = Some(489);
    let op = h.ua.fetch_history(h.now, HistoryQuery::default());
    h.pump();
    assert!(matches!(
        h.err(op),
        UaError::UnsupportedEvent { status: 489, .. }
    ));
}

#[test]
fn the_history_document_round_trips_and_skips_what_it_cannot_use() {
    let entries = vec![
        entry("a", Direction::Sent, BOB, 1_289_690_940, "x"),
        entry("b", Direction::Received, BOB, 0, ""),
    ];
    let xml = history::encode(&entries);
    assert!(xml.contains("time=\"2010-11-13T23:29:00Z\""));
    assert_eq!(history::decode(xml.as_bytes()).unwrap(), entries);
    let odd = r#"<im-history xmlns="urn:imsip:params:xml:ns:im-history">
      <message id="1" direction="sideways" peer="sip:b@x" time="2010-11-13T23:29:00Z">no</message>
      <message id="2" direction="sent" peer="sip:b@x" time="yesterday">no</message>
      <extra/>
      <message id="3" direction="sent" peer="sip:b@x" time="2010-11-13T23:29:00Z" new="attr">yes</message>
    </im-history>"#;
    let got = history::decode(odd.as_bytes()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"yes");
    assert!(history::decode(b"<im-history").is_err());
    assert!(history::decode(b"<other/>").is_err());
}

#[test]
fn a_body_xml_cannot_carry_goes_in_base64_and_reads_back_byte_for_byte() {
    // A binary body (RFC 7118 §4.2), one with control characters XML 1.0 has
    // no place for, and text with CR LF (kept: CR is written as a reference).
    let entries = vec![
        entry(
            "bin",
            Direction::Received,
            BOB,
            10,
            vec![0u8, 0xff, 0xfe, b'<', 0x80],
        ),
        entry("ctl", Direction::Sent, BOB, 20, "bell \u{7} and NUL \0"),
        entry("crlf", Direction::Sent, BOB, 30, "line 1\r\nline 2\r"),
        entry("empty", Direction::Sent, BOB, 40, ""),
    ];
    let xml = history::encode(&entries);
    assert_eq!(xml.matches("encoding=\"base64\"").count(), 2, "{xml}");
    assert!(xml.contains(">AP/+PIA=</message>"), "{xml}");
    assert!(xml.contains("line 1&#13;\nline 2&#13;"), "{xml}");
    assert_eq!(history::decode(xml.as_bytes()).unwrap(), entries);

    // Base64 a server wrapped over lines, in any case of the attribute value;
    // an unknown encoding or base64 that does not decode: that message skipped.
    let doc = r#"<im-history xmlns="urn:imsip:params:xml:ns:im-history">
      <message id="1" direction="sent" peer="sip:b@x" time="2010-11-13T23:29:00Z" encoding="BASE64">
        AP/+
        PIA=
      </message>
      <message id="2" direction="sent" peer="sip:b@x" time="2010-11-13T23:29:00Z" encoding="quoted-printable">x</message>
      <message id="3" direction="sent" peer="sip:b@x" time="2010-11-13T23:29:00Z" encoding="base64">A*B=</message>
    </im-history>"#;
    let got = history::decode(doc.as_bytes()).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, [0u8, 0xff, 0xfe, b'<', 0x80]);
}

#[test]
fn a_message_kept_in_its_cpim_envelope_is_given_back_as_its_content() {
    // Sent with receipts, a message travels (and is kept) in CPIM (RFC 3862):
    // fetch_history gives what the `message` event gave, the inner type and
    // bytes; a CPIM body that does not decode stays as it is.
    let mut h = registered();
    let cpim = "From: <sip:alice@imsip.test>\r\nTo: <sip:bob@imsip.test>\r\n\
                DateTime: 2026-11-30T00:00:00Z\r\nNS: imdn <urn:ietf:params:imdn>\r\n\
                imdn.Message-ID: m-1\r\n\r\nContent-Type: text/plain;charset=UTF-8\r\n\
                Content-Length: 5\r\n\r\nhello";
    let mut wrapped = entry("1", Direction::Sent, BOB, 1_000, cpim);
    wrapped.content_type = "message/cpim".into();
    let mut broken = entry("2", Direction::Sent, BOB, 2_000, "not cpim at all");
    broken.content_type = "Message/CPIM".into();
    h.core.history = vec![wrapped, broken];
    let op = h.ua.fetch_history(h.now, HistoryQuery::default());
    h.pump();
    let Outcome::History(got) = h.ok(op) else {
        panic!()
    };
    assert_eq!(got[0].content_type, "text/plain;charset=UTF-8");
    assert_eq!(got[0].body, b"hello");
    assert_eq!(got[1].content_type, "Message/CPIM");
    assert_eq!(got[1].body, b"not cpim at all");
}
