//! The guided rotation's judgement, pure (no store, keychain, network or host): how a rotation
//! starts, which step runs next, what a pasted key, a probe, a deploy, an Admin API record or a
//! usage report means for the step, and what each refusal or wait says and offers as the next
//! action. The facade methods in `api/rotations/` gather the facts (store, keychain, Admin
//! API, deployer), ask here, and perform what is decided.
//!
//! Two rules keep the Admin API calls on the right key and the host on a live one:
//! - Before any Admin API change (deactivate, archive, reactivate) the key is read by its
//!   `apikey_…` id and its `partial_key_hint` is checked against the stored key's value (and
//!   its workspace, when both are known, [`check_admin_record`]); on a mismatch nothing is
//!   changed ([`Error::KeyIdMismatch`]) and the rotation forgets that id.
//! - A rollback first reads which key the host holds (by fingerprint, on the host) and puts
//!   the old key back whenever the host does not hold it ([`host_restore`]), whatever the
//!   rotation recorded; only once the host is verified does Clawkeep change anything at the
//!   API or revoke the new key.

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, Remedy, Result};
use crate::model::domain::{Instance, Key, KeyStatus};
use crate::model::keyfmt::{self, KeyKind};
use crate::model::naming;
use crate::secret::Secret;

use super::api::{AdminKey, ApiError, ProbeResult};
use super::machine::{DeployOutcome, HostKey, Rotation, RotationOptions, RotationOutcome, RotationStep, StepEvent, DEFAULT_SOAK_SECS};

/// The remedy "run the rotation's next step" (`confirm`: the person confirms a manual action).
pub(crate) fn resume(instance: &str, confirm: bool) -> Remedy {
    Remedy::RotateResume { instance: instance.into(), confirm }
}

/// The remedy "roll the rotation back" (`confirm`: the person did what it asked by hand).
pub(crate) fn rollback(instance: &str, confirm: bool) -> Remedy {
    Remedy::RotateRollback { instance: instance.into(), confirm }
}

/// A rotation that cannot go on until the person acts: its own code, the action as data.
pub(crate) fn blocked(code: &'static str, message: String, remedy: Remedy) -> Error {
    Error::Blocked { code, message, remedy }
}

pub(crate) fn api_err(what: &str, e: ApiError) -> Error {
    Error::InvalidState(format!("{what}: {e}"))
}

// ---- start and next step --------------------------------------------------------------------

/// A new rotation of `inst` replacing `old` (its active key) at `now`, or why it cannot start.
/// `keys` are every stored key (the new key's name must be free). Not yet stored (`id` 0).
pub(crate) fn start(inst: &Instance, old: &Key, keys: &[Key], opts: RotationOptions, now: DateTime<Utc>) -> Result<Rotation> {
    let soak = opts.soak_secs.unwrap_or(DEFAULT_SOAK_SECS);
    if !(0..=30 * 86400).contains(&soak) {
        return Err(Error::invalid("soak", "must be between 0 and 30 days"));
    }
    let new_key_name = match opts.new_key_name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
        Some(n) => {
            naming::check_key_name(&n, &naming::NameContext { owner: Some(&inst.owner), environment: Some(&inst.environment), workload: Some(&inst.workload) })?;
            if keys.iter().any(|k| k.name == n) {
                return Err(Error::Conflict(format!("a key named '{n}' already exists; pick another name for the new key")));
            }
            n
        }
        None => super::plan::suggested_key_name(inst, now.date_naive(), &|n: &str| keys.iter().any(|k| k.name == n)),
    };
    let workspace_id = inst.expected_workspace_id.clone().or_else(|| old.workspace_id.clone());
    let where_ = workspace_id.clone().map(|w| format!("workspace {w}")).unwrap_or_else(|| "the workspace of the current key".into());
    Ok(Rotation {
        id: 0,
        instance: inst.name.clone(),
        owner: inst.owner.clone(),
        workspace_id,
        old_key: old.name.clone(),
        old_key_hint: old.hint.clone(),
        old_key_expired: old.expires_at.is_some_and(|e| e <= now),
        old_anthropic_key_id: old.anthropic_key_id.clone(),
        new_key_name: new_key_name.clone(),
        new_key: None,
        new_key_hint: None,
        step: RotationStep::Paste,
        outcome: RotationOutcome::InProgress,
        soak_secs: soak,
        manual_deploy: opts.manual_deploy,
        deployed_at: None,
        deactivated_at: None,
        deactivated_by: None,
        archived_at: None,
        waiting_for: Some(format!("create an API key named '{new_key_name}' in the Anthropic Console ({where_}), then paste it")),
        waiting_action: Some(resume(&inst.name, false)),
        history: vec![StepEvent { step: RotationStep::Create, at: now, outcome: "done".into(), detail: format!("create '{new_key_name}' in {where_}") }],
        started_at: now,
        updated_at: now,
    })
}

