//! Onboarding an existing fleet, once, for both front ends: two calls, like a deploy's preview
//! and apply.
//!
//! 1. [`Clawkeep::onboard_fetch_host_keys`] reads every host's key in parallel (bounded
//!    concurrency; nothing is authenticated, nothing is sent) and compares it with what the
//!    person trusts already: the pinned key of an instance of that name, or a fingerprint got
//!    out of band ([`KnownFingerprints`]). A mismatch is shown with both fingerprints.
//! 2. The person confirms the fingerprints together; [`Clawkeep::run_onboard`] then connects to
//!    each host **pinned to the fingerprint confirmed** (a host that now presents another key
//!    is refused during the handshake, before authenticating: nothing is sent to it, nothing is
//!    written about it), runs discovery (one round trip: the checklist's host facts plus how the
//!    gateway runs), judges ([`crate::onboard::judge`]) and — with `apply` — writes the record
//!    (a new instance, or the differences only), pins the key, and, for hosts the person
//!    consented to, reads the effective key over the same SSH channel (the read script prints
//!    it on the channel's stdout; never argv, a file or a log) straight into a [`Secret`] and
//!    stores it through the key-add path ([`Clawkeep::add_key`]'s lint, naming, uniqueness,
//!    keychain then row), bound to the instance, with a `key.adopt` audit event in the same
//!    transaction. Without `apply` it is the preview: nothing is written and no key is read.
//! 3. Apply only what was previewed: each judged host of a report carries its
//!    [`judge::preview_digest`]; an apply whose hosts carry the digest of the preview the
//!    person reviewed is refused whole (`onboard_preview_changed`), before anything is
//!    written, when a host's fresh judgement has another one. With `require_preview` (the
//!    desktop) every host must carry one (`plan_not_reviewed`).
//!
//! Re-running is safe: a key already in the inventory (same fingerprint) is not adopted again,
//! and a stored instance gets only the fields that changed. The keychain is only touched after
//! the SSH work, on the caller's thread.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::keys::Adoption;
use super::os_user;
use crate::anthropic::{AdminApiKey, AnthropicClient};
use crate::error::{Error, ErrorPayload, Result};
use crate::login::SshCredentials;
use crate::model::domain::{Instance, InstancePatch, InstanceSpec, Key, KeySpec};
use crate::model::keyfmt;
use crate::model::naming;
use crate::onboard::discover::{self, ReadError};
use crate::onboard::intake::{is_fingerprint, KnownFingerprints, OnboardHost};
use crate::onboard::judge::{self, HostInput, HostJudgement, KeyDecision, OnboardDefaults};
use crate::runtime::block_on;
use crate::secret::Secret;
use crate::ssh::{HostSession, SshAuth, SshOptions, SshTarget};
use crate::Clawkeep;

/// Where one host is in the flow (for a progress display).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OnboardStage {
    FetchingHostKey,
    Connecting,
    Discovering,
    ReadingKey,
    Done,
    Failed,
}

/// Progress of one host: its name and stage.
pub type OnboardProgressFn = Arc<dyn Fn(&str, OnboardStage) + Send + Sync>;

/// What a host's key is compared with what the person trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum HostKeyStatus {
    /// Equals a fingerprint got out of band.
    Verified,
    /// Nothing to compare with: the person confirms it.
    Unverified,
    /// The instance of this name already pins this key.
    AlreadyPinned,
    /// Differs from the pinned or the given fingerprint (`expected`): refused.
    Mismatch,
    /// The host could not be reached (`error`).
    Unreachable,
}

/// The host key one host presented.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FetchedHostKey {
    pub host: OnboardHost,
    pub address: String,
    /// `SHA256:…` the host presented.
    pub presented: Option<String>,
    pub status: HostKeyStatus,
    /// With `mismatch`: what was expected (the pinned key, or the fingerprints given).
    pub expected: Option<String>,
    pub error: Option<ErrorPayload>,
    /// An instance of this name is already in the inventory.
    pub existing: bool,
}

impl FetchedHostKey {
    /// The person may confirm it (not a mismatch, reachable).
    pub fn confirmable(&self) -> bool {
        matches!(self.status, HostKeyStatus::Verified | HostKeyStatus::Unverified | HostKeyStatus::AlreadyPinned)
    }
}

