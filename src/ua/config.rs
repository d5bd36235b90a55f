//! The user agent's configuration.

use super::api::Millis;
use super::error::UaError;
use crate::auth::Credentials;
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
    /// Registrar URI; `sip:<domain of the AoR>` when `None`.
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
    /// Frames larger than this (bytes) are refused without being parsed (default 64 KiB).
    pub max_frame_size: usize,
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
        let lower = server.to_ascii_lowercase();
        if !(lower.starts_with("ws://") || lower.starts_with("wss://")) || server.len() <= 6 {
            return Err(UaError::BadInput(
                "server must be a ws:// or wss:// URL".into(),
            ));
        }
        let aor = Uri::parse(aor).map_err(|e: UriError| UaError::BadInput(format!("aor: {e}")))?;
        if !aor.is_sip() || aor.user().is_none() || aor.host().is_none() {
            return Err(UaError::BadInput(
                "aor must be a sip: URI with user and host".into(),
            ));
        }
        Ok(Config {
            server: server.to_owned(),
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
        })
    }
}
