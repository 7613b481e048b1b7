//! The TypeScript types in `ui/src/ipc/bindings/` are generated from the Rust types (ts-rs) and
//! committed. This test regenerates them and fails when the committed files are stale.
//! Refresh them with: `UPDATE_BINDINGS=1 cargo test -p clawkeep-desktop --test integration -- bindings::`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::{Config, TS};

fn generate(out: &Path) {
    // i64 ids, counts and ages fit in a JS number: declare them as `number`, not `bigint`.
    let cfg = Config::new().with_large_int("number").with_out_dir(out);
    macro_rules! export {
        ($($t:ty),* $(,)?) => { $( <$t as TS>::export_all(&cfg).unwrap_or_else(|e| panic!("{}: {e}", stringify!($t))); )* };
    }
    use clawkeep_core::*;
    export!(
        Instance,
        InstanceSpec,
        InstancePatch,
        InstanceRow,
        clawkeep_core::api::fleet::FleetColumns,
        clawkeep_core::api::fleet::FleetDue,
        InstanceDetail,
        InstanceFilter,
        InstanceRemoved,
        Key,
        KeySpec,
        KeyAdded,
        KeyBrief,
        AuditEvent,
        Settings,
        SshIdentity,
        SelfCheck,
        ErrorPayload,
        model::keyfmt::KeyRules,
        model::keyfmt::KeyKindRule,
        clawkeep_desktop::types::AppInfo,
        clawkeep_desktop::types::CheckRequest,
        clawkeep_desktop::types::HostKeyProbe,
        clawkeep_desktop::types::DeployResult,
        clawkeep_desktop::types::FleetDeployResult,
        clawkeep_desktop::types::ExportDone,
        clawkeep_core::api::deploys::FleetTarget,
        Deployment,
        clawkeep_desktop::ops::Progress,
        rotation::RotationPlan,
        rotation::RotationPolicy,
        rotation::PolicyScope,
        rotation::PolicySpec,
        rotation::plan::ExportFormat,
        rotation::Rotation,
        rotation::RotationOptions,
        rotation::StepReport,
        checklist::FleetReport,
        checklist::CheckRun,
        checklist::InstanceReport,
        api::onboard::FetchedHostKey,
        api::onboard::ConfirmedHost,
        api::onboard::OnboardReport,
        onboard::OnboardDefaults,
        onboard::KnownFingerprints,
        onboard::OnboardHost,
        clawkeep_desktop::onboard::OnboardBatch,
        clawkeep_desktop::onboard::TrustedFingerprints,
        clawkeep_desktop::onboard::OnboardFile,
        clawkeep_desktop::onboard::OnboardFileKind,
        api::costs::CostQuery,
        api::costs::CostSyncOptions,
        api::costs::BudgetSpec,
        cost::CostReport,
        cost::SyncReport,
        cost::SyncProgress,
        cost::UnownedKey,
        cost::ApiKeyRecord,
        cost::Reconciliation,
        cost::Budget,
        cost::BudgetStatus,
        cost::RateLimits,
        cost::SpendLimits,
        store::SyncMark,
        ErrorDetail,
        TeamFieldConflict,
        api::team::TeamStatus,
        api::team::TeamMemberView,
        api::team::TeamJoined,
        api::team::TeamInit,
        api::team::TeamSync,
        api::team::TeamChange,
        api::team::TeamAuditEntry,
        api::team::TeamLeft,
        team::layout::Role,
    );
}

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ts") {
                files.insert(name, std::fs::read_to_string(e.path()).unwrap());
            }
        }
    }
    files
}

#[test]
fn typescript_bindings_are_fresh() {
    let committed_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/ipc/bindings");
    let tmp = tempfile::tempdir().unwrap();
    generate(tmp.path());
    let fresh = read_dir(tmp.path());
    assert!(fresh.len() >= 20, "expected the bindings, got {:?}", fresh.keys());
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(&committed_dir).unwrap();
        for (name, _) in read_dir(&committed_dir) {
            std::fs::remove_file(committed_dir.join(name)).unwrap();
        }
        for (name, text) in &fresh {
            std::fs::write(committed_dir.join(name), text).unwrap();
        }
        return;
    }
    let committed = read_dir(&committed_dir);
    let stale: Vec<&String> = fresh.keys().chain(committed.keys()).filter(|n| fresh.get(*n) != committed.get(*n)).collect();
    assert!(stale.is_empty(), "ui/src/ipc/bindings is stale ({stale:?}); regenerate with: UPDATE_BINDINGS=1 cargo test -p clawkeep-desktop --test integration -- bindings::");
}
