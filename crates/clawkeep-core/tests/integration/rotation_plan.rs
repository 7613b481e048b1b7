//! The offline rotation plan against a seeded inventory with fixed dates (injectable clock):
//! policies, the exact due list, CSV, and an `.ics` that a real iCalendar parser reads.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use clawkeep_core::rotation::{plan, DueStatus, PolicyScope, PolicySpec};
use clawkeep_core::*;

use clawkeep_core::model::naming;
use clawkeep_core::testkeys::random_api_key as fake_key;

/// Wednesday 2026-11-25 12:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
}

struct World {
    _dir: tempfile::TempDir,
    ck: Clawkeep,
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let now = Arc::new(Mutex::new(t0()));
        let n2 = now.clone();
        let ck = Clawkeep::open(OpenOptions {
            data_dir: Some(dir.path().to_path_buf()),
            keychain: Some(Arc::new(MemoryKeychain::new())),
            clock: Some(Arc::new(move || *n2.lock().unwrap())),
            os_user: Some("tester".into()),
        })
        .unwrap();
        World { _dir: dir, ck, now }
    }

    fn at(&self, t: DateTime<Utc>) {
        *self.now.lock().unwrap() = t;
    }

    fn instance(&self, name: &str, owner: &str, env: &str) {
        self.ck
            .add_instance(InstanceSpec {
                name: name.into(),
                owner: owner.into(),
                environment: env.into(),
                workload: "support-bot".into(),
                ssh_host: "127.0.1.1".into(),
                ssh_user: "ckh1".into(),
                agents: vec!["main".into(), "triage".into()],
                ..Default::default()
            })
            .unwrap();
    }

    /// A key for `instance` created `age_days` before t0.
    fn key(&self, instance: &str, name: &str, age_days: i64, expires: Option<DateTime<Utc>>) {
        self.at(t0() - Duration::days(age_days));
        self.ck.add_key(KeySpec { name: name.into(), instance: Some(instance.into()), expires_at: expires, ..Default::default() }, Secret::new(fake_key())).unwrap();
        self.at(t0());
    }
}

