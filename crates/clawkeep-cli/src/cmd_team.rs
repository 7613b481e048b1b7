//! `clawkeep team …`: the team vault (issue 15) — join (make your identity), init (create or
//! attach to the team's Git repository), invite, grant, revoke, remove (offboarding), sync, leave,
//! status, audit (the members' signed streams), and `identity` (your age identity on stdout, for the stock `age -d -i -`). Parse and
//! print only; the flows are core's (`api/team.rs`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Subcommand;
use clawkeep_core::api::team::{TeamChange, TeamLeft, TeamSync, TeamSyncStage};
use clawkeep_core::Clawkeep;

use crate::output;

#[derive(Subcommand, Debug)]
pub enum TeamCmd {
    /// Make your team identity (kept in the OS keychain only) and name the SSH key your team
    /// commits are signed with; prints what an admin needs to invite you.
    Join {
        /// Your member name (lower-case letters, digits, hyphens).
        #[arg(long)]
        name: String,
        /// Your SSH signing key: a private key file, or its `.pub` when the key is in ssh-agent.
        #[arg(long)]
        signing_key: PathBuf,
    },
    /// Create the team store in an empty repository (you become its first admin), or attach to
    /// an existing one (its whole history is verified, then imported).
    Init {
        /// The repository: any URL or path your `git` can clone and push.
        repository: String,
    },
    /// Add a member (admins only), with the recipient and signing key their join printed.
    Invite {
        member: String,
        #[arg(long)]
        recipient: String,
        /// The SSH public key line (`ssh-ed25519 AAAA…`).
        #[arg(long)]
        signing_key: String,
        /// Make them an admin (reads every secret).
        #[arg(long)]
        admin: bool,
    },
    /// Give a member access to an owner's instances and keys (its secrets are re-encrypted).
    Grant { member: String, owner: String },
    /// Take an owner from a member (secrets re-encrypted without them; those keys marked exposed).
    Revoke { member: String, owner: String },
    /// Offboard a member: re-encrypt without them and mark every key they could read "exposed: rotate".
    Remove {
        member: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Fetch, verify every new commit, import, share local additions, push.
    Sync,
    /// Back to a solo inventory: every team key's value is copied into your own keychain and this
    /// data dir stops syncing (your membership stays until an admin removes it).
    Leave {
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Who is in the team, with which scopes.
    Status,
    /// The team's audit streams (each member's signed, append-only record of what they did),
    /// newest first.
    Audit {
        /// Only this member's stream.
        #[arg(long)]
        member: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Print your team identity (AGE-SECRET-KEY-1…) to stdout for `age -d -i -`; refuses a terminal.
    Identity,
}

pub fn run(ck: &Clawkeep, c: TeamCmd, json: bool) -> Result<()> {
    match c {
        TeamCmd::Join { name, signing_key } => {
            let j = ck.team_join(&name, &signing_key)?;
            if json {
                output::json(&j);
            } else {
                println!("{} as '{}'. Give an admin these (public) to be invited:", if j.kept_identity { "Kept your team identity" } else { "Made your team identity" }, j.member);
                println!("  recipient:   {}", j.recipient);
                println!("  signing key: {}", j.signing_key);
            }
        }
        TeamCmd::Init { repository } => {
            let r = with_progress(json, |p| ck.team_init_with(&repository, p))?;
            if json {
                output::json(&r);
            } else if r.created {
                println!("Created the team store in {repository}; you are its first admin.");
                print_sync(&r.sync);
            } else {
                println!("Attached to {repository}: its first commit names admins {} (check them).", r.admins.join(", "));
                print_sync(&r.sync);
            }
        }
        TeamCmd::Invite { member, recipient, signing_key, admin } => {
            let head = ck.team_invite(&member, &recipient, &signing_key, admin)?;
            if json {
                output::json(&serde_json::json!({ "member": member, "head": head }));
            } else {
                println!("Invited '{member}'{}. Grant them owners to give them keys.", if admin { " as an admin" } else { "" });
            }
        }
        TeamCmd::Grant { member, owner } => print_change(ck.team_grant(&member, &owner)?, json, &format!("'{member}' now has '{owner}'")),
        TeamCmd::Revoke { member, owner } => print_change(ck.team_revoke(&member, &owner)?, json, &format!("'{member}' no longer has '{owner}'")),
        TeamCmd::Remove { member, yes } => {
            agreed(yes, json, &format!("Remove '{member}' from the team and mark every key they could read as exposed?"), "not removed")?;
            print_change(ck.team_remove(&member)?, json, &format!("Removed '{member}'"));
        }
        TeamCmd::Leave { yes } => {
            agreed(yes, json, "Stop syncing with the team store and keep every team key in your own keychain?", "still in the team store")?;
            let left: TeamLeft = ck.team_leave()?;
            if json {
                output::json(&left);
            } else {
                println!(
                    "Left {}: {} instances and {} team keys kept here, the keys' values now in your own keychain. An admin removes your membership in the store.",
                    left.remote,
                    left.kept_instances,
                    left.kept_keys.len()
                );
            }
        }
        TeamCmd::Sync => {
            let s = with_progress(json, |p| ck.team_sync_with(p))?;
            if json {
                output::json(&s);
            } else {
                print_sync(&s);
            }
        }
        TeamCmd::Status => {
            let s = ck.team_status()?;
            if json {
                output::json(&s);
            } else {
                let role = s.role.map(|r| format!(" ({})", format!("{r:?}").to_lowercase())).unwrap_or_default();
                println!("You are '{}'{role} in {}", s.member, s.remote.as_deref().unwrap_or("(no team store yet)"));
                if let Some(at) = s.last_sync {
                    println!("Last synced {}", at.format("%Y-%m-%d %H:%M UTC"));
                }
                for m in &s.members {
                    println!("  {:<20} {:<7} {}", m.name, format!("{:?}", m.role).to_lowercase(), m.owners.join(", "));
                }
            }
        }
        TeamCmd::Audit { member, limit } => {
            let lines = ck.team_audit(member.as_deref(), limit)?;
            if json {
                output::json(&lines);
            } else if lines.is_empty() {
                println!("No audit lines in the team store yet.");
            } else {
                for l in &lines {
                    println!("{}  {:<12} {}", l.at.format("%Y-%m-%d %H:%M:%S"), l.member, l.summary);
                }
            }
        }
        TeamCmd::Identity => {
            if std::io::stdout().is_terminal() {
                bail!("refusing to print your team identity to a terminal: pipe it, e.g. into `age -d -i - FILE`");
            }
            let id = ck.team_identity_export()?;
            let mut out = std::io::stdout().lock();
            out.write_all(id.expose().as_bytes())?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
    }
    Ok(())
}

/// `--yes`, or the person's yes to `question` (`input::confirm`); with `--json` nothing is asked.
fn agreed(yes: bool, json: bool, question: &str, no: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if json {
        bail!("{question} — not asked with --json: pass --yes");
    }
    if !crate::input::confirm(question, "pass --yes")? {
        bail!("{no}");
    }
    Ok(())
}

/// Runs a sync-like flow, showing its stage on one stderr line when that is a terminal.
fn with_progress<T>(json: bool, f: impl FnOnce(&dyn Fn(&TeamSyncStage)) -> clawkeep_core::Result<T>) -> clawkeep_core::Result<T> {
    let tty = !json && std::io::stderr().is_terminal();
    let show = |s: &TeamSyncStage| {
        if tty {
            eprint!("\r\x1b[2K[team] {s}…");
        }
    };
    let r = f(&show);
    if tty {
        eprint!("\r\x1b[2K");
    }
    r
}

fn print_change(c: TeamChange, json: bool, what: &str) {
    if json {
        output::json(&c);
        return;
    }
    println!("{what}; {} secrets re-encrypted.", c.reencrypted.len());
    if !c.exposed_keys.is_empty() {
        println!("Exposed, rotate first ({}): {}", c.exposed_keys.len(), c.exposed_keys.join(", "));
    }
}

fn print_sync(s: &TeamSync) {
    println!(
        "{} changes from teammates verified; imported {} instances, {} keys; merged teammates' edits into {} instances; shared {} instances, {} keys{}.",
        s.verified_commits,
        s.imported_instances.len(),
        s.imported_keys.len(),
        s.updated_instances.len(),
        s.shared_instances.len(),
        s.shared_keys.len(),
        if s.pushed { "; pushed" } else { "" }
    );
    for k in &s.exposed_keys {
        println!("  exposed: rotate {k}");
    }
    for d in &s.dropped {
        println!("  no longer in your scope, removed here: {d}");
    }
    for m in &s.skipped {
        println!("  skipped: {m}");
    }
}
