//! The guided rotation's state machine as data: the steps, the persisted [`Rotation`] (stored
//! as JSON in `rotations.state`, so a rotation survives a crash or a closed window and resumes
//! where it stopped), what a person gives a step and what a step reports, and the
//! [`Deployer`] trait through which step 3 puts a key on a host. What the next step is and what
//! an answer or a failure means is `rotation::judge`; the facade methods that run the steps
//! (store, keychain, Admin API, deployer) are `api/rotations/`
//! ([`Clawkeep::rotation_step`](crate::Clawkeep::rotation_step)).
//!
//! Steps: `create` (the user creates the key in the Console) → `paste` (lint, free probe,
//! workspace check, stored staged) → `deploy` (through a [`Deployer`]; the new key becomes the
//! instance's active key) → `deactivate` (old key `inactive` via the Admin API, or confirmed by
//! the user) → `soak` (no traffic on the old key for the soak period, or confirmed) → `archive`
//! (permanent; the old key is retired) → `done`. A rollback
//! ([`Clawkeep::rotation_rollback`](crate::Clawkeep::rotation_rollback)) undoes any step before
//! the archive.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Remedy, Result};
use crate::model::domain::{Instance, Key};
use crate::secret::Secret;

/// Default soak: a day without traffic on the old key before it is archived.
pub const DEFAULT_SOAK_SECS: i64 = 24 * 3600;

/// A step of the guided rotation. `step` in [`Rotation`] is the next one to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum RotationStep {
    Create,
    Paste,
    Deploy,
    Deactivate,
    Soak,
    Archive,
    Done,
    Rollback,
}

impl RotationStep {
    pub fn as_str(self) -> &'static str {
        match self {
            RotationStep::Create => "create",
            RotationStep::Paste => "paste",
            RotationStep::Deploy => "deploy",
            RotationStep::Deactivate => "deactivate",
            RotationStep::Soak => "soak",
            RotationStep::Archive => "archive",
            RotationStep::Done => "done",
            RotationStep::Rollback => "rollback",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RotationOutcome {
    InProgress,
    Completed,
    RolledBack,
}

impl RotationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RotationOutcome::InProgress => "in_progress",
            RotationOutcome::Completed => "completed",
            RotationOutcome::RolledBack => "rolled_back",
        }
    }
}

/// One entry of a rotation's own history (also in the audit log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepEvent {
    pub step: RotationStep,
    pub at: DateTime<Utc>,
    /// `done`, `waiting`, `refused`, `failed`, `skipped`.
    pub outcome: String,
    pub detail: String,
}

/// The persisted state of one guided rotation (serialisable; the desktop wizard renders it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Rotation {
    pub id: i64,
    pub instance: String,
    pub owner: String,
    /// The workspace the new key must belong to.
    pub workspace_id: Option<String>,
    pub old_key: String,
    pub old_key_hint: String,
    pub old_key_expired: bool,
    pub old_anthropic_key_id: Option<String>,
    /// The name to create the new key under in the Console.
    pub new_key_name: String,
    /// Set once the new key is stored.
    pub new_key: Option<String>,
    pub new_key_hint: Option<String>,
    pub step: RotationStep,
    pub outcome: RotationOutcome,
    pub soak_secs: i64,
    /// The person deploys by hand and confirms (no SSH deploy for this rotation).
    #[serde(default)]
    pub manual_deploy: bool,
    pub deployed_at: Option<DateTime<Utc>>,
    pub deactivated_at: Option<DateTime<Utc>>,
    /// `admin-api` or `manual`.
    pub deactivated_by: Option<String>,
    pub archived_at: Option<DateTime<Utc>>,
    /// What the machine waits for (a person's action, or time), if anything, in words.
    pub waiting_for: Option<String>,
    /// What the person does once it is done, as data (a front end renders it: the CLI as the
    /// command line, the desktop as the button). Rotations stored before it existed have none.
    #[serde(default)]
    pub waiting_action: Option<Remedy>,
    pub history: Vec<StepEvent>,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Rotation {
    pub fn is_open(&self) -> bool {
        self.outcome == RotationOutcome::InProgress
    }
    /// Moves on to `next`: the machine no longer waits for anything.
    pub(crate) fn advance(&mut self, next: RotationStep) {
        self.step = next;
        self.waiting_for = None;
        self.waiting_action = None;
    }
    /// The rotation as stored (`rotations.state`).
    pub(crate) fn encode(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| Error::Store(e.to_string()))
    }
    /// A stored rotation as the machine wrote it; its id is the row's.
    pub(crate) fn decode(id: i64, state: &str) -> Result<Rotation> {
        let mut rot: Rotation = serde_json::from_str(state).map_err(|e| Error::Store(format!("rotation {id}: bad state: {e}")))?;
        rot.id = id;
        Ok(rot)
    }
    /// Completed steps (`done`), in order, for a quick check of what ran.
    pub fn done_steps(&self) -> Vec<RotationStep> {
        self.history.iter().filter(|e| e.outcome == "done").map(|e| e.step).collect()
    }
}

/// How to start a rotation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct RotationOptions {
    /// Soak period in seconds (default 24h; 0 archives right after deactivation).
    pub soak_secs: Option<i64>,
    /// Use this name for the new key instead of the suggested one (must follow the scheme).
    pub new_key_name: Option<String>,
    /// Deploy by hand and confirm, instead of Clawkeep's SSH deploy.
    pub manual_deploy: bool,
}

