//! Admin API (F5, §1.6): organisation, API keys (list/get/update, never create), workspaces
//! (list/create/get/update/archive, archiving revokes the workspace's keys).

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::query::{paginate, Query};
use crate::server::{fmt_time, json_response, Shared};
use crate::state::{ApiKey, KeyKind, KeyScope, KeyStatus, State, Workspace};

/// The Admin API's view of a key (never the secret).
pub(crate) fn key_json(state: &State, k: &ApiKey) -> Value {
    let scope = match &k.scope {
        KeyScope::Workspace { workspace_id } => json!({"type": "workspace", "workspace_id": workspace_id}),
        KeyScope::Organization => json!({"type": "organization"}),
    };
    json!({
        "type": "api_key",
        "id": k.id,
        "name": k.name,
        "created_at": fmt_time(k.created_at),
        "created_by": k.created_by.as_ref().map(|a| json!({"id": a.id, "type": a.kind})),
        "expires_at": k.expires_at.map(fmt_time),
        "partial_key_hint": k.partial_key_hint,
        "principal": k.principal_user_id.as_ref().map(|u| json!({"type": "user_actor", "user_id": u})),
        "scope": scope,
        "status": k.status.as_str(),
        "workspace_id": state.public_workspace_id(k.workspace_id()),
    })
}

pub(crate) fn workspace_json(w: &Workspace) -> Value {
    json!({
        "type": "workspace",
        "id": w.id,
        "name": w.name,
        "display_color": w.display_color,
        "created_at": fmt_time(w.created_at),
        "archived_at": w.archived_at.map(fmt_time),
    })
}

fn list_envelope(data: Vec<Value>, has_more: bool) -> Value {
    let first = data.first().and_then(|v| v.get("id")).cloned().unwrap_or(Value::Null);
    let last = data.last().and_then(|v| v.get("id")).cloned().unwrap_or(Value::Null);
    json!({"data": data, "has_more": has_more, "first_id": first, "last_id": last})
}

fn key_not_found(id: &str) -> ApiError {
    ApiError::not_found_msg(format!("API key `{id}` not found."))
}

fn workspace_not_found(id: &str) -> ApiError {
    ApiError::not_found_msg(format!("Workspace `{id}` not found."))
}

/// `GET /v1/organizations/me`.
pub(crate) fn org_me(shared: &Arc<Shared>) -> Result<Response<Body>, ApiError> {
    let g = shared.lock();
    Ok(json_response(200, &json!({"id": g.state.org.id, "type": "organization", "name": g.state.org.name})))
}

/// `GET /v1/organizations/api_keys`.
pub(crate) fn keys_list(shared: &Arc<Shared>, q: &Query) -> Result<Response<Body>, ApiError> {
    let limit = q.int("limit", 20, 1, 1000)? as usize;
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(KeyStatus::parse(s).ok_or_else(|| ApiError::invalid("status: Input should be 'active', 'inactive', 'archived' or 'expired'"))?),
    };
    let mut g = shared.lock();
    if g.state.refresh_expiry() {
        g.dirty = true;
    }
    let ws_filter = q.get("workspace_id");
    let user_filter = q.get("created_by_user_id");
    let mut keys: Vec<&ApiKey> = g
        .state
        .keys
        .iter()
        .filter(|k| k.kind == KeyKind::Api)
        .filter(|k| status.is_none_or(|s| k.status == s))
        .filter(|k| ws_filter.is_none_or(|w| g.state.public_workspace_id(k.workspace_id()).as_deref() == Some(w)))
        .filter(|k| user_filter.is_none_or(|u| k.created_by.as_ref().is_some_and(|a| a.id == u)))
        .collect();
    keys.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let (page, more) = paginate(keys, |k| k.id.as_str(), limit, q.get("after_id"), q.get("before_id"));
    let data = page.iter().map(|k| key_json(&g.state, k)).collect();
    Ok(json_response(200, &list_envelope(data, more)))
}

