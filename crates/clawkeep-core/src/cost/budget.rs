//! Monthly budgets per instance or owner: the month's spend so far, a forecast from the month's
//! run rate, the warning thresholds the user set, and whether it is over or forecast over (the
//! CLI's exit code for a cron job).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::aggregate::{aggregate, CostGroupBy, CostPeriod, OwnerMap};
use super::prices::PriceTable;
use super::types::{usd, Pico, UsageRow};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum BudgetScope {
    Instance,
    Owner,
}

impl BudgetScope {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetScope::Instance => "instance",
            BudgetScope::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<BudgetScope> {
        match s {
            "instance" => Some(BudgetScope::Instance),
            "owner" => Some(BudgetScope::Owner),
            _ => None,
        }
    }
}

/// A monthly budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Budget {
    pub scope: BudgetScope,
    /// The instance or owner.
    pub name: String,
    pub monthly_pico: Pico,
    pub monthly_usd: f64,
    /// Percent of the budget at which to warn, ascending (default 80 and 100).
    pub warn_at: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum BudgetState {
    Ok,
    /// A warning threshold is crossed.
    Warn,
    /// Not over yet, but the month's run rate ends over.
    ForecastOver,
    Over,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BudgetStatus {
    pub budget: Budget,
    /// `2026-12`.
    pub month: String,
    pub spent_usd: f64,
    pub spent_pico: Pico,
    pub forecast_usd: f64,
    pub forecast_pico: Pico,
    /// Spent as a percent of the budget.
    pub percent: f64,
    /// The highest warning threshold crossed.
    pub crossed: Option<u32>,
    pub state: BudgetState,
    /// Models whose usage is not priced: the spend understates.
    pub unpriced_models: Vec<String>,
}

impl BudgetStatus {
    /// Over, or forecast over: what a cron job alerts on.
    pub fn alert(&self) -> bool {
        matches!(self.state, BudgetState::Over | BudgetState::ForecastOver)
    }
}

/// Checks warning thresholds: 1–1000 percent, sorted, deduplicated; empty → 80, 100.
pub fn normalise_thresholds(mut t: Vec<u32>) -> Result<Vec<u32>, String> {
    if t.is_empty() {
        return Ok(vec![80, 100]);
    }
    if let Some(bad) = t.iter().find(|p| **p == 0 || **p > 1000) {
        return Err(format!("warning threshold {bad}% is not between 1 and 1000 percent"));
    }
    t.sort_unstable();
    t.dedup();
    Ok(t)
}

/// An amount spent against a cap over a period: the forecast at the period's run rate, the
/// percent used, the highest warning threshold crossed and the state. Shared by Clawkeep's
/// budgets and Anthropic's spend limits (`cost::spend_limits`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judgement {
    pub forecast: Pico,
    pub percent: f64,
    pub crossed: Option<u32>,
    pub state: BudgetState,
}

