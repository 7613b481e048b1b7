//! The team vault's IPC commands (issue 15): one-liners over `Clawkeep`'s `api/team.rs`, like
//! [`crate::commands`]. Init (attach) and sync are long operations: one `step` per stage core
//! reports (clone, fetch, each commit verified, import, share, push); they cannot be cancelled
//! half way (a sync either completes or writes nothing). Only public material crosses IPC: the
//! team identity stays in the keychain (`team_identity_export` is the CLI's alone).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use clawkeep_core::api::team::{TeamAuditEntry, TeamChange, TeamInit, TeamJoined, TeamLeft, TeamStatus, TeamSync, TeamSyncStage};
use tauri::ipc::Channel;
use tauri::State;

use crate::commands::blocking;
use crate::ops::{Operations, Progress};
use crate::state::CoreState;

type Reply<T> = Result<T, clawkeep_core::ErrorPayload>;

/// This data dir's membership and the team as last verified; `null` before joining.
#[tauri::command(rename_all = "snake_case")]
pub async fn team_status(state: State<'_, CoreState>) -> Reply<Option<TeamStatus>> {
    blocking(&state, |c| c.team_status_if_joined()).await
}

/// The members' audit streams as last verified, newest first (at most `limit` lines).
#[tauri::command(rename_all = "snake_case")]
pub async fn team_audit(state: State<'_, CoreState>, limit: usize) -> Reply<Vec<TeamAuditEntry>> {
    blocking(&state, move |c| c.team_audit(None, limit.min(1000))).await
}

/// Back to a solo inventory: every team key's value into the keychain, the store forgotten.
#[tauri::command(rename_all = "snake_case")]
pub async fn team_leave(state: State<'_, CoreState>) -> Reply<TeamLeft> {
    blocking(&state, |c| c.team_leave()).await
}

/// Makes (or keeps) the team identity and names the SSH signing key (a path: the private key
/// file, or its `.pub` when the key is in ssh-agent). Returns what to give an admin.
#[tauri::command(rename_all = "snake_case")]
pub async fn team_join(state: State<'_, CoreState>, member: String, signing_key: String) -> Reply<TeamJoined> {
    blocking(&state, move |c| c.team_join(member.trim(), &PathBuf::from(signing_key.trim()))).await
}

/// Sends each stage core reports as a `step` event on `channel`.
fn stage_reporter(channel: Channel<Progress>) -> impl Fn(&TeamSyncStage) + Send + 'static {
    let steps = AtomicU32::new(0);
    move |s: &TeamSyncStage| {
        let step = steps.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = channel.send(Progress::Step { step, label: s.to_string() });
    }
}

/// Creates the team store in an empty repository (you become its first admin) or attaches to
/// an existing one (its whole history verified, then imported).
#[tauri::command(rename_all = "snake_case")]
pub async fn team_init(state: State<'_, CoreState>, ops: State<'_, Arc<Operations>>, op_id: String, on_progress: Channel<Progress>, repository: String) -> Reply<TeamInit> {
    let op = ops.start(&op_id)?;
    let _ = on_progress.send(Progress::Started { operation: "team-init".into(), steps: 0 });
    let report = stage_reporter(on_progress.clone());
    let result = blocking(&state, move |c| c.team_init_with(repository.trim(), &report)).await;
    let _ = on_progress.send(Progress::Finished);
    drop(op);
    result
}

/// Fetch, verify every new commit, import, share local additions, push.
#[tauri::command(rename_all = "snake_case")]
pub async fn team_sync(state: State<'_, CoreState>, ops: State<'_, Arc<Operations>>, op_id: String, on_progress: Channel<Progress>) -> Reply<TeamSync> {
    let op = ops.start(&op_id)?;
    let _ = on_progress.send(Progress::Started { operation: "team-sync".into(), steps: 0 });
    let report = stage_reporter(on_progress.clone());
    let result = blocking(&state, move |c| c.team_sync_with(&report)).await;
    let _ = on_progress.send(Progress::Finished);
    drop(op);
    result
}

/// Adds a member (admins only) with the recipient and signing key their join showed; returns
/// the pushed commit.
#[tauri::command(rename_all = "snake_case")]
pub async fn team_invite(state: State<'_, CoreState>, member: String, recipient: String, signing_key: String, admin: bool) -> Reply<String> {
    blocking(&state, move |c| c.team_invite(member.trim(), &recipient, &signing_key, admin)).await
}

/// Gives a member an owner's instances and keys (its secrets are encrypted to them too).
#[tauri::command(rename_all = "snake_case")]
pub async fn team_grant(state: State<'_, CoreState>, member: String, owner: String) -> Reply<TeamChange> {
    blocking(&state, move |c| c.team_grant(&member, owner.trim())).await
}

/// Takes an owner from a member: secrets encrypted again without them, the keys they could read
/// marked "exposed: rotate".
#[tauri::command(rename_all = "snake_case")]
pub async fn team_revoke(state: State<'_, CoreState>, member: String, owner: String) -> Reply<TeamChange> {
    blocking(&state, move |c| c.team_revoke(&member, owner.trim())).await
}

/// Offboards a member (the UI confirms first): every key they could read is encrypted again
/// without them and marked "exposed: rotate".
#[tauri::command(rename_all = "snake_case")]
pub async fn team_remove(state: State<'_, CoreState>, member: String) -> Reply<TeamChange> {
    blocking(&state, move |c| c.team_remove(&member)).await
}
