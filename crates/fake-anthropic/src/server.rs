//! The HTTP front: routing, the common request pipeline of F2 (request id, credentials,
//! version, key lookup, workspace resolution, org state, injection), body limits, the
//! request log, and dispatch to the inference, admin and control handlers.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration as StdDuration;

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::inject::{self, ActiveInjection, ErrorInjection};
use crate::mint::MintedKey;
use crate::presets::Preset;
use crate::ratelimit::Buckets;
use crate::state::{KeyKind, KeyScope, KeyStatus, State, Workspace};
use crate::{admin, control, ids, inference, rate_limits, reports, spend_limits};

/// The beta flag that lets OAuth tokens call the API.
pub const OAUTH_BETA: &str = "oauth-2025-04-20";

/// One request as the fake saw it (never the raw key: only its SHA-256 and hint).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// 1, 2, 3… since start or the last clear.
    pub seq: u64,
    /// `GET`, `POST`…
    pub method: String,
    /// Path only.
    pub path: String,
    /// Raw query string (empty if none).
    pub query: String,
    /// `x-api-key`, `bearer`, or `None` when no credential was sent.
    pub auth_scheme: Option<String>,
    /// Hex SHA-256 of the presented key.
    pub api_key_sha256: Option<String>,
    /// `partial_key_hint` of the presented key.
    pub api_key_hint: Option<String>,
    /// The key id it resolved to, if any.
    pub api_key_id: Option<String>,
    /// Response status (200 for a stream that broke with `event: error`).
    pub status: u16,
    /// `stream: true` in the body.
    pub stream: bool,
    /// `model` from the body (or the path of `GET /v1/models/{id}`).
    pub model: Option<String>,
    /// The `request-id` returned.
    pub request_id: String,
    /// The fake clock's time.
    pub time: DateTime<Utc>,
    /// `anthropic-version` sent.
    pub anthropic_version: Option<String>,
    /// `anthropic-workspace-id` sent.
    pub workspace_header: Option<String>,
    /// `anthropic-beta` sent.
    pub anthropic_beta: Option<String>,
    /// `error.type` returned (also for an SSE error event).
    pub error_type: Option<String>,
}

/// Everything behind the server's mutex.
#[derive(Debug)]
pub(crate) struct Inner {
    pub state: State,
    pub initial: State,
    pub preset: Preset,
    pub fixture_keys: Vec<MintedKey>,
    pub initial_injections: Vec<ErrorInjection>,
    pub injections: Vec<ActiveInjection>,
    pub buckets: Buckets,
    pub requests: VecDeque<RecordedRequest>,
    pub next_seq: u64,
    pub state_file: Option<PathBuf>,
    pub dirty: bool,
}

impl Inner {
    pub fn new(state: State, preset: Preset, keys: Vec<MintedKey>, injections: Vec<ErrorInjection>) -> Self {
        Inner {
            initial: state.clone(),
            state,
            preset,
            fixture_keys: keys,
            injections: injections.iter().cloned().map(inject::activate).collect(),
            initial_injections: injections,
            buckets: Buckets::default(),
            requests: VecDeque::new(),
            next_seq: 1,
            state_file: None,
            dirty: false,
        }
    }

    /// Back to the start: initial state (same fixture secrets), no requests, fresh buckets,
    /// the preset's injections.
    pub fn reset(&mut self) {
        self.state = self.initial.clone();
        self.injections = self.initial_injections.iter().cloned().map(inject::activate).collect();
        self.buckets.clear();
        self.requests.clear();
        self.next_seq = 1;
        self.dirty = true;
    }

    /// Serialises the state if it changed and a state file is set; returns what to write.
    pub fn take_save(&mut self) -> Option<(PathBuf, String)> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        let path = self.state_file.clone()?;
        serde_json::to_string_pretty(&self.state).ok().map(|s| (path, s))
    }

    fn record(&mut self, mut rec: RecordedRequest) {
        rec.seq = self.next_seq;
        self.next_seq += 1;
        self.requests.push_back(rec);
        let max = self.state.knobs.max_recorded_requests.max(1);
        while self.requests.len() > max {
            self.requests.pop_front();
        }
    }
}

