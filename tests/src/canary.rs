//! The canary oracle (issue 12): distinct fake keys, made at run time and recorded with the
//! place they were planted, in every place a test host can hold one (`.env` with CRLF, `export`
//! and quotes; `openclaw.json` valid and broken; per-agent and shared auth-profile databases;
//! legacy profile and models files; a secret file; logs; shell history; a world-readable file;
//! the service's env file; a noisy login shell; the stderr of a failing restart wrapper). After
//! a run, [`Canaries::find`] says which of them (or of the Clawkeep-managed keys, recorded too)
//! shows up in some bytes: outputs, data-dir files, sampled argv.

use crate::cli::{fake_key, random_token};
use crate::world::Host;
use anyhow::{bail, Context, Result};
use std::sync::Mutex;

/// The recorded secrets: `(place, value)`.
#[derive(Debug, Default)]
pub struct Canaries {
    list: Mutex<Vec<(String, String)>>,
}

/// Stretches of a secret that must never appear: key-shaped values are looked for by 24-character
/// windows of their body (past the 16-character head a hint may show, before the 4-character tail),
/// so a partial leak is caught too; short values (a proxy token) by 8-character windows past
/// their first 4 characters (a hint of a short value may show no more than those).
fn windows(value: &str) -> Vec<String> {
    let b = value.as_bytes();
    let (from, width, step) = if b.len() < 48 { (4, 8, 4) } else { (16, 24, 12) };
    let end = if b.len() < 48 { b.len() } else { b.len() - 4 };
    let mut out = Vec::new();
    let mut i = from;
    while i + width <= end {
        out.push(value[i..i + width].to_string());
        i += step;
    }
    if out.is_empty() {
        out.push(value.to_string());
    }
    out
}

impl Canaries {
    pub fn new() -> Canaries {
        Canaries::default()
    }

    /// Records `value` as planted at `place`.
    pub fn record(&self, place: impl Into<String>, value: impl Into<String>) {
        self.list.lock().unwrap().push((place.into(), value.into()));
    }

    /// A fresh fake key, recorded as planted at `place`.
    pub fn key(&self, place: impl Into<String>) -> String {
        let k = fake_key();
        self.record(place, k.clone());
        k
    }

    /// A fresh short token (a proxy token in `ANTHROPIC_API_KEY`, 16–20 characters), recorded.
    pub fn token(&self, place: impl Into<String>, len: usize) -> String {
        let t = format!("tok{}", random_token(len - 3).replace(['-', '_'], "q"));
        self.record(place, t.clone());
        t
    }

    /// Every recorded `(place, value)`.
    pub fn all(&self) -> Vec<(String, String)> {
        self.list.lock().unwrap().clone()
    }

    /// The byte strings to look for (see [`windows`]), for an argv sampler.
    pub fn needles(&self) -> Vec<String> {
        self.all().iter().flat_map(|(_, v)| windows(v)).collect()
    }

    /// The places whose secret (or a stretch of it) occurs in `hay`.
    pub fn find(&self, hay: &[u8]) -> Vec<String> {
        self.all().into_iter().filter(|(_, v)| windows(v).iter().any(|w| crate::cli::contains(hay, w.as_bytes()))).map(|(p, _)| p).collect()
    }
}

/// Runs `sqlite3 DB` with `sql` on stdin (never in argv), as root; the file is chowned after.
fn sqlite(db: &std::path::Path, sql: &str) -> Result<()> {
    let mut c = std::process::Command::new("sqlite3");
    c.arg(db);
    let out = crate::sys::run_with(c, Some(sql.as_bytes()), std::time::Duration::from_secs(30), 1 << 20)?;
    if !out.success() {
        bail!("sqlite3 {}: {}", db.display(), out.stderr_str());
    }
    Ok(())
}

/// An SQLite database file (bytes) built from `sql`.
pub fn sqlite_bytes(sql: &str) -> Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("db.sqlite");
    sqlite(&db, sql)?;
    std::fs::read(&db).context("read built database")
}

