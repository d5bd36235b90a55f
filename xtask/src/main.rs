//! Project automation, so every workflow is one command:
//!
//! - `cargo xtask test`: everything CI checks (format, clippy, rustdoc, the wasm
//!   build, native tests incl. devcore and Kamailio interop, the npm package built
//!   and tested in headless Chromium and Node, the demo page end to end, the size
//!   budget).
//! - `cargo xtask demo`: builds the package if needed and serves the demo page with
//!   devcore at http://127.0.0.1:8088/.
//! - `cargo xtask bench`: the benchmarks (native parser, JS parse vs JsSIP/SIP.js,
//!   bundle size) with a report in target/bench/.
//! - `cargo xtask fuzz [seconds]`: every cargo-fuzz target for that long (nightly).
//! - `cargo xtask setup`: installs the toolchain pieces (also done by test and demo).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn run_in(dir: &Path, program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!("xtask: {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .current_dir(dir)
        .status()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    run_in(&root(), program, args, envs)
}

/// Whether pkg/ is missing or older than the sources it is built from.
fn package_stale() -> bool {
    let built = std::fs::metadata(root().join("pkg/imsip_core_bg.wasm")).and_then(|m| m.modified());
    let Ok(built) = built else { return true };
    let mut newest = std::time::SystemTime::UNIX_EPOCH;
    let mut stack = vec![
        root().join("src"),
        root().join("js"),
        root().join("Cargo.toml"),
    ];
    while let Some(p) = stack.pop() {
        if p.ends_with("node_modules") {
            continue;
        }
        if let Ok(rd) = std::fs::read_dir(&p) {
            stack.extend(rd.filter_map(Result::ok).map(|e| e.path()));
        } else if let Ok(t) = std::fs::metadata(&p).and_then(|m| m.modified()) {
            newest = newest.max(t);
        }
    }
    newest > built
}

fn build_package() -> Result<(), String> {
    if package_stale() {
        run("bash", &["js/build.sh"], &[])
    } else {
        eprintln!("xtask: pkg/ is up to date");
        Ok(())
    }
}

