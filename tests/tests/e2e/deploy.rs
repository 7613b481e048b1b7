//! End-to-end deploy tests (issue 5): the real `clawkeep` binary, the real Secret Service
//! (run under `scripts/with-secret-service.sh`), real sshd test hosts from the test world with
//! a supervised mini gateway each. Fake keys are generated at run time.
//!
//! Needs root + openssh-server + nftables (like `tests/world.rs`): elsewhere it skips with a
//! reason, in CI it fails.

use clawkeep_tests::layout::parse_env;
use clawkeep_tests::sys::ArgvSampler;
use clawkeep_tests::{Host, ShellMode, World, WorldOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

use clawkeep_tests::cli::fake_key;

fn rand_seed() -> u64 {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst) as u64;
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    (t ^ (n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) ^ (std::process::id() as u64) << 32) | 1
}

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
    fn fails(self) -> Out {
        assert_eq!(self.code, 1, "expected failure:\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        assert!(!self.stderr.contains("panicked"), "panic: {}", self.stderr);
        self
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// One isolated Clawkeep: data dir + keychain service; records every byte it printed.
struct Ck {
    dir: tempfile::TempDir,
    service: String,
    bin: PathBuf,
    transcript: Mutex<Vec<u8>>,
}

impl Ck {
    fn new(w: &World) -> Ck {
        assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(), "run under scripts/with-secret-service.sh");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let ck = Ck {
            dir: tempfile::tempdir().unwrap(),
            service: format!("clawkeep-deploy-test-{}-{n}-{}", std::process::id(), rand_seed() % 1_000_000),
            bin: clawkeep_tests::clawkeep_bin(),
            transcript: Mutex::new(Vec::new()),
        };
        ck.run(&["settings", "set-ssh-identity", "--key-file", &w.client_key().to_string_lossy()]).ok();
        ck
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("CLAWKEEP_HOME", self.dir.path())
            .env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        let mut t = self.transcript.lock().unwrap();
        t.extend_from_slice(&out.stdout);
        t.extend_from_slice(&out.stderr);
        Out { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
    }

    fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, None)
    }

    /// `instance add NAME` for the test host (owner acme, env prod, its restart command), with
    /// `extra` flags.
    fn add_instance(&self, h: &Host, name: &str, restart: &str, extra: &[&str]) {
        let (port, addr) = (h.port().to_string(), h.addr().to_string());
        let mut args = vec!["instance", "add", name, "--host", &addr, "--port", &port, "--user", h.user()];
        args.extend(["--owner", "acme", "--env", "prod", "--restart-cmd", restart]);
        if !extra.contains(&"--workload") {
            args.extend(["--workload", "bot"]);
        }
        args.extend_from_slice(extra);
        self.run(&args).ok();
    }

    /// Adds an instance for `h` (restart command `restart`), optionally trusted, plus an active key.
    fn add_host(&self, h: &Host, name: &str, trust: bool, restart: &str) -> String {
        self.add_instance(h, name, restart, &["--tag", "fleet"]);
        if trust {
            self.run(&["host", "trust", name, "--fingerprint", h.host_key_fingerprint()]).ok();
        }
        self.add_key(name, &format!("openclaw-acme-prod-bot-{name}"))
    }

    fn add_key(&self, instance: &str, key_name: &str) -> String {
        let key = fake_key();
        self.run_with(&["key", "add", key_name, "--instance", instance, "--stdin", "--allow-name"], Some(&key)).ok();
        key
    }

    /// Every file of the data dir, concatenated.
    fn data_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p)
                } else {
                    out.extend(std::fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    fn inventory(&self) -> (serde_json::Value, serde_json::Value) {
        (self.run(&["instance", "list", "--json"]).ok().json(), self.run(&["key", "list", "--json"]).ok().json())
    }
}

impl Drop for Ck {
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

const RESTART: &str = clawkeep_tests::scripts::RESTART_COMMAND;

#[test]
fn deploy_env_file_then_rotate_to_staged_key() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("# managed by hand\nFOO=bar\nANTHROPIC_API_KEY={old}\nOTHER=\"x y\"\n").as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    let k1 = ck.add_host(h, "alpha", true, RESTART);

    // Dry run: the plan, redacted, nothing written.
    let before = h.read_file(".openclaw/.env").unwrap();
    let plan = ck.run(&["deploy", "alpha", "--dry-run"]).ok();
    assert!(plan.stdout.contains(&format!("127.0.0.1:{}", h.gateway_port())), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("ANTHROPIC_API_KEY={}...", &k1[..16])), "{}", plan.stdout);
    assert!(plan.stdout.contains(&format!("(was {}...", &old[..16])), "{}", plan.stdout);
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), before);

    let sampler = ArgvSampler::start(vec![k1.clone(), old.clone()]);
    let r = ck.run(&["deploy", "alpha", "--yes"]).ok();
    let (leaked, samples) = sampler.finish();
    assert!(!leaked, "a key appeared in some process's argv during the deploy");
    assert!(samples > 10, "sampler too slow ({samples} samples)");
    assert!(r.stdout.contains("succeeded"), "{}", r.stdout);

    // .env: new key, other lines untouched, mode 0600, owned by the host user.
    let text = h.read_file(".openclaw/.env").unwrap();
    assert_eq!(text, format!("# managed by hand\nFOO=bar\nANTHROPIC_API_KEY={k1}\nOTHER=\"x y\"\n"));
    let md = std::fs::metadata(h.env_path()).unwrap();
    assert_eq!(md.mode() & 0o777, 0o600);
    assert_eq!(md.uid(), h.uid());
    let bak = std::fs::metadata(h.home().join(".openclaw/.env.clawkeep-bak")).unwrap();
    assert_eq!(bak.mode() & 0o777, 0o600);
    assert_eq!(bak.uid(), h.uid());
    assert_eq!(gateway_key(h).as_deref(), Some(k1.as_str()));
    let leftovers: Vec<_> = std::fs::read_dir(h.home().join(".openclaw")).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().contains("clawkeep-tmp")).collect();
    assert!(leftovers.is_empty());

    // A staged key deployed with --key becomes active; the old one is retired with rotated_at.
    let k2 = ck.add_key("alpha", "openclaw-acme-prod-bot-alpha-2");
    let keys = ck.run(&["key", "list", "--json"]).ok().json();
    assert!(keys.to_string().contains("staged"));
    ck.run(&["deploy", "alpha", "--key", "openclaw-acme-prod-bot-alpha-2", "--yes"]).ok();
    assert_eq!(env_key(h).as_deref(), Some(k2.as_str()));
    assert_eq!(gateway_key(h).as_deref(), Some(k2.as_str()));
    let keys = ck.run(&["key", "list", "--json"]).ok().json();
    let find = |n: &str| keys.as_array().unwrap().iter().find(|k| k["name"] == n).unwrap().clone();
    assert_eq!(find("openclaw-acme-prod-bot-alpha-2")["status"], "active");
    let first = find("openclaw-acme-prod-bot-alpha");
    assert_eq!(first["status"], "retired");
    assert!(first["rotated_at"].is_string());

    // History and audit.
    let hist = ck.run(&["deploy", "history", "alpha", "--json"]).ok().json();
    assert_eq!(hist.as_array().unwrap().len(), 2);
    assert_eq!(hist[0]["outcome"], "succeeded");
    assert_eq!(hist[0]["key_name"], "openclaw-acme-prod-bot-alpha-2");
    assert!(hist[0]["duration_ms"].as_i64().unwrap() > 0);
    let audit = ck.run(&["audit", "--json"]).ok().stdout;
    assert!(audit.contains("deploy.run") && audit.contains("key.activate"));

    // No key in anything Clawkeep printed, in the data dir, or in the host's sshd/gateway logs.
    for k in [&k1, &k2, &old] {
        assert!(!contains(&ck.transcript.lock().unwrap(), k), "key printed");
        assert!(!contains(&ck.data_bytes(), k), "key in the data dir");
        assert!(!contains(&std::fs::read(h.sshd_log()).unwrap_or_default(), k), "key in sshd log");
        assert!(!h.gateway_log().contains(k.as_str()), "key in gateway log");
    }
}

#[test]
fn host_keys_pinned_unknown_and_changed_are_refused() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    ck.add_host(h, "beta", false, RESTART);
    let before = h.read_file(".openclaw/.env").unwrap();

    // Unknown host: refused with the trust command.
    let r = ck.run(&["deploy", "beta", "--yes"]).fails();
    assert!(r.stderr.contains("clawkeep host trust beta"), "{}", r.stderr);
    assert!(r.stderr.contains("host_key_unknown"), "{}", r.stderr);

    // A wrong --fingerprint is refused; the right one pins.
    let wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let r = ck.run(&["host", "trust", "beta", "--fingerprint", wrong]).fails();
    assert!(r.stderr.contains(h.host_key_fingerprint()), "{}", r.stderr);
    let r = ck.run(&["host", "trust", "beta", "--fingerprint", h.host_key_fingerprint(), "--json"]).ok();
    assert_eq!(r.json()["fingerprint"], h.host_key_fingerprint());
    // Interactive trust without a terminal is not asked silently.
    let r = ck.run(&["host", "trust", "beta"]).ok(); // already pinned, same key: fine
    assert!(r.stdout.contains("already trusted"));

    // Changed host key: refused, both fingerprints and the re-trust command named, nothing written.
    let new_fp = h.replace_host_key().unwrap();
    let r = ck.run(&["deploy", "beta", "--yes"]).fails();
    assert!(r.stderr.contains("HOST KEY MISMATCH") && r.stderr.contains("'beta'"), "{}", r.stderr);
    assert!(r.stderr.contains(h.host_key_fingerprint()) && r.stderr.contains(&new_fp), "{}", r.stderr);
    assert!(r.stderr.contains("clawkeep host trust beta --fingerprint"), "{}", r.stderr);
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), before);
    let r = ck.run(&["host", "trust", "beta"]).fails(); // would need a terminal to ask
    assert!(r.stderr.contains(&new_fp), "{}", r.stderr);
    let hist = ck.run(&["deploy", "history", "beta", "--json"]).ok().json();
    assert_eq!(hist[0]["outcome"], "refused");
    h.restore_host_key().unwrap();
}

