//! Credential: the keychain copy, whether the host could be read, which key each agent resolves
//! (OpenClaw's precedence) and whether it is the instance's current key.

use super::{short, sighting, Out};
use crate::checklist::cause::Cause;
use crate::checklist::config::KeyRef;
use crate::checklist::facts::{Facts, HostError};
use crate::checklist::hostfacts::{GatewayProc, HostFacts, KeySighting, KeySource};
use crate::checklist::runner::RunnerError;
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};

/// The credential checks.
pub fn evaluate(f: &Facts) -> Vec<CheckResult> {
    let mut out = Out::new(f);
    match f.active_key() {
        Some(k) if f.gathered.keychain.active => out.pass(
            "credential.keychain",
            Domain::Credential,
            format!("keychain holds the active key '{}'", k.name),
            vec![Evidence::new("key", format!("{} ({} chars, {})", k.hint, k.length, short(&k.fingerprint)))],
        ),
        _ => {
            out.bad("credential.keychain", Status::Fail, Cause::NoKeychainKey, "no active key with a keychain copy for this instance", vec![]);
        }
    }
    match &f.gathered.host {
        None => out.skip("credential.host", Domain::Credential, "host not checked (--no-host)"),
        Some(Err(e)) => {
            let hf = HostFailure::of(&f.instance.name, e);
            let r = out.bad("credential.host", Status::Fail, hf.cause, hf.summary(), vec![Evidence::new(hf.code, hf.message)]);
            if let Some(fix) = hf.fix {
                r.fix = Some(fix);
            }
            if let Some(remedy) = hf.remedy {
                r.remedy = Some(remedy);
            }
        }
        Some(Ok(h)) => host_checks(f, h, &mut out),
    }
    out.checks
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
    fn of(instance: &str, e: &HostError) -> HostFailure {
        match e {
            HostError::Runner(e) => HostFailure::from_runner(instance, e),
            HostError::Report(e) => HostFailure { code: e.code().to_string(), message: e.to_string(), cause: Cause::HostUnreadable, fix: None, remedy: None },
        }
    }

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

/// Precedence rank of a global (not per-agent) source for a *new* process (lower wins).
fn disk_rank(s: &KeySource) -> Option<u8> {
    match s {
        KeySource::UnitEnv => Some(0),
        KeySource::DotEnv => Some(1),
        KeySource::SystemdEnv => Some(2),
        _ => None,
    }
}

/// The key comes from the service unit's own `Environment=`: read there, or running in a
/// process whose best disk source is the unit with that key.
fn from_unit(w: &KeySighting, disk: &[&KeySighting]) -> bool {
    match w.source {
        KeySource::UnitEnv => true,
        KeySource::Proc(_) => disk.first().is_some_and(|d| d.source == KeySource::UnitEnv && d.fingerprint == w.fingerprint),
        _ => false,
    }
}

/// One agent's resolved key.
pub(crate) struct AgentKey<'a> {
    pub agent: String,
    /// The key it uses (`None`: it has none).
    pub winner: Option<&'a KeySighting>,
    /// How many keys its auth profiles hold (the first is assumed to win).
    pub profiles: usize,
}

/// Which key each agent of the host uses, by OpenClaw's precedence.
pub(crate) struct Resolution<'a> {
    /// Global sources a freshly started gateway reads, best first.
    pub disk: Vec<&'a KeySighting>,
    /// The key in the running gateway's environment.
    pub proc_key: Option<&'a KeySighting>,
    /// The running gateway.
    pub running_proc: Option<&'a GatewayProc>,
    /// The configured agents, then the others found on the host, in that order.
    pub agents: Vec<AgentKey<'a>>,
}

impl Resolution<'_> {
    /// The distinct fingerprints the agents use, sorted.
    pub fn fingerprints(&self) -> Vec<String> {
        super::fingerprints(self.agents.iter().filter_map(|a| a.winner))
    }
}

