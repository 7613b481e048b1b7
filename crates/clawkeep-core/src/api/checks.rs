//! Running the checklist end to end, for any front end: pick the instances, read their
//! contexts (store + keychain), reach each host through [`host_runner`] (the one place that
//! chooses the host transport), probe the API, run them with bounded concurrency and shared
//! API probes ([`crate::checklist::run_fleet`]), aggregate the fleet findings and record every
//! finished report in the history. [`Clawkeep::check_context`] and [`Clawkeep::record_check`]
//! are the store and keychain halves of one instance's run.
//!
//! Both front ends call [`Clawkeep::run_checks`] (the desktop from its blocking pool) with the
//! SSH login ([`SshCredentials`]), a progress callback and a [`CancellationToken`]; cancelling
//! stops the checks in flight (they are read-only), records the reports already finished and
//! returns [`Error::Cancelled`].

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::anthropic::AnthropicClient;
use crate::checklist::engine::{run_fleet, CheckOptions, HOST_TIMEOUT};
use crate::checklist::facts::RotationDue;
use crate::checklist::fleet;
use crate::checklist::runner::{CannedRunner, HostRunner, RunnerError, SshRunner};
use crate::checklist::{CheckContext, CheckProgressFn, CheckRun, FleetReport, InstanceReport};
use crate::error::{Error, Result};
use crate::login::SshCredentials;
use crate::model::domain::{InstanceFilter, KeyStatus};
use crate::model::keyfmt::KeyKind;
use crate::ssh::{SshAuth, SshOptions};
use crate::store;
use crate::Clawkeep;

/// The host transport the checklist uses for an instance: core's own SSH layer with the
/// instance's pinned host key (an unpinned host is refused with "trust it first"). An instance
/// that cannot be targeted (no host) gets a runner that reports why.
pub fn host_runner(ck: &Clawkeep, instance: &str, auth: &Arc<SshAuth>) -> Box<dyn HostRunner> {
    let opts = SshOptions { connect_timeout: std::time::Duration::from_secs(10), ..Default::default() };
    match ck.ssh_target(instance) {
        Ok(t) => Box::new(SshRunner::new(t, auth.clone(), opts, HOST_TIMEOUT)),
        Err(e) => Box::new(CannedRunner(Err(RunnerError::Other(e.to_string())))),
    }
}

/// Default number of hosts checked at once.
pub const DEFAULT_CONCURRENCY: usize = 32;

impl Clawkeep {
    /// The instances a run covers: `Some(name)` → that one; `None` → every non-draft instance.
    pub fn check_targets(&self, name: Option<&str>) -> Result<Vec<String>> {
        let names: Vec<String> = match name {
            Some(n) => vec![self.instance(n)?.name],
            None => self.list_instances(&InstanceFilter::default())?.into_iter().filter(|r| !r.instance.draft).map(|r| r.instance.name).collect(),
        };
        if names.is_empty() {
            return Err(Error::InvalidState("no instances to check; add one first".into()));
        }
        Ok(names)
    }

