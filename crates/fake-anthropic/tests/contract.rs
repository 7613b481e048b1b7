//! Contract tests: one per documented behaviour of anthropic-api.md (§1.2–1.6, §1.8), run with
//! a real HTTP client against the in-process fake. [OBS]/[DOC] strings are matched exactly.
//! Keys are minted at run time; no key-shaped literal appears here.

use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, Duration as CDuration, Utc};
use fake_anthropic::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

const VERSION: &str = "2023-06-01";

// ---------------------------------------------------------------------------------------------
// Helpers

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string())
    }
    fn sse_events(&self) -> Vec<(String, Value)> {
        self.body
            .split("\n\n")
            .filter(|b| !b.trim().is_empty())
            .map(|block| {
                let mut ev = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        ev = e.to_string();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data = d.to_string();
                    }
                }
                (ev, serde_json::from_str(&data).unwrap())
            })
            .collect()
    }
}

struct Call {
    method: reqwest::Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    version: bool,
}

fn get(path: &str) -> Call {
    Call { method: reqwest::Method::GET, path: path.into(), headers: vec![], body: None, version: true }
}

fn post(path: &str, body: Value) -> Call {
    Call { method: reqwest::Method::POST, path: path.into(), headers: vec![], body: Some(body.to_string()), version: true }
}

fn post_raw(path: &str, body: &str) -> Call {
    Call { method: reqwest::Method::POST, path: path.into(), headers: vec![], body: Some(body.into()), version: true }
}

impl Call {
    fn key(self, k: &str) -> Self {
        self.header("x-api-key", k)
    }
    fn bearer(self, k: &str) -> Self {
        self.header("authorization", &format!("Bearer {k}"))
    }
    fn header(mut self, n: &str, v: &str) -> Self {
        self.headers.push((n.into(), v.into()));
        self
    }
    fn no_version(mut self) -> Self {
        self.version = false;
        self
    }
    async fn send(self, fake: &FakeAnthropic) -> Resp {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
        let mut rb = client.request(self.method, format!("{}{}", fake.base_url(), self.path));
        if self.version {
            rb = rb.header("anthropic-version", VERSION);
        }
        for (k, v) in &self.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(b) = self.body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let r = rb.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        Resp { status, headers, body }
    }
}

fn is_request_id(s: &str) -> bool {
    s.len() == 28 && s.starts_with("req_011C") && s[8..].bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Asserts the documented error envelope, status, type and exact message, and that the
/// `request-id` header equals the body's `request_id`.
fn assert_error(r: &Resp, status: u16, ty: &str, message: &str) {
    assert_eq!(r.status, status, "body: {}", r.body);
    let v = r.json();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], ty, "{v}");
    assert_eq!(v["error"]["message"], message, "{v}");
    let rid = r.header("request-id").expect("request-id header");
    assert!(is_request_id(&rid), "{rid}");
    assert_eq!(v["request_id"], rid);
}

fn key(fake: &FakeAnthropic, name: &str) -> String {
    fake.fixture_key(name).unwrap_or_else(|| panic!("no fixture key {name}")).key
}

fn msg_body(model: &str, max_tokens: u64, stream: bool) -> Value {
    json!({"model": model, "max_tokens": max_tokens, "stream": stream,
           "messages": [{"role": "user", "content": "Reply with OK. Do not use tools."}]})
}

fn count_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "ping"}]})
}

async fn healthy() -> FakeAnthropic {
    FakeAnthropic::start(Preset::Healthy).await.unwrap()
}

async fn frozen(preset: Preset) -> FakeAnthropic {
    let mut cfg = Config::new(preset);
    cfg.frozen_at = Some(Utc::now());
    FakeAnthropic::start_with(cfg).await.unwrap()
}

const CREDIT: &str = "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.";
const DISABLED: &str = "This organization has been disabled.";
const OAUTH_UNSUPPORTED: &str = "OAuth authentication is currently not supported.";
const WS_REQUIRED: &str = "anthropic-workspace-id is required when authenticating with an identity-linked API key; send the id of the workspace this request acts in.";
const WS_MALFORMED: &str = "anthropic-workspace-id header must be a valid workspace ID.";

// ---------------------------------------------------------------------------------------------
// F2.1 routing, F2.2 request id

#[tokio::test]
async fn double_v1_is_404_not_found() {
    let fake = FakeAnthropic::start(Preset::DoubleV1).await.unwrap();
    let r = post("/v1/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 404, "not_found_error", "Not Found");
    assert!(r.header("anthropic-organization-id").is_none());
}

#[tokio::test]
async fn path_without_v1_is_404_not_found() {
    let fake = healthy().await;
    let r = post("/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 404, "not_found_error", "Not Found");
}

#[tokio::test]
async fn wrong_method_is_404_not_found() {
    let fake = healthy().await;
    let r = get("/v1/messages").key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 404, "not_found_error", "Not Found");
}

#[tokio::test]
async fn every_response_has_a_request_id() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    let rs = [
        get("/v1/models").key(&k).send(&fake).await,
        get("/v1/models").send(&fake).await,
        get("/nope").send(&fake).await,
        post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await,
    ];
    let mut seen = std::collections::HashSet::new();
    for r in &rs {
        let rid = r.header("request-id").unwrap();
        assert!(is_request_id(&rid), "{rid}");
        assert!(seen.insert(rid), "request ids must be unique");
    }
}

// ---------------------------------------------------------------------------------------------
// F2.3 credentials, F2.4 version, F2.5 key lookup

#[tokio::test]
async fn no_credential_is_401_x_api_key_required() {
    let fake = healthy().await;
    let r = get("/v1/models").send(&fake).await;
    assert_error(&r, 401, "authentication_error", "x-api-key header is required");
    assert!(r.header("anthropic-organization-id").is_none());
    assert!(r.header("anthropic-workspace-id").is_none());
}

#[tokio::test]
async fn missing_version_is_400() {
    let fake = healthy().await;
    let r = get("/v1/models").key(&key(&fake, "instance-a")).no_version().send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", "anthropic-version: header is required");
}

#[tokio::test]
async fn unknown_key_is_401_invalid_x_api_key() {
    let fake = healthy().await;
    let bogus = format!("{API_KEY_PREFIX}{}AA", "Q".repeat(93));
    let r = get("/v1/models?limit=1").key(&bogus).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    assert!(r.header("anthropic-organization-id").is_none());
    assert!(r.header("anthropic-workspace-id").is_none());
}

#[tokio::test]
async fn unknown_bearer_is_401_invalid_bearer_token() {
    let fake = healthy().await;
    let bogus = format!("{API_KEY_PREFIX}{}AA", "Z".repeat(93));
    let r = get("/v1/models").bearer(&bogus).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "Invalid bearer token");
}

#[tokio::test]
async fn bearer_authorization_is_accepted() {
    let fake = healthy().await;
    let r = get("/v1/models?limit=1").bearer(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fake.requests().last().unwrap().auth_scheme.as_deref(), Some("bearer"));
}

#[tokio::test]
async fn both_credentials_use_x_api_key() {
    let fake = healthy().await;
    let r = get("/v1/models").key(&key(&fake, "instance-a")).bearer("garbage").send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(fake.requests().last().unwrap().auth_scheme.as_deref(), Some("x-api-key"));
}

#[tokio::test]
async fn inactive_key_after_rotation_is_401() {
    let fake = FakeAnthropic::start(Preset::StaleAfterRotation).await.unwrap();
    let r = get("/v1/models?limit=1").key(&key(&fake, "host")).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    let r = get("/v1/models?limit=1").key(&key(&fake, "keychain")).send(&fake).await;
    assert_eq!(r.status, 200);
    let r = get(&format!("/v1/organizations/api_keys/{KEY_INSTANCE_A_OLD_ID}")).key(&key(&fake, "admin")).send(&fake).await;
    assert_eq!(r.json()["status"], "inactive");
}

#[tokio::test]
async fn truncated_key_on_host_is_401() {
    let fake = FakeAnthropic::start(Preset::TruncatedOnHost).await.unwrap();
    let host = key(&fake, "host");
    assert_eq!(host.len(), 100);
    assert!(key(&fake, "keychain").starts_with(&host));
    let r = get("/v1/models?limit=1").key(&host).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    let r = get("/v1/models?limit=1").key(&key(&fake, "keychain")).send(&fake).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn expired_key_is_401_and_admin_reports_expired() {
    let fake = FakeAnthropic::start(Preset::Expired).await.unwrap();
    let r = get("/v1/models?limit=1").key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    let r = get(&format!("/v1/organizations/api_keys/{KEY_INSTANCE_A_ID}")).key(&key(&fake, "admin")).send(&fake).await;
    let v = r.json();
    assert_eq!(v["status"], "expired");
    assert!(v["expires_at"].is_string());
}

#[tokio::test]
async fn key_expires_when_clock_passes_expires_at() {
    let fake = frozen(Preset::Healthy).await;
    let m = fake.mint_key(MintKey { expires_at: Some(fake.now() + CDuration::seconds(60)), ..MintKey::api("short", Some(WORKSPACE_PROD_A_ID)) }).unwrap();
    assert_eq!(get("/v1/models").key(&m.key).send(&fake).await.status, 200);
    fake.advance_clock(61.0);
    let r = get("/v1/models").key(&m.key).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    let r = get(&format!("/v1/organizations/api_keys/{}", m.id)).key(&key(&fake, "admin")).send(&fake).await;
    assert_eq!(r.json()["status"], "expired");
}

#[tokio::test]
async fn oauth_token_without_beta_is_401() {
    let fake = FakeAnthropic::start(Preset::OauthTokenAsKey).await.unwrap();
    let tok = key(&fake, "instance-a");
    assert!(tok.starts_with(OAUTH_TOKEN_PREFIX));
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&tok).send(&fake).await;
    assert_error(&r, 401, "authentication_error", OAUTH_UNSUPPORTED);
    let r = get("/v1/models").bearer(&tok).send(&fake).await;
    assert_error(&r, 401, "authentication_error", OAUTH_UNSUPPORTED);
}

