//! The end-to-end suite of Clawkeep, as one test binary (one link, one place for shared
//! helpers: `clawkeep_tests`, the crate's `src/`). Each module is one subject; needs root for
//! real sshd hosts and nftables (run by `scripts/test.sh` inside a private Secret Service).
//! Run one subject with `cargo test -p clawkeep-tests --test e2e -- deploy::`.

mod canary;
mod checklist;
mod checklist_bench;
mod cost;
mod demo;
mod deploy;
mod hostile;
mod onboard;
mod openclaw_roundtrip;
mod rotate;
mod team;
mod vps;
mod world;
