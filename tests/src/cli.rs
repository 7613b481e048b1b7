//! The real `clawkeep` binary driven as a person would, for end-to-end tests: a throw-away data
//! dir and keychain service per [`Ck`], every command under a generous deadline (a hang
//! detector, not a timing assertion), every printed byte kept for leak checks, and fake keys
//! generated at run time ([`fake_key`]).

use crate::sys::{self, CmdOutput};
use crate::world::{Host, World};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).expect("read /dev/urandom");
    b
}

/// Random text of `len` characters from the key alphabet (`A-Za-z0-9-_`).
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    random_bytes(len).into_iter().map(|b| ALPHABET[b as usize % ALPHABET.len()] as char).collect()
}

/// A fresh, well-formed fake API key (108 characters, `…AA`), made at run time: never a literal
/// in the tree, and distinct on every call.
pub fn fake_key() -> String {
    format!("{}{}AA", ["sk", "ant", "api03-"].join("-"), random_token(93))
}

/// What one command did.
#[derive(Debug, Clone)]
pub struct Out {
    /// The arguments, for messages.
    pub args: String,
    /// Exit code; `None` when killed by a signal or by the deadline.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Killed by the deadline (a hang).
    pub timed_out: bool,
    /// Bytes printed (also past the capture limit).
    pub stdout_total: u64,
}

impl Out {
    fn describe(&self) -> String {
        let cut = |s: &str| s.chars().take(4000).collect::<String>();
        format!("`clawkeep {}`: exit {:?}{}\nstdout: {}\nstderr: {}", self.args, self.code, if self.timed_out { " (TIMED OUT)" } else { "" }, cut(&self.stdout), cut(&self.stderr))
    }
    /// Exit 0.
    pub fn ok(self) -> Out {
        assert!(self.code == Some(0) && !self.timed_out, "command failed: {}", self.describe());
        self
    }
    /// A clear failure: exit 1, no panic, no signal, no hang.
    pub fn fails(self) -> Out {
        assert!(self.code == Some(1) && !self.timed_out, "expected exit 1: {}", self.describe());
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.describe());
        self
    }
    /// Ended by itself with exit 0 or 1 (never a panic, a signal or a hang; 137 under
    /// [`Ck::run_measured`] is a hang ended by timeout(1)).
    pub fn ended(self) -> Out {
        assert!(!self.timed_out, "hang: {}", self.describe());
        assert!(matches!(self.code, Some(0) | Some(1)), "exit code: {}", self.describe());
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.describe());
        self
    }
    /// stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.describe()))
    }
    /// The `{"error":{"code"}}` of a `--json` failure, if stderr holds one.
    pub fn error_code(&self) -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(self.stderr.trim()).ok()?;
        v["error"]["code"].as_str().map(str::to_string)
    }
}

/// One isolated Clawkeep: its own data dir and keychain service; records what it printed.
pub struct Ck {
    pub dir: tempfile::TempDir,
    pub service: String,
    pub bin: PathBuf,
    /// Deadline of one command (a hang detector).
    pub timeout: Duration,
    transcript: Mutex<Vec<u8>>,
    /// Extra environment for every command.
    pub env: Vec<(String, String)>,
}

impl std::fmt::Debug for Ck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ck").field("dir", &self.dir.path()).field("service", &self.service).finish()
    }
}

impl Default for Ck {
    fn default() -> Self {
        Ck::new()
    }
}

