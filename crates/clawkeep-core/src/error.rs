//! The one error type of clawkeep-core, with a stable machine-readable code per variant.
//!
//! Front ends branch on [`Error::code`] (the desktop UI receives `{code, message, remedy}`), and
//! show [`Error`]'s `Display` text to people. What the person can do about an error travels as
//! data ([`Remedy`]): the CLI renders it as a command line, the desktop as a button or a field to
//! fill, so no front end parses message text and core's messages name no CLI command. No variant
//! ever carries a secret: key-format errors name a character class and a position, never the key.

use serde::Serialize;

/// Everything that can go wrong in core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field failed validation (name, host, port, owner, …).
    #[error("{field}: {message}")]
    InvalidInput { field: &'static str, message: String },

    /// A pasted key failed the format rules.
    #[error("{0}")]
    KeyFormat(#[from] crate::model::keyfmt::KeyFormatError),

    /// A key name that would not tell an on-call engineer who owns it and where it runs.
    #[error("key name '{name}' is refused: {reason}. Suggested name: {suggestion} (keeping yours is an override, and audited)")]
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

    /// An onboarding apply whose hosts' discovery differs from the preview the person
    /// confirmed (the digest of each host's preview): nothing written.
    #[error("{0}")]
    PreviewChanged(String),

    /// The operation is not allowed in the object's current state.
    #[error("{0}")]
    InvalidState(String),

    /// The Admin API key id recorded for a key belongs to another key: the API's
    /// `partial_key_hint` for that id does not fit the key's value, or the API puts it in another
    /// workspace (or knows no such id). Hints only, never values. Nothing was changed at the API.
    #[error(
        "the Admin API key {id} is not the key '{}' ({}; the API's hint for {id}: {}, the key's own hint: {}). Nothing was changed at the Anthropic API. {}",
        .0.key, .0.reason, .0.api_hint, .0.local_hint, .0.remedy, id = .0.key_id
    )]
    KeyIdMismatch(Box<KeyIdMismatch>),

    /// The OS keychain could not be used.
    #[error("{0}")]
    Keychain(#[from] crate::secrets::KeychainError),

    /// The SQLite store failed (the database's own error is kept as the source).
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    /// The store could not be used for another reason (an unreadable stored document, a failed
    /// migration, a file that cannot be opened).
    #[error("store error: {0}")]
    Store(String),

    /// A unique name or value is already taken in the store (a constraint said so).
    #[error("{what} already exists")]
    Duplicate { what: String },

    /// The store was written by a newer Clawkeep.
    #[error("the data directory was written by a newer Clawkeep (schema {found}, this build knows {known}); upgrade Clawkeep")]
    SchemaTooNew { found: i64, known: i64 },

    /// The instance's host key is not pinned yet: nothing is sent to an unknown host.
    #[error("the host key of instance '{instance}' is not trusted yet{}: nothing was sent to it. Check the fingerprint, then trust the host", presented.as_ref().map(|p| format!(" (the host presents {p})")).unwrap_or_default())]
    HostKeyUnknown { instance: String, presented: Option<String> },

    /// The host presented a different key than the pinned one: possible man-in-the-middle.
    #[error("HOST KEY MISMATCH for instance '{instance}' ({address}): pinned {pinned}, but the host presents {presented}. Nothing was sent to it. If the host was really reinstalled or re-keyed, check the new fingerprint out of band (e.g. `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on its console), and only then trust the new key")]
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

    /// A write on the host failed for want of space: the file it was replacing is unchanged and
    /// its temporary file was removed.
    #[error("instance '{instance}': no space left on the host for {path} ({detail}); the file was not replaced and no temporary file was left. Free space on that file system, then deploy again")]
    DiskFull { instance: String, path: String, detail: String },

    /// The host offers no SFTP subsystem and files cannot be written safely over its shell
    /// either (`reason` says why). Nothing was written.
    #[error("instance '{instance}': the host offers no SFTP subsystem and {reason}; nothing was written. Enable SFTP in its sshd (`Subsystem sftp internal-sftp`) or install the missing tool")]
    SftpUnavailable { instance: String, reason: String },

    /// The operation cannot go ahead until the person does something first (complete a draft,
    /// add or bind a key, retire one): a code of its own per situation, and the remedy as data.
    #[error("{message}")]
    Blocked { code: &'static str, message: String, remedy: Remedy },

    /// A flow that reads the Admin API (the cost sync) but no active Admin key is stored.
    #[error("no Admin API key is stored: usage and cost reports need one (sk-ant-admin01-…, made by an organisation admin in the Console). Add it as a key without an instance")]
    NoAdminKey,

    /// The Admin API refused a report request or could not be reached; `context` says what was
    /// being read and what was kept.
    #[error("{context}: {detail}")]
    AdminApi { context: String, detail: String, status: Option<u16> },

    /// The user cancelled (Ctrl-C / the UI's cancel button) before anything was changed.
    #[error("cancelled before any change was made")]
    Cancelled,

    /// A file of the team repository that does not follow the layout (`line` 0: the whole file).
    #[error("team store file {path}{}: {message}", if *line > 0 { format!(", line {line}") } else { String::new() })]
    TeamLayout { path: String, line: usize, message: String },

    /// A change of the team repository refused on sync: not signed by a current member with
    /// rights over what it touches. Nothing of it (or after it) was imported.
    #[error("team change {commit} refused: {what} (by {who}, at {path}); nothing of it was imported, and nothing was pushed")]
    TeamRefused { commit: String, who: String, what: String, path: String },

    /// Two members changed the same field of the same record: sync stopped before writing
    /// anything, both values named (yours stays in the local index, theirs in the repository).
    #[error(
        "sync stopped, nothing was written: a teammate changed the same fields differently ({}). Yours stay in this inventory; edit them to the value you want (or to the store's), then sync again",
        conflicts.iter().map(|c| format!("instance '{}', field {}: yours {}, the team store's {}", c.instance, c.field, c.yours, c.theirs)).collect::<Vec<_>>().join("; ")
    )]
    TeamConflict { conflicts: Vec<TeamFieldConflict> },

    /// The user's `git` failed (`detail`: its last lines, sanitised).
    #[error("{context}: git says: {detail}")]
    Git { context: String, detail: String },

    /// A file system error (data directory, key file, ssh config).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// What [`Error::KeyIdMismatch`] names: hints only, never values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdMismatch {
    /// The stored key's name.
    pub key: String,
    /// The `apikey_…` id that was checked.
    pub key_id: String,
    /// Clawkeep's hint of the stored key.
    pub local_hint: String,
    /// The API's `partial_key_hint` for the id (`(none)` when it gave none).
    pub api_hint: String,
    pub reason: String,
    /// What the person can do, in words (no command line: see `action`).
    pub remedy: String,
    /// The same as data, where there is an action to take (resume or roll back a rotation).
    pub action: Option<Remedy>,
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
            Error::KeyIdMismatch(_) => "key_id_mismatch",
            Error::BadBaseUrl { .. } => "api_bad_base_url",
            Error::BundleUnverified(_) => "bundle_unverified",
            Error::PlanNotReviewed(_) => "plan_not_reviewed",
            Error::PreviewChanged(_) => "onboard_preview_changed",
            Error::Keychain(e) => e.code(),
            Error::Sqlite(_) | Error::Store(_) => "store",
            Error::Duplicate { .. } => "conflict",
            Error::SchemaTooNew { .. } => "schema_too_new",
            Error::Io { .. } => "io",
            Error::HostKeyUnknown { .. } => "host_key_unknown",
            Error::HostKeyMismatch { .. } => "host_key_mismatch",
            Error::SshConnect { .. } => "ssh_connect",
            Error::SshTimeout { .. } => "ssh_timeout",
            Error::SshAuth { .. } => "ssh_auth",
            Error::SshPassphraseNeeded { .. } => "ssh_passphrase_needed",
            Error::Remote { .. } => "remote",
            Error::DiskFull { .. } => "disk_full",
            Error::SftpUnavailable { .. } => "sftp_unavailable",
            Error::Blocked { code, .. } => code,
            Error::NoAdminKey => "no_admin_key",
            Error::AdminApi { status: Some(429), .. } => "admin_api_rate_limited",
            Error::AdminApi { .. } => "admin_api",
            Error::Cancelled => "cancelled",
            Error::TeamLayout { .. } => "team_layout",
            Error::TeamRefused { .. } => "team_refused",
            Error::TeamConflict { .. } => "team_conflict",
            Error::Git { .. } => "git",
        }
    }

    /// What the person can do about it, where core knows.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Error::KeyName { suggestion, .. } => Some(Remedy::UseKeyName { suggestion: suggestion.clone() }),
            Error::HostKeyUnknown { instance, presented } => Some(Remedy::TrustHost { instance: instance.clone(), fingerprint: presented.clone(), replace: false }),
            Error::HostKeyMismatch { instance, presented, .. } => Some(Remedy::TrustHost { instance: instance.clone(), fingerprint: Some(presented.clone()), replace: true }),
            Error::SshAuth { .. } | Error::SshPassphraseNeeded { .. } => Some(Remedy::SetSshIdentity),
            Error::SchemaTooNew { .. } => Some(Remedy::Upgrade),
            Error::Blocked { remedy, .. } => Some(remedy.clone()),
            Error::KeyIdMismatch(m) => m.action.clone(),
            _ => None,
        }
    }

    /// The serialisable form that crosses IPC or `--json` output.
    pub fn to_payload(&self) -> ErrorPayload {
        ErrorPayload { code: self.code().to_string(), message: self.to_string(), remedy: self.remedy(), detail: self.detail().map(Box::new) }
    }

    /// The facts of an error a front end shows as more than a line (a refused team change's
    /// who/what/where, a sync conflict's both versions), as data.
    pub fn detail(&self) -> Option<ErrorDetail> {
        match self {
            Error::TeamRefused { commit, who, what, path } => Some(ErrorDetail::TeamRefused { commit: commit.clone(), who: who.clone(), what: what.clone(), path: path.clone() }),
            Error::TeamConflict { conflicts } => Some(ErrorDetail::TeamConflict { conflicts: conflicts.clone() }),
            _ => None,
        }
    }

    /// True when the store refused a write because a unique value is taken.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Error::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation
                && matches!(e.extended_code, rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY))
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput { field, message: message.into() }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }

    /// An instance that is still a draft (imported, owner or environment missing).
    pub(crate) fn draft(instance: &str) -> Self {
        Error::Blocked {
            code: "instance_draft",
            message: format!("instance '{instance}' is a draft; complete it first (owner and environment)"),
            remedy: Remedy::EditInstance { instance: instance.into(), fields: vec!["owner".into(), "env".into()] },
        }
    }

    /// An instance without an SSH address.
    pub(crate) fn no_ssh_host(instance: &str) -> Self {
        Error::Blocked {
            code: "instance_no_host",
            message: format!("instance '{instance}' has no SSH host; set one first"),
            remedy: Remedy::EditInstance { instance: instance.into(), fields: vec!["host".into()] },
        }
    }

    /// An instance without an active key.
    pub(crate) fn no_active_key(instance: &str) -> Self {
        Error::Blocked { code: "no_active_key", message: format!("instance '{instance}' has no active key; add one first"), remedy: Remedy::AddKey { instance: instance.into() } }
    }
}

