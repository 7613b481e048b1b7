//! Property tests for every parser of outside text (issue 12, "prove it stays fixed"): key intake
//! (`keyfmt::lint`), the host-facts report (`checklist::hostfacts::parse`), `openclaw.json`
//! (`checklist::config::parse`), `~/.ssh/config` import (`sshconfig::parse`) and onboarding's intake
//! and reports (`onboard::intake`, `onboard::discover`). Arbitrary input
//! never panics; text a parser hands on contains no control characters (a hostile host must not
//! reach the operator's terminal with escape sequences) and never a key it was given.

use clawkeep_core::checklist::{config, hostfacts};
use clawkeep_core::model::{keyfmt, naming};
use clawkeep_core::onboard;
use clawkeep_core::{sshconfig, Secret};
use proptest::prelude::*;

/// Control characters a parser may hand on: none, except line breaks/tabs in multi-line text.
fn bad_control(s: &str, multiline: bool) -> Option<char> {
    s.chars().find(|c| c.is_control() && !(multiline && (*c == '\n' || *c == '\t')))
}

fn assert_clean(what: &str, s: &str, multiline: bool) -> Result<(), TestCaseError> {
    if let Some(c) = bad_control(s, multiline) {
        return Err(TestCaseError::fail(format!("{what} holds control character U+{:04X}: {:?}", c as u32, s)));
    }
    Ok(())
}

/// A well-formed fake API key made from proptest's bytes (never a literal in the tree).
fn key_from(body: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = ["sk", "ant", "api03-"].join("-");
    for b in body {
        s.push(ALPHABET[*b as usize % ALPHABET.len()] as char);
    }
    s.push_str("AA");
    s
}

fn key_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u8>(), 93..=93).prop_map(|b| key_from(&b))
}

/// Strings rich in what hostile text uses: escapes, C1 controls, quotes, JSON5 syntax, bidi marks.
fn hostile_string(max: usize) -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        any::<char>().prop_map(|c| c.to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("\u{1b}]0;title\u{7}".to_string()),
        Just("\u{9b}2J".to_string()),
        Just("\r".to_string()),
        Just("\n".to_string()),
        Just("\0".to_string()),
        Just("|".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("\\u001b".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(":".to_string()),
        Just(",".to_string()),
        Just("\u{202e}".to_string()),
        "[a-zA-Z0-9 ._-]{0,8}",
    ];
    proptest::collection::vec(atoms, 0..max).prop_map(|v| v.concat())
}

// ---- key intake ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lint_never_panics_and_never_echoes_the_value(raw in hostile_string(40)) {
        match keyfmt::lint(Secret::new(raw.clone())) {
            Ok(k) => {
                prop_assert!(k.secret.expose().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
                prop_assert_eq!(k.length, k.secret.expose().len());
                assert_clean("hint", &k.hint, false)?;
                for w in &k.warnings {
                    assert_clean("warning", w, false)?;
                }
            }
            Err(e) => {
                let msg = e.to_string();
                assert_clean("lint error", &msg, false)?;
                let trimmed = raw.trim();
                if trimmed.chars().count() >= 12 {
                    prop_assert!(!msg.contains(trimmed), "the error quotes the value: {}", msg);
                }
            }
        }
    }

    #[test]
    fn lint_of_a_key_with_noise_names_a_position_not_the_key(key in key_strategy(), at in 0usize..100, noise in prop_oneof![Just('\u{1b}'), Just('"'), Just(' '), Just('\u{2026}'), Just('\u{9b}'), any::<char>()]) {
        let mut chars: Vec<char> = key.chars().collect();
        let at = at.min(chars.len());
        chars.insert(at, noise);
        let raw: String = chars.into_iter().collect();
        match keyfmt::lint(Secret::new(raw.clone())) {
            Ok(k) => {
                // only surrounding whitespace may have been trimmed
                prop_assert_eq!(k.secret.expose(), raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}'));
                prop_assert!(!k.hint.contains(&key[20..80]));
            }
            Err(e) => {
                let msg = e.to_string();
                assert_clean("lint error", &msg, false)?;
                prop_assert!(!msg.contains(&key[14..40]), "the error quotes the key: {}", msg);
            }
        }
    }

    #[test]
    fn hint_never_shows_a_short_value_whole(v in "[A-Za-z0-9_-]{1,40}") {
        let h = keyfmt::hint(&v);
        prop_assert!(v.len() <= 4 || !h.contains(&v), "hint {} shows {} whole", h, v);
        // at most 20 characters of the value are ever shown (16 + 4)
        prop_assert!(h.replace("...", "").chars().count() <= 20);
    }
}

