//! Anthropic's spend limits (the Admin API's Spend Limits API, early access), pure: the list's
//! query and parse into the cached row ([`SpendLimit`]), and each limit Clawkeep can attribute
//! spend to (the organisation's, a workspace's, the usage tier's cap) judged against the
//! period's computed cost with the budgets' machinery (`budget::judge`): limit, spent, percent
//! used, the user's warning thresholds, over or forecast over.
//!
//! Wire shape, as documented (platform.claude.com API reference, "List Spend Limits",
//! `GET /v1/organizations/spend_limits`, beta header `spend-limit-reads-2026-09-26`; the
//! `SpendLimit` object of "Spend Limits" › Domain types):
//! - query `limit` (1–1000, default 20), `page` (the previous answer's `next_page`);
//! - answer `{data: [SpendLimit], next_page: string | null}`;
//! - `SpendLimit` = `{type: "spend_limit", id: "spl_…", amount: string | null (a non-negative
//!   integer in the minor unit of `currency`, cents for USD; `null`: no cap at this scope),
//!   created_at, currency (ISO 4217), is_enabled (false only while extra usage is switched
//!   off), period: "daily" | "weekly" | "monthly", scope, updated_at}`;
//! - `scope` is a tagged union on `type`, each variant with its identifier: `organization`,
//!   `workspace` (`workspace_id`), `user` (`user_id`), `seat_tier` (`seat_tier`), `rbac_group`
//!   (`rbac_group_id`), `organization_service` (`service`), and the newer read-only
//!   `usage_tier` (the monthly cap Anthropic sets from the usage tier).
//!
//! Listing is early access for Console organisations: an organisation outside it answers 404
//! (or 403 for a key without the permission); the facade records that as "not available", a
//! state, not an error. The per-member "effective" report (`/spend_limits/effective`) is not
//! read: it answers per member, and Clawkeep's spend is per key and workspace.
//!
//! [ASSUME] the window of a `weekly` limit is the calendar week from Monday (UTC), as the cost
//! views' week; `monthly` the calendar month and `daily` the day (UTC). Spend is Clawkeep's
//! computed cost (usage × price table) for that window; unknown scope types and periods are kept
//! as sent and shown, never judged.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::aggregate::{aggregate, CostGroupBy, CostPeriod, OwnerMap, DEFAULT_WORKSPACE};
use super::budget::{judge, month_of, BudgetState};
use super::prices::PriceTable;
use super::types::{usd, Pico, UsageRow};
use super::wire::enc;

/// The list.
pub const LIST_PATH: &str = "/v1/organizations/spend_limits";
/// The beta the list requires (`anthropic-beta`).
pub const BETA: &str = "spend-limit-reads-2026-09-26";
/// Limits asked for per page (1–1000).
pub const PAGE_LIMIT: u32 = 100;
/// The most pages one list may take: a server that keeps answering `next_page` cannot loop.
pub const MAX_PAGES: usize = 20;
/// Picodollars per cent (the minor unit of USD).
const PICO_PER_CENT: Pico = 10_000_000_000;

/// One configured spend limit: the cached row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpendLimit {
    /// `spl_…`.
    pub id: String,
    /// `organization`, `workspace`, `usage_tier`, `user`, `seat_tier`, `rbac_group`,
    /// `organization_service` (a newer type is kept as sent).
    pub scope_type: String,
    /// The scope's identifier: the workspace id, user id, seat tier, group id or service;
    /// `None` for the organisation and the usage tier.
    pub scope_id: Option<String>,
    /// In the minor unit of `currency` (cents for USD); `None`: no cap at this scope.
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub amount_minor: Option<u64>,
    pub currency: String,
    /// `daily`, `weekly`, `monthly` (kept as sent).
    pub period: String,
    /// `false` while extra usage is switched off (an organisation limit): not enforced then.
    pub is_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
}

impl SpendLimit {
    /// `organization`, `workspace wrkspc_…`, `usage tier`, `user user_…`.
    pub fn scope_label(&self) -> String {
        let ty = self.scope_type.replace('_', " ");
        match &self.scope_id {
            Some(id) => format!("{ty} {id}"),
            None => ty,
        }
    }

    /// The amount as a person reads it: `$500.00`, `4200 EUR (minor units)`, `no cap`.
    pub fn amount_label(&self) -> String {
        match self.amount_minor {
            None => "no cap".into(),
            Some(c) if self.currency == "USD" => format!("${}.{:02}", c / 100, c % 100),
            Some(c) => format!("{c} {} (minor units)", self.currency),
        }
    }
}

