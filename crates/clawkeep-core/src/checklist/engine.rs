//! The checklist's orchestration: one instance is [`gather`] (host facts over one SSH round
//! trip, API probes with the keychain copy of the key) then [`evaluate`] (pure judgement into
//! [`CheckResult`]s); [`run_fleet`] runs many at once.
//!
//! [`gather`]: super::gather::gather
//! [`evaluate`]: super::evaluate::evaluate

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::evaluate;
use super::facts::Facts;
use super::gather;
use super::runner::HostRunner;
use super::types::*;
use crate::anthropic::AnthropicClient;

pub use super::facts::{CheckContext, CheckOptions};
pub use super::gather::ProbeCache;

/// Runs the checklist for one instance.
pub async fn run_instance(ctx: &CheckContext, runner: &dyn HostRunner, client: &AnthropicClient, opts: &CheckOptions) -> InstanceReport {
    run_instance_shared(ctx, runner, client, opts, &ProbeCache::default()).await
}

/// [`run_instance`] with API probes shared through `cache` (a fleet run passes one cache to all).
pub async fn run_instance_shared(ctx: &CheckContext, runner: &dyn HostRunner, client: &AnthropicClient, opts: &CheckOptions, cache: &ProbeCache) -> InstanceReport {
    let t0 = Instant::now();
    let (gathered, times) = gather::gather(ctx, runner, client, opts, cache).await;
    let (checks, facts) = evaluate::evaluate(&Facts::new(ctx, opts, &gathered));
    let mut r = InstanceReport {
        instance: ctx.instance.name.clone(),
        started_at: ctx.now,
        checks,
        domains: vec![],
        first_failing_domain: None,
        status: Status::Skip,
        facts,
        timings: Timings { host_ms: times.host_ms, api_ms: times.api_ms, total_ms: t0.elapsed().as_millis() as u64 },
    };
    r.finish();
    r
}

/// A default per-host timeout for the facts script.
pub const HOST_TIMEOUT: Duration = Duration::from_secs(30);

/// One instance of a fleet run: its context and how to reach its host.
pub type FleetJob = (CheckContext, Box<dyn HostRunner>);

/// Progress callback of [`run_fleet`]: `(finished report, done, total)`.
pub type CheckProgressFn = Arc<dyn Fn(&InstanceReport, usize, usize) + Send + Sync>;

/// Runs the checklist for many instances, each on its own task (the runtime's threads share the
/// SSH and parsing work): at most `concurrency` at once (clamped to 1..=256), API probes shared
/// between instances that use the same key (or admin key), reports in the order of `jobs`.
/// `cancel` stops the checks not finished yet (they are read-only); the finished ones are
/// returned. Cross-instance findings are left to [`super::fleet::aggregate`].
pub async fn run_fleet(
    jobs: Vec<FleetJob>,
    client: &AnthropicClient,
    opts: &CheckOptions,
    concurrency: usize,
    cancel: &CancellationToken,
    progress: CheckProgressFn,
) -> Vec<InstanceReport> {
    let cache = Arc::new(ProbeCache::default());
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.clamp(1, 256)));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = jobs.len();
    let mut set = tokio::task::JoinSet::new();
    for (i, (ctx, runner)) in jobs.into_iter().enumerate() {
        let (client, opts, cache, sem, done, progress, cancel) = (client.clone(), opts.clone(), cache.clone(), sem.clone(), done.clone(), progress.clone(), cancel.clone());
        set.spawn(async move {
            let _permit = tokio::select! {
                p = sem.acquire_owned() => p,
                _ = cancel.cancelled() => return None,
            };
            let r = tokio::select! {
                r = run_instance_shared(&ctx, runner.as_ref(), &client, &opts, &cache) => r,
                _ = cancel.cancelled() => return None,
            };
            let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            progress(&r, n, total);
            Some((i, r))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(Some(x)) = r {
            out.push(x);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}
