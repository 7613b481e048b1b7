//! Protocol: `openclaw.json` (clobbered copies, the last-good copy's key, meta, `api`, base URL, stability-first
//! instances) and what the model and `count_tokens` probes say of the request.

use super::{sighting, Out};
use crate::checklist::cause::{self, Cause};
use crate::checklist::config::{self, BaseUrlVerdict};
use crate::checklist::facts::{Facts, Probes};
use crate::checklist::hostfacts::{HostFacts, KeySighting, KeySource};
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};

/// The protocol checks (a throttled `count_tokens` adds `throughput.probe` here, in order).
pub fn evaluate(f: &Facts) -> Vec<CheckResult> {
    let mut out = Out::new(f);
    let model = f.gathered.model();
    config_checks(f, &mut out);
    api_checks(&f.gathered.probes, model.as_deref(), &mut out);
    out.checks
}

/// `protocol.last-good`: `openclaw.json.last-good`, which OpenClaw restores when it rejects the
/// live config, holds no key other than the instance's current one.
fn last_good(f: &Facts, h: &HostFacts, out: &mut Out) {
    let Some(active) = f.active_key() else { return };
    let stale: Vec<&KeySighting> = h.keys.iter().filter(|k| k.source == KeySource::LastGood && k.fingerprint != active.fingerprint).collect();
    if stale.is_empty() {
        return out.pass("protocol.last-good", Domain::Protocol, "OpenClaw's last-good config holds no other key", vec![]);
    }
    let ev = stale
        .iter()
        .map(|k| {
            let known = f.keys.iter().find(|x| x.fingerprint == k.fingerprint).map(|x| format!(" = key '{}'", x.name)).unwrap_or_default();
            Evidence::new("openclaw.json.last-good", format!("{}{known}", sighting(k)))
        })
        .collect();
    out.bad("protocol.last-good", Status::Warn, Cause::StaleLastGood, "OpenClaw's last-good config still holds an older key: a config restore would bring it back", ev);
}

fn config_checks(f: &Facts, out: &mut Out) {
    let d = Domain::Protocol;
    let stability = f.instance.tags.iter().any(|t| t == "stability-first");
    let Some(h) = f.host() else {
        return out.skip("protocol.config", d, "host facts unavailable");
    };
    let version = h.openclaw_version.as_deref().and_then(config::parse_version);
    if !h.clobbered.is_empty() {
        out.bad(
            "protocol.clobbered",
            Status::Warn,
            Cause::ConfigClobbered,
            format!("{} clobbered config file(s): OpenClaw restored an older config", h.clobbered.len()),
            h.clobbered.iter().take(5).map(|c| Evidence::new("file", c.clone())).collect(),
        );
    } else {
        out.pass("protocol.clobbered", d, "no openclaw.json.clobbered.* files", vec![]);
    }
    last_good(f, h, out);
    let c = match &f.gathered.config {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            out.bad("protocol.config", Status::Fail, Cause::ConfigUnreadable, "openclaw.json could not be parsed", vec![Evidence::new("error", e.clone())]);
            return;
        }
        None => return,
    };
    let mut ev = vec![Evidence::new("openclaw", h.openclaw_version.clone().unwrap_or_else(|| "not found on PATH".into()))];
    if let Some(m) = &c.primary_model {
        ev.push(Evidence::new("model", m.clone()));
    }
    if !c.has_meta {
        out.bad("protocol.config", Status::Warn, Cause::ConfigMissingMeta, "openclaw.json parses but has no meta object", ev);
    } else {
        out.pass("protocol.config", d, "openclaw.json parses", ev);
    }
    // api and base URL
    let base = c.base_url.as_deref();
    let overridden = base.is_some_and(|b| b.trim_end_matches('/') != config::DEFAULT_ANTHROPIC_BASE);
    let api_ev = vec![
        Evidence::new("baseUrl", base.unwrap_or("(default https://api.anthropic.com)").to_string()),
        Evidence::new("api", c.api.clone().unwrap_or_else(|| "(not set)".into())),
    ];
    match c.api.as_deref() {
        Some("anthropic-messages") => out.pass("protocol.api", d, "api is anthropic-messages", api_ev),
        None if !overridden => out.pass("protocol.api", d, "built-in provider, default endpoint", api_ev),
        other => {
            let what = other.map(|s| format!("api is '{s}'")).unwrap_or_else(|| "api is not set".into());
            out.bad("protocol.api", Status::Fail, Cause::WrongApi, format!("{what} with an overridden baseUrl: OpenClaw sends OpenAI-shaped requests"), api_ev);
        }
    }
    match base {
        None => out.pass("protocol.base-url", d, "default base URL", vec![]),
        Some(b) => match config::check_base_url(b, version) {
            BaseUrlVerdict::Ok => out.pass("protocol.base-url", d, "base URL has the root form", vec![Evidence::new("baseUrl", b)]),
            BaseUrlVerdict::VersionDependent(why) => {
                out.bad("protocol.base-url", Status::Warn, Cause::BaseUrlV1VersionDependent, why, vec![Evidence::new("baseUrl", b)]);
            }
            BaseUrlVerdict::Invalid(why) => {
                out.bad("protocol.base-url", Status::Fail, Cause::BaseUrlInvalid, why, vec![Evidence::new("baseUrl", b)]);
            }
        },
    }
    // stability-first: no beta headers, no reasoning params
    if stability {
        let mut ev: Vec<Evidence> = c.beta_headers.iter().map(|b| Evidence::new("beta header", b.clone())).collect();
        ev.extend(c.reasoning_params.iter().map(|r| Evidence::new("reasoning parameter", r.clone())));
        if ev.is_empty() {
            out.pass("protocol.stability", d, "no beta headers or reasoning parameters (stability-first)", vec![]);
        } else {
            out.bad("protocol.stability", Status::Warn, Cause::UnstableFeatures, "beta headers or reasoning parameters on a stability-first instance", ev);
        }
    }
}

