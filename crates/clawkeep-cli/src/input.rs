//! Reading secrets safely: a hidden prompt on a terminal, all of stdin with `--stdin`, or a file
//! with `--file`. Never argv.

use std::ffi::OsString;
use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use clawkeep_core::Secret;

/// The 1-based position of an argument that looks like an Anthropic credential, if any.
pub fn key_in_argv(args: &[OsString]) -> Option<usize> {
    args.iter().skip(1).position(|a| a.to_string_lossy().contains("sk-ant-")).map(|p| p + 1)
}

/// Upper bound for a key read from stdin or a file: far above any real key, far below
/// anything that would hurt.
const MAX_INPUT: u64 = 16 * 1024;

pub fn read_secret(from_stdin: bool, file: Option<&Path>) -> Result<Secret> {
    let mut buf = String::new();
    if let Some(path) = file {
        let f = std::fs::File::open(path).with_context(|| format!("cannot open key file {}", path.display()))?;
        f.take(MAX_INPUT + 1).read_to_string(&mut buf).with_context(|| format!("cannot read key file {} (is it text?)", path.display()))?;
    } else if from_stdin {
        std::io::stdin().take(MAX_INPUT + 1).read_to_string(&mut buf).context("cannot read the key from stdin (is it text?)")?;
    } else if std::io::stdin().is_terminal() {
        let v = rpassword::prompt_password("Paste the key (input is hidden): ").context("cannot read the key from the terminal")?;
        return Ok(Secret::new(v));
    } else {
        bail!("no key given: pipe it with --stdin, read it from a file with --file FILE, or run in a terminal to be prompted");
    }
    if buf.len() as u64 > MAX_INPUT {
        bail!("the key input is larger than {MAX_INPUT} bytes; a key is about 110 characters");
    }
    Ok(Secret::new(buf))
}

/// A yes/no question on the terminal (`[y/N]`, default no). Without a terminal it is not asked:
/// an error that says how to answer it up front (`how`: "pass --yes", …).
pub(crate) fn confirm(question: &str, how: &str) -> Result<bool> {
    use std::io::{BufRead, Write};
    if !std::io::stdin().is_terminal() {
        bail!("{question} — not asked, because stdin is not a terminal; {how}");
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
