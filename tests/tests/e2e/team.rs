//! The team vault end to end (issue 15): the real `clawkeep` for two and three members, each
//! with their own data dir and their own Secret Service (a private D-Bus session with its own
//! gnome-keyring, as on separate laptops), the real `git` with a
//! bare repository served over a real sshd test host (`h1:team.git` through the world's
//! ssh_config, host key pinned, given to the members' `git` as `GIT_SSH_COMMAND` — their own
//! configuration, as in real use), real SSH signing keys made by `ssh-keygen` at run time, and
//! the stock `age` CLI reading a secret with a member's identity.
//! Cases: invite + grant with a member who lacks a scope unable to decrypt (and never shown that
//! owner); a tampered secret, a forged member and an unsigned commit refused with who/what/where
//! and nothing of them imported; offboarding marking exactly the keys the leaver could read; a
//! push cut mid-transfer (nftables, from a pre-push hook) that the next sync completes with
//! nothing lost or duplicated; every change in its member's audit stream, and a rewritten line
//! of it refused; a solo inventory moved into a new store by `team init` and a member back to a
//! solo inventory by `team leave`; and the leak scan over the repository's whole history and both
//! data dirs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clawkeep_tests::cli::{contains, fake_key, Ck, Out};
use clawkeep_tests::secretservice::SecretService;
use clawkeep_tests::{World, WorldOptions};
use serde_json::Value;

