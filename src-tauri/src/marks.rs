//! Milestones for the GUI benchmark: the UI reports when its first screen is rendered, and when
//! the Costs chart is drawn, and the app prints one line on stderr per mark (no data), which
//! `scripts/bench-gui.sh` reads.

use std::sync::OnceLock;
use std::time::Instant;

use clawkeep_core::ErrorPayload;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Milestones the UI may report: `fleet-rendered` (time since the process started),
/// `cost-chart-data` (the chart's report fetched and stacked, measured by the UI from the request)
/// and `cost-chart-drawn` (from the chart having its data to the frame after the draw, measured
/// by the UI).
const KNOWN: &[&str] = &["fleet-rendered", "cost-chart-data", "cost-chart-drawn"];

/// Call first thing in `run`.
pub fn process_started() {
    let _ = STARTED.set(Instant::now());
}

/// Prints `clawkeep-desktop: mark <name> <ms> ms` and returns the milliseconds printed: the
/// duration the UI measured when it gives one, else the time since the process started.
pub fn record(name: &str, measured_ms: Option<u64>) -> Result<u128, ErrorPayload> {
    if !KNOWN.contains(&name) {
        return Err(ErrorPayload::new("invalid_input", format!("unknown mark; known: {}", KNOWN.join(", "))));
    }
    let ms = match measured_ms {
        Some(ms) => u128::from(ms),
        None => STARTED.get().map(|t| t.elapsed().as_millis()).unwrap_or(0),
    };
    eprintln!("clawkeep-desktop: mark {name} {ms} ms");
    Ok(ms)
}
