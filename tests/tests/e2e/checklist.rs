//! End-to-end checklist tests: real sshd test hosts (one pinned russh session per host, the facts
//! script on stdin), the fake Anthropic API over real HTTP on 127.0.0.1, and the real Secret
//! Service (a unique keychain service and a temp data dir per test). One test per failure the
//! fake's presets and the host controls can produce, asserting domain, status and cause code.
//! They need root + openssh-server (CI fails without them; elsewhere they skip).

use std::sync::Arc;
use std::time::Duration;

use clawkeep_core::anthropic::AnthropicClient;
use clawkeep_core::checklist::{fleet, run_instance, CheckOptions, Domain, InstanceReport, SshRunner, Status};
use clawkeep_core::ssh::{SshAuth, SshOptions};
use clawkeep_core::{Clawkeep, InstanceSpec, KeySpec, OpenOptions, OsKeychain, Remedy, Secret, ServiceManager};
use clawkeep_tests::{Host, World, WorldOptions};
use fake_anthropic::{FakeAnthropic, Preset, ORG_ID, WORKSPACE_PROD_A_ID};

struct E {
    world: World,
    fake: FakeAnthropic,
    ck: Clawkeep,
    _dir: tempfile::TempDir,
    service: String,
}

impl Drop for E {
    fn drop(&mut self) {
        let _ = std::process::Command::new("secret-tool").args(["clear", "service", &self.service]).status();
    }
}

fn unique() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("clawkeep-check-test-{}-{n}-{nanos}", std::process::id())
}

fn setup(preset: Preset, hosts: usize) -> Option<E> {
    setup_with(preset, hosts, true)
}

/// `pin`: pin each test host's key on its instance (what `clawkeep host trust` does).
fn setup_with(preset: Preset, hosts: usize, pin: bool) -> Option<E> {
    setup_world(preset, WorldOptions::hosts(hosts), pin)
}

/// [`setup_with`] on a world built from `opts` (its base URL is set to the fake's).
fn setup_world(preset: Preset, opts: WorldOptions, pin: bool) -> Option<E> {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        panic!("run under scripts/with-secret-service.sh (real Secret Service)");
    }
    let fake = FakeAnthropic::start_blocking(preset).unwrap();
    let world = World::start_or_skip(opts.base_url(fake.base_url()))?;
    let dir = tempfile::tempdir().unwrap();
    let service = unique();
    let ck = Clawkeep::open(OpenOptions {
        data_dir: Some(dir.path().into()),
        keychain: Some(Arc::new(OsKeychain::new(service.clone()))),
        os_user: Some("tester".into()),
        ..Default::default()
    })
    .unwrap();
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
            expected_org_id: Some(ORG_ID.into()),
            expected_workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
            ..Default::default()
        })
        .unwrap();
        if pin {
            ck.pin_host_key(&format!("inst-{i}"), h.host_key_fingerprint()).unwrap();
        }
    }
    Some(E { world, fake, ck, _dir: dir, service })
}

