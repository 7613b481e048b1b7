//! The guided rotation: a step machine persisted in SQLite (`rotations`), so it survives a
//! crash or a closed window and resumes where it stopped. One step runs per call
//! ([`Clawkeep::rotation_step`]); each step's side effect is idempotent (the Admin API status is
//! read before it is changed; a staged key is adopted, not added twice; deploying the same key
//! twice is harmless), and the step's result, the key status changes and the audit event are
//! written in one transaction.
//!
//! Steps: `create` (the user creates the key in the Console) → `paste` (lint, free probe,
//! workspace check, stored staged) → `deploy` (through a [`Deployer`]; the new key becomes the
//! instance's active key) → `deactivate` (old key `inactive` via the Admin API, or confirmed by
//! the user) → `soak` (no traffic on the old key for the soak period, or confirmed) → `archive`
//! (permanent; the old key is retired) → `done`. [`Clawkeep::rotation_rollback`] undoes any
//! step before the archive.
//!
//! Two rules keep the Admin API calls on the right key and the host on a live one:
//! - Before any Admin API change (deactivate, archive, reactivate) the key is read by its
//!   `apikey_…` id and its `partial_key_hint` is checked against the stored key's value (and
//!   its workspace, when both are known); on a mismatch nothing is changed
//!   ([`Error::KeyIdMismatch`]) and the rotation forgets that id.
//! - A rollback first reads which key the host holds (by fingerprint, on the host) and puts
//!   the old key back whenever the host does not hold it, whatever the rotation recorded (a
//!   manual deploy not yet confirmed, a deploy whose own rollback failed, a crash between the
//!   write and the step commit); only once the host is verified does Clawkeep change anything
//!   at the API or revoke the new key.

use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api::Clawkeep;
use crate::error::{Error, Remedy, Result};
use crate::model::domain::{Instance, Key, KeySpec, KeyStatus};
use crate::model::keyfmt::{self, KeyKind};
use crate::model::naming;
use crate::secret::Secret;
use crate::store;

use super::api::{AdminKey, ApiError, Client};

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
fn manual_how(instance: &Instance) -> String {
    match instance.injection {
        crate::model::domain::InjectionMethod::EnvFile => format!("set ANTHROPIC_API_KEY in {}/.env and restart the gateway", instance.state_dir),
        crate::model::domain::InjectionMethod::AuthProfile => "run `openclaw models auth paste-api-key --provider anthropic` for each agent".to_string(),
        crate::model::domain::InjectionMethod::SecretFile => "rewrite the key file (0600) and run `openclaw secrets reload`".to_string(),
    }
}

/// What an Admin API record must match before Clawkeep changes it: the stored key (its value,
/// read from the keychain) and, when known, its workspace.
pub(crate) struct KeyCheck<'a> {
    /// The key's name and Clawkeep's hint of it (for the message).
    pub name: &'a str,
    pub hint: &'a str,
    pub secret: &'a Secret,
    pub workspace: Option<&'a str>,
    /// What the person can do about a mismatch, in words, and as data.
    pub remedy: String,
    pub action: Option<Remedy>,
}

/// API or stored text shown in a message (ids, hints, workspaces): printable ASCII only, at
/// most 64 characters, and never more than a hint of anything key-shaped that is longer than
/// a hint (a misbehaving API could answer with a value).
fn shown(text: &str) -> String {
    let clean: String = text.chars().filter(|c| c.is_ascii_graphic()).take(200).collect();
    if clean.contains("sk-") && clean.len() > 24 {
        keyfmt::hint(&clean)
    } else {
        clean.chars().take(64).collect()
    }
}

fn mismatch(c: &KeyCheck<'_>, key_id: &str, api_hint: Option<&str>, reason: String) -> Error {
    Error::KeyIdMismatch(Box::new(crate::error::KeyIdMismatch {
        key: c.name.to_string(),
        key_id: shown(key_id),
        local_hint: c.hint.to_string(),
        api_hint: api_hint.map(shown).unwrap_or_else(|| "(none)".into()),
        reason,
        remedy: c.remedy.clone(),
        action: c.action.clone(),
    }))
}

/// Checks that the Admin API's record `rec` (read by `key_id`) is the key of `c`: its
/// `partial_key_hint` fits the key's value, and its workspace is the expected one when both
/// are known. Pure: the caller read `rec` and changes nothing on an error.
pub(crate) fn check_admin_record(rec: &AdminKey, key_id: &str, c: &KeyCheck<'_>) -> Result<()> {
    if !rec.hint_fits(c.secret) {
        let reason = match &rec.partial_key_hint {
            None => "the API gives no partial_key_hint for it, so it cannot be matched to the key".to_string(),
            Some(_) => "its partial_key_hint does not fit the key's value".to_string(),
        };
        return Err(mismatch(c, key_id, rec.partial_key_hint.as_deref(), reason));
    }
    if let (Some(want), Some(got)) = (c.workspace, rec.workspace_id.as_deref()) {
        if want != got {
            return Err(mismatch(c, key_id, rec.partial_key_hint.as_deref(), format!("the API puts it in workspace {}, the key belongs to workspace {want}", shown(got))));
        }
    }
    Ok(())
}

/// The remedy "run the rotation's next step" (`confirm`: the person confirms a manual action).
fn resume(instance: &str, confirm: bool) -> Remedy {
    Remedy::RotateResume { instance: instance.into(), confirm }
}

/// The remedy "roll the rotation back" (`confirm`: the person did what it asked by hand).
fn rollback(instance: &str, confirm: bool) -> Remedy {
    Remedy::RotateRollback { instance: instance.into(), confirm }
}

/// A rotation that cannot go on until the person acts: its own code, the action as data.
fn blocked(code: &'static str, message: String, remedy: Remedy) -> Error {
    Error::Blocked { code, message, remedy }
}

fn api_err(what: &str, e: ApiError) -> Error {
    Error::InvalidState(format!("{what}: {e}"))
}

