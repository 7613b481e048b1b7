//! The guided rotation's step machine against the in-process fake Anthropic API on 127.0.0.1,
//! with a simulated host standing in for the SSH deploy (the real one is on branch `deploy`).
//! Full rotation, resume after a restart without repeating side effects, rollback from every
//! step, manual mode without an Admin key, soak with traffic, and refused input.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use clawkeep_core::rotation::*;
use clawkeep_core::*;
use clawkeep_rehearsal::SimulatedHost;
use fake_anthropic::{FakeAnthropic, MintKey, MintedKey, Preset, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID};

const INSTANCE: &str = "acme-prod";
const OLD: &str = "openclaw-acme-prod-support-bot";

struct World {
    dir: tempfile::TempDir,
    kc: Arc<MemoryKeychain>,
    now: Arc<Mutex<DateTime<Utc>>>,
    ck: Clawkeep,
    fake: FakeAnthropic,
    host: SimulatedHost,
    old: MintedKey,
}

impl World {
    fn new(with_admin: bool) -> World {
        Self::build(with_admin, |_| None)
    }

    /// Like [`World::new`], the old key stored with the Admin API id `old_key_id` gives (as
    /// `key add --key-id` would, before any Admin key was stored to check it).
    fn build(with_admin: bool, old_key_id: impl FnOnce(&FakeAnthropic) -> Option<String>) -> World {
        assert!(std::env::var_os("CLAWKEEP_ANTHROPIC_BASE_URL").is_none(), "unset CLAWKEEP_ANTHROPIC_BASE_URL for these tests");
        let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
        fake.state().with(|s| s.knobs.admin_rate_limit = None);
        let dir = tempfile::tempdir().unwrap();
        let kc = Arc::new(MemoryKeychain::new());
        let now = Arc::new(Mutex::new(Utc::now() - Duration::days(100)));
        let ck = Self::open(dir.path(), &kc, &now);
        ck.set_anthropic_base_url(&fake.base_url()).unwrap();
        ck.add_instance(InstanceSpec {
            name: INSTANCE.into(),
            owner: "acme".into(),
            environment: "prod".into(),
            workload: "support-bot".into(),
            ssh_host: "127.0.1.1".into(),
            ssh_user: "ckh1".into(),
            expected_workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
            ..Default::default()
        })
        .unwrap();
        let old = fake.fixture_key("instance-a").unwrap();
        let anthropic_key_id = old_key_id(&fake);
        let k = ck.add_key(KeySpec { name: OLD.into(), instance: Some(INSTANCE.into()), anthropic_key_id, ..Default::default() }, Secret::new(old.key.clone())).unwrap();
        if with_admin {
            let admin = fake.fixture_key("admin").unwrap();
            ck.add_key(KeySpec { name: "openclaw-acme-prod-admin".into(), allow_name: true, ..Default::default() }, Secret::new(admin.key)).unwrap();
        }
        let host = SimulatedHost::new(&fake.base_url());
        host.seed(INSTANCE, &k.key);
        *now.lock().unwrap() = Utc::now();
        World { dir, kc, now, ck, fake, host, old }
    }

    fn open(dir: &std::path::Path, kc: &Arc<MemoryKeychain>, now: &Arc<Mutex<DateTime<Utc>>>) -> Clawkeep {
        let n = now.clone();
        Clawkeep::open(OpenOptions {
            data_dir: Some(dir.to_path_buf()),
            keychain: Some(kc.clone()),
            clock: Some(Arc::new(move || *n.lock().unwrap())),
            os_user: Some("tester".into()),
        })
        .unwrap()
    }

    /// A fresh Clawkeep on the same data dir and keychain: what a new process sees.
    fn restart(&mut self) {
        self.ck = Self::open(self.dir.path(), &self.kc, &self.now);
    }

    fn start(&self) -> Rotation {
        self.ck.rotation_start(INSTANCE, RotationOptions { soak_secs: Some(0), new_key_name: None, manual_deploy: false }).unwrap()
    }

    /// The user creates the new key in the Console (here: the fake's mint).
    fn console_key(&self, rot: &Rotation, ws: &str) -> MintedKey {
        self.fake.mint_key(MintKey::api(rot.new_key_name.clone(), Some(ws))).unwrap()
    }

    fn step(&self, input: StepInput) -> StepReport {
        self.ck.rotation_step(INSTANCE, input, &self.host).unwrap()
    }

    fn paste(&self, secret: &str) -> Result<StepReport> {
        self.ck.rotation_step(INSTANCE, StepInput { secret: Some(Secret::new(secret.into())), confirm: false }, &self.host)
    }