/// What a person can do about an error (or a finding), as data. The CLI renders each as the
/// command to run ([`Remedy`]'s consumers in `clawkeep-cli/src/output.rs`), the desktop as the
/// button or form that does it; neither parses a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Remedy {
    /// Check the host key out of band, then pin it (`replace`: a different key is pinned now).
    TrustHost { instance: String, fingerprint: Option<String>, replace: bool },
    /// Use this key name (or keep yours as an audited override).
    UseKeyName { suggestion: String },
    /// Edit the instance: `fields` names what to set (`host`, `port`, `owner`, `env`, `jump_via`).
    EditInstance { instance: String, fields: Vec<String> },
    /// Add a key for the instance.
    AddKey { instance: String },
    /// Bind a stored key to the instance.
    BindKey { key: String, instance: String },
    /// Retire the key first.
    RetireKey { key: String },
    /// Choose the SSH identity Clawkeep uses (agent, key file, unlock an encrypted key).
    SetSshIdentity,
    /// Deploy the instance's active key again (the host holds a wrong or cut-short one).
    Deploy { instance: String },
    /// Rotate the instance's key (expired, archived, inactive, or about to expire): start a
    /// guided rotation.
    Rotate { instance: String },
    /// Run the next step of the instance's rotation; `confirm`: the person confirms the manual
    /// action the step waits for (deployed by hand, deactivated or archived in the Console).
    RotateResume { instance: String, confirm: bool },
    /// Roll the instance's rotation back; `confirm`: the person confirms what the rollback asked
    /// them to do by hand first (reactivate the old key in the Console, restore it on the host).
    RotateRollback { instance: String, confirm: bool },
    /// Look at the rotation's current state (another Clawkeep moved it on).
    RotateStatus { instance: String },
    /// Upgrade Clawkeep.
    Upgrade,
}

