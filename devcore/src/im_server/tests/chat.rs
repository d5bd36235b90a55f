//! The IM Server's rules for what a MESSAGE carries: chat content, disposition
//! notifications (RFC 5438) and composition indications (RFC 3994), stored or
//! not, in history or not, and the `stored` notification.
use super::*;
use imsip::im::cpim::{CpimAddress, CpimMessage};
use imsip::im::imdn::{Kind, Notification, Status, MESSAGE_IMDN_CONTENT_TYPE};

const ALICE: &str = "sip:alice@imsip.test";
const BOB: &str = "sip:bob@imsip.test";
const IMDN: &str = imsip::im::imdn::CPIM_NS;
const ISCOMPOSING_DOC: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<isComposing xmlns=\"urn:ietf:params:xml:ns:im-iscomposing\"><state>active</state></isComposing>";
/// 2026-11-29T23:05:00Z: the DateTime of the messages below.
const SENT_AT: u64 = 1_795_993_500;
/// [`SENT_AT`] as the CPIM `DateTime` writes it.
const SENT_AT_TEXT: &str = "2026-11-29T23:05:00Z";

/// A CPIM envelope from alice to bob around `body` of `content_type`, with
/// the IMDN headers bound to the prefix `x` (not the RFC's `imdn`: the
/// prefix is the sender's choice) when `dispositions` is given.
fn cpim(content_type: &str, body: impl Into<Vec<u8>>, dispositions: Option<&str>) -> Vec<u8> {
    let mut b = CpimMessage::new(
        CpimAddress::new(ALICE).with_display("Alice"),
        BOB,
        content_type,
        body,
    )
    .date_time(SENT_AT);
    if let Some(d) = dispositions {
        b = b.namespaced("x", IMDN, "Message-ID", "m-1").namespaced(
            "x",
            IMDN,
            "Disposition-Notification",
            d,
        );
    }
    b.encode().unwrap()
}

/// An IMDN notification (what bob's client sends back), in CPIM.
fn notification_body() -> Vec<u8> {
    let doc = Notification {
        message_id: "m-0".into(),
        date_time: SENT_AT_TEXT.into(),
        recipient_uri: Some(BOB.into()),
        original_recipient_uri: None,
        subject: None,
        kind: Kind::Delivery,
        status: Status::Delivered,
    };
    CpimMessage::new(BOB, ALICE, MESSAGE_IMDN_CONTENT_TYPE, doc.encode())
        .date_time(SENT_AT)
        .namespaced("imdn", IMDN, "Message-ID", "n-1")
        .content_header("Content-Disposition", "notification")
        .encode()
        .unwrap()
}

