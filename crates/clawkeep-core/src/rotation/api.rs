//! What rotation needs from the Anthropic API: the free probe (`GET /v1/models?limit=1`) and the
//! Admin API calls (list/get/update API keys, usage report by key; the cost trail's configured
//! rate limits and spend limits too), with the answers typed the way the rotation state stores them. Blocking on
//! the outside (core is blocking); every request goes through the shared [`AnthropicClient`]
//! (bounded timeouts, no redirects, one retry on a connection failure only), with bounded
//! pagination here.
//!
//! Secrets go only into the `x-api-key` header; nothing here logs or returns one.

use crate::cost::wire::enc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::anthropic::{AnthropicClient, Probe, ProbeError};
use crate::cost::limits::{self, RateLimitEntry};
use crate::cost::spend_limits::{self, SpendLimit};
use crate::secret::Secret;

pub use crate::anthropic::ANTHROPIC_VERSION;
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

impl AdminKey {
    /// Whether this Admin API record can describe the key `secret`: the API's
    /// `partial_key_hint` (`sk-ant-api03-R2D...igAA`: the first 16 and the last 4 characters
    /// around `...`) is checked against the value itself, not against Clawkeep's own hint,
    /// whose format differs for short values. A missing or shorter hint never matches: it
    /// cannot tell two keys of the same kind apart.
    pub fn hint_fits(&self, secret: &Secret) -> bool {
        self.partial_key_hint.as_deref().is_some_and(|h| partial_hint_fits(h, secret.expose()))
    }
}

