//! Rotation policies, the offline rotation plan and its export, and the one trace a rehearsal
//! leaves in the real store. The rules and the plan are pure ([`crate::rotation::policy`],
//! [`crate::rotation::plan`]); here they meet the store and the audit log.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde_json::json;

use crate::error::{Error, Result};
use crate::model::domain::InstanceFilter;
use crate::rotation::plan::{self, DueBrief, ExportFormat, RotationPlan};
use crate::rotation::policy::{self, PolicySet};
use crate::rotation::rehearsal::{RehearsalReport, RehearsalStep};
use crate::rotation::{PolicyScope, PolicySpec, RotationPolicy};
use crate::store;
use crate::Clawkeep;

/// A stored policy row as a [`RotationPolicy`].
fn from_row(r: store::PolicyRow) -> RotationPolicy {
    let scope = match r.scope.as_str() {
        "owner" => PolicyScope::Owner { owner: r.owner.unwrap_or_default() },
        "instance" => PolicyScope::Instance { instance: r.instance.unwrap_or_default() },
        _ => PolicyScope::Default,
    };
    RotationPolicy {
        scope,
        max_age_days: r.max_age_days,
        warn_days: r.warn_days,
        weekday: r.weekday,
        window_start: r.window_start,
        window_end: r.window_end,
        updated_at: Some(r.updated_at),
    }
}

/// A [`RotationPolicy`] as its stored row (an instance's is linked by id, not by this row).
fn to_row(p: &RotationPolicy, now: DateTime<Utc>) -> store::PolicyRow {
    let (scope, owner) = match &p.scope {
        PolicyScope::Default => ("default", None),
        PolicyScope::Owner { owner } => ("owner", Some(owner.clone())),
        PolicyScope::Instance { .. } => ("instance", None),
    };
    store::PolicyRow {
        scope: scope.into(),
        owner,
        instance: None,
        max_age_days: p.max_age_days,
        warn_days: p.warn_days,
        weekday: p.weekday.clone(),
        window_start: p.window_start.clone(),
        window_end: p.window_end.clone(),
        updated_at: now,
    }
}

/// Every stored policy: default first, then owners, then instances.
fn all_policies(conn: &Connection) -> Result<Vec<RotationPolicy>> {
    Ok(store::rotation_policies(conn)?.into_iter().map(from_row).collect())
}

fn stored_policy(conn: &Connection, scope: &PolicyScope) -> Result<Option<RotationPolicy>> {
    let of = match scope {
        PolicyScope::Default => store::PolicyOf::Default,
        PolicyScope::Owner { owner } => store::PolicyOf::Owner(owner),
        PolicyScope::Instance { instance } => store::PolicyOf::Instance(instance),
    };
    Ok(store::rotation_policy(conn, of)?.map(from_row))
}

impl Clawkeep {
    /// Stored policies (the built-in default is not listed; see [`RotationPolicy::builtin`]).
    pub fn rotation_policies(&self) -> Result<Vec<RotationPolicy>> {
        self.store().tx(|tx| all_policies(tx))
    }

    /// The policies for a table: the default first (stored, else the built-in one with no
    /// `updated_at`), then owner and instance policies. What the CLI and the desktop list.
    pub fn rotation_policy_table(&self) -> Result<Vec<RotationPolicy>> {
        Ok(PolicySet::new(self.rotation_policies()?).table())
    }

    /// The policy that applies to an instance.
    pub fn effective_rotation_policy(&self, instance: &str) -> Result<RotationPolicy> {
        let i = self.instance(instance)?;
        Ok(PolicySet::new(self.rotation_policies()?).effective(&i.name, &i.owner))
    }

