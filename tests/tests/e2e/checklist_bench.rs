//! Benchmark (not a test; `#[ignore]`, run by scripts/bench-check.sh): the full checklist (host
//! facts over SSH + the free API probes) over 50 test hosts, then the same host facts gathered
//! with Ansible ad-hoc (`shell` module, forks 50) when `BENCH_ANSIBLE` names an `ansible` binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clawkeep_core::anthropic::AnthropicClient;
use clawkeep_core::api::checks::host_runner;
use clawkeep_core::checklist::hostfacts::{self, ScriptParams};
use clawkeep_core::checklist::{fleet, run_fleet, CheckOptions, FleetJob, Status};
use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::ssh::SshAuth;
use clawkeep_core::{Clawkeep, InstanceSpec, KeySpec, MemoryKeychain, OpenOptions, Secret, ServiceManager};
use clawkeep_tests::{World, WorldOptions};
use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};

#[test]
#[ignore = "benchmark: scripts/bench-check.sh"]
fn bench_check_50_hosts() {
    let n: usize = std::env::var("BENCH_HOSTS").ok().and_then(|s| s.parse().ok()).unwrap_or(50);
    // The CLI's default (`clawkeep check --all --concurrency`).
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|s| s.parse().ok()).unwrap_or(32);
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(world) = World::start_or_skip(WorldOptions::hosts(n).base_url(fake.base_url())) else { return };
    eprintln!("bring-up of {n} hosts: {:?}", world.bring_up);
    let dir = tempfile::tempdir().unwrap();
    let ck = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    for (i, h) in world.hosts().iter().enumerate() {
        ck.add_instance(InstanceSpec {
            name: format!("inst-{i}"),
            owner: "acme".into(),
            environment: "prod".into(),
            workload: format!("bot{i}"),
            ssh_host: h.addr().to_string(),
            ssh_port: Some(h.port()),
            ssh_user: h.user().into(),
            service_manager: Some(ServiceManager::Custom { restart_command: h.restart_command().into() }),
            ..Default::default()
        })
        .unwrap();
        ck.pin_host_key(&format!("inst-{i}"), h.host_key_fingerprint()).unwrap();
        let k = fake.mint_key(MintKey::api(format!("bench-{i}"), Some(WORKSPACE_PROD_A_ID))).unwrap();
        ck.add_key(KeySpec { name: format!("acme-prod-bot{i}"), instance: Some(format!("inst-{i}")), allow_name: true, ..Default::default() }, Secret::new(k.key.clone())).unwrap();
        h.write_env(&[("ANTHROPIC_API_KEY", &k.key)]).unwrap();
    }
    let client = AnthropicClient::new(&fake.base_url()).unwrap();
    let cfg = world.ssh_config().to_string_lossy().to_string();
    let auth = Arc::new(SshAuth::KeyFile { path: world.client_key(), passphrase: None });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let mut best = Duration::MAX;
    for round in 0..3 {
        let (cpu0, busy0) = (self_cpu_ms(), machine_busy_ms());
        let t = Instant::now();
        // The CLI's path: contexts read up front, then run_fleet (bounded, shared API probes).
        let jobs: Vec<FleetJob> = (0..n)
            .map(|i| {
                let name = format!("inst-{i}");
                (ck.check_context(&name).unwrap(), host_runner(&ck, &name, &auth))
            })
            .collect();
        let mut reports = rt.block_on(run_fleet(jobs, &client, &CheckOptions::default(), concurrency, &CancellationToken::new(), Arc::new(|_, _, _| {})));
        fleet::aggregate(&mut reports);
        let wall = t.elapsed();
        best = best.min(wall);
        let unreadable = reports.iter().filter(|r| r.check("credential.host").is_some_and(|c| c.status == Status::Fail)).count();
        let max_host = reports.iter().map(|r| r.timings.host_ms).max().unwrap_or(0);
        let (cpu, busy) = (self_cpu_ms() - cpu0, machine_busy_ms() - busy0);
        let mut hosts: Vec<u64> = reports.iter().map(|r| r.timings.host_ms).collect();
        hosts.sort_unstable();
        let api_max = reports.iter().map(|r| r.timings.api_ms).max().unwrap_or(0);
        eprintln!(
            "MEASURE round {round}: full checklist over {n} hosts: {wall:?} (host facts median {} ms, slowest {max_host} ms; api slowest {api_max} ms; unreadable {unreadable}; CPU: clawkeep {cpu} ms, whole machine {busy} ms)",
            hosts[hosts.len() / 2]
        );
        assert_eq!(unreadable, 0);
    }
    eprintln!("MEASURE clawkeep best of 3: {best:?} (concurrency {concurrency})");

    // Ansible ad-hoc: the same script, shell module, forks 50.
    let Ok(ansible) = std::env::var("BENCH_ANSIBLE") else {
        eprintln!("BENCH_ANSIBLE not set: skipping the Ansible comparison");
        return;
    };
    let script = hostfacts::script(&ScriptParams {
        nonce: "bench".into(),
        state_dir: "~/.openclaw".into(),
        agents: vec!["main".into()],
        unit: None,
        now: chrono::Utc::now(),
        probe_url: None,
    });
    // Ansible's argument splitter chokes on the script's quotes and braces: ship it base64'd.
    let b64 = {
        let mut c = std::process::Command::new("base64").arg("-w0").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
    };
    let shell_arg = format!("echo {b64} | base64 -d | sh");
    let inv = dir.path().join("inventory.ini");
    let mut text = String::from("[hosts]\n");
    for h in world.hosts() {
        text.push_str(&format!("{} ansible_host={} ansible_port={} ansible_user={}\n", h.name(), h.addr(), h.port(), h.user()));
    }
    text.push_str(&format!("[hosts:vars]\nansible_ssh_common_args='-F {cfg}'\nansible_python_interpreter=/usr/bin/python3\n"));
    std::fs::write(&inv, text).unwrap();
    let mut ab = Duration::MAX;
    for round in 0..3 {
        let t = Instant::now();
        let out = std::process::Command::new(&ansible)
            .args(["all", "-i", inv.to_str().unwrap(), "-f", "50", "-m", "shell", "-a", &shell_arg, "-o"])
            .env("ANSIBLE_HOST_KEY_CHECKING", "False")
            .env("ANSIBLE_LOCAL_TEMP", dir.path().join("ansible-tmp"))
            // per world: a leftover dir of an earlier world's same-named user (another uid) breaks mkdir
            .env("ANSIBLE_REMOTE_TMP", format!("/tmp/.ansible-{}-${{USER}}", world.id()))
            .output()
            .unwrap();
        let wall = t.elapsed();
        ab = ab.min(wall);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ok = stdout.lines().filter(|l| l.contains("CHANGED") || l.contains("SUCCESS")).count();
        eprintln!("MEASURE round {round}: ansible ad-hoc over {n} hosts: {wall:?} ({ok} ok)");
        if ok < n {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr).lines().take(20).collect::<Vec<_>>().join("\n"));
            eprintln!("{}", stdout.lines().filter(|l| !l.contains("CHANGED")).take(5).collect::<Vec<_>>().join("\n"));
        }
    }
    eprintln!("MEASURE ansible best of 3: {ab:?}; ratio ansible/clawkeep = {:.1}x", ab.as_secs_f64() / best.as_secs_f64());
}

/// CPU time (user + system) of this process so far, in ms (from /proc/self/stat; 100 Hz ticks).
fn self_cpu_ms() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
    // fields after the name: state(0) … utime(11) stime(12)
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10
}

/// Busy CPU time of the whole machine so far (every core; sshd and the facts scripts included), in ms.
fn machine_busy_ms() -> u64 {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = s.lines().next().unwrap_or("").split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    // user nice system idle iowait irq softirq steal
    let busy = f.iter().take(8).sum::<u64>() - f.get(3).copied().unwrap_or(0) - f.get(4).copied().unwrap_or(0);
    busy * 10
}
