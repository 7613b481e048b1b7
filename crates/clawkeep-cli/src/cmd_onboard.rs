//! `clawkeep onboard`: take over hosts where OpenClaw already runs. Reads the batch (an ssh
//! config, a CSV/TSV file or a list), fetches every host key and asks to trust them together
//! (or `--yes`; `--known-fingerprints` verifies them out of band), discovers each host, shows
//! the proposed records, and writes them and adopts the keys found (`--adopt`) with consent.
//! The flow is core's (`Clawkeep::onboard_fetch_host_keys`, `Clawkeep::run_onboard`); this file
//! parses, asks and prints. No key value is ever printed: hints and fingerprints only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use clawkeep_core::api::onboard::{ConfirmedHost, FetchedHostKey, HostKeyStatus, OnboardProgressFn, OnboardReport, OnboardRequest, OnboardStage, OnboardStatus, RecordOutcome};
use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::onboard::{self, KeyDecision, KnownFingerprints, OnboardDefaults, OnboardHost};
use clawkeep_core::Clawkeep;

use crate::cmd_remote::{cancel_on_ctrl_c, credentials};
use crate::input::confirm;
use crate::output::{self, table};

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from_ssh_config", "from_csv", "hosts"])))]
pub struct OnboardArgs {
    /// Hosts from an ssh config's `Host` entries (default ~/.ssh/config).
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "")]
    pub from_ssh_config: Option<PathBuf>,
    /// Hosts from a CSV/TSV file: `name,host[,port[,user]]` per row, or a list of
    /// `[user@]host[:port]` ('-' reads standard input).
    #[arg(long, value_name = "FILE")]
    pub from_csv: Option<PathBuf>,
    /// Hosts given here: `[user@]host[:port]`, comma-separated.
    #[arg(long, value_name = "H1,H2")]
    pub hosts: Option<String>,
    /// Trusted host-key fingerprints: lines `host[:port] SHA256:…` or ssh-keyscan output. A
    /// host presenting another key is refused.
    #[arg(long, value_name = "FILE")]
    pub known_fingerprints: Option<PathBuf>,
    /// Don't ask: trust the fetched host keys that are not refused, write the records (and
    /// adopt with --adopt).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Adopt the key each host's gateway uses into the keychain (read over SSH, never shown).
    #[arg(long)]
    pub adopt: bool,
    /// Discover and show the proposed records only; write nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Owner of every host of the batch (else the stored one, else a suggestion from the name).
    #[arg(long)]
    pub owner: Option<String>,
    /// Environment of every host of the batch.
    #[arg(long = "env")]
    pub environment: Option<String>,
    /// Workload of every host of the batch.
    #[arg(long)]
    pub workload: Option<String>,
    /// OpenClaw's state directory on the hosts (default ~/.openclaw).
    #[arg(long)]
    pub state_dir: Option<String>,
    /// Hosts worked on at the same time.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds to wait for a host's SSH server.
    #[arg(long, default_value_t = 10)]
    pub connect_timeout: u64,
}

fn read_input(path: &std::path::Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).context("cannot read standard input")?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn batch(a: &OnboardArgs) -> Result<Vec<OnboardHost>> {
    let rows = |r: std::result::Result<Vec<OnboardHost>, Vec<onboard::RowError>>, what: &'static str| r.map_err(|e| onboard::intake::rows_error(what, &e));
    let hosts = if let Some(p) = &a.from_ssh_config {
        let path = if p.as_os_str().is_empty() { crate::args::home().join(".ssh").join("config") } else { p.clone() };
        onboard::hosts_from_ssh_config(&read_input(&path)?)
    } else if let Some(p) = &a.from_csv {
        rows(onboard::parse_host_table(&read_input(p)?), "hosts file")?
    } else {
        rows(onboard::parse_host_list(a.hosts.as_deref().unwrap_or_default()), "hosts")?
    };
    if hosts.is_empty() {
        bail!("no hosts in the input");
    }
    Ok(hosts)
}

fn status_str(s: HostKeyStatus) -> &'static str {
    match s {
        HostKeyStatus::Verified => "verified",
        HostKeyStatus::Unverified => "unverified",
        HostKeyStatus::AlreadyPinned => "pinned",
        HostKeyStatus::Mismatch => "REFUSED",
        HostKeyStatus::Unreachable => "unreachable",
    }
}