/// A per-agent database with an `anthropic:default` API-key auth profile holding `key`.
pub fn agent_db(key: &str) -> Result<Vec<u8>> {
    sqlite_bytes(&format!(
        "CREATE TABLE auth_profiles (id TEXT PRIMARY KEY, provider TEXT, mode TEXT, secret TEXT);\nINSERT INTO auth_profiles VALUES ('anthropic:default','anthropic','api_key','{key}');\n"
    ))
}

/// OpenClaw 2026.9's shared state database (`state/openclaw.sqlite`) whose `authProfiles.store`
/// row holds an API-key profile with `key`.
pub fn shared_state_db(key: &str) -> Result<Vec<u8>> {
    let store = serde_json::json!({"version": 1, "profiles": {"anthropic:default": {"type": "api_key", "provider": "anthropic", "key": key}}});
    sqlite_bytes(&format!(
        "CREATE TABLE config_machine_state (state_key TEXT PRIMARY KEY, value_json TEXT NOT NULL);\nINSERT INTO config_machine_state VALUES ('authProfiles.store', '{}');\n",
        store.to_string().replace('\'', "''")
    ))
}

/// `.env` with CRLF line endings, `export` and quotes: the live `ANTHROPIC_API_KEY` (exported,
/// double-quoted) and a second key in a single-quoted variable.
pub fn plant_env(h: &Host, c: &Canaries) -> Result<()> {
    let live = c.key(format!("{}: .env ANTHROPIC_API_KEY (CRLF, export, double quotes)", h.name()));
    let other = c.key(format!("{}: .env BACKUP_ANTHROPIC_KEY (CRLF, single quotes)", h.name()));
    let text = format!("# ~/.openclaw/.env (CRLF)\r\nexport FOO=\"bar baz\"\r\nexport ANTHROPIC_API_KEY=\"{live}\"\r\nBACKUP_ANTHROPIC_KEY='{other}'\r\n");
    h.write_file(".openclaw/.env", text.as_bytes(), 0o600)
}

/// `.env` whose `ANTHROPIC_API_KEY` is a short proxy token (18 characters), exported, CRLF.
pub fn plant_env_token(h: &Host, c: &Canaries) -> Result<()> {
    let t = c.token(format!("{}: .env ANTHROPIC_API_KEY short proxy token", h.name()), 18);
    h.write_file(".openclaw/.env", format!("# proxy\r\nexport ANTHROPIC_API_KEY={t}\r\n").as_bytes(), 0o600)
}

/// A valid `openclaw.json` whose provider has a literal `apiKey`.
pub fn plant_config_valid(h: &Host, c: &Canaries) -> Result<()> {
    let k = c.key(format!("{}: openclaw.json apiKey (valid JSON5)", h.name()));
    h.update_config(|cfg| cfg.api_key_literal = Some(k))
}

/// A broken `openclaw.json`: an unquoted `apiKey` on the line json5 chokes on.
pub fn plant_config_broken(h: &Host, c: &Canaries) -> Result<()> {
    let k = c.key(format!("{}: openclaw.json unquoted apiKey (broken JSON5)", h.name()));
    let text = h.read_file(".openclaw/openclaw.json")?;
    let Some(i) = text.find("api: \"anthropic-messages\",") else { bail!("no anthropic provider in the rendered config") };
    let broken = format!("{}apiKey: {k},\n        {}", &text[..i], &text[i..]);
    h.write_file(".openclaw/openclaw.json", broken.as_bytes(), 0o600)
}