/// The shared server state.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(inner: Inner) -> Arc<Self> {
        Arc::new(Shared { inner: Mutex::new(inner) })
    }

    /// Locks, recovering from poisoning (a panic elsewhere must not take the fake down).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the state file if anything changed.
    pub fn save(&self) {
        let pending = self.lock().take_save();
        if let Some((path, json)) = pending {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, json).is_ok() {
                let _ = std::fs::rename(&tmp, &path);
            }
        }
    }
}

/// Formats a time like the API (`2024-10-30T23:58:27.427722Z`).
pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Adds `(name, value)` headers, skipping any that are not valid header text.
pub(crate) fn add_headers(resp: &mut Response<Body>, headers: &[(String, String)]) {
    for (k, v) in headers {
        if let (Ok(name), Ok(val)) = (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
            resp.headers_mut().insert(name, val);
        }
    }
}

/// A JSON response.
pub(crate) fn json_response(status: u16, v: &Value) -> Response<Body> {
    json_text_response(status, v.to_string())
}

/// A JSON body already serialized (a large report page built from typed values).
pub(crate) fn json_text_response(status: u16, text: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(text));
    *resp.status_mut() = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    resp.headers_mut().insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Reads a body of at most `max` bytes: 413 as soon as `content-length` (or the bytes read)
/// go over, without reading the rest; 30 s to arrive.
pub(crate) async fn read_body(parts: &Parts, body: Body, max: usize) -> Result<Bytes, ApiError> {
    if let Some(len) = parts.headers.get("content-length").and_then(|v| v.to_str().ok()) {
        match len.trim().parse::<u64>() {
            Ok(n) if n > max as u64 => return Err(ApiError::too_large()),
            Ok(_) => {}
            Err(_) => return Err(ApiError::invalid("Invalid content-length header.")),
        }
    }
    let limited = http_body_util::Limited::new(body, max);
    match tokio::time::timeout(StdDuration::from_secs(30), limited.collect()).await {
        Err(_) => Err(ApiError::new(408, "invalid_request_error", "Timed out reading the request body.")),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(ApiError::too_large()),
        Ok(Err(_)) => Err(ApiError::invalid("Could not read the request body.")),
        Ok(Ok(c)) => Ok(c.to_bytes()),
    }
}

/// Parses JSON with the API's message for bad JSON ("The request body is not valid JSON: …").
pub(crate) fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let (line, col) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {col}");
        let what = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
        let text = String::from_utf8_lossy(bytes);
        let mut pos = 0usize;
        for (i, l) in text.split('\n').enumerate() {
            if i + 1 == line {
                pos += col.saturating_sub(1).min(l.chars().count());
                break;
            }
            pos += l.chars().count() + 1;
        }
        ApiError::invalid(format!("The request body is not valid JSON: {what}: line {line} column {col} (char {pos})"))
    })
}

