//! The fake's world: organisation, workspaces, keys, models and prices, usage rows, the
//! behaviour knobs for everything the reference marks [ASSUME], and the injectable clock.
//! `State` is what `--state FILE` persists (as JSON); it never holds a secret, only each
//! key's SHA-256 and `partial_key_hint`.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// What kind of credential a key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// Standard API key (`sk-ant-api03-`).
    Api,
    /// Admin API key (`sk-ant-admin01-`).
    Admin,
    /// OAuth access token (`sk-ant-oat01-`).
    Oauth,
}

impl KeyKind {
    /// The wire name (`api`, `admin`, `oauth`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Api => "api",
            KeyKind::Admin => "admin",
            KeyKind::Oauth => "oauth",
        }
    }
}

/// A key's status as the Admin API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Usable.
    Active,
    /// Disabled, reversible.
    Inactive,
    /// Permanently revoked.
    Archived,
    /// Past `expires_at`.
    Expired,
}

impl KeyStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Inactive => "inactive",
            KeyStatus::Archived => "archived",
            KeyStatus::Expired => "expired",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(KeyStatus::Active),
            "inactive" => Some(KeyStatus::Inactive),
            "archived" => Some(KeyStatus::Archived),
            "expired" => Some(KeyStatus::Expired),
            _ => None,
        }
    }
}

/// Where a key may act.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KeyScope {
    /// One workspace (possibly the Default Workspace).
    Workspace {
        /// The workspace's id.
        workspace_id: String,
    },
    /// The whole organisation (identity-linked / multi-workspace keys, admin keys, OAuth).
    Organization,
}

/// Rate limits, per model class (requests, input and output tokens per minute) plus the
/// separate requests-per-minute limit of token counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: u64,
    /// Input tokens per minute.
    pub itpm: u64,
    /// Output tokens per minute.
    pub otpm: u64,
    /// `count_tokens` requests per minute.
    pub count_tokens_rpm: u64,
}

impl Limits {
    /// The published limits of usage tiers 1–4 (Sonnet-class figures) [ASSUME: one table for
    /// every model class]. Tiers outside 1..=4 clamp.
    pub fn for_tier(tier: u8) -> Self {
        match tier {
            0 | 1 => Limits { rpm: 50, itpm: 30_000, otpm: 8_000, count_tokens_rpm: 100 },
            2 => Limits { rpm: 1_000, itpm: 450_000, otpm: 90_000, count_tokens_rpm: 2_000 },
            3 => Limits { rpm: 2_000, itpm: 800_000, otpm: 160_000, count_tokens_rpm: 4_000 },
            _ => Limits { rpm: 4_000, itpm: 2_000_000, otpm: 400_000, count_tokens_rpm: 8_000 },
        }
    }
}

/// The organisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Org {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Inference answers 400 "This organization has been disabled.".
    pub disabled: bool,
    /// False: `POST /v1/messages` answers 400 with the credit-balance message.
    pub credit_ok: bool,
    /// [ASSUME] knob: `count_tokens` also reports the credit error (default false).
    pub count_tokens_reports_credit: bool,
    /// Usage tier 1..=4.
    pub tier: u8,
    /// Overrides the tier's limits when set.
    pub limits: Option<Limits>,
}

impl Org {
    /// The org-level limits in force.
    pub fn effective_limits(&self) -> Limits {
        self.limits.unwrap_or_else(|| Limits::for_tier(self.tier))
    }
}

/// A workspace. The Default Workspace has an id too (it is what `anthropic-workspace-id`
/// reports) but the Admin API hides it: keys and usage in it show `workspace_id: null`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    /// `wrkspc_…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// `#RRGGBB`.
    pub display_color: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Set once archived; archived workspaces are unknown to inference.
    pub archived_at: Option<DateTime<Utc>>,
    /// The Default Workspace.
    pub is_default: bool,
    /// Workspace limits (tighter than the org's); they get their own buckets.
    pub rate_limits: Option<Limits>,
}

/// The Spend Limits API's state (early access for Console organisations): whether the
/// organisation is enrolled (else the list answers 404), and its configured limits.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpendLimits {
    /// Enrolled in the early access preview: `GET /v1/organizations/spend_limits` answers.
    pub enrolled: bool,
    /// The configured limits, in the order they were created.
    pub limits: Vec<SpendLimit>,
}

