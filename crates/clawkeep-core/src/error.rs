//! The one error type of clawkeep-core, with a stable machine-readable code per variant.
//!
//! Front ends branch on [`Error::code`] (the desktop UI receives `{code, message}`), and show
//! [`Error`]'s `Display` text to people. No variant ever carries a secret: key-format errors name
//! a character class and a position, never the key.

use serde::Serialize;

/// Everything that can go wrong in core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation (name, host, port, owner, …).
    #[error("{field}: {message}")]
    InvalidInput { field: &'static str, message: String },

    /// A pasted key failed the format rules.
    #[error("{0}")]
    KeyFormat(#[from] crate::keyfmt::KeyFormatError),

    /// A key name that would not tell an on-call engineer who owns it and where it runs.
    #[error("key name '{name}' is refused: {reason}. Suggested name: {suggestion} (pass --allow-name to keep yours; the override is audited)")]
    KeyName { name: String, reason: String, suggestion: String },

    /// The thing named does not exist.
    #[error("no {kind} named '{name}'")]
    NotFound { kind: &'static str, name: String },

    /// A unique name or value is already taken.
    #[error("{0}")]
    Conflict(String),

    /// Binding a key that already serves another instance.
    #[error("key '{key}' already serves instance '{instance}'; a key serves one instance only. Add a separate key for this instance instead (sharing one key across instances is what Clawkeep exists to prevent)")]
    KeyBoundElsewhere { key: String, instance: String },

    /// An Anthropic API base URL in use refused by [`crate::anthropic::check_base_url`]
    /// (`origin`: the environment variable or the stored setting; a refused new value is
    /// `invalid_input`).
    #[error("{origin}: {source}")]
    BadBaseUrl { origin: String, source: crate::anthropic::BaseUrlError },

    /// An offline bundle that this Clawkeep did not make (or that was altered): do not run it.
    #[error("{0}")]
    BundleUnverified(String),

    /// A fleet apply without the digest of the plan the user reviewed (desktop).
    #[error("{0}")]
    PlanNotReviewed(String),

    /// The operation is not allowed in the object's current state.
    #[error("{0}")]
    InvalidState(String),

    /// The OS keychain could not be used.
    #[error("{0}")]
    Keychain(#[from] crate::secrets::KeychainError),

    /// The SQLite store failed.
    #[error("store error: {0}")]
    Store(String),

    /// The store was written by a newer Clawkeep.
    #[error("the data directory was written by a newer Clawkeep (schema {found}, this build knows {known}); upgrade Clawkeep")]
    SchemaTooNew { found: i64, known: i64 },

    /// The instance's host key is not pinned yet: nothing is sent to an unknown host.
    #[error("the host key of instance '{instance}' is not trusted yet{}. Check it, then run: clawkeep host trust {instance}", presented.as_ref().map(|p| format!(" (the host presents {p})")).unwrap_or_default())]
    HostKeyUnknown { instance: String, presented: Option<String> },

    /// The host presented a different key than the pinned one: possible man-in-the-middle.
    #[error("HOST KEY MISMATCH for instance '{instance}' ({address}): pinned {pinned}, but the host presents {presented}. Nothing was sent to it. If the host was really reinstalled or re-keyed, check the new fingerprint out of band (e.g. `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console), then run: clawkeep host trust {instance} --fingerprint {presented}")]
    HostKeyMismatch { instance: String, address: String, pinned: String, presented: String },

    /// TCP connect or the SSH handshake failed.
    #[error("cannot connect to instance '{instance}' at {address}: {message}")]
    SshConnect { instance: String, address: String, message: String },

    /// No answer within the connect timeout.
    #[error("cannot connect to instance '{instance}' at {address}: no answer within {seconds} s (host down, firewalled or unreachable)")]
    SshTimeout { instance: String, address: String, seconds: u64 },

    /// Authentication was refused or could not be attempted.
    #[error("SSH authentication failed{}: {message}", if instance.is_empty() { String::new() } else { format!(" for instance '{instance}' as '{user}'") })]
    SshAuth { instance: String, user: String, message: String },

    /// The key file is encrypted and no passphrase was given.
    #[error("the SSH key {path} is encrypted: a passphrase is needed (or load it into ssh-agent)")]
    SshPassphraseNeeded { path: String },

    /// A step on the host failed.
    #[error("instance '{instance}', step {step}: {message}")]
    Remote { instance: String, step: String, message: String },

    /// The user cancelled (Ctrl-C / the UI's cancel button) before anything was changed.
    #[error("cancelled before any change was made")]
    Cancelled,

    /// A file system error (data directory, key file, ssh config).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The stable code the UI and scripts branch on. Never change an existing code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { .. } => "invalid_input",
            Error::KeyFormat(_) => "key_format",
            Error::KeyName { .. } => "key_name",
            Error::NotFound { .. } => "not_found",
            Error::Conflict(_) => "conflict",
            Error::KeyBoundElsewhere { .. } => "key_bound_elsewhere",
            Error::InvalidState(_) => "invalid_state",
            Error::BadBaseUrl { .. } => "api_bad_base_url",
            Error::BundleUnverified(_) => "bundle_unverified",
            Error::PlanNotReviewed(_) => "plan_not_reviewed",
            Error::Keychain(e) => e.code(),
            Error::Store(_) => "store",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::Io { .. } => "io",
            Error::HostKeyUnknown { .. } => "host_key_unknown",
            Error::HostKeyMismatch { .. } => "host_key_mismatch",
            Error::SshConnect { .. } => "ssh_connect",
            Error::SshTimeout { .. } => "ssh_timeout",
            Error::SshAuth { .. } => "ssh_auth",
            Error::SshPassphraseNeeded { .. } => "ssh_passphrase_needed",
            Error::Remote { .. } => "remote",
            Error::Cancelled => "cancelled",
        }
    }

    /// The serialisable form that crosses IPC or `--json` output.
    pub fn to_payload(&self) -> ErrorPayload {
        ErrorPayload { code: self.code().to_string(), message: self.to_string() }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput { field, message: message.into() }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Store(e.to_string())
    }
}

/// `{code, message}`: how an error travels to the UI and to `--json` consumers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
