//! The fleet list written as JSON straight from the cursor, one row at a time, in the field
//! order of `InstanceRow` (the hot path of `instance list --json`).

use chrono::{DateTime, Utc};
use rusqlite::Row;

use super::row::{bad_value, json_col, parse_ts};
use crate::model::domain::*;
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

/// One fleet row as JSON; the joined active-key columns start at `key_col`.
pub(super) fn write(r: &Row<'_>, key_col: usize, now: DateTime<Utc>, counts: &std::collections::HashMap<i64, u32>, out: &mut dyn Write) -> Result<(), RowError> {
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
    let o = key_col;
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
