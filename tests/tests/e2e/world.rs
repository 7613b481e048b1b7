//! Tests of the SSH test world itself: bring-up (1, 10, 50 hosts), the OpenClaw layout and
//! gateway supervisor, and every fault control as observed from a client (`ssh` CLI or a TCP
//! connect with a timeout), plus cleanup (Drop on panic, `scripts/testhosts.sh down`).
//! They need root + openssh-server + nftables: in CI (`CI=true`) they fail without them,
//! elsewhere they print a reason and skip.

use clawkeep_tests::layout::{key_sha256, parse_env};
use clawkeep_tests::world::{self, teardown_dir};
use clawkeep_tests::{sys, ShellMode, World, WorldOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn world(n: usize) -> Option<World> {
    World::start_or_skip(WorldOptions::hosts(n))
}

/// Asserts every host answers `ssh` as its own user (parallel, bounded to 16 at a time).
fn ssh_all(w: &World) -> Duration {
    let t = Instant::now();
    std::thread::scope(|s| {
        for chunk in w.hosts().chunks(w.hosts().len().div_ceil(16)) {
            s.spawn(move || {
                for h in chunk {
                    let out = h.ssh("id -un").unwrap();
                    assert!(out.success(), "{}: {:?} {}", h.name(), out.code, out.stderr_str());
                    assert_eq!(out.stdout_str().trim(), h.user());
                }
            });
        }
    });
    t.elapsed()
}

#[test]
fn bring_up_1_10_50_hosts() {
    for n in [1, 10, 50] {
        let Some(w) = world(n) else { return };
        let ssh = ssh_all(&w);
        // every host's gateway answers on its own port
        for h in w.hosts() {
            let r = clawkeep_tests::http::get(&format!("{}/healthz", h.gateway_url()), Duration::from_secs(5)).unwrap();
            assert_eq!(r.status, 200, "{}", h.name());
        }
        let up = w.bring_up;
        let t = Instant::now();
        drop(w);
        eprintln!("MEASURE bring-up {n} hosts (sshd + user + layout + mini gateway): {up:?}; ssh to all: {ssh:?}; teardown: {:?}", t.elapsed());
    }
}

#[test]
fn bring_up_timing_without_gateways() {
    let Some(w) = World::start_or_skip(WorldOptions::hosts(50).without_gateway()) else { return };
    eprintln!("MEASURE bring-up 50 hosts without gateways: {:?}", w.bring_up);
    assert!(w.hosts().iter().all(|h| h.is_running()));
}

#[test]
fn hosts_have_distinct_identities_and_openclaw_layout() {
    let Some(w) = world(3) else { return };
    let mut ports = std::collections::HashSet::new();
    let mut fps = std::collections::HashSet::new();
    let kh = std::fs::read_to_string(w.known_hosts()).unwrap();
    for h in w.hosts() {
        assert!(ports.insert(h.gateway_port()), "gateway ports must differ");
        assert!(fps.insert(h.host_key_fingerprint().to_string()), "host keys must differ");
        assert!(h.host_key_fingerprint().starts_with("SHA256:"));
        assert!(kh.contains(&h.known_hosts_line()));
        assert_eq!(h.addr().octets()[0], 127);
        // the config parses as JSON5 and has what OpenClaw insists on
        let cfg: serde_json::Value = json5::from_str(&h.read_file(".openclaw/openclaw.json").unwrap()).unwrap();
        assert!(cfg["meta"].is_object());
        assert_eq!(cfg["gateway"]["mode"], "local");
        assert_eq!(cfg["gateway"]["port"], h.gateway_port());
        assert_eq!(cfg["models"]["providers"]["anthropic"]["api"], "anthropic-messages");
        assert_eq!(cfg["update"]["checkOnStart"], false);
        // ownership and modes as seen by the host user over SSH
        let out = h.ssh("stat -c '%a %U %n' ~/.openclaw ~/.openclaw/.env ~/.openclaw/openclaw.json; test -d ~/.openclaw/agents/main/agent && echo agentdir").unwrap();
        let s = out.stdout_str();
        assert!(s.contains(&format!("700 {} ", h.user())), "{s}");
        assert!(s.contains(&format!("600 {} {}/.openclaw/.env", h.user(), h.home().display())), "{s}");
        assert!(s.contains("agentdir"), "{s}");
        // pinned fingerprint equals what the server presents
        let scan = sys::run_ok("/usr/bin/ssh-keyscan", &["-t", "ed25519", "-p", &h.port().to_string(), &h.addr().to_string()]).unwrap();
        assert!(scan.stdout_str().contains(h.host_public_key()));
    }
    // sftp works (internal-sftp)
    let h = w.host(0);
    let mut cmd = std::process::Command::new("/usr/bin/sftp");
    cmd.arg("-F").arg(w.ssh_config()).arg("-b").arg("-").arg(h.name());
    let out = sys::run_with(cmd, Some(b"put /etc/hostname up.txt\nls -l up.txt\n"), Duration::from_secs(30), 1 << 20).unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    assert!(h.home().join("up.txt").exists());
}

#[test]
fn stop_and_start_a_host() {
    let Some(w) = world(2) else { return };
    let (h, other) = (w.host(0), w.host(1));
    h.stop().unwrap();
    assert!(!h.is_running());
    let t = Instant::now();
    let err = TcpStream::connect_timeout(&h.socket_addr(), Duration::from_secs(2)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    assert!(t.elapsed() < Duration::from_secs(1));
    let out = h.ssh("true").unwrap();
    assert!(!out.success());
    assert!(out.stderr_str().contains("Connection refused"), "{}", out.stderr_str());
    assert!(other.ssh("true").unwrap().success(), "other hosts unaffected");
    h.start().unwrap();
    assert!(h.ssh("true").unwrap().success());
}

#[test]
fn replaced_host_key_is_refused_by_strict_checking() {
    let Some(w) = world(1) else { return };
    let h = w.host(0);
    let pinned = h.host_key_fingerprint().to_string();
    let new_fp = h.replace_host_key().unwrap();
    assert_ne!(new_fp, pinned);
    assert!(h.tcp_probe(Duration::from_secs(2)).unwrap().starts_with("SSH-2.0-"));
    let out = h.ssh("true").unwrap();
    assert!(!out.success());
    let err = out.stderr_str();
    assert!(err.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || err.contains("Host key verification failed"), "{err}");
    h.restore_host_key().unwrap();
    assert_eq!(h.current_host_key_fingerprint().unwrap(), pinned);
    assert!(h.ssh("true").unwrap().success());
}

#[test]
fn network_cut_times_out_and_restores() {
    let Some(w) = world(2) else { return };
    let (h, other) = (w.host(0), w.host(1));
    // an open session stalls too: start it before the cut
    h.cut_network().unwrap();
    let t = Instant::now();
    let err = TcpStream::connect_timeout(&h.socket_addr(), Duration::from_secs(1)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(t.elapsed() >= Duration::from_millis(900));
    let out = h.ssh_opts(&["ConnectTimeout=2"], "true", None, Duration::from_secs(20)).unwrap();
    assert!(!out.success());
    assert!(out.stderr_str().contains("timed out"), "{}", out.stderr_str());
    assert!(other.ssh("true").unwrap().success(), "other hosts unaffected");
    h.restore_network().unwrap();
    assert!(h.tcp_probe(Duration::from_secs(2)).unwrap().starts_with("SSH-2.0-"));
    assert!(h.ssh("true").unwrap().success());
}

#[test]
fn slow_link_limits_throughput() {
    let Some(w) = world(1) else { return };
    let h = w.host(0);
    let cmd = "head -c 300000 /dev/zero";
    let fast = h.ssh(cmd).unwrap();
    assert!(fast.success() && fast.stdout_total == 300_000);
    h.slow_link(50).unwrap();
    let slow = h.ssh_with(cmd, None, Duration::from_secs(90)).unwrap();
    assert!(slow.success(), "{:?} {}", slow.code, slow.stderr_str());
    assert_eq!(slow.stdout_total, 300_000);
    eprintln!("MEASURE 300 kB: {:?} normal, {:?} at 50 kB/s", fast.elapsed, slow.elapsed);
    assert!(slow.elapsed > Duration::from_secs(3), "slow link took only {:?}", slow.elapsed);
    assert!(slow.elapsed > fast.elapsed * 3);
    h.restore_network().unwrap();
    let again = h.ssh(cmd).unwrap();
    assert!(again.elapsed < Duration::from_secs(3), "{:?}", again.elapsed);
}

#[test]
fn noisy_login_shell_prints_banner_and_noise() {
    let Some(w) = world(1) else { return };
    let h = w.host(0);
    h.set_shell_mode(ShellMode::Noisy).unwrap();
    let out = h.ssh_opts(&["LogLevel=INFO"], "echo CK-MARK", None, Duration::from_secs(30)).unwrap();
    assert!(out.success());
    let (o, e) = (out.stdout_str(), out.stderr_str());
    assert!(o.contains("Welcome to Ubuntu") && o.trim_end().ends_with("CK-MARK"), "{o}");
    assert!(e.contains("Authorized access only"), "pre-auth banner: {e}");
    assert!(e.contains("setlocale"), "{e}");
    h.set_shell_mode(ShellMode::Normal).unwrap();
    let out = h.ssh_opts(&["LogLevel=INFO"], "echo CK-MARK", None, Duration::from_secs(30)).unwrap();
    assert_eq!(out.stdout_str(), "CK-MARK\n");
    assert!(!out.stderr_str().contains("Authorized access only"));
}

#[test]
fn huge_output_host() {
    let Some(w) = world(1) else { return };
    let h = w.host(0);
    h.set_shell_mode(ShellMode::Huge(64 << 20)).unwrap();
    let out = h.ssh_with("echo CK-END", None, Duration::from_secs(120)).unwrap();
    assert!(out.success());
    assert_eq!(out.stdout_total, (64 << 20) + "CK-END\n".len() as u64);
    assert!(out.stdout.starts_with(b"filler"));
}

/// A loopback stand-in for the Anthropic API that records the `x-api-key` of each request.
fn capture_upstream() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for c in l.incoming().take(50) {
            let Ok(mut c) = c else { continue };
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut buf = Vec::new();
            let mut b = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match c.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&b[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf).to_string();
            if let Some(k) = head.lines().find_map(|l| l.strip_prefix("x-api-key: ")) {
                seen2.lock().unwrap().push(k.trim().to_string());
            }
            let body = r#"{"type":"message","content":[{"type":"text","text":"OK"}]}"#;
            let _ = write!(c, "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        }
    });
    (url, seen)
}

fn test_key(tag: &str) -> String {
    // not key-shaped on purpose; the real-format keys come from the fake at run time
    format!("test-key-{tag}-{}", std::process::id())
}

#[test]
fn gateway_restart_command_reloads_env_into_process_environment() {
    let (upstream, seen) = capture_upstream();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).base_url(upstream)) else { return };
    let h = w.host(0);
    h.wait_gateway_ready(Duration::from_secs(10)).unwrap();
    let pid0 = h.gateway_pid().unwrap();
    assert_eq!(h.mini_turn().unwrap()["credential_source"], "none");
    // config literal is used when no env var exists
    let lit = test_key("literal");
    h.update_config(|c| c.api_key_literal = Some(lit.clone())).unwrap();
    // write the key as Clawkeep would: over SSH, mode 600, then the configured restart command
    let a = test_key("A");
    let out = h
        .ssh_with("umask 077; cat > ~/.openclaw/.env.tmp && mv ~/.openclaw/.env.tmp ~/.openclaw/.env", Some(format!("ANTHROPIC_API_KEY={a}\n").as_bytes()), Duration::from_secs(30))
        .unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    // not yet restarted: the old process still has no key in its environment
    assert!(!h.gateway_environ().unwrap().iter().any(|(k, _)| k == "ANTHROPIC_API_KEY"));
    let out = h.ssh(h.restart_command()).unwrap();
    assert!(out.success(), "{} {}", out.stdout_str(), out.stderr_str());
    let pid1 = h.gateway_pid().unwrap();
    assert_ne!(pid0, pid1);
    h.wait_gateway_ready(Duration::from_secs(10)).unwrap();
    let env = h.gateway_environ().unwrap();
    assert!(env.contains(&("ANTHROPIC_API_KEY".to_string(), a.clone())), "key visible in /proc/<pid>/environ");
    let r = h.mini_turn().unwrap();
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["credential_source"], "env", "env beats the config literal");
    assert_eq!(r["key_sha256"], key_sha256(&a));
    assert_eq!(seen.lock().unwrap().last().unwrap(), &a);
    // the gateway was started with a clean environment: no leak from the test process
    assert!(env.iter().all(|(k, _)| k != "CARGO_MANIFEST_DIR"));
    assert_eq!(parse_env(&h.read_file(".openclaw/.env").unwrap()), vec![("ANTHROPIC_API_KEY".into(), a)]);
    // the supervisor also restarts a crashed gateway
    sys::kill("KILL", &[pid1 as i64]);
    assert!(sys::wait_until(Duration::from_secs(5), Duration::from_millis(20), || h.gateway_pid().is_some_and(|p| p != pid1)));
}

