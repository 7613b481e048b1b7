//! A local fake of the Anthropic API (see ../shared/reference/anthropic-api.md §1.8), for
//! tests and the demo world: inference and Admin endpoints with the real error envelope and
//! headers, token-bucket rate limits, fixture presets, an injectable clock, knobs for every
//! [ASSUME] behaviour, and a test-only control surface under `/__fake/…`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fake_anthropic::FakeError> {
//! use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};
//! let fake = FakeAnthropic::start(Preset::Healthy).await?;
//! let key = fake.mint_key(MintKey::api("agent-1", Some(WORKSPACE_PROD_A_ID)))?;
//! // point the client at fake.base_url() and send key.key as x-api-key …
//! # Ok(()) }
//! ```

mod admin;
mod control;
mod error;
mod ids;
mod inference;
mod inject;
mod mint;
mod presets;
mod query;
mod rate_limits;
mod ratelimit;
mod reports;
mod server;
mod spend_limits;
mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use control::OrgUpdate;
pub use error::{ApiError, FakeError};
pub use ids::{partial_key_hint, sha256_hex, ADMIN_KEY_PREFIX, API_KEY_PREFIX, OAUTH_TOKEN_PREFIX};
pub use inference::estimate_input_tokens;
pub use inject::{BodyMode, ErrorInjection};
pub use mint::{MintKey, MintedKey};
pub use presets::*;
pub use reports::format_cents;
pub use server::{RecordedRequest, CREDIT_MESSAGE, OAUTH_BETA};
pub use spend_limits::{BETA as SPEND_LIMITS_BETA, NOT_ENROLLED_MESSAGE as SPEND_LIMITS_NOT_ENROLLED};
pub use state::{
    Acceleration, Actor, AdminRateLimit, ApiKey, Clock, KeyKind, KeyScope, KeyStatus, Knobs, Limits, Model, NonTokenCost, Org, SpendLimit, SpendLimitScope, SpendLimits, State,
    UsageRow, Workspace,
};

use server::{Inner, Shared};

/// How to start a fake.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; must be loopback. Default `127.0.0.1:0` (a free port).
    pub listen: SocketAddr,
    /// The fixture world.
    pub preset: Preset,
    /// Persist state here (JSON); loaded instead of the preset's state when it exists.
    pub state_file: Option<PathBuf>,
    /// Knobs to apply over the preset's defaults.
    pub knobs: Option<Knobs>,
    /// Start with a frozen clock at this instant.
    pub frozen_at: Option<DateTime<Utc>>,
}

impl Config {
    /// Defaults for `preset`.
    pub fn new(preset: Preset) -> Self {
        Config { listen: SocketAddr::from(([127, 0, 0, 1], 0)), preset, state_file: None, knobs: None, frozen_at: None }
    }
}

/// A handle for direct manipulation of the fake's state.
#[derive(Clone, Debug)]
pub struct StateHandle(Arc<Shared>);

impl StateHandle {
    /// Runs `f` with the state locked (don't block inside). Changes are persisted.
    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = {
            let mut g = self.0.lock();
            g.dirty = true;
            f(&mut g.state)
        };
        self.0.save();
        r
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> State {
        self.0.lock().state.clone()
    }
}

enum Runner {
    Task(tokio::sync::oneshot::Sender<()>),
    Thread(tokio::sync::oneshot::Sender<()>, std::thread::JoinHandle<()>),
    Stopped,
}

/// A running fake. Shuts down on drop.
pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runner: Runner,
}

impl std::fmt::Debug for FakeAnthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAnthropic").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Whether `addr` is loopback (127.0.0.0/8 or ::1).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

fn build_shared(cfg: &Config) -> Result<Arc<Shared>, FakeError> {
    let clock = Clock { frozen_at: cfg.frozen_at, offset_ms: 0 };
    let built = presets::build(cfg.preset, clock);
    let mut state = built.state;
    if let Some(k) = &cfg.knobs {
        state.knobs = k.clone();
    }
    let mut inner = Inner::new(state, cfg.preset, built.keys, built.injections);
    if let Some(path) = &cfg.state_file {
        if path.exists() {
            let text = std::fs::read_to_string(path)?;
            let loaded: State = serde_json::from_str(&text).map_err(|source| FakeError::StateFile { path: path.clone(), source })?;
            // The loaded world replaces the preset's; its fixture secrets are not known.
            inner.state = loaded.clone();
            inner.initial = loaded;
            inner.fixture_keys.clear();
        }
        inner.state_file = Some(path.clone());
        inner.dirty = true;
    }
    let shared = Shared::new(inner);
    shared.save();
    Ok(shared)
}

fn app(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(server::handle).with_state(shared)
}

async fn run_server(listener: tokio::net::TcpListener, app: axum::Router, stop: tokio::sync::oneshot::Receiver<()>) {
    let (gtx, grx) = tokio::sync::oneshot::channel::<()>();
    let mut task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = grx.await;
            })
            .await;
    });
    tokio::select! {
        _ = stop => {
            let _ = gtx.send(());
            if tokio::time::timeout(std::time::Duration::from_secs(2), &mut task).await.is_err() {
                task.abort();
            }
        }
        _ = &mut task => {}
    }
}

