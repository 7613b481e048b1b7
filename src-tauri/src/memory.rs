//! Heap tuning of the app's own process (glibc on Linux): large short-lived buffers — a Fleet
//! reply of 10,000 rows serialised to JSON, a cost report — go to `mmap` and back to the system
//! when freed, and the blocking pool's threads share few malloc arenas, so the process does not
//! keep tens of MB of freed reply buffers resident after a screen has loaded. And the web
//! process's JavaScript engine runs without its compilers ([`tune_webview`]).

/// Call first thing in `run`, before other threads start.
pub fn tune_allocator() {
    // The one exception to the workspace's `unsafe_code = "deny"`: glibc's tuning call has no
    // safe wrapper.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only sets glibc malloc parameters; called before the app's threads start.
    unsafe {
        // A fixed threshold (glibc raises the default one, 128 KiB, after freeing big blocks).
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        // Two arenas instead of eight per core: the blocking pool's threads come and go.
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// WebKit's JavaScript engine without its compilers (the interpreter only), unless the person
/// set `JSC_useJIT` or `JSC_useDFGJIT` themselves: the web process inherits it. This UI's
/// JavaScript is short-lived glue over IPC replies, so what the compilers cost was their own
/// code, profiles and executable memory. Measured with `scripts/bench-gui.sh` (release, medians
/// of 3): the optimising (DFG) tier off took the app's process tree 237 → 229 MB PSS with 1,000
/// instances on the Fleet; the baseline compiler off as well, 229 → 223 MB (240 → 233 with
/// 10,000). The Fleet's heaviest in-memory work at 10,000 rows, timed in the web view
/// (`EMPTY_WINDOW_PAGE` of the floor): a search keystroke 3 → 16 ms, a column sort 5 → 13 ms,
/// the reply's `JSON.parse` 14 → 15 ms — all well inside a frame of typing. An empty page never
/// runs long enough to compile anything: the floor is the same either way.
/// Call before the webview starts (its processes read the environment when they start).
pub fn tune_webview() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("JSC_useJIT").is_none() && std::env::var_os("JSC_useDFGJIT").is_none() {
        std::env::set_var("JSC_useJIT", "0");
    }
}

/// Hands freed heap pages back to the system shortly after a command: its reply has been
/// serialised and sent by then. One trim at a time; a burst of commands (a screen loading) gets
/// one trim after it.
pub fn trim_soon() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        static PENDING: AtomicBool = AtomicBool::new(false);
        if PENDING.swap(true, Ordering::AcqRel) {
            return;
        }
        let _ = std::thread::Builder::new().name("heap-trim".into()).spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            PENDING.store(false, Ordering::Release);
            // SAFETY: malloc_trim only returns free memory of glibc's arenas to the system.
            #[allow(unsafe_code)]
            unsafe {
                libc::malloc_trim(0);
            }
        });
    }
}