#[test]
fn network_cut_mid_deploy_leaves_old_or_new_file_and_rerun_succeeds() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("A=1\nANTHROPIC_API_KEY={old}\nB=2\n").as_bytes(), 0o600).unwrap();
    // A slow restart gives the test time to cut the link after the new file is in place.
    h.write_file(".local/bin/slow-restart", b"#!/bin/sh\nsleep 3\nexec ~/.local/bin/openclaw-gateway-restart\n", 0o755).unwrap();
    let key = ck.add_host(h, "gamma", true, "~/.local/bin/slow-restart");
    let ok_states = [format!("A=1\nANTHROPIC_API_KEY={old}\nB=2\n"), format!("A=1\nANTHROPIC_API_KEY={key}\nB=2\n")];

    let watcher = {
        let env = h.env_path();
        let ok_states = ok_states.clone();
        std::thread::spawn(move || {
            // Every read of .env during the deploy is a complete old or new file.
            let t0 = Instant::now();
            let mut changed_at = None;
            while t0.elapsed() < Duration::from_secs(60) {
                let t = std::fs::read_to_string(&env).unwrap_or_default();
                assert!(ok_states.contains(&t), "partial or unexpected .env: {t:?}");
                if t == ok_states[1] {
                    changed_at = Some(t0.elapsed());
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            changed_at
        })
    };
    let ck_ref = &ck;
    let r = std::thread::scope(|s| {
        let run = s.spawn(move || ck_ref.run(&["deploy", "gamma", "--yes", "--connect-timeout", "3"]));
        let changed = watcher.join().unwrap();
        assert!(changed.is_some(), "the new .env never appeared");
        h.cut_network().unwrap();
        run.join().unwrap()
    });
    let r = r.fails();
    assert!(r.stdout.contains("failed") || r.stderr.contains("failed"), "{}\n{}", r.stdout, r.stderr);
    let t = h.read_file(".openclaw/.env").unwrap();
    assert!(ok_states.contains(&t), "partial .env after the cut: {t:?}");
    h.restore_network().unwrap();
    let hist = ck.run(&["deploy", "history", "gamma", "--json"]).ok().json();
    assert_ne!(hist[0]["outcome"], "succeeded");

    // Rerun after the link is back: succeeds.
    ck.run(&["deploy", "gamma", "--yes"]).ok();
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), ok_states[1]);
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
}

#[test]
fn verification_failure_rolls_back_to_the_previous_key() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={old}\n").as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    // First restart freezes the gateway (it never becomes ready); later ones really restart.
    h.write_file(
        ".local/bin/flaky-restart",
        b"#!/bin/sh\nst=\"$HOME/.local/state/clawkeep-gw\"\nif [ -f \"$HOME/fail-next-restart\" ]; then rm -f \"$HOME/fail-next-restart\"; kill -STOP \"$(cat \"$st/gateway.pid\")\"; exit 0; fi\nkill -CONT \"$(cat \"$st/gateway.pid\")\" 2>/dev/null\nexec ~/.local/bin/openclaw-gateway-restart\n",
        0o755,
    )
    .unwrap();
    h.write_file("fail-next-restart", b"", 0o644).unwrap();
    let key = ck.add_host(h, "delta", true, "~/.local/bin/flaky-restart");
    let r = ck.run(&["deploy", "delta", "--yes", "--ready-timeout", "4", "--json"]).fails();
    let rep = r.json();
    assert_eq!(rep["outcome"], "rolled-back", "{rep}");
    assert!(rep["error"]["message"].as_str().unwrap().contains("did not become ready"), "{rep}");
    assert!(rep["rollback"].as_str().unwrap().contains("previous key is effective again"), "{rep}");
    assert_eq!(env_key(h).as_deref(), Some(old.as_str()));
    assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
    assert!(!contains(r.stdout.as_bytes(), &key));
    let hist = ck.run(&["deploy", "history", "delta", "--json"]).ok().json();
    assert_eq!(hist[0]["outcome"], "rolled-back");
    // The key did not become active-by-deploy, and a rerun works.
    ck.run(&["deploy", "delta", "--yes"]).ok();
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
}

#[test]
fn stale_auth_profile_is_planned_and_removed_with_consent() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    // A stand-in agent DB holding an anthropic auth profile, and a stand-in `openclaw` CLI whose
    // `models auth logout` removes it (the mini gateway does not model profile precedence; the
    // real-OpenClaw flow is not covered here).
    h.write_file(".openclaw/agents/main/agent/openclaw-agent.sqlite", b"SQLite format 3\0...auth_profiles anthropic:default api_key=<stale>...", 0o600).unwrap();
    h.write_file(
        ".local/bin/openclaw",
        b"#!/bin/sh\necho \"$*\" >> \"$HOME/openclaw-calls.log\"\nif [ \"$1 $2 $3 $4 $5\" = \"models auth logout anthropic:default --yes\" ]; then a=main; [ \"$6\" = --agent ] && a=$7; printf 'SQLite format 3 (no profiles)' > \"$HOME/.openclaw/agents/$a/agent/openclaw-agent.sqlite\"; echo 'Logged out anthropic:default'; exit 0; fi\nexit 2\n",
        0o755,
    )
    .unwrap();
    let key = ck.add_host(h, "eps", true, RESTART);
    let plan = ck.run(&["deploy", "eps", "--dry-run", "--json"]).ok().json();
    let stale = &plan["plan"]["stale"];
    assert_eq!(stale[0]["kind"], "auth-profile", "{plan}");
    assert_eq!(stale[0]["agent"], "main");
    // Without consent (no terminal to ask, no --yes): not applied, nothing removed.
    let r = ck.run(&["deploy", "eps"]).fails();
    assert!(r.stderr.contains("pass --yes"), "{}", r.stderr);
    assert!(h.read_file(".openclaw/agents/main/agent/openclaw-agent.sqlite").unwrap().contains("anthropic:default"));
    // With consent.
    let rep = ck.run(&["deploy", "eps", "--yes", "--json"]).ok().json();
    assert_eq!(rep["outcome"], "succeeded");
    assert!(rep["stale_removed"][0].as_str().unwrap().contains("agent main"), "{rep}");
    assert!(!h.read_file(".openclaw/agents/main/agent/openclaw-agent.sqlite").unwrap().contains("anthropic:"));
    assert!(h.read_file("openclaw-calls.log").unwrap().contains("models auth logout anthropic:default --yes --agent main"));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
}

/// A trusted host that cannot be reached (sshd stopped: connection refused) is a failure, not a
/// refusal: `deploy` exits 1 with the SSH error's code and records the run `failed` — the outcome
/// core's flow gives the desktop too (the CLI's own copy of the flow used to record `refused`).
#[test]
fn unreachable_host_is_recorded_failed_like_the_desktop_does() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    ck.add_host(h, "far", true, RESTART);
    h.stop().unwrap();
    let r = ck.run(&["deploy", "far", "--yes", "--connect-timeout", "3"]).fails();
    assert!(r.stderr.contains("error[ssh_connect]") && r.stderr.contains("'far'"), "{}", r.stderr);
    let r = ck.run(&["--json", "deploy", "far", "--dry-run", "--connect-timeout", "3"]).fails();
    assert_eq!(r.json()["outcome"], "failed", "{}", r.stdout);
    let hist = ck.run(&["deploy", "history", "far", "--json"]).ok().json();
    let outcomes: Vec<&str> = hist.as_array().unwrap().iter().filter_map(|d| d["outcome"].as_str()).collect();
    assert_eq!(outcomes, ["failed", "failed"], "{hist}");
    h.start().unwrap();
}

/// The interactive deploy shows the plan, asks [y/N], then applies only the plan it showed
/// (core's digest check): a host edited while the question was open is refused and left as it
/// is. A terminal comes from `script` (util-linux).
#[test]
fn interactive_deploy_applies_only_the_plan_it_showed() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    ck.add_host(h, "tty", true, RESTART);
    let mut child = Command::new("script")
        .args(["-qefc", &format!("{} deploy tty", ck.bin.display()), "/dev/null"])
        .env("CLAWKEEP_HOME", ck.dir.path())
        .env("CLAWKEEP_KEYCHAIN_SERVICE", &ck.service)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = std::sync::Arc::new(Mutex::new(String::new()));
    let reader = {
        let (seen, mut out) = (seen.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut out, &mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let t0 = Instant::now();
    while !seen.lock().unwrap().contains("Apply this plan to tty?") {
        assert!(t0.elapsed() < Duration::from_secs(60), "no question: {}", seen.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(seen.lock().unwrap().contains("Plan for tty"), "{}", seen.lock().unwrap());
    let edited = "# edited by hand while the question was open\nFOO=bar\n";
    h.write_file(".openclaw/.env", edited.as_bytes(), 0o600).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"y\n").unwrap();
    let status = child.wait().unwrap();
    drop(stdin);
    reader.join().unwrap();
    let text = seen.lock().unwrap().clone();
    assert!(!status.success(), "{text}");
    assert!(text.contains("the host changed since its plan was shown"), "{text}");
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), edited, "nothing is written to a host that changed");
    let hist = ck.run(&["deploy", "history", "tty", "--json"]).ok().json();
    assert_eq!(hist[0]["outcome"], "refused", "{hist}");
}