/// Refused: `instance` already has a rotation under way.
pub(crate) fn already_under_way(instance: &str) -> Error {
    blocked("conflict", format!("a rotation of '{instance}' is already under way: resume it or roll it back"), Remedy::RotateStatus { instance: instance.into() })
}

/// Refused: `instance` has no rotation under way.
pub(crate) fn none_under_way(instance: &str) -> Error {
    blocked("no_rotation", format!("instance '{instance}' has no rotation under way; start one first"), Remedy::Rotate { instance: instance.into() })
}

/// Refused: the stored rotation of `instance` was moved on (to `stored`) by another process.
pub(crate) fn moved_on(instance: &str, stored: &str) -> Error {
    blocked(
        "conflict",
        format!("the rotation of '{instance}' was moved on by another Clawkeep (now at step '{stored}'); look at its status"),
        Remedy::RotateStatus { instance: instance.into() },
    )
}

/// The step a call of `rotation_step` runs for a rotation at `step` (`create` is done by the
/// start, so it is the paste), or why none can run.
pub(crate) fn step_to_run(step: RotationStep, instance: &str) -> Result<RotationStep> {
    match step {
        RotationStep::Create | RotationStep::Paste => Ok(RotationStep::Paste),
        RotationStep::Done | RotationStep::Rollback => Err(Error::Blocked {
            code: "rotation_finished",
            message: format!("the rotation of '{instance}' is finished"),
            remedy: Remedy::RotateStatus { instance: instance.into() },
        }),
        s => Ok(s),
    }
}

// ---- paste ------------------------------------------------------------------------------------

/// A stored key the paste adopts instead of asking again (a crash between storing the new key
/// and saving the step): the new key's name, staged on this instance.
pub(crate) fn adoptable(stored: &Key, rot: &Rotation) -> bool {
    stored.name == rot.new_key_name && stored.instance.as_deref() == Some(rot.instance.as_str()) && stored.status == KeyStatus::Staged
}

/// Why the linted new key (`kind`, `fingerprint`) cannot replace `old`, if it cannot:
/// `stored_as` names a stored key with the same value. The text is the refusal the step records.
pub(crate) fn paste_refusal(kind: KeyKind, fingerprint: &str, old: &Key, stored_as: Option<&str>) -> Option<String> {
    match kind {
        KeyKind::Admin => {
            return Some(
                "refused: this is an Admin API key (sk-ant-admin01-); an instance needs a standard API key (sk-ant-api03-), and admin keys are never deployed to a host".into(),
            );
        }
        KeyKind::Oauth => {
            return Some("refused: this is an OAuth token (sk-ant-oat01-) from a Claude subscription, not an API key; the API rejects it without OAuth headers (\"OAuth authentication is currently not supported\"). Create an API key (sk-ant-api03-) in the Console".into());
        }
        KeyKind::Api => {}
    }
    if fingerprint == old.fingerprint {
        return Some(format!("refused: this is the current key {} ({}), not a new one; create a new key in the Console", old.name, old.hint));
    }
    stored_as.map(|other| format!("refused: this key is already stored as '{other}'; a rotation needs a freshly created key"))
}

