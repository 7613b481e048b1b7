//! Fleet view: findings that need several instances' reports — the same key fingerprint on two
//! hosts, and instances sharing one org/workspace (and so its rate limit) while one of them
//! sees 429s. Findings are also copied into the affected instances' reports, so a per-instance
//! view shows them, and their first failing domain accounts for them.

use std::collections::BTreeMap;

use super::cause::Cause;
use super::types::*;

/// Computes the cross-instance findings and folds them into the instance reports.
pub fn aggregate(reports: &mut [InstanceReport]) -> Vec<FleetFinding> {
    let mut findings = Vec::new();
    // Same fingerprint on two instances.
    let mut by_fp: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in reports.iter() {
        for fp in &r.facts.host_fingerprints {
            by_fp.entry(fp.as_str()).or_default().push(r.instance.clone());
        }
    }
    for (fp, mut insts) in by_fp {
        insts.sort();
        insts.dedup();
        if insts.len() > 1 {
            let c = Cause::KeySharedAcrossInstances;
            findings.push(FleetFinding {
                id: "fleet.shared-key".into(),
                domain: c.domain(),
                status: Status::Fail,
                summary: format!("one key ({}) runs on {} instances: {}", crate::model::keyfmt::short_fingerprint(fp), insts.len(), insts.join(", ")),
                instances: insts,
                cause: c.code().into(),
                fix: c.fix().into(),
            });
        }
    }
    // Shared limits: group by workspace (else org).
    let mut by_bucket: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        let bucket = match (&r.facts.workspace_id, &r.facts.organization_id) {
            (Some(w), _) => format!("workspace {w}"),
            (None, Some(o)) => format!("org {o}"),
            _ => continue,
        };
        by_bucket.entry(bucket).or_default().push(i);
    }
    for (bucket, idx) in by_bucket {
        if idx.len() < 2 {
            continue;
        }
        let throttled: Vec<&InstanceReport> = idx.iter().map(|i| &reports[*i]).filter(|r| r.facts.errors_429_1h > 0).collect();
        if throttled.is_empty() {
            continue;
        }
        let c = Cause::SharedRateLimit;
        let total: u32 = throttled.iter().map(|r| r.facts.errors_429_1h).sum();
        let names: Vec<String> = idx.iter().map(|i| reports[*i].instance.clone()).collect();
        findings.push(FleetFinding {
            id: "fleet.shared-limit".into(),
            domain: c.domain(),
            status: Status::Warn,
            summary: format!(
                "{} instances share the rate limit of {bucket}; {total} 429(s) in the last hour on {}",
                names.len(),
                throttled.iter().map(|r| format!("{} ({})", r.instance, r.facts.errors_429_1h)).collect::<Vec<_>>().join(", ")
            ),
            instances: names,
            cause: c.code().into(),
            fix: c.fix().into(),
        });
    }
    // Fold into the instance reports.
    for f in &findings {
        for r in reports.iter_mut().filter(|r| f.instances.contains(&r.instance)) {
            let others: Vec<&str> = f.instances.iter().filter(|i| **i != r.instance).map(String::as_str).collect();
            r.checks.push(CheckResult {
                id: f.id.clone(),
                domain: f.domain,
                status: f.status,
                summary: f.summary.clone(),
                evidence: vec![Evidence::new("other instances", others.join(", "))],
                cause: Some(f.cause.clone()),
                fix: Some(f.fix.clone()),
                remedy: None,
                request_id: None,
            });
            r.finish();
        }
    }
    findings
}
