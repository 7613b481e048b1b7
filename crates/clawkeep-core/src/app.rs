//! `Clawkeep`: the operations both front ends call. It owns the store and the keychain, applies
//! the inventory's rules (one active key per instance, a key serves one instance, names follow
//! the scheme), keeps keychain and store consistent, and audits every change.
//!
//! All methods block (SQLite and keychain I/O): async callers use `spawn_blocking`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::error::{Error, Remedy, Result};
use crate::model::domain::*;
use crate::model::keyfmt::{self, KeyKind};
use crate::model::naming::{self, NameContext};
use crate::model::validate::{check_key_id, check_text, check_workspace_id, validate_instance};
use crate::secret::Secret;
use crate::secrets::{Keychain, OsKeychain};
use crate::store::{self, AuditEntry, Store};

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

impl std::fmt::Debug for Clawkeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clawkeep").field("data_dir", &self.data_dir).field("store", &self.store).finish()
    }
}

fn os_user() -> String {
    ["USER", "LOGNAME", "USERNAME"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty())).unwrap_or_else(|| "unknown".into())
}

/// `kc-` and 16 random hex digits: the keychain account of a key (independent of its name,
/// so a rename never orphans a secret).
fn new_keychain_ref() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("kc-{}", hex::encode(bytes))
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// Where to reach `i` directly, with its pinned host key.
fn direct_target(i: &Instance) -> Result<crate::ssh::SshTarget> {
    if i.ssh_host.trim().is_empty() {
        return Err(Error::no_ssh_host(&i.name));
    }
    Ok(crate::ssh::SshTarget { instance: i.name.clone(), host: i.ssh_host.clone(), port: i.ssh_port, user: i.ssh_user.clone(), pinned: i.host_key_fingerprint.clone(), jump: None })
}

/// The stored jump host: an existing instance, not itself, one hop only (the bastion has no
/// jump of its own, and an instance others jump through can't get one).
fn validate_jump(conn: &rusqlite::Connection, i: &Instance) -> Result<()> {
    let Some(j) = &i.jump_via else { return Ok(()) };
    if *j == i.name {
        return Err(Error::invalid("jump via", "an instance can't be its own jump host"));
    }
    let Some(bastion) = store::instance_by_name(conn, j)? else {
        return Err(Error::NotFound { kind: "instance", name: j.clone() });
    };
    if let Some(second) = &bastion.jump_via {
        return Err(Error::invalid(
            "jump via",
            format!("'{j}' is itself reached through '{second}'; only one jump hop is supported: use '{second}' directly or give '{j}' no jump host"),
        ));
    }
    if i.id != 0 {
        let behind = store::instances_jumping_via(conn, &i.name)?;
        if !behind.is_empty() {
            return Err(Error::invalid("jump via", format!("'{}' is the jump host of {}; only one jump hop is supported", i.name, behind.join(", "))));
        }
    }
    Ok(())
}

