//! Rotation policies: how old a key may get (`max_age_days`), how early to warn (`warn_days`),
//! and when rotating is convenient (a preferred weekday and a UTC time window). A policy is set
//! for the whole fleet (`default`), an owner, or one instance; the most specific one applies,
//! and without any stored policy the built-in default is 90 days, warn 14 days before.

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const DEFAULT_MAX_AGE_DAYS: u32 = 90;
pub const DEFAULT_WARN_DAYS: u32 = 14;

/// What a policy applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum PolicyScope {
    /// Every instance without a more specific policy.
    Default,
    /// Every instance of this owner without an instance policy.
    Owner { owner: String },
    /// One instance.
    Instance { instance: String },
}

impl PolicyScope {
    pub fn describe(&self) -> String {
        match self {
            PolicyScope::Default => "default".into(),
            PolicyScope::Owner { owner } => format!("owner {owner}"),
            PolicyScope::Instance { instance } => format!("instance {instance}"),
        }
    }
}

/// A rotation policy. Times are UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RotationPolicy {
    pub scope: PolicyScope,
    /// Rotate a key at the latest this many days after it was created.
    pub max_age_days: u32,
    /// Start warning this many days before the due date.
    pub warn_days: u32,
    /// Preferred weekday, `mon`…`sun`.
    pub weekday: Option<String>,
    /// Preferred window, `HH:MM` UTC.
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// `None` for the built-in default.
    pub updated_at: Option<DateTime<Utc>>,
}

impl RotationPolicy {
    /// The built-in default: 90 days, warn 14 days before, any weekday, 09:00–10:00 UTC.
    pub fn builtin() -> Self {
        RotationPolicy {
            scope: PolicyScope::Default,
            max_age_days: DEFAULT_MAX_AGE_DAYS,
            warn_days: DEFAULT_WARN_DAYS,
            weekday: None,
            window_start: None,
            window_end: None,
            updated_at: None,
        }
    }

    pub fn weekday(&self) -> Option<Weekday> {
        self.weekday.as_deref().and_then(parse_weekday)
    }

    /// The preferred window (default 09:00–10:00 UTC).
    pub fn window(&self) -> (NaiveTime, NaiveTime) {
        let start = self.window_start.as_deref().and_then(parse_hm).unwrap_or(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default());
        let end = self.window_end.as_deref().and_then(parse_hm).unwrap_or(start + chrono::Duration::hours(1));
        (start, end)
    }
}

/// What a user sets. `None` fields keep the current (or built-in) value.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct PolicySpec {
    pub max_age_days: Option<u32>,
    pub warn_days: Option<u32>,
    /// `mon`…`sun` (or the full name); empty clears it.
    pub weekday: Option<String>,
    /// `HH:MM-HH:MM` (UTC); empty clears it.
    pub window: Option<String>,
}

pub fn parse_weekday(s: &str) -> Option<Weekday> {
    match s.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Some(Weekday::Mon),
        "tue" => Some(Weekday::Tue),
        "wed" => Some(Weekday::Wed),
        "thu" => Some(Weekday::Thu),
        "fri" => Some(Weekday::Fri),
        "sat" => Some(Weekday::Sat),
        "sun" => Some(Weekday::Sun),
        _ => None,
    }
}

