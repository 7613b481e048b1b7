//! Deploy bundles: carry a key to its instance over SSH — planned, atomic, verified, reversible.
//!
//! The flow for one instance (one SSH connection for every step):
//!
//! 1. [`DeploySession::open`]: connect with the pinned host key (refused when unpinned or changed).
//! 2. [`DeploySession::plan`]: read the host's state over SFTP (`openclaw.json` for
//!    `gateway.port`, `.env`) and probe for stale credentials that would beat the new key by
//!    OpenClaw's precedence (an `anthropic:` auth profile in an agent's SQLite, a key in the
//!    systemd unit's environment or in `gateway.systemd.env`; `openclaw.md` §4.5, §6.5, §7).
//!    The plan lists every file and command and a redacted diff. Nothing is written.
//! 3. [`DeploySession::apply`]: back up the current `.env` (0600), write the new one atomically
//!    (other lines and comments kept), remove consented stale credentials, restart the gateway,
//!    then verify: `/readyz` on the host's loopback at the configured port, and the SHA-256 of
//!    the key the running gateway process really has (`/proc/<pid>/environ`) and of the key in
//!    `.env`, both computed on the host — the value never leaves it and is never in an argv.
//!    On failure: restore the backup, restart, re-verify, and report both.
//!
//! [`deploy_fleet`] runs many with bounded concurrency; one failing host never stops the others,
//! and cancellation skips hosts not yet changed while hosts in flight finish or roll back.
//!
//! Front ends call this with a progress callback and a [`CancellationToken`]; recording the
//! result (store + audit) is [`crate::Clawkeep::record_deployment`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
pub use tokio_util::sync::CancellationToken;

use crate::domain::{InjectionMethod, Instance, Key, ServiceManager};
use crate::error::{Error, ErrorPayload, Result};
use crate::keyfmt;
use crate::secret::Secret;
use crate::ssh::{sh_quote, HostSession, SshAuth, SshOptions, SshTarget};

/// Everything needed to deploy one key to one instance (built by
/// [`crate::Clawkeep::prepare_deploy`]).
#[derive(Debug)]
pub struct DeployJob {
    pub instance: Instance,
    /// The key being deployed.
    pub key: Key,
    pub secret: Secret,
    /// The instance's active key when `key` is a staged one: retired once `key` is verified.
    pub previous_active: Option<Key>,
}

impl DeployJob {
    pub fn target(&self) -> SshTarget {
        SshTarget {
            instance: self.instance.name.clone(),
            host: self.instance.ssh_host.clone(),
            port: self.instance.ssh_port,
            user: self.instance.ssh_user.clone(),
            pinned: self.instance.host_key_fingerprint.clone(),
        }
    }
}

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub ssh: SshOptions,
    /// How long the gateway may take to answer `/readyz` 200 after a restart (real OpenClaw:
    /// 30–40 s on 2 cores).
    pub ready_timeout: Duration,
    /// Limit for the restart command itself.
    pub restart_timeout: Duration,
    /// The user consented to removing the stale credentials the plan lists.
    pub remove_stale: bool,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions { ssh: SshOptions::default(), ready_timeout: Duration::from_secs(90), restart_timeout: Duration::from_secs(60), remove_stale: false }
    }
}

/// Where a host is in its run (for progress lines and the desktop UI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Connecting,
    Planning,
    Writing,
    Restarting,
    Verifying,
    RollingBack,
    Done,
}

/// Progress callback: `(instance, stage)`.
pub type ProgressFn = Arc<dyn Fn(&str, Stage) + Send + Sync>;

/// A progress callback that ignores everything.
pub fn no_progress() -> ProgressFn {
    Arc::new(|_, _| {})
}

/// One step of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanStep {
    /// `backup`, `write`, `run`, `check`.
    pub action: String,
    /// A path or a command (never a secret).
    pub target: String,
    pub detail: String,
}

/// A credential on the host that would win over the new key.
#[derive(Debug, Clone, Serialize)]
pub struct StaleCredential {
    /// `auth-profile`, `systemd-env-file`, `systemd-unit-env`.
    pub kind: String,
    pub agent: Option<String>,
    pub location: String,
    /// What removing it does (a command or a file edit), or why Clawkeep can't.
    pub remedy: String,
    /// Clawkeep can remove it (with consent).
    pub removable: bool,
}

/// What a deploy will do on one host. Built from the host's real state; nothing written yet.
#[derive(Debug, Serialize)]
pub struct DeployPlan {
    pub instance: String,
    pub address: String,
    pub host_key: String,
    pub method: InjectionMethod,
    pub key_name: String,
    pub key_hint: String,
    /// The state directory, resolved on the host.
    pub state_dir: String,
    pub gateway_port: u16,
    /// Where the port came from.
    pub gateway_port_source: String,
    pub steps: Vec<PlanStep>,
    /// Redacted diff lines (`+`/`-`/`~`), key hints only.
    pub diff: Vec<String>,
    pub stale: Vec<StaleCredential>,
    pub warnings: Vec<String>,
    /// Why the deploy can't go ahead (it is refused when non-empty).
    pub blockers: Vec<String>,
    /// The key in `.env` is already this one.
    pub unchanged: bool,
    #[serde(skip)]
    private: PlanPrivate,
}

