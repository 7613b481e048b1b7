//! The fleet list written as JSON straight from the cursor, one row at a time, in the field
//! order of `InstanceRow` (the hot path of `instance list --json`).

use chrono::{DateTime, Utc};
use rusqlite::Row;

use super::row::{bad_value, json_col, parse_ts};
use crate::model::domain::*;
use std::io::Write;

fn text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

fn opt_text<'r>(r: &'r Row<'_>, i: usize) -> rusqlite::Result<Option<&'r str>> {
    r.get_ref(i)?.as_str_or_null().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// `,"name":` (the rows are written into a `Vec`: plain appends, no I/O to fail).
fn field(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Any serialisable value as compact JSON (into a `Vec` this cannot fail for the types here).
fn value<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> rusqlite::Result<()> {
    serde_json::to_writer(out, v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn string(out: &mut Vec<u8>, s: &str) -> rusqlite::Result<()> {
    // Most of the fleet's text needs no escaping: copy it as it is.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    value(out, s)
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) -> rusqlite::Result<()> {
    match s {
        Some(s) => string(out, s),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn number(out: &mut Vec<u8>, n: impl std::fmt::Display) {
    // Writing a number into a Vec cannot fail.
    let _ = write!(out, "{n}");
}

/// A stored timestamp (`ts`: RFC 3339, microseconds, `Z`) as chrono's serde writes it
/// (`AutoSi`: no fraction, milli-, micro- or nanoseconds, whichever is exact). Anything not
/// in the stored shape is parsed and written by chrono itself.
pub(super) fn timestamp(out: &mut Vec<u8>, s: &str) -> rusqlite::Result<()> {
    let b = s.as_bytes();
    if b.len() == 27 && b[19] == b'.' && b[26] == b'Z' && b[20..26].iter().all(u8::is_ascii_digit) && b[..19].is_ascii() && !b[..19].contains(&b'"') && !b[..19].contains(&b'\\') {
        let frac = &s[20..26];
        out.push(b'"');
        out.extend_from_slice(&b[..19]);
        if frac == "000000" {
        } else if frac.ends_with("000") {
            out.push(b'.');
            out.extend_from_slice(&frac.as_bytes()[..3]);
        } else {
            out.push(b'.');
            out.extend_from_slice(frac.as_bytes());
        }
        out.extend_from_slice(b"Z\"");
        return Ok(());
    }
    value(out, &parse_ts(s)?)
}

/// One fleet row as JSON, appended to `out`; the joined active-key columns start at `key_col`,
/// the instance's number of keys follows them.
pub(super) fn write(r: &Row<'_>, key_col: usize, now: DateTime<Utc>, out: &mut Vec<u8>) -> rusqlite::Result<()> {
    let id: i64 = r.get(0)?;
    out.extend_from_slice(b"{\"instance\":{\"id\":");
    number(out, id);
    for (i, name) in [(1, "name"), (2, "owner"), (3, "environment"), (4, "workload")] {
        field(out, name);
        string(out, text(r, i)?)?;
    }
    let purpose = text(r, 5)?;
    field(out, "purpose");
    value(out, &Purpose::parse(purpose).ok_or_else(|| bad_value("purpose", purpose))?)?;
    field(out, "ssh_host");
    string(out, text(r, 6)?)?;
    field(out, "ssh_port");
    number(out, r.get::<_, u16>(7)?);
    field(out, "ssh_user");
    string(out, text(r, 8)?)?;
    field(out, "jump_via");
    opt_string(out, opt_text(r, 21)?)?;
    field(out, "host_key_fingerprint");
    opt_string(out, opt_text(r, 9)?)?;
    field(out, "state_dir");
    string(out, text(r, 10)?)?;
    field(out, "service_manager");
    value(out, &json_col::<ServiceManager>(text(r, 11)?)?)?;
    let injection = text(r, 12)?;
    field(out, "injection");
    value(out, &InjectionMethod::parse(injection).ok_or_else(|| bad_value("injection", injection))?)?;
    field(out, "agents");
    value(out, &json_col::<Vec<String>>(text(r, 13)?)?)?;
    field(out, "expected_org_id");
    opt_string(out, opt_text(r, 14)?)?;
    field(out, "expected_workspace_id");
    opt_string(out, opt_text(r, 15)?)?;
    field(out, "tags");
    value(out, &json_col::<Vec<String>>(text(r, 16)?)?)?;
    field(out, "notes");
    string(out, text(r, 17)?)?;
    field(out, "draft");
    out.extend_from_slice(if r.get::<_, bool>(18)? { b"true" } else { b"false" });
    field(out, "created_at");
    timestamp(out, text(r, 19)?)?;
    field(out, "updated_at");
    timestamp(out, text(r, 20)?)?;
    out.extend_from_slice(b"},\"active_key\":");
    let o = key_col;
    match opt_text(r, o)? {
        None => out.extend_from_slice(b"null"),
        Some(name) => {
            out.extend_from_slice(b"{\"name\":");
            string(out, name)?;
            field(out, "hint");
            string(out, text(r, o + 1)?)?;
            field(out, "fingerprint");
            string(out, text(r, o + 2)?)?;
            let status = text(r, o + 3)?;
            field(out, "status");
            value(out, &KeyStatus::parse(status).ok_or_else(|| bad_value("key status", status))?)?;
            let created = text(r, o + 4)?;
            field(out, "created_at");
            timestamp(out, created)?;
            field(out, "age_days");
            number(out, (now - parse_ts(created)?).num_days());
            out.push(b'}');
        }
    }
    out.extend_from_slice(b",\"key_count\":");
    number(out, r.get::<_, u32>(key_col + 5)?);
    out.push(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for s in ["", "plain", "quote \" in", "back \\ slash", "tab\tand\nnewline", "nul \u{0} del \u{7f}", "ünï ✓ 🦀 </script>", "\u{1f}"] {
            let mut out = Vec::new();
            super::string(&mut out, s).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }
}
