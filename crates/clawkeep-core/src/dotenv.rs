//! The `ANTHROPIC_API_KEY` line of a host's `.env`: one rule, read and rewritten in Rust and
//! checked on the host by an `awk` program that follows the same rule.
//!
//! **The rule** (bytes, no character set assumed):
//!
//! - The file is split into lines at `\n`. One `\r` right before the `\n` (or at the very end of
//!   the file) is part of the line ending, never of a value.
//! - The key line is the **first** line that is: optional spaces/tabs, optionally `export`
//!   followed by at least one space/tab, `ANTHROPIC_API_KEY`, optional spaces/tabs, `=`.
//! - Its value starts after the `=` and any spaces/tabs. If it starts with `"` or `'` and the
//!   same quote appears again on the line, the value is what lies between the two (no escapes;
//!   a key never holds a quote or a backslash). Otherwise it is unquoted: it ends at a `#` that
//!   starts it or follows a space/tab (an inline comment), trailing spaces/tabs removed.
//!
//! [`rewrite`] replaces only the value's bytes (quotes, `export`, spacing, comments and the line
//! ending of that line stay), drops later `ANTHROPIC_API_KEY` lines (they would be ambiguous),
//! and keeps every other byte of the file. A file without a key line gets one appended, with
//! the file's own line-ending style (`\r\n` when its first line ends so).
//!
//! [`VALUE_AWK`] is the same rule for the host (`LC_ALL=C awk`, POSIX awk, mawk and busybox):
//! it prints the value without a newline, and exits 1 when the file has no key line.
//! The unit tests run it against the Rust parser.

use crate::secret::{Secret, SecretBytes};

/// The variable Clawkeep deploys.
pub const KEY_NAME: &str = "ANTHROPIC_API_KEY";

