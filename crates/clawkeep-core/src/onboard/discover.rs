//! The scripts onboarding sends to a host, and the readers of what they print (pure: text in,
//! data out; the SSH round trips are `api/onboard.rs`'s).
//!
//! * Discovery is the checklist's host-facts script ([`crate::checklist::hostfacts`]) with
//!   `remote/onboard_facts.sh` appended (how the gateway is run): one `sh -s`, one round trip,
//!   keys reported only as length, hint and SHA-256.
//! * Adoption reads one key the facts saw: `remote/read_key.sh` prints the one candidate of the
//!   named source whose SHA-256 is the one the facts reported, on the channel's stdout, between
//!   nonce markers. [`parse_read`] takes it straight into a [`Secret`] and checks the
//!   fingerprint again here.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::checklist::hostfacts::{self, FactsError, HostFacts, KeySource, ScriptParams};
use crate::model::domain::ServiceManager;
use crate::model::keyfmt;
use crate::secret::Secret;
use crate::ssh::sh_quote;

const EXTRA_BODY: &str = include_str!("../remote/onboard_facts.sh");
const READ_BODY: &str = include_str!("../remote/read_key.sh");

/// How the gateway is run, as the host showed it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ServiceFacts {
    /// systemd user units named `openclaw*.service` (OpenClaw installs `openclaw-gateway`).
    pub user_units: Vec<String>,
    /// systemd system units named `openclaw*.service`.
    pub system_units: Vec<String>,
    /// Executable restart scripts (`~/.local/bin/*gateway*restart*`, …), `~/`-relative when
    /// under the home directory.
    pub restart_scripts: Vec<String>,
}

/// Everything discovery found on one host.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub facts: HostFacts,
    pub service: ServiceFacts,
}

/// The discovery script for one host (the facts script's parameters, then both bodies).
pub fn discovery_script(nonce: &str, state_dir: &str, agents: &[String], now: DateTime<Utc>) -> String {
    let base = hostfacts::script(&ScriptParams {
        nonce: nonce.to_string(),
        state_dir: state_dir.to_string(),
        agents: agents.to_vec(),
        unit: Some("openclaw-gateway".into()),
        now,
        probe_url: None,
    });
    format!("{base}\n{EXTRA_BODY}")
}

/// Reads the discovery output: the host facts (their own markers) and the service facts.
pub fn parse_discovery(output: &[u8], nonce: &str) -> Result<Discovery, FactsError> {
    let facts = hostfacts::parse(output, nonce)?;
    let text = String::from_utf8_lossy(&output[..output.len().min(hostfacts::MAX_OUTPUT)]);
    let (start, end) = (format!("CLAWKEEP-ONBOARD 1 {nonce}"), format!("CLAWKEEP-ONBOARD-END 1 {nonce}"));
    let mut service = ServiceFacts::default();
    let mut inside = false;
    let home = facts.home.trim_end_matches('/').to_string();
    for l in text.lines().map(|l| l.trim_end_matches('\r')) {
        if l == start {
            inside = true;
            continue;
        }
        if l == end {
            break;
        }
        if !inside {
            continue;
        }
        let clean = |s: &str| crate::hosttext::line(s, 256);
        match l.split_once('|') {
            Some(("unit", rest)) => match rest.split_once('|') {
                Some(("user", u)) if service.user_units.len() < 20 => service.user_units.push(clean(u)),
                Some(("system", u)) if service.system_units.len() < 20 => service.system_units.push(clean(u)),
                _ => {}
            },
            Some(("restart", p)) if service.restart_scripts.len() < 20 => {
                let p = clean(p);
                let p = match p.strip_prefix(&format!("{home}/")) {
                    Some(rest) if !home.is_empty() => format!("~/{rest}"),
                    _ => p,
                };
                service.restart_scripts.push(p);
            }
            _ => {}
        }
    }
    Ok(Discovery { facts, service })
}

/// What the host facts say about how the gateway restarts: OpenClaw's systemd user unit, else a
/// restart script, else a system unit (through sudo); `None` when nothing says.
pub fn service_manager_of(s: &ServiceFacts) -> Option<ServiceManager> {
    if let Some(u) = s.user_units.iter().find(|u| *u == "openclaw-gateway.service").or(s.user_units.first()) {
        return Some(ServiceManager::SystemdUser { unit: u.trim_end_matches(".service").to_string() });
    }
    if let Some(p) = s.restart_scripts.first() {
        return Some(ServiceManager::Custom { restart_command: p.clone() });
    }
    s.system_units.first().map(|u| ServiceManager::Custom { restart_command: format!("sudo -n systemctl restart {}", u.trim_end_matches(".service")) })
}

/// The `(SRC, ARG)` the read script takes for a source; `None` for sources it does not read
/// (the unit's `Environment=`, shell history, world-readable and leftover copies, the last-good config).
pub fn read_source(s: &KeySource) -> Option<(&'static str, String)> {
    Some(match s {
        KeySource::DotEnv => ("dotenv", String::new()),
        KeySource::SystemdEnv => ("systemd_env", String::new()),
        KeySource::Profile(a) => ("profile", a.clone()),
        KeySource::SharedProfile => ("shared_profile", String::new()),
        KeySource::Legacy(a) => ("legacy", a.clone()),
        KeySource::ModelsJson(a) => ("models_json", a.clone()),
        KeySource::SecretFile(p) => ("secret_file", p.clone()),
        KeySource::Config(_) => ("config", String::new()),
        KeySource::Proc(pid) => ("proc", pid.to_string()),
        KeySource::UnitEnv | KeySource::History(_) | KeySource::WorldReadable(_) | KeySource::Leftover(_) | KeySource::LastGood => return None,
    })
}