/// One field two members changed differently (a sync conflict): both values, as JSON text
/// (`(removed)` when a side removed the field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamFieldConflict {
    pub instance: String,
    pub field: String,
    pub yours: String,
    pub theirs: String,
}

/// An error's facts as data ([`Error::detail`]), beside its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ErrorDetail {
    /// A team change refused on sync: the commit, who signed (or claimed) it, what is wrong, where.
    TeamRefused { commit: String, who: String, what: String, path: String },
    /// A sync stopped before writing anything: every field both sides changed, with both values.
    TeamConflict { conflicts: Vec<TeamFieldConflict> },
}

/// `{code, message, remedy, detail?}`: how an error travels to the UI and to `--json` consumers.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ErrorPayload {
    pub code: String,
    pub message: String,
    /// What the person can do about it, when core knows.
    pub remedy: Option<Remedy>,
    /// The error's facts as data, for the errors that have them (absent otherwise). Boxed: the
    /// payload travels in every `Result` of the desktop's commands, kept small.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub detail: Option<Box<ErrorDetail>>,
}

impl ErrorPayload {
    /// A payload without a remedy (errors made outside core: cancelled operations, panics).
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ErrorPayload {
        ErrorPayload { code: code.into(), message: message.into(), remedy: None, detail: None }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_violations_are_recognised_by_the_database_code_not_the_message() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch("CREATE TABLE t (name TEXT UNIQUE NOT NULL); INSERT INTO t VALUES ('a');").unwrap();
        let dup: Error = db.execute("INSERT INTO t VALUES ('a')", []).unwrap_err().into();
        assert!(dup.is_unique_violation());
        assert_eq!(dup.code(), "store");
        assert!(std::error::Error::source(&dup).is_some(), "the rusqlite error is kept as the source");
        let null: Error = db.execute("INSERT INTO t VALUES (NULL)", []).unwrap_err().into();
        assert!(!null.is_unique_violation(), "NOT NULL is another constraint");
        assert!(!Error::Store("UNIQUE constraint failed".into()).is_unique_violation(), "a message is never parsed");
    }

