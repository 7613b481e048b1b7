//! End-to-end tests of the `clawkeep` binary on real components: real SQLite files in a
//! throw-away data dir, the real Secret Service (gnome-keyring on a private D-Bus session),
//! and fake keys generated at run time. Every command, its `--json` form, and bad input.

use crate::common;

use common::*;

const KEY_NAME: &str = "openclaw-acme-prod-support-bot";

#[test]
fn instance_lifecycle_and_json() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    let list = w.run(&["--json", "instance", "list"]).ok().json();
    assert_eq!(list[0]["instance"]["name"], "acme-prod-1");
    assert_eq!(list[0]["instance"]["ssh_port"], 22);
    assert_eq!(list[0]["instance"]["state_dir"], "~/.openclaw");
    assert_eq!(list[0]["instance"]["agents"], serde_json::json!(["main"]));
    assert_eq!(list[0]["instance"]["service_manager"], serde_json::json!({"kind": "systemd-user", "unit": "openclaw-gateway"}));
    assert!(list[0]["active_key"].is_null());

    w.run(&["instance", "edit", "acme-prod-1", "--port", "2222", "--agent", "main", "--agent", "support", "--restart-cmd", "~/bin/restart-gw", "--tag", "eu"]).ok();
    let show = w.run(&["--json", "instance", "show", "acme-prod-1"]).ok().json();
    assert_eq!(show["instance"]["ssh_port"], 2222);
    assert_eq!(show["instance"]["agents"], serde_json::json!(["main", "support"]));
    assert_eq!(show["instance"]["service_manager"]["restart_command"], "~/bin/restart-gw");
    let human = w.run(&["instance", "show", "acme-prod-1"]).ok().stdout;
    assert!(human.contains("custom: ~/bin/restart-gw"), "{human}");

    // Search and filters.
    w.add_instance("globex-staging", "globex", "staging");
    let found = w.run(&["--json", "instance", "list", "--search", "GLOB"]).ok().json();
    assert_eq!(found.as_array().unwrap().len(), 1);
    let by_tag = w.run(&["--json", "instance", "list", "--tag", "eu"]).ok().json();
    assert_eq!(by_tag[0]["instance"]["name"], "acme-prod-1");

    // Rename, then remove.
    w.run(&["instance", "edit", "globex-staging", "--rename", "globex-stg"]).ok();
    w.run(&["instance", "show", "globex-stg"]).ok();
    let r = w.run(&["--json", "instance", "remove", "globex-stg", "--yes"]).ok().json();
    assert_eq!(r["instance"], "globex-stg");
    w.run(&["instance", "show", "globex-stg"]).fails(1);
}

#[test]
fn instance_bad_input() {
    let w = World::new();
    let cases: &[(&[&str], &str)] = &[
        (&["instance", "add", "Acme_Prod", "--host", "h", "--user", "u", "--owner", "o", "--env", "prod"], "not slug-safe"),
        (&["instance", "add", "a", "--user", "u", "--owner", "o", "--env", "prod"], "host: is required"),
        (&["instance", "add", "a", "--host=-oProxyCommand=x", "--user", "u", "--owner", "o", "--env", "prod"], "not a valid host name"),
        (&["instance", "add", "a", "--host", "h h", "--user", "u", "--owner", "o", "--env", "prod"], "not a valid host name"),
        (&["instance", "add", "a", "--host", "h", "--user", "Root;rm", "--owner", "o", "--env", "prod"], "not a valid SSH user"),
        (&["instance", "add", "a", "--host", "h", "--user", "u", "--env", "prod"], "owner: is required"),
        (&["instance", "add", "a", "--host", "h", "--user", "u", "--owner", "o"], "environment: is required"),
        (&["instance", "add", "a", "--host", "h", "--user", "u", "--owner", "o", "--env", "prod", "--state-dir", "rel/path"], "must be absolute"),
        (&["instance", "add", "a", "--host", "h", "--user", "u", "--owner", "o", "--env", "prod", "--agent", "a b"], "not a valid OpenClaw agent id"),
        (&["instance", "add", "a", "--host", "h", "--user", "u", "--owner", "o", "--env", "prod", "--workspace-id", "ws1"], "not a workspace id"),
    ];
    for (args, expect) in cases {
        let r = w.run(args).fails(1);
        assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("error[invalid_input]"), "{}", r.stderr);
    }
    // Usage errors exit 2.
    w.run(&["instance", "add", "a", "--port", "notaport"]).fails(2);
    w.run(&["instance", "frobnicate"]).fails(2);
    // Nothing was written by any of them.
    assert_eq!(w.run(&["--json", "instance", "list"]).ok().json(), serde_json::json!([]));
    // Duplicate names.
    w.add_instance("acme-prod-1", "acme", "prod");
    let r = w.run(&["--json", "instance", "add", "acme-prod-1", "--host", "h", "--user", "u", "--owner", "o", "--env", "prod"]).fails(1);
    assert_eq!(r.err_json()["error"]["code"], "conflict");
    // Unknown names.
    let r = w.run(&["--json", "instance", "show", "nope"]).fails(1);
    assert_eq!(r.err_json()["error"]["code"], "not_found");
}

