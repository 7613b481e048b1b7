//! The connection and its migrations: one SQLite file per data directory, WAL, foreign keys, a
//! busy timeout, and append-only migrations embedded at build time (tracked in
//! `PRAGMA user_version`). The table modules beside this one hold the statements.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction};

use crate::error::{Error, Result};

/// Migrations, oldest first. Append only: never edit a released one.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_init.sql"),
    include_str!("../../migrations/0002_deployments.sql"),
    include_str!("../../migrations/0003_checks.sql"),
    // Rotation (issue 7).
    include_str!("../../migrations/0004_rotation.sql"),
    // A stored jump host per instance.
    include_str!("../../migrations/0005_jump.sql"),
    // The cost trail: usage and cost report caches, sync marks, listed API keys, budgets (issue 13).
    include_str!("../../migrations/0006_costs.sql"),
    // The team vault: this data dir's team membership, keys exposed by a leaver (issue 15).
    include_str!("../../migrations/0007_team.sql"),
    // Anthropic's configured rate limits, cached per organisation and workspace (issue 13).
    include_str!("../../migrations/0008_rate_limits.sql"),
    // Monthly sums of the usage cache, for month views at 1,000 keys (issue 13).
    include_str!("../../migrations/0009_usage_months.sql"),
    // Anthropic's spend limits and whether the organisation shows them (issue 13).
    include_str!("../../migrations/0010_spend_limits.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The store: one connection behind a mutex. Reads are methods; statements that must run inside a
/// caller's transaction are free functions over a `&Connection` (see [`Store::tx`]).
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

/// SQLite's own page cache in a long-lived process ([`Store::unmap_file`]), in KiB; SQLite's
/// default is 2,000. The OS keeps the file's pages cached either way, so a miss is a copy from
/// it, not a disk read; what the desktop reads whole (the Fleet) does not fit in either size,
/// and the 2 MB held were the desktop's largest growth between 0 and 10,000 instances after
/// the webview's.
pub const LONG_LIVED_CACHE_KIB: i64 = 512;

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

    /// Stops mapping the database file: reads then go through SQLite's own page cache, bounded
    /// here to [`LONG_LIVED_CACHE_KIB`]. For a long-lived process (the desktop): every mapped
    /// page it has read stays counted in its memory until it exits (13 MB after the Fleet of
    /// 10,000 instances), where a short-lived CLI run gains from the mapping and then ends.
    pub fn unmap_file(&self) -> Result<()> {
        let conn = self.conn();
        conn.pragma_update(None, "mmap_size", 0i64)?;
        conn.pragma_update(None, "cache_size", -LONG_LIVED_CACHE_KIB)?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn conn(&self) -> MutexGuard<'_, Connection> {
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
