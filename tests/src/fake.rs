//! Client for the fake Anthropic API's HTTP control surface (`crates/fake-anthropic`):
//! mint keys from its "console" (`POST /__fake/keys`), read what it received
//! (`GET /__fake/requests`), reset it. Works against the in-process fake and the binary alike.

use crate::http;
use anyhow::{anyhow, bail, Result};
use serde::Deserialize;
use std::time::Duration;

/// A key minted by the fake's console.
#[derive(Debug, Clone, Deserialize)]
pub struct MintedKey {
    /// `apikey_…`
    pub id: String,
    /// The secret (`sk-ant-api03-…`); generated at run time, never committed.
    pub key: String,
    /// Console-style hint, if given.
    #[serde(default)]
    pub partial_key_hint: Option<String>,
}

/// One request the fake recorded.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRequest {
    /// HTTP method.
    #[serde(default)]
    pub method: String,
    /// Path.
    #[serde(default)]
    pub path: String,
    /// `x-api-key` / `bearer` / …
    #[serde(default)]
    pub auth_scheme: Option<String>,
    /// Hex SHA-256 of the presented key.
    #[serde(default)]
    pub api_key_sha256: Option<String>,
    /// Masked key.
    #[serde(default)]
    pub api_key_hint: Option<String>,
    /// Status the fake answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// Streaming request?
    #[serde(default)]
    pub stream: Option<bool>,
    /// Model asked for.
    #[serde(default)]
    pub model: Option<String>,
}

/// Handle on a running fake (by base URL).
#[derive(Debug, Clone)]
pub struct FakeControl {
    base: String,
}

impl FakeControl {
    /// `base_url` like `http://127.0.0.1:PORT`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base: base_url.into().trim_end_matches('/').to_string() }
    }
    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }
    /// Mints an API key (`POST /__fake/keys`).
    pub fn create_key(&self, name: &str) -> Result<MintedKey> {
        let r = http::post_json(&format!("{}/__fake/keys", self.base), &serde_json::json!({"name": name, "kind": "api"}), Duration::from_secs(10))?;
        if !(200..300).contains(&r.status) {
            bail!("POST /__fake/keys: HTTP {}: {}", r.status, r.text());
        }
        Ok(serde_json::from_slice(&r.body)?)
    }
    /// Everything recorded so far (`GET /__fake/requests`).
    pub fn requests(&self) -> Result<Vec<RecordedRequest>> {
        let r = http::get(&format!("{}/__fake/requests", self.base), Duration::from_secs(10))?;
        if r.status != 200 {
            bail!("GET /__fake/requests: HTTP {}: {}", r.status, r.text());
        }
        let v = r.json()?;
        let data = v.get("data").cloned().ok_or_else(|| anyhow!("no data in {v}"))?;
        Ok(serde_json::from_value(data)?)
    }
    /// Clears keys/requests (`POST /__fake/reset`).
    pub fn reset(&self) -> Result<()> {
        let r = http::request("POST", &format!("{}/__fake/reset", self.base), &[], None, Duration::from_secs(10))?;
        if !(200..300).contains(&r.status) {
            bail!("POST /__fake/reset: HTTP {}", r.status);
        }
        Ok(())
    }
    /// Recorded `/v1/messages` calls that presented `key`.
    pub fn messages_with_key(&self, key: &str) -> Result<Vec<RecordedRequest>> {
        let want = crate::layout::key_sha256(key);
        Ok(self.requests()?.into_iter().filter(|r| r.path.ends_with("/v1/messages") && r.api_key_sha256.as_deref() == Some(want.as_str())).collect())
    }
}
