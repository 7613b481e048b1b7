//! The deploy flows, once, for both front ends (the CLI and the desktop): the SSH login
//! ([`SshCredentials`]), progress and cancel are parameters, so a front end only parses,
//! prompts and renders.
//!
//! [`Clawkeep::run_deploy`] loads the job and runs [`crate::deploy::deploy_one`]: connect with
//! the pinned host key, plan, and either stop there (preview) or apply — but only when the
//! fresh plan is the one the user saw ([`crate::deploy::plan_digest`]), so what is confirmed is
//! what runs. The desktop previews and applies in two calls; so does the interactive CLI (plan,
//! `[y/N]`, apply with the digest); `deploy --yes` applies in one. Finished runs are recorded with
//! [`Clawkeep::record_deployment`].
//!
//! [`Clawkeep::fleet_deploy`] does the same for many instances at once (bounded concurrency,
//! one failing host never stops the others; each host applies only the plan the user saw); a
//! guided rotation's deploy step is [`Clawkeep::rotation_deployer`] (`api/rotations/`).
//! [`Clawkeep::prepare_deploy`] and [`Clawkeep::record_deployment`] are the blocking halves
//! around the SSH work in [`crate::deploy`] (loading the job, recording the run).

use serde::Serialize;
use serde_json::json;

use super::hosts::{direct_target, HostRoute};
use crate::deploy::{CancellationToken, DeployOptions, DeployReport, ProgressFn};
use crate::error::{Error, ErrorPayload, Remedy, Result};
use crate::login::SshCredentials;
use crate::model::domain::{Deployment, KeyStatus};
use crate::model::keyfmt::{self, KeyKind};
use crate::runtime::block_on;
use crate::ssh::{SshAuth, SshTarget};
use crate::store;
use crate::Clawkeep;

/// What to do in [`Clawkeep::run_deploy`].
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// `false`: plan only (nothing written, not recorded).
    pub apply: bool,
    /// With `apply`: the [`plan_digest`](crate::deploy::plan_digest) of the previewed plan; a
    /// different fresh plan is refused.
    pub expected_plan: Option<String>,
    /// The user consented to removing the stale credentials the plan lists.
    pub remove_stale: bool,
    /// How to reach the host (a one-off jump host, the connect timeout).
    pub route: HostRoute,
    /// How long the gateway may take to be ready after its restart (default 90 s).
    pub ready_timeout: Option<std::time::Duration>,
}

impl DeployRequest {
    fn options(&self) -> DeployOptions {
        let mut opts = DeployOptions { ssh: self.route.ssh_options(), remove_stale: self.remove_stale, ..Default::default() };
        if let Some(t) = self.ready_timeout {
            opts.ready_timeout = t;
        }
        opts
    }
}

/// One instance of a fleet deploy, and (when applying) the digest of the plan the user saw.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetTarget {
    pub instance: String,
    /// [`plan_digest`] of the reviewed plan. Required to apply from the desktop
    /// ([`FleetMode::ApplyReviewed`]); only the CLI's `--yes` applies without it.
    pub plan_digest: Option<String>,
}

/// An instance of a fleet deploy that never reached its host (draft, no key, keychain…).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetNotStarted {
    pub instance: String,
    pub error: ErrorPayload,
}

/// What a fleet deploy did: one report per host contacted, in the order asked, and the
/// instances that could not start.
#[derive(Debug)]
pub struct FleetDeployReport {
    pub reports: Vec<DeployReport>,
    pub not_started: Vec<FleetNotStarted>,
}

impl FleetDeployReport {
    /// Hosts that did not end as asked (a plan, or a verified deploy).
    pub fn failures(&self) -> usize {
        self.not_started.len() + self.reports.iter().filter(|r| !r.outcome.is_success()).count()
    }
}

