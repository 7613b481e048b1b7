//! Table tests of the deploy planner: every branch of [`build_plan`] from [`DeployFacts`]
//! fixtures (no host, no root).

use chrono::Utc;

use super::*;
use crate::model::domain::{Instance, Key};

#[test]
fn env_rewrite_keeps_other_lines() {
    let k = Secret::new("NEWKEYVALUE-1234567890-abcdefgh".into());
    let old = "# comment\nFOO=bar\nexport ANTHROPIC_API_KEY=\"oldvalue-123456789012345\"\nBAZ=1\nANTHROPIC_API_KEY=dup\n";
    let (new, prev, dropped) = rewrite_env(Some(old.as_bytes()), &k);
    // `export` and the quotes stay: only the value changes.
    assert_eq!(new.expose(), b"# comment\nFOO=bar\nexport ANTHROPIC_API_KEY=\"NEWKEYVALUE-1234567890-abcdefgh\"\nBAZ=1\n");
    assert_eq!(prev.unwrap().expose(), "oldvalue-123456789012345");
    assert_eq!(dropped, 1);
    let (new, prev, _) = rewrite_env(Some(b"A=1"), &k);
    assert_eq!(new.expose(), b"A=1\nANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\n");
    assert!(prev.is_none());
    let (new, _, _) = rewrite_env(None, &k);
    assert_eq!(new.expose(), b"ANTHROPIC_API_KEY=NEWKEYVALUE-1234567890-abcdefgh\n");
    assert_eq!(dotenv::strip_key_lines(b"A=1\nANTHROPIC_API_KEY=x\nB=2\n").expose(), b"A=1\nB=2\n");
}

// ---- build_plan: every branch, from facts (no host, no root) ----

use crate::model::domain::{KeyStatus, Purpose};
use crate::model::keyfmt::KeyKind;

fn job(method: InjectionMethod, sm: ServiceManager) -> DeployJob {
    let value = crate::model::keyfmt::tests::fake_key(KeyKind::Api, 1);
    let now = Utc::now();
    DeployJob {
        instance: Instance {
            id: 1,
            name: "t".into(),
            owner: "acme".into(),
            environment: "prod".into(),
            workload: "bot".into(),
            purpose: Purpose::InternalOps,
            ssh_host: "127.0.0.1".into(),
            ssh_port: 22,
            ssh_user: "u".into(),
            jump_via: None,
            host_key_fingerprint: Some("SHA256:x".into()),
            state_dir: "~/.openclaw".into(),
            service_manager: sm,
            injection: method,
            agents: vec!["main".into()],
            expected_org_id: None,
            expected_workspace_id: None,
            tags: vec![],
            notes: String::new(),
            draft: false,
            created_at: now,
            updated_at: now,
        },
        key: Key {
            id: 1,
            name: "k".into(),
            kind: KeyKind::Api,
            hint: keyfmt::hint(&value),
            fingerprint: keyfmt::fingerprint(&value),
            length: value.len() as u32,
            keychain_ref: String::new(),
            instance: Some("t".into()),
            workspace_id: None,
            anthropic_key_id: None,
            status: KeyStatus::Active,
            name_override: false,
            created_at: now,
            expires_at: None,
            rotated_at: None,
            retired_at: None,
            updated_at: now,
        },
        secret: Secret::new(value),
        previous_active: None,
        previous_secret: None,
        jump: None,
        expected_plan: None,
    }
}

fn env_job() -> DeployJob {
    job(InjectionMethod::EnvFile, ServiceManager::Custom { restart_command: "~/restart".into() })
}

const PROBE: &str = "oc=/home/u/.local/bin/openclaw\nss=1\nids=1000 1000 27\ngwpid=42\nprobe_done=1\n";
const CONFIG: &str = "{ meta: {}, gateway: { port: 28001 } }";

