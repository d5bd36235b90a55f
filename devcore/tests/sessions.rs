//! Session proxy, RFC 3261 §16: INVITE relayed between two registered
//! clients with devcore's Record-Route; provisional and final answers back;
//! ACK and BYE routed by the route set; CANCEL; 486, 403 (barring), 480, 404.

mod common;

use common::*;
use imsip::message::{Message, MessageBuilder, Method};

const BOB: &str = "sip:bob@imsip.test";
const SDP_OFFER: &str =
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\n";

/// An INVITE from `ua` to `to` (the Route its Service-Route gives it, its
/// Contact, an SDP offer).
fn invite(ua: &mut Ua, to: &str) -> Message {
    let call_id = unique("inv-");
    let contact = format!("<{};ob>", ua.contact_uri);
    ua.base(Method::Invite, to, &format!("<{to}>"), &call_id)
        .header("Route", "<sip:orig@scscf.imsip.test;lr>")
        .header("Contact", contact)
        .body(Some("application/sdp"), SDP_OFFER)
        .build()
}

/// The callee's answer to `req` with To tag `tag` and its Contact; the
/// Record-Route of the request copied as RFC 3261 §12.1.1 asks.
fn answer(ua: &Ua, req: &Message, status: u16, reason: &str, tag: &str) -> Message {
    let mut b = MessageBuilder::reply(req, status, reason, Some(tag));
    for rr in req.header_all("Record-Route") {
        b.push_header("Record-Route", rr);
    }
    b.push_header("Contact", format!("<{};ob>", ua.contact_uri));
    b.build()
}

/// A request inside the dialog of `resp` (the 2xx of `inv`, from the
/// caller's side): Request-URI the callee's Contact, Route the reversed
/// Record-Route (RFC 3261 §12.1.2), CSeq `seq`.
fn in_dialog(inv: &Message, resp: &Message, method: Method, seq: u32) -> Message {
    let target = resp.contact_list().unwrap().remove(0).uri;
    let mut b = MessageBuilder::request(method.clone(), target)
        .header(
            "Via",
            format!("SIP/2.0/WS a.invalid;branch=z9hG4bK{}", unique("d")),
        )
        .header("Max-Forwards", 70)
        .header("From", inv.header("From").unwrap())
        .header("To", resp.header("To").unwrap())
        .header("Call-ID", inv.call_id().unwrap())
        .header("CSeq", format!("{seq} {method}"));
    let mut rr = resp.record_route().unwrap();
    rr.reverse();
    for r in rr {
        b.push_header("Route", r);
    }
    b.build()
}

async fn two_clients() -> (TestCore, Ua, Ua) {
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    (core, alice, bob)
}

