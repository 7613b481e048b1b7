//! Settings (the Anthropic base URL, the SSH identity), the self-check of store and keychain,
//! and the audit log.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{BASE_URL_ENV, DEFAULT_BASE_URL};
use crate::error::{Error, Result};
use crate::model::domain::*;
use crate::model::validate::check_text;
use crate::store;
use crate::Clawkeep;

impl Clawkeep {
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

    pub(super) fn ssh_identity(&self) -> Result<SshIdentity> {
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
                let mut message = format!("reachable: {} (service '{}')", self.keychain.store_name(), self.keychain.service());
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
            keychain_store: self.keychain.store_name(),
            missing_secrets,
        })
    }
}
