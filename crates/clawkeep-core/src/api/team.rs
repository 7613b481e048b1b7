//! The team vault's flows (issue 15) over [`crate::team`]: join (an age identity made and kept
//! in the OS keychain only), init (create or attach to a team repository), invite, grant, revoke,
//! remove (offboarding: re-encrypt without the leaver, mark what they could read "exposed:
//! rotate"), leave (back to a solo inventory, every team key copied into the keychain) and sync (fetch, verify every new commit, import into the local index, share local
//! additions, push). Each gathers facts from `git`, the store and the keychain, asks the pure
//! `team::` modules what they mean, and performs it. Secrets are encrypted in memory: only
//! ciphertext is written to the clone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::Clawkeep;
use crate::error::{Error, Result, TeamFieldConflict};
use crate::model::domain::{Instance, InstanceFilter, InstancePatch, InstanceSpec, KeySpec, KeyStatus};
use crate::model::keyfmt;
use crate::secret::Secret;
use crate::secrets::{Keychain, KeychainError};
use crate::store::{self, TeamRow};
use crate::team::git::{self, Git};
use crate::team::layout::{self, AuditLine, Exposure, KeyMeta, Member, Role, Scope, TeamState};
use crate::team::{crypt, merge, verify};

/// The keychain account of this data dir's team identity (age X25519, `AGE-SECRET-KEY-1…`).
pub const TEAM_IDENTITY_ACCOUNT: &str = "team-age-identity";

/// The prefix of a key's keychain account when its value lives in the team store.
pub const TEAM_REF_PREFIX: &str = "team:";

/// The keychain every flow uses, over the OS one: a `team:<key>` account is the team store's
/// `secrets/<key>.age` in the verified clone, decrypted on use with this member's identity (so
/// a first sync writes no keychain entry per key, and a revoked scope stops working at once);
/// every other account is the OS keychain's.
pub(crate) struct TeamKeychain {
    inner: std::sync::Arc<dyn Keychain>,
    repo: PathBuf,
}

impl TeamKeychain {
    pub(crate) fn new(inner: std::sync::Arc<dyn Keychain>, repo: PathBuf) -> Self {
        TeamKeychain { inner, repo }
    }
}

/// The value behind a `team:<key>` account: the clone's `secrets/<key>.age` in `repo`,
/// decrypted with the member's identity `id`.
fn team_secret(repo: &Path, account: &str, id: &Secret) -> Result<Secret, KeychainError> {
    let name = account.strip_prefix(TEAM_REF_PREFIX).unwrap_or(account);
    let path = layout::secret_path(name);
    let data = std::fs::read(repo.join(&path)).map_err(|_| KeychainError::Missing { account: account.into() })?;
    match crypt::decrypt(&data, id, &path) {
        Ok(Some(s)) => Ok(Secret::new(s.expose().trim().to_string())),
        Ok(None) => Err(KeychainError::Other { detail: format!("the team store's {path} is no longer encrypted to you (your access to its owner was revoked)") }),
        Err(e) => Err(KeychainError::Other { detail: e.to_string() }),
    }
}

impl Keychain for TeamKeychain {
    fn probe(&self) -> Result<(), KeychainError> {
        self.inner.probe()
    }
    fn set(&self, account: &str, secret: &Secret) -> Result<(), KeychainError> {
        if account.starts_with(TEAM_REF_PREFIX) {
            return Err(KeychainError::Other { detail: "a team key's value is changed through the team store".into() });
        }
        self.inner.set(account, secret)
    }
    fn get(&self, account: &str) -> Result<Secret, KeychainError> {
        if !account.starts_with(TEAM_REF_PREFIX) {
            return self.inner.get(account);
        }
        team_secret(&self.repo, account, &self.inner.get(TEAM_IDENTITY_ACCOUNT)?)
    }
    fn delete(&self, account: &str) -> Result<(), KeychainError> {
        if account.starts_with(TEAM_REF_PREFIX) {
            return Ok(());
        }
        self.inner.delete(account)
    }
    fn service(&self) -> &str {
        self.inner.service()
    }
    // The store the user chose (self-check names it), not the trait's default.
    fn store_name(&self) -> String {
        self.inner.store_name()
    }
}

/// What `team join` made: what an admin needs to invite this member (public material only).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamJoined {
    pub member: String,
    pub recipient: String,
    pub signing_key: String,
    /// The identity already existed in the keychain (join again keeps it).
    pub kept_identity: bool,
}

/// What `team init` did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamInit {
    /// The repository was empty and is now a team store with this member as its first admin.
    pub created: bool,
    /// The admins the repository's first commit names (trust on first use: check them).
    pub admins: Vec<String>,
    /// Created: the share of this inventory into the new store. Attached: the first sync.
    pub sync: TeamSync,
}

/// What `team leave` did: this data dir is a solo inventory again, with everything it held.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamLeft {
    /// The store this data dir no longer syncs with.
    pub remote: String,
    /// The team keys whose value is now in your own keychain (yours from here on).
    pub kept_keys: Vec<String>,
    /// The instances kept (all of them: leaving removes nothing from the inventory).
    pub kept_instances: usize,
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamSync {
    /// Commits from teammates verified and applied.
    pub verified_commits: usize,
    pub imported_instances: Vec<String>,
    pub imported_keys: Vec<String>,
    /// Instances whose fields teammates changed, merged into the local index.
    pub updated_instances: Vec<String>,
    pub shared_instances: Vec<String>,
    pub shared_keys: Vec<String>,
    /// What was not shared or imported, and why.
    pub skipped: Vec<String>,
    /// Keys and instances removed from this inventory: their owner is no longer in your scope.
    pub dropped: Vec<String>,
    /// Keys marked "exposed: rotate" in the store.
    pub exposed_keys: Vec<String>,
    pub pushed: bool,
    pub head: Option<String>,
}

/// What a grant, revoke or remove changed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamChange {
    pub member: String,
    /// The secrets encrypted again (to their new recipients).
    pub reencrypted: Vec<String>,
    /// The keys the member could decrypt until now, marked "exposed: rotate" (revoke, remove).
    pub exposed_keys: Vec<String>,
    pub head: String,
}

/// One member, as `team status` shows it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamMemberView {
    pub name: String,
    pub role: Role,
    pub owners: Vec<String>,
}

/// This data dir's membership and the team as last verified (public material only).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamStatus {
    pub member: String,
    pub remote: Option<String>,
    pub verified_head: Option<String>,
    pub members: Vec<TeamMemberView>,
    /// Your role in the store (none before an admin invited you, or after you were removed).
    pub role: Option<Role>,
    /// Your age recipient (public), to give an admin; none when the identity is not readable.
    pub recipient: Option<String>,
    /// Your SSH signing key's public line, to give an admin; none when its file is gone.
    pub signing_key: Option<String>,
    /// When this data dir last synced with the store (or attached to it).
    pub last_sync: Option<chrono::DateTime<chrono::Utc>>,
}

/// One line of a member's audit stream in the team store, as shown. The text was written by a
/// teammate: it is cleaned (control characters out, key-shaped values masked) on the way in.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TeamAuditEntry {
    /// Whose stream (proven by the signatures of the commits that wrote it).
    pub member: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub action: String,
    pub subject: String,
    /// The line in words ("gave bob access to acme (2 secrets encrypted again)").
    pub summary: String,
    /// The line's detail as compact JSON; empty when it has none.
    pub detail: String,
}

/// Where a sync (or an attach) is, for a progress line. Its `Display` is that line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "stage", rename_all = "kebab-case")]
pub enum TeamSyncStage {
    /// Cloning the repository (attach).
    Cloning,
    /// Fetching the teammates' commits.
    Fetching,
    /// Verifying the new commits, one by one (`done` of `total`).
    Verifying { done: usize, total: usize },
    /// Importing what you may read into the local inventory and keychain.
    Importing,
    /// Sharing your new instances and keys (encrypted) with the store.
    Sharing,
    /// Pushing your signed commit.
    Pushing,
}

