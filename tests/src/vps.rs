//! A real VPS in a box for end-to-end tests: Debian booted with systemd as PID 1
//! (`systemd-nspawn`), SSH through PAM/logind as the non-root user `agent` (lingering), the real
//! OpenClaw installed in the user's npm prefix and its gateway running as OpenClaw's own systemd
//! user unit `openclaw-gateway` — the default path Clawkeep serves (`systemctl --user restart`).
//!
//! Built once and cached by `scripts/vps.sh build` (debootstrap + the npm registry, ~3–4 min
//! cold); every [`Vps`] is a copy-on-write box of that tree on its own loopback address
//! (127.0.3.N:22, gateway on 127.0.0.1:30000+100·N), so a test may break its box. Dropping the
//! [`Vps`] (also on panic) shuts the box down (TERM, then KILL) and removes it; boxes left by a
//! killed test run are reaped by the next `up` (their owner pid is gone).
//!
//! ```no_run
//! use clawkeep_tests::vps::Vps;
//! let Some(vps) = Vps::up_or_skip("http://127.0.0.1:PORT") else { return };  // the fake's URL
//! let turn = vps.agent_turn("Say hello", std::time::Duration::from_secs(300)).unwrap();
//! ```

use crate::openclaw::{last_json_object, AgentTurn};
use crate::sys::{self, CmdOutput};
use anyhow::{anyhow, bail, Context, Result};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Bound for `scripts/vps.sh build` (cold: debootstrap + npm install + one boot).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(1500);
/// Bound for booting a box until SSH and the user manager answer.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(240);
/// The systemd user unit `openclaw gateway install` writes.
pub const UNIT: &str = "openclaw-gateway";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

fn script() -> PathBuf {
    repo_root().join("scripts/vps.sh")
}

/// What the machine needs to boot a box; `Err(reason)` when something is missing.
pub fn preflight() -> std::result::Result<(), String> {
    if !sys::is_root() {
        return Err("the VPS box needs root (debootstrap, systemd-nspawn, overlay mounts)".into());
    }
    for (bin, pkg) in [
        ("/usr/sbin/debootstrap", "debootstrap"),
        ("/usr/bin/systemd-nspawn", "systemd-container"),
        ("/usr/bin/ssh", "openssh-client"),
        ("/usr/bin/ssh-keygen", "openssh-client"),
        ("/usr/bin/python3", "python3"),
    ] {
        if !Path::new(bin).exists() {
            return Err(format!("{bin} missing (apt-get install -y {pkg}, or scripts/install-deps.sh)"));
        }
    }
    Ok(())
}

fn run_script(args: &[&str], timeout: Duration) -> Result<CmdOutput> {
    let mut cmd = Command::new("bash");
    cmd.arg(script()).args(args);
    let out = sys::run_with(cmd, None, timeout, 1 << 20)?;
    if !out.success() {
        bail!("scripts/vps.sh {} failed ({:?}{}):\n{}{}", args.join(" "), out.code, if out.timed_out { ", timed out" } else { "" }, out.stdout_str(), out.stderr_str());
    }
    Ok(out)
}

/// Builds the cached tree if needed; returns the wall time of the call.
pub fn build() -> Result<Duration> {
    let t = Instant::now();
    run_script(&["build"], BUILD_TIMEOUT)?;
    Ok(t.elapsed())
}

/// One booted box.
#[derive(Debug)]
pub struct Vps {
    name: String,
    addr: Ipv4Addr,
    gateway_port: u16,
    client_key: PathBuf,
    known_hosts: PathBuf,
    host_key_fingerprint: String,
    root: PathBuf,
    user: String,
    /// Wall time of `up` (copy-on-write + boot + SSH ready; the build when it ran).
    pub up_time: Duration,
}

/// `'…'`-quotes a word for the remote shell.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn field<'a>(out: &'a str, key: &str) -> Result<&'a str> {
    out.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).ok_or_else(|| anyhow!("vps.sh printed no {key}=: {out}"))
}

