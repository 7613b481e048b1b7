//! The team vault's commands (issue 15) through Tauri's mock runtime, for two members with their
//! own data dirs and keychain services in the real Secret Service (run under
//! `scripts/with-secret-service.sh`), the real `git` with a local bare repository, SSH signing
//! keys made by `ssh-keygen` at run time, and real SQLite files: join → init (create) → share →
//! status; invite + grant; the second member's init (attach: history verified, imported); a
//! teammate's change synced ("N changes from teammates"); a conflict with both versions as
//! data; offboarding listing the keys to rotate. No reply may hold a key value or the identity.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use clawkeep_core::{Clawkeep, Keychain, OpenOptions, OsKeychain};
use clawkeep_desktop::CoreState;
use serde_json::{json, Value};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, MockRuntime};
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

struct Desk {
    _app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
    keychain: Arc<OsKeychain>,
    key: std::path::PathBuf,
    channel: std::cell::Cell<u32>,
    /// Every reply, to scan for secrets at the end.
    replies: std::cell::RefCell<Vec<String>>,
}

impl Desk {
    fn new(dir: &Path, name: &str) -> Desk {
        let key = dir.join(format!("{name}_signing"));
        let o = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"]).arg(&key).output().expect("ssh-keygen");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let keychain = Arc::new(OsKeychain::new(format!("clawkeep-desktop-team-{name}-{}-{nanos}", std::process::id())));
        let core =
            Clawkeep::open(OpenOptions { data_dir: Some(dir.join(format!("{name}-data"))), keychain: Some(keychain.clone()), os_user: Some(name.into()), ..Default::default() })
                .unwrap();
        let app = clawkeep_desktop::register(mock_builder()).manage(CoreState::from_core(core)).build(mock_context(noop_assets())).unwrap();
        let window = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
        Desk { _app: app, window, keychain, key, channel: std::cell::Cell::new(40), replies: Default::default() }
    }

