//! The test-only control surface under `/__fake/…`: mint keys as the Console would, flip org
//! state, inject errors, move the clock, reset, read the request log, edit state and knobs.
//! Not part of the Anthropic surface; needs no auth because the fake only binds loopback.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, Response};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::inject::{self, ErrorInjection};
use crate::mint::{mint, MintKey, MintedKey};
use crate::presets::{self, Preset};
use crate::server::{json_response, parse_json, read_body, Inner, Shared};
use crate::state::{Clock, Knobs, Limits, NonTokenCost, SpendLimit, State, UsageRow};

/// Partial update of the organisation (`POST /__fake/org`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgUpdate {
    /// Disable / re-enable the org.
    pub disabled: Option<bool>,
    /// Credit available (`false`: the credit-balance 400).
    pub credit: Option<bool>,
    /// [ASSUME] knob: `count_tokens` also reports the credit error.
    pub count_tokens_reports_credit: Option<bool>,
    /// Usage tier 1..=4.
    pub tier: Option<u8>,
}

impl Inner {
    pub(crate) fn mint_key(&mut self, req: &MintKey) -> Result<MintedKey, String> {
        let m = mint(&mut self.state, req)?;
        self.dirty = true;
        Ok(m)
    }

    pub(crate) fn set_org(&mut self, u: &OrgUpdate) {
        let o = &mut self.state.org;
        if let Some(v) = u.disabled {
            o.disabled = v;
        }
        if let Some(v) = u.credit {
            o.credit_ok = v;
        }
        if let Some(v) = u.count_tokens_reports_credit {
            o.count_tokens_reports_credit = v;
        }
        if let Some(t) = u.tier {
            o.tier = t.clamp(1, 4);
        }
        self.dirty = true;
    }

    pub(crate) fn advance_clock(&mut self, seconds: f64) {
        self.state.clock.advance(seconds);
        self.dirty = true;
    }

    pub(crate) fn inject(&mut self, spec: ErrorInjection) {
        self.injections.push(inject::activate(spec));
    }

