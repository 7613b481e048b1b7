//! IPC tests without a window: every command through Tauri's mock runtime, with a temporary
//! data directory and the core's in-memory keychain. Errors are checked by their stable code.

use std::sync::Arc;

use clawkeep_core::{Clawkeep, MemoryKeychain, OpenOptions};
use clawkeep_desktop::files::{FixedSavePath, Prefs, SaveDialog};
use clawkeep_desktop::CoreState;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

/// A well-formed fake API key made at run time (no key-shaped literal in the tree).
use clawkeep_core::testkeys::api_key as fake_key;

struct Harness {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    keychain: Arc<MemoryKeychain>,
    dir: tempfile::TempDir,
    /// What the "save dialog" answers (`None`: the person cancels).
    save: Arc<FixedSavePath>,
}

/// The app's own state besides the core: the save dialog (a fixed answer here) and the one
/// preferences file (in `dir`).
fn manage_files(app: &App<MockRuntime>, dir: &std::path::Path) -> Arc<FixedSavePath> {
    use tauri::Manager;
    let save = Arc::new(FixedSavePath::default());
    app.manage(SaveDialog(save.clone()));
    app.manage(Prefs::open(app.handle(), dir.join("prefs.json")));
    save
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let keychain = Arc::new(MemoryKeychain::new());
    let core =
        Clawkeep::open(OpenOptions { data_dir: Some(dir.path().join("data")), keychain: Some(keychain.clone()), os_user: Some("tester".into()), ..Default::default() }).unwrap();
    let app = clawkeep_desktop::register(mock_builder())
        .plugin(tauri_plugin_store::Builder::default().build())
        .manage(CoreState::from_core(core))
        .build(mock_context(noop_assets()))
        .unwrap();
    let save = manage_files(&app, dir.path());
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Harness { _app: app, window, keychain, dir, save }
}

impl Harness {
    /// The next save dialog answers `path` (`None`: cancelled).
    fn save_to(&self, path: Option<&std::path::Path>) {
        *self.save.0.lock().unwrap() = path.map(Into::into);
    }
    fn call(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        get_ipc_response(&self.window, crate::request(cmd, body)).map(|b| b.deserialize::<Value>().unwrap())
    }
    fn ok(&self, cmd: &str, body: Value) -> Value {
        self.call(cmd, body).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }
    /// The error's code, after checking it has the `{code, message}` shape.
    fn err(&self, cmd: &str, body: Value) -> String {
        let e = self.call(cmd, body).expect_err(cmd);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        e["code"].as_str().unwrap().to_string()
    }
    fn add_acme(&self) {
        self.ok(
            "add_instance",
            json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "workload": "support", "ssh_host": "10.0.0.5", "ssh_user": "openclaw" } }),
        );
    }
}

#[test]
fn app_info_names_the_shared_data_dir() {
    let h = harness();
    let info = h.ok("app_info", json!({}));
    assert_eq!(info["data_dir"], json!(h.dir.path().join("data").display().to_string()));
    assert_eq!(info["keychain_service"], "memory");
    assert!(info["version"].as_str().is_some());
}

#[test]
fn instances_add_list_detail_edit_remove() {
    let h = harness();
    assert_eq!(h.ok("list_instances", json!({})), json!([]));
    h.add_acme();
    let rows = h.ok("list_instances", json!({ "filter": { "search": "acme" } }));
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["instance"]["ssh_port"], 22);
    assert_eq!(rows[0]["active_key"], Value::Null);
    assert_eq!(h.ok("list_instances", json!({ "filter": { "search": "nothing-like-it" } })), json!([]));
    // The Fleet screen's data in columns: only the Fleet's fields, repeated strings in a dictionary.
    let fleet = h.ok("fleet_columns", json!({ "filter": { "search": "acme" } }));
    assert_eq!(fleet["name"], json!({ "text": "acme-prod", "end": [9] }));
    assert_eq!(fleet["dict"][fleet["owner"][0].as_u64().unwrap() as usize], "acme");
    assert_eq!(fleet["ssh_port"], json!([22]));
    assert_eq!(fleet["key_hint"], json!({ "text": "", "end": [0] }), "no key yet");
    assert!(fleet.get("notes").is_none() && fleet.get("instance").is_none());
    assert_eq!(h.ok("fleet_columns", json!({ "filter": { "search": "nothing-like-it" } }))["id"], json!([]));

    let detail = h.ok("instance_detail", json!({ "name": "acme-prod" }));
    assert_eq!(detail["instance"]["agents"], json!(["main"]));
    assert_eq!(detail["keys"], json!([]));

    let edited = h.ok("edit_instance", json!({ "name": "acme-prod", "patch": { "workload": "billing", "agents": ["main", "ops"] } }));
    assert_eq!(edited["workload"], "billing");
    assert_eq!(edited["agents"], json!(["main", "ops"]));

    let removed = h.ok("remove_instance", json!({ "name": "acme-prod" }));
    assert_eq!(removed["instance"], "acme-prod");
    assert_eq!(h.ok("list_instances", json!({})), json!([]));
}

