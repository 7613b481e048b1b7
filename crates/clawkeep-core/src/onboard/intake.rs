//! Intake: the hosts of a batch from an ssh config, a CSV/TSV table or a pasted list, and the
//! host-key fingerprints a person already trusts (a provider's list, `ssh-keyscan` output).
//! Pure text in, plain data out; a bad row is a clear per-row error, never a panic.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::naming;

/// One host to onboard: the instance name it gets and where to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct OnboardHost {
    /// The instance name (slug).
    pub name: String,
    pub host: String,
    pub port: u16,
    /// SSH user; `None`: the OS user running Clawkeep.
    pub user: Option<String>,
}

impl OnboardHost {
    /// `host:port` (IPv6 in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A row of the input that could not be read: 1-based line number and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Joins row errors into one message.
pub fn describe_rows(errors: &[RowError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The row errors of `what` (`hosts`, `known fingerprints`) as one `invalid_input` error.
pub fn rows_error(what: &'static str, errors: &[RowError]) -> crate::Error {
    crate::Error::invalid(what, describe_rows(errors))
}

/// Host names and users: printable, no whitespace or shell/control characters, bounded.
fn check_host(h: &str) -> Result<(), String> {
    if h.is_empty() {
        return Err("the host is empty".into());
    }
    if h.len() > 253 {
        return Err("the host is longer than 253 characters".into());
    }
    if !h.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)) {
        return Err(format!("'{}' is not a host name or IP address", crate::hosttext::line(h, 80)));
    }
    Ok(())
}

fn check_user(u: &str) -> Result<(), String> {
    if u.is_empty() || u.len() > 64 || !u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) || u.starts_with('-') {
        return Err(format!("'{}' is not an SSH user name", crate::hosttext::line(u, 80)));
    }
    Ok(())
}

fn check_port(p: &str) -> Result<u16, String> {
    match p.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("'{}' is not a port (1–65535)", crate::hosttext::line(p.trim(), 20))),
        Ok(n) => Ok(n),
    }
}

/// `[user@]host[:port]` (IPv6 as `[addr]:port`).
fn parse_target(s: &str) -> Result<(Option<String>, String, Option<u16>), String> {
    let (user, rest) = match s.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, s),
    };
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, tail) = r.split_once(']').ok_or_else(|| format!("'{}': an opening '[' without ']'", crate::hosttext::line(s, 80)))?;
        let port = match tail.strip_prefix(':') {
            Some(p) => Some(check_port(p)?),
            None if tail.is_empty() => None,
            None => return Err(format!("'{}': unexpected text after ']'", crate::hosttext::line(s, 80))),
        };
        (h.to_string(), port)
    } else {
        match rest.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h.to_string(), Some(check_port(p)?)),
            _ => (rest.to_string(), None),
        }
    };
    if let Some(u) = &user {
        check_user(u)?;
    }
    check_host(&host)?;
    Ok((user, host, port))
}