#[test]
fn invalid_config_exit_78_is_not_restart_looped() {
    let Some(w) = world(1) else { return };
    let h = w.host(0);
    let good = h.read_file(".openclaw/openclaw.json").unwrap();
    h.write_file(".openclaw/openclaw.json", b"{ meta: {}, gateway: { port: 1 } }", 0o600).unwrap();
    assert!(h.ssh(h.restart_command()).unwrap().success());
    assert!(sys::wait_until(Duration::from_secs(5), Duration::from_millis(20), || h.gateway_pid().is_none()));
    std::thread::sleep(Duration::from_millis(1500));
    let log = std::fs::read_to_string(h.home().join(".local/state/clawkeep-gw/supervisor.log")).unwrap();
    assert!(log.contains("rc=78") && log.contains("not restarting"), "{log}");
    assert!(h.gateway_pid().is_none(), "stays down after exit 78");
    h.write_file(".openclaw/openclaw.json", good.as_bytes(), 0o600).unwrap();
    let out = h.ssh(h.restart_command()).unwrap();
    assert!(out.success(), "{}", out.stderr_str());
    h.wait_gateway_ready(Duration::from_secs(10)).unwrap();
}

fn assert_gone(dir: &Path, users: &[String], sshd_pids: &[u32], table: Option<String>) {
    assert!(!dir.exists(), "{} left behind", dir.display());
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for u in users {
        assert!(!passwd.lines().any(|l| l.starts_with(&format!("{u}:"))), "user {u} left behind");
    }
    for p in sshd_pids {
        assert!(!sys::pid_alive(*p), "sshd {p} left running");
    }
    if let Some(t) = table {
        let out = sys::run_with(
            {
                let mut c = std::process::Command::new("/usr/sbin/nft");
                c.args(["list", "table", "inet", &t]);
                c
            },
            None,
            Duration::from_secs(10),
            1 << 16,
        )
        .unwrap();
        assert!(!out.success(), "nft table {t} left behind");
    }
}

