//! The onboarding wizard's commands (issue 17): thin wrappers over core's
//! [`Clawkeep::onboard_fetch_host_keys`] and [`Clawkeep::run_onboard`], plus reading the batch.
//!
//! The webview never names a path: the batch comes from text the person pasted, from the
//! person's own `~/.ssh/config` (a fixed path resolved here), or from a CSV/TSV file (or a
//! trusted-fingerprints file) chosen in a native open dialog run from Rust ([`OpenDialog`]; in
//! the GUI journey a fixed answer from the app's environment, `CLAWKEEP_E2E_OPEN_PATH`).
//!
//! Applying carries, for every host, the digest of the preview the person reviewed
//! (`require_preview`): the webview cannot apply what it has not previewed, and a host whose
//! discovery changed since is refused (`onboard_preview_changed`) with nothing written.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clawkeep_core::api::onboard::{ConfirmedHost, FetchedHostKey, OnboardProgressFn, OnboardReport, OnboardRequest, OnboardStage};
use clawkeep_core::onboard::{self, KnownFingerprints, OnboardDefaults, OnboardHost, RowError};
use clawkeep_core::{Clawkeep, ErrorPayload, SshCredentials};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime, State};

use crate::commands::blocking;
use crate::ops::{Operations, Progress};
use crate::state::CoreState;

type Reply<T> = Result<T, ErrorPayload>;

/// Largest file the wizard reads (a host list or a fingerprint list).
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Most hosts one batch may hold.
const MAX_HOSTS: usize = 1000;

/// A batch read from pasted text or a file: the hosts when every row is good, else the bad
/// rows (line and why). `source` says where it came from (shown in the wizard).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct OnboardBatch {
    pub source: String,
    pub hosts: Vec<OnboardHost>,
    pub errors: Vec<RowError>,
}

/// Trusted fingerprints read from pasted text or a file (`hosts`: how many hosts it names).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct TrustedFingerprints {
    pub source: String,
    pub known: KnownFingerprints,
    pub hosts: u32,
    pub errors: Vec<RowError>,
}

/// What the open dialog is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OnboardFileKind {
    /// A CSV/TSV table of hosts or a list of `[user@]host[:port]`.
    Hosts,
    /// Trusted host-key fingerprints: `host[:port] SHA256:…` lines or ssh-keyscan output.
    Fingerprints,
}

/// Asks the person for a file to read; `None` when they cancel.
pub trait ChooseOpenPath: Send + Sync {
    fn choose(&self, title: &str) -> Option<PathBuf>;
}

/// The app's open-file chooser (managed state).
#[derive(Clone)]
pub struct OpenDialog(pub Arc<dyn ChooseOpenPath>);

/// The native open dialog (`tauri-plugin-dialog`), run from Rust off the main thread.
pub struct NativeOpenDialog<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> ChooseOpenPath for NativeOpenDialog<R> {
    fn choose(&self, title: &str) -> Option<PathBuf> {
        use tauri_plugin_dialog::DialogExt;
        self.0.dialog().file().set_title(title).blocking_pick_file()?.into_path().ok()
    }
}

/// A chooser answering with a path set beforehand (tests; the GUI journey).
#[derive(Default)]
pub struct FixedOpenPath(pub Mutex<Option<PathBuf>>);

impl ChooseOpenPath for FixedOpenPath {
    fn choose(&self, _title: &str) -> Option<PathBuf> {
        self.0.lock().ok()?.clone()
    }
}

/// Manages the open dialog on the app: the native one, or `CLAWKEEP_E2E_OPEN_PATH`'s answer
/// (an environment variable of the app process, which the webview cannot set).
pub fn manage<R: Runtime>(app: &AppHandle<R>) {
    let chooser: Arc<dyn ChooseOpenPath> = match std::env::var_os("CLAWKEEP_E2E_OPEN_PATH") {
        Some(p) => Arc::new(FixedOpenPath(Mutex::new(Some(p.into())))),
        None => Arc::new(NativeOpenDialog(app.clone())),
    };
    app.manage(OpenDialog(chooser));
}

fn batch(source: String, parsed: Result<Vec<OnboardHost>, Vec<RowError>>) -> Reply<OnboardBatch> {
    let b = match parsed {
        Ok(hosts) => OnboardBatch { source, hosts, errors: Vec::new() },
        Err(errors) => OnboardBatch { source, hosts: Vec::new(), errors },
    };
    if b.hosts.len() > MAX_HOSTS {
        return Err(ErrorPayload::new("invalid_input", format!("hosts: {} in the batch, at most {MAX_HOSTS}", b.hosts.len())));
    }
    Ok(b)
}

