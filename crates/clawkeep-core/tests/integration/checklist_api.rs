//! The checklist's API side against the local fake Anthropic API (real HTTP on 127.0.0.1), one
//! test per failure the fake's presets produce, asserting domain, status and cause code. Host
//! facts come from a canned report here (the SSH end-to-end tests live in the tests crate).

use std::sync::Arc;

use clawkeep_core::anthropic::AnthropicClient;
use clawkeep_core::checklist::runner::CannedRunner;
use clawkeep_core::checklist::{run_instance, CheckOptions, Domain, InstanceReport, Status};
use clawkeep_core::model::keyfmt;
use clawkeep_core::{Clawkeep, InstanceSpec, KeySpec, MemoryKeychain, OpenOptions, Secret};
use fake_anthropic::{ErrorInjection, FakeAnthropic, Preset, KEY_INSTANCE_A_ID, ORG_ID, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID};

struct T {
    _dir: tempfile::TempDir,
    ck: Clawkeep,
    fake: FakeAnthropic,
}

async fn world(preset: Preset) -> T {
    let fake = FakeAnthropic::start(preset).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ck =
        Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), os_user: Some("tester".into()), ..Default::default() })
            .unwrap();
    ck.add_instance(InstanceSpec {
        name: "acme-prod".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "support-bot".into(),
        ssh_host: "127.0.1.1".into(),
        ssh_user: "ckh1".into(),
        expected_org_id: Some(ORG_ID.into()),
        expected_workspace_id: Some(WORKSPACE_PROD_A_ID.into()),
        ..Default::default()
    })
    .unwrap();
    T { _dir: dir, ck, fake }
}

impl T {
    fn add_key(&self, role: &str, with_id: bool) -> String {
        let k = self.fake.fixture_key(role).unwrap_or_else(|| panic!("fixture {role}"));
        let name = self.ck.suggest_key_name("acme-prod").unwrap();
        self.ck
            .add_key(
                KeySpec { name, instance: Some("acme-prod".into()), anthropic_key_id: if with_id { Some(k.id.clone()) } else { None }, allow_name: true, ..Default::default() },
                Secret::new(k.key.clone()),
            )
            .unwrap();
        k.key
    }

    fn add_admin(&self) {
        let k = self.fake.fixture_key("admin").unwrap();
        self.ck.add_key(KeySpec { name: "acme-admin".into(), allow_name: true, ..Default::default() }, Secret::new(k.key)).unwrap();
    }

    async fn run(&self, opts: CheckOptions, host: Option<String>) -> InstanceReport {
        let ctx = self.ck.check_context("acme-prod").unwrap();
        let client = AnthropicClient::new(&self.fake.base_url()).unwrap();
        let skip_host = host.is_none();
        let runner = CannedRunner(Ok(host.unwrap_or_default().into_bytes()));
        let r = run_instance(&ctx, &runner, &client, &CheckOptions { skip_host, ..opts }).await;
        // Never a key in the report.
        let json = serde_json::to_string(&r).unwrap();
        for k in self.fake.fixture_keys() {
            assert!(!json.contains(&k.key[10..]), "report leaks a key");
        }
        r
    }
}

fn assert_check(r: &InstanceReport, id: &str, domain: Domain, status: Status, cause: &str) {
    let c = r.check(id).unwrap_or_else(|| panic!("no check {id} in {:#?}", r.checks));
    assert_eq!((c.domain, c.status, c.cause.as_deref()), (domain, status, Some(cause)), "{c:#?}");
}

/// A canned host report (what the facts script prints) with this config and `.env` key.
fn host_report(config: &str, env_key: Option<&str>) -> String {
    // the nonce is random per run: CannedRunner can't know it, so the engine must reject this
    let mut s = String::new();
    s.push_str(config);
    if let Some(k) = env_key {
        s.push_str(&keyfmt::fingerprint(k));
    }
    s
}

#[tokio::test]
async fn healthy_key_passes_account_and_protocol() {
    let t = world(Preset::Healthy).await;
    t.add_key("instance-a", true);
    t.add_admin();
    let r = t.run(CheckOptions { billing_probe: true, ..Default::default() }, None).await;
    for id in ["account.auth", "account.workspace", "account.admin", "account.billing", "protocol.request-shape"] {
        assert_eq!(r.check(id).map(|c| c.status), Some(Status::Pass), "{id}: {:#?}", r.check(id));
    }
    assert_eq!(r.facts.organization_id.as_deref(), Some(ORG_ID));
    assert_eq!(r.facts.workspace_id.as_deref(), Some(WORKSPACE_PROD_A_ID));
    assert_eq!(r.first_failing_domain, None, "{:#?}", r.checks);
}