    fn fake_status(&self, id: &str) -> String {
        let s = self.fake.state().snapshot();
        let k = s.keys.iter().find(|k| k.id == id).unwrap();
        serde_json::to_value(k.status).unwrap().as_str().unwrap().to_string()
    }

    /// Every key the fake knows, with its Admin API status (the fake's control surface).
    fn key_states(&self) -> Vec<(String, String)> {
        self.fake.state().snapshot().keys.iter().map(|k| (k.id.clone(), serde_json::to_value(k.status).unwrap().as_str().unwrap().to_string())).collect()
    }

    /// Admin status changes the fake saw (any key).
    fn all_status_posts(&self) -> usize {
        self.fake.requests().iter().filter(|r| r.method == "POST" && r.path.starts_with("/v1/organizations/api_keys")).count()
    }

    /// Admin status changes the fake saw for a key id.
    fn status_posts(&self, id: &str) -> usize {
        let path = format!("/v1/organizations/api_keys/{id}");
        self.fake.requests().iter().filter(|r| r.method == "POST" && r.path == path && r.status == 200).count()
    }

    fn key_status(&self, name: &str) -> KeyStatus {
        self.ck.key(name).unwrap().status
    }

    /// The old key works against the API (what an agent would see).
    fn old_key_works(&self) -> bool {
        rotation::api::Client::new(&self.fake.base_url()).unwrap().probe(&Secret::new(self.old.key.clone())).unwrap().ok()
    }
}

#[test]
fn full_rotation_with_admin_key() {
    let w = World::new(true);
    let rot = w.start();
    assert_eq!(rot.step, RotationStep::Paste);
    assert!(rot.new_key_name.starts_with("openclaw-acme-prod-support-bot-"), "{}", rot.new_key_name);
    assert!(rot.waiting_for.as_deref().unwrap().contains(WORKSPACE_PROD_A_ID));
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);

    let r = w.paste(&new.key).unwrap();
    assert!(r.progressed && r.rotation.step == RotationStep::Deploy, "{r:?}");
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Staged);
    assert_eq!(w.ck.key(&rot.new_key_name).unwrap().workspace_id.as_deref(), Some(WORKSPACE_PROD_A_ID));

    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.step, RotationStep::Deactivate);
    assert_eq!(w.host.key_on_host(INSTANCE).as_deref(), Some(rot.new_key_name.as_str()));
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Active);
    assert_eq!(w.key_status(OLD), KeyStatus::Staged);

    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.step, RotationStep::Soak);
    assert_eq!(r.rotation.old_anthropic_key_id.as_deref(), Some(w.old.id.as_str()));
    assert_eq!(w.fake_status(&w.old.id), "inactive");
    assert!(!w.old_key_works());
    assert_eq!(w.ck.key(OLD).unwrap().anthropic_key_id.as_deref(), Some(w.old.id.as_str()));

    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.step, RotationStep::Archive, "{r:?}");
    assert!(r.detail.contains("0 tokens"), "{}", r.detail);
    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.outcome, RotationOutcome::Completed);
    assert_eq!(r.rotation.step, RotationStep::Done);
    assert_eq!(w.fake_status(&w.old.id), "archived");
    assert_eq!(w.status_posts(&w.old.id), 2, "one inactive, one archived");
    assert_eq!(w.status_posts(&new.id), 0, "the new key is never touched");
    // The inventory: new key active, old retired.
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Active);
    let old = w.ck.key(OLD).unwrap();
    assert_eq!(old.status, KeyStatus::Retired);
    assert!(old.retired_at.is_some() && old.rotated_at.is_some());
    assert_eq!(w.ck.list_instances(&InstanceFilter::default()).unwrap()[0].active_key.as_ref().unwrap().name, rot.new_key_name);
    // The admin key never went to the host.
    assert!(w.host.deploys().iter().all(|(_, k)| k == &rot.new_key_name));
    // Audited: every step.
    let actions: Vec<String> = w.ck.audit_log(None, Some(INSTANCE), 100).unwrap().into_iter().rev().map(|e| e.action).collect();
    for a in ["rotation.start", "rotation.paste", "rotation.deploy", "rotation.deactivate", "rotation.soak", "rotation.archive"] {
        assert!(actions.contains(&a.to_string()), "{a} not in {actions:?}");
    }
    assert_eq!(r.rotation.done_steps(), vec![RotationStep::Create, RotationStep::Paste, RotationStep::Deploy, RotationStep::Deactivate, RotationStep::Soak, RotationStep::Archive]);
    // Finished: no step, no rollback; a new rotation can start.
    assert!(w.ck.rotation_step(INSTANCE, StepInput::default(), &w.host).is_err());
    assert!(w.ck.rotation_rollback(INSTANCE, false, &w.host).is_err());
    assert!(w.ck.open_rotations().unwrap().is_empty());
    let plan = w.ck.rotation_plan(None).unwrap();
    assert_eq!(plan.items().next().unwrap().key_name, rot.new_key_name);
}

