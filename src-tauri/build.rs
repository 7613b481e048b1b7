//! Build script: generates Tauri's context and the app's command permissions, and has the
//! release app's startup code linked side by side (`startup.order`).
//!
//! Declaring the commands in an app manifest makes every command need an explicit
//! `allow-<command>` in a capability (`capabilities/main.json`), instead of all app commands
//! being callable by default.

const COMMANDS: &[&str] = &[
    "app_info",
    "list_instances",
    "fleet_columns",
    "fleet_due",
    "instance_detail",
    "add_instance",
    "edit_instance",
    "remove_instance",
    "key_rules",
    "suggest_key_name",
    "add_key",
    "list_keys",
    "bind_key",
    "retire_key",
    "remove_key",
    "audit_log",
    "settings",
    "set_anthropic_base_url",
    "set_ssh_identity",
    "self_check",
    "run_checks",
    "check_history",
    "check_report",
    "last_checks",
    "probe_host_key",
    "trust_host_key",
    "deploy_plan",
    "deploy_apply",
    "deploy_fleet",
    "unlock_ssh_key",
    "lock_ssh_key",
    "ssh_key_status",
    "rotation_policies",
    "set_rotation_policy",
    "export_rotation_plan",
    "deployments",
    "rotation_plan",
    "open_rotations",
    "rotation",
    "rotation_start",
    "rotation_step",
    "rotation_rollback",
    "cancel_operation",
    "ui_mark",
    "prefs_load",
    "prefs_save",
    "onboard_parse_hosts",
    "onboard_read_ssh_config",
    "onboard_parse_fingerprints",
    "onboard_open_file",
    "onboard_fetch_host_keys",
    "onboard_preview",
    "onboard_apply",
    "cost_sync",
    "cost_sync_marks",
    "cost_report",
    "cost_unowned",
    "deactivate_unowned_key",
    "cost_reconcile",
    "budgets",
    "set_budget",
    "remove_budget",
    "budget_check",
    "rate_limits",
    "refresh_rate_limits",
    "spend_limits",
    "refresh_spend_limits",
    "team_status",
    "team_audit",
    "team_leave",
    "team_join",
    "team_init",
    "team_sync",
    "team_invite",
    "team_grant",
    "team_revoke",
    "team_remove",
];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS))).expect("tauri build script failed");
    startup_order();
}

/// Hands `startup.order` (made by `scripts/startup-order.sh`: the symbols a start up to the
/// Fleet screen touches) to the linker for the release app, so that code sits together: the
/// kernel maps code in 64-KiB windows around each page run, and spread over the whole binary the
/// startup code kept 10.5 MB of it resident (5.2 MB once ordered). Only where the linker is sure to be
/// lld (Rust 1.90 and later on x86_64 Linux, no linker chosen in RUSTFLAGS);
/// `CLAWKEEP_STARTUP_ORDER=0` turns it off. Symbols missing from the build are skipped quietly.
fn startup_order() {
    println!("cargo:rerun-if-changed=startup.order");
    println!("cargo:rerun-if-env-changed=CLAWKEEP_STARTUP_ORDER");
    let env = |k: &str| std::env::var(k).unwrap_or_default();
    let order = std::path::Path::new(&env("CARGO_MANIFEST_DIR")).join("startup.order");
    let rustflags = env("CARGO_ENCODED_RUSTFLAGS");
    let minor = std::process::Command::new(env("RUSTC"))
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|v| v.lines().find_map(|l| l.strip_prefix("release: 1.")?.split('.').next()?.parse::<u32>().ok()))
        .unwrap_or(0);
    if env("CLAWKEEP_STARTUP_ORDER") == "0"
        || env("PROFILE") != "release"
        || env("TARGET") != "x86_64-unknown-linux-gnu"
        || minor < 90
        || rustflags.contains("linker")
        || rustflags.contains("fuse-ld")
        || !order.exists()
    {
        return;
    }
    println!("cargo:rustc-link-arg-bin=clawkeep-desktop=-Wl,--symbol-ordering-file={}", order.display());
    println!("cargo:rustc-link-arg-bin=clawkeep-desktop=-Wl,--no-warn-symbol-ordering");
}
