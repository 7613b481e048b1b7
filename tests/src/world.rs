//! The SSH test world: N real OpenSSH `sshd` hosts, each on its own loopback address
//! (127.0.1.N:22 by default) with its own host key, Unix user (`ckh<N>`) and home directory
//! holding an OpenClaw layout and a gateway under a supervisor; one generated client key per
//! world; fault controls (stop/start, host-key swap, network cut, slow link, noisy or
//! huge-output login shell, no SFTP subsystem, a small full file system mounted over a
//! directory).
//!
//! ```no_run
//! use clawkeep_tests::world::{World, WorldOptions};
//! let Some(world) = World::start_or_skip(WorldOptions::hosts(3)) else { return };
//! let h = world.host(0);
//! let out = h.ssh("cat ~/.openclaw/openclaw.json").unwrap();
//! assert!(out.success());
//! h.cut_network().unwrap();      // now connects to h.addr() time out
//! h.restore_network().unwrap();
//! // dropped (or panicking) => sshd, gateways, users, nft rules and the run dir are removed
//! ```
//!
//! State lives in a run dir (`/tmp/ck-world/w<pid>-<n>`, root `$CLAWKEEP_TESTWORLD_ROOT`)
//! that records everything to undo: `owner` (pid + start time, or `detached`), `users`,
//! `nft-table`, `h<N>/sshd.pid`, `h<N>/gw.pgid`, `h<N>/mounts`. Host indices are leased under
//! `<root>/leases/` with a file lock, so parallel test threads and test binaries never share
//! an address, user or port. Worlds whose owner died without cleaning up are reaped by the
//! next `World::start` or by `scripts/testhosts.sh down`.

use crate::layout::{self, OpenClawConfig};
use crate::scripts;
use crate::sys::{self, CmdOutput};
use anyhow::{anyhow, bail, Context, Result};
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Most hosts one machine can lease at once.
pub const MAX_HOSTS: usize = 2000;
/// `gateway.port` of host index `i` is `GATEWAY_PORT_BASE + i` on 127.0.0.1.
pub const GATEWAY_PORT_BASE: u16 = 28000;
/// In same-user mode, host `i`'s sshd listens on 127.0.0.1:`SAME_USER_SSH_PORT_BASE + i`.
pub const SAME_USER_SSH_PORT_BASE: u16 = 22000;

static WORLD_COUNTER: AtomicU32 = AtomicU32::new(0);

/// How hosts are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostMode {
    /// Root: one Unix user per host, sshd on 127.0.1.N (port 22 unless chosen), nft faults.
    Root,
    /// No root (a person's desktop, the demo): every host logs in as the current user, sshd on
    /// 127.0.0.1:220NN, `HOME` set per host by sshd's `SetEnv`. No nft or shell faults.
    SameUser,
}

/// Which gateway runs on each host at bring-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayKind {
    /// None (start one later with [`Host::start_gateway`]).
    None,
    /// The small stand-in gateway (`mini-gateway` binary).
    Mini,
}

/// Options for [`World::start`].
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// Number of hosts.
    pub hosts: usize,
    /// sshd port (root mode; default 22).
    pub port: Option<u16>,
    /// Root or same-user hosts; default: root if we are root.
    pub mode: HostMode,
    /// Gateway started on each host at bring-up.
    pub gateway: GatewayKind,
    /// `models.providers.anthropic.baseUrl` written into every host's config (the fake's URL).
    /// Default: a closed loopback port.
    pub base_url: Option<String>,
}

impl WorldOptions {
    /// `n` hosts, mini gateways, defaults otherwise.
    pub fn hosts(n: usize) -> Self {
        Self { hosts: n, port: None, mode: if sys::is_root() { HostMode::Root } else { HostMode::SameUser }, gateway: GatewayKind::Mini, base_url: None }
    }
    /// Builder: no gateway at bring-up.
    pub fn without_gateway(mut self) -> Self {
        self.gateway = GatewayKind::None;
        self
    }
    /// Builder: point every host's Anthropic provider at this base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
}

/// What a gateway process is: argv plus extra environment (on top of a clean
/// `HOME/USER/LOGNAME/PATH/SHELL`).
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

pub(crate) struct WorldShared {
    pub(crate) dir: PathBuf,
    pub(crate) id: String,
    pub(crate) mode: HostMode,
    pub(crate) ssh_config: PathBuf,
    pub(crate) nft_table: Mutex<Option<String>>,
    pub(crate) mini_gateway: Option<PathBuf>,
}

/// A running set of test hosts. Dropping it tears everything down.
pub struct World {
    shared: Arc<WorldShared>,
    hosts: Vec<Host>,
    root: PathBuf,
    detached: bool,
    /// Wall time of [`World::start`].
    pub bring_up: Duration,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World").field("dir", &self.shared.dir).field("hosts", &self.hosts.len()).finish()
    }
}

/// One test host.
pub struct Host {
    shared: Arc<WorldShared>,
    index: usize,
    name: String,
    addr: Ipv4Addr,
    port: u16,
    user: String,
    uid: u32,
    gid: u32,
    dir: PathBuf,
    home: PathBuf,
    gateway_port: u16,
    host_public_key: String,
    host_key_fingerprint: String,
    config: Mutex<OpenClawConfig>,
    gateway_token: String,
    sftp: Mutex<SftpSubsystem>,
}

/// What the host's sshd offers for SFTP, see [`Host::set_sftp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SftpSubsystem {
    /// `Subsystem sftp internal-sftp` (the default).
    Internal,
    /// No `Subsystem sftp` line: sshd refuses the subsystem request (hardened configs).
    None,
    /// A `Subsystem sftp` pointing at a program that does not exist: sshd accepts the request,
    /// then the channel closes at once (as dropbear without `sftp-server` does).
    Broken,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host").field("name", &self.name).field("addr", &self.addr).field("port", &self.port).field("user", &self.user).finish()
    }
}

/// Root directory of all worlds of this uid.
pub fn world_root() -> PathBuf {
    if let Ok(r) = std::env::var("CLAWKEEP_TESTWORLD_ROOT") {
        return PathBuf::from(r);
    }
    if sys::is_root() {
        PathBuf::from("/tmp/ck-world")
    } else {
        PathBuf::from(format!("/tmp/ck-world-u{}", sys::current_uid().unwrap_or(0)))
    }
}

/// Loopback address of host index `i`: 127.0.1.1 … 127.0.1.250, 127.0.2.1, …
pub fn host_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 1 + (i / 250) as u8, 1 + (i % 250) as u8)
}

fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    if let Ok(mut f) = fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    hex::encode(b)
}

fn keygen(path: &Path, comment: &str) -> Result<()> {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    sys::run_ok("/usr/bin/ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path.to_str().unwrap()])?;
    Ok(())
}

/// `SHA256:…` fingerprint of a public key file.
pub fn fingerprint(pub_path: &Path) -> Result<String> {
    let out = sys::run_ok("/usr/bin/ssh-keygen", &["-l", "-E", "sha256", "-f", pub_path.to_str().unwrap()])?;
    out.stdout_str().split_whitespace().nth(1).map(str::to_string).ok_or_else(|| anyhow!("no fingerprint from ssh-keygen -l"))
}

fn passwd_entry(user: &str) -> Option<(u32, u32, String)> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.len() >= 6 && f[0] == user {
            Some((f[2].parse().ok()?, f[3].parse().ok()?, f[5].to_string()))
        } else {
            None
        }
    })
}

