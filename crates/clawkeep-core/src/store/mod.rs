//! The SQLite store, and the only place in core that holds SQL: the connection and its
//! migrations ([`db`]), then one module per table, each with its row mapping and its statements
//! (prepared, with positional parameters; rows mapped by one function per type).
//!
//! Only non-secret facts are written here. Every multi-row change runs in one transaction, and
//! the audit row for a change is written in the same transaction as the change. Reads that need
//! no transaction are methods of [`Store`]; statements a caller runs inside its own transaction
//! ([`Store::tx`]) are free functions over a `&Connection`.

mod audit;
mod budgets;
mod check_runs;
mod cost_api_keys;
mod cost_buckets;
mod cost_sync;
mod db;
mod deployments;
mod instance_json;
mod instances;
mod keys;
mod rate_limits;
mod rotation_policies;
mod rotations;
mod row;
mod settings;
mod spend_limit_reads;
mod spend_limits;
mod team;
mod usage_buckets;
mod usage_months;

pub use audit::{append_audit, AuditEntry};
pub use budgets::{delete_budget, upsert_budget};
pub use check_runs::insert_check_run;
pub use cost_api_keys::{replace_api_keys, set_api_key_status};
pub use cost_buckets::replace_cost_days;
pub use cost_sync::{complete_sync, set_sync_mark, sync_mark, SyncMark};
pub use db::{Store, SCHEMA_VERSION};
pub use deployments::insert_deployment;
pub(crate) use instances::owner_has_instances;
pub use instances::{delete_instance, insert_instance, instance_by_name, instances_jumping_via, update_instance};
pub use keys::{active_key_of, delete_key, insert_key, key_by_name, keys_of_instance, set_keychain_ref, update_key};
pub use rate_limits::{prune_rate_limits, replace_rate_limits};
pub(crate) use rotation_policies::{insert_rotation_policy, rotation_policies, rotation_policy, update_rotation_policy, PolicyOf, PolicyRow};
pub(crate) use rotations::{insert_rotation, latest_rotation, open_rotation, open_rotations, rotation_step, update_rotation, RotationRow, RotationWrite};
pub use settings::set_setting;
pub use spend_limit_reads::{set_spend_limit_read, SpendLimitRead};
pub use spend_limits::replace_spend_limits;
pub use team::{delete_exposure, set_base_head, set_team, set_team_remote, set_verified_head, upsert_exposure, TeamRow};
pub use usage_buckets::replace_usage_days;

/// Fixtures for the table modules' unit tests: a store in a real SQLite file in a temp dir.
#[cfg(test)]
mod testing {
    use chrono::{DateTime, TimeZone, Utc};

    use super::Store;
    use crate::model::domain::*;

    pub(super) fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).single().unwrap_or_default()
    }

    /// A fresh store file (migrated) in its own temp dir; keep the dir alive with it.
    pub(super) fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("clawkeep.db")).unwrap();
        (dir, store)
    }

    /// Stores an instance `name` of `owner`; returns its id.
    pub(super) fn add_instance(s: &Store, name: &str, owner: &str) -> i64 {
        let i = Instance {
            id: 0,
            name: name.into(),
            owner: owner.into(),
            environment: "prod".into(),
            workload: "bot".into(),
            purpose: Purpose::Client,
            ssh_host: "127.0.1.1".into(),
            ssh_port: 22,
            ssh_user: "ck".into(),
            jump_via: None,
            host_key_fingerprint: None,
            state_dir: "~/.openclaw".into(),
            service_manager: ServiceManager::default(),
            injection: InjectionMethod::EnvFile,
            agents: vec!["main".into()],
            expected_org_id: None,
            expected_workspace_id: None,
            tags: vec![],
            notes: String::new(),
            draft: false,
            created_at: at(0),
            updated_at: at(0),
        };
        s.tx(|tx| super::insert_instance(tx, &i)).unwrap()
    }
}
