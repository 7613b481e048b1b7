//! Inference endpoints (F4): `GET /v1/models`, `GET /v1/models/{id}`,
//! `POST /v1/messages/count_tokens` and `POST /v1/messages`, non-streaming and SSE, with
//! token-bucket rate limits and a usage row per message.

use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Response};
use chrono::{DurationRound, TimeDelta};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::inject;
use crate::query::{paginate, Query};
use crate::server::{fmt_time, json_response, parse_json, read_body, Auth, Ctx, Shared};
use crate::state::{KeyKind, Model, UsageRow};

fn model_json(m: &Model) -> Value {
    json!({
        "type": "model",
        "id": m.id,
        "display_name": m.display_name,
        "created_at": fmt_time(m.created_at),
        "max_input_tokens": m.max_input_tokens,
        "max_tokens": m.max_tokens,
    })
}

fn model_rl_headers(shared: &Arc<Shared>, ctx: &mut Ctx) {
    let g = shared.lock();
    if !g.state.knobs.models_rate_limit_headers {
        return;
    }
    let l = g.state.org.effective_limits();
    let reset = fmt_time(g.state.now());
    ctx.headers.push(("anthropic-ratelimit-requests-limit".into(), l.rpm.to_string()));
    ctx.headers.push(("anthropic-ratelimit-requests-remaining".into(), l.rpm.to_string()));
    ctx.headers.push(("anthropic-ratelimit-requests-reset".into(), reset));
}

/// `GET /v1/models`.
pub(crate) fn models_list(shared: &Arc<Shared>, q: &Query, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
    let limit = q.int("limit", 20, 1, 1000)? as usize;
    let (after, before) = (q.get("after_id"), q.get("before_id"));
    let mut models = {
        let g = shared.lock();
        if after.is_some() && before.is_some() && g.state.knobs.models_both_cursors_error {
            return Err(ApiError::invalid("Only one of before_id and after_id may be specified."));
        }
        g.state.models.clone()
    };
    models.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    let (page, has_more) = paginate(models, |m| m.id.as_str(), limit, after, before);
    model_rl_headers(shared, ctx);
    Ok(json_response(
        200,
        &json!({
            "data": page.iter().map(model_json).collect::<Vec<_>>(),
            "has_more": has_more,
            "first_id": page.first().map(|m| m.id.clone()),
            "last_id": page.last().map(|m| m.id.clone()),
        }),
    ))
}

/// `GET /v1/models/{id}` (ids and aliases).
pub(crate) fn model_get(shared: &Arc<Shared>, id: &str, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
    let m = shared.lock().state.model(id).cloned();
    let m = m.ok_or_else(|| ApiError::not_found_msg(format!("model: {id}")))?;
    model_rl_headers(shared, ctx);
    Ok(json_response(200, &model_json(&m)))
}

/// Estimated input tokens: characters of system, message text and tools / 4, at least 1.
pub fn estimate_input_tokens(body: &Map<String, Value>) -> u64 {
    fn text_len(v: &Value) -> usize {
        match v {
            Value::String(s) => s.chars().count(),
            Value::Array(a) => a.iter().map(text_len).sum(),
            Value::Object(o) => {
                let mut n = 0;
                for (k, v) in o {
                    if k == "text" || k == "content" || k == "input" {
                        n += text_len(v);
                    } else if k == "source" {
                        n += 4000; // an image or document block
                    }
                }
                n
            }
            _ => 0,
        }
    }
    let mut chars = 0usize;
    if let Some(s) = body.get("system") {
        chars += text_len(s);
    }
    if let Some(m) = body.get("messages") {
        chars += text_len(m);
    }
    if let Some(t) = body.get("tools") {
        chars += t.to_string().len();
    }
    (chars.div_ceil(4)).max(1) as u64
}

/// What every messages-shaped body must have: an object with a known model and valid
/// `messages` (and `max_tokens` for Messages).
struct Checked {
    model: Model,
    max_tokens: u64,
}

fn as_object(v: &Value) -> Result<&Map<String, Value>, ApiError> {
    v.as_object().ok_or_else(|| ApiError::invalid("Input should be a valid dictionary"))
}

fn model_field(o: &Map<String, Value>) -> Result<String, ApiError> {
    match o.get("model") {
        None => Err(ApiError::invalid("model: Field required")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::invalid("model: Input should be a valid string")),
    }
}

