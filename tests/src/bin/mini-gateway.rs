//! A small stand-in for the OpenClaw gateway on ordinary test hosts (the real one is 650 MB
//! and takes ~30 s to get ready). It mimics what Clawkeep relies on:
//!
//! * at start it reads `$OPENCLAW_STATE_DIR/.env` (default `~/.openclaw/.env`) into its
//!   environment without overriding variables already set, then re-executes itself so the
//!   merged environment is the process's real one (`/proc/<pid>/environ`);
//! * reads `gateway.port` and `models.providers.anthropic.{baseUrl,apiKey}` from
//!   `openclaw.json` (JSON5); exits 78 on an invalid config or without `gateway.mode: "local"`
//!   (like OpenClaw, so the supervisor doesn't restart-loop);
//! * serves `GET /health`, `/healthz`, `/readyz` on 127.0.0.1:<port>;
//! * `POST /__turn` makes one Anthropic Messages call to the configured base URL (loopback
//!   only) with the effective key in `x-api-key` — OpenClaw's precedence: process env
//!   `ANTHROPIC_API_KEY` (which includes `.env`), else the config literal — and returns
//!   `{"status":<upstream status>,"credential_source":…,"key_hint":…,"error":…}`.
//!
//! It never prints a key.

use anyhow::{bail, Context, Result};
use clawkeep_tests::{http, layout};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::Duration;

const EXECED: &str = "CLAWKEEP_MINI_GATEWAY_ENV_LOADED";

fn state_dir() -> PathBuf {
    if let Ok(d) = std::env::var("OPENCLAW_STATE_DIR") {
        return PathBuf::from(d);
    }
    PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/".into())).join(".openclaw")
}

struct Config {
    port: u16,
    base_url: String,
    api_key_literal: Option<String>,
    model: String,
}