#[test]
fn restart_between_steps_and_crash_inside_a_step_repeat_nothing() {
    let mut w = World::new(true);
    let rot = w.start();
    w.restart();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    // Crash after the key was stored but before the step was saved: the key is adopted.
    w.ck.add_key(
        KeySpec { name: rot.new_key_name.clone(), instance: Some(INSTANCE.into()), workspace_id: Some(WORKSPACE_PROD_A_ID.into()), ..Default::default() },
        Secret::new(new.key.clone()),
    )
    .unwrap();
    w.restart();
    let r = w.step(StepInput::default());
    assert!(r.detail.contains("adopted"), "{}", r.detail);
    w.restart();
    w.step(StepInput::default()); // deploy
    w.restart();
    // Crash after the Admin API call but before the step was saved: the old key is already
    // inactive at Anthropic; the resumed step must not send the change again.
    w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().status = fake_anthropic::KeyStatus::Inactive);
    let r = w.step(StepInput::default());
    assert!(r.detail.contains("already inactive"), "{}", r.detail);
    assert_eq!(w.status_posts(&w.old.id), 0);
    w.restart();
    w.step(StepInput::default()); // soak
    w.restart();
    let r = w.step(StepInput::default()); // archive
    assert_eq!(r.rotation.outcome, RotationOutcome::Completed);
    assert_eq!(w.status_posts(&w.old.id), 1, "only the archive was sent");
    assert_eq!(w.host.deploys().len(), 1, "deployed once");
}

/// Where to stop before rolling back.
fn advance_to(w: &World, stop: RotationStep) -> Rotation {
    let rot = w.start();
    if stop == RotationStep::Paste {
        return rot;
    }
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    let mut r = w.paste(&new.key).unwrap();
    while r.rotation.step != stop {
        r = w.step(StepInput::default());
    }
    r.rotation
}

#[test]
fn rollback_from_every_step_restores_a_working_state() {
    for stop in [RotationStep::Paste, RotationStep::Deploy, RotationStep::Deactivate, RotationStep::Soak, RotationStep::Archive] {
        let w = World::new(true);
        let rot = advance_to(&w, stop);
        let deploys_before = w.host.deploys().len();
        let r = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap_or_else(|e| panic!("rollback at {stop:?}: {e}"));
        assert_eq!(r.rotation.outcome, RotationOutcome::RolledBack, "{stop:?}");
        // Working state: the old key is active everywhere and works; the host has it.
        assert_eq!(w.key_status(OLD), KeyStatus::Active, "{stop:?}");
        assert_eq!(w.fake_status(&w.old.id), "active", "{stop:?}");
        assert!(w.old_key_works(), "{stop:?}");
        assert_eq!(w.host.key_on_host(INSTANCE).as_deref(), Some(OLD), "{stop:?}");
        match w.ck.key(&rot.new_key_name) {
            Ok(k) => assert_eq!(k.status, KeyStatus::Revoked, "{stop:?}"),
            Err(_) => assert_eq!(stop, RotationStep::Paste),
        }
        // Redeployed only where the new key had been deployed; reactivated only where deactivated.
        let redeployed = w.host.deploys().len() - deploys_before;
        let deployed = matches!(stop, RotationStep::Deactivate | RotationStep::Soak | RotationStep::Archive);
        assert_eq!(redeployed, usize::from(deployed), "{stop:?}");
        let deactivated = matches!(stop, RotationStep::Soak | RotationStep::Archive);
        assert_eq!(w.status_posts(&w.old.id), if deactivated { 2 } else { 0 }, "{stop:?}");
        assert!(w.ck.open_rotations().unwrap().is_empty());
        assert!(w.ck.audit_log(None, Some(INSTANCE), 100).unwrap().iter().any(|e| e.action == "rotation.rollback"));
        // And a new rotation can start from there.
        let again = w.ck.rotation_start(INSTANCE, RotationOptions { soak_secs: Some(0), new_key_name: None, manual_deploy: false }).unwrap();
        assert_ne!(again.id, rot.id);
    }
}

