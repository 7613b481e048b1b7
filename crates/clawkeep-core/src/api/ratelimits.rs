//! Anthropic's configured rate limits beside the budgets (issue 13): read with the stored Admin
//! key — the organisation's list, then each workspace the inventory or the Admin API's key list
//! uses, with the values it inherits — and cached per scope, so the budgets view and the
//! checklist show them offline. `cost_sync` refreshes them too (a failure there is a note, not
//! a failed sync). The shapes and the choice of the value that applies are `cost::limits`.

use std::collections::BTreeSet;

use super::Clawkeep;
use crate::cost::limits::{self, RateLimitEntry, RateLimits};
use crate::error::{Error, Result};
use crate::model::domain::{Instance, KeyStatus};
use crate::model::keyfmt::KeyKind;
use crate::rotation::api::Client;
use crate::secret::Secret;
use crate::store;

impl Clawkeep {
    /// Reads the configured rate limits from the Admin API into the cache, and returns every
    /// cached entry with what could not be read as notes. The organisation's list must answer
    /// (else `admin_api`, and the cache is unchanged); a workspace the Admin API does not show
    /// (archived, removed, a wrong id in the inventory) or that fails is a note, and its cached
    /// entries are kept. Workspaces no longer in use are dropped from the cache.
    pub fn refresh_rate_limits(&self) -> Result<RateLimits> {
        let admin_key = self.admin_key()?.ok_or(Error::NoAdminKey)?;
        let admin = self.keychain.get(&admin_key.keychain_ref)?;
        let client = Client::new(&self.settings()?.anthropic_base_url).map_err(|e| limits_err("nothing was read", e))?;
        self.read_rate_limits(&client, &admin)
    }

    /// The configured rate limits from the cache alone: the organisation's, then each
    /// workspace's (overrides marked by their source).
    pub fn rate_limits(&self) -> Result<RateLimits> {
        let entries = self.store.rate_limits()?;
        let fetched_at = entries.iter().map(|e| e.fetched_at).min();
        Ok(RateLimits { entries, fetched_at, notes: Vec::new() })
    }

    /// The cached limits that can apply to an instance (the organisation's and its workspace's),
    /// for the checklist; empty without an active Admin key (nothing is read then).
    pub(crate) fn rate_limits_covering(&self, instance: &Instance, workspace_of_key: Option<&str>) -> Result<Vec<RateLimitEntry>> {
        if self.admin_key()?.is_none() {
            return Ok(Vec::new());
        }
        let ws = instance.expected_workspace_id.as_deref().or(workspace_of_key);
        self.store.rate_limits_for(ws)
    }

    /// The organisation's list (it must answer), then each workspace's, each scope replaced in
    /// the cache in its own transaction as soon as it is read.
    pub(crate) fn read_rate_limits(&self, client: &Client, admin: &Secret) -> Result<RateLimits> {
        let now = self.now();
        let org = client.rate_limits(admin, None, now).map_err(|e| limits_err("the cached ones are kept", e))?;
        self.store.tx(|tx| store::replace_rate_limits(tx, None, &org))?;
        let mut notes = Vec::new();
        let in_use = self.rate_limit_workspaces()?;
        let mut workspaces = in_use.clone();
        if workspaces.len() > limits::MAX_WORKSPACES {
            notes.push(format!("{} workspaces are in use; the first {} were read", workspaces.len(), limits::MAX_WORKSPACES));
            workspaces.truncate(limits::MAX_WORKSPACES);
        }
        for ws in &workspaces {
            match client.rate_limits(admin, Some(ws), now) {
                Ok(entries) => self.store.tx(|tx| store::replace_rate_limits(tx, Some(ws), &entries))?,
                Err(e) if e.status() == Some(404) => {
                    notes.push(format!("workspace {ws}: the Admin API does not show it (archived, removed, or the Default Workspace); its cached limits are kept"))
                }
                Err(e) => notes.push(format!("workspace {ws}: {e}; its cached limits are kept")),
            }
        }
        // Workspaces nothing uses any more leave the view (one that failed to read above is
        // still in use, so its cached rows stay).
        self.store.tx(|tx| store::prune_rate_limits(tx, &in_use))?;
        let mut out = self.rate_limits()?;
        out.notes = notes;
        Ok(out)
    }

    /// Workspaces whose limits matter: those the instances expect, those of the inventory's
    /// keys, and those of the keys the Admin API listed (the Default Workspace has no id there).
    fn rate_limit_workspaces(&self) -> Result<Vec<String>> {
        let mut set = BTreeSet::new();
        for r in self.list_instances(&Default::default())? {
            set.extend(r.instance.expected_workspace_id);
        }
        for k in self.store.list_keys(None)? {
            if k.kind != KeyKind::Admin && k.status != KeyStatus::Revoked {
                set.extend(k.workspace_id);
            }
        }
        for r in self.store.api_key_records()? {
            set.extend(r.workspace_id);
        }
        Ok(set.into_iter().filter(|w| !w.trim().is_empty()).collect())
    }
}

fn limits_err(kept: &str, e: crate::rotation::api::ApiError) -> Error {
    Error::AdminApi { context: format!("reading the rate limits (Admin API); {kept}"), detail: e.to_string(), status: e.status() }
}