/// The host-side twin of [`key_value`]: `LC_ALL=C awk "$VALUE_AWK" FILE` prints the value of
/// the key line (no newline) and exits 0, or prints nothing and exits 1.
pub const VALUE_AWK: &str = r##"{ sub(/\r$/, "") }
/^[ \t]*(export[ \t]+)?ANTHROPIC_API_KEY[ \t]*=/ {
  v = $0; sub(/^[ \t]*(export[ \t]+)?ANTHROPIC_API_KEY[ \t]*=[ \t]*/, "", v)
  q = substr(v, 1, 1); rest = substr(v, 2)
  if ((q == "\"" || q == "\047") && index(rest, q) > 0) { v = substr(rest, 1, index(rest, q) - 1) }
  else if (substr(v, 1, 1) == "#") v = ""
  else { if (match(v, /[ \t]#/)) v = substr(v, 1, RSTART - 1); sub(/[ \t]+$/, "", v) }
  printf "%s", v; found = 1; exit
}
END { exit !found }"##;

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where the value sits in a key line (without its line ending): `start..end`.
fn value_span(line: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < line.len() && is_blank(line[i]) {
        i += 1;
    }
    if line[i..].starts_with(b"export") && line.get(i + 6).copied().is_some_and(is_blank) {
        let mut j = i + 6;
        while j < line.len() && is_blank(line[j]) {
            j += 1;
        }
        // `export` is only a prefix when the name follows it.
        if line[j..].starts_with(KEY_NAME.as_bytes()) {
            i = j;
        }
    }
    if !line[i..].starts_with(KEY_NAME.as_bytes()) {
        return None;
    }
    i += KEY_NAME.len();
    while i < line.len() && is_blank(line[i]) {
        i += 1;
    }
    if line.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < line.len() && is_blank(line[i]) {
        i += 1;
    }
    if let Some(&q) = line.get(i).filter(|&&q| q == b'"' || q == b'\'') {
        if let Some(close) = line[i + 1..].iter().position(|&b| b == q) {
            return Some((i + 1, i + 1 + close));
        }
    }
    let mut end = line.len();
    for k in i..line.len() {
        if line[k] == b'#' && (k == i || is_blank(line[k - 1])) {
            end = k;
            break;
        }
    }
    while end > i && is_blank(line[end - 1]) {
        end -= 1;
    }
    Some((i, end))
}

/// Splits one line (as from `split_inclusive(b'\n')`) into its body and its line ending.
fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let mut body = line;
    if let Some(b) = body.strip_suffix(b"\n") {
        body = b;
    }
    if let Some(b) = body.strip_suffix(b"\r") {
        body = b;
    }
    (body, &line[body.len()..])
}

/// Is this line (with or without its ending) an `ANTHROPIC_API_KEY` line?
pub fn is_key_line(line: &[u8]) -> bool {
    value_span(split_ending(line).0).is_some()
}

/// The value of the file's key line, if it has one.
pub fn key_value(text: &[u8]) -> Option<Secret> {
    text.split_inclusive(|&b| b == b'\n').find_map(|l| {
        let (body, _) = split_ending(l);
        value_span(body).map(|(s, e)| Secret::new(String::from_utf8_lossy(&body[s..e]).into_owned()))
    })
}

/// Lines that are not key lines.
pub fn other_lines(text: &[u8]) -> usize {
    text.split_inclusive(|&b| b == b'\n').filter(|l| !is_key_line(l) && !split_ending(l).0.is_empty()).count()
}

/// What [`rewrite`] produced.
#[derive(Debug)]
pub struct Rewrite {
    /// The new file.
    pub text: SecretBytes,
    /// The value the file held (first key line).
    pub previous: Option<Secret>,
    /// Later key lines dropped.
    pub dropped: usize,
}

/// The file with `key` as the value of its key line (see the module docs).
pub fn rewrite(old: Option<&[u8]>, key: &Secret) -> Rewrite {
    let mut out: Vec<u8> = Vec::with_capacity(old.map_or(0, <[u8]>::len) + key.len() + 32);
    let mut previous = None;
    let mut dropped = 0;
    let mut placed = false;
    let old = old.unwrap_or_default();
    for line in old.split_inclusive(|&b| b == b'\n') {
        let (body, ending) = split_ending(line);
        match value_span(body) {
            Some(_) if placed => dropped += 1,
            Some((s, e)) => {
                previous = Some(Secret::new(String::from_utf8_lossy(&body[s..e]).into_owned()));
                out.extend_from_slice(&body[..s]);
                out.extend_from_slice(key.expose().as_bytes());
                if s == e && body[e..].starts_with(b"#") {
                    // `KEY= # comment`: keep the comment a comment.
                    out.push(b' ');
                }
                out.extend_from_slice(&body[e..]);
                out.extend_from_slice(ending);
                placed = true;
            }
            None => out.extend_from_slice(line),
        }
    }
    if !placed {
        let eol: &[u8] = match old.iter().position(|&b| b == b'\n') {
            Some(i) if i > 0 && old[i - 1] == b'\r' => b"\r\n",
            _ => b"\n",
        };
        if !out.is_empty() && !out.ends_with(b"\n") {
            out.extend_from_slice(eol);
        }
        out.extend_from_slice(KEY_NAME.as_bytes());
        out.push(b'=');
        out.extend_from_slice(key.expose().as_bytes());
        out.extend_from_slice(eol);
    }
    Rewrite { text: SecretBytes::new(out), previous, dropped }
}

/// The file without its `ANTHROPIC_API_KEY` lines (a stale key in `gateway.systemd.env`); every
/// other byte kept.
pub fn strip_key_lines(text: &[u8]) -> SecretBytes {
    SecretBytes::new(text.split_inclusive(|&b| b == b'\n').filter(|l| !is_key_line(l)).flatten().copied().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn k(s: &str) -> Secret {
        Secret::new(s.to_string())
    }

    fn rw(old: &str, key: &str) -> (String, Option<String>, usize) {
        let r = rewrite(Some(old.as_bytes()), &k(key));
        (String::from_utf8(r.text.expose().to_vec()).unwrap(), r.previous.map(|p| p.expose().to_string()), r.dropped)
    }

    #[test]
    fn reads_the_forms_people_write() {
        let cases: &[(&str, Option<&str>)] = &[
            ("ANTHROPIC_API_KEY=abc\n", Some("abc")),
            ("ANTHROPIC_API_KEY=abc\r\n", Some("abc")),
            ("ANTHROPIC_API_KEY=abc\r", Some("abc")),
            ("export ANTHROPIC_API_KEY=abc\n", Some("abc")),
            ("  export\tANTHROPIC_API_KEY = \"abc\"  # note\r\n", Some("abc")),
            ("ANTHROPIC_API_KEY='abc'\n", Some("abc")),
            ("ANTHROPIC_API_KEY=abc # comment\n", Some("abc")),
            ("ANTHROPIC_API_KEY=abc#notacomment\n", Some("abc#notacomment")),
            ("ANTHROPIC_API_KEY=\"abc\n", Some("\"abc")),
            ("ANTHROPIC_API_KEY=\n", Some("")),
            ("ANTHROPIC_API_KEY= #c\n", Some("")),
            ("ANTHROPIC_API_KEY=#c\n", Some("")),
            ("ANTHROPIC_API_KEY_OLD=abc\n", None),
            ("#ANTHROPIC_API_KEY=abc\n", None),
            ("exportANTHROPIC_API_KEY=abc\n", None),
            ("FOO=1\nANTHROPIC_API_KEY=first\nANTHROPIC_API_KEY=second\n", Some("first")),
        ];
        for (text, want) in cases {
            assert_eq!(key_value(text.as_bytes()).map(|s| s.expose().to_string()).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn rewrite_keeps_every_other_byte() {
        let key = "NEWKEYVALUE-1234567890-abcdefgh";
        let (new, prev, dropped) = rw("# comment\nFOO=bar\nexport ANTHROPIC_API_KEY=\"oldvalue-123\"\nBAZ=1\nANTHROPIC_API_KEY=dup\n", key);
        assert_eq!(new, format!("# comment\nFOO=bar\nexport ANTHROPIC_API_KEY=\"{key}\"\nBAZ=1\n"));
        assert_eq!(prev.as_deref(), Some("oldvalue-123"));
        assert_eq!(dropped, 1);
        // CRLF file, quotes and a comment kept.
        let (new, prev, _) = rw("A=1\r\nANTHROPIC_API_KEY='old' # rotated\r\nB=2\r\n", key);
        assert_eq!(new, format!("A=1\r\nANTHROPIC_API_KEY='{key}' # rotated\r\nB=2\r\n"));
        assert_eq!(prev.as_deref(), Some("old"));
        // Appended with the file's line-ending style; no final newline added to a key line.
        assert_eq!(rw("A=1\r\nB=2", key).0, format!("A=1\r\nB=2\r\nANTHROPIC_API_KEY={key}\r\n"));
        assert_eq!(rw("A=1", key).0, format!("A=1\nANTHROPIC_API_KEY={key}\n"));
        assert_eq!(rw("ANTHROPIC_API_KEY=old", key).0, format!("ANTHROPIC_API_KEY={key}"));
        assert_eq!(String::from_utf8(rewrite(None, &k(key)).text.expose().to_vec()).unwrap(), format!("ANTHROPIC_API_KEY={key}\n"));
        assert_eq!(strip_key_lines(b"A=1\r\nexport ANTHROPIC_API_KEY=x\r\nB=2\n").expose(), b"A=1\r\nB=2\n");
        // Not UTF-8: the other bytes survive untouched.
        let old = b"X=\xff\xfe\nANTHROPIC_API_KEY=a\n";
        let r = rewrite(Some(old), &k(key));
        assert_eq!(r.text.expose(), [&b"X=\xff\xfe\nANTHROPIC_API_KEY="[..], key.as_bytes(), b"\n"].concat());
    }

    /// The host's awk program and the Rust parser agree (run locally with the system awk).
    #[test]
    fn host_awk_follows_the_same_rule() {
        let samples: &[&[u8]] = &[
            b"ANTHROPIC_API_KEY=abc\n",
            b"ANTHROPIC_API_KEY=abc\r\n",
            b"ANTHROPIC_API_KEY=abc\r",
            b"export ANTHROPIC_API_KEY=abc\n",
            b"  export\tANTHROPIC_API_KEY = \"abc\"  # note\r\n",
            b"ANTHROPIC_API_KEY='abc'\r\n",
            b"ANTHROPIC_API_KEY=abc # comment\n",
            b"ANTHROPIC_API_KEY=abc\t#c\n",
            b"ANTHROPIC_API_KEY=abc#x\n",
            b"ANTHROPIC_API_KEY=\"abc\n",
            b"ANTHROPIC_API_KEY='a\"b'\n",
            b"ANTHROPIC_API_KEY=\n",
            b"ANTHROPIC_API_KEY= #c\n",
            b"ANTHROPIC_API_KEY=#c\n",
            b"ANTHROPIC_API_KEY=a  \t\r\n",
            b"ANTHROPIC_API_KEY_OLD=abc\n",
            b"#ANTHROPIC_API_KEY=abc\n",
            b"A=1\nexport ANTHROPIC_API_KEY=first  \nANTHROPIC_API_KEY=second\n",
            b"FOO=bar\n",
            b"",
            b"ANTHROPIC_API_KEY=\xc3\xa9t\xff\n",
        ];
        for s in samples {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join("env");
            std::fs::write(&f, s).unwrap();
            let out = std::process::Command::new("awk").env("LC_ALL", "C").arg(VALUE_AWK).arg(&f).output().unwrap();
            let want = s.split_inclusive(|&b| b == b'\n').find_map(|l| {
                let (body, _) = split_ending(l);
                value_span(body).map(|(a, b)| body[a..b].to_vec())
            });
            match want {
                Some(v) => {
                    assert!(out.status.success(), "{:?}", String::from_utf8_lossy(s));
                    assert_eq!(out.stdout, v, "{:?}", String::from_utf8_lossy(s));
                }
                None => {
                    assert_eq!(out.status.code(), Some(1), "{:?}", String::from_utf8_lossy(s));
                    assert!(out.stdout.is_empty());
                }
            }
        }
    }

    fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            "[ \t]{0,2}(export[ \t])?ANTHROPIC_API_KEY[ \t]?=[ \t]?[\"']?[A-Za-z0-9_#-]{0,12}[\"']?( #c)?".prop_map(String::into_bytes),
            "[A-Z_]{1,8}=[a-z \"'#]{0,10}".prop_map(String::into_bytes),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(old in proptest::collection::vec(any::<u8>(), 0..300)) {
            let r = rewrite(Some(&old), &k("NEWKEY-abc_123"));
            let _ = key_value(&old);
            let _ = strip_key_lines(&old);
            let _ = other_lines(&old);
            // Whatever the old file was, the new one holds the key on its key line.
            let v = key_value(r.text.expose()).map(|s| s.expose().to_string());
            prop_assert_eq!(v.as_deref(), Some("NEWKEY-abc_123"));
        }

        #[test]
        fn round_trip_keeps_every_other_byte(lines in proptest::collection::vec(line_strategy(), 0..12), crlf in any::<bool>()) {
            let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
            let mut old = Vec::new();
            for l in &lines {
                let l: Vec<u8> = l.iter().copied().filter(|&b| b != b'\n' && b != b'\r').collect();
                old.extend_from_slice(&l);
                old.extend_from_slice(eol);
            }
            let key = "NEWKEY-abc_123";
            // An empty file has no line-ending style: `\n`.
            let eol: &[u8] = if old.is_empty() { b"\n" } else { eol };
            let r = rewrite(Some(&old), &k(key));
            let new = r.text.expose();
            // The lines that were not key lines are all still there, in order, with their endings.
            let keep = |t: &[u8]| t.split_inclusive(|&b| b == b'\n').filter(|l| !is_key_line(l)).flatten().copied().collect::<Vec<u8>>();
            let (ko, kn) = (keep(&old), keep(new));
            if key_value(&old).is_some() {
                prop_assert_eq!(&ko, &kn);
                // Exactly one key line, in place of the first one, everything else unchanged.
                let first = old.split_inclusive(|&b| b == b'\n').position(is_key_line).unwrap();
                let ol: Vec<&[u8]> = old.split_inclusive(|&b| b == b'\n').collect();
                let nl: Vec<&[u8]> = new.split_inclusive(|&b| b == b'\n').collect();
                prop_assert_eq!(&nl[..first], &ol[..first]);
                prop_assert!(nl[first].ends_with(eol));
            } else {
                prop_assert_eq!(&new[..old.len()], &old[..]);
                let appended = [b"ANTHROPIC_API_KEY=", key.as_bytes(), eol].concat();
                prop_assert_eq!(&new[old.len()..], appended.as_slice());
            }
            // Every line of the new file still ends the way the file's lines did.
            for l in new.split_inclusive(|&b| b == b'\n') {
                prop_assert!(l.ends_with(eol));
            }
            let v = key_value(new).map(|s| s.expose().to_string());
            prop_assert_eq!(v.as_deref(), Some(key));
            // Rewriting again with the same key changes nothing.
            let again = rewrite(Some(new), &k(key));
            prop_assert_eq!(again.text.expose(), new);
        }
    }
}
