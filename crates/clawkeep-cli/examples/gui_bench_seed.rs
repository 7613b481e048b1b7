//! Seeds a data dir for the desktop benchmark (`scripts/bench-gui.sh`): N instances, each with a
//! key, and the spend of the first COST_KEYS of those keys (90 days × 3 models, the shape of
//! `scripts/bench-cost.sh`) synced from the fake Anthropic API through the real cost sync, so the
//! Costs screen reads real rows from the SQLite file the app opens.
//!
//!   cargo run -p clawkeep-cli --example gui_bench_seed -- DATA_DIR [N] [COST_KEYS]
//!
//! Key values live in a throw-away in-memory keychain (the screens measured never read them).

use std::sync::Arc;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use clawkeep_core::api::costs::CostSyncOptions;
use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::*;
use fake_anthropic::{FakeAnthropic, Preset, UsageRow, MODEL_HAIKU_4_5, MODEL_OPUS_5_5, MODEL_SONNET_5, WORKSPACE_PROD_A_ID};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: gui_bench_seed DATA_DIR [N] [COST_KEYS]"))?);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let cost_keys: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000).min(n);
    std::fs::create_dir_all(&dir)?;
    let ck = Clawkeep::open(OpenOptions { data_dir: Some(dir.clone()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() })?;

    let t = Instant::now();
    let owners = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"];
    let envs = ["prod", "staging", "dev"];
    for i in 1..=n {
        let (o, e) = (owners[i % owners.len()], envs[i % envs.len()]);
        let name = format!("{o}-{e}-{i}");
        ck.add_instance(InstanceSpec {
            name: name.clone(),
            owner: o.into(),
            environment: e.into(),
            workload: format!("agent-{}", i % 17),
            ssh_host: format!("10.{}.{}.{}", i / 250, i % 250, i % 7 + 1),
            ssh_user: "openclaw".into(),
            tags: vec![format!("batch-{}", i % 5)],
            ..Default::default()
        })?;
        let console_id = (i <= cost_keys).then(|| format!("apikey_bench{i:05}"));
        let spec = KeySpec { name: format!("openclaw-{o}-{e}-agent-{}-{i:05}", i % 17), instance: Some(name), anthropic_key_id: console_id, ..Default::default() };
        ck.add_key(spec, Secret::new(testkeys::api_key(i as u64)))?;
    }
    eprintln!("gui_bench_seed: {n} instances and keys in {:.1} s", t.elapsed().as_secs_f64());
    if cost_keys == 0 {
        return Ok(());
    }

    // The cost trail: usage in the fake, then the app's own sync path into the cache.
    let t = Instant::now();
    let fake = FakeAnthropic::start_blocking(Preset::Healthy)?;
    fake.state().with(|s| s.knobs.admin_rate_limit = None);
    ck.set_anthropic_base_url(&fake.base_url())?;
    let admin = fake.fixture_key("admin").ok_or_else(|| anyhow::anyhow!("the fake has no admin fixture key"))?;
    ck.add_key(KeySpec { name: "openclaw-acme-prod-admin".into(), ..Default::default() }, Secret::new(admin.key.clone()))?;
    let today = Utc::now().date_naive();
    let models = [MODEL_HAIKU_4_5, MODEL_SONNET_5, MODEL_OPUS_5_5];
    fake.state().with(|s| {
        for k in 1..=cost_keys {
            for day in 1..=90 {
                let ts = Utc.from_utc_datetime(&(today - Duration::days(day)).and_hms_opt(12, 0, 0).unwrap_or_default());
                for (m, model) in models.iter().enumerate() {
                    // Spend varies by key (a long tail) and by day, so the stacks are not flat.
                    let input = 1000 + ((k * 37 + m * 11) % 997) as u64 * 40 + (day as u64 % 7) * 500;
                    s.push_usage(UsageRow {
                        ts,
                        api_key_id: Some(format!("apikey_bench{k:05}")),
                        workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
                        model: (*model).into(),
                        uncached_input_tokens: input,
                        cache_creation_5m: 0,
                        cache_creation_1h: 0,
                        cache_read_input_tokens: 0,
                        output_tokens: input / 10,
                        web_search_requests: 0,
                        service_tier: "standard".into(),
                        context_window: "0-200k".into(),
                        inference_geo: None,
                    });
                }
            }
        }
    });
    let r = ck.cost_sync(&CostSyncOptions { since: None, page_days: Some(31) }, &|_| {}, &CancellationToken::new())?;
    eprintln!("gui_bench_seed: {} usage rows of {cost_keys} keys synced in {:.1} s", r.usage.rows, t.elapsed().as_secs_f64());
    Ok(())
}
