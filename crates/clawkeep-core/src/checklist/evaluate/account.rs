//! Account context: does the keychain key authenticate, in the expected org and workspace,
//! what the Admin API says of it, billing, and (opt-in) the same probe sent from the host.

use chrono::{DateTime, Utc};

use super::{severity, short, sighting, Out};
use crate::anthropic::Probe;
use crate::checklist::cause::{self, Cause};
use crate::checklist::facts::Facts;
use crate::checklist::hostfacts::HostProbe;
use crate::checklist::types::{CheckResult, Domain, Evidence, Status};
use crate::model::keyfmt::KeyKind;

/// The account-context checks.
pub fn evaluate(f: &Facts) -> Vec<CheckResult> {
    let mut out = Out::new(f);
    auth(f, &mut out);
    admin(f, &mut out);
    rotation_due(f, &mut out);
    expiry(f, &mut out);
    budget(f, &mut out);
    billing(f, &mut out);
    if f.opts.host_probe && !f.opts.skip_api {
        from_host(f, &mut out);
    }
    out.checks
}

/// `account.auth` (does the keychain key authenticate) and, when it does, `account.workspace`.
fn auth(f: &Facts, out: &mut Out) {
    let d = Domain::AccountContext;
    match &f.gathered.probes.models {
        None if f.opts.skip_api => out.skip("account.auth", d, "API not checked (--no-api)"),
        None => out.skip("account.auth", d, "no keychain key to probe with"),
        Some(Err(e)) => {
            out.bad("account.auth", Status::Fail, Cause::ApiUnreachable, "the API could not be reached", vec![Evidence::new("error", e.clone())]);
        }
        Some(Ok(m)) if m.ok() => {
            out.pass(
                "account.auth",
                d,
                "the keychain key authenticates",
                vec![
                    Evidence::new("response", m.describe()),
                    Evidence::new("organization", m.organization_id.clone().unwrap_or_else(|| "(header absent)".into())),
                    Evidence::new("workspace", m.workspace_id.clone().unwrap_or_else(|| "(header absent)".into())),
                ],
            );
            workspace(f, m, out);
        }
        Some(Ok(m)) => auth_failure(f, m, out),
    }
}

/// `account.workspace`: the org and workspace the key authenticated in, against the instance's
/// expectations.
fn workspace(f: &Facts, m: &Probe, out: &mut Out) {
    let d = Domain::AccountContext;
    let inst = f.instance;
    let mut ev = vec![];
    let mut bad = None;
    if let Some(exp) = &inst.expected_org_id {
        ev.push(Evidence::new("expected org", exp.clone()));
        if m.organization_id.as_deref().is_some_and(|o| o != exp) {
            bad = Some(Cause::OrgMismatch);
        }
    }
    let exp_ws = inst.expected_workspace_id.clone().or_else(|| f.active_key().and_then(|k| k.workspace_id.clone()));
    if let Some(exp) = &exp_ws {
        ev.push(Evidence::new("expected workspace", exp.clone()));
        if m.workspace_id.as_deref().is_some_and(|w| w != exp) && bad.is_none() {
            bad = Some(Cause::WorkspaceMismatch);
        }
    }
    ev.push(Evidence::new("actual org", m.organization_id.clone().unwrap_or_default()));
    ev.push(Evidence::new("actual workspace", m.workspace_id.clone().unwrap_or_default()));
    match bad {
        Some(c) => {
            let r = out.bad("account.workspace", Status::Fail, c, "the key resolves to a different org/workspace than expected", ev);
            r.request_id = m.request_id.clone();
        }
        None if inst.expected_org_id.is_none() && exp_ws.is_none() => {
            out.skip("account.workspace", d, "no expected org or workspace set on the instance (--org-id / --workspace-id)")
        }
        None => out.pass("account.workspace", d, "org and workspace as expected", ev),
    }
}