fn print_host_keys(fetched: &[FetchedHostKey]) {
    let rows: Vec<Vec<String>> = fetched
        .iter()
        .map(|f| {
            let detail = match (f.status, &f.expected, &f.error) {
                (HostKeyStatus::Mismatch, Some(exp), _) => format!("HOST KEY MISMATCH: expected {exp}, the host presents {}", f.presented.as_deref().unwrap_or("?")),
                (_, _, Some(e)) => output::error_line(e),
                _ => String::new(),
            };
            vec![f.host.name.clone(), f.address.clone(), f.host.user.clone().unwrap_or_default(), f.presented.clone().unwrap_or_default(), status_str(f.status).into(), detail]
        })
        .collect();
    table(&["NAME", "ADDRESS", "USER", "HOST KEY", "STATUS", "DETAIL"], &rows);
}

fn print_proposals(r: &OnboardReport) {
    for h in &r.hosts {
        let Some(j) = &h.judgement else { continue };
        println!();
        println!("{} ({}){}", h.name, h.address, if j.new_instance { " — new instance" } else { "" });
        let d = &j.discovered;
        println!("  openclaw: {}   state dir: {}{}", d.openclaw_version.as_deref().unwrap_or("not found"), d.state_dir, if d.state_dir_exists { "" } else { " (missing)" });
        if let Some(c) = &d.config_path {
            println!("  config: {c}");
        }
        for c in &j.differences {
            println!("  {:<12} {} -> {}", c.field, if c.from.is_empty() { "-" } else { &c.from }, c.to);
        }
        if j.differences.is_empty() {
            println!("  record unchanged");
        }
        for k in &j.keys {
            let what = match &k.decision {
                KeyDecision::Adopt => "to adopt".to_string(),
                KeyDecision::AlreadyKnown { key, .. } => format!("already stored as {key}"),
                KeyDecision::Shared { adopted_on, hosts } => {
                    format!("SHARED with {} (adopted on {adopted_on})", hosts.iter().filter(|n| **n != h.name).cloned().collect::<Vec<_>>().join(", "))
                }
                KeyDecision::Malformed { reason } => format!("not adopted: {reason}"),
                KeyDecision::NotUsed => "not used by the gateway".to_string(),
            };
            println!(
                "  key {} ({} chars, SHA256:{}){} — {what} [{}]",
                k.hint,
                k.length,
                &k.fingerprint[..12.min(k.fingerprint.len())],
                if k.effective { " gateway's key" } else { "" },
                k.sources.join("; ")
            );
        }
        for n in &j.notes {
            println!("  note: {n}");
        }
    }
}

fn print_result(r: &OnboardReport, fetched: &[FetchedHostKey]) {
    let rows: Vec<Vec<String>> = r
        .hosts
        .iter()
        .map(|h| {
            let status = match h.status {
                OnboardStatus::Previewed => "previewed",
                OnboardStatus::Onboarded => "onboarded",
                OnboardStatus::Refused => "REFUSED",
                OnboardStatus::Unreachable => "unreachable",
                OnboardStatus::Failed => "failed",
            };
            let record = match h.record {
                RecordOutcome::NotWritten => "",
                RecordOutcome::Created => "created",
                RecordOutcome::Updated => "updated",
                RecordOutcome::Unchanged => "unchanged",
            };
            let key = match (&h.adopted, &h.judgement) {
                (Some(a), _) => format!("adopted {} ({}){}", a.name, a.hint, a.anthropic_key_id.as_deref().map(|id| format!(", Console id {id}")).unwrap_or_default()),
                (None, Some(j)) => j.keys.iter().find(|k| k.effective).map(|k| format!("{}: {}", k.decision.as_str(), k.hint)).unwrap_or_else(|| "no key found".into()),
                (None, None) => String::new(),
            };
            let detail = h.error.as_ref().or(h.adopt_error.as_ref()).map(output::error_line).unwrap_or_default();
            vec![h.name.clone(), status.into(), record.into(), key, detail]
        })
        .collect();
    println!();
    table(&["INSTANCE", "STATUS", "RECORD", "KEY", "DETAIL"], &rows);
    for n in &r.notes {
        println!("note: {n}");
    }
    for s in &r.shared_keys {
        println!("boundary violation: key {} is on {}: {}", s.hint, s.hosts.join(", "), s.plan);
    }
    let s = &r.summary;
    // Hosts stopped at the host-key step count too.
    let unreachable = s.unreachable + fetched.iter().filter(|f| f.status == HostKeyStatus::Unreachable).count();
    let refused = s.refused + fetched.iter().filter(|f| f.status == HostKeyStatus::Mismatch).count();
    println!(
        "{} host(s): {} onboarded ({} created, {} updated), {} key(s) adopted, {} already known, {} shared, {} malformed/truncated, {} unreachable, {} refused, {} failed",
        fetched.len(),
        s.onboarded,
        s.created,
        s.updated,
        s.adopted,
        s.already_known,
        s.shared,
        s.malformed,
        unreachable,
        refused,
        s.failed
    );
}

