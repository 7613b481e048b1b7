//! Host facts: one POSIX `sh` script, sent on stdin over one SSH session, gathers everything the
//! checklist needs from a host in a single round trip, and [`parse`] reads its report.
//!
//! **The script never prints a key.** Every key-shaped value it finds (auth-profile SQLite, the
//! gateway's `/proc/<pid>/environ`, `.env`, systemd env files, the config, shell history,
//! world-readable files) is hashed on the host (`printf %s "$k" | sha256sum`: the value goes to
//! the hashing command through a pipe, never through argv) and reported only as length, hint
//! (first 16 + last 4 characters; of a value under 40 characters only the first 4, under 16
//! none — as [`crate::model::keyfmt::hint`]) and SHA-256. Key-shaped strings in `openclaw.json` are replaced
//! by `__CK_KEY_<n>__` markers before the (otherwise needed) config text is sent.
//!
//! **Opt-in probe from the host** (`probe_url`): for each distinct key the gateway could use
//! (process env, env files, auth profiles, config literals; not history or world-readable
//! copies), at most 8, the script sends `GET /v1/models?limit=1` from the host with `curl`,
//! the key going to curl through a pipe as a header file (`-H @-`), never argv; the report
//! carries only the status, org/workspace headers, request id, error message and curl's error.
//!
//! Report format (version 1), line-oriented, `|`-separated, between a header and a trailer that
//! carry a per-run nonce (so login-shell noise before or after is ignored, and a cut-off report
//! is detected):
//!
//! ```text
//! CLAWKEEP-FACTS 1 <nonce>
//! user|<name>|<uid>          os|<pretty name>         cpus|<n>        mem_kb|<n>
//! openclaw|<openclaw --version output or empty>
//! stat|<kind>|<octal mode>|<uid>|<owner>|<mtime>|<path>
//! clobbered|<file name>      config|present|missing   cfg|<redacted config line>
//! agent|<id>|<1 if its agent dir exists>
//! proc|<pid>|<start epoch>|<cmdline>                   procenv|<pid>|none|unreadable
//! proccg|<pid>|1|0 (in the unit's cgroup)               unitpid|<MainPID>
//! key|<len>|<hint>|<sha256>|<source>
//! hprobe|<sha256>|<http status, 0 if none>|<org>|<workspace>|<request id>|<error type>|<message>|<curl error>
//! logs|<429 1h>|<429 24h>|<529 1h>|<529 24h>|<401 1h>|<401 24h>|<lines>
//! logsrc|<path or journal:unit>
//! CLAWKEEP-END 1 <nonce>
//! ```
//!
//! The parser is defensive: a missing header or trailer, or garbage in between, gives a
//! [`FactsError`] (shown as "could not read the host"), never a panic; unknown lines are
//! counted and skipped; every field is length-capped and sanitised.

use crate::ssh::sh_quote;
use chrono::{DateTime, Duration, Utc};

/// Version of the report format.
pub const FACTS_VERSION: u32 = 1;
/// Most bytes of output the parser reads.
pub const MAX_OUTPUT: usize = 8 << 20;

/// Inputs of the script (validated by core before they get here).
#[derive(Debug, Clone)]
pub struct ScriptParams {
    pub nonce: String,
    /// `~/.openclaw`, `~/x` or absolute.
    pub state_dir: String,
    pub agents: Vec<String>,
    /// systemd user unit, if the instance uses one.
    pub unit: Option<String>,
    pub now: DateTime<Utc>,
    /// API base URL to probe from the host (opt-in); `None`: no request leaves the host.
    pub probe_url: Option<String>,
}

/// The script's body: a real shell file (linted by shellcheck in the test command), included at
/// build time; [`script`] prepends the variable assignments.
const SCRIPT_BODY: &str = include_str!("../remote/hostfacts.sh");

