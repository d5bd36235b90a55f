//! Instant-messaging documents beyond the SIP message itself.
//!
//! - [`cpim`]: `message/cpim` (RFC 3862), the envelope of page-mode messages that
//!   carry IMDN requests and other namespaced metadata.
//! - [`history`]: the conversation history an IM Server keeps for a user whose
//!   history setting is active, and the query a client sends for it.
//! - [`imdn`]: RFC 5438 disposition notifications (`message/imdn+xml`, delivered /
//!   displayed / processed receipts) and the CPIM headers that ask for them.
//! - [`iscomposing`]: RFC 3994 composition indications
//!   (`application/im-iscomposing+xml`, "is typing") and the RFC's timer values.

pub mod cpim;
pub mod history;
pub mod imdn;
pub mod iscomposing;
