//! The demo world end to end: `scripts/demo.sh up` in a temp dir (its own fake port and keychain
//! service), then `clawkeep check --all` must find exactly the problems the demo plants — per
//! instance, by cause code — and nothing on the healthy hosts; `scripts/demo.sh down` after.
//! Root makes real users (leased like every test world); without root the hosts log in as you.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Demo {
    repo: PathBuf,
    dir: PathBuf,
    port: u16,
    service: String,
    _tmp: tempfile::TempDir,
}

impl Demo {
    fn script(&self, arg: &str) -> std::process::Output {
        Command::new(self.repo.join("scripts/demo.sh"))
            .arg(arg)
            .env("CLAWKEEP_DEMO_DIR", &self.dir)
            .env("CLAWKEEP_DEMO_FAKE_PORT", self.port.to_string())
            .env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }
    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(clawkeep_tests::clawkeep_bin())
            .args(args)
            .env("CLAWKEEP_HOME", self.dir.join("clawkeep"))
            .env("CLAWKEEP_KEYCHAIN_SERVICE", &self.service)
            .env("CLAWKEEP_ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{}", self.port))
            .env_remove("SSH_AUTH_SOCK")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }
    /// The secrets the demo minted (keys.tsv: name, id, key).
    fn secrets(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("keys.tsv")).unwrap_or_default().lines().filter_map(|l| l.split('\t').nth(2)).filter(|k| k.len() > 40).map(String::from).collect()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let out = self.script("down");
        if !out.status.success() {
            eprintln!("demo down: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        let _ = Command::new("secret-tool").args(["clear", "service", &self.service]).status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn demo_fleet_shows_each_planted_problem_with_its_cause() {
    if !Path::new("/usr/sbin/sshd").exists() {
        eprintln!("skipped: no openssh-server");
        return;
    }
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        panic!("run under scripts/with-secret-service.sh (real Secret Service)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let demo = Demo {
        repo: Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf(),
        dir: tmp.path().join("demo"),
        port: free_port(),
        service: format!("clawkeep-demo-test-{}-{nanos}", std::process::id()),
        _tmp: tmp,
    };
    let up = demo.script("up");
    let up_text = format!("{}{}", String::from_utf8_lossy(&up.stdout), String::from_utf8_lossy(&up.stderr));
    assert!(up.status.success(), "demo up failed:\n{up_text}");

    let (code, out, err) = demo.cli(&["--json", "check", "--all"]);
    assert_eq!(code, 1, "failing instances exit 1: {out}{err}");
    let r: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    // instance → (status, causes of its checks that are not green)
    let mut seen: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for i in r["instances"].as_array().unwrap() {
        let causes = i["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "fail" || c["status"] == "warn")
            .map(|c| c["cause"].as_str().unwrap_or("(none)").to_string())
            .collect();
        seen.insert(i["instance"].as_str().unwrap().to_string(), (i["status"].as_str().unwrap().to_string(), causes));
    }
    let want = |status: &str, causes: &[&str]| (status.to_string(), causes.iter().map(|c| c.to_string()).collect::<BTreeSet<_>>());
    let burst = want("warn", &["rate_limited", "fails_after_first_requests", "shared_rate_limit"]);
    let expected: BTreeMap<String, (String, BTreeSet<String>)> = [
        ("demo-01", want("pass", &[])),
        ("demo-02", want("pass", &[])),
        ("demo-03", want("fail", &["restart_needed"])),
        ("demo-04", want("fail", &["key_truncated"])),
        ("demo-05", burst.clone()),
        ("demo-06", burst),
        ("demo-07", want("warn", &["key_expiring_soon"])),
        ("demo-08", want("fail", &["host_key_untrusted"])),
        ("demo-09", want("fail", &["key_shared_across_instances"])),
        ("demo-10", want("fail", &["key_of_other_instance", "key_shared_across_instances"])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(seen, expected, "demo up said:\n{up_text}");
    let fleet: BTreeSet<&str> = r["fleet_checks"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    assert_eq!(fleet, BTreeSet::from(["fleet.shared-key", "fleet.shared-limit"]));
    // every planted problem says what to do
    for i in r["instances"].as_array().unwrap() {
        for c in i["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail" || c["status"] == "warn") {
            assert!(c["fix"].as_str().is_some_and(|f| !f.is_empty()), "{c}");
        }
    }

    // core's matrix (what the desktop shows after "Check fleet"): failing rows first, each named
    // by the domain to look at first and a planted cause; green rows name nothing
    let m = &r["matrix"];
    assert_eq!((m["failing"].as_u64(), m["warning"].as_u64(), m["passing"].as_u64()), (Some(5), Some(3), Some(2)), "{m}");
    let rank = |s: &str| ["fail", "warn", "pass", "skip"].iter().position(|x| *x == s).unwrap();
    let rows = m["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert!(rows.windows(2).all(|w| rank(w[0]["status"].as_str().unwrap()) <= rank(w[1]["status"].as_str().unwrap())), "{m}");
    for row in rows {
        let name = row["instance"].as_str().unwrap();
        assert_eq!(r["instances"][row["index"].as_u64().unwrap() as usize]["instance"], row["instance"], "drill-down index of {name}");
        assert_eq!(row["cells"].as_array().unwrap().len(), 5);
        let (status, causes) = &expected[name];
        assert_eq!(row["status"].as_str().unwrap(), status, "{name}");
        if status == "pass" {
            assert!(row["look_first"].is_null() && row["problem"].is_null(), "{row}");
        } else {
            let cause = row["problem"]["cause"].as_str().unwrap_or_default();
            assert!(causes.contains(cause), "{name}: first problem {cause} is not one of {causes:?}");
            assert!(row["look_first"].is_string(), "{row}");
        }
    }

    // the compact text view: failing instances first, one line each, with the cause
    let (code, text, err) = demo.cli(&["check", "--all"]);
    assert_eq!(code, 1, "{text}{err}");
    let rows: Vec<&str> = text.lines().skip(1).take(10).collect();
    assert!(rows[..5].iter().all(|l| l.starts_with("FAIL")) && rows[8..].iter().all(|l| l.starts_with("PASS")), "{text}");
    assert!(rows.iter().any(|l| l.contains("demo-08") && l.contains("host_key_untrusted")), "{text}");

    // no secret in anything printed
    let all = format!("{up_text}{out}{err}{text}");
    for k in demo.secrets() {
        assert!(!all.contains(&k[12..40]), "a key leaked into the output");
    }
}
