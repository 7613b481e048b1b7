//! The OS keychain: the only place a key's value is stored (or, chosen explicitly on a machine
//! without one, a headless store from [`crate::keystore`]).
//!
//! [`Keychain`] is a small blocking interface; [`OsKeychain`] implements it on the platform store
//! (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows) through the
//! `keyring-core` family, and `MemoryKeychain` (feature `test-support`, not part of the normal
//! API) is an in-memory double for tests.
//! Calls block (D-Bus round trips of a few ms): async callers must use `spawn_blocking`.
//!
//! Errors are mapped to causes a person can act on (no Secret Service running, keyring locked),
//! following the exact messages recorded in `shared/reference/keyring-and-ssh.md` §A2.

#[cfg(any(test, feature = "test-support"))]
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::secret::Secret;

/// Why the keychain could not be used. Messages say the cause and the fix, never a secret.
#[derive(Debug, Clone, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum KeychainError {
    #[error("the OS keychain is not reachable: {detail}. On Linux Clawkeep needs a Secret Service (GNOME Keyring, KWallet or KeePassXC) on the session D-Bus: start one (e.g. log in to a desktop session, or run `gnome-keyring-daemon --unlock --components=secrets` inside a D-Bus session). On a server or in a cron job, choose a headless store instead: CLAWKEEP_KEYSTORE=keyutils (the kernel keyring of this login session) or CLAWKEEP_KEYSTORE=age-file (a file encrypted with a passphrase)")]
    Unavailable { detail: String },
    #[error("the OS keychain is locked or has no default collection: {detail}. Unlock your login keyring (e.g. with Seahorse, or `gnome-keyring-daemon --unlock`) and try again")]
    Locked { detail: String },
    #[error("the keychain has no secret for '{account}': it was deleted outside Clawkeep. Add the key again")]
    Missing { account: String },
    #[error("the keychain failed: {detail}")]
    Other { detail: String },
    /// The chosen headless store cannot be used (no passphrase source, unreadable file, bad choice).
    #[error("the key store chosen with CLAWKEEP_KEYSTORE cannot be used: {detail}")]
    KeystoreUnavailable { detail: String },
    /// The encrypted key file does not open with the passphrase given.
    #[error("the encrypted key file cannot be opened: {detail}. Nothing was changed")]
    KeystoreLocked { detail: String },
}

impl KeychainError {
    pub fn code(&self) -> &'static str {
        match self {
            KeychainError::Unavailable { .. } => "keychain_unavailable",
            KeychainError::Locked { .. } => "keychain_locked",
            KeychainError::Missing { .. } => "keychain_missing",
            KeychainError::Other { .. } => "keychain_error",
            KeychainError::KeystoreUnavailable { .. } => "keystore_unavailable",
            KeychainError::KeystoreLocked { .. } => "keystore_locked",
        }
    }
}

/// A store of secrets by account name, within one service name.
pub trait Keychain: Send + Sync {
    /// Reachable and writable? Cheap enough for `self-check`.
    fn probe(&self) -> Result<(), KeychainError>;
    fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError>;
    fn get(&self, account: &str) -> Result<Secret, KeychainError>;
    /// Deleting an entry that does not exist is not an error.
    fn delete(&self, account: &str) -> Result<(), KeychainError>;
    /// The service name entries are stored under (for messages and `self-check`).
    fn service(&self) -> &str;
    /// Which store this is, for `self-check` (e.g. "Secret Service (D-Bus)"). No default: a
    /// wrapper that forgot to pass it on would name the wrong store.
    fn store_name(&self) -> String;
}

fn map_error(e: keyring_core::Error, account: &str) -> KeychainError {
    use keyring_core::Error as E;
    match e {
        E::NoEntry => KeychainError::Missing { account: account.to_string() },
        E::NoStorageAccess(inner) => KeychainError::Locked { detail: inner.to_string() },
        E::NoDefaultStore => KeychainError::Unavailable { detail: "no platform store".into() },
        E::PlatformFailure(inner) => classify_platform(&inner.to_string()),
        other => KeychainError::Other { detail: other.to_string() },
    }
}

fn classify_platform(text: &str) -> KeychainError {
    let lower = text.to_ascii_lowercase();
    if lower.contains("islocked") || lower.contains("locked collection") || lower.contains("prompt") {
        KeychainError::Locked { detail: text.to_string() }
    } else if lower.contains("serviceunknown")
        || lower.contains("autolaunch")
        || lower.contains("failed to connect")
        || lower.contains("no such file")
        || lower.contains("not provided by any .service")
        || lower.contains("dbus")
    {
        KeychainError::Unavailable { detail: text.to_string() }
    } else {
        KeychainError::Other { detail: text.to_string() }
    }
}

