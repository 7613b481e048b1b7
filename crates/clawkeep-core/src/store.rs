//! The SQLite store: one file per data directory, WAL, foreign keys, a busy timeout, and
//! append-only migrations embedded at build time (tracked in `PRAGMA user_version`).
//!
//! Only non-secret facts are written here. Every multi-row change runs in one transaction, and
//! the audit row for a change is written in the same transaction as the change.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction};

use crate::domain::*;
use crate::error::{Error, Result};
use crate::keyfmt::KeyKind;

/// Migrations, oldest first. Append only: never edit a released one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_deployments.sql"),
    include_str!("../migrations/0003_checks.sql"),
    // Rotation (issue 7).
    include_str!("../migrations/0004_rotation.sql"),
    // A stored jump host per instance.
    include_str!("../migrations/0005_jump.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

pub(crate) fn ts(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(crate) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn parse_opt_ts(s: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_ts(&s)).transpose()
}

fn json_col<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn bad_value(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("unexpected {what} '{v}' in the store").into())
}

const INSTANCE_COLS: &str = "i.id, i.name, i.owner, i.environment, i.workload, i.purpose, i.ssh_host, i.ssh_port, i.ssh_user, \
     i.host_key_fingerprint, i.state_dir, i.service_manager, i.injection, i.agents, i.expected_org_id, \
     i.expected_workspace_id, i.tags, i.notes, i.draft, i.created_at, i.updated_at, \
     j.name";

/// What every `INSTANCE_COLS` query joins (`j`: the jump host, for its name).
const INSTANCE_FROM: &str = "instances i LEFT JOIN instances j ON j.id = i.jump_via_id";

fn instance_from_row(r: &Row<'_>) -> rusqlite::Result<Instance> {
    let purpose: String = r.get(5)?;
    let injection: String = r.get(12)?;
    Ok(Instance {
        id: r.get(0)?,
        name: r.get(1)?,
        owner: r.get(2)?,
        environment: r.get(3)?,
        workload: r.get(4)?,
        purpose: Purpose::parse(&purpose).ok_or_else(|| bad_value("purpose", &purpose))?,
        ssh_host: r.get(6)?,
        ssh_port: r.get(7)?,
        ssh_user: r.get(8)?,
        jump_via: r.get(21)?,
        host_key_fingerprint: r.get(9)?,
        state_dir: r.get(10)?,
        service_manager: json_col(&r.get::<_, String>(11)?)?,
        injection: InjectionMethod::parse(&injection).ok_or_else(|| bad_value("injection", &injection))?,
        agents: json_col(&r.get::<_, String>(13)?)?,
        expected_org_id: r.get(14)?,
        expected_workspace_id: r.get(15)?,
        tags: json_col(&r.get::<_, String>(16)?)?,
        notes: r.get(17)?,
        draft: r.get(18)?,
        created_at: parse_ts(&r.get::<_, String>(19)?)?,
        updated_at: parse_ts(&r.get::<_, String>(20)?)?,
    })
}

/// The fleet list's SQL and its arguments: every instance matching `filter`, by name, with its
/// active key's public columns (one query, whatever the fleet's size).
fn instances_query(filter: &InstanceFilter) -> (String, Vec<String>) {
    let (mut sql, args) = instances_query_unordered(filter);
    sql.push_str(" ORDER BY i.name");
    (sql, args)
}

