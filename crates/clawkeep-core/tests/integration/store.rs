//! Store and rules tests on real SQLite files (an in-memory keychain double stands in for the
//! OS keychain here; the CLI's end-to-end tests use the real one).

use std::sync::Arc;

use clawkeep_core::*;

use clawkeep_core::testkeys::random_api_key as fake_key;

fn open(dir: &std::path::Path, kc: Arc<MemoryKeychain>) -> Clawkeep {
    Clawkeep::open(OpenOptions { data_dir: Some(dir.to_path_buf()), keychain: Some(kc), os_user: Some("tester".into()), ..Default::default() }).unwrap()
}

fn spec(name: &str) -> InstanceSpec {
    InstanceSpec {
        name: name.into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        ssh_host: "127.0.1.1".into(),
        ssh_user: "ckh1".into(),
        ..Default::default()
    }
}

#[test]
fn migrates_an_empty_file_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    // An empty file where the database goes (as a crashed first run could leave).
    std::fs::write(dir.path().join("clawkeep.db"), b"").unwrap();
    let kc = Arc::new(MemoryKeychain::new());
    {
        let ck = open(dir.path(), kc.clone());
        assert_eq!(ck.store().schema_version().unwrap(), store::SCHEMA_VERSION);
        ck.add_instance(spec("acme-prod-1")).unwrap();
        ck.add_key(KeySpec { name: "openclaw-acme-prod-bot".into(), instance: Some("acme-prod-1".into()), ..Default::default() }, Secret::new(fake_key())).unwrap();
    }
    let ck = open(dir.path(), kc);
    assert_eq!(ck.store().schema_version().unwrap(), store::SCHEMA_VERSION);
    let rows = ck.list_instances(&InstanceFilter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].active_key.as_ref().unwrap().name, "openclaw-acme-prod-bot");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let sub = dir.path().join("fresh");
        let _ = open(&sub, Arc::new(MemoryKeychain::new()));
        assert_eq!(std::fs::metadata(&sub).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    {
        let c = rusqlite::Connection::open(dir.path().join("clawkeep.db")).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap_err();
    assert_eq!(err.code(), "schema_too_new");
}

#[test]
fn one_active_key_per_instance_is_enforced_by_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let ck = open(dir.path(), Arc::new(MemoryKeychain::new()));
    ck.add_instance(spec("acme-prod-1")).unwrap();
    ck.add_key(KeySpec { name: "openclaw-acme-prod-a".into(), instance: Some("acme-prod-1".into()), ..Default::default() }, Secret::new(fake_key())).unwrap();
    let b = ck.add_key(KeySpec { name: "openclaw-acme-prod-b".into(), instance: Some("acme-prod-1".into()), ..Default::default() }, Secret::new(fake_key())).unwrap();
    assert_eq!(b.key.status, KeyStatus::Staged);
    let c = rusqlite::Connection::open(dir.path().join("clawkeep.db")).unwrap();
    let err = c.execute("UPDATE keys SET status = 'active' WHERE name = 'openclaw-acme-prod-b'", []).unwrap_err();
    assert!(err.to_string().contains("UNIQUE"), "{err}");
    let err = c.execute("DELETE FROM audit", []).unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
}

#[test]
fn keychain_failure_leaves_no_row_and_db_failure_leaves_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let kc = Arc::new(MemoryKeychain::new());
    let ck = open(dir.path(), kc.clone());
    ck.add_instance(spec("acme-prod-1")).unwrap();
    kc.fail_with(Some(KeychainError::Locked { detail: "test".into() }));
    let err = ck.add_key(KeySpec { name: "openclaw-acme-prod-a".into(), instance: Some("acme-prod-1".into()), ..Default::default() }, Secret::new(fake_key())).unwrap_err();
    assert_eq!(err.code(), "keychain_locked");
    assert!(err.to_string().contains("Unlock your login keyring"));
    assert!(ck.list_keys(None).unwrap().is_empty());
    kc.fail_with(None);
    {
        let c = rusqlite::Connection::open(dir.path().join("clawkeep.db")).unwrap();
        c.execute_batch("CREATE TRIGGER f BEFORE INSERT ON keys BEGIN SELECT RAISE(ABORT, 'disk full'); END;").unwrap();
    }
    let err = ck.add_key(KeySpec { name: "openclaw-acme-prod-a".into(), instance: Some("acme-prod-1".into()), ..Default::default() }, Secret::new(fake_key())).unwrap_err();
    assert_eq!(err.code(), "store");
    assert!(kc.is_empty(), "secret left behind in the keychain");
}

#[test]
fn editing_the_host_unpins_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let ck = open(dir.path(), Arc::new(MemoryKeychain::new()));
    ck.add_instance(spec("acme-prod-1")).unwrap();
    ck.pin_host_key("acme-prod-1", "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
    let i = ck.edit_instance("acme-prod-1", InstancePatch { ssh_host: Some("127.0.1.2".into()), ..Default::default() }).unwrap();
    assert_eq!(i.host_key_fingerprint, None);
    let audit = ck.audit_log(None, Some("acme-prod-1"), 10).unwrap();
    assert_eq!(audit[0].details["changed"], serde_json::json!(["host", "host_key_unpinned"]));
    assert_eq!(audit[0].os_user, "tester");
}

