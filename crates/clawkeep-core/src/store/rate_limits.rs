//! The `rate_limits` table: Anthropic's configured rate limits as the Admin API last listed
//! them, per organisation (scope `''`) and per workspace, so they show offline.

use rusqlite::{params, Connection, Row};

use super::row::{bad_value, json_col, parse_ts, ts};
use super::Store;
use crate::cost::limits::{sort, LimitSource, RateLimitEntry};
use crate::error::{Error, Result};

const COLUMNS: &str = "scope, rate_limit_id, limiter, group_type, group_name, models, value, org_limit, source, fetched_at";

fn entry_from_row(r: &Row<'_>) -> rusqlite::Result<RateLimitEntry> {
    let scope: String = r.get(0)?;
    let source: String = r.get(8)?;
    let value: i64 = r.get(6)?;
    let org_limit: Option<i64> = r.get(7)?;
    Ok(RateLimitEntry {
        workspace_id: (!scope.is_empty()).then_some(scope),
        rate_limit_id: r.get(1)?,
        limiter: r.get(2)?,
        group_type: r.get(3)?,
        group_name: r.get(4)?,
        models: json_col(&r.get::<_, String>(5)?)?,
        value: u64::try_from(value).map_err(|_| bad_value("rate limit value", &value.to_string()))?,
        org_limit: org_limit.map(|o| u64::try_from(o).map_err(|_| bad_value("rate limit org_limit", &o.to_string()))).transpose()?,
        source: LimitSource::parse(&source).ok_or_else(|| bad_value("rate limit source", &source))?,
        fetched_at: parse_ts(&r.get::<_, String>(9)?)?,
    })
}

fn int(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Store(format!("a rate limit of {v} does not fit the store")))
}

/// Replaces one scope's rows (`workspace: None`: the organisation's) with a fresh listing.
pub fn replace_rate_limits(conn: &Connection, workspace: Option<&str>, entries: &[RateLimitEntry]) -> Result<()> {
    let scope = workspace.unwrap_or("");
    conn.execute("DELETE FROM rate_limits WHERE scope = ?1", params![scope])?;
    let mut stmt = conn.prepare(&format!("INSERT OR REPLACE INTO rate_limits ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))?;
    for e in entries {
        if e.workspace_id.as_deref().unwrap_or("") != scope {
            return Err(Error::Store(format!("a rate limit of scope {:?} listed under {scope:?}", e.workspace_id)));
        }
        let models = serde_json::to_string(&e.models).map_err(|x| Error::Store(format!("cannot encode models: {x}")))?;
        let org_limit = e.org_limit.map(int).transpose()?;
        stmt.execute(params![scope, e.rate_limit_id, e.limiter, e.group_type, e.group_name, models, int(e.value)?, org_limit, e.source.as_str(), ts(&e.fetched_at)])?;
    }
    Ok(())
}

/// Drops the rows of workspaces no longer in use (the organisation's are kept); how many.
pub fn prune_rate_limits(conn: &Connection, in_use: &[String]) -> Result<usize> {
    let mut stmt = conn.prepare("SELECT DISTINCT scope FROM rate_limits WHERE scope <> ''")?;
    let scopes = stmt.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut n = 0;
    for scope in scopes.iter().filter(|s| !in_use.contains(s)) {
        n += conn.execute("DELETE FROM rate_limits WHERE scope = ?1", params![scope])?;
    }
    Ok(n)
}

impl Store {
    /// Every cached rate limit: the organisation's first, then each workspace's.
    pub fn rate_limits(&self) -> Result<Vec<RateLimitEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM rate_limits"))?;
        let mut rows = stmt.query_map([], entry_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        sort(&mut rows);
        Ok(rows)
    }

    /// The organisation's cached rate limits and one workspace's (the checklist's view of an
    /// instance).
    pub fn rate_limits_for(&self, workspace: Option<&str>) -> Result<Vec<RateLimitEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM rate_limits WHERE scope = '' OR scope = ?1"))?;
        let mut rows = stmt.query_map(params![workspace.unwrap_or("")], entry_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        sort(&mut rows);
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{at, store};

    fn e(ws: Option<&str>, id: &str, limiter: &str, value: u64, source: LimitSource) -> RateLimitEntry {
        RateLimitEntry {
            workspace_id: ws.map(str::to_string),
            rate_limit_id: id.into(),
            group_type: "model_group".into(),
            group_name: Some("Claude Sonnet".into()),
            models: vec!["claude-sonnet-5".into()],
            limiter: limiter.into(),
            value,
            org_limit: ws.map(|_| 50),
            source,
            fetched_at: at(0),
        }
    }

    #[test]
    fn a_listing_replaces_its_scope_only() {
        let (_d, s) = store();
        let org = vec![e(None, "rl_1", "requests_per_minute", 50, LimitSource::Organization), e(None, "rl_1", "input_tokens_per_minute", 30_000, LimitSource::Organization)];
        let ws = vec![e(Some("wrkspc_1"), "rl_1", "requests_per_minute", 20, LimitSource::Workspace)];
        s.tx(|tx| replace_rate_limits(tx, None, &org)).unwrap();
        s.tx(|tx| replace_rate_limits(tx, Some("wrkspc_1"), &ws)).unwrap();
        s.tx(|tx| replace_rate_limits(tx, Some("wrkspc_2"), &[e(Some("wrkspc_2"), "rl_1", "requests_per_minute", 50, LimitSource::Organization)])).unwrap();
        let all = s.rate_limits().unwrap();
        assert_eq!(all.len(), 4);
        assert!(all[0].workspace_id.is_none() && all[1].workspace_id.is_none());
        assert_eq!(all[2], ws[0], "round trip");
        assert_eq!(s.rate_limits_for(Some("wrkspc_1")).unwrap().len(), 3);
        assert_eq!(s.rate_limits_for(None).unwrap().len(), 2);
        // A new organisation listing leaves the workspaces alone.
        s.tx(|tx| replace_rate_limits(tx, None, &org[..1])).unwrap();
        assert_eq!(s.rate_limits().unwrap().len(), 3);
        // A row under the wrong scope is refused, and the transaction rolls back.
        assert!(s.tx(|tx| replace_rate_limits(tx, None, &ws)).is_err());
        assert_eq!(s.rate_limits().unwrap().len(), 3);
        // A workspace no longer in use goes; the organisation's rows stay.
        assert_eq!(s.tx(|tx| prune_rate_limits(tx, &["wrkspc_1".to_string()])).unwrap(), 1);
        assert_eq!(s.rate_limits().unwrap().iter().filter(|e| e.workspace_id.as_deref() == Some("wrkspc_2")).count(), 0);
        assert_eq!(s.rate_limits().unwrap().len(), 2);
    }
}