fn weekday_str(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn parse_hm(s: &str) -> Option<NaiveTime> {
    let s = s.trim();
    if s.len() != 5 {
        return None;
    }
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// `09:00-12:00` → (start, end), both `HH:MM`, start before end.
pub fn parse_window(s: &str) -> Result<(String, String)> {
    let bad = || Error::invalid("window", format!("'{}' is not a time window: use HH:MM-HH:MM in UTC, e.g. 09:00-12:00", s.escape_debug()));
    let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
    let (sa, sb) = (parse_hm(a).ok_or_else(bad)?, parse_hm(b).ok_or_else(bad)?);
    if sa >= sb {
        return Err(Error::invalid("window", format!("'{s}' ends before it starts (windows do not cross midnight)")));
    }
    Ok((sa.format("%H:%M").to_string(), sb.format("%H:%M").to_string()))
}

/// `90d`, `12w`, `90` → days.
pub fn parse_days(field: &'static str, s: &str) -> Result<u32> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix('w') {
        (n, 7)
    } else if let Some(n) = t.strip_suffix('d') {
        (n, 1)
    } else {
        (t.as_str(), 1)
    };
    let n: u32 = num.parse().map_err(|_| Error::invalid(field, format!("'{s}' is not a number of days: use e.g. 90d or 12w")))?;
    n.checked_mul(mult).ok_or_else(|| Error::invalid(field, format!("'{s}' is too large")))
}

/// The policies in force, for resolving many instances at once.
#[derive(Debug, Clone)]
pub struct PolicySet {
    policies: Vec<RotationPolicy>,
}

impl PolicySet {
    pub fn new(policies: Vec<RotationPolicy>) -> Self {
        PolicySet { policies }
    }

    /// Every policy that can apply, for a table: the default first (the stored one, else the
    /// built-in one, whose `updated_at` is `None`), then the owner and instance policies in
    /// their stored order.
    pub fn table(&self) -> Vec<RotationPolicy> {
        let default = self.policies.iter().find(|p| p.scope == PolicyScope::Default).cloned().unwrap_or_else(RotationPolicy::builtin);
        std::iter::once(default).chain(self.policies.iter().filter(|p| p.scope != PolicyScope::Default).cloned()).collect()
    }

    /// Instance policy, else owner policy, else the stored default, else the built-in one.
    pub fn effective(&self, instance: &str, owner: &str) -> RotationPolicy {
        let find = |want: &PolicyScope| self.policies.iter().find(|p| &p.scope == want).cloned();
        find(&PolicyScope::Instance { instance: instance.into() })
            .or_else(|| find(&PolicyScope::Owner { owner: owner.into() }))
            .or_else(|| find(&PolicyScope::Default))
            .unwrap_or_else(RotationPolicy::builtin)
    }
}

/// The policy of `scope` once `spec` is applied to the stored one (`before`, else the built-in
/// values), checked (age 1 to 3650 days, a warning that starts after the key is created);
/// `updated_at` is `now`.
pub(crate) fn apply_spec(scope: &PolicyScope, before: Option<RotationPolicy>, spec: PolicySpec, now: DateTime<Utc>) -> Result<RotationPolicy> {
    let mut p = before.unwrap_or_else(|| RotationPolicy { scope: scope.clone(), ..RotationPolicy::builtin() });
    if let Some(d) = spec.max_age_days {
        p.max_age_days = d;
    }
    if let Some(d) = spec.warn_days {
        p.warn_days = d;
    }
    if let Some(w) = spec.weekday {
        p.weekday = if w.trim().is_empty() {
            None
        } else {
            let d = parse_weekday(&w).ok_or_else(|| Error::invalid("weekday", format!("'{}' is not a weekday: use mon, tue, wed, thu, fri, sat or sun", w.escape_debug())))?;
            Some(weekday_str(d).into())
        };
    }
    if let Some(w) = spec.window {
        (p.window_start, p.window_end) = if w.trim().is_empty() {
            (None, None)
        } else {
            let (a, b) = parse_window(&w)?;
            (Some(a), Some(b))
        };
    }
    if !(1..=3650).contains(&p.max_age_days) {
        return Err(Error::invalid("max age", format!("{} days is out of range: 1 to 3650 days", p.max_age_days)));
    }
    if p.warn_days >= p.max_age_days {
        return Err(Error::invalid(
            "warn",
            format!("warning {} days before a {}-day maximum age would warn from the day the key is created; use fewer days", p.warn_days, p.max_age_days),
        ));
    }
    p.updated_at = Some(now);
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table_lists_the_built_in_default_until_one_is_stored_and_always_first() {
        let owner = RotationPolicy { scope: PolicyScope::Owner { owner: "acme".into() }, max_age_days: 30, ..RotationPolicy::builtin() };
        assert_eq!(PolicySet::new(vec![]).table(), vec![RotationPolicy::builtin()]);
        let t = PolicySet::new(vec![owner.clone()]).table();
        assert_eq!(t, vec![RotationPolicy::builtin(), owner.clone()]);
        assert_eq!(t[0].updated_at, None, "the built-in one says so");
        let stored = RotationPolicy { max_age_days: 60, updated_at: Some(chrono::DateTime::from_timestamp(0, 0).unwrap_or_default()), ..RotationPolicy::builtin() };
        assert_eq!(PolicySet::new(vec![owner.clone(), stored.clone()]).table(), vec![stored, owner]);
    }

    #[test]
    fn parsing() {
        assert_eq!(parse_days("max age", "90d").unwrap(), 90);
        assert_eq!(parse_days("max age", "12w").unwrap(), 84);
        assert_eq!(parse_days("max age", "30").unwrap(), 30);
        assert!(parse_days("max age", "3 months").is_err());
        assert_eq!(parse_window("09:00-12:00").unwrap(), ("09:00".into(), "12:00".into()));
        assert!(parse_window("12:00-09:00").is_err());
        assert!(parse_window("9-12").is_err());
        assert_eq!(parse_weekday("Tuesday"), Some(Weekday::Tue));
        assert_eq!(parse_weekday("x"), None);
    }

    #[test]
    fn a_spec_changes_only_what_it_names_and_is_checked() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let owner = PolicyScope::Owner { owner: "acme".into() };
        // Nothing stored: the built-in values, for this scope.
        let p = apply_spec(&owner, None, PolicySpec { weekday: Some("Tuesday".into()), window: Some("09:00-12:00".into()), ..Default::default() }, now).unwrap();
        assert_eq!((p.scope.clone(), p.max_age_days, p.warn_days), (owner.clone(), DEFAULT_MAX_AGE_DAYS, DEFAULT_WARN_DAYS));
        assert_eq!((p.weekday.as_deref(), p.window_start.as_deref(), p.window_end.as_deref()), (Some("tue"), Some("09:00"), Some("12:00")));
        assert_eq!(p.updated_at, Some(now));
        // Empty clears; unnamed fields keep the stored value.
        let q = apply_spec(&owner, Some(p.clone()), PolicySpec { max_age_days: Some(30), weekday: Some(" ".into()), ..Default::default() }, now).unwrap();
        assert_eq!((q.max_age_days, q.warn_days, q.weekday.clone(), q.window_start.as_deref()), (30, DEFAULT_WARN_DAYS, None, Some("09:00")));
        let q = apply_spec(&owner, Some(q), PolicySpec { window: Some(String::new()), ..Default::default() }, now).unwrap();
        assert_eq!((q.window_start, q.window_end), (None, None));
        // Out of range, a warning as long as the age, bad weekday or window: refused.
        for spec in [
            PolicySpec { max_age_days: Some(0), ..Default::default() },
            PolicySpec { max_age_days: Some(3651), ..Default::default() },
            PolicySpec { max_age_days: Some(14), ..Default::default() },
            PolicySpec { weekday: Some("someday".into()), ..Default::default() },
            PolicySpec { window: Some("12:00-09:00".into()), ..Default::default() },
        ] {
            assert_eq!(apply_spec(&owner, Some(p.clone()), spec, now).unwrap_err().code(), "invalid_input");
        }
    }
}
