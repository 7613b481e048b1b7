//! The `spend_limit_reads` table: whether the last read of Anthropic's spend limits answered,
//! or the organisation does not show them (early access), with when and the API's words.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::row::{bad_value, parse_ts, ts};
use super::Store;
use crate::cost::spend_limits::SpendLimitsAvailability;
use crate::error::{Error, Result};

/// The last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendLimitRead {
    pub availability: SpendLimitsAvailability,
    pub detail: Option<String>,
    pub checked_at: DateTime<Utc>,
}

/// Records a read: `Available`, or `NotAvailable` with the API's words.
pub fn set_spend_limit_read(conn: &Connection, availability: SpendLimitsAvailability, detail: Option<&str>, at: &DateTime<Utc>) -> Result<()> {
    if availability == SpendLimitsAvailability::NotRead {
        return Err(Error::Store("a read is available or not available".into()));
    }
    conn.execute(
        "INSERT INTO spend_limit_reads (id, availability, detail, checked_at) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET availability = excluded.availability, detail = excluded.detail, checked_at = excluded.checked_at",
        params![availability.as_str(), detail, ts(at)],
    )?;
    Ok(())
}

impl Store {
    /// The last read, if any.
    pub fn spend_limit_read(&self) -> Result<Option<SpendLimitRead>> {
        let conn = self.conn();
        let row = conn
            .query_row("SELECT availability, detail, checked_at FROM spend_limit_reads WHERE id = 1", [], |r| {
                let a: String = r.get(0)?;
                Ok(SpendLimitRead {
                    availability: SpendLimitsAvailability::parse(&a).ok_or_else(|| bad_value("spend limit availability", &a))?,
                    detail: r.get(1)?,
                    checked_at: parse_ts(&r.get::<_, String>(2)?)?,
                })
            })
            .optional()?;
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::{at, store};

    #[test]
    fn the_last_read_replaces_the_one_before() {
        let (_d, s) = store();
        assert_eq!(s.spend_limit_read().unwrap(), None);
        s.tx(|tx| set_spend_limit_read(tx, SpendLimitsAvailability::NotAvailable, Some("404 not_found_error"), &at(1))).unwrap();
        let r = s.spend_limit_read().unwrap().unwrap();
        assert_eq!((r.availability, r.detail.as_deref(), r.checked_at), (SpendLimitsAvailability::NotAvailable, Some("404 not_found_error"), at(1)));
        s.tx(|tx| set_spend_limit_read(tx, SpendLimitsAvailability::Available, None, &at(2))).unwrap();
        assert_eq!(s.spend_limit_read().unwrap().unwrap(), SpendLimitRead { availability: SpendLimitsAvailability::Available, detail: None, checked_at: at(2) });
        assert!(s.tx(|tx| set_spend_limit_read(tx, SpendLimitsAvailability::NotRead, None, &at(3))).is_err());
    }
}
