//! Offline deploy bundles: for a host Clawkeep cannot reach, the same bundle as a file, encrypted
//! with `age` (a passphrase or an age recipient). Inside is one POSIX `sh` installer, run as the
//! instance's user on the host (`sh install.sh`), that applies the key the same careful way as
//! an online deploy: 0600 temp file in the same directory, `sync`, `mv -f` over the target (the
//! previous file kept as a 0600 `.clawkeep-bak`), then the restart or reload. The key sits in a
//! quoted here-document and reaches the files through shell builtins (`printf`), so it never
//! appears in a process's argv. A JSON manifest (no secret: hint and fingerprint only) heads the
//! script; [`inspect_bundle`] shows it.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::deploy::DeployJob;
use crate::domain::{InjectionMethod, ServiceManager};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::ssh::sh_quote;

const MANIFEST_PREFIX: &str = "# clawkeep-manifest: ";
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

fn restart_cmd(sm: &ServiceManager) -> String {
    match sm {
        ServiceManager::SystemdUser { unit } => format!("systemctl --user restart {}", sh_quote(unit)),
        ServiceManager::Custom { restart_command } => restart_command.clone(),
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
        "set -eu\numask 077\nsd={sd}\n[ -d \"$sd\" ] || {{ echo \"clawkeep bundle: $sd does not exist (is OpenClaw set up for this user?)\" >&2; exit 1; }}\n\
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
            let rc = restart_cmd(&inst.service_manager);
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
         port=${port:-18789}\nif command -v curl >/dev/null 2>&1; then\n  i=0\n  while [ $i -lt 600 ]; do\n    if curl -fsS -m 2 -o /dev/null \"http://127.0.0.1:$port/readyz\"; then echo \"gateway ready on 127.0.0.1:$port\"; exit 0; fi\n    sleep 0.2; i=$((i+1))\n  done\n  echo \"clawkeep bundle: the gateway is not ready on 127.0.0.1:$port; the previous files are kept as *.clawkeep-bak\" >&2; exit 1\nfi\necho 'curl not found: check the gateway yourself'\n",
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
        "#!/bin/sh\n# Clawkeep offline deploy bundle for instance '{}' ({}@{}). Run as that user on the host: sh install.sh\n{MANIFEST_PREFIX}{}\n",
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

/// Decrypts a bundle and returns its manifest (never the key).
pub fn inspect_bundle(data: &[u8], passphrase: Option<&Secret>, identity: Option<&str>) -> Result<BundleManifest> {
    manifest_of(&decrypt(data, passphrase, identity)?)
}
