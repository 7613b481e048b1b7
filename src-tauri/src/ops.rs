//! Long operations: progress events over a [`tauri::ipc::Channel`] and cancellation by id.
//!
//! The UI picks an operation id, passes it with a channel to the command, and may call
//! `cancel_operation(id)`. The command holds an [`OpGuard`] for its lifetime (the id is
//! unregistered when it ends) and calls [`OpGuard::checkpoint`] between steps. Operations that
//! run inside core (checks of many instances, deploys) take [`OpGuard::token`], the core's
//! [`CancellationToken`], which `cancel_operation` trips too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::ErrorPayload;
use serde::Serialize;

/// One progress event of a long operation.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Progress {
    Started { operation: String, steps: u32 },
    Step { step: u32, label: String },
    Finished,
    Cancelled,
}

/// The running operations and their cancel flags.
#[derive(Default)]
pub struct Operations {
    running: Mutex<HashMap<String, CancellationToken>>,
}

impl Operations {
    /// Registers `id`; refused when an operation with that id is already running.
    pub fn start(self: &Arc<Self>, id: &str) -> Result<OpGuard, ErrorPayload> {
        let id = id.trim();
        if id.is_empty() || id.len() > 64 {
            return Err(ErrorPayload::new("invalid_input", "operation id: 1 to 64 characters"));
        }
        let flag = CancellationToken::new();
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains_key(id) {
            return Err(ErrorPayload::new("conflict", format!("operation '{id}' is already running")));
        }
        running.insert(id.to_string(), flag.clone());
        Ok(OpGuard { ops: self.clone(), id: id.to_string(), flag })
    }

    /// Asks operation `id` to stop at its next step boundary. False if it is not running.
    pub fn cancel(&self, id: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        match running.get(id.trim()) {
            Some(flag) => {
                flag.cancel();
                true
            }
            None => false,
        }
    }
}

/// A registered operation; unregisters itself when dropped.
pub struct OpGuard {
    ops: Arc<Operations>,
    id: String,
    flag: CancellationToken,
}

impl OpGuard {
    /// `Err({code: "cancelled"})` once the UI asked to cancel.
    pub fn checkpoint(&self) -> Result<(), ErrorPayload> {
        if self.flag.is_cancelled() {
            Err(ErrorPayload::new("cancelled", format!("operation '{}' was cancelled", self.id)))
        } else {
            Ok(())
        }
    }

    /// The cancel flag as the core's token, for operations that run inside core.
    pub fn token(&self) -> CancellationToken {
        self.flag.clone()
    }
}

impl Drop for OpGuard {
    fn drop(&mut self) {
        self.ops.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
    }
}
