//! Token-bucket rate limiting (F3): continuous refill at `limit/60` per second, buckets per
//! (org, model class) and per (workspace, model class) when the workspace has its own limits,
//! a separate requests bucket for `count_tokens`, an Admin API bucket, and the
//! `anthropic-ratelimit-*` headers.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, SecondsFormat, Utc};

use crate::state::{Limits, State, Workspace};

/// One bucket's level.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    level: f64,
    last: DateTime<Utc>,
}

impl Bucket {
    fn refill(&mut self, now: DateTime<Utc>, cap: f64, per_sec: f64) {
        let dt = (now - self.last).num_milliseconds().max(0) as f64 / 1000.0;
        self.level = (self.level + dt * per_sec).min(cap);
        self.last = now;
    }
}

/// All buckets, keyed by `scope|class|kind`.
#[derive(Debug, Default)]
pub(crate) struct Buckets {
    map: HashMap<String, Bucket>,
    /// Request timestamps per org, for the acceleration knob.
    recent: VecDeque<DateTime<Utc>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Requests,
    Input,
    Output,
}

impl Kind {
    fn unit(self) -> &'static str {
        match self {
            Kind::Requests => "requests",
            Kind::Input => "input tokens",
            Kind::Output => "output tokens",
        }
    }
    fn tag(self) -> &'static str {
        match self {
            Kind::Requests => "req",
            Kind::Input => "in",
            Kind::Output => "out",
        }
    }
    fn limit(self, l: &Limits) -> u64 {
        match self {
            Kind::Requests => l.rpm,
            Kind::Input => l.itpm,
            Kind::Output => l.otpm,
        }
    }
}

/// A bucket's view after a check, for headers.
#[derive(Clone, Copy, Debug)]
struct View {
    limit: u64,
    level: f64,
    now: DateTime<Utc>,
}

impl View {
    fn reset(&self) -> DateTime<Utc> {
        let per_sec = self.limit as f64 / 60.0;
        if per_sec <= 0.0 {
            return self.now;
        }
        let secs = ((self.limit as f64 - self.level).max(0.0) / per_sec).ceil();
        self.now.checked_add_signed(Duration::seconds(secs.min(1e9) as i64)).unwrap_or(self.now)
    }
}

/// A denial: message, `retry-after` seconds, and headers.
#[derive(Debug)]
pub(crate) struct Denied {
    pub message: String,
    pub retry_after: u64,
    pub headers: Vec<(String, String)>,
}

/// A grant: headers to emit, and what to refund later.
#[derive(Debug, Default)]
pub(crate) struct Granted {
    pub headers: Vec<(String, String)>,
    output_keys: Vec<(String, f64, f64)>,
    reserved_output: f64,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn round_thousand(x: f64) -> u64 {
    let x = x.max(0.0).floor() as u64;
    ((x + 500) / 1000) * 1000
}

fn push_headers(out: &mut Vec<(String, String)>, name: &str, v: &View, round: bool) {
    let remaining = if round { round_thousand(v.level) } else { v.level.max(0.0).floor() as u64 };
    out.push((format!("anthropic-ratelimit-{name}-limit"), v.limit.to_string()));
    out.push((format!("anthropic-ratelimit-{name}-remaining"), remaining.to_string()));
    out.push((format!("anthropic-ratelimit-{name}-reset"), rfc3339(v.reset())));
}

struct Scope<'a> {
    key: String,
    limits: Limits,
    label: &'a str,
}

fn scopes<'a>(state: &'a State, ws: Option<&'a Workspace>, label_org: &'a str) -> Vec<Scope<'a>> {
    let mut v = vec![Scope { key: format!("org:{}", state.org.id), limits: state.org.effective_limits(), label: label_org }];
    if let Some(w) = ws {
        if let Some(l) = w.rate_limits {
            v.push(Scope { key: format!("ws:{}", w.id), limits: l, label: "workspace" });
        }
    }
    v
}

impl Buckets {
    fn bucket(&mut self, key: &str, cap: f64, per_sec: f64, now: DateTime<Utc>) -> &mut Bucket {
        let b = self.map.entry(key.to_string()).or_insert(Bucket { level: cap, last: now });
        b.refill(now, cap, per_sec);
        b
    }

    /// Clears every bucket (reset).
    pub fn clear(&mut self) {
        self.map.clear();
        self.recent.clear();
    }

