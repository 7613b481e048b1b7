//! Types only the desktop app sends to its UI (the domain types come from `clawkeep-core`).
//! Like the core's, they derive `ts_rs::TS`; `tests/bindings.rs` keeps `ui/src/ipc/bindings/`
//! in step with them.

use serde::Serialize;

/// What the app is running on: shown in Settings and in the empty states.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AppInfo {
    pub version: String,
    /// The data directory shared with the CLI.
    pub data_dir: String,
    /// The keychain service name the key values are stored under.
    pub keychain_service: String,
}

/// What the UI asks of a checklist run (the core's `CheckOptions`, minus nothing).
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct CheckRequest {
    /// Also send one paid request (`max_tokens: 1`) to classify billing problems. Off by default.
    pub billing_probe: bool,
    /// Only these domains (all when empty).
    pub domains: Vec<clawkeep_core::checklist::Domain>,
    /// API checks only.
    pub skip_host: bool,
    /// Host checks only.
    pub skip_api: bool,
}

impl From<CheckRequest> for clawkeep_core::checklist::CheckOptions {
    fn from(r: CheckRequest) -> Self {
        clawkeep_core::checklist::CheckOptions { billing_probe: r.billing_probe, domains: r.domains, skip_host: r.skip_host, skip_api: r.skip_api }
    }
}
