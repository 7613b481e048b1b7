//! Rate Limits API (Admin): `GET /v1/organizations/rate_limits` and
//! `GET /v1/organizations/workspaces/{id}/rate_limits`, derived from what the fake's rate
//! limiter enforces (`Org::effective_limits` per model class, the separate `count_tokens`
//! requests limit, and a workspace's `rate_limits`, which override the model groups).
//!
//! Shapes follow the API reference and the TypeScript SDK
//! (`src/resources/organization/rate-limits.ts`): an organisation entry is
//! `{type: "rate_limit", id, group: {id, type, display_name?}, models, limits: [{type, value}]}`;
//! a workspace entry is `{type: "workspace_rate_limit", workspace_id, rate_limit_id, group,
//! models, limits: [{type, value, org_limit, source: {type}}]}`; lists are `{data, next_page}`,
//! every entry in one page unless `limit` is given. [ASSUME] the ids' form (opaque in the
//! docs), the page cursor's form, and the wording of the 400/404 messages.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::Query;
use crate::server::{json_response, Shared};
use crate::state::{Limits, State};

const GROUP_TYPES: [&str; 6] = ["batch", "files", "model_group", "skills", "token_count", "web_search"];
const PAGE_PREFIX: &str = "rlpage_";

/// One organisation-level group as the limiter sees it.
struct Group {
    /// `model_group` or `token_count`.
    kind: &'static str,
    /// The model class (`sonnet`), or `count_tokens`.
    key: String,
    display_name: Option<String>,
    models: Option<Vec<String>>,
    /// `(limiter type, value)`.
    limits: Vec<(&'static str, u64)>,
}

impl Group {
    fn entry_id(&self, state: &State) -> String {
        // Stable within the org, different between orgs (the docs' promise).
        let org: String = state.org.id.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
        format!("ratelimit_{org}_{}", self.key)
    }

