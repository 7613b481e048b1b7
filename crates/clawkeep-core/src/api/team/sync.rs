//! The team vault's sync: fetch, verify every new commit with the pure judge before anything
//! is read from it, import into the local index, share local additions, push.

use super::*;

impl Clawkeep {
    /// Fetches, verifies every commit new since the last verified one (each against the team as
    /// it stood before it), then brings the clone up to date (fast-forward, or a rebase of our
    /// own unpushed commits, signed again). Nothing moves when a commit is refused.
    pub(super) fn team_pull(&self, g: &Git, row: &TeamRow, progress: TeamProgressFn<'_>) -> Result<usize> {
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
    pub(super) fn team_merge_plan(&self, state: &TeamState, base: Option<&TeamState>, me: &str) -> Result<Vec<(String, InstanceSpec, bool, bool)>> {
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

    pub(super) fn team_import(&self, g: &Git, state: &TeamState, me: &str, report: &mut TeamSync) -> Result<()> {
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

    pub(super) fn team_share(&self, g: &Git, state: &TeamState, me: &str, report: &mut TeamSync) -> Result<()> {
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
}
