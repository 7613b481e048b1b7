//! Onboarding an existing fleet (issue 17): take over hosts where OpenClaw already runs and
//! adopt the keys already on them, without a key ever passing through a terminal.
//!
//! The pure halves live here; the flow that talks to hosts and writes the inventory is
//! `api/onboard.rs` ([`crate::Clawkeep::onboard_fetch_host_keys`],
//! [`crate::Clawkeep::run_onboard`]).
//!
//! * [`intake`]: the batch from an ssh config, a CSV/TSV table or a pasted list; trusted
//!   fingerprints from a provider's list or `ssh-keyscan` output.
//! * [`discover`]: the scripts sent to a host (the checklist's host facts plus how the gateway
//!   runs, in one round trip; the read of one key by its fingerprint) and their readers.
//! * [`judge`]: facts → proposed record, differences, a decision per key found; across the
//!   batch, shared keys.

pub mod discover;
pub mod intake;
pub mod judge;

pub use discover::{Discovery, ServiceFacts};
pub use intake::{hosts_from_ssh_config, parse_host_list, parse_host_table, parse_known_fingerprints, KnownFingerprints, OnboardHost, RowError};
pub use judge::{judge, settle, shared_keys, Discovered, FieldChange, FoundKey, HostJudgement, KeyDecision, OnboardDefaults, ProposedRecord};