fn sh(cmd: &mut Command) -> std::process::Output {
    let o = cmd.output().expect("spawn");
    assert!(o.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// `git -C dir ARGS` (the test's own git use: a teammate going around Clawkeep, or reading the
/// remote's objects in the host's home, owned by the host user).
fn git(dir: &Path, ssh: &str, args: &[&str]) -> std::process::Output {
    sh(Command::new("git").arg("-c").arg("safe.directory=*").arg("-C").arg(dir).args(args).env("GIT_TERMINAL_PROMPT", "0").env("GIT_SSH_COMMAND", ssh))
}

struct Member {
    ck: Ck,
    name: &'static str,
    key: PathBuf,
    /// This member's own keychain.
    ss: SecretService,
}

impl Member {
    fn new(dir: &Path, name: &'static str, ssh: &str) -> Member {
        let key = dir.join(format!("{name}_signing"));
        sh(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"]).arg(&key));
        let mut ck = Ck::new();
        ck.env.push(("GIT_SSH_COMMAND".into(), ssh.into()));
        let ss = SecretService::start();
        ck.env.extend(ss.env());
        Member { ck, name, key, ss }
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
    world: World,
    dir: tempfile::TempDir,
    /// `h1:team.git`, over sshd.
    remote: String,
    /// The bare repository on the host's disk (for the leak scan).
    remote_dir: PathBuf,
    /// The members' `GIT_SSH_COMMAND`.
    ssh: String,
    alice: Member,
    bob: Member,
    /// key name → value (fake, made at run time).
    keys: Vec<(String, String)>,
}

const ACME_KEYS: [(&str, &str); 2] = [("acme-prod", "openclaw-acme-prod-key"), ("acme-dev", "openclaw-acme-dev-key")];
const GLOBEX_KEY: (&str, &str) = ("globex-prod", "openclaw-globex-prod-key");

impl Rig {
    fn new() -> Option<Rig> {
        let world = World::start_or_skip(WorldOptions::hosts(1).without_gateway())?;
        let h = world.host(0);
        let o = h.ssh("git init --quiet --bare --initial-branch=main team.git").unwrap();
        assert_eq!(o.code, Some(0), "git on the test host: {}", String::from_utf8_lossy(&o.stderr));
        let remote = format!("{}:team.git", h.name());
        let remote_dir = h.home().join("team.git");
        // Keepalives end a cut connection within seconds instead of TCP's minutes.
        let ssh = format!("ssh -F {} -o ConnectTimeout=5 -o ServerAliveInterval=1 -o ServerAliveCountMax=3", world.ssh_config().display());
        let dir = tempfile::tempdir().unwrap();
        let alice = Member::new(dir.path(), "alice", &ssh);
        let bob = Member::new(dir.path(), "bob", &ssh);
        alice.join();
        let init = alice.run(&["--json", "team", "init", &remote]).ok().json();
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
        Some(Rig { world, dir, remote, remote_dir, ssh, alice, bob, keys })
    }

    fn attach_bob(&self) -> Value {
        self.bob.run(&["--json", "team", "init", &self.remote]).ok().json()
    }

    fn value(&self, key: &str) -> &str {
        &self.keys.iter().find(|(k, _)| k == key).unwrap().1
    }

    /// Bob, going around Clawkeep in his clone: `edit` changes files, then one commit (signed
    /// with his key unless `unsigned`) pushed with plain git.
    fn bob_pushes(&self, edit: impl FnOnce(&Path), unsigned: bool) {
        let d = self.bob.clone_dir();
        edit(&d);
        git(&d, &self.ssh, &["add", "-A"]);
        let mut args = vec!["-c", if unsigned { "commit.gpgsign=false" } else { "commit.gpgsign=true" }, "commit", "--quiet", "-m", "a change"];
        if unsigned {
            args.push("--no-gpg-sign");
        }
        git(&d, &self.ssh, &args);
        git(&d, &self.ssh, &["push", "--quiet", "origin", "HEAD:refs/heads/main"]);
    }
}

#[test]
fn invite_and_grant_give_exactly_the_scope_and_stock_age_reads_it() {
    let Some(r) = Rig::new() else { return };
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
    // The imported key is usable by every flow, read from the store on use: an offline bundle
    // (to Bob's own recipient) carries exactly Alice's key.
    let recipient = r.bob.run(&["--json", "team", "join", "--name", "bob", "--signing-key", &r.bob.key.to_string_lossy()]).ok().json()["recipient"].as_str().unwrap().to_string();
    let bundle = r.dir.path().join("acme-prod.bundle");
    r.bob.run(&["bundle", "export", "acme-prod", "--out", &bundle.to_string_lossy(), "--recipient", &recipient]).ok();
    let installer = age_decrypt(&id, &bundle).expect("bob opens his own bundle");
    assert!(installer.contains(r.value(ACME_KEYS[0].1)), "the bundle carries the team key");
    std::fs::remove_file(&bundle).unwrap();
    // The metadata is plain text a review explains; the identity never left the keychain.
    let meta = std::fs::read_to_string(clone.join(format!("keys/{}.txt", ACME_KEYS[0].1))).unwrap();
    assert!(meta.contains("owner = \"acme\""), "{meta}");
    for m in [&r.alice, &r.bob] {
        assert!(m.ck.data_files().iter().all(|(_, b)| !contains(b, b"AGE-SECRET-KEY-")), "an identity reached {}'s data dir", m.name);
    }
    // Each identity is in its member's own keychain only.
    assert!(r.bob.ss.items_of(&r.bob.ck.service) >= 1, "bob's identity is in his keychain");
    assert_eq!(r.alice.ss.items_of(&r.bob.ck.service), 0, "nothing of bob's is in alice's keychain");
    assert_eq!(r.bob.ss.items_of(&r.alice.ck.service), 0, "nothing of alice's is in bob's keychain");
    // Every commit is signed by its member: git's own verifier, with Alice's key as the only signer.
    let signers = r.dir.path().join("allowed_signers");
    let alice_pub = std::fs::read_to_string(r.alice.key.with_extension("pub")).unwrap();
    std::fs::write(&signers, format!("alice namespaces=\"git\" {alice_pub}")).unwrap();
    let cfg = format!("gpg.ssh.allowedSignersFile={}", signers.display());
    let log = String::from_utf8(git(&r.remote_dir, &r.ssh, &["-c", &cfg, "log", "--format=%G? %GS %s", "main"]).stdout).unwrap_or_default();
    assert!(log.lines().count() >= 4 && log.lines().all(|l| l.starts_with("G alice ")), "every commit carries alice's good signature:\n{log}");
    leak_scan(&r);
}

#[test]
fn a_tampered_secret_is_refused_with_who_what_where_and_nothing_is_imported() {
    let Some(r) = Rig::new() else { return };
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
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    r.bob_pushes(|d| std::fs::write(d.join("instances/acme-new.txt"), "name = \"acme-new\"\nowner = \"acme\"\n").unwrap(), true);
    let o = r.alice.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("team_refused"), "{}", o.stderr);
    assert!(o.stderr.contains("not signed") && o.stderr.contains("bob"), "{}", o.stderr);
    assert!(!r.alice.names("instance").contains(&"acme-new".to_string()));

    // A fresh store: a member (not an admin) writes a member file for someone else.
    let Some(r) = Rig::new() else { return };
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
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    // A third member, Carol, with globex only: the removal of Bob leaves her untouched.
    let carol = Member::new(r.dir.path(), "carol", &r.ssh);
    let (recipient, signing) = carol.join();
    r.alice.run(&["team", "invite", "carol", "--recipient", &recipient, "--signing-key", &signing]).ok();
    r.alice.run(&["team", "grant", "carol", "globex"]).ok();
    carol.run(&["team", "init", &r.remote]).ok();
    assert_eq!(carol.names("key"), [GLOBEX_KEY.1]);
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

    // Carol verifies Alice's removal commit and keeps exactly her key, still readable.
    let c = carol.run(&["--json", "team", "sync"]).ok().json();
    assert!(c["dropped"].as_array().unwrap().is_empty(), "{c}");
    assert_eq!(c["exposed_keys"].as_array().unwrap().len(), 0, "carol cannot even see acme's exposure: {c}");
    assert_eq!(age_decrypt(&carol.identity(), &carol.clone_dir().join(format!("secrets/{}.age", GLOBEX_KEY.1))).as_deref(), Some(r.value(GLOBEX_KEY.1)));
    // Bob's next sync: he is no member any more, and nothing new reaches him.
    let o = r.bob.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("invalid_state"), "{}", o.stderr);
    leak_scan(&r);
}

#[test]
fn a_push_cut_mid_transfer_is_completed_by_the_next_sync_with_nothing_lost_or_duplicated() {
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    let (inst, key) = ("acme-new", "openclaw-acme-new-key");
    r.alice.run(&["instance", "add", inst, "--host", "127.0.0.1", "--user", "oc", "--owner", "acme", "--env", "prod", "--restart-cmd", "true"]).ok();
    let value = fake_key();
    r.alice.ck.add_key(inst, key, &value).ok();
    // The cut lands after git reached the remote and before the pack is sent: a pre-push hook
    // says "pushing" and waits until the host is cut off (nftables drops every packet).
    let (marker, ack) = (r.dir.path().join("pushing"), r.dir.path().join("cut"));
    let hook = r.alice.clone_dir().join(".git/hooks/pre-push");
    std::fs::write(&hook, format!("#!/bin/sh\ntouch '{}'\nwhile [ ! -f '{}' ]; do sleep 0.05; done\nexit 0\n", marker.display(), ack.display())).unwrap();
    sh(Command::new("chmod").arg("755").arg(&hook));
    let h = r.world.host(0);
    let failed = std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..1200 {
                if marker.exists() {
                    h.cut_network().unwrap();
                    std::fs::write(&ack, b"").unwrap();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            std::fs::write(&ack, b"").unwrap();
        });
        r.alice.run(&["--json", "team", "sync"]).fails()
    });
    assert!(marker.exists(), "the push was reached");
    assert_eq!(failed.error_code().as_deref(), Some("git"), "{}", failed.stderr);
    h.restore_network().unwrap();
    std::fs::remove_file(&hook).unwrap();
    let remote_log = || String::from_utf8(git(&r.remote_dir, &r.ssh, &["log", "--format=%s", "main"]).stdout).unwrap();

    // The next sync completes it, once. Whether the pack reached the host is not Alice's to know
    // (after the restore, TCP may still deliver what the kernel had queued, and the host then
    // updates its branch): either the sync pushes the commit, or it finds it on the remote,
    // verifies it as hers and moves on. Nothing is shared twice.
    let again = r.alice.run(&["--json", "team", "sync"]).ok().json();
    assert!(again["pushed"] == true || again["verified_commits"] == 1, "{again}");
    assert_eq!(again["shared_keys"].as_array().unwrap().len(), 0, "already committed: {again}");
    assert_eq!(remote_log().matches("team sync: alice shares 1 instances, 1 keys").count(), 1, "{}", remote_log());
    let b = r.bob.run(&["--json", "team", "sync"]).ok().json();
    assert_eq!(b["imported_keys"], serde_json::json!([key]), "{b}");
    assert_eq!(b["imported_instances"], serde_json::json!([inst]), "{b}");
    let fp = |m: &Member| m.run(&["--json", "key", "show", key]).ok().json()["fingerprint"].clone();
    assert_eq!(fp(&r.bob), fp(&r.alice));
    assert!(!contains(&r.alice.ck.transcript(), value.as_bytes()));
    leak_scan(&r);
}

