//! The IPC commands: one per core operation, each a one-liner over [`Clawkeep`].
//!
//! Arguments are snake_case on the JavaScript side too (`rename_all = "snake_case"`), like the
//! fields of the domain types. Every command returns `Result<T, ErrorPayload>`: errors reach the
//! UI as `{code, message}`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clawkeep_core::api::checks::DEFAULT_CONCURRENCY;
use clawkeep_core::api::fleet::{FleetColumns, FleetDue};
use clawkeep_core::api::hosts::HostRoute;
use clawkeep_core::checklist::{CheckProgressFn, CheckRun, FleetReport, InstanceReport};
use clawkeep_core::model::keyfmt::KeyRules;
use clawkeep_core::rotation::{Rotation, RotationOptions, RotationPlan, StepInput, StepReport};
use clawkeep_core::{
    AuditEvent, Clawkeep, ErrorPayload, Instance, InstanceDetail, InstanceFilter, InstancePatch, InstanceRemoved, InstanceRow, InstanceSpec, Key, KeyAdded, KeySpec, Secret,
    SelfCheck, Settings, SshCredentials, SshIdentity,
};
use tauri::ipc::Channel;
use tauri::State;

use crate::files::{Prefs, SaveDialog, PREF_KEYS, PREF_MAX_BYTES};
use crate::ops::{Operations, Progress};
use crate::state::CoreState;
use crate::types::{AppInfo, CheckRequest, DeployResult, ExportDone, FleetDeployResult, HostKeyProbe};

type Reply<T> = Result<T, ErrorPayload>;

/// Most audit entries one call returns.
const AUDIT_MAX: u32 = 5000;

