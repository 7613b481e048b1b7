//! Names: instance names must be slug-safe; key names must follow the scheme
//! `openclaw-<owner>-<env>[-<workload>]` so that an on-call engineer reading a key list in the
//! Console knows who owns a key, which environment it serves and what workload it runs.

use crate::error::{Error, Result};

/// Lower-case slug: `[a-z0-9]` then `[a-z0-9-]`, no double or trailing hyphen, 1–63 chars.
pub fn check_slug(field: &'static str, value: &str) -> Result<()> {
    let ok_chars = value.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.len() > 63 {
        return Err(Error::invalid(field, format!("is {} characters long; at most 63", value.len())));
    }
    if !ok_chars || value.starts_with('-') || value.ends_with('-') || value.contains("--") {
        return Err(Error::invalid(field, format!("'{}' is not slug-safe: use lower-case letters, digits and single hyphens (e.g. '{}')", value, slugify(value))));
    }
    Ok(())
}

/// Best-effort slug of free text, for suggestions.
pub fn slugify(value: &str) -> String {
    let mut out = String::new();
    for c in value.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "x".into()
    } else {
        out.chars().take(63).collect::<String>().trim_end_matches('-').to_string()
    }
}

/// The canonical short form of an environment name: production → prod, and so on.
pub fn env_short(env: &str) -> String {
    match slugify(env).as_str() {
        "production" | "prd" | "live" => "prod".into(),
        "staging" | "stage" | "stg" => "staging".into(),
        "development" | "develop" => "dev".into(),
        "testing" => "test".into(),
        other => other.into(),
    }
}

/// `openclaw-<owner>-<env>[-<workload>]` for the given facts.
pub fn suggest_key_name(owner: &str, env: &str, workload: &str) -> String {
    let mut name = format!("openclaw-{}-{}", slugify(owner), env_short(env));
    if !workload.trim().is_empty() {
        name.push('-');
        name.push_str(&slugify(workload));
    }
    name
}

/// Words that carry no meaning for an on-call engineer.
const VAGUE: &[&str] = &["test", "new", "key", "final", "tmp", "temp", "old", "copy", "mine", "default", "my", "claude", "anthropic", "api"];
const ENV_WORDS: &[&str] = &["prod", "production", "staging", "stage", "stg", "dev", "development", "test", "testing", "qa", "uat", "sandbox", "demo", "preview", "local"];

/// The facts a key name is checked against (from the instance it will serve, if any).
#[derive(Debug, Clone, Default)]
pub struct NameContext<'a> {
    pub owner: Option<&'a str>,
    pub environment: Option<&'a str>,
    pub workload: Option<&'a str>,
}

/// Checks a key name against the scheme. `Err(Error::KeyName)` says why and suggests a name.
pub fn check_key_name(name: &str, ctx: &NameContext<'_>) -> Result<()> {
    check_slug("key name", name)?;
    let suggestion = match (ctx.owner, ctx.environment) {
        (Some(o), Some(e)) => suggest_key_name(o, e, ctx.workload.unwrap_or("")),
        _ => "openclaw-<owner>-<env>-<workload>".to_string(),
    };
    let refuse = |reason: String| Err(Error::KeyName { name: name.to_string(), reason, suggestion: suggestion.clone() });
    let tokens: Vec<&str> = name.split('-').collect();
    if tokens.iter().all(|t| VAGUE.contains(t) || ENV_WORDS.contains(t) || t.chars().all(|c| c.is_ascii_digit())) {
        return refuse("it says nothing about who owns the key or what it serves".into());
    }
    if tokens.first() != Some(&"openclaw") {
        return refuse("it does not follow the scheme openclaw-<owner>-<env>[-<workload>]".into());
    }
    if let Some(owner) = ctx.owner {
        let owner_slug = slugify(owner);
        if !name.contains(&owner_slug) {
            return refuse(format!("it does not name the owner '{owner_slug}'"));
        }
    }
    match ctx.environment {
        Some(env) => {
            let short = env_short(env);
            let long = slugify(env);
            if !tokens.iter().any(|t| *t == short || *t == long || env_short(t) == short) {
                return refuse(format!("it does not name the environment '{short}'"));
            }
        }
        None => {
            if !tokens.iter().any(|t| ENV_WORDS.contains(t)) {
                return refuse("it does not name an environment (prod, staging, dev, …)".into());
            }
        }
    }
    if tokens.len() < 3 {
        return refuse("it needs at least an owner and an environment".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>() -> NameContext<'a> {
        NameContext { owner: Some("Acme Corp"), environment: Some("production"), workload: Some("support bot") }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest_key_name("Acme Corp", "production", "support bot"), "openclaw-acme-corp-prod-support-bot");
        assert_eq!(suggest_key_name("acme", "dev", ""), "openclaw-acme-dev");
    }

    #[test]
    fn vague_names_refused_with_suggestion() {
        for bad in ["test", "new-key", "claude-prod-final", "openclaw-prod", "acme-prod-key", "openclaw-other-prod", "openclaw-acme-corp-dev"] {
            let err = check_key_name(bad, &ctx()).unwrap_err();
            assert_eq!(err.code(), "key_name", "{bad}");
            assert!(err.to_string().contains("openclaw-acme-corp-prod-support-bot"), "{err}");
        }
    }

    #[test]
    fn good_names_pass() {
        check_key_name("openclaw-acme-corp-prod-support-bot", &ctx()).unwrap();
        check_key_name("openclaw-acme-corp-production", &ctx()).unwrap();
        check_key_name("openclaw-acme-prod-2026-11", &NameContext::default()).unwrap();
    }

    #[test]
    fn slugs() {
        check_slug("name", "acme-prod-1").unwrap();
        for bad in ["", "Acme", "a_b", "-a", "a-", "a--b", "a b", "ü"] {
            assert!(check_slug("name", bad).is_err(), "{bad}");
        }
    }
}
