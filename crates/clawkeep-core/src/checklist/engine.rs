//! The checklist for one instance: gather host facts (one SSH round trip) and probe the API
//! with the keychain copy of the key (in parallel), then turn both into [`CheckResult`]s.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};

use super::cause::{self, Cause};
use super::config::{self, BaseUrlVerdict, ConfigFacts, KeyRef};
use super::hostfacts::{self, HostFacts, HostProbe, KeySighting, KeySource, ScriptParams};
use super::runner::{HostRunner, RunnerError};
use super::types::*;
use crate::anthropic::{AnthropicClient, Probe, BILLING_PROBE_MODEL};
use crate::model::domain::{Instance, Key, KeyStatus, ServiceManager};
use crate::model::keyfmt::{self, KeyKind};
use crate::secret::Secret;

/// Everything the engine needs to know about one instance (read from the store and keychain).
#[derive(Debug)]
pub struct CheckContext {
    pub instance: Instance,
    /// Every key in the inventory (matching fingerprints to instances and retired versions).
    pub keys: Vec<Key>,
    /// The keychain copy of the instance's active key.
    pub active_secret: Option<Secret>,
    /// An active admin key, if one is stored.
    pub admin_secret: Option<Secret>,
    /// Recent runs of this instance, newest first.
    pub history: Vec<CheckRun>,
    pub now: DateTime<Utc>,
}

impl CheckContext {
    pub fn active_key(&self) -> Option<&Key> {
        self.keys.iter().find(|k| k.instance.as_deref() == Some(&self.instance.name) && k.status == KeyStatus::Active)
    }
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The opt-in billing probe (`max_tokens: 1`; costs a few tokens). Off by default.
    pub billing_probe: bool,
    /// Only these domains (all when empty).
    pub domains: Vec<Domain>,
    /// Skip the host (API checks only).
    pub skip_host: bool,
    /// Skip the API (host checks only).
    pub skip_api: bool,
    /// Also probe the API from the host (`GET /v1/models?limit=1` with each key the gateway
    /// could use, sent by curl on the host; the key stays there). Off by default: it makes the
    /// host send requests.
    pub host_probe: bool,
}

fn short(fp: &str) -> String {
    keyfmt::short_fingerprint(fp)
}

fn sighting(k: &KeySighting) -> String {
    format!("{} ({} chars, {})", k.hint, k.length, short(&k.fingerprint))
}

struct Out {
    /// The instance checked (remedies name it).
    instance: String,
    checks: Vec<CheckResult>,
}

impl Out {
    fn push(&mut self, id: &str, domain: Domain, status: Status, summary: impl Into<String>, evidence: Vec<Evidence>, cause: Option<Cause>) -> &mut CheckResult {
        self.checks.push(CheckResult {
            id: id.into(),
            domain,
            status,
            summary: summary.into(),
            evidence,
            cause: cause.map(|c| c.code().to_string()),
            fix: cause.map(|c| c.fix().to_string()),
            remedy: cause.and_then(|c| c.remedy(&self.instance)),
            request_id: None,
        });
        self.checks.last_mut().unwrap_or_else(|| unreachable!())
    }
    fn pass(&mut self, id: &str, domain: Domain, summary: impl Into<String>, evidence: Vec<Evidence>) {
        self.push(id, domain, Status::Pass, summary, evidence, None);
    }
    fn skip(&mut self, id: &str, domain: Domain, summary: impl Into<String>) {
        self.push(id, domain, Status::Skip, summary, vec![], None);
    }
    fn bad(&mut self, id: &str, status: Status, cause: Cause, summary: impl Into<String>, evidence: Vec<Evidence>) -> &mut CheckResult {
        self.push(id, cause.domain(), status, summary, evidence, Some(cause))
    }
    fn probe_failure(&mut self, id: &str, p: &Probe, c: Cause, summary: impl Into<String>) {
        let status = severity(c);
        let mut ev = vec![Evidence::new("response", p.describe())];
        if let Some(r) = p.rate_limit.retry_after_secs {
            ev.push(Evidence::new("retry-after", format!("{r} s")));
        }
        let r = self.bad(id, status, c, summary, ev);
        r.request_id = p.request_id.clone();
    }
}

/// The API probes of a run.
#[derive(Debug, Default)]
struct Probes {
    models: Option<Result<Probe, String>>,
    model: Option<Result<Probe, String>>,
    count: Option<Result<Probe, String>>,
    billing: Option<Result<Probe, String>>,
    admin: Option<Result<(Probe, Option<crate::anthropic::AdminApiKey>), String>>,
}

/// Why the host part could not run: the cause (and an instance-specific fix) for the report.
#[derive(Debug, Clone)]
struct HostFailure {
    code: String,
    message: String,
    cause: Cause,
    fix: Option<String>,
    /// When it knows more than the cause's remedy (the presented fingerprint).
    remedy: Option<crate::error::Remedy>,
}

impl HostFailure {
    fn from_runner(instance: &str, e: &RunnerError) -> HostFailure {
        use crate::error::Remedy;
        let (cause, fix, remedy) = match e {
            RunnerError::HostKeyUnknown { presented, .. } => (
                Cause::HostKeyUntrusted,
                Some(format!(
                    "The host key of '{instance}' is not pinned yet, so Clawkeep sent nothing to the host{}. Trust it first: check the fingerprint out of band, then trust the host",
                    presented.as_ref().map(|p| format!(" (it presents {p})")).unwrap_or_default()
                )),
                Some(Remedy::TrustHost { instance: instance.into(), fingerprint: presented.clone(), replace: false }),
            ),
            RunnerError::HostKeyMismatch { pinned, presented, .. } => (
                Cause::HostKeyMismatch,
                Some(format!(
                    "The host presents {presented}, but {pinned} is pinned for '{instance}' (reinstalled host, or someone in the middle): nothing was run on it. Check the new fingerprint out of band (on its console: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub); only if it is right, trust {presented}"
                )),
                Some(Remedy::TrustHost { instance: instance.into(), fingerprint: Some(presented.clone()), replace: true }),
            ),
            RunnerError::Connect { address, .. } | RunnerError::Timeout { address, .. } => (
                Cause::HostUnreachable,
                Some(format!("Nothing answered SSH at {address}: check that the host is up and sshd listens there (firewall?), or correct the instance's address")),
                None,
            ),
            RunnerError::Auth { .. } => (Cause::SshAuthRefused, None, None),
            RunnerError::Other(_) => (Cause::HostUnreadable, None, None),
        };
        HostFailure { code: e.code().to_string(), message: e.to_string(), cause, fix, remedy }
    }

