//! SSH transport for deploys (russh + russh-sftp, see `shared/reference/keyring-and-ssh.md` Part B).
//!
//! One [`HostSession`] per host, reused for every step of a run: exec with stdin (secrets only
//! ever travel on stdin or over SFTP, never in a command line), atomic SFTP writes
//! (0600 temp file in the same directory → fsync → `posix-rename@openssh.com`), SFTP reads, and
//! HTTP GETs to the host's loopback through a `direct-tcpip` channel.
//!
//! A host without an SFTP subsystem (dropbear without `sftp-server`, a hardened `sshd_config`)
//! is recognised at once — the subsystem request is refused or its channel closes — and the same
//! reads and the same atomic write then run over the exec channel (`execfs`, content on stdin).
//!
//! Host keys are **pinned**: [`HostSession::connect`] needs the instance's pinned `SHA256:…`
//! fingerprint and aborts the handshake (before authenticating, before any channel) when the
//! server presents another one. There is no accept-anything mode. [`probe_host_key`] reads the
//! presented key for `clawkeep host trust` and also aborts before authentication.
//!
//! russh has no connect timeout: every network step here is wrapped in `tokio::time::timeout`,
//! and the session has keepalives so a dead link is noticed within seconds.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;
use russh_sftp::client::RawSftpSession;
use russh_sftp::protocol::{FileAttributes, OpenFlags, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

mod execfs;

/// Where to connect, and what host key to expect.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The instance name (for messages).
    pub instance: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// The pinned `SHA256:…` fingerprint; `None` means "not trusted yet" and is refused.
    pub pinned: Option<String>,
    /// One ProxyJump hop: reach this target through a `direct-tcpip` channel of the jump
    /// host's own (pinned, authenticated) session.
    pub jump: Option<Box<SshTarget>>,
}

/// How to authenticate.
#[derive(Debug)]
pub enum SshAuth {
    /// The running ssh-agent (`SSH_AUTH_SOCK`).
    Agent,
    /// A private key file; `passphrase` for an encrypted one (the front end asks for it).
    KeyFile { path: PathBuf, passphrase: Option<Secret> },
}

/// Timeouts and keepalives.
#[derive(Debug, Clone)]
pub struct SshOptions {
    /// TCP connect + SSH handshake + authentication.
    pub connect_timeout: Duration,
    /// Default limit for one remote operation (exec, SFTP call).
    pub op_timeout: Duration,
    pub keepalive_interval: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions { connect_timeout: Duration::from_secs(10), op_timeout: Duration::from_secs(60), keepalive_interval: Duration::from_secs(5) }
    }
}

/// What a remote command printed. Host text: its raw output is only for parsers
/// ([`ExecOutput::stdout`]); messages use [`ExecOutput::brief`], which goes through
/// [`crate::hosttext`]. The buffers are wiped on drop (a command's output may hold a key).
#[derive(Clone)]
pub struct ExecOutput {
    pub exit_status: Option<u32>,
    /// The command's own output: everything after the start marker (login-shell noise before
    /// it is dropped); at most [`OUTPUT_LIMIT`] bytes (the tail is kept).
    stdout: Zeroizing<String>,
    stderr: Zeroizing<String>,
    /// Bytes dropped because the output was larger than the limit.
    pub dropped: u64,
}

impl std::fmt::Debug for ExecOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecOutput")
            .field("exit_status", &self.exit_status)
            .field("stdout_bytes", &self.stdout.len())
            .field("stderr_bytes", &self.stderr.len())
            .field("dropped", &self.dropped)
            .finish()
    }
}

/// Longest brief of a command's output in a message.
pub const BRIEF_MAX: usize = 600;

impl ExecOutput {
    /// An output as if a command had printed it (tests and canned runners).
    pub fn new(exit_status: Option<u32>, stdout: String, stderr: String) -> ExecOutput {
        ExecOutput { exit_status, stdout: Zeroizing::new(stdout), stderr: Zeroizing::new(stderr), dropped: 0 }
    }
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
    /// The raw standard output, **for parsers only**: never show or store it (host text, may
    /// hold keys and control characters).
    pub fn stdout(&self) -> &str {
        &self.stdout
    }
    /// The last few lines of stderr (or stdout), sanitized (keys masked, control characters
    /// neutralised, bounded): the only form of a command's output that goes into messages.
    pub fn brief(&self) -> String {
        self.brief_without(&[])
    }
    /// [`ExecOutput::brief`], with these values (the key just sent, which need not be
    /// key-shaped) masked too.
    pub fn brief_without(&self, secrets: &[&Secret]) -> String {
        let src: &str = if self.stderr.trim().is_empty() { &self.stdout } else { &self.stderr };
        let mut text = Zeroizing::new(src.to_string());
        for s in secrets.iter().filter(|s| !s.expose().is_empty()) {
            if text.contains(s.expose()) {
                text = Zeroizing::new(text.replace(s.expose(), crate::hosttext::MASKED));
            }
        }
        crate::hosttext::tail_lines(&text, 4, BRIEF_MAX)
    }
}

