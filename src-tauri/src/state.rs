//! The app's handle on the core: one [`Clawkeep`] opened at start and shared by every command.

use std::sync::Arc;

use clawkeep_core::{Clawkeep, ErrorPayload, OpenOptions};

/// The opened core, or why it could not be opened (then every command returns that error).
pub struct CoreState(Result<Arc<Clawkeep>, ErrorPayload>);

impl CoreState {
    /// Opens the data directory the same way the CLI does (`CLAWKEEP_HOME` or the platform dir).
    /// Opens the core for the app's lifetime: the database is read through SQLite's bounded page
    /// cache, not mapped (a mapped page once read stays in the app's memory).
    pub fn open(opts: OpenOptions) -> Self {
        CoreState(Clawkeep::open(opts).and_then(|c| c.bound_file_cache().map(|()| c)).map(Arc::new).map_err(|e| e.to_payload()))
    }

    /// Wraps an already opened core (tests).
    pub fn from_core(core: Clawkeep) -> Self {
        CoreState(Ok(Arc::new(core)))
    }

    pub fn get(&self) -> Result<Arc<Clawkeep>, ErrorPayload> {
        self.0.clone()
    }
}
