//! How the host-facts script reaches a host: the [`HostRunner`] trait (one SSH connection, one
//! remote `sh -s` with the script on stdin, its stdout back), and [`OpenSshRunner`], an
//! implementation over the system OpenSSH client.
//!
//! `OpenSshRunner` is the interim transport until core's own SSH layer (russh, host-key pinning)
//! lands: it runs `ssh -T -o BatchMode=yes … sh -s` and relies on OpenSSH's `known_hosts`
//! (`StrictHostKeyChecking=yes`) for host-key checks. `CLAWKEEP_SSH_CONFIG` names an ssh_config
//! file to use (`-F`), which is how tests point it at the test hosts.

use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::domain::{Instance, SshIdentity};

/// Env var: an ssh_config file for [`OpenSshRunner`].
pub const SSH_CONFIG_ENV: &str = "CLAWKEEP_SSH_CONFIG";

/// A transport failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunnerError {
    #[error("cannot connect to {host}: {message}")]
    Connect { host: String, message: String },
    #[error("{host} did not finish within {secs} s")]
    Timeout { host: String, secs: u64 },
    #[error("{0}")]
    Other(String),
}

impl RunnerError {
    pub fn code(&self) -> &'static str {
        match self {
            RunnerError::Connect { .. } => "ssh_connect",
            RunnerError::Timeout { .. } => "ssh_timeout",
            RunnerError::Other(_) => "ssh_error",
        }
    }
}

/// The future a runner returns.
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, RunnerError>> + Send + 'a>>;

/// Runs a script on a host: one connection, one `sh -s`, the script on stdin; returns stdout
/// (capped). A non-zero exit is not an error: the report's trailer decides completeness.
pub trait HostRunner: Send + Sync {
    fn run_script<'a>(&'a self, script: &'a str) -> RunFuture<'a>;
}

/// Most stdout bytes kept.
pub const MAX_STDOUT: usize = 8 << 20;

/// [`HostRunner`] over the system `ssh` binary.
#[derive(Debug, Clone)]
pub struct OpenSshRunner {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub identity: Option<String>,
    pub config: Option<String>,
    pub timeout: Duration,
}

impl OpenSshRunner {
    pub fn for_instance(i: &Instance, identity: &SshIdentity, timeout: Duration) -> Self {
        OpenSshRunner {
            host: i.ssh_host.clone(),
            port: i.ssh_port,
            user: i.ssh_user.clone(),
            identity: match identity {
                SshIdentity::KeyFile { path } => Some(path.clone()),
                SshIdentity::Agent => None,
            },
            config: std::env::var(SSH_CONFIG_ENV).ok().filter(|s| !s.is_empty()),
            timeout,
        }
    }

    async fn run(&self, script: &str) -> Result<Vec<u8>, RunnerError> {
        let mut cmd = tokio::process::Command::new("ssh");
        cmd.arg("-T").args(["-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"]);
        if let Some(c) = &self.config {
            cmd.arg("-F").arg(c);
        }
        if let Some(i) = &self.identity {
            cmd.arg("-i").arg(i).args(["-o", "IdentitiesOnly=yes"]);
        }
        // Host and user were validated by core (no leading '-', no spaces).
        cmd.arg("-p").arg(self.port.to_string()).arg("-l").arg(&self.user).arg("--").arg(&self.host).arg("sh -s");
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| RunnerError::Other(format!("cannot start ssh: {e}")))?;
        let mut stdin = child.stdin.take().ok_or_else(|| RunnerError::Other("no stdin".into()))?;
        let mut stdout = child.stdout.take().ok_or_else(|| RunnerError::Other("no stdout".into()))?;
        let mut stderr = child.stderr.take().ok_or_else(|| RunnerError::Other("no stderr".into()))?;
        let host = self.host.clone();
        let work = async {
            let body = script.as_bytes().to_vec();
            let write = async move {
                let _ = stdin.write_all(&body).await;
                let _ = stdin.shutdown().await;
            };
            let read_out = async {
                let mut out = Vec::new();
                let mut buf = [0u8; 16384];
                loop {
                    match stdout.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if out.len() < MAX_STDOUT {
                                out.extend_from_slice(&buf[..n.min(MAX_STDOUT - out.len())]);
                            }
                        }
                    }
                }
                out
            };
            let read_err = async {
                let mut e = Vec::new();
                let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut e).await;
                e
            };
            let ((), out, err) = tokio::join!(write, read_out, read_err);
            let status = child.wait().await.ok();
            (out, err, status)
        };
        let (out, err, status) = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| RunnerError::Timeout { host: host.clone(), secs: self.timeout.as_secs() })?;
        // ssh exits 255 for its own errors (connect, auth, host key).
        if status.and_then(|s| s.code()) == Some(255) && out.is_empty() {
            let msg: String = String::from_utf8_lossy(&err).chars().filter(|c| !c.is_control() || *c == ' ').take(300).collect();
            return Err(RunnerError::Connect { host, message: msg.trim().to_string() });
        }
        Ok(out)
    }
}

impl HostRunner for OpenSshRunner {
    fn run_script<'a>(&'a self, script: &'a str) -> RunFuture<'a> {
        Box::pin(self.run(script))
    }
}

/// A runner that returns canned output (unit tests, and the "could not read" paths).
#[derive(Debug, Clone)]
pub struct CannedRunner(pub Result<Vec<u8>, RunnerError>);

impl HostRunner for CannedRunner {
    fn run_script<'a>(&'a self, _script: &'a str) -> RunFuture<'a> {
        let r = self.0.clone();
        Box::pin(async move { r })
    }
}
