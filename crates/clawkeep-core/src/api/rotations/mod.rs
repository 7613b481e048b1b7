//! The guided rotation's facade methods: they wire the store, the keychain, the Admin API client
//! and a [`Deployer`] into the pure rotation in [`crate::rotation`] (state types, judgement,
//! plan, policies). The rotation is persisted in SQLite (`rotations`), so it survives a crash
//! or a closed window and resumes where it stopped. One step runs per call
//! ([`Clawkeep::rotation_step`]); each step's side effect is idempotent (the Admin API status is
//! read before it is changed; a staged key is adopted, not added twice; deploying the same key
//! twice is harmless), and the step's result, the key status changes and the audit event are
//! written in one transaction.
//!
//! - this file: start, the step dispatch, reading rotations, and how a step is recorded
//!   (`commit_step`: history, audit, the optimistic step check against another process);
//! - `steps`: the steps `paste` … `archive`, and the Admin API calls they make;
//! - `rollback`: [`Clawkeep::rotation_rollback`];
//! - `deployer`: [`Clawkeep::rotation_deployer`], the deploy step over Clawkeep's SSH deploy;
//! - `plans`: policies, the offline plan and its export, and the rehearsal's audit record.

use rusqlite::Connection;
use serde_json::json;

use crate::error::{Error, Remedy, Result};
use crate::model::domain::{Key, KeyStatus};
use crate::model::keyfmt::KeyKind;
use crate::rotation::api::Client;
use crate::rotation::judge::{self, api_err};
use crate::rotation::{Deployer, Rotation, RotationOptions, RotationStep, StepEvent, StepInput, StepReport};
use crate::store;
use crate::Clawkeep;

mod deployer;
mod plans;
mod rollback;
mod steps;

fn decode(row: store::RotationRow) -> Result<Rotation> {
    Rotation::decode(row.id, &row.state)
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
        return Err(judge::moved_on(&rot.instance, &stored));
    }
    let state = rot.encode()?;
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
        self.store().tx(|tx| open_rotation(tx, instance))?.ok_or_else(|| judge::none_under_way(instance))
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
        let mut rot = judge::start(&inst, &old, &keys, opts, now)?;
        self.store().tx(|tx| {
            if open_rotation(tx, &inst.name)?.is_some() {
                return Err(judge::already_under_way(&inst.name));
            }
            let iid = instance_id(tx, &inst.name)?;
            let state = rot.encode()?;
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

    /// Runs the next step of the rotation of `instance` (one step only).
    pub fn rotation_step(&self, instance: &str, input: StepInput, deployer: &dyn Deployer) -> Result<StepReport> {
        let rot = self.open_rotation_of(instance)?;
        match judge::step_to_run(rot.step, instance)? {
            RotationStep::Deploy => self.step_deploy(rot, input, deployer),
            RotationStep::Deactivate => self.step_deactivate(rot, input),
            RotationStep::Soak => self.step_soak(rot, input),
            RotationStep::Archive => self.step_archive(rot, input),
            // Paste (`step_to_run` maps a rotation at `create` to it and refuses a finished one).
            _ => self.step_paste(rot, input),
        }
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

    /// The step waits for `what` (a person's action, or time); `action` is what they do then.
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
}
