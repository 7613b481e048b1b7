//! The offline rotation plan: for every instance's active key, when it is due (its age against
//! the policy, or its expiry if sooner), whether that is overdue, due soon or upcoming, a
//! suggested slot (the policy's preferred weekday and window), the suggested new key name, the
//! steps, and the blast radius. Pure: computed from the inventory and a `now`, no network.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::domain::{Instance, Key, KeyStatus};
use crate::model::keyfmt::KeyKind;
use crate::model::naming;

use super::policy::{PolicySet, RotationPolicy};

/// Where a key stands against its policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum DueStatus {
    /// Past its expiry date: the key no longer works and cannot be reactivated.
    Expired,
    /// Past its due date.
    Overdue,
    /// Inside the warning window.
    DueSoon,
    /// Not yet in the warning window.
    Upcoming,
}

impl DueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DueStatus::Expired => "expired",
            DueStatus::Overdue => "overdue",
            DueStatus::DueSoon => "due-soon",
            DueStatus::Upcoming => "upcoming",
        }
    }
}

/// Who and what a rotation touches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct BlastRadius {
    pub instance: String,
    /// `user@host:port`.
    pub host: String,
    pub agents: Vec<String>,
    pub injection: String,
    /// The gateway restarts to pick up the key (env-file injection); the others reload hot.
    pub gateway_restart: bool,
    pub environment: String,
    pub purpose: String,
}

/// One planned rotation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PlanItem {
    pub owner: String,
    pub instance: String,
    pub environment: String,
    pub key_name: String,
    pub key_hint: String,
    /// First 12 hex digits of the key's SHA-256 (stable id for calendar entries).
    pub key_fingerprint_short: String,
    pub key_created_at: DateTime<Utc>,
    pub key_age_days: i64,
    pub expires_at: Option<DateTime<Utc>>,
    pub policy: RotationPolicy,
    pub due_at: DateTime<Utc>,
    /// Why it is due then: `max-age`, `expiry`, or `exposed` (a team member who could read it left).
    pub due_reason: String,
    pub warn_from: DateTime<Utc>,
    pub status: DueStatus,
    /// Whole days until due (negative when overdue).
    pub days_left: i64,
    /// Suggested slot (UTC): the preferred weekday and window at or before the due date, else
    /// the next one from now.
    pub slot_start: DateTime<Utc>,
    pub slot_end: DateTime<Utc>,
    pub suggested_key_name: String,
    pub workspace_id: Option<String>,
    pub steps: Vec<String>,
    pub blast_radius: BlastRadius,
    /// A guided rotation of this instance is already under way.
    pub in_progress: bool,
}

/// An instance's next rotation as the desktop's Fleet shows it in its rotation column: the few
/// facts of a [`PlanItem`] that column shows and sorts by (the webview receives them in columns,
/// `api::fleet::FleetDue`); the whole plan (policy, steps, blast radius, slots) is the Rotation
/// screen's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DueBrief {
    pub instance: String,
    pub status: DueStatus,
    /// Whole days until due (negative when overdue).
    pub days_left: i64,
    pub due_at: DateTime<Utc>,
    /// `max-age`, `expiry` or `exposed`, as in [`PlanItem::due_reason`].
    pub due_reason: String,
    /// A guided rotation of this instance is already under way.
    pub in_progress: bool,
}

impl From<&PlanItem> for DueBrief {
    fn from(i: &PlanItem) -> Self {
        DueBrief { instance: i.instance.clone(), status: i.status, days_left: i.days_left, due_at: i.due_at, due_reason: i.due_reason.clone(), in_progress: i.in_progress }
    }
}

/// The plan for one owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OwnerPlan {
    pub owner: String,
    pub items: Vec<PlanItem>,
}

/// The fleet's rotation plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RotationPlan {
    pub generated_at: DateTime<Utc>,
    pub expired: u32,
    pub overdue: u32,
    pub due_soon: u32,
    pub upcoming: u32,
    /// Instances with no active key (nothing to rotate; they need a key first).
    pub without_key: Vec<String>,
    /// An Admin key is stored, so deactivation and archiving can be done for the user.
    pub admin_key_available: bool,
    pub owners: Vec<OwnerPlan>,
}

impl RotationPlan {
    pub fn items(&self) -> impl Iterator<Item = &PlanItem> {
        self.owners.iter().flat_map(|o| o.items.iter())
    }
}

