//! `clawkeep rotate …` end to end: the real binary, real SQLite files, the real Secret Service,
//! and the in-process fake Anthropic API on 127.0.0.1 (keys minted there at run time). The
//! deploy step is the manual one until the SSH deploy is merged (confirmed with --confirm).

use crate::common;

use common::*;
use fake_anthropic::{FakeAnthropic, MintKey, MintedKey, Preset, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID};

const INST: &str = "acme-prod";
const OLD: &str = "openclaw-acme-prod-support-bot";

struct Rig {
    w: World,
    fake: FakeAnthropic,
    old: MintedKey,
}

impl Rig {
    fn new(with_admin: bool) -> Rig {
        let w = World::new();
        let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
        fake.state().with(|s| s.knobs.admin_rate_limit = None);
        w.add_acme_prod(INST, WORKSPACE_PROD_A_ID);
        let old = fake.fixture_key("instance-a").unwrap();
        w.run_stdin(&["key", "add", OLD, "--instance", INST, "--stdin"], &old.key).ok();
        if with_admin {
            let admin = fake.fixture_key("admin").unwrap();
            w.run_stdin(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], &admin.key).ok();
        }
        Rig { w, fake, old }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>, exit_after: Option<&str>) -> Run {
        let mut c = self.w.cmd();
        c.args(args).env("CLAWKEEP_ANTHROPIC_BASE_URL", self.fake.base_url());
        if let Some(s) = exit_after {
            c.env("CLAWKEEP_ROTATE_EXIT_AFTER", s);
        }
        self.w.run_cmd(c, stdin)
    }

    fn status(&self) -> serde_json::Value {
        self.run(&["--json", "rotate", "status", INST], None, None).ok().json()
    }

    fn console_key(&self) -> MintedKey {
        let name = self.status()["new_key_name"].as_str().unwrap().to_string();
        self.fake.mint_key(MintKey::api(name, Some(WORKSPACE_PROD_A_ID))).unwrap()
    }

    fn fake_status(&self, id: &str) -> String {
        let s = self.fake.state().snapshot();
        serde_json::to_value(s.keys.iter().find(|k| k.id == id).unwrap().status).unwrap().as_str().unwrap().to_string()
    }

    fn status_posts(&self, id: &str) -> usize {
        let path = format!("/v1/organizations/api_keys/{id}");
        self.fake.requests().iter().filter(|r| r.method == "POST" && r.path == path).count()
    }

    fn key_status(&self, name: &str) -> String {
        self.w.run(&["--json", "key", "show", name]).ok().json()["status"].as_str().unwrap().to_string()
    }
}

#[test]
fn policy_and_plan_commands() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    w.add_instance("globex-prod", "globex", "prod");
    w.run_stdin(&["key", "add", "openclaw-acme-prod-support-bot", "--instance", "acme-prod-1", "--stdin"], &api_key()).ok();
    w.run_stdin(&["key", "add", "openclaw-globex-prod-support-bot", "--instance", "globex-prod", "--stdin"], &api_key()).ok();
    let p = w.run(&["--json", "rotate", "policy", "set", "--owner", "globex", "--max-age", "30d", "--warn", "1w", "--weekday", "tue", "--window", "09:00-12:00"]).ok().json();
    assert_eq!((p["max_age_days"].as_u64(), p["warn_days"].as_u64()), (Some(30), Some(7)));
    let show = w.run(&["--json", "rotate", "policy", "show"]).ok().json();
    assert_eq!(show["builtin_default"]["max_age_days"], 90);
    assert_eq!(show["policies"][0]["scope"], serde_json::json!({"kind": "owner", "owner": "globex"}));
    let human = w.run(&["rotate", "policy", "show"]).ok().stdout;
    assert!(human.contains("default (built-in)") && human.contains("owner globex"), "{human}");
    for (args, expect) in [
        (vec!["rotate", "policy", "set", "--max-age", "soon"], "not a number of days"),
        (vec!["rotate", "policy", "set", "--instance", "nope", "--max-age", "30d"], "no instance named 'nope'"),
        (vec!["rotate", "policy", "set", "--weekday", "someday"], "not a weekday"),
        (vec!["rotate", "policy", "set", "--window", "9-5"], "not a time window"),
        (vec!["rotate", "policy", "set", "--max-age", "10d", "--warn", "14d"], "use fewer days"),
    ] {
        let r = w.run(&args).fails(1);
        assert!(r.stderr.contains(expect), "{args:?}: {}", r.stderr);
    }
    // Keys were created now: 25 days on, globex (30d, warn 7) is due soon, acme (90d) upcoming.
    let now = (chrono::Utc::now() + chrono::Duration::days(25)).to_rfc3339();
    let dir = tempfile::tempdir().unwrap();
    let ics = dir.path().join("plan.ics");
    let csv = dir.path().join("plan.csv");
    let plan = w.run(&["--json", "rotate", "plan", "--now", &now, "--ics", ics.to_str().unwrap(), "--csv", csv.to_str().unwrap()]).ok().json();
    assert_eq!((plan["due_soon"].as_u64(), plan["upcoming"].as_u64(), plan["overdue"].as_u64()), (Some(1), Some(1), Some(0)));
    assert_eq!(plan["owners"][0]["owner"], "acme");
    assert_eq!(plan["owners"][1]["items"][0]["status"], "due-soon");
    assert_eq!(plan["owners"][1]["items"][0]["days_left"], 4);
    assert_eq!(plan["owners"][1]["items"][0]["blast_radius"]["agents"], serde_json::json!(["main"]));
    let ics = std::fs::read_to_string(&ics).unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.ends_with("END:VCALENDAR\r\n"));
    assert_eq!(ics.matches("BEGIN:VEVENT\r\n").count(), 2);
    assert!(ics.split("\r\n").all(|l| l.len() <= 75));
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 3);
    let human = w.run(&["rotate", "plan", "--now", &now]).ok().stdout;
    assert!(human.contains("1 due soon, 1 upcoming") && human.contains("globex-prod"), "{human}");
    w.run(&["rotate", "plan", "--now", "tomorrow"]).fails(1);
}