#[tokio::test]
async fn oauth_token_with_beta_header_is_accepted() {
    let fake = FakeAnthropic::start(Preset::OauthTokenAsKey).await.unwrap();
    let r = get("/v1/models").bearer(&key(&fake, "instance-a")).header("anthropic-beta", OAUTH_BETA).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(DEFAULT_WORKSPACE_ID));
}

#[tokio::test]
async fn admin_key_on_inference_is_401() {
    let fake = FakeAnthropic::start(Preset::AdminKeyOnInference).await.unwrap();
    let k = key(&fake, "instance-a");
    assert!(k.starts_with(ADMIN_KEY_PREFIX));
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "authentication_error");
}

#[tokio::test]
async fn workspace_key_on_admin_api_is_401_or_403_by_knob() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    let r = get("/v1/organizations/api_keys").key(&k).send(&fake).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "authentication_error");
    fake.state().with(|s| s.knobs.workspace_key_on_admin_status = 403);
    let r = get("/v1/organizations/api_keys").key(&k).send(&fake).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["type"], "permission_error");
}

#[tokio::test]
async fn org_admin_identity_linked_key_may_use_admin_api() {
    let fake = healthy().await;
    let m = fake.mint_key(MintKey { identity_linked: true, org_admin: true, ..MintKey::api("svc", None) }).unwrap();
    assert_eq!(get("/v1/organizations/me").key(&m.key).send(&fake).await.status, 200);
    let plain = fake.mint_key(MintKey { identity_linked: true, ..MintKey::api("plain", None) }).unwrap();
    let r = get("/v1/organizations/me").key(&plain.key).send(&fake).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"]["type"], "permission_error");
}

// ---------------------------------------------------------------------------------------------
// F2.6 workspace resolution

#[tokio::test]
async fn identity_linked_key_without_workspace_header_is_400() {
    let fake = FakeAnthropic::start(Preset::IdentityLinkedNoHeader).await.unwrap();
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", WS_REQUIRED);
    assert!(r.header("anthropic-organization-id").is_some());
    assert!(r.header("anthropic-workspace-id").is_none());
}

#[tokio::test]
async fn malformed_workspace_header_is_400() {
    let fake = FakeAnthropic::start(Preset::IdentityLinkedNoHeader).await.unwrap();
    let r = get("/v1/models").key(&key(&fake, "instance-a")).header("anthropic-workspace-id", "prod-a").send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", WS_MALFORMED);
}

#[tokio::test]
async fn unknown_or_archived_workspace_header_is_404() {
    let fake = FakeAnthropic::start(Preset::IdentityLinkedNoHeader).await.unwrap();
    let k = key(&fake, "instance-a");
    let ghost = "wrkspc_01NoSuchWorkspace0000000";
    let r = get("/v1/models").key(&k).header("anthropic-workspace-id", ghost).send(&fake).await;
    assert_error(&r, 404, "not_found_error", &format!("Workspace `{ghost}` not found."));
    let r = post(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_B_ID}/archive"), json!({})).key(&key(&fake, "admin")).send(&fake).await;
    assert_eq!(r.status, 200);
    let r = get("/v1/models").key(&k).header("anthropic-workspace-id", WORKSPACE_PROD_B_ID).send(&fake).await;
    assert_error(&r, 404, "not_found_error", &format!("Workspace `{WORKSPACE_PROD_B_ID}` not found."));
}

#[tokio::test]
async fn identity_linked_key_with_header_resolves_that_workspace() {
    let fake = FakeAnthropic::start(Preset::IdentityLinkedNoHeader).await.unwrap();
    let r = get("/v1/models").key(&key(&fake, "instance-a")).header("anthropic-workspace-id", WORKSPACE_PROD_B_ID).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(WORKSPACE_PROD_B_ID));
}

#[tokio::test]
async fn workspace_key_ignores_workspace_header() {
    let fake = healthy().await;
    let r = get("/v1/models").key(&key(&fake, "instance-a")).header("anthropic-workspace-id", WORKSPACE_PROD_B_ID).send(&fake).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(WORKSPACE_PROD_A_ID));
    let r = get("/v1/models").key(&key(&fake, "instance-a")).header("anthropic-workspace-id", "garbage").send(&fake).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn default_workspace_is_reported_in_header() {
    let fake = healthy().await;
    let m = fake.mint_key(MintKey::api("default-ws", None)).unwrap();
    assert_eq!(m.workspace_id.as_deref(), Some(DEFAULT_WORKSPACE_ID));
    let r = get("/v1/models").key(&m.key).send(&fake).await;
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(DEFAULT_WORKSPACE_ID));
    assert_eq!(r.header("anthropic-organization-id").as_deref(), Some(ORG_ID));
}

#[tokio::test]
async fn wrong_workspace_preset_answers_200_with_prod_b_header() {
    let fake = FakeAnthropic::start(Preset::WrongWorkspace).await.unwrap();
    let r = get("/v1/models?limit=1").key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(WORKSPACE_PROD_B_ID));
    assert_eq!(r.header("anthropic-organization-id").as_deref(), Some(ORG_ID));
}

#[tokio::test]
async fn inference_has_org_and_workspace_headers_admin_has_neither() {
    let fake = healthy().await;
    let r = post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.header("anthropic-organization-id").as_deref(), Some(ORG_ID));
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(WORKSPACE_PROD_A_ID));
    let r = get("/v1/organizations/me").key(&key(&fake, "admin")).send(&fake).await;
    assert_eq!(r.status, 200);
    assert!(r.header("anthropic-workspace-id").is_none());
    assert!(r.header("anthropic-organization-id").is_none());
    assert!(r.header("request-id").is_some());
}

// ---------------------------------------------------------------------------------------------
// F2.7 org state

#[tokio::test]
async fn disabled_org_is_400_on_all_inference() {
    let fake = FakeAnthropic::start(Preset::OrgDisabled).await.unwrap();
    let k = key(&fake, "instance-a");
    for r in [
        post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await,
        post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&k).send(&fake).await,
        get("/v1/models").key(&k).send(&fake).await,
    ] {
        assert_error(&r, 400, "invalid_request_error", DISABLED);
    }
    assert_eq!(get("/v1/organizations/me").key(&key(&fake, "admin")).send(&fake).await.status, 200);
}

#[tokio::test]
async fn no_credit_blocks_messages_only() {
    let fake = FakeAnthropic::start(Preset::NoCredit).await.unwrap();
    let k = key(&fake, "instance-a");
    let r = post("/v1/messages", msg_body(CHEAPEST_MODEL, 1, false)).key(&k).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", CREDIT);
    assert_eq!(get("/v1/models?limit=1").key(&k).send(&fake).await.status, 200);
    assert_eq!(post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&k).send(&fake).await.status, 200);
}

#[tokio::test]
async fn no_credit_count_tokens_knob_reports_credit_error() {
    let fake = FakeAnthropic::start(Preset::NoCredit).await.unwrap();
    fake.set_org(OrgUpdate { count_tokens_reports_credit: Some(true), ..OrgUpdate::default() });
    let r = post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", CREDIT);
}

// ---------------------------------------------------------------------------------------------
// F4 models

#[tokio::test]
async fn models_list_shape_order_and_pagination() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    let all = get("/v1/models?limit=1000").key(&k).send(&fake).await.json();
    let data = all["data"].as_array().unwrap();
    assert!(data.len() >= 10);
    for m in data {
        assert_eq!(m["type"], "model");
        assert!(m["id"].is_string() && m["display_name"].is_string());
        DateTime::parse_from_rfc3339(m["created_at"].as_str().unwrap()).unwrap();
    }
    let dates: Vec<&str> = data.iter().map(|m| m["created_at"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(all["has_more"], false);
    assert_eq!(all["first_id"], data[0]["id"]);
    let p1 = get("/v1/models?limit=1").key(&k).send(&fake).await.json();
    assert_eq!(p1["data"].as_array().unwrap().len(), 1);
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["first_id"], p1["last_id"]);
    let after = p1["last_id"].as_str().unwrap();
    let p2 = get(&format!("/v1/models?limit=2&after_id={after}")).key(&k).send(&fake).await.json();
    assert_eq!(p2["data"][0]["id"], data[1]["id"]);
    let back = get(&format!("/v1/models?limit=5&before_id={}", data[2]["id"].as_str().unwrap())).key(&k).send(&fake).await.json();
    assert_eq!(back["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn models_list_limit_out_of_range_and_both_cursors_are_400() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    for q in ["limit=0", "limit=1001", "limit=abc", "after_id=a&before_id=b"] {
        let r = get(&format!("/v1/models?{q}")).key(&k).send(&fake).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    }
}

#[tokio::test]
async fn model_get_by_id_and_alias_and_unknown_is_404() {
    let fake = FakeAnthropic::start(Preset::BadModel).await.unwrap();
    let k = key(&fake, "instance-a");
    let m = get(&format!("/v1/models/{MODEL_SONNET_5}")).key(&k).send(&fake).await.json();
    assert_eq!(m["id"], MODEL_SONNET_5);
    assert_eq!(m["type"], "model");
    let a = get(&format!("/v1/models/{MODEL_HAIKU_4_5_ALIAS}")).key(&k).send(&fake).await.json();
    assert_eq!(a["id"], MODEL_HAIKU_4_5);
    let r = get(&format!("/v1/models/{MODEL_TYPO}")).key(&k).send(&fake).await;
    assert_error(&r, 404, "not_found_error", &format!("model: {MODEL_TYPO}"));
}

#[tokio::test]
async fn models_rate_limit_headers_follow_knob() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    let r = get("/v1/models").key(&k).send(&fake).await;
    assert!(r.header("anthropic-ratelimit-requests-limit").is_none());
    fake.state().with(|s| s.knobs.models_rate_limit_headers = true);
    let r = get("/v1/models").key(&k).send(&fake).await;
    assert!(r.header("anthropic-ratelimit-requests-limit").is_some());
}

// ---------------------------------------------------------------------------------------------
// F4 count_tokens

