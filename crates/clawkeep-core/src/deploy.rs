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

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::domain::{InjectionMethod, Instance, Key, ServiceManager};
use crate::dotenv;
use crate::error::{Error, ErrorPayload, Result};
use crate::hosttext;
use crate::keyfmt;
use crate::secret::{Secret, SecretBytes};
use crate::ssh::{sh_quote, ExecOutput, HostSession, SshAuth, SshOptions, SshTarget};

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
    /// The previous active key's value, to roll back methods whose old value can't be read
    /// back from the host (auth profiles).
    pub previous_secret: Option<Secret>,
    /// Reach the instance through this (trusted) jump host: one ProxyJump hop.
    pub jump: Option<SshTarget>,
    /// When applying: the [`plan_digest`] of the plan the user reviewed;
    /// if the host's fresh plan differs, nothing is written and the host is reported refused.
    pub expected_plan: Option<String>,
}

impl DeployJob {
    pub fn target(&self) -> SshTarget {
        SshTarget {
            instance: self.instance.name.clone(),
            host: self.instance.ssh_host.clone(),
            port: self.instance.ssh_port,
            user: self.instance.ssh_user.clone(),
            pinned: self.instance.host_key_fingerprint.clone(),
            jump: self.jump.clone().map(Box::new),
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

/// What a plan needs to apply itself. Holds host file contents that may carry literal keys:
/// every such field is a [`Secret`]/[`SecretBytes`] or hidden by the redacting `Debug`.
#[derive(Default)]
struct PlanPrivate {
    env_path: String,
    backup_path: String,
    new_env: Option<SecretBytes>,
    old_env: Option<SecretBytes>,
    old_key_fp: Option<String>,
    openclaw_bin: Option<String>,
    /// The gateway's pid when the plan was made (to prove the restart replaced it).
    pid_before: Option<String>,
    systemd_env_path: String,
    new_systemd_env: Option<SecretBytes>,
    old_systemd_env: Option<SecretBytes>,
    config_path: String,
    /// `openclaw.json` as read (for its backup, byte for byte).
    config_text: Option<SecretBytes>,
    /// `openclaw.json` parsed (may hold literal keys).
    config_value: Option<serde_json::Value>,
    secret_path: String,
    old_secret: Option<Secret>,
    new_config: Option<Secret>,
    /// Every host file the plan read, and the SHA-256 of its bytes then (`None`: missing):
    /// `apply` reads them again and refuses when one changed.
    seen: Vec<(String, Option<[u8; 32]>)>,
}

impl std::fmt::Debug for PlanPrivate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanPrivate")
            .field("env_path", &self.env_path)
            .field("config_path", &self.config_path)
            .field("secret_path", &self.secret_path)
            .field("files_seen", &self.seen.len())
            .finish_non_exhaustive()
    }
}

fn sha(bytes: Option<&[u8]>) -> Option<[u8; 32]> {
    bytes.map(|b| Sha256::digest(b).into())
}

impl DeployPlan {
    /// Every text a front end shows goes through [`hosttext::line`] (paths and names may come
    /// from the host: its home directory, its config).
    fn sanitize(&mut self) {
        let l = |s: &mut String| *s = hosttext::line(s, 2000);
        l(&mut self.state_dir);
        l(&mut self.gateway_port_source);
        for st in &mut self.steps {
            l(&mut st.target);
            l(&mut st.detail);
        }
        for st in &mut self.stale {
            l(&mut st.location);
            l(&mut st.remedy);
            if let Some(a) = &mut st.agent {
                l(a);
            }
        }
        self.diff.iter_mut().for_each(l);
        self.warnings.iter_mut().for_each(l);
        self.blockers.iter_mut().for_each(l);
    }
}

/// A stable digest of what a plan will do (steps, diff, stale credentials, blockers, key): a
/// reviewed plan is applied only while the host's fresh plan has the same digest.
pub fn plan_digest(p: &DeployPlan) -> String {
    use sha2::{Digest, Sha256};
    let v = serde_json::json!({
        "instance": p.instance, "host_key": p.host_key, "key": p.key_name, "hint": p.key_hint,
        "steps": p.steps, "diff": p.diff, "stale": p.stale, "blockers": p.blockers, "unchanged": p.unchanged,
    });
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
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
        r.set_error(err);
        r
    }

    /// Records `err`; its message may quote the host, so it is sanitized here, before any front
    /// end shows it or [`crate::Clawkeep::record_deployment`] stores it.
    fn set_error(&mut self, err: &Error) {
        let mut p = err.to_payload();
        p.message = hosttext::line(&p.message, 4000);
        self.error = Some(p);
    }