#[test]
fn bad_inputs_give_clear_errors_and_leave_the_inventory_alone() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(3)) else { return };
    let ck = Ck::new(&w);
    let (a, b, c) = (w.host(0), w.host(1), w.host(2));
    let ka = ck.add_host(a, "noisy", true, RESTART);
    let kb = ck.add_host(b, "huge", true, RESTART);
    ck.add_host(c, "down", true, RESTART);

    // Unknown instance, draft instance.
    let r = ck.run(&["deploy", "nope", "--yes"]).fails();
    assert!(r.stderr.contains("not_found"), "{}", r.stderr);
    let cfg = ck.dir.path().join("ssh_config");
    std::fs::write(&cfg, "Host drafty\n  HostName 127.0.0.1\n  User nobody\n").unwrap();
    ck.run(&["instance", "import-ssh-config", "--file", &cfg.to_string_lossy()]).ok();
    let r = ck.run(&["deploy", "drafty", "--yes"]).fails();
    assert!(r.stderr.contains("draft"), "{}", r.stderr);

    let inv = ck.inventory();
    // Unreachable host: connect timeout, quickly.
    c.cut_network().unwrap();
    let t = Instant::now();
    let r = ck.run(&["deploy", "down", "--yes", "--connect-timeout", "2"]).fails();
    assert!(t.elapsed() < Duration::from_secs(15), "took {:?}", t.elapsed());
    assert!(r.stderr.contains("ssh_timeout") && r.stderr.contains("'down'"), "{}", r.stderr);
    c.restore_network().unwrap();

    // Refused auth: an identity the hosts don't know.
    let other = tempfile::tempdir().unwrap();
    let kp = other.path().join("id_ed25519");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&kp).status().unwrap().success());
    ck.run(&["settings", "set-ssh-identity", "--key-file", &kp.to_string_lossy()]).ok();
    let r = ck.run(&["deploy", "noisy", "--yes"]).fails();
    assert!(r.stderr.contains("ssh_auth") && r.stderr.contains("refused"), "{}", r.stderr);
    assert_eq!(ck.inventory(), inv, "a failed deploy changed the inventory");
    ck.run(&["settings", "set-ssh-identity", "--key-file", &w.client_key().to_string_lossy()]).ok();

    // Noisy login shell and huge login output: the deploy still works.
    a.set_shell_mode(ShellMode::Noisy).unwrap();
    ck.run(&["deploy", "noisy", "--yes"]).ok();
    assert_eq!(gateway_key(a).as_deref(), Some(ka.as_str()));
    b.set_shell_mode(ShellMode::Huge(4 << 20)).unwrap();
    let r = ck.run(&["deploy", "huge", "--yes"]);
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(gateway_key(b).as_deref(), Some(kb.as_str()));
    a.set_shell_mode(ShellMode::Normal).unwrap();
    b.set_shell_mode(ShellMode::Normal).unwrap();
}

/// The desktop's fleet deploy (core `run_fleet_deploy`, the same data dir and keychain the CLI
/// set up): plan all, then apply with each host's reviewed plan digest. A host whose state
/// changed after the review is refused and left untouched; the others deploy and verify.
#[test]
fn fleet_apply_refuses_a_host_whose_plan_changed_since_review() {
    use clawkeep_core::api::deploys::{FleetDeployRequest, FleetMode, FleetTarget};
    let Some(w) = World::start_or_skip(WorldOptions::hosts(3)) else { return };
    let ck = Ck::new(&w);
    let mut keys = Vec::new();
    for (i, h) in w.hosts().iter().enumerate() {
        keys.push(ck.add_host(h, &format!("g{i}"), true, RESTART));
    }
    let core = clawkeep_core::Clawkeep::open(clawkeep_core::OpenOptions {
        data_dir: Some(ck.dir.path().into()),
        keychain: Some(std::sync::Arc::new(clawkeep_core::OsKeychain::new(ck.service.clone()))),
        ..Default::default()
    })
    .unwrap();
    let targets: Vec<FleetTarget> = (0..3).map(|i| FleetTarget { instance: format!("g{i}"), plan_digest: None }).collect();
    let cancel = clawkeep_core::deploy::CancellationToken::new();
    let plan_req = FleetDeployRequest { mode: FleetMode::Plan, options: Default::default(), concurrency: 3, jump: None };
    let planned = core.run_fleet_deploy(&targets, &plan_req, &clawkeep_core::SshCredentials::Configured, clawkeep_core::deploy::no_progress(), &cancel).unwrap();
    assert_eq!(planned.reports.len(), 3);
    assert!(planned.reports.iter().all(|r| r.outcome == clawkeep_core::deploy::Outcome::Planned), "{:?}", planned.reports);
    assert!(core.deployments(None, 10).unwrap().is_empty(), "plans are not recorded");
    let reviewed: Vec<FleetTarget> =
        planned.reports.iter().map(|r| FleetTarget { instance: r.instance.clone(), plan_digest: Some(clawkeep_core::deploy::plan_digest(r.plan.as_ref().unwrap())) }).collect();

    // Someone edits g1's .env after the review.
    let edited = "# edited by hand after the review\nFOO=bar\n";
    w.host(1).write_file(".openclaw/.env", edited.as_bytes(), 0o600).unwrap();
    let apply_req = FleetDeployRequest { mode: FleetMode::ApplyReviewed, ..plan_req };
    let done = core.run_fleet_deploy(&reviewed, &apply_req, &clawkeep_core::SshCredentials::Configured, clawkeep_core::deploy::no_progress(), &cancel).unwrap();
    let by_name = |n: &str| done.reports.iter().find(|r| r.instance == n).unwrap();
    assert_eq!(by_name("g0").outcome, clawkeep_core::deploy::Outcome::Succeeded, "{:?}", by_name("g0").error);
    assert_eq!(by_name("g2").outcome, clawkeep_core::deploy::Outcome::Succeeded, "{:?}", by_name("g2").error);
    let g1 = by_name("g1");
    assert_eq!(g1.outcome, clawkeep_core::deploy::Outcome::Refused);
    assert!(g1.error.as_ref().unwrap().message.contains("changed since its plan was shown"), "{:?}", g1.error);
    assert_eq!(w.host(1).read_file(".openclaw/.env").unwrap(), edited, "nothing is written to a refused host");
    assert_eq!(gateway_key(w.host(0)).as_deref(), Some(keys[0].as_str()));
    assert_eq!(gateway_key(w.host(2)).as_deref(), Some(keys[2].as_str()));
    assert_eq!(done.failures(), 1);
    assert_eq!(core.deployments(None, 10).unwrap().len(), 3, "every applied host is recorded, the refused one too");
}

/// A jump host stored on the instance (`--jump-via`), with the inner host refusing direct
/// SSH from this machine's root (the tests and the `clawkeep` they run): host trust, deploy and
/// the checklist all reach it through the bastion, with no per-command flag; the bastion's
/// sshd sees the logins; a bastion in use can't be removed.
#[test]
fn stored_jump_host_serves_trust_deploy_and_check() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(2)) else { return };
    if !clawkeep_tests::sys::is_root() {
        return;
    }
    let (a, b) = (w.host(0), w.host(1));
    let ck = Ck::new(&w);
    ck.add_host(a, "bastion", true, RESTART);
    ck.add_instance(b, "inner", RESTART, &["--workload", "inner", "--jump-via", "bastion"]);
    let key = ck.add_key("inner", "openclaw-acme-prod-inner");
    let shown = ck.run(&["instance", "show", "inner"]).ok();
    assert!(shown.stdout.contains("(through bastion)"), "{}", shown.stdout);
    b.refuse_direct_ssh_from(0).unwrap();
    let r = ck.run(&["--json", "deploy", "inner", "--jump", "bastion", "--dry-run"]);
    assert_eq!(r.code, 1, "unpinned inner is refused: {}{}", r.stdout, r.stderr);

    let before = std::fs::read_to_string(a.sshd_log()).unwrap_or_default().len();
    ck.run(&["host", "trust", "inner", "--fingerprint", b.host_key_fingerprint()]).ok();
    ck.run(&["deploy", "inner", "--yes"]).ok();
    assert_eq!(gateway_key(b).as_deref(), Some(key.as_str()));
    let (code, out, err) = {
        let r = ck.run(&["--json", "check", "inner", "--no-api"]);
        (r.code, r.stdout, r.stderr)
    };
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let matches = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "credential.matches-keychain.main").cloned();
    assert_eq!(matches.as_ref().map(|c| c["status"].clone()), Some(serde_json::json!("pass")), "exit {code}: {report:#}");
    let log = std::fs::read_to_string(a.sshd_log()).unwrap_or_default();
    assert!(log[before..].matches("Accepted publickey").count() >= 3, "trust, deploy and check went through the bastion:\n{}", &log[before..]);

    // Without the stored hop, the inner host is out of reach from here.
    ck.run(&["instance", "edit", "inner", "--jump-via", ""]).ok();
    let r = ck.run(&["deploy", "inner", "--yes", "--connect-timeout", "3"]).fails();
    assert!(r.stderr.contains("inner"), "{}", r.stderr);
    ck.run(&["instance", "edit", "inner", "--jump-via", "bastion"]).ok();
    let r = ck.run(&["instance", "remove", "bastion", "--yes"]).fails();
    assert!(r.stderr.contains("jump host of inner"), "{}", r.stderr);
    b.restore_network().unwrap();
}

#[test]
fn fleet_deploy_one_failing_host_does_not_stop_the_others() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(5)) else { return };
    let ck = Ck::new(&w);
    let mut keys = Vec::new();
    for (i, h) in w.hosts().iter().enumerate() {
        keys.push(ck.add_host(h, &format!("f{i}"), true, RESTART));
    }
    w.host(2).cut_network().unwrap();
    let r = ck.run(&["deploy", "--tag", "fleet", "--yes", "--connect-timeout", "2", "--concurrency", "3"]).fails();
    assert!(r.stderr.contains("1 of 5 instance(s) failed"), "{}", r.stderr);
    let rows: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(rows.iter().filter(|l| l.contains("succeeded")).count(), 4, "{}", r.stdout);
    assert!(rows.iter().any(|l| l.starts_with("f2") && l.contains("failed")), "{}", r.stdout);
    for (i, h) in w.hosts().iter().enumerate() {
        if i != 2 {
            assert_eq!(gateway_key(h).as_deref(), Some(keys[i].as_str()));
        }
    }
    w.host(2).restore_network().unwrap();
    // --all needs --yes (or --dry-run)
    let r = ck.run(&["deploy", "--all"]).fails();
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    let plans = ck.run(&["deploy", "--all", "--dry-run", "--json"]).ok().json();
    assert_eq!(plans.as_array().unwrap().len(), 5);
    assert!(plans.to_string().contains("(unchanged)"));
}