#[test]
fn key_add_stores_secret_in_keychain_only() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    let key = api_key();
    let added = w.run_stdin(&["--json", "key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], &format!("{key}\n")).ok().json();
    let k = &added["key"];
    assert_eq!(k["status"], "active");
    assert_eq!(k["kind"], "api");
    assert_eq!(k["length"], 108);
    assert_eq!(k["hint"], format!("{}...{}", &key[..16], &key[104..]));
    assert_eq!(k["instance"], "acme-prod-1");
    assert_eq!(w.keychain_entries(), 1);

    // The fleet view shows the hint and age.
    let list = w.run(&["--json", "instance", "list"]).ok().json();
    assert_eq!(list[0]["active_key"]["hint"], k["hint"]);
    assert_eq!(list[0]["active_key"]["age_days"], 0);

    // A second key for the same instance is staged: one active key per instance.
    let second = w.run_stdin(&["--json", "key", "add", "openclaw-acme-prod-support-bot-2", "--instance", "acme-prod-1", "--stdin"], &api_key()).ok().json();
    assert_eq!(second["key"]["status"], "staged");

    // Reading from a file works too, and the self-check sees every secret.
    let file = w.data().join("..").join(format!("{}.key", w.service));
    std::fs::write(&file, format!("{}\r\n", oauth_key())).unwrap();
    w.run(&["key", "add", "openclaw-acme-prod-oauth", "--file", file.to_str().unwrap()]).ok();
    std::fs::remove_file(&file).unwrap();
    let sc = w.run(&["--json", "self-check"]).ok().json();
    assert_eq!(sc["keychain_ok"], true);
    assert_eq!(sc["keys"], 3);
    assert_eq!(sc["schema_version"], clawkeep_core::store::SCHEMA_VERSION);

    // Retire, remove: the keychain entry goes with the row, and the CLI says so.
    w.run(&["key", "retire", "openclaw-acme-prod-support-bot-2"]).ok();
    let shown = w.run(&["--json", "key", "show", "openclaw-acme-prod-support-bot-2"]).ok().json();
    assert_eq!(shown["status"], "retired");
    assert!(shown["retired_at"].is_string());
    let out = w.run(&["key", "remove", "openclaw-acme-prod-support-bot-2"]).ok().stdout;
    assert!(out.contains("deleted its keychain entry"), "{out}");
    assert_eq!(w.keychain_entries(), 2);

    // The active key needs --force; removing the instance removes its keys and entries.
    let r = w.run(&["key", "remove", KEY_NAME]).fails(1);
    assert!(r.stderr.contains("retire it first"), "{}", r.stderr);
    // The remedy is rendered as the command to run; with --json it is data too.
    assert!(r.stderr.contains(&format!("run: clawkeep key retire {KEY_NAME}")), "{}", r.stderr);
    let e = w.run(&["--json", "key", "remove", KEY_NAME]).fails(1).err_json();
    assert_eq!(e["error"]["code"], "key_active");
    assert_eq!(e["error"]["remedy"]["action"], "retire_key");
    assert_eq!(e["error"]["run"], format!("clawkeep key retire {KEY_NAME}   (or remove it with --force)"));
    let out = w.run(&["instance", "remove", "acme-prod-1", "--yes"]).ok().stdout;
    assert!(out.contains(&format!("Removed key {KEY_NAME} and deleted its keychain entry")), "{out}");
    assert_eq!(w.keychain_entries(), 1);
}

#[test]
fn malformed_keys_each_rejection_class() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    let k = api_key();
    let cases: Vec<(String, &str)> = vec![
        (format!("{}  {}", &k[..20], &k[20..]), "a space at position 21"),
        (format!("\"{k}\""), "a double quote at position 1"),
        (format!("'{k}'"), "a single quote at position 1"),
        (format!("{}\n{}", &k[..60], &k[60..]), "a line break at position 61"),
        (format!("{}\u{2026}{}", &k[..16], &k[104..]), "ellipsis ('\u{2026}') at position 17"),
        (format!("{}...{}", &k[..16], &k[104..]), "ellipsis ('...') at position 17"),
        (format!("{}\u{e9}{}", &k[..40], &k[41..]), "non-ASCII character (U+00E9) at position 41"),
        (format!("{}={}", &k[..40], &k[41..]), "the character '=' at position 41"),
        ("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789".to_string(), "known Anthropic prefix"),
        (["sk", "ant", "ort01-abcdefghijklmnopqrstuvwxyz0123456789"].join("-"), "refresh token"),
        (k[..30].to_string(), "looks truncated"),
        (String::new(), "the key is empty"),
    ];
    for (bad, expect) in cases {
        let r = w.run_stdin(&["--json", "key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], &bad).fails(1);
        let e = r.err_json();
        assert_eq!(e["error"]["code"], "key_format", "{expect}: {}", r.stderr);
        assert!(e["error"]["message"].as_str().unwrap().contains(expect), "{expect}: {}", r.stderr);
        assert!(!r.stderr.contains(&k[20..60]), "error echoes the key: {}", r.stderr);
    }
    // A key that cannot be valid (60 characters, one short, one too long, no AA ending) is
    // refused with the reason, and nothing is stored.
    let one_short = format!("{}AA", &k[..k.len() - 3]);
    let one_long = format!("{}xAA", &k[..k.len() - 2]);
    let no_aa = format!("{}Ab", &k[..k.len() - 2]);
    for (bad, expect) in [
        (&k[..60], "has 60 characters, but a api key has exactly 108: it looks truncated"),
        (&one_short, "looks truncated"),
        (&one_long, "extra characters"),
        (&no_aa, "does not end in 'AA'"),
    ] {
        let r = w.run_stdin(&["--json", "key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], bad).fails(1);
        assert_eq!(r.err_json()["error"]["code"], "key_format", "{}", r.stderr);
        assert!(r.stderr.contains(expect), "{expect}: {}", r.stderr);
        assert!(!r.stderr.contains(&k[20..60]), "error echoes the key: {}", r.stderr);
    }
    assert_eq!(w.keychain_entries(), 0);
    // Only with the explicit word that the format changed is a truncated-looking key accepted,
    // with the warning "looks truncated", and the override is audited.
    let r = w.run_stdin(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin", "--format-changed"], &k[..100]).ok();
    assert!(r.stderr.contains("looks truncated"), "{}", r.stderr);
    let audit = w.run(&["--json", "audit"]).ok().json();
    assert!(audit.as_array().unwrap().iter().any(|e| e["action"] == "key.add" && e["details"]["format_changed"] == true), "{audit}");
    // An admin key cannot be bound to an instance.
    let r = w.run_stdin(&["key", "add", "openclaw-acme-prod-admin", "--instance", "acme-prod-1", "--stdin"], &admin_key()).fails(1);
    assert!(r.stderr.contains("Admin API key"), "{}", r.stderr);
    assert_eq!(w.run(&["--json", "key", "list"]).ok().json().as_array().unwrap().len(), 1);
    assert_eq!(w.keychain_entries(), 1);
}

#[test]
fn key_passed_the_wrong_way_is_refused_without_echo() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    let k = api_key();
    for args in [vec!["key", "add", KEY_NAME, "--instance", "acme-prod-1", k.as_str()], vec!["key", "add", KEY_NAME, "--key", k.as_str()], vec!["instance", "add", k.as_str()]] {
        let r = w.run(&args).fails(2);
        assert!(r.stderr.contains("never accepted as command-line arguments"), "{}", r.stderr);
        assert!(!r.stderr.contains(&k[13..]), "echoed: {}", r.stderr);
    }
    // A bare value that is not key-shaped still gets a clear refusal, without echo.
    let r = w.run(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "hunter2-not-a-key"]).fails(1);
    assert!(r.stderr.contains("never taken from the command line"), "{}", r.stderr);
    assert!(!r.stderr.contains("hunter2"), "{}", r.stderr);
    // No key on stdin and no terminal: say how to give one.
    let r = w.run(&["key", "add", KEY_NAME, "--instance", "acme-prod-1"]).fails(1);
    assert!(r.stderr.contains("--stdin"), "{}", r.stderr);
    assert_eq!(w.keychain_entries(), 0);
}

#[test]
fn duplicates_and_binding_rules() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    w.add_instance("acme-prod-2", "acme", "prod");
    let k = api_key();
    w.run_stdin(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], &k).ok();
    // The same name again.
    let r = w.run_stdin(&["--json", "key", "add", KEY_NAME, "--instance", "acme-prod-2", "--stdin"], &api_key()).fails(1);
    assert_eq!(r.err_json()["error"]["code"], "conflict");
    // The same secret under another name, for another instance: the failure Clawkeep exists to prevent.
    let r = w.run_stdin(&["key", "add", "openclaw-acme-prod-other", "--instance", "acme-prod-2", "--stdin"], &k).fails(1);
    assert!(r.stderr.contains("already stored as 'openclaw-acme-prod-support-bot', serving instance 'acme-prod-1'"), "{}", r.stderr);
    // Binding a key that serves another instance.
    let r = w.run(&["--json", "key", "bind", KEY_NAME, "--instance", "acme-prod-2"]).fails(1);
    assert_eq!(r.err_json()["error"]["code"], "key_bound_elsewhere");
    // An unbound key binds, and becomes the active key of an instance without one.
    w.run_stdin(&["key", "add", "openclaw-acme-prod-spare", "--stdin"], &api_key()).ok();
    let b = w.run(&["--json", "key", "bind", "openclaw-acme-prod-spare", "--instance", "acme-prod-2"]).ok().json();
    assert_eq!(b["status"], "active");
    assert_eq!(b["instance"], "acme-prod-2");
    assert_eq!(w.keychain_entries(), 2);
}

#[test]
fn names_failing_the_scheme() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    for bad in ["test", "new-key", "claude-prod-final", "openclaw-acme-dev", "openclaw-globex-prod"] {
        let r = w.run_stdin(&["--json", "key", "add", bad, "--instance", "acme-prod-1", "--stdin"], &api_key()).fails(1);
        let e = r.err_json();
        assert_eq!(e["error"]["code"], "key_name", "{bad}");
        assert!(e["error"]["message"].as_str().unwrap().contains(&format!("Suggested name: {KEY_NAME}")), "{bad}: {e}");
    }
    let suggested = w.run(&["key", "suggest-name", "--instance", "acme-prod-1"]).ok().stdout;
    assert_eq!(suggested.trim(), KEY_NAME);
    // The override is allowed and audited.
    w.run_stdin(&["key", "add", "claude-prod-final", "--instance", "acme-prod-1", "--stdin", "--allow-name"], &api_key()).ok();
    let audit = w.run(&["--json", "audit", "--subject", "claude-prod-final"]).ok().json();
    assert_eq!(audit[0]["action"], "key.add");
    assert_eq!(audit[0]["details"]["name_override"], true);
    assert_eq!(w.keychain_entries(), 1);
}

