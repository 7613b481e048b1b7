//! The SQLite store, and the only place in core that holds SQL: the connection and its
//! migrations ([`db`]), then one module per table, each with its row mapping and its statements
//! (prepared, with positional parameters; rows mapped by one function per type).
//!
//! Only non-secret facts are written here. Every multi-row change runs in one transaction, and
//! the audit row for a change is written in the same transaction as the change. Reads that need
//! no transaction are methods of [`Store`]; statements a caller runs inside its own transaction
//! ([`Store::tx`]) are free functions over a `&Connection`.

mod audit;
mod check_runs;
mod db;
mod deployments;
mod instance_json;
mod instances;
mod keys;
mod row;
mod settings;

pub use audit::{append_audit, AuditEntry};
pub(crate) use check_runs::check_run_from_row;
pub use check_runs::insert_check_run;
pub use db::{Store, SCHEMA_VERSION};
pub use deployments::insert_deployment;
pub use instances::{delete_instance, insert_instance, instance_by_name, instances_jumping_via, update_instance};
pub use keys::{active_key_of, delete_key, insert_key, key_by_name, keys_of_instance, update_key};
pub(crate) use row::{parse_ts, ts};
pub use settings::set_setting;