impl Clawkeep {
    /// Opens the data directory (creating it and the database on first use).
    pub fn open(opts: OpenOptions) -> Result<Clawkeep> {
        let data_dir = crate::paths::resolve_data_dir(opts.data_dir.as_deref())?;
        crate::paths::ensure_dir(&data_dir)?;
        let store = Store::open(&data_dir.join(crate::paths::DB_FILE))?;
        let keychain = opts.keychain.unwrap_or_else(|| {
            let service = std::env::var(KEYCHAIN_SERVICE_ENV).ok().filter(|s| !s.is_empty()).unwrap_or_else(|| DEFAULT_KEYCHAIN_SERVICE.into());
            Arc::new(OsKeychain::new(service))
        });
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

    // ---- instances ------------------------------------------------------------------------

    pub fn add_instance(&self, spec: InstanceSpec) -> Result<Instance> {
        let now = self.now();
        let mut inst = Instance {
            id: 0,
            name: spec.name.trim().to_string(),
            owner: spec.owner.trim().to_string(),
            environment: spec.environment.trim().to_string(),
            workload: spec.workload.trim().to_string(),
            purpose: spec.purpose.unwrap_or(Purpose::Client),
            ssh_host: spec.ssh_host.trim().to_string(),
            ssh_port: spec.ssh_port.unwrap_or(22),
            ssh_user: spec.ssh_user.trim().to_string(),
            jump_via: non_empty(spec.jump_via),
            host_key_fingerprint: None,
            state_dir: non_empty(spec.state_dir).unwrap_or_else(|| "~/.openclaw".into()),
            service_manager: spec.service_manager.unwrap_or_default(),
            injection: spec.injection.unwrap_or(InjectionMethod::EnvFile),
            agents: if spec.agents.is_empty() { vec!["main".into()] } else { spec.agents.iter().map(|a| a.trim().to_string()).collect() },
            expected_org_id: non_empty(spec.expected_org_id),
            expected_workspace_id: non_empty(spec.expected_workspace_id),
            tags: spec.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
            notes: spec.notes,
            draft: spec.draft,
            created_at: now,
            updated_at: now,
        };
        validate_instance(&inst)?;
        self.store.tx(|tx| {
            if store::instance_by_name(tx, &inst.name)?.is_some() {
                return Err(Error::Conflict(format!("an instance named '{}' already exists; pick another name or edit that one", inst.name)));
            }
            validate_jump(tx, &inst)?;
            inst.id = store::insert_instance(tx, &inst)?;
            self.audit(
                tx,
                "instance.add",
                &inst.name,
                json!({
                    "owner": inst.owner, "environment": inst.environment, "host": inst.ssh_host, "port": inst.ssh_port,
                    "user": inst.ssh_user, "injection": inst.injection.as_str(), "draft": inst.draft, "jump_via": inst.jump_via,
                }),
            )?;
            Ok(())
        })?;
        Ok(inst)
    }

    pub fn instance(&self, name: &str) -> Result<Instance> {
        self.store.instance_by_name(name)?.ok_or_else(|| Error::NotFound { kind: "instance", name: name.into() })
    }

    pub fn instance_detail(&self, name: &str) -> Result<InstanceDetail> {
        let instance = self.instance(name)?;
        let keys = self.store.list_keys(Some(name))?;
        Ok(InstanceDetail { instance, keys })
    }

    /// The fleet view: instances with their active key's public facts.
    pub fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<InstanceRow>> {
        let now = self.now();
        Ok(self
            .store
            .list_instances(filter)?
            .into_iter()
            .map(|(instance, active, key_count)| InstanceRow { instance, active_key: active.map(|k| KeyBrief { age_days: (now - k.created_at).num_days(), ..k }), key_count })
            .collect())
    }

    /// [`Clawkeep::list_instances`] as compact JSON, streamed to `out` from the database cursor
    /// (the same bytes `serde_json` writes for that list; for big fleets and scripts).
    pub fn write_instances_json(&self, filter: &InstanceFilter, out: &mut dyn std::io::Write) -> Result<()> {
        self.store.write_instances_json(filter, self.now(), out)
    }

    pub fn edit_instance(&self, name: &str, patch: InstancePatch) -> Result<Instance> {
        self.store.tx(|tx| {
            let before = store::instance_by_name(tx, name)?.ok_or_else(|| Error::NotFound { kind: "instance", name: name.into() })?;
            let mut i = before.clone();
            let mut changed: Vec<&str> = Vec::new();
            macro_rules! set {
                ($field:ident, $label:literal, $val:expr) => {
                    if let Some(v) = $val {
                        if i.$field != v {
                            i.$field = v;
                            changed.push($label);
                        }
                    }
                };
            }
            set!(name, "name", patch.name.map(|s| s.trim().to_string()));
            set!(owner, "owner", patch.owner.map(|s| s.trim().to_string()));
            set!(environment, "environment", patch.environment.map(|s| s.trim().to_string()));
            set!(workload, "workload", patch.workload.map(|s| s.trim().to_string()));
            set!(purpose, "purpose", patch.purpose);
            set!(ssh_user, "user", patch.ssh_user.map(|s| s.trim().to_string()));
            set!(jump_via, "jump_via", patch.jump_via.map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty())));
            set!(state_dir, "state_dir", patch.state_dir.map(|s| s.trim().to_string()));
            set!(service_manager, "service", patch.service_manager);
            set!(injection, "injection", patch.injection);
            set!(agents, "agents", patch.agents);
            set!(expected_org_id, "expected_org_id", patch.expected_org_id.map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty())));
            set!(expected_workspace_id, "expected_workspace_id", patch.expected_workspace_id.map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty())));
            set!(tags, "tags", patch.tags);
            set!(notes, "notes", patch.notes);
            // A new address or port is a new host as far as SSH trust goes: drop the pin.
            let host_changed = patch.ssh_host.as_ref().is_some_and(|h| h.trim() != i.ssh_host) || patch.ssh_port.is_some_and(|p| p != i.ssh_port);
            set!(ssh_host, "host", patch.ssh_host.map(|s| s.trim().to_string()));
            set!(ssh_port, "port", patch.ssh_port);
            if host_changed && i.host_key_fingerprint.is_some() {
                i.host_key_fingerprint = None;
                changed.push("host_key_unpinned");
            }
            if i.draft && !i.owner.trim().is_empty() && !i.environment.trim().is_empty() {
                i.draft = false;
                changed.push("draft_completed");
            }
            if changed.is_empty() {
                return Ok(before);
            }
            validate_instance(&i)?;
            if changed.contains(&"jump_via") {
                validate_jump(tx, &i)?;
            }
            if i.name != before.name && store::instance_by_name(tx, &i.name)?.is_some() {
                return Err(Error::Conflict(format!("an instance named '{}' already exists", i.name)));
            }
            i.updated_at = self.now();
            store::update_instance(tx, &i)?;
            self.audit(tx, "instance.edit", &i.name, json!({ "changed": changed, "previous_name": before.name }))?;
            Ok(i)
        })
    }

    /// Pins (or re-pins) the host key an instance's SSH server must present.
    pub fn pin_host_key(&self, name: &str, fingerprint: &str) -> Result<Instance> {
        let fp = fingerprint.trim();
        if !fp.starts_with("SHA256:") || fp.len() < 20 || fp[7..].contains(char::is_whitespace) {
            return Err(Error::invalid("fingerprint", "expected an OpenSSH SHA-256 fingerprint like SHA256:abc…"));
        }
        self.store.tx(|tx| {
            let mut i = store::instance_by_name(tx, name)?.ok_or_else(|| Error::NotFound { kind: "instance", name: name.into() })?;
            let previous = i.host_key_fingerprint.replace(fp.to_string());
            i.updated_at = self.now();
            store::update_instance(tx, &i)?;
            self.audit(tx, "host.trust", &i.name, json!({ "fingerprint": fp, "previous": previous }))?;
            Ok(i)
        })
    }

    /// Removes an instance and every key bound to it, keychain entries included.
    pub fn remove_instance(&self, name: &str) -> Result<InstanceRemoved> {
        let inst = self.instance(name)?;
        let keys = self.store.list_keys(Some(name))?;
        // Database first (in one transaction); the secrets go after, so a keychain failure can
        // only leave an orphaned secret (reported by self-check), never a row without its secret.
        self.store.tx(|tx| {
            let behind = store::instances_jumping_via(tx, name)?;
            if !behind.is_empty() {
                return Err(Error::Blocked {
                    code: "conflict",
                    message: format!("instance '{name}' is the jump host of {}: point them elsewhere first", behind.join(", ")),
                    remedy: Remedy::EditInstance { instance: behind[0].clone(), fields: vec!["jump_via".into()] },
                });
            }
            for k in &keys {
                store::delete_key(tx, k.id)?;
                self.audit(tx, "key.remove", &k.name, json!({ "hint": k.hint, "fingerprint": k.fingerprint, "reason": "instance removed" }))?;
            }
            store::delete_instance(tx, inst.id)?;
            self.audit(tx, "instance.remove", &inst.name, json!({ "removed_keys": keys.iter().map(|k| &k.name).collect::<Vec<_>>() }))?;
            Ok(())
        })?;
        let mut failures = Vec::new();
        for k in &keys {
            if let Err(e) = self.keychain.delete(&k.keychain_ref) {
                failures.push(format!("{}: {e}", k.name));
            }
        }
        if !failures.is_empty() {
            return Err(Error::InvalidState(format!(
                "instance '{}' was removed, but these keychain entries could not be deleted (remove them by hand, service '{}'): {}",
                inst.name,
                self.keychain.service(),
                failures.join("; ")
            )));
        }
        Ok(InstanceRemoved { instance: inst.name, removed_keys: keys.into_iter().map(|k| k.name).collect() })
    }

    /// Draft instances from `Host` entries of an ssh config; aliases already in the inventory
    /// (or not slug-safe after slugifying) are skipped. Nothing is written when `dry_run`.
    pub fn import_ssh_config(&self, text: &str, dry_run: bool) -> Result<Vec<Instance>> {
        let mut added = Vec::new();
        for entry in crate::sshconfig::parse(text) {
            let name = naming::slugify(&entry.alias);
            if self.store.instance_by_name(&name)?.is_some() {
                continue;
            }
            let spec = InstanceSpec {
                name,
                ssh_host: entry.host_name.clone().unwrap_or_else(|| entry.alias.clone()),
                ssh_port: entry.port,
                ssh_user: entry.user.clone().unwrap_or_else(os_user),
                notes: format!("imported from ssh config Host {}", entry.alias),
                draft: true,
                ..Default::default()
            };
            if dry_run {
                let now = self.now();
                added.push(Instance {
                    id: 0,
                    name: spec.name,
                    owner: String::new(),
                    environment: String::new(),
                    workload: String::new(),
                    purpose: Purpose::Client,
                    ssh_host: spec.ssh_host,
                    ssh_port: spec.ssh_port.unwrap_or(22),
                    ssh_user: spec.ssh_user,
                    jump_via: None,
                    host_key_fingerprint: None,
                    state_dir: "~/.openclaw".into(),
                    service_manager: ServiceManager::default(),
                    injection: InjectionMethod::EnvFile,
                    agents: vec!["main".into()],
                    expected_org_id: None,
                    expected_workspace_id: None,
                    tags: vec![],
                    notes: spec.notes,
                    draft: true,
                    created_at: now,
                    updated_at: now,
                });
            } else {
                match self.add_instance(spec) {
                    Ok(i) => added.push(i),
                    Err(Error::InvalidInput { .. }) => continue, // an entry we cannot represent: skip it
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(added)
    }

    // ---- keys ---------------------------------------------------------------------------

    /// The format rules, as data, for live validation in the UI.
    pub fn key_rules(&self) -> keyfmt::KeyRules {
        keyfmt::rules()
    }

    /// The suggested key name for an instance.
    pub fn suggest_key_name(&self, instance: &str) -> Result<String> {
        let i = self.instance(instance)?;
        Ok(naming::suggest_key_name(&i.owner, &i.environment, &i.workload))
    }

    /// Stores a key: lint, naming scheme, uniqueness, keychain write, then the row and its audit
    /// event in one transaction. If the row cannot be written the keychain entry is removed.
    pub fn add_key(&self, spec: KeySpec, value: Secret) -> Result<KeyAdded> {
        let linted = keyfmt::lint_with(value, keyfmt::LintOptions { format_changed: spec.format_changed })?;
        let name = spec.name.trim().to_string();
        let instance = match spec.instance.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(n) => Some(self.instance(n)?),
            None => None,
        };
        if linted.kind == KeyKind::Admin && instance.is_some() {
            return Err(Error::invalid(
                "key",
                "this is an Admin API key (sk-ant-admin01-): it is for usage, cost and key management, and is never deployed to an instance. Add it without --instance",
            ));
        }
        if let Some(i) = &instance {
            if i.draft {
                return Err(Error::draft(&i.name));
            }
        }
        check_workspace_id("workspace id", &spec.workspace_id)?;
        let anthropic_key_id = non_empty(spec.anthropic_key_id);
        check_key_id(&anthropic_key_id)?;
        let ctx = match &instance {
            Some(i) => NameContext { owner: Some(&i.owner), environment: Some(&i.environment), workload: Some(&i.workload) },
            None => NameContext::default(),
        };
        let name_override = match naming::check_key_name(&name, &ctx) {
            Ok(()) => false,
            Err(Error::KeyName { .. }) if spec.allow_name => {
                naming::check_slug("key name", &name)?;
                true
            }
            Err(e) => return Err(e),
        };
        // Cheap refusals before touching the keychain.
        if self.store.key_by_name(&name)?.is_some() {
            return Err(Error::Conflict(format!("a key named '{name}' already exists")));
        }
        if let Some(existing) = self.store.key_by_fingerprint(&linted.fingerprint)? {
            return Err(Error::Conflict(match &existing.instance {
                Some(i) => {
                    format!("this key is already stored as '{}', serving instance '{i}'; a key serves one instance only: create a separate key in the Console", existing.name)
                }
                None => format!("this key is already stored as '{}'", existing.name),
            }));
        }
        // The Admin API id must be this key's (issue 12): checked before anything is stored.
        let mut id_warning = None;
        if let (Some(id), KeyKind::Api) = (&anthropic_key_id, linted.kind) {
            let ws = spec.workspace_id.as_deref().map(str::trim).filter(|w| !w.is_empty());
            id_warning = self.check_key_id_at_add(id, &name, &linted.hint, &linted.secret, ws)?;
        }
        let now = self.now();
        let mut key = Key {
            id: 0,
            name,
            kind: linted.kind,
            hint: linted.hint.clone(),
            fingerprint: linted.fingerprint.clone(),
            length: linted.length as u32,
            keychain_ref: new_keychain_ref(),
            instance: instance.as_ref().map(|i| i.name.clone()),
            workspace_id: non_empty(spec.workspace_id),
            anthropic_key_id,
            status: KeyStatus::Staged,
            name_override,
            created_at: now,
            expires_at: spec.expires_at,
            rotated_at: None,
            retired_at: None,
            updated_at: now,
        };
        self.keychain.set(&key.keychain_ref, &linted.secret)?;
        drop(linted.secret);
        let written = self.store.tx(|tx| {
            if let Some(i) = &instance {
                if store::active_key_of(tx, i.id)?.is_none() {
                    key.status = KeyStatus::Active;
                }
            } else if key.kind == KeyKind::Admin {
                key.status = KeyStatus::Active;
            }
            key.id = store::insert_key(tx, &key, instance.as_ref().map(|i| i.id))?;
            self.audit(
                tx,
                "key.add",
                &key.name,
                json!({
                    "kind": key.kind.as_str(), "hint": key.hint, "fingerprint": key.fingerprint, "length": key.length,
                    "instance": key.instance, "status": key.status.as_str(), "name_override": name_override,
                    "warnings": linted.warnings,
                    "format_changed": spec.format_changed,
                }),
            )?;
            Ok(())
        });
        if let Err(e) = written {
            // Keep the keychain in step with the store: no secret without its row.
            let _ = self.keychain.delete(&key.keychain_ref);
            return Err(if e.is_unique_violation() { Error::Duplicate { what: format!("a key named '{}' or with the same value", key.name) } } else { e });
        }
        let mut warnings = linted.warnings;
        warnings.extend(id_warning);
        Ok(KeyAdded { key, warnings })
    }

    pub fn key(&self, name: &str) -> Result<Key> {
        self.store.key_by_name(name)?.ok_or_else(|| Error::NotFound { kind: "key", name: name.into() })
    }

    pub fn list_keys(&self, instance: Option<&str>) -> Result<Vec<Key>> {
        if let Some(i) = instance {
            self.instance(i)?;
        }
        self.store.list_keys(instance)
    }

    /// The secret of a key, from the keychain (for deploys and probes; never for display).
    pub fn key_secret(&self, name: &str) -> Result<Secret> {
        let k = self.key(name)?;
        Ok(self.keychain.get(&k.keychain_ref)?)
    }

    /// Binds an unbound key to an instance. A key that serves another instance is refused.
    /// It becomes the active key if the instance has none, else it is staged.
    pub fn bind_key(&self, key_name: &str, instance_name: &str) -> Result<Key> {
        self.store.tx(|tx| {
            let mut key = store::key_by_name(tx, key_name)?.ok_or_else(|| Error::NotFound { kind: "key", name: key_name.into() })?;
            let inst = store::instance_by_name(tx, instance_name)?.ok_or_else(|| Error::NotFound { kind: "instance", name: instance_name.into() })?;
            match key.instance.as_deref() {
                Some(current) if current == inst.name => return Ok(key),
                Some(current) => return Err(Error::KeyBoundElsewhere { key: key.name.clone(), instance: current.to_string() }),
                None => {}
            }
            if key.kind == KeyKind::Admin {
                return Err(Error::InvalidState(format!("'{}' is an Admin API key; admin keys are never bound to an instance", key.name)));
            }
            if matches!(key.status, KeyStatus::Retired | KeyStatus::Revoked) {
                return Err(Error::InvalidState(format!("key '{}' is {}; a retired or revoked key cannot serve an instance", key.name, key.status.as_str())));
            }
            if inst.draft {
                return Err(Error::draft(&inst.name));
            }
            key.status = if store::active_key_of(tx, inst.id)?.is_none() { KeyStatus::Active } else { KeyStatus::Staged };
            key.instance = Some(inst.name.clone());
            key.updated_at = self.now();
            store::update_key(tx, &key, Some(inst.id))?;
            self.audit(tx, "key.bind", &key.name, json!({ "instance": inst.name, "status": key.status.as_str(), "fingerprint": key.fingerprint }))?;
            Ok(key)
        })
    }

    /// Marks a key retired (replaced). Its secret stays in the keychain until removed, so a
    /// rotation can still roll back to it.
    pub fn retire_key(&self, name: &str) -> Result<Key> {
        self.store.tx(|tx| {
            let mut key = store::key_by_name(tx, name)?.ok_or_else(|| Error::NotFound { kind: "key", name: name.into() })?;
            if key.status == KeyStatus::Retired {
                return Ok(key);
            }
            let was = key.status;
            key.status = KeyStatus::Retired;
            key.retired_at = Some(self.now());
            key.updated_at = self.now();
            let instance_id = match &key.instance {
                Some(n) => store::instance_by_name(tx, n)?.map(|i| i.id),
                None => None,
            };
            store::update_key(tx, &key, instance_id)?;
            self.audit(tx, "key.retire", &key.name, json!({ "previous_status": was.as_str(), "instance": key.instance, "fingerprint": key.fingerprint }))?;
            Ok(key)
        })
    }

    /// Removes a key's row and its keychain entry. An active key needs `force`.
    pub fn remove_key(&self, name: &str, force: bool) -> Result<Key> {
        let key = self.key(name)?;
        if key.status == KeyStatus::Active && key.instance.is_some() && !force {
            return Err(Error::Blocked {
                code: "key_active",
                message: format!("'{}' is the active key of instance '{}'; retire it first, or force the removal", key.name, key.instance.as_deref().unwrap_or_default()),
                remedy: Remedy::RetireKey { key: key.name.clone() },
            });
        }
        self.store.tx(|tx| {
            store::delete_key(tx, key.id)?;
            self.audit(tx, "key.remove", &key.name, json!({ "hint": key.hint, "fingerprint": key.fingerprint, "instance": key.instance, "forced": force }))
        })?;
        self.keychain.delete(&key.keychain_ref).map_err(|e| {
            Error::InvalidState(format!(
                "key '{}' was removed from the inventory, but its keychain entry '{}' (service '{}') could not be deleted: {e}",
                key.name,
                key.keychain_ref,
                self.keychain.service()
            ))
        })?;
        Ok(key)
    }

    // ---- audit, settings, self-check -------------------------------------------------------

    pub fn audit_log(&self, since: Option<DateTime<Utc>>, subject: Option<&str>, limit: u32) -> Result<Vec<AuditEvent>> {
        self.store.audit(since, subject, limit)
    }

    /// The settings. The base URL, from `CLAWKEEP_ANTHROPIC_BASE_URL`, the stored setting or the
    /// default, passes [`crate::anthropic::check_base_url`] here, so every user of it (checks,
    /// rotation, the probe from the hosts) gets a checked URL; a refused one is an
    /// `api_bad_base_url` error naming where it came from, never used.
    pub fn settings(&self) -> Result<Settings> {
        let stored = self.store.setting("anthropic_base_url")?;
        let (raw, source) = match std::env::var(BASE_URL_ENV).ok().filter(|s| !s.trim().is_empty()) {
            Some(v) => (v, "env"),
            None => match stored {
                Some(v) => (v, "settings"),
                None => (DEFAULT_BASE_URL.to_string(), "default"),
            },
        };
        let anthropic_base_url = crate::anthropic::check_base_url(&raw).map_err(|e| Error::BadBaseUrl {
            origin: if source == "env" { BASE_URL_ENV.to_string() } else { "the stored setting (set it again: settings set-base-url)".to_string() },
            source: e,
        })?;
        Ok(Settings { anthropic_base_url, anthropic_base_url_source: source.into(), ssh_identity: self.ssh_identity()? })
    }

    fn ssh_identity(&self) -> Result<SshIdentity> {
        Ok(match self.store.setting("ssh_identity")? {
            Some(v) => serde_json::from_str(&v).unwrap_or(SshIdentity::Agent),
            None => SshIdentity::Agent,
        })
    }

    pub fn set_anthropic_base_url(&self, url: &str) -> Result<Settings> {
        // A refused new value keeps the code this call always had (`invalid_input`).
        let url = crate::anthropic::check_base_url(url).map_err(|e| Error::invalid("base url", e.to_string()))?;
        self.store.tx(|tx| {
            store::set_setting(tx, "anthropic_base_url", &url)?;
            self.audit(tx, "settings.set", "anthropic_base_url", json!({ "value": url }))
        })?;
        self.settings()
    }

    pub fn set_ssh_identity(&self, identity: SshIdentity) -> Result<Settings> {
        if let SshIdentity::KeyFile { path } = &identity {
            check_text("key file", path, 1024)?;
            if path.trim().is_empty() {
                return Err(Error::invalid("key file", "must not be empty"));
            }
        }
        let value = serde_json::to_string(&identity).unwrap_or_default();
        self.store.tx(|tx| {
            store::set_setting(tx, "ssh_identity", &value)?;
            self.audit(tx, "settings.set", "ssh_identity", serde_json::to_value(&identity).unwrap_or_default())
        })?;
        self.settings()
    }

    /// Store and keychain reachable? Every key's secret present? Never fails: it reports.
    pub fn self_check(&self) -> Result<SelfCheck> {
        let (instances, keys) = self.store.counts()?;
        let (keychain_ok, keychain_message, missing_secrets) = match self.keychain.probe() {
            Ok(()) => {
                let mut missing = Vec::new();
                let mut message = format!("reachable (service '{}')", self.keychain.service());
                for k in self.store.list_keys(None)? {
                    match self.keychain.get(&k.keychain_ref) {
                        Ok(_) => {}
                        Err(crate::secrets::KeychainError::Missing { .. }) => missing.push(k.name),
                        Err(e) => {
                            message = e.to_string();
                            break;
                        }
                    }
                }
                (missing.is_empty() && message.starts_with("reachable"), message, missing)
            }
            Err(e) => (false, e.to_string(), Vec::new()),
        };
        Ok(SelfCheck {
            data_dir: self.data_dir.display().to_string(),
            database: self.store.path().display().to_string(),
            schema_version: self.store.schema_version()?,
            instances,
            keys,
            keychain_ok,
            keychain_message,
            missing_secrets,
        })
    }
}

// ---- troubleshooting checklist (issue 6) ---------------------------------------------------

impl Clawkeep {
    /// What the checklist needs about an instance: its facts, every key's public facts, the
    /// keychain copy of its active key, an active admin key if stored, and its recent runs.
    pub fn check_context(&self, instance: &str) -> Result<crate::checklist::CheckContext> {
        let instance = self.instance(instance)?;
        let keys = self.store.list_keys(None)?;
        let active = keys.iter().find(|k| k.instance.as_deref() == Some(&instance.name) && k.status == KeyStatus::Active);
        let active_secret = match active {
            Some(k) => match self.keychain.get(&k.keychain_ref) {
                Ok(s) => Some(s),
                Err(crate::secrets::KeychainError::Missing { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let admin_secret = keys.iter().filter(|k| k.kind == KeyKind::Admin && k.status == KeyStatus::Active).find_map(|k| self.keychain.get(&k.keychain_ref).ok());
        let history = self.store.check_runs(&instance.name, 20)?;
        Ok(crate::checklist::CheckContext { instance, keys, active_secret, admin_secret, history, now: self.now() })
    }

    /// Stores a run in the history (and audits it, without secrets).
    pub fn record_check(&self, report: &crate::checklist::InstanceReport) -> Result<i64> {
        self.store.tx(|tx| {
            let inst = store::instance_by_name(tx, &report.instance)?.ok_or_else(|| Error::NotFound { kind: "instance", name: report.instance.clone() })?;
            let id = store::insert_check_run(tx, inst.id, report)?;
            self.audit(
                tx,
                "check.run",
                &report.instance,
                json!({
                    "run": id, "status": report.status.as_str(),
                    "first_failing_domain": report.first_failing_domain.map(|d| d.as_str()),
                    "total_ms": report.timings.total_ms,
                }),
            )?;
            Ok(id)
        })
    }

    /// Recent checklist runs of an instance, newest first.
    pub fn check_history(&self, instance: &str, limit: u32) -> Result<Vec<crate::checklist::CheckRun>> {
        self.instance(instance)?;
        self.store.check_runs(instance, limit)
    }
}

// ---- deploys (issue 5): the blocking halves; the SSH work is in `crate::deploy` ------------

impl Clawkeep {
    /// The SSH identity from the settings, ready for [`crate::ssh::HostSession::connect`]
    /// (front ends pass [`crate::SshCredentials`] to a flow, which resolves it through here).
    /// Without `passphrase`, a key file unlocked with [`Clawkeep::unlock_ssh_key`] uses the
    /// remembered one.
    pub(crate) fn ssh_auth(&self, passphrase: Option<Secret>) -> Result<crate::ssh::SshAuth> {
        Ok(match self.ssh_key_file()? {
            None => crate::ssh::SshAuth::Agent,
            Some(path) => {
                let passphrase = passphrase.or_else(|| {
                    let unlocked = self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner());
                    unlocked.as_ref().filter(|(p, _)| *p == path).map(|(_, s)| s.duplicate())
                });
                crate::ssh::SshAuth::KeyFile { path, passphrase }
            }
        })
    }

    /// The configured SSH key file (`~` expanded); `None` for the agent.
    fn ssh_key_file(&self) -> Result<Option<PathBuf>> {
        Ok(match self.ssh_identity()? {
            SshIdentity::Agent => None,
            SshIdentity::KeyFile { path } => {
                Some(if let Some(rest) = path.strip_prefix("~/") { dirs::home_dir().map(|h| h.join(rest)).unwrap_or_else(|| PathBuf::from(&path)) } else { PathBuf::from(&path) })
            }
        })
    }

    /// Checks `passphrase` against the configured encrypted SSH key file and remembers it for
    /// this process (memory only; a front end's "unlock" for the session). Returns whether the
    /// file needed one. A wrong passphrase is `invalid_input` and forgets nothing else.
    pub fn unlock_ssh_key(&self, passphrase: Secret) -> Result<bool> {
        let Some(path) = self.ssh_key_file()? else {
            return Err(Error::InvalidState("Clawkeep uses the ssh-agent, not a key file: there is nothing to unlock".into()));
        };
        if !crate::ssh::key_file_is_encrypted(&path)? {
            return Ok(false);
        }
        if !crate::ssh::key_file_opens_with(&path, &passphrase) {
            return Err(Error::invalid("passphrase", format!("it does not open {}", path.display())));
        }
        self.store.tx(|tx| self.audit(tx, "ssh.unlock", &path.display().to_string(), json!({ "scope": "this process" })))?;
        *self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner()) = Some((path, passphrase));
        Ok(true)
    }

    /// Forgets an unlocked SSH key passphrase.
    pub fn lock_ssh_key(&self) {
        if let Some((path, _)) = self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = self.store.tx(|tx| self.audit(tx, "ssh.lock", &path.display().to_string(), json!({})));
        }
    }

    /// Whether the configured key file is unlocked for this process (`None`: agent, or not
    /// encrypted, or unreadable).
    pub fn ssh_key_unlocked(&self) -> Result<Option<bool>> {
        let Some(path) = self.ssh_key_file()? else { return Ok(None) };
        if !crate::ssh::key_file_is_encrypted(&path).unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|(p, _)| *p == path)))
    }

    /// Where to reach an instance, with its pinned host key, through its stored jump host (if
    /// any; that one's key is pinned too).
    pub fn ssh_target(&self, name: &str) -> Result<crate::ssh::SshTarget> {
        let i = self.instance(name)?;
        let mut t = direct_target(&i)?;
        if let Some(j) = &i.jump_via {
            t.jump = Some(Box::new(self.jump_target(j)?));
        }
        Ok(t)
    }

    /// [`Clawkeep::ssh_target`] without the stored jump host.
    pub fn ssh_target_direct(&self, name: &str) -> Result<crate::ssh::SshTarget> {
        direct_target(&self.instance(name)?)
    }

    /// A stored jump host: only once its own host key is pinned.
    fn jump_target(&self, name: &str) -> Result<crate::ssh::SshTarget> {
        let t = self.ssh_target_direct(name)?;
        if t.pinned.is_none() {
            return Err(Error::HostKeyUnknown { instance: name.to_string(), presented: None });
        }
        Ok(t)
    }

    /// Pins the host key the host `presented` (from [`crate::ssh::probe_host_key`]). With
    /// `expected` (a fingerprint the user got out of band) a different presented key is refused.
    pub fn trust_host(&self, name: &str, presented: &str, expected: Option<&str>) -> Result<Instance> {
        if let Some(want) = expected.map(str::trim) {
            if want != presented {
                return Err(Error::HostKeyMismatch {
                    instance: name.to_string(),
                    address: self.ssh_target(name).map(|t| format!("{}:{}", t.host, t.port)).unwrap_or_default(),
                    pinned: want.to_string(),
                    presented: presented.to_string(),
                });
            }
        }
        self.pin_host_key(name, presented)
    }

    /// Loads what a deploy of `key` (default: the active key) to `instance` needs, secret
    /// included (from the keychain). Refuses drafts, admin keys, keys of other instances, and
    /// retired/revoked keys.
    pub fn prepare_deploy(&self, instance: &str, key: Option<&str>) -> Result<crate::deploy::DeployJob> {
        let inst = self.instance(instance)?;
        if inst.draft {
            return Err(Error::draft(&inst.name));
        }
        direct_target(&inst)?; // it has an address
        let keys = self.store.list_keys(Some(&inst.name))?;
        let active = keys.iter().find(|k| k.status == KeyStatus::Active).cloned();
        let chosen = match key {
            Some(k) => {
                let k = self.key(k)?;
                if k.instance.as_deref() != Some(inst.name.as_str()) {
                    return Err(Error::Blocked {
                        code: "key_not_bound",
                        message: format!(
                            "key '{}' does not serve instance '{}'{}; bind it to the instance first",
                            k.name,
                            inst.name,
                            k.instance.as_ref().map(|i| format!(" (it serves '{i}')")).unwrap_or_default()
                        ),
                        remedy: Remedy::BindKey { key: k.name.clone(), instance: inst.name.clone() },
                    });
                }
                k
            }
            None => active.clone().ok_or_else(|| Error::no_active_key(&inst.name))?,
        };
        if matches!(chosen.status, KeyStatus::Retired | KeyStatus::Revoked) {
            return Err(Error::InvalidState(format!("key '{}' is {}; deploying it would put a dead key on the host", chosen.name, chosen.status.as_str())));
        }
        if chosen.kind == KeyKind::Admin {
            return Err(Error::InvalidState(format!("'{}' is an Admin API key; admin keys are never deployed", chosen.name)));
        }
        let secret = self.keychain.get(&chosen.keychain_ref)?;
        if keyfmt::fingerprint(secret.expose()) != chosen.fingerprint {
            return Err(Error::InvalidState(format!("the keychain entry of key '{}' does not match its recorded fingerprint; re-add the key", chosen.name)));
        }
        // The stored jump host (a one-off `--jump` replaces it).
        let jump = inst.jump_via.as_deref().map(|j| self.jump_target(j)).transpose()?;
        let previous_active = active.filter(|a| a.id != chosen.id);
        let previous_secret = match &previous_active {
            Some(p) => self.keychain.get(&p.keychain_ref).ok(),
            None => None,
        };
        Ok(crate::deploy::DeployJob { instance: inst, key: chosen, secret, previous_active, previous_secret, jump, expected_plan: None })
    }

    /// Records a finished run (deployments table + audit, one transaction). When a staged key
    /// was deployed and verified it becomes active and the previous active key is retired
    /// (`rotated_at`/`retired_at` set) in the same transaction. Dry runs are not recorded.
    pub fn record_deployment(&self, job: &crate::deploy::DeployJob, report: &crate::deploy::DeployReport) -> Result<Option<Deployment>> {
        use crate::deploy::Outcome;
        if report.outcome == Outcome::Planned {
            return Ok(None);
        }
        let now = self.now();
        let details = json!({
            "address": report.address,
            "steps": report.steps,
            "stale_removed": report.stale_removed,
            "host_key": report.plan.as_ref().map(|p| p.host_key.clone()),
            "gateway_port": report.plan.as_ref().map(|p| p.gateway_port),
            "key_hint": report.key_hint,
        });
        let mut d = Deployment {
            id: 0,
            instance: job.instance.name.clone(),
            key_name: job.key.name.clone(),
            key_fingerprint: job.key.fingerprint.clone(),
            method: job.instance.injection.as_str().to_string(),
            os_user: self.os_user.clone(),
            started_at: report.started_at,
            duration_ms: report.duration_ms as i64,
            outcome: report.outcome.as_str().to_string(),
            error: report.error.as_ref().map(|e| json!({ "code": e.code, "message": e.message })),
            rollback: report.rollback.clone(),
            details,
        };
        self.store.tx(|tx| {
            let inst = store::instance_by_name(tx, &job.instance.name)?;
            d.id = store::insert_deployment(tx, &d, inst.as_ref().map(|i| i.id))?;
            let mut promoted = None;
            if report.outcome == Outcome::Succeeded {
                if let Some(i) = &inst {
                    let mut key = store::key_by_name(tx, &job.key.name)?.ok_or_else(|| Error::NotFound { kind: "key", name: job.key.name.clone() })?;
                    if key.status == KeyStatus::Staged {
                        let mut retired = None;
                        if let Some(mut prev) = store::active_key_of(tx, i.id)? {
                            prev.status = KeyStatus::Retired;
                            prev.rotated_at = Some(now);
                            prev.retired_at = Some(now);
                            prev.updated_at = now;
                            store::update_key(tx, &prev, Some(i.id))?;
                            self.audit(tx, "key.retire", &prev.name, json!({ "previous_status": "active", "instance": i.name, "fingerprint": prev.fingerprint, "reason": "replaced by a verified deploy", "replaced_by": key.name }))?;
                            retired = Some(prev.name);
                        }
                        key.status = KeyStatus::Active;
                        key.updated_at = now;
                        store::update_key(tx, &key, Some(i.id))?;
                        self.audit(tx, "key.activate", &key.name, json!({ "instance": i.name, "fingerprint": key.fingerprint, "replaces": retired }))?;
                        promoted = Some(key.name.clone());
                    }
                }
            }
            self.audit(tx, "deploy.run", &job.instance.name, json!({
                "deployment": d.id, "key": d.key_name, "fingerprint": d.key_fingerprint, "method": d.method,
                "outcome": d.outcome, "duration_ms": d.duration_ms, "error": d.error, "rollback": d.rollback,
                "stale_removed": report.stale_removed, "activated": promoted,
            }))?;
            Ok(())
        })?;
        Ok(Some(d))
    }

    /// Deployments, newest first (`clawkeep deploy history`).
    pub fn deployments(&self, instance: Option<&str>, limit: u32) -> Result<Vec<Deployment>> {
        self.store.deployments(instance, limit)
    }
}

