//! The streamed fleet list (`write_instances_json`, what `instance list --json` prints when piped)
//! must be byte for byte what `serde_json` makes of `list_instances`: every field, enum variant,
//! optional, escape and timestamp precision, under every filter. Real SQLite file; an in-memory
//! keychain double (no secret matters here). The desktop Fleet's slim rows (`fleet_rows`) hold
//! the same facts as `list_instances`, under the same filters, and its columns (`fleet_columns`,
//! `fleet_due`) the same rows.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use clawkeep_core::*;

fn fake_key(i: usize) -> String {
    clawkeep_core::testkeys::api_key(i as u64)
}

fn streamed(ck: &Clawkeep, f: &InstanceFilter) -> String {
    let mut out = Vec::new();
    ck.write_instances_json(f, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn serde(ck: &Clawkeep, f: &InstanceFilter) -> String {
    serde_json::to_string(&ck.list_instances(f).unwrap()).unwrap()
}

/// What the desktop Fleet's rows must be: `list_instances` cut to the Fleet's fields.
fn fleet_from_list(ck: &Clawkeep, f: &InstanceFilter) -> Vec<FleetRow> {
    ck.list_instances(f)
        .unwrap()
        .into_iter()
        .map(|r| FleetRow {
            id: r.instance.id,
            name: r.instance.name,
            owner: r.instance.owner,
            environment: r.instance.environment,
            workload: r.instance.workload,
            ssh_user: r.instance.ssh_user,
            ssh_host: r.instance.ssh_host,
            ssh_port: r.instance.ssh_port,
            tags: r.instance.tags,
            draft: r.instance.draft,
            key_name: r.active_key.as_ref().map(|k| k.name.clone()),
            key_hint: r.active_key.as_ref().map(|k| k.hint.clone()),
            key_age_days: r.active_key.as_ref().map(|k| k.age_days),
        })
        .collect()
}

#[test]
fn streamed_list_is_exactly_the_serde_list() {
    let dir = tempfile::tempdir().unwrap();
    // The clock moves through whole seconds, milli-, micro- and nanosecond instants, so every
    // precision chrono's serde may print is stored and listed.
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let now = Arc::new(Mutex::new(t0));
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || *clock_now.lock().unwrap());
    let ck = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), os_user: Some("tester".into()), clock: Some(clock) })
        .unwrap();
    let steps: [Duration; 5] = [Duration::zero(), Duration::milliseconds(250), Duration::microseconds(1_234), Duration::nanoseconds(987_654_321), Duration::days(40)];
    let set = |t: DateTime<Utc>| *now.lock().unwrap() = t;
    let purposes = [Purpose::PersonalTesting, Purpose::InternalOps, Purpose::Client];
    let injections = [InjectionMethod::EnvFile, InjectionMethod::AuthProfile, InjectionMethod::SecretFile];
    let mut t = t0;
    for i in 0..12usize {
        t += steps[i % steps.len()];
        set(t);
        let name = format!("{}-prod-{i:02}", ["acme", "globex", "initech"][i % 3]);
        ck.add_instance(InstanceSpec {
            name: name.clone(),
            owner: ["acme", "globex", "initech"][i % 3].into(),
            environment: "prod".into(),
            workload: format!("bot{i}"),
            purpose: Some(purposes[i % 3]),
            ssh_host: format!("127.0.1.{}", i + 1),
            ssh_port: Some(22 + i as u16),
            ssh_user: "openclaw".into(),
            jump_via: (i % 5 == 3).then(|| "acme-prod-00".into()),
            state_dir: (i % 2 == 0).then(|| format!("/srv/oc-ü {i}")),
            service_manager: Some(if i % 2 == 0 {
                ServiceManager::SystemdUser { unit: "openclaw-gateway".into() }
            } else {
                ServiceManager::Custom { restart_command: "sudo systemctl restart 'oc gw' && echo \"ok\"".into() }
            }),
            injection: Some(injections[i % 3]),
            agents: if i % 4 == 0 { vec![] } else { vec!["main".into(), format!("ops-{i}")] },
            expected_org_id: (i % 3 == 0).then(|| "3f1c2a4e-8b7d-4c6a-9e2f-5a1b0c9d8e7f".into()),
            expected_workspace_id: (i % 2 == 1).then(|| "wrkspc_01ProdAWorkspace00000000".into()),
            tags: if i % 3 == 1 { vec![] } else { vec![format!("region-{}", i % 2), "edge".into()] },
            notes: ["", "quote \"two\" and \\ backslash", "ünïcode ✓ / slash", "emoji 🦀 and </script>"][i % 4].into(),
            draft: i == 5,
        })
        .unwrap();
        if i % 4 == 1 {
            ck.pin_host_key(&name, &format!("SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCD{i:03}")).unwrap();
        }
        // Keys: none, one active, or a retired one plus an active one (count 2).
        if i % 3 != 2 {
            set(t + steps[(i + 1) % steps.len()]);
            let key_name = format!("openclaw-{}-prod-bot{i}", ["acme", "globex", "initech"][i % 3]);
            ck.add_key(KeySpec { name: key_name.clone(), instance: Some(name.clone()), allow_name: true, ..Default::default() }, Secret::new(fake_key(i))).unwrap();
            if i % 3 == 1 {
                ck.retire_key(&key_name).unwrap();
                ck.add_key(KeySpec { name: format!("{key_name}-2"), instance: Some(name.clone()), allow_name: true, ..Default::default() }, Secret::new(fake_key(100 + i)))
                    .unwrap();
            }
        }
    }
    set(t + Duration::days(3));
    let filters = [
        InstanceFilter::default(),
        InstanceFilter { owner: Some("globex".into()), ..Default::default() },
        InstanceFilter { search: Some("BOT1".into()), ..Default::default() },
        InstanceFilter { tag: Some("region-0".into()), ..Default::default() },
        InstanceFilter { environment: Some("staging".into()), ..Default::default() },
    ];
    for f in &filters {
        assert_eq!(streamed(&ck, f), serde(&ck, f), "filter {f:?}");
        // The desktop Fleet's slim rows: the same instances, in the same order, same facts.
        assert_eq!(ck.fleet_rows(f).unwrap(), fleet_from_list(&ck, f), "filter {f:?}");
        // And the columns the webview gets: the same rows; the rotation column matched by id.
        let rows = ck.fleet_rows(f).unwrap();
        let cols = ck.fleet_columns(f).unwrap();
        assert_eq!(cols, api::fleet::FleetColumns::build(&rows), "filter {f:?}");
        let due = ck.fleet_due(f).unwrap();
        assert_eq!(due.id, rows.iter().map(|r| r.id).collect::<Vec<_>>(), "filter {f:?}");
        let planned = ck.rotation_due(None).unwrap();
        for (i, r) in rows.iter().enumerate() {
            let d = planned.iter().find(|d| d.instance == r.name);
            assert_eq!(due.status[i] != 0, d.is_some(), "{} filter {f:?}", r.name);
            assert_eq!(due.days_left[i], d.map_or(0, |d| d.days_left));
        }
    }
    assert!(ck.fleet_rows(&InstanceFilter::default()).unwrap().iter().any(|r| r.key_age_days.is_some_and(|d| d > 0) && r.key_hint.is_some()));
    assert!(ck.fleet_rows(&InstanceFilter::default()).unwrap().iter().any(|r| r.key_name.is_none()));
    let all = streamed(&ck, &InstanceFilter::default());
    let v: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 12);
    // the precisions really occur
    let six_digits = all.split("Z\"").any(|p| p.len() > 7 && p.as_bytes()[p.len() - 7] == b'.' && p[p.len() - 6..].bytes().all(|b| b.is_ascii_digit()));
    assert!(all.contains(":00Z\"") && all.contains(".250Z\"") && six_digits, "every precision occurs: {all}");
    // empty store, empty list
    let dir2 = tempfile::tempdir().unwrap();
    let empty = Clawkeep::open(OpenOptions { data_dir: Some(dir2.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    assert_eq!(streamed(&empty, &InstanceFilter::default()), "[]");
}
