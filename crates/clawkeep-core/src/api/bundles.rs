//! Offline bundles: export one instance's deploy as a signed, `age`-encrypted installer, and
//! inspect one (what it claims, and whether this Clawkeep made it).

use serde_json::json;

use crate::error::Result;
use crate::secret::Secret;
use crate::Clawkeep;

impl Clawkeep {
    /// Builds and encrypts an offline bundle for `instance` (key: `key` or the active one), and
    /// audits the export (who, which key by fingerprint, how it was encrypted). The caller writes
    /// the bytes to a 0600 file.
    /// The installer is signed with this Clawkeep's bundle signing key (made and stored in the
    /// keychain at the first export; its id is audited), so `bundle inspect` can tell it from a
    /// forgery.
    pub fn export_bundle(&self, instance: &str, key: Option<&str>, enc: &crate::bundle::BundleEncryption) -> Result<(Vec<u8>, crate::bundle::BundleManifest)> {
        let job = self.prepare_deploy(instance, key)?;
        let signer = match self.bundle_signer()? {
            Some(s) => s,
            None => {
                let s = crate::bundle::BundleSigner::generate();
                self.keychain.set(crate::bundle::SIGNING_KEY_ACCOUNT, &s.to_secret())?;
                s
            }
        };
        let (installer, manifest) = crate::bundle::build_installer(&job, &self.os_user, self.now())?;
        let data = crate::bundle::encrypt(&signer.sign(&installer), enc)?;
        self.store.tx(|tx| {
            self.audit(tx, "bundle.export", &job.instance.name, json!({
                "key": job.key.name, "fingerprint": job.key.fingerprint, "method": job.instance.injection.as_str(),
                "encryption": match enc { crate::bundle::BundleEncryption::Passphrase(_) => "passphrase".to_string(), crate::bundle::BundleEncryption::Recipient(r) => format!("recipient {}", r.trim()) },
                "signing_key_id": signer.key_id(),
            }))
        })?;
        Ok((data, manifest))
    }

    /// Decrypts a bundle and says what it claims (never the key) and whether this Clawkeep made
    /// it (its signature checked against the signing key in the keychain).
    pub fn inspect_bundle(&self, data: &[u8], passphrase: Option<&Secret>, identity: Option<&str>) -> Result<crate::bundle::BundleInspection> {
        let installer = crate::bundle::decrypt(data, passphrase, identity)?;
        crate::bundle::verify(&installer, self.bundle_signer()?.as_ref())
    }

    /// This Clawkeep's bundle signing key; `None` before the first export.
    fn bundle_signer(&self) -> Result<Option<crate::bundle::BundleSigner>> {
        match self.keychain.get(crate::bundle::SIGNING_KEY_ACCOUNT) {
            Ok(s) => Ok(Some(crate::bundle::BundleSigner::from_secret(&s)?)),
            Err(crate::secrets::KeychainError::Missing { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
