//! `openclaw.json` facts (JSON5, see openclaw.md §3–§4, §8.3) and the base-URL rules.
//!
//! The text parsed here comes from the host with every key-shaped string already replaced by a
//! marker `__CK_KEY_<n>__` (see [`super::hostfacts`]), so a literal key in the config never
//! leaves the host; the marker's number links to the fingerprint the host computed.

use serde_json::Value;

/// Default base URL of OpenClaw's built-in anthropic provider.
pub const DEFAULT_ANTHROPIC_BASE: &str = "https://api.anthropic.com";

/// Where an `apiKey`/`env.vars` value points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// A literal key: the n-th key-shaped string of the config (fingerprint from the host).
    Literal(u32),
    /// `${VAR}` substitution.
    EnvVar(String),
    /// A SecretRef object (`{source, provider, id}`).
    SecretRef(String),
    /// Anything else (not key-shaped).
    Other,
}

/// The facts of `openclaw.json` the checklist uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigFacts {
    pub has_meta: bool,
    pub gateway_mode: Option<String>,
    /// `models.providers.anthropic.baseUrl`, if overridden.
    pub base_url: Option<String>,
    /// `models.providers.anthropic.api`.
    pub api: Option<String>,
    /// Primary model of `agents.defaults.model` (`provider/model`).
    pub primary_model: Option<String>,
    /// Per-agent model overrides (`agents.entries.<id>.model`).
    pub agent_models: Vec<(String, String)>,
    pub api_key: Option<KeyRef>,
    /// `env.vars.ANTHROPIC_API_KEY`.
    pub env_vars_key: Option<KeyRef>,
    pub logging_file: Option<String>,
    /// `anthropic-beta` headers configured anywhere under the provider.
    pub beta_headers: Vec<String>,
    /// Reasoning/thinking parameters configured (paths).
    pub reasoning_params: Vec<String>,
    /// File secret providers (`secrets.providers.<alias>` with `source: "file"`): alias and path.
    pub secret_files: Vec<(String, String)>,
}

impl ConfigFacts {
    /// The path of the file a `{source: "file", provider}` SecretRef reads, when configured.
    pub fn secret_file_of(&self, r: &KeyRef) -> Option<&str> {
        let KeyRef::SecretRef(s) = r else { return None };
        let provider = s.strip_prefix("file:")?.split(':').next()?;
        self.secret_files.iter().find(|(a, _)| a == provider).map(|(_, p)| p.as_str())
    }
}

impl ConfigFacts {
    /// Values decoded from the host's JSON (`"\u001b"` escapes included) become shown text:
    /// through [`crate::hosttext::line`], like all host text.
    fn sanitize(&mut self) {
        let l = |s: &mut String| *s = crate::hosttext::line(s, 500);
        for o in [&mut self.gateway_mode, &mut self.base_url, &mut self.api, &mut self.primary_model, &mut self.logging_file].into_iter().flatten() {
            l(o);
        }
        for (a, m) in self.agent_models.iter_mut().chain(self.secret_files.iter_mut()) {
            l(a);
            l(m);
        }
        self.beta_headers.iter_mut().for_each(l);
        self.reasoning_params.iter_mut().for_each(l);
        for r in [&mut self.api_key, &mut self.env_vars_key].into_iter().flatten() {
            if let KeyRef::EnvVar(s) | KeyRef::SecretRef(s) = r {
                l(s);
            }
        }
    }
}

fn key_ref(v: &Value) -> Option<KeyRef> {
    match v {
        Value::String(s) => {
            let s = s.trim();
            if let Some(n) = s.strip_prefix("__CK_KEY_").and_then(|r| r.strip_suffix("__")).and_then(|n| n.parse().ok()) {
                Some(KeyRef::Literal(n))
            } else if let Some(var) = s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(KeyRef::EnvVar(var.to_string()))
            } else if s.is_empty() {
                None
            } else {
                Some(KeyRef::Other)
            }
        }
        // `source:provider:id`: a file SecretRef names the provider whose path holds the key.
        Value::Object(o) => {
            let field = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("?");
            Some(KeyRef::SecretRef(format!("{}:{}:{}", field("source"), field("provider"), field("id"))))
        }
        _ => None,
    }
}

