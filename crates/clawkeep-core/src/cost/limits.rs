//! Anthropic's configured rate limits (the Admin API's Rate Limits API), pure: the two lists'
//! query and parse into the cached row ([`RateLimitEntry`]), and which configured value applies
//! to an instance's requests (its workspace's entries when they were read, else the
//! organisation's) for a group and limiter — what the budgets view shows and the throughput
//! check compares with the probes' headers.
//!
//! Wire shapes, as documented (API reference "List Organization Rate Limits" / "List Workspace
//! Rate Limits", TypeScript SDK `resources/organization/rate-limits.ts`):
//! - `GET /v1/organizations/rate_limits` → `{data: [{type: "rate_limit", id, group: {id, type,
//!   display_name?}, models: [..] | null, limits: [{type, value}]}], next_page}`;
//! - `GET /v1/organizations/workspaces/{id}/rate_limits?include_inherited=true` →
//!   `{data: [{type: "workspace_rate_limit", workspace_id, rate_limit_id, group, models,
//!   limits: [{type, value, org_limit, source: {type: "workspace" | "organization"}}]}], next_page}`.
//!
//! Where the documentation differs between versions we accept both: the group's type is read
//! from `group.type`, else from a top-level `group_type` (the guide's older examples); a
//! limiter's `source` may be a bare string instead of `{type}`. Unknown group and limiter
//! types are kept as sent. A `value` that is not a non-negative integer is an error, never 0.

use super::wire::enc;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The organisation's list.
pub const ORG_PATH: &str = "/v1/organizations/rate_limits";
/// Entries asked for per page (the API allows 1–1000; without `limit` it returns every entry
/// in one page, which we do not rely on).
pub const PAGE_LIMIT: u32 = 100;
/// The most pages one list may take: a server that keeps answering `next_page` cannot loop.
pub const MAX_PAGES: usize = 20;
/// The most workspaces read per refresh (an organisation has at most 100 active ones).
pub const MAX_WORKSPACES: usize = 100;
/// A requests-per-minute limit at or under this is "small" (usage tier 1's published figure).
pub const SMALL_RPM: u64 = 50;

/// Where a configured value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum LimitSource {
    /// The organisation's limit (for a workspace: no override is stored, the org's applies).
    Organization,
    /// A workspace-level override.
    Workspace,
}

impl LimitSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitSource::Organization => "organization",
            LimitSource::Workspace => "workspace",
        }
    }

    pub fn parse(s: &str) -> Option<LimitSource> {
        match s {
            "organization" => Some(LimitSource::Organization),
            "workspace" => Some(LimitSource::Workspace),
            _ => None,
        }
    }
}

/// One configured limiter value of one rate-limit group, for the organisation or for one
/// workspace: the cached row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RateLimitEntry {
    /// `None`: the organisation's own limits.
    pub workspace_id: Option<String>,
    /// The organisation entry's `id` (a workspace entry's `rate_limit_id`).
    pub rate_limit_id: String,
    /// `model_group`, `batch`, `files`, `skills`, `token_count`, `web_search` (a newer type is
    /// kept as sent).
    pub group_type: String,
    /// The group's display name (`Claude Sonnet 4.x`), when the API gives one.
    pub group_name: Option<String>,
    /// The models (ids and aliases) a model group covers; empty for other groups.
    pub models: Vec<String>,
    /// `requests_per_minute`, `input_tokens_per_minute`, `output_tokens_per_minute`, …
    pub limiter: String,
    pub value: u64,
    /// For a workspace's value: the organisation's value of the same limiter, for reference.
    pub org_limit: Option<u64>,
    pub source: LimitSource,
    pub fetched_at: DateTime<Utc>,
}

impl RateLimitEntry {
    /// A workspace override below the organisation's limit (the workspace's own cap).
    pub fn tighter_than_org(&self) -> bool {
        self.source == LimitSource::Workspace && self.org_limit.is_some_and(|o| self.value < o)
    }

    /// The group as a person reads it: its display name, else its type.
    pub fn group_label(&self) -> &str {
        self.group_name.as_deref().unwrap_or(&self.group_type)
    }