#[test]
fn instance_errors_carry_stable_codes() {
    let h = harness();
    h.add_acme();
    let dup = json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "ssh_host": "10.0.0.6", "ssh_user": "openclaw" } });
    assert_eq!(h.err("add_instance", dup), "conflict");
    let bad_host = json!({ "spec": { "name": "x1", "owner": "acme", "environment": "prod", "ssh_host": "-oProxyCommand=x", "ssh_user": "openclaw" } });
    assert_eq!(h.err("add_instance", bad_host), "invalid_input");
    assert_eq!(h.err("instance_detail", json!({ "name": "nope" })), "not_found");
    assert_eq!(h.err("edit_instance", json!({ "name": "nope", "patch": {} })), "not_found");
    assert_eq!(h.err("edit_instance", json!({ "name": "acme-prod", "patch": { "ssh_port": 0 } })), "invalid_input");
    assert_eq!(h.err("remove_instance", json!({ "name": "nope" })), "not_found");
}

#[test]
fn key_rules_and_name_suggestion() {
    let h = harness();
    let rules = h.ok("key_rules", json!({}));
    assert_eq!(rules["charset"], "[A-Za-z0-9_-]");
    let kinds: Vec<&str> = rules["kinds"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["api", "admin", "oauth"]);
    assert_eq!(rules["kinds"][0]["expected_len"], 108);
    h.add_acme();
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    assert_eq!(name, "openclaw-acme-prod-support");
    assert_eq!(h.err("suggest_key_name", json!({ "instance": "nope" })), "not_found");
}

#[test]
fn add_key_returns_hint_and_fingerprint_never_the_value() {
    let h = harness();
    h.add_acme();
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    let key = fake_key(1);
    let added = h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": key }));
    let text = added.to_string();
    assert!(!text.contains(&key), "the key value came back over IPC");
    assert!(!text.contains(&key[20..60]), "part of the key value came back over IPC");
    assert_eq!(added["key"]["hint"], json!(format!("{}...{}", &key[..16], &key[key.len() - 4..])));
    assert_eq!(added["key"]["fingerprint"].as_str().unwrap().len(), 64);
    assert_eq!(added["key"]["status"], "active");
    assert_eq!(added["warnings"], json!([]));
    assert_eq!(h.keychain.len(), 1);

    let rows = h.ok("list_instances", json!({}));
    assert_eq!(rows[0]["active_key"]["hint"], added["key"]["hint"]);
    let fleet = h.ok("fleet_columns", json!({}));
    assert_eq!(fleet["key_hint"]["text"], added["key"]["hint"]);
    assert_eq!(fleet["key_age_days"], json!([0]));
    let keys = h.ok("list_keys", json!({}));
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(h.ok("list_keys", json!({ "instance": "acme-prod" })).as_array().unwrap().len(), 1);
    for cmd in ["list_keys", "list_instances", "fleet_columns", "fleet_due", "audit_log"] {
        assert!(!h.ok(cmd, json!({})).to_string().contains(&key[20..60]), "{cmd} leaks the key");
    }
}

#[test]
fn add_key_errors_carry_stable_codes_and_warnings() {
    let h = harness();
    h.add_acme();
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" })).as_str().unwrap().to_string();
    let key = fake_key(2);
    let spaced = format!("{} {}", &key[..30], &key[30..]);
    let e = h.call("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": spaced })).unwrap_err();
    assert!(["key_format", "invalid_input"].contains(&e["code"].as_str().unwrap()), "{e}");
    assert!(e["message"].as_str().unwrap().contains("a space at position 31"), "{e}");
    assert!(!e.to_string().contains(&key[10..40]));
    assert_eq!(h.err("add_key", json!({ "spec": { "name": name }, "value": "" })), "key_format");
    assert_eq!(h.err("add_key", json!({ "spec": { "name": "k", "instance": "acme-prod" }, "value": fake_key(3) })), "key_name");
    // The suggested name travels as data (the UI offers it as a button; nothing parses the message).
    let e = h.call("add_key", json!({ "spec": { "name": "k", "instance": "acme-prod" }, "value": fake_key(3) })).unwrap_err();
    assert_eq!(e["remedy"], json!({ "action": "use_key_name", "suggestion": name }), "{e}");
    assert_eq!(h.err("add_key", json!({ "spec": { "name": name, "instance": "nope" }, "value": fake_key(3) })), "not_found");
    assert_eq!(h.keychain.len(), 0);

    // A truncated key is refused; with the explicit word that the format changed it is stored
    // with a warning.
    let truncated = &fake_key(4)[..100];
    assert_eq!(h.err("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": truncated })), "key_format");
    assert_eq!(h.keychain.len(), 0);
    let added = h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod", "format_changed": true }, "value": truncated }));
    assert!(added["warnings"][0].as_str().unwrap().contains("looks truncated"), "{added}");
    // The same value again is a conflict.
    assert_eq!(h.err("add_key", json!({ "spec": { "name": format!("{name}-2"), "allow_name": true, "format_changed": true }, "value": truncated })), "conflict");

    // The keychain failing surfaces as its own code.
    h.keychain.fail_with(Some(clawkeep_core::KeychainError::Locked { detail: "test".into() }));
    assert_eq!(h.err("add_key", json!({ "spec": { "name": "spare-key", "allow_name": true }, "value": fake_key(5) })), "keychain_locked");
}

