//! `clawkeep check NAME | --all [--domain D] [--billing-probe] [--json]`: the troubleshooting
//! checklist (credential, account context, protocol, throughput, boundary) per instance and
//! fleet-wide, with a progress line. The run is core's `Clawkeep::run_checks` (bounded
//! concurrency, fleet findings, every run stored as history); this file parses and prints.
//! `--all` prints one line per instance (failing first), then the cause and fix of what is not
//! green; `--details` prints every check of every instance.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use clawkeep_core::checklist::{CheckOptions, CheckProgressFn, Domain, FleetMatrix, InstanceReport, Status};
use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::Clawkeep;

use crate::output::{self, table};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The instance to check.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub name: Option<String>,
    /// Check every instance (fleet view: shared keys, shared rate limits).
    #[arg(long)]
    pub all: bool,
    /// Only this domain: credential, account-context, protocol, throughput, boundary (repeatable).
    #[arg(long, value_parser = parse_domain)]
    pub domain: Vec<Domain>,
    /// Also send one paid request (max_tokens 1) to classify billing problems. Off by default.
    #[arg(long)]
    pub billing_probe: bool,
    /// Also send the models probe from the host (curl there, with each key its agents use; the
    /// key never leaves the host): proves the host itself reaches the API. Off by default.
    #[arg(long, conflicts_with_all = ["no_host", "no_api"])]
    pub probe_from_host: bool,
    /// Skip the host (no SSH): API checks only.
    #[arg(long, conflicts_with = "no_api")]
    pub no_host: bool,
    /// Skip the Anthropic API: host checks only.
    #[arg(long)]
    pub no_api: bool,
    /// Hosts checked at once with --all.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// With --all: every check of every instance (default: one line per instance, then the
    /// cause and fix of the instances that are not green).
    #[arg(long, short = 'v', visible_alias = "verbose")]
    pub details: bool,
    /// Show the stored history of NAME instead of running.
    #[arg(long, requires = "name")]
    pub history: bool,
}

fn parse_domain(s: &str) -> Result<Domain, String> {
    Domain::parse(s).ok_or_else(|| format!("'{s}' is not a domain: credential, account-context, protocol, throughput or boundary"))
}

pub fn run(ck: &Clawkeep, a: CheckArgs, json: bool) -> Result<()> {
    if a.history {
        let name = a.name.as_deref().unwrap_or_default();
        let runs = ck.check_history(name, 50)?;
        if json {
            output::json(&runs);
        } else {
            let rows: Vec<Vec<String>> = runs
                .iter()
                .map(|r| {
                    vec![
                        r.id.to_string(),
                        output::date(&r.started_at),
                        r.status.as_str().into(),
                        r.first_failing_domain.map(|d| d.as_str().to_string()).unwrap_or_default(),
                        format!("{} ms", r.total_ms),
                        r.errors_429_1h.to_string(),
                    ]
                })
                .collect();
            table(&["RUN", "STARTED", "STATUS", "FIRST FAILING", "TIME", "429/1H"], &rows);
        }
        return Ok(());
    }
    let names = ck.check_targets(a.name.as_deref())?;
    let opts = CheckOptions { billing_probe: a.billing_probe, domains: a.domain.clone(), skip_host: a.no_host, skip_api: a.no_api, host_probe: a.probe_from_host };
    let total = names.len();
    let progress = !json && std::io::stderr().is_terminal() && total > 1;
    let on_done: CheckProgressFn = Arc::new(move |r: &InstanceReport, n: usize, total: usize| {
        if progress {
            eprint!("\r[check] {n}/{total} instances checked");
        } else if total > 1 && !json {
            eprintln!("[check] {n}/{total} {} {}", r.instance, r.status.as_str());
        }
    });
    // A hung run is cut after 10 minutes; what finished by then is recorded in the history.
    let cancel = CancellationToken::new();
    let deadline = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(600));
        deadline.cancel();
    });
    // Core's flow: contexts, pinned host transport, API probes, concurrency, fleet findings,
    // history. The SSH login (one passphrase prompt at most) only when hosts are checked.
    let report = ck.run_checks(&names, &opts, a.concurrency as usize, &crate::cmd_remote::credentials(), &cancel, on_done)?;
    if progress {
        eprintln!();
    }
    let failed = report.instances.iter().any(|r| r.status == Status::Fail);
    if json {
        if a.all {
            output::json(&report);
        } else if let Some(r) = report.instances.first() {
            output::json(r);
        }
    } else {
        if a.all && !a.details {
            print_compact(&report.instances, &report.matrix);
        } else {
            for r in &report.instances {
                print_report(r);
            }
        }
        if !report.fleet_checks.is_empty() {
            println!("\nFleet");
            for f in &report.fleet_checks {
                println!("  {:<4}  {}  {}", f.status.as_str().to_uppercase(), f.id, f.summary);
                println!("        cause: {}", f.cause);
                println!("        fix:   {}", f.fix);
            }
        }
        if total > 1 {
            let n_fail = report.instances.iter().filter(|r| r.status == Status::Fail).count();
            println!("{total} instances checked in {} ms; {n_fail} failing", report.total_ms);
        }
    }
    if failed {
        // Exit 1 so scripts can branch on it; the report is already printed.
        std::process::exit(1);
    }
    Ok(())
}