fn model_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("primary").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// Walks a JSON value collecting paths of reasoning/thinking parameters and beta headers.
fn scan(v: &Value, path: &str, facts: &mut ConfigFacts, depth: usize) {
    if depth > 12 {
        return;
    }
    if let Value::Object(o) = v {
        for (k, child) in o {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            let kl = k.to_ascii_lowercase();
            if kl == "anthropic-beta" {
                match child {
                    Value::String(s) => facts.beta_headers.push(format!("{p} = {s}")),
                    other => facts.beta_headers.push(format!("{p} = {other}")),
                }
            }
            let reasoning_key =
                matches!(kl.as_str(), "thinking" | "thinkinglevelmap" | "effort" | "budget_tokens" | "thinkingdefault") || (kl == "reasoning" && child.as_bool() == Some(true));
            if reasoning_key && !p.starts_with("meta") {
                facts.reasoning_params.push(p.clone());
            }
            scan(child, &p, facts, depth + 1);
        }
    } else if let Value::Array(a) = v {
        for (i, child) in a.iter().enumerate().take(200) {
            scan(child, &format!("{path}[{i}]"), facts, depth + 1);
        }
    }
}

/// Parses the (redacted) config text. The error is a short reason, never file content.
pub fn parse(text: &str) -> Result<ConfigFacts, String> {
    // json5's messages quote input: only the position is kept (the one host-text sanitizer).
    let v: Value = json5::from_str(text).map_err(|e| crate::hosttext::json5_error(&e))?;
    if !v.is_object() {
        return Err("the config is not a JSON object".into());
    }
    let prov = &v["models"]["providers"]["anthropic"];
    let mut f = ConfigFacts {
        has_meta: v.get("meta").is_some_and(Value::is_object),
        gateway_mode: v["gateway"]["mode"].as_str().map(str::to_string),
        base_url: prov.get("baseUrl").and_then(Value::as_str).map(str::to_string),
        api: prov.get("api").and_then(Value::as_str).map(str::to_string),
        primary_model: model_of(&v["agents"]["defaults"]["model"]),
        api_key: prov.get("apiKey").and_then(key_ref),
        env_vars_key: v["env"]["vars"].get("ANTHROPIC_API_KEY").and_then(key_ref),
        logging_file: v["logging"]["file"].as_str().map(str::to_string),
        ..Default::default()
    };
    if let Some(entries) = v["agents"]["entries"].as_object() {
        for (id, e) in entries {
            if let Some(m) = e.get("model").and_then(model_of) {
                f.agent_models.push((id.clone(), m));
            }
        }
    }
    if let Some(list) = v["agents"]["list"].as_array() {
        for e in list {
            if let (Some(id), Some(m)) = (e.get("id").and_then(Value::as_str), e.get("model").and_then(model_of)) {
                f.agent_models.push((id.to_string(), m));
            }
        }
    }
    if let Some(providers) = v["secrets"]["providers"].as_object() {
        for (alias, p) in providers.iter().take(50) {
            if let (Some("file"), Some(path)) = (p["source"].as_str(), p["path"].as_str()) {
                f.secret_files.push((alias.clone(), path.to_string()));
            }
        }
    }
    scan(&v["models"], "models", &mut f, 0);
    scan(&v["agents"], "agents", &mut f, 0);
    f.sanitize();
    Ok(f)
}

/// The Anthropic model id of a `provider/model` ref, when the provider is `anthropic`.
pub fn anthropic_model(model_ref: &str) -> Option<&str> {
    model_ref.strip_prefix("anthropic/")
}

/// `OpenClaw 2026.9.6 (eb377ac)` → (2026, 9, 6).
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let v = s.split_whitespace().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut it = v.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

/// The first OpenClaw release that strips a trailing `/v1` from an `anthropic-messages` base URL
/// (`normalizeAnthropicBaseUrl` in its dist; 2026.2.22 has none).
pub const V1_STRIPPED_SINCE: (u32, u32, u32) = (2026, 2, 23);

