//! Random identifiers and secrets in the shapes the real API uses, plus the key fingerprints
//! (SHA-256 and `partial_key_hint`) that stand in for secrets everywhere the fake stores them.

use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const KEY_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/// Prefix of standard API keys.
pub const API_KEY_PREFIX: &str = "sk-ant-api03-";
/// Prefix of Admin API keys.
pub const ADMIN_KEY_PREFIX: &str = "sk-ant-admin01-";
/// Prefix of OAuth access tokens.
pub const OAUTH_TOKEN_PREFIX: &str = "sk-ant-oat01-";

fn random_from(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

/// `n` random base62 characters.
pub fn base62(n: usize) -> String {
    random_from(BASE62, n)
}

/// An id like `apikey_01Rj2N8SVvo6BePZj99NhmiT`: prefix, `01`, then 22 base62 characters.
pub fn prefixed_id(prefix: &str) -> String {
    format!("{prefix}_01{}", base62(22))
}

/// A `request-id` value: `req_011C` + 20 base62 characters.
pub fn request_id() -> String {
    format!("req_011C{}", base62(20))
}

/// A message id: `msg_01` + 22 base62 characters.
pub fn message_id() -> String {
    prefixed_id("msg")
}

/// A fresh standard API key: `sk-ant-api03-` + 93 × `[A-Za-z0-9_-]` + `AA` (108 characters).
pub fn api_key_secret() -> String {
    format!("{API_KEY_PREFIX}{}AA", random_from(KEY_ALPHABET, 93))
}

/// A fresh Admin key: `sk-ant-admin01-` + 93 × `[A-Za-z0-9_-]` + `AA` (110 characters).
pub fn admin_key_secret() -> String {
    format!("{ADMIN_KEY_PREFIX}{}AA", random_from(KEY_ALPHABET, 93))
}

/// A fresh OAuth access token: `sk-ant-oat01-` + 80 × `[A-Za-z0-9_-]`.
pub fn oauth_token_secret() -> String {
    format!("{OAUTH_TOKEN_PREFIX}{}", random_from(KEY_ALPHABET, 80))
}

/// Lower-case hex SHA-256 of a presented secret.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// `partial_key_hint`: the first 16 characters, `...`, the last 4 (`sk-ant-api03-R2D...igAA`).
/// Short strings reveal proportionally less so a hint never gives away a whole short secret.
pub fn partial_key_hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let n = chars.len();
    let (head, tail) = if n >= 24 { (16, 4) } else { (n / 3, n / 6) };
    let first: String = chars[..head].iter().collect();
    let last: String = chars[n - tail..].iter().collect();
    format!("{first}...{last}")
}

/// Whether `id` looks like a workspace id (`wrkspc_` + 1..=64 base62 characters).
pub fn is_valid_workspace_id(id: &str) -> bool {
    match id.strip_prefix("wrkspc_") {
        Some(rest) => !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_documented_shapes() {
        let k = api_key_secret();
        assert_eq!(k.len(), 108);
        assert!(k.ends_with("AA"));
        assert_eq!(admin_key_secret().len(), 110);
        assert_eq!(oauth_token_secret().len(), 13 + 80);
        assert_eq!(request_id().len(), "req_011C".len() + 20);
        assert_eq!(prefixed_id("apikey").len(), "apikey_".len() + 24);
    }

    #[test]
    fn hint_is_first16_and_last4() {
        let k = api_key_secret();
        let h = partial_key_hint(&k);
        assert_eq!(h.len(), 16 + 3 + 4);
        assert!(h.starts_with("sk-ant-api03-"));
        assert!(h.ends_with("AA"));
        // Short or empty input never panics.
        assert_eq!(partial_key_hint(""), "...");
        let _ = partial_key_hint("ab");
    }
}
