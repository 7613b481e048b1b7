//! Argument values the subcommands share: dates and ages (`--since 7d`), the home directory.

use std::path::PathBuf;

use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDate, Utc};

pub(crate) fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

pub(crate) fn parse_date(s: &str) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(dt.and_utc());
        }
    }
    bail!("'{s}' is not a date: use YYYY-MM-DD or RFC 3339 (2026-11-25T10:00:00Z)")
}

pub(crate) fn parse_since(s: &str) -> Result<DateTime<Utc>> {
    let t = s.trim();
    let unit = t.chars().last().unwrap_or(' ');
    if let (Some(n), true) = (t[..t.len().saturating_sub(1)].parse::<i64>().ok(), "smhdw".contains(unit)) {
        let secs = match unit {
            's' => n,
            'm' => n * 60,
            'h' => n * 3600,
            'd' => n * 86400,
            _ => n * 7 * 86400,
        };
        return Ok(Utc::now() - chrono::Duration::seconds(secs));
    }
    parse_date(t).map_err(|_| anyhow::anyhow!("'{s}' is not a date or an age: use 2026-11-01, an RFC 3339 time, or 30m / 24h / 7d"))
}
