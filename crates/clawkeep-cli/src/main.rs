//! `clawkeep`: the command line over clawkeep-core.
fn main() {}
