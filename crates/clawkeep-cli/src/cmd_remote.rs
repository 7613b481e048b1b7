//! Commands that talk to hosts over SSH: `host trust`, `deploy` (one instance or a fleet) and
//! `deploy history`, and offline bundles. The flows are core's (`Clawkeep::probe_host`,
//! `confirm_host_key`, `run_deploy`, `run_fleet_deploy`); this file parses, asks (the SSH key
//! passphrase, the `[y/N]` questions) and prints. A tokio runtime is entered only to catch Ctrl-C
//! and cancel.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use clawkeep_core::api::deploys::{DeployRequest, FleetDeployRequest, FleetMode, FleetTarget};
use clawkeep_core::api::hosts::HostRoute;
use clawkeep_core::deploy::{self, plan_digest, CancellationToken, DeployOptions, DeployPlan, DeployReport, Outcome, ProgressFn, Stage};
use clawkeep_core::ssh::SshOptions;
use clawkeep_core::{Clawkeep, InstanceFilter, Secret, SshCredentials};

use crate::output::{self, table};

#[derive(Subcommand, Debug)]
pub enum HostCmd {
    /// Show the host key an instance's SSH server presents and pin it (asked, or --fingerprint).
    Trust {
        name: String,
        /// Accept this fingerprint (SHA256:…, from `ssh-keygen -lf` on the host) without asking;
        /// refused if the host presents another one.
        #[arg(long, value_name = "SHA256:…")]
        fingerprint: Option<String>,
        /// Seconds to wait for the host.
        #[arg(long, default_value_t = 10)]
        connect_timeout: u64,
        /// Reach it through this (trusted) instance as a ProxyJump hop.
        #[arg(long, value_name = "INSTANCE")]
        jump: Option<String>,
    },
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DeployArgs {
    #[command(subcommand)]
    pub sub: Option<DeploySub>,
    /// The instance to deploy to.
    pub name: Option<String>,
    /// Every (non-draft) instance.
    #[arg(long, conflicts_with_all = ["name", "tag", "owner"])]
    pub all: bool,
    /// Every instance with this tag.
    #[arg(long, conflicts_with = "name")]
    pub tag: Option<String>,
    /// Every instance of this owner.
    #[arg(long, conflicts_with = "name")]
    pub owner: Option<String>,
    /// Deploy this staged key instead of the active one (single instance); once verified it
    /// becomes active and the previous key is retired.
    #[arg(long, value_name = "KEYNAME", requires = "name")]
    pub key: Option<String>,
    /// Show the plan only; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking (includes consent to remove stale credentials the plan lists).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Hosts deployed at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds to wait for a host's SSH server.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
    /// Seconds the gateway may take to be ready after its restart.
    #[arg(long, default_value_t = 90)]
    pub ready_timeout: u64,
    /// Reach the instance(s) through this (trusted) instance as a ProxyJump hop.
    #[arg(long, value_name = "INSTANCE")]
    pub jump: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum DeploySub {
    /// Recorded deployments, newest first.
    History {
        name: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// The SSH login of every command that reaches a host: the configured identity; for an
/// encrypted key file core asks this hidden prompt (once per command, only when needed).
pub(crate) fn credentials() -> SshCredentials {
    SshCredentials::Prompt(Arc::new(|path: &std::path::Path| {
        if !std::io::stdin().is_terminal() {
            eprintln!("stdin is not a terminal to ask for the passphrase of {}: load the key into ssh-agent and use `clawkeep settings set-ssh-identity --agent`", path.display());
            return Err(clawkeep_core::Error::SshPassphraseNeeded { path: path.display().to_string() });
        }
        let p = rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
            .map_err(|source| clawkeep_core::Error::Io { context: "cannot read the passphrase".into(), source })?;
        Ok(Secret::new(p))
    }))
}

/// A runtime entered on this thread (core's blocking flows run on it) whose Ctrl-C handler
/// trips `cancel` with `note`; a second Ctrl-C with `hard` exits at once.
pub(crate) fn cancel_on_ctrl_c(cancel: &CancellationToken, note: &'static str, hard: bool) -> Result<tokio::runtime::Runtime> {
    let rt = runtime()?;
    let c2 = cancel.clone();
    rt.spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\n{note}");
            c2.cancel();
            if hard && tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    Ok(rt)
}

pub fn host(ck: &Clawkeep, c: HostCmd, json: bool) -> Result<()> {
    match c {
        HostCmd::Trust { name, fingerprint, connect_timeout, jump } => {
            let route = HostRoute { jump, connect_timeout: Some(Duration::from_secs(connect_timeout.max(1))) };
            let creds = credentials();
            if let Some(fp) = fingerprint {
                // Probed, compared with the fingerprint got out of band, pinned.
                let inst = ck.confirm_host_key(&name, &fp, &route, &creds)?;
                let pinned = inst.host_key_fingerprint.unwrap_or(fp);
                if json {
                    output::json(&serde_json::json!({ "instance": inst.name, "fingerprint": pinned, "changed": true }));
                } else {
                    println!("pinned {pinned} for {}", inst.name);
                }
                return Ok(());
            }
            let (presented, pinned) = ck.probe_host(&name, &route, &creds)?;
            let target = ck.ssh_target_direct(&name)?;
            let address = format!("{}:{}", target.host, target.port);
            if pinned.as_deref() == Some(presented.as_str()) {
                if json {
                    output::json(&serde_json::json!({ "instance": name, "fingerprint": presented, "changed": false }));
                } else {
                    println!("{name} ({address}) already trusted: {presented}");
                }
                return Ok(());
            }
            eprintln!("Instance {name} ({address}) presents the host key");
            eprintln!("  {presented}");
            if let Some(old) = &pinned {
                eprintln!("WARNING: this is NOT the pinned key {old}. Only accept it if you know the host was re-keyed.");
            }
            eprintln!("Compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on the host's console.");
            if !crate::input::confirm("Trust this key?", "pass --yes (or --fingerprint for host trust)")? {
                bail!("not trusted; nothing changed");
            }
            // Probed again: pinned only if the host still presents the key just shown.
            let inst = ck.confirm_host_key(&name, &presented, &route, &creds)?;
            if json {
                output::json(&serde_json::json!({ "instance": inst.name, "fingerprint": presented, "changed": true }));
            } else {
                println!("pinned {presented} for {}", inst.name);
            }
            Ok(())
        }
    }
}

pub fn deploy(ck: &Clawkeep, a: DeployArgs, json: bool) -> Result<()> {
    if let Some(DeploySub::History { name, limit }) = &a.sub {
        return history(ck, name.as_deref(), *limit, json);
    }
    let opts = DeployOptions {
        ssh: SshOptions { connect_timeout: Duration::from_secs(a.connect_timeout.max(1)), ..Default::default() },
        ready_timeout: Duration::from_secs(a.ready_timeout.max(1)),
        remove_stale: a.yes,
        ..Default::default()
    };
    let fleet = a.all || a.tag.is_some() || a.owner.is_some();
    match (&a.name, fleet) {
        (Some(name), false) => deploy_single(ck, name, &a, json),
        (None, true) => deploy_fleet(ck, &a, opts, json),
        _ => bail!("name one instance (`clawkeep deploy NAME`), or a fleet with --all, --tag T or --owner O"),
    }
}

fn print_plan(p: &DeployPlan) {
    println!("Plan for {} ({}), method {}, key {} ({})", p.instance, p.address, p.method.as_str(), p.key_name, p.key_hint);
    println!("  host key    {}", p.host_key);
    println!("  state dir   {}", p.state_dir);
    println!("  gateway     127.0.0.1:{} ({})", p.gateway_port, p.gateway_port_source);
    println!("  changes:");
    for d in &p.diff {
        println!("    {d}");
    }
    if !p.stale.is_empty() {
        println!("  stale credentials that would win over the new key:");
        for s in &p.stale {
            println!("    {} at {}{} -> {}", s.kind, s.location, s.agent.as_ref().map(|a| format!(" (agent {a})")).unwrap_or_default(), s.remedy);
        }
    }
    println!("  steps:");
    for (i, s) in p.steps.iter().enumerate() {
        println!("    {}. {:<6} {}  — {}", i + 1, s.action, s.target, s.detail);
    }
    for w in &p.warnings {
        println!("  warning: {w}");
    }
    for b in &p.blockers {
        println!("  BLOCKED: {b}");
    }
}

fn print_report(r: &DeployReport) {
    println!("{}: {}", r.instance, r.outcome.as_str());
    for s in &r.steps {
        println!("  - {s}");
    }
    for s in &r.stale_removed {
        println!("  - removed stale {s}");
    }
    if let Some(e) = &r.error {
        println!("  {}", output::error_text(e));
    }
    if let Some(rb) = &r.rollback {
        println!("  rollback: {rb}");
    }
    println!("  took {:.1} s", r.duration_ms as f64 / 1000.0);
}

/// One instance: `--dry-run` plans; `--yes` plans and applies in one run; otherwise the plan is
/// shown, `[y/N]` asked, and applied only if the host's fresh plan is still the one shown.
fn deploy_single(ck: &Clawkeep, name: &str, a: &DeployArgs, json: bool) -> Result<()> {
    let creds = credentials();
    let cancel = CancellationToken::new();
    let rt = cancel_on_ctrl_c(&cancel, "cancelling: a host already being changed finishes or rolls back…", false)?;
    let _entered = rt.enter();
    let plan_only = DeployRequest {
        route: HostRoute { jump: a.jump.clone(), connect_timeout: Some(Duration::from_secs(a.connect_timeout.max(1))) },
        ready_timeout: Some(Duration::from_secs(a.ready_timeout.max(1))),
        ..Default::default()
    };
    let run = |req: &DeployRequest| ck.run_deploy(name, a.key.as_deref(), req, &creds, deploy::no_progress(), &cancel);
    let show_plan = |r: &DeployReport| {
        if let (false, Some(p)) = (json, &r.plan) {
            print_plan(p);
        }
    };
    let report = if a.dry_run {
        let r = run(&plan_only)?;
        show_plan(&r);
        r
    } else if a.yes {
        let r = run(&DeployRequest { apply: true, remove_stale: true, ..plan_only })?;
        show_plan(&r);
        r
    } else {
        let planned = run(&plan_only)?;
        match planned.plan.as_ref() {
            None => planned, // the host was not reached or not read: report why
            Some(plan) => {
                show_plan(&planned);
                // A blocked plan is not asked about: core refuses it (and records the refusal).
                if plan.blockers.is_empty() {
                    let q = if plan.stale.iter().any(|s| s.removable) {
                        format!("Apply this plan to {name}, including removing the stale credentials listed?")
                    } else {
                        format!("Apply this plan to {name}?")
                    };
                    if !crate::input::confirm(&q, "pass --yes")? {
                        bail!("not applied; nothing changed on {name}");
                    }
                }
                run(&DeployRequest { apply: true, expected_plan: Some(plan_digest(plan)), remove_stale: true, ..plan_only })?
            }
        }
    };
    // Nothing read from the host (not trusted, unreachable, login refused): the error is the story.
    let reached = report.plan.is_some() || !report.steps.is_empty();
    if json {
        output::json(&report);
    } else if report.outcome != Outcome::Planned && reached {
        print_report(&report);
    }
    match (report.outcome, report.error) {
        (Outcome::Succeeded | Outcome::Planned, _) => Ok(()),
        (_, Some(e)) if !reached => Err(output::Reported(e).into()),
        (o, e) => bail!("deploy to {name} {}: {}", o.as_str(), e.map(|e| e.message).unwrap_or_default()),
    }
}

fn deploy_fleet(ck: &Clawkeep, a: &DeployArgs, opts: DeployOptions, json: bool) -> Result<()> {
    if !a.yes && !a.dry_run {
        bail!("a fleet deploy needs --yes (review the plans first with --dry-run)");
    }
    let filter = InstanceFilter { owner: a.owner.clone(), tag: a.tag.clone(), ..Default::default() };
    let instances: Vec<_> = ck.list_instances(&filter)?.into_iter().map(|r| r.instance).filter(|i| !i.draft).collect();
    if instances.is_empty() {
        bail!("no instance matches");
    }
    let targets: Vec<FleetTarget> = instances.iter().map(|i| FleetTarget { instance: i.name.clone(), plan_digest: None }).collect();
    let jump = a.jump.as_deref().map(|j| ck.ssh_target_direct(j)).transpose()?;
    let total = targets.len();
    let done = Arc::new(AtomicUsize::new(0));
    let tty = std::io::stderr().is_terminal() && !json;
    let progress: ProgressFn = {
        let done = done.clone();
        Arc::new(move |_name: &str, stage: Stage| {
            if stage == Stage::Done {
                let d = done.fetch_add(1, Ordering::SeqCst) + 1;
                if tty {
                    eprint!("\r{d}/{total} hosts done");
                }
            }
        })
    };
    // --yes (checked above) is the operator's consent without a reviewed plan per host.
    let mode = if a.dry_run { FleetMode::Plan } else { FleetMode::ApplyUnreviewed };
    let req = FleetDeployRequest { mode, options: opts, concurrency: a.concurrency, jump };
    let cancel = CancellationToken::new();
    let rt = cancel_on_ctrl_c(&cancel, "cancelling: hosts not started are skipped; hosts in flight finish or roll back (Ctrl-C again to abort hard)", true)?;
    let _entered = rt.enter();
    let fleet = ck.run_fleet_deploy(&targets, &req, &credentials(), progress, &cancel)?;
    if tty {
        eprintln!();
    }
    let failed = fleet.failures();
    let mut rows: Vec<Vec<String>> =
        fleet.not_started.iter().map(|n| vec![n.instance.clone(), "not-started".into(), String::new(), String::new(), output::error_line(&n.error)]).collect();
    for report in &fleet.reports {
        let detail = match (&report.error, &report.rollback) {
            (Some(e), Some(rb)) => format!("{}; rollback: {rb}", output::error_line(e)),
            (Some(e), None) => output::error_line(e),
            (None, _) if report.outcome == Outcome::Planned => report
                .plan
                .as_ref()
                .map(|p| format!("{}{}", p.diff.join("; "), if p.stale.is_empty() { String::new() } else { format!("; {} stale credential(s) to remove", p.stale.len()) }))
                .unwrap_or_default(),
            (None, _) => report.stale_removed.iter().map(|s| format!("removed {s}")).collect::<Vec<_>>().join("; "),
        };
        rows.push(vec![report.instance.clone(), report.outcome.as_str().into(), report.key_hint.clone(), format!("{:.1}s", report.duration_ms as f64 / 1000.0), detail]);
    }
    let reports = &fleet.reports;
    if json {
        output::json(&reports);
    } else {
        table(&["INSTANCE", "OUTCOME", "KEY", "TIME", "DETAIL"], &rows);
    }
    let n = rows.len();
    if failed > 0 {
        bail!("{failed} of {n} instance(s) failed");
    }
    if !json {
        println!("{n} of {n} instance(s) {}", if a.dry_run { "planned" } else { "deployed and verified" });
    }
    Ok(())
}

fn history(ck: &Clawkeep, name: Option<&str>, limit: u32, json: bool) -> Result<()> {
    if let Some(n) = name {
        ck.instance(n)?;
    }
    let rows = ck.deployments(name, limit)?;
    if json {
        output::json(&rows);
        return Ok(());
    }
    if rows.is_empty() {
        println!("no deployments recorded");
        return Ok(());
    }
    let t: Vec<Vec<String>> = rows
        .iter()
        .map(|d| {
            vec![
                d.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                d.instance.clone(),
                d.key_name.clone(),
                clawkeep_core::model::keyfmt::short_fingerprint(&d.key_fingerprint),
                d.outcome.clone(),
                format!("{:.1}s", d.duration_ms as f64 / 1000.0),
                d.os_user.clone(),
                d.rollback.clone().or_else(|| d.error.as_ref().and_then(|e| e["message"].as_str().map(String::from))).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["WHEN", "INSTANCE", "KEY", "FINGERPRINT", "OUTCOME", "TIME", "BY", "NOTE"], &t);
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Write an encrypted offline bundle for an instance (a POSIX sh installer inside age).
    Export {
        name: String,
        /// Output file (written 0600).
        #[arg(long)]
        out: std::path::PathBuf,
        /// A staged key instead of the active one.
        #[arg(long, value_name = "KEYNAME")]
        key: Option<String>,
        /// Encrypt to this age recipient (age1…) instead of a passphrase.
        #[arg(long)]
        recipient: Option<String>,
        /// Read the passphrase from stdin (first line) instead of a prompt.
        #[arg(long, conflicts_with = "recipient")]
        passphrase_stdin: bool,
    },
    /// Decrypt a bundle, say whether this Clawkeep made it (its signature), and list its
    /// contents, redacted. Fails (bundle_unverified) for a bundle this Clawkeep did not sign.
    Inspect {
        file: std::path::PathBuf,
        /// age identity file (for recipient-encrypted bundles).
        #[arg(long)]
        identity: Option<std::path::PathBuf>,
        /// Read the passphrase from stdin (first line) instead of a prompt.
        #[arg(long)]
        passphrase_stdin: bool,
    },
}

fn read_passphrase(from_stdin: bool, confirm: bool) -> Result<Secret> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).context("cannot read the passphrase from stdin")?;
        return Ok(Secret::new(line.trim_end_matches(['\n', '\r']).to_string()));
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the passphrase: pass --passphrase-stdin (or --recipient)");
    }
    let p = rpassword::prompt_password("Bundle passphrase: ").context("cannot read the passphrase")?;
    if confirm {
        let again = rpassword::prompt_password("Again: ").context("cannot read the passphrase")?;
        if again != p {
            bail!("the passphrases differ");
        }
    }
    Ok(Secret::new(p))
}

pub fn bundle(ck: &Clawkeep, c: BundleCmd, json: bool) -> Result<()> {
    use clawkeep_core::bundle::{self, BundleEncryption};
    match c {
        BundleCmd::Export { name, out, key, recipient, passphrase_stdin } => {
            let enc = match recipient {
                Some(r) => BundleEncryption::Recipient(r),
                None => BundleEncryption::Passphrase(read_passphrase(passphrase_stdin, true)?),
            };
            let (data, manifest) = ck.export_bundle(&name, key.as_deref(), &enc)?;
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&out)
                .with_context(|| format!("cannot create {} (it must not exist yet)", out.display()))?;
            std::io::Write::write_all(&mut f, &data).with_context(|| format!("cannot write {}", out.display()))?;
            if json {
                output::json(&manifest);
            } else {
                let file = out.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| out.display().to_string());
                println!("wrote {} ({} bytes, age-encrypted, signed by this Clawkeep): key {} for instance {}", out.display(), data.len(), manifest.key_hint, manifest.instance);
                println!("copy it to the host; there, as {}, decrypt it straight into sh (no decrypted file is written anywhere):", manifest.user);
                match &enc {
                    BundleEncryption::Recipient(r) => {
                        println!("  age -d -i IDENTITY_FILE {} | sh -s", clawkeep_core::ssh::sh_quote(&file));
                        println!("(IDENTITY_FILE: the age identity of {})", r.trim());
                    }
                    BundleEncryption::Passphrase(_) => {
                        println!("  age -d {} | sh -s", clawkeep_core::ssh::sh_quote(&file));
                        println!("(age asks for the passphrase)");
                    }
                }
                println!("check a bundle before running it: clawkeep bundle inspect {}", out.display());
            }
            Ok(())
        }
        BundleCmd::Inspect { file, identity, passphrase_stdin } => {
            let data = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let ident = identity.map(|p| std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))).transpose()?;
            let pass = if ident.is_none() { Some(read_passphrase(passphrase_stdin, false)?) } else { None };
            let inspection = ck.inspect_bundle(&data, pass.as_ref(), ident.as_deref())?;
            let verdict = |i: &bundle::BundleInspection| if i.authentic { Ok(()) } else { Err(clawkeep_core::Error::BundleUnverified(i.origin.clone()).into()) };
            if json {
                output::json(&inspection);
                return verdict(&inspection);
            }
            let m = &inspection.manifest;
            println!("{}", inspection.origin);
            if !inspection.authentic {
                println!("what it claims (untrusted):");
            }
            println!(
                "bundle for instance {} ({}@{}), method {}, made {} by {}",
                m.instance,
                m.user,
                m.host,
                m.method.as_str(),
                m.created_at.format("%Y-%m-%d %H:%M"),
                m.created_by
            );
            println!("key {} ({}), sha256 {}", m.key_name, m.key_hint, clawkeep_core::model::keyfmt::short_fingerprint(&m.key_fingerprint));
            for i in &m.items {
                println!("  {:<6} {}  — {}", i.action, i.target, i.detail);
            }
            verdict(&inspection)
        }
    }
}