#[test]
fn full_rotation_with_admin_key() {
    let r = Rig::new(true);
    // Start: nothing on stdin yet → it stops at the paste with instructions.
    let out = r.run(&["rotate", "start", INST, "--manual-deploy", "--soak", "0"], None, None).ok();
    assert!(out.stdout.contains("create an API key named 'openclaw-acme-prod-support-bot-"), "{}", out.stdout);
    assert!(out.stdout.contains(WORKSPACE_PROD_A_ID));
    let new = r.console_key();
    // Paste; the deploy is manual in the CLI for now: it waits for the person.
    let out = r.run(&["rotate", "resume", INST, "--stdin"], Some(&new.key), None).ok();
    assert!(out.stdout.contains("[paste] done") && out.stdout.contains("[deploy] waiting"), "{}", out.stdout);
    assert_eq!(r.key_status(&new.name), "staged");
    let out = r.run(&["--json", "rotate", "resume", INST, "--confirm"], None, None).ok().json();
    assert_eq!(out["rotation"]["outcome"], "completed", "{out}");
    let ran: Vec<&str> = out["steps"].as_array().unwrap().iter().map(|s| s["ran"].as_str().unwrap()).collect();
    assert_eq!(ran, ["deploy", "deactivate", "soak", "archive"]);
    assert_eq!(r.key_status(&new.name), "active");
    assert_eq!(r.key_status(OLD), "retired");
    assert_eq!(r.fake_status(&r.old.id), "archived");
    assert_eq!(r.status_posts(&r.old.id), 2);
    assert_eq!(r.status_posts(&new.id), 0);
    let list = r.w.run(&["--json", "instance", "list"]).ok().json();
    assert_eq!(list[0]["active_key"]["name"], new.name.as_str());
    // Nothing secret was printed.
    let t = r.w.transcript.borrow();
    assert!(!contains(&t, &new.key) && !contains(&t, &r.old.key));
}

