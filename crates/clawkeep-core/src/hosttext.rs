//! Untrusted text from a host: the one sanitizer every piece of host text goes through before it
//! is shown (terminal, desktop) or stored (SQLite, audit log).
//!
//! A host controls what its files, its shell and its programs print. Before such text becomes
//! part of a message, a plan, an error or a stored row it passes through [`line`] (one line) or
//! [`text`] (several lines), which:
//!
//! 1. **mask key-shaped values**: every `sk-ant-…` token (any type tag, any case) becomes
//!    `sk-ant-<masked>`, and the value of any credential-like assignment
//!    (`ANTHROPIC_API_KEY=…`, `apiKey: "…"`, `x-api-key: …`, `token=…`, `Authorization: Bearer …`)
//!    becomes `<masked>`;
//! 2. **neutralise control characters**: ESC (so no CSI/OSC sequence reaches a terminal), BEL,
//!    DEL, every other C0 and every C1 control, and the Unicode bidi/format controls that can
//!    reorder what a person reads, each become a visible `?` (in [`text`], `\n` and `\t` stay;
//!    a `\r\n` becomes `\n`);
//! 3. **bound the length**: at most `max` characters, a cut marked with `…`.
//!
//! Masking runs on the whole input before it is cut, so a cut can never leave the tail of a key
//! without its `sk-ant-` prefix.
//!
//! [`json5_error`] is the only way a JSON5 parse error of a host's file becomes text: json5's
//! messages quote the offending source line (which may hold an unquoted literal key), so only
//! the position is kept.

/// What a masked key becomes.
pub const MASKED_KEY: &str = "sk-ant-<masked>";
/// What a masked assignment value becomes.
pub const MASKED: &str = "<masked>";

/// Name suffixes (lowercase, `_`/`-`/`.` removed) whose assigned value is a credential.
const SECRET_NAMES: &[&str] = &["apikey", "key", "token", "secret", "password", "passwd", "authorization", "credential", "credentials", "cookie"];

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// Characters that end an unquoted assigned value.
fn ends_value(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '`' | ',' | ';' | '}' | ')' | ']' | '&' | '|')
}

/// A key hint: at most [`HINT_HEAD`] characters, `...`, at most [`HINT_TAIL`] characters
/// (`keyfmt::hint`). A hint is meant to be shown; it is not masked.
const HINT_HEAD: usize = 16;
const HINT_TAIL: usize = 4;

fn is_hint(v: &str) -> bool {
    match v.split_once("...") {
        Some((head, tail)) => !head.is_empty() && head.len() <= HINT_HEAD && tail.len() <= HINT_TAIL && head.chars().chain(tail.chars()).all(is_key_char),
        None => v == "(empty)",
    }
}

fn starts_with_ci(chars: &[char], i: usize, pat: &str) -> bool {
    let mut j = i;
    for p in pat.chars() {
        match chars.get(j) {
            Some(c) if c.eq_ignore_ascii_case(&p) => j += 1,
            _ => return false,
        }
    }
    true
}

