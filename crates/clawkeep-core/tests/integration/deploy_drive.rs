//! The deploy flow's outcome when the host cannot be reached, without root or sshd: a pinned
//! instance on a closed 127.0.0.1 port. Both front ends run this one flow (`run_deploy`); the
//! CLI used to record such a run `refused`, the desktop `failed`. It is `failed`: nothing was
//! decided about the host (`refused` is for Clawkeep's own refusals: trust, blockers, a plan
//! that changed since it was reviewed), and a retry may work.

use std::sync::Arc;

use clawkeep_core::api::deploys::DeployRequest;
use clawkeep_core::api::hosts::HostRoute;
use clawkeep_core::deploy::{no_progress, CancellationToken, Outcome};
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

/// The front end's passphrase prompt is asked only for an encrypted key file, once per flow;
/// the configured identity never prompts; a given login is used as is.
#[test]
fn the_passphrase_prompt_is_asked_only_for_an_encrypted_key_file() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let ck = Clawkeep::open(OpenOptions { data_dir: Some(dir.path().join("data")), keychain: Some(Arc::new(MemoryKeychain::new())), ..Default::default() }).unwrap();
    let keygen = |name: &str, pass: &str| {
        let p = dir.path().join(name);
        let ok = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", pass, "-f"]).arg(&p).status().map(|s| s.success()).unwrap_or(false);
        assert!(ok, "ssh-keygen (openssh-client) is needed");
        p
    };
    let (plain, locked) = (keygen("plain", ""), keygen("locked", "sesame-open-42"));
    let asked = Arc::new(AtomicUsize::new(0));
    let prompt = {
        let asked = asked.clone();
        SshCredentials::Prompt(Arc::new(move |_path: &std::path::Path| {
            asked.fetch_add(1, Ordering::SeqCst);
            Ok(Secret::new("sesame-open-42".into()))
        }))
    };

    // The agent: nothing to ask.
    assert!(matches!(ck.ssh_login(&prompt).unwrap(), SshAuth::Agent));
    // An unencrypted key file: nothing to ask.
    ck.set_ssh_identity(clawkeep_core::SshIdentity::KeyFile { path: plain.to_string_lossy().into() }).unwrap();
    assert!(matches!(ck.ssh_login(&prompt).unwrap(), SshAuth::KeyFile { passphrase: None, .. }));
    assert_eq!(asked.load(Ordering::SeqCst), 0);
    // An encrypted one: asked once, the answer travels with the login.
    ck.set_ssh_identity(clawkeep_core::SshIdentity::KeyFile { path: locked.to_string_lossy().into() }).unwrap();
    match ck.ssh_login(&prompt).unwrap() {
        SshAuth::KeyFile { path, passphrase: Some(p) } => assert!(path == locked && p.expose() == "sesame-open-42"),
        other => panic!("{other:?}"),
    }
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // The configured identity never prompts (the desktop unlocks the file for its session).
    assert!(matches!(ck.ssh_login(&SshCredentials::Configured).unwrap(), SshAuth::KeyFile { passphrase: None, .. }));
    assert!(ck.unlock_ssh_key(Secret::new("sesame-open-42".into())).unwrap());
    assert!(matches!(ck.ssh_login(&SshCredentials::Configured).unwrap(), SshAuth::KeyFile { passphrase: Some(_), .. }));
    // Unlocked for the process, the prompt is not needed either.
    assert!(matches!(ck.ssh_login(&prompt).unwrap(), SshAuth::KeyFile { passphrase: Some(_), .. }));
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    // A check run without hosts resolves no login at all.
    let refusing = SshCredentials::Prompt(Arc::new(|_: &std::path::Path| panic!("asked for a passphrase with --no-host")));
    ck.lock_ssh_key();
    let opts = clawkeep_core::checklist::CheckOptions { skip_host: true, skip_api: true, ..Default::default() };
    let _ = ck.run_checks(&[], &opts, 1, &refusing, &CancellationToken::new(), Arc::new(|_, _, _| {}));
}