/// The routes of the Anthropic surface the fake implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    ModelsList,
    ModelGet(String),
    CountTokens,
    Messages,
    OrgMe,
    KeysList,
    KeyGet(String),
    KeyUpdate(String),
    WorkspacesList,
    WorkspaceCreate,
    WorkspaceGet(String),
    WorkspaceUpdate(String),
    WorkspaceArchive(String),
    UsageMessages,
    CostReport,
    OrgRateLimits,
    WorkspaceRateLimits(String),
    SpendLimits,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v1/")?;
        let segs: Vec<&str> = rest.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return None;
        }
        let get = *method == Method::GET;
        let post = *method == Method::POST;
        let r = match segs.as_slice() {
            ["models"] if get => Route::ModelsList,
            ["models", id] if get => Route::ModelGet((*id).into()),
            ["messages"] if post => Route::Messages,
            ["messages", "count_tokens"] if post => Route::CountTokens,
            ["organizations", "me"] if get => Route::OrgMe,
            ["organizations", "api_keys"] if get => Route::KeysList,
            ["organizations", "api_keys", id] if get => Route::KeyGet((*id).into()),
            ["organizations", "api_keys", id] if post => Route::KeyUpdate((*id).into()),
            ["organizations", "workspaces"] if get => Route::WorkspacesList,
            ["organizations", "workspaces"] if post => Route::WorkspaceCreate,
            ["organizations", "workspaces", id] if get => Route::WorkspaceGet((*id).into()),
            ["organizations", "workspaces", id] if post => Route::WorkspaceUpdate((*id).into()),
            ["organizations", "workspaces", id, "archive"] if post => Route::WorkspaceArchive((*id).into()),
            ["organizations", "usage_report", "messages"] if get => Route::UsageMessages,
            ["organizations", "cost_report"] if get => Route::CostReport,
            ["organizations", "rate_limits"] if get => Route::OrgRateLimits,
            ["organizations", "workspaces", id, "rate_limits"] if get => Route::WorkspaceRateLimits((*id).into()),
            ["organizations", "spend_limits"] if get => Route::SpendLimits,
            _ => return None,
        };
        Some(r)
    }

    fn is_admin(&self) -> bool {
        !matches!(self, Route::ModelsList | Route::ModelGet(_) | Route::CountTokens | Route::Messages)
    }
}

/// Per-request context: id, headers to add, the log entry being filled.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub request_id: String,
    pub headers: Vec<(String, String)>,
    pub rec: RecordedRequest,
}

/// Who is calling, after authentication.
#[derive(Debug)]
pub(crate) struct Auth {
    pub key_id: String,
    pub kind: KeyKind,
    /// The resolved workspace (inference only).
    pub workspace: Option<Workspace>,
}

/// The axum handler for every request.
pub(crate) async fn handle(AxState(shared): AxState<Arc<Shared>>, req: Request<Body>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/__fake" || path.starts_with("/__fake/") {
        let resp = control::handle(&shared, req).await;
        shared.save();
        return resp;
    }
    let request_id = ids::request_id();
    let now = shared.lock().state.now();
    let headers = req.headers();
    let rec = RecordedRequest {
        seq: 0,
        method: req.method().to_string(),
        path: path.clone(),
        query: req.uri().query().unwrap_or("").to_string(),
        auth_scheme: None,
        api_key_sha256: None,
        api_key_hint: None,
        api_key_id: None,
        status: 0,
        stream: false,
        model: None,
        request_id: request_id.clone(),
        time: now,
        anthropic_version: header_str(headers, "anthropic-version"),
        workspace_header: header_str(headers, "anthropic-workspace-id"),
        anthropic_beta: header_str(headers, "anthropic-beta"),
        error_type: None,
    };
    let mut ctx = Ctx { request_id, headers: Vec::new(), rec };
    let mut resp = match pipeline(&shared, req, &mut ctx).await {
        Ok(r) => r,
        Err(e) => {
            ctx.rec.error_type = Some(e.error_type.clone());
            e.into_response(&ctx.request_id)
        }
    };
    add_headers(&mut resp, &ctx.headers);
    if let Ok(v) = HeaderValue::from_str(&ctx.request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    ctx.rec.status = resp.status().as_u16();
    shared.lock().record(ctx.rec);
    shared.save();
    resp
}

