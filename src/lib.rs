//! # imsip
//!
//! An OMA IM (SIMPLE) client speaking SIP over WebSocket (RFC 7118), built as a
//! **sans-IO core** under a thin WebAssembly binding.
//!
//! - [`message`]: the SIP message codec (parse a WebSocket frame, typed header
//!   reads, build requests and responses).
//! - [`auth`]: HTTP/SIP digest (RFC 2617/7616/8760) and IMS AKA (RFC 3310/4169,
//!   Milenage).
//! - [`msrp`]: the MSRP codec (RFC 4975/4976/7977 frames, URIs, streaming parser) and
//!   the sans-IO MSRP session engine ([`msrp::session`]).
//! - [`sdp`]: session descriptions as MSRP sessions use them (RFC 8866, RFC 4975 §8).
//! - [`im`]: CPIM, IMDN, isComposing and IM history documents.
//! - [`ua`]: the sans-IO user agent.
//! - [`settings`]: OMA IM `application/service-settings+xml` and RFC 4354
//!   `application/poc-settings+xml` documents.
//!
//! Nothing in these modules touches a socket, a clock or a random source of its
//! own: time, frames and randomness are passed in.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod client;
pub mod im;
pub mod message;
pub mod msrp;
pub mod sdp;
pub mod settings;
pub mod ua;

#[cfg(target_arch = "wasm32")]
pub mod js;

/// The crate version, as used in the default `User-Agent` product token.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