/// Auth profiles: the per-agent database of `main`, the shared state database, a legacy
/// `auth-profiles.json` and a `models.json`.
pub fn plant_profiles(h: &Host, c: &Canaries) -> Result<()> {
    let n = h.name();
    h.write_file(".openclaw/agents/main/agent/openclaw-agent.sqlite", &agent_db(&c.key(format!("{n}: per-agent auth profile DB")))?, 0o600)?;
    h.write_file(".openclaw/state/openclaw.sqlite", &shared_state_db(&c.key(format!("{n}: shared state DB state/openclaw.sqlite")))?, 0o600)?;
    let legacy = serde_json::json!({"profiles": {"anthropic:default": {"type": "api_key", "key": c.key(format!("{n}: legacy auth-profiles.json"))}}});
    h.write_file(".openclaw/agents/main/agent/auth-profiles.json", legacy.to_string().as_bytes(), 0o600)?;
    let models = serde_json::json!({"providers": {"anthropic": {"apiKey": c.key(format!("{n}: agents/main/agent/models.json"))}}});
    h.write_file(".openclaw/agents/main/agent/models.json", models.to_string().as_bytes(), 0o600)
}

/// A gateway log line quoting a key, shell history, a world-readable notes file, a secret file
/// and the service's env file holding a short proxy token (16–20 characters).
pub fn plant_files(h: &Host, c: &Canaries) -> Result<()> {
    let n = h.name();
    let now = chrono_like_now();
    let log = format!(
        "{{\"time\":\"{now}\",\"level\":\"error\",\"subsystem\":\"agent\",\"msg\":\"rawError=401: invalid x-api-key {}\"}}\n",
        c.key(format!("{n}: gateway log logs/openclaw.log"))
    );
    h.write_file(".openclaw/logs/openclaw.log", log.as_bytes(), 0o600)?;
    h.write_file(".bash_history", format!("ls\nexport ANTHROPIC_API_KEY={}\nopenclaw gateway\n", c.key(format!("{n}: .bash_history"))).as_bytes(), 0o600)?;
    h.write_file("notes.txt", format!("staging key: {}\n", c.key(format!("{n}: world-readable ~/notes.txt"))).as_bytes(), 0o644)?;
    h.write_file(".openclaw/secrets/anthropic", c.key(format!("{n}: secrets/anthropic")).as_bytes(), 0o600)?;
    h.write_file(".openclaw/gateway.systemd.env", format!("ANTHROPIC_API_KEY={}\n", c.token(format!("{n}: gateway.systemd.env short proxy token"), 18)).as_bytes(), 0o600)
}

/// Installs `~/.local/bin/failing-restart`: echoes the `.env` (the key a deploy just wrote) and a
/// planted key to stderr, then fails. Returns the restart command to configure.
pub fn plant_failing_restart(h: &Host, c: &Canaries) -> Result<&'static str> {
    let k = c.key(format!("{}: stderr of a failing restart wrapper", h.name()));
    let script = format!(
        "#!/bin/sh\n# A restart wrapper that echoes what it reads and fails.\ntimeout 2 sed 's/^/input: /' >&2\necho \"restart failed; environment: $(tr '\\n' ' ' < \"$HOME/.openclaw/.env\")\" >&2\necho \"debug: token={k}\" >&2\nexit 1\n"
    );
    h.write_file(".local/bin/failing-restart", script.as_bytes(), 0o755)?;
    Ok("~/.local/bin/failing-restart")
}

