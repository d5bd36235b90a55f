//! # imsip-devcore
//!
//! The embedded development SIP core of imsip: on one loopback port it plays
//! the "SIP/IP Core A" and "IM Server A" of the OMA IM seed flow and serves
//! the demo page.
//!
//! - `ws://HOST:PORT/sip`: SIP over WebSocket (RFC 7118, subprotocol `sip`):
//!   a registrar with digest (MD5, SHA-256, SHA-512-256) and IMS AKA
//!   (AKAv1-MD5, AKAv2-MD5, Milenage) authentication, an IM server storing
//!   `service-settings` / `poc-settings` publications (RFC 3903) in SQLite and
//!   notifying their watchers (RFC 6665), a pager-mode MESSAGE proxy
//!   (RFC 3428), and a session proxy relaying INVITE/ACK/BYE/CANCEL between
//!   registered users with devcore in the route set (RFC 3261 §16).
//! - `ws://HOST:PORT/msrp`: an MSRP relay over WebSocket (RFC 4976, RFC 7977,
//!   subprotocol `msrp`): AUTH with the user's digest password (checked by
//!   the SIP side's authenticator: nonce expiry, nc replays, the configured
//!   algorithms; AKA users get 403), Use-Path
//!   `msrps://HOST:PORT/<id>;ws` per connection, SEND/REPORT relayed frame
//!   by frame between its connections, responses back hop by hop. Clients
//!   put `ws://HOST:PORT/msrp` as their relay (`msrp_relay.rs`).
//! - `http://HOST:PORT/`: `www/index.html`, `/pkg/...` (the wasm package) and
//!   `/www/...`.
//!
//! The SIP side reuses the `imsip` codecs and helpers (message, auth,
//! settings): there is no second SIP parser, branch builder or Warning
//! format.
//!
//! ## The parts
//!
//! ```text
//!  lib.rs            serve(): configuration, start-up, shutdown
//!  web.rs            axum: static files, the /sip WebSocket, the timer task
//!  core.rs           Core: routes frames to the parts; folds their deadlines
//!   ├ flows.rs         the WebSocket flows: connection table, frames in and out, replies
//!   ├ authenticator.rs digest + AKA challenges and checks; the 401/407/403 decision
//!   │                  (the MSRP relay owns one too, for AUTH)
//!   ├ registrar.rs     bindings, REGISTER, contacts of an AoR, registered-on-flow
//!   ├ publications.rs  event packages and PUBLISH: the event state compositor
//!   ├ notifier.rs      subscriptions, SUBSCRIBE, NOTIFY
//!   ├ proxy.rs         relaying by branch: MESSAGE forking, best response
//!   │ └ invite.rs        INVITE sessions: forking, 1xx, CANCEL, Record-Route, in-dialog routing
//!   └ im_server.rs     the IM Server's policy hook on incoming MESSAGEs
//!      ├ content.rs       what a MESSAGE carries: chat, IMDN, composing
//!      └ stored_notice.rs the `stored` processing notification (RFC 5438)
//!  timers.rs         Now, and every deadline in one table
//!  store.rs          the Store trait: SQLite (SqliteStore), memory in unit tests
//!  users.rs          the users file
//! ```
//!
//! ## What is sans-IO
//!
//! The SIP core (`Core` and its parts) owns no socket and reads no clock:
//! frames come in as bytes, time as a `Now` argument, and frames go out
//! to each flow's channel without waiting. It exposes its next deadline; the
//! web layer's timer task sleeps until then (or until a handler moves it) and
//! calls it back, so nothing polls on a fixed period. It is not sans-IO in
//! two respects: the store is called synchronously (SQLite, on a local file,
//! under the core's lock), and tags, branches, nonces and entity-tags come
//! from the OS random source.
//!
//! ```no_run
//! # async fn demo() -> Result<(), imsip_devcore::Error> {
//! let mut config = imsip_devcore::Config::new("devcore.sqlite");
//! config.listen = "127.0.0.1:0".parse().unwrap();
//! let server = imsip_devcore::serve(config).await?;
//! println!("SIP on ws://{}/sip", server.local_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod authenticator;
mod core;
mod flows;
mod im_server;
mod message_store;
mod msrp_relay;
mod notifier;
mod proxy;
mod publications;
mod registrar;
mod store;
#[cfg(test)]
mod testing;
mod timers;
mod transactions;
mod users;
mod util;
mod web;

