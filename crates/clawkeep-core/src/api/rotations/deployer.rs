//! The deploy step of a guided rotation: [`Clawkeep::rotation_deployer`] picks the
//! [`Deployer`] — the person deploys and confirms ([`ManualDeployer`]), or Clawkeep's SSH deploy
//! ([`crate::deploy`]: plan, atomic write, gateway restart, verification of the key the running
//! gateway has, automatic rollback on failure), recorded in the deployments history. The
//! simulated host of rehearsals and tests lives in the `clawkeep-rehearsal` crate. Every
//! deployer says which key the host holds by fingerprint ([`Deployer::key_on_host`]), which
//! the rollback reads before it revokes anything.

use std::sync::Mutex;

use crate::deploy::{self, CancellationToken, DeployJob, DeployOptions, DeployReport, DeploySession, Outcome};
use crate::error::Result;
use crate::login::SshCredentials;
use crate::model::domain::{InjectionMethod, Instance, Key};
use crate::rotation::{DeployOutcome, Deployer, HostKey, ManualDeployer};
use crate::runtime::block_on;
use crate::secret::Secret;
use crate::ssh::SshAuth;
use crate::Clawkeep;

impl Clawkeep {
    /// The deployer of a guided rotation's deploy step: Clawkeep's SSH deploy, or (rotation
    /// started with `manual_deploy`, or none open) the person deploys and confirms.
    /// `remove_stale`: consent to removing stale credentials the deploy plan finds. The SSH
    /// login is resolved only for the SSH deploy.
    pub fn rotation_deployer(&self, instance: &str, remove_stale: bool, creds: &SshCredentials) -> Result<Box<dyn Deployer + '_>> {
        let manual = self.rotation(instance).map(|r| r.manual_deploy).unwrap_or(true);
        if manual {
            return Ok(Box::new(ManualDeployer));
        }
        let opts = DeployOptions { remove_stale, ..Default::default() };
        Ok(Box::new(SshDeployer::new(self, self.ssh_login(creds)?, opts)))
    }
}

/// The real deploy over SSH (env-file injection in this build). A run that fails is recorded
/// at once; a verified run is recorded after the rotation saved its step, so the deployments
/// history never promotes or retires keys behind the rotation's back.
pub(crate) struct SshDeployer<'a> {
    ck: &'a Clawkeep,
    auth: SshAuth,
    opts: DeployOptions,
    pending: Mutex<Option<(DeployJob, DeployReport)>>,
}

impl std::fmt::Debug for SshDeployer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshDeployer").finish_non_exhaustive()
    }
}

impl<'a> SshDeployer<'a> {
    /// `opts.remove_stale`: the person consented to removing stale credentials the plan finds.
    pub(crate) fn new(ck: &'a Clawkeep, auth: SshAuth, opts: DeployOptions) -> Self {
        SshDeployer { ck, auth, opts, pending: Mutex::new(None) }
    }
}

impl Deployer for SshDeployer<'_> {
    fn deploy(&self, instance: &Instance, key: &Key, _secret: &Secret) -> Result<DeployOutcome> {
        // prepare_deploy re-reads the secret and checks it against the recorded fingerprint.
        let job = self.ck.prepare_deploy(&instance.name, Some(&key.name))?;
        let report = block_on(deploy::deploy_one(&job, &self.auth, &self.opts, false, &deploy::no_progress(), &CancellationToken::new()))?;
        let verified = report.outcome == Outcome::Succeeded;
        let mut detail = format!("SSH deploy to {}: {}", report.address, report.outcome.as_str());
        if !report.steps.is_empty() {
            detail.push_str(&format!(" ({})", report.steps.join("; ")));
        }
        if let Some(e) = &report.error {
            detail.push_str(&format!(": {}", e.message));
        }
        if let Some(r) = &report.rollback {
            detail.push_str(&format!("; rollback: {r}"));
        }
        if verified {
            *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some((job, report));
        } else {
            self.ck.record_deployment(&job, &report)?;
            if matches!(report.outcome, Outcome::Refused | Outcome::Cancelled) || report.error.is_some() && report.steps.is_empty() {
                // Nothing was written: say why, as an error the person can act on.
                return Err(crate::Error::Blocked {
                    code: "rotation_deploy_refused",
                    message: format!("{detail}. Fix it and resume the rotation, or roll it back and start it again with a manual deploy"),
                    remedy: crate::Remedy::RotateResume { instance: instance.name.clone(), confirm: false },
                });
            }
        }
        Ok(DeployOutcome::Deployed { verified, detail })
    }

    /// `.env` injection: the fingerprints of the running gateway's own `ANTHROPIC_API_KEY` and
    /// of the one in `.env`, computed on the host ([`DeploySession::held_key_fingerprints`]).
    /// Other methods: [`HostKey::Unknown`] (the rollback then redeploys, which verifies). An
    /// instance whose host key is not pinned was never written to: [`HostKey::NeverReached`].
    fn key_on_host(&self, instance: &Instance, key: &Key) -> Result<HostKey> {
        if instance.host_key_fingerprint.is_none() {
            return Ok(HostKey::NeverReached(format!(
                "its SSH host key is not trusted, so Clawkeep never connected to {}@{} and cannot have put the new key there",
                instance.ssh_user, instance.ssh_host
            )));
        }
        if instance.injection != InjectionMethod::EnvFile {
            return Ok(HostKey::Unknown);
        }
        let job = self.ck.prepare_deploy(&instance.name, Some(&key.name))?;
        let fps = block_on(async {
            let session = DeploySession::open(&job, &self.auth, &self.opts).await?;
            let fps = session.held_key_fingerprints().await;
            session.close().await;
            fps
        })??;
        Ok(HostKey::Fingerprints(fps))
    }

    fn after_commit(&self) -> Result<()> {
        if let Some((job, report)) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.ck.record_deployment(&job, &report)?;
        }
        Ok(())
    }
}
