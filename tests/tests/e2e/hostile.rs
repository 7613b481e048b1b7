//! Hostile hosts (issue 12, "prove it stays fixed"): real sshd test hosts whose login shell
//! prints banners, escape sequences, binary noise or 64 MB before every command, whose
//! `openclaw.json` is 10 MB or not UTF-8, and inventory values (agent ids, state dirs, …) that
//! try to inject shell. Every command (`host trust`, `deploy --dry-run`, `check`) must end by
//! itself with a clear result (exit 0, or exit 1 with an error code / a report; never a panic,
//! a signal or a hang), in bounded memory, and print no control characters from the host.
//!
//! The 120 s deadline per command is a hang detector, not a timing assertion. Peak memory is
//! measured with time(1). Real components: sshd test hosts, the real Secret Service (run under
//! `scripts/with-secret-service.sh`), the fake Anthropic API on 127.0.0.1. Needs root +
//! openssh-server; elsewhere it skips with a reason, in CI it fails.

use clawkeep_tests::cli::{fake_key, Ck, Out};
use clawkeep_tests::{Host, ShellMode, World, WorldOptions};
use fake_anthropic::{FakeAnthropic, Preset, WORKSPACE_PROD_A_ID};
use std::time::Duration;

const RESTART: &str = clawkeep_tests::scripts::RESTART_COMMAND;
/// Peak resident memory allowed to one command (a bound, generous: a debug build's baseline is
/// well under 100 MiB; a command holding several copies of 64 MB of noise would cross it).
const MAX_RSS_KIB: u64 = 384 * 1024;

fn ck_for(w: &World, fake: &FakeAnthropic) -> Ck {
    let mut ck = Ck::for_world(w);
    ck.timeout = Duration::from_secs(120);
    ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
    ck
}

/// Instance `name` for `h`, trusted, with an active key.
fn add(ck: &Ck, h: &Host, name: &str) {
    ck.add_instance(h, name, RESTART, &["--workspace-id", WORKSPACE_PROD_A_ID]).ok();
    ck.trust(h, name).ok();
    ck.add_key(name, &format!("openclaw-acme-prod-bot-{name}"), &fake_key()).ok();
}

/// Control characters other than line breaks and tabs (ESC, CSI, OSC, BEL, NUL, …).
fn control_chars(s: &str) -> Vec<String> {
    s.chars().filter(|c| c.is_control() && !matches!(c, '\n' | '\t')).map(|c| format!("U+{:04X}", c as u32)).collect()
}

/// Runs one command against a hostile host and collects what is wrong with how it ended.
fn probe(ck: &Ck, args: &[&str], problems: &mut Vec<String>) -> Out {
    let (out, rss) = ck.run_measured(args, None);
    let what = format!("`clawkeep {}`", out.args);
    let first = |s: &str| s.lines().find(|l| !l.trim().is_empty()).unwrap_or("").chars().take(200).collect::<String>();
    eprintln!("{what}: exit {:?}, peak {:?} KiB, stdout {} bytes | {} | {}", out.code, rss, out.stdout_total, first(&out.stdout), first(&out.stderr));
    if out.timed_out || out.code == Some(137) {
        problems.push(format!("{what}: did not end within {:?} (hang)", ck.timeout));
    } else if !matches!(out.code, Some(0) | Some(1)) {
        problems.push(format!("{what}: exit {:?} (a signal or a usage error), stderr: {}", out.code, first(&out.stderr)));
    }
    if out.stderr.contains("panicked") {
        problems.push(format!("{what}: panic: {}", first(&out.stderr)));
    }
    match rss {
        Some(kb) if kb > MAX_RSS_KIB => problems.push(format!("{what}: peak memory {} MiB (bound {} MiB)", kb / 1024, MAX_RSS_KIB / 1024)),
        None => problems.push(format!("{what}: no memory figure from time(1)")),
        _ => {}
    }
    if out.stdout_total > 1 << 20 {
        problems.push(format!("{what}: printed {} bytes (the host's noise reached the terminal)", out.stdout_total));
    }
    if out.code == Some(1) && args.contains(&"--json") && out.error_code().is_none() && serde_json::from_str::<serde_json::Value>(&out.stdout).is_err() {
        problems.push(format!("{what}: exit 1 with neither a JSON report nor an error code: {}", first(&out.stderr)));
    }
    if out.code == Some(1) && !args.contains(&"--json") && out.stdout.trim().is_empty() && out.stderr.trim().is_empty() {
        problems.push(format!("{what}: exit 1 without saying why"));
    }
    for (stream, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let cc = control_chars(text);
        if !cc.is_empty() {
            problems.push(format!("{what}: host control characters on {stream}: {}", cc.iter().take(8).cloned().collect::<Vec<_>>().join(" ")));
        }
    }
    out
}

