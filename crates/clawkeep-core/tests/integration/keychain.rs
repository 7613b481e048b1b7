//! The OS keychain on the real Secret Service (run inside scripts/with-secret-service.sh):
//! round trip, missing entries, and a unique service name per run, cleaned up.

use clawkeep_core::{Keychain, KeychainError, OsKeychain, Secret};

struct Cleanup<'a>(&'a OsKeychain, &'static str);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self.0.delete(self.1);
    }
}

#[test]
fn round_trip_on_the_real_secret_service() {
    assert!(std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(), "run through scripts/test.sh: needs the real Secret Service");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let kc = OsKeychain::new(format!("clawkeep-test-core-{}-{nanos}", std::process::id()));
    let _guard = Cleanup(&kc, "kc-roundtrip");
    kc.probe().unwrap();
    assert!(matches!(kc.get("kc-roundtrip"), Err(KeychainError::Missing { .. })));
    let value = format!("secret-{nanos}");
    kc.set("kc-roundtrip", &Secret::new(value.clone())).unwrap();
    assert_eq!(kc.get("kc-roundtrip").unwrap().expose(), value);
    kc.set("kc-roundtrip", &Secret::new(format!("{value}-2"))).unwrap();
    assert_eq!(kc.get("kc-roundtrip").unwrap().expose(), format!("{value}-2"));
    kc.delete("kc-roundtrip").unwrap();
    kc.delete("kc-roundtrip").unwrap(); // idempotent
    let err = kc.get("kc-roundtrip").unwrap_err();
    assert_eq!(err.code(), "keychain_missing");
    assert!(!format!("{err} {err:?}").contains(&value));
}