/// Verdict on a base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseUrlVerdict {
    Ok,
    /// Works on some versions only (a trailing `/v1`), with the reason.
    VersionDependent(String),
    /// Broken, with the reason.
    Invalid(String),
}

fn is_loopback_host(rest: &str) -> bool {
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map(|(_, h)| h).unwrap_or(host);
    let h = if host.starts_with('[') { host.split(']').next().unwrap_or("").trim_start_matches('[') } else { host.split(':').next().unwrap_or("") };
    h == "localhost" || h == "::1" || h.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

/// The base-URL rules (openclaw.md §4.2, §8.3): root form passes; `/v1` depends on the version
/// (stripped since 2026.2.23, `normalizeAnthropicBaseUrl`; 404s on 2026.1.29–2026.2.22, see
/// docs/openclaw-versions.md); `/v1/messages`, `/v1/v1`, non-loopback
/// `http://`, whitespace fail.
pub fn check_base_url(url: &str, version: Option<(u32, u32, u32)>) -> BaseUrlVerdict {
    if url.is_empty() {
        return BaseUrlVerdict::Invalid("empty baseUrl".into());
    }
    if url.chars().any(char::is_whitespace) {
        return BaseUrlVerdict::Invalid("the baseUrl contains whitespace".into());
    }
    let (scheme, rest) = match url.split_once("://") {
        Some(x) => x,
        None => return BaseUrlVerdict::Invalid("no scheme (https://…)".into()),
    };
    match scheme {
        "https" => {}
        "http" if is_loopback_host(rest) => {}
        "http" => return BaseUrlVerdict::Invalid("plain http:// to a non-loopback host sends the key unencrypted".into()),
        other => return BaseUrlVerdict::Invalid(format!("unsupported scheme '{other}'")),
    }
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("").trim_end_matches('/');
    if path.contains("/v1/v1") {
        return BaseUrlVerdict::Invalid("double /v1: requests go to /v1/v1/messages (404 Not Found)".into());
    }
    if path.ends_with("/v1/messages") || path.ends_with("/messages") {
        return BaseUrlVerdict::Invalid("the baseUrl includes /v1/messages: OpenClaw appends it (→ /v1/messages/v1/messages)".into());
    }
    if path.ends_with("/v1") {
        return match version {
            Some(v) if v >= V1_STRIPPED_SINCE => {
                BaseUrlVerdict::VersionDependent(format!("trailing /v1 is stripped by OpenClaw {}.{}.{} (works), but failed before 2026.2.23", v.0, v.1, v.2))
            }
            Some(v) => BaseUrlVerdict::Invalid(format!("OpenClaw {}.{}.{} does not strip a trailing /v1 (→ /v1/v1/messages, 404)", v.0, v.1, v.2)),
            None => BaseUrlVerdict::VersionDependent("trailing /v1: fine on OpenClaw 2026.2.23+, 404 on older versions (version unknown)".into()),
        };
    }
    BaseUrlVerdict::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        let new = Some((2026, 9, 6));
        assert_eq!(check_base_url("https://api.anthropic.com", new), BaseUrlVerdict::Ok);
        assert_eq!(check_base_url("http://127.0.0.1:18555", new), BaseUrlVerdict::Ok);
        assert!(matches!(check_base_url("https://api.anthropic.com/v1", new), BaseUrlVerdict::VersionDependent(_)));
        assert!(matches!(check_base_url("https://api.anthropic.com/v1", Some((2026, 2, 1))), BaseUrlVerdict::Invalid(_)));
        // the boundary: 2026.2.22 does not strip it, 2026.2.23 does
        assert!(matches!(check_base_url("https://api.anthropic.com/v1", Some((2026, 2, 22))), BaseUrlVerdict::Invalid(_)));
        assert!(matches!(check_base_url("https://api.anthropic.com/v1", Some((2026, 2, 23))), BaseUrlVerdict::VersionDependent(_)));
        assert!(matches!(check_base_url("https://api.anthropic.com/v1", Some((2026, 7, 35))), BaseUrlVerdict::VersionDependent(_)));
        assert!(matches!(check_base_url("https://api.anthropic.com/v1", None), BaseUrlVerdict::VersionDependent(_)));
        for bad in [
            "https://api.anthropic.com/v1/messages",
            "https://api.anthropic.com/v1/v1",
            "http://proxy.example.com",
            "https://api.anthropic.com ",
            " https://api.anthropic.com",
            "api.anthropic.com",
            "ftp://x",
        ] {
            assert!(matches!(check_base_url(bad, new), BaseUrlVerdict::Invalid(_)), "{bad}");
        }
        assert_eq!(check_base_url("http://localhost:8080/", new), BaseUrlVerdict::Ok);
        assert!(matches!(check_base_url("http://127.evil.example.com", new), BaseUrlVerdict::Invalid(_)));
    }

    /// Issue 12 finding 6: values decoded from JSON escapes reach the operator's terminal only
    /// as visible text.
    #[test]
    fn decoded_control_characters_are_neutralised() {
        let f = parse(r#"{ meta: {}, models: { providers: { anthropic: { baseUrl: "https://api.anthropic.com\u001b[2J\u001b]0;x\u0007", api: "a\u009bb" } } }, agents: { defaults: { model: "anthropic/m\u001b[31m" } } }"#).unwrap();
        for v in [f.base_url.unwrap(), f.api.unwrap(), f.primary_model.unwrap()] {
            assert!(!v.chars().any(char::is_control), "{v:?}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("OpenClaw 2026.9.6 (eb377ac)"), Some((2026, 9, 6)));
        assert_eq!(parse_version("2026.2.1"), Some((2026, 2, 1)));
        assert_eq!(parse_version("garbage"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn parses_example_config_and_markers() {
        let text = r#"{
          meta: {}, gateway: { mode: "local" },
          env: { vars: { ANTHROPIC_API_KEY: "__CK_KEY_2__" } },
          models: { providers: { anthropic: { baseUrl: "https://x.example", api: "openai-completions", apiKey: "__CK_KEY_1__",
                    headers: { "anthropic-beta": "context-1m-2025-08-07" },
                    models: [{ id: "m", name: "M", reasoning: true }] } } },
          agents: { defaults: { model: { primary: "anthropic/claude-sonnet-5" }, models: { "anthropic/claude-sonnet-5": { params: { thinking: { type: "adaptive" } } } } },
                    entries: { ops: { model: "anthropic/claude-opus-5" } } },
          logging: { file: "/var/log/oc.log" },
        }"#;
        let f = parse(text).unwrap();
        assert!(f.has_meta);
        assert_eq!(f.api.as_deref(), Some("openai-completions"));
        assert_eq!(f.api_key, Some(KeyRef::Literal(1)));
        assert_eq!(f.env_vars_key, Some(KeyRef::Literal(2)));
        assert_eq!(f.primary_model.as_deref(), Some("anthropic/claude-sonnet-5"));
        assert_eq!(f.agent_models, vec![("ops".to_string(), "anthropic/claude-opus-5".to_string())]);
        assert_eq!(f.logging_file.as_deref(), Some("/var/log/oc.log"));
        assert_eq!(f.beta_headers.len(), 1);
        assert!(f.reasoning_params.iter().any(|p| p.ends_with("thinking")), "{:?}", f.reasoning_params);
        assert!(f.reasoning_params.iter().any(|p| p.ends_with("reasoning")), "{:?}", f.reasoning_params);
        let e = parse("{ meta: {}, ").unwrap_err();
        assert!(e.starts_with("JSON5 parse failed"));
        assert!(parse("[1,2]").is_err());
        let f = parse(r#"{models:{providers:{anthropic:{apiKey:"${MY_KEY}"}}}}"#).unwrap();
        assert_eq!(f.api_key, Some(KeyRef::EnvVar("MY_KEY".into())));
        assert!(!f.has_meta);
    }

    #[test]
    fn example_files_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/openclaw-examples");
        if let Ok(t) = std::fs::read_to_string(dir.join("openclaw.json5")) {
            let f = parse(&t).unwrap();
            assert!(f.has_meta);
            assert_eq!(f.primary_model.as_deref(), Some("anthropic/claude-sonnet-5"));
        }
    }
}