/// [`instances_query`] in table order (sequential pages; the caller sorts by name).
fn instances_query_unordered(filter: &InstanceFilter) -> (String, Vec<String>) {
    let mut sql = format!(
        "SELECT {INSTANCE_COLS}, k.name, k.hint, k.fingerprint, k.status, k.created_at \
         FROM {INSTANCE_FROM} LEFT JOIN keys k ON k.instance_id = i.id AND k.status = 'active' WHERE 1=1"
    );
    let mut args: Vec<String> = Vec::new();
    if let Some(s) = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let like = format!("%{}%", s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        sql.push_str(
            " AND (lower(i.name) LIKE ?1 ESCAPE '\\' OR lower(i.owner) LIKE ?1 ESCAPE '\\' OR lower(i.ssh_host) LIKE ?1 ESCAPE '\\' \
             OR lower(i.workload) LIKE ?1 ESCAPE '\\' OR lower(i.environment) LIKE ?1 ESCAPE '\\' OR lower(i.tags) LIKE ?1 ESCAPE '\\')",
        );
        args.push(like);
    }
    if let Some(o) = &filter.owner {
        args.push(o.clone());
        sql.push_str(&format!(" AND i.owner = ?{}", args.len()));
    }
    if let Some(e) = &filter.environment {
        args.push(e.clone());
        sql.push_str(&format!(" AND i.environment = ?{}", args.len()));
    }
    if let Some(t) = &filter.tag {
        args.push(t.clone());
        sql.push_str(&format!(" AND EXISTS (SELECT 1 FROM json_each(i.tags) WHERE value = ?{})", args.len()));
    }
    (sql, args)
}

/// Keys per instance, any status, in one streaming pass over the `keys_instance` index (a
/// grouped join would build a temporary b-tree per call).
fn key_counts(conn: &Connection) -> Result<std::collections::HashMap<i64, u32>> {
    let mut counts = std::collections::HashMap::new();
    let mut stmt = conn.prepare("SELECT instance_id, count(*) FROM keys WHERE instance_id IS NOT NULL GROUP BY instance_id")?;
    for row in stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, u32>(1)?)))? {
        let (id, n) = row?;
        counts.insert(id, n);
    }
    Ok(counts)
}

/// One fleet-list row written as JSON from the cursor, in the field order of `InstanceRow`.
mod json_row {
    use super::*;
    use std::io::Write;

    pub(super) enum RowError {
        Io(std::io::Error),
        Sql(rusqlite::Error),
    }
    impl From<std::io::Error> for RowError {
        fn from(e: std::io::Error) -> Self {
            RowError::Io(e)
        }
    }
    impl From<rusqlite::Error> for RowError {
        fn from(e: rusqlite::Error) -> Self {
            RowError::Sql(e)
        }
    }
    impl From<serde_json::Error> for RowError {
        fn from(e: serde_json::Error) -> Self {
            RowError::Io(e.into())
        }
    }

    fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
        r.get_ref(i)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    }

    fn opt_text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
        r.get_ref(i)?.as_str_or_null().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
    }

    fn field(out: &mut dyn Write, name: &str, first: bool) -> std::io::Result<()> {
        if !first {
            out.write_all(b",")?;
        }
        out.write_all(b"\"")?;
        out.write_all(name.as_bytes())?;
        out.write_all(b"\":")
    }

    fn string(out: &mut dyn Write, s: &str) -> Result<(), RowError> {
        Ok(serde_json::to_writer(out, s)?)
    }

    fn opt_string(out: &mut dyn Write, s: Option<&str>) -> Result<(), RowError> {
        match s {
            Some(s) => string(out, s),
            None => Ok(out.write_all(b"null")?),
        }
    }

    /// A stored timestamp (`ts`: RFC 3339, microseconds, `Z`) as chrono's serde writes it
    /// (`AutoSi`: no fraction, milli-, micro- or nanoseconds, whichever is exact). Anything not
    /// in the stored shape is parsed and written by chrono itself.
    pub(super) fn timestamp(out: &mut dyn Write, s: &str) -> Result<(), RowError> {
        let b = s.as_bytes();
        if b.len() == 27 && b[19] == b'.' && b[26] == b'Z' && b[20..26].iter().all(u8::is_ascii_digit) && b[..19].is_ascii() {
            let frac = &s[20..26];
            out.write_all(b"\"")?;
            out.write_all(&b[..19])?;
            if frac == "000000" {
            } else if frac.ends_with("000") {
                out.write_all(b".")?;
                out.write_all(&frac.as_bytes()[..3])?;
            } else {
                out.write_all(b".")?;
                out.write_all(frac.as_bytes())?;
            }
            out.write_all(b"Z\"")?;
            return Ok(());
        }
        Ok(serde_json::to_writer(out, &parse_ts(s)?)?)
    }

    pub(super) fn write(r: &Row<'_>, now: DateTime<Utc>, counts: &std::collections::HashMap<i64, u32>, out: &mut dyn Write) -> Result<(), RowError> {
        let id: i64 = r.get(0)?;
        out.write_all(b"{\"instance\":{\"id\":")?;
        write!(out, "{id}")?;
        for (i, name) in [(1, "name"), (2, "owner"), (3, "environment"), (4, "workload")] {
            field(out, name, false)?;
            string(out, text(r, i)?)?;
        }
        let purpose = text(r, 5)?;
        field(out, "purpose", false)?;
        serde_json::to_writer(&mut *out, &Purpose::parse(purpose).ok_or_else(|| bad_value("purpose", purpose))?)?;
        field(out, "ssh_host", false)?;
        string(out, text(r, 6)?)?;
        field(out, "ssh_port", false)?;
        write!(out, "{}", r.get::<_, u16>(7)?)?;
        field(out, "ssh_user", false)?;
        string(out, text(r, 8)?)?;
        field(out, "jump_via", false)?;
        opt_string(out, opt_text(r, 21)?)?;
        field(out, "host_key_fingerprint", false)?;
        opt_string(out, opt_text(r, 9)?)?;
        field(out, "state_dir", false)?;
        string(out, text(r, 10)?)?;
        field(out, "service_manager", false)?;
        serde_json::to_writer(&mut *out, &json_col::<ServiceManager>(text(r, 11)?)?)?;
        let injection = text(r, 12)?;
        field(out, "injection", false)?;
        serde_json::to_writer(&mut *out, &InjectionMethod::parse(injection).ok_or_else(|| bad_value("injection", injection))?)?;
        field(out, "agents", false)?;
        serde_json::to_writer(&mut *out, &json_col::<Vec<String>>(text(r, 13)?)?)?;
        field(out, "expected_org_id", false)?;
        opt_string(out, opt_text(r, 14)?)?;
        field(out, "expected_workspace_id", false)?;
        opt_string(out, opt_text(r, 15)?)?;
        field(out, "tags", false)?;
        serde_json::to_writer(&mut *out, &json_col::<Vec<String>>(text(r, 16)?)?)?;
        field(out, "notes", false)?;
        string(out, text(r, 17)?)?;
        field(out, "draft", false)?;
        out.write_all(if r.get::<_, bool>(18)? { b"true" } else { b"false" })?;
        field(out, "created_at", false)?;
        timestamp(out, text(r, 19)?)?;
        field(out, "updated_at", false)?;
        timestamp(out, text(r, 20)?)?;
        out.write_all(b"},\"active_key\":")?;
        let o = INSTANCE_COL_COUNT;
        match opt_text(r, o)? {
            None => out.write_all(b"null")?,
            Some(name) => {
                out.write_all(b"{\"name\":")?;
                string(out, name)?;
                field(out, "hint", false)?;
                string(out, text(r, o + 1)?)?;
                field(out, "fingerprint", false)?;
                string(out, text(r, o + 2)?)?;
                let status = text(r, o + 3)?;
                field(out, "status", false)?;
                serde_json::to_writer(&mut *out, &KeyStatus::parse(status).ok_or_else(|| bad_value("key status", status))?)?;
                let created = text(r, o + 4)?;
                field(out, "created_at", false)?;
                timestamp(out, created)?;
                field(out, "age_days", false)?;
                write!(out, "{}", (now - parse_ts(created)?).num_days())?;
                out.write_all(b"}")?;
            }
        }
        write!(out, ",\"key_count\":{}}}", counts.get(&id).copied().unwrap_or(0))?;
        Ok(())
    }
}

const KEY_COLS: &str = "k.id, k.name, k.kind, k.hint, k.fingerprint, k.length, k.keychain_ref, i.name, k.workspace_id, \
     k.anthropic_key_id, k.status, k.name_override, k.created_at, k.expires_at, k.rotated_at, k.retired_at, k.updated_at";

/// Number of columns in `INSTANCE_COLS`, where joined columns start.
const INSTANCE_COL_COUNT: usize = 22;

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

