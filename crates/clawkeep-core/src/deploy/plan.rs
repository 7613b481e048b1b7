//! The deploy planner: pure judgement over the host's state as it was gathered
//! ([`DeployFacts`]) — which files change and how, stale credentials that would beat the new
//! key, blockers, the redacted diff — for each injection method. No I/O: its table tests in
//! `plan/tests.rs` need no host and no root.

use std::time::Duration;

use zeroize::Zeroizing;

use super::remote::{kv, logout_command, paste_api_key_command, resolve_dir, restart_command, secrets_reload_command};
use super::types::{sha, DeployJob, DeployPlan, PlanPrivate, PlanStep, StaleCredential};
use crate::dotenv;
use crate::hosttext;
use crate::model::domain::{InjectionMethod, ServiceManager};
use crate::model::keyfmt;
use crate::secret::{Secret, SecretBytes};

/// What a plan is judged on: the host's state as
/// [`DeploySession::plan`](super::DeploySession::plan) gathers it. Host file contents stay in
/// [`SecretBytes`]; there is no `Debug` (the probe output is host text).
pub struct DeployFacts {
    /// The host offers SFTP (`false`: files are read and written over the exec channel).
    pub sftp: bool,
    /// Files the SSH user may not read (`openclaw.json`, `.env`): another user's state dir.
    pub unreadable: Vec<String>,
    /// The login user's home directory (`realpath .` over SFTP).
    pub home: String,
    /// The verified host key.
    pub host_key: String,
    /// `openclaw.json`, `None` when missing.
    pub config: Option<SecretBytes>,
    /// `.env`, `None` when missing.
    pub env: Option<SecretBytes>,
    /// `.env`'s uid and gid.
    pub env_owner: Option<(u32, u32)>,
    /// The probe's `name=value` lines (`oc`, `profile`, `systemd_env_file`, `unit_env`, `ss`,
    /// `ids`, `gwpid`, `probe_done`).
    pub probe: Zeroizing<String>,
    /// `gateway.systemd.env` when the probe found a key in it (inner `None`: gone since).
    pub systemd_env: Option<Option<SecretBytes>>,
    /// The secret file (secret-file method only).
    pub secret_file: Option<Option<SecretBytes>>,
    /// The running gateway has `ANTHROPIC_API_KEY` in its environment (secret-file method only).
    pub gateway_env_has_key: bool,
    /// The systemd unit files (the unit and its drop-ins) the probe found with an
    /// `Environment=…ANTHROPIC_API_KEY=…` and the login user may write, as read (`None`: gone
    /// since the probe).
    pub unit_env_files: Vec<(String, Option<SecretBytes>)>,
}

