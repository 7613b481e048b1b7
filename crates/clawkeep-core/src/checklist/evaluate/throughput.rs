//! Throughput: 429s and 529s in the gateway's logs (and the "first requests work, later ones
//! fail" pattern), rate-limit headroom from the probes' headers beside the limits configured
//! for the instance's workspace or organisation (Rate Limits API, cached), and throttled probes.

use super::Out;
use crate::anthropic::{Probe, RateLimit};
use crate::checklist::cause::{self, Cause};
use crate::checklist::facts::Facts;
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};
use crate::cost::limits::{self, RateLimitEntry};

/// The throughput checks.
pub fn evaluate(f: &Facts) -> Vec<CheckResult> {
    let mut out = Out::new(f);
    let d = Domain::Throughput;
    let h = f.host();
    let p = &f.gathered.probes;
    match h.and_then(|h| h.logs.as_ref()) {
        Some(l) => {
            let mut ev = vec![
                Evidence::new("429 last hour / day", format!("{} / {}", l.e429_1h, l.e429_24h)),
                Evidence::new("529 last hour / day", format!("{} / {}", l.e529_1h, l.e529_24h)),
                Evidence::new("401 last hour / day", format!("{} / {}", l.e401_1h, l.e401_24h)),
                Evidence::new("log lines (24 h)", l.lines.to_string()),
            ];
            ev.extend(l.sources.iter().take(5).map(|s| Evidence::new("log", s.clone())));
            if l.e429_1h > 0 {
                let st = if l.e429_1h >= 10 { Status::Fail } else { Status::Warn };
                out.bad("throughput.429", st, Cause::RateLimited, format!("{} rate-limit errors (429) in the last hour", l.e429_1h), ev.clone());
                if f.gathered.authed() {
                    let was_green = f.history.iter().any(|r| r.errors_429_1h == 0 && r.first_failing_domain.is_none());
                    let why = if was_green { "earlier checks were green and the key still authenticates" } else { "the key authenticates, yet requests fail with 429" };
                    out.bad("throughput.pattern", Status::Warn, Cause::FailsAfterFirstRequests, format!("first requests work, later ones fail: {why}"), vec![]);
                }
            } else if l.e429_24h > 0 {
                out.bad("throughput.429", Status::Warn, Cause::RateLimited, format!("{} rate-limit errors (429) in the last day, none in the last hour", l.e429_24h), ev.clone());
            } else {
                out.pass("throughput.429", d, "no 429s in the gateway logs (24 h)", ev.clone());
            }
            if l.e529_1h > 0 {
                out.bad("throughput.529", Status::Warn, Cause::Overloaded, format!("{} overloaded errors (529) in the last hour", l.e529_1h), ev);
            } else {
                out.pass("throughput.529", d, "no 529s in the last hour", vec![]);
            }
        }
        None if h.is_some() => out.skip("throughput.429", d, "no gateway logs found"),
        None => out.skip("throughput.429", d, "host facts unavailable"),
    }
    // Rate-limit headroom from the probes' headers, with the configured limits beside them.
    let rl = [&p.count, &p.billing, &p.models, &p.model].into_iter().filter_map(|x| x.as_ref().and_then(|r| r.as_ref().ok())).find(|pr| !pr.rate_limit.is_empty());
    let model = f.gathered.model();
    let configured = configured_for(f, rl, model.as_deref());
    match rl {
        Some(pr) => {
            let r = &pr.rate_limit;
            let mut ev = vec![Evidence::new("from", pr.endpoint.clone())];
            if let (Some(rem), Some(lim)) = (r.requests_remaining, r.requests_limit) {
                ev.push(Evidence::new("requests remaining", format!("{rem} / {lim}")));
            }
            if let (Some(rem), Some(lim)) = (r.tokens_remaining, r.tokens_limit) {
                ev.push(Evidence::new("tokens remaining", format!("{rem} / {lim}")));
            }
            ev.extend(configured_evidence(&configured));
            match r.min_headroom() {
                Some(h) if h < 0.1 => {
                    out.bad("throughput.headroom", Status::Warn, Cause::LowHeadroom, format!("{:.0}% of a rate limit left", h * 100.0), ev);
                }
                _ => out.pass("throughput.headroom", d, "rate-limit headroom ok", ev),
            }
        }
        None => out.skip("throughput.headroom", d, "no rate-limit headers on the probes"),
    }
    let errors_429 = h.and_then(|h| h.logs.as_ref()).map_or(0, |l| l.e429_1h.max(l.e429_24h));
    configured_check(f, &mut out, rl, &configured, errors_429);
    // A probe itself throttled or overloaded.
    for pr in [&p.models, &p.model].into_iter().filter_map(|x| x.as_ref().and_then(|r| r.as_ref().ok())) {
        if let Some(c @ (Cause::RateLimited | Cause::Overloaded | Cause::ServerError)) = cause::classify(pr) {
            out.probe_failure("throughput.probe", pr, c, format!("{}: HTTP {}", pr.endpoint, pr.status));
        }
    }
    out.checks
}

