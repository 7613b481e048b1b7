//! Column codecs shared by the table modules: timestamps, days, JSON columns, the usage
//! columns (days and monthly sums), and the error for a stored value this build does not know.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Row;

use crate::cost::types::{Tokens, UsageRow};

pub(super) fn ts(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

pub(super) fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(super) fn parse_opt_ts(s: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_ts(&s)).transpose()
}

pub(super) fn json_col<T: serde::de::DeserializeOwned>(s: &str) -> rusqlite::Result<T> {
    serde_json::from_str(s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(super) fn bad_value(what: &str, v: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, format!("unexpected {what} '{v}' in the store").into())
}

pub(super) const USAGE_COLS: &str = "day, api_key_id, workspace_id, model, service_tier, context_window, uncached_input_tokens, cache_write_5m_tokens, \
     cache_write_1h_tokens, cache_read_tokens, output_tokens, web_search_requests";

pub(super) fn day(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(super) fn parse_day(s: &str) -> rusqlite::Result<NaiveDate> {
    s.parse().map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

/// '' in a key column is the API's null.
pub(super) fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn count(r: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    Ok(r.get::<_, i64>(i)?.max(0) as u64)
}

pub(super) fn usage_from_row(r: &Row<'_>) -> rusqlite::Result<UsageRow> {
    Ok(UsageRow {
        day: parse_day(&r.get::<_, String>(0)?)?,
        api_key_id: opt(r.get(1)?),
        workspace_id: opt(r.get(2)?),
        model: r.get(3)?,
        service_tier: r.get(4)?,
        context_window: r.get(5)?,
        tokens: Tokens {
            uncached_input: count(r, 6)?,
            cache_write_5m: count(r, 7)?,
            cache_write_1h: count(r, 8)?,
            cache_read: count(r, 9)?,
            output: count(r, 10)?,
            web_search_requests: count(r, 11)?,
        },
    })
}