#[test]
fn fixed_clock_gives_key_age() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let now = Arc::new(std::sync::Mutex::new(t0));
    let n2 = now.clone();
    let ck = Clawkeep::open(OpenOptions {
        data_dir: Some(dir.path().into()),
        keychain: Some(Arc::new(MemoryKeychain::new())),
        clock: Some(Arc::new(move || *n2.lock().unwrap())),
        ..Default::default()
    })
    .unwrap();
    ck.add_instance(spec("acme-prod-1")).unwrap();
    ck.add_key(KeySpec { name: "openclaw-acme-prod-a".into(), instance: Some("acme-prod-1".into()), ..Default::default() }, Secret::new(fake_key())).unwrap();
    *now.lock().unwrap() = t0 + chrono::Duration::days(45);
    let rows = ck.list_instances(&InstanceFilter::default()).unwrap();
    assert_eq!(rows[0].active_key.as_ref().unwrap().age_days, 45);
}

/// A stored jump host: an existing instance, never itself, one hop only; renaming the bastion
/// keeps the link; it can't be removed while instances go through it; '' clears it.
#[test]
fn jump_host_rules() {
    let dir = tempfile::tempdir().unwrap();
    let ck = open(dir.path(), Arc::new(MemoryKeychain::new()));
    ck.add_instance(spec("bastion")).unwrap();
    let e = ck.add_instance(InstanceSpec { jump_via: Some("nope".into()), ..spec("inner") }).unwrap_err();
    assert_eq!(e.code(), "not_found");
    assert!(ck.instance("inner").is_err(), "nothing half-written");
    let e = ck.add_instance(InstanceSpec { jump_via: Some("self".into()), ..spec("self") }).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    let inner = ck.add_instance(InstanceSpec { jump_via: Some("bastion".into()), ..spec("inner") }).unwrap();
    assert_eq!(inner.jump_via.as_deref(), Some("bastion"));
    // two hops are refused both ways
    let e = ck.add_instance(InstanceSpec { jump_via: Some("inner".into()), ..spec("deeper") }).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(e.to_string().contains("one jump hop"), "{e}");
    ck.add_instance(spec("outer")).unwrap();
    let e = ck.edit_instance("bastion", InstancePatch { jump_via: Some("outer".into()), ..Default::default() }).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    // the target follows a rename of the bastion
    ck.edit_instance("bastion", InstancePatch { name: Some("bastion-1".into()), ..Default::default() }).unwrap();
    assert_eq!(ck.instance("inner").unwrap().jump_via.as_deref(), Some("bastion-1"));
    assert_eq!(ck.list_instances(&InstanceFilter::default()).unwrap().iter().find(|r| r.instance.name == "inner").unwrap().instance.jump_via.as_deref(), Some("bastion-1"));
    // removing a bastion in use is refused with who uses it
    let e = ck.remove_instance("bastion-1").unwrap_err();
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains("inner"), "{e}");
    assert!(ck.instance("bastion-1").is_ok());
    // the SSH target carries the hop only once the bastion's key is pinned
    assert_eq!(ck.ssh_target("inner").unwrap_err().code(), "host_key_unknown");
    ck.pin_host_key("bastion-1", "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
    let t = ck.ssh_target("inner").unwrap();
    assert_eq!(t.jump.as_ref().map(|j| j.instance.as_str()), Some("bastion-1"));
    assert!(ck.ssh_target_direct("inner").unwrap().jump.is_none());
    // '' clears it; then the bastion can go
    ck.edit_instance("inner", InstancePatch { jump_via: Some(String::new()), ..Default::default() }).unwrap();
    assert_eq!(ck.instance("inner").unwrap().jump_via, None);
    ck.remove_instance("bastion-1").unwrap();
    let audit = ck.audit_log(None, Some("inner"), 10).unwrap();
    assert!(audit.iter().any(|a| a.action == "instance.edit" && a.details.to_string().contains("jump_via")), "{audit:?}");
}

/// A data directory written by the previous release (schema 4, before stored jump hosts) opens,
/// is migrated in place, and keeps every instance.
#[test]
fn schema_4_data_dir_upgrades_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    {
        let conn = rusqlite::Connection::open(dir.path().join("clawkeep.db")).unwrap();
        for sql in [
            include_str!("../../migrations/0001_init.sql"),
            include_str!("../../migrations/0002_deployments.sql"),
            include_str!("../../migrations/0003_checks.sql"),
            include_str!("../../migrations/0004_rotation.sql"),
        ] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        conn.execute(
            "INSERT INTO instances (name, owner, environment, workload, ssh_host, ssh_user, service_manager, created_at, updated_at) \
             VALUES ('old-one', 'acme', 'prod', 'bot', '10.0.0.1', 'openclaw', '{\"kind\":\"systemd-user\",\"unit\":\"openclaw-gateway\"}', \
             '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
    }
    let ck = open(dir.path(), Arc::new(MemoryKeychain::new()));
    assert_eq!(ck.store().schema_version().unwrap(), clawkeep_core::store::SCHEMA_VERSION);
    let i = ck.instance("old-one").unwrap();
    assert_eq!((i.owner.as_str(), i.ssh_host.as_str(), i.jump_via.as_deref()), ("acme", "10.0.0.1", None));
    ck.add_instance(InstanceSpec { jump_via: Some("old-one".into()), ..spec("new-one") }).unwrap();
    assert_eq!(ck.list_instances(&InstanceFilter::default()).unwrap().len(), 2);
}