/// Why the free probe of the new key refuses it, if it does: the API rejected it, or it belongs
/// to another workspace than the rotation's.
pub(crate) fn probe_refusal(probe: &ProbeResult, rot: &Rotation) -> Option<String> {
    if !probe.ok() {
        return Some(format!(
            "refused: the API rejected the new key on GET /v1/models: {} {}: {} (request-id {}). Is it active, and copied whole?",
            probe.status,
            probe.error_type.clone().unwrap_or_default(),
            probe.error_message.clone().unwrap_or_default(),
            probe.request_id.clone().unwrap_or_default()
        ));
    }
    match (&rot.workspace_id, &probe.workspace_id) {
        (Some(want), Some(got)) if want != got => {
            Some(format!("refused: the new key belongs to workspace {got}, but instance '{}' uses workspace {want}; create the key in workspace {want}", rot.instance))
        }
        _ => None,
    }
}

// ---- deploy -----------------------------------------------------------------------------------

/// What a deployer's answer means for the deploy step.
#[derive(Debug, PartialEq)]
pub(crate) enum DeployVerdict {
    /// The key is on the host (verified, or confirmed by the person): the step is done.
    Done(String),
    /// Written but not seen in use: recorded as failed, and the person retries or rolls back.
    Unverified(String),
    /// A person deploys: wait for their confirmation with these instructions.
    Wait(String),
}

pub(crate) fn judge_deploy(outcome: DeployOutcome, confirm: bool) -> DeployVerdict {
    match outcome {
        DeployOutcome::Deployed { verified: true, detail } => DeployVerdict::Done(detail),
        DeployOutcome::Deployed { verified: false, detail } => DeployVerdict::Unverified(detail),
        DeployOutcome::Manual { instructions } if !confirm => DeployVerdict::Wait(instructions),
        DeployOutcome::Manual { .. } => DeployVerdict::Done("deployed by hand, confirmed by the user".to_string()),
    }
}

/// The error of [`DeployVerdict::Unverified`].
pub(crate) fn deploy_unverified(rot: &Rotation, detail: &str) -> Error {
    blocked(
        "rotation_deploy_unverified",
        format!("the new key was written to '{}' but the host was not seen using it: {detail}. Retry the deploy, or roll the rotation back", rot.instance),
        resume(&rot.instance, false),
    )
}

// ---- deactivate and archive (Admin API or by hand) -------------------------------------------

/// What an Admin API record must match before Clawkeep changes it: the stored key (its value,
/// read from the keychain) and, when known, its workspace.
pub(crate) struct KeyCheck<'a> {
    /// The key's name and Clawkeep's hint of it (for the message).
    pub name: &'a str,
    pub hint: &'a str,
    pub secret: &'a Secret,
    pub workspace: Option<&'a str>,
    /// What the person can do about a mismatch, in words, and as data.
    pub remedy: String,
    pub action: Option<Remedy>,
}

/// The check of the rotation's old key `old` before an Admin API change.
pub(crate) fn old_key_check<'a>(rot: &'a Rotation, old: &'a Key, secret: &'a Secret, remedy: String, action: Remedy) -> KeyCheck<'a> {
    KeyCheck { name: &old.name, hint: &old.hint, secret, workspace: old.workspace_id.as_deref().or(rot.workspace_id.as_deref()), remedy, action: Some(action) }
}

/// API or stored text shown in a message (ids, hints, workspaces): printable ASCII only, at
/// most 64 characters, and never more than a hint of anything key-shaped that is longer than
/// a hint (a misbehaving API could answer with a value).
fn shown(text: &str) -> String {
    let clean: String = text.chars().filter(|c| c.is_ascii_graphic()).take(200).collect();
    if clean.contains("sk-") && clean.len() > 24 {
        keyfmt::hint(&clean)
    } else {
        clean.chars().take(64).collect()
    }
}

pub(crate) fn mismatch(c: &KeyCheck<'_>, key_id: &str, api_hint: Option<&str>, reason: String) -> Error {
    Error::KeyIdMismatch(Box::new(crate::error::KeyIdMismatch {
        key: c.name.to_string(),
        key_id: shown(key_id),
        local_hint: c.hint.to_string(),
        api_hint: api_hint.map(shown).unwrap_or_else(|| "(none)".into()),
        reason,
        remedy: c.remedy.clone(),
        action: c.action.clone(),
    }))
}