impl std::fmt::Display for TeamSyncStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TeamSyncStage::Cloning => write!(f, "cloning the team repository"),
            TeamSyncStage::Fetching => write!(f, "fetching teammates' changes"),
            TeamSyncStage::Verifying { done, total } => write!(f, "verifying change {done} of {total}"),
            TeamSyncStage::Importing => write!(f, "importing into this inventory"),
            TeamSyncStage::Sharing => write!(f, "sharing your additions"),
            TeamSyncStage::Pushing => write!(f, "pushing"),
        }
    }
}

/// The progress callback of [`Clawkeep::team_sync_with`] and [`Clawkeep::team_init_with`].
pub type TeamProgressFn<'a> = &'a dyn Fn(&TeamSyncStage);

fn no_progress(_: &TeamSyncStage) {}

/// The public line of an SSH key given by path (the `.pub` beside a private key file).
fn public_key_line(path: &Path) -> Result<String> {
    let pub_path = if path.extension().is_some_and(|e| e == "pub") { path.to_path_buf() } else { PathBuf::from(format!("{}.pub", path.display())) };
    let text = std::fs::read_to_string(&pub_path).map_err(|e| Error::io(format!("reading the signing key's public half {}", pub_path.display()), e))?;
    let line = text.lines().next().unwrap_or("").trim().to_string();
    check_signing_key(&line)?;
    Ok(line)
}

/// A repository URL or path: not empty, not an option, and with no password in it (it would
/// sit in argv and in the store; the user's credential helper or SSH agent supplies it).
fn check_remote(remote: &str) -> Result<()> {
    if remote.trim().is_empty() || remote.starts_with('-') || remote.contains(['\n', '\r']) {
        return Err(Error::invalid("repository", "give the repository's URL or path"));
    }
    if let Some((_, rest)) = remote.split_once("://") {
        let authority = rest.split('/').next().unwrap_or("");
        if authority.rsplit_once('@').is_some_and(|(userinfo, _)| userinfo.contains(':')) {
            return Err(Error::invalid("repository", "the URL holds a password or token: leave it out and let git's credential helper or your SSH agent supply it"));
        }
    }
    Ok(())
}

fn check_signing_key(line: &str) -> Result<()> {
    let mut f = line.split_whitespace();
    let ok = matches!((f.next(), f.next()), (Some(t), Some(b)) if (t.starts_with("ssh-") || t.starts_with("ecdsa-") || t.starts_with("sk-")) && b.len() > 16)
        && !line.contains(['\n', '\r']);
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("signing key", "not an SSH public key line (ssh-ed25519 AAAA…)"))
    }
}

fn spec_of(i: &Instance) -> InstanceSpec {
    InstanceSpec {
        name: i.name.clone(),
        owner: i.owner.clone(),
        environment: i.environment.clone(),
        workload: i.workload.clone(),
        purpose: Some(i.purpose),
        ssh_host: i.ssh_host.clone(),
        ssh_port: Some(i.ssh_port),
        ssh_user: i.ssh_user.clone(),
        jump_via: i.jump_via.clone(),
        state_dir: Some(i.state_dir.clone()),
        service_manager: Some(i.service_manager.clone()),
        injection: Some(i.injection),
        agents: i.agents.clone(),
        expected_org_id: i.expected_org_id.clone(),
        expected_workspace_id: i.expected_workspace_id.clone(),
        tags: i.tags.clone(),
        notes: i.notes.clone(),
        draft: false,
    }
}

/// An instance's fields as a file's [`layout::Doc`] (absent fields left out, as in the file).
fn doc_of(spec: &InstanceSpec) -> layout::Doc {
    match serde_json::to_value(spec) {
        Ok(serde_json::Value::Object(m)) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => layout::Doc::new(),
    }
}

/// Every field of `spec` as an edit (an empty text clears an optional field).
fn patch_of(spec: &InstanceSpec) -> InstancePatch {
    InstancePatch {
        name: None,
        owner: Some(spec.owner.clone()),
        environment: Some(spec.environment.clone()),
        workload: Some(spec.workload.clone()),
        purpose: spec.purpose,
        ssh_host: Some(spec.ssh_host.clone()),
        ssh_port: spec.ssh_port,
        ssh_user: Some(spec.ssh_user.clone()),
        jump_via: Some(spec.jump_via.clone().unwrap_or_default()),
        state_dir: spec.state_dir.clone(),
        service_manager: spec.service_manager.clone(),
        injection: spec.injection,
        agents: Some(spec.agents.clone()),
        expected_org_id: Some(spec.expected_org_id.clone().unwrap_or_default()),
        expected_workspace_id: Some(spec.expected_workspace_id.clone().unwrap_or_default()),
        tags: Some(spec.tags.clone()),
        notes: Some(spec.notes.clone()),
    }
}

/// `state` (a commit's parent's) brought up to the commit from the files it changed: only
/// those text files are read, through one `cat-file --batch`.
fn apply_changes(g: &Git, state: &TeamState, changes: &[git::Change]) -> Result<TeamState> {
    let wanted: Vec<(&str, &str)> = changes
        .iter()
        .filter_map(|c| match &c.to {
            git::ChangeTo::Blob(oid) if layout::is_text(&c.path) => Some((c.path.as_str(), oid.as_str())),
            _ => None,
        })
        .collect();
    let texts = g.objects(&wanted.iter().map(|(_, o)| *o).collect::<Vec<_>>())?;
    let texts: BTreeMap<&str, String> = wanted.iter().map(|(p, _)| *p).zip(texts.iter().map(|b| String::from_utf8_lossy(b).into_owned())).collect();
    let mut after = state.clone();
    for c in changes {
        let text = match (&c.to, layout::is_text(&c.path)) {
            (git::ChangeTo::Deleted, _) | (git::ChangeTo::NotFile, true) => None,
            (git::ChangeTo::NotFile, false) | (git::ChangeTo::Blob(_), false) => Some(""),
            (git::ChangeTo::Blob(_), true) => texts.get(c.path.as_str()).map(String::as_str),
        };
        after.apply(&c.path, text)?;
    }
    Ok(after)
}

/// `repo/path`, its directory made.
fn file_in(repo: &Path, path: &str) -> Result<PathBuf> {
    let full = repo.join(path);
    if let Some(d) = full.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(format!("creating {}", d.display()), e))?;
    }
    Ok(full)
}

fn write_file(repo: &Path, path: &str, bytes: &[u8]) -> Result<()> {
    let full = file_in(repo, path)?;
    std::fs::write(&full, bytes).map_err(|e| Error::io(format!("writing {}", full.display()), e))
}

/// Adds `line` to `member`'s audit stream in the work tree: it is committed with the change it
/// records, and signed with it.
fn append_audit(repo: &Path, member: &str, line: &AuditLine) -> Result<()> {
    use std::io::Write;
    let path = layout::audit_path(member);
    let full = file_in(repo, &path)?;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&full).map_err(|e| Error::io(format!("opening {path}"), e))?;
    f.write_all(line.to_line().as_bytes()).map_err(|e| Error::io(format!("appending to {path}"), e))
}

fn remove_file(repo: &Path, path: &str) -> Result<()> {
    match std::fs::remove_file(repo.join(path)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(format!("removing {path}"), e)),
        _ => Ok(()),
    }
}

impl Clawkeep {
    fn team_dir(&self) -> PathBuf {
        self.data_dir.join("team")
    }

    fn team_repo(&self) -> PathBuf {
        self.team_dir().join("repo")
    }