/// What [`HostSession::read_file_or_denied`] found.
pub enum FileRead {
    /// No such file.
    Missing,
    /// The login user may not read it.
    Denied,
    /// Its bytes.
    Bytes(Vec<u8>),
}

/// Most bytes of stdout/stderr kept per command (huge login-shell output is cut from the front).
pub const OUTPUT_LIMIT: usize = 1 << 20;

/// How long an accepted `sftp` subsystem may take to send its version packet before the host
/// is treated as having no SFTP server (files then go over exec, which is equally exact).
const SFTP_INIT_WAIT: Duration = Duration::from_secs(5);

/// `SHA256:` + unpadded base64 of the key blob: the same text as `ssh-keygen -lf`.
pub fn fingerprint_of(key: &russh::keys::PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

#[derive(Default)]
struct Seen {
    fingerprint: Option<String>,
}

struct Checker {
    expected: Option<String>,
    seen: Arc<Mutex<Seen>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(&mut self, k: &PublicKeyOrCertificate) -> std::result::Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = k else {
            // Host certificates are not pinned by Clawkeep: refuse rather than guess.
            return Ok(false);
        };
        let fp = fingerprint_of(key);
        let ok = self.expected.as_deref() == Some(fp.as_str());
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).fingerprint = Some(fp);
        Ok(ok)
    }
}

fn config(opts: &SshOptions) -> Arc<client::Config> {
    Arc::new(client::Config {
        inactivity_timeout: Some(opts.op_timeout.max(Duration::from_secs(30))),
        keepalive_interval: Some(opts.keepalive_interval),
        keepalive_max: 3,
        nodelay: true,
        ..Default::default()
    })
}

fn addr(host: &str, port: u16) -> String {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.contains(':') {
        format!("[{h}]:{port}")
    } else {
        format!("{h}:{port}")
    }
}

/// A connection error; the message may quote the server (a disconnect reason): sanitized.
fn connect_error(t: &SshTarget, message: impl Into<String>) -> Error {
    Error::SshConnect { instance: t.instance.clone(), address: addr(&t.host, t.port), message: crate::hosttext::line(&message.into(), 2000) }
}

/// Connects only far enough to see the host key, then disconnects (nothing is authenticated or
/// written). Returns the `SHA256:…` fingerprint the server presents.
/// With `target.jump`, the jump host is connected (pinned, authenticated with `auth`) first.
pub async fn probe_host_key(target: &SshTarget, auth: &SshAuth, opts: &SshOptions) -> Result<String> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let handler = Checker { expected: None, seen: seen.clone() };
    let mut jump = None;
    let r = match &target.jump {
        None => tokio::time::timeout(opts.connect_timeout, client::connect(config(opts), addr(&target.host, target.port), handler)).await,
        Some(j) => {
            let js = HostSession::connect(j, auth, opts).await?;
            let host = target.host.trim_start_matches('[').trim_end_matches(']').to_string();
            let ch = js
                .handle
                .channel_open_direct_tcpip(host, target.port as u32, "127.0.0.1", 0)
                .await
                .map_err(|e| connect_error(target, format!("the jump host {} could not open a tunnel to it: {e}", j.instance)))?;
            let r = tokio::time::timeout(opts.connect_timeout, client::connect_stream(config(opts), ch.into_stream(), handler)).await;
            jump = Some(js);
            r
        }
    };
    if let Some(j) = jump {
        j.close().await;
    }
    let fp = seen.lock().unwrap_or_else(|p| p.into_inner()).fingerprint.clone();
    match (r, fp) {
        (_, Some(fp)) => Ok(fp),
        (Err(_), None) => Err(Error::SshTimeout { instance: target.instance.clone(), address: addr(&target.host, target.port), seconds: opts.connect_timeout.as_secs() }),
        (Ok(Err(e)), None) => Err(connect_error(target, e.to_string())),
        (Ok(Ok(_)), None) => Err(connect_error(target, "the server presented no host key")),
    }
}

