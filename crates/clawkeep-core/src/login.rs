//! The SSH login of a flow, as the front end supplies it: every flow that reaches a host (trust
//! through a jump host, deploy, fleet deploy, check, a rotation's deploy step) takes
//! [`SshCredentials`] and resolves it once with [`crate::Clawkeep::ssh_login`] (in
//! `api/hosts.rs`), so the CLI (which asks for a passphrase at a terminal) and the desktop
//! (which unlocks the key file for its session) run the same core function.

use std::path::Path;
use std::sync::Arc;

use crate::error::Result;
use crate::secret::Secret;
use crate::ssh::SshAuth;

/// Asks for the passphrase of the encrypted key file at the path (the CLI's hidden prompt). An
/// `Err` (no terminal, prompt refused) ends the flow before any host is contacted.
pub type PassphrasePrompt = Arc<dyn Fn(&Path) -> Result<Secret> + Send + Sync>;

/// Where a flow's SSH login comes from.
pub enum SshCredentials {
    /// The identity in the settings: the ssh-agent, or the key file with the passphrase
    /// unlocked for this process ([`crate::Clawkeep::unlock_ssh_key`]). An encrypted key file
    /// that is not unlocked is reported by the flow as `ssh_passphrase_needed` (the desktop's way).
    Configured,
    /// The identity in the settings; an encrypted key file not unlocked for this process is
    /// asked for with this prompt, once per flow (the CLI's way).
    Prompt(PassphrasePrompt),
    /// Exactly this login (the agent, or a key file and its passphrase).
    Given(SshAuth),
}

impl std::fmt::Debug for SshCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SshCredentials::Configured => f.write_str("Configured"),
            SshCredentials::Prompt(_) => f.write_str("Prompt(..)"),
            SshCredentials::Given(a) => f.debug_tuple("Given").field(a).finish(),
        }
    }
}
