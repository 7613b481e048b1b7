//! The one blocking↔async bridge of core: [`block_on`] runs an async host or HTTP flow to the
//! end for a blocking caller (core's methods block; see ARCHITECTURE.md, "Blocking core").
//!
//! - Inside a tokio runtime (a Tauri command's `spawn_blocking` thread, the CLI's runtime
//!   entered for its Ctrl-C handler, a multi-thread test) the flow runs on that runtime; on a
//!   multi-thread runtime's worker thread through `block_in_place`, so the worker is handed
//!   off instead of the call panicking.
//! - Elsewhere it runs on one shared multi-thread runtime, created on first use and kept for
//!   the life of the process: no runtime per request, deploy or check run, and connections
//!   pooled by an HTTP client stay on a runtime that lives.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

use crate::error::{Error, Result};

/// Worker threads of the shared runtime: at least four (a fleet check and a fleet deploy keep
/// many SSH sessions and probes in flight), more on a machine with more cores.
const MIN_WORKERS: usize = 4;

/// The shared runtime, or why it could not be started (kept: every caller gets the same answer).
fn shared() -> std::result::Result<&'static Runtime, &'static std::io::Error> {
    static RT: OnceLock<std::io::Result<Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        let workers = std::thread::available_parallelism().map_or(MIN_WORKERS, |n| n.get().max(MIN_WORKERS));
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).thread_name("clawkeep-io").enable_all().build()
    })
    .as_ref()
}

/// Runs `f` to completion for a blocking caller: on the caller's runtime when there is one,
/// else on the shared one (see the module doc). The only error is a runtime that cannot start
/// (`io`).
pub(crate) fn block_on<F: Future>(f: F) -> Result<F::Output> {
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => Ok(tokio::task::block_in_place(|| h.block_on(f))),
        Ok(h) => Ok(h.block_on(f)),
        Err(_) => match shared() {
            Ok(rt) => Ok(rt.block_on(f)),
            Err(e) => Err(Error::io("cannot start the async runtime", std::io::Error::new(e.kind(), e.to_string()))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_a_runtime_every_call_shares_one() {
        let a = here();
        let b = std::thread::spawn(here).join().unwrap();
        assert_eq!(a, b, "one shared runtime, not one per call");
        // Spawned tasks run on it and finish.
        assert_eq!(block_on(async { tokio::spawn(async { 7 }).await.unwrap() }).unwrap(), 7);
    }

    fn here() -> tokio::runtime::Id {
        block_on(async { Handle::current().id() }).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn inside_a_multi_thread_runtime_it_uses_that_one_even_in_async_code() {
        let outer = Handle::current().id();
        // In async code (the runtime's own block_on, and a worker thread): handed off with
        // block_in_place, no panic.
        assert_eq!(here(), outer);
        assert_eq!(tokio::spawn(async { here() }).await.unwrap(), outer);
        // On one of its blocking threads (a Tauri command's spawn_blocking).
        assert_eq!(tokio::task::spawn_blocking(here).await.unwrap(), outer);
        // Entered on a plain thread (the CLI's Ctrl-C runtime).
        let h = Handle::current();
        let entered = std::thread::spawn(move || {
            let _g = h.enter();
            here()
        });
        assert_eq!(entered.join().unwrap(), outer);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_current_thread_runtimes_blocking_thread_uses_that_runtime() {
        let outer = Handle::current().id();
        assert_eq!(tokio::task::spawn_blocking(here).await.unwrap(), outer);
    }
}