/// Removes the `ANTHROPIC_API_KEY` assignment from a systemd unit file's `Environment=` lines
/// (systemd's quoting: a line holds several space-separated assignments, each maybe in `"…"` or
/// `'…'`): the other assignments stay as written, a line left without any is dropped, every
/// other byte is kept. `None` when the key sits where a rewrite could not be sure of systemd's
/// reading (a continued line, an unterminated quote): the person edits that file.
pub fn strip_unit_env_key(text: &[u8]) -> Option<Vec<u8>> {
    const NAME: &[u8] = b"ANTHROPIC_API_KEY=";
    let mut out = Vec::with_capacity(text.len());
    let mut continued = false;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_suffix(b"\n").unwrap_or(line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        let ending = &line[body.len()..];
        let was_continued = continued;
        continued = body.ends_with(b"\\");
        let lead = body.iter().take_while(|b| b.is_ascii_whitespace()).count();
        let Some(value) = body[lead..].strip_prefix(b"Environment=") else {
            if was_continued && body.windows(NAME.len()).any(|w| w == NAME) {
                return None;
            }
            out.extend_from_slice(line);
            continue;
        };
        if !body.windows(NAME.len()).any(|w| w == NAME) {
            out.extend_from_slice(line);
            continue;
        }
        if was_continued || continued {
            return None;
        }
        // Split into words, each kept as written.
        let mut kept: Vec<&[u8]> = Vec::new();
        let mut i = 0;
        while i < value.len() {
            if value[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            let start = i;
            let mut quote = None;
            while i < value.len() {
                let c = value[i];
                match quote {
                    Some(_) if c == b'\\' => i += 1,
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c.is_ascii_whitespace() => break,
                    None => {}
                }
                i += 1;
            }
            if quote.is_some() || i > value.len() {
                return None;
            }
            let word = &value[start..i.min(value.len())];
            let unquoted = word.strip_prefix(b"\"").or_else(|| word.strip_prefix(b"'")).unwrap_or(word);
            if !unquoted.starts_with(NAME) {
                kept.push(word);
            }
        }
        if !kept.is_empty() {
            out.extend_from_slice(&body[..lead]);
            out.extend_from_slice(b"Environment=");
            out.extend_from_slice(&kept.join(&b' '));
            out.extend_from_slice(ending);
        }
    }
    Some(out)
}

/// Rewrites a `.env` (see [`dotenv`] for the rule): the key line gets the new value, later key
/// lines are dropped, every other byte is kept. Returns the new text, the previous value, and
/// how many duplicate lines were dropped.
pub fn rewrite_env(old: Option<&[u8]>, key: &Secret) -> (SecretBytes, Option<Secret>, usize) {
    let r = dotenv::rewrite(old, key);
    (r.text, r.previous, r.dropped)
}

fn hint_of(value: &str) -> String {
    if value.is_empty() {
        "(empty)".into()
    } else {
        keyfmt::hint(value)
    }
}

/// The plan for `job` from the host's state: pure judgement, no I/O (every branch is covered by
/// table tests over [`DeployFacts`]).
pub(super) fn build_plan(job: &DeployJob, ready_timeout: Duration, f: DeployFacts) -> DeployPlan {
    let inst = &job.instance;
    let sd = resolve_dir(&inst.state_dir, &f.home);
    let mut plan = DeployPlan {
        instance: inst.name.clone(),
        address: format!("{}@{}:{}", inst.ssh_user, inst.ssh_host, inst.ssh_port),
        host_key: f.host_key.clone(),
        method: inst.injection,
        key_name: job.key.name.clone(),
        key_hint: job.key.hint.clone(),
        state_dir: sd.clone(),
        gateway_port: 18789,
        gateway_port_source: String::new(),
        steps: Vec::new(),
        diff: Vec::new(),
        stale: Vec::new(),
        warnings: Vec::new(),
        blockers: Vec::new(),
        unchanged: false,
        private: PlanPrivate::default(),
    };

    let cfg_path = format!("{sd}/openclaw.json");
    let env_path = format!("{sd}/.env");
    plan.private.seen.push((cfg_path.clone(), sha(f.config.as_ref().map(|b| b.expose()))));
    plan.private.seen.push((env_path.clone(), sha(f.env.as_ref().map(|b| b.expose()))));
    plan.private.config_path = cfg_path.clone();
    let cfg_bytes = f.config;
    match &cfg_bytes {
        // Explained with the state dir's owner below.
        None if f.unreadable.contains(&cfg_path) => {}
        None => plan.blockers.push(format!("{cfg_path} does not exist: is OpenClaw set up for {} in {sd}?", inst.ssh_user)),
        // json5's own message quotes the offending line (which may hold a literal key):
        // only the position is kept.
        Some(bytes) => match json5::from_str::<serde_json::Value>(&String::from_utf8_lossy(bytes.expose())) {
            Err(e) => plan.blockers.push(format!("{cfg_path} is not valid JSON5 ({}); fix it first, OpenClaw would refuse it too", hosttext::json5_error(&e))),
            Ok(v) => {
                plan.private.config_value = Some(v.clone());
                match v["gateway"]["port"].as_u64().filter(|p| (1..=65535).contains(p)) {
                    Some(p) => {
                        plan.gateway_port = p as u16;
                        plan.gateway_port_source = format!("gateway.port in {cfg_path}");
                    }
                    None => {
                        plan.gateway_port_source = format!("OpenClaw's default (no gateway.port in {cfg_path})");
                        plan.warnings.push(format!("{cfg_path} sets no gateway.port: checking OpenClaw's default 18789"));
                    }
                }
                if !v["meta"].is_object() {
                    plan.warnings
                        .push(format!("{cfg_path} has no `meta` object; Clawkeep does not edit it, but OpenClaw's clobber guard may revert hand edits (openclaw.md §3.3)"));
                }
            }
        },
    }

    plan.private.config_text = cfg_bytes;

    // .env (see `dotenv` for how its key line is read and rewritten)
    let old_text = f.env;
    let (new_env, previous, dropped) = rewrite_env(old_text.as_ref().map(|s| s.expose()), &job.secret);
    let backup_path = format!("{sd}/.env.clawkeep-bak");
    match &previous {
        Some(p) if p.expose() == job.secret.expose() => {
            plan.unchanged = true;
            plan.diff.push(format!("  ANTHROPIC_API_KEY={} (unchanged)", job.key.hint));
        }
        Some(p) => plan.diff.push(format!("~ ANTHROPIC_API_KEY={} (was {})", job.key.hint, hint_of(p.expose()))),
        None => plan.diff.push(format!("+ ANTHROPIC_API_KEY={} (new line)", job.key.hint)),
    }
    if dropped > 0 {
        plan.diff.push(format!("- {dropped} further ANTHROPIC_API_KEY line(s) removed (only the first one was used)"));
    }
    let other_lines = old_text.as_ref().map(|t| dotenv::other_lines(t.expose())).unwrap_or(0);
    if old_text.is_some() {
        plan.steps.push(PlanStep { action: "backup".into(), target: backup_path.clone(), detail: "copy of the current .env, mode 0600, kept for rollback".into() });
    }
    plan.steps.push(PlanStep {
        action: "write".into(),
        target: env_path.clone(),
        detail: format!(
            "mode 0600, atomic (temp file + fsync + rename); {} other line(s) kept as they are{}",
            other_lines,
            if old_text.is_none() { "; the file is new" } else { "; owner and group kept" }
        ),
    });

    // What the probe found (names only, never values).
    let probe: &str = &f.probe;
    plan.private.pid_before = kv(probe, "gwpid").into_iter().next().filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    // The openclaw CLI's path comes from the host: used only when it is plain text (it is run
    // and shown).
    let oc = kv(probe, "oc").into_iter().next().filter(|s| !s.is_empty());
    let oc = match oc {
        Some(p) if hosttext::line(&p, 4096) == p => Some(p),
        Some(_) => {
            plan.warnings.push("the openclaw CLI's path on the host holds control characters: not used".into());
            None
        }
        None => None,
    };
    plan.private.openclaw_bin = oc.clone();
    // The login user's uid and groups: the .env must keep its owner and group.
    let ids: Vec<u32> = kv(probe, "ids").first().map(|l| l.split_whitespace().filter_map(|x| x.parse().ok()).collect()).unwrap_or_default();
    if let (Some((file_uid, file_gid)), Some((&uid, gids))) = (f.env_owner, ids.split_first()) {
        if uid != 0 {
            if file_uid != uid {
                let name = kv(probe, "env_owner_name").into_iter().next().filter(|n| !n.is_empty() && n.parse::<u32>().is_err());
                plan.blockers.push(format!(
                    "{env_path} belongs to uid {file_uid}{}, not to the SSH user {} (uid {uid}): Clawkeep keeps a file's owner and can't give a new file another one; deploy as that user (or root)",
                    name.map(|n| format!(" (user {n})")).unwrap_or_default(),
                    inst.ssh_user
                ));
            } else if !gids.contains(&file_gid) {
                plan.blockers.push(format!(
                    "{env_path} belongs to group {file_gid}, which the SSH user {} is not in: Clawkeep keeps a file's group; add the user to it or change the file's group",
                    inst.ssh_user
                ));
            }
        }
    }
    ownership_blockers(&mut plan, &sd, &inst.ssh_user, probe, &f.unreadable);
    // A restart through sudo (a system unit) must not need a password: found out after the
    // write, it would leave the new .env with the old gateway, and the rollback would fail too.
    match kv(probe, "sudo_ok").first().map(String::as_str) {
        Some("0") => plan.blockers.push(format!(
            "the restart command `{}` needs sudo, and sudo asks the SSH user {} for a password (`sudo -n` refuses): allow exactly that command without one (a sudoers rule: {} ALL=(root) NOPASSWD: <the command>), or restart without sudo",
            restart_command(&inst.service_manager),
            inst.ssh_user,
            inst.ssh_user
        )),
        Some("missing") => plan.blockers.push(format!("the restart command `{}` uses sudo, which is not installed on the host", restart_command(&inst.service_manager))),
        _ => {}
    }
    if !f.sftp {
        plan.warnings.push(
            "the host offers no SFTP subsystem: files are read and written over the SSH exec channel instead (the same atomic write: 0600 temp file, fsync, owner kept, rename; content on stdin)".into(),
        );
    }
    // Only agents of the inventory (the probe echoes nothing else; a host could).
    let mut profile_agents: Vec<String> = kv(probe, "profile").into_iter().filter(|a| inst.agents.contains(a)).collect();
    profile_agents.dedup();
    profile_agents.sort();
    profile_agents.dedup();
    for agent in profile_agents {
        let location = format!("{sd} (auth profiles of agent {agent}: state/openclaw.sqlite or agents/{agent}/agent/openclaw-agent.sqlite)");
        match &oc {
            Some(bin) => {
                plan.stale.push(StaleCredential { kind: "auth-profile".into(), agent: Some(agent.clone()), location, remedy: logout_command(bin, &agent), removable: true })
            }
            None => {
                plan.stale.push(StaleCredential {
                    kind: "auth-profile".into(),
                    agent: Some(agent.clone()),
                    location: location.clone(),
                    remedy: "the openclaw CLI was not found on the host to remove it".into(),
                    removable: false,
                });
                plan.blockers.push(format!("agent '{agent}' has an anthropic auth profile ({location}) that beats ANTHROPIC_API_KEY, and the openclaw CLI is not on the host's PATH to remove it: run `openclaw models auth logout anthropic:default --yes` there first"));
            }
        }
    }
    let systemd_env_path = format!("{sd}/gateway.systemd.env");
    if let Some(read) = f.systemd_env {
        plan.private.seen.push((systemd_env_path.clone(), sha(read.as_ref().map(|b| b.expose()))));
        if let Some(text) = read {
            plan.private.new_systemd_env = Some(dotenv::strip_key_lines(text.expose()));
            plan.private.old_systemd_env = Some(text);
            plan.stale.push(StaleCredential {
                kind: "systemd-env-file".into(),
                agent: None,
                location: systemd_env_path.clone(),
                remedy: "remove its ANTHROPIC_API_KEY line (atomic rewrite, backup kept as gateway.systemd.env.clawkeep-bak)".into(),
                removable: true,
            });
        }
    }
    if !kv(probe, "unit_env").is_empty() {
        let unit = match &inst.service_manager {
            ServiceManager::SystemdUser { unit } => unit.clone(),
            _ => String::new(),
        };
        // Removable when every unit file holding it is one the login user may write (the unit
        // in ~/.config/systemd/user, `systemctl --user edit` drop-ins) and each rewrite is sure;
        // a key that still wins after that (the manager's own environment) fails verification
        // and the deploy rolls back, files and all.
        let read_only: Vec<String> = kv(probe, "unit_env_ro").into_iter().map(|p| hosttext::line(&p, 4096)).collect();
        let mut rewrites = Vec::new();
        for (path, read) in &f.unit_env_files {
            plan.private.seen.push((path.clone(), sha(read.as_ref().map(|b| b.expose()))));
            if let Some(text) = read {
                if let Some(new) = strip_unit_env_key(text.expose()) {
                    rewrites.push((path.clone(), SecretBytes::new(text.expose().to_vec()), SecretBytes::new(new)));
                    continue;
                }
            }
            rewrites.clear();
            break;
        }
        let shown: Vec<String> = f.unit_env_files.iter().map(|(p, _)| hosttext::line(p, 4096)).collect();
        if inst.injection == InjectionMethod::EnvFile && read_only.is_empty() && !rewrites.is_empty() && rewrites.len() == f.unit_env_files.len() {
            plan.stale.push(StaleCredential {
                kind: "systemd-unit-env".into(),
                agent: None,
                location: format!("systemd user unit {unit}: Environment= in {}", shown.join(", ")),
                remedy: "remove ANTHROPIC_API_KEY from Environment= there (atomic rewrite, backup kept as <file>.clawkeep-bak), then `systemctl --user daemon-reload`".into(),
                removable: true,
            });
            plan.private.unit_env_rewrites = rewrites;
        } else {
            let where_ = if read_only.is_empty() { shown.join(", ") } else { read_only.join(", ") };
            let where_ = if where_.is_empty() { "the unit's environment".to_string() } else { where_ };
            plan.stale.push(StaleCredential {
                kind: "systemd-unit-env".into(),
                agent: None,
                location: format!("systemd user unit {unit} (Environment=)"),
                remedy: format!("remove ANTHROPIC_API_KEY from the unit's Environment= ({where_}; `systemctl --user edit {unit}` on the host), then deploy again"),
                removable: false,
            });
            plan.blockers.push(format!(
                "the systemd unit {unit} exports ANTHROPIC_API_KEY in its environment, which beats .env, from {where_}, which Clawkeep can't rewrite: remove it there first"
            ));
        }
    }
    if kv(probe, "ss").is_empty() && !matches!(inst.service_manager, ServiceManager::SystemdUser { .. }) {
        plan.warnings.push("`ss` is not installed on the host: the gateway process cannot be found to check its environment".into());
    }
    for s in plan.stale.iter().filter(|s| s.removable) {
        plan.steps.push(PlanStep { action: "run".into(), target: s.remedy.clone(), detail: format!("remove stale {} at {} (needs your consent)", s.kind, s.location) });
    }
    plan.steps.push(PlanStep { action: "run".into(), target: restart_command(&inst.service_manager), detail: "restart the gateway: a changed .env needs a new process".into() });
    plan.steps.push(PlanStep {
        action: "check".into(),
        target: format!("http://127.0.0.1:{}/readyz (on the host)", plan.gateway_port),
        detail: format!("gateway ready within {} s", ready_timeout.as_secs()),
    });
    plan.steps.push(PlanStep {
        action: "check".into(),
        target: "/proc/<gateway pid>/environ and .env".into(),
        detail: format!("SHA-256 of the running gateway's ANTHROPIC_API_KEY equals {} (computed on the host)", keyfmt::short_fingerprint(&job.key.fingerprint)),
    });
    if inst.injection == InjectionMethod::AuthProfile {
        plan_auth_profile(job, &mut plan, &sd, oc.as_deref());
    }
    if inst.injection == InjectionMethod::SecretFile {
        plan_secret_file(job, &mut plan, &sd, oc.as_deref(), previous.is_some(), f.gateway_env_has_key, f.secret_file.flatten());
    }
    plan.private.env_path = env_path;
    plan.private.backup_path = backup_path;
    plan.private.new_env = Some(new_env);
    plan.private.old_key_fp = previous.as_ref().map(|p| keyfmt::fingerprint(p.expose()));
    plan.private.old_env = old_text;
    plan.private.systemd_env_path = systemd_env_path;
    plan.sanitize();
    plan
}

/// The state dir must be one the SSH user can read and create files in (every write makes a
/// temp file next to its target): when the gateway runs as another user, its state dir is
/// that user's, and the plan says whose and what to do instead of failing half-way.
fn ownership_blockers(plan: &mut DeployPlan, sd: &str, ssh_user: &str, probe: &str, unreadable: &[String]) {
    let owner = kv(probe, "sd_owner").into_iter().next();
    let writable = !kv(probe, "sd_writable").is_empty();
    if unreadable.is_empty() && (owner.is_none() || writable) {
        return;
    }
    let mut it = owner.as_deref().unwrap_or_default().split_whitespace();
    let uid = it.next().and_then(|u| u.parse::<u32>().ok());
    let name = it.next().filter(|n| n.parse::<u32>().is_err()).map(str::to_string);
    let login_uid = kv(probe, "ids").first().and_then(|l| l.split_whitespace().next().and_then(|u| u.parse::<u32>().ok()));
    let problem = if unreadable.is_empty() { "cannot create files in it".to_string() } else { format!("cannot read {}", unreadable.join(" and ")) };
    if (uid.is_some() && uid == login_uid) || name.as_deref() == Some(ssh_user) {
        plan.blockers
            .push(format!("the state dir {sd} belongs to the SSH user {ssh_user}, but {ssh_user} {problem} (its mode forbids it): make it writable for its owner (chmod u+rwx)"));
        return;
    }
    let owner = match (&name, uid) {
        (Some(n), Some(u)) => format!("user {n} (uid {u})"),
        (Some(n), None) => format!("user {n}"),
        (None, Some(u)) => format!("uid {u}"),
        (None, None) => "another user".to_string(),
    };
    let as_whom = name.clone().unwrap_or_else(|| owner.clone());
    plan.blockers.push(format!(
        "the state dir {sd} belongs to {owner}, and the SSH user {ssh_user} {problem}: the gateway runs as {as_whom}, not as {ssh_user}. Connect as {as_whom} (set the instance's SSH user), or give {ssh_user} write access to {sd} and its files (a shared group)"
    ));
}

/// Method (b): per-agent auth profiles written with `openclaw models auth paste-api-key`
/// (key on stdin; hot, no restart). A profile beats every env var, so env-side "stale"
/// credentials don't matter here.
fn plan_auth_profile(job: &DeployJob, plan: &mut DeployPlan, sd: &str, oc: Option<&str>) {
    let inst = &job.instance;
    plan.stale.clear();
    plan.blockers.retain(|b| !b.contains("ANTHROPIC_API_KEY") && !b.contains("auth profile"));
    plan.steps.clear();
    plan.diff.clear();
    plan.unchanged = false;
    let Some(bin) = oc else {
        plan.blockers.push("the openclaw CLI was not found on the host (PATH, ~/.local/bin, ~/.npm-global/bin): the auth-profile method needs it".into());
        return;
    };
    for a in &inst.agents {
        plan.diff.push(format!("~ auth profile anthropic:default of agent {a} = {}", job.key.hint));
        plan.steps.push(PlanStep {
            action: "run".into(),
            target: paste_api_key_command(bin, a),
            detail: "the key on stdin; hot, no restart (OpenClaw rewrites its config and keeps meta)".into(),
        });
        plan.steps.push(PlanStep {
            action: "check".into(),
            target: format!("{sd}/agents/{a}/agent/openclaw-agent.sqlite"),
            detail: "the agent's auth store holds the key (matched on the host through stdin)".into(),
        });
    }
    plan.steps.push(PlanStep { action: "check".into(), target: format!("http://127.0.0.1:{}/readyz (on the host)", plan.gateway_port), detail: "gateway still ready".into() });
    plan.warnings.push("the previous profile value cannot be read back from the host: rollback re-pastes the previous active key when Clawkeep knows it".into());
}

/// Method (c): the key in a 0600 file referenced from config by a file SecretRef, then
/// `openclaw secrets reload` (hot). Only valid when no `ANTHROPIC_API_KEY` env var exists
/// (env beats config, openclaw.md §4.5): refused otherwise.
fn plan_secret_file(job: &DeployJob, plan: &mut DeployPlan, sd: &str, oc: Option<&str>, env_file_has_key: bool, gateway_env_has_key: bool, read: Option<SecretBytes>) {
    for s in plan.stale.iter().filter(|s| s.kind == "auth-profile" && s.removable) {
        plan.blockers.push(format!("an anthropic auth profile ({}) beats a config SecretRef: remove it first ({})", s.location, s.remedy));
    }
    plan.stale.retain(|s| s.kind != "systemd-env-file");
    plan.steps.clear();
    plan.diff.clear();
    plan.unchanged = false;
    let secret_dir = format!("{sd}/secrets");
    let secret_path = format!("{secret_dir}/anthropic-api-key");
    if oc.is_none() {
        plan.blockers.push("the openclaw CLI was not found on the host: the secret-file method needs `openclaw secrets reload`".into());
    }
    if env_file_has_key {
        plan.blockers.push(format!("{sd}/.env sets ANTHROPIC_API_KEY, which beats a config SecretRef: remove it (or use the env-file method) before switching to secret-file"));
    }
    if gateway_env_has_key {
        plan.blockers
            .push("the running gateway has ANTHROPIC_API_KEY in its process environment, which beats a config SecretRef: remove it from the service environment first".into());
    }
    plan.private.seen.push((secret_path.clone(), sha(read.as_ref().map(|b| b.expose()))));
    let old_secret = read.map(|b| Secret::new(String::from_utf8_lossy(b.expose()).trim_end().to_string()));
    match &old_secret {
        Some(o) if o.expose() == job.secret.expose() => plan.diff.push(format!("  {secret_path} = {} (unchanged)", job.key.hint)),
        Some(o) => plan.diff.push(format!("~ {secret_path} = {} (was {})", job.key.hint, hint_of(o.expose()))),
        None => plan.diff.push(format!("+ {secret_path} = {} (new file)", job.key.hint)),
    }
    // Config: a file secret provider + the anthropic apiKey SecretRef. Other settings and
    // `meta` are kept (OpenClaw's clobber guard restores configs that lose `meta`).
    let mut new_config = None;
    if let Some(mut v) = plan.private.config_value.clone() {
        let want_provider = serde_json::json!({ "source": "file", "path": secret_path, "mode": "singleValue" });
        let want_ref = serde_json::json!({ "source": "file", "provider": "clawkeep_anthropic", "id": "value" });
        if v["secrets"]["providers"]["clawkeep_anthropic"] != want_provider || v["models"]["providers"]["anthropic"]["apiKey"] != want_ref {
            if !v.is_object() {
                plan.blockers.push("openclaw.json is not an object".into());
            } else {
                if !v["meta"].is_object() {
                    v["meta"] = serde_json::json!({});
                }
                v["secrets"]["providers"]["clawkeep_anthropic"] = want_provider;
                let before_key = v["models"]["providers"]["anthropic"]["apiKey"].clone();
                v["models"]["providers"]["anthropic"]["apiKey"] = want_ref;
                plan.diff.push(format!(
                    "~ {}: models.providers.anthropic.apiKey = file SecretRef clawkeep_anthropic (was {}); + secrets.providers.clawkeep_anthropic",
                    plan.private.config_path,
                    if before_key.is_null() {
                        "unset".to_string()
                    } else if before_key.is_string() {
                        "a literal (redacted)".to_string()
                    } else {
                        before_key.to_string()
                    }
                ));
                plan.warnings.push("openclaw.json is rewritten as JSON (comments are dropped, as OpenClaw's own writers do); meta and every other setting are kept".into());
                new_config = Some(Secret::new(serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"));
            }
        }
    }
    plan.steps.push(PlanStep { action: "write".into(), target: secret_path.clone(), detail: "mode 0600 (directory 0700), atomic; previous file kept as .clawkeep-bak".into() });
    if new_config.is_some() {
        plan.steps.push(PlanStep {
            action: "write".into(),
            target: plan.private.config_path.clone(),
            detail: "add the file SecretRef; backup openclaw.json.clawkeep-bak; atomic".into(),
        });
    }
    if new_config.is_some() {
        plan.steps.push(PlanStep {
            action: "run".into(),
            target: restart_command(&job.instance.service_manager),
            detail: "restart once: the config gained a secret provider".into(),
        });
    } else {
        plan.steps.push(PlanStep { action: "run".into(), target: secrets_reload_command(oc.unwrap_or("openclaw")), detail: "hot reload of the secret, no restart".into() });
    }
    plan.steps.push(PlanStep {
        action: "check".into(),
        target: secret_path.clone(),
        detail: "SHA-256 of the file's key equals the deployed key's (computed on the host); gateway /readyz".into(),
    });
    plan.private.secret_path = secret_path;
    plan.private.old_secret = old_secret;
    plan.private.new_config = new_config;
}

#[cfg(test)]
mod tests;
