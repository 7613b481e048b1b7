//! Clawkeep's default path on a real VPS (issue 14, items 1–2): a Debian box booted with systemd
//! as PID 1 (`tests/src/vps.rs`, `scripts/vps.sh`), SSH through PAM/logind as a non-root user
//! with lingering, the real OpenClaw whose gateway is OpenClaw's own systemd user unit
//! (`openclaw gateway install`). No custom restart command anywhere: Clawkeep restarts and
//! identifies the gateway with `systemctl --user …`, as it does on a user's VPS.
//!
//! The journey: `instance add` (systemd user, the default) → `host trust` → `deploy` (`.env` +
//! unit restart) → a turn through the real gateway reaches the fake API with the deployed key →
//! `check` all green → a guided rotation → the next turn carries the new key → the VPS reboots
//! and the key survives (the unit starts at boot through lingering).
//!
//! Needs root, debootstrap, systemd-container and the Debian mirror + npm registry for the first
//! build of the tree (~3–4 min, cached in target/vps); elsewhere it skips with a reason, in CI
//! it fails. Slow by nature (OpenClaw takes 4–30 s per command on 2 cores): waits are generous
//! but bounded.

use clawkeep_tests::cli::{contains, Ck};
use clawkeep_tests::vps::{self, Vps};
use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};
use std::time::{Duration, Instant};

const READY: Duration = Duration::from_secs(240);
const TURN: Duration = Duration::from_secs(300);
const OLD: &str = "openclaw-acme-prod-bot";

/// `/v1/messages` calls answered 200 that presented `key`.
fn messages_with(fake: &FakeAnthropic, key: &str) -> usize {
    let sha = fake_anthropic::sha256_hex(key);
    fake.requests().iter().filter(|q| q.path == "/v1/messages" && q.status == 200 && q.api_key_sha256.as_deref() == Some(sha.as_str())).count()
}

fn turn_ok(vps: &Vps, message: &str) {
    let turn = vps.agent_turn(message, TURN).unwrap();
    assert!(turn.ok(), "agent turn failed: code {:?}\nstdout: {}\nstderr: {}\njournal:\n{}", turn.output.code, turn.output.stdout_str(), turn.output.stderr_str(), vps.journal(40));
}

/// A Clawkeep wired to the box: SSH identity, the fake as API, instance `alpha` (systemd user
/// unit: the default, no restart command), host key pinned, the first key and an Admin key stored.
fn clawkeep_for(vps: &Vps, fake: &FakeAnthropic, extra: &[&str]) -> Ck {
    let ck = Ck::new();
    ck.run(&["settings", "set-ssh-identity", "--key-file", &vps.client_key().to_string_lossy()]).ok();
    ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
    let addr = vps.addr().to_string();
    let mut args =
        vec!["instance", "add", "alpha", "--host", &addr, "--user", vps.user(), "--owner", "acme", "--env", "prod", "--workload", "bot", "--workspace-id", WORKSPACE_PROD_A_ID];
    args.extend_from_slice(extra);
    ck.run(&args).ok();
    let shown = ck.run(&["--json", "instance", "show", "alpha"]).ok().json();
    let inst = if shown["instance"].is_object() { &shown["instance"] } else { &shown };
    assert_eq!((inst["service_manager"]["kind"].as_str(), inst["service_manager"]["unit"].as_str()), (Some("systemd-user"), Some(vps::UNIT)), "{shown}");
    ck.run(&["host", "trust", "alpha", "--fingerprint", vps.host_key_fingerprint()]).ok();
    let old = fake.fixture_key("instance-a").unwrap();
    ck.run_with(&["key", "add", OLD, "--instance", "alpha", "--stdin"], Some(old.key.as_bytes())).ok();
    let admin = fake.fixture_key("admin").unwrap();
    ck.run_with(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], Some(admin.key.as_bytes())).ok();
    ck
}

/// `clawkeep --json check alpha`: every check passes (or is skipped / informational).
fn check_all_green(ck: &Ck) -> serde_json::Value {
    let r = ck.run(&["--json", "check", "alpha"]).ended().json();
    let checks = r["checks"].as_array().unwrap_or_else(|| panic!("no checks: {r}"));
    for c in checks {
        eprintln!("{:<44} {:<5} {}", c["id"].as_str().unwrap_or(""), c["status"].as_str().unwrap_or(""), c["summary"].as_str().or(c["title"].as_str()).unwrap_or(""));
    }
    let bad: Vec<_> = checks.iter().filter(|c| matches!(c["status"].as_str(), Some("fail") | Some("warn"))).collect();
    assert!(bad.is_empty(), "not all green on the VPS:\n{}", serde_json::to_string_pretty(&bad).unwrap());
    r
}