fn current_user_name() -> String {
    let uid = sys::current_uid().unwrap_or(0);
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

/// Locates the `mini-gateway` binary: `$CLAWKEEP_MINI_GATEWAY`, else next to the running
/// executable or one directory up (test binaries live in `target/debug/deps`).
pub fn find_mini_gateway() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CLAWKEEP_MINI_GATEWAY") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().map(Path::to_path_buf);
    for _ in 0..2 {
        let Some(d) = dir else { break };
        let cand = d.join("mini-gateway");
        if cand.is_file() {
            return Ok(cand);
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    bail!("mini-gateway binary not found near {}; build it with `cargo build -p clawkeep-tests --bins` or set CLAWKEEP_MINI_GATEWAY", exe.display())
}

struct AllocLock(#[allow(dead_code)] fs::File);

fn lock_root(root: &Path) -> Result<AllocLock> {
    fs::create_dir_all(root.join("leases"))?;
    fs::set_permissions(root, fs::Permissions::from_mode(0o755))?;
    let f = fs::OpenOptions::new().create(true).truncate(false).write(true).open(root.join("alloc.lock"))?;
    f.lock().context("lock world allocation")?;
    Ok(AllocLock(f))
}

/// Is the world in `dir` still owned by a live process (or deliberately detached)?
fn owner_alive(dir: &Path) -> bool {
    let Ok(owner) = fs::read_to_string(dir.join("owner")) else {
        // being created right now by someone holding the lock, or garbage: treat missing as dead
        return false;
    };
    let owner = owner.trim();
    if owner == "detached" {
        return true;
    }
    let mut it = owner.split_whitespace();
    let (Some(pid), Some(start)) = (it.next().and_then(|s| s.parse::<u32>().ok()), it.next().and_then(|s| s.parse::<u64>().ok())) else {
        return false;
    };
    sys::pid_alive(pid) && sys::proc_start_time(pid) == Some(start)
}

/// Tears down the world recorded in `dir` (any owner): gateways, sshd, users, nft table, run dir,
/// leases. Only touches pids whose command line names this dir, and users whose home is in it.
pub fn teardown_dir(dir: &Path) -> Result<()> {
    let dir_s = dir.to_string_lossy().to_string();
    let mut hosts: Vec<PathBuf> =
        fs::read_dir(dir).map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("sshd_config").exists() || p.join("home").exists()).collect()).unwrap_or_default();
    hosts.sort();
    // 1. gateway supervisors: process groups, verified by a member naming this dir
    let mut groups = Vec::new();
    for h in &hosts {
        if let Some(pgid) = fs::read_to_string(h.join("gw.pgid")).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
            let members = sys::pids_in_group(pgid);
            if members.iter().any(|p| sys::proc_cmdline(*p).is_some_and(|c| c.contains(&dir_s))) {
                groups.push((pgid, members));
            }
        }
    }
    if !groups.is_empty() {
        sys::kill("TERM", &groups.iter().map(|(g, _)| -(*g as i64)).collect::<Vec<_>>());
        let all: Vec<u32> = groups.iter().flat_map(|(_, m)| m.clone()).collect();
        sys::terminate(&all, Duration::from_secs(3));
    }
    // 1b. file systems mounted over host directories (full-disk faults), lazily
    for h in &hosts {
        for m in fs::read_to_string(h.join("mounts")).unwrap_or_default().lines().map(str::trim).filter(|m| !m.is_empty()) {
            if m.starts_with(&dir_s) {
                let _ = sys::run_with(
                    {
                        let mut c = Command::new("/usr/bin/umount");
                        c.args(["-l", m]);
                        c
                    },
                    None,
                    Duration::from_secs(10),
                    4096,
                );
            }
        }
    }
    // 2. sshd listeners, verified by their command line (-f <dir>/hN/sshd_config)
    let mut sshds = Vec::new();
    for h in &hosts {
        if let Some(pid) = fs::read_to_string(h.join("sshd.pid")).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
            if sys::proc_cmdline(pid).is_some_and(|c| c.contains(&dir_s)) {
                sshds.push(pid);
            }
        }
    }
    sys::terminate(&sshds, Duration::from_secs(3));
    // 3. users we created (home inside this dir): their processes, then the account
    let users = fs::read_to_string(dir.join("users")).unwrap_or_default();
    let users: Vec<&str> = users.lines().map(str::trim).filter(|u| !u.is_empty()).collect();
    let mut uids = Vec::new();
    for u in &users {
        if let Some((uid, _, home)) = passwd_entry(u) {
            if home.starts_with(&dir_s) && uid != 0 {
                uids.push((u.to_string(), uid));
            }
        }
    }
    let procs: Vec<u32> = uids.iter().flat_map(|(_, uid)| sys::pids_of_uid(*uid)).collect();
    if !procs.is_empty() {
        sys::kill("KILL", &procs.iter().map(|p| *p as i64).collect::<Vec<_>>());
        sys::wait_until(Duration::from_secs(3), Duration::from_millis(20), || procs.iter().all(|p| !sys::pid_alive(*p)));
    }
    let mut errors = Vec::new();
    for (u, _) in &uids {
        let mut ok = false;
        for _ in 0..20 {
            let out = sys::run_with(
                {
                    let mut c = Command::new("/usr/sbin/userdel");
                    c.arg(u);
                    c
                },
                None,
                Duration::from_secs(20),
                4096,
            )?;
            if out.success() || passwd_entry(u).is_none() {
                ok = true;
                break;
            }
            // "user is currently used by process": a session monitor may still be exiting
            std::thread::sleep(Duration::from_millis(100));
        }
        if !ok {
            errors.push(format!("userdel {u} failed"));
        }
    }
    // 4. nft table
    if let Ok(t) = fs::read_to_string(dir.join("nft-table")) {
        let t = t.trim();
        if !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let _ = sys::run_with(
                {
                    let mut c = Command::new("/usr/sbin/nft");
                    c.args(["delete", "table", "inet", t]);
                    c
                },
                None,
                Duration::from_secs(10),
                4096,
            );
        }
    }
    // 5. leases and the dir
    if let (Some(root), Some(name)) = (dir.parent(), dir.file_name()) {
        if let Ok(rd) = fs::read_dir(root.join("leases")) {
            for e in rd.flatten() {
                if fs::read_to_string(e.path()).ok().as_deref().map(str::trim) == Some(&*name.to_string_lossy()) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
    let _ = fs::remove_dir_all(dir);
    if errors.is_empty() {
        Ok(())
    } else {
        bail!("teardown of {}: {}", dir.display(), errors.join("; "))
    }
}

/// Reaps worlds whose owner process is gone. Call with the allocation lock held.
fn reap_stale(root: &Path) {
    let Ok(rd) = fs::read_dir(root) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let is_world = p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('w'));
        if is_world && !owner_alive(&p) {
            eprintln!("test world: reaping leftover {}", p.display());
            if let Err(err) = teardown_dir(&p) {
                eprintln!("test world: {err:#}");
            }
        }
    }
    // leases pointing at worlds that no longer exist
    if let Ok(rd) = fs::read_dir(root.join("leases")) {
        for e in rd.flatten() {
            let owner = fs::read_to_string(e.path()).unwrap_or_default();
            if owner.trim().is_empty() || !root.join(owner.trim()).exists() {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// Lists world dirs under the root (for `testworld down`/`status`).
pub fn list_worlds() -> Vec<(PathBuf, bool)> {
    let root = world_root();
    let Ok(rd) = fs::read_dir(&root) else { return Vec::new() };
    let mut v: Vec<(PathBuf, bool)> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('w')))
        .map(|p| {
            let alive = owner_alive(&p);
            (p, alive)
        })
        .collect();
    v.sort();
    v
}

impl World {
    /// Starts a world, or — when the machine can't host one (not root, sshd missing) — panics in
    /// CI (`CI=true`) and returns `None` with a printed reason elsewhere.
    pub fn start_or_skip(opts: WorldOptions) -> Option<World> {
        if opts.mode == HostMode::Root {
            if let Err(reason) = sys::preflight_root() {
                if sys::in_ci() {
                    panic!("test world unavailable in CI: {reason}");
                }
                eprintln!("SKIP: {reason}");
                return None;
            }
        }
        Some(World::start(opts).expect("start test world"))
    }

    /// Brings up the hosts. Fails (cleaning up what it made) if any host can't start.
    pub fn start(opts: WorldOptions) -> Result<World> {
        let t0 = Instant::now();
        if opts.hosts == 0 || opts.hosts > MAX_HOSTS {
            bail!("hosts must be 1..={MAX_HOSTS}");
        }
        if opts.mode == HostMode::Root {
            sys::preflight_root().map_err(|e| anyhow!(e))?;
        }
        let mini = match opts.gateway {
            GatewayKind::Mini => Some(find_mini_gateway()?),
            GatewayKind::None => None,
        };
        let root = world_root();
        let n = WORLD_COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let id = format!("w{pid}-{n}");
        let dir = root.join(&id);
        let lock = lock_root(&root)?;
        reap_stale(&root);
        fs::create_dir_all(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
        let start_time = sys::proc_start_time(pid).unwrap_or(0);
        write_file(&dir.join("owner"), format!("{pid} {start_time}\n").as_bytes(), 0o644)?;
        let shared =
            Arc::new(WorldShared { dir: dir.clone(), id: id.clone(), mode: opts.mode, ssh_config: dir.join("client/ssh_config"), nft_table: Mutex::new(None), mini_gateway: None });
        // from here on a failure tears down through Drop
        let mut world = World { shared, hosts: Vec::new(), root: root.clone(), detached: false, bring_up: Duration::ZERO };

        // lease indices
        let mut indices = Vec::new();
        for i in 0..MAX_HOSTS {
            if indices.len() == opts.hosts {
                break;
            }
            let lease = root.join("leases").join(i.to_string());
            if !lease.exists() {
                write_file(&lease, id.as_bytes(), 0o644)?;
                indices.push(i);
            }
        }
        if indices.len() < opts.hosts {
            bail!("only {} free host slots", indices.len());
        }
        // client key, dirs
        fs::create_dir_all(dir.join("client"))?;
        fs::set_permissions(dir.join("client"), fs::Permissions::from_mode(0o700))?;
        keygen(&dir.join("client/id_ed25519"), &format!("clawkeep-testworld-{id}"))?;
        fs::create_dir_all(dir.join("bin"))?;
        let mini_copy = match &mini {
            Some(src) => {
                let dst = dir.join("bin/mini-gateway");
                fs::copy(src, &dst).with_context(|| format!("copy {}", src.display()))?;
                fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
                Some(dst)
            }
            None => None,
        };
        Arc::get_mut(&mut world.shared).expect("unique").mini_gateway = mini_copy;
        write_file(&dir.join("supervisor.sh"), scripts::SUPERVISOR.as_bytes(), 0o755)?;

        // users (sequential: useradd locks /etc/passwd)
        let port = opts.port.unwrap_or(22);
        let mut specs = Vec::new();
        let same_user = current_user_name();
        for &i in &indices {
            let (addr, hport, user) = match opts.mode {
                HostMode::Root => (host_addr(i), port, format!("ckh{i}")),
                HostMode::SameUser => (Ipv4Addr::LOCALHOST, SAME_USER_SSH_PORT_BASE + i as u16, same_user.clone()),
            };
            let hdir = dir.join(format!("h{i}"));
            fs::create_dir_all(hdir.join("home"))?;
            if opts.mode == HostMode::Root {
                if let Some((_, _, home)) = passwd_entry(&user) {
                    if home.starts_with(&root.to_string_lossy().to_string()) {
                        let _ = sys::run_ok("/usr/sbin/userdel", &[&user]);
                    } else {
                        bail!("user {user} exists and is not a test-world user");
                    }
                }
                let mut f = fs::OpenOptions::new().create(true).append(true).open(dir.join("users"))?;
                writeln!(f, "{user}")?;
                sys::run_ok(
                    "/usr/sbin/useradd",
                    &[
                        "--no-create-home",
                        "--home-dir",
                        hdir.join("home").to_str().unwrap(),
                        "--shell",
                        hdir.join("shell").to_str().unwrap(),
                        "--password",
                        "*",
                        "--comment",
                        "clawkeep test host",
                        &user,
                    ],
                )?;
            }
            specs.push((i, addr, hport, user, hdir));
        }
        drop(lock);

        // per-host setup in parallel
        let shared = world.shared.clone();
        let results: Vec<Result<Host>> = std::thread::scope(|s| {
            let chunks: Vec<_> = specs.chunks(specs.len().div_ceil(6).max(1)).collect();
            let handles: Vec<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let shared = shared.clone();
                    let opts = opts.clone();
                    s.spawn(move || chunk.iter().map(|(i, addr, port, user, hdir)| Host::create(&shared, &opts, *i, *addr, *port, user, hdir)).collect::<Vec<_>>())
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().expect("host setup thread")).collect()
        });
        for r in results {
            world.hosts.push(r?);
        }
        world.write_client_files()?;
        world.bring_up = t0.elapsed();
        Ok(world)
    }

    fn write_client_files(&self) -> Result<()> {
        let dir = &self.shared.dir;
        let mut kh = String::new();
        let mut cfg = String::new();
        let mut tsv = String::from("# name\taddr\tport\tuser\thome\tgateway_port\thost_key_sha256\n");
        for h in &self.hosts {
            kh.push_str(&h.known_hosts_line());
            kh.push('\n');
            cfg.push_str(&format!("Host {}\n  HostName {}\n  Port {}\n  User {}\n", h.name, h.addr, h.port, h.user));
            tsv.push_str(&format!("{}\t{}\t{}\t{}\t{}\t{}\t{}\n", h.name, h.addr, h.port, h.user, h.home.display(), h.gateway_port, h.host_key_fingerprint));
        }
        cfg.push_str(&format!(
            "Host *\n  IdentityFile {key}\n  IdentitiesOnly yes\n  UserKnownHostsFile {kh}\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n  KexAlgorithms curve25519-sha256\n  ControlMaster no\n  ControlPath none\n  LogLevel ERROR\n",
            key = dir.join("client/id_ed25519").display(),
            kh = dir.join("client/known_hosts").display(),
        ));
        write_file(&dir.join("client/known_hosts"), kh.as_bytes(), 0o644)?;
        write_file(&self.shared.ssh_config, cfg.as_bytes(), 0o644)?;
        write_file(&dir.join("hosts.tsv"), tsv.as_bytes(), 0o644)?;
        let env = format!(
            "CK_WORLD_DIR={d}\nCK_SSH_CONFIG={c}\nCK_CLIENT_KEY={k}\nCK_KNOWN_HOSTS={kh}\nCK_HOSTS_TSV={d}/hosts.tsv\nCK_RESTART_COMMAND='{r}'\n",
            d = dir.display(),
            c = self.shared.ssh_config.display(),
            k = dir.join("client/id_ed25519").display(),
            kh = dir.join("client/known_hosts").display(),
            r = scripts::RESTART_COMMAND,
        );
        write_file(&dir.join("world.env"), env.as_bytes(), 0o644)?;
        Ok(())
    }

    /// The hosts.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }
    /// Host by position (0-based, not the leased index).
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }
    /// The run dir.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }
    /// World id (`w<pid>-<n>`).
    pub fn id(&self) -> &str {
        &self.shared.id
    }
    /// Private client key (ed25519, no passphrase) authorized on every host.
    pub fn client_key(&self) -> PathBuf {
        self.shared.dir.join("client/id_ed25519")
    }
    /// The client public key line.
    pub fn client_public_key(&self) -> String {
        fs::read_to_string(self.shared.dir.join("client/id_ed25519.pub")).unwrap_or_default().trim().to_string()
    }
    /// known_hosts file with every host's original key.
    pub fn known_hosts(&self) -> PathBuf {
        self.shared.dir.join("client/known_hosts")
    }
    /// ssh_config with one alias per host (`h<index>`), strict host-key checking, the client key.
    pub fn ssh_config(&self) -> &Path {
        &self.shared.ssh_config
    }

    /// Keep everything running after this value is dropped (for `testhosts.sh up`); returns the
    /// run dir. Tear down later with `scripts/testhosts.sh down`.
    pub fn detach(mut self) -> Result<PathBuf> {
        write_file(&self.shared.dir.join("owner"), b"detached\n", 0o644)?;
        self.detached = true;
        Ok(self.shared.dir.clone())
    }

    /// Tears down now (Drop does the same, ignoring errors).
    pub fn teardown(mut self) -> Result<()> {
        self.detached = true;
        let _lock = lock_root(&self.root)?;
        teardown_dir(&self.shared.dir)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        let _lock = lock_root(&self.root);
        if let Err(e) = teardown_dir(&self.shared.dir) {
            eprintln!("test world teardown: {e:#}");
        }
    }
}

/// Shell faults, see [`Host::set_shell_mode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellMode {
    /// Plain bash.
    Normal,
    /// Pre-auth SSH banner plus login-shell noise on stdout and stderr before every command.
    Noisy,
    /// This many filler bytes on stdout before every command's own output.
    Huge(u64),
}