fn facts(config: Option<&str>, env: Option<&[u8]>, probe: &str) -> DeployFacts {
    DeployFacts {
        sftp: true,
        unreadable: Vec::new(),
        home: "/home/u".into(),
        host_key: "SHA256:x".into(),
        config: config.map(|c| SecretBytes::new(c.as_bytes().to_vec())),
        env: env.map(|e| SecretBytes::new(e.to_vec())),
        env_owner: env.map(|_| (1000, 1000)),
        probe: Zeroizing::new(probe.to_string()),
        systemd_env: None,
        secret_file: None,
        gateway_env_has_key: false,
        unit_env_files: Vec::new(),
    }
}

fn plan_of(job: &DeployJob, f: DeployFacts) -> DeployPlan {
    build_plan(job, Duration::from_secs(90), f)
}

fn shown(p: &DeployPlan) -> String {
    serde_json::to_string(p).unwrap()
}

#[test]
fn plan_env_file_branches() {
    let j = env_job();
    let key = j.secret.expose().to_string();
    let old = crate::model::keyfmt::tests::fake_key(KeyKind::Api, 2);

    // No .env yet: a new line, no backup, the configured port.
    let p = plan_of(&j, facts(Some(CONFIG), None, PROBE));
    assert!(p.blockers.is_empty() && p.warnings.is_empty(), "{p:?}");
    assert_eq!((p.gateway_port, p.unchanged), (28001, false));
    assert!(p.diff[0].starts_with("+ ANTHROPIC_API_KEY="), "{:?}", p.diff);
    assert!(!p.steps.iter().any(|s| s.action == "backup"));
    assert_eq!(p.private.new_env.as_ref().unwrap().expose(), format!("ANTHROPIC_API_KEY={key}\n").as_bytes());
    assert_eq!(p.private.pid_before.as_deref(), Some("42"));
    assert_eq!(p.state_dir, "/home/u/.openclaw");

    // CRLF, export, quotes, a comment: only the value changes; the old key is read right.
    let env = format!("A=1\r\nexport ANTHROPIC_API_KEY=\"{old}\" # c\r\nB='x y'\r\n");
    let p = plan_of(&j, facts(Some(CONFIG), Some(env.as_bytes()), PROBE));
    assert!(p.diff[0].starts_with("~ ANTHROPIC_API_KEY=") && p.diff[0].contains(&format!("(was {})", keyfmt::hint(&old))), "{:?}", p.diff);
    assert!(p.steps.iter().any(|s| s.action == "backup"));
    assert!(p.steps.iter().any(|s| s.detail.contains("2 other line(s) kept") && s.detail.contains("owner and group kept")), "{:?}", p.steps);
    assert_eq!(p.private.new_env.as_ref().unwrap().expose(), env.replace(&old, &key).as_bytes());
    assert_eq!(p.private.old_key_fp, Some(keyfmt::fingerprint(&old)));
    assert!(!shown(&p).contains(&old) && !shown(&p).contains(&key));

    // Already deployed; and duplicates.
    let p = plan_of(&j, facts(Some(CONFIG), Some(format!("ANTHROPIC_API_KEY={key}\n").as_bytes()), PROBE));
    assert!(p.unchanged && p.diff[0].contains("(unchanged)"));
    let p = plan_of(&j, facts(Some(CONFIG), Some(format!("ANTHROPIC_API_KEY={old}\nANTHROPIC_API_KEY=x\n").as_bytes()), PROBE));
    assert!(p.diff[1].contains("1 further ANTHROPIC_API_KEY line"), "{:?}", p.diff);

    // Config: missing, broken (with a literal key on the bad line), no port, no meta.
    let p = plan_of(&j, facts(None, None, PROBE));
    assert!(p.blockers[0].contains("does not exist"), "{:?}", p.blockers);
    let p = plan_of(&j, facts(Some(&format!("{{\n  models: {{ apiKey: {old} }}\n}}")), None, PROBE));
    assert!(p.blockers[0].contains("not valid JSON5") && p.blockers[0].contains("line 2"), "{:?}", p.blockers);
    assert!(!shown(&p).contains(&old[..20]), "{}", shown(&p));
    let p = plan_of(&j, facts(Some("{ meta: {} }"), None, PROBE));
    assert_eq!(p.gateway_port, 18789);
    assert!(p.warnings[0].contains("no gateway.port"), "{:?}", p.warnings);
    let p = plan_of(&j, facts(Some("{ gateway: { port: 1 } }"), None, PROBE));
    assert!(p.warnings.iter().any(|w| w.contains("no `meta` object")), "{:?}", p.warnings);
}

