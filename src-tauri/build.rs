//! Build script: generates Tauri's context and the app's command permissions.
//!
//! Declaring the commands in an app manifest makes every command need an explicit
//! `allow-<command>` in a capability (`capabilities/main.json`), instead of all app commands
//! being callable by default.

const COMMANDS: &[&str] = &[
    "app_info",
    "list_instances",
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
];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS))).expect("tauri build script failed");
}
