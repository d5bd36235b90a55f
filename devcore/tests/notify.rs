//! IM server, RFC 6665: SUBSCRIBE service-settings, NOTIFY to every watcher
//! of the AoR on each change, refresh and unsubscribe in the dialog.

mod common;

use common::*;
use imsip::message::{Message, Method};

/// An initial SUBSCRIBE of `ua` to its own service settings.
fn subscribe(ua: &mut Ua, expires: u32) -> Message {
    let aor = ua.aor.clone();
    let contact = ua.contact();
    ua.base(
        Method::Subscribe,
        &aor,
        &format!("<{aor}>"),
        &unique("sub-"),
    )
    .header("Event", "service-settings")
    .header("Accept", "application/service-settings+xml")
    .header("Contact", contact)
    .header("Expires", expires)
    .build()
}

/// Receives a NOTIFY, checks its dialog against the 200 `ok` of `sub`,
/// answers 200 and returns it.
async fn notify(ua: &mut Ua, sub: &Message, ok: &Message) -> Message {
    let n = ua.request().await;
    assert_eq!(n.method(), Some(&Method::Notify), "{n}");
    assert_eq!(n.request_uri().unwrap().as_str(), ua.contact_uri);
    assert_eq!(n.call_id().unwrap(), sub.call_id().unwrap());
    assert_eq!(n.from().unwrap().tag(), ok.to().unwrap().tag());
    assert_eq!(n.from().unwrap().uri.as_str(), ua.aor);
    assert_eq!(n.to().unwrap().tag(), Some(ua.tag.as_str()));
    assert_eq!(n.event().unwrap().unwrap().value, "service-settings");
    n.validate().unwrap();
    ua.answer(&n, 200, "OK").await;
    n
}

#[tokio::test]
async fn two_watchers_see_each_others_changes() {
    let core = start().await;
    let mut tab1 = core.alice().await;
    let mut tab2 = core.alice().await;
    tab1.register().await;
    tab2.register().await;

    let s1 = subscribe(&mut tab1, 600);
    let ok1 = tab1.call(&s1).await;
    assert_eq!(ok1.status(), Some(200), "{ok1}");
    assert!(ok1.to().unwrap().tag().is_some());
    assert_eq!(ok1.expires().unwrap(), Some(600));
    assert!(!ok1.contact_list().unwrap().is_empty());
    let n = notify(&mut tab1, &s1, &ok1).await;
    assert!(n.body().is_empty(), "nothing stored yet");
    let state = n.subscription_state().unwrap().unwrap();
    assert_eq!(state.value, "active");
    assert_eq!(state.expires(), Some(600));

    let s2 = subscribe(&mut tab2, 600);
    let ok2 = tab2.call(&s2).await;
    assert_eq!(ok2.status(), Some(200));
    notify(&mut tab2, &s2, &ok2).await;

    // tab1 publishes: both watchers are told.
    let doc = settings_doc("sip:alice@imsip.test", true);
    let r = tab1.publish(None, None, Some(&doc)).await;
    assert_eq!(r.status(), Some(200));
    let etag = r.sip_etag().unwrap().unwrap();
    for (ua, s, ok) in [(&mut tab1, &s1, &ok1), (&mut tab2, &s2, &ok2)] {
        let n = notify(ua, s, ok).await;
        assert_eq!(n.body_str(), Some(doc.as_str()));
        assert!(n
            .content_type()
            .unwrap()
            .unwrap()
            .is("application/service-settings+xml"));
    }

    // tab2 modifies it: both see the change, with the server's CSeq growing.
    let doc2 = settings_doc("sip:alice@imsip.test", false);
    let r = tab2.publish(None, Some(&etag), Some(&doc2)).await;
    assert_eq!(r.status(), Some(200), "{r}");
    let etag = r.sip_etag().unwrap().unwrap();
    let n1 = notify(&mut tab1, &s1, &ok1).await;
    assert_eq!(n1.body_str(), Some(doc2.as_str()));
    assert_eq!(n1.cseq().unwrap().seq, 3);
    assert_eq!(
        notify(&mut tab2, &s2, &ok2).await.body_str(),
        Some(doc2.as_str())
    );

    // Removal: NOTIFY without a body.
    let r = tab1.publish(Some(0), Some(&etag), None).await;
    assert_eq!(r.status(), Some(200));
    assert!(notify(&mut tab1, &s1, &ok1).await.body().is_empty());
    assert!(notify(&mut tab2, &s2, &ok2).await.body().is_empty());

    // Refresh in the dialog, then unsubscribe with a final NOTIFY.
    let to = ok1.header("To").unwrap().to_owned();
    let call_id = s1.call_id().unwrap().to_owned();
    let aor = tab1.aor.clone();
    let contact = tab1.contact();
    let refresh = tab1
        .base(Method::Subscribe, &aor, &to, &call_id)
        .header("Event", "service-settings")
        .header("Contact", contact.clone())
        .header("Expires", 300)
        .build();
    let r = tab1.call(&refresh).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.expires().unwrap(), Some(300));
    let n = notify(&mut tab1, &s1, &ok1).await;
    assert_eq!(
        n.subscription_state().unwrap().unwrap().expires(),
        Some(300)
    );

    let end = tab1
        .base(Method::Subscribe, &aor, &to, &call_id)
        .header("Event", "service-settings")
        .header("Contact", contact.clone())
        .header("Expires", 0)
        .build();
    assert_eq!(tab1.call(&end).await.status(), Some(200));
    let n = notify(&mut tab1, &s1, &ok1).await;
    assert_eq!(
        n.subscription_state().unwrap().unwrap().to_string(),
        "terminated;reason=timeout"
    );

    // The dialog is gone: a refresh gets 481.
    let again = tab1
        .base(Method::Subscribe, &aor, &to, &call_id)
        .header("Event", "service-settings")
        .header("Contact", contact)
        .header("Expires", 300)
        .build();
    assert_eq!(tab1.call(&again).await.status(), Some(481));

    // tab2 still watches: a new publication reaches it only.
    let r = tab1.publish(None, None, Some(&doc)).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(
        notify(&mut tab2, &s2, &ok2).await.body_str(),
        Some(doc.as_str())
    );
    let ping = tab1
        .base(
            Method::Options,
            "sip:imsip.test",
            "<sip:imsip.test>",
            &unique("o"),
        )
        .build();
    let r = tab1.call(&ping).await;
    assert_eq!(r.status(), Some(200));
    assert!(
        tab1.inbox.is_empty(),
        "no NOTIFY for the ended subscription"
    );
}

#[tokio::test]
async fn other_packages_and_other_aors_are_refused() {
    let core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;
    let aor = alice.aor.clone();
    let contact = alice.contact();
    let req = alice
        .base(Method::Subscribe, &aor, &format!("<{aor}>"), &unique("s"))
        .header("Event", "presence")
        .header("Contact", contact.clone())
        .build();
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(489));
    assert!(r
        .header("Allow-Events")
        .unwrap()
        .contains("service-settings"));

    let req = alice
        .base(
            Method::Subscribe,
            "sip:bob@imsip.test",
            "<sip:bob@imsip.test>",
            &unique("s"),
        )
        .header("Event", "service-settings")
        .header("Contact", contact)
        .build();
    assert_eq!(alice.call(&req).await.status(), Some(403));
}
