//! `imsip-devcore`: runs the embedded dev SIP core until Ctrl-C.

use clap::Parser;
use imsip::auth::{AkaVersion, Algorithm};
use imsip_devcore::{serve, Config, Users};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tracing_subscriber::EnvFilter;

/// The imsip dev SIP core: registrar (digest + IMS AKA), IM server
/// (service-settings PUBLISH/SUBSCRIBE), MESSAGE proxy and the demo page, on
/// one port. Logs go to stderr; RUST_LOG overrides the level
/// (default: info, and debug — every SIP message — for imsip_devcore).
#[derive(Parser, Debug)]
#[command(name = "imsip-devcore", version)]
struct Args {
    /// Address to listen on, for both http://ADDR/ and ws://ADDR/sip.
    #[arg(long, default_value = "127.0.0.1:8088")]
    listen: SocketAddr,
    /// SQLite database (publications, AKA sequence numbers).
    #[arg(long, default_value = "./devcore.sqlite")]
    db: PathBuf,
    /// Users file (TOML); default: the built-in alice, bob and carol.
    #[arg(long)]
    users: Option<PathBuf>,
    /// Digest realm [default: the users file's realm, imsip.test].
    #[arg(long)]
    realm: Option<String>,
    /// Digest algorithms for password users, comma-separated; several give
    /// several challenges at once (MD5, SHA-256, SHA-512-256, with -sess).
    #[arg(long, default_value = "MD5", value_delimiter = ',', value_parser = parse_digest)]
    digest_algorithms: Vec<Algorithm>,
    /// AKA algorithms for AKA users, comma-separated (AKAv1-MD5, AKAv2-MD5).
    #[arg(long, default_value = "AKAv1-MD5", value_delimiter = ',', value_parser = parse_aka)]
    aka_algorithms: Vec<AkaVersion>,
    /// Nonce lifetime in seconds; later answers get stale=true.
    #[arg(long, default_value_t = 300)]
    nonce_ttl: u64,
    /// Seconds a relayed MESSAGE waits for an answer before 480.
    #[arg(long, default_value_t = 32)]
    relay_timeout: u64,
    /// Offline delivery: most MESSAGEs kept per user.
    #[arg(long, default_value_t = 100)]
    deferred_max_count: u64,
    /// Offline delivery: most body bytes kept per user.
    #[arg(long, default_value_t = 1_048_576)]
    deferred_max_bytes: u64,
    /// Offline delivery: seconds after which a stored MESSAGE is dropped.
    #[arg(long, default_value_t = 604_800)]
    deferred_max_age: u64,
    /// Directory served at / and /www/ [default: the repository's www/].
    #[arg(long)]
    www: Option<PathBuf>,
    /// Directory served at /pkg/ [default: the repository's pkg/].
    #[arg(long)]
    pkg: Option<PathBuf>,
}

fn parse_digest(s: &str) -> Result<Algorithm, String> {
    match Algorithm::parse(s.trim()) {
        Some(a) if a.aka.is_none() => Ok(a),
        Some(_) => Err("AKA algorithms go in --aka-algorithms".into()),
        None => Err(format!("unknown digest algorithm {s:?}")),
    }
}

fn parse_aka(s: &str) -> Result<AkaVersion, String> {
    match Algorithm::parse(s.trim()) {
        Some(Algorithm {
            aka: Some(v),
            hash: imsip::auth::Hash::Md5,
            sess: false,
        }) => Ok(v),
        _ => Err(format!("{s:?} is not AKAv1-MD5 or AKAv2-MD5")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,imsip_devcore=debug"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let users = match &args.users {
        Some(path) => match Users::load(path) {
            Ok(u) => u,
            Err(e) => {
                eprintln!("imsip-devcore: {e}");
                return ExitCode::from(2);
            }
        },
        None => Users::builtin(),
    };
    let mut config = Config::new(args.db);
    config.listen = args.listen;
    config.users = users;
    config.realm = args.realm;
    config.digest_algorithms = args.digest_algorithms;
    config.aka_versions = args.aka_algorithms;
    config.nonce_ttl = Duration::from_secs(args.nonce_ttl);
    config.relay_timeout = Duration::from_secs(args.relay_timeout.max(1));
    config.deferred_max_count = args.deferred_max_count;
    config.deferred_max_bytes = args.deferred_max_bytes;
    config.deferred_max_age = Duration::from_secs(args.deferred_max_age);
    if let Some(www) = args.www {
        config.www = www;
    }
    if let Some(pkg) = args.pkg {
        config.pkg = pkg;
    }
    let server = match serve(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("imsip-devcore: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = server.stopper();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = stop.send(true);
        }
    });
    server.wait().await;
    ExitCode::SUCCESS
}
