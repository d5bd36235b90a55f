//! Instant-messaging documents beyond the SIP message itself.
//!
//! - [`history`]: the conversation history an IM Server keeps for a user whose
//!   history setting is active, and the query a client sends for it.

pub mod history;
