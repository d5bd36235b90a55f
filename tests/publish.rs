//! Publisher (RFC 3903; the seed's flow D.1 steps 5–8) and the publish policy.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::*;
use imsip::message::Method;
use imsip::settings::{Entity, ServiceSettings};
use imsip::ua::{
    Event, Outcome, PolicyOutcome, PublicationState, PublishPolicy, SettingsSource, UaError,
};

fn settings(isb: bool) -> ServiceSettings {
    let mut e = Entity::new(ALICE);
    e.incoming_session_barring = Some(isb);
    e.visibility = Some(true);
    ServiceSettings {
        entities: vec![e],
        ..Default::default()
    }
}

#[test]
fn seed_publish_carries_the_oma_headers() {
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), None);
    h.pump();
    let Outcome::Published { etag, expires } = h.ok(op) else {
        panic!()
    };
    assert_eq!((etag.as_str(), expires), ("e1", 3600));
    let p = &h.sent_requests(Method::Publish)[0];
    assert_eq!(p.request_uri().unwrap().as_str(), ALICE);
    assert_eq!(p.event().unwrap().unwrap().value, "service-settings");
    assert!(p
        .content_type()
        .unwrap()
        .unwrap()
        .is("application/service-settings+xml"));
    let ac = &p.accept_contact().unwrap()[0];
    assert!(
        ac.params.has("+g.oma.sip-im") && ac.params.has("require") && ac.params.has("explicit")
    );
    assert_eq!(p.p_preferred_identity().unwrap()[0].uri.as_str(), ALICE);
    assert_eq!(p.expires().unwrap(), Some(3600));
    assert!(p.user_agent().unwrap().starts_with("IM-client/OMA1.0"));
    assert_eq!(
        p.route().unwrap()[0].uri.as_str(),
        "sip:orig@scscf.imsip.test;lr",
        "Service-Route as Route (RFC 3608)"
    );
    assert!(p.sip_if_match().unwrap().is_none());
    assert_eq!(ServiceSettings::decode(p.body()).unwrap(), settings(true));
    assert_eq!(
        h.core.settings.as_ref().unwrap().0,
        "e1",
        "the IM server stored it"
    );
}

#[test]
fn refresh_modify_remove_lifecycle() {
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), Some(600));
    h.pump();
    h.ok(op);
    // Refresh before expiry: no body, SIP-If-Match.
    h.run_for(590_000);
    let pubs = h.sent_requests(Method::Publish);
    assert_eq!(pubs.len(), 2);
    assert!(pubs[1].body().is_empty());
    assert_eq!(pubs[1].sip_if_match().unwrap().as_deref(), Some("e1"));
    // Modify: body + If-Match of the refreshed tag.
    let op = h.ua.publish_settings(h.now, &settings(false), None);
    h.pump();
    let Outcome::Published { etag, .. } = h.ok(op) else {
        panic!()
    };
    assert_eq!(etag, "e3");
    let pubs = h.sent_requests(Method::Publish);
    assert_eq!(pubs[2].sip_if_match().unwrap().as_deref(), Some("e2"));
    assert!(!pubs[2].body().is_empty());
    // Remove: Expires 0 + If-Match.
    let op = h.ua.remove_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Removed);
    let last = h.sent_requests(Method::Publish).pop().unwrap();
    assert_eq!(last.expires().unwrap(), Some(0));
    assert_eq!(last.sip_if_match().unwrap().as_deref(), Some("e3"));
    assert!(h.core.settings.is_none());
    // Nothing left to remove.
    let op = h.ua.remove_settings(h.now);
    h.pump();
    assert_eq!(h.err(op).code(), "invalid_state");
}

#[test]
fn precondition_failed_starts_again_with_an_initial_publish() {
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), None);
    h.pump();
    h.ok(op);
    // The server lost our entity-tag.
    h.core.settings = Some(("other".into(), settings(false).encode()));
    let op = h.ua.publish_settings(h.now, &settings(false), None);
    h.pump();
    let Outcome::Published { .. } = h.ok(op) else {
        panic!()
    };
    let pubs = h.sent_requests(Method::Publish);
    assert_eq!(pubs.len(), 3, "initial, modify → 412, initial again");
    assert!(pubs[2].sip_if_match().unwrap().is_none());
    assert!(!pubs[2].body().is_empty());
}

#[test]
fn a_remove_answered_412_is_removed_like_its_200() {
    // RFC 3903 §4.3: 412 to a remove says the server has no such entity: what
    // the remove wanted. The app hears `removed` as after a 200, and a later
    // modify answered 412 is still recovered (the remove did not use it up).
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), None);
    h.pump();
    h.ok(op);
    h.core.settings = Some(("other".into(), settings(false).encode()));
    let op = h.ua.remove_settings(h.now);
    h.pump();
    assert_eq!(h.ok(op), Outcome::Removed);
    assert_eq!(
        h.publication_events().last().map(|p| p.state),
        Some(PublicationState::Removed)
    );
    assert_eq!(h.sent_requests(Method::Publish).len(), 2, "no retry");

    let op = h.ua.publish_settings(h.now, &settings(true), None);
    h.pump();
    h.ok(op);
    h.core.settings = Some(("lost".into(), settings(false).encode()));
    let op = h.ua.publish_settings(h.now, &settings(false), None);
    h.pump();
    let Outcome::Published { .. } = h.ok(op) else {
        panic!()
    };
    let pubs = h.sent_requests(Method::Publish);
    assert_eq!(pubs.len(), 5, "initial, modify → 412, initial again");
    assert!(pubs[4].sip_if_match().unwrap().is_none());
}

