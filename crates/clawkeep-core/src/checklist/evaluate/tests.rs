//! Table tests of the checklist's judgement, without root or network: each row changes a
//! healthy world (an inventory, host facts written in the facts script's report format and read
//! by the real parser, canned API probes) and names the (check id, status, cause) it must
//! produce. Keys are generated at run time (`crate::testkeys`); only their hints and
//! fingerprints reach the host report, as on a real host. Every cause code of [`Cause`] is
//! produced by at least one row (`every_cause_code_is_covered`).

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::anthropic::{AdminApiKey, ApiErrorBody, Probe, RateLimit};
use crate::checklist::cause::Cause;
use crate::checklist::facts::{CheckContext, CheckOptions, Facts, Gathered, HostError, Probes, RotationDue};
use crate::checklist::gather;
use crate::checklist::hostfacts::{self, FactsError, HostFacts};
use crate::checklist::runner::RunnerError;
use crate::checklist::types::{CheckResult, CheckRun, Domain, FleetFacts, InstanceReport, Status, Timings};
use crate::cost::budget::{Budget, BudgetScope, BudgetState, BudgetStatus};
use crate::cost::limits::{LimitSource, RateLimitEntry};
use crate::error::Remedy;
use crate::model::domain::{InjectionMethod, Instance, Key, KeyStatus, Purpose, ServiceManager};
use crate::model::keyfmt::{self, KeyKind};
use crate::secret::Secret;
use crate::testkeys;

const INSTANCE: &str = "acme-prod";
const OTHER: &str = "globex-prod";
const ORG: &str = "org_acme";
const WS: &str = "wrkspc_acme_prod";
const BASE: &str = "http://127.0.0.1:18555";
const AGENT: &str = "main";
const PID: u32 = 4242;
const STARTED: i64 = 1_790_000_000;

/// The keys of the world, generated at run time.
struct Keys {
    /// The instance's active key (its keychain copy is the context's secret).
    active: String,
    /// A retired version of the instance's key.
    retired: String,
    /// A key nobody in the inventory knows.
    unknown: String,
    /// The active key of another instance.
    other: String,
    admin: String,
}

fn keys() -> Keys {
    Keys {
        active: testkeys::api_key(101),
        retired: testkeys::api_key(102),
        unknown: testkeys::api_key(103),
        other: testkeys::api_key(104),
        admin: testkeys::fake_key(KeyKind::Admin, 105),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).single().unwrap_or_else(|| unreachable!())
}

fn instance(name: &str) -> Instance {
    Instance {
        id: 1,
        name: name.into(),
        owner: "acme".into(),
        environment: "prod".into(),
        workload: "support-bot".into(),
        purpose: Purpose::Client,
        ssh_host: "127.0.1.1".into(),
        ssh_port: 22,
        ssh_user: "ckh1".into(),
        jump_via: None,
        host_key_fingerprint: Some("SHA256:pinned".into()),
        state_dir: "~/.openclaw".into(),
        service_manager: ServiceManager::default(),
        injection: InjectionMethod::EnvFile,
        agents: vec![AGENT.into()],
        expected_org_id: Some(ORG.into()),
        expected_workspace_id: Some(WS.into()),
        tags: vec![],
        notes: String::new(),
        draft: false,
        created_at: now(),
        updated_at: now(),
    }
}

fn key(name: &str, value: &str, instance: Option<&str>, status: KeyStatus) -> Key {
    Key {
        id: 0,
        name: name.into(),
        kind: [KeyKind::Admin, KeyKind::Oauth].into_iter().find(|k| value.starts_with(k.prefix())).unwrap_or(KeyKind::Api),
        hint: keyfmt::hint(value),
        fingerprint: keyfmt::fingerprint(value),
        length: value.len() as u32,
        keychain_ref: format!("kc-{name}"),
        instance: instance.map(str::to_string),
        workspace_id: Some(WS.into()),
        anthropic_key_id: Some("apikey_acme".into()),
        status,
        name_override: false,
        created_at: now(),
        expires_at: None,
        rotated_at: None,
        retired_at: None,
        updated_at: now(),
    }
}

/// A `key|…` line of the facts report for a value seen on the host at `source`.
fn key_line(value: &str, source: &str) -> String {
    format!("key|{}|{}|{}|{source}", value.len(), keyfmt::hint(value), keyfmt::fingerprint(value))
}

/// `openclaw.json` (as the host sends it: one `cfg|` line per line of the file).
fn cfg_lines(json5: &str) -> Vec<String> {
    json5.lines().map(|l| format!("cfg|{l}")).collect()
}

/// What Clawkeep's secret-file method writes into `openclaw.json`.
const SECRET_FILE_CONFIG: &str = "{ meta: {}, agents: { defaults: { model: \"anthropic/claude-sonnet-5\" } }, secrets: { providers: { clawkeep_anthropic: { source: \"file\", path: \"/home/ckh1/.openclaw/secrets/anthropic-api-key\", mode: \"singleValue\" } } }, models: { providers: { anthropic: { apiKey: { source: \"file\", provider: \"clawkeep_anthropic\", id: \"value\" } } } } }";
const HEALTHY_CONFIG: &str = "{ meta: {}, agents: { defaults: { model: \"anthropic/claude-sonnet-5\" } } }";

