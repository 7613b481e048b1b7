//! The judgement over one incoming commit, pure: is it signed by a member of the team as it
//! stood *before* the commit (its parent's tree; the root commit's own tree for the first one),
//! and does that member have rights over every path it touches, under the owners both before
//! and after the change? Anything else is a [`Refusal`] naming who, what and where.

use std::collections::BTreeSet;

use super::layout::{classify, PathKind, TeamState};

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
}
