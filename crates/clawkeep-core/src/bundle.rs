//! Offline deploy bundles: for a host Clawkeep cannot reach, the same bundle as a file, encrypted
//! with `age` (a passphrase or an age recipient). Inside is one POSIX `sh` installer, run as the
//! instance's user on the host straight from the decryption — `age -d … FILE | sh -s`, so no
//! decrypted copy (which holds the key) is ever written on the host — that applies the key the
//! same careful way as an online deploy: 0600 temp file in the same directory, `sync`, `mv -f`
//! over the target (the previous file kept as a 0600 `.clawkeep-bak`), then the restart or
//! reload. The whole installer is one function called on its last line, with stdin from
//! `/dev/null`: a cut-off stream runs nothing, and no command it runs can read the rest of the
//! script from the pipe. The key sits in a quoted here-document and reaches the files through
//! shell builtins (`printf`), so it never appears in a process's argv. A JSON manifest (no
//! secret: hint and fingerprint only) heads the script.
//!
//! **Origin.** age gives confidentiality, not origin: anyone can encrypt a file to an age
//! recipient (the recipient is public), and anyone who knows a bundle's passphrase can make
//! another with it. So the installer's last line is an HMAC-SHA256 signature over everything
//! before it, with a per-user signing key kept in the OS keychain ([`BundleSigner`], made at the
//! first export), and [`verify`] — `clawkeep bundle inspect` — tells a bundle this Clawkeep
//! made from a forged or altered one before anyone runs it.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::deploy::{restart_command, DeployJob};
use crate::error::{Error, Result};
use crate::model::domain::InjectionMethod;
use crate::secret::Secret;
use crate::ssh::sh_quote;

const MANIFEST_PREFIX: &str = "# clawkeep-manifest: ";
const SIGNATURE_PREFIX: &str = "# clawkeep-signature: v1 ";
/// The keychain account of this Clawkeep's bundle signing key (next to the keys' `kc-…` ones).
pub const SIGNING_KEY_ACCOUNT: &str = "clawkeep-bundle-signing-key";
const KEY_MARK: &str = "CLAWKEEP_KEY_7f3a";

/// How a bundle is encrypted.
#[derive(Debug)]
pub enum BundleEncryption {
    Passphrase(Secret),
    /// An age recipient (`age1…`).
    Recipient(String),
}

/// One thing the installer does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleItem {
    /// `write`, `run`, `check`.
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// The bundle's public description (no secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleManifest {
    pub format: u32,
    pub instance: String,
    pub host: String,
    pub user: String,
    pub key_name: String,
    pub key_hint: String,
    pub key_fingerprint: String,
    pub method: InjectionMethod,
    pub state_dir: String,
    pub items: Vec<BundleItem>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

fn sd_expr(state_dir: &str) -> String {
    // "~/x" -> "$HOME"/'x' ; absolute paths quoted as they are (validated: no quotes, no '$').
    if state_dir == "~" {
        "\"$HOME\"".into()
    } else if let Some(rest) = state_dir.strip_prefix("~/") {
        format!("\"$HOME\"/{}", sh_quote(rest.trim_end_matches('/')))
    } else {
        sh_quote(state_dir.trim_end_matches('/'))
    }
}

