//! Table tests of the onboarding judgement: facts built by hand, no host, no I/O.

use super::*;
use crate::checklist::hostfacts::{FileStat, GatewayProc, HostFacts};
use crate::onboard::discover::ServiceFacts;
use crate::testkeys;

fn sighting(key: &str, source: KeySource) -> KeySighting {
    KeySighting { source, length: key.len() as u32, hint: keyfmt::hint(key), fingerprint: keyfmt::fingerprint(key) }
}

fn facts(keys: Vec<KeySighting>) -> HostFacts {
    HostFacts {
        user: "u".into(),
        home: "/home/u".into(),
        state_dir: "/home/u/.openclaw".into(),
        openclaw_version: Some("OpenClaw 2026.9.6".into()),
        stats: vec![FileStat { kind: "state_dir".into(), mode: 0o700, uid: 1, owner: "u".into(), mtime: 0, path: "/home/u/.openclaw".into() }],
        config_present: true,
        config_text: "{ meta: {}, gateway: { mode: 'local' } }".into(),
        agents: vec![("ops".into(), true), ("main".into(), true), ("gone".into(), false)],
        procs: vec![GatewayProc { pid: 42, started: 0, cmdline: "node openclaw gateway".into(), env_has_key: Some(true), in_unit: None }],
        keys,
        ..Default::default()
    }
}

fn host(name: &str) -> OnboardHost {
    OnboardHost { name: name.into(), host: "127.0.1.1".into(), port: 22, user: Some("u".into()) }
}

fn restart() -> ServiceFacts {
    ServiceFacts { restart_scripts: vec!["~/.local/bin/openclaw-gateway-restart".into()], ..Default::default() }
}

fn run(name: &str, keys: Vec<KeySighting>, existing: Option<&Instance>, inventory: &[Key], defaults: &OnboardDefaults) -> HostJudgement {
    let d = Discovery { facts: facts(keys), service: restart() };
    judge(HostInput { host: &host(name), ssh_user: "u", existing, inventory, defaults, discovery: &d, now: Utc::now() })
}

fn acme() -> OnboardDefaults {
    OnboardDefaults { owner: Some("acme".into()), environment: Some("prod".into()), ..Default::default() }
}

#[test]
fn env_file_host_proposes_a_full_record_and_adopts_its_key() {
    let key = testkeys::api_key(1);
    let j = run("web1", vec![sighting(&key, KeySource::DotEnv), sighting(&key, KeySource::Proc(42))], None, &[], &acme());
    assert!(j.new_instance);
    assert_eq!(j.record.injection, InjectionMethod::EnvFile);
    assert_eq!(j.record.agents, ["main", "ops"], "main first, only agents that exist");
    assert_eq!(j.record.service_manager, ServiceManager::Custom { restart_command: "~/.local/bin/openclaw-gateway-restart".into() });
    assert_eq!((j.record.owner.as_str(), j.record.environment.as_str()), ("acme", "prod"));
    assert_eq!(j.discovered.config_path.as_deref(), Some("/home/u/.openclaw/openclaw.json"));
    assert_eq!(j.discovered.openclaw_version.as_deref(), Some("OpenClaw 2026.9.6"));
    assert!(j.missing.is_empty());
    let k = j.to_adopt().expect("adopt");
    assert_eq!(k.fingerprint, keyfmt::fingerprint(&key));
    assert_eq!(k.read_from, Some(KeySource::DotEnv), "read from the file the method owns, not the process");
    assert_eq!(k.sources.len(), 2);
    assert!(j.differences.iter().any(|d| d.field == "owner" && d.to == "acme"));
}

#[test]
fn auth_profile_and_secret_file_hosts() {
    let key = testkeys::api_key(2);
    let j = run("b", vec![sighting(&key, KeySource::SharedProfile)], None, &[], &acme());
    assert_eq!(j.record.injection, InjectionMethod::AuthProfile);
    assert_eq!(j.to_adopt().unwrap().read_from, Some(KeySource::SharedProfile));
    let j = run("c", vec![sighting(&key, KeySource::Profile("main".into()))], None, &[], &acme());
    assert_eq!(j.record.injection, InjectionMethod::AuthProfile);
    // a secret file read through the config's file SecretRef
    let mut f = facts(vec![sighting(&key, KeySource::SecretFile("/home/u/.openclaw/secrets/anthropic".into()))]);
    f.config_text = "{ meta: {}, secrets: { providers: { f: { source: 'file', path: '~/.openclaw/secrets/anthropic' } } }, models: { providers: { anthropic: { apiKey: { source: 'file', provider: 'f', id: 'value' } } } } }".into();
    let d = Discovery { facts: f, service: restart() };
    let j = judge(HostInput { host: &host("d"), ssh_user: "u", existing: None, inventory: &[], defaults: &acme(), discovery: &d, now: Utc::now() });
    assert_eq!(j.record.injection, InjectionMethod::SecretFile, "{:?}", j.notes);
    assert!(matches!(j.to_adopt().unwrap().read_from, Some(KeySource::SecretFile(_))));
}