fn api_checks(p: &Probes, model: Option<&str>, out: &mut Out) {
    let d = Domain::Protocol;
    match (&p.model, model) {
        (Some(Ok(m)), Some(id)) if m.ok() => out.pass("protocol.model", d, format!("model {id} exists"), vec![Evidence::new("response", m.describe())]),
        (Some(Ok(m)), Some(id)) => {
            let c = cause::classify(m).unwrap_or(Cause::ModelNotFound);
            let c = if c == Cause::BaseUrlInvalid { Cause::ModelNotFound } else { c };
            if c.domain() == d {
                out.probe_failure("protocol.model", m, c, format!("model {id}: {}", m.message()));
            } else {
                out.skip("protocol.model", d, format!("model lookup failed for another reason ({})", c.code()));
            }
        }
        (Some(Err(e)), _) => out.push("protocol.model", d, Status::Warn, "model lookup could not run", vec![Evidence::new("error", e.clone())], None).status = Status::Warn,
        (_, None) => out.skip("protocol.model", d, "no anthropic/… model configured"),
        (None, _) => out.skip("protocol.model", d, "not probed (the key did not authenticate)"),
    }
    match &p.count {
        Some(Ok(c)) if c.ok() => out.pass("protocol.request-shape", d, "count_tokens accepts the request with the configured model", vec![Evidence::new("response", c.describe())]),
        Some(Ok(c)) => {
            let cause = cause::classify(c).unwrap_or(Cause::RequestRejected);
            if cause.domain() == d && !(cause == Cause::ModelNotFound && matches!(&p.model, Some(Ok(m)) if !m.ok())) {
                out.probe_failure("protocol.request-shape", c, cause, "count_tokens rejected the request");
            } else if cause.domain() == d {
                out.skip("protocol.request-shape", d, "count_tokens failed on the model id (see protocol.model)");
            } else if cause.domain() == Domain::Throughput {
                out.probe_failure("throughput.probe", c, cause, format!("count_tokens: HTTP {}", c.status));
            } else {
                out.skip("protocol.request-shape", d, format!("count_tokens failed for another reason ({})", cause.code()));
            }
        }
        Some(Err(e)) => out.push("protocol.request-shape", d, Status::Warn, "count_tokens could not run", vec![Evidence::new("error", e.clone())], None).status = Status::Warn,
        None => out.skip("protocol.request-shape", d, "not probed (the key did not authenticate)"),
    }
}
