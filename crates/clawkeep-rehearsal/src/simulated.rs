//! The simulated host of rehearsals and tests: it stands in for an instance, remembers which
//! key is "on the host" and verifies it the way a host would use it (a free probe against the
//! API base URL).

use std::collections::HashMap;
use std::sync::Mutex;

use clawkeep_core::rotation::api::Client;
use clawkeep_core::rotation::{DeployOutcome, Deployer, HostKey};
use clawkeep_core::{Instance, Key, Result, Secret};

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
        let client = Client::new(&self.base_url).map_err(|e| clawkeep_core::Error::InvalidState(e.to_string()))?;
        let p = client.probe(secret).map_err(|e| clawkeep_core::Error::InvalidState(format!("simulated host: {e}")))?;
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