/// `GET /v1/organizations/api_keys/{id}`.
pub(crate) fn key_get(shared: &Arc<Shared>, id: &str) -> Result<Response<Body>, ApiError> {
    let mut g = shared.lock();
    let now = g.state.now();
    let Some(k) = g.state.keys.iter_mut().find(|k| k.id == id && k.kind == KeyKind::Api) else {
        return Err(key_not_found(id));
    };
    let changed = k.refresh_expiry(now);
    let k = k.clone();
    g.dirty |= changed;
    Ok(json_response(200, &key_json(&g.state, &k)))
}

/// `POST /v1/organizations/api_keys/{id}` `{name?, status?}`.
pub(crate) fn key_update(shared: &Arc<Shared>, id: &str, body: &Value) -> Result<Response<Body>, ApiError> {
    let o = body.as_object().ok_or_else(|| ApiError::invalid("Input should be a valid dictionary"))?;
    let name = match o.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < 1 {
                return Err(ApiError::invalid("name: String should have at least 1 character"));
            }
            if n > 500 {
                return Err(ApiError::invalid("name: String should have at most 500 characters"));
            }
            Some(s.clone())
        }
        Some(_) => return Err(ApiError::invalid("name: Input should be a valid string")),
    };
    let status = match o.get("status") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if matches!(s.as_str(), "active" | "inactive" | "archived") => KeyStatus::parse(s),
        Some(_) => return Err(ApiError::invalid("status: Input should be 'active', 'inactive' or 'archived'")),
    };
    let mut g = shared.lock();
    let now = g.state.now();
    let bad_status = g.state.knobs.invalid_transition_status;
    let Some(k) = g.state.keys.iter_mut().find(|k| k.id == id && k.kind == KeyKind::Api) else {
        return Err(key_not_found(id));
    };
    k.refresh_expiry(now);
    if let Some(to) = status {
        let allowed = match (k.status, to) {
            (a, b) if a == b => true,
            (_, KeyStatus::Archived) => true,
            (KeyStatus::Archived, _) => false,
            (KeyStatus::Expired, _) => false,
            (KeyStatus::Active | KeyStatus::Inactive, KeyStatus::Active | KeyStatus::Inactive) => true,
            _ => false,
        };
        if !allowed {
            let msg = match k.status {
                KeyStatus::Archived => "Archived API keys cannot be modified.".to_string(),
                KeyStatus::Expired => "Expired API keys can only be archived.".to_string(),
                s => format!("Cannot change API key status from {} to {}.", s.as_str(), to.as_str()),
            };
            return Err(ApiError::new(bad_status, crate::inject::default_type(bad_status), msg));
        }
        k.status = to;
    }
    if let Some(n) = name {
        if k.status == KeyStatus::Archived && status.is_none() {
            return Err(ApiError::new(bad_status, crate::inject::default_type(bad_status), "Archived API keys cannot be modified."));
        }
        k.name = n;
    }
    let k = k.clone();
    g.dirty = true;
    Ok(json_response(200, &key_json(&g.state, &k)))
}

/// `GET /v1/organizations/workspaces`.
pub(crate) fn workspaces_list(shared: &Arc<Shared>, q: &Query) -> Result<Response<Body>, ApiError> {
    let limit = q.int("limit", 20, 1, 1000)? as usize;
    let include_archived = q.bool("include_archived", false)?;
    let g = shared.lock();
    let include_default = q.bool("include_default", g.state.knobs.workspaces_include_default)?;
    let mut ws: Vec<&Workspace> = g.state.workspaces.iter().filter(|w| include_archived || w.archived_at.is_none()).filter(|w| include_default || !w.is_default).collect();
    ws.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let (page, more) = paginate(ws, |w| w.id.as_str(), limit, q.get("after_id"), q.get("before_id"));
    Ok(json_response(200, &list_envelope(page.into_iter().map(workspace_json).collect(), more)))
}