/// Replaces key-shaped values (see the module docs). Control characters are left alone.
pub fn mask_keys(s: &str) -> String {
    // Pass 1: every `sk-ant-…` token, wherever it is.
    let chars: Vec<char> = s.chars().collect();
    let mut keyless: Vec<char> = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if starts_with_ci(&chars, i, MASKED_KEY) {
            // Already masked (masking twice changes nothing).
            keyless.extend(MASKED_KEY.chars());
            i += MASKED_KEY.len();
        } else if (chars[i] == 's' || chars[i] == 'S') && starts_with_ci(&chars, i, "sk-ant-") {
            let mut j = i + 7;
            while j < chars.len() && is_key_char(chars[j]) {
                j += 1;
            }
            if j - i <= HINT_HEAD && starts_with_ci(&chars, j, "...") {
                // A hint (first 16 + `...` + last 4, what Clawkeep shows and stores): kept.
                let mut e = j + 3;
                while e < chars.len() && e < j + 3 + HINT_TAIL && is_key_char(chars[e]) {
                    e += 1;
                }
                keyless.extend(&chars[i..e]);
                i = e;
                continue;
            }
            keyless.extend(MASKED_KEY.chars());
            i = j;
        } else {
            keyless.push(chars[i]);
            i += 1;
        }
    }
    // Pass 2: values assigned to names that say "credential".
    let chars = keyless;
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_name_char(c) && (i == 0 || !is_name_char(chars[i - 1])) {
            let mut j = i;
            while j < chars.len() && is_name_char(chars[j]) {
                j += 1;
            }
            let name: String = chars[i..j].iter().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect();
            out.extend(&chars[i..j]);
            i = j;
            if SECRET_NAMES.iter().any(|n| name.ends_with(n)) {
                // optional closing quote of a quoted name, spaces, `:` or `=`, spaces, opening
                // quote, an optional auth scheme, then the value.
                let mut k = i;
                if k < chars.len() && matches!(chars[k], '"' | '\'') {
                    k += 1;
                }
                while k < chars.len() && (chars[k] == ' ' || chars[k] == '\t') {
                    k += 1;
                }
                if k < chars.len() && (chars[k] == ':' || chars[k] == '=') {
                    k += 1;
                    while k < chars.len() && (chars[k] == ' ' || chars[k] == '\t') {
                        k += 1;
                    }
                    let mut quote = None;
                    if k < chars.len() && matches!(chars[k], '"' | '\'' | '`') {
                        quote = Some(chars[k]);
                        k += 1;
                    }
                    for scheme in ["bearer ", "basic "] {
                        if starts_with_ci(&chars, k, scheme) {
                            k += scheme.len();
                        }
                    }
                    let mut v = k;
                    while v < chars.len() && !(ends_value(chars[v]) || Some(chars[v]) == quote) {
                        v += 1;
                    }
                    let value: String = chars[k..v].iter().collect();
                    if v > k && value != MASKED && !value.starts_with("__CK_KEY_") && !value.starts_with("${") && !is_hint(&value) {
                        out.extend(&chars[i..k]);
                        out.push_str(MASKED);
                        i = v;
                    }
                }
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A control or format character a terminal or a reader could be fooled by.
fn is_hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{feff}')
}

fn bound(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// One line of host text, safe to show and store: keys masked, every control character
/// (newlines and tabs included: a tab becomes a space, a line break ` | `) made visible,
/// at most `max` characters.
pub fn line(s: &str, max: usize) -> String {
    // Controls first, then masking: a control character can't end an assigned value early.
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push(' '),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => out.push_str(" | "),
            c if is_hostile(c) => out.push('?'),
            c => out.push(c),
        }
    }
    bound(mask_keys(&out), max)
}

/// Several lines of host text: like [`line`], but `\n` and `\t` stay (`\r\n` becomes `\n`).
pub fn text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' if chars.peek() == Some(&'\n') => {}
            c if is_hostile(c) => out.push('?'),
            c => out.push(c),
        }
    }
    bound(mask_keys(&out), max)
}

/// Host bytes (lossy UTF-8) as one safe line.
pub fn line_bytes(b: &[u8], max: usize) -> String {
    line(&String::from_utf8_lossy(b), max)
}

/// The last `n` non-empty lines of `s`, each sanitized, joined with ` | `, at most `max`
/// characters: the brief form of a command's output in an error message.
pub fn tail_lines(s: &str, n: usize, max: usize) -> String {
    // Mask first (a key may be split over lines only by a host that wants it shown; the whole
    // text is masked before it is cut into lines either way).
    let masked = mask_keys(s);
    let lines: Vec<&str> = masked.lines().filter(|l| !l.trim().is_empty()).collect();
    let picked = lines[lines.len().saturating_sub(n)..].iter().map(|l| line(l, max)).collect::<Vec<_>>().join(" | ");
    bound(picked, max)
}