impl Host {
    fn create(shared: &Arc<WorldShared>, opts: &WorldOptions, index: usize, addr: Ipv4Addr, port: u16, user: &str, hdir: &Path) -> Result<Host> {
        let home = hdir.join("home");
        let (uid, gid) = match opts.mode {
            HostMode::Root => {
                let (u, g, _) = passwd_entry(user).ok_or_else(|| anyhow!("user {user} missing after useradd"))?;
                (u, g)
            }
            HostMode::SameUser => {
                let u = sys::current_uid().unwrap_or(0);
                (u, u)
            }
        };
        if opts.mode == HostMode::Root {
            write_file(&hdir.join("shell"), scripts::login_shell(&hdir.join("shell-mode").to_string_lossy()).as_bytes(), 0o755)?;
        }
        keygen(&hdir.join("ssh_host_ed25519_key"), &format!("ck-test-host-{index}"))?;
        let host_public_key = fs::read_to_string(hdir.join("ssh_host_ed25519_key.pub"))?.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let host_key_fingerprint = fingerprint(&hdir.join("ssh_host_ed25519_key.pub"))?;
        let client_pub = fs::read_to_string(shared.dir.join("client/id_ed25519.pub"))?;
        write_file(&hdir.join("authorized_keys"), client_pub.as_bytes(), 0o644)?;
        let gateway_port = GATEWAY_PORT_BASE + index as u16;
        let home_s = home.to_string_lossy().to_string();
        let mut config = OpenClawConfig::new(&home_s, gateway_port);
        if let Some(b) = &opts.base_url {
            config.base_url = b.clone();
        }
        let host = Host {
            shared: shared.clone(),
            index,
            name: format!("h{index}"),
            addr,
            port,
            user: user.to_string(),
            uid,
            gid,
            dir: hdir.to_path_buf(),
            home,
            gateway_port,
            host_public_key,
            host_key_fingerprint,
            config: Mutex::new(config),
            gateway_token: random_hex(24),
            sftp: Mutex::new(SftpSubsystem::Internal),
        };
        host.write_layout()?;
        host.write_sshd_config()?;
        host.start()?;
        if opts.gateway == GatewayKind::Mini {
            host.start_mini_gateway()?;
        }
        Ok(host)
    }

