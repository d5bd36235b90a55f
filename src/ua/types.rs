//! Configuration, inputs, outputs, events and errors of the user agent.

use crate::auth::{AuthError, Credentials};
use crate::message::{Uri, UriError};
use crate::settings::{ServiceSettings, SettingsError};
use core::fmt;

/// Milliseconds on the caller's monotonic clock.
pub type Millis = u64;

/// Identifies an operation started by a command; its outcome arrives once as
/// [`Event::Completed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u64);

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
    /// The first REGISTER uses CSeq `register_cseq_start + 1` (default 0). When the
    /// Call-ID is persisted across page loads, pass a value that grows with wall-clock
    /// time (seconds since some epoch) so the registrar never sees the CSeq of that
    /// Call-ID go backwards (RFC 3261 §10.3 step 7 answers that with 500).
    pub register_cseq_start: u32,
    /// Registrar URI; `sip:<domain of the AoR>` when `None`.
    pub registrar: Option<Uri>,
    /// Send the IMS initial Authorization (empty response) in the first REGISTER
    /// (3GPP TS 24.229 §5.1.1.2.1; the seed's step 1). Default: true for AKA credentials.
    pub ims_initial_authorization: bool,
    /// CRLF keep-alive interval in seconds (RFC 5626 §4.4.1); 0 turns it off. Default 30.
    pub keep_alive_interval: u32,
    /// How long to wait for the pong before declaring the flow dead, in ms (default 10 000).
    pub keep_alive_timeout: Millis,
    /// First reconnect delay in ms (default 500); doubles per failed attempt.
    pub reconnect_min_delay: Millis,
    /// Largest reconnect delay in ms (default 30 000).
    pub reconnect_max_delay: Millis,
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
            reconnect_min_delay: 500,
            reconnect_max_delay: 30_000,
            transaction_timeout: 32_000,
            service_settings: None,
            publish_policy: PublishPolicy::IfAbsent,
            publish_expires: 3600,
            subscribe_expires: 3600,
            max_frame_size: 64 * 1024,
        })
    }
}

/// What the caller feeds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input<'a> {
    /// The WebSocket opened.
    Connected,
    /// A frame arrived (text).
    Frame(&'a str),
    /// The WebSocket closed or failed.
    Disconnected,
    /// The timer armed by [`Output::Timeout`] fired (early or late is fine).
    Timeout,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this frame on the WebSocket.
    Transmit(String),
    /// Open the WebSocket (subprotocol `sip`).
    Connect,
    /// Close the WebSocket.
    Close,
    /// Call `handle_input(now, Input::Timeout)` at this time (replaces any earlier request).
    Timeout(Millis),
    /// Tell the app.
    Event(Event),
}

/// The state of the WebSocket flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the socket.
    Connecting,
    /// Open.
    Connected,
    /// Closed; `retry_in` ms until the next attempt when reconnecting.
    Disconnected {
        /// Delay before the next attempt, if one is scheduled.
        retry_in: Option<Millis>,
    },
}

/// Registration state reported to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Not registered.
    Unregistered,
    /// A REGISTER is in progress.
    Registering,
    /// Registered.
    Registered,
    /// Registration failed (see the error).
    Failed,
}

/// A registration change with what the registrar returned (RFC 3608, RFC 7315).
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// The new state.
    pub state: RegistrationState,
    /// Granted expiry in seconds.
    pub expires: Option<u32>,
    /// All contacts bound to the AoR, as returned in the 200.
    pub contacts: Vec<String>,
    /// Service-Route URIs (used as Route of later requests).
    pub service_route: Vec<String>,
    /// P-Associated-URI values.
    pub associated_uris: Vec<String>,
    /// Our public GRUU, when the registrar assigned one (RFC 5627).
    pub pub_gruu: Option<String>,
    /// Why it failed, when `state` is `Failed`.
    pub error: Option<UaError>,
}

/// A pager-mode MESSAGE received (RFC 3428).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// Sender URI.
    pub from: String,
    /// Sender display name.
    pub display_name: Option<String>,
    /// To URI.
    pub to: String,
    /// Content-Type (default `text/plain`).
    pub content_type: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Where a settings event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsSource {
    /// A NOTIFY of a watch subscription.
    Notify,
    /// The publish policy adopted the server's settings instead of publishing.
    Adopted,
}

/// What the publish policy did after registering.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyOutcome {
    /// The app's settings were published.
    Published {
        /// SIP-ETag.
        etag: String,
    },
    /// The server already had settings; they were adopted (not overwritten).
    Adopted,
    /// The server has none and the app configured none: nothing to do.
    NothingToPublish,
    /// The core does not support the settings package or the step failed.
    Failed(UaError),
}