#[tokio::test]
async fn count_tokens_returns_input_tokens_with_its_own_rpm() {
    let fake = healthy().await;
    let r = post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v["input_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(v.as_object().unwrap().len(), 1);
    // Tier 2: 2,000 token-counting RPM, separate from Messages' 1,000.
    assert_eq!(r.header("anthropic-ratelimit-requests-limit").as_deref(), Some("2000"));
    assert_eq!(r.header("anthropic-ratelimit-requests-remaining").as_deref(), Some("1999"));
    let r = post("/v1/messages/count_tokens", count_body(MODEL_TYPO)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 404, "not_found_error", &format!("model: {MODEL_TYPO}"));
}

#[tokio::test]
async fn count_tokens_rpm_exhaustion_is_429() {
    let fake = frozen(Preset::Healthy).await;
    fake.state().with(|s| s.org.limits = Some(Limits { rpm: 50, itpm: 30_000, otpm: 8_000, count_tokens_rpm: 2 }));
    let k = key(&fake, "instance-a");
    for _ in 0..2 {
        assert_eq!(post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&k).send(&fake).await.status, 200);
    }
    let r = post("/v1/messages/count_tokens", count_body(MODEL_SONNET_5)).key(&k).send(&fake).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(r.header("retry-after").as_deref(), Some("30"));
}

// ---------------------------------------------------------------------------------------------
// F4 messages

#[tokio::test]
async fn messages_non_streaming_shape() {
    let fake = healthy().await;
    let r = post("/v1/messages", msg_body(CHEAPEST_MODEL, 1, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    let v = r.json();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], CHEAPEST_MODEL);
    assert_eq!(v["content"][0]["type"], "text");
    assert!(v["content"][0]["text"].is_string());
    assert_eq!(v["stop_reason"], "max_tokens");
    assert!(v["stop_sequence"].is_null());
    assert_eq!(v["usage"]["output_tokens"], 1);
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(v["usage"]["cache_creation_input_tokens"], 0);
    assert_eq!(v["usage"]["cache_read_input_tokens"], 0);
    let r = post("/v1/messages", msg_body(CHEAPEST_MODEL, 1000, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.json()["stop_reason"], "end_turn");
}

#[tokio::test]
async fn messages_streaming_event_sequence() {
    let fake = healthy().await;
    // OpenClaw's shape: stream true, max_tokens 128000, claude-sonnet-5.
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 128_000, true)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("text/event-stream"));
    assert!(r.header("anthropic-ratelimit-requests-limit").is_some());
    let ev = r.sse_events();
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names[0], "message_start");
    assert_eq!(names[1], "content_block_start");
    assert_eq!(names[2], "ping");
    assert!(names[3..names.len() - 3].iter().all(|n| *n == "content_block_delta"));
    assert_eq!(&names[names.len() - 3..], &["content_block_stop", "message_delta", "message_stop"]);
    for (name, data) in &ev {
        assert_eq!(data["type"], name.as_str(), "data.type equals the event name");
    }
    let start = &ev[0].1["message"];
    assert_eq!(start["type"], "message");
    assert_eq!(start["role"], "assistant");
    assert_eq!(start["model"], MODEL_SONNET_5);
    assert_eq!(start["content"], json!([]));
    assert!(start["stop_reason"].is_null());
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() >= 1);
    assert_eq!(ev[1].1["content_block"], json!({"type": "text", "text": ""}));
    assert_eq!(ev[3].1["delta"]["type"], "text_delta");
    assert_eq!(ev[3].1["index"], 0);
    let delta = &ev[ev.len() - 2].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    let deltas = names.iter().filter(|n| **n == "content_block_delta").count() as u64;
    assert_eq!(delta["usage"]["output_tokens"], deltas);
}

#[tokio::test]
async fn unknown_model_is_404_model_id() {
    let fake = FakeAnthropic::start(Preset::BadModel).await.unwrap();
    let r = post("/v1/messages", msg_body(MODEL_TYPO, 8, true)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 404, "not_found_error", "model: claude-sonnet-4-5-typo");
}

#[tokio::test]
async fn missing_fields_are_400() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    let cases = [
        (json!({"model": MODEL_SONNET_5, "messages": [{"role": "user", "content": "x"}]}), "max_tokens: Field required"),
        (json!({"model": MODEL_SONNET_5, "max_tokens": 8}), "messages: Field required"),
        (json!({"max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}), "model: Field required"),
        (json!({"model": MODEL_SONNET_5, "max_tokens": 0, "messages": [{"role": "user", "content": "x"}]}), "max_tokens: Input should be greater than or equal to 1"),
    ];
    for (body, msg) in cases {
        let r = post("/v1/messages", body).key(&k).send(&fake).await;
        assert_error(&r, 400, "invalid_request_error", msg);
    }
}

#[tokio::test]
async fn max_tokens_above_model_maximum_is_400() {
    let fake = healthy().await;
    let r = post("/v1/messages", msg_body(MODEL_HAIKU_4_5, 100_000, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", &format!("max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for {MODEL_HAIKU_4_5}"));
}

#[tokio::test]
async fn bad_json_is_400_with_real_looking_message() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    let r = post_raw("/v1/messages", "{\"model\": \"x\",").key(&k).send(&fake).await;
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("The request body is not valid JSON: "), "{m}");
    assert!(m.contains("line 1 column"), "{m}");
    // Deep nesting must not crash the server.
    let deep = "[".repeat(100_000);
    let r = post_raw("/v1/messages", &deep).key(&k).send(&fake).await;
    assert_eq!(r.status, 400);
    let r = post_raw("/v1/messages", "[1,2]").key(&k).send(&fake).await;
    assert_eq!(r.status, 400);
}

fn raw_http(fake: &FakeAnthropic, head: &str, body: &[u8]) -> String {
    let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Read until the headers and the (small) body are in, or the server closes.
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                    break;
                }
            }
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[test]
fn body_over_32mb_is_413_before_reading_it() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let k = key(&fake, "instance-a");
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\nx-api-key: {k}\r\nanthropic-version: {VERSION}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        33 * 1024 * 1024
    );
    let resp = raw_http(&fake, &head, b"{\"model\":");
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
    assert!(resp.contains("\"request_too_large\""), "{resp}");
    assert!(resp.to_ascii_lowercase().contains("request-id: req_011c"), "{resp}");
}

#[test]
fn chunked_body_over_limit_is_413_without_waiting_for_the_end() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    fake.state().with(|s| s.knobs.max_body_bytes = 1024);
    let k = key(&fake, "instance-a");
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: localhost\r\nx-api-key: {k}\r\nanthropic-version: {VERSION}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let mut body = format!("{:x}\r\n", 4096).into_bytes();
    body.extend(std::iter::repeat_n(b' ', 4096));
    body.extend_from_slice(b"\r\n"); // and never the terminating chunk
    let resp = raw_http(&fake, &head, &body);
    assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
}

// ---------------------------------------------------------------------------------------------
// F3 rate limits

#[tokio::test]
async fn messages_carry_rate_limit_headers() {
    let fake = frozen(Preset::Healthy).await;
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 1000, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 200);
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        for part in ["limit", "remaining", "reset"] {
            let h = format!("anthropic-ratelimit-{kind}-{part}");
            let v = r.header(&h).unwrap_or_else(|| panic!("{h} missing"));
            if part == "reset" {
                DateTime::parse_from_rfc3339(&v).unwrap();
            } else {
                v.parse::<u64>().unwrap();
            }
        }
    }
    assert_eq!(r.header("anthropic-ratelimit-requests-limit").as_deref(), Some("1000"));
    assert_eq!(r.header("anthropic-ratelimit-requests-remaining").as_deref(), Some("999"));
    assert_eq!(r.header("anthropic-ratelimit-input-tokens-limit").as_deref(), Some("450000"));
    assert_eq!(r.header("anthropic-ratelimit-output-tokens-limit").as_deref(), Some("90000"));
    // Token remaining is rounded to the nearest thousand.
    for h in ["anthropic-ratelimit-input-tokens-remaining", "anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-tokens-remaining"] {
        assert_eq!(r.header(h).unwrap().parse::<u64>().unwrap() % 1000, 0, "{h}");
    }
    assert!(r.header("retry-after").is_none());
}

#[tokio::test]
async fn burst_from_three_keys_shares_one_bucket_and_gets_429s() {
    let fake = frozen(Preset::Burst).await;
    let keys: Vec<String> = (1..=3).map(|i| key(&fake, &format!("burst-{i}"))).collect();
    let mut ok = 0;
    let mut limited = Vec::new();
    for i in 0..50 {
        let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 64, true)).key(&keys[i % 3]).send(&fake).await;
        match r.status {
            200 => ok += 1,
            429 => limited.push((i % 3, r)),
            s => panic!("unexpected {s}: {}", r.body),
        }
    }
    assert_eq!(ok, BURST_WORKSPACE_LIMITS.rpm as usize, "the workspace bucket binds, shared by all keys");
    assert_eq!(limited.len(), 50 - ok);
    let keys_hit: std::collections::HashSet<usize> = limited.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys_hit.len(), 3, "every key is throttled by the others' traffic");
    let r = &limited[0].1;
    let v = r.json();
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let m = v["error"]["message"].as_str().unwrap();
    assert!(m.starts_with("This request would exceed the rate limit for "), "{m}");
    assert!(m.contains("of 20 requests per minute"), "{m}");
    assert_eq!(r.header("retry-after").as_deref(), Some("3"));
    assert_eq!(r.header("anthropic-ratelimit-requests-limit").as_deref(), Some("20"));
    assert_eq!(r.header("anthropic-ratelimit-requests-remaining").as_deref(), Some("0"));
    // Continuous refill: after retry-after seconds one more request fits.
    fake.advance_clock(3.0);
    assert_eq!(post("/v1/messages", msg_body(MODEL_SONNET_5, 64, true)).key(&keys[0]).send(&fake).await.status, 200);
    assert_eq!(post("/v1/messages", msg_body(MODEL_SONNET_5, 64, true)).key(&keys[0]).send(&fake).await.status, 429);
}

#[tokio::test]
async fn input_token_limit_is_enforced_with_retry_after() {
    let fake = frozen(Preset::Healthy).await;
    fake.state().with(|s| s.org.limits = Some(Limits { rpm: 1000, itpm: 600, otpm: 90_000, count_tokens_rpm: 100 }));
    let k = key(&fake, "instance-a");
    // ~500 input tokens each (2,000 characters / 4).
    let body = json!({"model": MODEL_SONNET_5, "max_tokens": 8, "messages": [{"role": "user", "content": "x".repeat(2000)}]});
    assert_eq!(post("/v1/messages", body.clone()).key(&k).send(&fake).await.status, 200);
    let r = post("/v1/messages", body).key(&k).send(&fake).await;
    assert_eq!(r.status, 429);
    let m = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(m.contains(&format!("your organization ({ORG_ID}) of 600 input tokens per minute")), "{m}");
    // 400 tokens short at 10 tokens/s → 40 s.
    assert_eq!(r.header("retry-after").as_deref(), Some("40"));
}

