//! The `budgets` table: a monthly budget per instance or owner, with its warning thresholds.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Row};

use super::row::{bad_value, json_col, ts};
use super::Store;
use crate::cost::budget::{Budget, BudgetScope};
use crate::cost::types::usd;
use crate::error::{Error, Result};

fn budget_from_row(r: &Row<'_>) -> rusqlite::Result<Budget> {
    let scope: String = r.get(0)?;
    let pico: i64 = r.get(2)?;
    Ok(Budget {
        scope: BudgetScope::parse(&scope).ok_or_else(|| bad_value("budget scope", &scope))?,
        name: r.get(1)?,
        monthly_pico: pico,
        monthly_usd: usd(pico),
        warn_at: json_col(&r.get::<_, String>(3)?)?,
    })
}

/// Sets (adds or replaces) a budget.
pub fn upsert_budget(conn: &Connection, b: &Budget, now: &DateTime<Utc>) -> Result<()> {
    let warn = serde_json::to_string(&b.warn_at).map_err(|e| Error::Store(format!("cannot encode thresholds: {e}")))?;
    conn.execute(
        "INSERT INTO budgets (scope, name, monthly_pico, warn_at, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
         ON CONFLICT(scope, name) DO UPDATE SET monthly_pico = excluded.monthly_pico, warn_at = excluded.warn_at, updated_at = excluded.updated_at",
        params![b.scope.as_str(), b.name, b.monthly_pico, warn, ts(now)],
    )?;
    Ok(())
}

/// Removes a budget; whether there was one.
pub fn delete_budget(conn: &Connection, scope: BudgetScope, name: &str) -> Result<bool> {
    Ok(conn.execute("DELETE FROM budgets WHERE scope = ?1 AND name = ?2", params![scope.as_str(), name])? > 0)
}

impl Store {
    /// Every budget, by scope and name.
    pub fn budgets(&self) -> Result<Vec<Budget>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT scope, name, monthly_pico, warn_at FROM budgets ORDER BY scope, name")?;
        let rows = stmt.query_map([], budget_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{at, store};

    #[test]
    fn set_replace_list_delete() {
        let (_d, s) = store();
        let b = |name: &str, pico: i64| Budget { scope: BudgetScope::Owner, name: name.into(), monthly_pico: pico, monthly_usd: usd(pico), warn_at: vec![80, 100] };
        s.tx(|tx| upsert_budget(tx, &b("acme", 5), &at(0))).unwrap();
        s.tx(|tx| upsert_budget(tx, &b("acme", 7), &at(1))).unwrap();
        assert_eq!(s.budgets().unwrap(), vec![b("acme", 7)]);
        assert!(s.tx(|tx| upsert_budget(tx, &b("zero", 0), &at(1))).is_err(), "CHECK monthly > 0");
        assert!(s.tx(|tx| delete_budget(tx, BudgetScope::Owner, "acme")).unwrap());
        assert!(!s.tx(|tx| delete_budget(tx, BudgetScope::Owner, "acme")).unwrap());
        assert!(s.budgets().unwrap().is_empty());
    }
}