/// Does this private key file need a passphrase? (`Err` if it can't be read or parsed.)
pub fn key_file_is_encrypted(path: &std::path::Path) -> Result<bool> {
    match russh::keys::load_secret_key(path, None) {
        Ok(_) => Ok(false),
        Err(russh::keys::Error::KeyIsEncrypted) => Ok(true),
        Err(e) => Err(Error::SshAuth { instance: String::new(), user: String::new(), message: format!("cannot load SSH key {}: {e}", path.display()) }),
    }
}

/// Does `passphrase` decrypt this private key file?
pub fn key_file_opens_with(path: &std::path::Path, passphrase: &Secret) -> bool {
    russh::keys::load_secret_key(path, Some(passphrase.expose())).is_ok()
}

/// One authenticated SSH connection to one host.
pub struct HostSession {
    target: SshTarget,
    opts: SshOptions,
    handle: client::Handle<Checker>,
    /// The jump host's session, kept alive while this one lives.
    _jump: Option<Box<HostSession>>,
    /// The SFTP session; `None` when the host has no SFTP subsystem (files go over exec then).
    sftp: tokio::sync::OnceCell<Option<RawSftpSession>>,
    home: tokio::sync::OnceCell<String>,
    fingerprint: String,
}

impl std::fmt::Debug for HostSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostSession").field("target", &self.target).finish()
    }
}

impl HostSession {
    /// Connects, checks the pinned host key, authenticates. Refuses an unpinned target.
    pub async fn connect(target: &SshTarget, auth: &SshAuth, opts: &SshOptions) -> Result<HostSession> {
        let Some(pinned) = target.pinned.clone() else {
            return Err(Error::HostKeyUnknown { instance: target.instance.clone(), presented: None });
        };
        let seen = Arc::new(Mutex::new(Seen::default()));
        let handler = Checker { expected: Some(pinned.clone()), seen: seen.clone() };
        let deadline = tokio::time::Instant::now() + opts.connect_timeout;
        let timeout_err = || Error::SshTimeout { instance: target.instance.clone(), address: addr(&target.host, target.port), seconds: opts.connect_timeout.as_secs() };
        let mut jump_session = None;
        let r = match &target.jump {
            None => tokio::time::timeout_at(deadline, client::connect(config(opts), addr(&target.host, target.port), handler)).await,
            Some(j) => {
                if j.jump.is_some() {
                    return Err(Error::invalid("jump", "only one ProxyJump hop is supported"));
                }
                let js = Box::pin(HostSession::connect(j, auth, opts)).await?;
                let host = target.host.trim_start_matches('[').trim_end_matches(']').to_string();
                let ch = tokio::time::timeout_at(deadline, js.handle.channel_open_direct_tcpip(host, target.port as u32, "127.0.0.1", 0))
                    .await
                    .map_err(|_| timeout_err())?
                    .map_err(|e| connect_error(target, format!("the jump host {} could not open a tunnel to it: {e}", j.instance)))?;
                jump_session = Some(Box::new(js));
                tokio::time::timeout_at(deadline, client::connect_stream(config(opts), ch.into_stream(), handler)).await
            }
        };
        let presented = seen.lock().unwrap_or_else(|p| p.into_inner()).fingerprint.clone();
        if let Some(p) = &presented {
            if *p != pinned {
                return Err(Error::HostKeyMismatch { instance: target.instance.clone(), address: addr(&target.host, target.port), pinned, presented: p.clone() });
            }
        }
        let mut handle = match r {
            Err(_) => return Err(timeout_err()),
            Ok(Err(e)) => return Err(connect_error(target, e.to_string())),
            Ok(Ok(h)) => h,
        };
        let authed = tokio::time::timeout_at(deadline, authenticate(&mut handle, target, auth)).await.map_err(|_| timeout_err())??;
        // russh reports a session that ended during login as a refusal (its reply channel
        // closed). It ends that way when the server hangs up, and when the server's pre-login
        // banner is not UTF-8, which russh 0.65 cannot decode: say so rather than blame the key.
        if !authed && handle.is_closed() {
            return Err(connect_error(
                target,
                "the connection ended during login, before the host accepted or refused a key: sshd closed it, or it sent a pre-login banner \
                 that is not valid UTF-8 (sshd_config `Banner`), which Clawkeep's SSH library cannot read; make the banner UTF-8 or remove it",
            ));
        }
        if !authed {
            return Err(Error::SshAuth {
                instance: target.instance.clone(),
                user: target.user.clone(),
                message: format!(
                    "{}@{} refused every offered key ({}). Check that the key is in the user's authorized_keys, or choose another identity for Clawkeep",
                    target.user,
                    addr(&target.host, target.port),
                    match auth {
                        SshAuth::Agent => "ssh-agent identities".to_string(),
                        SshAuth::KeyFile { path, .. } => format!("key file {}", path.display()),
                    }
                ),
            });
        }
        Ok(HostSession {
            target: target.clone(),
            opts: opts.clone(),
            handle,
            _jump: jump_session,
            sftp: tokio::sync::OnceCell::new(),
            home: tokio::sync::OnceCell::new(),
            fingerprint: pinned,
        })
    }