/// An audit row to append (inside the same transaction as the change it records).
pub struct AuditEntry<'a> {
    pub at: DateTime<Utc>,
    pub os_user: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub details: serde_json::Value,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let conn = Connection::open(path).map_err(|e| Error::Store(format!("cannot open {}: {e}", path.display())))?;
        Self::init(conn, path.to_path_buf())
    }

    /// An in-memory store for unit tests.
    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?, PathBuf::from(":memory:"))
    }

    fn init(mut conn: Connection, path: PathBuf) -> Result<Store> {
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Read pages straight from the OS page cache instead of copying each one into SQLite's
        // own cache (the fleet list of 10,000 instances reads the whole 13 MB table).
        conn.pragma_update(None, "mmap_size", 256i64 << 20)?;
        migrate(&mut conn)?;
        Ok(Store { conn: Mutex::new(conn), path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one transaction; commits only if it returns `Ok`.
    pub fn tx<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self.conn().pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    // ---- reads -------------------------------------------------------------------------

    pub fn instance_by_name(&self, name: &str) -> Result<Option<Instance>> {
        instance_by_name(&self.conn(), name)
    }

    /// Instances matching `filter`, each with its active key (if any) and its number of keys:
    /// one query, so the fleet view costs the same for 10 or 10,000 instances per row.
    /// Only the active key's public brief is read (not every key column): this is the hot path
    /// of the fleet view. `age_days` is left 0 for the caller, who knows "now".
    pub fn list_instances(&self, filter: &InstanceFilter) -> Result<Vec<(Instance, Option<KeyBrief>, u32)>> {
        let conn = self.conn();
        let (sql, args) = instances_query(filter);
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let instance = instance_from_row(r)?;
            let o = INSTANCE_COL_COUNT;
            let key = match r.get::<_, Option<String>>(o)? {
                Some(name) => {
                    let status: String = r.get(o + 3)?;
                    Some(KeyBrief {
                        name,
                        hint: r.get(o + 1)?,
                        fingerprint: r.get(o + 2)?,
                        status: KeyStatus::parse(&status).ok_or_else(|| bad_value("key status", &status))?,
                        created_at: parse_ts(&r.get::<_, String>(o + 4)?)?,
                        age_days: 0,
                    })
                }
                None => None,
            };
            Ok((instance, key))
        })?;
        let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let counts = if rows.is_empty() { Default::default() } else { key_counts(&conn)? };
        Ok(rows
            .into_iter()
            .map(|(i, k)| {
                let n = counts.get(&i.id).copied().unwrap_or(0);
                (i, k, n)
            })
            .collect())
    }

    /// The fleet list as compact JSON, byte for byte what `serde_json` makes of
    /// [`crate::Clawkeep::list_instances`] (a test holds the two together), but written straight
    /// from the cursor: no per-row structs to build and free. `instance list --json` over 10,000
    /// instances is the hot path this serves. `now` gives the keys' `age_days`.
    pub fn write_instances_json(&self, filter: &InstanceFilter, now: DateTime<Utc>, out: &mut dyn std::io::Write) -> Result<()> {
        let conn = self.conn();
        let counts = key_counts(&conn)?;
        // Rows in table order (sequential reads; walking the name index would fetch each row
        // at random), each rendered into one buffer, then emitted sorted by name (byte order,
        // as SQLite's BINARY collation sorts).
        let (sql, args) = instances_query_unordered(filter);
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter()))?;
        // ~1 kB a row: sized once, so the buffer is not copied as it grows.
        let n = conn.query_row("SELECT count(*) FROM instances", [], |r| r.get::<_, i64>(0))?.max(0) as usize;
        let mut buf: Vec<u8> = Vec::with_capacity((n * 1024).min(256 << 20));
        let mut spans: Vec<(String, usize, usize)> = Vec::with_capacity(n);
        while let Some(r) = rows.next()? {
            let start = buf.len();
            json_row::write(r, now, &counts, &mut buf).map_err(|e| match e {
                json_row::RowError::Io(e) => Error::Store(format!("cannot render a row: {e}")),
                json_row::RowError::Sql(e) => Error::from(e),
            })?;
            spans.push((r.get::<_, String>(1)?, start, buf.len()));
        }
        spans.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let io = |source: std::io::Error| Error::Io { context: "writing the instance list".into(), source };
        out.write_all(b"[").map_err(io)?;
        for (n, (_, a, b)) in spans.iter().enumerate() {
            if n > 0 {
                out.write_all(b",").map_err(io)?;
            }
            out.write_all(&buf[*a..*b]).map_err(io)?;
        }
        out.write_all(b"]").map_err(io)?;
        Ok(())
    }

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

    pub fn counts(&self) -> Result<(u32, u32)> {
        let conn = self.conn();
        let i = conn.query_row("SELECT count(*) FROM instances", [], |r| r.get(0))?;
        let k = conn.query_row("SELECT count(*) FROM keys", [], |r| r.get(0))?;
        Ok((i, k))
    }

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

    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        Ok(self.conn().query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }
}

