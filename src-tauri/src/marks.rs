//! Start-up milestones: the UI reports when its first screen is rendered, and the app prints
//! the time since the process started (one line on stderr, no data), which
//! `scripts/bench-gui.sh` reads to measure cold start.

use std::sync::OnceLock;
use std::time::Instant;

use clawkeep_core::ErrorPayload;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Milestones the UI may report.
const KNOWN: &[&str] = &["fleet-rendered"];

/// Call first thing in `run`.
pub fn process_started() {
    let _ = STARTED.set(Instant::now());
}

/// Prints `clawkeep-desktop: mark <name> <ms> ms` and returns the milliseconds since start.
pub fn record(name: &str) -> Result<u128, ErrorPayload> {
    if !KNOWN.contains(&name) {
        return Err(ErrorPayload::new("invalid_input", format!("unknown mark; known: {}", KNOWN.join(", "))));
    }
    let ms = STARTED.get().map(|t| t.elapsed().as_millis()).unwrap_or(0);
    eprintln!("clawkeep-desktop: mark {name} {ms} ms");
    Ok(ms)
}
