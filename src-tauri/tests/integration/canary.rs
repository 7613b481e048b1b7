//! The canary oracle for the desktop commands (issue 12): the canary world of
//! `clawkeep_tests::canary` (real sshd test hosts, a distinct fake key planted in every place a
//! host can hold one), every desktop command that reaches a host or stores something run once
//! through Tauri's mock runtime, every process's argv sampled during each command. Afterwards no
//! canary and no managed key may appear in any returned payload (success or `{code, message}`)
//! or in any file of the data directory (the SQLite store, WAL, exports).
//!
//! Real components: sshd test hosts, the real Secret Service (run under
//! `scripts/with-secret-service.sh`), the fake Anthropic API over HTTP on 127.0.0.1. Needs root
//! and openssh-server; elsewhere it skips with a reason, in CI it fails. (The webview's store
//! and DOM are the GUI journey's to check; the mock runtime has no webview.)

use std::sync::Arc;

use clawkeep_core::{Clawkeep, OpenOptions, OsKeychain};
use clawkeep_desktop::CoreState;
use clawkeep_tests::canary::{self, Canaries};
use clawkeep_tests::sys::ArgvSampler;
use clawkeep_tests::{World, WorldOptions};
use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

struct Desk<'a> {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    c: &'a Canaries,
    leaks: Vec<String>,
    calls: u32,
}

impl Desk<'_> {
    /// Invokes `cmd`; the payload (either way) is scanned, argv sampled meanwhile.
    fn call(&mut self, cmd: &str, body: Value) -> Result<Value, Value> {
        self.calls += 1;
        let req = crate::request(cmd, body);
        let sampler = ArgvSampler::start(self.c.needles());
        let r = get_ipc_response(&self.window, req).map(|b| b.deserialize::<Value>().unwrap());
        let (leaked, _) = sampler.finish();
        if leaked {
            self.leaks.push(format!("argv: a canary or managed key was in some process's argv during {cmd}"));
        }
        let text = match &r {
            Ok(v) | Err(v) => v.to_string(),
        };
        // (the payload is not echoed here: it may hold a leaked canary)
        eprintln!("[{:>2}] {cmd}: {} ({} bytes)", self.calls, if r.is_ok() { "ok" } else { "err" }, text.len());
        for place in self.c.find(text.as_bytes()) {
            self.leaks.push(format!("payload of {cmd}: the key planted at [{place}]"));
        }
        r
    }
    fn ok(&mut self, cmd: &str, body: Value) -> Value {
        self.call(cmd, body).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }
}

