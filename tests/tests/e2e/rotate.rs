//! End-to-end guided rotation (issue 7) on a real sshd test host with its supervised mini
//! gateway: the real `clawkeep` binary, the real Secret Service (run under
//! `scripts/with-secret-service.sh`), the fake Anthropic API in-process on 127.0.0.1 (keys
//! minted there at run time), and the real SSH deploy; once with the mini gateway, once with
//! the REAL OpenClaw gateway, whose agent turns must reach the fake with the new key.
//!
//! Needs root + openssh-server + nftables (like `tests/deploy.rs`): elsewhere it skips with a
//! reason, in CI it fails. The OpenClaw test installs OpenClaw on first use (see
//! `tests/src/openclaw.rs`; `CLAWKEEP_OPENCLAW_PREFIX` reuses an install).

use clawkeep_tests::layout::parse_env;
use clawkeep_tests::{openclaw, Host, World, WorldOptions};
use fake_anthropic::{FakeAnthropic, MintKey, MintedKey, Preset, WORKSPACE_PROD_A_ID};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const RESTART: &str = clawkeep_tests::scripts::RESTART_COMMAND;
const OLD: &str = "openclaw-acme-prod-bot";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(self) -> Out {
        assert_eq!(self.code, 0, "command failed:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// One Clawkeep (data dir + keychain service) wired to a test host and the fake API.
struct Rig {
    dir: tempfile::TempDir,
    service: String,
    bin: PathBuf,
    fake: FakeAnthropic,
    old: MintedKey,
    transcript: std::cell::RefCell<Vec<u8>>,
}

impl Rig {
    /// The host runs the old key (`.env` + restart), then [`Rig::bare`].
    fn new(w: &World, h: &Host) -> Rig {
        let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
        let old = fake.fixture_key("instance-a").unwrap();
        h.write_file(".openclaw/.env", format!("FOO=bar\nANTHROPIC_API_KEY={}\n", old.key).as_bytes(), 0o600).unwrap();
        h.ssh_restart_gateway().unwrap();
        Rig::bare(w, h, fake)
    }

    /// Clawkeep set up for the host (trusted) with the old key active and an Admin key stored.
    fn bare(w: &World, h: &Host, fake: FakeAnthropic) -> Rig {
        assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(), "run under scripts/with-secret-service.sh");
        fake.state().with(|s| s.knobs.admin_rate_limit = None);
        let old = fake.fixture_key("instance-a").unwrap();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let r = Rig {
            dir: tempfile::tempdir().unwrap(),
            service: format!("clawkeep-rotate-e2e-{}-{nanos}", std::process::id()),
            bin: clawkeep_tests::clawkeep_bin(),
            fake,
            old,
            transcript: Default::default(),
        };
        r.run(&["settings", "set-ssh-identity", "--key-file", &w.client_key().to_string_lossy()], None).ok();
        r.run(&["settings", "set-base-url", &r.fake.base_url()], None).ok();
        let (addr, port) = (h.addr().to_string(), h.port().to_string());
        r.run(
            &[
                "instance",
                "add",
                "alpha",
                "--host",
                &addr,
                "--port",
                &port,
                "--user",
                h.user(),
                "--owner",
                "acme",
                "--env",
                "prod",
                "--workload",
                "bot",
                "--restart-cmd",
                RESTART,
                "--workspace-id",
                WORKSPACE_PROD_A_ID,
            ],
            None,
        )
        .ok();
        r.run(&["host", "trust", "alpha", "--fingerprint", h.host_key_fingerprint()], None).ok();
        r.run(&["key", "add", OLD, "--instance", "alpha", "--stdin"], Some(&r.old.key)).ok();
        let admin = r.fake.fixture_key("admin").unwrap();
        r.run(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], Some(&admin.key)).ok();
        r
    }

    fn run_env(&self, args: &[&str], stdin: Option<&str>, exit_after: Option<&str>) -> Out {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("CLAWKEEP_HOME", self.dir.path())
            .env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("CLAWKEEP_ANTHROPIC_BASE_URL")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(s) = exit_after {
            c.env("CLAWKEEP_ROTATE_EXIT_AFTER", s);
        }
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let mut t = self.transcript.borrow_mut();
        t.extend_from_slice(&out.stdout);
        t.extend_from_slice(&out.stderr);
        Out { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        self.run_env(args, stdin, None)
    }

    fn console_key(&self) -> MintedKey {
        let st = self.run(&["--json", "rotate", "status", "alpha"], None).ok().json();
        self.fake.mint_key(MintKey::api(st["new_key_name"].as_str().unwrap(), Some(WORKSPACE_PROD_A_ID))).unwrap()
    }

    fn key_status(&self, name: &str) -> String {
        self.run(&["--json", "key", "show", name], None).ok().json()["status"].as_str().unwrap().to_string()
    }

    fn fake_status(&self, id: &str) -> String {
        let s = self.fake.state().snapshot();
        serde_json::to_value(s.keys.iter().find(|k| k.id == id).unwrap().status).unwrap().as_str().unwrap().to_string()
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = Command::new("secret-tool").args(["clear", "service", &self.service]).status();
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn env_key(h: &Host) -> Option<String> {
    parse_env(&h.read_file(".openclaw/.env").unwrap()).into_iter().find(|(k, _)| k == "ANTHROPIC_API_KEY").map(|(_, v)| v)
}

fn gateway_key(h: &Host) -> Option<String> {
    h.gateway_environ().unwrap().into_iter().find(|(k, _)| k == "ANTHROPIC_API_KEY").map(|(_, v)| v)
}

#[test]
fn guided_rotation_over_ssh_then_rollback_of_a_second_one() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let r = Rig::new(&w, h);
    assert_eq!(gateway_key(h).as_deref(), Some(r.old.key.as_str()));

    // Rotation 1, all the way: paste → SSH deploy (verified on the host) → inactive → archive.
    r.run(&["rotate", "start", "alpha", "--soak", "0"], None).ok();
    let new = r.console_key();
    let out = r.run(&["--json", "rotate", "resume", "alpha", "--stdin", "--yes"], Some(&new.key)).ok().json();
    assert_eq!(out["rotation"]["outcome"], "completed", "{out}");
    assert_eq!(env_key(h).as_deref(), Some(new.key.as_str()));
    assert_eq!(gateway_key(h).as_deref(), Some(new.key.as_str()));
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), format!("FOO=bar\nANTHROPIC_API_KEY={}\n", new.key));
    assert_eq!(r.key_status(&new.name), "active");
    assert_eq!(r.key_status(OLD), "retired");
    assert_eq!(r.fake_status(&r.old.id), "archived");
    let hist = r.run(&["--json", "deploy", "history", "alpha"], None).ok().json();
    assert_eq!(hist.as_array().unwrap().len(), 1, "{hist}");
    assert_eq!((hist[0]["outcome"].as_str(), hist[0]["key_name"].as_str()), (Some("succeeded"), Some(new.name.as_str())));

    // Rotation 2: stop right after the deploy, then roll back: the host runs the previous key again.
    r.run(&["rotate", "start", "alpha", "--soak", "24h"], None).ok();
    let newer = r.console_key();
    let e = r.run_env(&["rotate", "resume", "alpha", "--stdin", "--yes"], Some(&newer.key), Some("deploy"));
    assert_eq!(e.code, 3, "{}", e.stderr);
    assert_eq!(gateway_key(h).as_deref(), Some(newer.key.as_str()));
    r.run(&["rotate", "resume", "alpha"], None).ok(); // deactivates `new`, then soaks
    assert_eq!(r.fake_status(&new.id), "inactive");
    let rb = r.run(&["--json", "rotate", "rollback", "alpha", "--yes"], None).ok().json();
    assert_eq!(rb["rotation"]["outcome"], "rolled_back", "{rb}");
    assert_eq!(gateway_key(h).as_deref(), Some(new.key.as_str()));
    assert_eq!(env_key(h).as_deref(), Some(new.key.as_str()));
    assert_eq!(r.fake_status(&new.id), "active");
    assert_eq!(r.key_status(&new.name), "active");
    assert_eq!(r.key_status(&newer.name), "revoked");
    let hist = r.run(&["--json", "deploy", "history", "alpha"], None).ok().json();
    assert_eq!(hist.as_array().unwrap().len(), 3, "{hist}");

    // No key in anything Clawkeep printed, nor in the host's gateway log.
    for k in [&r.old.key, &new.key, &newer.key] {
        assert!(!contains(&r.transcript.borrow(), k), "a key was printed");
        assert!(!h.gateway_log().contains(k.as_str()), "key in the gateway log");
    }
}