    /// Core's texts name no CLI command: the desktop shows them to people without a terminal,
    /// and each front end renders a [`Remedy`] its own way. Comments may name commands.
    #[test]
    fn no_core_text_spells_a_cli_command() {
        let commands = ["rotate", "host", "key", "deploy", "instance", "check", "settings", "audit", "bundle inspect", "self-check"];
        let mut found = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|x| x != "rs") {
                    continue;
                }
                for (n, line) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
                    let code = line.trim_start();
                    if code.starts_with("//") {
                        continue;
                    }
                    if commands.iter().any(|c| code.contains(&format!("clawkeep {c} ")) || code.contains(&format!("clawkeep {c}`"))) {
                        found.push(format!("{}:{}: {}", path.display(), n + 1, code));
                    }
                }
            }
        }
        assert!(found.is_empty(), "core text spells a CLI command (return a Remedy instead):\n{}", found.join("\n"));
    }

    #[test]
    fn remedies_travel_as_data() {
        let e = Error::KeyName { name: "x".into(), reason: "r".into(), suggestion: "openclaw-acme-prod".into() };
        let p = serde_json::to_value(e.to_payload()).unwrap();
        assert_eq!(p["code"], "key_name");
        assert_eq!(p["remedy"], serde_json::json!({ "action": "use_key_name", "suggestion": "openclaw-acme-prod" }));

        let e = Error::HostKeyMismatch { instance: "beta".into(), address: "a".into(), pinned: "SHA256:old".into(), presented: "SHA256:new".into() };
        assert_eq!(e.remedy(), Some(Remedy::TrustHost { instance: "beta".into(), fingerprint: Some("SHA256:new".into()), replace: true }));
        assert!(!e.to_string().contains("clawkeep "), "core messages name no CLI command: {e}");

        for (e, code) in [(Error::draft("i"), "instance_draft"), (Error::no_ssh_host("i"), "instance_no_host"), (Error::no_active_key("i"), "no_active_key")] {
            assert_eq!(e.code(), code);
            assert!(e.remedy().is_some() && !e.to_string().contains("clawkeep "), "{e}");
        }
        assert_eq!(Error::Cancelled.to_payload().remedy, None);
        assert_eq!(serde_json::to_value(Error::Cancelled.to_payload()).unwrap()["remedy"], serde_json::Value::Null);
    }

    #[test]
    fn a_team_refusal_and_a_conflict_travel_as_data_and_other_errors_carry_none() {
        let e = Error::TeamRefused { commit: "abc123".into(), who: "mallory".into(), what: "not signed by a member".into(), path: "members/eve.txt".into() };
        let p = serde_json::to_value(e.to_payload()).unwrap();
        assert_eq!(p["detail"], serde_json::json!({ "kind": "team_refused", "commit": "abc123", "who": "mallory", "what": "not signed by a member", "path": "members/eve.txt" }));
        let e =
            Error::TeamConflict { conflicts: vec![TeamFieldConflict { instance: "alpha".into(), field: "workload".into(), yours: "\"ops\"".into(), theirs: "\"sales\"".into() }] };
        assert_eq!(e.code(), "team_conflict");
        assert!(e.to_string().contains("instance 'alpha', field workload: yours \"ops\", the team store's \"sales\""), "{e}");
        assert_eq!(serde_json::to_value(e.to_payload()).unwrap()["detail"]["conflicts"][0]["theirs"], "\"sales\"");
        // Absent, not null, elsewhere: `--json` error output keeps its shape.
        assert!(serde_json::to_value(Error::Cancelled.to_payload()).unwrap().get("detail").is_none());
    }
}