/// A host with the host-key fingerprint the person confirmed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ConfirmedHost {
    pub host: OnboardHost,
    pub fingerprint: String,
    /// When applying: the `digest` of this host in the preview the person reviewed
    /// ([`judge::preview_digest`]). A host whose fresh discovery has another digest refuses
    /// the whole run (`onboard_preview_changed`), before anything is written.
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub preview_digest: Option<String>,
}

/// What [`Clawkeep::run_onboard`] does.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(default)]
pub struct OnboardRequest {
    pub hosts: Vec<ConfirmedHost>,
    pub defaults: OnboardDefaults,
    /// `false`: the preview (discover and judge; nothing written, no key read).
    pub apply: bool,
    /// Hosts (names) whose key the person consented to adopt.
    pub adopt: Vec<String>,
    /// Hosts in flight at once (default 16, 1–256).
    pub concurrency: Option<usize>,
    /// Seconds for TCP connect + handshake + login (default 10).
    pub connect_timeout_secs: Option<u64>,
    /// With `apply`: every host must carry its `preview_digest` (else `plan_not_reviewed`,
    /// nothing done). The desktop always sets it: the webview applies only what it previewed.
    pub require_preview: bool,
}

/// How one host ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum OnboardStatus {
    /// Discovered and judged (preview).
    Previewed,
    /// Recorded (and its key adopted, when consented).
    Onboarded,
    /// Clawkeep refused it (host key changed, name taken by another address): nothing written.
    Refused,
    /// Nothing answered SSH: nothing written.
    Unreachable,
    /// Reached but not read (login refused, unreadable report): nothing written.
    Failed,
}

/// What happened to the instance record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RecordOutcome {
    NotWritten,
    Created,
    Updated,
    Unchanged,
}

/// A key adopted from a host (public facts only).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct AdoptedKey {
    pub name: String,
    pub fingerprint: String,
    pub hint: String,
    pub length: u32,
    /// Where it was read on the host.
    pub source: String,
    /// Its Console id, matched in the Admin API's list by `partial_key_hint` (with an Admin
    /// key stored), and the workspace the list gives it.
    pub anthropic_key_id: Option<String>,
    pub workspace_id: Option<String>,
}

/// One host's onboarding.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OnboardHostReport {
    pub name: String,
    pub address: String,
    pub status: OnboardStatus,
    pub error: Option<ErrorPayload>,
    pub judgement: Option<HostJudgement>,
    /// With a judgement: its [`judge::preview_digest`], to pass back as the host's
    /// `preview_digest` when applying.
    pub digest: Option<String>,
    pub record: RecordOutcome,
    pub adopted: Option<AdoptedKey>,
    /// Why the consented adoption did not happen.
    pub adopt_error: Option<ErrorPayload>,
}

/// A key found on several hosts of the batch (a boundary violation).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SharedKeyReport {
    pub hint: String,
    pub fingerprint: String,
    pub hosts: Vec<String>,
    /// What to do: a key per instance.
    pub plan: String,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OnboardSummary {
    pub hosts: usize,
    pub onboarded: usize,
    pub created: usize,
    pub updated: usize,
    pub adopted: usize,
    pub already_known: usize,
    pub shared: usize,
    pub malformed: usize,
    pub unreachable: usize,
    pub refused: usize,
    pub failed: usize,
}

/// What [`Clawkeep::run_onboard`] did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OnboardReport {
    pub applied: bool,
    pub hosts: Vec<OnboardHostReport>,
    pub shared_keys: Vec<SharedKeyReport>,
    pub summary: OnboardSummary,
    /// What the whole run should know (the Admin API could not be asked, …).
    pub notes: Vec<String>,
}

/// One host's SSH work: the judgement, and the key read (only with consent and `apply`).
struct HostRun {
    judgement: std::result::Result<HostJudgement, (OnboardStatus, ErrorPayload)>,
    secret: Option<(Secret, String)>,
    read_error: Option<ErrorPayload>,
}

fn ssh_status(e: &Error) -> OnboardStatus {
    match e {
        Error::HostKeyMismatch { .. } | Error::HostKeyUnknown { .. } | Error::Conflict(_) => OnboardStatus::Refused,
        Error::SshConnect { .. } | Error::SshTimeout { .. } => OnboardStatus::Unreachable,
        _ => OnboardStatus::Failed,
    }
}

fn payload(e: &Error, existing: bool) -> ErrorPayload {
    let mut p = e.to_payload();
    if !existing {
        // The remedy names an instance; a host not yet in the inventory has none to act on.
        p.remedy = None;
    }
    p
}