/// Which rate-limit group a probe's headers describe: token counting has its own; every other
/// probe is the Messages API's model group.
fn group_of_probe(endpoint: &str) -> &'static str {
    if endpoint.contains("count_tokens") {
        "token_count"
    } else {
        "model_group"
    }
}

/// The configured limits that apply to the instance for the probed group (the model group
/// without a probe): its workspace's (the instance's expected one, else its key's), else the
/// organisation's; the model group is the one listing the configured model.
fn configured_for<'a>(f: &Facts<'a>, probe: Option<&Probe>, model: Option<&str>) -> Vec<&'a RateLimitEntry> {
    let ws = f.instance.expected_workspace_id.as_deref().or_else(|| f.active_key().and_then(|k| k.workspace_id.as_deref()));
    let group = probe.map_or("model_group", |p| group_of_probe(&p.endpoint));
    limits::applicable(f.rate_limits, ws, group, model)
}

fn configured_evidence(configured: &[&RateLimitEntry]) -> Vec<Evidence> {
    let mut ev: Vec<Evidence> = configured.iter().map(|e| Evidence::new(format!("configured {} ({})", e.limiter, e.group_label()), e.describe())).collect();
    if let Some(at) = configured.iter().map(|e| e.fetched_at).min() {
        ev.push(Evidence::new("configured limits read", at.format("%Y-%m-%d %H:%M UTC").to_string()));
    }
    ev
}

/// The header limits a probe reported, by the configured limiter they correspond to.
fn header_limits(r: &RateLimit) -> [(&'static str, Option<u64>); 4] {
    [
        ("requests_per_minute", r.requests_limit),
        ("input_tokens_per_minute", r.input_tokens_limit),
        ("output_tokens_per_minute", r.output_tokens_limit),
        ("tokens_per_minute", r.tokens_limit),
    ]
}

/// `throughput.configured`: the configured limits against what the API enforced on the probe
/// (a lower header limit is said), and against the gateway's 429s (a small configured limit is
/// said). Nothing when no configured limit is cached (no Admin key, or never read).
fn configured_check(f: &Facts, out: &mut Out, probe: Option<&Probe>, configured: &[&RateLimitEntry], errors_429: u32) {
    let d = Domain::Throughput;
    if f.rate_limits.is_empty() {
        return;
    }
    if configured.is_empty() {
        out.skip("throughput.configured", d, "no configured rate limit matched: the instance's model is unknown or in no group the Rate Limits API listed");
        return;
    }
    let mut ev = configured_evidence(configured);
    if let Some(pr) = probe {
        let below: Vec<(u64, &RateLimitEntry)> = header_limits(&pr.rate_limit)
            .into_iter()
            .filter_map(|(limiter, h)| Some((h?, *configured.iter().find(|e| e.limiter == limiter)?)))
            .filter(|(h, e)| *h < e.value)
            .collect();
        if let Some((h, e)) = below.first() {
            ev.insert(0, Evidence::new("from", pr.endpoint.clone()));
            for (h, e) in &below {
                ev.push(Evidence::new(format!("enforced {}", e.limiter), h.to_string()));
            }
            let summary = format!("the API enforces {h} {} on {}, below the configured {}", e.limiter, pr.endpoint, e.describe());
            out.bad("throughput.configured", Status::Warn, Cause::LimitBelowConfigured, summary, ev);
            return;
        }
    }
    let small = configured.iter().find(|e| e.tighter_than_org()).or_else(|| configured.iter().find(|e| e.limiter == "requests_per_minute" && e.value <= limits::SMALL_RPM));
    match small {
        Some(e) if errors_429 > 0 => {
            let whose = if e.tighter_than_org() { "a workspace override below the organisation's limit" } else { "a small limit" };
            let summary = format!("{errors_429} rate-limit errors (429) while the configured limit is {whose}: {}", e.describe());
            out.bad("throughput.configured", Status::Warn, Cause::ConfiguredLimitLow, summary, ev);
        }
        _ => {
            let rpm = configured.iter().find(|e| e.limiter == "requests_per_minute").or(configured.first());
            let summary = rpm.map_or_else(|| "configured rate limits read".to_string(), |e| format!("configured limit: {}", e.describe()));
            out.pass("throughput.configured", d, summary, ev);
        }
    }
}