    /// Creates or updates the policy of `scope`; unspecified fields keep their current value.
    pub fn set_rotation_policy(&self, scope: PolicyScope, spec: PolicySpec) -> Result<RotationPolicy> {
        let now = self.now();
        self.store().tx(|tx| {
            let instance_id = match &scope {
                PolicyScope::Instance { instance } => Some(store::instance_by_name(tx, instance)?.ok_or_else(|| Error::NotFound { kind: "instance", name: instance.clone() })?.id),
                PolicyScope::Owner { owner } => {
                    if owner.trim().is_empty() {
                        return Err(Error::invalid("owner", "must not be empty"));
                    }
                    if !store::owner_has_instances(tx, owner)? {
                        return Err(Error::NotFound { kind: "owner", name: owner.clone() });
                    }
                    None
                }
                PolicyScope::Default => None,
            };
            let before = stored_policy(tx, &scope)?;
            let created = before.is_none();
            let p = policy::apply_spec(&scope, before, spec, now)?;
            let row = to_row(&p, now);
            if created {
                store::insert_rotation_policy(tx, &row, instance_id)?;
            } else {
                store::update_rotation_policy(tx, &row, instance_id)?;
            }
            self.audit(
                tx,
                "rotation.policy.set",
                &scope.describe(),
                json!({
                    "max_age_days": p.max_age_days, "warn_days": p.warn_days, "weekday": p.weekday,
                    "window_start": p.window_start, "window_end": p.window_end, "created": created,
                }),
            )?;
            Ok(p)
        })
    }

    /// Writes the plan at `now` (default: the clock) to `path`, whole or not at all (hints
    /// only, never a key). Returns how many keys it lists.
    pub fn export_rotation_plan(&self, format: ExportFormat, path: &std::path::Path, now: Option<DateTime<Utc>>) -> Result<usize> {
        if path.as_os_str().is_empty() || path.is_dir() {
            return Err(Error::invalid("path", format!("'{}' is not a file to write; choose one (e.g. ~/rotations.ics)", path.display())));
        }
        crate::paths::refuse_inside(path, self.data_dir(), "Clawkeep's data directory (the database lives there)")?;
        let p = self.rotation_plan(now)?;
        crate::paths::write_file_atomic(path, format.render(&p).as_bytes())?;
        let n = p.items().count();
        self.store().tx(|tx| self.audit(tx, "rotation.export", &path.display().to_string(), json!({ "format": format.as_str(), "keys": n })))?;
        Ok(n)
    }

    /// The fleet's rotation plan at `now` (default: the clock), grouped by owner, most urgent
    /// first within each owner ([`plan::build`]).
    pub fn rotation_plan(&self, now: Option<DateTime<Utc>>) -> Result<RotationPlan> {
        let now = now.unwrap_or_else(|| self.now());
        let policies = PolicySet::new(self.rotation_policies()?);
        let instances = self.list_instances(&InstanceFilter::default())?.into_iter().map(|row| row.instance).collect();
        let keys = self.list_keys(None)?;
        let open: HashSet<String> = self.open_rotations()?.into_iter().map(|r| r.instance).collect();
        let exposed = self.store.key_exposures()?.into_iter().map(|(k, _, at)| (k, at)).collect();
        Ok(plan::build_with_exposures(now, instances, &keys, &policies, &open, &exposed))
    }

    /// The rotation plan cut to what the desktop's Fleet shows per instance ([`DueBrief`]), in
    /// the plan's order (the Fleet gets it in columns: [`Clawkeep::fleet_due`]).
    pub fn rotation_due(&self, now: Option<DateTime<Utc>>) -> Result<Vec<DueBrief>> {
        Ok(self.rotation_plan(now)?.owners.iter().flat_map(|o| o.items.iter().map(DueBrief::from)).collect())
    }

    /// Ends a rehearsal of `instance`: its report (ok when no step failed), and the only thing a
    /// rehearsal writes to the real store, the `rotation.rehearse` audit event.
    pub fn record_rehearsal(&self, instance: &str, old_key: &str, new_key_name: String, admin_mode: bool, steps: Vec<RehearsalStep>) -> Result<RehearsalReport> {
        let report = RehearsalReport::new(instance, old_key, new_key_name, admin_mode, steps);
        self.store().tx(|tx| self.audit(tx, "rotation.rehearse", instance, report.audit_details()))?;
        Ok(report)
    }
}