#[test]
fn bind_retire_remove_keys() {
    let h = harness();
    h.add_acme();
    h.ok("add_instance", json!({ "spec": { "name": "beta-dev", "owner": "beta", "environment": "dev", "ssh_host": "beta.example.com", "ssh_user": "ops" } }));
    h.ok("add_key", json!({ "spec": { "name": "spare-key", "allow_name": true }, "value": fake_key(6) }));
    let bound = h.ok("bind_key", json!({ "key": "spare-key", "instance": "acme-prod" }));
    assert_eq!(bound["status"], "active");
    assert_eq!(h.err("bind_key", json!({ "key": "spare-key", "instance": "beta-dev" })), "key_bound_elsewhere");
    assert_eq!(h.err("bind_key", json!({ "key": "nope", "instance": "beta-dev" })), "not_found");
    // Its own code (was the catch-all invalid_state) and the remedy as data.
    assert_eq!(h.err("remove_key", json!({ "name": "spare-key", "force": false })), "key_active");
    assert_eq!(h.call("remove_key", json!({ "name": "spare-key", "force": false })).unwrap_err()["remedy"], json!({ "action": "retire_key", "key": "spare-key" }));
    assert_eq!(h.ok("retire_key", json!({ "name": "spare-key" }))["status"], "retired");
    assert_eq!(h.err("retire_key", json!({ "name": "nope" })), "not_found");
    assert_eq!(h.ok("remove_key", json!({ "name": "spare-key", "force": false }))["name"], "spare-key");
    assert_eq!(h.err("remove_key", json!({ "name": "spare-key", "force": true })), "not_found");
    assert_eq!(h.keychain.len(), 0);
}

#[test]
fn audit_log_records_changes() {
    let h = harness();
    h.add_acme();
    let all = h.ok("audit_log", json!({}));
    assert_eq!(all[0]["action"], "instance.add");
    assert_eq!(all[0]["os_user"], "tester");
    assert_eq!(h.ok("audit_log", json!({ "subject": "acme-prod", "limit": 1 })).as_array().unwrap().len(), 1);
    assert_eq!(h.ok("audit_log", json!({ "subject": "other" })), json!([]));
    assert_eq!(h.ok("audit_log", json!({ "since": "2999-01-01T00:00:00Z" })), json!([]));
    assert!(h.call("audit_log", json!({ "since": "yesterday" })).is_err());
}

#[test]
fn settings_read_and_write() {
    let h = harness();
    let s = h.ok("settings", json!({}));
    assert_eq!(s["ssh_identity"], json!({ "kind": "agent" }));
    let s = h.ok("set_anthropic_base_url", json!({ "url": "http://127.0.0.1:8787/" }));
    assert_eq!(s["anthropic_base_url"], "http://127.0.0.1:8787");
    assert_eq!(h.err("set_anthropic_base_url", json!({ "url": "http://example.com" })), "invalid_input");
    let s = h.ok("set_ssh_identity", json!({ "identity": { "kind": "key-file", "path": "~/.ssh/id_ed25519" } }));
    assert_eq!(s["ssh_identity"]["path"], "~/.ssh/id_ed25519");
    assert_eq!(h.err("set_ssh_identity", json!({ "identity": { "kind": "key-file", "path": " " } })), "invalid_input");
}

#[test]
fn self_check_reports_through_a_channel() {
    let h = harness();
    h.add_acme();
    let report = h.ok("self_check", json!({ "op_id": "op-1", "on_progress": "__CHANNEL__:7" }));
    assert_eq!(report["instances"], 1);
    assert_eq!(report["keychain_ok"], true);
    // The id is released when the operation ends, so it can be reused and no longer cancelled.
    assert_eq!(h.ok("cancel_operation", json!({ "op_id": "op-1" })), json!(false));
    assert_eq!(h.ok("self_check", json!({ "op_id": "op-1", "on_progress": "__CHANNEL__:8" }))["keychain_ok"], true);
    assert_eq!(h.err("self_check", json!({ "op_id": "", "on_progress": "__CHANNEL__:9" })), "invalid_input");
    h.keychain.fail_with(Some(clawkeep_core::KeychainError::Unavailable { detail: "no bus".into() }));
    let report = h.ok("self_check", json!({ "op_id": "op-2", "on_progress": "__CHANNEL__:10" }));
    assert_eq!(report["keychain_ok"], false);
}

#[test]
fn cancellation_stops_an_operation_at_its_next_step() {
    let ops = Arc::new(clawkeep_desktop::ops::Operations::default());
    let op = ops.start("op-x").unwrap();
    assert!(op.checkpoint().is_ok());
    assert_eq!(ops.start("op-x").err().unwrap().code, "conflict");
    assert!(ops.cancel("op-x"));
    assert_eq!(op.checkpoint().unwrap_err().code, "cancelled");
    drop(op);
    assert!(!ops.cancel("op-x"));
}

