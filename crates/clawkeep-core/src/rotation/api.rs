//! The small Anthropic HTTP client rotation needs: the free probe (`GET /v1/models?limit=1`)
//! and the Admin API calls (list/get/update API keys, usage report by key). Blocking on the
//! outside (core is blocking), async reqwest with rustls inside, with bounded timeouts and
//! bounded pagination. Deliberately minimal and self-contained so it can be swapped for the
//! shared client (`anthropic.rs`, branch `checklist`) once that lands.
//!
//! Secrets go only into the `x-api-key` header; nothing here logs or returns one.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

pub const ANTHROPIC_VERSION: &str = "2023-06-01";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound on pages fetched from any list endpoint.
const MAX_PAGES: usize = 50;

/// Why a call did not produce an answer, or the API's error envelope.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the Anthropic API at {base_url}: {detail}")]
    Transport { base_url: String, detail: String },
    #[error("the Anthropic API answered {status} {error_type}: {message} (request-id {request_id})")]
    Api { status: u16, error_type: String, message: String, request_id: String },
    #[error("unexpected answer from the Anthropic API: {0}")]
    Decode(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// What the free probe saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ProbeResult {
    pub status: u16,
    pub workspace_id: Option<String>,
    pub organization_id: Option<String>,
    pub request_id: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
}

impl ProbeResult {
    pub fn ok(&self) -> bool {
        self.status == 200
    }
}