/// What a person gives the current step.
#[derive(Debug, Default)]
pub struct StepInput {
    /// The new key (step `paste`).
    pub secret: Option<Secret>,
    /// The person confirms the manual action the step waits for (deploy by hand, deactivate
    /// or archive in the Console, end the soak early).
    pub confirm: bool,
}

/// What one call of [`Clawkeep::rotation_step`] did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepReport {
    /// The step that ran.
    pub ran: RotationStep,
    /// It completed and the machine moved on (false: it waits).
    pub progressed: bool,
    pub detail: String,
    pub rotation: Rotation,
    /// Non-fatal findings (e.g. key lint warnings).
    pub warnings: Vec<String>,
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DeployOutcome {
    /// Written to the host; `verified` when the host was seen using it.
    Deployed { verified: bool, detail: String },
    /// This deployer cannot deploy: a person does it and confirms.
    Manual { instructions: String },
}

/// Which key an instance's host holds, as [`Deployer::key_on_host`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKey {
    /// The SHA-256 (hex, computed on the host) of every key the gateway could use: its own
    /// process environment and its `.env`. Empty: no key at all.
    Fingerprints(Vec<String>),
    /// This deployer cannot look at the host (a person deploys): ask them.
    Unknown,
    /// Clawkeep has never been able to write to this host: its SSH host key is not pinned,
    /// and nothing is ever sent to an unpinned host (the pin is only dropped when the
    /// instance's address changes). The reason is shown.
    NeverReached(String),
}

impl HostKey {
    /// Whether the host holds the key with fingerprint `fp` and no other; `None`: unknown.
    pub fn holds(&self, fp: &str) -> Option<bool> {
        match self {
            HostKey::Fingerprints(fps) => Some(!fps.is_empty() && fps.iter().all(|f| f == fp)),
            HostKey::Unknown | HostKey::NeverReached(_) => None,
        }
    }
}

/// Puts a key on an instance and verifies it. Step 3 goes through this, so the machine can be
/// tested with a double and wired to the real SSH deploy when it lands.
pub trait Deployer {
    fn deploy(&self, instance: &Instance, key: &Key, secret: &Secret) -> Result<DeployOutcome>;

    /// Reads which key the host of `instance` holds, by fingerprint computed on the host (no
    /// value leaves it). Read-only. `key` is the key the caller looks for (a deployer may need
    /// it to open its session). The default cannot look: [`HostKey::Unknown`].
    fn key_on_host(&self, instance: &Instance, key: &Key) -> Result<HostKey> {
        let _ = (instance, key);
        Ok(HostKey::Unknown)
    }

    /// Puts `key` back during a rollback. The key may still be inactive at the API then (the
    /// rollback reactivates it only once the host holds it), so verification must not need the
    /// API; the default is [`Deployer::deploy`] (the SSH deploy verifies by fingerprint on the
    /// host).
    fn restore(&self, instance: &Instance, key: &Key, secret: &Secret) -> Result<DeployOutcome> {
        self.deploy(instance, key, secret)
    }

    /// Called after the machine saved a successful deploy (the key statuses are swapped by
    /// then), e.g. to record the run in the deployments history without the deploy module
    /// re-deciding which key is active.
    fn after_commit(&self) -> Result<()> {
        Ok(())
    }
}

/// The deployer for when Clawkeep cannot deploy itself: the person deploys and confirms.
#[derive(Debug, Default, Clone)]
pub struct ManualDeployer;

impl Deployer for ManualDeployer {
    fn deploy(&self, instance: &Instance, key: &Key, _secret: &Secret) -> Result<DeployOutcome> {
        let how = manual_how(instance);
        Ok(DeployOutcome::Manual {
            instructions: format!(
                "put key {} ({}) on {}@{} for agents {}: {how}; then check with `openclaw models status --json`, and confirm the deploy",
                key.name,
                key.hint,
                instance.ssh_user,
                instance.ssh_host,
                instance.agents.join(", "),
            ),
        })
    }
}

/// How a person puts a key on an instance by hand.
pub(crate) fn manual_how(instance: &Instance) -> String {
    match instance.injection {
        crate::model::domain::InjectionMethod::EnvFile => format!("set ANTHROPIC_API_KEY in {}/.env and restart the gateway", instance.state_dir),
        crate::model::domain::InjectionMethod::AuthProfile => "run `openclaw models auth paste-api-key --provider anthropic` for each agent".to_string(),
        crate::model::domain::InjectionMethod::SecretFile => "rewrite the key file (0600) and run `openclaw secrets reload`".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_holds_a_key_only_when_every_source_is_that_key() {
        let fp = "a".repeat(64);
        assert_eq!(HostKey::Fingerprints(vec![fp.clone(), fp.clone()]).holds(&fp), Some(true));
        // The process environment beats .env: a different key there means not held.
        assert_eq!(HostKey::Fingerprints(vec!["b".repeat(64), fp.clone()]).holds(&fp), Some(false));
        assert_eq!(HostKey::Fingerprints(vec![]).holds(&fp), Some(false));
        assert_eq!(HostKey::Unknown.holds(&fp), None);
        assert_eq!(HostKey::NeverReached("x".into()).holds(&fp), None);
    }
}
