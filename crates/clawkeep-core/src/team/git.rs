//! The user's own `git`, driven for the team vault: their credentials, SSH agent and host
//! configuration apply. Arguments never hold a secret (only paths, refs and messages); file
//! contents go through the work tree (metadata and ciphertext only) or `git cat-file --batch`'s
//! stdin/stdout. Git's messages are shown through [`crate::hosttext`].

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};

use super::layout::is_text;
use super::verify::{CommitFacts, Signature};

/// The branch of the team's history.
pub const BRANCH: &str = "main";
pub const REMOTE: &str = "origin";

/// A path a commit changed, and what it became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub to: ChangeTo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeTo {
    Deleted,
    /// A file (or a symbolic link: `ls-tree` lists it as a blob too), by blob id.
    Blob(String),
    /// Not a file: a submodule's commit.
    NotFile,
}

/// One clone of the team repository.
#[derive(Debug, Clone)]
pub struct Git {
    pub dir: PathBuf,
}

fn git_err(context: &str, detail: &[u8]) -> Error {
    Error::Git { context: context.into(), detail: crate::hosttext::tail_lines(&String::from_utf8_lossy(detail), 6, 2000) }
}

fn base(dir: Option<&Path>) -> Command {
    let mut c = Command::new("git");
    if let Some(d) = dir {
        c.arg("-C").arg(d);
    }
    // Never wait on a prompt nobody sees; parseable output.
    c.env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C").env_remove("GIT_DIR").env_remove("GIT_WORK_TREE");
    c
}

fn output(mut c: Command, context: &str, stdin: Option<&[u8]>) -> Result<std::process::Output> {
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| Error::io(format!("{context}: cannot run git (is it installed?)"), e))?;
    // stdin is written from its own thread while the output is read: `cat-file --batch` answers
    // as it reads, and a full stdout pipe would otherwise block both sides.
    std::thread::scope(|s| {
        let writer = match (stdin, child.stdin.take()) {
            (Some(data), Some(mut w)) => Some(s.spawn(move || w.write_all(data))),
            _ => None,
        };
        let out = child.wait_with_output().map_err(|e| Error::io(context.to_string(), e))?;
        if let Some(h) = writer {
            h.join().map_err(|_| Error::Git { context: context.into(), detail: "writing to git failed".into() })?.map_err(|e| Error::io(context.to_string(), e))?;
        }
        Ok(out)
    })
}

/// `git clone <remote> <dir>` (an empty repository clones too).
pub fn clone(remote: &str, dir: &Path) -> Result<Git> {
    let mut c = base(None);
    c.arg("clone").arg("--quiet").arg("--").arg(remote).arg(dir);
    let o = output(c, "cloning the team repository", None)?;
    if !o.status.success() {
        return Err(git_err("cloning the team repository", &o.stderr));
    }
    Ok(Git { dir: dir.to_path_buf() })
}