#[test]
fn a_core_that_failed_to_open_answers_every_command_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let state = CoreState::open(OpenOptions { data_dir: Some(file.join("data")), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() });
    let app = clawkeep_desktop::register(mock_builder()).manage(state).build(mock_context(noop_assets())).unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let e = get_ipc_response(&window, crate::request("list_instances", json!({}))).unwrap_err();
    assert_eq!(e["code"], "io", "{e}");
}

/// With the real configuration (capability `main`, app manifest), the UI may call the app's
/// commands and nothing else (no plugin command: preferences go through `prefs_*`).
#[test]
fn capability_allows_only_what_the_ui_uses() {
    let dir = tempfile::tempdir().unwrap();
    let core = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    let app = clawkeep_desktop::register(mock_builder())
        .plugin(tauri_plugin_store::Builder::default().build())
        .manage(CoreState::from_core(core))
        .build(tauri::generate_context!())
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let call = |cmd: &str, body: Value| get_ipc_response(&window, crate::request(cmd, body)).map(|b| b.deserialize::<Value>().unwrap());
    assert_eq!(call("list_instances", json!({})).unwrap(), json!([]));
    assert!(call("key_rules", json!({})).is_ok());
    let denied = call("plugin:store|clear", json!({ "rid": 1 })).unwrap_err();
    assert!(denied.to_string().contains("not allowed"), "{denied}");
    let denied = call("plugin:store|delete", json!({ "rid": 1, "key": "x" })).unwrap_err();
    assert!(denied.to_string().contains("not allowed"), "{denied}");
}

/// The checklist against a host and an API that refuse connections (port 1 on loopback): the
/// report still has every domain in order, names where to look first, and lands in history.
#[test]
fn checklist_runs_reports_and_records_history() {
    let h = harness();
    assert_eq!(h.err("run_checks", json!({ "op_id": "c0", "on_progress": "__CHANNEL__:20" })), "invalid_state");
    h.ok("set_anthropic_base_url", json!({ "url": "http://127.0.0.1:1" }));
    h.ok("add_instance", json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "ssh_host": "127.0.0.1", "ssh_port": 1, "ssh_user": "openclaw" } }));
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    let key = fake_key(11);
    h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": key }));
    assert_eq!(h.ok("last_checks", json!({})), json!([]));

    let fleet = h.ok("run_checks", json!({ "op_id": "c1", "on_progress": "__CHANNEL__:21", "name": "acme-prod" }));
    assert!(!fleet.to_string().contains(&key[20..60]), "the check report leaks the key");
    let r = &fleet["instances"][0];
    assert_eq!(r["instance"], "acme-prod");
    let domains: Vec<&str> = r["domains"].as_array().unwrap().iter().map(|d| d["domain"].as_str().unwrap()).collect();
    assert_eq!(domains, ["credential", "account-context", "protocol", "throughput", "boundary"]);
    assert_eq!(r["status"], "fail", "{r}");
    assert!(r["first_failing_domain"].is_string(), "{r}");
    let failing = r["checks"].as_array().unwrap().iter().find(|c| c["status"] == "fail").unwrap();
    assert!(failing["fix"].as_str().is_some_and(|f| !f.is_empty()), "{failing}");
    assert_eq!(fleet["fleet_checks"], json!([]));

    let hist = h.ok("check_history", json!({ "name": "acme-prod" }));
    assert_eq!(hist.as_array().unwrap().len(), 1);
    assert_eq!(hist[0]["first_failing_domain"], r["first_failing_domain"]);
    let last = h.ok("last_checks", json!({}));
    assert_eq!(last[0]["id"], hist[0]["id"]);
    let stored = h.ok("check_report", json!({ "name": "acme-prod", "id": hist[0]["id"] }));
    assert_eq!(stored["checks"], r["checks"]);

    // The whole fleet, API checks only.
    let fleet = h.ok("run_checks", json!({ "op_id": "c2", "on_progress": "__CHANNEL__:22", "request": { "skip_host": true } }));
    assert_eq!(fleet["instances"].as_array().unwrap().len(), 1);
    assert_eq!(h.ok("check_history", json!({ "name": "acme-prod", "limit": 5 })).as_array().unwrap().len(), 2);

    assert_eq!(h.err("run_checks", json!({ "op_id": "c3", "on_progress": "__CHANNEL__:23", "name": "nope" })), "not_found");
    assert_eq!(h.err("check_history", json!({ "name": "nope" })), "not_found");
    assert_eq!(h.err("check_report", json!({ "name": "acme-prod", "id": 9999 })), "not_found");
}

#[test]
fn a_cancelled_check_fails_with_cancelled() {
    let ops = Arc::new(clawkeep_desktop::ops::Operations::default());
    let op = ops.start("op-c").unwrap();
    let token = op.token();
    assert!(ops.cancel("op-c"));
    assert!(token.is_cancelled());
    let dir = tempfile::tempdir().unwrap();
    let core = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    core.add_instance(
        serde_json::from_value(json!({ "name": "acme-prod", "owner": "acme", "environment": "prod", "ssh_host": "127.0.0.1", "ssh_port": 1, "ssh_user": "openclaw" })).unwrap(),
    )
    .unwrap();
    let e = core.run_checks(&["acme-prod".into()], &Default::default(), 4, &clawkeep_core::SshCredentials::Configured, &token, Arc::new(|_, _, _| {})).unwrap_err();
    assert_eq!(e.code(), "cancelled");
}