/// A MESSAGE from `from` to `to` with this Content-Type (none when empty) and body.
fn message(from: &str, to: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Message {
    let ct = (!content_type.is_empty()).then_some(content_type);
    request(Method::Message, to, from, 1).body(ct, body).build()
}

#[test]
fn content_is_read_from_the_content_type_and_the_cpim_envelope() {
    use ContentKind::*;
    let kind = |ct: &str, body: &[u8]| MessageContent::classify(ct, body).kind;
    assert_eq!(kind("text/plain;charset=UTF-8", b"hi"), Chat);
    assert_eq!(kind("", b"no type at all"), Chat);
    assert_eq!(kind("not a media type", b"?"), Chat);
    assert_eq!(
        kind("Message/IMDN+XML", b"<imdn/>"),
        DispositionNotification,
        "bare, any case"
    );
    assert_eq!(
        kind("application/im-iscomposing+xml", ISCOMPOSING_DOC.as_bytes()),
        ComposingIndication
    );
    assert_eq!(
        kind("message/cpim", &notification_body()),
        DispositionNotification
    );
    let wrapped = cpim("application/im-iscomposing+xml", ISCOMPOSING_DOC, None);
    assert_eq!(kind("Message/CPIM", &wrapped), ComposingIndication);
    assert_eq!(kind("message/cpim", &cpim("text/plain", "hi", None)), Chat);
    // A body that is no CPIM message at all (no empty lines, not UTF-8): chat
    // content, kept and relayed as it is.
    for junk in [
        &b""[..],
        b"\xff\xfe\x00garbage",
        b"From: <sip:a@b>\r\nno end",
    ] {
        assert_eq!(
            MessageContent::classify("message/cpim", junk),
            MessageContent {
                kind: Chat,
                imdn: None
            }
        );
    }

    let asked = MessageContent::classify(
        "message/cpim",
        &cpim("text/plain", "hi", Some("positive-delivery, Processing")),
    );
    assert_eq!(asked.kind, Chat);
    let imdn = asked.imdn.expect("an IMDN request through the x prefix");
    assert_eq!(imdn.message_id, "m-1");
    assert_eq!(imdn.date_time.as_deref(), Some(SENT_AT_TEXT));
    assert!(imdn.wants.processing && imdn.wants.positive_delivery && !imdn.wants.display);
    assert_eq!(imdn.sender.as_deref(), Some(ALICE));

    // The `imdn.` prefix bound to another namespace is not an IMDN header.
    let other = b"From: <sip:alice@imsip.test>\r\nTo: <sip:bob@imsip.test>\r\n\
        NS: imdn <urn:example:not-imdn>\r\nimdn.Message-ID: m-2\r\n\
        imdn.Disposition-Notification: processing\r\n\r\nContent-Type: text/plain\r\n\r\nhi";
    assert_eq!(MessageContent::classify("message/cpim", other).imdn, None);
    // Nothing asked, or no Message-ID to name the message by: no request.
    assert_eq!(
        MessageContent::classify("message/cpim", &cpim("text/plain", "hi", Some("bogus"))).imdn,
        None
    );
    let unnamed = CpimMessage::new(ALICE, BOB, "text/plain", "hi")
        .namespaced("imdn", IMDN, "Disposition-Notification", "processing")
        .encode()
        .unwrap();
    assert_eq!(
        MessageContent::classify("message/cpim", &unnamed).imdn,
        None
    );
    // A notification asking about itself is not answered (RFC 5438: nobody
    // requests notifications for a notification).
    let asking = CpimMessage::new(BOB, ALICE, MESSAGE_IMDN_CONTENT_TYPE, "<imdn/>")
        .date_time(SENT_AT)
        .namespaced("imdn", IMDN, "Message-ID", "n-2")
        .namespaced("imdn", IMDN, "Disposition-Notification", "processing")
        .encode()
        .unwrap();
    let n = MessageContent::classify("message/cpim", &asking);
    assert_eq!((n.kind, n.imdn), (DispositionNotification, None));
}

/// An ImServer test bed: bob has offline delivery on; both have history on;
/// `alice` is registered on a flow of her own, bob nowhere.
struct Bed {
    kit: Kit,
    reg: Registrar,
    im: ImServer,
    alice: ConnId,
}

fn register(kit: &mut Kit, reg: &mut Registrar, aor: &str) -> ConnId {
    let conn = kit.conn();
    let user = kit.user(aor);
    let contact = format!(
        "<sip:{}@h.invalid;transport=ws>;+sip.instance=\"<urn:uuid:{conn}>\";reg-id=1",
        conn
    );
    let req = request(Method::Register, "sip:imsip.test", aor, 1)
        .header("Contact", contact)
        .build();
    reg.on_register(&mut kit.cx(), conn, &req, &user);
    assert_eq!(kit.last(conn).status(), Some(200));
    conn
}

impl Bed {
    fn new() -> Bed {
        let mut kit = Kit::new();
        settings(
            &mut kit.store,
            BOB,
            "<deferred-settings><offline-delivery active=\"true\"/></deferred-settings><hist-settings><hist-activation active=\"true\"/></hist-settings>",
        );
        settings(
            &mut kit.store,
            ALICE,
            "<hist-settings><hist-activation active=\"true\"/></hist-settings>",
        );
        let mut reg = Registrar::default();
        let alice = register(&mut kit, &mut reg, ALICE);
        Bed {
            kit,
            reg,
            im: ImServer::default(),
            alice,
        }
    }

    /// `req` from alice arrives for bob (offline unless `online`): the
    /// policy's answer, then what the proxy does after a 202.
    fn arrives(&mut self, req: &Message, online: bool) -> Disposition {
        let bob = self.kit.user(BOB);
        let content = MessageContent::of(req);
        let incoming = Incoming {
            sender: ALICE,
            recipient: &bob,
            request: req,
            content: &content,
            online,
            now: self.kit.now,
        };
        let d = self.im.on_incoming(&incoming, &mut self.kit.store);
        if d == Disposition::Store {
            self.im.on_stored(&mut self.kit.cx(), &incoming, &self.reg);
        }
        d
    }

    /// bob registers: the first stored message comes to his new flow.
    fn bob_registers(&mut self) -> (ConnId, Option<Message>) {
        let bob = register(&mut self.kit, &mut self.reg, BOB);
        self.im.on_registered(&mut self.kit.cx(), BOB, &self.reg);
        let got = self.kit.take(bob).into_iter().next();
        (bob, got)
    }

    /// A 200 to `req`, one of the IM Server's own requests.
    fn accept(&mut self, req: &Message) -> bool {
        let branch = req.top_via().unwrap().branch().unwrap().to_owned();
        self.im
            .on_response(&mut self.kit.cx(), &branch, 200, &self.reg)
    }

    fn history(&self, aor: &str) -> Vec<HistoryEntry> {
        self.kit
            .store
            .history(aor, &HistoryQuery::default())
            .unwrap()
    }
}

#[test]
fn a_composing_indication_to_an_offline_user_is_480_and_never_stored() {
    let mut bed = Bed::new();
    for (ct, body) in [
        (
            "application/im-iscomposing+xml",
            ISCOMPOSING_DOC.as_bytes().to_vec(),
        ),
        (
            "message/cpim",
            cpim("application/im-iscomposing+xml", ISCOMPOSING_DOC, None),
        ),
    ] {
        let req = message(ALICE, BOB, ct, body);
        assert_eq!(
            bed.arrives(&req, false),
            Disposition::Refuse {
                status: 480,
                reason: "Temporarily Unavailable".into(),
                warning: None,
            },
            "{ct}: offline delivery is on, but an indication is stale by the time bob is back"
        );
        // Online, but no contact answered: not stored either (the proxy then
        // passes on the best answer, or 480).
        let bob = bed.kit.user(BOB);
        let content = MessageContent::of(&req);
        let unanswered = Incoming {
            sender: ALICE,
            recipient: &bob,
            request: &req,
            content: &content,
            online: true,
            now: bed.kit.now,
        };
        assert!(!bed.im.on_unanswered(&unanswered, &mut bed.kit.store));
        // Relayed live, it is not history either.
        assert_eq!(bed.arrives(&req, true), Disposition::Relay);
        bed.im.on_delivered(&mut bed.kit.store, &unanswered);
    }
    assert!(bed.kit.store.deferred_for(BOB).unwrap().is_empty());
    assert!(bed.history(ALICE).is_empty() && bed.history(BOB).is_empty());
    let (_, delivered) = bed.bob_registers();
    assert!(delivered.is_none(), "nothing was kept for bob");
}

#[test]
fn a_disposition_notification_is_stored_and_delivered_but_never_history() {
    let mut bed = Bed::new();
    // alice's client reports on a message of bob's while bob is offline.
    let body = notification_body();
    let req_to_bob = message(ALICE, BOB, "message/cpim", body.clone());
    assert_eq!(bed.arrives(&req_to_bob, false), Disposition::Store);
    let bare = message(ALICE, BOB, "message/imdn+xml", b"<imdn/>".to_vec());
    assert_eq!(bed.arrives(&bare, false), Disposition::Store);
    assert!(bed.history(ALICE).is_empty(), "not what alice said");
    assert!(
        bed.kit.take(bed.alice).is_empty(),
        "a notification gets no notification"
    );

    let (bob, first) = bed.bob_registers();
    let first = first.expect("the stored notification");
    assert_eq!(first.body(), body);
    assert_eq!(first.header("Content-Type"), Some("message/cpim"));
    assert!(bed.accept(&first));
    let second = bed.kit.take(bob).remove(0);
    assert_eq!(second.body(), b"<imdn/>");
    assert!(bed.accept(&second));
    assert!(
        bed.kit.store.deferred_for(BOB).unwrap().is_empty(),
        "both delivered"
    );
    assert!(bed.history(BOB).is_empty(), "not what bob received as chat");

    // Relayed live: still not history. Chat text is, on both sides.
    let bob_user = bed.kit.user(BOB);
    let text = message(ALICE, BOB, "text/plain", "thanks");
    for req in [&req_to_bob, &text] {
        let content = MessageContent::of(req);
        let incoming = Incoming {
            sender: ALICE,
            recipient: &bob_user,
            request: req,
            content: &content,
            online: true,
            now: bed.kit.now,
        };
        bed.im.on_delivered(&mut bed.kit.store, &incoming);
    }
    let (a, b) = (bed.history(ALICE), bed.history(BOB));
    assert_eq!((a.len(), b.len()), (1, 1), "{a:?} {b:?}");
    assert_eq!(a[0].body, b"thanks");
    assert_eq!(b[0].direction, Direction::Received);
}

#[test]
fn a_stored_message_is_delivered_with_its_content_type_and_bytes_exact() {
    let mut bed = Bed::new();
    // A CPIM envelope asking for delivery notifications around bytes that
    // are not UTF-8, with a Content-Type written the sender's way.
    let inner: Vec<u8> = vec![0xff, 0xfe, b'h', 0x00, 0xc3, b'\r', b'\n'];
    let body = cpim(
        "application/octet-stream",
        inner.clone(),
        Some("positive-delivery, display"),
    );
    let ct = "Message/CPIM ; x-note=\"kept as written\"";
    let req = message(ALICE, BOB, ct, body.clone());
    assert_eq!(bed.arrives(&req, false), Disposition::Store);
    let kept = bed.kit.store.deferred_for(BOB).unwrap();
    assert_eq!(kept[0].body, body);
    assert_eq!(kept[0].content_type, ct);

    let (_, got) = bed.bob_registers();
    let got = got.expect("the stored message");
    assert_eq!(got.body(), body, "byte for byte");
    assert_eq!(got.header("Content-Type"), Some(ct));
    assert!(got.header("Date").is_some());
    let env = CpimMessage::decode(got.body()).unwrap();
    assert_eq!(env.body(), inner);
    assert_eq!(env.header(IMDN, "Message-ID").as_deref(), Some("m-1"));
    assert!(bed.accept(&got));
    // History keeps it byte for byte too (base64 in the history document).
    let h = bed.history(BOB);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].content_type, ct);
    assert_eq!(h[0].body, body);
    // No processing request: alice heard nothing from the IM Server.
    assert!(bed.kit.take(bed.alice).is_empty());
}

