//! The inventory's domain types: instances (an OpenClaw installation on a VPS), keys (non-secret
//! facts about an Anthropic credential whose value lives in the keychain), and audit events.
//! These are also the types the CLI prints with `--json` and the desktop UI receives.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::keyfmt::KeyKind;

/// Why the instance exists; drives how careful Clawkeep is with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    PersonalTesting,
    InternalOps,
    Client,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PersonalTesting => "personal-testing",
            Purpose::InternalOps => "internal-ops",
            Purpose::Client => "client",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "personal-testing" | "personal" | "testing" => Some(Purpose::PersonalTesting),
            "internal-ops" | "internal" | "ops" => Some(Purpose::InternalOps),
            "client" => Some(Purpose::Client),
            _ => None,
        }
    }
}

/// How the key reaches OpenClaw on the host (see `shared/reference/openclaw.md` §4.5, §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum InjectionMethod {
    /// `ANTHROPIC_API_KEY` in `<state dir>/.env`; needs a gateway restart.
    EnvFile,
    /// Per-agent auth profile written with `openclaw models auth paste-api-key`; hot.
    AuthProfile,
    /// A 0600 file referenced by a file SecretRef, then `openclaw secrets reload`; hot.
    SecretFile,
}

impl InjectionMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            InjectionMethod::EnvFile => "env-file",
            InjectionMethod::AuthProfile => "auth-profile",
            InjectionMethod::SecretFile => "secret-file",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "env-file" | "env" | "dotenv" => Some(InjectionMethod::EnvFile),
            "auth-profile" | "profile" => Some(InjectionMethod::AuthProfile),
            "secret-file" | "file" => Some(InjectionMethod::SecretFile),
            _ => None,
        }
    }
}

/// How the gateway is restarted on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ServiceManager {
    /// `systemctl --user restart <unit>` (OpenClaw installs `openclaw-gateway`).
    SystemdUser { unit: String },
    /// A command run on the host (in its login shell) that restarts the gateway.
    Custom { restart_command: String },
}

impl Default for ServiceManager {
    fn default() -> Self {
        ServiceManager::SystemdUser { unit: "openclaw-gateway".into() }
    }
}

/// Status of a key in its life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    /// Stored, not yet the instance's live key (e.g. the new key of a rotation).
    Staged,
    /// The instance's live key. One per instance.
    Active,
    /// Replaced by a newer key.
    Retired,
    /// Known to be dead (revoked, archived or leaked).
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Staged => "staged",
            KeyStatus::Active => "active",
            KeyStatus::Retired => "retired",
            KeyStatus::Revoked => "revoked",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "staged" => Some(KeyStatus::Staged),
            "active" => Some(KeyStatus::Active),
            "retired" => Some(KeyStatus::Retired),
            "revoked" => Some(KeyStatus::Revoked),
            _ => None,
        }
    }
}

/// An OpenClaw installation Clawkeep manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Instance {
    pub id: i64,
    /// Unique, slug-safe (`[a-z0-9][a-z0-9-]*`).
    pub name: String,
    /// Client or team that owns it.
    pub owner: String,
    /// prod, staging, dev, …
    pub environment: String,
    pub workload: String,
    pub purpose: Purpose,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    /// Reached through this instance (a bastion): one ProxyJump hop, both host keys pinned.
    pub jump_via: Option<String>,
    /// `SHA256:…` of the pinned host key; `None` until the user trusted it.
    pub host_key_fingerprint: Option<String>,
    /// OpenClaw's state directory on the host.
    pub state_dir: String,
    pub service_manager: ServiceManager,
    pub injection: InjectionMethod,
    /// OpenClaw agent ids on the instance; every one gets the key.
    pub agents: Vec<String>,
    pub expected_org_id: Option<String>,
    pub expected_workspace_id: Option<String>,
    pub tags: Vec<String>,
    pub notes: String,
    /// Imported from ssh config and not yet completed (owner/environment missing).
    pub draft: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a user gives to add an instance. Optional fields take the documented defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct InstanceSpec {
    pub name: String,
    pub owner: String,
    pub environment: String,
    pub workload: String,
    /// Defaults to `client`.
    pub purpose: Option<Purpose>,
    pub ssh_host: String,
    /// Defaults to 22.
    pub ssh_port: Option<u16>,
    pub ssh_user: String,
    /// Reach it through this instance (a bastion; one hop).
    pub jump_via: Option<String>,
    /// Defaults to `~/.openclaw`.
    pub state_dir: Option<String>,
    /// Defaults to the systemd user unit `openclaw-gateway`.
    pub service_manager: Option<ServiceManager>,
    /// Defaults to `env-file`.
    pub injection: Option<InjectionMethod>,
    /// Defaults to `["main"]`.
    pub agents: Vec<String>,
    pub expected_org_id: Option<String>,
    pub expected_workspace_id: Option<String>,
    pub tags: Vec<String>,
    pub notes: String,
    pub draft: bool,
}

/// A partial update: `None` leaves a field as it is. For the `Option` fields of [`Instance`],
/// `Some(None)`… is expressed as an empty string, which clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct InstancePatch {
    pub name: Option<String>,
    pub owner: Option<String>,
    pub environment: Option<String>,
    pub workload: Option<String>,
    pub purpose: Option<Purpose>,
    pub ssh_host: Option<String>,
    pub ssh_port: Option<u16>,
    pub ssh_user: Option<String>,
    /// `Some("")` clears it.
    pub jump_via: Option<String>,
    pub state_dir: Option<String>,
    pub service_manager: Option<ServiceManager>,
    pub injection: Option<InjectionMethod>,
    pub agents: Option<Vec<String>>,
    pub expected_org_id: Option<String>,
    pub expected_workspace_id: Option<String>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
}

