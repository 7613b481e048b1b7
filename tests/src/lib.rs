//! The test world shared by every end-to-end test: SSH test hosts, the fake API, CLI helpers.
//!
//! * [`world`]: N real `sshd` hosts on loopback addresses with fault controls and an OpenClaw
//!   layout + supervised gateway each ([`world::World`], [`world::Host`]).
//! * [`openclaw`]: the real OpenClaw (installed once per target dir) running on a test host.
//! * [`fake`]: client for the fake Anthropic API's control surface.
//! * [`cli`]: the real `clawkeep` binary with a throw-away data dir and keychain service;
//!   [`cli::fake_key`] makes fake keys at run time.
//! * [`canary`]: distinct fake keys planted in every place a host can hold one, and the search
//!   for them afterwards (issue 12's canary oracle).
//! * [`vps`]: a real VPS in a box (systemd as PID 1, PAM/logind, the real OpenClaw as its own
//!   systemd user unit) on 127.0.3.N, booted from a cached tree (`scripts/vps.sh`).
//! * [`secretservice`]: a private Secret Service of one's own (a second person's keychain).
//! * [`layout`], [`scripts`], [`http`], [`sys`]: the pieces they are built from.

pub mod canary;
pub mod cli;
pub mod fake;
pub mod http;
pub mod layout;
pub mod openclaw;
pub mod scripts;
pub mod secretservice;
pub mod sys;
pub mod vps;
pub mod world;

pub use world::{Host, HostMode, SftpSubsystem, ShellMode, World, WorldOptions};

/// The real `clawkeep` binary the CLI journeys run: `$CLAWKEEP_BIN`, else the one next to the
/// test binary (`cargo test --workspace` builds it), else built once on demand
/// (`cargo test -p clawkeep-tests` alone does not build other packages' binaries).
pub fn clawkeep_bin() -> std::path::PathBuf {
    use std::path::{Path, PathBuf};
    if let Ok(p) = std::env::var("CLAWKEEP_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().map(Path::to_path_buf);
    for _ in 0..2 {
        let Some(d) = dir else { break };
        if d.join("clawkeep").is_file() {
            return d.join("clawkeep");
        }
        dir = d.parent().map(Path::to_path_buf);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = std::process::Command::new(cargo).args(["build", "-q", "-p", "clawkeep-cli"]).status().expect("run cargo");
    assert!(st.success(), "building clawkeep failed");
    exe.parent().and_then(Path::parent).expect("target dir").join("clawkeep")
}
