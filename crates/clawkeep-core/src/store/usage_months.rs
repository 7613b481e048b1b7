//! The `usage_months` table: the usage cache summed per calendar month, and the months whose
//! sums are stale (`usage_months_stale`). Sums are redone from `usage_buckets` before any
//! month read, so a month row never disagrees with the days it sums.

use chrono::{Datelike, Months, NaiveDate};
use rusqlite::{params, Connection};

use super::row::{usage_from_row, USAGE_COLS};
use super::Store;
use crate::cost::types::UsageRow;
use crate::error::Result;

const SUM_COLS: &str = "SUM(uncached_input_tokens), SUM(cache_write_5m_tokens), SUM(cache_write_1h_tokens), SUM(cache_read_tokens), \
     SUM(output_tokens), SUM(web_search_requests)";
const DIMS: &str = "api_key_id, workspace_id, model, service_tier, context_window";

fn month(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// Marks the months holding the days `from..to` (exclusive) stale: called in the transaction
/// that replaces those days.
pub(super) fn mark_months_stale(conn: &Connection, from: NaiveDate, to: NaiveDate) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT OR IGNORE INTO usage_months_stale (month) VALUES (?1)")?;
    let mut m = from.with_day(1).unwrap_or(from);
    // Bounded by the page (at most 31 days, so two months); the guard only keeps a bad range finite.
    for _ in 0..1200 {
        if m >= to {
            break;
        }
        stmt.execute(params![month(m)])?;
        m = match m.checked_add_months(Months::new(1)) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(())
}

/// Sums every stale month again from its days; returns how many months were redone.
fn refresh_stale(conn: &Connection) -> Result<usize> {
    let stale: Vec<String> = conn.prepare("SELECT month FROM usage_months_stale ORDER BY month")?.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?;
    if stale.is_empty() {
        return Ok(0);
    }
    let mut del = conn.prepare("DELETE FROM usage_months WHERE month = ?1")?;
    let mut ins = conn.prepare(&format!(
        "INSERT INTO usage_months (month, {DIMS}, uncached_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, \
         output_tokens, web_search_requests) \
         SELECT ?1, {DIMS}, {SUM_COLS} FROM usage_buckets WHERE day >= ?1 || '-01' AND day <= ?1 || '-31' GROUP BY {DIMS}"
    ))?;
    for m in &stale {
        del.execute(params![m])?;
        ins.execute(params![m])?;
    }
    conn.execute("DELETE FROM usage_months_stale", [])?;
    Ok(stale.len())
}

impl Store {
    /// Redoes the sums of stale months (after a sync, so the next month view reads at once).
    pub fn refresh_usage_months(&self) -> Result<usize> {
        self.tx(|tx| refresh_stale(tx))
    }

    /// The usage of a month-period window (`since` a month's first day or open): whole months
    /// from the monthly sums, months in `price_changes` and a last month cut short by `until`
    /// by day ([`crate::cost::months::plan`]). Priced and summed by month, it equals the days.
    pub fn usage_for_months(&self, since: Option<NaiveDate>, until: Option<NaiveDate>, price_changes: &std::collections::BTreeSet<NaiveDate>) -> Result<Vec<UsageRow>> {
        let plan = crate::cost::months::plan(since, until, price_changes);
        let mut rows = match plan.sums {
            Some((s, u)) => self.usage_month_rows(s, u)?,
            None => Vec::new(),
        };
        rows.retain(|r| !plan.skip.contains(&r.day));
        for (from, to) in plan.by_day {
            rows.extend(self.usage_rows(Some(from), Some(to))?);
        }
        Ok(rows)
    }

    /// Usage summed per month for the months starting within `since..=until` (either open),
    /// each row dated the first day of its month, in the primary key's order. Stale months are
    /// summed again first.
    pub fn usage_month_rows(&self, since: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<Vec<UsageRow>> {
        self.refresh_usage_months()?;
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT month || '-01', {} FROM usage_months WHERE month >= ?1 AND month <= ?2 ORDER BY month, {DIMS}", USAGE_COLS.trim_start_matches("day, ")))?;
        let rows = stmt
            .query_map(params![since.map(month).unwrap_or_default(), until.map(month).unwrap_or_else(|| "9999-12".into())], usage_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::types::Tokens;
    use crate::store::replace_usage_days;
    use crate::store::testing::store;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn row(day: &str, key: &str, model: &str, input: u64) -> UsageRow {
        UsageRow {
            day: d(day),
            api_key_id: Some(key.into()),
            workspace_id: None,
            model: model.into(),
            service_tier: "standard".into(),
            context_window: String::new(),
            tokens: Tokens { uncached_input: input, output: 2 * input, ..Default::default() },
        }
    }

    #[test]
    fn month_sums_follow_the_days_through_re_reads() {
        let (_d, s) = store();
        let page = [row("2026-11-29", "k", "m", 1), row("2026-11-30", "k", "m", 2), row("2026-12-01", "k", "m", 4), row("2026-12-01", "j", "m", 8)];
        s.tx(|tx| replace_usage_days(tx, d("2026-11-29"), d("2026-12-02"), &page)).unwrap();
        let got = |s: &Store, since: Option<&str>, until: Option<&str>| -> Vec<(String, String, u64, u64)> {
            s.usage_month_rows(since.map(d), until.map(d))
                .unwrap()
                .into_iter()
                .map(|r| (r.day.to_string(), r.api_key_id.unwrap_or_default(), r.tokens.uncached_input, r.tokens.output))
                .collect()
        };
        assert_eq!(got(&s, None, None), vec![("2026-11-01".into(), "k".into(), 3, 6), ("2026-12-01".into(), "j".into(), 8, 16), ("2026-12-01".into(), "k".into(), 4, 8)]);
        assert_eq!(got(&s, Some("2026-12-01"), None).len(), 2, "since selects whole months");
        assert_eq!(got(&s, None, Some("2026-11-30")).len(), 1);
        // A re-read of 11-30..12-02 revises 11-30 and drops key j: both months are redone.
        s.tx(|tx| replace_usage_days(tx, d("2026-11-30"), d("2026-12-02"), &[row("2026-11-30", "k", "m", 20), row("2026-12-01", "k", "m", 40)])).unwrap();
        assert_eq!(got(&s, None, None), vec![("2026-11-01".into(), "k".into(), 21, 42), ("2026-12-01".into(), "k".into(), 40, 80)]);
        // The sums equal the days summed by hand, for every month.
        let days = s.usage_rows(None, None).unwrap();
        for m in s.usage_month_rows(None, None).unwrap() {
            let sum: u64 = days.iter().filter(|r| r.day.month() == m.day.month() && r.api_key_id == m.api_key_id).map(|r| r.tokens.uncached_input).sum();
            assert_eq!(sum, m.tokens.uncached_input);
        }
        assert_eq!(s.refresh_usage_months().unwrap(), 0, "nothing stale after a read");
    }

    #[test]
    fn a_month_report_from_the_sums_equals_the_one_from_the_days() {
        use crate::cost::aggregate::{aggregate, CostGroupBy, CostPeriod};
        use crate::cost::prices::PriceTable;
        let (_d, s) = store();
        let models = ["claude-haiku-4-5", "claude-sonnet-4-5", "acme-private-model"];
        let mut rows = Vec::new();
        let mut day = d("2026-09-25");
        while day <= d("2026-12-05") {
            for (i, m) in models.iter().enumerate() {
                for k in ["apikey_a", "apikey_b"] {
                    rows.push(row(&day.to_string(), k, m, 1000 + (day.day() as u64) * 7 + i as u64));
                }
            }
            day += chrono::Duration::days(1);
        }
        s.tx(|tx| replace_usage_days(tx, d("2026-09-25"), d("2026-12-06"), &rows)).unwrap();
        // A price that changes on 2026-11-12: November is priced per day.
        let over = r#"{"models":[{"model":"claude-haiku-4-5-20251001","aliases":["claude-haiku-4-5"],"effective_from":"2026-11-12","input":7,"output":9}]}"#;
        let prices = PriceTable::merged(crate::cost::prices::SHIPPED, Some(over), Some("prices.json")).unwrap();
        let split = prices.months_with_changes();
        assert!(split.contains(&d("2026-11-01")));
        let owners = Default::default();
        for (since, until) in
            [(None, None), (Some("2026-10-01"), None), (Some("2026-10-01"), Some("2026-11-30")), (Some("2026-09-01"), Some("2026-12-03")), (Some("2026-12-01"), Some("2026-12-02"))]
        {
            let (since, until) = (since.map(d), until.map(d));
            let by_days = aggregate(&s.usage_rows(since, until).unwrap(), &prices, &owners, CostGroupBy::Instance, CostPeriod::Month, since, until);
            let from_sums = s.usage_for_months(since, until, &split).unwrap();
            assert!(from_sums.len() < s.usage_rows(since, until).unwrap().len() || since == Some(d("2026-12-01")));
            let by_months = aggregate(&from_sums, &prices, &owners, CostGroupBy::Instance, CostPeriod::Month, since, until);
            assert_eq!(by_months, by_days, "window {since:?}..={until:?}");
        }
    }

    #[test]
    fn a_cache_from_before_the_monthly_sums_is_summed_on_first_read() {
        let (_d, s) = store();
        s.tx(|tx| replace_usage_days(tx, d("2026-10-30"), d("2026-11-02"), &[row("2026-10-30", "k", "m", 1), row("2026-11-01", "k", "m", 2)])).unwrap();
        // As the migration leaves an older cache: sums gone, every month stale.
        s.tx(|tx| {
            tx.execute_batch(
                "DELETE FROM usage_months; DELETE FROM usage_months_stale; INSERT INTO usage_months_stale (month) SELECT DISTINCT substr(day, 1, 7) FROM usage_buckets;",
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(s.usage_month_rows(None, None).unwrap().len(), 2);
    }
}