    /// `20 requests_per_minute (workspace override; organization 50)`.
    pub fn describe(&self) -> String {
        let from = match (self.source, self.org_limit) {
            (LimitSource::Workspace, Some(o)) => format!("workspace override; organization {o}"),
            (LimitSource::Workspace, None) => "workspace override".to_string(),
            (LimitSource::Organization, _) if self.workspace_id.is_some() => "organization's, inherited".to_string(),
            (LimitSource::Organization, _) => "organization".to_string(),
        };
        format!("{} {} ({from})", self.value, self.limiter)
    }
}

/// Everything known of the configured limits, from the cache.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RateLimits {
    /// The organisation's entries first, then each workspace's (by id), each by group and limiter.
    pub entries: Vec<RateLimitEntry>,
    /// When the oldest shown entry was read (`None`: nothing cached yet).
    pub fetched_at: Option<DateTime<Utc>>,
    /// What a refresh could not read (a workspace the Admin API does not show, …); empty when
    /// read from the cache alone.
    pub notes: Vec<String>,
}

/// One parsed page.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsPage {
    pub entries: Vec<RateLimitEntry>,
    pub next_page: Option<String>,
}

/// The path of a workspace's list.
pub fn workspace_path(workspace_id: &str) -> String {
    format!("/v1/organizations/workspaces/{}/rate_limits", enc(workspace_id))
}

/// The path and query of one page: the organisation's list (`workspace: None`), or a
/// workspace's with the values it inherits (so a workspace without overrides still shows what
/// applies to it, each value marked by its source).
pub fn page_query(workspace: Option<&str>, page: Option<&str>) -> String {
    let mut q = match workspace {
        None => format!("{ORG_PATH}?limit={PAGE_LIMIT}"),
        Some(w) => format!("{}?include_inherited=true&limit={PAGE_LIMIT}", workspace_path(w)),
    };
    if let Some(p) = page {
        q.push_str(&format!("&page={}", enc(p)));
    }
    q
}

#[derive(Deserialize)]
struct Envelope {
    data: Vec<Value>,
    #[serde(default)]
    next_page: Option<String>,
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn group_of(e: &Value) -> Result<(String, Option<String>), String> {
    let g = e.get("group");
    let ty = g.and_then(|g| str_field(g, "type")).or_else(|| str_field(e, "group_type")).ok_or("an entry has no group type")?;
    let name = g.and_then(|g| str_field(g, "display_name")).map(str::to_string);
    Ok((ty.to_string(), name))
}

fn models_of(e: &Value) -> Vec<String> {
    e.get("models").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
}

fn uint(v: Option<&Value>, what: &str) -> Result<u64, String> {
    v.and_then(Value::as_u64).ok_or_else(|| format!("{what} is not a non-negative integer"))
}

fn source_of(l: &Value) -> Result<LimitSource, String> {
    let s = l.get("source").map(|s| s.get("type").unwrap_or(s)).and_then(Value::as_str).ok_or("a workspace value has no source")?;
    LimitSource::parse(s).ok_or_else(|| format!("unknown source {s:?}"))
}

/// A page of the organisation's list.
pub fn parse_org(body: &[u8], fetched_at: DateTime<Utc>) -> Result<LimitsPage, String> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("rate limits: {e}"))?;
    let mut entries = Vec::new();
    for e in &env.data {
        let id = str_field(e, "id").ok_or("rate limits: an entry has no id")?;
        let (group_type, group_name) = group_of(e).map_err(|m| format!("rate limits: {m}"))?;
        let models = models_of(e);
        for l in e.get("limits").and_then(Value::as_array).ok_or("rate limits: an entry has no limits")? {
            let limiter = str_field(l, "type").ok_or("rate limits: a value has no type")?;
            entries.push(RateLimitEntry {
                workspace_id: None,
                rate_limit_id: id.to_string(),
                group_type: group_type.clone(),
                group_name: group_name.clone(),
                models: models.clone(),
                limiter: limiter.to_string(),
                value: uint(l.get("value"), &format!("rate limits: {limiter}"))?,
                org_limit: None,
                source: LimitSource::Organization,
                fetched_at,
            });
        }
    }
    Ok(LimitsPage { entries, next_page: env.next_page.filter(|p| !p.is_empty()) })
}

