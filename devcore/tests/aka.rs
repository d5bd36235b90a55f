//! Registrar: IMS AKA (AKAv1-MD5, AKAv2-MD5) for carol, AUTS
//! resynchronisation, the SQN kept across restarts.

mod common;

use common::*;
use imsip::auth::{
    decode_nonce, AkaKeys, AkaVersion, Authorization, Challenge, Credentials, Key, OpOrOpc,
    SessionState,
};
use imsip::message::Method;

fn carol_keys() -> AkaKeys {
    AkaKeys {
        k: Key::from_hex("465b5ce8b199b49faa5f0a2ee238a6bc").unwrap(),
        op_or_opc: OpOrOpc::Op(Key::from_hex("cdc202d5123e20f62b6d676ac72cb318").unwrap()),
        amf: [0xb9, 0xb9],
    }
}

fn carol(last_sqn: u64) -> Credentials {
    Credentials::aka("carol@imsip.test", carol_keys(), last_sqn)
}

/// The IMS initial REGISTER (empty Authorization) of carol.
fn initial_register(ua: &mut Ua) -> imsip::message::Message {
    let call_id = ua.reg_call_id.clone();
    let contact = ua.contact();
    let initial = Authorization::ims_initial("carol@imsip.test", "imsip.test");
    ua.base(
        Method::Register,
        "sip:imsip.test",
        "<sip:carol@imsip.test>",
        &call_id,
    )
    .header("Contact", contact)
    .header("Expires", 3600)
    .header(initial.header_name(), initial.to_header_value())
    .build()
}

#[tokio::test]
async fn seed_flow_aka_user() {
    let core = start().await;
    let mut ua = core.ua("carol", carol(0)).await;
    let req = initial_register(&mut ua);
    let r = ua.call(&req).await;
    assert_eq!(r.status(), Some(401), "{r}");
    let ch = r.www_authenticate().unwrap();
    let c = Challenge::parse(&ch[0]).unwrap();
    assert_eq!(c.algorithm.aka, Some(AkaVersion::V1));
    assert_eq!(c.algorithm_token.as_deref(), Some("AKAv1-MD5"));
    let nonce = decode_nonce(&c.nonce).unwrap();
    assert_eq!(nonce.autn[6..8], [0xb9, 0xb9], "AMF in AUTN");
    ua.auth.on_challenge(&ch, false).unwrap();
    let req = ua.register_request(3600);
    let r = ua.call(&req).await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(
        r.p_associated_uri().unwrap()[0].uri.as_str(),
        "sip:carol@imsip.test"
    );
    assert_eq!(ua.auth.aka_sqn(), Some(1));

    // carol publishes like anyone else.
    let doc = settings_doc("sip:carol@imsip.test", false);
    let req = publish(&mut ua, None, None, Some(&doc));
    assert_eq!(ua.call(&req).await.status(), Some(200));
}

#[tokio::test]
async fn akav2_preferred_when_offered() {
    let core = start_with(|c| c.aka_versions = vec![AkaVersion::V1, AkaVersion::V2]).await;
    let mut ua = core.ua("carol", carol(0)).await;
    let req = ua.register_request(3600);
    let r = ua.call(&req).await;
    let ch = r.www_authenticate().unwrap();
    assert_eq!(ch.len(), 2);
    ua.auth.on_challenge(&ch, false).unwrap();
    assert_eq!(
        ua.auth.challenge().unwrap().algorithm.aka,
        Some(AkaVersion::V2)
    );
    let req = ua.register_request(3600);
    assert_eq!(ua.call(&req).await.status(), Some(200));
}

#[tokio::test]
async fn wrong_aka_key_is_refused() {
    let core = start().await;
    let mut keys = carol_keys();
    keys.op_or_opc = OpOrOpc::Opc(Key::new([7; 16]));
    let mut ua = core
        .ua("carol", Credentials::aka("carol@imsip.test", keys, 0))
        .await;
    let req = ua.register_request(3600);
    let r = ua.call(&req).await;
    // A USIM with other keys finds MAC-A wrong: it never answers.
    let err = ua
        .auth
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap_err();
    assert_eq!(err, imsip::auth::AuthError::NetworkAuthFailed);
}

#[tokio::test]
async fn auts_resynchronisation_and_sqn_persisted() {
    let mut core = start().await;
    // The USIM is ahead of the network (SQN_MS = 1000): sync failure, AUTS.
    let mut ua = core.ua("carol", carol(1000)).await;
    let req = ua.register_request(3600);
    let r = ua.call(&req).await;
    ua.auth
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap();
    let req = ua.register_request(3600);
    assert!(req.header("Authorization").unwrap().contains("auts="));
    assert_eq!(ua.auth.state(), SessionState::Resyncing);
    let r = ua.call(&req).await;
    assert_eq!(r.status(), Some(401), "fresh challenge after AUTS: {r}");
    ua.auth
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap();
    let req = ua.register_request(3600);
    assert_eq!(ua.call(&req).await.status(), Some(200));
    let sqn = ua.auth.aka_sqn().unwrap();
    assert_eq!(sqn, 1001);

    // After a restart on the same database the next SQN is fresher still:
    // a USIM at 1001 answers at once, without resynchronisation.
    core.restart().await;
    let mut ua = core.ua("carol", carol(sqn)).await;
    let req = ua.register_request(3600);
    let r = ua.call(&req).await;
    ua.auth
        .on_challenge(&r.www_authenticate().unwrap(), false)
        .unwrap();
    let req = ua.register_request(3600);
    assert_eq!(ua.auth.state(), SessionState::Answered);
    assert_eq!(ua.call(&req).await.status(), Some(200));
    assert_eq!(ua.auth.aka_sqn(), Some(1002));
}
