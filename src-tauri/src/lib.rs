//! The Clawkeep desktop app: a Tauri 2 shell over `clawkeep-core`.
//!
//! # Shape
//! - [`commands`]: one `#[tauri::command]` per core operation. Each is a one-liner: it hands the
//!   call to [`commands::blocking`], which runs it on Tauri's blocking pool (core calls block on
//!   SQLite and the D-Bus keychain) and maps a core error to `{code, message}`
//!   ([`clawkeep_core::ErrorPayload`]): the UI branches on `code`, the stable codes of
//!   `clawkeep_core::Error::code`, and shows `message`.
//! - [`state::CoreState`]: the one [`clawkeep_core::Clawkeep`] the app opens at start, on the same
//!   data directory (`CLAWKEEP_HOME` or the platform data dir) and keychain service
//!   (`CLAWKEEP_KEYCHAIN_SERVICE` or `clawkeep`) as the CLI, so what one writes the other shows.
//!   If opening fails, every command answers with that error and the UI shows it.
//! - [`window`]: creates the main window, restoring and saving its size in the UI-preferences
//!   store (`tauri-plugin-store`, file `prefs.json` in the app's data dir). That store holds UI
//!   preferences only (window size, theme, last view, table columns): never inventory, never a
//!   secret. The UI reads and writes its keys through `prefs_load`/`prefs_save` ([`files`]).
//! - [`files`]: exports go to a path chosen in a native save dialog run from Rust; the webview
//!   never names a path.
//! - [`commands_cost`] and [`commands_team`]: the cost trail's and the team vault's commands, the
//!   same one-liners; the team's init and sync report core's stages as progress events.
//!
//! # Secrets
//! No secret ever travels towards the UI: commands return the core's domain types, which hold a
//! key's hint and fingerprint only. The one secret that crosses IPC goes the other way: the key
//! value is a plain string argument of `add_key` (and of `rotation_step` at its paste step), and the command wraps it in
//! [`clawkeep_core::Secret`] (redacted `Debug`, wiped on drop) as its first statement. Nothing in
//! this crate logs command arguments.
//!
//! # Long operations: progress and cancellation
//! A long operation is a command taking an operation id chosen by the UI and a
//! [`tauri::ipc::Channel`] of [`ops::Progress`] events, e.g.
//! `self_check(op_id, on_progress)`. It registers the id in [`ops::Operations`], reports
//! `started` / `step` / `finished` on the channel, and checks its cancel flag between steps; the
//! UI cancels with `cancel_operation(op_id)`, after which the command stops at the next step
//! boundary and fails with code `cancelled`. A core call in progress is never interrupted
//! (it is a short transaction or a keychain round trip); future operations with many steps
//! (`run_checks`: the checklist of one instance or the fleet, via core's
//! `Clawkeep::run_checks`) take the flag as core's `CancellationToken` ([`ops::OpGuard::token`]). The UI side lives in
//! `ui/src/ipc/index.ts` (`runOperation`).
//!
//! # Security
//! The CSP in `tauri.conf.json` allows only the app's own scripts and styles and IPC; the
//! capability `capabilities/main.json` lists exactly the commands above and no plugin command:
//! the store plugin's own `load` resolves any absolute path, so the webview gets the fixed
//! preferences file through our commands instead, and the dialog plugin is used from Rust only.
//! No shell, file-system or HTTP plugin is present. The build script declares
//! the app's commands in an app manifest, so a command not listed in the capability is refused.

pub mod commands;
pub mod commands_cost;
pub mod commands_team;
pub mod files;
pub mod marks;
pub mod memory;
pub mod onboard;
pub mod ops;
pub mod state;
pub mod types;
pub mod window;

pub use state::CoreState;

/// Registers the app's commands and operation registry on a builder (used by [`run`] and by
/// the IPC tests with Tauri's mock runtime).
pub fn register<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.manage(std::sync::Arc::new(ops::Operations::default())).invoke_handler(tauri::generate_handler![
        commands::app_info,
        commands::list_instances,
        commands::fleet_columns,
        commands::fleet_due,
        commands::instance_detail,
        commands::add_instance,
        commands::edit_instance,
        commands::remove_instance,
        commands::key_rules,
        commands::suggest_key_name,
        commands::add_key,
        commands::list_keys,
        commands::bind_key,
        commands::retire_key,
        commands::remove_key,
        commands::audit_log,
        commands::settings,
        commands::set_anthropic_base_url,
        commands::set_ssh_identity,
        commands::self_check,
        commands::run_checks,
        commands::check_history,
        commands::check_report,
        commands::last_checks,
        commands::probe_host_key,
        commands::trust_host_key,
        commands::deploy_plan,
        commands::deploy_apply,
        commands::deploy_fleet,
        commands::unlock_ssh_key,
        commands::lock_ssh_key,
        commands::ssh_key_status,
        commands::rotation_policies,
        commands::set_rotation_policy,
        commands::export_rotation_plan,
        commands::deployments,
        commands::rotation_plan,
        commands::open_rotations,
        commands::rotation,
        commands::rotation_start,
        commands::rotation_step,
        commands::rotation_rollback,
        commands::cancel_operation,
        commands::ui_mark,
        commands::prefs_load,
        commands::prefs_save,
        onboard::onboard_parse_hosts,
        onboard::onboard_read_ssh_config,
        onboard::onboard_parse_fingerprints,
        onboard::onboard_open_file,
        onboard::onboard_fetch_host_keys,
        onboard::onboard_preview,
        onboard::onboard_apply,
        commands_cost::cost_sync,
        commands_cost::cost_sync_marks,
        commands_cost::cost_report,
        commands_cost::cost_unowned,
        commands_cost::deactivate_unowned_key,
        commands_cost::cost_reconcile,
        commands_cost::budgets,
        commands_cost::set_budget,
        commands_cost::remove_budget,
        commands_cost::budget_check,
        commands_cost::rate_limits,
        commands_cost::refresh_rate_limits,
        commands_cost::spend_limits,
        commands_cost::refresh_spend_limits,
        commands_team::team_status,
        commands_team::team_audit,
        commands_team::team_leave,
        commands_team::team_join,
        commands_team::team_init,
        commands_team::team_sync,
        commands_team::team_invite,
        commands_team::team_grant,
        commands_team::team_revoke,
        commands_team::team_remove,
    ])
}

/// Starts the app.
pub fn run() -> Result<(), tauri::Error> {
    marks::process_started();
    memory::tune_allocator();
    memory::tune_webview();
    let core = CoreState::open(clawkeep_core::OpenOptions::default());
    register(tauri::Builder::default())
        .plugin(tauri_plugin_store::Builder::default().build())
        .plugin(tauri_plugin_dialog::init())
        .manage(core)
        .setup(|app| {
            // The GUI journey cannot click a native dialog: it names the answer in the app's
            // environment (which the webview cannot touch).
            let chooser: std::sync::Arc<dyn files::ChooseSavePath> = match std::env::var_os("CLAWKEEP_E2E_SAVE_PATH") {
                Some(p) => std::sync::Arc::new(files::FixedSavePath(std::sync::Mutex::new(Some(p.into())))),
                None => std::sync::Arc::new(files::NativeSaveDialog(app.handle().clone())),
            };
            use tauri::Manager;
            app.manage(files::SaveDialog(chooser));
            onboard::manage(app.handle());
            app.manage(files::Prefs::open(app.handle(), window::PREFS_FILE));
            window::create_main(app.handle())?;
            Ok(())
        })
        .run(tauri::generate_context!())
}