/// The instance record's patch for the fields that changed.
fn patch_of(j: &HostJudgement) -> InstancePatch {
    let r = &j.record;
    let mut p = InstancePatch::default();
    for d in &j.differences {
        match d.field.as_str() {
            "owner" => p.owner = Some(r.owner.clone()),
            "environment" => p.environment = Some(r.environment.clone()),
            "workload" => p.workload = Some(r.workload.clone()),
            "user" => p.ssh_user = Some(r.ssh_user.clone()),
            "state_dir" => p.state_dir = Some(r.state_dir.clone()),
            "service" => p.service_manager = Some(r.service_manager.clone()),
            "injection" => p.injection = Some(r.injection),
            "agents" => p.agents = Some(r.agents.clone()),
            _ => {} // host and port are how it was found: never changed here
        }
    }
    p
}

impl Clawkeep {
    /// Reads every host's key (see the module doc); blocking. Nothing is written.
    pub fn onboard_fetch_host_keys(
        &self,
        hosts: &[OnboardHost],
        known: &KnownFingerprints,
        concurrency: usize,
        connect_timeout: Option<Duration>,
        progress: OnboardProgressFn,
        cancel: &CancellationToken,
    ) -> Result<Vec<FetchedHostKey>> {
        if hosts.is_empty() {
            return Err(Error::invalid("hosts", "no hosts to onboard"));
        }
        let mut pinned = Vec::with_capacity(hosts.len());
        for h in hosts {
            pinned.push(self.store.instance_by_name(&h.name)?.map(|i| i.host_key_fingerprint));
        }
        let opts = SshOptions { connect_timeout: connect_timeout.unwrap_or(Duration::from_secs(10)).max(Duration::from_secs(1)), ..Default::default() };
        let work = futures_util::stream::iter(hosts.iter().zip(pinned))
            .map(|(h, pin)| {
                let (opts, progress) = (&opts, progress.clone());
                async move {
                    progress(&h.name, OnboardStage::FetchingHostKey);
                    let target = SshTarget { instance: h.name.clone(), host: h.host.clone(), port: h.port, user: h.user.clone().unwrap_or_default(), pinned: None, jump: None };
                    let r = tokio::select! {
                        _ = cancel.cancelled() => Err(Error::Cancelled),
                        r = crate::ssh::probe_host_key(&target, &SshAuth::Agent, opts) => r,
                    };
                    let existing = pin.is_some();
                    let mut out =
                        FetchedHostKey { host: h.clone(), address: h.address(), presented: None, status: HostKeyStatus::Unreachable, expected: None, error: None, existing };
                    match r {
                        Err(e) => out.error = Some(payload(&e, existing)),
                        Ok(fp) => {
                            let given = known.for_host(&h.host, h.port);
                            out.status = match (pin.flatten(), given) {
                                (Some(p), _) if p == fp => HostKeyStatus::AlreadyPinned,
                                (Some(p), _) => {
                                    out.expected = Some(p);
                                    HostKeyStatus::Mismatch
                                }
                                (None, Some(g)) if g.contains(&fp) => HostKeyStatus::Verified,
                                (None, Some(g)) => {
                                    out.expected = Some(g.join(" or "));
                                    HostKeyStatus::Mismatch
                                }
                                (None, None) => HostKeyStatus::Unverified,
                            };
                            out.presented = Some(fp);
                        }
                    }
                    progress(&h.name, if out.confirmable() { OnboardStage::Done } else { OnboardStage::Failed });
                    out
                }
            })
            .buffered(concurrency.clamp(1, 256))
            .collect::<Vec<_>>();
        let out = block_on(work)?;
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        Ok(out)
    }

