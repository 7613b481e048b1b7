//! Hosts: the one SSH route per instance ([`Clawkeep::ssh_target`]: the pinned host key and the
//! stored jump host), host trust (probe, compare, pin), the SSH key passphrase unlocked for this
//! process, and [`Clawkeep::ssh_login`], which turns a front end's [`SshCredentials`] into the
//! login a flow connects with.

use std::path::PathBuf;

use serde_json::json;

use crate::error::{Error, Result};
use crate::login::SshCredentials;
use crate::model::domain::{Instance, SshIdentity};
use crate::runtime::block_on;
use crate::secret::Secret;
use crate::ssh::{SshAuth, SshOptions, SshTarget};
use crate::store;
use crate::Clawkeep;

/// How a flow reaches one host, when the front end overrides the stored route.
#[derive(Debug, Clone, Default)]
pub struct HostRoute {
    /// Through this (trusted) instance as a ProxyJump hop, instead of the stored jump host.
    pub jump: Option<String>,
    /// TCP connect + handshake + login (default 10 s).
    pub connect_timeout: Option<std::time::Duration>,
}

impl HostRoute {
    pub(super) fn ssh_options(&self) -> SshOptions {
        let mut o = SshOptions::default();
        if let Some(t) = self.connect_timeout {
            o.connect_timeout = t.max(std::time::Duration::from_secs(1));
        }
        o
    }
}

/// Where to reach `i` directly, with its pinned host key.
pub(super) fn direct_target(i: &Instance) -> Result<SshTarget> {
    if i.ssh_host.trim().is_empty() {
        return Err(Error::no_ssh_host(&i.name));
    }
    Ok(SshTarget { instance: i.name.clone(), host: i.ssh_host.clone(), port: i.ssh_port, user: i.ssh_user.clone(), pinned: i.host_key_fingerprint.clone(), jump: None })
}

