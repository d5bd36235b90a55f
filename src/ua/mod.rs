//! The sans-IO user agent: Registerer, Publisher, Subscriber, Messager and
//! Sessions over one SIP-over-WebSocket flow (RFC 7118), with flow recovery
//! (RFC 5626).
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
//! ## The parts
//!
//! ```text
//!  agent.rs        UserAgent: routes inputs, folds deadlines, orders recovery, publish policy
//!   ├ flow.rs        the WebSocket flow: connect, CRLF keep-alive, backoff (RFC 5626 §4.4–4.5)
//!   ├ registerer.rs  the binding (RFC 3261 §10, RFC 5626 §4.2), its state machine drawn there
//!   ├ publisher.rs   service-settings publication (RFC 3903)
//!   ├ subscriber.rs  service-settings watch (RFC 6665)
//!   ├ fetcher.rs     one-shot fetches: settings, history (RFC 6665 §4.4.3)
//!   ├ messager.rs    pager-mode MESSAGE both ways (RFC 3428), CPIM (RFC 3862)
//!   ├ receipts.rs    disposition notifications we send (RFC 5438)
//!   ├ composing.rs   composition indications both ways (RFC 3994)
//!   ├ sessions.rs    INVITE sessions both ways (RFC 3261 §9, §12–§15), the SDP
//!   │                  carried as opaque text; its commands in agent/sessions.rs
//!   └ uas.rs         what is answered before any part sees a request (RFC 3261 §8.2)
//!  transaction.rs  client transactions: a usage tag, Timer F (B), response matching
//!  credentials.rs  401/407 state per realm (RFC 3261 §22, RFC 7616)
//!  timers.rs       every deadline in one table; the next wake-up is its minimum
//!  context.rs      what the parts share for one step
//!  work.rs         app work waiting for the flow or the registration
//!  api.rs / config.rs / error.rs   the public types
//! ```
//!
//! Each part owns its state, its methods and its deadlines (in the one
//! [`TimerTable`](self) of named timers); a transaction carries only a tag saying
//! which part owns it.

mod agent;
mod api;
mod composing;
mod config;
mod context;
mod credentials;
mod error;
mod fetcher;
mod flow;
mod messager;
mod publisher;
mod receipts;
mod registerer;
mod sessions;
mod subscriber;
mod timers;
mod transaction;
mod uas;
mod work;

pub use agent::UserAgent;
pub use api::*;
pub use config::*;
pub(crate) use context::token as random_token;
pub use error::*;
#[cfg(target_arch = "wasm32")]
pub(crate) use work::Fifo;
