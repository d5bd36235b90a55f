//! Server transactions, as far as devcore needs them (RFC 3261 §17.2.3): a
//! request that arrives again with the branch, sent-by and method of one already
//! seen is a retransmission of it, not a new request. It is not processed a
//! second time (a MESSAGE relayed or stored twice, an INVITE forked twice, a
//! second publication); the last answer sent for it, if any, is sent again.
//!
//! WebSocket is reliable, so a compliant client does not retransmit on a timer
//! (§17.1.2.2), but a client that lost its connection may send the same request
//! again on a new one. The answers are kept for [`KEEP`]: longer than an INVITE
//! can ring (Timer C, 3 minutes) plus Timer J's 64·T1 for the unreliable case.

use imsip::message::{Message, Method, BRANCH_MAGIC};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// How long a transaction is remembered after its request arrived.
pub(crate) const KEEP: Duration = Duration::from_secs(181 + 32);

/// Branch, sent-by and method: what matches a request to its transaction
/// (§17.2.3; the method as CSeq names it, so an INVITE and its CANCEL are two).
type Key = (String, String, String);

/// What a request is to the transaction layer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The first of its transaction: the core handles it.
    New,
    /// A retransmission: answered with the last response sent for its
    /// transaction (`None`: nothing sent yet, it is absorbed).
    Again(Option<Vec<u8>>),
}

#[derive(Debug)]
struct Entry {
    /// The last response sent for it, as sent.
    last: Option<Vec<u8>>,
}

/// The server transactions of the last [`KEEP`].
#[derive(Debug, Default)]
pub(crate) struct ServerTransactions {
    entries: HashMap<Key, Entry>,
    /// When each arrived, oldest first: what expires next.
    arrivals: VecDeque<(Instant, Key)>,
}

/// The transaction `msg` belongs to: `None` for an ACK (it has no server
/// transaction of its own for a 2xx, and the INVITE's for a non-2xx only
/// absorbs it), for a Via branch without RFC 3261's magic cookie (RFC 2543
/// matching is not done), or when the Via or CSeq cannot be read.
fn key(msg: &Message) -> Option<Key> {
    let method = msg.cseq().ok()?.method;
    if method == Method::Ack {
        return None;
    }
    let via = msg.top_via().ok()?;
    let branch = via.branch().filter(|b| b.starts_with(BRANCH_MAGIC))?;
    let sent_by = format!("{}:{}", via.host, via.port.unwrap_or(0)).to_ascii_lowercase();
    Some((branch.to_owned(), sent_by, method.as_str().to_owned()))
}

impl ServerTransactions {
    /// A request arrived at `now`.
    pub fn on_request(&mut self, req: &Message, now: Instant) -> Seen {
        while let Some((at, _)) = self.arrivals.front() {
            if now.saturating_duration_since(*at) < KEEP {
                break;
            }
            if let Some((_, k)) = self.arrivals.pop_front() {
                self.entries.remove(&k);
            }
        }
        let Some(k) = key(req) else {
            return Seen::New;
        };
        if let Some(e) = self.entries.get(&k) {
            return Seen::Again(e.last.clone());
        }
        self.entries.insert(k.clone(), Entry { last: None });
        self.arrivals.push_back((now, k));
        Seen::New
    }

    /// `resp`, as `bytes`, was sent: the answer a retransmission of its
    /// request gets from now on.
    pub fn on_response_sent(&mut self, resp: &Message, bytes: &[u8]) {
        if let Some(e) = key(resp).and_then(|k| self.entries.get_mut(&k)) {
            e.last = Some(bytes.to_vec());
        }
    }

    /// How many transactions are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, branch: &str, sent_by: &str) -> Message {
        let text = format!(
            "{method} sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS {sent_by};branch={branch}\r\n\
             From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\n\
             Call-ID: c1\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(text.as_bytes()).unwrap()
    }

    fn reply(req: &Message, status: u16) -> Message {
        imsip::message::MessageBuilder::reply(req, status, "X", Some("t")).build()
    }

    #[test]
    fn a_retransmission_gets_the_last_answer_and_is_not_new() {
        let (mut t, now) = (ServerTransactions::default(), Instant::now());
        let inv = request("INVITE", "z9hG4bKa", "A.invalid");
        assert_eq!(t.on_request(&inv, now), Seen::New);
        assert_eq!(t.on_request(&inv, now), Seen::Again(None), "absorbed");
        for status in [100, 180] {
            let r = reply(&inv, status);
            t.on_response_sent(&r, &r.to_bytes());
        }
        let ringing = reply(&inv, 180).to_bytes();
        assert_eq!(t.on_request(&inv, now), Seen::Again(Some(ringing)));
        // The same branch from another sent-by (compared without case), or
        // another method (its CANCEL), is another transaction.
        assert_eq!(
            t.on_request(&request("INVITE", "z9hG4bKa", "a.INVALID"), now),
            Seen::Again(Some(reply(&inv, 180).to_bytes()))
        );
        assert_eq!(
            t.on_request(&request("INVITE", "z9hG4bKa", "b.invalid"), now),
            Seen::New
        );
        assert_eq!(
            t.on_request(&request("CANCEL", "z9hG4bKa", "a.invalid"), now),
            Seen::New
        );
        // An ACK, or a branch without the magic cookie, is never matched.
        let ack = request("ACK", "z9hG4bKa", "a.invalid");
        assert_eq!(t.on_request(&ack, now), Seen::New);
        assert_eq!(t.on_request(&ack, now), Seen::New);
        let old = request("MESSAGE", "1234", "a.invalid");
        assert_eq!(t.on_request(&old, now), Seen::New);
        assert_eq!(t.on_request(&old, now), Seen::New);
    }

    #[test]
    fn transactions_are_forgotten_after_keep() {
        let (mut t, now) = (ServerTransactions::default(), Instant::now());
        let m = request("MESSAGE", "z9hG4bKm", "a.invalid");
        assert_eq!(t.on_request(&m, now), Seen::New);
        let ok = reply(&m, 200);
        t.on_response_sent(&ok, &ok.to_bytes());
        let almost = now + KEEP - Duration::from_millis(1);
        assert_eq!(t.on_request(&m, almost), Seen::Again(Some(ok.to_bytes())));
        assert_eq!(t.on_request(&m, now + KEEP), Seen::New, "a new transaction");
        assert_eq!(t.len(), 1);
    }
}
