//! Answering a request the codec refuses (RFC 3261 §8.2, §16.3 step 1, §21.4.1;
//! RFC 4475 §3.1.2): its sender learns at once why, instead of waiting for its
//! transaction to time out (Timer F, 32 s).
//!
//! A response needs only the Via, From, To, Call-ID and CSeq of the request, copied
//! (RFC 3261 §8.2.6.2), so they are looked for as text in the header section even
//! when the frame cannot be read as a message (a Content-Length that lies, a
//! malformed Request-URI, a CSeq number too large, a version other than SIP/2.0, a
//! frame over the size limit). The status comes from the error
//! ([`ParseError::refusal_status`]), with a `Warning: 399` saying what is wrong; a
//! header given twice where once is the rule (RFC 4475 §3.3.8) is copied from its
//! first line. Nothing is answered for a response, for ACK (RFC 3261 §17.1.1.3: never
//! answered), or when one of those five is missing or not one clean line (a bare CR
//! or LF, or another control character, inside it would break the answer itself).
//!
//! One owner: the user agent answers the frames its codec refuses with it, and
//! devcore the requests it cannot route.

use super::text::{find_any, find_str, is_token, push_decimal, trim};
use super::{warning_399, FramingError, HeaderName, ParseError};

impl ParseError {
    /// The status a UAS or proxy answers a request refused with this error: 505 for
    /// another SIP version (RFC 3261 §8.2.2, §21.5.6), 513 for a frame over the size
    /// limit (§21.5.14), 400 for everything else (§21.4.1).
    pub fn refusal_status(&self) -> (u16, &'static str) {
        match self {
            ParseError::UnsupportedVersion(_) => (505, "Version Not Supported"),
            ParseError::Framing(FramingError::TooLarge { .. }) => (513, "Message Too Large"),
            _ => (400, "Bad Request"),
        }
    }
}

/// The response to the request `frame`, which the codec refused with `error`, built
/// from the text of its header section: its Via lines, From, To (with `to_tag` added
/// when it has no tag), Call-ID and CSeq, and `Warning: 399 <agent> "<error>"`.
/// `None` when it must not or cannot be answered (module docs).
pub fn refusal(frame: &[u8], error: &ParseError, agent: &str, to_tag: &str) -> Option<String> {
    // The header section ends at the first empty line (or with the frame); leading
    // CRLFs are skipped (RFC 3261 §7.5). Only the header section need be UTF-8.
    let mut start = 0;
    while matches!(frame.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    let frame = frame.get(start..)?;
    let mut end = 0;
    while end < frame.len() && !frame[end..].starts_with(b"\r\n\r\n") {
        end += 1;
    }
    let mut rest = core::str::from_utf8(&frame[..end]).ok()?;
    let start_line = cut_line(&mut rest);
    // A response's first word is `SIP/2.0`, not a token: never answered.
    let method = &start_line[..find_any(start_line, b" ").unwrap_or(start_line.len())];
    if !is_token(method) || method == "ACK" {
        return None;
    }
    let mut vias = String::new();
    // From, To, Call-ID, CSeq: each from its first line.
    let mut copied: [Option<String>; 4] = [None, None, None, None];
    while !rest.is_empty() {
        let line = cut_line(&mut rest);
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match HeaderName::parse(trim(name)) {
            HeaderName::Via => None,
            HeaderName::From => Some(0),
            HeaderName::To => Some(1),
            HeaderName::CallId => Some(2),
            HeaderName::CSeq => Some(3),
            _ => continue,
        };
        let value = unfold(value)?;
        match slot {
            None => {
                vias.push_str("Via: ");
                vias.push_str(&value);
                vias.push_str("\r\n");
            }
            Some(i) => {
                copied[i].get_or_insert(value);
            }
        }
    }
    let [Some(from), Some(mut to), Some(call_id), Some(cseq)] = copied else {
        return None;
    };
    if vias.is_empty() {
        return None;
    }
    if find_str(&to.to_ascii_lowercase(), ";tag=").is_none() {
        to.push_str(";tag=");
        to.push_str(to_tag);
    }
    let (status, reason) = error.refusal_status();
    let mut out = String::with_capacity(vias.len() + 256);
    out.push_str("SIP/2.0 ");
    push_decimal(&mut out, status.into());
    out.push(' ');
    out.push_str(reason);
    out.push_str("\r\n");
    out.push_str(&vias);
    for (name, value) in [
        ("From: ", &from),
        ("To: ", &to),
        ("Call-ID: ", &call_id),
        ("CSeq: ", &cseq),
        ("Warning: ", &warning_399(agent, &error.to_string())),
    ] {
        out.push_str(name);
        out.push_str(value);
        out.push_str("\r\n");
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out)
}

/// The next header line of `rest` with its continuation lines (RFC 3261 §7.3.1: a
/// line starting with SP or HT continues the one before), and `rest` moved past it.
fn cut_line<'a>(rest: &mut &'a str) -> &'a str {
    let text = *rest;
    let mut end = 0;
    loop {
        match find_str(&text[end..], "\r\n") {
            Some(at) if matches!(text.as_bytes().get(end + at + 2), Some(b' ' | b'\t')) => {
                end += at + 2;
            }
            Some(at) => {
                *rest = &text[end + at + 2..];
                return &text[..end + at];
            }
            None => {
                *rest = "";
                return text;
            }
        }
    }
}