/// One configured spend limit, as the API reference's `SpendLimit` object (`type:
/// "spend_limit"` is added on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendLimit {
    /// `spl_…`.
    pub id: String,
    /// Minor units of `currency` (cents for USD) as a decimal string; `None`: no cap at this scope.
    pub amount: Option<String>,
    /// ISO 4217 (`USD`).
    pub currency: String,
    /// `daily`, `weekly` or `monthly` (Console organisation and workspace limits are monthly).
    pub period: String,
    /// What the limit applies to.
    pub scope: SpendLimitScope,
    /// `false` only for an organisation limit while extra usage is switched off.
    pub is_enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A spend limit's scope: the documented tagged union on `type` (the Console's variants, a
/// member's, and the read-only usage-tier cap).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SpendLimitScope {
    /// The whole organisation.
    Organization,
    /// One workspace.
    Workspace {
        /// `wrkspc_…`.
        workspace_id: String,
    },
    /// One member (Claude Enterprise).
    User {
        /// `user_…`.
        user_id: String,
    },
    /// The monthly cap Anthropic sets from the usage tier (read-only).
    UsageTier,
}

/// Who created a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `user_…` or `svcacct_…`.
    pub id: String,
    /// `user` or `service_account`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// A credential the fake knows. The secret itself is never stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    /// `apikey_…`.
    pub id: String,
    /// Lower-case hex SHA-256 of the secret.
    pub secret_sha256: String,
    /// `sk-ant-api03-R2D...igAA`.
    pub partial_key_hint: String,
    /// Api, Admin or OAuth.
    pub kind: KeyKind,
    /// Name.
    pub name: String,
    /// Status.
    pub status: KeyStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Expiry; the key turns `expired` the first time it is read after this.
    pub expires_at: Option<DateTime<Utc>>,
    /// Creator (`null` allowed).
    pub created_by: Option<Actor>,
    /// The `user_actor` principal's user id, if any.
    pub principal_user_id: Option<String>,
    /// The principal has org-admin rights (an org-scoped Api key may then use the Admin API).
    pub org_admin: bool,
    /// Workspace or organisation scope.
    pub scope: KeyScope,
}

impl ApiKey {
    /// The workspace the key is bound to, if workspace-scoped.
    pub fn workspace_id(&self) -> Option<&str> {
        match &self.scope {
            KeyScope::Workspace { workspace_id } => Some(workspace_id),
            KeyScope::Organization => None,
        }
    }

    /// Applies expiry: the key turns `expired` once read after `expires_at`. Returns whether
    /// the status changed.
    pub fn refresh_expiry(&mut self, now: DateTime<Utc>) -> bool {
        if let Some(exp) = self.expires_at {
            if now >= exp && matches!(self.status, KeyStatus::Active | KeyStatus::Inactive) {
                self.status = KeyStatus::Expired;
                return true;
            }
        }
        false
    }
}

/// A model, with its price (US cents per million tokens).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Full id (`claude-sonnet-4-5-20250929`).
    pub id: String,
    /// Also accepted (`claude-sonnet-4-5`).
    pub aliases: Vec<String>,
    /// Display name.
    pub display_name: String,
    /// Release time; lists are newest first.
    pub created_at: DateTime<Utc>,
    /// Context window.
    pub max_input_tokens: u64,
    /// Largest `max_tokens`.
    pub max_tokens: u64,
    /// Rate-limit class (`opus`, `sonnet`, `haiku`).
    pub class: String,
    /// Input price, cents per MTok.
    pub input_cents_per_mtok: u64,
    /// Output price, cents per MTok.
    pub output_cents_per_mtok: u64,
}

/// One usage row (one minute, one key, one model).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UsageRow {
    /// Start of the minute.
    pub ts: DateTime<Utc>,
    /// `null` for Workbench usage.
    pub api_key_id: Option<String>,
    /// `null` for the Default Workspace.
    pub workspace_id: Option<String>,
    /// Model id.
    pub model: String,
    /// Uncached input tokens.
    #[serde(default)]
    pub uncached_input_tokens: u64,
    /// 5-minute cache writes.
    #[serde(default)]
    pub cache_creation_5m: u64,
    /// 1-hour cache writes.
    #[serde(default)]
    pub cache_creation_1h: u64,
    /// Cache reads.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Web searches.
    #[serde(default)]
    pub web_search_requests: u64,
    /// `standard`, `batch`, `priority`.
    #[serde(default = "default_service_tier")]
    pub service_tier: String,
    /// `0-200k` or `200k-1M`.
    #[serde(default = "default_context_window")]
    pub context_window: String,
    /// `global`, `us`, …
    #[serde(default)]
    pub inference_geo: Option<String>,
}