#[test]
fn plan_stale_credentials_and_owners() {
    let j = env_job();
    // A stale auth profile of an inventory agent: removable with the CLI; a name the
    // inventory does not know is ignored.
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("profile=main\nprofile=evil\n{PROBE}")));
    assert_eq!(p.stale.len(), 1);
    assert!(p.stale[0].removable && p.stale[0].agent.as_deref() == Some("main"));
    assert!(p.steps.iter().any(|s| s.detail.contains("remove stale auth-profile")));
    // Without the CLI: blocked.
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("profile=main\n{}", PROBE.replace("oc=/home/u/.local/bin/openclaw", "oc="))));
    assert!(!p.stale[0].removable && p.blockers.iter().any(|b| b.contains("auth profile")), "{:?}", p.blockers);
    // A key in gateway.systemd.env: removed, other bytes kept.
    let mut f = facts(Some(CONFIG), None, &format!("systemd_env_file=1\n{PROBE}"));
    f.systemd_env = Some(Some(SecretBytes::new(b"A=1\r\nANTHROPIC_API_KEY=x\r\nB=2\r\n".to_vec())));
    let p = plan_of(&j, f);
    assert_eq!(p.stale[0].kind, "systemd-env-file");
    assert_eq!(p.private.new_systemd_env.as_ref().unwrap().expose(), b"A=1\r\nB=2\r\n");
    assert!(p.private.seen.iter().any(|(path, h)| path.ends_with("gateway.systemd.env") && h.is_some()));
    // A key in the systemd unit's environment: blocked.
    let sj = job(InjectionMethod::EnvFile, ServiceManager::SystemdUser { unit: "openclaw-gateway.service".into() });
    let p = plan_of(&sj, facts(Some(CONFIG), None, &format!("unit_env=1\n{}", PROBE.replace("ss=1\n", ""))));
    assert!(p.blockers.iter().any(|b| b.contains("systemd unit")), "{:?}", p.blockers);
    assert!(p.warnings.is_empty(), "no `ss` warning with systemd: {:?}", p.warnings);
    // ... found in a drop-in the user may write: removable with consent (backup, rewrite,
    // daemon-reload), the file's state is checked again right before the write.
    let dropin = "/home/u/.config/systemd/user/openclaw-gateway.service.d/override.conf";
    let mut f = facts(Some(CONFIG), None, &format!("unit_env=1\nunit_env_file={dropin}\n{PROBE}"));
    f.unit_env_files = vec![(dropin.into(), Some(SecretBytes::new(b"[Service]\nEnvironment=ANTHROPIC_API_KEY=x FOO=1\n".to_vec())))];
    let p = plan_of(&sj, f);
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    assert!(p.stale[0].removable && p.stale[0].kind == "systemd-unit-env" && p.stale[0].location.contains(dropin), "{:?}", p.stale);
    assert_eq!(p.private.unit_env_rewrites[0].2.expose(), b"[Service]\nEnvironment=FOO=1\n");
    assert!(p.private.seen.iter().any(|(path, h)| path == dropin && h.is_some()));
    assert!(!format!("{p:?}").contains("ANTHROPIC_API_KEY=x"));
    // ... also in a unit file the user can't write (/etc/systemd/user): blocked, named.
    let mut f = facts(Some(CONFIG), None, &format!("unit_env=1\nunit_env_file={dropin}\nunit_env_ro=/etc/systemd/user/openclaw-gateway.service.d/k.conf\n{PROBE}"));
    f.unit_env_files = vec![(dropin.into(), Some(SecretBytes::new(b"[Service]\nEnvironment=ANTHROPIC_API_KEY=x\n".to_vec())))];
    let p = plan_of(&sj, f);
    assert!(!p.stale[0].removable && p.blockers.iter().any(|b| b.contains("/etc/systemd/user/openclaw-gateway.service.d/k.conf")), "{:?}", p.blockers);
    // ... in a continued line: not rewritten, blocked.
    let mut f = facts(Some(CONFIG), None, &format!("unit_env=1\nunit_env_file={dropin}\n{PROBE}"));
    f.unit_env_files = vec![(dropin.into(), Some(SecretBytes::new(b"[Service]\nEnvironment=A=1 \\\n  ANTHROPIC_API_KEY=x\n".to_vec())))];
    let p = plan_of(&sj, f);
    assert!(!p.stale[0].removable && !p.blockers.is_empty(), "{:?}", p.stale);
    // No `ss`, custom restart: a warning.
    let p = plan_of(&j, facts(Some(CONFIG), None, &PROBE.replace("ss=1\n", "")));
    assert!(p.warnings.iter().any(|w| w.contains("`ss`")), "{:?}", p.warnings);
    // .env of another owner, of a group the user is not in, of a group it is in; root.
    for (owner, ids, blocked) in
        [((1001, 1000), "1000 1000", Some("belongs to uid 1001")), ((1000, 50), "1000 1000", Some("group 50")), ((1000, 27), "1000 1000 27", None), ((1001, 50), "0 0", None)]
    {
        let mut f = facts(Some(CONFIG), Some(b"A=1\n"), &PROBE.replace("ids=1000 1000 27", &format!("ids={ids}")));
        f.env_owner = Some(owner);
        let p = plan_of(&j, f);
        match blocked {
            Some(b) => assert!(p.blockers.iter().any(|x| x.contains(b)), "{owner:?} {ids}: {:?}", p.blockers),
            None => assert!(p.blockers.is_empty(), "{owner:?} {ids}: {:?}", p.blockers),
        }
    }
}

