//! The user agent's configuration.

use super::api::Millis;
use super::api::{check_extra_headers, has_control, OWN_HEADERS_ANY};
use super::error::UaError;
use crate::auth::Credentials;
use crate::message::check_call_id;
use crate::message::text::{is_token_byte, is_wsp, trim};
use crate::message::{Uri, UriError};
use crate::settings::ServiceSettings;
use core::fmt;

/// What `register()` does about service settings after the 200 (the seed, step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PublishPolicy {
    /// Publish the configured settings after every successful initial registration.
    Always,
    /// Fetch the server's settings first (SUBSCRIBE, Expires 0) and publish only when
    /// it has none; otherwise adopt the server's and report them.
    #[default]
    IfAbsent,
    /// Publish only when the app asks.
    Never,
}

/// The user agent's configuration.
pub struct Config {
    /// WebSocket URL of the core (`ws://` or `wss://`): chooses Via `WS` or `WSS`.
    pub server: String,
    /// Further WebSocket URLs of the same core (other edge proxies), same scheme as
    /// `server`: a connection that fails before it opens is followed by one to the
    /// next URL (after the backoff, round the list); after a connection that opened
    /// is lost, the next goes to `server` again. [`UserAgent::server`](super::UserAgent::server)
    /// says which URL an `Output::Connect` is for.
    pub alternate_servers: Vec<String>,
    /// The public identity (address of record).
    pub aor: Uri,
    /// Credentials (private identity + password, HA1 or AKA keys).
    pub credentials: Option<Credentials>,
    /// Display name used in From and P-Preferred-Identity.
    pub display_name: Option<String>,
    /// The app's product token, appended after `IM-client/OMA1.0 imsip/<version>`.
    pub user_agent: Option<String>,
    /// Requested registration expiry in seconds (default 600).
    pub expires: u32,
    /// `+sip.instance` URN (RFC 5626); random `urn:uuid:` when `None`. Persist it.
    pub instance_id: Option<String>,
    /// Call-ID of the registration; random when `None`. Persist it across reloads.
    pub call_id: Option<String>,
    /// The first REGISTER uses CSeq `register_cseq_start + 1` (default 0). Only used
    /// with a persisted `call_id`; most apps persist `instance_id` alone and let each
    /// page load pick a fresh Call-ID (the registrar then replaces the binding by
    /// instance and reg-id, RFC 5626 §6, and no CSeq can ever be re-used).
    pub register_cseq_start: u32,
    /// REGISTER's Request-URI: a sip: or sips: URI without a user part (RFC 3261
    /// §10.2); `sip:<domain of the AoR>` when `None` (3GPP TS 24.229 §5.1.1.2.1: the
    /// home network's domain). For a core whose registrar domain is not the AoR's.
    pub registrar: Option<Uri>,
    /// Send the IMS initial Authorization (empty response) in the first REGISTER
    /// (3GPP TS 24.229 §5.1.1.2.1; the seed's step 1). Default: true for AKA credentials.
    pub ims_initial_authorization: bool,
    /// CRLF keep-alive interval in seconds (RFC 5626 §4.4.1); 0 turns it off. Default 30.
    /// A `Flow-Timer` in the REGISTER 200 replaces it (a random point in 80–100 % of it).
    pub keep_alive_interval: u32,
    /// How long to wait for the pong before declaring the flow dead, in ms (default
    /// 10 000). Pongs are only required when the registrar negotiated outbound
    /// (`Require: outbound`) or sent `Flow-Timer` (RFC 5626 §4.4.1); otherwise pings
    /// are still sent (they keep NAT bindings alive) but a missing pong is ignored.
    pub keep_alive_timeout: Millis,
    /// How long opening the WebSocket may take, in ms (default 10 000): a socket that
    /// has neither opened nor failed by then is closed and counts as a failed
    /// connect (the backoff below, then a new attempt). `imsip::client` bounds each
    /// MSRP relay socket by the same time.
    pub connect_timeout: Millis,
    /// Backoff base time in ms (default 500): the wait before reconnecting or
    /// re-registering after `n` consecutive failures is
    /// `min(max, base · 2^n)`, randomised to 50–100 % (RFC 5626 §4.5). The RFC's
    /// own values are 30 000 (base) and 1 800 000 (max); the defaults suit a
    /// browser tab, whose user is looking at it.
    pub reconnect_min_delay: Millis,
    /// Backoff max time in ms (default 30 000).
    pub reconnect_max_delay: Millis,
    /// How long app work (a MESSAGE, a PUBLISH...) waits for a registration that is
    /// in progress or retrying before failing with `timeout`, in ms (default 32 000).
    pub work_wait_timeout: Millis,
    /// Content types the app accepts in incoming MESSAGEs (`type/subtype`, or
    /// `type/*`); others are answered 415 with `Accept` (RFC 3261 §21.4.16).
    /// Empty (the default) accepts every type.
    pub accept_types: Vec<String>,
    /// Answer delivery-notification requests by itself (RFC 5438 `positive-delivery`:
    /// `<delivered/>` once the message is handed to the app). Default true.
    pub auto_delivery: bool,
    /// The `<refresh>` of our "active" composition indications, in seconds (RFC
    /// 3994 §3.2; at least 60; default 120). While the user keeps composing, "active"
    /// is sent again a little before it lapses, and never more often.
    pub composing_refresh: u32,
    /// Seconds without composing activity after which "idle" is sent (RFC 3994 §3.2:
    /// 15 by default).
    pub composing_idle_timeout: u32,
    /// Timer F: how long a non-INVITE transaction waits for a final response, in ms
    /// (default 64·T1 = 32 000, RFC 3261 §17.1.2.2).
    pub transaction_timeout: Millis,
    /// Settings the app wants published (used by the publish policy).
    pub service_settings: Option<ServiceSettings>,
    /// What to do about settings after registering.
    pub publish_policy: PublishPolicy,
    /// Requested PUBLISH expiry in seconds (default 3600).
    pub publish_expires: u32,
    /// Requested watch SUBSCRIBE expiry in seconds (default 3600).
    pub subscribe_expires: u32,
    /// Frames larger than this (bytes) are refused without being parsed, and a
    /// request of ours that large is not sent: its operation fails `bad_input`
    /// (default 64 KiB, what cores take: RFC 3261 §21.5.14's 513).
    pub max_frame_size: usize,
    /// Header fields added to every request and response the user agent writes
    /// (REGISTER and its refreshes included), `(name, value)` in order: what a core
    /// may require on everything (JsSIP's `extra_headers`), e.g. an access-network
    /// header or a token. After any [`MessageOptions::extra_headers`](super::MessageOptions::extra_headers).
    /// A name must be a token, not one the user agent writes itself
    /// ([`OWN_HEADERS`](super::OWN_HEADERS), [`OWN_HEADERS_ANY`](super::OWN_HEADERS_ANY));
    /// a value one line; written out, the list takes at most a quarter of
    /// `max_frame_size`: [`Config::validate`].
    pub extra_headers: Vec<(String, String)>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("aor", &self.aor.as_str())
            .field("credentials", &self.credentials)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration with the defaults above. Fails when `server` is not a
    /// ws:// or wss:// URL or `aor` is not a sip:/sips: URI with a user and host.
    pub fn new(server: &str, aor: &str) -> Result<Config, UaError> {
        if !is_ws_url(server) {
            return Err(UaError::BadInput(
                "server: must be a ws:// or wss:// URL".into(),
            ));
        }
        let aor = Uri::parse(aor).map_err(|e: UriError| UaError::BadInput(format!("aor: {e}")))?;
        if !aor.is_sip() || aor.user().is_none() || aor.host().is_none() {
            return Err(UaError::BadInput(
                "aor: must be a sip: URI with user and host".into(),
            ));
        }
        Ok(Config {
            server: server.to_owned(),
            alternate_servers: Vec::new(),
            aor,
            credentials: None,
            display_name: None,
            user_agent: None,
            expires: 600,
            instance_id: None,
            call_id: None,
            register_cseq_start: 0,
            registrar: None,
            ims_initial_authorization: false,
            keep_alive_interval: 30,
            keep_alive_timeout: 10_000,
            connect_timeout: 10_000,
            reconnect_min_delay: 500,
            reconnect_max_delay: 30_000,
            work_wait_timeout: 32_000,
            accept_types: Vec::new(),
            auto_delivery: true,
            composing_refresh: crate::im::iscomposing::DEFAULT_REFRESH_SECS,
            composing_idle_timeout: crate::im::iscomposing::IDLE_TIMEOUT_SECS,
            transaction_timeout: 32_000,
            service_settings: None,
            publish_policy: PublishPolicy::IfAbsent,
            publish_expires: 3600,
            subscribe_expires: 3600,
            max_frame_size: 64 * 1024,
            extra_headers: Vec::new(),
        })
    }