impl FakeAnthropic {
    /// Starts on `127.0.0.1:0` with `preset`, on the current tokio runtime.
    pub async fn start(preset: Preset) -> Result<Self, FakeError> {
        Self::start_with(Config::new(preset)).await
    }

    /// Starts with a full [`Config`] on the current tokio runtime.
    pub async fn start_with(cfg: Config) -> Result<Self, FakeError> {
        if !is_loopback(&cfg.listen) {
            return Err(FakeError::NonLoopback(cfg.listen));
        }
        let shared = build_shared(&cfg)?;
        let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(run_server(listener, app(shared.clone()), rx));
        Ok(FakeAnthropic { addr, shared, runner: Runner::Task(tx) })
    }

    /// Starts on its own runtime on a background thread (for non-async tests).
    pub fn start_blocking(preset: Preset) -> Result<Self, FakeError> {
        Self::start_blocking_with(Config::new(preset))
    }

    /// [`start_blocking`](Self::start_blocking) with a full [`Config`].
    pub fn start_blocking_with(cfg: Config) -> Result<Self, FakeError> {
        if !is_loopback(&cfg.listen) {
            return Err(FakeError::NonLoopback(cfg.listen));
        }
        let shared = build_shared(&cfg)?;
        let std_listener = std::net::TcpListener::bind(cfg.listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let app = app(shared.clone());
        let handle = std::thread::Builder::new().name(format!("fake-anthropic-{}", addr.port())).spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => {
                        let _ = ready_tx.send(Ok(()));
                        run_server(l, app, rx).await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
            });
        })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(FakeAnthropic { addr, shared, runner: Runner::Thread(tx, handle) }),
            Ok(Err(e)) => Err(FakeError::Startup(e)),
            Err(e) => Err(FakeError::Startup(e.to_string())),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash, no `/v1`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The preset the fake started with (or was last reset to).
    pub fn preset(&self) -> Preset {
        self.shared.lock().preset
    }

    /// The preset's fixture credentials (secrets included), by role name.
    pub fn fixture_keys(&self) -> Vec<MintedKey> {
        self.shared.lock().fixture_keys.clone()
    }

    /// One fixture credential by role name (`instance-a`, `admin`, `host`, `keychain`, …).
    pub fn fixture_key(&self, name: &str) -> Option<MintedKey> {
        self.shared.lock().fixture_keys.iter().find(|k| k.name == name).cloned()
    }

    /// Mints a key as the Console would; the secret is only in the returned value.
    pub fn mint_key(&self, req: MintKey) -> Result<MintedKey, FakeError> {
        let r = self.shared.lock().mint_key(&req).map_err(FakeError::Invalid);
        self.shared.save();
        r
    }

    /// The request log (excluding `/__fake/…`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.iter().cloned().collect()
    }

    /// Clears the request log.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Partial update of the org (disabled, credit, …).
    pub fn set_org(&self, update: OrgUpdate) {
        self.shared.lock().set_org(&update);
        self.shared.save();
    }

    /// Moves the fake clock forward by `seconds` (negative goes back).
    pub fn advance_clock(&self, seconds: f64) {
        self.shared.lock().advance_clock(seconds);
        self.shared.save();
    }

    /// The fake clock's now.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().state.now()
    }

    /// Adds an error-injection rule.
    pub fn inject_error(&self, spec: ErrorInjection) {
        self.shared.lock().inject(spec);
    }

    /// Removes every injection rule.
    pub fn clear_errors(&self) {
        self.shared.lock().injections.clear();
    }

    /// Adds a usage row (for report tests).
    pub fn add_usage(&self, row: UsageRow) {
        self.state().with(|s| s.push_usage(row));
    }

    /// Adds a charge without tokens (code execution, …) that only the cost report shows.
    pub fn add_non_token_cost(&self, cost: NonTokenCost) {
        self.state().with(|s| s.non_token_costs.push(cost));
    }

    /// Replaces the knobs.
    pub fn set_knobs(&self, knobs: Knobs) {
        self.state().with(|s| s.knobs = knobs);
    }

    /// Back to the starting state (same fixture secrets), empty log, full buckets.
    pub fn reset(&self) {
        self.shared.lock().reset();
        self.shared.save();
    }

    /// Switches to another preset; returns its fresh fixture keys.
    pub fn reset_to(&self, preset: Preset) -> Vec<MintedKey> {
        let keys = self.shared.lock().reset_to(preset);
        self.shared.save();
        keys
    }

    /// A handle for direct manipulation of the state.
    pub fn state(&self) -> StateHandle {
        StateHandle(self.shared.clone())
    }

    /// Stops the server now (also done on drop).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        match std::mem::replace(&mut self.runner, Runner::Stopped) {
            Runner::Task(tx) => {
                let _ = tx.send(());
            }
            Runner::Thread(tx, handle) => {
                let _ = tx.send(());
                let _ = handle.join();
            }
            Runner::Stopped => {}
        }
        self.shared.save();
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.stop();
    }
}
