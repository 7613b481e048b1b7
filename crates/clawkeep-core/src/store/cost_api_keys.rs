//! The `cost_api_keys` table: the organisation's API keys as the Admin API last listed them (id,
//! name, hint, workspace, status, expiry — never a secret), so unowned spend has a name and a
//! hint offline.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

use super::row::{parse_opt_ts, ts};
use super::Store;
use crate::cost::types::ApiKeyRecord;
use crate::error::Result;

fn record_from_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        partial_key_hint: r.get(2)?,
        workspace_id: r.get(3)?,
        status: r.get(4)?,
        created_at: parse_opt_ts(r.get(5)?)?,
        expires_at: parse_opt_ts(r.get(6)?)?,
    })
}

/// Replaces the listed keys with a fresh listing.
pub fn replace_api_keys(conn: &Connection, keys: &[ApiKeyRecord], now: &DateTime<Utc>) -> Result<()> {
    conn.execute("DELETE FROM cost_api_keys", [])?;
    let mut stmt = conn.prepare(
        "INSERT OR REPLACE INTO cost_api_keys (id, name, partial_key_hint, workspace_id, status, created_at, expires_at, seen_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for k in keys {
        stmt.execute(params![k.id, k.name, k.partial_key_hint, k.workspace_id, k.status, k.created_at.as_ref().map(ts), k.expires_at.as_ref().map(ts), ts(now)])?;
    }
    Ok(())
}

/// Records a status the Admin API just confirmed for a listed key.
pub fn set_api_key_status(conn: &Connection, id: &str, status: &str, now: &DateTime<Utc>) -> Result<()> {
    conn.execute("UPDATE cost_api_keys SET status = ?2, seen_at = ?3 WHERE id = ?1", params![id, status, ts(now)])?;
    Ok(())
}

impl Store {
    /// The API keys as last listed, by id.
    pub fn api_key_records(&self) -> Result<Vec<ApiKeyRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, name, partial_key_hint, workspace_id, status, created_at, expires_at FROM cost_api_keys ORDER BY id")?;
        let rows = stmt.query_map([], record_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{at, store};

    #[test]
    fn a_listing_replaces_the_last_one() {
        let (_d, s) = store();
        let k = |id: &str| ApiKeyRecord {
            id: id.into(),
            name: "n".into(),
            partial_key_hint: Some("sk-ant-api03-abc...xyAA".into()),
            workspace_id: None,
            status: "active".into(),
            created_at: Some(at(0)),
            expires_at: None,
        };
        s.tx(|tx| replace_api_keys(tx, &[k("apikey_1"), k("apikey_2")], &at(5))).unwrap();
        s.tx(|tx| replace_api_keys(tx, &[k("apikey_2")], &at(6))).unwrap();
        assert_eq!(s.api_key_records().unwrap(), vec![k("apikey_2")]);
        s.tx(|tx| set_api_key_status(tx, "apikey_2", "inactive", &at(7))).unwrap();
        assert_eq!(s.api_key_records().unwrap()[0].status, "inactive");
    }
}