    /// Runs the checklist on `names` (see the module doc); blocking. Returns the fleet report
    /// (its `fleet_checks` are empty for a single instance). Every finished report is recorded.
    /// The SSH login comes from `creds`, resolved once and only when hosts are checked (with
    /// [`SshCredentials::Configured`] an encrypted key file that is not unlocked surfaces as
    /// `ssh_passphrase_needed` in the host part of each report).
    pub fn run_checks(
        &self,
        names: &[String],
        opts: &CheckOptions,
        concurrency: usize,
        creds: &SshCredentials,
        cancel: &CancellationToken,
        progress: CheckProgressFn,
    ) -> Result<FleetReport> {
        let settings = self.settings()?;
        let client = AnthropicClient::new(&settings.anthropic_base_url).map_err(|e| Error::invalid("anthropic_base_url", e.to_string()))?;
        let auth = Arc::new(if opts.skip_host { SshAuth::Agent } else { self.ssh_login(creds)? });
        let mut jobs = Vec::with_capacity(names.len());
        for n in names {
            let ctx = self.check_context(n)?;
            let runner = host_runner(self, n, &auth);
            jobs.push((ctx, runner));
        }
        let started = self.now();
        let t0 = Instant::now();
        let fut = run_fleet(jobs, &client, opts, concurrency, cancel, progress);
        let mut reports = crate::runtime::block_on(fut)?;
        let findings = if reports.len() > 1 { fleet::aggregate(&mut reports) } else { Vec::new() };
        for r in &reports {
            self.record_check(r)?;
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let matrix = crate::checklist::matrix::build(&reports);
        Ok(FleetReport { started_at: started, instances: reports, fleet_checks: findings, total_ms: t0.elapsed().as_millis() as u64, matrix })
    }

    /// The full stored report of run `id` of `instance`.
    pub fn check_report(&self, instance: &str, id: i64) -> Result<InstanceReport> {
        let inst = self.instance(instance)?;
        match self.store().check_report(id)? {
            Some(r) if r.instance == inst.name => Ok(r),
            _ => Err(Error::NotFound { kind: "check run", name: format!("{instance}#{id}") }),
        }
    }

    /// The newest run of every instance that has one (the Fleet table's "Last check").
    pub fn last_checks(&self) -> Result<Vec<CheckRun>> {
        self.store().last_check_runs()
    }

    /// What the checklist needs about an instance: its facts, every key's public facts, the
    /// keychain copy of its active key, an active admin key if stored, and its recent runs.
    pub fn check_context(&self, instance: &str) -> Result<CheckContext> {
        let instance = self.instance(instance)?;
        let keys = self.store.list_keys(None)?;
        let active = keys.iter().find(|k| k.instance.as_deref() == Some(&instance.name) && k.status == KeyStatus::Active);
        let active_secret = match active {
            Some(k) => match self.keychain.get(&k.keychain_ref) {
                Ok(s) => Some(s),
                Err(crate::secrets::KeychainError::Missing { .. }) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        let admin_secret = keys.iter().filter(|k| k.kind == KeyKind::Admin && k.status == KeyStatus::Active).find_map(|k| self.keychain.get(&k.keychain_ref).ok());
        let history = self.store.check_runs(&instance.name, 20)?;
        // The rotation date under the effective policy (a policy that cannot be read is not
        // judged: the checklist still runs).
        let rotation_due = match (active, self.effective_rotation_policy(&instance.name)) {
            (Some(k), Ok(policy)) => {
                let (due, basis) = crate::rotation::plan::due_date(k, &policy);
                Some(RotationDue { due, basis, max_age_days: policy.max_age_days, policy: policy.scope.describe() })
            }
            _ => None,
        };
        let budgets = self.budgets_covering(&instance)?;
        let rate_limits = self.rate_limits_covering(&instance, active.and_then(|k| k.workspace_id.as_deref()))?;
        Ok(CheckContext { instance, keys, active_secret, admin_secret, history, now: self.now(), rotation_due, budgets, rate_limits })
    }

    /// Stores a run in the history (and audits it, without secrets).
    pub fn record_check(&self, report: &InstanceReport) -> Result<i64> {
        self.store.tx(|tx| {
            let inst = store::instance_by_name(tx, &report.instance)?.ok_or_else(|| Error::NotFound { kind: "instance", name: report.instance.clone() })?;
            let id = store::insert_check_run(tx, inst.id, report)?;
            self.audit(
                tx,
                "check.run",
                &report.instance,
                json!({
                    "run": id, "status": report.status.as_str(),
                    "first_failing_domain": report.first_failing_domain.map(|d| d.as_str()),
                    "total_ms": report.timings.total_ms,
                }),
            )?;
            Ok(id)
        })
    }

    /// Recent checklist runs of an instance, newest first.
    pub fn check_history(&self, instance: &str, limit: u32) -> Result<Vec<CheckRun>> {
        self.instance(instance)?;
        self.store.check_runs(instance, limit)
    }
}