#[tokio::test]
async fn output_reservation_is_refunded_after_the_reply() {
    let fake = frozen(Preset::Healthy).await;
    fake.state().with(|s| s.org.limits = Some(Limits { rpm: 1000, itpm: 1_000_000, otpm: 10_000, count_tokens_rpm: 100 }));
    let k = key(&fake, "instance-a");
    // Each reserves 8,000 up front but uses ~6, so sequential requests keep passing.
    for _ in 0..5 {
        let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8000, false)).key(&k).send(&fake).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("anthropic-ratelimit-output-tokens-remaining").as_deref(), Some("2000"));
    }
}

#[tokio::test]
async fn acceleration_limit_knob() {
    let fake = frozen(Preset::Healthy).await;
    fake.state().with(|s| s.knobs.acceleration = Some(Acceleration { window_secs: 60, factor: 2.0, min_requests: 3 }));
    let k = key(&fake, "instance-a");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await.status);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
}

// ---------------------------------------------------------------------------------------------
// F2.8 injection

#[tokio::test]
async fn injected_529_for_next_n_requests() {
    let fake = healthy().await;
    fake.inject_error(ErrorInjection::status("/v1/messages", 529, 2));
    let k = key(&fake, "instance-a");
    for _ in 0..2 {
        let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await;
        assert_error(&r, 529, "overloaded_error", "Overloaded");
        assert!(r.header("anthropic-organization-id").is_some());
    }
    assert_eq!(post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await.status, 200);
}

#[tokio::test]
async fn injected_500_and_429_with_retry_after() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    fake.inject_error(ErrorInjection::status("/v1/messages", 500, 1));
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await;
    assert_error(&r, 500, "api_error", "Internal server error");
    fake.inject_error(ErrorInjection { retry_after: Some(7), ..ErrorInjection::status("/v1/messages", 429, 1) });
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(r.header("retry-after").as_deref(), Some("7"));
}

#[tokio::test]
async fn injected_413_as_cloudflare_html() {
    let fake = healthy().await;
    fake.inject_error(ErrorInjection { body_mode: BodyMode::Html, ..ErrorInjection::status("/v1/messages", 413, 1) });
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 413);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.body.contains("413"));
    assert!(r.header("request-id").is_some());
}

#[tokio::test]
async fn injection_via_control_surface() {
    let fake = healthy().await;
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/__fake/errors", fake.base_url()))
        .json(&json!({"path_prefix": "/v1/messages", "count": 1, "status": 529, "type": "overloaded_error", "message": "Overloaded", "mid_stream": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 529, "overloaded_error", "Overloaded");
}

#[tokio::test]
async fn mid_stream_error_event_after_200() {
    let fake = healthy().await;
    fake.inject_error(ErrorInjection { mid_stream: true, after_events: 3, ..ErrorInjection::status("/v1/messages", 529, 1) });
    let k = key(&fake, "instance-a");
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await;
    assert_eq!(r.status, 200);
    let ev = r.sse_events();
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["message_start", "content_block_start", "ping", "error"]);
    assert_eq!(ev[3].1, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}));
    let rec = fake.requests().pop().unwrap();
    assert_eq!(rec.status, 200);
    assert_eq!(rec.error_type.as_deref(), Some("overloaded_error"));
    // A non-streaming request does not consume a mid-stream rule, and the rule is now spent.
    let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await;
    assert_eq!(r.sse_events().last().unwrap().0, "message_stop");
}

#[tokio::test]
async fn overloaded_preset_fails_every_third_request() {
    let fake = FakeAnthropic::start(Preset::Overloaded).await.unwrap();
    let k = key(&fake, "instance-a");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await.status);
    }
    assert_eq!(statuses, vec![200, 200, 529, 200, 200, 529]);
    let mut broken = 0;
    for _ in 0..4 {
        let r = post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await;
        if r.status == 200 && r.sse_events().iter().any(|(n, _)| n == "error") {
            broken += 1;
        }
    }
    assert!(broken >= 1, "some streams break mid-way");
}

// ---------------------------------------------------------------------------------------------
// F5 admin: organization, keys, workspaces

#[tokio::test]
async fn organizations_me() {
    let fake = healthy().await;
    let r = get("/v1/organizations/me").key(&key(&fake, "admin")).send(&fake).await;
    assert_eq!(r.json(), json!({"id": ORG_ID, "type": "organization", "name": ORG_NAME}));
}

#[tokio::test]
async fn api_keys_list_shape_filters_and_pagination() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let def = fake.mint_key(MintKey::api("in-default", None)).unwrap();
    let v = get("/v1/organizations/api_keys").key(&admin).send(&fake).await.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "api keys only, not the admin key: {v}");
    let created: Vec<&str> = data.iter().map(|k| k["created_at"].as_str().unwrap()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "created_at desc");
    assert_eq!(data[0]["id"], def.id.as_str());
    assert!(data[0]["workspace_id"].is_null(), "Default Workspace shows null");
    let a = data.iter().find(|k| k["id"] == KEY_INSTANCE_A_ID).unwrap();
    assert_eq!(a["type"], "api_key");
    assert_eq!(a["workspace_id"], WORKSPACE_PROD_A_ID);
    assert_eq!(a["scope"], json!({"type": "workspace", "workspace_id": WORKSPACE_PROD_A_ID}));
    assert_eq!(a["status"], "active");
    assert_eq!(a["created_by"], json!({"id": OWNER_USER_ID, "type": "user"}));
    assert_eq!(a["principal"]["type"], "user_actor");
    let secret = key(&fake, "instance-a");
    assert_eq!(a["partial_key_hint"], partial_key_hint(&secret));
    assert!(!v.to_string().contains(&secret));
    let f = get(&format!("/v1/organizations/api_keys?workspace_id={WORKSPACE_PROD_B_ID}")).key(&admin).send(&fake).await.json();
    assert_eq!(f["data"].as_array().unwrap().len(), 1);
    assert_eq!(f["data"][0]["id"], KEY_INSTANCE_B_ID);
    let f = get("/v1/organizations/api_keys?status=inactive").key(&admin).send(&fake).await.json();
    assert_eq!(f["data"].as_array().unwrap().len(), 0);
    let f = get(&format!("/v1/organizations/api_keys?created_by_user_id={OWNER_USER_ID}")).key(&admin).send(&fake).await.json();
    assert_eq!(f["data"].as_array().unwrap().len(), 3);
    let p = get("/v1/organizations/api_keys?limit=2").key(&admin).send(&fake).await.json();
    assert_eq!(p["has_more"], true);
    let p2 = get(&format!("/v1/organizations/api_keys?limit=2&after_id={}", p["last_id"].as_str().unwrap())).key(&admin).send(&fake).await.json();
    assert_eq!(p2["has_more"], false);
    assert_eq!(p2["data"].as_array().unwrap().len(), 1);
    assert_eq!(get("/v1/organizations/api_keys?limit=1001").key(&admin).send(&fake).await.status, 400);
    assert_eq!(get("/v1/organizations/api_keys?status=bogus").key(&admin).send(&fake).await.status, 400);
}

#[tokio::test]
async fn api_key_get_and_unknown_is_404() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let v = get(&format!("/v1/organizations/api_keys/{KEY_INSTANCE_B_ID}")).key(&admin).send(&fake).await.json();
    assert_eq!(v["id"], KEY_INSTANCE_B_ID);
    assert_eq!(v["name"], "instance-b");
    let r = get("/v1/organizations/api_keys/apikey_01NoSuchKey00000000000000").key(&admin).send(&fake).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["type"], "not_found_error");
}

#[tokio::test]
async fn api_key_status_changes_take_effect_immediately() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let k = key(&fake, "instance-a");
    let path = format!("/v1/organizations/api_keys/{KEY_INSTANCE_A_ID}");
    let v = post(&path, json!({"status": "inactive"})).key(&admin).send(&fake).await.json();
    assert_eq!(v["status"], "inactive");
    assert_error(&get("/v1/models").key(&k).send(&fake).await, 401, "authentication_error", "invalid x-api-key");
    post(&path, json!({"status": "active", "name": "renamed"})).key(&admin).send(&fake).await;
    let r = get("/v1/models").key(&k).send(&fake).await;
    assert_eq!(r.status, 200);
    let v = post(&path, json!({"status": "archived"})).key(&admin).send(&fake).await.json();
    assert_eq!(v["status"], "archived");
    assert_eq!(v["name"], "renamed");
    assert_error(&get("/v1/models").key(&k).send(&fake).await, 401, "authentication_error", "invalid x-api-key");
    let r = post(&path, json!({"status": "active"})).key(&admin).send(&fake).await;
    assert_eq!(r.status, 400, "archiving is permanent");
}

#[tokio::test]
async fn api_key_update_validates_name_and_status() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let path = format!("/v1/organizations/api_keys/{KEY_INSTANCE_A_ID}");
    for body in [json!({"name": ""}), json!({"name": "x".repeat(501)}), json!({"status": "expired"}), json!({"status": "bogus"})] {
        let r = post(&path, body.clone()).key(&admin).send(&fake).await;
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    }
    assert_eq!(post(&path, json!({"name": "x".repeat(500)})).key(&admin).send(&fake).await.status, 200);
}

#[tokio::test]
async fn expired_key_can_only_be_archived() {
    let fake = FakeAnthropic::start(Preset::Expired).await.unwrap();
    let admin = key(&fake, "admin");
    let path = format!("/v1/organizations/api_keys/{KEY_INSTANCE_A_ID}");
    assert_eq!(post(&path, json!({"status": "active"})).key(&admin).send(&fake).await.status, 400);
    assert_eq!(post(&path, json!({"status": "archived"})).key(&admin).send(&fake).await.json()["status"], "archived");
}

