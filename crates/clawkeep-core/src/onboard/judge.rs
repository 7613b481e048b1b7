//! The judgement of onboarding, pure (no I/O, no async): from what discovery found on a host
//! ([`Discovery`]), the inventory and the person's defaults, the proposed instance record, its
//! differences from the stored one, and a decision for every key found ([`judge`]); then,
//! across the batch, which keys are shared between hosts ([`settle`]).
//!
//! Which key the gateway uses is the checklist's rule ([`crate::checklist::evaluate::credential`]:
//! OpenClaw's precedence per agent); the first agent's key is the instance's effective key and
//! the only one adopted. A key is adopted once: already in the inventory (same fingerprint) it
//! is `already_known`; on several hosts of the batch it is adopted on the first and `shared` on
//! the others (a boundary violation: one key serves one instance); a key whose shape cannot be
//! valid (cut off, not an Anthropic key, an Admin key) is `malformed` and never read.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::discover::{read_source, service_manager_of, Discovery};
use super::intake::OnboardHost;
use crate::checklist::evaluate::credential;
use crate::checklist::facts::{config_of, CheckOptions, Facts, Gathered};
use crate::checklist::hostfacts::{KeySighting, KeySource};
use crate::model::domain::{InjectionMethod, Instance, Key, Purpose, ServiceManager};
#[cfg(test)]
use crate::model::keyfmt;
use crate::model::keyfmt::KeyKind;
use crate::model::naming;

/// What the person gives for the whole batch (each empty field: keep the stored value, else
/// the suggestion from the host name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct OnboardDefaults {
    pub owner: Option<String>,
    pub environment: Option<String>,
    pub workload: Option<String>,
    /// OpenClaw's state directory to look in (default: the stored one, else `~/.openclaw`).
    pub state_dir: Option<String>,
}

/// The instance record onboarding proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProposedRecord {
    pub name: String,
    pub owner: String,
    pub environment: String,
    pub workload: String,
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub state_dir: String,
    pub service_manager: ServiceManager,
    pub injection: InjectionMethod,
    pub agents: Vec<String>,
}

/// One field that differs from the stored record (`from` is empty for a new instance).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FieldChange {
    pub field: String,
    pub from: String,
    pub to: String,
}

/// What was found on the host, for the review.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Discovered {
    /// `openclaw --version`, when OpenClaw was found.
    pub openclaw_version: Option<String>,
    /// The state directory as the host resolved it.
    pub state_dir: String,
    pub state_dir_exists: bool,
    /// `<state dir>/openclaw.json`, when present.
    pub config_path: Option<String>,
    /// Agents with a directory on the host.
    pub agents: Vec<String>,
    /// How the gateway restarts (`None`: nothing on the host says).
    pub service_manager: Option<ServiceManager>,
    /// The injection method of the effective key (`None`: no key, or a method Clawkeep does
    /// not manage, see `notes`).
    pub injection: Option<InjectionMethod>,
    /// A gateway process is running.
    pub gateway_running: bool,
    /// Every place a credential sits (`source: hint, length`).
    pub credentials: Vec<String>,
}

/// The decision about one key found on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyDecision {
    /// The effective key, not in the inventory: adopt it (with consent).
    Adopt,
    /// The inventory already has this key (same fingerprint).
    AlreadyKnown { key: String, instance: Option<String> },
    /// The same key is on several hosts: adopted once (on `adopted_on`), reported on the others.
    Shared { adopted_on: String, hosts: Vec<String> },
    /// Its shape cannot be a valid key: reported, never read or adopted.
    Malformed { reason: String },
    /// Found, but not what the gateway uses (a stale copy): reported only.
    NotUsed,
}

impl KeyDecision {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyDecision::Adopt => "adopt",
            KeyDecision::AlreadyKnown { .. } => "already_known",
            KeyDecision::Shared { .. } => "shared",
            KeyDecision::Malformed { .. } => "malformed",
            KeyDecision::NotUsed => "not_used",
        }
    }
}

