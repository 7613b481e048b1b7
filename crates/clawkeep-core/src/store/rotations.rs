//! The `rotations` table: one row per guided rotation, its step and outcome as columns (for
//! queries) and its whole state as JSON (the rotation machine's own serialisation, which it
//! decodes; the store does not depend on the rotation module).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::row::ts;
use crate::error::Result;

/// A stored rotation: its id and its state (JSON written by the rotation machine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RotationRow {
    pub id: i64,
    pub state: String,
}

/// What a rotation write stores: outcome and next step (as their stored names), the state JSON,
/// and when (`started_at` of a new row; `updated_at` of both).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RotationWrite<'a> {
    pub outcome: &'a str,
    pub step: &'a str,
    pub state: &'a str,
    pub at: DateTime<Utc>,
}

fn rotation_from_row(r: &Row<'_>) -> rusqlite::Result<RotationRow> {
    Ok(RotationRow { id: r.get(0)?, state: r.get(1)? })
}

/// The open (`in_progress`) rotation of an instance, by its name; the newest if several.
pub(crate) fn open_rotation(conn: &Connection, instance: &str) -> Result<Option<RotationRow>> {
    Ok(conn
        .query_row(
            "SELECT r.id, r.state FROM rotations r JOIN instances i ON i.id = r.instance_id \
             WHERE i.name = ?1 AND r.outcome = 'in_progress' ORDER BY r.id DESC LIMIT 1",
            [instance],
            rotation_from_row,
        )
        .optional()?)
}

/// The newest rotation of an instance, by its name, whatever its outcome.
pub(crate) fn latest_rotation(conn: &Connection, instance: &str) -> Result<Option<RotationRow>> {
    Ok(conn
        .query_row("SELECT r.id, r.state FROM rotations r JOIN instances i ON i.id = r.instance_id WHERE i.name = ?1 ORDER BY r.id DESC LIMIT 1", [instance], rotation_from_row)
        .optional()?)
}

/// Every open rotation, oldest first.
pub(crate) fn open_rotations(conn: &Connection) -> Result<Vec<RotationRow>> {
    let mut stmt = conn.prepare("SELECT r.id, r.state FROM rotations r WHERE r.outcome = 'in_progress' ORDER BY r.id")?;
    let rows = stmt.query_map([], rotation_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The stored next step of rotation `id` (to detect another process moving it on).
pub(crate) fn rotation_step(conn: &Connection, id: i64) -> Result<String> {
    Ok(conn.query_row("SELECT step FROM rotations WHERE id = ?1", [id], |r| r.get(0))?)
}

/// Opens a rotation of instance `instance_id`; returns its id.
pub(crate) fn insert_rotation(conn: &Connection, instance_id: i64, w: &RotationWrite<'_>) -> Result<i64> {
    conn.execute(
        "INSERT INTO rotations (instance_id, outcome, step, state, started_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
        params![instance_id, w.outcome, w.step, w.state, ts(&w.at)],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Writes a rotation's outcome, step and state.
pub(crate) fn update_rotation(conn: &Connection, id: i64, w: &RotationWrite<'_>) -> Result<()> {
    conn.execute("UPDATE rotations SET outcome=?2, step=?3, state=?4, updated_at=?5 WHERE id=?1", params![id, w.outcome, w.step, w.state, ts(&w.at)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::{add_instance, at, store};
    use super::*;

    fn write<'a>(outcome: &'a str, step: &'a str, state: &'a str, secs: i64) -> RotationWrite<'a> {
        RotationWrite { outcome, step, state, at: at(secs) }
    }

    #[test]
    fn rotations_are_stored_found_and_moved_on() {
        let (_dir, s) = store();
        let a = add_instance(&s, "acme-prod-1", "acme");
        let b = add_instance(&s, "acme-prod-2", "acme");
        s.tx(|tx| {
            assert_eq!(open_rotation(tx, "acme-prod-1")?, None);
            assert_eq!(latest_rotation(tx, "acme-prod-1")?, None);
            assert!(open_rotations(tx)?.is_empty());
            let first = insert_rotation(tx, a, &write("in_progress", "paste", "{\"n\":1}", 0))?;
            assert_eq!(rotation_step(tx, first)?, "paste");
            assert_eq!(open_rotation(tx, "acme-prod-1")?, Some(RotationRow { id: first, state: "{\"n\":1}".into() }));
            // Closed: no longer open, still the latest.
            update_rotation(tx, first, &write("completed", "done", "{\"n\":2}", 10))?;
            assert_eq!(rotation_step(tx, first)?, "done");
            assert_eq!(open_rotation(tx, "acme-prod-1")?, None);
            assert_eq!(latest_rotation(tx, "acme-prod-1")?, Some(RotationRow { id: first, state: "{\"n\":2}".into() }));
            // A second one is the latest; the other instance's rotation is not this one's.
            let second = insert_rotation(tx, a, &write("in_progress", "deploy", "{\"n\":3}", 20))?;
            let other = insert_rotation(tx, b, &write("in_progress", "paste", "{\"n\":4}", 30))?;
            assert_eq!(latest_rotation(tx, "acme-prod-1")?.map(|r| r.id), Some(second));
            assert_eq!(open_rotation(tx, "acme-prod-1")?.map(|r| r.id), Some(second));
            assert_eq!(open_rotation(tx, "acme-prod-2")?.map(|r| r.id), Some(other));
            assert_eq!(open_rotation(tx, "nope")?, None);
            // Open ones, oldest first.
            assert_eq!(open_rotations(tx)?.iter().map(|r| r.id).collect::<Vec<_>>(), vec![second, other]);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn a_rotation_needs_its_instance_and_an_unknown_id_has_no_step() {
        let (_dir, s) = store();
        assert!(s.tx(|tx| insert_rotation(tx, 999, &write("in_progress", "paste", "{}", 0))).is_err(), "the foreign key holds");
        assert!(s.tx(|tx| rotation_step(tx, 999)).is_err());
    }
}