/// Finding 6: host text (home directory, the CLI's path, config) reaches the plan only as
/// visible text.
#[test]
fn plan_neutralises_host_text() {
    let j = env_job();
    let mut f = facts(Some(CONFIG), None, &PROBE.replace("/home/u/.local", "/home/u/\u{1b}[2J.local"));
    f.home = "/home/\u{1b}]0;owned\u{7}u".into();
    let p = plan_of(&j, f);
    let text = shown(&p);
    assert!(!text.contains("\\u001b") && !text.contains("\\u0007"), "{text}");
    assert!(p.state_dir.contains("?]0;owned?u"), "{}", p.state_dir);
    assert!(p.private.openclaw_bin.is_none() && p.warnings.iter().any(|w| w.contains("control characters")), "{:?}", p.warnings);
    // The raw path is still what is written to (the host's own name for it).
    assert!(p.private.env_path.contains('\u{1b}'));
    // The Debug of a plan shows no host file content.
    let old = crate::model::keyfmt::tests::fake_key(KeyKind::Api, 3);
    let p = plan_of(&j, facts(Some(&format!("{{ meta: {{}}, x: \"{old}\" }}")), Some(format!("ANTHROPIC_API_KEY={old}\n").as_bytes()), PROBE));
    let dbg = format!("{p:?}");
    assert!(!dbg.contains(&old[..20]) && !dbg.contains(&j.secret.expose()[..20]), "{dbg}");
}

