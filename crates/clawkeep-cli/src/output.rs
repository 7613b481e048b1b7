//! Printing: aligned plain-text tables for people, JSON for scripts, and errors as
//! `error[code]: message` plus the command that remedies it (or
//! `{"error":{"code","message","remedy","run"}}` with `--json`).

use clawkeep_core::{ErrorPayload, Remedy};
use serde::Serialize;

/// JSON on stdout: indented for a person at a terminal, compact when piped to a program.
pub fn json<T: Serialize>(value: &T) {
    use std::io::{IsTerminal, Write};
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let written = if std::io::stdout().is_terminal() { serde_json::to_writer_pretty(&mut out, value) } else { serde_json::to_writer(&mut out, value) };
    if let Err(e) = written.map_err(std::io::Error::from).and_then(|_| writeln!(out)).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write output: {e}");
        }
    }
}

/// Compact JSON that `write` streams to stdout, then a newline. A reader that went away (broken
/// pipe) is not an error.
pub fn json_stream(write: impl FnOnce(&mut dyn std::io::Write) -> clawkeep_core::Result<()>) -> clawkeep_core::Result<()> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let lock = stdout.lock();
    // Straight to the file descriptor (a duplicate of it) rather than through `Stdout`'s line
    // buffer, which scans every write for a newline: the fleet list hands over megabytes at once.
    let fd = std::os::fd::AsFd::as_fd(&lock).try_clone_to_owned().map(std::fs::File::from);
    let mut direct;
    let mut locked;
    let mut out: &mut dyn Write = match fd {
        Ok(f) => {
            // A pipe (`| jq`, a parent process reading) holds 64 KiB by default: megabytes of
            // JSON then cost a wake-up of each side per 64 KiB. Ask for 1 MiB (the unprivileged
            // maximum by default); best effort, a refusal changes nothing.
            if f.metadata().is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type())) {
                let _ = rustix::pipe::fcntl_setpipe_size(&f, 1 << 20);
            }
            direct = std::io::BufWriter::with_capacity(1 << 16, f);
            &mut direct
        }
        Err(_) => {
            locked = std::io::BufWriter::with_capacity(1 << 16, lock);
            &mut locked
        }
    };
    let r = write(&mut out).and_then(|_| writeln!(out).and_then(|_| out.flush()).map_err(|source| clawkeep_core::Error::Io { context: "writing to stdout".into(), source }));
    match r {
        Err(clawkeep_core::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// A left-aligned table; empty cells print as `-`.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            let w = if c.is_empty() { 1 } else { c.chars().count() };
            if i < widths.len() && w > widths[i] {
                widths[i] = w;
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let c = if c.is_empty() { "-" } else { c };
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{:<w$}  ", c, w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(headers.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

/// Key/value lines for `show` commands.
pub fn fields(pairs: &[(&str, String)]) {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        println!("{:<w$}  {}", format!("{k}:"), if v.is_empty() { "-" } else { v }, w = w + 1);
    }
}

/// A core error that reached the CLI as data (a report's `{code, message}`): printed exactly
/// like the core error it was.
#[derive(Debug)]
pub struct Reported(pub clawkeep_core::ErrorPayload);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Reported {}

pub fn print_error(e: &anyhow::Error, as_json: bool) {
    let payload = match (e.downcast_ref::<clawkeep_core::Error>(), e.downcast_ref::<Reported>()) {
        (Some(core), _) => core.to_payload(),
        (None, Some(r)) => r.0.clone(),
        (None, None) => ErrorPayload::new("error", format!("{e:#}")),
    };
    if as_json {
        let mut v = serde_json::json!({ "error": payload });
        if let Some(r) = &payload.remedy {
            v["error"]["run"] = remedy_command(r).into();
        }
        eprintln!("{v}");
    } else {
        eprintln!("{}", error_text(&payload));
    }
}

/// `error[code]: message`, and on the next line what to run about it, when core knows (and
/// the terminal's own alternative, where the CLI has one).
pub fn error_text(e: &ErrorPayload) -> String {
    let mut text = match &e.remedy {
        Some(r) => format!("error[{}]: {}\n  run: {}", e.code, e.message, remedy_command(r)),
        None => format!("error[{}]: {}", e.code, e.message),
    };
    if let Some(alt) = alternative(e) {
        text.push_str(&format!("\n  or:  {alt}"));
    }
    text
}

/// A second way out that only the CLI spells (a flag of another command), by error code.
fn alternative(e: &ErrorPayload) -> Option<String> {
    match (e.code.as_str(), &e.remedy) {
        ("no_admin_key", _) => Some("clawkeep key add ADMIN-KEY-NAME --stdin   (paste the sk-ant-admin01-… key; no --instance)".into()),
        ("rotation_deploy_refused", Some(Remedy::RotateResume { instance, .. })) => {
            Some(format!("clawkeep rotate rollback {instance} && clawkeep rotate start {instance} --manual-deploy   (deploy by hand)"))
        }
        _ => None,
    }
}

/// The same on one line (table cells).
pub fn error_line(e: &ErrorPayload) -> String {
    match &e.remedy {
        Some(r) => format!("error[{}]: {} (run: {})", e.code, e.message, remedy_command(r)),
        None => format!("error[{}]: {}", e.code, e.message),
    }
}

/// A remedy as the command line that carries it out (the desktop renders the same data as a
/// button or a form).
pub fn remedy_command(r: &Remedy) -> String {
    match r {
        Remedy::TrustHost { instance, fingerprint: Some(fp), replace: true } => format!("clawkeep host trust {instance} --fingerprint {fp}"),
        Remedy::TrustHost { instance, .. } => format!("clawkeep host trust {instance}"),
        Remedy::UseKeyName { suggestion } => format!("use the name {suggestion}, or pass --allow-name to keep yours (audited)"),
        Remedy::EditInstance { instance, fields } => {
            let flags: Vec<&str> = fields
                .iter()
                .map(|f| match f.as_str() {
                    "host" => "--host HOST",
                    "port" => "--port PORT",
                    "owner" => "--owner OWNER",
                    "env" => "--env ENV",
                    "jump_via" => "--jump-via ''",
                    other => other,
                })
                .collect();
            format!("clawkeep instance edit {instance} {}", flags.join(" "))
        }
        Remedy::AddKey { instance } => format!("clawkeep key add NAME --instance {instance}"),
        Remedy::BindKey { key, instance } => format!("clawkeep key bind {key} {instance}"),
        Remedy::RetireKey { key } => format!("clawkeep key retire {key}   (or remove it with --force)"),
        Remedy::SetSshIdentity => "clawkeep settings set-ssh-identity --agent | --key-file PATH".into(),
        Remedy::Deploy { instance } => format!("clawkeep deploy {instance}"),
        Remedy::Rotate { instance } => format!("clawkeep rotate start {instance}"),
        Remedy::RotateResume { instance, confirm } => format!("clawkeep rotate resume {instance}{}", if *confirm { " --confirm" } else { "" }),
        Remedy::RotateRollback { instance, confirm } => format!("clawkeep rotate rollback {instance}{}", if *confirm { " --confirm" } else { "" }),
        Remedy::RotateStatus { instance } => format!("clawkeep rotate status {instance}"),
        Remedy::Upgrade => "install a newer Clawkeep".into(),
    }
}

pub fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

pub fn date(d: &chrono::DateTime<chrono::Utc>) -> String {
    d.format("%Y-%m-%d %H:%M").to_string()
}