    /// Discovers, judges and (with `req.apply`) records and adopts (see the module doc);
    /// blocking. Per-host failures are in the report; `Err` is for the request itself (no
    /// hosts, a bad fingerprint, the store) and for a cancelled run (nothing written then).
    pub fn run_onboard(&self, req: &OnboardRequest, creds: &SshCredentials, progress: OnboardProgressFn, cancel: &CancellationToken) -> Result<OnboardReport> {
        if req.hosts.is_empty() {
            return Err(Error::invalid("hosts", "no hosts to onboard"));
        }
        let mut names = std::collections::HashSet::new();
        for c in &req.hosts {
            naming::check_slug("instance name", &c.host.name)?;
            if !is_fingerprint(c.fingerprint.trim()) {
                return Err(Error::invalid(
                    "fingerprint",
                    format!("'{}' for {} is not an OpenSSH SHA-256 fingerprint (SHA256:…)", crate::hosttext::line(&c.fingerprint, 80), c.host.name),
                ));
            }
            if !names.insert(c.host.name.clone()) {
                return Err(Error::invalid("hosts", format!("'{}' is in the batch twice", c.host.name)));
            }
        }
        if req.apply && req.require_preview {
            let unreviewed: Vec<&str> = req.hosts.iter().filter(|c| c.preview_digest.as_deref().is_none_or(|d| d.trim().is_empty())).map(|c| c.host.name.as_str()).collect();
            if !unreviewed.is_empty() {
                return Err(Error::PlanNotReviewed(format!(
                    "{} not previewed: preview the batch and apply what it showed (the digest of each host's preview)",
                    unreviewed.join(", ")
                )));
            }
        }
        let inventory: Vec<Key> = self.store.list_keys(None)?;
        let default_user = os_user();
        // Per host: the stored instance, and the route (pinned to the confirmed key).
        let mut plans: Vec<(Option<Instance>, std::result::Result<SshTarget, Error>)> = Vec::new();
        for c in &req.hosts {
            let existing = self.store.instance_by_name(&c.host.name)?;
            let confirmed = c.fingerprint.trim().to_string();
            let target = match &existing {
                Some(i) if (i.ssh_host.as_str(), i.ssh_port) != (c.host.host.as_str(), c.host.port) => Err(Error::Conflict(format!(
                    "an instance named '{}' already exists at {}:{}, not {}; rename the host in the batch or edit that instance",
                    i.name,
                    i.ssh_host,
                    i.ssh_port,
                    c.host.address()
                ))),
                Some(i) => match &i.host_key_fingerprint {
                    Some(p) if *p != confirmed => {
                        Err(Error::HostKeyMismatch { instance: i.name.clone(), address: c.host.address(), pinned: p.clone(), presented: confirmed.clone() })
                    }
                    _ => self.ssh_target(&i.name).map(|mut t| {
                        t.pinned = Some(confirmed.clone());
                        t
                    }),
                },
                None => Ok(SshTarget {
                    instance: c.host.name.clone(),
                    host: c.host.host.clone(),
                    port: c.host.port,
                    user: c.host.user.clone().unwrap_or_else(|| default_user.clone()),
                    pinned: Some(confirmed.clone()),
                    jump: None,
                }),
            };
            plans.push((existing, target));
        }
        let auth = self.ssh_login(creds)?;
        // With an Admin key stored, adopted keys are matched to their Console ids (one list call).
        // A missing admin secret or a bad base URL only costs the match (said in the notes).
        let mut notes = Vec::new();
        let admin = if req.apply && !req.adopt.is_empty() {
            match self.admin_key()? {
                Some(k) => match (self.keychain.get(&k.keychain_ref), AnthropicClient::new(&self.settings()?.anthropic_base_url)) {
                    (Ok(secret), Ok(client)) => Some((secret, client)),
                    (Err(e), _) => {
                        notes.push(format!("adopted keys were not matched to their Console ids: the Admin key's keychain entry could not be read ({e})"));
                        None
                    }
                    (_, Err(e)) => {
                        notes.push(format!("adopted keys were not matched to their Console ids: {e}"));
                        None
                    }
                },
                None => None,
            }
        } else {
            None
        };
        let admin_list = async {
            let (key, client) = admin.as_ref()?;
            Some(match client.admin_api_keys(key).await {
                Ok((p, list)) if p.ok() => Ok(list),
                Ok((p, _)) => Err(format!("the Admin API answered {}", p.status)),
                Err(e) => Err(e.to_string()),
            })
        };
        let opts = SshOptions { connect_timeout: Duration::from_secs(req.connect_timeout_secs.unwrap_or(10).max(1)), ..Default::default() };
        let now = self.now();
        let work = futures_util::stream::iter(req.hosts.iter().zip(plans.iter()))
            .map(|(c, (existing, target))| {
                let (auth, opts, progress, inventory) = (&auth, &opts, progress.clone(), &inventory);
                async move {
                    let consent = req.apply && req.adopt.contains(&c.host.name);
                    let r = tokio::select! {
                        _ = cancel.cancelled() => HostRun { judgement: Err((OnboardStatus::Failed, Error::Cancelled.to_payload())), secret: None, read_error: None },
                        r = self.onboard_host(c, existing.as_ref(), target, auth, opts, inventory, &req.defaults, consent, now, &progress) => r,
                    };
                    progress(&c.host.name, if r.judgement.is_ok() { OnboardStage::Done } else { OnboardStage::Failed });
                    r
                }
            })
            .buffered(req.concurrency.unwrap_or(16).clamp(1, 256))
            .collect::<Vec<_>>();
        let (admin_list, mut runs) = block_on(async { tokio::join!(admin_list, work) })?;
        let admin_list: Vec<AdminApiKey> = match admin_list {
            Some(Ok(l)) => l,
            Some(Err(e)) => {
                notes.push(format!("adopted keys were not matched to their Console ids: {}", crate::hosttext::line(&e, 300)));
                Vec::new()
            }
            None => Vec::new(),
        };
        if cancel.is_cancelled() {
            return Err(Error::Cancelled); // nothing written; keys read so far are dropped (wiped)
        }

        // Across the batch: a key on several hosts is adopted once.
        let mut judged: Vec<HostJudgement> = runs.iter().filter_map(|r| r.judgement.as_ref().ok().cloned()).collect();
        judge::settle(&mut judged);
        let shared_keys = judge::shared_keys(&judged)
            .into_iter()
            .map(|(hint, fingerprint, hosts)| SharedKeyReport {
                plan: format!("one key must serve one instance: keep {hint} on {} and rotate the others ({}) to keys of their own", hosts[0], hosts[1..].join(", ")),
                hint,
                fingerprint,
                hosts,
            })
            .collect();
        let mut settled = judged.into_iter();
        for r in runs.iter_mut() {
            if r.judgement.is_ok() {
                if let Some(j) = settled.next() {
                    r.judgement = Ok(j);
                }
            }
        }
        let digests: Vec<Option<String>> = req.hosts.iter().zip(runs.iter()).map(|(c, r)| r.judgement.as_ref().ok().map(|j| judge::preview_digest(j, &c.fingerprint))).collect();
        if req.apply {
            // Apply only what was previewed: a host whose discovery changed since refuses the
            // run before anything is written (keys read so far are dropped, wiped).
            let changed: Vec<&str> = req
                .hosts
                .iter()
                .zip(digests.iter())
                .filter(|(c, d)| matches!((c.preview_digest.as_deref(), d.as_deref()), (Some(p), Some(d)) if p.trim() != d))
                .map(|(c, _)| c.host.name.as_str())
                .collect();
            if !changed.is_empty() {
                return Err(Error::PreviewChanged(format!("{} changed since the preview: nothing was written; preview again and review what changed", changed.join(", "))));
            }
        }

        let mut reports = Vec::with_capacity(runs.len());
        for (((c, (existing, _)), run), digest) in req.hosts.iter().zip(plans.iter()).zip(runs).zip(digests) {
            let mut rep = OnboardHostReport {
                name: c.host.name.clone(),
                address: c.host.address(),
                status: OnboardStatus::Previewed,
                error: None,
                judgement: None,
                digest,
                record: RecordOutcome::NotWritten,
                adopted: None,
                adopt_error: run.read_error,
            };
            let j = match run.judgement {
                Ok(j) => j,
                Err((status, e)) => {
                    rep.status = status;
                    rep.error = Some(e);
                    reports.push(rep);
                    continue;
                }
            };
            if req.apply {
                match self.write_record(c, existing.as_ref(), &j) {
                    Ok(outcome) => {
                        rep.record = outcome;
                        rep.status = OnboardStatus::Onboarded;
                    }
                    Err(e) => {
                        rep.status = OnboardStatus::Failed;
                        rep.error = Some(e.to_payload());
                    }
                }
                if let (Some((secret, source)), Some(_), OnboardStatus::Onboarded) = (run.secret, j.to_adopt(), rep.status) {
                    match self.adopt_key(c, &j, secret, &source, &admin_list) {
                        Ok(a) => rep.adopted = Some(a),
                        Err(e) => rep.adopt_error = Some(e.to_payload()),
                    }
                }
            }
            rep.judgement = Some(j);
            reports.push(rep);
        }
        let summary = summarize(&reports);
        Ok(OnboardReport { applied: req.apply, hosts: reports, shared_keys, summary, notes })
    }

