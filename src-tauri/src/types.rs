//! Types only the desktop app sends to its UI (the domain types come from `clawkeep-core`).
//! Like the core's, they derive `ts_rs::TS`; `tests/integration/bindings.rs` keeps `ui/src/ipc/bindings/`
//! in step with them.

use serde::Serialize;

/// What the app is running on: shown in Settings and in the empty states.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AppInfo {
    pub version: String,
    /// The data directory shared with the CLI.
    pub data_dir: String,
    /// The keychain service name the key values are stored under.
    pub keychain_service: String,
}

/// What the UI asks of a checklist run (the core's `CheckOptions`, minus nothing).
#[derive(Debug, Clone, Default, serde::Deserialize, ts_rs::TS)]
#[serde(default)]
pub struct CheckRequest {
    /// Also send one paid request (`max_tokens: 1`) to classify billing problems. Off by default.
    pub billing_probe: bool,
    /// Only these domains (all when empty).
    pub domains: Vec<clawkeep_core::checklist::Domain>,
    /// API checks only.
    pub skip_host: bool,
    /// Host checks only.
    pub skip_api: bool,
    /// Also probe the API from the host (curl there; the key stays on the host).
    pub host_probe: bool,
}

impl From<CheckRequest> for clawkeep_core::checklist::CheckOptions {
    fn from(r: CheckRequest) -> Self {
        clawkeep_core::checklist::CheckOptions { billing_probe: r.billing_probe, domains: r.domains, skip_host: r.skip_host, skip_api: r.skip_api, host_probe: r.host_probe }
    }
}

/// The host key an instance presents, next to the pinned one (host trust dialog).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct HostKeyProbe {
    pub instance: String,
    /// `SHA256:…` as the host presented it now.
    pub presented: String,
    pub pinned: Option<String>,
    /// The presented key is the pinned one.
    pub matches: bool,
}

/// One step of a deploy plan (a path or a command, never a secret).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DeployPlanStep {
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// A credential on the host that would beat the new key.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DeployStale {
    pub kind: String,
    pub agent: Option<String>,
    pub location: String,
    pub remedy: String,
    pub removable: bool,
}

/// What a deploy will do on the host (the core's `DeployPlan`; hints only, diff redacted).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DeployPlanView {
    pub instance: String,
    pub address: String,
    pub host_key: String,
    pub method: clawkeep_core::InjectionMethod,
    pub key_name: String,
    pub key_hint: String,
    pub state_dir: String,
    pub gateway_port: u16,
    pub gateway_port_source: String,
    pub steps: Vec<DeployPlanStep>,
    pub diff: Vec<String>,
    pub stale: Vec<DeployStale>,
    pub warnings: Vec<String>,
    pub blockers: Vec<String>,
    pub unchanged: bool,
    /// Pass back to `deploy_apply`: a plan that changed since the preview is refused.
    pub digest: String,
}

impl From<&clawkeep_core::deploy::DeployPlan> for DeployPlanView {
    fn from(p: &clawkeep_core::deploy::DeployPlan) -> Self {
        DeployPlanView {
            instance: p.instance.clone(),
            address: p.address.clone(),
            host_key: p.host_key.clone(),
            method: p.method,
            key_name: p.key_name.clone(),
            key_hint: p.key_hint.clone(),
            state_dir: p.state_dir.clone(),
            gateway_port: p.gateway_port,
            gateway_port_source: p.gateway_port_source.clone(),
            steps: p.steps.iter().map(|s| DeployPlanStep { action: s.action.clone(), target: s.target.clone(), detail: s.detail.clone() }).collect(),
            diff: p.diff.clone(),
            stale: p
                .stale
                .iter()
                .map(|s| DeployStale { kind: s.kind.clone(), agent: s.agent.clone(), location: s.location.clone(), remedy: s.remedy.clone(), removable: s.removable })
                .collect(),
            warnings: p.warnings.clone(),
            blockers: p.blockers.clone(),
            unchanged: p.unchanged,
            digest: clawkeep_core::deploy::plan_digest(p),
        }
    }
}

/// A fleet deploy's result: one entry per host contacted, and the instances that could not
/// start (draft, no key…).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct FleetDeployResult {
    pub results: Vec<DeployResult>,
    pub not_started: Vec<clawkeep_core::api::deploys::FleetNotStarted>,
}

impl From<clawkeep_core::api::deploys::FleetDeployReport> for FleetDeployResult {
    fn from(r: clawkeep_core::api::deploys::FleetDeployReport) -> Self {
        FleetDeployResult { results: r.reports.into_iter().map(DeployResult::from).collect(), not_started: r.not_started }
    }
}

/// How a deploy ended (the core's `DeployReport`): `outcome` is planned | succeeded | failed |
/// rolled-back | rollback-failed | cancelled | refused.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DeployResult {
    pub instance: String,
    pub address: String,
    pub key_name: String,
    pub key_hint: String,
    pub key_fingerprint: String,
    pub outcome: String,
    pub error: Option<clawkeep_core::ErrorPayload>,
    pub rollback: Option<String>,
    pub steps: Vec<String>,
    pub stale_removed: Vec<String>,
    pub plan: Option<DeployPlanView>,
    pub duration_ms: u64,
}

impl From<clawkeep_core::deploy::DeployReport> for DeployResult {
    fn from(r: clawkeep_core::deploy::DeployReport) -> Self {
        DeployResult {
            plan: r.plan.as_ref().map(DeployPlanView::from),
            instance: r.instance,
            address: r.address,
            key_name: r.key_name,
            key_hint: r.key_hint,
            key_fingerprint: r.key_fingerprint,
            outcome: r.outcome.as_str().into(),
            error: r.error,
            rollback: r.rollback,
            steps: r.steps,
            stale_removed: r.stale_removed,
            duration_ms: r.duration_ms,
        }
    }
}

/// Where an export went (the path the person chose in the save dialog) and how many keys it
/// lists.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ExportDone {
    pub path: String,
    pub keys: u32,
}
