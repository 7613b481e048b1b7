//! The checklist's judgement: pure functions from [`Facts`] (what was gathered, the inventory,
//! the options; no secret) to [`CheckResult`]s, one module per domain. No I/O, no async: the
//! table tests in `tests.rs` build facts by hand and run without root or network.
//!
//! * [`credential`]: the keychain copy, the host's reachability, which key each agent
//!   resolves and whether it is the instance's current one.
//! * [`account`]: authentication, org/workspace, the Admin API's view, billing, the probe
//!   from the host.
//! * [`protocol`]: `openclaw.json` (api, base URL, meta, clobber, stability), model and request
//!   shape.
//! * [`throughput`]: 429/529 in the gateway logs, rate-limit headroom, throttled probes.
//! * [`boundary`]: keys of other instances on the host.
//! * [`baseline`]: the host baseline (resources, modes, owners, keys in history or
//!   world-readable files).

pub mod account;
pub mod baseline;
pub mod boundary;
pub mod credential;
pub mod protocol;
pub mod throughput;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use super::cause::Cause;
use super::facts::Facts;
use super::hostfacts::KeySighting;
use super::types::{CheckResult, Domain, Evidence, FleetFacts, Status};
use crate::anthropic::Probe;
use crate::model::keyfmt;

/// Every check of one instance, in checklist order (filtered to `opts.domains`), and what it
/// contributes to the fleet view.
pub fn evaluate(f: &Facts) -> (Vec<CheckResult>, FleetFacts) {
    let mut checks = credential::evaluate(f);
    checks.extend(account::evaluate(f));
    checks.extend(protocol::evaluate(f));
    checks.extend(throughput::evaluate(f));
    checks.extend(boundary::evaluate(f));
    checks.extend(baseline::evaluate(f));
    if !f.opts.domains.is_empty() {
        checks.retain(|c| f.opts.domains.contains(&c.domain));
    }
    (checks, fleet_facts(f))
}

/// What one instance contributes to the fleet view: the keys its agents use, the account its
/// key authenticates in, its 429/529 counts.
pub fn fleet_facts(f: &Facts) -> FleetFacts {
    let mut ff = FleetFacts { owner: f.instance.owner.clone(), ..Default::default() };
    if let Some(h) = f.host() {
        ff.host_ok = true;
        ff.host_fingerprints = credential::resolve(f, h).fingerprints();
        if let Some(l) = &h.logs {
            ff.errors_429_1h = l.e429_1h;
            ff.errors_429_24h = l.e429_24h;
            ff.errors_529_1h = l.e529_1h;
        }
    }
    if let Some(Ok(m)) = &f.gathered.probes.models {
        if m.ok() {
            ff.api_ok = true;
            ff.organization_id = m.organization_id.clone();
            ff.workspace_id = m.workspace_id.clone();
        }
    }
    ff
}

fn short(fp: &str) -> String {
    keyfmt::short_fingerprint(fp)
}

fn sighting(k: &KeySighting) -> String {
    format!("{} ({} chars, {})", k.hint, k.length, short(&k.fingerprint))
}

/// How bad a failed probe is: transient server trouble and thin headroom warn; the rest fails.
fn severity(c: Cause) -> Status {
    match c {
        Cause::Overloaded | Cause::ServerError | Cause::LowHeadroom => Status::Warn,
        _ => Status::Fail,
    }
}

/// The results of one domain's checks, in order.
struct Out {
    /// The instance checked (remedies name it).
    instance: String,
    checks: Vec<CheckResult>,
}

impl Out {
    fn new(f: &Facts) -> Out {
        Out { instance: f.instance.name.clone(), checks: Vec::new() }
    }
    fn push(&mut self, id: &str, domain: Domain, status: Status, summary: impl Into<String>, evidence: Vec<Evidence>, cause: Option<Cause>) -> &mut CheckResult {
        self.checks.push(CheckResult {
            id: id.into(),
            domain,
            status,
            summary: summary.into(),
            evidence,
            cause: cause.map(|c| c.code().to_string()),
            fix: cause.map(|c| c.fix().to_string()),
            remedy: cause.and_then(|c| c.remedy(&self.instance)),
            request_id: None,
        });
        self.checks.last_mut().unwrap_or_else(|| unreachable!())
    }
    fn pass(&mut self, id: &str, domain: Domain, summary: impl Into<String>, evidence: Vec<Evidence>) {
        self.push(id, domain, Status::Pass, summary, evidence, None);
    }
    fn skip(&mut self, id: &str, domain: Domain, summary: impl Into<String>) {
        self.push(id, domain, Status::Skip, summary, vec![], None);
    }
    fn bad(&mut self, id: &str, status: Status, cause: Cause, summary: impl Into<String>, evidence: Vec<Evidence>) -> &mut CheckResult {
        self.push(id, cause.domain(), status, summary, evidence, Some(cause))
    }
    fn probe_failure(&mut self, id: &str, p: &Probe, c: Cause, summary: impl Into<String>) {
        let status = severity(c);
        let mut ev = vec![Evidence::new("response", p.describe())];
        if let Some(r) = p.rate_limit.retry_after_secs {
            ev.push(Evidence::new("retry-after", format!("{r} s")));
        }
        let r = self.bad(id, status, c, summary, ev);
        r.request_id = p.request_id.clone();
    }
}

/// The distinct fingerprints of a set of sightings, sorted.
fn fingerprints<'a>(keys: impl IntoIterator<Item = &'a KeySighting>) -> Vec<String> {
    keys.into_iter().map(|k| k.fingerprint.clone()).collect::<BTreeSet<_>>().into_iter().collect()
}
