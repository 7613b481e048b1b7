//! The deploy flows, once, for both front ends (the CLI and the desktop): the SSH login
//! ([`SshCredentials`]), progress and cancel are parameters, so a front end only parses,
//! prompts and renders.
//!
//! [`Clawkeep::run_deploy`] loads the job and runs [`crate::deploy::deploy_one`]: connect with
//! the pinned host key, plan, and either stop there (preview) or apply — but only when the
//! fresh plan is the one the user saw ([`plan_digest`]), so what is confirmed is what runs. The
//! desktop previews and applies in two calls; so does the interactive CLI (plan, `[y/N]`,
//! apply with the digest); `deploy --yes` applies in one. Finished runs are recorded with
//! [`Clawkeep::record_deployment`].
//!
//! [`Clawkeep::fleet_deploy`] does the same for many instances at once (bounded concurrency,
//! one failing host never stops the others; each host applies only the plan the user saw).
//! [`Clawkeep::probe_host`] / [`Clawkeep::confirm_host_key`] are host trust, and
//! [`Clawkeep::rotation_deployer`] the deploy step of a guided rotation.

use serde::Serialize;

use crate::deploy::{CancellationToken, DeployOptions, DeployReport, ProgressFn};
use crate::error::{Error, ErrorPayload, Result};
use crate::login::SshCredentials;
use crate::ssh::{SshAuth, SshOptions, SshTarget};
use crate::Clawkeep;

pub use crate::deploy::plan_digest;

/// What to do in [`Clawkeep::run_deploy`].
#[derive(Debug, Clone, Default)]
pub struct DeployRequest {
    /// `false`: plan only (nothing written, not recorded).
    pub apply: bool,
    /// With `apply`: the [`plan_digest`] of the previewed plan; a different fresh plan is refused.
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

/// How a flow reaches one host, when the front end overrides the stored route.
#[derive(Debug, Clone, Default)]
pub struct HostRoute {
    /// Through this (trusted) instance as a ProxyJump hop, instead of the stored jump host.
    pub jump: Option<String>,
    /// TCP connect + handshake + login (default 10 s).
    pub connect_timeout: Option<std::time::Duration>,
}

impl HostRoute {
    fn ssh_options(&self) -> SshOptions {
        let mut o = SshOptions::default();
        if let Some(t) = self.connect_timeout {
            o.connect_timeout = t.max(std::time::Duration::from_secs(1));
        }
        o
    }
}

fn block_on<F: std::future::Future>(f: F) -> Result<F::Output> {
    Ok(match tokio::runtime::Handle::try_current() {
        Ok(h) => h.block_on(f),
        Err(_) => tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Error::io("async runtime", e))?.block_on(f),
    })
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
    /// Apply, each target only with the [`plan_digest`] of the plan the user reviewed: a target
    /// without one refuses the whole call (`plan_not_reviewed`) before any host is contacted.
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

    /// The host key `instance` presents now, next to the pinned one (the trust question of both
    /// front ends). `creds` is used only to log in to a jump host.
    pub fn probe_host(&self, instance: &str, route: &HostRoute, creds: &SshCredentials) -> Result<(String, Option<String>)> {
        let mut target = self.ssh_target(instance)?;
        if let Some(j) = &route.jump {
            target.jump = Some(Box::new(self.ssh_target_direct(j)?));
        }
        // Only a jump host needs a login (the target's key is read before any authentication).
        let auth = if target.jump.is_some() { self.ssh_login(creds)? } else { SshAuth::Agent };
        let presented = block_on(crate::ssh::probe_host_key(&target, &auth, &route.ssh_options()))??;
        Ok((presented, target.pinned))
    }

    /// Pins the host key after the user confirmed `confirmed` (from the trust question, or a
    /// fingerprint got out of band): probes again and refuses (`host_key_mismatch`, both
    /// fingerprints) when the host now presents another key.
    pub fn confirm_host_key(&self, instance: &str, confirmed: &str, route: &HostRoute, creds: &SshCredentials) -> Result<crate::Instance> {
        let (presented, _) = self.probe_host(instance, route, creds)?;
        self.trust_host(instance, &presented, Some(confirmed))
    }
}

impl Clawkeep {
    /// The deployer of a guided rotation's deploy step: Clawkeep's SSH deploy, or (rotation
    /// started with `manual_deploy`, or none open) the person deploys and confirms.
    /// `remove_stale`: consent to removing stale credentials the deploy plan finds. The SSH
    /// login is resolved only for the SSH deploy.
    pub fn rotation_deployer(&self, instance: &str, remove_stale: bool, creds: &SshCredentials) -> Result<Box<dyn crate::rotation::Deployer + '_>> {
        let manual = self.rotation(instance).map(|r| r.manual_deploy).unwrap_or(true);
        if manual {
            return Ok(Box::new(crate::rotation::ManualDeployer));
        }
        let opts = DeployOptions { remove_stale, ..Default::default() };
        Ok(Box::new(crate::rotation::SshDeployer::new(self, self.ssh_login(creds)?, opts)))
    }
}
