//! The cost trail's facade methods: sync the Admin API's usage and cost reports into the cache
//! (incremental, paginated, one transaction per page, resumable, progress and cancel; 429/529
//! waited out), then every view from the cache alone: cost by instance/owner/purpose/workspace/
//! model per day/week/month, keys that spend without an owner, the reconciliation against the
//! cost report, budgets and their check (Anthropic's configured rate limits and spend limits
//! beside them are `ratelimits.rs` and `spendlimits.rs`, refreshed by the sync too). The judgement is `crate::cost`, pure.

use std::time::Duration;

use chrono::{Datelike, Duration as Days, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::Clawkeep;
use crate::cost::aggregate::{aggregate, group_of, CostGroupBy, CostPeriod, CostReport, OwnerMap};
use crate::cost::budget::{evaluate_budgets, normalise_thresholds, Budget, BudgetScope, BudgetStatus};
use crate::cost::prices::{PriceTable, PRICES_OVERRIDE_FILE, SHIPPED};
use crate::cost::reconcile::{reconcile, ReconcileOptions, Reconciliation};
use crate::cost::sync::{mark_after_page, max_pages, sync_start, ReportSync, SyncProgress, SyncReport, DEFAULT_PAGE_DAYS};
use crate::cost::types::{ApiKeyRecord, PICO_PER_USD};
use crate::cost::unowned::{owner_map, unowned_keys, InventoryKey, UnownedKey};
use crate::cost::wire::{self, Page};
use crate::cost::KeyOwner;
use crate::error::{Error, Result};
use crate::model::keyfmt::KeyKind;
use crate::rotation::api::Client;
use crate::secret::Secret;
use crate::store;

/// Attempts per request when the Admin API answers 429 or 529.
const MAX_ATTEMPTS: u32 = 6;
/// The longest single wait (a larger `retry-after` is cut to this).
const MAX_WAIT_SECS: u64 = 60;

/// How to sync.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct CostSyncOptions {
    /// Read from this day (a backfill) instead of where the last sync stopped.
    pub since: Option<NaiveDate>,
    /// Daily buckets per page, 1–31 (default 31).
    pub page_days: Option<u32>,
}

/// What a cost view covers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct CostQuery {
    pub group_by: CostGroupBy,
    pub period: CostPeriod,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Only the usage of one group of another dimension (e.g. one client's spend by model).
    pub only: Option<CostFilter>,
}

/// One group of one dimension: `{by: owner, group: "acme"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CostFilter {
    pub by: CostGroupBy,
    pub group: String,
}

/// A budget to set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BudgetSpec {
    pub scope: BudgetScope,
    pub name: String,
    pub monthly_usd: f64,
    /// Percents; empty: 80 and 100.
    #[serde(default)]
    pub warn_at: Vec<u32>,
}

fn report_err(what: &str, kept: &str, e: crate::rotation::api::ApiError) -> Error {
    Error::AdminApi { context: format!("reading the {what} (Admin API); {kept}"), detail: e.to_string(), status: e.status() }
}