// ---- offline bundles ------------------------------------------------------------------------

impl Clawkeep {
    /// Builds and encrypts an offline bundle for `instance` (key: `key` or the active one), and
    /// audits the export (who, which key by fingerprint, how it was encrypted). The caller writes
    /// the bytes to a 0600 file.
    /// The installer is signed with this Clawkeep's bundle signing key (made and stored in the
    /// keychain at the first export; its id is audited), so `bundle inspect` can tell it from a
    /// forgery.
    pub fn export_bundle(&self, instance: &str, key: Option<&str>, enc: &crate::bundle::BundleEncryption) -> Result<(Vec<u8>, crate::bundle::BundleManifest)> {
        let job = self.prepare_deploy(instance, key)?;
        let signer = match self.bundle_signer()? {
            Some(s) => s,
            None => {
                let s = crate::bundle::BundleSigner::generate();
                self.keychain.set(crate::bundle::SIGNING_KEY_ACCOUNT, &s.to_secret())?;
                s
            }
        };
        let (installer, manifest) = crate::bundle::build_installer(&job, &self.os_user, self.now())?;
        let data = crate::bundle::encrypt(&signer.sign(&installer), enc)?;
        self.store.tx(|tx| {
            self.audit(tx, "bundle.export", &job.instance.name, json!({
                "key": job.key.name, "fingerprint": job.key.fingerprint, "method": job.instance.injection.as_str(),
                "encryption": match enc { crate::bundle::BundleEncryption::Passphrase(_) => "passphrase".to_string(), crate::bundle::BundleEncryption::Recipient(r) => format!("recipient {}", r.trim()) },
                "signing_key_id": signer.key_id(),
            }))
        })?;
        Ok((data, manifest))
    }

    /// Decrypts a bundle and says what it claims (never the key) and whether this Clawkeep made
    /// it (its signature checked against the signing key in the keychain).
    pub fn inspect_bundle(&self, data: &[u8], passphrase: Option<&Secret>, identity: Option<&str>) -> Result<crate::bundle::BundleInspection> {
        let installer = crate::bundle::decrypt(data, passphrase, identity)?;
        crate::bundle::verify(&installer, self.bundle_signer()?.as_ref())
    }

    /// This Clawkeep's bundle signing key; `None` before the first export.
    fn bundle_signer(&self) -> Result<Option<crate::bundle::BundleSigner>> {
        match self.keychain.get(crate::bundle::SIGNING_KEY_ACCOUNT) {
            Ok(s) => Ok(Some(crate::bundle::BundleSigner::from_secret(&s)?)),
            Err(crate::secrets::KeychainError::Missing { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
