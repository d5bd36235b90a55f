//! The WebSocket flows (RFC 7118) as the core sees them: the connection
//! table, frames in (size limit, RFC 5626 §3.5.1 keep-alive, parsing) and
//! frames out (messages, replies).
//!
//! No socket here: each flow is the sending half of an unbounded channel
//! whose other end the web layer (`web.rs`) owns and writes to its socket.
//! Sending never waits.

use crate::store::StoreError;
use crate::transactions::{Seen, ServerTransactions};
use crate::util::random_hex;
use imsip::message::{is_keepalive, HeaderName, Host, Message, MessageBuilder, Method, ParseError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, error, warn};

/// Identifies one WebSocket flow.
pub(crate) type ConnId = u64;

/// What the core asks a flow's writer to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outbound {
    /// Send one frame (text when UTF-8, binary otherwise).
    Frame(Vec<u8>),
    /// Close the WebSocket.
    Close,
}

/// Frames larger than this are not routed: a request is answered 513, anything
/// else dropped (with a log line). The WebSocket layer caps frames at 1 MiB, so
/// reading one this large enough to answer it stays bounded.
pub(crate) const MAX_FRAME: usize = 64 * 1024;

/// What a frame brought ([`Flows::receive`]).
#[derive(Debug)]
pub(crate) enum Received {
    /// A message to route (boxed: the other variants are small).
    Message(Box<Message>),
    /// A frame the codec refuses, and why.
    Refused(ParseError),
    /// Nothing to route (a keep-alive, a frame over the size limit).
    Nothing,
}

/// The open flows.
#[derive(Debug, Default)]
pub(crate) struct Flows {
    conns: HashMap<ConnId, Flow>,
    last_id: ConnId,
    /// Requests seen and the answers sent to them (retransmissions are
    /// answered here). Shared: answers go out through `&self`.
    transactions: RefCell<ServerTransactions>,
}

/// One open flow.
#[derive(Debug)]
struct Flow {
    /// Where its frames go (the web layer writes them to the socket).
    tx: UnboundedSender<Outbound>,
    /// The address the connection came from (none in unit tests).
    peer: Option<SocketAddr>,
}

impl Flows {
    /// A new flow from `peer` whose frames go to `tx`.
    pub fn open(&mut self, tx: UnboundedSender<Outbound>, peer: Option<SocketAddr>) -> ConnId {
        self.last_id += 1;
        self.conns.insert(self.last_id, Flow { tx, peer });
        self.last_id
    }

    /// Forgets `conn`; `false` if it was not open.
    pub fn close(&mut self, conn: ConnId) -> bool {
        self.conns.remove(&conn).is_some()
    }

    /// Asks every flow to close (server shutdown) and forgets them.
    pub fn shutdown(&mut self) {
        for (_, flow) in self.conns.drain() {
            let _ = flow.tx.send(Outbound::Close);
        }
    }

    /// How many flows are open.
    pub fn count(&self) -> usize {
        self.conns.len()
    }

    /// Whether `conn` is open.
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// One frame received on `conn`: the message it carries, a request the codec
    /// refuses (for the core to answer, [`imsip::message::refusal`]), or nothing to route
    /// (too large — a request is answered 513 here —, a keep-alive — a ping is
    /// answered with a pong here —, or anything else unparseable; each with a log
    /// line).
    pub fn receive(&self, conn: ConnId, frame: &[u8], now: Instant) -> Received {
        if frame.len() > MAX_FRAME {
            // RFC 3261 §21.5.14: the sender learns at once instead of waiting for
            // its transaction to time out.
            match Message::parse(frame) {
                Ok(req) if req.is_request() && req.method() != Some(&Method::Ack) => {
                    warn!(
                        conn,
                        bytes = frame.len(),
                        "request over 64 KiB answered 513"
                    );
                    self.reply(conn, &req, 513, "Message Too Large", &[]);
                }
                _ => warn!(conn, bytes = frame.len(), "frame over 64 KiB dropped"),
            }
            return Received::Nothing;
        }
        if let Some(keepalive) = is_keepalive(frame) {
            if let Some(pong) = keepalive.answer() {
                debug!(conn, "← ping, → pong");
                self.send_frame(conn, pong.frame().as_bytes().to_vec());
            }
            return Received::Nothing;
        }
        debug!(
            conn,
            "← {} bytes\n{}",
            frame.len(),
            String::from_utf8_lossy(frame)
        );
        match Message::parse(frame) {
            Ok(msg) if msg.is_request() && self.retransmitted(conn, &msg, now) => Received::Nothing,
            Ok(msg) => {
                let peer = self.conns.get(&conn).and_then(|f| f.peer);
                Received::Message(Box::new(match peer {
                    Some(peer) if msg.is_request() => stamp_received(msg, peer),
                    _ => msg,
                }))
            }
            Err(e) => {
                warn!(conn, error = %e, "unparseable frame");
                Received::Refused(e)
            }
        }
    }