/// A distinct key found on a host (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FoundKey {
    /// SHA-256 of the value (computed on the host).
    pub fingerprint: String,
    pub hint: String,
    pub length: u32,
    pub kind: Option<KeyKind>,
    /// Where it sits on the host.
    pub sources: Vec<String>,
    /// The gateway's key (the first agent's, by OpenClaw's precedence).
    pub effective: bool,
    pub decision: KeyDecision,
    /// Where adoption reads it from (a source the read script knows).
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    pub read_from: Option<KeySource>,
}

/// The whole judgement of one host.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct HostJudgement {
    pub name: String,
    pub discovered: Discovered,
    pub record: ProposedRecord,
    /// `true`: the instance is new.
    pub new_instance: bool,
    /// Fields that differ from the stored record (every set field for a new instance).
    pub differences: Vec<FieldChange>,
    /// Owner/environment missing: the record would be a draft (no key can be bound to it).
    pub missing: Vec<String>,
    pub keys: Vec<FoundKey>,
    /// What the review should know (agents on different keys, a method Clawkeep cannot manage…).
    pub notes: Vec<String>,
}

impl HostJudgement {
    /// The key to adopt on this host, if any.
    pub fn to_adopt(&self) -> Option<&FoundKey> {
        self.keys.iter().find(|k| k.decision == KeyDecision::Adopt)
    }
}

/// Owner, environment and workload guessed from a host name: `openclaw-<owner>-<env>[-<workload>]`
/// or `<owner>-<env>[-<workload>]` around an environment word (prod, staging, dev, …).
pub fn suggest_from_name(name: &str) -> Option<(String, String, String)> {
    const ENVS: &[&str] = &["prod", "production", "prd", "live", "staging", "stage", "stg", "dev", "development", "test", "testing", "qa", "uat", "sandbox", "demo", "preview"];
    let slug = naming::slugify(name);
    let parts: Vec<&str> = slug.split('-').filter(|p| !p.is_empty()).collect();
    let parts: &[&str] = if parts.first() == Some(&"openclaw") { &parts[1..] } else { &parts[..] };
    let i = parts.iter().position(|p| ENVS.contains(p))?;
    if i == 0 {
        return None;
    }
    Some((parts[..i].join("-"), naming::env_short(parts[i]), parts[i + 1..].join("-")))
}

/// Sources a gateway can use (not history, world-readable, leftover or last-good copies).
fn is_live(s: &KeySource) -> bool {
    !s.is_copy()
}

/// The kind of key a sighting is, from its hint's prefix (a hint of a value under 40
/// characters shows only 4 characters: no kind).
fn kind_of(k: &KeySighting) -> Option<KeyKind> {
    [KeyKind::Api, KeyKind::Admin, KeyKind::Oauth].into_iter().find(|kind| k.hint.starts_with(kind.prefix()))
}

/// Why a sighting cannot be a valid key to adopt, from its length and hint alone.
fn malformed(k: &KeySighting) -> Option<String> {
    match kind_of(k) {
        None => Some(format!("not an Anthropic key ({} characters): a proxy token or a cut-off key", k.length)),
        Some(KeyKind::Admin) => Some("an Admin API key on a host: Clawkeep never deploys admin keys; rotate it and remove it from the host".into()),
        Some(kind) => match kind.expected_len() {
            Some(n) if k.length as usize != n => Some(format!(
                "{} characters where {}… keys have {n}: {}",
                k.length,
                kind.prefix(),
                if (k.length as usize) < n { "cut off (truncated)" } else { "extra characters" }
            )),
            _ if k.hint.len() >= 4 && kind.expected_len().is_some() && !k.hint.ends_with("AA") => Some(format!("it does not end in 'AA' like every {}… key", kind.prefix())),
            _ => None,
        },
    }
}