/// A JSON5 parse error of a host's file as safe text: the position only (json5 quotes the
/// offending source line, which may hold a literal key).
pub fn json5_error(e: &json5::Error) -> String {
    match e {
        json5::Error::Message { location: Some(l), .. } => format!("JSON5 parse failed at line {}, column {}", l.line, l.column),
        json5::Error::Message { location: None, .. } => "JSON5 parse failed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tag: &str) -> String {
        // Built at run time: never a key-shaped literal in the tree.
        let mut k = ["sk", "ant", tag].join("-");
        k.push('-');
        k.push_str(&"Zq9_x-".repeat(16));
        k.push_str("AA");
        k
    }

    #[test]
    fn masks_every_kind_of_key() {
        for tag in ["api03", "admin01", "oat01", "ort01", "whatever9", "API03"] {
            let k = key(tag);
            for s in [k.clone(), format!("x {k} y"), format!("\"{k}\""), format!("apiKey: {k},"), format!("line 3: {{ apiKey: {k} }}")] {
                let m = line(&s, 10_000);
                assert!(!m.contains(&k[10..30]), "{s} -> {m}");
                assert!(m.contains("<masked>"), "{m}");
            }
        }
        // Uppercase prefix too.
        let k = key("api03").replacen("sk-ant", "SK-ANT", 1);
        assert!(!line(&k, 999).contains(&k[12..40]));
        // A key followed by dots is no hint.
        let k = key("api03");
        let m = line(&format!("{k}... and {}...AA", &k[..20]), 10_000);
        assert!(!m.contains(&k[10..30]) && !m.contains(&k[..20]), "{m}");
    }

    #[test]
    fn masks_credential_assignments() {
        let cases = [
            ("ANTHROPIC_API_KEY=hunter2proxy", "ANTHROPIC_API_KEY=<masked>"),
            ("export ANTHROPIC_API_KEY=\"hunter2proxy\"", "export ANTHROPIC_API_KEY=\"<masked>\""),
            ("apiKey: 'hunter2proxy', x: 1", "apiKey: '<masked>', x: 1"),
            ("{\"apiKey\": \"hunter2proxy\"}", "{\"apiKey\": \"<masked>\"}"),
            ("x-api-key: hunter2proxy", "x-api-key: <masked>"),
            ("Authorization: Bearer hunter2proxy", "Authorization: Bearer <masked>"),
            ("OPENCLAW_GATEWAY_TOKEN=abcdef end", "OPENCLAW_GATEWAY_TOKEN=<masked> end"),
            ("apiKey: \"${ANTHROPIC_API_KEY}\"", "apiKey: \"${ANTHROPIC_API_KEY}\""),
            ("gateway.port = 18789", "gateway.port = 18789"),
            // Hints are shown on purpose (first 16 + ... + last 4).
            ("~ ANTHROPIC_API_KEY=sk-ant-api03-09F...yYAA (was sk-ant-api03-abc...zzAA)", "~ ANTHROPIC_API_KEY=sk-ant-api03-09F...yYAA (was sk-ant-api03-abc...zzAA)"),
            ("no assignment here: key", "no assignment here: key"),
        ];
        for (i, o) in cases {
            assert_eq!(line(i, 999), o, "{i}");
        }
    }

    #[test]
    fn neutralises_escape_sequences_and_c1() {
        let s = "a\u{1b}[31mred\u{1b}[0m\u{7}b\u{9b}2Jc\u{85}d\u{7f}e\u{202e}f\u{0}g";
        let l = line(s, 999);
        assert_eq!(l, "a?[31mred?[0m?b?2Jc?d?e?f?g");
        assert!(!l.chars().any(|c| c.is_control()));
        assert_eq!(line("a\tb\r\nc\rd", 99), "a b | c?d");
        assert_eq!(text("a\tb\r\nc\u{1b}]0;title\u{7}", 99), "a\tb\nc?]0;title?");
        // OSC 8 hyperlink and a CSI that erases the screen.
        let l = line("\u{1b}]8;;http://evil\u{1b}\\click\u{1b}]8;;\u{1b}\\ \u{1b}[2J", 999);
        assert!(!l.contains('\u{1b}'), "{l}");
    }

    #[test]
    fn bounded_and_masked_before_cut() {
        let long = "x".repeat(10_000);
        let l = line(&long, 100);
        assert_eq!(l.chars().count(), 100);
        assert!(l.ends_with('…'));
        let k = key("api03");
        let s = format!("{}{k}", "y".repeat(95));
        let l = line(&s, 100);
        assert!(!l.contains(&k[7..20]), "{l}");
        assert_eq!(line("", 10), "");
        assert_eq!(line("abc", 0), "…");
    }

    #[test]
    fn tail_lines_keeps_the_last_lines_sanitized() {
        let k = key("api03");
        let s = format!("one\n\ntwo\nthree {k}\nfour\u{1b}[2J\nfive\n");
        let t = tail_lines(&s, 3, 500);
        assert_eq!(t, "three sk-ant-<masked> | four?[2J | five");
        // Idempotent: sanitizing sanitized text changes nothing.
        assert_eq!(line(&t, 500), t);
        assert_eq!(line("apiKey: <masked>", 99), "apiKey: <masked>");
    }

    #[test]
    fn json5_errors_keep_only_the_position() {
        let k = key("api03");
        let cfg = format!("{{\n  models: {{ apiKey: {k} }}\n}}\n");
        let e = json5::from_str::<serde_json::Value>(&cfg).unwrap_err();
        assert!(e.to_string().contains(&k[..20]), "json5 quotes the line (the reason for json5_error): {e}");
        let m = json5_error(&e);
        assert!(m.starts_with("JSON5 parse failed at line 2"), "{m}");
        assert!(!m.contains("sk-ant"), "{m}");
    }

    #[test]
    fn a_control_character_does_not_end_a_value_early() {
        assert_eq!(line("apiKey:\u{1b}hunter2", 99), "apiKey:<masked>");
        assert_eq!(line("token=a\u{7}b", 99), "token=<masked>");
    }

    proptest::proptest! {
        #[test]
        fn any_text_comes_out_printable_and_bounded(s in "\\PC{0,40}|[\\x00-\\x{9f}]{0,40}", max in 1usize..60) {
            for (out, multi) in [(line(&s, max), false), (text(&s, max), true), (tail_lines(&s, 3, max), false)] {
                proptest::prop_assert!(out.chars().count() <= max, "{out:?}");
                proptest::prop_assert!(out.chars().all(|c| !is_hostile(c) || (multi && (c == '\n' || c == '\t'))), "{out:?}");
            }
        }

        #[test]
        fn a_key_never_survives_whatever_surrounds_it(pre in "\\PC{0,20}|[ -~\\x1b\\n]{0,20}", post in "[ -~\\x1b\\n\\x9b]{0,20}", tag in "[a-z]{3,6}[0-9]{0,2}") {
            let k = key(&tag);
            let s = format!("{pre}{k}{post}");
            let body = &k[k.len() - 30..];
            for out in [line(&s, 10_000), text(&s, 10_000), tail_lines(&s, 50, 10_000), mask_keys(&s)] {
                proptest::prop_assert!(!out.contains(body), "{out:?}");
            }
        }
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let samples = ["sk-ant-", "sk-ant", "apiKey:", "apiKey: \"", "token=", "\u{1b}", "é\u{85}", "key=\u{1b}", "Bearer", "s"];
        for a in samples {
            for b in samples {
                let s = format!("{a}{b}");
                let _ = line(&s, 5);
                let _ = text(&s, 5);
                let _ = tail_lines(&s, 2, 5);
            }
        }
    }
}
