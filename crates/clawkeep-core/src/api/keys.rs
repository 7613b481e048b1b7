//! Keys: add (lint, naming scheme, uniqueness, keychain then row), bind, retire, remove, look
//! up and list them, the suggested name and the format rules for the UI. Keychain and store stay
//! in step: no secret without its row, no row removed silently from under its secret.

use serde_json::json;

use super::non_empty;
use crate::error::{Error, Remedy, Result};
use crate::model::domain::*;
use crate::model::keyfmt::{self, KeyKind};
use crate::model::naming::{self, NameContext};
use crate::model::validate::{check_key_id, check_workspace_id};
use crate::secret::Secret;
use crate::store;
use crate::Clawkeep;

/// How a key being added was adopted from a host (onboarding).
pub(super) struct Adoption {
    /// The `key.adopt` audit details (who, from where, which source; never the value).
    pub details: serde_json::Value,
    /// `spec.anthropic_key_id` was found in the Admin API's own list by this key's
    /// `partial_key_hint`: the id check of [`Clawkeep::add_key`] (the same comparison) is done.
    pub id_from_admin_list: bool,
}

/// `kc-` and 16 random hex digits: the keychain account of a key (independent of its name,
/// so a rename never orphans a secret).
pub(crate) fn new_keychain_ref() -> String {
    let bytes: [u8; 8] = rand::random();
    format!("kc-{}", hex::encode(bytes))
}

impl Clawkeep {
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
        self.add_key_with(spec, value, None)
    }

    /// [`Clawkeep::add_key`], with a `key.adopt` audit event (who adopted it from where; no
    /// secret) written in the same transaction as the row when `adopted` is given: onboarding's
    /// adoption of a key found on a host goes through the same path as a pasted key.
    pub(super) fn add_key_with(&self, spec: KeySpec, value: Secret, adopted: Option<Adoption>) -> Result<KeyAdded> {
        self.add_key_stored(spec, value, adopted, None)
    }

    /// [`Clawkeep::add_key_with`]; `team_ref`: the value already lives in the team store (a
    /// `team:` account the keychain layer of `api/team.rs` decrypts on use), so only the row is
    /// written, nothing to the keychain.
    pub(super) fn add_key_stored(&self, spec: KeySpec, value: Secret, adopted: Option<Adoption>, team_ref: Option<String>) -> Result<KeyAdded> {
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
        let id_matched = adopted.as_ref().is_some_and(|a| a.id_from_admin_list);
        if let (Some(id), KeyKind::Api, false) = (&anthropic_key_id, linted.kind, id_matched) {
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
            keychain_ref: team_ref.clone().unwrap_or_else(new_keychain_ref),
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
        if team_ref.is_none() {
            self.keychain.set(&key.keychain_ref, &linted.secret)?;
        }
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
            if let Some(mut details) = adopted.as_ref().map(|a| a.details.clone()) {
                if let Some(o) = details.as_object_mut() {
                    o.insert("fingerprint".into(), json!(key.fingerprint));
                    o.insert("hint".into(), json!(key.hint));
                    o.insert("length".into(), json!(key.length));
                    o.insert("instance".into(), json!(key.instance));
                }
                self.audit(tx, "key.adopt", &key.name, details)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            // Keep the keychain in step with the store: no secret without its row.
            if team_ref.is_none() {
                let _ = self.keychain.delete(&key.keychain_ref);
            }
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
}
