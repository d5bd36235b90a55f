//! MSRP relay over WebSocket (RFC 4976 with RFC 7977): AUTH 401 → 200 with
//! Use-Path, a wrong password, and a SEND relayed between two clients.

mod common;

use common::*;
use futures_util::SinkExt;
use imsip::auth::{Algorithm, DigestInput, DigestSecret, Qop};
use imsip::msrp::{Frame, MsrpUri, RequestBuilder, TransactionId};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as WsMessage;

async fn connect(addr: std::net::SocketAddr) -> Ws {
    let mut req = format!("ws://{addr}/msrp").into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", "msrp".parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(
        resp.headers().get("sec-websocket-protocol").unwrap(),
        "msrp"
    );
    ws
}

async fn recv(ws: &mut Ws) -> Frame {
    Frame::parse(&next_payload(ws).await).expect("an MSRP frame")
}

async fn send(ws: &mut Ws, bytes: Vec<u8>) {
    ws.send(WsMessage::binary(bytes)).await.unwrap();
}

fn uri(s: &str) -> MsrpUri {
    MsrpUri::parse(s).unwrap()
}

/// AUTH as `user` with `password`: 401, then the answer; returns the final
/// response.
async fn auth(
    ws: &mut Ws,
    addr: std::net::SocketAddr,
    me: &MsrpUri,
    user: &str,
    password: &str,
) -> Frame {
    let relay = uri(&format!("msrps://{addr};ws"));
    let first = RequestBuilder::auth(
        TransactionId::new(unique("authtid")).unwrap(),
        relay.clone(),
        me.clone(),
    );
    send(ws, first.encode().unwrap()).await;
    let r = recv(ws).await;
    assert_eq!(r.status_code(), Some(401));
    let ch = r.www_authenticate().unwrap().remove(0);
    assert_eq!(ch.param("realm"), Some("imsip.test"));
    let nonce = ch.param("nonce").unwrap().to_owned();
    let relay_text = relay.to_string();
    let input = DigestInput {
        algorithm: Algorithm::MD5,
        username: user,
        realm: "imsip.test",
        nonce: &nonce,
        cnonce: "c0ffee",
        nc: 1,
        qop: Some(Qop::Auth),
        method: "AUTH",
        uri: &relay_text,
        body: b"",
    };
    let response = input.response(DigestSecret::Password(password.as_bytes()));
    let authz = format!(
        "Digest username=\"{user}\", realm=\"imsip.test\", nonce=\"{nonce}\", uri=\"{relay_text}\", \
         response=\"{response}\", qop=auth, nc=00000001, cnonce=\"c0ffee\", algorithm=MD5"
    );
    let second = RequestBuilder::auth(
        TransactionId::new(unique("authtid")).unwrap(),
        relay,
        me.clone(),
    )
    .header("Authorization", authz);
    send(ws, second.encode().unwrap()).await;
    recv(ws).await
}

/// A connection of `user` (password `<user>-secret`) authenticated as client
/// URI `me`: the socket, `me`, and the relay URI its AUTH was granted.
async fn authenticated(addr: std::net::SocketAddr, me: &str, user: &str) -> (Ws, MsrpUri, MsrpUri) {
    let (mut ws, me) = (connect(addr).await, uri(me));
    let password = format!("{user}-secret");
    let r = auth(&mut ws, addr, &me, &format!("{user}@imsip.test"), &password).await;
    assert_eq!(r.status_code(), Some(200));
    let relay = r.use_path().unwrap().unwrap().remove(0);
    (ws, me, relay)
}

#[tokio::test]
async fn auth_is_challenged_then_gets_use_path_and_expires() {
    let core = start().await;
    let mut ws = connect(core.addr).await;
    let me = uri("msrps://a.invalid:2855/alice1;ws");
    let r = auth(&mut ws, core.addr, &me, "alice@imsip.test", "alice-secret").await;
    assert_eq!(r.status_code(), Some(200));
    let path = r.use_path().unwrap().unwrap();
    assert_eq!(path.len(), 1);
    let text = path[0].to_string();
    assert!(
        text.starts_with(&format!("msrps://{}/", core.addr)),
        "{text}"
    );
    assert!(path[0].is_websocket(), "{text}");
    assert_eq!(r.expires().unwrap(), Some(3600));
}