#[test]
fn fleet_ctrl_c_cancels_cleanly() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(4)) else { return };
    let ck = Ck::new(&w);
    for (i, h) in w.hosts().iter().enumerate() {
        h.write_file(".local/bin/slow-restart", b"#!/bin/sh\nsleep 2\nexec ~/.local/bin/openclaw-gateway-restart\n", 0o755).unwrap();
        ck.add_host(h, &format!("c{i}"), true, "~/.local/bin/slow-restart");
    }
    let before: Vec<String> = w.hosts().iter().map(|h| h.read_file(".openclaw/.env").unwrap()).collect();
    let child = Command::new(&ck.bin)
        .args(["deploy", "--all", "--yes", "--concurrency", "1"])
        .env("CLAWKEEP_HOME", ck.dir.path())
        .env("CLAWKEEP_KEYCHAIN_SERVICE", &ck.service)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first host's .env changed (it is in flight), then Ctrl-C.
    let h0 = w.host(0);
    assert!(clawkeep_tests::sys::wait_until(Duration::from_secs(30), Duration::from_millis(5), || h0.read_file(".openclaw/.env").unwrap() != before[0]));
    clawkeep_tests::sys::kill("INT", &[child.id() as i64]);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // The host in flight finished; the others were never touched.
    assert!(stdout.lines().any(|l| l.starts_with("c0") && l.contains("succeeded")), "{stdout}");
    assert!(stdout.lines().filter(|l| l.contains("cancelled")).count() >= 2, "{stdout}");
    for (i, h) in w.hosts().iter().enumerate().skip(1) {
        if stdout.lines().any(|l| l.starts_with(&format!("c{i} ")) && l.contains("cancelled")) {
            assert_eq!(h.read_file(".openclaw/.env").unwrap(), before[i]);
        }
    }
}

/// The acid test with the REAL OpenClaw gateway: after `clawkeep deploy`, an agent turn reaches
/// the fake Anthropic API with the deployed key in `x-api-key`; after deploying a second
/// (staged) key, the next turn carries the second key. Slow (the real gateway needs 30–40 s to
/// be ready on 2 cores); installs OpenClaw on first use (`CLAWKEEP_OPENCLAW_PREFIX` to reuse one).
#[test]
fn real_openclaw_turns_carry_the_deployed_keys() {
    use clawkeep_tests::{fake::FakeControl, openclaw};
    use fake_anthropic::{FakeAnthropic, Preset};
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).without_gateway()) else { return };
    let h = w.host(0);
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).expect("start fake");
    let ctl = FakeControl::new(fake.base_url());
    let oc = openclaw::ensure_installed().unwrap();
    let ck = Ck::new(&w);
    let port = h.port().to_string();
    let addr = h.addr().to_string();
    ck.run(&["instance", "add", "real", "--host", &addr, "--port", &port, "--user", h.user(), "--owner", "acme", "--env", "prod", "--workload", "bot", "--restart-cmd", RESTART])
        .ok();
    ck.run(&["host", "trust", "real", "--fingerprint", h.host_key_fingerprint()]).ok();
    let key_a = ctl.create_key("deploy-a").unwrap().key;
    let key_b = ctl.create_key("deploy-b").unwrap().key;
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot", "--instance", "real", "--stdin", "--allow-name"], Some(&key_a)).ok();
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot-2", "--instance", "real", "--stdin", "--allow-name"], Some(&key_b)).ok();
    let config_before = h.read_file(".openclaw/openclaw.json").unwrap();

    oc.start_gateway(h, &fake.base_url()).unwrap();
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();

    let turn_key = |msg: &str| -> String {
        let seen_before = ctl.requests().unwrap().len();
        let turn = oc.agent_turn(h, msg, openclaw::TURN_TIMEOUT).unwrap();
        assert!(turn.ok(), "turn failed: {}\n{}\n{}", turn.output.stdout_str(), turn.output.stderr_str(), clawkeep_tests::world::tail(&h.gateway_log(), 30));
        let reqs: Vec<_> = ctl.requests().unwrap().into_iter().skip(seen_before).filter(|r| r.path.ends_with("/v1/messages")).collect();
        let shas: std::collections::BTreeSet<_> = reqs.iter().filter_map(|r| r.api_key_sha256.clone()).collect();
        assert_eq!(shas.len(), 1, "{reqs:?}");
        shas.into_iter().next().unwrap()
    };

    let r = ck.run(&["deploy", "real", "--yes", "--ready-timeout", "240", "--json"]).ok().json();
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(turn_key("Say hello"), clawkeep_tests::layout::key_sha256(&key_a));

    let r = ck.run(&["deploy", "real", "--key", "openclaw-acme-prod-bot-2", "--yes", "--ready-timeout", "240", "--json"]).ok().json();
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(turn_key("Say hello again"), clawkeep_tests::layout::key_sha256(&key_b));

    // Clawkeep never edited openclaw.json (meta and the user's settings kept as they were,
    // apart from what OpenClaw itself rewrites), and never printed a key.
    let config_after = h.read_file(".openclaw/openclaw.json").unwrap();
    assert!(config_after.contains("meta"), "{config_after}");
    let _ = config_before;
    for k in [&key_a, &key_b] {
        assert!(!contains(&ck.transcript.lock().unwrap(), k));
        assert!(!h.gateway_log().contains(k.as_str()));
    }
    h.stop_gateway().unwrap();
}

/// Method (b) with the REAL OpenClaw: `clawkeep deploy` of an `auth-profile` instance pastes the
/// key into every agent's auth profile over stdin (hot, no restart); the next turn carries it;
/// a second (staged) key replaces it, again without a restart.
#[test]
fn real_openclaw_auth_profile_method_is_hot() {
    use clawkeep_tests::{fake::FakeControl, openclaw};
    use fake_anthropic::{FakeAnthropic, Preset};
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).without_gateway()) else { return };
    let h = w.host(0);
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).expect("start fake");
    let ctl = FakeControl::new(fake.base_url());
    let oc = openclaw::ensure_installed().unwrap();
    oc.install_cli_on_host(h).unwrap(); // ~/.local/bin/openclaw: where the probe looks
    let ck = Ck::new(&w);
    ck.add_instance(h, "prof", RESTART, &["--injection", "auth-profile"]);
    ck.run(&["host", "trust", "prof", "--fingerprint", h.host_key_fingerprint()]).ok();
    let key_a = ctl.create_key("profile-a").unwrap().key;
    let key_b = ctl.create_key("profile-b").unwrap().key;
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot", "--instance", "prof", "--stdin", "--allow-name"], Some(&key_a)).ok();
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot-2", "--instance", "prof", "--stdin", "--allow-name"], Some(&key_b)).ok();
    oc.start_gateway(h, &fake.base_url()).unwrap();
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();
    let pid = h.gateway_pid();

    let turn_key = |msg: &str| -> String {
        let seen_before = ctl.requests().unwrap().len();
        let turn = oc.agent_turn(h, msg, openclaw::TURN_TIMEOUT).unwrap();
        assert!(turn.ok(), "turn failed: {}\n{}", turn.output.stdout_str(), turn.output.stderr_str());
        let reqs: Vec<_> = ctl.requests().unwrap().into_iter().skip(seen_before).filter(|r| r.path.ends_with("/v1/messages")).collect();
        let shas: std::collections::BTreeSet<_> = reqs.iter().filter_map(|r| r.api_key_sha256.clone()).collect();
        assert_eq!(shas.len(), 1, "{reqs:?}");
        shas.into_iter().next().unwrap()
    };
    let sampler = ArgvSampler::start(vec![key_a.clone(), key_b.clone()]);
    let r = ck.run(&["deploy", "prof", "--yes", "--json"]).ok().json();
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(turn_key("Say hello"), clawkeep_tests::layout::key_sha256(&key_a));
    let r = ck.run(&["deploy", "prof", "--key", "openclaw-acme-prod-bot-2", "--yes", "--json"]).ok().json();
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(turn_key("Say hello again"), clawkeep_tests::layout::key_sha256(&key_b));
    assert!(!sampler.finish().0, "a key appeared in some process's argv");
    assert_eq!(h.gateway_pid(), pid, "the auth-profile method must not restart the gateway");
    let cfg = h.read_file(".openclaw/openclaw.json").unwrap();
    assert!(cfg.contains("meta"), "{cfg}");
    h.stop_gateway().unwrap();
}

/// Method (c) with the REAL OpenClaw: the key in a 0600 file referenced by a file SecretRef
/// (config gains the provider, `meta` kept); the second key is hot-reloaded with
/// `openclaw secrets reload`, no restart. Refused while `.env` sets ANTHROPIC_API_KEY.
#[test]
fn real_openclaw_secret_file_method() {
    use clawkeep_tests::{fake::FakeControl, openclaw};
    use fake_anthropic::{FakeAnthropic, Preset};
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).without_gateway()) else { return };
    let h = w.host(0);
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).expect("start fake");
    let ctl = FakeControl::new(fake.base_url());
    let oc = openclaw::ensure_installed().unwrap();
    oc.install_cli_on_host(h).unwrap(); // ~/.local/bin/openclaw: where the probe looks
    let ck = Ck::new(&w);
    ck.add_instance(h, "sf", RESTART, &["--injection", "secret-file"]);
    ck.run(&["host", "trust", "sf", "--fingerprint", h.host_key_fingerprint()]).ok();
    let key_a = ctl.create_key("file-a").unwrap().key;
    let key_b = ctl.create_key("file-b").unwrap().key;
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot", "--instance", "sf", "--stdin", "--allow-name"], Some(&key_a)).ok();
    ck.run_with(&["key", "add", "openclaw-acme-prod-bot-2", "--instance", "sf", "--stdin", "--allow-name"], Some(&key_b)).ok();
    oc.start_gateway(h, &fake.base_url()).unwrap();
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();

    // An env var would beat the SecretRef: refused.
    let env_before = h.read_file(".openclaw/.env").unwrap();
    h.write_file(".openclaw/.env", format!("{env_before}ANTHROPIC_API_KEY={}\n", fake_key()).as_bytes(), 0o600).unwrap();
    let r = ck.run(&["deploy", "sf", "--dry-run"]).ok();
    assert!(r.stdout.contains("BLOCKED") && r.stdout.contains("beats a config SecretRef"), "{}", r.stdout);
    ck.run(&["deploy", "sf", "--yes"]).fails();
    h.write_file(".openclaw/.env", env_before.as_bytes(), 0o600).unwrap();

    let turn_key = |msg: &str| -> String {
        let seen_before = ctl.requests().unwrap().len();
        let turn = oc.agent_turn(h, msg, openclaw::TURN_TIMEOUT).unwrap();
        assert!(turn.ok(), "turn failed: {}\n{}", turn.output.stdout_str(), turn.output.stderr_str());
        let reqs: Vec<_> = ctl.requests().unwrap().into_iter().skip(seen_before).filter(|r| r.path.ends_with("/v1/messages")).collect();
        let shas: std::collections::BTreeSet<_> = reqs.iter().filter_map(|r| r.api_key_sha256.clone()).collect();
        assert_eq!(shas.len(), 1, "{reqs:?}");
        shas.into_iter().next().unwrap()
    };
    let r = ck.run(&["deploy", "sf", "--yes", "--ready-timeout", "240", "--json"]).ok().json();
    assert_eq!(r["outcome"], "succeeded", "{r}");
    let md = std::fs::metadata(h.home().join(".openclaw/secrets/anthropic-api-key")).unwrap();
    assert_eq!((md.mode() & 0o777, md.uid()), (0o600, h.uid()));
    assert_eq!(turn_key("Say hello"), clawkeep_tests::layout::key_sha256(&key_a));
    let pid = h.gateway_pid();
    let r = ck.run(&["deploy", "sf", "--key", "openclaw-acme-prod-bot-2", "--yes", "--json"]).ok().json();
    assert_eq!(r["outcome"], "succeeded", "{r}");
    assert_eq!(h.gateway_pid(), pid, "secrets reload is hot");
    assert_eq!(turn_key("Say hello again"), clawkeep_tests::layout::key_sha256(&key_b));
    let cfg = h.read_file(".openclaw/openclaw.json").unwrap();
    assert!(cfg.contains("\"meta\"") && cfg.contains("clawkeep_anthropic"), "{cfg}");
    h.stop_gateway().unwrap();
}

