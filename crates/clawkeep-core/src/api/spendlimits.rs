//! Anthropic's spend limits beside the budgets (issue 13): read with the stored Admin key (the
//! list is early access: an organisation outside it answers 404, recorded as "not available", a
//! state and not an error), cached, and judged from the cache against the period's computed
//! cost with the user's warning thresholds. `cost_sync` reads them too, through the same
//! [`Clawkeep::read_spend_limits`]; a failure there is a note, not a failed sync. The shapes
//! and the judgement are `cost::spend_limits`.

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::json;

use super::Clawkeep;
use crate::cost::budget::normalise_thresholds;
use crate::cost::spend_limits::{judge_spend_limits, not_available, SpendLimits, SpendLimitsAvailability};
use crate::error::{Error, Result};
use crate::rotation::api::Client;
use crate::secret::Secret;
use crate::store;

/// The setting that holds the warning thresholds (a JSON array of percents).
const WARN_AT_SETTING: &str = "spend_limits.warn_at";

impl Clawkeep {
    /// Reads Anthropic's spend limits from the Admin API into the cache and returns them judged.
    /// An organisation that does not show them (404/403) is `not_available`, not an error; any
    /// other failure is `admin_api` and the cache is unchanged.
    pub fn refresh_spend_limits(&self) -> Result<SpendLimits> {
        let admin_key = self.admin_key()?.ok_or(Error::NoAdminKey)?;
        let admin = self.keychain.get(&admin_key.keychain_ref)?;
        let client = Client::new(&self.settings()?.anthropic_base_url).map_err(spend_err)?;
        self.read_spend_limits(&client, &admin)?;
        self.spend_limits()
    }

    /// Anthropic's spend limits from the cache, each one Clawkeep can attribute spend to judged
    /// against its period's computed cost (most severe first); whether the organisation shows
    /// them at all.
    pub fn spend_limits(&self) -> Result<SpendLimits> {
        let read = self.store.spend_limit_read()?;
        let warn_at = self.spend_limit_warnings()?;
        let (availability, detail, checked_at) = match read {
            Some(r) => (r.availability, r.detail, Some(r.checked_at)),
            None => (SpendLimitsAvailability::NotRead, None, None),
        };
        let cached = self.store.spend_limits()?;
        let limits = if cached.is_empty() {
            Vec::new()
        } else {
            let now = self.now();
            // The longest window is the month; a week may begin in the month before.
            let today = now.date_naive();
            let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
            let since = first.min(today - Duration::days(7));
            let prices = self.price_table()?;
            let usage = self.store.usage_for_months(Some(since), None, &prices.months_with_changes())?;
            judge_spend_limits(&cached, &usage, &prices, &warn_at, now)
        };
        Ok(SpendLimits::new(availability, detail, checked_at, limits, warn_at))
    }

    /// The warning thresholds for Anthropic's spend limits (percent; default 80 and 100).
    pub fn spend_limit_warnings(&self) -> Result<Vec<u32>> {
        let stored: Vec<u32> = match self.store.setting(WARN_AT_SETTING)? {
            Some(v) => serde_json::from_str(&v).map_err(|e| Error::Store(format!("setting {WARN_AT_SETTING}: {e}")))?,
            None => Vec::new(),
        };
        normalise_thresholds(stored).map_err(|m| Error::invalid("warn_at", m))
    }

    /// Sets the warning thresholds for Anthropic's spend limits (audited); empty: 80 and 100.
    pub fn set_spend_limit_warnings(&self, warn_at: Vec<u32>) -> Result<Vec<u32>> {
        let t = normalise_thresholds(warn_at).map_err(|m| Error::invalid("warn_at", m))?;
        let text = serde_json::to_string(&t).map_err(|e| Error::Store(format!("cannot encode thresholds: {e}")))?;
        self.store.tx(|tx| {
            store::set_setting(tx, WARN_AT_SETTING, &text)?;
            self.audit(tx, "spend_limits.warn_at", "anthropic", json!({ "warn_at": t }))
        })?;
        Ok(t)
    }

    /// The one read of the list, used by the refresh and by `cost_sync`: the limits replace the
    /// cache and the read is recorded as available; a 404/403 empties the cache and is recorded
    /// as not available (returned, not an error); anything else leaves the cache as it was.
    /// Returns the availability and how many limits were read.
    pub(crate) fn read_spend_limits(&self, client: &Client, admin: &Secret) -> Result<(SpendLimitsAvailability, usize)> {
        let now = self.now();
        match client.spend_limits(admin, now) {
            Ok(limits) => {
                self.store.tx(|tx| {
                    store::replace_spend_limits(tx, &limits)?;
                    store::set_spend_limit_read(tx, SpendLimitsAvailability::Available, None, &now)
                })?;
                Ok((SpendLimitsAvailability::Available, limits.len()))
            }
            Err(e) if not_available(e.status()) => {
                let detail = e.to_string();
                self.store.tx(|tx| {
                    store::replace_spend_limits(tx, &[])?;
                    store::set_spend_limit_read(tx, SpendLimitsAvailability::NotAvailable, Some(&detail), &now)
                })?;
                Ok((SpendLimitsAvailability::NotAvailable, 0))
            }
            Err(e) => Err(spend_err(e)),
        }
    }
}

fn spend_err(e: crate::rotation::api::ApiError) -> Error {
    Error::AdminApi { context: "reading the spend limits (Admin API); the cached ones are kept".into(), detail: e.to_string(), status: e.status() }
}