#[test]
fn audit_records_every_change() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    w.run(&["instance", "edit", "acme-prod-1", "--workload", "triage"]).ok();
    w.run_stdin(&["key", "add", "openclaw-acme-prod-triage", "--instance", "acme-prod-1", "--stdin"], &api_key()).ok();
    w.run(&["key", "retire", "openclaw-acme-prod-triage"]).ok();
    w.run(&["key", "remove", "openclaw-acme-prod-triage"]).ok();
    w.run(&["settings", "set-base-url", "http://127.0.0.1:9"]).ok();
    w.run(&["instance", "remove", "acme-prod-1", "--yes"]).ok();
    let events = w.run(&["--json", "audit"]).ok().json();
    let actions: Vec<&str> = events.as_array().unwrap().iter().rev().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["instance.add", "instance.edit", "key.add", "key.retire", "key.remove", "settings.set", "instance.remove"]);
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    assert!(events.as_array().unwrap().iter().all(|e| e["os_user"] == user.as_str() || e["os_user"].is_string()));
    assert_eq!(w.run(&["--json", "audit", "--since", "1h"]).ok().json().as_array().unwrap().len(), 7);
    assert_eq!(w.run(&["--json", "audit", "--since", "2999-01-01"]).ok().json().as_array().unwrap().len(), 0);
    w.run(&["audit", "--since", "yesterday-ish"]).fails(1);
    let human = w.run(&["audit"]).ok().stdout;
    assert!(human.contains("key.retire"), "{human}");
}

