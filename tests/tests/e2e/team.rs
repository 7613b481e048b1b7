//! The team vault end to end (issue 15): the real `clawkeep` for two members, each with their
//! own data dir and keychain service in the same private Secret Service, the real `git` with a
//! bare repository as the team's remote (a local path: the flows only ever call the user's
//! `git`, so an SSH remote differs in transport only), real SSH signing keys made by
//! `ssh-keygen` at run time, and the stock `age` CLI reading a secret with a member's identity.
//! Cases: invite + grant with a member who lacks a scope unable to decrypt (and never shown that
//! owner); a tampered secret, a forged member and an unsigned commit refused with who/what/where
//! and nothing of them imported; offboarding marking exactly the keys the leaver could read; and
//! the leak scan over the repository's whole history and both data dirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clawkeep_tests::cli::{contains, fake_key, Ck, Out};
use serde_json::Value;

fn sh(cmd: &mut Command) -> std::process::Output {
    let o = cmd.output().expect("spawn");
    assert!(o.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// `git -C dir ARGS` (the test's own git use: a teammate going around Clawkeep).
fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    sh(Command::new("git").arg("-C").arg(dir).args(args).env("GIT_TERMINAL_PROMPT", "0"))
}

struct Member {
    ck: Ck,
    name: &'static str,
    key: PathBuf,
}

impl Member {
    fn new(dir: &Path, name: &'static str) -> Member {
        let key = dir.join(format!("{name}_signing"));
        sh(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"]).arg(&key));
        Member { ck: Ck::new(), name, key }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.ck.run(args)
    }

    /// `team join`; returns (recipient, signing key line).
    fn join(&self) -> (String, String) {
        let j = self.run(&["--json", "team", "join", "--name", self.name, "--signing-key", &self.key.to_string_lossy()]).ok().json();
        (j["recipient"].as_str().unwrap().to_string(), j["signing_key"].as_str().unwrap().to_string())
    }

    fn clone_dir(&self) -> PathBuf {
        self.ck.data().join("team/repo")
    }

    fn names(&self, what: &str) -> Vec<String> {
        let v = self.run(&["--json", what, "list"]).ok().json();
        let mut n: Vec<String> = v.as_array().unwrap().iter().map(|r| if what == "instance" { &r["instance"]["name"] } else { &r["name"] }.as_str().unwrap().to_string()).collect();
        n.sort();
        n
    }

    fn identity(&self) -> Vec<u8> {
        let o = self.run(&["team", "identity"]).ok();
        o.stdout.into_bytes()
    }
}

/// The stock `age -d -i -` with `identity` on stdin: the plaintext, or `None` when it fails.
fn age_decrypt(identity: &[u8], file: &Path) -> Option<String> {
    let mut c =
        Command::new("age").arg("-d").arg("-i").arg("-").arg(file).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("age (Debian package age)");
    use std::io::Write;
    c.stdin.take().unwrap().write_all(identity).unwrap();
    let o = c.wait_with_output().unwrap();
    o.status.success().then(|| String::from_utf8(o.stdout).unwrap())
}

/// Alice (first admin) with instances and keys of two owners shared in the store; Bob joined and
/// invited, granted `acme` only, attached.
struct Rig {
    dir: tempfile::TempDir,
    remote: PathBuf,
    alice: Member,
    bob: Member,
    /// key name → value (fake, made at run time).
    keys: Vec<(String, String)>,
}

const ACME_KEYS: [(&str, &str); 2] = [("acme-prod", "openclaw-acme-prod-key"), ("acme-dev", "openclaw-acme-dev-key")];
const GLOBEX_KEY: (&str, &str) = ("globex-prod", "openclaw-globex-prod-key");

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("team.git");
        sh(Command::new("git").args(["init", "--quiet", "--bare", "--initial-branch=main"]).arg(&remote));
        let alice = Member::new(dir.path(), "alice");
        let bob = Member::new(dir.path(), "bob");
        alice.join();
        let init = alice.run(&["--json", "team", "init", &remote.to_string_lossy()]).ok().json();
        assert_eq!(init["created"], true);
        let mut keys = Vec::new();
        for ((inst, key), owner) in ACME_KEYS.iter().zip(["acme", "acme"]).chain([(&GLOBEX_KEY, "globex")]) {
            let env = if inst.ends_with("dev") { "dev" } else { "prod" };
            alice.run(&["instance", "add", inst, "--host", "127.0.0.1", "--user", "oc", "--owner", owner, "--env", env, "--restart-cmd", "true"]).ok();
            let v = fake_key();
            alice.ck.add_key(inst, key, &v).ok();
            keys.push((key.to_string(), v));
        }
        let s = alice.run(&["--json", "team", "sync"]).ok().json();
        assert_eq!(s["shared_keys"].as_array().unwrap().len(), 3, "{s}");
        assert_eq!(s["pushed"], true);
        let (recipient, signing) = bob.join();
        alice.run(&["team", "invite", "bob", "--recipient", &recipient, "--signing-key", &signing]).ok();
        let g = alice.run(&["--json", "team", "grant", "bob", "acme"]).ok().json();
        let mut re: Vec<&str> = g["reencrypted"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        re.sort();
        assert_eq!(re, [ACME_KEYS[1].1, ACME_KEYS[0].1], "the owner's secrets, re-encrypted for bob");
        Rig { dir, remote, alice, bob, keys }
    }

    fn attach_bob(&self) -> Value {
        self.bob.run(&["--json", "team", "init", &self.remote.to_string_lossy()]).ok().json()
    }

    fn value(&self, key: &str) -> &str {
        &self.keys.iter().find(|(k, _)| k == key).unwrap().1
    }

    /// Bob, going around Clawkeep in his clone: `edit` changes files, then one commit (signed
    /// with his key unless `unsigned`) pushed with plain git.
    fn bob_pushes(&self, edit: impl FnOnce(&Path), unsigned: bool) {
        let d = self.bob.clone_dir();
        edit(&d);
        git(&d, &["add", "-A"]);
        let mut args = vec!["-c", if unsigned { "commit.gpgsign=false" } else { "commit.gpgsign=true" }, "commit", "--quiet", "-m", "a change"];
        if unsigned {
            args.push("--no-gpg-sign");
        }
        git(&d, &args);
        git(&d, &["push", "--quiet", "origin", "HEAD:refs/heads/main"]);
    }
}

#[test]
fn invite_and_grant_give_exactly_the_scope_and_stock_age_reads_it() {
    let r = Rig::new();
    let attached = r.attach_bob();
    assert_eq!(attached["created"], false);
    assert_eq!(attached["admins"], serde_json::json!(["alice"]), "who the first commit vouches for is shown");
    let mut imported: Vec<String> = attached["sync"]["imported_keys"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    imported.sort();
    assert_eq!(imported, [ACME_KEYS[1].1, ACME_KEYS[0].1]);
    // Bob's views hold acme only: globex is in no view of his.
    assert_eq!(r.bob.names("instance"), ["acme-dev", "acme-prod"]);
    assert_eq!(r.bob.names("key"), [ACME_KEYS[1].1, ACME_KEYS[0].1]);
    let shown = r.bob.ck.transcript();
    assert!(!contains(&shown, b"globex"), "bob was shown the other client: {}", String::from_utf8_lossy(&shown));
    // The imported key is the same key (fingerprint) as Alice's.
    let fp = |m: &Member| m.run(&["--json", "key", "show", ACME_KEYS[0].1]).ok().json()["fingerprint"].clone();
    assert_eq!(fp(&r.bob), fp(&r.alice));

    // Interop: the stock age CLI with Bob's identity reads acme's secret, not globex's.
    let id = r.bob.identity();
    let clone = r.bob.clone_dir();
    assert_eq!(age_decrypt(&id, &clone.join(format!("secrets/{}.age", ACME_KEYS[0].1))).as_deref(), Some(r.value(ACME_KEYS[0].1)));
    assert_eq!(age_decrypt(&id, &clone.join(format!("secrets/{}.age", GLOBEX_KEY.1))), None, "bob has no scope over globex");
    assert_eq!(age_decrypt(&r.alice.identity(), &clone.join(format!("secrets/{}.age", GLOBEX_KEY.1))).as_deref(), Some(r.value(GLOBEX_KEY.1)));
    // The metadata is plain text a review explains; the identity never left the keychain.
    let meta = std::fs::read_to_string(clone.join(format!("keys/{}.txt", ACME_KEYS[0].1))).unwrap();
    assert!(meta.contains("owner = \"acme\""), "{meta}");
    for m in [&r.alice, &r.bob] {
        assert!(m.ck.data_files().iter().all(|(_, b)| !contains(b, b"AGE-SECRET-KEY-")), "an identity reached {}'s data dir", m.name);
    }
    // Every commit is signed by its member.
    let log = String::from_utf8(git(&r.remote, &["log", "--format=%G? %an %s", "main"]).stdout).unwrap_or_default();
    assert!(log.lines().count() >= 5 && log.lines().all(|l| !l.starts_with('N')), "every commit carries a signature:\n{log}");
    leak_scan(&r);
}

#[test]
fn a_tampered_secret_is_refused_with_who_what_where_and_nothing_is_imported() {
    let r = Rig::new();
    r.attach_bob();
    let before = r.alice.run(&["--json", "team", "status"]).ok().json()["verified_head"].clone();
    let target = format!("secrets/{}.age", GLOBEX_KEY.1);
    r.bob_pushes(
        |d| {
            // A new acme instance (within his rights) and globex's secret replaced (not).
            std::fs::write(d.join("instances/acme-new.txt"), "# clawkeep team instance\nname = \"acme-new\"\nowner = \"acme\"\nenvironment = \"prod\"\n").unwrap();
            std::fs::write(d.join(&target), "-----BEGIN AGE ENCRYPTED FILE-----\nforged\n-----END AGE ENCRYPTED FILE-----\n").unwrap();
        },
        false,
    );
    let o = r.alice.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("team_refused"), "{}", o.stderr);
    for part in ["bob", &target, "globex", "nothing of it was imported"] {
        assert!(o.stderr.contains(part), "the refusal names {part}: {}", o.stderr);
    }
    assert!(!r.alice.names("instance").contains(&"acme-new".to_string()), "nothing of the refused commit is imported");
    assert_eq!(r.alice.run(&["--json", "team", "status"]).ok().json()["verified_head"], before, "the verified head did not move");
    // Asked again, the same refusal: it stays refused until an admin repairs the history.
    assert_eq!(r.alice.run(&["--json", "team", "sync"]).fails().error_code().as_deref(), Some("team_refused"));
}

#[test]
fn an_unsigned_commit_and_a_forged_member_are_refused() {
    let r = Rig::new();
    r.attach_bob();
    r.bob_pushes(|d| std::fs::write(d.join("instances/acme-new.txt"), "name = \"acme-new\"\nowner = \"acme\"\n").unwrap(), true);
    let o = r.alice.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("team_refused"), "{}", o.stderr);
    assert!(o.stderr.contains("not signed") && o.stderr.contains("bob"), "{}", o.stderr);
    assert!(!r.alice.names("instance").contains(&"acme-new".to_string()));

    // A fresh store: a member (not an admin) writes a member file for someone else.
    let r = Rig::new();
    r.attach_bob();
    r.bob_pushes(
        |d| {
            let forged =
                "name = \"mallory\"\nrecipient = \"age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq\"\nrole = \"admin\"\nsigning_key = \"ssh-ed25519 AAAAforged\"\n";
            std::fs::write(d.join("members/mallory.txt"), forged).unwrap();
        },
        false,
    );
    let o = r.alice.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("team_refused"), "{}", o.stderr);
    assert!(o.stderr.contains("members/mallory.txt") && o.stderr.contains("admin"), "{}", o.stderr);
}