#[tokio::test]
async fn a_wrong_password_fails_auth() {
    let core = start().await;
    let mut ws = connect(core.addr).await;
    let me = uri("msrps://a.invalid:2855/alice2;ws");
    let r = auth(&mut ws, core.addr, &me, "alice@imsip.test", "wrong").await;
    assert_eq!(r.status_code(), Some(401));
}

#[tokio::test]
async fn a_large_send_is_relayed_chunk_by_chunk_byte_exact() {
    let core = start().await;
    let (mut a, alice, relay_a) =
        authenticated(core.addr, "msrps://a.invalid:2855/alice3;ws", "alice").await;
    let (mut b, bob, relay_b) =
        authenticated(core.addr, "msrps://b.invalid:2855/bob3;ws", "bob").await;

    // 1 MiB of every byte value, in 16 chunks of 64 KiB.
    let body: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let chunk = 64 * 1024;
    let total = body.len() as u64;
    let mut got = Vec::new();
    for (i, part) in body.chunks(chunk).enumerate() {
        let start = (i * chunk) as u64 + 1;
        let end = start + part.len() as u64 - 1;
        let tid = TransactionId::new(unique("sendtid")).unwrap();
        // To-Path: alice's relay URI, bob's relay URI, bob.
        let send_frame = RequestBuilder::new(
            imsip::msrp::Method::Send,
            tid.clone(),
            vec![relay_a.clone(), relay_b.clone(), bob.clone()],
            vec![alice.clone()],
        )
        .message_id("msg1")
        .byte_range(imsip::msrp::ByteRange::new(start, Some(end), Some(total)).unwrap())
        .body("application/octet-stream", part.to_vec());
        send(&mut a, send_frame.encode().unwrap()).await;
        let at_b = recv(&mut b).await;
        assert_eq!(at_b.to_path(), std::slice::from_ref(&bob));
        assert_eq!(
            at_b.from_path(),
            [relay_b.clone(), relay_a.clone(), alice.clone()]
        );
        got.extend_from_slice(at_b.body().unwrap());
        let ok = imsip::msrp::ResponseBuilder::for_request(&at_b, 200).unwrap();
        send(&mut b, ok.encode().unwrap()).await;
        let back = recv(&mut a).await;
        assert_eq!(back.status_code(), Some(200));
        assert_eq!(back.tid(), &tid);
    }
    assert_eq!(got, body, "byte-exact through the relay");
}

