//! Deploy bundles: carry a key to its instance over SSH — planned, atomic, verified, reversible.
//!
//! The flow for one instance (one SSH connection for every step):
//!
//! 1. [`DeploySession::open`]: connect with the pinned host key (refused when unpinned or changed).
//! 2. [`DeploySession::plan`]: read the host's state over SFTP (`openclaw.json` for
//!    `gateway.port`, `.env`) and probe for stale credentials that would beat the new key by
//!    OpenClaw's precedence (an `anthropic:` auth profile in an agent's SQLite, a key in the
//!    systemd unit's environment or in `gateway.systemd.env`; `openclaw.md` §4.5, §6.5, §7).
//!    The plan lists every file and command and a redacted diff. Nothing is written.
//! 3. [`DeploySession::apply`]: back up the current `.env` (0600), write the new one atomically
//!    (other lines and comments kept), remove consented stale credentials, restart the gateway,
//!    then verify: `/readyz` on the host's loopback at the configured port, and the SHA-256 of
//!    the key the running gateway process really has (`/proc/<pid>/environ`) and of the key in
//!    `.env`, both computed on the host — the value never leaves it and is never in an argv.
//!    On failure: restore the backup, restart, re-verify, and report both.
//!
//! [`deploy_fleet`] runs many with bounded concurrency; one failing host never stops the others,
//! and cancellation skips hosts not yet changed while hosts in flight finish or roll back.
//!
//! Front ends call this with a progress callback and a [`CancellationToken`]; recording the
//! result (store + audit) is [`crate::Clawkeep::record_deployment`].
//!
//! The module, one concern per file (each depends only on the ones above it):
//!
//! - `types.rs`: the job, options, stages, the plan and its digest ([`plan_digest`]), the
//!   outcome and report — data, no behaviour beyond sanitizing.
//! - `remote.rs`: every shell command run on the host (probe, gateway lookup, restart,
//!   verifications) and the parsing of their output — text only.
//! - `plan.rs`: `build_plan`, the pure judgement over [`DeployFacts`]
//!   (no I/O; table tests in `plan/tests.rs`).
//! - `conn.rs`: one SSH connection for one job and the I/O every method shares — gather the
//!   facts, re-read before writing, restart, wait for `/readyz`, the gateway's effective key.
//! - `inject.rs`: write, verify and roll back per injection method (`.env`, auth profile,
//!   secret file) over that connection.
//! - `session.rs`: [`DeploySession`], the public face of a run on one host — open, plan, apply
//!   (the refusals, then the method's write and, on failure, its rollback).
//! - `run.rs`: [`deploy_one`] and [`deploy_fleet`].
//!
//! The flows the front ends call (load the job, run, record) are [`crate::api::deploys`], which
//! uses this module; nothing here uses it.

mod conn;
mod inject;
mod plan;
mod remote;
mod run;
mod session;
mod types;

pub use tokio_util::sync::CancellationToken;

pub use plan::{rewrite_env, DeployFacts};
pub(crate) use remote::restart_command;
pub use run::{deploy_fleet, deploy_one};
pub use session::DeploySession;
pub use types::{no_progress, plan_digest, DeployJob, DeployOptions, DeployPlan, DeployReport, Outcome, PlanStep, ProgressFn, Stage, StaleCredential};