/// Host trust and deploy against a host that refuses connections (loopback port 1): errors
/// carry their codes, a deploy that cannot reach its host comes back as a report (refused or
/// failed, recorded in the history) and never carries the key.
#[test]
fn host_trust_and_deploy_report_and_record() {
    let h = harness();
    h.ok("add_instance", json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "ssh_host": "127.0.0.1", "ssh_port": 1, "ssh_user": "openclaw" } }));
    assert_eq!(h.err("probe_host_key", json!({ "name": "nope" })), "not_found");
    assert_eq!(h.err("probe_host_key", json!({ "name": "acme-prod" })), "ssh_connect");
    assert_eq!(h.err("trust_host_key", json!({ "name": "acme-prod", "fingerprint": "SHA256:x" })), "ssh_connect");

    assert_eq!(h.err("deploy_plan", json!({ "op_id": "d0", "on_progress": "__CHANNEL__:30", "name": "acme-prod" })), "no_active_key"); // its own code (was the catch-all invalid_state)
    assert_eq!(h.err("deploy_plan", json!({ "op_id": "d0", "on_progress": "__CHANNEL__:30", "name": "nope" })), "not_found");
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    let key = fake_key(21);
    h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": key }));
    assert_eq!(h.ok("deployments", json!({ "name": "acme-prod" })), json!([]));

    let r = h.ok("deploy_plan", json!({ "op_id": "d1", "on_progress": "__CHANNEL__:31", "name": "acme-prod" }));
    assert!(!r.to_string().contains(&key[20..60]), "the deploy report leaks the key");
    assert!(["refused", "failed"].contains(&r["outcome"].as_str().unwrap()), "{r}");
    assert!(["host_key_unknown", "ssh_connect"].contains(&r["error"]["code"].as_str().unwrap()), "{r}");
    assert_eq!(r["key_hint"], json!(format!("{}...{}", &key[..16], &key[key.len() - 4..])));

    let r = h.ok("deploy_apply", json!({ "op_id": "d2", "on_progress": "__CHANNEL__:32", "name": "acme-prod", "plan_digest": "0", "remove_stale": false }));
    assert!(["refused", "failed"].contains(&r["outcome"].as_str().unwrap()), "{r}");
    let hist = h.ok("deployments", json!({ "name": "acme-prod" }));
    assert!(!hist.as_array().unwrap().is_empty());
    assert!(!hist.to_string().contains(&key[20..60]));
}

/// Fleet deploy over IPC: an empty selection is refused; a draft or keyless instance is listed
/// as not started; a host that refuses connections fails on its own without stopping the
/// others; the key never comes back.
#[test]
fn fleet_deploy_reports_per_host() {
    let h = harness();
    assert_eq!(h.err("deploy_fleet", json!({ "op_id": "f0", "on_progress": "__CHANNEL__:40", "targets": [], "apply": false, "remove_stale": false })), "invalid_input");
    for (n, port) in [("acme-prod", 1), ("acme-stage", 1)] {
        h.ok(
            "add_instance",
            json!({ "spec": { "name": n, "owner": "acme", "environment": "prod", "workload": n, "ssh_host": "127.0.0.1", "ssh_port": port, "ssh_user": "openclaw" } }),
        );
    }
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    let key = fake_key(41);
    h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": key }));
    let targets = json!([{ "instance": "acme-prod", "plan_digest": null }, { "instance": "acme-stage", "plan_digest": null }, { "instance": "nope", "plan_digest": null }]);
    let r = h.ok("deploy_fleet", json!({ "op_id": "f1", "on_progress": "__CHANNEL__:41", "targets": targets, "apply": false, "remove_stale": false }));
    assert!(!r.to_string().contains(&key[20..60]), "the fleet report leaks the key");
    let results = r["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "{r}");
    assert_eq!(results[0]["instance"], "acme-prod");
    assert!(["refused", "failed"].contains(&results[0]["outcome"].as_str().unwrap()), "{r}");
    let not_started: Vec<&str> = r["not_started"].as_array().unwrap().iter().map(|n| n["instance"].as_str().unwrap()).collect();
    assert_eq!(not_started, ["acme-stage", "nope"], "{r}");
    assert_eq!(r["not_started"][1]["error"]["code"], "not_found");
}

/// The SSH key passphrase: checked against the encrypted key file, kept for the session only,
/// never echoed; nothing to unlock with the agent.
#[test]
fn ssh_key_unlock_for_the_session() {
    let h = harness();
    assert_eq!(h.ok("ssh_key_status", json!({})), json!(null), "the agent needs no unlock");
    assert_eq!(h.err("unlock_ssh_key", json!({ "passphrase": "x" })), "invalid_state");
    let dir = tempfile::tempdir().unwrap();
    let kp = dir.path().join("id_enc");
    let made = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "open-sesame-9", "-f"]).arg(&kp).status().unwrap();
    assert!(made.success());
    h.ok("set_ssh_identity", json!({ "identity": { "kind": "key-file", "path": kp.to_string_lossy() } }));
    assert_eq!(h.ok("ssh_key_status", json!({})), json!(false));
    let e = h.call("unlock_ssh_key", json!({ "passphrase": "wrong-guess-12" })).unwrap_err();
    assert_eq!(e["code"], "invalid_input");
    assert!(!e.to_string().contains("wrong-guess-12"), "the passphrase is echoed: {e}");
    assert_eq!(h.ok("unlock_ssh_key", json!({ "passphrase": "open-sesame-9" })), json!(true));
    assert_eq!(h.ok("ssh_key_status", json!({})), json!(true));
    h.ok("lock_ssh_key", json!({}));
    assert_eq!(h.ok("ssh_key_status", json!({})), json!(false));
    let audit = h.ok("audit_log", json!({ "since": null, "subject": null, "limit": 20 })).to_string();
    assert!(audit.contains("ssh.unlock") && audit.contains("ssh.lock"), "{audit}");
    assert!(!audit.contains("open-sesame-9"), "the passphrase is in the audit log");
}

