//! The judgement over one incoming commit, pure: is it signed by a member of the team as it
//! stood *before* the commit (its parent's tree; the root commit's own tree for the first one),
//! and does that member have rights over every path it touches, under the owners both before
//! and after the change? Does it add to its signer's audit stream, at the end only, and to no
//! one else's? Anything else is a [`Refusal`] naming who, what and where.

use std::collections::BTreeSet;

use super::layout::{audit_path, classify, parse_audit, PathKind, TeamState, AUDIT_FORMAT};

/// What `git` said about a commit's signature, checked against an allowed-signers file built
/// from the members before the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signature {
    /// A good signature by this principal (a member's name).
    Good { signer: String },
    /// No signature at all.
    Missing,
    /// Signed, but not by a key of the allowed signers, or not verifiable (`%G?` and git's words).
    Untrusted { status: char, key: String },
}

/// What one commit is, gathered from git.
#[derive(Debug, Clone)]
pub struct CommitFacts {
    pub id: String,
    /// Author name as written in the commit (shown, never trusted).
    pub author: String,
    pub parents: usize,
    pub signature: Signature,
    /// The paths it adds, changes or deletes (against its parent).
    pub changed: Vec<String>,
}

/// Why a commit is refused: who, what, where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub commit: String,
    pub who: String,
    pub what: String,
    pub path: String,
}