/// Offline bundle: export (age, passphrase), inspect (redacted), then the decrypted POSIX sh
/// installer applied on a host over `sh -s` (stdin): .env rewritten atomically with the other
/// lines kept, backup kept, gateway restarted with the key, no key in any argv.
#[test]
fn offline_bundle_export_inspect_and_install() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("# hand\nFOO=bar\nANTHROPIC_API_KEY={old}\n").as_bytes(), 0o600).unwrap();
    let key = ck.add_host(h, "offline", true, RESTART);
    let out = ck.dir.path().join("offline.bundle");
    let out_s = out.to_string_lossy().to_string();
    ck.run_with(&["bundle", "export", "offline", "--out", &out_s, "--passphrase-stdin"], Some("correct horse battery\n")).ok();
    assert_eq!(std::fs::metadata(&out).unwrap().mode() & 0o777, 0o600);
    let data = std::fs::read(&out).unwrap();
    assert!(!contains(&data, &key) && String::from_utf8_lossy(&data).contains("BEGIN AGE ENCRYPTED FILE"));
    let r = ck.run_with(&["bundle", "inspect", &out_s, "--passphrase-stdin"], Some("correct horse battery\n")).ok();
    assert!(r.stdout.contains(&format!("{}...", &key[..16])) && r.stdout.contains("ANTHROPIC_API_KEY="), "{}", r.stdout);
    let r = ck.run_with(&["bundle", "inspect", &out_s, "--passphrase-stdin"], Some("wrong passphrase\n")).fails();
    assert!(r.stderr.contains("cannot open the bundle"), "{}", r.stderr);
    assert!(!contains(&ck.transcript.lock().unwrap(), &key));
    assert!(ck.run(&["audit", "--json"]).ok().stdout.contains("bundle.export"));

    // Install on the host, the way a person would after `age -d`.
    let pass = clawkeep_core::Secret::new("correct horse battery".into());
    let script = clawkeep_core::bundle::decrypt(&data, Some(&pass), None).unwrap();
    let sampler = ArgvSampler::start(vec![key.clone(), old.clone()]);
    let o = h.ssh_with("sh -s", Some(script.expose().as_bytes()), Duration::from_secs(60)).unwrap();
    let (leaked, _) = sampler.finish();
    assert!(o.success(), "{}\n{}", o.stdout_str(), o.stderr_str());
    assert!(!leaked, "a key appeared in some process's argv");
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), format!("# hand\nFOO=bar\nANTHROPIC_API_KEY={key}\n"));
    assert_eq!(std::fs::metadata(h.env_path()).unwrap().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(h.env_path()).unwrap().uid(), h.uid());
    assert!(h.read_file(".openclaw/.env.clawkeep-bak").unwrap().contains(&old));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
}

/// Files under `dir` (not following links, at most 1 MB each) whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else { continue };
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() && md.len() <= 1 << 20 && std::fs::read(&p).is_ok_and(|b| contains(&b, needle)) {
                found.push(p);
            }
        }
    }
    found
}

/// Issue 12 finding 4: the printed instructions, followed with Debian's stock `age` on the host,
/// decrypt straight into `sh` — no plaintext installer is left anywhere (the old ones decrypted
/// to `install.sh` with the user's umask and nothing deleted it) — and install the key; and
/// `bundle inspect` tells our bundle (signed with this Clawkeep's key from the keychain) from a
/// forged one encrypted to the same recipient, and from another Clawkeep's.
#[test]
fn offline_bundle_instructions_leave_no_plaintext_and_inspect_detects_forgery() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    assert!(Command::new("age").arg("--version").output().is_ok_and(|o| o.status.success()), "Debian's age is needed (scripts/install-deps.sh)");
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("FOO=bar\nANTHROPIC_API_KEY={old}\n").as_bytes(), 0o600).unwrap();
    let key = ck.add_host(h, "offline", true, RESTART);
    // A throw-away age identity (made at run time) and its recipient.
    let id_path = ck.dir.path().join("age-id.txt");
    assert!(Command::new("age-keygen").arg("-o").arg(&id_path).output().unwrap().status.success());
    let recipient = String::from_utf8(Command::new("age-keygen").arg("-y").arg(&id_path).output().unwrap().stdout).unwrap().trim().to_string();
    let out = ck.dir.path().join("offline.bundle");
    let out_s = out.to_string_lossy().to_string();
    let r = ck.run(&["bundle", "export", "offline", "--out", &out_s, "--recipient", &recipient]).ok();
    let instruction =
        r.stdout.lines().map(str::trim).find(|l| l.starts_with("age -d") && l.ends_with("| sh -s")).unwrap_or_else(|| panic!("no pipe instruction:\n{}", r.stdout)).to_string();
    assert!(instruction.contains("offline.bundle") && instruction.contains("IDENTITY_FILE"), "{instruction}");
    assert!(r.stdout.contains("no decrypted file"), "the instructions say nothing is written: {}", r.stdout);

    // Follow the instructions on the host, as its user, from its home directory.
    let data = std::fs::read(&out).unwrap();
    h.write_file("offline.bundle", &data, 0o600).unwrap();
    h.write_file("age-id.txt", &std::fs::read(&id_path).unwrap(), 0o600).unwrap();
    let cmd = format!("cd && {}", instruction.replace("IDENTITY_FILE", "age-id.txt"));
    let sampler = ArgvSampler::start(vec![key.clone(), old.clone()]);
    let o = h.ssh_with(&cmd, None, Duration::from_secs(90)).unwrap();
    let (leaked, _) = sampler.finish();
    assert!(o.success(), "{cmd}\n{}\n{}", o.stdout_str(), o.stderr_str());
    assert!(!leaked, "a key appeared in some process's argv");
    assert_eq!(env_key(h).as_deref(), Some(key.as_str()));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
    let holding = files_containing(h.home(), &key);
    assert_eq!(holding, vec![h.env_path()], "the key is in a file other than .env on the host");
    assert!(files_containing(h.home(), "clawkeep-manifest").is_empty(), "a decrypted installer was left on the host");
    for tmp in ["/tmp", "/var/tmp", "/dev/shm"] {
        let left: Vec<_> =
            files_containing(std::path::Path::new(tmp), &key).into_iter().filter(|p| !p.starts_with(h.home()) && std::fs::metadata(p).is_ok_and(|m| m.uid() == h.uid())).collect();
        assert!(left.is_empty(), "plaintext left in {tmp}: {left:?}");
    }

    // inspect: ours is signed by this Clawkeep.
    let id_s = id_path.to_string_lossy().to_string();
    let r = ck.run(&["bundle", "inspect", &out_s, "--identity", &id_s]).ok();
    assert!(r.stdout.contains("signed by this Clawkeep (key id "), "{}", r.stdout);
    let key_id = r.stdout.split("key id ").nth(1).unwrap().split(')').next().unwrap().to_string();
    let j = ck.run(&["--json", "bundle", "inspect", &out_s, "--identity", &id_s]).ok().json();
    assert_eq!(j["authentic"], true, "{j}");
    assert_eq!(j["signer_key_id"], key_id.as_str(), "{j}");

    // A forged installer encrypted to the same recipient with stock age: the genuine manifest and
    // signature line copied, another body.
    let ident = std::fs::read_to_string(&id_path).unwrap();
    let genuine = clawkeep_core::bundle::decrypt(&data, None, Some(&ident)).unwrap();
    let forged_bodies = [
        genuine.expose().replacen("set -eu\n", "set -eu\necho forged >&2\n", 1),
        genuine.expose().lines().filter(|l| !l.starts_with("# clawkeep-signature:")).map(|l| format!("{l}\n")).collect::<String>(),
        format!("#!/bin/sh\n{}\necho forged\n", genuine.expose().lines().find(|l| l.starts_with("# clawkeep-manifest: ")).unwrap()),
    ];
    for (i, body) in forged_bodies.iter().enumerate() {
        assert_ne!(body, genuine.expose());
        let forged = ck.dir.path().join(format!("forged-{i}.bundle"));
        let mut age = Command::new("age").args(["-a", "-r", &recipient, "-o"]).arg(&forged).stdin(Stdio::piped()).spawn().unwrap();
        age.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        assert!(age.wait().unwrap().success());
        let r = ck.run(&["bundle", "inspect", &forged.to_string_lossy(), "--identity", &id_s]).fails();
        assert!(r.stdout.contains("NOT from this Clawkeep") && r.stderr.contains("error[bundle_unverified]"), "forgery {i}:\n{}\n{}", r.stdout, r.stderr);
        assert!(!r.stdout.contains("signed by this Clawkeep"), "forgery {i}: {}", r.stdout);
    }

    // Another Clawkeep's genuine bundle is not ours either.
    let other = Ck::new(&w);
    other.add_host(h, "offline", true, RESTART);
    let theirs = other.dir.path().join("theirs.bundle");
    other.run(&["bundle", "export", "offline", "--out", &theirs.to_string_lossy(), "--recipient", &recipient]).ok();
    let r = ck.run(&["bundle", "inspect", &theirs.to_string_lossy(), "--identity", &id_s]).fails();
    assert!(r.stdout.contains("NOT from this Clawkeep"), "{}", r.stdout);
    assert!(other.run(&["bundle", "inspect", &theirs.to_string_lossy(), "--identity", &id_s]).ok().stdout.contains("signed by this Clawkeep"));
    assert!(!contains(&ck.transcript.lock().unwrap(), &key));
}