#[test]
fn settings_and_base_url_env() {
    let w = World::new();
    let s = w.run(&["--json", "settings", "show"]).ok().json();
    assert_eq!(s["anthropic_base_url"], "https://api.anthropic.com");
    assert_eq!(s["ssh_identity"]["kind"], "agent");
    w.run(&["settings", "set-base-url", "http://example.com"]).fails(1);
    w.run(&["settings", "set-ssh-identity", "--key-file", "/root/.ssh/id_ed25519"]).ok();
    let mut c = w.cmd();
    c.env("CLAWKEEP_ANTHROPIC_BASE_URL", "http://127.0.0.1:18555/").args(["--json", "settings", "show"]);
    let s = w.run_cmd(c, None).ok().json();
    assert_eq!(s["anthropic_base_url"], "http://127.0.0.1:18555");
    assert_eq!(s["anthropic_base_url_source"], "env");
    assert_eq!(s["ssh_identity"]["path"], "/root/.ssh/id_ed25519");
}

/// Issue 12 finding 7: the base URL is checked by its parsed host wherever it comes from — the
/// settings and `CLAWKEEP_ANTHROPIC_BASE_URL` (which was not checked at all): plain HTTP only
/// to a loopback host; a refused URL is a clear `api_bad_base_url` error, never used.
#[test]
fn base_url_plain_http_only_to_loopback() {
    let w = World::new();
    for bad in ["http://localhost@example.com", "http://localhost.example.com", "http://127.example.com", "https://user:pw@api.anthropic.com"] {
        let r = w.run(&["settings", "set-base-url", bad]).fails(1);
        assert!(r.stderr.contains("error[invalid_input]") && r.stderr.contains("refused Anthropic API base URL"), "{bad}: {}", r.stderr);
        assert!(!r.stderr.contains("pw@"), "the password was echoed: {}", r.stderr);
        let mut c = w.cmd();
        c.env("CLAWKEEP_ANTHROPIC_BASE_URL", bad).args(["settings", "show"]);
        let r = w.run_cmd(c, None).fails(1);
        assert!(r.stderr.contains("error[api_bad_base_url]") && r.stderr.contains("CLAWKEEP_ANTHROPIC_BASE_URL"), "{bad}: {}", r.stderr);
        let mut c = w.cmd();
        c.env("CLAWKEEP_ANTHROPIC_BASE_URL", bad).args(["--json", "settings", "show"]);
        let r = w.run_cmd(c, None).fails(1);
        let j: serde_json::Value = serde_json::from_str(r.stdout.trim()).or_else(|_| serde_json::from_str(r.stderr.trim())).unwrap_or_default();
        assert_eq!(j["error"]["code"], "api_bad_base_url", "{bad}: {} {}", r.stdout, r.stderr);
    }
    for good in ["http://localhost:18555", "http://[::1]:18555", "https://proxy.example.com/anthropic"] {
        w.run(&["settings", "set-base-url", good]).ok();
        let mut c = w.cmd();
        c.env("CLAWKEEP_ANTHROPIC_BASE_URL", good).args(["--json", "settings", "show"]);
        assert_eq!(w.run_cmd(c, None).ok().json()["anthropic_base_url"], good);
    }
    let s = w.run(&["--json", "settings", "show"]).ok().json();
    assert_eq!(s["anthropic_base_url"], "https://proxy.example.com/anthropic");
}

