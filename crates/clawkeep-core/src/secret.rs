//! `Secret`: the only type a key value travels in.
//!
//! Its `Debug` prints `<redacted>`; it has no `Display`, no `Serialize`, no `Clone` (a copy is an
//! explicit [`Secret::duplicate`]), and its memory is wiped on drop. Reading the value needs an
//! explicit [`Secret::expose`], which makes every place a secret is used easy to find.

use zeroize::Zeroizing;

/// A secret string (an Anthropic key).
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value. The caller's copy should be dropped right after.
    pub fn new(value: String) -> Self {
        Secret(Zeroizing::new(value))
    }

    /// The value itself: only for the keychain, hashing, and pushing to a host over stdin/SFTP.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An explicit copy (for handing to another thread).
    pub fn duplicate(&self) -> Self {
        Secret::new(self.0.as_str().to_owned())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Secret bytes: a whole file that holds a key (a host's `.env`), which need not be UTF-8.
/// Same guarantees as [`Secret`]: redacted `Debug`, no `Clone`, wiped on drop.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    pub fn new(value: Vec<u8>) -> Self {
        SecretBytes(Zeroizing::new(value))
    }

    /// The bytes themselves: only for writing to a host over SFTP and comparing.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new("hunter2-secret-value".into());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
        assert_eq!(s.expose(), "hunter2-secret-value");
        let b = SecretBytes::new(b"hunter2".to_vec());
        assert_eq!(format!("{b:?}"), "<redacted>");
    }
}