/// Resolves each agent's key from the host facts and the config.
pub(crate) fn resolve<'a>(f: &Facts, h: &'a HostFacts) -> Resolution<'a> {
    let cfg = f.gathered.config_facts();
    // What a freshly started gateway would use (global sources).
    let mut disk: Vec<&KeySighting> = h.keys.iter().filter(|k| disk_rank(&k.source).is_some()).collect();
    disk.sort_by_key(|k| disk_rank(&k.source));
    let config_key = |r: &Option<KeyRef>| -> Option<&'a KeySighting> {
        match r {
            Some(KeyRef::Literal(n)) => h.keys.iter().find(|k| k.source == KeySource::Config(*n)),
            // A file SecretRef: the key in the file its provider names (`~/` is the host's home).
            Some(r @ KeyRef::SecretRef(_)) => {
                let path = cfg.and_then(|c| c.secret_file_of(r))?;
                let want = match path.strip_prefix("~/") {
                    Some(rest) => format!("{}/{rest}", h.home.trim_end_matches('/')),
                    None => path.to_string(),
                };
                h.keys.iter().find(|k| matches!(&k.source, KeySource::SecretFile(p) if *p == want))
            }
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
    let proc_key: Option<&KeySighting> = h.keys.iter().find(|k| matches!(k.source, KeySource::Proc(_)));
    let running_proc = h.procs.first();
    let global_running: Option<&KeySighting> = match (proc_key, running_proc) {
        (Some(k), _) => Some(k),
        _ => disk_winner,
    };

    let mut names: Vec<String> = f.instance.agents.clone();
    for (a, exists) in &h.agents {
        if *exists && !names.contains(a) {
            names.push(a.clone());
        }
    }
    let agents = names
        .into_iter()
        .map(|a| {
            // The agent's own profile store first, then the shared one (OpenClaw 2026.9+), then env.
            let mut profiles: Vec<&KeySighting> = h.keys.iter().filter(|k| k.source == KeySource::Profile(a.clone())).collect();
            if profiles.is_empty() {
                profiles = h.keys.iter().filter(|k| k.source == KeySource::SharedProfile).collect();
            }
            AgentKey { winner: profiles.first().copied().or(global_running), profiles: profiles.len(), agent: a }
        })
        .collect();
    Resolution { disk, proc_key, running_proc, agents }
}

/// The checks that need the host's facts.
fn host_checks(f: &Facts, h: &HostFacts, out: &mut Out) {
    let res = resolve(f, h);
    resolved(&res, out);
    stale_process(f, h, &res, out);
    matches_keychain(f, h, &res, out);
    auth_cooldown(h, out);
}

/// `credential.auth-cooldown`: OpenClaw has no Anthropic auth profile in a cooldown or disabled
/// window (its persisted auth-profile state). Absent when that state could not be read.
fn auth_cooldown(h: &HostFacts, out: &mut Out) {
    if h.auth_state_read.is_empty() {
        return;
    }
    let blocks: Vec<_> = h.auth_blocks.iter().filter(|b| b.provider().eq_ignore_ascii_case("anthropic")).collect();
    if blocks.is_empty() {
        out.pass(
            "credential.auth-cooldown",
            Domain::Credential,
            "no Anthropic auth profile is in an OpenClaw cooldown",
            vec![Evidence::new("state read", h.auth_state_read.join(", "))],
        );
        return;
    }
    let ev: Vec<Evidence> = blocks
        .iter()
        .map(|b| {
            let left = b.remaining_ms.div_ceil(1000);
            let left = if left >= 120 { format!("{} min", left.div_ceil(60)) } else { format!("{left} s") };
            let reason = if b.reason.is_empty() { "unknown" } else { b.reason.as_str() };
            Evidence::new(format!("{} ({})", b.profile, b.store), format!("{} for {left} more, reason {reason}", if b.disabled { "disabled" } else { "cooling down" }))
        })
        .collect();
    // A rate-limit or overload cooldown clears itself; a rejected key or billing does not.
    let transient = blocks.iter().all(|b| matches!(b.reason.as_str(), "rate_limit" | "overloaded" | "timeout"));
    let status = if transient { Status::Warn } else { Status::Fail };
    let names: Vec<&str> = blocks.iter().map(|b| b.profile.as_str()).collect();
    out.bad(
        "credential.auth-cooldown",
        status,
        Cause::AuthProfileCooldown,
        format!("OpenClaw has taken {} out of use: requests fail on the host without reaching Anthropic", names.join(", ")),
        ev,
    );
}