fn no_key_leaked(ck: &Ck, vps: &Vps, keys: &[&str]) {
    let journal = vps.ssh("journalctl --user -u openclaw-gateway --no-pager 2>&1; cat ~/.openclaw/logs/openclaw*.log 2>/dev/null").unwrap().stdout_str();
    for k in keys {
        assert!(!contains(&ck.transcript(), k.as_bytes()), "a key was printed by clawkeep");
        assert!(!journal.contains(k), "a full key in the gateway's journal or log");
    }
}

#[test]
fn default_path_on_a_real_vps_deploy_check_rotate_reboot() {
    if let Err(reason) = vps::preflight() {
        assert!(!clawkeep_tests::sys::in_ci(), "VPS box unavailable in CI: {reason}");
        eprintln!("SKIP: {reason}");
        return;
    }
    let t = Instant::now();
    vps::build().unwrap();
    eprintln!("MEASURE vps tree build (or cache check): {:?}", t.elapsed());
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(mut vps) = Vps::up_or_skip(&fake.base_url()) else { return };
    eprintln!("MEASURE vps up (overlay + boot + SSH ready): {:?}", vps.up_time);
    // The gateway is OpenClaw's own unit, started at boot by the user manager (lingering).
    let unit = vps.read_home_file(".config/systemd/user/openclaw-gateway.service").unwrap();
    assert!(unit.contains(&format!("gateway --port {}", vps.gateway_port())) && unit.contains("WantedBy=default.target"), "{unit}");
    vps.wait_gateway_ready(READY).unwrap();
    let pid0 = vps.main_pid().expect("the unit runs");

    let ck = clawkeep_for(&vps, &fake, &[]);
    let old = fake.fixture_key("instance-a").unwrap();

    // Deploy: .env written, the unit restarted by `systemctl --user restart`, /readyz verified.
    let t = Instant::now();
    let rep = ck.run(&["--json", "deploy", "alpha", "--yes"]).ok().json();
    let deploy_time = t.elapsed();
    assert_eq!(rep["outcome"].as_str().or(rep["report"]["outcome"].as_str()), Some("succeeded"), "{rep}");
    let pid1 = vps.main_pid().expect("the unit runs after the deploy");
    assert_ne!(pid1, pid0, "the deploy restarted the unit (new MainPID)");
    let env = vps.read_home_file(".openclaw/.env").unwrap();
    assert!(env.contains(&format!("ANTHROPIC_API_KEY={}", old.key)), "the key is not in .env");
    assert!(env.contains("OPENCLAW_GATEWAY_TOKEN="), "the rest of .env was kept");
    let t2 = Instant::now();
    turn_ok(&vps, "Say hello");
    eprintln!("MEASURE default-path deploy: {deploy_time:?}; first verified turn: {:?}; together: {:?}", t2.elapsed(), deploy_time + t2.elapsed());
    assert!(messages_with(&fake, &old.key) > 0, "the deployed key never reached the fake: {:?}", fake.requests());

    // The checklist over the pinned SSH session: all green on the default path.
    let t = Instant::now();
    check_all_green(&ck);
    eprintln!("MEASURE check on the VPS: {:?}", t.elapsed());

    // Guided rotation: paste the console's new key → deploy (unit restart) → old key archived.
    ck.run(&["rotate", "start", "alpha", "--soak", "0"]).ok();
    let st = ck.run(&["--json", "rotate", "status", "alpha"]).ok().json();
    let new = fake.mint_key(MintKey::api(st["new_key_name"].as_str().unwrap(), Some(WORKSPACE_PROD_A_ID))).unwrap();
    let t = Instant::now();
    let out = ck.run_with(&["--json", "rotate", "resume", "alpha", "--stdin", "--yes"], Some(new.key.as_bytes())).ok().json();
    eprintln!("MEASURE guided rotation (resume to completed): {:?}", t.elapsed());
    assert_eq!(out["rotation"]["outcome"], "completed", "{out}");
    let pid2 = vps.main_pid().expect("the unit runs after the rotation");
    assert_ne!(pid2, pid1, "the rotation restarted the unit");
    let before_old = messages_with(&fake, &old.key);
    vps.wait_gateway_ready(READY).unwrap();
    turn_ok(&vps, "Say hello again");
    assert!(messages_with(&fake, &new.key) > 0, "the rotated key never reached the fake");
    assert_eq!(messages_with(&fake, &old.key), before_old, "the old key was used after the rotation");

    // Reboot: the user manager starts the unit again (lingering) and it loads the deployed key.
    let t = Instant::now();
    let boot = vps.reboot().unwrap();
    vps.wait_gateway_ready(READY).unwrap();
    eprintln!("MEASURE reboot to SSH ready: {boot:?}; to gateway ready: {:?}", t.elapsed());
    assert!(vps.main_pid().is_some(), "the unit came back after the reboot");
    let before_new = messages_with(&fake, &new.key);
    turn_ok(&vps, "Hello after the reboot");
    assert!(messages_with(&fake, &new.key) > before_new, "the rotated key did not survive the reboot");
    assert_eq!(messages_with(&fake, &old.key), before_old, "the old key came back after the reboot");
    check_all_green(&ck);

    no_key_leaked(&ck, &vps, &[&old.key, &new.key]);
}

