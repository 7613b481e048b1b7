//! Field rules for what a person types about an instance or a key: host, SSH user, state dir,
//! agent ids, service manager, Anthropic ids. Pure checks (no store, no I/O) that end in an
//! `invalid_input` error naming the field; the facade runs them before anything is written.

use crate::error::{Error, Result};
use crate::model::domain::{Instance, ServiceManager};
use crate::model::naming;

pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.len() > max {
        return Err(Error::invalid(field, format!("is {} characters long; at most {max}", value.len())));
    }
    if let Some((i, c)) = value.char_indices().find(|(_, c)| c.is_control()) {
        return Err(Error::invalid(field, format!("contains a control character (U+{:04X}) at byte {}", c as u32, i + 1)));
    }
    Ok(())
}

/// A DNS name, IPv4 or IPv6 address. Never starts with '-' (it would read as an ssh option).
pub fn check_host(host: &str) -> Result<()> {
    if host.is_empty() {
        return Err(Error::invalid("host", "is required (an IP address or a DNS name)"));
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if bracketed.is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok()) {
        return Ok(());
    }
    if host.len() > 253 {
        return Err(Error::invalid("host", "is longer than 253 characters"));
    }
    if let Some((i, c)) = host.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.')) {
        return Err(Error::invalid("host", format!("'{}' is not a valid host name: unexpected character {:?} at position {}", host.escape_debug(), c, i + 1)));
    }
    for label in host.split('.') {
        if label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            return Err(Error::invalid("host", format!("'{host}' is not a valid host name (empty or badly formed label)")));
        }
    }
    Ok(())
}

/// A POSIX user name.
pub fn check_user(user: &str) -> Result<()> {
    let ok = !user.is_empty()
        && user.len() <= 32
        && user.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && user.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("user", format!("'{}' is not a valid SSH user name (lower-case letters, digits, '_', '-', '.'; starting with a letter)", user.escape_debug())))
    }
}

fn check_state_dir(dir: &str) -> Result<()> {
    check_text("state dir", dir, 512)?;
    if !(dir.starts_with('/') || dir == "~" || dir.starts_with("~/")) {
        return Err(Error::invalid("state dir", format!("'{dir}' must be absolute or start with ~/")));
    }
    if dir.contains(['\'', '"', '`', '$', '\\']) || dir.split('/').any(|p| p == "..") {
        return Err(Error::invalid("state dir", format!("'{dir}' contains quotes, '$', '\\' or '..'")));
    }
    Ok(())
}

fn check_agent(agent: &str) -> Result<()> {
    let ok = !agent.is_empty() && agent.len() <= 64 && agent.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') && !agent.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid("agents", format!("'{}' is not a valid OpenClaw agent id (letters, digits, '-', '_')", agent.escape_debug())))
    }
}

fn check_service_manager(sm: &ServiceManager) -> Result<()> {
    match sm {
        ServiceManager::SystemdUser { unit } => {
            let ok = !unit.is_empty() && unit.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c)) && !unit.starts_with('-');
            if !ok {
                return Err(Error::invalid("service", format!("'{}' is not a valid systemd unit name", unit.escape_debug())));
            }
        }
        ServiceManager::Custom { restart_command } => {
            if restart_command.trim().is_empty() {
                return Err(Error::invalid("restart command", "must not be empty"));
            }
            check_text("restart command", restart_command, 1024)?;
        }
    }
    Ok(())
}

/// An Admin API key id: `apikey_` and letters or digits.
pub(crate) fn check_key_id(v: &Option<String>) -> Result<()> {
    if let Some(id) = v {
        let ok = id.len() <= 100 && id.strip_prefix("apikey_").is_some_and(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()));
        if !ok {
            // Not echoed: a key value pasted here by mistake must not come back in the error.
            let what = if id.contains("sk-ant-") { "this looks like a key value, not its id" } else { "it is not an Admin API key id" };
            return Err(Error::invalid("key id", format!("{what}: give the key's id as the Console shows it (apikey_ and letters or digits)")));
        }
    }
    Ok(())
}

pub(crate) fn check_workspace_id(field: &'static str, v: &Option<String>) -> Result<()> {
    if let Some(id) = v {
        if !id.starts_with("wrkspc_") || !id[7..].chars().all(|c| c.is_ascii_alphanumeric()) || id.len() < 8 {
            return Err(Error::invalid(field, format!("'{}' is not a workspace id (wrkspc_…)", id.escape_debug())));
        }
    }
    Ok(())
}

fn check_org_id(v: &Option<String>) -> Result<()> {
    if let Some(id) = v {
        let ok = id.len() <= 64 && !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::invalid("org id", format!("'{}' is not an organization id (a UUID)", id.escape_debug())));
        }
    }
    Ok(())
}

/// Every field rule of an instance (not the jump host, which needs the store).
pub(crate) fn validate_instance(i: &Instance) -> Result<()> {
    naming::check_slug("name", &i.name)?;
    if !i.draft {
        if i.owner.trim().is_empty() {
            return Err(Error::invalid("owner", "is required (the client or team that owns the instance)"));
        }
        if i.environment.trim().is_empty() {
            return Err(Error::invalid("environment", "is required (prod, staging, dev, …)"));
        }
    }
    check_text("owner", &i.owner, 128)?;
    check_text("environment", &i.environment, 64)?;
    check_text("workload", &i.workload, 128)?;
    check_text("notes", &i.notes, 4096)?;
    check_host(&i.ssh_host)?;
    if i.ssh_port == 0 {
        return Err(Error::invalid("port", "must be between 1 and 65535"));
    }
    check_user(&i.ssh_user)?;
    check_state_dir(&i.state_dir)?;
    check_service_manager(&i.service_manager)?;
    if i.agents.is_empty() {
        return Err(Error::invalid("agents", "at least one agent id is needed (OpenClaw's default is 'main')"));
    }
    for a in &i.agents {
        check_agent(a)?;
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = i.agents.iter().find(|a| !seen.insert(*a)) {
        return Err(Error::invalid("agents", format!("'{dup}' is listed twice")));
    }
    for t in &i.tags {
        naming::check_slug("tag", t)?;
    }
    check_workspace_id("workspace id", &i.expected_workspace_id)?;
    check_org_id(&i.expected_org_id)?;
    if let Some(fp) = &i.host_key_fingerprint {
        if !fp.starts_with("SHA256:") {
            return Err(Error::invalid("host key", "fingerprints are written SHA256:…"));
        }
    }
    Ok(())
}