    /// Whether `req` repeats a request seen before (RFC 3261 §17.2.3): then it is
    /// answered with the last response sent for it, if any, and goes no further.
    fn retransmitted(&self, conn: ConnId, req: &Message, now: Instant) -> bool {
        let Seen::Again(last) = self.transactions.borrow_mut().on_request(req, now) else {
            return false;
        };
        debug!(conn, "retransmission: not handled again");
        if let Some(bytes) = last {
            self.send_frame(conn, bytes);
        }
        true
    }

    /// Sends `bytes` as one frame on `conn` (a response made without a parsed
    /// request: [`imsip::message::refusal`]); `false` if the flow is closed.
    pub fn send_raw(&self, conn: ConnId, bytes: Vec<u8>) -> bool {
        self.send_frame(conn, bytes)
    }

    fn send_frame(&self, conn: ConnId, bytes: Vec<u8>) -> bool {
        match self.conns.get(&conn) {
            Some(flow) => flow.tx.send(Outbound::Frame(bytes)).is_ok(),
            None => false,
        }
    }

    /// Sends `msg` on `conn` (logged); `false` if the flow is closed.
    pub fn send(&self, conn: ConnId, msg: &Message) -> bool {
        let bytes = msg.to_bytes();
        if !msg.is_request() {
            // Kept even when the flow is gone: the client may send the request
            // again on a new connection.
            self.transactions.borrow_mut().on_response_sent(msg, &bytes);
        }
        if !self.conns.contains_key(&conn) {
            debug!(
                conn,
                "flow closed: not sent\n{}",
                String::from_utf8_lossy(&bytes)
            );
            return false;
        }
        debug!(
            conn,
            "→ {} bytes\n{}",
            bytes.len(),
            String::from_utf8_lossy(&bytes)
        );
        self.send_frame(conn, bytes)
    }

    /// Answers `req` on `conn` with To tag `to_tag` (when To has none) and
    /// extra `headers`.
    pub fn reply_with(
        &self,
        conn: ConnId,
        req: &Message,
        status: u16,
        reason: &str,
        to_tag: &str,
        headers: &[(&str, String)],
    ) {
        let mut b = MessageBuilder::reply(req, status, reason, Some(to_tag));
        for (n, v) in headers {
            b.push_header(*n, v);
        }
        self.send(conn, &b.build());
    }

    /// Answers `req` on `conn` with a fresh To tag.
    pub fn reply(
        &self,
        conn: ConnId,
        req: &Message,
        status: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) {
        self.reply_with(conn, req, status, reason, &random_hex(8), headers);
    }

    /// Logs a store failure and answers `req` with 500.
    pub fn server_error(&self, conn: ConnId, req: &Message, e: &StoreError) {
        error!(conn, error = %e, "database error");
        self.reply(conn, req, 500, "Server Internal Error", &[]);
    }
}

