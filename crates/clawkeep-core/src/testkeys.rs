//! Fake Anthropic keys for tests and benchmarks, built at run time (never a literal in the
//! tree): the one generator every test crate uses (feature `test-support`).

use crate::model::keyfmt::KeyKind;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn build(kind: KeyKind, mut next: impl FnMut() -> usize) -> String {
    // The documented length (OAuth tokens have none: 80), ending in `AA` like real keys.
    let total = kind.expected_len().unwrap_or(80);
    let mut s = kind.prefix().to_string();
    while s.len() < total - 2 {
        s.push(ALPHABET[next() % ALPHABET.len()] as char);
    }
    s.push_str("AA");
    s
}

/// A well-formed key of `kind`, the same for the same `seed` (distinct seeds, distinct keys).
pub fn fake_key(kind: KeyKind, seed: u64) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    build(kind, || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    })
}

/// A well-formed API key, the same for the same `seed`.
pub fn api_key(seed: u64) -> String {
    fake_key(KeyKind::Api, seed)
}

/// A fresh random well-formed key of `kind`.
pub fn random_key(kind: KeyKind) -> String {
    build(kind, || rand::random_range(0..ALPHABET.len()))
}

/// A fresh random well-formed API key.
pub fn random_api_key() -> String {
    random_key(KeyKind::Api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_well_formed_and_seeded() {
        for kind in [KeyKind::Api, KeyKind::Admin, KeyKind::Oauth] {
            for k in [fake_key(kind, 1), random_key(kind)] {
                assert!(crate::model::keyfmt::lint(crate::Secret::new(k.clone())).is_ok(), "{kind:?}");
            }
        }
        assert_eq!(api_key(7), api_key(7));
        assert_ne!(api_key(7), api_key(8));
        assert_ne!(random_api_key(), random_api_key());
    }
}