#[test]
fn failed_verification_stops_and_retry_or_rollback_works() {
    let w = World::new(true);
    let rot = advance_to(&w, RotationStep::Deploy);
    w.host.fail_next(1);
    let e = w.ck.rotation_step(INSTANCE, StepInput::default(), &w.host).unwrap_err();
    assert!(e.to_string().contains("not seen using it"), "{e}");
    assert_eq!(w.key_status(OLD), KeyStatus::Active, "nothing swapped");
    assert_eq!(w.ck.rotation(INSTANCE).unwrap().step, RotationStep::Deploy);
    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.step, RotationStep::Deactivate);
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Active);
}

#[test]
fn manual_mode_without_admin_key() {
    let w = World::new(false);
    let rot = w.start();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    w.paste(&new.key).unwrap();
    // A person deploys (the manual deployer) and confirms.
    let r = w.ck.rotation_step(INSTANCE, StepInput::default(), &ManualDeployer).unwrap();
    assert!(!r.progressed && r.detail.contains("confirm"), "{r:?}");
    // The confirmation it waits for travels as data, not as a command line in the text.
    assert_eq!(r.rotation.waiting_action, Some(clawkeep_core::Remedy::RotateResume { instance: INSTANCE.into(), confirm: true }));
    assert!(!r.detail.contains("clawkeep "), "{r:?}");
    assert_eq!(w.key_status(OLD), KeyStatus::Active);
    let r = w.ck.rotation_step(INSTANCE, StepInput { secret: None, confirm: true }, &ManualDeployer).unwrap();
    assert_eq!(r.rotation.step, RotationStep::Deactivate);
    let r = w.step(StepInput::default());
    assert!(!r.progressed && r.detail.contains("in the Console"), "{r:?}");
    // Confirming while the old key still works is refused (checked with a probe).
    let e = w.ck.rotation_step(INSTANCE, StepInput { secret: None, confirm: true }, &w.host).unwrap_err();
    assert!(e.to_string().contains("still works"), "{e}");
    w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().status = fake_anthropic::KeyStatus::Inactive);
    let r = w.step(StepInput { secret: None, confirm: true });
    assert_eq!((r.rotation.step, r.rotation.deactivated_by.as_deref()), (RotationStep::Soak, Some("manual")));
    w.step(StepInput::default());
    let r = w.step(StepInput::default());
    assert!(!r.progressed && r.detail.contains("archive the old key"), "{r:?}");
    let r = w.step(StepInput { secret: None, confirm: true });
    assert_eq!(r.rotation.outcome, RotationOutcome::Completed);
    assert_eq!(w.key_status(OLD), KeyStatus::Retired);
    assert_eq!(w.fake.requests().iter().filter(|r| r.method == "POST").count(), 0, "no Admin API call without an admin key");
}

#[test]
fn manual_rollback_needs_the_old_key_reactivated() {
    let w = World::new(false);
    let rot = w.start();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    w.paste(&new.key).unwrap();
    w.step(StepInput::default()); // deploy (simulated host)
    w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().status = fake_anthropic::KeyStatus::Inactive);
    w.step(StepInput { secret: None, confirm: true }); // deactivated by hand
    assert!(w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap_err().to_string().contains("active again in the Console"));
    let e = w.ck.rotation_rollback(INSTANCE, true, &w.host).unwrap_err();
    assert!(e.to_string().contains("still rejected"), "{e}");
    w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().status = fake_anthropic::KeyStatus::Active);
    let r = w.ck.rotation_rollback(INSTANCE, true, &w.host).unwrap();
    assert_eq!(r.rotation.outcome, RotationOutcome::RolledBack);
    assert_eq!(w.host.key_on_host(INSTANCE).as_deref(), Some(OLD));
    assert_eq!(w.key_status(OLD), KeyStatus::Active);
}

#[test]
fn soak_waits_while_the_old_key_has_traffic() {
    let w = World::new(true);
    // Deactivate "two hours ago" by the Clawkeep clock, then traffic shows up in the report.
    *w.now.lock().unwrap() = w.fake.now() - Duration::hours(2);
    let rot = w.ck.rotation_start(INSTANCE, RotationOptions { soak_secs: Some(3600), new_key_name: None, manual_deploy: false }).unwrap();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    w.paste(&new.key).unwrap();
    w.step(StepInput::default());
    w.step(StepInput::default());
    w.fake.add_usage(fake_anthropic::UsageRow {
        ts: w.fake.now() - Duration::minutes(30),
        api_key_id: Some(w.old.id.clone()),
        workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
        model: fake_anthropic::CHEAPEST_MODEL.into(),
        uncached_input_tokens: 120,
        output_tokens: 7,
        ..serde_json::from_value(serde_json::json!({"ts": "2026-01-01T00:00:00Z", "model": "m"})).unwrap()
    });
    *w.now.lock().unwrap() = w.fake.now();
    let r = w.step(StepInput::default());
    assert!(!r.progressed && r.detail.contains("127 tokens"), "{r:?}");
    // Still waiting on a second poll, with one history entry for the wait.
    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.history.iter().filter(|e| e.outcome == "waiting").count(), 1);
    // The person confirms (they found the caller): the soak ends.
    let r = w.step(StepInput { secret: None, confirm: true });
    assert_eq!(r.rotation.step, RotationStep::Archive);
}