    fn write_layout(&self) -> Result<()> {
        let h = &self.home;
        for d in [".openclaw", ".openclaw/agents/main/agent", ".openclaw/workspace", ".openclaw/logs", ".local/bin", scripts::GW_STATE_REL, ".ssh"] {
            fs::create_dir_all(h.join(d))?;
        }
        fs::set_permissions(h.join(".openclaw"), fs::Permissions::from_mode(0o700))?;
        fs::set_permissions(h, fs::Permissions::from_mode(0o750))?;
        self.render_config()?;
        write_file(&h.join(".openclaw/.env"), format!("# ~/.openclaw/.env of test host {}\n", self.name).as_bytes(), 0o600)?;
        write_file(&h.join(".local/bin/openclaw-gateway-restart"), scripts::RESTART_SCRIPT.as_bytes(), 0o755)?;
        self.chown_tree(h)?;
        Ok(())
    }

    fn render_config(&self) -> Result<()> {
        let cfg = self.config.lock().unwrap();
        let text = cfg.render().replace("${OPENCLAW_GATEWAY_TOKEN}", &self.gateway_token);
        let p = self.home.join(".openclaw/openclaw.json");
        write_file(&p, text.as_bytes(), 0o600)?;
        self.chown(&p)
    }

    fn chown(&self, p: &Path) -> Result<()> {
        if self.shared.mode == HostMode::Root {
            std::os::unix::fs::lchown(p, Some(self.uid), Some(self.gid)).with_context(|| format!("chown {}", p.display()))?;
        }
        Ok(())
    }

