//! A Secret Service of one's own: a private D-Bus session bus with gnome-keyring-daemon's
//! secrets component and an unlocked, throw-away "login" collection — what a second person's
//! laptop has. Team tests give each member one, so no member's keychain is reachable from
//! another's session (the suite's own bus, from `scripts/with-secret-service.sh`, is a third).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running private Secret Service; stopped (bus and keyring) on drop.
pub struct SecretService {
    bus: Child,
    /// `DBUS_SESSION_BUS_ADDRESS` of the private bus.
    pub address: String,
    _data: tempfile::TempDir,
    _runtime: tempfile::TempDir,
}

impl SecretService {
    /// Starts the bus and the keyring, and waits until `org.freedesktop.secrets` is owned.
    pub fn start() -> SecretService {
        let data = tempfile::tempdir().expect("keyring data dir");
        let runtime = tempfile::tempdir().expect("runtime dir");
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus)");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().expect("bus stdout")).read_line(&mut line).expect("the bus address");
        let address = line.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon printed no address: {address:?}");
        let env = |c: &mut Command| {
            c.env("DBUS_SESSION_BUS_ADDRESS", &address).env("XDG_DATA_HOME", data.path()).env("XDG_RUNTIME_DIR", runtime.path());
        };
        // --unlock reads the password from stdin and, on a fresh data dir, creates the default
        // "login" collection with it; the daemon forks and leaves when its bus goes away.
        let mut kr = Command::new("gnome-keyring-daemon");
        kr.args(["--unlock", "--components=secrets"]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        env(&mut kr);
        let mut kr = kr.spawn().expect("gnome-keyring-daemon (Debian package gnome-keyring)");
        kr.stdin.take().expect("stdin").write_all(b"member-test-password").expect("keyring password");
        kr.wait().expect("gnome-keyring-daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut q = Command::new("dbus-send");
            q.args(["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"]);
            env(&mut q);
            if q.output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("true")) {
                break;
            }
            assert!(Instant::now() < deadline, "the private Secret Service did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        SecretService { bus, address, _data: data, _runtime: runtime }
    }

    /// The environment a program needs to use this Secret Service.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("DBUS_SESSION_BUS_ADDRESS".into(), self.address.clone())]
    }

    /// How many items of keychain service `service` this Secret Service holds (never their
    /// values: `secret-tool search` prints them, so only its item headers are counted).
    pub fn items_of(&self, service: &str) -> usize {
        let o = Command::new("secret-tool").args(["search", "--all", "service", service]).env("DBUS_SESSION_BUS_ADDRESS", &self.address).output().expect("secret-tool");
        // Headers go to stderr, values to stdout.
        String::from_utf8_lossy(&o.stderr).lines().chain(String::from_utf8_lossy(&o.stdout).lines()).filter(|l| l.starts_with('[')).count()
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        // The keyring daemon exits when its bus is gone.
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}