#[test]
fn exit_after_each_step_then_resume_repeats_nothing() {
    let r = Rig::new(true);
    let s = r.run(&["rotate", "start", INST, "--manual-deploy", "--soak", "0"], None, Some("create")).fails(3);
    assert!(s.stderr.contains("stopping right after step 'create'"), "{}", s.stderr);
    assert_eq!(r.status()["step"], "paste");
    let new = r.console_key();
    r.run(&["rotate", "resume", INST, "--stdin"], Some(&new.key), Some("paste")).fails(3);
    assert_eq!(r.status()["step"], "deploy");
    // Resuming the paste step again with the same key is not needed: the key is stored.
    r.run(&["rotate", "resume", INST], None, None).ok();
    // What the step waits for is words; what to do then is data (no command line in core's text).
    assert_eq!(r.status()["waiting_action"], serde_json::json!({ "action": "rotate_resume", "instance": INST, "confirm": true }));
    assert!(!r.status()["waiting_for"].as_str().unwrap().contains("clawkeep "));
    let human = r.run(&["rotate", "status", INST], None, None).ok().stdout;
    assert!(human.contains(&format!("clawkeep rotate resume {INST} --confirm")), "{human}");
    r.run(&["rotate", "resume", INST, "--confirm"], None, Some("deploy")).fails(3);
    assert_eq!(r.status()["step"], "deactivate");
    assert_eq!(r.status_posts(&r.old.id), 0);
    r.run(&["rotate", "resume", INST], None, Some("deactivate")).fails(3);
    assert_eq!(r.status()["step"], "soak");
    assert_eq!(r.fake_status(&r.old.id), "inactive");
    r.run(&["rotate", "resume", INST], None, Some("soak")).fails(3);
    assert_eq!(r.status()["step"], "archive");
    r.run(&["rotate", "resume", INST], None, Some("archive")).fails(3);
    let st = r.status();
    assert_eq!((st["step"].as_str(), st["outcome"].as_str()), (Some("done"), Some("completed")));
    // Each Admin API status change reached the fake exactly once.
    assert_eq!(r.status_posts(&r.old.id), 2);
    assert_eq!(r.fake_status(&r.old.id), "archived");
    let done: Vec<&str> = st["history"].as_array().unwrap().iter().filter(|e| e["outcome"] == "done").map(|e| e["step"].as_str().unwrap()).collect();
    assert_eq!(done, ["create", "paste", "deploy", "deactivate", "soak", "archive"]);
    // Resuming a finished rotation does nothing more and says so.
    let again = r.run(&["rotate", "resume", INST], None, None).ok();
    assert!(again.stdout.contains("complete"), "{}", again.stdout);
    assert_eq!(r.status_posts(&r.old.id), 2);
}

#[test]
fn rollback_from_each_step() {
    for stop in ["paste", "deploy", "deactivate", "soak", "archive"] {
        let r = Rig::new(true);
        // A day-long soak so the rotation can be stopped before the archive.
        r.run(&["rotate", "start", INST, "--manual-deploy", "--soak", "24h"], None, None).ok();
        let mut new_name = None;
        if stop != "paste" {
            let new = r.console_key();
            new_name = Some(new.name.clone());
            r.run(&["rotate", "resume", INST, "--stdin"], Some(&new.key), None).ok();
        }
        if stop == "deactivate" {
            r.run(&["rotate", "resume", INST, "--confirm"], None, Some("deploy")).fails(3);
        }
        if matches!(stop, "soak" | "archive") {
            r.run(&["rotate", "resume", INST, "--confirm"], None, None).ok();
        }
        if stop == "archive" {
            r.run(&["rotate", "resume", INST, "--confirm"], None, Some("soak")).fails(3);
        }
        assert_eq!(r.status()["step"], stop, "{stop}");
        let deployed = matches!(stop, "deactivate" | "soak" | "archive");
        if deployed {
            // The old key must go back on the host: by hand until the SSH deploy is wired.
            let e = r.run(&["rotate", "rollback", INST], None, None).fails(1);
            assert!(e.stderr.contains("rotate rollback acme-prod --confirm"), "{stop}: {}", e.stderr);
        }
        let out = r.run(&["--json", "rotate", "rollback", INST, "--confirm"], None, None).ok().json();
        assert_eq!(out["rotation"]["outcome"], "rolled_back", "{stop}");
        assert_eq!(r.key_status(OLD), "active", "{stop}");
        assert_eq!(r.fake_status(&r.old.id), "active", "{stop}");
        if let Some(n) = new_name {
            assert_eq!(r.key_status(&n), "revoked", "{stop}");
        }
        let expected_posts = if matches!(stop, "soak" | "archive") { 2 } else { 0 };
        assert_eq!(r.status_posts(&r.old.id), expected_posts, "{stop}");
        assert_eq!(r.run(&["--json", "rotate", "status"], None, None).ok().json(), serde_json::json!([]));
    }
}

