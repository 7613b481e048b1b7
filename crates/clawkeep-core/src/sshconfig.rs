//! A small reader for `~/.ssh/config`: turns `Host` entries into draft instances.
//!
//! Only what an inventory needs is read (HostName, Port, User); wildcard patterns, `Match`
//! blocks and `Include` are skipped. Bad lines are skipped, never fatal; so are aliases and
//! values holding control characters (they would reach a terminal as escape sequences).

/// One concrete `Host` alias from an ssh config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SshHostEntry {
    pub alias: String,
    pub host_name: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
}

pub fn parse(text: &str) -> Vec<SshHostEntry> {
    let mut out: Vec<SshHostEntry> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (kw, rest) = match line.split_once(|c: char| c.is_whitespace() || c == '=') {
            Some((k, r)) => (k.to_ascii_lowercase(), r.trim_start_matches(|c: char| c.is_whitespace() || c == '=').trim()),
            None => (line.to_ascii_lowercase(), ""),
        };
        match kw.as_str() {
            "host" => {
                current.clear();
                for alias in rest.split_whitespace() {
                    if alias.contains(['*', '?', '!']) || alias.contains(char::is_control) {
                        continue;
                    }
                    out.push(SshHostEntry { alias: alias.to_string(), host_name: None, port: None, user: None });
                    current.push(out.len() - 1);
                }
            }
            "match" => current.clear(),
            "hostname" if !rest.is_empty() && !rest.contains(char::is_control) => {
                for &i in &current {
                    out[i].host_name.get_or_insert_with(|| rest.to_string());
                }
            }
            "port" => {
                if let Ok(p) = rest.parse::<u16>() {
                    for &i in &current {
                        out[i].port.get_or_insert(p);
                    }
                }
            }
            "user" if !rest.is_empty() && !rest.contains(char::is_control) => {
                for &i in &current {
                    out[i].user.get_or_insert_with(|| rest.to_string());
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hosts_and_skips_patterns() {
        let cfg = "# c\nHost web1 web2\n  HostName 10.0.0.5\n  Port 2222\n  User deploy\nHost *\n  User nobody\nMatch host x\n  User y\nHost=bare\nPort notaport\n";
        let hosts = parse(cfg);
        assert_eq!(hosts.len(), 3);
        assert_eq!(hosts[0], SshHostEntry { alias: "web1".into(), host_name: Some("10.0.0.5".into()), port: Some(2222), user: Some("deploy".into()) });
        assert_eq!(hosts[2].alias, "bare");
        assert_eq!(hosts[2].port, None);
    }

    #[test]
    fn control_characters_never_reach_an_entry() {
        let hosts = parse("Host ok \u{1b}[31mred\r\n  HostName 10.0.0.1\u{1b}]0;x\u{7}\n  User \u{9b}2J\nHost two\n  HostName h2\n");
        assert_eq!(hosts.iter().map(|h| h.alias.as_str()).collect::<Vec<_>>(), ["ok", "two"]);
        assert_eq!((hosts[0].host_name.as_deref(), hosts[0].user.as_deref()), (None, None));
        assert_eq!(hosts[1].host_name.as_deref(), Some("h2"));
    }
}