    /// Checks and deducts a Messages request: 1 request, `input` tokens, and `max_output`
    /// tokens reserved up front (capped at the limit so a `max_tokens` larger than the OTPM
    /// limit still passes on a full bucket [ASSUME]).
    pub fn check_messages(&mut self, state: &State, ws: Option<&Workspace>, class: &str, input: u64, max_output: u64) -> Result<Granted, Denied> {
        let now = state.now();
        if let Some(msg) = self.acceleration(state, now) {
            return Err(Denied { message: msg, retry_after: 10, headers: Vec::new() });
        }
        let scopes = scopes(state, ws, "organization");
        let kinds = [(Kind::Requests, 1.0), (Kind::Input, input as f64), (Kind::Output, max_output as f64)];
        // Refill and check every bucket first; deduct only if all pass.
        let mut views: Vec<(Kind, String, View, f64)> = Vec::new();
        let mut denial: Option<(Kind, u64, f64, &str)> = None;
        for (kind, amount) in kinds {
            for s in &scopes {
                let limit = kind.limit(&s.limits);
                let cap = limit as f64;
                let key = format!("{}|{}|{}", s.key, class, kind.tag());
                let b = self.bucket(&key, cap, cap / 60.0, now);
                let need = amount.min(cap);
                if b.level + 1e-9 < need {
                    let wait = if cap > 0.0 { ((need - b.level) / (cap / 60.0)).ceil() } else { 60.0 };
                    let worse = denial.is_none_or(|(_, _, w, _)| wait > w);
                    if worse {
                        denial = Some((kind, limit, wait, s.label));
                    }
                }
                views.push((kind, key, View { limit, level: b.level, now }, need));
            }
        }
        if let Some((kind, limit, wait, label)) = denial {
            let headers = headers_for(&views, true);
            let who = if label == "workspace" { format!("this workspace in your organization ({})", state.org.id) } else { format!("your organization ({})", state.org.id) };
            let message = format!(
                "This request would exceed the rate limit for {who} of {limit} {} per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the response headers for current usage. Please reduce the prompt length or the maximum tokens requested, or try again later. You may also contact sales at https://www.anthropic.com/contact-sales to discuss your options for a rate limit increase.",
                kind.unit()
            );
            return Err(Denied { message, retry_after: (wait as u64).max(1), headers });
        }
        let mut granted = Granted::default();
        for (kind, key, view, need) in views.iter_mut() {
            if let Some(b) = self.map.get_mut(key.as_str()) {
                b.level -= *need;
                view.level = b.level;
            }
            if *kind == Kind::Output {
                granted.output_keys.push((key.clone(), *need, view.limit as f64));
                granted.reserved_output = granted.reserved_output.max(*need);
            }
        }
        granted.headers = headers_for(&views, true);
        self.recent.push_back(now);
        Ok(granted)
    }

    /// Refunds reserved output tokens not used.
    pub fn refund_output(&mut self, granted: &Granted, used: u64) {
        for (key, reserved, cap) in &granted.output_keys {
            if let Some(b) = self.map.get_mut(key.as_str()) {
                let back = (reserved - used as f64).max(0.0);
                b.level = (b.level + back).min(*cap);
            }
        }
    }

    /// `count_tokens`: its own requests-per-minute bucket per org.
    pub fn check_count_tokens(&mut self, state: &State) -> Result<Vec<(String, String)>, Denied> {
        let now = state.now();
        let limit = state.org.effective_limits().count_tokens_rpm;
        let cap = limit as f64;
        let key = format!("org:{}|count_tokens|req", state.org.id);
        let b = self.bucket(&key, cap, cap / 60.0, now);
        let ok = b.level + 1e-9 >= 1.0;
        if ok {
            b.level -= 1.0;
        }
        let view = View { limit, level: b.level, now };
        let mut headers = Vec::new();
        push_headers(&mut headers, "requests", &view, false);
        if ok {
            Ok(headers)
        } else {
            let wait = if cap > 0.0 { ((1.0 - view.level) / (cap / 60.0)).ceil().max(1.0) } else { 60.0 };
            Err(Denied {
                message: format!(
                    "This request would exceed the rate limit for your organization ({}) of {limit} token counting requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.",
                    state.org.id
                ),
                retry_after: wait as u64,
                headers,
            })
        }
    }

    /// Admin API bucket (knob `admin_rate_limit`); `Err(retry_after)` when empty.
    pub fn check_admin(&mut self, state: &State) -> Result<(), u64> {
        let Some(cfg) = state.knobs.admin_rate_limit else { return Ok(()) };
        let now = state.now();
        let b = self.bucket("admin", cfg.burst.max(1.0), cfg.per_second.max(0.0), now);
        if b.level + 1e-9 >= 1.0 {
            b.level -= 1.0;
            Ok(())
        } else if cfg.per_second > 0.0 {
            Err((((1.0 - b.level) / cfg.per_second).ceil() as u64).max(1))
        } else {
            Err(60)
        }
    }

    fn acceleration(&mut self, state: &State, now: DateTime<Utc>) -> Option<String> {
        let cfg = state.knobs.acceleration?;
        let w = Duration::seconds(cfg.window_secs.clamp(1, 86_400) as i64);
        while self.recent.front().is_some_and(|t| *t < now - w - w) || self.recent.len() > 100_000 {
            self.recent.pop_front();
        }
        let current = self.recent.iter().filter(|t| **t >= now - w).count() as f64 + 1.0;
        let previous = self.recent.iter().filter(|t| **t < now - w).count() as f64;
        if current > cfg.min_requests as f64 && current > previous * cfg.factor {
            Some("Your organization's usage is increasing too quickly (acceleration limit). Please ramp up your traffic gradually. For details, refer to: https://docs.claude.com/en/api/rate-limits.".into())
        } else {
            None
        }
    }
}

/// Headers from the binding (lowest) view of each kind; `tokens-*` is the more restrictive of
/// input and output (lower remaining fraction).
fn headers_for(views: &[(Kind, String, View, f64)], round: bool) -> Vec<(String, String)> {
    let pick = |k: Kind| -> Option<View> {
        views.iter().filter(|(kind, ..)| *kind == k).map(|(_, _, v, _)| *v).min_by(|a, b| a.level.partial_cmp(&b.level).unwrap_or(std::cmp::Ordering::Equal))
    };
    let mut out = Vec::new();
    let (Some(r), Some(i), Some(o)) = (pick(Kind::Requests), pick(Kind::Input), pick(Kind::Output)) else {
        return out;
    };
    push_headers(&mut out, "requests", &r, false);
    let frac = |v: &View| if v.limit == 0 { 0.0 } else { v.level / v.limit as f64 };
    let t = if frac(&i) <= frac(&o) { i } else { o };
    push_headers(&mut out, "tokens", &t, round);
    push_headers(&mut out, "input-tokens", &i, round);
    push_headers(&mut out, "output-tokens", &o, round);
    out
}