#[test]
fn import_ssh_config_as_drafts() {
    let w = World::new();
    let cfg = w.data().join("ssh_config");
    std::fs::write(&cfg, "Host web1\n  HostName 203.0.113.5\n  Port 2201\n  User deploy\nHost *\n  User nobody\nHost db_box\n  HostName db.internal\n").unwrap();
    let dry = w.run(&["--json", "instance", "import-ssh-config", "--file", cfg.to_str().unwrap(), "--dry-run"]).ok().json();
    assert_eq!(dry.as_array().unwrap().len(), 2);
    assert_eq!(w.run(&["--json", "instance", "list"]).ok().json(), serde_json::json!([]));
    let added = w.run(&["--json", "instance", "import-ssh-config", "--file", cfg.to_str().unwrap()]).ok().json();
    assert_eq!(added[0]["name"], "web1");
    assert_eq!(added[0]["ssh_port"], 2201);
    assert_eq!(added[0]["draft"], true);
    assert_eq!(added[1]["name"], "db-box");
    // A draft can't take a key until completed.
    let r = w.run_stdin(&["key", "add", "openclaw-acme-prod-web", "--instance", "web1", "--stdin"], &api_key()).fails(1);
    assert!(r.stderr.contains("is a draft"), "{}", r.stderr);
    w.run(&["instance", "edit", "web1", "--owner", "acme", "--env", "prod"]).ok();
    assert_eq!(w.run(&["--json", "instance", "show", "web1"]).ok().json()["instance"]["draft"], false);
    // Importing again adds nothing.
    assert_eq!(w.run(&["--json", "instance", "import-ssh-config", "--file", cfg.to_str().unwrap()]).ok().json(), serde_json::json!([]));
}