#[test]
fn panicking_test_still_cleans_up() {
    if sys::preflight_root().is_err() && !sys::in_ci() {
        eprintln!("SKIP: needs root");
        return;
    }
    let info = Arc::new(Mutex::new(None));
    let info2 = info.clone();
    let r = std::panic::catch_unwind(move || {
        let w = World::start(WorldOptions::hosts(2)).unwrap();
        w.host(1).cut_network().unwrap();
        let users: Vec<String> = w.hosts().iter().map(|h| h.user().to_string()).collect();
        let pids: Vec<u32> = w.hosts().iter().filter_map(|h| h.sshd_pid()).collect();
        let table = std::fs::read_to_string(w.dir().join("nft-table")).ok();
        *info2.lock().unwrap() = Some((w.dir().to_path_buf(), users, pids, table));
        panic!("deliberate test panic");
    });
    assert!(r.is_err());
    let (dir, users, pids, table) = info.lock().unwrap().take().unwrap();
    assert_gone(&dir, &users, &pids, table);
}

#[test]
fn testhosts_script_down_removes_detached_world() {
    let Some(w) = world(2) else { return };
    w.host(0).slow_link(100).unwrap();
    let users: Vec<String> = w.hosts().iter().map(|h| h.user().to_string()).collect();
    let pids: Vec<u32> = w.hosts().iter().filter_map(|h| h.sshd_pid()).collect();
    let gw: Vec<u32> = w.hosts().iter().filter_map(|h| h.gateway_pid()).collect();
    let table = std::fs::read_to_string(w.dir().join("nft-table")).ok();
    // a process the host user left behind (like a stray session) is removed too
    assert!(w.host(1).ssh("nohup sleep 300 >/dev/null 2>&1 & echo started").unwrap().success());
    let dir = w.detach().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/testhosts.sh");
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(script).arg("down").arg(&dir);
    let out = sys::run_with(cmd, None, Duration::from_secs(60), 1 << 20).unwrap();
    assert!(out.success(), "{}\n{}", out.stdout_str(), out.stderr_str());
    assert_gone(&dir, &users, &pids, table);
    for p in gw {
        assert!(!sys::pid_alive(p), "gateway {p} left running");
    }
}

#[test]
fn rust_teardown_of_a_detached_world() {
    let Some(w) = world(1) else { return };
    let dir = w.detach().unwrap();
    assert!(world::list_worlds().iter().any(|(d, alive)| d == &dir && *alive));
    teardown_dir(&dir).unwrap();
    assert!(!dir.exists());
}
