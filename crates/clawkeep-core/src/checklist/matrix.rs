//! The fleet matrix: instances × domains, the worst status per cell, where to look first and
//! the first problem there, failing rows first. Pure judgement over finished reports, so the
//! CLI's one-line-per-instance listing and the desktop's matrix show the same order and words.
//! The matrix's types live with the other result types (`types.rs`).

use super::types::{CheckResult, Domain, FleetMatrix, InstanceReport, MatrixProblem, MatrixRow, Status};

/// The domain to look at first: the first failing one, else the first that warns.
pub fn look_first(r: &InstanceReport) -> Option<Domain> {
    let in_order = |s: Status| Domain::ALL.into_iter().find(|d| r.checks.iter().any(|c| c.domain == *d && c.status == s));
    in_order(Status::Fail).or_else(|| in_order(Status::Warn))
}

/// The first check of `r` to act on: in [`look_first`]'s domain, the first with the worst
/// status there.
pub fn first_problem(r: &InstanceReport) -> Option<&CheckResult> {
    let d = look_first(r)?;
    let worst = r.checks.iter().filter(|c| c.domain == d).map(|c| c.status).max()?;
    r.checks.iter().find(|c| c.domain == d && c.status == worst && matches!(c.status, Status::Fail | Status::Warn))
}

/// Builds the matrix of `reports` (see [`FleetMatrix::rows`] for the order).
pub fn build(reports: &[InstanceReport]) -> FleetMatrix {
    let mut rows: Vec<MatrixRow> = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let cells = Domain::ALL.iter().map(|d| r.checks.iter().filter(|c| c.domain == *d).map(|c| c.status).max()).collect();
            let status = r.checks.iter().map(|c| c.status).max().unwrap_or(Status::Skip);
            MatrixRow {
                index: i as u32,
                instance: r.instance.clone(),
                status,
                cells,
                look_first: look_first(r),
                problem: first_problem(r).map(|c| MatrixProblem { check: c.id.clone(), summary: c.summary.clone(), cause: c.cause.clone() }),
                failing_checks: r.checks.iter().filter(|c| c.status == Status::Fail).count() as u32,
                warning_checks: r.checks.iter().filter(|c| c.status == Status::Warn).count() as u32,
            }
        })
        .collect();
    // Stable: equal keys keep the fleet's order.
    rows.sort_by_key(|r| (std::cmp::Reverse(r.status), r.look_first.map(|d| d as u8).unwrap_or(u8::MAX)));
    let count = |s: Status| rows.iter().filter(|r| r.status == s).count() as u32;
    FleetMatrix { domains: Domain::ALL.to_vec(), failing: count(Status::Fail), warning: count(Status::Warn), passing: count(Status::Pass), rows }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::types::{FleetFacts, Timings};

    fn check(id: &str, domain: Domain, status: Status) -> CheckResult {
        CheckResult {
            id: id.into(),
            domain,
            status,
            summary: format!("{id} is {}", status.as_str()),
            evidence: vec![],
            cause: (status >= Status::Warn).then(|| format!("{id}_cause")),
            fix: None,
            remedy: None,
            request_id: None,
        }
    }

    fn report(name: &str, checks: Vec<CheckResult>) -> InstanceReport {
        let mut r = InstanceReport {
            instance: name.into(),
            started_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
            checks,
            domains: vec![],
            first_failing_domain: None,
            status: Status::Skip,
            facts: FleetFacts::default(),
            timings: Timings::default(),
        };
        r.finish();
        r
    }

    fn order(m: &FleetMatrix) -> Vec<&str> {
        m.rows.iter().map(|r| r.instance.as_str()).collect()
    }

    #[test]
    fn failing_rows_first_then_warning_then_passing_fleet_order_kept() {
        use Domain::*;
        use Status::*;
        let reports = vec![
            report("a-green", vec![check("credential.x", Credential, Pass)]),
            report("b-warn", vec![check("throughput.429", Throughput, Warn)]),
            report("c-fail-boundary", vec![check("credential.x", Credential, Pass), check("boundary.mode", Boundary, Fail)]),
            report("d-fail-credential", vec![check("credential.x", Credential, Fail), check("boundary.mode", Boundary, Fail)]),
            report("e-green", vec![check("credential.x", Credential, Pass)]),
            report("f-skipped", vec![check("credential.x", Credential, Skip)]),
            report("g-warn-credential", vec![check("credential.y", Credential, Warn)]),
        ];
        let m = build(&reports);
        assert_eq!(order(&m), ["d-fail-credential", "c-fail-boundary", "g-warn-credential", "b-warn", "a-green", "e-green", "f-skipped"]);
        assert_eq!((m.failing, m.warning, m.passing), (2, 2, 2));
        assert_eq!(m.domains, Domain::ALL.to_vec());
        // The drill-down index points back at the report.
        for row in &m.rows {
            assert_eq!(reports[row.index as usize].instance, row.instance);
        }
    }

    #[test]
    fn cells_hold_the_worst_status_of_each_domain_and_none_where_nothing_ran() {
        use Domain::*;
        use Status::*;
        let r = report(
            "x",
            vec![
                check("credential.a", Credential, Pass),
                check("credential.b", Credential, Warn),
                check("credential.c", Credential, Pass),
                check("account.auth", AccountContext, Fail),
                check("account.other", AccountContext, Pass),
                check("throughput.x", Throughput, Skip),
            ],
        );
        let m = build(&[r]);
        assert_eq!(m.rows[0].cells, vec![Some(Warn), Some(Fail), None, Some(Skip), None]);
        assert_eq!(m.rows[0].status, Fail);
        assert_eq!((m.rows[0].failing_checks, m.rows[0].warning_checks), (1, 1));
    }

    #[test]
    fn the_first_failing_domain_is_named_even_when_an_earlier_one_only_warns() {
        use Domain::*;
        use Status::*;
        let r = report(
            "x",
            vec![check("credential.b", Credential, Warn), check("protocol.model", Protocol, Pass), check("boundary.mode", Boundary, Fail), check("boundary.z", Boundary, Fail)],
        );
        let m = build(&[r]);
        let row = &m.rows[0];
        assert_eq!(row.look_first, Some(Boundary));
        let p = row.problem.as_ref().expect("a problem");
        assert_eq!(p.check, "boundary.mode");
        assert_eq!(p.cause.as_deref(), Some("boundary.mode_cause"));
    }

    #[test]
    fn a_warning_row_names_its_first_warning_domain_and_a_green_row_names_nothing() {
        use Domain::*;
        use Status::*;
        let warn = report("w", vec![check("credential.a", Credential, Pass), check("throughput.a", Throughput, Warn), check("boundary.a", Boundary, Warn)]);
        let green = report("g", vec![check("credential.a", Credential, Pass), check("throughput.a", Throughput, Skip)]);
        let m = build(&[green, warn]);
        assert_eq!(order(&m), ["w", "g"]);
        assert_eq!(m.rows[0].look_first, Some(Throughput));
        assert_eq!(m.rows[0].problem.as_ref().map(|p| p.check.as_str()), Some("throughput.a"));
        assert_eq!(m.rows[1].look_first, None);
        assert_eq!(m.rows[1].problem, None);
    }

    #[test]
    fn an_empty_fleet_and_a_report_without_checks_are_fine() {
        let m = build(&[]);
        assert!(m.rows.is_empty());
        let m = build(&[report("none", vec![])]);
        assert_eq!(m.rows[0].status, Status::Skip);
        assert_eq!(m.rows[0].cells, vec![None; 5]);
        assert_eq!(m.rows[0].look_first, None);
    }
}
