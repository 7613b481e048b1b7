//! The acid test of the test world: a key minted by the fake's console, written into a test
//! host's `~/.openclaw/.env` over SSH by the test itself, reaches the fake as `x-api-key`
//! through the REAL OpenClaw gateway running on that host. Then the key is rotated the way
//! Clawkeep deploys (write `.env`, run the host's restart command) and the next turn carries
//! the new key.
//!
//! Needs root, openssh-server and the npm registry (first run installs OpenClaw into
//! `target/openclaw`, ~30–45 s). Slow by nature: OpenClaw commands take 4–30 s on 2 cores, so
//! every wait is generous but bounded.

use clawkeep_tests::fake::FakeControl;
use clawkeep_tests::layout::key_sha256;
use clawkeep_tests::{openclaw, sys, World, WorldOptions};
use fake_anthropic::{FakeAnthropic, Preset};
use std::time::{Duration, Instant};

fn push_env(h: &clawkeep_tests::Host, key: &str) {
    // like a deploy: atomic replace, mode 600, the key only on stdin (never on a command line)
    let out = h
        .ssh_with(
            "umask 077; cat > ~/.openclaw/.env.new && mv -f ~/.openclaw/.env.new ~/.openclaw/.env",
            Some(format!("ANTHROPIC_API_KEY={key}\n").as_bytes()),
            Duration::from_secs(30),
        )
        .unwrap();
    assert!(out.success(), "{}", out.stderr_str());
}

#[test]
fn minted_key_reaches_the_fake_through_the_real_openclaw_gateway() {
    let Some(world) = World::start_or_skip(WorldOptions::hosts(1).without_gateway()) else { return };
    let h = world.host(0);
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).expect("start fake");
    let ctl = FakeControl::new(fake.base_url());

    let t = Instant::now();
    let oc = openclaw::ensure_installed().unwrap();
    eprintln!("MEASURE openclaw install (or cache check): {:?}", t.elapsed());

    let key_a = ctl.create_key("roundtrip-a").unwrap();
    push_env(h, &key_a.key);

    let t = Instant::now();
    oc.start_gateway(h, &fake.base_url()).unwrap();
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();
    eprintln!("MEASURE openclaw gateway ready: {:?}", t.elapsed());
    let gw_pid = h.gateway_pid().unwrap();

    let t = Instant::now();
    let turn = oc.agent_turn(h, "Say hello", openclaw::TURN_TIMEOUT).unwrap();
    eprintln!("MEASURE first agent turn: {:?}", t.elapsed());
    assert!(
        turn.ok(),
        "turn failed: code {:?}\nstdout: {}\nstderr: {}\ngateway log:\n{}",
        turn.output.code,
        turn.output.stdout_str(),
        turn.output.stderr_str(),
        clawkeep_tests::world::tail(&h.gateway_log(), 30)
    );
    let seen = ctl.messages_with_key(&key_a.key).unwrap();
    assert!(!seen.is_empty(), "the fake saw no /v1/messages with key A: {:?}", ctl.requests().unwrap());
    assert!(seen.iter().all(|r| r.auth_scheme.as_deref().is_none_or(|s| s.contains("x-api-key"))), "{seen:?}");
    assert!(seen.iter().any(|r| r.status == Some(200)), "{seen:?}");
    // nothing else (no utility model, no other credential) reached the fake
    let want_a = key_sha256(&key_a.key);
    for r in ctl.requests().unwrap() {
        assert_eq!(r.api_key_sha256.as_deref(), Some(want_a.as_str()), "unexpected request {r:?}");
    }

    // rotation the way Clawkeep deploys: new .env, then the instance's restart command
    let key_b = ctl.create_key("roundtrip-b").unwrap();
    push_env(h, &key_b.key);
    let out = h.ssh(h.restart_command()).unwrap();
    assert!(out.success(), "{} {}", out.stdout_str(), out.stderr_str());
    assert_ne!(h.gateway_pid(), Some(gw_pid), "a new gateway process");
    let t = Instant::now();
    h.wait_gateway_ready(openclaw::READY_TIMEOUT).unwrap();
    let turn = oc.agent_turn(h, "Say hello again", openclaw::TURN_TIMEOUT).unwrap();
    eprintln!("MEASURE restart + ready + second turn: {:?}", t.elapsed());
    assert!(turn.ok(), "second turn failed: {}\n{}", turn.output.stdout_str(), turn.output.stderr_str());
    assert!(!ctl.messages_with_key(&key_b.key).unwrap().is_empty(), "key B never reached the fake");

    // the gateway never logged either key in full
    let logs = format!("{}{}", h.gateway_log(), h.read_file(".openclaw/logs/openclaw.log").unwrap_or_default());
    assert!(!logs.contains(&key_a.key) && !logs.contains(&key_b.key), "a full key appeared in the gateway logs");
    h.stop_gateway().unwrap();
    assert!(sys::wait_until(Duration::from_secs(10), Duration::from_millis(50), || h.gateway_pid().is_none()));
}
