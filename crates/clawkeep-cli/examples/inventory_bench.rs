//! Inventory benchmark (not a test): seeds a throw-away data dir with N instances and N keys
//! through clawkeep-core, then times the real `clawkeep` binary for `instance list --json` and a
//! name search, as whole processes (what a user or a script waits for).
//!
//!   scripts/bench.sh            (release build, N = 10,000, 30 runs each)
//!   cargo run --release -p clawkeep-cli --example inventory_bench -- [N] [RUNS]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use clawkeep_core::*;

fn fake_key(i: usize) -> String {
    clawkeep_core::testkeys::api_key(i as u64)
}

fn time_runs(bin: &str, dir: &std::path::Path, args: &[&str], runs: usize) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin).env("CLAWKEEP_HOME", dir).args(args).stderr(Stdio::inherit()).output()?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(out.status.success(), "{args:?} failed");
        bytes = out.stdout.len();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    Ok((times[times.len() / 2], times[(times.len() * 95 / 100).min(times.len() - 1)], bytes))
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(30);
    let bin = std::env::var("CLAWKEEP_BIN").unwrap_or_else(|_| {
        let exe = std::env::current_exe().expect("current exe");
        exe.parent().and_then(|p| p.parent()).map(|p| p.join("clawkeep").display().to_string()).unwrap_or_else(|| "clawkeep".into())
    });
    // BENCH_DATA_DIR keeps the seeded data dir for profiling (e.g. perf record on the binary).
    let tmp = tempfile::tempdir()?;
    let kept = std::env::var_os("BENCH_DATA_DIR").map(std::path::PathBuf::from);
    let dir_path = kept.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    if kept.is_some() {
        std::fs::create_dir_all(&dir_path)?;
        anyhow::ensure!(std::fs::read_dir(&dir_path)?.next().is_none(), "BENCH_DATA_DIR must be empty");
    }
    let dir = dir_path.as_path();
    let ck = Clawkeep::open(OpenOptions { data_dir: Some(dir.into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() })?;
    let t = Instant::now();
    let owners = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell"];
    let envs = ["prod", "staging", "dev"];
    for i in 0..n {
        let owner = owners[i % owners.len()];
        let env = envs[i % envs.len()];
        let name = format!("{owner}-{env}-{i:05}");
        ck.add_instance(InstanceSpec {
            name: name.clone(),
            owner: owner.into(),
            environment: env.into(),
            workload: "support-bot".into(),
            ssh_host: format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256),
            ssh_user: "openclaw".into(),
            tags: vec![format!("region-{}", i % 4)],
            ..Default::default()
        })?;
        ck.add_key(KeySpec { name: format!("openclaw-{owner}-{env}-support-bot-{i:05}"), instance: Some(name), ..Default::default() }, Secret::new(fake_key(i)))?;
    }
    let seed = t.elapsed();
    // In-process split of the list's cost: query + row decoding, then JSON encoding.
    let mut q = Vec::new();
    let mut e = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let rows = ck.list_instances(&InstanceFilter::default())?;
        q.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let bytes = serde_json::to_vec(&rows)?;
        e.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(bytes);
    }
    let mut st = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let mut out = Vec::with_capacity(8 << 20);
        ck.write_instances_json(&InstanceFilter::default(), &mut out)?;
        st.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(out);
    }
    st.sort_by(|a, b| a.total_cmp(b));
    q.sort_by(|a, b| a.total_cmp(b));
    e.sort_by(|a, b| a.total_cmp(b));
    drop(ck);
    let (list_med, list_p95, list_bytes) = time_runs(&bin, dir, &["--json", "instance", "list"], runs)?;
    let (search_med, search_p95, _) = time_runs(&bin, dir, &["--json", "instance", "list", "--search", "initech-dev-0420"], runs)?;
    let (table_med, _, _) = time_runs(&bin, dir, &["instance", "list", "--owner", "acme"], runs)?;
    println!("inventory bench: {n} instances + {n} keys seeded in {:.1} s", seed.as_secs_f64());
    println!("  instance list --json           median {list_med:.1} ms  p95 {list_p95:.1} ms  ({:.1} MB of JSON)", list_bytes as f64 / 1e6);
    println!("  instance list --search (name)  median {search_med:.1} ms  p95 {search_p95:.1} ms");
    println!("  instance list --owner (table)  median {table_med:.1} ms");
    println!("  in process: query+decode median {:.1} ms, JSON encode median {:.1} ms; streamed from the cursor (what --json piped does) median {:.1} ms", q[2], e[2], st[2]);
    println!("  target: <= 50 ms each (release build)");
    Ok(())
}