    pub fn target(&self) -> &SshTarget {
        &self.target
    }

    /// The (verified) host key fingerprint.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// An error of a remote step. The message may quote the server (SFTP status texts, channel
    /// failures): it goes through [`crate::hosttext::line`].
    fn remote(&self, step: &str, message: impl Into<String>) -> Error {
        Error::Remote { instance: self.target.instance.clone(), step: step.to_string(), message: crate::hosttext::line(&message.into(), 2000) }
    }

    fn timeout(&self, step: &str, d: Duration) -> Error {
        self.remote(step, format!("no answer within {} s (network cut or host hung?)", d.as_secs()))
    }

    /// Runs `command` (POSIX sh syntax, run by the user's login shell) with optional stdin.
    /// Login-shell noise printed before the command is dropped; output is capped.
    pub async fn exec(&self, step: &str, command: &str, stdin: Option<&[u8]>, limit: Duration) -> Result<ExecOutput> {
        let fut = self.exec_inner(step, command, stdin);
        tokio::time::timeout(limit, fut).await.map_err(|_| self.timeout(step, limit))?
    }

    async fn exec_inner(&self, step: &str, command: &str, stdin: Option<&[u8]>) -> Result<ExecOutput> {
        let (status, marker, out, err) = self.exec_collect(step, command, stdin, OUTPUT_LIMIT).await?;
        let dropped = out.dropped + err.dropped;
        Ok(ExecOutput { exit_status: Some(status), stdout: out.after(&marker), stderr: err.after(&marker), dropped })
    }

