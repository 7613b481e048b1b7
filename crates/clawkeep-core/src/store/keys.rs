//! The `keys` table: public facts of each key (hint, fingerprint, length, keychain reference,
//! status); never a value.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::row::{bad_value, parse_opt_ts, parse_ts, ts};
use super::Store;
use crate::error::Result;
use crate::model::domain::*;
use crate::model::keyfmt::KeyKind;

const KEY_COLS: &str = "k.id, k.name, k.kind, k.hint, k.fingerprint, k.length, k.keychain_ref, i.name, k.workspace_id, \
     k.anthropic_key_id, k.status, k.name_override, k.created_at, k.expires_at, k.rotated_at, k.retired_at, k.updated_at";

fn key_from_row(r: &Row<'_>) -> rusqlite::Result<Key> {
    let o = 0;
    let kind: String = r.get(o + 2)?;
    let status: String = r.get(o + 10)?;
    Ok(Key {
        id: r.get(o)?,
        name: r.get(o + 1)?,
        kind: KeyKind::parse(&kind).ok_or_else(|| bad_value("key kind", &kind))?,
        hint: r.get(o + 3)?,
        fingerprint: r.get(o + 4)?,
        length: r.get(o + 5)?,
        keychain_ref: r.get(o + 6)?,
        instance: r.get(o + 7)?,
        workspace_id: r.get(o + 8)?,
        anthropic_key_id: r.get(o + 9)?,
        status: KeyStatus::parse(&status).ok_or_else(|| bad_value("key status", &status))?,
        name_override: r.get(o + 11)?,
        created_at: parse_ts(&r.get::<_, String>(o + 12)?)?,
        expires_at: parse_opt_ts(r.get(o + 13)?)?,
        rotated_at: parse_opt_ts(r.get(o + 14)?)?,
        retired_at: parse_opt_ts(r.get(o + 15)?)?,
        updated_at: parse_ts(&r.get::<_, String>(o + 16)?)?,
    })
}

impl Store {
    pub fn key_by_name(&self, name: &str) -> Result<Option<Key>> {
        key_by_name(&self.conn(), name)
    }

    pub fn key_by_fingerprint(&self, fp: &str) -> Result<Option<Key>> {
        let conn = self.conn();
        let sql = format!("SELECT {KEY_COLS} FROM keys k LEFT JOIN instances i ON i.id = k.instance_id WHERE k.fingerprint = ?1");
        Ok(conn.query_row(&sql, [fp], key_from_row).optional()?)
    }

    pub fn list_keys(&self, instance: Option<&str>) -> Result<Vec<Key>> {
        let conn = self.conn();
        let mut sql = format!("SELECT {KEY_COLS} FROM keys k LEFT JOIN instances i ON i.id = k.instance_id");
        if instance.is_some() {
            sql.push_str(" WHERE i.name = ?1");
        }
        sql.push_str(" ORDER BY k.name");
        let mut stmt = conn.prepare(&sql)?;
        let rows = match instance {
            Some(n) => stmt.query_map([n], key_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
            None => stmt.query_map([], key_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?,
        };
        Ok(rows)
    }
}

pub fn key_by_name(conn: &Connection, name: &str) -> Result<Option<Key>> {
    let sql = format!("SELECT {KEY_COLS} FROM keys k LEFT JOIN instances i ON i.id = k.instance_id WHERE k.name = ?1");
    Ok(conn.query_row(&sql, [name], key_from_row).optional()?)
}

pub fn active_key_of(conn: &Connection, instance_id: i64) -> Result<Option<Key>> {
    let sql = format!("SELECT {KEY_COLS} FROM keys k LEFT JOIN instances i ON i.id = k.instance_id WHERE k.instance_id = ?1 AND k.status = 'active'");
    Ok(conn.query_row(&sql, [instance_id], key_from_row).optional()?)
}

pub fn keys_of_instance(conn: &Connection, instance_id: i64) -> Result<Vec<Key>> {
    let sql = format!("SELECT {KEY_COLS} FROM keys k LEFT JOIN instances i ON i.id = k.instance_id WHERE k.instance_id = ?1 ORDER BY k.created_at");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([instance_id], key_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn insert_key(conn: &Connection, k: &Key, instance_id: Option<i64>) -> Result<i64> {
    conn.execute(
        "INSERT INTO keys (name, kind, hint, fingerprint, length, keychain_ref, instance_id, workspace_id, anthropic_key_id, \
         status, name_override, created_at, expires_at, rotated_at, retired_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            k.name,
            k.kind.as_str(),
            k.hint,
            k.fingerprint,
            k.length,
            k.keychain_ref,
            instance_id,
            k.workspace_id,
            k.anthropic_key_id,
            k.status.as_str(),
            k.name_override,
            ts(&k.created_at),
            k.expires_at.as_ref().map(ts),
            k.rotated_at.as_ref().map(ts),
            k.retired_at.as_ref().map(ts),
            ts(&k.updated_at)
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Updates a key's mutable facts (binding, status, ids, timestamps).
pub fn update_key(conn: &Connection, k: &Key, instance_id: Option<i64>) -> Result<()> {
    conn.execute(
        "UPDATE keys SET instance_id=?2, workspace_id=?3, anthropic_key_id=?4, status=?5, expires_at=?6, rotated_at=?7, \
         retired_at=?8, updated_at=?9 WHERE id=?1",
        params![
            k.id,
            instance_id,
            k.workspace_id,
            k.anthropic_key_id,
            k.status.as_str(),
            k.expires_at.as_ref().map(ts),
            k.rotated_at.as_ref().map(ts),
            k.retired_at.as_ref().map(ts),
            ts(&k.updated_at)
        ],
    )?;
    Ok(())
}

/// Moves a key's value to another keychain account (leaving a team store: from the store's
/// `team:<key>` to the user's own keychain).
pub fn set_keychain_ref(conn: &Connection, id: i64, keychain_ref: &str) -> Result<()> {
    conn.execute("UPDATE keys SET keychain_ref = ?2 WHERE id = ?1", params![id, keychain_ref])?;
    Ok(())
}

pub fn delete_key(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM keys WHERE id = ?1", [id])?;
    Ok(())
}