/// Reads a table of hosts: CSV or TSV rows `name,host[,port[,user]]` (a header row naming
/// `name` and `host` is skipped; `#` comments and blank lines too), or a pasted list of
/// `[user@]host[:port]`, one per line or separated by commas/whitespace (the name is the slug
/// of the host). Every bad row is reported with its line; nothing is returned unless all rows
/// are good. Duplicate names are errors too.
pub fn parse_host_table(text: &str) -> Result<Vec<OnboardHost>, Vec<RowError>> {
    let mut out: Vec<OnboardHost> = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.contains(|c: char| c.is_control() && c != '\t') {
            errors.push(RowError { line: line_no, message: "control characters in the row".into() });
            continue;
        }
        let sep = if line.contains('\t') {
            Some('\t')
        } else if line.contains(',') || line.contains(';') {
            Some(if line.contains(';') && !line.contains(',') { ';' } else { ',' })
        } else {
            None
        };
        let cells: Vec<&str> = match sep {
            Some(s) => line.split(s).map(str::trim).collect(),
            None => line.split_whitespace().collect(),
        };
        let lower: Vec<String> = cells.iter().map(|c| c.to_ascii_lowercase()).collect();
        if lower.iter().any(|c| c == "name") && lower.iter().any(|c| c == "host" || c == "hostname" || c == "address") {
            continue; // a header row
        }
        // A list row: every cell is a target (`host`, `user@host:port`).
        let is_table = cells.len() >= 2 && cells.len() <= 4 && naming::check_slug("name", cells[0]).is_ok() && parse_target(cells[1]).is_ok() && !cells[0].contains('.');
        let mut rows: Vec<Result<OnboardHost, String>> = Vec::new();
        if is_table {
            rows.push((|| {
                let (tuser, host, tport) = parse_target(cells[1])?;
                let port = match cells.get(2).map(|p| p.trim()).filter(|p| !p.is_empty()) {
                    Some(p) => check_port(p)?,
                    None => tport.unwrap_or(22),
                };
                let user = match cells.get(3).map(|u| u.trim()).filter(|u| !u.is_empty()) {
                    Some(u) => {
                        check_user(u)?;
                        Some(u.to_string())
                    }
                    None => tuser,
                };
                Ok(OnboardHost { name: cells[0].to_string(), host, port, user })
            })());
        } else if sep.is_some() && cells.len() > 1 && cells.len() <= 4 && !cells.iter().skip(1).all(|c| parse_target(c).is_ok()) {
            // A table row whose name or host is bad: say which.
            rows.push(Err(match naming::check_slug("name", cells[0]) {
                Err(e) => format!("{e} (rows are name,host[,port[,user]])"),
                Ok(()) => parse_target(cells[1]).err().unwrap_or_else(|| "expected name,host[,port[,user]]".into()),
            }));
        } else {
            for c in cells.iter().filter(|c| !c.is_empty()) {
                rows.push(parse_target(c).map(|(user, host, port)| OnboardHost { name: naming::slugify(&host), host, port: port.unwrap_or(22), user }));
            }
        }
        for r in rows {
            match r {
                Ok(h) => {
                    if let Some(first) = seen.get(&h.name) {
                        errors.push(RowError { line: line_no, message: format!("the name '{}' is already used on line {first}", h.name) });
                    } else {
                        seen.insert(h.name.clone(), line_no);
                        out.push(h);
                    }
                }
                Err(message) => errors.push(RowError { line: line_no, message }),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if out.is_empty() {
        return Err(vec![RowError { line: 0, message: "no hosts in the input".into() }]);
    }
    Ok(out)
}

/// Reads a list of hosts given on the command line or pasted: `[user@]host[:port]` separated
/// by commas, whitespace or newlines; the name is the slug of the host. Every bad item is
/// reported (its position in the list as the line).
pub fn parse_host_list(text: &str) -> Result<Vec<OnboardHost>, Vec<RowError>> {
    let mut out: Vec<OnboardHost> = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in text.split(|c: char| c == ',' || c.is_whitespace()).filter(|s| !s.is_empty()).enumerate() {
        match parse_target(item) {
            Ok((user, host, port)) => {
                let name = naming::slugify(&host);
                if out.iter().any(|h| h.name == name) {
                    errors.push(RowError { line: i + 1, message: format!("'{name}' is in the list twice") });
                } else {
                    out.push(OnboardHost { name, host, port: port.unwrap_or(22), user });
                }
            }
            Err(message) => errors.push(RowError { line: i + 1, message }),
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(RowError { line: 0, message: "no hosts in the list".into() });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The concrete `Host` entries of an ssh config (the same reader as the ssh-config import:
/// [`crate::sshconfig::parse`]; the name is the alias's slug, as there). Entries whose host or
/// user cannot be used are left out.
pub fn hosts_from_ssh_config(text: &str) -> Vec<OnboardHost> {
    let mut seen = std::collections::HashSet::new();
    crate::sshconfig::parse(text)
        .into_iter()
        .filter_map(|e| {
            let host = e.host_name.clone().unwrap_or_else(|| e.alias.clone());
            check_host(&host).ok()?;
            if let Some(u) = &e.user {
                check_user(u).ok()?;
            }
            let name = naming::slugify(&e.alias);
            seen.insert(name.clone()).then_some(OnboardHost { name, host, port: e.port.unwrap_or(22), user: e.user })
        })
        .collect()
}

/// Host-key fingerprints got out of band, by `host:port` (and by bare host for any port).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KnownFingerprints {
    /// `host:port` or `host` → every `SHA256:…` fingerprint given for it (a host may have
    /// several key types).
    pub entries: HashMap<String, Vec<String>>,
}

impl KnownFingerprints {
    /// The fingerprints given for `host` at `port`: the `host:port` entries, else the bare host's.
    pub fn for_host(&self, host: &str, port: u16) -> Option<&[String]> {
        let key = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
        self.entries.get(&key).or_else(|| self.entries.get(host)).map(Vec::as_slice)
    }

    fn add(&mut self, host: String, fp: String) {
        let v = self.entries.entry(host).or_default();
        if !v.contains(&fp) {
            v.push(fp);
        }
    }
}

/// `SHA256:` + unpadded base64: the shape of an OpenSSH SHA-256 fingerprint.
pub fn is_fingerprint(s: &str) -> bool {
    s.strip_prefix("SHA256:").is_some_and(|b| b.len() == 43 && b.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/'))
}

/// `host`, `host:port` or `[host]:port` of a fingerprint line, as a [`KnownFingerprints`] key.
fn known_key(s: &str) -> Result<String, String> {
    if let Some(r) = s.strip_prefix('[') {
        let (h, tail) = r.split_once(']').ok_or("an opening '[' without ']'")?;
        check_host(h)?;
        return match tail.strip_prefix(':') {
            Some(p) => Ok(format!("{}:{}", if h.contains(':') { format!("[{h}]") } else { h.to_string() }, check_port(p)?)),
            None => Ok(h.to_string()),
        };
    }
    match s.split_once(':') {
        Some((h, p)) if !p.contains(':') => {
            check_host(h)?;
            Ok(format!("{h}:{}", check_port(p)?))
        }
        _ => {
            check_host(s)?;
            Ok(s.to_string())
        }
    }
}

/// Reads trusted fingerprints: lines `host[:port] SHA256:…` (what a provider hands out, or
/// `ssh-keygen -lf` output with the host first), or `ssh-keyscan` output (`host[,host2] type
/// base64`, `[host]:port type base64`), whose keys are fingerprinted here. Comments (`#`) and
/// blank lines are skipped; hashed known_hosts names (`|1|…`) cannot be matched and are errors.
pub fn parse_known_fingerprints(text: &str) -> Result<KnownFingerprints, Vec<RowError>> {
    let mut k = KnownFingerprints::default();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let r: Result<(), String> = (|| {
            if f[0].starts_with('|') {
                return Err("hashed host names (|1|…) cannot be matched to a host: use `ssh-keyscan` without -H".into());
            }
            let hosts: Vec<String> = f[0].split(',').map(known_key).collect::<Result<_, _>>()?;
            let fp = match f.get(1) {
                Some(fp) if fp.starts_with("SHA256:") => {
                    if !is_fingerprint(fp) {
                        return Err(format!("'{}' is not a SHA-256 fingerprint (SHA256: and 43 base64 characters)", crate::hosttext::line(fp, 80)));
                    }
                    fp.to_string()
                }
                Some(kind) if f.len() >= 3 => match russh::keys::PublicKey::from_openssh(&format!("{kind} {}", f[2])) {
                    Ok(key) => crate::ssh::fingerprint_of(&key),
                    Err(_) => return Err(format!("the {} key is not valid base64 key data", crate::hosttext::line(kind, 40))),
                },
                _ => return Err("expected `host[:port] SHA256:…` or ssh-keyscan output `host type base64`".into()),
            };
            for h in hosts {
                k.add(h, fp.clone());
            }
            Ok(())
        })();
        if let Err(message) = r {
            errors.push(RowError { line: i + 1, message });
        }
    }
    if errors.is_empty() {
        Ok(k)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_tsv_and_lists() {
        let csv = "name,host,port,user\n# comment\nacme-prod,10.0.0.5,2222,deploy\nbeta,beta.example.com\n\ngamma,ops@10.0.0.7:2200\n";
        let h = parse_host_table(csv).unwrap();
        assert_eq!(h.len(), 3);
        assert_eq!(h[0], OnboardHost { name: "acme-prod".into(), host: "10.0.0.5".into(), port: 2222, user: Some("deploy".into()) });
        assert_eq!(h[1], OnboardHost { name: "beta".into(), host: "beta.example.com".into(), port: 22, user: None });
        assert_eq!((h[2].port, h[2].user.as_deref()), (2200, Some("ops")));
        let tsv = "one\t127.0.1.1\t22\tckh1\ntwo\t127.0.1.2\n";
        let h = parse_host_table(tsv).unwrap();
        assert_eq!(h[0].user.as_deref(), Some("ckh1"));
        assert_eq!(h[1].port, 22);
        let list = "web1.example.com, root@10.0.0.9:2022\n[::1]:2222\n";
        let h = parse_host_table(list).unwrap();
        assert_eq!(h.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["web1-example-com", "10-0-0-9", "1"]);
        assert_eq!((h[1].user.as_deref(), h[1].port), (Some("root"), 2022));
        assert_eq!((h[2].host.as_str(), h[2].port), ("::1", 2222));
    }

    #[test]
    fn bad_rows_say_which_and_why() {
        let text = "good,10.0.0.1\nBad Name,10.0.0.2\nx,10.0.0.3,99999\ny,10.0.0.4,22,bad user!\nz,$(reboot)\ngood,10.0.0.6\n";
        let e = parse_host_table(text).unwrap_err();
        let lines: Vec<usize> = e.iter().map(|r| r.line).collect();
        assert_eq!(lines, [2, 3, 4, 5, 6], "{e:?}");
        assert!(e[1].message.contains("99999") && e[1].message.contains("port"), "{}", e[1]);
        assert!(e[3].message.contains("not a host name"), "{}", e[3]);
        assert!(e[4].message.contains("already used on line 1"), "{}", e[4]);
        assert!(parse_host_table("# nothing\n\n").is_err());
        assert!(parse_host_table("a,\u{1b}[31m\n").unwrap_err()[0].message.contains("control"));
        // never panics on odd input
        for s in ["[", "a@", "@b", ",,,,", "[::1", "a:b:c", "x,y,z,w,v", "\t\t", "a,[::1]:0"] {
            let _ = parse_host_table(s);
        }
    }

    #[test]
    fn command_line_lists() {
        let h = parse_host_list("web1,web2 root@10.0.0.9:2022").unwrap();
        assert_eq!(h.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["web1", "web2", "10-0-0-9"]);
        let e = parse_host_list("web1,,bad!host,web1").unwrap_err();
        assert_eq!(e.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 3]);
        assert!(parse_host_list(" , ").is_err());
    }

    #[test]
    fn ssh_config_entries() {
        let h = hosts_from_ssh_config("Host Web1 db\n  HostName 10.0.0.5\n  User deploy\n  Port 2200\nHost *\n  User x\nHost bad\n  HostName a;b\n");
        assert_eq!(h.len(), 2);
        assert_eq!(h[0], OnboardHost { name: "web1".into(), host: "10.0.0.5".into(), port: 2200, user: Some("deploy".into()) });
    }

    #[test]
    fn known_fingerprints_from_lists_and_keyscan() {
        let fp = format!("SHA256:{}", "A".repeat(43));
        // an ed25519 public key of the test world's shape, made from bytes here
        let key = russh::keys::PublicKey::from(russh::keys::ssh_key::public::Ed25519PublicKey(rand::random::<[u8; 32]>()));
        let public = key.to_openssh().unwrap();
        let want = crate::ssh::fingerprint_of(&key);
        let text = format!("# provider list\n10.0.0.5 {fp}\n127.0.1.2:2222 {fp}\n[127.0.1.3]:22 {public}\n127.0.1.4,alias {public}\n");
        let k = parse_known_fingerprints(&text).unwrap();
        assert_eq!(k.for_host("10.0.0.5", 22), Some(&[fp.clone()][..]));
        assert_eq!(k.for_host("127.0.1.2", 2222), Some(&[fp.clone()][..]));
        assert_eq!(k.for_host("127.0.1.2", 22), None);
        assert_eq!(k.for_host("127.0.1.3", 22), Some(&[want.clone()][..]));
        assert_eq!(k.for_host("127.0.1.4", 2200), Some(&[want][..]));
        let e = parse_known_fingerprints("h SHA256:short\n|1|abc= ssh-ed25519 AAAA\nh ssh-ed25519 !!notbase64\nonlyhost\n").unwrap_err();
        assert_eq!(e.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }
}