async fn pipeline(shared: &Arc<Shared>, req: Request<Body>, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
    let (parts, body) = req.into_parts();
    // 1. Routing.
    let route = Route::parse(&parts.method, parts.uri.path()).ok_or_else(ApiError::not_found)?;
    if let Route::ModelGet(id) = &route {
        ctx.rec.model = Some(id.clone());
    }
    // 3–8 under the lock (no await inside).
    let auth = {
        let mut g = shared.lock();
        authenticate(&mut g, &parts, &route, ctx)?
    };
    let query = crate::query::Query::parse(parts.uri.query());
    match route {
        Route::ModelsList => inference::models_list(shared, &query, ctx),
        Route::ModelGet(id) => inference::model_get(shared, &id, ctx),
        Route::CountTokens => inference::count_tokens(shared, &parts, body, &auth, ctx).await,
        Route::Messages => inference::messages(shared, &parts, body, &auth, ctx).await,
        Route::OrgMe => admin::org_me(shared),
        Route::KeysList => admin::keys_list(shared, &query),
        Route::KeyGet(id) => admin::key_get(shared, &id),
        Route::KeyUpdate(id) => {
            let v = admin_body(shared, &parts, body).await?;
            admin::key_update(shared, &id, &v)
        }
        Route::WorkspacesList => admin::workspaces_list(shared, &query),
        Route::WorkspaceCreate => {
            let v = admin_body(shared, &parts, body).await?;
            admin::workspace_create(shared, &v)
        }
        Route::WorkspaceGet(id) => admin::workspace_get(shared, &id),
        Route::WorkspaceUpdate(id) => {
            let v = admin_body(shared, &parts, body).await?;
            admin::workspace_update(shared, &id, &v)
        }
        Route::WorkspaceArchive(id) => admin::workspace_archive(shared, &id),
        Route::UsageMessages => reports::usage_report(shared, &query),
        Route::CostReport => reports::cost_report(shared, &query),
        Route::OrgRateLimits => rate_limits::org_list(shared, &query),
        Route::WorkspaceRateLimits(id) => rate_limits::workspace_list(shared, &id, &query),
        Route::SpendLimits => spend_limits::list(shared, &parts.headers, &query),
    }
}

async fn admin_body(shared: &Arc<Shared>, parts: &Parts, body: Body) -> Result<Value, ApiError> {
    let max = shared.lock().state.knobs.max_body_bytes;
    let bytes = read_body(parts, body, max).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    parse_json(&bytes)
}