fn seeded() -> World {
    let w = World::new();
    w.instance("acme-prod-1", "acme", "prod");
    w.instance("acme-staging", "acme", "staging");
    w.instance("acme-dev", "acme", "dev");
    w.instance("globex-prod", "globex", "prod");
    w.instance("globex-exp", "globex", "staging");
    w.instance("initech-prod", "initech", "prod");
    w.instance("hooli-prod", "hooli", "prod");
    w.key("acme-prod-1", "openclaw-acme-prod-support-bot", 100, None);
    w.key("acme-staging", "openclaw-acme-staging-support-bot", 80, None);
    w.key("acme-dev", "openclaw-acme-dev-support-bot", 10, None);
    w.key("globex-prod", "openclaw-globex-prod-support-bot", 20, None);
    w.key("globex-exp", "openclaw-globex-staging-support-bot", 5, Some(t0() - Duration::days(1)));
    w.key("initech-prod", "openclaw-initech-prod-support-bot", 100, Some(t0() + Duration::days(5)));
    // globex: 30 days, warn 7, Tuesdays 09:00–12:00; initech-prod: 200 days (expiry wins).
    w.ck.set_rotation_policy(
        PolicyScope::Owner { owner: "globex".into() },
        PolicySpec { max_age_days: Some(30), warn_days: Some(7), weekday: Some("tue".into()), window: Some("09:00-12:00".into()) },
    )
    .unwrap();
    w.ck.set_rotation_policy(PolicyScope::Instance { instance: "initech-prod".into() }, PolicySpec { max_age_days: Some(200), ..Default::default() }).unwrap();
    w
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn exact_due_list() {
    let w = seeded();
    let p = w.ck.rotation_plan(None).unwrap();
    assert_eq!(p.generated_at, t0());
    assert_eq!((p.expired, p.overdue, p.due_soon, p.upcoming), (1, 1, 2, 2));
    assert_eq!(p.without_key, vec!["hooli-prod".to_string()]);
    assert_eq!(p.owners.iter().map(|o| o.owner.as_str()).collect::<Vec<_>>(), ["acme", "globex", "initech"]);
    type Row = (String, DueStatus, DateTime<Utc>, String, i64, DateTime<Utc>, String);
    let got: Vec<Row> = p.items().map(|i| (i.instance.clone(), i.status, i.due_at, i.due_reason.clone(), i.days_left, i.slot_start, i.suggested_key_name.clone())).collect();
    let want = vec![
        // 100 days old, 90-day default: 10 days overdue; next default slot is tomorrow 09:00.
        ("acme-prod-1", DueStatus::Overdue, "2026-11-15T12:00:00Z", "max-age", -10, "2026-11-26T09:00:00Z", "openclaw-acme-prod-support-bot-20261126"),
        // 80 days old: due in 10 days, inside the 14-day warning; slot on the due day.
        ("acme-staging", DueStatus::DueSoon, "2026-12-05T12:00:00Z", "max-age", 10, "2026-12-05T09:00:00Z", "openclaw-acme-staging-support-bot-20261205"),
        ("acme-dev", DueStatus::Upcoming, "2027-02-13T12:00:00Z", "max-age", 80, "2027-02-13T09:00:00Z", "openclaw-acme-dev-support-bot-20270213"),
        // Expired yesterday: first in its owner's list; next Tuesday window.
        ("globex-exp", DueStatus::Expired, "2026-11-24T12:00:00Z", "expiry", -1, "2026-12-01T09:00:00Z", "openclaw-globex-staging-support-bot-20261201"),
        // 20 days old under globex's 30-day policy (warn 7): upcoming; the last Tuesday before
        // the due Saturday.
        ("globex-prod", DueStatus::Upcoming, "2026-12-05T12:00:00Z", "max-age", 10, "2026-12-01T09:00:00Z", "openclaw-globex-prod-support-bot-20261201"),
        // The instance policy allows 200 days, but the key expires in 5.
        ("initech-prod", DueStatus::DueSoon, "2026-11-30T12:00:00Z", "expiry", 5, "2026-11-30T09:00:00Z", "openclaw-initech-prod-support-bot-20261130"),
    ];
    let want: Vec<_> = want.into_iter().map(|(a, b, c, d, e, f, g)| (a.to_string(), b, utc(c), d.to_string(), e, utc(f), g.to_string())).collect();
    assert_eq!(got, want);

    let item = p.items().find(|i| i.instance == "globex-prod").unwrap();
    assert_eq!(item.slot_end, utc("2026-12-01T12:00:00Z"));
    assert_eq!(item.policy.scope, PolicyScope::Owner { owner: "globex".into() });
    assert_eq!(item.blast_radius.agents, vec!["main", "triage"]);
    assert_eq!(item.blast_radius.host, "ckh1@127.0.1.1:22");
    assert!(item.blast_radius.gateway_restart);
    assert_eq!(item.steps.len(), 6);
    assert!(item.steps[0].contains("openclaw-globex-prod-support-bot-20261201"), "{}", item.steps[0]);
    assert!(item.steps[3].contains("in the Console"), "no admin key: manual deactivation: {}", item.steps[3]);
    // Every suggested name differs from the current one and passes the naming scheme.
    for i in p.items() {
        assert_ne!(i.suggested_key_name, i.key_name);
        let inst = w.ck.instance(&i.instance).unwrap();
        naming::check_key_name(&i.suggested_key_name, &naming::NameContext { owner: Some(&inst.owner), environment: Some(&inst.environment), workload: Some(&inst.workload) })
            .unwrap();
    }
}

#[test]
fn plan_at_another_now_and_taken_names() {
    let w = seeded();
    // 70 days later acme-dev is due soon; its suggested name is taken, so it gets "-2".
    w.ck.add_key(KeySpec { name: "openclaw-acme-dev-support-bot-20270213".into(), ..Default::default() }, Secret::new(fake_key())).unwrap();
    let later = w.ck.rotation_plan(Some(t0() + Duration::days(70))).unwrap();
    assert_eq!(later.generated_at, t0() + Duration::days(70));
    let dev = later.items().find(|i| i.instance == "acme-dev").unwrap();
    assert_eq!((dev.status, dev.days_left, dev.key_age_days), (DueStatus::DueSoon, 10, 80));
    assert_eq!(dev.suggested_key_name, "openclaw-acme-dev-support-bot-20270213-2");
    let inst = w.ck.instance("acme-dev").unwrap();
    let taken = |n: &str| n == "openclaw-acme-dev-support-bot-20270213";
    assert_eq!(plan::suggested_key_name(&inst, chrono::NaiveDate::from_ymd_opt(2027, 2, 13).unwrap(), &taken), "openclaw-acme-dev-support-bot-20270213-2");
}

#[test]
fn policies_resolve_and_validate() {
    let w = seeded();
    assert_eq!(w.ck.effective_rotation_policy("acme-dev").unwrap().max_age_days, 90);
    assert_eq!(w.ck.effective_rotation_policy("globex-prod").unwrap().weekday.as_deref(), Some("tue"));
    assert_eq!(w.ck.effective_rotation_policy("initech-prod").unwrap().max_age_days, 200);
    w.ck.set_rotation_policy(PolicyScope::Default, PolicySpec { max_age_days: Some(60), warn_days: Some(10), ..Default::default() }).unwrap();
    assert_eq!(w.ck.effective_rotation_policy("acme-dev").unwrap().max_age_days, 60);
    // Updating keeps the fields not given.
    w.ck.set_rotation_policy(PolicyScope::Owner { owner: "globex".into() }, PolicySpec { warn_days: Some(5), ..Default::default() }).unwrap();
    let g = w.ck.effective_rotation_policy("globex-prod").unwrap();
    assert_eq!((g.max_age_days, g.warn_days, g.window_start.as_deref()), (30, 5, Some("09:00")));
    let bad = [
        (PolicyScope::Default, PolicySpec { max_age_days: Some(0), ..Default::default() }),
        (PolicyScope::Default, PolicySpec { warn_days: Some(60), ..Default::default() }),
        (PolicyScope::Default, PolicySpec { weekday: Some("someday".into()), ..Default::default() }),
        (PolicyScope::Default, PolicySpec { window: Some("12:00-09:00".into()), ..Default::default() }),
        (PolicyScope::Owner { owner: "nobody".into() }, PolicySpec::default()),
        (PolicyScope::Instance { instance: "nope".into() }, PolicySpec::default()),
    ];
    for (scope, spec) in bad {
        assert!(w.ck.set_rotation_policy(scope.clone(), spec.clone()).is_err(), "{scope:?} {spec:?}");
    }
    assert_eq!(w.ck.rotation_policies().unwrap().len(), 3);
    let audit = w.ck.audit_log(None, None, 100).unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "rotation.policy.set").count(), 4);
    // Removing an instance removes its policy with it.
    w.ck.remove_instance("initech-prod").unwrap();
    assert_eq!(w.ck.rotation_policies().unwrap().len(), 2);
}

