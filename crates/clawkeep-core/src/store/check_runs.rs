//! The `check_runs` table: the checklist history (a summary row per run and its full report).

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::row::{parse_ts, ts};
use super::Store;
use crate::checklist::types::CheckRun;
use crate::error::{Error, Result};

/// Appends a checklist run (history).
pub fn insert_check_run(conn: &Connection, instance_id: i64, r: &crate::checklist::types::InstanceReport) -> Result<i64> {
    let report = serde_json::to_string(r).map_err(|e| Error::Store(format!("cannot encode report: {e}")))?;
    conn.execute(
        "INSERT INTO check_runs (instance_id, started_at, status, first_failing_domain, total_ms, host_ms, api_ms, errors_429_1h, report) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            instance_id,
            ts(&r.started_at),
            r.status.as_str(),
            r.first_failing_domain.map(|d| d.as_str()),
            r.timings.total_ms as i64,
            r.timings.host_ms as i64,
            r.timings.api_ms as i64,
            r.facts.errors_429_1h,
            report
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A `check_runs` row (columns: id, instance name, started_at, status, first_failing_domain,
/// total_ms, host_ms, api_ms, errors_429_1h) as a [`CheckRun`].
fn check_run_from_row(r: &Row<'_>) -> rusqlite::Result<CheckRun> {
    use crate::checklist::types::{Domain, Status};
    let status: String = r.get(3)?;
    let ffd: Option<String> = r.get(4)?;
    Ok(CheckRun {
        id: r.get(0)?,
        instance: r.get(1)?,
        started_at: parse_ts(&r.get::<_, String>(2)?)?,
        status: match status.as_str() {
            "pass" => Status::Pass,
            "warn" => Status::Warn,
            "fail" => Status::Fail,
            _ => Status::Skip,
        },
        first_failing_domain: ffd.as_deref().and_then(Domain::parse),
        total_ms: r.get::<_, i64>(5)? as u64,
        host_ms: r.get::<_, i64>(6)? as u64,
        api_ms: r.get::<_, i64>(7)? as u64,
        errors_429_1h: r.get(8)?,
    })
}

impl Store {
    /// Recent checklist runs of an instance, newest first.
    pub fn check_runs(&self, instance: &str, limit: u32) -> Result<Vec<CheckRun>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT c.id, i.name, c.started_at, c.status, c.first_failing_domain, c.total_ms, c.host_ms, c.api_ms, c.errors_429_1h \
             FROM check_runs c JOIN instances i ON i.id = c.instance_id WHERE i.name = ?1 ORDER BY c.started_at DESC, c.id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![instance, limit], check_run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The newest run of every instance that has one, by instance name (the Fleet table's
    /// "Last check").
    pub fn last_check_runs(&self) -> Result<Vec<CheckRun>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT c.id, i.name, c.started_at, c.status, c.first_failing_domain, c.total_ms, c.host_ms, c.api_ms, c.errors_429_1h \
             FROM check_runs c JOIN instances i ON i.id = c.instance_id \
             WHERE c.id = (SELECT c2.id FROM check_runs c2 WHERE c2.instance_id = c.instance_id ORDER BY c2.started_at DESC, c2.id DESC LIMIT 1) \
             ORDER BY i.name",
        )?;
        let rows = stmt.query_map([], check_run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The full stored report of a run.
    pub fn check_report(&self, id: i64) -> Result<Option<crate::checklist::types::InstanceReport>> {
        let conn = self.conn();
        let text: Option<String> = conn.query_row("SELECT report FROM check_runs WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| Error::Store(format!("stored report {id} unreadable: {e}")))).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{add_instance, at, store};
    use super::*;
    use crate::checklist::types::{Domain, FleetFacts, InstanceReport, Status, Timings};

    fn report(instance: &str, secs: i64, status: Status) -> InstanceReport {
        InstanceReport {
            instance: instance.into(),
            started_at: at(secs),
            checks: vec![],
            domains: vec![],
            first_failing_domain: (status == Status::Fail).then_some(Domain::Credential),
            status,
            facts: FleetFacts { errors_429_1h: secs as u32, ..Default::default() },
            timings: Timings { host_ms: 1, api_ms: 2, total_ms: 3 },
        }
    }

    #[test]
    fn the_last_run_of_each_instance_by_name() {
        let (_dir, s) = store();
        assert!(s.last_check_runs().unwrap().is_empty());
        let b = add_instance(&s, "b-prod-1", "b");
        let a = add_instance(&s, "a-prod-1", "a");
        add_instance(&s, "c-prod-1", "c");
        let ids = s
            .tx(|tx| {
                Ok((
                    insert_check_run(tx, b, &report("b-prod-1", 10, Status::Pass))?,
                    insert_check_run(tx, b, &report("b-prod-1", 20, Status::Fail))?,
                    // Recorded later but started earlier: not the newest.
                    insert_check_run(tx, b, &report("b-prod-1", 15, Status::Warn))?,
                    insert_check_run(tx, a, &report("a-prod-1", 5, Status::Warn))?,
                    // Same start: the later row wins.
                    insert_check_run(tx, a, &report("a-prod-1", 5, Status::Pass))?,
                ))
            })
            .unwrap();
        let last = s.last_check_runs().unwrap();
        // c has no run; a before b.
        assert_eq!(last.iter().map(|r| (r.instance.as_str(), r.id)).collect::<Vec<_>>(), vec![("a-prod-1", ids.4), ("b-prod-1", ids.1)]);
        let b_last = &last[1];
        assert_eq!((b_last.started_at, b_last.status, b_last.first_failing_domain), (at(20), Status::Fail, Some(Domain::Credential)));
        assert_eq!((b_last.total_ms, b_last.host_ms, b_last.api_ms, b_last.errors_429_1h), (3, 1, 2, 20));
        // The history of one instance agrees on its newest run.
        assert_eq!(s.check_runs("b-prod-1", 1).unwrap()[0].id, ids.1);
    }
}
