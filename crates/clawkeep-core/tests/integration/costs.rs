//! The cost facade as the desktop calls it (`Clawkeep::cost_sync` with a progress callback and
//! a `CancellationToken`), against the in-process fake Anthropic API on 127.0.0.1 and a real
//! SQLite file: progress per page, a cancel between pages keeps what was committed and the next
//! sync resumes there, reports from the cache equal the hand-computed numbers, a fixed clock
//! makes the incremental window exact, and the configured rate limits are read, cached per
//! workspace and shown offline.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clawkeep_core::api::costs::{BudgetSpec, CostQuery, CostSyncOptions};
use clawkeep_core::cost::LimitSource;
use clawkeep_core::cost::{BudgetScope, BudgetState, CostGroupBy, CostPeriod, SyncProgress};
use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::*;
use fake_anthropic::{ErrorInjection, FakeAnthropic, Limits, Preset, UsageRow, MODEL_HAIKU_4_5, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID};

const USD: i64 = 1_000_000_000_000;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct World {
    _dir: tempfile::TempDir,
    ck: Clawkeep,
    fake: FakeAnthropic,
    key_id: String,
}

/// alpha (owner acme) uses Haiku 4.5 every day of November 2026: 1M input = $1 a day. Now is
/// 2026-12-01T06:00Z for Clawkeep and the fake alike.
fn world() -> World {
    assert!(std::env::var_os("CLAWKEEP_ANTHROPIC_BASE_URL").is_none(), "unset CLAWKEEP_ANTHROPIC_BASE_URL for these tests");
    let now = at("2026-12-01T06:00:00Z");
    let mut cfg = fake_anthropic::Config::new(Preset::Healthy);
    cfg.frozen_at = Some(now);
    let fake = FakeAnthropic::start_blocking_with(cfg).unwrap();
    fake.state().with(|s| s.knobs.admin_rate_limit = None);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(Mutex::new(now));
    let c = clock.clone();
    let ck = Clawkeep::open(OpenOptions {
        data_dir: Some(dir.path().to_path_buf()),
        keychain: Some(Arc::new(MemoryKeychain::new())),
        clock: Some(Arc::new(move || *c.lock().unwrap())),
        os_user: Some("tester".into()),
    })
    .unwrap();
    ck.set_anthropic_base_url(&fake.base_url()).unwrap();
    ck.add_instance(InstanceSpec {
        name: "alpha".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        ssh_host: "127.0.1.1".into(),
        ssh_user: "ck".into(),
        ..Default::default()
    })
    .unwrap();
    let a = fake.fixture_key("instance-a").unwrap();
    ck.add_key(
        KeySpec { name: "openclaw-acme-prod-bot".into(), instance: Some("alpha".into()), anthropic_key_id: Some(a.id.clone()), ..Default::default() },
        Secret::new(a.key.clone()),
    )
    .unwrap();
    let admin = fake.fixture_key("admin").unwrap();
    ck.add_key(KeySpec { name: "openclaw-acme-prod-admin".into(), allow_name: true, ..Default::default() }, Secret::new(admin.key)).unwrap();
    for day in 1..=30 {
        fake.add_usage(UsageRow {
            ts: Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap(),
            api_key_id: Some(a.id.clone()),
            workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
            model: MODEL_HAIKU_4_5.into(),
            uncached_input_tokens: 1_000_000,
            cache_creation_5m: 0,
            cache_creation_1h: 0,
            cache_read_input_tokens: 0,
            output_tokens: 0,
            web_search_requests: 0,
            service_tier: "standard".into(),
            context_window: "0-200k".into(),
            inference_geo: None,
        });
    }
    World { _dir: dir, ck, fake, key_id: a.id }
}

