//! Onboarding an existing fleet (issue 17), end to end: the real `clawkeep onboard` against
//! real sshd test hosts shaped like real fleets (a key in `.env`, an auth profile in the shared
//! state DB, a secret file behind a config SecretRef, two hosts sharing one key, a truncated
//! key, an unreachable host), the real Secret Service and real SQLite files; and the facade
//! itself for a host key that changes between the fetch and the confirmation. Every planted
//! key is a canary: none may appear in the CLI's output, the data directory or any process's
//! argv sampled while keys are adopted.
//!
//! Needs root + openssh-server (like `world.rs`): elsewhere it skips with a reason, in CI it
//! fails.

use std::sync::Arc;

use clawkeep_core::api::onboard::{ConfirmedHost, HostKeyStatus, OnboardRequest, OnboardStatus};
use clawkeep_core::onboard::{KnownFingerprints, OnboardDefaults, OnboardHost};
use clawkeep_core::ssh::SshAuth;
use clawkeep_core::{Clawkeep, OpenOptions, OsKeychain, SshCredentials};
use clawkeep_tests::canary::{shared_state_db, Canaries};
use clawkeep_tests::cli::{fake_key, Ck};
use clawkeep_tests::sys::ArgvSampler;
use clawkeep_tests::{Host, World, WorldOptions};
use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};

/// The Clawkeep of a [`Ck`], opened in-process on the same data dir and keychain service.
fn open(ck: &Ck) -> Clawkeep {
    Clawkeep::open(OpenOptions { data_dir: Some(ck.data().to_path_buf()), keychain: Some(Arc::new(OsKeychain::new(ck.service.clone()))), ..Default::default() }).unwrap()
}

fn env_with_key(h: &Host, key: &str) {
    h.write_file(".openclaw/.env", format!("# client's env\nOPENCLAW_LOG_LEVEL=info\nexport ANTHROPIC_API_KEY=\"{key}\"\n").as_bytes(), 0o600).unwrap();
}

/// A file SecretRef in `openclaw.json` (`secrets.providers.ck` → `~/.openclaw/secrets/anthropic`).
fn secret_file(h: &Host, key: &str) {
    h.write_file(".openclaw/secrets/anthropic", key.as_bytes(), 0o600).unwrap();
    let cfg = h.read_file(".openclaw/openclaw.json").unwrap();
    let cfg = cfg
        .replacen("meta: {},", "meta: {},\n  secrets: { providers: { ck: { source: \"file\", path: \"~/.openclaw/secrets/anthropic\", mode: \"singleValue\" } } },", 1)
        .replacen("api: \"anthropic-messages\",", "api: \"anthropic-messages\",\n        apiKey: { source: \"file\", provider: \"ck\", id: \"value\" },", 1);
    h.write_file(".openclaw/openclaw.json", cfg.as_bytes(), 0o600).unwrap();
}

fn csv(hosts: &[&Host], names: &[&str]) -> String {
    let mut s = String::from("name,host,port,user\n");
    for (h, n) in hosts.iter().zip(names) {
        s.push_str(&format!("{n},{},{},{}\n", h.addr(), h.port(), h.user()));
    }
    s
}

fn leak_scan(c: &Canaries, ck: &Ck, what: &str) {
    let found = c.find(&ck.transcript());
    assert!(found.is_empty(), "{what}: a key reached the CLI output: {found:?}");
    for (path, bytes) in ck.data_files() {
        let found = c.find(&bytes);
        assert!(found.is_empty(), "{what}: a key reached {}: {found:?}", path.display());
    }
}