#[test]
fn plan_auth_profile_and_secret_file_branches() {
    let aj = job(InjectionMethod::AuthProfile, ServiceManager::Custom { restart_command: "r".into() });
    let p = plan_of(&aj, facts(Some(CONFIG), None, &format!("profile=main\n{PROBE}")));
    assert!(p.blockers.is_empty() && p.stale.is_empty(), "{p:?}");
    assert!(p.steps.iter().any(|s| s.target.contains("paste-api-key")) && !p.steps.iter().any(|s| s.target == "r"));
    let p = plan_of(&aj, facts(Some(CONFIG), None, &PROBE.replace("oc=/home/u/.local/bin/openclaw", "oc=")));
    assert!(p.blockers.iter().any(|b| b.contains("auth-profile method needs it")), "{:?}", p.blockers);

    let sj = job(InjectionMethod::SecretFile, ServiceManager::Custom { restart_command: "r".into() });
    let key = sj.secret.expose().to_string();
    // First switch: the config gains the SecretRef (restart once).
    let mut f = facts(Some(CONFIG), None, PROBE);
    f.secret_file = Some(None);
    let p = plan_of(&sj, f);
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    assert!(p.private.new_config.is_some() && p.steps.iter().any(|s| s.target == "r"));
    assert!(p.private.seen.iter().any(|(path, h)| path.ends_with("secrets/anthropic-api-key") && h.is_none()));
    // Already switched, same key: a reload, nothing to change.
    let cfg = "{ meta: {}, gateway: { port: 28001 }, secrets: { providers: { clawkeep_anthropic: { source: 'file', path: '/home/u/.openclaw/secrets/anthropic-api-key', mode: 'singleValue' } } }, models: { providers: { anthropic: { apiKey: { source: 'file', provider: 'clawkeep_anthropic', id: 'value' } } } } }";
    let mut f = facts(Some(cfg), None, PROBE);
    f.secret_file = Some(Some(SecretBytes::new(format!("{key}\n").into_bytes())));
    let p = plan_of(&sj, f);
    assert!(p.private.new_config.is_none() && p.steps.iter().any(|s| s.target.ends_with("secrets reload")), "{:?}", p.steps);
    assert!(p.diff[0].contains("(unchanged)"), "{:?}", p.diff);
    // Env beats config: a key in .env or in the gateway's environment blocks; so does no CLI.
    let mut f = facts(Some(CONFIG), Some(b"ANTHROPIC_API_KEY=x\n"), &PROBE.replace("oc=/home/u/.local/bin/openclaw", "oc="));
    f.secret_file = Some(None);
    f.gateway_env_has_key = true;
    let p = plan_of(&sj, f);
    for b in [".env sets ANTHROPIC_API_KEY", "process environment", "secrets reload"] {
        assert!(p.blockers.iter().any(|x| x.contains(b)), "{b}: {:?}", p.blockers);
    }
}

/// The gateway runs as another user: its state dir (and files) are that user's. The plan names
/// the owner and what to do, and is blocked (nothing is written).
#[test]
fn plan_state_dir_of_another_user_is_refused_with_the_owner() {
    let j = env_job();
    // Writable state dir of the SSH user: no blocker.
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("sd_owner=1000 u\nsd_writable=1\n{PROBE}")));
    assert!(p.blockers.is_empty(), "{:?}", p.blockers);
    // An old probe without the owner lines: no judgement.
    assert!(plan_of(&j, facts(Some(CONFIG), None, PROBE)).blockers.is_empty());
    // Another user's dir the SSH user can read but not write.
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("sd_owner=1001 openclaw\n{PROBE}")));
    assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
    let b = &p.blockers[0];
    assert!(b.contains("belongs to user openclaw (uid 1001)") && b.contains("cannot create files in it"), "{b}");
    assert!(b.contains("Connect as openclaw") && b.contains("give u write access"), "{b}");
    // Another user's 0700 dir: nothing readable; explained once, not as a missing config.
    let mut f = facts(None, None, &format!("sd_owner=1001 openclaw\n{PROBE}"));
    f.unreadable = vec!["/home/u/.openclaw/openclaw.json".into(), "/home/u/.openclaw/.env".into()];
    let p = plan_of(&j, f);
    assert_eq!(p.blockers.len(), 1, "{:?}", p.blockers);
    assert!(p.blockers[0].contains("cannot read /home/u/.openclaw/openclaw.json and /home/u/.openclaw/.env"), "{:?}", p.blockers);
    // Unreadable without owner facts: still refused, with whatever is known.
    let mut f = facts(None, None, PROBE);
    f.unreadable = vec!["/home/u/.openclaw/openclaw.json".into()];
    let p = plan_of(&j, f);
    assert!(p.blockers.iter().any(|b| b.contains("belongs to another user") && b.contains("cannot read")), "{:?}", p.blockers);
    assert!(!p.blockers.iter().any(|b| b.contains("does not exist")), "{:?}", p.blockers);
    // The SSH user's own dir with a mode that forbids writing: say so, not "another user".
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("sd_owner=1000 u\n{PROBE}")));
    assert!(p.blockers.iter().any(|b| b.contains("belongs to the SSH user u") && b.contains("chmod u+rwx")), "{:?}", p.blockers);
    // A host name of the owner is host text: shown neutralised.
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("sd_owner=1001 ev\u{1b}[2Jil\n{PROBE}")));
    assert!(!shown(&p).contains("\\u001b"), "{}", shown(&p));
    // A .env of another owner is named with the owner's name too.
    let mut f = facts(Some(CONFIG), Some(b"A=1\n"), &format!("env_owner_name=openclaw\nsd_owner=1000 u\nsd_writable=1\n{PROBE}"));
    f.env_owner = Some((1001, 1001));
    let p = plan_of(&j, f);
    assert!(p.blockers.iter().any(|b| b.contains("belongs to uid 1001 (user openclaw)")), "{:?}", p.blockers);
    // No SFTP: a warning that says how files travel instead, not a blocker.
    let mut f = facts(Some(CONFIG), None, PROBE);
    f.sftp = false;
    let p = plan_of(&j, f);
    assert!(p.blockers.is_empty() && p.warnings.iter().any(|w| w.contains("no SFTP subsystem")), "{:?} {:?}", p.blockers, p.warnings);
}