#[tokio::test]
async fn admin_api_cannot_create_keys() {
    let fake = healthy().await;
    let r = post("/v1/organizations/api_keys", json!({"name": "new", "workspace_id": WORKSPACE_PROD_A_ID})).key(&key(&fake, "admin")).send(&fake).await;
    assert_error(&r, 404, "not_found_error", "Not Found");
}

#[tokio::test]
async fn workspaces_list_hides_default_and_archived() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let v = get("/v1/organizations/workspaces").key(&admin).send(&fake).await.json();
    let ids: Vec<&str> = v["data"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&WORKSPACE_PROD_A_ID) && ids.contains(&WORKSPACE_PROD_B_ID));
    let w = &v["data"][0];
    assert_eq!(w["type"], "workspace");
    assert!(w["display_color"].as_str().unwrap().starts_with('#'));
    assert!(w["archived_at"].is_null());
    post(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_B_ID}/archive"), json!({})).key(&admin).send(&fake).await;
    let v = get("/v1/organizations/workspaces").key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let v = get("/v1/organizations/workspaces?include_archived=true").key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let v = get("/v1/organizations/workspaces?include_default=true").key(&admin).send(&fake).await.json();
    assert!(v["data"].as_array().unwrap().iter().any(|w| w["id"] == DEFAULT_WORKSPACE_ID));
}

#[tokio::test]
async fn archiving_a_workspace_revokes_its_keys() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let v = post(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_A_ID}/archive"), json!({})).key(&admin).send(&fake).await.json();
    assert!(v["archived_at"].is_string());
    let r = get("/v1/models").key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    let k = get(&format!("/v1/organizations/api_keys/{KEY_INSTANCE_A_ID}")).key(&admin).send(&fake).await.json();
    assert_eq!(k["status"], "archived");
    assert_eq!(get("/v1/models").key(&key(&fake, "instance-b")).send(&fake).await.status, 200);
}

#[tokio::test]
async fn workspace_create_get_update() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let w = post("/v1/organizations/workspaces", json!({"name": "instance-c"})).key(&admin).send(&fake).await.json();
    let id = w["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("wrkspc_"));
    let g = get(&format!("/v1/organizations/workspaces/{id}")).key(&admin).send(&fake).await.json();
    assert_eq!(g["name"], "instance-c");
    let u = post(&format!("/v1/organizations/workspaces/{id}"), json!({"name": "renamed"})).key(&admin).send(&fake).await.json();
    assert_eq!(u["name"], "renamed");
    let m = fake.mint_key(MintKey::api("c", Some(&id))).unwrap();
    let r = get("/v1/models").key(&m.key).send(&fake).await;
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(id.as_str()));
    assert_eq!(post("/v1/organizations/workspaces", json!({"name": ""})).key(&admin).send(&fake).await.status, 400);
    let r = get("/v1/organizations/workspaces/wrkspc_01NoSuchWorkspace0000000").key(&admin).send(&fake).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn admin_rate_limit_knob() {
    let fake = frozen(Preset::Healthy).await;
    fake.state().with(|s| s.knobs.admin_rate_limit = Some(AdminRateLimit { burst: 2.0, per_second: 1.0 }));
    let admin = key(&fake, "admin");
    assert_eq!(get("/v1/organizations/me").key(&admin).send(&fake).await.status, 200);
    assert_eq!(get("/v1/organizations/me").key(&admin).send(&fake).await.status, 200);
    let r = get("/v1/organizations/me").key(&admin).send(&fake).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["type"], "rate_limit_error");
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    fake.advance_clock(1.0);
    assert_eq!(get("/v1/organizations/me").key(&admin).send(&fake).await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// Rate Limits API (org and workspace)

#[tokio::test]
async fn org_rate_limits_are_what_the_limiter_enforces() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let r = get("/v1/organizations/rate_limits").key(&admin).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert!(v["next_page"].is_null(), "one page when limit is omitted: {v}");
    let data = v["data"].as_array().unwrap();
    let tier = fake.state().with(|s| s.org.effective_limits());
    let sonnet = data.iter().find(|e| e["models"].as_array().is_some_and(|m| m.iter().any(|x| x == MODEL_SONNET_5))).expect("a sonnet group");
    assert_eq!(sonnet["type"], "rate_limit");
    assert!(sonnet["id"].as_str().unwrap().len() > 4);
    assert_eq!(sonnet["group"]["type"], "model_group");
    assert!(sonnet["group"]["id"].as_str().unwrap().starts_with("rlg_"));
    assert!(sonnet["group"]["display_name"].is_string());
    let value = |e: &Value, t: &str| e["limits"].as_array().unwrap().iter().find(|l| l["type"] == t).map(|l| l["value"].as_u64().unwrap());
    assert_eq!(value(sonnet, "requests_per_minute"), Some(tier.rpm));
    assert_eq!(value(sonnet, "input_tokens_per_minute"), Some(tier.itpm));
    assert_eq!(value(sonnet, "output_tokens_per_minute"), Some(tier.otpm));
    // Aliases are listed with the model ids.
    assert!(data.iter().any(|e| e["models"].as_array().is_some_and(|m| m.iter().any(|x| x == MODEL_HAIKU_4_5_ALIAS))));
    let tc = data.iter().find(|e| e["group"]["type"] == "token_count").expect("token counting");
    assert!(tc["models"].is_null());
    assert_eq!(value(tc, "requests_per_minute"), Some(tier.count_tokens_rpm));
    // Filters.
    let v = get("/v1/organizations/rate_limits?group_type=token_count").key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    let v = get(&format!("/v1/organizations/rate_limits?model={MODEL_HAIKU_4_5_ALIAS}")).key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(get("/v1/organizations/rate_limits?model=claude-none").key(&admin).send(&fake).await.status, 404);
    let r = get("/v1/organizations/rate_limits?group_type=nope").key(&admin).send(&fake).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    // A tier change shows at once.
    fake.state().with(|s| s.org.tier = 4);
    let v = get("/v1/organizations/rate_limits?group_type=model_group").key(&admin).send(&fake).await.json();
    assert_eq!(value(&v["data"][0], "requests_per_minute"), Some(Limits::for_tier(4).rpm));
}

#[tokio::test]
async fn rate_limits_paginate_with_limit_and_next_page() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let all = get("/v1/organizations/rate_limits").key(&admin).send(&fake).await.json()["data"].as_array().unwrap().clone();
    assert!(all.len() >= 3);
    let mut seen: Vec<Value> = Vec::new();
    let mut page: Option<String> = None;
    for _ in 0..all.len() + 1 {
        let path = match &page {
            Some(p) => format!("/v1/organizations/rate_limits?limit=2&page={p}"),
            None => "/v1/organizations/rate_limits?limit=2".into(),
        };
        let v = get(&path).key(&admin).send(&fake).await.json();
        assert!(v["data"].as_array().unwrap().len() <= 2);
        seen.extend(v["data"].as_array().unwrap().iter().cloned());
        match v["next_page"].as_str() {
            Some(p) => page = Some(p.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, all);
    assert_eq!(get("/v1/organizations/rate_limits?limit=0").key(&admin).send(&fake).await.status, 400);
    assert_eq!(get("/v1/organizations/rate_limits?limit=1001").key(&admin).send(&fake).await.status, 400);
    assert_eq!(get("/v1/organizations/rate_limits?page=garbage").key(&admin).send(&fake).await.status, 400);
}

#[tokio::test]
async fn workspace_rate_limits_list_overrides_and_inherited_values() {
    let fake = FakeAnthropic::start(Preset::Burst).await.unwrap();
    let admin = key(&fake, "admin");
    let org = fake.state().with(|s| s.org.effective_limits());
    // prod-a has its own limits: every model group lists them as workspace overrides.
    let v = get(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_A_ID}/rate_limits")).key(&admin).send(&fake).await.json();
    assert!(v["next_page"].is_null());
    let data = v["data"].as_array().unwrap();
    assert!(!data.is_empty());
    for e in data {
        assert_eq!(e["type"], "workspace_rate_limit");
        assert_eq!(e["workspace_id"], WORKSPACE_PROD_A_ID);
        assert_eq!(e["group"]["type"], "model_group");
        assert!(e["rate_limit_id"].as_str().unwrap().starts_with("ratelimit_"));
        for l in e["limits"].as_array().unwrap() {
            assert_eq!(l["source"]["type"], "workspace");
        }
        let rpm = e["limits"].as_array().unwrap().iter().find(|l| l["type"] == "requests_per_minute").unwrap();
        assert_eq!(rpm["value"], BURST_WORKSPACE_LIMITS.rpm);
        assert_eq!(rpm["org_limit"], org.rpm);
    }
    // Its rate_limit_id is the org entry's id.
    let org_ids: Vec<Value> = get("/v1/organizations/rate_limits").key(&admin).send(&fake).await.json()["data"].as_array().unwrap().iter().map(|e| e["id"].clone()).collect();
    assert!(data.iter().all(|e| org_ids.contains(&e["rate_limit_id"])));
    // prod-b has none: empty by default, the org's values with include_inherited.
    let v = get(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_B_ID}/rate_limits")).key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 0);
    let v = get(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_B_ID}/rate_limits?include_inherited=true")).key(&admin).send(&fake).await.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), org_ids.len());
    for e in data {
        for l in e["limits"].as_array().unwrap() {
            assert_eq!(l["source"]["type"], "organization");
            assert_eq!(l["value"], l["org_limit"]);
        }
    }
    // An override set through the control surface shows at once.
    fake.state().with(|s| {
        if let Some(w) = s.workspaces.iter_mut().find(|w| w.id == WORKSPACE_PROD_B_ID) {
            w.rate_limits = Some(Limits { rpm: 7, itpm: 7_000, otpm: 700, count_tokens_rpm: 7 });
        }
    });
    let v = get(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_B_ID}/rate_limits?group_type=model_group&limit=1")).key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert!(v["next_page"].is_string());
    assert_eq!(v["data"][0]["limits"][0]["value"], 7);
}

#[tokio::test]
async fn workspace_rate_limits_of_unknown_or_default_workspace_is_404_and_need_an_admin_key() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let r = get("/v1/organizations/workspaces/wrkspc_01NoSuchWorkspace0000000/rate_limits").key(&admin).send(&fake).await;
    assert_error(&r, 404, "not_found_error", "Workspace `wrkspc_01NoSuchWorkspace0000000` not found.");
    let r = get(&format!("/v1/organizations/workspaces/{DEFAULT_WORKSPACE_ID}/rate_limits")).key(&admin).send(&fake).await;
    assert_eq!(r.status, 404);
    // A workspace key gets the Admin API's refusal, as on every admin endpoint.
    let r = get("/v1/organizations/rate_limits").key(&key(&fake, "instance-a")).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
    let r = get(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_A_ID}/rate_limits")).key(&key(&fake, "instance-a")).send(&fake).await;
    assert_eq!(r.status, 401);
    let r = get("/v1/organizations/rate_limits").send(&fake).await;
    assert_eq!(r.status, 401);
}