pub fn run(ck: &Clawkeep, a: OnboardArgs, json: bool) -> Result<()> {
    let hosts = batch(&a)?;
    let known = match &a.known_fingerprints {
        Some(p) => onboard::parse_known_fingerprints(&read_input(p)?).map_err(|e| onboard::intake::rows_error("known fingerprints", &e))?,
        None => KnownFingerprints::default(),
    };
    let cancel = CancellationToken::new();
    let rt = cancel_on_ctrl_c(&cancel, "cancelling: nothing is written for this run (Ctrl-C again to abort hard)", true)?;
    let _entered = rt.enter();
    let quiet: OnboardProgressFn = Arc::new(|_: &str, _: OnboardStage| {});
    let timeout = Duration::from_secs(a.connect_timeout.max(1));

    // 1. Host keys, all at once; confirmed together.
    let fetched = ck.onboard_fetch_host_keys(&hosts, &known, a.concurrency, Some(timeout), quiet.clone(), &cancel)?;
    if !json {
        print_host_keys(&fetched);
    }
    let confirmed: Vec<ConfirmedHost> =
        fetched.iter().filter(|f| f.confirmable()).filter_map(|f| Some(ConfirmedHost { host: f.host.clone(), fingerprint: f.presented.clone()? })).collect();
    let unverified = fetched.iter().filter(|f| f.status == HostKeyStatus::Unverified).count();
    if confirmed.is_empty() {
        if json {
            output::json(&serde_json::json!({ "host_keys": fetched, "report": null }));
        }
        bail!("no host to onboard: every host was refused or unreachable");
    }
    if !a.yes && !a.dry_run {
        if unverified > 0 {
            eprintln!("{unverified} host key(s) could not be verified out of band: compare them with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on each host's console.");
        }
        if !confirm(&format!("Trust these {} host key(s) and discover the hosts?", confirmed.len()), "pass --yes")? {
            bail!("not trusted; nothing changed");
        }
    }
    let defaults = OnboardDefaults { owner: a.owner.clone(), environment: a.environment.clone(), workload: a.workload.clone(), state_dir: a.state_dir.clone() };
    let mut req = OnboardRequest { hosts: confirmed, defaults, apply: false, adopt: Vec::new(), concurrency: Some(a.concurrency), connect_timeout_secs: Some(a.connect_timeout) };

    // 2. The preview (unless --yes, which consents up front), then the run that writes.
    if !a.yes {
        let preview = ck.run_onboard(&req, &credentials(), quiet.clone(), &cancel)?;
        if a.dry_run {
            if json {
                output::json(&serde_json::json!({ "host_keys": fetched, "report": preview }));
            } else {
                print_proposals(&preview);
                print_result(&preview, &fetched);
            }
            return Ok(());
        }
        if !json {
            print_proposals(&preview);
        }
        let reachable: Vec<&str> = preview.hosts.iter().filter(|h| h.judgement.is_some()).map(|h| h.name.as_str()).collect();
        if reachable.is_empty() {
            bail!("no host could be discovered; nothing written");
        }
        if !confirm(&format!("Write these {} instance record(s)?", reachable.len()), "pass --yes")? {
            bail!("nothing written");
        }
        req.hosts.retain(|c| reachable.contains(&c.host.name.as_str()));
        if a.adopt {
            let to_adopt: Vec<String> =
                preview.hosts.iter().filter(|h| h.judgement.as_ref().is_some_and(|j| j.to_adopt().is_some() && j.missing.is_empty())).map(|h| h.name.clone()).collect();
            if !to_adopt.is_empty() && confirm(&format!("Adopt the gateway's key on {} into the keychain (read over SSH, never shown)?", to_adopt.join(", ")), "pass --yes")? {
                req.adopt = to_adopt;
            }
        }
    } else if a.adopt {
        req.adopt = req.hosts.iter().map(|c| c.host.name.clone()).collect();
    }
    req.apply = true;
    let report = ck.run_onboard(&req, &credentials(), quiet, &cancel)?;
    if json {
        output::json(&serde_json::json!({ "host_keys": fetched, "report": report }));
    } else {
        if a.yes {
            print_proposals(&report);
        }
        print_result(&report, &fetched);
    }
    let refused = fetched.iter().filter(|f| !f.confirmable()).count();
    let s = &report.summary;
    let bad = refused + s.refused + s.unreachable + s.failed;
    if bad > 0 {
        bail!("{bad} of {} host(s) were not onboarded (refused, unreachable or failed): see above", fetched.len());
    }
    Ok(())
}
