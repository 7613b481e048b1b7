//! Usage and cost reports (F5, §1.6): UTC-aligned buckets, group_by, filters, `page` /
//! `next_page` pagination, the data-lag knob, and costs in cents as decimal strings (the batch
//! tier at half price; charges without tokens, such as code execution, only in the cost report).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::query::Query;
use crate::server::{fmt_time, json_response, Shared};
use crate::state::{State, UsageRow};

const USAGE_GROUPS: [&str; 6] = ["api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo"];

struct Window {
    width: TimeDelta,
    buckets: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    next_page: Option<String>,
}

fn window(q: &Query, now: DateTime<Utc>, widths: &[&str]) -> Result<Window, ApiError> {
    let starting_at = q.time("starting_at")?.ok_or_else(|| ApiError::invalid("starting_at: Field required"))?;
    let ending_at = q.time("ending_at")?;
    let bw = q.get("bucket_width").unwrap_or("1d");
    if !widths.contains(&bw) {
        let allowed: Vec<String> = widths.iter().map(|w| format!("'{w}'")).collect();
        return Err(ApiError::invalid(format!("bucket_width: Input should be {}", allowed.join(", "))));
    }
    let (width, default_limit, max_limit) = match bw {
        "1m" => (TimeDelta::minutes(1), 60, 1440),
        "1h" => (TimeDelta::hours(1), 24, 168),
        _ => (TimeDelta::days(1), 7, 31),
    };
    let limit = q.int("limit", default_limit, 1, max_limit)? as usize;
    if let Some(end) = ending_at {
        if end <= starting_at {
            return Err(ApiError::invalid("ending_at: must be after starting_at"));
        }
    }
    let mut start = starting_at.duration_trunc(width).unwrap_or(starting_at);
    if let Some(page) = q.get("page") {
        let secs = page
            .strip_prefix("page_")
            .and_then(|s| s.parse::<i64>().ok())
            .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
            .ok_or_else(|| ApiError::invalid("page: Invalid page token"))?;
        start = secs;
    }
    let end = ending_at.unwrap_or(now);
    let mut buckets = Vec::new();
    let mut t = start;
    while t < end && buckets.len() < limit {
        let Some(next) = t.checked_add_signed(width) else { break };
        buckets.push((t, next));
        t = next;
    }
    let next_page = (t < end && buckets.len() == limit).then(|| format!("page_{}", t.timestamp()));
    Ok(Window { width, buckets, next_page })
}

fn visible_rows(state: &State) -> impl Iterator<Item = &UsageRow> {
    let now = state.now();
    let lag = Duration::try_seconds(state.knobs.usage_lag_seconds).unwrap_or(Duration::zero());
    let cutoff = now.checked_sub_signed(lag).unwrap_or(now);
    state.usage.iter().filter(move |r| r.ts <= cutoff)
}

/// `rows` split by the bucket holding each (buckets are ascending and contiguous): one pass
/// over the rows instead of one per bucket, so a 31-day page of a large org stays cheap.
fn by_bucket<'a>(rows: impl Iterator<Item = &'a UsageRow>, buckets: &[(DateTime<Utc>, DateTime<Utc>)]) -> Vec<Vec<&'a UsageRow>> {
    let mut out: Vec<Vec<&UsageRow>> = vec![Vec::new(); buckets.len()];
    for r in rows {
        let i = buckets.partition_point(|(b0, _)| *b0 <= r.ts);
        if let Some((_, b1)) = i.checked_sub(1).and_then(|i| buckets.get(i)) {
            if r.ts < *b1 {
                out[i - 1].push(r);
            }
        }
    }
    out
}

fn filter_list(q: &Query, name: &str) -> Vec<String> {
    q.list(name)
}

fn matches(list: &[String], v: Option<&str>) -> bool {
    list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v))
}