impl E {
    fn host(&self, i: usize) -> &Host {
        self.world.host(i)
    }
    fn secret(&self, role: &str) -> String {
        self.fake.fixture_key(role).unwrap_or_else(|| panic!("fixture {role}")).key
    }
    /// Stores `role`'s key as instance i's key (active if it has none).
    fn keychain(&self, i: usize, role: &str) -> String {
        let k = self.fake.fixture_key(role).unwrap();
        self.ck
            .add_key(
                KeySpec {
                    name: format!("acme-prod-bot{i}-{}", role.replace('_', "-")),
                    instance: Some(format!("inst-{i}")),
                    anthropic_key_id: Some(k.id.clone()),
                    allow_name: true,
                    ..Default::default()
                },
                Secret::new(k.key.clone()),
            )
            .unwrap();
        k.key
    }
    fn admin(&self) {
        let k = self.fake.fixture_key("admin").unwrap();
        self.ck.add_key(KeySpec { name: "acme-admin".into(), allow_name: true, ..Default::default() }, Secret::new(k.key)).unwrap();
    }
    /// Writes the key into the host's .env and restarts its gateway so the process has it.
    fn deploy(&self, i: usize, key: &str) {
        let h = self.host(i);
        h.write_env(&[("ANTHROPIC_API_KEY", key)]).unwrap();
        let out = h.ssh_restart_gateway().unwrap();
        assert!(out.success(), "{}", out.stderr_str());
        h.wait_gateway_ready(Duration::from_secs(20)).unwrap();
    }
    /// The product's runner: the instance's pinned target, the world's client key.
    fn runner(&self, i: usize) -> SshRunner {
        self.runner_with(i, self.world.client_key(), Duration::from_secs(5))
    }
    fn runner_with(&self, i: usize, key: std::path::PathBuf, connect_timeout: Duration) -> SshRunner {
        let target = self.ck.ssh_target(&format!("inst-{i}")).unwrap();
        let auth = Arc::new(SshAuth::KeyFile { path: key, passphrase: None });
        SshRunner::new(target, auth, SshOptions { connect_timeout, ..Default::default() }, Duration::from_secs(30))
    }
    fn check_with(&self, i: usize, opts: CheckOptions) -> InstanceReport {
        self.check_runner(i, &self.runner(i), opts)
    }
    fn check_runner(&self, i: usize, runner: &SshRunner, opts: CheckOptions) -> InstanceReport {
        let ctx = self.ck.check_context(&format!("inst-{i}")).unwrap();
        let client = AnthropicClient::new(&self.fake.base_url()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let r = rt.block_on(run_instance(&ctx, runner, &client, &opts));
        self.no_leak(&r);
        self.ck.record_check(&r).unwrap();
        r
    }
    fn check(&self, i: usize) -> InstanceReport {
        self.check_with(i, CheckOptions::default())
    }
    fn check_all(&self) -> (Vec<InstanceReport>, Vec<clawkeep_core::checklist::FleetFinding>) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        let client = AnthropicClient::new(&self.fake.base_url()).unwrap();
        let ctxs: Vec<_> = (0..self.world.hosts().len()).map(|i| (self.ck.check_context(&format!("inst-{i}")).unwrap(), self.runner(i))).collect();
        let opts = CheckOptions::default();
        let mut reports = rt.block_on(async {
            let futs = ctxs.iter().map(|(c, r)| run_instance(c, r, &client, &opts));
            futures_join_all(futs).await
        });
        let f = fleet::aggregate(&mut reports);
        for r in &reports {
            self.no_leak(r);
        }
        (reports, f)
    }
    fn no_leak(&self, r: &InstanceReport) {
        let json = serde_json::to_string(r).unwrap();
        for k in self.fake.fixture_keys() {
            assert!(!json.contains(&k.key[12..40]), "report leaks key {}", k.name);
        }
    }
    /// Appends OpenClaw-style JSON log lines (what the gateway logs for an upstream error).
    fn log_upstream(&self, i: usize, statuses: &[u16]) {
        let h = self.host(i);
        let mut text = h.read_file(".openclaw/logs/openclaw.log").unwrap_or_default();
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        for s in statuses {
            let kind = match s {
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => continue,
            };
            text.push_str(&format!(
                "{{\"time\":\"{now}\",\"level\":\"warn\",\"subsystem\":\"agent\",\"msg\":\"rawError={s}: {{\\\"type\\\":\\\"error\\\",\\\"error\\\":{{\\\"type\\\":\\\"{kind}\\\"}}}}\"}}\n"
            ));
        }
        h.write_file(".openclaw/logs/openclaw.log", text.as_bytes(), 0o600).unwrap();
    }
}

async fn futures_join_all<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futs {
        set.push(f);
    }
    let mut out = Vec::new();
    // run them concurrently on this task
    let pinned: Vec<_> = set.into_iter().map(Box::pin).collect();
    let mut pending: Vec<Option<std::pin::Pin<Box<F>>>> = pinned.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, p) in pending.iter_mut().enumerate() {
            if let Some(f) = p {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *p = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    for r in results {
        out.push(r.unwrap());
    }
    out
}

fn expect(r: &InstanceReport, id: &str, domain: Domain, status: Status, cause: &str) {
    let c = r.check(id).unwrap_or_else(|| panic!("no check {id}:\n{:#?}", r.checks));
    assert_eq!((c.domain, c.status, c.cause.as_deref()), (domain, status, Some(cause)), "{c:#?}");
}

fn expect_cause(r: &InstanceReport, domain: Domain, status: Status, cause: &str) {
    assert!(r.checks.iter().any(|c| c.domain == domain && c.status == status && c.cause.as_deref() == Some(cause)), "no {status:?} {cause} in {domain:?}:\n{:#?}", r.checks);
}

#[test]
fn healthy_instance_is_all_green() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let key = e.keychain(0, "instance-a");
    e.deploy(0, &key);
    e.admin();
    let r = e.check_with(0, CheckOptions { billing_probe: true, ..Default::default() });
    let not_green: Vec<_> = r.checks.iter().filter(|c| matches!(c.status, Status::Fail | Status::Warn)).collect();
    assert!(not_green.is_empty(), "{not_green:#?}");
    assert_eq!(r.first_failing_domain, None);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass);
    assert!(r.timings.host_ms > 0);
}

