//! Core's integration tests, as one test binary: real SQLite files, the real Secret Service
//! (`keychain`), the fake Anthropic API over HTTP on 127.0.0.1, property tests of every parser
//! of outside text. No root. Run one subject with
//! `cargo test -p clawkeep-core --test integration -- store::`.

mod checklist_api;
mod costs;
mod deploy_drive;
mod fleet_json;
mod keychain;
mod parsers_prop;
mod rotation_machine;
mod rotation_plan;
mod store;