fn group_by(q: &Query, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let g = q.list("group_by");
    for (i, x) in g.iter().enumerate() {
        if !allowed.contains(&x.as_str()) {
            let names: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
            return Err(ApiError::invalid(format!("group_by.{i}: Input should be {}", names.join(", "))));
        }
    }
    Ok(g)
}

/// Cost grouping: workspace, then the description dimensions (description, cost_type, model,
/// service_tier, token_type, context_window, inference_geo) when grouped by description.
type CostKey = (Option<String>, Option<[Option<String>; 7]>);

#[derive(Default)]
struct Agg {
    uncached: u64,
    c5m: u64,
    c1h: u64,
    read: u64,
    out: u64,
    search: u64,
}

fn envelope(data: Vec<Value>, next_page: Option<String>) -> Value {
    json!({"data": data, "has_more": next_page.is_some(), "next_page": next_page})
}

/// `GET /v1/organizations/usage_report/messages`.
pub(crate) fn usage_report(shared: &Arc<Shared>, q: &Query) -> Result<Response<Body>, ApiError> {
    let g = shared.lock();
    let state = &g.state;
    let win = window(q, state.now(), &["1d", "1h", "1m"])?;
    let groups = group_by(q, &USAGE_GROUPS)?;
    let f_keys = filter_list(q, "api_key_ids");
    let f_ws = filter_list(q, "workspace_ids");
    let f_models = filter_list(q, "models");
    let f_tiers = filter_list(q, "service_tiers");
    let f_ctx = filter_list(q, "context_window");
    let f_geo = filter_list(q, "inference_geos");
    let rows = visible_rows(state)
        .filter(|r| matches(&f_keys, r.api_key_id.as_deref()))
        .filter(|r| matches(&f_ws, r.workspace_id.as_deref()))
        .filter(|r| matches(&f_models, Some(&r.model)))
        .filter(|r| matches(&f_tiers, Some(&r.service_tier)))
        .filter(|r| matches(&f_ctx, Some(&r.context_window)))
        .filter(|r| matches(&f_geo, r.inference_geo.as_deref()));
    let bucketed = by_bucket(rows, &win.buckets);
    let has = |g: &str| groups.iter().any(|x| x == g);
    let mut data = Vec::new();
    for ((b0, b1), in_bucket) in win.buckets.iter().zip(&bucketed) {
        let mut agg: BTreeMap<[Option<String>; 6], Agg> = BTreeMap::new();
        for r in in_bucket {
            let key = [
                if has("api_key_id") { r.api_key_id.clone() } else { None },
                if has("workspace_id") { r.workspace_id.clone() } else { None },
                if has("model") { Some(r.model.clone()) } else { None },
                if has("service_tier") { Some(r.service_tier.clone()) } else { None },
                if has("context_window") { Some(r.context_window.clone()) } else { None },
                if has("inference_geo") { r.inference_geo.clone() } else { None },
            ];
            let a = agg.entry(key).or_default();
            a.uncached += r.uncached_input_tokens;
            a.c5m += r.cache_creation_5m;
            a.c1h += r.cache_creation_1h;
            a.read += r.cache_read_input_tokens;
            a.out += r.output_tokens;
            a.search += r.web_search_requests;
        }
        let results: Vec<UsageOut> = agg
            .into_iter()
            .map(|(k, a)| {
                let [api_key_id, workspace_id, model, service_tier, context_window, inference_geo] = k;
                UsageOut {
                    uncached_input_tokens: a.uncached,
                    cache_creation: CacheOut { ephemeral_1h_input_tokens: a.c1h, ephemeral_5m_input_tokens: a.c5m },
                    cache_read_input_tokens: a.read,
                    output_tokens: a.out,
                    server_tool_use: ToolOut { web_search_requests: a.search },
                    api_key_id,
                    workspace_id,
                    model,
                    service_tier,
                    context_window,
                    inference_geo,
                }
            })
            .collect();
        data.push(BucketOut { starting_at: fmt_time(*b0), ending_at: fmt_time(*b1), results });
    }
    let _ = win.width;
    // Typed, not a `json!` tree: a 31-day page of a large org is tens of MB.
    let body =
        serde_json::to_string(&EnvelopeOut { has_more: win.next_page.is_some(), next_page: win.next_page, data }).map_err(|e| ApiError::new(500, "api_error", e.to_string()))?;
    Ok(crate::server::json_text_response(200, body))
}