// ---------------------------------------------------------------------------------------------
// F5 usage and cost reports

fn row(ts: DateTime<Utc>, key: Option<&str>, ws: Option<&str>, model: &str, input: u64, output: u64) -> UsageRow {
    UsageRow {
        ts,
        api_key_id: key.map(str::to_string),
        workspace_id: ws.map(str::to_string),
        model: model.into(),
        uncached_input_tokens: input,
        cache_creation_5m: 0,
        cache_creation_1h: 0,
        cache_read_input_tokens: 0,
        output_tokens: output,
        web_search_requests: 0,
        service_tier: "standard".into(),
        context_window: "0-200k".into(),
        inference_geo: Some("global".into()),
    }
}

fn day0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

async fn report_fake() -> FakeAnthropic {
    let mut cfg = Config::new(Preset::Healthy);
    cfg.frozen_at = Some(day0() + CDuration::days(3));
    let fake = FakeAnthropic::start_with(cfg).await.unwrap();
    let d = day0();
    fake.add_usage(row(d + CDuration::minutes(90), Some(KEY_INSTANCE_A_ID), Some(WORKSPACE_PROD_A_ID), MODEL_SONNET_5, 1_000_000, 100_000));
    fake.add_usage(row(d + CDuration::minutes(150), Some(KEY_INSTANCE_B_ID), Some(WORKSPACE_PROD_B_ID), MODEL_HAIKU_4_5, 2_000_000, 0));
    fake.add_usage(row(d + CDuration::hours(26), Some(KEY_INSTANCE_A_ID), Some(WORKSPACE_PROD_A_ID), MODEL_SONNET_5, 500, 50));
    fake.add_usage(row(d + CDuration::hours(27), None, None, MODEL_SONNET_5, 10, 1));
    fake
}