/// The script for one host: parameters as single-quoted shell assignments, then the body.
pub fn script(p: &ScriptParams) -> String {
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let agents = p.agents.iter().filter(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')).cloned().collect::<Vec<_>>().join(" ");
    format!(
        "#!/bin/sh\n# Clawkeep host facts v{FACTS_VERSION}: read-only; prints fingerprints of keys, never keys.\nN={}\nPURL={}\nST={}\nAGENTS={}\nUNIT={}\nC1H={}\nC24H={}\nD0={}\nD1={}\n{SCRIPT_BODY}",
        sh_quote(&p.nonce),
        // The probe sends every host's keys to this URL: the same check as the client's (a
        // refused URL means no probe at all; core checked it before, this is the last guard).
        sh_quote(&p.probe_url.as_deref().and_then(|u| crate::anthropic::check_base_url(u).ok()).unwrap_or_default()),
        sh_quote(&p.state_dir),
        sh_quote(&agents),
        sh_quote(p.unit.as_deref().unwrap_or("")),
        sh_quote(&fmt(p.now - Duration::hours(1))),
        sh_quote(&fmt(p.now - Duration::hours(24))),
        sh_quote(&(p.now - Duration::days(1)).format("%Y-%m-%d").to_string()),
        sh_quote(&p.now.format("%Y-%m-%d").to_string()),
    )
}

/// A fresh random nonce for the report header.
pub fn nonce() -> String {
    let b: [u8; 8] = rand::random();
    hex::encode(b)
}

/// Where a key was seen on the host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeySource {
    /// A stored auth profile in the agent's SQLite.
    Profile(String),
    /// A stored auth profile in the shared store every agent reads (OpenClaw 2026.9+:
    /// `state/openclaw.sqlite`, row `authProfiles.store`).
    SharedProfile,
    /// Legacy `auth-profiles.json` (not read at runtime).
    Legacy(String),
    /// `agents/<id>/agent/models.json`.
    ModelsJson(String),
    /// `ANTHROPIC_API_KEY` in the state dir's `.env`.
    DotEnv,
    /// An `EnvironmentFile` of the service (`gateway.systemd.env`, …).
    SystemdEnv,
    /// `Environment=ANTHROPIC_API_KEY=` in the unit.
    UnitEnv,
    /// The running gateway's environment.
    Proc(u32),
    /// The n-th key-shaped string of `openclaw.json`.
    Config(u32),
    /// A shell history file.
    History(String),
    /// A world-readable file.
    WorldReadable(String),
    /// A file of OpenClaw's own under the state dir that is not a key store (its catalog cache,
    /// the config audit log, …) holding a key in plain text.
    Leftover(String),
    /// A secret file (the state dir's `secrets/`, or a path a file secret provider of the
    /// config names): read by the gateway only through a config SecretRef.
    SecretFile(String),
    /// `openclaw.json.last-good`: the config OpenClaw restores when it rejects the live one.
    LastGood,
}

impl KeySource {
    /// Reads a source from host text: its argument (an agent id, a file path) is cleaned here,
    /// where it enters, like every other field of the report.
    fn parse(s: &str) -> Option<KeySource> {
        let s = clean(s, 512);
        let (kind, arg) = s.split_once(':').unwrap_or((&s, ""));
        Some(match kind {
            "profile" => KeySource::Profile(arg.into()),
            "shared_profile" => KeySource::SharedProfile,
            "legacy" => KeySource::Legacy(arg.into()),
            "models_json" => KeySource::ModelsJson(arg.into()),
            "dotenv" => KeySource::DotEnv,
            "systemd_env" => KeySource::SystemdEnv,
            "unit_env" => KeySource::UnitEnv,
            "proc" => KeySource::Proc(arg.parse().ok()?),
            "config" => KeySource::Config(arg.parse().ok()?),
            "history" => KeySource::History(arg.into()),
            "world" => KeySource::WorldReadable(arg.into()),
            "leftover" => KeySource::Leftover(arg.into()),
            "secret_file" => KeySource::SecretFile(arg.into()),
            "lastgood" => KeySource::LastGood,
            _ => return None,
        })
    }

    /// A copy no gateway reads its key from (shell history, a world-readable file, OpenClaw's
    /// leftovers, the last-good config until OpenClaw restores it).
    pub fn is_copy(&self) -> bool {
        matches!(self, KeySource::History(_) | KeySource::WorldReadable(_) | KeySource::Leftover(_) | KeySource::LastGood)
    }

    pub fn describe(&self) -> String {
        match self {
            KeySource::Profile(a) => format!("auth profile (agents/{a}/agent/openclaw-agent.sqlite)"),
            KeySource::SharedProfile => "auth profile (shared store, state/openclaw.sqlite)".into(),
            KeySource::Legacy(a) => format!("legacy agents/{a}/agent/auth-profiles.json"),
            KeySource::ModelsJson(a) => format!("agents/{a}/agent/models.json"),
            KeySource::DotEnv => "ANTHROPIC_API_KEY in <state dir>/.env".into(),
            KeySource::SystemdEnv => "ANTHROPIC_API_KEY in the service's EnvironmentFile".into(),
            KeySource::UnitEnv => "Environment=ANTHROPIC_API_KEY in the systemd unit".into(),
            KeySource::Proc(p) => format!("the running gateway's environment (pid {p})"),
            KeySource::Config(n) => format!("literal key #{n} in openclaw.json"),
            KeySource::History(f) => format!("shell history {f}"),
            KeySource::WorldReadable(f) => format!("world-readable file {f}"),
            KeySource::Leftover(f) => format!("OpenClaw file {f}"),
            KeySource::SecretFile(f) => format!("secret file {f}"),
            KeySource::LastGood => "openclaw.json.last-good (the config OpenClaw restores)".into(),
        }
    }
}

/// A key seen on the host: never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySighting {
    pub source: KeySource,
    pub length: u32,
    pub hint: String,
    /// SHA-256, lowercase hex, computed on the host.
    pub fingerprint: String,
}