/// A restart through sudo that would ask for a password (or has no sudo) is refused before
/// writing; one sudo allows (`sudo -n -l`) passes.
#[test]
fn plan_sudo_restart_needs_no_password() {
    let j = job(InjectionMethod::EnvFile, ServiceManager::Custom { restart_command: "sudo systemctl restart openclaw-gateway".into() });
    assert!(plan_of(&j, facts(Some(CONFIG), None, &format!("sudo_ok=1\n{PROBE}"))).blockers.is_empty());
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("sudo_ok=0\n{PROBE}")));
    assert!(p.blockers.iter().any(|b| b.contains("asks the SSH user u for a password") && b.contains("NOPASSWD")), "{:?}", p.blockers);
    let p = plan_of(&j, facts(Some(CONFIG), None, &format!("sudo_ok=missing\n{PROBE}")));
    assert!(p.blockers.iter().any(|b| b.contains("not installed")), "{:?}", p.blockers);
}

#[test]
fn unit_env_key_is_removed_and_nothing_else() {
    let strip = |t: &str| strip_unit_env_key(t.as_bytes()).map(|b| String::from_utf8(b).unwrap());
    // Alone on its line: the line goes; CRLF and other lines kept byte for byte.
    assert_eq!(strip("[Service]\r\nEnvironment=ANTHROPIC_API_KEY=abc\r\nExecStart=/x\r\n").unwrap(), "[Service]\r\nExecStart=/x\r\n");
    // Among other assignments, quoted or not: only it goes.
    assert_eq!(strip("Environment=\"A=1 2\" ANTHROPIC_API_KEY=abc 'B=x y'\n").unwrap(), "Environment=\"A=1 2\" 'B=x y'\n");
    assert_eq!(strip("  Environment=\"ANTHROPIC_API_KEY=a b\" C=3").unwrap(), "  Environment=C=3");
    // Other lines mentioning it (a comment, EnvironmentFile=) and other variables stay.
    let t = "# ANTHROPIC_API_KEY= is set in .env\nEnvironmentFile=/x\nEnvironment=OTHER_ANTHROPIC_API_KEY=1\n";
    assert_eq!(strip(t).unwrap(), t);
    // Where systemd's reading is not certain: refused.
    assert!(strip("Environment=A=1 \\\n ANTHROPIC_API_KEY=x\n").is_none());
    assert!(strip("Environment=\"ANTHROPIC_API_KEY=x\n").is_none());
    // Several lines.
    assert_eq!(strip("Environment=ANTHROPIC_API_KEY=a\nEnvironment=ANTHROPIC_API_KEY=b X=1\n").unwrap(), "Environment=X=1\n");
}