/// A charge the usage report has no tokens for ("Code execution appears only in the cost
/// report", §1.6): emitted by the cost report as its own line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NonTokenCost {
    /// When it was incurred.
    pub ts: DateTime<Utc>,
    /// `null` for the Default Workspace.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// `code_execution`, …
    pub cost_type: String,
    /// The cost report's `description` ("Code Execution Usage").
    pub description: String,
    /// Amount in cents.
    pub cents: u64,
}

fn default_service_tier() -> String {
    "standard".into()
}
fn default_context_window() -> String {
    "0-200k".into()
}

/// Admin API rate limit (token bucket).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminRateLimit {
    /// Bucket size.
    pub burst: f64,
    /// Refill per second.
    pub per_second: f64,
}

/// "Acceleration limit": a 429 even under the limit when the request rate of the org jumps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Acceleration {
    /// Length of each window compared, seconds.
    pub window_secs: u64,
    /// Deny when this window's requests exceed the previous window's × `factor` …
    pub factor: f64,
    /// … and exceed this floor.
    pub min_requests: u64,
}

/// Knobs for every behaviour the reference marks [ASSUME] (and a few conveniences).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Message when no credential is sent (F2.3).
    pub missing_auth_message: String,
    /// With both `x-api-key` and `Authorization: Bearer`, use the bearer (default: x-api-key).
    pub prefer_bearer: bool,
    /// Message when `anthropic-version` is missing (F2.4).
    pub missing_version_message: String,
    /// `anthropic-version` values accepted; anything else → 400.
    pub accepted_versions: Vec<String>,
    /// 401 message for unknown/inactive/archived/expired keys sent as `x-api-key`.
    pub invalid_api_key_message: String,
    /// 401 message for the same sent as `Authorization: Bearer`.
    pub invalid_bearer_message: String,
    /// Status for an Admin key on an inference endpoint (401).
    pub admin_key_on_inference_status: u16,
    /// Message for an Admin key on an inference endpoint.
    pub admin_key_on_inference_message: String,
    /// Status for a workspace-scoped key on the Admin API: 401, or 403 `permission_error`.
    pub workspace_key_on_admin_status: u16,
    /// Message for a workspace-scoped key on the Admin API.
    pub workspace_key_on_admin_message: String,
    /// `GET /v1/models*` answers 200 even without credit.
    pub models_ok_without_credit: bool,
    /// Emit rate-limit headers on `GET /v1/models*` (undocumented there; default off).
    pub models_rate_limit_headers: bool,
    /// `GET /v1/models` with both `after_id` and `before_id` → 400.
    pub models_both_cursors_error: bool,
    /// `GET /v1/organizations/workspaces` lists the Default Workspace unless asked.
    pub workspaces_include_default: bool,
    /// Usage and cost reports hide rows newer than this (data lag, seconds).
    pub usage_lag_seconds: i64,
    /// Admin API rate limit (`None`: off).
    pub admin_rate_limit: Option<AdminRateLimit>,
    /// Acceleration limit (`None`: off).
    pub acceleration: Option<Acceleration>,
    /// Largest accepted request body, bytes (32 MB like Messages).
    pub max_body_bytes: usize,
    /// The assistant's reply text; one output token per whitespace-separated word.
    pub reply_text: String,
    /// Emit `event: ping` after `content_block_start`, as the real stream does.
    pub sse_ping: bool,
    /// Status for a forbidden API-key status transition (400).
    pub invalid_transition_status: u16,
    /// Requests kept by `GET /__fake/requests`.
    pub max_recorded_requests: usize,
    /// Usage rows kept (oldest dropped first).
    pub max_usage_rows: usize,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            missing_auth_message: "x-api-key header is required".into(),
            prefer_bearer: false,
            missing_version_message: "anthropic-version: header is required".into(),
            accepted_versions: vec!["2023-06-01".into(), "2023-01-01".into()],
            invalid_api_key_message: "invalid x-api-key".into(),
            invalid_bearer_message: "Invalid bearer token".into(),
            admin_key_on_inference_status: 401,
            admin_key_on_inference_message: "invalid x-api-key".into(),
            workspace_key_on_admin_status: 401,
            workspace_key_on_admin_message: "invalid x-api-key".into(),
            models_ok_without_credit: true,
            models_rate_limit_headers: false,
            models_both_cursors_error: true,
            workspaces_include_default: false,
            usage_lag_seconds: 300,
            admin_rate_limit: Some(AdminRateLimit { burst: 60.0, per_second: 1.0 }),
            acceleration: None,
            max_body_bytes: 32 * 1024 * 1024,
            reply_text: "Hello from the fake Anthropic API.".into(),
            sse_ping: true,
            invalid_transition_status: 400,
            max_recorded_requests: 10_000,
            max_usage_rows: 1_000_000,
        }
    }
}

