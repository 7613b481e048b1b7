//! Where Clawkeep keeps its data: one directory per user, shared by the CLI and the desktop app.
//!
//! Order: an explicit directory (`--data-dir`, or the app's setting) > `CLAWKEEP_HOME` >
//! the platform data directory (`~/.local/share/clawkeep` on Linux, `~/Library/Application
//! Support/clawkeep` on macOS, `%APPDATA%\clawkeep` on Windows).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const DATA_DIR_ENV: &str = "CLAWKEEP_HOME";
pub const DB_FILE: &str = "clawkeep.db";

/// Resolves the data directory without touching the disk.
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::data_dir().map(|d| d.join("clawkeep")).ok_or_else(|| Error::invalid("data directory", "the platform has no data directory; set CLAWKEEP_HOME or pass --data-dir"))
}

/// Creates the directory (mode 0700 on Unix) if it does not exist.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("cannot create data directory {}", dir.display()), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(|e| Error::io(format!("cannot restrict {}", dir.display()), e))?;
    }
    Ok(())
}

/// Writes a file whole or not at all: a temp file next to it, fsync, rename over `path` (an
/// interrupted write leaves the previous file, never half of the new one). Mode 0600 on Unix.
/// Refuses `path` when it is (or, through `..` or symbolic links, resolves to a place) inside
/// `dir` — e.g. an export that would overwrite `clawkeep.db`. A path whose directory does not
/// exist cannot be inside an existing `dir`.
pub fn refuse_inside(path: &Path, dir: &Path, what: &str) -> Result<()> {
    let parent = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (Ok(parent), Ok(dir)) = (parent.canonicalize(), dir.canonicalize()) else { return Ok(()) };
    let target = match path.file_name() {
        Some(n) => parent.join(n),
        None => parent,
    };
    // The file itself may be a link into `dir` (the write replaces the link, but say no anyway).
    let resolved = target.canonicalize().unwrap_or_else(|_| target.clone());
    if target.starts_with(&dir) || resolved.starts_with(&dir) {
        return Err(Error::invalid("path", format!("'{}' is inside {what}: choose a file elsewhere", path.display())));
    }
    Ok(())
}

pub fn write_file_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| Error::invalid("path", format!("'{}' names no file", path.display())))?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(format!("cannot write {}", path.display()), e));
    }
    Ok(())
}

/// `~/x` → the home directory's `x`; anything else as given (trimmed).
pub fn expand_home(path: &str) -> PathBuf {
    let p = path.trim();
    match p.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map(|h| h.join(rest)).unwrap_or_else(|| PathBuf::from(p)),
        None => PathBuf::from(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12 finding 9: an export never lands inside the data directory, however the path
    /// is spelled.
    #[test]
    fn refuse_inside_sees_through_dots_and_links() {
        let t = tempfile::tempdir().unwrap();
        let data = t.path().join("data");
        std::fs::create_dir_all(data.join("sub")).unwrap();
        std::fs::write(data.join("clawkeep.db"), b"db").unwrap();
        let out = t.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        std::os::unix::fs::symlink(&data, t.path().join("link")).unwrap();
        std::os::unix::fs::symlink(data.join("clawkeep.db"), out.join("db-link")).unwrap();
        for bad in [data.join("clawkeep.db"), data.join("sub/new.csv"), out.join("../data/clawkeep.db"), t.path().join("link/clawkeep.db"), out.join("db-link")] {
            let e = refuse_inside(&bad, &data, "the data dir").unwrap_err();
            assert_eq!(e.code(), "invalid_input", "{}", bad.display());
        }
        for good in [out.join("plan.ics"), t.path().join("data-not.csv"), t.path().join("missing/dir/x.csv")] {
            refuse_inside(&good, &data, "the data dir").unwrap_or_else(|e| panic!("{}: {e}", good.display()));
        }
    }
}
