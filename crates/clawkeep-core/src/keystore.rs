//! Key stores for machines without a Secret Service (a management server, a cron job), chosen
//! explicitly with `CLAWKEEP_KEYSTORE` and never as a silent fallback:
//!
//! - `os` (default): the platform keychain ([`crate::secrets::OsKeychain`]; Secret Service on Linux).
//! - `keyutils`: the Linux kernel keyring (keyutils, through the `linux-keyutils` crate the
//!   keyring family's keyutils store is built on): the login session's keyring, memory only,
//!   gone with the session or a reboot. Not the family's store itself: it also links each key
//!   into the user's persistent keyring and fails with EACCES where the session keyring is the
//!   user-session one (cron, `su`, containers), after the key was already added.
//! - `age-file`: `<data dir>/keystore.age`, every secret in one file encrypted at rest with `age`
//!   (scrypt passphrase); written whole (temp file 0600, fsync, rename) on each change.
//!
//! The age file's passphrase comes from `CLAWKEEP_KEYSTORE_UNLOCK`, which names a *source*, never
//! the secret: `prompt` (the front end's hidden prompt), `fd:N` (read one line from an inherited
//! file descriptor) or `systemd-credential[:NAME]` (`$CREDENTIALS_DIRECTORY/NAME`, default
//! `clawkeep-keystore`, as `LoadCredentialEncrypted=` provides it). Unset: a systemd credential
//! when one is there, else the prompt when the front end has one; else a clear error. The
//! passphrase is never read from an environment variable's value or argv.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use crate::secret::Secret;
use crate::secrets::{Keychain, KeychainError, OsKeychain};

/// Names the store: `os`, `keyutils` or `age-file`.
pub const KEYSTORE_ENV: &str = "CLAWKEEP_KEYSTORE";
/// Names where the age file's passphrase comes from (see the module doc).
pub const KEYSTORE_UNLOCK_ENV: &str = "CLAWKEEP_KEYSTORE_UNLOCK";
/// The systemd credential read when none is named.
pub const DEFAULT_CREDENTIAL: &str = "clawkeep-keystore";
/// The age file, in the data directory.
pub const AGE_FILE: &str = "keystore.age";

/// The front end's hidden prompt: the question in, the answer out (`None`: no terminal).
pub type PromptFn = Arc<dyn Fn(&str) -> Option<Secret> + Send + Sync>;

static PROMPT: std::sync::OnceLock<PromptFn> = std::sync::OnceLock::new();

/// A front end that can ask for a passphrase (the CLI on a terminal) registers its hidden
/// prompt once, before [`crate::Clawkeep::open`]; later calls are ignored.
pub fn set_prompt(p: PromptFn) {
    let _ = PROMPT.set(p);
}

/// The registered prompt, if any.
pub fn prompt() -> Option<PromptFn> {
    PROMPT.get().cloned()
}

/// Which store holds the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    Os,
    KernelKeyring,
    AgeFile,
}

impl StoreChoice {
    pub fn parse(s: &str) -> Option<StoreChoice> {
        match s.trim().to_ascii_lowercase().as_str() {
            "os" | "secret-service" | "default" => Some(StoreChoice::Os),
            "keyutils" | "kernel" | "kernel-keyring" => Some(StoreChoice::KernelKeyring),
            "age-file" | "age" | "file" => Some(StoreChoice::AgeFile),
            _ => None,
        }
    }

    /// From `CLAWKEEP_KEYSTORE` (unset or empty: the OS keychain).
    pub fn from_env() -> Result<StoreChoice, KeychainError> {
        match std::env::var(KEYSTORE_ENV) {
            Ok(v) if !v.trim().is_empty() => StoreChoice::parse(&v).ok_or_else(|| KeychainError::KeystoreUnavailable {
                // its value is not repeated: a misplaced secret must not reach a terminal or a log
                detail: format!("{KEYSTORE_ENV} must be os, keyutils or age-file"),
            }),
            _ => Ok(StoreChoice::Os),
        }
    }
}

/// Where the age file's passphrase comes from.
#[derive(Clone)]
pub enum UnlockSource {
    Prompt(PromptFn),
    /// An inherited file descriptor (read through `/dev/fd/N`).
    Fd(u32),
    /// A file in `$CREDENTIALS_DIRECTORY` (systemd's `LoadCredential=`/`LoadCredentialEncrypted=`).
    SystemdCredential(String),
    /// None could be found; the error says how to give one.
    Missing(String),
}

