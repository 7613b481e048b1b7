//! The deploy flow's outcome when the host cannot be reached, without root or sshd: a pinned
//! instance on a closed 127.0.0.1 port. Both front ends run this one flow (`run_deploy`); the
//! CLI used to record such a run `refused`, the desktop `failed`. It is `failed`: nothing was
//! decided about the host (`refused` is for Clawkeep's own refusals: trust, blockers, a plan
//! that changed since it was reviewed), and a retry may work.

use std::sync::Arc;

use clawkeep_core::deploy::{no_progress, CancellationToken, Outcome};
use clawkeep_core::deploy_drive::{DeployRequest, HostRoute};
use clawkeep_core::ssh::SshAuth;
use clawkeep_core::{Clawkeep, InstanceSpec, KeySpec, MemoryKeychain, OpenOptions, Secret, SshCredentials};
use fake_anthropic::{FakeAnthropic, MintKey, Preset, WORKSPACE_PROD_A_ID};

#[test]
fn an_unreachable_host_is_recorded_failed_not_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ck = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().into()), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    // A port nobody listens on: the connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ck.add_instance(InstanceSpec {
        name: "gone".into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "bot".into(),
        ssh_host: "127.0.0.1".into(),
        ssh_port: Some(port),
        ssh_user: "nobody".into(),
        ..Default::default()
    })
    .unwrap();
    ck.pin_host_key("gone", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let minted = fake.mint_key(MintKey::api("openclaw-acme-prod-bot", Some(WORKSPACE_PROD_A_ID))).unwrap();
    ck.add_key(KeySpec { name: "openclaw-acme-prod-bot".into(), instance: Some("gone".into()), ..Default::default() }, Secret::new(minted.key)).unwrap();

    let creds = SshCredentials::Given(SshAuth::Agent);
    let route = HostRoute { jump: None, connect_timeout: Some(std::time::Duration::from_secs(3)) };
    for apply in [false, true] {
        let req = DeployRequest { apply, route: route.clone(), ..Default::default() };
        let r = ck.run_deploy("gone", None, &req, &creds, no_progress(), &CancellationToken::new()).unwrap();
        assert_eq!(r.outcome, Outcome::Failed, "apply {apply}: {:?}", r.error);
        assert_eq!(r.error.as_ref().map(|e| e.code.as_str()), Some("ssh_connect"), "{:?}", r.error);
        assert!(r.plan.is_none() && r.steps.is_empty(), "nothing was read from the host: {:?}", r.steps);
    }
    let history = ck.deployments(Some("gone"), 10).unwrap();
    assert_eq!(history.len(), 2, "both runs are recorded");
    assert!(history.iter().all(|d| d.outcome == "failed"), "{history:?}");
}
