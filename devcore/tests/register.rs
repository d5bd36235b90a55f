//! Registrar: digest challenges, the seed flow, failures, stale nonces, nc
//! replay, expiry rules.

mod common;

use common::*;
use imsip::auth::{Algorithm, Authorization, Challenge, Credentials, Hash};
use imsip::message::Method;
use std::time::Duration;

#[tokio::test]
async fn seed_flow_digest_user() {
    let core = start().await;
    let mut alice = core.alice().await;

    // REGISTER → 401 with an MD5 qop=auth challenge.
    let req = alice.register_request(3600);
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(401), "{r}");
    assert_eq!(r.call_id().unwrap(), alice.reg_call_id);
    assert_eq!(r.cseq().unwrap().seq, 1);
    assert!(r.to().unwrap().tag().is_some());
    let ch = r.www_authenticate().unwrap();
    assert_eq!(ch.len(), 1);
    let c = Challenge::parse(&ch[0]).unwrap();
    assert_eq!(c.realm, "imsip.test");
    assert_eq!(c.algorithm, Algorithm::MD5);
    assert_eq!(c.qop.len(), 1);
    assert!(!c.stale);
    alice.auth.on_challenge(&ch, false).unwrap();

    // REGISTER with Authorization → 200 as an IMS S-CSCF answers.
    let req = alice.register_request(3600);
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(200), "{r}");
    let contacts = r.contact_list().unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].uri.as_str(), alice.contact_uri);
    assert_eq!(contacts[0].expires(), Some(3600));
    assert_eq!(contacts[0].instance(), Some(alice.instance.as_str()));
    assert_eq!(contacts[0].reg_id(), Some(1));
    let sr = r.service_route().unwrap();
    assert_eq!(sr[0].uri.as_str(), "sip:orig@scscf.imsip.test;lr");
    let pau = r.p_associated_uri().unwrap();
    assert_eq!(pau[0].uri.as_str(), "sip:alice@imsip.test");

    // PUBLISH service-settings over the registered flow → 200 with SIP-ETag.
    let doc = settings_doc("sip:alice@imsip.test", true);
    let req = publish(&mut alice, Some(3600), None, Some(&doc));
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert!(r.sip_etag().unwrap().is_some_and(|t| !t.is_empty()));
    assert_eq!(r.expires().unwrap(), Some(3600));
    assert_eq!(r.server(), Some("IM-serv/OMA1.0"));
    assert_eq!(
        r.p_asserted_identity().unwrap()[0].uri.as_str(),
        "sip:IM-Server@imsip.test"
    );
}

#[tokio::test]
async fn ims_initial_register_is_challenged() {
    let core = start().await;
    let mut alice = core.alice().await;
    let call_id = alice.reg_call_id.clone();
    let contact = alice.contact();
    let initial = Authorization::ims_initial("alice@imsip.test", "imsip.test");
    let req = alice
        .base(
            Method::Register,
            "sip:imsip.test",
            "<sip:alice@imsip.test>",
            &call_id,
        )
        .header("Contact", contact)
        .header("Expires", 3600)
        .header(initial.header_name(), initial.to_header_value())
        .build();
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(401), "{r}");
    alice
        .auth
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap();
    let req = alice.register_request(3600);
    assert_eq!(alice.call(&req).await.status(), Some(200));
}

#[tokio::test]
async fn several_digest_algorithms() {
    let core = start_with(|c| {
        c.digest_algorithms = vec![
            Algorithm::parse("SHA-512-256").unwrap(),
            Algorithm::parse("SHA-256").unwrap(),
            Algorithm::MD5,
        ]
    })
    .await;
    let mut bob = core.bob().await;
    let req = bob.register_request(3600);
    let r = bob.call(&req).await;
    assert_eq!(r.status(), Some(401));
    let algs: Vec<Hash> = r
        .www_authenticate()
        .unwrap()
        .iter()
        .map(|v| Challenge::parse(v).unwrap().algorithm.hash)
        .collect();
    assert_eq!(algs, [Hash::Sha512_256, Hash::Sha256, Hash::Md5]);
    bob.auth
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap();
    assert_eq!(
        bob.auth.challenge().unwrap().algorithm.hash,
        Hash::Sha512_256
    );
    let req = bob.register_request(3600);
    assert_eq!(bob.call(&req).await.status(), Some(200));

    // An MD5-only client (HA1 credentials) answers the MD5 challenge.
    let ha1 = Hash::Md5.hex(&[b"alice@imsip.test", b"imsip.test", b"alice-secret"]);
    let mut alice = core
        .ua("alice", Credentials::ha1("alice@imsip.test", &ha1))
        .await;
    assert_eq!(alice.register_for(3600).await.status(), Some(200));
}

