//! Anthropic key formats: classify a pasted credential, reject malformed ones with a message that
//! says which character at which position is wrong (never echoing the key), and derive the
//! non-secret facts Clawkeep stores instead of the key: hint, SHA-256 fingerprint, length.
//!
//! Rules follow `shared/reference/anthropic-api.md` §1.1: the prefix, the `[A-Za-z0-9_-]`
//! character set, and for the kinds with a documented shape (API and Admin keys) the exact length
//! and the `AA` ending are enforced: a key one character short cannot work, and storing it as
//! active only moves the failure to the host. Should Anthropic change the format, the person says
//! so explicitly ([`LintOptions::format_changed`], audited) and the shape becomes a warning.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// What kind of Anthropic credential a value is, by its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum KeyKind {
    /// A standard API key, `sk-ant-api03-…` (108 characters).
    Api,
    /// An Admin API key, `sk-ant-admin01-…` (110 characters). Never deployed to a host.
    Admin,
    /// An OAuth access token, `sk-ant-oat01-…` (length not fixed).
    Oauth,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Api => "api",
            KeyKind::Admin => "admin",
            KeyKind::Oauth => "oauth",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api" => Some(KeyKind::Api),
            "admin" => Some(KeyKind::Admin),
            "oauth" => Some(KeyKind::Oauth),
            _ => None,
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            KeyKind::Api => "sk-ant-api03-",
            KeyKind::Admin => "sk-ant-admin01-",
            KeyKind::Oauth => "sk-ant-oat01-",
        }
    }

    /// The documented total length, where there is one.
    pub fn expected_len(self) -> Option<usize> {
        match self {
            KeyKind::Api => Some(108),
            KeyKind::Admin => Some(110),
            KeyKind::Oauth => None,
        }
    }

    /// The shortest body (after the prefix) that is plausible.
    pub fn min_body_len(self) -> usize {
        match self {
            KeyKind::Api | KeyKind::Admin => 20,
            KeyKind::Oauth => 40,
        }
    }

    const ALL: [KeyKind; 3] = [KeyKind::Api, KeyKind::Admin, KeyKind::Oauth];
}

/// The rules, as data, so the desktop UI can validate while the user types without sending the
/// value anywhere. The core re-checks on submit.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyRules {
    pub kinds: Vec<KeyKindRule>,
    /// Characters allowed after the prefix, as a regular-expression class.
    pub charset: String,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyKindRule {
    pub kind: KeyKind,
    pub prefix: String,
    pub expected_len: Option<u32>,
    pub min_body_len: u32,
}

pub fn rules() -> KeyRules {
    KeyRules {
        kinds: KeyKind::ALL
            .iter()
            .map(|k| KeyKindRule { kind: *k, prefix: k.prefix().into(), expected_len: k.expected_len().map(|n| n as u32), min_body_len: k.min_body_len() as u32 })
            .collect(),
        charset: "[A-Za-z0-9_-]".into(),
    }
}

