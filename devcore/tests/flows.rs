//! Flows: keep-alive, malformed and oversized frames, the subprotocol, and
//! the HTTP side (demo page, /pkg, /www).

mod common;

use common::*;
use imsip::auth::Credentials;
use imsip::message::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn crlf_ping_gets_pong() {
    let core = start().await;
    let mut ua = core.alice().await;
    ua.send_raw("\r\n\r\n").await;
    assert_eq!(ua.recv_frame().await, b"\r\n");
    // A bare CRLF (a pong) is not answered: the next frame is the OPTIONS 200.
    ua.send_raw("\r\n").await;
    let ping = ua
        .base(
            Method::Options,
            "sip:imsip.test",
            "<sip:imsip.test>",
            &unique("o"),
        )
        .build();
    assert_eq!(ua.call(&ping).await.status(), Some(200));
}

#[tokio::test]
async fn malformed_frames_do_not_disturb_anyone() {
    let core = start().await;
    let mut bad = core
        .ua(
            "alice",
            Credentials::password("alice@imsip.test", "alice-secret"),
        )
        .await;
    let mut good = core.bob().await;
    good.register().await;

    // Parseable enough to answer (Via and CSeq), but no Call-ID: 400.
    bad.send_raw(
        "MESSAGE sip:bob@imsip.test SIP/2.0\r\n\
         Via: SIP/2.0/WS x.invalid;branch=z9hG4bKbad1\r\n\
         From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\n\
         CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
    )
    .await;
    let r = bad.response().await;
    assert_eq!(r.status(), Some(400), "{r}");
    assert_eq!(r.top_via().unwrap().branch(), Some("z9hG4bKbad1"));
    assert!(r.header("Warning").unwrap().contains("Call-ID"), "{r}");

    // Unparseable: dropped without an answer.
    bad.send_raw("this is not SIP at all\r\n\r\n").await;
    bad.send_raw("INVITE sip:x SIP/2.0\r\nNo colon here\r\n\r\n")
        .await;
    bad.send_raw("REGISTER sip:x SIP/2.0\r\nContent-Length: 99\r\n\r\nshort")
        .await;
    let mut bytes =
        b"OPTIONS sip:imsip.test SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\r', b'\n', b'\r', b'\n']);
    bad.ws
        .send(tokio_tungstenite::tungstenite::Message::binary(bytes))
        .await
        .unwrap();
    // The next thing `bad` hears is the answer to its next good request.
    let ping = bad
        .base(
            Method::Options,
            "sip:imsip.test",
            "<sip:imsip.test>",
            &unique("o"),
        )
        .build();
    let r = bad.call(&ping).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.call_id().unwrap(), ping.call_id().unwrap());

    // Another client carries on as if nothing happened.
    let ping = good
        .base(
            Method::Options,
            "sip:imsip.test",
            "<sip:imsip.test>",
            &unique("o"),
        )
        .build();
    assert_eq!(good.call(&ping).await.status(), Some(200));
    assert_eq!(good.register_for(3600).await.status(), Some(200));
}

use futures_util::SinkExt;

#[tokio::test]
async fn oversized_request_is_answered_513_and_the_flow_lives() {
    let core = start().await;
    let mut ua = core.alice().await;
    ua.register().await;
    let big = "x".repeat(70 * 1024);
    let doc = settings_doc("sip:alice@imsip.test", true).replace(
        "</service-settings>",
        &format!("<!-- {big} --></service-settings>"),
    );
    let req = publish(&mut ua, None, None, Some(&doc));
    // RFC 3261 §21.5.14: refused at once, not routed, not left to time out.
    let r = ua.call(&req).await;
    assert_eq!(r.status(), Some(513), "{r}");
    assert_eq!(r.call_id().unwrap(), req.call_id().unwrap());
    let ping = ua
        .base(
            Method::Options,
            "sip:imsip.test",
            "<sip:imsip.test>",
            &unique("o"),
        )
        .build();
    let r = ua.call(&ping).await;
    assert_eq!(r.status(), Some(200), "the flow still works");
    assert_eq!(r.call_id().unwrap(), ping.call_id().unwrap());
}

#[tokio::test]
async fn unknown_methods_and_options() {
    let core = start().await;
    let mut ua = core.alice().await;
    let req = ua
        .base(
            Method::Refer,
            "sip:bob@imsip.test",
            "<sip:bob@imsip.test>",
            &unique("i"),
        )
        .build();
    let r = ua.call(&req).await;
    assert_eq!(r.status(), Some(405));
    assert!(r.allow().unwrap().contains(&"MESSAGE".to_owned()));
}

/// GET `path` over HTTP/1.1; returns (status line, headers+body as text).
async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let (status, rest) = text.split_once("\r\n").unwrap_or((&text, ""));
    (status.to_owned(), rest.to_owned())
}

#[tokio::test]
async fn serves_the_page_and_the_package() {
    let core = start().await;
    // No www/index.html yet: the built-in placeholder.
    let (status, body) = http_get(core.addr, "/").await;
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("not built yet"), "{body}");

    let www = &core.config.www;
    let pkg = &core.config.pkg;
    std::fs::create_dir_all(www).unwrap();
    std::fs::create_dir_all(pkg).unwrap();
    std::fs::write(www.join("index.html"), "<title>demo</title>").unwrap();
    std::fs::write(www.join("app.js"), "export const x = 1;").unwrap();
    std::fs::write(pkg.join("imsip.js"), "export default 1;").unwrap();
    std::fs::write(pkg.join("imsip_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();

    let (status, body) = http_get(core.addr, "/").await;
    assert!(status.contains("200"));
    assert!(body.contains("<title>demo</title>"));
    let (_, body) = http_get(core.addr, "/www/index.html").await;
    assert!(body.contains("<title>demo</title>"));
    let (status, body) = http_get(core.addr, "/app.js").await;
    assert!(status.contains("200") && body.contains("export const x"));
    for path in ["/pkg/imsip.js", "/www/pkg/imsip.js"] {
        let (status, body) = http_get(core.addr, path).await;
        assert!(status.contains("200"), "{path}: {status}");
        assert!(
            body.to_ascii_lowercase()
                .contains("content-type: text/javascript"),
            "{body}"
        );
    }
    let (_, body) = http_get(core.addr, "/pkg/imsip_bg.wasm").await;
    assert!(
        body.to_ascii_lowercase()
            .contains("content-type: application/wasm"),
        "{body}"
    );
    let (status, _) = http_get(core.addr, "/pkg/missing.js").await;
    assert!(status.contains("404"), "{status}");
}

#[tokio::test]
async fn subprotocol_sip_is_echoed() {
    let core = start().await;
    let (_ws, proto) = connect_ws(core.addr).await;
    assert_eq!(proto.as_deref(), Some("sip"));
}
