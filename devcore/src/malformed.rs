//! Answering a request the codec refuses (RFC 3261 §8.2, §16.3 step 1; RFC 4475
//! §3.1.2): its sender learns at once why, instead of waiting for its transaction
//! to time out.
//!
//! A response needs only the Via, From, To, Call-ID and CSeq of the request, copied
//! (RFC 3261 §8.2.6.2), so they are looked for as text in the header section even
//! when the frame cannot be parsed into a message (a Content-Length that lies, a
//! malformed Request-URI, a CSeq number too large, a version other than SIP/2.0).
//! The status is 505 for the version (§8.2.2), 400 otherwise, with a `Warning: 399`
//! saying what is wrong; a header given twice where once is the rule (RFC 4475
//! §3.3.8) is copied from its first line. Nothing is answered when one of those five
//! is missing or not one clean line (a bare CR or LF in it would break the answer),
//! for ACK (§17.1.1.3: never answered), or for a response.

use imsip::message::{warning_399, ParseError};

/// The response to the refused request `frame` (`error` says why), or `None` when it
/// cannot or must not be answered.
pub(crate) fn answer(frame: &[u8], error: &ParseError, domain: &str) -> Option<Vec<u8>> {
    let head_end = find(frame, b"\r\n\r\n").unwrap_or(frame.len());
    let head = std::str::from_utf8(&frame[..head_end]).ok()?;
    let mut lines = unfolded(head.trim_start_matches("\r\n"));
    let start = lines.next()?;
    let method = start.split(' ').next().filter(|m| is_token(m))?;
    if method == "ACK" || method.starts_with("SIP/") {
        return None;
    }
    let mut vias = Vec::new();
    let [mut from, mut to, mut call_id, mut cseq] = [None, None, None, None];
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match name.trim().to_ascii_lowercase().as_str() {
            "via" | "v" => {
                vias.push(value.trim().to_owned());
                continue;
            }
            "from" | "f" => &mut from,
            "to" | "t" => &mut to,
            "call-id" | "i" => &mut call_id,
            "cseq" => &mut cseq,
            _ => continue,
        };
        slot.get_or_insert_with(|| value.trim().to_owned());
    }
    let (from, mut to, call_id, cseq) = (from?, to?, call_id?, cseq?);
    // Copied verbatim, so each must be one clean line: a bare CR or LF (or another
    // control character) inside a value would break the response itself.
    let clean = |v: &String| !v.is_empty() && !v.chars().any(|c| c.is_control() && c != '\t');
    if vias.is_empty() || !vias.iter().chain([&from, &to, &call_id, &cseq]).all(clean) {
        return None;
    }
    if !to.to_ascii_lowercase().contains(";tag=") {
        to.push_str(";tag=");
        to.push_str(&crate::util::random_hex(8));
    }
    let status = match error {
        ParseError::UnsupportedVersion(_) => "505 Version Not Supported",
        _ => "400 Bad Request",
    };
    let mut out = format!("SIP/2.0 {status}\r\n");
    for via in &vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    out.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\nWarning: {}\r\nContent-Length: 0\r\n\r\n",
        warning_399(domain, &error.to_string())
    ));
    Some(out.into_bytes())
}

/// The lines of a header section, folded lines joined (RFC 3261 §7.3.1).
fn unfolded(head: &str) -> impl Iterator<Item = String> + '_ {
    let mut lines = head.split("\r\n").peekable();
    std::iter::from_fn(move || {
        let mut line = lines.next()?.to_owned();
        while let Some(next) = lines.next_if(|l| l.starts_with([' ', '\t'])) {
            line.push(' ');
            line.push_str(next.trim_start());
        }
        Some(line)
    })
}

/// RFC 3261 §25.1 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use imsip::message::Message;

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
        let answer = answer(frame.as_bytes(), &refused(frame), "imsip.test").unwrap();
        let r = Message::parse(&answer).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.header_all("Via").count(), 2);
        assert_eq!(r.call_id().unwrap(), "lie-1");
        assert_eq!(r.header("CSeq"), Some("7 MESSAGE"));
        assert!(r.to().unwrap().tag().is_some(), "the To gets a tag");
        assert!(r
            .header("Warning")
            .unwrap()
            .starts_with("399 imsip.test \""));
    }

    #[test]
    fn another_version_is_answered_505() {
        let frame =
            "OPTIONS sip:imsip.test SIP/7.0\r\nVia: SIP/7.0/WS a.invalid;branch=z9hG4bK1\r\n\
            From: <sip:alice@imsip.test>;tag=1\r\nTo: <sip:imsip.test>\r\nCall-ID: v7\r\n\
            CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let answer = answer(frame.as_bytes(), &refused(frame), "imsip.test").unwrap();
        assert!(answer.starts_with(b"SIP/2.0 505 Version Not Supported\r\n"));
    }

    #[test]
    fn ack_responses_and_requests_missing_a_needed_header_are_not_answered() {
        let error = refused("x");
        let ack = "ACK sip:bob@imsip.test SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\nCSeq: 1 ACK\r\n\r\n";
        assert!(answer(ack.as_bytes(), &error, "d").is_none());
        let response = "SIP/2.0 999 Big\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\n\r\n";
        assert!(answer(response.as_bytes(), &error, "d").is_none());
        let no_cseq = "OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\n\r\n";
        assert!(answer(no_cseq.as_bytes(), &error, "d").is_none());
        assert!(answer(b"\xff\xfe garbage", &error, "d").is_none());
    }

    #[test]
    fn mangled_requests_never_panic_and_every_answer_parses() {
        // A valid request, mangled 20 000 times by a fixed pseudo-random sequence:
        // bytes flipped, cut, lines doubled. Whatever comes back is a response the
        // codec reads, for the request's Call-ID.
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
                match next(3) {
                    0 if !frame.is_empty() => {
                        let i = next(frame.len());
                        frame[i] = next(256) as u8;
                    }
                    0 => {}
                    1 => frame.truncate(next(frame.len() + 1)),
                    _ => {
                        let i = next(frame.len() + 1);
                        frame.splice(i..i, b"\r\nCSeq: 9 MESSAGE".iter().copied());
                    }
                }
            }
            if let Some(bytes) = answer(&frame, &error, "imsip.test") {
                let r = Message::parse(&bytes).unwrap_or_else(|e| {
                    panic!(
                        "{e}: {:?} for {:?}",
                        String::from_utf8_lossy(&bytes),
                        String::from_utf8_lossy(&frame)
                    )
                });
                assert!(matches!(r.status(), Some(400 | 505)));
                answered += 1;
            }
        }
        assert!(answered > 1_000, "only {answered} answered");
    }

    #[test]
    fn a_header_given_twice_is_copied_from_its_first_line() {
        let two_cseqs = "OPTIONS sip:b SIP/2.0\r\nVia: SIP/2.0/WS a;branch=z9hG4bK1\r\n\
            From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\nCall-ID: a\r\nCSeq: 1 OPTIONS\r\nCSeq: 2 OPTIONS\r\n\r\n";
        // It frames; validation refuses it (and its CSeq cannot be read as one).
        let error = Message::parse(two_cseqs.as_bytes())
            .unwrap()
            .validate()
            .unwrap_err();
        let answer = answer(two_cseqs.as_bytes(), &error, "d").unwrap();
        let r = Message::parse(&answer).unwrap();
        assert_eq!(r.status(), Some(400));
        assert_eq!(r.header("CSeq"), Some("1 OPTIONS"));
    }
}