impl std::fmt::Debug for UnlockSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl UnlockSource {
    /// From `CLAWKEEP_KEYSTORE_UNLOCK` (see the module doc); `prompt` is the front end's.
    pub fn from_env(prompt: Option<PromptFn>) -> UnlockSource {
        let named = std::env::var(KEYSTORE_UNLOCK_ENV).unwrap_or_default();
        UnlockSource::parse(&named, prompt, std::env::var_os("CREDENTIALS_DIRECTORY").is_some())
    }

    /// `named` as in `CLAWKEEP_KEYSTORE_UNLOCK`; `has_credentials_dir`: systemd gave credentials.
    pub fn parse(named: &str, prompt: Option<PromptFn>, has_credentials_dir: bool) -> UnlockSource {
        let named = named.trim();
        if named.is_empty() {
            if has_credentials_dir && credential_path(DEFAULT_CREDENTIAL).is_some_and(|p| p.is_file()) {
                return UnlockSource::SystemdCredential(DEFAULT_CREDENTIAL.into());
            }
            return match prompt {
                Some(p) => UnlockSource::Prompt(p),
                None => UnlockSource::Missing(format!("no passphrase source: set {KEYSTORE_UNLOCK_ENV} to fd:N or systemd-credential[:NAME], or run where Clawkeep can prompt")),
            };
        }
        if named == "prompt" {
            return match prompt {
                Some(p) => UnlockSource::Prompt(p),
                None => UnlockSource::Missing(format!("{KEYSTORE_UNLOCK_ENV}=prompt, but this program cannot prompt")),
            };
        }
        if let Some(n) = named.strip_prefix("fd:") {
            return match n.parse::<u32>() {
                Ok(n) if n > 2 => UnlockSource::Fd(n),
                _ => UnlockSource::Missing(format!("{KEYSTORE_UNLOCK_ENV}=fd:N needs a descriptor number above 2")),
            };
        }
        if named == "systemd-credential" {
            return UnlockSource::SystemdCredential(DEFAULT_CREDENTIAL.into());
        }
        if let Some(name) = named.strip_prefix("systemd-credential:") {
            if !name.is_empty() && !name.contains('/') && name != "." && name != ".." {
                return UnlockSource::SystemdCredential(name.into());
            }
            return UnlockSource::Missing("a systemd credential name is one file name (no '/')".into());
        }
        UnlockSource::Missing(format!("{KEYSTORE_UNLOCK_ENV} must be prompt, fd:N or systemd-credential[:NAME] — it names where the passphrase comes from, never the passphrase"))
    }

    pub fn describe(&self) -> String {
        match self {
            UnlockSource::Prompt(_) => "a prompt".into(),
            UnlockSource::Fd(n) => format!("file descriptor {n}"),
            UnlockSource::SystemdCredential(n) => format!("systemd credential {n}"),
            UnlockSource::Missing(_) => "no passphrase source".into(),
        }
    }

    fn read(&self, question: &str) -> Result<Secret, KeychainError> {
        let unavailable = |detail: String| KeychainError::KeystoreUnavailable { detail };
        let secret = match self {
            UnlockSource::Prompt(p) => p(question).ok_or_else(|| unavailable("the passphrase prompt needs a terminal".into()))?,
            UnlockSource::Fd(n) => read_first_line(Path::new(&format!("/dev/fd/{n}"))).map_err(|e| unavailable(format!("reading the passphrase from file descriptor {n}: {e}")))?,
            UnlockSource::SystemdCredential(name) => {
                let path = credential_path(name).ok_or_else(|| unavailable("CREDENTIALS_DIRECTORY is not set (not started by systemd with LoadCredential=)".into()))?;
                read_first_line(&path).map_err(|e| unavailable(format!("reading systemd credential {name}: {e}")))?
            }
            UnlockSource::Missing(why) => return Err(unavailable(why.clone())),
        };
        if secret.is_empty() {
            return Err(unavailable(format!("the passphrase from {} is empty", self.describe())));
        }
        Ok(secret)
    }
}

fn credential_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| PathBuf::from(d).join(name))
}

/// The first line of a file (or descriptor), without its line end; at most 4 KiB read.
fn read_first_line(path: &Path) -> std::io::Result<Secret> {
    let mut buf = Zeroizing::new(Vec::with_capacity(256));
    std::fs::File::open(path)?.take(4096).read_to_end(&mut buf)?;
    let end = buf.iter().position(|b| *b == b'\n').unwrap_or(buf.len());
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let text = std::str::from_utf8(line).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))?;
    Ok(Secret::new(text.to_string()))
}

