//! `clawkeep check` from the command line: the real binary, the real Secret Service, the fake
//! Anthropic API on 127.0.0.1 (API checks only: `--no-host`; the SSH side is covered by the
//! tests crate).

use crate::common;

use common::World;
use fake_anthropic::{FakeAnthropic, Preset, WORKSPACE_PROD_A_ID};

fn setup(w: &World, fake: &FakeAnthropic, role: &str) {
    w.add_acme_prod("acme-prod", WORKSPACE_PROD_A_ID);
    let k = fake.fixture_key(role).unwrap();
    w.run_stdin(&["key", "add", "openclaw-acme-prod-support-bot", "--instance", "acme-prod", "--stdin"], &k.key).ok();
    w.run(&["settings", "set-base-url", &fake.base_url()]).ok();
}

#[test]
fn check_json_history_and_exit_codes() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let w = World::new();
    setup(&w, &fake, "instance-a");
    let r = w.run(&["--json", "check", "acme-prod", "--no-host"]).ok().json();
    assert_eq!(r["instance"], "acme-prod");
    assert!(r["first_failing_domain"].is_null(), "{r:#}");
    assert_eq!(r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "account.auth").unwrap()["status"], "pass");
    let domains: Vec<&str> = r["domains"].as_array().unwrap().iter().map(|d| d["domain"].as_str().unwrap()).collect();
    assert_eq!(domains, ["credential", "account-context", "protocol", "throughput", "boundary"]);
    // --domain filters
    let r = w.run(&["--json", "check", "acme-prod", "--no-host", "--domain", "account"]).ok().json();
    assert!(r["checks"].as_array().unwrap().iter().all(|c| c["domain"] == "account-context"));
    // human output and history
    let out = w.run(&["check", "acme-prod", "--no-host"]).ok();
    assert!(out.stdout.contains("Account context [pass]"), "{}", out.stdout);
    let h = w.run(&["--json", "check", "acme-prod", "--history"]).ok().json();
    assert_eq!(h.as_array().unwrap().len(), 3);
    // never the key in any output
    let k = fake.fixture_key("instance-a").unwrap().key;
    assert!(!common::contains(&w.transcript.borrow(), &k[12..50]));
}

#[test]
fn failing_check_exits_1_and_names_the_request() {
    let fake = FakeAnthropic::start_blocking(Preset::WrongWorkspace).unwrap();
    let w = World::new();
    setup(&w, &fake, "instance-a");
    let out = w.run(&["check", "acme-prod", "--no-host"]).fails(1);
    assert!(out.stdout.contains(">> Account context [fail]"), "{}", out.stdout);
    assert!(out.stdout.contains("workspace_mismatch"), "{}", out.stdout);
    assert!(out.stdout.contains("request-id: req_"), "{}", out.stdout);
    let r = w.run(&["--json", "check", "--all", "--no-host"]).fails(1).json();
    assert_eq!(r["instances"][0]["first_failing_domain"], "account-context");
}

#[test]
fn check_all_prints_one_line_per_instance_failing_first_then_their_fixes() {
    let fake = FakeAnthropic::start_blocking(Preset::WrongWorkspace).unwrap();
    let w = World::new();
    // "acme-ok" sorts first in the inventory; its key is in the workspace it expects
    w.add_acme_prod("acme-ok", fake_anthropic::WORKSPACE_PROD_B_ID);
    let k = fake.fixture_key("instance-b").unwrap();
    w.run_stdin(&["key", "add", "openclaw-acme-prod-ok", "--instance", "acme-ok", "--stdin"], &k.key).ok();
    setup(&w, &fake, "instance-a");
    let out = w.run(&["check", "--all", "--no-host"]).fails(1);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("STATUS") && lines[0].contains("CAUSE"), "{}", out.stdout);
    // the failing instance first, with its first failing domain and cause
    assert!(lines[1].starts_with("FAIL") && lines[1].contains("acme-prod") && lines[1].contains("account-context"), "{}", out.stdout);
    assert!(lines[1].contains("workspace_mismatch"), "{}", out.stdout);
    assert!(lines[2].starts_with("PASS") && lines[2].contains("acme-ok"), "{}", out.stdout);
    // details (cause and fix) for the failing one only; no full listing
    assert!(out.stdout.contains("acme-prod: FAIL"), "{}", out.stdout);
    assert!(out.stdout.contains("fix:"), "{}", out.stdout);
    assert!(!out.stdout.contains("acme-ok: "), "{}", out.stdout);
    assert!(!out.stdout.contains("Account context ["), "{}", out.stdout);
    // --details: every check of every instance
    let out = w.run(&["check", "--all", "--no-host", "--details"]).fails(1);
    assert!(out.stdout.contains(">> Account context [fail]"), "{}", out.stdout);
    assert!(out.stdout.contains("acme-ok: PASS"), "{}", out.stdout);
    assert!(out.stdout.contains("Account context [pass]"), "{}", out.stdout);
}