#[tokio::test]
async fn client_probe_details() {
    let t = world(Preset::BadModel).await;
    let k = Secret::new(t.fake.fixture_key("instance-a").unwrap().key);
    let c = AnthropicClient::new(&t.fake.base_url()).unwrap();
    let m = c.models_list(&k, None).await.unwrap();
    assert_eq!(m.status, 200);
    assert!(m.request_id.as_deref().unwrap().starts_with("req_"));
    let g = c.model_get(&k, fake_anthropic::MODEL_TYPO, None).await.unwrap();
    assert_eq!(g.status, 404);
    assert_eq!(g.error.as_ref().unwrap().kind, "not_found_error");
    assert!(g.request_id.is_some());
    let ct = c.count_tokens(&k, fake_anthropic::MODEL_SONNET_5, None).await.unwrap();
    assert_eq!(ct.status, 200, "{ct:?}");
    assert!(!ct.rate_limit.is_empty(), "count_tokens carries rate-limit headers");
    // the key never reaches a URL or a debug print
    assert!(!format!("{m:?}{g:?}{ct:?}").contains(&k.expose()[10..]));
    // unreachable API is a transport error with a stable code
    let dead = AnthropicClient::new("http://127.0.0.1:1").unwrap();
    let e = dead.models_list(&k, None).await.unwrap_err();
    assert_eq!(e.code(), "api_unreachable");
}

#[tokio::test]
async fn expired_key_is_account_context_and_admin_says_expired() {
    let t = world(Preset::Expired).await;
    t.add_key("instance-a", true);
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "account.auth", Domain::AccountContext, Status::Fail, "key_invalid");
    assert!(r.check("account.auth").unwrap().request_id.is_some(), "every API failure shows its request-id");
    t.add_admin();
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "account.auth", Domain::AccountContext, Status::Fail, "key_expired");
    assert_check(&r, "account.admin", Domain::AccountContext, Status::Fail, "key_expired");
    assert_eq!(r.first_failing_domain, Some(Domain::AccountContext));
}

#[tokio::test]
async fn inactive_revoked_key_found_by_hint_without_key_id() {
    let t = world(Preset::StaleAfterRotation).await;
    t.add_key("old", false);
    t.add_admin();
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "account.auth", Domain::AccountContext, Status::Fail, "key_inactive");
}

#[tokio::test]
async fn wrong_workspace() {
    let t = world(Preset::WrongWorkspace).await;
    t.add_key("instance-a", true);
    t.add_admin();
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "account.workspace", Domain::AccountContext, Status::Fail, "workspace_mismatch");
    let ev = &r.check("account.workspace").unwrap().evidence;
    assert!(ev.iter().any(|e| e.value == WORKSPACE_PROD_B_ID), "{ev:?}");
    assert_check(&r, "account.admin", Domain::AccountContext, Status::Fail, "workspace_mismatch");
}

#[tokio::test]
async fn identity_linked_key_without_header() {
    let t = world(Preset::IdentityLinkedNoHeader).await;
    t.add_key("instance-a", true);
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "account.auth", Domain::AccountContext, Status::Fail, "workspace_header_required");
}

#[tokio::test]
async fn no_credit_needs_the_opt_in_probe() {
    let t = world(Preset::NoCredit).await;
    t.add_key("instance-a", true);
    let r = t.run(CheckOptions::default(), None).await;
    assert_eq!(r.check("account.billing").unwrap().status, Status::Skip, "billing probe is off by default");
    assert!(t.fake.requests().iter().all(|q| q.path != "/v1/messages"), "no paid request without opt-in");
    let r = t.run(CheckOptions { billing_probe: true, ..Default::default() }, None).await;
    assert_check(&r, "account.billing", Domain::AccountContext, Status::Fail, "credit_too_low");
    assert_eq!(r.check("account.auth").unwrap().status, Status::Pass);
}

#[tokio::test]
async fn org_disabled() {
    let t = world(Preset::OrgDisabled).await;
    t.add_key("instance-a", true);
    let r = t.run(CheckOptions::default(), None).await;
    let c = r.checks.iter().find(|c| c.cause.as_deref() == Some("org_disabled")).unwrap_or_else(|| panic!("{:#?}", r.checks));
    assert_eq!((c.domain, c.status), (Domain::AccountContext, Status::Fail));
    assert!(c.request_id.is_some());
}