    fn summary(&self) -> &'static str {
        match self.cause {
            Cause::HostKeyUntrusted => "host key not trusted yet: trust it first (nothing was sent to the host)",
            Cause::HostKeyMismatch => "HOST KEY MISMATCH: refused, nothing was run on the host",
            Cause::HostUnreachable => "cannot connect to the host",
            Cause::SshAuthRefused => "the host refused the SSH login",
            _ => "could not read the host",
        }
    }
}

/// Shares the API probes of one run between instances that use the same key (or the same
/// admin key): each distinct probe is sent once, concurrent askers wait for the first. Keyed by
/// the key's SHA-256 fingerprint, never by the key.
#[derive(Default)]
pub struct ProbeCache {
    cells: std::sync::Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for ProbeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeCache").field("entries", &self.cells.lock().map(|m| m.len()).unwrap_or(0)).finish()
    }
}

impl ProbeCache {
    async fn once<T, F>(&self, id: String, fut: F) -> T
    where
        T: Clone + Send + Sync + 'static,
        F: std::future::Future<Output = T>,
    {
        let cell = {
            let mut m = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(id).or_insert_with(|| Arc::new(tokio::sync::OnceCell::<T>::new())).clone().downcast::<tokio::sync::OnceCell<T>>()
        };
        match cell {
            Ok(c) => c.get_or_init(|| fut).await.clone(),
            // Ids carry the probe kind, so types never clash; if they did, just ask again.
            Err(_) => fut.await,
        }
    }
}

/// Runs the checklist for one instance.
pub async fn run_instance(ctx: &CheckContext, runner: &dyn HostRunner, client: &AnthropicClient, opts: &CheckOptions) -> InstanceReport {
    run_instance_shared(ctx, runner, client, opts, &ProbeCache::default()).await
}

/// [`run_instance`] with API probes shared through `cache` (a fleet run passes one cache to all).
pub async fn run_instance_shared(ctx: &CheckContext, runner: &dyn HostRunner, client: &AnthropicClient, opts: &CheckOptions, cache: &ProbeCache) -> InstanceReport {
    let t0 = Instant::now();
    let started_at = ctx.now;
    let unit = match &ctx.instance.service_manager {
        ServiceManager::SystemdUser { unit } => Some(unit.clone()),
        ServiceManager::Custom { .. } => None,
    };
    let nonce = hostfacts::nonce();
    let script = hostfacts::script(&ScriptParams {
        nonce: nonce.clone(),
        state_dir: ctx.instance.state_dir.clone(),
        agents: ctx.instance.agents.clone(),
        unit,
        now: ctx.now,
        probe_url: (opts.host_probe && !opts.skip_api).then(|| client.base_url().to_string()),
    });
    let host_fut = async {
        if opts.skip_host {
            return (None, 0);
        }
        let t = Instant::now();
        let r = match runner.run_script(&script).await {
            Ok(out) => hostfacts::parse(&out, &nonce).map_err(|e| HostFailure {
                code: e.code().to_string(),
                message: e.to_string(),
                cause: Cause::HostUnreadable,
                fix: None,
                remedy: None,
            }),
            Err(e) => Err(HostFailure::from_runner(&ctx.instance.name, &e)),
        };
        (Some(r), t.elapsed().as_millis() as u64)
    };
    let api1 = async {
        let mut p = Probes::default();
        let t = Instant::now();
        if opts.skip_api {
            return (p, 0);
        }
        if let Some(key) = &ctx.active_secret {
            let kfp = keyfmt::fingerprint(key.expose());
            let models = cache.once(format!("models {kfp}"), async { client.models_list(key, None).await.map_err(|e| e.to_string()) });
            let admin = async {
                let (Some(admin), Some(k)) = (&ctx.admin_secret, ctx.active_key()) else { return None };
                let afp = keyfmt::fingerprint(admin.expose());
                Some(match &k.anthropic_key_id {
                    Some(id) => cache.once(format!("admin-key {afp} {id}"), async { client.admin_api_key(admin, id).await.map_err(|e| e.to_string()) }).await,
                    None => match cache.once(format!("admin-keys {afp}"), async { client.admin_api_keys(admin).await.map_err(|e| e.to_string()) }).await {
                        Ok((probe, list)) => {
                            let m = list.into_iter().find(|a| a.partial_key_hint.as_deref() == Some(k.hint.as_str()));
                            Ok((probe, m))
                        }
                        Err(e) => Err(e),
                    },
                })
            };
            let (mut m, a) = tokio::join!(models, admin);
            // No workspace header: the probe reproduces what OpenClaw sends.
            if let Ok(pr) = &m {
                if pr.status == 0 {
                    m = Err("no status".into());
                }
            }
            p.models = Some(m);
            p.admin = a;
        }
        (p, t.elapsed().as_millis() as u64)
    };
    let ((host, host_ms), (mut probes, api1_ms)) = tokio::join!(host_fut, api1);

    let facts: Option<&HostFacts> = host.as_ref().and_then(|r| r.as_ref().ok());
    let cfg: Option<Result<ConfigFacts, String>> =
        facts.map(|f| if f.config_present { config::parse(&f.config_text) } else { Err("openclaw.json not found in the state dir".into()) });
    let model = cfg.as_ref().and_then(|c| c.as_ref().ok()).and_then(|c| c.primary_model.clone()).and_then(|m| config::anthropic_model(&m).map(str::to_string));

    // Second wave: the model-dependent probes (only once the key authenticated).
    let t = Instant::now();
    let authed = matches!(&probes.models, Some(Ok(p)) if p.ok());
    if authed && !opts.skip_api {
        if let Some(key) = &ctx.active_secret {
            let m = model.clone().unwrap_or_else(|| "claude-sonnet-5".into());
            let billing_model = BILLING_PROBE_MODEL.to_string();
            let ws = None;
            let kfp = keyfmt::fingerprint(key.expose());
            let (a, b, c) = tokio::join!(
                async {
                    if model.is_some() {
                        Some(cache.once(format!("model {kfp} {m}"), async { client.model_get(key, &m, ws).await.map_err(|e| e.to_string()) }).await)
                    } else {
                        None
                    }
                },
                cache.once(format!("count {kfp} {m}"), async { client.count_tokens(key, &m, ws).await.map_err(|e| e.to_string()) }),
                async {
                    if opts.billing_probe {
                        Some(cache.once(format!("billing {kfp}"), async { client.billing_probe(key, &billing_model, ws).await.map_err(|e| e.to_string()) }).await)
                    } else {
                        None
                    }
                }
            );
            probes.model = a;
            probes.count = Some(b);
            probes.billing = c;
        }
    }
    let api_ms = api1_ms + t.elapsed().as_millis() as u64;

    let mut out = Out { instance: ctx.instance.name.clone(), checks: Vec::new() };
    let mut ff = FleetFacts { owner: ctx.instance.owner.clone(), ..Default::default() };

    // ---- credential ----------------------------------------------------------------------
    let active = ctx.active_key();
    match (&active, &ctx.active_secret) {
        (Some(k), Some(_)) => out.pass(
            "credential.keychain",
            Domain::Credential,
            format!("keychain holds the active key '{}'", k.name),
            vec![Evidence::new("key", format!("{} ({} chars, {})", k.hint, k.length, short(&k.fingerprint)))],
        ),
        _ => {
            out.bad("credential.keychain", Status::Fail, Cause::NoKeychainKey, "no active key with a keychain copy for this instance", vec![]);
        }
    }
    match &host {
        None => out.skip("credential.host", Domain::Credential, "host not checked (--no-host)"),
        Some(Err(f)) => {
            let r = out.bad("credential.host", Status::Fail, f.cause, f.summary(), vec![Evidence::new(f.code.clone(), f.message.clone())]);
            if let Some(fix) = &f.fix {
                r.fix = Some(fix.clone());
            }
            if let Some(remedy) = &f.remedy {
                r.remedy = Some(remedy.clone());
            }
        }
        Some(Ok(f)) => {
            ff.host_ok = true;
            credential_checks(ctx, f, cfg.as_ref().and_then(|c| c.as_ref().ok()), &mut out, &mut ff);
        }
    }

    // ---- account context -----------------------------------------------------------------
    account_checks(ctx, &probes, opts, &mut out, &mut ff);
    if opts.host_probe && !opts.skip_api {
        host_probe_checks(ctx, facts, client.base_url(), &ff, &mut out);
    }

    // ---- protocol -------------------------------------------------------------------------
    protocol_checks(ctx, facts, cfg.as_ref(), &probes, model.as_deref(), &mut out);

    // ---- throughput -----------------------------------------------------------------------
    throughput_checks(ctx, facts, &probes, authed, &mut out, &mut ff);

    // ---- boundary and host ----------------------------------------------------------------
    if let Some(f) = facts {
        boundary_checks(ctx, f, &mut out);
    } else if host.is_some() {
        out.skip("host.baseline", Domain::Boundary, "host facts unavailable");
    }

    let mut checks = out.checks;
    if !opts.domains.is_empty() {
        checks.retain(|c| opts.domains.contains(&c.domain));
    }
    let mut r = InstanceReport {
        instance: ctx.instance.name.clone(),
        started_at,
        checks,
        domains: vec![],
        first_failing_domain: None,
        status: Status::Skip,
        facts: ff,
        timings: Timings { host_ms, api_ms, total_ms: t0.elapsed().as_millis() as u64 },
    };
    r.finish();
    r
}