#[test]
fn remove_marks_exactly_the_keys_the_leaver_could_read_and_they_lead_the_plan() {
    let r = Rig::new();
    r.attach_bob();
    let old_secret = std::fs::read(r.alice.clone_dir().join(format!("secrets/{}.age", ACME_KEYS[0].1))).unwrap();
    let bob_id = r.bob.identity();
    let out = r.alice.run(&["--json", "team", "remove", "bob", "--yes"]).ok().json();
    let mut exposed: Vec<&str> = out["exposed_keys"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    exposed.sort();
    assert_eq!(exposed, [ACME_KEYS[1].1, ACME_KEYS[0].1], "exactly the keys bob could decrypt");
    // The new secret files are not for bob any more (the old ones in history were: hence exposed).
    let clone = r.alice.clone_dir();
    assert_eq!(age_decrypt(&bob_id, &clone.join(format!("secrets/{}.age", ACME_KEYS[0].1))), None);
    let old = r.dir.path().join("old.age");
    std::fs::write(&old, old_secret).unwrap();
    assert!(age_decrypt(&bob_id, &old).is_some(), "the history still holds a copy bob could read");
    let meta = std::fs::read_to_string(clone.join(format!("keys/{}.txt", ACME_KEYS[0].1))).unwrap();
    assert!(meta.contains("exposed = {") && meta.contains("\"member\":\"bob\""), "{meta}");
    assert!(!std::fs::read_to_string(clone.join(format!("keys/{}.txt", GLOBEX_KEY.1))).unwrap().contains("exposed"));

    // The rotation plan puts them first, due now.
    let plan = r.alice.run(&["--json", "rotate", "plan"]).ok().json();
    let items: Vec<&Value> = plan["owners"].as_array().unwrap().iter().flat_map(|o| o["items"].as_array().unwrap()).collect();
    let reasons: Vec<(&str, &str)> = items.iter().map(|i| (i["key_name"].as_str().unwrap(), i["due_reason"].as_str().unwrap())).collect();
    assert_eq!(reasons.iter().filter(|(_, why)| *why == "exposed").count(), 2, "{reasons:?}");
    assert!(reasons[..2].iter().all(|(_, why)| *why == "exposed"), "exposed keys lead: {reasons:?}");
    assert!(items[..2].iter().all(|i| i["status"] == "overdue"));
    assert_eq!(reasons[2], (GLOBEX_KEY.1, "max-age"));

    // Bob's next sync: he is no member any more, and nothing new reaches him.
    let o = r.bob.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("invalid_state"), "{}", o.stderr);
    leak_scan(&r);
}

