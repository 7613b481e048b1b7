//! Spend Limits API (Admin, early access): `GET /v1/organizations/spend_limits`, listing the
//! organisation's configured spend limits, or 404 when the organisation is not enrolled.
//!
//! Shapes follow the API reference's "List Spend Limits" (beta, `anthropic-beta:
//! spend-limit-reads-2026-09-26`): query `limit` (1–1000, default 20), `page` (the previous
//! response's `next_page`), `scope_type[]`, `workspace_id` (Console organisations); the answer
//! is `{data: [SpendLimit], next_page: string | null}`, a Console organisation's limits newest
//! first; a `SpendLimit` is `{type: "spend_limit", id, amount, created_at, currency,
//! is_enabled, period, scope: {type, …its id}, updated_at}`. [ASSUME] the page cursor's form,
//! the 404's message when the organisation is not enrolled, and a 400 without the beta header.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Response};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::Query;
use crate::server::{fmt_time, json_response, Shared};
use crate::state::{SpendLimit, SpendLimitScope};

/// The beta the endpoint requires.
pub const BETA: &str = "spend-limit-reads-2026-09-26";
const SCOPE_TYPES: [&str; 7] = ["organization", "organization_service", "rbac_group", "seat_tier", "user", "workspace", "usage_tier"];
const PAGE_PREFIX: &str = "splpage_";
/// [ASSUME] the message of the 404 an organisation outside the early access gets.
pub const NOT_ENROLLED_MESSAGE: &str = "Spend limits are not available for this organization.";

fn scope_type(s: &SpendLimitScope) -> &'static str {
    match s {
        SpendLimitScope::Organization => "organization",
        SpendLimitScope::Workspace { .. } => "workspace",
        SpendLimitScope::User { .. } => "user",
        SpendLimitScope::UsageTier => "usage_tier",
    }
}

fn to_json(l: &SpendLimit) -> Value {
    json!({
        "type": "spend_limit",
        "id": l.id,
        "amount": l.amount,
        "created_at": fmt_time(l.created_at),
        "currency": l.currency,
        "is_enabled": l.is_enabled,
        "period": l.period,
        "scope": l.scope,
        "updated_at": fmt_time(l.updated_at),
    })
}

/// `GET /v1/organizations/spend_limits`.
pub(crate) fn list(shared: &Arc<Shared>, headers: &HeaderMap, q: &Query) -> Result<Response<Body>, ApiError> {
    let g = shared.lock();
    if !g.state.spend_limits.enrolled {
        return Err(ApiError::not_found_msg(NOT_ENROLLED_MESSAGE));
    }
    let betas: Vec<String> = headers.get_all("anthropic-beta").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',').map(|b| b.trim().to_string())).collect();
    if !betas.iter().any(|b| b == BETA) {
        return Err(ApiError::invalid(format!("This endpoint is in beta: send `anthropic-beta: {BETA}`.")));
    }
    let types = q.list("scope_type");
    if let Some(bad) = types.iter().find(|t| !SCOPE_TYPES.contains(&t.as_str())) {
        return Err(ApiError::invalid(format!("scope_type: Input should be one of {}; got {bad:?}", SCOPE_TYPES.join(", "))));
    }
    let ws = q.get("workspace_id");
    let limit = q.int("limit", 20, 1, 1000)? as usize;
    // Newest first, id as the tie-break: an order that is stable across pages.
    let mut items: Vec<&SpendLimit> = g
        .state
        .spend_limits
        .limits
        .iter()
        .filter(|l| types.is_empty() || types.iter().any(|t| t == scope_type(&l.scope)))
        .filter(|l| ws.is_none_or(|w| matches!(&l.scope, SpendLimitScope::Workspace { workspace_id } if workspace_id == w)))
        .collect();
    items.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
    let start = match q.get("page") {
        None => 0,
        Some(p) => {
            p.strip_prefix(PAGE_PREFIX).and_then(|n| n.parse::<usize>().ok()).filter(|n| *n <= items.len()).ok_or_else(|| ApiError::invalid("page: Invalid page cursor."))?
        }
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| format!("{PAGE_PREFIX}{end}"));
    let data: Vec<Value> = items[start..end].iter().map(|l| to_json(l)).collect();
    Ok(json_response(200, &json!({"data": data, "next_page": next})))
}
