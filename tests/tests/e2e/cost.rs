//! The cost trail end to end (issue 13): the real `clawkeep` against the fake Anthropic API over
//! HTTP on 127.0.0.1, a real SQLite file and the real Secret Service (the Admin key lives there).
//! Usage rows are seeded into the fake with known tokens, so every number below is computed by
//! hand from the price table: multi-page sync, the incremental re-sync that reads only the last
//! days, a sync cut mid-pagination that resumes without loss or duplicates, a 429 waited out,
//! unpriced models shown as unpriced, the unowned key listed first, a reconciliation difference
//! flagged, the budget check's exit code, and the configured rate limits beside the budgets.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use clawkeep_tests::cli::Ck;
use fake_anthropic::{
    ErrorInjection, FakeAnthropic, MintKey, MintedKey, NonTokenCost, Preset, UsageRow, MODEL_HAIKU_4_5, MODEL_OPUS_5_5, MODEL_SONNET_5, WORKSPACE_PROD_A_ID, WORKSPACE_PROD_B_ID,
};
use serde_json::Value;

/// Picodollars per USD (the unit of `cost_pico`).
const USD: i64 = 1_000_000_000_000;
const NOVA: &str = "claude-nova-9";

struct Rig {
    fake: FakeAnthropic,
    ck: Ck,
    stray: MintedKey,
    today: NaiveDate,
}

fn noon(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(12, 0, 0).unwrap())
}

fn usage(ts: DateTime<Utc>, key: &str, ws: &str, model: &str, input: u64, output: u64) -> UsageRow {
    UsageRow {
        ts,
        api_key_id: Some(key.into()),
        workspace_id: Some(ws.into()),
        model: model.into(),
        uncached_input_tokens: input,
        cache_creation_5m: 0,
        cache_creation_1h: 0,
        cache_read_input_tokens: 0,
        output_tokens: output,
        web_search_requests: 0,
        service_tier: "standard".into(),
        context_window: "0-200k".into(),
        inference_geo: None,
    }
}

impl Rig {
    /// Three instances (alpha, beta of acme; gamma of globex), each with its key and Console
    /// id, an Admin key, and a key nobody in the inventory holds (`stray`). Usage, by hand:
    /// - alpha: Haiku 4.5, 1M in + 100k out every day 1..=20 days ago: $1 + $0.50 = $1.50 a day, $30;
    /// - beta: Sonnet 5, 200k in + 10k out 2 days ago: $0.60 + $0.15 = $0.75; and 4 days ago an
    ///   unknown model (unpriced);
    /// - gamma: Opus 5.5, 100k in + 20k out 3 days ago: $0.50 + $0.50 = $1;
    /// - stray: Haiku 4.5, 2M in 1 day ago: $2.
    fn new() -> Rig {
        let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
        let ck = Ck::new();
        let today = Utc::now().date_naive();
        ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
        let admin = fake.fixture_key("admin").unwrap();
        ck.run_with(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], Some(admin.key.as_bytes())).ok();
        let a = fake.fixture_key("instance-a").unwrap();
        let b = fake.fixture_key("instance-b").unwrap();
        // gamma's key expires in 40 days (the Console says so; the inventory learns it on sync).
        let g = fake.mint_key(MintKey { expires_at: Some(Utc::now() + Duration::days(40)), ..MintKey::api("gamma", Some(WORKSPACE_PROD_A_ID)) }).unwrap();
        let stray = fake.mint_key(MintKey::api("forgotten-test-key", Some(WORKSPACE_PROD_B_ID))).unwrap();
        for (inst, owner, key) in [("alpha", "acme", &a), ("beta", "acme", &b), ("gamma", "globex", &g)] {
            ck.run(&["instance", "add", inst, "--host", "127.0.0.1", "--user", "ck", "--owner", owner, "--env", "prod", "--workload", "bot"]).ok();
            ck.run_with(&["key", "add", &format!("openclaw-{owner}-prod-{inst}"), "--instance", inst, "--key-id", &key.id, "--stdin", "--allow-name"], Some(key.key.as_bytes()))
                .ok();
        }
        let day = |n: i64| noon(today - Duration::days(n));
        for n in 1..=20 {
            fake.add_usage(usage(day(n), &a.id, WORKSPACE_PROD_A_ID, MODEL_HAIKU_4_5, 1_000_000, 100_000));
        }
        fake.add_usage(usage(day(2), &b.id, WORKSPACE_PROD_B_ID, MODEL_SONNET_5, 200_000, 10_000));
        fake.add_usage(usage(day(4), &b.id, WORKSPACE_PROD_B_ID, NOVA, 5_000, 5_000));
        fake.add_usage(usage(day(3), &g.id, WORKSPACE_PROD_A_ID, MODEL_OPUS_5_5, 100_000, 20_000));
        fake.add_usage(usage(day(1), &stray.id, WORKSPACE_PROD_B_ID, MODEL_HAIKU_4_5, 2_000_000, 0));
        Rig { fake, ck, stray, today }
    }

    fn day(&self, n: i64) -> String {
        (self.today - Duration::days(n)).to_string()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        self.ck.run(&a).ok().json()
    }

    /// Spend per group over every period of `cost report --by BY`.
    fn spend(&self, by: &str) -> Vec<(String, i64, bool)> {
        let r = self.json(&["cost", "report", "--by", by, "--period", "day", "--since", &self.day(30)]);
        let mut out: Vec<(String, i64, bool)> = Vec::new();
        for row in r["rows"].as_array().unwrap() {
            let g = row["group"].as_str().unwrap().to_string();
            let c = row["cost_pico"].as_i64().unwrap();
            match out.iter_mut().find(|x| x.0 == g) {
                Some(x) => x.1 += c,
                None => out.push((g, c, row["unowned"].as_bool().unwrap())),
            }
        }
        out
    }

    fn get(&self, by: &str, group: &str) -> i64 {
        self.spend(by).into_iter().find(|x| x.0 == group).map(|x| x.1).unwrap_or_else(|| panic!("no group {group}"))
    }

    /// The `starting_at` of each usage report request the fake saw since the last clear.
    fn usage_starts(&self) -> Vec<String> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.path == "/v1/organizations/usage_report/messages")
            .map(|r| {
                let q: Vec<(String, String)> = url_pairs(&r.query);
                q.into_iter().find(|(k, _)| k == "starting_at").map(|(_, v)| v[..10].to_string()).unwrap_or_default()
            })
            .collect()
    }
}