    fn team_row(&self) -> Result<TeamRow> {
        self.store.team()?.ok_or_else(|| Error::InvalidState("this data directory has not joined a team yet: join first (it makes your team identity)".into()))
    }

    /// The joined row and its clone, once the store is initialised.
    fn team_clone(&self) -> Result<(TeamRow, Git)> {
        let row = self.team_row()?;
        if row.remote.is_none() {
            return Err(Error::InvalidState("no team store yet: initialise or attach one with its repository URL or path".into()));
        }
        Ok((row, Git::open(&self.team_repo())))
    }

    /// Records, in `me`'s audit stream of the work tree, what the next commit does.
    fn team_record(&self, g: &Git, me: &str, action: &str, subject: &str, detail: serde_json::Value) -> Result<()> {
        append_audit(&g.dir, me, &AuditLine { at: self.now(), action: action.into(), subject: subject.into(), detail })
    }

    fn team_identity_secret(&self) -> Result<Secret> {
        Ok(self.keychain.get(TEAM_IDENTITY_ACCOUNT)?)
    }

    /// Makes (or keeps) this data dir's team identity and records who it is and the SSH key its
    /// commits are signed with. Only the recipient and public keys are shown.
    pub fn team_join(&self, member: &str, signing_key: &Path) -> Result<TeamJoined> {
        layout::check_name("member", member)?;
        // `~/…` as typed in the desktop's field (a shell has expanded it for the CLI already).
        let signing_key = &crate::paths::expand_home(&signing_key.to_string_lossy());
        let signing_line = public_key_line(signing_key)?;
        if let Some(row) = self.store.team()? {
            if row.remote.is_some() && row.member != member {
                return Err(Error::Conflict(format!("this data directory is already in a team as '{}'", row.member)));
            }
        }
        let (recipient, kept) = match self.keychain.get(TEAM_IDENTITY_ACCOUNT) {
            Ok(id) => (crypt::recipient_of(&id)?, true),
            Err(crate::secrets::KeychainError::Missing { .. }) => {
                let (id, recipient) = crypt::generate_identity();
                self.keychain.set(TEAM_IDENTITY_ACCOUNT, &id)?;
                (recipient, false)
            }
            Err(e) => return Err(e.into()),
        };
        let existing = self.store.team()?;
        let row = TeamRow {
            member: member.to_string(),
            signing_key: signing_key.to_string_lossy().into_owned(),
            remote: existing.as_ref().and_then(|r| r.remote.clone()),
            verified_head: existing.as_ref().and_then(|r| r.verified_head.clone()),
            base_head: existing.as_ref().and_then(|r| r.base_head.clone()),
            joined_at: self.now(),
        };
        self.store.tx(|tx| {
            store::set_team(tx, &row)?;
            self.audit(tx, "team.join", member, json!({ "recipient": recipient, "signing_key": signing_line, "kept_identity": kept }))
        })?;
        Ok(TeamJoined { member: member.into(), recipient, signing_key: signing_line, kept_identity: kept })
    }

    /// This data dir's team identity, for the stock `age -d -i -` (the member's own choice to
    /// read a secret without Clawkeep; audited).
    pub fn team_identity_export(&self) -> Result<Secret> {
        let row = self.team_row()?;
        let id = self.team_identity_secret()?;
        self.store.tx(|tx| self.audit(tx, "team.identity.export", &row.member, json!({})))?;
        Ok(id)
    }

    /// Initialises the team store in `remote` (an empty repository: this member becomes its
    /// first admin, and this inventory is shared into it) or attaches to an existing one (its
    /// whole history is verified, then imported). [`Clawkeep::team_leave`] is the way back.
    pub fn team_init(&self, remote: &str) -> Result<TeamInit> {
        self.team_init_with(remote, &no_progress)
    }

    /// [`Clawkeep::team_init`], reporting each stage (clone, then the attach's sync) to `progress`.
    pub fn team_init_with(&self, remote: &str, progress: TeamProgressFn<'_>) -> Result<TeamInit> {
        let row = self.team_row()?;
        if let Some(r) = &row.remote {
            return Err(Error::Conflict(format!("this data directory already uses the team store {r}")));
        }
        check_remote(remote)?;
        let repo = self.team_repo();
        if repo.exists() {
            std::fs::remove_dir_all(&repo).map_err(|e| Error::io(format!("removing the unfinished clone {}", repo.display()), e))?;
        }
        crate::paths::ensure_dir(&self.team_dir())?;
        progress(&TeamSyncStage::Cloning);
        let g = git::clone(remote, &repo)?;
        g.configure(&row.member, Path::new(&row.signing_key))?;
        let created = g.rev(&format!("{}/{}", git::REMOTE, git::BRANCH))?.is_none();
        if created {
            let id = self.team_identity_secret()?;
            let me = Member { name: row.member.clone(), role: Role::Admin, recipient: crypt::recipient_of(&id)?, signing_key: public_key_line(Path::new(&row.signing_key))? };
            g.run("starting the team branch", &["symbolic-ref", "HEAD", &format!("refs/heads/{}", git::BRANCH)])?;
            write_file(&repo, layout::TEAM_FILE, layout::encode_doc("store", &[("format".to_string(), json!(layout::FORMAT))].into()).as_bytes())?;
            write_file(&repo, &layout::member_path(&me.name), layout::encode("member", &me).as_bytes())?;
            self.team_record(&g, &me.name, "team.init", &me.name, json!({ "role": "admin" }))?;
            g.commit_all(&format!("team: create the store, {} is its first admin", me.name))?;
            progress(&TeamSyncStage::Pushing);
            if !g.push()? {
                return Err(Error::Conflict("someone initialised the repository at the same time: attach to it instead".into()));
            }
            let head = g.rev("HEAD")?.unwrap_or_default();
            self.store.tx(|tx| {
                store::set_team_remote(tx, remote)?;
                store::set_verified_head(tx, &head)?;
                store::set_base_head(tx, &head)?;
                self.audit(tx, "team.init", remote, json!({ "created": true, "head": head }))
            })?;
            // Moving an inventory into a team store is this one command: share it now (what
            // cannot be shared is listed in the sync's `skipped`).
            let sync = self.team_sync_with(progress)?;
            return Ok(TeamInit { created: true, admins: vec![me.name], sync });
        }
        // Attach: verify from the root before anything is imported; the remote is recorded only
        // once the whole history passed.
        let root_state = {
            let tip = format!("{}/{}", git::REMOTE, git::BRANCH);
            let root = g.commits(None, &tip)?.into_iter().next().unwrap_or_default();
            self.state_at(&g, &root)?
        };
        let admins = root_state.members.values().filter(|m| m.role == Role::Admin).map(|m| m.name.clone()).collect();
        self.store.tx(|tx| store::set_team_remote(tx, remote))?;
        let sync = match self.team_sync_with(progress) {
            Ok(s) => s,
            Err(e) => {
                // Not attached: a refused history leaves no trace but the clone, which a retry replaces.
                let _ = self.store.tx(|tx| store::set_team(tx, &TeamRow { remote: None, verified_head: None, base_head: None, ..row.clone() }));
                return Err(e);
            }
        };
        self.store.tx(|tx| self.audit(tx, "team.init", remote, json!({ "created": false, "admins": admins, "head": sync.head })))?;
        Ok(TeamInit { created: false, admins, sync })
    }

    fn state_at(&self, g: &Git, rev: &str) -> Result<TeamState> {
        let files = g.files_at(rev)?;
        TeamState::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
    }

