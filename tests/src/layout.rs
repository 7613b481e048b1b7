//! The OpenClaw file layout written on every test host (see openclaw.md §2, §4, §10):
//! `~/.openclaw/openclaw.json` (JSON5 with `meta: {}` and `gateway.mode: "local"`, its own
//! `gateway.port`, the Anthropic provider pointed at the fake, and every background network
//! or token-spending call switched off), `~/.openclaw/.env`, `agents/main/agent/`.
//!
//! Also the `.env` parser shared with the mini-gateway (same rules as OpenClaw's dotenv:
//! `KEY=VALUE`, optional `export `, quotes, `#` comments; never overrides existing vars).

/// Where OpenClaw sends Anthropic calls when no fake was given: a closed loopback port, so a
/// misconfigured test fails fast instead of reaching the internet.
pub const NOWHERE_BASE_URL: &str = "http://127.0.0.1:1";

/// Settings rendered into a host's `openclaw.json`.
#[derive(Debug, Clone)]
pub struct OpenClawConfig {
    /// `gateway.port` (hosts share 127.0.0.1; never assume 18789).
    pub gateway_port: u16,
    /// `models.providers.anthropic.baseUrl` (the fake's address).
    pub base_url: String,
    /// `agents.defaults.model.primary`.
    pub model: String,
    /// Optional literal `models.providers.anthropic.apiKey` (lower precedence than the env var).
    pub api_key_literal: Option<String>,
    /// Absolute path of `logging.file` (OpenClaw's default, /tmp/openclaw, is shared by all hosts).
    pub log_file: String,
    /// Absolute workspace dir.
    pub workspace: String,
    /// Write `models.catalogRefresh` (OpenClaw 2026.8.1+ knows it; older versions reject the
    /// whole config). Defaults to what the version under test knows
    /// ([`crate::openclaw::Features::selected`]).
    pub catalog_refresh_key: bool,
}

impl OpenClawConfig {
    /// Defaults for a host whose home is `home`.
    pub fn new(home: &str, gateway_port: u16) -> Self {
        Self {
            gateway_port,
            base_url: NOWHERE_BASE_URL.to_string(),
            model: "anthropic/claude-sonnet-5".to_string(),
            api_key_literal: None,
            log_file: format!("{home}/.openclaw/logs/openclaw.log"),
            workspace: format!("{home}/.openclaw/workspace"),
            catalog_refresh_key: crate::openclaw::Features::selected().catalog_refresh_key,
        }
    }

    /// Renders the JSON5 text.
    pub fn render(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let catalog = if self.catalog_refresh_key { "\n    // no catalog.openclaw.ai fetch\n    catalogRefresh: { enabled: false }," } else { "" };
        let api_key = match &self.api_key_literal {
            Some(k) => format!("\n        apiKey: {},", q(k)),
            None => String::new(),
        };
        format!(
            r#"// Written by the Clawkeep test world (tests/src/layout.rs). JSON5.
// The API key is not here: it comes from ANTHROPIC_API_KEY in ~/.openclaw/.env.
{{
  // Keep a meta object: without it OpenClaw may "restore" an older config (clobber guard).
  meta: {{}},
  gateway: {{
    mode: "local",
    port: {port},
    bind: "loopback",
    auth: {{ mode: "token", token: "${{OPENCLAW_GATEWAY_TOKEN}}" }},
  }},
  models: {{{catalog}
    providers: {{
      anthropic: {{
        baseUrl: {base},
        api: "anthropic-messages",{api_key}
      }},
    }},
  }},
  agents: {{
    defaults: {{
      model: {{ primary: {model} }},
      workspace: {workspace},
      heartbeat: {{ every: "0m" }},
      utilityModel: "",
    }},
  }},
  plugins: {{ entries: {{ "memory-core": {{ config: {{ dreaming: {{ enabled: false }} }} }} }} }},
  update: {{ checkOnStart: false }},
  logging: {{ file: {log} }},
}}
"#,
            port = self.gateway_port,
            base = q(&self.base_url),
            model = q(&self.model),
            workspace = q(&self.workspace),
            log = q(&self.log_file),
        )
    }
}

/// Renders a `.env` file from pairs (values are written bare; keys are plain tokens).
pub fn render_env(vars: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (k, v) in vars {
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\n');
    }
    s
}

/// Parses a dotenv file the way OpenClaw reads `~/.openclaw/.env`.
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else { continue };
        let k = k.trim();
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let v = v.trim();
        // A quoted value ends at its closing quote (a comment may follow it, as dotenv allows).
        let quoted = v.chars().next().filter(|q| *q == '"' || *q == '\'').and_then(|q| v[1..].find(q).map(|end| v[1..1 + end].to_string()));
        let v = if let Some(inner) = quoted {
            inner
        } else {
            // strip an inline comment only when preceded by whitespace
            match v.find(" #") {
                Some(i) => v[..i].trim_end().to_string(),
                None => v.to_string(),
            }
        };
        out.push((k.to_string(), v));
    }
    out
}

/// Masked form of a key for messages: first 8 + "..." + last 4.
pub fn key_hint(key: &str) -> String {
    if key.len() <= 12 {
        return "***".into();
    }
    format!("{}...{}", &key[..8], &key[key.len() - 4..])
}

/// Hex SHA-256 of a key (what the fake reports as `api_key_sha256`).
pub fn key_sha256(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_valid_json5_with_required_fields() {
        let mut c = OpenClawConfig::new("/tmp/h/home", 28001);
        c.catalog_refresh_key = true;
        let v: serde_json::Value = json5::from_str(&c.render()).unwrap();
        assert!(v["meta"].is_object());
        assert_eq!(v["gateway"]["mode"], "local");
        assert_eq!(v["gateway"]["port"], 28001);
        assert_eq!(v["models"]["providers"]["anthropic"]["api"], "anthropic-messages");
        assert_eq!(v["models"]["catalogRefresh"]["enabled"], false);
        assert_eq!(v["update"]["checkOnStart"], false);
        assert_eq!(v["agents"]["defaults"]["heartbeat"]["every"], "0m");
        assert_eq!(v["agents"]["defaults"]["utilityModel"], "");
        assert_eq!(v["plugins"]["entries"]["memory-core"]["config"]["dreaming"]["enabled"], false);
    }

    #[test]
    fn config_for_an_openclaw_without_catalog_refresh_has_no_such_key() {
        let mut c = OpenClawConfig::new("/tmp/h/home", 28001);
        c.catalog_refresh_key = false;
        let v: serde_json::Value = json5::from_str(&c.render()).unwrap();
        assert!(v["models"].get("catalogRefresh").is_none(), "{v}");
        assert_eq!(v["models"]["providers"]["anthropic"]["api"], "anthropic-messages");
        assert!(v["meta"].is_object());
    }

    #[test]
    fn env_parsing() {
        let e = parse_env("# c\nexport A=1\nB=\"two words\"\nC='x'\nD=v # note\n bad line\n");
        assert_eq!(e, vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "x".into()), ("D".into(), "v".into())]);
    }
}
