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
