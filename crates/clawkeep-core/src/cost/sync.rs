//! The sync's rules, pure: where a sync starts (the first sync reads the last 90 days; later
//! ones read only new days plus the last three again, which the API may still revise; an
//! interrupted one resumes after the last page it committed), how far a committed page moves
//! the mark, the bound on the page loop, and what a sync reports while it runs and at the end.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Days read again on every sync (the API revises recent buckets).
pub const REREAD_DAYS: i64 = 3;
/// How far back the first sync reads.
pub const DEFAULT_FIRST_SYNC_DAYS: i64 = 90;
/// Daily buckets per page (the API's maximum for `1d`).
pub const DEFAULT_PAGE_DAYS: u32 = 31;

/// The first day to read: `since` when given (a backfill), else [`REREAD_DAYS`] before the
/// stored mark, else [`DEFAULT_FIRST_SYNC_DAYS`] before today. Never after today.
pub fn sync_start(synced_until: Option<NaiveDate>, since: Option<NaiveDate>, today: NaiveDate) -> NaiveDate {
    let start = match (since, synced_until) {
        (Some(s), _) => s,
        (None, Some(m)) => m - Duration::days(REREAD_DAYS),
        (None, None) => today - Duration::days(DEFAULT_FIRST_SYNC_DAYS),
    };
    start.min(today)
}

/// The mark after a page whose buckets end at `page_end` (exclusive) was committed: days before
/// it are stored. Today's bucket is still filling, so the mark never passes today.
pub fn mark_after_page(page_end: NaiveDate, today: NaiveDate) -> NaiveDate {
    page_end.min(today)
}

/// The most pages a sync of `start..end` (exclusive) may take: the days divided by the page
/// size, and two more; a server that keeps answering `has_more` cannot loop for ever.
pub fn max_pages(start: NaiveDate, end: NaiveDate, page_days: u32) -> u32 {
    let days = (end - start).num_days().max(1) as u32;
    days.div_ceil(page_days.max(1)) + 2
}

/// What a running sync reports after each step (the desktop's progress bar, the CLI's line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncProgress {
    /// `keys`, `usage` or `cost`.
    pub report: String,
    /// Pages of this report committed so far.
    pub pages: u32,
    /// Days before this one are stored.
    pub done_until: NaiveDate,
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
    /// Retries after a 429/529 so far (waiting as the API asked).
    pub retries: u32,
}

/// One report's part of a sync.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReportSync {
    pub start: Option<NaiveDate>,
    /// Exclusive.
    pub end: Option<NaiveDate>,
    pub pages: u32,
    pub rows: u32,
    pub retries: u32,
    /// Days before this one are stored.
    pub synced_until: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SyncReport {
    pub usage: ReportSync,
    pub cost: ReportSync,
    /// API keys listed by the Admin API.
    pub keys: u32,
    /// Inventory keys whose expiry the Admin API's `expires_at` changed.
    pub expiry_updates: u32,
    /// Stopped by the cancel token: what was committed stays, the next sync resumes.
    pub cancelled: bool,
    /// Configured rate-limit entries read (organisation and workspaces).
    pub rate_limits: u32,
    /// Anthropic's spend limits read (0 when the organisation does not show them).
    #[serde(default)]
    pub spend_limits: u32,
    /// Whether the organisation shows its spend limits (`not_read`: the read failed or did not run).
    #[serde(default)]
    pub spend_limits_availability: super::spend_limits::SpendLimitsAvailability,
    /// What the sync could not read without failing (the rate limits, the spend limits): the
    /// reports are saved.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn where_a_sync_starts() {
        let today = d("2026-12-05");
        assert_eq!(sync_start(None, None, today), d("2026-09-06"), "first sync: 90 days");
        assert_eq!(sync_start(Some(d("2026-12-05")), None, today), d("2026-12-02"), "incremental: the last 3 days again");
        assert_eq!(sync_start(Some(d("2026-11-10")), None, today), d("2026-11-07"), "resumes after the last committed page");
        assert_eq!(sync_start(Some(d("2026-12-05")), Some(d("2026-01-01")), today), d("2026-01-01"), "a backfill");
        assert_eq!(sync_start(None, Some(d("2027-01-01")), today), today, "never after today");
    }

    #[test]
    fn the_mark_and_the_bound() {
        let today = d("2026-12-05");
        assert_eq!(mark_after_page(d("2026-11-01"), today), d("2026-11-01"));
        assert_eq!(mark_after_page(d("2026-12-06"), today), today, "today's bucket is read again");
        assert_eq!(max_pages(d("2026-09-06"), d("2026-12-06"), 31), 3 + 2);
        assert_eq!(max_pages(d("2026-12-02"), d("2026-12-06"), 31), 1 + 2);
        assert_eq!(max_pages(d("2026-12-06"), d("2026-12-06"), 0), 1 + 2);
    }
}