fn trusted(source: String, text: &str) -> TrustedFingerprints {
    match onboard::parse_known_fingerprints(text) {
        Ok(known) => TrustedFingerprints { source, hosts: known.entries.len() as u32, known, errors: Vec::new() },
        Err(errors) => TrustedFingerprints { source, known: KnownFingerprints::default(), hosts: 0, errors },
    }
}

fn read_text(path: &std::path::Path) -> Reply<String> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| ErrorPayload::new("io", format!("cannot read {shown}: {e}")))?;
    if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
        return Err(ErrorPayload::new("invalid_input", format!("{shown}: not a text file of at most {} MiB", MAX_FILE_BYTES / 1024 / 1024)));
    }
    let bytes = std::fs::read(path).map_err(|e| ErrorPayload::new("io", format!("cannot read {shown}: {e}")))?;
    String::from_utf8(bytes).map_err(|_| ErrorPayload::new("invalid_input", format!("{shown} is not UTF-8 text")))
}

/// Reads a pasted batch: a CSV/TSV table `name,host[,port[,user]]` or a list of
/// `[user@]host[:port]`. Every bad row comes back with its line; no host then.
#[tauri::command(rename_all = "snake_case")]
pub fn onboard_parse_hosts(text: String) -> Reply<OnboardBatch> {
    batch("pasted list".into(), onboard::parse_host_table(&text))
}

/// The hosts of the person's own `~/.ssh/config` (`Host` entries; wildcards skipped). The
/// path is fixed here: the webview names none.
#[tauri::command(rename_all = "snake_case")]
pub async fn onboard_read_ssh_config() -> Reply<OnboardBatch> {
    let home = dirs_home();
    tauri::async_runtime::spawn_blocking(move || ssh_config_batch(&home))
        .await
        .map_err(|e| ErrorPayload::new("internal", format!("reading the ssh config stopped unexpectedly: {e}")))?
}

/// The batch of `<home>/.ssh/config` (what [`onboard_read_ssh_config`] reads for `$HOME`).
pub fn ssh_config_batch(home: &std::path::Path) -> Reply<OnboardBatch> {
    let text = read_text(&home.join(".ssh").join("config"))?;
    batch("~/.ssh/config".into(), Ok(onboard::hosts_from_ssh_config(&text)))
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."))
}

/// Reads trusted fingerprints pasted by the person (a provider's list or ssh-keyscan output).
#[tauri::command(rename_all = "snake_case")]
pub fn onboard_parse_fingerprints(text: String) -> Reply<TrustedFingerprints> {
    Ok(trusted("pasted fingerprints".into(), &text))
}

/// What an opened file held: a batch of hosts or trusted fingerprints.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OnboardFile {
    Hosts(OnboardBatch),
    Fingerprints(TrustedFingerprints),
}

/// Asks for a file in a native open dialog run here (the webview never names a path) and reads
/// it as `kind`. `null` when the person cancels.
#[tauri::command(rename_all = "snake_case")]
pub async fn onboard_open_file(dialog: State<'_, OpenDialog>, kind: OnboardFileKind) -> Reply<Option<OnboardFile>> {
    let chooser = dialog.0.clone();
    let title = match kind {
        OnboardFileKind::Hosts => "Hosts to onboard (CSV, TSV or a list)",
        OnboardFileKind::Fingerprints => "Trusted host-key fingerprints",
    };
    let read = tauri::async_runtime::spawn_blocking(move || -> Reply<Option<(String, String)>> {
        let Some(path) = chooser.choose(title) else { return Ok(None) };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        Ok(Some((clawkeep_core::hosttext::line(&name, 120), read_text(&path)?)))
    })
    .await
    .map_err(|e| ErrorPayload::new("internal", format!("the open dialog stopped unexpectedly: {e}")))??;
    let Some((name, text)) = read else { return Ok(None) };
    Ok(Some(match kind {
        OnboardFileKind::Hosts => OnboardFile::Hosts(batch(name, onboard::parse_host_table(&text))?),
        OnboardFileKind::Fingerprints => OnboardFile::Fingerprints(trusted(name, &text)),
    }))
}

