//! age in memory for the team vault: a member's X25519 identity (made by `team join`, kept in
//! the OS keychain only), a secret encrypted to exactly the given recipients (armored, so the
//! stock `age -d` reads it), and decrypted straight into a [`Secret`].

use std::io::{Read, Write};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// A fresh identity: (the identity as `AGE-SECRET-KEY-1…` in a [`Secret`], its recipient).
pub fn generate_identity() -> (Secret, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    let recipient = id.to_public().to_string();
    (Secret::new(id.to_string().expose_secret().to_string()), recipient)
}

/// The recipient of a stored identity.
pub fn recipient_of(identity: &Secret) -> Result<String> {
    let id: age::x25519::Identity = identity.expose().trim().parse().map_err(|_| Error::InvalidState("the team identity in the keychain is damaged".into()))?;
    Ok(id.to_public().to_string())
}

/// `text` is an age X25519 recipient.
pub fn check_recipient(text: &str) -> Result<()> {
    text.trim().parse::<age::x25519::Recipient>().map(|_| ()).map_err(|e| Error::invalid("recipient", format!("not an age X25519 recipient (age1…): {e}")))
}

/// Encrypts `secret` to exactly `recipients` (armored).
pub fn encrypt(secret: &Secret, recipients: &[&str]) -> Result<Vec<u8>> {
    let err = |m: String| Error::InvalidState(format!("team encryption failed: {m}"));
    let parsed = recipients.iter().map(|r| r.trim().parse::<age::x25519::Recipient>().map_err(|e| err(format!("bad recipient: {e}")))).collect::<Result<Vec<_>>>()?;
    if parsed.is_empty() {
        return Err(err("no recipients".into()));
    }
    let enc = age::Encryptor::with_recipients(parsed.iter().map(|r| r as &dyn age::Recipient)).map_err(|e| err(e.to_string()))?;
    let mut out = Vec::new();
    let armor = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).map_err(|e| err(e.to_string()))?;
    let mut w = enc.wrap_output(armor).map_err(|e| err(e.to_string()))?;
    w.write_all(secret.expose().as_bytes()).map_err(|e| err(e.to_string()))?;
    w.finish().and_then(|a| a.finish()).map_err(|e| err(e.to_string()))?;
    Ok(out)
}

/// Decrypts with `identity`; `None` when the file is not encrypted to it (no access).
pub fn decrypt(data: &[u8], identity: &Secret, path: &str) -> Result<Option<Secret>> {
    let id: age::x25519::Identity = identity.expose().trim().parse().map_err(|_| Error::InvalidState("the team identity in the keychain is damaged".into()))?;
    let bad = |m: String| Error::TeamLayout { path: path.into(), line: 0, message: format!("not a readable age file: {m}") };
    let dec = age::Decryptor::new(age::armor::ArmoredReader::new(data)).map_err(|e| bad(e.to_string()))?;
    let mut r = match dec.decrypt(std::iter::once(&id as &dyn age::Identity)) {
        Ok(r) => r,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let mut s = String::new();
    r.read_to_string(&mut s).map_err(|e| bad(e.to_string()))?;
    Ok(Some(Secret::new(s)))
}

/// `f` over every item, in order, on up to as many threads as there are cores (X25519 is CPU
/// work: a sync or re-encryption of a thousand secrets takes one or two per file). Nothing is
/// shared but what `f` borrows; the results keep the items' order.
pub fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    if threads == 1 || items.len() < 32 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = items.chunks(chunk).map(|c| s.spawn(move || c.iter().map(f).collect::<Vec<R>>())).collect();
        // A panic in `f` is a bug: it goes on as one here.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_parallel_keeps_the_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(in_parallel(&items, |i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(in_parallel(&items[..3], |i| i + 1), vec![1, 2, 3]);
        assert!(in_parallel(&[] as &[u32], |i| *i).is_empty());
    }

    #[test]
    fn only_the_recipients_decrypt() {
        let (a, ra) = generate_identity();
        let (b, rb) = generate_identity();
        let (c, _) = generate_identity();
        assert_eq!(recipient_of(&a).unwrap(), ra);
        let s = Secret::new("value-of-a-secret".into());
        let data = encrypt(&s, &[&ra, &rb]).unwrap();
        assert!(String::from_utf8_lossy(&data).starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!String::from_utf8_lossy(&data).contains("value-of"));
        assert_eq!(decrypt(&data, &a, "p").unwrap().unwrap().expose(), "value-of-a-secret");
        assert_eq!(decrypt(&data, &b, "p").unwrap().unwrap().expose(), "value-of-a-secret");
        assert!(decrypt(&data, &c, "p").unwrap().is_none());
        let mut tampered = data.clone();
        let n = tampered.len() / 2;
        tampered[n] = if tampered[n] == b'A' { b'B' } else { b'A' };
        assert!(decrypt(&tampered, &a, "p").is_err());
        assert!(encrypt(&s, &[]).is_err());
        assert!(check_recipient("age1nope").is_err() && check_recipient(&ra).is_ok());
    }
}
