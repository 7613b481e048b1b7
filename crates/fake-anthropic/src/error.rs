//! Errors: [`ApiError`] is an Anthropic-shaped HTTP error (the JSON envelope with
//! `request_id`), [`FakeError`] is what the library's own API returns.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use serde_json::json;

use crate::inject::BodyMode;

/// An error response in the API's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// `error.type`.
    pub error_type: String,
    /// `error.message`.
    pub message: String,
    /// `retry-after` seconds.
    pub retry_after: Option<u64>,
    /// Extra headers (rate limits on a 429).
    pub headers: Vec<(String, String)>,
    /// Body shape (JSON unless injected otherwise).
    pub body_mode: BodyMode,
}

impl ApiError {
    /// Any status/type/message.
    pub fn new(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        ApiError { status, error_type: error_type.into(), message: message.into(), retry_after: None, headers: Vec::new(), body_mode: BodyMode::Json }
    }
    /// 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }
    /// 401 `authentication_error`.
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(401, "authentication_error", message)
    }
    /// 403 `permission_error`.
    pub fn permission(message: impl Into<String>) -> Self {
        Self::new(403, "permission_error", message)
    }
    /// 404 `not_found_error` with `message`.
    pub fn not_found_msg(message: impl Into<String>) -> Self {
        Self::new(404, "not_found_error", message)
    }
    /// 404 "Not Found" (unknown route).
    pub fn not_found() -> Self {
        Self::not_found_msg("Not Found")
    }
    /// 413 `request_too_large`.
    pub fn too_large() -> Self {
        Self::new(413, "request_too_large", "Request exceeds the maximum allowed number of bytes.")
    }

    /// The SSE/JSON error object without `request_id`.
    pub fn error_object(&self) -> serde_json::Value {
        json!({"type": "error", "error": {"type": self.error_type, "message": self.message}})
    }

    /// Renders the response (the caller adds `request-id` and other headers).
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (ctype, body) = match self.body_mode {
            BodyMode::Json => {
                let v = json!({
                    "type": "error",
                    "error": {"type": self.error_type, "message": self.message},
                    "request_id": request_id,
                });
                ("application/json", v.to_string())
            }
            BodyMode::Html => (
                "text/html",
                format!(
                    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n",
                    code = status.as_u16(),
                    reason = status.canonical_reason().unwrap_or("Error")
                ),
            ),
            BodyMode::Empty => ("", String::new()),
        };
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = status;
        if !ctype.is_empty() {
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        }
        if let Some(s) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        crate::server::add_headers(&mut resp, &self.headers);
        resp
    }
}

/// Errors of the library API.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// The fake only ever listens on loopback (127.0.0.0/8 or ::1).
    #[error("refusing to listen on {0}: the fake API only binds loopback addresses (127.0.0.0/8, ::1)")]
    NonLoopback(std::net::SocketAddr),
    /// Socket or file trouble.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A state file that is not valid JSON state.
    #[error("state file {path}: {source}")]
    StateFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// A request the fake refuses (unknown workspace, bad name, …).
    #[error("{0}")]
    Invalid(String),
    /// The background server thread could not start.
    #[error("the fake's server thread failed to start: {0}")]
    Startup(String),
}