/// What a fleet deploy does. Applying needs the reviewed plans, unless the caller is the CLI's
/// explicit `--yes` (a type, not a flag, so the desktop — which only ever builds
/// [`FleetMode::Plan`] or [`FleetMode::ApplyReviewed`] — cannot leave the review out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FleetMode {
    /// Plans only (nothing written, not recorded).
    Plan,
    /// Apply, each target only with the [`plan_digest`](crate::deploy::plan_digest) of the plan
    /// the user reviewed: a target without one refuses the whole call (`plan_not_reviewed`)
    /// before any host is contacted.
    ApplyReviewed,
    /// Apply whatever each fresh plan is: the CLI's `deploy --all --yes`, where the operator
    /// consented on the command line (after `--dry-run`, or not).
    ApplyUnreviewed,
}

impl FleetMode {
    pub fn applies(self) -> bool {
        self != FleetMode::Plan
    }
}

/// How to run [`Clawkeep::fleet_deploy`].
#[derive(Clone)]
pub struct FleetDeployRequest {
    pub mode: FleetMode,
    pub options: DeployOptions,
    /// Hosts in flight at once (1–256).
    pub concurrency: usize,
    /// Reach every instance through this trusted jump host (instead of their stored ones).
    pub jump: Option<SshTarget>,
}

/// [`FleetMode::ApplyReviewed`] needs every target's reviewed-plan digest.
fn check_reviewed(targets: &[FleetTarget], mode: FleetMode) -> Result<()> {
    if mode != FleetMode::ApplyReviewed {
        return Ok(());
    }
    let missing: Vec<&str> = targets.iter().filter(|t| t.plan_digest.as_deref().is_none_or(|d| d.trim().is_empty())).map(|t| t.instance.as_str()).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::PlanNotReviewed(format!("nothing was deployed: no reviewed plan for {} — preview the plans first and apply the ones shown", missing.join(", "))))
    }
}

impl Clawkeep {
    /// Plans (and with `req.apply`, applies) a deploy of `key` (default: the active key) to
    /// `instance`; blocking. Errors before a report exists (unknown instance, no key, keychain)
    /// are `Err`; everything after (refused host key, failures, rollbacks) is in the report.
    /// A host that cannot be reached (connect, timeout, login) ends `Failed`: nothing was
    /// decided about it; `Refused` is kept for Clawkeep's own refusals (host key not trusted or
    /// changed, plan blockers, a plan that changed since it was reviewed).
    pub fn run_deploy(
        &self,
        instance: &str,
        key: Option<&str>,
        req: &DeployRequest,
        creds: &SshCredentials,
        progress: ProgressFn,
        cancel: &CancellationToken,
    ) -> Result<DeployReport> {
        let mut job = self.prepare_deploy(instance, key)?;
        if let Some(j) = &req.route.jump {
            job.jump = Some(self.ssh_target_direct(j)?);
        }
        job.expected_plan = if req.apply { req.expected_plan.clone() } else { None };
        let auth = self.ssh_login(creds)?;
        let report = block_on(crate::deploy::deploy_one(&job, &auth, &req.options(), !req.apply, &progress, cancel))?;
        self.record_deployment(&job, &report)?;
        Ok(report)
    }

