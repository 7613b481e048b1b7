//! The `fake-anthropic` binary: serves a preset on a loopback address, optionally persisting
//! state and minting keys into a 0600 file (never to stdout or logs).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use fake_anthropic::{Config, FakeAnthropic, MintKey, MintedKey, Preset};

/// A faithful local fake of the Anthropic API, for tests and the demo world.
#[derive(Debug, Parser)]
#[command(name = "fake-anthropic", version)]
struct Args {
    /// Address to listen on; loopback only (127.0.0.0/8 or [::1]).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Fixture preset (healthy, demo, truncated_on_host, …).
    #[arg(long, default_value = "healthy")]
    preset: String,
    /// Persist state here as JSON (loaded if it exists).
    #[arg(long)]
    state: Option<PathBuf>,
    /// Mint N extra api keys (named key-1..key-N) in the default or --mint-workspace workspace.
    #[arg(long, default_value_t = 0)]
    mint: usize,
    /// Workspace for --mint.
    #[arg(long)]
    mint_workspace: Option<String>,
    /// Where the fixture and minted keys go (mode 0600; `name<TAB>id<TAB>key` per line, or
    /// JSON if the name ends in .json).
    #[arg(long)]
    keys_out: Option<PathBuf>,
    /// Print the preset names and exit.
    #[arg(long)]
    list_presets: bool,
}

fn write_keys(path: &PathBuf, keys: &[MintedKey]) -> Result<()> {
    let body = if path.extension().is_some_and(|e| e == "json") {
        serde_json::to_string_pretty(keys)?
    } else {
        keys.iter().map(|k| format!("{}\t{}\t{}\n", k.name, k.id, k.key)).collect()
    };
    let _ = std::fs::remove_file(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).with_context(|| format!("creating {}", path.display()))?;
    f.write_all(body.as_bytes())?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.list_presets {
        for p in Preset::ALL {
            println!("{p}");
        }
        return Ok(());
    }
    if !fake_anthropic::is_loopback(&args.listen) {
        bail!("refusing to listen on {}: fake-anthropic only binds loopback addresses (127.0.0.0/8 or [::1])", args.listen);
    }
    if args.mint > 0 && args.keys_out.is_none() {
        bail!("--mint needs --keys-out FILE (secrets never go to stdout)");
    }
    let preset: Preset = args.preset.parse().map_err(anyhow::Error::msg)?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(async move {
        let mut cfg = Config::new(preset);
        cfg.listen = args.listen;
        cfg.state_file = args.state.clone();
        let fake = FakeAnthropic::start_with(cfg).await?;
        let mut keys = fake.fixture_keys();
        for i in 1..=args.mint {
            let k = fake.mint_key(MintKey::api(format!("key-{i}"), args.mint_workspace.as_deref())).context("minting")?;
            keys.push(k);
        }
        if let Some(path) = &args.keys_out {
            write_keys(path, &keys)?;
        }
        println!("{}", fake.base_url());
        std::io::stdout().flush()?;
        eprintln!("fake-anthropic: preset {preset}, {} key(s) in the keys file; Ctrl-C to stop", keys.len());
        wait_for_stop().await;
        fake.shutdown();
        Ok(())
    })
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