/// `k=v&…` decoded (percent escapes; the values here are ASCII).
fn url_pairs(q: &str) -> Vec<(String, String)> {
    let dec = |s: &str| {
        let mut out = String::new();
        let mut rest = s;
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            match rest.get(p + 1..p + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b as char);
                    rest = &rest[p + 3..];
                }
                None => {
                    out.push('%');
                    rest = &rest[p + 1..];
                }
            }
        }
        out.push_str(rest);
        out
    };
    q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (dec(k), dec(v))).collect()
}

#[test]
fn sync_paginates_then_reads_only_new_days_and_reports_hand_computed_costs() {
    let r = Rig::new();
    // 22 days (21 ago through today) at 7 days a page: 4 pages of each report.
    let s = r.json(&["cost", "sync", "--since", &r.day(21), "--page-days", "7"]);
    assert_eq!((s["usage"]["pages"].as_u64(), s["cost"]["pages"].as_u64()), (Some(4), Some(4)), "{s}");
    assert_eq!(s["cancelled"], false);
    assert_eq!(r.usage_starts(), vec![r.day(21); 4], "one window, followed page by page");

    // By instance: the key nobody holds comes first; every number by hand.
    let by_instance = r.spend("instance");
    assert_eq!(by_instance[0], (r.stray.id.clone(), 2 * USD, true), "unowned key first: {by_instance:?}");
    assert_eq!(r.get("instance", "alpha"), 30 * USD);
    assert_eq!(r.get("instance", "beta"), 3 * USD / 4);
    assert_eq!(r.get("instance", "gamma"), USD);
    assert_eq!(r.get("owner", "acme"), 30 * USD + 3 * USD / 4);
    assert_eq!(r.get("owner", "globex"), USD);
    assert_eq!(r.get("owner", "(unowned)"), 2 * USD);
    assert_eq!(r.get("workspace", WORKSPACE_PROD_A_ID), 31 * USD);
    assert_eq!(r.get("model", MODEL_HAIKU_4_5), 32 * USD);

    // The unknown model is unpriced, never $0: in JSON, in the table and in CSV.
    let by_model = r.json(&["cost", "report", "--by", "model", "--since", &r.day(30)]);
    assert_eq!(by_model["unpriced_models"], serde_json::json!([NOVA]));
    let nova = by_model["rows"].as_array().unwrap().iter().find(|x| x["group"] == NOVA).unwrap();
    assert_eq!((nova["cost_pico"].as_i64(), nova["unpriced_tokens"].as_u64()), (Some(0), Some(10_000)));
    let table = r.ck.run(&["cost", "report", "--by", "model", "--since", &r.day(30)]).ok().stdout;
    let line = table.lines().find(|l| l.starts_with(NOVA)).unwrap();
    assert!(line.contains("unpriced") && !line.contains('$'), "{table}");
    assert!(table.contains("unpriced usage of claude-nova-9"), "{table}");
    let csv = r.ck.run(&["cost", "report", "--by", "instance", "--since", &r.day(30), "--csv"]).ok().stdout;
    assert!(csv.lines().next().unwrap().starts_with("group,unowned,period"), "{csv}");
    assert!(csv.lines().nth(1).unwrap().starts_with(&format!("{},true,", r.stray.id)), "unowned first in CSV too: {csv}");
    assert!(csv.lines().any(|l| l.starts_with("beta,false,") && l.ends_with(NOVA)), "{csv}");

    // Incremental: a new turn today, one 429 on the way; only the last 3 days are read again.
    r.fake.clear_requests();
    let alpha_key = r.fake.fixture_key("instance-a").unwrap();
    let now = Utc::now();
    let ts = (now - Duration::minutes(30)).max(noon(r.today) - Duration::hours(12));
    r.fake.add_usage(usage(ts, &alpha_key.id, WORKSPACE_PROD_A_ID, MODEL_HAIKU_4_5, 500_000, 0));
    r.fake.inject_error(ErrorInjection { path_prefix: "/v1/organizations/usage_report".into(), status: 429, retry_after: Some(1), count: 1, ..Default::default() });
    let s = r.json(&["cost", "sync", "--page-days", "7"]);
    let expected_start = r.day(3);
    assert_eq!(s["usage"]["start"].as_str(), Some(expected_start.as_str()), "{s}");
    assert_eq!(s["usage"]["retries"].as_u64(), Some(1), "the 429 was waited out: {s}");
    let starts = r.usage_starts();
    assert_eq!(starts, vec![expected_start; 2], "the 429'd request and its retry, nothing older");
    assert_eq!(r.get("instance", "alpha"), 30 * USD + USD / 2, "the new turn, and nothing counted twice");
    assert_eq!(r.get("instance", "beta"), 3 * USD / 4);
}

