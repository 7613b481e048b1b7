//! Clawkeep core: the domain (instances, keys, audit), the SQLite store, the OS keychain,
//! and the operations both front ends (the `clawkeep` CLI and the desktop app) call.
//!
//! Start at [`Clawkeep`]: every user-visible operation is a method there. Nothing in this crate
//! knows about Tauri or the command line.

pub mod anthropic;
pub mod api;
pub mod bundle;
pub mod checklist;
pub mod cost;
pub mod deploy;
pub mod dotenv;
pub mod error;
pub mod hosttext;
pub mod keystore;
pub mod login;
pub mod model;
pub mod onboard;
pub mod paths;
pub mod rotation;
mod runtime;
pub mod secret;
pub mod secrets;
pub mod ssh;
pub mod sshconfig;
pub mod store;
pub mod team;

pub use api::{Clawkeep, Clock, OpenOptions};
pub use error::{Error, ErrorDetail, ErrorPayload, KeyIdMismatch, Remedy, Result, TeamFieldConflict};
pub use login::{PassphrasePrompt, SshCredentials};
pub use model::domain::*;
pub use model::keyfmt::{KeyFormatError, KeyKind};
pub use secret::Secret;
#[cfg(any(test, feature = "test-support"))]
pub use secrets::MemoryKeychain;
#[cfg(any(test, feature = "test-support"))]
pub mod testkeys;
pub use secrets::{Keychain, KeychainError, OsKeychain};
