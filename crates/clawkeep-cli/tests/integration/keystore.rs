//! Headless key stores on a machine with no D-Bus at all (no session bus address, no display):
//! the OS store refuses and names the choice; `CLAWKEEP_KEYSTORE=age-file` (passphrase from a
//! file descriptor or a systemd credential) and `CLAWKEEP_KEYSTORE=keyutils` (the kernel
//! keyring) store and read keys; `self-check` names the store; no key or passphrase reaches an
//! output, a file of the data dir in clear, or argv.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::api_key;

const KEY_NAME: &str = "openclaw-acme-prod-support-bot";

struct Headless {
    dir: tempfile::TempDir,
    service: String,
    env: Vec<(String, String)>,
    transcript: Vec<u8>,
}

impl Headless {
    fn new(env: &[(&str, &str)]) -> Headless {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        Headless {
            dir: tempfile::tempdir().unwrap(),
            service: format!("clawkeep-test-headless-{}-{nanos}", std::process::id()),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            transcript: Vec::new(),
        }
    }

    /// `clawkeep ARGS` with no D-Bus and no display; `fd3`: a file opened as descriptor 3.
    fn run(&mut self, args: &[&str], stdin: Option<&str>, fd3: Option<&Path>) -> (i32, String, String) {
        let mut c = Command::new("sh");
        // The descriptor is opened by the shell; the passphrase itself never is an argument.
        // setsid: no controlling terminal, as under cron (a prompt must fail, not wait).
        c.arg("-c").arg(if fd3.is_some() { r#"exec setsid "$0" "$@" 3<"$CK_FD3""# } else { r#"exec setsid "$0" "$@""# });
        c.arg(env!("CARGO_BIN_EXE_clawkeep")).args(args);
        c.env_remove("DBUS_SESSION_BUS_ADDRESS").env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").env_remove("CREDENTIALS_DIRECTORY");
        c.env_remove("CLAWKEEP_KEYSTORE").env_remove("CLAWKEEP_KEYSTORE_UNLOCK").env_remove("CLAWKEEP_ANTHROPIC_BASE_URL");
        c.env("CLAWKEEP_HOME", self.dir.path().join("data")).env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service);
        if let Some(p) = fd3 {
            c.env("CK_FD3", p);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut sin = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            sin.write_all(s.as_bytes()).unwrap();
        }
        drop(sin);
        let out = child.wait_with_output().unwrap();
        self.transcript.extend_from_slice(&out.stdout);
        self.transcript.extend_from_slice(&out.stderr);
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn ok(&mut self, args: &[&str], stdin: Option<&str>, fd3: Option<&Path>) -> String {
        let (code, out, err) = self.run(args, stdin, fd3);
        assert_eq!(code, 0, "clawkeep {args:?} failed:\n{out}\n{err}");
        out
    }

    /// No `needle` in anything printed, nor in clear in any file of the data dir.
    fn assert_nowhere(&self, needle: &str, what: &str) {
        assert!(!self.transcript.windows(needle.len()).any(|w| w == needle.as_bytes()), "{what} printed");
        for e in walk(&self.dir.path().join("data")) {
            let bytes = std::fs::read(&e).unwrap_or_default();
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "{what} in clear in {}", e.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn add_instance(h: &mut Headless) {
    h.ok(&["instance", "add", "acme-prod-1", "--host", "127.0.0.1", "--user", "openclaw", "--owner", "acme", "--env", "prod"], None, None);
}

#[test]
fn without_d_bus_the_os_store_refuses_and_names_the_headless_choices() {
    let mut h = Headless::new(&[]);
    let (code, out, _) = h.run(&["--json", "self-check"], None, None);
    assert_eq!(code, 1);
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["keychain_ok"], false);
    assert_eq!(r["keychain_store"], "Secret Service (D-Bus)");
    let msg = r["keychain_message"].as_str().unwrap();
    assert!(msg.contains("CLAWKEEP_KEYSTORE=keyutils") && msg.contains("CLAWKEEP_KEYSTORE=age-file"), "{msg}");
    // never a silent fallback: a key cannot be added, and nothing is stored for it
    add_instance(&mut h);
    let (code, _, err) = h.run(&["--json", "key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], Some(&api_key()), None);
    assert_eq!(code, 1);
    assert!(err.contains("keychain_unavailable"), "{err}");
    assert!(!h.dir.path().join("data/keystore.age").exists());
    // a misspelt choice is refused, not ignored, and its value is not repeated
    let mut typo = Headless::new(&[("CLAWKEEP_KEYSTORE", "age-flie")]);
    let (code, _, err) = typo.run(&["--json", "self-check"], None, None);
    assert_eq!(code, 1);
    assert!(err.contains("keystore_unavailable") && !err.contains("age-flie"), "{err}");
}

#[test]
fn age_file_store_works_without_d_bus_from_a_descriptor_or_a_systemd_credential() {
    let mut h = Headless::new(&[("CLAWKEEP_KEYSTORE", "age-file"), ("CLAWKEEP_KEYSTORE_UNLOCK", "fd:3")]);
    let pass = format!("pass-{}", &api_key()[20..44]);
    let passfile = h.dir.path().join("pass");
    std::fs::write(&passfile, format!("{pass}\n")).unwrap();
    add_instance(&mut h);
    let key = api_key();
    h.ok(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], Some(&key), Some(&passfile));
    let file = h.dir.path().join("data/keystore.age");
    assert!(file.is_file(), "the encrypted file is in the data dir");
    let check: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "self-check"], None, Some(&passfile))).unwrap();
    assert_eq!(check["keychain_ok"], true, "{check}");
    assert_eq!(check["missing_secrets"], serde_json::json!([]), "the key is read back");
    assert!(check["keychain_store"].as_str().unwrap().contains("encrypted file") && check["keychain_store"].as_str().unwrap().contains("file descriptor 3"), "{check}");

    // a wrong passphrase: refused with its own code, the file untouched
    let before = std::fs::read(&file).unwrap();
    let wrong = h.dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-passphrase\n").unwrap();
    let (code, _, err) = h.run(&["--json", "key", "add", "openclaw-acme-prod-other", "--instance", "acme-prod-1", "--stdin"], Some(&api_key()), Some(&wrong));
    assert_eq!(code, 1);
    assert!(err.contains("keystore_locked"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
    // no source (not a terminal, nothing named): a clear error, not a prompt that hangs
    let (code, _, err) = h.run(&["--json", "self-check"], None, None);
    assert_eq!(code, 1, "{err}");

    // the same file unlocked by a systemd credential ($CREDENTIALS_DIRECTORY/clawkeep-keystore)
    let creds = h.dir.path().join("creds");
    std::fs::create_dir(&creds).unwrap();
    std::fs::write(creds.join("clawkeep-keystore"), &pass).unwrap();
    h.env = vec![("CLAWKEEP_KEYSTORE".into(), "age-file".into()), ("CREDENTIALS_DIRECTORY".into(), creds.display().to_string())];
    let check: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "self-check"], None, None)).unwrap();
    assert_eq!(check["keychain_ok"], true, "{check}");
    assert!(check["keychain_store"].as_str().unwrap().contains("systemd credential clawkeep-keystore"), "{check}");
    h.ok(&["key", "remove", KEY_NAME, "--force"], None, None);

    h.assert_nowhere(&key, "the key");
    h.assert_nowhere(&key[10..50], "part of the key");
    h.assert_nowhere(&pass, "the passphrase");
}

#[test]
fn kernel_keyring_store_works_without_d_bus() {
    let mut h = Headless::new(&[("CLAWKEEP_KEYSTORE", "keyutils")]);
    add_instance(&mut h);
    let key = api_key();
    h.ok(&["key", "add", KEY_NAME, "--instance", "acme-prod-1", "--stdin"], Some(&key), None);
    let check: serde_json::Value = serde_json::from_str(&h.ok(&["--json", "self-check"], None, None)).unwrap();
    assert_eq!(check["keychain_ok"], true, "{check}");
    assert_eq!(check["missing_secrets"], serde_json::json!([]), "the key is read back from the kernel keyring");
    assert!(check["keychain_store"].as_str().unwrap().starts_with("kernel keyring"), "{check}");
    h.ok(&["key", "remove", KEY_NAME, "--force"], None, None);
    h.assert_nowhere(&key, "the key");
    h.assert_nowhere(&key[10..50], "part of the key");
}
