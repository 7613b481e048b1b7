//! The keychain of a rehearsal's throw-away world: its minted keys live in this process only,
//! as [`Secret`]s (wiped on drop), and never reach the OS keychain.

use std::collections::HashMap;
use std::sync::Mutex;

use clawkeep_core::{Keychain, KeychainError, Secret};

/// Secrets by account, in memory, for one rehearsal.
#[derive(Default)]
pub struct ThrowawayKeychain {
    entries: Mutex<HashMap<String, Secret>>,
}

impl std::fmt::Debug for ThrowawayKeychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrowawayKeychain").finish_non_exhaustive()
    }
}

impl Keychain for ThrowawayKeychain {
    fn probe(&self) -> Result<(), KeychainError> {
        Ok(())
    }
    fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).insert(account.into(), secret.duplicate());
        Ok(())
    }
    fn get(&self, account: &str) -> Result<Secret, KeychainError> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(account).map(Secret::duplicate).ok_or_else(|| KeychainError::Missing { account: account.into() })
    }
    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(account);
        Ok(())
    }
    fn service(&self) -> &str {
        "rehearsal"
    }
    fn store_name(&self) -> String {
        "rehearsal (in memory, thrown away)".into()
    }
}