// ---- host facts ------------------------------------------------------------------------------

const NONCE: &str = "00112233deadbeef";

fn facts_line() -> impl Strategy<Value = String> {
    let tag = prop_oneof![
        Just("cfg"),
        Just("user"),
        Just("home"),
        Just("state"),
        Just("os"),
        Just("kernel"),
        Just("cpus"),
        Just("mem_kb"),
        Just("openclaw"),
        Just("stat"),
        Just("clobbered"),
        Just("config"),
        Just("agent"),
        Just("proc"),
        Just("procenv"),
        Just("hprobe"),
        Just("key"),
        Just("logsrc"),
        Just("logs"),
        Just("CLAWKEEP-FACTS 1"),
        Just("junk"),
    ];
    let field = prop_oneof![
        hostile_string(12),
        Just("644".to_string()),
        Just("1000".to_string()),
        Just("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_string()),
        Just("proc:1".to_string()),
        Just("dotenv".to_string()),
        Just("config:1".to_string()),
        Just("history:/x".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("-1".to_string()),
    ];
    (tag, proptest::collection::vec(field, 0..9)).prop_map(|(t, f)| {
        let mut l = t.to_string();
        for x in f {
            l.push('|');
            l.push_str(&x);
        }
        l
    })
}

fn check_facts(f: &hostfacts::HostFacts) -> Result<(), TestCaseError> {
    for (what, s) in [("user", &f.user), ("home", &f.home), ("state dir", &f.state_dir), ("os", &f.os), ("kernel", &f.kernel)] {
        assert_clean(what, s, false)?;
    }
    if let Some(v) = &f.openclaw_version {
        assert_clean("openclaw version", v, false)?;
    }
    // `config_text` is not shown anywhere: it is the input of `config::parse`, checked below.
    for s in &f.stats {
        assert_clean("stat kind", &s.kind, false)?;
        assert_clean("stat owner", &s.owner, false)?;
        assert_clean("stat path", &s.path, false)?;
    }
    for c in &f.clobbered {
        assert_clean("clobbered", c, false)?;
    }
    for (a, _) in &f.agents {
        assert_clean("agent", a, false)?;
    }
    for p in &f.procs {
        assert_clean("cmdline", &p.cmdline, false)?;
    }
    for k in &f.keys {
        assert_clean("key hint", &k.hint, false)?;
        assert_clean("key source", &k.source.describe(), false)?;
    }
    for p in &f.host_probes {
        for s in [&p.organization_id, &p.workspace_id, &p.request_id, &p.error_type, &p.message, &p.transport_error].into_iter().flatten() {
            assert_clean("host probe", s, false)?;
        }
    }
    if let Some(l) = &f.logs {
        for s in &l.sources {
            assert_clean("log source", s, false)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn facts_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = hostfacts::parse(&bytes, NONCE);
        let mut framed = format!("CLAWKEEP-FACTS 1 {NONCE}\n").into_bytes();
        framed.extend_from_slice(&bytes);
        framed.extend_from_slice(format!("\nCLAWKEEP-END 1 {NONCE}\n").as_bytes());
        if let Ok(f) = hostfacts::parse(&framed, NONCE) {
            check_facts(&f)?;
        }
    }

    #[test]
    fn facts_hostile_lines_parse_to_clean_text(lines in proptest::collection::vec(facts_line(), 0..40), crlf in any::<bool>(), noise in hostile_string(20)) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("{noise}{nl}CLAWKEEP-FACTS 1 {NONCE}{nl}");
        for l in &lines {
            text.push_str(l);
            text.push_str(nl);
        }
        text.push_str(&format!("CLAWKEEP-END 1 {NONCE}{nl}{noise}"));
        let f = hostfacts::parse(text.as_bytes(), NONCE);
        prop_assert!(f.is_ok(), "{:?}", f.err());
        check_facts(&f.unwrap())?;
        // cut anywhere: an error or a report, never a panic
        for cut in [text.len() / 3, text.len() / 2, text.len().saturating_sub(3)] {
            let _ = hostfacts::parse(&text.as_bytes()[..cut], NONCE);
        }
    }
}

// ---- openclaw.json ---------------------------------------------------------------------------

fn check_config(f: &config::ConfigFacts) -> Result<(), TestCaseError> {
    for s in [&f.gateway_mode, &f.base_url, &f.api, &f.primary_model, &f.logging_file].into_iter().flatten() {
        assert_clean("config value", s, false)?;
    }
    for (a, m) in &f.agent_models {
        assert_clean("agent id", a, false)?;
        assert_clean("agent model", m, false)?;
    }
    for s in f.beta_headers.iter().chain(&f.reasoning_params) {
        assert_clean("config path", s, false)?;
    }
    for r in [&f.api_key, &f.env_vars_key].into_iter().flatten() {
        match r {
            config::KeyRef::EnvVar(s) | config::KeyRef::SecretRef(s) => assert_clean("key ref", s, false)?,
            _ => {}
        }
    }
    Ok(())
}

fn json_escape_all(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_string() } else { format!("\\u{:04x}", c as u32 & 0xffff) }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn config_arbitrary_text_never_panics(text in hostile_string(60)) {
        match config::parse(&text) {
            Ok(f) => check_config(&f)?,
            Err(e) => assert_clean("config error", &e, false)?,
        }
    }

    #[test]
    fn config_values_decoded_from_escapes_are_clean(v in hostile_string(10), field in 0usize..5) {
        let esc = json_escape_all(&v);
        let text = match field {
            0 => format!("{{ models: {{ providers: {{ anthropic: {{ baseUrl: \"https://x{esc}\" }} }} }} }}"),
            1 => format!("{{ gateway: {{ mode: \"{esc}\" }} }}"),
            2 => format!("{{ agents: {{ defaults: {{ model: \"anthropic/{esc}\" }}, list: [{{ id: \"{esc}\", model: \"{esc}\" }}] }} }}"),
            3 => format!("{{ logging: {{ file: \"/tmp/{esc}\" }}, models: {{ providers: {{ anthropic: {{ apiKey: \"${{{esc}}}\" }} }} }} }}"),
            _ => format!("{{ models: {{ providers: {{ anthropic: {{ headers: {{ \"anthropic-beta\": \"{esc}\" }}, \"{esc}\": {{ thinking: 1 }} }} }} }} }}"),
        };
        match config::parse(&text) {
            Ok(f) => check_config(&f)?,
            Err(e) => assert_clean("config error", &e, false)?,
        }
    }

    #[test]
    fn broken_config_error_never_quotes_a_key(key in key_strategy(), before in hostile_string(6), quoted in any::<bool>()) {
        // an unquoted (or quoted, then broken) apiKey on the line json5 chokes on
        let value = if quoted { format!("\"{key}\" oops") } else { key.clone() };
        let text = format!("{{\n  // {before}\n  models: {{ providers: {{ anthropic: {{ apiKey: {value}, }} }} }}\n}}\n");
        let e = config::parse(&text);
        if let Err(e) = e {
            prop_assert!(!e.contains(&key[10..40]), "the parse error quotes the key: {}", e);
            prop_assert!(!e.contains("sk-ant-"), "the parse error quotes key-shaped text: {}", e);
            assert_clean("config error", &e, false)?;
        }
    }
}

// ---- ssh_config import -----------------------------------------------------------------------

fn ssh_line() -> impl Strategy<Value = String> {
    let kw = prop_oneof![Just("Host"), Just("HostName"), Just("Port"), Just("User"), Just("Match"), Just("Include"), Just("host"), Just("#"), Just("")];
    let sep = prop_oneof![Just(" "), Just("="), Just("\t"), Just(" = "), Just("")];
    (kw, sep, hostile_string(8)).prop_map(|(k, s, v)| format!("{k}{s}{v}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ssh_config_never_panics_and_yields_clean_entries(lines in proptest::collection::vec(ssh_line(), 0..30), crlf in any::<bool>()) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        for e in sshconfig::parse(&text) {
            prop_assert!(!e.alias.is_empty());
            assert_clean("alias", &e.alias, false)?;
            prop_assert!(!e.alias.chars().any(char::is_whitespace), "alias {:?}", e.alias);
            for s in [&e.host_name, &e.user].into_iter().flatten() {
                prop_assert!(!s.is_empty());
                assert_clean("host/user", s, false)?;
            }
        }
    }

    #[test]
    fn ssh_config_arbitrary_text_never_panics(text in hostile_string(80)) {
        let _ = sshconfig::parse(&text);
    }
}

// ---- onboarding intake and reports (issue 17) -----------------------------------------------

fn table_line() -> impl Strategy<Value = String> {
    let sep = prop_oneof![Just(","), Just("\t"), Just(";"), Just(" ")];
    (proptest::collection::vec(prop_oneof![hostile_string(6), "[a-z0-9.-]{1,12}", "[0-9]{1,6}", Just("user@10.0.0.1:22".to_string())], 0..6), sep)
        .prop_map(|(cells, s)| cells.join(s))
}

fn check_hosts(hosts: &[onboard::OnboardHost]) -> Result<(), TestCaseError> {
    for h in hosts {
        prop_assert!(naming::check_slug("name", &h.name).is_ok(), "name {:?}", h.name);
        prop_assert!(!h.host.is_empty() && h.host.chars().all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c)), "host {:?}", h.host);
        prop_assert!(h.port > 0);
        if let Some(u) = &h.user {
            prop_assert!(u.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "user {:?}", u);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A table, a list or a fingerprint file from anywhere: never a panic; what comes out is a
    /// slug name and a host/user of plain characters (nothing a shell or a terminal interprets);
    /// a row error quotes no control character.
    #[test]
    fn onboarding_intake_never_panics_and_yields_plain_hosts(lines in proptest::collection::vec(table_line(), 0..20), crlf in any::<bool>()) {
        let text = lines.join(if crlf { "\r\n" } else { "\n" });
        for r in [onboard::parse_host_table(&text), onboard::parse_host_list(&text)] {
            match r {
                Ok(h) => check_hosts(&h)?,
                Err(errors) => for e in errors { assert_clean("row error", &e.message, false)?; },
            }
        }
        match onboard::parse_known_fingerprints(&text) {
            Ok(k) => for (h, fps) in &k.entries {
                assert_clean("host", h, false)?;
                prop_assert!(fps.iter().all(|f| onboard::intake::is_fingerprint(f)));
            },
            Err(errors) => for e in errors { assert_clean("row error", &e.message, false)?; },
        }
        check_hosts(&onboard::hosts_from_ssh_config(&text))?;
    }

    /// The discovery report and the key read: arbitrary bytes never panic, service facts are
    /// clean, and a read hands on only a value with the fingerprint asked for.
    #[test]
    fn onboarding_reports_never_panic(lines in proptest::collection::vec(prop_oneof![facts_line(), hostile_string(30).prop_map(|s| format!("restart|{s}")), hostile_string(30).prop_map(|s| format!("unit|user|{s}"))], 0..30), key in key_strategy(), junk in hostile_string(40)) {
        let n = "nonce1";
        let text = format!("CLAWKEEP-FACTS 1 {n}\n{}\nCLAWKEEP-END 1 {n}\nCLAWKEEP-ONBOARD 1 {n}\n{}\nCLAWKEEP-ONBOARD-END 1 {n}\n", lines.join("\n"), lines.join("\n"));
        if let Ok(d) = onboard::discover::parse_discovery(text.as_bytes(), n) {
            for s in d.service.user_units.iter().chain(&d.service.system_units).chain(&d.service.restart_scripts) {
                assert_clean("service fact", s, false)?;
            }
        }
        let fp = keyfmt::fingerprint(&key);
        let read = format!("{junk}\nCLAWKEEP-READ 1 {n}\nvalue|{junk}\nvalue|{key}\nCLAWKEEP-READ-END 1 {n}\n");
        match onboard::discover::parse_read(&read, n, &fp) {
            Ok(s) => prop_assert_eq!(keyfmt::fingerprint(s.expose()), fp.clone()),
            Err(e) => prop_assert!(!e.to_string().contains(&key[13..60])),
        }
        let _ = onboard::discover::parse_read(&junk, n, &fp);
    }
}