#[tokio::test]
async fn invite_rings_answers_and_ack_and_bye_go_through_devcore() {
    let (core, mut alice, mut bob) = two_clients().await;
    let inv = invite(&mut alice, BOB);
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100), "Trying at once");

    let got = bob.request().await;
    assert_eq!(got.method(), Some(&Method::Invite));
    assert_eq!(got.request_uri().unwrap().as_str(), bob.contact_uri);
    assert_eq!(got.body_str(), Some(SDP_OFFER));
    assert_eq!(got.via().unwrap().len(), 2);
    assert!(
        got.header("Route").is_none(),
        "the Service-Route is consumed"
    );
    let ours = format!("<sip:{};transport=ws;lr>", core.addr);
    assert_eq!(got.header("Record-Route"), Some(ours.as_str()));
    assert_eq!(
        got.p_asserted_identity().unwrap()[0].uri.as_str(),
        "sip:alice@imsip.test"
    );

    let tag = unique("bt");
    bob.send(&answer(&bob, &got, 180, "Ringing", &tag)).await;
    let ringing = alice.response().await;
    assert_eq!(ringing.status(), Some(180), "{ringing}");
    assert_eq!(ringing.via().unwrap(), vias_as_received(&inv));

    bob.send(&answer(&bob, &got, 200, "OK", &tag)).await;
    let ok = alice.response().await;
    assert_eq!(ok.status(), Some(200), "{ok}");
    assert_eq!(ok.header("Record-Route"), Some(ours.as_str()));
    assert_eq!(ok.to().unwrap().tag(), Some(tag.as_str()));

    let ack = in_dialog(&inv, &ok, Method::Ack, 1);
    alice.send(&ack).await;
    let got_ack = bob.request().await;
    assert_eq!(got_ack.method(), Some(&Method::Ack));
    assert_eq!(
        got_ack.request_uri().unwrap().as_str(),
        format!("{};ob", bob.contact_uri)
    );
    assert!(got_ack.header("Route").is_none(), "our Route is consumed");
    assert_eq!(got_ack.via().unwrap().len(), 2);

    let bye = in_dialog(&inv, &ok, Method::Bye, 2);
    alice.send(&bye).await;
    let got_bye = bob.request().await;
    assert_eq!(got_bye.method(), Some(&Method::Bye));
    bob.answer(&got_bye, 200, "OK").await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(200), "{r}");
    assert_eq!(r.cseq().unwrap().method, Method::Bye);
    assert_eq!(r.via().unwrap(), vias_as_received(&bye));
}

#[tokio::test]
async fn the_callee_can_end_the_session_too() {
    let (_core, mut alice, mut bob) = two_clients().await;
    let inv = invite(&mut alice, BOB);
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100));
    let got = bob.request().await;
    let tag = unique("bt");
    bob.send(&answer(&bob, &got, 200, "OK", &tag)).await;
    let ok = alice.response().await;
    assert_eq!(ok.status(), Some(200));
    alice.send(&in_dialog(&inv, &ok, Method::Ack, 1)).await;
    assert_eq!(bob.request().await.method(), Some(&Method::Ack));

    // bob's BYE: to alice's Contact, along the Record-Route as received.
    let target: imsip::message::Uri = format!("{};ob", alice.contact_uri).parse().unwrap();
    let mut b = MessageBuilder::request(Method::Bye, target)
        .header(
            "Via",
            format!("SIP/2.0/WS b.invalid;branch=z9hG4bK{}", unique("d")),
        )
        .header("Max-Forwards", 70)
        .header("From", ok.header("To").unwrap())
        .header("To", inv.header("From").unwrap())
        .header("Call-ID", inv.call_id().unwrap())
        .header("CSeq", "1 BYE");
    for r in got.record_route().unwrap() {
        b.push_header("Route", r);
    }
    let bye = b.build();
    bob.send(&bye).await;
    let got_bye = alice.request().await;
    assert_eq!(got_bye.method(), Some(&Method::Bye));
    alice.answer(&got_bye, 200, "OK").await;
    assert_eq!(bob.response().await.status(), Some(200));
}