#[test]
fn a_stored_message_asking_for_processing_tells_the_sender_stored() {
    let mut bed = Bed::new();
    // alice has a second device: both hear it.
    let alice2 = register(&mut bed.kit, &mut bed.reg, ALICE);
    let req = message(
        ALICE,
        BOB,
        "message/cpim",
        cpim(
            "text/plain",
            "are you there?",
            Some("positive-delivery, processing"),
        ),
    );
    assert_eq!(bed.arrives(&req, false), Disposition::Store);

    let notices: Vec<Message> = [bed.alice, alice2]
        .into_iter()
        .map(|c| {
            let mut got = bed.kit.take(c);
            assert_eq!(got.len(), 1, "one notification per contact");
            got.remove(0)
        })
        .collect();
    let n = &notices[0];
    assert_eq!(n.method(), Some(&Method::Message));
    assert_eq!(
        n.request_uri().unwrap().user(),
        Some(format!("{}", bed.alice).as_str())
    );
    assert_eq!(n.from().unwrap().uri.as_str(), BOB);
    assert_eq!(n.to().unwrap().uri.as_str(), ALICE);
    assert_eq!(n.header("Content-Type"), Some("message/cpim"));
    assert_eq!(
        notices[1].body(),
        n.body(),
        "the same notification to every contact"
    );

    let env = CpimMessage::decode(n.body()).unwrap();
    assert_eq!(env.from().unwrap().uri, BOB);
    assert_eq!(env.to().unwrap().uri, ALICE);
    assert_eq!(env.date_time(), Some(bed.kit.now.unix));
    let id = env
        .header(IMDN, "Message-ID")
        .expect("a Message-ID of its own");
    assert!(id.len() >= 16 && id != "m-1", "{id}");
    assert_eq!(
        env.header(IMDN, "Disposition-Notification"),
        None,
        "never ask about a notification"
    );
    assert_eq!(env.content_type(), MESSAGE_IMDN_CONTENT_TYPE);
    assert_eq!(
        env.content_header("Content-Disposition"),
        Some("notification")
    );
    let doc = Notification::decode(env.body()).unwrap();
    assert_eq!(
        doc,
        Notification {
            message_id: "m-1".into(),
            date_time: SENT_AT_TEXT.into(),
            recipient_uri: Some(BOB.into()),
            original_recipient_uri: None,
            subject: None,
            kind: Kind::Processing,
            status: Status::Stored,
        },
        "stored, never delivered on bob's behalf"
    );
    // A notification is not history; the message itself is (alice sent it).
    let h = bed.history(ALICE);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].content_type, "message/cpim");

    // Answers end the wait; an unanswered one is given up when its timer fires.
    assert_eq!(bed.im.notices.pending(), 2);
    assert!(bed.accept(&notices[0]));
    assert_eq!(bed.im.notices.pending(), 1);
    let timers_left = bed.kit.timers.next().is_some();
    assert!(timers_left);
    bed.kit.advance(bed.kit.cfg.relay_timeout);
    let mut fired = Vec::new();
    while let Some(t) = bed.kit.timers.pop_expired(bed.kit.now.mono) {
        fired.push(t);
    }
    let [Timer::StoredNotice(id)] = fired[..] else {
        panic!("one notice timer left: {fired:?}");
    };
    bed.im.stored_notice_timed_out(id);
    assert_eq!(bed.im.notices.pending(), 0);
    assert!(!bed.accept(&notices[1]), "given up: no longer ours");
}

