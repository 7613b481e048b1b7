//! The team repository's layout and its text codec, pure.
//!
//! ```text
//! team.txt                 format = 2
//! members/<name>.txt       name, role (admin|member), recipient (age1…), signing_key (ssh-… public key)
//! scopes/<owner>.txt       owner, members = ["bob", …]: who may read and change that owner's keys
//! instances/<name>.txt     the instance's fields (no host key pin: each member trusts hosts)
//! keys/<name>.txt          owner, instance, hint, fingerprint, length, status, exposed, …
//! secrets/<name>.age       the key's value, age (armored), to admins + the owner's scope
//! audit/<member>.jsonl     that member's audit stream: one JSON object per line, append-only
//! ```
//!
//! Every `.txt` file is one field per line, `name = <compact JSON value>`, sorted by name, after
//! a `#` comment line: a change to one field is a one-line diff that `git log -p` explains, and
//! two members' edits of different fields merge line by line ([`super::merge`]).
//!
//! An audit stream ([`AuditLine`]) is written only by its own member's signed commits, and only
//! at its end: from format 2 on, every commit adds at least one line to its signer's stream
//! ([`super::verify`] refuses anything else). Each member writes their own file, so two members'
//! lines never conflict in a rebase.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::domain::InstanceSpec;

/// The store's format: 2 adds the per-member audit streams (every commit appends to its
/// signer's). A format-1 store is still read and verified (without the stream's rule).
pub const FORMAT: u32 = 2;
/// The first format whose commits must each append to their signer's audit stream.
pub const AUDIT_FORMAT: u32 = 2;
pub const TEAM_FILE: &str = "team.txt";

/// One file's fields, by name, as JSON values.
pub type Doc = BTreeMap<String, serde_json::Value>;

/// What a member may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every secret, manages members and scopes.
    Admin,
    /// Reads and changes the owners of their scopes only.
    Member,
}

/// `members/<name>.txt`: public material only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub name: String,
    pub role: Role,
    /// The member's age X25519 recipient (`age1…`); the identity stays in their keychain.
    pub recipient: String,
    /// The SSH public key their commits are signed with (`ssh-ed25519 AAAA…`).
    pub signing_key: String,
}

/// `scopes/<owner>.txt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub owner: String,
    pub members: BTreeSet<String>,
}

/// A key a leaver could decrypt: rotate it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// Who could read it.
    pub member: String,
    pub at: DateTime<Utc>,
}

/// `keys/<name>.txt`: the key's public facts (hint, fingerprint: never the value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyMeta {
    pub name: String,
    pub owner: String,
    pub instance: Option<String>,
    pub kind: String,
    pub hint: String,
    pub fingerprint: String,
    pub length: u32,
    pub status: String,
    #[serde(default)]
    pub workspace_id: Option<String>,
    #[serde(default)]
    pub anthropic_key_id: Option<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Set when a member who could decrypt it left: "exposed: rotate".
    #[serde(default)]
    pub exposed: Option<Exposure>,
}

/// One line of `audit/<member>.jsonl`: what the member did, in their own words (names and
/// counts, never a key value). The member is the file's, proven by the commit's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditLine {
    pub at: DateTime<Utc>,
    /// `team.invite`, `team.grant`, `team.share`, …
    pub action: String,
    /// Who it was done to (a member; empty when the detail lists what).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub detail: serde_json::Value,
}

impl AuditLine {
    /// The line as written to the stream (one compact JSON object, newline-terminated).
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// The line in words, for people: "gave bob access to acme (2 secrets encrypted again)".
    /// Only the fields Clawkeep writes are read; an action it does not know is shown as written.
    pub fn summary(&self) -> String {
        let d = &self.detail;
        let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
        let n = |k: &str| d.get(k).and_then(|v| v.as_u64().or_else(|| v.as_array().map(|a| a.len() as u64))).unwrap_or(0);
        let plural = |n: u64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
        let exposed = match n("exposed") {
            0 => String::new(),
            k => format!("; {} exposed, to rotate", plural(k, "key")),
        };
        match self.action.as_str() {
            "team.init" => "created the team store as its first admin".into(),
            "team.invite" => format!("invited {} as {} {}", self.subject, if text("role") == "admin" { "an" } else { "a" }, text("role")),
            "team.grant" => format!("gave {} access to {} ({} encrypted again)", self.subject, text("owner"), plural(n("reencrypted"), "secret")),
            "team.revoke" => format!("took {} from {}{exposed}", text("owner"), self.subject),
            "team.remove" => format!("removed {} from the team{exposed}", self.subject),
            "team.share" => format!("shared {} and {}", plural(n("instances"), "instance"), plural(n("keys"), "key")),
            other if self.subject.is_empty() => other.to_string(),
            other => format!("{other} {}", self.subject),
        }
    }
}