#[test]
fn unsupported_event_package_is_a_typed_failure() {
    let mut h = registered();
    h.core.behaviour.settings_status = Some(489);
    let op = h.ua.publish_settings(h.now, &settings(true), None);
    h.pump();
    assert_eq!(
        h.err(op),
        UaError::UnsupportedEvent {
            package: "service-settings".into(),
            status: 489
        }
    );
}

#[test]
fn policy_if_absent_publishes_when_the_server_has_none() {
    let mut cfg = alice_config();
    cfg.publish_policy = PublishPolicy::IfAbsent;
    cfg.service_settings = Some(settings(true));
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    let subs = h.sent_requests(Method::Subscribe);
    assert_eq!(subs.len(), 1, "fetch first");
    assert_eq!(subs[0].expires().unwrap(), Some(0));
    assert_eq!(h.sent_requests(Method::Publish).len(), 1);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::Policy(PolicyOutcome::Published { .. }))));
}

#[test]
fn policy_if_absent_adopts_settings_another_client_published() {
    let mut cfg = alice_config();
    cfg.publish_policy = PublishPolicy::IfAbsent;
    cfg.service_settings = Some(settings(true));
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    h.core.settings = Some(("x1".into(), settings(false).encode()));
    let op = h.register();
    h.ok(op);
    assert_eq!(
        h.sent_requests(Method::Publish).len(),
        0,
        "never overwrite another client's settings"
    );
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::Policy(PolicyOutcome::Adopted))));
    assert!(h.events.iter().any(|e| matches!(e, Event::ServiceSettings { settings: s, source: SettingsSource::Adopted } if *s == settings(false))));
    assert_eq!(h.ua.current_settings(), Some(&settings(false)));
}

#[test]
fn policy_failure_never_fails_the_registration() {
    let mut cfg = alice_config();
    cfg.publish_policy = PublishPolicy::IfAbsent;
    cfg.service_settings = Some(settings(true));
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    h.core.behaviour.settings_status = Some(489);
    let op = h.register();
    assert!(matches!(h.ok(op), Outcome::Registered(_)));
    assert!(h.events.iter().any(|e| matches!(
        e,
        Event::Policy(PolicyOutcome::Failed(UaError::UnsupportedEvent { .. }))
    )));
}

#[test]
fn policy_always_publishes_after_registering() {
    let mut cfg = alice_config();
    cfg.publish_policy = PublishPolicy::Always;
    cfg.service_settings = Some(settings(true));
    let mut h = Harness::new(cfg, FakeCore::with_password("alice-secret"));
    let op = h.register();
    h.ok(op);
    assert_eq!(h.sent_requests(Method::Subscribe).len(), 0);
    assert_eq!(h.sent_requests(Method::Publish).len(), 1);
}

#[test]
fn a_refresh_answered_500_is_retried_before_the_entity_expires() {
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), Some(600));
    h.pump();
    h.ok(op);
    h.core.behaviour.publish_script.push_back(500);
    h.run_until_sent(Method::Publish); // the refresh at 80 %, answered 500
    h.run_for(5_000);
    let states: Vec<_> = h.publication_events().iter().map(|p| p.state).collect();
    use imsip::ua::PublicationState::*;
    assert_eq!(states, [Published, Retrying, Published], "{states:?}");
    let publishes = h.sent_requests(Method::Publish);
    assert_eq!(publishes.len(), 3);
    assert_eq!(
        Harness::header(&publishes[2], "SIP-If-Match"),
        "e1",
        "a refresh, not a new document"
    );
    assert!(h.core.settings.is_some(), "the server still holds it");
}

#[test]
fn a_publication_whose_refreshes_fail_until_expiry_is_reported_lost() {
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), Some(60));
    h.pump();
    h.ok(op);
    for _ in 0..100 {
        h.core.behaviour.publish_script.push_back(503);
    }
    h.run_for(120_000);
    let events = h.publication_events();
    let last = events.last().unwrap();
    assert_eq!(last.state, imsip::ua::PublicationState::Lost, "{events:?}");
    assert!(last.error.is_some());
    let n = h.sent_requests(Method::Publish).len();
    assert!(n >= 3, "retried meanwhile: {n}");
    h.run_for(3_600_000);
    assert_eq!(
        h.sent_requests(Method::Publish).len(),
        n,
        "then nothing more"
    );
}

#[test]
fn a_remove_in_flight_when_the_flow_drops_is_not_turned_into_a_refresh() {
    let mut h = registered();
    let op = h.ua.publish_settings(h.now, &settings(true), None);
    h.pump();
    h.ok(op);
    h.core.behaviour.silent = true;
    let rm = h.ua.remove_settings(h.now);
    h.pump();
    h.core.behaviour.silent = false;
    h.drop_connection();
    assert_eq!(h.err(rm), UaError::Transport);
    h.run_for(5_000);
    let publishes = h.sent_requests(Method::Publish);
    let last = publishes.last().unwrap();
    assert_eq!(
        Harness::header(last, "Expires"),
        "0",
        "the remove is sent again once registered"
    );
    assert!(h.core.settings.is_none());
    assert!(publishes
        .iter()
        .skip(1)
        .all(|p| Harness::header(p, "Expires") == "0"));
}