/// `GET /v1/models?limit=1` sent from the host with one of its keys (opt-in).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostProbe {
    /// SHA-256 of the key used.
    pub fingerprint: String,
    /// HTTP status; 0 when no response came (see `transport_error`).
    pub status: u16,
    pub organization_id: Option<String>,
    pub workspace_id: Option<String>,
    pub request_id: Option<String>,
    pub error_type: Option<String>,
    pub message: Option<String>,
    /// curl's own error (DNS, connect, TLS, timeout), or "curl is not installed".
    pub transport_error: Option<String>,
}

/// `stat` of a file that matters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    pub kind: String,
    pub mode: u32,
    pub uid: u32,
    pub owner: String,
    pub mtime: i64,
    pub path: String,
}

/// A candidate gateway process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayProc {
    pub pid: u32,
    pub started: i64,
    pub cmdline: String,
    /// `Some(false)`: environment readable, no `ANTHROPIC_API_KEY`; `None`: unreadable;
    /// `Some(true)`: has one (see the `Proc` key sighting).
    pub env_has_key: Option<bool>,
    /// In the instance's systemd unit's cgroup (`Some(false)`: started by hand beside it);
    /// `None` when not a systemd instance or unknown.
    pub in_unit: Option<bool>,
}

/// An auth profile OpenClaw has taken out of use locally after a failure (its auth-profile
/// state's `usageStats`): while it lasts, requests on that profile fail without reaching the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthBlock {
    /// `shared` (the state database) or `agent:<id>`.
    pub store: String,
    /// `anthropic:default`, `inline-api-key:anthropic` (a key from `.env`/config), …
    pub profile: String,
    /// `disabledUntil` (billing, revoked: up to hours) rather than `cooldownUntil` (minutes).
    pub disabled: bool,
    pub remaining_ms: u64,
    /// OpenClaw's reason: `auth`, `billing`, `rate_limit`, `overloaded`, …
    pub reason: String,
}

impl AuthBlock {
    /// The provider the profile belongs to (`inline-api-key:<provider>` or `<provider>:<name>`).
    pub fn provider(&self) -> &str {
        match self.profile.strip_prefix("inline-api-key:") {
            Some(p) => p,
            None => self.profile.split(':').next().unwrap_or(""),
        }
    }
}

/// Log error counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogCounts {
    pub e429_1h: u32,
    pub e429_24h: u32,
    pub e529_1h: u32,
    pub e529_24h: u32,
    pub e401_1h: u32,
    pub e401_24h: u32,
    pub lines: u64,
    pub sources: Vec<String>,
}

/// Everything the script reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFacts {
    pub user: String,
    pub uid: Option<u32>,
    pub home: String,
    pub state_dir: String,
    pub os: String,
    pub kernel: String,
    pub cpus: Option<u32>,
    pub mem_kb: Option<u64>,
    /// `openclaw --version` output; `None` when OpenClaw was not found.
    pub openclaw_version: Option<String>,
    pub stats: Vec<FileStat>,
    pub clobbered: Vec<String>,
    pub config_present: bool,
    /// The config text with keys replaced by markers.
    pub config_text: String,
    /// `(agent id, agent dir exists)`.
    pub agents: Vec<(String, bool)>,
    pub procs: Vec<GatewayProc>,
    /// The systemd unit's MainPID (`None`: not running, or not a systemd instance).
    pub unit_main_pid: Option<u32>,
    pub keys: Vec<KeySighting>,
    /// Results of the opt-in probe from the host, one per key fingerprint.
    pub host_probes: Vec<HostProbe>,
    pub logs: Option<LogCounts>,
    /// Auth-profile state stores that could be read (`shared`, `agent:<id>`); empty: not known
    /// (no sqlite3 on the host, or no state yet).
    pub auth_state_read: Vec<String>,
    /// Profiles in a cooldown or disabled window now.
    pub auth_blocks: Vec<AuthBlock>,
    /// Lines that were not understood (hostile or corrupted output).
    pub skipped_lines: u32,
}

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("the host's report has no header (the script did not run, or its output was replaced)")]
    NoHeader,
    #[error("the host's report is cut off (no end marker): the connection dropped or the output was truncated")]
    Truncated,
    #[error("the host's report is version {0}; this Clawkeep reads version {FACTS_VERSION}")]
    Version(String),
}

impl FactsError {
    pub fn code(&self) -> &'static str {
        match self {
            FactsError::NoHeader => "facts_no_header",
            FactsError::Truncated => "facts_truncated",
            FactsError::Version(_) => "facts_version",
        }
    }
}

/// Printable, single-line, keys masked, at most `max` characters: the one host-text
/// sanitizer, [`crate::hosttext::line`].
fn clean(s: &str, max: usize) -> String {
    crate::hosttext::line(s, max)
}