// ---- statements usable inside a transaction ---------------------------------------------

pub fn instance_by_name(conn: &Connection, name: &str) -> Result<Option<Instance>> {
    let sql = format!("SELECT {INSTANCE_COLS} FROM {INSTANCE_FROM} WHERE i.name = ?1");
    Ok(conn.query_row(&sql, [name], instance_from_row).optional()?)
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

/// An instance's stored columns, in the order of [`INSTANCE_WRITE_COLS`]: the values both
/// [`insert_instance`] and [`update_instance`] write (`?1`…`?21`).
fn instance_values(i: &Instance) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let text = |s: &str| Value::Text(s.to_string());
    let opt = |s: &Option<String>| s.clone().map(Value::Text).unwrap_or(Value::Null);
    let json = |v: serde_json::Result<String>| Value::Text(v.unwrap_or_default());
    vec![
        text(&i.name),
        text(&i.owner),
        text(&i.environment),
        text(&i.workload),
        text(i.purpose.as_str()),
        text(&i.ssh_host),
        Value::Integer(i64::from(i.ssh_port)),
        text(&i.ssh_user),
        opt(&i.host_key_fingerprint),
        text(&i.state_dir),
        json(serde_json::to_string(&i.service_manager)),
        text(i.injection.as_str()),
        json(serde_json::to_string(&i.agents)),
        opt(&i.expected_org_id),
        opt(&i.expected_workspace_id),
        json(serde_json::to_string(&i.tags)),
        text(&i.notes),
        Value::Integer(i64::from(i.draft)),
        text(&ts(&i.created_at)),
        text(&ts(&i.updated_at)),
        opt(&i.jump_via),
    ]
}

/// The written columns; `jump_via_id` is resolved from the jump host's name (`?21`).
const INSTANCE_WRITE_COLS: [&str; 20] = [
    "name",
    "owner",
    "environment",
    "workload",
    "purpose",
    "ssh_host",
    "ssh_port",
    "ssh_user",
    "host_key_fingerprint",
    "state_dir",
    "service_manager",
    "injection",
    "agents",
    "expected_org_id",
    "expected_workspace_id",
    "tags",
    "notes",
    "draft",
    "created_at",
    "updated_at",
];
const JUMP_ID_OF_21: &str = "(SELECT id FROM instances WHERE name = ?21)";

pub fn insert_instance(conn: &Connection, i: &Instance) -> Result<i64> {
    let placeholders: Vec<String> = (1..=INSTANCE_WRITE_COLS.len()).map(|n| format!("?{n}")).collect();
    let sql = format!("INSERT INTO instances ({}, jump_via_id) VALUES ({}, {JUMP_ID_OF_21})", INSTANCE_WRITE_COLS.join(", "), placeholders.join(", "));
    conn.execute(&sql, rusqlite::params_from_iter(instance_values(i)))?;
    Ok(conn.last_insert_rowid())
}

/// Writes every column but `created_at` (the row keeps its creation time).
pub fn update_instance(conn: &Connection, i: &Instance) -> Result<()> {
    let sets: Vec<String> = INSTANCE_WRITE_COLS.iter().enumerate().filter(|(_, c)| **c != "created_at").map(|(n, c)| format!("{c} = ?{}", n + 1)).collect();
    let sql = format!("UPDATE instances SET {}, jump_via_id = {JUMP_ID_OF_21} WHERE id = ?22", sets.join(", "));
    let mut values = instance_values(i);
    values.push(rusqlite::types::Value::Integer(i.id));
    conn.execute(&sql, rusqlite::params_from_iter(values))?;
    Ok(())
}