/// Builds the installer script and its manifest for a prepared job.
pub fn build_installer(job: &DeployJob, created_by: &str, now: DateTime<Utc>) -> Result<(Secret, BundleManifest)> {
    let inst = &job.instance;
    let key = job.secret.expose();
    if key.contains(KEY_MARK) || key.contains('\n') || key.contains('\'') {
        return Err(Error::invalid("key", "cannot be embedded in a bundle (unexpected characters)"));
    }
    let mut items = Vec::new();
    let mut body = String::new();
    let sd = sd_expr(&inst.state_dir);
    body.push_str(&format!(
        "# One function, called on the last line: a cut-off stream runs nothing, and nothing reads the rest of the script from stdin.\nclawkeep_install() {{\nset -eu\numask 077\nsd={sd}\n[ -d \"$sd\" ] || {{ echo \"clawkeep bundle: $sd does not exist (is OpenClaw set up for this user?)\" >&2; exit 1; }}\n\
         # the key: read from a quoted here-document by the shell itself (never in any argv)\n\
         key=\nwhile IFS= read -r line; do key=$line; done <<'{KEY_MARK}'\n{key}\n{KEY_MARK}\n\
         # write_atomic TARGET: stdin -> 0600 temp file next to TARGET, sync, rename over it; previous kept as TARGET.clawkeep-bak\n\
         write_atomic() {{\n  t=$1; tmp=\"$t.clawkeep-tmp.$$\"\n  cat > \"$tmp\"\n  chmod 600 \"$tmp\"\n  sync \"$tmp\" 2>/dev/null || sync\n  if [ -f \"$t\" ]; then cp -p \"$t\" \"$t.clawkeep-bak\"; chmod 600 \"$t.clawkeep-bak\"; fi\n  mv -f \"$tmp\" \"$t\"\n}}\n"
    ));
    match inst.injection {
        InjectionMethod::EnvFile => {
            items.push(BundleItem {
                action: "write".into(),
                target: format!("{}/.env", inst.state_dir),
                detail: format!("ANTHROPIC_API_KEY={} (other lines kept; previous file kept as .env.clawkeep-bak)", job.key.hint),
            });
            body.push_str(
                "env=\"$sd/.env\"\n{\n  if [ -f \"$env\" ]; then\n    while IFS= read -r l || [ -n \"$l\" ]; do\n      case \"$l\" in\n        ANTHROPIC_API_KEY=*|\"export ANTHROPIC_API_KEY=\"*) ;;\n        *) printf '%s\\n' \"$l\" ;;\n      esac\n    done < \"$env\"\n  fi\n  printf 'ANTHROPIC_API_KEY=%s\\n' \"$key\"\n} | write_atomic \"$env\"\necho \"wrote $env\"\n",
            );
            let rc = restart_command(&inst.service_manager);
            items.push(BundleItem { action: "run".into(), target: rc.clone(), detail: "restart the gateway (a changed .env needs a new process)".into() });
            body.push_str(&format!("{rc}\necho 'restarted the gateway'\n"));
        }
        InjectionMethod::AuthProfile => {
            for a in &inst.agents {
                let cmd = format!("openclaw models auth paste-api-key --provider anthropic --agent {} --profile-id anthropic:default", sh_quote(a));
                items.push(BundleItem { action: "run".into(), target: cmd.clone(), detail: "the key on stdin; hot".into() });
                body.push_str(&format!("printf '%s\\n' \"$key\" | {cmd}\n"));
            }
        }
        InjectionMethod::SecretFile => {
            items.push(BundleItem {
                action: "write".into(),
                target: format!("{}/secrets/anthropic-api-key", inst.state_dir),
                detail: format!("{} (0600; the config must already reference it with a file SecretRef — run one online deploy first)", job.key.hint),
            });
            body.push_str("mkdir -p \"$sd/secrets\"; chmod 700 \"$sd/secrets\"\nprintf '%s' \"$key\" | write_atomic \"$sd/secrets/anthropic-api-key\"\nopenclaw secrets reload\n");
            items.push(BundleItem { action: "run".into(), target: "openclaw secrets reload".into(), detail: "hot".into() });
        }
    }
    items.push(BundleItem { action: "check".into(), target: "http://127.0.0.1:<gateway.port>/readyz".into(), detail: "best effort, with curl, up to 120 s".into() });
    body.push_str(
        "port=$(sed -n 's/.*port[\"]\\{0,1\\}[[:space:]]*:[[:space:]]*\\([0-9][0-9]*\\).*/\\1/p' \"$sd/openclaw.json\" 2>/dev/null | head -n1)\n\
         port=${port:-18789}\nif command -v curl >/dev/null 2>&1; then\n  i=0\n  while [ $i -lt 600 ]; do\n    if curl -fsS -m 2 -o /dev/null \"http://127.0.0.1:$port/readyz\"; then echo \"gateway ready on 127.0.0.1:$port\"; exit 0; fi\n    sleep 0.2; i=$((i+1))\n  done\n  echo \"clawkeep bundle: the gateway is not ready on 127.0.0.1:$port; the previous files are kept as *.clawkeep-bak\" >&2; exit 1\nfi\necho 'curl not found: check the gateway yourself'\n}\nclawkeep_install </dev/null\n",
    );
    let manifest = BundleManifest {
        format: 1,
        instance: inst.name.clone(),
        host: format!("{}:{}", inst.ssh_host, inst.ssh_port),
        user: inst.ssh_user.clone(),
        key_name: job.key.name.clone(),
        key_hint: job.key.hint.clone(),
        key_fingerprint: job.key.fingerprint.clone(),
        method: inst.injection,
        state_dir: inst.state_dir.clone(),
        items,
        created_at: now,
        created_by: created_by.to_string(),
    };
    let head = format!(
        "#!/bin/sh\n# Clawkeep offline deploy bundle for instance '{}' ({}@{}). Run as that user on the host, decrypted straight into sh (no decrypted file): age -d [-i IDENTITY_FILE] BUNDLE | sh -s\n{MANIFEST_PREFIX}{}\n",
        inst.name,
        inst.ssh_user,
        inst.ssh_host,
        serde_json::to_string(&manifest).unwrap_or_default()
    );
    Ok((Secret::new(format!("{head}{body}")), manifest))
}