/// The whole journey: a batch from a CSV file, fingerprints verified out of band (provider
/// list lines and ssh-keyscan lines), `--yes --adopt` (with an Admin key stored, so an adopted
/// key is matched to its Console id); then the same command again.
#[test]
fn onboard_a_fleet_adopts_each_key_once_and_never_leaks() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(6).without_gateway()) else { return };
    let ck = Ck::for_world(&w);
    ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
    let c = Canaries::new();
    let admin = fake.fixture_key("admin").unwrap();
    c.record("the Admin key", admin.key.clone());
    ck.run_with(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], Some(admin.key.as_bytes())).ok();
    let minted = fake.mint_key(MintKey::api("acme-prod-web", Some(WORKSPACE_PROD_A_ID))).unwrap();
    c.record("h0 .env (minted in the Console)", minted.key.clone());
    let k_env = minted.key.clone();
    let (k_profile, k_file, k_cut) = (c.key("h1 shared auth profile"), c.key("h2 secret file"), c.key("h4 truncated .env"));
    let h = |i| w.host(i);
    env_with_key(h(0), &k_env);
    h(0).write_file(".openclaw/agents/ops/agent/.keep", b"", 0o600).unwrap(); // a second agent
    h(1).write_file(".openclaw/state/openclaw.sqlite", &shared_state_db(&k_profile).unwrap(), 0o600).unwrap();
    secret_file(h(2), &k_file);
    env_with_key(h(3), &k_env); // the same key as h0: a boundary violation
    env_with_key(h(4), &k_cut[..80]); // cut off when it was pasted
    h(5).stop().unwrap();
    let names = ["acme-prod-web", "acme-prod-crm", "acme-prod-files", "acme-prod-copy", "acme-prod-cut", "acme-prod-down"];
    let dir = tempfile::tempdir().unwrap();
    let batch = dir.path().join("fleet.csv");
    std::fs::write(&batch, csv(&w.hosts().iter().collect::<Vec<_>>(), &names)).unwrap();
    // out of band: the provider's list for some, ssh-keyscan output for the others
    let mut known = String::from("# from the provider\n");
    for (i, host) in w.hosts().iter().enumerate() {
        if i % 2 == 0 {
            known.push_str(&format!("{}:{} {}\n", host.addr(), host.port(), host.host_key_fingerprint()));
        } else {
            known.push_str(&host.known_hosts_line());
            known.push('\n');
        }
    }
    let kf = dir.path().join("known");
    std::fs::write(&kf, known).unwrap();
    let args = ["--json", "onboard", "--from-csv", batch.to_str().unwrap(), "--known-fingerprints", kf.to_str().unwrap(), "--yes", "--adopt", "--owner", "acme", "--env", "prod"];

    let sampler = ArgvSampler::start(c.needles());
    let out = ck.run(&args).fails(); // h5 is down
    let (argv_leak, samples) = sampler.finish();
    assert!(!argv_leak, "a key appeared in some process's argv during adoption");
    assert!(samples > 0);
    let v = out.json();
    let keys = v["host_keys"].as_array().unwrap();
    assert_eq!(keys.iter().filter(|k| k["status"] == "verified").count(), 5, "{v:#}");
    assert_eq!(keys[5]["status"], "unreachable");
    let r = &v["report"];
    let s = &r["summary"];
    assert_eq!((s["onboarded"].as_u64(), s["created"].as_u64()), (Some(5), Some(5)), "{r:#}");
    assert_eq!((s["adopted"].as_u64(), s["shared"].as_u64(), s["malformed"].as_u64()), (Some(3), Some(1), Some(1)), "{s}");
    let host = |n: &str| r["hosts"].as_array().unwrap().iter().find(|h| h["name"] == n).unwrap().clone();
    let copy = host("acme-prod-copy");
    assert_eq!(copy["adopted"], serde_json::Value::Null);
    assert_eq!(copy["judgement"]["keys"][0]["decision"]["kind"], "shared", "{copy:#}");
    assert_eq!(r["shared_keys"][0]["hosts"], serde_json::json!(["acme-prod-web", "acme-prod-copy"]));
    let cut = host("acme-prod-cut");
    assert_eq!(cut["judgement"]["keys"][0]["decision"]["kind"], "malformed");
    assert!(cut["judgement"]["keys"][0]["decision"]["reason"].as_str().unwrap().contains("truncated"));
    assert!(out.stderr.contains("not onboarded"), "{}", out.stderr);

    // The keychain holds exactly the hosts' values, bound to their instances; records filled.
    let core = open(&ck);
    for (inst, value, method) in [("acme-prod-web", &k_env, "env-file"), ("acme-prod-crm", &k_profile, "auth-profile"), ("acme-prod-files", &k_file, "secret-file")] {
        let d = core.instance_detail(inst).unwrap();
        assert_eq!(d.instance.injection.as_str(), method, "{inst}");
        assert!(!d.instance.draft);
        assert!(matches!(&d.instance.service_manager, clawkeep_core::ServiceManager::Custom { restart_command } if restart_command.contains("openclaw-gateway-restart")));
        assert_eq!(d.keys.len(), 1, "{inst}");
        assert_eq!(d.keys[0].status, clawkeep_core::KeyStatus::Active);
        assert_eq!(core.key_secret(&d.keys[0].name).unwrap().expose(), value.as_str(), "{inst}: the keychain holds the host's key");
    }
    assert_eq!(core.instance("acme-prod-web").unwrap().agents, ["main", "ops"]);
    let web = &core.list_keys(Some("acme-prod-web")).unwrap()[0];
    assert_eq!((web.anthropic_key_id.as_deref(), web.workspace_id.as_deref()), (Some(minted.id.as_str()), Some(WORKSPACE_PROD_A_ID)), "matched by partial_key_hint");
    for (i, name) in names.iter().enumerate().take(5) {
        assert_eq!(core.instance(name).unwrap().host_key_fingerprint.as_deref(), Some(w.host(i).host_key_fingerprint()));
    }
    assert!(core.list_keys(Some("acme-prod-copy")).unwrap().is_empty() && core.list_keys(Some("acme-prod-cut")).unwrap().is_empty());
    assert!(core.instance("acme-prod-down").is_err(), "nothing written for an unreachable host");
    // Who adopted what from where, without the value.
    let audit = ck.run(&["--json", "audit", "--limit", "500"]).ok().json();
    let adopts: Vec<_> = audit.as_array().unwrap().iter().filter(|e| e["action"] == "key.adopt").collect();
    assert_eq!(adopts.len(), 3, "{audit:#}");
    assert!(
        adopts.iter().any(|e| e["details"]["from"] == format!("{}:{}", h(1).addr(), h(1).port()) && e["details"]["source"].as_str().unwrap().contains("shared store")),
        "{adopts:?}"
    );

    // A managed fleet: the checklist runs against every onboarded instance.
    let checked = ck.run(&["--json", "check", "--all"]).ended().json();
    let reported: Vec<&str> = checked["instances"].as_array().unwrap().iter().filter_map(|r| r["instance"].as_str()).collect();
    for name in &names[..5] {
        assert!(reported.contains(name), "{name} not checked: {reported:?}");
    }

    // Again: nothing adopted twice, records unchanged.
    let again = ck.run(&args).fails().json();
    let s = &again["report"]["summary"];
    assert_eq!((s["adopted"].as_u64(), s["created"].as_u64(), s["updated"].as_u64(), s["already_known"].as_u64()), (Some(0), Some(0), Some(0), Some(4)), "{s}");
    assert_eq!(core.list_keys(None).unwrap().len(), 4, "three adopted keys and the Admin key");
    assert_eq!(again["report"]["shared_keys"][0]["hosts"].as_array().unwrap().len(), 2, "the shared key is still reported");
    // And the plain-text form says the same, with hints only.
    let text = ck.run(&args[1..]).fails();
    assert!(text.stdout.contains("0 key(s) adopted") && text.stdout.contains("boundary violation"), "{}", text.stdout);
    leak_scan(&c, &ck, "onboarding");
}