#[derive(serde::Serialize)]
struct EnvelopeOut<T> {
    data: Vec<T>,
    has_more: bool,
    next_page: Option<String>,
}

#[derive(serde::Serialize)]
struct BucketOut {
    starting_at: String,
    ending_at: String,
    results: Vec<UsageOut>,
}

#[derive(serde::Serialize)]
struct CacheOut {
    ephemeral_1h_input_tokens: u64,
    ephemeral_5m_input_tokens: u64,
}

#[derive(serde::Serialize)]
struct ToolOut {
    web_search_requests: u64,
}

/// One usage report result, as the API documents it.
#[derive(serde::Serialize)]
struct UsageOut {
    uncached_input_tokens: u64,
    cache_creation: CacheOut,
    cache_read_input_tokens: u64,
    output_tokens: u64,
    server_tool_use: ToolOut,
    api_key_id: Option<String>,
    workspace_id: Option<String>,
    model: Option<String>,
    service_tier: Option<String>,
    context_window: Option<String>,
    inference_geo: Option<String>,
}

/// The dimensions of a group of usage rows in the cost report.
struct LineRow<'a> {
    workspace_id: Option<&'a str>,
    model: &'a str,
    service_tier: &'a str,
    context_window: &'a str,
    inference_geo: Option<&'a str>,
}

/// An amount in units of 1e-8 cents, as a decimal string of cents ("12.5", "0.000375").
pub fn format_cents(units: u128) -> String {
    let int = units / 100_000_000;
    let frac = units % 100_000_000;
    if frac == 0 {
        return int.to_string();
    }
    let f = format!("{frac:08}");
    format!("{int}.{}", f.trim_end_matches('0'))
}

