//! The command tree (clap) and one small function per command, each a thin call into
//! `clawkeep_core::Clawkeep` followed by printing.

use std::path::PathBuf;

use crate::args::{parse_date, parse_since};
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use clawkeep_core::{Clawkeep, InjectionMethod, InstanceFilter, InstancePatch, InstanceSpec, KeySpec, OpenOptions, Purpose, ServiceManager, SshIdentity};

use crate::input;
use crate::output::{self, date, fields, opt, table};

#[derive(Parser, Debug)]
#[command(name = "clawkeep", version, about = "Keep Anthropic keys for your OpenClaw instances: inventory, keychain, audit.")]
pub struct Cli {
    /// Data directory (default: $CLAWKEEP_HOME, else the platform data dir, e.g. ~/.local/share/clawkeep).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the biggest variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// OpenClaw instances (VPSes) in the inventory.
    #[command(subcommand)]
    Instance(InstanceCmd),
    /// Anthropic keys: metadata here, values in the OS keychain.
    #[command(subcommand)]
    Key(KeyCmd),
    /// The audit log, newest first.
    Audit {
        /// Only events since a date (2026-11-01), a time (RFC 3339) or an age (30m, 24h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only events about this instance or key.
        #[arg(long)]
        subject: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: u32,
    },
    /// Settings: Anthropic API base URL, SSH identity.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Check that the store and the keychain work, and that every key's secret is present.
    SelfCheck,
    /// Troubleshooting checklist: credential, account context, protocol, throughput, boundary.
    Check(crate::cmd_check::CheckArgs),
    /// SSH hosts: pin an instance's host key.
    #[command(subcommand)]
    Host(crate::cmd_remote::HostCmd),
    /// Deploy a key to instances over SSH (plan, apply, verify, roll back); `deploy history`.
    Deploy(crate::cmd_remote::DeployArgs),
    /// Offline deploy bundles (age-encrypted installer for hosts Clawkeep can't reach).
    #[command(subcommand)]
    Bundle(crate::cmd_remote::BundleCmd),
    /// Key rotation: policies, the plan, guided rotation with rollback, rehearsal.
    #[command(subcommand)]
    Rotate(crate::cmd_rotate::RotateCmd),
    /// Take over hosts where OpenClaw already runs: trust their host keys together, discover
    /// them, record them and adopt the keys on them (never shown).
    Onboard(crate::cmd_onboard::OnboardArgs),
    /// Cost trail: sync usage and cost (Admin API), cost per instance/owner/workspace/model,
    /// keys that spend without an owner, reconciliation, budgets.
    #[command(subcommand)]
    Cost(crate::cmd_cost::CostCmd),
    /// Team vault: a shared store in a Git repository, per-owner access by encryption, signed
    /// changes, offboarding that marks what a leaver could read.
    #[command(subcommand)]
    Team(crate::cmd_team::TeamCmd),
    /// Shell completions on stdout (bash, zsh, fish, elvish, powershell), e.g.
    /// `clawkeep completions bash > ~/.local/share/bash-completion/completions/clawkeep`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The manual page (roff) on stdout: `clawkeep man | man -l -`. The .deb installs it.
    #[command(hide = true)]
    Man,
}