    /// Runs a wrapped command and collects its exit status, the start marker, and the last
    /// `keep` bytes of stdout and of stderr. No timeout of its own (callers wrap it).
    async fn exec_collect(&self, step: &str, command: &str, stdin: Option<&[u8]>, keep: usize) -> Result<(u32, String, Tail, Tail)> {
        let nonce: u64 = rand::random();
        let marker = format!("__clawkeep_begin_{nonce:016x}__");
        let wrapped = format!("printf '%s\\n' {marker}; printf '%s\\n' {marker} >&2; {command}");
        let mut ch = self.handle.channel_open_session().await.map_err(|e| self.remote(step, format!("cannot open a session channel: {e}")))?;
        ch.exec(true, wrapped.as_bytes()).await.map_err(|e| self.remote(step, format!("exec failed: {e}")))?;
        if let Some(data) = stdin {
            ch.data_bytes(data.to_vec()).await.map_err(|e| self.remote(step, format!("sending stdin failed: {e}")))?;
        }
        ch.eof().await.map_err(|e| self.remote(step, format!("closing stdin failed: {e}")))?;
        let mut out = Tail::new(keep);
        let mut err = Tail::new(keep);
        let mut status = None;
        while let Some(msg) = ch.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.push(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => err.push(&data),
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => break,
                _ => {}
            }
        }
        let Some(status) = status else {
            return Err(self.remote(step, "the connection closed before the command finished"));
        };
        Ok((status, marker, out, err))
    }

    /// The SFTP session, or `None` when the host has no SFTP subsystem: OpenSSH without a
    /// `Subsystem sftp` line refuses the request, dropbear without `sftp-server` accepts it and
    /// the channel closes at once. Either is known within a round trip (no timeout is waited
    /// for), and the file operations then run over the exec channel (`execfs`).
    async fn sftp(&self) -> Result<Option<&RawSftpSession>> {
        let s = self
            .sftp
            .get_or_try_init(|| async {
                let mut ch = self.handle.channel_open_session().await.map_err(|e| self.remote("sftp", format!("cannot open a channel: {e}")))?;
                ch.request_subsystem(true, "sftp").await.map_err(|e| self.remote("sftp", format!("cannot request the sftp subsystem: {e}")))?;
                let accepted = loop {
                    match ch.wait().await {
                        Some(ChannelMsg::Success) => break true,
                        Some(ChannelMsg::Failure | ChannelMsg::Eof | ChannelMsg::Close | ChannelMsg::ExitStatus { .. }) | None => break false,
                        Some(_) => {}
                    }
                };
                if !accepted {
                    let _ = ch.close().await;
                    return Ok::<_, Error>(None);
                }
                let s = RawSftpSession::new(ch.into_stream());
                s.set_timeout(self.opts.op_timeout.as_secs().max(1));
                // A server behind an accepted subsystem answers its version packet within a round
                // trip. One that does not within SFTP_INIT_WAIT is treated as absent: the exec
                // path does the same reads and the same atomic write, so falling back is always
                // safe, and a deploy never waits out the operation timeout here (seen once under
                // load with `Subsystem sftp /no-such-server`: the close was not noticed).
                match tokio::time::timeout(SFTP_INIT_WAIT.min(self.opts.op_timeout), s.init()).await {
                    Ok(Ok(_)) => Ok(Some(s)),
                    // Accepted, then ended (or silent) before its version packet: no sftp server.
                    Ok(Err(_)) | Err(_) => Ok(None),
                }
            })
            .await?;
        Ok(s.as_ref())
    }

    /// Whether the host offers SFTP (`false`: files are read and written over exec).
    pub async fn has_sftp(&self) -> Result<bool> {
        Ok(self.sftp().await?.is_some())
    }

    async fn with_timeout<T>(&self, step: &str, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        let d = self.opts.op_timeout;
        tokio::time::timeout(d, fut).await.map_err(|_| self.timeout(step, d))?
    }

    /// The login user's home directory (absolute).
    pub async fn home(&self) -> Result<String> {
        self.home.get_or_try_init(|| self.home_inner()).await.cloned()
    }

    async fn home_inner(&self) -> Result<String> {
        self.with_timeout("home", async {
            let Some(s) = self.sftp().await? else { return self.exec_home().await };
            let name = s.realpath(".").await.map_err(|e| self.remote("home", e.to_string()))?;
            name.files.first().map(|f| f.filename.clone()).ok_or_else(|| self.remote("home", "realpath returned nothing"))
        })
        .await
    }

    /// Mode and owner uid of a file, or `None` if it does not exist.
    pub async fn stat(&self, path: &str) -> Result<Option<FileAttributes>> {
        self.with_timeout("stat", async {
            let Some(s) = self.sftp().await? else { return self.exec_stat(path).await };
            match s.stat(path).await {
                Ok(a) => Ok(Some(a.attrs)),
                Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::NoSuchFile => Ok(None),
                Err(e) => Err(self.remote("stat", format!("{path}: {e}"))),
            }
        })
        .await
    }

    /// Reads a whole (small) file, or `None` if it does not exist. At most `max` bytes.
    pub async fn read_file(&self, path: &str, max: usize) -> Result<Option<Vec<u8>>> {
        match self.read_file_or_denied(path, max).await? {
            FileRead::Missing => Ok(None),
            FileRead::Denied => Err(self.remote("read", format!("{path}: permission denied (the SSH user {} may not read it)", self.target.user))),
            FileRead::Bytes(b) => Ok(Some(b)),
        }
    }

    /// [`HostSession::read_file`] that tells a file the login user may not read
    /// ([`FileRead::Denied`]) from other failures, for the planner to explain.
    pub async fn read_file_or_denied(&self, path: &str, max: usize) -> Result<FileRead> {
        self.with_timeout("read", async {
            let Some(s) = self.sftp().await? else { return self.exec_read(path, max).await };
            let h = match s.open(path, OpenFlags::READ, FileAttributes::empty()).await {
                Ok(h) => h.handle,
                Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::NoSuchFile => return Ok(FileRead::Missing),
                Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::PermissionDenied => return Ok(FileRead::Denied),
                Err(e) => return Err(self.remote("read", format!("{path}: {e}"))),
            };
            let mut buf = Vec::new();
            let result = loop {
                if buf.len() > max {
                    break Err(self.remote("read", format!("{path} is larger than {max} bytes")));
                }
                match s.read(h.as_str(), buf.len() as u64, 32 * 1024).await {
                    Ok(d) if d.data.is_empty() => break Ok(()),
                    Ok(d) => buf.extend_from_slice(&d.data),
                    Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::Eof => break Ok(()),
                    Err(e) => break Err(self.remote("read", format!("{path}: {e}"))),
                }
            };
            let _ = s.close(h).await;
            result.map(|()| FileRead::Bytes(buf))
        })
        .await
    }

    /// Writes `data` to `path` atomically: a 0600 temp file in the same directory, fsync,
    /// owner and group of the file it replaces (when there is one), chmod 0600, then
    /// `posix-rename@openssh.com` over the target. A reader sees the old file or the new one,
    /// never a partial one. When the login user may not give the temp file the old file's
    /// owner/group, nothing is replaced (an error says so). The temp file is removed on
    /// failure (best effort). A `path` that is a symlink is written through: its target is
    /// replaced and the link stays. Without SFTP the same steps run over exec (`execfs`).
    /// A write that failed for want of space is [`Error::DiskFull`].
    pub async fn write_atomic(&self, path: &str, data: &[u8]) -> Result<()> {
        let r = self
            .with_timeout("write", async {
                match self.sftp().await? {
                    Some(s) => self.write_sftp(s, path, data).await,
                    None => self.exec_write(path, data).await,
                }
            })
            .await;
        match r {
            Err(e @ Error::Remote { .. }) => Err(self.write_failure(path, data.len(), e).await),
            r => r,
        }
    }

    /// A failed write's error: [`Error::DiskFull`] when the host says so or its file system has
    /// less room than the file needs (asked with `df` once the temp file is gone), else the
    /// step's own error.
    async fn write_failure(&self, path: &str, len: usize, err: Error) -> Error {
        let Error::Remote { message, .. } = &err else { return err };
        if message.contains("no answer within") {
            return err;
        }
        let dir = path.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".");
        let cmd = format!("df -Pk -- {} 2>/dev/null | awk 'NR == 2 {{ print \"avail=\" $4 }}'", sh_quote(dir));
        let avail = match tokio::time::timeout(Duration::from_secs(5), self.exec_inner("write", &cmd, None)).await {
            Ok(Ok(out)) => out.stdout().lines().find_map(|l| l.trim().strip_prefix("avail=")).and_then(|v| v.trim().parse::<u64>().ok()),
            _ => None,
        };
        match execfs::disk_full(message, avail, len) {
            Some(detail) => Error::DiskFull { instance: self.target.instance.clone(), path: crate::hosttext::line(path, 500), detail },
            None => err,
        }
    }

    async fn write_sftp(&self, s: &RawSftpSession, path: &str, data: &[u8]) -> Result<()> {
        // A symlinked file is written through: the link stays, its target is replaced.
        let target = match s.lstat(path).await {
            Ok(a) if a.attrs.permissions.is_some_and(|p| p & 0o170000 == 0o120000) => {
                let name = s.realpath(path).await.map_err(|e| self.remote("write", format!("{path} is a symlink whose target cannot be resolved: {e}")))?;
                name.files.first().map(|f| f.filename.clone()).ok_or_else(|| self.remote("write", format!("{path} is a symlink whose target cannot be resolved")))?
            }
            _ => path.to_string(),
        };
        let (dir, base) = match target.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b.to_string()),
            None => (".".to_string(), target.clone()),
        };
        let nonce: u32 = rand::random();
        let tmp = format!("{dir}/.{base}.clawkeep-tmp-{nonce:08x}");
        let r = self.write_sftp_inner(s, &tmp, &target, data).await;
        if r.is_err() {
            let _ = tokio::time::timeout(Duration::from_secs(3), s.remove(tmp.as_str())).await;
        }
        r
    }

    async fn write_sftp_inner(&self, s: &RawSftpSession, tmp: &str, path: &str, data: &[u8]) -> Result<()> {
        let attrs = FileAttributes { permissions: Some(0o600), ..FileAttributes::empty() };
        let e = |what: &str, err: russh_sftp::client::error::Error| self.remote("write", format!("{what} {tmp}: {err}"));
        // The owner and group the new file must keep (the gateway's user may own it).
        let old_owner = match s.stat(path).await {
            Ok(a) if a.attrs.file_type().is_file() => a.attrs.uid.zip(a.attrs.gid),
            Ok(_) => None,
            Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::NoSuchFile => None,
            Err(x) => return Err(self.remote("write", format!("stat {path}: {x}"))),
        };
        let h = s.open(tmp, OpenFlags::CREATE | OpenFlags::EXCLUDE | OpenFlags::WRITE, attrs.clone()).await.map_err(|x| e("create", x))?.handle;
        let mut off = 0usize;
        let mut written = Ok(());
        for chunk in data.chunks(32 * 1024) {
            if let Err(x) = s.write(h.as_str(), off as u64, chunk.to_vec()).await {
                written = Err(e("write", x));
                break;
            }
            off += chunk.len();
        }
        if written.is_ok() {
            written = s.fsync(h.as_str()).await.map(|_| ()).map_err(|x| e("fsync", x));
        }
        // Closed in any case, so the caller can remove the temp file.
        let closed = s.close(h).await.map(|_| ()).map_err(|x| e("close", x));
        written?;
        closed?;
        if let Some((uid, gid)) = old_owner {
            let now = s.stat(tmp).await.map_err(|x| e("stat", x))?.attrs;
            if now.uid != Some(uid) || now.gid != Some(gid) {
                let own = FileAttributes { uid: Some(uid), gid: Some(gid), ..FileAttributes::empty() };
                s.setstat(tmp, own).await.map_err(|x| self.owner_refused(path, uid, gid, &x.to_string()))?;
            }
        }
        s.setstat(tmp, attrs).await.map_err(|x| e("chmod", x))?;
        let mut p = Vec::new();
        for part in [tmp, path] {
            p.extend_from_slice(&(part.len() as u32).to_be_bytes());
            p.extend_from_slice(part.as_bytes());
        }
        s.extended("posix-rename@openssh.com", p)
            .await
            .map_err(|x| self.remote("write", format!("rename {tmp} -> {path}: {x} (the server needs OpenSSH's posix-rename extension)")))?;
        Ok(())
    }

    /// The login user may not give the new file the replaced file's owner/group.
    fn owner_refused(&self, path: &str, uid: u32, gid: u32, why: &str) -> Error {
        self.remote(
            "write",
            format!(
                "{path} belongs to uid {uid}, gid {gid}, and the SSH user {} may not give the new file that owner/group ({why}); nothing was replaced: deploy as the file's owner (or root), or change its group to one the SSH user is in",
                self.target.user
            ),
        )
    }

    /// Creates a directory with `mode` (an existing directory is fine).
    pub async fn mkdir(&self, path: &str, mode: u32) -> Result<()> {
        self.with_timeout("mkdir", async {
            let Some(s) = self.sftp().await? else { return self.exec_mkdir(path, mode).await };
            let attrs = FileAttributes { permissions: Some(mode), ..FileAttributes::empty() };
            match s.mkdir(path, attrs).await {
                Ok(_) => Ok(()),
                Err(e) => match s.stat(path).await {
                    Ok(a) if a.attrs.is_dir() => Ok(()),
                    _ => Err(self.remote("mkdir", format!("{path}: {e}"))),
                },
            }
        })
        .await
    }

    /// Removes a file (missing is fine).
    pub async fn remove(&self, path: &str) -> Result<()> {
        self.with_timeout("remove", async {
            let Some(s) = self.sftp().await? else { return self.exec_remove(path).await };
            match s.remove(path).await {
                Ok(_) => Ok(()),
                Err(russh_sftp::client::error::Error::Status(st)) if st.status_code == StatusCode::NoSuchFile => Ok(()),
                Err(e) => Err(self.remote("remove", format!("{path}: {e}"))),
            }
        })
        .await
    }

    /// `GET path` on the host's own loopback (`127.0.0.1:port`) through a `direct-tcpip`
    /// channel. Returns the status code and (at most 64 KiB of) the body.
    pub async fn http_get_loopback(&self, port: u16, path: &str, limit: Duration) -> Result<(u16, String)> {
        let step = "readyz";
        let fut = async {
            let ch = self
                .handle
                .channel_open_direct_tcpip("127.0.0.1", port as u32, "127.0.0.1", 0)
                .await
                .map_err(|e| self.remote(step, format!("cannot reach 127.0.0.1:{port} on the host: {e}")))?;
            let mut stream = ch.into_stream();
            let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
            stream.write_all(req.as_bytes()).await.map_err(|e| self.remote(step, e.to_string()))?;
            stream.flush().await.map_err(|e| self.remote(step, e.to_string()))?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                let n = stream.read(&mut chunk).await.map_err(|e| self.remote(step, e.to_string()))?;
                if n == 0 || buf.len() > 64 * 1024 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let text = String::from_utf8_lossy(&buf).into_owned();
            let status = text
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|c| c.parse::<u16>().ok())
                .ok_or_else(|| self.remote(step, format!("no HTTP answer on 127.0.0.1:{port}")))?;
            let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
            Ok((status, body))
        };
        tokio::time::timeout(limit, fut).await.map_err(|_| self.timeout(step, limit))?
    }

    /// Closes the connection politely.
    pub async fn close(self) {
        if let Some(Some(s)) = self.sftp.get() {
            let _ = s.close_session();
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), self.handle.disconnect(russh::Disconnect::ByApplication, "", "en")).await;
        if let Some(j) = self._jump {
            Box::pin(j.close()).await;
        }
    }
}

