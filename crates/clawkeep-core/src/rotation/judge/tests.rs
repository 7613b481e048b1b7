//! Table tests of the rotation's judgement: canned rotations, keys, probes and Admin API
//! records in, the decision (and the code and remedy of every refusal) out. No store, no
//! keychain, no network.

use chrono::TimeZone;

use super::*;
use crate::model::domain::{InjectionMethod, Purpose, ServiceManager};

/// A key-shaped value made at run time (never a literal key in the source).
fn value(fill: &str) -> String {
    format!("sk-ant-{}03-{}AA", "api", fill.repeat(93 / fill.len() + 1).chars().take(93).collect::<String>())
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).single().unwrap_or_else(|| unreachable!())
}

fn instance() -> Instance {
    Instance {
        id: 1,
        name: "acme-prod".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        purpose: Purpose::Client,
        ssh_host: "127.0.1.1".into(),
        ssh_port: 22,
        ssh_user: "ckh1".into(),
        jump_via: None,
        host_key_fingerprint: Some("SHA256:pinned".into()),
        state_dir: "~/.openclaw".into(),
        service_manager: ServiceManager::default(),
        injection: InjectionMethod::EnvFile,
        agents: vec!["main".into()],
        expected_org_id: None,
        expected_workspace_id: Some("wrkspc_A".into()),
        tags: vec![],
        notes: String::new(),
        draft: false,
        created_at: now(),
        updated_at: now(),
    }
}

fn key(name: &str, fp: &str, status: KeyStatus) -> Key {
    Key {
        id: 0,
        name: name.into(),
        kind: KeyKind::Api,
        hint: format!("hint-of-{name}"),
        fingerprint: fp.into(),
        length: 108,
        keychain_ref: format!("kc-{name}"),
        instance: Some("acme-prod".into()),
        workspace_id: None,
        anthropic_key_id: None,
        status,
        name_override: false,
        created_at: now(),
        expires_at: None,
        rotated_at: None,
        retired_at: None,
        updated_at: now(),
    }
}

fn rotation() -> Rotation {
    let old = key("old", &"a".repeat(64), KeyStatus::Active);
    start(&instance(), &old, std::slice::from_ref(&old), RotationOptions::default(), now()).unwrap()
}

fn probe(status: u16, workspace: Option<&str>) -> ProbeResult {
    ProbeResult {
        status,
        workspace_id: workspace.map(Into::into),
        organization_id: None,
        request_id: Some("req_1".into()),
        error_type: (status != 200).then(|| "authentication_error".into()),
        error_message: (status != 200).then(|| "invalid x-api-key".into()),
    }
}

fn remedy_of(e: &Error) -> (&'static str, Option<Remedy>) {
    match e {
        Error::Blocked { code, remedy, .. } => (*code, Some(remedy.clone())),
        other => (other.code(), None),
    }
}

#[test]
fn a_rotation_starts_at_the_paste_with_a_free_suggested_name_in_the_instances_workspace() {
    let old = key("old", &"a".repeat(64), KeyStatus::Active);
    let rot = start(&instance(), &old, std::slice::from_ref(&old), RotationOptions::default(), now()).unwrap();
    assert_eq!(rot.step, RotationStep::Paste);
    assert_eq!(rot.outcome, RotationOutcome::InProgress);
    assert_eq!(rot.soak_secs, DEFAULT_SOAK_SECS);
    assert_eq!(rot.workspace_id.as_deref(), Some("wrkspc_A"));
    assert!(rot.new_key_name.starts_with("openclaw-acme-") && rot.new_key_name.ends_with("-20261201"), "{}", rot.new_key_name);
    assert_eq!(rot.waiting_action, Some(resume("acme-prod", false)));
    assert_eq!(rot.done_steps(), vec![RotationStep::Create]);
    // The suggested name is taken: the next free one.
    let taken = key(&rot.new_key_name, &"b".repeat(64), KeyStatus::Retired);
    let again = start(&instance(), &old, &[old.clone(), taken], RotationOptions::default(), now()).unwrap();
    assert_eq!(again.new_key_name, format!("{}-2", rot.new_key_name));
    // A key that already expired cannot be reactivated by a rollback: remembered.
    let expired = Key { expires_at: Some(now()), ..old.clone() };
    assert!(start(&instance(), &expired, &[], RotationOptions::default(), now()).unwrap().old_key_expired);
}