/// Builds the store `choice` names (`service` as for the OS keychain).
pub fn open(choice: StoreChoice, service: String, data_dir: &Path, prompt: Option<PromptFn>) -> Arc<dyn Keychain> {
    match choice {
        StoreChoice::Os => Arc::new(OsKeychain::new(service)),
        StoreChoice::KernelKeyring => Arc::new(KernelKeychain { service }),
        StoreChoice::AgeFile => Arc::new(AgeFileKeychain::new(data_dir.join(AGE_FILE), service, UnlockSource::from_env(prompt))),
    }
}

/// The Linux kernel keyring of the login session: `user` keys described
/// `clawkeep:<service>:<account>` in the session keyring (the user-session keyring where the
/// process has no session of its own).
#[derive(Debug)]
pub struct KernelKeychain {
    service: String,
}

impl KernelKeychain {
    fn description(&self, account: &str) -> String {
        format!("clawkeep:{}:{account}", self.service)
    }
}

#[cfg(target_os = "linux")]
mod kernel {
    use linux_keyutils::{KeyError, KeyRing, KeyRingIdentifier};

    use super::KernelKeychain;
    use crate::secret::Secret;
    use crate::secrets::{Keychain, KeychainError};

    fn err(e: KeyError) -> KeychainError {
        KeychainError::KeystoreUnavailable { detail: format!("the kernel keyring: {e:?}") }
    }

    fn session() -> Result<KeyRing, KeychainError> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false).map_err(err)
    }

    impl Keychain for KernelKeychain {
        fn probe(&self) -> Result<(), KeychainError> {
            match session()?.search(&self.description("clawkeep-self-check")) {
                Ok(_) | Err(KeyError::KeyDoesNotExist) => Ok(()),
                Err(e) => Err(err(e)),
            }
        }

        fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError> {
            // add_key replaces the payload of a key with the same description
            session()?.add_key(&self.description(account), secret.expose().as_bytes()).map(|_| ()).map_err(err)
        }

        fn get(&self, account: &str) -> Result<Secret, KeychainError> {
            let key = match session()?.search(&self.description(account)) {
                Ok(k) => k,
                Err(KeyError::KeyDoesNotExist) => return Err(KeychainError::Missing { account: account.to_string() }),
                Err(e) => return Err(err(e)),
            };
            let bytes = zeroize::Zeroizing::new(key.read_to_vec().map_err(err)?);
            let text = std::str::from_utf8(&bytes).map_err(|_| KeychainError::Other { detail: format!("the kernel keyring entry of '{account}' is not text") })?;
            Ok(Secret::new(text.to_string()))
        }

        fn delete(&self, account: &str) -> Result<(), KeychainError> {
            match session()?.search(&self.description(account)) {
                Ok(k) => k.invalidate().map_err(err),
                Err(KeyError::KeyDoesNotExist) => Ok(()),
                Err(e) => Err(err(e)),
            }
        }

        fn service(&self) -> &str {
            &self.service
        }

        fn store_name(&self) -> String {
            "kernel keyring (keyutils: this login session, memory only)".into()
        }
    }
}

#[cfg(not(target_os = "linux"))]
impl Keychain for KernelKeychain {
    fn probe(&self) -> Result<(), KeychainError> {
        Err(KeychainError::KeystoreUnavailable { detail: "the kernel keyring (keyutils) exists on Linux only".into() })
    }
    fn set(&self, _: &str, _: &Secret) -> Result<(), KeychainError> {
        self.probe()
    }
    fn get(&self, _: &str) -> Result<Secret, KeychainError> {
        self.probe().and(Err(KeychainError::Other { detail: String::new() }))
    }
    fn delete(&self, _: &str) -> Result<(), KeychainError> {
        self.probe()
    }
    fn service(&self) -> &str {
        &self.service
    }
}

/// Every secret in one age-encrypted file (scrypt passphrase). Unlocked on first use, then
/// held in memory (zeroed on drop) for the life of the process.
pub struct AgeFileKeychain {
    path: PathBuf,
    service: String,
    unlock: UnlockSource,
    state: Mutex<Option<Unlocked>>,
}

struct Unlocked {
    passphrase: Secret,
    /// account (within `service`) → secret
    entries: BTreeMap<String, Secret>,
}

impl std::fmt::Debug for AgeFileKeychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgeFileKeychain").field("path", &self.path).field("service", &self.service).field("unlock", &self.unlock).finish_non_exhaustive()
    }
}

