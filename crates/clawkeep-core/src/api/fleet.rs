//! The desktop Fleet's data in columns ([`FleetColumns`], and each instance's next rotation in
//! [`FleetDue`]): one array per column, the repeated strings (owner, environment, workload, SSH
//! user, tags, rotation status and reason) as indexes into one dictionary per reply, so 10,000
//! instances cost the webview a few arrays instead of 20,000 objects (and far less JSON to parse).

use std::collections::HashMap;

use serde::Serialize;

use crate::error::Result;
use crate::model::domain::{FleetRow, InstanceFilter};
use crate::rotation::{DueBrief, DueStatus};
use crate::Clawkeep;

/// The Fleet table's data in columns: instance `i` is the `i`-th entry of every per-instance
/// array, instances in name order. The fields marked *dictionary* hold indexes into
/// [`FleetColumns::dict`], whose entry 0 is always `""` (no owner, no workload…). Only public
/// facts: the active key's name and hint, never a secret. The rotation column's data comes
/// apart ([`FleetDue`]): planning 10,000 rotations takes longer than listing them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetColumns {
    /// The reply's distinct repeated strings; entry 0 is `""`.
    pub dict: Vec<String>,
    pub id: Vec<i64>,
    pub name: PackedStrings,
    /// Dictionary.
    pub owner: Vec<u32>,
    /// Dictionary.
    pub environment: Vec<u32>,
    /// Dictionary.
    pub workload: Vec<u32>,
    /// Dictionary.
    pub ssh_user: Vec<u32>,
    pub ssh_host: PackedStrings,
    pub ssh_port: Vec<u16>,
    /// Every instance's tags one after the other (dictionary); instance `i`'s are
    /// `tags[tag_end[i - 1]..tag_end[i]]` (from 0 for the first).
    pub tags: Vec<u32>,
    pub tag_end: Vec<u32>,
    /// 1 for a draft (imported, owner or environment missing), else 0.
    pub draft: Vec<u8>,
    /// The active key's name and hint; empty without an active key.
    pub key_name: PackedStrings,
    pub key_hint: PackedStrings,
    /// The active key's age in whole days (0 without an active key).
    pub key_age_days: Vec<i64>,
}

/// One string per instance, all in one: instance `i`'s is `text[end[i - 1]..end[i]]` (from 0
/// for the first), offsets in UTF-16 code units as JavaScript indexes strings. The webview
/// holds one string and an array of offsets instead of 10,000 strings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PackedStrings {
    pub text: String,
    pub end: Vec<u32>,
}

impl PackedStrings {
    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        let units = s.encode_utf16().count() as u32;
        self.end.push(self.end.last().copied().unwrap_or(0) + units);
    }

    /// Entry `i` (the tests' reading; the webview slices `text` itself).
    #[cfg(test)]
    fn get(&self, i: usize) -> String {
        let from = if i == 0 { 0 } else { self.end[i - 1] as usize };
        let units: Vec<u16> = self.text.encode_utf16().collect();
        String::from_utf16_lossy(&units[from..self.end[i] as usize])
    }
}

/// The Fleet's rotation column in columns: each instance's next rotation ([`DueBrief`]), entry
/// `i` for the instance whose id is `id[i]`, in name order like [`FleetColumns`]. The fields
/// marked *dictionary* hold indexes into [`FleetDue::dict`], whose entry 0 is `""`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetDue {
    /// The reply's distinct strings; entry 0 is `""`.
    pub dict: Vec<String>,
    pub id: Vec<i64>,
    /// The [`DueStatus`] as its kebab-case name (dictionary; `""` when no rotation is planned,
    /// as without an active key).
    pub status: Vec<u32>,
    /// Whole days until due, negative when overdue (0 when none is planned).
    pub days_left: Vec<i64>,
    /// When it is due, in seconds since the Unix epoch (0 when none is planned).
    pub due_at: Vec<i64>,
    /// Why: `max-age`, `expiry` or `exposed` (dictionary).
    pub due_reason: Vec<u32>,
    /// 1 when a guided rotation of the instance is already under way, else 0.
    pub in_progress: Vec<u8>,
}

/// Interns strings into the reply's dictionary.
struct Dict<'a> {
    entries: Vec<String>,
    index: HashMap<&'a str, u32>,
}