/// `account.auth` when the models probe failed: the most precise cause (the Admin API's view,
/// the stored key's kind).
fn auth_failure(f: &Facts, m: &Probe, out: &mut Out) {
    let p = &f.gathered.probes;
    let c = cause::classify(m).unwrap_or(Cause::KeyInvalid);
    // A 401 with the Admin API's view is more precise.
    let c = match (c, &p.admin) {
        (Cause::KeyInvalid, Some(Ok((_, Some(k))))) => match k.status.as_str() {
            "inactive" => Cause::KeyInactive,
            "expired" => Cause::KeyExpired,
            "archived" => Cause::KeyArchived,
            _ => c,
        },
        _ => c,
    };
    let c = match (c, f.active_key().map(|k| k.kind)) {
        (Cause::KeyInvalid, Some(KeyKind::Oauth)) => Cause::OauthTokenAsKey,
        (Cause::KeyInvalid, Some(KeyKind::Admin)) => Cause::AdminKeyAsKey,
        (c, _) => c,
    };
    let summary = match c {
        Cause::KeyInvalid => "Anthropic rejects the key (401: invalid, revoked, inactive or expired)".to_string(),
        Cause::KeyInactive => "the key is inactive (401)".into(),
        Cause::KeyExpired => "the key has expired (401)".into(),
        Cause::KeyArchived => "the key is archived (401)".into(),
        Cause::WorkspaceHeaderRequired => "identity-linked key without an anthropic-workspace-id header (400)".into(),
        other => format!("the models probe failed: {}", other.code()),
    };
    out.probe_failure("account.auth", m, c, summary);
}

/// `account.admin`: the Admin API's view of the key (status, expiry, workspace).
fn admin(f: &Facts, out: &mut Out) {
    let d = Domain::AccountContext;
    let p = &f.gathered.probes;
    match &p.admin {
        None if !f.gathered.keychain.admin => out.skip("account.admin", d, "no admin key stored (add one to see key status and expiry)"),
        None => out.skip("account.admin", d, "no active key to look up"),
        Some(Err(e)) => {
            out.push("account.admin", d, Status::Warn, "the Admin API could not be reached", vec![Evidence::new("error", e.clone())], None);
        }
        Some(Ok((probe, None))) if !probe.ok() => {
            let r = out.push("account.admin", d, Status::Warn, "the Admin API refused the lookup", vec![Evidence::new("response", probe.describe())], None);
            r.request_id = probe.request_id.clone();
        }
        Some(Ok((_, None))) => {
            out.push("account.admin", d, Status::Warn, "the key was not found in the organization's key list (set its apikey_ id)", vec![], None).status = Status::Warn
        }
        Some(Ok((_, Some(k)))) => {
            let mut ev = vec![Evidence::new("key id", k.id.clone()), Evidence::new("status", k.status.clone())];
            if let Some(w) = &k.workspace_id {
                ev.push(Evidence::new("workspace", w.clone()));
            }
            let exp = k.expires_at.as_deref().and_then(|e| DateTime::parse_from_rfc3339(e).ok()).map(|d| d.with_timezone(&Utc));
            if let Some(e) = exp {
                ev.push(Evidence::new("expires", e.to_rfc3339()));
            }
            let exp_ws = f.instance.expected_workspace_id.as_deref();
            if k.status != "active" {
                let c = match k.status.as_str() {
                    "inactive" => Cause::KeyInactive,
                    "expired" => Cause::KeyExpired,
                    "archived" => Cause::KeyArchived,
                    _ => Cause::KeyInvalid,
                };
                out.bad("account.admin", Status::Fail, c, format!("the Admin API reports the key as {}", k.status), ev);
            } else if let Some(e) = exp.filter(|e| *e - f.now < chrono::Duration::days(14)) {
                let days = (e - f.now).num_days();
                out.bad("account.admin", Status::Warn, Cause::KeyExpiringSoon, format!("the key expires in {days} day(s)"), ev);
            } else if let (Some(w), Some(x)) = (k.workspace_id.as_deref(), exp_ws) {
                if w != x {
                    out.bad("account.admin", Status::Fail, Cause::WorkspaceMismatch, "the Admin API places the key in another workspace", ev);
                } else {
                    out.pass("account.admin", d, "the key is active, not expiring soon, in the expected workspace", ev);
                }
            } else {
                out.pass("account.admin", d, "the key is active and not expiring soon", ev);
            }
        }
    }
}

/// `account.rotation-due`: the active key against its rotation policy (from the inventory; no
/// API needed). Overdue is a warning (the key still works), never a failure.
fn rotation_due(f: &Facts, out: &mut Out) {
    let Some(r) = f.rotation_due else { return };
    let ev = vec![Evidence::new("due", r.due.format("%Y-%m-%d").to_string()), Evidence::new("policy", format!("{}: at most {} days ({})", r.policy, r.max_age_days, r.basis))];
    if f.now >= r.due {
        let days = (f.now - r.due).num_days();
        out.bad("account.rotation-due", Status::Warn, Cause::KeyOverdue, format!("the key is {days} day(s) past its rotation date"), ev);
    } else {
        let days = (r.due - f.now).num_days();
        out.pass("account.rotation-due", Domain::AccountContext, format!("the key is due for rotation in {days} day(s)"), ev);
    }
}

