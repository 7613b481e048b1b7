//! Throughput: 429s and 529s in the gateway's logs (and the "first requests work, later ones
//! fail" pattern), rate-limit headroom from the probes' headers, and throttled probes.

use super::Out;
use crate::checklist::cause::{self, Cause};
use crate::checklist::facts::Facts;
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};

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
    // Rate-limit headroom from the probes' headers.
    let rl = [&p.count, &p.billing, &p.models, &p.model].into_iter().filter_map(|x| x.as_ref().and_then(|r| r.as_ref().ok())).find(|pr| !pr.rate_limit.is_empty());
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
            match r.min_headroom() {
                Some(h) if h < 0.1 => {
                    out.bad("throughput.headroom", Status::Warn, Cause::LowHeadroom, format!("{:.0}% of a rate limit left", h * 100.0), ev);
                }
                _ => out.pass("throughput.headroom", d, "rate-limit headroom ok", ev),
            }
        }
        None => out.skip("throughput.headroom", d, "no rate-limit headers on the probes"),
    }
    // A probe itself throttled or overloaded.
    for pr in [&p.models, &p.model].into_iter().filter_map(|x| x.as_ref().and_then(|r| r.as_ref().ok())) {
        if let Some(c @ (Cause::RateLimited | Cause::Overloaded | Cause::ServerError)) = cause::classify(pr) {
            out.probe_failure("throughput.probe", pr, c, format!("{}: HTTP {}", pr.endpoint, pr.status));
        }
    }
    out.checks
}
