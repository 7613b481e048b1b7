//! The host side of a deploy: every shell command a deploy runs on the host (the probe, the
//! gateway lookup, the restart, the on-host verifications), how `~` resolves there, and the
//! reading of their `name=value` output. Pure text: nothing here talks to a host.
//!
//! Secrets never appear in these commands: values travel on stdin or over SFTP, and every
//! verification computes SHA-256 on the host.

use crate::dotenv;
use crate::model::domain::ServiceManager;
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
/// inode from `/proc/net/tcp{,6}`, then the login user's own processes holding it — one `ls -l`
/// over all their fd directories (the shell picks them with `[ -O ]`, no process per candidate)
/// read by one `awk` —, else `ss -p`, else (systemd) the unit's MainPID. A fleet deploy runs
/// this on every host at once, so it forks as little as it can (three processes, however many
/// the user runs; `ss -p` costs about the same and is not on every host). `/dev/null` makes
/// `ls` print each directory's `/proc/N/fd:` header even when there is one.
pub(super) fn find_pid_snippet(port: u16, sm: &ServiceManager) -> String {
    let mut s = format!(
        "pid=; ino=$(awk '$4 == \"0A\" && $2 ~ /:{port:04X}$/ {{ print $10; exit }}' /proc/net/tcp /proc/net/tcp6 2>/dev/null); \
         if [ -n \"$ino\" ]; then set --; for d in /proc/[0-9]*; do [ -O \"$d\" ] && set -- \"$@\" \"$d/fd\"; done; \
           if [ $# -gt 0 ]; then pid=$(ls -l /dev/null \"$@\" 2>/dev/null | awk -v s=\"socket:[$ino]\" '/^\\/proc\\/[0-9]+\\/fd:$/ {{ p = $0 }} p != \"\" && index($0, s) {{ sub(/^\\/proc\\//, \"\", p); sub(/\\/fd:$/, \"\", p); print p; exit }}'); fi; set --; fi; \
         if [ -z \"$pid\" ] && command -v ss >/dev/null 2>&1; then l=$(ss -ltnpH 'sport = :{port}' 2>/dev/null); \
           case $l in *pid=[0-9]*) l=${{l#*pid=}}; pid=${{l%%[!0-9]*}};; esac; l=; fi; "
    );
    if let ServiceManager::SystemdUser { unit } = sm {
        s.push_str(&format!(
            "if [ -z \"$pid\" ] && command -v systemctl >/dev/null 2>&1; then pid=$(systemctl --user show -p MainPID --value {} 2>/dev/null); [ \"$pid\" = 0 ] && pid=; fi; ",
            sh_quote(unit)
        ));
    }
    s
}

/// Shell function `live DB SQL PATTERN`: does PATTERN occur in what SQL reads from the SQLite
/// file DB (its live rows, WAL included)? Without a working `sqlite3`, a byte scan of the file
/// and its WAL, which also sees deleted rows: after `openclaw models auth logout` the old
/// profile's bytes stay in the WAL, and a deploy must not keep seeing a profile that is gone
/// (found on a real VPS, tests/tests/vps.rs). The per-agent database is asked for its profile
/// table only: its transcripts and caches quote the config, `auth.profiles` and all.
const LIVE_ROWS_FN: &str = "live() { if command -v sqlite3 >/dev/null 2>&1 && lq=$(sqlite3 -bail -readonly \"$1\" 'SELECT 1 FROM sqlite_master LIMIT 0;' \"$2\" 2>/dev/null); then printf '%s\\n' \"$lq\" | grep -qa \"$3\"; else grep -qa \"$3\" \"$1\" \"$1-wal\" 2>/dev/null; fi; };";