/// Encrypts the installer with age (ASCII-armored).
pub fn encrypt(installer: &Secret, enc: &BundleEncryption) -> Result<Vec<u8>> {
    let err = |m: String| Error::InvalidState(format!("bundle encryption failed: {m}"));
    let encryptor = match enc {
        BundleEncryption::Passphrase(p) => {
            if p.len() < 8 {
                return Err(Error::invalid("passphrase", "must be at least 8 characters"));
            }
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(p.expose().to_string()))
        }
        BundleEncryption::Recipient(r) => {
            let rec: age::x25519::Recipient = r.trim().parse().map_err(|e: &str| Error::invalid("recipient", format!("not an age recipient (age1…): {e}")))?;
            age::Encryptor::with_recipients(std::iter::once(&rec as &dyn age::Recipient)).map_err(|e| err(e.to_string()))?
        }
    };
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).map_err(|e| err(e.to_string()))?;
    let mut w = encryptor.wrap_output(armor).map_err(|e| err(e.to_string()))?;
    w.write_all(installer.expose().as_bytes()).map_err(|e| err(e.to_string()))?;
    w.finish().and_then(|a| a.finish()).map_err(|e| err(e.to_string()))?;
    Ok(out)
}

/// Decrypts a bundle (passphrase, or an age identity file's text).
pub fn decrypt(data: &[u8], passphrase: Option<&Secret>, identity: Option<&str>) -> Result<Secret> {
    let err = |m: String| Error::InvalidState(format!("cannot open the bundle: {m}"));
    let reader = age::armor::ArmoredReader::new(data);
    let dec = age::Decryptor::new(reader).map_err(|e| err(e.to_string()))?;
    let mut r: Box<dyn Read> = if dec.is_scrypt() {
        let p = passphrase.ok_or_else(|| err("it is passphrase-encrypted: give the passphrase".into()))?;
        let id = age::scrypt::Identity::new(age::secrecy::SecretString::from(p.expose().to_string()));
        Box::new(dec.decrypt(std::iter::once(&id as &dyn age::Identity)).map_err(|e| err(e.to_string()))?)
    } else {
        let text = identity.ok_or_else(|| err("it is encrypted to an age recipient: give the identity file (--identity)".into()))?;
        let ids = age::IdentityFile::from_buffer(text.as_bytes()).map_err(|e| err(e.to_string()))?.into_identities().map_err(|e| err(e.to_string()))?;
        Box::new(dec.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity)).map_err(|e| err(e.to_string()))?)
    };
    let mut s = String::new();
    r.read_to_string(&mut s).map_err(|e| err(e.to_string()))?;
    Ok(Secret::new(s))
}