/// `created + max_age`, or the expiry if that is sooner.
pub fn due_date(key: &Key, policy: &RotationPolicy) -> (DateTime<Utc>, &'static str) {
    let by_age = key.created_at + Duration::days(policy.max_age_days as i64);
    match key.expires_at {
        Some(e) if e < by_age => (e, "expiry"),
        _ => (by_age, "max-age"),
    }
}

pub fn due_status(now: DateTime<Utc>, key: &Key, due: DateTime<Utc>, policy: &RotationPolicy) -> DueStatus {
    if key.expires_at.is_some_and(|e| e <= now) {
        DueStatus::Expired
    } else if now >= due {
        DueStatus::Overdue
    } else if now >= due - Duration::days(policy.warn_days as i64) {
        DueStatus::DueSoon
    } else {
        DueStatus::Upcoming
    }
}

/// The slot to rotate in: the latest preferred day (weekday, window start) that is at or after
/// `now` and at or before `due`; if there is none (overdue, or no such day left), the first
/// preferred slot from `now` on.
pub fn suggest_slot(now: DateTime<Utc>, due: DateTime<Utc>, policy: &RotationPolicy) -> (DateTime<Utc>, DateTime<Utc>) {
    let (ws, we) = policy.window();
    let want = policy.weekday();
    let fits = |d: NaiveDate| want.is_none_or(|w| d.weekday() == w);
    let at = |d: NaiveDate| (d.and_time(ws).and_utc(), d.and_time(we).and_utc());
    // Backwards from the due date (bounded: at most 3650 days of policy).
    let mut d = due.date_naive();
    let first = now.date_naive();
    let mut steps = 0;
    while d >= first && steps < 4000 {
        let (s, e) = at(d);
        if fits(d) && s >= now && s <= due {
            return (s, e);
        }
        d -= Duration::days(1);
        steps += 1;
    }
    // Forwards from today: within 8 days there is always a matching weekday.
    let mut d = first;
    for _ in 0..9 {
        let (s, e) = at(d);
        if fits(d) && s >= now {
            return (s, e);
        }
        d += Duration::days(1);
    }
    let s = now;
    (s, s + (we - ws))
}

/// The new key's name: the naming scheme plus the slot's date, so it never equals the current
/// key's name; `-2`, `-3`… if that name is taken too.
pub fn suggested_key_name(instance: &Instance, on: NaiveDate, taken: &dyn Fn(&str) -> bool) -> String {
    let date = on.format("%Y%m%d").to_string();
    let mut base = naming::suggest_key_name(&instance.owner, &instance.environment, &instance.workload);
    // Stay within the 63-character slug limit; drop the workload before the owner.
    if base.len() + date.len() + 4 > 63 {
        base = naming::suggest_key_name(&instance.owner, &instance.environment, "");
    }
    if base.len() + date.len() + 4 > 63 {
        base = base.chars().take(63 - date.len() - 4).collect::<String>().trim_end_matches('-').to_string();
    }
    let first = format!("{base}-{date}");
    if !taken(&first) {
        return first;
    }
    (2..1000).map(|n| format!("{first}-{n}")).find(|n| !taken(n)).unwrap_or(first)
}

/// The guided steps, in words, for a plan or a wizard.
pub fn steps(instance: &Instance, old: &Key, new_name: &str, admin: bool) -> Vec<String> {
    let ws = instance.expected_workspace_id.clone().or_else(|| old.workspace_id.clone()).unwrap_or_else(|| "the workspace of the current key".into());
    let restart = if instance.injection == crate::model::domain::InjectionMethod::EnvFile { " (the gateway restarts)" } else { " (hot reload)" };
    vec![
        format!("Create an API key named '{new_name}' in the Anthropic Console, in workspace {ws}"),
        "Start the rotation in Clawkeep and paste it (checked offline, then with a free GET /v1/models probe and a workspace check; stored staged)".to_string(),
        format!("Deploy it to {}@{} for agents {}{restart}, and verify", instance.ssh_user, instance.ssh_host, instance.agents.join(", ")),
        if admin {
            format!("Set the old key {} inactive via the Admin API (reversible)", old.hint)
        } else {
            format!("Set the old key {} inactive in the Console (no Admin key stored), then confirm in Clawkeep", old.hint)
        },
        if admin {
            "Soak: wait until the usage report shows no traffic on the old key for the soak period (default 24h), then archive it (permanent) and mark it retired".into()
        } else {
            "Soak (default 24h), then archive the old key in the Console (permanent) and confirm; it is marked retired".into()
        },
        "Until the archive, a rollback reactivates and redeploys the old key".to_string(),
    ]
}