    /// Plans or applies a deploy of each target's active key, `req.concurrency` hosts at a time
    /// (async: the caller owns the runtime, e.g. to catch Ctrl-C and cancel). Finished applies
    /// are recorded. An instance that cannot start (draft, no key…) is listed, not fatal.
    pub async fn fleet_deploy(&self, targets: &[FleetTarget], req: &FleetDeployRequest, auth: SshAuth, progress: ProgressFn, cancel: CancellationToken) -> FleetDeployReport {
        let mut jobs = Vec::new();
        let mut not_started = Vec::new();
        if let Err(e) = check_reviewed(targets, req.mode) {
            let not_started = targets.iter().map(|t| FleetNotStarted { instance: t.instance.clone(), error: e.to_payload() }).collect();
            return FleetDeployReport { reports: Vec::new(), not_started };
        }
        let apply = req.mode.applies();
        for t in targets {
            match self.prepare_deploy(&t.instance, None) {
                Ok(mut job) => {
                    if let Some(j) = &req.jump {
                        job.jump = Some(j.clone());
                    }
                    job.expected_plan = if apply { t.plan_digest.clone() } else { None };
                    jobs.push(job);
                }
                Err(e) => not_started.push(FleetNotStarted { instance: t.instance.clone(), error: e.to_payload() }),
            }
        }
        let results = crate::deploy::deploy_fleet(jobs, std::sync::Arc::new(auth), req.options.clone(), !apply, req.concurrency, progress, cancel).await;
        let mut reports = Vec::with_capacity(results.len());
        for (job, mut report) in results {
            if let Err(e) = self.record_deployment(&job, &report) {
                report.steps.push(format!("warning: not recorded in the deployment history: error[{}]: {e}", e.code()));
            }
            reports.push(report);
        }
        FleetDeployReport { reports, not_started }
    }

    /// [`Clawkeep::fleet_deploy`] for a blocking caller (the CLI, the desktop's worker threads),
    /// with the SSH login from `creds`.
    pub fn run_fleet_deploy(
        &self,
        targets: &[FleetTarget],
        req: &FleetDeployRequest,
        creds: &SshCredentials,
        progress: ProgressFn,
        cancel: &CancellationToken,
    ) -> Result<FleetDeployReport> {
        if targets.is_empty() {
            return Err(Error::invalid("instances", "choose at least one instance"));
        }
        check_reviewed(targets, req.mode)?;
        let auth = self.ssh_login(creds)?;
        block_on(self.fleet_deploy(targets, req, auth, progress, cancel.clone()))
    }

    /// Loads what a deploy of `key` (default: the active key) to `instance` needs, secret
    /// included (from the keychain). Refuses drafts, admin keys, keys of other instances, and
    /// retired/revoked keys.
    pub fn prepare_deploy(&self, instance: &str, key: Option<&str>) -> Result<crate::deploy::DeployJob> {
        let inst = self.instance(instance)?;
        if inst.draft {
            return Err(Error::draft(&inst.name));
        }
        direct_target(&inst)?; // it has an address
        let keys = self.store.list_keys(Some(&inst.name))?;
        let active = keys.iter().find(|k| k.status == KeyStatus::Active).cloned();
        let chosen = match key {
            Some(k) => {
                let k = self.key(k)?;
                if k.instance.as_deref() != Some(inst.name.as_str()) {
                    return Err(Error::Blocked {
                        code: "key_not_bound",
                        message: format!(
                            "key '{}' does not serve instance '{}'{}; bind it to the instance first",
                            k.name,
                            inst.name,
                            k.instance.as_ref().map(|i| format!(" (it serves '{i}')")).unwrap_or_default()
                        ),
                        remedy: Remedy::BindKey { key: k.name.clone(), instance: inst.name.clone() },
                    });
                }
                k
            }
            None => active.clone().ok_or_else(|| Error::no_active_key(&inst.name))?,
        };
        if matches!(chosen.status, KeyStatus::Retired | KeyStatus::Revoked) {
            return Err(Error::InvalidState(format!("key '{}' is {}; deploying it would put a dead key on the host", chosen.name, chosen.status.as_str())));
        }
        if chosen.kind == KeyKind::Admin {
            return Err(Error::InvalidState(format!("'{}' is an Admin API key; admin keys are never deployed", chosen.name)));
        }
        let secret = self.keychain.get(&chosen.keychain_ref)?;
        if keyfmt::fingerprint(secret.expose()) != chosen.fingerprint {
            return Err(Error::InvalidState(format!("the keychain entry of key '{}' does not match its recorded fingerprint; re-add the key", chosen.name)));
        }
        // The stored jump host (a one-off `--jump` replaces it).
        let jump = inst.jump_via.as_deref().map(|j| self.jump_target(j)).transpose()?;
        let previous_active = active.filter(|a| a.id != chosen.id);
        let previous_secret = match &previous_active {
            Some(p) => self.keychain.get(&p.keychain_ref).ok(),
            None => None,
        };
        Ok(crate::deploy::DeployJob { instance: inst, key: chosen, secret, previous_active, previous_secret, jump, expected_plan: None })
    }

