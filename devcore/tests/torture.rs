//! The RFC 4475 torture messages (../shared/corpora/rfc4475, with their verdicts)
//! sent to the dev core over one WebSocket: every request the codec refuses is
//! answered 400 (505 for another SIP version) from its header text (RFC 4475
//! §3.1.2), every semantically wrong one gets the answer §3.3 names (416, 420, 400)
//! or another refusal, never a 2xx; a valid one is never refused as malformed; a
//! malformed response is not answered. After each message an OPTIONS of ours is a
//! barrier: the core handles one flow's frames in order, so an answer to the
//! torture message would come before the OPTIONS' 200.

mod common;

use common::{connect_ws, next_payload, start, unique};
use futures_util::SinkExt;
use imsip::message::Message;
use std::path::PathBuf;
use tokio_tungstenite::tungstenite::Message as WsMessage;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora/rfc4475")
}

fn probe(call_id: &str) -> String {
    format!(
        "OPTIONS sip:imsip.test SIP/2.0\r\nVia: SIP/2.0/WS probe.invalid;branch=z9hG4bK{call_id}\r\n\
         From: <sip:probe@imsip.test>;tag=p\r\nTo: <sip:imsip.test>\r\nCall-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

#[tokio::test]
async fn rfc4475_requests_are_answered_as_the_rfc_says() {
    let core = start().await;
    let (mut ws, _) = connect_ws(core.addr).await;
    let manifest = std::fs::read_to_string(corpus().join("manifest.tsv")).expect("manifest");
    let mut failures = Vec::new();
    let mut checked = 0;
    for line in manifest.lines().skip(1) {
        let [file, section, verdict, ..] = line.split('\t').collect::<Vec<_>>()[..] else {
            continue;
        };
        let bytes = std::fs::read(corpus().join(file)).expect("corpus file");
        ws.send(WsMessage::binary(bytes.clone()))
            .await
            .expect("send");
        let barrier = unique("barrier-");
        ws.send(WsMessage::text(probe(&barrier)))
            .await
            .expect("send");
        // Every frame until the barrier's answer: what the core said to `file`.
        let mut answers = Vec::new();
        loop {
            let data = next_payload(&mut ws).await;
            let msg = Message::parse(&data)
                .unwrap_or_else(|e| panic!("{file}: the core sent an unparseable frame ({e})"));
            if msg.call_id().ok() == Some(barrier.as_str()) {
                break;
            }
            answers.push(msg.status().unwrap_or(0));
        }
        let is_request = !bytes.starts_with(b"SIP/");
        let status = answers.first().copied();
        let fine = match (verdict, file) {
            (_, _) if !is_request => answers.is_empty(),
            ("reject", "badvers.dat") => status == Some(505),
            ("reject", _) => status == Some(400),
            ("semantic", "unkscm.dat" | "novelsc.dat") => status == Some(416),
            ("semantic", "bext01.dat") => status == Some(420),
            ("semantic", "insuf.dat" | "multi01.dat") => status == Some(400),
            // Refused some other way first (unknown user, authentication): not acted on.
            ("semantic", _) => status.is_some_and(|s| s >= 300),
            // Valid: whatever the core does with it, it does not call it malformed.
            _ => !matches!(status, Some(400 | 505)),
        };
        checked += 1;
        if !fine || answers.len() > 1 {
            failures.push(format!(
                "{file} (§{section}, {verdict}): answered {answers:?}"
            ));
        }
    }
    assert!(checked >= 49, "only {checked} messages in the manifest");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_420_names_every_unsupported_option_and_a_supported_one_passes() {
    let core = start().await;
    let (mut ws, _) = connect_ws(core.addr).await;
    let bytes = std::fs::read(corpus().join("bext01.dat")).expect("corpus file");
    ws.send(WsMessage::binary(bytes)).await.expect("send");
    let answer = Message::parse(&next_payload(&mut ws).await).expect("parses");
    assert_eq!(answer.status(), Some(420));
    let unsupported = answer.header("Unsupported").expect("Unsupported");
    for tag in [
        "noProxiesSupportThis",
        "norDoAnyProxiesSupportThis",
        "nothingSupportsThis",
        "nothingSupportsThisEither",
    ] {
        assert!(unsupported.contains(tag), "{tag} in {unsupported}");
    }
    // What the core supports passes: a REGISTER that requires outbound is not refused for it.
    let register = "REGISTER sip:imsip.test SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKreq1\r\n\
        From: <sip:alice@imsip.test>;tag=r\r\nTo: <sip:alice@imsip.test>\r\nCall-ID: req-outbound\r\n\
        CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nRequire: outbound\r\n\
        Contact: <sip:a@x.invalid;transport=ws>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-000000000001>\"\r\n\
        Content-Length: 0\r\n\r\n";
    ws.send(WsMessage::text(register.to_owned()))
        .await
        .expect("send");
    let answer = Message::parse(&next_payload(&mut ws).await).expect("parses");
    assert_eq!(
        answer.status(),
        Some(401),
        "challenged, not refused for outbound"
    );
}
