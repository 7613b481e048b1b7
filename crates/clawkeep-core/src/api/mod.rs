//! `Clawkeep`, the facade both front ends call: every user-visible operation is a method. It
//! owns the store and the keychain, applies the inventory's rules (one active key per instance,
//! a key serves one instance, names follow the scheme), keeps keychain and store consistent,
//! and audits every change.
//!
//! This file holds the type, how it is opened and what every feature shares; the methods live
//! one file per feature: `instances`, `keys`, [`hosts`] (SSH route, trust, the SSH login),
//! [`deploys`] (one instance and the fleet), [`checks`] (the troubleshooting checklist),
//! `settings` (settings, self-check, audit log), `bundles` (offline installers),
//! `rotations` (the guided rotation over [`crate::rotation`], its deployer, policies and plan),
//! [`onboard`] (onboarding an existing fleet: host keys, discovery, adoption) and [`costs`]
//! (the cost trail: usage sync, cost views, reconciliation, budgets; `ratelimits`, Anthropic's
//! configured rate limits beside them).
//!
//! All methods block (SQLite and keychain I/O; host and API flows go through core's one
//! blocking↔async bridge, `crate::runtime::block_on`): async callers use `spawn_blocking`. The
//! one async method is [`Clawkeep::fleet_deploy`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::secret::Secret;
use crate::secrets::Keychain;
use crate::store::{self, AuditEntry, Store};

mod bundles;
pub mod checks;
pub mod costs;
pub mod deploys;
pub mod fleet;
pub mod hosts;
mod instances;
mod keys;
pub mod onboard;
mod ratelimits;
mod rotations;
mod settings;
mod spendlimits;
pub mod team;

/// The keychain service name entries are stored under; `CLAWKEEP_KEYCHAIN_SERVICE` overrides it
/// (tests use a unique one per run).
pub const KEYCHAIN_SERVICE_ENV: &str = "CLAWKEEP_KEYCHAIN_SERVICE";
pub const DEFAULT_KEYCHAIN_SERVICE: &str = "clawkeep";
pub const BASE_URL_ENV: &str = "CLAWKEEP_ANTHROPIC_BASE_URL";
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// A source of "now", so tests and rotation plans can fix the date.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How to open Clawkeep.
#[derive(Default)]
pub struct OpenOptions {
    /// `--data-dir`; otherwise `CLAWKEEP_HOME`, otherwise the platform data dir.
    pub data_dir: Option<PathBuf>,
    /// A keychain to use instead of the OS one (unit tests).
    pub keychain: Option<Arc<dyn Keychain>>,
    pub clock: Option<Clock>,
    /// Recorded in the audit log; defaults to the OS user running the process.
    pub os_user: Option<String>,
}

pub struct Clawkeep {
    store: Store,
    keychain: Arc<dyn Keychain>,
    data_dir: PathBuf,
    clock: Clock,
    os_user: String,
    /// The passphrase of the encrypted SSH key file, unlocked for this process only (never
    /// written anywhere), with the path it opens.
    ssh_unlocked: std::sync::Mutex<Option<(PathBuf, Secret)>>,
}

impl Clawkeep {
    /// For a long-lived process (the desktop app): read the database through SQLite's bounded
    /// page cache instead of mapping the file, so pages read once (a big fleet list) do not stay
    /// in the process's memory.
    pub fn bound_file_cache(&self) -> Result<()> {
        self.store.unmap_file()
    }
}

impl std::fmt::Debug for Clawkeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clawkeep").field("data_dir", &self.data_dir).field("store", &self.store).finish()
    }
}

/// The OS user running the process (recorded in the audit log).
fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty())).unwrap_or_else(|| "unknown".into())
}

/// Trimmed, and `None` when empty.
fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

impl Clawkeep {
    /// Opens the data directory (creating it and the database on first use).
    pub fn open(opts: OpenOptions) -> Result<Clawkeep> {
        let data_dir = crate::paths::resolve_data_dir(opts.data_dir.as_deref())?;
        crate::paths::ensure_dir(&data_dir)?;
        let store = Store::open(&data_dir.join(crate::paths::DB_FILE))?;
        let keychain = match opts.keychain {
            Some(k) => k,
            None => {
                let service = std::env::var(KEYCHAIN_SERVICE_ENV).ok().filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_KEYCHAIN_SERVICE.into());
                // The store is the user's explicit choice (CLAWKEEP_KEYSTORE), never a fallback.
                crate::keystore::open(crate::keystore::StoreChoice::from_env()?, service, &data_dir, crate::keystore::prompt())
            }
        };
        // Keys imported from a team store are read from it (decrypted on use), not copied.
        let keychain: Arc<dyn Keychain> = Arc::new(team::TeamKeychain::new(keychain, data_dir.join("team/repo")));
        Ok(Clawkeep {
            store,
            keychain,
            data_dir,
            clock: opts.clock.unwrap_or_else(|| Arc::new(Utc::now)),
            os_user: opts.os_user.unwrap_or_else(os_user),
            ssh_unlocked: Default::default(),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn keychain(&self) -> &dyn Keychain {
        self.keychain.as_ref()
    }

    pub(crate) fn audit(&self, conn: &rusqlite::Connection, action: &str, subject: &str, details: serde_json::Value) -> Result<()> {
        store::append_audit(conn, &AuditEntry { at: self.now(), os_user: &self.os_user, action, subject, details })
    }
}