type Store = Arc<keyring_core::CredentialStore>;

/// The platform keychain. The store connection is made on first use and retried after a
/// failure, so starting the keyring after Clawkeep is fine.
pub struct OsKeychain {
    service: String,
    store: Mutex<Option<Store>>,
}

impl OsKeychain {
    /// `service` is `clawkeep` in normal use; tests pass a unique name per run.
    pub fn new(service: impl Into<String>) -> Self {
        OsKeychain { service: service.into(), store: Mutex::new(None) }
    }

    fn store(&self) -> Result<Store, KeychainError> {
        let mut guard = self.store.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let store = platform_store()?;
        *guard = Some(store.clone());
        Ok(store)
    }

    fn entry(&self, account: &str) -> Result<keyring_core::Entry, KeychainError> {
        let store = self.store()?;
        keyring_core::Entry::new_in_store(&store, &self.service, account).map_err(|e| map_error(e, account))
    }
}

#[cfg(target_os = "linux")]
fn platform_store() -> Result<Store, KeychainError> {
    // Without a session bus libdbus would try to autolaunch one through X11; say what is wrong instead.
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() && std::env::var_os("DISPLAY").is_none() {
        return Err(KeychainError::Unavailable { detail: "no D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)".into() });
    }
    let s = dbus_secret_service_keyring_store::Store::new().map_err(|e| map_error(e, ""))?;
    Ok(s)
}

#[cfg(target_os = "macos")]
fn platform_store() -> Result<Store, KeychainError> {
    let s = apple_native_keyring_store::keychain::Store::new().map_err(|e| map_error(e, ""))?;
    Ok(s)
}

#[cfg(target_os = "windows")]
fn platform_store() -> Result<Store, KeychainError> {
    let s = windows_native_keyring_store::Store::new().map_err(|e| map_error(e, ""))?;
    Ok(s)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn platform_store() -> Result<Store, KeychainError> {
    Err(KeychainError::Unavailable { detail: "no supported keychain on this platform".into() })
}

impl Keychain for OsKeychain {
    fn probe(&self) -> Result<(), KeychainError> {
        // A read of an entry that does not exist proves the store answers and is unlocked
        // enough to search; a write proves more but would rewrite the keyring file each time.
        let probe = self.entry("clawkeep-self-check")?;
        match probe.get_password() {
            Ok(_) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e, "clawkeep-self-check")),
        }
    }

    fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError> {
        self.entry(account)?.set_password(secret.expose()).map_err(|e| map_error(e, account))
    }

    fn get(&self, account: &str) -> Result<Secret, KeychainError> {
        self.entry(account)?.get_password().map(Secret::new).map_err(|e| map_error(e, account))
    }

    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e, account)),
        }
    }

    fn service(&self) -> &str {
        &self.service
    }

    fn store_name(&self) -> String {
        if cfg!(target_os = "linux") {
            "Secret Service (D-Bus)".into()
        } else if cfg!(target_os = "macos") {
            "macOS Keychain".into()
        } else {
            "Windows Credential Manager".into()
        }
    }
}

/// An in-memory keychain for tests, with a switch to make it fail like a locked keyring.
#[cfg(any(test, feature = "test-support"))]
#[derive(Default)]
pub struct MemoryKeychain {
    entries: Mutex<HashMap<String, String>>,
    fail: Mutex<Option<KeychainError>>,
}

#[cfg(any(test, feature = "test-support"))]
impl MemoryKeychain {
    pub fn new() -> Self {
        Self::default()
    }
    /// Every following call fails with `err` (or works again with `None`).
    pub fn fail_with(&self, err: Option<KeychainError>) {
        *self.fail.lock().unwrap_or_else(|p| p.into_inner()) = err;
    }
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn check(&self) -> Result<(), KeychainError> {
        match self.fail.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Keychain for MemoryKeychain {
    fn probe(&self) -> Result<(), KeychainError> {
        self.check()
    }
    fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError> {
        self.check()?;
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).insert(account.into(), secret.expose().into());
        Ok(())
    }
    fn get(&self, account: &str) -> Result<Secret, KeychainError> {
        self.check()?;
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(account).map(|v| Secret::new(v.clone())).ok_or_else(|| KeychainError::Missing { account: account.into() })
    }
    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        self.check()?;
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(account);
        Ok(())
    }
    fn service(&self) -> &str {
        "memory"
    }
    fn store_name(&self) -> String {
        "in-memory keychain".into()
    }
}

#[cfg(any(test, feature = "test-support"))]
impl std::fmt::Debug for MemoryKeychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKeychain").field("entries", &self.len()).finish()
    }
}

impl std::fmt::Debug for OsKeychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OsKeychain").field("service", &self.service).finish()
    }
}
