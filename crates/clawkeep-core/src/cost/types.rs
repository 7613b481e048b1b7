//! The cached rows of the two reports and the money unit: a usage row (one day, key, workspace,
//! model, tier, context window and its token counts), a cost line, an API key as listed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Money in picodollars (1e-12 USD): a token priced at $0.30 per million is 300,000 pico.
pub type Pico = i64;

pub const PICO_PER_USD: i64 = 1_000_000_000_000;

/// Picodollars as dollars (for display and JSON).
pub fn usd(p: Pico) -> f64 {
    p as f64 / PICO_PER_USD as f64
}

/// Token counts of one usage row (or a sum of rows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Tokens {
    pub uncached_input: u64,
    pub cache_write_5m: u64,
    pub cache_write_1h: u64,
    pub cache_read: u64,
    pub output: u64,
    pub web_search_requests: u64,
}

impl Tokens {
    pub fn add(&mut self, o: &Tokens) {
        self.uncached_input += o.uncached_input;
        self.cache_write_5m += o.cache_write_5m;
        self.cache_write_1h += o.cache_write_1h;
        self.cache_read += o.cache_read;
        self.output += o.output;
        self.web_search_requests += o.web_search_requests;
    }

    /// Every token (input of each kind and output); searches are not tokens.
    pub fn total(&self) -> u64 {
        self.uncached_input + self.cache_write_5m + self.cache_write_1h + self.cache_read + self.output
    }
}

/// One usage report result for one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsageRow {
    pub day: NaiveDate,
    /// `None` for Workbench usage.
    pub api_key_id: Option<String>,
    /// `None` for the Default Workspace.
    pub workspace_id: Option<String>,
    pub model: String,
    /// `standard`, `batch`, `priority` (empty when the API did not say).
    pub service_tier: String,
    /// `0-200k` or `200k-1M` (empty when the API did not say).
    pub context_window: String,
    pub tokens: Tokens,
}

/// One cost report result for one UTC day (grouped by workspace and description).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CostLine {
    pub day: NaiveDate,
    pub workspace_id: Option<String>,
    pub description: Option<String>,
    /// `tokens`, `web_search`, `code_execution`, …
    pub cost_type: String,
    pub model: Option<String>,
    pub service_tier: Option<String>,
    pub token_type: Option<String>,
    pub context_window: Option<String>,
    pub amount_pico: Pico,
    pub currency: String,
}

/// An API key as the Admin API lists it (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ApiKeyRecord {
    pub id: String,
    pub name: String,
    pub partial_key_hint: Option<String>,
    pub workspace_id: Option<String>,
    pub status: String,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
}