/// A page of a workspace's list (asked with `include_inherited=true`).
pub fn parse_workspace(body: &[u8], workspace_id: &str, fetched_at: DateTime<Utc>) -> Result<LimitsPage, String> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("workspace rate limits: {e}"))?;
    let mut entries = Vec::new();
    for e in &env.data {
        let id = str_field(e, "rate_limit_id").or_else(|| str_field(e, "id")).ok_or("workspace rate limits: an entry has no rate_limit_id")?;
        let (group_type, group_name) = group_of(e).map_err(|m| format!("workspace rate limits: {m}"))?;
        let models = models_of(e);
        for l in e.get("limits").and_then(Value::as_array).ok_or("workspace rate limits: an entry has no limits")? {
            let limiter = str_field(l, "type").ok_or("workspace rate limits: a value has no type")?;
            let org_limit = match l.get("org_limit") {
                None | Some(Value::Null) => None,
                v => Some(uint(v, &format!("workspace rate limits: {limiter}'s org_limit"))?),
            };
            entries.push(RateLimitEntry {
                workspace_id: Some(workspace_id.to_string()),
                rate_limit_id: id.to_string(),
                group_type: group_type.clone(),
                group_name: group_name.clone(),
                models: models.clone(),
                limiter: limiter.to_string(),
                value: uint(l.get("value"), &format!("workspace rate limits: {limiter}"))?,
                org_limit,
                source: source_of(l).map_err(|m| format!("workspace rate limits: {m}"))?,
                fetched_at,
            });
        }
    }
    Ok(LimitsPage { entries, next_page: env.next_page.filter(|p| !p.is_empty()) })
}

/// The order every view shows: organisation first, then workspaces by id; by group, limiter.
pub fn sort(entries: &mut [RateLimitEntry]) {
    entries.sort_by(|a, b| {
        (a.workspace_id.is_some(), &a.workspace_id, &a.group_type, a.group_label(), &a.rate_limit_id, &a.limiter).cmp(&(
            b.workspace_id.is_some(),
            &b.workspace_id,
            &b.group_type,
            b.group_label(),
            &b.rate_limit_id,
            &b.limiter,
        ))
    });
}