/// Names of the instances reached through `name` (it is their jump host).
pub fn instances_jumping_via(conn: &Connection, name: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT i.name FROM instances i JOIN instances j ON j.id = i.jump_via_id WHERE j.name = ?1 ORDER BY i.name")?;
    let rows = stmt.query_map([name], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(rows)
}

pub fn delete_instance(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM instances WHERE id = ?1", [id])?;
    Ok(())
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

pub fn delete_key(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM keys WHERE id = ?1", [id])?;
    Ok(())
}

pub fn set_setting(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute("INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", params![key, value])?;
    Ok(())
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

pub fn append_audit(conn: &Connection, e: &AuditEntry<'_>) -> Result<()> {
    conn.execute(
        "INSERT INTO audit (at, os_user, action, subject, details) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![ts(&e.at), e.os_user, e.action, e.subject, e.details.to_string()],
    )?;
    Ok(())
}

/// Appends a checklist run (history).
pub fn insert_check_run(conn: &Connection, instance_id: i64, r: &crate::checklist::InstanceReport) -> Result<i64> {
    let report = serde_json::to_string(r).map_err(|e| Error::Store(format!("cannot encode report: {e}")))?;
    conn.execute(
        "INSERT INTO check_runs (instance_id, started_at, status, first_failing_domain, total_ms, host_ms, api_ms, errors_429_1h, report) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            instance_id,
            ts(&r.started_at),
            r.status.as_str(),
            r.first_failing_domain.map(|d| d.as_str()),
            r.timings.total_ms as i64,
            r.timings.host_ms as i64,
            r.timings.api_ms as i64,
            r.facts.errors_429_1h,
            report
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A `check_runs` row (columns: id, instance name, started_at, status, first_failing_domain,
/// total_ms, host_ms, api_ms, errors_429_1h) as a [`crate::checklist::CheckRun`].
pub(crate) fn check_run_from_row(r: &Row<'_>) -> rusqlite::Result<crate::checklist::CheckRun> {
    use crate::checklist::{CheckRun, Domain, Status};
    let status: String = r.get(3)?;
    let ffd: Option<String> = r.get(4)?;
    Ok(CheckRun {
        id: r.get(0)?,
        instance: r.get(1)?,
        started_at: parse_ts(&r.get::<_, String>(2)?)?,
        status: match status.as_str() {
            "pass" => Status::Pass,
            "warn" => Status::Warn,
            "fail" => Status::Fail,
            _ => Status::Skip,
        },
        first_failing_domain: ffd.as_deref().and_then(Domain::parse),
        total_ms: r.get::<_, i64>(5)? as u64,
        host_ms: r.get::<_, i64>(6)? as u64,
        api_ms: r.get::<_, i64>(7)? as u64,
        errors_429_1h: r.get(8)?,
    })
}

impl Store {
    /// Recent checklist runs of an instance, newest first.
    pub fn check_runs(&self, instance: &str, limit: u32) -> Result<Vec<crate::checklist::CheckRun>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT c.id, i.name, c.started_at, c.status, c.first_failing_domain, c.total_ms, c.host_ms, c.api_ms, c.errors_429_1h \
             FROM check_runs c JOIN instances i ON i.id = c.instance_id WHERE i.name = ?1 ORDER BY c.started_at DESC, c.id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![instance, limit], check_run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The full stored report of a run.
    pub fn check_report(&self, id: i64) -> Result<Option<crate::checklist::InstanceReport>> {
        let conn = self.conn();
        let text: Option<String> = conn.query_row("SELECT report FROM check_runs WHERE id = ?1", [id], |r| r.get(0)).optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| Error::Store(format!("stored report {id} unreadable: {e}")))).transpose()
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew { found: current, known: SCHEMA_VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql).map_err(|e| Error::Store(format!("migration {} failed: {e}", i + 1)))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
