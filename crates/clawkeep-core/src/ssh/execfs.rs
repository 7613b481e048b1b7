//! File operations over the exec channel, for hosts whose sshd offers no SFTP subsystem
//! (dropbear without `sftp-server`, hardened OpenSSH configs): the same reads and the same atomic
//! write as the SFTP path — content on stdin (never in argv), a 0600 temp file in the same
//! directory, fsync, the replaced file's owner and group, rename (`remote/write_atomic.sh`).
//! File contents travel as raw bytes (no text conversion), so reads and writes are byte-exact.
//! Callers ([`HostSession`]'s file methods) hold the timeout.

use russh_sftp::protocol::FileAttributes;

use super::{sh_quote, FileRead, HostSession};
use crate::error::{Error, Result};

/// The write script's body (`remote/write_atomic.sh`, linted by shellcheck).
const WRITE_SCRIPT: &str = include_str!("../remote/write_atomic.sh");

/// Exit status of a read whose file does not exist.
const MISSING: u32 = 3;
/// Exit status of a read the login user may not make.
const DENIED: u32 = 4;

impl HostSession {
    /// The login directory, symlinks resolved (what SFTP's `realpath .` answers).
    pub(super) async fn exec_home(&self) -> Result<String> {
        let out = self.exec_inner("home", "cd && pwd -P", None).await?;
        let home = out.stdout().lines().map(str::trim).rfind(|l| l.starts_with('/')).map(str::to_string);
        match (out.success(), home) {
            (true, Some(h)) => Ok(h),
            _ => Err(self.remote("home", format!("the home directory could not be read over exec: {}", out.brief()))),
        }
    }

    /// Type, mode, owner and size of `path` (symlinks followed), or `None` if it does not exist.
    pub(super) async fn exec_stat(&self, path: &str) -> Result<Option<FileAttributes>> {
        let cmd = format!("p={}; if [ -e \"$p\" ]; then LC_ALL=C ls -nLd -- \"$p\"; else echo ck_none; fi", sh_quote(path));
        let out = self.exec_inner("stat", &cmd, None).await?;
        let last = out.stdout().lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or_default();
        if out.success() && last == "ck_none" {
            return Ok(None);
        }
        match (out.success(), parse_ls(last)) {
            (true, Some(a)) => Ok(Some(a)),
            _ => Err(self.remote("stat", format!("{path}: {}", out.brief()))),
        }
    }

    /// The whole file, byte for byte ([`FileRead`]). At most `max` bytes.
    pub(super) async fn exec_read(&self, path: &str, max: usize) -> Result<FileRead> {
        // A file in a directory the user may not search is "denied", not "missing" (as SFTP says).
        let cmd = format!(
            "p={}; if [ ! -e \"$p\" ]; then d=${{p%/*}}; if [ -d \"$d\" ] && [ ! -x \"$d\" ]; then exit {DENIED}; fi; exit {MISSING}; fi; [ -r \"$p\" ] || exit {DENIED}; exec cat -- \"$p\"",
            sh_quote(path)
        );
        let (status, marker, out, err) = self.exec_collect("read", &cmd, None, max.saturating_add(1)).await?;
        let brief = || crate::hosttext::tail_lines(&String::from_utf8_lossy(&err.buf), 4, super::BRIEF_MAX);
        match status {
            0 => {}
            MISSING => return Ok(FileRead::Missing),
            DENIED => return Ok(FileRead::Denied),
            s => return Err(self.remote("read", format!("{path}: cat exited with {s}: {}", brief()))),
        }
        match out.bytes_after(&marker) {
            Some(b) if b.len() <= max => Ok(FileRead::Bytes(b.to_vec())),
            _ => Err(self.remote("read", format!("{path} is larger than {max} bytes"))),
        }
    }

    /// [`HostSession::write_atomic`] over exec: `remote/write_atomic.sh`, `data` on stdin.
    pub(super) async fn exec_write(&self, path: &str, data: &[u8]) -> Result<()> {
        let nonce: u32 = rand::random();
        let cmd = format!("P={}; N={}\n{WRITE_SCRIPT}", sh_quote(path), sh_quote(&format!("{nonce:08x}")));
        let out = self.exec_inner("write", &cmd, Some(data)).await?;
        let said = |k: &str| out.stdout().lines().find_map(|l| l.trim().strip_prefix(k).and_then(|r| r.strip_prefix('=')).map(str::to_string));
        match out.exit_status {
            Some(0) if said("ck_written").is_some() => Ok(()),
            Some(10) => Err(Error::SftpUnavailable {
                instance: self.target.instance.clone(),
                reason: format!("the host's shell has no `{}` to write files with", crate::hosttext::line(&said("ck_missing").unwrap_or_default(), 100)),
            }),
            Some(13) => {
                let own = said("ck_owner").unwrap_or_default();
                let (uid, gid) = own.split_once(':').map(|(u, g)| (u.parse().unwrap_or(0), g.parse().unwrap_or(0))).unwrap_or((0, 0));
                Err(self.owner_refused(path, uid, gid, &out.brief()))
            }
            s => {
                let what = match s {
                    Some(11) => "cannot create the temporary file",
                    Some(12) => "writing the temporary file failed",
                    Some(14) => "chmod or rename of the temporary file failed",
                    Some(15) => "the target cannot be written",
                    _ => "the write did not finish",
                };
                Err(self.remote("write", format!("{path}: {what} (over exec, the host has no SFTP): {}", out.brief())))
            }
        }
    }

