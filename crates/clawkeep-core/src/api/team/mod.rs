//! The team vault's flows (issue 15) over [`crate::team`]: join (an age identity made and kept
//! in the OS keychain only), init (create or attach to a team repository), invite, grant, revoke,
//! remove (offboarding: re-encrypt without the leaver, mark what they could read "exposed:
//! rotate"), leave (back to a solo inventory, every team key copied into the keychain) and sync (fetch, verify every new commit, import into the local index, share local
//! additions, push). Each gathers facts from `git`, the store and the keychain, asks the pure
//! `team::` modules what they mean, and performs it. Secrets are encrypted in memory: only
//! ciphertext is written to the clone.
//!
//! - this file: the team keychain, the flows' reply types, and what every flow shares (the
//!   clone, the audit line, commit and push);
//! - `membership`: join, init, leave, invite, grant, revoke, remove;
//! - `sync`: pull (verify, then import), share, push;
//! - `view`: status and the audit streams.

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

mod membership;
mod sync;
mod view;

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

    fn state_at(&self, g: &Git, rev: &str) -> Result<TeamState> {
        let files = g.files_at(rev)?;
        TeamState::from_files(files.iter().map(|(p, t)| (p.as_str(), t.as_str())))
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