/// Successful outcomes of operations.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `register()` succeeded.
    Registered(Registration),
    /// `unregister()` succeeded.
    Unregistered,
    /// `publish_settings()` succeeded.
    Published {
        /// SIP-ETag.
        etag: String,
        /// Granted expiry (s).
        expires: u32,
    },
    /// `remove_settings()` succeeded.
    Removed,
    /// `fetch_settings()`: the server's document, `None` when it has none.
    Settings(Option<ServiceSettings>),
    /// `watch_settings()` / `unwatch_settings()` succeeded.
    Subscribed {
        /// Granted expiry (s); 0 after unwatch.
        expires: u32,
    },
    /// `send_message()`: the final response.
    MessageSent {
        /// Status code (2xx).
        status: u16,
        /// Reason phrase.
        reason: String,
    },
}

/// Something for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The flow changed state.
    Connection(ConnectionState),
    /// Registration changed.
    Registration(Registration),
    /// A MESSAGE arrived.
    Message(IncomingMessage),
    /// Settings arrived (NOTIFY of a watch, or adopted by the policy).
    ServiceSettings {
        /// The document.
        settings: ServiceSettings,
        /// Where it came from.
        source: SettingsSource,
    },
    /// The watch subscription ended (Subscription-State: terminated).
    WatchTerminated {
        /// The reason parameter.
        reason: Option<String>,
    },
    /// What the publish policy did.
    Policy(PolicyOutcome),
    /// An operation finished (exactly once per OpId).
    Completed {
        /// The operation.
        op: OpId,
        /// Its result.
        result: Result<Outcome, UaError>,
    },
    /// A frame from the core could not be used (malformed, oversize); nothing else changed.
    Dropped {
        /// Why.
        reason: String,
    },
}

/// Why an operation failed. `code()` gives the stable string the JS API exposes.
#[derive(Debug, Clone, PartialEq)]
pub enum UaError {
    /// Credentials refused (a second challenge after an answer), or no usable challenge.
    AuthFailed {
        /// What happened.
        detail: String,
    },
    /// AKA: the network failed to authenticate (MAC-A mismatch).
    NetworkAuthFailed,
    /// No final response within Timer F, or no NOTIFY in time.
    Timeout,
    /// The flow broke before the operation finished.
    Transport,
    /// A final non-2xx response.
    Rejected {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Retry-After seconds, when given.
        retry_after: Option<u32>,
    },
    /// The core does not support the event package (489 / 501 / 405).
    UnsupportedEvent {
        /// The package (`service-settings`).
        package: String,
        /// Status code.
        status: u16,
    },
    /// The command is not possible now (e.g. remove with nothing published, closed).
    InvalidState(String),
    /// The command's input is invalid (names the field).
    BadInput(String),
    /// The core answered something unusable (bad XML, malformed header).
    BadResponse(String),
}

impl UaError {
    /// Stable machine-readable code: `auth_failed`, `network_auth_failed`, `timeout`,
    /// `transport`, `rejected`, `unsupported_event`, `invalid_state`, `bad_input`,
    /// `bad_response`.
    pub fn code(&self) -> &'static str {
        match self {
            UaError::AuthFailed { .. } => "auth_failed",
            UaError::NetworkAuthFailed => "network_auth_failed",
            UaError::Timeout => "timeout",
            UaError::Transport => "transport",
            UaError::Rejected { .. } => "rejected",
            UaError::UnsupportedEvent { .. } => "unsupported_event",
            UaError::InvalidState(_) => "invalid_state",
            UaError::BadInput(_) => "bad_input",
            UaError::BadResponse(_) => "bad_response",
        }
    }

    /// The SIP status that caused it, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            UaError::Rejected { status, .. } | UaError::UnsupportedEvent { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    pub(crate) fn from_auth(e: AuthError) -> UaError {
        match e {
            AuthError::NetworkAuthFailed => UaError::NetworkAuthFailed,
            other => UaError::AuthFailed {
                detail: other.to_string(),
            },
        }
    }

    pub(crate) fn from_settings(e: SettingsError) -> UaError {
        UaError::BadResponse(format!("service settings: {e}"))
    }
}

impl fmt::Display for UaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UaError::AuthFailed { detail } => write!(f, "authentication failed: {detail}"),
            UaError::NetworkAuthFailed => {
                f.write_str("the network failed AKA authentication (MAC mismatch)")
            }
            UaError::Timeout => f.write_str("no response from the core in time"),
            UaError::Transport => f.write_str("the connection to the core was lost"),
            UaError::Rejected { status, reason, .. } => {
                write!(f, "rejected by the core: {status} {reason}")
            }
            UaError::UnsupportedEvent { package, status } => {
                write!(
                    f,
                    "the core does not support the {package} event package ({status})"
                )
            }
            UaError::InvalidState(s) => write!(f, "not possible now: {s}"),
            UaError::BadInput(s) => write!(f, "invalid input: {s}"),
            UaError::BadResponse(s) => write!(f, "unusable response from the core: {s}"),
        }
    }
}

impl std::error::Error for UaError {}