/// Runs `cmd` on the box with `input` on stdin; fails the test unless it exits 0.
fn box_sh(vps: &Vps, cmd: &str, input: Option<&[u8]>) -> String {
    let out = vps.ssh_with(cmd, input, Duration::from_secs(120)).unwrap();
    assert!(out.success(), "`{cmd}` on the box: {:?}\n{}\n{}", out.code, out.stdout_str(), out.stderr_str());
    out.stdout_str()
}

/// What a person leaves behind on a VPS and Clawkeep must see through: a key in the unit's
/// environment (a `systemctl --user edit` drop-in), and a gateway started by hand outside
/// systemd that holds the port while the unit is stopped.
#[test]
fn unit_environment_key_and_a_hand_started_gateway_on_a_real_vps() {
    if let Err(reason) = vps::preflight() {
        assert!(!clawkeep_tests::sys::in_ci(), "VPS box unavailable in CI: {reason}");
        eprintln!("SKIP: {reason}");
        return;
    }
    vps::build().unwrap();
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(vps) = Vps::up_or_skip(&fake.base_url()) else { return };
    vps.wait_gateway_ready(READY).unwrap();
    let ck = clawkeep_for(&vps, &fake, &[]);
    let old = fake.fixture_key("instance-a").unwrap();
    ck.run(&["deploy", "alpha", "--yes"]).ok();

    // A key in a drop-in of the unit (what `systemctl --user edit openclaw-gateway` writes).
    let stale = fake.mint_key(MintKey::api("left-in-the-unit", Some(WORKSPACE_PROD_A_ID))).unwrap();
    let dropin = ".config/systemd/user/openclaw-gateway.service.d";
    box_sh(
        &vps,
        &format!("mkdir -p ~/{dropin} && umask 077 && cat > ~/{dropin}/override.conf"),
        Some(format!("[Service]\nEnvironment=ANTHROPIC_API_KEY={}\n", stale.key).as_bytes()),
    );
    box_sh(&vps, "systemctl --user daemon-reload && systemctl --user restart openclaw-gateway", None);
    vps.wait_gateway_ready(READY).unwrap();
    let r = ck.run(&["--json", "check", "alpha"]).ended().json();
    let c = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "credential.matches-keychain.main").cloned().unwrap();
    eprintln!("check with a key in the unit's drop-in: {}", serde_json::to_string_pretty(&c).unwrap());
    assert_eq!(c["status"], "fail", "{c}");
    // A restart would load the drop-in's key again: never "just restart it" (what the check
    // said while it read the unit file alone and missed the drop-in).
    assert_ne!(c["cause"], "restart_needed", "{c}");
    // The unit is named as what to fix first (a restart would load it again).
    assert_eq!(c["cause"], "key_in_unit_environment", "{c}");
    // The plan names the drop-in and asks before touching it; with consent the deploy removes
    // the key from it (nothing else), reloads systemd, restarts, verifies, and leaves no copy.
    let plan = ck.run(&["--json", "deploy", "alpha", "--dry-run"]).ok().json();
    let entry = plan["plan"]["stale"].as_array().unwrap().iter().find(|s| s["kind"] == "systemd-unit-env").cloned().unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(entry["removable"], true, "{entry}");
    assert!(entry["location"].as_str().unwrap().contains("openclaw-gateway.service.d/override.conf"), "{entry}");
    assert!(plan["plan"]["blockers"].as_array().unwrap().is_empty(), "{plan}");
    let d = ck.run(&["--json", "deploy", "alpha", "--yes"]).ok().json();
    assert_eq!(d["outcome"], "succeeded", "{d}");
    assert!(d["stale_removed"].as_array().unwrap().iter().any(|s| s.as_str().unwrap().contains("override.conf")), "{d}");
    assert_eq!(box_sh(&vps, &format!("cat ~/{dropin}/override.conf; ls -A ~/{dropin}"), None), "[Service]\noverride.conf\n");
    let before = messages_with(&fake, &old.key);
    turn_ok(&vps, "Which key now?");
    assert!(messages_with(&fake, &old.key) > before, "the deployed key does not serve the turn");
    assert_eq!(messages_with(&fake, &stale.key), 0, "the unit's key reached the API");
    check_all_green(&ck);
    box_sh(&vps, &format!("rm -rf ~/{dropin} && systemctl --user daemon-reload"), None);

    // A gateway started by hand, outside systemd, on the configured port (the unit stopped).
    box_sh(&vps, "systemctl --user stop openclaw-gateway", None);
    let hand = box_sh(&vps, "PATH=\"$HOME/.npm-global/bin:$PATH\" nohup openclaw gateway run >/tmp/by-hand.log 2>&1 </dev/null & echo $!", None);
    let hand: u32 = hand.trim().parse().unwrap();
    vps.wait_gateway_ready(READY).unwrap();
    let newer = fake.mint_key(MintKey::api("openclaw-acme-prod-bot-2", Some(WORKSPACE_PROD_A_ID))).unwrap();
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot-2", "--instance", "alpha", "--stdin", "--allow-name"], Some(newer.key.as_bytes())).ok();
    // The unit restarts, but the hand-started gateway keeps the port and its old key: the
    // deploy says so (not "check the restart command") and rolls back.
    let d = ck.run(&["--json", "deploy", "alpha", "--key", "openclaw-acme-prod-bot-2", "--yes"]).fails();
    assert!(d.stdout.contains("\"outcome\":\"rolled-back\""), "{}", d.stdout);
    assert!(d.stderr.contains(&format!("(pid {hand}) was started outside the systemd unit")) && d.stderr.contains(&format!("kill {hand}")), "{}", d.stderr);
    // The checklist tells the hand-started gateway apart too, with its pid and what to do.
    let r = ck.run(&["--json", "check", "alpha"]).ended().json();
    let c = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "host.gateway-service").cloned().unwrap_or_else(|| panic!("no host.gateway-service: {r}"));
    assert_eq!(c["status"], "fail", "{c}");
    assert_eq!(c["cause"], "gateway_outside_unit", "{c}");
    assert!(c.to_string().contains(&format!("pid {hand}")), "{c}");
    let before = messages_with(&fake, &old.key);
    turn_ok(&vps, "Who answers?");
    assert!(messages_with(&fake, &old.key) > before, "the hand-started gateway still serves the old key");
    // Stopped as told, the unit's gateway takes over and the deploy goes through.
    box_sh(&vps, &format!("kill {hand}"), None);
    ck.run(&["deploy", "alpha", "--key", "openclaw-acme-prod-bot-2", "--yes"]).ok();
    let main = vps.main_pid().expect("the unit runs");
    assert_ne!(main, hand);
    turn_ok(&vps, "And now?");
    assert!(messages_with(&fake, &newer.key) > 0, "the deployed key never reached the fake");
    let r = check_all_green(&ck);
    assert!(r["checks"].as_array().unwrap().iter().any(|c| c["id"] == "host.gateway-service" && c["status"] == "pass"), "{r}");
    no_key_leaked(&ck, &vps, &[&old.key, &stale.key, &newer.key]);
}