/// The injectable clock: real time (or a frozen instant) plus an offset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// When set, time stands still at this instant (plus `offset_ms`).
    pub frozen_at: Option<DateTime<Utc>>,
    /// Added to real (or frozen) time; `advance` grows it.
    pub offset_ms: i64,
}

impl Clock {
    /// The fake's "now".
    pub fn now(&self) -> DateTime<Utc> {
        let base = self.frozen_at.unwrap_or_else(Utc::now);
        base.checked_add_signed(Duration::milliseconds(self.offset_ms)).unwrap_or(base)
    }

    /// Moves time forward (or back, if negative) by `seconds`.
    pub fn advance(&mut self, seconds: f64) {
        let ms = (seconds * 1000.0).round();
        let ms = if ms.is_finite() { ms.clamp(-1e15, 1e15) as i64 } else { 0 };
        // Bounded (±~30,000 years) so time arithmetic can never overflow.
        self.offset_ms = self.offset_ms.saturating_add(ms).clamp(-1_000_000_000_000_000, 1_000_000_000_000_000);
    }
}

/// Everything the fake knows and persists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// The organisation.
    pub org: Org,
    /// Workspaces, Default Workspace included.
    pub workspaces: Vec<Workspace>,
    /// Keys of every kind.
    pub keys: Vec<ApiKey>,
    /// Models and prices.
    pub models: Vec<Model>,
    /// Usage rows.
    pub usage: Vec<UsageRow>,
    /// Charges without tokens (code execution, …): only the cost report shows them.
    #[serde(default)]
    pub non_token_costs: Vec<NonTokenCost>,
    /// The Spend Limits API (early access): enrolment and the configured limits.
    #[serde(default)]
    pub spend_limits: SpendLimits,
    /// Behaviour knobs.
    #[serde(default)]
    pub knobs: Knobs,
    /// Clock.
    #[serde(default)]
    pub clock: Clock,
}

impl State {
    /// The fake's "now".
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The Default Workspace.
    pub fn default_workspace(&self) -> Option<&Workspace> {
        self.workspaces.iter().find(|w| w.is_default)
    }

    /// A workspace by id.
    pub fn workspace(&self, id: &str) -> Option<&Workspace> {
        self.workspaces.iter().find(|w| w.id == id)
    }

    /// A model by id or alias.
    pub fn model(&self, id: &str) -> Option<&Model> {
        self.models.iter().find(|m| m.id == id || m.aliases.iter().any(|a| a == id))
    }

    /// Applies expiry to every key; returns whether anything changed.
    pub fn refresh_expiry(&mut self) -> bool {
        let now = self.now();
        let mut changed = false;
        for k in &mut self.keys {
            changed |= k.refresh_expiry(now);
        }
        changed
    }

    /// How the Admin API shows a workspace id: `null` for the Default Workspace.
    pub fn public_workspace_id(&self, id: Option<&str>) -> Option<String> {
        let id = id?;
        match self.workspace(id) {
            Some(w) if w.is_default => None,
            _ => Some(id.to_string()),
        }
    }

    /// Appends a usage row, dropping the oldest beyond `knobs.max_usage_rows`.
    pub fn push_usage(&mut self, row: UsageRow) {
        self.usage.push(row);
        let max = self.knobs.max_usage_rows.max(1);
        if self.usage.len() > max {
            let extra = self.usage.len() - max;
            self.usage.drain(..extra);
        }
    }
}
