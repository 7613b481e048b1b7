//! Which parts of a month-period window come from the monthly sums and which from the days:
//! a whole month in which no price takes effect after its first day is one row per key and
//! model; a month with a mid-month price change, and a last month cut short by `until`, are
//! read by day (priced per day). Pure: the store composes the reads.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, Months, NaiveDate};

/// The reads for one month-period window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthReads {
    /// Monthly sums for the months starting within this range (either end open); `None`: none.
    pub sums: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    /// Months (first days) whose sums are not used: they are in `by_day`.
    pub skip: BTreeSet<NaiveDate>,
    /// Day ranges (inclusive) read by day.
    pub by_day: Vec<(NaiveDate, NaiveDate)>,
}

pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

pub fn month_end(d: NaiveDate) -> NaiveDate {
    month_start(d).checked_add_months(Months::new(1)).map_or(d, |n| n - Duration::days(1))
}

/// The reads for `since..=until` (`since` a month's first day or open) given the months in
/// which a price takes effect after day 1 (`split`, first days).
pub fn plan(since: Option<NaiveDate>, until: Option<NaiveDate>, split: &BTreeSet<NaiveDate>) -> MonthReads {
    let since = since.map(month_start);
    // The last day of the last whole month in the window.
    let whole_until = until.map(|u| if u == month_end(u) { u } else { month_start(u) - Duration::days(1) });
    let sums = match (since, whole_until) {
        (Some(s), Some(w)) if w < s => None,
        (s, w) => Some((s, w)),
    };
    let inside = |m: NaiveDate| since.is_none_or(|s| m >= s) && whole_until.is_none_or(|w| m <= w);
    let skip: BTreeSet<NaiveDate> = if sums.is_some() { split.iter().copied().filter(|m| inside(*m)).collect() } else { BTreeSet::new() };
    let mut by_day: Vec<(NaiveDate, NaiveDate)> = skip.iter().map(|m| (*m, month_end(*m))).collect();
    if let (Some(u), w) = (until, whole_until) {
        if w != Some(u) {
            let from = since.map_or(month_start(u), |s| s.max(month_start(u)));
            by_day.push((from, u));
        }
    }
    MonthReads { sums, skip, by_day }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn whole_months_from_sums_the_rest_by_day() {
        let none = BTreeSet::new();
        // Open window: every month from the sums.
        assert_eq!(plan(None, None, &none), MonthReads { sums: Some((None, None)), skip: none.clone(), by_day: vec![] });
        // Ends mid-December: Oct..Nov from sums, Dec 1..5 by day.
        let p = plan(Some(d("2026-10-01")), Some(d("2026-12-05")), &none);
        assert_eq!(p.sums, Some((Some(d("2026-10-01")), Some(d("2026-11-30")))));
        assert_eq!(p.by_day, vec![(d("2026-12-01"), d("2026-12-05"))]);
        // Ends on a month's last day: no day reads.
        assert_eq!(plan(Some(d("2026-10-01")), Some(d("2026-11-30")), &none).by_day, vec![]);
        // Within one month, cut short: no sums at all.
        let p = plan(Some(d("2026-12-01")), Some(d("2026-12-05")), &none);
        assert_eq!((p.sums, p.by_day), (None, vec![(d("2026-12-01"), d("2026-12-05"))]));
        // A since that is not a first day is taken as its month.
        assert_eq!(plan(Some(d("2026-10-17")), None, &none).sums, Some((Some(d("2026-10-01")), None)));
    }

    #[test]
    fn a_month_with_a_price_change_is_read_by_day() {
        let split: BTreeSet<NaiveDate> = [d("2026-11-01"), d("2025-09-01"), d("2027-01-01")].into();
        let p = plan(Some(d("2026-10-01")), Some(d("2026-12-31")), &split);
        assert_eq!(p.skip, [d("2026-11-01")].into(), "only months inside the window");
        assert_eq!(p.by_day, vec![(d("2026-11-01"), d("2026-11-30"))]);
        // February of a leap year ends on the 29th.
        assert_eq!(month_end(d("2028-02-10")), d("2028-02-29"));
    }
}