#[derive(Args, Debug, Default)]
pub struct InstanceFields {
    /// SSH host: IP address or DNS name.
    #[arg(long)]
    pub host: Option<String>,
    /// SSH port (default 22).
    #[arg(long)]
    pub port: Option<u16>,
    /// SSH user.
    #[arg(long)]
    pub user: Option<String>,
    /// Reach it through this instance (a bastion whose host key is pinned; one hop). With
    /// `instance edit`, '' removes it.
    #[arg(long, value_name = "INSTANCE")]
    pub jump_via: Option<String>,
    /// Client or team that owns the instance.
    #[arg(long)]
    pub owner: Option<String>,
    /// Environment: prod, staging, dev, …
    #[arg(long = "env")]
    pub environment: Option<String>,
    /// What the agents do (e.g. support-bot).
    #[arg(long)]
    pub workload: Option<String>,
    /// personal-testing, internal-ops or client (default client).
    #[arg(long, value_parser = parse_purpose)]
    pub purpose: Option<Purpose>,
    /// OpenClaw state directory on the host (default ~/.openclaw).
    #[arg(long)]
    pub state_dir: Option<String>,
    /// systemd user unit of the gateway (default openclaw-gateway).
    #[arg(long, conflicts_with = "restart_cmd")]
    pub unit: Option<String>,
    /// A custom command that restarts the gateway on the host (instead of systemd).
    #[arg(long)]
    pub restart_cmd: Option<String>,
    /// How the key is injected: env-file (default), auth-profile or secret-file.
    #[arg(long, value_parser = parse_injection)]
    pub injection: Option<InjectionMethod>,
    /// An OpenClaw agent id (repeat for several; default main).
    #[arg(long = "agent")]
    pub agents: Vec<String>,
    /// Expected Anthropic organization id.
    #[arg(long)]
    pub org_id: Option<String>,
    /// Expected Anthropic workspace id (wrkspc_…).
    #[arg(long)]
    pub workspace_id: Option<String>,
    /// A tag (repeat for several).
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    #[arg(long)]
    pub notes: Option<String>,
}

fn parse_purpose(s: &str) -> Result<Purpose, String> {
    Purpose::parse(s).ok_or_else(|| format!("'{s}' is not a purpose: use personal-testing, internal-ops or client"))
}

fn parse_injection(s: &str) -> Result<InjectionMethod, String> {
    InjectionMethod::parse(s).ok_or_else(|| format!("'{s}' is not an injection method: use env-file, auth-profile or secret-file"))
}