/// See [`AdminKey::hint_fits`].
fn partial_hint_fits(hint: &str, value: &str) -> bool {
    let Some((head, tail)) = hint.split_once("...").or_else(|| hint.split_once('\u{2026}')) else {
        return false;
    };
    let (h, t, v) = (head.chars().count(), tail.chars().count(), value.chars().count());
    h >= 16 && t >= 4 && h + t < v && value.starts_with(head) && value.ends_with(tail)
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

/// A blocking client for one base URL, over the shared async [`AnthropicClient`] (one HTTP
/// stack, one timeout and redirect policy, one error envelope parser for the whole product).
#[derive(Debug, Clone)]
pub struct Client {
    inner: AnthropicClient,
}

impl Client {
    pub fn new(base_url: &str) -> Result<Client, ApiError> {
        let inner = AnthropicClient::with_timeout(base_url, REQUEST_TIMEOUT).map_err(|e| ApiError::Transport { base_url: base_url.into(), detail: e.to_string() })?;
        Ok(Client { inner })
    }

    /// A client for the usage and cost reports: pages up to 256 MiB, 120 s per request.
    pub fn for_reports(base_url: &str) -> Result<Client, ApiError> {
        let inner = AnthropicClient::with_timeout(base_url, Duration::from_secs(120))
            .map_err(|e| ApiError::Transport { base_url: base_url.into(), detail: e.to_string() })?
            .with_max_body(256 << 20);
        Ok(Client { inner })
    }

    pub fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// Through core's one blocking↔async bridge ([`crate::runtime::block_on`]).
    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output, ApiError> {
        crate::runtime::block_on(f).map_err(|e| ApiError::Transport { base_url: self.base_url().to_string(), detail: e.to_string() })
    }

    /// Sends a request with the key; any HTTP status is an answer (a [`Probe`]).
    pub(crate) fn send(&self, key: &Secret, method: reqwest::Method, path_and_query: &str, body: Option<serde_json::Value>) -> Result<Probe, ApiError> {
        self.block_on(self.inner.request(method, path_and_query, key, body))?.map_err(|e| {
            let detail = match e {
                ProbeError::Connect { message, .. } => message,
                ProbeError::Timeout { secs, .. } => format!("no answer within {secs} s"),
                other => other.to_string(),
            };
            ApiError::Transport { base_url: self.base_url().to_string(), detail }
        })
    }

    /// A GET whose success body the caller parses itself (report pages): see
    /// [`AnthropicClient::request_raw`].
    pub(crate) fn get_raw(&self, key: &Secret, path_and_query: &str) -> Result<(Probe, Vec<u8>), ApiError> {
        self.block_on(self.inner.request_raw(path_and_query, key))?.map_err(|e| self.transport(e))
    }

    fn transport(&self, e: ProbeError) -> ApiError {
        let detail = match e {
            ProbeError::Connect { message, .. } => message,
            ProbeError::Timeout { secs, .. } => format!("no answer within {secs} s"),
            other => other.to_string(),
        };
        ApiError::Transport { base_url: self.base_url().to_string(), detail }
    }

    pub(crate) fn api_error(p: &Probe) -> ApiError {
        let (error_type, message) = p.error.as_ref().map(|e| (e.kind.clone(), e.message.clone())).unwrap_or_else(|| ("unknown".into(), String::new()));
        ApiError::Api { status: p.status, error_type, message, request_id: p.request_id.clone().unwrap_or_default() }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, key: &Secret, method: reqwest::Method, pq: &str, body: Option<serde_json::Value>) -> Result<T, ApiError> {
        let p = self.send(key, method, pq, body)?;
        if p.status != 200 {
            return Err(Self::api_error(&p));
        }
        serde_json::from_value(p.body).map_err(|e| ApiError::Decode(format!("{pq}: {e}")))
    }

    /// The free probe: `GET /v1/models?limit=1`. A non-200 answer is a result, not an error.
    pub fn probe(&self, key: &Secret) -> Result<ProbeResult, ApiError> {
        let p = self.send(key, reqwest::Method::GET, "/v1/models?limit=1", None)?;
        let (error_type, error_message) = match (&p.error, p.status) {
            (_, 200) | (None, _) => (None, None),
            (Some(e), _) => (Some(e.kind.clone()), Some(e.message.clone())),
        };
        Ok(ProbeResult { status: p.status, workspace_id: p.workspace_id, organization_id: p.organization_id, request_id: p.request_id, error_type, error_message })
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

    /// Anthropic's configured rate limits: the organisation's (`workspace: None`), or one
    /// workspace's with the values it inherits (each marked by its source), following
    /// `next_page` (bounded by [`limits::MAX_PAGES`]). `fetched_at` stamps every entry.
    pub fn rate_limits(&self, admin: &Secret, workspace: Option<&str>, fetched_at: DateTime<Utc>) -> Result<Vec<RateLimitEntry>, ApiError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..limits::MAX_PAGES {
            let pq = limits::page_query(workspace, page.as_deref());
            let (p, body) = self.get_raw(admin, &pq)?;
            if p.status != 200 {
                return Err(Self::api_error(&p));
            }
            let parsed = match workspace {
                None => limits::parse_org(&body, fetched_at),
                Some(w) => limits::parse_workspace(&body, w, fetched_at),
            }
            .map_err(ApiError::Decode)?;
            out.extend(parsed.entries);
            match parsed.next_page {
                Some(n) if Some(&n) != page.as_ref() => page = Some(n),
                Some(_) => return Err(ApiError::Decode(format!("{pq}: next_page repeats the page just read"))),
                None => return Ok(out),
            }
        }
        Err(ApiError::Decode(format!("the rate limits list kept answering next_page after {} pages", limits::MAX_PAGES)))
    }

    /// Anthropic's spend limits (early access; the list is in beta, so `anthropic-beta` names
    /// it), following `next_page` (bounded by [`spend_limits::MAX_PAGES`]). A 404 or 403 is the
    /// API's answer as an error: the caller decides it means "not available".
    pub fn spend_limits(&self, admin: &Secret, fetched_at: DateTime<Utc>) -> Result<Vec<SpendLimit>, ApiError> {
        let mut out = Vec::new();
        let mut page: Option<String> = None;
        for _ in 0..spend_limits::MAX_PAGES {
            let pq = spend_limits::page_query(page.as_deref());
            let (p, body) = self.block_on(self.inner.request_raw_beta(&pq, admin, spend_limits::BETA))?.map_err(|e| self.transport(e))?;
            if p.status != 200 {
                return Err(Self::api_error(&p));
            }
            let parsed = spend_limits::parse_page(&body, fetched_at).map_err(ApiError::Decode)?;
            out.extend(parsed.limits);
            match parsed.next_page {
                Some(n) if Some(&n) != page.as_ref() => page = Some(n),
                Some(_) => return Err(ApiError::Decode(format!("{pq}: next_page repeats the page just read"))),
                None => return Ok(out),
            }
        }
        Err(ApiError::Decode(format!("the spend limits list kept answering next_page after {} pages", spend_limits::MAX_PAGES)))
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

fn form_query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::partial_hint_fits;

    /// A key-shaped value made at run time (never a literal key in the source).
    fn value(fill: char) -> String {
        format!("sk-ant-{}03-{}AA", "api", fill.to_string().repeat(93))
    }

    #[test]
    fn partial_key_hint_is_checked_against_the_value() {
        let mut v = value('x');
        v.replace_range(13..16, "R2D");
        v.replace_range(104..106, "ig");
        assert!(partial_hint_fits("sk-ant-api03-R2D...igAA", &v));
        assert!(partial_hint_fits("sk-ant-api03-R2D\u{2026}igAA", &v));
        // Another key: head or tail differ.
        assert!(!partial_hint_fits("sk-ant-api03-R2E...igAA", &v));
        assert!(!partial_hint_fits("sk-ant-api03-R2D...ihAA", &v));
        // Hints too short to tell keys apart, or not hints at all.
        assert!(!partial_hint_fits("sk-ant-api03-...AA", &v));
        assert!(!partial_hint_fits("sk-ant-api03-R2D", &v));
        assert!(!partial_hint_fits("", &v));
        assert!(!partial_hint_fits("...", &v));
        // A hint longer than the value cannot be its hint.
        assert!(!partial_hint_fits("sk-ant-api03-R2D...igAA", "sk-ant-api03-R2DigAA"));
    }
}