    /// The report's texts as they may be shown and stored (see [`hosttext`]).
    fn sanitize(&mut self) {
        if let Some(e) = &mut self.error {
            e.message = hosttext::line(&e.message, 4000);
        }
        if let Some(r) = &mut self.rollback {
            *r = hosttext::line(r, 4000);
        }
        for s in self.steps.iter_mut().chain(self.stale_removed.iter_mut()) {
            *s = hosttext::line(s, 2000);
        }
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

/// Rewrites a `.env` (see [`dotenv`] for the rule): the key line gets the new value, later key
/// lines are dropped, every other byte is kept. Returns the new text, the previous value, and
/// how many duplicate lines were dropped.
pub fn rewrite_env(old: Option<&[u8]>, key: &Secret) -> (SecretBytes, Option<Secret>, usize) {
    let r = dotenv::rewrite(old, key);
    (r.text, r.previous, r.dropped)
}

fn hint_of(value: &str) -> String {
    if value.is_empty() {
        "(empty)".into()
    } else {
        keyfmt::hint(value)
    }
}

fn restart_command(sm: &ServiceManager) -> String {
    match sm {
        ServiceManager::SystemdUser { unit } => format!("systemctl --user restart {}", sh_quote(unit)),
        ServiceManager::Custom { restart_command } => restart_command.clone(),
    }
}

/// Shell snippet that sets `pid` to the gateway's process (listening on `port`): the socket's
/// inode from `/proc/net/tcp{,6}`, then the login user's own processes holding it (cheap even on
/// a busy host), else `ss -p`, else (systemd) the unit's MainPID.
fn find_pid_snippet(port: u16, sm: &ServiceManager) -> String {
    let mut s = format!(
        "pid=; ino=$(awk '$4 == \"0A\" && $2 ~ /:{port:04X}$/ {{ print $10; exit }}' /proc/net/tcp /proc/net/tcp6 2>/dev/null); \
         if [ -n \"$ino\" ]; then for d in /proc/[0-9]*; do [ -O \"$d\" ] || continue; \
           if ls -l \"$d/fd\" 2>/dev/null | grep -q \"socket:\\[$ino\\]\"; then pid=${{d#/proc/}}; break; fi; done; fi; \
         if [ -z \"$pid\" ]; then pid=$(ss -ltnpH 'sport = :{port}' 2>/dev/null | sed -n 's/.*pid=\\([0-9][0-9]*\\).*/\\1/p' | head -n1); fi; "
    );
    if let ServiceManager::SystemdUser { unit } = sm {
        s.push_str(&format!(
            "if [ -z \"$pid\" ] && command -v systemctl >/dev/null 2>&1; then pid=$(systemctl --user show -p MainPID --value {} 2>/dev/null); [ \"$pid\" = 0 ] && pid=; fi; ",
            sh_quote(unit)
        ));
    }
    s
}

/// Most bytes of `openclaw.json` read.
const CONFIG_MAX: usize = 4 << 20;
/// Most bytes of a `.env` (or `gateway.systemd.env`) read.
const ENV_MAX: usize = 1 << 20;
/// Most bytes of the secret file read.
const SECRET_FILE_MAX: usize = 64 * 1024;

/// What a plan is judged on: the host's state as [`DeploySession::plan`] gathers it. Host file
/// contents stay in [`SecretBytes`]; there is no `Debug` (the probe output is host text).
pub struct DeployFacts {
    /// The login user's home directory (`realpath .` over SFTP).
    pub home: String,
    /// The verified host key.
    pub host_key: String,
    /// `openclaw.json`, `None` when missing.
    pub config: Option<SecretBytes>,
    /// `.env`, `None` when missing.
    pub env: Option<SecretBytes>,
    /// `.env`'s uid and gid.
    pub env_owner: Option<(u32, u32)>,
    /// The probe's `name=value` lines (`oc`, `profile`, `systemd_env_file`, `unit_env`, `ss`,
    /// `ids`, `gwpid`, `probe_done`).
    pub probe: Zeroizing<String>,
    /// `gateway.systemd.env` when the probe found a key in it (inner `None`: gone since).
    pub systemd_env: Option<Option<SecretBytes>>,
    /// The secret file (secret-file method only).
    pub secret_file: Option<Option<SecretBytes>>,
    /// The running gateway has `ANTHROPIC_API_KEY` in its environment (secret-file method only).
    pub gateway_env_has_key: bool,
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
            return Err(Error::no_ssh_host(&job.instance.name));
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

    /// A command's output for a message: sanitized, with the keys of this job masked even when
    /// they are not key-shaped.
    fn brief(&self, out: &ExecOutput) -> String {
        match &self.job.previous_secret {
            Some(p) => out.brief_without(&[&self.job.secret, p]),
            None => out.brief_without(&[&self.job.secret]),
        }
    }

    /// Reads every file the plan read again and compares it with what the plan saw. `Err` names
    /// the first file that changed: the plan the user confirmed no longer describes the host.
    async fn host_unchanged_since(&self, plan: &DeployPlan) -> Result<()> {
        for (path, before) in &plan.private.seen {
            let max = if path.ends_with("openclaw.json") { CONFIG_MAX } else { ENV_MAX };
            let now = self.ssh.read_file(path, max).await?.map(SecretBytes::new);
            if sha(now.as_ref().map(|b| b.expose())) != *before {
                return Err(Error::InvalidState(format!(
                    "the host changed since its plan was shown ({} was {}); nothing was written: review the new plan and confirm again",
                    hosttext::line(path, 500),
                    match (before, &now) {
                        (None, Some(_)) => "created",
                        (Some(_), None) => "removed",
                        _ => "modified",
                    }
                )));
            }
        }
        Ok(())
    }

    /// Reads the host's state ([`DeploySession::gather`]) and builds the plan from it
    /// ([`build_plan`], pure). Nothing is written.
    pub async fn plan(&self) -> Result<DeployPlan> {
        let facts = self.gather().await?;
        Ok(build_plan(self.job, self.opts.ready_timeout, facts))
    }

    /// Everything [`build_plan`] judges, read from the host: `openclaw.json` and `.env` (and its
    /// owner) over SFTP, one probe exec, and — only when the probe or the method asks for them —
    /// `gateway.systemd.env`, the secret file and the running gateway's environment.
    async fn gather(&self) -> Result<DeployFacts> {
        let job = self.job;
        let inst = &job.instance;
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        // gateway.port from the host's own config (never assume 18789).
        let agents = inst.agents.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ");
        let mut probe = format!(
            "SD={sd}; OC=$(command -v openclaw 2>/dev/null); \
             if [ -z \"$OC\" ]; then for c in \"$HOME/.local/bin/openclaw\" \"$HOME/.npm-global/bin/openclaw\" \"$HOME/node_modules/.bin/openclaw\"; do if [ -x \"$c\" ]; then OC=$c; break; fi; done; fi; \
             echo \"oc=$OC\"; \
             for a in {agents}; do f=\"$SD/agents/$a/agent/openclaw-agent.sqlite\"; if [ -f \"$f\" ] && grep -qa 'anthropic:' \"$f\" \"$f-wal\" 2>/dev/null; then echo \"profile=$a\"; fi; done; \
             if grep -qa 'anthropic:default' \"$SD/state/openclaw.sqlite\" \"$SD/state/openclaw.sqlite-wal\" 2>/dev/null; then for a in {agents}; do echo \"profile=$a\"; done; fi; \
             if [ -f \"$SD/gateway.systemd.env\" ] && grep -q '^[[:space:]]*ANTHROPIC_API_KEY=' \"$SD/gateway.systemd.env\"; then echo systemd_env_file=1; fi; \
             if command -v ss >/dev/null 2>&1; then echo ss=1; fi; echo \"ids=$(id -u) $(id -G)\"; ",
            sd = sh_quote(&sd)
        );
        if let ServiceManager::SystemdUser { unit } = &inst.service_manager {
            probe.push_str(&format!(
                "if command -v systemctl >/dev/null 2>&1 && systemctl --user show -p Environment --value {} 2>/dev/null | tr ' ' '\\n' | grep -q '^ANTHROPIC_API_KEY='; then echo unit_env=1; fi; ",
                sh_quote(unit)
            ));
        }
        probe.push_str("echo probe_done=1");
        let cfg_path = format!("{sd}/openclaw.json");
        let env_path = format!("{sd}/.env");
        // The three reads are independent: one round trip instead of three.
        // The two reads are independent (one round trip); the probe then also finds the running
        // gateway by the configured port (one exec for everything).
        let (cfg_r, env_r, env_st) = tokio::join!(self.ssh.read_file(&cfg_path, CONFIG_MAX), self.ssh.read_file(&env_path, ENV_MAX), self.ssh.stat(&env_path));
        let (cfg_bytes, old, env_stat) = (cfg_r?, env_r?, env_st?);
        let port_guess = cfg_bytes
            .as_ref()
            .and_then(|b| json5::from_str::<serde_json::Value>(&String::from_utf8_lossy(b)).ok())
            .and_then(|v| v["gateway"]["port"].as_u64())
            .filter(|p| (1..=65535).contains(p))
            .unwrap_or(18789) as u16;
        let probe = format!("{probe}; {}echo \"gwpid=$pid\"", find_pid_snippet(port_guess, &inst.service_manager));
        let out = self.ssh.exec("probe", &probe, None, self.opts.ssh.op_timeout).await?;
        // Probe for stale credentials and tools (one command; prints names only, never values).
        if kv(out.stdout(), "probe_done").is_empty() {
            return Err(Error::Remote { instance: inst.name.clone(), step: "probe".into(), message: format!("the host's shell did not run the probe: {}", self.brief(&out)) });
        }
        let systemd_env = match kv(out.stdout(), "systemd_env_file").is_empty() {
            true => None,
            false => Some(self.ssh.read_file(&format!("{sd}/gateway.systemd.env"), ENV_MAX).await?.map(SecretBytes::new)),
        };
        let (secret_file, gateway_env_has_key) = match inst.injection {
            InjectionMethod::SecretFile => {
                let st = self.gateway_state(port_guess).await?;
                (Some(self.ssh.read_file(&format!("{sd}/secrets/anthropic-api-key"), SECRET_FILE_MAX).await?.map(SecretBytes::new)), st.proc_fp.is_some())
            }
            _ => (None, false),
        };
        Ok(DeployFacts {
            home,
            host_key: self.ssh.host_key_fingerprint().to_string(),
            config: cfg_bytes.map(SecretBytes::new),
            env: old.map(SecretBytes::new),
            env_owner: env_stat.and_then(|a| a.uid.zip(a.gid)),
            probe: Zeroizing::new(out.stdout().to_string()),
            systemd_env,
            secret_file,
            gateway_env_has_key,
        })
    }

    async fn apply_secret_file(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let p = &plan.private;
        let inst = &self.job.instance;
        let t = Instant::now();
        progress(&inst.name, Stage::Writing);
        let dir = p.secret_path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
        self.ssh.mkdir(&dir, 0o700).await.map_err(|e| (e, false))?;
        if let Some(old) = &p.old_secret {
            self.ssh.write_atomic(&format!("{}.clawkeep-bak", p.secret_path), old.expose().as_bytes()).await.map_err(|e| (e, false))?;
        }
        if let (Some(_), Some(old)) = (&p.new_config, &p.config_text) {
            self.ssh.write_atomic(&format!("{}.clawkeep-bak", p.config_path), old.expose()).await.map_err(|e| (e, false))?;
        }
        self.ssh.write_atomic(&p.secret_path, self.job.secret.expose().as_bytes()).await.map_err(|e| (e, false))?;
        if let Some(cfg) = &p.new_config {
            self.ssh.write_atomic(&p.config_path, cfg.expose().as_bytes()).await.map_err(|e| (e, true))?;
        }
        report.steps.push(format!(
            "wrote {} (0600, atomic){} [{} ms]",
            p.secret_path,
            if p.new_config.is_some() { " and the SecretRef into openclaw.json" } else { "" },
            t.elapsed().as_millis()
        ));
        let t = Instant::now();
        if p.new_config.is_some() {
            progress(&inst.name, Stage::Restarting);
            self.restart().await.map_err(|e| (e, true))?;
        } else {
            self.secrets_reload(plan).await.map_err(|e| (e, true))?;
        }
        progress(&inst.name, Stage::Verifying);
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        let check = format!("printf 'file=%s\\n' \"$(tr -d '\\n' < {} | sha256sum | cut -c1-64)\"", sh_quote(&p.secret_path));
        let out = self.ssh.exec("verify", &check, None, self.opts.ssh.op_timeout).await.map_err(|e| (e, true))?;
        if kv(out.stdout(), "file").first() != Some(&self.job.key.fingerprint) {
            return Err((Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: "the secret file on the host does not hold the deployed key".into() }, true));
        }
        report.steps.push(format!(
            "secrets reloaded, gateway ready, the secret file holds {} (sha256 {}) [{} ms]",
            self.job.key.hint,
            keyfmt::short_fingerprint(&self.job.key.fingerprint),
            t.elapsed().as_millis()
        ));
        Ok(())
    }

    async fn secrets_reload(&self, plan: &DeployPlan) -> Result<()> {
        let bin = plan.private.openclaw_bin.clone().unwrap_or_else(|| "openclaw".into());
        let cmd = format!("{} secrets reload", sh_quote(&bin));
        let out = self.ssh.exec("secrets-reload", &cmd, None, self.opts.restart_timeout).await?;
        if !out.success() {
            return Err(Error::Remote { instance: self.job.instance.name.clone(), step: "secrets-reload".into(), message: format!("`{cmd}` failed: {}", self.brief(&out)) });
        }
        Ok(())
    }

    async fn rollback_secret_file(&self, plan: &DeployPlan) -> (bool, String) {
        let p = &plan.private;
        let mut notes = Vec::new();
        let r = match &p.old_secret {
            Some(old) => self.ssh.write_atomic(&p.secret_path, old.expose().as_bytes()).await.map(|()| "restored the previous secret file"),
            None => self.ssh.remove(&p.secret_path).await.map(|()| "removed the new secret file"),
        };
        match r {
            Ok(t) => notes.push(t.to_string()),
            Err(e) => return (false, format!("rollback failed: {e}")),
        }
        if let (Some(_), Some(old)) = (&p.new_config, &p.config_text) {
            match self.ssh.write_atomic(&p.config_path, old.expose()).await {
                Ok(()) => notes.push("restored openclaw.json".into()),
                Err(e) => return (false, format!("{}; could not restore openclaw.json: {e}", notes.join("; "))),
            }
        }
        let reloaded = if p.new_config.is_some() { self.restart().await } else { self.secrets_reload(plan).await };
        match reloaded {
            Ok(()) => {
                notes.push(if p.new_config.is_some() { "restarted".into() } else { "secrets reloaded".into() });
                (true, notes.join("; "))
            }
            Err(e) => {
                notes.push(format!("secrets reload failed: {e}"));
                (false, notes.join("; "))
            }
        }
    }

    async fn paste_profiles(&self, secret: &Secret, plan: &DeployPlan) -> Result<Vec<String>> {
        let inst = &self.job.instance;
        let bin = plan.private.openclaw_bin.clone().unwrap_or_else(|| "openclaw".into());
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let mut done = Vec::new();
        for a in &inst.agents {
            let cmd = format!("{} models auth paste-api-key --provider anthropic --agent {} --profile-id anthropic:default", sh_quote(&bin), sh_quote(a));
            let input = Secret::new(format!("{}\n", secret.expose()));
            let out = self.ssh.exec("paste-api-key", &cmd, Some(input.expose().as_bytes()), self.opts.restart_timeout).await?;
            if !out.success() {
                return Err(Error::Remote {
                    instance: inst.name.clone(),
                    step: "paste-api-key".into(),
                    message: format!("agent {a}: `{cmd}` failed: {}", out.brief_without(&[secret, &self.job.secret])),
                });
            }
            // The key is stored in plain text in the agent's SQLite (openclaw.md §2.2): match it
            // on the host with the pattern on stdin (never in argv), WAL file included.
            // OpenClaw 2026.9 keeps profiles in the shared state DB; older layouts per agent.
            let files = [
                format!("{sd}/state/openclaw.sqlite"),
                format!("{sd}/state/openclaw.sqlite-wal"),
                format!("{sd}/agents/{a}/agent/openclaw-agent.sqlite"),
                format!("{sd}/agents/{a}/agent/openclaw-agent.sqlite-wal"),
            ]
            .iter()
            .map(|f| sh_quote(f))
            .collect::<Vec<_>>()
            .join(" ");
            let check = format!("if grep -qaF -f - {files} 2>/dev/null; then echo stored=1; else echo stored=0; fi");
            let out = self.ssh.exec("verify", &check, Some(input.expose().as_bytes()), self.opts.ssh.op_timeout).await?;
            if kv(out.stdout(), "stored").first().map(String::as_str) != Some("1") {
                return Err(Error::Remote {
                    instance: inst.name.clone(),
                    step: "verify".into(),
                    message: format!("agent {a}: the key is not in its auth store after paste-api-key"),
                });
            }
            done.push(a.clone());
        }
        Ok(done)
    }

    async fn apply_auth_profile(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let t = Instant::now();
        progress(&self.job.instance.name, Stage::Writing);
        let agents = self.paste_profiles(&self.job.secret, plan).await.map_err(|e| (e, true))?;
        report.steps.push(format!("auth profile anthropic:default set and found in the auth store of agent(s) {} [{} ms]", agents.join(", "), t.elapsed().as_millis()));
        progress(&self.job.instance.name, Stage::Verifying);
        let t = Instant::now();
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        report.steps.push(format!("gateway ready on 127.0.0.1:{} (hot reload, no restart) [{} ms]", plan.gateway_port, t.elapsed().as_millis()));
        Ok(())
    }

    async fn rollback_auth_profile(&self, plan: &DeployPlan) -> (bool, String) {
        match &self.job.previous_secret {
            Some(prev) => match self.paste_profiles(prev, plan).await {
                Ok(a) => (true, format!("re-pasted the previous active key into the auth profiles of agent(s) {}", a.join(", "))),
                Err(e) => (false, format!("rollback failed: {e}")),
            },
            None => (false, "no previous key is known to Clawkeep to restore; the profiles may hold the new key: check with `openclaw models status` on the host".into()),
        }
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
            r.set_error(&e);
        };
        if !plan.blockers.is_empty() {
            fail(&mut report, Outcome::Refused, Error::InvalidState(format!("the plan for '{}' is blocked: {}", name, plan.blockers.join("; "))));
        } else if plan.stale.iter().any(|s| s.removable) && !self.opts.remove_stale {
            fail(
                &mut report,
                Outcome::Refused,
                Error::InvalidState(format!(
                    "'{}' has stale credentials that would win over the new key ({}); consent to removing them (answer yes, or pass --yes) or remove them by hand",
                    name,
                    plan.stale.iter().map(|s| s.location.as_str()).collect::<Vec<_>>().join(", ")
                )),
            );
        } else if cancel.is_cancelled() {
            fail(&mut report, Outcome::Cancelled, Error::Cancelled);
        } else if let Err(e) = self.host_unchanged_since(&plan).await {
            // Right before the first write: a line added on the host while the user read the
            // plan must not be lost from the file and from the backup.
            let outcome = if matches!(e, Error::InvalidState(_)) { Outcome::Refused } else { Outcome::Failed };
            fail(&mut report, outcome, e);
        } else {
            progress(&name, Stage::Writing);
            let method = self.job.instance.injection;
            let result = match method {
                InjectionMethod::AuthProfile => self.apply_auth_profile(&plan, &mut report, progress).await,
                InjectionMethod::SecretFile => self.apply_secret_file(&plan, &mut report, progress).await,
                InjectionMethod::EnvFile => self.write_and_verify(&plan, &mut report, progress).await,
            };
            match result {
                Ok(()) => report.outcome = Outcome::Succeeded,
                Err((e, changed)) => {
                    report.set_error(&e);
                    if changed {
                        progress(&name, Stage::RollingBack);
                        let (ok, text) = match method {
                            InjectionMethod::AuthProfile => self.rollback_auth_profile(&plan).await,
                            InjectionMethod::SecretFile => self.rollback_secret_file(&plan).await,
                            InjectionMethod::EnvFile => self.rollback(&plan, &mut report).await,
                        };
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
        report.sanitize();
        progress(&name, Stage::Done);
        report
    }

    /// `Err((error, host_changed))`.
    async fn write_and_verify(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let p = &plan.private;
        let inst = &self.job.instance;
        let mut lap = Instant::now();
        let mut step = |r: &mut DeployReport, text: String| {
            r.steps.push(format!("{text} [{} ms]", lap.elapsed().as_millis()));
            lap = Instant::now();
        };
        let backup = async {
            match &p.old_env {
                Some(old) => self.ssh.write_atomic(&p.backup_path, old.expose()).await.map(|()| true),
                None => Ok(false),
            }
        };
        if backup.await.map_err(|e| (e, false))? {
            step(report, format!("backed up .env to {}", p.backup_path));
        }
        let pid_before = p.pid_before.clone();
        let new_env = p.new_env.as_ref().ok_or_else(|| (Error::InvalidState("plan has no .env content".into()), false))?;
        self.ssh.write_atomic(&p.env_path, new_env.expose()).await.map_err(|e| (e, false))?;
        // From here on the host has changed.
        step(report, format!("wrote {} (0600, atomic)", p.env_path));
        for s in plan.stale.iter().filter(|s| s.removable) {
            match s.kind.as_str() {
                "auth-profile" => {
                    // Built from the plan's own fields (the shown remedy is sanitized text).
                    let bin = p.openclaw_bin.as_deref().unwrap_or("openclaw");
                    let cmd = format!("{} models auth logout anthropic:default --yes --agent {}", sh_quote(bin), sh_quote(s.agent.as_deref().unwrap_or("main")));
                    let out = self.ssh.exec("remove-profile", &cmd, None, self.opts.restart_timeout).await.map_err(|e| (e, true))?;
                    if !out.success() {
                        return Err((Error::Remote { instance: inst.name.clone(), step: "remove-profile".into(), message: format!("`{cmd}` failed: {}", self.brief(&out)) }, true));
                    }
                    report.stale_removed.push(format!("auth profile anthropic:default of agent {}", s.agent.as_deref().unwrap_or("?")));
                }
                "systemd-env-file" => {
                    if let (Some(old), Some(new)) = (&p.old_systemd_env, &p.new_systemd_env) {
                        let bak = format!("{}.clawkeep-bak", p.systemd_env_path);
                        self.ssh.write_atomic(&bak, old.expose()).await.map_err(|e| (e, true))?;
                        self.ssh.write_atomic(&p.systemd_env_path, new.expose()).await.map_err(|e| (e, true))?;
                        report.stale_removed.push(format!("ANTHROPIC_API_KEY line of {}", p.systemd_env_path));
                    }
                }
                _ => {}
            }
        }
        progress(&inst.name, Stage::Restarting);
        self.restart().await.map_err(|e| (e, true))?;
        step(report, format!("restarted the gateway ({})", restart_command(&inst.service_manager)));
        progress(&inst.name, Stage::Verifying);
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        step(report, format!("gateway ready on 127.0.0.1:{}", plan.gateway_port));
        let st = self.gateway_state(plan.gateway_port).await.map_err(|e| (e, true))?;
        let want = &self.job.key.fingerprint;
        let verr = |m: String| (Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: m }, true);
        let Some(pid) = st.pid.clone() else {
            return Err(verr(format!("cannot find the gateway process listening on 127.0.0.1:{} (is `ss` or /proc readable?)", plan.gateway_port)));
        };
        if st.file_fp.as_deref() != Some(want.as_str()) {
            return Err(verr("the key in .env on the host does not match the deployed key after writing it (changed by someone else?)".into()));
        }
        if pid_before.as_deref() == Some(pid.as_str()) {
            return Err(verr(format!(
                "the gateway process (pid {pid}) was not replaced by the restart command; a changed .env needs a new process: check the instance's restart command"
            )));
        }
        // The process environment beats .env (openclaw.md §4.5): if the gateway has an
        // ANTHROPIC_API_KEY of its own (systemd Environment=, a wrapper), it must be ours. If it
        // has none, OpenClaw loads .env itself at start (it does not show in /proc/<pid>/environ).
        let env_note = match &st.proc_fp {
            Some(fp) if fp == want => "the key is in its process environment",
            Some(fp) => {
                let what = match &plan.private.old_key_fp {
                    Some(old) if old == fp => "still the previous key".to_string(),
                    _ => format!("a different key (sha256 {})", keyfmt::short_fingerprint(fp)),
                };
                return Err(verr(format!("the restarted gateway (pid {pid}) has {what} in its process environment, which beats .env: another source (systemd unit Environment=, a wrapper script) sets ANTHROPIC_API_KEY")));
            }
            None => "no ANTHROPIC_API_KEY in its process environment overrides .env",
        };
        step(
            report,
            format!(
                "verified: .env holds {} (sha256 {}); gateway pid {} -> {pid} (a new process, so it loaded it); {env_note}",
                self.job.key.hint,
                keyfmt::short_fingerprint(want),
                pid_before.as_deref().unwrap_or("none"),
            ),
        );
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
                message: format!("`{cmd}` exited with {}: {}", out.exit_status.map(|s| s.to_string()).unwrap_or_else(|| "?".into()), self.brief(&out)),
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
                self.ssh.exec("readyz", &cmd, None, per_try + Duration::from_secs(1)).await.map(|o| (o.stdout().trim().parse::<u16>().unwrap_or(0), String::new()))
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
            // Back off (100, 150, … 500 ms): a fleet polls many gateways on the same machine.
            tokio::time::sleep(Duration::from_millis((50 + 50 * attempts as u64).min(500))).await;
        }
        Err(Error::Remote {
            instance: self.job.instance.name.clone(),
            step: "verify".into(),
            message: format!("the gateway did not become ready on 127.0.0.1:{port}/readyz within {} s (last: {last})", self.opts.ready_timeout.as_secs()),
        })
    }

    /// The SHA-256 fingerprints (hex, computed on the host: no value leaves it) of the keys the
    /// instance's gateway would use with the `.env` method: its own process environment's
    /// `ANTHROPIC_API_KEY` (which beats `.env`) and the one in `.env`; empty when neither has
    /// one. Read-only (the plan finds the gateway's port). The rotation's rollback reads this
    /// to decide whether the previous key must go back on the host.
    pub async fn held_key_fingerprints(&self) -> Result<Vec<String>> {
        let plan = self.plan().await?;
        let st = self.gateway_state(plan.gateway_port).await?;
        Ok(st.proc_fp.into_iter().chain(st.file_fp).collect())
    }

    /// The gateway process listening on `port` (if found) and the SHA-256 (hex) of its own
    /// `ANTHROPIC_API_KEY` (if its environment has one) and of the one in `.env`, computed on
    /// the host through pipes: no value in an argv, none sent back.
    async fn gateway_state(&self, port: u16) -> Result<GatewayState> {
        let inst = &self.job.instance;
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let cmd = format!(
            "{find}echo \"pid=$pid\"; \
             if [ -n \"$pid\" ]; then if [ -r /proc/$pid/environ ]; then \
               if tr '\\0' '\\n' < /proc/$pid/environ | grep -q '^ANTHROPIC_API_KEY='; then \
                 printf 'proc=%s\\n' \"$(tr '\\0' '\\n' < /proc/$pid/environ | sed -n 's/^ANTHROPIC_API_KEY=//p' | head -n1 | tr -d '\\n' | sha256sum | cut -c1-64)\"; \
               else echo proc=none; fi; else echo proc=unreadable; fi; fi; \
             f={env}; if [ -f \"$f\" ] && LC_ALL=C awk {awk} \"$f\" >/dev/null; then \
               printf 'file=%s\\n' \"$(LC_ALL=C awk {awk} \"$f\" | sha256sum | cut -c1-64)\"; fi; echo state_done=1",
            find = find_pid_snippet(port, &inst.service_manager),
            env = sh_quote(&format!("{sd}/.env")),
            awk = sh_quote(dotenv::VALUE_AWK),
        );
        let out = self.ssh.exec("verify", &cmd, None, self.opts.ssh.op_timeout).await?;
        if kv(out.stdout(), "state_done").is_empty() {
            return Err(Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: format!("the check did not run: {}", self.brief(&out)) });
        }
        let pid = kv(out.stdout(), "pid").into_iter().next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let proc_fp = match kv(out.stdout(), "proc").into_iter().next().as_deref() {
            Some("unreadable") => {
                return Err(Error::Remote {
                    instance: inst.name.clone(),
                    step: "verify".into(),
                    message: format!("cannot read /proc/{}/environ of the gateway (another user's process?)", pid.unwrap_or_default()),
                });
            }
            Some("none") | None => None,
            Some(fp) => Some(fp.to_string()),
        };
        Ok(GatewayState { pid, proc_fp, file_fp: kv(out.stdout(), "file").into_iter().next() })
    }

    /// Restores the previous `.env` (and `gateway.systemd.env`), restarts, re-verifies.
    async fn rollback(&self, plan: &DeployPlan, report: &mut DeployReport) -> (bool, String) {
        let p = &plan.private;
        let mut notes = Vec::new();
        let restored = match &p.old_env {
            Some(old) => self.ssh.write_atomic(&p.env_path, old.expose()).await.map(|()| "restored the previous .env".to_string()),
            None => self.ssh.remove(&p.env_path).await.map(|()| "removed the new .env (there was none before)".to_string()),
        };
        match restored {
            Ok(t) => notes.push(t),
            Err(e) => {
                return (
                    false,
                    format!(
                        "rollback failed: could not restore {}: {e}. The host holds either the previous or the new .env (writes are atomic); the backup is {}",
                        p.env_path, p.backup_path
                    ),
                );
            }
        }
        if let Some(old) = &p.old_systemd_env {
            if report.stale_removed.iter().any(|s| s.contains("gateway.systemd.env")) {
                match self.ssh.write_atomic(&p.systemd_env_path, old.expose()).await {
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
        match self.gateway_state(plan.gateway_port).await {
            Ok(st) => {
                let file_ok = st.file_fp == p.old_key_fp;
                let proc_ok = st.proc_fp.is_none() || st.proc_fp == p.old_key_fp;
                if st.pid.is_some() && file_ok && proc_ok {
                    notes.push(match &p.old_key_fp {
                        Some(_) => "the previous key is effective again".into(),
                        None => "no key is set, as before".into(),
                    });
                    (true, notes.join("; "))
                } else {
                    notes.push("but the previous key could not be confirmed on the running gateway".into());
                    (false, notes.join("; "))
                }
            }
            Err(e) => {
                notes.push(format!("could not check the effective key: {e}"));
                (false, notes.join("; "))
            }
        }
    }
}

/// The plan for `job` from the host's state: pure judgement, no I/O (every branch is covered by
/// table tests over [`DeployFacts`]).
fn build_plan(job: &DeployJob, ready_timeout: Duration, f: DeployFacts) -> DeployPlan {
    let inst = &job.instance;
    let sd = resolve_dir(&inst.state_dir, &f.home);
    let mut plan = DeployPlan {
        instance: inst.name.clone(),
        address: format!("{}@{}:{}", inst.ssh_user, inst.ssh_host, inst.ssh_port),
        host_key: f.host_key.clone(),
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

    let cfg_path = format!("{sd}/openclaw.json");
    let env_path = format!("{sd}/.env");
    plan.private.seen.push((cfg_path.clone(), sha(f.config.as_ref().map(|b| b.expose()))));
    plan.private.seen.push((env_path.clone(), sha(f.env.as_ref().map(|b| b.expose()))));
    plan.private.config_path = cfg_path.clone();
    let cfg_bytes = f.config;
    match &cfg_bytes {
        None => plan.blockers.push(format!("{cfg_path} does not exist: is OpenClaw set up for {} in {sd}?", inst.ssh_user)),
        // json5's own message quotes the offending line (which may hold a literal key):
        // only the position is kept.
        Some(bytes) => match json5::from_str::<serde_json::Value>(&String::from_utf8_lossy(bytes.expose())) {
            Err(e) => plan.blockers.push(format!("{cfg_path} is not valid JSON5 ({}); fix it first, OpenClaw would refuse it too", hosttext::json5_error(&e))),
            Ok(v) => {
                plan.private.config_value = Some(v.clone());
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
                    plan.warnings
                        .push(format!("{cfg_path} has no `meta` object; Clawkeep does not edit it, but OpenClaw's clobber guard may revert hand edits (openclaw.md §3.3)"));
                }
            }
        },
    }

    plan.private.config_text = cfg_bytes;

    // .env (see `dotenv` for how its key line is read and rewritten)
    let old_text = f.env;
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
    let other_lines = old_text.as_ref().map(|t| dotenv::other_lines(t.expose())).unwrap_or(0);
    if old_text.is_some() {
        plan.steps.push(PlanStep { action: "backup".into(), target: backup_path.clone(), detail: "copy of the current .env, mode 0600, kept for rollback".into() });
    }
    plan.steps.push(PlanStep {
        action: "write".into(),
        target: env_path.clone(),
        detail: format!(
            "mode 0600, atomic (temp file + fsync + rename); {} other line(s) kept as they are{}",
            other_lines,
            if old_text.is_none() { "; the file is new" } else { "; owner and group kept" }
        ),
    });

    // What the probe found (names only, never values).
    let probe: &str = &f.probe;
    plan.private.pid_before = kv(probe, "gwpid").into_iter().next().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    // The openclaw CLI's path comes from the host: used only when it is plain text (it is run
    // and shown).
    let oc = kv(probe, "oc").into_iter().next().filter(|s| !s.is_empty());
    let oc = match oc {
        Some(p) if hosttext::line(&p, 4096) == p => Some(p),
        Some(_) => {
            plan.warnings.push("the openclaw CLI's path on the host holds control characters: not used".into());
            None
        }
        None => None,
    };
    plan.private.openclaw_bin = oc.clone();
    // The login user's uid and groups: the .env must keep its owner and group.
    let ids: Vec<u32> = kv(probe, "ids").first().map(|l| l.split_whitespace().filter_map(|x| x.parse().ok()).collect()).unwrap_or_default();
    if let (Some((file_uid, file_gid)), Some((&uid, gids))) = (f.env_owner, ids.split_first()) {
        if uid != 0 {
            if file_uid != uid {
                plan.blockers.push(format!(
                    "{env_path} belongs to uid {file_uid}, not to the SSH user {} (uid {uid}): Clawkeep keeps a file's owner and can't give a new file another one; deploy as that user (or root)",
                    inst.ssh_user
                ));
            } else if !gids.contains(&file_gid) {
                plan.blockers.push(format!(
                    "{env_path} belongs to group {file_gid}, which the SSH user {} is not in: Clawkeep keeps a file's group; add the user to it or change the file's group",
                    inst.ssh_user
                ));
            }
        }
    }
    // Only agents of the inventory (the probe echoes nothing else; a host could).
    let mut profile_agents: Vec<String> = kv(probe, "profile").into_iter().filter(|a| inst.agents.contains(a)).collect();
    profile_agents.dedup();
    profile_agents.sort();
    profile_agents.dedup();
    for agent in profile_agents {
        let location = format!("{sd} (auth profiles of agent {agent}: state/openclaw.sqlite or agents/{agent}/agent/openclaw-agent.sqlite)");
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
    if let Some(read) = f.systemd_env {
        plan.private.seen.push((systemd_env_path.clone(), sha(read.as_ref().map(|b| b.expose()))));
        if let Some(text) = read {
            plan.private.new_systemd_env = Some(dotenv::strip_key_lines(text.expose()));
            plan.private.old_systemd_env = Some(text);
            plan.stale.push(StaleCredential {
                kind: "systemd-env-file".into(),
                agent: None,
                location: systemd_env_path.clone(),
                remedy: "remove its ANTHROPIC_API_KEY line (atomic rewrite, backup kept as gateway.systemd.env.clawkeep-bak)".into(),
                removable: true,
            });
        }
    }
    if !kv(probe, "unit_env").is_empty() {
        let unit = match &inst.service_manager {
            ServiceManager::SystemdUser { unit } => unit.clone(),
            _ => String::new(),
        };
        plan.stale.push(StaleCredential {
            kind: "systemd-unit-env".into(),
            agent: None,
            location: format!("systemd user unit {unit} (Environment=)"),
            remedy: format!("remove ANTHROPIC_API_KEY from the unit's Environment= (`systemctl --user edit {unit}` on the host), then deploy again"),
            removable: false,
        });
        plan.blockers.push(format!("the systemd unit {unit} exports ANTHROPIC_API_KEY in its environment, which beats .env: remove it from the unit first"));
    }
    if kv(probe, "ss").is_empty() && !matches!(inst.service_manager, ServiceManager::SystemdUser { .. }) {
        plan.warnings.push("`ss` is not installed on the host: the gateway process cannot be found to check its environment".into());
    }
    for s in plan.stale.iter().filter(|s| s.removable) {
        plan.steps.push(PlanStep { action: "run".into(), target: s.remedy.clone(), detail: format!("remove stale {} at {} (needs your consent)", s.kind, s.location) });
    }
    plan.steps.push(PlanStep { action: "run".into(), target: restart_command(&inst.service_manager), detail: "restart the gateway: a changed .env needs a new process".into() });
    plan.steps.push(PlanStep {
        action: "check".into(),
        target: format!("http://127.0.0.1:{}/readyz (on the host)", plan.gateway_port),
        detail: format!("gateway ready within {} s", ready_timeout.as_secs()),
    });
    plan.steps.push(PlanStep {
        action: "check".into(),
        target: "/proc/<gateway pid>/environ and .env".into(),
        detail: format!("SHA-256 of the running gateway's ANTHROPIC_API_KEY equals {} (computed on the host)", keyfmt::short_fingerprint(&job.key.fingerprint)),
    });
    if inst.injection == InjectionMethod::AuthProfile {
        plan_auth_profile(job, &mut plan, &sd, oc.as_deref());
    }
    if inst.injection == InjectionMethod::SecretFile {
        plan_secret_file(job, &mut plan, &sd, oc.as_deref(), previous.is_some(), f.gateway_env_has_key, f.secret_file.flatten());
    }
    plan.private.env_path = env_path;
    plan.private.backup_path = backup_path;
    plan.private.new_env = Some(new_env);
    plan.private.old_key_fp = previous.as_ref().map(|p| keyfmt::fingerprint(p.expose()));
    plan.private.old_env = old_text;
    plan.private.systemd_env_path = systemd_env_path;
    plan.sanitize();
    plan
}

/// Method (b): per-agent auth profiles written with `openclaw models auth paste-api-key`
/// (key on stdin; hot, no restart). A profile beats every env var, so env-side "stale"
/// credentials don't matter here.
fn plan_auth_profile(job: &DeployJob, plan: &mut DeployPlan, sd: &str, oc: Option<&str>) {
    let inst = &job.instance;
    plan.stale.clear();
    plan.blockers.retain(|b| !b.contains("ANTHROPIC_API_KEY") && !b.contains("auth profile"));
    plan.steps.clear();
    plan.diff.clear();
    plan.unchanged = false;
    let Some(bin) = oc else {
        plan.blockers.push("the openclaw CLI was not found on the host (PATH, ~/.local/bin, ~/.npm-global/bin): the auth-profile method needs it".into());
        return;
    };
    for a in &inst.agents {
        plan.diff.push(format!("~ auth profile anthropic:default of agent {a} = {}", job.key.hint));
        plan.steps.push(PlanStep {
            action: "run".into(),
            target: format!("{} models auth paste-api-key --provider anthropic --agent {} --profile-id anthropic:default", sh_quote(bin), sh_quote(a)),
            detail: "the key on stdin; hot, no restart (OpenClaw rewrites its config and keeps meta)".into(),
        });
        plan.steps.push(PlanStep {
            action: "check".into(),
            target: format!("{sd}/agents/{a}/agent/openclaw-agent.sqlite"),
            detail: "the agent's auth store holds the key (matched on the host through stdin)".into(),
        });
    }
    plan.steps.push(PlanStep { action: "check".into(), target: format!("http://127.0.0.1:{}/readyz (on the host)", plan.gateway_port), detail: "gateway still ready".into() });
    plan.warnings.push("the previous profile value cannot be read back from the host: rollback re-pastes the previous active key when Clawkeep knows it".into());
}

/// Method (c): the key in a 0600 file referenced from config by a file SecretRef, then
/// `openclaw secrets reload` (hot). Only valid when no `ANTHROPIC_API_KEY` env var exists
/// (env beats config, openclaw.md §4.5): refused otherwise.
fn plan_secret_file(job: &DeployJob, plan: &mut DeployPlan, sd: &str, oc: Option<&str>, env_file_has_key: bool, gateway_env_has_key: bool, read: Option<SecretBytes>) {
    for s in plan.stale.iter().filter(|s| s.kind == "auth-profile" && s.removable) {
        plan.blockers.push(format!("an anthropic auth profile ({}) beats a config SecretRef: remove it first ({})", s.location, s.remedy));
    }
    plan.stale.retain(|s| s.kind != "systemd-env-file");
    plan.steps.clear();
    plan.diff.clear();
    plan.unchanged = false;
    let secret_dir = format!("{sd}/secrets");
    let secret_path = format!("{secret_dir}/anthropic-api-key");
    if oc.is_none() {
        plan.blockers.push("the openclaw CLI was not found on the host: the secret-file method needs `openclaw secrets reload`".into());
    }
    if env_file_has_key {
        plan.blockers.push(format!("{sd}/.env sets ANTHROPIC_API_KEY, which beats a config SecretRef: remove it (or use the env-file method) before switching to secret-file"));
    }
    if gateway_env_has_key {
        plan.blockers
            .push("the running gateway has ANTHROPIC_API_KEY in its process environment, which beats a config SecretRef: remove it from the service environment first".into());
    }
    plan.private.seen.push((secret_path.clone(), sha(read.as_ref().map(|b| b.expose()))));
    let old_secret = read.map(|b| Secret::new(String::from_utf8_lossy(b.expose()).trim_end().to_string()));
    match &old_secret {
        Some(o) if o.expose() == job.secret.expose() => plan.diff.push(format!("  {secret_path} = {} (unchanged)", job.key.hint)),
        Some(o) => plan.diff.push(format!("~ {secret_path} = {} (was {})", job.key.hint, hint_of(o.expose()))),
        None => plan.diff.push(format!("+ {secret_path} = {} (new file)", job.key.hint)),
    }
    // Config: a file secret provider + the anthropic apiKey SecretRef. Other settings and
    // `meta` are kept (OpenClaw's clobber guard restores configs that lose `meta`).
    let mut new_config = None;
    if let Some(mut v) = plan.private.config_value.clone() {
        let want_provider = serde_json::json!({ "source": "file", "path": secret_path, "mode": "singleValue" });
        let want_ref = serde_json::json!({ "source": "file", "provider": "clawkeep_anthropic", "id": "value" });
        if v["secrets"]["providers"]["clawkeep_anthropic"] != want_provider || v["models"]["providers"]["anthropic"]["apiKey"] != want_ref {
            if !v.is_object() {
                plan.blockers.push("openclaw.json is not an object".into());
            } else {
                if !v["meta"].is_object() {
                    v["meta"] = serde_json::json!({});
                }
                v["secrets"]["providers"]["clawkeep_anthropic"] = want_provider;
                let before_key = v["models"]["providers"]["anthropic"]["apiKey"].clone();
                v["models"]["providers"]["anthropic"]["apiKey"] = want_ref;
                plan.diff.push(format!(
                    "~ {}: models.providers.anthropic.apiKey = file SecretRef clawkeep_anthropic (was {}); + secrets.providers.clawkeep_anthropic",
                    plan.private.config_path,
                    if before_key.is_null() {
                        "unset".to_string()
                    } else if before_key.is_string() {
                        "a literal (redacted)".to_string()
                    } else {
                        before_key.to_string()
                    }
                ));
                plan.warnings.push("openclaw.json is rewritten as JSON (comments are dropped, as OpenClaw's own writers do); meta and every other setting are kept".into());
                new_config = Some(Secret::new(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"));
            }
        }
    }
    plan.steps.push(PlanStep { action: "write".into(), target: secret_path.clone(), detail: "mode 0600 (directory 0700), atomic; previous file kept as .clawkeep-bak".into() });
    if new_config.is_some() {
        plan.steps.push(PlanStep {
            action: "write".into(),
            target: plan.private.config_path.clone(),
            detail: "add the file SecretRef; backup openclaw.json.clawkeep-bak; atomic".into(),
        });
    }
    if new_config.is_some() {
        plan.steps.push(PlanStep {
            action: "run".into(),
            target: restart_command(&job.instance.service_manager),
            detail: "restart once: the config gained a secret provider".into(),
        });
    } else {
        plan.steps.push(PlanStep {
            action: "run".into(),
            target: format!("{} secrets reload", sh_quote(oc.unwrap_or("openclaw"))),
            detail: "hot reload of the secret, no restart".into(),
        });
    }
    plan.steps.push(PlanStep {
        action: "check".into(),
        target: secret_path.clone(),
        detail: "SHA-256 of the file's key equals the deployed key's (computed on the host); gateway /readyz".into(),
    });
    plan.private.secret_path = secret_path;
    plan.private.old_secret = old_secret;
    plan.private.new_config = new_config;
}

/// What [`DeploySession::gateway_state`] found.
#[derive(Debug)]
struct GatewayState {
    pid: Option<String>,
    proc_fp: Option<String>,
    file_fp: Option<String>,
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
                    r.set_error(&e);
                    r
                }
            };
            r.duration_ms = t0.elapsed().as_millis() as u64;
            progress(&name, Stage::Done);
            return r;
        }
    };
    let connected_ms = t0.elapsed().as_millis();
    progress(&name, Stage::Planning);
    let t_plan = Instant::now();
    let planned = session.plan().await;
    let plan_ms = t_plan.elapsed().as_millis();
    let report = match planned {
        Err(e) => {
            let mut r = DeployReport::new(job);
            r.set_error(&e);
            r
        }
        Ok(plan) if dry_run => {
            let mut r = DeployReport::new(job);
            r.outcome = Outcome::Planned;
            r.plan = Some(plan);
            r
        }
        Ok(plan) if job.expected_plan.as_deref().is_some_and(|d| d != plan_digest(&plan)) => {
            let mut r =
                DeployReport::refused(job, &Error::InvalidState("the host changed since its plan was shown; nothing was written: review the new plan and confirm again".into()));
            r.plan = Some(plan);
            r
        }
        Ok(plan) => session.apply(plan, progress, cancel).await,
    };
    session.close().await;
    let mut report = report;
    report.steps.insert(0, format!("connected, host key {} verified, authenticated [{connected_ms} ms]", job.instance.host_key_fingerprint.as_deref().unwrap_or("?")));
    report.steps.insert(1, format!("read the host's state and planned [{plan_ms} ms]"));
    report.duration_ms = t0.elapsed().as_millis() as u64;
    report.sanitize();
    progress(&name, Stage::Done);
    report
}

/// Runs many jobs with at most `concurrency` hosts at a time. Reports come back in job order.
/// One failing host never stops the others; after `cancel`, hosts not started are reported
/// cancelled and hosts in flight finish (or roll back).
pub async fn deploy_fleet(
    jobs: Vec<DeployJob>,
    auth: Arc<SshAuth>,
    opts: DeployOptions,
    dry_run: bool,
    concurrency: usize,
    progress: ProgressFn,
    cancel: CancellationToken,
) -> Vec<(DeployJob, DeployReport)> {
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
        let (new, prev, dropped) = rewrite_env(Some(old.as_bytes()), &k);
        // `export` and the quotes stay: only the value changes.
        assert_eq!(new.expose(), b"# comment\nFOO=bar\nexport ANTHROPIC_API_KEY=\"NEWKEYVALUE-1234567890-abcdefgh\"\nBAZ=1\n");
        assert_eq!(prev.unwrap().expose(), "oldvalue-123456789012345");
        assert_eq!(dropped, 1);
        let (new, prev, _) = rewrite_env(Some(b"A=1"), &k);
        assert_eq!(new.expose(), b"A=1\nANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\n");
        assert!(prev.is_none());
        let (new, _, _) = rewrite_env(None, &k);
        assert_eq!(new.expose(), b"ANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\n");
        assert_eq!(dotenv::strip_key_lines(b"A=1\nANTHROPIC_API_KEY=x\nB=2\n").expose(), b"A=1\nB=2\n");
    }

    // ---- build_plan: every branch, from facts (no host, no root) ----

    use crate::domain::{KeyStatus, Purpose};
    use crate::keyfmt::KeyKind;

    fn job(method: InjectionMethod, sm: ServiceManager) -> DeployJob {
        let value = crate::keyfmt::tests::fake_key(KeyKind::Api, 1);
        let now = Utc::now();
        DeployJob {
            instance: Instance {
                id: 1,
                name: "t".into(),
                owner: "acme".into(),
                environment: "prod".into(),
                workload: "bot".into(),
                purpose: Purpose::InternalOps,
                ssh_host: "127.0.0.1".into(),
                ssh_port: 22,
                ssh_user: "u".into(),
                jump_via: None,
                host_key_fingerprint: Some("SHA256:x".into()),
                state_dir: "~/.openclaw".into(),
                service_manager: sm,
                injection: method,
                agents: vec!["main".into()],
                expected_org_id: None,
                expected_workspace_id: None,
                tags: vec![],
                notes: String::new(),
                draft: false,
                created_at: now,
                updated_at: now,
            },
            key: Key {
                id: 1,
                name: "k".into(),
                kind: KeyKind::Api,
                hint: keyfmt::hint(&value),
                fingerprint: keyfmt::fingerprint(&value),
                length: value.len() as u32,
                keychain_ref: String::new(),
                instance: Some("t".into()),
                workspace_id: None,
                anthropic_key_id: None,
                status: KeyStatus::Active,
                name_override: false,
                created_at: now,
                expires_at: None,
                rotated_at: None,
                retired_at: None,
                updated_at: now,
            },
            secret: Secret::new(value),
            previous_active: None,
            previous_secret: None,
            jump: None,
            expected_plan: None,
        }
    }

    fn env_job() -> DeployJob {
        job(InjectionMethod::EnvFile, ServiceManager::Custom { restart_command: "~/restart".into() })
    }

    const PROBE: &str = "oc=/home/u/.local/bin/openclaw\nss=1\nids=1000 1000 27\ngwpid=42\nprobe_done=1\n";
    const CONFIG: &str = "{ meta: {}, gateway: { port: 28001 } }";

    fn facts(config: Option<&str>, env: Option<&[u8]>, probe: &str) -> DeployFacts {
        DeployFacts {
            home: "/home/u".into(),
            host_key: "SHA256:x".into(),
            config: config.map(|c| SecretBytes::new(c.as_bytes().to_vec())),
            env: env.map(|e| SecretBytes::new(e.to_vec())),
            env_owner: env.map(|_| (1000, 1000)),
            probe: Zeroizing::new(probe.to_string()),
            systemd_env: None,
            secret_file: None,
            gateway_env_has_key: false,
        }
    }

    fn plan_of(job: &DeployJob, f: DeployFacts) -> DeployPlan {
        build_plan(job, Duration::from_secs(90), f)
    }

    fn shown(p: &DeployPlan) -> String {
        serde_json::to_string(p).unwrap()
    }

    #[test]
    fn plan_env_file_branches() {
        let j = env_job();
        let key = j.secret.expose().to_string();
        let old = crate::keyfmt::tests::fake_key(KeyKind::Api, 2);

        // No .env yet: a new line, no backup, the configured port.
        let p = plan_of(&j, facts(Some(CONFIG), None, PROBE));
        assert!(p.blockers.is_empty() && p.warnings.is_empty(), "{p:?}");
        assert_eq!((p.gateway_port, p.unchanged), (28001, false));
        assert!(p.diff[0].starts_with("+ ANTHROPIC_API_KEY="), "{:?}", p.diff);
        assert!(!p.steps.iter().any(|s| s.action == "backup"));
        assert_eq!(p.private.new_env.as_ref().unwrap().expose(), format!("ANTHROPIC_API_KEY={key}\n").as_bytes());
        assert_eq!(p.private.pid_before.as_deref(), Some("42"));
        assert_eq!(p.state_dir, "/home/u/.openclaw");

        // CRLF, export, quotes, a comment: only the value changes; the old key is read right.
        let env = format!("A=1\r\nexport ANTHROPIC_API_KEY=\"{old}\" # c\r\nB='x y'\r\n");
        let p = plan_of(&j, facts(Some(CONFIG), Some(env.as_bytes()), PROBE));
        assert!(p.diff[0].starts_with("~ ANTHROPIC_API_KEY=") && p.diff[0].contains(&format!("(was {})", keyfmt::hint(&old))), "{:?}", p.diff);
        assert!(p.steps.iter().any(|s| s.action == "backup"));
        assert!(p.steps.iter().any(|s| s.detail.contains("2 other line(s) kept") && s.detail.contains("owner and group kept")), "{:?}", p.steps);
        assert_eq!(p.private.new_env.as_ref().unwrap().expose(), env.replace(&old, &key).as_bytes());
        assert_eq!(p.private.old_key_fp, Some(keyfmt::fingerprint(&old)));
        assert!(!shown(&p).contains(&old) && !shown(&p).contains(&key));

        // Already deployed; and duplicates.
        let p = plan_of(&j, facts(Some(CONFIG), Some(format!("ANTHROPIC_API_KEY={key}\n").as_bytes()), PROBE));
        assert!(p.unchanged && p.diff[0].contains("(unchanged)"));
        let p = plan_of(&j, facts(Some(CONFIG), Some(format!("ANTHROPIC_API_KEY={old}\nANTHROPIC_API_KEY=x\n").as_bytes()), PROBE));
        assert!(p.diff[1].contains("1 further ANTHROPIC_API_KEY line"), "{:?}", p.diff);

        // Config: missing, broken (with a literal key on the bad line), no port, no meta.
        let p = plan_of(&j, facts(None, None, PROBE));
        assert!(p.blockers[0].contains("does not exist"), "{:?}", p.blockers);
        let p = plan_of(&j, facts(Some(&format!("{{\n  models: {{ apiKey: {old} }}\n}}")), None, PROBE));
        assert!(p.blockers[0].contains("not valid JSON5") && p.blockers[0].contains("line 2"), "{:?}", p.blockers);
        assert!(!shown(&p).contains(&old[..20]), "{}", shown(&p));
        let p = plan_of(&j, facts(Some("{ meta: {} }"), None, PROBE));
        assert_eq!(p.gateway_port, 18789);
        assert!(p.warnings[0].contains("no gateway.port"), "{:?}", p.warnings);
        let p = plan_of(&j, facts(Some("{ gateway: { port: 1 } }"), None, PROBE));
        assert!(p.warnings.iter().any(|w| w.contains("no `meta` object")), "{:?}", p.warnings);
    }

    #[test]
    fn plan_stale_credentials_and_owners() {
        let j = env_job();
        // A stale auth profile of an inventory agent: removable with the CLI; a name the
        // inventory does not know is ignored.
        let p = plan_of(&j, facts(Some(CONFIG), None, &format!("profile=main\nprofile=evil\n{PROBE}")));
        assert_eq!(p.stale.len(), 1);
        assert!(p.stale[0].removable && p.stale[0].agent.as_deref() == Some("main"));
        assert!(p.steps.iter().any(|s| s.detail.contains("remove stale auth-profile")));
        // Without the CLI: blocked.
        let p = plan_of(&j, facts(Some(CONFIG), None, &format!("profile=main\n{}", PROBE.replace("oc=/home/u/.local/bin/openclaw", "oc="))));
        assert!(!p.stale[0].removable && p.blockers.iter().any(|b| b.contains("auth profile")), "{:?}", p.blockers);
        // A key in gateway.systemd.env: removed, other bytes kept.
        let mut f = facts(Some(CONFIG), None, &format!("systemd_env_file=1\n{PROBE}"));
        f.systemd_env = Some(Some(SecretBytes::new(b"A=1\r\nANTHROPIC_API_KEY=x\r\nB=2\r\n".to_vec())));
        let p = plan_of(&j, f);
        assert_eq!(p.stale[0].kind, "systemd-env-file");
        assert_eq!(p.private.new_systemd_env.as_ref().unwrap().expose(), b"A=1\r\nB=2\r\n");
        assert!(p.private.seen.iter().any(|(path, h)| path.ends_with("gateway.systemd.env") && h.is_some()));
        // A key in the systemd unit's environment: blocked.
        let sj = job(InjectionMethod::EnvFile, ServiceManager::SystemdUser { unit: "openclaw-gateway.service".into() });
        let p = plan_of(&sj, facts(Some(CONFIG), None, &format!("unit_env=1\n{}", PROBE.replace("ss=1\n", ""))));
        assert!(p.blockers.iter().any(|b| b.contains("systemd unit")), "{:?}", p.blockers);
        assert!(p.warnings.is_empty(), "no `ss` warning with systemd: {:?}", p.warnings);
        // No `ss`, custom restart: a warning.
        let p = plan_of(&j, facts(Some(CONFIG), None, &PROBE.replace("ss=1\n", "")));
        assert!(p.warnings.iter().any(|w| w.contains("`ss`")), "{:?}", p.warnings);
        // .env of another owner, of a group the user is not in, of a group it is in; root.
        for (owner, ids, blocked) in
            [((1001, 1000), "1000 1000", Some("belongs to uid 1001")), ((1000, 50), "1000 1000", Some("group 50")), ((1000, 27), "1000 1000 27", None), ((1001, 50), "0 0", None)]
        {
            let mut f = facts(Some(CONFIG), Some(b"A=1\n"), &PROBE.replace("ids=1000 1000 27", &format!("ids={ids}")));
            f.env_owner = Some(owner);
            let p = plan_of(&j, f);
            match blocked {
                Some(b) => assert!(p.blockers.iter().any(|x| x.contains(b)), "{owner:?} {ids}: {:?}", p.blockers),
                None => assert!(p.blockers.is_empty(), "{owner:?} {ids}: {:?}", p.blockers),
            }
        }
    }

    /// Finding 6: host text (home directory, the CLI's path, config) reaches the plan only as
    /// visible text.
    #[test]
    fn plan_neutralises_host_text() {
        let j = env_job();
        let mut f = facts(Some(CONFIG), None, &PROBE.replace("/home/u/.local", "/home/u/\u{1b}[2J.local"));
        f.home = "/home/\u{1b}]0;owned\u{7}u".into();
        let p = plan_of(&j, f);
        let text = shown(&p);
        assert!(!text.contains("\\u001b") && !text.contains("\\u0007"), "{text}");
        assert!(p.state_dir.contains("?]0;owned?u"), "{}", p.state_dir);
        assert!(p.private.openclaw_bin.is_none() && p.warnings.iter().any(|w| w.contains("control characters")), "{:?}", p.warnings);
        // The raw path is still what is written to (the host's own name for it).
        assert!(p.private.env_path.contains('\u{1b}'));
        // The Debug of a plan shows no host file content.
        let old = crate::keyfmt::tests::fake_key(KeyKind::Api, 3);
        let p = plan_of(&j, facts(Some(&format!("{{ meta: {{}}, x: \"{old}\" }}")), Some(format!("ANTHROPIC_API_KEY={old}\n").as_bytes()), PROBE));
        let dbg = format!("{p:?}");
        assert!(!dbg.contains(&old[..20]) && !dbg.contains(&j.secret.expose()[..20]), "{dbg}");
    }

    #[test]
    fn plan_auth_profile_and_secret_file_branches() {
        let aj = job(InjectionMethod::AuthProfile, ServiceManager::Custom { restart_command: "r".into() });
        let p = plan_of(&aj, facts(Some(CONFIG), None, &format!("profile=main\n{PROBE}")));
        assert!(p.blockers.is_empty() && p.stale.is_empty(), "{p:?}");
        assert!(p.steps.iter().any(|s| s.target.contains("paste-api-key")) && !p.steps.iter().any(|s| s.target == "r"));
        let p = plan_of(&aj, facts(Some(CONFIG), None, &PROBE.replace("oc=/home/u/.local/bin/openclaw", "oc=")));
        assert!(p.blockers.iter().any(|b| b.contains("auth-profile method needs it")), "{:?}", p.blockers);

        let sj = job(InjectionMethod::SecretFile, ServiceManager::Custom { restart_command: "r".into() });
        let key = sj.secret.expose().to_string();
        // First switch: the config gains the SecretRef (restart once).
        let mut f = facts(Some(CONFIG), None, PROBE);
        f.secret_file = Some(None);
        let p = plan_of(&sj, f);
        assert!(p.blockers.is_empty(), "{:?}", p.blockers);
        assert!(p.private.new_config.is_some() && p.steps.iter().any(|s| s.target == "r"));
        assert!(p.private.seen.iter().any(|(path, h)| path.ends_with("secrets/anthropic-api-key") && h.is_none()));
        // Already switched, same key: a reload, nothing to change.
        let cfg = "{ meta: {}, gateway: { port: 28001 }, secrets: { providers: { clawkeep_anthropic: { source: 'file', path: '/home/u/.openclaw/secrets/anthropic-api-key', mode: 'singleValue' } } }, models: { providers: { anthropic: { apiKey: { source: 'file', provider: 'clawkeep_anthropic', id: 'value' } } } } }";
        let mut f = facts(Some(cfg), None, PROBE);
        f.secret_file = Some(Some(SecretBytes::new(format!("{key}\n").into_bytes())));
        let p = plan_of(&sj, f);
        assert!(p.private.new_config.is_none() && p.steps.iter().any(|s| s.target.ends_with("secrets reload")), "{:?}", p.steps);
        assert!(p.diff[0].contains("(unchanged)"), "{:?}", p.diff);
        // Env beats config: a key in .env or in the gateway's environment blocks; so does no CLI.
        let mut f = facts(Some(CONFIG), Some(b"ANTHROPIC_API_KEY=x\n"), &PROBE.replace("oc=/home/u/.local/bin/openclaw", "oc="));
        f.secret_file = Some(None);
        f.gateway_env_has_key = true;
        let p = plan_of(&sj, f);
        for b in [".env sets ANTHROPIC_API_KEY", "process environment", "secrets reload"] {
            assert!(p.blockers.iter().any(|x| x.contains(b)), "{b}: {:?}", p.blockers);
        }
    }

    #[test]
    fn state_dir_resolution() {
        assert_eq!(resolve_dir("~/.openclaw", "/home/u"), "/home/u/.openclaw");
        assert_eq!(resolve_dir("~", "/home/u/"), "/home/u");
        assert_eq!(resolve_dir("/srv/oc/", "/home/u"), "/srv/oc");
    }
}
