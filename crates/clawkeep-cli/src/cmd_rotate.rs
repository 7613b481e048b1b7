//! `clawkeep rotate …`: rotation policies, the offline plan (table, JSON, CSV, iCalendar), the
//! guided rotation (start, resume, status, rollback) and the rehearsal against a local fake.
//!
//! The guided rotation runs one persisted core step at a time; with
//! `CLAWKEEP_ROTATE_EXIT_AFTER=<step>` the process exits (code 3) right after that step was
//! saved, which is how the tests prove `rotate resume` picks up after a crash.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use clawkeep_core::rotation::{plan, policy, PolicyScope, PolicySpec, Rotation, RotationOptions, RotationOutcome, RotationStep, StepInput, StepReport};
use clawkeep_core::Clawkeep;

use crate::input;
use crate::output::{self, fields, opt, table};

pub const EXIT_AFTER_ENV: &str = "CLAWKEEP_ROTATE_EXIT_AFTER";

#[derive(Subcommand, Debug)]
pub enum RotateCmd {
    /// Rotation policies (maximum key age, warning window, preferred weekday and time).
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Overdue, due-soon and upcoming rotations across the fleet, grouped by owner (offline).
    Plan {
        /// Also write the plan as an iCalendar file (imports into common calendar apps).
        #[arg(long, value_name = "FILE")]
        ics: Option<PathBuf>,
        /// Also write the plan as CSV.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        /// Plan as of this time (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<String>,
    },
    /// Start the guided rotation of an instance's key.
    Start {
        /// The instance.
        name: String,
        /// Read the new key from standard input.
        #[arg(long, conflicts_with = "file")]
        stdin: bool,
        /// Read the new key from a file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// How long the old key stays inactive before it is archived: 24h (default), 2d, 30m, 0.
        #[arg(long)]
        soak: Option<String>,
        /// Name the new key this instead of the suggested name.
        #[arg(long = "new-name")]
        new_name: Option<String>,
        /// Deploy the new key by hand and confirm with `rotate resume NAME --confirm`, instead
        /// of Clawkeep's SSH deploy (for hosts it cannot reach or injection methods it cannot write).
        #[arg(long)]
        manual_deploy: bool,
        /// Consent to removing stale credentials the SSH deploy plan finds on the host.
        #[arg(long, short)]
        yes: bool,
    },
    /// Continue a rotation where it stopped.
    Resume {
        name: String,
        /// Confirm the manual action the rotation waits for (deploy, Console change, end of soak).
        #[arg(long)]
        confirm: bool,
        #[arg(long, conflicts_with = "file")]
        stdin: bool,
        #[arg(long)]
        file: Option<PathBuf>,
        /// Consent to removing stale credentials the SSH deploy plan finds on the host.
        #[arg(long, short)]
        yes: bool,
    },
    /// Rotations under way, or one instance's rotation in detail.
    Status { name: Option<String> },
    /// Undo a rotation before the old key is archived: reactivate and redeploy it, revoke the new one.
    Rollback {
        name: String,
        /// Confirm the manual parts (reactivated in the Console, redeployed by hand).
        #[arg(long)]
        confirm: bool,
        /// Consent to removing stale credentials the SSH deploy plan finds on the host.
        #[arg(long, short)]
        yes: bool,
    },
    /// Practise an instance's rotation against a local fake Anthropic API and a throw-away copy of the instance.
    Rehearse { name: String },
}

#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Set the policy of the fleet (default), an owner, or an instance.
    Set {
        #[arg(long, conflicts_with = "instance")]
        owner: Option<String>,
        #[arg(long)]
        instance: Option<String>,
        /// Maximum key age: 90d, 12w.
        #[arg(long)]
        max_age: Option<String>,
        /// Warn this long before the due date: 14d.
        #[arg(long)]
        warn: Option<String>,
        /// Preferred weekday: mon … sun ('' clears it).
        #[arg(long)]
        weekday: Option<String>,
        /// Preferred window, UTC: 09:00-12:00 ('' clears it).
        #[arg(long)]
        window: Option<String>,
    },
    /// Show the stored policies and the built-in default.
    Show,
}

fn parse_soak(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "0" {
        return Ok(0);
    }
    let (n, unit) = t.split_at(t.len().saturating_sub(1));
    let n: i64 = n.parse().map_err(|_| anyhow::anyhow!("'{s}' is not a duration: use 24h, 2d, 30m or 0"))?;
    Ok(match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => bail!("'{s}' is not a duration: use 24h, 2d, 30m or 0"),
    })
}

fn parse_now(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim()).map(|d| d.with_timezone(&Utc)).map_err(|_| anyhow::anyhow!("'{s}' is not an RFC 3339 time (2026-11-25T10:00:00Z)"))
}