    /// Creates a directory with `mode` (an existing directory is fine).
    pub(super) async fn exec_mkdir(&self, path: &str, mode: u32) -> Result<()> {
        let cmd = format!("p={}; [ -d \"$p\" ] || mkdir -m {:o} -- \"$p\" || [ -d \"$p\" ]", sh_quote(path), mode & 0o7777);
        let out = self.exec_inner("mkdir", &cmd, None).await?;
        if out.success() {
            Ok(())
        } else {
            Err(self.remote("mkdir", format!("{path}: {}", out.brief())))
        }
    }

    /// Removes a file (missing is fine).
    pub(super) async fn exec_remove(&self, path: &str) -> Result<()> {
        let out = self.exec_inner("remove", &format!("rm -f -- {}", sh_quote(path)), None).await?;
        if out.success() {
            Ok(())
        } else {
            Err(self.remote("remove", format!("{path}: {}", out.brief())))
        }
    }
}

/// One line of `ls -nLd` (`-rw------- 1 1000 1000 123 …`) as SFTP attributes: type and mode
/// bits, uid, gid, size. `None` for anything else.
pub(super) fn parse_ls(line: &str) -> Option<FileAttributes> {
    let mut f = line.split_whitespace();
    let mode = f.next()?.as_bytes();
    let (uid, gid, size) = (f.nth(1)?.parse().ok()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    if mode.len() < 10 {
        return None;
    }
    let kind = match mode[0] {
        b'-' => 0o100000,
        b'd' => 0o040000,
        b'l' => 0o120000,
        b'p' => 0o010000,
        b's' => 0o140000,
        b'c' => 0o020000,
        b'b' => 0o060000,
        _ => return None,
    };
    let mut bits = 0u32;
    for (i, c) in mode[1..10].iter().enumerate() {
        let bit = 1 << (8 - i);
        match c {
            b'-' | b'S' | b'T' => {}
            b'r' | b'w' | b'x' | b's' | b't' => bits |= bit,
            _ => return None,
        }
        // setuid/setgid/sticky
        match (i, c) {
            (2, b's' | b'S') => bits |= 0o4000,
            (5, b's' | b'S') => bits |= 0o2000,
            (8, b't' | b'T') => bits |= 0o1000,
            _ => {}
        }
    }
    Some(FileAttributes { size: Some(size), uid: Some(uid), gid: Some(gid), permissions: Some(kind | bits), ..FileAttributes::empty() })
}

/// Did a write fail for want of space? Yes when the host said so (`ENOSPC`'s text, or the SFTP
/// status a full disk gives with too little room left), or when the file system has less room
/// than the file (`avail_kb`, asked after the temp file was removed). The detail for the message.
pub(super) fn disk_full(message: &str, avail_kb: Option<u64>, len: usize) -> Option<String> {
    let need = len as u64 + 4096;
    let room = avail_kb.map(|k| k.saturating_mul(1024));
    if message.contains("No space left on device") || message.contains("Disk quota exceeded") {
        return Some(match room {
            Some(r) => format!("the host reports no space left; {} KiB free, the file needs {} bytes", r / 1024, len),
            None => "the host reports no space left on the device".into(),
        });
    }
    match room {
        Some(r) if r < need => Some(format!("{} KiB free on its file system, the file needs {} bytes", r / 1024, len)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_lines_become_attributes() {
        let a = parse_ls("-rw------- 1 1000 100 123 Dec  4 20:40 /home/u/.openclaw/.env").unwrap();
        assert_eq!((a.uid, a.gid, a.size, a.permissions), (Some(1000), Some(100), Some(123), Some(0o100600)));
        assert!(a.file_type().is_file());
        let d = parse_ls("drwxr-s--T. 2 0 0 4096 Jan  1 00:00 /srv/x").unwrap();
        assert!(d.is_dir() && d.permissions == Some(0o040000 | 0o750 | 0o2000 | 0o1000), "{:o}", d.permissions.unwrap());
        assert_eq!(parse_ls("-rwxr-xr-x+ 1 5 6 7 x").unwrap().permissions, Some(0o100755));
        for bad in ["", "ck_none", "total 0", "-rw------- 1 alice bob 1 x", "?rw------- 1 1 1 1 x", "-rw 1 1 1 1"] {
            assert!(parse_ls(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn disk_full_judgement() {
        // The host's own words, with or without df's answer.
        assert!(disk_full("cat: write error: No space left on device", Some(0), 100).unwrap().contains("0 KiB free"));
        assert!(disk_full("cat: write error: No space left on device", None, 100).is_some());
        // SFTP says only "Failure": the free space decides.
        assert!(disk_full("write /x: Failure", Some(1), 8000).is_some());
        assert!(disk_full("write /x: Failure", Some(1_000_000), 8000).is_none());
        assert!(disk_full("write /x: Failure", None, 8000).is_none());
        // Another cause with room to spare is not a full disk.
        assert!(disk_full("create /x: Permission denied", Some(50_000), 10).is_none());
    }
}