/// The read script for one key: `fingerprint` is the SHA-256 the host facts reported.
pub fn read_script(nonce: &str, state_dir: &str, source: &KeySource, fingerprint: &str) -> Option<String> {
    let (src, arg) = read_source(source)?;
    Some(format!(
        "#!/bin/sh\n# Clawkeep key adoption: prints one key on this channel only.\nN={}\nST={}\nSRC={}\nARG={}\nFP={}\n{READ_BODY}",
        sh_quote(nonce),
        sh_quote(state_dir),
        sh_quote(src),
        sh_quote(&arg),
        sh_quote(fingerprint)
    ))
}

/// Why a key could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("the host's answer has no report (the script did not run, or its output was replaced)")]
    NoReport,
    #[error("the key is no longer there (it changed or was removed since discovery)")]
    NotFound,
    #[error("the value read does not have the fingerprint discovery reported")]
    Mismatch,
}

/// Takes the key out of the read script's output, straight into a [`Secret`], and checks its
/// SHA-256 against `fingerprint`. The output buffer is the caller's (wiped on drop).
pub fn parse_read(output: &str, nonce: &str, fingerprint: &str) -> Result<Secret, ReadError> {
    let (start, end) = (format!("CLAWKEEP-READ 1 {nonce}"), format!("CLAWKEEP-READ-END 1 {nonce}"));
    let Some(from) = output.find(&start) else { return Err(ReadError::NoReport) };
    let body = &output[from + start.len()..];
    let Some(to) = body.find(&end) else { return Err(ReadError::NoReport) };
    let body = &body[..to];
    let Some(line) = body.lines().map(|l| l.trim_end_matches('\r')).find_map(|l| l.strip_prefix("value|")) else { return Err(ReadError::NotFound) };
    let secret = Secret::new(line.to_string());
    if keyfmt::fingerprint(secret.expose()) != fingerprint {
        return Err(ReadError::Mismatch);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_facts_and_manager() {
        let n = "abc";
        let out = format!(
            "CLAWKEEP-FACTS 1 {n}\nhome|/home/u\nCLAWKEEP-END 1 {n}\nnoise\nCLAWKEEP-ONBOARD 1 {n}\nrestart|/home/u/.local/bin/openclaw-gateway-restart\nunit|system|openclaw.service\nbogus|x\nCLAWKEEP-ONBOARD-END 1 {n}\n"
        );
        let d = parse_discovery(out.as_bytes(), n).unwrap();
        assert_eq!(d.service.restart_scripts, ["~/.local/bin/openclaw-gateway-restart"]);
        assert_eq!(service_manager_of(&d.service), Some(ServiceManager::Custom { restart_command: "~/.local/bin/openclaw-gateway-restart".into() }));
        let s = ServiceFacts { user_units: vec!["openclaw-gateway.service".into()], ..d.service.clone() };
        assert_eq!(service_manager_of(&s), Some(ServiceManager::SystemdUser { unit: "openclaw-gateway".into() }));
        let s = ServiceFacts { system_units: vec!["openclaw.service".into()], ..Default::default() };
        assert!(matches!(service_manager_of(&s), Some(ServiceManager::Custom { restart_command }) if restart_command.contains("systemctl restart openclaw")));
        assert_eq!(service_manager_of(&ServiceFacts::default()), None);
        // the facts' own rules still apply (a cut report is an error)
        assert!(parse_discovery(b"CLAWKEEP-FACTS 1 abc\n", n).is_err());
    }

    #[test]
    fn read_takes_only_the_matching_value() {
        let key = crate::testkeys::api_key(3);
        let fp = keyfmt::fingerprint(&key);
        let out = format!("banner\nCLAWKEEP-READ 1 n\nvalue|{key}\nCLAWKEEP-READ-END 1 n\n");
        assert_eq!(parse_read(&out, "n", &fp).unwrap().expose(), key);
        assert_eq!(parse_read(&out, "other", &fp).unwrap_err(), ReadError::NoReport);
        assert_eq!(parse_read(&out, "n", &"0".repeat(64)).unwrap_err(), ReadError::Mismatch);
        assert_eq!(parse_read("CLAWKEEP-READ 1 n\nCLAWKEEP-READ-END 1 n\n", "n", &fp).unwrap_err(), ReadError::NotFound);
        assert_eq!(parse_read(&format!("CLAWKEEP-READ 1 n\nvalue|{key}\n"), "n", &fp).unwrap_err(), ReadError::NoReport);
        // the errors never carry the value
        assert!(!format!("{:?}", parse_read(&out, "n", "x")).contains(&key[20..60]));
    }

    #[test]
    fn scripts_quote_their_parameters_and_hold_no_key() {
        let s = read_script("n", "~/.open'claw", &KeySource::SecretFile("/x/a b;rm".into()), &"a".repeat(64)).unwrap();
        assert!(s.contains("ST='~/.open'\\''claw'") && s.contains("ARG='/x/a b;rm'") && s.contains("SRC='secret_file'"));
        assert!(read_script("n", "~", &KeySource::History("/h".into()), "f").is_none());
        let d = discovery_script("n", "~/.openclaw", &["main".into()], Utc::now());
        assert!(d.contains("CLAWKEEP-ONBOARD 1") && d.contains("CLAWKEEP-FACTS 1"));
        assert!(!d.contains("sk-ant-api") && !s.contains("sk-ant-api"));
    }
}