/// Checks that the Admin API's record `rec` (read by `key_id`) is the key of `c`: its
/// `partial_key_hint` fits the key's value, and its workspace is the expected one when both
/// are known. Pure: the caller read `rec` and changes nothing on an error.
pub(crate) fn check_admin_record(rec: &AdminKey, key_id: &str, c: &KeyCheck<'_>) -> Result<()> {
    if !rec.hint_fits(c.secret) {
        let reason = match &rec.partial_key_hint {
            None => "the API gives no partial_key_hint for it, so it cannot be matched to the key".to_string(),
            Some(_) => "its partial_key_hint does not fit the key's value".to_string(),
        };
        return Err(mismatch(c, key_id, rec.partial_key_hint.as_deref(), reason));
    }
    if let (Some(want), Some(got)) = (c.workspace, rec.workspace_id.as_deref()) {
        if want != got {
            return Err(mismatch(c, key_id, rec.partial_key_hint.as_deref(), format!("the API puts it in workspace {}, the key belongs to workspace {want}", shown(got))));
        }
    }
    Ok(())
}

/// The old key's `apikey_…` id among the Admin API's `keys`: the one whose `partial_key_hint`
/// fits the old key's value, in the rotation's workspace (when known). None or several: the
/// person does it in the Console and confirms.
pub(crate) fn pick_old_key_id(keys: &[AdminKey], rot: &Rotation, old_secret: &Secret) -> Result<String> {
    let matches: Vec<_> =
        keys.iter().filter(|k| k.hint_fits(old_secret)).filter(|k| rot.workspace_id.is_none() || k.workspace_id.is_none() || k.workspace_id == rot.workspace_id).collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(blocked(
            "old_key_not_in_admin_api",
            format!(
                "the Admin API lists no key with hint {} in workspace {}; set it inactive in the Console, then confirm",
                rot.old_key_hint,
                rot.workspace_id.clone().unwrap_or_else(|| "(any)".into()),
            ),
            resume(&rot.instance, true),
        )),
        many => Err(blocked(
            "old_key_ambiguous_in_admin_api",
            format!(
                "{} keys share the hint {} ({}); deactivate the right one in the Console, then confirm",
                many.len(),
                rot.old_key_hint,
                many.iter().map(|k| k.id.as_str()).collect::<Vec<_>>().join(", "),
            ),
            resume(&rot.instance, true),
        )),
    }
}

/// Whether key `id`, now `current` at the Admin API, must be set `want`: `Ok(None)` yes,
/// `Ok(Some(what))` it already is, an error when the Console's state forbids it (archived, or
/// expired and not being archived).
pub(crate) fn status_change(id: &str, current: &str, want: &str) -> Result<Option<String>> {
    if current == want {
        return Ok(Some(format!("{id} was already {want}")));
    }
    if current == "archived" || (current == "expired" && want != "archived") {
        return Err(Error::InvalidState(format!("key {id} is {current} in the Console and cannot be made {want}")));
    }
    Ok(None)
}

/// Deactivation without an Admin key, as the person confirmed it: checked against the free
/// probe of the old key where it could run (`probe`: its answer, or why it could not be asked).
/// A key that still works is not inactive. Returns the note for the step's detail.
pub(crate) fn judge_manual_deactivation(probe: std::result::Result<ProbeResult, ApiError>, rot: &Rotation) -> Result<String> {
    match probe {
        Ok(p) if p.ok() => Err(blocked(
            "old_key_still_active",
            format!("the old key {} still works (GET /v1/models answered 200): it is not inactive yet. Set it inactive in the Console, then confirm again", rot.old_key_hint),
            resume(&rot.instance, true),
        )),
        Ok(p) => Ok(format!("probe of the old key: {}", p.status)),
        Err(e) => Ok(format!("could not probe the old key ({e})")),
    }
}