// ---- persistence --------------------------------------------------------------------------

/// A stored rotation as the machine wrote it (its id is the row's).
fn decode(row: store::RotationRow) -> Result<Rotation> {
    let mut rot: Rotation = serde_json::from_str(&row.state).map_err(|e| Error::Store(format!("rotation {}: bad state: {e}", row.id)))?;
    rot.id = row.id;
    Ok(rot)
}

fn open_rotation(conn: &Connection, instance: &str) -> Result<Option<Rotation>> {
    store::open_rotation(conn, instance)?.map(decode).transpose()
}

fn latest_rotation(conn: &Connection, instance: &str) -> Result<Option<Rotation>> {
    store::latest_rotation(conn, instance)?.map(decode).transpose()
}

/// Writes `rot` if the stored one is still at `expected` (another process may have moved it).
fn save(conn: &Connection, rot: &Rotation, expected: RotationStep) -> Result<()> {
    let stored = store::rotation_step(conn, rot.id)?;
    if stored != expected.as_str() {
        return Err(blocked(
            "conflict",
            format!("the rotation of '{}' was moved on by another Clawkeep (now at step '{stored}'); look at its status", rot.instance),
            Remedy::RotateStatus { instance: rot.instance.clone() },
        ));
    }
    let state = serde_json::to_string(rot).map_err(|e| Error::Store(e.to_string()))?;
    store::update_rotation(conn, rot.id, &store::RotationWrite { outcome: rot.outcome.as_str(), step: rot.step.as_str(), state: &state, at: rot.updated_at })
}

fn instance_id(conn: &Connection, name: &str) -> Result<i64> {
    Ok(store::instance_by_name(conn, name)?.ok_or_else(|| Error::NotFound { kind: "instance", name: name.into() })?.id)
}

fn key_in(conn: &Connection, name: &str) -> Result<Key> {
    store::key_by_name(conn, name)?.ok_or_else(|| Error::NotFound { kind: "key", name: name.into() })
}

impl Clawkeep {
    /// The open rotations, oldest first.
    pub fn open_rotations(&self) -> Result<Vec<Rotation>> {
        self.store().tx(|tx| store::open_rotations(tx)?.into_iter().map(decode).collect())
    }

    /// The open rotation of an instance, else its latest one.
    pub fn rotation(&self, instance: &str) -> Result<Rotation> {
        self.instance(instance)?;
        self.store()
            .tx(|tx| Ok(open_rotation(tx, instance)?.or(latest_rotation(tx, instance)?)))?
            .ok_or_else(|| Error::NotFound { kind: "rotation of instance", name: instance.into() })
    }

    fn open_rotation_of(&self, instance: &str) -> Result<Rotation> {
        self.instance(instance)?;
        self.store()
            .tx(|tx| open_rotation(tx, instance))?
            .ok_or_else(|| blocked("no_rotation", format!("instance '{instance}' has no rotation under way; start one first"), Remedy::Rotate { instance: instance.into() }))
    }

    /// The stored Admin key used for deactivation and archiving, if any (newest active one).
    pub fn admin_key(&self) -> Result<Option<Key>> {
        let mut keys: Vec<Key> = self.list_keys(None)?.into_iter().filter(|k| k.kind == KeyKind::Admin && k.status == KeyStatus::Active).collect();
        keys.sort_by_key(|k| k.created_at);
        Ok(keys.pop())
    }

    fn api_client(&self) -> Result<Client> {
        let s = self.settings()?;
        Client::new(&s.anthropic_base_url).map_err(|e| api_err("Anthropic client", e))
    }