/// The healthy case on the REAL OpenClaw: installed from the npm registry, its `openclaw`
/// command on the host user's PATH, the gateway running with the key from `.env` (which it
/// loads in-process: its /proc environ has no key), one agent turn through it to the fake.
/// Every check passes or is skipped; the version-dependent checks saw the real version.
#[test]
fn healthy_real_openclaw_host_is_all_green() {
    let Some(e) = setup_world(Preset::Healthy, WorldOptions::hosts(1).without_gateway(), true) else { return };
    let oc = clawkeep_tests::openclaw::ensure_installed().unwrap();
    let h = e.host(0);
    oc.install_cli_on_host(h).unwrap();
    let key = e.keychain(0, "instance-a");
    h.write_env(&[("ANTHROPIC_API_KEY", &key)]).unwrap();
    oc.start_gateway(h, &e.fake.base_url()).unwrap();
    h.wait_gateway_ready(clawkeep_tests::openclaw::READY_TIMEOUT).unwrap();
    let turn = oc.agent_turn(h, "Say hello", clawkeep_tests::openclaw::TURN_TIMEOUT).unwrap();
    assert!(turn.ok(), "agent turn: {}\n{}", turn.output.stdout_str(), turn.output.stderr_str());
    e.admin();

    let r = e.check_with(0, CheckOptions { billing_probe: true, ..Default::default() });
    for c in &r.checks {
        eprintln!("{:<44} {:<5} {}", c.id, c.status.as_str(), c.evidence.iter().map(|v| format!("{}: {}", v.label, v.value)).collect::<Vec<_>>().join("; "));
    }
    let not_green: Vec<_> = r.checks.iter().filter(|c| matches!(c.status, Status::Fail | Status::Warn)).collect();
    assert!(not_green.is_empty(), "not green on the real OpenClaw host:\n{not_green:#?}\nall:\n{:#?}", r.checks);
    assert_eq!(r.first_failing_domain, None);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass);
    let all = format!("{:?}", r.checks);
    assert!(all.contains("OpenClaw 20"), "the installed version was not read:\n{:#?}", r.checks);
    assert!(all.contains(&format!("OpenClaw {}", oc.version)), "not the version under test ({}):\n{:#?}", oc.version, r.checks);

    // Then an auth profile with another key, written where this OpenClaw version keeps it (by its
    // own `paste-api-key`): it beats `.env`, and the checklist must find it and say so.
    let other = e.secret("instance-b");
    // (`--agent` on `models auth`: `paste-api-key` itself takes it only since 2026.8.1)
    let args = ["models", "auth", "--agent", "main", "paste-api-key", "--provider", "anthropic", "--profile-id", "anthropic:default"];
    let out = oc.cli_with_input(h, &args, Some(format!("{other}\n").as_bytes()), clawkeep_tests::openclaw::TURN_TIMEOUT).unwrap();
    assert!(out.success(), "paste-api-key: {}\n{}", out.stdout_str(), out.stderr_str());
    let r = e.check(0);
    h.stop_gateway().unwrap();
    expect(&r, "credential.matches-keychain.main", Domain::Credential, Status::Fail, "auth_profile_overrides_env");
    let c = r.check("credential.matches-keychain.main").unwrap();
    // where this version keeps it: the shared store (2026.8.1+) or the agent's own database
    let store = if oc.features.shared_auth_store { "shared store" } else { "agents/main/agent/openclaw-agent.sqlite" };
    assert!(format!("{:?}", c.evidence).contains(store), "OpenClaw {}: {c:#?}", oc.version);
}

/// A rejected key on the REAL OpenClaw: one turn through the gateway with an inactive key in
/// its auth profile gets a 401, after which OpenClaw takes the key out of use locally and keeps that on disk (requests
/// fail without reaching Anthropic, a restart does not clear it). The checklist reads that state
/// from the host and reports `auth_profile_cooldown` for the same profile OpenClaw's own
/// `models status --json` lists as unusable.
#[test]
fn real_openclaw_cooldown_after_a_rejected_key_is_found() {
    let Some(e) = setup_world(Preset::StaleAfterRotation, WorldOptions::hosts(1).without_gateway(), true) else { return };
    let oc = clawkeep_tests::openclaw::ensure_installed().unwrap();
    let h = e.host(0);
    oc.install_cli_on_host(h).unwrap();
    e.keychain(0, "keychain");
    // in an auth profile (OpenClaw keeps no cooldown for a key from the environment), written by
    // OpenClaw's own paste-api-key
    let args = ["models", "auth", "--agent", "main", "paste-api-key", "--provider", "anthropic", "--profile-id", "anthropic:default"];
    let out = oc.cli_with_input(h, &args, Some(format!("{}\n", e.secret("host")).as_bytes()), clawkeep_tests::openclaw::TURN_TIMEOUT).unwrap();
    assert!(out.success(), "paste-api-key: {}\n{}", out.stdout_str(), out.stderr_str());
    oc.start_gateway(h, &e.fake.base_url()).unwrap();
    h.wait_gateway_ready(clawkeep_tests::openclaw::READY_TIMEOUT).unwrap();
    let turn = oc.agent_turn(h, "Say hello", clawkeep_tests::openclaw::TURN_TIMEOUT).unwrap();
    assert!(!turn.ok(), "an inactive key must fail: {}", turn.output.stdout_str());
    let status = oc.cli(h, &["models", "status", "--json"], clawkeep_tests::openclaw::TURN_TIMEOUT).unwrap();
    let r = e.check(0);
    h.stop_gateway().unwrap();
    let unusable: Vec<String> = clawkeep_tests::openclaw::last_json_object(&status.stdout_str())
        .and_then(|j| j["auth"]["unusableProfiles"].as_array().or(j["unusableProfiles"].as_array()).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["profileId"].as_str().map(String::from))
        .collect();
    let c = r.check("credential.auth-cooldown").unwrap_or_else(|| panic!("no cooldown check (OpenClaw {}):\n{:#?}", oc.version, r.checks));
    assert_eq!((c.status, c.cause.as_deref()), (Status::Fail, Some("auth_profile_cooldown")), "OpenClaw {} says unusable: {unusable:?}\n{c:#?}", oc.version);
    assert!(
        unusable.iter().any(|p| c.evidence.iter().any(|ev| ev.label.starts_with(&format!("{p} ")))),
        "the checklist's profiles {:?} are not OpenClaw's own unusable ones {unusable:?}",
        c.evidence
    );
}