#[test]
fn missing_keychain_gives_cause_and_fix_and_writes_nothing() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    let k = api_key();
    for bus in [None, Some("unix:path=/nonexistent/clawkeep-test-bus")] {
        let mut c = w.cmd();
        c.env_remove("DISPLAY").args(["--json", "key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"]);
        match bus {
            None => c.env_remove("DBUS_SESSION_BUS_ADDRESS"),
            Some(b) => c.env("DBUS_SESSION_BUS_ADDRESS", b),
        };
        let r = w.run_cmd(c, Some(&k)).fails(1);
        let e = r.err_json();
        assert_eq!(e["error"]["code"], "keychain_unavailable", "{}", r.stderr);
        let msg = e["error"]["message"].as_str().unwrap();
        assert!(msg.contains("Secret Service") && msg.contains("gnome-keyring-daemon --unlock"), "{msg}");
        // Nothing half-written: no row.
        assert_eq!(w.run(&["--json", "key", "list"]).ok().json(), serde_json::json!([]));
    }
    let mut c = w.cmd();
    c.env_remove("DBUS_SESSION_BUS_ADDRESS").env_remove("DISPLAY").args(["self-check"]);
    let r = w.run_cmd(c, None).fails(1);
    assert!(r.stdout.contains("not reachable"), "{}", r.stdout);
}

