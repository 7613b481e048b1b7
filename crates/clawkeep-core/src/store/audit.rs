//! The `audit` table: append-only (triggers refuse UPDATE and DELETE); each row is written in the
//! transaction of the change it records.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

use super::row::{json_col, parse_ts, ts};
use super::Store;
use crate::error::Result;
use crate::model::domain::*;

/// An audit row to append (inside the same transaction as the change it records).
pub struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub os_user: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub details: serde_json::Value,
}

impl Store {
    pub fn audit(&self, since: Option<DateTime<Utc>>, subject: Option<&str>, limit: u32) -> Result<Vec<AuditEvent>> {
        let conn = self.conn();
        let mut sql = "SELECT id, at, os_user, action, subject, details FROM audit WHERE at >= ?1".to_string();
        if subject.is_some() {
            sql.push_str(" AND subject = ?3");
        }
        sql.push_str(" ORDER BY id DESC LIMIT ?2");
        let since = since.map(|s| ts(&s)).unwrap_or_default();
        let mut stmt = conn.prepare(&sql)?;
        let map = |r: &Row<'_>| {
            Ok(AuditEvent {
                id: r.get(0)?,
                at: parse_ts(&r.get::<_, String>(1)?)?,
                os_user: r.get(2)?,
                action: r.get(3)?,
                subject: r.get(4)?,
                details: json_col(&r.get::<_, String>(5)?)?,
            })
        };
        let rows = match subject {
            Some(s) => stmt.query_map(params![since, limit, s], map)?.collect::<rusqlite::Result<Vec<_>>>()?,
            None => stmt.query_map(params![since, limit], map)?.collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }
}

pub fn append_audit(conn: &Connection, e: &AuditEntry<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (at, os_user, action, subject, details) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![ts(&e.at), e.os_user, e.action, e.subject, e.details.to_string()],
    )?;
    Ok(())
}
