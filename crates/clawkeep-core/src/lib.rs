//! Clawkeep core: the domain (instances, keys, audit), the SQLite store, the OS keychain,
//! and the operations both front ends (the `clawkeep` CLI and the desktop app) call.