    fn chown_tree(&self, p: &Path) -> Result<()> {
        self.chown(p)?;
        if p.is_dir() && !p.is_symlink() {
            for e in fs::read_dir(p)? {
                self.chown_tree(&e?.path())?;
            }
        }
        Ok(())
    }

    fn write_sshd_config(&self) -> Result<()> {
        let d = &self.dir;
        let mut c = format!(
            "# sshd of Clawkeep test host {name} (tests/src/world.rs)\n\
Port {port}\nListenAddress {addr}\nHostKey {d}/ssh_host_ed25519_key\nPidFile {d}/sshd.pid\n\
AuthorizedKeysFile {d}/authorized_keys\n\
# run dirs live under /tmp; StrictModes would refuse the path walk\nStrictModes no\n\
AllowUsers {user}\nPubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
UsePAM no\nPermitRootLogin no\nAllowTcpForwarding yes\nX11Forwarding no\nPrintMotd no\nPrintLastLog no\n\
# default 10:30:100 drops parallel connections\nMaxStartups 200:30:400\nMaxSessions 64\nLoginGraceTime 30\n\
# pre-auth banner: only sent while this file exists (noisy fault)\nBanner {d}/banner\n\
{sftp}LogLevel VERBOSE\n",
            sftp = match *self.sftp.lock().unwrap() {
                SftpSubsystem::Internal => "Subsystem sftp internal-sftp\n".to_string(),
                SftpSubsystem::None => "# no Subsystem sftp line (fault: no SFTP)\n".to_string(),
                SftpSubsystem::Broken => format!("Subsystem sftp {}/no-such-sftp-server\n", d.display()),
            },
            name = self.name,
            port = self.port,
            addr = self.addr,
            d = d.display(),
            user = self.user,
        );
        if self.shared.mode == HostMode::SameUser {
            c.push_str(&format!("SetEnv HOME={}\n", self.home.display()));
        }
        write_file(&d.join("sshd_config"), c.as_bytes(), 0o644)
    }

    // ---------- identity ----------