#[test]
fn soak_period_is_honoured() {
    let w = World::new(true);
    let rot = w.ck.rotation_start(INSTANCE, RotationOptions { soak_secs: Some(24 * 3600), new_key_name: None, manual_deploy: false }).unwrap();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    w.paste(&new.key).unwrap();
    w.step(StepInput::default());
    w.step(StepInput::default());
    let r = w.step(StepInput::default());
    assert!(!r.progressed && r.detail.contains("stays inactive"), "{r:?}");
    *w.now.lock().unwrap() += Duration::hours(25);
    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.step, RotationStep::Archive, "{r:?}");
}

#[test]
fn bad_input_is_refused_with_the_reason() {
    let w = World::new(true);
    let rot = w.start();
    let other_ws = w.fake.mint_key(MintKey::api("elsewhere", Some(WORKSPACE_PROD_B_ID))).unwrap();
    let admin = w.fake.mint_key(MintKey::admin("another-admin")).unwrap();
    let oauth = w.fake.mint_key(MintKey::oauth("subscription")).unwrap();
    let mut unknown = w.fake.mint_key(MintKey::api("deleted", Some(WORKSPACE_PROD_A_ID))).unwrap();
    w.fake.state().with(|s| s.keys.retain(|k| k.id != unknown.id));
    let cases: Vec<(String, &str)> = vec![
        (w.old.key.clone(), "this is the current key"),
        (other_ws.key.clone(), "belongs to workspace wrkspc_01ProdBWorkspace00000000"),
        (admin.key.clone(), "Admin API key"),
        (oauth.key.clone(), "OAuth token"),
        (std::mem::take(&mut unknown.key), "rejected the new key on GET /v1/models: 401"),
        (format!("{}…", &other_ws.key[..20]), "ellipsis"),
    ];
    for (secret, reason) in &cases {
        let e = w.paste(secret).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(e.to_string().contains(reason), "{reason}: {e}");
        if let Some(middle) = secret.get(20..40) {
            assert!(!e.to_string().contains(middle), "the message leaks the key: {e}");
        }
    }
    let now = w.ck.rotation(INSTANCE).unwrap();
    assert_eq!(now.step, RotationStep::Paste);
    assert_eq!(now.history.iter().filter(|e| e.outcome == "refused").count(), cases.len());
    assert_eq!(w.ck.list_keys(Some(INSTANCE)).unwrap().len(), 1, "nothing stored");
    // The right key still goes through afterwards.
    let good = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    assert!(w.paste(&good.key).unwrap().progressed);
}

#[test]
fn one_open_rotation_per_instance_and_state_is_serialisable() {
    let w = World::new(true);
    let rot = w.start();
    let e = w.ck.rotation_start(INSTANCE, RotationOptions::default()).unwrap_err();
    assert_eq!(e.code(), "conflict");
    let json = serde_json::to_string(&rot).unwrap();
    let back: Rotation = serde_json::from_str(&json).unwrap();
    assert_eq!(back, rot);
    assert!(!json.contains(&w.old.key[16..60]), "no secret in the persisted state");
}

// ---- issue 12, finding 2: the Admin API key id is checked against the key itself ----------