/// Preference among the places holding the effective key: the file the injection method owns.
fn read_rank(s: &KeySource) -> u8 {
    match s {
        KeySource::Profile(_) => 0,
        KeySource::SharedProfile => 1,
        KeySource::SecretFile(_) => 2,
        KeySource::DotEnv => 3,
        KeySource::SystemdEnv => 4,
        KeySource::Config(_) => 5,
        KeySource::Proc(_) => 6,
        _ => 9,
    }
}

/// Input of [`judge`] for one host.
#[derive(Debug, Clone, Copy)]
pub struct HostInput<'a> {
    pub host: &'a OnboardHost,
    /// The SSH user (the host's, else the OS user).
    pub ssh_user: &'a str,
    /// The stored instance of this name, when re-onboarding.
    pub existing: Option<&'a Instance>,
    /// Every key of the inventory (fingerprints).
    pub inventory: &'a [Key],
    pub defaults: &'a OnboardDefaults,
    pub discovery: &'a Discovery,
    pub now: DateTime<Utc>,
}

fn describe_sm(s: &ServiceManager) -> String {
    match s {
        ServiceManager::SystemdUser { unit } => format!("systemd user unit {unit}"),
        ServiceManager::Custom { restart_command } => format!("restart command {restart_command}"),
    }
}

/// The state dir to look in for a host: the person's, else the stored one, else OpenClaw's default.
pub fn state_dir_for(defaults: &OnboardDefaults, existing: Option<&Instance>) -> String {
    defaults.state_dir.clone().filter(|s| !s.trim().is_empty()).or_else(|| existing.map(|i| i.state_dir.clone())).unwrap_or_else(|| "~/.openclaw".into())
}