/// Whether the organisation shows its spend limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SpendLimitsAvailability {
    /// Never read (no sync with an Admin key yet).
    #[default]
    NotRead,
    /// The list answered.
    Available,
    /// The list answered 404 or 403: the organisation is not in the early access (or the
    /// Admin key may not read them).
    NotAvailable,
}

/// What the CLI and the desktop say when the organisation is outside the early access.
pub const NOT_AVAILABLE: &str = "spend limits: not available for this organisation (early access)";

impl SpendLimitsAvailability {
    pub fn as_str(self) -> &'static str {
        match self {
            SpendLimitsAvailability::NotRead => "not_read",
            SpendLimitsAvailability::Available => "available",
            SpendLimitsAvailability::NotAvailable => "not_available",
        }
    }

    pub fn parse(s: &str) -> Option<SpendLimitsAvailability> {
        match s {
            "not_read" => Some(SpendLimitsAvailability::NotRead),
            "available" => Some(SpendLimitsAvailability::Available),
            "not_available" => Some(SpendLimitsAvailability::NotAvailable),
            _ => None,
        }
    }
}

/// What the status codes of a failed list mean: 404 and 403 are "not available for this
/// organisation", anything else is a failure to read.
pub fn not_available(status: Option<u16>) -> bool {
    matches!(status, Some(404 | 403))
}

/// A limit against the spend Clawkeep computed for its current period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpendJudgement {
    /// The period's first day (UTC).
    pub period_start: NaiveDate,
    pub limit_usd: f64,
    pub limit_pico: Pico,
    pub spent_usd: f64,
    pub spent_pico: Pico,
    /// At the period's run rate.
    pub forecast_usd: f64,
    pub forecast_pico: Pico,
    /// Spent as a percent of the limit.
    pub percent: f64,
    /// The highest of the user's warning thresholds crossed.
    pub crossed: Option<u32>,
    /// `over`: Anthropic refuses requests under this limit until the period resets.
    pub state: BudgetState,
    /// Models whose usage is not priced: the spend understates.
    pub unpriced_models: Vec<String>,
}

/// One limit as the budgets view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpendLimitStatus {
    pub limit: SpendLimit,
    /// `organization`, `workspace wrkspc_…`, …
    pub scope_label: String,
    /// `$500.00`, `no cap`, …
    pub amount_label: String,
    /// `None`: not judged, and `note` says why.
    pub judgement: Option<SpendJudgement>,
    pub note: Option<String>,
}

impl SpendLimitStatus {
    /// Reached, or forecast to reach, Anthropic's limit: what a cron job alerts on.
    pub fn alert(&self) -> bool {
        self.judgement.as_ref().is_some_and(|j| matches!(j.state, BudgetState::Over | BudgetState::ForecastOver))
    }
}

/// Anthropic's spend limits beside the budgets, from the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SpendLimits {
    pub availability: SpendLimitsAvailability,
    /// Why not available (the API's answer), when it is not.
    pub detail: Option<String>,
    /// When the list was last asked for (`None`: never).
    pub checked_at: Option<DateTime<Utc>>,
    /// Most severe first, then the organisation's before the workspaces'.
    pub limits: Vec<SpendLimitStatus>,
    /// The warning thresholds used (percent of a limit).
    pub warn_at: Vec<u32>,
    /// What a refresh could not do; empty when read from the cache alone.
    pub notes: Vec<String>,
    /// The one line the CLI and the desktop show instead of a table when there is nothing to
    /// compare ("spend limits: not available for this organisation (early access)", …).
    pub headline: Option<String>,
}

impl SpendLimits {
    /// The view of these limits, with its [`SpendLimits::headline`].
    pub fn new(availability: SpendLimitsAvailability, detail: Option<String>, checked_at: Option<DateTime<Utc>>, limits: Vec<SpendLimitStatus>, warn_at: Vec<u32>) -> SpendLimits {
        let mut s = SpendLimits { availability, detail, checked_at, limits, warn_at, notes: Vec::new(), headline: None };
        s.headline = s.headline_text().map(str::to_string);
        s
    }

    fn headline_text(&self) -> Option<&'static str> {
        match self.availability {
            SpendLimitsAvailability::NotAvailable => Some(NOT_AVAILABLE),
            SpendLimitsAvailability::NotRead => Some("spend limits: not read yet (a cost sync with an Admin key reads them)"),
            SpendLimitsAvailability::Available if self.limits.is_empty() => Some("spend limits: none configured"),
            SpendLimitsAvailability::Available => None,
        }
    }
}