/// The plan's one probe (prints names only, never values): `oc` (the openclaw CLI), `profile`
/// (agents with an anthropic auth profile), `systemd_env_file`, `ss`, `ids` (uid and groups),
/// `sd_owner` (the state dir's owner: uid and name), `sd_writable` (the login user may create
/// files in it), `env_owner_name`, `unit_env` (systemd) with `unit_env_file`/`unit_env_ro` (the
/// unit files holding it, writable or not), `probe_done`, and `gwpid`: the gateway
/// listening on `port`.
pub(super) fn probe_command(sd: &str, agents: &[String], sm: &ServiceManager, port: u16) -> String {
    let agents = agents.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ");
    let mut probe = format!(
        "SD={sd}; OC=; if command -v openclaw >/dev/null 2>&1; then OC=$(command -v openclaw); fi; \
         if [ -z \"$OC\" ]; then for c in \"$HOME/.local/bin/openclaw\" \"$HOME/.npm-global/bin/openclaw\" \"$HOME/node_modules/.bin/openclaw\"; do if [ -x \"$c\" ]; then OC=$c; break; fi; done; fi; \
         echo \"oc=$OC\"; \
         {live} \
         for a in {agents}; do f=\"$SD/agents/$a/agent/openclaw-agent.sqlite\"; if [ -f \"$f\" ] && live \"$f\" 'SELECT store_json FROM auth_profile_store;' 'anthropic:'; then echo \"profile=$a\"; fi; done; \
         if [ -f \"$SD/state/openclaw.sqlite\" ] && live \"$SD/state/openclaw.sqlite\" \"SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.store';\" 'anthropic:default'; then for a in {agents}; do echo \"profile=$a\"; done; fi; \
         if [ -f \"$SD/gateway.systemd.env\" ] && grep -q '^[[:space:]]*ANTHROPIC_API_KEY=' \"$SD/gateway.systemd.env\"; then echo systemd_env_file=1; fi; \
         if command -v ss >/dev/null 2>&1; then echo ss=1; fi; echo \"ids=$(id -u) $(id -G)\"; \
         if [ -d \"$SD\" ]; then o=$(stat -Lc '%u %U' -- \"$SD\" 2>/dev/null) || o=\"$(ls -nLd -- \"$SD\" 2>/dev/null | awk '{{print $3}}') $(ls -lLd -- \"$SD\" 2>/dev/null | awk '{{print $3}}')\"; \
           echo \"sd_owner=$o\"; if [ -w \"$SD\" ] && [ -x \"$SD\" ]; then echo sd_writable=1; fi; fi; \
         if [ -e \"$SD/.env\" ]; then o=$(stat -Lc %U -- \"$SD/.env\" 2>/dev/null) || o=$(ls -lLd -- \"$SD/.env\" 2>/dev/null | awk '{{print $3}}'); echo \"env_owner_name=$o\"; fi; ",
        sd = sh_quote(sd),
        live = LIVE_ROWS_FN,
    );
    if let ServiceManager::SystemdUser { unit } = sm {
        probe.push_str(&format!(
            "if command -v systemctl >/dev/null 2>&1 && systemctl --user show -p Environment --value {u} 2>/dev/null | tr ' ' '\\n' | grep -q '^ANTHROPIC_API_KEY='; then echo unit_env=1; \
               for f in $(systemctl --user show -p FragmentPath,DropInPaths --value {u} 2>/dev/null); do \
                 if [ -f \"$f\" ] && grep -q '^[[:space:]]*Environment=.*ANTHROPIC_API_KEY=' \"$f\"; then if [ -w \"$f\" ]; then echo \"unit_env_file=$f\"; else echo \"unit_env_ro=$f\"; fi; fi; done; fi; ",
            u = sh_quote(unit)
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

/// Prints `pid` (the gateway listening on `port`), for a systemd user unit `unit_pid` (its
/// MainPID) and `in_unit` (1 when that process lives in the unit's cgroup, 0 when it was started
/// outside it), `proc` (SHA-256 of its own `ANTHROPIC_API_KEY`, `none` or `unreadable`), `file`
/// (SHA-256 of the key in `env_path`, read by [`dotenv::VALUE_AWK`]) and `state_done`; values
/// only go through pipes on the host.
pub(super) fn gateway_state_command(port: u16, sm: &ServiceManager, env_path: &str) -> String {
    let unit = match sm {
        ServiceManager::SystemdUser { unit } => {
            let service = if unit.ends_with(".service") { unit.clone() } else { format!("{unit}.service") };
            format!(
                "if command -v systemctl >/dev/null 2>&1; then echo \"unit_pid=$(systemctl --user show -p MainPID --value {u} 2>/dev/null)\"; \
                 if [ -n \"$pid\" ] && [ -r /proc/$pid/cgroup ]; then if grep -q {cg} /proc/$pid/cgroup; then echo in_unit=1; else echo in_unit=0; fi; fi; fi; ",
                u = sh_quote(unit),
                cg = sh_quote(&format!("/{service}$")),
            )
        }
        ServiceManager::Custom { .. } => String::new(),
    };
    format!(
        "{find}echo \"pid=$pid\"; {unit}\
         if [ -n \"$pid\" ]; then if [ -r /proc/$pid/environ ]; then \
           h=$(tr '\\0' '\\n' < /proc/$pid/environ | awk 'sub(/^ANTHROPIC_API_KEY=/, \"\") {{ printf \"%s\", $0 | \"sha256sum\"; close(\"sha256sum\"); f = 1; exit }} END {{ if (!f) print \"none\" }}'); \
           echo \"proc=${{h%% *}}\"; else echo proc=unreadable; fi; fi; \
         f={env}; if [ -f \"$f\" ] && h=$(LC_ALL=C awk {awk} \"$f\"); then echo \"file=${{h%% *}}\"; fi; echo state_done=1",
        find = find_pid_snippet(port, sm),
        env = sh_quote(env_path),
        awk = sh_quote(&hash_value_awk()),
    )
}

/// [`dotenv::VALUE_AWK`] that pipes the value into `sha256sum` (awk's own pipe: the value is
/// never an argument) instead of printing it: prints the SHA-256 line and exits 0, or prints
/// nothing and exits 1 when the file has no key line. One `awk` does both the test and the hash.
fn hash_value_awk() -> String {
    const PRINT: &str = r#"printf "%s", v;"#;
    debug_assert!(dotenv::VALUE_AWK.contains(PRINT));
    dotenv::VALUE_AWK.replace(PRINT, r#"printf "%s", v | "sha256sum"; close("sha256sum");"#)
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
/// `--agent` goes on `models auth`, where every version takes it: `paste-api-key` itself
/// accepts it only since OpenClaw 2026.8.1 (docs/openclaw-versions.md).
pub(super) fn paste_api_key_command(bin: &str, agent: &str) -> String {
    format!("{} models auth --agent {} paste-api-key --provider anthropic --profile-id anthropic:default", sh_quote(bin), sh_quote(agent))
}

/// Removes an agent's (stale) `anthropic:default` profile (`models auth logout`: OpenClaw
/// 2026.8.1+; older versions have no such command and the removal fails with its message).
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

    /// A systemd instance's verification tells the unit's gateway from one started by hand
    /// (found on a real VPS, tests/tests/vps.rs): the listener's cgroup is the unit's or not.
    #[test]
    fn gateway_state_tells_the_units_process_from_a_hand_started_one() {
        let sm = ServiceManager::SystemdUser { unit: "openclaw-gateway".into() };
        let cmd = gateway_state_command(30100, &sm, "/home/a/.openclaw/.env");
        assert!(cmd.contains("systemctl --user show -p MainPID --value 'openclaw-gateway'"), "{cmd}");
        assert!(cmd.contains("grep -q '/openclaw-gateway.service$' /proc/$pid/cgroup"), "{cmd}");
        let custom = gateway_state_command(30100, &ServiceManager::Custom { restart_command: "x".into() }, "/e");
        assert!(!custom.contains("in_unit") && !custom.contains("MainPID"), "{custom}");
        for c in [&cmd, &custom] {
            let st = std::process::Command::new("/bin/sh").arg("-n").arg("-c").arg(c).status().unwrap();
            assert!(st.success(), "not valid sh: {c}");
        }
        // run it: prints the state lines even where no systemd runs
        let out = std::process::Command::new("/bin/sh").arg("-c").arg(&cmd).output().unwrap();
        assert!(kv(&String::from_utf8_lossy(&out.stdout), "state_done") == ["1"], "{out:?}");
    }

    /// A profile removed by `openclaw models auth logout` leaves its bytes in the WAL: the probe
    /// reads live rows (sqlite3) and no longer sees it; the row itself is still found.
    #[test]
    fn probe_reads_live_profile_rows_not_stale_wal_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("openclaw.sqlite");
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE config_machine_state(state_key TEXT PRIMARY KEY, value_json TEXT);").unwrap();
        c.execute("INSERT INTO config_machine_state VALUES ('authProfiles.store', '{\"anthropic:default\":{}}')", []).unwrap();
        let sql = "SELECT value_json FROM config_machine_state WHERE state_key = 'authProfiles.store';";
        let live = |pat: &str| -> bool {
            let script = format!("{LIVE_ROWS_FN} if live {} {} {}; then echo yes; else echo no; fi", sh_quote(&db.to_string_lossy()), sh_quote(sql), sh_quote(pat));
            let out = std::process::Command::new("/bin/sh").arg("-c").arg(script).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim() == "yes"
        };
        assert!(live("anthropic:default"), "the live row is found");
        c.execute("UPDATE config_machine_state SET value_json = '{}' WHERE state_key = 'authProfiles.store'", []).unwrap();
        let wal = std::fs::read(dir.path().join("openclaw.sqlite-wal")).unwrap();
        assert!(wal.windows(17).any(|w| w == b"anthropic:default"), "the old bytes are still in the WAL");
        let have_sqlite3 = std::process::Command::new("sqlite3").arg("-version").output().is_ok_and(|o| o.status.success());
        // without sqlite3 on the host the byte scan is all there is (and still sees the old bytes)
        assert_eq!(live("anthropic:default"), !have_sqlite3);
    }

    /// The host hashes the value the Rust parser reads, in one awk, for every `.env` shape; a
    /// file without a key line prints nothing and fails.
    #[test]
    fn the_hosts_env_hash_is_the_rust_parsers_value() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".env");
        let awk = sh_quote(&hash_value_awk());
        for text in [
            "ANTHROPIC_API_KEY=abc\n",
            "# c\r\nexport ANTHROPIC_API_KEY=\"q v\" # note\r\nB=1\r\n",
            "  ANTHROPIC_API_KEY = 'x#y'\nANTHROPIC_API_KEY=second\n",
            "ANTHROPIC_API_KEY=\n",
            "ANTHROPIC_API_KEY=v # inline",
            "OTHER=1\n",
        ] {
            std::fs::write(&f, text).unwrap();
            let script = format!("if h=$(LC_ALL=C awk {awk} {}); then echo \"file=${{h%% *}}\"; else echo none; fi", sh_quote(&f.to_string_lossy()));
            let out = std::process::Command::new("/bin/sh").arg("-c").arg(script).output().unwrap();
            let want = match dotenv::key_value(text.as_bytes()) {
                Some(v) => format!("file={}", crate::model::keyfmt::fingerprint(v.expose())),
                None => "none".into(),
            };
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{text:?}");
        }
    }

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