impl InstanceFields {
    fn service_manager(&self) -> Option<ServiceManager> {
        match (&self.unit, &self.restart_cmd) {
            (_, Some(cmd)) => Some(ServiceManager::Custom { restart_command: cmd.clone() }),
            (Some(u), None) => Some(ServiceManager::SystemdUser { unit: u.clone() }),
            (None, None) => None,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum InstanceCmd {
    /// Add an instance.
    Add {
        name: String,
        #[command(flatten)]
        fields: InstanceFields,
    },
    /// List instances with their active key.
    List {
        /// Case-insensitive search in name, owner, host, workload, environment and tags.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        owner: Option<String>,
        #[arg(long = "env")]
        environment: Option<String>,
        #[arg(long)]
        tag: Option<String>,
    },
    /// Show one instance and its keys.
    Show { name: String },
    /// Change an instance's fields.
    Edit {
        name: String,
        /// A new name.
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        fields: InstanceFields,
    },
    /// Remove an instance, its keys and their keychain entries.
    Remove {
        name: String,
        /// Don't ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Add `Host` entries of an ssh config as draft instances.
    ImportSshConfig {
        /// The ssh config to read (default ~/.ssh/config).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Only show what would be added.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Store a key: the value goes to the OS keychain, only its hint and fingerprint to the inventory.
    Add {
        name: String,
        /// The instance the key serves.
        #[arg(long)]
        instance: Option<String>,
        /// Read the key from standard input.
        #[arg(long, conflicts_with = "file")]
        stdin: bool,
        /// Read the key from a file.
        #[arg(long)]
        file: Option<PathBuf>,
        /// The Anthropic workspace the key belongs to (wrkspc_…).
        #[arg(long)]
        workspace_id: Option<String>,
        /// The key's id in the Anthropic Console (apikey_…); checked against the key through the Admin API when an Admin key is stored.
        #[arg(long)]
        key_id: Option<String>,
        /// When the key expires (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        expires: Option<String>,
        /// Keep a name that does not follow openclaw-<owner>-<env>[-<workload>] (audited).
        #[arg(long)]
        allow_name: bool,
        /// Anthropic has changed the key format: accept a key whose length or ending differs
        /// from the documented one, with a warning (audited). Without it such a key is refused.
        #[arg(long)]
        format_changed: bool,
        /// Refused: keys are never taken from the command line.
        #[arg(hide = true, num_args = 0..)]
        stray: Vec<String>,
    },
    /// List keys.
    List {
        #[arg(long)]
        instance: Option<String>,
    },
    /// Show one key's facts (never its value).
    Show { name: String },
    /// Bind a key to the instance it serves.
    Bind {
        name: String,
        #[arg(long)]
        instance: String,
    },
    /// Mark a key retired (its value stays in the keychain until removed).
    Retire { name: String },
    /// Remove a key and its keychain entry.
    Remove {
        name: String,
        /// Remove even the active key of an instance.
        #[arg(long)]
        force: bool,
    },
    /// Suggest a key name for an instance.
    SuggestName {
        #[arg(long)]
        instance: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum SettingsCmd {
    /// Show the settings.
    Show,
    /// Set the Anthropic API base URL ($CLAWKEEP_ANTHROPIC_BASE_URL overrides it).
    SetBaseUrl { url: String },
    /// Authenticate to hosts with the ssh-agent, or with a key file.
    SetSshIdentity {
        #[arg(long, conflicts_with = "key_file")]
        agent: bool,
        #[arg(long)]
        key_file: Option<String>,
    },
}

pub fn run(cli: Cli) -> Result<()> {
    // Generated from this command tree; they touch no data directory.
    let command = match cli.command {
        Command::Completions { shell } => return completions(shell),
        Command::Man => return man_page(),
        c => c,
    };
    let ck = Clawkeep::open(OpenOptions { data_dir: cli.data_dir.clone(), ..Default::default() })?;
    let json = cli.json;
    match command {
        Command::Instance(c) => instance(&ck, c, json),
        Command::Key(c) => key(&ck, c, json),
        Command::Audit { since, subject, limit } => audit(&ck, since, subject, limit, json),
        Command::Settings(c) => settings(&ck, c, json),
        Command::SelfCheck => self_check(&ck, json),
        Command::Check(a) => crate::cmd_check::run(&ck, a, json),
        Command::Host(c) => crate::cmd_remote::host(&ck, c, json),
        Command::Deploy(a) => crate::cmd_remote::deploy(&ck, a, json),
        Command::Bundle(c) => crate::cmd_remote::bundle(&ck, c, json),
        Command::Rotate(c) => crate::cmd_rotate::run(&ck, c, json),
        Command::Onboard(a) => crate::cmd_onboard::run(&ck, a, json),
        Command::Cost(c) => crate::cmd_cost::run(&ck, c, json),
        Command::Team(c) => crate::cmd_team::run(&ck, c, json),
        Command::Completions { .. } | Command::Man => Ok(()),
    }
}

fn completions(shell: clap_complete::Shell) -> Result<()> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut cmd = Cli::command();
    // Into memory first: clap_complete panics on a write error (a closed pipe); ours is an error.
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "clawkeep", &mut buf);
    std::io::stdout().lock().write_all(&buf).context("writing the completions")?;
    Ok(())
}

fn man_page() -> Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    clap_mangen::Man::new(cmd).render(&mut std::io::stdout()).context("writing the manual page")?;
    Ok(())
}

fn instance(ck: &Clawkeep, c: InstanceCmd, json: bool) -> Result<()> {
    match c {
        InstanceCmd::Add { name, fields: f } => {
            let service_manager = f.service_manager();
            let spec = InstanceSpec {
                name,
                owner: f.owner.unwrap_or_default(),
                environment: f.environment.unwrap_or_default(),
                workload: f.workload.unwrap_or_default(),
                purpose: f.purpose,
                ssh_host: f.host.unwrap_or_default(),
                ssh_port: f.port,
                ssh_user: f.user.unwrap_or_default(),
                jump_via: f.jump_via,
                state_dir: f.state_dir,
                service_manager,
                injection: f.injection,
                agents: f.agents,
                expected_org_id: f.org_id,
                expected_workspace_id: f.workspace_id,
                tags: f.tags,
                notes: f.notes.unwrap_or_default(),
                draft: false,
            };
            let i = ck.add_instance(spec)?;
            if json {
                output::json(&i);
            } else {
                println!("Added instance {} ({}@{}:{}, owner {}, {}).", i.name, i.ssh_user, i.ssh_host, i.ssh_port, i.owner, i.environment);
                println!(
                    "Next: store its key with `clawkeep key add {} --instance {} --stdin`.",
                    clawkeep_core::model::naming::suggest_key_name(&i.owner, &i.environment, &i.workload),
                    i.name
                );
            }
        }
        InstanceCmd::List { search, owner, environment, tag } => {
            let filter = InstanceFilter { search, owner, environment, tag };
            if json && !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                // Piped to a program: compact JSON streamed from the cursor (10,000 rows fast).
                output::json_stream(|w| ck.write_instances_json(&filter, w))?;
                return Ok(());
            }
            let rows = ck.list_instances(&filter)?;
            if json {
                output::json(&rows);
            } else if rows.is_empty() {
                println!("No instances. Add one with `clawkeep instance add NAME --host HOST --user USER --owner OWNER --env ENV`.");
            } else {
                let data: Vec<Vec<String>> = rows
                    .iter()
                    .map(|r| {
                        let i = &r.instance;
                        vec![
                            i.name.clone(),
                            i.owner.clone(),
                            i.environment.clone(),
                            i.workload.clone(),
                            format!("{}@{}:{}", i.ssh_user, i.ssh_host, i.ssh_port),
                            r.active_key.as_ref().map(|k| k.hint.clone()).unwrap_or_else(|| "(no key)".into()),
                            r.active_key.as_ref().map(|k| format!("{}d", k.age_days)).unwrap_or_default(),
                            if i.draft { "draft".into() } else { String::new() },
                        ]
                    })
                    .collect();
                table(&["NAME", "OWNER", "ENV", "WORKLOAD", "SSH", "KEY", "AGE", "NOTE"], &data);
            }
        }
        InstanceCmd::Show { name } => {
            let d = ck.instance_detail(&name)?;
            if json {
                output::json(&d);
            } else {
                let i = &d.instance;
                let service = match &i.service_manager {
                    ServiceManager::SystemdUser { unit } => format!("systemd --user {unit}"),
                    ServiceManager::Custom { restart_command } => format!("custom: {restart_command}"),
                };
                fields(&[
                    ("name", i.name.clone()),
                    ("owner", i.owner.clone()),
                    ("environment", i.environment.clone()),
                    ("workload", i.workload.clone()),
                    ("purpose", i.purpose.as_str().into()),
                    ("ssh", format!("{}@{}:{}{}", i.ssh_user, i.ssh_host, i.ssh_port, i.jump_via.as_ref().map(|j| format!(" (through {j})")).unwrap_or_default())),
                    ("host key", i.host_key_fingerprint.clone().unwrap_or_else(|| "(not trusted yet)".into())),
                    ("state dir", i.state_dir.clone()),
                    ("service", service),
                    ("injection", i.injection.as_str().into()),
                    ("agents", i.agents.join(", ")),
                    ("org id", opt(&i.expected_org_id)),
                    ("workspace id", opt(&i.expected_workspace_id)),
                    ("tags", i.tags.join(", ")),
                    ("notes", i.notes.clone()),
                    ("draft", if i.draft { "yes: complete it with `clawkeep instance edit`".into() } else { "no".into() }),
                    ("created", date(&i.created_at)),
                    ("updated", date(&i.updated_at)),
                ]);
                if !d.keys.is_empty() {
                    println!();
                    key_table(&d.keys);
                }
            }
        }
        InstanceCmd::Edit { name, rename, fields: f } => {
            let service_manager = f.service_manager();
            let patch = InstancePatch {
                name: rename,
                owner: f.owner,
                environment: f.environment,
                workload: f.workload,
                purpose: f.purpose,
                ssh_host: f.host,
                ssh_port: f.port,
                ssh_user: f.user,
                jump_via: f.jump_via,
                state_dir: f.state_dir,
                service_manager,
                injection: f.injection,
                agents: if f.agents.is_empty() { None } else { Some(f.agents) },
                expected_org_id: f.org_id,
                expected_workspace_id: f.workspace_id,
                tags: if f.tags.is_empty() { None } else { Some(f.tags) },
                notes: f.notes,
            };
            let i = ck.edit_instance(&name, patch)?;
            if json {
                output::json(&i);
            } else {
                println!("Updated instance {}.", i.name);
            }
        }
        InstanceCmd::Remove { name, yes } => {
            let detail = ck.instance_detail(&name)?;
            if !yes && !json {
                let q = format!("Remove instance '{}' and its {} key(s) with their keychain entries?", name, detail.keys.len());
                if !input::confirm(&q, "pass --yes")? {
                    bail!("not removed");
                }
            } else if !yes {
                bail!("removing an instance needs --yes with --json");
            }
            let r = ck.remove_instance(&name)?;
            if json {
                output::json(&r);
            } else {
                println!("Removed instance {}.", r.instance);
                for k in &r.removed_keys {
                    println!("Removed key {k} and deleted its keychain entry.");
                }
            }
        }
        InstanceCmd::ImportSshConfig { file, dry_run } => {
            let path = match file {
                Some(p) => p,
                None => crate::args::home().join(".ssh").join("config"),
            };
            let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let added = ck.import_ssh_config(&text, dry_run)?;
            if json {
                output::json(&added);
            } else if added.is_empty() {
                println!("No new Host entries in {}.", path.display());
            } else {
                let verb = if dry_run { "Would add" } else { "Added" };
                for i in &added {
                    println!("{verb} draft instance {} ({}@{}:{})", i.name, i.ssh_user, i.ssh_host, i.ssh_port);
                }
                if !dry_run {
                    println!("Drafts need an owner and environment: clawkeep instance edit NAME --owner OWNER --env ENV");
                }
            }
        }
    }
    Ok(())
}

fn key_table(keys: &[clawkeep_core::Key]) {
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                k.name.clone(),
                k.kind.as_str().into(),
                k.status.as_str().into(),
                k.hint.clone(),
                clawkeep_core::model::keyfmt::short_fingerprint(&k.fingerprint),
                opt(&k.instance),
                date(&k.created_at),
            ]
        })
        .collect();
    table(&["NAME", "KIND", "STATUS", "HINT", "FINGERPRINT", "INSTANCE", "CREATED"], &rows);
}