/// How long before a key's expiry the checklist warns.
const EXPIRY_WARN_DAYS: i64 = 14;

/// `account.expiry`: the active key's `expires_at` as the inventory holds it (set by hand or
/// synced from the Admin API's key list), for runs where the Admin API did not answer for the
/// key itself (`account.admin` judges its live record). Warns before the key expires.
fn expiry(f: &Facts, out: &mut Out) {
    let Some(exp) = f.active_key().and_then(|k| k.expires_at) else { return };
    if matches!(&f.gathered.probes.admin, Some(Ok((_, Some(_))))) {
        return;
    }
    let ev = vec![Evidence::new("expires", exp.to_rfc3339()), Evidence::new("source", "inventory")];
    if exp <= f.now {
        out.bad("account.expiry", Status::Fail, Cause::KeyExpired, format!("the key expired on {}", exp.format("%Y-%m-%d")), ev);
    } else if exp - f.now < chrono::Duration::days(EXPIRY_WARN_DAYS) {
        let days = (exp - f.now).num_days();
        out.bad("account.expiry", Status::Warn, Cause::KeyExpiringSoon, format!("the key expires in {days} day(s)"), ev);
    } else {
        out.pass("account.expiry", Domain::AccountContext, format!("the key expires in {} days", (exp - f.now).num_days()), ev);
    }
}

/// `account.budget`: this month's spend against the budgets that cover the instance (its own
/// and its owner's), from the cost cache. The most severe decides; over, forecast over and a
/// crossed threshold are warnings (the key still works), never failures.
fn budget(f: &Facts, out: &mut Out) {
    use crate::cost::budget::BudgetState;
    let Some(worst) = f.budgets.iter().max_by_key(|b| b.state) else { return };
    let ev: Vec<Evidence> = f
        .budgets
        .iter()
        .map(|b| {
            let mut v = format!("${:.2} of ${:.2} spent in {} ({:.0}%), forecast ${:.2}", b.spent_usd, b.budget.monthly_usd, b.month, b.percent, b.forecast_usd);
            if !b.unpriced_models.is_empty() {
                v.push_str(&format!("; not priced: {}", b.unpriced_models.join(", ")));
            }
            Evidence::new(format!("budget ({} {})", b.budget.scope.as_str(), b.budget.name), v)
        })
        .collect();
    let whose = format!("the {} budget of {}", worst.budget.scope.as_str(), worst.budget.name);
    match worst.state {
        BudgetState::Over => {
            let summary = format!("{whose} is over: ${:.2} of ${:.2} this month", worst.spent_usd, worst.budget.monthly_usd);
            out.bad("account.budget", Status::Warn, Cause::BudgetOver, summary, ev);
        }
        BudgetState::ForecastOver => {
            let summary = format!("{whose} is forecast over: ${:.2} of ${:.2} at this month's run rate", worst.forecast_usd, worst.budget.monthly_usd);
            out.bad("account.budget", Status::Warn, Cause::BudgetForecastOver, summary, ev);
        }
        BudgetState::Warn => {
            let summary = format!("{whose} is at {:.0}% (warns at {}%)", worst.percent, worst.crossed.unwrap_or_default());
            out.bad("account.budget", Status::Warn, Cause::BudgetThreshold, summary, ev);
        }
        BudgetState::Ok => out.pass("account.budget", Domain::AccountContext, format!("within budget this month ({:.0}% of {whose})", worst.percent), ev),
    }
}

/// `account.billing`: the opt-in probe, or what the free probes revealed.
fn billing(f: &Facts, out: &mut Out) {
    let d = Domain::AccountContext;
    let p = &f.gathered.probes;
    let billing_cause = |p: &Option<Result<Probe, String>>| -> Option<(Cause, Probe)> {
        match p {
            Some(Ok(pr)) => match cause::classify(pr) {
                Some(c @ (Cause::CreditTooLow | Cause::OrgDisabled)) => Some((c, pr.clone())),
                _ => None,
            },
            _ => None,
        }
    };
    let found = billing_cause(&p.models).or_else(|| billing_cause(&p.count)).or_else(|| billing_cause(&p.billing)).or_else(|| billing_cause(&p.model));
    match (found, &p.billing) {
        (Some((c, pr)), _) => {
            if !(matches!(&p.models, Some(Ok(m)) if cause::classify(m) == Some(c))) {
                let s = if c == Cause::CreditTooLow { "credit balance too low" } else { "the organization is disabled" };
                out.probe_failure("account.billing", &pr, c, s);
            }
        }
        (None, Some(Ok(b))) if b.ok() => out.pass("account.billing", d, "billing probe (max_tokens 1) succeeded", vec![Evidence::new("response", b.describe())]),
        (None, Some(Ok(b))) => {
            out.push("account.billing", d, Status::Skip, "billing probe did not reach billing", vec![Evidence::new("response", b.describe())], None).request_id =
                b.request_id.clone()
        }
        (None, Some(Err(e))) => out.push("account.billing", d, Status::Warn, "billing probe failed to run", vec![Evidence::new("error", e.clone())], None).status = Status::Warn,
        (None, None) => out.skip("account.billing", d, "billing probe is opt-in (--billing-probe; costs a few tokens)"),
    }
}

