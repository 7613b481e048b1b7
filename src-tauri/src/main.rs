//! The `clawkeep-desktop` binary: starts the Tauri app defined in the library.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> anyhow::Result<()> {
    clawkeep_desktop::run()?;
    Ok(())
}