impl Clawkeep {
    /// The price table: the shipped one with the data directory's `prices.json` merged over it.
    pub fn price_table(&self) -> Result<PriceTable> {
        let path = self.data_dir.join(PRICES_OVERRIDE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => PriceTable::merged(SHIPPED, Some(&text), Some(&path.to_string_lossy())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PriceTable::merged(SHIPPED, None, None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// `apikey_…` → inventory key, instance, owner and purpose (by the stored Console id, else a
    /// hint only one listed key has).
    fn cost_owners(&self) -> Result<OwnerMap> {
        let instances: std::collections::HashMap<String, crate::model::domain::Instance> =
            self.list_instances(&Default::default())?.into_iter().map(|r| (r.instance.name.clone(), r.instance)).collect();
        let inventory: Vec<InventoryKey> = self
            .list_keys(None)?
            .into_iter()
            .filter(|k| k.kind != KeyKind::Admin)
            .map(|k| {
                let inst = k.instance.as_ref().and_then(|n| instances.get(n));
                InventoryKey {
                    owner: KeyOwner {
                        key: k.name.clone(),
                        instance: k.instance.clone(),
                        owner: inst.map(|i| i.owner.clone()),
                        purpose: inst.map(|i| i.purpose.as_str().to_string()),
                    },
                    anthropic_key_id: k.anthropic_key_id.clone(),
                    hint: k.hint.clone(),
                }
            })
            .collect();
        Ok(owner_map(&inventory, &self.store.api_key_records()?))
    }

    /// Syncs the usage report (by key, workspace, model, tier, context window) and the cost
    /// report (by workspace and description) into the cache, and the Admin API's key list.
    /// Each page is committed with the sync mark in one transaction, so an interrupted sync
    /// keeps what it read and the next one resumes there; the next sync reads only new days
    /// plus the last three again. `cancel` stops between pages (the report says `cancelled`).
    pub fn cost_sync(&self, opts: &CostSyncOptions, progress: &(dyn Fn(&SyncProgress) + Send + Sync), cancel: &CancellationToken) -> Result<SyncReport> {
        let page_days = opts.page_days.unwrap_or(DEFAULT_PAGE_DAYS);
        if !(1..=31).contains(&page_days) {
            return Err(Error::invalid("page_days", "daily buckets per page must be 1 to 31"));
        }
        let now = self.now();
        let today = now.date_naive();
        if opts.since.is_some_and(|s| s > today) {
            return Err(Error::invalid("since", "the first day to read is in the future"));
        }
        let admin_key = self.admin_key()?.ok_or(Error::NoAdminKey)?;
        let admin = self.keychain.get(&admin_key.keychain_ref)?;
        let client = Client::for_reports(&self.settings()?.anthropic_base_url).map_err(|e| report_err("API keys", "nothing was read", e))?;
        let mut report = SyncReport::default();

        // The key list first: names and hints for unowned spend, Console ids for matching.
        let keys = client.list_keys(&admin, None).map_err(|e| report_err("API key list", "nothing was read", e))?;
        let records: Vec<ApiKeyRecord> = keys
            .into_iter()
            .map(|k| ApiKeyRecord {
                id: k.id,
                name: k.name,
                partial_key_hint: k.partial_key_hint,
                workspace_id: k.workspace_id,
                status: k.status,
                created_at: k.created_at,
                expires_at: k.expires_at,
            })
            .collect();
        report.keys = records.len() as u32;
        // Expiry from the source: an inventory key whose Console id is listed takes the API's
        // `expires_at` (audited as the change it is).
        let expiring: Vec<(crate::model::domain::Key, Option<chrono::DateTime<chrono::Utc>>)> = self
            .list_keys(None)?
            .into_iter()
            .filter_map(|k| {
                let rec = records.iter().find(|r| Some(&r.id) == k.anthropic_key_id.as_ref())?;
                (rec.expires_at != k.expires_at).then_some((k, rec.expires_at))
            })
            .collect();
        self.store.tx(|tx| {
            store::replace_api_keys(tx, &records, &now)?;
            for (k, expires_at) in &expiring {
                let instance_id = match &k.instance {
                    Some(n) => store::instance_by_name(tx, n)?.map(|i| i.id),
                    None => None,
                };
                let mut k2 = k.clone();
                k2.expires_at = *expires_at;
                k2.updated_at = now;
                store::update_key(tx, &k2, instance_id)?;
                self.audit(tx, "key.expiry", &k.name, json!({ "from": k.expires_at, "to": expires_at, "by": "admin-api" }))?;
            }
            Ok(())
        })?;
        report.expiry_updates = expiring.len() as u32;
        progress(&SyncProgress { report: "keys".into(), pages: 1, done_until: today, start: today, end: today, retries: 0 });

        let end = today + Days::days(1);
        for which in ["usage", "cost"] {
            if cancel.is_cancelled() {
                report.cancelled = true;
                break;
            }
            let mark = self.store.tx(|tx| store::sync_mark(tx, which))?;
            let start = sync_start(mark.map(|m| m.synced_until), opts.since, today);
            let (r, finished) = self.sync_report(&client, &admin, which, start, end, page_days, progress, cancel)?;
            report.cancelled = !finished;
            if which == "usage" {
                report.usage = r;
            } else {
                report.cost = r;
            }
            if report.cancelled {
                break;
            }
        }
        // Anthropic's configured rate limits, shown beside the budgets: a failure is a note,
        // never a failed sync (the reports above are saved).
        if !report.cancelled {
            match self.read_rate_limits(&client, &admin) {
                Ok(l) => {
                    report.rate_limits = l.entries.len() as u32;
                    report.notes.extend(l.notes);
                }
                Err(e) => report.notes.push(format!("rate limits not refreshed: {e}")),
            }
            // Anthropic's spend limits likewise: "not available" (early access) is a state, in
            // `spend_limits_availability`, not a note (notes are what went wrong).
            match self.read_spend_limits(&client, &admin) {
                Ok((availability, n)) => {
                    report.spend_limits = n as u32;
                    report.spend_limits_availability = availability;
                }
                Err(e) => report.notes.push(format!("spend limits not refreshed: {e}")),
            }
        }
        let audit = json!({
            "usage_rows": report.usage.rows, "usage_pages": report.usage.pages, "usage_from": report.usage.start,
            "cost_rows": report.cost.rows, "cost_pages": report.cost.pages, "cost_from": report.cost.start,
            "keys": report.keys, "cancelled": report.cancelled, "admin_key": admin_key.name,
            "rate_limits": report.rate_limits, "spend_limits": report.spend_limits,
            "spend_limits_availability": report.spend_limits_availability.as_str(), "notes": report.notes,
        });
        self.store.tx(|tx| {
            if !report.cancelled {
                store::complete_sync(tx, "usage", &now)?;
                store::complete_sync(tx, "cost", &now)?;
            }
            self.audit(tx, "cost.sync", "usage", audit)
        })?;
        // Sum the months this sync touched now, so the next month view reads at once.
        self.store.refresh_usage_months()?;
        Ok(report)
    }

    #[allow(clippy::too_many_arguments)]
    fn sync_report(
        &self,
        client: &Client,
        admin: &Secret,
        which: &str,
        start: NaiveDate,
        end: NaiveDate,
        page_days: u32,
        progress: &(dyn Fn(&SyncProgress) + Send + Sync),
        cancel: &CancellationToken,
    ) -> Result<(ReportSync, bool)> {
        let today = self.now().date_naive();
        let (path, groups, what): (&str, &[&str], &str) =
            if which == "usage" { (wire::USAGE_PATH, &wire::USAGE_GROUP_BY, "usage report") } else { (wire::COST_PATH, &wire::COST_GROUP_BY, "cost report") };
        let mut out = ReportSync { start: Some(start), end: Some(end), ..Default::default() };
        let mut token: Option<String> = None;
        for _ in 0..max_pages(start, end, page_days) {
            if cancel.is_cancelled() {
                return Ok((out, false));
            }
            let q = wire::page_query(path, groups, start, end, page_days, token.as_deref());
            let kept = match out.synced_until {
                Some(u) => format!("days before {u} were saved, and the next sync resumes there"),
                None => "nothing of it was saved yet".to_string(),
            };
            let body = self.fetch_page(client, admin, &q, &mut out.retries, cancel).map_err(|e| match e {
                FetchError::Api(e) => report_err(what, &kept, e),
                FetchError::Cancelled => Error::Cancelled,
            });
            let body = match body {
                Ok(b) => b,
                Err(Error::Cancelled) => return Ok((out, false)),
                Err(e) => return Err(e),
            };
            let bad = |e: String| Error::AdminApi { context: format!("reading the {what} (Admin API); {kept}"), detail: format!("unexpected answer: {e}"), status: None };
            let (rows, days, next) = if which == "usage" {
                let p: Page<_> = wire::parse_usage(&body).map_err(bad)?;
                let n = p.rows.len();
                let days = p.days;
                let next = p.next_page.clone();
                if let Some((from, to)) = days {
                    self.store.tx(|tx| {
                        store::replace_usage_days(tx, from, to, &p.rows)?;
                        store::set_sync_mark(tx, "usage", mark_after_page(to, today), from, &self.now())
                    })?;
                }
                (n, days, next)
            } else {
                let p = wire::parse_cost(&body).map_err(bad)?;
                let n = p.rows.len();
                let days = p.days;
                let next = p.next_page.clone();
                if let Some((from, to)) = days {
                    self.store.tx(|tx| {
                        store::replace_cost_days(tx, from, to, &p.rows)?;
                        store::set_sync_mark(tx, "cost", mark_after_page(to, today), from, &self.now())
                    })?;
                }
                (n, days, next)
            };
            out.pages += 1;
            out.rows += rows as u32;
            if let Some((_, to)) = days {
                out.synced_until = Some(mark_after_page(to, today));
            }
            progress(&SyncProgress { report: which.into(), pages: out.pages, done_until: out.synced_until.unwrap_or(start), start, end, retries: out.retries });
            match next {
                Some(t) => token = Some(t),
                None => return Ok((out, true)),
            }
        }
        Err(Error::AdminApi {
            context: format!("reading the {what} (Admin API)"),
            detail: format!("the API kept answering has_more after {} pages for {start}..{end}; what was read is saved", out.pages),
            status: None,
        })
    }

    /// One GET, waiting out 429 and 529 (its `retry-after`, else 1, 2, 4… s) up to
    /// [`MAX_ATTEMPTS`]; the wait ends early on cancel.
    /// The page's bytes are parsed once, by `wire`, into the report's own types.
    fn fetch_page(&self, client: &Client, admin: &Secret, pq: &str, retries: &mut u32, cancel: &CancellationToken) -> std::result::Result<Vec<u8>, FetchError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (p, body) = client.get_raw(admin, pq).map_err(FetchError::Api)?;
            if p.status == 200 {
                return Ok(body);
            }
            if !matches!(p.status, 429 | 529 | 503) || attempt >= MAX_ATTEMPTS {
                return Err(FetchError::Api(Client::api_error(&p)));
            }
            *retries += 1;
            let wait = p.rate_limit.retry_after_secs.unwrap_or(1 << (attempt - 1).min(5)).clamp(1, MAX_WAIT_SECS);
            let until = std::time::Instant::now() + Duration::from_secs(wait);
            while std::time::Instant::now() < until {
                if cancel.is_cancelled() {
                    return Err(FetchError::Cancelled);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Where each report's sync got to.
    pub fn cost_sync_marks(&self) -> Result<Vec<store::SyncMark>> {
        self.store.sync_marks()
    }

    /// Cost by `q.group_by` per `q.period` from the cache.
    pub fn cost_report(&self, q: &CostQuery) -> Result<CostReport> {
        check_window(q.since, q.until)?;
        let prices = self.price_table()?;
        let since = q.since.map(|s| q.period.start(s));
        // A month view reads the monthly sums (one row per key and model, not one per day).
        let mut rows = match q.period {
            CostPeriod::Month => self.store.usage_for_months(since, q.until, &prices.months_with_changes())?,
            CostPeriod::Day | CostPeriod::Week => self.store.usage_rows(since, q.until)?,
        };
        let owners = self.cost_owners()?;
        if let Some(f) = &q.only {
            rows.retain(|r| group_of(r, f.by, &owners).0 == f.group);
        }
        Ok(aggregate(&rows, &prices, &owners, q.group_by, q.period, since, q.until))
    }

    /// Keys that spend without an owner (no instance in the inventory holds them), most spent
    /// first, from the cache.
    pub fn cost_unowned(&self, since: Option<NaiveDate>) -> Result<Vec<UnownedKey>> {
        let rows = self.store.usage_rows(since, None)?;
        Ok(unowned_keys(&rows, &self.price_table()?, &self.cost_owners()?, &self.store.api_key_records()?, since))
    }

    /// Retires a key that spends without an owner in one step: sets it `inactive` at the Admin
    /// API (reversible in the Console, unlike archiving) and audits it. Refused for a key an
    /// instance holds (rotate that one instead) and for ids the Admin API does not know.
    pub fn deactivate_unowned_key(&self, api_key_id: &str) -> Result<ApiKeyRecord> {
        let id = api_key_id.trim();
        if !id.starts_with("apikey_") || id.len() > 200 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::invalid("api_key_id", "a Console key id looks like apikey_…"));
        }
        if let Some(KeyOwner { instance: Some(instance), key, .. }) = self.cost_owners()?.get(id) {
            return Err(Error::Blocked {
                code: "key_has_owner",
                message: format!("{id} is '{key}', the key of instance '{instance}': it has an owner. Rotate the instance's key instead of deactivating it"),
                remedy: crate::error::Remedy::Rotate { instance: instance.clone() },
            });
        }
        let admin_key = self.admin_key()?.ok_or(Error::NoAdminKey)?;
        let admin = self.keychain.get(&admin_key.keychain_ref)?;
        let client = Client::new(&self.settings()?.anthropic_base_url).map_err(|e| report_err("API key", "nothing was changed", e))?;
        let rec = match client.set_key_status(&admin, id, "inactive") {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Err(Error::NotFound { kind: "API key at the Admin API", name: id.into() }),
            Err(e) => return Err(Error::AdminApi { context: format!("deactivating {id} (Admin API); nothing was changed"), detail: e.to_string(), status: e.status() }),
        };
        let out = ApiKeyRecord {
            id: rec.id,
            name: rec.name,
            partial_key_hint: rec.partial_key_hint,
            workspace_id: rec.workspace_id,
            status: rec.status,
            created_at: rec.created_at,
            expires_at: rec.expires_at,
        };
        let now = self.now();
        self.store.tx(|tx| {
            store::set_api_key_status(tx, &out.id, &out.status, &now)?;
            self.audit(
                tx,
                "key.deactivate_unowned",
                &out.id,
                json!({ "hint": out.partial_key_hint, "name": out.name, "workspace_id": out.workspace_id, "status": out.status, "admin_key": admin_key.name }),
            )
        })?;
        Ok(out)
    }

    /// Computed cost beside the cost report's, per workspace and day, from the cache.
    pub fn cost_reconcile(&self, since: Option<NaiveDate>, until: Option<NaiveDate>, opts: ReconcileOptions) -> Result<Reconciliation> {
        check_window(since, until)?;
        if !(opts.threshold_usd.is_finite() && opts.threshold_usd >= 0.0 && opts.threshold_ratio.is_finite() && opts.threshold_ratio >= 0.0) {
            return Err(Error::invalid("threshold", "thresholds must be zero or more"));
        }
        let usage = self.store.usage_rows(since, until)?;
        let lines = self.store.cost_lines(since, until)?;
        Ok(reconcile(&usage, &lines, &self.price_table()?, opts, since, until))
    }

    /// Sets a monthly budget for an instance or an owner that exists (audited).
    pub fn set_budget(&self, spec: &BudgetSpec) -> Result<Budget> {
        let name = spec.name.trim().to_string();
        match spec.scope {
            BudgetScope::Instance => {
                self.instance(&name)?;
            }
            BudgetScope::Owner => {
                if !self.list_instances(&Default::default())?.iter().any(|r| r.instance.owner == name) {
                    return Err(Error::NotFound { kind: "owner with instances", name });
                }
            }
        }
        if !(spec.monthly_usd.is_finite() && spec.monthly_usd > 0.0 && spec.monthly_usd < 1e9) {
            return Err(Error::invalid("monthly_usd", "a monthly budget is an amount of USD above 0"));
        }
        let warn_at = normalise_thresholds(spec.warn_at.clone()).map_err(|m| Error::invalid("warn_at", m))?;
        let pico = (spec.monthly_usd * PICO_PER_USD as f64).round() as i64;
        let b = Budget { scope: spec.scope, name, monthly_pico: pico, monthly_usd: crate::cost::usd(pico), warn_at };
        let now = self.now();
        self.store.tx(|tx| {
            store::upsert_budget(tx, &b, &now)?;
            self.audit(tx, "budget.set", &b.name, json!({ "scope": b.scope.as_str(), "monthly_usd": b.monthly_usd, "warn_at": b.warn_at }))
        })?;
        Ok(b)
    }

    /// Removes a budget (audited).
    pub fn remove_budget(&self, scope: BudgetScope, name: &str) -> Result<()> {
        self.store.tx(|tx| {
            if !store::delete_budget(tx, scope, name)? {
                return Err(Error::NotFound { kind: if scope == BudgetScope::Instance { "budget for instance" } else { "budget for owner" }, name: name.into() });
            }
            self.audit(tx, "budget.remove", name, json!({ "scope": scope.as_str() }))
        })
    }

    pub fn budgets(&self) -> Result<Vec<Budget>> {
        self.store.budgets()
    }

    /// Every budget against this month's cached usage, with the month's forecast; most severe
    /// first. `alert()` on a status: over or forecast over.
    pub fn budget_check(&self) -> Result<Vec<BudgetStatus>> {
        self.judge_budgets(self.store.budgets()?)
    }

    /// The budgets that cover an instance (its own and its owner's) judged this month, for the
    /// checklist; nothing is read from the cache when none is set.
    pub(crate) fn budgets_covering(&self, instance: &crate::model::domain::Instance) -> Result<Vec<BudgetStatus>> {
        let mine: Vec<Budget> = self
            .store
            .budgets()?
            .into_iter()
            .filter(|b| match b.scope {
                BudgetScope::Instance => b.name == instance.name,
                BudgetScope::Owner => b.name == instance.owner,
            })
            .collect();
        if mine.is_empty() {
            return Ok(Vec::new());
        }
        self.judge_budgets(mine)
    }

    fn judge_budgets(&self, budgets: Vec<Budget>) -> Result<Vec<BudgetStatus>> {
        let now = self.now();
        let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default();
        let prices = self.price_table()?;
        let usage = self.store.usage_for_months(Some(first), None, &prices.months_with_changes())?;
        Ok(evaluate_budgets(&budgets, &usage, &prices, &self.cost_owners()?, now))
    }
}

enum FetchError {
    Api(crate::rotation::api::ApiError),
    Cancelled,
}

fn check_window(since: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<()> {
    if let (Some(s), Some(u)) = (since, until) {
        if u < s {
            return Err(Error::invalid("until", "the last day is before the first"));
        }
    }
    Ok(())
}
