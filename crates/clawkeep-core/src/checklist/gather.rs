//! The checklist's I/O half: one SSH round trip for the host facts (a fresh nonce, the facts
//! script through a [`HostRunner`], the parser), the API probes with the keychain copy of the
//! key (in parallel with the host, shared between instances through a [`ProbeCache`]), and what
//! only the key's value can prove (truncation). Everything it finds goes into a [`Gathered`];
//! judging it is [`super::evaluate`]'s.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::facts::{config_of, CheckContext, CheckOptions, Gathered, HostError, KeychainFacts, Probes};
use super::hostfacts::{self, HostFacts, ScriptParams};
use super::runner::HostRunner;
use crate::anthropic::{AnthropicClient, BILLING_PROBE_MODEL};
use crate::model::domain::ServiceManager;
use crate::model::keyfmt;
use crate::secret::Secret;

/// Shares the API probes of one run between instances that use the same key (or the same
/// admin key): each distinct probe is sent once, concurrent askers wait for the first. Keyed by
/// the key's SHA-256 fingerprint, never by the key.
#[derive(Default)]
pub struct ProbeCache {
    cells: std::sync::Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl std::fmt::Debug for ProbeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeCache").field("entries", &self.cells.lock().map(|m| m.len()).unwrap_or(0)).finish()
    }
}

impl ProbeCache {
    async fn once<T, F>(&self, id: String, fut: F) -> T
    where
        T: Clone + Send + Sync + 'static,
        F: std::future::Future<Output = T>,
    {
        let cell = {
            let mut m = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(id).or_insert_with(|| Arc::new(tokio::sync::OnceCell::<T>::new())).clone().downcast::<tokio::sync::OnceCell<T>>()
        };
        match cell {
            Ok(c) => c.get_or_init(|| fut).await.clone(),
            // Ids carry the probe kind, so types never clash; if they did, just ask again.
            Err(_) => fut.await,
        }
    }
}

/// Time spent gathering: on the host, and on the API (both waves).
#[derive(Debug, Clone, Copy, Default)]
pub struct GatherTimes {
    pub host_ms: u64,
    pub api_ms: u64,
}

/// Gathers everything the checklist judges for one instance: the host facts and the API probes
/// (first wave in parallel with the host; the model-dependent second wave once the key
/// authenticated and the config named the model).
pub async fn gather(ctx: &CheckContext, runner: &dyn HostRunner, client: &AnthropicClient, opts: &CheckOptions, cache: &ProbeCache) -> (Gathered, GatherTimes) {
    let ((host, host_ms), (probes, api1_ms)) = tokio::join!(read_host(ctx, runner, client, opts), first_wave(ctx, client, opts, cache));
    let mut g = assemble(ctx, host, probes, client.base_url());
    let t = Instant::now();
    second_wave(ctx, client, opts, cache, &mut g).await;
    let api_ms = api1_ms + t.elapsed().as_millis() as u64;
    (g, GatherTimes { host_ms, api_ms })
}

/// The host facts: the script (with a fresh nonce) through the runner, its report parsed.
/// `None` with `skip_host`.
async fn read_host(ctx: &CheckContext, runner: &dyn HostRunner, client: &AnthropicClient, opts: &CheckOptions) -> (Option<Result<HostFacts, HostError>>, u64) {
    let unit = match &ctx.instance.service_manager {
        ServiceManager::SystemdUser { unit } => Some(unit.clone()),
        ServiceManager::Custom { .. } => None,
    };
    let nonce = hostfacts::nonce();
    let script = hostfacts::script(&ScriptParams {
        nonce: nonce.clone(),
        state_dir: ctx.instance.state_dir.clone(),
        agents: ctx.instance.agents.clone(),
        unit,
        now: ctx.now,
        probe_url: (opts.host_probe && !opts.skip_api).then(|| client.base_url().to_string()),
    });
    if opts.skip_host {
        return (None, 0);
    }
    let t = Instant::now();
    let r = match runner.run_script(&script).await {
        Ok(out) => hostfacts::parse(&out, &nonce).map_err(HostError::Report),
        Err(e) => Err(HostError::Runner(e)),
    };
    (Some(r), t.elapsed().as_millis() as u64)
}

