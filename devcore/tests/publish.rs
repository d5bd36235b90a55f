//! IM server, RFC 3903: PUBLISH lifecycle, refusals, 407 off the registered
//! flow, persistence across a restart.

mod common;

use common::*;
use imsip::message::Method;

#[tokio::test]
async fn lifecycle_initial_refresh_modify_remove() {
    let core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;

    let doc1 = settings_doc("sip:alice@imsip.test", true);
    let r = alice.publish(Some(600), None, Some(&doc1)).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.expires().unwrap(), Some(600));
    let etag1 = r.sip_etag().unwrap().unwrap();

    // Refresh: no body, SIP-If-Match → a new entity-tag and expiry.
    let r = alice.publish(Some(900), Some(&etag1), None).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.expires().unwrap(), Some(900));
    let etag2 = r.sip_etag().unwrap().unwrap();
    assert_ne!(etag1, etag2);

    // The old entity-tag no longer matches.
    let r = alice.publish(None, Some(&etag1), None).await;
    assert_eq!(r.status(), Some(412), "{r}");

    // Modify: a body with SIP-If-Match.
    let doc2 = settings_doc("sip:alice@imsip.test", false);
    let r = alice.publish(None, Some(&etag2), Some(&doc2)).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.expires().unwrap(), Some(3600), "default expiry");
    let etag3 = r.sip_etag().unwrap().unwrap();

    // Remove: Expires 0 with SIP-If-Match.
    let r = alice.publish(Some(0), Some(&etag3), None).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.expires().unwrap(), Some(0));

    // Gone: a refresh of it fails.
    let r = alice.publish(None, Some(&etag3), None).await;
    assert_eq!(r.status(), Some(412), "{r}");
}

#[tokio::test]
async fn refusals() {
    let core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;

    // Bad XML → 400 with a reason and a Warning.
    let r = alice
        .publish(None, None, Some("<service-settings><oops>"))
        .await;
    assert_eq!(r.status(), Some(400), "{r}");
    assert!(r.reason().unwrap().contains("service-settings"), "{r}");
    assert!(r
        .header("Warning")
        .unwrap()
        .starts_with("399 imsip.test \""));

    // A DOCTYPE is refused too (no entity expansion).
    let evil = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><service-settings xmlns=\"urn:oma:xml:im:service-settings\"/>";
    let r = alice.publish(None, None, Some(evil)).await;
    assert_eq!(r.status(), Some(400), "{r}");

    // Wrong Content-Type → 415 with Accept.
    let doc = settings_doc("sip:alice@imsip.test", true);
    let aor = alice.aor.clone();
    let req = alice
        .base(Method::Publish, &aor, &format!("<{aor}>"), &unique("p"))
        .header("Event", "service-settings")
        .body(Some("text/plain"), doc.clone())
        .build();
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(415), "{r}");
    assert_eq!(r.header("Accept"), Some("application/service-settings+xml"));

    // Too short → 423 with Min-Expires.
    let r = alice.publish(Some(30), None, Some(&doc)).await;
    assert_eq!(r.status(), Some(423), "{r}");
    assert_eq!(r.min_expires().unwrap(), Some(60));

    // Another event package → 489.
    let req = alice
        .base(Method::Publish, &aor, &format!("<{aor}>"), &unique("p"))
        .header("Event", "presence")
        .body(Some("application/pidf+xml"), "<presence/>")
        .build();
    assert_eq!(alice.call(&req).await.status(), Some(489));

    // Someone else's AoR → 403.
    let req = alice
        .base(
            Method::Publish,
            "sip:bob@imsip.test",
            "<sip:bob@imsip.test>",
            &unique("p"),
        )
        .header("Event", "service-settings")
        .body(Some("application/service-settings+xml"), doc.clone())
        .build();
    assert_eq!(alice.call(&req).await.status(), Some(403));

    // Initial PUBLISH without a body, or SIP-If-Match of nothing.
    assert_eq!(alice.publish(None, None, None).await.status(), Some(400));
    let r = alice.publish(None, Some("nope"), None).await;
    assert_eq!(r.status(), Some(412));

    // poc-settings is a second package of the same server.
    let poc = "<poc-settings xmlns=\"urn:oma:params:xml:ns:poc:poc-settings\">\
        <entity id=\"sip:alice@imsip.test\"><am-settings><answer-mode>automatic</answer-mode>\
        </am-settings></entity></poc-settings>";
    let req = alice
        .base(Method::Publish, &aor, &format!("<{aor}>"), &unique("p"))
        .header("Event", "poc-settings")
        .body(Some("application/poc-settings+xml"), poc)
        .build();
    assert_eq!(alice.call(&req).await.status(), Some(200));
}

#[tokio::test]
async fn unregistered_flow_gets_407_then_proxy_authorization_works() {
    let core = start().await;
    let mut alice = core.alice().await;
    let doc = settings_doc("sip:alice@imsip.test", true);
    let r = alice.publish(None, None, Some(&doc)).await;
    assert_eq!(r.status(), Some(407), "{r}");
    let ch = r.proxy_authenticate().unwrap();
    alice.auth.on_challenge(&ch, true).unwrap();
    let aor = alice.aor.clone();
    let (name, value) = alice.credentials("PUBLISH", &aor, doc.as_bytes()).unwrap();
    assert_eq!(name, "Proxy-Authorization");
    let req = alice
        .base(Method::Publish, &aor, &format!("<{aor}>"), &unique("p"))
        .header("Event", "service-settings")
        .header(name.as_str(), value)
        .body(Some("application/service-settings+xml"), doc.clone())
        .build();
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(200), "{r}");

    // A From of an unknown user → 403.
    let mut eve = core
        .ua(
            "eve",
            imsip::auth::Credentials::password("eve@imsip.test", "x"),
        )
        .await;
    let r = eve.publish(None, None, Some(&doc)).await;
    assert_eq!(r.status(), Some(403));
}

#[tokio::test]
async fn settings_survive_a_restart() {
    let mut core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;
    let doc = settings_doc("sip:alice@imsip.test", true);
    let r = alice.publish(None, None, Some(&doc)).await;
    let etag = r.sip_etag().unwrap().unwrap();
    drop(alice);

    core.restart().await;
    let mut alice = core.alice().await;
    alice.register().await;
    // The stored entity-tag still matches.
    let r = alice.publish(None, Some(&etag), None).await;
    assert_eq!(r.status(), Some(200), "{r}");
    // And a watcher gets the stored document.
    let aor = alice.aor.clone();
    let contact = alice.contact();
    let req = alice
        .base(Method::Subscribe, &aor, &format!("<{aor}>"), &unique("s"))
        .header("Event", "service-settings")
        .header("Contact", contact)
        .header("Expires", 0)
        .build();
    assert_eq!(alice.call(&req).await.status(), Some(200));
    let n = alice.request().await;
    assert_eq!(n.method(), Some(&Method::Notify));
    assert_eq!(n.body_str(), Some(doc.as_str()));
    assert_eq!(
        n.subscription_state().unwrap().unwrap().to_string(),
        "terminated;reason=timeout"
    );
}