/// Judges one host (see the module doc). Cross-host sharing is [`settle`]'s.
pub fn judge(i: HostInput) -> HostJudgement {
    let f = &i.discovery.facts;
    let mut notes = Vec::new();
    let state_dir = state_dir_for(i.defaults, i.existing);
    // Agents: the ones with a directory on the host (main first), else the stored, else main.
    let mut agents: Vec<String> = f.agents.iter().filter(|(_, exists)| *exists).map(|(a, _)| a.clone()).collect();
    agents.sort_by_key(|a| (a != "main", a.clone()));
    if agents.is_empty() {
        agents = i.existing.map(|e| e.agents.clone()).unwrap_or_else(|| vec!["main".into()]);
    }
    // Which key each agent uses: the checklist's rule over the facts.
    let scratch = Instance {
        id: 0,
        name: i.host.name.clone(),
        owner: String::new(),
        environment: String::new(),
        workload: String::new(),
        purpose: Purpose::Client,
        ssh_host: i.host.host.clone(),
        ssh_port: i.host.port,
        ssh_user: i.ssh_user.to_string(),
        jump_via: None,
        host_key_fingerprint: None,
        state_dir: state_dir.clone(),
        service_manager: ServiceManager::default(),
        injection: InjectionMethod::EnvFile,
        agents: agents.clone(),
        expected_org_id: None,
        expected_workspace_id: None,
        tags: vec![],
        notes: String::new(),
        draft: false,
        created_at: i.now,
        updated_at: i.now,
    };
    let gathered = Gathered { config: Some(config_of(f)), host: Some(Ok(f.clone())), ..Default::default() };
    let opts = CheckOptions::default();
    let facts = Facts { instance: &scratch, keys: &[], history: &[], now: i.now, rotation_due: None, budgets: &[], rate_limits: &[], opts: &opts, gathered: &gathered };
    let resolution = credential::resolve(&facts, f);
    let effective = resolution.agents.first().and_then(|a| a.winner).map(|k| k.fingerprint.clone());
    let distinct = resolution.fingerprints();
    if distinct.len() > 1 {
        notes.push(format!("the agents use {} different keys; the first agent's ({}) is the instance's key, the others are not adopted", distinct.len(), agents[0]));
    }
    // Injection method of the effective key: where the first agent's key comes from.
    let winner = resolution.agents.first().and_then(|a| a.winner);
    let cfg = gathered.config_facts();
    let injection = winner.and_then(|w| match &w.source {
        KeySource::Profile(_) | KeySource::SharedProfile => Some(InjectionMethod::AuthProfile),
        KeySource::SecretFile(_) => Some(InjectionMethod::SecretFile),
        KeySource::DotEnv => Some(InjectionMethod::EnvFile),
        KeySource::Proc(_) => {
            // The running gateway's key: the method is where a fresh process reads it.
            let disk = f
                .keys
                .iter()
                .find(|k| k.fingerprint == w.fingerprint && matches!(k.source, KeySource::DotEnv | KeySource::SecretFile(_) | KeySource::SharedProfile | KeySource::Profile(_)));
            match disk.map(|d| &d.source) {
                Some(KeySource::DotEnv) => Some(InjectionMethod::EnvFile),
                Some(KeySource::SecretFile(_)) => Some(InjectionMethod::SecretFile),
                Some(_) => Some(InjectionMethod::AuthProfile),
                None => None,
            }
        }
        _ => None,
    });
    let injection = match (injection, winner) {
        (Some(m), _) => Some(m),
        (None, Some(w)) => {
            notes.push(format!("the gateway's key comes from {}, which Clawkeep does not manage; a deploy writes the state dir's .env instead", w.source.describe()));
            None
        }
        (None, None) => {
            // A file SecretRef with no key behind it yet still names the method.
            if cfg.and_then(|c| c.api_key.as_ref().and_then(|r| c.secret_file_of(r))).is_some() {
                Some(InjectionMethod::SecretFile)
            } else {
                None
            }
        }
    };
    let service = service_manager_of(&i.discovery.service);
    if service.is_none() {
        notes.push("nothing on the host says how the gateway restarts (no openclaw systemd unit, no restart script): check the service manager".into());
    }
    let state_dir_exists = f.stat("state_dir").is_some();
    if !state_dir_exists {
        notes.push(format!("no OpenClaw state directory at {}", if f.state_dir.is_empty() { state_dir.clone() } else { f.state_dir.clone() }));
    }
    let discovered = Discovered {
        openclaw_version: f.openclaw_version.clone(),
        state_dir: f.state_dir.clone(),
        state_dir_exists,
        config_path: f.config_present.then(|| format!("{}/openclaw.json", f.state_dir.trim_end_matches('/'))),
        agents: f.agents.iter().filter(|(_, e)| *e).map(|(a, _)| a.clone()).collect(),
        service_manager: service.clone(),
        injection,
        gateway_running: !f.procs.is_empty(),
        credentials: f.keys.iter().filter(|k| is_live(&k.source)).map(|k| format!("{}: {} ({} chars)", k.source.describe(), k.hint, k.length)).collect(),
    };

    // The record: the person's fields, else the stored ones, else the suggestion from the name.
    let suggestion = suggest_from_name(&i.host.name);
    let pick = |given: &Option<String>, stored: Option<&str>, suggested: Option<&str>| -> String {
        given.as_deref().map(str::trim).filter(|s| !s.is_empty()).or(stored.filter(|s| !s.is_empty())).or(suggested).unwrap_or("").to_string()
    };
    let owner = pick(&i.defaults.owner, i.existing.map(|e| e.owner.as_str()), suggestion.as_ref().map(|s| s.0.as_str()));
    let environment = pick(&i.defaults.environment, i.existing.map(|e| e.environment.as_str()), suggestion.as_ref().map(|s| s.1.as_str()));
    let workload = pick(&i.defaults.workload, i.existing.map(|e| e.workload.as_str()), suggestion.as_ref().map(|s| s.2.as_str()));
    let record = ProposedRecord {
        name: i.host.name.clone(),
        owner,
        environment,
        workload,
        ssh_host: i.existing.map(|e| e.ssh_host.clone()).unwrap_or_else(|| i.host.host.clone()),
        ssh_port: i.existing.map(|e| e.ssh_port).unwrap_or(i.host.port),
        ssh_user: i.ssh_user.to_string(),
        state_dir: state_dir.clone(),
        service_manager: service.clone().or_else(|| i.existing.map(|e| e.service_manager.clone())).unwrap_or_default(),
        injection: injection.or(i.existing.map(|e| e.injection)).unwrap_or(InjectionMethod::EnvFile),
        agents: agents.clone(),
    };
    let mut missing = Vec::new();
    if record.owner.is_empty() {
        missing.push("owner".to_string());
    }
    if record.environment.is_empty() {
        missing.push("environment".to_string());
    }
    let differences = differences(i.existing, &record);

    // Keys: every distinct live key, with its decision.
    let mut by_fp: BTreeMap<String, Vec<&KeySighting>> = BTreeMap::new();
    for k in f.keys.iter().filter(|k| is_live(&k.source)) {
        by_fp.entry(k.fingerprint.clone()).or_default().push(k);
    }
    let known: HashMap<&str, &Key> = i.inventory.iter().map(|k| (k.fingerprint.as_str(), k)).collect();
    let mut keys: Vec<FoundKey> = by_fp
        .into_iter()
        .map(|(fp, sightings)| {
            let first = sightings[0];
            let is_effective = effective.as_deref() == Some(fp.as_str());
            let read_from = sightings.iter().filter(|s| read_source(&s.source).is_some()).min_by_key(|s| read_rank(&s.source)).map(|s| s.source.clone());
            let decision = if let Some(k) = known.get(fp.as_str()) {
                KeyDecision::AlreadyKnown { key: k.name.clone(), instance: k.instance.clone() }
            } else if let Some(reason) = malformed(first) {
                KeyDecision::Malformed { reason }
            } else if is_effective && read_from.is_some() {
                KeyDecision::Adopt
            } else {
                KeyDecision::NotUsed
            };
            FoundKey {
                hint: first.hint.clone(),
                length: first.length,
                kind: kind_of(first),
                sources: sightings.iter().map(|s| s.source.describe()).collect(),
                effective: is_effective,
                decision,
                read_from,
                fingerprint: fp,
            }
        })
        .collect();
    keys.sort_by_key(|k| (!k.effective, k.fingerprint.clone()));
    if let Some(k) = keys.iter().find(|k| k.effective && k.decision == KeyDecision::NotUsed) {
        notes.push(format!("the gateway's key {} sits only where Clawkeep cannot read it ({}): not adopted", k.hint, k.sources.join(", ")));
    }
    if keys.iter().any(|k| k.decision == KeyDecision::Adopt) && !missing.is_empty() {
        notes.push(format!("give the {} to adopt the key (a draft instance has no key)", missing.join(" and ")));
    }
    HostJudgement { name: i.host.name.clone(), discovered, record, new_instance: i.existing.is_none(), differences, missing, keys, notes }
}

