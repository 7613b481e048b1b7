//! The checklist's data between its two halves: what a run starts from ([`CheckContext`],
//! [`CheckOptions`]), what [`super::gather`] found ([`Gathered`]: host facts, `openclaw.json`,
//! API probes, what the keychain copy proved), and [`Facts`], the secret-free view
//! [`super::evaluate`] judges. Plain data: no I/O here.

use chrono::{DateTime, Utc};

use super::config::{self, ConfigFacts};
use super::hostfacts::{FactsError, HostFacts};
use super::runner::RunnerError;
use super::types::{CheckRun, Domain};
use crate::anthropic::{AdminApiKey, Probe};
use crate::cost::budget::BudgetStatus;
use crate::cost::limits::RateLimitEntry;
use crate::model::domain::{Instance, Key, KeyStatus};
use crate::secret::Secret;

/// Everything the engine needs to know about one instance (read from the store and keychain).
#[derive(Debug)]
pub struct CheckContext {
    pub instance: Instance,
    /// Every key in the inventory (matching fingerprints to instances and retired versions).
    pub keys: Vec<Key>,
    /// The keychain copy of the instance's active key.
    pub active_secret: Option<Secret>,
    /// An active admin key, if one is stored.
    pub admin_secret: Option<Secret>,
    /// Recent runs of this instance, newest first.
    pub history: Vec<CheckRun>,
    pub now: DateTime<Utc>,
    /// When the active key is due for rotation under the instance's policy (`None`: no active
    /// key, or not judged).
    pub rotation_due: Option<RotationDue>,
    /// This month's budgets that cover the instance (its own and its owner's), judged from the
    /// cost cache by the caller (`cost::budget`); empty when none is set.
    pub budgets: Vec<BudgetStatus>,
    /// Anthropic's configured rate limits that can apply to the instance (the organisation's
    /// and its workspace's), from the cache when an Admin key is stored; else empty.
    pub rate_limits: Vec<RateLimitEntry>,
}

/// The active key's rotation date under the instance's effective policy (computed by the
/// caller from `rotation/`; the checklist only judges it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationDue {
    pub due: DateTime<Utc>,
    /// `max-age` (created + the policy's maximum age) or `expiry` (the key expires sooner).
    pub basis: &'static str,
    pub max_age_days: u32,
    /// Where the policy comes from (`default`, `owner acme`, `instance …`).
    pub policy: String,
}

impl CheckContext {
    pub fn active_key(&self) -> Option<&Key> {
        active_key(&self.instance, &self.keys)
    }
}

fn active_key<'a>(instance: &Instance, keys: &'a [Key]) -> Option<&'a Key> {
    keys.iter().find(|k| k.instance.as_deref() == Some(&instance.name) && k.status == KeyStatus::Active)
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The opt-in billing probe (`max_tokens: 1`; costs a few tokens). Off by default.
    pub billing_probe: bool,
    /// Only these domains (all when empty).
    pub domains: Vec<Domain>,
    /// Skip the host (API checks only).
    pub skip_host: bool,
    /// Skip the API (host checks only).
    pub skip_api: bool,
    /// Also probe the API from the host (`GET /v1/models?limit=1` with each key the gateway
    /// could use, sent by curl on the host; the key stays there). Off by default: it makes the
    /// host send requests.
    pub host_probe: bool,
}

/// The API probes of a run (each `Err` is the transport error's text).
#[derive(Debug, Clone, Default)]
pub struct Probes {
    /// `GET /v1/models` with the keychain key (`None`: not sent).
    pub models: Option<Result<Probe, String>>,
    /// `GET /v1/models/{id}` for the configured model (only once the key authenticated).
    pub model: Option<Result<Probe, String>>,
    /// `count_tokens` with the configured model (only once the key authenticated).
    pub count: Option<Result<Probe, String>>,
    /// The opt-in billing probe.
    pub billing: Option<Result<Probe, String>>,
    /// The Admin API's view of the active key (the key, when it was found).
    pub admin: Option<Result<(Probe, Option<AdminApiKey>), String>>,
}

