//! Error injection (F2 step 8): "the next N requests on a path prefix answer status/type/
//! message", optionally every n-th only, optionally as an SSE `event: error` mid-stream.

use serde::{Deserialize, Serialize};

/// How an injected error's body looks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BodyMode {
    /// The usual JSON error envelope.
    #[default]
    Json,
    /// An HTML page, as Cloudflare answers a 413 before the API sees the request.
    Html,
    /// No body.
    Empty,
}

/// One injection rule (the body of `POST /__fake/errors`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorInjection {
    /// Requests whose path starts with this match.
    pub path_prefix: String,
    /// How many times the rule fires before it is spent.
    pub count: u32,
    /// Never spent (ignores `count`).
    pub unlimited: bool,
    /// Fire only on every n-th matching request (1 or `None`: every one).
    pub every_nth: Option<u32>,
    /// HTTP status (the status line stays 200 for `mid_stream`).
    pub status: u16,
    /// `error.type`; derived from `status` when `None`.
    #[serde(rename = "type")]
    pub error_type: Option<String>,
    /// `error.message`; derived from `status` when `None`.
    pub message: Option<String>,
    /// Deliver as `event: error` inside a 200 SSE stream (only streaming messages match).
    pub mid_stream: bool,
    /// For `mid_stream`: how many events go out before the error (message_start,
    /// content_block_start, ping, deltas…).
    pub after_events: u32,
    /// `retry-after` header value, seconds.
    pub retry_after: Option<u64>,
    /// Body shape.
    pub body_mode: BodyMode,
}

impl Default for ErrorInjection {
    fn default() -> Self {
        ErrorInjection {
            path_prefix: "/v1/messages".into(),
            count: 1,
            unlimited: false,
            every_nth: None,
            status: 529,
            error_type: None,
            message: None,
            mid_stream: false,
            after_events: 3,
            retry_after: None,
            body_mode: BodyMode::Json,
        }
    }
}

impl ErrorInjection {
    /// `count` errors with `status` on requests under `path_prefix`, type and message derived
    /// from the status.
    pub fn status(path_prefix: impl Into<String>, status: u16, count: u32) -> Self {
        ErrorInjection { path_prefix: path_prefix.into(), status, count, ..Self::default() }
    }

    /// The `error.type` that goes out.
    pub fn effective_type(&self) -> String {
        self.error_type.clone().unwrap_or_else(|| default_type(self.status).to_string())
    }

    /// The `error.message` that goes out.
    pub fn effective_message(&self) -> String {
        self.message.clone().unwrap_or_else(|| default_message(self.status).to_string())
    }
}

/// The documented `error.type` for a status.
pub fn default_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        500 => "api_error",
        529 => "overloaded_error",
        _ if status >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// A plausible message for a status.
pub fn default_message(status: u16) -> &'static str {
    match status {
        401 => "invalid x-api-key",
        403 => "Your API key does not have permission to use the specified resource.",
        404 => "Not Found",
        413 => "Request exceeds the maximum allowed number of bytes.",
        429 => "Number of requests has exceeded your rate limit. Please try again later.",
        529 => "Overloaded",
        _ if status >= 500 => "Internal server error",
        _ => "Invalid request",
    }
}

/// A rule with its counters.
#[derive(Clone, Debug)]
pub(crate) struct ActiveInjection {
    pub spec: ErrorInjection,
    pub remaining: u32,
    pub seen: u64,
}

/// Finds the rule that fires for this request (and counts it), if any.
pub(crate) fn take(rules: &mut Vec<ActiveInjection>, path: &str, mid_stream: bool) -> Option<ErrorInjection> {
    let mut fired = None;
    for r in rules.iter_mut() {
        if r.spec.mid_stream != mid_stream || !path.starts_with(&r.spec.path_prefix) {
            continue;
        }
        if !r.spec.unlimited && r.remaining == 0 {
            continue;
        }
        r.seen += 1;
        let nth = u64::from(r.spec.every_nth.unwrap_or(1).max(1));
        if fired.is_none() && r.seen % nth == 0 {
            if !r.spec.unlimited {
                r.remaining -= 1;
            }
            fired = Some(r.spec.clone());
        }
    }
    rules.retain(|r| r.spec.unlimited || r.remaining > 0);
    fired
}

pub(crate) fn activate(spec: ErrorInjection) -> ActiveInjection {
    ActiveInjection { remaining: spec.count, seen: 0, spec }
}