/// Steps 3–8 of the pipeline.
fn authenticate(g: &mut Inner, parts: &Parts, route: &Route, ctx: &mut Ctx) -> Result<Auth, ApiError> {
    let headers = &parts.headers;
    let knobs = g.state.knobs.clone();
    // 3. Credential extraction.
    let xkey = header_str(headers, "x-api-key");
    let bearer = header_str(headers, "authorization").and_then(|v| {
        let v = v.trim();
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_string())
    });
    let (scheme, secret) = match (xkey, bearer) {
        (Some(x), Some(b)) => {
            if knobs.prefer_bearer {
                ("bearer", b)
            } else {
                ("x-api-key", x)
            }
        }
        (Some(x), None) => ("x-api-key", x),
        (None, Some(b)) => ("bearer", b),
        (None, None) => return Err(ApiError::auth(knobs.missing_auth_message)),
    };
    let hash = ids::sha256_hex(&secret);
    ctx.rec.auth_scheme = Some(scheme.into());
    ctx.rec.api_key_sha256 = Some(hash.clone());
    ctx.rec.api_key_hint = Some(ids::partial_key_hint(&secret));
    let invalid = || ApiError::auth(if scheme == "bearer" { knobs.invalid_bearer_message.clone() } else { knobs.invalid_api_key_message.clone() });
    // 4. Version.
    match header_str(headers, "anthropic-version") {
        None => return Err(ApiError::invalid(knobs.missing_version_message.clone())),
        Some(v) if !knobs.accepted_versions.iter().any(|a| *a == v.trim()) => {
            return Err(ApiError::invalid(format!("anthropic-version: \"{}\" is not a valid version", v.trim())));
        }
        Some(_) => {}
    }
    // 5. Key lookup.
    let beta_oauth = header_str(headers, "anthropic-beta").is_some_and(|b| b.split(',').any(|f| f.trim() == OAUTH_BETA));
    if secret.starts_with(ids::OAUTH_TOKEN_PREFIX) && !beta_oauth {
        return Err(ApiError::auth("OAuth authentication is currently not supported."));
    }
    let now = g.state.now();
    let Some(key) = g.state.keys.iter_mut().find(|k| k.secret_sha256 == hash) else {
        return Err(invalid());
    };
    if key.refresh_expiry(now) {
        g.dirty = true;
    }
    let key = key.clone();
    ctx.rec.api_key_id = Some(key.id.clone());
    if key.status != KeyStatus::Active {
        return Err(invalid());
    }
    let admin_route = route.is_admin();
    match (key.kind, admin_route) {
        (KeyKind::Oauth, false) if !beta_oauth => return Err(ApiError::auth("OAuth authentication is currently not supported.")),
        (KeyKind::Admin, false) => {
            let st = knobs.admin_key_on_inference_status;
            return Err(ApiError::new(st, inject::default_type(st), knobs.admin_key_on_inference_message.clone()));
        }
        (KeyKind::Oauth, true) => {
            return Err(ApiError::permission("OAuth token does not meet scope requirement org:admin"));
        }
        (KeyKind::Api, true) => match key.scope {
            KeyScope::Workspace { .. } => {
                let st = knobs.workspace_key_on_admin_status;
                return Err(ApiError::new(st, inject::default_type(st), knobs.workspace_key_on_admin_message.clone()));
            }
            KeyScope::Organization if !key.org_admin => {
                return Err(ApiError::permission("This API key's principal is not an organization admin, so it cannot use the Admin API."));
            }
            KeyScope::Organization => {}
        },
        _ => {}
    }

    let mut workspace = None;
    if !admin_route {
        ctx.headers.push(("anthropic-organization-id".into(), g.state.org.id.clone()));
        // 6. Workspace resolution.
        let header = header_str(headers, "anthropic-workspace-id").map(|h| h.trim().to_string());
        let ws = match (&key.scope, key.kind) {
            (KeyScope::Workspace { workspace_id }, _) => g.state.workspace(workspace_id).cloned(),
            (KeyScope::Organization, KeyKind::Oauth) => g.state.default_workspace().cloned(),
            (KeyScope::Organization, _) => {
                let Some(h) = header else {
                    return Err(ApiError::invalid(
                        "anthropic-workspace-id is required when authenticating with an identity-linked API key; send the id of the workspace this request acts in.",
                    ));
                };
                if !ids::is_valid_workspace_id(&h) {
                    return Err(ApiError::invalid("anthropic-workspace-id header must be a valid workspace ID."));
                }
                match g.state.workspace(&h) {
                    Some(w) if w.archived_at.is_none() => Some(w.clone()),
                    _ => return Err(ApiError::not_found_msg(format!("Workspace `{h}` not found."))),
                }
            }
        };
        let Some(ws) = ws else { return Err(invalid()) };
        if ws.archived_at.is_some() {
            return Err(invalid());
        }
        ctx.headers.push(("anthropic-workspace-id".into(), ws.id.clone()));
        // 7. Org state.
        if g.state.org.disabled {
            return Err(ApiError::invalid("This organization has been disabled."));
        }
        if !g.state.org.credit_ok {
            let blocked = match route {
                Route::Messages => true,
                Route::CountTokens => g.state.org.count_tokens_reports_credit,
                _ => !knobs.models_ok_without_credit,
            };
            if blocked {
                return Err(ApiError::invalid(CREDIT_MESSAGE));
            }
        }
        workspace = Some(ws);
    }
    // 8. Injection.
    if let Some(inj) = inject::take(&mut g.injections, parts.uri.path(), false) {
        let mut e = ApiError::new(inj.status, &inj.effective_type(), inj.effective_message());
        e.retry_after = inj.retry_after;
        e.body_mode = inj.body_mode;
        return Err(e);
    }
    if admin_route {
        if let Err(wait) = g.buckets.check_admin(&g.state) {
            let mut e = ApiError::new(429, "rate_limit_error", "Admin API rate limit exceeded. Please slow down your requests.");
            e.retry_after = Some(wait);
            return Err(e);
        }
    }
    Ok(Auth { key_id: key.id, kind: key.kind, workspace })
}

/// The credit-balance message [OBS].
pub const CREDIT_MESSAGE: &str = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.";
