//! Key rotation. Anthropic's Admin API cannot create keys, so rotation is guided: a person
//! creates the new key in the Console and Clawkeep does the rest.
//!
//! - [`policy`]: rotation policies (max age, warning window, preferred weekday and window) per
//!   fleet, owner or instance.
//! - [`plan`]: the offline plan (due dates, urgency, suggested slot and key name, steps, blast
//!   radius) and its CSV and iCalendar exports.
//! - [`machine`]: the persisted, resumable step machine of a guided rotation, with rollback.
//! - [`api`]: the small Anthropic client it needs (probe, Admin API).
//! - [`deployers`]: the SSH [`Deployer`] over [`crate::deploy`].
//! - [`rehearsal`]: the report of a rehearsal and its audit record; the rehearsal itself (a
//!   rotation practised against an in-process fake API) is the `clawkeep-rehearsal` crate.

pub mod api;
pub mod deployers;
pub mod machine;
pub mod plan;
pub mod policy;
pub mod rehearsal;

pub use deployers::SshDeployer;
pub use machine::{DeployOutcome, Deployer, HostKey, ManualDeployer, Rotation, RotationOptions, RotationOutcome, RotationStep, StepEvent, StepInput, StepReport, DEFAULT_SOAK_SECS};
pub use plan::{BlastRadius, DueStatus, OwnerPlan, PlanItem, RotationPlan};
pub use policy::{PolicyScope, PolicySpec, RotationPolicy};
