//! `clawkeep`: the command line over clawkeep-core. Each subcommand parses its flags, calls one
//! core operation, and prints a table (or JSON with `--json`). Exit codes: 0 ok, 1 failure,
//! 2 usage (0 when the reader of stdout went away early: `| head`). Secrets are read from a hidden prompt, stdin or a file — never from argv.

mod args;
mod cmd;
mod cmd_check;
mod cmd_cost;
mod cmd_onboard;
mod cmd_remote;
mod cmd_rotate;
mod cmd_team;
mod input;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// `clawkeep … | head` closes the pipe early: end quietly with 0, as `--json` output does (the
/// reader had what it wanted; a `pipefail` script goes on), not with a panic message. SIGPIPE
/// itself stays ignored (Rust's default), so a pipe to a child process (git, ssh) that dies
/// still fails as an error in core.
fn quiet_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p.downcast_ref::<String>().map(String::as_str).or_else(|| p.downcast_ref::<&str>().copied()).unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("os error 32") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_when_stdout_closes();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // A key on the command line is already in the shell history and the process list; refuse
    // before clap can echo it back in a usage error.
    if let Some(pos) = input::key_in_argv(&args) {
        eprintln!(
            "error: argument {pos} looks like an Anthropic key. Keys are never accepted as command-line arguments \
             (they would land in shell history and the process list). Use `clawkeep key add NAME --stdin`, `--file FILE`, \
             or the hidden prompt. If that key is real, consider it exposed and rotate it."
        );
        return ExitCode::from(2);
    }
    let cli = match cmd::Cli::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let json = cli.json;
    // The passphrase of an age-file key store (CLAWKEEP_KEYSTORE=age-file) may come from a
    // hidden prompt on the terminal (never from argv or an environment variable's value).
    clawkeep_core::keystore::set_prompt(std::sync::Arc::new(|question: &str| rpassword::prompt_password(question).ok().map(clawkeep_core::Secret::new)));
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(&e, json);
            ExitCode::from(1)
        }
    }
}