/// The lines of an audit stream's text (an error names `path` and the line, counted from
/// `first_line`). Every line is a complete [`AuditLine`] ending in a newline.
pub fn parse_audit(path: &str, text: &str, first_line: usize) -> Result<Vec<AuditLine>> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(layout_err(path, first_line + text.lines().count().saturating_sub(1), "the last line is not complete (no newline)"));
    }
    text.lines().enumerate().map(|(n, l)| serde_json::from_str::<AuditLine>(l).map_err(|e| layout_err(path, first_line + n, format!("not an audit line ({e})")))).collect()
}

/// What a path of the repository is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathKind {
    Team,
    Member(String),
    Scope(String),
    Instance(String),
    Key(String),
    Secret(String),
    /// `audit/<member>.jsonl`.
    Audit(String),
    /// Not part of the layout (refused in a change).
    Other,
}

pub fn member_path(name: &str) -> String {
    format!("members/{name}.txt")
}
pub fn scope_path(owner: &str) -> String {
    format!("scopes/{owner}.txt")
}
pub fn instance_path(name: &str) -> String {
    format!("instances/{name}.txt")
}
pub fn key_path(name: &str) -> String {
    format!("keys/{name}.txt")
}
pub fn secret_path(name: &str) -> String {
    format!("secrets/{name}.age")
}
pub fn audit_path(member: &str) -> String {
    format!("audit/{member}.jsonl")
}

/// The layout's text files (read as text; `.age` files are only known to exist).
pub fn is_text(path: &str) -> bool {
    path.ends_with(".txt") || path.ends_with(".jsonl")
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') && !s.starts_with('-') && !s.ends_with('-')
}

/// Which file `path` is (`dir/<slug>.ext` only: no nesting, no `..`).
pub fn classify(path: &str) -> PathKind {
    if path == TEAM_FILE {
        return PathKind::Team;
    }
    let Some((dir, file)) = path.split_once('/') else { return PathKind::Other };
    let stem = |ext: &str| file.strip_suffix(ext).filter(|s| slug_ok(s)).map(str::to_string);
    match dir {
        "members" => stem(".txt").map(PathKind::Member),
        "scopes" => stem(".txt").map(PathKind::Scope),
        "instances" => stem(".txt").map(PathKind::Instance),
        "keys" => stem(".txt").map(PathKind::Key),
        "secrets" => stem(".age").map(PathKind::Secret),
        "audit" => stem(".jsonl").map(PathKind::Audit),
        _ => None,
    }
    .unwrap_or(PathKind::Other)
}

/// `value` is a name that can be a file of the layout (members, owners, instances, keys).
pub fn check_name(field: &'static str, value: &str) -> Result<()> {
    if slug_ok(value) && !value.contains("--") {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("'{value}' cannot be used in a team store: use lower-case letters, digits and single hyphens")))
    }
}

/// The file text of `value` (a struct serialising to an object): a comment line, then one
/// `name = <json>` line per field, sorted; `null` fields are left out.
pub fn encode<T: Serialize>(what: &str, value: &T) -> String {
    let v = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    let doc: Doc = match v {
        serde_json::Value::Object(m) => m.into_iter().filter(|(_, v)| !v.is_null()).collect(),
        _ => Doc::new(),
    };
    encode_doc(what, &doc)
}

