//! The `cost_sync_state` table: per report, the day before which everything is stored (moved
//! page by page in the page's own transaction, so an interrupted sync resumes from there), the
//! oldest day read, and when a sync last finished.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::row::{day, parse_day};
use super::row::{parse_opt_ts, parse_ts, ts};
use super::Store;
use crate::error::Result;

/// Where one report's sync got to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncMark {
    /// `usage` or `cost`.
    pub report: String,
    /// Days before this one are stored.
    pub synced_until: NaiveDate,
    pub oldest_day: NaiveDate,
    pub updated_at: DateTime<Utc>,
    /// When a sync last ran to the end.
    pub completed_at: Option<DateTime<Utc>>,
}

pub fn sync_mark(conn: &Connection, report: &str) -> Result<Option<SyncMark>> {
    Ok(conn
        .query_row("SELECT report, synced_until, oldest_day, updated_at, completed_at FROM cost_sync_state WHERE report = ?1", [report], |r| {
            Ok(SyncMark {
                report: r.get(0)?,
                synced_until: parse_day(&r.get::<_, String>(1)?)?,
                oldest_day: parse_day(&r.get::<_, String>(2)?)?,
                updated_at: parse_ts(&r.get::<_, String>(3)?)?,
                completed_at: parse_opt_ts(r.get(4)?)?,
            })
        })
        .optional()?)
}

/// Moves the mark after a committed page (the oldest day only ever moves back).
pub fn set_sync_mark(conn: &Connection, report: &str, synced_until: NaiveDate, page_start: NaiveDate, now: &DateTime<Utc>) -> Result<()> {
    conn.execute(
        "INSERT INTO cost_sync_state (report, synced_until, oldest_day, updated_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT(report) DO UPDATE SET synced_until = excluded.synced_until, oldest_day = min(oldest_day, excluded.oldest_day), updated_at = excluded.updated_at",
        params![report, day(synced_until), day(page_start), ts(now)],
    )?;
    Ok(())
}

/// Records that a sync of `report` ran to the end.
pub fn complete_sync(conn: &Connection, report: &str, now: &DateTime<Utc>) -> Result<()> {
    conn.execute("UPDATE cost_sync_state SET completed_at = ?2 WHERE report = ?1", params![report, ts(now)])?;
    Ok(())
}

impl Store {
    /// The sync marks of both reports.
    pub fn sync_marks(&self) -> Result<Vec<SyncMark>> {
        let conn = self.conn();
        Ok(["usage", "cost"].iter().map(|r| sync_mark(&conn, r)).collect::<Result<Vec<_>>>()?.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{at, store};

    #[test]
    fn the_mark_moves_with_each_page() {
        let (_d, s) = store();
        let d = |x: &str| x.parse::<NaiveDate>().unwrap();
        assert!(s.tx(|tx| sync_mark(tx, "usage")).unwrap().is_none());
        s.tx(|tx| set_sync_mark(tx, "usage", d("2026-11-01"), d("2026-10-01"), &at(0))).unwrap();
        s.tx(|tx| set_sync_mark(tx, "usage", d("2026-12-01"), d("2026-10-29"), &at(1))).unwrap();
        let m = s.tx(|tx| sync_mark(tx, "usage")).unwrap().unwrap();
        assert_eq!((m.synced_until, m.oldest_day, m.completed_at), (d("2026-12-01"), d("2026-10-01"), None));
        s.tx(|tx| complete_sync(tx, "usage", &at(2))).unwrap();
        assert_eq!(s.sync_marks().unwrap()[0].completed_at, Some(at(2)));
        assert!(s.tx(|tx| set_sync_mark(tx, "bogus", d("2026-12-01"), d("2026-12-01"), &at(0))).is_err(), "CHECK holds");
    }
}