fn print_report(r: &InstanceReport) {
    let first = r.first_failing_domain.map(|d| format!(" — look first at: {}", d.title())).unwrap_or_default();
    println!("{}: {}{} ({} ms: host {} ms, api {} ms)", r.instance, r.status.as_str().to_uppercase(), first, r.timings.total_ms, r.timings.host_ms, r.timings.api_ms);
    for d in &r.domains {
        if d.checks == 0 {
            continue;
        }
        let mark = if Some(d.domain) == r.first_failing_domain { ">>" } else { "  " };
        println!("{mark} {} [{}]", d.domain.title(), d.status.as_str());
        for c in r.checks.iter().filter(|c| c.domain == d.domain) {
            println!("     {:<4}  {:<34}  {}", c.status.as_str(), c.id, c.summary);
            if matches!(c.status, Status::Fail | Status::Warn) {
                for e in &c.evidence {
                    println!("             {}: {}", e.label, e.value);
                }
                if let Some(rid) = &c.request_id {
                    println!("             request-id: {rid}");
                }
                if let (Some(cause), Some(fix)) = (&c.cause, &c.fix) {
                    println!("             cause: {cause}");
                    println!("             fix:   {fix}");
                }
                if let Some(remedy) = &c.remedy {
                    println!("             run:   {}", crate::output::remedy_command(remedy));
                }
            }
        }
    }
}

/// `check --all` without `--details`: one line per instance, then what to do for each one
/// that is not green.
fn print_compact(instances: &[InstanceReport], matrix: &FleetMatrix) {
    // One letter per domain, in checklist order: F fail, W warn, . pass, - skipped, blank not run.
    let cell = |s: &Option<Status>| match s {
        Some(Status::Fail) => 'F',
        Some(Status::Warn) => 'W',
        Some(Status::Pass) => '.',
        Some(Status::Skip) => '-',
        None => ' ',
    };
    let rows: Vec<Vec<String>> = matrix
        .rows
        .iter()
        .map(|r| {
            vec![
                r.status.as_str().to_uppercase(),
                r.instance.clone(),
                r.cells.iter().map(cell).collect(),
                r.look_first.map(|d| d.as_str().to_string()).unwrap_or_default(),
                r.problem.as_ref().and_then(|p| p.cause.clone()).unwrap_or_default(),
                r.problem.as_ref().map(|p| p.summary.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["STATUS", "INSTANCE", "CAPTB", "LOOK FIRST AT", "CAUSE", "WHAT"], &rows);
    println!("(CAPTB: credential, account context, protocol, throughput, boundary — F fail, W warn, . pass, - skipped)");
    let sorted: Vec<&InstanceReport> = matrix.rows.iter().filter_map(|r| instances.get(r.index as usize)).collect();
    let bad: Vec<&&InstanceReport> = sorted.iter().filter(|r| matches!(r.status, Status::Fail | Status::Warn)).collect();
    if bad.is_empty() {
        return;
    }
    println!();
    for r in bad {
        println!("{}: {}", r.instance, r.status.as_str().to_uppercase());
        for c in r.checks.iter().filter(|c| matches!(c.status, Status::Fail | Status::Warn)) {
            println!("  {:<4}  {:<34}  {}", c.status.as_str(), c.id, c.summary);
            if c.id.starts_with("fleet.") {
                // its cause and fix are printed once, under Fleet
                continue;
            }
            if let (Some(cause), Some(fix)) = (&c.cause, &c.fix) {
                println!("        cause: {cause}");
                println!("        fix:   {fix}");
            }
            if let Some(remedy) = &c.remedy {
                println!("        run:   {}", crate::output::remedy_command(remedy));
            }
        }
    }
    println!("(every check: clawkeep check --all --details; one instance: clawkeep check NAME)");
}
