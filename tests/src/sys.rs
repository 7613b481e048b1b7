//! Small system helpers for the test world: running commands with a deadline and bounded
//! output capture, looking at processes through `/proc`, killing by recorded id, and the
//! "can this machine run the test world?" preflight (root, sshd, nft).
//!
//! Nothing here kills processes by name: every kill goes to a pid or process group the
//! harness recorded, or to processes of a uid the harness itself created.

use anyhow::{bail, Context, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a finished (or timed-out) command produced.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// Exit code; `None` if killed by a signal or by our deadline.
    pub code: Option<i32>,
    /// Up to `capture_limit` bytes of stdout.
    pub stdout: Vec<u8>,
    /// Up to `capture_limit` bytes of stderr.
    pub stderr: Vec<u8>,
    /// Total bytes seen on stdout (also past the capture limit).
    pub stdout_total: u64,
    /// Total bytes seen on stderr.
    pub stderr_total: u64,
    /// True if the deadline hit and the process was killed.
    pub timed_out: bool,
    /// Wall time.
    pub elapsed: Duration,
}

impl CmdOutput {
    /// Exit code 0 and no timeout.
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
    /// Captured stdout as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    /// Captured stderr as (lossy) UTF-8.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Default capture limit per stream (bytes kept in memory; totals are still counted).
pub const DEFAULT_CAPTURE: usize = 4 << 20;

fn pump(mut r: impl Read + Send + 'static, limit: usize) -> std::thread::JoinHandle<(Vec<u8>, u64)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut total = 0u64;
        let mut buf = [0u8; 64 * 1024];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n as u64;
                    let room = limit.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
        }
        (kept, total)
    })
}

/// Runs `cmd` with `stdin` fed from `input`, killing it after `timeout`.
/// Output is captured up to `capture` bytes per stream.
pub fn run_with(mut cmd: Command, input: Option<&[u8]>, timeout: Duration, capture: usize) -> Result<CmdOutput> {
    let start = Instant::now();
    cmd.stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().with_context(|| format!("spawn {desc}"))?;
    if let Some(data) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&data);
        });
    }
    let out = pump(child.stdout.take().expect("piped"), capture);
    let err = pump(child.stderr.take().expect("piped"), capture);
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Readers end when every holder of the pipe is gone; a grandchild that keeps the pipe
    // open (e.g. a daemon) must not hang us: join with a grace period.
    let join = |h: std::thread::JoinHandle<(Vec<u8>, u64)>| -> (Vec<u8>, u64) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !h.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if h.is_finished() {
            h.join().unwrap_or_default()
        } else {
            (Vec::new(), 0)
        }
    };
    let (stdout, stdout_total) = join(out);
    let (stderr, stderr_total) = join(err);
    Ok(CmdOutput { code: status.and_then(|s| s.code()), stdout, stderr, stdout_total, stderr_total, timed_out, elapsed: start.elapsed() })
}

/// Runs a program with arguments, 60 s deadline; fails unless it exits 0.
pub fn run_ok(program: &str, args: &[&str]) -> Result<CmdOutput> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = run_with(cmd, None, Duration::from_secs(60), DEFAULT_CAPTURE)?;
    if !out.success() {
        bail!("{program} {} failed ({:?}{}): {}", args.join(" "), out.code, if out.timed_out { ", timed out" } else { "" }, out.stderr_str().trim());
    }
    Ok(out)
}

/// True if we run as root (uid 0), read from `/proc/self/status`.
pub fn is_root() -> bool {
    current_uid() == Some(0)
}

/// Real uid of this process.
pub fn current_uid() -> Option<u32> {
    proc_status_field(std::process::id(), "Uid:").and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// True when running in CI (`CI=true` or `CI=1`).
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
}

/// State letter of a process (`R`, `S`, `Z`, …) or `None` if it does not exist.
pub fn proc_state(pid: u32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// Alive = exists and is not a zombie (zombies may linger when PID 1 doesn't reap).
pub fn pid_alive(pid: u32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z' && c != 'X')
}

/// Start time (clock ticks since boot, field 22 of `/proc/<pid>/stat`): with the pid it
/// identifies a process across pid reuse.
pub fn proc_start_time(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    after.split_whitespace().nth(19)?.parse().ok()
}

/// `/proc/<pid>/cmdline` with NULs turned into spaces.
pub fn proc_cmdline(pid: u32) -> Option<String> {
    let b = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(String::from_utf8_lossy(&b).replace('\0', " ").trim().to_string())
}

/// The initial environment of a process (`/proc/<pid>/environ`).
pub fn proc_environ(pid: u32) -> Result<Vec<(String, String)>> {
    let b = std::fs::read(format!("/proc/{pid}/environ")).with_context(|| format!("read environ of {pid}"))?;
    Ok(b.split(|c| *c == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let s = String::from_utf8_lossy(e);
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect())
}

/// Pids of all live processes whose real uid is `uid`.
pub fn pids_of_uid(uid: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_status_field(*pid, "Uid:").and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok()) == Some(uid) && pid_alive(*pid))
        .collect()
}