/// The hot injection methods on a real VPS, no restart of the unit: `auth-profile` (OpenClaw's
/// `models auth paste-api-key` over stdin, run with the CLI from the user's npm prefix), then
/// the instance switched to `secret-file` (a 0600 file + a file SecretRef, `secrets reload`),
/// whose deploy is refused while the now stale auth profile would beat the file, until the
/// person runs the logout command it names.
#[test]
fn hot_injection_methods_on_a_real_vps() {
    if let Err(reason) = vps::preflight() {
        assert!(!clawkeep_tests::sys::in_ci(), "VPS box unavailable in CI: {reason}");
        eprintln!("SKIP: {reason}");
        return;
    }
    vps::build().unwrap();
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(vps) = Vps::up_or_skip(&fake.base_url()) else { return };
    vps.wait_gateway_ready(READY).unwrap();
    let ck = clawkeep_for(&vps, &fake, &["--injection", "auth-profile"]);
    let a = fake.fixture_key("instance-a").unwrap();
    let pid = vps.main_pid().expect("the unit runs");

    let t = Instant::now();
    let rep = ck.run(&["--json", "deploy", "alpha", "--yes"]).ok().json();
    eprintln!("MEASURE auth-profile deploy: {:?}", t.elapsed());
    assert_eq!(rep["outcome"], "succeeded", "{rep}");
    assert_eq!(vps.main_pid(), Some(pid), "the auth-profile method is hot: no restart");
    assert!(!vps.read_home_file(".openclaw/.env").unwrap().contains("ANTHROPIC_API_KEY"), "the key went to .env");
    turn_ok(&vps, "Say hello");
    assert!(messages_with(&fake, &a.key) > 0, "the auth profile's key never reached the fake");
    // The checklist reads the profile where OpenClaw 2026.9 keeps it (the shared state store).
    check_all_green(&ck);

    // Switch to a secret file: the auth profile would beat it, so the deploy is refused and
    // names the command that removes it; run it on the host as told.
    ck.run(&["instance", "edit", "alpha", "--injection", "secret-file"]).ok();
    let b = fake.mint_key(MintKey::api("openclaw-acme-prod-bot-2", Some(WORKSPACE_PROD_A_ID))).unwrap();
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot-2", "--instance", "alpha", "--stdin", "--allow-name"], Some(b.key.as_bytes())).ok();
    let plan = ck.run(&["deploy", "alpha", "--key", "openclaw-acme-prod-bot-2", "--dry-run"]).ok();
    eprintln!("secret-file plan after auth-profile:\n{}", plan.stdout);
    let d = ck.run(&["deploy", "alpha", "--key", "openclaw-acme-prod-bot-2", "--yes"]).fails();
    assert!(d.stderr.contains("beats a config SecretRef") && d.stderr.contains("models auth logout anthropic:default --yes --agent 'main'"), "{}", d.stderr);
    box_sh(&vps, "~/.npm-global/bin/openclaw models auth logout anthropic:default --yes --agent main", None);
    let t = Instant::now();
    let rep = ck.run(&["--json", "deploy", "alpha", "--key", "openclaw-acme-prod-bot-2", "--yes"]).ok().json();
    eprintln!("MEASURE secret-file deploy (first: file, SecretRef, reload): {:?}", t.elapsed());
    assert_eq!(rep["outcome"], "succeeded", "{rep}");
    vps.wait_gateway_ready(READY).unwrap();
    let before_a = messages_with(&fake, &a.key);
    turn_ok(&vps, "Say hello again");
    assert!(messages_with(&fake, &b.key) > 0, "the secret file's key never reached the fake");
    assert_eq!(messages_with(&fake, &a.key), before_a, "the removed profile's key was used");

    // A second secret-file deploy is hot: `secrets reload`, same process.
    let pid = vps.main_pid().expect("the unit runs");
    let c = fake.mint_key(MintKey::api("openclaw-acme-prod-bot-3", Some(WORKSPACE_PROD_A_ID))).unwrap();
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot-3", "--instance", "alpha", "--stdin", "--allow-name"], Some(c.key.as_bytes())).ok();
    ck.run(&["deploy", "alpha", "--key", "openclaw-acme-prod-bot-3", "--yes"]).ok();
    assert_eq!(vps.main_pid(), Some(pid), "secrets reload is hot: no restart");
    turn_ok(&vps, "Third time");
    assert!(messages_with(&fake, &c.key) > 0, "the reloaded secret file's key never reached the fake");
    // The checklist resolves the file SecretRef to the key in its file: all green.
    let r = check_all_green(&ck);
    assert!(r.to_string().contains("secret file"), "the key is found in the secret file: {r}");
    no_key_leaked(&ck, &vps, &[&a.key, &b.key, &c.key]);
}