/// The opt-in probe from the host: the host's own curl sends the models probe with the key its
/// agent uses (never through argv: every process's argv is sampled meanwhile), so "the host
/// cannot reach the API" is told apart from "the key is bad". Off by default: no request from
/// the host without it.
#[test]
fn probe_from_the_host_tells_egress_from_credentials() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let key = e.keychain(0, "instance-a");
    e.deploy(0, &key);
    let sha = fake_anthropic::sha256_hex(&key);
    let models_with_key = || e.fake.requests().iter().filter(|q| q.path == "/v1/models" && q.api_key_sha256.as_deref() == Some(sha.as_str())).count();

    // Off by default: only the desktop's probe.
    let before = models_with_key();
    let r = e.check(0);
    assert!(r.check("account.from-host").is_none(), "{:#?}", r.checks);
    assert_eq!(models_with_key() - before, 1);

    // On: a second models request, sent by the host, in the expected account.
    let on = CheckOptions { host_probe: true, ..Default::default() };
    let before = models_with_key();
    let sampler = clawkeep_tests::sys::ArgvSampler::start(vec![key.clone()]);
    let r = e.check_with(0, on.clone());
    let (leaked, samples) = sampler.finish();
    assert!(!leaked && samples > 5, "the key appeared in some process's argv (samples {samples})");
    assert_eq!(models_with_key() - before, 2, "one probe from here, one from the host");
    let c = r.check("account.from-host").unwrap_or_else(|| panic!("{:#?}", r.checks));
    assert_eq!(c.status, Status::Pass, "{c:#?}");
    assert!(format!("{:?}", c.evidence).contains(WORKSPACE_PROD_A_ID), "{c:#?}");

    // The host's firewall drops egress to the API: the desktop's probe still passes, the
    // host's fails with its own cause, and the credential is not blamed.
    e.host(0).block_egress(e.fake.addr().port()).unwrap();
    let r = e.check_with(0, on);
    e.host(0).restore_network().unwrap();
    expect(&r, "account.from-host", Domain::AccountContext, Status::Fail, "host_cannot_reach_api");
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass);
}

#[test]
fn truncated_key_on_host() {
    let Some(e) = setup(Preset::TruncatedOnHost, 1) else { return };
    e.keychain(0, "keychain");
    e.deploy(0, &e.secret("host"));
    let r = e.check(0);
    expect(&r, "credential.matches-keychain.main", Domain::Credential, Status::Fail, "key_truncated");
    assert_eq!(r.first_failing_domain, Some(Domain::Credential));
    // the keychain copy itself is fine
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass);
}

/// Issue 14: the `.env` holds the key cut short while the running gateway still has the full
/// one. A restart would load the cut key and take a working agent down: the file is what is
/// wrong, so the fix is a redeploy, and it is the first failing check.
#[test]
fn truncated_file_while_the_gateway_runs_the_full_key_means_redeploy_not_restart() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let key = e.keychain(0, "instance-a");
    e.deploy(0, &key);
    let cut = key[..key.len() - 9].to_string();
    e.host(0).write_env(&[("ANTHROPIC_API_KEY", &cut)]).unwrap(); // not restarted
    let r = e.check(0);
    expect(&r, "credential.stale-process", Domain::Credential, Status::Fail, "key_truncated");
    assert!(r.checks.iter().all(|c| c.cause.as_deref() != Some("restart_needed")), "never 'restart': {:#?}", r.checks);
    let first = r.checks.iter().find(|c| c.status == Status::Fail).unwrap();
    assert_eq!(first.id, "credential.stale-process", "{:#?}", r.checks);
    assert_eq!(first.remedy, Some(clawkeep_core::Remedy::Deploy { instance: "inst-0".into() }));
    assert!(!serde_json::to_string(&r).unwrap().contains(&key[12..50]));
    // The redeploy (the full key written again) makes it green.
    e.deploy(0, &key);
    let r = e.check(0);
    assert_eq!(r.check("credential.stale-process").unwrap().status, Status::Pass, "{:#?}", r.checks);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass);
}