/// The request as the server transport passes it on (RFC 3261 §18.2.1): its top
/// Via gets `received` with the address it came from when its sent-by host is
/// a name (a WebSocket client's is `….invalid`, RFC 7118 §5) or another address,
/// and a `rport` asked for without a value gets the source port (RFC 3581 §4).
/// Unchanged when there is nothing to add or the Via cannot be read (the core
/// answers that 400).
pub(crate) fn stamp_received(req: Message, peer: SocketAddr) -> Message {
    let Ok(mut vias) = req.via() else {
        return req;
    };
    let Some(top) = vias.first_mut() else {
        return req;
    };
    let same_address = match &top.host {
        Host::Ipv4(ip) => *ip == peer.ip(),
        Host::Ipv6(ip) => *ip == peer.ip(),
        Host::Name(_) => false,
    };
    let fill_rport = top.rport() == Some(None);
    if same_address && !fill_rport {
        return req;
    }
    if !same_address {
        top.params.set("received", Some(&peer.ip().to_string()));
    }
    if fill_rport {
        top.params.set("rport", Some(&peer.port().to_string()));
    }
    let (Some(method), Some(uri)) = (req.method(), req.request_uri()) else {
        return req;
    };
    let mut b = MessageBuilder::request(method.clone(), uri.clone());
    let mut vias_written = false;
    for (name, value) in req.headers() {
        if HeaderName::parse(name) == HeaderName::Via {
            // Every Via value on a line of its own, in order (RFC 3261 §7.3.1).
            if !std::mem::replace(&mut vias_written, true) {
                for via in &vias {
                    b.push_header(HeaderName::Via, via.to_string());
                }
            }
        } else {
            b.push_header(name, value);
        }
    }
    b.body(None, req.body().to_vec()).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    const OPTIONS: &str = "OPTIONS sip:imsip.test SIP/2.0\r\n\
        Via: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n\
        From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:imsip.test>\r\n\
        Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn keepalives_sizes_and_parsing() {
        let mut flows = Flows::default();
        let (tx, mut rx) = unbounded_channel();
        let conn = flows.open(tx, None);
        assert!(matches!(
            flows.receive(conn, b"\r\n\r\n", Instant::now()),
            Received::Nothing
        ));
        assert_eq!(rx.try_recv().ok(), Some(Outbound::Frame(b"\r\n".to_vec())));
        assert!(
            matches!(
                flows.receive(conn, b"\r\n", Instant::now()),
                Received::Nothing
            ),
            "a pong"
        );
        assert!(rx.try_recv().is_err(), "is not answered");
        assert!(matches!(
            flows.receive(conn, b"not SIP\r\n\r\n", Instant::now()),
            Received::Refused(_)
        ));
        let garbage = "x".repeat(MAX_FRAME + 1);
        assert!(matches!(
            flows.receive(conn, garbage.as_bytes(), Instant::now()),
            Received::Nothing
        ));
        let Received::Message(msg) = flows.receive(conn, OPTIONS.as_bytes(), Instant::now()) else {
            panic!("OPTIONS parses")
        };
        assert!(msg.is_request());
        assert!(rx.try_recv().is_err(), "nothing sent for those");
        // A request over the limit is not routed but answered 513 (RFC 3261 §21.5.14).
        let big = OPTIONS.replace(
            "Content-Length: 0\r\n\r\n",
            &format!(
                "Content-Length: {MAX_FRAME}\r\n\r\n{}",
                "x".repeat(MAX_FRAME)
            ),
        );
        assert!(big.len() > MAX_FRAME);
        assert!(matches!(
            flows.receive(conn, big.as_bytes(), Instant::now()),
            Received::Nothing
        ));
        let Ok(Outbound::Frame(bytes)) = rx.try_recv() else {
            panic!("no answer to the big request")
        };
        let answer = Message::parse(&bytes).unwrap();
        assert_eq!(answer.status(), Some(513));
        assert_eq!(answer.call_id(), msg.call_id());
    }

    #[test]
    fn replies_and_closed_flows() {
        let mut flows = Flows::default();
        let (tx, mut rx) = unbounded_channel();
        let conn = flows.open(tx, None);
        let (tx2, mut rx2) = unbounded_channel();
        let other = flows.open(tx2, None);
        assert_ne!(conn, other);
        assert_eq!(flows.count(), 2);
        let req = Message::parse(OPTIONS.as_bytes()).unwrap();
        flows.reply(conn, &req, 200, "OK", &[("Allow", "MESSAGE".into())]);
        let Ok(Outbound::Frame(bytes)) = rx.try_recv() else {
            panic!("no reply")
        };
        let r = Message::parse(&bytes).unwrap();
        assert_eq!(r.status(), Some(200));
        assert!(r.to().unwrap().tag().is_some());
        assert_eq!(r.header("Allow"), Some("MESSAGE"));
        flows.server_error(conn, &req, &StoreError("disk full".into()));
        let Ok(Outbound::Frame(bytes)) = rx.try_recv() else {
            panic!("no 500")
        };
        assert_eq!(Message::parse(&bytes).unwrap().status(), Some(500));

        assert!(flows.close(conn));
        assert!(!flows.close(conn));
        assert!(!flows.is_open(conn));
        assert_eq!(flows.count(), 1);
        assert!(!flows.send(conn, &req));
        flows.shutdown();
        assert_eq!(rx2.try_recv().ok(), Some(Outbound::Close));
        assert!(!flows.is_open(other));
        assert_eq!(flows.count(), 0);
    }
}