/// Onboarding a real VPS (issue 17): OpenClaw's gateway runs as its own systemd user unit with
/// a key someone put in `~/.openclaw/.env` by hand before Clawkeep. `clawkeep onboard` (the
/// host key verified out of band, an Admin key stored) discovers the unit — no restart command
/// —, the env-file method and the key, records the instance and adopts the key over SSH into
/// the keychain, matched to its Console id; the checklist then finds the keychain's copy is
/// the one the gateway runs. No key printed, none in the gateway's journal.
#[test]
fn onboarding_a_real_vps_finds_its_systemd_unit_and_adopts_its_key() {
    if let Err(reason) = vps::preflight() {
        assert!(!clawkeep_tests::sys::in_ci(), "VPS box unavailable in CI: {reason}");
        eprintln!("SKIP: {reason}");
        return;
    }
    vps::build().unwrap();
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(vps) = Vps::up_or_skip(&fake.base_url()) else { return };
    vps.wait_gateway_ready(READY).unwrap();
    let minted = fake.mint_key(MintKey::api("left-by-the-previous-admin", Some(WORKSPACE_PROD_A_ID))).unwrap();
    box_sh(&vps, "umask 077 && cat >> ~/.openclaw/.env", Some(format!("ANTHROPIC_API_KEY={}\n", minted.key).as_bytes()));
    box_sh(&vps, "systemctl --user restart openclaw-gateway", None);
    vps.wait_gateway_ready(READY).unwrap();

    let ck = Ck::new();
    ck.run(&["settings", "set-ssh-identity", "--key-file", &vps.client_key().to_string_lossy()]).ok();
    ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
    let admin = fake.fixture_key("admin").unwrap();
    ck.run_with(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], Some(admin.key.as_bytes())).ok();
    let dir = tempfile::tempdir().unwrap();
    let (batch, known) = (dir.path().join("fleet.csv"), dir.path().join("provider.txt"));
    std::fs::write(&batch, format!("name,host,port,user\nalpha,{},22,{}\n", vps.addr(), vps.user())).unwrap();
    std::fs::write(&known, format!("{} {}\n", vps.addr(), vps.host_key_fingerprint())).unwrap();
    let out = ck
        .run(&[
            "--json",
            "onboard",
            "--from-csv",
            &batch.to_string_lossy(),
            "--known-fingerprints",
            &known.to_string_lossy(),
            "--yes",
            "--adopt",
            "--owner",
            "acme",
            "--env",
            "prod",
            "--workload",
            "bot",
        ])
        .ok()
        .json();
    assert_eq!(out["host_keys"][0]["status"], "verified", "{out}");
    let h = &out["report"]["hosts"][0];
    assert_eq!(h["status"], "onboarded", "{h}");
    let d = &h["judgement"]["discovered"];
    assert_eq!((d["service_manager"]["kind"].as_str(), d["service_manager"]["unit"].as_str()), (Some("systemd-user"), Some(vps::UNIT)), "{d}");
    assert_eq!(d["injection"], "env-file", "{d}");
    assert!(d["openclaw_version"].is_string(), "{d}");
    let adopted = &h["adopted"];
    assert_eq!(adopted["fingerprint"].as_str(), Some(clawkeep_core::model::keyfmt::fingerprint(&minted.key).as_str()), "{h}");
    assert_eq!(adopted["anthropic_key_id"].as_str(), Some(minted.id.as_str()), "matched to its Console id: {h}");
    let shown = ck.run(&["--json", "instance", "show", "alpha"]).ok().json();
    let inst = if shown["instance"].is_object() { &shown["instance"] } else { &shown };
    assert_eq!(inst["service_manager"]["kind"], "systemd-user", "{shown}");
    assert_eq!(inst["host_key_fingerprint"].as_str(), Some(vps.host_key_fingerprint()), "{shown}");

    // The managed fleet: the checklist sees the adopted key is the one the gateway runs.
    let r = ck.run(&["--json", "check", "alpha"]).ended().json();
    let c = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "credential.matches-keychain.main").cloned().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(c["status"], "pass", "{c}");
    no_key_leaked(&ck, &vps, &[&minted.key]);
}