/// Whether `program --version` runs.
fn has(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Installs what a fresh Debian/Ubuntu machine with Rust lacks: the wasm target,
/// wasm-bindgen-cli at the version pinned in Cargo.toml and wasm-pack (cargo
/// install; never a GitHub download), the nightly js/build.sh pins (rustup), and, with `browser_and_kamailio`, Debian's
/// chromium, chromium-driver, kamailio, kamailio-websocket-modules and
/// kamailio-outbound-modules (apt-get, as
/// root). npm packages are installed by the scripts that use them (`npm ci`).
fn setup(browser_and_kamailio: bool) -> Result<(), String> {
    run("rustup", &["target", "add", "wasm32-unknown-unknown"], &[])?;
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let pinned = manifest
        .lines()
        .find_map(|l| l.strip_prefix("wasm-bindgen = \"="))
        .and_then(|l| l.strip_suffix('"'))
        .ok_or("Cargo.toml must pin wasm-bindgen with =")?
        .to_owned();
    if !output("wasm-bindgen", &["--version"]).contains(&pinned) {
        run(
            "cargo",
            &["install", "wasm-bindgen-cli", "--version", &pinned],
            &[],
        )?;
    }
    if !has("wasm-pack") {
        run("cargo", &["install", "wasm-pack", "--locked"], &[])?;
    }
    // The browser tests' Firefox driver (wasm-pack would fetch it from GitHub).
    if browser_and_kamailio && !has("geckodriver") {
        run("cargo", &["install", "geckodriver", "--locked"], &[])?;
    }
    // The pinned nightly js/build.sh builds the release wasm with (-Zbuild-std,
    // panic=immediate-abort): the package's size, which the size budget checks.
    // rustup skips what is installed already.
    let nightly = std::fs::read_to_string(root().join("js/build.sh"))
        .map_err(|e| e.to_string())?
        .lines()
        .find_map(|l| l.strip_prefix("NIGHTLY="))
        .ok_or("js/build.sh must name its NIGHTLY")?
        .trim()
        .to_owned();
    run(
        "rustup",
        &[
            "toolchain",
            "install",
            &nightly,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
            "--target",
            "wasm32-unknown-unknown",
        ],
        &[],
    )?;
    if browser_and_kamailio {
        let missing: Vec<&str> = [
            "chromium",
            "chromium-driver",
            "firefox-esr",
            "kamailio",
            "kamailio-websocket-modules",
            // RFC 5626 outbound for the strict Kamailio set-up (tests/interop/strict/).
            "kamailio-outbound-modules",
            // The IM Server on Kamailio (deploy/kamailio/): db_sqlite, xmlops, the sqlite3 CLI.
            "kamailio-sqlite-modules",
            "kamailio-xml-modules",
            "sqlite3",
        ]
        .into_iter()
        .filter(|p| {
            !Command::new("dpkg")
                .args(["-s", p])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
        if !missing.is_empty() {
            if !has("apt-get") {
                return Err(format!(
                    "install {} (Chromium + chromedriver, Kamailio 5.6 with its websocket module) and retry",
                    missing.join(", ")
                ));
            }
            let mut args = vec!["install", "-y"];
            args.extend(&missing);
            run("apt-get", &["update"], &[])?;
            run("apt-get", &args, &[("DEBIAN_FRONTEND", "noninteractive")])?;
        }
    }
    Ok(())
}

fn test() -> Result<(), String> {
    setup(true)?;
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(
        "cargo",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    // Licences, bans and sources of every dependency (deny.toml). Advisories need the
    // RustSec database from GitHub, which these machines cannot reach.
    if has("cargo-deny") {
        run(
            "cargo",
            &["deny", "check", "licenses", "bans", "sources"],
            &[],
        )?;
    } else {
        eprintln!("xtask: cargo-deny is not installed (cargo install cargo-deny --locked): licence check skipped");
    }
    run(
        "cargo",
        &[
            "build",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--release",
        ],
        &[],
    )?;
    // Native: codecs, user agent, devcore, Kamailio interop.
    run("cargo", &["test", "--workspace"], &[])?;
    // The npm package: built, then tested in headless Chromium and Node, against devcore.
    build_package()?;
    run("bash", &["js/test.sh"], &[("IMSIP_SKIP_BUILD", "1")])?;
    run("bash", &["benches/size.sh", "--check"], &[])?;
    // Faults end to end, early timers, secrets never leaking (the 1000-client load run
    // is `bash tests/robustness/run.sh` on its own: it takes minutes).
    run(
        "bash",
        &["tests/robustness/run.sh"],
        &[("ROBUSTNESS_SKIP_LOAD", "1")],
    )?;
    // The demo page, end to end in headless Chromium.
    run("cargo", &["build", "-p", "imsip-devcore"], &[])?;
    let e2e = root().join("tests/e2e");
    run_in(&e2e, "npm", &["ci", "--no-audit", "--no-fund"], &[])?;
    run_in(
        &e2e,
        "node",
        &[
            "--test",
            "demo.test.mjs",
            "shared.test.mjs",
            "chat.test.mjs",
            "msrp.test.mjs",
            "shared-msrp.test.mjs",
        ],
        &[],
    )?;
    Ok(())
}

fn demo() -> Result<(), String> {
    setup(false)?;
    build_package()?;
    eprintln!("xtask: open http://127.0.0.1:8088/ (Ctrl-C stops)");
    run(
        "cargo",
        &[
            "run",
            "-p",
            "imsip-devcore",
            "--",
            "--listen",
            "127.0.0.1:8088",
        ],
        &[],
    )
}

fn bench() -> Result<(), String> {
    build_package()?;
    run("bash", &["benches/run.sh"], &[])
}

fn fuzz(seconds: Option<&str>) -> Result<(), String> {
    run("bash", &["fuzz/run.sh", seconds.unwrap_or("60")], &[])
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(true),
        Some("test") => test(),
        Some("demo") => demo(),
        Some("bench") => bench(),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str)),
        _ => {
            eprintln!("usage: cargo xtask <test | demo | bench | fuzz [seconds] | setup>");
            return ExitCode::from(64);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
