//! The two Admin API reports on the wire: the query of one page (usage grouped by key,
//! workspace, model, tier and context window; cost grouped by workspace and description; daily
//! buckets, `page` / `next_page`), and the parse of a page into cached rows. Amounts arrive as
//! decimal strings of cents and become exact picodollars.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::types::{CostLine, Pico, Tokens, UsageRow};

pub const USAGE_PATH: &str = "/v1/organizations/usage_report/messages";
pub const COST_PATH: &str = "/v1/organizations/cost_report";
/// The usage dimensions a sync groups by: the key and model for attribution, the workspace for
/// reconciliation, tier and context window for the batch and long-context rates.
pub const USAGE_GROUP_BY: [&str; 5] = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"];
pub const COST_GROUP_BY: [&str; 2] = ["workspace_id", "description"];

/// One page of a report, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// The first bucket's day and the day after the last one (`None`: no buckets).
    pub days: Option<(NaiveDate, NaiveDate)>,
    pub next_page: Option<String>,
}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass): the one encoder
/// of every Admin API query (reports, rate limits, key list).
pub(crate) fn enc(s: &str) -> String {
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

fn day_start(d: NaiveDate) -> String {
    format!("{}T00:00:00Z", d.format("%Y-%m-%d"))
}

/// The path and query of one page of `path` over `start..end` (days, end exclusive).
pub fn page_query(path: &str, group_by: &[&str], start: NaiveDate, end: NaiveDate, page_days: u32, page: Option<&str>) -> String {
    let mut q = format!("{path}?starting_at={}&ending_at={}&bucket_width=1d&limit={}", enc(&day_start(start)), enc(&day_start(end)), page_days.clamp(1, 31));
    for g in group_by {
        q.push_str(&format!("&{}={}", enc("group_by[]"), enc(g)));
    }
    if let Some(p) = page {
        q.push_str(&format!("&page={}", enc(p)));
    }
    q
}

#[derive(Deserialize)]
struct Envelope<R> {
    data: Vec<Bucket<R>>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    next_page: Option<String>,
}

#[derive(Deserialize)]
struct Bucket<R> {
    starting_at: DateTime<Utc>,
    ending_at: DateTime<Utc>,
    #[serde(default = "Vec::new")]
    results: Vec<R>,
}

#[derive(Deserialize, Default)]
struct CacheCreation {
    #[serde(default)]
    ephemeral_1h_input_tokens: u64,
    #[serde(default)]
    ephemeral_5m_input_tokens: u64,
}

#[derive(Deserialize, Default)]
struct ServerToolUse {
    #[serde(default)]
    web_search_requests: u64,
}

#[derive(Deserialize)]
struct UsageResult {
    #[serde(default)]
    uncached_input_tokens: u64,
    #[serde(default)]
    cache_creation: Option<CacheCreation>,
    #[serde(default)]
    cache_read_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    server_tool_use: Option<ServerToolUse>,
    #[serde(default)]
    api_key_id: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    context_window: Option<String>,
}

#[derive(Deserialize)]
struct CostResult {
    amount: String,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    workspace_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    cost_type: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    service_tier: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    context_window: Option<String>,
}

fn days_of<R>(data: &[Bucket<R>]) -> Option<(NaiveDate, NaiveDate)> {
    let first = data.iter().map(|b| b.starting_at).min()?;
    let last = data.iter().map(|b| b.ending_at).max()?;
    Some((first.date_naive(), last.date_naive()))
}

fn next<R>(e: &Envelope<R>) -> Option<String> {
    if e.has_more {
        e.next_page.clone().filter(|p| !p.is_empty())
    } else {
        None
    }
}

/// A usage report page. Results that fall on the same day and dimensions (the API may split
/// by a dimension not grouped here) are summed.
pub fn parse_usage(body: &[u8]) -> Result<Page<UsageRow>, String> {
    let e: Envelope<UsageResult> = serde_json::from_slice(body).map_err(|e| format!("usage report: {e}"))?;
    /// Day, key, workspace, model, tier, context window.
    type Key = (NaiveDate, Option<String>, Option<String>, String, String, String);
    let mut merged: BTreeMap<Key, Tokens> = BTreeMap::new();
    let (days, next_page) = (days_of(&e.data), next(&e));
    // The page's strings are moved into the rows, not copied.
    for b in e.data {
        let day = b.starting_at.date_naive();
        for r in b.results {
            let model = r.model.filter(|m| !m.is_empty()).ok_or("usage report: a result has no model (the sync groups by model)")?;
            let cc = r.cache_creation.as_ref();
            let t = Tokens {
                uncached_input: r.uncached_input_tokens,
                cache_write_5m: cc.map_or(0, |c| c.ephemeral_5m_input_tokens),
                cache_write_1h: cc.map_or(0, |c| c.ephemeral_1h_input_tokens),
                cache_read: r.cache_read_input_tokens,
                output: r.output_tokens,
                web_search_requests: r.server_tool_use.as_ref().map_or(0, |s| s.web_search_requests),
            };
            let key = (
                day,
                r.api_key_id.filter(|s| !s.is_empty()),
                r.workspace_id.filter(|s| !s.is_empty()),
                model,
                r.service_tier.unwrap_or_default(),
                r.context_window.unwrap_or_default(),
            );
            merged.entry(key).or_default().add(&t);
        }
    }
    let rows = merged
        .into_iter()
        .map(|((day, api_key_id, workspace_id, model, service_tier, context_window), tokens)| UsageRow {
            day,
            api_key_id,
            workspace_id,
            model,
            service_tier,
            context_window,
            tokens,
        })
        .collect();
    Ok(Page { rows, days, next_page })
}

/// A cost report page.
pub fn parse_cost(body: &[u8]) -> Result<Page<CostLine>, String> {
    let e: Envelope<CostResult> = serde_json::from_slice(body).map_err(|e| format!("cost report: {e}"))?;
    type Key = (NaiveDate, Option<String>, Option<String>, String, Option<String>, Option<String>, Option<String>, Option<String>, String);
    let mut merged: BTreeMap<Key, Pico> = BTreeMap::new();
    for b in &e.data {
        let day = b.starting_at.date_naive();
        for r in &b.results {
            let amount =
                cents_to_pico(&r.amount).ok_or_else(|| format!("cost report: amount {:?} is not a decimal number of cents", r.amount.chars().take(40).collect::<String>()))?;
            let currency = r.currency.clone().unwrap_or_else(|| "USD".into());
            if currency != "USD" {
                return Err(format!("cost report: currency {currency} is not supported"));
            }
            let key = (
                day,
                r.workspace_id.clone().filter(|s| !s.is_empty()),
                r.description.clone(),
                r.cost_type.clone().unwrap_or_default(),
                r.model.clone(),
                r.service_tier.clone(),
                r.token_type.clone(),
                r.context_window.clone(),
                currency,
            );
            *merged.entry(key).or_default() += amount;
        }
    }
    let rows = merged
        .into_iter()
        .map(|((day, workspace_id, description, cost_type, model, service_tier, token_type, context_window, currency), amount_pico)| CostLine {
            day,
            workspace_id,
            description,
            cost_type,
            model,
            service_tier,
            token_type,
            context_window,
            amount_pico,
            currency,
        })
        .collect();
    Ok(Page { rows, days: days_of(&e.data), next_page: next(&e) })
}

/// A decimal string of cents (`"123.45"`, `"0.000375"`, `"-2"`) as picodollars (1 cent =
/// 1e10 pico); digits past the 10th decimal are dropped.
pub fn cents_to_pico(s: &str) -> Option<Pico> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f = frac.chars().take(10).collect::<String>();
    while f.len() < 10 {
        f.push('0');
    }
    let frac: i64 = f.parse().ok()?;
    let v = int.checked_mul(10_000_000_000)?.checked_add(frac)?;
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cents_parse_exactly() {
        assert_eq!(cents_to_pico("123.45"), Some(1_234_500_000_000));
        assert_eq!(cents_to_pico("0.000375"), Some(3_750_000));
        assert_eq!(cents_to_pico("12"), Some(120_000_000_000));
        assert_eq!(cents_to_pico("-2.5"), Some(-25_000_000_000));
        assert_eq!(cents_to_pico(".5"), Some(5_000_000_000));
        for bad in ["", ".", "1e3", "12,5", "abc", "1.2.3", "99999999999999999999"] {
            assert_eq!(cents_to_pico(bad), None, "{bad}");
        }
    }

    #[test]
    fn queries_carry_the_documented_parameters() {
        let q = page_query(USAGE_PATH, &USAGE_GROUP_BY, "2026-11-01".parse().unwrap(), "2026-12-06".parse().unwrap(), 31, Some("page_x/1"));
        assert_eq!(
            q,
            "/v1/organizations/usage_report/messages?starting_at=2026-11-01T00%3A00%3A00Z&ending_at=2026-12-06T00%3A00%3A00Z&bucket_width=1d&limit=31\
             &group_by%5B%5D=api_key_id&group_by%5B%5D=workspace_id&group_by%5B%5D=model&group_by%5B%5D=service_tier&group_by%5B%5D=context_window&page=page_x%2F1"
        );
        assert!(page_query(COST_PATH, &COST_GROUP_BY, "2026-11-01".parse().unwrap(), "2026-11-02".parse().unwrap(), 99, None)
            .contains("limit=31&group_by%5B%5D=workspace_id&group_by%5B%5D=description"));
    }

    #[test]
    fn usage_page_parses_the_documented_shape() {
        let body = json!({"data":[{"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z",
            "results":[{"uncached_input_tokens":1500,"cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":200},
                 "cache_read_input_tokens":300,"output_tokens":500,"server_tool_use":{"web_search_requests":2},
                 "api_key_id":"apikey_1","workspace_id":"wrkspc_1","model":"claude-x","service_tier":"standard",
                 "context_window":"0-200k","inference_geo":null},
                 {"uncached_input_tokens":1,"output_tokens":1,"api_key_id":null,"workspace_id":null,"model":"claude-x"}]},
            {"starting_at":"2025-08-02T00:00:00Z","ending_at":"2025-08-03T00:00:00Z","results":[]}],
            "has_more":true,"next_page":"page_2"});
        let p = parse_usage(&body.to_string().into_bytes()).unwrap();
        assert_eq!(p.days, Some(("2025-08-01".parse().unwrap(), "2025-08-03".parse().unwrap())));
        assert_eq!(p.next_page.as_deref(), Some("page_2"));
        assert_eq!(p.rows.len(), 2);
        let r = p.rows.iter().find(|r| r.api_key_id.is_some()).unwrap();
        assert_eq!(r.tokens, Tokens { uncached_input: 1500, cache_write_5m: 200, cache_write_1h: 0, cache_read: 300, output: 500, web_search_requests: 2 });
        assert_eq!((r.workspace_id.as_deref(), r.service_tier.as_str()), (Some("wrkspc_1"), "standard"));
        let wb = p.rows.iter().find(|r| r.api_key_id.is_none()).unwrap();
        assert_eq!((wb.workspace_id.as_deref(), wb.service_tier.as_str()), (None, ""));
        // has_more false ends it even with a token.
        assert_eq!(parse_usage(json!({"data":[],"has_more":false,"next_page":"x"}).to_string().as_bytes()).unwrap().next_page, None);
        assert!(
            parse_usage(json!({"data":[{"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z","results":[{"api_key_id":"k"}]}]}).to_string().as_bytes()).is_err()
        );
        assert!(parse_usage(json!({"oops":1}).to_string().as_bytes()).is_err());
    }

    #[test]
    fn cost_page_parses_cents() {
        let body = json!({"data":[{"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z",
            "results":[{"currency":"USD","amount":"123.45","workspace_id":"wrkspc_1","description":"Claude X Usage - Input Tokens","cost_type":"tokens",
                        "model":"claude-x","service_tier":"standard","token_type":"uncached_input_tokens","context_window":"0-200k","inference_geo":null},
                       {"currency":"USD","amount":"50","workspace_id":null,"description":"Code Execution Usage","cost_type":"code_execution",
                        "model":null,"service_tier":null,"token_type":null,"context_window":null,"inference_geo":null}]}],
            "has_more":false,"next_page":null});
        let p = parse_cost(&body.to_string().into_bytes()).unwrap();
        assert_eq!(p.rows.len(), 2);
        let code = p.rows.iter().find(|l| l.cost_type == "code_execution").unwrap();
        assert_eq!((code.amount_pico, code.workspace_id.as_deref()), (500_000_000_000, None));
        let tok = p.rows.iter().find(|l| l.cost_type == "tokens").unwrap();
        assert_eq!(tok.amount_pico, 1_234_500_000_000);
        assert!(
            parse_cost(json!({"data":[{"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z","results":[{"amount":"lots"}]}]}).to_string().as_bytes()).is_err()
        );
        assert!(parse_cost(
            json!({"data":[{"starting_at":"2025-08-01T00:00:00Z","ending_at":"2025-08-02T00:00:00Z","results":[{"amount":"1","currency":"EUR"}]}]}).to_string().as_bytes()
        )
        .is_err());
    }
}