#[test]
fn a_key_id_of_another_key_is_refused_before_any_admin_api_change() {
    // `key add --key-id` was given the id of someone else's key in the same workspace.
    let w = World::build(true, |f| Some(f.mint_key(MintKey::api("someone-elses-key", Some(WORKSPACE_PROD_A_ID))).unwrap().id));
    let other_id = w.ck.key(OLD).unwrap().anthropic_key_id.unwrap();
    assert_ne!(other_id, w.old.id);
    let other_hint = w.fake.state().snapshot().keys.iter().find(|k| k.id == other_id).unwrap().partial_key_hint.clone();
    let rot = advance_to(&w, RotationStep::Deactivate);
    assert_eq!(rot.old_anthropic_key_id.as_deref(), Some(other_id.as_str()));
    let before = w.key_states();

    let e = w.ck.rotation_step(INSTANCE, StepInput::default(), &w.host).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch", "{e}");
    let msg = e.to_string();
    assert!(msg.contains(&other_id) && msg.contains(&other_hint) && msg.contains(&rot.old_key_hint), "names the id and both hints: {msg}");
    assert!(!msg.contains(&w.old.key[20..60]), "no key value in the message: {msg}");
    // Nothing changed at the API; the rotation did not move.
    assert_eq!(w.key_states(), before, "a key changed at the API");
    assert_eq!(w.all_status_posts(), 0, "an Admin API change was sent");
    let now = w.ck.rotation(INSTANCE).unwrap();
    assert_eq!(now.step, RotationStep::Deactivate);
    assert!(now.deactivated_at.is_none());
    assert!(now.history.last().is_some_and(|e| e.outcome == "refused" && e.detail.contains(&other_id)), "{:?}", now.history.last());

    // The wrong id is no longer used: resuming finds the key by its value's hint and acts on it.
    let r = w.step(StepInput::default());
    assert_eq!(r.rotation.step, RotationStep::Soak, "{r:?}");
    assert_eq!(r.rotation.old_anthropic_key_id.as_deref(), Some(w.old.id.as_str()));
    assert_eq!(w.fake_status(&w.old.id), "inactive");
    assert_eq!(w.fake_status(&other_id), "active", "the other key was never touched");
    assert_eq!(w.status_posts(&other_id), 0);
    assert_eq!(w.ck.key(OLD).unwrap().anthropic_key_id.as_deref(), Some(w.old.id.as_str()), "the inventory now has the right id");
}

#[test]
fn archive_and_rollback_recheck_the_key_id() {
    // The id was right at deactivation; then it stops matching (the fake's record is edited,
    // standing in for an id that points elsewhere): the archive must not act on it.
    let tamper = |w: &World| w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().partial_key_hint = "sk-ant-api03-Zzz...zzAA".into());
    let w = World::new(true);
    advance_to(&w, RotationStep::Archive);
    tamper(&w);
    let before = w.key_states();
    let posts = w.all_status_posts();
    let e = w.ck.rotation_step(INSTANCE, StepInput::default(), &w.host).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch", "{e}");
    assert!(e.to_string().contains("sk-ant-api03-Zzz...zzAA"), "{e}");
    assert_eq!(w.key_states(), before);
    assert_eq!(w.all_status_posts(), posts);
    assert_eq!(w.fake_status(&w.old.id), "inactive", "not archived");
    // The rotation forgot the id: the archive is now the person's, in the Console.
    let r = w.step(StepInput::default());
    assert!(!r.progressed && r.detail.contains("archive the old key"), "{r:?}");
    assert_eq!(w.all_status_posts(), posts);

    // The rollback's reactivation goes through the same check (after the host is back).
    let w = World::new(true);
    let rot = advance_to(&w, RotationStep::Soak);
    tamper(&w);
    let before = w.key_states();
    let posts = w.all_status_posts();
    let e = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch", "{e}");
    assert_eq!(w.key_states(), before);
    assert_eq!(w.all_status_posts(), posts);
    assert!(w.ck.rotation(INSTANCE).unwrap().is_open());
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Active, "nothing revoked");
    // The person reactivates the old key by hand and confirms.
    w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().status = fake_anthropic::KeyStatus::Active);
    let r = w.ck.rotation_rollback(INSTANCE, true, &w.host).unwrap();
    assert_rolled_back_with_old_key_on_host(&w, &r, &rot.new_key_name);
}

#[test]
fn a_key_id_in_another_workspace_is_refused() {
    let w = World::build(true, |f| Some(f.fixture_key("instance-a").unwrap().id));
    advance_to(&w, RotationStep::Deactivate);
    // The API says the key with that id (and the right hint) lives in another workspace.
    w.fake.state().with(|s| s.keys.iter_mut().find(|k| k.id == w.old.id).unwrap().scope = fake_anthropic::KeyScope::Workspace { workspace_id: WORKSPACE_PROD_B_ID.into() });
    let before = w.key_states();
    let e = w.ck.rotation_step(INSTANCE, StepInput::default(), &w.host).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch", "{e}");
    assert!(e.to_string().contains(WORKSPACE_PROD_B_ID), "{e}");
    assert_eq!(w.key_states(), before);
    assert_eq!(w.all_status_posts(), 0);
}