fn validate(shared: &Arc<Shared>, o: &Map<String, Value>, need_max_tokens: bool) -> Result<Checked, ApiError> {
    let model_id = model_field(o)?;
    let model = shared.lock().state.model(&model_id).cloned();
    let model = model.ok_or_else(|| ApiError::not_found_msg(format!("model: {model_id}")))?;
    let mut max_tokens = 0;
    if need_max_tokens {
        max_tokens = match o.get("max_tokens") {
            None => return Err(ApiError::invalid("max_tokens: Field required")),
            Some(v) => match v.as_i64() {
                None => return Err(ApiError::invalid("max_tokens: Input should be a valid integer")),
                Some(n) if n < 1 => return Err(ApiError::invalid("max_tokens: Input should be greater than or equal to 1")),
                Some(n) => n as u64,
            },
        };
        if max_tokens > model.max_tokens {
            return Err(ApiError::invalid(format!("max_tokens: {max_tokens} > {}, which is the maximum allowed number of output tokens for {}", model.max_tokens, model.id)));
        }
    }
    match o.get("messages") {
        None => return Err(ApiError::invalid("messages: Field required")),
        Some(Value::Array(a)) => {
            if a.is_empty() {
                return Err(ApiError::invalid("messages: at least one message is required"));
            }
            for (i, m) in a.iter().enumerate() {
                let role = m.get("role").and_then(Value::as_str);
                if !matches!(role, Some("user" | "assistant")) {
                    return Err(ApiError::invalid(format!("messages.{i}.role: Input should be 'user' or 'assistant'")));
                }
                match m.get("content") {
                    Some(Value::String(_) | Value::Array(_)) => {}
                    None => return Err(ApiError::invalid(format!("messages.{i}.content: Field required"))),
                    Some(_) => return Err(ApiError::invalid(format!("messages.{i}.content: Input should be a valid list"))),
                }
            }
        }
        Some(_) => return Err(ApiError::invalid("messages: Input should be a valid list")),
    }
    if let Some(s) = o.get("stream") {
        if !s.is_boolean() {
            return Err(ApiError::invalid("stream: Input should be a valid boolean"));
        }
    }
    Ok(Checked { model, max_tokens })
}

fn class_of(shared: &Arc<Shared>, model: &str) -> String {
    if let Some(m) = shared.lock().state.model(model) {
        return m.class.clone();
    }
    ["opus", "haiku", "sonnet"].into_iter().find(|c| model.contains(c)).unwrap_or("sonnet").to_string()
}

/// `POST /v1/messages/count_tokens`.
pub(crate) async fn count_tokens(shared: &Arc<Shared>, parts: &Parts, body: Body, _auth: &Auth, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
    let max = shared.lock().state.knobs.max_body_bytes;
    let bytes = read_body(parts, body, max).await?;
    let v = parse_json(&bytes)?;
    let o = as_object(&v)?;
    ctx.rec.model = o.get("model").and_then(Value::as_str).map(str::to_string);
    {
        let mut g = shared.lock();
        let g = &mut *g;
        match g.buckets.check_count_tokens(&g.state) {
            Ok(h) => ctx.headers.extend(h),
            Err(d) => {
                let mut e = ApiError::new(429, "rate_limit_error", d.message);
                e.retry_after = Some(d.retry_after);
                e.headers = d.headers;
                return Err(e);
            }
        }
    }
    validate(shared, o, false)?;
    Ok(json_response(200, &json!({"input_tokens": estimate_input_tokens(o)})))
}

fn sse(out: &mut String, event: &str, data: &Value) {
    out.push_str("event: ");
    out.push_str(event);
    out.push_str("\ndata: ");
    out.push_str(&data.to_string());
    out.push_str("\n\n");
}