#[test]
fn concurrent_edits_merge_by_field_and_a_true_conflict_stops_with_both_values() {
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    let field = |m: &Member, f: &str| m.run(&["--json", "instance", "show", "acme-prod"]).ok().json()["instance"][f].clone();
    // At the same time: Alice changes the port, Bob the SSH user. Both sync: both have both.
    r.alice.run(&["instance", "edit", "acme-prod", "--port", "2222"]).ok();
    r.bob.run(&["instance", "edit", "acme-prod", "--user", "deploy"]).ok();
    r.alice.run(&["team", "sync"]).ok();
    let b = r.bob.run(&["--json", "team", "sync"]).ok().json();
    assert_eq!(b["updated_instances"], serde_json::json!(["acme-prod"]), "{b}");
    assert_eq!(b["pushed"], true, "{b}");
    let a = r.alice.run(&["--json", "team", "sync"]).ok().json();
    assert_eq!(a["updated_instances"], serde_json::json!(["acme-prod"]), "{a}");
    for m in [&r.alice, &r.bob] {
        assert_eq!((field(m, "ssh_port"), field(m, "ssh_user")), (serde_json::json!(2222), serde_json::json!("deploy")), "{}", m.name);
    }
    let file = std::fs::read_to_string(r.alice.clone_dir().join("instances/acme-prod.txt")).unwrap();
    assert!(file.contains("ssh_port = 2222") && file.contains("ssh_user = \"deploy\""), "{file}");

    // Both change the same field differently: the second sync stops, naming both values, and
    // writes nothing: Bob keeps his value, the store keeps Alice's.
    r.alice.run(&["instance", "edit", "acme-prod", "--host", "10.0.0.1"]).ok();
    r.bob.run(&["instance", "edit", "acme-prod", "--host", "10.0.0.2"]).ok();
    r.alice.run(&["team", "sync"]).ok();
    let o = r.bob.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("team_conflict"), "{}", o.stderr);
    assert!(o.stderr.contains("ssh_host") && o.stderr.contains("10.0.0.2") && o.stderr.contains("10.0.0.1"), "{}", o.stderr);
    assert_eq!(field(&r.bob, "ssh_host"), serde_json::json!("10.0.0.2"), "nothing lost locally");
    let remote = String::from_utf8(git(&r.remote_dir, &r.ssh, &["show", "main:instances/acme-prod.txt"]).stdout).unwrap();
    assert!(remote.contains("10.0.0.1"), "the store keeps the first sync's value: {remote}");
    // Bob settles on Alice's value: the sync goes through.
    r.bob.run(&["instance", "edit", "acme-prod", "--host", "10.0.0.1"]).ok();
    r.bob.run(&["team", "sync"]).ok();
}