#[test]
fn stale_process_env_after_file_change_means_restart_not_rotate() {
    let Some(e) = setup(Preset::StaleAfterRotation, 1) else { return };
    e.keychain(0, "new");
    e.deploy(0, &e.secret("old"));
    // the file gets the new key, the running gateway is not restarted
    e.host(0).write_env(&[("ANTHROPIC_API_KEY", &e.secret("new"))]).unwrap();
    let r = e.check(0);
    expect(&r, "credential.stale-process", Domain::Credential, Status::Fail, "restart_needed");
    expect(&r, "credential.matches-keychain.main", Domain::Credential, Status::Fail, "restart_needed");
    // after the restart, green
    let out = e.host(0).ssh_restart_gateway().unwrap();
    assert!(out.success());
    let r = e.check(0);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass, "{:#?}", r.checks);
}

fn sqlite_with_profile(key: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.sqlite");
    let sql = format!(
        "CREATE TABLE auth_profiles (id TEXT PRIMARY KEY, provider TEXT, mode TEXT, secret TEXT); INSERT INTO auth_profiles VALUES ('anthropic:default','anthropic','api_key','{key}');"
    );
    let out = std::process::Command::new("sqlite3").arg(&db).arg(&sql).output().expect("sqlite3");
    assert!(out.status.success());
    std::fs::read(&db).unwrap()
}

#[test]
fn auth_profile_beats_the_env_var() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let key = e.keychain(0, "instance-a");
    e.deploy(0, &key);
    e.host(0).write_file(".openclaw/agents/main/agent/openclaw-agent.sqlite", &sqlite_with_profile(&e.secret("instance-b")), 0o600).unwrap();
    let r = e.check(0);
    expect(&r, "credential.matches-keychain.main", Domain::Credential, Status::Fail, "auth_profile_overrides_env");
}

#[test]
fn agent_without_credentials() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    e.ck.edit_instance("inst-0", clawkeep_core::InstancePatch { agents: Some(vec!["main".into(), "ops".into()]), ..Default::default() }).unwrap();
    let key = e.keychain(0, "instance-a");
    // main has an auth profile; the new agent `ops` got nothing, and there is no env key
    e.host(0).write_file(".openclaw/agents/main/agent/openclaw-agent.sqlite", &sqlite_with_profile(&key), 0o600).unwrap();
    e.host(0).write_file(".openclaw/agents/ops/agent/.keep", b"", 0o600).unwrap();
    let r = e.check(0);
    expect(&r, "credential.resolved", Domain::Credential, Status::Fail, "agent_no_credential");
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass);
}

#[test]
fn api_failures_end_to_end() {
    // revoked/inactive, expired, wrong workspace, identity-linked key without header, no credit,
    // org disabled: host healthy, each preset's fake behind the same kind of instance.
    for (preset, role, admin, billing, domain, status, cause) in [
        (Preset::Expired, "instance-a", true, false, Domain::AccountContext, Status::Fail, "key_expired"),
        (Preset::StaleAfterRotation, "old", true, false, Domain::AccountContext, Status::Fail, "key_inactive"),
        (Preset::Expired, "instance-a", false, false, Domain::AccountContext, Status::Fail, "key_invalid"),
        (Preset::WrongWorkspace, "instance-a", false, false, Domain::AccountContext, Status::Fail, "workspace_mismatch"),
        (Preset::IdentityLinkedNoHeader, "instance-a", false, false, Domain::AccountContext, Status::Fail, "workspace_header_required"),
        (Preset::NoCredit, "instance-a", false, true, Domain::AccountContext, Status::Fail, "credit_too_low"),
        (Preset::OrgDisabled, "instance-a", false, false, Domain::AccountContext, Status::Fail, "org_disabled"),
    ] {
        let Some(e) = setup(preset, 1) else { return };
        let key = e.keychain(0, role);
        e.deploy(0, &key);
        if admin {
            e.admin();
        }
        let r = e.check_with(0, CheckOptions { billing_probe: billing, ..Default::default() });
        expect_cause(&r, domain, status, cause);
        let c = r.checks.iter().find(|c| c.cause.as_deref() == Some(cause)).unwrap();
        assert!(c.request_id.as_deref().is_some_and(|id| id.starts_with("req_")), "{preset:?}: request-id shown: {c:#?}");
        // credentials on the host are right: the checklist does not blame them
        assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass, "{preset:?}");
    }
}

