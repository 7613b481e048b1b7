//! The test world shared by every end-to-end test: SSH test hosts, the fake API, CLI helpers.
//!
//! * [`world`]: N real `sshd` hosts on loopback addresses with fault controls and an OpenClaw
//!   layout + supervised gateway each ([`world::World`], [`world::Host`]).
//! * [`openclaw`]: the real OpenClaw (installed once per target dir) running on a test host.
//! * [`fake`]: client for the fake Anthropic API's control surface.
//! * [`layout`], [`scripts`], [`http`], [`sys`]: the pieces they are built from.

pub mod fake;
pub mod http;
pub mod layout;
pub mod openclaw;
pub mod scripts;
pub mod sys;
pub mod world;

pub use world::{Host, HostMode, ShellMode, World, WorldOptions};
