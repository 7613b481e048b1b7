//! The main window: created at start with the size saved in the UI-preferences store, which
//! records the new size when the window closes. Only UI preferences live in that store.

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, LogicalSize, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_store::StoreExt;

/// The store file (in the app's data dir) shared with the UI's preference code.
pub const PREFS_FILE: &str = "prefs.json";
const WINDOW_KEY: &str = "window";

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct WindowSize {
    width: f64,
    height: f64,
}

const DEFAULT_SIZE: WindowSize = WindowSize { width: 1200.0, height: 780.0 };

fn saved_size<R: Runtime>(app: &AppHandle<R>) -> WindowSize {
    app.store(PREFS_FILE)
        .ok()
        .and_then(|s| s.get(WINDOW_KEY))
        .and_then(|v| serde_json::from_value::<WindowSize>(v).ok())
        .filter(|s| (640.0..=10000.0).contains(&s.width) && (420.0..=10000.0).contains(&s.height))
        .unwrap_or(DEFAULT_SIZE)
}

/// Creates the window labelled `main` (the label the capability names).
pub fn create_main<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let size = saved_size(app);
    let window = WebviewWindowBuilder::new(app, "main", WebviewUrl::default()).title("Clawkeep").inner_size(size.width, size.height).min_inner_size(720.0, 480.0).build()?;
    let handle = app.clone();
    let w = window.clone();
    window.on_window_event(move |event| {
        if let WindowEvent::CloseRequested { .. } = event {
            let (Ok(physical), Ok(scale)) = (w.inner_size(), w.scale_factor()) else { return };
            let logical: LogicalSize<f64> = physical.to_logical(scale);
            if let Ok(store) = handle.store(PREFS_FILE) {
                store.set(WINDOW_KEY, serde_json::json!(WindowSize { width: logical.width, height: logical.height }));
                let _ = store.save();
            }
        }
    });
    Ok(())
}