impl<'a> Dict<'a> {
    fn new() -> Self {
        Dict { entries: vec![String::new()], index: HashMap::from([("", 0)]) }
    }
    fn intern(&mut self, s: &'a str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.entries.len() as u32;
        self.entries.push(s.to_owned());
        self.index.insert(s, i);
        i
    }
}

fn status_name(s: DueStatus) -> &'static str {
    match s {
        DueStatus::Expired => "expired",
        DueStatus::Overdue => "overdue",
        DueStatus::DueSoon => "due-soon",
        DueStatus::Upcoming => "upcoming",
    }
}

impl FleetColumns {
    /// The columns of `rows`, kept in their order.
    pub fn build(rows: &[FleetRow]) -> FleetColumns {
        let n = rows.len();
        let mut dict = Dict::new();
        let mut c = FleetColumns {
            dict: Vec::new(),
            id: Vec::with_capacity(n),
            name: PackedStrings::default(),
            owner: Vec::with_capacity(n),
            environment: Vec::with_capacity(n),
            workload: Vec::with_capacity(n),
            ssh_user: Vec::with_capacity(n),
            ssh_host: PackedStrings::default(),
            ssh_port: Vec::with_capacity(n),
            tags: Vec::new(),
            tag_end: Vec::with_capacity(n),
            draft: Vec::with_capacity(n),
            key_name: PackedStrings::default(),
            key_hint: PackedStrings::default(),
            key_age_days: Vec::with_capacity(n),
        };
        for r in rows {
            c.id.push(r.id);
            c.name.push(&r.name);
            c.owner.push(dict.intern(&r.owner));
            c.environment.push(dict.intern(&r.environment));
            c.workload.push(dict.intern(&r.workload));
            c.ssh_user.push(dict.intern(&r.ssh_user));
            c.ssh_host.push(&r.ssh_host);
            c.ssh_port.push(r.ssh_port);
            c.tags.extend(r.tags.iter().map(|t| dict.intern(t)));
            c.tag_end.push(c.tags.len() as u32);
            c.key_name.push(r.key_name.as_deref().unwrap_or_default());
            c.key_hint.push(r.key_hint.as_deref().unwrap_or_default());
            c.key_age_days.push(r.key_age_days.unwrap_or(0));
            c.draft.push(u8::from(r.draft));
        }
        c.dict = dict.entries;
        c
    }
}

impl FleetDue {
    /// The next rotation from `due` (matched by instance name) of each of `rows`, in their
    /// order; an instance absent from `due` has none planned.
    pub fn build(rows: &[FleetRow], due: &[DueBrief]) -> FleetDue {
        let n = rows.len();
        let by_name: HashMap<&str, &DueBrief> = due.iter().map(|d| (d.instance.as_str(), d)).collect();
        let mut dict = Dict::new();
        let mut c = FleetDue {
            dict: Vec::new(),
            id: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            days_left: Vec::with_capacity(n),
            due_at: Vec::with_capacity(n),
            due_reason: Vec::with_capacity(n),
            in_progress: Vec::with_capacity(n),
        };
        for r in rows {
            let d = by_name.get(r.name.as_str());
            c.id.push(r.id);
            c.status.push(d.map_or(0, |d| dict.intern(status_name(d.status))));
            c.days_left.push(d.map_or(0, |d| d.days_left));
            c.due_at.push(d.map_or(0, |d| d.due_at.timestamp()));
            c.due_reason.push(d.map_or(0, |d| dict.intern(&d.due_reason)));
            c.in_progress.push(u8::from(d.is_some_and(|d| d.in_progress)));
        }
        c.dict = dict.entries;
        c
    }
}

impl Clawkeep {
    /// The desktop Fleet's data: [`Clawkeep::fleet_rows`] matching `filter`, in columns.
    pub fn fleet_columns(&self, filter: &InstanceFilter) -> Result<FleetColumns> {
        Ok(FleetColumns::build(&self.fleet_rows(filter)?))
    }