/// The first wave of API probes, with the keychain key: the models list (does it
/// authenticate), and the Admin API's view of the key when an admin key is stored.
async fn first_wave(ctx: &CheckContext, client: &AnthropicClient, opts: &CheckOptions, cache: &ProbeCache) -> (Probes, u64) {
    let mut p = Probes::default();
    let t = Instant::now();
    if opts.skip_api {
        return (p, 0);
    }
    if let Some(key) = &ctx.active_secret {
        let kfp = keyfmt::fingerprint(key.expose());
        let models = cache.once(format!("models {kfp}"), async { client.models_list(key, None).await.map_err(|e| e.to_string()) });
        let admin = async {
            let (Some(admin), Some(k)) = (&ctx.admin_secret, ctx.active_key()) else { return None };
            let afp = keyfmt::fingerprint(admin.expose());
            Some(match &k.anthropic_key_id {
                Some(id) => cache.once(format!("admin-key {afp} {id}"), async { client.admin_api_key(admin, id).await.map_err(|e| e.to_string()) }).await,
                None => match cache.once(format!("admin-keys {afp}"), async { client.admin_api_keys(admin).await.map_err(|e| e.to_string()) }).await {
                    Ok((probe, list)) => {
                        let m = list.into_iter().find(|a| a.partial_key_hint.as_deref() == Some(k.hint.as_str()));
                        Ok((probe, m))
                    }
                    Err(e) => Err(e),
                },
            })
        };
        let (mut m, a) = tokio::join!(models, admin);
        // No workspace header: the probe reproduces what OpenClaw sends.
        if let Ok(pr) = &m {
            if pr.status == 0 {
                m = Err("no status".into());
            }
        }
        p.models = Some(m);
        p.admin = a;
    }
    (p, t.elapsed().as_millis() as u64)
}

/// The second wave, only once the key authenticated: the configured model, `count_tokens`
/// with it, and the opt-in billing probe.
async fn second_wave(ctx: &CheckContext, client: &AnthropicClient, opts: &CheckOptions, cache: &ProbeCache, g: &mut Gathered) {
    if !g.authed() || opts.skip_api {
        return;
    }
    let Some(key) = &ctx.active_secret else { return };
    let model = g.model();
    let m = model.clone().unwrap_or_else(|| "claude-sonnet-5".into());
    let billing_model = BILLING_PROBE_MODEL.to_string();
    let ws = None;
    let kfp = keyfmt::fingerprint(key.expose());
    let (a, b, c) = tokio::join!(
        async {
            if model.is_some() {
                Some(cache.once(format!("model {kfp} {m}"), async { client.model_get(key, &m, ws).await.map_err(|e| e.to_string()) }).await)
            } else {
                None
            }
        },
        cache.once(format!("count {kfp} {m}"), async { client.count_tokens(key, &m, ws).await.map_err(|e| e.to_string()) }),
        async {
            if opts.billing_probe {
                Some(cache.once(format!("billing {kfp}"), async { client.billing_probe(key, &billing_model, ws).await.map_err(|e| e.to_string()) }).await)
            } else {
                None
            }
        }
    );
    g.probes.model = a;
    g.probes.count = Some(b);
    g.probes.billing = c;
}

/// The [`Gathered`] of `ctx` from what the host and the API answered: `openclaw.json` read from
/// the host facts, and what the keychain copies prove about them.
pub(crate) fn assemble(ctx: &CheckContext, host: Option<Result<HostFacts, HostError>>, probes: Probes, api_base: &str) -> Gathered {
    let facts = host.as_ref().and_then(|r| r.as_ref().ok());
    let config = facts.map(config_of);
    let keychain = keychain_facts(ctx, facts);
    Gathered { host, config, probes, keychain, api_base: api_base.to_string() }
}

/// What the keychain copies prove, computed here where the values are: whether they exist, and
/// which host sightings are the active key cut short.
fn keychain_facts(ctx: &CheckContext, host: Option<&HostFacts>) -> KeychainFacts {
    let truncated = match (&ctx.active_secret, host) {
        (Some(s), Some(f)) => f.keys.iter().filter(|k| is_prefix_of(s, k.length, &k.fingerprint)).map(|k| (k.length, k.fingerprint.clone())).collect(),
        _ => Vec::new(),
    };
    KeychainFacts { active: ctx.active_secret.is_some(), admin: ctx.admin_secret.is_some(), truncated }
}

/// The SHA-256 of the secret's first `length` characters is `fingerprint` (and `length` is
/// shorter than the secret).
fn is_prefix_of(secret: &Secret, length: u32, fingerprint: &str) -> bool {
    let v = secret.expose();
    let n = length as usize;
    n < v.len() && v.is_char_boundary(n) && keyfmt::fingerprint(&v[..n]) == fingerprint
}