async fn authenticate(h: &mut client::Handle<Checker>, t: &SshTarget, auth: &SshAuth) -> Result<bool> {
    let auth_err = |m: String| Error::SshAuth { instance: t.instance.clone(), user: t.user.clone(), message: crate::hosttext::line(&m, 2000) };
    match auth {
        SshAuth::KeyFile { path, passphrase } => {
            let key = match russh::keys::load_secret_key(path, passphrase.as_ref().map(|p| p.expose())) {
                Ok(k) => k,
                Err(russh::keys::Error::KeyIsEncrypted) => {
                    return Err(Error::SshPassphraseNeeded { path: path.display().to_string() });
                }
                Err(e) => return Err(auth_err(format!("cannot load SSH key {}: {e} (wrong passphrase?)", path.display()))),
            };
            let hash = h.best_supported_rsa_hash().await.map_err(|e| auth_err(e.to_string()))?.flatten();
            let r = h
                .authenticate_publickey(t.user.clone(), PrivateKeyWithHashAlg::new(Arc::new(key), hash))
                .await
                .map_err(|e| auth_err(format!("public-key authentication failed: {e}")))?;
            Ok(r.success())
        }
        SshAuth::Agent => {
            let mut agent = russh::keys::agent::client::AgentClient::connect_env()
                .await
                .map_err(|e| auth_err(format!("no usable ssh-agent (SSH_AUTH_SOCK): {e}. Start one and `ssh-add` your key, or choose a key file for Clawkeep")))?;
            let ids = agent.request_identities().await.map_err(|e| auth_err(format!("the ssh-agent did not list identities: {e}")))?;
            if ids.is_empty() {
                return Err(auth_err("the ssh-agent holds no identities (run `ssh-add`)".into()));
            }
            let hash = h.best_supported_rsa_hash().await.map_err(|e| auth_err(e.to_string()))?.flatten();
            for id in ids {
                let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = id else { continue };
                let r = h.authenticate_publickey_with(t.user.clone(), key, hash, &mut agent).await.map_err(|e| auth_err(format!("agent authentication failed: {e}")))?;
                if r.success() {
                    return Ok(true);
                }
            }
            Ok(false)
        }
    }
}

