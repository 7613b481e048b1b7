//! Deployers for step 3. [`SshDeployer`] is the real one: Clawkeep's SSH deploy
//! ([`crate::deploy`]: plan, atomic write, gateway restart, verification of the key the running
//! gateway has, automatic rollback on failure), recorded in the deployments history.
//! [`SimulatedHost`] stands in for an instance in rehearsals and tests (it remembers which key
//! is "on the host" and verifies it the way a host would use it: a free probe against the API
//! base URL). The manual deployer is [`super::machine::ManualDeployer`]. Both real and
//! simulated hosts say which key they hold by fingerprint ([`Deployer::key_on_host`]), which
//! the rollback reads before it revokes anything.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::app::Clawkeep;
use crate::deploy::{self, CancellationToken, DeployJob, DeployOptions, DeployReport, DeploySession, Outcome};
use crate::domain::{InjectionMethod, Instance, Key};
use crate::error::Result;
use crate::secret::Secret;
use crate::ssh::SshAuth;

use super::api::Client;
use super::machine::{DeployOutcome, Deployer, HostKey};

/// A throw-away copy of an instance: deploys land in memory and are verified with a probe.
#[derive(Debug)]
pub struct SimulatedHost {
    base_url: String,
    /// instance → (key name, fingerprint) currently "on the host".
    on_host: Mutex<HashMap<String, (String, String)>>,
    /// Every deploy, in order: (instance, key name).
    log: Mutex<Vec<(String, String)>>,
    /// Make the next deploys fail verification (tests).
    fail: Mutex<u32>,
}

impl SimulatedHost {
    pub fn new(base_url: &str) -> Self {
        SimulatedHost { base_url: base_url.to_string(), on_host: Mutex::default(), log: Mutex::default(), fail: Mutex::new(0) }
    }

    /// The key name currently on the simulated host of `instance`.
    pub fn key_on_host(&self, instance: &str) -> Option<String> {
        self.on_host.lock().unwrap_or_else(|p| p.into_inner()).get(instance).map(|(n, _)| n.clone())
    }

    /// Every deploy so far: (instance, key name).
    pub fn deploys(&self) -> Vec<(String, String)> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts a key on the host without a deploy (the state before a rotation).
    pub fn seed(&self, instance: &str, key: &Key) {
        self.on_host.lock().unwrap_or_else(|p| p.into_inner()).insert(instance.into(), (key.name.clone(), key.fingerprint.clone()));
    }

    /// The next `n` deploys write the key but fail verification.
    pub fn fail_next(&self, n: u32) {
        *self.fail.lock().unwrap_or_else(|p| p.into_inner()) = n;
    }
}

impl SimulatedHost {
    /// Writes `key` to the simulated host; `Some(outcome)` when a test made it fail.
    fn write(&self, instance: &Instance, key: &Key) -> Option<DeployOutcome> {
        self.on_host.lock().unwrap_or_else(|p| p.into_inner()).insert(instance.name.clone(), (key.name.clone(), key.fingerprint.clone()));
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push((instance.name.clone(), key.name.clone()));
        let mut f = self.fail.lock().unwrap_or_else(|p| p.into_inner());
        if *f > 0 {
            *f -= 1;
            return Some(DeployOutcome::Deployed { verified: false, detail: "simulated: the gateway did not pick up the key".into() });
        }
        None
    }
}

impl Deployer for SimulatedHost {
    fn key_on_host(&self, instance: &Instance, _key: &Key) -> Result<HostKey> {
        Ok(HostKey::Fingerprints(self.on_host.lock().unwrap_or_else(|p| p.into_inner()).get(&instance.name).map(|(_, fp)| fp.clone()).into_iter().collect()))
    }

    /// A rollback's restore is verified by what the host holds (the key may still be inactive
    /// at the API, so no probe).
    fn restore(&self, instance: &Instance, key: &Key, _secret: &Secret) -> Result<DeployOutcome> {
        if let Some(failed) = self.write(instance, key) {
            return Ok(failed);
        }
        Ok(DeployOutcome::Deployed { verified: true, detail: format!("simulated host of {}: key {} in place for agents {}", instance.name, key.hint, instance.agents.join(", ")) })
    }

    fn deploy(&self, instance: &Instance, key: &Key, secret: &Secret) -> Result<DeployOutcome> {
        if let Some(failed) = self.write(instance, key) {
            return Ok(failed);
        }
        let client = Client::new(&self.base_url).map_err(|e| crate::Error::InvalidState(e.to_string()))?;
        let p = client.probe(secret).map_err(|e| crate::Error::InvalidState(format!("simulated host: {e}")))?;
        let verified = p.ok() && (instance.expected_workspace_id.is_none() || p.workspace_id == instance.expected_workspace_id);
        Ok(DeployOutcome::Deployed {
            verified,
            detail: format!(
                "simulated host of {}: key {} in place for agents {}; probe {} (workspace {})",
                instance.name,
                key.hint,
                instance.agents.join(", "),
                p.status,
                p.workspace_id.unwrap_or_else(|| "-".into())
            ),
        })
    }
}

/// The real deploy over SSH (env-file injection in this build). A run that fails is recorded
/// at once; a verified run is recorded after the rotation saved its step, so the deployments
/// history never promotes or retires keys behind the rotation's back.
pub struct SshDeployer<'a> {
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
    pub fn new(ck: &'a Clawkeep, auth: SshAuth, opts: DeployOptions) -> Self {
        SshDeployer { ck, auth, opts, pending: Mutex::new(None) }
    }
}

impl Deployer for SshDeployer<'_> {
    fn deploy(&self, instance: &Instance, key: &Key, _secret: &Secret) -> Result<DeployOutcome> {
        // prepare_deploy re-reads the secret and checks it against the recorded fingerprint.
        let job = self.ck.prepare_deploy(&instance.name, Some(&key.name))?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| crate::Error::InvalidState(format!("cannot start the async runtime: {e}")))?;
        let report = rt.block_on(deploy::deploy_one(&job, &self.auth, &self.opts, false, &deploy::no_progress(), &CancellationToken::new()));
        drop(rt);
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
                return Err(crate::Error::InvalidState(format!("{detail}. Fix it and run `clawkeep rotate resume {}`, or start the rotation with --manual-deploy", instance.name)));
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
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| crate::Error::InvalidState(format!("cannot start the async runtime: {e}")))?;
        let fps = rt.block_on(async {
            let session = DeploySession::open(&job, &self.auth, &self.opts).await?;
            let fps = session.held_key_fingerprints().await;
            session.close().await;
            fps
        })?;
        Ok(HostKey::Fingerprints(fps))
    }

    fn after_commit(&self) -> Result<()> {
        if let Some((job, report)) = self.pending.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.ck.record_deployment(&job, &report)?;
        }
        Ok(())
    }
}