pub(crate) fn blast_radius(i: &Instance) -> BlastRadius {
    BlastRadius {
        instance: i.name.clone(),
        host: format!("{}@{}:{}", i.ssh_user, i.ssh_host, i.ssh_port),
        agents: i.agents.clone(),
        injection: i.injection.as_str().into(),
        gateway_restart: i.injection == crate::model::domain::InjectionMethod::EnvFile,
        environment: i.environment.clone(),
        purpose: i.purpose.as_str().into(),
    }
}

/// A file format for the offline plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// One row per key due, for spreadsheets.
    Csv,
    /// RFC 5545 calendar: one event per suggested rotation slot.
    Ics,
}

impl ExportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ics => "ics",
        }
    }

    /// The plan as a file of this format.
    pub fn render(self, plan: &RotationPlan) -> String {
        match self {
            ExportFormat::Csv => to_csv(plan),
            ExportFormat::Ics => to_ics(plan),
        }
    }
}

/// The fleet's rotation plan at `now`, grouped by owner, most urgent first within each owner:
/// every instance that is not a draft, with its active key (`keys`: every stored key) under its
/// effective policy; `open`: the instances with a rotation under way.
pub fn build(now: DateTime<Utc>, instances: Vec<Instance>, keys: &[Key], policies: &PolicySet, open: &HashSet<String>) -> RotationPlan {
    build_with_exposures(now, instances, keys, policies, open, &HashMap::new())
}

/// [`build`], where `exposed` names the keys a departed team member could decrypt (key name →
/// when they left): such a key is due since then whatever its age (`due_reason` `exposed`,
/// status overdue), and leads the plan: its owner first, and first within its owner.
pub fn build_with_exposures(
    now: DateTime<Utc>,
    instances: Vec<Instance>,
    keys: &[Key],
    policies: &PolicySet,
    open: &HashSet<String>,
    exposed: &HashMap<String, DateTime<Utc>>,
) -> RotationPlan {
    let names: HashSet<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    let admin = keys.iter().any(|k| k.kind == KeyKind::Admin && k.status == KeyStatus::Active);
    let mut items = Vec::new();
    let mut without_key = Vec::new();
    for i in instances {
        if i.draft {
            continue;
        }
        let Some(key) = keys.iter().find(|k| k.instance.as_deref() == Some(i.name.as_str()) && k.status == KeyStatus::Active) else {
            without_key.push(i.name.clone());
            continue;
        };
        let policy = policies.effective(&i.name, &i.owner);
        let (due, reason, status) = match exposed.get(&key.name) {
            // An exposed key that also expired stays `expired`: it no longer works anyway.
            Some(at) => (now.min(*at), "exposed", due_status(now, key, now, &policy).min(DueStatus::Overdue)),
            None => {
                let (due, reason) = due_date(key, &policy);
                (due, reason, due_status(now, key, due, &policy))
            }
        };
        let (slot_start, slot_end) = suggest_slot(now, due, &policy);
        let taken = |n: &str| names.contains(n);
        let new_name = suggested_key_name(&i, slot_start.date_naive(), &taken);
        let days_left = (due - now).num_seconds().div_euclid(86_400);
        items.push(PlanItem {
            owner: i.owner.clone(),
            instance: i.name.clone(),
            environment: i.environment.clone(),
            key_name: key.name.clone(),
            key_hint: key.hint.clone(),
            key_fingerprint_short: key.fingerprint.chars().take(12).collect(),
            key_created_at: key.created_at,
            key_age_days: (now - key.created_at).num_days(),
            expires_at: key.expires_at,
            warn_from: due - Duration::days(policy.warn_days as i64),
            policy,
            due_at: due,
            due_reason: reason.into(),
            status,
            days_left,
            slot_start,
            slot_end,
            steps: steps(&i, key, &new_name, admin),
            suggested_key_name: new_name,
            workspace_id: i.expected_workspace_id.clone().or_else(|| key.workspace_id.clone()),
            blast_radius: blast_radius(&i),
            in_progress: open.contains(&i.name),
        });
    }
    let is_exposed = |i: &PlanItem| i.due_reason == "exposed";
    let owners_exposed: HashSet<String> = items.iter().filter(|i| is_exposed(i)).map(|i| i.owner.clone()).collect();
    let sort_key = |i: &PlanItem| (!owners_exposed.contains(&i.owner), i.owner.clone(), !is_exposed(i), i.status, i.due_at, i.instance.clone());
    items.sort_by_key(sort_key);
    let count = |s: DueStatus| items.iter().filter(|i| i.status == s).count() as u32;
    let (expired, overdue, due_soon, upcoming) = (count(DueStatus::Expired), count(DueStatus::Overdue), count(DueStatus::DueSoon), count(DueStatus::Upcoming));
    let mut owners: Vec<OwnerPlan> = Vec::new();
    for it in items {
        match owners.last_mut() {
            Some(o) if o.owner == it.owner => o.items.push(it),
            _ => owners.push(OwnerPlan { owner: it.owner.clone(), items: vec![it] }),
        }
    }
    RotationPlan { generated_at: now, expired, overdue, due_soon, upcoming, without_key, admin_key_available: admin, owners }
}