/// `host trust` (re-pinning the same key), `deploy --dry-run` and `check`, human and JSON.
fn probe_all(ck: &Ck, h: &Host, name: &str, problems: &mut Vec<String>) {
    probe(ck, &["host", "trust", name, "--fingerprint", h.host_key_fingerprint()], problems);
    probe(ck, &["deploy", name, "--dry-run"], problems);
    probe(ck, &["--json", "deploy", name, "--dry-run"], problems);
    probe(ck, &["check", name], problems);
    probe(ck, &["--json", "check", name], problems);
}

fn escape_banner() -> Vec<u8> {
    let mut b = b"*** Authorized access only ***\n\x1b[2J\x1b[H\x1b[31mRED\x1b[0m \x1b]0;owned title\x07 \x1b]8;;http://127.0.0.1:9/\x07link\x1b]8;;\x07\n".to_vec();
    b.extend_from_slice("\u{9b}31m C1 CSI \u{202e}reversed\u{202c}\r\n".as_bytes());
    b
}

fn binary_noise() -> Vec<u8> {
    let mut b: Vec<u8> = (0..=255u8).cycle().take(8192).collect();
    b.extend_from_slice(b"\nCLAWKEEP-FACTS 1 0000000000000000\nkey|108|x|y|dotenv\n\0\0\xff\xfe\n");
    b
}