/// `spent` of `cap` in the period `[start, end)` at `now`: forecast = spend ÷ elapsed days ×
/// days in the period (at least one elapsed day, so the first hours do not explode it; a
/// one-day period forecasts what is spent). `warn_at` are percents of the cap.
pub fn judge(cap: Pico, spent: Pico, warn_at: &[u32], start: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> Judgement {
    let period_days = ((end - start).num_seconds() as f64 / 86_400.0).max(1.0);
    let elapsed_days = ((now - start).num_seconds() as f64 / 86_400.0).clamp(1.0, period_days);
    let forecast = ((spent as f64) * period_days / elapsed_days).round() as Pico;
    let forecast = forecast.max(spent);
    let percent = if cap > 0 { spent as f64 * 100.0 / cap as f64 } else { 0.0 };
    let crossed = warn_at.iter().copied().filter(|t| percent >= *t as f64).max();
    let state = if spent >= cap {
        BudgetState::Over
    } else if forecast >= cap {
        BudgetState::ForecastOver
    } else if crossed.is_some() {
        BudgetState::Warn
    } else {
        BudgetState::Ok
    };
    Judgement { forecast, percent, crossed, state }
}

/// The calendar month (UTC) that holds `now`: its first instant and the next month's.
pub fn month_of(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default();
    let next = if now.month() == 12 { NaiveDate::from_ymd_opt(now.year() + 1, 1, 1) } else { NaiveDate::from_ymd_opt(now.year(), now.month() + 1, 1) }.unwrap_or(first);
    let at = |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    (at(first), at(next))
}

/// One budget against the month's spend so far, at `now` (see [`judge`]).
pub fn evaluate(b: &Budget, spent: Pico, unpriced_models: Vec<String>, now: DateTime<Utc>) -> BudgetStatus {
    let (start, end) = month_of(now);
    let j = judge(b.monthly_pico, spent, &b.warn_at, start, end, now);
    BudgetStatus {
        budget: b.clone(),
        month: now.format("%Y-%m").to_string(),
        spent_usd: usd(spent),
        spent_pico: spent,
        forecast_usd: usd(j.forecast),
        forecast_pico: j.forecast,
        percent: j.percent,
        crossed: j.crossed,
        state: j.state,
        unpriced_models,
    }
}

/// Every budget against the current month's usage (priced with `prices`, attributed through
/// `owners`), most severe first.
pub fn evaluate_budgets(budgets: &[Budget], usage: &[UsageRow], prices: &PriceTable, owners: &OwnerMap, now: DateTime<Utc>) -> Vec<BudgetStatus> {
    let first = NaiveDate::from_ymd_opt(now.year(), now.month(), 1).unwrap_or_default();
    let by_instance = aggregate(usage, prices, owners, CostGroupBy::Instance, CostPeriod::Month, Some(first), None);
    let by_owner = aggregate(usage, prices, owners, CostGroupBy::Owner, CostPeriod::Month, Some(first), None);
    let mut out: Vec<BudgetStatus> = budgets
        .iter()
        .map(|b| {
            let report = if b.scope == BudgetScope::Instance { &by_instance } else { &by_owner };
            let rows: Vec<_> = report.rows.iter().filter(|r| r.group == b.name && !r.unowned).collect();
            let spent = rows.iter().map(|r| r.cost_pico).sum();
            let mut unpriced: Vec<String> = rows.iter().flat_map(|r| r.unpriced_models.iter().cloned()).collect();
            unpriced.sort();
            unpriced.dedup();
            evaluate(b, spent, unpriced, now)
        })
        .collect();
    out.sort_by(|a, b| b.state.cmp(&a.state).then_with(|| a.budget.name.cmp(&b.budget.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::super::aggregate::tests::{owners, row};
    use super::super::types::PICO_PER_USD;
    use super::*;

    const USD: Pico = PICO_PER_USD;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn budget(scope: BudgetScope, name: &str, usd: i64) -> Budget {
        Budget { scope, name: name.into(), monthly_pico: usd * USD, monthly_usd: usd as f64, warn_at: vec![50, 80, 100] }
    }

    #[test]
    fn states_and_forecast() {
        let b = budget(BudgetScope::Instance, "alpha", 100);
        // Day 10 of a 31-day month: $20 spent → forecast $62: ok.
        let s = evaluate(&b, 20 * USD, vec![], at("2026-12-11T00:00:00Z"));
        assert_eq!((s.state, s.forecast_pico, s.crossed), (BudgetState::Ok, 62 * USD, None));
        // $50 by day 10 → forecast $155: over by forecast; 50 % crossed.
        let s = evaluate(&b, 50 * USD, vec![], at("2026-12-11T00:00:00Z"));
        assert_eq!((s.state, s.crossed), (BudgetState::ForecastOver, Some(50)));
        assert!(s.alert());
        // $55 by day 31 (end of month) → forecast ≈ $56.8: a warning only.
        let s = evaluate(&b, 55 * USD, vec![], at("2026-12-31T12:00:00Z"));
        assert_eq!((s.state, s.crossed), (BudgetState::Warn, Some(50)));
        assert!(!s.alert());
        // Over.
        let s = evaluate(&b, 100 * USD, vec![], at("2026-12-02T00:00:00Z"));
        assert_eq!((s.state, s.crossed), (BudgetState::Over, Some(100)));
        // The first hour: at least one elapsed day, so $1 does not forecast $744.
        let s = evaluate(&b, USD, vec![], at("2026-12-01T01:00:00Z"));
        assert_eq!((s.forecast_pico, s.state), (31 * USD, BudgetState::Ok));
        // February has 28 days.
        let s = evaluate(&b, 10 * USD, vec![], at("2027-02-15T00:00:00Z"));
        assert_eq!(s.forecast_pico, 20 * USD);
    }

    #[test]
    fn thresholds_are_checked() {
        assert_eq!(normalise_thresholds(vec![]).unwrap(), vec![80, 100]);
        assert_eq!(normalise_thresholds(vec![100, 50, 50]).unwrap(), vec![50, 100]);
        assert!(normalise_thresholds(vec![0]).is_err());
        assert!(normalise_thresholds(vec![5000]).is_err());
    }

    #[test]
    fn budgets_use_the_month_of_usage_by_instance_and_owner() {
        let p = PriceTable::shipped().unwrap();
        const HAIKU: &str = "claude-haiku-4-5";
        let usage = vec![
            row("2026-11-30", Some("apikey_a"), None, HAIKU, 1_000_000, 1_000_000), // last month: not counted
            row("2026-12-01", Some("apikey_a"), None, HAIKU, 1_000_000, 1_000_000), // $6
            row("2026-12-02", Some("apikey_b"), None, HAIKU, 4_000_000, 0),         // $4
            row("2026-12-02", Some("apikey_b"), None, "claude-nova-9", 1, 1),
            row("2026-12-02", Some("apikey_x"), None, HAIKU, 9_000_000, 0), // unowned: in no budget
        ];
        let budgets = vec![budget(BudgetScope::Instance, "alpha", 100), budget(BudgetScope::Owner, "acme", 12), budget(BudgetScope::Instance, "idle", 5)];
        let st = evaluate_budgets(&budgets, &usage, &p, &owners(), at("2026-12-16T00:00:00Z"));
        let got: Vec<(&str, Pico, BudgetState)> = st.iter().map(|s| (s.budget.name.as_str(), s.spent_pico, s.state)).collect();
        // acme: $10 in 15 days → $20.67 forecast > $12; alpha: $6 → $12.4, ok; idle: nothing.
        assert_eq!(got, vec![("acme", 10 * USD, BudgetState::ForecastOver), ("alpha", 6 * USD, BudgetState::Ok), ("idle", 0, BudgetState::Ok)]);
        assert_eq!(st[0].unpriced_models, vec!["claude-nova-9".to_string()]);
        assert_eq!(st[0].crossed, Some(80));
    }
}
