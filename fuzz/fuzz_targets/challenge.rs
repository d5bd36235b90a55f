//! Challenges from an arbitrary WWW-Authenticate value answered by a DigestSession.
//! Input: header value, then after the first NUL: method, NUL, URI, NUL, body.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0);
    let value = String::from_utf8_lossy(parts.next().unwrap_or_default());
    // Method and URI as the UA passes them: a token and a Request-URI's text.
    let method = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let token = |b: u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b);
    let method = if !method.is_empty() && method.bytes().all(token) {
        method.into_owned()
    } else {
        "REGISTER".to_owned()
    };
    let uri = String::from_utf8_lossy(parts.next().unwrap_or_default());
    let uri = imsip::message::Uri::parse(&uri)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| "sip:imsip.test".into());
    let body = parts.next().unwrap_or_default();
    imsip_fuzz::checks::check_challenge(&value, &method, &uri, body);
});
