//! The host side of a deploy: every shell command a deploy runs on the host (the probe, the
//! gateway lookup, the restart, the on-host verifications), how `~` resolves there, and the
//! reading of their `name=value` output. Pure text: nothing here talks to a host.
//!
//! Secrets never appear in these commands: values travel on stdin or over SFTP, and every
//! verification computes SHA-256 on the host.

use crate::domain::ServiceManager;
use crate::dotenv;
pub(super) use crate::ssh::sh_quote;

/// `~`-relative state dir → absolute on the host.
pub(super) fn resolve_dir(dir: &str, home: &str) -> String {
    let home = home.trim_end_matches('/');
    if dir == "~" {
        home.to_string()
    } else if let Some(rest) = dir.strip_prefix("~/") {
        format!("{home}/{}", rest.trim_end_matches('/'))
    } else {
        dir.trim_end_matches('/').to_string()
    }
}

/// The values of `key=value` lines of a command's output (trimmed), in order.
pub(super) fn kv(out: &str, key: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).map(|s| s.trim().to_string()).collect()
}

/// The command that restarts the gateway (the offline bundle runs the same one).
pub(crate) fn restart_command(sm: &ServiceManager) -> String {
    match sm {
        ServiceManager::SystemdUser { unit } => format!("systemctl --user restart {}", sh_quote(unit)),
        ServiceManager::Custom { restart_command } => restart_command.clone(),
    }
}