    /// Records a finished run (deployments table + audit, one transaction). When a staged key
    /// was deployed and verified it becomes active and the previous active key is retired
    /// (`rotated_at`/`retired_at` set) in the same transaction. Dry runs are not recorded.
    pub fn record_deployment(&self, job: &crate::deploy::DeployJob, report: &crate::deploy::DeployReport) -> Result<Option<Deployment>> {
        use crate::deploy::Outcome;
        if report.outcome == Outcome::Planned {
            return Ok(None);
        }
        let now = self.now();
        let details = json!({
            "address": report.address,
            "steps": report.steps,
            "stale_removed": report.stale_removed,
            "host_key": report.plan.as_ref().map(|p| p.host_key.clone()),
            "gateway_port": report.plan.as_ref().map(|p| p.gateway_port),
            "key_hint": report.key_hint,
        });
        let mut d = Deployment {
            id: 0,
            instance: job.instance.name.clone(),
            key_name: job.key.name.clone(),
            key_fingerprint: job.key.fingerprint.clone(),
            method: job.instance.injection.as_str().to_string(),
            os_user: self.os_user.clone(),
            started_at: report.started_at,
            duration_ms: report.duration_ms as i64,
            outcome: report.outcome.as_str().to_string(),
            error: report.error.as_ref().map(|e| json!({ "code": e.code, "message": e.message })),
            rollback: report.rollback.clone(),
            details,
        };
        self.store.tx(|tx| {
            let inst = store::instance_by_name(tx, &job.instance.name)?;
            d.id = store::insert_deployment(tx, &d, inst.as_ref().map(|i| i.id))?;
            let mut promoted = None;
            if report.outcome == Outcome::Succeeded {
                if let Some(i) = &inst {
                    let mut key = store::key_by_name(tx, &job.key.name)?.ok_or_else(|| Error::NotFound { kind: "key", name: job.key.name.clone() })?;
                    if key.status == KeyStatus::Staged {
                        let mut retired = None;
                        if let Some(mut prev) = store::active_key_of(tx, i.id)? {
                            prev.status = KeyStatus::Retired;
                            prev.rotated_at = Some(now);
                            prev.retired_at = Some(now);
                            prev.updated_at = now;
                            store::update_key(tx, &prev, Some(i.id))?;
                            self.audit(tx, "key.retire", &prev.name, json!({ "previous_status": "active", "instance": i.name, "fingerprint": prev.fingerprint, "reason": "replaced by a verified deploy", "replaced_by": key.name }))?;
                            retired = Some(prev.name);
                        }
                        key.status = KeyStatus::Active;
                        key.updated_at = now;
                        store::update_key(tx, &key, Some(i.id))?;
                        self.audit(tx, "key.activate", &key.name, json!({ "instance": i.name, "fingerprint": key.fingerprint, "replaces": retired }))?;
                        promoted = Some(key.name.clone());
                    }
                }
            }
            self.audit(tx, "deploy.run", &job.instance.name, json!({
                "deployment": d.id, "key": d.key_name, "fingerprint": d.key_fingerprint, "method": d.method,
                "outcome": d.outcome, "duration_ms": d.duration_ms, "error": d.error, "rollback": d.rollback,
                "stale_removed": report.stale_removed, "activated": promoted,
            }))?;
            Ok(())
        })?;
        Ok(Some(d))
    }

    /// Deployments, newest first (`clawkeep deploy history`).
    pub fn deployments(&self, instance: Option<&str>, limit: u32) -> Result<Vec<Deployment>> {
        self.store.deployments(instance, limit)
    }
}