/// The fields of `r` that differ from `existing` (all set fields for a new instance).
fn differences(existing: Option<&Instance>, r: &ProposedRecord) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut cmp = |field: &str, from: String, to: String| {
        if from != to {
            out.push(FieldChange { field: field.into(), from, to });
        }
    };
    let e = existing;
    let s = |f: fn(&Instance) -> String| e.map(f).unwrap_or_default();
    cmp("owner", s(|i| i.owner.clone()), r.owner.clone());
    cmp("environment", s(|i| i.environment.clone()), r.environment.clone());
    cmp("workload", s(|i| i.workload.clone()), r.workload.clone());
    cmp("host", s(|i| i.ssh_host.clone()), r.ssh_host.clone());
    cmp("port", s(|i| i.ssh_port.to_string()), r.ssh_port.to_string());
    cmp("user", s(|i| i.ssh_user.clone()), r.ssh_user.clone());
    cmp("state_dir", s(|i| i.state_dir.clone()), r.state_dir.clone());
    cmp("service", s(|i| describe_sm(&i.service_manager)), describe_sm(&r.service_manager));
    cmp("injection", s(|i| i.injection.as_str().to_string()), r.injection.as_str().to_string());
    cmp("agents", s(|i| i.agents.join(",")), r.agents.join(","));
    out
}