#[tokio::test]
async fn usage_report_requires_starting_at_and_valid_width_and_limit() {
    let fake = report_fake().await;
    let admin = key(&fake, "admin");
    let base = "/v1/organizations/usage_report/messages";
    let r = get(base).key(&admin).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", "starting_at: Field required");
    for q in ["bucket_width=2h", "bucket_width=1d&limit=32", "bucket_width=1h&limit=169", "bucket_width=1m&limit=1441", "group_by[]=color", "starting_at=yesterday"] {
        let r = get(&format!("{base}?starting_at=2026-03-01T00:00:00Z&{q}")).key(&admin).send(&fake).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
}

#[tokio::test]
async fn usage_report_daily_buckets_grouped_by_api_key() {
    let fake = report_fake().await;
    let admin = key(&fake, "admin");
    let v = get("/v1/organizations/usage_report/messages?starting_at=2026-03-01T10:00:00Z&bucket_width=1d&group_by[]=api_key_id").key(&admin).send(&fake).await.json();
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "aligned to UTC days up to now: {v}");
    assert_eq!(data[0]["starting_at"], "2026-03-01T00:00:00Z");
    assert_eq!(data[0]["ending_at"], "2026-03-02T00:00:00Z");
    assert_eq!(v["has_more"], false);
    assert!(v["next_page"].is_null());
    let day1 = data[0]["results"].as_array().unwrap();
    assert_eq!(day1.len(), 2);
    let a = day1.iter().find(|r| r["api_key_id"] == KEY_INSTANCE_A_ID).unwrap();
    assert_eq!(a["uncached_input_tokens"], 1_000_000);
    assert_eq!(a["output_tokens"], 100_000);
    assert_eq!(a["cache_creation"], json!({"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0}));
    assert_eq!(a["server_tool_use"], json!({"web_search_requests": 0}));
    for dim in ["workspace_id", "model", "service_tier", "context_window", "inference_geo"] {
        assert!(a[dim].is_null(), "ungrouped {dim} is null");
    }
    let day2 = data[1]["results"].as_array().unwrap();
    assert!(day2.iter().any(|r| r["api_key_id"].is_null() && r["uncached_input_tokens"] == 10), "Workbench rows have api_key_id null");
    assert_eq!(data[2]["results"], json!([]));
}

#[tokio::test]
async fn usage_report_hourly_filters_and_pagination() {
    let fake = report_fake().await;
    let admin = key(&fake, "admin");
    let base = "/v1/organizations/usage_report/messages?starting_at=2026-03-01T00:00:00Z&bucket_width=1h&limit=2";
    let v = get(&format!("{base}&group_by[]=workspace_id&group_by[]=model")).key(&admin).send(&fake).await.json();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["has_more"], true);
    let r = &v["data"][1]["results"][0];
    assert_eq!(r["workspace_id"], WORKSPACE_PROD_A_ID);
    assert_eq!(r["model"], MODEL_SONNET_5);
    let page = v["next_page"].as_str().unwrap();
    let v2 = get(&format!("{base}&page={page}")).key(&admin).send(&fake).await.json();
    assert_eq!(v2["data"][0]["starting_at"], "2026-03-01T02:00:00Z");
    assert_eq!(v2["data"][0]["results"][0]["uncached_input_tokens"], 2_000_000);
    let f = get(&format!("{base}&api_key_ids[]={KEY_INSTANCE_B_ID}&page={page}")).key(&admin).send(&fake).await.json();
    assert_eq!(f["data"][0]["results"][0]["uncached_input_tokens"], 2_000_000);
    let f = get(&format!("{base}&models[]={MODEL_SONNET_5}&page={page}")).key(&admin).send(&fake).await.json();
    assert_eq!(f["data"][0]["results"], json!([]));
}

#[tokio::test]
async fn every_message_records_usage_visible_after_the_data_lag() {
    let fake = frozen(Preset::Healthy).await;
    let k = key(&fake, "instance-a");
    post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await;
    post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).send(&fake).await;
    let start = (fake.now() - CDuration::hours(1)).format("%Y-%m-%dT%H:00:00Z").to_string();
    let q = format!("/v1/organizations/usage_report/messages?starting_at={start}&bucket_width=1h&group_by[]=api_key_id");
    let admin = key(&fake, "admin");
    let total =
        |v: &Value| -> u64 { v["data"].as_array().unwrap().iter().flat_map(|b| b["results"].as_array().unwrap().iter()).map(|r| r["output_tokens"].as_u64().unwrap()).sum() };
    assert_eq!(total(&get(&q).key(&admin).send(&fake).await.json()), 0, "hidden for ~5 minutes");
    fake.advance_clock(301.0);
    let v = get(&q).key(&admin).send(&fake).await.json();
    assert_eq!(total(&v), 12, "two messages of 6 output tokens each");
    let st = fake.state().snapshot();
    assert_eq!(st.usage.len(), 2);
    assert!(st.usage.iter().all(|u| u.api_key_id.as_deref() == Some(KEY_INSTANCE_A_ID) && u.workspace_id.as_deref() == Some(WORKSPACE_PROD_A_ID)));
}

#[tokio::test]
async fn cost_report_amounts_are_cents_as_decimal_strings() {
    let fake = report_fake().await;
    let admin = key(&fake, "admin");
    let v = get("/v1/organizations/cost_report?starting_at=2026-03-01T00:00:00Z&limit=1").key(&admin).send(&fake).await.json();
    assert_eq!(v["has_more"], true);
    let res = v["data"][0]["results"].as_array().unwrap();
    assert_eq!(res.len(), 1);
    // Sonnet 5: 1M in × $3 + 100k out × $15 = $4.50; Haiku 4.5: 2M in × $1 = $2 → 650 cents.
    assert_eq!(res[0]["amount"], "650");
    assert_eq!(res[0]["currency"], "USD");
    let v = get("/v1/organizations/cost_report?starting_at=2026-03-01T00:00:00Z&group_by[]=workspace_id&group_by[]=description").key(&admin).send(&fake).await.json();
    let res = v["data"][0]["results"].as_array().unwrap();
    let out = res.iter().find(|r| r["workspace_id"] == WORKSPACE_PROD_A_ID && r["token_type"] == "output_tokens").unwrap();
    assert_eq!(out["amount"], "150");
    assert_eq!(out["cost_type"], "tokens");
    assert_eq!(out["model"], MODEL_SONNET_5);
    assert!(out["description"].as_str().unwrap().contains("Output Tokens"));
    let day2 = v["data"][1]["results"].as_array().unwrap();
    let tiny = day2.iter().find(|r| r["workspace_id"] == WORKSPACE_PROD_A_ID && r["token_type"] == "uncached_input_tokens").unwrap();
    assert_eq!(tiny["amount"], "0.15", "500 tokens × $3/MTok = 0.15 cents");
    assert!(day2.iter().any(|r| r["workspace_id"].is_null()), "Default Workspace rows show null");
}

#[tokio::test]
async fn cost_report_halves_batch_tokens_and_shows_code_execution_only_there() {
    let fake = report_fake().await;
    let admin = key(&fake, "admin");
    let t = day0() + CDuration::days(2) + CDuration::hours(1);
    let mut batch = row(t, Some("apikey_batch"), Some(WORKSPACE_PROD_B_ID), MODEL_SONNET_5, 1_000_000, 0);
    batch.service_tier = "batch".into();
    batch.web_search_requests = 2;
    fake.add_usage(batch);
    fake.add_non_token_cost(fake_anthropic::NonTokenCost {
        ts: t,
        workspace_id: Some(WORKSPACE_PROD_B_ID.into()),
        cost_type: "code_execution".into(),
        description: "Code Execution Usage".into(),
        cents: 42,
    });
    let q = "starting_at=2026-03-03T00:00:00Z&ending_at=2026-03-04T00:00:00Z&group_by[]=workspace_id&group_by[]=description";
    let v = get(&format!("/v1/organizations/cost_report?{q}")).key(&admin).send(&fake).await.json();
    let res = v["data"][0]["results"].as_array().unwrap();
    let b: Vec<&serde_json::Value> = res.iter().filter(|r| r["workspace_id"] == WORKSPACE_PROD_B_ID).collect();
    let input = b.iter().find(|r| r["token_type"] == "uncached_input_tokens" && r["service_tier"] == "batch").unwrap();
    assert_eq!(input["amount"], "150", "1M batch input × $3 / 2");
    let search = b.iter().find(|r| r["cost_type"] == "web_search").unwrap();
    assert_eq!(search["amount"], "2", "searches are not discounted");
    let code = b.iter().find(|r| r["cost_type"] == "code_execution").unwrap();
    assert_eq!((code["amount"].as_str(), code["description"].as_str(), code["token_type"].is_null()), (Some("42"), Some("Code Execution Usage"), true));
    // The usage report has tokens, never the code execution charge.
    let u = get("/v1/organizations/usage_report/messages?starting_at=2026-03-03T00:00:00Z&ending_at=2026-03-04T00:00:00Z&group_by[]=workspace_id&group_by[]=service_tier")
        .key(&admin)
        .send(&fake)
        .await
        .json();
    let ures = u["data"][0]["results"].as_array().unwrap();
    assert!(ures.iter().any(|r| r["service_tier"] == "batch" && r["uncached_input_tokens"] == 1_000_000));
    assert!(!u.to_string().contains("code_execution"));
}

#[tokio::test]
async fn cost_report_rejects_other_widths_and_api_key_grouping() {
    let fake = report_fake().await;
    let admin = key(&fake, "admin");
    for q in ["bucket_width=1h", "group_by[]=api_key_id", "group_by[]=model", "limit=32"] {
        let r = get(&format!("/v1/organizations/cost_report?starting_at=2026-03-01T00:00:00Z&{q}")).key(&admin).send(&fake).await;
        assert_eq!(r.status, 400, "{q}");
        assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    }
    let r = get("/v1/organizations/cost_report").key(&admin).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", "starting_at: Field required");
}

// ---------------------------------------------------------------------------------------------
// Control surface and library API

async fn control(fake: &FakeAnthropic, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let mut rb = client.request(method, format!("{}{}", fake.base_url(), path));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn key_shape_ok(k: &str, prefix: &str, len: usize) -> bool {
    k.len() == len && k.starts_with(prefix) && k.ends_with("AA") && k[prefix.len()..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[tokio::test]
async fn control_mint_keys_as_the_console_would() {
    let fake = healthy().await;
    let (s, v) = control(&fake, reqwest::Method::POST, "/__fake/keys", Some(json!({"name": "agent-7", "workspace_id": WORKSPACE_PROD_B_ID}))).await;
    assert_eq!(s, 200);
    let k = v["key"].as_str().unwrap();
    assert!(key_shape_ok(k, API_KEY_PREFIX, 108), "{k}");
    assert!(v["id"].as_str().unwrap().starts_with("apikey_"));
    assert_eq!(v["partial_key_hint"], partial_key_hint(k));
    assert_eq!(v["partial_key_hint"].as_str().unwrap().len(), 23);
    assert_eq!(v["workspace_id"], WORKSPACE_PROD_B_ID);
    assert_eq!(v["kind"], "api");
    let r = get("/v1/models").key(k).send(&fake).await;
    assert_eq!(r.header("anthropic-workspace-id").as_deref(), Some(WORKSPACE_PROD_B_ID));
    let (_, a) = control(&fake, reqwest::Method::POST, "/__fake/keys", Some(json!({"name": "adm", "kind": "admin"}))).await;
    assert!(key_shape_ok(a["key"].as_str().unwrap(), ADMIN_KEY_PREFIX, 110));
    let (_, o) = control(&fake, reqwest::Method::POST, "/__fake/keys", Some(json!({"name": "sub", "kind": "oauth"}))).await;
    assert!(o["key"].as_str().unwrap().starts_with(OAUTH_TOKEN_PREFIX));
    let (_, d) = control(&fake, reqwest::Method::POST, "/__fake/keys", Some(json!({"name": "d"}))).await;
    assert_eq!(d["workspace_id"], DEFAULT_WORKSPACE_ID);
    let (s, _) = control(&fake, reqwest::Method::POST, "/__fake/keys", Some(json!({"name": "x", "workspace_id": "wrkspc_01NoSuchWorkspace0000000"}))).await;
    assert_eq!(s, 400);
    // Two mints never collide.
    let again = fake.mint_key(MintKey::api("agent-7", Some(WORKSPACE_PROD_B_ID))).unwrap();
    assert_ne!(again.key, k);
}

#[tokio::test]
async fn control_mint_identity_linked_and_expiring_keys() {
    let fake = frozen(Preset::Healthy).await;
    let exp = (fake.now() + CDuration::seconds(30)).to_rfc3339();
    let (_, v) = control(&fake, reqwest::Method::POST, "/__fake/keys", Some(json!({"name": "il", "identity_linked": true, "expires_at": exp}))).await;
    assert!(v["workspace_id"].is_null());
    let k = v["key"].as_str().unwrap().to_string();
    let r = get("/v1/models").key(&k).send(&fake).await;
    assert_error(&r, 400, "invalid_request_error", WS_REQUIRED);
    control(&fake, reqwest::Method::POST, "/__fake/clock/advance", Some(json!({"seconds": 31}))).await;
    let r = get("/v1/models").key(&k).header("anthropic-workspace-id", WORKSPACE_PROD_A_ID).send(&fake).await;
    assert_error(&r, 401, "authentication_error", "invalid x-api-key");
}

#[tokio::test]
async fn control_requests_log_never_holds_the_raw_key() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    post("/v1/messages", msg_body(MODEL_SONNET_5, 8, true)).key(&k).header("anthropic-workspace-id", WORKSPACE_PROD_B_ID).send(&fake).await;
    get("/v1/models?limit=1").send(&fake).await;
    let client = reqwest::Client::new();
    let text = client.get(format!("{}/__fake/requests", fake.base_url())).send().await.unwrap().text().await.unwrap();
    assert!(!text.contains(&k), "raw key in the request log");
    let v: Value = serde_json::from_str(&text).unwrap();
    let d = v["data"].as_array().unwrap();
    assert_eq!(d.len(), 2, "control-surface calls are not logged");
    let r = &d[0];
    assert_eq!(r["seq"], 1);
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/v1/messages");
    assert_eq!(r["query"], "");
    assert_eq!(r["auth_scheme"], "x-api-key");
    assert_eq!(r["api_key_sha256"], sha256_hex(&k));
    assert_eq!(r["api_key_hint"], partial_key_hint(&k));
    assert_eq!(r["status"], 200);
    assert_eq!(r["stream"], true);
    assert_eq!(r["model"], MODEL_SONNET_5);
    assert!(is_request_id(r["request_id"].as_str().unwrap()));
    DateTime::parse_from_rfc3339(r["time"].as_str().unwrap()).unwrap();
    assert_eq!(r["anthropic_version"], VERSION);
    assert_eq!(r["workspace_header"], WORKSPACE_PROD_B_ID);
    let r = &d[1];
    assert_eq!(r["seq"], 2);
    assert_eq!(r["query"], "limit=1");
    assert!(r["auth_scheme"].is_null() && r["api_key_sha256"].is_null() && r["api_key_hint"].is_null());
    assert_eq!(r["status"], 401);
    assert!(r["model"].is_null());
    let (s, _) = control(&fake, reqwest::Method::DELETE, "/__fake/requests", None).await;
    assert_eq!(s, 200);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn control_org_partial_updates() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    control(&fake, reqwest::Method::POST, "/__fake/org", Some(json!({"credit": false}))).await;
    assert_error(&post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await, 400, "invalid_request_error", CREDIT);
    control(&fake, reqwest::Method::POST, "/__fake/org", Some(json!({"disabled": true}))).await;
    assert_error(&get("/v1/models").key(&k).send(&fake).await, 400, "invalid_request_error", DISABLED);
    let (_, org) = control(&fake, reqwest::Method::POST, "/__fake/org", Some(json!({"disabled": false}))).await;
    assert_eq!(org["credit_ok"], false, "partial update keeps credit as it was");
    control(&fake, reqwest::Method::POST, "/__fake/org", Some(json!({"credit": true}))).await;
    assert_eq!(post("/v1/messages", msg_body(MODEL_SONNET_5, 8, false)).key(&k).send(&fake).await.status, 200);
}

#[tokio::test]
async fn control_reset_restores_the_preset_with_the_same_secrets() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    post(&format!("/v1/organizations/workspaces/{WORKSPACE_PROD_A_ID}/archive"), json!({})).key(&admin).send(&fake).await;
    fake.inject_error(ErrorInjection::status("/v1/models", 500, 5));
    fake.advance_clock(3600.0);
    let (s, _) = control(&fake, reqwest::Method::POST, "/__fake/reset", Some(json!({}))).await;
    assert_eq!(s, 200);
    assert!(fake.requests().is_empty());
    assert_eq!(get("/v1/models").key(&key(&fake, "instance-a")).send(&fake).await.status, 200);
    assert!((fake.now() - Utc::now()).num_seconds().abs() < 60);
    let (_, v) = control(&fake, reqwest::Method::POST, "/__fake/reset", Some(json!({"preset": "org_disabled"}))).await;
    assert_eq!(v["preset"], "org_disabled");
    let k = v["keys"].as_array().unwrap().iter().find(|k| k["name"] == "instance-a").unwrap()["key"].as_str().unwrap().to_string();
    assert_error(&get("/v1/models").key(&k).send(&fake).await, 400, "invalid_request_error", DISABLED);
    assert_eq!(fake.preset(), Preset::OrgDisabled);
}

#[tokio::test]
async fn control_unknown_path_is_404_and_bad_body_is_400() {
    let fake = healthy().await;
    let (s, _) = control(&fake, reqwest::Method::GET, "/__fake/nope", None).await;
    assert_eq!(s, 404);
    let client = reqwest::Client::new();
    let r = client.post(format!("{}/__fake/clock/advance", fake.base_url())).body("{oops").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let (s, _) = control(&fake, reqwest::Method::POST, "/__fake/errors", Some(json!({"status": "loud"}))).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn refuses_non_loopback_addresses() {
    let mut cfg = Config::new(Preset::Healthy);
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    let err = FakeAnthropic::start_with(cfg).await.unwrap_err();
    assert!(matches!(err, FakeError::NonLoopback(_)), "{err}");
    assert!(err.to_string().contains("loopback"));
}

#[test]
fn start_blocking_serves_without_an_async_runtime() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    assert!(fake.base_url().starts_with("http://127.0.0.1:"));
    let k = key(&fake, "instance-a");
    let head = format!("GET /v1/models?limit=1 HTTP/1.1\r\nhost: localhost\r\nx-api-key: {k}\r\nanthropic-version: {VERSION}\r\nconnection: close\r\n\r\n");
    let resp = raw_http(&fake, &head, b"");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(fake.requests().len(), 1);
    let addr = fake.addr();
    drop(fake);
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "shut down on drop");
}

#[tokio::test]
async fn every_preset_starts_and_answers() {
    for p in Preset::ALL {
        let fake = FakeAnthropic::start(p).await.unwrap();
        assert!(fake.fixture_key("admin").is_some(), "{p}");
        let r = get("/v1/organizations/me").key(&key(&fake, "admin")).send(&fake).await;
        assert_eq!(r.status, 200, "{p}");
        assert_eq!(Preset::parse(p.as_str()), Some(p));
    }
}

#[tokio::test]
async fn state_file_persists_across_restarts_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let mut cfg = Config::new(Preset::Healthy);
    cfg.state_file = Some(path.clone());
    let fake = FakeAnthropic::start_with(cfg.clone()).await.unwrap();
    let m = fake.mint_key(MintKey::api("persisted", Some(WORKSPACE_PROD_A_ID))).unwrap();
    post(&format!("/v1/organizations/api_keys/{KEY_INSTANCE_B_ID}"), json!({"status": "inactive"})).key(&key(&fake, "admin")).send(&fake).await;
    drop(fake);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&m.key), "the state file never holds a secret");
    assert!(text.contains(&sha256_hex(&m.key)));
    let fake = FakeAnthropic::start_with(cfg).await.unwrap();
    assert_eq!(get("/v1/models").key(&m.key).send(&fake).await.status, 200);
    let st = fake.state().snapshot();
    assert_eq!(st.keys.iter().find(|k| k.id == KEY_INSTANCE_B_ID).unwrap().status, KeyStatus::Inactive);
}

