//! The `instances` table: the row mapping, the fleet list (one query), and the statements the
//! facade runs inside its transactions.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row};

use super::instance_json as json_row;
use super::row::{bad_value, json_col, parse_ts, ts};
use super::Store;
use crate::error::{Error, Result};
use crate::model::domain::*;

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
/// active key's public columns and its number of keys (one query, whatever the fleet's size;
/// the count is an index-only lookup per row on `keys_instance`).
fn instances_query(filter: &InstanceFilter) -> (String, Vec<String>) {
    let (mut sql, args) = instances_query_unordered(filter);
    sql.push_str(" ORDER BY i.name");
    (sql, args)
}

/// [`instances_query`] in table order (sequential pages; the caller sorts by name).
fn instances_query_unordered(filter: &InstanceFilter) -> (String, Vec<String>) {
    let mut sql = format!(
        "SELECT {INSTANCE_COLS}, k.name, k.hint, k.fingerprint, k.status, k.created_at, \
         (SELECT count(*) FROM keys c WHERE c.instance_id = i.id) \
         FROM {INSTANCE_FROM} LEFT JOIN keys k ON k.instance_id = i.id AND k.status = 'active' WHERE 1=1"
    );
    let args = push_filter(&mut sql, filter);
    (sql, args)
}

/// The Fleet table's columns ([`FleetRow`]): no jump-host join, no key count, no JSON but tags.
const FLEET_COLS: &str = "i.id, i.name, i.owner, i.environment, i.workload, i.ssh_user, i.ssh_host, i.ssh_port, i.tags, i.draft, \
     k.name, k.hint, k.created_at";

/// The desktop Fleet's SQL: [`FLEET_COLS`] of every instance matching `filter`, by name.
fn fleet_query(filter: &InstanceFilter) -> (String, Vec<String>) {
    let mut sql = format!("SELECT {FLEET_COLS} FROM instances i LEFT JOIN keys k ON k.instance_id = i.id AND k.status = 'active' WHERE 1=1");
    let args = push_filter(&mut sql, filter);
    sql.push_str(" ORDER BY i.name");
    (sql, args)
}

/// Appends `filter`'s conditions on `i` (the instances table) to `sql`; returns their arguments.
fn push_filter(sql: &mut String, filter: &InstanceFilter) -> Vec<String> {
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
    args
}