pub fn run(ck: &Clawkeep, c: RotateCmd, json: bool) -> Result<()> {
    match c {
        RotateCmd::Policy(p) => policy_cmd(ck, p, json),
        RotateCmd::Plan { ics, csv, now } => plan_cmd(ck, ics, csv, now, json),
        RotateCmd::Start { name, stdin, file, soak, new_name, manual_deploy, yes } => {
            let soak_secs = soak.as_deref().map(parse_soak).transpose()?;
            let rot = ck.rotation_start(&name, RotationOptions { soak_secs, new_key_name: new_name, manual_deploy })?;
            if !json {
                println!("Rotation of {} started.", rot.instance);
                fields(&[
                    ("current key", format!("{} ({})", rot.old_key, rot.old_key_hint)),
                    ("new key name", rot.new_key_name.clone()),
                    ("workspace", rot.workspace_id.clone().unwrap_or_else(|| "(the current key's)".into())),
                ]);
                let ws = rot.workspace_id.as_ref().map(|w| format!("workspace {w}")).unwrap_or_else(|| "the workspace of the current key".into());
                println!("1. In the Anthropic Console, create an API key named '{}' in {ws}.", rot.new_key_name);
            }
            exit_after(RotationStep::Create);
            drive(ck, &name, stdin, file, false, yes, json)
        }
        RotateCmd::Resume { name, confirm, stdin, file, yes } => drive(ck, &name, stdin, file, confirm, yes, json),
        RotateCmd::Status { name } => status_cmd(ck, name, json),
        RotateCmd::Rollback { name, confirm, yes } => {
            let d = ck.rotation_deployer(&name, yes, &crate::cmd_remote::credentials())?;
            let r = ck.rotation_rollback(&name, confirm, d.as_ref())?;
            if json {
                output::json(&r);
            } else {
                println!("Rolled back the rotation of {}: {}.", name, r.detail);
                println!("The old key {} is the active key again.", r.rotation.old_key);
            }
            Ok(())
        }
        RotateCmd::Rehearse { name } => {
            let r = clawkeep_rehearsal::rehearse_rotation(ck, &name)?;
            if json {
                output::json(&r);
            } else {
                println!("Rehearsal of the rotation of {} ({} mode; nothing real was touched):", r.instance, r.mode);
                let rows: Vec<Vec<String>> = r.steps.iter().map(|s| vec![s.step.clone(), s.outcome.clone(), s.detail.clone()]).collect();
                table(&["STEP", "OUTCOME", "DETAIL"], &rows);
                println!("{}", if r.ok { "Rehearsal passed." } else { "Rehearsal FAILED: see the steps above." });
            }
            if !r.ok {
                bail!("the rehearsal of {} failed", r.instance);
            }
            Ok(())
        }
    }
}

fn exit_after(step: RotationStep) {
    if std::env::var(EXIT_AFTER_ENV).ok().as_deref() == Some(step.as_str()) {
        eprintln!("stopping right after step '{}' ({EXIT_AFTER_ENV})", step.as_str());
        std::process::exit(3);
    }
}

fn print_report(r: &StepReport) {
    let mark = if r.progressed { "done" } else { "waiting" };
    println!("[{}] {}: {}", r.ran.as_str(), mark, r.detail);
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}