/// What the deactivate step waits for without an Admin key.
pub(crate) fn deactivate_by_hand(rot: &Rotation) -> (String, Remedy) {
    (format!("no Admin key is stored: in the Console, set the old key {} ({}) inactive, then confirm", rot.old_key, rot.old_key_hint), resume(&rot.instance, true))
}

/// What the archive step waits for when it cannot archive through the Admin API.
pub(crate) fn archive_by_hand(rot: &Rotation) -> (String, Remedy) {
    (format!("archive the old key {} ({}) in the Console (permanent), then confirm", rot.old_key, rot.old_key_hint), resume(&rot.instance, true))
}

// ---- soak ---------------------------------------------------------------------------------------

/// What the soak step decides.
#[derive(Debug, PartialEq)]
pub(crate) enum SoakVerdict {
    /// Keep waiting: for this, with this action.
    Wait(String, Remedy),
    /// The soak is over (or ended by the person): on to the archive.
    Done(String),
}

/// The soak at `now`: `usage` is what the Admin API's usage report says of the old key since
/// its deactivation (tokens, key id) when it could be asked; `confirm` ends the soak early (and
/// accepts traffic the report shows).
pub(crate) fn judge_soak(rot: &Rotation, now: DateTime<Utc>, usage: Option<(u64, &str)>, confirm: bool) -> SoakVerdict {
    let since = rot.deactivated_at.unwrap_or(now);
    let until = since + Duration::seconds(rot.soak_secs);
    let mut usage_note = String::new();
    if let Some((used, id)) = usage {
        if used > 0 && !confirm {
            let what = format!(
                "the usage report shows {used} tokens on the old key {id} since {}: something still uses it. Find it, or roll the rotation back",
                since.format("%Y-%m-%d %H:%M UTC"),
            );
            return SoakVerdict::Wait(what, rollback(&rot.instance, false));
        }
        usage_note = format!("usage report: {used} tokens on {id} since deactivation");
    }
    let note = if usage_note.is_empty() { String::new() } else { format!("; {usage_note}") };
    if now >= until {
        SoakVerdict::Done(format!("soak of {}s over{note}", rot.soak_secs))
    } else if confirm {
        SoakVerdict::Done(format!("soak ended early by the user at {}{note}", now.format("%Y-%m-%d %H:%M UTC")))
    } else {
        let what = format!(
            "soak: the old key stays inactive (not archived) until {}; then resuming the rotation archives it (confirming ends the soak now)",
            until.format("%Y-%m-%d %H:%M UTC"),
        );
        SoakVerdict::Wait(what, resume(&rot.instance, false))
    }
}

// ---- rollback -----------------------------------------------------------------------------------

/// Refused: a rotation past its archive cannot be rolled back.
pub(crate) fn rollback_refusal(rot: &Rotation, instance: &str) -> Option<Error> {
    (rot.step == RotationStep::Archive && rot.archived_at.is_some()).then(|| Error::Blocked {
        code: "rotation_archived",
        message: "the old key is archived; a rotation cannot be rolled back after the archive".into(),
        remedy: resume(instance, false),
    })
}

/// How a rollback brings a deactivated old key back.
#[derive(Debug, PartialEq)]
pub(crate) enum Reactivation<A> {
    /// It was never deactivated.
    NotNeeded,
    /// Through the Admin API with this admin key, for this key id (after the host is verified).
    AdminApi(A, String),
    /// The person reactivated it in the Console and confirmed: checked with a probe.
    ByHandConfirmed,
}

/// The reactivation a rollback needs: `admin` is the stored Admin key, if any.
pub(crate) fn reactivation<A>(rot: &Rotation, admin: Option<A>, confirm: bool) -> Result<Reactivation<A>> {
    match (rot.deactivated_at.is_some(), admin, rot.old_anthropic_key_id.clone()) {
        (false, _, _) => Ok(Reactivation::NotNeeded),
        (true, _, _) if rot.old_key_expired => Err(blocked(
            "old_key_expired",
            format!("the old key {} has expired and cannot be reactivated; finish the rotation instead", rot.old_key_hint),
            resume(&rot.instance, false),
        )),
        (true, Some(admin), Some(id)) => Ok(Reactivation::AdminApi(admin, id)),
        (true, _, _) if !confirm => Err(blocked(
            "reactivate_old_key_by_hand",
            format!("set the old key {} ({}) active again in the Console, then confirm the rollback", rot.old_key, rot.old_key_hint),
            rollback(&rot.instance, true),
        )),
        (true, _, _) => Ok(Reactivation::ByHandConfirmed),
    }
}

