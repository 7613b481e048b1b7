//! End-to-end checklist tests: real sshd test hosts (one SSH session per host, the facts
//! script on stdin), the fake Anthropic API over real HTTP on 127.0.0.1, and the real Secret
//! Service (a unique keychain service and a temp data dir per test). One test per failure the
//! fake's presets and the host controls can produce, asserting domain, status and cause code.
//! They need root + openssh-server (CI fails without them; elsewhere they skip).

use std::sync::Arc;
use std::time::Duration;

use clawkeep_core::anthropic::AnthropicClient;
use clawkeep_core::checklist::{fleet, run_instance, CheckOptions, Domain, InstanceReport, OpenSshRunner, Status};
use clawkeep_core::{Clawkeep, InstanceSpec, KeySpec, OpenOptions, OsKeychain, Secret, ServiceManager};
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
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        panic!("run under scripts/with-secret-service.sh (real Secret Service)");
    }
    let fake = FakeAnthropic::start_blocking(preset).unwrap();
    let world = World::start_or_skip(WorldOptions::hosts(hosts).base_url(fake.base_url()))?;
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
                KeySpec { name: format!("acme-prod-bot{i}-{}", role.replace('_', "-")), instance: Some(format!("inst-{i}")), anthropic_key_id: Some(k.id.clone()), allow_name: true, ..Default::default() },
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
    fn runner(&self, i: usize) -> OpenSshRunner {
        let h = self.host(i);
        OpenSshRunner {
            host: h.addr().to_string(),
            port: h.port(),
            user: h.user().into(),
            identity: None,
            config: Some(self.world.ssh_config().to_string_lossy().into()),
            timeout: Duration::from_secs(30),
        }
    }
    fn check_with(&self, i: usize, opts: CheckOptions) -> InstanceReport {
        let ctx = self.ck.check_context(&format!("inst-{i}")).unwrap();
        let client = AnthropicClient::new(&self.fake.base_url()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let r = rt.block_on(run_instance(&ctx, &self.runner(i), &client, &opts));
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
        if all { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
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
    assert!(
        r.checks.iter().any(|c| c.domain == domain && c.status == status && c.cause.as_deref() == Some(cause)),
        "no {status:?} {cause} in {domain:?}:\n{:#?}",
        r.checks
    );
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
    let cfg = h.read_file(".openclaw/openclaw.json").unwrap().replace("utilityModel: \"\",", "utilityModel: \"\", models: { \"anthropic/claude-sonnet-5\": { params: { thinking: { type: \"adaptive\" } } } },");
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
    // sshd down: could not read, API checks still run
    e.host(0).stop().unwrap();
    let r = e.check(0);
    expect(&r, "credential.host", Domain::Credential, Status::Fail, "host_unreadable");
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass);
    e.host(0).start().unwrap();
    // history records every run
    assert_eq!(e.ck.check_history("inst-0", 10).unwrap().len(), 2);
}
