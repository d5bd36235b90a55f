//! The sans-IO user agent: Registerer, Publisher, Subscriber and Messager over
//! one SIP-over-WebSocket flow (RFC 7118), with flow recovery (RFC 5626).
//!
//! It never touches a socket, a clock, a timer or a random source of its own. The
//! caller owns those and runs this loop:
//!
//! ```text
//!   app command ──► ua.register(now) / ua.send_message(now, ..) ─┐  (returns an OpId)
//!   socket opened ─► ua.handle_input(now, Input::Connected)      │
//!   frame arrived ─► ua.handle_input(now, Input::Frame(text))    ├─► then drain:
//!   socket closed ─► ua.handle_input(now, Input::Disconnected)   │   while let Some(o) = ua.poll_output() {
//!   timer fired ───► ua.handle_input(now, Input::Timeout)       ─┘     Transmit(frame) → socket.send(frame)
//!                                                                      Connect / Close → open / close socket
//!                                                                      Timeout(at)     → re-arm the one timer
//!                                                                      Event(e)        → tell the app }
//! ```
//!
//! Time is milliseconds on any monotonic clock the caller likes.
//!
//! ```
//! use imsip::ua::{Config, Input, Output, UserAgent};
//! use imsip::auth::{Credentials, RandomSource};
//! struct Rng(u64);
//! impl RandomSource for Rng {
//!     fn fill(&mut self, buf: &mut [u8]) {
//!         for b in buf { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1); *b = (self.0 >> 33) as u8; }
//!     }
//! }
//! let mut cfg = Config::new("ws://127.0.0.1:8088/sip", "sip:alice@imsip.test").unwrap();
//! cfg.credentials = Some(Credentials::password("alice@imsip.test", "alice-secret"));
//! let mut ua = UserAgent::new(cfg, Box::new(Rng(7)));
//! let _op = ua.register(0);
//! assert!(matches!(ua.poll_output(), Some(Output::Connect)));
//! ua.handle_input(5, Input::Connected);
//! let mut sent = Vec::new();
//! while let Some(o) = ua.poll_output() {
//!     if let Output::Transmit(frame) = o { sent.push(frame) }
//! }
//! assert!(sent[0].starts_with("REGISTER sip:imsip.test SIP/2.0\r\n"));
//! ```
//!
//! ## Registration states
//!
//! ```text
//!   Unregistered ──register()──► Registering ──200──► Registered ──refresh timer──► Refreshing
//!        ▲                          │  401/407: answer once per challenge             │ 200 ─┘ (back to Registered)
//!        │                          │  423: retry with Min-Expires                    │
//!        │                          ▼                                                 ▼
//!        └──────────────────── Failed (auth_failed, rejected, timeout, transport) ◄───┘
//!   Registered ──unregister()──► Unregistering ──200──► Unregistered
//!   any ──Disconnected──► (flow lost: pending work fails with `transport`, reconnect with backoff,
//!                          re-REGISTER first, then publications and subscriptions, then queued work)
//! ```
//! Only one REGISTER is in flight; a refresh or unregister asked for meanwhile waits.

mod authn;
mod core;
mod types;

pub use self::core::UserAgent;
pub use types::*;