/// `Write::write_all_vectored` (not yet stable): every slice written, in order, in calls of at
/// most 512 slices (under the kernel's `IOV_MAX` of 1,024).
fn write_all_vectored(out: &mut dyn std::io::Write, mut slices: &mut [std::io::IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        let batch = slices.len().min(512);
        match out.write_vectored(&slices[..batch]) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => std::io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Number of columns in `INSTANCE_COLS`, where joined columns start.
pub(super) const INSTANCE_COL_COUNT: usize = 22;

impl Store {
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
            Ok((instance, key, r.get::<_, u32>(o + 5)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The desktop Fleet's rows ([`FleetRow`]): the instances matching `filter`, by name, with
    /// their active key's name, hint and age in days at `now`. One query, fewer columns than
    /// [`Store::list_instances`] and nothing nested.
    pub fn fleet_rows(&self, filter: &InstanceFilter, now: DateTime<Utc>) -> Result<Vec<FleetRow>> {
        let conn = self.conn();
        let (sql, args) = fleet_query(filter);
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| {
            let created = r.get::<_, Option<String>>(12)?.map(|t| parse_ts(&t)).transpose()?;
            Ok(FleetRow {
                id: r.get(0)?,
                name: r.get(1)?,
                owner: r.get(2)?,
                environment: r.get(3)?,
                workload: r.get(4)?,
                ssh_user: r.get(5)?,
                ssh_host: r.get(6)?,
                ssh_port: r.get(7)?,
                tags: json_col(&r.get::<_, String>(8)?)?,
                draft: r.get(9)?,
                key_name: r.get(10)?,
                key_hint: r.get(11)?,
                key_age_days: created.map(|c| (now - c).num_days()),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The fleet list as compact JSON, byte for byte what `serde_json` makes of
    /// [`crate::Clawkeep::list_instances`] (a test holds the two together), but written straight
    /// from the cursor: no per-row structs to build and free. `instance list --json` over 10,000
    /// instances is the hot path this serves. `now` gives the keys' `age_days`.
    pub fn write_instances_json(&self, filter: &InstanceFilter, now: DateTime<Utc>, out: &mut dyn std::io::Write) -> Result<()> {
        let conn = self.conn();
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
            json_row::write(r, INSTANCE_COL_COUNT, now, &mut buf)?;
            spans.push((r.get::<_, String>(1)?, start, buf.len()));
        }
        spans.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // Handed to `out` as slices of `buf`, a few hundred rows per call: a buffered writer
        // passes writes that large straight through (`writev`), so the 8 MB are copied once.
        let mut slices: Vec<std::io::IoSlice<'_>> = Vec::with_capacity(2 * spans.len() + 2);
        slices.push(std::io::IoSlice::new(b"["));
        for (n, (_, a, b)) in spans.iter().enumerate() {
            if n > 0 {
                slices.push(std::io::IoSlice::new(b","));
            }
            slices.push(std::io::IoSlice::new(&buf[*a..*b]));
        }
        slices.push(std::io::IoSlice::new(b"]"));
        write_all_vectored(out, &mut slices).map_err(|source| Error::Io { context: "writing the instance list".into(), source })
    }

    pub fn counts(&self) -> Result<(u32, u32)> {
        let conn = self.conn();
        let i = conn.query_row("SELECT count(*) FROM instances", [], |r| r.get(0))?;
        let k = conn.query_row("SELECT count(*) FROM keys", [], |r| r.get(0))?;
        Ok((i, k))
    }
}

pub fn instance_by_name(conn: &Connection, name: &str) -> Result<Option<Instance>> {
    let sql = format!("SELECT {INSTANCE_COLS} FROM {INSTANCE_FROM} WHERE i.name = ?1");
    Ok(conn.query_row(&sql, [name], instance_from_row).optional()?)
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

/// Whether any instance has this owner (an owner exists only through its instances).
pub(crate) fn owner_has_instances(conn: &Connection, owner: &str) -> Result<bool> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM instances WHERE owner = ?1)", [owner], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{add_instance, store};
    use super::*;

    #[test]
    fn an_owner_exists_through_its_instances() {
        let (_dir, s) = store();
        assert!(!s.tx(|tx| owner_has_instances(tx, "acme")).unwrap());
        add_instance(&s, "acme-prod-1", "acme");
        assert!(s.tx(|tx| owner_has_instances(tx, "acme")).unwrap());
        assert!(!s.tx(|tx| owner_has_instances(tx, "Acme")).unwrap(), "owners match exactly");
        assert!(!s.tx(|tx| owner_has_instances(tx, "")).unwrap());
    }

    #[test]
    fn an_unmapped_store_reads_the_same_fleet() {
        let (_dir, s) = store();
        add_instance(&s, "acme-prod-1", "acme");
        let mapped = s.fleet_rows(&InstanceFilter::default(), Utc::now()).unwrap();
        assert!(s.conn().pragma_query_value(None, "mmap_size", |r| r.get::<_, i64>(0)).unwrap() > 0);
        s.unmap_file().unwrap();
        assert_eq!(s.conn().pragma_query_value(None, "mmap_size", |r| r.get::<_, i64>(0)).unwrap(), 0);
        assert_eq!(s.conn().pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0)).unwrap(), -super::super::db::LONG_LIVED_CACHE_KIB);
        assert_eq!(s.fleet_rows(&InstanceFilter::default(), Utc::now()).unwrap(), mapped);
        assert_eq!(mapped[0].name, "acme-prod-1");
    }
}