/// Installs a stand-in `~/.local/bin/openclaw` CLI (the mini gateway has no real one): it logs
/// its arguments to `~/openclaw-calls.log`; `models auth logout` empties the auth-profile
/// databases; `models auth paste-api-key` echoes its input (the key) and a planted key to
/// stderr and fails, as a careless wrapper would.
pub fn plant_openclaw_cli(h: &Host, c: &Canaries) -> Result<()> {
    let k = c.key(format!("{}: stderr of the openclaw CLI", h.name()));
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> "$HOME/openclaw-calls.log"
case "$*" in
  "models auth logout "*)
    for f in "$HOME"/.openclaw/agents/*/agent/openclaw-agent.sqlite "$HOME/.openclaw/state/openclaw.sqlite"; do
      [ -f "$f" ] && printf 'SQLite format 3 (no profiles)' > "$f"
    done
    echo 'Logged out anthropic:default'; exit 0 ;;
  "models auth paste-api-key "*|"models auth --agent "*" paste-api-key "*)
    echo "openclaw: could not store profile from input: $(timeout 2 cat)" >&2
    echo "openclaw: previous profile key={k}" >&2
    exit 1 ;;
esac
echo "openclaw: unknown command $*" >&2
exit 2
"#
    );
    h.write_file(".local/bin/openclaw", script.as_bytes(), 0o755)
}

/// A noisy login shell that echoes a key (with escape sequences and binary noise) on stdout
/// and stderr before every command, and also as the pre-auth SSH banner when `pre_auth`.
pub fn plant_noisy_shell(h: &Host, c: &Canaries, pre_auth: bool) -> Result<()> {
    let k = c.key(format!("{}: noisy login shell", h.name()));
    let mut say = format!("Welcome to Ubuntu\n\x1b[31mexport ANTHROPIC_API_KEY={k}\x1b[0m\n\x1b]0;pwned\x07").into_bytes();
    say.extend_from_slice(&[0xff, 0xfe, 0x00, 0x9b, b'2', b'J', b'\n']);
    h.set_shell_say(&say, pre_auth)
}

/// Every file place at once (a valid config) and the stand-in `openclaw` CLI.
pub fn plant_everywhere(h: &Host, c: &Canaries) -> Result<()> {
    plant_env(h, c)?;
    plant_openclaw_cli(h, c)?;
    plant_config_valid(h, c)?;
    plant_profiles(h, c)?;
    plant_files(h, c)
}

/// UTC now as `YYYY-MM-DDTHH:MM:SS.000Z` (no chrono in this crate's library).
fn chrono_like_now() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%S.000Z"]).output().ok();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_else(|| "2026-01-01T00:00:00.000Z".into())
}

/// One host of [`plant_standard`]: the instance name to give it, its restart command and
/// injection method.
#[derive(Debug, Clone, Copy)]
pub struct PlantedHost {
    /// World host index (0-based position).
    pub host: usize,
    pub name: &'static str,
    pub restart: &'static str,
    /// `env-file` or `auth-profile`.
    pub injection: &'static str,
}

/// The canary world shared by the CLI and desktop oracles (needs 5 hosts): `full` every file
/// place with a valid config and the echoing openclaw CLI; `broken` a config with an unquoted
/// `apiKey` plus auth profiles; `noisy` a login shell echoing a key (not as pre-auth banner)
/// and a short proxy token in `.env`;
/// `failing` a restart wrapper echoing the `.env` and a key to stderr; `profile` the
/// auth-profile method through the echoing openclaw CLI.
pub fn plant_standard(w: &crate::world::World, c: &Canaries) -> Result<Vec<PlantedHost>> {
    if w.hosts().len() < 5 {
        bail!("the canary world needs 5 hosts");
    }
    let restart = crate::scripts::RESTART_COMMAND;
    plant_everywhere(w.host(0), c)?;
    plant_env(w.host(1), c)?;
    plant_profiles(w.host(1), c)?;
    plant_config_broken(w.host(1), c)?;
    plant_env_token(w.host(2), c)?;
    plant_env(w.host(3), c)?;
    plant_files(w.host(3), c)?;
    let failing = plant_failing_restart(w.host(3), c)?;
    plant_env(w.host(4), c)?;
    plant_profiles(w.host(4), c)?;
    plant_openclaw_cli(w.host(4), c)?;
    // the banner only through the login shell: a pre-auth banner with binary noise is a
    // hostile-host case of its own (tests/tests/e2e/hostile.rs)
    plant_noisy_shell(w.host(2), c, false)?;
    Ok(vec![
        PlantedHost { host: 0, name: "full", restart, injection: "env-file" },
        PlantedHost { host: 1, name: "broken", restart, injection: "env-file" },
        PlantedHost { host: 2, name: "noisy", restart, injection: "env-file" },
        PlantedHost { host: 3, name: "failing", restart: failing, injection: "env-file" },
        PlantedHost { host: 4, name: "profile", restart, injection: "auth-profile" },
    ])
}