    /// Checks the values the user agent copies into its requests as they are, so
    /// that every request it writes is well-formed; the error names the field (as
    /// the JS options do). Call it before [`UserAgent::new`](super::UserAgent::new),
    /// which takes the configuration as it is (invalid `extra_headers` are then left
    /// out).
    /// - `display_name`: one line without control characters (a `quoted-string`,
    ///   RFC 3261 §25.1; quotes and backslashes are escaped when written);
    /// - `user_agent`: product tokens (`name/version`) and `(comments)`, RFC 3261
    ///   §20.41;
    /// - `instance_id`: a URN (RFC 5626 §4.1, RFC 8141), optionally in `<>`;
    /// - `call_id`: `word["@"word]` (RFC 3261 §25.1);
    /// - `extra_headers`: see the field;
    /// - `alternate_servers`: `ws://` or `wss://` URLs, the scheme of `server`;
    /// - `registrar`: a sip: or sips: URI without a user part.
    pub fn validate(&self) -> Result<(), UaError> {
        let bad = |m: &str| Err(UaError::BadInput(m.into()));
        let secure = |url: &str| url.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("wss:"));
        if self
            .alternate_servers
            .iter()
            .any(|url| !is_ws_url(url) || secure(url) != secure(&self.server))
        {
            // One Via transport (WS or WSS) for the flow, whichever URL it goes to.
            return bad("server: every URL must be ws://, or every one wss://");
        }
        if self.display_name.as_deref().is_some_and(has_control) {
            return bad("displayName: must be one line without control characters");
        }
        if self
            .user_agent
            .as_deref()
            .is_some_and(|u| !is_server_vals(u))
        {
            return bad(
                "userAgent: must be product tokens (name/version) and (comments), \
                 RFC 3261 §20.41",
            );
        }
        if self.instance_id.as_deref().is_some_and(|i| !is_urn(i)) {
            return bad("instanceId: must be a URN such as urn:uuid:… (RFC 5626 §4.1)");
        }
        if self
            .call_id
            .as_deref()
            .is_some_and(|c| c.is_empty() || trim(c) != c || check_call_id(c).is_err())
        {
            return bad("callId: must be word or word@word (RFC 3261 §25.1)");
        }
        if self
            .registrar
            .as_ref()
            .is_some_and(|r| !r.is_sip() || r.user().is_some() || r.host().is_none())
        {
            return bad(
                "registrar: must be a sip: or sips: URI without a user part (RFC 3261 §10.2)",
            );
        }
        check_extra_headers(
            &self.extra_headers,
            OWN_HEADERS_ANY,
            self.max_frame_size / 4,
        )
        .map(drop)
    }
}