#[test]
fn no_stored_notification_unless_asked_answerable_and_the_sender_online() {
    let mut bed = Bed::new();
    let no_processing = cpim(
        "text/plain",
        "1",
        Some("positive-delivery, negative-delivery, display"),
    );
    let no_date = CpimMessage::new(ALICE, BOB, "text/plain", "2")
        .namespaced("imdn", IMDN, "Message-ID", "m-2")
        .namespaced("imdn", IMDN, "Disposition-Notification", "processing")
        .encode()
        .unwrap();
    for body in [no_processing, no_date] {
        let req = message(ALICE, BOB, "message/cpim", body);
        assert_eq!(bed.arrives(&req, false), Disposition::Store);
        assert!(bed.kit.take(bed.alice).is_empty());
    }
    // Not stored (bob online, the message is relayed): nothing from the IM Server.
    let asked = message(
        ALICE,
        BOB,
        "message/cpim",
        cpim("text/plain", "3", Some("processing")),
    );
    assert_eq!(bed.arrives(&asked, true), Disposition::Relay);
    assert!(bed.kit.take(bed.alice).is_empty());
    // alice's flow is gone: the notification is dropped, nothing waits.
    assert!(bed.kit.flows.close(bed.alice));
    assert_eq!(bed.arrives(&asked, false), Disposition::Store);
    assert_eq!(bed.im.notices.pending(), 0);
    assert_eq!(bed.kit.store.deferred_for(BOB).unwrap().len(), 3);
}