fn substitute(s: &str) -> String {
    // ${VAR} substitution as in OpenClaw config strings
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        match rest[i..].find('}') {
            Some(j) => {
                let name = &rest[i + 2..i + j];
                out.push_str(&std::env::var(name).unwrap_or_default());
                rest = &rest[i + j + 1..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn load_config() -> Result<Config> {
    let path = std::env::var("OPENCLAW_CONFIG_PATH").map(PathBuf::from).unwrap_or_else(|_| state_dir().join("openclaw.json"));
    let text = std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    let v: serde_json::Value = json5::from_str(&text).with_context(|| format!("JSON5 parse of {}", path.display()))?;
    if v["gateway"]["mode"] != "local" {
        bail!("Gateway start blocked: existing config is missing gateway.mode");
    }
    let port = std::env::var("OPENCLAW_GATEWAY_PORT").ok().and_then(|p| p.parse().ok()).or_else(|| v["gateway"]["port"].as_u64().map(|p| p as u16)).unwrap_or(18789);
    let prov = &v["models"]["providers"]["anthropic"];
    let base_url = prov["baseUrl"].as_str().map(substitute).unwrap_or_else(|| layout::NOWHERE_BASE_URL.to_string());
    let api_key_literal = prov["apiKey"].as_str().map(substitute).filter(|s| !s.is_empty());
    let model = v["agents"]["defaults"]["model"]["primary"].as_str().or_else(|| v["agents"]["defaults"]["model"].as_str()).unwrap_or("anthropic/claude-sonnet-5");
    let model = model.strip_prefix("anthropic/").unwrap_or(model).to_string();
    Ok(Config { port, base_url, api_key_literal, model })
}

fn effective_key(cfg: &Config) -> (Option<String>, &'static str) {
    match std::env::var("ANTHROPIC_API_KEY") {
        Ok(k) if !k.is_empty() => (Some(k), "env"),
        _ => match &cfg.api_key_literal {
            Some(k) => (Some(k.clone()), "config"),
            None => (None, "none"),
        },
    }
}

fn respond(s: &mut TcpStream, status: u16, body: &serde_json::Value) {
    let b = body.to_string();
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Status",
    };
    let _ = write!(s, "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{b}", b.len());
}

fn turn(cfg: &Config) -> serde_json::Value {
    let (key, source) = effective_key(cfg);
    let Some(key) = key else {
        return serde_json::json!({"status": null, "credential_source": source, "error": "No API key found for provider \"anthropic\""});
    };
    let base = cfg.base_url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let url = format!("{base}/v1/messages");
    let body = serde_json::json!({
        "model": cfg.model,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Reply with OK."}],
    });
    let b = body.to_string();
    let res =
        http::request("POST", &url, &[("x-api-key", &key), ("anthropic-version", "2023-06-01"), ("content-type", "application/json")], Some(b.as_bytes()), Duration::from_secs(20));
    match res {
        Ok(r) => {
            let upstream: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or(serde_json::Value::Null);
            serde_json::json!({
                "status": r.status,
                "credential_source": source,
                "key_hint": layout::key_hint(&key),
                "key_sha256": layout::key_sha256(&key),
                "upstream": upstream,
            })
        }
        Err(e) => serde_json::json!({"status": null, "credential_source": source, "key_hint": layout::key_hint(&key), "error": format!("{e:#}")}),
    }
}

fn handle(mut s: TcpStream, cfg: &Config) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    // read headers (bounded); bodies are ignored
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match s.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    match (method, path) {
        ("GET" | "HEAD", "/health" | "/healthz") => respond(&mut s, 200, &serde_json::json!({"ok": true, "status": "live"})),
        ("GET" | "HEAD", "/readyz" | "/ready") => respond(&mut s, 200, &serde_json::json!({"ready": true, "failing": [], "kind": "mini-gateway"})),
        ("GET", "/__info") => {
            let (key, source) = effective_key(cfg);
            respond(
                &mut s,
                200,
                &serde_json::json!({
                    "pid": std::process::id(), "port": cfg.port, "base_url": cfg.base_url,
                    "credential_source": source,
                    "key_hint": key.as_deref().map(layout::key_hint),
                    "key_sha256": key.as_deref().map(layout::key_sha256),
                }),
            )
        }
        ("POST", "/__turn") => {
            let r = turn(cfg);
            respond(&mut s, 200, &r)
        }
        _ => respond(&mut s, 404, &serde_json::json!({"error": "not found"})),
    }
}

fn main() {
    // 1. .env into the process environment (no override), then re-exec so it is the real env
    if std::env::var_os(EXECED).is_none() {
        let mut cmd = std::process::Command::new(std::env::current_exe().expect("current exe"));
        cmd.args(std::env::args_os().skip(1)).env(EXECED, "1");
        // Decoded as Node's readFileSync(…, "utf8") does: a byte that is not UTF-8 becomes U+FFFD.
        if let Ok(bytes) = std::fs::read(state_dir().join(".env")) {
            for (k, v) in layout::parse_env(&String::from_utf8_lossy(&bytes)) {
                if std::env::var_os(&k).is_none() {
                    cmd.env(k, v);
                }
            }
        }
        let err = cmd.exec();
        eprintln!("mini-gateway: re-exec failed: {err}");
        std::process::exit(1);
    }
    let cfg = match load_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Gateway failed to start: Invalid config: {e:#}");
            std::process::exit(78);
        }
    };
    let listener = match TcpListener::bind(("127.0.0.1", cfg.port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("mini-gateway: bind 127.0.0.1:{}: {e}", cfg.port);
            std::process::exit(1);
        }
    };
    let (_, source) = effective_key(&cfg);
    println!("mini-gateway pid {} listening on 127.0.0.1:{} (key source: {source})", std::process::id(), cfg.port);
    let cfg = std::sync::Arc::new(cfg);
    for conn in listener.incoming() {
        let Ok(s) = conn else { continue };
        let cfg = cfg.clone();
        std::thread::spawn(move || handle(s, &cfg));
    }
}
