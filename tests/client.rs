//! `imsip::client::Client` without a network: what it refuses at once, what it asks
//! the binding to open, the relay URI it derives, and the invitations it declines.
//! (Large messages and chat sessions end to end, through devcore's proxy and relay:
//! devcore/tests/client_msrp.rs; through Kamailio: js/interop/msrp.test.mjs.)

mod common;

use common::{alice_config, carol_keys, TestRng, ALICE};
use imsip::auth::{Credentials, RandomSource};
use imsip::client::{relay_uri, ChannelId, Client, Event, MsrpConfig, Output};
use imsip::msrp::session::Input as MsrpInput;
use imsip::ua::{self, MessageOptions, OpId, UaError};

fn rngs() -> Box<dyn FnMut() -> Box<dyn RandomSource>> {
    let mut seed = 1u64;
    Box::new(move || {
        seed += 1;
        Box::new(TestRng(seed)) as Box<dyn RandomSource>
    })
}

fn msrp() -> MsrpConfig {
    let creds = Credentials::password("alice@imsip.test", "alice-secret");
    MsrpConfig::new("wss://core.imsip.test/msrp", Some(creds)).unwrap()
}

fn client(msrp: Option<MsrpConfig>) -> Client {
    Client::new(alice_config(), msrp, rngs())
}

fn drain(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn result(outputs: &[Output], op: OpId) -> Option<Result<(), UaError>> {
    outputs.iter().find_map(|o| match o {
        Output::Event(Event::Completed { op: o, result }) if *o == op => {
            Some(result.clone().map(|_| ()))
        }
        _ => None,
    })
}

/// The channel of the first MSRP socket the client asked for in `outputs`.
fn msrp_connect(outputs: &[Output]) -> Option<ChannelId> {
    outputs.iter().find_map(|o| match o {
        Output::MsrpConnect { channel, .. } => Some(*channel),
        _ => None,
    })
}

#[test]
fn the_relay_uri_follows_the_websocket_url() {
    let uri = |u: &str| relay_uri(u).map(|u| u.to_string());
    assert_eq!(
        uri("wss://relay.example.net/msrp").unwrap(),
        "msrps://relay.example.net:443;ws"
    );
    assert_eq!(
        uri("ws://127.0.0.1:8088/msrp?x=1").unwrap(),
        "msrp://127.0.0.1:8088;ws"
    );
    assert_eq!(
        uri("wss://[2001:db8::1]:9443").unwrap(),
        "msrps://[2001:db8::1]:9443;ws"
    );
    for bad in [
        "https://relay.example.net/",
        "wss://",
        "relay.example.net",
        "",
    ] {
        assert!(
            matches!(relay_uri(bad), Err(UaError::BadInput(m)) if m.contains("msrpRelay")),
            "{bad:?}"
        );
    }
}

#[test]
fn a_large_message_opens_an_msrp_socket_to_the_relay_first() {
    let mut c = client(Some(msrp()));
    let op = c.send_large_message(0, "sip:bob@imsip.test", "image/png", vec![1; 5000]);
    let out = drain(&mut c);
    let connects: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::MsrpConnect { channel, url } => Some((*channel, url.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(connects.len(), 1, "{out:?}");
    assert_eq!(connects[0].1, "wss://core.imsip.test/msrp");
    assert!(result(&out, op).is_none(), "pending");
    // No SIP before the relay granted a path: the INVITE must carry it (RFC 4976 §5.1).
    assert!(!out.iter().any(|o| matches!(o, Output::Connect)));
    // Once the socket opens, AUTH goes to the relay.
    c.handle_msrp(1, connects[0].0, MsrpInput::Connected);
    let out = drain(&mut c);
    let auth = out.iter().find_map(|o| match o {
        Output::MsrpTransmit(ch, bytes) if *ch == connects[0].0 => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
        _ => None,
    });
    let auth = auth.expect("AUTH");
    assert!(
        auth.contains(" AUTH\r\nTo-Path: msrps://core.imsip.test:443;ws\r\n"),
        "{auth}"
    );
    // The relay's socket drops before a path was granted: the send fails `transport`.
    c.handle_msrp(2, connects[0].0, MsrpInput::Disconnected);
    let out = drain(&mut c);
    assert_eq!(result(&out, op), Some(Err(UaError::Transport)));
    assert_eq!(c.channel_count(), 0);
}

#[test]
fn what_cannot_be_sent_fails_at_once() {
    let mut c = client(Some(msrp()));
    let op = c.send_large_message(0, "sip:bob@imsip.test", "not a type", vec![1; 10]);
    let out = drain(&mut c);
    assert!(
        matches!(result(&out, op), Some(Err(UaError::BadInput(m))) if m.contains("contentType"))
    );
    assert!(!out.iter().any(|o| matches!(o, Output::MsrpConnect { .. })));

    let (op, chat) = c.start_chat(0, "sip:bob@imsip.test");
    drain(&mut c);
    // Not open yet: nothing can be sent in it, and typing is refused.
    let send = c.chat_send(0, chat, "text/plain", b"hi".to_vec());
    let out = drain(&mut c);
    assert!(matches!(
        result(&out, send),
        Some(Err(UaError::InvalidState(_)))
    ));
    assert!(matches!(
        c.chat_composing(0, chat, true),
        Err(UaError::InvalidState(_))
    ));
    assert!(matches!(
        c.reject_chat(0, chat, 486),
        Err(UaError::InvalidState(_))
    ));
    let accept = c.accept_chat(0, chat);
    let out = drain(&mut c);
    assert!(matches!(
        result(&out, accept),
        Some(Err(UaError::InvalidState(_)))
    ));
    // Closing it while the relay is asked: the start is cancelled, the socket closed.
    let close = c.close_chat(0, chat);
    let out = drain(&mut c);
    assert_eq!(result(&out, close), Some(Ok(())));
    assert_eq!(result(&out, op), Some(Err(UaError::Cancelled)));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::MsrpClose(ch) if *ch == chat)));
    assert_eq!(c.channel_count(), 0);
}