#[test]
fn malformed_keys_are_reported_not_adopted() {
    let key = testkeys::api_key(3);
    let cut = &key[..80];
    let j = run("t", vec![sighting(cut, KeySource::DotEnv)], None, &[], &acme());
    assert!(j.to_adopt().is_none());
    match &j.keys[0].decision {
        KeyDecision::Malformed { reason } => assert!(reason.contains("truncated") && reason.contains("80"), "{reason}"),
        d => panic!("{d:?}"),
    }
    let j = run("p", vec![sighting("tokABCDEFGHIJKLMNOP", KeySource::DotEnv)], None, &[], &acme());
    assert!(matches!(&j.keys[0].decision, KeyDecision::Malformed { reason } if reason.contains("not an Anthropic key")));
    let admin = testkeys::fake_key(KeyKind::Admin, 4);
    let j = run("a", vec![sighting(&admin, KeySource::DotEnv)], None, &[], &acme());
    assert!(matches!(&j.keys[0].decision, KeyDecision::Malformed { reason } if reason.contains("Admin")));
}

#[test]
fn known_keys_and_stale_copies_are_not_adopted() {
    let key = testkeys::api_key(5);
    let old = testkeys::api_key(6);
    let now = Utc::now();
    let stored = Key {
        id: 1,
        name: "openclaw-acme-prod".into(),
        kind: KeyKind::Api,
        hint: keyfmt::hint(&key),
        fingerprint: keyfmt::fingerprint(&key),
        length: 108,
        keychain_ref: "kc-1".into(),
        instance: Some("web1".into()),
        workspace_id: None,
        anthropic_key_id: None,
        status: crate::model::domain::KeyStatus::Active,
        name_override: false,
        created_at: now,
        expires_at: None,
        rotated_at: None,
        retired_at: None,
        updated_at: now,
    };
    // the .env's key wins; the old one sits in shell history (ignored) and a legacy file (not used)
    let j = run(
        "web1",
        vec![sighting(&key, KeySource::DotEnv), sighting(&old, KeySource::Legacy("main".into())), sighting(&old, KeySource::History("/home/u/.bash_history".into()))],
        None,
        std::slice::from_ref(&stored),
        &acme(),
    );
    assert!(j.to_adopt().is_none());
    assert_eq!(j.keys.len(), 2, "history copies are not listed: {:?}", j.keys);
    assert!(matches!(&j.keys[0].decision, KeyDecision::AlreadyKnown { key, .. } if key == "openclaw-acme-prod"));
    assert_eq!(j.keys[1].decision, KeyDecision::NotUsed);
}

#[test]
fn rerun_changes_only_what_differs() {
    let key = testkeys::api_key(7);
    let now = Utc::now();
    let existing = Instance {
        id: 1,
        name: "web1".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        purpose: Purpose::Client,
        ssh_host: "127.0.1.1".into(),
        ssh_port: 22,
        ssh_user: "u".into(),
        jump_via: None,
        host_key_fingerprint: Some("SHA256:x".into()),
        state_dir: "~/.openclaw".into(),
        service_manager: ServiceManager::Custom { restart_command: "~/.local/bin/openclaw-gateway-restart".into() },
        injection: InjectionMethod::EnvFile,
        agents: vec!["main".into()],
        expected_org_id: None,
        expected_workspace_id: None,
        tags: vec![],
        notes: String::new(),
        draft: false,
        created_at: now,
        updated_at: now,
    };
    let j = run("web1", vec![sighting(&key, KeySource::DotEnv)], Some(&existing), &[], &OnboardDefaults::default());
    assert!(!j.new_instance);
    assert_eq!(j.differences, vec![FieldChange { field: "agents".into(), from: "main".into(), to: "main,ops".into() }], "the stored owner etc. stay");
}