    /// Fetches, verifies every commit new since the last verified one (each against the team as
    /// it stood before it), then brings the clone up to date (fast-forward, or a rebase of our
    /// own unpushed commits, signed again). Nothing moves when a commit is refused.
    fn team_pull(&self, g: &Git, row: &TeamRow, progress: TeamProgressFn<'_>) -> Result<usize> {
        progress(&TeamSyncStage::Fetching);
        g.fetch()?;
        let tip = format!("{}/{}", git::REMOTE, git::BRANCH);
        let Some(remote_head) = g.rev(&tip)? else { return Ok(0) };
        let from = row.verified_head.clone().filter(|h| !h.is_empty());
        if let Some(v) = &from {
            if !g.ok(&["merge-base", "--is-ancestor", v, &remote_head])? {
                return Err(Error::TeamRefused {
                    commit: remote_head.chars().take(12).collect(),
                    who: "unknown (a force push)".into(),
                    what: format!("the team history was rewritten: the verified commit {} is no longer part of it", &v[..v.len().min(12)]),
                    path: "(history)".into(),
                });
            }
        }
        let commits = g.commits(from.as_deref(), &remote_head)?;
        let signers = self.team_dir().join("allowed_signers");
        let mut before: Option<TeamState> = match &from {
            Some(v) if !commits.is_empty() => Some(self.state_at(g, v)?),
            _ => None,
        };
        let mut previous = from.clone();
        for (i, c) in commits.iter().enumerate() {
            progress(&TeamSyncStage::Verifying { done: i + 1, total: commits.len() });
            // The root is read whole; every later commit is its parent's state with the files
            // it changed applied: only those few files are read.
            let root = before.is_none();
            if root {
                before = Some(self.state_at(g, c)?);
            }
            let base = before.as_ref().ok_or_else(|| Error::InvalidState("no team state before the commit".into()))?;
            let lines: String = base.members.values().map(|m| format!("{} namespaces=\"git\" {}\n", m.name, m.signing_key)).collect();
            std::fs::write(&signers, lines).map_err(|e| Error::io("writing the allowed signers file", e))?;
            let (facts, parent, changes) = g.commit_facts(c, &signers)?;
            let after = match root {
                // The root vouches for itself (trust on first use): its own state is its base.
                true => base.clone(),
                // `base` is this commit's parent's state (a linear history): apply its changes.
                false if facts.parents == 1 && parent.is_some() && parent == previous => apply_changes(g, base, &changes)?,
                // Not linear (a merge, refused below, or a commit beside one): read it whole.
                false => self.state_at(g, c)?,
            };
            if let Err(r) = verify::judge(&facts, base, &after) {
                return Err(Error::TeamRefused { commit: r.commit, who: r.who, what: r.what, path: r.path });
            }
            before = Some(after);
            previous = Some(c.clone());
        }
        // Apply: our unpushed commits go on top of the verified remote.
        let head = g.rev("HEAD")?;
        if head.as_deref() != Some(remote_head.as_str()) {
            if head.is_none() || g.ok(&["merge-base", "--is-ancestor", "HEAD", &remote_head])? {
                g.run("updating the team clone", &["checkout", "--quiet", "-B", git::BRANCH, &remote_head])?;
            } else if !g.ok(&["merge-base", "--is-ancestor", &remote_head, "HEAD"])? {
                g.run("rebasing local team changes on the teammates' ones", &["rebase", "--quiet", &remote_head]).inspect_err(|_| {
                    let _ = g.ok(&["rebase", "--abort"]);
                })?;
            }
        }
        self.store.tx(|tx| store::set_verified_head(tx, &remote_head))?;
        Ok(commits.len())
    }

    /// Commits the work tree's changes (signed) and pushes; on a race, verifies the teammates'
    /// commits, rebases, and pushes once more.
    fn team_commit_push(&self, g: &Git, message: &str) -> Result<String> {
        g.commit_all(message)?;
        self.team_push(g)
    }

    /// Pushes HEAD (a fast-forward of the verified remote); on a race, verifies the teammates'
    /// commits, rebases, and pushes once more.
    fn team_push(&self, g: &Git) -> Result<String> {
        let mut pushed = g.push()?;
        if !pushed {
            let row = self.team_row()?;
            self.team_pull(g, &row, &no_progress)?;
            pushed = g.push()?;
        }
        if !pushed {
            return Err(Error::Conflict("the team repository keeps moving: sync again".into()));
        }
        let head = g.rev("HEAD")?.unwrap_or_default();
        self.store.tx(|tx| store::set_verified_head(tx, &head))?;
        Ok(head)
    }

    /// Moves this data dir out of its team store and back to a solo inventory, losing nothing:
    /// every team key's value (decrypted from the store, checked against its fingerprint) is
    /// written to the user's own keychain, then one transaction points the keys there and
    /// forgets the store. Any failure undoes the keychain writes and changes nothing. The
    /// membership in the store stays (an admin removes it); the identity stays too, so attaching
    /// again is one `team init`.
    pub fn team_leave(&self) -> Result<TeamLeft> {
        let (row, _g) = self.team_clone()?;
        let remote = row.remote.clone().unwrap_or_default();
        let team_keys: Vec<_> = self.list_keys(None)?.into_iter().filter(|k| k.keychain_ref.starts_with(TEAM_REF_PREFIX)).collect();
        // Every value read and checked before anything is written; the identity read once.
        let id = self.team_identity_secret()?;
        let mut values = Vec::new();
        for k in &team_keys {
            let v = team_secret(&self.team_repo(), &k.keychain_ref, &id)
                .map_err(|e| Error::InvalidState(format!("cannot read team key {} to keep it ({e}): sync first; nothing changed", k.name)))?;
            if keyfmt::fingerprint(v.expose()) != k.fingerprint {
                return Err(Error::InvalidState(format!("team key {}'s value in the store does not match its fingerprint: nothing changed", k.name)));
            }
            values.push(v);
        }
        let mut written: Vec<String> = Vec::new();
        let undo = |written: &[String]| {
            for a in written {
                let _ = self.keychain.delete(a);
            }
        };
        for v in &values {
            let account = super::keys::new_keychain_ref();
            if let Err(e) = self.keychain.set(&account, v) {
                undo(&written);
                return Err(e.into());
            }
            written.push(account);
        }
        drop((values, id));
        let kept_instances = self.list_instances(&InstanceFilter::default())?.len();
        let kept_keys: Vec<String> = team_keys.iter().map(|k| k.name.clone()).collect();
        let done = self.store.tx(|tx| {
            for (k, account) in team_keys.iter().zip(&written) {
                store::set_keychain_ref(tx, k.id, account)?;
            }
            store::set_team(tx, &TeamRow { remote: None, verified_head: None, base_head: None, ..row.clone() })?;
            self.audit(tx, "team.leave", &row.member, json!({ "remote": remote, "kept_keys": kept_keys, "kept_instances": kept_instances }))
        });
        if let Err(e) = done {
            undo(&written);
            return Err(e);
        }
        // The clone holds ciphertext and metadata only; a later attach replaces whatever is left.
        let _ = std::fs::remove_dir_all(self.team_repo());
        Ok(TeamLeft { remote, kept_keys, kept_instances })
    }

    /// Pulls (verified) and returns the state at HEAD, checking this member is an admin.
    fn team_admin_state(&self) -> Result<(TeamRow, Git, TeamState)> {
        let (row, g) = self.team_clone()?;
        self.team_pull(&g, &row, &no_progress)?;
        let state = self.state_at(&g, "HEAD")?;
        if !state.is_admin(&row.member) {
            return Err(Error::InvalidState(format!("only a team admin can do this; '{}' is not one", row.member)));
        }
        Ok((row, g, state))
    }