#[test]
fn guided_rotation_with_the_real_openclaw_gateway() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).without_gateway()) else { return };
    let h = w.host(0);
    let oc = openclaw::ensure_installed().unwrap();
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let old = fake.fixture_key("instance-a").unwrap();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={}\n", old.key).as_bytes(), 0o600).unwrap();
    oc.start_gateway(h, &fake.base_url()).unwrap();
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();
    let r = Rig::bare(&w, h, fake);
    let messages_with = |key: &str| {
        let sha = fake_anthropic::sha256_hex(key);
        r.fake.requests().iter().filter(|q| q.path == "/v1/messages" && q.status == 200 && q.api_key_sha256.as_deref() == Some(sha.as_str())).count()
    };
    let turn = oc.agent_turn(h, "Say hello", openclaw::TURN_TIMEOUT).unwrap();
    assert!(turn.ok(), "first turn: {}\n{}", turn.output.stdout_str(), turn.output.stderr_str());
    assert!(messages_with(&r.old.key) > 0, "the old key never reached the fake");

    r.run(&["rotate", "start", "alpha", "--soak", "0"], None).ok();
    let new = r.console_key();
    let out = r.run(&["--json", "rotate", "resume", "alpha", "--stdin", "--yes"], Some(&new.key)).ok().json();
    assert_eq!(out["rotation"]["outcome"], "completed", "{out}");
    // The real gateway loads .env in-process (its /proc environ never shows the key): check the
    // file here, and the key actually used by the next turn below.
    let env = h.read_env().unwrap();
    assert!(env.iter().any(|(k, v)| k == "ANTHROPIC_API_KEY" && v == &new.key), "the new key is not in .env");
    assert_eq!(r.fake_status(&r.old.id), "archived");

    // The next agent turn through the real gateway carries the new key; the old one is dead.
    let before_old = messages_with(&r.old.key);
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();
    let turn = oc.agent_turn(h, "Say hello again", openclaw::TURN_TIMEOUT).unwrap();
    assert!(turn.ok(), "turn after the rotation: {}\n{}", turn.output.stdout_str(), turn.output.stderr_str());
    assert!(messages_with(&new.key) > 0, "the new key never reached the fake");
    assert_eq!(messages_with(&r.old.key), before_old, "the old key was used after the rotation");
    let logs = format!("{}{}", h.gateway_log(), h.read_file(".openclaw/logs/openclaw.log").unwrap_or_default());
    assert!(!logs.contains(&new.key) && !logs.contains(&r.old.key), "a full key in the gateway logs");
    assert!(!contains(&r.transcript.borrow(), &new.key));
    h.stop_gateway().unwrap();
}

