//! Why an operation failed.

use crate::auth::AuthError;
use crate::settings::SettingsError;
use core::fmt;

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
    /// A final non-2xx response, from the core or from the peer through it.
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
    /// The app cancelled the INVITE (`cancel_session`) before it was answered
    /// (RFC 3261 §9.1: the peer's 487 Request Terminated, or no final response
    /// within 64·T1 of the CANCEL).
    Cancelled,
}

impl UaError {
    /// Stable machine-readable code: `auth_failed`, `network_auth_failed`, `timeout`,
    /// `transport`, `rejected`, `unsupported_event`, `invalid_state`, `bad_input`,
    /// `bad_response`, `cancelled`.
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
            UaError::Cancelled => "cancelled",
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
            // The final response may be the core's or, relayed by it, the peer's (a 486
            // from the callee): the text does not say whose.
            UaError::Rejected { status, reason, .. } => write!(f, "rejected: {status} {reason}"),
            UaError::UnsupportedEvent { package, status } => {
                write!(
                    f,
                    "the core does not support the {package} event package ({status})"
                )
            }
            UaError::InvalidState(s) => write!(f, "not possible now: {s}"),
            UaError::BadInput(s) => write!(f, "invalid input: {s}"),
            UaError::BadResponse(s) => write!(f, "unusable response from the core: {s}"),
            UaError::Cancelled => f.write_str("the session was cancelled before it was answered"),
        }
    }
}

impl std::error::Error for UaError {}