// ---- CSV ------------------------------------------------------------------------------------

fn csv_field(s: &str) -> String {
    // Also neutralise spreadsheet formulas (a cell starting with = + - @).
    let s =
        if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.len() > 1 && !s[1..].starts_with(|c: char| c.is_ascii_digit())) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// RFC 4180 CSV (CRLF line ends), one row per planned rotation.
pub fn to_csv(plan: &RotationPlan) -> String {
    let mut out = String::from("owner,instance,environment,status,due_date,due_reason,days_left,slot_start,slot_end,current_key,current_hint,key_age_days,expires_at,new_key_name,workspace_id,host,agents,gateway_restart,in_progress\r\n");
    let d = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for i in plan.items() {
        let row = [
            i.owner.clone(),
            i.instance.clone(),
            i.environment.clone(),
            i.status.as_str().into(),
            d(&i.due_at),
            i.due_reason.clone(),
            i.days_left.to_string(),
            d(&i.slot_start),
            d(&i.slot_end),
            i.key_name.clone(),
            i.key_hint.clone(),
            i.key_age_days.to_string(),
            i.expires_at.as_ref().map(d).unwrap_or_default(),
            i.suggested_key_name.clone(),
            i.workspace_id.clone().unwrap_or_default(),
            i.blast_radius.host.clone(),
            i.blast_radius.agents.join(" "),
            i.blast_radius.gateway_restart.to_string(),
            i.in_progress.to_string(),
        ];
        out.push_str(&row.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

// ---- iCalendar (RFC 5545) -------------------------------------------------------------------

/// TEXT escaping (RFC 5545 §3.3.11): backslash, semicolon, comma, newline.
pub fn ics_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            ';' => o.push_str("\\;"),
            ',' => o.push_str("\\,"),
            '\n' => o.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// Folds a content line at 75 octets (RFC 5545 §3.1), never inside a UTF-8 sequence; CRLF.
pub fn ics_fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3 + 2);
    let mut used = 0usize;
    let mut limit = 75usize;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > limit {
            out.push_str("\r\n ");
            used = 0;
            limit = 74; // the leading space counts
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
    out
}

fn ics_time(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// An iCalendar file with one event per planned rotation, at its suggested slot. UIDs are
/// stable per instance and key, so re-importing a newer plan updates the events.
pub fn to_ics(plan: &RotationPlan) -> String {
    let mut lines: Vec<String> = vec![
        "BEGIN:VCALENDAR".into(),
        "VERSION:2.0".into(),
        "PRODID:-//Clawkeep//Rotation plan//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        "X-WR-CALNAME:Clawkeep key rotations".into(),
    ];
    for i in plan.items() {
        let summary = format!("[{}] Rotate Anthropic key of {} ({})", i.status.as_str(), i.instance, i.owner);
        let mut desc = format!(
            "Instance {} ({}, owner {}) on {}, agents {}.\nCurrent key {} ({}), {} days old, due {} ({}).\nNew key name: {}\n\nSteps:\n",
            i.instance,
            i.environment,
            i.owner,
            i.blast_radius.host,
            i.blast_radius.agents.join(", "),
            i.key_name,
            i.key_hint,
            i.key_age_days,
            i.due_at.format("%Y-%m-%d"),
            i.due_reason,
            i.suggested_key_name
        );
        for (n, s) in i.steps.iter().enumerate() {
            desc.push_str(&format!("{}. {s}\n", n + 1));
        }
        lines.extend([
            "BEGIN:VEVENT".into(),
            format!("UID:rotate-{}-{}@clawkeep", i.instance, i.key_fingerprint_short),
            format!("DTSTAMP:{}", ics_time(&plan.generated_at)),
            format!("DTSTART:{}", ics_time(&i.slot_start)),
            format!("DTEND:{}", ics_time(&i.slot_end)),
            format!("SUMMARY:{}", ics_escape(&summary)),
            format!("DESCRIPTION:{}", ics_escape(desc.trim_end())),
            format!("CATEGORIES:{}", ics_escape("Clawkeep,key rotation")),
            format!("X-CLAWKEEP-DUE:{}", ics_time(&i.due_at)),
            "TRANSP:TRANSPARENT".into(),
            "BEGIN:VALARM".into(),
            "ACTION:DISPLAY".into(),
            "TRIGGER:-PT30M".into(),
            format!("DESCRIPTION:{}", ics_escape(&summary)),
            "END:VALARM".into(),
            "END:VEVENT".into(),
        ]);
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|l| ics_fold(l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_respects_octets_and_utf8() {
        let line = format!("DESCRIPTION:{}", "é".repeat(100));
        let folded = ics_fold(&line);
        for l in folded.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = folded.replace("\r\n ", "");
        assert_eq!(unfolded.trim_end(), line);
    }

    #[test]
    fn escaping() {
        assert_eq!(ics_escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-5"), "-5");
    }

    fn fleet(now: DateTime<Utc>) -> (Vec<Instance>, Vec<Key>) {
        use crate::model::domain::{InjectionMethod, Purpose, ServiceManager};
        let inst = |name: &str, owner: &str| Instance {
            id: 0,
            name: name.into(),
            owner: owner.into(),
            environment: "prod".into(),
            workload: String::new(),
            purpose: Purpose::Client,
            ssh_host: "127.0.1.1".into(),
            ssh_port: 22,
            ssh_user: "u".into(),
            jump_via: None,
            host_key_fingerprint: None,
            state_dir: "~/.openclaw".into(),
            service_manager: ServiceManager::default(),
            injection: InjectionMethod::EnvFile,
            agents: vec!["main".into()],
            expected_org_id: None,
            expected_workspace_id: None,
            tags: vec![],
            notes: String::new(),
            draft: false,
            created_at: now,
            updated_at: now,
        };
        let key = |name: &str, instance: &str, age_days: i64| Key {
            id: 0,
            name: name.into(),
            kind: KeyKind::Api,
            hint: "h".into(),
            fingerprint: format!("{name:0>64}"),
            length: 108,
            keychain_ref: format!("kc-{name}"),
            instance: Some(instance.into()),
            workspace_id: None,
            anthropic_key_id: None,
            status: KeyStatus::Active,
            name_override: false,
            created_at: now - Duration::days(age_days),
            expires_at: None,
            rotated_at: None,
            retired_at: None,
            updated_at: now,
        };
        (
            vec![inst("acme-prod", "acme"), inst("acme-dev", "acme"), inst("zeta-prod", "zeta")],
            vec![key("ka", "acme-prod", 400), key("kd", "acme-dev", 10), key("kz", "zeta-prod", 5)],
        )
    }

    #[test]
    fn exposed_keys_lead_the_plan_due_now_whatever_their_age() {
        let now: DateTime<Utc> = "2026-12-05T09:00:00Z".parse().unwrap();
        let (instances, keys) = fleet(now);
        let policies = PolicySet::new(vec![]);
        let plain = build(now, instances.clone(), &keys, &policies, &HashSet::new());
        let order: Vec<&str> = plain.items().map(|i| i.key_name.as_str()).collect();
        assert_eq!(order, ["ka", "kd", "kz"], "by owner, most urgent first");
        assert!(plain.items().all(|i| i.due_reason != "exposed"));

        let left = now - Duration::hours(1);
        let exposed: HashMap<String, DateTime<Utc>> = [("kz".to_string(), left)].into();
        let p = build_with_exposures(now, instances, &keys, &policies, &HashSet::new(), &exposed);
        let first = p.items().next().unwrap();
        assert_eq!((first.key_name.as_str(), first.due_reason.as_str(), first.status), ("kz", "exposed", DueStatus::Overdue));
        assert_eq!(first.due_at, left, "due since the member left");
        assert_eq!(p.owners[0].owner, "zeta", "the owner with an exposed key comes first");
        assert_eq!(p.items().filter(|i| i.due_reason == "exposed").count(), 1, "exactly the exposed keys");
        assert_eq!(p.overdue, 2, "the 400-day-old key is overdue too, the exposed one counted once");
    }
}