/// An API key as the Admin API describes it (never the secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdminKey {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub partial_key_hint: Option<String>,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct Page<T> {
    data: Vec<T>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct UsageBucket {
    #[serde(default)]
    results: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// A blocking client for one base URL.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    http: reqwest::Client,
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

impl Client {
    pub fn new(base_url: &str) -> Result<Client, ApiError> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("clawkeep/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Transport { base_url: base_url.into(), detail: e.to_string() })?;
        Ok(Client { base_url: base_url.trim_end_matches('/').to_string(), http })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output, ApiError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ApiError::Transport { base_url: self.base_url.clone(), detail: format!("cannot start the I/O runtime: {e}") })?;
        Ok(rt.block_on(f))
    }

    fn transport(&self, e: reqwest::Error) -> ApiError {
        // reqwest's Display can include the URL (never a header): fine to show.
        ApiError::Transport { base_url: self.base_url.clone(), detail: e.to_string() }
    }

    /// Sends a request with the key; returns status, headers and body text.
    fn send(&self, key: &Secret, method: reqwest::Method, path_and_query: &str, body: Option<serde_json::Value>) -> Result<(u16, reqwest::header::HeaderMap, String), ApiError> {
        let url = format!("{}{}", self.base_url, path_and_query);
        self.block_on(async {
            let mut req = self
                .http
                .request(method, &url)
                .header("x-api-key", key.expose())
                .header("anthropic-version", ANTHROPIC_VERSION);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.map_err(|e| self.transport(e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let text = resp.text().await.map_err(|e| self.transport(e))?;
            Ok((status, headers, text))
        })?
    }

    fn api_error(status: u16, headers: &reqwest::header::HeaderMap, text: &str) -> ApiError {
        match serde_json::from_str::<ErrorEnvelope>(text) {
            Ok(env) => ApiError::Api {
                status,
                error_type: env.error.kind,
                message: env.error.message,
                request_id: env.request_id.or_else(|| header(headers, "request-id")).unwrap_or_default(),
            },
            Err(_) => ApiError::Api {
                status,
                error_type: "unknown".into(),
                message: text.chars().take(200).collect(),
                request_id: header(headers, "request-id").unwrap_or_default(),
            },
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, key: &Secret, method: reqwest::Method, pq: &str, body: Option<serde_json::Value>) -> Result<T, ApiError> {
        let (status, headers, text) = self.send(key, method, pq, body)?;
        if status != 200 {
            return Err(Self::api_error(status, &headers, &text));
        }
        serde_json::from_str(&text).map_err(|e| ApiError::Decode(format!("{pq}: {e}")))
    }

    /// The free probe: `GET /v1/models?limit=1`. A non-200 answer is a result, not an error.
    pub fn probe(&self, key: &Secret) -> Result<ProbeResult, ApiError> {
        let (status, headers, text) = self.send(key, reqwest::Method::GET, "/v1/models?limit=1", None)?;
        let (error_type, error_message) = if status == 200 {
            (None, None)
        } else {
            match Self::api_error(status, &headers, &text) {
                ApiError::Api { error_type, message, .. } => (Some(error_type), Some(message)),
                _ => (None, None),
            }
        };
        Ok(ProbeResult {
            status,
            workspace_id: header(&headers, "anthropic-workspace-id"),
            organization_id: header(&headers, "anthropic-organization-id"),
            request_id: header(&headers, "request-id"),
            error_type,
            error_message,
        })
    }

    /// Every API key (optionally of one workspace), following pagination (bounded).
    pub fn list_keys(&self, admin: &Secret, workspace_id: Option<&str>) -> Result<Vec<AdminKey>, ApiError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = form_query(&[("limit", "100")]);
            if let Some(w) = workspace_id {
                q.push_str(&format!("&workspace_id={}", enc(w)));
            }
            if let Some(a) = &after {
                q.push_str(&format!("&after_id={}", enc(a)));
            }
            let page: Page<AdminKey> = self.json(admin, reqwest::Method::GET, &format!("/v1/organizations/api_keys?{q}"), None)?;
            let more = page.has_more;
            after = page.last_id.clone();
            out.extend(page.data);
            if !more || after.is_none() {
                return Ok(out);
            }
        }
        Ok(out)
    }

    pub fn get_key(&self, admin: &Secret, id: &str) -> Result<AdminKey, ApiError> {
        self.json(admin, reqwest::Method::GET, &format!("/v1/organizations/api_keys/{}", enc(id)), None)
    }

    /// `POST /v1/organizations/api_keys/{id}` `{status}`: `active`, `inactive` or `archived`.
    pub fn set_key_status(&self, admin: &Secret, id: &str, status: &str) -> Result<AdminKey, ApiError> {
        self.json(admin, reqwest::Method::POST, &format!("/v1/organizations/api_keys/{}", enc(id)), Some(serde_json::json!({ "status": status })))
    }

    /// Tokens (input of every kind plus output) used by one key since `since`, from the
    /// usage report (1h buckets, grouped by `api_key_id`), following pagination (bounded).
    pub fn key_usage_since(&self, admin: &Secret, key_id: &str, since: DateTime<Utc>) -> Result<u64, ApiError> {
        let start = since.format("%Y-%m-%dT%H:00:00Z").to_string();
        let mut total = 0u64;
        let mut page: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut q = form_query(&[("starting_at", &start), ("bucket_width", "1h"), ("limit", "168"), ("group_by[]", "api_key_id"), ("api_key_ids[]", key_id)]);
            if let Some(p) = &page {
                q.push_str(&format!("&page={}", enc(p)));
            }
            let resp: Page<UsageBucket> = self.json(admin, reqwest::Method::GET, &format!("/v1/organizations/usage_report/messages?{q}"), None)?;
            for b in &resp.data {
                for r in &b.results {
                    if r.get("api_key_id").and_then(|v| v.as_str()) != Some(key_id) {
                        continue;
                    }
                    total += tokens_of(r);
                }
            }
            match (resp.has_more, resp.next_page) {
                (true, Some(n)) => page = Some(n),
                _ => return Ok(total),
            }
        }
        Ok(total)
    }
}

fn tokens_of(r: &serde_json::Value) -> u64 {
    let n = |p: &str| r.pointer(p).and_then(|v| v.as_u64()).unwrap_or(0);
    n("/uncached_input_tokens")
        + n("/cache_read_input_tokens")
        + n("/output_tokens")
        + n("/cache_creation/ephemeral_5m_input_tokens")
        + n("/cache_creation/ephemeral_1h_input_tokens")
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass).
fn enc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

fn form_query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}