/// How bad a failed probe is: transient server trouble and thin headroom warn; the rest fails.
fn severity(c: Cause) -> Status {
    match c {
        Cause::Overloaded | Cause::ServerError | Cause::LowHeadroom => Status::Warn,
        _ => Status::Fail,
    }
}

// ---- account context from the host ------------------------------------------------------

/// `account.from-host`: the same models probe, sent from the host with the key(s) its agents
/// use (the credential checks' winners). Proves the host can reach the API and that its key
/// authenticates there, in the expected org and workspace.
fn host_probe_checks(ctx: &CheckContext, facts: Option<&HostFacts>, base: &str, ff: &FleetFacts, out: &mut Out) {
    let d = Domain::AccountContext;
    let Some(f) = facts else {
        return out.skip("account.from-host", d, "host facts unavailable");
    };
    let winners: Vec<&HostProbe> = f.host_probes.iter().filter(|p| ff.host_fingerprints.contains(&p.fingerprint)).collect();
    if winners.is_empty() {
        let why = if ff.host_fingerprints.is_empty() { "no key in use on the host to probe with" } else { "the host sent no probe (shell without curl output?)" };
        return out.skip("account.from-host", d, why);
    }
    if winners.iter().all(|p| p.error_type.as_deref() == Some("no_curl")) {
        return out.skip("account.from-host", d, "curl is not installed on the host: nothing to probe from it with");
    }
    let inst = &ctx.instance;
    let exp_ws = inst.expected_workspace_id.clone().or_else(|| ctx.active_key().and_then(|k| k.workspace_id.clone()));
    let mut worst: Option<(Status, Cause, String, Option<String>)> = None;
    let mut ev = vec![Evidence::new("sent from the host to", format!("{base}/v1/models?limit=1"))];
    for p in winners {
        let key = f.keys.iter().find(|k| k.fingerprint == p.fingerprint).map(sighting).unwrap_or_else(|| short(&p.fingerprint));
        let mut line = if p.status == 0 { "no response".to_string() } else { format!("HTTP {}", p.status) };
        if let Some(t) = &p.error_type {
            line.push_str(&format!(" {t}"));
        }
        if let Some(m) = &p.message {
            line.push_str(&format!(" \"{m}\""));
        }
        if let Some(e) = &p.transport_error {
            line.push_str(&format!(" ({e})"));
        }
        if let Some(r) = &p.request_id {
            line.push_str(&format!(" (request-id {r})"));
        }
        ev.push(Evidence::new(format!("with {key}"), line));
        let verdict = if p.status == 0 {
            Some((Status::Fail, Cause::HostCannotReachApi, "the host cannot reach the Anthropic API".to_string()))
        } else if (200..300).contains(&p.status) {
            ev.push(Evidence::new("organization", p.organization_id.clone().unwrap_or_else(|| "(header absent)".into())));
            ev.push(Evidence::new("workspace", p.workspace_id.clone().unwrap_or_else(|| "(header absent)".into())));
            if inst.expected_org_id.as_ref().is_some_and(|o| p.organization_id.as_ref().is_some_and(|a| a != o)) {
                Some((Status::Fail, Cause::OrgMismatch, "from the host, the key resolves to another organization".into()))
            } else if exp_ws.as_ref().is_some_and(|w| p.workspace_id.as_ref().is_some_and(|a| a != w)) {
                Some((Status::Fail, Cause::WorkspaceMismatch, "from the host, the key resolves to another workspace".into()))
            } else {
                None
            }
        } else {
            let c = cause::classify_status(p.status, p.message.as_deref().unwrap_or(""));
            Some((severity(c), c, format!("from the host, the API answers HTTP {} ({})", p.status, c.code())))
        };
        if let Some((st, c, s)) = verdict {
            if worst.as_ref().is_none_or(|w| st > w.0) {
                worst = Some((st, c, s, p.request_id.clone()));
            }
        }
    }
    match worst {
        None => out.pass("account.from-host", d, "from the host, the key in use authenticates in the expected account", ev),
        Some((st, c, s, rid)) => {
            let r = out.bad("account.from-host", st, c, s, ev);
            r.domain = d;
            r.request_id = rid;
        }
    }
}

