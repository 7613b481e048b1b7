//! Key rotation. Anthropic's Admin API cannot create keys, so rotation is guided: a person
//! creates the new key in the Console and Clawkeep does the rest.
//!
//! This module is the rotation itself, with no store, keychain or SSH in it: types, rules and
//! judgement, and the traits through which the world is reached ([`Deployer`]). The facade
//! methods that wire the store, the keychain, the Admin API and Clawkeep's SSH deploy into it
//! are `api/rotations/` ([`crate::Clawkeep::rotation_step`] and its neighbours).
//!
//! - [`policy`]: rotation policies (max age, warning window, preferred weekday and window) per
//!   fleet, owner or instance, and how a change to one is checked.
//! - [`plan`]: the offline plan (due dates, urgency, suggested slot and key name, steps, blast
//!   radius) and its CSV and iCalendar exports.
//! - [`machine`]: the guided rotation's state (steps, the persisted [`Rotation`], step input
//!   and report) and the [`Deployer`] trait, with the [`ManualDeployer`].
//! - `judge`: the step machine's judgement, pure: which step runs, what a pasted key, a
//!   probe, a deploy, an Admin API record or a usage report means, and every refusal.
//! - [`api`]: the small Anthropic client it needs (probe, Admin API).
//! - [`rehearsal`]: the report of a rehearsal and its audit record; the rehearsal itself (a
//!   rotation practised against an in-process fake API) is the `clawkeep-rehearsal` crate.

pub mod api;
pub(crate) mod judge;
pub mod machine;
pub mod plan;
pub mod policy;
pub mod rehearsal;

pub use machine::{
    DeployOutcome, Deployer, HostKey, ManualDeployer, Rotation, RotationOptions, RotationOutcome, RotationStep, StepEvent, StepInput, StepReport, DEFAULT_SOAK_SECS,
};
pub use plan::{BlastRadius, DueBrief, DueStatus, OwnerPlan, PlanItem, RotationPlan};
pub use policy::{PolicyScope, PolicySpec, RotationPolicy};