/// What the host reports, as the facts script would print it (between header and trailer).
fn healthy_report(k: &Keys) -> Vec<String> {
    let mut l: Vec<String> = [
        "user|ckh1|1001",
        "home|/home/ckh1",
        "state|/home/ckh1/.openclaw",
        "os|Debian GNU/Linux 12 (bookworm)",
        "kernel|6.1.0-13-amd64",
        "cpus|2",
        "mem_kb|8000000",
        "openclaw|OpenClaw 2026.9.6 (eb377ac)",
        "stat|state_dir|700|1001|ckh1|1789000000|/home/ckh1/.openclaw",
        "stat|env|600|1001|ckh1|1789000000|/home/ckh1/.openclaw/.env",
        "stat|config|600|1001|ckh1|1789000000|/home/ckh1/.openclaw/openclaw.json",
        "config|present",
        "agent|main|1",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    l.extend(cfg_lines(HEALTHY_CONFIG));
    l.push(format!("proc|{PID}|{STARTED}|/usr/bin/node openclaw gateway run"));
    l.push(key_line(&k.active, &format!("proc:{PID}")));
    l.push(key_line(&k.active, "dotenv"));
    l.push("logsrc|/home/ckh1/.openclaw/logs/openclaw.log".into());
    l.push("logs|0|0|0|0|0|0|120".into());
    l
}

fn probe(endpoint: &str, status: u16) -> Probe {
    Probe {
        endpoint: endpoint.into(),
        status,
        request_id: Some(format!("req_{status}_test")),
        organization_id: None,
        workspace_id: None,
        error: None,
        rate_limit: RateLimit::default(),
        elapsed_ms: 1,
        body: serde_json::Value::Null,
    }
}

/// A probe that failed with Anthropic's error envelope.
fn failed(endpoint: &str, status: u16, kind: &str, message: &str) -> Probe {
    Probe { error: Some(ApiErrorBody { kind: kind.into(), message: message.into() }), ..probe(endpoint, status) }
}

const MODELS: &str = "GET /v1/models?limit=1";
const MODEL: &str = "GET /v1/models/claude-sonnet-5";
const COUNT: &str = "POST /v1/messages/count_tokens";
const BILLING: &str = "POST /v1/messages";

fn models_ok(org: &str, ws: &str) -> Probe {
    Probe {
        organization_id: Some(org.into()),
        workspace_id: Some(ws.into()),
        rate_limit: RateLimit { requests_limit: Some(100), requests_remaining: Some(90), tokens_limit: Some(10_000), tokens_remaining: Some(9_000), ..Default::default() },
        ..probe(MODELS, 200)
    }
}

fn admin_key(k: &Keys, status: &str) -> AdminApiKey {
    AdminApiKey {
        id: "apikey_acme".into(),
        name: "openclaw-acme-prod-support-bot".into(),
        status: status.into(),
        partial_key_hint: Some(keyfmt::hint(&k.active)),
        workspace_id: Some(WS.into()),
        expires_at: None,
        created_at: None,
    }
}

/// How the host part of a world went.
enum Host {
    /// `--no-host`.
    NotChecked,
    /// The script's report lines (the header and trailer are added, with a nonce).
    Report(Vec<String>),
    /// The raw bytes the runner returned, and the run's nonce.
    Raw(Vec<u8>, String),
    Failed(HostError),
}

/// One instance's world: context (with keychain copies), options, host, API answers.
struct World {
    k: Keys,
    ctx: CheckContext,
    opts: CheckOptions,
    host: Host,
    probes: Probes,
}

impl World {
    /// Everything healthy: every check passes (the opt-in billing probe is skipped).
    fn healthy() -> World {
        let k = keys();
        let inventory = vec![
            key("openclaw-acme-prod-support-bot", &k.active, Some(INSTANCE), KeyStatus::Active),
            key("openclaw-acme-prod-support-bot-2025", &k.retired, Some(INSTANCE), KeyStatus::Retired),
            key("openclaw-globex-prod-ops", &k.other, Some(OTHER), KeyStatus::Active),
            Key { workspace_id: None, anthropic_key_id: None, ..key("acme-admin", &k.admin, None, KeyStatus::Active) },
        ];
        let ctx = CheckContext {
            instance: instance(INSTANCE),
            keys: inventory,
            active_secret: Some(Secret::new(k.active.clone())),
            admin_secret: Some(Secret::new(k.admin.clone())),
            history: vec![],
            now: now(),
            rotation_due: Some(RotationDue { due: now() + Duration::days(60), basis: "max-age", max_age_days: 90, policy: "default".into() }),
            budgets: vec![],
            rate_limits: vec![],
        };
        let probes = Probes {
            models: Some(Ok(models_ok(ORG, WS))),
            model: Some(Ok(probe(MODEL, 200))),
            count: Some(Ok(probe(COUNT, 200))),
            billing: None,
            admin: Some(Ok((probe("GET /v1/organizations/api_keys/apikey_acme", 200), Some(admin_key(&k, "active"))))),
        };
        let host = Host::Report(healthy_report(&k));
        World { k, ctx, opts: CheckOptions::default(), host, probes }
    }

    fn lines(&mut self) -> &mut Vec<String> {
        match &mut self.host {
            Host::Report(l) => l,
            _ => unreachable!("the host of this world is not a report"),
        }
    }

    /// Drops the report lines that start with `prefix`.
    fn drop_lines(&mut self, prefix: &str) -> &mut Self {
        self.lines().retain(|l| !l.starts_with(prefix));
        self
    }

    /// Replaces the report lines that start with `prefix` by `new`.
    fn set_lines(&mut self, prefix: &str, new: impl IntoIterator<Item = String>) -> &mut Self {
        self.drop_lines(prefix);
        self.lines().extend(new);
        self
    }

    /// Replaces every key sighting by these (value, source) pairs.
    fn host_keys(&mut self, keys: &[(&str, &str)]) -> &mut Self {
        let new: Vec<String> = keys.iter().map(|(v, s)| key_line(v, s)).collect();
        self.set_lines("key|", new)
    }

    fn config(&mut self, json5: &str) -> &mut Self {
        self.set_lines("cfg|", cfg_lines(json5))
    }

    fn host_facts(&self) -> Option<Result<HostFacts, HostError>> {
        match &self.host {
            Host::NotChecked => None,
            Host::Report(lines) => {
                let n = hostfacts::nonce();
                let text = format!("CLAWKEEP-FACTS 1 {n}\n{}\nCLAWKEEP-END 1 {n}\n", lines.join("\n"));
                let f = hostfacts::parse(text.as_bytes(), &n).map_err(HostError::Report);
                if let Ok(f) = &f {
                    assert_eq!(f.skipped_lines, 0, "a fixture line the parser does not read: {lines:#?}");
                }
                Some(f)
            }
            Host::Raw(bytes, nonce) => Some(hostfacts::parse(bytes, nonce).map_err(HostError::Report)),
            Host::Failed(e) => Some(Err(e.clone())),
        }
    }

    /// What the gathering would have produced from these answers.
    fn gathered(&self) -> Gathered {
        gather::assemble(&self.ctx, self.host_facts(), self.probes.clone(), BASE)
    }

    /// The pure evaluation of this world.
    fn evaluate(&self) -> (Vec<CheckResult>, FleetFacts) {
        let g = self.gathered();
        super::evaluate(&Facts::new(&self.ctx, &self.opts, &g))
    }

    fn checks(&self) -> Vec<CheckResult> {
        self.evaluate().0
    }

    fn report(&self) -> InstanceReport {
        let (checks, facts) = self.evaluate();
        let mut r = InstanceReport {
            instance: self.ctx.instance.name.clone(),
            started_at: self.ctx.now,
            checks,
            domains: vec![],
            first_failing_domain: None,
            status: Status::Skip,
            facts,
            timings: Timings::default(),
        };
        r.finish();
        r
    }
}

/// One row: a change to the healthy world, and the checks it must produce.
struct Row {
    name: &'static str,
    setup: fn(&mut World),
    expect: &'static [(&'static str, Status, Option<&'static str>)],
}

use Status::{Fail, Pass, Skip, Warn};

/// A file that is wrong never yields "restart the gateway": a restart would load it.
#[test]
fn a_wrong_file_never_asks_for_a_restart() {
    let mut w = World::healthy();
    let cut = w.k.active[..w.k.active.len() - 8].to_string();
    w.host_keys(&[(&cut, "dotenv")]);
    w.set_lines("stat|env|", [format!("stat|env|600|1001|ckh1|{}|/home/ckh1/.openclaw/.env", STARTED + 60)]);
    let checks = w.checks();
    assert!(checks.iter().all(|c| c.cause.as_deref() != Some("restart_needed")), "{checks:#?}");
    let mut w = World::healthy();
    let (a, cut) = (w.k.active.clone(), w.k.active[..w.k.active.len() - 8].to_string());
    w.host_keys(&[(&a, &format!("proc:{PID}")), (&cut, "dotenv")]);
    let checks = w.checks();
    assert!(checks.iter().all(|c| c.cause.as_deref() != Some("restart_needed")), "{checks:#?}");
    let first = checks.iter().find(|c| c.status == Fail).unwrap();
    assert_eq!((first.id.as_str(), first.cause.as_deref()), ("credential.stale-process", Some("key_truncated")), "the file is the first thing to look at");
    assert!(first.summary.contains("do not restart"), "{}", first.summary);
}

fn run_table(rows: &[Row]) {
    let mut failures = Vec::new();
    for row in rows {
        let mut w = World::healthy();
        (row.setup)(&mut w);
        let checks = w.checks();
        for (id, status, cause) in row.expect {
            match checks.iter().find(|c| c.id == *id) {
                None => failures.push(format!("{}: no check {id} in {:?}", row.name, checks.iter().map(|c| c.id.as_str()).collect::<Vec<_>>())),
                Some(c) if (c.status, c.cause.as_deref()) != (*status, *cause) => {
                    failures.push(format!("{}: {id} is ({:?}, {:?}), want ({status:?}, {cause:?}): {}", row.name, c.status, c.cause, c.summary))
                }
                Some(c) => {
                    // A cause always comes with its fix; a passing check has neither.
                    assert_eq!(c.fix.is_some(), c.cause.is_some(), "{}: {c:#?}", row.name);
                    let json = serde_json::to_string(c).unwrap_or_default();
                    for v in [&w.k.active, &w.k.retired, &w.k.unknown, &w.k.other, &w.k.admin] {
                        assert!(!json.contains(&v[12..40]), "{}: a key in {id}", row.name);
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} row(s) failed:\n{}", failures.len(), failures.join("\n"));
}

// ---- the healthy world: every domain's pass case ------------------------------------------

/// Every check of the healthy world, in order, with its status.
const HEALTHY: &[(&str, Domain, Status)] = &[
    ("credential.keychain", Domain::Credential, Pass),
    ("credential.resolved", Domain::Credential, Pass),
    ("credential.stale-process", Domain::Credential, Pass),
    ("credential.matches-keychain.main", Domain::Credential, Pass),
    ("account.auth", Domain::AccountContext, Pass),
    ("account.workspace", Domain::AccountContext, Pass),
    ("account.admin", Domain::AccountContext, Pass),
    ("account.rotation-due", Domain::AccountContext, Pass),
    ("account.billing", Domain::AccountContext, Skip),
    ("protocol.clobbered", Domain::Protocol, Pass),
    ("protocol.last-good", Domain::Protocol, Pass),
    ("protocol.config", Domain::Protocol, Pass),
    ("protocol.api", Domain::Protocol, Pass),
    ("protocol.base-url", Domain::Protocol, Pass),
    ("protocol.model", Domain::Protocol, Pass),
    ("protocol.request-shape", Domain::Protocol, Pass),
    ("throughput.429", Domain::Throughput, Pass),
    ("throughput.529", Domain::Throughput, Pass),
    ("throughput.headroom", Domain::Throughput, Pass),
    ("boundary.foreign-keys", Domain::Boundary, Pass),
    ("host.resources", Domain::Boundary, Pass),
    ("host.file-modes", Domain::Boundary, Pass),
    ("host.file-owners", Domain::Boundary, Pass),
    ("host.shell-history", Domain::Boundary, Pass),
    ("host.world-readable", Domain::Boundary, Pass),
    ("host.openclaw-leftovers", Domain::Boundary, Pass),
];

#[test]
fn healthy_world_passes_every_domain_in_order() {
    let w = World::healthy();
    let r = w.report();
    let got: Vec<(&str, Domain, Status)> = r.checks.iter().map(|c| (c.id.as_str(), c.domain, c.status)).collect();
    assert_eq!(got, HEALTHY, "{:#?}", r.checks);
    assert!(r.checks.iter().all(|c| c.cause.is_none() && c.fix.is_none() && c.remedy.is_none()));
    assert_eq!(r.first_failing_domain, None);
    assert_eq!(r.status, Pass);
    let ff = &r.facts;
    assert_eq!(ff.owner, "acme");
    assert!(ff.host_ok && ff.api_ok);
    assert_eq!(ff.host_fingerprints, vec![keyfmt::fingerprint(&w.k.active)]);
    assert_eq!((ff.organization_id.as_deref(), ff.workspace_id.as_deref()), (Some(ORG), Some(WS)));
    assert_eq!((ff.errors_429_1h, ff.errors_429_24h, ff.errors_529_1h), (0, 0, 0));
}

/// The pass cases of the optional checks (each domain's passes beyond the healthy world's).
fn optional_checks_pass_rows() -> Vec<Row> {
    vec![
        Row { name: "billing probe succeeds", setup: |w| w.probes.billing = Some(Ok(probe(BILLING, 200))), expect: &[("account.billing", Pass, None)] },
        Row {
            name: "probe from the host in the expected account",
            setup: |w| {
                w.opts.host_probe = true;
                let l = format!("hprobe|{}|200|{ORG}|{WS}|req_host|||", keyfmt::fingerprint(&w.k.active));
                w.lines().push(l);
            },
            expect: &[("account.from-host", Pass, None)],
        },
        Row {
            name: "stability-first instance without beta headers",
            setup: |w| w.ctx.instance.tags = vec!["stability-first".into()],
            expect: &[("protocol.stability", Pass, None)],
        },
        Row {
            name: "overridden base URL with api anthropic-messages",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://proxy.example.com\", api: \"anthropic-messages\" } } } }");
            },
            expect: &[("protocol.api", Pass, None), ("protocol.base-url", Pass, None), ("protocol.model", Skip, None)],
        },
        Row {
            name: "each agent its own profile with the current key",
            setup: |w| {
                let a = w.k.active.clone();
                w.ctx.instance.agents = vec!["main".into(), "ops".into()];
                w.lines().push("agent|ops|1".into());
                w.lines().push(key_line(&a, "profile:ops"));
            },
            expect: &[("credential.resolved", Pass, None), ("credential.matches-keychain.main", Pass, None), ("credential.matches-keychain.ops", Pass, None)],
        },
        Row {
            name: "the shared profile store (OpenClaw 2026.9) holds the current key",
            setup: |w| {
                let a = w.k.active.clone();
                w.host_keys(&[(&a, "shared_profile")]);
            },
            expect: &[("credential.resolved", Pass, None), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "a literal key in openclaw.json, nothing in the env",
            setup: |w| {
                let a = w.k.active.clone();
                w.drop_lines("proc").host_keys(&[(&a, "config:1")]);
                w.config("{ meta: {}, models: { providers: { anthropic: { apiKey: \"__CK_KEY_1__\" } } }, agents: { defaults: { model: \"anthropic/claude-sonnet-5\" } } }");
            },
            expect: &[("credential.resolved", Pass, None), ("credential.matches-keychain.main", Pass, None)],
        },
    ]
}

#[test]
fn optional_checks_pass() {
    run_table(&optional_checks_pass_rows());
}

// ---- credential -----------------------------------------------------------------------------

fn runner_failure(w: &mut World, e: RunnerError) {
    w.host = Host::Failed(HostError::Runner(e));
}

fn credential_table_rows() -> Vec<Row> {
    vec![
        Row {
            name: "no keychain copy of the active key",
            setup: |w| {
                w.ctx.active_secret = None;
                w.probes = Probes::default();
            },
            expect: &[("credential.keychain", Fail, Some("no_keychain_key")), ("account.auth", Skip, None)],
        },
        Row {
            name: "no active key in the inventory",
            setup: |w| w.ctx.keys.retain(|k| k.status != KeyStatus::Active || k.instance.as_deref() != Some(INSTANCE)),
            expect: &[("credential.keychain", Fail, Some("no_keychain_key"))],
        },
        Row {
            name: "an agent with no credential at all",
            setup: |w| {
                w.drop_lines("key|");
            },
            expect: &[("credential.resolved", Fail, Some("agent_no_credential"))],
        },
        Row {
            name: "the key on the host is cut short",
            setup: |w| {
                let cut = w.k.active[..w.k.active.len() - 8].to_string();
                w.host_keys(&[(&cut, &format!("proc:{PID}")), (&cut, "dotenv")]);
            },
            expect: &[("credential.stale-process", Pass, None), ("credential.matches-keychain.main", Fail, Some("key_truncated"))],
        },
        Row {
            name: "a retired version of the instance's key deployed",
            setup: |w| {
                let r = w.k.retired.clone();
                w.host_keys(&[(&r, &format!("proc:{PID}")), (&r, "dotenv")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("retired_key_deployed"))],
        },
        Row {
            name: "a key nobody knows",
            setup: |w| {
                let u = w.k.unknown.clone();
                w.host_keys(&[(&u, "dotenv")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("key_mismatch"))],
        },
        Row {
            name: "the unit's Environment= sets an unknown key",
            setup: |w| {
                let (a, u) = (w.k.active.clone(), w.k.unknown.clone());
                w.host_keys(&[(&u, "unit_env"), (&a, "dotenv")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("key_in_unit_environment"))],
        },
        Row {
            name: "the gateway runs the key its unit's Environment= sets",
            setup: |w| {
                let (a, u) = (w.k.active.clone(), w.k.unknown.clone());
                w.host_keys(&[(&u, &format!("proc:{PID}")), (&u, "unit_env"), (&a, "dotenv")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("key_in_unit_environment"))],
        },
        Row {
            name: "the unit's Environment= sets a retired key",
            setup: |w| {
                let (a, r) = (w.k.active.clone(), w.k.retired.clone());
                w.host_keys(&[(&r, "unit_env"), (&a, "dotenv")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("key_in_unit_environment"))],
        },
        Row {
            name: "the key of another instance wins",
            setup: |w| {
                let o = w.k.other.clone();
                w.host_keys(&[(&o, "unit_env")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("key_of_other_instance")), ("boundary.foreign-keys", Fail, Some("key_of_other_instance"))],
        },
        Row {
            name: "an auth profile beats the current key in the env",
            setup: |w| {
                let (a, r) = (w.k.active.clone(), w.k.retired.clone());
                w.host_keys(&[(&a, &format!("proc:{PID}")), (&a, "dotenv"), (&r, "profile:main")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("auth_profile_overrides_env"))],
        },
        Row {
            name: "the shared profile store beats the env",
            setup: |w| {
                let (a, u) = (w.k.active.clone(), w.k.unknown.clone());
                w.host_keys(&[(&a, "dotenv"), (&u, "shared_profile")]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("auth_profile_overrides_env"))],
        },
        Row {
            name: "the running gateway has the old key, the file the current one",
            setup: |w| {
                let (a, r) = (w.k.active.clone(), w.k.retired.clone());
                w.host_keys(&[(&r, &format!("proc:{PID}")), (&a, "dotenv")]);
            },
            expect: &[("credential.stale-process", Fail, Some("restart_needed")), ("credential.matches-keychain.main", Fail, Some("restart_needed"))],
        },
        Row {
            name: "the running gateway's key differs from a file that is not current either",
            setup: |w| {
                let (r, u) = (w.k.retired.clone(), w.k.unknown.clone());
                w.host_keys(&[(&r, &format!("proc:{PID}")), (&u, "dotenv")]);
            },
            expect: &[("credential.stale-process", Warn, Some("restart_needed")), ("credential.matches-keychain.main", Fail, Some("retired_key_deployed"))],
        },
        Row {
            name: "the secret-file method: a file SecretRef resolves to the key in its file",
            setup: |w| {
                let a = w.k.active.clone();
                w.config(SECRET_FILE_CONFIG);
                w.host_keys(&[(&a, "secret_file:/home/ckh1/.openclaw/secrets/anthropic-api-key")]);
            },
            expect: &[("credential.resolved", Pass, None), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "the secret-file method with a ~/ path and a retired key in the file",
            setup: |w| {
                let r = w.k.retired.clone();
                w.config(&SECRET_FILE_CONFIG.replace("/home/ckh1/.openclaw/secrets", "~/.openclaw/secrets"));
                w.host_keys(&[(&r, "secret_file:/home/ckh1/.openclaw/secrets/anthropic-api-key")]);
            },
            expect: &[("credential.resolved", Pass, None), ("credential.matches-keychain.main", Fail, Some("retired_key_deployed"))],
        },
        Row {
            name: "a secret file no SecretRef names is not a credential",
            setup: |w| {
                let a = w.k.active.clone();
                w.host_keys(&[(&a, "secret_file:/home/ckh1/.openclaw/secrets/anthropic-api-key")]);
            },
            expect: &[("credential.resolved", Fail, Some("agent_no_credential"))],
        },
        Row {
            name: "the file holds the key cut short, the running gateway the full one: redeploy, never restart",
            setup: |w| {
                let (a, cut) = (w.k.active.clone(), w.k.active[..w.k.active.len() - 8].to_string());
                w.host_keys(&[(&a, &format!("proc:{PID}")), (&cut, "dotenv")]);
            },
            expect: &[("credential.stale-process", Fail, Some("key_truncated")), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "the file holds a retired key, the running gateway the current one",
            setup: |w| {
                let (a, r) = (w.k.active.clone(), w.k.retired.clone());
                w.host_keys(&[(&a, &format!("proc:{PID}")), (&r, "dotenv")]);
            },
            expect: &[("credential.stale-process", Fail, Some("retired_key_deployed"))],
        },
        Row {
            name: "the file holds another instance's key, the running gateway the current one",
            setup: |w| {
                let (a, o) = (w.k.active.clone(), w.k.other.clone());
                w.host_keys(&[(&a, &format!("proc:{PID}")), (&o, "dotenv")]);
            },
            expect: &[("credential.stale-process", Fail, Some("key_of_other_instance"))],
        },
        Row {
            name: "the file holds an unknown key, the running gateway the current one",
            setup: |w| {
                let (a, u) = (w.k.active.clone(), w.k.unknown.clone());
                w.host_keys(&[(&a, &format!("proc:{PID}")), (&u, "dotenv")]);
            },
            expect: &[("credential.stale-process", Fail, Some("key_mismatch"))],
        },
        Row {
            name: ".env cut short and changed after the gateway started: the file's problem, not a restart",
            setup: |w| {
                let cut = w.k.active[..w.k.active.len() - 8].to_string();
                w.host_keys(&[(&cut, "dotenv")]);
                w.set_lines("stat|env|", [format!("stat|env|600|1001|ckh1|{}|/home/ckh1/.openclaw/.env", STARTED + 60)]);
            },
            expect: &[("credential.matches-keychain.main", Fail, Some("key_truncated"))],
        },
        Row {
            name: ".env changed after the gateway started (OpenClaw reads it in-process)",
            setup: |w| {
                let a = w.k.active.clone();
                w.host_keys(&[(&a, "dotenv")]);
                w.set_lines("stat|env|", [format!("stat|env|600|1001|ckh1|{}|/home/ckh1/.openclaw/.env", STARTED + 60)]);
            },
            expect: &[("credential.stale-process", Warn, Some("restart_needed")), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "the report is cut off",
            setup: |w| w.host = Host::Raw(b"CLAWKEEP-FACTS 1 guessed\nuser|x|1\n".to_vec(), hostfacts::nonce()),
            expect: &[("credential.host", Fail, Some("host_unreadable")), ("host.baseline", Skip, None), ("protocol.config", Skip, None)],
        },
        Row {
            name: "the report is cut off (read error)",
            setup: |w| w.host = Host::Failed(HostError::Report(FactsError::Truncated)),
            expect: &[("credential.host", Fail, Some("host_unreadable"))],
        },
        Row {
            name: "the transport failed otherwise",
            setup: |w| runner_failure(w, RunnerError::Other("the host facts output was cut".into())),
            expect: &[("credential.host", Fail, Some("host_unreadable"))],
        },
        Row {
            name: "the host key is not pinned",
            setup: |w| runner_failure(w, RunnerError::HostKeyUnknown { instance: INSTANCE.into(), presented: Some("SHA256:presented".into()) }),
            expect: &[("credential.host", Fail, Some("host_key_untrusted"))],
        },
        Row {
            name: "the host presents another key",
            setup: |w| {
                runner_failure(
                    w,
                    RunnerError::HostKeyMismatch { instance: INSTANCE.into(), address: "127.0.1.1:22".into(), pinned: "SHA256:pinned".into(), presented: "SHA256:other".into() },
                )
            },
            expect: &[("credential.host", Fail, Some("host_key_mismatch"))],
        },
        Row {
            name: "nothing answers SSH",
            setup: |w| runner_failure(w, RunnerError::Connect { instance: INSTANCE.into(), address: "127.0.1.1:22".into(), message: "connection refused".into() }),
            expect: &[("credential.host", Fail, Some("host_unreachable"))],
        },
        Row {
            name: "SSH times out",
            setup: |w| runner_failure(w, RunnerError::Timeout { instance: INSTANCE.into(), address: "127.0.1.1:22".into(), secs: 10 }),
            expect: &[("credential.host", Fail, Some("host_unreachable"))],
        },
        Row {
            name: "the SSH login is refused",
            setup: |w| runner_failure(w, RunnerError::Auth { instance: INSTANCE.into(), message: "permission denied (publickey)".into() }),
            expect: &[("credential.host", Fail, Some("ssh_auth_refused"))],
        },
        Row {
            name: "--no-host",
            setup: |w| w.host = Host::NotChecked,
            expect: &[("credential.host", Skip, None), ("protocol.config", Skip, None), ("throughput.429", Skip, None)],
        },
    ]
}

#[test]
fn credential_table() {
    run_table(&credential_table_rows());
}

/// A host failure's fix and remedy name what the runner saw (the presented fingerprint).
#[test]
fn host_failures_carry_their_specific_fix_and_remedy() {
    let mut w = World::healthy();
    runner_failure(
        &mut w,
        RunnerError::HostKeyMismatch { instance: INSTANCE.into(), address: "127.0.1.1:22".into(), pinned: "SHA256:pinned".into(), presented: "SHA256:other".into() },
    );
    let c = w.checks().into_iter().find(|c| c.id == "credential.host").unwrap_or_else(|| unreachable!());
    assert_eq!(c.remedy, Some(Remedy::TrustHost { instance: INSTANCE.into(), fingerprint: Some("SHA256:other".into()), replace: true }));
    assert!(c.fix.as_deref().is_some_and(|f| f.contains("SHA256:other") && f.contains("SHA256:pinned")), "{c:#?}");
    assert_eq!(c.evidence[0].label, "host_key_mismatch");
    // a cut report keeps the cause's generic fix
    w.host = Host::Failed(HostError::Report(FactsError::NoHeader));
    let c = w.checks().into_iter().find(|c| c.id == "credential.host").unwrap_or_else(|| unreachable!());
    assert_eq!(c.fix.as_deref(), Some(Cause::HostUnreadable.fix()));
    assert_eq!(c.evidence[0].label, "facts_no_header");
    // the remedies of the credential causes Clawkeep can act on
    let mut w = World::healthy();
    let cut = w.k.active[..60].to_string();
    w.host_keys(&[(&cut, "dotenv")]);
    let c = w.checks().into_iter().find(|c| c.id == "credential.matches-keychain.main").unwrap_or_else(|| unreachable!());
    assert_eq!(c.remedy, Some(Remedy::Deploy { instance: INSTANCE.into() }));
    assert!(c.evidence.iter().any(|e| e.label == "proof"), "{c:#?}");
}

/// Truncation is proven by the gathering, which has the keychain copy: only sightings whose
/// fingerprint is that of the key's prefix of their length count, and without a keychain copy
/// nothing is proven.
#[test]
fn truncation_proof_needs_the_keychain_copy() {
    let mut w = World::healthy();
    let cut = w.k.active[..60].to_string();
    // a sighting that claims the prefix's length but has another key's fingerprint
    let forged = format!("key|60|{}|{}|world:/tmp/x", keyfmt::hint(&cut), keyfmt::fingerprint(&w.k.unknown));
    w.host_keys(&[(&cut, "dotenv")]);
    w.lines().push(forged);
    let g = w.gathered();
    assert_eq!(g.keychain.truncated, vec![(60, keyfmt::fingerprint(&cut))]);
    w.ctx.active_secret = None;
    let g = w.gathered();
    assert!(g.keychain.truncated.is_empty() && !g.keychain.active);
    let c = w.checks().into_iter().find(|c| c.id == "credential.matches-keychain.main").unwrap_or_else(|| unreachable!());
    assert_eq!(c.cause.as_deref(), Some("key_mismatch"));
}

// ---- account context ------------------------------------------------------------------------

fn set_admin_status(w: &mut World, status: &str) {
    let k = admin_key(&w.k, status);
    w.probes.admin = Some(Ok((probe("GET /v1/organizations/api_keys/apikey_acme", 200), Some(k))));
}

fn models_401(w: &mut World) {
    w.probes = Probes { models: Some(Ok(failed(MODELS, 401, "authentication_error", "invalid x-api-key"))), admin: None, ..Probes::default() };
}

/// A budget's status this month as `cost::budget` judges it (the checklist only reads it).
fn budget_status(scope: BudgetScope, name: &str, state: BudgetState, spent: f64, forecast: f64, crossed: Option<u32>) -> BudgetStatus {
    let pico = |usd: f64| (usd * 1e12) as i64;
    BudgetStatus {
        budget: Budget { scope, name: name.into(), monthly_pico: pico(100.0), monthly_usd: 100.0, warn_at: vec![80, 100] },
        month: "2026-03".into(),
        spent_usd: spent,
        spent_pico: pico(spent),
        forecast_usd: forecast,
        forecast_pico: pico(forecast),
        percent: spent,
        crossed,
        state,
        unpriced_models: vec![],
    }
}

/// The inventory's active key (the first) expires `days` from now; the Admin API did not answer
/// for it.
fn expires_in(w: &mut World, days: i64) {
    w.ctx.keys[0].expires_at = Some(now() + Duration::days(days));
    w.probes.admin = None;
}

fn account_table_rows() -> Vec<Row> {
    vec![
        Row {
            name: "the instance's budget is over this month",
            setup: |w| {
                w.ctx.budgets = vec![
                    budget_status(BudgetScope::Owner, "acme", BudgetState::Ok, 20.0, 40.0, None),
                    budget_status(BudgetScope::Instance, INSTANCE, BudgetState::Over, 120.0, 200.0, Some(100)),
                ]
            },
            expect: &[("account.budget", Warn, Some("budget_over")), ("account.auth", Pass, None)],
        },
        Row {
            name: "the owner's budget is forecast over at this month's run rate",
            setup: |w| w.ctx.budgets = vec![budget_status(BudgetScope::Owner, "acme", BudgetState::ForecastOver, 60.0, 130.0, None)],
            expect: &[("account.budget", Warn, Some("budget_forecast_over"))],
        },
        Row {
            name: "a budget's warning threshold is crossed",
            setup: |w| w.ctx.budgets = vec![budget_status(BudgetScope::Instance, INSTANCE, BudgetState::Warn, 85.0, 95.0, Some(80))],
            expect: &[("account.budget", Warn, Some("budget_threshold"))],
        },
        Row {
            name: "within budget",
            setup: |w| w.ctx.budgets = vec![budget_status(BudgetScope::Owner, "acme", BudgetState::Ok, 10.0, 30.0, None)],
            expect: &[("account.budget", Pass, None)],
        },
        Row {
            name: "the inventory says the key expires in a few days (no Admin API answer)",
            setup: |w| expires_in(w, 5),
            expect: &[("account.expiry", Warn, Some("key_expiring_soon"))],
        },
        Row { name: "the inventory says the key has expired (no Admin API answer)", setup: |w| expires_in(w, -1), expect: &[("account.expiry", Fail, Some("key_expired"))] },
        Row { name: "the inventory's expiry is far off", setup: |w| expires_in(w, 60), expect: &[("account.expiry", Pass, None)] },
        Row {
            name: "401 without the Admin API's view",
            setup: models_401,
            expect: &[("account.auth", Fail, Some("key_invalid")), ("protocol.model", Skip, None), ("protocol.request-shape", Skip, None)],
        },
        Row {
            name: "401, the Admin API says inactive",
            setup: |w| {
                models_401(w);
                set_admin_status(w, "inactive");
            },
            expect: &[("account.auth", Fail, Some("key_inactive")), ("account.admin", Fail, Some("key_inactive"))],
        },
        Row {
            name: "401, the Admin API says expired",
            setup: |w| {
                models_401(w);
                set_admin_status(w, "expired");
            },
            expect: &[("account.auth", Fail, Some("key_expired")), ("account.admin", Fail, Some("key_expired"))],
        },
        Row {
            name: "401, the Admin API says archived",
            setup: |w| {
                models_401(w);
                set_admin_status(w, "archived");
            },
            expect: &[("account.auth", Fail, Some("key_archived")), ("account.admin", Fail, Some("key_archived"))],
        },
        Row {
            name: "the Admin API reports an unknown status",
            setup: |w| set_admin_status(w, "suspended"),
            expect: &[("account.auth", Pass, None), ("account.admin", Fail, Some("key_invalid"))],
        },
        Row {
            name: "the key expires in a few days",
            setup: |w| {
                let mut k = admin_key(&w.k, "active");
                k.expires_at = Some((now() + Duration::days(3)).to_rfc3339());
                w.probes.admin = Some(Ok((probe("GET /v1/organizations/api_keys/apikey_acme", 200), Some(k))));
            },
            expect: &[("account.admin", Warn, Some("key_expiring_soon"))],
        },
        Row {
            name: "the key is past its rotation date under its policy",
            setup: |w| w.ctx.rotation_due = Some(RotationDue { due: now() - Duration::days(5), basis: "max-age", max_age_days: 90, policy: "owner acme".into() }),
            expect: &[("account.rotation-due", Warn, Some("key_overdue")), ("account.auth", Pass, None)],
        },
        Row {
            name: "the key is due for rotation today",
            setup: |w| w.ctx.rotation_due = Some(RotationDue { due: now(), basis: "expiry", max_age_days: 90, policy: "default".into() }),
            expect: &[("account.rotation-due", Warn, Some("key_overdue"))],
        },
        Row {
            name: "the key authenticates in another workspace",
            setup: |w| w.probes.models = Some(Ok(models_ok(ORG, "wrkspc_other"))),
            expect: &[("account.auth", Pass, None), ("account.workspace", Fail, Some("workspace_mismatch"))],
        },
        Row {
            name: "the Admin API places the key in another workspace",
            setup: |w| {
                let mut k = admin_key(&w.k, "active");
                k.workspace_id = Some("wrkspc_other".into());
                w.probes.admin = Some(Ok((probe("GET /v1/organizations/api_keys/apikey_acme", 200), Some(k))));
            },
            expect: &[("account.admin", Fail, Some("workspace_mismatch"))],
        },
        Row {
            name: "the key authenticates in another organization",
            setup: |w| w.probes.models = Some(Ok(models_ok("org_other", "wrkspc_other"))),
            expect: &[("account.workspace", Fail, Some("org_mismatch"))],
        },
        Row {
            name: "no expected org or workspace",
            setup: |w| {
                w.ctx.instance.expected_org_id = None;
                w.ctx.instance.expected_workspace_id = None;
                w.ctx.keys.iter_mut().for_each(|k| k.workspace_id = None);
            },
            expect: &[("account.workspace", Skip, None), ("account.admin", Pass, None)],
        },
        Row {
            name: "identity-linked key without the workspace header",
            setup: |w| {
                w.probes =
                    Probes { models: Some(Ok(failed(MODELS, 400, "invalid_request_error", "anthropic-workspace-id is required for identity-linked keys"))), ..Probes::default() }
            },
            expect: &[("account.auth", Fail, Some("workspace_header_required"))],
        },
        Row {
            name: "the workspace header names no workspace the key can use",
            setup: |w| w.probes = Probes { models: Some(Ok(failed(MODELS, 400, "invalid_request_error", "invalid anthropic-workspace-id header"))), ..Probes::default() },
            expect: &[("account.auth", Fail, Some("workspace_not_found"))],
        },
        Row {
            name: "credit too low (the opt-in billing probe)",
            setup: |w| {
                w.probes.billing =
                    Some(Ok(failed(BILLING, 400, "invalid_request_error", "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing.")))
            },
            expect: &[("account.auth", Pass, None), ("account.billing", Fail, Some("credit_too_low"))],
        },
        Row {
            name: "organization disabled (seen by the models probe)",
            setup: |w| w.probes = Probes { models: Some(Ok(failed(MODELS, 400, "invalid_request_error", "This organization has been disabled."))), ..Probes::default() },
            expect: &[("account.auth", Fail, Some("org_disabled"))],
        },
        Row {
            name: "organization disabled (seen by count_tokens)",
            setup: |w| w.probes.count = Some(Ok(failed(COUNT, 400, "invalid_request_error", "This organization has been disabled."))),
            expect: &[("account.billing", Fail, Some("org_disabled"))],
        },
        Row {
            name: "an OAuth token stored as the instance key",
            setup: |w| {
                models_401(w);
                if let Some(k) = w.ctx.keys.iter_mut().find(|k| k.instance.as_deref() == Some(INSTANCE) && k.status == KeyStatus::Active) {
                    k.kind = KeyKind::Oauth;
                }
            },
            expect: &[("account.auth", Fail, Some("oauth_token_as_key"))],
        },
        Row {
            name: "401 that names OAuth",
            setup: |w| w.probes = Probes { models: Some(Ok(failed(MODELS, 401, "authentication_error", "OAuth authentication is currently not supported."))), ..Probes::default() },
            expect: &[("account.auth", Fail, Some("oauth_token_as_key"))],
        },
        Row {
            name: "an Admin key stored as the instance key",
            setup: |w| {
                models_401(w);
                if let Some(k) = w.ctx.keys.iter_mut().find(|k| k.instance.as_deref() == Some(INSTANCE) && k.status == KeyStatus::Active) {
                    k.kind = KeyKind::Admin;
                }
            },
            expect: &[("account.auth", Fail, Some("admin_key_as_key"))],
        },
        Row {
            name: "403 from the API",
            setup: |w| {
                w.probes = Probes {
                    models: Some(Ok(failed(MODELS, 403, "permission_error", "Your API key does not have permission to use the specified resource."))),
                    ..Probes::default()
                }
            },
            expect: &[("account.auth", Fail, Some("permission_denied"))],
        },
        Row {
            name: "the API cannot be reached from here",
            setup: |w| w.probes = Probes { models: Some(Err("cannot reach http://127.0.0.1:1: connection refused".into())), ..Probes::default() },
            expect: &[("account.auth", Fail, Some("api_unreachable"))],
        },
        Row {
            name: "--no-api",
            setup: |w| {
                w.opts.skip_api = true;
                w.probes = Probes::default();
            },
            expect: &[("account.auth", Skip, None), ("account.admin", Skip, None), ("throughput.headroom", Skip, None)],
        },
        Row {
            name: "no admin key stored",
            setup: |w| {
                w.ctx.admin_secret = None;
                w.probes.admin = None;
            },
            expect: &[("account.admin", Skip, None)],
        },
        Row {
            name: "the Admin API cannot find the key",
            setup: |w| w.probes.admin = Some(Ok((probe("GET /v1/organizations/api_keys", 200), None))),
            expect: &[("account.admin", Warn, None)],
        },
        Row {
            name: "the Admin API refuses",
            setup: |w| w.probes.admin = Some(Ok((failed("GET /v1/organizations/api_keys", 401, "authentication_error", "invalid x-api-key"), None))),
            expect: &[("account.admin", Warn, None)],
        },
    ]
}

#[test]
fn account_table() {
    run_table(&account_table_rows());
}

fn host_probe(w: &mut World, line_tail: &str) {
    w.opts.host_probe = true;
    let l = format!("hprobe|{}|{line_tail}", keyfmt::fingerprint(&w.k.active));
    w.lines().push(l);
}

fn from_host_table_rows() -> Vec<Row> {
    vec![
        Row {
            name: "the host cannot reach the API",
            setup: |w| host_probe(w, "0||||||Could not resolve host: api.anthropic.com"),
            expect: &[("account.from-host", Fail, Some("host_cannot_reach_api"))],
        },
        Row {
            name: "from the host, another organization",
            setup: |w| host_probe(w, "200|org_other|wrkspc_other|req_h|||"),
            expect: &[("account.from-host", Fail, Some("org_mismatch"))],
        },
        Row {
            name: "from the host, another workspace",
            setup: |w| host_probe(w, &format!("200|{ORG}|wrkspc_other|req_h|||")),
            expect: &[("account.from-host", Fail, Some("workspace_mismatch"))],
        },
        Row {
            name: "from the host, 403 (an egress proxy's policy)",
            setup: |w| host_probe(w, "403|||req_h|permission_error|not allowed|"),
            expect: &[("account.from-host", Fail, Some("permission_denied"))],
        },
        Row { name: "from the host, 529", setup: |w| host_probe(w, "529|||req_h|overloaded_error|Overloaded|"), expect: &[("account.from-host", Warn, Some("overloaded"))] },
        Row { name: "no curl on the host", setup: |w| host_probe(w, "0||||no_curl||"), expect: &[("account.from-host", Skip, None)] },
        Row { name: "the host sent no probe", setup: |w| w.opts.host_probe = true, expect: &[("account.from-host", Skip, None)] },
    ]
}

#[test]
fn from_host_table() {
    run_table(&from_host_table_rows());
}

// ---- protocol -------------------------------------------------------------------------------

fn protocol_table_rows() -> Vec<Row> {
    vec![
        Row {
            name: "openclaw.json is not JSON5",
            setup: |w| {
                w.config("{ meta: {}, agents: ");
            },
            expect: &[("protocol.config", Fail, Some("config_unreadable")), ("protocol.clobbered", Pass, None)],
        },
        Row {
            name: "openclaw.json missing",
            setup: |w| {
                w.drop_lines("cfg|").set_lines("config|", ["config|missing".to_string()]);
            },
            expect: &[("protocol.config", Fail, Some("config_unreadable"))],
        },
        Row {
            name: "an overridden baseUrl with the OpenAI api",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://proxy.example.com\", api: \"openai-completions\" } } } }");
            },
            expect: &[("protocol.api", Fail, Some("wrong_api"))],
        },
        Row {
            name: "an overridden baseUrl without api",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://proxy.example.com\" } } } }");
            },
            expect: &[("protocol.api", Fail, Some("wrong_api"))],
        },
        Row {
            name: "double /v1",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://api.anthropic.com/v1/v1\", api: \"anthropic-messages\" } } } }");
            },
            expect: &[("protocol.base-url", Fail, Some("base_url_invalid"))],
        },
        Row {
            name: "the baseUrl includes /v1/messages",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://api.anthropic.com/v1/messages\" } } } }");
            },
            expect: &[("protocol.base-url", Fail, Some("base_url_invalid"))],
        },
        Row {
            name: "plain http to a remote host",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"http://proxy.example.com\", api: \"anthropic-messages\" } } } }");
            },
            expect: &[("protocol.base-url", Fail, Some("base_url_invalid"))],
        },
        Row {
            name: "a trailing /v1 on OpenClaw 2026.9",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://api.anthropic.com/v1\", api: \"anthropic-messages\" } } } }");
            },
            expect: &[("protocol.base-url", Warn, Some("base_url_v1_version_dependent"))],
        },
        Row {
            name: "a trailing /v1 on OpenClaw 2026.2",
            setup: |w| {
                w.config("{ meta: {}, models: { providers: { anthropic: { baseUrl: \"https://api.anthropic.com/v1\", api: \"anthropic-messages\" } } } }");
                w.set_lines("openclaw|", ["openclaw|OpenClaw 2026.2.1 (abc1234)".to_string()]);
            },
            expect: &[("protocol.base-url", Fail, Some("base_url_invalid"))],
        },
        Row {
            name: "the configured model does not exist",
            setup: |w| {
                w.probes.model = Some(Ok(failed(MODEL, 404, "not_found_error", "model: claude-sonnet-9")));
                w.probes.count = Some(Ok(failed(COUNT, 404, "not_found_error", "model: claude-sonnet-9")));
            },
            expect: &[("protocol.model", Fail, Some("model_not_found")), ("protocol.request-shape", Skip, None)],
        },
        Row {
            name: "a 404 without a model message on the model probe",
            setup: |w| w.probes.model = Some(Ok(failed(MODEL, 404, "not_found_error", "Not Found"))),
            expect: &[("protocol.model", Fail, Some("model_not_found"))],
        },
        Row {
            name: "count_tokens rejects the request",
            setup: |w| w.probes.count = Some(Ok(failed(COUNT, 400, "invalid_request_error", "messages: field required"))),
            expect: &[("protocol.request-shape", Fail, Some("request_rejected"))],
        },
        Row {
            name: "the models probe itself 404s (wrong base URL)",
            setup: |w| w.probes = Probes { models: Some(Ok(failed(MODELS, 404, "not_found_error", "Not Found"))), ..Probes::default() },
            expect: &[("account.auth", Fail, Some("base_url_invalid"))],
        },
        Row {
            name: "the last-good config holds the current key",
            setup: |w| {
                let l = key_line(&w.k.active.clone(), "lastgood");
                w.lines().push(l);
            },
            expect: &[("protocol.last-good", Pass, None), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "the last-good config still holds the retired key",
            setup: |w| {
                let l = key_line(&w.k.retired.clone(), "lastgood");
                w.lines().push(l);
            },
            expect: &[("protocol.last-good", Warn, Some("stale_last_good")), ("credential.matches-keychain.main", Pass, None), ("boundary.foreign-keys", Pass, None)],
        },
        Row {
            name: "clobbered config files",
            setup: |w| w.lines().push("clobbered|openclaw.json.clobbered.2026-11-01T00:00:00Z".into()),
            expect: &[("protocol.clobbered", Warn, Some("config_clobbered"))],
        },
        Row {
            name: "no meta object",
            setup: |w| {
                w.config("{ agents: { defaults: { model: \"anthropic/claude-sonnet-5\" } } }");
            },
            expect: &[("protocol.config", Warn, Some("config_missing_meta"))],
        },
        Row {
            name: "beta headers on a stability-first instance",
            setup: |w| {
                w.ctx.instance.tags = vec!["stability-first".into()];
                w.config("{ meta: {}, models: { providers: { anthropic: { headers: { \"anthropic-beta\": \"interleaved-thinking-2025-05-14\" } } } } }");
            },
            expect: &[("protocol.stability", Warn, Some("unstable_features"))],
        },
        Row { name: "the model lookup could not run", setup: |w| w.probes.model = Some(Err("timeout".into())), expect: &[("protocol.model", Warn, None)] },
    ]
}

#[test]
fn protocol_table() {
    run_table(&protocol_table_rows());
}

// ---- throughput -----------------------------------------------------------------------------

fn logs(w: &mut World, counts: &str) {
    w.set_lines("logs|", [format!("logs|{counts}")]);
}

/// A configured limit of the Sonnet model group (or token counting), as the Rate Limits API
/// cache holds it: the organisation's (`ws: None`) or a workspace's value with its org limit.
fn configured(group: &str, ws: Option<&str>, limiter: &str, value: u64, source: LimitSource, org_limit: Option<u64>) -> RateLimitEntry {
    RateLimitEntry {
        workspace_id: ws.map(str::to_string),
        rate_limit_id: format!("rl_{group}"),
        group_type: group.into(),
        group_name: (group == "model_group").then(|| "Claude Sonnet".to_string()),
        models: if group == "model_group" { vec!["claude-sonnet-5".into()] } else { vec![] },
        limiter: limiter.into(),
        value,
        org_limit,
        source,
        fetched_at: now() - Duration::hours(1),
    }
}

/// The organisation's configured requests-per-minute limit of the Sonnet group.
fn org_rpm(w: &mut World, rpm: u64) {
    w.ctx.rate_limits.push(configured("model_group", None, "requests_per_minute", rpm, LimitSource::Organization, None));
}

fn throughput_table_rows() -> Vec<Row> {
    vec![
        Row {
            name: "the configured limit is what the probe's headers report",
            setup: |w| org_rpm(w, 100),
            expect: &[("throughput.headroom", Pass, None), ("throughput.configured", Pass, None)],
        },
        Row {
            name: "the API enforces less than the organisation's configured limit",
            setup: |w| org_rpm(w, 1_000),
            expect: &[("throughput.configured", Warn, Some("limit_below_configured"))],
        },
        Row {
            name: "the API enforces less than the workspace's configured limit",
            setup: |w| {
                org_rpm(w, 1_000);
                w.ctx.rate_limits.push(configured("model_group", Some(WS), "requests_per_minute", 500, LimitSource::Workspace, Some(1_000)));
            },
            expect: &[("throughput.configured", Warn, Some("limit_below_configured"))],
        },
        Row {
            name: "429s under a workspace override below the organisation's limit",
            setup: |w| {
                org_rpm(w, 1_000);
                w.ctx.rate_limits.push(configured("model_group", Some(WS), "requests_per_minute", 100, LimitSource::Workspace, Some(1_000)));
                logs(w, "3|5|0|0|0|0|400");
            },
            expect: &[("throughput.429", Warn, Some("rate_limited")), ("throughput.configured", Warn, Some("configured_limit_low"))],
        },
        Row {
            name: "429s earlier today with a small organisation limit",
            setup: |w| {
                w.ctx.rate_limits.push(configured("model_group", None, "requests_per_minute", 50, LimitSource::Organization, None));
                logs(w, "0|4|0|0|0|0|400");
            },
            expect: &[("throughput.429", Warn, Some("rate_limited")), ("throughput.configured", Warn, Some("configured_limit_low"))],
        },
        Row {
            name: "429s with a generous configured limit: the limit is not what is small",
            setup: |w| {
                org_rpm(w, 100);
                logs(w, "3|5|0|0|0|0|400");
            },
            expect: &[("throughput.429", Warn, Some("rate_limited")), ("throughput.configured", Pass, None)],
        },
        Row {
            name: "no configured limit for the probed group",
            setup: |w| w.ctx.rate_limits.push(configured("token_count", None, "requests_per_minute", 100, LimitSource::Organization, None)),
            expect: &[("throughput.configured", Skip, None)],
        },
        Row {
            name: "a few 429s in the last hour",
            setup: |w| logs(w, "3|5|0|0|0|0|400"),
            expect: &[("throughput.429", Warn, Some("rate_limited")), ("throughput.pattern", Warn, Some("fails_after_first_requests"))],
        },
        Row { name: "many 429s in the last hour", setup: |w| logs(w, "12|40|0|0|0|0|400"), expect: &[("throughput.429", Fail, Some("rate_limited"))] },
        Row { name: "429s earlier today only", setup: |w| logs(w, "0|4|0|0|0|0|400"), expect: &[("throughput.429", Warn, Some("rate_limited"))] },
        Row { name: "529s in the last hour", setup: |w| logs(w, "0|0|2|2|0|0|400"), expect: &[("throughput.429", Pass, None), ("throughput.529", Warn, Some("overloaded"))] },
        Row {
            name: "the models probe is throttled",
            setup: |w| w.probes = Probes { models: Some(Ok(failed(MODELS, 429, "rate_limit_error", "Number of requests has exceeded your rate limit"))), ..Probes::default() },
            expect: &[("account.auth", Fail, Some("rate_limited")), ("throughput.probe", Fail, Some("rate_limited"))],
        },
        Row {
            name: "count_tokens overloaded",
            setup: |w| w.probes.count = Some(Ok(failed(COUNT, 529, "overloaded_error", "Overloaded"))),
            expect: &[("throughput.probe", Warn, Some("overloaded"))],
        },
        Row {
            name: "the model probe hits a server error",
            setup: |w| w.probes.model = Some(Ok(failed(MODEL, 500, "api_error", "Internal server error"))),
            expect: &[("protocol.model", Skip, None), ("throughput.probe", Warn, Some("server_error"))],
        },
        Row {
            name: "little rate-limit headroom",
            setup: |w| {
                w.probes.count = Some(Ok(Probe { rate_limit: RateLimit { requests_limit: Some(100), requests_remaining: Some(5), ..Default::default() }, ..probe(COUNT, 200) }))
            },
            expect: &[("throughput.headroom", Warn, Some("low_headroom"))],
        },
        Row {
            name: "no gateway logs",
            setup: |w| {
                w.drop_lines("logs");
            },
            expect: &[("throughput.429", Skip, None)],
        },
    ]
}

#[test]
fn throughput_table() {
    run_table(&throughput_table_rows());
}

/// The configured limit is evidence next to the header values, with its source and age.
#[test]
fn configured_limits_are_evidence_beside_the_headers() {
    let mut w = World::healthy();
    org_rpm(&mut w, 1_000);
    w.ctx.rate_limits.push(configured("model_group", Some(WS), "requests_per_minute", 100, LimitSource::Workspace, Some(1_000)));
    let checks = w.checks();
    let head = checks.iter().find(|c| c.id == "throughput.headroom").unwrap();
    let ev = |c: &CheckResult, label: &str| c.evidence.iter().find(|e| e.label == label).map(|e| e.value.clone());
    assert_eq!(ev(head, "requests remaining").as_deref(), Some("90 / 100"));
    assert_eq!(ev(head, "configured requests_per_minute (Claude Sonnet)").as_deref(), Some("100 requests_per_minute (workspace override; organization 1000)"));
    assert!(ev(head, "configured limits read").is_some());
    // Without the workspace's entries the organisation's apply, and the header is lower.
    w.ctx.rate_limits.retain(|e| e.workspace_id.is_none());
    let conf = w.checks().into_iter().find(|c| c.id == "throughput.configured").unwrap();
    assert!(conf.summary.contains("enforces 100 requests_per_minute"), "{}", conf.summary);
    assert!(conf.summary.contains("below the configured 1000 requests_per_minute (organization)"), "{}", conf.summary);
    // No cached limit (no Admin key): no check at all, as before.
    w.ctx.rate_limits.clear();
    assert!(w.checks().iter().all(|c| c.id != "throughput.configured"));
}

/// "First requests work, later ones fail" says so when earlier runs were green.
#[test]
fn throughput_pattern_reads_the_history() {
    let mut w = World::healthy();
    logs(&mut w, "3|5|0|0|0|0|400");
    let why = |w: &World| w.checks().into_iter().find(|c| c.id == "throughput.pattern").map(|c| c.summary).unwrap_or_default();
    assert!(why(&w).contains("yet requests fail with 429"), "{}", why(&w));
    w.ctx.history.push(CheckRun {
        id: 1,
        instance: INSTANCE.into(),
        started_at: now() - Duration::hours(2),
        status: Pass,
        first_failing_domain: None,
        total_ms: 1,
        host_ms: 1,
        api_ms: 1,
        errors_429_1h: 0,
    });
    assert!(why(&w).contains("earlier checks were green"), "{}", why(&w));
    // the key no longer authenticating: no pattern claim
    models_401(&mut w);
    assert_eq!(why(&w), "");
}

// ---- boundary and host baseline -------------------------------------------------------------

fn boundary_and_baseline_table_rows() -> Vec<Row> {
    vec![
        Row {
            name: "another instance's key in an env file that does not win",
            setup: |w| {
                let (a, o) = (w.k.active.clone(), w.k.other.clone());
                w.host_keys(&[(&a, &format!("proc:{PID}")), (&a, "dotenv"), (&o, "systemd_env")]);
            },
            expect: &[("boundary.foreign-keys", Fail, Some("key_of_other_instance")), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "another instance's key only in shell history (reported there, not as foreign)",
            setup: |w| {
                let o = w.k.other.clone();
                w.lines().push(key_line(&o, "history:/home/ckh1/.bash_history"));
            },
            expect: &[("boundary.foreign-keys", Pass, None), ("host.shell-history", Fail, Some("key_in_shell_history"))],
        },
        Row {
            name: "OpenClaw's auth-profile state is read and nothing is cooling down",
            setup: |w| {
                w.lines().push("authread|shared".into());
                w.lines().push("authstate|shared|openai:default|cooldown|30000|auth".into());
            },
            expect: &[("credential.auth-cooldown", Pass, None)],
        },
        Row {
            name: "the inline key was rejected and OpenClaw disabled it locally",
            setup: |w| {
                w.lines().push("authread|shared".into());
                w.lines().push("authstate|shared|inline-api-key:anthropic|cooldown|59000|auth".into());
            },
            expect: &[("credential.auth-cooldown", Fail, Some("auth_profile_cooldown")), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "a rate-limit cooldown on a profile clears itself: a warning",
            setup: |w| {
                w.lines().push("authread|agent:main".into());
                w.lines().push("authstate|agent:main|anthropic:default|cooldown|20000|rate_limit".into());
            },
            expect: &[("credential.auth-cooldown", Warn, Some("auth_profile_cooldown"))],
        },
        Row {
            name: "the gateway runs in its systemd unit's cgroup",
            setup: |w| {
                w.lines().push("unitpid|4242".into());
                w.lines().push(format!("proccg|{PID}|1"));
            },
            expect: &[("host.gateway-service", Pass, None), ("credential.matches-keychain.main", Pass, None)],
        },
        Row {
            name: "a gateway started by hand beside the unit",
            setup: |w| {
                w.lines().push("unitpid|".into());
                w.lines().push(format!("proccg|{PID}|0"));
            },
            expect: &[("host.gateway-service", Fail, Some("gateway_outside_unit"))],
        },
        Row {
            name: "the env file is readable by others",
            setup: |w| {
                w.set_lines("stat|env|", ["stat|env|644|1001|ckh1|1789000000|/home/ckh1/.openclaw/.env".to_string()]);
            },
            expect: &[("host.file-modes", Fail, Some("file_mode"))],
        },
        Row {
            name: "the state dir is open",
            setup: |w| {
                w.set_lines("stat|state_dir|", ["stat|state_dir|755|1001|ckh1|1789000000|/home/ckh1/.openclaw".to_string()]);
            },
            expect: &[("host.file-modes", Fail, Some("file_mode"))],
        },
        Row {
            name: "a secret file owned by root",
            setup: |w| {
                w.set_lines("stat|config|", ["stat|config|600|0|root|1789000000|/home/ckh1/.openclaw/openclaw.json".to_string()]);
            },
            expect: &[("host.file-owners", Fail, Some("file_owner")), ("host.file-modes", Pass, None)],
        },
        Row {
            name: "the key in shell history",
            setup: |w| {
                let a = w.k.active.clone();
                w.lines().push(key_line(&a, "history:/home/ckh1/.bash_history"));
            },
            expect: &[("host.shell-history", Fail, Some("key_in_shell_history")), ("host.world-readable", Pass, None)],
        },
        Row {
            name: "a key in a world-readable file",
            setup: |w| {
                let u = w.k.unknown.clone();
                w.lines().push(key_line(&u, "world:/tmp/notes.txt"));
            },
            expect: &[("host.world-readable", Fail, Some("key_in_world_readable_file"))],
        },
        Row {
            name: "OpenClaw left the key in plain text in its catalog cache",
            setup: |w| {
                let a = w.k.active.clone();
                w.lines().push(key_line(&a, "leftover:/home/ckh1/.openclaw/cache/catalog.json"));
            },
            expect: &[
                ("host.openclaw-leftovers", Fail, Some("key_in_openclaw_file")),
                // a copy is not a source the gateway reads: the credential checks are unmoved
                ("credential.matches-keychain.main", Pass, None),
                ("boundary.foreign-keys", Pass, None),
            ],
        },
        Row {
            name: "one vCPU",
            setup: |w| {
                w.set_lines("cpus|", ["cpus|1".to_string()]);
            },
            expect: &[("host.resources", Warn, Some("host_undersized"))],
        },
        Row {
            name: "4 GB of RAM",
            setup: |w| {
                w.set_lines("mem_kb|", ["mem_kb|4000000".to_string()]);
            },
            expect: &[("host.resources", Warn, Some("host_undersized"))],
        },
    ]
}

#[test]
fn boundary_and_baseline_table() {
    run_table(&boundary_and_baseline_table_rows());
}

/// Runs the real facts script with `/bin/sh` on `home` (as a host would) and makes its output
/// the world's host report.
fn run_facts_script(w: &mut World, home: &std::path::Path) {
    let (nonce, out) = hostfacts::tests::run_script_locally(home, vec![AGENT.into()]);
    w.host = Host::Raw(out.stdout, nonce);
}

/// The secret-file method as Clawkeep deploys it (a 0600 file under `secrets/`, a file
/// provider and the SecretRef in `openclaw.json`, no `.env`): the real script finds the file
/// and the evaluation resolves the agent's key through the SecretRef (issue 14: a working
/// secret-file host was reported as "agent main has no Anthropic credential").
#[test]
fn real_script_resolves_a_file_secret_ref() {
    use std::os::unix::fs::PermissionsExt;
    let mut w = World::healthy();
    let home = tempfile::tempdir().unwrap();
    let st = home.path().join(".openclaw");
    std::fs::create_dir_all(st.join("secrets")).unwrap();
    std::fs::create_dir_all(st.join("agents/main/agent")).unwrap();
    std::fs::set_permissions(&st, std::fs::Permissions::from_mode(0o700)).unwrap();
    let secret = st.join("secrets/anthropic-api-key");
    std::fs::write(&secret, &w.k.active).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = SECRET_FILE_CONFIG.replace("/home/ckh1/.openclaw/secrets/anthropic-api-key", &secret.display().to_string());
    std::fs::write(st.join("openclaw.json"), config).unwrap();
    std::fs::set_permissions(st.join("openclaw.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    run_facts_script(&mut w, home.path());
    let checks = w.checks();
    let got = |id: &str| checks.iter().find(|c| c.id == id).map(|c| (c.status, c.cause.clone()));
    assert_eq!(got("credential.resolved"), Some((Pass, None)), "{checks:#?}");
    assert_eq!(got("credential.matches-keychain.main"), Some((Pass, None)), "{checks:#?}");
    assert_eq!(got("host.openclaw-leftovers"), Some((Pass, None)), "a secret file is a store, not a leftover");
    assert!(!serde_json::to_string(&checks).unwrap().contains(&w.k.active[12..40]));
}

/// OpenClaw's persisted auth-profile state, in both places it keeps it (the shared state
/// database and an agent's own), read by the real script's SQL: a rejected inline key in its
/// cooldown is `auth_profile_cooldown` (Fail); an expired window and another provider's are not.
#[test]
fn real_script_reads_openclaw_auth_cooldowns() {
    use std::os::unix::fs::PermissionsExt;
    let mut w = World::healthy();
    let home = tempfile::tempdir().unwrap();
    let st = home.path().join(".openclaw");
    std::fs::create_dir_all(st.join("state")).unwrap();
    std::fs::create_dir_all(st.join("agents/main/agent")).unwrap();
    std::fs::set_permissions(&st, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(st.join(".env"), format!("ANTHROPIC_API_KEY={}\n", w.k.active)).unwrap();
    std::fs::set_permissions(st.join(".env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(st.join("openclaw.json"), HEALTHY_CONFIG).unwrap();
    std::fs::set_permissions(st.join("openclaw.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let shared = rusqlite::Connection::open(st.join("state/openclaw.sqlite")).unwrap();
    shared.execute_batch("CREATE TABLE config_machine_state (state_key TEXT PRIMARY KEY, value_json TEXT NOT NULL);").unwrap();
    let state = serde_json::json!({ "usageStats": {
        "inline-api-key:anthropic": { "cooldownUntil": now_ms + 55_000, "cooldownReason": "auth", "errorCount": 1 },
        "anthropic:old": { "cooldownUntil": now_ms - 5_000, "cooldownReason": "auth" },
        "openai:default": { "disabledUntil": now_ms + 600_000, "disabledReason": "billing" },
    }, "lastGood": { "anthropic": "anthropic:default" } });
    shared.execute("INSERT INTO config_machine_state VALUES ('authProfiles.state', ?1)", [state.to_string()]).unwrap();
    let agent = rusqlite::Connection::open(st.join("agents/main/agent/openclaw-agent.sqlite")).unwrap();
    agent.execute_batch("CREATE TABLE auth_profile_state (state_key TEXT PRIMARY KEY, state_json TEXT NOT NULL);").unwrap();
    let astate = serde_json::json!({ "usageStats": { "anthropic:default": { "lastUsed": now_ms } } });
    agent.execute("INSERT INTO auth_profile_state VALUES ('primary', ?1)", [astate.to_string()]).unwrap();
    drop((shared, agent));
    run_facts_script(&mut w, home.path());
    let checks = w.checks();
    let c = checks.iter().find(|c| c.id == "credential.auth-cooldown").unwrap_or_else(|| panic!("{checks:#?}"));
    assert_eq!((c.status, c.cause.as_deref()), (Fail, Some("auth_profile_cooldown")), "{c:#?}");
    assert_eq!(c.evidence.len(), 1, "only the live Anthropic window: {c:#?}");
    assert!(c.evidence[0].label.starts_with("inline-api-key:anthropic (shared)") && c.evidence[0].value.contains("reason auth"), "{c:#?}");
    assert!(c.fix.as_deref().unwrap_or_default().contains("restart does not clear it"), "{c:#?}");
}

/// The real facts script, run by `/bin/sh` on a fake home as a host would run it, feeds the
/// evaluation: a `.env` holding the key cut short is `key_truncated` (proven with the keychain
/// copy), its mode 0644 `file_mode` and `key_in_world_readable_file`, the full key in shell
/// history `key_in_shell_history`.
#[test]
fn real_script_output_feeds_the_evaluation() {
    use std::os::unix::fs::PermissionsExt;
    let mut w = World::healthy();
    let home = tempfile::tempdir().unwrap();
    let st = home.path().join(".openclaw");
    std::fs::create_dir_all(st.join("agents/main/agent")).unwrap();
    std::fs::set_permissions(&st, std::fs::Permissions::from_mode(0o700)).unwrap();
    let cut = &w.k.active[..w.k.active.len() - 10];
    std::fs::write(st.join(".env"), format!("ANTHROPIC_API_KEY={cut}\n")).unwrap();
    std::fs::set_permissions(st.join(".env"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(st.join("openclaw.json"), HEALTHY_CONFIG).unwrap();
    std::fs::set_permissions(st.join("openclaw.json"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(home.path().join(".bash_history"), format!("ls\nexport ANTHROPIC_API_KEY={}\n", w.k.active)).unwrap();
    // OpenClaw's own leftovers (0600, so not world-readable): its catalog cache and the config
    // audit log; beside them the backups Clawkeep and OpenClaw keep, which are not leftovers.
    for (dir, file, text) in [
        ("cache", "catalog.json", format!("{{\"providers\":{{\"anthropic\":{{\"apiKey\":\"{}\"}}}}}}", w.k.active)),
        ("logs", "config-audit.jsonl", format!("{{\"op\":\"set\",\"path\":\"models.providers.anthropic.apiKey\",\"value\":\"{}\"}}\n", w.k.retired)),
        ("", ".env.clawkeep-bak", format!("ANTHROPIC_API_KEY={}\n", w.k.retired)),
        ("", "openclaw.json.last-good", format!("{{apiKey: \"{}\"}}", w.k.retired)),
    ] {
        std::fs::create_dir_all(st.join(dir)).unwrap();
        std::fs::write(st.join(dir).join(file), text).unwrap();
        std::fs::set_permissions(st.join(dir).join(file), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    run_facts_script(&mut w, home.path());
    let checks = w.checks();
    let got = |id: &str| checks.iter().find(|c| c.id == id).map(|c| (c.status, c.cause.clone()));
    assert_eq!(got("credential.matches-keychain.main"), Some((Fail, Some("key_truncated".into()))), "{checks:#?}");
    assert_eq!(got("host.file-modes"), Some((Fail, Some("file_mode".into()))), "{checks:#?}");
    assert_eq!(got("host.world-readable"), Some((Fail, Some("key_in_world_readable_file".into()))), "{checks:#?}");
    assert_eq!(got("host.shell-history"), Some((Fail, Some("key_in_shell_history".into()))), "{checks:#?}");
    assert_eq!(got("protocol.config"), Some((Pass, None)), "{checks:#?}");
    // the last-good config OpenClaw would restore still holds the retired key
    assert_eq!(got("protocol.last-good"), Some((Warn, Some("stale_last_good".into()))), "{checks:#?}");
    let leftovers = checks.iter().find(|c| c.id == "host.openclaw-leftovers").unwrap();
    assert_eq!((leftovers.status, leftovers.cause.as_deref()), (Fail, Some("key_in_openclaw_file")), "{leftovers:#?}");
    let places: Vec<&str> = leftovers.evidence.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(places.len(), 2, "catalog and audit log, not the backups: {places:?}");
    assert!(places.iter().any(|p| p.ends_with("cache/catalog.json")) && places.iter().any(|p| p.ends_with("logs/config-audit.jsonl")), "{places:?}");
    let json = serde_json::to_string(&checks).unwrap();
    assert!(!json.contains(&w.k.active[12..40]) && !json.contains(&w.k.retired[12..40]));
}

// ---- options --------------------------------------------------------------------------------

#[test]
fn domain_filter_keeps_only_the_asked_domains() {
    let mut w = World::healthy();
    w.opts.domains = vec![Domain::Throughput, Domain::Boundary];
    let checks = w.checks();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| matches!(c.domain, Domain::Throughput | Domain::Boundary)), "{checks:#?}");
    // the fleet facts do not depend on the filter
    let (_, ff) = w.evaluate();
    assert!(ff.host_ok && ff.api_ok);
}

// ---- the fleet findings (pure over the instances' reports) ----------------------------------

fn fleet_codes(reports: &mut [InstanceReport]) -> Vec<(String, Status, String)> {
    crate::checklist::fleet::aggregate(reports).into_iter().map(|f| (f.id, f.status, f.cause)).collect()
}

#[test]
fn fleet_findings_from_evaluated_reports() {
    // two instances whose hosts run the same key
    let a = World::healthy();
    let mut b = World::healthy();
    b.ctx.instance.name = "acme-prod-2".into();
    b.ctx.keys.iter_mut().filter(|k| k.instance.as_deref() == Some(INSTANCE)).for_each(|k| k.instance = Some("acme-prod-2".into()));
    let mut reports = vec![a.report(), b.report()];
    assert_eq!(
        fleet_codes(&mut reports),
        vec![("fleet.shared-key".to_string(), Fail, "key_shared_across_instances".to_string())],
        "same workspace, but no 429: no shared-limit finding"
    );
    assert_eq!(reports[0].check("fleet.shared-key").map(|c| c.cause.clone()), Some(Some("key_shared_across_instances".into())));
    assert_eq!(reports[0].first_failing_domain, Some(Domain::Boundary));
    // two instances in one workspace, one of them throttled
    let mut c = World::healthy();
    logs(&mut c, "4|4|0|0|0|0|100");
    let u = c.k.unknown.clone();
    b.host_keys(&[(&u, "dotenv")]);
    let mut reports = vec![b.report(), c.report()];
    assert_eq!(fleet_codes(&mut reports), vec![("fleet.shared-limit".to_string(), Warn, "shared_rate_limit".to_string())]);
}

// ---- coverage -------------------------------------------------------------------------------

/// Every cause, listed by an exhaustive match: a new variant fails to compile here until it
/// is listed (and then until a row produces it).
fn all_causes() -> Vec<Cause> {
    use Cause::*;
    let all = vec![
        NoKeychainKey,
        AgentNoCredential,
        KeyTruncated,
        RetiredKeyDeployed,
        KeyMismatch,
        KeyInUnitEnvironment,
        AuthProfileOverridesEnv,
        AuthProfileCooldown,
        RestartNeeded,
        HostUnreadable,
        HostKeyUntrusted,
        HostKeyMismatch,
        HostUnreachable,
        SshAuthRefused,
        KeyInvalid,
        KeyInactive,
        KeyExpired,
        KeyArchived,
        KeyExpiringSoon,
        KeyOverdue,
        BudgetOver,
        BudgetForecastOver,
        BudgetThreshold,
        WorkspaceMismatch,
        OrgMismatch,
        WorkspaceHeaderRequired,
        WorkspaceNotFound,
        CreditTooLow,
        OrgDisabled,
        OauthTokenAsKey,
        AdminKeyAsKey,
        PermissionDenied,
        ApiUnreachable,
        HostCannotReachApi,
        ConfigUnreadable,
        WrongApi,
        BaseUrlInvalid,
        BaseUrlV1VersionDependent,
        ModelNotFound,
        RequestRejected,
        ConfigClobbered,
        StaleLastGood,
        ConfigMissingMeta,
        UnstableFeatures,
        RateLimited,
        Overloaded,
        LowHeadroom,
        LimitBelowConfigured,
        ConfiguredLimitLow,
        SharedRateLimit,
        FailsAfterFirstRequests,
        ServerError,
        KeySharedAcrossInstances,
        KeyOfOtherInstance,
        FileMode,
        FileOwner,
        KeyInShellHistory,
        KeyInWorldReadableFile,
        KeyInOpenclawFile,
        GatewayOutsideUnit,
        HostUndersized,
    ];
    for c in &all {
        match c {
            NoKeychainKey
            | AgentNoCredential
            | KeyTruncated
            | RetiredKeyDeployed
            | KeyMismatch
            | KeyInUnitEnvironment
            | AuthProfileOverridesEnv
            | AuthProfileCooldown
            | RestartNeeded
            | HostUnreadable
            | HostKeyUntrusted
            | HostKeyMismatch
            | HostUnreachable
            | SshAuthRefused
            | KeyInvalid
            | KeyInactive
            | KeyExpired
            | KeyArchived
            | KeyExpiringSoon
            | KeyOverdue
            | BudgetOver
            | BudgetForecastOver
            | BudgetThreshold
            | WorkspaceMismatch
            | OrgMismatch
            | WorkspaceHeaderRequired
            | WorkspaceNotFound
            | CreditTooLow
            | OrgDisabled
            | OauthTokenAsKey
            | AdminKeyAsKey
            | PermissionDenied
            | ApiUnreachable
            | HostCannotReachApi
            | ConfigUnreadable
            | WrongApi
            | BaseUrlInvalid
            | BaseUrlV1VersionDependent
            | ModelNotFound
            | RequestRejected
            | ConfigClobbered
            | StaleLastGood
            | ConfigMissingMeta
            | UnstableFeatures
            | RateLimited
            | Overloaded
            | LowHeadroom
            | LimitBelowConfigured
            | ConfiguredLimitLow
            | SharedRateLimit
            | FailsAfterFirstRequests
            | ServerError
            | KeySharedAcrossInstances
            | KeyOfOtherInstance
            | FileMode
            | FileOwner
            | KeyInShellHistory
            | KeyInWorldReadableFile
            | KeyInOpenclawFile
            | GatewayOutsideUnit
            | HostUndersized => {}
        }
    }
    all
}

/// Every row of every table.
fn all_rows() -> Vec<Row> {
    [
        optional_checks_pass_rows(),
        credential_table_rows(),
        account_table_rows(),
        from_host_table_rows(),
        protocol_table_rows(),
        throughput_table_rows(),
        boundary_and_baseline_table_rows(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The cause codes the rows' worlds actually produce (every check, not only the expected
/// ones), plus the fleet findings' (`fleet_findings_from_evaluated_reports`).
fn produced() -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    for row in all_rows() {
        let mut w = World::healthy();
        (row.setup)(&mut w);
        seen.extend(w.checks().into_iter().filter_map(|c| c.cause));
    }
    let a = World::healthy();
    let mut b = World::healthy();
    b.ctx.instance.name = "acme-prod-2".into();
    logs(&mut b, "4|4|0|0|0|0|100");
    seen.extend(fleet_codes(&mut [a.report(), b.report()]).into_iter().map(|(_, _, c)| c));
    seen
}

#[test]
fn every_cause_code_is_covered() {
    let seen = produced();
    let all = all_causes();
    let missing: Vec<&str> = all.iter().map(|c| c.code()).filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "cause codes no row produces: {missing:?}");
    assert_eq!(all.len(), 61);
    // and every row names what it expects
    assert!(all_rows().iter().all(|r| !r.expect.is_empty()));
}
