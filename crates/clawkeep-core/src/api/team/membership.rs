//! The team vault's membership flows: join (an identity made and kept in the OS keychain), init
//! (create or attach to a team repository, sharing the inventory at once), leave (back to a solo
//! inventory), and an admin's invite, grant, revoke and remove (re-encrypt without the leaver and
//! mark what they could read exposed).

use super::*;

impl Clawkeep {
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
            let account = crate::api::keys::new_keychain_ref();
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
    pub(super) fn reencrypt(&self, g: &Git, state: &TeamState, which: impl Fn(&KeyMeta) -> bool) -> Result<Vec<String>> {
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

    pub(super) fn team_scope_change(&self, member: &str, owner: &str, grant: bool) -> Result<TeamChange> {
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

    pub(super) fn mark_exposed(&self, g: &Git, state: &mut TeamState, keys: &[String], member: &str) -> Result<()> {
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
}