    /// Step 1: opens a rotation of `instance` and says which key to create where.
    pub fn rotation_start(&self, instance: &str, opts: RotationOptions) -> Result<Rotation> {
        let inst = self.instance(instance)?;
        if inst.draft {
            return Err(Error::draft(&inst.name));
        }
        let now = self.now();
        let keys = self.list_keys(None)?;
        let old =
            keys.iter().find(|k| k.instance.as_deref() == Some(inst.name.as_str()) && k.status == KeyStatus::Active).cloned().ok_or_else(|| Error::no_active_key(&inst.name))?;
        let soak = opts.soak_secs.unwrap_or(DEFAULT_SOAK_SECS);
        if !(0..=30 * 86400).contains(&soak) {
            return Err(Error::invalid("soak", "must be between 0 and 30 days"));
        }
        let new_key_name = match opts.new_key_name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
            Some(n) => {
                naming::check_key_name(&n, &naming::NameContext { owner: Some(&inst.owner), environment: Some(&inst.environment), workload: Some(&inst.workload) })?;
                if keys.iter().any(|k| k.name == n) {
                    return Err(Error::Conflict(format!("a key named '{n}' already exists; pick another name for the new key")));
                }
                n
            }
            None => super::plan::suggested_key_name(&inst, now.date_naive(), &|n: &str| keys.iter().any(|k| k.name == n)),
        };
        let workspace_id = inst.expected_workspace_id.clone().or_else(|| old.workspace_id.clone());
        let where_ = workspace_id.clone().map(|w| format!("workspace {w}")).unwrap_or_else(|| "the workspace of the current key".into());
        let mut rot = Rotation {
            id: 0,
            instance: inst.name.clone(),
            owner: inst.owner.clone(),
            workspace_id,
            old_key: old.name.clone(),
            old_key_hint: old.hint.clone(),
            old_key_expired: old.expires_at.is_some_and(|e| e <= now),
            old_anthropic_key_id: old.anthropic_key_id.clone(),
            new_key_name: new_key_name.clone(),
            new_key: None,
            new_key_hint: None,
            step: RotationStep::Paste,
            outcome: RotationOutcome::InProgress,
            soak_secs: soak,
            manual_deploy: opts.manual_deploy,
            deployed_at: None,
            deactivated_at: None,
            deactivated_by: None,
            archived_at: None,
            waiting_for: Some(format!("create an API key named '{new_key_name}' in the Anthropic Console ({where_}), then paste it")),
            waiting_action: Some(resume(&inst.name, false)),
            history: vec![StepEvent { step: RotationStep::Create, at: now, outcome: "done".into(), detail: format!("create '{new_key_name}' in {where_}") }],
            started_at: now,
            updated_at: now,
        };
        self.store().tx(|tx| {
            if open_rotation(tx, &inst.name)?.is_some() {
                return Err(blocked(
                    "conflict",
                    format!("a rotation of '{}' is already under way: resume it or roll it back", inst.name),
                    Remedy::RotateStatus { instance: inst.name.clone() },
                ));
            }
            let iid = instance_id(tx, &inst.name)?;
            let state = serde_json::to_string(&rot).map_err(|e| Error::Store(e.to_string()))?;
            rot.id = store::insert_rotation(tx, iid, &store::RotationWrite { outcome: rot.outcome.as_str(), step: rot.step.as_str(), state: &state, at: now })?;
            self.audit(
                tx,
                "rotation.start",
                &inst.name,
                json!({
                    "old_key": rot.old_key, "old_hint": rot.old_key_hint, "new_key_name": rot.new_key_name,
                    "workspace_id": rot.workspace_id, "soak_secs": rot.soak_secs, "old_key_expired": rot.old_key_expired,
                }),
            )?;
            Ok(())
        })?;
        Ok(rot)
    }

    /// Records an event (and its audit row) and saves the rotation, in one transaction.
    fn commit_step(
        &self,
        rot: &mut Rotation,
        expected: RotationStep,
        ran: RotationStep,
        outcome: &str,
        detail: String,
        extra: impl FnOnce(&rusqlite::Transaction<'_>, &mut Rotation) -> Result<()>,
    ) -> Result<()> {
        let now = self.now();
        self.store().tx(|tx| {
            extra(tx, rot)?;
            rot.updated_at = now;
            rot.history.push(StepEvent { step: ran, at: now, outcome: outcome.into(), detail: detail.clone() });
            save(tx, rot, expected)?;
            self.audit(
                tx,
                &format!("rotation.{}", ran.as_str()),
                &rot.instance,
                json!({
                    "outcome": outcome, "detail": detail, "next_step": rot.step.as_str(), "rotation": rot.outcome.as_str(),
                }),
            )
        })
    }

    /// Records a refusal (history + audit) and returns it as an error for the caller.
    fn refuse(&self, rot: &mut Rotation, step: RotationStep, message: String) -> Error {
        let step_now = rot.step;
        if let Err(e) = self.commit_step(rot, step_now, step, "refused", message.clone(), |_, _| Ok(())) {
            return e;
        }
        Error::invalid("new key", message)
    }

    fn waiting(&self, mut rot: Rotation, step: RotationStep, what: String, action: Remedy) -> Result<StepReport> {
        let at = rot.step;
        rot.waiting_for = Some(what.clone());
        rot.waiting_action = Some(action);
        // Avoid a history entry per poll: only record a new or changed wait.
        let last = rot.history.last().cloned();
        if !(last.as_ref().is_some_and(|l| l.outcome == "waiting" && l.step == step && l.detail == what)) {
            self.commit_step(&mut rot, at, step, "waiting", what.clone(), |_, _| Ok(()))?;
        }
        Ok(StepReport { ran: step, progressed: false, detail: what, rotation: rot, warnings: vec![] })
    }

    /// Runs the next step of the rotation of `instance` (one step only).
    pub fn rotation_step(&self, instance: &str, input: StepInput, deployer: &dyn Deployer) -> Result<StepReport> {
        let rot = self.open_rotation_of(instance)?;
        match rot.step {
            RotationStep::Create | RotationStep::Paste => self.step_paste(rot, input),
            RotationStep::Deploy => self.step_deploy(rot, input, deployer),
            RotationStep::Deactivate => self.step_deactivate(rot, input),
            RotationStep::Soak => self.step_soak(rot, input),
            RotationStep::Archive => self.step_archive(rot, input),
            RotationStep::Done | RotationStep::Rollback => Err(Error::Blocked {
                code: "rotation_finished",
                message: format!("the rotation of '{instance}' is finished"),
                remedy: Remedy::RotateStatus { instance: instance.into() },
            }),
        }
    }

    fn step_paste(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let inst = self.instance(&rot.instance)?;
        // Resume after a crash between storing the key and saving the step: adopt it.
        if let Some(k) = self.store().key_by_name(&rot.new_key_name)? {
            if k.instance.as_deref() == Some(rot.instance.as_str()) && k.status == KeyStatus::Staged {
                let detail = format!("adopted the already stored key {} ({})", k.name, k.hint);
                rot.new_key = Some(k.name.clone());
                rot.new_key_hint = Some(k.hint.clone());
                rot.step = RotationStep::Deploy;
                rot.waiting_for = None;
                rot.waiting_action = None;
                self.commit_step(&mut rot, RotationStep::Paste, RotationStep::Paste, "done", detail.clone(), |_, _| Ok(()))?;
                return Ok(StepReport { ran: RotationStep::Paste, progressed: true, detail, rotation: rot, warnings: vec![] });
            }
        }
        let Some(secret) = input.secret else {
            return Err(Error::invalid("new key", format!("paste the new key '{}' (from the Console) with --stdin, --file FILE or at the hidden prompt", rot.new_key_name)));
        };
        let linted = match keyfmt::lint(secret) {
            Ok(l) => l,
            Err(e) => return Err(self.refuse(&mut rot, RotationStep::Paste, format!("refused: {e}"))),
        };
        let old = self.key(&rot.old_key)?;
        match linted.kind {
            KeyKind::Admin => {
                return Err(self.refuse(
                    &mut rot,
                    RotationStep::Paste,
                    "refused: this is an Admin API key (sk-ant-admin01-); an instance needs a standard API key (sk-ant-api03-), and admin keys are never deployed to a host".into(),
                ));
            }
            KeyKind::Oauth => {
                return Err(self.refuse(&mut rot, RotationStep::Paste, "refused: this is an OAuth token (sk-ant-oat01-) from a Claude subscription, not an API key; the API rejects it without OAuth headers (\"OAuth authentication is currently not supported\"). Create an API key (sk-ant-api03-) in the Console".into()));
            }
            KeyKind::Api => {}
        }
        if linted.fingerprint == old.fingerprint {
            return Err(self.refuse(
                &mut rot,
                RotationStep::Paste,
                format!("refused: this is the current key {} ({}), not a new one; create a new key in the Console", old.name, old.hint),
            ));
        }
        if let Some(other) = self.store().key_by_fingerprint(&linted.fingerprint)? {
            return Err(self.refuse(&mut rot, RotationStep::Paste, format!("refused: this key is already stored as '{}'; a rotation needs a freshly created key", other.name)));
        }
        // The free probe, then the workspace check.
        let client = self.api_client()?;
        let probe = client.probe(&linted.secret).map_err(|e| api_err("the probe of the new key failed (nothing was stored; try again)", e))?;
        if !probe.ok() {
            return Err(self.refuse(
                &mut rot,
                RotationStep::Paste,
                format!(
                    "refused: the API rejected the new key on GET /v1/models: {} {}: {} (request-id {}). Is it active, and copied whole?",
                    probe.status,
                    probe.error_type.clone().unwrap_or_default(),
                    probe.error_message.clone().unwrap_or_default(),
                    probe.request_id.clone().unwrap_or_default()
                ),
            ));
        }
        if let (Some(want), Some(got)) = (rot.workspace_id.clone(), probe.workspace_id.clone()) {
            if want != got {
                let msg = format!("refused: the new key belongs to workspace {got}, but instance '{}' uses workspace {want}; create the key in workspace {want}", rot.instance);
                return Err(self.refuse(&mut rot, RotationStep::Paste, msg));
            }
        }
        let ws = probe.workspace_id.clone().or(rot.workspace_id.clone());
        let added = self.add_key(KeySpec { name: rot.new_key_name.clone(), instance: Some(inst.name.clone()), workspace_id: ws.clone(), ..Default::default() }, linted.secret)?;
        let detail = format!(
            "stored {} ({}) staged; probe 200 (request-id {}), workspace {}",
            added.key.name,
            added.key.hint,
            probe.request_id.unwrap_or_default(),
            ws.clone().unwrap_or_else(|| "unknown".into())
        );
        rot.new_key = Some(added.key.name.clone());
        rot.new_key_hint = Some(added.key.hint.clone());
        if rot.workspace_id.is_none() {
            rot.workspace_id = ws;
        }
        rot.step = RotationStep::Deploy;
        rot.waiting_for = None;
        rot.waiting_action = None;
        self.commit_step(&mut rot, RotationStep::Paste, RotationStep::Paste, "done", detail.clone(), |_, _| Ok(()))?;
        let mut warnings = linted.warnings;
        warnings.extend(added.warnings);
        warnings.dedup();
        Ok(StepReport { ran: RotationStep::Paste, progressed: true, detail, rotation: rot, warnings })
    }

    fn step_deploy(&self, mut rot: Rotation, input: StepInput, deployer: &dyn Deployer) -> Result<StepReport> {
        let inst = self.instance(&rot.instance)?;
        let new_name = rot.new_key.clone().ok_or_else(|| Error::InvalidState("the rotation has no new key".into()))?;
        let new = self.key(&new_name)?;
        let secret = self.keychain().get(&new.keychain_ref)?;
        let detail = match deployer.deploy(&inst, &new, &secret)? {
            DeployOutcome::Deployed { verified: true, detail } => detail,
            DeployOutcome::Deployed { verified: false, detail } => {
                self.commit_step(&mut rot, RotationStep::Deploy, RotationStep::Deploy, "failed", detail.clone(), |_, _| Ok(()))?;
                return Err(blocked(
                    "rotation_deploy_unverified",
                    format!("the new key was written to '{}' but the host was not seen using it: {detail}. Retry the deploy, or roll the rotation back", rot.instance),
                    resume(&rot.instance, false),
                ));
            }
            DeployOutcome::Manual { instructions } if !input.confirm => {
                let action = resume(&rot.instance, true);
                return self.waiting(rot, RotationStep::Deploy, instructions, action);
            }
            DeployOutcome::Manual { .. } => "deployed by hand, confirmed by the user".to_string(),
        };
        let now = self.now();
        rot.step = RotationStep::Deactivate;
        rot.deployed_at = Some(now);
        rot.waiting_for = None;
        rot.waiting_action = None;
        let (old_name, new_name2) = (rot.old_key.clone(), new_name.clone());
        self.commit_step(&mut rot, RotationStep::Deploy, RotationStep::Deploy, "done", detail.clone(), |tx, _| {
            // The new key is now the instance's live key; the old one waits for retirement
            // (staged, with rotated_at set) so that a rollback can bring it back.
            let iid = instance_id(tx, &inst.name)?;
            let mut old = key_in(tx, &old_name)?;
            let mut new = key_in(tx, &new_name2)?;
            old.status = KeyStatus::Staged;
            old.rotated_at = Some(now);
            old.updated_at = now;
            store::update_key(tx, &old, Some(iid))?;
            new.status = KeyStatus::Active;
            new.updated_at = now;
            store::update_key(tx, &new, Some(iid))?;
            self.audit(tx, "key.activate", &new.name, json!({ "instance": inst.name, "replaces": old.name, "by": "rotation" }))
        })?;
        let warnings = deployer.after_commit().err().map(|e| format!("the deploy worked but its record failed: {e}")).into_iter().collect();
        Ok(StepReport { ran: RotationStep::Deploy, progressed: true, detail, rotation: rot, warnings })
    }

    /// `key add --key-id`: checks the id against the Admin API when an Admin key is stored (the
    /// record read by id must fit the value being added, and its workspace when given). A
    /// mismatch or an id the API does not know is refused; when the API cannot be asked, the
    /// returned warning says so (every rotation step checks again before any change).
    pub(crate) fn check_key_id_at_add(&self, id: &str, name: &str, hint: &str, secret: &Secret, workspace: Option<&str>) -> Result<Option<String>> {
        let Some(admin_key) = self.admin_key()? else {
            return Ok(Some(format!("the key id {id} was not checked (no Admin key is stored); a rotation checks it against the key before any change")));
        };
        let admin = self.keychain().get(&admin_key.keychain_ref)?;
        let check = KeyCheck {
            name,
            hint,
            secret,
            workspace,
            remedy: "Nothing was stored. Copy the id of this key from the Console (API keys), or add the key without a key id: a rotation finds it by its value".into(),
            action: None,
        };
        match self.api_client()?.get_key(&admin, id) {
            Ok(rec) => check_admin_record(&rec, id, &check).map(|()| None),
            Err(e) if e.status() == Some(404) => Err(mismatch(&check, id, None, "the Admin API knows no key with that id".into())),
            Err(e) => Ok(Some(format!("the key id {id} could not be checked now ({e}); a rotation checks it against the key before any change"))),
        }
    }

    /// The old key's `apikey_…` id: stored, else found in the Admin API by its value (the
    /// `partial_key_hint` of the listed keys checked against the secret) and workspace.
    fn resolve_old_key_id(&self, client: &Client, admin: &Secret, rot: &Rotation, old_secret: &Secret) -> Result<String> {
        if let Some(id) = &rot.old_anthropic_key_id {
            return Ok(id.clone());
        }
        let keys = client.list_keys(admin, rot.workspace_id.as_deref()).map_err(|e| api_err("listing API keys (Admin API)", e))?;
        let matches: Vec<_> =
            keys.iter().filter(|k| k.hint_fits(old_secret)).filter(|k| rot.workspace_id.is_none() || k.workspace_id.is_none() || k.workspace_id == rot.workspace_id).collect();
        match matches.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(blocked(
                "old_key_not_in_admin_api",
                format!(
                    "the Admin API lists no key with hint {} in workspace {}; set it inactive in the Console, then confirm",
                    rot.old_key_hint,
                    rot.workspace_id.clone().unwrap_or_else(|| "(any)".into()),
                ),
                resume(&rot.instance, true),
            )),
            many => Err(blocked(
                "old_key_ambiguous_in_admin_api",
                format!(
                    "{} keys share the hint {} ({}); deactivate the right one in the Console, then confirm",
                    many.len(),
                    rot.old_key_hint,
                    many.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", "),
                ),
                resume(&rot.instance, true),
            )),
        }
    }

    /// Sets a key's Admin API status unless it already has it. The key is read by `id` first
    /// and must be the key of `check` ([`check_admin_record`]); on a mismatch nothing is sent.
    /// Returns what was done.
    fn ensure_status(&self, client: &Client, admin: &Secret, id: &str, want: &str, check: &KeyCheck<'_>) -> Result<String> {
        let now = client.get_key(admin, id).map_err(|e| api_err("reading the key (Admin API)", e))?;
        check_admin_record(&now, id, check)?;
        if now.status == want {
            return Ok(format!("{id} was already {want}"));
        }
        if now.status == "archived" || (now.status == "expired" && want != "archived") {
            return Err(Error::InvalidState(format!("key {id} is {} in the Console and cannot be made {want}", now.status)));
        }
        client.set_key_status(admin, id, want).map_err(|e| api_err(&format!("setting {id} {want} (Admin API)"), e))?;
        Ok(format!("{id}: {} → {want}", now.status))
    }

    /// The check of the rotation's old key before an Admin API change.
    fn old_key_check<'a>(&self, rot: &'a Rotation, old: &'a Key, secret: &'a Secret, remedy: String, action: Remedy) -> KeyCheck<'a> {
        KeyCheck { name: &old.name, hint: &old.hint, secret, workspace: old.workspace_id.as_deref().or(rot.workspace_id.as_deref()), remedy, action: Some(action) }
    }

    /// Records a key id mismatch (history + audit) and makes the rotation forget that id: later
    /// steps find the key by its value in the Admin API, or ask a person. Returns the error.
    fn refuse_key_id(&self, rot: &mut Rotation, ran: RotationStep, e: Error) -> Error {
        if !matches!(e, Error::KeyIdMismatch(_)) {
            return e;
        }
        let expected = rot.step;
        rot.old_anthropic_key_id = None;
        if let Err(err) = self.commit_step(rot, expected, ran, "refused", e.to_string(), |_, _| Ok(())) {
            return err;
        }
        e
    }

    fn step_deactivate(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let now = self.now();
        let (detail, by, id) = match self.admin_key()? {
            Some(admin_key) => {
                let admin = self.keychain().get(&admin_key.keychain_ref)?;
                let client = self.api_client()?;
                let old = self.key(&rot.old_key)?;
                let old_secret = self.keychain().get(&old.keychain_ref)?;
                let id = self.resolve_old_key_id(&client, &admin, &rot, &old_secret)?;
                let remedy = "This rotation no longer uses that id: resume the rotation to find the key by its value in the Admin API, or roll it back".to_string();
                let check = self.old_key_check(&rot, &old, &old_secret, remedy, resume(&rot.instance, false));
                let what = match self.ensure_status(&client, &admin, &id, "inactive", &check) {
                    Ok(w) => w,
                    Err(e) => return Err(self.refuse_key_id(&mut rot, RotationStep::Deactivate, e)),
                };
                (format!("old key {} set inactive via the Admin API with '{}' ({what})", rot.old_key_hint, admin_key.name), "admin-api", Some(id))
            }
            None if !input.confirm => {
                let what = format!("no Admin key is stored: in the Console, set the old key {} ({}) inactive, then confirm", rot.old_key, rot.old_key_hint);
                let action = resume(&rot.instance, true);
                return self.waiting(rot, RotationStep::Deactivate, what, action);
            }
            None => {
                // Check the person's word where we can: an inactive key gets 401.
                let old = self.key(&rot.old_key)?;
                let secret = self.keychain().get(&old.keychain_ref)?;
                let note = match self.api_client()?.probe(&secret) {
                    Ok(p) if p.ok() => {
                        return Err(blocked(
                            "old_key_still_active",
                            format!(
                                "the old key {} still works (GET /v1/models answered 200): it is not inactive yet. Set it inactive in the Console, then confirm again",
                                rot.old_key_hint
                            ),
                            resume(&rot.instance, true),
                        ))
                    }
                    Ok(p) => format!("probe of the old key: {}", p.status),
                    Err(e) => format!("could not probe the old key ({e})"),
                };
                (format!("old key {} set inactive in the Console, confirmed by the user; {note}", rot.old_key_hint), "manual", None)
            }
        };
        rot.step = RotationStep::Soak;
        rot.deactivated_at = Some(now);
        rot.deactivated_by = Some(by.into());
        rot.waiting_for = None;
        rot.waiting_action = None;
        if let Some(i) = &id {
            rot.old_anthropic_key_id = Some(i.clone());
        }
        let old_name = rot.old_key.clone();
        self.commit_step(&mut rot, RotationStep::Deactivate, RotationStep::Deactivate, "done", detail.clone(), |tx, _| {
            if let Some(i) = id {
                let mut old = key_in(tx, &old_name)?;
                if old.anthropic_key_id.as_deref() != Some(i.as_str()) {
                    old.anthropic_key_id = Some(i);
                    old.updated_at = now;
                    let iid = match &old.instance {
                        Some(n) => Some(instance_id(tx, n)?),
                        None => None,
                    };
                    store::update_key(tx, &old, iid)?;
                }
            }
            Ok(())
        })?;
        Ok(StepReport { ran: RotationStep::Deactivate, progressed: true, detail, rotation: rot, warnings: vec![] })
    }

    fn step_soak(&self, rot: Rotation, input: StepInput) -> Result<StepReport> {
        let now = self.now();
        let since = rot.deactivated_at.unwrap_or(now);
        let until = since + Duration::seconds(rot.soak_secs);
        let mut usage_note = String::new();
        if let (Some(admin_key), Some(id)) = (self.admin_key()?, rot.old_anthropic_key_id.clone()) {
            let admin = self.keychain().get(&admin_key.keychain_ref)?;
            let used = self.api_client()?.key_usage_since(&admin, &id, since).map_err(|e| api_err("reading the usage report (Admin API)", e))?;
            if used > 0 && !input.confirm {
                let what = format!(
                    "the usage report shows {used} tokens on the old key {id} since {}: something still uses it. Find it, or roll the rotation back",
                    since.format("%Y-%m-%d %H:%M UTC"),
                );
                let action = rollback(&rot.instance, false);
                return self.waiting(rot, RotationStep::Soak, what, action);
            }
            usage_note = format!("usage report: {used} tokens on {id} since deactivation");
        }
        let detail = if now >= until {
            format!("soak of {}s over{}", rot.soak_secs, if usage_note.is_empty() { String::new() } else { format!("; {usage_note}") })
        } else if input.confirm {
            format!("soak ended early by the user at {}{}", now.format("%Y-%m-%d %H:%M UTC"), if usage_note.is_empty() { String::new() } else { format!("; {usage_note}") })
        } else {
            let what = format!(
                "soak: the old key stays inactive (not archived) until {}; then resuming the rotation archives it (confirming ends the soak now)",
                until.format("%Y-%m-%d %H:%M UTC"),
            );
            let action = resume(&rot.instance, false);
            return self.waiting(rot, RotationStep::Soak, what, action);
        };
        let mut rot = rot;
        rot.step = RotationStep::Archive;
        rot.waiting_for = None;
        rot.waiting_action = None;
        self.commit_step(&mut rot, RotationStep::Soak, RotationStep::Soak, "done", detail.clone(), |_, _| Ok(()))?;
        Ok(StepReport { ran: RotationStep::Soak, progressed: true, detail, rotation: rot, warnings: vec![] })
    }

    fn step_archive(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let now = self.now();
        let detail = match (self.admin_key()?, rot.old_anthropic_key_id.clone()) {
            (Some(admin_key), Some(id)) => {
                let admin = self.keychain().get(&admin_key.keychain_ref)?;
                let old = self.key(&rot.old_key)?;
                let old_secret = self.keychain().get(&old.keychain_ref)?;
                let remedy = format!("This rotation no longer uses that id: archive the old key {} in the Console and confirm, or roll the rotation back", rot.old_key_hint);
                let check = self.old_key_check(&rot, &old, &old_secret, remedy, resume(&rot.instance, true));
                let what = match self.ensure_status(&self.api_client()?, &admin, &id, "archived", &check) {
                    Ok(w) => w,
                    Err(e) => return Err(self.refuse_key_id(&mut rot, RotationStep::Archive, e)),
                };
                format!("old key {} archived via the Admin API ({what})", rot.old_key_hint)
            }
            _ if !input.confirm => {
                let what = format!("archive the old key {} ({}) in the Console (permanent), then confirm", rot.old_key, rot.old_key_hint);
                let action = resume(&rot.instance, true);
                return self.waiting(rot, RotationStep::Archive, what, action);
            }
            _ => format!("old key {} archived in the Console, confirmed by the user", rot.old_key_hint),
        };
        rot.step = RotationStep::Done;
        rot.outcome = RotationOutcome::Completed;
        rot.archived_at = Some(now);
        rot.waiting_for = None;
        rot.waiting_action = None;
        let old_name = rot.old_key.clone();
        self.commit_step(&mut rot, RotationStep::Archive, RotationStep::Archive, "done", detail.clone(), |tx, rot| {
            let mut old = key_in(tx, &old_name)?;
            old.status = KeyStatus::Retired;
            old.retired_at = Some(now);
            old.updated_at = now;
            let iid = match &old.instance {
                Some(n) => Some(instance_id(tx, n)?),
                None => None,
            };
            store::update_key(tx, &old, iid)?;
            self.audit(tx, "key.retire", &old.name, json!({ "by": "rotation", "replaced_by": rot.new_key, "instance": old.instance }))
        })?;
        Ok(StepReport { ran: RotationStep::Archive, progressed: true, detail, rotation: rot, warnings: vec![] })
    }

    /// Undoes a rotation at any step before the archive, in this order:
    /// 1. checks that need nothing changed (not archived; an old key deactivated by hand must
    ///    have been reactivated by the person, confirmed and checked with a probe);
    /// 2. the host: reads which key it holds (by fingerprint, on the host) and puts the old key
    ///    back whenever it does not hold it, then verifies it does; a deployer that cannot see
    ///    the host (manual) makes the person restore it and confirm. Whatever the rotation
    ///    recorded (`deployed_at`) does not matter: a manual deploy not yet confirmed, a deploy
    ///    whose own rollback failed, or a crash between the write and the step commit all
    ///    leave the new key on the host;
    /// 3. only then the API: the old key reactivated (Admin API, after the key id check);
    /// 4. the inventory: old key active, new key revoked, rotation closed.
    ///
    /// An error in 1–3 leaves the rotation open and the new key live; run the rollback again.
    pub fn rotation_rollback(&self, instance: &str, confirm: bool, deployer: &dyn Deployer) -> Result<StepReport> {
        let mut rot = self.open_rotation_of(instance)?;
        if rot.step == RotationStep::Archive && rot.archived_at.is_some() {
            return Err(Error::Blocked {
                code: "rotation_archived",
                message: "the old key is archived; a rotation cannot be rolled back after the archive".into(),
                remedy: resume(instance, false),
            });
        }
        let inst = self.instance(instance)?;
        let old = self.key(&rot.old_key)?;
        // Read from the keychain only where needed (a rotation cancelled right after its start
        // needs no secret).
        let old_secret = || self.keychain().get(&old.keychain_ref);
        let mut done: Vec<String> = Vec::new();
        // 1. Checks. Where the old key was deactivated, it must come back: by the Admin API
        // (step 3), or by the person, before the host gets it back.
        let admin_reactivation = match (rot.deactivated_at.is_some(), self.admin_key()?, rot.old_anthropic_key_id.clone()) {
            (false, _, _) => None,
            (true, _, _) if rot.old_key_expired => {
                return Err(blocked(
                    "old_key_expired",
                    format!("the old key {} has expired and cannot be reactivated; finish the rotation instead", rot.old_key_hint),
                    resume(&rot.instance, false),
                ));
            }
            (true, Some(admin_key), Some(id)) => Some((admin_key, id)),
            (true, _, _) => {
                if !confirm {
                    return Err(blocked(
                        "reactivate_old_key_by_hand",
                        format!("set the old key {} ({}) active again in the Console, then confirm the rollback", rot.old_key, rot.old_key_hint),
                        rollback(&rot.instance, true),
                    ));
                }
                let p = self.api_client()?.probe(&old_secret()?).map_err(|e| api_err("probing the old key", e))?;
                if !p.ok() {
                    return Err(blocked(
                        "old_key_still_rejected",
                        format!(
                            "the old key {} is still rejected by the API ({} {}); reactivate it in the Console first, then confirm the rollback",
                            rot.old_key_hint,
                            p.status,
                            p.error_message.unwrap_or_default()
                        ),
                        rollback(&rot.instance, true),
                    ));
                }
                done.push("old key reactivated in the Console (confirmed, probe 200)".into());
                None
            }
        };
        // 2. The host. Until a new key was stored, nothing could have put it on the host.
        let mut restored = false;
        if let Some(new_name) = rot.new_key.clone() {
            let short = keyfmt::short_fingerprint(&old.fingerprint);
            let seen = deployer.key_on_host(&inst, &old)?;
            if seen.holds(&old.fingerprint) == Some(true) {
                done.push(format!("the host holds the old key ({short}): nothing to restore"));
            } else if let HostKey::NeverReached(why) = &seen {
                done.push(format!("the host was not read: {why}"));
            } else {
                let new_hint = rot.new_key_hint.clone().unwrap_or_default();
                match deployer.restore(&inst, &old, &old_secret()?)? {
                    DeployOutcome::Deployed { verified: true, detail } => {
                        restored = true;
                        if deployer.key_on_host(&inst, &old)?.holds(&old.fingerprint) == Some(false) {
                            return Err(blocked(
                                "rollback_restore_unverified",
                                format!(
                                    "the old key {} was written back to '{}' but the host does not hold it ({short} not found on the host): {detail}. Nothing was changed at the API and the new key is not revoked; run the rollback again",
                                    rot.old_key_hint, rot.instance
                                ),
                                rollback(&rot.instance, false),
                            ));
                        }
                        done.push(format!("old key restored on the host, {short} verified there: {detail}"));
                    }
                    DeployOutcome::Deployed { verified: false, detail } => {
                        return Err(blocked(
                            "rollback_restore_unverified",
                            format!("the old key was written back but the host was not seen using it: {detail}. Nothing was changed at the API and the new key is not revoked; run the rollback again"),
                            rollback(&rot.instance, false),
                        ))
                    }
                    DeployOutcome::Manual { .. } if !confirm => {
                        return Err(blocked(
                            "restore_old_key_by_hand",
                            format!(
                                "Clawkeep cannot see the host of '{}': before anything is revoked, make sure it runs the old key {} ({}) again. If the new key {new_name} ({new_hint}) was put on {}@{}, put the old one back: {}. Then confirm the rollback",
                                inst.name,
                                old.name,
                                old.hint,
                                inst.ssh_user,
                                inst.ssh_host,
                                manual_how(&inst),
                            ),
                            rollback(&inst.name, true),
                        ))
                    }
                    DeployOutcome::Manual { .. } => done.push(format!("the host runs the old key {} again, confirmed by the user", old.hint)),
                }
            }
        }
        // 3. The API: the host is verified, the old key can come back.
        if let Some((admin_key, id)) = admin_reactivation {
            let admin = self.keychain().get(&admin_key.keychain_ref)?;
            let remedy = format!("The host already runs the old key again. Set the old key {} active in the Console and confirm the rollback", rot.old_key_hint);
            let secret = old_secret()?;
            let check = self.old_key_check(&rot, &old, &secret, remedy, rollback(&rot.instance, true));
            match self.ensure_status(&self.api_client()?, &admin, &id, "active", &check) {
                Ok(w) => done.push(w),
                Err(e @ Error::KeyIdMismatch(_)) => return Err(self.refuse_key_id(&mut rot, RotationStep::Rollback, e)),
                Err(e) => {
                    return Err(blocked(
                        "reactivation_failed",
                        format!("the host runs the old key {} again, but reactivating it failed: {e}. Nothing was revoked; run the rollback again", rot.old_key_hint),
                        rollback(&rot.instance, false),
                    ))
                }
            }
        }
        // 3. Inventory: old key active again, new key revoked; the rotation is closed.
        let now = self.now();
        let expected = rot.step;
        rot.step = RotationStep::Rollback;
        rot.outcome = RotationOutcome::RolledBack;
        rot.waiting_for = None;
        rot.waiting_action = None;
        if rot.new_key.is_some() {
            done.push("new key marked revoked: delete it in the Console".into());
        }
        let detail = if done.is_empty() { "cancelled before any change".to_string() } else { done.join("; ") };
        let (old_name, new_name) = (rot.old_key.clone(), rot.new_key.clone());
        self.commit_step(&mut rot, expected, RotationStep::Rollback, "done", detail.clone(), |tx, _| {
            let iid = instance_id(tx, &inst.name)?;
            if let Some(n) = &new_name {
                let mut new = key_in(tx, n)?;
                new.status = KeyStatus::Revoked;
                new.updated_at = now;
                store::update_key(tx, &new, Some(iid))?;
                self.audit(tx, "key.revoke", &new.name, json!({ "by": "rotation rollback", "instance": inst.name }))?;
            }
            let mut old = key_in(tx, &old_name)?;
            if old.status != KeyStatus::Active {
                old.status = KeyStatus::Active;
                old.rotated_at = None;
                old.updated_at = now;
                store::update_key(tx, &old, Some(iid))?;
                self.audit(tx, "key.activate", &old.name, json!({ "by": "rotation rollback", "instance": inst.name }))?;
            }
            Ok(())
        })?;
        let warnings = if restored { deployer.after_commit().err().map(|e| format!("the redeploy worked but its record failed: {e}")).into_iter().collect() } else { vec![] };
        Ok(StepReport { ran: RotationStep::Rollback, progressed: true, detail, rotation: rot, warnings })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key-shaped value made at run time (never a literal key in the source).
    fn value(fill: &str) -> String {
        format!("sk-ant-{}03-{}AA", "api", fill.repeat(93 / fill.len() + 1).chars().take(93).collect::<String>())
    }

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

    #[test]
    fn shown_text_never_carries_a_value() {
        let v = value("Qx7");
        let s = shown(&v);
        assert!(!s.contains(&v[16..100]), "{s}");
        assert_eq!(shown("apikey_01InstanceA0000000000000"), "apikey_01InstanceA0000000000000");
        assert_eq!(shown("apikey_\u{1b}[31mX\n"), "apikey_[31mX");
        assert_eq!(shown(&"z".repeat(500)).len(), 64);
    }

    #[test]
    fn admin_record_check_names_hints_not_values() {
        let v = value("Rk2");
        let secret = Secret::new(v.clone());
        let hint = keyfmt::hint(&v);
        let check = KeyCheck { name: "k", hint: &hint, secret: &secret, workspace: Some("wrkspc_A"), remedy: "do X".into(), action: None };
        let rec = |h: Option<String>, ws: Option<&str>| AdminKey {
            id: "apikey_1".into(),
            name: String::new(),
            status: "active".into(),
            partial_key_hint: h,
            workspace_id: ws.map(Into::into),
            created_at: None,
            expires_at: None,
        };
        let api_hint = format!("{}...{}", &v[..16], &v[v.len() - 4..]);
        assert!(check_admin_record(&rec(Some(api_hint.clone()), Some("wrkspc_A")), "apikey_1", &check).is_ok());
        assert!(check_admin_record(&rec(Some(api_hint.clone()), None), "apikey_1", &check).is_ok());
        let e = check_admin_record(&rec(Some(api_hint), Some("wrkspc_B")), "apikey_1", &check).unwrap_err();
        assert_eq!(e.code(), "key_id_mismatch");
        assert!(e.to_string().contains("wrkspc_B"), "{e}");
        let e = check_admin_record(&rec(None, Some("wrkspc_A")), "apikey_1", &check).unwrap_err();
        assert!(e.to_string().contains("no partial_key_hint"), "{e}");
        // A misbehaving API answering with a whole value as the hint: only a hint is shown.
        let other = value("Zp9");
        let e = check_admin_record(&rec(Some(other.clone()), None), "apikey_1", &check).unwrap_err();
        assert!(!e.to_string().contains(&other[16..100]) && !e.to_string().contains(&v[16..100]), "{e}");
    }
}