/// `credential.resolved`: every agent has a key.
fn resolved(res: &Resolution, out: &mut Out) {
    let mut resolved_ev = Vec::new();
    let mut missing = Vec::new();
    for ak in &res.agents {
        let a = &ak.agent;
        match ak.winner {
            Some(k) => {
                resolved_ev.push(Evidence::new(format!("agent {a}"), format!("{} from {}", sighting(k), k.source.describe())));
                if ak.profiles > 1 {
                    resolved_ev.push(Evidence::new(format!("agent {a}"), format!("{} keys in its auth profiles; the first is assumed to win", ak.profiles)));
                }
            }
            None => missing.push(a.clone()),
        }
    }
    let running_proc = res.running_proc;
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
}

/// `credential.stale-process`: the running gateway has another key than its env file (or the
/// file changed after it started).
fn stale_process(f: &Facts, h: &HostFacts, res: &Resolution, out: &mut Out) {
    let active = f.active_key();
    let (disk, proc_key, running_proc) = (&res.disk, res.proc_key, res.running_proc);
    if let (Some(pk), Some(dk)) = (proc_key, disk.first()) {
        if pk.fingerprint != dk.fingerprint {
            let file_is_current = active.is_some_and(|a| a.fingerprint == dk.fingerprint);
            let proc_is_current = active.is_some_and(|a| a.fingerprint == pk.fingerprint);
            let mut ev = vec![Evidence::new("running process", sighting(pk)), Evidence::new(dk.source.describe(), sighting(dk))];
            if file_is_current {
                out.bad("credential.stale-process", Status::Fail, Cause::RestartNeeded, "the running gateway still has the old key; the file has the current one", ev);
            } else if proc_is_current {
                // The gateway works with the current key and the file is what is wrong: a
                // restart would load the file's key and take a working agent down. Redeploy.
                let file_key = f.keys.iter().find(|k| k.fingerprint == dk.fingerprint);
                let (cause, what) = if f.gathered.keychain.is_truncation(dk.length, &dk.fingerprint) {
                    ev.push(Evidence::new("proof", format!("SHA-256 of the keychain key's first {} characters equals the file's", dk.length)));
                    (Cause::KeyTruncated, format!("the file holds the current key cut short ({} chars)", dk.length))
                } else if let Some(k) = file_key.filter(|k| k.instance.as_deref() == Some(&f.instance.name)) {
                    (Cause::RetiredKeyDeployed, format!("the file holds '{}', a {} version of this instance's key", k.name, k.status.as_str()))
                } else if let Some(k) = file_key {
                    (Cause::KeyOfOtherInstance, format!("the file holds key '{}' of instance '{}'", k.name, k.instance.as_deref().unwrap_or("-")))
                } else {
                    (Cause::KeyMismatch, "the file holds a key that is not this instance's".to_string())
                };
                out.bad(
                    "credential.stale-process",
                    Status::Fail,
                    cause,
                    format!("{what}, while the running gateway still has the current key: do not restart it (it would load the file's key); deploy the key again"),
                    ev,
                );
            } else {
                out.bad("credential.stale-process", Status::Warn, Cause::RestartNeeded, "the running gateway's key differs from the one in its env file", ev);
            }
        } else {
            out.pass("credential.stale-process", Domain::Credential, "the running gateway has the key its env file holds", vec![]);
        }
    } else if let (Some(p), Some(env_stat)) = (running_proc, h.stat("env")) {
        // Real OpenClaw loads .env in-process (not visible in /proc): compare times instead.
        // Only when the file holds the current key (or the current key is unknown): a restart
        // would load whatever the file holds, and a file with another key is the file's problem
        // (`credential.matches-keychain` names it), not the process's.
        let file_may_be_current = |k: &KeySighting| active.is_none_or(|a| a.fingerprint == k.fingerprint);
        if proc_key.is_none() && p.started > 0 && env_stat.mtime > p.started && disk.iter().any(|k| k.source == KeySource::DotEnv && file_may_be_current(k)) {
            out.bad(
                "credential.stale-process",
                Status::Warn,
                Cause::RestartNeeded,
                ".env changed after the gateway started: it still runs with the key it read at start",
                vec![Evidence::new(".env modified", env_stat.mtime.to_string()), Evidence::new("gateway started", p.started.to_string())],
            );
        }
    }
}