// ---- credential -------------------------------------------------------------------------

/// Precedence rank of a global (not per-agent) source for a *new* process (lower wins).
fn disk_rank(s: &KeySource) -> Option<u8> {
    match s {
        KeySource::UnitEnv => Some(0),
        KeySource::DotEnv => Some(1),
        KeySource::SystemdEnv => Some(2),
        _ => None,
    }
}

fn credential_checks(ctx: &CheckContext, f: &HostFacts, cfg: Option<&ConfigFacts>, out: &mut Out, ff: &mut FleetFacts) {
    let active = ctx.active_key();
    // What a freshly started gateway would use (global sources).
    let mut disk: Vec<&KeySighting> = f.keys.iter().filter(|k| disk_rank(&k.source).is_some()).collect();
    disk.sort_by_key(|k| disk_rank(&k.source));
    let config_key = |r: &Option<KeyRef>| -> Option<&KeySighting> {
        match r {
            Some(KeyRef::Literal(n)) => f.keys.iter().find(|k| k.source == KeySource::Config(*n)),
            _ => None,
        }
    };
    let mut disk_winner: Option<&KeySighting> = disk.first().copied();
    if disk_winner.is_none() {
        if let Some(c) = cfg {
            disk_winner = config_key(&c.env_vars_key).or_else(|| config_key(&c.api_key));
        }
    }
    // The running gateway's environment.
    let proc_key: Option<&KeySighting> = f.keys.iter().find(|k| matches!(k.source, KeySource::Proc(_)));
    let running_proc = f.procs.first();
    let global_running: Option<&KeySighting> = match (proc_key, running_proc) {
        (Some(k), _) => Some(k),
        _ => disk_winner,
    };

    let mut agents: Vec<String> = ctx.instance.agents.clone();
    for (a, exists) in &f.agents {
        if *exists && !agents.contains(a) {
            agents.push(a.clone());
        }
    }
    let mut fps = BTreeSet::new();
    let mut resolved_ev = Vec::new();
    let mut missing = Vec::new();
    let mut winners: Vec<(String, &KeySighting)> = Vec::new();
    for a in &agents {
        // The agent's own profile store first, then the shared one (OpenClaw 2026.9+), then env.
        let mut profiles: Vec<&KeySighting> = f.keys.iter().filter(|k| k.source == KeySource::Profile(a.clone())).collect();
        if profiles.is_empty() {
            profiles = f.keys.iter().filter(|k| k.source == KeySource::SharedProfile).collect();
        }
        let w = profiles.first().copied().or(global_running);
        match w {
            Some(k) => {
                resolved_ev.push(Evidence::new(format!("agent {a}"), format!("{} from {}", sighting(k), k.source.describe())));
                if profiles.len() > 1 {
                    resolved_ev.push(Evidence::new(format!("agent {a}"), format!("{} keys in its auth profiles; the first is assumed to win", profiles.len())));
                }
                fps.insert(k.fingerprint.clone());
                winners.push((a.clone(), k));
            }
            None => missing.push(a.clone()),
        }
    }
    ff.host_fingerprints = fps.into_iter().collect();
    if let Some(p) = running_proc {
        resolved_ev.push(Evidence::new("gateway", format!("pid {} ({})", p.pid, p.cmdline.chars().take(80).collect::<String>())));
    } else {
        resolved_ev.push(Evidence::new("gateway", "no running gateway process found"));
    }
    if missing.is_empty() {
        out.pass("credential.resolved", Domain::Credential, "every agent resolves an Anthropic key", resolved_ev);
    } else {
        resolved_ev.push(Evidence::new("agents without a key", missing.join(", ")));
        out.bad("credential.resolved", Status::Fail, Cause::AgentNoCredential, format!("agent(s) {} have no Anthropic credential", missing.join(", ")), resolved_ev);
    }

    // Stale injection: the file holds a different key than the running process.
    if let (Some(pk), Some(dk)) = (proc_key, disk.first()) {
        if pk.fingerprint != dk.fingerprint {
            let file_is_current = active.is_some_and(|a| a.fingerprint == dk.fingerprint);
            let ev = vec![Evidence::new("running process", sighting(pk)), Evidence::new(dk.source.describe(), sighting(dk))];
            if file_is_current {
                out.bad("credential.stale-process", Status::Fail, Cause::RestartNeeded, "the running gateway still has the old key; the file has the current one", ev);
            } else {
                out.bad("credential.stale-process", Status::Warn, Cause::RestartNeeded, "the running gateway's key differs from the one in its env file", ev);
            }
        } else {
            out.pass("credential.stale-process", Domain::Credential, "the running gateway has the key its env file holds", vec![]);
        }
    } else if let (Some(p), Some(env_stat)) = (running_proc, f.stat("env")) {
        // Real OpenClaw loads .env in-process (not visible in /proc): compare times instead.
        if proc_key.is_none() && p.started > 0 && env_stat.mtime > p.started && disk.iter().any(|k| k.source == KeySource::DotEnv) {
            out.bad(
                "credential.stale-process",
                Status::Warn,
                Cause::RestartNeeded,
                ".env changed after the gateway started: it still runs with the key it read at start",
                vec![Evidence::new(".env modified", env_stat.mtime.to_string()), Evidence::new("gateway started", p.started.to_string())],
            );
        }
    }

    // Each agent's winner against the keychain.
    let Some(active) = active else { return };
    let secret = ctx.active_secret.as_ref();
    for (a, w) in winners {
        let id = format!("credential.matches-keychain.{a}");
        let mut ev = vec![
            Evidence::new("on host", format!("{} from {}", sighting(w), w.source.describe())),
            Evidence::new("keychain", format!("{} ({} chars, {})", active.hint, active.length, short(&active.fingerprint))),
        ];
        if w.fingerprint == active.fingerprint {
            out.pass(&id, Domain::Credential, format!("agent {a} uses the current key"), ev);
            continue;
        }
        // Truncation: the host's fingerprint equals the keychain key's prefix of that length.
        let truncated = secret.is_some_and(|s| {
            let v = s.expose();
            (w.length as usize) < v.len() && v.is_char_boundary(w.length as usize) && keyfmt::fingerprint(&v[..w.length as usize]) == w.fingerprint
        });
        let by_fp = ctx.keys.iter().find(|k| k.fingerprint == w.fingerprint);
        let is_profile = |s: &KeySource| matches!(s, KeySource::Profile(_) | KeySource::SharedProfile);
        let lower_has_current = is_profile(&w.source)
            && f.keys.iter().any(|k| !is_profile(&k.source) && !matches!(k.source, KeySource::History(_) | KeySource::WorldReadable(_)) && k.fingerprint == active.fingerprint);
        let restart = matches!(w.source, KeySource::Proc(_)) && disk.first().is_some_and(|d| d.fingerprint == active.fingerprint);
        if restart {
            out.bad(&id, Status::Fail, Cause::RestartNeeded, format!("agent {a}: the running gateway has an old key; a restart picks up the current one"), ev);
        } else if lower_has_current {
            out.bad(&id, Status::Fail, Cause::AuthProfileOverridesEnv, format!("agent {a}: an auth profile with another key beats the current key in the env"), ev);
        } else if truncated {
            ev.push(Evidence::new("proof", format!("SHA-256 of the keychain key's first {} characters equals the host's", w.length)));
            out.bad(&id, Status::Fail, Cause::KeyTruncated, format!("agent {a}: the key on the host is truncated ({} of {} chars)", w.length, active.length), ev);
        } else if let Some(k) = by_fp.filter(|k| k.instance.as_deref() == Some(&ctx.instance.name)) {
            ev.push(Evidence::new("matches", format!("key '{}' ({})", k.name, k.status.as_str())));
            out.bad(&id, Status::Fail, Cause::RetiredKeyDeployed, format!("agent {a}: the host runs '{}', a {} version of this instance's key", k.name, k.status.as_str()), ev);
        } else if let Some(k) = by_fp {
            ev.push(Evidence::new("matches", format!("key '{}' of instance '{}'", k.name, k.instance.as_deref().unwrap_or("-"))));
            out.bad(&id, Status::Fail, Cause::KeyOfOtherInstance, format!("agent {a}: the host uses key '{}', which belongs to another instance", k.name), ev);
        } else {
            out.bad(&id, Status::Fail, Cause::KeyMismatch, format!("agent {a}: the host's key is not this instance's key"), ev);
        }
    }
}