/// Pids of all live members of process group `pgid`.
pub fn pids_in_group(pgid: u32) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().and_then(|s| {
                let after = s[s.rfind(')')? + 2..].to_string();
                after.split_whitespace().nth(2)?.parse::<u32>().ok()
            }) == Some(pgid)
                && pid_alive(*pid)
        })
        .collect()
}

/// Sends `signal` (e.g. "TERM", "KILL") to the given pids (negative = process group) via kill(1).
pub fn kill(signal: &str, pids: &[i64]) {
    if pids.is_empty() {
        return;
    }
    let mut cmd = Command::new("kill");
    cmd.arg(format!("-{signal}")).arg("--");
    for p in pids {
        cmd.arg(p.to_string());
    }
    let _ = run_with(cmd, None, Duration::from_secs(10), 4096);
}

/// Waits (bounded) until `done()` is true; returns whether it became true.
pub fn wait_until(timeout: Duration, step: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(step);
    }
}

/// TERM, wait up to `grace`, then KILL; for pids we recorded.
pub fn terminate(pids: &[u32], grace: Duration) {
    let live: Vec<i64> = pids.iter().filter(|p| pid_alive(**p)).map(|p| *p as i64).collect();
    if live.is_empty() {
        return;
    }
    kill("TERM", &live);
    if !wait_until(grace, Duration::from_millis(20), || pids.iter().all(|p| !pid_alive(*p))) {
        let left: Vec<i64> = pids.iter().filter(|p| pid_alive(**p)).map(|p| *p as i64).collect();
        kill("KILL", &left);
        wait_until(Duration::from_secs(3), Duration::from_millis(20), || pids.iter().all(|p| !pid_alive(*p)));
    }
}

/// Checks what the root-mode test world needs; `Err(reason)` if something is missing.
pub fn preflight_root() -> std::result::Result<(), String> {
    if !is_root() {
        return Err("the SSH test world needs root (useradd, sshd on 127.0.1.N:22, nft)".into());
    }
    for (bin, pkg) in [
        ("/usr/sbin/sshd", "openssh-server"),
        ("/usr/bin/ssh-keygen", "openssh-client"),
        ("/usr/bin/ssh", "openssh-client"),
        ("/usr/sbin/nft", "nftables"),
        ("/usr/sbin/useradd", "passwd"),
        ("/usr/bin/setpriv", "util-linux"),
    ] {
        if !Path::new(bin).exists() {
            return Err(format!("{bin} missing (apt-get install -y {pkg})"));
        }
    }
    Ok(())
}

/// Shared, lazily-filled string (used for small caches).
pub type Shared<T> = Arc<Mutex<T>>;

/// Samples every process's argv on this machine (test hosts share it) every 2 ms until stopped
/// (or 120 s): [`ArgvSampler::finish`] says whether any argv contained one of `needles`, and
/// how many samples were taken. Proves a secret never went through a command line.
pub struct ArgvSampler {
    stop: Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<(bool, u64)>,
}

impl ArgvSampler {
    pub fn start(needles: Vec<String>) -> ArgvSampler {
        use std::sync::atomic::Ordering;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut seen = false;
            let mut samples = 0u64;
            let t0 = Instant::now();
            while !s2.load(Ordering::SeqCst) && t0.elapsed() < Duration::from_secs(120) {
                if let Ok(rd) = std::fs::read_dir("/proc") {
                    for e in rd.flatten() {
                        if let Ok(b) = std::fs::read(e.path().join("cmdline")) {
                            if needles.iter().any(|n| !n.is_empty() && b.windows(n.len()).any(|w| w == n.as_bytes())) {
                                seen = true;
                            }
                        }
                    }
                }
                samples += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            (seen, samples)
        });
        ArgvSampler { stop, handle }
    }

    /// Stops sampling: (a needle was seen, number of samples).
    pub fn finish(self) -> (bool, u64) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.handle.join().unwrap_or((true, 0))
    }
}