fn key(ck: &Clawkeep, c: KeyCmd, json: bool) -> Result<()> {
    match c {
        KeyCmd::Add { name, instance, stdin, file, workspace_id, key_id, expires, allow_name, format_changed, stray } => {
            if !stray.is_empty() {
                bail!("key add takes the key's NAME only; the value is never taken from the command line (it would land in shell history and the process list). Use --stdin, --file FILE or the hidden prompt");
            }
            let expires_at = expires.as_deref().map(parse_date).transpose()?;
            let secret = input::read_secret(stdin, file.as_deref())?;
            let added = ck.add_key(KeySpec { name, instance, workspace_id, anthropic_key_id: key_id, expires_at, allow_name, format_changed }, secret)?;
            if json {
                output::json(&added);
            } else {
                let k = &added.key;
                println!("Stored key {} in the OS keychain ({}).", k.name, k.status.as_str());
                fields(&[("hint", k.hint.clone()), ("fingerprint", format!("SHA256 {}", k.fingerprint)), ("length", k.length.to_string()), ("instance", opt(&k.instance))]);
                for w in &added.warnings {
                    eprintln!("warning: {w}");
                }
            }
        }
        KeyCmd::List { instance } => {
            let keys = ck.list_keys(instance.as_deref())?;
            if json {
                output::json(&keys);
            } else if keys.is_empty() {
                println!("No keys. Store one with `clawkeep key add NAME --instance INSTANCE --stdin`.");
            } else {
                key_table(&keys);
            }
        }
        KeyCmd::Show { name } => {
            let k = ck.key(&name)?;
            if json {
                output::json(&k);
            } else {
                fields(&[
                    ("name", k.name.clone()),
                    ("kind", k.kind.as_str().into()),
                    ("status", k.status.as_str().into()),
                    ("hint", k.hint.clone()),
                    ("fingerprint", format!("SHA256 {}", k.fingerprint)),
                    ("length", k.length.to_string()),
                    ("instance", opt(&k.instance)),
                    ("workspace id", opt(&k.workspace_id)),
                    ("anthropic key id", opt(&k.anthropic_key_id)),
                    ("keychain", format!("{} / {}", ck.keychain().service(), k.keychain_ref)),
                    ("created", date(&k.created_at)),
                    ("expires", k.expires_at.as_ref().map(date).unwrap_or_default()),
                    ("rotated", k.rotated_at.as_ref().map(date).unwrap_or_default()),
                    ("retired", k.retired_at.as_ref().map(date).unwrap_or_default()),
                    ("name override", if k.name_override { "yes".into() } else { "no".into() }),
                ]);
            }
        }
        KeyCmd::Bind { name, instance } => {
            let k = ck.bind_key(&name, &instance)?;
            if json {
                output::json(&k);
            } else {
                println!("Key {} now serves instance {} ({}).", k.name, instance, k.status.as_str());
            }
        }
        KeyCmd::Retire { name } => {
            let k = ck.retire_key(&name)?;
            if json {
                output::json(&k);
            } else {
                println!("Key {} is retired. Its value stays in the keychain until `clawkeep key remove {}`.", k.name, k.name);
            }
        }
        KeyCmd::Remove { name, force } => {
            let k = ck.remove_key(&name, force)?;
            if json {
                output::json(&k);
            } else {
                println!("Removed key {} and deleted its keychain entry.", k.name);
            }
        }
        KeyCmd::SuggestName { instance } => {
            let n = ck.suggest_key_name(&instance)?;
            if json {
                output::json(&serde_json::json!({ "name": n }));
            } else {
                println!("{n}");
            }
        }
    }
    Ok(())
}