impl Ck {
    /// A fresh Clawkeep; needs the real Secret Service (`scripts/with-secret-service.sh`).
    pub fn new() -> Ck {
        assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(), "run under scripts/with-secret-service.sh (real Secret Service)");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        Ck {
            dir: tempfile::tempdir().expect("temp data dir"),
            service: format!("clawkeep-e2e-{}-{n}-{}", std::process::id(), random_token(8).replace(['-', '_'], "x")),
            bin: crate::clawkeep_bin(),
            timeout: Duration::from_secs(180),
            transcript: Mutex::new(Vec::new()),
            env: Vec::new(),
        }
    }

    /// [`Ck::new`] authenticating to the world's hosts with its client key.
    pub fn for_world(w: &World) -> Ck {
        let ck = Ck::new();
        ck.run(&["settings", "set-ssh-identity", "--key-file", &w.client_key().to_string_lossy()]).ok();
        ck
    }

    /// The data dir.
    pub fn data(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `clawkeep ARGS` with `stdin`, under [`Ck::timeout`].
    pub fn run_with(&self, args: &[&str], stdin: Option<&[u8]>) -> Out {
        self.run_inner(args, stdin, None)
    }

    /// [`Ck::run`] under `/usr/bin/time`: also the peak resident memory of the process, in KiB.
    pub fn run_measured(&self, args: &[&str], stdin: Option<&[u8]>) -> (Out, Option<u64>) {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let f = std::env::temp_dir().join(format!("ck-maxrss-{}-{n}", std::process::id()));
        let out = self.run_inner(args, stdin, Some(&f));
        let kb = std::fs::read_to_string(&f).ok().and_then(|s| s.lines().filter_map(|l| l.trim().parse().ok()).next_back());
        let _ = std::fs::remove_file(&f);
        (out, kb)
    }

    fn run_inner(&self, args: &[&str], stdin: Option<&[u8]>, maxrss_file: Option<&Path>) -> Out {
        let mut c = match maxrss_file {
            Some(f) => {
                // time(1) does not pass on our kill: timeout(1) ends a hang first (exit 137)
                let inner = self.timeout.saturating_sub(Duration::from_secs(5)).as_secs().max(1);
                let mut c = Command::new("/usr/bin/time");
                c.arg("-f").arg("%M").arg("-o").arg(f).arg("/usr/bin/timeout").arg("-s").arg("KILL").arg(inner.to_string()).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        c.args(args)
            .env("CLAWKEEP_HOME", self.dir.path())
            .env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("CLAWKEEP_ANTHROPIC_BASE_URL")
            .env_remove("RUST_BACKTRACE");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let o: CmdOutput = sys::run_with(c, stdin, self.timeout, 16 << 20).expect("spawn clawkeep");
        let mut t = self.transcript.lock().unwrap();
        t.extend_from_slice(&o.stdout);
        t.extend_from_slice(&o.stderr);
        Out {
            args: args.join(" "),
            code: o.code,
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            timed_out: o.timed_out,
            stdout_total: o.stdout_total,
        }
    }

    /// Runs `clawkeep ARGS`.
    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None)
    }

    /// Every byte every command printed so far.
    pub fn transcript(&self) -> Vec<u8> {
        self.transcript.lock().unwrap().clone()
    }

    /// Every file under the data dir (SQLite file, WAL, shm, exports), with its bytes.
    pub fn data_files(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p)
                } else if let Ok(b) = std::fs::read(&p) {
                    out.push((p, b));
                }
            }
        }
        out
    }

    /// `instance add NAME` for test host `h` (owner acme, env prod, workload bot) with its
    /// restart command `restart` and `extra` flags; returns the command's result.
    pub fn add_instance(&self, h: &Host, name: &str, restart: &str, extra: &[&str]) -> Out {
        let (port, addr) = (h.port().to_string(), h.addr().to_string());
        let mut args = vec!["instance", "add", name, "--host", &addr, "--port", &port, "--user", h.user()];
        args.extend(["--owner", "acme", "--env", "prod", "--restart-cmd", restart]);
        if !extra.contains(&"--workload") {
            args.extend(["--workload", "bot"]);
        }
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `host trust NAME --fingerprint <h's key>`.
    pub fn trust(&self, h: &Host, name: &str) -> Out {
        self.run(&["host", "trust", name, "--fingerprint", h.host_key_fingerprint()])
    }

    /// `key add KEYNAME --instance NAME --stdin --allow-name` with `key`.
    pub fn add_key(&self, instance: &str, key_name: &str, key: &str) -> Out {
        self.run_with(&["key", "add", key_name, "--instance", instance, "--stdin", "--allow-name"], Some(key.as_bytes()))
    }
}

impl Drop for Ck {
    fn drop(&mut self) {
        let _ = Command::new("secret-tool").args(["clear", "service", &self.service]).status();
    }
}

/// True if `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