/// The host key a host presents changes between the fetch and the confirmation: refused during
/// the handshake, nothing written, nothing adopted. A fingerprint given out of band that the
/// host does not present is refused with both fingerprints.
#[test]
fn a_host_key_that_changes_after_the_fetch_is_refused() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(2).without_gateway()) else { return };
    let ck = Ck::for_world(&w);
    let key = fake_key();
    let c = Canaries::new();
    c.record("h0 .env", key.clone());
    env_with_key(w.host(0), &key);
    env_with_key(w.host(1), &key);
    let core = open(&ck);
    let hosts: Vec<OnboardHost> = w
        .hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| OnboardHost { name: format!("globex-prod-{i}"), host: h.addr().to_string(), port: h.port(), user: Some(h.user().into()) })
        .collect();
    let quiet: clawkeep_core::api::onboard::OnboardProgressFn = Arc::new(|_, _| {});
    let cancel = clawkeep_core::deploy::CancellationToken::new();
    let fetched = core.onboard_fetch_host_keys(&hosts, &KnownFingerprints::default(), 4, None, quiet.clone(), &cancel).unwrap();
    assert!(fetched.iter().all(|f| f.status == HostKeyStatus::Unverified), "{fetched:?}");
    // The person confirms what was shown… and host 0 is re-keyed before the run.
    let impostor = w.host(0).replace_host_key().unwrap();
    let req = OnboardRequest {
        hosts: fetched.iter().map(|f| ConfirmedHost { host: f.host.clone(), fingerprint: f.presented.clone().unwrap(), preview_digest: None }).collect(),
        defaults: OnboardDefaults::default(),
        apply: true,
        adopt: hosts.iter().map(|h| h.name.clone()).collect(),
        ..Default::default()
    };
    let creds = SshCredentials::Given(SshAuth::KeyFile { path: w.client_key(), passphrase: None });
    let report = core.run_onboard(&req, &creds, quiet, &cancel).unwrap();
    let h0 = &report.hosts[0];
    assert_eq!(h0.status, OnboardStatus::Refused, "{h0:?}");
    let e = h0.error.as_ref().unwrap();
    assert_eq!(e.code, "host_key_mismatch");
    assert!(e.message.contains(&impostor) && e.message.contains(w.host(0).host_key_fingerprint()), "both fingerprints: {}", e.message);
    assert!(core.instance("globex-prod-0").is_err(), "nothing written for the refused host");
    // the other host went through, and its key (the same value) was adopted there only
    assert_eq!(report.hosts[1].status, OnboardStatus::Onboarded);
    assert_eq!(core.list_keys(None).unwrap().len(), 1);
    assert_eq!(core.list_keys(None).unwrap()[0].instance.as_deref(), Some("globex-prod-1"));

    // Out of band: a fingerprint the host does not present is refused, both shown, nothing written.
    let dir = tempfile::tempdir().unwrap();
    let kf = dir.path().join("known");
    std::fs::write(&kf, format!("{}:{} {}\n", w.host(0).addr(), w.host(0).port(), w.host(0).host_key_fingerprint())).unwrap();
    let target = format!("{}@{}:{}", w.host(0).user(), w.host(0).addr(), w.host(0).port());
    let out = ck.run(&["onboard", "--hosts", &target, "--known-fingerprints", kf.to_str().unwrap(), "--yes", "--adopt"]).fails();
    assert!(out.stdout.contains("HOST KEY MISMATCH") && out.stdout.contains(&impostor) && out.stdout.contains(w.host(0).host_key_fingerprint()), "{}", out.stdout);
    assert_eq!(core.list_instances(&Default::default()).unwrap().len(), 1);
    leak_scan(&c, &ck, "refusals");
}