#[test]
fn names_suggest_owner_and_environment_and_missing_ones_are_said() {
    assert_eq!(suggest_from_name("openclaw-acme-prod-support-bot"), Some(("acme".into(), "prod".into(), "support-bot".into())));
    assert_eq!(suggest_from_name("globex-staging"), Some(("globex".into(), "staging".into(), String::new())));
    assert_eq!(suggest_from_name("web1"), None);
    assert_eq!(suggest_from_name("prod-web"), None);
    let key = testkeys::api_key(8);
    let j = run("web1", vec![sighting(&key, KeySource::DotEnv)], None, &[], &OnboardDefaults::default());
    assert_eq!(j.missing, ["owner", "environment"]);
    assert!(j.notes.iter().any(|n| n.contains("to adopt the key")));
    let j = run("initech-dev-crm", vec![], None, &[], &OnboardDefaults::default());
    assert_eq!((j.record.owner.as_str(), j.record.environment.as_str(), j.record.workload.as_str()), ("initech", "dev", "crm"));
}

#[test]
fn a_key_on_several_hosts_is_adopted_once_and_reported() {
    let shared = testkeys::api_key(9);
    let own = testkeys::api_key(10);
    let mut js = vec![
        run("a", vec![sighting(&shared, KeySource::DotEnv)], None, &[], &acme()),
        run("b", vec![sighting(&own, KeySource::DotEnv)], None, &[], &acme()),
        run("c", vec![sighting(&shared, KeySource::SharedProfile)], None, &[], &acme()),
    ];
    settle(&mut js);
    assert_eq!(js[0].to_adopt().map(|k| k.fingerprint.clone()), Some(keyfmt::fingerprint(&shared)));
    assert!(js[0].notes.iter().any(|n| n.contains("boundary violation") && n.contains('c')));
    assert!(js[1].to_adopt().is_some());
    assert_eq!(js[2].keys[0].decision, KeyDecision::Shared { adopted_on: "a".into(), hosts: vec!["a".into(), "c".into()] });
    let s = shared_keys(&js);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].2, ["a", "c"]);
}

#[test]
fn no_key_and_no_service_are_noted() {
    let d = Discovery { facts: HostFacts { state_dir: "/home/u/.openclaw".into(), ..Default::default() }, service: ServiceFacts::default() };
    let j = judge(HostInput { host: &host("x"), ssh_user: "u", existing: None, inventory: &[], defaults: &acme(), discovery: &d, now: Utc::now() });
    assert!(j.keys.is_empty());
    assert_eq!(j.record.agents, ["main"]);
    assert_eq!(j.record.service_manager, ServiceManager::default());
    assert!(j.notes.iter().any(|n| n.contains("restarts")) && j.notes.iter().any(|n| n.contains("no OpenClaw state directory")));
}

#[test]
fn the_preview_digest_changes_only_with_what_the_person_reviewed() {
    let key = testkeys::api_key(11);
    let base = run("web1", vec![sighting(&key, KeySource::DotEnv)], None, &[], &acme());
    let fp = "SHA256:aaaa";
    let d = preview_digest(&base, fp);
    assert_eq!(d.len(), 64);
    // The same host judged again (another instant, the gateway stopped meanwhile): same digest.
    let mut again = run("web1", vec![sighting(&key, KeySource::DotEnv)], None, &[], &acme());
    again.discovered.gateway_running = !again.discovered.gateway_running;
    assert_eq!(preview_digest(&again, fp), d);
    assert_eq!(preview_digest(&again, " SHA256:aaaa "), d, "the confirmed fingerprint is compared trimmed");
    // Another key on the host, other defaults, another host key: another digest.
    let other_key = run("web1", vec![sighting(&testkeys::api_key(12), KeySource::DotEnv)], None, &[], &acme());
    assert_ne!(preview_digest(&other_key, fp), d);
    let other_owner = run("web1", vec![sighting(&key, KeySource::DotEnv)], None, &[], &OnboardDefaults { owner: Some("globex".into()), ..acme() });
    assert_ne!(preview_digest(&other_owner, fp), d);
    assert_ne!(preview_digest(&base, "SHA256:bbbb"), d);
    // A key that became shared in the batch since the preview is a change too.
    let mut shared = base.clone();
    shared.keys[0].decision = KeyDecision::Shared { adopted_on: "a".into(), hosts: vec!["a".into(), "web1".into()] };
    assert_ne!(preview_digest(&shared, fp), d);
}
