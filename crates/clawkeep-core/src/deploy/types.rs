//! What a deploy is made of, as data: the job, the run's options and progress stages, the plan
//! (with the private half it applies from), how a run ended and its report, and the digest
//! that ties an applied plan to the reviewed one.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, ErrorPayload};
use crate::hosttext;
use crate::model::domain::{InjectionMethod, Instance, Key};
use crate::secret::{Secret, SecretBytes};
use crate::ssh::{SshOptions, SshTarget};

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
    pub(super) private: PlanPrivate,
}

/// What a plan needs to apply itself. Holds host file contents that may carry literal keys:
/// every such field is a [`Secret`]/[`SecretBytes`] or hidden by the redacting `Debug`.
#[derive(Default)]
pub(super) struct PlanPrivate {
    pub(super) env_path: String,
    pub(super) backup_path: String,
    pub(super) new_env: Option<SecretBytes>,
    pub(super) old_env: Option<SecretBytes>,
    pub(super) old_key_fp: Option<String>,
    pub(super) openclaw_bin: Option<String>,
    /// The gateway's pid when the plan was made (to prove the restart replaced it).
    pub(super) pid_before: Option<String>,
    pub(super) systemd_env_path: String,
    pub(super) new_systemd_env: Option<SecretBytes>,
    pub(super) old_systemd_env: Option<SecretBytes>,
    /// Unit files whose `Environment=` holds the key: path, as read, rewritten without it.
    pub(super) unit_env_rewrites: Vec<(String, SecretBytes, SecretBytes)>,
    pub(super) config_path: String,
    /// `openclaw.json` as read (for its backup, byte for byte).
    pub(super) config_text: Option<SecretBytes>,
    /// `openclaw.json` parsed (may hold literal keys).
    pub(super) config_value: Option<serde_json::Value>,
    pub(super) secret_path: String,
    pub(super) old_secret: Option<Secret>,
    pub(super) new_config: Option<Secret>,
    /// Every host file the plan read, and the SHA-256 of its bytes then (`None`: missing):
    /// `apply` reads them again and refuses when one changed.
    pub(super) seen: Vec<(String, Option<[u8; 32]>)>,
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

/// The SHA-256 of a host file as a plan saw it (`None`: the file was missing).
pub(super) fn sha(bytes: Option<&[u8]>) -> Option<[u8; 32]> {
    bytes.map(|b| Sha256::digest(b).into())
}

impl DeployPlan {
    /// Every text a front end shows goes through [`hosttext::line`] (paths and names may come
    /// from the host: its home directory, its config).
    pub(super) fn sanitize(&mut self) {
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
    pub(super) fn new(job: &DeployJob) -> DeployReport {
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
    pub(super) fn set_error(&mut self, err: &Error) {
        let mut p = err.to_payload();
        p.message = hosttext::line(&p.message, 4000);
        self.error = Some(p);
    }

    /// The report's texts as they may be shown and stored (see [`hosttext`]).
    pub(super) fn sanitize(&mut self) {
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