fn workspace_name(body: &Value) -> Result<Option<String>, ApiError> {
    let o = body.as_object().ok_or_else(|| ApiError::invalid("Input should be a valid dictionary"))?;
    match o.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let n = s.chars().count();
            if n < 1 {
                Err(ApiError::invalid("name: String should have at least 1 character"))
            } else if n > 40 {
                Err(ApiError::invalid("name: String should have at most 40 characters"))
            } else {
                Ok(Some(s.clone()))
            }
        }
        Some(_) => Err(ApiError::invalid("name: Input should be a valid string")),
    }
}

/// `POST /v1/organizations/workspaces` `{name}`.
pub(crate) fn workspace_create(shared: &Arc<Shared>, body: &Value) -> Result<Response<Body>, ApiError> {
    let name = workspace_name(body)?.ok_or_else(|| ApiError::invalid("name: Field required"))?;
    let mut g = shared.lock();
    let active = g.state.workspaces.iter().filter(|w| w.archived_at.is_none()).count();
    if active >= 100 {
        return Err(ApiError::invalid("You have reached the maximum number of workspaces (100) for this organization."));
    }
    const COLORS: [&str; 6] = ["#6C5BB9", "#2E86AB", "#E07A5F", "#3D9970", "#F2A541", "#B56576"];
    let w = Workspace {
        id: crate::ids::prefixed_id("wrkspc"),
        name,
        display_color: COLORS[g.state.workspaces.len() % COLORS.len()].into(),
        created_at: g.state.now(),
        archived_at: None,
        is_default: false,
        rate_limits: None,
    };
    g.state.workspaces.push(w.clone());
    g.dirty = true;
    Ok(json_response(200, &workspace_json(&w)))
}

fn visible_workspace<'a>(state: &'a State, id: &str) -> Result<&'a Workspace, ApiError> {
    state.workspaces.iter().find(|w| w.id == id && !w.is_default).ok_or_else(|| workspace_not_found(id))
}

/// `GET /v1/organizations/workspaces/{id}`.
pub(crate) fn workspace_get(shared: &Arc<Shared>, id: &str) -> Result<Response<Body>, ApiError> {
    let g = shared.lock();
    Ok(json_response(200, &workspace_json(visible_workspace(&g.state, id)?)))
}

/// `POST /v1/organizations/workspaces/{id}` `{name}`.
pub(crate) fn workspace_update(shared: &Arc<Shared>, id: &str, body: &Value) -> Result<Response<Body>, ApiError> {
    let name = workspace_name(body)?;
    let mut g = shared.lock();
    visible_workspace(&g.state, id)?;
    let Some(w) = g.state.workspaces.iter_mut().find(|w| w.id == id) else { return Err(workspace_not_found(id)) };
    if w.archived_at.is_some() {
        return Err(ApiError::invalid("Archived workspaces cannot be modified."));
    }
    if let Some(n) = name {
        w.name = n;
    }
    let w = w.clone();
    g.dirty = true;
    Ok(json_response(200, &workspace_json(&w)))
}

/// `POST /v1/organizations/workspaces/{id}/archive`: also archives every key in it.
pub(crate) fn workspace_archive(shared: &Arc<Shared>, id: &str) -> Result<Response<Body>, ApiError> {
    let mut g = shared.lock();
    visible_workspace(&g.state, id)?;
    let now = g.state.now();
    let Some(w) = g.state.workspaces.iter_mut().find(|w| w.id == id) else { return Err(workspace_not_found(id)) };
    if w.archived_at.is_none() {
        w.archived_at = Some(now);
    }
    let w = w.clone();
    for k in g.state.keys.iter_mut().filter(|k| k.workspace_id() == Some(id)) {
        k.status = KeyStatus::Archived;
    }
    g.dirty = true;
    Ok(json_response(200, &workspace_json(&w)))
}
