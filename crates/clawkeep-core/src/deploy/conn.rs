//! One open connection to one host for one deploy job, and the I/O every injection method
//! shares: gather the host's state into [`DeployFacts`] (for the pure planner), re-read what a
//! plan saw before the first write, restart the gateway, wait for `/readyz`, and read the
//! gateway's effective key fingerprints. The public face of it is
//! [`DeploySession`](super::DeploySession).

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use super::plan::DeployFacts;
use super::remote::{gateway_state_command, kv, probe_command, readyz_curl_command, resolve_dir, restart_command};
use super::types::{sha, DeployJob, DeployOptions, DeployPlan};
use crate::error::{Error, Result};
use crate::hosttext;
use crate::model::domain::InjectionMethod;
use crate::secret::SecretBytes;
use crate::ssh::{ExecOutput, FileRead, HostSession};

/// One open connection to one instance, and the job it serves.
pub(super) struct Conn<'a> {
    pub(super) job: &'a DeployJob,
    pub(super) ssh: HostSession,
    pub(super) opts: DeployOptions,
}

impl Conn<'_> {
    /// A command's output for a message: sanitized, with the keys of this job masked even when
    /// they are not key-shaped.
    pub(super) fn brief(&self, out: &ExecOutput) -> String {
        match &self.job.previous_secret {
            Some(p) => out.brief_without(&[&self.job.secret, p]),
            None => out.brief_without(&[&self.job.secret]),
        }
    }

    /// Reads every file the plan read again and compares it with what the plan saw. `Err` names
    /// the first file that changed: the plan the user confirmed no longer describes the host.
    pub(super) async fn host_unchanged_since(&self, plan: &DeployPlan) -> Result<()> {
        for (path, before) in &plan.private.seen {
            let max = if path.ends_with("openclaw.json") { CONFIG_MAX } else { ENV_MAX };
            let now = self.ssh.read_file(path, max).await?.map(SecretBytes::new);
            if sha(now.as_ref().map(|b| b.expose())) != *before {
                return Err(Error::InvalidState(format!(
                    "the host changed since its plan was shown ({} was {}); nothing was written: review the new plan and confirm again",
                    hosttext::line(path, 500),
                    match (before, &now) {
                        (None, Some(_)) => "created",
                        (Some(_), None) => "removed",
                        _ => "modified",
                    }
                )));
            }
        }
        Ok(())
    }

    /// Everything [`build_plan`](super::plan::build_plan) judges, read from the host:
    /// `openclaw.json` and `.env` (and its owner) over SFTP, one probe exec, and — only when the
    /// probe or the method asks for them — `gateway.systemd.env`, the secret file and the
    /// running gateway's environment.
    pub(super) async fn gather(&self) -> Result<DeployFacts> {
        let job = self.job;
        let inst = &job.instance;
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let cfg_path = format!("{sd}/openclaw.json");
        let env_path = format!("{sd}/.env");
        // The three reads are independent: one round trip instead of three. The probe then also
        // finds the running gateway by the configured port (one exec for everything).
        let (cfg_r, env_r, env_st) = tokio::join!(self.ssh.read_file_or_denied(&cfg_path, CONFIG_MAX), self.ssh.read_file_or_denied(&env_path, ENV_MAX), self.ssh.stat(&env_path));
        // A file the SSH user may not read (the gateway runs as another user) is the planner's
        // to explain, with the state dir's owner from the probe; nothing is written then.
        let mut unreadable = Vec::new();
        let mut take = |path: &str, r: FileRead| match r {
            FileRead::Bytes(b) => Some(b),
            FileRead::Missing => None,
            FileRead::Denied => {
                unreadable.push(path.to_string());
                None
            }
        };
        let (cfg_bytes, old) = (take(&cfg_path, cfg_r?), take(&env_path, env_r?));
        // The owner matters only for a .env that is there (and readable).
        let env_stat = if old.is_some() { env_st? } else { None };
        // gateway.port from the host's own config (never assume 18789).
        let port_guess = cfg_bytes
            .as_ref()
            .and_then(|b| json5::from_str::<serde_json::Value>(&String::from_utf8_lossy(b)).ok())
            .and_then(|v| v["gateway"]["port"].as_u64())
            .filter(|p| (1..=65535).contains(p))
            .unwrap_or(18789) as u16;
        // Probe for stale credentials and tools (one command; prints names only, never values).
        let probe = probe_command(&sd, &inst.agents, &inst.service_manager, port_guess);
        let out = self.ssh.exec("probe", &probe, None, self.opts.ssh.op_timeout).await?;
        if kv(out.stdout(), "probe_done").is_empty() {
            return Err(Error::Remote { instance: inst.name.clone(), step: "probe".into(), message: format!("the host's shell did not run the probe: {}", self.brief(&out)) });
        }
        let systemd_env = match kv(out.stdout(), "systemd_env_file").is_empty() {
            true => None,
            false => Some(self.ssh.read_file(&format!("{sd}/gateway.systemd.env"), ENV_MAX).await?.map(SecretBytes::new)),
        };
        // Unit files with the key in Environment= (absolute paths the probe printed; a path with
        // control characters is not one Clawkeep writes to). Read only to be rewritten.
        let mut unit_env_files = Vec::new();
        for path in kv(out.stdout(), "unit_env_file") {
            if path.starts_with('/') && crate::hosttext::line(&path, 4096) == path && unit_env_files.len() < 8 {
                let read = self.ssh.read_file(&path, UNIT_FILE_MAX).await?.map(SecretBytes::new);
                unit_env_files.push((path, read));
            }
        }
        let (secret_file, gateway_env_has_key) = match inst.injection {
            InjectionMethod::SecretFile => {
                let st = self.gateway_state(port_guess).await?;
                (Some(self.ssh.read_file(&format!("{sd}/secrets/anthropic-api-key"), SECRET_FILE_MAX).await?.map(SecretBytes::new)), st.proc_fp.is_some())
            }
            _ => (None, false),
        };
        Ok(DeployFacts {
            sftp: self.ssh.has_sftp().await?,
            unreadable,
            home,
            host_key: self.ssh.host_key_fingerprint().to_string(),
            config: cfg_bytes.map(SecretBytes::new),
            env: old.map(SecretBytes::new),
            env_owner: env_stat.and_then(|a| a.uid.zip(a.gid)),
            probe: Zeroizing::new(out.stdout().to_string()),
            systemd_env,
            secret_file,
            gateway_env_has_key,
            unit_env_files,
        })
    }

    pub(super) async fn restart(&self) -> Result<()> {
        let inst = &self.job.instance;
        let cmd = restart_command(&inst.service_manager);
        let out = self.ssh.exec("restart", &cmd, None, self.opts.restart_timeout).await?;
        if !out.success() {
            return Err(Error::Remote {
                instance: inst.name.clone(),
                step: "restart".into(),
                message: format!("`{cmd}` exited with {}: {}", out.exit_status.map(|s| s.to_string()).unwrap_or_else(|| "?".into()), self.brief(&out)),
            });
        }
        Ok(())
    }

    /// `systemctl --user daemon-reload`: a rewritten unit file counts from the next restart.
    pub(super) async fn daemon_reload(&self) -> Result<()> {
        let out = self.ssh.exec("daemon-reload", "systemctl --user daemon-reload", None, self.opts.restart_timeout).await?;
        if !out.success() {
            return Err(Error::Remote {
                instance: self.job.instance.name.clone(),
                step: "daemon-reload".into(),
                message: format!("`systemctl --user daemon-reload` failed: {}", self.brief(&out)),
            });
        }
        Ok(())
    }

    pub(super) async fn wait_ready(&self, port: u16) -> Result<()> {
        let deadline = Instant::now() + self.opts.ready_timeout;
        let mut last = String::from("no answer");
        let mut use_curl = false;
        let mut attempts = 0u32;
        while Instant::now() < deadline && attempts < 10_000 {
            attempts += 1;
            let per_try = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(200), Duration::from_secs(5));
            let r = if use_curl {
                let cmd = readyz_curl_command(port);
                self.ssh.exec("readyz", &cmd, None, per_try + Duration::from_secs(1)).await.map(|o| (o.stdout().trim().parse::<u16>().unwrap_or(0), String::new()))
            } else {
                self.ssh.http_get_loopback(port, "/readyz", per_try).await
            };
            match r {
                Ok((200, _)) => return Ok(()),
                Ok((code, _)) => last = format!("HTTP {code}"),
                Err(Error::Remote { message, .. }) if !use_curl && message.contains("prohibited") => {
                    // sshd forbids TCP forwarding: ask curl on the host instead.
                    use_curl = true;
                    last = message;
                }
                Err(Error::Remote { message, .. }) if message.contains("no answer within") => last = "the gateway accepted the connection but did not answer".into(),
                Err(e) => last = e.to_string(),
            }
            // Back off (100, 150, … 500 ms): a fleet polls many gateways on the same machine.
            tokio::time::sleep(Duration::from_millis((50 + 50 * attempts as u64).min(500))).await;
        }
        Err(Error::Remote {
            instance: self.job.instance.name.clone(),
            step: "verify".into(),
            message: format!("the gateway did not become ready on 127.0.0.1:{port}/readyz within {} s (last: {last})", self.opts.ready_timeout.as_secs()),
        })
    }

    /// The gateway process listening on `port` (if found) and the SHA-256 (hex) of its own
    /// `ANTHROPIC_API_KEY` (if its environment has one) and of the one in `.env`, computed on
    /// the host through pipes: no value in an argv, none sent back.
    pub(super) async fn gateway_state(&self, port: u16) -> Result<GatewayState> {
        let inst = &self.job.instance;
        let home = self.ssh.home().await?;
        let sd = resolve_dir(&inst.state_dir, &home);
        let cmd = gateway_state_command(port, &inst.service_manager, &format!("{sd}/.env"));
        let out = self.ssh.exec("verify", &cmd, None, self.opts.ssh.op_timeout).await?;
        if kv(out.stdout(), "state_done").is_empty() {
            return Err(Error::Remote { instance: inst.name.clone(), step: "verify".into(), message: format!("the check did not run: {}", self.brief(&out)) });
        }
        let pid = kv(out.stdout(), "pid").into_iter().next().filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let proc_fp = match kv(out.stdout(), "proc").into_iter().next().as_deref() {
            Some("unreadable") => {
                return Err(Error::Remote {
                    instance: inst.name.clone(),
                    step: "verify".into(),
                    message: format!("cannot read /proc/{}/environ of the gateway (another user's process?)", pid.unwrap_or_default()),
                });
            }
            Some("none") | None => None,
            Some(fp) => Some(fp.to_string()),
        };
        let unit_pid = kv(out.stdout(), "unit_pid").into_iter().next().filter(|p| p != "0" && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        let outside_unit = kv(out.stdout(), "in_unit").first().is_some_and(|v| v == "0");
        Ok(GatewayState { pid, proc_fp, file_fp: kv(out.stdout(), "file").into_iter().next(), unit_pid, outside_unit })
    }
}

/// What [`Conn::gateway_state`] found.
#[derive(Debug)]
pub(super) struct GatewayState {
    pub(super) pid: Option<String>,
    pub(super) proc_fp: Option<String>,
    pub(super) file_fp: Option<String>,
    /// The systemd user unit's MainPID (systemd instances, when it runs).
    pub(super) unit_pid: Option<String>,
    /// The gateway on the port is not in the unit's cgroup: started by hand, outside systemd.
    pub(super) outside_unit: bool,
}

/// Most bytes of `openclaw.json` read.
const CONFIG_MAX: usize = 4 << 20;
/// Most bytes of a `.env` (or `gateway.systemd.env`) read.
const ENV_MAX: usize = 1 << 20;
/// Most bytes of a systemd unit file read.
const UNIT_FILE_MAX: usize = 256 * 1024;
/// Most bytes of the secret file read.
const SECRET_FILE_MAX: usize = 64 * 1024;