fn audit(ck: &Clawkeep, since: Option<String>, subject: Option<String>, limit: u32, json: bool) -> Result<()> {
    let since = since.as_deref().map(parse_since).transpose()?;
    let events = ck.audit_log(since, subject.as_deref(), limit)?;
    if json {
        output::json(&events);
    } else if events.is_empty() {
        println!("No audit events.");
    } else {
        let rows: Vec<Vec<String>> =
            events.iter().map(|e| vec![e.at.format("%Y-%m-%d %H:%M:%S").to_string(), e.os_user.clone(), e.action.clone(), e.subject.clone(), e.details.to_string()]).collect();
        table(&["TIME (UTC)", "USER", "ACTION", "SUBJECT", "DETAILS"], &rows);
    }
    Ok(())
}

fn settings(ck: &Clawkeep, c: SettingsCmd, json: bool) -> Result<()> {
    let s = match c {
        SettingsCmd::Show => ck.settings()?,
        SettingsCmd::SetBaseUrl { url } => ck.set_anthropic_base_url(&url)?,
        SettingsCmd::SetSshIdentity { agent, key_file } => match (agent, key_file) {
            (_, Some(path)) => ck.set_ssh_identity(SshIdentity::KeyFile { path })?,
            (true, None) => ck.set_ssh_identity(SshIdentity::Agent)?,
            (false, None) => bail!("pass --agent or --key-file FILE"),
        },
    };
    if json {
        output::json(&s);
    } else {
        let ident = match &s.ssh_identity {
            SshIdentity::Agent => "ssh-agent".to_string(),
            SshIdentity::KeyFile { path } => format!("key file {path}"),
        };
        fields(&[
            ("anthropic base url", format!("{} ({})", s.anthropic_base_url, s.anthropic_base_url_source)),
            ("ssh identity", ident),
            ("data dir", ck.data_dir().display().to_string()),
        ]);
    }
    Ok(())
}

fn self_check(ck: &Clawkeep, json: bool) -> Result<()> {
    let r = ck.self_check()?;
    if json {
        output::json(&r);
    } else {
        fields(&[
            ("data dir", r.data_dir.clone()),
            ("database", format!("{} (schema {})", r.database, r.schema_version)),
            ("inventory", format!("{} instances, {} keys", r.instances, r.keys)),
            ("key store", r.keychain_store.clone()),
            ("keychain", r.keychain_message.clone()),
        ]);
        for m in &r.missing_secrets {
            println!("missing secret: key {m} has no keychain entry; add it again or remove the key");
        }
    }
    if !r.keychain_ok {
        bail!("self-check failed: {}", if r.missing_secrets.is_empty() { r.keychain_message } else { format!("{} key(s) without a keychain entry", r.missing_secrets.len()) });
    }
    Ok(())
}