pub use users::{aor_key, User, UserSecret, Users, UsersError, DEFAULT_USERS_TOML};

use axum::serve::ListenerExt;
use imsip::auth::{AkaVersion, Algorithm};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

/// The `www/` directory of the repository (the demo page).
pub const DEFAULT_WWW: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../www");
/// The `pkg/` directory of the repository (the wasm-pack output).
pub const DEFAULT_PKG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../pkg");

/// Everything the dev core is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (HTTP and WebSocket); port 0 picks one.
    pub listen: SocketAddr,
    /// The SQLite file (created if missing).
    pub db: PathBuf,
    /// The subscribers.
    pub users: Users,
    /// The digest realm; `None`: the users file's realm.
    pub realm: Option<String>,
    /// Digest algorithms challenged for password users, one
    /// WWW-Authenticate/Proxy-Authenticate each (not AKA ones).
    pub digest_algorithms: Vec<Algorithm>,
    /// AKA versions challenged for AKA users (one challenge each, same vector).
    pub aka_versions: Vec<AkaVersion>,
    /// How long a nonce may be used; later answers get `stale=true`.
    pub nonce_ttl: Duration,
    /// How long a relayed MESSAGE waits for an answer before 480.
    pub relay_timeout: Duration,
    /// Consecutive wrong answers after which a user gets 403.
    pub max_failures: u32,
    /// Most MESSAGEs kept per offline user (offline delivery).
    pub deferred_max_count: u64,
    /// Most body bytes kept per offline user.
    pub deferred_max_bytes: u64,
    /// Stored MESSAGEs older than this are dropped undelivered.
    pub deferred_max_age: Duration,
    /// The directory served at `/` and `/www/`.
    pub www: PathBuf,
    /// The directory served at `/pkg/`.
    pub pkg: PathBuf,
}

impl Config {
    /// The defaults (`127.0.0.1:8088`, the built-in users, realm from the
    /// users file, MD5, AKAv1-MD5, nonces valid 300 s, 32 s relay timeout,
    /// 403 after 3 failures, the repository's `www/` and `pkg/`) with the
    /// database at `db`.
    pub fn new(db: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8088)),
            db: db.into(),
            users: Users::builtin(),
            realm: None,
            digest_algorithms: vec![Algorithm::MD5],
            aka_versions: vec![AkaVersion::V1],
            nonce_ttl: Duration::from_secs(300),
            relay_timeout: Duration::from_secs(32),
            max_failures: 3,
            deferred_max_count: 100,
            deferred_max_bytes: 1024 * 1024,
            deferred_max_age: Duration::from_secs(7 * 86_400),
            www: PathBuf::from(DEFAULT_WWW),
            pkg: PathBuf::from(DEFAULT_PKG),
        }
    }
}