#[test]
fn a_start_refuses_a_soak_out_of_range_and_a_taken_or_badly_named_new_key() {
    let old = key("old", &"a".repeat(64), KeyStatus::Active);
    let opts = |soak: Option<i64>, name: Option<&str>| RotationOptions { soak_secs: soak, new_key_name: name.map(Into::into), manual_deploy: false };
    assert_eq!(start(&instance(), &old, &[], opts(Some(-1), None), now()).unwrap_err().code(), "invalid_input");
    assert_eq!(start(&instance(), &old, &[], opts(Some(30 * 86400 + 1), None), now()).unwrap_err().code(), "invalid_input");
    assert_eq!(start(&instance(), &old, &[], opts(Some(0), None), now()).unwrap().soak_secs, 0);
    let name = "openclaw-acme-prod-bot-next";
    let taken = key(name, &"b".repeat(64), KeyStatus::Retired);
    match start(&instance(), &old, &[taken], opts(None, Some(name)), now()) {
        Err(Error::Conflict(m)) => assert!(m.contains(name), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(start(&instance(), &old, &[], opts(None, Some("Not A Slug")), now()).is_err());
}

#[test]
fn the_next_step_is_the_stored_one_and_a_finished_rotation_runs_none() {
    assert_eq!(step_to_run(RotationStep::Create, "i").unwrap(), RotationStep::Paste);
    for s in [RotationStep::Paste, RotationStep::Deploy, RotationStep::Deactivate, RotationStep::Soak, RotationStep::Archive] {
        assert_eq!(step_to_run(s, "i").unwrap(), s);
    }
    for s in [RotationStep::Done, RotationStep::Rollback] {
        let e = step_to_run(s, "i").unwrap_err();
        assert_eq!(remedy_of(&e), ("rotation_finished", Some(Remedy::RotateStatus { instance: "i".into() })));
    }
    assert_eq!(remedy_of(&none_under_way("i")).0, "no_rotation");
    assert_eq!(remedy_of(&already_under_way("i")).0, "conflict");
    assert_eq!(remedy_of(&moved_on("i", "soak")).0, "conflict");
}

#[test]
fn a_pasted_key_is_refused_unless_it_is_a_new_api_key() {
    let old = key("old", &"a".repeat(64), KeyStatus::Active);
    let new_fp = "c".repeat(64);
    assert_eq!(paste_refusal(KeyKind::Api, &new_fp, &old, None), None);
    assert!(paste_refusal(KeyKind::Admin, &new_fp, &old, None).unwrap().contains("Admin API key"));
    assert!(paste_refusal(KeyKind::Oauth, &new_fp, &old, None).unwrap().contains("OAuth token"));
    assert!(paste_refusal(KeyKind::Api, &old.fingerprint, &old, None).unwrap().contains("the current key old"));
    assert!(paste_refusal(KeyKind::Api, &new_fp, &old, Some("other")).unwrap().contains("already stored as 'other'"));
    // The kind is judged first: an admin key that is also stored is refused as an admin key.
    assert!(paste_refusal(KeyKind::Admin, &new_fp, &old, Some("other")).unwrap().contains("Admin API key"));
}

#[test]
fn a_stored_new_key_is_adopted_only_when_staged_on_the_instance() {
    let rot = rotation();
    let staged = key(&rot.new_key_name, &"c".repeat(64), KeyStatus::Staged);
    assert!(adoptable(&staged, &rot));
    assert!(!adoptable(&Key { status: KeyStatus::Active, ..staged.clone() }, &rot));
    assert!(!adoptable(&Key { instance: Some("other".into()), ..staged.clone() }, &rot));
    assert!(!adoptable(&Key { instance: None, ..staged.clone() }, &rot));
    assert!(!adoptable(&Key { name: "else".into(), ..staged }, &rot));
}

#[test]
fn the_probe_refuses_a_rejected_key_and_one_of_another_workspace() {
    let rot = rotation();
    assert_eq!(probe_refusal(&probe(200, Some("wrkspc_A")), &rot), None);
    assert_eq!(probe_refusal(&probe(200, None), &rot), None);
    let m = probe_refusal(&probe(401, None), &rot).unwrap();
    assert!(m.contains("401 authentication_error: invalid x-api-key (request-id req_1)"), "{m}");
    let m = probe_refusal(&probe(200, Some("wrkspc_B")), &rot).unwrap();
    assert!(m.contains("workspace wrkspc_B") && m.contains("uses workspace wrkspc_A"), "{m}");
    // A rotation that does not know its workspace takes the probe's.
    let open = Rotation { workspace_id: None, ..rot };
    assert_eq!(probe_refusal(&probe(200, Some("wrkspc_B")), &open), None);
}

#[test]
fn a_deploy_is_done_when_verified_or_confirmed_and_waits_for_a_person_otherwise() {
    let d = |verified| DeployOutcome::Deployed { verified, detail: "d".into() };
    let m = || DeployOutcome::Manual { instructions: "do it".into() };
    assert_eq!(judge_deploy(d(true), false), DeployVerdict::Done("d".into()));
    assert_eq!(judge_deploy(d(false), true), DeployVerdict::Unverified("d".into()));
    assert_eq!(judge_deploy(m(), false), DeployVerdict::Wait("do it".into()));
    assert_eq!(judge_deploy(m(), true), DeployVerdict::Done("deployed by hand, confirmed by the user".into()));
    assert_eq!(remedy_of(&deploy_unverified(&rotation(), "d")), ("rotation_deploy_unverified", Some(resume("acme-prod", false))));
}

#[test]
fn a_rollback_restores_unless_the_host_holds_only_the_old_key() {
    let fp = "a".repeat(64);
    assert_eq!(host_restore(&HostKey::Fingerprints(vec![fp.clone(), fp.clone()]), &fp), HostRestore::Holds);
    // The process environment beats .env: a different key there means restore.
    assert_eq!(host_restore(&HostKey::Fingerprints(vec!["b".repeat(64), fp.clone()]), &fp), HostRestore::Restore);
    assert_eq!(host_restore(&HostKey::Fingerprints(vec![]), &fp), HostRestore::Restore);
    assert_eq!(host_restore(&HostKey::Unknown, &fp), HostRestore::Restore);
    assert_eq!(host_restore(&HostKey::NeverReached("x".into()), &fp), HostRestore::NotRead("x".into()));
}

#[test]
fn shown_text_never_carries_a_value() {
    let v = value("Qx7");
    let s = shown(&v);
    assert!(!s.contains(&v[16..100]), "{s}");
    assert_eq!(shown("apikey_01InstanceA0000000000000"), "apikey_01InstanceA0000000000000");
    assert_eq!(shown("apikey_\u{1b}[31mX\n"), "apikey_[31mX");
    assert_eq!(shown(&"z".repeat(500)).len(), 64);
}

fn admin_record(h: Option<String>, ws: Option<&str>) -> AdminKey {
    AdminKey { id: "apikey_1".into(), name: String::new(), status: "active".into(), partial_key_hint: h, workspace_id: ws.map(Into::into), created_at: None, expires_at: None }
}

#[test]
fn admin_record_check_names_hints_not_values() {
    let v = value("Rk2");
    let secret = Secret::new(v.clone());
    let hint = keyfmt::hint(&v);
    let check = KeyCheck { name: "k", hint: &hint, secret: &secret, workspace: Some("wrkspc_A"), remedy: "do X".into(), action: None };
    let rec = admin_record;
    let api_hint = format!("{}...{}", &v[..16], &v[v.len() - 4..]);
    assert!(check_admin_record(&rec(Some(api_hint.clone()), Some("wrkspc_A")), "apikey_1", &check).is_ok());
    assert!(check_admin_record(&rec(Some(api_hint.clone()), None), "apikey_1", &check).is_ok());
    let e = check_admin_record(&rec(Some(api_hint), Some("wrkspc_B")), "apikey_1", &check).unwrap_err();
    assert_eq!(e.code(), "key_id_mismatch");
    assert!(e.to_string().contains("wrkspc_B"), "{e}");
    let e = check_admin_record(&rec(None, Some("wrkspc_A")), "apikey_1", &check).unwrap_err();
    assert!(e.to_string().contains("no partial_key_hint"), "{e}");
    // A misbehaving API answering with a whole value as the hint: only a hint is shown.
    let other = value("Zp9");
    let e = check_admin_record(&rec(Some(other.clone()), None), "apikey_1", &check).unwrap_err();
    assert!(!e.to_string().contains(&other[16..100]) && !e.to_string().contains(&v[16..100]), "{e}");
}

#[test]
fn the_old_key_id_is_the_one_listed_key_that_fits_its_value_and_workspace() {
    let v = value("Mn4");
    let secret = Secret::new(v.clone());
    let fits = Some(format!("{}...{}", &v[..16], &v[v.len() - 4..]));
    let other = Some(format!("{}...{}", &v[..16], "zzAA"));
    let rec = |id: &str, h: Option<String>, ws: Option<&str>| AdminKey { id: id.into(), ..admin_record(h, ws) };
    let rot = rotation();
    let keys = [rec("apikey_1", other.clone(), Some("wrkspc_A")), rec("apikey_2", fits.clone(), Some("wrkspc_A")), rec("apikey_3", fits.clone(), Some("wrkspc_B"))];
    assert_eq!(pick_old_key_id(&keys, &rot, &secret).unwrap(), "apikey_2");
    assert_eq!(remedy_of(&pick_old_key_id(&keys[..1], &rot, &secret).unwrap_err()), ("old_key_not_in_admin_api", Some(resume("acme-prod", true))));
    // Without a known workspace both fit: ambiguous, the person decides.
    let anywhere = Rotation { workspace_id: None, ..rot };
    let e = pick_old_key_id(&keys, &anywhere, &secret).unwrap_err();
    assert_eq!(remedy_of(&e), ("old_key_ambiguous_in_admin_api", Some(resume("acme-prod", true))));
    assert!(e.to_string().contains("apikey_2, apikey_3"), "{e}");
}

#[test]
fn a_status_is_changed_only_when_needed_and_allowed() {
    assert_eq!(status_change("k", "active", "inactive").unwrap(), None);
    assert_eq!(status_change("k", "inactive", "inactive").unwrap(), Some("k was already inactive".into()));
    assert_eq!(status_change("k", "inactive", "archived").unwrap(), None);
    assert_eq!(status_change("k", "expired", "archived").unwrap(), None);
    assert_eq!(status_change("k", "expired", "active").unwrap_err().code(), "invalid_state");
    assert_eq!(status_change("k", "archived", "active").unwrap_err().code(), "invalid_state");
}

#[test]
fn a_deactivation_by_hand_is_refused_while_the_old_key_still_works() {
    let rot = rotation();
    assert_eq!(remedy_of(&judge_manual_deactivation(Ok(probe(200, None)), &rot).unwrap_err()), ("old_key_still_active", Some(resume("acme-prod", true))));
    assert_eq!(judge_manual_deactivation(Ok(probe(401, None)), &rot).unwrap(), "probe of the old key: 401");
    let unreachable = ApiError::Transport { base_url: "http://127.0.0.1:9".into(), detail: "refused".into() };
    assert!(judge_manual_deactivation(Err(unreachable), &rot).unwrap().starts_with("could not probe the old key"));
    assert_eq!(deactivate_by_hand(&rot).1, resume("acme-prod", true));
    assert_eq!(archive_by_hand(&rot).1, resume("acme-prod", true));
}

#[test]
fn the_soak_waits_for_its_end_or_the_person_and_stops_on_traffic() {
    let deactivated = now();
    let rot = Rotation { deactivated_at: Some(deactivated), soak_secs: 3600, ..rotation() };
    let later = deactivated + Duration::seconds(3600);
    let early = deactivated + Duration::seconds(60);
    assert_eq!(judge_soak(&rot, later, None, false), SoakVerdict::Done("soak of 3600s over".into()));
    assert_eq!(judge_soak(&rot, later, Some((0, "apikey_1")), false), SoakVerdict::Done("soak of 3600s over; usage report: 0 tokens on apikey_1 since deactivation".into()));
    match judge_soak(&rot, early, None, false) {
        SoakVerdict::Wait(what, action) => {
            assert!(what.contains("until 2026-12-01 13:00 UTC"), "{what}");
            assert_eq!(action, resume("acme-prod", false));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(judge_soak(&rot, early, None, true), SoakVerdict::Done(d) if d.starts_with("soak ended early by the user")));
    // Traffic on the old key: something still uses it. Even after the soak, until confirmed.
    match judge_soak(&rot, later, Some((12, "apikey_1")), false) {
        SoakVerdict::Wait(what, action) => {
            assert!(what.contains("12 tokens on the old key apikey_1"), "{what}");
            assert_eq!(action, rollback("acme-prod", false));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(judge_soak(&rot, later, Some((12, "apikey_1")), true), SoakVerdict::Done(d) if d.contains("12 tokens")));
}

#[test]
fn a_rollback_is_refused_after_the_archive_and_reactivates_a_deactivated_key_the_right_way() {
    let rot = rotation();
    assert!(rollback_refusal(&rot, "acme-prod").is_none());
    let archived = Rotation { step: RotationStep::Archive, archived_at: Some(now()), ..rot.clone() };
    assert_eq!(remedy_of(&rollback_refusal(&archived, "acme-prod").unwrap()).0, "rotation_archived");
    // Not deactivated: nothing to bring back.
    assert_eq!(reactivation(&rot, Some("admin"), false).unwrap(), Reactivation::NotNeeded);
    let off = Rotation { deactivated_at: Some(now()), old_anthropic_key_id: Some("apikey_1".into()), ..rot.clone() };
    assert_eq!(reactivation(&off, Some("admin"), false).unwrap(), Reactivation::AdminApi("admin", "apikey_1".into()));
    // No admin key, or no id: the person does it, confirms, and a probe checks.
    assert_eq!(remedy_of(&reactivation::<&str>(&off, None, false).unwrap_err()), ("reactivate_old_key_by_hand", Some(rollback("acme-prod", true))));
    let no_id = Rotation { old_anthropic_key_id: None, ..off.clone() };
    assert_eq!(reactivation(&no_id, Some("admin"), true).unwrap(), Reactivation::ByHandConfirmed);
    assert!(judge_manual_reactivation(&probe(200, None), &off).is_ok());
    assert_eq!(remedy_of(&judge_manual_reactivation(&probe(401, None), &off).unwrap_err()), ("old_key_still_rejected", Some(rollback("acme-prod", true))));
    // An expired old key cannot come back at all.
    let expired = Rotation { old_key_expired: true, ..off };
    assert_eq!(remedy_of(&reactivation(&expired, Some("admin"), true).unwrap_err()), ("old_key_expired", Some(resume("acme-prod", false))));
}

#[test]
fn rollback_refusals_leave_the_rollback_to_run_again() {
    let rot = Rotation { new_key: Some("new".into()), new_key_hint: Some("hint-of-new".into()), ..rotation() };
    let old = key("old", &"a".repeat(64), KeyStatus::Staged);
    for e in [restore_not_held(&rot, "aaaa", "d"), restore_unverified(&rot, "d"), reactivation_failed(&rot, &Error::InvalidState("x".into()))] {
        assert_eq!(remedy_of(&e).1, Some(rollback("acme-prod", false)), "{e}");
        assert!(e.to_string().contains("run the rollback again"), "{e}");
    }
    let e = restore_by_hand(&rot, &instance(), &old);
    assert_eq!(remedy_of(&e), ("restore_old_key_by_hand", Some(rollback("acme-prod", true))));
    assert!(e.to_string().contains("new (hint-of-new)") && e.to_string().contains(".openclaw/.env"), "{e}");
}