#[test]
fn sixteen_channels_at_once_and_no_more() {
    let mut c = client(Some(msrp()));
    let ops: Vec<OpId> = (0..17)
        .map(|_| c.send_large_message(0, "sip:bob@imsip.test", "text/plain", vec![b'x'; 2000]))
        .collect();
    let out = drain(&mut c);
    let connects = out
        .iter()
        .filter(|o| matches!(o, Output::MsrpConnect { .. }))
        .count();
    assert_eq!(connects, 16);
    assert!(matches!(
        result(&out, ops[16]),
        Some(Err(UaError::InvalidState(_)))
    ));
    assert!(ops[..16].iter().all(|op| result(&out, *op).is_none()));
    // close() fails what waits and closes every socket.
    c.close(1);
    let out = drain(&mut c);
    assert!(ops[..16]
        .iter()
        .all(|op| matches!(result(&out, *op), Some(Err(UaError::InvalidState(_))))));
    let closes = out
        .iter()
        .filter(|o| matches!(o, Output::MsrpClose(_)))
        .count();
    assert_eq!(closes, 16);
    assert_eq!(c.channel_count(), 0);
}

#[test]
fn without_msrp_large_bodies_go_as_pager_messages_and_msrp_commands_are_refused() {
    let mut c = client(None);
    let op = c.send_message(
        0,
        "sip:bob@imsip.test",
        vec![b'x'; 5000],
        &MessageOptions::default(),
    );
    let out = drain(&mut c);
    assert!(
        result(&out, op).is_none(),
        "queued for the flow as a MESSAGE"
    );
    assert!(out.iter().any(|o| matches!(o, Output::Connect)));
    assert!(!out.iter().any(|o| matches!(o, Output::MsrpConnect { .. })));
    let op = c.send_large_message(0, "sip:bob@imsip.test", "text/plain", vec![1]);
    let (start, _) = c.start_chat(0, "sip:bob@imsip.test");
    let out = drain(&mut c);
    assert!(matches!(result(&out, op), Some(Err(UaError::InvalidState(m))) if m.contains("relay")));
    assert!(matches!(
        result(&out, start),
        Some(Err(UaError::InvalidState(_)))
    ));
}