#[derive(Debug, Default)]
struct PlanPrivate {
    env_path: String,
    backup_path: String,
    new_env: Option<Secret>,
    old_env: Option<Secret>,
    old_key_fp: Option<String>,
    openclaw_bin: Option<String>,
    systemd_env_path: String,
    new_systemd_env: Option<Secret>,
    old_systemd_env: Option<Secret>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Written, restarted, verified.
    Succeeded,
    /// Failed before anything was changed on the host, or rollback was not needed.
    Failed,
    /// Failed after the change; the previous state was restored and verified.
    RolledBack,
    /// Failed after the change and the rollback did not fully work: look at the host.
    RollbackFailed,
    /// Cancelled before anything was changed.
    Cancelled,
    /// Refused before connecting or writing (host key not trusted / changed, plan blockers).
    Refused,
    /// Dry run: planned only.
    Planned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::RolledBack => "rolled-back",
            Outcome::RollbackFailed => "rollback-failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Refused => "refused",
            Outcome::Planned => "planned",
        }
    }
    pub fn is_success(self) -> bool {
        matches!(self, Outcome::Succeeded | Outcome::Planned)
    }
}

/// The result of one host's run.
#[derive(Debug, Serialize)]
pub struct DeployReport {
    pub instance: String,
    pub address: String,
    pub key_name: String,
    pub key_hint: String,
    pub key_fingerprint: String,
    pub method: InjectionMethod,
    pub outcome: Outcome,
    pub error: Option<ErrorPayload>,
    /// What the rollback did (and whether the previous key is effective again).
    pub rollback: Option<String>,
    /// What was done, in order.
    pub steps: Vec<String>,
    pub stale_removed: Vec<String>,
    pub plan: Option<DeployPlan>,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
}

impl DeployReport {
    fn new(job: &DeployJob) -> DeployReport {
        DeployReport {
            instance: job.instance.name.clone(),
            address: format!("{}@{}:{}", job.instance.ssh_user, job.instance.ssh_host, job.instance.ssh_port),
            key_name: job.key.name.clone(),
            key_hint: job.key.hint.clone(),
            key_fingerprint: job.key.fingerprint.clone(),
            method: job.instance.injection,
            outcome: Outcome::Failed,
            error: None,
            rollback: None,
            steps: Vec::new(),
            stale_removed: Vec::new(),
            plan: None,
            started_at: Utc::now(),
            duration_ms: 0,
        }
    }

    /// A report for a job that failed before it could start (e.g. refused host key).
    pub fn refused(job: &DeployJob, err: &Error) -> DeployReport {
        let mut r = DeployReport::new(job);
        r.outcome = if matches!(err, Error::Cancelled) { Outcome::Cancelled } else { Outcome::Refused };
        r.error = Some(err.to_payload());
        r
    }
}

// ---- host-side helpers -----------------------------------------------------------------

/// `~`-relative state dir → absolute on the host.
fn resolve_dir(dir: &str, home: &str) -> String {
    let home = home.trim_end_matches('/');
    if dir == "~" {
        home.to_string()
    } else if let Some(rest) = dir.strip_prefix("~/") {
        format!("{home}/{}", rest.trim_end_matches('/'))
    } else {
        dir.trim_end_matches('/').to_string()
    }
}

fn is_key_line(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let t = t.strip_prefix("export ").map(str::trim_start).unwrap_or(t);
    let rest = t.strip_prefix("ANTHROPIC_API_KEY")?;
    let rest = rest.trim_start();
    rest.strip_prefix('=')
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    // unquoted: an inline comment starts at " #"
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

/// Rewrites a `.env`: the first `ANTHROPIC_API_KEY=` line gets the new value, later ones are
/// dropped (they would be ambiguous), every other line and comment is kept as it was. Returns
/// the new text, the previous value, and how many duplicate lines were dropped.
pub fn rewrite_env(old: Option<&str>, key: &Secret) -> (Secret, Option<Secret>, usize) {
    let mut out = String::new();
    let mut previous = None;
    let mut dropped = 0;
    let mut placed = false;
    if let Some(text) = old {
        for line in text.split_inclusive('\n') {
            let body = line.trim_end_matches(['\n', '\r']);
            if let Some(v) = is_key_line(body) {
                if placed {
                    dropped += 1;
                    continue;
                }
                previous = Some(Secret::new(unquote(v)));
                out.push_str("ANTHROPIC_API_KEY=");
                out.push_str(key.expose());
                out.push_str(&line[body.len()..]);
                if line.len() == body.len() {
                    out.push('\n');
                }
                placed = true;
            } else {
                out.push_str(line);
            }
        }
    }
    if !placed {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("ANTHROPIC_API_KEY=");
        out.push_str(key.expose());
        out.push('\n');
    }
    (Secret::new(out), previous, dropped)
}

/// Removes `ANTHROPIC_API_KEY` lines (a stale key in `gateway.systemd.env`).
fn strip_key_lines(text: &str) -> String {
    text.split_inclusive('\n').filter(|l| is_key_line(l.trim_end_matches(['\n', '\r'])).is_none()).collect()
}

fn hint_of(value: &str) -> String {
    if value.is_empty() { "(empty)".into() } else { keyfmt::hint(value) }
}

fn restart_command(sm: &ServiceManager) -> String {
    match sm {
        ServiceManager::SystemdUser { unit } => format!("systemctl --user restart {}", sh_quote(unit)),
        ServiceManager::Custom { restart_command } => restart_command.clone(),
    }
}

/// Shell snippet that sets `pid` to the gateway's process (listening on `port`).
fn find_pid_snippet(port: u16, sm: &ServiceManager) -> String {
    let mut s = format!(
        "pid=$(ss -ltnpH 'sport = :{port}' 2>/dev/null | sed -n 's/.*pid=\\([0-9][0-9]*\\).*/\\1/p' | head -n1); "
    );
    if let ServiceManager::SystemdUser { unit } = sm {
        s.push_str(&format!(
            "if [ -z \"$pid\" ] && command -v systemctl >/dev/null 2>&1; then pid=$(systemctl --user show -p MainPID --value {} 2>/dev/null); [ \"$pid\" = 0 ] && pid=; fi; ",
            sh_quote(unit)
        ));
    }
    s
}

fn kv(out: &str, key: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).map(|s| s.trim().to_string()).collect()
}