#[test]
fn key_add_checks_the_key_id_when_an_admin_key_is_stored() {
    let w = World::new(true);
    let mine = w.fake.mint_key(MintKey::api("spare", Some(WORKSPACE_PROD_A_ID))).unwrap();
    let other = w.fake.mint_key(MintKey::api("other", Some(WORKSPACE_PROD_A_ID))).unwrap();
    let spec = |id: &str| KeySpec { name: "openclaw-acme-prod-spare".into(), anthropic_key_id: Some(id.into()), allow_name: true, ..Default::default() };
    let e = w.ck.add_key(spec(&other.id), Secret::new(mine.key.clone())).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch", "{e}");
    assert!(e.to_string().contains(&other.partial_key_hint), "{e}");
    assert!(!e.to_string().contains(&mine.key[20..60]), "{e}");
    assert!(w.ck.key("openclaw-acme-prod-spare").is_err(), "nothing stored");
    // An id the Admin API does not know, or not shaped like one.
    let e = w.ck.add_key(spec("apikey_01NoSuchKey000000000000"), Secret::new(mine.key.clone())).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch", "{e}");
    let e = w.ck.add_key(spec("not an id; rm -rf /"), Secret::new(mine.key.clone())).unwrap_err();
    assert_eq!(e.code(), "invalid_input", "{e}");
    assert!(w.ck.key("openclaw-acme-prod-spare").is_err(), "nothing stored");
    // The right id goes through.
    let k = w.ck.add_key(spec(&mine.id), Secret::new(mine.key.clone())).unwrap();
    assert_eq!(k.key.anthropic_key_id.as_deref(), Some(mine.id.as_str()));
    assert_eq!(w.all_status_posts(), 0, "checking an id changes nothing");
}

#[test]
fn key_add_without_a_way_to_check_the_id_stores_it_with_a_warning() {
    // No Admin key: stored, and the warning says the rotation checks it.
    let w = World::new(false);
    let spare = w.fake.mint_key(MintKey::api("spare", Some(WORKSPACE_PROD_A_ID))).unwrap();
    let spec = |id: &str| KeySpec { name: "openclaw-acme-prod-spare".into(), anthropic_key_id: Some(id.into()), allow_name: true, ..Default::default() };
    let k = w.ck.add_key(spec(&spare.id), Secret::new(spare.key.clone())).unwrap();
    assert!(k.warnings.iter().any(|m| m.contains("not checked") && m.contains("before any change")), "{:?}", k.warnings);
    // An Admin key, but the API is unreachable: stored, with a warning; nothing is refused.
    let w = World::new(true);
    let spare = w.fake.mint_key(MintKey::api("spare", Some(WORKSPACE_PROD_A_ID))).unwrap();
    w.ck.set_anthropic_base_url("http://127.0.0.1:1").unwrap();
    let k = w.ck.add_key(spec(&spare.id), Secret::new(spare.key.clone())).unwrap();
    assert!(k.warnings.iter().any(|m| m.contains("could not be checked now")), "{:?}", k.warnings);
    assert!(k.warnings.iter().all(|m| !m.contains(&spare.key[20..60])));
}

// ---- issue 12, finding 3: rollback reads what the host holds --------------------------------

/// A deploy that writes the key to the host and then dies before the step is saved (a crash
/// between the write and the step commit).
struct CrashAfterWrite<'a>(&'a SimulatedHost);

impl Deployer for CrashAfterWrite<'_> {
    fn deploy(&self, instance: &Instance, key: &Key, secret: &Secret) -> Result<DeployOutcome> {
        self.0.deploy(instance, key, secret)?;
        Err(Error::Store("simulated crash after the write".into()))
    }
}

fn assert_rolled_back_with_old_key_on_host(w: &World, r: &StepReport, new_name: &str) {
    assert_eq!(r.rotation.outcome, RotationOutcome::RolledBack, "{r:?}");
    assert_eq!(w.host.key_on_host(INSTANCE).as_deref(), Some(OLD), "the host was left with the new key");
    assert_eq!(w.key_status(OLD), KeyStatus::Active);
    assert_eq!(w.key_status(new_name), KeyStatus::Revoked);
    assert!(w.old_key_works());
}

#[test]
fn rollback_after_a_deploy_whose_own_rollback_failed_restores_the_old_key() {
    let w = World::new(true);
    let rot = advance_to(&w, RotationStep::Deploy);
    // The deploy wrote the new key, verification failed and its own rollback did not restore
    // the previous one: the host holds the new key, `deployed_at` stays empty.
    w.host.fail_next(1);
    w.ck.rotation_step(INSTANCE, StepInput::default(), &w.host).unwrap_err();
    assert_eq!(w.host.key_on_host(INSTANCE).as_deref(), Some(rot.new_key_name.as_str()));
    assert!(w.ck.rotation(INSTANCE).unwrap().deployed_at.is_none());
    let r = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap();
    assert_rolled_back_with_old_key_on_host(&w, &r, &rot.new_key_name);
    assert!(r.detail.contains("restored"), "{}", r.detail);
}