/// No key value (nor any key-shaped string) in any object of the repository's history, in the
/// clones, in either data dir, or in anything either member was shown.
fn leak_scan(r: &Rig) {
    let history = git(&r.remote, &["log", "-p", "--all", "--format=%H %an %s%n%b"]).stdout;
    let objects = git(&r.remote, &["cat-file", "--batch-all-objects", "--batch"]).stdout;
    let mut places: Vec<(String, Vec<u8>)> = vec![("git log -p".into(), history), ("every object".into(), objects)];
    for m in [&r.alice, &r.bob] {
        places.extend(m.ck.data_files().into_iter().map(|(p, b)| (p.display().to_string(), b)));
        places.push((format!("{} transcript", m.name), m.ck.transcript()));
    }
    for (where_, bytes) in &places {
        for (name, v) in &r.keys {
            assert!(!contains(bytes, v.as_bytes()), "the value of {name} is in {where_}");
        }
        assert!(!key_shaped(bytes), "a key-shaped string is in {where_}");
    }
}

/// `sk-ant-` followed by 40 or more key-alphabet characters (a hint stops after 16).
fn key_shaped(b: &[u8]) -> bool {
    let pat = b"sk-ant-";
    b.windows(pat.len())
        .enumerate()
        .filter(|(_, w)| *w == pat)
        .any(|(i, _)| b[i + pat.len()..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'-' || **c == b'_').count() >= 40)
}