impl Vps {
    /// Boots a fresh box whose Anthropic provider points at `base_url` (builds the tree first
    /// when needed).
    pub fn up(base_url: &str) -> Result<Vps> {
        let name = format!("ck{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst));
        let t = Instant::now();
        let owner = std::process::id().to_string();
        let out = run_script(&["up", &name, "--base-url", base_url, "--owner", &owner], BUILD_TIMEOUT + BOOT_TIMEOUT)?;
        let up_time = t.elapsed();
        let s = out.stdout_str();
        Ok(Vps {
            name,
            addr: field(&s, "addr")?.parse().context("addr")?,
            gateway_port: field(&s, "gateway_port")?.parse().context("gateway_port")?,
            client_key: field(&s, "client_key")?.into(),
            known_hosts: field(&s, "known_hosts")?.into(),
            host_key_fingerprint: field(&s, "host_key_fingerprint")?.to_string(),
            root: field(&s, "root")?.into(),
            user: field(&s, "user")?.to_string(),
            up_time,
        })
    }

    /// [`Vps::up`], or — when the machine can't boot a box (not root, a tool missing) — a
    /// printed reason and `None` (a panic in CI).
    pub fn up_or_skip(base_url: &str) -> Option<Vps> {
        if let Err(reason) = preflight() {
            if sys::in_ci() {
                panic!("VPS box unavailable in CI: {reason}");
            }
            eprintln!("SKIP: {reason}");
            return None;
        }
        Some(Vps::up(base_url).expect("boot the VPS box"))
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    /// SSH address (port 22).
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }
    /// The gateway's port on 127.0.0.1 (`gateway.port` and the unit's `--port`).
    pub fn gateway_port(&self) -> u16 {
        self.gateway_port
    }
    /// The login user (`agent`).
    pub fn user(&self) -> &str {
        &self.user
    }
    /// Private key authorized for the user.
    pub fn client_key(&self) -> &Path {
        &self.client_key
    }
    /// `SHA256:…` of the box's SSH host key.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key_fingerprint
    }
    /// The box's root directory seen from this machine (the overlay mount).
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// A file under the user's home, read from this machine.
    pub fn read_home_file(&self, rel: &str) -> Result<String> {
        let p = self.root.join("home").join(&self.user).join(rel);
        std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))
    }

    /// Runs `cmd` as the user over SSH (host key pinned), `input` on stdin.
    pub fn ssh_with(&self, cmd: &str, input: Option<&[u8]>, timeout: Duration) -> Result<CmdOutput> {
        let mut c = Command::new("/usr/bin/ssh");
        c.arg("-i").arg(&self.client_key).args([
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "LogLevel=ERROR",
        ]);
        c.arg("-o").arg(format!("UserKnownHostsFile={}", self.known_hosts.display()));
        c.arg(format!("{}@{}", self.user, self.addr)).arg(cmd);
        sys::run_with(c, input, timeout, 8 << 20)
    }

    /// [`Vps::ssh_with`] without input, 60 s.
    pub fn ssh(&self, cmd: &str) -> Result<CmdOutput> {
        self.ssh_with(cmd, None, Duration::from_secs(60))
    }

    /// `openclaw ARGS…` as the user over SSH (the CLI in the user's npm prefix).
    pub fn openclaw(&self, args: &str, input: Option<&[u8]>, timeout: Duration) -> Result<CmdOutput> {
        self.ssh_with(&format!("PATH=\"$HOME/.npm-global/bin:$PATH\" openclaw {args}"), input, timeout)
    }

    /// One agent turn through the running gateway (`openclaw agent --agent main --message … --json`).
    pub fn agent_turn(&self, message: &str, timeout: Duration) -> Result<AgentTurn> {
        let output = self.openclaw(&format!("agent --agent main --message {} --json", sh_quote(message)), None, timeout)?;
        let json = last_json_object(&output.stdout_str());
        Ok(AgentTurn { output, json })
    }

    /// `systemctl --user show -p NAME --value openclaw-gateway`.
    pub fn unit_property(&self, name: &str) -> Result<String> {
        let out = self.ssh(&format!("systemctl --user show -p {name} --value {UNIT}"))?;
        if !out.success() {
            bail!("systemctl --user show failed: {}", out.stderr_str());
        }
        Ok(out.stdout_str().trim().to_string())
    }

    /// The unit's MainPID (inside the box), if it runs.
    pub fn main_pid(&self) -> Option<u32> {
        self.unit_property("MainPID").ok()?.parse().ok().filter(|p| *p != 0)
    }

    /// Waits until the gateway answers `/readyz` 200 on the box.
    pub fn wait_gateway_ready(&self, timeout: Duration) -> Result<()> {
        let port = self.gateway_port;
        let cmd = format!(
            "i=0; until curl -fsS -m 2 -o /dev/null http://127.0.0.1:{port}/readyz; do i=$((i+1)); [ $i -lt {n} ] || exit 1; sleep 0.5; done",
            n = timeout.as_millis() / 500
        );
        let out = self.ssh_with(&cmd, None, timeout + Duration::from_secs(30))?;
        if !out.success() {
            bail!("gateway not ready after {timeout:?}:\n{}", self.journal(40));
        }
        Ok(())
    }

    /// The last `lines` of the gateway unit's journal (for failure messages).
    pub fn journal(&self, lines: u32) -> String {
        match self.ssh(&format!("journalctl --user -u {UNIT} -n {lines} --no-pager 2>&1; systemctl --user status {UNIT} --no-pager 2>&1 | head -n 12")) {
            Ok(o) => o.stdout_str(),
            Err(e) => format!("(no journal: {e:#})"),
        }
    }

    /// Clean shutdown and boot of the same box (what a reboot of the VPS does); its files persist.
    pub fn reboot(&mut self) -> Result<Duration> {
        let t = Instant::now();
        run_script(&["reboot", &self.name], BOOT_TIMEOUT + Duration::from_secs(60))?;
        Ok(t.elapsed())
    }
}

impl Drop for Vps {
    fn drop(&mut self) {
        if let Err(e) = run_script(&["down", &self.name], Duration::from_secs(120)) {
            eprintln!("warning: could not remove VPS box {}: {e:#}", self.name);
        }
    }
}