/// One open connection to one instance, and the job it serves.
pub struct DeploySession<'a> {
    job: &'a DeployJob,
    ssh: HostSession,
    opts: DeployOptions,
}

impl std::fmt::Debug for DeploySession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploySession").field("instance", &self.job.instance.name).finish()
    }
}

impl<'a> DeploySession<'a> {
    /// Connects (pinned host key, auth, timeouts). Nothing is written.
    pub async fn open(job: &'a DeployJob, auth: &SshAuth, opts: &DeployOptions) -> Result<DeploySession<'a>> {
        if job.instance.ssh_host.trim().is_empty() {
            return Err(Error::invalid("host", format!("instance '{}' has no SSH host; set one with `clawkeep instance edit {} --host HOST`", job.instance.name, job.instance.name)));
        }
        let ssh = HostSession::connect(&job.target(), auth, &opts.ssh).await?;
        Ok(DeploySession { job, ssh, opts: opts.clone() })
    }

    /// Records the user's answer to the plan's stale-credential question.
    pub fn consent_to_stale_removal(&mut self, yes: bool) {
        self.opts.remove_stale = yes;
    }

    pub fn host(&self) -> &HostSession {
        &self.ssh
    }

    pub async fn close(self) {
        self.ssh.close().await
    }

    /// Reads the host's state and builds the plan. Nothing is written.
    pub async fn plan(&self) -> Result<DeployPlan> {
        let job = self.job;
        let inst = &job.instance;
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let mut plan = DeployPlan {
            instance: inst.name.clone(),
            address: format!("{}@{}:{}", inst.ssh_user, inst.ssh_host, inst.ssh_port),
            host_key: self.ssh.host_key_fingerprint().to_string(),
            method: inst.injection,
            key_name: job.key.name.clone(),
            key_hint: job.key.hint.clone(),
            state_dir: sd.clone(),
            gateway_port: 18789,
            gateway_port_source: String::new(),
            steps: Vec::new(),
            diff: Vec::new(),
            stale: Vec::new(),
            warnings: Vec::new(),
            blockers: Vec::new(),
            unchanged: false,
            private: PlanPrivate::default(),
        };
        if inst.injection != InjectionMethod::EnvFile {
            plan.blockers.push(format!(
                "injection method '{}' is not supported by this build's deploy yet; use env-file (`clawkeep instance edit {} --injection env-file`)",
                inst.injection.as_str(),
                inst.name
            ));
        }

        // gateway.port from the host's own config (never assume 18789).
        let cfg_path = format!("{sd}/openclaw.json");
        match self.ssh.read_file(&cfg_path, 4 << 20).await? {
            None => plan.blockers.push(format!("{cfg_path} does not exist: is OpenClaw set up for {} in {sd}?", inst.ssh_user)),
            Some(bytes) => match json5::from_str::<serde_json::Value>(&String::from_utf8_lossy(&bytes)) {
                Err(e) => plan.blockers.push(format!("{cfg_path} is not valid JSON5 ({e}); fix it first, OpenClaw would refuse it too")),
                Ok(v) => {
                    match v["gateway"]["port"].as_u64().filter(|p| (1..=65535).contains(p)) {
                        Some(p) => {
                            plan.gateway_port = p as u16;
                            plan.gateway_port_source = format!("gateway.port in {cfg_path}");
                        }
                        None => {
                            plan.gateway_port_source = format!("OpenClaw's default (no gateway.port in {cfg_path})");
                            plan.warnings.push(format!("{cfg_path} sets no gateway.port: checking OpenClaw's default 18789"));
                        }
                    }
                    if !v["meta"].is_object() {
                        plan.warnings.push(format!("{cfg_path} has no `meta` object; Clawkeep does not edit it, but OpenClaw's clobber guard may revert hand edits (openclaw.md §3.3)"));
                    }
                }
            },
        }

        // .env
        let env_path = format!("{sd}/.env");
        let old = self.ssh.read_file(&env_path, 1 << 20).await?;
        let old_text = old.as_ref().map(|b| Secret::new(String::from_utf8_lossy(b).into_owned()));
        let (new_env, previous, dropped) = rewrite_env(old_text.as_ref().map(|s| s.expose()), &job.secret);
        let backup_path = format!("{sd}/.env.clawkeep-bak");
        match &previous {
            Some(p) if p.expose() == job.secret.expose() => {
                plan.unchanged = true;
                plan.diff.push(format!("  ANTHROPIC_API_KEY={} (unchanged)", job.key.hint));
            }
            Some(p) => plan.diff.push(format!("~ ANTHROPIC_API_KEY={} (was {})", job.key.hint, hint_of(p.expose()))),
            None => plan.diff.push(format!("+ ANTHROPIC_API_KEY={} (new line)", job.key.hint)),
        }
        if dropped > 0 {
            plan.diff.push(format!("- {dropped} further ANTHROPIC_API_KEY line(s) removed (only the first one was used)"));
        }
        let other_lines = old_text.as_ref().map(|t| t.expose().lines().filter(|l| is_key_line(l).is_none()).count()).unwrap_or(0);
        if old_text.is_some() {
            plan.steps.push(PlanStep { action: "backup".into(), target: backup_path.clone(), detail: "copy of the current .env, mode 0600, kept for rollback".into() });
        }
        plan.steps.push(PlanStep {
            action: "write".into(),
            target: env_path.clone(),
            detail: format!(
                "mode 0600, atomic (temp file + fsync + rename); {} other line(s) kept as they are{}",
                other_lines,
                if old_text.is_none() { "; the file is new" } else { "" }
            ),
        });

        // Probe for stale credentials and tools (one command; prints names only, never values).
        let agents = inst.agents.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ");
        let mut probe = format!(
            "SD={sd}; OC=$(command -v openclaw 2>/dev/null); \
             if [ -z \"$OC\" ]; then for c in \"$HOME/.local/bin/openclaw\" \"$HOME/.npm-global/bin/openclaw\" \"$HOME/node_modules/.bin/openclaw\"; do if [ -x \"$c\" ]; then OC=$c; break; fi; done; fi; \
             echo \"oc=$OC\"; \
             for a in {agents}; do f=\"$SD/agents/$a/agent/openclaw-agent.sqlite\"; if [ -f \"$f\" ] && grep -qa 'anthropic:' \"$f\" 2>/dev/null; then echo \"profile=$a\"; fi; done; \
             if [ -f \"$SD/gateway.systemd.env\" ] && grep -q '^[[:space:]]*ANTHROPIC_API_KEY=' \"$SD/gateway.systemd.env\"; then echo systemd_env_file=1; fi; \
             if command -v ss >/dev/null 2>&1; then echo ss=1; fi; ",
            sd = sh_quote(&sd)
        );
        if let ServiceManager::SystemdUser { unit } = &inst.service_manager {
            probe.push_str(&format!(
                "if command -v systemctl >/dev/null 2>&1 && systemctl --user show -p Environment --value {} 2>/dev/null | tr ' ' '\\n' | grep -q '^ANTHROPIC_API_KEY='; then echo unit_env=1; fi; ",
                sh_quote(unit)
            ));
        }
        probe.push_str("echo probe_done=1");
        let out = self.ssh.exec("probe", &probe, None, self.opts.ssh.op_timeout).await?;
        if kv(&out.stdout, "probe_done").is_empty() {
            return Err(Error::Remote { instance: inst.name.clone(), step: "probe".into(), message: format!("the host's shell did not run the probe: {}", out.brief()) });
        }
        let oc = kv(&out.stdout, "oc").into_iter().next().filter(|s| !s.is_empty());
        plan.private.openclaw_bin = oc.clone();
        for agent in kv(&out.stdout, "profile") {
            let location = format!("{sd}/agents/{agent}/agent/openclaw-agent.sqlite");
            match &oc {
                Some(bin) => plan.stale.push(StaleCredential {
                    kind: "auth-profile".into(),
                    agent: Some(agent.clone()),
                    location,
                    remedy: format!("{} models auth logout anthropic:default --yes --agent {}", sh_quote(bin), sh_quote(&agent)),
                    removable: true,
                }),
                None => {
                    plan.stale.push(StaleCredential {
                        kind: "auth-profile".into(),
                        agent: Some(agent.clone()),
                        location: location.clone(),
                        remedy: "the openclaw CLI was not found on the host to remove it".into(),
                        removable: false,
                    });
                    plan.blockers.push(format!("agent '{agent}' has an anthropic auth profile ({location}) that beats ANTHROPIC_API_KEY, and the openclaw CLI is not on the host's PATH to remove it: run `openclaw models auth logout anthropic:default --yes` there first"));
                }
            }
        }
        let systemd_env_path = format!("{sd}/gateway.systemd.env");
        if !kv(&out.stdout, "systemd_env_file").is_empty() {
            if let Some(bytes) = self.ssh.read_file(&systemd_env_path, 1 << 20).await? {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                plan.private.new_systemd_env = Some(Secret::new(strip_key_lines(&text)));
                plan.private.old_systemd_env = Some(Secret::new(text));
                plan.stale.push(StaleCredential {
                    kind: "systemd-env-file".into(),
                    agent: None,
                    location: systemd_env_path.clone(),
                    remedy: "remove its ANTHROPIC_API_KEY line (atomic rewrite, backup kept as gateway.systemd.env.clawkeep-bak)".into(),
                    removable: true,
                });
            }
        }
        if !kv(&out.stdout, "unit_env").is_empty() {
            let unit = match &inst.service_manager { ServiceManager::SystemdUser { unit } => unit.clone(), _ => String::new() };
            plan.stale.push(StaleCredential {
                kind: "systemd-unit-env".into(),
                agent: None,
                location: format!("systemd user unit {unit} (Environment=)"),
                remedy: format!("remove ANTHROPIC_API_KEY from the unit's Environment= (`systemctl --user edit {unit}` on the host), then deploy again"),
                removable: false,
            });
            plan.blockers.push(format!("the systemd unit {unit} exports ANTHROPIC_API_KEY in its environment, which beats .env: remove it from the unit first"));
        }
        if kv(&out.stdout, "ss").is_empty() && !matches!(inst.service_manager, ServiceManager::SystemdUser { .. }) {
            plan.warnings.push("`ss` is not installed on the host: the gateway process cannot be found to check its environment".into());
        }
        for s in plan.stale.iter().filter(|s| s.removable) {
            plan.steps.push(PlanStep { action: "run".into(), target: s.remedy.clone(), detail: format!("remove stale {} at {} (needs your consent)", s.kind, s.location) });
        }
        plan.steps.push(PlanStep { action: "run".into(), target: restart_command(&inst.service_manager), detail: "restart the gateway: a changed .env needs a new process".into() });
        plan.steps.push(PlanStep {
            action: "check".into(),
            target: format!("http://127.0.0.1:{}/readyz (on the host)", plan.gateway_port),
            detail: format!("gateway ready within {} s", self.opts.ready_timeout.as_secs()),
        });
        plan.steps.push(PlanStep {
            action: "check".into(),
            target: "/proc/<gateway pid>/environ and .env".into(),
            detail: format!("SHA-256 of the running gateway's ANTHROPIC_API_KEY equals {} (computed on the host)", keyfmt::short_fingerprint(&job.key.fingerprint)),
        });
        plan.private.env_path = env_path;
        plan.private.backup_path = backup_path;
        plan.private.new_env = Some(new_env);
        plan.private.old_key_fp = previous.as_ref().map(|p| keyfmt::fingerprint(p.expose()));
        plan.private.old_env = old_text;
        plan.private.systemd_env_path = systemd_env_path;
        Ok(plan)
    }

    /// Applies a plan made by [`DeploySession::plan`] on this session: write, restart, verify,
    /// roll back on failure. Cancellation is honoured until the first write; after that the run
    /// finishes (or rolls back).
    pub async fn apply(&self, plan: DeployPlan, progress: &ProgressFn, cancel: &CancellationToken) -> DeployReport {
        let job = self.job;
        let t0 = Instant::now();
        let mut report = DeployReport::new(job);
        let name = job.instance.name.clone();
        let fail = |r: &mut DeployReport, outcome: Outcome, e: Error| {
            r.outcome = outcome;
            r.error = Some(e.to_payload());
        };
        if !plan.blockers.is_empty() {
            fail(&mut report, Outcome::Refused, Error::InvalidState(format!("the plan for '{}' is blocked: {}", name, plan.blockers.join("; "))));
        } else if plan.stale.iter().any(|s| s.removable) && !self.opts.remove_stale {
            fail(&mut report, Outcome::Refused, Error::InvalidState(format!(
                "'{}' has stale credentials that would win over the new key ({}); consent to removing them (answer yes, or pass --yes) or remove them by hand",
                name,
                plan.stale.iter().map(|s| s.location.as_str()).collect::<Vec<_>>().join(", ")
            )));
        } else if cancel.is_cancelled() {
            fail(&mut report, Outcome::Cancelled, Error::Cancelled);
        } else {
            progress(&name, Stage::Writing);
            match self.write_and_verify(&plan, &mut report, progress).await {
                Ok(()) => report.outcome = Outcome::Succeeded,
                Err((e, changed)) => {
                    report.error = Some(e.to_payload());
                    if changed {
                        progress(&name, Stage::RollingBack);
                        let (ok, text) = self.rollback(&plan, &mut report).await;
                        report.outcome = if ok { Outcome::RolledBack } else { Outcome::RollbackFailed };
                        report.rollback = Some(text);
                    } else {
                        report.outcome = Outcome::Failed;
                    }
                }
            }
        }
        report.plan = Some(plan);
        report.duration_ms = t0.elapsed().as_millis() as u64;
        progress(&name, Stage::Done);
        report
    }

    /// `Err((error, host_changed))`.
    async fn write_and_verify(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let p = &plan.private;
        let inst = &self.job.instance;
        if let Some(old) = &p.old_env {
            self.ssh.write_atomic(&p.backup_path, old.expose().as_bytes()).await.map_err(|e| (e, false))?;
            report.steps.push(format!("backed up .env to {}", p.backup_path));
        }
        let new_env = p.new_env.as_ref().ok_or_else(|| (Error::InvalidState("plan has no .env content".into()), false))?;
        self.ssh.write_atomic(&p.env_path, new_env.expose().as_bytes()).await.map_err(|e| (e, false))?;
        // From here on the host has changed.
        report.steps.push(format!("wrote {} (0600, atomic)", p.env_path));
        for s in plan.stale.iter().filter(|s| s.removable) {
            match s.kind.as_str() {
                "auth-profile" => {
                    let out = self.ssh.exec("remove-profile", &s.remedy, None, self.opts.restart_timeout).await.map_err(|e| (e, true))?;
                    if !out.success() {
                        return Err((Error::Remote { instance: inst.name.clone(), step: "remove-profile".into(), message: format!("`{}` failed: {}", s.remedy, out.brief()) }, true));
                    }
                    report.stale_removed.push(format!("auth profile anthropic:default of agent {}", s.agent.as_deref().unwrap_or("?")));
                }
                "systemd-env-file" => {
                    if let (Some(old), Some(new)) = (&p.old_systemd_env, &p.new_systemd_env) {
                        let bak = format!("{}.clawkeep-bak", p.systemd_env_path);
                        self.ssh.write_atomic(&bak, old.expose().as_bytes()).await.map_err(|e| (e, true))?;
                        self.ssh.write_atomic(&p.systemd_env_path, new.expose().as_bytes()).await.map_err(|e| (e, true))?;
                        report.stale_removed.push(format!("ANTHROPIC_API_KEY line of {}", p.systemd_env_path));
                    }
                }
                _ => {}
            }
        }
        progress(&inst.name, Stage::Restarting);
        self.restart().await.map_err(|e| (e, true))?;
        report.steps.push(format!("restarted the gateway ({})", restart_command(&inst.service_manager)));
        progress(&inst.name, Stage::Verifying);
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        report.steps.push(format!("gateway ready on 127.0.0.1:{}", plan.gateway_port));
        let (proc_fp, file_fp) = self.effective_fingerprints(plan.gateway_port).await.map_err(|e| (e, true))?;
        let want = &self.job.key.fingerprint;
        if file_fp.as_deref() != Some(want.as_str()) {
            return Err((Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: "the key in .env on the host does not match the deployed key after writing it (changed by someone else?)".into() }, true));
        }
        match proc_fp {
            Some(fp) if fp == *want => {}
            Some(fp) => {
                let what = match &plan.private.old_key_fp {
                    Some(old) if *old == fp => "still the previous key".to_string(),
                    _ => format!("a different key (sha256 {})", keyfmt::short_fingerprint(&fp)),
                };
                return Err((Error::Remote {
                    instance: inst.name.clone(),
                    step: "verify".into(),
                    message: format!("the restarted gateway runs with {what}, not the deployed one: another source (process environment, systemd unit) overrides .env"),
                }, true));
            }
            None => {
                return Err((Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: "the gateway process has no ANTHROPIC_API_KEY in its environment after the restart".into() }, true));
            }
        }
        report.steps.push(format!("verified: the running gateway's key is {} (sha256 {})", self.job.key.hint, keyfmt::short_fingerprint(want)));
        Ok(())
    }

    async fn restart(&self) -> Result<()> {
        let inst = &self.job.instance;
        let cmd = restart_command(&inst.service_manager);
        let out = self.ssh.exec("restart", &cmd, None, self.opts.restart_timeout).await?;
        if !out.success() {
            return Err(Error::Remote {
                instance: inst.name.clone(),
                step: "restart".into(),
                message: format!("`{cmd}` exited with {}: {}", out.exit_status.map(|s| s.to_string()).unwrap_or_else(|| "?".into()), out.brief()),
            });
        }
        Ok(())
    }

    async fn wait_ready(&self, port: u16) -> Result<()> {
        let deadline = Instant::now() + self.opts.ready_timeout;
        let mut last = String::from("no answer");
        let mut use_curl = false;
        let mut attempts = 0u32;
        while Instant::now() < deadline && attempts < 10_000 {
            attempts += 1;
            let per_try = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(200), Duration::from_secs(5));
            let r = if use_curl {
                let cmd = format!("curl -s -m 5 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{port}/readyz");
                self.ssh.exec("readyz", &cmd, None, per_try + Duration::from_secs(1)).await.map(|o| (o.stdout.trim().parse::<u16>().unwrap_or(0), String::new()))
            } else {
                self.ssh.http_get_loopback(port, "/readyz", per_try).await
            };
            match r {
                Ok((200, _)) => return Ok(()),
                Ok((code, _)) => last = format!("HTTP {code}"),
                Err(Error::Remote { message, .. }) if !use_curl && message.contains("prohibited") => {
                    // sshd forbids TCP forwarding: ask curl on the host instead.
                    use_curl = true;
                    last = message;
                }
                Err(Error::Remote { message, .. }) if message.contains("no answer within") => last = "the gateway accepted the connection but did not answer".into(),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Err(Error::Remote {
            instance: self.job.instance.name.clone(),
            step: "verify".into(),
            message: format!("the gateway did not become ready on 127.0.0.1:{port}/readyz within {} s (last: {last})", self.opts.ready_timeout.as_secs()),
        })
    }

    /// SHA-256 (hex) of the running gateway's `ANTHROPIC_API_KEY` and of the one in `.env`,
    /// computed on the host from stdin pipes: no value in an argv, none sent back.
    async fn effective_fingerprints(&self, port: u16) -> Result<(Option<String>, Option<String>)> {
        let inst = &self.job.instance;
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let cmd = format!(
            "{find}echo \"pid=$pid\"; \
             if [ -n \"$pid\" ] && [ -r /proc/$pid/environ ]; then \
               if tr '\\0' '\\n' < /proc/$pid/environ | grep -q '^ANTHROPIC_API_KEY='; then \
                 printf 'proc=%s\\n' \"$(tr '\\0' '\\n' < /proc/$pid/environ | sed -n 's/^ANTHROPIC_API_KEY=//p' | head -n1 | tr -d '\\n' | sha256sum | cut -c1-64)\"; \
               else echo proc=none; fi; \
             fi; \
             f={env}; if [ -f \"$f\" ] && grep -q '^ANTHROPIC_API_KEY=' \"$f\"; then \
               printf 'file=%s\\n' \"$(sed -n 's/^ANTHROPIC_API_KEY=//p' \"$f\" | head -n1 | tr -d '\\n' | sha256sum | cut -c1-64)\"; fi",
            find = find_pid_snippet(port, &inst.service_manager),
            env = sh_quote(&format!("{sd}/.env")),
        );
        let out = self.ssh.exec("verify", &cmd, None, self.opts.ssh.op_timeout).await?;
        let pid = kv(&out.stdout, "pid").into_iter().next().unwrap_or_default();
        if pid.is_empty() {
            return Err(Error::Remote {
                instance: inst.name.clone(),
                step: "verify".into(),
                message: format!("cannot find the gateway process listening on 127.0.0.1:{port} to check its environment ({})", out.brief()),
            });
        }
        let proc_fp = kv(&out.stdout, "proc").into_iter().next();
        let proc_fp = match proc_fp.as_deref() {
            Some("none") => None,
            Some(fp) => Some(fp.to_string()),
            None => {
                return Err(Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: format!("cannot read /proc/{pid}/environ of the gateway (another user's process?)") });
            }
        };
        Ok((proc_fp, kv(&out.stdout, "file").into_iter().next()))
    }

    /// Restores the previous `.env` (and `gateway.systemd.env`), restarts, re-verifies.
    async fn rollback(&self, plan: &DeployPlan, report: &mut DeployReport) -> (bool, String) {
        let p = &plan.private;
        let mut notes = Vec::new();
        let restored = match &p.old_env {
            Some(old) => self.ssh.write_atomic(&p.env_path, old.expose().as_bytes()).await.map(|()| "restored the previous .env".to_string()),
            None => self.ssh.remove(&p.env_path).await.map(|()| "removed the new .env (there was none before)".to_string()),
        };
        match restored {
            Ok(t) => notes.push(t),
            Err(e) => {
                return (false, format!("rollback failed: could not restore {}: {e}. The host holds either the previous or the new .env (writes are atomic); the backup is {}", p.env_path, p.backup_path));
            }
        }
        if let Some(old) = &p.old_systemd_env {
            if report.stale_removed.iter().any(|s| s.contains("gateway.systemd.env")) {
                match self.ssh.write_atomic(&p.systemd_env_path, old.expose().as_bytes()).await {
                    Ok(()) => notes.push("restored gateway.systemd.env".into()),
                    Err(e) => notes.push(format!("could not restore gateway.systemd.env: {e}")),
                }
            }
        }
        if report.stale_removed.iter().any(|s| s.starts_with("auth profile")) {
            notes.push("removed auth profiles are not restored (they were stale)".into());
        }
        if let Err(e) = self.restart().await {
            notes.push(format!("restart failed: {e}"));
            return (false, notes.join("; "));
        }
        notes.push("restarted".into());
        if let Err(e) = self.wait_ready(plan.gateway_port).await {
            notes.push(format!("but the gateway is not ready: {e}"));
            return (false, notes.join("; "));
        }
        notes.push("gateway ready".into());
        match (self.effective_fingerprints(plan.gateway_port).await, &p.old_key_fp) {
            (Ok((Some(fp), _)), Some(old)) if fp == *old => {
                notes.push("the previous key is effective again".into());
                (true, notes.join("; "))
            }
            (Ok((None, _)), None) => {
                notes.push("no key is set, as before".into());
                (true, notes.join("; "))
            }
            (Ok(_), _) => {
                notes.push("but the running gateway's key is not the previous one".into());
                (false, notes.join("; "))
            }
            (Err(e), _) => {
                notes.push(format!("could not check the effective key: {e}"));
                (false, notes.join("; "))
            }
        }
    }
}