/// SSH identities: an encrypted key file (core takes the passphrase as a `Secret`; the CLI
/// refuses to guess without a terminal) and the ssh-agent (through the CLI).
#[test]
fn ssh_auth_encrypted_key_file_and_agent() {
    use clawkeep_core::ssh::{HostSession, SshAuth, SshOptions, SshTarget};
    use clawkeep_core::Secret;
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let tmp = tempfile::tempdir().unwrap();
    let kp = tmp.path().join("id_enc");
    assert!(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "sesame-open-42", "-f"]).arg(&kp).status().unwrap().success());
    let auth_keys = h.dir().join("authorized_keys");
    let mut ak = std::fs::read_to_string(&auth_keys).unwrap();
    ak.push_str(&std::fs::read_to_string(kp.with_extension("pub")).unwrap());
    std::fs::write(&auth_keys, ak).unwrap();
    assert!(clawkeep_core::ssh::key_file_is_encrypted(&kp).unwrap());

    let target = SshTarget { instance: "enc".into(), host: h.addr().to_string(), port: h.port(), user: h.user().into(), pinned: Some(h.host_key_fingerprint().into()), jump: None };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = SshOptions::default();
    rt.block_on(async {
        let good = SshAuth::KeyFile { path: kp.clone(), passphrase: Some(Secret::new("sesame-open-42".into())) };
        let s = HostSession::connect(&target, &good, &opts).await.unwrap();
        let o = s.exec("t", "cat; id -un", Some(b"from-stdin\n"), Duration::from_secs(10)).await.unwrap();
        assert!(o.success() && o.stdout().contains("from-stdin") && o.stdout().contains(h.user()), "{o:?}");
        s.close().await;
        let none = SshAuth::KeyFile { path: kp.clone(), passphrase: None };
        let e = HostSession::connect(&target, &none, &opts).await.unwrap_err();
        assert_eq!(e.code(), "ssh_passphrase_needed", "{e}");
        let bad = SshAuth::KeyFile { path: kp.clone(), passphrase: Some(Secret::new("zq-bad-pass-77".into())) };
        let e = HostSession::connect(&target, &bad, &opts).await.unwrap_err();
        assert_eq!(e.code(), "ssh_auth", "{e}");
        assert!(!format!("{e:?} {e}").contains("zq-bad-pass-77"), "the passphrase leaked into the error");
    });

    // CLI: an encrypted key without a terminal is refused with the way out; the agent works.
    let ck = Ck::new(&w);
    let key = ck.add_host(h, "agent", true, RESTART);
    ck.run(&["settings", "set-ssh-identity", "--key-file", &kp.to_string_lossy()]).ok();
    let r = ck.run(&["deploy", "agent", "--yes"]).fails();
    assert!(r.stderr.contains("encrypted") && r.stderr.contains("ssh-agent"), "{}", r.stderr);

    // The desktop's path: the same data dir through core; locked, the deploy says what is
    // needed; a wrong passphrase is refused; unlocked for the session, it deploys over SSH.
    {
        use clawkeep_core::api::deploys::DeployRequest;
        use clawkeep_core::deploy::{no_progress, CancellationToken, Outcome};
        let core = clawkeep_core::Clawkeep::open(clawkeep_core::OpenOptions {
            data_dir: Some(ck.dir.path().into()),
            keychain: Some(std::sync::Arc::new(clawkeep_core::OsKeychain::new(ck.service.clone()))),
            ..Default::default()
        })
        .unwrap();
        let apply = DeployRequest { apply: true, expected_plan: None, remove_stale: false, ..Default::default() };
        assert_eq!(core.ssh_key_unlocked().unwrap(), Some(false));
        let r = core.run_deploy("agent", None, &apply, &clawkeep_core::SshCredentials::Configured, no_progress(), &CancellationToken::new()).unwrap();
        assert_eq!(r.error.as_ref().map(|e| e.code.as_str()), Some("ssh_passphrase_needed"), "{:?}", r.error);
        let e = core.unlock_ssh_key(Secret::new("zq-bad-pass-77".into())).unwrap_err();
        assert_eq!(e.code(), "invalid_input");
        assert!(!format!("{e:?} {e}").contains("zq-bad-pass-77"));
        assert!(core.unlock_ssh_key(Secret::new("sesame-open-42".into())).unwrap());
        assert_eq!(core.ssh_key_unlocked().unwrap(), Some(true));
        let r = core.run_deploy("agent", None, &apply, &clawkeep_core::SshCredentials::Configured, no_progress(), &CancellationToken::new()).unwrap();
        assert_eq!(r.outcome, Outcome::Succeeded, "{:?}", r.error);
        assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
        core.lock_ssh_key();
        assert_eq!(core.ssh_key_unlocked().unwrap(), Some(false));
        assert!(!ck.data_bytes().windows(14).any(|w| w == b"sesame-open-42"), "the passphrase reached the data dir");
    }
    let sock = tmp.path().join("agent.sock");
    let agent_out = Command::new("ssh-agent").arg("-a").arg(&sock).arg("-s").output().unwrap();
    let text = String::from_utf8_lossy(&agent_out.stdout).to_string();
    let agent_pid: i64 = text.split("SSH_AGENT_PID=").nth(1).and_then(|s| s.split(';').next()).and_then(|s| s.parse().ok()).expect("agent pid");
    let added = Command::new("ssh-add").arg("-q").arg(w.client_key()).env("SSH_AUTH_SOCK", &sock).status().unwrap();
    assert!(added.success());
    ck.run(&["settings", "set-ssh-identity", "--agent"]).ok();
    let mut c = Command::new(&ck.bin);
    c.args(["deploy", "agent", "--yes"]).env("CLAWKEEP_HOME", ck.dir.path()).env("CLAWKEEP_KEYCHAIN_SERVICE", &ck.service).env("SSH_AUTH_SOCK", &sock);
    let out = c.output().unwrap();
    clawkeep_tests::sys::kill("TERM", &[agent_pid]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
}

/// One ProxyJump hop: host B is reached through host A's session (`direct-tcpip`), both host
/// keys pinned; `host trust --jump` and `deploy --jump` work; a changed key on B is still refused.
#[test]
fn proxy_jump_one_hop() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(2)) else { return };
    let (a, b) = (w.host(0), w.host(1));
    let ck = Ck::new(&w);
    ck.add_host(a, "jumpbox", true, RESTART);
    let key = ck.add_host(b, "inner", false, RESTART);
    let r = ck.run(&["host", "trust", "inner", "--jump", "jumpbox", "--fingerprint", b.host_key_fingerprint()]).ok();
    assert!(r.stdout.contains("pinned"), "{}", r.stdout);
    let before = std::fs::read_to_string(a.sshd_log()).unwrap_or_default().len();
    ck.run(&["deploy", "inner", "--jump", "jumpbox", "--yes"]).ok();
    assert_eq!(gateway_key(b).as_deref(), Some(key.as_str()));
    // the jump host was logged into during the deploy to `inner` (nothing else talks to it)
    let log = std::fs::read_to_string(a.sshd_log()).unwrap_or_default();
    assert!(log[before..].contains("Accepted publickey"), "{}", &log[before..]);
    let new_fp = b.replace_host_key().unwrap();
    let r = ck.run(&["deploy", "inner", "--jump", "jumpbox", "--yes"]).fails();
    assert!(r.stderr.contains("HOST KEY MISMATCH") && r.stderr.contains(&new_fp), "{}", r.stderr);
    b.restore_host_key().unwrap();
}

// ---- issue 12: host text, .env forms, changed hosts, ownership ----------------------------

/// Every text a run printed or stored: the transcript and the data dir (SQLite, WAL included).
fn assert_nowhere(ck: &Ck, secrets: &[&str]) {
    let audit = ck.run(&["audit", "--json"]).ok().stdout;
    for k in secrets {
        assert!(!contains(&ck.transcript.lock().unwrap(), k), "a host's key was printed");
        assert!(!contains(&ck.data_bytes(), k), "a host's key is in the data dir");
        assert!(!audit.contains(*k), "a host's key is in the audit log");
    }
}

/// Finding 1: a broken `openclaw.json` with an unquoted literal key blocks the deploy, and the
/// key is in none of the CLI's output, the plan the desktop gets, `deployments.error`, audit.
#[test]
fn broken_config_with_a_literal_key_blocks_without_leaking_it() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let canary = fake_key();
    let cfg = format!("{{\n  meta: {{}},\n  gateway: {{ port: {} }},\n  models: {{ providers: {{ anthropic: {{ apiKey: {canary} }} }} }},\n}}\n", h.gateway_port());
    h.write_file(".openclaw/openclaw.json", cfg.as_bytes(), 0o600).unwrap();
    let key = ck.add_host(h, "kappa", true, RESTART);
    let r = ck.run(&["deploy", "kappa", "--yes"]).fails();
    assert!(!r.stdout.contains(&canary) && !r.stderr.contains(&canary), "the host's key was printed");
    assert!(r.stdout.contains("BLOCKED") && r.stdout.contains("not valid JSON5") && r.stdout.contains("line 4"), "{}", r.stdout);
    ck.run(&["deploy", "kappa", "--yes", "--json"]).fails();
    ck.run(&["deploy", "kappa", "--dry-run", "--json"]);
    let hist = ck.run(&["deploy", "history", "kappa", "--json"]).ok().json();
    assert_eq!(hist[0]["outcome"], "refused", "{hist}");
    // The desktop's path: the plan it receives.
    let core = clawkeep_core::Clawkeep::open(clawkeep_core::OpenOptions {
        data_dir: Some(ck.dir.path().into()),
        keychain: Some(std::sync::Arc::new(clawkeep_core::OsKeychain::new(ck.service.clone()))),
        ..Default::default()
    })
    .unwrap();
    let cancel = clawkeep_core::deploy::CancellationToken::new();
    let preview = core.run_deploy("kappa", None, &Default::default(), &clawkeep_core::SshCredentials::Configured, clawkeep_core::deploy::no_progress(), &cancel).unwrap();
    let sent = serde_json::to_string(&preview).unwrap();
    assert!(sent.contains("not valid JSON5"), "{sent}");
    assert!(!sent.contains(&canary), "the plan sent to the app holds the host's key");
    drop(core);
    assert_nowhere(&ck, &[&canary, &key]);
    assert_eq!(h.read_file(".openclaw/openclaw.json").unwrap(), cfg, "nothing written");
}