    /// Adds a member (their recipient and SSH signing public key, from their join).
    pub fn team_invite(&self, member: &str, recipient: &str, signing_key: &str, admin: bool) -> Result<String> {
        layout::check_name("member", member)?;
        crypt::check_recipient(recipient)?;
        check_signing_key(signing_key.trim())?;
        let (row, g, mut state) = self.team_admin_state()?;
        if state.members.contains_key(member) {
            return Err(Error::Conflict(format!("'{member}' is already a member")));
        }
        let m = Member { name: member.into(), role: if admin { Role::Admin } else { Role::Member }, recipient: recipient.trim().into(), signing_key: signing_key.trim().into() };
        write_file(&g.dir, &layout::member_path(member), layout::encode("member", &m).as_bytes())?;
        // An admin reads every secret: encrypt them all to the new admin too.
        let reencrypted = if admin {
            state.members.insert(member.into(), m.clone());
            let owners: Vec<String> = state.keys.values().map(|k| k.owner.clone()).collect();
            self.reencrypt(&g, &state, |k| owners.contains(&k.owner))?
        } else {
            Vec::new()
        };
        let role = if admin { "admin" } else { "member" };
        self.team_record(&g, &row.member, "team.invite", member, json!({ "role": role, "recipient": m.recipient, "reencrypted": reencrypted.len() }))?;
        let head = self.team_commit_push(&g, &format!("team: invite {member} ({role})"))?;
        self.store.tx(|tx| self.audit(tx, "team.invite", member, json!({ "admin": admin, "recipient": m.recipient, "reencrypted": reencrypted, "head": head })))?;
        Ok(head)
    }

    /// Encrypts again, to their recipients in `state`, the secrets of the keys `which` selects.
    fn reencrypt(&self, g: &Git, state: &TeamState, which: impl Fn(&KeyMeta) -> bool) -> Result<Vec<String>> {
        let id = self.team_identity_secret()?;
        let keys: Vec<&KeyMeta> = state.keys.values().filter(|k| which(k)).collect();
        // Decrypted and encrypted again in memory on every core; written in order, stopping at
        // the first failure as before.
        let cipher = crypt::in_parallel(&keys, |k| -> Result<Option<(String, Vec<u8>)>> {
            let path = layout::secret_path(&k.name);
            let Ok(data) = std::fs::read(g.dir.join(&path)) else { return Ok(None) };
            let value = crypt::decrypt(&data, &id, &path)?.ok_or_else(|| Error::InvalidState(format!("{path} is not encrypted to you: it cannot be encrypted again by you")))?;
            let recipients: Vec<&str> = state.recipients(&k.owner).iter().map(|m| m.recipient.as_str()).collect();
            Ok(Some((path, crypt::encrypt(&value, &recipients)?)))
        });
        let mut done = Vec::new();
        for (k, c) in keys.iter().zip(cipher) {
            let Some((path, bytes)) = c? else { continue };
            write_file(&g.dir, &path, &bytes)?;
            done.push(k.name.clone());
        }
        Ok(done)
    }

    /// Gives `member` access to `owner`'s instances and keys: its secrets are encrypted to them too.
    pub fn team_grant(&self, member: &str, owner: &str) -> Result<TeamChange> {
        self.team_scope_change(member, owner, true)
    }

    /// Takes `owner` from `member`'s scope: its secrets are encrypted without them, and marked
    /// exposed (they could read them until now, and a copy of the old files is in the history).
    pub fn team_revoke(&self, member: &str, owner: &str) -> Result<TeamChange> {
        self.team_scope_change(member, owner, false)
    }

    fn team_scope_change(&self, member: &str, owner: &str, grant: bool) -> Result<TeamChange> {
        layout::check_name("owner", owner)?;
        let (row, g, mut state) = self.team_admin_state()?;
        if !state.members.contains_key(member) {
            return Err(Error::NotFound { kind: "team member", name: member.into() });
        }
        let could_read: Vec<String> = state.keys.values().filter(|k| k.owner == owner && state.may_access(member, owner)).map(|k| k.name.clone()).collect();
        let scope = state.scopes.entry(owner.to_string()).or_default();
        let changed = if grant { scope.insert(member.to_string()) } else { scope.remove(member) };
        if !changed {
            return Err(Error::Conflict(format!("'{member}' {} access to '{owner}'", if grant { "already has" } else { "has no" })));
        }
        let scope = Scope { owner: owner.into(), members: state.scopes[owner].clone() };
        write_file(&g.dir, &layout::scope_path(owner), layout::encode("scope", &scope).as_bytes())?;
        let reencrypted = self.reencrypt(&g, &state, |k| k.owner == owner)?;
        // A revoked member who could read a key (not as an admin, who still can) exposed it.
        let exposed = if grant || state.is_admin(member) { Vec::new() } else { could_read };
        self.mark_exposed(&g, &mut state, &exposed, member)?;
        let verb = if grant { "grant" } else { "revoke" };
        self.team_record(&g, &row.member, &format!("team.{verb}"), member, json!({ "owner": owner, "reencrypted": reencrypted.len(), "exposed": exposed }))?;
        let head = self.team_commit_push(&g, &format!("team: {verb} {member} access to {owner}"))?;
        self.store.tx(|tx| {
            for k in &exposed {
                store::upsert_exposure(tx, k, member, &self.now())?;
            }
            self.audit(tx, &format!("team.{verb}"), member, json!({ "owner": owner, "reencrypted": reencrypted, "exposed": exposed, "head": head }))
        })?;
        Ok(TeamChange { member: member.into(), reencrypted, exposed_keys: exposed, head })
    }

    fn mark_exposed(&self, g: &Git, state: &mut TeamState, keys: &[String], member: &str) -> Result<()> {
        let at = self.now();
        for name in keys {
            if let Some(k) = state.keys.get_mut(name) {
                k.exposed = Some(Exposure { member: member.into(), at });
                write_file(&g.dir, &layout::key_path(name), layout::encode("key", &*k).as_bytes())?;
            }
        }
        Ok(())
    }

    /// Offboarding: removes `member`, encrypts every secret they could read again without them,
    /// and marks each of those keys "exposed: rotate" (they lead the rotation plan).
    pub fn team_remove(&self, member: &str) -> Result<TeamChange> {
        let (row, g, mut state) = self.team_admin_state()?;
        if member == row.member {
            return Err(Error::InvalidState("you cannot remove yourself; another admin can".into()));
        }
        if !state.members.contains_key(member) {
            return Err(Error::NotFound { kind: "team member", name: member.into() });
        }
        let exposed: Vec<String> = state.readable_keys(member).iter().map(|k| k.name.clone()).collect();
        state.members.remove(member);
        remove_file(&g.dir, &layout::member_path(member))?;
        let owners: Vec<String> = state.scopes.iter().filter(|(_, s)| s.contains(member)).map(|(o, _)| o.clone()).collect();
        for o in &owners {
            let s = state.scopes.get_mut(o).map(|s| {
                s.remove(member);
                s.clone()
            });
            if let Some(members) = s {
                write_file(&g.dir, &layout::scope_path(o), layout::encode("scope", &Scope { owner: o.clone(), members }).as_bytes())?;
            }
        }
        let reencrypted = self.reencrypt(&g, &state, |k| exposed.contains(&k.name))?;
        self.mark_exposed(&g, &mut state, &exposed, member)?;
        self.team_record(&g, &row.member, "team.remove", member, json!({ "reencrypted": reencrypted.len(), "exposed": exposed }))?;
        let head = self.team_commit_push(&g, &format!("team: remove {member}; {} keys they could read are exposed", exposed.len()))?;
        self.store.tx(|tx| {
            for k in &exposed {
                store::upsert_exposure(tx, k, member, &self.now())?;
            }
            self.audit(tx, "team.remove", member, json!({ "exposed": exposed, "reencrypted": reencrypted, "head": head }))
        })?;
        Ok(TeamChange { member: member.into(), reencrypted, exposed_keys: exposed, head })
    }