/// The configured values that apply to requests in `workspace` of a `group_type` (for a
/// model group: the group listing `model`, or the only model group there is): the workspace's
/// entries of that group type when it has any, else the organisation's. Empty when nothing fits.
pub fn applicable<'a>(entries: &'a [RateLimitEntry], workspace: Option<&str>, group_type: &str, model: Option<&str>) -> Vec<&'a RateLimitEntry> {
    let of_type = entries.iter().filter(|e| e.group_type == group_type);
    let mine: Vec<&RateLimitEntry> = of_type.clone().filter(|e| workspace.is_some() && e.workspace_id.as_deref() == workspace).collect();
    let pool: Vec<&RateLimitEntry> = if mine.is_empty() { of_type.filter(|e| e.workspace_id.is_none()).collect() } else { mine };
    let mut ids: Vec<&str> = pool.iter().map(|e| e.rate_limit_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let by_model = model.and_then(|m| pool.iter().find(|e| e.models.iter().any(|x| x == m))).map(|e| e.rate_limit_id.as_str());
    let chosen = by_model.or(if ids.len() == 1 { ids.first().copied() } else { None });
    match chosen {
        Some(id) => pool.into_iter().filter(|e| e.rate_limit_id == id).collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).single().unwrap()
    }

    const ORG_PAGE: &str = r#"{"data":[
        {"type":"rate_limit","id":"rl_1","group":{"id":"rlg_a","type":"model_group","display_name":"Claude Sonnet 5.x"},
         "models":["claude-sonnet-5","claude-sonnet-5-0"],
         "limits":[{"type":"requests_per_minute","value":50},{"type":"input_tokens_per_minute","value":30000}]},
        {"type":"rate_limit","id":"rl_2","group_type":"token_count","models":null,
         "limits":[{"type":"requests_per_minute","value":100}]}
    ],"next_page":"abc"}"#;

    const WS_PAGE: &str = r#"{"data":[
        {"type":"workspace_rate_limit","workspace_id":"wrkspc_1","rate_limit_id":"rl_1",
         "group":{"id":"rlg_a","type":"model_group","display_name":"Claude Sonnet 5.x"},"models":["claude-sonnet-5"],
         "limits":[{"type":"requests_per_minute","value":20,"org_limit":50,"source":{"type":"workspace"}},
                   {"type":"input_tokens_per_minute","value":30000,"org_limit":30000,"source":"organization"}]}
    ],"next_page":null}"#;

    #[test]
    fn parses_the_documented_shapes_and_both_group_forms() {
        let p = parse_org(ORG_PAGE.as_bytes(), t()).unwrap();
        assert_eq!(p.next_page.as_deref(), Some("abc"));
        assert_eq!(p.entries.len(), 3);
        assert_eq!(p.entries[0].group_type, "model_group");
        assert_eq!(p.entries[0].group_name.as_deref(), Some("Claude Sonnet 5.x"));
        assert_eq!(p.entries[0].models, vec!["claude-sonnet-5", "claude-sonnet-5-0"]);
        assert_eq!((p.entries[1].limiter.as_str(), p.entries[1].value), ("input_tokens_per_minute", 30_000));
        assert_eq!(p.entries[2].group_type, "token_count", "the top-level group_type form");
        assert!(p.entries[2].models.is_empty());
        let w = parse_workspace(WS_PAGE.as_bytes(), "wrkspc_1", t()).unwrap();
        assert_eq!(w.next_page, None);
        assert_eq!(w.entries[0].source, LimitSource::Workspace);
        assert!(w.entries[0].tighter_than_org());
        assert_eq!(w.entries[0].describe(), "20 requests_per_minute (workspace override; organization 50)");
        assert_eq!(w.entries[1].source, LimitSource::Organization, "a bare-string source");
        assert!(!w.entries[1].tighter_than_org());
    }

    #[test]
    fn refuses_what_it_cannot_read_without_guessing_zero() {
        let bad = [
            r#"{"data":[{"id":"x","group":{"type":"model_group"},"limits":[{"type":"requests_per_minute","value":-1}]}]}"#,
            r#"{"data":[{"id":"x","group":{"type":"model_group"},"limits":[{"type":"requests_per_minute","value":"50"}]}]}"#,
            r#"{"data":[{"id":"x","limits":[]}]}"#,
            r#"{"data":[{"group":{"type":"model_group"},"limits":[]}]}"#,
            r#"{"nope":1}"#,
        ];
        for b in bad {
            assert!(parse_org(b.as_bytes(), t()).is_err(), "{b}");
        }
        let no_source = r#"{"data":[{"rate_limit_id":"x","group":{"type":"batch"},"limits":[{"type":"requests_per_minute","value":1}]}]}"#;
        assert!(parse_workspace(no_source.as_bytes(), "w", t()).is_err());
    }

    #[test]
    fn queries_are_bounded_and_encoded() {
        assert_eq!(page_query(None, None), "/v1/organizations/rate_limits?limit=100");
        assert_eq!(page_query(Some("wrkspc_1"), Some("a/b")), "/v1/organizations/workspaces/wrkspc_1/rate_limits?include_inherited=true&limit=100&page=a%2Fb");
        assert_eq!(workspace_path("../x"), "/v1/organizations/workspaces/..%2Fx/rate_limits");
    }

    #[test]
    fn the_workspace_entries_apply_when_read_else_the_organisation() {
        let mut all = parse_org(ORG_PAGE.as_bytes(), t()).unwrap().entries;
        all.extend(parse_workspace(WS_PAGE.as_bytes(), "wrkspc_1", t()).unwrap().entries);
        let rpm = |v: Vec<&RateLimitEntry>| v.iter().find(|e| e.limiter == "requests_per_minute").map(|e| (e.value, e.source));
        assert_eq!(rpm(applicable(&all, Some("wrkspc_1"), "model_group", Some("claude-sonnet-5"))), Some((20, LimitSource::Workspace)));
        assert_eq!(rpm(applicable(&all, Some("wrkspc_other"), "model_group", Some("claude-sonnet-5"))), Some((50, LimitSource::Organization)));
        assert_eq!(rpm(applicable(&all, None, "model_group", None)), Some((50, LimitSource::Organization)), "the only model group");
        assert_eq!(rpm(applicable(&all, Some("wrkspc_1"), "token_count", None)), Some((100, LimitSource::Organization)), "no workspace entry of that group");
        assert_eq!(rpm(applicable(&all, Some("wrkspc_2"), "token_count", None)), Some((100, LimitSource::Organization)));
        assert!(applicable(&[], Some("wrkspc_1"), "model_group", None).is_empty());
        sort(&mut all);
        assert!(all[0].workspace_id.is_none() && all.last().unwrap().workspace_id.is_some());
    }
}