#[test]
fn protocol_faults_on_the_host() {
    let Some(e) = setup(Preset::BadModel, 1) else { return };
    let key = e.keychain(0, "instance-a");
    e.deploy(0, &key);
    let h = e.host(0);
    let base = e.fake.base_url();
    // double /v1
    h.update_config(|c| c.base_url = format!("{base}/v1/v1")).unwrap();
    expect(&e.check(0), "protocol.base-url", Domain::Protocol, Status::Fail, "base_url_invalid");
    // a trailing /v1 is version-dependent
    h.update_config(|c| c.base_url = format!("{base}/v1")).unwrap();
    expect(&e.check(0), "protocol.base-url", Domain::Protocol, Status::Warn, "base_url_v1_version_dependent");
    h.update_config(|c| c.base_url = base.clone()).unwrap();
    // wrong api
    let cfg = h.read_file(".openclaw/openclaw.json").unwrap().replace("anthropic-messages", "openai-completions");
    h.write_file(".openclaw/openclaw.json", cfg.as_bytes(), 0o600).unwrap();
    expect(&e.check(0), "protocol.api", Domain::Protocol, Status::Fail, "wrong_api");
    // bad model id
    h.update_config(|c| c.model = format!("anthropic/{}", fake_anthropic::MODEL_TYPO)).unwrap();
    let r = e.check(0);
    expect(&r, "protocol.model", Domain::Protocol, Status::Fail, "model_not_found");
    assert!(r.check("protocol.model").unwrap().request_id.is_some());
    assert_eq!(r.check("protocol.api").unwrap().status, Status::Pass, "update_config re-rendered api");
    // clobbered config
    h.update_config(|c| c.model = "anthropic/claude-sonnet-5".into()).unwrap();
    h.write_file(".openclaw/openclaw.json.clobbered.2026-11-25T08-00-00-000Z", b"{}", 0o600).unwrap();
    let r = e.check(0);
    expect(&r, "protocol.clobbered", Domain::Protocol, Status::Warn, "config_clobbered");
    assert_eq!(r.check("protocol.model").unwrap().status, Status::Pass);
    // stability-first: reasoning params flagged
    e.ck.edit_instance("inst-0", clawkeep_core::InstancePatch { tags: Some(vec!["stability-first".into()]), ..Default::default() }).unwrap();
    let cfg = h
        .read_file(".openclaw/openclaw.json")
        .unwrap()
        .replace("utilityModel: \"\",", "utilityModel: \"\", models: { \"anthropic/claude-sonnet-5\": { params: { thinking: { type: \"adaptive\" } } } },");
    h.write_file(".openclaw/openclaw.json", cfg.as_bytes(), 0o600).unwrap();
    expect(&e.check(0), "protocol.stability", Domain::Protocol, Status::Warn, "unstable_features");
}

#[test]
fn host_baseline_faults() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let key = e.keychain(0, "instance-a");
    e.deploy(0, &key);
    let h = e.host(0);
    assert!(h.ssh("chmod 644 ~/.openclaw/.env").unwrap().success());
    let r = e.check(0);
    expect(&r, "host.file-modes", Domain::Boundary, Status::Fail, "file_mode");
    h.write_file(".bash_history", format!("ls\nexport ANTHROPIC_API_KEY={key}\nopenclaw gateway restart\n").as_bytes(), 0o600).unwrap();
    let r = e.check(0);
    expect(&r, "host.shell-history", Domain::Boundary, Status::Fail, "key_in_shell_history");
    assert!(r.check("host.shell-history").unwrap().evidence[0].value.contains("acme-prod-bot0"), "names the inventory key");
    // world-readable .env was found too
    expect(&r, "host.world-readable", Domain::Boundary, Status::Fail, "key_in_world_readable_file");
}

#[test]
fn key_shared_by_two_instances() {
    let Some(e) = setup(Preset::Healthy, 2) else { return };
    let a = e.keychain(0, "instance-a");
    e.keychain(1, "instance-b");
    e.deploy(0, &a);
    e.deploy(1, &a);
    let (reports, findings) = e.check_all();
    let f = findings.iter().find(|f| f.id == "fleet.shared-key").unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!((f.domain, f.status, f.cause.as_str()), (Domain::Boundary, Status::Fail, "key_shared_across_instances"));
    assert_eq!(f.instances, vec!["inst-0".to_string(), "inst-1".to_string()]);
    expect(&reports[1], "credential.matches-keychain.main", Domain::Boundary, Status::Fail, "key_of_other_instance");
    expect(&reports[1], "boundary.foreign-keys", Domain::Boundary, Status::Fail, "key_of_other_instance");
    expect(&reports[0], "fleet.shared-key", Domain::Boundary, Status::Fail, "key_shared_across_instances");
}

#[test]
fn burst_429_across_instances_of_one_workspace() {
    let Some(e) = setup(Preset::Burst, 3) else { return };
    for i in 0..3 {
        let k = e.keychain(i, &format!("burst-{}", i + 1));
        e.deploy(i, &k);
    }
    // real traffic through the gateways: the shared workspace bucket throttles
    let mut statuses = vec![Vec::new(), Vec::new(), Vec::new()];
    for round in 0..12 {
        for (i, s) in statuses.iter_mut().enumerate() {
            let t = e.host(i).mini_turn().unwrap();
            s.push(t["status"].as_u64().unwrap_or(0) as u16);
            let _ = round;
        }
    }
    let n429: usize = statuses.iter().flatten().filter(|s| **s == 429).count();
    assert!(n429 > 0, "the burst preset throttles: {statuses:?}");
    for (i, s) in statuses.iter().enumerate() {
        e.log_upstream(i, s);
    }
    let (reports, findings) = e.check_all();
    let f = findings.iter().find(|f| f.id == "fleet.shared-limit").unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!((f.domain, f.status, f.cause.as_str()), (Domain::Throughput, Status::Warn, "shared_rate_limit"));
    assert_eq!(f.instances.len(), 3);
    let throttled = reports.iter().find(|r| r.facts.errors_429_1h > 0).unwrap();
    expect_cause(throttled, Domain::Throughput, Status::Warn, "shared_rate_limit");
    assert!(throttled.checks.iter().any(|c| c.cause.as_deref() == Some("rate_limited")));
    assert!(throttled.checks.iter().any(|c| c.cause.as_deref() == Some("fails_after_first_requests")));
    // credentials are not blamed
    assert!(reports.iter().all(|r| r.check("credential.matches-keychain.main").unwrap().status == Status::Pass));
}