/// Runs steps until the rotation waits, needs input, or ends. `confirm` applies to the first
/// step only (it confirms what the person was asked, never the steps after it).
#[allow(clippy::too_many_arguments)]
fn drive(ck: &Clawkeep, name: &str, stdin: bool, file: Option<PathBuf>, confirm: bool, yes: bool, json: bool) -> Result<()> {
    // The deploy step: Clawkeep's SSH deploy, or (started with `--manual-deploy`) the person
    // deploys and confirms with `rotate resume NAME --confirm`; `yes` consents to removing stale
    // credentials the deploy plan finds.
    let d = ck.rotation_deployer(name, yes, &crate::cmd_remote::credentials())?;
    let mut confirm = confirm;
    let mut reports: Vec<StepReport> = Vec::new();
    let mut stopped: Option<String> = None;
    for _ in 0..16 {
        let rot = ck.rotation(name)?;
        if rot.outcome != RotationOutcome::InProgress {
            break;
        }
        let mut input = StepInput { secret: None, confirm };
        if rot.step == RotationStep::Paste && !new_key_already_stored(ck, &rot) {
            use std::io::IsTerminal;
            if !stdin && file.is_none() && !std::io::stdin().is_terminal() {
                stopped = Some(format!(
                    "2. Paste the new key '{}': `clawkeep rotate resume {} --stdin` (or --file FILE, or in a terminal at the hidden prompt)",
                    rot.new_key_name, rot.instance
                ));
                break;
            }
            input.secret = Some(input::read_secret(stdin, file.as_deref()).context("reading the new key")?);
        }
        let r = ck.rotation_step(name, input, d.as_ref())?;
        confirm = false;
        if !json {
            print_report(&r);
        }
        let (progressed, ran, open) = (r.progressed, r.ran, r.rotation.is_open());
        reports.push(r);
        if progressed {
            exit_after(ran);
        }
        if !progressed || !open {
            break;
        }
    }
    let rot = ck.rotation(name)?;
    if json {
        let run = rot.waiting_action.as_ref().map(output::remedy_command);
        output::json(&serde_json::json!({ "rotation": rot, "steps": reports, "next": stopped.clone().or(rot.waiting_for.clone()), "run": run }));
    } else {
        match rot.outcome {
            RotationOutcome::Completed => {
                println!("Rotation of {} complete: {} is the active key; {} is archived and retired.", rot.instance, rot.new_key.as_deref().unwrap_or("-"), rot.old_key)
            }
            RotationOutcome::RolledBack => println!("The rotation of {} was rolled back.", rot.instance),
            RotationOutcome::InProgress => {
                if let Some(s) = stopped {
                    println!("{s}");
                }
                match (&rot.waiting_for, &rot.waiting_action) {
                    (Some(w), Some(a)) => println!("Next: {w}.\n  run: {}", output::remedy_command(a)),
                    (Some(w), None) => println!("Next: {w}."),
                    (None, _) => println!("Next: clawkeep rotate resume {}", rot.instance),
                }
                println!("Rollback until the archive: clawkeep rotate rollback {}", rot.instance);
            }
        }
    }
    Ok(())
}

fn new_key_already_stored(ck: &Clawkeep, rot: &Rotation) -> bool {
    ck.key(&rot.new_key_name).map(|k| k.instance.as_deref() == Some(rot.instance.as_str())).unwrap_or(false)
}

