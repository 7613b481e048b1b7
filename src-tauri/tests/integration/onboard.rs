//! The onboarding wizard's commands on Tauri's mock runtime (no host: the flows that reach
//! sshd test hosts are in the canary, `canary.rs`, and the GUI journey): reading a batch from
//! pasted text, a file chosen in the (fixed) open dialog and an ssh config; trusted
//! fingerprints; and the refusals — an empty batch, an unreachable host, a malformed
//! fingerprint, an apply that does not carry the preview's digests.

use std::sync::Arc;

use clawkeep_core::{Clawkeep, MemoryKeychain, OpenOptions};
use clawkeep_desktop::onboard::{FixedOpenPath, OpenDialog};
use clawkeep_desktop::CoreState;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

struct Harness {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    dir: tempfile::TempDir,
    open: Arc<FixedOpenPath>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let core = Clawkeep::open(OpenOptions {
        data_dir: Some(dir.path().join("data")),
        keychain: Some(Arc::new(MemoryKeychain::new())),
        os_user: Some("tester".into()),
        ..Default::default()
    })
    .unwrap();
    let app = clawkeep_desktop::register(mock_builder()).manage(CoreState::from_core(core)).build(mock_context(noop_assets())).unwrap();
    let open = Arc::new(FixedOpenPath::default());
    app.manage(OpenDialog(open.clone()));
    let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Harness { _app: app, window, dir, open }
}

impl Harness {
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
}