#[test]
fn overloaded_529_in_gateway_logs() {
    let Some(e) = setup(Preset::Overloaded, 1) else { return };
    let k = e.keychain(0, "instance-a");
    e.deploy(0, &k);
    let statuses: Vec<u16> = (0..6).map(|_| e.host(0).mini_turn().unwrap()["status"].as_u64().unwrap_or(0) as u16).collect();
    assert!(statuses.contains(&529), "{statuses:?}");
    e.log_upstream(0, &statuses);
    let r = e.check(0);
    expect(&r, "throughput.529", Domain::Throughput, Status::Warn, "overloaded");
    assert!(r.check("throughput.529").unwrap().fix.as_deref().unwrap().contains("don't touch credentials"));
    assert_eq!(r.first_failing_domain, None, "529 is transient: a warning, not a failure");
}

#[test]
fn unreadable_hosts_give_could_not_read() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let k = e.keychain(0, "instance-a");
    e.deploy(0, &k);
    // login-shell noise before the report is ignored
    e.host(0).set_shell_mode(clawkeep_tests::ShellMode::Noisy).unwrap();
    let r = e.check(0);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass, "{:#?}", r.checks);
    e.host(0).set_shell_mode(clawkeep_tests::ShellMode::Normal).unwrap();
    // sshd down (connection refused): its own cause and fix, API checks still run
    e.host(0).stop().unwrap();
    let r = e.check(0);
    expect(&r, "credential.host", Domain::Credential, Status::Fail, "host_unreachable");
    let c = r.check("credential.host").unwrap();
    assert_eq!(c.evidence[0].label, "ssh_connect", "{c:#?}");
    assert!(c.evidence[0].value.contains("cannot connect to instance 'inst-0'"), "{c:#?}");
    // The fix names no CLI command; the action is data (the CLI prints `clawkeep instance edit inst-0 --host HOST --port PORT`).
    assert_eq!(c.remedy, Some(Remedy::EditInstance { instance: "inst-0".into(), fields: vec!["host".into(), "port".into()] }), "{c:#?}");
    assert!(!c.fix.as_deref().unwrap().contains("clawkeep "), "{c:#?}");
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass);
    e.host(0).start().unwrap();
    // a key the host does not accept: the login is refused, with the identity fix
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other_ed25519");
    let st = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other).status().unwrap();
    assert!(st.success());
    let r = e.check_runner(0, &e.runner_with(0, other, Duration::from_secs(5)), CheckOptions::default());
    expect(&r, "credential.host", Domain::Credential, Status::Fail, "ssh_auth_refused");
    let c = r.check("credential.host").unwrap();
    assert_eq!(c.evidence[0].label, "ssh_auth", "{c:#?}");
    assert!(c.evidence[0].value.contains("refused every offered key"), "{c:#?}");
    assert!(c.fix.as_deref().unwrap().contains("set-ssh-identity"), "{c:#?}");
    assert_eq!(c.remedy, Some(Remedy::SetSshIdentity), "{c:#?}");
    // the link cut: the connect times out (bounded), its own message
    e.host(0).cut_network().unwrap();
    let t = std::time::Instant::now();
    let r = e.check_runner(0, &e.runner_with(0, e.world.client_key(), Duration::from_secs(2)), CheckOptions { skip_api: true, ..Default::default() });
    e.host(0).restore_network().unwrap();
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    expect(&r, "credential.host", Domain::Credential, Status::Fail, "host_unreachable");
    let c = r.check("credential.host").unwrap();
    assert_eq!(c.evidence[0].label, "ssh_timeout", "{c:#?}");
    assert!(c.evidence[0].value.contains("no answer within 2 s"), "{c:#?}");
    // history records every run
    assert_eq!(e.ck.check_history("inst-0", 10).unwrap().len(), 4);
}

/// Bytes of the host's sshd log so far (to look only at what a check adds).
fn log_len(h: &Host) -> usize {
    std::fs::read(h.sshd_log()).map(|b| b.len()).unwrap_or(0)
}

fn log_since(h: &Host, from: usize) -> String {
    let b = std::fs::read(h.sshd_log()).unwrap_or_default();
    String::from_utf8_lossy(&b[from.min(b.len())..]).into_owned()
}