#[test]
fn login_shells_with_banners_escapes_noise_or_64_mb_end_cleanly() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(5).base_url(fake.base_url())) else { return };
    let ck = ck_for(&w, &fake);
    let names = ["escapes", "binary", "huge", "banner", "echo"];
    for (i, n) in names.iter().enumerate() {
        add(&ck, w.host(i), n);
    }
    // escape sequences from the login shell (not the pre-auth banner), binary noise likewise,
    // 64 MB of filler, and a pre-auth banner of escape sequences and binary noise
    w.host(0).set_shell_say(&escape_banner(), false).unwrap();
    w.host(1).set_shell_say(&binary_noise(), false).unwrap();
    w.host(2).set_shell_mode(ShellMode::Huge(64 << 20)).unwrap();
    let mut banner = escape_banner();
    banner.extend_from_slice(&binary_noise()[..512]);
    w.host(3).set_shell_say(&banner, true).unwrap();
    // a pre-auth banner and login shell that echo a key among escape sequences and binary noise
    let canaries = clawkeep_tests::canary::Canaries::new();
    clawkeep_tests::canary::plant_noisy_shell(w.host(4), &canaries, true).unwrap();

    let mut problems = Vec::new();
    for (i, n) in names.iter().enumerate() {
        probe_all(&ck, w.host(i), n, &mut problems);
    }
    // the noise is really there (the oracle is not vacuous)
    let raw = w.host(0).ssh("true").unwrap();
    assert!(raw.stdout.contains(&0x1b), "the login shell printed no escape sequence");
    // a banner the ssh CLI logs in through must not turn into "refused every offered key"
    for (i, n) in names.iter().enumerate() {
        let cli_login = w.host(i).ssh("true").map(|o| o.success()).unwrap_or(false);
        let out = ck.run(&["--json", "deploy", n, "--dry-run"]);
        if cli_login && out.error_code().as_deref() == Some("ssh_auth") {
            problems.push(format!("{n}: the ssh CLI logs in with the same key, clawkeep reports ssh_auth: {}", out.stderr.trim()));
        }
    }
    for place in canaries.find(&ck.transcript()) {
        problems.push(format!("the key planted at [{place}] was printed"));
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn ten_megabyte_and_non_utf8_configs_end_cleanly() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(3).base_url(fake.base_url())) else { return };
    let ck = ck_for(&w, &fake);
    let (big, latin, deep) = (w.host(0), w.host(1), w.host(2));
    for (h, n) in [(big, "big"), (latin, "latin"), (deep, "deep")] {
        add(&ck, h, n);
    }
    // 10 MB: a valid config with one huge string and many entries
    let cfg = big.read_file(".openclaw/openclaw.json").unwrap();
    let pad = format!("meta: {{}},\n  padding: \"{}\",\n  notes: [{}],\n", "x".repeat(6 << 20), "\"n\",".repeat(1 << 20));
    let huge = cfg.replacen("meta: {},", &pad, 1);
    assert!(huge.len() > 10 << 20, "{}", huge.len());
    big.write_file(".openclaw/openclaw.json", huge.as_bytes(), 0o600).unwrap();
    // not UTF-8: Latin-1 bytes in a comment and in a value, a lone continuation byte, 0xff
    let cfg = latin.read_file(".openclaw/openclaw.json").unwrap();
    let mut bytes = cfg.replacen("meta: {},", "meta: {},\n  // caf\u{e9}\n  owner: \"Jos\u{e9}\",\n", 1).into_bytes();
    bytes = bytes
        .iter()
        .flat_map(|b| {
            if *b == 0xc3 {
                vec![0xff]
            } else if *b == 0xa9 {
                vec![0xe9, 0x80]
            } else {
                vec![*b]
            }
        })
        .collect();
    assert!(std::str::from_utf8(&bytes).is_err());
    latin.write_file(".openclaw/openclaw.json", &bytes, 0o600).unwrap();
    // deeply nested (a parser recursion bomb)
    let cfg = deep.read_file(".openclaw/openclaw.json").unwrap();
    let nest = format!("meta: {{}},\n  deep: {}1{},\n", "[".repeat(100_000), "]".repeat(100_000));
    deep.write_file(".openclaw/openclaw.json", cfg.replacen("meta: {},", &nest, 1).as_bytes(), 0o600).unwrap();

    let mut problems = Vec::new();
    for (h, n) in [(big, "big"), (latin, "latin"), (deep, "deep")] {
        probe_all(&ck, h, n, &mut problems);
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn agent_ids_and_paths_that_try_to_inject_are_refused_or_quoted() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).base_url(fake.base_url())) else { return };
    let ck = ck_for(&w, &fake);
    let h = w.host(0);
    let tag = clawkeep_tests::cli::random_token(10).replace(['-', '_'], "z");
    let marker = format!("/tmp/ck-pwned-{tag}");
    let home_marker = h.home().join(format!("pwned-{tag}"));
    let (port, addr) = (h.port().to_string(), h.addr().to_string());
    let base = |name: &'static str| -> Vec<String> {
        ["instance", "add", name, "--host", &addr, "--port", &port, "--user", h.user(), "--owner", "acme", "--env", "prod", "--workload", "bot", "--restart-cmd", RESTART]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: &[String]| ck.run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let hostile_agents = [
        format!("main; touch {marker}"),
        format!("$(touch {marker})"),
        format!("`touch {marker}`"),
        format!("main\ntouch {marker}"),
        "main|id".into(),
        "../../etc".into(),
        "-rf".into(),
        "--".into(),
        "main ops".into(),
    ];
    // At `instance add` time: refused by validation.
    for a in &hostile_agents {
        let mut args = base("inj");
        args.extend(["--json".into(), format!("--agent={a}")]);
        let out = run(&args).fails();
        assert_eq!(out.error_code().as_deref(), Some("invalid_input"), "agent {a:?}: {}", out.stderr);
    }
    let mut bad_fields: Vec<(&str, String)> = vec![
        ("--unit", format!("gw; touch {marker}")),
        ("--host", format!("127.0.0.1;touch {marker}")),
        ("--user", format!("ckh$(touch {marker})")),
        ("--state-dir", format!("~/.openclaw$(touch {marker})")),
        ("--state-dir", format!("~/.openclaw`touch {marker}`")),
        ("--state-dir", format!("~/.openclaw\ntouch {marker}")),
        ("--state-dir", "~/../../etc".into()),
    ];
    for (flag, v) in bad_fields.drain(..) {
        let mut args = base("inj");
        if flag == "--unit" {
            // instead of the restart command
            let i = args.iter().position(|a| a == "--restart-cmd").unwrap();
            args.drain(i..i + 2);
            args.push(format!("--unit={v}"));
        } else if flag == "--host" || flag == "--user" {
            // replace the value of the existing flag
            let i = args.iter().position(|a| a == flag).unwrap();
            args[i + 1] = v.clone();
        } else {
            args.extend([flag.to_string(), v.clone()]);
        }
        args.push("--json".into());
        let out = run(&args).fails();
        assert_eq!(out.error_code().as_deref(), Some("invalid_input"), "{flag} {v:?}: {}", out.stderr);
    }
    let out = ck.run(&["--json", "instance", "add", "a;b", "--host", &addr, "--user", h.user(), "--owner", "acme", "--env", "prod"]).fails();
    assert_eq!(out.error_code().as_deref(), Some("invalid_input"), "{}", out.stderr);
    assert!(ck.run(&["--json", "instance", "list"]).ok().json().as_array().unwrap().is_empty(), "a refused instance was stored");

    // At `instance edit --agent` time: refused, the stored agents unchanged.
    add(&ck, h, "inj");
    for a in &hostile_agents {
        let out = ck.run(&["--json", "instance", "edit", "inj", "--agent", "main", &format!("--agent={a}")]).fails();
        assert_eq!(out.error_code().as_deref(), Some("invalid_input"), "agent {a:?}: {}", out.stderr);
    }
    let show = ck.run(&["--json", "instance", "show", "inj"]).ok().json();
    assert_eq!(show["instance"]["agents"], serde_json::json!(["main"]), "{show}");

    // What validation lets through (';', spaces, '|', '&', '<', '*' in a state dir) is quoted in
    // every remote command: nothing runs.
    let sneaky = format!("~/.openclaw;touch {marker};x |touch ~/pwned-{tag}& <x *");
    let edited = ck.run(&["--json", "instance", "edit", "inj", "--state-dir", &sneaky]);
    if edited.code == Some(0) {
        // the odd state dir exists, with a config and a .env: the deploy gets as far as writing
        let rel = sneaky.trim_start_matches("~/");
        h.write_file(&format!("{rel}/openclaw.json"), h.read_file(".openclaw/openclaw.json").unwrap().as_bytes(), 0o600).unwrap();
        h.write_file(&format!("{rel}/.env"), b"FOO=bar\n", 0o600).unwrap();
        let mut problems = Vec::new();
        probe_all(&ck, h, "inj", &mut problems);
        probe(&ck, &["deploy", "inj", "--yes", "--ready-timeout", "10"], &mut problems);
        // (a missing state dir is a clear failure, not a problem here)
        problems.retain(|p| !p.contains("control characters"));
        assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    } else {
        edited.fails();
    }
    assert!(!std::path::Path::new(&marker).exists(), "a hostile value ran a command on the host ({marker} exists)");
    assert!(!home_marker.exists(), "a hostile value ran a command on the host ({} exists)", home_marker.display());
}