/// A header value as one line (each line break and the whitespace around it made one
/// space), or `None` when it is empty or holds another ASCII control character.
fn unfold(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    loop {
        let (line, more) = match find_str(rest, "\r\n") {
            Some(at) => (&rest[..at], Some(&rest[at + 2..])),
            None => (rest, None),
        };
        let line = trim(line);
        if !line.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        }
        match more {
            Some(more) => rest = more,
            None => break,
        }
    }
    let clean = !out.is_empty() && !out.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f);
    clean.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Message;

    fn refused(frame: &str) -> ParseError {
        Message::parse(frame.as_bytes()).expect_err("the codec refuses it")
    }

    #[test]
    fn a_content_length_that_lies_is_answered_400_with_the_request_headers() {
        let frame = "MESSAGE sip:bob@imsip.test SIP/2.0\r\n\
            Via: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n\
            v: SIP/2.0/WS b.invalid;branch=z9hG4bK2\r\n\
            f: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\n\
            i: lie-1\r\nCSeq: 7 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 500\r\n\r\nshort";
        let answer = refusal(frame.as_bytes(), &refused(frame), "imsip.test", "t1").unwrap();
        let r = Message::parse(answer.as_bytes()).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.header_all("Via").count(), 2);
        assert_eq!(r.call_id().unwrap(), "lie-1");
        assert_eq!(r.header("CSeq"), Some("7 MESSAGE"));
        assert_eq!(r.to().unwrap().tag(), Some("t1"), "the To gets our tag");
        assert_eq!(
            r.header("Warning"),
            Some(
                "399 imsip.test \"framing error: Content-Length 500 exceeds the 5 body bytes \
                 in the frame\""
            )
        );
    }

    #[test]
    fn another_version_is_answered_505_and_an_oversized_frame_513() {
        let frame =
            "OPTIONS sip:imsip.test SIP/7.0\r\nVia: SIP/7.0/WS a.invalid;branch=z9hG4bK1\r\n\
            From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:imsip.test>;tag=2\r\nCall-ID: v7\r\n\
            CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let answer = refusal(frame.as_bytes(), &refused(frame), "a", "t").unwrap();
        assert!(answer.starts_with("SIP/2.0 505 Version Not Supported\r\n"));
        assert!(
            answer.contains("\r\nTo: <sip:imsip.test>;tag=2\r\n"),
            "a tag is kept"
        );
        let too_large = ParseError::Framing(FramingError::TooLarge { len: 9, max: 8 });
        let answer = refusal(frame.as_bytes(), &too_large, "a", "t").unwrap();
        assert!(answer.starts_with("SIP/2.0 513 Message Too Large\r\n"));
    }

    #[test]
    fn folded_values_are_copied_as_one_line_and_a_folded_via_is_no_header() {
        let frame = "MESSAGE sip:b@b SIP/2.0 \r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>\r\n  ;tag=1\r\nX-Long: x\r\n Via: not a header\r\nTo: <sip:b@b>\r\n\
            Call-ID: a\r\nCSeq: 1\r\n\tMESSAGE\r\n\r\n";
        let answer = refusal(frame.as_bytes(), &refused(frame), "a", "t").unwrap();
        let r = Message::parse(answer.as_bytes()).unwrap();
        assert_eq!(r.header("From"), Some("<sip:a@b> ;tag=1"));
        assert_eq!(r.header("CSeq"), Some("1 MESSAGE"));
        assert_eq!(r.header_all("Via").count(), 1);
    }

    #[test]
    fn ack_responses_and_requests_missing_a_needed_header_are_not_answered() {
        let error = refused("x");
        let ack = "ACK sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\nCSeq: 1 ACK\r\n\r\n";
        assert!(refusal(ack.as_bytes(), &error, "d", "t").is_none());
        let response = "SIP/2.0 999 Big\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(refusal(response.as_bytes(), &error, "d", "t").is_none());
        let no_cseq = "OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\n\r\n";
        assert!(refusal(no_cseq.as_bytes(), &error, "d", "t").is_none());
        let bare_lf = "OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\nX: y\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(refusal(bare_lf.as_bytes(), &error, "d", "t").is_none());
        assert!(refusal(b"\xff\xfe garbage", &error, "d", "t").is_none());
        assert!(refusal(b"", &error, "d", "t").is_none());
        assert!(refusal(b"\r\n\r\n", &error, "d", "t").is_none());
    }

    #[test]
    fn a_header_given_twice_is_copied_from_its_first_line() {
        let two_cseqs = "OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n\r\n";
        // It frames; validation refuses it.
        let error = Message::parse(two_cseqs.as_bytes())
            .unwrap()
            .validate()
            .unwrap_err();
        let answer = refusal(two_cseqs.as_bytes(), &error, "d", "t").unwrap();
        let r = Message::parse(answer.as_bytes()).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.header("CSeq"), Some("1 OPTIONS"));
    }

    #[test]
    fn mangled_requests_never_panic_and_every_answer_parses() {
        // A valid request, mangled 20 000 times by a fixed pseudo-random sequence:
        // bytes changed, the frame cut, header lines inserted. Whatever comes back is a
        // response the codec reads, for the request's Call-ID.
        let request =
            "MESSAGE sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK1\r\n\
            From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:bob@imsip.test>\r\nCall-ID: m-1\r\n\
            CSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi";
        let error = refused("x");
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut answered = 0;
        for _ in 0..20_000 {
            let mut frame = request.as_bytes().to_vec();
            for _ in 0..1 + next(4) {
                match next(4) {
                    0 if !frame.is_empty() => {
                        let i = next(frame.len());
                        frame[i] = next(256) as u8;
                    }
                    1 => frame.truncate(next(frame.len() + 1)),
                    2 => {
                        let i = next(frame.len() + 1);
                        frame.splice(i..i, b"\r\nCSeq: 9 MESSAGE".iter().copied());
                    }
                    _ => {
                        let i = next(frame.len() + 1);
                        frame.splice(i..i, b"\r\n ".iter().copied());
                    }
                }
            }
            if let Some(answer) = refusal(&frame, &error, "imsip.test", "t") {
                let r = Message::parse(answer.as_bytes()).unwrap_or_else(|e| {
                    panic!("{e}: {answer:?} for {:?}", String::from_utf8_lossy(&frame))
                });
                assert_eq!(r.status(), Some(400));
                answered += 1;
            }
        }
        assert!(answered > 1_000, "only {answered} answered");
    }
}
