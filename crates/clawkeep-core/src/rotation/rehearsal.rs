//! What a rotation rehearsal reports, and its one trace in the real store (an audit event). The
//! rehearsal itself — a throw-away world with an in-process fake Anthropic API and a simulated
//! host — is composed outside core, in the `clawkeep-rehearsal` crate, so core never links the
//! fake.

use serde::Serialize;
use serde_json::json;

/// One rehearsed step.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RehearsalStep {
    pub step: String,
    /// `ok`, `refused` (expected), `waiting` (a person's action, simulated) or `failed`.
    pub outcome: String,
    pub detail: String,
}

/// What a rehearsal did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RehearsalReport {
    pub instance: String,
    pub old_key: String,
    pub new_key_name: String,
    /// `admin-api` (an Admin key is stored) or `manual` (the Console steps are confirmed).
    pub mode: String,
    pub steps: Vec<RehearsalStep>,
    pub ok: bool,
}

impl RehearsalReport {
    /// The report of a rehearsal of `instance` that ran `steps`: ok when none failed.
    pub(crate) fn new(instance: &str, old_key: &str, new_key_name: String, admin_mode: bool, steps: Vec<RehearsalStep>) -> Self {
        let ok = steps.iter().all(|s| s.outcome != "failed");
        let mode = if admin_mode { "admin-api" } else { "manual" };
        RehearsalReport { instance: instance.into(), old_key: old_key.into(), new_key_name, mode: mode.into(), steps, ok }
    }

    /// What the `rotation.rehearse` audit event records of it.
    pub(crate) fn audit_details(&self) -> serde_json::Value {
        let failed: Vec<&str> = self.steps.iter().filter(|s| s.outcome == "failed").map(|s| s.step.as_str()).collect();
        json!({ "ok": self.ok, "steps": self.steps.len(), "failed": failed, "mode": self.mode })
    }
}
