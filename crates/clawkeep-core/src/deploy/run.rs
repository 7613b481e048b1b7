//! Whole runs: [`deploy_one`] (connect, plan, and unless it is a dry run apply — only the
//! reviewed plan — on one connection) and [`deploy_fleet`] (many at once, bounded concurrency,
//! cancellation between hosts).

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::session::DeploySession;
use super::types::{plan_digest, DeployJob, DeployOptions, DeployReport, Outcome, ProgressFn, Stage};
use crate::error::Error;
use crate::ssh::SshAuth;

/// Connect, plan and (unless `dry_run`) apply for one job, on one connection.
pub async fn deploy_one(job: &DeployJob, auth: &SshAuth, opts: &DeployOptions, dry_run: bool, progress: &ProgressFn, cancel: &CancellationToken) -> DeployReport {
    let t0 = Instant::now();
    let name = job.instance.name.clone();
    if cancel.is_cancelled() {
        return DeployReport::refused(job, &Error::Cancelled);
    }
    progress(&name, Stage::Connecting);
    let session = tokio::select! {
        s = DeploySession::open(job, auth, opts) => s,
        _ = cancel.cancelled() => Err(Error::Cancelled),
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            let mut r = match &e {
                Error::HostKeyUnknown { .. } | Error::HostKeyMismatch { .. } | Error::Cancelled => DeployReport::refused(job, &e),
                _ => {
                    let mut r = DeployReport::new(job);
                    r.set_error(&e);
                    r
                }
            };
            r.duration_ms = t0.elapsed().as_millis() as u64;
            progress(&name, Stage::Done);
            return r;
        }
    };
    let connected_ms = t0.elapsed().as_millis();
    progress(&name, Stage::Planning);
    let t_plan = Instant::now();
    let planned = session.plan().await;
    let plan_ms = t_plan.elapsed().as_millis();
    let report = match planned {
        Err(e) => {
            let mut r = DeployReport::new(job);
            r.set_error(&e);
            r
        }
        Ok(plan) if dry_run => {
            let mut r = DeployReport::new(job);
            r.outcome = Outcome::Planned;
            r.plan = Some(plan);
            r
        }
        Ok(plan) if job.expected_plan.as_deref().is_some_and(|d| d != plan_digest(&plan)) => {
            let mut r =
                DeployReport::refused(job, &Error::InvalidState("the host changed since its plan was shown; nothing was written: review the new plan and confirm again".into()));
            r.plan = Some(plan);
            r
        }
        Ok(plan) => session.apply(plan, progress, cancel).await,
    };
    session.close().await;
    let mut report = report;
    report.steps.insert(0, format!("connected, host key {} verified, authenticated [{connected_ms} ms]", job.instance.host_key_fingerprint.as_deref().unwrap_or("?")));
    report.steps.insert(1, format!("read the host's state and planned [{plan_ms} ms]"));
    report.duration_ms = t0.elapsed().as_millis() as u64;
    report.sanitize();
    progress(&name, Stage::Done);
    report
}

/// Runs many jobs with at most `concurrency` hosts at a time. Reports come back in job order.
/// One failing host never stops the others; after `cancel`, hosts not started are reported
/// cancelled and hosts in flight finish (or roll back).
pub async fn deploy_fleet(
    jobs: Vec<DeployJob>,
    auth: Arc<SshAuth>,
    opts: DeployOptions,
    dry_run: bool,
    concurrency: usize,
    progress: ProgressFn,
    cancel: CancellationToken,
) -> Vec<(DeployJob, DeployReport)> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.clamp(1, 256)));
    let mut set = tokio::task::JoinSet::new();
    let n = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        let (sem, auth, opts, progress, cancel) = (sem.clone(), auth.clone(), opts.clone(), progress.clone(), cancel.clone());
        set.spawn(async move {
            let permit = tokio::select! {
                p = sem.acquire_owned() => p.ok(),
                _ = cancel.cancelled() => None,
            };
            let report = match permit {
                Some(_p) => deploy_one(&job, &auth, &opts, dry_run, &progress, &cancel).await,
                None => DeployReport::refused(&job, &Error::Cancelled),
            };
            (i, job, report)
        });
    }
    let mut out: Vec<Option<(DeployJob, DeployReport)>> = (0..n).map(|_| None).collect();
    while let Some(r) = set.join_next().await {
        if let Ok((i, job, report)) = r {
            out[i] = Some((job, report));
        }
    }
    out.into_iter().flatten().collect()
}