    /// One host's SSH work: connect (pinned), discover, judge, and read the key to adopt.
    #[allow(clippy::too_many_arguments)]
    async fn onboard_host(
        &self,
        c: &ConfirmedHost,
        existing: Option<&Instance>,
        target: &std::result::Result<SshTarget, Error>,
        auth: &SshAuth,
        opts: &SshOptions,
        inventory: &[Key],
        defaults: &OnboardDefaults,
        consent: bool,
        now: chrono::DateTime<chrono::Utc>,
        progress: &OnboardProgressFn,
    ) -> HostRun {
        let known = existing.is_some();
        let fail = |e: &Error| HostRun { judgement: Err((ssh_status(e), payload(e, known))), secret: None, read_error: None };
        let target = match target {
            Ok(t) => t,
            Err(e) => return fail(e),
        };
        progress(&c.host.name, OnboardStage::Connecting);
        let session = match HostSession::connect(target, auth, opts).await {
            Ok(s) => s,
            Err(e) => return fail(&e),
        };
        progress(&c.host.name, OnboardStage::Discovering);
        let state_dir = judge::state_dir_for(defaults, existing);
        let agents = existing.map(|e| e.agents.clone()).unwrap_or_else(|| vec!["main".into()]);
        let nonce = crate::checklist::hostfacts::nonce();
        let script = discover::discovery_script(&nonce, &state_dir, &agents, now);
        let out = match session.exec("discovery", "sh -s", Some(script.as_bytes()), crate::checklist::engine::HOST_TIMEOUT).await {
            Ok(o) => o,
            Err(e) => {
                session.close().await;
                return fail(&e);
            }
        };
        let discovery = match discover::parse_discovery(out.stdout().as_bytes(), &nonce) {
            Ok(d) => d,
            Err(e) => {
                session.close().await;
                return HostRun {
                    judgement: Err((OnboardStatus::Failed, ErrorPayload { code: e.code().into(), message: e.to_string(), remedy: None, detail: None })),
                    secret: None,
                    read_error: None,
                };
            }
        };
        drop(out);
        let ssh_user = target.user.clone();
        let j = judge::judge(HostInput { host: &c.host, ssh_user: &ssh_user, existing, inventory, defaults, discovery: &discovery, now });
        let mut run = HostRun { judgement: Ok(j), secret: None, read_error: None };
        let to_read = match &run.judgement {
            Ok(j) if consent && j.missing.is_empty() => j.to_adopt().and_then(|k| k.read_from.clone().map(|s| (s, k.fingerprint.clone()))),
            _ => None,
        };
        if let Some((source, fp)) = to_read {
            progress(&c.host.name, OnboardStage::ReadingKey);
            let nonce = crate::checklist::hostfacts::nonce();
            if let Some(script) = discover::read_script(&nonce, &state_dir, &source, &fp) {
                let read = session.exec("key read", "sh -s", Some(script.as_bytes()), Duration::from_secs(30)).await;
                match read {
                    Ok(out) => match discover::parse_read(out.stdout(), &nonce, &fp) {
                        Ok(secret) => run.secret = Some((secret, source.describe())),
                        Err(e) => {
                            let code = match e {
                                ReadError::NoReport => "adopt_unreadable",
                                ReadError::NotFound => "adopt_key_gone",
                                ReadError::Mismatch => "adopt_key_changed",
                            };
                            run.read_error =
                                Some(ErrorPayload { code: code.into(), message: format!("the key on {} was not adopted: {e}", c.host.name), remedy: None, detail: None });
                        }
                    },
                    Err(e) => run.read_error = Some(payload(&e, known)),
                }
            }
        }
        session.close().await;
        run
    }