/// Connect, plan and (unless `dry_run`) apply for one job, on one connection.
pub async fn deploy_one(job: &DeployJob, auth: &SshAuth, opts: &DeployOptions, dry_run: bool, progress: &ProgressFn, cancel: &CancellationToken) -> DeployReport {
    let t0 = Instant::now();
    let name = job.instance.name.clone();
    if cancel.is_cancelled() {
        return DeployReport::refused(job, &Error::Cancelled);
    }
    progress(&name, Stage::Connecting);
    let session = tokio::select! {
        s = DeploySession::open(job, auth, opts) => s,
        _ = cancel.cancelled() => Err(Error::Cancelled),
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            let mut r = match &e {
                Error::HostKeyUnknown { .. } | Error::HostKeyMismatch { .. } | Error::Cancelled => DeployReport::refused(job, &e),
                _ => {
                    let mut r = DeployReport::new(job);
                    r.error = Some(e.to_payload());
                    r
                }
            };
            r.duration_ms = t0.elapsed().as_millis() as u64;
            progress(&name, Stage::Done);
            return r;
        }
    };
    progress(&name, Stage::Planning);
    let report = match session.plan().await {
        Err(e) => {
            let mut r = DeployReport::new(job);
            r.error = Some(e.to_payload());
            r
        }
        Ok(plan) if dry_run => {
            let mut r = DeployReport::new(job);
            r.outcome = Outcome::Planned;
            r.plan = Some(plan);
            r
        }
        Ok(plan) => session.apply(plan, progress, cancel).await,
    };
    session.close().await;
    let mut report = report;
    report.duration_ms = t0.elapsed().as_millis() as u64;
    progress(&name, Stage::Done);
    report
}

