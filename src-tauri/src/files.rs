//! What the app writes on the user's behalf — exports and UI preferences — with paths the
//! webview never supplies (issue 12 finding 9: a webview that names paths can overwrite
//! anything the user can, `clawkeep.db` included).
//!
//! - Exports: the file is chosen in a native save dialog run from Rust ([`SaveDialog`]:
//!   `tauri-plugin-dialog` in the app; a fixed answer in tests); the UI only asks for one. Core
//!   also refuses any path inside the data directory.
//! - Preferences: one store file, fixed here ([`PrefsFile`]); the UI reads and writes a few
//!   known keys through `prefs_load`/`prefs_save`. The store plugin's own commands (whose
//!   `load` resolves any absolute path) are not granted to the webview at all.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tauri::{AppHandle, Runtime};

/// Asks the person where to save a file; `None` when they cancel.
pub trait ChooseSavePath: Send + Sync {
    /// `file_name`: the suggested name; `extension`: the filter (`ics`, `csv`).
    fn choose(&self, file_name: &str, extension: &str) -> Option<PathBuf>;
}

/// The app's save-path chooser (managed state).
#[derive(Clone)]
pub struct SaveDialog(pub Arc<dyn ChooseSavePath>);

/// The native save dialog (`tauri-plugin-dialog`), run from Rust; blocks until it closes, so
/// it is called off the main thread (the commands run it on the blocking pool).
pub struct NativeSaveDialog<R: Runtime>(pub AppHandle<R>);

impl<R: Runtime> ChooseSavePath for NativeSaveDialog<R> {
    fn choose(&self, file_name: &str, extension: &str) -> Option<PathBuf> {
        use tauri_plugin_dialog::DialogExt;
        self.0.dialog().file().set_title("Export the rotation plan").set_file_name(file_name).add_filter(extension, &[extension]).blocking_save_file()?.into_path().ok()
    }
}

/// A chooser that answers with a path set beforehand (tests; the GUI journey through
/// `CLAWKEEP_E2E_SAVE_PATH`, an environment variable of the app process the webview cannot
/// set). `None`: the person cancelled.
#[derive(Default)]
pub struct FixedSavePath(pub Mutex<Option<PathBuf>>);

impl ChooseSavePath for FixedSavePath {
    fn choose(&self, _file_name: &str, _extension: &str) -> Option<PathBuf> {
        self.0.lock().ok()?.clone()
    }
}

/// The preferences store the UI's commands use: one file, opened by the app (not the webview).
pub trait PrefsStore: Send + Sync {
    fn get(&self, key: &str) -> Option<serde_json::Value>;
    fn set(&self, key: &str, value: serde_json::Value);
    fn save(&self) -> Result<(), String>;
}

impl<R: Runtime> PrefsStore for tauri_plugin_store::Store<R> {
    fn get(&self, key: &str) -> Option<serde_json::Value> {
        tauri_plugin_store::Store::get(self, key)
    }
    fn set(&self, key: &str, value: serde_json::Value) {
        tauri_plugin_store::Store::set(self, key, value)
    }
    fn save(&self) -> Result<(), String> {
        tauri_plugin_store::Store::save(self).map_err(|e| e.to_string())
    }
}

/// The opened preferences store (managed state), or why it could not be opened.
#[derive(Clone)]
pub struct Prefs(pub Result<Arc<dyn PrefsStore>, String>);

impl Prefs {
    /// Opens `file` (relative: in the app's data dir) with the store plugin.
    pub fn open<R: Runtime>(app: &AppHandle<R>, file: impl AsRef<std::path::Path>) -> Self {
        use tauri_plugin_store::StoreExt;
        Prefs(app.store(file.as_ref()).map(|s| s as Arc<dyn PrefsStore>).map_err(|e| e.to_string()))
    }
}

/// The preference keys the UI may read and write (the window size is the Rust side's).
pub const PREF_KEYS: &[&str] = &["theme", "lastView", "fleetColumns"];
/// Largest serialised value of one preference.
pub const PREF_MAX_BYTES: usize = 16 * 1024;