    /// Writes one host's record: a new instance (pinned), or the differences of a stored one.
    fn write_record(&self, c: &ConfirmedHost, existing: Option<&Instance>, j: &HostJudgement) -> Result<RecordOutcome> {
        let r = &j.record;
        let fp = c.fingerprint.trim();
        let outcome = match existing {
            None => {
                let spec = InstanceSpec {
                    name: r.name.clone(),
                    owner: r.owner.clone(),
                    environment: r.environment.clone(),
                    workload: r.workload.clone(),
                    ssh_host: r.ssh_host.clone(),
                    ssh_port: Some(r.ssh_port),
                    ssh_user: r.ssh_user.clone(),
                    state_dir: Some(r.state_dir.clone()),
                    service_manager: Some(r.service_manager.clone()),
                    injection: Some(r.injection),
                    agents: r.agents.clone(),
                    notes: format!("onboarded from {}", c.host.address()),
                    draft: !j.missing.is_empty(),
                    ..Default::default()
                };
                self.add_instance(spec)?;
                RecordOutcome::Created
            }
            Some(i) => {
                let before = i.updated_at;
                let after = self.edit_instance(&i.name, patch_of(j))?;
                if after.updated_at != before {
                    RecordOutcome::Updated
                } else {
                    RecordOutcome::Unchanged
                }
            }
        };
        if existing.and_then(|i| i.host_key_fingerprint.as_deref()) != Some(fp) {
            self.pin_host_key(&r.name, fp)?;
        }
        self.store.tx(|tx| {
            self.audit(
                tx,
                "instance.onboard",
                &r.name,
                json!({
                    "address": c.host.address(), "user": r.ssh_user, "host_key": fp, "record": match outcome {
                        RecordOutcome::Created => "created", RecordOutcome::Updated => "updated", _ => "unchanged" },
                    "changed": j.differences.iter().map(|d| &d.field).collect::<Vec<_>>(),
                    "openclaw_version": j.discovered.openclaw_version,
                    "keys": j.keys.iter().map(|k| json!({ "fingerprint": k.fingerprint, "hint": k.hint, "decision": k.decision.as_str() })).collect::<Vec<_>>(),
                }),
            )
        })?;
        Ok(outcome)
    }

