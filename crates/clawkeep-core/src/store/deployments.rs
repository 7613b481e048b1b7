//! The `deployments` table: the history of every deploy run.

use rusqlite::{params, Connection, Row};

use super::row::{json_col, parse_ts, ts};
use super::Store;
use crate::error::Result;
use crate::model::domain::*;

impl Store {
    /// Deployments, newest first, optionally of one instance.
    pub fn deployments(&self, instance: Option<&str>, limit: u32) -> Result<Vec<Deployment>> {
        let conn = self.conn();
        let mut sql = "SELECT id, instance, key_name, key_fingerprint, method, os_user, started_at, duration_ms, outcome, error, rollback, details FROM deployments".to_string();
        if instance.is_some() {
            sql.push_str(" WHERE instance = ?2");
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?1");
        let mut stmt = conn.prepare(&sql)?;
        let map = |r: &Row<'_>| {
            Ok(Deployment {
                id: r.get(0)?,
                instance: r.get(1)?,
                key_name: r.get(2)?,
                key_fingerprint: r.get(3)?,
                method: r.get(4)?,
                os_user: r.get(5)?,
                started_at: parse_ts(&r.get::<_, String>(6)?)?,
                duration_ms: r.get(7)?,
                outcome: r.get(8)?,
                error: r.get::<_, Option<String>>(9)?.map(|s| json_col(&s)).transpose()?,
                rollback: r.get(10)?,
                details: json_col(&r.get::<_, String>(11)?)?,
            })
        };
        let rows = match instance {
            Some(i) => stmt.query_map(params![limit, i], map)?.collect::<rusqlite::Result<Vec<_>>>()?,
            None => stmt.query_map(params![limit], map)?.collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }
}

/// Records one deployment (inside the transaction that audits it).
pub fn insert_deployment(conn: &Connection, d: &Deployment, instance_id: Option<i64>) -> Result<i64> {
    conn.execute(
        "INSERT INTO deployments (instance, instance_id, key_name, key_fingerprint, method, os_user, started_at, duration_ms, \
         outcome, error, rollback, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            d.instance,
            instance_id,
            d.key_name,
            d.key_fingerprint,
            d.method,
            d.os_user,
            ts(&d.started_at),
            d.duration_ms,
            d.outcome,
            d.error.as_ref().map(|e| e.to_string()),
            d.rollback,
            d.details.to_string()
        ],
    )?;
    Ok(conn.last_insert_rowid())
}