pub fn encode_doc(what: &str, doc: &Doc) -> String {
    let mut out = format!("# clawkeep team {what}\n");
    for (k, v) in doc {
        out.push_str(k);
        out.push_str(" = ");
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

fn layout_err(path: &str, line: usize, message: impl Into<String>) -> Error {
    Error::TeamLayout { path: path.into(), line, message: message.into() }
}

/// The fields of a file; `path` and the line number name a bad line.
pub fn decode_doc(path: &str, text: &str) -> Result<Doc> {
    let mut doc = Doc::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once(" = ").ok_or_else(|| layout_err(path, n + 1, "expected `name = value`"))?;
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
            return Err(layout_err(path, n + 1, "a field name is lower-case letters, digits and _"));
        }
        let value: serde_json::Value = serde_json::from_str(v).map_err(|e| layout_err(path, n + 1, format!("the value is not JSON (column {})", e.column())))?;
        if doc.insert(k.to_string(), value).is_some() {
            return Err(layout_err(path, n + 1, format!("field '{k}' appears twice")));
        }
    }
    Ok(doc)
}

/// A typed file.
pub fn decode<T: DeserializeOwned>(path: &str, text: &str) -> Result<T> {
    let doc = decode_doc(path, text)?;
    serde_json::from_value(serde_json::Value::Object(doc.into_iter().collect())).map_err(|e| layout_err(path, 0, e.to_string()))
}

/// The team as the repository's files say (one commit's tree).
#[derive(Debug, Clone, Default)]
pub struct TeamState {
    pub members: BTreeMap<String, Member>,
    /// Owner → the members who may read its keys (admins always may).
    pub scopes: BTreeMap<String, BTreeSet<String>>,
    pub instances: BTreeMap<String, InstanceSpec>,
    pub keys: BTreeMap<String, KeyMeta>,
    /// The key names that have a secret file.
    pub secrets: BTreeSet<String>,
    /// `team.txt`'s format (0 without the file).
    pub format: u32,
    /// Member → their audit stream's text (shared: a state is cloned once per verified commit).
    pub audit: BTreeMap<String, std::sync::Arc<str>>,
}

impl TeamState {
    /// Reads the state from `path → text` (the `.txt` files; `.age` paths may be given with any
    /// text). A file whose name and content disagree is refused.
    pub fn from_files<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<TeamState> {
        let mut s = TeamState::default();
        for (path, text) in files {
            s.apply(path, Some(text))?;
        }
        Ok(s)
    }

    /// One file of the tree changed: `Some(text)` its new content (any text for a `.age`
    /// path), `None` deleted. A state read with [`TeamState::from_files`] and then given every
    /// path a commit changes is the state read from that commit's whole tree (each file adds
    /// its own entry and nothing else), without reading the thousands of files it left alone.
    pub fn apply(&mut self, path: &str, text: Option<&str>) -> Result<()> {
        let named = |got: &str, want: &str| if got == want { Ok(()) } else { Err(layout_err(path, 0, format!("the file names '{want}' but holds '{got}'"))) };
        match (classify(path), text) {
            (PathKind::Other, _) => {}
            (PathKind::Team, None) => self.format = 0,
            (PathKind::Team, Some(text)) => {
                let doc = decode_doc(path, text)?;
                let format = doc.get("format").and_then(|v| v.as_u64()).ok_or_else(|| layout_err(path, 0, "no `format = N` line"))?;
                self.format = u32::try_from(format).map_err(|_| layout_err(path, 0, "the format is out of range"))?;
            }
            (PathKind::Audit(m), None) => {
                self.audit.remove(&m);
            }
            (PathKind::Audit(m), Some(text)) => {
                self.audit.insert(m, text.into());
            }
            (PathKind::Member(n), None) => {
                self.members.remove(&n);
            }
            (PathKind::Member(n), Some(text)) => {
                let m: Member = decode(path, text)?;
                named(&m.name, &n)?;
                self.members.insert(n, m);
            }
            (PathKind::Scope(o), None) => {
                self.scopes.remove(&o);
            }
            (PathKind::Scope(o), Some(text)) => {
                let sc: Scope = decode(path, text)?;
                named(&sc.owner, &o)?;
                self.scopes.insert(o, sc.members);
            }
            (PathKind::Instance(n), None) => {
                self.instances.remove(&n);
            }
            (PathKind::Instance(n), Some(text)) => {
                let i: InstanceSpec = decode(path, text)?;
                named(&i.name, &n)?;
                self.instances.insert(n, i);
            }
            (PathKind::Key(n), None) => {
                self.keys.remove(&n);
            }
            (PathKind::Key(n), Some(text)) => {
                let k: KeyMeta = decode(path, text)?;
                named(&k.name, &n)?;
                self.keys.insert(n, k);
            }
            (PathKind::Secret(n), None) => {
                self.secrets.remove(&n);
            }
            (PathKind::Secret(n), Some(_)) => {
                self.secrets.insert(n);
            }
        }
        Ok(())
    }

