//! "Practice rotation before you need it": walks the guided rotation of an instance against
//! a throw-away world, never touching real keys. A fake Anthropic API runs in-process on
//! 127.0.0.1, keys are minted there, a copy of the instance lives in a temporary data dir with
//! a [`ThrowawayKeychain`], and a [`SimulatedHost`] stands in for the VPS. Only one thing
//! reaches the real store: an audit event saying the rehearsal ran and how it went
//! ([`Clawkeep::record_rehearsal`]).
//!
//! This crate composes core with the fake (`fake-anthropic`), so core itself never links it.
//! The CLI's `rotate rehearse` calls [`rehearse_rotation`]; the desktop can too.

mod keychain;
mod simulated;

use std::sync::Arc;

use clawkeep_core::model::keyfmt::KeyKind;
use clawkeep_core::rotation::rehearsal::{RehearsalReport, RehearsalStep};
use clawkeep_core::rotation::{RotationOptions, RotationOutcome, RotationStep, StepInput};
use clawkeep_core::{Clawkeep, Error, InstanceSpec, KeySpec, KeyStatus, OpenOptions, Result, Secret};
use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};

pub use keychain::ThrowawayKeychain;
pub use simulated::SimulatedHost;

fn fail(e: impl std::fmt::Display) -> Error {
    Error::InvalidState(format!("rehearsal: {e}"))
}