#[test]
fn the_stored_notification_goes_to_the_cpim_sender_or_else_the_sip_sender() {
    let request = |sender: Option<&str>| content::ImdnRequest {
        message_id: "m-9".into(),
        date_time: Some(SENT_AT_TEXT.into()),
        wants: imsip::im::imdn::DispositionRequest::ALL,
        sender: sender.map(str::to_owned),
    };
    let body =
        stored_notice::stored_notification(&request(None), BOB, "im:alice@imsip.test", 7, "id-1")
            .unwrap()
            .unwrap();
    let env = CpimMessage::decode(&body).unwrap();
    assert_eq!(env.to().unwrap().uri, "im:alice@imsip.test");
    assert_eq!(env.date_time(), Some(7));
    // Without the original DateTime there is nothing to echo: not sent.
    let undated = content::ImdnRequest {
        date_time: None,
        ..request(None)
    };
    assert!(stored_notice::stored_notification(&undated, BOB, ALICE, 7, "id-2").is_none());

    // Routing: a CPIM sender that is not a local SIP AoR (im: here) is
    // reached through the SIP sender's contacts, addressed as written.
    let mut bed = Bed::new();
    let env = CpimMessage::new("im:alice@imsip.test", BOB, "text/plain", "hi")
        .date_time(SENT_AT)
        .namespaced("imdn", IMDN, "Message-ID", "m-3")
        .namespaced("imdn", IMDN, "Disposition-Notification", "processing")
        .encode()
        .unwrap();
    let req = message(ALICE, BOB, "message/cpim", env);
    assert_eq!(bed.arrives(&req, false), Disposition::Store);
    let n = bed.kit.take(bed.alice).remove(0);
    assert_eq!(n.to().unwrap().uri.as_str(), ALICE);
    let env = CpimMessage::decode(n.body()).unwrap();
    assert_eq!(env.to().unwrap().uri, "im:alice@imsip.test");
    assert_eq!(Notification::decode(env.body()).unwrap().message_id, "m-3");
}

#[test]
fn a_cpim_from_naming_another_local_user_does_not_redirect_the_notification() {
    // The CPIM From is the sender's own claim: the `stored` notification goes to
    // the authenticated SIP sender (alice), never to the user the envelope names.
    let mut bed = Bed::new();
    let carol = register(&mut bed.kit, &mut bed.reg, "sip:carol@imsip.test");
    let env = CpimMessage::new("sip:carol@imsip.test", BOB, "text/plain", "hi")
        .date_time(SENT_AT)
        .namespaced("imdn", IMDN, "Message-ID", "m-4")
        .namespaced("imdn", IMDN, "Disposition-Notification", "processing")
        .encode()
        .unwrap();
    let req = message(ALICE, BOB, "message/cpim", env);
    assert_eq!(bed.arrives(&req, false), Disposition::Store);
    assert!(bed.kit.take(carol).is_empty(), "nothing for carol");
    let n = bed.kit.take(bed.alice).remove(0);
    assert_eq!(n.to().unwrap().uri.as_str(), ALICE);
}