fn status_cmd(ck: &Clawkeep, name: Option<String>, json: bool) -> Result<()> {
    match name {
        None => {
            let open = ck.open_rotations()?;
            if json {
                output::json(&open);
            } else if open.is_empty() {
                println!("No rotation under way. See what is due with `clawkeep rotate plan`.");
            } else {
                let rows: Vec<Vec<String>> = open
                    .iter()
                    .map(|r| {
                        vec![
                            r.instance.clone(),
                            r.step.as_str().into(),
                            r.old_key.clone(),
                            r.new_key_name.clone(),
                            output::date(&r.started_at),
                            r.waiting_for.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(&["INSTANCE", "NEXT STEP", "OLD KEY", "NEW KEY", "STARTED", "WAITING FOR"], &rows);
            }
        }
        Some(n) => {
            let r = ck.rotation(&n)?;
            if json {
                output::json(&r);
            } else {
                fields(&[
                    ("instance", r.instance.clone()),
                    ("outcome", r.outcome.as_str().into()),
                    ("next step", r.step.as_str().into()),
                    ("old key", format!("{} ({})", r.old_key, r.old_key_hint)),
                    ("old key id", opt(&r.old_anthropic_key_id)),
                    (
                        "new key",
                        format!("{}{}", r.new_key.clone().unwrap_or_else(|| r.new_key_name.clone()), r.new_key_hint.as_ref().map(|h| format!(" ({h})")).unwrap_or_default()),
                    ),
                    ("workspace", opt(&r.workspace_id)),
                    ("soak", format!("{}s", r.soak_secs)),
                    ("waiting for", opt(&r.waiting_for)),
                    ("then run", r.waiting_action.as_ref().map(output::remedy_command).unwrap_or_default()),
                ]);
                println!();
                let rows: Vec<Vec<String>> =
                    r.history.iter().map(|e| vec![e.at.format("%Y-%m-%d %H:%M:%S").to_string(), e.step.as_str().into(), e.outcome.clone(), e.detail.clone()]).collect();
                table(&["TIME (UTC)", "STEP", "OUTCOME", "DETAIL"], &rows);
            }
        }
    }
    Ok(())
}

fn policy_cmd(ck: &Clawkeep, c: PolicyCmd, json: bool) -> Result<()> {
    match c {
        PolicyCmd::Set { owner, instance, max_age, warn, weekday, window } => {
            let scope = match (owner, instance) {
                (Some(o), _) => PolicyScope::Owner { owner: o },
                (None, Some(i)) => PolicyScope::Instance { instance: i },
                (None, None) => PolicyScope::Default,
            };
            let spec = PolicySpec {
                max_age_days: max_age.as_deref().map(|s| policy::parse_days("max age", s)).transpose()?,
                warn_days: warn.as_deref().map(|s| policy::parse_days("warn", s)).transpose()?,
                weekday,
                window,
            };
            let p = ck.set_rotation_policy(scope, spec)?;
            if json {
                output::json(&p);
            } else {
                println!("Policy for {}: rotate every {} days, warn {} days before{}.", p.scope.describe(), p.max_age_days, p.warn_days, slot_text(&p));
            }
        }
        PolicyCmd::Show => {
            if json {
                let ps = ck.rotation_policies()?;
                let builtin = clawkeep_core::rotation::RotationPolicy::builtin();
                output::json(&serde_json::json!({ "policies": ps, "builtin_default": builtin }));
            } else {
                let rows: Vec<Vec<String>> = ck.rotation_policy_table()?.iter().map(|p| policy_row(p, if p.updated_at.is_none() { "built-in" } else { "" })).collect();
                table(&["SCOPE", "MAX AGE", "WARN", "WEEKDAY", "WINDOW (UTC)", "UPDATED"], &rows);
            }
        }
    }
    Ok(())
}

fn slot_text(p: &clawkeep_core::rotation::RotationPolicy) -> String {
    let (s, e) = p.window();
    format!(", preferably {} {}-{} UTC", p.weekday.as_deref().unwrap_or("any day"), s.format("%H:%M"), e.format("%H:%M"))
}

fn policy_row(p: &clawkeep_core::rotation::RotationPolicy, note: &str) -> Vec<String> {
    let (s, e) = p.window();
    vec![
        if note.is_empty() { p.scope.describe() } else { format!("{} ({note})", p.scope.describe()) },
        format!("{}d", p.max_age_days),
        format!("{}d", p.warn_days),
        p.weekday.clone().unwrap_or_else(|| "any".into()),
        format!("{}-{}", s.format("%H:%M"), e.format("%H:%M")),
        p.updated_at.as_ref().map(output::date).unwrap_or_default(),
    ]
}

fn plan_cmd(ck: &Clawkeep, ics: Option<PathBuf>, csv: Option<PathBuf>, now: Option<String>, json: bool) -> Result<()> {
    let now = now.as_deref().map(parse_now).transpose()?;
    let p = ck.rotation_plan(now)?;
    let n = p.items().count();
    if let Some(path) = &ics {
        ck.export_rotation_plan(plan::ExportFormat::Ics, path, now)?;
    }
    if let Some(path) = &csv {
        ck.export_rotation_plan(plan::ExportFormat::Csv, path, now)?;
    }
    if json {
        output::json(&p);
        return Ok(());
    }
    println!(
        "Rotation plan at {}: {} expired, {} overdue, {} due soon, {} upcoming.{}",
        p.generated_at.format("%Y-%m-%d %H:%M UTC"),
        p.expired,
        p.overdue,
        p.due_soon,
        p.upcoming,
        if p.admin_key_available { "" } else { " No Admin key stored: deactivation and archiving are manual Console steps." }
    );
    for o in &p.owners {
        println!("\n{}", o.owner);
        let rows: Vec<Vec<String>> = o
            .items
            .iter()
            .map(|i| {
                vec![
                    format!("{}{}", i.status.as_str(), if i.in_progress { " (rotating)" } else { "" }),
                    i.instance.clone(),
                    format!("{} ({})", i.key_name, i.key_hint),
                    format!("{}d", i.key_age_days),
                    format!("{} ({}d{})", i.due_at.format("%Y-%m-%d"), i.days_left, if i.due_reason == "expiry" { ", expiry" } else { "" }),
                    i.slot_start.format("%a %Y-%m-%d %H:%M").to_string(),
                    i.suggested_key_name.clone(),
                    format!("{} agents {}{}", i.blast_radius.host, i.blast_radius.agents.join(","), if i.blast_radius.gateway_restart { ", restart" } else { "" }),
                ]
            })
            .collect();
        table(&["STATUS", "INSTANCE", "CURRENT KEY", "AGE", "DUE", "SLOT (UTC)", "NEW KEY NAME", "BLAST RADIUS"], &rows);
    }
    if !p.without_key.is_empty() {
        println!("\nWithout a key (nothing to rotate): {}", p.without_key.join(", "));
    }
    if n > 0 {
        println!("\nSteps for each: `clawkeep --json rotate plan` lists them; start one with `clawkeep rotate start INSTANCE`.");
    }
    if let Some(path) = &ics {
        println!("Wrote {n} calendar events to {}.", path.display());
    }
    if let Some(path) = &csv {
        println!("Wrote {n} rows to {}.", path.display());
    }
    Ok(())
}