/// Finding 5 (c): a `.env` with CRLF line endings, `export` and quotes deploys and verifies;
/// only the value changes.
#[test]
fn crlf_export_and_quoted_env_deploys_and_verifies() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    let before = format!("# kept\r\nFOO=1\r\nexport ANTHROPIC_API_KEY=\"{old}\"  # rotated by hand\r\nBAR='x y'\r\n");
    h.write_file(".openclaw/.env", before.as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
    let key = ck.add_host(h, "lam", true, RESTART);
    let r = ck.run(&["deploy", "lam", "--yes", "--json"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["outcome"], "succeeded");
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), before.replace(&old, &key));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
    assert_eq!(h.read_file(".openclaw/.env.clawkeep-bak").unwrap(), before);
    // A second deploy of the same key: the plan sees it as unchanged (the value is read right).
    let plan = ck.run(&["deploy", "lam", "--dry-run", "--json"]).ok().json();
    assert_eq!(plan["plan"]["unchanged"], true, "{plan}");
}

/// Finding 5 (a): a line added to `.env` on the host while the plan waits for the person's
/// answer is not lost: apply refuses and writes nothing (driven through the core session, as
/// the interactive CLI does).
#[test]
fn host_edit_between_plan_and_apply_is_refused() {
    use clawkeep_core::deploy::{no_progress, CancellationToken, DeployOptions, DeploySession, Outcome};
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={old}\n").as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    let _key = ck.add_host(h, "mu", true, RESTART);
    let core = clawkeep_core::Clawkeep::open(clawkeep_core::OpenOptions {
        data_dir: Some(ck.dir.path().into()),
        keychain: Some(std::sync::Arc::new(clawkeep_core::OsKeychain::new(ck.service.clone()))),
        ..Default::default()
    })
    .unwrap();
    let job = core.prepare_deploy("mu", None).unwrap();
    let auth = core.ssh_login(&clawkeep_core::SshCredentials::Configured).unwrap();
    let edited = format!("ANTHROPIC_API_KEY={old}\nADDED_WHILE_ASKING=1\n");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let report = rt.block_on(async {
        let opts = DeployOptions::default();
        let session = DeploySession::open(&job, &auth, &opts).await.unwrap();
        let plan = session.plan().await.unwrap();
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        // The person reads the plan; someone edits the host meanwhile.
        h.write_file(".openclaw/.env", edited.as_bytes(), 0o600).unwrap();
        let r = session.apply(plan, &no_progress(), &CancellationToken::new()).await;
        session.close().await;
        r
    });
    assert_eq!(report.outcome, Outcome::Refused, "{:?}", report.error);
    assert!(report.error.as_ref().unwrap().message.contains("changed since its plan was shown"), "{:?}", report.error);
    assert_eq!(h.read_file(".openclaw/.env").unwrap(), edited, "nothing is written");
    assert!(!h.home().join(".openclaw/.env.clawkeep-bak").exists(), "no backup written either");
    assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
}

/// Finding 5 (b): the write keeps the file's group (mode forced to 0600).
#[test]
fn env_keeps_its_group() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    if !clawkeep_tests::sys::is_root() {
        return;
    }
    let h = w.host(0);
    let ck = Ck::new(&w);
    // The host user is also in the `users` group (gid 100); the .env belongs to that group.
    clawkeep_tests::sys::run_ok("/usr/sbin/usermod", &["-aG", "users", h.user()]).unwrap();
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={old}\n").as_bytes(), 0o640).unwrap();
    std::os::unix::fs::chown(h.env_path(), Some(h.uid()), Some(100)).unwrap();
    h.ssh_restart_gateway().unwrap();
    let key = ck.add_host(h, "nu", true, RESTART);
    ck.run(&["deploy", "nu", "--yes"]).ok();
    assert_eq!(env_key(h).as_deref(), Some(key.as_str()));
    let md = std::fs::metadata(h.env_path()).unwrap();
    assert_eq!((md.uid(), md.gid(), md.mode() & 0o777), (h.uid(), 100, 0o600));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
}

/// Findings 6 and 11: a restart wrapper that fails, prints escape sequences and echoes the
/// `.env` (keys) to stderr: neither the keys nor the raw escapes reach the terminal, the
/// deployment history or the audit log.
#[test]
fn failing_restart_stderr_is_masked_and_neutralised() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={old}\n").as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    h.write_file(".local/bin/loud-restart", b"#!/bin/sh\nprintf '\\033[2J\\033]0;owned\\007restart failed\\n' >&2\ncat \"$HOME/.openclaw/.env\" >&2\nexit 1\n", 0o755).unwrap();
    let key = ck.add_host(h, "xi", true, "~/.local/bin/loud-restart");
    let r = ck.run(&["deploy", "xi", "--yes"]).fails();
    assert!(r.stdout.contains("restart failed") || r.stderr.contains("restart failed"), "{}\n{}", r.stdout, r.stderr);
    ck.run(&["deploy", "xi", "--yes", "--json"]).fails();
    let hist = ck.run(&["deploy", "history", "xi", "--json"]).ok().json();
    assert!(hist[0]["error"]["message"].as_str().unwrap().contains("restart failed"), "{hist}");
    let t = ck.transcript.lock().unwrap().clone();
    assert!(!t.contains(&0x1b) && !t.contains(&0x07), "a raw escape sequence reached the terminal");
    for esc in ["\u{1b}[2J", "\u{1b}]0;owned"] {
        assert!(!contains(&ck.data_bytes(), esc), "a raw escape sequence was stored");
    }
    assert_nowhere(&ck, &[&old, &key]);
}

// ---- Faults real hosts have (issue 14, item 3) ----

/// Names of files in `dir` that a write left behind (`…clawkeep-tmp-…`).
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.contains("clawkeep-tmp")).collect()
}

/// The flaky restart of `verification_failure_rolls_back_to_the_previous_key`: the first
/// restart after `~/fail-next-restart` appears freezes the gateway (never ready).
const FLAKY_RESTART: &[u8] = b"#!/bin/sh\nst=\"$HOME/.local/state/clawkeep-gw\"\nif [ -f \"$HOME/fail-next-restart\" ]; then rm -f \"$HOME/fail-next-restart\"; kill -STOP \"$(cat \"$st/gateway.pid\")\"; exit 0; fi\nkill -CONT \"$(cat \"$st/gateway.pid\")\" 2>/dev/null\nexec ~/.local/bin/openclaw-gateway-restart\n";

/// A host without an SFTP subsystem (no `Subsystem sftp` line, and one whose sftp server is
/// missing, as dropbear without `sftp-server`): deploy, verify and rollback work over the exec
/// channel, byte-exact, with the same atomic write, and nothing waits for a timeout (every
/// command runs under a 20 s hang deadline; before, `home` hung 60 s and blamed the network).
#[test]
fn no_sftp_host_deploys_verifies_and_rolls_back_over_exec() {
    use clawkeep_tests::cli::Ck as CliCk;
    use clawkeep_tests::SftpSubsystem;
    let Some(w) = World::start_or_skip(WorldOptions::hosts(2)) else { return };
    for (h, mode, name) in [(w.host(0), SftpSubsystem::None, "nosftp"), (w.host(1), SftpSubsystem::Broken, "brokensftp")] {
        h.set_sftp(mode).unwrap();
        let mut ck = CliCk::for_world(&w);
        // A hang detector, not a timing assertion: a working deploy takes a few seconds, the
        // old behaviour waited for the 60 s SFTP timeout.
        ck.timeout = Duration::from_secs(20);
        let old = fake_key();
        // Bytes a text conversion would change: CRLF, a non-UTF-8 byte, no final newline.
        let before = [format!("# {name}\r\nA=1\r\nANTHROPIC_API_KEY={old}\r\nLATIN1=").as_bytes(), b"caf\xe9"].concat();
        h.write_file(".openclaw/.env", &before, 0o600).unwrap();
        h.ssh_restart_gateway().unwrap();
        ck.add_instance(h, name, RESTART, &[]).ok();
        ck.trust(h, name).ok();
        let key = fake_key();
        ck.add_key(name, &format!("openclaw-acme-prod-bot-{name}"), &key).ok();

        let plan = ck.run(&["deploy", name, "--dry-run", "--json"]).ok().json();
        assert!(plan.to_string().contains("no SFTP subsystem"), "{plan}");
        let t0 = Instant::now();
        let r = ck.run(&["deploy", name, "--yes", "--json"]).ok();
        eprintln!("{name}: deploy + verify over exec took {:?}", t0.elapsed());
        assert_eq!(r.json()["outcome"], "succeeded", "{}", r.stdout);
        let after = std::fs::read(h.env_path()).unwrap();
        let want = [format!("# {name}\r\nA=1\r\nANTHROPIC_API_KEY={key}\r\nLATIN1=").as_bytes(), b"caf\xe9"].concat();
        assert_eq!(after, want, "only the value changed, byte for byte");
        assert_eq!(std::fs::read(h.home().join(".openclaw/.env.clawkeep-bak")).unwrap(), before, "the backup is the old file, byte for byte");
        let md = std::fs::metadata(h.env_path()).unwrap();
        assert_eq!((md.mode() & 0o777, md.uid(), md.gid()), (0o600, h.uid(), h.uid_gid().1));
        assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
        assert!(temp_files(&h.home().join(".openclaw")).is_empty());
        let plan = ck.run(&["deploy", name, "--dry-run", "--json"]).ok().json();
        assert_eq!(plan["plan"]["unchanged"], true, "the key is read back right over exec: {plan}");

        // Rollback over exec: the first restart freezes the gateway; the previous key returns.
        h.write_file(".local/bin/flaky-restart", FLAKY_RESTART, 0o755).unwrap();
        ck.run(&["instance", "edit", name, "--restart-cmd", "~/.local/bin/flaky-restart"]).ok();
        let k2 = fake_key();
        ck.add_key(name, &format!("openclaw-acme-prod-bot-{name}-2"), &k2).ok();
        h.write_file("fail-next-restart", b"", 0o644).unwrap();
        let r = ck.run(&["deploy", name, "--key", &format!("openclaw-acme-prod-bot-{name}-2"), "--yes", "--ready-timeout", "4", "--json"]).fails();
        let rep = r.json();
        assert_eq!(rep["outcome"], "rolled-back", "{rep}");
        assert_eq!(std::fs::read(h.env_path()).unwrap(), want, "the previous .env is back, byte for byte");
        assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
        assert!(temp_files(&h.home().join(".openclaw")).is_empty());
        for k in [&old, &key, &k2] {
            assert!(!clawkeep_tests::cli::contains(&ck.transcript(), k.as_bytes()), "key printed");
            assert!(!contains(&std::fs::read(h.sshd_log()).unwrap_or_default(), k), "key in sshd log (argv)");
        }
    }
}