    /// Alias in the world's ssh_config (`h<index>`).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Leased index (unique on this machine while the world lives).
    pub fn index(&self) -> usize {
        self.index
    }
    /// sshd address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }
    /// sshd port.
    pub fn port(&self) -> u16 {
        self.port
    }
    /// `addr:port`.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from((self.addr, self.port))
    }
    /// Login user.
    pub fn user(&self) -> &str {
        &self.user
    }
    /// uid of the login user.
    pub fn uid(&self) -> u32 {
        self.uid
    }
    /// (uid, gid) of the login user.
    pub fn uid_gid(&self) -> (u32, u32) {
        (self.uid, self.gid)
    }
    /// Home directory (the `~` of SSH commands).
    pub fn home(&self) -> &Path {
        &self.home
    }
    /// Host's run dir (sshd config, keys, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    /// `gateway.port` of this host (on 127.0.0.1).
    pub fn gateway_port(&self) -> u16 {
        self.gateway_port
    }
    /// `http://127.0.0.1:<gateway_port>`.
    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }
    /// The token in `gateway.auth.token`.
    pub fn gateway_token(&self) -> &str {
        &self.gateway_token
    }
    /// Original host public key, `ssh-ed25519 AAAA…`.
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }
    /// `SHA256:…` fingerprint of the original host key (what pinning should expect).
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key_fingerprint
    }
    /// Fingerprint of the key sshd serves right now (differs after [`Host::replace_host_key`]).
    pub fn current_host_key_fingerprint(&self) -> Result<String> {
        fingerprint(&self.dir.join("ssh_host_ed25519_key.pub"))
    }
    /// known_hosts line for the original key (`127.0.1.N ssh-ed25519 …`, `[addr]:port` if not 22).
    pub fn known_hosts_line(&self) -> String {
        if self.port == 22 {
            format!("{} {}", self.addr, self.host_public_key)
        } else {
            format!("[{}]:{} {}", self.addr, self.port, self.host_public_key)
        }
    }
    /// Restart command to configure on a Clawkeep instance for this host.
    pub fn restart_command(&self) -> &'static str {
        scripts::RESTART_COMMAND
    }
    /// sshd's log file.
    pub fn sshd_log(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }

    // ---------- sshd lifecycle ----------

    /// Pid of the sshd listener, if running.
    pub fn sshd_pid(&self) -> Option<u32> {
        let pid = fs::read_to_string(self.dir.join("sshd.pid")).ok()?.trim().parse().ok()?;
        sys::pid_alive(pid).then_some(pid)
    }
    /// Is sshd running?
    pub fn is_running(&self) -> bool {
        self.sshd_pid().is_some()
    }

    /// Starts sshd (no-op if running); returns once it listens.
    pub fn start(&self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        let pidf = self.dir.join("sshd.pid");
        let _ = fs::remove_file(&pidf);
        let mut cmd = Command::new("/usr/sbin/sshd");
        cmd.arg("-f").arg(self.dir.join("sshd_config")).arg("-E").arg(self.sshd_log());
        if self.shared.mode == HostMode::Root {
            fs::create_dir_all("/run/sshd")?;
        }
        let out = sys::run_with(cmd, None, Duration::from_secs(10), 64 * 1024)?;
        if !out.success() {
            bail!("sshd for {} failed to start: {} {}", self.name, out.stderr_str(), self.log_tail());
        }
        // sshd daemonizes, binds, then writes its pid file
        if !sys::wait_until(Duration::from_secs(10), Duration::from_millis(5), || self.sshd_pid().is_some()) {
            bail!("sshd for {} did not come up: {}", self.name, self.log_tail());
        }
        Ok(())
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.sshd_log()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// Stops sshd (new connections get "connection refused"; open sessions are left alone).
    pub fn stop(&self) -> Result<()> {
        if let Some(pid) = self.sshd_pid() {
            sys::terminate(&[pid], Duration::from_secs(5));
        }
        let _ = fs::remove_file(self.dir.join("sshd.pid"));
        if !sys::wait_until(Duration::from_secs(5), Duration::from_millis(10), || TcpStream::connect_timeout(&self.socket_addr(), Duration::from_millis(200)).is_err()) {
            bail!("{} still accepts connections after stop", self.name);
        }
        Ok(())
    }

    /// Stop + start.
    pub fn restart(&self) -> Result<()> {
        self.stop()?;
        self.start()
    }

    // ---------- faults ----------

    /// Man-in-the-middle stand-in: sshd now serves a freshly generated host key (the world's
    /// known_hosts still pins the original). Returns the new fingerprint.
    pub fn replace_host_key(&self) -> Result<String> {
        let key = self.dir.join("ssh_host_ed25519_key");
        let orig = self.dir.join("ssh_host_ed25519_key.orig");
        if !orig.exists() {
            fs::rename(&key, &orig)?;
            fs::rename(key.with_extension("pub"), orig.with_extension("orig.pub"))?;
        }
        keygen(&key, "impostor")?;
        self.restart()?;
        self.current_host_key_fingerprint()
    }

    /// Puts the original host key back.
    pub fn restore_host_key(&self) -> Result<()> {
        let key = self.dir.join("ssh_host_ed25519_key");
        let orig = self.dir.join("ssh_host_ed25519_key.orig");
        if orig.exists() {
            fs::rename(&orig, &key)?;
            fs::rename(orig.with_extension("orig.pub"), key.with_extension("pub"))?;
            self.restart()?;
        }
        Ok(())
    }

    /// Changes what sshd offers for SFTP (rewrites its config and restarts it; open sessions are
    /// left alone). [`SftpSubsystem::None`]: a hardened host; [`SftpSubsystem::Broken`]: dropbear
    /// without `sftp-server`.
    pub fn set_sftp(&self, mode: SftpSubsystem) -> Result<()> {
        *self.sftp.lock().unwrap() = mode;
        self.write_sshd_config()?;
        self.restart()
    }

    /// Mounts a `kbytes` KiB tmpfs over `rel` (a directory under the home dir) holding a copy of
    /// what was there (owners and modes kept), recorded for teardown. Root mode only. Fill it
    /// with [`Host::fill_fs`]; undo with [`Host::unmount`].
    pub fn mount_small_fs(&self, rel: &str, kbytes: u32) -> Result<()> {
        if self.shared.mode != HostMode::Root {
            bail!("mounts need root mode");
        }
        let target = self.home.join(rel);
        let stash = self.dir.join(format!("stash-{}", rel.replace('/', "_")));
        let _ = fs::remove_dir_all(&stash);
        sys::run_ok("/usr/bin/cp", &["-a", target.to_str().unwrap(), stash.to_str().unwrap()])?;
        let md = fs::metadata(&target)?;
        let mut f = fs::OpenOptions::new().create(true).append(true).open(self.dir.join("mounts"))?;
        writeln!(f, "{}", target.display())?;
        let opts = format!("size={}k,mode={:o},uid={},gid={}", kbytes, md.permissions().mode() & 0o7777, self.uid, self.gid);
        sys::run_ok("/usr/bin/mount", &["-t", "tmpfs", "-o", &opts, "ck-small-fs", target.to_str().unwrap()])?;
        sys::run_ok("/usr/bin/cp", &["-a", &format!("{}/.", stash.display()), &format!("{}/", target.display())])?;
        let _ = fs::remove_dir_all(&stash);
        Ok(())
    }

    /// Fills the file system holding `rel` (under the home dir) up with a file `rel/.filler`
    /// owned by the host user, until it is full.
    pub fn fill_fs(&self, rel: &str) -> Result<()> {
        let p = self.home.join(rel).join(".filler");
        let mut f = fs::File::create(&p)?;
        let block = vec![0u8; 1024];
        loop {
            if f.write_all(&block).and_then(|_| f.sync_all()).is_err() {
                break;
            }
        }
        // the last bytes a partial block may still take
        for _ in 0..4096 {
            if f.write_all(&[0u8]).and_then(|_| f.sync_all()).is_err() {
                break;
            }
        }
        drop(f);
        self.chown(&p)
    }

    /// Unmounts what [`Host::mount_small_fs`] mounted over `rel`; the files of the mount are gone
    /// and the original directory shows again.
    pub fn unmount(&self, rel: &str) -> Result<()> {
        let target = self.home.join(rel);
        sys::run_ok("/usr/bin/umount", &[target.to_str().unwrap()])?;
        let rec = self.dir.join("mounts");
        let kept: String = fs::read_to_string(&rec).unwrap_or_default().lines().filter(|l| Path::new(l.trim()) != target).map(|l| format!("{l}\n")).collect();
        write_file(&rec, kept.as_bytes(), 0o644)
    }

    /// Cuts the host off: every packet to or from its address is dropped (nft), so connects
    /// time out and open sessions hang. Root mode only.
    pub fn cut_network(&self) -> Result<()> {
        self.set_nft_rules(&["drop"])
    }

    /// Slow link: traffic to and from the host is limited to about `kbytes_per_sec` kB/s each
    /// way (nft rate limit; excess packets are dropped and TCP retransmits).
    pub fn slow_link(&self, kbytes_per_sec: u32) -> Result<()> {
        let burst = (kbytes_per_sec.max(4) / 2).max(2);
        let r = format!("limit rate over {kbytes_per_sec} kbytes/second burst {burst} kbytes drop");
        self.set_nft_rules(&[&r])
    }

    /// Removes the host's nft rules (network cut or slow link).
    pub fn restore_network(&self) -> Result<()> {
        let table = self.shared.nft_table.lock().unwrap().clone();
        if let Some(t) = table {
            // either chain may not exist yet
            let _ = sys::run_ok("/usr/sbin/nft", &["flush", "chain", "inet", &t, &format!("{}_out", self.name)]);
            let _ = sys::run_ok("/usr/sbin/nft", &["flush", "chain", "inet", &t, &self.name]);
        }
        Ok(())
    }

    fn matchers(&self) -> [String; 2] {
        match self.shared.mode {
            HostMode::Root => [format!("ip daddr {}", self.addr), format!("ip saddr {}", self.addr)],
            HostMode::SameUser => [format!("ip daddr 127.0.0.1 tcp dport {}", self.port), format!("ip saddr 127.0.0.1 tcp sport {}", self.port)],
        }
    }

    /// Blocks the host user's outgoing TCP connections to `port` (any address): they are reset,
    /// as on a VPS whose firewall allows no egress to the API. Root mode only (matches the
    /// user's uid on the output hook); undone by [`Host::restore_network`].
    pub fn block_egress(&self, port: u16) -> Result<()> {
        self.set_out_rules(&[format!("meta skuid {} tcp dport {port} reject with tcp reset", self.uid)])
    }

    /// Refuses connections to this host's sshd made by processes of `uid` (e.g. 0, the test
    /// and the `clawkeep` it runs), while other users (a jump host's forwarding) still get
    /// through: a host reachable only via a bastion. Undone by [`Host::restore_network`].
    pub fn refuse_direct_ssh_from(&self, uid: u32) -> Result<()> {
        self.set_out_rules(&[format!("ip daddr {} tcp dport {} meta skuid {uid} reject with tcp reset", self.addr, self.port)])
    }

    /// Replaces the host's output-hook rules (root mode only).
    fn set_out_rules(&self, rules: &[String]) -> Result<()> {
        if self.shared.mode != HostMode::Root {
            bail!("output faults need root mode (a uid of its own)");
        }
        let table = self.nft_table()?;
        let chain = format!("{}_out", self.name);
        let mut script = format!("add chain inet {table} {chain} {{ type filter hook output priority -10; policy accept; }}\nflush chain inet {table} {chain}\n");
        for r in rules {
            script.push_str(&format!("add rule inet {table} {chain} {r}\n"));
        }
        nft_apply(&script)
    }

    fn nft_table(&self) -> Result<String> {
        if !sys::is_root() {
            bail!("network faults need root (nft)");
        }
        let mut t = self.shared.nft_table.lock().unwrap();
        if t.is_none() {
            let name = format!("ck_{}", self.shared.id.replace('-', "_"));
            // record before creating, so teardown finds it even if we die in between
            write_file(&self.shared.dir.join("nft-table"), name.as_bytes(), 0o644)?;
            let ruleset = format!("table inet {name} {{\n  chain input {{\n    type filter hook input priority -10; policy accept;\n  }}\n}}\n");
            nft_apply(&ruleset)?;
            *t = Some(name);
        }
        Ok(t.clone().unwrap())
    }

    fn set_nft_rules(&self, verdicts: &[&str]) -> Result<()> {
        let table = self.nft_table()?;
        let chain = &self.name;
        let [m_in, m_out] = self.matchers();
        // create the host chain + jumps once
        let probe = sys::run_with(
            {
                let mut c = Command::new("/usr/sbin/nft");
                c.args(["list", "chain", "inet", &table, chain]);
                c
            },
            None,
            Duration::from_secs(10),
            1 << 20,
        )?;
        let mut script = String::new();
        if !probe.success() {
            script.push_str(&format!("add chain inet {table} {chain}\n"));
            script.push_str(&format!("add rule inet {table} input {m_in} jump {chain}\n"));
            script.push_str(&format!("add rule inet {table} input {m_out} jump {chain}\n"));
        }
        script.push_str(&format!("flush chain inet {table} {chain}\n"));
        for v in verdicts {
            // separate limiters per direction: one rule per matcher
            script.push_str(&format!("add rule inet {table} {chain} {m_in} {v}\n"));
            script.push_str(&format!("add rule inet {table} {chain} {m_out} {v}\n"));
        }
        nft_apply(&script)
    }

    /// Switches the login-shell behaviour (root mode: the shell is a wrapper reading a mode file).
    pub fn set_shell_mode(&self, mode: ShellMode) -> Result<()> {
        if self.shared.mode != HostMode::Root {
            bail!("shell faults need root mode");
        }
        let mf = self.dir.join("shell-mode");
        let banner = self.dir.join("banner");
        match mode {
            ShellMode::Normal => {
                let _ = fs::remove_file(&mf);
                let _ = fs::remove_file(&banner);
            }
            ShellMode::Noisy => {
                write_file(
                    &banner,
                    b"*******************************************************\n* Authorized access only. All activity is monitored. *\n*******************************************************\n",
                    0o644,
                )?;
                write_file(&mf, b"noisy\n", 0o644)?;
            }
            ShellMode::Huge(n) => {
                let _ = fs::remove_file(&banner);
                write_file(&mf, format!("huge:{n}\n").as_bytes(), 0o644)?;
            }
        }
        Ok(())
    }

    /// A login shell that prints `bytes` (a banner, escape sequences, binary noise, a key it
    /// echoes…) on stdout and on stderr before every command, and the same bytes as the
    /// pre-auth SSH banner when `pre_auth` is set. Root mode only; undone by
    /// `set_shell_mode(ShellMode::Normal)`.
    pub fn set_shell_say(&self, bytes: &[u8], pre_auth: bool) -> Result<()> {
        if self.shared.mode != HostMode::Root {
            bail!("shell faults need root mode");
        }
        let mf = self.dir.join("shell-mode");
        let banner = self.dir.join("banner");
        write_file(&self.dir.join("shell-mode-say"), bytes, 0o644)?;
        if pre_auth {
            write_file(&banner, bytes, 0o644)?;
        } else {
            let _ = fs::remove_file(&banner);
        }
        write_file(&mf, b"say\n", 0o644)?;
        Ok(())
    }

    // ---------- client-side probes ----------

    /// Runs `command` on the host with the `ssh` CLI (world key, strict known_hosts,
    /// curve25519), 30 s deadline.
    pub fn ssh(&self, command: &str) -> Result<CmdOutput> {
        self.ssh_with(command, None, Duration::from_secs(30))
    }

    /// Like [`Host::ssh`] with stdin data and a deadline.
    pub fn ssh_with(&self, command: &str, stdin: Option<&[u8]>, timeout: Duration) -> Result<CmdOutput> {
        self.ssh_opts(&[], command, stdin, timeout)
    }

    /// Like [`Host::ssh_with`] with extra `-o` options (e.g. `"LogLevel=INFO"` to see the banner).
    pub fn ssh_opts(&self, options: &[&str], command: &str, stdin: Option<&[u8]>, timeout: Duration) -> Result<CmdOutput> {
        let mut cmd = Command::new("/usr/bin/ssh");
        cmd.arg("-F").arg(&self.shared.ssh_config);
        for o in options {
            cmd.arg("-o").arg(o);
        }
        cmd.arg(&self.name).arg("--").arg(command);
        sys::run_with(cmd, stdin, timeout, sys::DEFAULT_CAPTURE)
    }

    /// TCP connect with a timeout and read sshd's identification line (`SSH-2.0-…`).
    pub fn tcp_probe(&self, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        let mut s = TcpStream::connect_timeout(&self.socket_addr(), timeout)?;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        s.set_read_timeout(Some(left))?;
        let mut buf = Vec::new();
        let mut b = [0u8; 256];
        while !buf.contains(&b'\n') && buf.len() < 1024 {
            let n = s.read(&mut b)?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&b[..n]);
        }
        Ok(String::from_utf8_lossy(&buf).trim().to_string())
    }

    // ---------- files on the host ----------

    /// Writes `rel` (relative to the home dir) as the host user, with `mode`.
    pub fn write_file(&self, rel: &str, contents: &[u8], mode: u32) -> Result<()> {
        let p = self.home.join(rel);
        // create missing parents one by one, each owned by the host user
        let mut missing = Vec::new();
        let mut d = p.parent();
        while let Some(dir) = d {
            if dir.exists() || !dir.starts_with(&self.home) {
                break;
            }
            missing.push(dir.to_path_buf());
            d = dir.parent();
        }
        for dir in missing.iter().rev() {
            fs::create_dir(dir)?;
            self.chown(dir)?;
        }
        write_file(&p, contents, mode)?;
        self.chown(&p)
    }

    /// Reads `rel` (relative to the home dir).
    pub fn read_file(&self, rel: &str) -> Result<String> {
        fs::read_to_string(self.home.join(rel)).with_context(|| format!("read {rel} on {}", self.name))
    }

    /// Path of `~/.openclaw/.env`.
    pub fn env_path(&self) -> PathBuf {
        self.home.join(".openclaw/.env")
    }
    /// Path of `~/.openclaw/openclaw.json`.
    pub fn config_path(&self) -> PathBuf {
        self.home.join(".openclaw/openclaw.json")
    }

    /// Replaces `~/.openclaw/.env` (mode 0600) with these variables.
    pub fn write_env(&self, vars: &[(&str, &str)]) -> Result<()> {
        self.write_file(".openclaw/.env", layout::render_env(vars).as_bytes(), 0o600)
    }

    /// Parsed `~/.openclaw/.env`.
    pub fn read_env(&self) -> Result<Vec<(String, String)>> {
        Ok(layout::parse_env(&self.read_file(".openclaw/.env")?))
    }

    /// Changes this host's OpenClaw config and rewrites `openclaw.json`.
    pub fn update_config(&self, f: impl FnOnce(&mut OpenClawConfig)) -> Result<()> {
        f(&mut self.config.lock().unwrap());
        self.render_config()
    }

    /// Current config settings.
    pub fn config(&self) -> OpenClawConfig {
        self.config.lock().unwrap().clone()
    }

    // ---------- gateway ----------

    fn gw_state(&self) -> PathBuf {
        self.home.join(scripts::GW_STATE_REL)
    }

    /// The mini-gateway spec for this world.
    pub fn mini_gateway_spec(&self) -> Result<GatewaySpec> {
        let bin = self.shared.mini_gateway.clone().map(Ok).unwrap_or_else(|| -> Result<PathBuf> {
            // worlds started without gateways: copy it on demand
            let src = find_mini_gateway()?;
            let dst = self.shared.dir.join("bin/mini-gateway");
            if !dst.exists() {
                fs::copy(&src, &dst)?;
                fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
            }
            Ok(dst)
        })?;
        Ok(GatewaySpec { argv: vec![bin.to_string_lossy().into_owned()], env: Vec::new() })
    }

    /// Starts the mini gateway under the supervisor.
    pub fn start_mini_gateway(&self) -> Result<()> {
        let spec = self.mini_gateway_spec()?;
        self.start_gateway(&spec)
    }

    /// Starts `spec` under the supervisor, as the host user with a clean environment
    /// (`HOME`, `USER`, `LOGNAME`, `PATH`, `SHELL` + `spec.env`). Stops a running one first.
    pub fn start_gateway(&self, spec: &GatewaySpec) -> Result<()> {
        self.stop_gateway()?;
        let state = self.gw_state();
        let _ = fs::remove_file(state.join("supervisor.pid"));
        let _ = fs::remove_file(state.join("gateway.pid"));
        let mut cmd = match self.shared.mode {
            HostMode::Root => {
                let mut c = Command::new("/usr/bin/setpriv");
                c.arg(format!("--reuid={}", self.uid)).arg(format!("--regid={}", self.gid)).arg("--init-groups").arg("--").arg("/usr/bin/env");
                c
            }
            HostMode::SameUser => Command::new("/usr/bin/env"),
        };
        cmd.arg("-i")
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.user))
            .arg(format!("LOGNAME={}", self.user))
            .arg("PATH=/usr/local/bin:/usr/bin:/bin")
            .arg("SHELL=/bin/bash")
            .arg("LANG=C.UTF-8");
        for (k, v) in &spec.env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg("/usr/bin/setsid").arg("-f").arg("/bin/sh").arg(self.shared.dir.join("supervisor.sh")).arg(&state).args(&spec.argv);
        cmd.current_dir(&self.home).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let st = cmd.status().context("spawn gateway supervisor")?;
        if !st.success() {
            bail!("starting the supervisor on {} failed: {st}", self.name);
        }
        let mut sup = None;
        sys::wait_until(Duration::from_secs(10), Duration::from_millis(5), || {
            sup = fs::read_to_string(state.join("supervisor.pid")).ok().and_then(|s| s.trim().parse::<u32>().ok());
            sup.is_some()
        });
        let sup = sup.ok_or_else(|| anyhow!("supervisor on {} did not start", self.name))?;
        write_file(&self.dir.join("gw.pgid"), format!("{sup}\n").as_bytes(), 0o644)?;
        if !sys::wait_until(Duration::from_secs(10), Duration::from_millis(5), || self.gateway_pid().is_some()) {
            bail!("gateway on {} did not start", self.name);
        }
        Ok(())
    }

    /// Stops supervisor and gateway (the recorded process group).
    pub fn stop_gateway(&self) -> Result<()> {
        let Some(pgid) = fs::read_to_string(self.dir.join("gw.pgid")).ok().and_then(|s| s.trim().parse::<u32>().ok()) else {
            return Ok(());
        };
        let members = sys::pids_in_group(pgid);
        if !members.is_empty() {
            sys::kill("TERM", &[-(pgid as i64)]);
            sys::terminate(&members, Duration::from_secs(10));
        }
        let _ = fs::remove_file(self.dir.join("gw.pgid"));
        let _ = fs::remove_file(self.gw_state().join("gateway.pid"));
        Ok(())
    }

    /// Supervisor pid, if running.
    pub fn supervisor_pid(&self) -> Option<u32> {
        let pid = fs::read_to_string(self.gw_state().join("supervisor.pid")).ok()?.trim().parse().ok()?;
        sys::pid_alive(pid).then_some(pid)
    }

    /// Pid of the current gateway process, if running.
    pub fn gateway_pid(&self) -> Option<u32> {
        let pid = fs::read_to_string(self.gw_state().join("gateway.pid")).ok()?.trim().parse().ok()?;
        sys::pid_alive(pid).then_some(pid)
    }

    /// The gateway process's real environment (`/proc/<pid>/environ`).
    pub fn gateway_environ(&self) -> Result<Vec<(String, String)>> {
        let pid = self.gateway_pid().ok_or_else(|| anyhow!("no gateway on {}", self.name))?;
        sys::proc_environ(pid)
    }

    /// The gateway's stdout/stderr log.
    pub fn gateway_log(&self) -> String {
        fs::read_to_string(self.gw_state().join("gateway.log")).unwrap_or_default()
    }

    /// Polls `GET /readyz` on the gateway port until 200 (bounded by `timeout`).
    pub fn wait_gateway_ready(&self, timeout: Duration) -> Result<()> {
        let url = format!("{}/readyz", self.gateway_url());
        let deadline = Instant::now() + timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            match crate::http::get(&url, Duration::from_secs(5)) {
                Ok(r) if r.status == 200 => return Ok(()),
                Ok(r) => last = format!("HTTP {}", r.status),
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("gateway on {} not ready after {timeout:?} ({last}); log tail: {}", self.name, tail(&self.gateway_log(), 15))
    }

    /// Mini gateway only: one agent "turn" (`POST /__turn`): it calls the configured Anthropic
    /// base URL with its effective key. Returns its JSON report
    /// (`{"status":…,"credential_source":"env"|"config"|"none",…}`).
    pub fn mini_turn(&self) -> Result<serde_json::Value> {
        let r = crate::http::request("POST", &format!("{}/__turn", self.gateway_url()), &[], None, Duration::from_secs(30))?;
        r.json()
    }

    /// Runs the restart command over SSH, as Clawkeep would.
    pub fn ssh_restart_gateway(&self) -> Result<CmdOutput> {
        self.ssh(scripts::RESTART_COMMAND)
    }
}

fn nft_apply(script: &str) -> Result<()> {
    let mut c = Command::new("/usr/sbin/nft");
    c.args(["-f", "-"]);
    let out = sys::run_with(c, Some(script.as_bytes()), Duration::from_secs(10), 1 << 20)?;
    if !out.success() {
        bail!("nft failed: {}\n{script}", out.stderr_str());
    }
    Ok(())
}

/// Last `n` lines of a text.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
