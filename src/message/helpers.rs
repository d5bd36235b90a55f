//! Small SIP helpers shared by both ends (the user agent and the dev core):
//! branch parameters, `399` Warning values and keep-alive frames.
//!
//! ```
//! use imsip::message::{branch, is_keepalive, warning_399, KeepAlive};
//! assert_eq!(branch("4f2a9c"), "z9hG4bK4f2a9c");
//! assert_eq!(
//!     warning_399("imsip.test", "bad \"To\""),
//!     "399 imsip.test \"bad 'To'\""
//! );
//! assert_eq!(is_keepalive(b"\r\n\r\n"), Some(KeepAlive::Ping));
//! assert_eq!(KeepAlive::Ping.answer().map(KeepAlive::frame), Some("\r\n"));
//! assert_eq!(is_keepalive(b"\r\n"), Some(KeepAlive::Pong));
//! assert_eq!(is_keepalive(b"OPTIONS sip:x SIP/2.0\r\n\r\n"), None);
//! ```

/// The magic cookie every RFC 3261 branch starts with (§8.1.1.7), telling an
/// RFC 3261 transaction id from an RFC 2543 one.
pub const BRANCH_MAGIC: &str = "z9hG4bK";

/// The Via `branch` parameter for a new transaction: [`BRANCH_MAGIC`]
/// followed by `random` (RFC 3261 §8.1.1.7).
///
/// `random` must make the branch unique across space and time for every
/// transaction its sender starts (e.g. 80 random bits as hex) and be made of
/// `token` characters; it is not checked here.
pub fn branch(random: &str) -> String {
    let mut b = String::with_capacity(BRANCH_MAGIC.len() + random.len());
    b.push_str(BRANCH_MAGIC);
    b.push_str(random);
    b
}

/// A `Warning` header value with code 399, "miscellaneous warning"
/// (RFC 3261 §20.43): `399 agent "text"`.
///
/// `agent` is the warn-agent: the host (and port) of the server adding the
/// header, or a pseudonym. The warn-text is a quoted-string: a `"` or `\` in
/// `text` becomes `'`, and a control character (CR, LF, ...) a space, so the
/// value always parses and reads the same in clients that do not unescape
/// quoted-pairs.
pub fn warning_399(agent: &str, text: &str) -> String {
    let mut w = String::with_capacity(agent.len() + text.len() + 8);
    w.push_str("399 ");
    w.push_str(agent);
    w.push_str(" \"");
    w.extend(text.chars().map(|c| match c {
        '"' | '\\' => '\'',
        c if c.is_control() => ' ',
        c => c,
    }));
    w.push('"');
    w
}

/// A keep-alive frame of RFC 5626 §3.5.1 over a message-oriented transport
/// such as WebSocket: a ping is a double CRLF, answered by a single-CRLF
/// pong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// `CRLF CRLF`: answer with a [`KeepAlive::Pong`].
    Ping,
    /// `CRLF`: the answer to a ping; answer nothing.
    Pong,
}

impl KeepAlive {
    /// The frame to send for this keep-alive: `"\r\n\r\n"` or `"\r\n"`.
    pub const fn frame(self) -> &'static str {
        match self {
            KeepAlive::Ping => "\r\n\r\n",
            KeepAlive::Pong => "\r\n",
        }
    }

    /// The answer this keep-alive calls for: a pong to a ping, nothing to a
    /// pong.
    pub const fn answer(self) -> Option<KeepAlive> {
        match self {
            KeepAlive::Ping => Some(KeepAlive::Pong),
            KeepAlive::Pong => None,
        }
    }
}

/// Whether `frame` is a keep-alive rather than a SIP message (RFC 5626
/// §3.5.1): a non-empty frame made only of CR and LF bytes. Four or more of
/// them (a double CRLF, however its line ends were written) are a
/// [`KeepAlive::Ping`]; fewer (a CRLF) a [`KeepAlive::Pong`]. `None` for an
/// empty frame or any frame with another byte in it.
pub fn is_keepalive(frame: &[u8]) -> Option<KeepAlive> {
    if frame.is_empty() || !frame.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return None;
    }
    Some(if frame.len() >= 4 {
        KeepAlive::Ping
    } else {
        KeepAlive::Pong
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Message, MessageBuilder, Method, Uri};

    #[test]
    fn branch_has_the_magic_cookie_and_survives_a_via() {
        let b = branch("a1b2c3");
        assert_eq!(b, "z9hG4bKa1b2c3");
        let uri = Uri::parse("sip:bob@imsip.test").unwrap();
        let msg = MessageBuilder::request(Method::Options, uri)
            .header("Via", format!("SIP/2.0/WS x.invalid;branch={b}"))
            .build();
        let parsed = Message::parse(&msg.to_bytes()).unwrap();
        assert_eq!(parsed.top_via().unwrap().branch(), Some(b.as_str()));
    }

    #[test]
    fn warning_text_is_made_safe() {
        assert_eq!(
            warning_399("imsip.test", "missing Call-ID"),
            "399 imsip.test \"missing Call-ID\""
        );
        assert_eq!(
            warning_399("h:5060", "a \"q\" and \\ and\r\nnext\tline"),
            "399 h:5060 \"a 'q' and ' and  next line\""
        );
        // UTF-8 text is kept.
        assert_eq!(warning_399("x", "é ✓"), "399 x \"é ✓\"");
        // The value reads back as one header whatever the text.
        let w = warning_399("imsip.test", "\"\\\r\n\"");
        let uri = Uri::parse("sip:imsip.test").unwrap();
        let msg = MessageBuilder::request(Method::Options, uri)
            .header("Warning", &w)
            .build();
        let parsed = Message::parse(&msg.to_bytes()).unwrap();
        assert_eq!(parsed.header("Warning"), Some(w.as_str()));
    }

    #[test]
    fn keepalive_frames() {
        assert_eq!(is_keepalive(b"\r\n\r\n"), Some(KeepAlive::Ping));
        assert_eq!(is_keepalive(b"\n\n\n\n"), Some(KeepAlive::Ping));
        assert_eq!(is_keepalive(b"\r\n\r\n\r\n"), Some(KeepAlive::Ping));
        assert_eq!(is_keepalive(b"\r\n"), Some(KeepAlive::Pong));
        assert_eq!(is_keepalive(b"\n"), Some(KeepAlive::Pong));
        assert_eq!(is_keepalive(b""), None);
        assert_eq!(is_keepalive(b"\r\n \r\n"), None);
        assert_eq!(is_keepalive(b"\r\n\r\nOPTIONS"), None);
        assert_eq!(KeepAlive::Ping.answer(), Some(KeepAlive::Pong));
        assert_eq!(KeepAlive::Pong.answer(), None);
        for k in [KeepAlive::Ping, KeepAlive::Pong] {
            assert_eq!(is_keepalive(k.frame().as_bytes()), Some(k));
        }
    }
}
