//! The steps of a guided rotation after its start, as the facade runs them: gather the facts
//! (store, keychain, the free probe, the Admin API, the deployer), ask
//! [`crate::rotation::judge`] what they mean, then record the step (`commit_step`) or wait.
//! Every Admin API change is preceded by a read of the key by id and the check of that record
//! against the stored key ([`judge::check_admin_record`]).

use serde_json::json;

use super::{instance_id, key_in};
use crate::error::{Error, Result};
use crate::model::domain::{KeySpec, KeyStatus};
use crate::model::keyfmt;
use crate::rotation::api::Client;
use crate::rotation::judge::{self, api_err, resume, DeployVerdict, KeyCheck, SoakVerdict};
use crate::rotation::{Deployer, Rotation, RotationOutcome, RotationStep, StepInput, StepReport};
use crate::secret::Secret;
use crate::store;
use crate::Clawkeep;

impl Clawkeep {
    pub(super) fn step_paste(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let inst = self.instance(&rot.instance)?;
        // Resume after a crash between storing the key and saving the step: adopt it.
        if let Some(k) = self.store().key_by_name(&rot.new_key_name)? {
            if judge::adoptable(&k, &rot) {
                let detail = format!("adopted the already stored key {} ({})", k.name, k.hint);
                rot.new_key = Some(k.name.clone());
                rot.new_key_hint = Some(k.hint.clone());
                rot.advance(RotationStep::Deploy);
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
        let stored_as = self.store().key_by_fingerprint(&linted.fingerprint)?.map(|k| k.name);
        if let Some(why) = judge::paste_refusal(linted.kind, &linted.fingerprint, &old, stored_as.as_deref()) {
            return Err(self.refuse(&mut rot, RotationStep::Paste, why));
        }
        // The free probe, then the workspace check.
        let client = self.api_client()?;
        let probe = client.probe(&linted.secret).map_err(|e| api_err("the probe of the new key failed (nothing was stored; try again)", e))?;
        if let Some(why) = judge::probe_refusal(&probe, &rot) {
            return Err(self.refuse(&mut rot, RotationStep::Paste, why));
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
        rot.advance(RotationStep::Deploy);
        self.commit_step(&mut rot, RotationStep::Paste, RotationStep::Paste, "done", detail.clone(), |_, _| Ok(()))?;
        let mut warnings = linted.warnings;
        warnings.extend(added.warnings);
        warnings.dedup();
        Ok(StepReport { ran: RotationStep::Paste, progressed: true, detail, rotation: rot, warnings })
    }

    pub(super) fn step_deploy(&self, mut rot: Rotation, input: StepInput, deployer: &dyn Deployer) -> Result<StepReport> {
        let inst = self.instance(&rot.instance)?;
        let new_name = rot.new_key.clone().ok_or_else(|| Error::InvalidState("the rotation has no new key".into()))?;
        let new = self.key(&new_name)?;
        let secret = self.keychain().get(&new.keychain_ref)?;
        let detail = match judge::judge_deploy(deployer.deploy(&inst, &new, &secret)?, input.confirm) {
            DeployVerdict::Done(detail) => detail,
            DeployVerdict::Unverified(detail) => {
                self.commit_step(&mut rot, RotationStep::Deploy, RotationStep::Deploy, "failed", detail.clone(), |_, _| Ok(()))?;
                return Err(judge::deploy_unverified(&rot, &detail));
            }
            DeployVerdict::Wait(instructions) => {
                let action = resume(&rot.instance, true);
                return self.waiting(rot, RotationStep::Deploy, instructions, action);
            }
        };
        let now = self.now();
        rot.advance(RotationStep::Deactivate);
        rot.deployed_at = Some(now);
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
            Ok(rec) => judge::check_admin_record(&rec, id, &check).map(|()| None),
            Err(e) if e.status() == Some(404) => Err(judge::mismatch(&check, id, None, "the Admin API knows no key with that id".into())),
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
        judge::pick_old_key_id(&keys, rot, old_secret)
    }

    /// Sets a key's Admin API status unless it already has it. The key is read by `id` first
    /// and must be the key of `check` ([`judge::check_admin_record`]); on a mismatch nothing is
    /// sent. Returns what was done.
    pub(super) fn ensure_status(&self, client: &Client, admin: &Secret, id: &str, want: &str, check: &KeyCheck<'_>) -> Result<String> {
        let now = client.get_key(admin, id).map_err(|e| api_err("reading the key (Admin API)", e))?;
        judge::check_admin_record(&now, id, check)?;
        if let Some(already) = judge::status_change(id, &now.status, want)? {
            return Ok(already);
        }
        client.set_key_status(admin, id, want).map_err(|e| api_err(&format!("setting {id} {want} (Admin API)"), e))?;
        Ok(format!("{id}: {} → {want}", now.status))
    }

    /// Records a key id mismatch (history + audit) and makes the rotation forget that id: later
    /// steps find the key by its value in the Admin API, or ask a person. Returns the error.
    pub(super) fn refuse_key_id(&self, rot: &mut Rotation, ran: RotationStep, e: Error) -> Error {
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

    pub(super) fn step_deactivate(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let now = self.now();
        let (detail, by, id) = match self.admin_key()? {
            Some(admin_key) => {
                let admin = self.keychain().get(&admin_key.keychain_ref)?;
                let old = self.key(&rot.old_key)?;
                let old_secret = self.keychain().get(&old.keychain_ref)?;
                let client = self.api_client()?;
                let id = self.resolve_old_key_id(&client, &admin, &rot, &old_secret)?;
                let remedy = "This rotation no longer uses that id: resume the rotation to find the key by its value in the Admin API, or roll it back".to_string();
                let check = judge::old_key_check(&rot, &old, &old_secret, remedy, resume(&rot.instance, false));
                let what = match self.ensure_status(&client, &admin, &id, "inactive", &check) {
                    Ok(w) => w,
                    Err(e) => return Err(self.refuse_key_id(&mut rot, RotationStep::Deactivate, e)),
                };
                (format!("old key {} set inactive via the Admin API with '{}' ({what})", rot.old_key_hint, admin_key.name), "admin-api", Some(id))
            }
            None if !input.confirm => {
                let (what, action) = judge::deactivate_by_hand(&rot);
                return self.waiting(rot, RotationStep::Deactivate, what, action);
            }
            None => {
                // Check the person's word where we can: an inactive key gets 401.
                let old = self.key(&rot.old_key)?;
                let secret = self.keychain().get(&old.keychain_ref)?;
                let note = judge::judge_manual_deactivation(self.api_client()?.probe(&secret), &rot)?;
                (format!("old key {} set inactive in the Console, confirmed by the user; {note}", rot.old_key_hint), "manual", None)
            }
        };
        rot.advance(RotationStep::Soak);
        rot.deactivated_at = Some(now);
        rot.deactivated_by = Some(by.into());
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

    pub(super) fn step_soak(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let now = self.now();
        let since = rot.deactivated_at.unwrap_or(now);
        let usage = match (self.admin_key()?, rot.old_anthropic_key_id.clone()) {
            (Some(admin_key), Some(id)) => {
                let admin = self.keychain().get(&admin_key.keychain_ref)?;
                let used = self.api_client()?.key_usage_since(&admin, &id, since).map_err(|e| api_err("reading the usage report (Admin API)", e))?;
                Some((used, id))
            }
            _ => None,
        };
        let detail = match judge::judge_soak(&rot, now, usage.as_ref().map(|(n, id)| (*n, id.as_str())), input.confirm) {
            SoakVerdict::Done(detail) => detail,
            SoakVerdict::Wait(what, action) => return self.waiting(rot, RotationStep::Soak, what, action),
        };
        rot.advance(RotationStep::Archive);
        self.commit_step(&mut rot, RotationStep::Soak, RotationStep::Soak, "done", detail.clone(), |_, _| Ok(()))?;
        Ok(StepReport { ran: RotationStep::Soak, progressed: true, detail, rotation: rot, warnings: vec![] })
    }

    pub(super) fn step_archive(&self, mut rot: Rotation, input: StepInput) -> Result<StepReport> {
        let now = self.now();
        let detail = match (self.admin_key()?, rot.old_anthropic_key_id.clone()) {
            (Some(admin_key), Some(id)) => {
                let admin = self.keychain().get(&admin_key.keychain_ref)?;
                let old = self.key(&rot.old_key)?;
                let old_secret = self.keychain().get(&old.keychain_ref)?;
                let remedy = format!("This rotation no longer uses that id: archive the old key {} in the Console and confirm, or roll the rotation back", rot.old_key_hint);
                let check = judge::old_key_check(&rot, &old, &old_secret, remedy, resume(&rot.instance, true));
                let what = match self.ensure_status(&self.api_client()?, &admin, &id, "archived", &check) {
                    Ok(w) => w,
                    Err(e) => return Err(self.refuse_key_id(&mut rot, RotationStep::Archive, e)),
                };
                format!("old key {} archived via the Admin API ({what})", rot.old_key_hint)
            }
            _ if !input.confirm => {
                let (what, action) = judge::archive_by_hand(&rot);
                return self.waiting(rot, RotationStep::Archive, what, action);
            }
            _ => format!("old key {} archived in the Console, confirmed by the user", rot.old_key_hint),
        };
        rot.advance(RotationStep::Done);
        rot.outcome = RotationOutcome::Completed;
        rot.archived_at = Some(now);
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
}