/// `POST /v1/messages`.
pub(crate) async fn messages(shared: &Arc<Shared>, parts: &Parts, body: Body, auth: &Auth, ctx: &mut Ctx) -> Result<Response<Body>, ApiError> {
    let max = shared.lock().state.knobs.max_body_bytes;
    let bytes = read_body(parts, body, max).await?;
    let v = parse_json(&bytes)?;
    let o = as_object(&v)?;
    let stream = o.get("stream").and_then(Value::as_bool).unwrap_or(false);
    ctx.rec.stream = stream;
    ctx.rec.model = o.get("model").and_then(Value::as_str).map(str::to_string);
    let input = estimate_input_tokens(o);
    let requested_max = o.get("max_tokens").and_then(Value::as_u64).unwrap_or(1);
    let class = class_of(shared, ctx.rec.model.as_deref().unwrap_or(""));

    // Rate limiting, then validation (F2 step 9).
    let granted = {
        let mut g = shared.lock();
        let g = &mut *g;
        match g.buckets.check_messages(&g.state, auth.workspace.as_ref(), &class, input, requested_max) {
            Ok(gr) => gr,
            Err(d) => {
                let mut e = ApiError::new(429, "rate_limit_error", d.message);
                e.retry_after = Some(d.retry_after);
                e.headers = d.headers;
                return Err(e);
            }
        }
    };
    ctx.headers.extend(granted.headers.iter().cloned());
    let checked = match validate(shared, o, true) {
        Ok(c) => c,
        Err(e) => {
            shared.lock().buckets.refund_output(&granted, 0);
            return Err(e);
        }
    };

    let (reply_text, now, mid) = {
        let mut g = shared.lock();
        let mid = if stream { inject::take(&mut g.injections, parts.uri.path(), true) } else { None };
        (g.state.knobs.reply_text.clone(), g.state.now(), mid)
    };
    let words: Vec<&str> = reply_text.split_whitespace().collect();
    let n_words = words.len().max(1) as u64;
    let out_tokens = n_words.min(checked.max_tokens);
    let stop_reason = if n_words > checked.max_tokens { "max_tokens" } else { "end_turn" };
    let pieces: Vec<String> = words.iter().take(out_tokens as usize).enumerate().map(|(i, w)| if i == 0 { (*w).to_string() } else { format!(" {w}") }).collect();
    let text: String = pieces.concat();
    let msg_id = crate::ids::message_id();
    let model_id = checked.model.id.clone();

    let resp = if stream {
        let ping = shared.lock().state.knobs.sse_ping;
        let mut events: Vec<(&str, Value)> = Vec::new();
        events.push((
            "message_start",
            json!({"type": "message_start", "message": {
                "id": msg_id, "type": "message", "role": "assistant", "model": model_id,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": input, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": 1}}}),
        ));
        events.push(("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
        if ping {
            events.push(("ping", json!({"type": "ping"})));
        }
        for p in &pieces {
            events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})));
        }
        events.push(("content_block_stop", json!({"type": "content_block_stop", "index": 0})));
        events.push((
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
                   "usage": {"output_tokens": out_tokens}}),
        ));
        events.push(("message_stop", json!({"type": "message_stop"})));
        let mut body = String::new();
        let mut emitted_out = out_tokens;
        match &mid {
            Some(inj) => {
                let n = (inj.after_events as usize).min(events.len());
                emitted_out = events[..n].iter().filter(|(e, _)| *e == "content_block_delta").count() as u64;
                for (e, d) in &events[..n] {
                    sse(&mut body, e, d);
                }
                let err = json!({"type": "error", "error": {"type": inj.effective_type(), "message": inj.effective_message()}});
                sse(&mut body, "error", &err);
                ctx.rec.error_type = Some(inj.effective_type());
            }
            None => {
                for (e, d) in &events {
                    sse(&mut body, e, d);
                }
            }
        }
        record_usage(shared, auth, &model_id, input, emitted_out, now);
        shared.lock().buckets.refund_output(&granted, emitted_out);
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        r
    } else {
        record_usage(shared, auth, &model_id, input, out_tokens, now);
        shared.lock().buckets.refund_output(&granted, out_tokens);
        json_response(
            200,
            &json!({
                "id": msg_id, "type": "message", "role": "assistant", "model": model_id,
                "content": [{"type": "text", "text": text}],
                "stop_reason": stop_reason, "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": out_tokens,
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                          "service_tier": "standard"},
            }),
        )
    };
    Ok(resp)
}

fn record_usage(shared: &Arc<Shared>, auth: &Auth, model: &str, input: u64, output: u64, now: chrono::DateTime<chrono::Utc>) {
    let mut g = shared.lock();
    let ws = auth.workspace.as_ref().and_then(|w| if w.is_default { None } else { Some(w.id.clone()) });
    let minute = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
    let api_key_id = if auth.kind == KeyKind::Oauth { None } else { Some(auth.key_id.clone()) };
    g.state.push_usage(UsageRow {
        ts: minute,
        api_key_id,
        workspace_id: ws,
        model: model.to_string(),
        uncached_input_tokens: input,
        cache_creation_5m: 0,
        cache_creation_1h: 0,
        cache_read_input_tokens: 0,
        output_tokens: output,
        web_search_requests: 0,
        service_tier: "standard".into(),
        context_window: "0-200k".into(),
        inference_geo: Some("global".into()),
    });
    g.dirty = true;
}