#[test]
fn revoke_takes_the_owner_out_of_every_view_and_marks_its_keys_exposed() {
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    assert_eq!(r.bob.names("key").len(), 2);
    let out = r.alice.run(&["--json", "team", "revoke", "bob", "acme"]).ok().json();
    let mut exposed: Vec<&str> = out["exposed_keys"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    exposed.sort();
    assert_eq!(exposed, [ACME_KEYS[1].1, ACME_KEYS[0].1], "bob held ciphertext for them in the history");
    let s = r.bob.run(&["--json", "team", "sync"]).ok().json();
    assert_eq!(s["dropped"].as_array().unwrap().len(), 4, "two keys, two instances: {s}");
    assert!(r.bob.names("key").is_empty() && r.bob.names("instance").is_empty());
    assert_eq!(age_decrypt(&r.bob.identity(), &r.bob.clone_dir().join(format!("secrets/{}.age", ACME_KEYS[0].1))), None);
    // Alice still reads them, and the plan asks for their rotation first.
    assert_eq!(age_decrypt(&r.alice.identity(), &r.alice.clone_dir().join(format!("secrets/{}.age", ACME_KEYS[0].1))).as_deref(), Some(r.value(ACME_KEYS[0].1)));
    let plan = r.alice.run(&["--json", "rotate", "plan"]).ok().json();
    assert_eq!(plan["owners"][0]["owner"], "acme");
    assert_eq!(plan["owners"][0]["items"][0]["due_reason"], "exposed");
}

#[test]
fn every_change_is_in_its_members_audit_stream_and_a_rewritten_line_is_refused() {
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    // Alice's stream, as Bob verified it: her create, share, invite and grant, newest first.
    let lines = r.bob.run(&["--json", "team", "audit"]).ok().json();
    let actions: Vec<(&str, &str)> = lines.as_array().unwrap().iter().map(|l| (l["member"].as_str().unwrap(), l["action"].as_str().unwrap())).collect();
    assert_eq!(actions, [("alice", "team.grant"), ("alice", "team.invite"), ("alice", "team.share"), ("alice", "team.init")], "{lines}");
    let text = r.bob.run(&["team", "audit"]).ok().stdout;
    assert!(text.contains("alice") && text.contains("gave bob access to acme (2 secrets encrypted again)"), "{text}");
    // Bob's own change lands in his own stream, and Alice's sync verifies it.
    r.bob.run(&["instance", "add", "acme-edge", "--host", "127.0.0.1", "--user", "oc", "--owner", "acme", "--env", "prod", "--restart-cmd", "true"]).ok();
    assert_eq!(r.bob.run(&["--json", "team", "sync"]).ok().json()["pushed"], true);
    assert_eq!(r.alice.run(&["--json", "team", "sync"]).ok().json()["verified_commits"], 1);
    let bobs = r.alice.run(&["--json", "team", "audit", "--member", "bob"]).ok().json();
    assert_eq!(bobs.as_array().unwrap().len(), 1, "{bobs}");
    assert_eq!(bobs[0]["summary"], "shared 1 instance and 0 keys");
    let stream = std::fs::read_to_string(r.alice.clone_dir().join("audit/bob.jsonl")).unwrap();
    assert!(stream.ends_with('\n') && stream.contains("\"action\":\"team.share\"") && stream.contains("acme-edge"), "plain JSON lines: {stream}");

    // Bob, around Clawkeep, rewrites his own line (and adds one, so the file grows), signed
    // with his own key: the stream is append-only, even for its member.
    let before = r.alice.run(&["--json", "team", "status"]).ok().json()["verified_head"].clone();
    r.bob_pushes(
        |d| {
            let path = d.join("audit/bob.jsonl");
            let old = std::fs::read_to_string(&path).unwrap();
            let rewritten = old.replace("acme-edge", "acme-else");
            std::fs::write(&path, format!("{rewritten}{}", old.lines().next().unwrap().to_string() + "\n")).unwrap();
            std::fs::write(d.join("instances/acme-else.txt"), "# clawkeep team instance\nname = \"acme-else\"\nowner = \"acme\"\nenvironment = \"prod\"\n").unwrap();
        },
        false,
    );
    let o = r.alice.run(&["--json", "team", "sync"]).fails();
    assert_eq!(o.error_code().as_deref(), Some("team_refused"), "{}", o.stderr);
    for part in ["bob", "audit/bob.jsonl", "rewritten at line 1", "append-only"] {
        assert!(o.stderr.contains(part), "the refusal names {part}: {}", o.stderr);
    }
    assert!(!r.alice.names("instance").contains(&"acme-else".to_string()), "nothing of the refused commit is imported");
    assert_eq!(r.alice.run(&["--json", "team", "status"]).ok().json()["verified_head"], before);
    leak_scan(&r);
}

#[test]
fn an_inventory_moves_into_a_store_with_one_command_and_back_with_one_command() {
    let Some(r) = Rig::new() else { return };
    r.attach_bob();
    // Back: Bob leaves; his team keys' values move into his own keychain, nothing is lost.
    let before_instances = r.bob.names("instance");
    let left = r.bob.run(&["--json", "team", "leave", "--yes"]).ok().json();
    let mut kept: Vec<&str> = left["kept_keys"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    kept.sort();
    assert_eq!(kept, [ACME_KEYS[1].1, ACME_KEYS[0].1], "{left}");
    assert_eq!(left["remote"], r.remote.as_str());
    assert_eq!(r.bob.names("instance"), before_instances);
    assert_eq!(r.bob.names("key"), [ACME_KEYS[1].1, ACME_KEYS[0].1]);
    assert!(!r.bob.clone_dir().exists(), "the clone (ciphertext only) is gone");
    let st = r.bob.run(&["--json", "team", "status"]).ok().json();
    assert_eq!(st["remote"], Value::Null, "{st}");
    assert_eq!(r.bob.run(&["--json", "team", "sync"]).fails().error_code().as_deref(), Some("invalid_state"));
    // The value is read from his keychain now: an offline bundle to his own recipient carries it.
    let recipient = st["recipient"].as_str().unwrap().to_string();
    let bundle = r.dir.path().join("after-leave.bundle");
    r.bob.run(&["bundle", "export", "acme-prod", "--out", &bundle.to_string_lossy(), "--recipient", &recipient]).ok();
    assert!(age_decrypt(&r.bob.identity(), &bundle).expect("bob opens his bundle").contains(r.value(ACME_KEYS[0].1)));
    std::fs::remove_file(&bundle).unwrap();
    // Leaving twice is a clear error, not a change.
    assert_eq!(r.bob.run(&["--json", "team", "leave", "--yes"]).fails().error_code().as_deref(), Some("invalid_state"));

    // Into: Carol's solo inventory goes into a new, empty repository with `team init` alone.
    let h = r.world.host(0);
    assert_eq!(h.ssh("git init --quiet --bare --initial-branch=main solo.git").unwrap().code, Some(0));
    let carol = Member::new(r.dir.path(), "carol", &r.ssh);
    carol.run(&["instance", "add", "initech-prod", "--host", "127.0.0.1", "--user", "oc", "--owner", "initech", "--env", "prod", "--restart-cmd", "true"]).ok();
    let value = fake_key();
    carol.ck.add_key("initech-prod", "openclaw-initech-prod-key", &value).ok();
    carol.join();
    let init = carol.run(&["--json", "team", "init", &format!("{}:solo.git", h.name())]).ok().json();
    assert_eq!(init["created"], true, "{init}");
    assert_eq!(init["sync"]["shared_instances"], serde_json::json!(["initech-prod"]), "{init}");
    assert_eq!(init["sync"]["shared_keys"], serde_json::json!(["openclaw-initech-prod-key"]), "{init}");
    assert_eq!(init["sync"]["pushed"], true);
    let solo = h.home().join("solo.git");
    let tree = String::from_utf8(git(&solo, &r.ssh, &["ls-tree", "-r", "--name-only", "main"]).stdout).unwrap();
    for f in ["instances/initech-prod.txt", "keys/openclaw-initech-prod-key.txt", "secrets/openclaw-initech-prod-key.age", "audit/carol.jsonl"] {
        assert!(tree.lines().any(|l| l == f), "{f} in the new store: {tree}");
    }
    let objects = git(&solo, &r.ssh, &["cat-file", "--batch-all-objects", "--batch"]).stdout;
    assert!(!contains(&objects, value.as_bytes()) && !key_shaped(&objects), "no key value in the new store");
    leak_scan(&r);
}

/// No key value (nor any key-shaped string) in any object of the repository's history, in the
/// clones, in either data dir, or in anything either member was shown.
fn leak_scan(r: &Rig) {
    let history = git(&r.remote_dir, &r.ssh, &["log", "-p", "--all", "--format=%H %an %s%n%b"]).stdout;
    let objects = git(&r.remote_dir, &r.ssh, &["cat-file", "--batch-all-objects", "--batch"]).stdout;
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