#[tokio::test]
async fn transaction_ids_are_the_relays_own_on_the_next_hop() {
    // Two senders who pick the same transaction id each get their own response
    // (before, the second one's SEND took the first one's 200); a body holding
    // the sender's own end-line text (legal: only the end-line with the frame's
    // id breaks it, RFC 4975 §7.1.1) is relayed, not refused 400.
    let core = start().await;
    let (mut a, alice, relay_a) =
        authenticated(core.addr, "msrps://a.invalid:2855/alice4;ws", "alice").await;
    let (mut c, carol, relay_c) =
        authenticated(core.addr, "msrps://c.invalid:2855/alice5;ws", "alice").await;
    let (mut b, bob, relay_b) =
        authenticated(core.addr, "msrps://b.invalid:2855/bob4;ws", "bob").await;
    let tid = TransactionId::new("sameTid1").unwrap();
    let send_via = |relay: &MsrpUri, from: &MsrpUri, body: &str| {
        RequestBuilder::new(
            imsip::msrp::Method::Send,
            tid.clone(),
            vec![relay.clone(), relay_b.clone(), bob.clone()],
            vec![from.clone()],
        )
        .message_id(unique("msgid"))
        .body("text/plain", body.as_bytes().to_vec())
        .encode()
        .unwrap()
    };
    // Written by hand: our own builder is stricter than RFC 4975 and refuses
    // such a body.
    let body_a = "from a\r\n-------sameTid1\r\nstill a";
    let raw_a = format!(
        "MSRP sameTid1 SEND\r\nTo-Path: {relay_a} {relay_b} {bob}\r\nFrom-Path: {alice}\r\n\
         Message-ID: {}\r\nByte-Range: 1-{n}/{n}\r\nContent-Type: text/plain\r\n\r\n\
         {body_a}\r\n-------sameTid1$\r\n",
        unique("msgid"),
        n = body_a.len()
    );
    send(&mut a, raw_a.into_bytes()).await;
    let first = recv(&mut b).await;
    assert_ne!(first.tid(), &tid, "our own id on the next hop");
    assert_eq!(
        first.body(),
        Some(&b"from a\r\n-------sameTid1\r\nstill a"[..])
    );
    send(&mut c, send_via(&relay_c, &carol, "from c")).await;
    let second = recv(&mut b).await;
    assert_ne!(second.tid(), first.tid());
    let ok = |f: &Frame| {
        imsip::msrp::ResponseBuilder::for_request(f, 200)
            .unwrap()
            .encode()
            .unwrap()
    };
    send(&mut b, ok(&first)).await;
    let at_a = recv(&mut a).await;
    assert_eq!((at_a.status_code(), at_a.tid()), (Some(200), &tid));
    send(&mut b, ok(&second)).await;
    let at_c = recv(&mut c).await;
    assert_eq!((at_c.status_code(), at_c.tid()), (Some(200), &tid));

    // Addressed to the relay alone: a method it does not know is 501 (RFC 4975
    // §10); a SEND with `Failure-Report: no` gets none of the relay's errors
    // (§7.1.1): the next frame alice gets answers the request after it.
    let to_relay = |method: imsip::msrp::Method, id: &str, fr: Option<&str>| {
        let mut r = RequestBuilder::new(
            method,
            TransactionId::new(id).unwrap(),
            vec![relay_a.clone()],
            vec![alice.clone()],
        );
        if let Some(v) = fr {
            r = r.header("Failure-Report", v);
        }
        r.encode().unwrap()
    };
    send(
        &mut a,
        to_relay(imsip::msrp::Method::Other("FOO".into()), "fooTid1", None),
    )
    .await;
    let r = recv(&mut a).await;
    assert_eq!((r.status_code(), r.tid().as_str()), (Some(501), "fooTid1"));
    send(
        &mut a,
        to_relay(imsip::msrp::Method::Send, "quietTid", Some("no")),
    )
    .await;
    send(
        &mut a,
        to_relay(imsip::msrp::Method::Send, "loudTid1", None),
    )
    .await;
    let r = recv(&mut a).await;
    assert_eq!((r.status_code(), r.tid().as_str()), (Some(481), "loudTid1"));
}

#[tokio::test]
async fn a_send_the_next_hop_never_answers_gets_408_from_the_relay() {
    // RFC 4975 §7.3 / RFC 4976 §6.3: no response within 30 s to a SEND the relay
    // forwarded, and the relay answers 408 itself (only relays send 408), with
    // the sender's transaction id — unless the sender asked for no failure
    // reports. The clock is moved, not slept on.
    let core = start().await;
    let (mut a, alice, relay_a) =
        authenticated(core.addr, "msrps://a.invalid:2855/alice6;ws", "alice").await;
    let (mut b, bob, relay_b) =
        authenticated(core.addr, "msrps://b.invalid:2855/bob6;ws", "bob").await;
    let to_bob = |id: &str, failure_report: Option<&str>| {
        let mut r = RequestBuilder::new(
            imsip::msrp::Method::Send,
            TransactionId::new(id).unwrap(),
            vec![relay_a.clone(), relay_b.clone(), bob.clone()],
            vec![alice.clone()],
        )
        .message_id(unique("msgid"))
        .body("text/plain", b"anyone there?".to_vec());
        if let Some(v) = failure_report {
            r = r.header("Failure-Report", v);
        }
        r.encode().unwrap()
    };
    send(&mut a, to_bob("silentT1", None)).await;
    assert_eq!(recv(&mut b).await.body(), Some(&b"anyone there?"[..]));
    send(&mut a, to_bob("quietT2", Some("no"))).await;
    assert_eq!(recv(&mut b).await.body(), Some(&b"anyone there?"[..]));

    core.advance_clock(std::time::Duration::from_secs(31));
    let r = recv(&mut a).await;
    assert_eq!((r.status_code(), r.tid().as_str()), (Some(408), "silentT1"));
    assert_eq!(r.to_path(), std::slice::from_ref(&alice));
    // The quiet one got nothing: the next frame at alice answers a later request.
    let marker = RequestBuilder::new(
        imsip::msrp::Method::Send,
        TransactionId::new("markTid1").unwrap(),
        vec![relay_a.clone()],
        vec![alice.clone()],
    );
    send(&mut a, marker.encode().unwrap()).await;
    let r = recv(&mut a).await;
    assert_eq!((r.status_code(), r.tid().as_str()), (Some(481), "markTid1"));
}
