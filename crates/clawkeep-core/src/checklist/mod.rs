//! The troubleshooting checklist: narrow an Anthropic failure to one domain — credential,
//! account context, protocol, throughput (plus the boundary/host baseline) — prove what still
//! works, and say what is wrong and what to do, per instance and fleet-wide.
//!
//! * [`types`]: the result types ([`CheckResult`], [`InstanceReport`], [`FleetReport`]) the CLI
//!   prints and the desktop UI receives.
//! * [`cause`]: the vocabulary of causes and fixes (the HTTP table of the deployment guide).
//! * [`config`]: `openclaw.json` (JSON5) facts and the base-URL rules.
//! * [`hostfacts`]: the one POSIX `sh` script that gathers every host fact in one round trip,
//!   and its defensive parser.
//! * [`runner`]: the [`runner::HostRunner`] transport trait and [`runner::SshRunner`], over core's
//!   pinned SSH layer.
//! * [`facts`]: what a run starts from ([`CheckContext`], [`CheckOptions`]) and what it
//!   gathered ([`facts::Gathered`]), with the secret-free view the evaluation reads.
//! * [`gather`]: the I/O: host facts over the runner, API probes (shared by a [`ProbeCache`]).
//! * [`evaluate`]: the judgement, pure: facts → check results, one module per domain.
//! * [`engine`]: one instance (gather, then evaluate) and the fleet loop.
//! * [`fleet`]: cross-instance findings (shared key, shared org/workspace limits).
//!
//! A whole run for front ends (targets, transport, concurrency, cancel, history) is
//! [`crate::api::checks`], over this module.

pub mod cause;
pub mod config;
pub mod engine;
pub mod evaluate;
pub mod facts;
pub mod fleet;
pub mod gather;
pub mod hostfacts;
pub mod matrix;
pub mod runner;
pub mod types;

pub use cause::Cause;
pub use engine::{run_fleet, run_instance, run_instance_shared, CheckContext, CheckOptions, CheckProgressFn, FleetJob, ProbeCache};
pub use runner::{HostRunner, RunnerError, SshRunner};
pub use types::*;
