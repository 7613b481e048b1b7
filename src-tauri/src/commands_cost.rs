//! The cost trail's IPC commands (issue 13): one-liners over `Clawkeep`'s `api/costs.rs`, like
//! [`crate::commands`]. The sync is a long operation (progress per report page, cancel between
//! pages); every other command reads the cache only, except the one-step retire of a key that
//! spends without an owner (`deactivate_unowned_key`, Admin API, audited) and the refresh of
//! Anthropic's configured rate limits and spend limits (`refresh_rate_limits`,
//! `refresh_spend_limits`, Admin API, read only).

use std::sync::Arc;

use chrono::NaiveDate;
use clawkeep_core::api::costs::{BudgetSpec, CostQuery, CostSyncOptions};
use clawkeep_core::cost::{
    ApiKeyRecord, Budget, BudgetScope, BudgetStatus, CostReport, RateLimits, ReconcileOptions, Reconciliation, SpendLimits, SyncProgress, SyncReport, UnownedKey,
};
use clawkeep_core::store::SyncMark;
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::blocking;
use crate::ops::{Operations, Progress};
use crate::state::CoreState;

type Reply<T> = Result<T, clawkeep_core::ErrorPayload>;

/// Syncs usage and cost from the Admin API into the cache. One `step` per report page (label:
/// `usage: until 2026-11-01`); `cancel_operation(op_id)` stops between pages, keeps what was
/// read, and the report says `cancelled` (the next sync resumes there).
#[tauri::command(rename_all = "snake_case")]
pub async fn cost_sync(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    options: Option<CostSyncOptions>,
) -> Reply<SyncReport> {
    let op = ops.start(&op_id)?;
    let _ = on_progress.send(Progress::Started { operation: "cost-sync".into(), steps: 0 });
    let (token, channel) = (op.token(), on_progress.clone());
    let steps = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let progress = move |p: &SyncProgress| {
        let step = steps.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let _ = channel.send(Progress::Step { step, label: format!("{}: page {}, until {} of {}..{}", p.report, p.pages, p.done_until, p.start, p.end) });
    };
    let opts = options.unwrap_or_default();
    let result = blocking(&state, move |c| c.cost_sync(&opts, &progress, &token)).await;
    let _ = on_progress.send(match &result {
        Ok(r) if r.cancelled => Progress::Cancelled,
        _ => Progress::Finished,
    });
    drop(op);
    result
}

/// Where each report's sync got to (empty before the first sync).
#[tauri::command(rename_all = "snake_case")]
pub async fn cost_sync_marks(state: State<'_, CoreState>) -> Reply<Vec<SyncMark>> {
    blocking(&state, |c| c.cost_sync_marks()).await
}

/// Cost by instance / owner / purpose / workspace / model per day / week / month, from the cache.
#[tauri::command(rename_all = "snake_case")]
pub async fn cost_report(state: State<'_, CoreState>, query: CostQuery) -> Reply<CostReport> {
    blocking(&state, move |c| c.cost_report(&query)).await
}

/// Keys that spend without an owner, most spent first.
#[tauri::command(rename_all = "snake_case")]
pub async fn cost_unowned(state: State<'_, CoreState>, since: Option<NaiveDate>) -> Reply<Vec<UnownedKey>> {
    blocking(&state, move |c| c.cost_unowned(since)).await
}

/// Retires a key that spends without an owner: `inactive` at the Admin API, audited. Refused
/// (`key_has_owner`) for a key an instance holds.
#[tauri::command(rename_all = "snake_case")]
pub async fn deactivate_unowned_key(state: State<'_, CoreState>, api_key_id: String) -> Reply<ApiKeyRecord> {
    blocking(&state, move |c| c.deactivate_unowned_key(&api_key_id)).await
}

/// Computed cost beside the cost report's, per workspace and day.
#[tauri::command(rename_all = "snake_case")]
pub async fn cost_reconcile(state: State<'_, CoreState>, since: Option<NaiveDate>, until: Option<NaiveDate>, options: Option<ReconcileOptions>) -> Reply<Reconciliation> {
    blocking(&state, move |c| c.cost_reconcile(since, until, options.unwrap_or_default())).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn budgets(state: State<'_, CoreState>) -> Reply<Vec<Budget>> {
    blocking(&state, |c| c.budgets()).await
}

/// Sets (or replaces) the monthly budget of an instance or an owner (audited).
#[tauri::command(rename_all = "snake_case")]
pub async fn set_budget(state: State<'_, CoreState>, spec: BudgetSpec) -> Reply<Budget> {
    blocking(&state, move |c| c.set_budget(&spec)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn remove_budget(state: State<'_, CoreState>, scope: BudgetScope, name: String) -> Reply<()> {
    blocking(&state, move |c| c.remove_budget(scope, &name)).await
}

/// Every budget against this month's cached spend, with its forecast; most severe first.
#[tauri::command(rename_all = "snake_case")]
pub async fn budget_check(state: State<'_, CoreState>) -> Reply<Vec<BudgetStatus>> {
    blocking(&state, |c| c.budget_check()).await
}

/// Anthropic's configured rate limits (organisation, then each workspace) from the cache.
#[tauri::command(rename_all = "snake_case")]
pub async fn rate_limits(state: State<'_, CoreState>) -> Reply<RateLimits> {
    blocking(&state, |c| c.rate_limits()).await
}

/// Reads the configured rate limits from the Admin API into the cache (needs the Admin key);
/// a workspace that could not be read is a note, its cached limits kept.
#[tauri::command(rename_all = "snake_case")]
pub async fn refresh_rate_limits(state: State<'_, CoreState>) -> Reply<RateLimits> {
    blocking(&state, |c| c.refresh_rate_limits()).await
}

/// Anthropic's spend limits from the cache, judged against this period's spend; whether the
/// organisation shows them at all (early access).
#[tauri::command(rename_all = "snake_case")]
pub async fn spend_limits(state: State<'_, CoreState>) -> Reply<SpendLimits> {
    blocking(&state, |c| c.spend_limits()).await
}

/// Reads Anthropic's spend limits from the Admin API into the cache (needs the Admin key); an
/// organisation outside the early access is "not available", not an error.
#[tauri::command(rename_all = "snake_case")]
pub async fn refresh_spend_limits(state: State<'_, CoreState>) -> Reply<SpendLimits> {
    blocking(&state, |c| c.refresh_spend_limits()).await
}