    pub(crate) fn reset_to(&mut self, preset: Preset) -> Vec<MintedKey> {
        let built = presets::build(preset, Clock::default());
        let knobs = self.state.knobs.clone();
        self.initial = built.state;
        self.initial.knobs = knobs;
        self.initial_injections = built.injections;
        self.fixture_keys = built.keys.clone();
        self.preset = preset;
        self.reset();
        built.keys
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::invalid(msg)
}

fn from_value<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, ApiError> {
    serde_json::from_value(v).map_err(|e| bad(format!("invalid body: {e}")))
}

#[derive(Deserialize)]
struct ConsoleKey {
    name: Option<String>,
    workspace_id: Option<String>,
    expires_in: Option<i64>,
}

/// Handles `/__fake/…`.
pub(crate) async fn handle(shared: &Arc<Shared>, req: Request<Body>) -> Response<Body> {
    let request_id = crate::ids::request_id();
    let mut resp = match route(shared, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(&request_id),
    };
    if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

async fn route(shared: &Arc<Shared>, req: Request<Body>) -> Result<Response<Body>, ApiError> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().trim_end_matches('/').to_string();
    let method = parts.method.clone();
    let v = if method == Method::POST || method == Method::PUT {
        let bytes = read_body(&parts, body, 256 * 1024 * 1024).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            parse_json(&bytes)?
        }
    } else {
        Value::Null
    };
    let ok = || json_response(200, &json!({"ok": true}));
    let mut g = shared.lock();
    let segs: Vec<&str> = path.trim_start_matches("/__fake/").split('/').collect();
    let r = match (&method, segs.as_slice()) {
        (&Method::POST, ["keys"]) => {
            let req: MintKey = from_value(v)?;
            let m = g.mint_key(&req).map_err(bad)?;
            json_response(200, &serde_json::to_value(&m).unwrap_or_default())
        }
        (&Method::POST, ["console", "api_keys"]) => {
            let c: ConsoleKey = from_value(v)?;
            let now = g.state.now();
            let req = MintKey {
                name: c.name.unwrap_or_else(|| "key".into()),
                workspace_id: c.workspace_id,
                expires_at: c.expires_in.and_then(|s| now.checked_add_signed(Duration::try_seconds(s)?)),
                ..MintKey::default()
            };
            let m = g.mint_key(&req).map_err(bad)?;
            let mut out = serde_json::to_value(&m).unwrap_or_default();
            out["secret"] = json!(m.key);
            json_response(200, &out)
        }
        (&Method::GET, ["keys"]) => {
            // Fixture and minted keys, without secrets.
            let data: Vec<Value> = g.state.keys.iter().map(|k| serde_json::to_value(k).unwrap_or_default()).collect();
            json_response(200, &json!({"data": data}))
        }
        (&Method::GET, ["requests"]) => json_response(200, &json!({"data": g.requests})),
        (&Method::DELETE, ["requests"]) => {
            g.requests.clear();
            ok()
        }
        (&Method::POST, ["org"]) => {
            let u: OrgUpdate = from_value(v)?;
            g.set_org(&u);
            json_response(200, &serde_json::to_value(&g.state.org).unwrap_or_default())
        }
        (&Method::GET, ["clock"]) => json_response(200, &json!({"now": crate::server::fmt_time(g.state.now()), "clock": g.state.clock})),
        (&Method::POST, ["clock", "advance"]) => {
            let secs = v.get("seconds").and_then(Value::as_f64).ok_or_else(|| bad("seconds: Field required (a number)"))?;
            g.advance_clock(secs);
            json_response(200, &json!({"now": crate::server::fmt_time(g.state.now())}))
        }
        (&Method::POST, ["clock", "set"]) => {
            // {"at": RFC3339} freezes time there; {"at": null} returns to real time.
            let at: Option<DateTime<Utc>> = match v.get("at") {
                None | Some(Value::Null) => None,
                Some(x) => Some(from_value(x.clone())?),
            };
            g.state.clock = Clock { frozen_at: at, offset_ms: 0 };
            g.dirty = true;
            json_response(200, &json!({"now": crate::server::fmt_time(g.state.now())}))
        }
        (&Method::POST, ["errors"]) => {
            let spec: ErrorInjection = from_value(v)?;
            g.inject(spec);
            ok()
        }
        (&Method::GET, ["errors"]) => {
            let data: Vec<Value> = g.injections.iter().map(|r| json!({"spec": r.spec, "remaining": r.remaining, "seen": r.seen})).collect();
            json_response(200, &json!({"data": data}))
        }
        (&Method::DELETE, ["errors"]) => {
            g.injections.clear();
            ok()
        }
        (&Method::POST, ["reset"]) => match v.get("preset").and_then(Value::as_str) {
            Some(p) => {
                let preset: Preset = p.parse().map_err(bad)?;
                let keys = g.reset_to(preset);
                json_response(200, &json!({"ok": true, "preset": preset.as_str(), "keys": keys}))
            }
            None => {
                g.reset();
                json_response(200, &json!({"ok": true, "preset": g.preset.as_str()}))
            }
        },
        (&Method::POST, ["usage"]) => {
            let rows: Vec<UsageRow> = match v.get("rows") {
                Some(r) => from_value(r.clone())?,
                None => vec![from_value(v)?],
            };
            for r in rows {
                g.state.push_usage(r);
            }
            g.dirty = true;
            ok()
        }
        (&Method::POST, ["costs"]) => {
            let rows: Vec<NonTokenCost> = match v.get("rows") {
                Some(r) => from_value(r.clone())?,
                None => vec![from_value(v)?],
            };
            g.state.non_token_costs.extend(rows);
            g.dirty = true;
            ok()
        }
        (&Method::GET, ["state"]) => json_response(200, &serde_json::to_value(&g.state).unwrap_or_default()),
        (&Method::PUT, ["state"]) => {
            let s: State = from_value(v)?;
            g.state = s;
            g.dirty = true;
            ok()
        }
        (&Method::GET, ["knobs"]) => json_response(200, &serde_json::to_value(&g.state.knobs).unwrap_or_default()),
        (&Method::POST, ["knobs"]) => {
            let mut cur = serde_json::to_value(&g.state.knobs).unwrap_or_default();
            if let (Some(c), Some(patch)) = (cur.as_object_mut(), v.as_object()) {
                for (k, val) in patch {
                    c.insert(k.clone(), val.clone());
                }
            }
            let k: Knobs = from_value(cur)?;
            g.state.knobs = k;
            g.dirty = true;
            json_response(200, &serde_json::to_value(&g.state.knobs).unwrap_or_default())
        }
        (&Method::POST, ["workspaces", id, "rate_limits"]) => {
            let limits: Option<Limits> = if v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) { None } else { Some(from_value(v)?) };
            let w = g.state.workspaces.iter_mut().find(|w| w.id == *id).ok_or_else(|| ApiError::not_found_msg(format!("Workspace `{id}` not found.")))?;
            w.rate_limits = limits;
            g.dirty = true;
            ok()
        }
        (&Method::POST, ["spend_limits"]) => {
            // {enrolled?, limits?}: the early access enrolment and/or the whole list of limits.
            if let Some(e) = v.get("enrolled") {
                g.state.spend_limits.enrolled = e.as_bool().ok_or_else(|| bad("enrolled: Input should be a valid boolean"))?;
            }
            if let Some(l) = v.get("limits") {
                let limits: Vec<SpendLimit> = from_value(l.clone())?;
                g.state.spend_limits.limits = limits;
            }
            g.dirty = true;
            json_response(200, &serde_json::to_value(&g.state.spend_limits).unwrap_or_default())
        }
        _ => return Err(ApiError::not_found()),
    };
    Ok(r)
}
