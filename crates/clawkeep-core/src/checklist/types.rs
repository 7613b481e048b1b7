//! Result types of the checklist. All serialisable (and exported to TypeScript behind the
//! `ts` feature): the desktop app shows the domains in order and highlights
//! [`InstanceReport::first_failing_domain`]. Evidence never holds a secret: keys appear only as
//! hint (first 16 + last 4), SHA-256 fingerprint prefix and length.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The failure domains, in the order the checklist narrows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Domain {
    /// Which key each agent actually uses, and is it the right one.
    Credential,
    /// Does the key authenticate, in the expected org and workspace, with billing ready.
    AccountContext,
    /// `api`, base URL, model id, request shape.
    Protocol,
    /// 429/529s, rate-limit headroom, shared limits.
    Throughput,
    /// Key boundaries between instances, and the host baseline (modes, leaks, resources).
    Boundary,
}

impl Domain {
    pub const ALL: [Domain; 5] = [Domain::Credential, Domain::AccountContext, Domain::Protocol, Domain::Throughput, Domain::Boundary];

    pub fn as_str(self) -> &'static str {
        match self {
            Domain::Credential => "credential",
            Domain::AccountContext => "account-context",
            Domain::Protocol => "protocol",
            Domain::Throughput => "throughput",
            Domain::Boundary => "boundary",
        }
    }

    pub fn parse(s: &str) -> Option<Domain> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "credential" | "credentials" | "key" => Some(Domain::Credential),
            "account-context" | "account" | "context" => Some(Domain::AccountContext),
            "protocol" => Some(Domain::Protocol),
            "throughput" | "rate" | "rate-limit" => Some(Domain::Throughput),
            "boundary" | "host" | "baseline" => Some(Domain::Boundary),
            _ => None,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Domain::Credential => "Credential",
            Domain::AccountContext => "Account context",
            Domain::Protocol => "Protocol",
            Domain::Throughput => "Throughput",
            Domain::Boundary => "Boundary and host baseline",
        }
    }
}

/// Outcome of one check. Ordered by severity (`Fail` is worst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Skip,
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Skip => "skip",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// One fact behind a result (`label: value`). Never a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Evidence {
    pub label: String,
    pub value: String,
}

impl Evidence {
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Evidence { label: label.into(), value: value.into() }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckResult {
    /// Stable id, e.g. `credential.matches-keychain`.
    pub id: String,
    pub domain: Domain,
    pub status: Status,
    /// One line for people.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// Stable cause code (see [`crate::checklist::Cause`]) when not passing.
    pub cause: Option<String>,
    /// What to do, when not passing (for people; names no CLI command).
    pub fix: Option<String>,
    /// The action that fixes it, as data, when Clawkeep can take it: the CLI prints the
    /// command, the desktop shows a button. Absent in reports stored before it existed.
    #[serde(default)]
    pub remedy: Option<crate::error::Remedy>,
    /// The `request-id` of the API call behind a failure (support asks for it).
    pub request_id: Option<String>,
}

/// A domain's roll-up (worst status of its checks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct DomainSummary {
    pub domain: Domain,
    pub status: Status,
    pub checks: u32,
}

/// Time spent in each phase of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Timings {
    pub host_ms: u64,
    pub api_ms: u64,
    pub total_ms: u64,
}

/// The checklist for one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct InstanceReport {
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub checks: Vec<CheckResult>,
    /// Domains in checklist order.
    pub domains: Vec<DomainSummary>,
    /// The first domain (in order) with a failing check: where to look first.
    pub first_failing_domain: Option<Domain>,
    /// Worst status over all checks.
    pub status: Status,
    /// Facts the fleet view aggregates (fingerprints on the host, org/workspace, 429 counts).
    pub facts: FleetFacts,
    pub timings: Timings,
}

impl InstanceReport {
    /// Recomputes domains, first failing domain and overall status from `checks`.
    pub fn finish(&mut self) {
        self.domains = Domain::ALL
            .iter()
            .map(|d| {
                let of: Vec<&CheckResult> = self.checks.iter().filter(|c| c.domain == *d).collect();
                DomainSummary { domain: *d, status: of.iter().map(|c| c.status).max().unwrap_or(Status::Skip), checks: of.len() as u32 }
            })
            .collect();
        self.first_failing_domain = self.domains.iter().find(|d| d.status == Status::Fail).map(|d| d.domain);
        self.status = self.checks.iter().map(|c| c.status).max().unwrap_or(Status::Skip);
    }

    pub fn check(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// What one instance contributes to the fleet view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetFacts {
    pub owner: String,
    /// SHA-256 fingerprints of the effective key of each agent, as computed on the host.
    pub host_fingerprints: Vec<String>,
    pub organization_id: Option<String>,
    pub workspace_id: Option<String>,
    pub errors_429_1h: u32,
    pub errors_429_24h: u32,
    pub errors_529_1h: u32,
    /// The host could be read.
    pub host_ok: bool,
    /// The keychain key authenticated.
    pub api_ok: bool,
}

/// A fleet run: every instance's report plus the cross-instance findings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetReport {
    pub started_at: DateTime<Utc>,
    pub instances: Vec<InstanceReport>,
    /// Findings that involve several instances (shared key, shared limits).
    pub fleet_checks: Vec<FleetFinding>,
    pub total_ms: u64,
    /// Instances × domains, failing rows first ([`super::matrix::build`] of `instances`).
    #[serde(default)]
    pub matrix: FleetMatrix,
}

/// A cross-instance finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetFinding {
    pub id: String,
    pub domain: Domain,
    pub status: Status,
    pub summary: String,
    pub instances: Vec<String>,
    pub cause: String,
    pub fix: String,
}

/// One stored run (history), newest first in listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CheckRun {
    pub id: i64,
    pub instance: String,
    pub started_at: DateTime<Utc>,
    pub status: Status,
    pub first_failing_domain: Option<Domain>,
    pub total_ms: u64,
    pub host_ms: u64,
    pub api_ms: u64,
    pub errors_429_1h: u32,
}

/// The matrix of a fleet run ([`FleetReport::matrix`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct FleetMatrix {
    /// The columns, in checklist order.
    pub domains: Vec<Domain>,
    /// Failing rows first, then warning, passing and skipped ones; within a status, the row
    /// whose first problem sits in an earlier domain first; otherwise the fleet's order.
    pub rows: Vec<MatrixRow>,
    pub failing: u32,
    pub warning: u32,
    pub passing: u32,
}

/// One instance's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MatrixRow {
    /// Position of the report in [`FleetReport::instances`] (the drill-down).
    pub index: u32,
    pub instance: String,
    /// Worst status over the row.
    pub status: Status,
    /// Worst status of each domain, one per [`FleetMatrix::domains`]; `None` when no check of
    /// that domain ran (excluded by `--domain`, or the host or the API was skipped).
    pub cells: Vec<Option<Status>>,
    /// The first failing domain, else the first that warns.
    pub look_first: Option<Domain>,
    /// The first check with the row's worst status in [`Self::look_first`].
    pub problem: Option<MatrixProblem>,
    /// Checks that fail / warn in the row.
    pub failing_checks: u32,
    pub warning_checks: u32,
}

/// The check a row names as its first problem (no evidence: the drill-down has it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MatrixProblem {
    pub check: String,
    pub summary: String,
    pub cause: Option<String>,
}
