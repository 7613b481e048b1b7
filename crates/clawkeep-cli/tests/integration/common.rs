//! Helpers for the CLI's end-to-end tests: a throw-away data dir and a unique keychain service
//! per test, the real `clawkeep` binary, the real Secret Service (the test command runs these
//! tests inside `scripts/with-secret-service.sh`), and fake keys generated at run time.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fresh, well-formed fake keys made at run time (core's one generator).
pub fn api_key() -> String {
    clawkeep_core::testkeys::random_api_key()
}

pub fn admin_key() -> String {
    clawkeep_core::testkeys::random_key(clawkeep_core::KeyKind::Admin)
}

pub fn oauth_key() -> String {
    clawkeep_core::testkeys::random_key(clawkeep_core::KeyKind::Oauth)
}

/// One isolated Clawkeep world: its own data dir and keychain service.
pub struct World {
    pub dir: tempfile::TempDir,
    pub service: String,
    /// Every stdout/stderr byte any command printed, for leak checks.
    pub transcript: std::cell::RefCell<Vec<u8>>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    pub fn fails(self, code: i32) -> Run {
        assert_eq!(self.code, code, "expected exit {code}:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
    pub fn err_json(&self) -> serde_json::Value {
        serde_json::from_str(self.stderr.trim()).unwrap_or_else(|e| panic!("stderr not JSON ({e}): {}", self.stderr))
    }
}

pub fn require_secret_service() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        panic!("these tests use the real Secret Service: run them through scripts/test.sh (or scripts/with-secret-service.sh cargo test)");
    }
}

impl World {
    pub fn new() -> World {
        require_secret_service();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        World { dir: tempfile::tempdir().unwrap(), service: format!("clawkeep-test-{}-{}-{}", std::process::id(), n, nanos), transcript: Default::default() }
    }

    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_clawkeep"));
        c.env("CLAWKEEP_HOME", self.dir.path()).env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service).env_remove("CLAWKEEP_ANTHROPIC_BASE_URL");
        c
    }

    fn record(&self, out: &Output) {
        let mut t = self.transcript.borrow_mut();
        t.extend_from_slice(&out.stdout);
        t.extend_from_slice(&out.stderr);
    }

    pub fn run_cmd(&self, mut c: Command, stdin: Option<&str>) -> Run {
        c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn clawkeep");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        self.record(&out);
        Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into_owned(), stderr: String::from_utf8_lossy(&out.stderr).into_owned() }
    }

    /// `instance add NAME` of acme's prod support bot on test host 127.0.1.1, expected in
    /// `workspace` (the fake's prod workspace A in these tests).
    pub fn add_acme_prod(&self, name: &str, workspace: &str) {
        self.run(&["instance", "add", name, "--host", "127.0.1.1", "--user", "ckh1", "--owner", "acme", "--env", "prod", "--workload", "support-bot", "--workspace-id", workspace])
            .ok();
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let mut c = self.cmd();
        c.args(args);
        self.run_cmd(c, None)
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut c = self.cmd();
        c.args(args);
        self.run_cmd(c, Some(stdin))
    }

    pub fn add_instance(&self, name: &str, owner: &str, env: &str) {
        self.run(&["instance", "add", name, "--host", "127.0.1.1", "--user", "ckh1", "--owner", owner, "--env", env, "--workload", "support-bot"]).ok();
    }

    /// Entries under this world's keychain service, by `secret-tool`.
    pub fn keychain_entries(&self) -> usize {
        let out = Command::new("secret-tool").args(["search", "--all", "service", &self.service]).output().expect("secret-tool (libsecret-tools)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        text.lines().filter(|l| l.starts_with("[/")).count()
    }

    /// Every file under the data dir (SQLite file, WAL and shm included), as bytes.
    pub fn data_bytes(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        out
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // Leave nothing in the keyring: clear every entry under this world's service.
        let _ = Command::new("secret-tool").args(["clear", "service", &self.service]).status();
    }
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}