fn stage_label(stage: OnboardStage) -> String {
    serde_json::to_value(stage).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// Progress for a batch: `started` with the host count, then one `step` per stage a host
/// enters; the step number counts the hosts finished.
fn batch_progress(channel: &Channel<Progress>, operation: &str, hosts: usize) -> OnboardProgressFn {
    let _ = channel.send(Progress::Started { operation: operation.into(), steps: hosts as u32 });
    let channel = channel.clone();
    let done = Arc::new(AtomicU32::new(0));
    Arc::new(move |name: &str, stage: OnboardStage| {
        let step = if matches!(stage, OnboardStage::Done | OnboardStage::Failed) { done.fetch_add(1, Ordering::SeqCst) + 1 } else { done.load(Ordering::SeqCst) };
        let _ = channel.send(Progress::Step { step, label: format!("{name}: {}", stage_label(stage)) });
    })
}

fn finish<T>(channel: &Channel<Progress>, result: &Reply<T>) {
    let _ = channel.send(match result {
        Err(e) if e.code == "cancelled" => Progress::Cancelled,
        _ => Progress::Finished,
    });
}

/// Fetches every host's key in parallel (nothing is sent to a host) and compares each with the
/// pinned key of an instance of that name and the trusted fingerprints. Cancellable.
#[tauri::command(rename_all = "snake_case")]
pub async fn onboard_fetch_host_keys(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    hosts: Vec<OnboardHost>,
    known: Option<KnownFingerprints>,
) -> Reply<Vec<FetchedHostKey>> {
    let op = ops.start(&op_id)?;
    let (progress, token) = (batch_progress(&on_progress, "onboard-host-keys", hosts.len()), op.token());
    let known = known.unwrap_or_default();
    let result = blocking(&state, move |c| c.onboard_fetch_host_keys(&hosts, &known, 16, Some(Duration::from_secs(10)), progress, &token)).await;
    finish(&on_progress, &result);
    drop(op);
    result
}

fn request(hosts: Vec<ConfirmedHost>, defaults: Option<OnboardDefaults>, apply: bool, adopt: Vec<String>) -> OnboardRequest {
    OnboardRequest { hosts, defaults: defaults.unwrap_or_default(), apply, adopt, concurrency: Some(16), connect_timeout_secs: Some(10), require_preview: true }
}

fn run(c: &Clawkeep, req: &OnboardRequest, progress: OnboardProgressFn, token: &clawkeep_core::deploy::CancellationToken) -> clawkeep_core::Result<OnboardReport> {
    c.run_onboard(req, &SshCredentials::Configured, progress, token)
}

/// The preview: connects to each host pinned to the fingerprint confirmed, discovers and
/// judges. Nothing is written and no key is read; each host's `digest` goes back with the
/// apply.
#[tauri::command(rename_all = "snake_case")]
pub async fn onboard_preview(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    hosts: Vec<ConfirmedHost>,
    defaults: Option<OnboardDefaults>,
) -> Reply<OnboardReport> {
    let op = ops.start(&op_id)?;
    let (progress, token) = (batch_progress(&on_progress, "onboard-preview", hosts.len()), op.token());
    let req = request(hosts, defaults, false, Vec::new());
    let result = blocking(&state, move |c| run(c, &req, progress, &token)).await;
    finish(&on_progress, &result);
    drop(op);
    result
}

/// Applies the reviewed preview: every host carries its preview `digest` (else
/// `plan_not_reviewed`); a host whose discovery changed refuses the run
/// (`onboard_preview_changed`), nothing written. Writes the records, pins the host keys, and
/// adopts the gateway's key of the hosts in `adopt` (read over SSH straight into the keychain;
/// only its hint and fingerprint come back). Cancelling writes nothing.
#[tauri::command(rename_all = "snake_case")]
pub async fn onboard_apply(
    state: State<'_, CoreState>,
    ops: State<'_, Arc<Operations>>,
    op_id: String,
    on_progress: Channel<Progress>,
    hosts: Vec<ConfirmedHost>,
    defaults: Option<OnboardDefaults>,
    adopt: Vec<String>,
) -> Reply<OnboardReport> {
    let op = ops.start(&op_id)?;
    let (progress, token) = (batch_progress(&on_progress, "onboard-apply", hosts.len()), op.token());
    let req = request(hosts, defaults, true, adopt);
    let result = blocking(&state, move |c| run(c, &req, progress, &token)).await;
    finish(&on_progress, &result);
    drop(op);
    result
}