/// One parsed page.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendLimitsPage {
    pub limits: Vec<SpendLimit>,
    pub next_page: Option<String>,
}

/// The path and query of one page.
pub fn page_query(page: Option<&str>) -> String {
    let mut q = format!("{LIST_PATH}?limit={PAGE_LIMIT}");
    if let Some(p) = page {
        q.push_str(&format!("&page={}", enc(p)));
    }
    q
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn time_field(v: &Value, k: &str) -> Result<DateTime<Utc>, String> {
    let s = str_field(v, k).ok_or_else(|| format!("a limit has no {k}"))?;
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| format!("{k} {s:?} is not an RFC 3339 time"))
}

/// The identifier each documented scope variant carries.
fn scope_of(v: &Value) -> Result<(String, Option<String>), String> {
    let s = v.get("scope").filter(|s| s.is_object()).ok_or("a limit has no scope")?;
    let ty = str_field(s, "type").ok_or("a scope has no type")?;
    let id_field = match ty {
        "organization" | "usage_tier" => None,
        "workspace" => Some("workspace_id"),
        "user" => Some("user_id"),
        "seat_tier" => Some("seat_tier"),
        "rbac_group" => Some("rbac_group_id"),
        "organization_service" => Some("service"),
        // A newer variant: its type is kept, and its identifier if it names one `…_id`.
        _ => None,
    };
    let id = match id_field {
        Some(f) => Some(str_field(s, f).ok_or_else(|| format!("a {ty} scope has no {f}"))?.to_string()),
        None => s.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("_id")).and_then(|(_, v)| v.as_str()).map(str::to_string)),
    };
    Ok((ty.to_string(), id))
}

/// A page of the list. An `amount` that is not a non-negative integer string is an error,
/// never 0.
pub fn parse_page(body: &[u8], fetched_at: DateTime<Utc>) -> Result<SpendLimitsPage, String> {
    #[derive(Deserialize)]
    struct Envelope {
        data: Vec<Value>,
        #[serde(default)]
        next_page: Option<String>,
    }
    let env: Envelope = serde_json::from_slice(body).map_err(|e| format!("spend limits: {e}"))?;
    let mut limits = Vec::new();
    for v in &env.data {
        let e = |m: String| format!("spend limits: {m}");
        let id = str_field(v, "id").ok_or_else(|| e("a limit has no id".into()))?;
        let amount_minor = match v.get("amount") {
            None | Some(Value::Null) => None,
            Some(Value::String(a)) if !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()) => Some(a.parse::<u64>().map_err(|_| e(format!("amount {a:?} is too large")))?),
            Some(a) => return Err(e(format!("amount {a} is not a non-negative integer string"))),
        };
        let (scope_type, scope_id) = scope_of(v).map_err(e)?;
        limits.push(SpendLimit {
            id: id.to_string(),
            scope_type,
            scope_id,
            amount_minor,
            currency: str_field(v, "currency").ok_or_else(|| e("a limit has no currency".into()))?.to_string(),
            period: str_field(v, "period").ok_or_else(|| e("a limit has no period".into()))?.to_string(),
            is_enabled: v.get("is_enabled").and_then(Value::as_bool).ok_or_else(|| e("a limit has no is_enabled".into()))?,
            created_at: time_field(v, "created_at").map_err(e)?,
            updated_at: time_field(v, "updated_at").map_err(e)?,
            fetched_at,
        });
    }
    Ok(SpendLimitsPage { limits, next_page: env.next_page.filter(|p| !p.is_empty()) })
}

/// The current period of a limit at `now`: `[start, end)`, or `None` for a period not known.
fn period_of(period: &str, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    let today = now.date_naive();
    match period {
        "monthly" => Some(month_of(now)),
        "weekly" => {
            let start = CostPeriod::Week.start(today);
            Some((at(start), at(start + Duration::days(7))))
        }
        "daily" => Some((at(today), at(today + Duration::days(1)))),
        _ => None,
    }
}