#[cfg(test)]
mod received_tests {
    use super::*;
    use tokio::sync::mpsc::unbounded_channel;

    fn request(vias: &str) -> String {
        format!(
            "MESSAGE sip:bob@imsip.test SIP/2.0\r\n{vias}\
             From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\n\
             Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n\
             Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
        )
    }

    fn received(frame: &str, peer: &str) -> Message {
        let mut flows = Flows::default();
        let (tx, _rx) = unbounded_channel();
        let conn = flows.open(tx, Some(peer.parse().unwrap()));
        match flows.receive(conn, frame.as_bytes(), Instant::now()) {
            Received::Message(m) => *m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_named_sent_by_gets_received_and_an_empty_rport_the_port() {
        // RFC 7118 §5: a WebSocket client's sent-by is a made-up `.invalid` name.
        let m = received(
            &request("Via: SIP/2.0/WS df7jal23ls0d.invalid;rport;branch=z9hG4bKa\r\n"),
            "192.0.2.7:40123",
        );
        let top = m.top_via().unwrap();
        assert_eq!(top.received(), Some("192.0.2.7"));
        assert_eq!(top.rport(), Some(Some(40123)));
        assert_eq!(top.branch(), Some("z9hG4bKa"));
        assert_eq!(m.body(), b"hi");
        assert_eq!(m.header("Content-Type"), Some("text/plain"));
        assert_eq!(m.call_id().unwrap(), "c1");
        m.validate().unwrap();
    }

    #[test]
    fn every_via_is_kept_in_order_and_only_the_top_one_stamped() {
        let m = received(
            &request(
                "Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1, SIP/2.0/WSS 198.51.100.1;branch=z9hG4bK2\r\n\
                 Via: SIP/2.0/TCP c.example;branch=z9hG4bK3\r\n",
            ),
            "[2001:db8::1]:5060",
        );
        let vias = m.via().unwrap();
        let branches: Vec<_> = vias.iter().map(|v| v.branch().unwrap()).collect();
        assert_eq!(branches, ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]);
        assert_eq!(vias[0].received(), Some("2001:db8::1"));
        assert_eq!(vias[0].rport(), None, "not asked for");
        assert!(vias[1..].iter().all(|v| v.received().is_none()));
    }

    #[test]
    fn the_same_address_without_rport_is_left_as_sent() {
        let frame = request("Via: SIP/2.0/WS 192.0.2.7:5062;branch=z9hG4bKa\r\n");
        let m = received(&frame, "192.0.2.7:40123");
        assert_eq!(m.to_text(), frame);
        // A response is never stamped (§18.2.1 is about requests).
        let resp = "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bKa\r\n\
             From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>;tag=2\r\n\
             Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(received(resp, "192.0.2.7:1").to_text(), resp);
    }
}