#[test]
fn a_sync_cut_mid_pagination_keeps_its_pages_and_resumes_without_loss_or_duplicates() {
    let r = Rig::new();
    // The third usage page fails (the API went away mid-pagination).
    r.fake.inject_error(ErrorInjection { path_prefix: "/v1/organizations/usage_report".into(), status: 500, every_nth: Some(3), count: 1, ..Default::default() });
    let out = r.ck.run(&["--json", "cost", "sync", "--since", &r.day(21), "--page-days", "7"]).fails();
    assert_eq!(out.error_code().as_deref(), Some("admin_api"), "{}", out.stderr);
    assert!(out.stderr.contains(&format!("days before {} were saved", r.day(7))), "{}", out.stderr);
    // Two pages were committed: 21..8 days ago. alpha has 13 of its days there.
    assert_eq!(r.get("instance", "alpha"), 13 * USD + 13 * USD / 2);
    assert!(r.spend("instance").iter().all(|x| x.0 != "beta"), "beta's days were on the lost page");

    r.fake.clear_requests();
    let s = r.json(&["cost", "sync", "--page-days", "7"]);
    assert_eq!(s["usage"]["start"].as_str(), Some(r.day(10).as_str()), "resumes 3 days before the mark: {s}");
    assert_eq!(r.usage_starts(), vec![r.day(10); 2]);
    assert_eq!(r.get("instance", "alpha"), 30 * USD, "every day once");
    assert_eq!(r.get("instance", "beta"), 3 * USD / 4);
    assert_eq!(r.get("instance", &r.stray.id), 2 * USD);
    // A second full read of everything changes nothing either.
    r.json(&["cost", "sync", "--since", &r.day(21), "--page-days", "5"]);
    assert_eq!(r.get("instance", "alpha"), 30 * USD);
    assert_eq!(r.get("owner", "acme"), 30 * USD + 3 * USD / 4);
}