    fn group_json(&self) -> Value {
        let mut g = json!({"id": format!("rlg_{}", self.key), "type": self.kind});
        if let Some(d) = &self.display_name {
            g["display_name"] = json!(d);
        }
        g
    }
}

fn model_limits(l: &Limits) -> Vec<(&'static str, u64)> {
    vec![("requests_per_minute", l.rpm), ("input_tokens_per_minute", l.itpm), ("output_tokens_per_minute", l.otpm)]
}

/// Every group the org has limits for: one model group per model class (in model-table order),
/// then token counting.
fn groups(state: &State) -> Vec<Group> {
    let org = state.org.effective_limits();
    let mut out: Vec<Group> = Vec::new();
    for m in &state.models {
        let names = std::iter::once(m.id.clone()).chain(m.aliases.iter().cloned());
        match out.iter_mut().find(|g| g.key == m.class) {
            Some(g) => g.models.get_or_insert_with(Vec::new).extend(names),
            None => {
                let mut title = m.class.clone();
                if let Some(c) = title.get_mut(..1) {
                    c.make_ascii_uppercase();
                }
                out.push(Group {
                    kind: "model_group",
                    key: m.class.clone(),
                    display_name: Some(format!("Claude {title}")),
                    models: Some(names.collect()),
                    limits: model_limits(&org),
                });
            }
        }
    }
    out.push(Group { kind: "token_count", key: "count_tokens".into(), display_name: None, models: None, limits: vec![("requests_per_minute", org.count_tokens_rpm)] });
    out
}

fn group_filter(q: &Query) -> Result<Option<String>, ApiError> {
    match q.get("group_type") {
        None => Ok(None),
        Some(g) if GROUP_TYPES.contains(&g) => Ok(Some(g.to_string())),
        Some(_) => Err(ApiError::invalid("group_type: Input should be 'batch', 'files', 'model_group', 'skills', 'token_count' or 'web_search'")),
    }
}

/// `limit` (optional, 1–1000) and `page` (a cursor from `next_page`): the page and the next cursor.
fn page_of(items: Vec<Value>, q: &Query) -> Result<Value, ApiError> {
    let start = match q.get("page") {
        None => 0,
        Some(p) => {
            p.strip_prefix(PAGE_PREFIX).and_then(|n| n.parse::<usize>().ok()).filter(|n| *n <= items.len()).ok_or_else(|| ApiError::invalid("page: Invalid page cursor."))?
        }
    };
    let limit = match q.get("limit") {
        None => usize::MAX,
        Some(_) => q.int("limit", 1000, 1, 1000)? as usize,
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| format!("{PAGE_PREFIX}{end}"));
    let data: Vec<Value> = items.into_iter().skip(start).take(end - start).collect();
    Ok(json!({"data": data, "next_page": next}))
}

/// `GET /v1/organizations/rate_limits` (`group_type`, `model`, `limit`, `page`).
pub(crate) fn org_list(shared: &Arc<Shared>, q: &Query) -> Result<Response<Body>, ApiError> {
    let only = group_filter(q)?;
    let g = shared.lock();
    let mut items: Vec<Value> = Vec::new();
    for grp in groups(&g.state) {
        if only.as_deref().is_some_and(|t| t != grp.kind) {
            continue;
        }
        if let Some(m) = q.get("model") {
            if !grp.models.as_ref().is_some_and(|ms| ms.iter().any(|x| x == m)) {
                continue;
            }
        }
        let limits: Vec<Value> = grp.limits.iter().map(|(t, v)| json!({"type": t, "value": v})).collect();
        items.push(json!({"type": "rate_limit", "id": grp.entry_id(&g.state), "group": grp.group_json(), "models": grp.models, "limits": limits}));
    }
    if let Some(m) = q.get("model") {
        if items.is_empty() {
            return Err(ApiError::not_found_msg(format!("Model `{m}` has no rate limits for this organization.")));
        }
    }
    Ok(json_response(200, &page_of(items, q)?))
}

/// `GET /v1/organizations/workspaces/{id}/rate_limits` (`group_type`, `include_inherited`,
/// `limit`, `page`). Without `include_inherited`, only the groups and limiter types the
/// workspace overrides; with it, every group, each value marked by its `source`.
pub(crate) fn workspace_list(shared: &Arc<Shared>, id: &str, q: &Query) -> Result<Response<Body>, ApiError> {
    let only = group_filter(q)?;
    let inherited = q.bool("include_inherited", false)?;
    let g = shared.lock();
    // The Admin API does not show the Default Workspace (as `GET /workspaces/{id}`).
    let ws = g.state.workspaces.iter().find(|w| w.id == id && !w.is_default).ok_or_else(|| ApiError::not_found_msg(format!("Workspace `{id}` not found.")))?;
    let mut items: Vec<Value> = Vec::new();
    for grp in groups(&g.state) {
        if only.as_deref().is_some_and(|t| t != grp.kind) {
            continue;
        }
        // A workspace's limits apply to the model groups (the limiter has no workspace bucket
        // for token counting).
        let own: Vec<(&'static str, u64)> = match (&ws.rate_limits, grp.kind) {
            (Some(l), "model_group") => model_limits(l),
            _ => Vec::new(),
        };
        let mut limits: Vec<Value> = Vec::new();
        for (t, org_value) in &grp.limits {
            match own.iter().find(|(o, _)| o == t) {
                Some((_, v)) => limits.push(json!({"type": t, "value": v, "org_limit": org_value, "source": {"type": "workspace"}})),
                None if inherited => limits.push(json!({"type": t, "value": org_value, "org_limit": org_value, "source": {"type": "organization"}})),
                None => {}
            }
        }
        if limits.is_empty() {
            continue;
        }
        items.push(json!({
            "type": "workspace_rate_limit",
            "workspace_id": ws.id,
            "rate_limit_id": grp.entry_id(&g.state),
            "group": grp.group_json(),
            "models": grp.models,
            "limits": limits,
        }));
    }
    Ok(json_response(200, &page_of(items, q)?))
}