/// Across the batch: a key to adopt on several hosts is adopted on the first (in batch order)
/// and marked `shared` on every host that has it, naming them all (a boundary violation).
pub fn settle(hosts: &mut [HostJudgement]) {
    let mut holders: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for h in hosts.iter() {
        for k in &h.keys {
            if k.decision == KeyDecision::Adopt {
                let v = holders.entry(k.fingerprint.clone()).or_default();
                if !v.contains(&h.name) {
                    v.push(h.name.clone());
                }
            }
        }
    }
    let mut adopted: HashMap<String, String> = HashMap::new();
    for h in hosts.iter_mut() {
        for k in h.keys.iter_mut() {
            let Some(all) = holders.get(&k.fingerprint).filter(|v| v.len() > 1) else { continue };
            if k.decision != KeyDecision::Adopt {
                continue;
            }
            match adopted.get(&k.fingerprint) {
                None => {
                    adopted.insert(k.fingerprint.clone(), h.name.clone());
                    h.notes.push(format!(
                        "key {} is also on {}: one key must serve one instance (boundary violation); adopted here, rotate the others",
                        k.hint,
                        all.iter().filter(|n| **n != h.name).cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
                Some(first) => k.decision = KeyDecision::Shared { adopted_on: first.clone(), hosts: all.clone() },
            }
        }
    }
}

/// The keys found on several hosts of the batch: `(hint, fingerprint, hosts)`, for the report.
pub fn shared_keys(hosts: &[HostJudgement]) -> Vec<(String, String, Vec<String>)> {
    let mut m: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for h in hosts {
        for k in h.keys.iter().filter(|k| k.effective || k.decision == KeyDecision::Adopt) {
            let e = m.entry(k.fingerprint.clone()).or_insert_with(|| (k.hint.clone(), Vec::new()));
            if !e.1.contains(&h.name) {
                e.1.push(h.name.clone());
            }
        }
    }
    m.into_iter().filter(|(_, (_, v))| v.len() > 1).map(|(fp, (hint, v))| (hint, fp, v)).collect()
}

/// A stable digest of what the person reviewed for one host: the host key confirmed, what
/// discovery found (minus whether the gateway happens to be running), the proposed record, its
/// differences, what is missing and every key's decision. An apply carrying the preview's
/// digest is refused when the fresh judgement has another one (the host changed since).
pub fn preview_digest(j: &HostJudgement, host_key: &str) -> String {
    use sha2::{Digest, Sha256};
    let d = &j.discovered;
    let v = serde_json::json!({
        "name": j.name, "host_key": host_key.trim(),
        "discovered": {
            "version": d.openclaw_version, "state_dir": d.state_dir, "state_dir_exists": d.state_dir_exists,
            "config": d.config_path, "agents": d.agents, "service": d.service_manager, "injection": d.injection,
            "credentials": d.credentials,
        },
        "record": j.record, "new": j.new_instance, "differences": j.differences, "missing": j.missing,
        "keys": j.keys.iter().map(|k| serde_json::json!({
            "fingerprint": k.fingerprint, "length": k.length, "sources": k.sources, "effective": k.effective, "decision": k.decision,
        })).collect::<Vec<_>>(),
    });
    hex::encode(Sha256::digest(v.to_string().as_bytes()))
}

#[cfg(test)]
mod tests;