/// Why a limit is shown but not compared with Clawkeep's spend.
fn not_judged(l: &SpendLimit) -> Option<String> {
    if !matches!(l.scope_type.as_str(), "organization" | "workspace" | "usage_tier") {
        return Some(format!("Clawkeep does not attribute spend to a {} scope", l.scope_type.replace('_', " ")));
    }
    if l.amount_minor.is_none() {
        return Some("no cap at this scope".into());
    }
    if !l.is_enabled {
        return Some("switched off (extra usage is off): not enforced".into());
    }
    if l.currency != "USD" {
        return Some(format!("in {}; Clawkeep computes spend in USD", l.currency));
    }
    if !matches!(l.period.as_str(), "daily" | "weekly" | "monthly") {
        return Some(format!("period {:?} is not one Clawkeep knows", l.period));
    }
    None
}

/// Every cached limit against the spend of its current period (usage priced with `prices`),
/// warning at `warn_at` percent of a limit; most severe first, then the organisation's and the
/// usage tier's before the workspaces', by id.
pub fn judge_spend_limits(limits: &[SpendLimit], usage: &[UsageRow], prices: &PriceTable, warn_at: &[u32], now: DateTime<Utc>) -> Vec<SpendLimitStatus> {
    let owners = OwnerMap::new();
    let mut out: Vec<SpendLimitStatus> = limits
        .iter()
        .map(|l| {
            let note = not_judged(l);
            let judgement = match (&note, l.amount_minor, period_of(&l.period, now)) {
                (None, Some(cents), Some((start, end))) => {
                    let by_ws = aggregate(usage, prices, &owners, CostGroupBy::Workspace, CostPeriod::Month, Some(start.date_naive()), Some(now.date_naive()));
                    let rows: Vec<_> = by_ws
                        .rows
                        .iter()
                        .filter(|r| match l.scope_type.as_str() {
                            "workspace" => l.scope_id.as_deref() == Some(r.group.as_str()) && r.group != DEFAULT_WORKSPACE,
                            _ => true,
                        })
                        .collect();
                    let spent: Pico = rows.iter().map(|r| r.cost_pico).sum();
                    let mut unpriced: Vec<String> = rows.iter().flat_map(|r| r.unpriced_models.iter().cloned()).collect();
                    unpriced.sort();
                    unpriced.dedup();
                    let cap = Pico::try_from(cents).unwrap_or(Pico::MAX / PICO_PER_CENT).saturating_mul(PICO_PER_CENT);
                    let j = judge(cap, spent, warn_at, start, end, now);
                    Some(SpendJudgement {
                        period_start: start.date_naive(),
                        limit_usd: usd(cap),
                        limit_pico: cap,
                        spent_usd: usd(spent),
                        spent_pico: spent,
                        forecast_usd: usd(j.forecast),
                        forecast_pico: j.forecast,
                        percent: j.percent,
                        crossed: j.crossed,
                        state: j.state,
                        unpriced_models: unpriced,
                    })
                }
                _ => None,
            };
            SpendLimitStatus { scope_label: l.scope_label(), amount_label: l.amount_label(), limit: l.clone(), judgement, note }
        })
        .collect();
    let rank = |s: &SpendLimitStatus| match s.limit.scope_type.as_str() {
        "organization" => 0,
        "usage_tier" => 1,
        "workspace" => 2,
        _ => 3,
    };
    out.sort_by(|a, b| {
        let sa = a.judgement.as_ref().map(|j| j.state);
        let sb = b.judgement.as_ref().map(|j| j.state);
        sb.cmp(&sa).then_with(|| rank(a).cmp(&rank(b))).then_with(|| a.limit.scope_id.cmp(&b.limit.scope_id)).then_with(|| a.limit.id.cmp(&b.limit.id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::super::aggregate::tests::row;
    use super::super::types::PICO_PER_USD;
    use super::*;

    const USD: Pico = PICO_PER_USD;
    const HAIKU: &str = "claude-haiku-4-5";

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const PAGE: &str = r#"{"data":[
        {"type":"spend_limit","id":"spl_ws","amount":"2000","created_at":"2026-11-20T10:00:00Z","currency":"USD",
         "is_enabled":true,"period":"monthly","scope":{"type":"workspace","workspace_id":"wrkspc_a"},"updated_at":"2026-11-21T10:00:00Z"},
        {"type":"spend_limit","id":"spl_org","amount":"50000","created_at":"2026-11-01T10:00:00Z","currency":"USD",
         "is_enabled":true,"period":"monthly","scope":{"type":"organization"},"updated_at":"2026-11-01T10:00:00Z"},
        {"type":"spend_limit","id":"spl_user","amount":null,"created_at":"2026-11-01T10:00:00Z","currency":"USD",
         "is_enabled":false,"period":"daily","scope":{"type":"user","user_id":"user_1"},"updated_at":"2026-11-01T10:00:00Z"},
        {"type":"spend_limit","id":"spl_tier","amount":"10000000","created_at":"2026-01-01T00:00:00Z","currency":"USD",
         "is_enabled":true,"period":"monthly","scope":{"type":"usage_tier"},"updated_at":"2026-01-01T00:00:00Z"}
    ],"next_page":"p2"}"#;

    fn parsed() -> Vec<SpendLimit> {
        parse_page(PAGE.as_bytes(), at("2026-12-16T00:00:00Z")).unwrap().limits
    }

    #[test]
    fn parses_the_documented_object_and_every_scope_form() {
        let p = parse_page(PAGE.as_bytes(), at("2026-12-16T00:00:00Z")).unwrap();
        assert_eq!(p.next_page.as_deref(), Some("p2"));
        let ws = &p.limits[0];
        assert_eq!((ws.id.as_str(), ws.scope_type.as_str(), ws.scope_id.as_deref(), ws.amount_minor), ("spl_ws", "workspace", Some("wrkspc_a"), Some(2000)));
        assert_eq!((ws.currency.as_str(), ws.period.as_str(), ws.is_enabled), ("USD", "monthly", true));
        assert_eq!(ws.updated_at, at("2026-11-21T10:00:00Z"));
        assert_eq!((ws.scope_label(), ws.amount_label()), ("workspace wrkspc_a".to_string(), "$20.00".to_string()));
        assert_eq!((p.limits[1].scope_type.as_str(), p.limits[1].scope_id.as_deref()), ("organization", None));
        assert_eq!((p.limits[2].scope_id.as_deref(), p.limits[2].amount_minor, p.limits[2].amount_label()), (Some("user_1"), None, "no cap".to_string()));
        assert_eq!(p.limits[3].scope_label(), "usage tier");
        let empty = parse_page(br#"{"data":[],"next_page":null}"#, at("2026-12-16T00:00:00Z")).unwrap();
        assert!(empty.limits.is_empty() && empty.next_page.is_none());
    }

    #[test]
    fn refuses_what_it_cannot_read_without_guessing_zero() {
        let one = |patch: &str| {
            format!(
                r#"{{"data":[{{"id":"spl_1","created_at":"2026-11-01T10:00:00Z","updated_at":"2026-11-01T10:00:00Z","currency":"USD","is_enabled":true,"period":"monthly",{patch}}}]}}"#
            )
        };
        for bad in [
            one(r#""amount":"-5","scope":{"type":"organization"}"#),
            one(r#""amount":"12.5","scope":{"type":"organization"}"#),
            one(r#""amount":500,"scope":{"type":"organization"}"#),
            one(r#""amount":"500""#),
            one(r#""amount":"500","scope":{"type":"workspace"}"#),
            r#"{"nope":1}"#.to_string(),
        ] {
            assert!(parse_page(bad.as_bytes(), at("2026-12-16T00:00:00Z")).is_err(), "{bad}");
        }
        assert_eq!(page_query(None), "/v1/organizations/spend_limits?limit=100");
        assert_eq!(page_query(Some("a/b")), "/v1/organizations/spend_limits?limit=100&page=a%2Fb");
        assert!(not_available(Some(404)) && not_available(Some(403)) && !not_available(Some(500)) && !not_available(None));
    }

    #[test]
    fn workspace_and_organisation_limits_are_judged_against_the_period_spend() {
        let p = PriceTable::shipped().unwrap();
        // Haiku 4.5: $1 per 1M in, $5 per 1M out.
        let usage = vec![
            row("2026-11-30", Some("apikey_a"), Some("wrkspc_a"), HAIKU, 9_000_000, 0),  // last month: not counted
            row("2026-12-01", Some("apikey_a"), Some("wrkspc_a"), HAIKU, 10_000_000, 0), // $10
            row("2026-12-10", Some("apikey_a"), Some("wrkspc_a"), HAIKU, 6_000_000, 0),  // $6
            row("2026-12-10", Some("apikey_b"), Some("wrkspc_b"), HAIKU, 0, 1_000_000),  // $5
            row("2026-12-11", Some("apikey_c"), None, HAIKU, 3_000_000, 0),              // default workspace: $3
            row("2026-12-11", Some("apikey_c"), None, "claude-nova-9", 1, 1),
        ];
        let st = judge_spend_limits(&parsed(), &usage, &p, &[80, 100], at("2026-12-16T00:00:00Z"));
        let get = |id: &str| st.iter().find(|s| s.limit.id == id).unwrap();
        // prod-a: $16 of $20 = 80 %: the 80 % threshold; forecast $31 at day 15 of 31 → forecast over.
        let ws = get("spl_ws").judgement.clone().unwrap();
        assert_eq!((ws.spent_pico, ws.limit_pico, ws.crossed), (16 * USD, 20 * USD, Some(80)));
        assert!((ws.percent - 80.0).abs() < 1e-9);
        assert_eq!((ws.state, ws.period_start), (BudgetState::ForecastOver, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()));
        assert!(ws.unpriced_models.is_empty());
        // The organisation: every workspace, the default one included: $24 of $500.
        let org = get("spl_org").judgement.clone().unwrap();
        assert_eq!((org.spent_pico, org.limit_pico, org.crossed, org.state), (24 * USD, 500 * USD, None, BudgetState::Ok));
        assert_eq!(org.unpriced_models, vec!["claude-nova-9".to_string()]);
        // The usage tier's cap is organisation-wide too.
        assert_eq!(get("spl_tier").judgement.as_ref().unwrap().spent_pico, 24 * USD);
        // A member's limit is shown, not judged.
        let user = get("spl_user");
        assert!(user.judgement.is_none() && user.note.as_deref().is_some_and(|n| n.contains("user scope")), "{user:?}");
        // Most severe first, then the organisation before the workspaces.
        assert_eq!(st.iter().map(|s| s.limit.id.as_str()).collect::<Vec<_>>(), vec!["spl_ws", "spl_org", "spl_tier", "spl_user"]);
        assert!(st[0].alert() && !st[1].alert());
        // Over the limit.
        let over = judge_spend_limits(&parsed()[..1], &usage, &p, &[50], at("2026-12-31T00:00:00Z"));
        let j = over[0].judgement.as_ref().unwrap();
        assert_eq!((j.state, j.crossed), (BudgetState::Warn, Some(50)), "$16 of $20 on the last day: the forecast stays under");
        let mut small = parsed()[..1].to_vec();
        small[0].amount_minor = Some(1600);
        assert_eq!(judge_spend_limits(&small, &usage, &p, &[50], at("2026-12-31T00:00:00Z"))[0].judgement.as_ref().unwrap().state, BudgetState::Over);
    }

    #[test]
    fn daily_weekly_disabled_and_foreign_limits() {
        let p = PriceTable::shipped().unwrap();
        let usage = vec![row("2026-12-14", Some("k"), Some("wrkspc_a"), HAIKU, 2_000_000, 0), row("2026-12-16", Some("k"), Some("wrkspc_a"), HAIKU, 1_000_000, 0)];
        let mut l = parsed()[1].clone();
        l.period = "daily".into();
        l.amount_minor = Some(100);
        let now = at("2026-12-16T12:00:00Z");
        let d = judge_spend_limits(std::slice::from_ref(&l), &usage, &p, &[80], now)[0].judgement.clone().unwrap();
        assert_eq!((d.spent_pico, d.state), (USD, BudgetState::Over), "today only");
        l.period = "weekly".into();
        l.amount_minor = Some(1000);
        // Wednesday 16 Dec: the week from Monday 14 Dec holds $3.
        let w = judge_spend_limits(std::slice::from_ref(&l), &usage, &p, &[80], now)[0].judgement.clone().unwrap();
        assert_eq!((w.spent_pico, w.period_start), (3 * USD, NaiveDate::from_ymd_opt(2026, 12, 14).unwrap()));
        type Patch = fn(&mut SpendLimit);
        let patches: [(Patch, &str); 4] = [
            (|l: &mut SpendLimit| l.is_enabled = false, "switched off"),
            (|l: &mut SpendLimit| l.currency = "EUR".into(), "in EUR"),
            (|l: &mut SpendLimit| l.period = "quarterly".into(), "period"),
            (|l: &mut SpendLimit| l.amount_minor = None, "no cap"),
        ];
        for (patch, why) in patches {
            let mut x = l.clone();
            patch(&mut x);
            let s = &judge_spend_limits(&[x], &usage, &p, &[80], now)[0];
            assert!(s.judgement.is_none() && s.note.as_deref().is_some_and(|n| n.contains(why)), "{s:?}");
        }
    }
}
