//! The `clawkeep` binary end to end, as one test binary with its helpers (`common`) defined
//! once: real SQLite files, the real Secret Service, the fake API, sshd test hosts as root.

mod common;

mod check;
mod cli;
mod keystore;
mod rotate;