/// Why the dev core could not start.
#[derive(Debug)]
pub enum Error {
    /// Binding the listener failed.
    Io(std::io::Error),
    /// Opening the database failed.
    Db(rusqlite::Error),
    /// The OS random source does not work.
    Rng(String),
    /// The configuration is unusable.
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "cannot listen: {e}"),
            Error::Db(e) => write!(f, "database: {e}"),
            Error::Rng(e) => write!(f, "OS random source: {e}"),
            Error::Config(e) => write!(f, "configuration: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A running dev core.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    app: Arc<web::App>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// The bound address (`ws://ADDR/sip`, `http://ADDR/`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening, closes every WebSocket flow and waits until the
    /// server task ended.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }

    /// Runs until [`Server::shutdown`] is called from elsewhere or the task
    /// ends (it does not end by itself).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// A handle that stops the server when `true` is sent (for signal handlers).
    pub fn stopper(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Moves the dev core's clock on by `by`, as if that much time had
    /// passed, and hands the SIP core every deadline now due before
    /// returning. Nonces (SIP and MSRP) age, and bindings, publications,
    /// subscriptions and relays expire, exactly as if `by` had passed.
    ///
    /// For tests: they move the clock instead of sleeping on it. The clock
    /// is the system clock plus the sum of these calls (only ever forward);
    /// nothing else moves it, so a dev core nobody calls this on runs on
    /// the system clock.
    pub fn advance_clock(&self, by: Duration) {
        self.app.advance_clock(by);
    }

    /// The number of SIP WebSocket flows (`/sip`) the core has open, updated
    /// once the core has handled a flow opening or closing. A test that
    /// closes a client's socket waits on it for the core to have seen the
    /// close, instead of polling the core with requests.
    pub fn open_flows(&self) -> watch::Receiver<usize> {
        self.app.open_flows()
    }
}

/// Opens the database, binds `config.listen` and starts serving; returns once
/// the listener is bound.
pub async fn serve(config: Config) -> Result<Server, Error> {
    util::check_rng().map_err(|e| Error::Rng(e.to_string()))?;
    if config.digest_algorithms.iter().any(|a| a.aka.is_some()) {
        return Err(Error::Config(
            "AKA algorithms go in aka_versions, not digest_algorithms".into(),
        ));
    }
    if config.digest_algorithms.is_empty() || config.aka_versions.is_empty() {
        return Err(Error::Config("no authentication algorithm".into()));
    }
    let store = store::SqliteStore::open(&config.db).map_err(Error::Db)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(Error::Io)?;
    let addr = listener.local_addr().map_err(Error::Io)?;
    let realm = config
        .realm
        .clone()
        .unwrap_or_else(|| config.users.realm.clone());
    // One digest configuration for SIP and the MSRP relay.
    let auth = authenticator::AuthConfig {
        realm: realm.clone(),
        digest: config.digest_algorithms.clone(),
        aka: config.aka_versions.clone(),
        nonce_ttl: config.nonce_ttl,
        max_failures: config.max_failures.max(1),
    };
    let core = core::Core::new(
        core::CoreConfig {
            domain: config.users.domain.clone(),
            sent_by: addr.to_string(),
            relay_timeout: config.relay_timeout,
            deferred: im_server::DeferredLimits {
                max_count: config.deferred_max_count,
                max_bytes: config.deferred_max_bytes,
                max_age: config.deferred_max_age,
            },
            auth: auth.clone(),
        },
        config.users.clone(),
        Box::new(store),
        timers::Now::system(),
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let relay = msrp_relay::MsrpRelay::new(
        msrp_relay::RelayConfig {
            authority: addr.to_string(),
            auth,
        },
        config.users.clone(),
    );
    let app = Arc::new(web::App::new(
        core,
        relay,
        config.www.clone(),
        stop_rx.clone(),
    ));
    let router = web::router(app.clone(), config.www.clone(), config.pkg.clone());
    info!(
        %addr,
        %realm,
        users = config.users.list.len(),
        db = %config.db.display(),
        "imsip dev core listening: http://{addr}/ and ws://{addr}/sip"
    );
    let server_app = app.clone();
    let task = tokio::spawn(async move {
        let timers = tokio::spawn(web::run_timers(app.clone(), stop_rx.clone()));
        let mut stop = stop_rx;
        // SIP answers go out as several small frames in a row (a 200 then a
        // NOTIFY): without TCP_NODELAY the second waits for a delayed ACK.
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::warn!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
        if let Err(e) = served {
            error!(error = %e, "server stopped");
        }
        app.core().shutdown();
        let _ = timers.await;
        info!("imsip dev core stopped");
    });
    Ok(Server {
        addr,
        stop: stop_tx,
        task,
        app: server_app,
    })
}