/// The member a commit is accepted from, or why not. `before`: the team at the commit's parent
/// (for the root commit, pass its own state: the first admin vouches for itself, which is what
/// trust on first use of a repository means — `team init` shows who that is).
pub fn judge(c: &CommitFacts, before: &TeamState, after: &TeamState) -> Result<String, Refusal> {
    let short: String = c.id.chars().take(12).collect();
    let refuse = |who: &str, what: String, path: &str| Refusal { commit: short.clone(), who: who.into(), what, path: path.into() };
    let claimed = format!("unverified, author says '{}'", c.author);
    if c.parents > 1 {
        return Err(refuse(&claimed, "a merge commit: the team history is linear (sync rebases), so a merge could hide a change".into(), "(whole commit)"));
    }
    let signer = match &c.signature {
        Signature::Good { signer } => signer.clone(),
        Signature::Missing => return Err(refuse(&claimed, "the commit is not signed".into(), "(whole commit)")),
        Signature::Untrusted { status, key } => {
            let key = if key.is_empty() { String::new() } else { format!(" (key {key})") };
            return Err(refuse(&claimed, format!("the signature is not by a current member{key} (git status {status})"), "(whole commit)"));
        }
    };
    let Some(member) = before.members.get(&signer) else {
        return Err(refuse(&signer, "the signer is not a member of the team before this commit".into(), "(whole commit)"));
    };
    let name = member.name.as_str();
    for path in &c.changed {
        let kind = classify(path);
        match &kind {
            PathKind::Other => return Err(refuse(name, "the path is not part of the team layout".into(), path)),
            PathKind::Team | PathKind::Member(_) | PathKind::Scope(_) => {
                if !before.is_admin(name) {
                    return Err(refuse(name, "only an admin may change the team, its members or scopes".into(), path));
                }
                if after.format < before.format {
                    return Err(refuse(name, format!("the store's format cannot go back (from {} to {})", before.format, after.format), path));
                }
            }
            PathKind::Audit(owner) => {
                if owner != name {
                    return Err(refuse(name, format!("only '{owner}' writes their own audit stream"), path));
                }
                // The root commit writes its stream from nothing (its `before` is itself).
                let old = if c.parents == 0 { "" } else { before.audit.get(owner).map(|t| &**t).unwrap_or("") };
                let Some(new) = after.audit.get(owner) else {
                    return Err(refuse(name, "an audit stream is never deleted (it is append-only)".into(), path));
                };
                let Some(added) = new.strip_prefix(old) else {
                    let line = old.lines().zip(new.lines()).take_while(|(a, b)| a == b).count() + 1;
                    return Err(refuse(name, format!("the audit stream was rewritten at line {line}: it is append-only, lines are only added at its end"), path));
                };
                if let Err(e) = parse_audit(path, added, old.lines().count() + 1) {
                    return Err(refuse(name, format!("a bad audit line: {e}"), path));
                }
            }
            PathKind::Instance(_) | PathKind::Key(_) | PathKind::Secret(_) => {
                let owners: BTreeSet<&str> = [before.owner_of(&kind), after.owner_of(&kind)].into_iter().flatten().collect();
                if owners.is_empty() {
                    return Err(refuse(name, "a secret without its key's metadata (no owner)".into(), path));
                }
                if let Some(o) = owners.iter().find(|o| !before.may_access(name, o)) {
                    return Err(refuse(name, format!("no rights over owner '{o}'"), path));
                }
            }
        }
    }
    // Every change is in its signer's stream (from the format that has streams on).
    let stream = audit_path(name);
    let grew = after.audit.get(name).is_some_and(|new| new.len() > if c.parents == 0 { 0 } else { before.audit.get(name).map_or(0, |old| old.len()) });
    if before.format.max(after.format) >= AUDIT_FORMAT && !(c.changed.contains(&stream) && grew) {
        return Err(refuse(name, "the commit adds no line to its signer's audit stream (every change is recorded there)".into(), &stream));
    }
    Ok(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::team::layout::{KeyMeta, Member, Role};

    fn state() -> TeamState {
        let mut s = TeamState::default();
        for (n, r) in [("alice", Role::Admin), ("bob", Role::Member)] {
            s.members.insert(n.into(), Member { name: n.into(), role: r, recipient: "age1x".into(), signing_key: "ssh-ed25519 A".into() });
        }
        s.scopes.insert("acme".into(), ["bob".to_string()].into());
        for (k, o) in [("ka", "acme"), ("kg", "globex")] {
            s.keys.insert(
                k.into(),
                KeyMeta {
                    name: k.into(),
                    owner: o.into(),
                    instance: None,
                    kind: "api".into(),
                    hint: "h".into(),
                    fingerprint: "f".into(),
                    length: 1,
                    status: "active".into(),
                    workspace_id: None,
                    anthropic_key_id: None,
                    expires_at: None,
                    created_at: Default::default(),
                    exposed: None,
                },
            );
        }
        s
    }

    fn commit(sig: Signature, changed: &[&str]) -> CommitFacts {
        CommitFacts { id: "0123456789abcdef".into(), author: "bob".into(), parents: 1, signature: sig, changed: changed.iter().map(|s| s.to_string()).collect() }
    }

    fn good(s: &str) -> Signature {
        Signature::Good { signer: s.into() }
    }

    #[test]
    fn a_scoped_member_may_change_their_owners_keys_and_nothing_else() {
        let s = state();
        assert_eq!(judge(&commit(good("bob"), &["keys/ka.txt", "secrets/ka.age"]), &s, &s), Ok("bob".into()));
        let r = judge(&commit(good("bob"), &["secrets/kg.age"]), &s, &s).unwrap_err();
        assert_eq!((r.who.as_str(), r.path.as_str(), r.commit.as_str()), ("bob", "secrets/kg.age", "0123456789ab"));
        assert!(r.what.contains("globex"), "{r:?}");
        let r = judge(&commit(good("bob"), &["scopes/globex.txt"]), &s, &s).unwrap_err();
        assert!(r.what.contains("admin"), "{r:?}");
        let r = judge(&commit(good("bob"), &["members/bob.txt"]), &s, &s).unwrap_err();
        assert_eq!(r.path, "members/bob.txt");
        assert_eq!(judge(&commit(good("alice"), &["scopes/globex.txt", "secrets/kg.age", "members/carol.txt"]), &s, &s), Ok("alice".into()));
    }

    #[test]
    fn moving_a_key_to_an_owner_out_of_scope_is_refused() {
        let s = state();
        let mut after = s.clone();
        after.keys.get_mut("ka").unwrap().owner = "globex".into();
        let r = judge(&commit(good("bob"), &["keys/ka.txt"]), &s, &after).unwrap_err();
        assert!(r.what.contains("globex"), "{r:?}");
    }

    #[test]
    fn unsigned_forged_merged_and_stray_commits_are_refused() {
        let s = state();
        let r = judge(&commit(Signature::Missing, &["keys/ka.txt"]), &s, &s).unwrap_err();
        assert!(r.what.contains("not signed") && r.who.contains("bob"), "{r:?}");
        let r = judge(&commit(Signature::Untrusted { status: 'U', key: "SHA256:x".into() }, &["keys/ka.txt"]), &s, &s).unwrap_err();
        assert!(r.what.contains("SHA256:x"), "{r:?}");
        // A signer the allowed-signers file knew but the state before does not (forged member).
        let r = judge(&commit(good("mallory"), &["members/mallory.txt"]), &s, &s).unwrap_err();
        assert_eq!(r.who, "mallory");
        let mut m = commit(good("alice"), &[]);
        m.parents = 2;
        assert!(judge(&m, &s, &s).unwrap_err().what.contains("merge"));
        let r = judge(&commit(good("alice"), &["hooks/post-checkout"]), &s, &s).unwrap_err();
        assert_eq!(r.path, "hooks/post-checkout");
        let r = judge(&commit(good("alice"), &["secrets/orphan.age"]), &s, &s).unwrap_err();
        assert!(r.what.contains("without"), "{r:?}");
    }

    fn line(action: &str) -> String {
        crate::team::layout::AuditLine { at: "2026-12-06T01:02:03Z".parse().unwrap(), action: action.into(), subject: "acme".into(), detail: serde_json::Value::Null }.to_line()
    }

    /// A format-2 team where bob's stream holds one line.
    fn streamed() -> TeamState {
        let mut s = state();
        s.format = 2;
        s.audit.insert("bob".into(), line("team.share").into());
        s
    }

    fn with_stream(s: &TeamState, member: &str, text: &str) -> TeamState {
        let mut after = s.clone();
        after.audit.insert(member.into(), text.into());
        after
    }

    #[test]
    fn every_change_appends_to_its_signers_own_stream_at_the_end_only() {
        let s = streamed();
        let appended = format!("{}{}", line("team.share"), line("team.merge"));
        let after = with_stream(&s, "bob", &appended);
        assert_eq!(judge(&commit(good("bob"), &["keys/ka.txt", "audit/bob.jsonl"]), &s, &after), Ok("bob".into()));
        // Without a line of its own: refused, naming the stream.
        let r = judge(&commit(good("bob"), &["keys/ka.txt"]), &s, &s).unwrap_err();
        assert_eq!(r.path, "audit/bob.jsonl");
        assert!(r.what.contains("no line"), "{r:?}");
        // The stream touched but not grown (a line's bytes changed, same length) is a rewrite.
        let rewritten = line("team.shar_");
        let r = judge(&commit(good("bob"), &["keys/ka.txt", "audit/bob.jsonl"]), &s, &with_stream(&s, "bob", &format!("{rewritten}{}", line("x")))).unwrap_err();
        assert!(r.what.contains("rewritten at line 1"), "{r:?}");
        // A line taken away, then one added: still a rewrite.
        let r = judge(&commit(good("bob"), &["audit/bob.jsonl"]), &s, &with_stream(&s, "bob", &line("team.merge"))).unwrap_err();
        assert!(r.what.contains("append-only"), "{r:?}");
        // Deleted.
        let mut gone = s.clone();
        gone.audit.remove("bob");
        let r = judge(&commit(good("bob"), &["audit/bob.jsonl"]), &s, &gone).unwrap_err();
        assert!(r.what.contains("never deleted"), "{r:?}");
        // Someone else's stream, even by an admin.
        let r = judge(&commit(good("alice"), &["audit/bob.jsonl", "audit/alice.jsonl"]), &s, &with_stream(&with_stream(&s, "bob", &appended), "alice", &line("x"))).unwrap_err();
        assert_eq!((r.who.as_str(), r.path.as_str()), ("alice", "audit/bob.jsonl"));
        // A half line, or one that is not an audit line.
        for bad in [format!("{}{{\"at\":", line("team.share")), format!("{}not json\n", line("team.share"))] {
            let r = judge(&commit(good("bob"), &["audit/bob.jsonl"]), &s, &with_stream(&s, "bob", &bad)).unwrap_err();
            assert!(r.what.contains("bad audit line") && r.what.contains("audit/bob.jsonl, line 2"), "{r:?}");
        }
        // A format-1 store has no streams to keep: changes without a line pass.
        assert_eq!(judge(&commit(good("bob"), &["keys/ka.txt"]), &state(), &state()), Ok("bob".into()));
    }

    #[test]
    fn the_format_only_goes_forward_and_the_root_writes_its_stream_from_nothing() {
        let s = streamed();
        let mut back = with_stream(&s, "alice", &line("team.format"));
        back.format = 1;
        let r = judge(&commit(good("alice"), &["team.txt", "audit/alice.jsonl"]), &s, &back).unwrap_err();
        assert!(r.what.contains("cannot go back"), "{r:?}");
        // The root commit: its own state on both sides, its stream counted from nothing.
        let mut root = with_stream(&s, "alice", &line("team.init"));
        root.audit.remove("bob");
        let mut c = commit(good("alice"), &["team.txt", "members/alice.txt", "members/bob.txt", "audit/alice.jsonl"]);
        c.parents = 0;
        assert_eq!(judge(&c, &root, &root), Ok("alice".into()));
        c.changed.pop();
        assert!(judge(&c, &root, &root).unwrap_err().what.contains("no line"));
    }
}