/// The manifest of a decrypted bundle.
pub fn manifest_of(installer: &Secret) -> Result<BundleManifest> {
    let line = installer.expose().lines().find_map(|l| l.strip_prefix(MANIFEST_PREFIX)).ok_or_else(|| Error::InvalidState("this is not a Clawkeep bundle (no manifest)".into()))?;
    serde_json::from_str(line).map_err(|e| Error::InvalidState(format!("the bundle's manifest is damaged: {e}")))
}

/// A per-user HMAC-SHA256 key that signs bundles (see the module doc: age alone cannot say who
/// made a bundle). Kept in the OS keychain under [`SIGNING_KEY_ACCOUNT`] as 64 hex digits.
pub struct BundleSigner {
    key: zeroize::Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for BundleSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BundleSigner(key id {})", self.key_id())
    }
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

impl BundleSigner {
    /// A fresh random key.
    pub fn generate() -> Self {
        let b: [u8; 32] = rand::random();
        BundleSigner { key: zeroize::Zeroizing::new(b.to_vec()) }
    }

    /// The key as stored in the keychain (64 hex digits).
    pub fn from_secret(s: &Secret) -> Result<Self> {
        let v = s.expose().trim();
        match hex::decode(v) {
            Ok(b) if b.len() == 32 => Ok(BundleSigner { key: zeroize::Zeroizing::new(b) }),
            _ => Err(Error::InvalidState(format!("the bundle signing key in the keychain ('{SIGNING_KEY_ACCOUNT}') is damaged"))),
        }
    }

    /// The keychain form (64 hex digits).
    pub fn to_secret(&self) -> Secret {
        Secret::new(hex::encode(&*self.key))
    }

    /// A public name for the key: 16 hex digits of a hash of it (says which key, reveals nothing).
    pub fn key_id(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"clawkeep bundle signing key id\0");
        h.update(&*self.key);
        hex::encode(h.finalize())[..16].to_string()
    }

    fn mac(&self) -> HmacSha256 {
        use hmac::Mac;
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        m.update(b"clawkeep bundle v1\0");
        m
    }

    /// The installer with its signature line appended.
    pub fn sign(&self, installer: &Secret) -> Secret {
        use hmac::Mac;
        let mut m = self.mac();
        m.update(installer.expose().as_bytes());
        let tag = hex::encode(m.finalize().into_bytes());
        let mut out = String::with_capacity(installer.len() + 128);
        out.push_str(installer.expose());
        out.push_str(&format!("{SIGNATURE_PREFIX}{} {tag}\n", self.key_id()));
        Secret::new(out)
    }
}

/// What `bundle inspect` shows: the manifest (what the bundle claims) and whether this
/// Clawkeep made it.
#[derive(Debug, Clone, Serialize)]
pub struct BundleInspection {
    #[serde(flatten)]
    pub manifest: BundleManifest,
    /// Signed by this Clawkeep's key and unaltered.
    pub authentic: bool,
    /// The key id the bundle names, if it carries a signature.
    pub signer_key_id: Option<String>,
    /// `signed by this Clawkeep (key id …)` or `NOT from this Clawkeep: <why>`.
    pub origin: String,
}

/// Checks a decrypted installer against this Clawkeep's signing key (`None`: it has none yet).
/// Never fails on a bad signature: the answer is in [`BundleInspection::authentic`].
pub fn verify(installer: &Secret, signer: Option<&BundleSigner>) -> Result<BundleInspection> {
    let mut manifest = manifest_of(installer)?;
    neutralise(&mut manifest);
    let text = installer.expose();
    let body_end = text.trim_end_matches('\n').rfind('\n').map(|i| i + 1).unwrap_or(0);
    let (signed, last) = text.split_at(body_end);
    let sig = last.strip_suffix('\n').unwrap_or(last).strip_prefix(SIGNATURE_PREFIX).and_then(|rest| {
        let (id, tag) = rest.split_once(' ')?;
        let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        (ok(id, 16) && ok(tag, 64)).then(|| (id.to_string(), tag.to_string()))
    });
    let not =
        |why: String, id: Option<String>| BundleInspection { manifest: manifest.clone(), authentic: false, signer_key_id: id, origin: format!("NOT from this Clawkeep: {why}") };
    let Some((id, tag)) = sig else {
        return Ok(not("it carries no Clawkeep signature (anyone can encrypt a file to an age recipient); do not run it".into(), None));
    };
    let Some(signer) = signer else {
        return Ok(not(format!("it names signing key {id}, and this Clawkeep has no bundle signing key (it never exported a bundle); do not run it"), Some(id)));
    };
    if id != signer.key_id() {
        return Ok(not(format!("it is signed with key {id}, and this Clawkeep's key is {}; do not run it unless you know that Clawkeep", signer.key_id()), Some(id)));
    }
    use hmac::Mac;
    let mut m = signer.mac();
    m.update(signed.as_bytes());
    let tag = hex::decode(tag).unwrap_or_default();
    if m.verify_slice(&tag).is_err() {
        return Ok(not(format!("its signature (key {id}) does not match its contents: it was altered or forged; do not run it"), Some(id)));
    }
    Ok(BundleInspection { manifest, authentic: true, origin: format!("signed by this Clawkeep (key id {id})"), signer_key_id: Some(id) })
}

