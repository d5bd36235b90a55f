//! The IM Server policy's unit tests, on the in-memory store: the settings
//! here, what a MESSAGE carries (chat, notifications, typing) in `chat.rs`.
use super::*;
use crate::message_store::MessageStore;
use crate::store::{MemoryStore, Store};
use crate::testing::{request, Kit};
use imsip::message::Method;

fn settings(store: &mut MemoryStore, aor: &str, inner: &str) {
    let doc = format!(
        "<service-settings xmlns=\"urn:oma:xml:im:service-settings\"><entity id=\"{aor}\">{inner}</entity></service-settings>"
    );
    let p = crate::store::Publication {
        content_type: "application/service-settings+xml".into(),
        document: doc.into_bytes(),
        etag: "e".into(),
        expires_at: u64::MAX / 2,
    };
    store.put_publication(aor, "service-settings", &p).unwrap();
}

#[test]
fn barring_refuses_with_403_and_a_warning_online_or_not() {
    let kit = Kit::new();
    let bob = kit.user("sip:bob@imsip.test");
    let req = request(
        Method::Message,
        "sip:bob@imsip.test",
        "sip:alice@imsip.test",
        1,
    )
    .build();
    let mut store = MemoryStore::default();
    settings(
        &mut store,
        "sip:bob@imsip.test",
        "<isb-settings><incoming-session-barring active=\"true\"/></isb-settings><deferred-settings><offline-delivery active=\"true\"/></deferred-settings>",
    );
    for online in [true, false] {
        let d = ImServer::default().on_incoming(
            &Incoming {
                sender: "sip:alice@imsip.test",
                recipient: &bob,
                request: &req,
                content: &MessageContent::of(&req),
                online,
                now: kit.now,
            },
            &mut store,
        );
        assert_eq!(
            d,
            Disposition::Refuse {
                status: 403,
                reason: "Forbidden (incoming session barring)".into(),
                warning: Some("incoming session barring active".into()),
            }
        );
    }
    assert!(store.deferred_for("sip:bob@imsip.test").unwrap().is_empty());
}

#[test]
fn offline_delivery_stores_up_to_the_limits_and_keeps_the_senders_history() {
    let kit = Kit::new();
    let bob = kit.user("sip:bob@imsip.test");
    let req = request(
        Method::Message,
        "sip:bob@imsip.test",
        "sip:alice@imsip.test",
        1,
    )
    .body(Some("text/plain"), "hello")
    .build();
    let mut store = MemoryStore::default();
    settings(
        &mut store,
        "sip:bob@imsip.test",
        "<deferred-settings><offline-delivery active=\"1\"/></deferred-settings>",
    );
    settings(
        &mut store,
        "sip:alice@imsip.test",
        "<hist-settings><hist-activation active=\"true\"/></hist-settings>",
    );
    let mut im = ImServer::new(DeferredLimits {
        max_count: 2,
        ..DeferredLimits::default()
    });
    let content = MessageContent::of(&req);
    let incoming = Incoming {
        sender: "sip:alice@imsip.test",
        recipient: &bob,
        request: &req,
        content: &content,
        online: false,
        now: kit.now,
    };
    assert_eq!(im.on_incoming(&incoming, &mut store), Disposition::Store);
    assert_eq!(im.on_incoming(&incoming, &mut store), Disposition::Store);
    assert!(matches!(
        im.on_incoming(&incoming, &mut store),
        Disposition::Refuse {
            status: 480,
            warning: Some(_),
            ..
        }
    ));
    let kept = store.deferred_for("sip:bob@imsip.test").unwrap();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].body, b"hello");
    assert_eq!(kept[0].sender, "sip:alice@imsip.test");
    let h = store
        .history("sip:alice@imsip.test", &HistoryQuery::default())
        .unwrap();
    assert_eq!(h.len(), 2, "alice's history keeps what she sent");
    assert_eq!(h[0].direction, Direction::Sent);
    assert!(store
        .history("sip:bob@imsip.test", &HistoryQuery::default())
        .unwrap()
        .is_empty());
}

#[test]
fn without_settings_a_message_is_relayed_or_480() {
    let kit = Kit::new();
    let bob = kit.user("sip:bob@imsip.test");
    let req = request(
        Method::Message,
        "sip:bob@imsip.test",
        "sip:alice@imsip.test",
        1,
    )
    .build();
    let mut store = MemoryStore::default();
    let mut im = ImServer::default();
    let content = MessageContent::of(&req);
    let d = |online| Incoming {
        sender: "sip:alice@imsip.test",
        recipient: &bob,
        request: &req,
        content: &content,
        online,
        now: kit.now,
    };
    assert_eq!(im.on_incoming(&d(true), &mut store), Disposition::Relay);
    assert!(matches!(
        im.on_incoming(&d(false), &mut store),
        Disposition::Refuse { status: 480, .. }
    ));
}

mod chat;