impl Clawkeep {
    /// The SSH identity from the settings, ready for [`crate::ssh::HostSession::connect`]
    /// (front ends pass [`crate::SshCredentials`] to a flow, which resolves it through here).
    /// Without `passphrase`, a key file unlocked with [`Clawkeep::unlock_ssh_key`] uses the
    /// remembered one.
    fn ssh_auth(&self, passphrase: Option<Secret>) -> Result<SshAuth> {
        Ok(match self.ssh_key_file()? {
            None => SshAuth::Agent,
            Some(path) => {
                let passphrase = passphrase.or_else(|| {
                    let unlocked = self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner());
                    unlocked.as_ref().filter(|(p, _)| *p == path).map(|(_, s)| s.duplicate())
                });
                SshAuth::KeyFile { path, passphrase }
            }
        })
    }

    /// The configured SSH key file (`~` expanded); `None` for the agent.
    fn ssh_key_file(&self) -> Result<Option<PathBuf>> {
        Ok(match self.ssh_identity()? {
            SshIdentity::Agent => None,
            SshIdentity::KeyFile { path } => {
                Some(if let Some(rest) = path.strip_prefix("~/") { dirs::home_dir().map(|h| h.join(rest)).unwrap_or_else(|| PathBuf::from(&path)) } else { PathBuf::from(&path) })
            }
        })
    }

    /// Checks `passphrase` against the configured encrypted SSH key file and remembers it for
    /// this process (memory only; a front end's "unlock" for the session). Returns whether the
    /// file needed one. A wrong passphrase is `invalid_input` and forgets nothing else.
    pub fn unlock_ssh_key(&self, passphrase: Secret) -> Result<bool> {
        let Some(path) = self.ssh_key_file()? else {
            return Err(Error::InvalidState("Clawkeep uses the ssh-agent, not a key file: there is nothing to unlock".into()));
        };
        if !crate::ssh::key_file_is_encrypted(&path)? {
            return Ok(false);
        }
        if !crate::ssh::key_file_opens_with(&path, &passphrase) {
            return Err(Error::invalid("passphrase", format!("it does not open {}", path.display())));
        }
        self.store.tx(|tx| self.audit(tx, "ssh.unlock", &path.display().to_string(), json!({ "scope": "this process" })))?;
        *self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner()) = Some((path, passphrase));
        Ok(true)
    }

    /// Forgets an unlocked SSH key passphrase.
    pub fn lock_ssh_key(&self) {
        if let Some((path, _)) = self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = self.store.tx(|tx| self.audit(tx, "ssh.lock", &path.display().to_string(), json!({})));
        }
    }

    /// Whether the configured key file is unlocked for this process (`None`: agent, or not
    /// encrypted, or unreadable).
    pub fn ssh_key_unlocked(&self) -> Result<Option<bool>> {
        let Some(path) = self.ssh_key_file()? else { return Ok(None) };
        if !crate::ssh::key_file_is_encrypted(&path).unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(self.ssh_unlocked.lock().unwrap_or_else(|p| p.into_inner()).as_ref().is_some_and(|(p, _)| *p == path)))
    }

    /// Where to reach an instance, with its pinned host key, through its stored jump host (if
    /// any; that one's key is pinned too).
    pub fn ssh_target(&self, name: &str) -> Result<SshTarget> {
        let i = self.instance(name)?;
        let mut t = direct_target(&i)?;
        if let Some(j) = &i.jump_via {
            t.jump = Some(Box::new(self.jump_target(j)?));
        }
        Ok(t)
    }

    /// [`Clawkeep::ssh_target`] without the stored jump host.
    pub fn ssh_target_direct(&self, name: &str) -> Result<SshTarget> {
        direct_target(&self.instance(name)?)
    }

    /// A stored jump host: only once its own host key is pinned.
    pub(super) fn jump_target(&self, name: &str) -> Result<SshTarget> {
        let t = self.ssh_target_direct(name)?;
        if t.pinned.is_none() {
            return Err(Error::HostKeyUnknown { instance: name.to_string(), presented: None });
        }
        Ok(t)
    }

    /// Pins the host key the host `presented` (from [`crate::ssh::probe_host_key`]). With
    /// `expected` (a fingerprint the user got out of band) a different presented key is refused.
    pub fn trust_host(&self, name: &str, presented: &str, expected: Option<&str>) -> Result<Instance> {
        if let Some(want) = expected.map(str::trim) {
            if want != presented {
                return Err(Error::HostKeyMismatch {
                    instance: name.to_string(),
                    address: self.ssh_target(name).map(|t| format!("{}:{}", t.host, t.port)).unwrap_or_default(),
                    pinned: want.to_string(),
                    presented: presented.to_string(),
                });
            }
        }
        self.pin_host_key(name, presented)
    }

    /// Pins (or re-pins) the host key an instance's SSH server must present.
    pub fn pin_host_key(&self, name: &str, fingerprint: &str) -> Result<Instance> {
        let fp = fingerprint.trim();
        if !fp.starts_with("SHA256:") || fp.len() < 20 || fp[7..].contains(char::is_whitespace) {
            return Err(Error::invalid("fingerprint", "expected an OpenSSH SHA-256 fingerprint like SHA256:abc…"));
        }
        self.store.tx(|tx| {
            let mut i = store::instance_by_name(tx, name)?.ok_or_else(|| Error::NotFound { kind: "instance", name: name.into() })?;
            let previous = i.host_key_fingerprint.replace(fp.to_string());
            i.updated_at = self.now();
            store::update_instance(tx, &i)?;
            self.audit(tx, "host.trust", &i.name, json!({ "fingerprint": fp, "previous": previous }))?;
            Ok(i)
        })
    }

    /// The host key `instance` presents now, next to the pinned one (the trust question of both
    /// front ends). `creds` is used only to log in to a jump host.
    pub fn probe_host(&self, instance: &str, route: &HostRoute, creds: &SshCredentials) -> Result<(String, Option<String>)> {
        let mut target = self.ssh_target(instance)?;
        if let Some(j) = &route.jump {
            target.jump = Some(Box::new(self.ssh_target_direct(j)?));
        }
        // Only a jump host needs a login (the target's key is read before any authentication).
        let auth = if target.jump.is_some() { self.ssh_login(creds)? } else { SshAuth::Agent };
        let presented = block_on(crate::ssh::probe_host_key(&target, &auth, &route.ssh_options()))??;
        Ok((presented, target.pinned))
    }

    /// Pins the host key after the user confirmed `confirmed` (from the trust question, or a
    /// fingerprint got out of band): probes again and refuses (`host_key_mismatch`, both
    /// fingerprints) when the host now presents another key.
    pub fn confirm_host_key(&self, instance: &str, confirmed: &str, route: &HostRoute, creds: &SshCredentials) -> Result<crate::Instance> {
        let (presented, _) = self.probe_host(instance, route, creds)?;
        self.trust_host(instance, &presented, Some(confirmed))
    }

    /// Resolves `creds` to the login a connection uses (see [`SshCredentials`]).
    pub fn ssh_login(&self, creds: &SshCredentials) -> Result<SshAuth> {
        match creds {
            SshCredentials::Configured => self.ssh_auth(None),
            SshCredentials::Given(SshAuth::Agent) => Ok(SshAuth::Agent),
            SshCredentials::Given(SshAuth::KeyFile { path, passphrase }) => Ok(SshAuth::KeyFile { path: path.clone(), passphrase: passphrase.as_ref().map(Secret::duplicate) }),
            SshCredentials::Prompt(ask) => match self.ssh_auth(None)? {
                SshAuth::KeyFile { path, passphrase: None } if crate::ssh::key_file_is_encrypted(&path)? => {
                    let passphrase = ask(&path)?;
                    Ok(SshAuth::KeyFile { path, passphrase: Some(passphrase) })
                }
                auth => Ok(auth),
            },
        }
    }
}