    /// Stores the key read from a host: the key-add path, bound to the instance, audited as an
    /// adoption. The name follows the scheme (a free `-2`, `-3`… when taken). Its Console id is
    /// the one entry of the Admin API's list whose `partial_key_hint` is this key's hint.
    fn adopt_key(&self, c: &ConfirmedHost, j: &HostJudgement, secret: Secret, source: &str, admin_list: &[AdminApiKey]) -> Result<AdoptedKey> {
        let r = &j.record;
        let base = naming::suggest_key_name(&r.owner, &r.environment, &r.workload);
        let mut name = base.clone();
        let mut n = 2;
        while self.store.key_by_name(&name)?.is_some() && n < 100 {
            name = format!("{base}-{n}");
            n += 1;
        }
        let hint = keyfmt::hint(secret.expose().trim());
        let matched: Vec<&AdminApiKey> = admin_list.iter().filter(|a| a.partial_key_hint.as_deref() == Some(hint.as_str())).collect();
        let (key_id, workspace_id) = match matched.as_slice() {
            [one] => (Some(one.id.clone()), one.workspace_id.clone()),
            _ => (None, None),
        };
        let spec = KeySpec { name, instance: Some(r.name.clone()), allow_name: true, anthropic_key_id: key_id.clone(), workspace_id: workspace_id.clone(), ..Default::default() };
        let details = json!({ "from": c.host.address(), "user": r.ssh_user, "source": source, "host_key": c.fingerprint.trim(), "anthropic_key_id": key_id });
        let added = self.add_key_with(spec, secret, Some(Adoption { details, id_from_admin_list: key_id.is_some() }))?;
        Ok(AdoptedKey {
            name: added.key.name,
            fingerprint: added.key.fingerprint,
            hint: added.key.hint,
            length: added.key.length,
            source: source.to_string(),
            anthropic_key_id: added.key.anthropic_key_id,
            workspace_id: added.key.workspace_id,
        })
    }
}

fn summarize(reports: &[OnboardHostReport]) -> OnboardSummary {
    let mut s = OnboardSummary { hosts: reports.len(), ..Default::default() };
    for r in reports {
        match r.status {
            OnboardStatus::Onboarded => s.onboarded += 1,
            OnboardStatus::Refused => s.refused += 1,
            OnboardStatus::Unreachable => s.unreachable += 1,
            OnboardStatus::Failed => s.failed += 1,
            OnboardStatus::Previewed => {}
        }
        match r.record {
            RecordOutcome::Created => s.created += 1,
            RecordOutcome::Updated => s.updated += 1,
            _ => {}
        }
        if r.adopted.is_some() {
            s.adopted += 1;
        }
        if let Some(j) = &r.judgement {
            for k in &j.keys {
                match k.decision {
                    KeyDecision::AlreadyKnown { .. } if k.effective => s.already_known += 1,
                    KeyDecision::Shared { .. } => s.shared += 1,
                    KeyDecision::Malformed { .. } => s.malformed += 1,
                    _ => {}
                }
            }
        }
    }
    s
}