/// Non-secret facts about a stored key. The value is in the OS keychain under `keychain_ref`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Key {
    pub id: i64,
    pub name: String,
    pub kind: KeyKind,
    /// First 16 + `...` + last 4, like the Admin API's `partial_key_hint`.
    pub hint: String,
    /// SHA-256 of the key, lowercase hex.
    pub fingerprint: String,
    pub length: u32,
    /// The keychain account the value is stored under (service `clawkeep`).
    pub keychain_ref: String,
    /// The instance this key serves (one only).
    pub instance: Option<String>,
    pub workspace_id: Option<String>,
    /// `apikey_…` in the Anthropic Console, if known.
    pub anthropic_key_id: Option<String>,
    pub status: KeyStatus,
    /// The name was kept despite failing the naming scheme.
    pub name_override: bool,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// What a user gives to add a key (the value comes separately, as a [`crate::Secret`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct KeySpec {
    pub name: String,
    pub instance: Option<String>,
    pub workspace_id: Option<String>,
    pub anthropic_key_id: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Keep a name that fails the naming scheme (recorded in the audit log).
    pub allow_name: bool,
    /// The person says Anthropic has changed the key format: accept a length or ending other
    /// than the documented one, with a warning (recorded in the audit log).
    #[serde(default)]
    pub format_changed: bool,
}

/// The result of adding a key: its facts, and any warnings about the value (e.g. truncation).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyAdded {
    pub key: Key,
    pub warnings: Vec<String>,
}

/// One row of the fleet view: an instance and its active key's public facts.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceRow {
    pub instance: Instance,
    pub active_key: Option<KeyBrief>,
    /// Number of keys bound to the instance, any status.
    pub key_count: u32,
}

/// One row of the desktop's Fleet table: only what it shows, sorts, filters and searches, flat
/// (no nested objects, no notes, agents, paths or timestamps). The webview receives them in
/// columns (`api::fleet::FleetColumns`), not one object each; other screens and
/// `instance list --json` keep using [`InstanceRow`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetRow {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub environment: String,
    pub workload: String,
    pub ssh_user: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub tags: Vec<String>,
    pub draft: bool,
    /// The active key's name, hint and age in whole days; `None` without an active key.
    pub key_name: Option<String>,
    pub key_hint: Option<String>,
    pub key_age_days: Option<i64>,
}

/// The public facts about a key shown next to its instance.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyBrief {
    pub name: String,
    pub hint: String,
    pub fingerprint: String,
    pub status: KeyStatus,
    pub created_at: DateTime<Utc>,
    /// Whole days since the key was created.
    pub age_days: i64,
}

/// An instance with every key that serves or served it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceDetail {
    pub instance: Instance,
    pub keys: Vec<Key>,
}

/// Filters for the fleet view and `instance list`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct InstanceFilter {
    /// Case-insensitive substring of name, owner, host, workload or a tag.
    pub search: Option<String>,
    pub owner: Option<String>,
    pub environment: Option<String>,
    pub tag: Option<String>,
}

/// What removing an instance did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceRemoved {
    pub instance: String,
    /// Keys removed with it (their keychain entries were deleted too).
    pub removed_keys: Vec<String>,
}

/// One entry of the append-only audit log. `details` never contains a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub os_user: String,
    pub action: String,
    pub subject: String,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub details: serde_json::Value,
}

/// Which SSH identity Clawkeep authenticates with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SshIdentity {
    /// The running ssh-agent (`SSH_AUTH_SOCK`).
    Agent,
    /// A private key file (a passphrase is asked when it is encrypted).
    KeyFile { path: String },
}

/// User settings kept in the store. Environment variables override some of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Settings {
    /// The Anthropic API base URL (`CLAWKEEP_ANTHROPIC_BASE_URL` overrides it).
    pub anthropic_base_url: String,
    /// Where the base URL came from: `default`, `settings` or `env`.
    pub anthropic_base_url_source: String,
    pub ssh_identity: SshIdentity,
}

/// What `self-check` found.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SelfCheck {
    pub data_dir: String,
    pub database: String,
    pub schema_version: i64,
    pub instances: u32,
    pub keys: u32,
    pub keychain_ok: bool,
    /// The keychain's problem and its fix, when not ok.
    pub keychain_message: String,
    /// The store in use: Secret Service, the kernel keyring or the encrypted file (and how it
    /// is unlocked); chosen with `CLAWKEEP_KEYSTORE`.
    #[serde(default)]
    pub keychain_store: String,
    /// Keys whose keychain entry is missing.
    pub missing_secrets: Vec<String>,
}

/// One recorded deployment of a key to an instance (`clawkeep deploy history`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Deployment {
    pub id: i64,
    pub instance: String,
    pub key_name: String,
    /// SHA-256 hex of the deployed key.
    pub key_fingerprint: String,
    pub method: String,
    /// Who ran it.
    pub os_user: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    /// succeeded | failed | rolled-back | rollback-failed | cancelled | refused
    pub outcome: String,
    /// `{code, message}` when it failed.
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown> | null"))]
    pub error: Option<serde_json::Value>,
    /// What the rollback did, when there was one.
    pub rollback: Option<String>,
    #[cfg_attr(feature = "ts", ts(type = "Record<string, unknown>"))]
    pub details: serde_json::Value,
}
