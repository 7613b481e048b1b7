//! The Clawkeep desktop app (stub until the desktop issue lands).
fn main() {}
