//! The cost trail's commands (issue 13) through Tauri's mock runtime, against the fake
//! Anthropic API on 127.0.0.1 and a real SQLite file: the sync as a long operation, every view
//! of the cache, budgets, and the one-step retire of a key that spends without an owner.

use std::sync::Arc;

use chrono::Utc;
use clawkeep_core::{Clawkeep, InstanceSpec, KeySpec, MemoryKeychain, OpenOptions, Secret};
use clawkeep_desktop::CoreState;
use fake_anthropic::{FakeAnthropic, Preset, UsageRow, MODEL_HAIKU_4_5, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID};
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

struct World {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    _dir: tempfile::TempDir,
    fake: FakeAnthropic,
    owned_id: String,
    stray_id: String,
}

/// alpha (owner acme) holds the fake's key `instance-a`; `instance-b` spends too but no instance
/// holds it. Both used Haiku 4.5 today: alpha 2M input tokens ($2), the stray key 1M ($1).
fn world() -> World {
    let fake = FakeAnthropic::start_blocking_with(fake_anthropic::Config::new(Preset::Healthy)).unwrap();
    fake.state().with(|s| s.knobs.admin_rate_limit = None);
    let dir = tempfile::tempdir().unwrap();
    let ck = Clawkeep::open(OpenOptions {
        data_dir: Some(dir.path().join("data")),
        keychain: Some(Arc::new(MemoryKeychain::new())),
        os_user: Some("tester".into()),
        ..Default::default()
    })
    .unwrap();
    ck.set_anthropic_base_url(&fake.base_url()).unwrap();
    let spec = InstanceSpec {
        name: "alpha".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        ssh_host: "127.0.1.1".into(),
        ssh_user: "ck".into(),
        ..Default::default()
    };
    ck.add_instance(spec).unwrap();
    let a = fake.fixture_key("instance-a").unwrap();
    let b = fake.fixture_key("instance-b").unwrap();
    ck.add_key(
        KeySpec { name: "openclaw-acme-prod-bot".into(), instance: Some("alpha".into()), anthropic_key_id: Some(a.id.clone()), ..Default::default() },
        Secret::new(a.key.clone()),
    )
    .unwrap();
    let admin = fake.fixture_key("admin").unwrap();
    ck.add_key(KeySpec { name: "openclaw-acme-prod-admin".into(), allow_name: true, ..Default::default() }, Secret::new(admin.key)).unwrap();
    // Today's first second: always in the current month, never in the future.
    let ts = Utc::now().date_naive().and_hms_opt(0, 0, 1).unwrap().and_utc();
    for (id, ws, input) in [(&a.id, WORKSPACE_PROD_A_ID, 2_000_000), (&b.id, WORKSPACE_PROD_B_ID, 1_000_000)] {
        fake.add_usage(UsageRow {
            ts,
            api_key_id: Some(id.clone()),
            workspace_id: Some(ws.into()),
            model: MODEL_HAIKU_4_5.into(),
            uncached_input_tokens: input,
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
    let app = clawkeep_desktop::register(mock_builder()).manage(CoreState::from_core(ck)).build(mock_context(noop_assets())).unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    World { _app: app, window, _dir: dir, fake, owned_id: a.id, stray_id: b.id }
}

impl World {
    fn call(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        let req = crate::request(cmd, body);
        get_ipc_response(&self.window, req).map(|b| b.deserialize::<Value>().unwrap())
    }
    fn ok(&self, cmd: &str, body: Value) -> Value {
        self.call(cmd, body).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }
    fn err(&self, cmd: &str, body: Value) -> String {
        let e = self.call(cmd, body).expect_err(cmd);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        e["code"].as_str().unwrap().to_string()
    }
    fn sync(&self, op: &str) -> Value {
        self.ok("cost_sync", json!({ "op_id": op, "on_progress": "__CHANNEL__:21", "options": null }))
    }
}

fn group_cost(report: &Value, group: &str) -> f64 {
    report["rows"].as_array().unwrap().iter().filter(|r| r["group"] == group).map(|r| r["cost_usd"].as_f64().unwrap()).sum()
}

#[test]
fn sync_then_every_view_reads_the_cache() {
    let w = world();
    assert_eq!(w.ok("cost_sync_marks", json!({})), json!([]));
    let r = w.sync("sync-1");
    assert_eq!(r["cancelled"], false, "{r}");
    assert!(r["usage"]["rows"].as_u64().unwrap() >= 2, "{r}");
    // The id is released when the sync ends.
    assert_eq!(w.ok("cancel_operation", json!({ "op_id": "sync-1" })), json!(false));
    let marks = w.ok("cost_sync_marks", json!({}));
    assert_eq!(marks.as_array().unwrap().len(), 2, "{marks}");

    let by_instance = w.ok("cost_report", json!({ "query": { "group_by": "instance", "period": "month" } }));
    assert!((group_cost(&by_instance, "alpha") - 2.0).abs() < 1e-9, "{by_instance}");
    assert!((group_cost(&by_instance, &w.stray_id) - 1.0).abs() < 1e-9, "the stray key is its own group: {by_instance}");
    assert_eq!(by_instance["rows"][0]["unowned"], true, "unowned first: {by_instance}");
    // One client's spend by model (the chart).
    let acme = w.ok("cost_report", json!({ "query": { "group_by": "model", "period": "day", "only": { "by": "owner", "group": "acme" } } }));
    assert!((acme["total_usd"].as_f64().unwrap() - 2.0).abs() < 1e-9, "{acme}");
    assert!(acme["rows"].as_array().unwrap().iter().all(|r| r["group"] == MODEL_HAIKU_4_5), "{acme}");

    let unowned = w.ok("cost_unowned", json!({ "since": null }));
    assert_eq!(unowned.as_array().unwrap().len(), 1, "{unowned}");
    assert_eq!(unowned[0]["api_key_id"], json!(w.stray_id));
    assert_eq!(unowned[0]["status"], "active");

    let rec = w.ok("cost_reconcile", json!({ "since": null, "until": null, "options": null }));
    assert_eq!(rec["findings"], 0, "{rec}");
    assert_eq!(w.err("cost_report", json!({ "query": { "group_by": "instance", "since": "2026-12-05", "until": "2026-12-01" } })), "invalid_input");
    assert!(w.call("cost_report", json!({ "query": { "group_by": "nonsense" } })).is_err());
}

#[test]
fn budgets_warn_and_a_stray_key_is_retired_in_one_audited_step() {
    let w = world();
    w.sync("sync-2");
    assert_eq!(w.ok("budgets", json!({})), json!([]));
    let b = w.ok("set_budget", json!({ "spec": { "scope": "owner", "name": "acme", "monthly_usd": 1.5, "warn_at": [50, 100] } }));
    assert_eq!(b["warn_at"], json!([50, 100]));
    assert_eq!(w.err("set_budget", json!({ "spec": { "scope": "instance", "name": "nope", "monthly_usd": 5.0 } })), "not_found");
    assert_eq!(w.err("set_budget", json!({ "spec": { "scope": "owner", "name": "acme", "monthly_usd": -1.0 } })), "invalid_input");
    let st = w.ok("budget_check", json!({}));
    assert_eq!(st[0]["state"], "over", "$2 against $1.50: {st}");
    assert_eq!(st[0]["crossed"], 100);
    w.ok("remove_budget", json!({ "scope": "owner", "name": "acme" }));
    assert_eq!(w.err("remove_budget", json!({ "scope": "owner", "name": "acme" })), "not_found");
    assert_eq!(w.ok("budget_check", json!({})), json!([]));

    // The instance's own key is refused: rotate it instead.
    assert_eq!(w.err("deactivate_unowned_key", json!({ "api_key_id": w.owned_id })), "key_has_owner");
    assert_eq!(w.err("deactivate_unowned_key", json!({ "api_key_id": "not-an-id" })), "invalid_input");
    let r = w.ok("deactivate_unowned_key", json!({ "api_key_id": w.stray_id }));
    assert_eq!(r["status"], "inactive");
    assert!(w.fake.requests().iter().any(|q| q.method == "POST" && q.path.ends_with(&w.stray_id)), "deactivated at the Admin API");
    let unowned = w.ok("cost_unowned", json!({ "since": null }));
    assert_eq!(unowned[0]["status"], "inactive", "{unowned}");
    let audit = w.ok("audit_log", json!({ "subject": w.stray_id }));
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "key.deactivate_unowned"), "{audit}");
}

#[test]
fn rate_limits_are_read_by_the_sync_and_shown_from_the_cache() {
    let w = world();
    let empty = w.ok("rate_limits", json!({}));
    assert_eq!(empty["entries"], json!([]), "nothing before a read: {empty}");
    assert!(empty["fetched_at"].is_null());
    // prod-b gets its own limits; the sync reads the organisation's and both workspaces' (the
    // Admin API lists keys in both).
    w.fake.state().with(|s| {
        if let Some(ws) = s.workspaces.iter_mut().find(|x| x.id == WORKSPACE_PROD_B_ID) {
            ws.rate_limits = Some(fake_anthropic::Limits { rpm: 7, itpm: 7_000, otpm: 700, count_tokens_rpm: 7 });
        }
    });
    w.sync("sync-rl");
    let l = w.ok("rate_limits", json!({}));
    let entries = l["entries"].as_array().unwrap();
    assert!(entries[0]["workspace_id"].is_null(), "the organisation first: {l}");
    let over = entries.iter().find(|e| e["workspace_id"] == WORKSPACE_PROD_B_ID && e["source"] == "workspace" && e["limiter"] == "requests_per_minute").expect("prod-b's override");
    assert_eq!(over["value"], 7);
    assert!(entries.iter().any(|e| e["workspace_id"] == WORKSPACE_PROD_A_ID && e["source"] == "organization"), "prod-a inherits: {l}");
    let r = w.ok("refresh_rate_limits", json!({}));
    assert_eq!(r["entries"].as_array().unwrap().len(), entries.len());
}

#[test]
fn spend_limits_are_a_state_when_not_available_then_judged_from_the_cache() {
    let w = world();
    assert_eq!(w.ok("spend_limits", json!({}))["availability"], "not_read");
    w.sync("sync-sl-1");
    let v = w.ok("spend_limits", json!({}));
    assert_eq!((v["availability"].as_str(), v["limits"].as_array().map(Vec::len)), (Some("not_available"), Some(0)), "{v}");
    w.fake.state().with(|s| {
        s.spend_limits.enrolled = true;
        s.spend_limits.limits = vec![fake_anthropic::monthly_spend_limit("spl_org", fake_anthropic::SpendLimitScope::Organization, 12_345, chrono::Utc::now())];
    });
    let r = w.ok("refresh_spend_limits", json!({}));
    assert_eq!(r["availability"], "available");
    let org = &r["limits"][0];
    assert_eq!((org["amount_label"].as_str(), org["judgement"]["limit_usd"].as_f64()), (Some("$123.45"), Some(123.45)), "{r}");
    assert_eq!(w.ok("spend_limits", json!({}))["limits"], r["limits"]);
}