/// Rehearses the rotation of `instance` (of the real inventory `ck`) in a throw-away world (see
/// the crate docs); blocking.
pub fn rehearse_rotation(ck: &Clawkeep, instance: &str) -> Result<RehearsalReport> {
    let real = ck.instance(instance)?;
    let old = ck
        .list_keys(Some(instance))?
        .into_iter()
        .find(|k| k.status == KeyStatus::Active)
        .ok_or_else(|| Error::InvalidState(format!("instance '{instance}' has no active key to rotate")))?;
    let admin_mode = ck.admin_key()?.is_some();
    let steps: std::cell::RefCell<Vec<RehearsalStep>> = std::cell::RefCell::default();
    let push = |step: &str, outcome: &str, detail: String| steps.borrow_mut().push(RehearsalStep { step: step.into(), outcome: outcome.into(), detail });

    // The test world.
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).map_err(fail)?;
    fake.state().with(|s| s.knobs.admin_rate_limit = None);
    let tmp = tempfile::tempdir().map_err(|e| Error::Io { context: "rehearsal: temporary data dir".into(), source: e })?;
    let world = Clawkeep::open(OpenOptions {
        data_dir: Some(tmp.path().to_path_buf()),
        keychain: Some(Arc::new(ThrowawayKeychain::default())),
        clock: None,
        os_user: Some("rehearsal".into()),
    })?;
    world.set_anthropic_base_url(&fake.base_url())?;
    world.add_instance(InstanceSpec {
        name: real.name.clone(),
        owner: real.owner.clone(),
        environment: real.environment.clone(),
        workload: real.workload.clone(),
        purpose: Some(real.purpose),
        ssh_host: real.ssh_host.clone(),
        ssh_port: Some(real.ssh_port),
        ssh_user: real.ssh_user.clone(),
        state_dir: Some(real.state_dir.clone()),
        service_manager: Some(real.service_manager.clone()),
        injection: Some(real.injection),
        agents: real.agents.clone(),
        expected_workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
        ..Default::default()
    })?;
    let old_fake = fake.mint_key(MintKey::api(old.name.clone(), Some(WORKSPACE_PROD_A_ID))).map_err(fail)?;
    let old_copy =
        world.add_key(KeySpec { name: old.name.clone(), instance: Some(real.name.clone()), allow_name: true, ..Default::default() }, Secret::new(old_fake.key.clone()))?.key;
    if admin_mode {
        let a = fake.mint_key(MintKey::admin("rehearsal-admin")).map_err(fail)?;
        world.add_key(KeySpec { name: "openclaw-rehearsal-prod-admin".into(), allow_name: true, ..Default::default() }, Secret::new(a.key))?;
    }
    let host = SimulatedHost::new(&fake.base_url());
    host.seed(&real.name, &old_copy);
    push(
        "world",
        "ok",
        format!(
            "fake Anthropic API at {} with a copy of '{}' (agents {}, {}), its key {} minted there, a simulated host; {} mode",
            fake.base_url(),
            real.name,
            real.agents.join(", "),
            real.injection.as_str(),
            old.name,
            if admin_mode { "Admin API" } else { "manual (no Admin key stored)" }
        ),
    );

    let confirm = |c: bool| StepInput { secret: None, confirm: c };
    let set_status = |id: &str, st: fake_anthropic::KeyStatus| {
        fake.state().with(|s| {
            if let Some(k) = s.keys.iter_mut().find(|k| k.id == id) {
                k.status = st;
            }
        })
    };

    let run = || -> Result<String> {
        // 1. Create.
        let rot = world.rotation_start(&real.name, RotationOptions { soak_secs: Some(0), new_key_name: None, manual_deploy: false })?;
        Ok(rot.new_key_name)
    };
    let new_name = match run() {
        Ok(n) => n,
        Err(e) => {
            push("create", "failed", e.to_string());
            return ck.record_rehearsal(instance, &old.name, String::new(), admin_mode, steps.into_inner());
        }
    };
    push("create", "ok", format!("create '{new_name}' in the Console, workspace of the instance"));

    // 2. Paste: first the old key by mistake (must be refused), then the new one.
    match world.rotation_step(&real.name, StepInput { secret: Some(Secret::new(old_fake.key.clone())), confirm: false }, &host) {
        Err(e) if e.to_string().contains("current key") => push("paste (the old key, by mistake)", "refused", e.to_string()),
        other => push("paste (the old key, by mistake)", "failed", format!("expected a refusal, got {other:?}")),
    }
    let new_fake = fake.mint_key(MintKey::api(new_name.clone(), Some(WORKSPACE_PROD_A_ID))).map_err(fail)?;
    let drive = |label: &str, input: StepInput| match world.rotation_step(&real.name, input, &host) {
        Ok(r) if r.progressed => {
            push(label, "ok", r.detail);
            true
        }
        Ok(r) => {
            push(label, "waiting", r.detail);
            false
        }
        Err(e) => {
            push(label, "failed", e.to_string());
            false
        }
    };
    let mut ok = drive("paste", StepInput { secret: Some(Secret::new(new_fake.key.clone())), confirm: false });
    ok = ok && drive("deploy", StepInput::default());
    if ok {
        if admin_mode {
            ok = drive("deactivate", StepInput::default());
        } else {
            drive("deactivate", StepInput::default());
            set_status(&old_fake.id, fake_anthropic::KeyStatus::Inactive);
            ok = drive("deactivate (after the Console action, confirmed)", confirm(true));
        }
    }
    ok = ok && drive("soak (0s in a rehearsal; 24h by default)", StepInput::default());
    if ok {
        if admin_mode {
            ok = drive("archive", StepInput::default());
        } else {
            drive("archive", StepInput::default());
            set_status(&old_fake.id, fake_anthropic::KeyStatus::Archived);
            ok = drive("archive (after the Console action, confirmed)", confirm(true));
        }
    }
    // Check the outcome the way the user would.
    if ok {
        let rot = world.rotation(&real.name)?;
        let new_active = world.key(&new_name)?.status == KeyStatus::Active;
        let old_retired = world.key(&old.name)?.status == KeyStatus::Retired;
        let on_host = host.key_on_host(&real.name).as_deref() == Some(new_name.as_str());
        let archived = fake.state().snapshot().keys.iter().any(|k| k.id == old_fake.id && k.status == fake_anthropic::KeyStatus::Archived);
        let good = rot.outcome == RotationOutcome::Completed && new_active && old_retired && on_host && archived;
        push(
            "verify",
            if good { "ok" } else { "failed" },
            format!("new key active: {new_active}; on the host: {on_host}; old key retired: {old_retired}; archived at Anthropic: {archived}"),
        );
    }
    // A rollback drill on a second rotation (deploy, deactivate, then roll back).
    let so_far_ok = steps.borrow().iter().all(|s| s.outcome != "failed");
    if so_far_ok {
        let drill = (|| -> Result<String> {
            let rot = world.rotation_start(&real.name, RotationOptions { soak_secs: Some(0), new_key_name: None, manual_deploy: false })?;
            let k = fake.mint_key(MintKey::api(rot.new_key_name.clone(), Some(WORKSPACE_PROD_A_ID))).map_err(fail)?;
            world.rotation_step(&real.name, StepInput { secret: Some(Secret::new(k.key)), confirm: false }, &host)?;
            world.rotation_step(&real.name, StepInput::default(), &host)?;
            let current = world.rotation(&real.name)?;
            if admin_mode {
                world.rotation_step(&real.name, StepInput::default(), &host)?;
            }
            let r = world.rotation_rollback(&real.name, true, &host)?;
            let back = host.key_on_host(&real.name).as_deref() == Some(current.old_key.as_str())
                && world.key(&current.old_key)?.status == KeyStatus::Active
                && world.key(&rot.new_key_name)?.status == KeyStatus::Revoked
                && r.rotation.step == RotationStep::Rollback;
            if back {
                Ok(r.detail)
            } else {
                Err(fail("the rollback did not restore the previous key"))
            }
        })();
        match drill {
            Ok(d) => push("rollback drill", "ok", d),
            Err(e) => push("rollback drill", "failed", e.to_string()),
        }
    }
    let kinds_ok = world.list_keys(None)?.iter().filter(|k| k.kind == KeyKind::Admin).all(|k| k.instance.is_none());
    if !kinds_ok {
        push("admin key check", "failed", "an Admin key ended up bound to an instance".into());
    }
    drop(world);
    drop(fake);
    ck.record_rehearsal(instance, &old.name, new_name, admin_mode, steps.into_inner())
}
