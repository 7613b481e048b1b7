//! Instances: add, edit, remove, look up and list them, and draft them from an ssh config. The
//! field rules are `model::validate`'s; the stored jump host is checked here, against the store.

use serde_json::json;

use super::{non_empty, os_user};
use crate::error::{Error, Remedy, Result};
use crate::model::domain::*;
use crate::model::naming;
use crate::model::validate::validate_instance;
use crate::store;
use crate::Clawkeep;

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

    /// The desktop Fleet's rows: [`Clawkeep::list_instances`] cut to what the Fleet table shows,
    /// sorts, filters and searches (flat [`FleetRow`]s; the webview gets them in columns,
    /// [`Clawkeep::fleet_columns`]).
    pub fn fleet_rows(&self, filter: &InstanceFilter) -> Result<Vec<FleetRow>> {
        self.store.fleet_rows(filter, self.now())
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
}