#[test]
fn a_batch_comes_from_pasted_text_a_chosen_file_or_the_ssh_config() {
    let h = harness();
    // Pasted: a CSV table, or a list of [user@]host[:port].
    let b = h.ok("onboard_parse_hosts", json!({ "text": "name,host,port,user\nacme-prod-web,127.0.1.2,2222,ops\nglobex-dev,127.0.1.3\n" }));
    assert_eq!(b["errors"], json!([]));
    assert_eq!(b["hosts"][0], json!({ "name": "acme-prod-web", "host": "127.0.1.2", "port": 2222, "user": "ops" }));
    assert_eq!(b["hosts"][1]["port"], 22);
    let b = h.ok("onboard_parse_hosts", json!({ "text": "ops@127.0.1.4:2200, 127.0.1.5" }));
    assert_eq!(b["hosts"].as_array().unwrap().len(), 2, "{b}");
    // Bad rows come back with their line, and no host.
    let b = h.ok("onboard_parse_hosts", json!({ "text": "ok,127.0.1.2\nbad,127.0.1.3,99999\n" }));
    assert_eq!(b["hosts"], json!([]));
    assert_eq!(b["errors"][0]["line"], 2, "{b}");

    // A file chosen in the open dialog (a fixed answer here); cancelled: null.
    let file = h.dir.path().join("fleet.tsv");
    std::fs::write(&file, "name\thost\tport\nweb-1\t127.0.1.9\t22\n").unwrap();
    *h.open.0.lock().unwrap() = Some(file.clone());
    let f = h.ok("onboard_open_file", json!({ "kind": "hosts" }));
    assert_eq!(f["kind"], "hosts");
    assert_eq!(f["source"], "fleet.tsv", "only the file name is shown");
    assert_eq!(f["hosts"][0]["name"], "web-1");
    *h.open.0.lock().unwrap() = None;
    assert_eq!(h.ok("onboard_open_file", json!({ "kind": "hosts" })), Value::Null);
    // The webview cannot name a path: there is no argument for one.
    *h.open.0.lock().unwrap() = Some(file.clone());
    let f = h.ok("onboard_open_file", json!({ "kind": "hosts", "path": "/etc/shadow" }));
    assert_eq!(f["source"], "fleet.tsv");
    // Not text: refused with a code.
    std::fs::write(&file, [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(h.err("onboard_open_file", json!({ "kind": "hosts" })), "invalid_input");

    // Trusted fingerprints: pasted or from a file (provider list or ssh-keyscan lines).
    let fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    let t = h.ok("onboard_parse_fingerprints", json!({ "text": format!("127.0.1.2:2222 {fp}\n") }));
    assert_eq!(t["hosts"], 1, "{t}");
    assert_eq!(t["errors"], json!([]));
    std::fs::write(&file, format!("127.0.1.2 {fp}\n127.0.1.3 {fp}\n")).unwrap();
    let t = h.ok("onboard_open_file", json!({ "kind": "fingerprints" }));
    assert_eq!((t["kind"].as_str(), t["hosts"].as_u64()), (Some("fingerprints"), Some(2)), "{t}");
    let t = h.ok("onboard_parse_fingerprints", json!({ "text": "127.0.1.2 not-a-fingerprint\n" }));
    assert_eq!(t["hosts"], 0);
    assert_eq!(t["errors"][0]["line"], 1, "{t}");

    // The ssh config of a home directory (the command reads $HOME's).
    let home = h.dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/config"), "Host acme-web\n  HostName 127.0.1.2\n  User ops\n  Port 2222\nHost *\n  ServerAliveInterval 5\n").unwrap();
    let b = clawkeep_desktop::onboard::ssh_config_batch(&home).unwrap();
    assert_eq!(b.hosts.len(), 1);
    assert_eq!((b.hosts[0].name.as_str(), b.hosts[0].port, b.hosts[0].user.as_deref()), ("acme-web", 2222, Some("ops")));
    assert_eq!(clawkeep_desktop::onboard::ssh_config_batch(&h.dir.path().join("nohome")).unwrap_err().code, "io");
}

#[test]
fn onboarding_refusals_carry_stable_codes() {
    let h = harness();
    let host = json!({ "name": "acme-web", "host": "127.0.0.1", "port": 1, "user": "ops" });
    assert_eq!(h.err("onboard_fetch_host_keys", json!({ "op_id": "o0", "on_progress": "__CHANNEL__:50", "hosts": [] })), "invalid_input");
    // Nothing answers on port 1: the host is reported unreachable, the call succeeds.
    let fetched = h.ok("onboard_fetch_host_keys", json!({ "op_id": "o1", "on_progress": "__CHANNEL__:51", "hosts": [host] }));
    assert_eq!(fetched[0]["status"], "unreachable", "{fetched}");
    assert_eq!(fetched[0]["presented"], Value::Null);
    let fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    // A fingerprint that is not one is refused before anything is contacted.
    let bad = json!([{ "host": host, "fingerprint": "md5:aa" }]);
    assert_eq!(h.err("onboard_preview", json!({ "op_id": "o2", "on_progress": "__CHANNEL__:52", "hosts": bad })), "invalid_input");
    // The webview cannot apply what it did not preview: every host must carry its digest.
    let unreviewed = json!([{ "host": host, "fingerprint": fp }]);
    assert_eq!(h.err("onboard_apply", json!({ "op_id": "o3", "on_progress": "__CHANNEL__:53", "hosts": unreviewed, "adopt": ["acme-web"] })), "plan_not_reviewed");
    // The preview of an unreachable host: reported per host, nothing written.
    let confirmed = json!([{ "host": host, "fingerprint": fp }]);
    let r = h.ok("onboard_preview", json!({ "op_id": "o4", "on_progress": "__CHANNEL__:54", "hosts": confirmed, "defaults": { "owner": "acme" } }));
    assert_eq!(r["applied"], false);
    assert_eq!(r["hosts"][0]["status"], "unreachable", "{r}");
    assert_eq!(r["hosts"][0]["digest"], Value::Null);
    // With a digest (of a host that cannot be discovered now): nothing is written for it.
    let reviewed = json!([{ "host": host, "fingerprint": fp, "preview_digest": "0".repeat(64) }]);
    let r = h.ok("onboard_apply", json!({ "op_id": "o5", "on_progress": "__CHANNEL__:55", "hosts": reviewed, "adopt": [] }));
    assert_eq!(r["hosts"][0]["record"], "not_written", "{r}");
    assert_eq!(h.ok("list_instances", json!({})), json!([]));
    // Operation ids are checked like every long operation's.
    assert_eq!(h.err("onboard_fetch_host_keys", json!({ "op_id": "", "on_progress": "__CHANNEL__:56", "hosts": [host] })), "invalid_input");
}