// ---- account context --------------------------------------------------------------------

fn account_checks(ctx: &CheckContext, p: &Probes, opts: &CheckOptions, out: &mut Out, ff: &mut FleetFacts) {
    let d = Domain::AccountContext;
    match &p.models {
        None if opts.skip_api => out.skip("account.auth", d, "API not checked (--no-api)"),
        None => out.skip("account.auth", d, "no keychain key to probe with"),
        Some(Err(e)) => {
            out.bad("account.auth", Status::Fail, Cause::ApiUnreachable, "the API could not be reached", vec![Evidence::new("error", e.clone())]);
        }
        Some(Ok(m)) if m.ok() => {
            ff.api_ok = true;
            ff.organization_id = m.organization_id.clone();
            ff.workspace_id = m.workspace_id.clone();
            out.pass(
                "account.auth",
                d,
                "the keychain key authenticates",
                vec![
                    Evidence::new("response", m.describe()),
                    Evidence::new("organization", m.organization_id.clone().unwrap_or_else(|| "(header absent)".into())),
                    Evidence::new("workspace", m.workspace_id.clone().unwrap_or_else(|| "(header absent)".into())),
                ],
            );
            // Org and workspace against the instance's expectations.
            let inst = &ctx.instance;
            let mut ev = vec![];
            let mut bad = None;
            if let Some(exp) = &inst.expected_org_id {
                ev.push(Evidence::new("expected org", exp.clone()));
                if m.organization_id.as_deref().is_some_and(|o| o != exp) {
                    bad = Some(Cause::OrgMismatch);
                }
            }
            let exp_ws = inst.expected_workspace_id.clone().or_else(|| ctx.active_key().and_then(|k| k.workspace_id.clone()));
            if let Some(exp) = &exp_ws {
                ev.push(Evidence::new("expected workspace", exp.clone()));
                if m.workspace_id.as_deref().is_some_and(|w| w != exp) && bad.is_none() {
                    bad = Some(Cause::WorkspaceMismatch);
                }
            }
            ev.push(Evidence::new("actual org", m.organization_id.clone().unwrap_or_default()));
            ev.push(Evidence::new("actual workspace", m.workspace_id.clone().unwrap_or_default()));
            match bad {
                Some(c) => {
                    let r = out.bad("account.workspace", Status::Fail, c, "the key resolves to a different org/workspace than expected", ev);
                    r.request_id = m.request_id.clone();
                }
                None if inst.expected_org_id.is_none() && exp_ws.is_none() => {
                    out.skip("account.workspace", d, "no expected org or workspace set on the instance (--org-id / --workspace-id)")
                }
                None => out.pass("account.workspace", d, "org and workspace as expected", ev),
            }
        }
        Some(Ok(m)) => {
            let c = cause::classify(m).unwrap_or(Cause::KeyInvalid);
            // A 401 with the Admin API's view is more precise.
            let c = match (c, &p.admin) {
                (Cause::KeyInvalid, Some(Ok((_, Some(k))))) => match k.status.as_str() {
                    "inactive" => Cause::KeyInactive,
                    "expired" => Cause::KeyExpired,
                    "archived" => Cause::KeyArchived,
                    _ => c,
                },
                _ => c,
            };
            let c = match (c, ctx.active_key().map(|k| k.kind)) {
                (Cause::KeyInvalid, Some(KeyKind::Oauth)) => Cause::OauthTokenAsKey,
                (Cause::KeyInvalid, Some(KeyKind::Admin)) => Cause::AdminKeyAsKey,
                (c, _) => c,
            };
            let summary = match c {
                Cause::KeyInvalid => "Anthropic rejects the key (401: invalid, revoked, inactive or expired)".to_string(),
                Cause::KeyInactive => "the key is inactive (401)".into(),
                Cause::KeyExpired => "the key has expired (401)".into(),
                Cause::KeyArchived => "the key is archived (401)".into(),
                Cause::WorkspaceHeaderRequired => "identity-linked key without an anthropic-workspace-id header (400)".into(),
                other => format!("the models probe failed: {}", other.code()),
            };
            out.probe_failure("account.auth", m, c, summary);
        }
    }
    // Admin view: status, expiry, workspace.
    match &p.admin {
        None if ctx.admin_secret.is_none() => out.skip("account.admin", d, "no admin key stored (add one to see key status and expiry)"),
        None => out.skip("account.admin", d, "no active key to look up"),
        Some(Err(e)) => {
            out.push("account.admin", d, Status::Warn, "the Admin API could not be reached", vec![Evidence::new("error", e.clone())], None);
        }
        Some(Ok((probe, None))) if !probe.ok() => {
            let r = out.push("account.admin", d, Status::Warn, "the Admin API refused the lookup", vec![Evidence::new("response", probe.describe())], None);
            r.request_id = probe.request_id.clone();
        }
        Some(Ok((_, None))) => {
            out.push("account.admin", d, Status::Warn, "the key was not found in the organization's key list (set its apikey_ id)", vec![], None).status = Status::Warn
        }
        Some(Ok((_, Some(k)))) => {
            let mut ev = vec![Evidence::new("key id", k.id.clone()), Evidence::new("status", k.status.clone())];
            if let Some(w) = &k.workspace_id {
                ev.push(Evidence::new("workspace", w.clone()));
            }
            let exp = k.expires_at.as_deref().and_then(|e| DateTime::parse_from_rfc3339(e).ok()).map(|d| d.with_timezone(&Utc));
            if let Some(e) = exp {
                ev.push(Evidence::new("expires", e.to_rfc3339()));
            }
            let exp_ws = ctx.instance.expected_workspace_id.as_deref();
            if k.status != "active" {
                let c = match k.status.as_str() {
                    "inactive" => Cause::KeyInactive,
                    "expired" => Cause::KeyExpired,
                    "archived" => Cause::KeyArchived,
                    _ => Cause::KeyInvalid,
                };
                out.bad("account.admin", Status::Fail, c, format!("the Admin API reports the key as {}", k.status), ev);
            } else if let Some(e) = exp.filter(|e| *e - ctx.now < chrono::Duration::days(14)) {
                let days = (e - ctx.now).num_days();
                out.bad("account.admin", Status::Warn, Cause::KeyExpiringSoon, format!("the key expires in {days} day(s)"), ev);
            } else if let (Some(w), Some(x)) = (k.workspace_id.as_deref(), exp_ws) {
                if w != x {
                    out.bad("account.admin", Status::Fail, Cause::WorkspaceMismatch, "the Admin API places the key in another workspace", ev);
                } else {
                    out.pass("account.admin", d, "the key is active, not expiring soon, in the expected workspace", ev);
                }
            } else {
                out.pass("account.admin", d, "the key is active and not expiring soon", ev);
            }
        }
    }
    // Billing: the opt-in probe, or what the free probes revealed.
    let billing_cause = |p: &Option<Result<Probe, String>>| -> Option<(Cause, Probe)> {
        match p {
            Some(Ok(pr)) => match cause::classify(pr) {
                Some(c @ (Cause::CreditTooLow | Cause::OrgDisabled)) => Some((c, pr.clone())),
                _ => None,
            },
            _ => None,
        }
    };
    let found = billing_cause(&p.models).or_else(|| billing_cause(&p.count)).or_else(|| billing_cause(&p.billing)).or_else(|| billing_cause(&p.model));
    match (found, &p.billing) {
        (Some((c, pr)), _) => {
            if !(matches!(&p.models, Some(Ok(m)) if cause::classify(m) == Some(c))) {
                let s = if c == Cause::CreditTooLow { "credit balance too low" } else { "the organization is disabled" };
                out.probe_failure("account.billing", &pr, c, s);
            }
        }
        (None, Some(Ok(b))) if b.ok() => out.pass("account.billing", d, "billing probe (max_tokens 1) succeeded", vec![Evidence::new("response", b.describe())]),
        (None, Some(Ok(b))) => {
            out.push("account.billing", d, Status::Skip, "billing probe did not reach billing", vec![Evidence::new("response", b.describe())], None).request_id =
                b.request_id.clone()
        }
        (None, Some(Err(e))) => out.push("account.billing", d, Status::Warn, "billing probe failed to run", vec![Evidence::new("error", e.clone())], None).status = Status::Warn,
        (None, None) => out.skip("account.billing", d, "billing probe is opt-in (--billing-probe; costs a few tokens)"),
    }
}