#[tokio::test]
async fn cancel_after_ringing_is_200_then_487() {
    let (_core, mut alice, mut bob) = two_clients().await;
    let inv = invite(&mut alice, BOB);
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100));
    let got = bob.request().await;
    let tag = unique("bt");
    bob.send(&answer(&bob, &got, 180, "Ringing", &tag)).await;
    assert_eq!(alice.response().await.status(), Some(180));

    // RFC 3261 §9.1: the CANCEL copies the INVITE's Via, Call-ID, From, To
    // and CSeq number.
    let cancel = MessageBuilder::request(Method::Cancel, inv.request_uri().unwrap().clone())
        .header("Via", inv.header("Via").unwrap())
        .header("Max-Forwards", 70)
        .header("From", inv.header("From").unwrap())
        .header("To", inv.header("To").unwrap())
        .header("Call-ID", inv.call_id().unwrap())
        .header("CSeq", format!("{} CANCEL", inv.cseq().unwrap().seq))
        .build();
    alice.send(&cancel).await;
    let r = alice.response().await;
    assert_eq!(
        (r.status(), r.cseq().unwrap().method),
        (Some(200), Method::Cancel)
    );

    let got_cancel = bob.request().await;
    assert_eq!(got_cancel.method(), Some(&Method::Cancel));
    assert_eq!(got_cancel.top_via().unwrap(), got.top_via().unwrap());
    bob.answer(&got_cancel, 200, "OK").await;
    bob.send(&answer(&bob, &got, 487, "Request Terminated", &tag))
        .await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(487), "{r}");
    assert_eq!(r.cseq().unwrap().method, Method::Invite);
    // devcore ACKs the 487 hop by hop.
    let ack = bob.request().await;
    assert_eq!(ack.method(), Some(&Method::Ack));
    assert_eq!(ack.top_via().unwrap(), got.top_via().unwrap());

    // A CANCEL nobody sent an INVITE for: 481.
    let mut stray = cancel.clone();
    stray = Message::parse(
        stray
            .to_string()
            .replace(
                &inv.top_via().unwrap().branch().unwrap().to_owned(),
                "z9hG4bKnone",
            )
            .as_bytes(),
    )
    .unwrap();
    alice.send(&stray).await;
    assert_eq!(alice.response().await.status(), Some(481));
}

#[tokio::test]
async fn busy_callee_gives_486_and_is_acked() {
    let (_core, mut alice, mut bob) = two_clients().await;
    let inv = invite(&mut alice, BOB);
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100));
    let got = bob.request().await;
    bob.send(&answer(&bob, &got, 486, "Busy Here", &unique("bt")))
        .await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(486), "{r}");
    assert_eq!(r.via().unwrap(), vias_as_received(&inv));
    assert_eq!(bob.request().await.method(), Some(&Method::Ack));
}

#[tokio::test]
async fn barred_offline_and_unknown_callees() {
    let core = start().await;
    let mut alice = core.alice().await;
    let mut bob = core.bob().await;
    alice.register().await;
    bob.register().await;
    let doc = settings_doc("sip:bob@imsip.test", true);
    assert_eq!(
        bob.publish(None, None, Some(&doc)).await.status(),
        Some(200)
    );

    let inv = invite(&mut alice, BOB);
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100));
    let r = alice.response().await;
    assert_eq!(r.status(), Some(403), "{r}");
    assert_eq!(
        r.header("Warning"),
        Some("399 imsip.test \"incoming session barring active\"")
    );

    // carol exists but is not registered.
    let inv = invite(&mut alice, "sip:carol@imsip.test");
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100));
    assert_eq!(alice.response().await.status(), Some(480));

    let inv = invite(&mut alice, "sip:nobody@imsip.test");
    alice.send(&inv).await;
    assert_eq!(alice.response().await.status(), Some(100));
    assert_eq!(alice.response().await.status(), Some(404));
}

#[tokio::test]
async fn a_request_in_no_dialog_of_devcore_is_481_and_reaches_no_one() {
    // A To tag and devcore's own Route make a request look in-dialog: without a
    // dialog set up through devcore between the sender's AoR and the target it
    // would go to any flow with any From, past authentication and barring.
    let (core, mut alice, mut bob) = two_clients().await;
    let route = format!("<sip:{};transport=ws;lr>", core.addr);
    let forged = alice
        .base(
            Method::Message,
            &bob.contact_uri.clone(),
            &format!("<{BOB}>;tag=forged"),
            &unique("forged-"),
        )
        .header("Route", route)
        .body(Some("text/plain"), "from 'carol'")
        .build();
    alice.send(&forged).await;
    let r = alice.response().await;
    assert_eq!(r.status(), Some(481), "{r}");
    // Bob's next request is a real one: the forged MESSAGE never reached him.
    alice.message(BOB, "real").await;
    assert_eq!(bob.request().await.body_str(), Some("real"));
}