/// `GET /v1/organizations/cost_report`.
pub(crate) fn cost_report(shared: &Arc<Shared>, q: &Query) -> Result<Response<Body>, ApiError> {
    let g = shared.lock();
    let state = &g.state;
    let win = window(q, state.now(), &["1d"])?;
    if q.list("group_by").iter().any(|x| x == "api_key_id") {
        return Err(ApiError::invalid("group_by: api_key_id is not supported for the cost report; group by workspace_id and/or description"));
    }
    let groups = group_by(q, &["workspace_id", "description"])?;
    let by_ws = groups.iter().any(|x| x == "workspace_id");
    let by_desc = groups.iter().any(|x| x == "description");
    let f_ws = filter_list(q, "workspace_ids");
    let rows = visible_rows(state).filter(|r| matches(&f_ws, r.workspace_id.as_deref()));
    let bucketed = by_bucket(rows, &win.buckets);
    let mut data = Vec::new();
    for ((b0, b1), in_bucket) in win.buckets.iter().zip(&bucketed) {
        // key: workspace, (description, cost_type, model, service_tier, token_type, context_window, inference_geo)
        let mut agg: BTreeMap<CostKey, u128> = BTreeMap::new();
        // Each row's line amounts (halved per row for the batch tier, as before), summed per
        // (workspace, model, tier, window, geo) without allocating; the descriptions are made
        // once per group below.
        type Line<'a> = (Option<&'a str>, &'a str, &'a str, &'a str, Option<&'a str>);
        let mut lines: BTreeMap<Line, [u128; 6]> = BTreeMap::new();
        for r in in_bucket {
            let (inp, outp) = state.model(&r.model).map_or((0, 0), |m| (m.input_cents_per_mtok as u128, m.output_cents_per_mtok as u128));
            // The batch tier costs half on every token line (§1.6); searches keep their price.
            let tier = |units: u128| if r.service_tier == "batch" { units / 2 } else { units };
            let units = [
                tier(r.uncached_input_tokens as u128 * inp * 100),
                tier(r.cache_creation_5m as u128 * inp * 125),
                tier(r.cache_creation_1h as u128 * inp * 200),
                tier(r.cache_read_input_tokens as u128 * inp * 10),
                tier(r.output_tokens as u128 * outp * 100),
                // $10 per 1,000 searches = 1 cent each = 1e8 units.
                r.web_search_requests as u128 * 100_000_000,
            ];
            let sums = lines.entry((r.workspace_id.as_deref(), &r.model, &r.service_tier, &r.context_window, r.inference_geo.as_deref())).or_default();
            for (s, u) in sums.iter_mut().zip(units) {
                *s += u;
            }
        }
        for ((workspace_id, model, service_tier, context_window, inference_geo), sums) in lines {
            let name = state.model(model).map_or_else(|| model.to_string(), |m| m.display_name.clone());
            let kinds: [(&str, &str, &str); 6] = [
                ("tokens", "uncached_input_tokens", "Input Tokens"),
                ("tokens", "cache_creation.ephemeral_5m_input_tokens", "Input Tokens, Cache Write 5m"),
                ("tokens", "cache_creation.ephemeral_1h_input_tokens", "Input Tokens, Cache Write 1h"),
                ("tokens", "cache_read_input_tokens", "Input Tokens, Cache Read"),
                ("tokens", "output_tokens", "Output Tokens"),
                ("web_search", "", "Web Search"),
            ];
            let r = LineRow { workspace_id, model, service_tier, context_window, inference_geo };
            for ((cost_type, token_type, label), units) in kinds.into_iter().zip(sums) {
                if units == 0 {
                    continue;
                }
                let ws = if by_ws { r.workspace_id.map(str::to_string) } else { None };
                let desc = by_desc.then(|| {
                    [
                        Some(format!("{name} Usage - {label}")),
                        Some(cost_type.to_string()),
                        Some(r.model.to_string()),
                        Some(r.service_tier.to_string()),
                        (!token_type.is_empty()).then(|| token_type.to_string()),
                        Some(r.context_window.to_string()),
                        r.inference_geo.map(str::to_string),
                    ]
                });
                *agg.entry((ws, desc)).or_default() += units;
            }
        }
        for c in state.non_token_costs.iter().filter(|c| c.ts >= *b0 && c.ts < *b1 && matches(&f_ws, c.workspace_id.as_deref())) {
            let ws = if by_ws { c.workspace_id.clone() } else { None };
            let desc = by_desc.then(|| [Some(c.description.clone()), Some(c.cost_type.clone()), None, None, None, None, None]);
            *agg.entry((ws, desc)).or_default() += c.cents as u128 * 100_000_000;
        }
        let results: Vec<Value> = agg
            .into_iter()
            .map(|((ws, desc), units)| {
                let mut o = Map::new();
                o.insert("currency".into(), json!("USD"));
                o.insert("amount".into(), json!(format_cents(units)));
                o.insert("workspace_id".into(), json!(ws));
                let d = desc.unwrap_or_default();
                for (i, k) in ["description", "cost_type", "model", "service_tier", "token_type", "context_window", "inference_geo"].iter().enumerate() {
                    o.insert((*k).into(), json!(d[i]));
                }
                Value::Object(o)
            })
            .collect();
        data.push(json!({"starting_at": fmt_time(*b0), "ending_at": fmt_time(*b1), "results": results}));
    }
    Ok(json_response(200, &envelope(data, win.next_page)))
}

#[cfg(test)]
mod tests {
    use super::format_cents;

    #[test]
    fn cents_format() {
        assert_eq!(format_cents(0), "0");
        assert_eq!(format_cents(100_000_000), "1");
        assert_eq!(format_cents(1_250_000_000), "12.5");
        assert_eq!(format_cents(37_500), "0.000375");
    }
}