fn alpha_total(ck: &Clawkeep) -> i64 {
    let r = ck.cost_report(&CostQuery { group_by: CostGroupBy::Instance, period: CostPeriod::Month, since: None, until: None, only: None }).unwrap();
    r.rows.iter().filter(|x| x.group == "alpha").map(|x| x.cost_pico).sum()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

#[test]
fn cancel_between_pages_keeps_them_and_the_next_sync_resumes() {
    let w = world();
    let cancel = CancellationToken::new();
    let seen: Mutex<Vec<SyncProgress>> = Mutex::new(Vec::new());
    let c2 = cancel.clone();
    let progress = |p: &SyncProgress| {
        seen.lock().unwrap().push(p.clone());
        // The person presses Cancel after the second usage page.
        if p.report == "usage" && p.pages == 2 {
            c2.cancel();
        }
    };
    let opts = CostSyncOptions { since: Some(d("2026-11-01")), page_days: Some(10) };
    let r = w.ck.cost_sync(&opts, &progress, &cancel).unwrap();
    assert!(r.cancelled);
    assert_eq!((r.usage.pages, r.usage.synced_until, r.cost.pages), (2, Some(d("2026-11-21")), 0));
    let steps: Vec<(String, u32)> = seen.lock().unwrap().iter().map(|p| (p.report.clone(), p.pages)).collect();
    assert_eq!(steps, vec![("keys".into(), 1), ("usage".into(), 1), ("usage".into(), 2)]);
    assert_eq!(alpha_total(&w.ck), 20 * USD, "the two committed pages: November 1..20");
    let marks = w.ck.cost_sync_marks().unwrap();
    assert_eq!((marks.len(), marks[0].synced_until, marks[0].completed_at), (1, d("2026-11-21"), None));

    // The next sync resumes three days before the mark and completes.
    let r = w.ck.cost_sync(&CostSyncOptions { page_days: Some(10), ..Default::default() }, &|_| {}, &CancellationToken::new()).unwrap();
    assert!(!r.cancelled);
    assert_eq!((r.usage.start, r.usage.end), (Some(d("2026-11-18")), Some(d("2026-12-02"))));
    assert_eq!(r.usage.synced_until, Some(d("2026-12-01")), "today's bucket is read again next time");
    assert_eq!(alpha_total(&w.ck), 30 * USD, "every November day once");
    assert!(w.ck.cost_sync_marks().unwrap().iter().all(|m| m.completed_at.is_some()));
    // The reconciliation agrees with the fake's cost report to the cent on every day.
    let rec = w.ck.cost_reconcile(Some(d("2026-11-01")), Some(d("2026-11-30")), Default::default()).unwrap();
    assert_eq!(rec.rows.len(), 30);
    assert!(rec.rows.iter().all(|x| x.status == clawkeep_core::cost::ReconcileStatus::Match), "{rec:?}");
    // Nothing unowned: alpha's key is matched by its Console id.
    assert!(w.ck.cost_unowned(None).unwrap().is_empty(), "{}", w.key_id);
}

#[test]
fn a_cancel_before_the_first_page_changes_nothing_and_budgets_need_a_real_target() {
    let w = world();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let r = w.ck.cost_sync(&CostSyncOptions::default(), &|_| {}, &cancel).unwrap();
    assert!(r.cancelled && r.usage.pages == 0 && r.cost.pages == 0);
    assert_eq!(alpha_total(&w.ck), 0);
    assert!(w.fake.requests().iter().all(|q| !q.path.contains("report")), "no report was read");
    // Bad input: clear errors, nothing written.
    let e = w.ck.cost_sync(&CostSyncOptions { page_days: Some(40), ..Default::default() }, &|_| {}, &CancellationToken::new()).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let e = w.ck.cost_sync(&CostSyncOptions { since: Some(d("2027-01-01")), ..Default::default() }, &|_| {}, &CancellationToken::new()).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let e = w.ck.set_budget(&BudgetSpec { scope: BudgetScope::Instance, name: "nope".into(), monthly_usd: 5.0, warn_at: vec![] }).unwrap_err();
    assert_eq!(e.code(), "not_found");
    let e = w.ck.set_budget(&BudgetSpec { scope: BudgetScope::Owner, name: "acme".into(), monthly_usd: f64::NAN, warn_at: vec![] }).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(w.ck.budgets().unwrap().is_empty());
    // December has no spend yet (now is December 1st): the budget is ok.
    w.ck.sync_all();
    w.ck.set_budget(&BudgetSpec { scope: BudgetScope::Owner, name: "acme".into(), monthly_usd: 10.0, warn_at: vec![50] }).unwrap();
    let st = w.ck.budget_check().unwrap();
    assert_eq!((st[0].state, st[0].spent_pico, st[0].month.as_str()), (BudgetState::Ok, 0, "2026-12"));
}

trait SyncAll {
    fn sync_all(&self);
}

impl SyncAll for Clawkeep {
    fn sync_all(&self) {
        self.cost_sync(&CostSyncOptions::default(), &|_| {}, &CancellationToken::new()).unwrap();
    }
}

#[test]
fn the_checklist_sees_the_budgets_that_cover_the_instance() {
    let w = world();
    // $1 of Haiku on December 1st by 03:00: at that run rate the month ends far over $1.50.
    w.fake.add_usage(UsageRow {
        ts: Utc.with_ymd_and_hms(2026, 12, 1, 3, 0, 0).unwrap(),
        api_key_id: Some(w.key_id.clone()),
        workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
        model: MODEL_HAIKU_4_5.into(),
        uncached_input_tokens: 1_000_000,
        cache_creation_5m: 0,
        cache_creation_1h: 0,
        cache_read_input_tokens: 0,
        output_tokens: 0,
        web_search_requests: 0,
        service_tier: "standard".into(),
        context_window: "0-200k".into(),
        inference_geo: None,
    });
    assert!(w.ck.check_context("alpha").unwrap().budgets.is_empty(), "no budget, nothing judged");
    w.ck.sync_all();
    w.ck.set_budget(&BudgetSpec { scope: BudgetScope::Instance, name: "alpha".into(), monthly_usd: 1.5, warn_at: vec![] }).unwrap();
    w.ck.add_instance(InstanceSpec {
        name: "beta".into(),
        owner: "globex".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        ssh_host: "127.0.1.2".into(),
        ssh_user: "ck".into(),
        ..Default::default()
    })
    .unwrap();
    w.ck.set_budget(&BudgetSpec { scope: BudgetScope::Owner, name: "globex".into(), monthly_usd: 1.0, warn_at: vec![] }).unwrap();
    let ctx = w.ck.check_context("alpha").unwrap();
    let states: Vec<(String, BudgetState)> = ctx.budgets.iter().map(|b| (b.budget.name.clone(), b.state)).collect();
    assert_eq!(states, vec![("alpha".to_string(), BudgetState::ForecastOver)], "only alpha's own budget covers it");
    assert_eq!(w.ck.check_context("beta").unwrap().budgets[0].state, BudgetState::Ok);
}

#[test]
fn rate_limits_are_read_by_the_sync_cached_per_workspace_and_shown_offline() {
    let w = world();
    assert!(w.ck.rate_limits().unwrap().entries.is_empty(), "nothing before a read");
    // prod-a has its own (tighter) limits; gamma runs there; delta names a workspace the
    // Admin API does not know.
    w.fake.state().with(|s| {
        if let Some(ws) = s.workspaces.iter_mut().find(|x| x.id == WORKSPACE_PROD_A_ID) {
            ws.rate_limits = Some(Limits { rpm: 7, itpm: 7_000, otpm: 700, count_tokens_rpm: 7 });
        }
    });
    for (name, ws) in [("gamma", WORKSPACE_PROD_A_ID), ("delta", "wrkspc_01NoSuchWorkspace0000000")] {
        w.ck.add_instance(InstanceSpec {
            name: name.into(),
            owner: "acme".into(),
            environment: "prod".into(),
            workload: "bot".into(),
            ssh_host: "127.0.1.3".into(),
            ssh_user: "ck".into(),
            expected_workspace_id: Some(ws.into()),
            ..Default::default()
        })
        .unwrap();
    }
    let r = w.ck.cost_sync(&CostSyncOptions::default(), &|_| {}, &CancellationToken::new()).unwrap();
    assert!(r.rate_limits > 0, "{r:?}");
    assert_eq!(r.notes.len(), 1, "the unknown workspace is a note, not a failed sync: {:?}", r.notes);
    assert!(r.notes[0].contains("wrkspc_01NoSuchWorkspace0000000"), "{:?}", r.notes);

    let l = w.ck.rate_limits().unwrap();
    assert!(l.entries[0].workspace_id.is_none(), "the organisation first");
    assert_eq!(l.fetched_at, Some(at("2026-12-01T06:00:00Z")));
    let rpm = |ws: Option<&str>| l.entries.iter().find(|e| e.workspace_id.as_deref() == ws && e.group_type == "model_group" && e.limiter == "requests_per_minute").cloned();
    let org = rpm(None).expect("the organisation's requests limit");
    assert_eq!(org.source, LimitSource::Organization);
    let a = rpm(Some(WORKSPACE_PROD_A_ID)).expect("prod-a's override");
    assert_eq!((a.value, a.source, a.org_limit), (7, LimitSource::Workspace, Some(org.value)));
    let b = rpm(Some(WORKSPACE_PROD_B_ID)).expect("prod-b (the Admin API lists a key there) inherits");
    assert_eq!((b.value, b.source), (org.value, LimitSource::Organization));

    // The checklist of an instance in prod-a gets the organisation's and prod-a's entries.
    let ctx = w.ck.check_context("gamma").unwrap();
    assert!(ctx.rate_limits.iter().all(|e| e.workspace_id.is_none() || e.workspace_id.as_deref() == Some(WORKSPACE_PROD_A_ID)));
    assert!(ctx.rate_limits.iter().any(|e| e.workspace_id.as_deref() == Some(WORKSPACE_PROD_A_ID)));

    // The organisation's list failing: the sync still succeeds, with a note; the cache stays.
    w.fake.inject_error(ErrorInjection { path_prefix: "/v1/organizations/rate_limits".into(), count: 1, status: 500, ..Default::default() });
    let r = w.ck.cost_sync(&CostSyncOptions::default(), &|_| {}, &CancellationToken::new()).unwrap();
    assert!(r.notes.iter().any(|n| n.starts_with("rate limits not refreshed")), "{:?}", r.notes);
    assert_eq!(w.ck.rate_limits().unwrap().entries, l.entries);

    // Offline: the cache still answers; a refresh is an Admin API error with a stable code.
    let admin = w.fake.fixture_key("admin").unwrap().key;
    w.fake.shutdown();
    assert_eq!(w.ck.rate_limits().unwrap().entries, l.entries);
    let e = w.ck.refresh_rate_limits().unwrap_err();
    assert_eq!(e.code(), "admin_api");
    assert!(!format!("{e} {e:?}").contains(&admin), "no secret in the error");
}
