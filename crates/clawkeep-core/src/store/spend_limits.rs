//! The `spend_limits` table: Anthropic's configured spend limits as the Admin API last listed
//! them, so the budgets view shows them offline.

use rusqlite::{params, Connection, Row};

use super::row::{bad_value, parse_ts, ts};
use super::Store;
use crate::cost::spend_limits::SpendLimit;
use crate::error::{Error, Result};

const COLUMNS: &str = "id, scope_type, scope_id, amount_minor, currency, period, is_enabled, created_at, updated_at, fetched_at";

fn limit_from_row(r: &Row<'_>) -> rusqlite::Result<SpendLimit> {
    let amount: Option<i64> = r.get(3)?;
    Ok(SpendLimit {
        id: r.get(0)?,
        scope_type: r.get(1)?,
        scope_id: r.get(2)?,
        amount_minor: amount.map(|a| u64::try_from(a).map_err(|_| bad_value("spend limit amount", &a.to_string()))).transpose()?,
        currency: r.get(4)?,
        period: r.get(5)?,
        is_enabled: r.get::<_, i64>(6)? != 0,
        created_at: parse_ts(&r.get::<_, String>(7)?)?,
        updated_at: parse_ts(&r.get::<_, String>(8)?)?,
        fetched_at: parse_ts(&r.get::<_, String>(9)?)?,
    })
}

/// Replaces every cached limit with a fresh listing (empty: none, or not available).
pub fn replace_spend_limits(conn: &Connection, limits: &[SpendLimit]) -> Result<()> {
    conn.execute("DELETE FROM spend_limits", [])?;
    let mut stmt = conn.prepare(&format!("INSERT OR REPLACE INTO spend_limits ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"))?;
    for l in limits {
        let amount = l.amount_minor.map(|a| i64::try_from(a).map_err(|_| Error::Store(format!("a spend limit of {a} does not fit the store")))).transpose()?;
        stmt.execute(params![l.id, l.scope_type, l.scope_id, amount, l.currency, l.period, i64::from(l.is_enabled), ts(&l.created_at), ts(&l.updated_at), ts(&l.fetched_at)])?;
    }
    Ok(())
}

impl Store {
    /// Every cached spend limit, by id (the judgement orders them for the views).
    pub fn spend_limits(&self) -> Result<Vec<SpendLimit>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM spend_limits ORDER BY id"))?;
        let rows = stmt.query_map([], limit_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{at, store};

    fn l(id: &str, ty: &str, scope: Option<&str>, amount: Option<u64>) -> SpendLimit {
        SpendLimit {
            id: id.into(),
            scope_type: ty.into(),
            scope_id: scope.map(str::to_string),
            amount_minor: amount,
            currency: "USD".into(),
            period: "monthly".into(),
            is_enabled: true,
            created_at: at(0),
            updated_at: at(10),
            fetched_at: at(20),
        }
    }

    #[test]
    fn a_listing_replaces_the_cache_and_round_trips() {
        let (_d, s) = store();
        let first = vec![l("spl_b", "workspace", Some("wrkspc_1"), Some(2000)), l("spl_a", "organization", None, Some(50_000))];
        s.tx(|tx| replace_spend_limits(tx, &first)).unwrap();
        let got = s.spend_limits().unwrap();
        assert_eq!(got, vec![first[1].clone(), first[0].clone()]);
        let mut off = l("spl_c", "user", Some("user_1"), None);
        off.is_enabled = false;
        s.tx(|tx| replace_spend_limits(tx, std::slice::from_ref(&off))).unwrap();
        assert_eq!(s.spend_limits().unwrap(), vec![off]);
        s.tx(|tx| replace_spend_limits(tx, &[])).unwrap();
        assert!(s.spend_limits().unwrap().is_empty());
    }
}