/// `account.from-host`: the same models probe, sent from the host with the key(s) its agents
/// use (the credential checks' winners). Proves the host can reach the API and that its key
/// authenticates there, in the expected org and workspace.
fn from_host(f: &Facts, out: &mut Out) {
    let d = Domain::AccountContext;
    let Some(h) = f.host() else {
        return out.skip("account.from-host", d, "host facts unavailable");
    };
    let in_use = super::credential::resolve(f, h).fingerprints();
    let winners: Vec<&HostProbe> = h.host_probes.iter().filter(|p| in_use.contains(&p.fingerprint)).collect();
    if winners.is_empty() {
        let why = if in_use.is_empty() { "no key in use on the host to probe with" } else { "the host sent no probe (shell without curl output?)" };
        return out.skip("account.from-host", d, why);
    }
    if winners.iter().all(|p| p.error_type.as_deref() == Some("no_curl")) {
        return out.skip("account.from-host", d, "curl is not installed on the host: nothing to probe from it with");
    }
    let inst = f.instance;
    let exp_ws = inst.expected_workspace_id.clone().or_else(|| f.active_key().and_then(|k| k.workspace_id.clone()));
    let mut worst: Option<(Status, Cause, String, Option<String>)> = None;
    let mut ev = vec![Evidence::new("sent from the host to", format!("{}/v1/models?limit=1", f.gathered.api_base))];
    for p in winners {
        let key = h.keys.iter().find(|k| k.fingerprint == p.fingerprint).map(sighting).unwrap_or_else(|| short(&p.fingerprint));
        let mut line = if p.status == 0 { "no response".to_string() } else { format!("HTTP {}", p.status) };
        if let Some(t) = &p.error_type {
            line.push_str(&format!(" {t}"));
        }
        if let Some(m) = &p.message {
            line.push_str(&format!(" \"{m}\""));
        }
        if let Some(e) = &p.transport_error {
            line.push_str(&format!(" ({e})"));
        }
        if let Some(r) = &p.request_id {
            line.push_str(&format!(" (request-id {r})"));
        }
        ev.push(Evidence::new(format!("with {key}"), line));
        let verdict = if p.status == 0 {
            Some((Status::Fail, Cause::HostCannotReachApi, "the host cannot reach the Anthropic API".to_string()))
        } else if (200..300).contains(&p.status) {
            ev.push(Evidence::new("organization", p.organization_id.clone().unwrap_or_else(|| "(header absent)".into())));
            ev.push(Evidence::new("workspace", p.workspace_id.clone().unwrap_or_else(|| "(header absent)".into())));
            if inst.expected_org_id.as_ref().is_some_and(|o| p.organization_id.as_ref().is_some_and(|a| a != o)) {
                Some((Status::Fail, Cause::OrgMismatch, "from the host, the key resolves to another organization".into()))
            } else if exp_ws.as_ref().is_some_and(|w| p.workspace_id.as_ref().is_some_and(|a| a != w)) {
                Some((Status::Fail, Cause::WorkspaceMismatch, "from the host, the key resolves to another workspace".into()))
            } else {
                None
            }
        } else {
            let c = cause::classify_status(p.status, p.message.as_deref().unwrap_or(""));
            Some((severity(c), c, format!("from the host, the API answers HTTP {} ({})", p.status, c.code())))
        };
        if let Some((st, c, s)) = verdict {
            if worst.as_ref().is_none_or(|w| st > w.0) {
                worst = Some((st, c, s, p.request_id.clone()));
            }
        }
    }
    match worst {
        None => out.pass("account.from-host", d, "from the host, the key in use authenticates in the expected account", ev),
        Some((st, c, s, rid)) => {
            let r = out.bad("account.from-host", st, c, s, ev);
            r.domain = d;
            r.request_id = rid;
        }
    }
}