/// Apply only what was previewed: the person reviews a preview, then the key on one host is
/// replaced before they apply. The apply carrying the preview's digests is refused
/// (`onboard_preview_changed`) and nothing is written — no instance, no key, no keychain entry;
/// an apply that must carry digests but has none is `plan_not_reviewed`. Previewed again, the
/// batch goes through and the new key is the one adopted.
#[test]
fn an_apply_whose_discovery_changed_since_the_preview_is_refused() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(2).without_gateway()) else { return };
    let ck = Ck::for_world(&w);
    let (k0, k1, k0_new) = (fake_key(), fake_key(), fake_key());
    let c = Canaries::new();
    c.record("h0 .env", k0.clone());
    c.record("h1 .env", k1.clone());
    c.record("h0 .env, replaced", k0_new.clone());
    env_with_key(w.host(0), &k0);
    env_with_key(w.host(1), &k1);
    let core = open(&ck);
    let hosts: Vec<OnboardHost> = w
        .hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| OnboardHost { name: format!("initech-prod-{i}"), host: h.addr().to_string(), port: h.port(), user: Some(h.user().into()) })
        .collect();
    let quiet: clawkeep_core::api::onboard::OnboardProgressFn = Arc::new(|_, _| {});
    let cancel = clawkeep_core::deploy::CancellationToken::new();
    let creds = SshCredentials::Given(SshAuth::KeyFile { path: w.client_key(), passphrase: None });
    let fetched = core.onboard_fetch_host_keys(&hosts, &KnownFingerprints::default(), 4, None, quiet.clone(), &cancel).unwrap();
    let mut req = OnboardRequest {
        hosts: fetched.iter().map(|f| ConfirmedHost { host: f.host.clone(), fingerprint: f.presented.clone().unwrap(), preview_digest: None }).collect(),
        adopt: hosts.iter().map(|h| h.name.clone()).collect(),
        require_preview: true,
        ..Default::default()
    };
    let preview = core.run_onboard(&req, &creds, quiet.clone(), &cancel).unwrap();
    assert!(preview.hosts.iter().all(|h| h.status == OnboardStatus::Previewed && h.digest.is_some()), "{preview:?}");

    // Applying without the preview's digests is refused when they are required.
    req.apply = true;
    let e = core.run_onboard(&req, &creds, quiet.clone(), &cancel).unwrap_err();
    assert_eq!(e.code(), "plan_not_reviewed", "{e}");

    // The key on host 0 is replaced after the preview: the reviewed apply is refused whole.
    for (c, h) in req.hosts.iter_mut().zip(&preview.hosts) {
        c.preview_digest = h.digest.clone();
    }
    env_with_key(w.host(0), &k0_new);
    let e = core.run_onboard(&req, &creds, quiet.clone(), &cancel).unwrap_err();
    assert_eq!(e.code(), "onboard_preview_changed", "{e}");
    assert!(e.to_string().contains("initech-prod-0") && !e.to_string().contains("initech-prod-1"), "{e}");
    assert!(core.list_instances(&Default::default()).unwrap().is_empty(), "nothing written");
    assert!(core.list_keys(None).unwrap().is_empty(), "nothing adopted");
    assert!(core.audit_log(None, None, 100).unwrap().iter().all(|a| !a.action.starts_with("instance.onboard") && a.action != "key.adopt"));

    // Previewed again, what is applied is what was shown: the new key.
    req.apply = false;
    let preview = core.run_onboard(&req, &creds, quiet.clone(), &cancel).unwrap();
    for (c, h) in req.hosts.iter_mut().zip(&preview.hosts) {
        c.preview_digest = h.digest.clone();
    }
    req.apply = true;
    let report = core.run_onboard(&req, &creds, quiet, &cancel).unwrap();
    assert_eq!(report.summary.adopted, 2, "{report:?}");
    let adopted = report.hosts[0].adopted.as_ref().unwrap();
    assert_eq!(adopted.fingerprint, clawkeep_core::model::keyfmt::fingerprint(&k0_new));
    leak_scan(&c, &ck, "preview digest");
}