#[tokio::test]
async fn overloaded_529_is_throughput_not_credentials() {
    let t = world(Preset::Overloaded).await;
    t.add_key("instance-a", true);
    t.fake.inject_error(ErrorInjection { path_prefix: "/v1/models".into(), count: 1, status: 529, ..Default::default() });
    let r = t.run(CheckOptions::default(), None).await;
    let c = r.checks.iter().find(|c| c.cause.as_deref() == Some("overloaded")).unwrap_or_else(|| panic!("{:#?}", r.checks));
    assert_eq!((c.domain, c.status), (Domain::Throughput, Status::Warn));
    assert!(c.fix.as_deref().unwrap().contains("don't touch credentials"));
    assert!(c.request_id.is_some());
    // count_tokens overloaded too
    t.fake.inject_error(ErrorInjection { path_prefix: "/v1/messages/count_tokens".into(), count: 1, status: 529, ..Default::default() });
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "throughput.probe", Domain::Throughput, Status::Warn, "overloaded");
}

#[tokio::test]
async fn oauth_token_and_admin_key_as_instance_key() {
    let t = world(Preset::OauthTokenAsKey).await;
    t.add_key("instance-a", true);
    let r = t.run(CheckOptions::default(), None).await;
    assert_check(&r, "account.auth", Domain::AccountContext, Status::Fail, "oauth_token_as_key");
}

#[tokio::test]
async fn canned_host_output_without_our_nonce_is_could_not_read() {
    let t = world(Preset::Healthy).await;
    t.add_key("instance-a", true);
    let forged = host_report("CLAWKEEP-FACTS 1 guessed\nkey|108|x|", Some("y"));
    let r = t.run(CheckOptions::default(), Some(forged)).await;
    assert_check(&r, "credential.host", Domain::Credential, Status::Fail, "host_unreadable");
    assert_eq!(r.first_failing_domain, Some(Domain::Credential));
    let _ = KEY_INSTANCE_A_ID;
}

#[test]
fn history_is_stored_and_listed() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let t = world(Preset::Healthy).await;
        t.add_key("instance-a", true);
        let r = t.run(CheckOptions::default(), None).await;
        let id = t.ck.record_check(&r).unwrap();
        let h = t.ck.check_history("acme-prod", 10).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].id, id);
        assert_eq!(h[0].status, r.status);
        let back = t.ck.store().check_report(id).unwrap().unwrap();
        assert_eq!(back, r);
        assert_eq!(t.ck.check_context("acme-prod").unwrap().history.len(), 1);
    });
}

/// A fleet run asks each distinct API question once: the admin key list (needed by every
/// instance whose key has no Console id) is fetched once, and instances presenting the same key
/// share its probes.
#[tokio::test]
async fn fleet_run_shares_api_probes() {
    use clawkeep_core::checklist::{run_fleet, FleetJob, HostRunner};
    let t = world(Preset::Healthy).await;
    t.add_key("instance-a", false);
    t.ck.add_instance(InstanceSpec {
        name: "acme-prod-2".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "ops-bot".into(),
        ssh_host: "127.0.1.2".into(),
        ssh_user: "ckh2".into(),
        ..Default::default()
    })
    .unwrap();
    let k = t.fake.fixture_key("instance-b").unwrap();
    t.ck.add_key(KeySpec { name: "openclaw-acme-prod-ops-bot".into(), instance: Some("acme-prod-2".into()), allow_name: true, ..Default::default() }, Secret::new(k.key.clone()))
        .unwrap();
    t.add_admin();
    let client = AnthropicClient::new(&t.fake.base_url()).unwrap();
    let job = |name: &str| -> FleetJob {
        let r: Box<dyn HostRunner> = Box::new(CannedRunner(Ok(Vec::new())));
        (t.ck.check_context(name).unwrap(), r)
    };
    t.fake.clear_requests();
    // acme-prod twice (as if two instances presented its key) and acme-prod-2 once
    let jobs = vec![job("acme-prod"), job("acme-prod-2"), job("acme-prod")];
    let cancel = clawkeep_core::deploy::CancellationToken::new();
    let reports = run_fleet(jobs, &client, &CheckOptions { skip_host: true, ..Default::default() }, 8, &cancel, Arc::new(|_, _, _| {})).await;
    assert_eq!(reports.iter().map(|r| r.instance.as_str()).collect::<Vec<_>>(), ["acme-prod", "acme-prod-2", "acme-prod"], "reports in job order");
    for r in &reports {
        assert_eq!(r.check("account.auth").unwrap().status, Status::Pass, "{:#?}", r.checks);
    }
    let reqs = t.fake.requests();
    let count = |p: &str| reqs.iter().filter(|r| r.path == p).count();
    assert_eq!(count("/v1/organizations/api_keys"), 1, "admin key list asked once: {:?}", reqs.iter().map(|r| &r.path).collect::<Vec<_>>());
    assert_eq!(count("/v1/models"), 2, "one models list per distinct key");
    assert_eq!(count("/v1/messages/count_tokens"), 2, "one count_tokens per distinct key and model");
}