#[test]
fn unowned_keys_reconciliation_and_budgets() {
    let r = Rig::new();
    // A charge only the cost report has (code execution, prod-b, 2 days ago).
    r.fake.add_non_token_cost(NonTokenCost {
        ts: noon(r.today - Duration::days(2)),
        workspace_id: Some(WORKSPACE_PROD_B_ID.into()),
        cost_type: "code_execution".into(),
        description: "Code Execution Usage".into(),
        cents: 50,
    });
    // This month: a big turn on alpha (the lag knob off, so it is visible at once).
    r.fake.state().with(|s| s.knobs.usage_lag_seconds = 0);
    let now = Utc::now();
    let month_start = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).unwrap();
    let alpha = r.fake.fixture_key("instance-a").unwrap();
    r.fake.add_usage(usage((now - Duration::hours(1)).max(month_start), &alpha.id, WORKSPACE_PROD_A_ID, MODEL_HAIKU_4_5, 10_000_000, 0));
    r.json(&["cost", "sync", "--since", &r.day(21)]);

    // The key nobody holds: its id, the Console's hint and name, its workspace and spend.
    let u = r.json(&["cost", "unowned"]);
    let first = &u[0];
    assert_eq!(first["api_key_id"], r.stray.id.as_str());
    assert_eq!(first["hint"], r.stray.partial_key_hint.as_str());
    assert_eq!(first["name"], "forgotten-test-key");
    assert_eq!(first["workspace_id"], WORKSPACE_PROD_B_ID);
    assert_eq!(first["spent_pico"].as_i64(), Some(2 * USD));
    assert_eq!(u.as_array().unwrap().len(), 1);
    let text = r.ck.run(&["cost", "unowned"]).ok().stdout;
    assert!(text.contains(&r.stray.id) && text.contains(&r.stray.partial_key_hint) && text.contains("$2.00"), "{text}");

    // Expiry from the source landed on gamma's key.
    let gk = r.json(&["key", "show", "openclaw-globex-prod-gamma"]);
    let exp = gk["expires_at"].as_str().unwrap_or_else(|| panic!("no expiry: {gk}"));
    assert_eq!(&exp[..10], (Utc::now() + Duration::days(40)).date_naive().to_string(), "{gk}");

    // Reconciliation with the list prices: the code execution line is explained, nothing else differs.
    let rec = r.json(&["cost", "reconcile", "--since", &r.day(21)]);
    assert_eq!(rec["findings"], 0, "{rec}");
    let rows = rec["rows"].as_array().unwrap();
    let code = rows.iter().find(|x| x["day"] == r.day(2).as_str() && x["workspace"] == WORKSPACE_PROD_B_ID).unwrap();
    assert_eq!(code["status"], "explained", "{code}");
    assert!((code["difference_usd"].as_f64().unwrap() - 0.5).abs() < 1e-9);
    assert!(code["explanations"][0].as_str().unwrap().contains("code_execution"), "{code}");
    // The unknown model's day: usage the table cannot price, and nothing billed for it.
    let nova_day = rows.iter().find(|x| x["day"] == r.day(4).as_str() && x["workspace"] == WORKSPACE_PROD_B_ID).unwrap();
    assert_eq!(nova_day["status"], "missing", "{nova_day}");

    // A negotiated Haiku rate entered by the user that Anthropic did not bill: a finding on every alpha day.
    std::fs::write(r.ck.data().join("prices.json"), r#"{"models":[{"model":"claude-haiku-4-5-20251001","effective_from":"2025-10-15","input":0.8,"output":5}]}"#).unwrap();
    let rec = r.json(&["cost", "reconcile", "--since", &r.day(21)]);
    let findings: Vec<&Value> = rec["rows"].as_array().unwrap().iter().filter(|x| x["status"] == "finding").collect();
    assert!(findings.len() >= 20, "{rec}");
    let one = findings.iter().find(|x| x["day"] == r.day(5).as_str()).unwrap();
    assert_eq!(one["workspace"], WORKSPACE_PROD_A_ID);
    assert!((one["difference_usd"].as_f64().unwrap() - 0.2).abs() < 1e-9, "1M input × $0.20: {one}");
    let text = r.ck.run(&["cost", "reconcile", "--since", &r.day(21)]).ok().stdout;
    assert!(text.contains("finding") && text.contains("unexplained"), "{text}");
    // The override prices the reports too: 20 × (1M × $0.80 + 100k × $5) + 10M × $0.80 = $34.
    assert_eq!(r.get("instance", "alpha"), 34 * USD);
    std::fs::remove_file(r.ck.data().join("prices.json")).unwrap();

    // Retire the stray key in one step (audited); a key an instance holds is refused.
    let alpha_id = r.fake.fixture_key("instance-a").unwrap().id;
    let out = r.ck.run(&["--json", "cost", "deactivate", &alpha_id, "--yes"]).fails();
    assert_eq!(out.error_code().as_deref(), Some("key_has_owner"), "{}", out.stderr);
    let d = r.json(&["cost", "deactivate", &r.stray.id, "--yes"]);
    assert_eq!(d["status"], "inactive");
    assert!(r.fake.state().with(|s| s.keys.iter().any(|k| k.id == r.stray.id && k.status == fake_anthropic::KeyStatus::Inactive)));
    assert_eq!(r.json(&["cost", "unowned"])[0]["status"], "inactive");
    let out = r.ck.run(&["cost", "deactivate", &r.stray.id]).fails();
    assert!(out.stderr.contains("--yes"), "stdin is no terminal: not asked, not done: {}", out.stderr);

    // Budgets: acme's month already holds alpha's $10 turn.
    r.ck.run(&["cost", "budget", "set", "--owner", "acme", "--monthly-usd", "5", "--warn-at", "50"]).ok();
    r.ck.run(&["cost", "budget", "set", "--instance", "gamma", "--monthly-usd", "100000"]).ok();
    let out = r.ck.run(&["--json", "cost", "budget", "check"]).fails();
    assert_eq!(out.error_code().as_deref(), Some("budget_alert"), "{}", out.stderr);
    let st: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(st[0]["budget"]["name"], "acme");
    assert_eq!(st[0]["state"], "over");
    assert!(st[0]["spent_pico"].as_i64().unwrap() >= 10 * USD);
    assert_eq!(st[1]["state"], "ok");
    let out = r.ck.run(&["cost", "budget", "check"]).fails();
    assert!(out.stdout.contains("OVER") && out.stderr.contains("error[budget_alert]"), "{}\n{}", out.stdout, out.stderr);
    // The checklist says so too, for an acme instance (no SSH needed): a warning with its cause and fix.
    let rep = r.ck.run(&["--json", "check", "alpha", "--no-host", "--domain", "account-context"]).ended().json();
    let checks = rep["checks"].as_array().or_else(|| rep["instances"][0]["checks"].as_array()).unwrap_or_else(|| panic!("{rep}")).clone();
    let budget = checks.iter().find(|c| c["id"] == "account.budget").unwrap_or_else(|| panic!("no budget check: {rep}"));
    assert_eq!((budget["status"].as_str(), budget["cause"].as_str()), (Some("warn"), Some("budget_over")), "{budget}");
    assert!(budget["fix"].as_str().is_some_and(|f| f.contains("budget")), "{budget}");
    r.ck.run(&["cost", "budget", "set", "--owner", "acme", "--monthly-usd", "1000000"]).ok();
    r.ck.run(&["cost", "budget", "check"]).ok();
    let list = r.json(&["cost", "budget", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Refused: a budget for an owner with no instances, a zero budget.
    assert_eq!(r.ck.run(&["--json", "cost", "budget", "set", "--owner", "nobody", "--monthly-usd", "5"]).fails().error_code().as_deref(), Some("not_found"));
    assert_eq!(r.ck.run(&["--json", "cost", "budget", "set", "--owner", "acme", "--monthly-usd", "0"]).fails().error_code().as_deref(), Some("invalid_input"));
    // Every budget change is in the audit log.
    let audit = r.ck.run(&["audit"]).ok().stdout;
    for action in ["budget.set", "cost.sync", "key.deactivate_unowned", "key.expiry"] {
        assert!(audit.contains(action), "{action}: {audit}");
    }
}

#[test]
fn sync_without_an_admin_key_says_what_to_add() {
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    let ck = Ck::new();
    ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
    let out = ck.run(&["--json", "cost", "sync"]).fails();
    assert_eq!(out.error_code().as_deref(), Some("no_admin_key"), "{}", out.stderr);
    assert!(fake.requests().is_empty(), "nothing was sent");
    let out = ck.run(&["cost", "sync"]).fails();
    assert!(out.stderr.contains("key add") && out.stderr.contains("sk-ant-admin01-"), "{}", out.stderr);
}

/// Benchmark, not a test (`scripts/bench-cost.sh`): BENCH_COST_KEYS keys (default 1,000) × 90
/// days × 3 models of usage in the fake; the first sync, an incremental sync, and the month's cost
/// per instance from the cache, each timed once through the real binary. Prints MEASURE lines.
#[test]
#[ignore]
fn bench_sync_and_report() {
    let keys: usize = std::env::var("BENCH_COST_KEYS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let fake = FakeAnthropic::start_blocking(Preset::Healthy).unwrap();
    fake.state().with(|s| s.knobs.admin_rate_limit = None);
    let ck = Ck::new();
    ck.run(&["settings", "set-base-url", &fake.base_url()]).ok();
    let admin = fake.fixture_key("admin").unwrap();
    ck.run_with(&["key", "add", "openclaw-acme-prod-admin", "--stdin"], Some(admin.key.as_bytes())).ok();
    let today = Utc::now().date_naive();
    let models = [MODEL_HAIKU_4_5, MODEL_SONNET_5, MODEL_OPUS_5_5];
    fake.state().with(|s| {
        for k in 0..keys {
            for day in 1..=90 {
                for (m, model) in models.iter().enumerate() {
                    s.push_usage(usage(noon(today - Duration::days(day)), &format!("apikey_bench{k:05}"), WORKSPACE_PROD_A_ID, model, 1000 + (k + m) as u64, 100));
                }
            }
        }
    });
    let rows = keys * 90 * 3;
    let timed = |args: &[&str]| {
        let t = std::time::Instant::now();
        let out = ck.run(args).ok();
        (t.elapsed().as_secs_f64() * 1000.0, out)
    };
    let (first, out) = timed(&["--json", "cost", "sync"]);
    let s = out.json();
    println!("MEASURE cost_first_sync_ms={first:.0} usage_rows={} pages={} (fake rows {rows})", s["usage"]["rows"], s["usage"]["pages"]);
    let (inc, out) = timed(&["--json", "cost", "sync"]);
    println!("MEASURE cost_incremental_sync_ms={inc:.0} usage_rows={} pages={}", out.json()["usage"]["rows"], out.json()["usage"]["pages"]);
    let since = (today - Duration::days(30)).to_string();
    let (rep, out) = timed(&["--json", "cost", "report", "--by", "instance", "--period", "month", "--since", &since]);
    println!("MEASURE cost_report_month_by_instance_ms={rep:.0} (process start included) groups={}", out.json()["rows"].as_array().map_or(0, Vec::len));
}

#[test]
fn rate_limits_are_read_by_the_sync_and_listed_beside_the_budgets_offline() {
    let r = Rig::new();
    // prod-b (beta's workspace) has a tighter limit of its own.
    r.fake.state().with(|s| {
        if let Some(w) = s.workspaces.iter_mut().find(|w| w.id == WORKSPACE_PROD_B_ID) {
            w.rate_limits = Some(fake_anthropic::Limits { rpm: 9, itpm: 9_000, otpm: 900, count_tokens_rpm: 9 });
        }
    });
    let org_rpm = r.fake.state().with(|s| s.org.effective_limits().rpm);
    let empty = r.ck.run(&["cost", "limits"]).ok();
    assert!(empty.stdout.contains("No rate limits cached"), "{}", empty.stdout);

    let sync = r.ck.run(&["cost", "sync"]).ok();
    assert!(sync.stdout.contains("configured rate-limit values"), "{}", sync.stdout);
    assert!(r.fake.requests().iter().any(|q| q.path == "/v1/organizations/rate_limits"), "the org's list is read");
    assert!(
        r.fake.requests().iter().any(|q| q.path == format!("/v1/organizations/workspaces/{WORKSPACE_PROD_B_ID}/rate_limits") && q.query.contains("include_inherited=true")),
        "each workspace in use is read with what it inherits"
    );

    let l = r.json(&["cost", "limits"]);
    let entries = l["entries"].as_array().unwrap();
    assert!(entries[0]["workspace_id"].is_null(), "the organisation first: {l}");
    let b = entries.iter().find(|e| e["workspace_id"] == WORKSPACE_PROD_B_ID && e["limiter"] == "requests_per_minute" && e["group_type"] == "model_group").expect("prod-b's rpm");
    assert_eq!((b["value"].as_u64(), b["source"].as_str(), b["org_limit"].as_u64()), (Some(9), Some("workspace"), Some(org_rpm)));

    let t = r.ck.run(&["cost", "limits"]).ok();
    assert!(t.stdout.contains("(organization)") && t.stdout.contains(WORKSPACE_PROD_B_ID), "{}", t.stdout);
    assert!(t.stdout.contains(&format!("workspace override (organization {org_rpm})")), "{}", t.stdout);
    assert!(!t.stdout.contains("inherited"), "inherited values only with --all: {}", t.stdout);
    assert!(r.ck.run(&["cost", "limits", "--all"]).ok().stdout.contains("inherited"));

    // Beside the budgets.
    r.ck.run(&["cost", "budget", "set", "--owner", "acme", "--monthly-usd", "100"]).ok();
    let list = r.ck.run(&["cost", "budget", "list"]).ok();
    assert!(list.stdout.contains("Rate limits (Anthropic)") && list.stdout.contains(WORKSPACE_PROD_B_ID), "{}", list.stdout);

    // Offline: the cache answers; a refresh fails with the Admin API's code.
    let Rig { fake, ck, .. } = r;
    fake.shutdown();
    let again = ck.run(&["--json", "cost", "limits"]).ok().json();
    assert_eq!(again["entries"], l["entries"]);
    let out = ck.run(&["--json", "cost", "limits", "--refresh"]).fails();
    assert_eq!(out.error_code().as_deref(), Some("admin_api"), "{}", out.stderr);
}

#[test]
fn spend_limits_are_not_available_until_enrolled_then_shown_beside_the_budgets_with_exact_numbers() {
    let r = Rig::new();
    r.ck.run(&["cost", "budget", "set", "--owner", "acme", "--monthly-usd", "100000"]).ok();
    // Not in the early access (the healthy preset): the sync succeeds and says so.
    let sync = r.ck.run(&["cost", "sync"]).ok();
    assert!(sync.stdout.contains("spend limits: not available for this organisation (early access)"), "{}", sync.stdout);
    let asked = r.fake.requests().into_iter().find(|q| q.path == "/v1/organizations/spend_limits").expect("the list is asked for");
    assert_eq!((asked.status, asked.anthropic_beta.as_deref()), (404, Some(fake_anthropic::SPEND_LIMITS_BETA)));
    let v = r.json(&["cost", "budget", "spend-limits"]);
    assert_eq!((v["availability"].as_str(), v["limits"].as_array().map(Vec::len)), (Some("not_available"), Some(0)), "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| d.contains("404")), "{v}");
    for args in [&["cost", "budget", "list"][..], &["cost", "budget", "check"][..], &["cost", "budget", "spend-limits"][..]] {
        let out = r.ck.run(args).ok();
        assert!(out.stdout.contains("spend limits: not available for this organisation (early access)"), "{args:?}: {}", out.stdout);
    }

    // Enrolled, with an organisation limit ($500), a prod-a limit ($20) and a $0 limit on prod-b.
    let now = Utc::now();
    let limit = |id: &str, scope: fake_anthropic::SpendLimitScope, cents: u64| fake_anthropic::monthly_spend_limit(id, scope, cents, now - Duration::days(1));
    r.fake.state().with(|s| {
        s.spend_limits.enrolled = true;
        s.spend_limits.limits = vec![
            limit("spl_org", fake_anthropic::SpendLimitScope::Organization, 50_000),
            limit("spl_a", fake_anthropic::SpendLimitScope::Workspace { workspace_id: WORKSPACE_PROD_A_ID.into() }, 2_000),
            limit("spl_b", fake_anthropic::SpendLimitScope::Workspace { workspace_id: WORKSPACE_PROD_B_ID.into() }, 0),
        ];
    });
    let sync = r.ck.run(&["--json", "cost", "sync"]).ok().json();
    assert_eq!((sync["spend_limits"].as_u64(), sync["spend_limits_availability"].as_str()), (Some(3), Some("available")), "{sync}");

    // This month's spend by hand (see Rig::new): prod-a holds alpha's $1.50 a day and gamma's $1;
    // prod-b beta's $0.75 and the stray key's $2 (the unknown model is unpriced).
    let first = NaiveDate::from_ymd_opt(r.today.year(), r.today.month(), 1).unwrap();
    let in_month = |n: i64| r.today - Duration::days(n) >= first;
    let prod_a = (1..=20).filter(|n| in_month(*n)).count() as i64 * 3 * USD / 2 + if in_month(3) { USD } else { 0 };
    let prod_b = if in_month(2) { 3 * USD / 4 } else { 0 } + if in_month(1) { 2 * USD } else { 0 };
    let v = r.json(&["cost", "budget", "spend-limits"]);
    assert_eq!(v["availability"], "available");
    let by_id = |id: &str| v["limits"].as_array().unwrap().iter().find(|s| s["limit"]["id"] == id).cloned().unwrap_or_else(|| panic!("{id}: {v}"));
    let org = by_id("spl_org");
    assert_eq!((org["scope_label"].as_str(), org["amount_label"].as_str()), (Some("organization"), Some("$500.00")));
    let j = &org["judgement"];
    assert_eq!((j["limit_pico"].as_i64(), j["spent_pico"].as_i64()), (Some(500 * USD), Some(prod_a + prod_b)), "{org}");
    assert!((j["percent"].as_f64().unwrap() - (prod_a + prod_b) as f64 * 100.0 / (500 * USD) as f64).abs() < 1e-9);
    assert_eq!(j["period_start"], first.to_string());
    let a = by_id("spl_a");
    assert_eq!(
        (a["limit"]["scope_id"].as_str(), a["judgement"]["limit_pico"].as_i64(), a["judgement"]["spent_pico"].as_i64()),
        (Some(WORKSPACE_PROD_A_ID), Some(20 * USD), Some(prod_a))
    );
    let b = by_id("spl_b");
    assert_eq!((b["judgement"]["spent_pico"].as_i64(), b["judgement"]["state"].as_str()), (Some(prod_b), Some("over")), "a $0 limit is reached");

    // Beside the budgets, in text; the check exits 1 and names the Anthropic limit.
    let money = |p: i64| format!("${:.2}", p as f64 / USD as f64);
    let list = r.ck.run(&["cost", "budget", "list"]).ok();
    assert!(list.stdout.contains("Spend limits (Anthropic):") && list.stdout.contains(&format!("workspace {WORKSPACE_PROD_A_ID}")), "{}", list.stdout);
    assert!(list.stdout.contains("$500.00") && list.stdout.contains(&money(prod_a + prod_b)) && list.stdout.contains(&money(prod_a)), "{}", list.stdout);
    let check = r.ck.run(&["--json", "cost", "budget", "check"]).fails();
    assert_eq!(check.error_code().as_deref(), Some("budget_alert"), "{}", check.stderr);
    assert!(check.stderr.contains(&format!("Anthropic's workspace {WORKSPACE_PROD_B_ID} spend limit")), "{}", check.stderr);

    // The user's own warning thresholds, saved.
    let v = r.json(&["cost", "budget", "spend-limits", "--warn-at", "1", "--warn-at", "90"]);
    assert_eq!(v["warn_at"], serde_json::json!([1, 90]));
    assert_eq!(r.json(&["cost", "budget", "spend-limits"])["warn_at"], serde_json::json!([1, 90]));

    // Offline: the cache answers.
    let Rig { fake, ck, .. } = r;
    fake.shutdown();
    let again = ck.run(&["--json", "cost", "budget", "spend-limits"]).ok().json();
    assert_eq!(again["limits"].as_array().map(Vec::len), Some(3));
    assert_eq!(ck.run(&["--json", "cost", "budget", "spend-limits", "--refresh"]).fails().error_code().as_deref(), Some("admin_api"));
}