impl Git {
    pub fn open(dir: &Path) -> Git {
        Git { dir: dir.to_path_buf() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = base(Some(&self.dir));
        c.args(args);
        c
    }

    /// Runs `git ARGS`; stdout on success, else a `git` error with `context`.
    pub fn run(&self, context: &str, args: &[&str]) -> Result<String> {
        let o = output(self.cmd(args), context, None)?;
        if !o.status.success() {
            return Err(git_err(context, &o.stderr));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// Runs `git ARGS`: did it succeed?
    pub fn ok(&self, args: &[&str]) -> Result<bool> {
        Ok(output(self.cmd(args), "git", None)?.status.success())
    }

    /// The clone's own settings: who commits, SSH signing with the member's key, and `main`.
    pub fn configure(&self, member: &str, signing_key: &Path) -> Result<()> {
        let key = signing_key.to_string_lossy();
        let email = format!("{member}@clawkeep.team");
        for (k, v) in [
            ("user.name", member),
            ("user.email", email.as_str()),
            ("gpg.format", "ssh"),
            ("user.signingkey", key.as_ref()),
            ("commit.gpgsign", "true"),
            ("pull.rebase", "true"),
            ("core.autocrlf", "false"),
        ] {
            self.run("configuring the team clone", &["config", "--local", k, v])?;
        }
        Ok(())
    }

    /// The commit `rev` names, if any.
    pub fn rev(&self, rev: &str) -> Result<Option<String>> {
        let o = output(self.cmd(&["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]), "git rev-parse", None)?;
        Ok(o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_string()))
    }

    pub fn fetch(&self) -> Result<()> {
        self.run("fetching from the team repository", &["fetch", "--quiet", REMOTE])?;
        Ok(())
    }

    /// The commits in `from..to` (all of `to` when `from` is `None`), oldest first.
    pub fn commits(&self, from: Option<&str>, to: &str) -> Result<Vec<String>> {
        let range = match from {
            Some(f) => format!("{f}..{to}"),
            None => to.to_string(),
        };
        Ok(self.run("listing new commits", &["rev-list", "--reverse", "--topo-order", &range])?.lines().map(str::to_string).collect())
    }

    /// The files of the layout at `rev` (the text files' text, [`is_text`]; `.age` files with
    /// empty text).
    pub fn files_at(&self, rev: &str) -> Result<BTreeMap<String, String>> {
        let tree = self.tree(rev)?;
        // A text path that is not a file (a submodule's entry) has no text: left out.
        let want: Vec<(&str, &str)> = tree.iter().filter_map(|(p, o)| o.as_deref().filter(|_| is_text(p)).map(|o| (p.as_str(), o))).collect();
        let texts = self.objects(&want.iter().map(|(_, o)| *o).collect::<Vec<_>>())?;
        let mut out: BTreeMap<String, String> = tree.iter().filter(|(p, _)| !is_text(p)).map(|(p, _)| (p.clone(), String::new())).collect();
        for ((p, _), bytes) in want.into_iter().zip(texts) {
            out.insert(p.to_string(), String::from_utf8_lossy(&bytes).into_owned());
        }
        Ok(out)
    }

    /// Every entry of the tree at `rev` with its blob id (`None`: not a file, a submodule's
    /// commit), through one `git ls-tree -r`.
    pub fn tree(&self, rev: &str) -> Result<BTreeMap<String, Option<String>>> {
        let list = self.run("reading the team tree", &["ls-tree", "-r", "-z", "--full-tree", rev])?;
        let mut out = BTreeMap::new();
        for entry in list.split('\0').filter(|e| !e.is_empty()) {
            // `<mode> SP <type> SP <object> TAB <path>`
            let (meta, path) = entry.split_once('\t').ok_or_else(|| git_err("reading the team tree", entry.as_bytes()))?;
            let mut f = meta.split(' ');
            let (_, kind, oid) = (f.next(), f.next(), f.next());
            out.insert(path.to_string(), oid.filter(|_| kind == Some("blob")).map(str::to_string));
        }
        Ok(out)
    }

    /// The contents of `paths` at `rev` (a path not in the tree is left out): the tree listed
    /// once, then its blobs by id through one `git cat-file --batch` (stdin/stdout). A path
    /// given to `cat-file` as `rev:path` would make it read and inflate the directory trees
    /// again for every file, the cost of a sync with a thousand keys.
    pub fn blobs(&self, rev: &str, paths: &[&str]) -> Result<Vec<(String, Vec<u8>)>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let tree = self.tree(rev)?;
        let found: Vec<(&str, &str)> = paths.iter().filter_map(|p| tree.get(*p).and_then(|o| o.as_deref()).map(|o| (*p, o))).collect();
        let data = self.objects(&found.iter().map(|(_, o)| *o).collect::<Vec<_>>())?;
        Ok(found.into_iter().zip(data).map(|((p, _), d)| (p.to_string(), d)).collect())
    }

    /// The contents of the objects `ids`, in order, through one `git cat-file --batch`.
    pub fn objects(&self, ids: &[&str]) -> Result<Vec<Vec<u8>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let input: String = ids.iter().map(|o| format!("{o}\n")).collect();
        let o = output(self.cmd(&["cat-file", "--batch"]), "reading team files", Some(input.as_bytes()))?;
        if !o.status.success() {
            return Err(git_err("reading team files", &o.stderr));
        }
        let mut out = Vec::with_capacity(ids.len());
        let mut rest = &o.stdout[..];
        for _ in ids {
            let nl = rest.iter().position(|b| *b == b'\n').ok_or_else(|| git_err("reading team files", b"short output"))?;
            let header = String::from_utf8_lossy(&rest[..nl]).into_owned();
            rest = &rest[nl + 1..];
            if header.ends_with(" missing") {
                return Err(git_err("reading team files", header.as_bytes()));
            }
            let size: usize = header.rsplit(' ').next().and_then(|s| s.parse().ok()).ok_or_else(|| git_err("reading team files", header.as_bytes()))?;
            if rest.len() < size + 1 {
                return Err(git_err("reading team files", b"short output"));
            }
            out.push(rest[..size].to_vec());
            rest = &rest[size + 1..];
        }
        Ok(out)
    }

    /// What a commit is: parents, author, the signature checked against `allowed_signers`, the
    /// paths it touches; and its first parent and what each path became (to bring the parent's
    /// state up to this commit).
    pub fn commit_facts(&self, id: &str, allowed_signers: &Path) -> Result<(CommitFacts, Option<String>, Vec<Change>)> {
        let signers = format!("gpg.ssh.allowedSignersFile={}", allowed_signers.display());
        let info = self.run("checking a commit's signature", &["-c", &signers, "log", "-1", "--format=%P%x1f%an%x1f%G?%x1f%GS%x1f%GF", id])?;
        let f: Vec<&str> = info.trim_end_matches('\n').split('\x1f').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("").trim().to_string();
        let parents = get(0).split_whitespace().count();
        let first_parent = get(0).split_whitespace().next().map(str::to_string);
        let status = get(2).chars().next().unwrap_or('N');
        let signature = match status {
            'G' => Signature::Good { signer: get(3) },
            'N' => Signature::Missing,
            s => Signature::Untrusted { status: s, key: get(4) },
        };
        let changes = self.changes(id)?;
        let changed = changes.iter().map(|c| c.path.clone()).collect();
        Ok((CommitFacts { id: id.to_string(), author: crate::hosttext::line(&get(1), 80), parents, signature, changed }, first_parent, changes))
    }

    /// The paths commit `id` adds, changes or deletes against its first parent (the root: all
    /// of its files), from `git diff-tree -r --raw`.
    pub fn changes(&self, id: &str) -> Result<Vec<Change>> {
        let raw = self.run("listing a commit's changes", &["diff-tree", "-r", "-z", "--no-commit-id", "--raw", "--root", "--no-renames", "--no-abbrev", id])?;
        let mut out = Vec::new();
        let mut fields = raw.split('\0');
        // `:<old mode> <new mode> <old id> <new id> <status>` NUL `<path>` NUL
        while let Some(meta) = fields.next().filter(|m| !m.is_empty()) {
            let path = fields.next().ok_or_else(|| git_err("listing a commit's changes", meta.as_bytes()))?;
            let f: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
            let (Some(mode), Some(oid), Some(status)) = (f.get(1), f.get(3), f.get(4)) else {
                return Err(git_err("listing a commit's changes", meta.as_bytes()));
            };
            let to = if status.starts_with('D') {
                ChangeTo::Deleted
            } else if mode.starts_with("100") || *mode == "120000" {
                ChangeTo::Blob(oid.to_string())
            } else {
                ChangeTo::NotFile
            };
            out.push(Change { path: path.to_string(), to });
        }
        Ok(out)
    }

    /// Stages everything and makes one signed commit; `false` when there was nothing to commit.
    pub fn commit_all(&self, message: &str) -> Result<bool> {
        self.run("staging team changes", &["add", "-A"])?;
        if self.ok(&["diff", "--cached", "--quiet"])? {
            return Ok(false);
        }
        self.run("committing (signed) to the team repository", &["commit", "--quiet", "-S", "-m", message])?;
        Ok(true)
    }

    /// Pushes `main`; `false` when the remote moved on (fetch, verify, rebase, push again).
    pub fn push(&self) -> Result<bool> {
        let o = output(self.cmd(&["push", "--quiet", REMOTE, &format!("HEAD:refs/heads/{BRANCH}")]), "pushing to the team repository", None)?;
        if o.status.success() {
            return Ok(true);
        }
        let text = String::from_utf8_lossy(&o.stderr);
        if text.contains("[rejected]") || text.contains("non-fast-forward") || text.contains("fetch first") {
            return Ok(false);
        }
        Err(git_err("pushing to the team repository", &o.stderr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree far larger than a pipe's buffer is read in one `cat-file --batch` without the two
    /// sides blocking each other (regression: 2,000 files hung).
    #[test]
    fn a_large_tree_is_read_through_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let g = Git::open(dir.path());
        g.run("init", &["init", "--quiet", "--initial-branch=main"]).unwrap();
        std::fs::create_dir_all(dir.path().join("keys")).unwrap();
        for i in 0..3000 {
            std::fs::write(dir.path().join(format!("keys/k{i}.txt")), format!("name = \"k{i}\"\npadding = \"{}\"\n", "x".repeat(200))).unwrap();
        }
        std::fs::write(dir.path().join("secrets.age"), b"binary").unwrap();
        g.run("add", &["add", "-A"]).unwrap();
        g.run("commit", &["-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "--quiet", "--no-gpg-sign", "-m", "x"]).unwrap();
        let files = g.files_at("HEAD").unwrap();
        assert_eq!(files.len(), 3001);
        assert!(files["keys/k2999.txt"].starts_with("name = \"k2999\""));
        assert_eq!(files["secrets.age"], "", "non-text files are listed, not read");
        let missing = g.blobs("HEAD", &["keys/nope.txt", "keys/k1.txt"]).unwrap();
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].0, "keys/k1.txt");
    }
}
