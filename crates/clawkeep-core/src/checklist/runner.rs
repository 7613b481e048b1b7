//! How the host-facts script reaches a host: the [`HostRunner`] trait (one SSH connection, one
//! remote `sh -s` with the script on stdin, its stdout back), and [`SshRunner`], the
//! implementation over core's own SSH layer ([`crate::ssh::HostSession`]).
//!
//! The checklist follows the same rule as deploy: host keys are **pinned per instance**. An
//! instance whose key is not pinned yet is refused before any connection ("trust it first:
//! clawkeep host trust NAME"); a host presenting another key is refused during the handshake,
//! before authentication, so nothing is run on it. The user's `known_hosts` and the system
//! `ssh` binary play no part.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;
use crate::ssh::{HostSession, SshAuth, SshOptions, SshTarget};

/// A transport failure, with enough structure for the checklist to name the cause and the fix.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunnerError {
    /// The instance has no pinned host key: nothing was sent to the host.
    #[error("the host key of instance '{instance}' is not trusted yet{}: nothing was sent to it. Check its fingerprint, then trust it", presented.as_ref().map(|p| format!(" (the host presents {p})")).unwrap_or_default())]
    HostKeyUnknown { instance: String, presented: Option<String> },
    /// The host presented another key than the pinned one: refused before authenticating.
    #[error("HOST KEY MISMATCH for instance '{instance}' ({address}): pinned {pinned}, but the host presents {presented}. Refused: nothing was run on it")]
    HostKeyMismatch { instance: String, address: String, pinned: String, presented: String },
    /// TCP connect or the SSH handshake failed (refused, reset, no route…).
    #[error("cannot connect to instance '{instance}' at {address}: {message}")]
    Connect { instance: String, address: String, message: String },
    /// No answer within the connect timeout.
    #[error("cannot connect to instance '{instance}' at {address}: no answer within {secs} s (host down, firewalled or unreachable)")]
    Timeout { instance: String, address: String, secs: u64 },
    /// The host refused every offered key, or the key could not be used.
    #[error("{message}")]
    Auth { instance: String, message: String },
    #[error("{0}")]
    Other(String),
}

impl RunnerError {
    /// Stable code (the same as core's [`Error::code`] for the same failure).
    pub fn code(&self) -> &'static str {
        match self {
            RunnerError::HostKeyUnknown { .. } => "host_key_unknown",
            RunnerError::HostKeyMismatch { .. } => "host_key_mismatch",
            RunnerError::Connect { .. } => "ssh_connect",
            RunnerError::Timeout { .. } => "ssh_timeout",
            RunnerError::Auth { .. } => "ssh_auth",
            RunnerError::Other(_) => "ssh_error",
        }
    }
}

impl From<Error> for RunnerError {
    fn from(e: Error) -> Self {
        match e {
            Error::HostKeyUnknown { instance, presented } => RunnerError::HostKeyUnknown { instance, presented },
            Error::HostKeyMismatch { instance, address, pinned, presented } => RunnerError::HostKeyMismatch { instance, address, pinned, presented },
            Error::SshConnect { instance, address, message } => RunnerError::Connect { instance, address, message },
            Error::SshTimeout { instance, address, seconds } => RunnerError::Timeout { instance, address, secs: seconds },
            e @ Error::SshAuth { .. } => {
                let instance = match &e {
                    Error::SshAuth { instance, .. } => instance.clone(),
                    _ => String::new(),
                };
                RunnerError::Auth { instance, message: e.to_string() }
            }
            e @ Error::SshPassphraseNeeded { .. } => RunnerError::Auth { instance: String::new(), message: e.to_string() },
            e => RunnerError::Other(e.to_string()),
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

/// [`HostRunner`] over [`HostSession`]: connect (pinned host key, authenticated) → one
/// `exec("host facts", "sh -s", script)` → stdout → close.
#[derive(Debug, Clone)]
pub struct SshRunner {
    pub target: SshTarget,
    /// Shared by every runner of a fleet run (one passphrase prompt at most).
    pub auth: Arc<SshAuth>,
    pub opts: SshOptions,
    /// Limit for the script itself (the connect has `opts.connect_timeout`).
    pub limit: Duration,
}

impl SshRunner {
    pub fn new(target: SshTarget, auth: Arc<SshAuth>, opts: SshOptions, limit: Duration) -> Self {
        SshRunner { target, auth, opts, limit }
    }

    async fn run(&self, script: &str) -> Result<Vec<u8>, RunnerError> {
        // Refuse an unpinned host before touching the network (HostSession does too; this
        // keeps the message independent of whether the host is up).
        if self.target.pinned.is_none() {
            return Err(RunnerError::HostKeyUnknown { instance: self.target.instance.clone(), presented: None });
        }
        let session = HostSession::connect(&self.target, &self.auth, &self.opts).await?;
        let r = session.exec("host facts", "sh -s", Some(script.as_bytes()), self.limit).await;
        session.close().await;
        let out = r?;
        if out.dropped > 0 {
            // The script's output is bounded; a cut report would fail the nonce trailer anyway.
            return Err(RunnerError::Other(format!("the host facts output was larger than {} bytes and was cut", crate::ssh::OUTPUT_LIMIT)));
        }
        Ok(out.stdout().as_bytes().to_vec())
    }
}

impl HostRunner for SshRunner {
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
