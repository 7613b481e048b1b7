//! The rollback of a guided rotation: the host first (read, restore, verify), then the API,
//! then the inventory. What each answer means is [`crate::rotation::judge`].

use serde_json::json;

use super::{instance_id, key_in};
use crate::error::{Error, Result};
use crate::model::domain::KeyStatus;
use crate::model::keyfmt;
use crate::rotation::judge::{self, api_err, HostRestore, Reactivation};
use crate::rotation::{DeployOutcome, Deployer, RotationOutcome, RotationStep, StepReport};
use crate::store;
use crate::Clawkeep;

impl Clawkeep {
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
        if let Some(e) = judge::rollback_refusal(&rot, instance) {
            return Err(e);
        }
        let inst = self.instance(instance)?;
        let old = self.key(&rot.old_key)?;
        // Read from the keychain only where needed (a rotation cancelled right after its start
        // needs no secret).
        let old_secret = || self.keychain().get(&old.keychain_ref);
        let mut done: Vec<String> = Vec::new();
        // 1. Checks. Where the old key was deactivated, it must come back: by the Admin API
        // (step 3), or by the person, before the host gets it back.
        let admin_reactivation = match judge::reactivation(&rot, self.admin_key()?, confirm)? {
            Reactivation::NotNeeded => None,
            Reactivation::AdminApi(admin_key, id) => Some((admin_key, id)),
            Reactivation::ByHandConfirmed => {
                let p = self.api_client()?.probe(&old_secret()?).map_err(|e| api_err("probing the old key", e))?;
                judge::judge_manual_reactivation(&p, &rot)?;
                done.push("old key reactivated in the Console (confirmed, probe 200)".into());
                None
            }
        };
        // 2. The host. Until a new key was stored, nothing could have put it on the host.
        let mut restored = false;
        if rot.new_key.is_some() {
            let short = keyfmt::short_fingerprint(&old.fingerprint);
            match judge::host_restore(&deployer.key_on_host(&inst, &old)?, &old.fingerprint) {
                HostRestore::Holds => done.push(format!("the host holds the old key ({short}): nothing to restore")),
                HostRestore::NotRead(why) => done.push(format!("the host was not read: {why}")),
                HostRestore::Restore => match deployer.restore(&inst, &old, &old_secret()?)? {
                    DeployOutcome::Deployed { verified: true, detail } => {
                        restored = true;
                        if deployer.key_on_host(&inst, &old)?.holds(&old.fingerprint) == Some(false) {
                            return Err(judge::restore_not_held(&rot, &short, &detail));
                        }
                        done.push(format!("old key restored on the host, {short} verified there: {detail}"));
                    }
                    DeployOutcome::Deployed { verified: false, detail } => return Err(judge::restore_unverified(&rot, &detail)),
                    DeployOutcome::Manual { .. } if !confirm => return Err(judge::restore_by_hand(&rot, &inst, &old)),
                    DeployOutcome::Manual { .. } => done.push(format!("the host runs the old key {} again, confirmed by the user", old.hint)),
                },
            }
        }
        // 3. The API: the host is verified, the old key can come back.
        if let Some((admin_key, id)) = admin_reactivation {
            let admin = self.keychain().get(&admin_key.keychain_ref)?;
            let remedy = format!("The host already runs the old key again. Set the old key {} active in the Console and confirm the rollback", rot.old_key_hint);
            let secret = old_secret()?;
            let check = judge::old_key_check(&rot, &old, &secret, remedy, judge::rollback(&rot.instance, true));
            match self.ensure_status(&self.api_client()?, &admin, &id, "active", &check) {
                Ok(w) => done.push(w),
                Err(e @ Error::KeyIdMismatch(_)) => return Err(self.refuse_key_id(&mut rot, RotationStep::Rollback, e)),
                Err(e) => return Err(judge::reactivation_failed(&rot, &e)),
            }
        }
        // 4. Inventory: old key active again, new key revoked; the rotation is closed.
        let now = self.now();
        let expected = rot.step;
        rot.advance(RotationStep::Rollback);
        rot.outcome = RotationOutcome::RolledBack;
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
