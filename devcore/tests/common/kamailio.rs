//! The interop Kamailio (tests/interop/kamailio.cfg), started per test by
//! tests/interop/kamailio.sh on a free loopback port in its own directory under
//! target/interop/, every SIP message traced in its log, and stopped (by PID) on
//! drop, also on failure.

use std::path::{Path, PathBuf};
use std::process::Command;

const KAMAILIO: &str = "/usr/sbin/kamailio";

pub struct Kamailio {
    /// Its directory: pid, log, run dir.
    pub dir: PathBuf,
    /// `ws://127.0.0.1:PORT/sip`.
    pub url: String,
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("devcore lives inside the repository")
        .to_path_buf()
}

impl Kamailio {
    /// Starts an instance for test `name`, or `None` (after saying so) when
    /// Kamailio is not installed.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Option<Kamailio> {
        if !Path::new(KAMAILIO).exists() {
            eprintln!("skipped: kamailio not installed");
            return None;
        }
        let root = repo_root();
        let dir = root.join("target").join("interop").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(root.join("tests/interop/kamailio.sh"))
            .arg("start")
            .env("IMSIP_INTEROP_DIR", &dir)
            .env("KAMAILIO_SIP_TRACE", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run tests/interop/kamailio.sh");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kamailio.sh start failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = stdout
            .lines()
            .rfind(|l| l.starts_with("ws://"))
            .expect("kamailio.sh prints the ws:// URL")
            .to_owned();
        Some(Kamailio { dir, url })
    }

    /// The part of Kamailio's log written so far (for failure messages).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("kamailio.log")).unwrap_or_default();
        let start = log.len().saturating_sub(6000);
        let start = (start..log.len())
            .find(|i| log.is_char_boundary(*i))
            .unwrap_or(0);
        log[start..].to_owned()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("tests/interop/kamailio.sh"))
            .arg("stop")
            .env("IMSIP_INTEROP_DIR", &self.dir)
            .output();
    }
}