/// Runs many jobs with at most `concurrency` hosts at a time. Reports come back in job order.
/// One failing host never stops the others; after `cancel`, hosts not started are reported
/// cancelled and hosts in flight finish (or roll back).
pub async fn deploy_fleet(jobs: Vec<DeployJob>, auth: Arc<SshAuth>, opts: DeployOptions, dry_run: bool, concurrency: usize, progress: ProgressFn, cancel: CancellationToken) -> Vec<(DeployJob, DeployReport)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.clamp(1, 256)));
    let mut set = tokio::task::JoinSet::new();
    let n = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        let (sem, auth, opts, progress, cancel) = (sem.clone(), auth.clone(), opts.clone(), progress.clone(), cancel.clone());
        set.spawn(async move {
            let permit = tokio::select! {
                p = sem.acquire_owned() => p.ok(),
                _ = cancel.cancelled() => None,
            };
            let report = match permit {
                Some(_p) => deploy_one(&job, &auth, &opts, dry_run, &progress, &cancel).await,
                None => DeployReport::refused(&job, &Error::Cancelled),
            };
            (i, job, report)
        });
    }
    let mut out: Vec<Option<(DeployJob, DeployReport)>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        if let Ok((i, job, report)) = r {
            out[i] = Some((job, report));
        }
    }
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_rewrite_keeps_other_lines() {
        let k = Secret::new("NEWKEYVALUE-1234567890-abcdefgh".into());
        let old = "# comment\nFOO=bar\nexport ANTHROPIC_API_KEY=\"oldvalue-123456789012345\"\nBAZ=1\nANTHROPIC_API_KEY=dup\n";
        let (new, prev, dropped) = rewrite_env(Some(old), &k);
        assert_eq!(new.expose(), "# comment\nFOO=bar\nANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\nBAZ=1\n");
        assert_eq!(prev.unwrap().expose(), "oldvalue-123456789012345");
        assert_eq!(dropped, 1);
        let (new, prev, _) = rewrite_env(Some("A=1"), &k);
        assert_eq!(new.expose(), "A=1\nANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\n");
        assert!(prev.is_none());
        let (new, _, _) = rewrite_env(None, &k);
        assert_eq!(new.expose(), "ANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\n");
        assert_eq!(strip_key_lines("A=1\nANTHROPIC_API_KEY=x\nB=2\n"), "A=1\nB=2\n");
    }

    #[test]
    fn state_dir_resolution() {
        assert_eq!(resolve_dir("~/.openclaw", "/home/u"), "/home/u/.openclaw");
        assert_eq!(resolve_dir("~", "/home/u/"), "/home/u");
        assert_eq!(resolve_dir("/srv/oc/", "/home/u"), "/srv/oc");
    }
}