    /// Pull (verified), import what this member may read into the local index and keychain,
    /// share local instances and keys the store does not have yet, commit (signed), push.
    pub fn team_sync(&self) -> Result<TeamSync> {
        self.team_sync_with(&no_progress)
    }

    /// [`Clawkeep::team_sync`], reporting each stage to `progress` (fetch, every commit
    /// verified, import, share, push).
    pub fn team_sync_with(&self, progress: TeamProgressFn<'_>) -> Result<TeamSync> {
        let (row, g) = self.team_clone()?;
        let mut report = TeamSync { verified_commits: self.team_pull(&g, &row, progress)?, ..Default::default() };
        let state = self.state_at(&g, "HEAD")?;
        let me = row.member.as_str();
        if !state.members.contains_key(me) {
            return Err(Error::InvalidState(format!("'{me}' is not a member of this team store (yet): an admin invites you with your recipient and signing key")));
        }
        let head = g.rev("HEAD")?;
        let base = match row.base_head.as_deref() {
            // Nothing moved since the index last agreed with the store: the base is HEAD's state.
            Some(b) if head.as_deref() == Some(b) => Some(state.clone()),
            Some(b) if g.rev(b)?.is_some() => Some(self.state_at(&g, b)?),
            _ => None,
        };
        // Field merges first: a conflict stops the sync before anything is written.
        let merges = self.team_merge_plan(&state, base.as_ref(), me)?;
        progress(&TeamSyncStage::Importing);
        self.team_import(&g, &state, me, &mut report)?;
        for (name, merged, to_local, to_repo) in merges {
            if to_local {
                self.edit_instance(&name, patch_of(&merged))?;
                report.updated_instances.push(name.clone());
            }
            if to_repo {
                write_file(&g.dir, &layout::instance_path(&name), layout::encode("instance", &merged).as_bytes())?;
                report.shared_instances.push(name);
            }
        }
        progress(&TeamSyncStage::Sharing);
        self.team_share(&g, &state, me, &mut report)?;
        if !report.shared_instances.is_empty() || !report.shared_keys.is_empty() {
            self.team_record(&g, me, "team.share", "", json!({ "instances": report.shared_instances, "keys": report.shared_keys }))?;
            g.commit_all(&format!("team sync: {me} shares {} instances, {} keys", report.shared_instances.len(), report.shared_keys.len()))?;
        }
        // Also what an earlier sync committed but could not push (the network went away).
        let head = g.rev("HEAD")?;
        if head.is_some() && head != g.rev(&format!("{}/{}", git::REMOTE, git::BRANCH))? {
            progress(&TeamSyncStage::Pushing);
            report.head = Some(self.team_push(&g)?);
            report.pushed = true;
        } else {
            report.head = head;
        }
        if let Some(h) = &report.head {
            self.store.tx(|tx| store::set_base_head(tx, h))?;
        }
        self.store.tx(|tx| {
            self.audit(
                tx,
                "team.sync",
                me,
                json!({ "verified_commits": report.verified_commits, "imported_instances": report.imported_instances, "imported_keys": report.imported_keys,
                        "shared_instances": report.shared_instances, "shared_keys": report.shared_keys, "head": report.head }),
            )
        })?;
        Ok(report)
    }

