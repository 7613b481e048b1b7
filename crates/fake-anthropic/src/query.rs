//! Query-string parsing with the API's conventions: repeated `name[]=` (or `name=`) params
//! for lists, pydantic-style messages for bad values.

use chrono::{DateTime, Utc};

use crate::error::ApiError;

/// A parsed query string.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        let pairs = q.map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()).unwrap_or_default();
        Query { pairs }
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Every value of `name[]` and `name`.
    pub fn list(&self, name: &str) -> Vec<String> {
        let bracket = format!("{name}[]");
        self.pairs.iter().filter(|(k, _)| *k == bracket || k == name || k.starts_with(&format!("{name}["))).map(|(_, v)| v.clone()).collect()
    }

    /// An integer in `min..=max`, or `default`.
    pub fn int(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ApiError> {
        let Some(raw) = self.get(name) else { return Ok(default) };
        let n: i64 = raw.trim().parse().map_err(|_| ApiError::invalid(format!("{name}: Input should be a valid integer, unable to parse string as an integer")))?;
        if n < min as i64 {
            return Err(ApiError::invalid(format!("{name}: Input should be greater than or equal to {min}")));
        }
        if n > max as i64 {
            return Err(ApiError::invalid(format!("{name}: Input should be less than or equal to {max}")));
        }
        Ok(n as u64)
    }

    /// A boolean (`true`/`false`/`1`/`0`), or `default`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(_) => Err(ApiError::invalid(format!("{name}: Input should be a valid boolean"))),
        }
    }

    /// An RFC 3339 time.
    pub fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(s) => {
                DateTime::parse_from_rfc3339(s.trim()).map(|d| Some(d.with_timezone(&Utc))).map_err(|_| ApiError::invalid(format!("{name}: Input should be a valid datetime")))
            }
        }
    }
}

/// Cursor pagination over `items` (already in list order) by id: `after_id` / `before_id`,
/// `limit`. Returns the page and `has_more`.
pub(crate) fn paginate<T, F: Fn(&T) -> &str>(items: Vec<T>, id_of: F, limit: usize, after_id: Option<&str>, before_id: Option<&str>) -> (Vec<T>, bool) {
    if let Some(after) = after_id {
        let Some(pos) = items.iter().position(|i| id_of(i) == after) else { return (Vec::new(), false) };
        let rest: Vec<T> = items.into_iter().skip(pos + 1).collect();
        let more = rest.len() > limit;
        return (rest.into_iter().take(limit).collect(), more);
    }
    if let Some(before) = before_id {
        let Some(pos) = items.iter().position(|i| id_of(i) == before) else { return (Vec::new(), false) };
        let head: Vec<T> = items.into_iter().take(pos).collect();
        let more = head.len() > limit;
        let skip = head.len().saturating_sub(limit);
        return (head.into_iter().skip(skip).collect(), more);
    }
    let more = items.len() > limit;
    (items.into_iter().take(limit).collect(), more)
}