/// A byte sink that keeps the last `limit` bytes; every buffer it used is wiped.
struct Tail {
    buf: Zeroizing<Vec<u8>>,
    dropped: u64,
    limit: usize,
}

impl Tail {
    fn new(limit: usize) -> Tail {
        Tail { buf: Zeroizing::new(Vec::new()), dropped: 0, limit }
    }
    fn push(&mut self, d: &[u8]) {
        if self.buf.len() + d.len() > self.buf.capacity() {
            // Grow by hand so the old allocation is wiped (a Vec's own growth would free it as is).
            let mut bigger = Zeroizing::new(Vec::with_capacity((self.buf.len() + d.len()).max(2 * self.buf.capacity()).max(4096)));
            bigger.extend_from_slice(&self.buf);
            self.buf = bigger;
        }
        self.buf.extend_from_slice(d);
        if self.buf.len() > 2 * self.limit {
            let cut = self.buf.len() - self.limit;
            self.buf.drain(..cut);
            self.dropped += cut as u64;
        }
    }
    /// The bytes after the first `marker` line, exactly as sent (no text conversion); `None`
    /// when the marker was cut off (more output than the limit).
    fn bytes_after(&self, marker: &str) -> Option<Zeroizing<Vec<u8>>> {
        let m = format!("{marker}\n");
        let i = self.buf.windows(m.len()).position(|w| w == m.as_bytes())?;
        Some(Zeroizing::new(self.buf[i + m.len()..].to_vec()))
    }

    fn after(mut self, marker: &str) -> Zeroizing<String> {
        if self.buf.len() > self.limit {
            let cut = self.buf.len() - self.limit;
            self.buf.drain(..cut);
            self.dropped += cut as u64;
        }
        let text = Zeroizing::new(String::from_utf8_lossy(&self.buf).into_owned());
        match text.rfind(marker) {
            Some(i) => Zeroizing::new(text[i + marker.len()..].trim_start_matches('\n').to_string()),
            None => text,
        }
    }
}

/// Quotes a string for POSIX sh (single quotes). Never used for secrets.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
