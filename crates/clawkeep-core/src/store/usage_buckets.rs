//! The `usage_buckets` table: the usage report cached per UTC day, key, workspace, model, tier
//! and context window. A synced page replaces its days whole, so a re-read never duplicates.

use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::row::{day, usage_from_row, USAGE_COLS};
use super::Store;
use crate::cost::types::UsageRow;
use crate::error::Result;

fn n(v: u64) -> i64 {
    v.min(i64::MAX as u64) as i64
}

/// Replaces the stored days `from..to` (exclusive) with `rows` (one page of the report).
pub fn replace_usage_days(conn: &Connection, from: NaiveDate, to: NaiveDate, rows: &[UsageRow]) -> Result<usize> {
    conn.execute("DELETE FROM usage_buckets WHERE day >= ?1 AND day < ?2", params![day(from), day(to)])?;
    super::usage_months::mark_months_stale(conn, from, to)?;
    let mut stmt = conn.prepare(&format!(
        "INSERT INTO usage_buckets ({USAGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
         ON CONFLICT DO UPDATE SET uncached_input_tokens = uncached_input_tokens + excluded.uncached_input_tokens, \
         cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens, cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens, \
         cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens, output_tokens = output_tokens + excluded.output_tokens, \
         web_search_requests = web_search_requests + excluded.web_search_requests"
    ))?;
    let mut written = 0;
    // A page's rows come by day: format each day once, not once per row.
    let mut last: Option<(NaiveDate, String)> = None;
    for r in rows.iter().filter(|r| r.day >= from && r.day < to) {
        let t = &r.tokens;
        if last.as_ref().is_none_or(|(d, _)| *d != r.day) {
            last = Some((r.day, day(r.day)));
        }
        let d = last.as_ref().map(|(_, s)| s.as_str()).unwrap_or_default();
        written += stmt.execute(params![
            d,
            r.api_key_id.as_deref().unwrap_or(""),
            r.workspace_id.as_deref().unwrap_or(""),
            r.model,
            r.service_tier,
            r.context_window,
            n(t.uncached_input),
            n(t.cache_write_5m),
            n(t.cache_write_1h),
            n(t.cache_read),
            n(t.output),
            n(t.web_search_requests)
        ])?;
    }
    Ok(written)
}

impl Store {
    /// Cached usage rows within `since..=until` (either open), in the primary key's order (day,
    /// key, workspace, model, …), so SQLite walks the index and sorts nothing.
    pub fn usage_rows(&self, since: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<Vec<UsageRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {USAGE_COLS} FROM usage_buckets WHERE day >= ?1 AND day <= ?2 ORDER BY day, api_key_id, workspace_id, model, service_tier, context_window"
        ))?;
        let rows = stmt
            .query_map(params![since.map(day).unwrap_or_default(), until.map(day).unwrap_or_else(|| "9999-12-31".into())], usage_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::types::Tokens;
    use crate::store::testing::store;

    fn row(d: &str, key: Option<&str>, input: u64) -> UsageRow {
        UsageRow {
            day: d.parse().unwrap(),
            api_key_id: key.map(str::to_string),
            workspace_id: None,
            model: "m".into(),
            service_tier: "standard".into(),
            context_window: String::new(),
            tokens: Tokens { uncached_input: input, output: 1, ..Default::default() },
        }
    }

    #[test]
    fn a_page_replaces_its_days_and_nothing_else() {
        let (_d, s) = store();
        let d = |x: &str| x.parse::<NaiveDate>().unwrap();
        s.tx(|tx| replace_usage_days(tx, d("2026-12-01"), d("2026-12-04"), &[row("2026-12-01", Some("k"), 1), row("2026-12-02", None, 2), row("2026-12-03", Some("k"), 3)]))
            .unwrap();
        // Re-reading 12-02..12-04 replaces those days (revised numbers), keeps 12-01.
        s.tx(|tx| replace_usage_days(tx, d("2026-12-02"), d("2026-12-04"), &[row("2026-12-03", Some("k"), 30), row("2026-12-09", Some("k"), 9)])).unwrap();
        let all = s.usage_rows(None, None).unwrap();
        let got: Vec<(String, Option<String>, u64)> = all.iter().map(|r| (r.day.to_string(), r.api_key_id.clone(), r.tokens.uncached_input)).collect();
        assert_eq!(got, vec![("2026-12-01".into(), Some("k".into()), 1), ("2026-12-03".into(), Some("k".into()), 30)], "12-09 is outside the page");
        assert_eq!(all[0], row("2026-12-01", Some("k"), 1), "round trip");
        assert_eq!(s.usage_rows(Some(d("2026-12-02")), Some(d("2026-12-02"))).unwrap().len(), 0);
        // Two results with the same dimensions in one page are summed, not refused.
        s.tx(|tx| replace_usage_days(tx, d("2026-12-05"), d("2026-12-06"), &[row("2026-12-05", None, 1), row("2026-12-05", None, 2)])).unwrap();
        assert_eq!(s.usage_rows(Some(d("2026-12-05")), None).unwrap()[0].tokens.uncached_input, 3);
    }
}
