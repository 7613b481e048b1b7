//! The `rotation_policies` table: one row per scope (the fleet default, an owner, an instance).
//! Rows are mapped to [`PolicyRow`]; the rotation module turns them into its `RotationPolicy`
//! (the store does not depend on the rotation module).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::row::{parse_ts, ts};
use crate::error::Result;

/// Which stored policy: the fleet default, an owner's, or an instance's (by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PolicyOf<'a> {
    Default,
    Owner(&'a str),
    Instance(&'a str),
}

/// A stored policy. `scope` is `default`, `owner` or `instance`; `owner` is set for an owner
/// policy, `instance` (the instance's name) for an instance policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PolicyRow {
    pub scope: String,
    pub owner: Option<String>,
    pub instance: Option<String>,
    pub max_age_days: u32,
    pub warn_days: u32,
    pub weekday: Option<String>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub updated_at: DateTime<Utc>,
}

const POLICY_SQL: &str = "SELECT p.scope, p.owner, i.name, p.max_age_days, p.warn_days, p.weekday, p.window_start, p.window_end, p.updated_at \
     FROM rotation_policies p LEFT JOIN instances i ON i.id = p.instance_id";

fn policy_from_row(r: &Row<'_>) -> rusqlite::Result<PolicyRow> {
    Ok(PolicyRow {
        scope: r.get(0)?,
        owner: r.get(1)?,
        instance: r.get(2)?,
        max_age_days: r.get(3)?,
        warn_days: r.get(4)?,
        weekday: r.get(5)?,
        window_start: r.get(6)?,
        window_end: r.get(7)?,
        updated_at: parse_ts(&r.get::<_, String>(8)?)?,
    })
}

/// Every stored policy: default first, then owners, then instances.
pub(crate) fn rotation_policies(conn: &Connection) -> Result<Vec<PolicyRow>> {
    let sql = format!("{POLICY_SQL} ORDER BY CASE p.scope WHEN 'default' THEN 0 WHEN 'owner' THEN 1 ELSE 2 END, p.owner, i.name");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([], policy_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The stored policy of one scope, if any.
pub(crate) fn rotation_policy(conn: &Connection, of: PolicyOf<'_>) -> Result<Option<PolicyRow>> {
    let (sql, arg) = match of {
        PolicyOf::Default => (format!("{POLICY_SQL} WHERE p.scope = 'default' AND ?1 = ''"), ""),
        PolicyOf::Owner(owner) => (format!("{POLICY_SQL} WHERE p.scope = 'owner' AND p.owner = ?1"), owner),
        PolicyOf::Instance(instance) => (format!("{POLICY_SQL} WHERE p.scope = 'instance' AND i.name = ?1"), instance),
    };
    Ok(conn.query_row(&sql, [arg], policy_from_row).optional()?)
}

/// Stores a new policy; `p.instance` is ignored, the row points at `instance_id`.
pub(crate) fn insert_rotation_policy(conn: &Connection, p: &PolicyRow, instance_id: Option<i64>) -> Result<()> {
    conn.execute(
        "INSERT INTO rotation_policies (scope, owner, instance_id, max_age_days, warn_days, weekday, window_start, window_end, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![p.scope, p.owner, instance_id, p.max_age_days, p.warn_days, p.weekday, p.window_start, p.window_end, ts(&p.updated_at)],
    )?;
    Ok(())
}

/// Rewrites the policy of the scope (`p.scope`, `p.owner`, `instance_id`).
pub(crate) fn update_rotation_policy(conn: &Connection, p: &PolicyRow, instance_id: Option<i64>) -> Result<()> {
    conn.execute(
        "UPDATE rotation_policies SET max_age_days=?1, warn_days=?2, weekday=?3, window_start=?4, window_end=?5, updated_at=?6 \
         WHERE scope=?7 AND owner IS ?8 AND instance_id IS ?9",
        params![p.max_age_days, p.warn_days, p.weekday, p.window_start, p.window_end, ts(&p.updated_at), p.scope, p.owner, instance_id],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{add_instance, at, store};
    use super::*;

    fn row(scope: &str, owner: Option<&str>, max_age_days: u32, secs: i64) -> PolicyRow {
        PolicyRow {
            scope: scope.into(),
            owner: owner.map(Into::into),
            instance: None,
            max_age_days,
            warn_days: 7,
            weekday: Some("tue".into()),
            window_start: Some("09:00".into()),
            window_end: Some("12:00".into()),
            updated_at: at(secs),
        }
    }

    #[test]
    fn policies_per_scope_are_stored_listed_in_order_and_updated() {
        let (_dir, s) = store();
        let i = add_instance(&s, "acme-prod-1", "acme");
        s.tx(|tx| {
            assert!(rotation_policies(tx)?.is_empty());
            assert_eq!(rotation_policy(tx, PolicyOf::Default)?, None);
            // Inserted instance first, default last: listed default, owner, instance.
            insert_rotation_policy(tx, &row("instance", None, 30, 1), Some(i))?;
            insert_rotation_policy(tx, &row("owner", Some("acme"), 60, 2), None)?;
            insert_rotation_policy(tx, &row("default", None, 90, 3), None)?;
            let all = rotation_policies(tx)?;
            assert_eq!(all.iter().map(|p| (p.scope.as_str(), p.max_age_days)).collect::<Vec<_>>(), vec![("default", 90), ("owner", 60), ("instance", 30)]);
            let inst = rotation_policy(tx, PolicyOf::Instance("acme-prod-1"))?.unwrap();
            assert_eq!(inst, PolicyRow { instance: Some("acme-prod-1".into()), ..row("instance", None, 30, 1) });
            assert_eq!(rotation_policy(tx, PolicyOf::Owner("acme"))?, Some(row("owner", Some("acme"), 60, 2)));
            assert_eq!(rotation_policy(tx, PolicyOf::Owner("other"))?, None);
            assert_eq!(rotation_policy(tx, PolicyOf::Instance("nope"))?, None);
            // An update rewrites only its own scope's row.
            let mut changed = row("owner", Some("acme"), 45, 4);
            changed.weekday = None;
            changed.window_start = None;
            changed.window_end = None;
            update_rotation_policy(tx, &changed, None)?;
            assert_eq!(rotation_policy(tx, PolicyOf::Owner("acme"))?, Some(changed));
            assert_eq!(rotation_policy(tx, PolicyOf::Default)?.map(|p| p.max_age_days), Some(90));
            update_rotation_policy(tx, &row("instance", None, 20, 5), Some(i))?;
            assert_eq!(rotation_policy(tx, PolicyOf::Instance("acme-prod-1"))?.map(|p| (p.max_age_days, p.updated_at)), Some((20, at(5))));
            assert_eq!(rotation_policies(tx)?.len(), 3);
            Ok(())
        })
        .unwrap();
    }
}