#[test]
fn unpinned_host_is_not_contacted_and_says_trust_first() {
    let Some(e) = setup_with(Preset::Healthy, 1, false) else { return };
    let k = e.keychain(0, "instance-a");
    e.deploy(0, &k);
    let h = e.host(0);
    let before = log_len(h);
    let r = e.check(0);
    expect(&r, "credential.host", Domain::Credential, Status::Fail, "host_key_untrusted");
    let c = r.check("credential.host").unwrap();
    assert!(c.summary.contains("trust it first"), "{c:#?}");
    assert_eq!(c.evidence[0].label, "host_key_unknown");
    assert!(matches!(&c.remedy, Some(Remedy::TrustHost { instance, replace: false, .. }) if instance == "inst-0"), "{c:#?}");
    // the API domains still run
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass, "{:#?}", r.checks);
    assert!(r.check("protocol.request-shape").is_some_and(|c| c.status == Status::Pass), "{:#?}", r.checks);
    // nothing reached the host: no connection at all
    let log = log_since(h, before);
    assert!(!log.contains("Connection from") && !log.contains("Accepted"), "{log}");
    // once trusted, the host part reads
    e.ck.pin_host_key("inst-0", h.host_key_fingerprint()).unwrap();
    let r = e.check(0);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass, "{:#?}", r.checks);
}

#[test]
fn replaced_host_key_is_refused_with_both_fingerprints_and_nothing_runs() {
    let Some(e) = setup(Preset::Healthy, 1) else { return };
    let k = e.keychain(0, "instance-a");
    e.deploy(0, &k);
    let h = e.host(0);
    // The facts script leaves no trace on the host, so sshd's log (LogLevel VERBOSE) is the
    // witness: no login, no session means nothing ran.
    let pinned = h.host_key_fingerprint().to_string();
    let presented = h.replace_host_key().unwrap();
    assert_ne!(pinned, presented);
    let before = log_len(h);
    let r = e.check(0);
    let log = log_since(h, before);
    h.restore_host_key().unwrap();
    expect(&r, "credential.host", Domain::Credential, Status::Fail, "host_key_mismatch");
    let c = r.check("credential.host").unwrap();
    assert!(c.summary.contains("HOST KEY MISMATCH"), "{c:#?}");
    let text = format!("{} {}", c.evidence[0].value, c.fix.as_deref().unwrap());
    assert!(text.contains(&pinned) && text.contains(&presented), "both fingerprints named: {c:#?}");
    assert_eq!(c.remedy, Some(Remedy::TrustHost { instance: "inst-0".into(), fingerprint: Some(presented.clone()), replace: true }), "{c:#?}");
    // refused during the handshake: no authentication, so no session and no script
    assert!(!log.contains("Accepted publickey") && !log.contains("session opened"), "{log}");
    // the API domains still run
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass);
    // with the original key back the pin matches again
    let r = e.check(0);
    assert_eq!(r.check("credential.matches-keychain.main").unwrap().status, Status::Pass, "{:#?}", r.checks);
}

impl E {
    /// Runs the CLI on this test's data dir and keychain service: (exit code, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = std::process::Command::new(clawkeep_tests::clawkeep_bin())
            .args(args)
            .env("CLAWKEEP_HOME", self._dir.path())
            .env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service)
            .env_remove("SSH_AUTH_SOCK")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }
}

#[test]
fn cli_check_uses_the_pinned_ssh_layer() {
    let Some(e) = setup_with(Preset::Healthy, 1, false) else { return };
    let k = e.keychain(0, "instance-a");
    e.deploy(0, &k);
    let h = e.host(0);
    let key = e.world.client_key();
    assert_eq!(e.cli(&["settings", "set-base-url", &e.fake.base_url()]).0, 0);
    assert_eq!(e.cli(&["settings", "set-ssh-identity", "--key-file", &key.to_string_lossy()]).0, 0);
    // Unpinned: the host part says "trust it first"; nothing reached the host.
    let before = log_len(h);
    let (code, out, err) = e.cli(&["--json", "check", "inst-0"]);
    assert_eq!(code, 1, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let host = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "credential.host").unwrap();
    assert_eq!(host["cause"], "host_key_untrusted", "{host}");
    assert_eq!(host["remedy"]["action"], "trust_host", "{host}");
    assert_eq!(host["remedy"]["instance"], "inst-0", "{host}");
    assert!(!log_since(h, before).contains("Connection from"));
    // Trusted: the host part reads over the pinned session.
    assert_eq!(e.cli(&["host", "trust", "inst-0", "--fingerprint", h.host_key_fingerprint()]).0, 0);
    let (code, out, err) = e.cli(&["check", "inst-0"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("credential.matches-keychain.main"), "{out}");
    // Host key replaced: refused, both fingerprints shown, nothing run.
    let presented = h.replace_host_key().unwrap();
    let before = log_len(h);
    let (code, out, err) = e.cli(&["check", "inst-0"]);
    let log = log_since(h, before);
    h.restore_host_key().unwrap();
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("HOST KEY MISMATCH") && out.contains(h.host_key_fingerprint()) && out.contains(&presented), "{out}");
    assert!(!log.contains("Accepted publickey"), "{log}");
    // never a key in what the CLI printed
    for f in e.fake.fixture_keys() {
        assert!(!out.contains(&f.key[12..40]) && !err.contains(&f.key[12..40]));
    }
}