// ---- protocol ----------------------------------------------------------------------------

fn protocol_checks(ctx: &CheckContext, f: Option<&HostFacts>, cfg: Option<&Result<ConfigFacts, String>>, p: &Probes, model: Option<&str>, out: &mut Out) {
    let d = Domain::Protocol;
    let stability = ctx.instance.tags.iter().any(|t| t == "stability-first");
    let Some(f) = f else {
        out.skip("protocol.config", d, "host facts unavailable");
        return protocol_api_checks(p, model, out);
    };
    let version = f.openclaw_version.as_deref().and_then(config::parse_version);
    if !f.clobbered.is_empty() {
        out.bad(
            "protocol.clobbered",
            Status::Warn,
            Cause::ConfigClobbered,
            format!("{} clobbered config file(s): OpenClaw restored an older config", f.clobbered.len()),
            f.clobbered.iter().take(5).map(|c| Evidence::new("file", c.clone())).collect(),
        );
    } else {
        out.pass("protocol.clobbered", d, "no openclaw.json.clobbered.* files", vec![]);
    }
    let c = match cfg {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            out.bad("protocol.config", Status::Fail, Cause::ConfigUnreadable, "openclaw.json could not be parsed", vec![Evidence::new("error", e.clone())]);
            return protocol_api_checks(p, model, out);
        }
        None => return protocol_api_checks(p, model, out),
    };
    let mut ev = vec![Evidence::new("openclaw", f.openclaw_version.clone().unwrap_or_else(|| "not found on PATH".into()))];
    if let Some(m) = &c.primary_model {
        ev.push(Evidence::new("model", m.clone()));
    }
    if !c.has_meta {
        out.bad("protocol.config", Status::Warn, Cause::ConfigMissingMeta, "openclaw.json parses but has no meta object", ev);
    } else {
        out.pass("protocol.config", d, "openclaw.json parses", ev);
    }
    // api and base URL
    let base = c.base_url.as_deref();
    let overridden = base.is_some_and(|b| b.trim_end_matches('/') != config::DEFAULT_ANTHROPIC_BASE);
    let api_ev = vec![
        Evidence::new("baseUrl", base.unwrap_or("(default https://api.anthropic.com)").to_string()),
        Evidence::new("api", c.api.clone().unwrap_or_else(|| "(not set)".into())),
    ];
    match c.api.as_deref() {
        Some("anthropic-messages") => out.pass("protocol.api", d, "api is anthropic-messages", api_ev),
        None if !overridden => out.pass("protocol.api", d, "built-in provider, default endpoint", api_ev),
        other => {
            let what = other.map(|s| format!("api is '{s}'")).unwrap_or_else(|| "api is not set".into());
            out.bad("protocol.api", Status::Fail, Cause::WrongApi, format!("{what} with an overridden baseUrl: OpenClaw sends OpenAI-shaped requests"), api_ev);
        }
    }
    match base {
        None => out.pass("protocol.base-url", d, "default base URL", vec![]),
        Some(b) => match config::check_base_url(b, version) {
            BaseUrlVerdict::Ok => out.pass("protocol.base-url", d, "base URL has the root form", vec![Evidence::new("baseUrl", b)]),
            BaseUrlVerdict::VersionDependent(why) => {
                out.bad("protocol.base-url", Status::Warn, Cause::BaseUrlV1VersionDependent, why, vec![Evidence::new("baseUrl", b)]);
            }
            BaseUrlVerdict::Invalid(why) => {
                out.bad("protocol.base-url", Status::Fail, Cause::BaseUrlInvalid, why, vec![Evidence::new("baseUrl", b)]);
            }
        },
    }
    // stability-first: no beta headers, no reasoning params
    if stability {
        let mut ev: Vec<Evidence> = c.beta_headers.iter().map(|b| Evidence::new("beta header", b.clone())).collect();
        ev.extend(c.reasoning_params.iter().map(|r| Evidence::new("reasoning parameter", r.clone())));
        if ev.is_empty() {
            out.pass("protocol.stability", d, "no beta headers or reasoning parameters (stability-first)", vec![]);
        } else {
            out.bad("protocol.stability", Status::Warn, Cause::UnstableFeatures, "beta headers or reasoning parameters on a stability-first instance", ev);
        }
    }
    protocol_api_checks(p, model, out);
}