#[test]
fn csv_export() {
    let w = seeded();
    let p = w.ck.rotation_plan(None).unwrap();
    let csv = plan::to_csv(&p);
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines.len(), 1 + 6 + 1, "{csv}");
    assert!(lines[0].starts_with("owner,instance,environment,status,due_date"));
    assert!(lines[1].starts_with("acme,acme-prod-1,prod,overdue,2026-11-15T12:00:00Z,max-age,-10,2026-11-26T09:00:00Z,"), "{}", lines[1]);
    assert!(lines[1].contains(",main triage,true,false"), "{}", lines[1]);
    assert_eq!(lines[7], "");
}

#[test]
fn ics_is_valid_rfc5545_and_parses() {
    use icalendar::Component;
    let w = seeded();
    let p = w.ck.rotation_plan(None).unwrap();
    let ics = plan::to_ics(&p);
    // Strict framing: CRLF everywhere, every physical line at most 75 octets.
    assert!(ics.ends_with("END:VCALENDAR\r\n"));
    assert!(!ics.replace("\r\n", "").contains('\n'), "bare LF");
    assert!(ics.split("\r\n").all(|l| l.len() <= 75), "a line over 75 octets");
    assert!(ics.contains("\r\n "), "long descriptions are folded");
    for required in ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:"] {
        assert!(ics.contains(required));
    }
    // A real parser.
    let unfolded = icalendar::parser::unfold(&ics);
    let raw = icalendar::parser::read_calendar(&unfolded).expect("parses");
    let events: Vec<_> = raw.components.iter().filter(|c| c.name == "VEVENT").collect();
    assert_eq!(events.len(), 6);
    for e in &events {
        for prop in ["UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "DESCRIPTION"] {
            assert!(e.find_prop(prop).is_some(), "{prop} missing");
        }
        assert_eq!(e.find_prop("DTSTAMP").unwrap().val.as_str(), "20261125T120000Z");
        assert_eq!(e.components.iter().filter(|c| c.name == "VALARM").count(), 1);
    }
    let cal: icalendar::Calendar = ics.parse().expect("parses into a Calendar");
    let evs: Vec<icalendar::Event> = cal.components.iter().filter_map(|c| c.as_event().cloned()).collect();
    assert_eq!(evs.len(), 6);
    let first = &evs[0];
    assert!(first.get_uid().unwrap().starts_with("rotate-acme-prod-1-"));
    assert_eq!(first.get_summary(), Some("[overdue] Rotate Anthropic key of acme-prod-1 (acme)"));
    let desc = first.get_description().unwrap();
    // Escaped commas, semicolons and newlines come back as written.
    assert!(desc.contains("agents main, triage.\nCurrent key openclaw-acme-prod-support-bot"), "{desc}");
    assert!(desc.contains("\n1. Create an API key named 'openclaw-acme-prod-support-bot-20261126'"), "{desc}");
    assert_eq!(first.get_start(), Some(icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(utc("2026-11-26T09:00:00Z")))));
    // UIDs are unique and stable across exports.
    let mut uids: Vec<_> = evs.iter().map(|e| e.get_uid().unwrap().to_string()).collect();
    let again: Vec<String> = plan::to_ics(&w.ck.rotation_plan(Some(t0() + Duration::days(1))).unwrap())
        .parse::<icalendar::Calendar>()
        .unwrap()
        .components
        .iter()
        .filter_map(|c| c.as_event().map(|e| e.get_uid().unwrap().to_string()))
        .collect();
    assert_eq!(uids, again);
    uids.dedup();
    assert_eq!(uids.len(), 6);
    // Text needing escapes survives a round trip.
    assert_eq!(plan::ics_escape("a, b; c\\d\ne"), "a\\, b\\; c\\\\d\\ne");
}

/// The checklist judges the same date the plan computes (issue 16: "a key overdue for
/// rotation" is found by `check`, not only listed by `rotate plan`).
#[test]
fn the_checklist_context_carries_the_plans_due_date() {
    let w = seeded();
    let p = w.ck.rotation_plan(None).unwrap();
    for item in p.items() {
        let ctx = w.ck.check_context(&item.instance).unwrap();
        let due = ctx.rotation_due.unwrap_or_else(|| panic!("{}: no rotation date", item.instance));
        assert_eq!((due.due, due.basis), (item.due_at, item.due_reason.as_str()), "{}", item.instance);
        assert_eq!(due.max_age_days, item.policy.max_age_days, "{}", item.instance);
    }
    assert!(w.ck.check_context("hooli-prod").unwrap().rotation_due.is_none(), "no active key, nothing to judge");
}