#[test]
fn escape_sequences_in_host_text_never_reach_the_terminal() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let Some(w) = World::start_or_skip(WorldOptions::hosts(1).base_url(fake.base_url())) else { return };
    let h = w.host(0);
    let ck = ck_for(&w, &fake);
    // config values decoded from \u001b escapes (JSON5 text stays printable), a .env value with
    // a raw ESC, and a restart wrapper whose stderr paints the terminal
    h.update_config(|c| {
        c.base_url = format!("{}/\x1b]0;owned\x07\x1b[2J", fake.base_url());
        c.model = "anthropic/claude\x1b[31m-red".into();
    })
    .unwrap();
    h.write_file(".openclaw/.env", b"FOO=\x1b[5mblink\nANTHROPIC_API_KEY=old\x1b[8mhidden\n", 0o600).unwrap();
    h.write_file(".local/bin/paint-restart", b"#!/bin/sh\nprintf '\\033[2J\\033]0;owned\\007\\233H restart failed\\n' >&2\nexit 1\n", 0o755).unwrap();
    ck.add_instance(h, "paint", "~/.local/bin/paint-restart", &["--workspace-id", WORKSPACE_PROD_A_ID]).ok();
    ck.trust(h, "paint").ok();
    ck.add_key("paint", "openclaw-acme-prod-bot-paint", &fake_key()).ok();

    let mut problems = Vec::new();
    probe_all(&ck, h, "paint", &mut problems);
    probe(&ck, &["deploy", "paint", "--yes", "--ready-timeout", "10"], &mut problems);
    probe(&ck, &["deploy", "history"], &mut problems);
    probe(&ck, &["audit"], &mut problems);
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