fn protocol_api_checks(p: &Probes, model: Option<&str>, out: &mut Out) {
    let d = Domain::Protocol;
    match (&p.model, model) {
        (Some(Ok(m)), Some(id)) if m.ok() => out.pass("protocol.model", d, format!("model {id} exists"), vec![Evidence::new("response", m.describe())]),
        (Some(Ok(m)), Some(id)) => {
            let c = cause::classify(m).unwrap_or(Cause::ModelNotFound);
            let c = if c == Cause::BaseUrlInvalid { Cause::ModelNotFound } else { c };
            if c.domain() == d {
                out.probe_failure("protocol.model", m, c, format!("model {id}: {}", m.message()));
            } else {
                out.skip("protocol.model", d, format!("model lookup failed for another reason ({})", c.code()));
            }
        }
        (Some(Err(e)), _) => out.push("protocol.model", d, Status::Warn, "model lookup could not run", vec![Evidence::new("error", e.clone())], None).status = Status::Warn,
        (_, None) => out.skip("protocol.model", d, "no anthropic/… model configured"),
        (None, _) => out.skip("protocol.model", d, "not probed (the key did not authenticate)"),
    }
    match &p.count {
        Some(Ok(c)) if c.ok() => out.pass("protocol.request-shape", d, "count_tokens accepts the request with the configured model", vec![Evidence::new("response", c.describe())]),
        Some(Ok(c)) => {
            let cause = cause::classify(c).unwrap_or(Cause::RequestRejected);
            if cause.domain() == d && !(cause == Cause::ModelNotFound && matches!(&p.model, Some(Ok(m)) if !m.ok())) {
                out.probe_failure("protocol.request-shape", c, cause, "count_tokens rejected the request");
            } else if cause.domain() == d {
                out.skip("protocol.request-shape", d, "count_tokens failed on the model id (see protocol.model)");
            } else if cause.domain() == Domain::Throughput {
                out.probe_failure("throughput.probe", c, cause, format!("count_tokens: HTTP {}", c.status));
            } else {
                out.skip("protocol.request-shape", d, format!("count_tokens failed for another reason ({})", cause.code()));
            }
        }
        Some(Err(e)) => out.push("protocol.request-shape", d, Status::Warn, "count_tokens could not run", vec![Evidence::new("error", e.clone())], None).status = Status::Warn,
        None => out.skip("protocol.request-shape", d, "not probed (the key did not authenticate)"),
    }
}

// ---- throughput --------------------------------------------------------------------------

