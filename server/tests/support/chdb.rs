//! chdb (PyPI, installed by scripts/setup.sh) for the tests: `chdb_run.py`'s commands,
//! and ClickHouse's HTTP interface over a chdb session.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Runs `chdb_run.py` with `args`; panics with its stderr if it fails.
pub fn python(args: &[&str]) {
    let script = Path::new(ROOT).join("server/tests/chdb_run.py");
    let out = Command::new("python3").arg(&script).args(args).output().expect("python3");
    assert!(
        out.status.success(),
        "chdb_run.py {args:?} failed (scripts/setup.sh installs chdb):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `chdb_run.py serve`: ClickHouse's HTTP interface over a chdb session, killed on drop.
pub struct ChdbHttp {
    child: std::process::Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl ChdbHttp {
    /// Starts it over `session`, whose tables `python(&["setup", ..])` made.
    pub fn start(session: &Path, credentials: &str, port_file: &Path) -> ChdbHttp {
        let _ = std::fs::remove_file(port_file);
        let script = Path::new(ROOT).join("server/tests/chdb_run.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["serve", session.to_str().unwrap(), credentials, port_file.to_str().unwrap()])
            .spawn()
            .expect("python3");
        let until = Instant::now() + Duration::from_secs(60);
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(port_file) {
                break p.trim().parse().unwrap();
            }
            assert!(child.try_wait().unwrap().is_none(), "chdb_run.py serve exited (scripts/setup.sh installs chdb)");
            assert!(Instant::now() < until, "chdb_run.py serve did not start in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        ChdbHttp { child, port }
    }
}

impl Drop for ChdbHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