/// An identifier from the host (an auth profile id such as `inline-api-key:anthropic`, which
/// the prose sanitizer would mask as a key assignment): only `[A-Za-z0-9:._@/-]` kept, anything
/// else `?`, and a key-shaped id masked whole.
fn clean_id(s: &str, max: usize) -> String {
    if s.contains("sk-ant-") {
        return "<masked>".into();
    }
    s.chars().take(max).map(|c| if c.is_ascii_alphanumeric() || ":._@/-".contains(c) { c } else { '?' }).collect()
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses a report. Only the block between this run's header and trailer is read.
pub fn parse(output: &[u8], nonce: &str) -> Result<HostFacts, FactsError> {
    let output = &output[..output.len().min(MAX_OUTPUT)];
    let text = String::from_utf8_lossy(output);
    let header = format!("CLAWKEEP-FACTS {FACTS_VERSION} {nonce}");
    let trailer = format!("CLAWKEEP-END {FACTS_VERSION} {nonce}");
    let mut lines = text.lines();
    let mut found = false;
    for l in lines.by_ref() {
        let l = l.trim_end_matches('\r');
        if l == header {
            found = true;
            break;
        }
        if let Some(rest) = l.strip_prefix("CLAWKEEP-FACTS ") {
            let mut it = rest.split(' ');
            let (v, n) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if n == nonce && v != FACTS_VERSION.to_string() {
                return Err(FactsError::Version(clean(v, 16)));
            }
        }
    }
    if !found {
        return Err(FactsError::NoHeader);
    }
    let mut f = HostFacts::default();
    let mut ended = false;
    let mut cfg = String::new();
    for l in lines {
        let l = l.trim_end_matches('\r');
        if l == trailer {
            ended = true;
            break;
        }
        if l.len() > 65536 {
            f.skipped_lines += 1;
            continue;
        }
        let (tag, rest) = l.split_once('|').unwrap_or((l, ""));
        let ok = match tag {
            "cfg" => {
                if cfg.len() < 512 * 1024 {
                    cfg.push_str(rest);
                    cfg.push('\n');
                }
                true
            }
            "user" => {
                let mut it = rest.splitn(2, '|');
                f.user = clean(it.next().unwrap_or(""), 64);
                f.uid = it.next().and_then(|u| u.trim().parse().ok());
                true
            }
            "home" => {
                f.home = clean(rest, 512);
                true
            }
            "state" => {
                f.state_dir = clean(rest, 512);
                true
            }
            "os" => {
                f.os = clean(rest, 128);
                true
            }
            "kernel" => {
                f.kernel = clean(rest, 128);
                true
            }
            "cpus" => {
                f.cpus = rest.trim().parse().ok().filter(|n| *n > 0 && *n < 100_000);
                true
            }
            "mem_kb" => {
                f.mem_kb = rest.trim().parse().ok();
                true
            }
            "openclaw" => {
                let v = clean(rest.trim(), 128);
                f.openclaw_version = if v.is_empty() { None } else { Some(v) };
                true
            }
            "stat" => {
                let p: Vec<&str> = rest.splitn(6, '|').collect();
                match p.as_slice() {
                    [kind, mode, uid, owner, mtime, path] => match (u32::from_str_radix(mode.trim(), 8), uid.trim().parse()) {
                        (Ok(mode), Ok(uid)) if f.stats.len() < 1000 => {
                            f.stats.push(FileStat { kind: clean(kind, 32), mode, uid, owner: clean(owner, 64), mtime: mtime.trim().parse().unwrap_or(0), path: clean(path, 512) });
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
            "clobbered" => {
                if f.clobbered.len() < 100 {
                    f.clobbered.push(clean(rest, 256));
                }
                true
            }
            "config" => {
                f.config_present = rest == "present";
                true
            }
            "agent" => {
                let (id, exists) = rest.split_once('|').unwrap_or((rest, "0"));
                let id = clean(id, 64);
                if !id.is_empty() && f.agents.len() < 200 && !f.agents.iter().any(|(a, _)| *a == id) {
                    f.agents.push((id, exists == "1"));
                }
                true
            }
            "proc" => {
                let p: Vec<&str> = rest.splitn(3, '|').collect();
                match p.as_slice() {
                    [pid, started, cmd] => match pid.trim().parse() {
                        Ok(pid) if f.procs.len() < 50 => {
                            f.procs.push(GatewayProc { pid, started: started.trim().parse().unwrap_or(0), cmdline: clean(cmd, 300), env_has_key: None, in_unit: None });
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
            "proccg" => {
                let (pid, what) = rest.split_once('|').unwrap_or((rest, ""));
                match f.procs.iter_mut().find(|p| Some(p.pid) == pid.trim().parse().ok()) {
                    Some(p) if what == "1" || what == "0" => {
                        p.in_unit = Some(what == "1");
                        true
                    }
                    _ => false,
                }
            }
            "authread" => {
                let store = clean_id(rest.trim(), 80);
                if !store.is_empty() && f.auth_state_read.len() < 200 && !f.auth_state_read.contains(&store) {
                    f.auth_state_read.push(store);
                }
                true
            }
            "authstate" => {
                let p: Vec<&str> = rest.splitn(5, '|').collect();
                match p.as_slice() {
                    [store, profile, kind, left, reason] if matches!(*kind, "cooldown" | "disabled") && f.auth_blocks.len() < 100 => match left.trim().parse::<f64>() {
                        Ok(ms) if ms.is_finite() && ms > 0.0 => {
                            f.auth_blocks.push(AuthBlock {
                                store: clean_id(store, 80),
                                profile: clean_id(profile, 128),
                                disabled: *kind == "disabled",
                                remaining_ms: ms.min(1e15) as u64,
                                reason: clean_id(reason, 64),
                            });
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
            "unitpid" => {
                f.unit_main_pid = rest.trim().parse().ok().filter(|p| *p != 0);
                true
            }
            "procenv" => {
                let (pid, what) = rest.split_once('|').unwrap_or((rest, ""));
                match (pid.trim().parse::<u32>(), f.procs.iter_mut().find(|p| Some(p.pid) == pid.trim().parse().ok())) {
                    (Ok(_), Some(p)) => {
                        p.env_has_key = if what == "none" { Some(false) } else { None };
                        true
                    }
                    _ => false,
                }
            }
            "hprobe" => {
                let p: Vec<&str> = rest.splitn(8, '|').collect();
                let opt = |s: &str, max: usize| Some(clean(s.trim(), max)).filter(|v| !v.is_empty());
                match p.as_slice() {
                    [fp, st, org, ws, rid, et, msg, err] if is_sha256(fp) && f.host_probes.len() < 16 => {
                        if !f.host_probes.iter().any(|h| h.fingerprint == *fp) {
                            f.host_probes.push(HostProbe {
                                fingerprint: fp.to_string(),
                                status: st.trim().parse().unwrap_or(0),
                                organization_id: opt(org, 128),
                                workspace_id: opt(ws, 128),
                                request_id: opt(rid, 128),
                                error_type: opt(et, 64),
                                message: opt(msg, 300),
                                transport_error: opt(err, 300),
                            });
                        }
                        true
                    }
                    _ => false,
                }
            }
            "key" => {
                let p: Vec<&str> = rest.splitn(4, '|').collect();
                match p.as_slice() {
                    [len, hint, fp, source] => match (len.trim().parse::<u32>(), KeySource::parse(source)) {
                        (Ok(length), Some(source)) if is_sha256(fp) && length <= 4096 && f.keys.len() < 1000 => {
                            if let KeySource::Proc(pid) = &source {
                                if let Some(p) = f.procs.iter_mut().find(|p| p.pid == *pid) {
                                    p.env_has_key = Some(true);
                                }
                            }
                            let k = KeySighting {
                                source,
                                length,
                                hint: hint.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).take(32).collect(),
                                fingerprint: fp.to_string(),
                            };
                            if !f.keys.contains(&k) {
                                f.keys.push(k);
                            }
                            true
                        }
                        _ => false,
                    },
                    _ => false,
                }
            }
            "logsrc" => {
                let logs = f.logs.get_or_insert_with(LogCounts::default);
                if logs.sources.len() < 20 {
                    logs.sources.push(clean(rest, 256));
                }
                true
            }
            "logs" => {
                let n: Vec<u64> = rest.split('|').map(|x| x.trim().parse().unwrap_or(0)).collect();
                if n.len() == 7 {
                    let logs = f.logs.get_or_insert_with(LogCounts::default);
                    let c = |i: usize| n[i].min(u32::MAX as u64) as u32;
                    logs.e429_1h = c(0);
                    logs.e429_24h = c(1);
                    logs.e529_1h = c(2);
                    logs.e529_24h = c(3);
                    logs.e401_1h = c(4);
                    logs.e401_24h = c(5);
                    logs.lines = n[6];
                    true
                } else {
                    false
                }
            }
            _ => false,
        };
        if !ok {
            f.skipped_lines = f.skipped_lines.saturating_add(1);
        }
    }
    if !ended {
        return Err(FactsError::Truncated);
    }
    f.config_text = cfg;
    Ok(f)
}

impl HostFacts {
    pub fn keys_from(&self, pred: impl Fn(&KeySource) -> bool) -> Vec<&KeySighting> {
        self.keys.iter().filter(|k| pred(&k.source)).collect()
    }

    pub fn stat(&self, kind: &str) -> Option<&FileStat> {
        self.stats.iter().find(|s| s.kind == kind)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const FP: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn good(n: &str) -> String {
        format!(
            "Welcome banner\nnoise|key|1|x|y\nCLAWKEEP-FACTS 1 {n}\nuser|ckh1|1001\nhome|/home/x\nos|Debian GNU/Linux 12 (bookworm)\ncpus|2\nmem_kb|8000000\nopenclaw|OpenClaw 2026.9.6 (eb377ac)\n\
stat|state_dir|700|1001|ckh1|1700000000|/home/x/.openclaw\nstat|env|644|1001|ckh1|1700000000|/home/x/.openclaw/.env\nclobbered|openclaw.json.clobbered.2026-11-01T00:00:00Z\n\
config|present\ncfg|{{ meta: {{}}, models: {{ providers: {{ anthropic: {{ apiKey: \"__CK_KEY_1__\" }} }} }} }}\nkey|108|sk-ant-api03-abc...xyAA|{FP}|config:1\n\
agent|main|1\nproc|4242|1700000001|/usr/bin/node openclaw gateway run\nkey|108|sk-ant-api03-abc...xyAA|{FP}|proc:4242\nkey|100|sk-ant-api03-abc...zzzz|{FP}|dotenv\n\
logsrc|/home/x/.openclaw/logs/openclaw.log\nlogs|3|5|1|1|0|0|120\nCLAWKEEP-END 1 {n}\ntrailing noise\n"
        )
    }

    #[test]
    fn parses_a_good_report_among_noise() {
        let f = parse(good("n1").as_bytes(), "n1").unwrap();
        assert_eq!(f.user, "ckh1");
        assert_eq!(f.uid, Some(1001));
        assert_eq!(f.cpus, Some(2));
        assert_eq!(f.openclaw_version.as_deref(), Some("OpenClaw 2026.9.6 (eb377ac)"));
        assert_eq!(f.stat("env").unwrap().mode, 0o644);
        assert_eq!(f.clobbered.len(), 1);
        assert!(f.config_text.contains("__CK_KEY_1__"));
        assert_eq!(f.keys.len(), 3);
        assert_eq!(f.procs[0].env_has_key, Some(true));
        assert_eq!(f.logs.as_ref().unwrap().e429_1h, 3);
        assert_eq!(f.skipped_lines, 0);
    }

    #[test]
    fn auth_profile_windows_are_read_and_bad_lines_skipped() {
        let n = "n3";
        let r = format!(
            "CLAWKEEP-FACTS 1 {n}\nauthread|shared\nauthread|agent:main\nauthread|shared\n\
authstate|shared|inline-api-key:anthropic|cooldown|59000|auth\nauthstate|agent:main|anthropic:old|disabled|3600000.7|billing\n\
authstate|shared|x|frozen|5|auth\nauthstate|shared|x|cooldown|-5|auth\nauthstate|shared|x|cooldown|NaN|auth\nauthstate|shared|{esc}[31mevil|cooldown|1|a{bel}\n\
CLAWKEEP-END 1 {n}\n",
            esc = '\u{1b}',
            bel = '\u{7}'
        );
        let f = parse(r.as_bytes(), n).unwrap();
        assert_eq!(f.auth_state_read, vec!["shared".to_string(), "agent:main".into()]);
        assert_eq!(f.auth_blocks.len(), 3, "{:?}", f.auth_blocks);
        assert_eq!((f.auth_blocks[0].provider(), f.auth_blocks[0].remaining_ms, f.auth_blocks[0].disabled), ("anthropic", 59000, false));
        assert_eq!((f.auth_blocks[1].provider(), f.auth_blocks[1].reason.as_str(), f.auth_blocks[1].disabled), ("anthropic", "billing", true));
        assert!(!f.auth_blocks[2].profile.contains('\u{1b}') && !f.auth_blocks[2].reason.contains('\u{7}'));
        assert_eq!(f.skipped_lines, 3);
    }

    #[test]
    fn wrong_nonce_missing_header_or_trailer() {
        assert_eq!(parse(good("n1").as_bytes(), "other"), Err(FactsError::NoHeader));
        assert_eq!(parse(b"", "n"), Err(FactsError::NoHeader));
        let g = good("n1");
        let cut = &g[..g.find("CLAWKEEP-END").unwrap()];
        assert_eq!(parse(cut.as_bytes(), "n1"), Err(FactsError::Truncated));
        // every prefix of a good report parses to an error or (at the full length) succeeds; never panics
        for i in 0..g.len() {
            let _ = parse(&g.as_bytes()[..i], "n1");
        }
        assert_eq!(parse("CLAWKEEP-FACTS 2 n1\n".as_bytes(), "n1"), Err(FactsError::Version("2".into())));
    }

    #[test]
    fn hostile_lines_are_skipped_not_trusted() {
        let n = "n2";
        let long = "x".repeat(100_000);
        let hostile = format!(
            "CLAWKEEP-FACTS 1 {n}\nkey|108|hint|notahash|dotenv\nkey|abc|h|{FP}|dotenv\nkey|108|h|{FP}|unknownsource\nkey|999999|h|{FP}|dotenv\n\
stat|env|999|x|y|z|/p\nstat|short\nproc|notapid|1|x\nprocenv|77|none\nlogs|1|2\ncpus|-1\ncpus|99999999999\nuser|\u{1b}[31mevil\u{7}|1\n{long}\n\0\0\0binary\u{fffd}\n\
key|108|<script>alert(1)</script>|{FP}|history:/root/.bash_history\n\
key|108|h|{FP}|history:/x|\u{1b}[31m\nCLAWKEEP-END 1 {n}\n"
        );
        let f = parse(hostile.as_bytes(), n).unwrap();
        assert_eq!(f.keys.len(), 2, "{:?}", f.keys);
        assert_eq!(f.keys[0].hint, "scriptalert1script");
        // a path from the host is cleaned where it enters (found by the parsers' proptest)
        let path = f.keys[1].source.describe();
        assert!(!path.contains('\u{1b}') && path.contains("/x"), "{path}");
        assert!(f.stats.is_empty());
        assert!(f.procs.is_empty());
        assert_eq!(f.cpus, None);
        assert!(!f.user.contains('\u{1b}'));
        assert!(f.skipped_lines >= 10, "{}", f.skipped_lines);
        // random bytes never panic
        let mut x: u64 = 0x1234_5678;
        for _ in 0..200 {
            let mut buf = format!("CLAWKEEP-FACTS 1 {n}\n").into_bytes();
            for _ in 0..500 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push(if x.is_multiple_of(5) {
                    b'|'
                } else if x.is_multiple_of(7) {
                    b'\n'
                } else {
                    (x % 256) as u8
                });
            }
            let _ = parse(&buf, n);
        }
    }

    #[test]
    fn script_quotes_parameters() {
        let s = script(&ScriptParams {
            nonce: "abc".into(),
            state_dir: "~/.open'claw".into(),
            agents: vec!["main".into(), "x;rm -rf /".into(), "ops".into()],
            unit: Some("openclaw-gateway".into()),
            now: Utc::now(),
            probe_url: None,
        });
        assert!(s.contains("ST='~/.open'\\''claw'"));
        assert!(s.contains("AGENTS='main ops'"));
        assert!(!s.contains("sk-ant-api"), "the script itself holds no key");
    }

    /// Issue 12 finding 7: the probe from the host sends keys only to a URL that passes
    /// [`crate::anthropic::check_base_url`]; anything else means no probe.
    #[test]
    fn script_probes_only_a_checked_url() {
        let p = |u: &str| ScriptParams { nonce: "n".into(), state_dir: "~/.openclaw".into(), agents: vec![], unit: None, now: Utc::now(), probe_url: Some(u.into()) };
        assert!(script(&p("http://127.0.0.1:18555/")).contains("\nPURL='http://127.0.0.1:18555'\n"));
        assert!(script(&p("https://api.anthropic.com")).contains("\nPURL='https://api.anthropic.com'\n"));
        for bad in ["http://localhost@example.com", "http://localhost.example.com", "http://127.example.com", "http://example.com"] {
            assert!(script(&p(bad)).contains("\nPURL=''\n"), "{bad}");
        }
    }

    /// Runs the facts script with `/bin/sh` on a fake home (state dir `~/.openclaw`), as a host
    /// would: returns the nonce and the output. The evaluation's tests use it too.
    pub(crate) fn run_script_locally(home: &std::path::Path, agents: Vec<String>) -> (String, std::process::Output) {
        use std::io::Write;
        let n = nonce();
        let s = script(&ScriptParams { nonce: n.clone(), state_dir: "~/.openclaw".into(), agents, unit: None, now: Utc::now(), probe_url: None });
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-s")
            .env_clear()
            .env("HOME", home)
            .env("PATH", "/usr/bin:/bin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        (n, child.wait_with_output().unwrap())
    }

    #[test]
    /// The real script against a fake home: keys are found and hashed, and never appear in the
    /// output.
    fn script_runs_locally_and_never_prints_keys() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let st = home.path().join(".openclaw");
        std::fs::create_dir_all(st.join("agents/main/agent")).unwrap();
        std::fs::create_dir_all(st.join("agents/ops/agent")).unwrap();
        let key = crate::model::keyfmt::tests::fake_key(crate::KeyKind::Api, 9);
        let other = crate::model::keyfmt::tests::fake_key(crate::KeyKind::Api, 10);
        std::fs::write(st.join(".env"), format!("# env\nexport ANTHROPIC_API_KEY=\"{key}\"\nOTHER=1\n")).unwrap();
        std::fs::set_permissions(st.join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(
            st.join("openclaw.json"),
            format!("{{ meta: {{}}, models: {{ providers: {{ anthropic: {{ apiKey: \"{other}\", baseUrl: \"https://api.anthropic.com\" }} }} }} }}\n"),
        )
        .unwrap();
        std::fs::write(st.join("agents/main/agent/openclaw-agent.sqlite"), format!("SQLite format 3\0\0\x01{other}\0\0")).unwrap();
        std::fs::create_dir_all(st.join("state")).unwrap();
        std::fs::write(st.join("state/openclaw.sqlite"), format!("SQLite format 3\0\0\x01{key}\0\0")).unwrap();
        std::fs::write(home.path().join(".bash_history"), format!("ls\nexport ANTHROPIC_API_KEY={key}\n")).unwrap();
        std::fs::write(st.join("openclaw.json.clobbered.2026-11-01T00-00-00Z"), "{}").unwrap();
        let (n, out) = run_script_locally(home.path(), vec!["main".into(), "ops".into()]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains(&key[13..60]) && !text.contains(&other[13..60]), "a key leaked:\n{text}");
        let f = parse(&out.stdout, &n).unwrap_or_else(|e| panic!("{e}: {text}"));
        let fp = crate::model::keyfmt::fingerprint(&key);
        let ofp = crate::model::keyfmt::fingerprint(&other);
        let has = |src: KeySource, fp: &str| f.keys.iter().any(|k| k.source == src && k.fingerprint == fp);
        assert!(has(KeySource::DotEnv, &fp), "{:?}", f.keys);
        assert!(has(KeySource::Config(1), &ofp), "{:?}", f.keys);
        assert!(has(KeySource::Profile("main".into()), &ofp), "{:?}", f.keys);
        assert!(has(KeySource::SharedProfile, &fp), "{:?}", f.keys);
        assert!(!f.keys.iter().any(|k| k.source == KeySource::Profile("ops".into())), "{:?}", f.keys);
        assert!(f.keys.iter().any(|k| matches!(&k.source, KeySource::History(p) if p.ends_with(".bash_history")) && k.fingerprint == fp));
        assert!(f.keys.iter().any(|k| matches!(&k.source, KeySource::WorldReadable(p) if p.ends_with(".env"))));
        assert!(f.config_text.contains("__CK_KEY_1__"));
        assert!(crate::checklist::config::parse(&f.config_text).is_ok(), "{}", f.config_text);
        assert_eq!(f.stat("env").unwrap().mode, 0o644);
        assert_eq!(f.clobbered.len(), 1);
        assert!(f.agents.contains(&("ops".to_string(), true)));
        let k = f.keys.iter().find(|k| k.source == KeySource::DotEnv).unwrap();
        assert_eq!(k.length, 108);
        assert_eq!(k.hint, crate::model::keyfmt::hint(&key));
        assert_eq!(f.skipped_lines, 0, "{text}");
    }

    /// Found on a real VPS (tests/tests/vps.rs): OpenClaw installed in the user's npm prefix
    /// ships bare prefixes (`sk-ant-oat01-` in code and docs). Neither a bare prefix nor anything
    /// under `node_modules` is "a key in a world-readable file"; a real key in a file is.
    #[test]
    fn world_readable_scan_skips_bare_prefixes_and_installed_packages() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let prefix = ["sk", "ant", "oat01-"].join("-");
        let key = crate::model::keyfmt::tests::fake_key(crate::KeyKind::Api, 11);
        let pkg = home.path().join(".npm-global/lib/node_modules/openclaw/dist");
        std::fs::create_dir_all(&pkg).unwrap();
        let files = [
            (home.path().join("prefix-only.mjs"), format!("const SETUP_TOKEN_PREFIX = \"{prefix}\";\n")),
            (pkg.join("example.md"), format!("export ANTHROPIC_API_KEY={key}\n")),
            (home.path().join("notes.txt"), format!("key: {key}\n")),
        ];
        for (f, text) in &files {
            std::fs::write(f, text).unwrap();
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let (n, out) = run_script_locally(home.path(), vec![]);
        let text = String::from_utf8_lossy(&out.stdout);
        let f = parse(&out.stdout, &n).unwrap_or_else(|e| panic!("{e}: {text}"));
        let world: Vec<&str> = f.keys.iter().filter_map(|k| if let KeySource::WorldReadable(p) = &k.source { Some(p.as_str()) } else { None }).collect();
        assert_eq!(world.len(), 1, "{:?}", f.keys);
        assert!(world[0].ends_with("/notes.txt"), "{world:?}");
    }

    /// Issue 12 finding 8: a short value in `ANTHROPIC_API_KEY` (an 18-character proxy token)
    /// comes back with its length and fingerprint, and a hint that shows at most 4 characters —
    /// never the value (the old first-16 + last-4 hint returned all 18).
    #[test]
    fn script_hint_never_shows_a_short_value_whole() {
        let home = tempfile::tempdir().unwrap();
        let st = home.path().join(".openclaw");
        std::fs::create_dir_all(&st).unwrap();
        let token: String = {
            let r: [u8; 9] = rand::random();
            hex::encode(r)
        };
        assert_eq!(token.len(), 18);
        std::fs::write(st.join(".env"), format!("ANTHROPIC_API_KEY={token}\n")).unwrap();
        let (n, out) = run_script_locally(home.path(), vec![]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains(&token[..8]) && !text.contains(&token[token.len() - 8..]), "the short value (or most of it) came back:\n{text}");
        let f = parse(&out.stdout, &n).unwrap_or_else(|e| panic!("{e}: {text}"));
        let k = f.keys.iter().find(|k| k.source == KeySource::DotEnv).unwrap_or_else(|| panic!("{:?}", f.keys));
        assert_eq!(k.length, 18);
        assert_eq!(k.fingerprint, crate::model::keyfmt::fingerprint(&token));
        assert!(k.hint.replace("...", "").len() <= 4, "hint {:?}", k.hint);
        assert_eq!(k.hint, crate::model::keyfmt::hint(&token), "host and core hint the same way");
    }
}