/// A reactivation by hand, checked with the old key's probe: it must work again.
pub(crate) fn judge_manual_reactivation(probe: &ProbeResult, rot: &Rotation) -> Result<()> {
    if probe.ok() {
        return Ok(());
    }
    Err(blocked(
        "old_key_still_rejected",
        format!(
            "the old key {} is still rejected by the API ({} {}); reactivate it in the Console first, then confirm the rollback",
            rot.old_key_hint,
            probe.status,
            probe.error_message.clone().unwrap_or_default()
        ),
        rollback(&rot.instance, true),
    ))
}

/// What a rollback does on the host, from which key it holds (`seen`) and the old key's
/// fingerprint `old_fp`.
#[derive(Debug, PartialEq)]
pub(crate) enum HostRestore {
    /// It holds the old key: nothing to put back.
    Holds,
    /// Clawkeep never reached it (so never wrote the new key there): why.
    NotRead(String),
    /// Put the old key back (it does not hold it, or the deployer cannot see).
    Restore,
}

pub(crate) fn host_restore(seen: &HostKey, old_fp: &str) -> HostRestore {
    if seen.holds(old_fp) == Some(true) {
        HostRestore::Holds
    } else if let HostKey::NeverReached(why) = seen {
        HostRestore::NotRead(why.clone())
    } else {
        HostRestore::Restore
    }
}

/// The old key was written back and the deploy verified it, but the host read afterwards does
/// not hold it (`short`: its short fingerprint).
pub(crate) fn restore_not_held(rot: &Rotation, short: &str, detail: &str) -> Error {
    blocked(
        "rollback_restore_unverified",
        format!(
            "the old key {} was written back to '{}' but the host does not hold it ({short} not found on the host): {detail}. Nothing was changed at the API and the new key is not revoked; run the rollback again",
            rot.old_key_hint, rot.instance
        ),
        rollback(&rot.instance, false),
    )
}

/// The old key was written back but the deploy could not verify it.
pub(crate) fn restore_unverified(rot: &Rotation, detail: &str) -> Error {
    blocked(
        "rollback_restore_unverified",
        format!("the old key was written back but the host was not seen using it: {detail}. Nothing was changed at the API and the new key is not revoked; run the rollback again"),
        rollback(&rot.instance, false),
    )
}

/// A deployer that cannot see the host: the person makes sure it runs `old` again, then confirms.
pub(crate) fn restore_by_hand(rot: &Rotation, inst: &Instance, old: &Key) -> Error {
    let new_name = rot.new_key.clone().unwrap_or_default();
    let new_hint = rot.new_key_hint.clone().unwrap_or_default();
    blocked(
        "restore_old_key_by_hand",
        format!(
            "Clawkeep cannot see the host of '{}': before anything is revoked, make sure it runs the old key {} ({}) again. If the new key {new_name} ({new_hint}) was put on {}@{}, put the old one back: {}. Then confirm the rollback",
            inst.name,
            old.name,
            old.hint,
            inst.ssh_user,
            inst.ssh_host,
            super::machine::manual_how(inst),
        ),
        rollback(&inst.name, true),
    )
}

/// Reactivating the old key through the Admin API failed after the host was restored.
pub(crate) fn reactivation_failed(rot: &Rotation, e: &Error) -> Error {
    blocked(
        "reactivation_failed",
        format!("the host runs the old key {} again, but reactivating it failed: {e}. Nothing was revoked; run the rollback again", rot.old_key_hint),
        rollback(&rot.instance, false),
    )
}

#[cfg(test)]
mod tests;
