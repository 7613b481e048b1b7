//! [`DeploySession`]: a deploy on one host over one SSH connection — open it (pinned host key),
//! [`plan`](DeploySession::plan) (gather the host's state, then the pure planner), and
//! [`apply`](DeploySession::apply) the plan: refuse when it is blocked, lacks consent or the
//! host changed since it was shown; otherwise write, verify and roll back on failure by the
//! instance's injection method (`inject.rs`).

use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::plan::build_plan;
use super::types::{DeployJob, DeployOptions, DeployPlan, DeployReport, Outcome, ProgressFn, Stage};
use crate::error::{Error, Result};
use crate::model::domain::InjectionMethod;
use crate::ssh::{HostSession, SshAuth};

/// One open connection to one instance, and the job it serves.
pub struct DeploySession<'a> {
    conn: Conn<'a>,
}

impl std::fmt::Debug for DeploySession<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeploySession").field("instance", &self.conn.job.instance.name).finish()
    }
}

impl<'a> DeploySession<'a> {
    /// Connects (pinned host key, auth, timeouts). Nothing is written.
    pub async fn open(job: &'a DeployJob, auth: &SshAuth, opts: &DeployOptions) -> Result<DeploySession<'a>> {
        if job.instance.ssh_host.trim().is_empty() {
            return Err(Error::no_ssh_host(&job.instance.name));
        }
        let ssh = HostSession::connect(&job.target(), auth, &opts.ssh).await?;
        Ok(DeploySession { conn: Conn { job, ssh, opts: opts.clone() } })
    }

    /// Records the user's answer to the plan's stale-credential question.
    pub fn consent_to_stale_removal(&mut self, yes: bool) {
        self.conn.opts.remove_stale = yes;
    }

    pub fn host(&self) -> &HostSession {
        &self.conn.ssh
    }

    pub async fn close(self) {
        self.conn.ssh.close().await
    }

    /// Reads the host's state (`gather`, into [`DeployFacts`](super::DeployFacts)) and builds the plan from it
    /// (`build_plan`, pure). Nothing is written.
    pub async fn plan(&self) -> Result<DeployPlan> {
        let facts = self.conn.gather().await?;
        Ok(build_plan(self.conn.job, self.conn.opts.ready_timeout, facts))
    }

    /// Applies a plan made by [`DeploySession::plan`] on this session: write, restart, verify,
    /// roll back on failure. Cancellation is honoured until the first write; after that the run
    /// finishes (or rolls back).
    pub async fn apply(&self, plan: DeployPlan, progress: &ProgressFn, cancel: &CancellationToken) -> DeployReport {
        let job = self.conn.job;
        let t0 = Instant::now();
        let mut report = DeployReport::new(job);
        let name = job.instance.name.clone();
        let fail = |r: &mut DeployReport, outcome: Outcome, e: Error| {
            r.outcome = outcome;
            r.set_error(&e);
        };
        if !plan.blockers.is_empty() {
            fail(&mut report, Outcome::Refused, Error::InvalidState(format!("the plan for '{}' is blocked: {}", name, plan.blockers.join("; "))));
        } else if plan.stale.iter().any(|s| s.removable) && !self.conn.opts.remove_stale {
            fail(
                &mut report,
                Outcome::Refused,
                Error::InvalidState(format!(
                    "'{}' has stale credentials that would win over the new key ({}); consent to removing them (answer yes, or pass --yes) or remove them by hand",
                    name,
                    plan.stale.iter().map(|s| s.location.as_str()).collect::<Vec<_>>().join(", ")
                )),
            );
        } else if cancel.is_cancelled() {
            fail(&mut report, Outcome::Cancelled, Error::Cancelled);
        } else if let Err(e) = self.conn.host_unchanged_since(&plan).await {
            // Right before the first write: a line added on the host while the user read the
            // plan must not be lost from the file and from the backup.
            let outcome = if matches!(e, Error::InvalidState(_)) { Outcome::Refused } else { Outcome::Failed };
            fail(&mut report, outcome, e);
        } else {
            progress(&name, Stage::Writing);
            let method = self.conn.job.instance.injection;
            let result = match method {
                InjectionMethod::AuthProfile => self.conn.apply_auth_profile(&plan, &mut report, progress).await,
                InjectionMethod::SecretFile => self.conn.apply_secret_file(&plan, &mut report, progress).await,
                InjectionMethod::EnvFile => self.conn.write_and_verify(&plan, &mut report, progress).await,
            };
            match result {
                Ok(()) => report.outcome = Outcome::Succeeded,
                Err((e, changed)) => {
                    report.set_error(&e);
                    if changed {
                        progress(&name, Stage::RollingBack);
                        let (ok, text) = match method {
                            InjectionMethod::AuthProfile => self.conn.rollback_auth_profile(&plan).await,
                            InjectionMethod::SecretFile => self.conn.rollback_secret_file(&plan).await,
                            InjectionMethod::EnvFile => self.conn.rollback(&plan, &mut report).await,
                        };
                        report.outcome = if ok { Outcome::RolledBack } else { Outcome::RollbackFailed };
                        report.rollback = Some(text);
                    } else {
                        report.outcome = Outcome::Failed;
                    }
                }
            }
        }
        report.plan = Some(plan);
        report.duration_ms = t0.elapsed().as_millis() as u64;
        report.sanitize();
        progress(&name, Stage::Done);
        report
    }

    /// The SHA-256 fingerprints (hex, computed on the host: no value leaves it) of the keys the
    /// instance's gateway would use with the `.env` method: its own process environment's
    /// `ANTHROPIC_API_KEY` (which beats `.env`) and the one in `.env`; empty when neither has
    /// one. Read-only (the plan finds the gateway's port). The rotation's rollback reads this
    /// to decide whether the previous key must go back on the host.
    pub async fn held_key_fingerprints(&self) -> Result<Vec<String>> {
        let plan = self.plan().await?;
        let st = self.conn.gateway_state(plan.gateway_port).await?;
        Ok(st.proc_fp.into_iter().chain(st.file_fp).collect())
    }
}