/// Rotation policies and the plan's export from the app: the built-in default, a stored
/// default and an owner policy that change the plan; bad values refused with codes; the .ics
/// and CSV written whole, with hints only.
#[test]
fn rotation_policies_and_export() {
    let h = harness();
    let p = h.ok("rotation_policies", json!({}));
    // the table is never empty: the built-in default is its first row until one is stored
    assert_eq!(p.as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p[0]["scope"]["kind"], "default", "{p}");
    assert!(p[0]["updated_at"].is_null(), "{p}");
    h.ok(
        "add_instance",
        json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "workload": "bot", "ssh_host": "127.0.0.1", "ssh_port": 1, "ssh_user": "openclaw" } }),
    );
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    let key = fake_key(51);
    h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": key }));
    let set = h.ok(
        "set_rotation_policy",
        json!({ "scope": { "kind": "owner", "owner": "acme" }, "spec": { "max_age_days": 30, "warn_days": 7, "weekday": "tue", "window": "09:00-11:00" } }),
    );
    assert_eq!(set["max_age_days"], 30);
    assert_eq!(set["window_start"], "09:00");
    let item = h.ok("rotation_plan", json!({}))["owners"][0]["items"][0].clone();
    assert_eq!(item["policy"]["max_age_days"], 30, "{item}");
    // The Fleet's rotation column: the same item's due facts, in columns, nothing else.
    let due = h.ok("fleet_due", json!({}));
    let at = |col: &str| due["dict"][due[col][0].as_u64().unwrap() as usize].clone();
    assert_eq!(at("status"), item["status"], "{due}");
    assert_eq!(at("due_reason"), item["due_reason"]);
    assert_eq!(due["days_left"][0], item["days_left"]);
    assert_eq!(due["in_progress"][0], u8::from(item["in_progress"].as_bool().unwrap()));
    let due_at = chrono::DateTime::parse_from_rfc3339(item["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(due["due_at"][0], due_at.timestamp());
    assert_eq!(due.as_object().unwrap().len(), 7, "{due}");
    assert_eq!(
        h.err(
            "set_rotation_policy",
            json!({ "scope": { "kind": "owner", "owner": "nobody" }, "spec": { "max_age_days": 30, "warn_days": null, "weekday": null, "window": null } })
        ),
        "not_found"
    );
    assert_eq!(
        h.err("set_rotation_policy", json!({ "scope": { "kind": "default" }, "spec": { "max_age_days": 0, "warn_days": null, "weekday": null, "window": null } })),
        "invalid_input"
    );
    assert_eq!(
        h.err("set_rotation_policy", json!({ "scope": { "kind": "default" }, "spec": { "max_age_days": null, "warn_days": null, "weekday": null, "window": "11:00-09:00" } })),
        "invalid_input"
    );

    // The file is the one chosen in the save dialog (run from Rust), never a path from the UI.
    let dir = tempfile::tempdir().unwrap();
    let ics = dir.path().join("plan.ics");
    h.save_to(Some(&ics));
    let done = h.ok("export_rotation_plan", json!({ "format": "ics" }));
    assert_eq!(done["keys"], json!(1));
    assert_eq!(done["path"], json!(ics.display().to_string()));
    let text = std::fs::read_to_string(&ics).unwrap();
    assert!(text.starts_with("BEGIN:VCALENDAR") && text.trim_end().ends_with("END:VCALENDAR") && text.contains("acme-prod"), "{text}");
    let csv = dir.path().join("plan.csv");
    h.save_to(Some(&csv));
    assert_eq!(h.ok("export_rotation_plan", json!({ "format": "csv" }))["keys"], json!(1));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains(&format!("{}...{}", &key[..16], &key[key.len() - 4..])), "the hint is listed: {text}");
    for f in [&ics, &csv] {
        assert!(!std::fs::read_to_string(f).unwrap().contains(&key[20..60]), "a key in the export");
    }
    h.save_to(Some(std::path::Path::new("")));
    assert_eq!(h.err("export_rotation_plan", json!({ "format": "csv" })), "invalid_input");
    h.save_to(Some(dir.path()));
    assert_eq!(h.err("export_rotation_plan", json!({ "format": "csv" })), "invalid_input");
    h.save_to(Some(&csv));
    assert!(h.call("export_rotation_plan", json!({ "format": "pdf" })).is_err());
    let audit = h.ok("audit_log", json!({ "since": null, "subject": null, "limit": 50 })).to_string();
    assert_eq!(audit.matches("rotation.export").count(), 2, "{audit}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn rotation_plan_wizard_and_rollback() {
    let h = harness();
    h.ok("set_anthropic_base_url", json!({ "url": "http://127.0.0.1:1" }));
    let empty = h.ok("rotation_plan", json!({}));
    assert_eq!(empty["owners"], json!([]));
    h.ok(
        "add_instance",
        json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "workload": "support", "ssh_host": "127.0.0.1", "ssh_port": 1, "ssh_user": "openclaw" } }),
    );
    assert_eq!(h.ok("rotation_plan", json!({}))["without_key"], json!(["acme-prod"]));
    assert_eq!(h.err("rotation_start", json!({ "name": "nope" })), "not_found");
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    let key = fake_key(31);
    h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": key }));

    let plan = h.ok("rotation_plan", json!({}));
    let item = &plan["owners"][0]["items"][0];
    assert_eq!(item["instance"], "acme-prod");
    assert!(item["suggested_key_name"].as_str().unwrap().starts_with("openclaw-acme-prod"), "{item}");
    assert_eq!(item["blast_radius"]["agents"], json!(["main"]));

    let rot = h.ok("rotation_start", json!({ "name": "acme-prod", "options": { "manual_deploy": true } }));
    assert_eq!(rot["step"], "paste");
    assert_eq!(h.ok("open_rotations", json!({})).as_array().unwrap().len(), 1);
    assert_eq!(h.ok("rotation", json!({ "name": "acme-prod" }))["id"], rot["id"]);
    assert_eq!(h.err("rotation_start", json!({ "name": "acme-prod" })), "conflict");
    // A malformed paste is refused with the key-format code and nothing of it comes back.
    let bad = format!("{} {}", &fake_key(32)[..30], &fake_key(32)[30..]);
    let e = h.call("rotation_step", json!({ "name": "acme-prod", "value": bad, "confirm": false, "remove_stale": false })).unwrap_err();
    assert!(["key_format", "invalid_input"].contains(&e["code"].as_str().unwrap()), "{e}");
    assert!(!e.to_string().contains(&bad[40..80]));

    let r = h.ok("rotation_rollback", json!({ "name": "acme-prod", "confirm": true }));
    assert_eq!(r["rotation"]["outcome"], "rolled_back", "{r}");
    assert_eq!(h.ok("open_rotations", json!({})), json!([]));
    assert_eq!(h.err("rotation_step", json!({ "name": "acme-prod", "confirm": true, "remove_stale": false })), "no_rotation"); // its own code (was the catch-all invalid_state)
    assert!(!h.ok("audit_log", json!({})).to_string().contains(&key[20..60]));
}