fn throughput_checks(ctx: &CheckContext, f: Option<&HostFacts>, p: &Probes, authed: bool, out: &mut Out, ff: &mut FleetFacts) {
    let d = Domain::Throughput;
    match f.and_then(|f| f.logs.as_ref()) {
        Some(l) => {
            ff.errors_429_1h = l.e429_1h;
            ff.errors_429_24h = l.e429_24h;
            ff.errors_529_1h = l.e529_1h;
            let mut ev = vec![
                Evidence::new("429 last hour / day", format!("{} / {}", l.e429_1h, l.e429_24h)),
                Evidence::new("529 last hour / day", format!("{} / {}", l.e529_1h, l.e529_24h)),
                Evidence::new("401 last hour / day", format!("{} / {}", l.e401_1h, l.e401_24h)),
                Evidence::new("log lines (24 h)", l.lines.to_string()),
            ];
            ev.extend(l.sources.iter().take(5).map(|s| Evidence::new("log", s.clone())));
            if l.e429_1h > 0 {
                let st = if l.e429_1h >= 10 { Status::Fail } else { Status::Warn };
                out.bad("throughput.429", st, Cause::RateLimited, format!("{} rate-limit errors (429) in the last hour", l.e429_1h), ev.clone());
                if authed {
                    let was_green = ctx.history.iter().any(|r| r.errors_429_1h == 0 && r.first_failing_domain.is_none());
                    let why = if was_green { "earlier checks were green and the key still authenticates" } else { "the key authenticates, yet requests fail with 429" };
                    out.bad("throughput.pattern", Status::Warn, Cause::FailsAfterFirstRequests, format!("first requests work, later ones fail: {why}"), vec![]);
                }
            } else if l.e429_24h > 0 {
                out.bad("throughput.429", Status::Warn, Cause::RateLimited, format!("{} rate-limit errors (429) in the last day, none in the last hour", l.e429_24h), ev.clone());
            } else {
                out.pass("throughput.429", d, "no 429s in the gateway logs (24 h)", ev.clone());
            }
            if l.e529_1h > 0 {
                out.bad("throughput.529", Status::Warn, Cause::Overloaded, format!("{} overloaded errors (529) in the last hour", l.e529_1h), ev);
            } else {
                out.pass("throughput.529", d, "no 529s in the last hour", vec![]);
            }
        }
        None if f.is_some() => out.skip("throughput.429", d, "no gateway logs found"),
        None => out.skip("throughput.429", d, "host facts unavailable"),
    }
    // Rate-limit headroom from the probes' headers.
    let rl = [&p.count, &p.billing, &p.models, &p.model].into_iter().filter_map(|x| x.as_ref().and_then(|r| r.as_ref().ok())).find(|pr| !pr.rate_limit.is_empty());
    match rl {
        Some(pr) => {
            let r = &pr.rate_limit;
            let mut ev = vec![Evidence::new("from", pr.endpoint.clone())];
            if let (Some(rem), Some(lim)) = (r.requests_remaining, r.requests_limit) {
                ev.push(Evidence::new("requests remaining", format!("{rem} / {lim}")));
            }
            if let (Some(rem), Some(lim)) = (r.tokens_remaining, r.tokens_limit) {
                ev.push(Evidence::new("tokens remaining", format!("{rem} / {lim}")));
            }
            match r.min_headroom() {
                Some(h) if h < 0.1 => {
                    out.bad("throughput.headroom", Status::Warn, Cause::LowHeadroom, format!("{:.0}% of a rate limit left", h * 100.0), ev);
                }
                _ => out.pass("throughput.headroom", d, "rate-limit headroom ok", ev),
            }
        }
        None => out.skip("throughput.headroom", d, "no rate-limit headers on the probes"),
    }
    // A probe itself throttled or overloaded.
    for pr in [&p.models, &p.model].into_iter().filter_map(|x| x.as_ref().and_then(|r| r.as_ref().ok())) {
        if let Some(c @ (Cause::RateLimited | Cause::Overloaded | Cause::ServerError)) = cause::classify(pr) {
            out.probe_failure("throughput.probe", pr, c, format!("{}: HTTP {}", pr.endpoint, pr.status));
        }
    }
}

// ---- boundary and host baseline ----------------------------------------------------------

fn boundary_checks(ctx: &CheckContext, f: &HostFacts, out: &mut Out) {
    let d = Domain::Boundary;
    // Keys of other instances on this host (any source).
    let mut ev = vec![];
    for k in &f.keys {
        if let Some(owner) = ctx.keys.iter().find(|x| x.fingerprint == k.fingerprint && x.instance.as_deref().is_some_and(|i| i != ctx.instance.name)) {
            if matches!(k.source, KeySource::History(_) | KeySource::WorldReadable(_)) {
                continue;
            }
            ev.push(Evidence::new(k.source.describe(), format!("{} = key '{}' of instance '{}'", sighting(k), owner.name, owner.instance.as_deref().unwrap_or("-"))));
        }
    }
    if ev.is_empty() {
        out.pass("boundary.foreign-keys", d, "no key of another instance on this host", vec![]);
    } else {
        out.bad("boundary.foreign-keys", Status::Fail, Cause::KeyOfOtherInstance, "this host holds a key bound to another instance", ev);
    }
    // Resources.
    let mem_gb = f.mem_kb.map(|k| k as f64 / 1024.0 / 1024.0);
    let ev = vec![
        Evidence::new("os", f.os.clone()),
        Evidence::new("kernel", f.kernel.clone()),
        Evidence::new("vCPU", f.cpus.map(|c| c.to_string()).unwrap_or_else(|| "?".into())),
        Evidence::new("RAM", mem_gb.map(|g| format!("{g:.1} GB")).unwrap_or_else(|| "?".into())),
    ];
    // 8 GB nominal shows as ~7.6 GB MemTotal.
    if f.cpus.is_some_and(|c| c < 2) || mem_gb.is_some_and(|g| g < 7.5) {
        out.bad("host.resources", Status::Warn, Cause::HostUndersized, "below 2 vCPU / 8 GB RAM", ev);
    } else {
        out.pass("host.resources", d, "at least 2 vCPU and 8 GB RAM", ev);
    }
    // Modes and owners.
    let mut mode_ev = vec![];
    let mut owner_ev = vec![];
    for s in &f.stats {
        let want = if s.kind == "state_dir" { 0o700 } else { 0o600 };
        if s.mode & 0o077 != 0 {
            mode_ev.push(Evidence::new(s.path.clone(), format!("mode {:o} (want {:o})", s.mode, want)));
        }
        if f.uid.is_some_and(|u| u != s.uid) {
            owner_ev.push(Evidence::new(s.path.clone(), format!("owned by {} (uid {}), the service user is {}", s.owner, s.uid, f.user)));
        }
    }
    if mode_ev.is_empty() {
        out.pass("host.file-modes", d, "state dir 0700, secret files 0600", vec![Evidence::new("files checked", f.stats.len().to_string())]);
    } else {
        out.bad("host.file-modes", Status::Fail, Cause::FileMode, "secret-bearing files or the state dir are readable by others", mode_ev);
    }
    if owner_ev.is_empty() {
        out.pass("host.file-owners", d, "secret files owned by the service user", vec![]);
    } else {
        out.bad("host.file-owners", Status::Fail, Cause::FileOwner, "secret files not owned by the service user", owner_ev);
    }
    // Keys in shell history and world-readable files.
    let known = |fp: &str| ctx.keys.iter().find(|k| k.fingerprint == fp).map(|k| format!("key '{}'", k.name)).unwrap_or_else(|| "a key not in the inventory".into());
    for (id, pred, cause, what) in [
        ("host.shell-history", (|s: &KeySource| matches!(s, KeySource::History(_))) as fn(&KeySource) -> bool, Cause::KeyInShellHistory, "shell history"),
        ("host.world-readable", |s: &KeySource| matches!(s, KeySource::WorldReadable(_)), Cause::KeyInWorldReadableFile, "world-readable files"),
    ] {
        let hits: Vec<&KeySighting> = f.keys_from(pred);
        if hits.is_empty() {
            out.pass(id, d, format!("no key in {what}"), vec![]);
        } else {
            let ev = hits.iter().take(10).map(|k| Evidence::new(k.source.describe(), format!("{} = {}", sighting(k), known(&k.fingerprint)))).collect();
            out.bad(id, Status::Fail, cause, format!("{} key(s) found in {what}", hits.len()), ev);
        }
    }
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