/// Runs a core call on the blocking pool and maps its error to `{code, message}`.
pub async fn blocking<T, F>(state: &CoreState, f: F) -> Reply<T>
where
    T: Send + 'static,
    F: FnOnce(&Clawkeep) -> clawkeep_core::Result<T> + Send + 'static,
{
    let core = state.get()?;
    let done = tauri::async_runtime::spawn_blocking(move || f(&core)).await;
    // The reply is serialised and sent next: give the freed buffers back after that.
    crate::memory::trim_soon();
    done.map_err(|e| ErrorPayload::new("internal", format!("the operation stopped unexpectedly: {e}")))?.map_err(|e| e.to_payload())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn app_info(state: State<'_, CoreState>) -> Reply<AppInfo> {
    blocking(&state, |c| Ok(AppInfo { version: env!("CARGO_PKG_VERSION").into(), data_dir: c.data_dir().display().to_string(), keychain_service: c.keychain().service().into() }))
        .await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn list_instances(state: State<'_, CoreState>, filter: Option<InstanceFilter>) -> Reply<Vec<InstanceRow>> {
    blocking(&state, move |c| c.list_instances(&filter.unwrap_or_default())).await
}

/// The Fleet screen's data in columns, with each instance's next rotation: a few arrays and one
/// dictionary of repeated strings instead of an object per instance and field.
#[tauri::command(rename_all = "snake_case")]
pub async fn fleet_columns(state: State<'_, CoreState>, filter: Option<InstanceFilter>) -> Reply<FleetColumns> {
    blocking(&state, move |c| c.fleet_columns(&filter.unwrap_or_default())).await
}

/// The Fleet's rotation column in columns, in the order of `fleet_columns` (fetched after the
/// table shows: planning every rotation takes longer than listing the instances).
#[tauri::command(rename_all = "snake_case")]
pub async fn fleet_due(state: State<'_, CoreState>, filter: Option<InstanceFilter>) -> Reply<FleetDue> {
    blocking(&state, move |c| c.fleet_due(&filter.unwrap_or_default())).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn instance_detail(state: State<'_, CoreState>, name: String) -> Reply<InstanceDetail> {
    blocking(&state, move |c| c.instance_detail(&name)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn add_instance(state: State<'_, CoreState>, spec: InstanceSpec) -> Reply<Instance> {
    blocking(&state, move |c| c.add_instance(spec)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn edit_instance(state: State<'_, CoreState>, name: String, patch: InstancePatch) -> Reply<Instance> {
    blocking(&state, move |c| c.edit_instance(&name, patch)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn remove_instance(state: State<'_, CoreState>, name: String) -> Reply<InstanceRemoved> {
    blocking(&state, move |c| c.remove_instance(&name)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn key_rules(state: State<'_, CoreState>) -> Reply<KeyRules> {
    blocking(&state, |c| Ok(c.key_rules())).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn suggest_key_name(state: State<'_, CoreState>, instance: String) -> Reply<String> {
    blocking(&state, move |c| c.suggest_key_name(&instance)).await
}

/// The one command that receives a secret: the value is wrapped in [`Secret`] before anything
/// else happens, and only the key's public facts come back.
#[tauri::command(rename_all = "snake_case")]
pub async fn add_key(state: State<'_, CoreState>, spec: KeySpec, value: String) -> Reply<KeyAdded> {
    let value = Secret::new(value);
    blocking(&state, move |c| c.add_key(spec, value)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn list_keys(state: State<'_, CoreState>, instance: Option<String>) -> Reply<Vec<Key>> {
    blocking(&state, move |c| c.list_keys(instance.as_deref())).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn bind_key(state: State<'_, CoreState>, key: String, instance: String) -> Reply<Key> {
    blocking(&state, move |c| c.bind_key(&key, &instance)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn retire_key(state: State<'_, CoreState>, name: String) -> Reply<Key> {
    blocking(&state, move |c| c.retire_key(&name)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn remove_key(state: State<'_, CoreState>, name: String, force: bool) -> Reply<Key> {
    blocking(&state, move |c| c.remove_key(&name, force)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn audit_log(state: State<'_, CoreState>, since: Option<DateTime<Utc>>, subject: Option<String>, limit: Option<u32>) -> Reply<Vec<AuditEvent>> {
    blocking(&state, move |c| c.audit_log(since, subject.as_deref().filter(|s| !s.trim().is_empty()), limit.unwrap_or(500).min(AUDIT_MAX))).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn settings(state: State<'_, CoreState>) -> Reply<Settings> {
    blocking(&state, |c| c.settings()).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn set_anthropic_base_url(state: State<'_, CoreState>, url: String) -> Reply<Settings> {
    blocking(&state, move |c| c.set_anthropic_base_url(&url)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn set_ssh_identity(state: State<'_, CoreState>, identity: SshIdentity) -> Reply<Settings> {
    blocking(&state, move |c| c.set_ssh_identity(identity)).await
}

/// Unlocks the encrypted SSH key file for this session: the passphrase crosses IPC once, is
/// checked against the file and kept in memory only (never written). `true`: unlocked; `false`:
/// the file needs no passphrase. A wrong one is `invalid_input`.
#[tauri::command(rename_all = "snake_case")]
pub async fn unlock_ssh_key(state: State<'_, CoreState>, passphrase: String) -> Reply<bool> {
    let passphrase = Secret::new(passphrase);
    blocking(&state, move |c| c.unlock_ssh_key(passphrase)).await
}

/// Forgets the session's SSH key passphrase.
#[tauri::command(rename_all = "snake_case")]
pub async fn lock_ssh_key(state: State<'_, CoreState>) -> Reply<()> {
    blocking(&state, move |c| {
        c.lock_ssh_key();
        Ok(())
    })
    .await
}

/// `null`: the agent or an unencrypted key file (nothing to unlock); else whether the
/// encrypted key file is unlocked for this session.
#[tauri::command(rename_all = "snake_case")]
pub async fn ssh_key_status(state: State<'_, CoreState>) -> Reply<Option<bool>> {
    blocking(&state, move |c| c.ssh_key_unlocked()).await
}

/// Self-check as a long operation (see the crate doc): progress on `on_progress`, cancellable
/// with `cancel_operation(op_id)` between steps.
#[tauri::command(rename_all = "snake_case")]
pub async fn self_check(state: State<'_, CoreState>, ops: State<'_, Arc<Operations>>, op_id: String, on_progress: Channel<Progress>) -> Reply<SelfCheck> {
    let op = ops.start(&op_id)?;
    let _ = on_progress.send(Progress::Started { operation: "self-check".into(), steps: 1 });
    op.checkpoint()?;
    let _ = on_progress.send(Progress::Step { step: 1, label: "checking the store and the keychain".into() });
    let report = blocking(&state, |c| c.self_check()).await?;
    if let Err(e) = op.checkpoint() {
        let _ = on_progress.send(Progress::Cancelled);
        return Err(e);
    }
    let _ = on_progress.send(Progress::Finished);
    Ok(report)
}

/// Runs the checklist as a long operation: one instance (`name`) or, with `name` null, every
/// non-draft instance (then the report's `fleet_checks` hold the cross-instance findings). One
/// `step` event per finished instance; `cancel_operation(op_id)` stops the checks in flight
/// (read-only), keeps the finished ones in the history and fails with `cancelled`.
#[tauri::command(rename_all = "snake_case")]
pub async fn run_checks(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    name: Option<String>,
    request: Option<CheckRequest>,
) -> Reply<FleetReport> {
    let op = ops.start(&op_id)?;
    let names = blocking(&state, move |c| c.check_targets(name.as_deref())).await?;
    let _ = on_progress.send(Progress::Started { operation: "check".into(), steps: names.len() as u32 });
    let (token, channel) = (op.token(), on_progress.clone());
    let progress: CheckProgressFn = Arc::new(move |r: &InstanceReport, done, _total| {
        let _ = channel.send(Progress::Step { step: done as u32, label: format!("{}: {}", r.instance, r.status.as_str()) });
    });
    let opts = request.unwrap_or_default().into();
    let result = blocking(&state, move |c| c.run_checks(&names, &opts, DEFAULT_CONCURRENCY, &SshCredentials::Configured, &token, progress)).await;
    let _ = on_progress.send(match &result {
        Err(e) if e.code == "cancelled" => Progress::Cancelled,
        _ => Progress::Finished,
    });
    drop(op);
    result
}

/// Recent checklist runs of an instance, newest first.
#[tauri::command(rename_all = "snake_case")]
pub async fn check_history(state: State<'_, CoreState>, name: String, limit: Option<u32>) -> Reply<Vec<CheckRun>> {
    blocking(&state, move |c| c.check_history(&name, limit.unwrap_or(20).min(500))).await
}

/// The full stored report of one run.
#[tauri::command(rename_all = "snake_case")]
pub async fn check_report(state: State<'_, CoreState>, name: String, id: i64) -> Reply<InstanceReport> {
    blocking(&state, move |c| c.check_report(&name, id)).await
}

/// The newest run of every instance (the Fleet table's "Last check" column).
#[tauri::command(rename_all = "snake_case")]
pub async fn last_checks(state: State<'_, CoreState>) -> Reply<Vec<CheckRun>> {
    blocking(&state, |c| c.last_checks()).await
}

/// The host key an instance presents now, next to the pinned one. Nothing is authenticated.
#[tauri::command(rename_all = "snake_case")]
pub async fn probe_host_key(state: State<'_, CoreState>, name: String) -> Reply<HostKeyProbe> {
    blocking(&state, move |c| {
        c.probe_host(&name, &HostRoute::default(), &SshCredentials::Configured).map(|(presented, pinned)| HostKeyProbe {
            matches: pinned.as_deref() == Some(presented.as_str()),
            instance: name,
            presented,
            pinned,
        })
    })
    .await
}

/// Pins the host key the user confirmed; refused with `host_key_mismatch` (both fingerprints in
/// the message) when the host now presents another one.
#[tauri::command(rename_all = "snake_case")]
pub async fn trust_host_key(state: State<'_, CoreState>, name: String, fingerprint: String) -> Reply<Instance> {
    blocking(&state, move |c| c.confirm_host_key(&name, &fingerprint, &HostRoute::default(), &SshCredentials::Configured)).await
}

const DEPLOY_STAGES: [&str; 7] = ["connecting", "planning", "writing", "restarting", "verifying", "rolling-back", "done"];

/// Progress events for a deploy: one `step` per stage the host enters.
fn deploy_progress(channel: &Channel<Progress>) -> clawkeep_core::deploy::ProgressFn {
    let _ = channel.send(Progress::Started { operation: "deploy".into(), steps: DEPLOY_STAGES.len() as u32 });
    let channel = channel.clone();
    Arc::new(move |_instance: &str, stage: clawkeep_core::deploy::Stage| {
        let label = serde_json::to_value(stage).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let step = DEPLOY_STAGES.iter().position(|s| *s == label).map(|i| i as u32 + 1).unwrap_or(0);
        let _ = channel.send(Progress::Step { step, label });
    })
}

async fn deploy(
    state: &CoreState,
    op: crate::ops::OpGuard,
    on_progress: Channel<Progress>,
    name: String,
    key: Option<String>,
    req: clawkeep_core::api::deploys::DeployRequest,
) -> Reply<DeployResult> {
    let (progress, token) = (deploy_progress(&on_progress), op.token());
    let result = blocking(state, move |c| c.run_deploy(&name, key.as_deref(), &req, &SshCredentials::Configured, progress, &token)).await.map(DeployResult::from);
    let _ = on_progress.send(match &result {
        Ok(r) if r.outcome == "cancelled" => Progress::Cancelled,
        _ => Progress::Finished,
    });
    drop(op);
    result
}

/// Connects (pinned host key) and reads the host's state: the plan, nothing written, not recorded.
#[tauri::command(rename_all = "snake_case")]
pub async fn deploy_plan(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    name: String,
    key: Option<String>,
) -> Reply<DeployResult> {
    let op = ops.start(&op_id)?;
    deploy(&state, op, on_progress, name, key, Default::default()).await
}

/// Applies the previewed plan (`plan_digest` from `deploy_plan`; a changed plan is refused):
/// write, restart, verify, roll back on failure. Cancelling before the write changes nothing.
#[tauri::command(rename_all = "snake_case")]
#[allow(clippy::too_many_arguments)]
pub async fn deploy_apply(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    name: String,
    key: Option<String>,
    plan_digest: String,
    remove_stale: bool,
) -> Reply<DeployResult> {
    let op = ops.start(&op_id)?;
    let req = clawkeep_core::api::deploys::DeployRequest { apply: true, expected_plan: Some(plan_digest), remove_stale, ..Default::default() };
    deploy(&state, op, on_progress, name, key, req).await
}

/// Plans (`apply: false`) or applies the active key to many instances, a few at a time. When
/// applying, each target carries the digest of the plan the user reviewed: a host whose plan
/// changed is refused and nothing is written there. Progress: one step per finished host.
#[tauri::command(rename_all = "snake_case")]
pub async fn deploy_fleet(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    targets: Vec<clawkeep_core::api::deploys::FleetTarget>,
    apply: bool,
    remove_stale: bool,
) -> Reply<FleetDeployResult> {
    let op = ops.start(&op_id)?;
    let _ = on_progress.send(Progress::Started { operation: "deploy-fleet".into(), steps: targets.len() as u32 });
    let (token, channel) = (op.token(), on_progress.clone());
    let done = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let progress: clawkeep_core::deploy::ProgressFn = Arc::new(move |instance: &str, stage: clawkeep_core::deploy::Stage| {
        let label = serde_json::to_value(stage).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let step =
            if stage == clawkeep_core::deploy::Stage::Done { done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 } else { done.load(std::sync::atomic::Ordering::SeqCst) };
        let _ = channel.send(Progress::Step { step, label: format!("{instance}: {label}") });
    });
    // The webview can ask for a plan or for the reviewed plans to be applied, never for an
    // apply without them: every target must carry its plan's digest (`plan_not_reviewed`).
    let mode = if apply { clawkeep_core::api::deploys::FleetMode::ApplyReviewed } else { clawkeep_core::api::deploys::FleetMode::Plan };
    let req =
        clawkeep_core::api::deploys::FleetDeployRequest { mode, options: clawkeep_core::deploy::DeployOptions { remove_stale, ..Default::default() }, concurrency: 8, jump: None };
    let result = blocking(&state, move |c| c.run_fleet_deploy(&targets, &req, &SshCredentials::Configured, progress, &token)).await.map(FleetDeployResult::from);
    let _ = on_progress.send(if op.token().is_cancelled() { Progress::Cancelled } else { Progress::Finished });
    drop(op);
    result
}

/// Recorded deployments, newest first (all instances when `name` is null).
#[tauri::command(rename_all = "snake_case")]
pub async fn deployments(state: State<'_, CoreState>, name: Option<String>, limit: Option<u32>) -> Reply<Vec<clawkeep_core::Deployment>> {
    blocking(&state, move |c| c.deployments(name.as_deref(), limit.unwrap_or(20).min(500))).await
}

/// The offline rotation plan (overdue / due soon / upcoming, grouped by owner).
#[tauri::command(rename_all = "snake_case")]
pub async fn rotation_plan(state: State<'_, CoreState>) -> Reply<RotationPlan> {
    blocking(&state, |c| c.rotation_plan(None)).await
}

/// The stored rotation policies (the built-in default first when none is stored for it).
#[tauri::command(rename_all = "snake_case")]
pub async fn rotation_policies(state: State<'_, CoreState>) -> Reply<Vec<clawkeep_core::rotation::RotationPolicy>> {
    blocking(&state, |c| c.rotation_policy_table()).await
}

/// Sets the policy of a scope (default, an owner, an instance); unset fields keep their value.
#[tauri::command(rename_all = "snake_case")]
pub async fn set_rotation_policy(
    state: State<'_, CoreState>,
    scope: clawkeep_core::rotation::PolicyScope,
    spec: clawkeep_core::rotation::PolicySpec,
) -> Reply<clawkeep_core::rotation::RotationPolicy> {
    blocking(&state, move |c| c.set_rotation_policy(scope, spec)).await
}

/// Asks where to save the plan (a native save dialog run here: the webview never names a path),
/// then writes it as CSV or an RFC 5545 calendar, whole or not at all (never inside the data
/// directory). `null` when the person cancels the dialog.
#[tauri::command(rename_all = "snake_case")]
pub async fn export_rotation_plan(state: State<'_, CoreState>, dialog: State<'_, SaveDialog>, format: clawkeep_core::rotation::plan::ExportFormat) -> Reply<Option<ExportDone>> {
    use clawkeep_core::rotation::plan::ExportFormat;
    let chooser = dialog.0.clone();
    let (name, ext) = match format {
        ExportFormat::Ics => ("clawkeep-rotations.ics", "ics"),
        ExportFormat::Csv => ("clawkeep-rotations.csv", "csv"),
    };
    let chosen = tauri::async_runtime::spawn_blocking(move || chooser.choose(name, ext))
        .await
        .map_err(|e| ErrorPayload::new("internal", format!("the save dialog stopped unexpectedly: {e}")))?;
    let Some(path) = chosen else { return Ok(None) };
    blocking(&state, move |c| c.export_rotation_plan(format, &path, None).map(|n| Some(ExportDone { path: path.display().to_string(), keys: n as u32 }))).await
}

/// The UI preferences (only the keys in [`PREF_KEYS`]), from the app's one store file.
#[tauri::command(rename_all = "snake_case")]
pub fn prefs_load(prefs: State<'_, Prefs>) -> Reply<serde_json::Map<String, serde_json::Value>> {
    let store = prefs_store(&prefs)?;
    Ok(PREF_KEYS.iter().filter_map(|k| store.get(k).map(|v| (k.to_string(), v))).collect())
}

/// Saves one UI preference (`key` one of [`PREF_KEYS`], a small JSON value) in the app's one
/// store file; the webview names no file.
#[tauri::command(rename_all = "snake_case")]
pub fn prefs_save(prefs: State<'_, Prefs>, key: String, value: serde_json::Value) -> Reply<()> {
    if !PREF_KEYS.contains(&key.as_str()) {
        return Err(ErrorPayload::new("invalid_input", format!("preference: not one the UI keeps (one of {})", PREF_KEYS.join(", "))));
    }
    if value.to_string().len() > PREF_MAX_BYTES {
        return Err(ErrorPayload::new("invalid_input", format!("preference: larger than {PREF_MAX_BYTES} bytes")));
    }
    let store = prefs_store(&prefs)?;
    store.set(&key, value);
    store.save().map_err(|e| ErrorPayload::new("prefs", format!("the preferences could not be saved: {e}")))
}

fn prefs_store(prefs: &Prefs) -> Reply<Arc<dyn crate::files::PrefsStore>> {
    prefs.0.clone().map_err(|e| ErrorPayload::new("prefs", format!("the preferences store cannot be opened: {e}")))
}

/// Guided rotations in progress.
#[tauri::command(rename_all = "snake_case")]
pub async fn open_rotations(state: State<'_, CoreState>) -> Reply<Vec<Rotation>> {
    blocking(&state, |c| c.open_rotations()).await
}

/// The latest rotation of an instance (open or finished).
#[tauri::command(rename_all = "snake_case")]
pub async fn rotation(state: State<'_, CoreState>, name: String) -> Reply<Rotation> {
    blocking(&state, move |c| c.rotation(&name)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn rotation_start(state: State<'_, CoreState>, name: String, options: Option<RotationOptions>) -> Reply<Rotation> {
    blocking(&state, move |c| c.rotation_start(&name, options.unwrap_or_default())).await
}

/// Runs the rotation's next step. The second command that receives a secret: at the `paste`
/// step the new key's value is wrapped in [`Secret`] first; only its hint comes back.
#[tauri::command(rename_all = "snake_case")]
pub async fn rotation_step(state: State<'_, CoreState>, name: String, value: Option<String>, confirm: bool, remove_stale: bool) -> Reply<StepReport> {
    let secret = value.map(Secret::new);
    blocking(&state, move |c| c.rotation_step(&name, StepInput { secret, confirm }, c.rotation_deployer(&name, remove_stale, &SshCredentials::Configured)?.as_ref())).await
}

/// Undoes an open rotation (before the archive).
#[tauri::command(rename_all = "snake_case")]
pub async fn rotation_rollback(state: State<'_, CoreState>, name: String, confirm: bool) -> Reply<StepReport> {
    blocking(&state, move |c| c.rotation_rollback(&name, confirm, c.rotation_deployer(&name, false, &SshCredentials::Configured)?.as_ref())).await
}

/// Asks a running long operation to stop; `false` when no operation has that id.
#[tauri::command(rename_all = "snake_case")]
pub fn cancel_operation(ops: State<'_, Arc<Operations>>, op_id: String) -> bool {
    ops.cancel(&op_id)
}

/// The UI reports a milestone (`fleet-rendered`: the first Fleet table is on screen;
/// `cost-chart-drawn`: the Costs chart is drawn, with the duration the UI measured in `ms`).
/// The app prints it, for `scripts/bench-gui.sh`.
#[tauri::command(rename_all = "snake_case")]
pub fn ui_mark(name: String, ms: Option<u64>) -> Reply<u128> {
    crate::marks::record(&name, ms)
}
