//! The desktop shell's tests, as one test binary: every IPC command on Tauri's mock runtime,
//! the canary oracle over those commands, the team vault's commands, and the freshness of the TypeScript bindings.

mod bindings;
mod canary;
mod costs;
mod ipc;
mod onboard;
mod team;