#[test]
fn binary_prints_base_url_and_writes_keys_to_a_0600_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.tsv");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fake-anthropic"))
        .args(["--listen", "127.0.0.1:0", "--preset", "healthy", "--mint", "2", "--keys-out"])
        .arg(&keys)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        match stdout.read(&mut b) {
            Ok(1) if b[0] == b'\n' => break,
            Ok(1) => line.push(b[0]),
            _ => break,
        }
    }
    let url = String::from_utf8(line).unwrap();
    let text = std::fs::read_to_string(&keys).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(!url.contains("sk-ant-"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 5, "admin, instance-a, instance-b, key-1, key-2");
    assert!(lines.iter().all(|l| l.len() == 3 && l[1].starts_with("apikey_")));
    assert!(lines.iter().any(|l| l[0] == "key-2" && key_shape_ok(l[2], API_KEY_PREFIX, 108)));
    let mut rest = String::new();
    let _ = stdout.read_to_string(&mut rest);
    assert!(!rest.contains("sk-ant-"));
}

#[test]
fn binary_refuses_a_non_loopback_listen_address() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fake-anthropic")).args(["--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback"), "{err}");
}

#[tokio::test]
async fn hostile_inputs_never_crash_the_server() {
    let fake = healthy().await;
    let k = key(&fake, "instance-a");
    control(&fake, reqwest::Method::POST, "/__fake/console/api_keys", Some(json!({"name": "x", "expires_in": i64::MAX}))).await;
    control(&fake, reqwest::Method::POST, "/__fake/knobs", Some(json!({"usage_lag_seconds": i64::MAX}))).await;
    control(&fake, reqwest::Method::POST, "/__fake/clock/advance", Some(json!({"seconds": 1e300}))).await;
    control(&fake, reqwest::Method::POST, "/__fake/clock/advance", Some(json!({"seconds": -1e300}))).await;
    let r = get("/v1/organizations/usage_report/messages?starting_at=9999-12-31T00:00:00Z&bucket_width=1m&limit=1440").key(&key(&fake, "admin")).send(&fake).await;
    assert!(r.status == 200 || r.status == 400, "{}", r.body);
    let weird = [
        post_raw("/v1/messages", "\u{0}\u{1}\u{2}").key(&k),
        post("/v1/messages", json!({"model": MODEL_SONNET_5, "max_tokens": u64::MAX, "messages": [{"role": "user", "content": "x"}]})).key(&k),
        post("/v1/messages", json!({"model": MODEL_SONNET_5, "max_tokens": 8, "messages": [{"role": "tool", "content": 5}]})).key(&k),
        post("/v1/messages", json!({"model": 5, "max_tokens": "8", "messages": "hi", "stream": "yes"})).key(&k),
        get("/v1/models?limit=99999999999999999999999").key(&k),
        get("/v1/models/%00%ff").key(&k),
        get("/v1/organizations/api_keys?after_id=nope").key(&key(&fake, "admin")),
    ];
    for c in weird {
        let r = c.send(&fake).await;
        assert!((400..500).contains(&r.status) || r.status == 200, "{} {}", r.status, r.body);
        let _ = r.json(); // always a JSON body
    }
    // Non-UTF-8 header bytes.
    let head = b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-api-key: \xff\xfe\r\nanthropic-version: 2023-06-01\r\nconnection: close\r\n\r\n";
    let addr = fake.addr();
    let resp = tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(head).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    })
    .await
    .unwrap();
    assert!(resp.starts_with("HTTP/1.1 401"), "{resp}");
    // Still serving.
    assert_eq!(get("/v1/organizations/me").key(&key(&fake, "admin")).send(&fake).await.status, 200);
}

// ---------------------------------------------------------------------------------------------
// Spend Limits API (early access)

const SPEND_LIMITS: &str = "/v1/organizations/spend_limits";

#[tokio::test]
async fn spend_limits_are_404_until_the_organisation_is_enrolled() {
    let fake = healthy().await;
    let admin = key(&fake, "admin");
    let r = get(SPEND_LIMITS).key(&admin).header("anthropic-beta", SPEND_LIMITS_BETA).send(&fake).await;
    assert_error(&r, 404, "not_found_error", SPEND_LIMITS_NOT_ENROLLED);
    // Admin-key auth like every Admin endpoint: a workspace API key is refused first.
    let api = key(&fake, "instance-a");
    assert_eq!(get(SPEND_LIMITS).key(&api).header("anthropic-beta", SPEND_LIMITS_BETA).send(&fake).await.status, 401);
    // Enrolment through the control surface.
    let r = post("/__fake/spend_limits", json!({"enrolled": true})).send(&fake).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = get(SPEND_LIMITS).key(&admin).header("anthropic-beta", SPEND_LIMITS_BETA).send(&fake).await.json();
    assert_eq!(v, json!({"data": [], "next_page": null}));
    // The endpoint is in beta: without the header it is refused.
    assert_eq!(get(SPEND_LIMITS).key(&admin).send(&fake).await.status, 400);
}

#[tokio::test]
async fn spend_limits_list_the_documented_objects_newest_first_and_paginate() {
    let fake = FakeAnthropic::start(Preset::Demo).await.unwrap();
    let admin = key(&fake, "admin");
    let v = get(SPEND_LIMITS).key(&admin).header("anthropic-beta", SPEND_LIMITS_BETA).send(&fake).await.json();
    assert!(v["next_page"].is_null(), "{v}");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    // prod-a's limit is newer than the organisation's: it comes first.
    assert_eq!(data[0]["id"], SPEND_LIMIT_PROD_A_ID);
    assert_eq!(data[0]["scope"], json!({"type": "workspace", "workspace_id": WORKSPACE_PROD_A_ID}));
    assert_eq!(data[0]["amount"], SPEND_LIMIT_PROD_A_CENTS.to_string());
    assert_eq!(data[1]["scope"], json!({"type": "organization"}));
    for l in data {
        assert_eq!(l["type"], "spend_limit");
        assert_eq!((l["currency"].as_str(), l["period"].as_str(), l["is_enabled"].as_bool()), (Some("USD"), Some("monthly"), Some(true)));
        for t in ["created_at", "updated_at"] {
            assert!(DateTime::parse_from_rfc3339(l[t].as_str().unwrap()).is_ok(), "{l}");
        }
        let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 9, "exactly the documented fields: {l}");
    }
    // Filters.
    let only = |q: &str| {
        let fake = &fake;
        let admin = admin.clone();
        let q = q.to_string();
        async move { get(&format!("{SPEND_LIMITS}?{q}")).key(&admin).header("anthropic-beta", SPEND_LIMITS_BETA).send(fake).await }
    };
    assert_eq!(only("scope_type[]=organization").await.json()["data"].as_array().unwrap().len(), 1);
    assert_eq!(only(&format!("workspace_id={WORKSPACE_PROD_A_ID}")).await.json()["data"][0]["id"], SPEND_LIMIT_PROD_A_ID);
    assert_eq!(only("scope_type[]=nope").await.status, 400);
    // Pagination: limit 1, then the cursor.
    let p1 = only("limit=1").await.json();
    assert_eq!(p1["data"].as_array().unwrap().len(), 1);
    let next = p1["next_page"].as_str().unwrap().to_string();
    let p2 = only(&format!("limit=1&page={next}")).await.json();
    assert_eq!(p2["data"][0], data[1]);
    assert!(p2["next_page"].is_null());
    assert_eq!(only("limit=0").await.status, 400);
    assert_eq!(only("page=garbage").await.status, 400);
}