    pub fn is_admin(&self, member: &str) -> bool {
        self.members.get(member).is_some_and(|m| m.role == Role::Admin)
    }

    /// May `member` read and change `owner`'s instances and keys?
    pub fn may_access(&self, member: &str, owner: &str) -> bool {
        self.members.contains_key(member) && (self.is_admin(member) || self.scopes.get(owner).is_some_and(|s| s.contains(member)))
    }

    /// Exactly who a secret of `owner` is encrypted to: the admins and the members of the
    /// owner's scope (a scope naming someone who is no member adds nobody).
    pub fn recipients(&self, owner: &str) -> Vec<&Member> {
        self.members.values().filter(|m| self.may_access(&m.name, owner)).collect()
    }

    /// The keys `member` can decrypt, by name.
    pub fn readable_keys(&self, member: &str) -> Vec<&KeyMeta> {
        self.keys.values().filter(|k| self.may_access(member, &k.owner)).collect()
    }

    /// The owners a path belongs to in this state (an instance's or key's owner; a secret's is
    /// its key's).
    pub fn owner_of(&self, kind: &PathKind) -> Option<&str> {
        match kind {
            PathKind::Instance(n) => self.instances.get(n).map(|i| i.owner.as_str()),
            PathKind::Key(n) | PathKind::Secret(n) => self.keys.get(n).map(|k| k.owner.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, role: Role) -> Member {
        Member { name: name.into(), role, recipient: format!("age1{name}"), signing_key: format!("ssh-ed25519 AAAA{name}") }
    }

    fn key(name: &str, owner: &str) -> KeyMeta {
        KeyMeta {
            name: name.into(),
            owner: owner.into(),
            instance: Some(format!("{owner}-prod")),
            kind: "api".into(),
            hint: "sk-ant-api03-abc...xyAA".into(),
            fingerprint: "ab".repeat(32),
            length: 108,
            status: "active".into(),
            workspace_id: None,
            anthropic_key_id: None,
            expires_at: None,
            created_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            exposed: None,
        }
    }

    #[test]
    fn files_round_trip_one_field_per_line_sorted() {
        let k = key("openclaw-acme-prod", "acme");
        let text = encode("key", &k);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "# clawkeep team key");
        assert!(lines.contains(&"owner = \"acme\""), "{text}");
        assert!(!text.contains("null"), "absent fields are left out: {text}");
        let names: Vec<&str> = lines[1..].iter().map(|l| l.split(" = ").next().unwrap()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(decode::<KeyMeta>("keys/openclaw-acme-prod.txt", &text).unwrap(), k);
        // A note with a newline stays one line.
        let spec = InstanceSpec { name: "acme-prod".into(), owner: "acme".into(), notes: "two\nlines = x".into(), ..Default::default() };
        let text = encode("instance", &spec);
        assert_eq!(text.lines().filter(|l| l.starts_with("notes")).count(), 1);
        assert_eq!(decode::<InstanceSpec>("instances/acme-prod.txt", &text).unwrap().notes, "two\nlines = x");
    }

    #[test]
    fn bad_lines_are_named_by_path_and_line() {
        for (text, line) in [("# c\nowner = \"a\"\nbroken\n", 3), ("owner = nope\n", 1), ("owner = \"a\"\nowner = \"b\"\n", 2), ("Owner = \"a\"\n", 1)] {
            match decode_doc("keys/k.txt", text) {
                Err(Error::TeamLayout { path, line: l, .. }) => assert_eq!((path.as_str(), l), ("keys/k.txt", line), "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn paths_are_classified_strictly() {
        assert_eq!(classify("members/bob.txt"), PathKind::Member("bob".into()));
        assert_eq!(classify("secrets/openclaw-acme-prod.age"), PathKind::Secret("openclaw-acme-prod".into()));
        assert_eq!(classify("team.txt"), PathKind::Team);
        assert_eq!(classify("audit/bob.jsonl"), PathKind::Audit("bob".into()));
        for p in [
            "audit/bob.txt",
            "audit/../bob.jsonl",
            "audit/x/bob.jsonl",
            "secrets/../members/x.age",
            "members/Bob.txt",
            "keys/a/b.txt",
            "keys/k.age",
            "README.md",
            "hooks/x.txt",
            "members/.txt",
        ] {
            assert_eq!(classify(p), PathKind::Other, "{p}");
        }
    }

    #[test]
    fn a_secret_goes_to_admins_and_the_owners_scope_exactly() {
        let mut s = TeamState::default();
        for m in [member("alice", Role::Admin), member("bob", Role::Member), member("carol", Role::Member)] {
            s.members.insert(m.name.clone(), m);
        }
        s.scopes.insert("acme".into(), ["bob".to_string(), "ghost".to_string()].into());
        s.keys.insert("k1".into(), key("k1", "acme"));
        s.keys.insert("k2".into(), key("k2", "globex"));
        let names = |o: &str| s.recipients(o).iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        assert_eq!(names("acme"), ["alice", "bob"], "a scope naming a non-member adds nobody");
        assert_eq!(names("globex"), ["alice"]);
        assert!(s.may_access("bob", "acme") && !s.may_access("bob", "globex") && !s.may_access("carol", "acme"));
        assert!(!s.may_access("ghost", "acme"));
        assert_eq!(s.readable_keys("bob").iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["k1"]);
        assert_eq!(s.readable_keys("alice").len(), 2);
        assert!(s.readable_keys("carol").is_empty());
    }

    #[test]
    fn audit_lines_round_trip_and_a_bad_one_is_named_by_line() {
        let l = AuditLine { at: "2026-12-06T01:02:03Z".parse().unwrap(), action: "team.grant".into(), subject: "bob".into(), detail: serde_json::json!({ "owner": "acme" }) };
        let text = format!("{}{}", l.to_line(), AuditLine { subject: String::new(), detail: serde_json::Value::Null, ..l.clone() }.to_line());
        assert_eq!(text.lines().count(), 2);
        assert!(!text.lines().nth(1).unwrap().contains("subject") && !text.contains("null"), "{text}");
        let back = parse_audit("audit/alice.jsonl", &text, 1).unwrap();
        assert_eq!(back[0], l);
        assert_eq!(back[1].subject, "");
        for (bad, line) in [(format!("{text}{{}}\n"), 3), (format!("{text}{{\"at\""), 3)] {
            match parse_audit("audit/alice.jsonl", &bad, 1) {
                Err(Error::TeamLayout { line: l, .. }) => assert_eq!(l, line, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(back[0].summary(), "gave bob access to acme (0 secrets encrypted again)");
        let remove = AuditLine { action: "team.remove".into(), detail: serde_json::json!({ "exposed": ["k1", "k2"] }), ..l.clone() };
        assert_eq!(remove.summary(), "removed bob from the team; 2 keys exposed, to rotate");
        assert_eq!(AuditLine { action: "custom.thing".into(), ..l.clone() }.summary(), "custom.thing bob");
        let s = TeamState::from_files([("audit/alice.jsonl", text.as_str()), ("team.txt", "format = 2\n")]).unwrap();
        assert_eq!((s.format, &*s.audit["alice"]), (2, text.as_str()));
        assert_eq!(TeamState::from_files([("team.txt", "# no format\n")]).unwrap_err().code(), "team_layout");
    }

    #[test]
    fn state_is_read_from_files_and_a_misnamed_file_is_refused() {
        let m = encode("member", &member("bob", Role::Member));
        let sc = encode("scope", &Scope { owner: "acme".into(), members: ["bob".to_string()].into() });
        let s = TeamState::from_files([("members/bob.txt", m.as_str()), ("scopes/acme.txt", sc.as_str()), ("secrets/k.age", "")]).unwrap();
        assert!(s.may_access("bob", "acme"));
        assert!(s.secrets.contains("k"));
        let err = TeamState::from_files([("members/mallory.txt", m.as_str())]).unwrap_err();
        assert_eq!(err.code(), "team_layout");
    }
}