/// A forged manifest is text from anyone: no control character (terminal escape sequences)
/// reaches a front end.
fn neutralise(m: &mut BundleManifest) {
    let c = |s: &mut String| {
        if s.chars().any(char::is_control) {
            *s = s.chars().map(|ch| if ch.is_control() { '?' } else { ch }).collect();
        }
    };
    for s in [&mut m.instance, &mut m.host, &mut m.user, &mut m.key_name, &mut m.key_hint, &mut m.key_fingerprint, &mut m.state_dir, &mut m.created_by] {
        c(s);
    }
    for i in &mut m.items {
        c(&mut i.action);
        c(&mut i.target);
        c(&mut i.detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installer(instance: &str) -> Secret {
        let m = BundleManifest {
            format: 1,
            instance: instance.into(),
            host: "203.0.113.9:22".into(),
            user: "openclaw".into(),
            key_name: "k".into(),
            key_hint: "h...".into(),
            key_fingerprint: "00".into(),
            method: InjectionMethod::EnvFile,
            state_dir: "~/.openclaw".into(),
            items: vec![],
            created_at: Utc::now(),
            created_by: "tester".into(),
        };
        Secret::new(format!("#!/bin/sh\n{MANIFEST_PREFIX}{}\nclawkeep_install() {{\necho hi\n}}\nclawkeep_install </dev/null\n", serde_json::to_string(&m).unwrap()))
    }

    #[test]
    fn signed_bundles_verify_and_forgeries_do_not() {
        let ours = BundleSigner::generate();
        let again = BundleSigner::from_secret(&ours.to_secret()).unwrap();
        assert_eq!(again.key_id(), ours.key_id());
        assert!(!format!("{ours:?}").contains(ours.to_secret().expose()));
        let signed = ours.sign(&installer("acme"));
        let v = verify(&signed, Some(&ours)).unwrap();
        assert!(v.authentic && v.origin == format!("signed by this Clawkeep (key id {})", ours.key_id()), "{}", v.origin);
        assert_eq!(v.manifest.instance, "acme");

        let altered = Secret::new(signed.expose().replacen("echo hi", "echo pwned", 1));
        let unsigned = installer("acme");
        let theirs = BundleSigner::generate().sign(&installer("acme"));
        let trailing = Secret::new(format!("{}echo after\n", signed.expose()));
        for (what, s, signer) in [
            ("altered", &altered, Some(&ours)),
            ("unsigned", &unsigned, Some(&ours)),
            ("other key", &theirs, Some(&ours)),
            ("after the signature", &trailing, Some(&ours)),
            ("no key here", &signed, None),
        ] {
            let v = verify(s, signer).unwrap();
            assert!(!v.authentic && v.origin.starts_with("NOT from this Clawkeep: "), "{what}: {}", v.origin);
        }
        assert!(BundleSigner::from_secret(&Secret::new("zz".into())).is_err());
    }

    #[test]
    fn a_forged_manifest_cannot_reach_the_terminal_with_escapes() {
        let v = verify(&installer("a\u{1b}]0;x\u{7}b"), None).unwrap();
        assert!(!v.manifest.instance.chars().any(char::is_control), "{:?}", v.manifest.instance);
    }
}