#[test]
fn db_failure_after_keychain_write_removes_the_entry() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    {
        let db = rusqlite::Connection::open(w.data().join("clawkeep.db")).unwrap();
        db.execute_batch("CREATE TRIGGER inject_fault BEFORE INSERT ON keys BEGIN SELECT RAISE(ABORT, 'injected fault'); END;").unwrap();
    }
    let r = w.run_stdin(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], &api_key()).fails(1);
    assert!(r.stderr.contains("injected fault"), "{}", r.stderr);
    assert_eq!(w.keychain_entries(), 0, "the keychain write was not undone");
    let db = rusqlite::Connection::open(w.data().join("clawkeep.db")).unwrap();
    let n: i64 = db.query_row("SELECT count(*) FROM keys", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
    let audits: i64 = db.query_row("SELECT count(*) FROM audit WHERE action = 'key.add'", [], |r| r.get(0)).unwrap();
    assert_eq!(audits, 0);
}

#[test]
fn no_secret_leaks_anywhere() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    w.add_instance("acme-prod-2", "acme", "prod");
    let k1 = api_key();
    let k2 = api_key();
    let k3 = admin_key();
    w.run_stdin(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], &k1).ok();
    w.run_stdin(&["key", "add", "openclaw-acme-prod-spare", "--stdin"], &format!("  {k2}\n")).ok();
    w.run(&["key", "bind", "openclaw-acme-prod-spare", "--instance", "acme-prod-2"]).ok();
    w.run_stdin(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], &k3).ok();
    for args in [
        &["instance", "list"][..],
        &["--json", "instance", "list"],
        &["instance", "show", "acme-prod-1"],
        &["--json", "instance", "show", "acme-prod-2"],
        &["key", "list"],
        &["--json", "key", "list"],
        &["key", "show", KEY_NAME],
        &["--json", "key", "show", "openclaw-acme-prod-spare"],
        &["audit"],
        &["--json", "audit"],
        &["self-check"],
        &["--json", "self-check"],
    ] {
        w.run(args).ok();
    }
    // Failed commands print too.
    w.run_stdin(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], &k1).fails(1);
    w.run_stdin(&["key", "add", "openclaw-acme-prod-x", "--instance", "acme-prod-2", "--stdin"], &k2).fails(1);
    let transcript = w.transcript.borrow().clone();
    for k in [&k1, &k2, &k3] {
        // Not the whole key, and no long piece of it either.
        for piece in [k.as_str(), &k[16..60], &k[50..100]] {
            assert!(!contains(&transcript, piece), "key material in CLI output");
            for (path, bytes) in w.data_bytes() {
                assert!(!contains(&bytes, piece), "key material in {}", path.display());
            }
        }
    }
    // (The WAL is checkpointed away when the last connection closes; when present, it was read above.)
    assert_eq!(w.keychain_entries(), 3);
}

/// `clawkeep instance list | head -1` with the reader gone before the first line: the CLI ends
/// quietly with 0 (the reader had what it wanted), no panic message; with `--json` the same.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let w = World::new();
    w.add_instance("acme-prod", "acme", "prod");
    for args in [&["instance", "list"][..], &["--json", "instance", "list"][..]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut c = w.cmd();
        c.args(args).stdin(std::process::Stdio::null()).stdout(writer).stderr(std::process::Stdio::piped());
        let out = c.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}