#[test]
fn bad_new_keys_are_refused_with_the_reason() {
    let r = Rig::new(true);
    r.run(&["rotate", "start", INST, "--manual-deploy", "--soak", "0"], None, None).ok();
    let other_ws = r.fake.mint_key(MintKey::api("elsewhere", Some(WORKSPACE_PROD_B_ID))).unwrap();
    let cases = [
        (r.old.key.clone(), "this is the current key"),
        (other_ws.key.clone(), "belongs to workspace wrkspc_01ProdBWorkspace00000000"),
        (admin_key(), "Admin API key"),
        (oauth_key(), "OAuth token"),
        (api_key(), "rejected the new key on GET /v1/models: 401"),
    ];
    for (key, reason) in &cases {
        let out = r.run(&["--json", "rotate", "resume", INST, "--stdin"], Some(key), None).fails(1);
        let err = out.err_json();
        assert_eq!(err["error"]["code"], "invalid_input");
        assert!(err["error"]["message"].as_str().unwrap().contains(reason), "{reason}: {err}");
    }
    assert_eq!(r.status()["step"], "paste");
    assert_eq!(r.w.run(&["--json", "key", "list", "--instance", INST]).ok().json().as_array().unwrap().len(), 1);
    let t = r.w.transcript.borrow();
    assert!(cases.iter().all(|(k, _)| !contains(&t, k)), "a key was echoed");
}

#[test]
fn rehearsal_touches_nothing_real() {
    let w = World::new();
    w.add_instance("acme-prod-1", "acme", "prod");
    w.run_stdin(&["key", "add", "openclaw-acme-prod-support-bot", "--instance", "acme-prod-1", "--stdin"], &api_key()).ok();
    let keys_before = w.run(&["--json", "key", "list"]).ok().stdout;
    let entries = w.keychain_entries();
    let r = w.run(&["--json", "rotate", "rehearse", "acme-prod-1"]).ok().json();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["mode"], "manual");
    let steps: Vec<(&str, &str)> = r["steps"].as_array().unwrap().iter().map(|s| (s["step"].as_str().unwrap(), s["outcome"].as_str().unwrap())).collect();
    for want in [("paste (the old key, by mistake)", "refused"), ("paste", "ok"), ("deploy", "ok"), ("verify", "ok"), ("rollback drill", "ok")] {
        assert!(steps.contains(&want), "{want:?} not in {steps:?}");
    }
    assert_eq!(w.run(&["--json", "key", "list"]).ok().stdout, keys_before);
    assert_eq!(w.keychain_entries(), entries);
    let audit = w.run(&["--json", "audit", "--subject", "acme-prod-1"]).ok().json();
    assert_eq!(audit[0]["action"], "rotation.rehearse");
    let human = w.run(&["rotate", "rehearse", "acme-prod-1"]).ok().stdout;
    assert!(human.contains("Rehearsal passed."), "{human}");
    w.run(&["rotate", "rehearse", "nope"]).fails(1);
    // With an Admin key stored, the rehearsal practises the Admin API path (never with the
    // real Admin key: the fake mints its own).
    w.run_stdin(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], &admin_key()).ok();
    let r = w.run(&["--json", "rotate", "rehearse", "acme-prod-1"]).ok().json();
    assert_eq!((r["ok"].as_bool(), r["mode"].as_str()), (Some(true), Some("admin-api")), "{r}");
    assert!(r["steps"].as_array().unwrap().iter().any(|s| s["step"] == "deactivate" && s["outcome"] == "ok"), "{r}");
}

#[test]
fn ssh_deploy_is_the_default_and_refuses_an_untrusted_host() {
    let r = Rig::new(true);
    r.run(&["rotate", "start", INST, "--soak", "0"], None, None).ok();
    let new = r.console_key();
    let out = r.run(&["rotate", "resume", INST, "--stdin"], Some(&new.key), None).fails(1);
    assert!(out.stdout.contains("[paste] done"), "{}", out.stdout);
    assert!(out.stderr.contains("SSH deploy to ckh1@127.0.1.1:22: refused"), "{}", out.stderr);
    assert!(out.stderr.contains("--manual-deploy"), "{}", out.stderr);
    assert_eq!(r.status()["step"], "deploy");
    assert_eq!(r.key_status(OLD), "active");
    // The refused run is in the deployments history.
    let hist = r.w.run(&["--json", "deploy", "history"]).ok().json();
    assert_eq!(hist[0]["outcome"], "refused", "{hist}");
    // Nothing was deployed, so the rollback needs no host.
    r.run(&["rotate", "rollback", INST], None, None).ok();
    assert_eq!(r.key_status(&new.name), "revoked");
    assert_eq!(r.fake_status(&r.old.id), "active");
}