#[test]
fn an_aka_only_client_has_no_msrp() {
    // RFC 4976 AUTH is digest: the relay config has no credentials.
    let keys = carol_keys();
    let mut cfg = alice_config();
    cfg.credentials = Some(Credentials::aka("alice@imsip.test", keys, 0));
    let mut c = Client::new(
        cfg,
        Some(MsrpConfig::new("wss://core.imsip.test/msrp", None).unwrap()),
        rngs(),
    );
    let op = c.send_large_message(0, "sip:bob@imsip.test", "text/plain", vec![1]);
    let out = drain(&mut c);
    assert!(matches!(
        result(&out, op),
        Some(Err(UaError::InvalidState(_)))
    ));
    // A large body falls back to pager mode.
    let op = c.send_message(
        0,
        "sip:bob@imsip.test",
        vec![b'x'; 5000],
        &MessageOptions::default(),
    );
    let out = drain(&mut c);
    assert!(result(&out, op).is_none());
    assert!(!out.iter().any(|o| matches!(o, Output::MsrpConnect { .. })));
}

/// An INVITE from bob offering `sdp`.
fn invite(call_id: &str, sdp: &str) -> String {
    format!(
        "INVITE {ALICE} SIP/2.0\r\nVia: SIP/2.0/WSS core.invalid;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:bob@imsip.test>;tag=b1\r\nTo: <{ALICE}>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@b.invalid;transport=ws>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

fn responses(out: &[Output]) -> Vec<&str> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(f) if f.starts_with("SIP/2.0 ") => f.get(8..11),
            _ => None,
        })
        .collect()
}

#[test]
fn invitations_the_client_cannot_take_are_declined_488() {
    const CHAT: &str = "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\na=accept-types:*\r\na=path:msrps://b.invalid:2855/x;ws\r\n";
    let offers = [
        ("audio", "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"),
        ("no-path", "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\n"),
        ("bad-path", "v=0\r\no=- 1 1 IN IP4 b.invalid\r\ns=-\r\nt=0 0\r\nm=message 9 TCP/WSS/MSRP *\r\na=path:http://x\r\n"),
        ("garbage", "not sdp at all"),
    ];
    let mut c = client(Some(msrp()));
    drain(&mut c);
    c.handle_input(0, ua::Input::Connected);
    drain(&mut c);
    for (id, sdp) in offers {
        c.handle_input(1, ua::Input::Frame(&invite(id, sdp)));
        let out = drain(&mut c);
        assert!(responses(&out).contains(&"488"), "{id}: {out:?}");
        assert!(!out
            .iter()
            .any(|o| matches!(o, Output::Event(Event::Invitation { .. }))));
    }
    assert_eq!(c.channel_count(), 0);
    // Without MSRP at all, even a good offer is declined.
    let mut c = client(None);
    drain(&mut c);
    c.handle_input(0, ua::Input::Connected);
    c.handle_input(1, ua::Input::Frame(&invite("chat", CHAT)));
    let out = drain(&mut c);
    assert!(responses(&out).contains(&"488"), "{out:?}");
    // With MSRP, the app is asked.
    let mut c = client(Some(msrp()));
    drain(&mut c);
    c.handle_input(0, ua::Input::Connected);
    c.handle_input(1, ua::Input::Frame(&invite("chat", CHAT)));
    let out = drain(&mut c);
    assert!(!responses(&out).contains(&"488"));
    let chat = out
        .iter()
        .find_map(|o| match o {
            Output::Event(Event::Invitation { chat, from, .. }) => {
                assert_eq!(from, "sip:bob@imsip.test");
                Some(*chat)
            }
            _ => None,
        })
        .expect("an invitation");
    // Declined: 603 by default in the binding; here 486.
    c.reject_chat(2, chat, 486).unwrap();
    let out = drain(&mut c);
    assert!(responses(&out).contains(&"486"), "{out:?}");
    assert_eq!(c.channel_count(), 0);
}

#[test]
fn a_message_put_in_large_mode_goes_as_a_message_when_the_relay_fails() {
    let mut c = client(Some(msrp()));
    let body = vec![b'y'; 5000];
    let op = c.send_message(
        0,
        "sip:bob@imsip.test",
        body.clone(),
        &MessageOptions::default(),
    );
    let out = drain(&mut c);
    let channel = msrp_connect(&out).expect("large-message mode first");
    // The relay cannot be reached: no error, the MESSAGE goes instead.
    c.handle_msrp(1, channel, MsrpInput::Disconnected);
    let out = drain(&mut c);
    assert_eq!(result(&out, op), None, "{out:?}");
    assert!(out.iter().any(|o| matches!(o, Output::Connect)), "{out:?}");
    c.handle_input(2, ua::Input::Connected);
    let out = drain(&mut c);
    let message = out
        .iter()
        .find_map(|o| match o {
            Output::Transmit(f) if f.starts_with("MESSAGE ") => Some(f.clone()),
            _ => None,
        })
        .expect("a MESSAGE");
    assert!(message.ends_with(std::str::from_utf8(&body).unwrap()));
    assert_eq!(c.channel_count(), 0);
    // An explicit large message does not fall back: it fails.
    let op = c.send_large_message(3, "sip:bob@imsip.test", "text/plain", body);
    let out = drain(&mut c);
    let channel = msrp_connect(&out).expect("a relay socket");
    c.handle_msrp(4, channel, MsrpInput::Disconnected);
    let out = drain(&mut c);
    assert_eq!(result(&out, op), Some(Err(UaError::Transport)));
}