#[test]
fn rollback_after_a_crash_between_write_and_commit_restores_the_old_key() {
    let w = World::new(true);
    let rot = advance_to(&w, RotationStep::Deploy);
    w.ck.rotation_step(INSTANCE, StepInput::default(), &CrashAfterWrite(&w.host)).unwrap_err();
    assert_eq!(w.host.key_on_host(INSTANCE).as_deref(), Some(rot.new_key_name.as_str()));
    let now = w.ck.rotation(INSTANCE).unwrap();
    assert_eq!((now.step, now.deployed_at), (RotationStep::Deploy, None));
    let r = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap();
    assert_rolled_back_with_old_key_on_host(&w, &r, &rot.new_key_name);
}

#[test]
fn rollback_after_an_unconfirmed_manual_deploy() {
    // Manual mode: the person put the new key on the host but has not confirmed yet.
    let w = World::new(true);
    let rot = w.ck.rotation_start(INSTANCE, RotationOptions { soak_secs: Some(0), new_key_name: None, manual_deploy: true }).unwrap();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    w.paste(&new.key).unwrap();
    let r = w.ck.rotation_step(INSTANCE, StepInput::default(), &ManualDeployer).unwrap();
    assert!(!r.progressed, "{r:?}");
    w.host.seed(INSTANCE, &w.ck.key(&rot.new_key_name).unwrap()); // done by hand, not confirmed
    assert!(w.ck.rotation(INSTANCE).unwrap().deployed_at.is_none());

    // Clawkeep cannot see the host: it must not assume the old key is there.
    let e = w.ck.rotation_rollback(INSTANCE, false, &ManualDeployer).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(OLD) && msg.contains("confirm the rollback"), "asks to put the old key back: {msg}");
    assert_eq!((e.code(), e.remedy()), ("restore_old_key_by_hand", Some(clawkeep_core::Remedy::RotateRollback { instance: INSTANCE.into(), confirm: true })));
    assert!(!msg.contains("clawkeep "), "{msg}");
    assert!(!msg.contains(&w.old.key[20..60]), "{msg}");
    assert!(w.ck.rotation(INSTANCE).unwrap().is_open(), "nothing rolled back yet");
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Staged, "the new key is not revoked while it may be on the host");
    // The person restores the old key and confirms.
    w.host.seed(INSTANCE, &w.ck.key(OLD).unwrap());
    let r = w.ck.rotation_rollback(INSTANCE, true, &ManualDeployer).unwrap();
    assert_rolled_back_with_old_key_on_host(&w, &r, &rot.new_key_name);
    assert!(r.detail.contains("confirmed"), "{}", r.detail);
}

#[test]
fn rollback_of_a_manual_rotation_reads_the_host_when_it_can() {
    // Same situation, with a deployer that can read the host: the old key goes back itself.
    let w = World::new(true);
    let rot = w.ck.rotation_start(INSTANCE, RotationOptions { soak_secs: Some(0), new_key_name: None, manual_deploy: true }).unwrap();
    let new = w.console_key(&rot, WORKSPACE_PROD_A_ID);
    w.paste(&new.key).unwrap();
    w.ck.rotation_step(INSTANCE, StepInput::default(), &ManualDeployer).unwrap();
    w.host.seed(INSTANCE, &w.ck.key(&rot.new_key_name).unwrap());
    let r = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap();
    assert_rolled_back_with_old_key_on_host(&w, &r, &rot.new_key_name);
}

#[test]
fn rollback_that_cannot_restore_the_host_changes_nothing_else() {
    // The host holds the new key and the restore does not verify: the rollback stops before
    // revoking anything, and says so.
    let w = World::new(true);
    let rot = advance_to(&w, RotationStep::Soak);
    assert_eq!(w.fake_status(&w.old.id), "inactive");
    w.host.fail_next(1);
    let e = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap_err();
    assert!(e.to_string().contains("not seen using it") || e.to_string().contains("does not hold"), "{e}");
    assert!(w.ck.rotation(INSTANCE).unwrap().is_open());
    assert_eq!(w.key_status(&rot.new_key_name), KeyStatus::Active, "the new key is still the live one");
    // Run again: the host takes the old key, then the rollback completes.
    let r = w.ck.rotation_rollback(INSTANCE, false, &w.host).unwrap();
    assert_rolled_back_with_old_key_on_host(&w, &r, &rot.new_key_name);
    assert_eq!(w.fake_status(&w.old.id), "active");
}