#[test]
fn no_planted_or_managed_key_escapes_any_desktop_command() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        panic!("run under scripts/with-secret-service.sh (real Secret Service)");
    }
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(5).base_url(fake.base_url())) else { return };
    let c = Canaries::new();
    let planted = canary::plant_standard(&w, &c).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let service = format!("clawkeep-desktop-canary-{}-{}", std::process::id(), clawkeep_tests::cli::random_token(8).replace(['-', '_'], "x"));
    let core = Clawkeep::open(OpenOptions {
        data_dir: Some(dir.path().join("data")),
        keychain: Some(Arc::new(OsKeychain::new(service.clone()))),
        os_user: Some("tester".into()),
        ..Default::default()
    })
    .unwrap();
    let app = clawkeep_desktop::register(mock_builder()).manage(CoreState::from_core(core)).build(mock_context(noop_assets())).unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let mut d = Desk { _app: app, window, c: &c, leaks: Vec::new(), calls: 0 };

    d.ok("set_anthropic_base_url", json!({ "url": fake.base_url() }));
    d.ok("set_ssh_identity", json!({ "identity": { "kind": "key-file", "path": w.client_key().to_string_lossy() } }));
    let mut ch = 100;
    let mut chan = || {
        ch += 1;
        format!("__CHANNEL__:{ch}")
    };
    // Onboarding the planted hosts first (issue 17), under names of their own: a pasted batch,
    // host keys fetched and confirmed, the preview, then the reviewed apply adopting every
    // gateway's key over SSH into the keychain. Only hints and fingerprints may come back.
    let batch: String = planted.iter().map(|p| format!("onb-{},{},{},{}\n", p.name, w.host(p.host).addr(), w.host(p.host).port(), w.host(p.host).user())).collect();
    let hosts = d.ok("onboard_parse_hosts", json!({ "text": batch }))["hosts"].clone();
    let fetched = d.ok("onboard_fetch_host_keys", json!({ "op_id": "onb-keys", "on_progress": chan(), "hosts": hosts }));
    let confirmed: Vec<Value> = fetched.as_array().unwrap().iter().map(|f| json!({ "host": f["host"], "fingerprint": f["presented"] })).collect();
    let defaults = json!({ "owner": "acme", "environment": "prod", "workload": "bot" });
    let preview = d.ok("onboard_preview", json!({ "op_id": "onb-preview", "on_progress": chan(), "hosts": confirmed, "defaults": defaults }));
    let reviewed: Vec<Value> = confirmed
        .iter()
        .zip(preview["hosts"].as_array().unwrap())
        .filter(|(_, r)| r["digest"].is_string())
        .map(|(c, r)| json!({ "host": c["host"], "fingerprint": c["fingerprint"], "preview_digest": r["digest"] }))
        .collect();
    let adopt: Vec<Value> = reviewed.iter().map(|c| c["host"]["name"].clone()).collect();
    let onboarded = d.ok("onboard_apply", json!({ "op_id": "onb-apply", "on_progress": chan(), "hosts": reviewed, "defaults": defaults, "adopt": adopt }));
    assert!(onboarded["summary"]["adopted"].as_u64().unwrap_or(0) >= 1, "no key adopted: {}", onboarded["summary"]);
    // Again: nothing is adopted twice.
    let preview = d.ok("onboard_preview", json!({ "op_id": "onb-preview-2", "on_progress": chan(), "hosts": confirmed, "defaults": defaults }));
    let reviewed: Vec<Value> = confirmed
        .iter()
        .zip(preview["hosts"].as_array().unwrap())
        .filter(|(_, r)| r["digest"].is_string())
        .map(|(c, r)| json!({ "host": c["host"], "fingerprint": c["fingerprint"], "preview_digest": r["digest"] }))
        .collect();
    let again = d.ok("onboard_apply", json!({ "op_id": "onb-apply-2", "on_progress": chan(), "hosts": reviewed, "defaults": defaults, "adopt": adopt }));
    assert_eq!(again["summary"]["adopted"], 0, "{}", again["summary"]);

    for p in &planted {
        let h = w.host(p.host);
        d.ok(
            "add_instance",
            json!({ "spec": {
                "name": p.name, "owner": "acme", "environment": "prod", "workload": "bot",
                "ssh_host": h.addr().to_string(), "ssh_port": h.port(), "ssh_user": h.user(),
                "service_manager": { "kind": "custom", "restart_command": p.restart },
                "injection": p.injection, "expected_workspace_id": WORKSPACE_PROD_A_ID, "tags": ["canary"],
            } }),
        );
        let probe = d.ok("probe_host_key", json!({ "name": p.name }));
        assert_eq!(probe["presented"], h.host_key_fingerprint(), "{probe}");
        d.ok("trust_host_key", json!({ "name": p.name, "fingerprint": h.host_key_fingerprint() }));
        let key_name = format!("openclaw-acme-prod-bot-{}", p.name);
        let managed = fake.mint_key(MintKey::api(&key_name, Some(WORKSPACE_PROD_A_ID))).unwrap();
        c.record(format!("managed key of {}", p.name), managed.key.clone());
        d.ok("add_key", json!({ "spec": { "name": key_name, "instance": p.name, "allow_name": true }, "value": managed.key }));
        d.ok("instance_detail", json!({ "name": p.name }));
    }
    d.ok("list_instances", json!({}));
    d.ok("fleet_columns", json!({}));
    d.ok("list_keys", json!({}));

    // Deploys: plan, then apply the reviewed plan (with consent to remove stale credentials).
    for p in &planted {
        let plan = d.call("deploy_plan", json!({ "op_id": format!("p-{}", p.name), "on_progress": chan(), "name": p.name }));
        if let Some(digest) = plan.ok().and_then(|r| r["plan"]["digest"].as_str().map(str::to_string)) {
            let _ = d.call("deploy_apply", json!({ "op_id": format!("a-{}", p.name), "on_progress": chan(), "name": p.name, "plan_digest": digest, "remove_stale": true }));
        }
    }
    let targets: Vec<Value> = planted.iter().map(|p| json!({ "instance": p.name, "plan_digest": null })).collect();
    let fleet = d.call("deploy_fleet", json!({ "op_id": "fleet-plan", "on_progress": chan(), "targets": targets, "apply": false, "remove_stale": false }));
    if let Ok(f) = fleet {
        let reviewed: Vec<Value> =
            f["results"].as_array().unwrap().iter().filter_map(|r| Some(json!({ "instance": r["instance"], "plan_digest": r["plan"]["digest"].as_str()? }))).collect();
        let _ = d.call("deploy_fleet", json!({ "op_id": "fleet-apply", "on_progress": chan(), "targets": reviewed, "apply": true, "remove_stale": true }));
    }
    d.ok("deployments", json!({ "limit": 100 }));

    // Checks: one, the fleet, the probe from the host; history and stored reports.
    let _ = d.call("run_checks", json!({ "op_id": "c1", "on_progress": chan(), "name": "full" }));
    let _ = d.call("run_checks", json!({ "op_id": "c2", "on_progress": chan() }));
    let _ = d.call("run_checks", json!({ "op_id": "c3", "on_progress": chan(), "name": "full", "request": { "host_probe": true } }));
    for p in &planted {
        let hist = d.ok("check_history", json!({ "name": p.name }));
        for run in hist.as_array().unwrap() {
            d.ok("check_report", json!({ "name": p.name, "id": run["id"] }));
        }
    }
    d.ok("last_checks", json!({}));

    // Rotation without an Admin key.
    d.ok("rotation_plan", json!({}));
    d.ok("fleet_due", json!({}));
    let _ = d.call("rotation_start", json!({ "name": "full" }));
    let next = fake.mint_key(MintKey::api("openclaw-acme-prod-bot-full-next", Some(WORKSPACE_PROD_A_ID))).unwrap();
    c.record("managed key of a rotation (full)", next.key.clone());
    let _ = d.call("rotation_step", json!({ "name": "full", "value": next.key, "confirm": true, "remove_stale": true }));
    let _ = d.call("rotation", json!({ "name": "full" }));
    d.ok("open_rotations", json!({}));

    // The cost trail: an Admin key, usage on a managed key and on a stray one (its value a
    // canary too), the sync, every view, a budget, and the stray key retired.
    let admin = fake.mint_key(MintKey::admin("canary admin")).unwrap();
    c.record("admin key (cost sync)", admin.key.clone());
    d.ok("add_key", json!({ "spec": { "name": "openclaw-acme-prod-admin", "allow_name": true }, "value": admin.key }));
    let stray = fake.mint_key(MintKey::api("stray test key", Some(WORKSPACE_PROD_A_ID))).unwrap();
    c.record("stray key spending without an owner", stray.key.clone());
    let today = chrono::Utc::now().date_naive().and_hms_opt(0, 0, 1).unwrap().and_utc();
    fake.add_usage(fake_anthropic::UsageRow {
        ts: today,
        api_key_id: Some(stray.id.clone()),
        workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
        model: fake_anthropic::MODEL_HAIKU_4_5.into(),
        uncached_input_tokens: 1000,
        cache_creation_5m: 0,
        cache_creation_1h: 0,
        cache_read_input_tokens: 0,
        output_tokens: 10,
        web_search_requests: 0,
        service_tier: "standard".into(),
        context_window: "0-200k".into(),
        inference_geo: None,
    });
    let _ = d.call("cost_sync", json!({ "op_id": "cost", "on_progress": chan() }));
    d.ok("cost_sync_marks", json!({}));
    for by in ["instance", "owner", "purpose", "workspace", "model"] {
        d.ok("cost_report", json!({ "query": { "group_by": by, "period": "day" } }));
    }
    d.ok("cost_unowned", json!({}));
    d.ok("cost_reconcile", json!({}));
    d.ok("set_budget", json!({ "spec": { "scope": "owner", "name": "acme", "monthly_usd": 0.5 } }));
    d.ok("budgets", json!({}));
    d.ok("budget_check", json!({}));
    d.ok("refresh_rate_limits", json!({}));
    d.ok("rate_limits", json!({}));
    d.ok("refresh_spend_limits", json!({}));
    d.ok("spend_limits", json!({}));
    let _ = d.call("deactivate_unowned_key", json!({ "api_key_id": stray.id }));
    let _ = d.call("deactivate_unowned_key", json!({ "api_key_id": "apikey_not_there" }));

    // The record.
    d.ok("audit_log", json!({ "limit": 500 }));
    let _ = d.call("self_check", json!({ "op_id": "s1", "on_progress": chan() }));

    // The data directory, every file's bytes.
    let mut stack = vec![dir.path().to_path_buf()];
    let mut files = 0;
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                files += 1;
                for place in c.find(&bytes) {
                    d.leaks.push(format!("data dir file {}: the key planted at [{place}]", p.display()));
                }
            }
        }
    }
    let _ = std::process::Command::new("secret-tool").args(["clear", "service", &service]).status();
    assert!(files >= 1 && c.all().len() >= 20 && d.calls > 30, "files {files}, canaries {}, calls {}", c.all().len(), d.calls);
    assert!(d.leaks.is_empty(), "{} leaks over {} calls:\n{}", d.leaks.len(), d.calls, d.leaks.join("\n"));
}
