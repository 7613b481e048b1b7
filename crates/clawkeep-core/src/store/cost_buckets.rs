//! The `cost_buckets` table: the cost report cached per UTC day, workspace and description
//! line; amounts in picodollars. A synced page replaces its days whole.

use chrono::NaiveDate;
use rusqlite::{params, Connection, Row};

use super::row::{day, opt, parse_day};
use super::Store;
use crate::cost::types::CostLine;
use crate::error::Result;

const COST_COLS: &str = "day, workspace_id, description, cost_type, model, service_tier, token_type, context_window, amount_pico, currency";

fn cost_from_row(r: &Row<'_>) -> rusqlite::Result<CostLine> {
    Ok(CostLine {
        day: parse_day(&r.get::<_, String>(0)?)?,
        workspace_id: opt(r.get(1)?),
        description: opt(r.get(2)?),
        cost_type: r.get(3)?,
        model: opt(r.get(4)?),
        service_tier: opt(r.get(5)?),
        token_type: opt(r.get(6)?),
        context_window: opt(r.get(7)?),
        amount_pico: r.get(8)?,
        currency: r.get(9)?,
    })
}

/// Replaces the stored days `from..to` (exclusive) with `lines` (one page of the report).
pub fn replace_cost_days(conn: &Connection, from: NaiveDate, to: NaiveDate, lines: &[CostLine]) -> Result<usize> {
    conn.execute("DELETE FROM cost_buckets WHERE day >= ?1 AND day < ?2", params![day(from), day(to)])?;
    let mut stmt = conn.prepare(&format!(
        "INSERT INTO cost_buckets ({COST_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
         ON CONFLICT DO UPDATE SET amount_pico = amount_pico + excluded.amount_pico"
    ))?;
    let mut written = 0;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    for l in lines.iter().filter(|l| l.day >= from && l.day < to) {
        written += stmt.execute(params![
            day(l.day),
            s(&l.workspace_id),
            s(&l.description),
            l.cost_type,
            s(&l.model),
            s(&l.service_tier),
            s(&l.token_type),
            s(&l.context_window),
            l.amount_pico,
            l.currency
        ])?;
    }
    Ok(written)
}

impl Store {
    /// Cached cost lines within `since..=until` (either open), by day.
    pub fn cost_lines(&self, since: Option<NaiveDate>, until: Option<NaiveDate>) -> Result<Vec<CostLine>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COST_COLS} FROM cost_buckets WHERE day >= ?1 AND day <= ?2 ORDER BY day, workspace_id, description"))?;
        let rows = stmt
            .query_map(params![since.map(day).unwrap_or_default(), until.map(day).unwrap_or_else(|| "9999-12-31".into())], cost_from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    #[test]
    fn cost_lines_round_trip_and_pages_replace_days() {
        let (_d, s) = store();
        let d = |x: &str| x.parse::<NaiveDate>().unwrap();
        let l = CostLine {
            day: d("2026-12-01"),
            workspace_id: Some("wrkspc_A".into()),
            description: Some("Claude X Usage - Input Tokens".into()),
            cost_type: "tokens".into(),
            model: Some("claude-x".into()),
            service_tier: Some("standard".into()),
            token_type: Some("uncached_input_tokens".into()),
            context_window: None,
            amount_pico: 1_234_500_000_000,
            currency: "USD".into(),
        };
        s.tx(|tx| replace_cost_days(tx, d("2026-12-01"), d("2026-12-02"), std::slice::from_ref(&l))).unwrap();
        assert_eq!(s.cost_lines(None, None).unwrap(), vec![l.clone()]);
        let mut revised = l.clone();
        revised.amount_pico = 5;
        s.tx(|tx| replace_cost_days(tx, d("2026-12-01"), d("2026-12-02"), &[revised.clone()])).unwrap();
        assert_eq!(s.cost_lines(None, None).unwrap(), vec![revised]);
    }
}