    fn call(&self, cmd: &str, body: Value) -> Result<Value, Value> {
        let req = crate::request(cmd, body);
        let r = get_ipc_response(&self.window, req).map(|b| b.deserialize::<Value>().unwrap());
        self.replies.borrow_mut().push(match &r {
            Ok(v) | Err(v) => v.to_string(),
        });
        r
    }
    fn ok(&self, cmd: &str, body: Value) -> Value {
        self.call(cmd, body).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }
    fn err(&self, cmd: &str, body: Value) -> Value {
        let e = self.call(cmd, body).expect_err(cmd);
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        e
    }
    fn chan(&self) -> String {
        self.channel.set(self.channel.get() + 1);
        format!("__CHANNEL__:{}", self.channel.get())
    }
    fn join(&self, name: &str) -> Value {
        self.ok("team_join", json!({ "member": name, "signing_key": self.key.to_string_lossy() }))
    }
    fn init(&self, repo: &Path) -> Value {
        self.ok("team_init", json!({ "op_id": "team-init", "on_progress": self.chan(), "repository": repo.to_string_lossy() }))
    }
    fn sync(&self) -> Result<Value, Value> {
        self.call("team_sync", json!({ "op_id": "team-sync", "on_progress": self.chan() }))
    }
    fn set_workload(&self, workload: &str) {
        self.ok("edit_instance", json!({ "name": "acme-prod", "patch": { "workload": workload } }));
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        // The keychain entries this member made (the throw-away keyring goes with the bus anyway).
        let _ = self.keychain.delete(clawkeep_core::api::team::TEAM_IDENTITY_ACCOUNT);
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

#[test]
fn join_init_sync_invite_attach_conflict_remove() {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        panic!("run under scripts/with-secret-service.sh (real Secret Service)");
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("team.git");
    let o = Command::new("git").args(["init", "--quiet", "--bare", "-b", "main"]).arg(&repo).output().expect("git");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let alice = Desk::new(dir.path(), "alice");
    let bob = Desk::new(dir.path(), "bob");

    // Not in a team yet: the screen offers to join.
    assert_eq!(alice.ok("team_status", json!({})), Value::Null);
    assert_eq!(alice.err("team_sync", json!({ "op_id": "s0", "on_progress": alice.chan() }))["code"], "invalid_state");
    let bad = alice.err("team_join", json!({ "member": "Alice Smith", "signing_key": alice.key.to_string_lossy() }));
    assert_eq!(bad["code"], "invalid_input");

    // Join: public material only, and the same again from the status.
    let joined = alice.join("alice");
    let recipient = joined["recipient"].as_str().unwrap().to_string();
    assert!(recipient.starts_with("age1"), "{joined}");
    assert!(joined["signing_key"].as_str().unwrap().starts_with("ssh-ed25519 "), "{joined}");
    assert_eq!(joined["kept_identity"], false);
    let st = alice.ok("team_status", json!({}));
    assert_eq!((st["member"].clone(), st["remote"].clone(), st["role"].clone()), (json!("alice"), Value::Null, Value::Null));
    assert_eq!(st["recipient"], json!(recipient));
    assert_eq!(st["signing_key"], joined["signing_key"]);

    // Init on the empty bare repository: alice is its first admin.
    let init = alice.init(&repo);
    assert_eq!(init["created"], true, "{init}");
    assert_eq!(init["admins"], json!(["alice"]));

    // An instance and its key, shared by the next sync (encrypted), pushed.
    alice.ok(
        "add_instance",
        json!({ "spec": { "name": "acme-prod", "owner": "acme", "environment": "prod", "workload": "support", "ssh_host": "10.0.0.5", "ssh_user": "openclaw" } }),
    );
    let key_name = alice.ok("suggest_key_name", json!({ "instance": "acme-prod" })).as_str().unwrap().to_string();
    let value = clawkeep_core::testkeys::api_key(7);
    alice.ok("add_key", json!({ "spec": { "name": key_name, "instance": "acme-prod" }, "value": value }));
    let s = alice.sync().unwrap();
    assert_eq!(s["verified_commits"], 0, "{s}");
    assert_eq!(names(&s["shared_instances"]), ["acme-prod"]);
    assert_eq!(names(&s["shared_keys"]), [key_name.as_str()]);
    assert_eq!(s["pushed"], true);
    let st = alice.ok("team_status", json!({}));
    assert_eq!(st["role"], "admin", "{st}");
    assert_eq!(st["remote"], json!(repo.to_string_lossy()));
    assert_eq!(st["members"], json!([{ "name": "alice", "role": "admin", "owners": [] }]));
    assert!(st["last_sync"].as_str().is_some(), "{st}");
    assert_eq!(st["verified_head"], s["head"]);

    // Bob joins; attaching before an invite is refused and leaves him unattached.
    let bj = bob.join("bob");
    let refused = bob.err("team_init", json!({ "op_id": "i0", "on_progress": bob.chan(), "repository": repo.to_string_lossy() }));
    assert_eq!(refused["code"], "invalid_state", "{refused}");
    assert_eq!(bob.ok("team_status", json!({}))["remote"], Value::Null);
    // Only an admin invites; alice invites bob and grants him acme.
    alice.ok("team_invite", json!({ "member": "bob", "recipient": bj["recipient"], "signing_key": bj["signing_key"], "admin": false }));
    let g = alice.ok("team_grant", json!({ "member": "bob", "owner": "acme" }));
    assert_eq!(names(&g["reencrypted"]), [key_name.as_str()], "{g}");
    assert_eq!(alice.err("team_grant", json!({ "member": "bob", "owner": "acme" }))["code"], "conflict");

    // Bob attaches: the whole history verified, then imported.
    let init = bob.init(&repo);
    assert_eq!(init["created"], false, "{init}");
    assert_eq!(init["admins"], json!(["alice"]));
    assert_eq!(names(&init["sync"]["imported_instances"]), ["acme-prod"]);
    assert_eq!(names(&init["sync"]["imported_keys"]), [key_name.as_str()]);
    assert!(init["sync"]["verified_commits"].as_u64().unwrap() >= 4, "{init}");
    let st = bob.ok("team_status", json!({}));
    assert_eq!(st["role"], "member");
    assert_eq!(st["members"].as_array().unwrap().len(), 2);
    assert_eq!(bob.err("team_invite", json!({ "member": "carol", "recipient": recipient, "signing_key": bj["signing_key"], "admin": false }))["code"], "invalid_state");

    // A teammate's change: alice edits, syncs; bob's sync says one change from teammates.
    alice.set_workload("billing");
    let s = alice.sync().unwrap();
    assert_eq!(names(&s["shared_instances"]), ["acme-prod"], "{s}");
    let s = bob.sync().unwrap();
    assert_eq!(s["verified_commits"], 1, "{s}");
    assert_eq!(names(&s["updated_instances"]), ["acme-prod"]);
    assert_eq!(bob.ok("instance_detail", json!({ "name": "acme-prod" }))["instance"]["workload"], "billing");

    // Both change the same field: the second sync stops, both versions as data.
    alice.set_workload("sales");
    alice.sync().unwrap();
    bob.set_workload("ops");
    let e = bob.sync().unwrap_err();
    assert_eq!(e["code"], "team_conflict", "{e}");
    assert_eq!(e["detail"]["kind"], "team_conflict");
    let c = &e["detail"]["conflicts"];
    assert_eq!((c.as_array().unwrap().len(), c[0]["instance"].clone(), c[0]["field"].clone()), (1, json!("acme-prod"), json!("workload")), "{e}");
    assert!(c[0]["yours"].as_str().unwrap().contains("ops") && c[0]["theirs"].as_str().unwrap().contains("sales"), "{e}");
    assert_eq!(bob.ok("instance_detail", json!({ "name": "acme-prod" }))["instance"]["workload"], "ops", "nothing written");

    // Offboarding: every key bob could read is listed to rotate.
    let r = alice.ok("team_remove", json!({ "member": "bob" }));
    assert_eq!(names(&r["exposed_keys"]), [key_name.as_str()], "{r}");
    assert_eq!(alice.ok("team_status", json!({}))["members"].as_array().unwrap().len(), 1);
    // The Team screen's activity: the members' streams, newest first, in words; at most `limit`.
    let a = alice.ok("team_audit", json!({ "limit": 3 }));
    let rows: Vec<(&str, &str)> = a.as_array().unwrap().iter().map(|l| (l["member"].as_str().unwrap(), l["summary"].as_str().unwrap())).collect();
    assert_eq!(rows[0], ("alice", "removed bob from the team; 1 key exposed, to rotate"), "{a}");
    assert_eq!(rows.len(), 3, "{a}");
    let all = alice.ok("team_audit", json!({ "limit": 100 }));
    assert!(all.as_array().unwrap().iter().all(|l| l["member"] == "alice"), "bob never pushed a change, so he has no line: {all}");
    assert_eq!(all.as_array().unwrap().last().unwrap()["action"], "team.init");
    assert_eq!(alice.err("team_remove", json!({ "member": "alice" }))["code"], "invalid_state");

    // A teammate going around Clawkeep: an unsigned commit pushed straight to the repository is
    // refused on sync, with who, what and where as data, and nothing of it imported.
    let rogue = dir.path().join("rogue");
    let git = |args: &[&str]| {
        let o = Command::new("git").args(["-c", "user.name=mallory", "-c", "user.email=m@example.org", "-c", "commit.gpgsign=false"]).args(args).output().expect("git");
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    git(&["clone", "--quiet", &repo.to_string_lossy(), &rogue.to_string_lossy()]);
    let file = rogue.join("instances/acme-prod.txt");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"sales\""), "{text}");
    std::fs::write(&file, text.replace("\"sales\"", "\"stolen\"")).unwrap();
    git(&["-C", &rogue.to_string_lossy(), "add", "-A"]);
    git(&["-C", &rogue.to_string_lossy(), "commit", "--quiet", "-m", "change the workload"]);
    git(&["-C", &rogue.to_string_lossy(), "push", "--quiet", "origin", "HEAD:main"]);
    let before = alice.ok("team_status", json!({}))["verified_head"].clone();
    let e = alice.sync().unwrap_err();
    assert_eq!(e["code"], "team_refused", "{e}");
    assert_eq!(e["detail"]["kind"], "team_refused", "{e}");
    assert!(["commit", "who", "what", "path"].iter().all(|f| e["detail"][f].as_str().is_some_and(|v| !v.is_empty())), "{e}");
    assert_eq!(alice.ok("team_status", json!({}))["verified_head"], before, "the refused commit is not verified");
    assert_eq!(alice.ok("instance_detail", json!({ "name": "acme-prod" }))["instance"]["workload"], "sales", "nothing of it imported");

    // Bob leaves (back to a solo inventory): his team key moves into his own keychain.
    let left = bob.ok("team_leave", json!({}));
    assert_eq!(names(&left["kept_keys"]), [key_name.as_str()], "{left}");
    assert_eq!(bob.ok("team_status", json!({}))["remote"], Value::Null);
    assert_eq!(bob.ok("list_keys", json!({})).as_array().map(|a| a.len()), Some(1), "nothing lost");
    assert_eq!(bob.err("team_leave", json!({}))["code"], "invalid_state");

    // Nothing secret ever came back: no key value, no age identity.
    for d in [&alice, &bob] {
        for r in d.replies.borrow().iter() {
            assert!(!r.contains(&value) && !r.contains("AGE-SECRET-KEY"), "a reply holds a secret: {r}");
        }
    }
}