/// Why a value is not a usable key. Positions are 1-based character positions in the value
/// after trimming surrounding whitespace. Messages never contain the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key is empty")]
    Empty,
    #[error("the key contains {what} at position {position}; only letters, digits, '-' and '_' belong in a key. Paste the key exactly as the Console shows it")]
    BadCharacter { what: String, position: usize },
    #[error("the key contains an ellipsis ('{what}') at position {position}: that is a shortened hint, not the full key. Copy the whole key from the Console")]
    Ellipsis { what: &'static str, position: usize },
    #[error("the key does not start with a known Anthropic prefix (sk-ant-api03-, sk-ant-admin01-, sk-ant-oat01-){detail}")]
    UnknownPrefix { detail: String },
    #[error("this is an OAuth refresh token (sk-ant-ort01-), not a credential Clawkeep can use; use an API key (sk-ant-api03-…)")]
    RefreshToken,
    #[error("the key is far too short ({len} characters after the prefix; a {kind} key has about {expected}): it looks truncated")]
    TooShort { len: usize, kind: &'static str, expected: usize },
    #[error("the key has {len} characters, but a {kind} key has exactly {expected}: it {}. Copy the whole key from the Console (only if Anthropic has changed the key format, accept it as a format change; that is audited)", if len < expected { "looks truncated" } else { "has extra characters" })]
    WrongLength { len: usize, kind: &'static str, expected: usize },
    #[error("the key does not end in 'AA' as every {kind} key does: it looks truncated or altered. Copy the whole key from the Console (only if Anthropic has changed the key format, accept it as a format change; that is audited)")]
    BadEnding { kind: &'static str },
}

/// How strictly [`lint_with`] reads a value.
#[derive(Debug, Clone, Copy, Default)]
pub struct LintOptions {
    /// The person said Anthropic has changed the key format: a length or ending other than the
    /// documented one is a warning instead of an error (the override is audited by the caller).
    pub format_changed: bool,
}

/// A key that passed the format rules, with the facts Clawkeep keeps about it.
#[derive(Debug)]
pub struct LintedKey {
    pub secret: Secret,
    pub kind: KeyKind,
    pub hint: String,
    pub fingerprint: String,
    pub length: usize,
    /// Non-fatal findings ("looks truncated", missing `AA` suffix, …).
    pub warnings: Vec<String>,
}

fn describe(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '\n' => "a line break".into(),
        '\r' => "a carriage return".into(),
        '"' => "a double quote".into(),
        '\'' => "a single quote".into(),
        '`' => "a backtick".into(),
        '\u{a0}' => "a non-breaking space".into(),
        '\u{200b}' => "a zero-width space".into(),
        '\u{2018}' | '\u{2019}' | '\u{201c}' | '\u{201d}' => format!("a typographic quote (U+{:04X})", c as u32),
        c if c.is_whitespace() => format!("whitespace (U+{:04X})", c as u32),
        c if c.is_control() => format!("a control character (U+{:04X})", c as u32),
        c if c.is_ascii() => format!("the character '{c}'"),
        c => format!("a non-ASCII character (U+{:04X})", c as u32),
    }
}

/// SHA-256 of the exact key bytes, lowercase hex: the same value `sha256sum` prints on a host
/// for the key fed on stdin without a trailing newline.
pub fn fingerprint(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Values shorter than this get a short hint (see [`hint`]). Every Anthropic key is longer.
pub const HINT_FULL_MIN_LEN: usize = 40;
/// Values shorter than this get no characters at all in their hint, only `...`.
pub const HINT_HEAD_MIN_LEN: usize = 16;

/// First 16 characters, `...`, last 4: the shape of the Admin API's `partial_key_hint` — for a
/// value of at least [`HINT_FULL_MIN_LEN`] characters (at most half of it shown). A shorter
/// value (a proxy token, a truncated key) shows only its first 4 characters (at most a quarter),
/// and one under [`HINT_HEAD_MIN_LEN`] none. The host-side facts script
/// (`checklist::hostfacts`) applies the same rule, so both hint a value alike.
pub fn hint(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < HINT_HEAD_MIN_LEN {
        return "...".into();
    }
    if chars.len() < HINT_FULL_MIN_LEN {
        let head: String = chars.iter().take(4).collect();
        return format!("{head}...");
    }
    let head: String = chars[..16].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

/// The short form of a fingerprint for tables: `SHA256:` and the first 12 hex digits.
pub fn short_fingerprint(fp: &str) -> String {
    format!("SHA256:{}", &fp[..fp.len().min(12)])
}

/// Checks a pasted value and turns it into a [`LintedKey`]. Surrounding whitespace (a trailing
/// newline from a file or a paste) is trimmed; anything else odd is an error, including a length
/// or ending other than the documented one.
pub fn lint(raw: Secret) -> Result<LintedKey, KeyFormatError> {
    lint_with(raw, LintOptions::default())
}

/// [`lint`], with the documented shape relaxed to warnings when `opts.format_changed`.
pub fn lint_with(raw: Secret, opts: LintOptions) -> Result<LintedKey, KeyFormatError> {
    let trimmed = raw.expose().trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if trimmed.is_empty() {
        return Err(KeyFormatError::Empty);
    }
    // Character rules first: they explain most bad pastes (quotes, ellipses, wrapped lines).
    let chars: zeroize::Zeroizing<Vec<char>> = zeroize::Zeroizing::new(trimmed.chars().collect());
    for (i, &c) in chars.iter().enumerate() {
        let position = i + 1;
        if c == '\u{2026}' {
            return Err(KeyFormatError::Ellipsis { what: "…", position });
        }
        if c == '.' && chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
            return Err(KeyFormatError::Ellipsis { what: "...", position });
        }
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(KeyFormatError::BadCharacter { what: describe(c), position });
        }
    }
    let value: String = chars.iter().collect();
    if value.starts_with("sk-ant-ort01-") {
        return Err(KeyFormatError::RefreshToken);
    }
    let Some(kind) = KeyKind::ALL.into_iter().find(|k| value.starts_with(k.prefix())) else {
        let detail = if value.starts_with("sk-ant-") {
            "; it starts with sk-ant- but the type tag after it is not one Clawkeep knows".to_string()
        } else if value.starts_with("sk-") {
            "; it looks like another provider's key".to_string()
        } else {
            String::new()
        };
        return Err(KeyFormatError::UnknownPrefix { detail });
    };
    let body_len = value.len() - kind.prefix().len();
    if body_len < kind.min_body_len() {
        return Err(KeyFormatError::TooShort { len: body_len, kind: kind.as_str(), expected: kind.expected_len().map(|n| n - kind.prefix().len()).unwrap_or(kind.min_body_len()) });
    }
    let mut warnings = Vec::new();
    if let Some(expected) = kind.expected_len() {
        if !opts.format_changed {
            if value.len() != expected {
                return Err(KeyFormatError::WrongLength { len: value.len(), kind: kind.as_str(), expected });
            }
            if !value.ends_with("AA") {
                return Err(KeyFormatError::BadEnding { kind: kind.as_str() });
            }
        }
        if value.len() < expected {
            warnings.push(format!("looks truncated: {} characters, a {} key has {expected}", value.len(), kind.as_str()));
        } else if value.len() > expected {
            warnings.push(format!("longer than usual: {} characters, a {} key has {expected}", value.len(), kind.as_str()));
        }
        if !value.ends_with("AA") {
            warnings.push("does not end in 'AA' like Anthropic keys usually do".into());
        }
    }
    let length = value.len();
    let hint = hint(&value);
    let fingerprint = fingerprint(&value);
    drop(raw);
    Ok(LintedKey { secret: Secret::new(value), kind, hint, fingerprint, length, warnings })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A well-formed fake key built at run time (never a literal in the tree).
    pub fn fake_key(kind: KeyKind, seed: u8) -> String {
        crate::testkeys::fake_key(kind, seed.into())
    }

    fn lint_str(s: &str) -> Result<LintedKey, KeyFormatError> {
        lint(Secret::new(s.to_string()))
    }

    #[test]
    fn good_keys_classify() {
        for kind in [KeyKind::Api, KeyKind::Admin, KeyKind::Oauth] {
            let k = fake_key(kind, 1);
            let l = lint_str(&format!("{k}\n")).unwrap();
            assert_eq!(l.kind, kind);
            assert_eq!(l.length, k.len());
            assert!(l.warnings.is_empty(), "{:?}", l.warnings);
            assert_eq!(l.hint.len(), 23);
            assert!(l.hint.starts_with(&k[..16]) && l.hint.ends_with(&k[k.len() - 4..]));
        }
    }

    /// Issue 12 finding 8: a short value (a proxy token) is never shown whole or mostly: at most
    /// a quarter of a value under 40 characters, at most half of a longer one.
    #[test]
    fn hint_never_reveals_most_of_a_short_value() {
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".chars().collect();
        for len in 1..=120usize {
            let v: String = (0..len).map(|i| alphabet[(i * 7 + len) % alphabet.len()]).collect();
            let h = hint(&v);
            let shown = h.replace("...", "").chars().count();
            let limit = if len < 40 { len / 4 } else { len / 2 };
            assert!(shown <= limit, "{len}-char value: hint {h:?} shows {shown} characters (limit {limit})");
            assert!(len < 8 || !h.contains(&v[..8]) || len >= 40, "{len}-char value: hint {h:?} shows its first 8 characters");
        }
        let v = "abcdefghijklmnopqr"; // 18 characters, like a proxy token
        assert_eq!(hint(v), "abcd...");
        let k = fake_key(KeyKind::Api, 3);
        assert_eq!(hint(&k), format!("{}...{}", &k[..16], &k[k.len() - 4..]), "full-length keys keep the Admin API's hint shape");
    }

    #[test]
    fn rejections_name_position_not_key() {
        let k = fake_key(KeyKind::Api, 2);
        let cases = [
            (format!("{}  {}", &k[..20], &k[20..]), "a space at position 21"),
            (format!("\"{k}\""), "a double quote at position 1"),
            (format!("{}\n{}", &k[..50], &k[50..]), "a line break at position 51"),
            (format!("{}…{}", &k[..16], &k[k.len() - 4..]), "ellipsis ('…') at position 17"),
            (format!("{}...{}", &k[..16], &k[k.len() - 4..]), "ellipsis ('...') at position 17"),
            (format!("{}é{}", &k[..30], &k[31..]), "non-ASCII character (U+00E9) at position 31"),
            (format!("{}+{}", &k[..30], &k[31..]), "the character '+' at position 31"),
        ];
        for (bad, expect) in cases {
            let err = lint_str(&bad).unwrap_err().to_string();
            assert!(err.contains(expect), "{err} should contain {expect}");
            assert!(!err.contains(&k[13..40]), "message leaks the key: {err}");
        }
    }

    #[test]
    fn truncated_is_an_error_unless_the_format_changed() {
        let k = fake_key(KeyKind::Api, 3);
        let changed = LintOptions { format_changed: true };
        // With the person's explicit word that the format changed: a warning, as before.
        let l = lint_with(Secret::new(k[..100].to_string()), changed).unwrap();
        assert!(l.warnings.iter().any(|w| w.contains("looks truncated")));
        assert!(matches!(lint_str(&k[..25]), Err(KeyFormatError::TooShort { .. })));
        assert!(matches!(lint_with(Secret::new(k[..25].to_string()), changed), Err(KeyFormatError::TooShort { .. })));
        // Without it: one character short, one too long, 60 characters, or no AA ending is refused.
        let one_short = format!("{}AA", &k[..k.len() - 3]);
        let one_long = format!("{}xAA", &k[..k.len() - 2]);
        let no_aa = format!("{}Ab", &k[..k.len() - 2]);
        for (bad, what) in
            [(&k[..60], "looks truncated"), (one_short.as_str(), "looks truncated"), (one_long.as_str(), "extra characters"), (no_aa.as_str(), "does not end in 'AA'")]
        {
            let e = lint_str(bad).unwrap_err();
            assert!(e.to_string().contains(what), "{e}");
            assert!(!e.to_string().contains(&k[13..40]), "message leaks the key: {e}");
            assert!(lint_with(Secret::new(bad.to_string()), changed).is_ok(), "{what} is accepted as a format change");
        }
        assert!(matches!(lint_str(&k[..60]), Err(KeyFormatError::WrongLength { len: 60, expected: 108, .. })));
        let admin = fake_key(KeyKind::Admin, 3);
        assert!(matches!(lint_str(&admin[..109]), Err(KeyFormatError::WrongLength { len: 109, expected: 110, .. })));
        // OAuth tokens have no documented length: only the floor applies.
        assert!(lint_str(&fake_key(KeyKind::Oauth, 3)[..70]).is_ok());
    }

    #[test]
    fn unknown_prefixes() {
        assert!(matches!(lint_str("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"), Err(KeyFormatError::UnknownPrefix { .. })));
        assert!(matches!(lint_str("sk-ant-ort01-abcdefghijklmnopqrstuvwxyz0123456789"), Err(KeyFormatError::RefreshToken)));
        assert!(matches!(lint_str("   "), Err(KeyFormatError::Empty)));
    }

    #[test]
    fn fingerprint_matches_sha256sum() {
        // printf %s abc | sha256sum
        assert_eq!(fingerprint("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