/// Issue 12 finding 9: an export to the database (or anywhere in the data directory) is refused
/// and the database is untouched; a path the UI sends is ignored — only the dialog's counts; a
/// cancelled dialog writes nothing.
#[test]
fn export_goes_only_to_the_dialogs_path_and_never_into_the_data_dir() {
    let h = harness();
    h.add_acme();
    let db = h.dir.path().join("data/clawkeep.db");
    assert!(db.is_file(), "the database is at {}", db.display());
    let before = std::fs::read(&db).unwrap();
    for target in [db.clone(), h.dir.path().join("data/plan.csv"), h.dir.path().join("data/../data/clawkeep.db")] {
        h.save_to(Some(&target));
        assert_eq!(h.err("export_rotation_plan", json!({ "format": "csv" })), "invalid_input", "{}", target.display());
    }
    assert_eq!(std::fs::read(&db).unwrap(), before, "the database was overwritten");
    assert!(!h.dir.path().join("data/plan.csv").exists());
    assert_eq!(h.ok("list_instances", json!({})).as_array().unwrap().len(), 1);

    let out = tempfile::tempdir().unwrap();
    let chosen = out.path().join("chosen.csv");
    let asked = out.path().join("from-the-ui.csv");
    h.save_to(Some(&chosen));
    h.ok("export_rotation_plan", json!({ "format": "csv", "path": asked.to_string_lossy() }));
    assert!(chosen.is_file() && !asked.exists(), "the UI named the file");
    h.save_to(None);
    std::fs::remove_file(&chosen).unwrap();
    assert_eq!(h.ok("export_rotation_plan", json!({ "format": "csv" })), Value::Null, "cancelled");
    assert!(!chosen.exists());
}