/// A `ws://` or `wss://` URL with something after the scheme.
fn is_ws_url(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("ws://")
        .or_else(|| lower.strip_prefix("wss://"));
    // A host, and no white space or control character anywhere (RFC 3986 has
    // none in a URI: `ws://a\r\n/sip` is not a URL with a line break in it).
    rest.is_some_and(|r| {
        r.split(['/', '?', '#'])
            .next()
            .is_some_and(|a| !a.is_empty())
            && !url.bytes().any(|b| b <= b' ' || b == 0x7f)
    })
}

/// `server-val *(LWS server-val)` (RFC 3261 §25.1: User-Agent, Server): products
/// `token [SLASH token]` and comments `"(" *(ctext / quoted-pair / comment) ")"`.
fn is_server_vals(s: &str) -> bool {
    let b = s.as_bytes();
    let skip_wsp = |mut i: usize| {
        while b.get(i).copied().is_some_and(is_wsp) {
            i += 1;
        }
        i
    };
    let skip_token = |mut i: usize| {
        while b.get(i).copied().is_some_and(is_token_byte) {
            i += 1;
        }
        i
    };
    let mut i = skip_wsp(0);
    if i == b.len() {
        return false;
    }
    while i < b.len() {
        if b[i] == b'(' {
            let mut depth = 0usize;
            loop {
                let Some(&c) = b.get(i) else {
                    return false;
                };
                i += 1;
                match c {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b'\\'
                        if b.get(i)
                            .is_some_and(|q| *q != b'\r' && *q != b'\n' && *q < 0x80) =>
                    {
                        i += 1
                    }
                    c if (c < 0x20 && c != b'\t') || c == 0x7f || c == b'\\' => return false,
                    _ => {}
                }
            }
        } else {
            let end = skip_token(i);
            if end == i {
                return false;
            }
            i = end;
            let slash = skip_wsp(i);
            if b.get(slash) == Some(&b'/') {
                let version = skip_wsp(slash + 1);
                i = skip_token(version);
                if i == version {
                    return false;
                }
            }
        }
        // Server-vals are separated by LWS; a comment may follow a product at once.
        let next = skip_wsp(i);
        if next == i && next < b.len() && b[next] != b'(' {
            return false;
        }
        i = next;
    }
    true
}

/// A URN (RFC 8141 §2: `"urn:" NID ":" NSS`), optionally in angle brackets: what
/// `+sip.instance="<…>"` can carry without breaking its quoted string.
fn is_urn(s: &str) -> bool {
    let s = s
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s);
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let Some((nid, nss)) = rest.split_once(':') else {
        return false;
    };
    let nid_ok = (2..=32).contains(&nid.len())
        && nid.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        && !nid.starts_with('-')
        && !nid.ends_with('-');
    let nss_ok = !nss.is_empty()
        && nss
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"()+,-.:=@;$_!*'%/?#~&".contains(&c));
    scheme.eq_ignore_ascii_case("urn") && nid_ok && nss_ok
}