/// `credential.matches-keychain.<agent>`: each agent's key against the keychain's, and if it
/// differs, why (restart, auth profile, truncation, retired, another instance's, unknown).
fn matches_keychain(f: &Facts, h: &HostFacts, res: &Resolution, out: &mut Out) {
    let Some(active) = f.active_key() else { return };
    let disk = &res.disk;
    for (a, w) in res.agents.iter().filter_map(|ak| ak.winner.map(|w| (&ak.agent, w))) {
        let id = format!("credential.matches-keychain.{a}");
        let mut ev = vec![
            Evidence::new("on host", format!("{} from {}", sighting(w), w.source.describe())),
            Evidence::new("keychain", format!("{} ({} chars, {})", active.hint, active.length, short(&active.fingerprint))),
        ];
        if w.fingerprint == active.fingerprint {
            out.pass(&id, Domain::Credential, format!("agent {a} uses the current key"), ev);
            continue;
        }
        // Truncation: the host's fingerprint equals the keychain key's prefix of that length
        // (proven by the gathering, which has the value).
        let truncated = f.gathered.keychain.is_truncation(w.length, &w.fingerprint);
        let by_fp = f.keys.iter().find(|k| k.fingerprint == w.fingerprint);
        let is_profile = |s: &KeySource| matches!(s, KeySource::Profile(_) | KeySource::SharedProfile);
        let lower_has_current = is_profile(&w.source) && h.keys.iter().any(|k| !is_profile(&k.source) && !k.source.is_copy() && k.fingerprint == active.fingerprint);
        let restart = matches!(w.source, KeySource::Proc(_)) && disk.first().is_some_and(|d| d.fingerprint == active.fingerprint);
        if restart {
            out.bad(&id, Status::Fail, Cause::RestartNeeded, format!("agent {a}: the running gateway has an old key; a restart picks up the current one"), ev);
        } else if lower_has_current {
            out.bad(&id, Status::Fail, Cause::AuthProfileOverridesEnv, format!("agent {a}: an auth profile with another key beats the current key in the env"), ev);
        } else if truncated {
            ev.push(Evidence::new("proof", format!("SHA-256 of the keychain key's first {} characters equals the host's", w.length)));
            out.bad(&id, Status::Fail, Cause::KeyTruncated, format!("agent {a}: the key on the host is truncated ({} of {} chars)", w.length, active.length), ev);
        } else if from_unit(w, disk) && by_fp.is_none_or(|k| k.instance.as_deref() == Some(&f.instance.name)) {
            // The unit's own Environment= beats every file: a deploy cannot win against it
            // (and refuses), so the unit is what to fix first.
            out.bad(&id, Status::Fail, Cause::KeyInUnitEnvironment, format!("agent {a}: the service unit's Environment= sets another key, which beats .env"), ev);
        } else if let Some(k) = by_fp.filter(|k| k.instance.as_deref() == Some(&f.instance.name)) {
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