    /// The desktop Fleet's rotation column: each instance matching `filter` (in the order of
    /// [`Clawkeep::fleet_columns`]) with its next rotation ([`Clawkeep::rotation_due`]).
    pub fn fleet_due(&self, filter: &InstanceFilter) -> Result<FleetDue> {
        let rows = self.fleet_rows(filter)?;
        Ok(FleetDue::build(&rows, &self.rotation_due(None)?))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn row(id: i64, name: &str, owner: &str, tags: &[&str], key: bool) -> FleetRow {
        FleetRow {
            id,
            name: name.into(),
            owner: owner.into(),
            environment: "prod".into(),
            workload: String::new(),
            ssh_user: "openclaw".into(),
            ssh_host: format!("{name}.example"),
            ssh_port: 22,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            draft: id == 2,
            key_name: key.then(|| format!("{name}-key")),
            key_hint: key.then(|| "sk-ant-…AAAA".into()),
            key_age_days: key.then_some(40),
        }
    }

    #[test]
    fn columns_share_one_dictionary_and_keep_the_rows_order() {
        let rows = [row(1, "a", "acme", &["x", "y"], true), row(2, "b", "", &[], false), row(3, "c", "acme", &["y"], true)];
        let due = [DueBrief {
            instance: "c".into(),
            status: DueStatus::DueSoon,
            days_left: -3,
            due_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            due_reason: "max-age".into(),
            in_progress: true,
        }];
        let c = FleetColumns::build(&rows);
        let s = |i: &[u32]| i.iter().map(|&i| c.dict[i as usize].as_str()).collect::<Vec<_>>();
        assert_eq!(c.dict[0], "");
        assert_eq!(c.name, PackedStrings { text: "abc".into(), end: vec![1, 2, 3] });
        assert_eq!(c.id, [1, 2, 3]);
        assert_eq!(s(&c.owner), ["acme", "", "acme"]);
        assert_eq!(c.owner[0], c.owner[2], "a repeated string is stored once");
        assert_eq!(s(&c.environment), ["prod"; 3]);
        assert_eq!(s(&c.workload), [""; 3]);
        assert_eq!(s(&c.tags), ["x", "y", "y"]);
        assert_eq!(c.tag_end, [2, 2, 3]);
        assert_eq!(c.draft, [0, 1, 0]);
        assert_eq!((0..3).map(|i| c.key_hint.get(i)).collect::<Vec<_>>(), ["sk-ant-…AAAA", "", "sk-ant-…AAAA"]);
        assert_eq!(c.key_hint.end, [12, 12, 24], "offsets in UTF-16 units");
        assert_eq!(c.ssh_host.get(2), "c.example");
        assert_eq!(c.key_age_days, [40, 0, 40]);
        let dup: std::collections::HashSet<_> = c.dict.iter().collect();
        assert_eq!(dup.len(), c.dict.len(), "dictionary entries are distinct");

        let d = FleetDue::build(&rows, &due);
        let s = |i: &[u32]| i.iter().map(|&i| d.dict[i as usize].as_str()).collect::<Vec<_>>();
        assert_eq!(d.id, [1, 2, 3]);
        assert_eq!(s(&d.status), ["", "", "due-soon"]);
        assert_eq!(s(&d.due_reason), ["", "", "max-age"]);
        assert_eq!(d.days_left, [0, 0, -3]);
        assert_eq!(d.due_at, [0, 0, 1_796_083_200]);
        assert_eq!(d.in_progress, [0, 0, 1]);
    }

    #[test]
    fn packed_strings_count_utf16_units() {
        let mut p = PackedStrings::default();
        for s in ["é", "", "𝄞x", "plain"] {
            p.push(s);
        }
        assert_eq!(p.end, [1, 1, 4, 9]);
        assert_eq!((0..4).map(|i| p.get(i)).collect::<Vec<_>>(), ["é", "", "𝄞x", "plain"]);
    }

    #[test]
    fn due_status_names_match_their_serde_names() {
        for s in [DueStatus::Expired, DueStatus::Overdue, DueStatus::DueSoon, DueStatus::Upcoming] {
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(status_name(s)));
        }
    }

    #[test]
    fn no_rows_no_columns() {
        let c = FleetColumns::build(&[]);
        assert_eq!(c.dict, [""]);
        assert!(c.name.text.is_empty() && c.name.end.is_empty() && c.tag_end.is_empty());
        let d = FleetDue::build(&[], &[]);
        assert!(d.id.is_empty() && d.due_at.is_empty());
    }
}
