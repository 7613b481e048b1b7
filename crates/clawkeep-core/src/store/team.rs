//! The `team` and `key_exposures` tables (migration 0007): which team store this data dir
//! belongs to, as whom, the last verified commit, and the keys a leaver could read.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::row::{parse_ts, ts};
use super::Store;
use crate::error::Result;

/// This data dir's membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRow {
    pub member: String,
    pub signing_key: String,
    pub remote: Option<String>,
    pub verified_head: Option<String>,
    /// The commit the local index last agreed with: the base of a three-way field merge.
    pub base_head: Option<String>,
    pub joined_at: DateTime<Utc>,
}

const TEAM_COLS: &str = "member, signing_key, remote, verified_head, joined_at, base_head";

fn team_from_row(r: &Row<'_>) -> rusqlite::Result<TeamRow> {
    Ok(TeamRow { member: r.get(0)?, signing_key: r.get(1)?, remote: r.get(2)?, verified_head: r.get(3)?, joined_at: parse_ts(&r.get::<_, String>(4)?)?, base_head: r.get(5)? })
}

impl Store {
    pub fn team(&self) -> Result<Option<TeamRow>> {
        Ok(self.conn().query_row(&format!("SELECT {TEAM_COLS} FROM team WHERE id = 1"), [], team_from_row).optional()?)
    }

    /// When this data dir last synced with its team store (a sync or an attach, from the audit log).
    pub fn last_team_sync(&self) -> Result<Option<DateTime<Utc>>> {
        let at: Option<String> = self.conn().query_row("SELECT at FROM audit WHERE action IN ('team.sync', 'team.init') ORDER BY id DESC LIMIT 1", [], |r| r.get(0)).optional()?;
        Ok(at.map(|a| parse_ts(&a)).transpose()?)
    }

    /// Key name → (who could read it, when they left).
    pub fn key_exposures(&self) -> Result<Vec<(String, String, DateTime<Utc>)>> {
        let conn = self.conn();
        let mut st = conn.prepare("SELECT key_name, member, at FROM key_exposures ORDER BY key_name")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, parse_ts(&r.get::<_, String>(2)?)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

pub fn set_team(conn: &Connection, t: &TeamRow) -> Result<()> {
    conn.execute(
        "INSERT INTO team (id, member, signing_key, remote, verified_head, joined_at, base_head) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(id) DO UPDATE SET member = excluded.member, signing_key = excluded.signing_key, remote = excluded.remote,
           verified_head = excluded.verified_head, joined_at = excluded.joined_at, base_head = excluded.base_head",
        params![t.member, t.signing_key, t.remote, t.verified_head, ts(&t.joined_at), t.base_head],
    )?;
    Ok(())
}

pub fn set_team_remote(conn: &Connection, remote: &str) -> Result<()> {
    conn.execute("UPDATE team SET remote = ?1, verified_head = NULL, base_head = NULL WHERE id = 1", params![remote])?;
    Ok(())
}

pub fn set_verified_head(conn: &Connection, head: &str) -> Result<()> {
    conn.execute("UPDATE team SET verified_head = ?1 WHERE id = 1", params![head])?;
    Ok(())
}

pub fn set_base_head(conn: &Connection, head: &str) -> Result<()> {
    conn.execute("UPDATE team SET base_head = ?1 WHERE id = 1", params![head])?;
    Ok(())
}

pub fn upsert_exposure(conn: &Connection, key: &str, member: &str, at: &DateTime<Utc>) -> Result<()> {
    conn.execute(
        "INSERT INTO key_exposures (key_name, member, at) VALUES (?1, ?2, ?3) ON CONFLICT(key_name) DO UPDATE SET member = excluded.member, at = excluded.at",
        params![key, member, ts(at)],
    )?;
    Ok(())
}

pub fn delete_exposure(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM key_exposures WHERE key_name = ?1", params![key])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{at, store};
    use super::*;

    #[test]
    fn membership_and_exposures_round_trip() {
        let (_d, s) = store();
        assert_eq!(s.team().unwrap(), None);
        let row = TeamRow { member: "alice".into(), signing_key: "/k".into(), remote: None, verified_head: None, base_head: None, joined_at: at(0) };
        s.tx(|tx| set_team(tx, &row)).unwrap();
        s.tx(|tx| set_team_remote(tx, "/srv/team.git")).unwrap();
        s.tx(|tx| set_verified_head(tx, "abc")).unwrap();
        s.tx(|tx| set_base_head(tx, "abd")).unwrap();
        let got = s.team().unwrap().unwrap();
        assert_eq!((got.remote.as_deref(), got.verified_head.as_deref(), got.base_head.as_deref()), (Some("/srv/team.git"), Some("abc"), Some("abd")));
        s.tx(|tx| upsert_exposure(tx, "k1", "bob", &at(5))).unwrap();
        s.tx(|tx| upsert_exposure(tx, "k1", "carol", &at(6))).unwrap();
        assert_eq!(s.key_exposures().unwrap(), vec![("k1".into(), "carol".into(), at(6))]);
        s.tx(|tx| delete_exposure(tx, "k1")).unwrap();
        assert!(s.key_exposures().unwrap().is_empty());
    }
}