/// Issue 12, finding 3: the host holds the new key while the rotation never recorded a deploy
/// (here: a crash between the write and the step commit; an unconfirmed manual deploy or a
/// deploy whose own rollback failed leave the same state). The rollback reads the host by
/// fingerprint, puts the old key back and verifies it there before it revokes anything.
#[test]
fn rollback_restores_the_old_key_when_the_host_holds_the_new_one_unrecorded() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let r = Rig::new(&w, h);
    r.run(&["rotate", "start", "alpha", "--soak", "0"], None).ok();
    let new = r.console_key();
    let e = r.run_env(&["rotate", "resume", "alpha", "--stdin", "--yes"], Some(&new.key), Some("paste"));
    assert_eq!(e.code, 3, "{}", e.stderr);
    // The write landed, the process died before the step was saved.
    h.write_file(".openclaw/.env", format!("FOO=bar\nANTHROPIC_API_KEY={}\n", new.key).as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    assert_eq!(gateway_key(h).as_deref(), Some(new.key.as_str()));
    let st = r.run(&["--json", "rotate", "status", "alpha"], None).ok().json();
    assert_eq!((st["step"].as_str(), st["deployed_at"].as_str()), (Some("deploy"), None), "{st}");

    let rb = r.run(&["--json", "rotate", "rollback", "alpha", "--yes"], None).ok().json();
    assert_eq!(rb["rotation"]["outcome"], "rolled_back", "{rb}");
    let short = format!("SHA256:{}", &clawkeep_tests::layout::key_sha256(&r.old.key)[..12]);
    assert!(rb["detail"].as_str().unwrap().contains(&format!("old key restored on the host, {short} verified there")), "{rb}");
    // The host holds the old key again: in .env and in the running gateway.
    assert_eq!(env_key(h).as_deref(), Some(r.old.key.as_str()));
    assert_eq!(gateway_key(h).as_deref(), Some(r.old.key.as_str()));
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), format!("FOO=bar\nANTHROPIC_API_KEY={}\n", r.old.key));
    assert_eq!(r.key_status(OLD), "active");
    assert_eq!(r.key_status(&new.name), "revoked");
    assert_eq!((r.fake_status(&r.old.id), r.fake_status(&new.id)), ("active".to_string(), "active".to_string()), "nothing was deactivated");
    // Nothing printed a key.
    for k in [&r.old.key, &new.key] {
        assert!(!contains(&r.transcript.borrow(), k), "a key was printed");
    }
}