    /// For every shared instance this member has locally and may access: the three-way merge of
    /// its fields (base: the commit the index last agreed with; ours: the local index; theirs:
    /// the verified HEAD), and where the result goes (local index, repository). Any field both
    /// sides changed differently is a [`Error::TeamConflict`] naming both values.
    fn team_merge_plan(&self, state: &TeamState, base: Option<&TeamState>, me: &str) -> Result<Vec<(String, InstanceSpec, bool, bool)>> {
        let mut out = Vec::new();
        let mut conflicts = Vec::new();
        for row in self.list_instances(&InstanceFilter::default())? {
            let i = row.instance;
            let Some(theirs) = state.instances.get(&i.name) else { continue };
            if i.draft || !state.may_access(me, &theirs.owner) {
                continue;
            }
            let (ours_d, theirs_d) = (doc_of(&spec_of(&i)), doc_of(theirs));
            if ours_d == theirs_d {
                continue;
            }
            // Without a base (never synced together) the store's version is the base: ours wins.
            let base_d = base.and_then(|b| b.instances.get(&i.name)).map(doc_of).unwrap_or_else(|| theirs_d.clone());
            match merge::merge_fields(&base_d, &ours_d, &theirs_d) {
                Ok(m) => {
                    let spec: InstanceSpec = serde_json::from_value(serde_json::Value::Object(m.clone().into_iter().collect())).map_err(|e| Error::TeamLayout {
                        path: layout::instance_path(&i.name),
                        line: 0,
                        message: e.to_string(),
                    })?;
                    out.push((i.name.clone(), spec, m != ours_d, m != theirs_d));
                }
                Err(c) => {
                    let show = |v: &Option<serde_json::Value>| v.as_ref().map(|v| crate::hosttext::line(&v.to_string(), 200)).unwrap_or_else(|| "(removed)".into());
                    for f in c {
                        conflicts.push(TeamFieldConflict { instance: i.name.clone(), field: f.field, yours: show(&f.ours), theirs: show(&f.theirs) });
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(Error::TeamConflict { conflicts });
        }
        Ok(out)
    }

    fn team_import(&self, g: &Git, state: &TeamState, me: &str, report: &mut TeamSync) -> Result<()> {
        // What this member may no longer read leaves every view: the team keys of an owner out
        // of scope, and the shared instances of that owner that hold no key of this member's own.
        for k in self.list_keys(None)? {
            if k.keychain_ref.starts_with(TEAM_REF_PREFIX) && state.keys.get(&k.name).is_none_or(|m| !state.may_access(me, &m.owner)) {
                self.remove_key(&k.name, true)?;
                report.dropped.push(format!("key {}", k.name));
            }
        }
        for row in self.list_instances(&InstanceFilter::default())? {
            let i = row.instance;
            if state.instances.get(&i.name).is_some_and(|s| !state.may_access(me, &s.owner)) && self.list_keys(Some(&i.name))?.is_empty() {
                self.remove_instance(&i.name)?;
                report.dropped.push(format!("instance {}", i.name));
            }
        }
        let local: BTreeMap<String, Instance> = self.list_instances(&InstanceFilter::default())?.into_iter().map(|r| (r.instance.name.clone(), r.instance)).collect();
        // Bastions first, so an instance's jump host exists when it is added.
        let mut todo: Vec<&InstanceSpec> = state.instances.values().filter(|i| state.may_access(me, &i.owner) && !local.contains_key(&i.name)).collect();
        todo.sort_by_key(|i| i.jump_via.is_some());
        for spec in todo {
            match self.add_instance(spec.clone()) {
                Ok(i) => report.imported_instances.push(i.name),
                Err(e) => report.skipped.push(format!("instance {}: {e}", spec.name)),
            }
        }
        let id = self.team_identity_secret()?;
        let mut exposures = Vec::new();
        // Every secret is decrypted and checked against its fingerprint before any is stored.
        let mut wanted = Vec::new();
        // The names this inventory holds, read once (not one query per key of the store).
        let have: std::collections::BTreeSet<String> = self.list_keys(None)?.into_iter().map(|k| k.name).collect();
        for k in state.readable_keys(me) {
            if let Some(x) = &k.exposed {
                exposures.push((k.name.clone(), x.clone()));
            }
            if have.contains(&k.name) || !matches!(KeyStatus::parse(&k.status), Some(KeyStatus::Active | KeyStatus::Staged)) {
                continue;
            }
            wanted.push((k, layout::secret_path(&k.name)));
        }
        // One `git cat-file --batch` for every secret file wanted.
        let paths: Vec<&str> = wanted.iter().map(|(_, p)| p.as_str()).collect();
        let mut blobs: BTreeMap<String, Vec<u8>> = g.blobs("HEAD", &paths)?.into_iter().collect();
        let found: Vec<_> = wanted.into_iter().map(|(k, path)| (k, blobs.remove(&path), path)).collect();
        let decrypted = crypt::in_parallel(&found, |(_, data, path)| data.as_ref().map(|d| crypt::decrypt(d, &id, path)));
        let mut ready = Vec::new();
        for ((k, _, path), value) in found.into_iter().zip(decrypted) {
            let Some(value) = value else {
                report.skipped.push(format!("key {}: no secret file", k.name));
                continue;
            };
            let Some(value) = value? else {
                report.skipped.push(format!("key {}: its secret is not encrypted to you (ask an admin to sync it)", k.name));
                continue;
            };
            if keyfmt::fingerprint(value.expose().trim()) != k.fingerprint {
                return Err(Error::TeamRefused { commit: "HEAD".into(), who: "unknown".into(), what: "the secret does not match its key's fingerprint".into(), path });
            }
            ready.push((k, value));
        }
        for (k, value) in ready {
            let spec = KeySpec {
                name: k.name.clone(),
                instance: k.instance.clone(),
                workspace_id: k.workspace_id.clone(),
                anthropic_key_id: k.anthropic_key_id.clone(),
                expires_at: k.expires_at,
                allow_name: true,
                format_changed: false,
            };
            match self.add_key_stored(spec, value, None, Some(format!("{TEAM_REF_PREFIX}{}", k.name))) {
                Ok(_) => report.imported_keys.push(k.name.clone()),
                Err(e) => report.skipped.push(format!("key {}: {e}", k.name)),
            }
        }
        self.store.tx(|tx| {
            for (k, x) in &exposures {
                store::upsert_exposure(tx, k, &x.member, &x.at)?;
            }
            Ok(())
        })?;
        report.exposed_keys = exposures.into_iter().map(|(k, _)| k).collect();
        Ok(())
    }

    fn team_share(&self, g: &Git, state: &TeamState, me: &str, report: &mut TeamSync) -> Result<()> {
        let mut shared_instances: BTreeMap<String, String> = state.instances.iter().map(|(n, i)| (n.clone(), i.owner.clone())).collect();
        for row in self.list_instances(&InstanceFilter::default())? {
            let i = row.instance;
            if i.draft || state.instances.contains_key(&i.name) {
                continue;
            }
            if layout::check_name("owner", &i.owner).is_err() || layout::check_name("instance", &i.name).is_err() {
                report.skipped.push(format!("instance {}: its owner or name cannot be a team store file name (lower-case letters, digits, hyphens)", i.name));
                continue;
            }
            if !state.may_access(me, &i.owner) {
                report.skipped.push(format!("instance {}: you have no scope over owner '{}'", i.name, i.owner));
                continue;
            }
            write_file(&g.dir, &layout::instance_path(&i.name), layout::encode("instance", &spec_of(&i)).as_bytes())?;
            shared_instances.insert(i.name.clone(), i.owner.clone());
            report.shared_instances.push(i.name);
        }
        for k in self.list_keys(None)? {
            if state.keys.contains_key(&k.name) || !matches!(k.status, KeyStatus::Active | KeyStatus::Staged) {
                continue;
            }
            let Some(owner) = k.instance.as_ref().and_then(|i| shared_instances.get(i)).cloned() else {
                report.skipped.push(format!("key {}: not bound to a shared instance (Admin keys stay personal)", k.name));
                continue;
            };
            if layout::check_name("key", &k.name).is_err() {
                report.skipped.push(format!("key {}: its name cannot be a team store file name", k.name));
                continue;
            }
            let recipients: Vec<&str> = state.recipients(&owner).iter().map(|m| m.recipient.as_str()).collect();
            let value = self.key_secret(&k.name)?;
            let cipher = crypt::encrypt(&value, &recipients)?;
            drop(value);
            let meta = KeyMeta {
                name: k.name.clone(),
                owner,
                instance: k.instance.clone(),
                kind: k.kind.as_str().into(),
                hint: k.hint.clone(),
                fingerprint: k.fingerprint.clone(),
                length: k.length,
                status: k.status.as_str().into(),
                workspace_id: k.workspace_id.clone(),
                anthropic_key_id: k.anthropic_key_id.clone(),
                expires_at: k.expires_at,
                created_at: k.created_at,
                exposed: None,
            };
            write_file(&g.dir, &layout::secret_path(&k.name), &cipher)?;
            write_file(&g.dir, &layout::key_path(&k.name), layout::encode("key", &meta).as_bytes())?;
            report.shared_keys.push(k.name);
        }
        Ok(())
    }

    /// The team's audit streams as last verified (every member's, or `member`'s), newest first,
    /// at most `limit` lines.
    pub fn team_audit(&self, member: Option<&str>, limit: usize) -> Result<Vec<TeamAuditEntry>> {
        let (_row, g) = self.team_clone()?;
        // Only the streams' files are read (the screen asks on every refresh), not the tree.
        let streams: Vec<(String, String)> = g
            .tree("HEAD")?
            .into_iter()
            .filter_map(|(p, oid)| match (layout::classify(&p), oid) {
                (layout::PathKind::Audit(m), Some(oid)) if member.is_none_or(|w| w == m) => Some((m, oid)),
                _ => None,
            })
            .collect();
        let texts = g.objects(&streams.iter().map(|(_, o)| o.as_str()).collect::<Vec<_>>())?;
        let mut out = Vec::new();
        for ((m, _), bytes) in streams.iter().zip(texts) {
            for l in layout::parse_audit(&layout::audit_path(m), &String::from_utf8_lossy(&bytes), 1)? {
                let detail = if l.detail.is_null() { String::new() } else { crate::hosttext::line(&l.detail.to_string(), 2000) };
                let summary = crate::hosttext::line(&l.summary(), 400);
                out.push(TeamAuditEntry {
                    member: m.clone(),
                    at: l.at,
                    action: crate::hosttext::line(&l.action, 80),
                    subject: crate::hosttext::line(&l.subject, 200),
                    summary,
                    detail,
                });
            }
        }
        // Newest first; a member's own lines keep their order when they share a second.
        out.reverse();
        out.sort_by_key(|e| std::cmp::Reverse(e.at));
        out.truncate(limit);
        Ok(out)
    }

    /// Who is in the team and what they may read (from the clone as last verified).
    pub fn team_status(&self) -> Result<TeamStatus> {
        self.team_status_if_joined()?.ok_or_else(|| Error::InvalidState("this data directory has not joined a team yet: join first (it makes your team identity)".into()))
    }

    /// [`Clawkeep::team_status`], or `None` when this data dir has not joined a team yet (the
    /// desktop's Team screen then offers to join).
    pub fn team_status_if_joined(&self) -> Result<Option<TeamStatus>> {
        let Some(row) = self.store.team()? else { return Ok(None) };
        let members: Vec<TeamMemberView> = if row.remote.is_some() {
            let state = self.state_at(&Git::open(&self.team_repo()), "HEAD")?;
            state
                .members
                .values()
                .map(|m| TeamMemberView { name: m.name.clone(), role: m.role, owners: state.scopes.iter().filter(|(_, s)| s.contains(&m.name)).map(|(o, _)| o.clone()).collect() })
                .collect()
        } else {
            Vec::new()
        };
        let role = members.iter().find(|m| m.name == row.member).map(|m| m.role);
        // Public halves only: the recipient is derived from the identity, which stays here.
        let recipient = self.keychain.get(TEAM_IDENTITY_ACCOUNT).ok().and_then(|id| crypt::recipient_of(&id).ok());
        let signing_key = public_key_line(Path::new(&row.signing_key)).ok();
        let last_sync = self.store.last_team_sync()?;
        Ok(Some(TeamStatus { member: row.member, remote: row.remote, verified_head: row.verified_head, members, role, recipient, signing_key, last_sync }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::MemoryKeychain;
    use std::sync::Arc;

    #[test]
    fn a_remote_with_a_password_in_it_is_refused() {
        for ok in
            ["git@github.com:acme/team.git", "ssh://git@host:2222/team.git", "/srv/team.git", "h1:team.git", "https://gitlab.example/acme/team.git", "https://user@host/x.git"]
        {
            assert!(check_remote(ok).is_ok(), "{ok}");
        }
        for bad in ["https://user:tok3n@github.com/acme/team.git", "ssh://me:pw@host/x", "", "--upload-pack=evil", "a\nb"] {
            let e = check_remote(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_input");
            assert!(!e.to_string().contains("tok3n"), "{e}");
        }
    }

    /// Verification brings the parent's state up to each commit from the files it changed:
    /// that must be exactly the state read from the commit's whole tree (added, edited and
    /// deleted files of every kind, a secret and a submodule's entry among them).
    #[test]
    fn a_state_brought_up_to_a_commit_is_the_state_read_from_its_whole_tree() {
        let dir = tempfile::tempdir().unwrap();
        let g = Git::open(dir.path());
        g.run("init", &["init", "--quiet", "--initial-branch=main"]).unwrap();
        let commit = |m: &str| {
            g.run("add", &["add", "-A"]).unwrap();
            g.run("commit", &["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "--no-gpg-sign", "--allow-empty", "-m", m]).unwrap();
            g.rev("HEAD").unwrap().unwrap()
        };
        let member = |n: &str, role: Role| Member { name: n.into(), role, recipient: format!("age1{n}"), signing_key: format!("ssh-ed25519 AAAA{n}") };
        let key = |n: &str, o: &str| KeyMeta {
            name: n.into(),
            owner: o.into(),
            instance: None,
            kind: "api".into(),
            hint: "sk-…AA".into(),
            fingerprint: format!("fp-{n}"),
            length: 108,
            status: "active".into(),
            workspace_id: None,
            anthropic_key_id: None,
            expires_at: None,
            created_at: chrono::Utc::now(),
            exposed: None,
        };
        let put = |path: &str, text: String| write_file(dir.path(), path, text.as_bytes()).unwrap();
        put(layout::TEAM_FILE, "format = 1\n".into());
        put(&layout::member_path("alice"), layout::encode("member", &member("alice", Role::Admin)));
        put(&layout::member_path("bob"), layout::encode("member", &member("bob", Role::Member)));
        put(&layout::scope_path("acme"), layout::encode("scope", &Scope { owner: "acme".into(), members: ["bob".to_string()].into() }));
        for (k, o) in [("k1", "acme"), ("k2", "acme"), ("k3", "globex")] {
            put(&layout::key_path(k), layout::encode("key", &key(k, o)));
            put(&layout::secret_path(k), "-----BEGIN AGE ENCRYPTED FILE-----".into());
        }
        let line = |a: &str| AuditLine { at: chrono::Utc::now(), action: a.into(), subject: String::new(), detail: serde_json::Value::Null };
        append_audit(dir.path(), "alice", &line("team.init")).unwrap();
        append_audit(dir.path(), "bob", &line("team.share")).unwrap();
        let first = commit("first");
        append_audit(dir.path(), "alice", &line("team.remove")).unwrap();
        remove_file(dir.path(), &layout::audit_path("bob")).unwrap();
        put(layout::TEAM_FILE, "format = 2\n".into());
        put(&layout::member_path("carol"), layout::encode("member", &member("carol", Role::Member)));
        remove_file(dir.path(), &layout::member_path("bob")).unwrap();
        put(&layout::scope_path("acme"), layout::encode("scope", &Scope { owner: "acme".into(), members: ["carol".to_string()].into() }));
        put(&layout::key_path("k1"), layout::encode("key", &key("k1", "globex")));
        remove_file(dir.path(), &layout::key_path("k2")).unwrap();
        remove_file(dir.path(), &layout::secret_path("k2")).unwrap();
        put(&layout::key_path("k4"), layout::encode("key", &key("k4", "initech")));
        put(&layout::secret_path("k4"), "x".into());
        // A submodule's entry (a commit, not a file) where a key file would be.
        let sub = g.rev("HEAD").unwrap().unwrap();
        g.run("gitlink", &["update-index", "--add", "--cacheinfo", &format!("160000,{sub},keys/k5.txt")]).unwrap();
        g.run("add", &["add", "-A", "--", ":!keys/k5.txt"]).unwrap();
        g.run("commit", &["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "--no-gpg-sign", "-m", "second"]).unwrap();
        let second = g.rev("HEAD").unwrap().unwrap();
        let before = TeamState::from_files(g.files_at(&first).unwrap().iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
        let whole = TeamState::from_files(g.files_at(&second).unwrap().iter().map(|(p, t)| (p.as_str(), t.as_str()))).unwrap();
        let changes = g.changes(&second).unwrap();
        assert!(changes.iter().any(|c| c.path == "keys/k5.txt" && c.to == git::ChangeTo::NotFile), "{changes:?}");
        assert!(changes.iter().any(|c| c.path == "members/bob.txt" && c.to == git::ChangeTo::Deleted), "{changes:?}");
        let applied = apply_changes(&g, &before, &changes).unwrap();
        assert_eq!(format!("{applied:?}"), format!("{whole:?}"));
        assert!(whole.members.contains_key("carol") && !whole.members.contains_key("bob") && whole.keys["k1"].owner == "globex");
        assert!(!whole.keys.contains_key("k2") && !whole.secrets.contains("k2") && whole.secrets.contains("k4"));
        assert_eq!((whole.format, whole.audit["alice"].lines().count(), whole.audit.contains_key("bob")), (2, 2, false));
        // The root: every file is a change against nothing.
        let from_root = apply_changes(&g, &TeamState::default(), &g.changes(&first).unwrap()).unwrap();
        assert_eq!(format!("{from_root:?}"), format!("{before:?}"));
    }

    #[test]
    fn a_team_account_is_the_store_file_decrypted_on_use_and_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let inner: Arc<dyn Keychain> = Arc::new(MemoryKeychain::new());
        let (id, recipient) = crypt::generate_identity();
        inner.set(TEAM_IDENTITY_ACCOUNT, &id).unwrap();
        let (_, other) = crypt::generate_identity();
        write_file(dir.path(), &layout::secret_path("mine"), &crypt::encrypt(&Secret::new("value-one".into()), &[&recipient, &other]).unwrap()).unwrap();
        write_file(dir.path(), &layout::secret_path("theirs"), &crypt::encrypt(&Secret::new("value-two".into()), &[&other]).unwrap()).unwrap();
        let kc = TeamKeychain::new(inner.clone(), dir.path().to_path_buf());
        assert_eq!(kc.get("team:mine").unwrap().expose(), "value-one");
        let e = kc.get("team:theirs").unwrap_err();
        assert!(e.to_string().contains("no longer encrypted to you"), "{e}");
        assert!(!e.to_string().contains("value-two"));
        assert!(matches!(kc.get("team:absent"), Err(KeychainError::Missing { .. })));
        assert!(kc.set("team:mine", &Secret::new("x".into())).is_err(), "never written through the keychain");
        kc.delete("team:mine").unwrap();
        assert!(dir.path().join("secrets/mine.age").exists(), "deleting the row's entry leaves the store alone");
        // Every other account is the OS keychain's.
        kc.set("kc-1", &Secret::new("v".into())).unwrap();
        assert_eq!(inner.get("kc-1").unwrap().expose(), "v");
    }
}