/// Issue 12 finding 9: the preferences are one file the app fixes; the UI reads and writes
/// known keys only, and (real capability) cannot reach the store plugin's `load`, which
/// resolves any absolute path — e.g. a store over the database or outside the app's directory.
#[test]
fn prefs_are_one_fixed_file_and_the_store_plugin_is_out_of_reach() {
    let h = harness();
    assert_eq!(h.ok("prefs_load", json!({})), json!({}));
    h.ok("prefs_save", json!({ "key": "theme", "value": "dark" }));
    h.ok("prefs_save", json!({ "key": "fleetColumns", "value": ["name", "owner"] }));
    assert_eq!(h.ok("prefs_load", json!({})), json!({ "theme": "dark", "fleetColumns": ["name", "owner"] }));
    assert!(std::fs::read_to_string(h.dir.path().join("prefs.json")).unwrap().contains("dark"));
    for key in ["window", "../../etc/passwd", "/tmp/x.json", ""] {
        assert_eq!(h.err("prefs_save", json!({ "key": key, "value": 1 })), "invalid_input", "{key}");
    }
    assert_eq!(h.err("prefs_save", json!({ "key": "theme", "value": "x".repeat(20_000) })), "invalid_input");

    let dir = tempfile::tempdir().unwrap();
    let core = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().join("data")), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    let app = clawkeep_desktop::register(mock_builder())
        .plugin(tauri_plugin_store::Builder::default().build())
        .manage(CoreState::from_core(core))
        .build(tauri::generate_context!())
        .unwrap();
    manage_files(&app, dir.path());
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    let call = |cmd: &str, body: Value| get_ipc_response(&window, crate::request(cmd, body)).map(|b| b.deserialize::<Value>().unwrap());
    let outside = dir.path().join("outside/evil.json");
    let db = dir.path().join("data/clawkeep.db");
    for path in [outside.clone(), db.clone()] {
        let denied = call("plugin:store|load", json!({ "path": path.to_string_lossy(), "options": { "autoSave": false } })).unwrap_err();
        assert!(denied.to_string().contains("not allowed"), "{denied}");
    }
    for cmd in ["plugin:store|set", "plugin:store|save", "plugin:store|get"] {
        let denied = call(cmd, json!({ "rid": 1, "key": "x", "value": 1 })).unwrap_err();
        assert!(denied.to_string().contains("not allowed"), "{cmd}: {denied}");
    }
    assert!(!outside.exists());
    call("prefs_save", json!({ "key": "theme", "value": "light" })).unwrap();
    assert_eq!(call("prefs_load", json!({})).unwrap(), json!({ "theme": "light" }));
}

/// Issue 12 finding 9: the desktop's fleet deploy applies reviewed plans only — an apply whose
/// targets lack the reviewed plan's digest is refused (`plan_not_reviewed`) before any host is
/// contacted, and nothing is recorded.
#[test]
fn deploy_fleet_apply_without_a_reviewed_digest_is_refused() {
    let h = harness();
    h.add_acme();
    let name = h.ok("suggest_key_name", json!({ "instance": "acme-prod" }));
    h.ok("add_key", json!({ "spec": { "name": name, "instance": "acme-prod" }, "value": fake_key(61) }));
    for targets in [json!([{ "instance": "acme-prod" }]), json!([{ "instance": "acme-prod", "plan_digest": null }]), json!([{ "instance": "acme-prod", "plan_digest": "" }])] {
        let e = h
            .call("deploy_fleet", json!({ "op_id": "f1", "on_progress": "__CHANNEL__:40", "targets": targets, "apply": true, "remove_stale": false }))
            .expect_err("an apply without the reviewed plan");
        assert_eq!(e["code"], "plan_not_reviewed", "{e}");
        assert!(e["message"].as_str().unwrap().contains("acme-prod"), "{e}");
    }
    assert_eq!(h.ok("deployments", json!({ "name": null, "limit": 10 })), json!([]));
}

/// Every command the app registers is declared in build.rs and allowed by the main capability:
/// the mock runtime does not enforce permissions, so a command missing from either works here and
/// fails in the real window ("<command> not allowed. Command not found"; found by the GUI journey
/// for `spend_limits`).
#[test]
fn every_registered_command_is_declared_and_allowed() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let lib = read("src/lib.rs");
    let start = lib.find("generate_handler![").expect("the handler list");
    let end = start + lib[start..].find(']').unwrap();
    let registered: std::collections::BTreeSet<String> =
        lib[start..end].split(',').filter_map(|e| e.trim().rsplit("::").next().map(str::trim).filter(|n| !n.is_empty() && !n.contains('[')).map(String::from)).collect();
    assert!(registered.len() > 30, "{registered:?}");
    let build = read("build.rs");
    let caps: Value = serde_json::from_str(&read("capabilities/main.json")).unwrap();
    let allowed: Vec<String> = caps["permissions"].as_array().unwrap().iter().filter_map(|p| p.as_str().map(String::from)).collect();
    for cmd in &registered {
        assert!(build.contains(&format!("\"{cmd}\"")), "{cmd} is registered but not declared in build.rs COMMANDS");
        let perm = format!("allow-{}", cmd.replace('_', "-"));
        assert!(allowed.contains(&perm), "{cmd} is registered but {perm} is not in capabilities/main.json");
    }
}