/// A full disk: the write fails half-way (a small tmpfs over the state dir, filled up). The
/// deploy fails with `disk_full`, `.env` is intact byte for byte, no temp file or backup is
/// left, the gateway keeps its key; with SFTP and over exec alike.
#[test]
fn disk_full_fails_clearly_and_leaves_env_intact() {
    use clawkeep_tests::SftpSubsystem;
    let Some(w) = World::start_or_skip(WorldOptions::hosts(2)) else { return };
    if !clawkeep_tests::sys::is_root() {
        return;
    }
    for (h, mode, name) in [(w.host(0), SftpSubsystem::Internal, "fullsftp"), (w.host(1), SftpSubsystem::None, "fullexec")] {
        if mode != SftpSubsystem::Internal {
            h.set_sftp(mode).unwrap();
        }
        let ck = Ck::new(&w);
        let old = fake_key();
        let before = format!("# kept\nANTHROPIC_API_KEY={old}\nB=2\n");
        h.write_file(".openclaw/.env", before.as_bytes(), 0o600).unwrap();
        h.ssh_restart_gateway().unwrap();
        let _key = ck.add_host(h, name, true, RESTART);
        h.mount_small_fs(".openclaw", 256).unwrap();
        h.fill_fs(".openclaw").unwrap();
        let sd = h.home().join(".openclaw");
        let files_before: Vec<String> = {
            let mut v: Vec<String> = std::fs::read_dir(&sd).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            v.sort();
            v
        };
        let r = ck.run(&["deploy", name, "--yes", "--json"]).fails();
        let rep = r.json();
        assert_eq!(rep["outcome"], "failed", "{rep}");
        assert_eq!(rep["error"]["code"], "disk_full", "{rep}");
        assert!(rep["error"]["message"].as_str().unwrap().contains("no space left"), "{rep}");
        assert_eq!(std::fs::read(h.env_path()).unwrap(), before.as_bytes(), "the .env is intact");
        let mut files_after: Vec<String> = std::fs::read_dir(&sd).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        files_after.sort();
        assert_eq!(files_after, files_before, "no temp file, no backup left behind");
        assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
        let hist = ck.run(&["deploy", "history", name, "--json"]).ok().json();
        assert_eq!(hist[0]["error"]["code"], "disk_full", "{hist}");
        // Room again: the same deploy succeeds.
        std::fs::remove_file(sd.join(".filler")).unwrap();
        ck.run(&["deploy", name, "--yes"]).ok();
        assert_eq!(env_key(h).as_deref(), Some(_key.as_str()));
        h.unmount(".openclaw").unwrap();
    }
}

/// The state dir is a symlink (`~/.openclaw -> …/openclaw-data`), and later `.env` itself is
/// one: the deploy writes through to the real file, the links stay links, verify works.
#[test]
fn symlinked_state_dir_and_env_are_written_through() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={old}\nX=1\n").as_bytes(), 0o600).unwrap();
    let real = h.dir().join("openclaw-data");
    let link = h.home().join(".openclaw");
    std::fs::rename(&link, &real).unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(h.uid()), Some(h.uid_gid().1)).unwrap();
    h.ssh_restart_gateway().unwrap();
    assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
    let key = ck.add_host(h, "sym", true, RESTART);
    let r = ck.run(&["deploy", "sym", "--yes", "--json"]).ok();
    assert_eq!(r.json()["outcome"], "succeeded", "{}", r.stdout);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the state dir is still a symlink");
    assert_eq!(std::fs::read_to_string(real.join(".env")).unwrap(), format!("ANTHROPIC_API_KEY={key}\nX=1\n"));
    assert_eq!(gateway_key(h).as_deref(), Some(key.as_str()));
    assert!(temp_files(&real).is_empty());

    // `.env` itself a symlink to a file elsewhere: its target is replaced, the link stays.
    let shared_dir = h.dir().join("shared");
    std::fs::create_dir(&shared_dir).unwrap();
    std::os::unix::fs::chown(&shared_dir, Some(h.uid()), Some(h.uid_gid().1)).unwrap();
    let shared = shared_dir.join("shared.env");
    std::fs::rename(real.join(".env"), &shared).unwrap();
    std::os::unix::fs::symlink(&shared, real.join(".env")).unwrap();
    std::os::unix::fs::lchown(real.join(".env"), Some(h.uid()), Some(h.uid_gid().1)).unwrap();
    let k2 = ck.add_key("sym", "openclaw-acme-prod-bot-sym-2");
    ck.run(&["deploy", "sym", "--key", "openclaw-acme-prod-bot-sym-2", "--yes"]).ok();
    assert!(std::fs::symlink_metadata(real.join(".env")).unwrap().file_type().is_symlink(), ".env is still a symlink");
    assert_eq!(std::fs::read_to_string(&shared).unwrap(), format!("ANTHROPIC_API_KEY={k2}\nX=1\n"));
    let md = std::fs::metadata(&shared).unwrap();
    assert_eq!((md.mode() & 0o777, md.uid()), (0o600, h.uid()));
    assert_eq!(gateway_key(h).as_deref(), Some(k2.as_str()));
    assert!(temp_files(&real).is_empty() && temp_files(&shared_dir).is_empty());
}

/// The gateway runs as another user: its state dir belongs to that user. The plan names the
/// owner and the fix and refuses before writing (readable and unreadable layouts alike).
#[test]
fn state_dir_of_another_user_is_refused_before_writing() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    if !clawkeep_tests::sys::is_root() {
        return;
    }
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    h.write_file(".openclaw/.env", format!("ANTHROPIC_API_KEY={old}\n").as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    ck.add_host(h, "other", true, RESTART);
    let sd = h.home().join(".openclaw");
    let snapshot = || -> Vec<(String, Vec<u8>, u32)> {
        let mut v: Vec<_> = std::fs::read_dir(&sd)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap(), e.metadata().unwrap().mode()))
            .collect();
        v.sort();
        v
    };
    // `nobody` owns it all; first readable (0755/0644), then private (0700/0600).
    clawkeep_tests::sys::run_ok("/usr/bin/chown", &["-R", "65534:65534", sd.to_str().unwrap()]).unwrap();
    for (dir_mode, file_mode, says) in [("755", "644", "cannot create files in it"), ("700", "600", "cannot read")] {
        clawkeep_tests::sys::run_ok("/usr/bin/chmod", &[dir_mode, sd.to_str().unwrap()]).unwrap();
        for f in ["openclaw.json", ".env"] {
            clawkeep_tests::sys::run_ok("/usr/bin/chmod", &[file_mode, sd.join(f).to_str().unwrap()]).unwrap();
        }
        let before = snapshot();
        let r = ck.run(&["deploy", "other", "--yes", "--json"]).fails();
        let rep = r.json();
        assert_eq!(rep["outcome"], "refused", "{rep}");
        let msg = rep["error"]["message"].as_str().unwrap();
        assert!(msg.contains("belongs to user nobody (uid 65534)") && msg.contains(says), "{msg}");
        assert!(msg.contains("Connect as nobody") && msg.contains(&format!("give {} write access", h.user())), "{msg}");
        assert!(!msg.contains("does not exist"), "{msg}");
        assert_eq!(snapshot(), before, "nothing written ({dir_mode})");
        assert!(temp_files(&sd).is_empty());
        assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
    }
}

/// A restart through sudo (a system unit) that sudo would not run without a password — or a
/// host without sudo — is refused by the plan before anything is written (found out after the
/// write, the rollback's restart would fail too).
#[test]
fn sudo_restart_that_needs_a_password_is_refused_before_writing() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1)) else { return };
    let h = w.host(0);
    let ck = Ck::new(&w);
    let old = fake_key();
    let before = format!("ANTHROPIC_API_KEY={old}\n");
    h.write_file(".openclaw/.env", before.as_bytes(), 0o600).unwrap();
    h.ssh_restart_gateway().unwrap();
    ck.add_host(h, "sudo", true, "sudo systemctl restart openclaw-gateway");
    let r = ck.run(&["deploy", "sudo", "--yes", "--json"]).fails();
    let rep = r.json();
    assert_eq!(rep["outcome"], "refused", "{rep}");
    let msg = rep["error"]["message"].as_str().unwrap();
    // No sudo on the host, or sudo without a NOPASSWD rule for the test user.
    assert!(msg.contains("uses sudo, which is not installed") || msg.contains("asks the SSH user"), "{msg}");
    assert_eq!(std::fs::read(h.env_path()).unwrap(), before.as_bytes());
    assert!(!h.home().join(".openclaw/.env.clawkeep-bak").exists() && temp_files(&h.home().join(".openclaw")).is_empty());
    assert_eq!(gateway_key(h).as_deref(), Some(old.as_str()));
}