/// Why the host's facts could not be had.
#[derive(Debug, Clone)]
pub enum HostError {
    /// The transport failed (trust, connect, login, …): nothing or not all was run.
    Runner(RunnerError),
    /// The script ran but its report could not be read.
    Report(FactsError),
}

/// What the keychain copies told the gathering (their values never leave it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeychainFacts {
    /// The keychain holds a value for the instance's active key.
    pub active: bool,
    /// An admin key is stored.
    pub admin: bool,
    /// Host sightings (length, fingerprint) proven to be the keychain key cut short: the
    /// SHA-256 of the keychain key's first `length` characters equals the host's.
    pub truncated: Vec<(u32, String)>,
}

impl KeychainFacts {
    pub fn is_truncation(&self, length: u32, fingerprint: &str) -> bool {
        self.truncated.iter().any(|(l, f)| *l == length && f == fingerprint)
    }
}

/// What a run gathered about one instance.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// `None`: the host was not checked (`skip_host`).
    pub host: Option<Result<HostFacts, HostError>>,
    /// `openclaw.json` from the host facts (`None` when there are no host facts).
    pub config: Option<Result<ConfigFacts, String>>,
    pub probes: Probes,
    pub keychain: KeychainFacts,
    /// The API base URL the probes went to (and the host probe, when asked).
    pub api_base: String,
}

impl Gathered {
    /// The host facts, when the host could be read.
    pub fn host_facts(&self) -> Option<&HostFacts> {
        self.host.as_ref().and_then(|r| r.as_ref().ok())
    }

    /// The parsed `openclaw.json`, when it could be read.
    pub fn config_facts(&self) -> Option<&ConfigFacts> {
        self.config.as_ref().and_then(|c| c.as_ref().ok())
    }

    /// The configured `anthropic/…` primary model id.
    pub fn model(&self) -> Option<String> {
        self.config_facts().and_then(|c| c.primary_model.clone()).and_then(|m| config::anthropic_model(&m).map(str::to_string))
    }

    /// The keychain key authenticated (the models probe answered 2xx).
    pub fn authed(&self) -> bool {
        matches!(&self.probes.models, Some(Ok(p)) if p.ok())
    }
}

/// `openclaw.json` as the checklist reads it from host facts.
pub fn config_of(f: &HostFacts) -> Result<ConfigFacts, String> {
    if f.config_present {
        config::parse(&f.config_text)
    } else {
        Err("openclaw.json not found in the state dir".into())
    }
}

/// What the evaluation judges: the [`CheckContext`] without its secrets, the options and what
/// was gathered.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub instance: &'a Instance,
    /// Every key in the inventory.
    pub keys: &'a [Key],
    /// Recent runs of this instance, newest first.
    pub history: &'a [CheckRun],
    pub now: DateTime<Utc>,
    pub rotation_due: Option<&'a RotationDue>,
    /// The budgets that cover the instance this month.
    pub budgets: &'a [BudgetStatus],
    /// The configured rate limits that can apply to the instance (cached).
    pub rate_limits: &'a [RateLimitEntry],
    pub opts: &'a CheckOptions,
    pub gathered: &'a Gathered,
}

impl<'a> Facts<'a> {
    /// The secret-free view of `ctx` and what was gathered for it.
    pub fn new(ctx: &'a CheckContext, opts: &'a CheckOptions, gathered: &'a Gathered) -> Self {
        Facts {
            instance: &ctx.instance,
            keys: &ctx.keys,
            history: &ctx.history,
            now: ctx.now,
            rotation_due: ctx.rotation_due.as_ref(),
            budgets: &ctx.budgets,
            rate_limits: &ctx.rate_limits,
            opts,
            gathered,
        }
    }

    /// The instance's active key in the inventory.
    pub fn active_key(&self) -> Option<&'a Key> {
        active_key(self.instance, self.keys)
    }

    /// The host facts, when the host could be read.
    pub fn host(&self) -> Option<&'a HostFacts> {
        self.gathered.host_facts()
    }
}