/// The first wake-up asked for in `outputs`.
fn wake(outputs: &[Output]) -> Option<u64> {
    outputs.iter().find_map(|o| match o {
        Output::Timeout(at) => Some(*at),
        _ => None,
    })
}

fn closes(outputs: &[Output], channel: ChannelId) -> bool {
    outputs
        .iter()
        .any(|o| matches!(o, Output::MsrpClose(ch) if *ch == channel))
}

#[test]
fn a_relay_socket_that_neither_opens_nor_fails_is_given_up_after_connect_timeout() {
    let mut c = client(Some(msrp()));
    let body = vec![b'z'; 5000];
    let bob = "sip:bob@imsip.test";
    let op = c.send_message(0, bob, body.clone(), &MessageOptions::default());
    let out = drain(&mut c);
    let channel = msrp_connect(&out).expect("large-message mode first");
    assert_eq!(wake(&out), Some(10_000), "the user agent's connect_timeout");
    c.handle_input(9_999, ua::Input::Timeout);
    assert!(!closes(&drain(&mut c), channel), "not before the deadline");
    c.handle_input(10_000, ua::Input::Timeout);
    let out = drain(&mut c);
    assert!(
        closes(&out, channel),
        "the hanging socket is closed: {out:?}"
    );
    // Given up like a relay that failed before any SIP: the MESSAGE goes instead.
    assert_eq!(result(&out, op), None, "{out:?}");
    assert!(out.iter().any(|o| matches!(o, Output::Connect)), "{out:?}");
    c.handle_input(10_001, ua::Input::Connected);
    let out = drain(&mut c);
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Transmit(f) if f.starts_with("MESSAGE "))));
    assert_eq!(c.channel_count(), 0);

    // An explicit large message fails `transport`.
    let op = c.send_large_message(20_000, bob, "text/plain", body.clone());
    let channel = msrp_connect(&drain(&mut c)).expect("a relay socket");
    c.handle_input(30_000, ua::Input::Timeout);
    let out = drain(&mut c);
    assert!(closes(&out, channel), "{out:?}");
    assert_eq!(result(&out, op), Some(Err(UaError::Transport)));
    assert_eq!(c.channel_count(), 0);

    // A socket that opens in time is not given up at the deadline.
    let op = c.send_large_message(40_000, bob, "text/plain", body);
    let channel = msrp_connect(&drain(&mut c)).expect("a relay socket");
    c.handle_msrp(40_001, channel, MsrpInput::Connected);
    drain(&mut c);
    c.handle_input(50_000, ua::Input::Timeout);
    let out = drain(&mut c);
    assert!(!closes(&out, channel), "{out:?}");
    assert_eq!(
        result(&out, op),
        None,
        "still waiting for the relay's AUTH answer"
    );
}

#[test]
fn a_message_with_extra_headers_goes_as_a_message_whatever_its_size() {
    let mut c = client(Some(msrp()));
    let options = MessageOptions {
        extra_headers: vec![("X-Conversation".into(), "c-42".into())],
        ..MessageOptions::default()
    };
    c.send_message(0, "sip:bob@imsip.test", vec![b'z'; 5000], &options);
    let out = drain(&mut c);
    assert_eq!(msrp_connect(&out), None, "no large-message mode: {out:?}");
    assert!(out.iter().any(|o| matches!(o, Output::Connect)), "{out:?}");
    c.handle_input(1, ua::Input::Connected);
    let out = drain(&mut c);
    assert!(out.iter().any(|o| matches!(o, Output::Transmit(f)
        if f.starts_with("MESSAGE ") && f.contains("\r\nX-Conversation: c-42\r\n"))));
}