/// The words after `sudo` of a custom restart command that starts with it (`sudo systemctl
/// restart openclaw-gateway`: a system unit), for the probe's `sudo -n -l` check. Only plain
/// words (the same ones the restart command runs with, `~` included); `None` for a command that
/// does not start with sudo or holds shell syntax the check cannot mirror.
pub(super) fn sudo_args(sm: &ServiceManager) -> Option<String> {
    let ServiceManager::Custom { restart_command } = sm else { return None };
    let mut words = restart_command.split_whitespace();
    if words.next() != Some("sudo") {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    let plain = |w: &&str| w.bytes().all(|b| b.is_ascii_alphanumeric() || b"_./~:=@%+,-".contains(&b));
    (!rest.is_empty() && rest.iter().all(plain)).then(|| rest.join(" "))
}

/// Shell snippet that sets `pid` to the gateway's process (listening on `port`): the socket's
/// inode from `/proc/net/tcp{,6}`, then the login user's own processes holding it (cheap even on
/// a busy host), else `ss -p`, else (systemd) the unit's MainPID.
pub(super) fn find_pid_snippet(port: u16, sm: &ServiceManager) -> String {
    let mut s = format!(
        "pid=; ino=$(awk '$4 == \"0A\" && $2 ~ /:{port:04X}$/ {{ print $10; exit }}' /proc/net/tcp /proc/net/tcp6 2>/dev/null); \
         if [ -n \"$ino\" ]; then for d in /proc/[0-9]*; do [ -O \"$d\" ] || continue; \
           if ls -l \"$d/fd\" 2>/dev/null | grep -q \"socket:\\[$ino\\]\"; then pid=${{d#/proc/}}; break; fi; done; fi; \
         if [ -z \"$pid\" ]; then pid=$(ss -ltnpH 'sport = :{port}' 2>/dev/null | sed -n 's/.*pid=\\([0-9][0-9]*\\).*/\\1/p' | head -n1); fi; "
    );
    if let ServiceManager::SystemdUser { unit } = sm {
        s.push_str(&format!(
            "if [ -z \"$pid\" ] && command -v systemctl >/dev/null 2>&1; then pid=$(systemctl --user show -p MainPID --value {} 2>/dev/null); [ \"$pid\" = 0 ] && pid=; fi; ",
            sh_quote(unit)
        ));
    }
    s
}

/// The plan's one probe (prints names only, never values): `oc` (the openclaw CLI), `profile`
/// (agents with an anthropic auth profile), `systemd_env_file`, `ss`, `ids` (uid and groups),
/// `sd_owner` (the state dir's owner: uid and name), `sd_writable` (the login user may create
/// files in it), `env_owner_name`, `unit_env` (systemd), `probe_done`, and `gwpid`: the gateway
/// listening on `port`.
pub(super) fn probe_command(sd: &str, agents: &[String], sm: &ServiceManager, port: u16) -> String {
    let agents = agents.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ");
    let mut probe = format!(
        "SD={sd}; OC=$(command -v openclaw 2>/dev/null); \
         if [ -z \"$OC\" ]; then for c in \"$HOME/.local/bin/openclaw\" \"$HOME/.npm-global/bin/openclaw\" \"$HOME/node_modules/.bin/openclaw\"; do if [ -x \"$c\" ]; then OC=$c; break; fi; done; fi; \
         echo \"oc=$OC\"; \
         for a in {agents}; do f=\"$SD/agents/$a/agent/openclaw-agent.sqlite\"; if [ -f \"$f\" ] && grep -qa 'anthropic:' \"$f\" \"$f-wal\" 2>/dev/null; then echo \"profile=$a\"; fi; done; \
         if grep -qa 'anthropic:default' \"$SD/state/openclaw.sqlite\" \"$SD/state/openclaw.sqlite-wal\" 2>/dev/null; then for a in {agents}; do echo \"profile=$a\"; done; fi; \
         if [ -f \"$SD/gateway.systemd.env\" ] && grep -q '^[[:space:]]*ANTHROPIC_API_KEY=' \"$SD/gateway.systemd.env\"; then echo systemd_env_file=1; fi; \
         if command -v ss >/dev/null 2>&1; then echo ss=1; fi; echo \"ids=$(id -u) $(id -G)\"; \
         if [ -d \"$SD\" ]; then echo \"sd_owner=$(ls -nLd -- \"$SD\" 2>/dev/null | awk '{{print $3}}') $(ls -lLd -- \"$SD\" 2>/dev/null | awk '{{print $3}}')\"; \
           if [ -w \"$SD\" ] && [ -x \"$SD\" ]; then echo sd_writable=1; fi; fi; \
         if [ -e \"$SD/.env\" ]; then echo \"env_owner_name=$(ls -lLd -- \"$SD/.env\" 2>/dev/null | awk '{{print $3}}')\"; fi; ",
        sd = sh_quote(sd)
    );
    if let ServiceManager::SystemdUser { unit } = sm {
        probe.push_str(&format!(
            "if command -v systemctl >/dev/null 2>&1 && systemctl --user show -p Environment --value {} 2>/dev/null | tr ' ' '\\n' | grep -q '^ANTHROPIC_API_KEY='; then echo unit_env=1; fi; ",
            sh_quote(unit)
        ));
    }
    if let Some(args) = sudo_args(sm) {
        // `sudo -n -l CMD`: may the login user run the restart without a password? (Lists only.)
        probe.push_str(&format!(
            "if command -v sudo >/dev/null 2>&1; then if sudo -n -l {args} >/dev/null 2>&1; then echo sudo_ok=1; else echo sudo_ok=0; fi; else echo sudo_ok=missing; fi; "
        ));
    }
    probe.push_str("echo probe_done=1");
    format!("{probe}; {}echo \"gwpid=$pid\"", find_pid_snippet(port, sm))
}

/// Prints `pid` (the gateway listening on `port`), `proc` (SHA-256 of its own
/// `ANTHROPIC_API_KEY`, `none` or `unreadable`), `file` (SHA-256 of the key in `env_path`, read
/// by [`dotenv::VALUE_AWK`]) and `state_done`; values only go through pipes on the host.
pub(super) fn gateway_state_command(port: u16, sm: &ServiceManager, env_path: &str) -> String {
    format!(
        "{find}echo \"pid=$pid\"; \
         if [ -n \"$pid\" ]; then if [ -r /proc/$pid/environ ]; then \
           if tr '\\0' '\\n' < /proc/$pid/environ | grep -q '^ANTHROPIC_API_KEY='; then \
             printf 'proc=%s\\n' \"$(tr '\\0' '\\n' < /proc/$pid/environ | sed -n 's/^ANTHROPIC_API_KEY=//p' | head -n1 | tr -d '\\n' | sha256sum | cut -c1-64)\"; \
           else echo proc=none; fi; else echo proc=unreadable; fi; fi; \
         f={env}; if [ -f \"$f\" ] && LC_ALL=C awk {awk} \"$f\" >/dev/null; then \
           printf 'file=%s\\n' \"$(LC_ALL=C awk {awk} \"$f\" | sha256sum | cut -c1-64)\"; fi; echo state_done=1",
        find = find_pid_snippet(port, sm),
        env = sh_quote(env_path),
        awk = sh_quote(dotenv::VALUE_AWK),
    )
}

/// Prints `file=<SHA-256 of the secret file's key>` (trailing newlines dropped).
pub(super) fn secret_file_check(secret_path: &str) -> String {
    format!("printf 'file=%s\\n' \"$(tr -d '\\n' < {} | sha256sum | cut -c1-64)\"", sh_quote(secret_path))
}

/// Prints `stored=1` when one of an agent's auth stores holds the pattern given on stdin (the
/// key, never in argv). OpenClaw 2026.9 keeps profiles in the shared state DB; older layouts
/// per agent; WAL files included.
pub(super) fn auth_store_check(sd: &str, agent: &str) -> String {
    let files = [
        format!("{sd}/state/openclaw.sqlite"),
        format!("{sd}/state/openclaw.sqlite-wal"),
        format!("{sd}/agents/{agent}/agent/openclaw-agent.sqlite"),
        format!("{sd}/agents/{agent}/agent/openclaw-agent.sqlite-wal"),
    ]
    .iter()
    .map(|f| sh_quote(f))
    .collect::<Vec<_>>()
    .join(" ");
    format!("if grep -qaF -f - {files} 2>/dev/null; then echo stored=1; else echo stored=0; fi")
}

/// Sets an agent's `anthropic:default` profile to the key given on stdin (hot, no restart).
pub(super) fn paste_api_key_command(bin: &str, agent: &str) -> String {
    format!("{} models auth paste-api-key --provider anthropic --agent {} --profile-id anthropic:default", sh_quote(bin), sh_quote(agent))
}

/// Removes an agent's (stale) `anthropic:default` profile.
pub(super) fn logout_command(bin: &str, agent: &str) -> String {
    format!("{} models auth logout anthropic:default --yes --agent {}", sh_quote(bin), sh_quote(agent))
}

/// Makes the gateway re-read its secret files (hot).
pub(super) fn secrets_reload_command(bin: &str) -> String {
    format!("{} secrets reload", sh_quote(bin))
}

/// `/readyz` asked by curl on the host (when sshd forbids TCP forwarding): prints the status.
pub(super) fn readyz_curl_command(port: u16) -> String {
    format!("curl -s -m 5 -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{port}/readyz")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sudo_restart_commands_are_checked_only_when_plain() {
        let c = |s: &str| sudo_args(&ServiceManager::Custom { restart_command: s.into() });
        assert_eq!(c("sudo systemctl restart openclaw-gateway").as_deref(), Some("systemctl restart openclaw-gateway"));
        assert_eq!(c("  sudo -u oc ~/.local/bin/restart ").as_deref(), Some("-u oc ~/.local/bin/restart"));
        for no in ["systemctl restart x", "sudoedit x", "sudo", "sudo x; rm -rf /", "sudo x $(id)", "sudo 'x y'", "sudo x | y"] {
            assert_eq!(c(no), None, "{no}");
        }
        assert_eq!(sudo_args(&ServiceManager::SystemdUser { unit: "u".into() }), None);
        let p = probe_command("/h/.openclaw", &[], &ServiceManager::Custom { restart_command: "sudo systemctl restart gw".into() }, 1);
        assert!(p.contains("sudo -n -l systemctl restart gw"), "{p}");
    }

    #[test]
    fn state_dir_resolution() {
        assert_eq!(resolve_dir("~/.openclaw", "/home/u"), "/home/u/.openclaw");
        assert_eq!(resolve_dir("~", "/home/u/"), "/home/u");
        assert_eq!(resolve_dir("/srv/oc/", "/home/u"), "/srv/oc");
    }
}