/// Entries of several services share the file: `service` + NUL + `account`.
fn slot(service: &str, account: &str) -> String {
    format!("{service}\u{0}{account}")
}

impl AgeFileKeychain {
    pub fn new(path: PathBuf, service: String, unlock: UnlockSource) -> Self {
        AgeFileKeychain { path, service, unlock, state: Mutex::new(None) }
    }

    /// Runs `f` on the unlocked entries (reading and decrypting the file on first use).
    fn with<T>(&self, f: impl FnOnce(&mut Unlocked) -> Result<T, KeychainError>) -> Result<T, KeychainError> {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.unlock_file()?);
        }
        match guard.as_mut() {
            Some(u) => f(u),
            None => Err(KeychainError::Other { detail: "the key file is not unlocked".into() }),
        }
    }

    fn unlock_file(&self) -> Result<Unlocked, KeychainError> {
        let data = match std::fs::read(&self.path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let passphrase = self.unlock.read(&format!("New passphrase for {} (it encrypts every key Clawkeep stores here): ", self.path.display()))?;
                return Ok(Unlocked { passphrase, entries: BTreeMap::new() });
            }
            Err(e) => return Err(KeychainError::KeystoreUnavailable { detail: format!("reading {}: {e}", self.path.display()) }),
        };
        let passphrase = self.unlock.read(&format!("Passphrase for {}: ", self.path.display()))?;
        let entries = decrypt(&data, &passphrase).map_err(|detail| KeychainError::KeystoreLocked { detail: format!("{}: {detail}", self.path.display()) })?;
        Ok(Unlocked { passphrase, entries })
    }

    fn save(&self, u: &Unlocked) -> Result<(), KeychainError> {
        let err = |detail: String| KeychainError::KeystoreUnavailable { detail: format!("writing {}: {detail}", self.path.display()) };
        let bytes = encrypt(&u.entries, &u.passphrase).map_err(err)?;
        write_atomic(&self.path, &bytes).map_err(|e| err(e.to_string()))
    }
}

fn decrypt(data: &[u8], passphrase: &Secret) -> Result<BTreeMap<String, Secret>, String> {
    let dec = age::Decryptor::new(data).map_err(|e| format!("not an age file ({e})"))?;
    if !dec.is_scrypt() {
        return Err("not encrypted with a passphrase".into());
    }
    let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.expose().to_string()));
    let mut r = dec.decrypt(std::iter::once(&id as &dyn age::Identity)).map_err(|_| "the passphrase is wrong (or the file is damaged)".to_string())?;
    let mut plain = Zeroizing::new(Vec::new());
    r.read_to_end(&mut plain).map_err(|_| "the file is damaged".to_string())?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&plain).map_err(|_| "the file's contents are not Clawkeep's".to_string())?;
    Ok(map.into_iter().map(|(k, v)| (k, Secret::new(v))).collect())
}

