//! The three injection methods on a deploy's open connection ([`Conn`]): how each writes the key, verifies
//! it on the host and rolls back — the `.env` file (backup, atomic write, consented
//! stale-credential removal, restart, effective-key check), auth profiles (`paste-api-key`,
//! hot) and the secret file (file SecretRef, `secrets reload`).

use std::time::Instant;

use super::conn::Conn;
use super::remote::{auth_store_check, kv, logout_command, paste_api_key_command, resolve_dir, restart_command, secret_file_check, secrets_reload_command};
use super::types::{DeployPlan, DeployReport, ProgressFn, Stage};
use crate::error::{Error, Result};
use crate::model::keyfmt;
use crate::secret::Secret;

impl Conn<'_> {
    /// `Err((error, host_changed))`.
    pub(super) async fn write_and_verify(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let p = &plan.private;
        let inst = &self.job.instance;
        let mut lap = Instant::now();
        let mut step = |r: &mut DeployReport, text: String| {
            r.steps.push(format!("{text} [{} ms]", lap.elapsed().as_millis()));
            lap = Instant::now();
        };
        let backup = async {
            match &p.old_env {
                Some(old) => self.ssh.write_atomic(&p.backup_path, old.expose()).await.map(|()| true),
                None => Ok(false),
            }
        };
        if backup.await.map_err(|e| (e, false))? {
            step(report, format!("backed up .env to {}", p.backup_path));
        }
        let pid_before = p.pid_before.clone();
        let new_env = p.new_env.as_ref().ok_or_else(|| (Error::InvalidState("plan has no .env content".into()), false))?;
        self.ssh.write_atomic(&p.env_path, new_env.expose()).await.map_err(|e| (e, false))?;
        // From here on the host has changed.
        step(report, format!("wrote {} (0600, atomic)", p.env_path));
        for s in plan.stale.iter().filter(|s| s.removable) {
            match s.kind.as_str() {
                "auth-profile" => {
                    // Built from the plan's own fields (the shown remedy is sanitized text).
                    let bin = p.openclaw_bin.as_deref().unwrap_or("openclaw");
                    let cmd = logout_command(bin, s.agent.as_deref().unwrap_or("main"));
                    let out = self.ssh.exec("remove-profile", &cmd, None, self.opts.restart_timeout).await.map_err(|e| (e, true))?;
                    if !out.success() {
                        return Err((Error::Remote { instance: inst.name.clone(), step: "remove-profile".into(), message: format!("`{cmd}` failed: {}", self.brief(&out)) }, true));
                    }
                    report.stale_removed.push(format!("auth profile anthropic:default of agent {}", s.agent.as_deref().unwrap_or("?")));
                }
                "systemd-env-file" => {
                    if let (Some(old), Some(new)) = (&p.old_systemd_env, &p.new_systemd_env) {
                        let bak = format!("{}.clawkeep-bak", p.systemd_env_path);
                        self.ssh.write_atomic(&bak, old.expose()).await.map_err(|e| (e, true))?;
                        self.ssh.write_atomic(&p.systemd_env_path, new.expose()).await.map_err(|e| (e, true))?;
                        report.stale_removed.push(format!("ANTHROPIC_API_KEY line of {}", p.systemd_env_path));
                    }
                }
                "systemd-unit-env" => {
                    for (path, old, new) in &p.unit_env_rewrites {
                        self.ssh.write_atomic(&format!("{path}.clawkeep-bak"), old.expose()).await.map_err(|e| (e, true))?;
                        self.ssh.write_atomic(path, new.expose()).await.map_err(|e| (e, true))?;
                        report.stale_removed.push(format!("ANTHROPIC_API_KEY in Environment= of {path}"));
                    }
                    self.daemon_reload().await.map_err(|e| (e, true))?;
                }
                _ => {}
            }
        }
        progress(&inst.name, Stage::Restarting);
        self.restart().await.map_err(|e| (e, true))?;
        step(report, format!("restarted the gateway ({})", restart_command(&inst.service_manager)));
        progress(&inst.name, Stage::Verifying);
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        step(report, format!("gateway ready on 127.0.0.1:{}", plan.gateway_port));
        let st = self.gateway_state(plan.gateway_port).await.map_err(|e| (e, true))?;
        let want = &self.job.key.fingerprint;
        let verr = |m: String| (Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: m }, true);
        let Some(pid) = st.pid.clone() else {
            return Err(verr(format!("cannot find the gateway process listening on 127.0.0.1:{} (is `ss` or /proc readable?)", plan.gateway_port)));
        };
        if st.file_fp.as_deref() != Some(want.as_str()) {
            return Err(verr("the key in .env on the host does not match the deployed key after writing it (changed by someone else?)".into()));
        }
        if st.outside_unit {
            // The unit restarted fine, but the port belongs to a gateway started by hand: the
            // unit's own gateway cannot serve, and that one keeps its old key.
            let (unit, port) = (restart_command(&inst.service_manager), plan.gateway_port);
            let main = st.unit_pid.as_deref().map(|m| format!(" (the unit's MainPID is {m})")).unwrap_or_default();
            return Err(verr(format!(
                "the gateway listening on 127.0.0.1:{port} (pid {pid}) was started outside the systemd unit{main}, so `{unit}` cannot replace it and it keeps its old key: stop that process on the host (kill {pid}) and deploy again"
            )));
        }
        if pid_before.as_deref() == Some(pid.as_str()) {
            return Err(verr(format!(
                "the gateway process (pid {pid}) was not replaced by the restart command; a changed .env needs a new process: check the instance's restart command"
            )));
        }
        // The process environment beats .env (openclaw.md §4.5): if the gateway has an
        // ANTHROPIC_API_KEY of its own (systemd Environment=, a wrapper), it must be ours. If it
        // has none, OpenClaw loads .env itself at start (it does not show in /proc/<pid>/environ).
        let env_note = match &st.proc_fp {
            Some(fp) if fp == want => "the key is in its process environment",
            Some(fp) => {
                let what = match &plan.private.old_key_fp {
                    Some(old) if old == fp => "still the previous key".to_string(),
                    _ => format!("a different key (sha256 {})", keyfmt::short_fingerprint(fp)),
                };
                return Err(verr(format!("the restarted gateway (pid {pid}) has {what} in its process environment, which beats .env: another source (systemd unit Environment=, a wrapper script) sets ANTHROPIC_API_KEY")));
            }
            None => "no ANTHROPIC_API_KEY in its process environment overrides .env",
        };
        step(
            report,
            format!(
                "verified: .env holds {} (sha256 {}); gateway pid {} -> {pid} (a new process, so it loaded it); {env_note}",
                self.job.key.hint,
                keyfmt::short_fingerprint(want),
                pid_before.as_deref().unwrap_or("none"),
            ),
        );
        // A removed unit key is gone once the new key is verified: its backups (kept only for
        // the rollback) would be a copy of it left on the host.
        for (path, _, _) in &p.unit_env_rewrites {
            if report.stale_removed.iter().any(|s| s.ends_with(&format!("Environment= of {path}"))) {
                let bak = format!("{path}.clawkeep-bak");
                match self.ssh.remove(&bak).await {
                    Ok(()) => step(report, format!("removed {bak} (the rollback copy of the unit file)")),
                    Err(e) => report.steps.push(format!("could not remove {bak}: {e}; it holds the removed key: delete it on the host")),
                }
            }
        }
        Ok(())
    }

    /// Restores the previous `.env` (and `gateway.systemd.env`), restarts, re-verifies.
    pub(super) async fn rollback(&self, plan: &DeployPlan, report: &mut DeployReport) -> (bool, String) {
        let p = &plan.private;
        let mut notes = Vec::new();
        let restored = match &p.old_env {
            Some(old) => self.ssh.write_atomic(&p.env_path, old.expose()).await.map(|()| "restored the previous .env".to_string()),
            None => self.ssh.remove(&p.env_path).await.map(|()| "removed the new .env (there was none before)".to_string()),
        };
        match restored {
            Ok(t) => notes.push(t),
            Err(e) => {
                return (
                    false,
                    format!(
                        "rollback failed: could not restore {}: {e}. The host holds either the previous or the new .env (writes are atomic); the backup is {}",
                        p.env_path, p.backup_path
                    ),
                );
            }
        }
        if let Some(old) = &p.old_systemd_env {
            if report.stale_removed.iter().any(|s| s.contains("gateway.systemd.env")) {
                match self.ssh.write_atomic(&p.systemd_env_path, old.expose()).await {
                    Ok(()) => notes.push("restored gateway.systemd.env".into()),
                    Err(e) => notes.push(format!("could not restore gateway.systemd.env: {e}")),
                }
            }
        }
        let unit_files: Vec<_> = p.unit_env_rewrites.iter().filter(|(path, _, _)| report.stale_removed.iter().any(|s| s.ends_with(&format!("Environment= of {path}")))).collect();
        if !unit_files.is_empty() {
            for (path, old, _) in unit_files {
                match self.ssh.write_atomic(path, old.expose()).await {
                    Ok(()) => notes.push(format!("restored {path}")),
                    Err(e) => notes.push(format!("could not restore {path}: {e}")),
                }
            }
            if let Err(e) = self.daemon_reload().await {
                notes.push(format!("systemctl --user daemon-reload failed: {e}"));
            }
        }
        if report.stale_removed.iter().any(|s| s.starts_with("auth profile")) {
            notes.push("removed auth profiles are not restored (they were stale)".into());
        }
        if let Err(e) = self.restart().await {
            notes.push(format!("restart failed: {e}"));
            return (false, notes.join("; "));
        }
        notes.push("restarted".into());
        if let Err(e) = self.wait_ready(plan.gateway_port).await {
            notes.push(format!("but the gateway is not ready: {e}"));
            return (false, notes.join("; "));
        }
        notes.push("gateway ready".into());
        match self.gateway_state(plan.gateway_port).await {
            Ok(st) => {
                let file_ok = st.file_fp == p.old_key_fp;
                let proc_ok = st.proc_fp.is_none() || st.proc_fp == p.old_key_fp;
                if st.pid.is_some() && file_ok && proc_ok {
                    notes.push(match &p.old_key_fp {
                        Some(_) => "the previous key is effective again".into(),
                        None => "no key is set, as before".into(),
                    });
                    (true, notes.join("; "))
                } else {
                    notes.push("but the previous key could not be confirmed on the running gateway".into());
                    (false, notes.join("; "))
                }
            }
            Err(e) => {
                notes.push(format!("could not check the effective key: {e}"));
                (false, notes.join("; "))
            }
        }
    }

    async fn paste_profiles(&self, secret: &Secret, plan: &DeployPlan) -> Result<Vec<String>> {
        let inst = &self.job.instance;
        let bin = plan.private.openclaw_bin.clone().unwrap_or_else(|| "openclaw".into());
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let mut done = Vec::new();
        for a in &inst.agents {
            let cmd = paste_api_key_command(&bin, a);
            let input = Secret::new(format!("{}\n", secret.expose()));
            let out = self.ssh.exec("paste-api-key", &cmd, Some(input.expose().as_bytes()), self.opts.restart_timeout).await?;
            if !out.success() {
                return Err(Error::Remote {
                    instance: inst.name.clone(),
                    step: "paste-api-key".into(),
                    message: format!("agent {a}: `{cmd}` failed: {}", out.brief_without(&[secret, &self.job.secret])),
                });
            }
            // The key is stored in plain text in the agent's SQLite (openclaw.md §2.2): match it
            // on the host with the pattern on stdin (never in argv), WAL file included.
            let check = auth_store_check(&sd, a);
            let out = self.ssh.exec("verify", &check, Some(input.expose().as_bytes()), self.opts.ssh.op_timeout).await?;
            if kv(out.stdout(), "stored").first().map(String::as_str) != Some("1") {
                return Err(Error::Remote {
                    instance: inst.name.clone(),
                    step: "verify".into(),
                    message: format!("agent {a}: the key is not in its auth store after paste-api-key"),
                });
            }
            done.push(a.clone());
        }
        Ok(done)
    }

    pub(super) async fn apply_auth_profile(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let t = Instant::now();
        progress(&self.job.instance.name, Stage::Writing);
        let agents = self.paste_profiles(&self.job.secret, plan).await.map_err(|e| (e, true))?;
        report.steps.push(format!("auth profile anthropic:default set and found in the auth store of agent(s) {} [{} ms]", agents.join(", "), t.elapsed().as_millis()));
        progress(&self.job.instance.name, Stage::Verifying);
        let t = Instant::now();
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        report.steps.push(format!("gateway ready on 127.0.0.1:{} (hot reload, no restart) [{} ms]", plan.gateway_port, t.elapsed().as_millis()));
        Ok(())
    }

    pub(super) async fn rollback_auth_profile(&self, plan: &DeployPlan) -> (bool, String) {
        match &self.job.previous_secret {
            Some(prev) => match self.paste_profiles(prev, plan).await {
                Ok(a) => (true, format!("re-pasted the previous active key into the auth profiles of agent(s) {}", a.join(", "))),
                Err(e) => (false, format!("rollback failed: {e}")),
            },
            None => (false, "no previous key is known to Clawkeep to restore; the profiles may hold the new key: check with `openclaw models status` on the host".into()),
        }
    }

    pub(super) async fn apply_secret_file(&self, plan: &DeployPlan, report: &mut DeployReport, progress: &ProgressFn) -> std::result::Result<(), (Error, bool)> {
        let p = &plan.private;
        let inst = &self.job.instance;
        let t = Instant::now();
        progress(&inst.name, Stage::Writing);
        let dir = p.secret_path.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
        self.ssh.mkdir(&dir, 0o700).await.map_err(|e| (e, false))?;
        if let Some(old) = &p.old_secret {
            self.ssh.write_atomic(&format!("{}.clawkeep-bak", p.secret_path), old.expose().as_bytes()).await.map_err(|e| (e, false))?;
        }
        if let (Some(_), Some(old)) = (&p.new_config, &p.config_text) {
            self.ssh.write_atomic(&format!("{}.clawkeep-bak", p.config_path), old.expose()).await.map_err(|e| (e, false))?;
        }
        self.ssh.write_atomic(&p.secret_path, self.job.secret.expose().as_bytes()).await.map_err(|e| (e, false))?;
        if let Some(cfg) = &p.new_config {
            self.ssh.write_atomic(&p.config_path, cfg.expose().as_bytes()).await.map_err(|e| (e, true))?;
        }
        report.steps.push(format!(
            "wrote {} (0600, atomic){} [{} ms]",
            p.secret_path,
            if p.new_config.is_some() { " and the SecretRef into openclaw.json" } else { "" },
            t.elapsed().as_millis()
        ));
        let t = Instant::now();
        if p.new_config.is_some() {
            progress(&inst.name, Stage::Restarting);
            self.restart().await.map_err(|e| (e, true))?;
        } else {
            self.secrets_reload(plan).await.map_err(|e| (e, true))?;
        }
        progress(&inst.name, Stage::Verifying);
        self.wait_ready(plan.gateway_port).await.map_err(|e| (e, true))?;
        let check = secret_file_check(&p.secret_path);
        let out = self.ssh.exec("verify", &check, None, self.opts.ssh.op_timeout).await.map_err(|e| (e, true))?;
        if kv(out.stdout(), "file").first() != Some(&self.job.key.fingerprint) {
            return Err((Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: "the secret file on the host does not hold the deployed key".into() }, true));
        }
        report.steps.push(format!(
            "secrets reloaded, gateway ready, the secret file holds {} (sha256 {}) [{} ms]",
            self.job.key.hint,
            keyfmt::short_fingerprint(&self.job.key.fingerprint),
            t.elapsed().as_millis()
        ));
        Ok(())
    }

    async fn secrets_reload(&self, plan: &DeployPlan) -> Result<()> {
        let bin = plan.private.openclaw_bin.clone().unwrap_or_else(|| "openclaw".into());
        let cmd = secrets_reload_command(&bin);
        let out = self.ssh.exec("secrets-reload", &cmd, None, self.opts.restart_timeout).await?;
        if !out.success() {
            return Err(Error::Remote { instance: self.job.instance.name.clone(), step: "secrets-reload".into(), message: format!("`{cmd}` failed: {}", self.brief(&out)) });
        }
        Ok(())
    }

    pub(super) async fn rollback_secret_file(&self, plan: &DeployPlan) -> (bool, String) {
        let p = &plan.private;
        let mut notes = Vec::new();
        let r = match &p.old_secret {
            Some(old) => self.ssh.write_atomic(&p.secret_path, old.expose().as_bytes()).await.map(|()| "restored the previous secret file"),
            None => self.ssh.remove(&p.secret_path).await.map(|()| "removed the new secret file"),
        };
        match r {
            Ok(t) => notes.push(t.to_string()),
            Err(e) => return (false, format!("rollback failed: {e}")),
        }
        if let (Some(_), Some(old)) = (&p.new_config, &p.config_text) {
            match self.ssh.write_atomic(&p.config_path, old.expose()).await {
                Ok(()) => notes.push("restored openclaw.json".into()),
                Err(e) => return (false, format!("{}; could not restore openclaw.json: {e}", notes.join("; "))),
            }
        }
        let reloaded = if p.new_config.is_some() { self.restart().await } else { self.secrets_reload(plan).await };
        match reloaded {
            Ok(()) => {
                notes.push(if p.new_config.is_some() { "restarted".into() } else { "secrets reloaded".into() });
                (true, notes.join("; "))
            }
            Err(e) => {
                notes.push(format!("secrets reload failed: {e}"));
                (false, notes.join("; "))
            }
        }
    }
}