#[tokio::test]
async fn wrong_password_then_forbidden() {
    let core = start().await;
    let mut bob = core
        .ua("bob", Credentials::password("bob@imsip.test", "wrong"))
        .await;
    let req = bob.register_request(3600);
    let mut r = bob.call(&req).await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        assert_eq!(r.status(), Some(401), "{r}");
        // A fresh session each time: DigestSession gives up after one refusal.
        bob.auth.reset();
        bob.auth
            .on_challenge(&r.www_authenticate().unwrap(), false)
            .unwrap();
        let req = bob.register_request(3600);
        r = bob.call(&req).await;
        statuses.push(r.status().unwrap());
    }
    assert_eq!(statuses, [401, 401, 403]);

    // The right password afterwards works (the count restarts).
    let mut good = core.bob().await;
    assert_eq!(good.register_for(3600).await.status(), Some(200));
}

#[tokio::test]
async fn unknown_user_is_forbidden() {
    let core = start().await;
    let mut mallory = core
        .ua("mallory", Credentials::password("mallory@imsip.test", "x"))
        .await;
    let req = mallory.register_request(3600);
    assert_eq!(mallory.call(&req).await.status(), Some(403));
}

#[tokio::test]
async fn expired_nonce_is_stale() {
    let core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;
    // The nonce outlives its lifetime on devcore's clock; the test does not
    // wait for it.
    core.advance_clock(core.config.nonce_ttl + Duration::from_secs(1));
    // The session reuses the nonce (nc=2): right credentials, expired nonce.
    let req = alice.register_request(3600);
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(401), "{r}");
    let ch = r.www_authenticate().unwrap();
    assert!(Challenge::parse(&ch[0]).unwrap().stale);
    alice.auth.on_challenge(&ch, false).unwrap();
    let req = alice.register_request(3600);
    assert_eq!(alice.call(&req).await.status(), Some(200));
}

#[tokio::test]
async fn nonce_count_replay_is_challenged() {
    let core = start().await;
    let mut alice = core.alice().await;
    alice.register().await;
    // Proactive credentials: same nonce, nc=2.
    let req = alice.register_request(3600);
    let auth = req.header("Authorization").unwrap().to_owned();
    assert!(auth.contains("nc=00000002"), "{auth}");
    assert_eq!(alice.call(&req).await.status(), Some(200));
    // The same Authorization again (nc=2 replayed) on a new request.
    let call_id = alice.reg_call_id.clone();
    let contact = alice.contact();
    let replay = alice
        .base(
            Method::Register,
            "sip:imsip.test",
            "<sip:alice@imsip.test>",
            &call_id,
        )
        .header("Contact", contact)
        .header("Expires", 3600)
        .header("Authorization", &auth)
        .build();
    let r = alice.call(&replay).await;
    assert_eq!(r.status(), Some(401), "{r}");
    let c = Challenge::parse(&r.www_authenticate().unwrap()[0]).unwrap();
    assert!(!c.stale);
}

#[tokio::test]
async fn expiry_rules_and_removal() {
    let core = start().await;
    let mut alice = core.alice().await;
    assert_eq!(alice.register_for(30).await.status(), Some(423));
    let req = alice.register_request(30);
    let r = alice.call(&req).await;
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.min_expires().unwrap(), Some(60));

    let r = alice.register_for(120).await;
    assert_eq!(r.status(), Some(200));
    assert_eq!(r.contact_list().unwrap()[0].expires(), Some(120));

    // A second contact of the same AoR (another tab) is listed too.
    let mut tab2 = core.alice().await;
    let r = tab2.register().await;
    assert_eq!(r.contact_list().unwrap().len(), 2);

    // Expires 0 removes this tab's binding only.
    let r = alice.register_for(0).await;
    assert_eq!(r.status(), Some(200));
    let left = r.contact_list().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].uri.as_str(), tab2.contact_uri);

    // Contact: * with Expires: 0 removes all.
    let call_id = tab2.reg_call_id.clone();
    let mut b = tab2
        .base(
            Method::Register,
            "sip:imsip.test",
            "<sip:alice@imsip.test>",
            &call_id,
        )
        .header("Contact", "*")
        .header("Expires", 0);
    if let Some((n, v)) = tab2.credentials("REGISTER", "sip:imsip.test", b"") {
        b = b.header(n.as_str(), v);
    }
    let r = tab2.call(&b.build()).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert!(r.contact_list().unwrap().is_empty());
}