fn encrypt(entries: &BTreeMap<String, Secret>, passphrase: &Secret) -> Result<Vec<u8>, String> {
    let view: BTreeMap<&str, &str> = entries.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
    let plain = Zeroizing::new(serde_json::to_vec(&view).map_err(|e| e.to_string())?);
    let enc = age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(passphrase.expose().to_string()));
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = enc.wrap_output(&mut out).map_err(|e| e.to_string())?;
    w.write_all(&plain).map_err(|e| e.to_string())?;
    w.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Temp file (0600) beside `path`, fsync, rename, fsync of the directory: whole or not at all.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{AGE_FILE}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Keychain for AgeFileKeychain {
    fn probe(&self) -> Result<(), KeychainError> {
        self.with(|_| Ok(()))
    }

    fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError> {
        self.with(|u| {
            let previous = u.entries.insert(slot(&self.service, account), secret.duplicate());
            self.save(u).inspect_err(|_| {
                // Not written: the memory copy goes back to what the file holds.
                match &previous {
                    Some(p) => u.entries.insert(slot(&self.service, account), p.duplicate()),
                    None => u.entries.remove(&slot(&self.service, account)),
                };
            })
        })
    }

    fn get(&self, account: &str) -> Result<Secret, KeychainError> {
        self.with(|u| u.entries.get(&slot(&self.service, account)).map(Secret::duplicate).ok_or_else(|| KeychainError::Missing { account: account.to_string() }))
    }

    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        self.with(|u| match u.entries.remove(&slot(&self.service, account)) {
            None => Ok(()),
            Some(old) => self.save(u).inspect_err(|_| {
                u.entries.insert(slot(&self.service, account), old.duplicate());
            }),
        })
    }

    fn service(&self) -> &str {
        &self.service
    }

    fn store_name(&self) -> String {
        format!("encrypted file {} (age; passphrase from {})", self.path.display(), self.unlock.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(pass: &'static str) -> UnlockSource {
        UnlockSource::Prompt(Arc::new(move |_| Some(Secret::new(pass.into()))))
    }

    #[test]
    fn the_choice_is_parsed_and_a_typo_is_refused_not_ignored() {
        assert_eq!(StoreChoice::parse("keyutils"), Some(StoreChoice::KernelKeyring));
        assert_eq!(StoreChoice::parse(" AGE-FILE "), Some(StoreChoice::AgeFile));
        assert_eq!(StoreChoice::parse("os"), Some(StoreChoice::Os));
        assert_eq!(StoreChoice::parse("keyutil"), None);
    }

    #[test]
    fn unlock_sources_name_a_place_never_the_secret() {
        assert!(matches!(UnlockSource::parse("fd:3", None, false), UnlockSource::Fd(3)));
        assert!(matches!(UnlockSource::parse("fd:0", None, false), UnlockSource::Missing(_)), "stdin is the commands' own");
        assert!(matches!(UnlockSource::parse("systemd-credential", None, false), UnlockSource::SystemdCredential(n) if n == DEFAULT_CREDENTIAL));
        assert!(matches!(UnlockSource::parse("systemd-credential:ck", None, false), UnlockSource::SystemdCredential(n) if n == "ck"));
        assert!(matches!(UnlockSource::parse("systemd-credential:../x", None, false), UnlockSource::Missing(_)));
        assert!(matches!(UnlockSource::parse("prompt", None, false), UnlockSource::Missing(_)));
        // something that looks like a passphrase is refused, and the error does not repeat it
        match UnlockSource::parse("correct horse battery", None, false) {
            UnlockSource::Missing(why) => assert!(!why.contains("horse"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(UnlockSource::parse("", None, false), UnlockSource::Missing(_)));
        assert!(matches!(UnlockSource::parse("", Some(Arc::new(|_| None)), false), UnlockSource::Prompt(_)));
    }

    #[test]
    fn the_age_file_round_trips_and_is_encrypted_at_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AGE_FILE);
        let secret = format!("value-{}", "x".repeat(40));
        let kc = AgeFileKeychain::new(path.clone(), "svc".into(), fixed("pass-1"));
        kc.probe().unwrap();
        assert!(!path.exists(), "nothing is written before a secret is stored");
        kc.set("a", &Secret::new(secret.clone())).unwrap();
        kc.set("b", &Secret::new("second".into())).unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()), "the file holds the value in clear");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);

        // a second process: unlocks from the file
        let again = AgeFileKeychain::new(path.clone(), "svc".into(), fixed("pass-1"));
        assert_eq!(again.get("a").unwrap().expose(), secret);
        again.delete("b").unwrap();
        again.delete("b").unwrap();
        assert!(matches!(AgeFileKeychain::new(path.clone(), "svc".into(), fixed("pass-1")).get("b"), Err(KeychainError::Missing { .. })));
        // another service name sees nothing of this one's
        assert!(matches!(AgeFileKeychain::new(path.clone(), "other".into(), fixed("pass-1")).get("a"), Err(KeychainError::Missing { .. })));
        // leftover temp files: none
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_wrong_passphrase_is_keystore_locked_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AGE_FILE);
        AgeFileKeychain::new(path.clone(), "svc".into(), fixed("right")).set("a", &Secret::new("v".into())).unwrap();
        let before = std::fs::read(&path).unwrap();
        let wrong = AgeFileKeychain::new(path.clone(), "svc".into(), fixed("wrong"));
        let e = wrong.set("a", &Secret::new("w".into())).unwrap_err();
        assert_eq!(e.code(), "keystore_locked", "{e}");
        assert!(!e.to_string().contains("wrong\""), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // no source at all: a clear error, not a panic and not a fallback
        let none = AgeFileKeychain::new(path, "svc".into(), UnlockSource::parse("", None, false));
        assert_eq!(none.get("a").unwrap_err().code(), "keystore_unavailable");
    }

    #[test]
    fn a_passphrase_is_read_from_a_descriptor_path_first_line_only() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pass");
        std::fs::write(&p, "line one\r\nline two\n").unwrap();
        assert_eq!(read_first_line(&p).unwrap().expose(), "line one");
        std::fs::write(&p, "").unwrap();
        assert!(read_first_line(&p).unwrap().is_empty());
    }
}
