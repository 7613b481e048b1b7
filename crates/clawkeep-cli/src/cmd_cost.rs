//! `clawkeep cost …`: sync the Admin API's usage and cost reports (progress on stderr, Ctrl-C
//! stops between pages and keeps what was read), then cost by instance/owner/purpose/workspace/
//! model per day/week/month (table, `--json`, `--csv`), keys that spend without an owner, the
//! reconciliation against the cost report, budgets (`budget check` exits 1 when a budget is
//! over or forecast over, for cron), and Anthropic's configured rate limits beside them
//! (`limits`) and Anthropic's spend limits (`budget spend-limits`; `budget check` judges them
//! too). The flows are core's (`api/costs.rs`, `api/ratelimits.rs`, `api/spendlimits.rs`).

use anyhow::{bail, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use clawkeep_core::api::costs::{BudgetSpec, CostQuery, CostSyncOptions};
use clawkeep_core::cost::{BudgetScope, BudgetState, CostGroupBy, CostPeriod, CostReportRow, LimitSource, RateLimits, ReconcileOptions, SpendLimits};
use clawkeep_core::deploy::CancellationToken;
use clawkeep_core::{Clawkeep, ErrorPayload};

use crate::output::{self, table, Reported};

#[derive(Subcommand, Debug)]
pub enum CostCmd {
    /// Read usage and cost from the Admin API into the local cache (needs a stored Admin key).
    Sync {
        /// Read from this day (YYYY-MM-DD or an age: 30d) instead of where the last sync stopped.
        #[arg(long)]
        since: Option<String>,
        /// Daily buckets per API page (1-31).
        #[arg(long, default_value_t = 31)]
        page_days: u32,
    },
    /// Cost from the cache, per group and period.
    Report {
        /// instance, owner (client), purpose, workspace or model.
        #[arg(long, default_value = "instance", value_parser = parse_by)]
        by: CostGroupBy,
        /// day, week or month.
        #[arg(long, default_value = "month", value_parser = parse_period)]
        period: CostPeriod,
        /// First day (YYYY-MM-DD or an age: 30d), moved back to the start of its period so no
        /// period is cut short.
        #[arg(long)]
        since: Option<String>,
        /// Last day (YYYY-MM-DD).
        #[arg(long)]
        until: Option<String>,
        /// Print CSV instead of a table.
        #[arg(long, conflicts_with = "json")]
        csv: bool,
    },
    /// Keys that spend without an owner (no instance in the inventory holds them), most spent first.
    Unowned {
        #[arg(long)]
        since: Option<String>,
    },
    /// Retire a key that spends without an owner: set it inactive at the Admin API (audited;
    /// reversible in the Console).
    Deactivate {
        /// The Console id (apikey_…) from `cost unowned`.
        api_key_id: String,
        /// Do not ask.
        #[arg(long, short)]
        yes: bool,
    },
    /// Computed cost beside the cost report, per workspace and day; unexplained differences are findings.
    Reconcile {
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        /// Differences up to this many USD are rounding.
        #[arg(long, default_value_t = 0.01)]
        threshold_usd: f64,
        /// … or up to this percent of the reported cost, whichever is larger.
        #[arg(long, default_value_t = 1.0)]
        threshold_percent: f64,
    },
    /// Monthly budgets per instance or owner.
    #[command(subcommand)]
    Budget(BudgetCmd),
    /// The price table in use (shipped, with the data directory's prices.json merged over it).
    Prices,
    /// Anthropic's configured rate limits (Admin API), organisation and workspaces, from the
    /// cache (`cost sync` refreshes it).
    Limits {
        /// Read them from the Admin API first (needs a stored Admin key).
        #[arg(long)]
        refresh: bool,
        /// Also list the values workspaces inherit from the organisation (default: only their overrides).
        #[arg(long)]
        all: bool,
    },
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct BudgetTarget {
    #[arg(long)]
    instance: Option<String>,
    /// An owner (client or team).
    #[arg(long)]
    owner: Option<String>,
}

impl BudgetTarget {
    fn scope(&self) -> (BudgetScope, String) {
        match (&self.instance, &self.owner) {
            (Some(i), _) => (BudgetScope::Instance, i.clone()),
            (None, Some(o)) => (BudgetScope::Owner, o.clone()),
            (None, None) => (BudgetScope::Instance, String::new()),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum BudgetCmd {
    /// Set a monthly budget.
    Set {
        #[command(flatten)]
        target: BudgetTarget,
        /// USD per calendar month.
        #[arg(long)]
        monthly_usd: f64,
        /// Warn at this percent of the budget (repeat; default 80 and 100).
        #[arg(long = "warn-at")]
        warn_at: Vec<u32>,
    },
    /// Budgets.
    List,
    /// Remove a budget.
    Remove {
        #[command(flatten)]
        target: BudgetTarget,
    },
    /// This month's spend and forecast against every budget, and against Anthropic's spend
    /// limits; exit 1 when one is over or forecast over.
    Check,
    /// Anthropic's spend limits (Admin API, early access) beside the budgets: limit, spent this
    /// period, percent used; from the cache (`cost sync` refreshes it).
    SpendLimits {
        /// Read them from the Admin API first (needs a stored Admin key).
        #[arg(long)]
        refresh: bool,
        /// Warn at this percent of an Anthropic limit (repeat; saved; default 80 and 100).
        #[arg(long = "warn-at")]
        warn_at: Vec<u32>,
    },
}

fn parse_by(s: &str) -> Result<CostGroupBy, String> {
    CostGroupBy::parse(s).ok_or_else(|| format!("'{s}': use instance, owner, purpose, workspace or model"))
}

fn parse_period(s: &str) -> Result<CostPeriod, String> {
    CostPeriod::parse(s).ok_or_else(|| format!("'{s}': use day, week or month"))
}

fn day(s: &Option<String>) -> Result<Option<NaiveDate>> {
    s.as_deref().map(|s| crate::args::parse_since(s).map(|t| t.date_naive())).transpose()
}

/// `$12.34`, `$0.0040` below a dollar.
fn money(usd: f64) -> String {
    if usd != 0.0 && usd.abs() < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// The cost cell: never $0 for usage the table cannot price.
fn cost_cell(r: &CostReportRow) -> String {
    if r.fully_unpriced() {
        "unpriced".into()
    } else if !r.unpriced_models.is_empty() {
        format!("{} + unpriced", money(r.cost_usd))
    } else {
        money(r.cost_usd)
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn run(ck: &Clawkeep, c: CostCmd, json: bool) -> Result<()> {
    match c {
        CostCmd::Sync { since, page_days } => sync(ck, day(&since)?, page_days, json),
        CostCmd::Report { by, period, since, until, csv } => {
            let r = ck.cost_report(&CostQuery { group_by: by, period, since: day(&since)?, until: day(&until)?, only: None })?;
            if json {
                output::json(&r);
            } else if csv {
                println!("group,unowned,period,period_start,cost_usd,priced,uncached_input_tokens,cache_write_5m_tokens,cache_write_1h_tokens,cache_read_tokens,output_tokens,web_search_requests,unpriced_models");
                for x in &r.rows {
                    let t = &x.tokens;
                    println!(
                        "{},{},{},{},{},{},{},{},{},{},{},{},{}",
                        csv_field(&x.group),
                        x.unowned,
                        x.period,
                        x.period_start,
                        if x.fully_unpriced() { String::new() } else { format!("{:.6}", x.cost_usd) },
                        if x.unpriced_models.is_empty() {
                            "yes"
                        } else if x.fully_unpriced() {
                            "no"
                        } else {
                            "partly"
                        },
                        t.uncached_input,
                        t.cache_write_5m,
                        t.cache_write_1h,
                        t.cache_read,
                        t.output,
                        t.web_search_requests,
                        csv_field(&x.unpriced_models.join(" "))
                    );
                }
            } else if r.rows.is_empty() {
                println!("No usage in the cache for that window. Sync first: `clawkeep cost sync`.");
            } else {
                let rows: Vec<Vec<String>> = r
                    .rows
                    .iter()
                    .map(|x| {
                        let mut note = Vec::new();
                        if x.unowned {
                            note.push("UNOWNED: no instance holds this key (`clawkeep cost unowned`, `clawkeep cost deactivate`)".to_string());
                        }
                        if !x.unpriced_models.is_empty() {
                            note.push(format!("unpriced: {}", x.unpriced_models.join(", ")));
                        }
                        vec![x.group.clone(), x.period.clone(), cost_cell(x), (x.tokens.total() - x.tokens.output).to_string(), x.tokens.output.to_string(), note.join("; ")]
                    })
                    .collect();
                let by = format!("{:?}", r.group_by).to_uppercase();
                table(&[&by, "PERIOD", "COST", "INPUT TOKENS", "OUTPUT TOKENS", "NOTE"], &rows);
                println!();
                let unpriced = if r.unpriced_models.is_empty() { String::new() } else { format!(" + unpriced usage of {} (not in the price table)", r.unpriced_models.join(", ")) };
                println!("Total: {}{unpriced}", money(r.total_usd));
            }
            Ok(())
        }
        CostCmd::Unowned { since } => {
            let keys = ck.cost_unowned(day(&since)?)?;
            if json {
                output::json(&keys);
            } else if keys.is_empty() {
                println!("No usage on keys outside the inventory.");
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        let spent = if k.spent_pico == 0 && !k.unpriced_models.is_empty() {
                            "unpriced".to_string()
                        } else if k.unpriced_models.is_empty() {
                            money(k.spent_usd)
                        } else {
                            format!("{} + unpriced", money(k.spent_usd))
                        };
                        vec![
                            k.api_key_id.clone(),
                            k.hint.clone().unwrap_or_default(),
                            k.name.clone().unwrap_or_default(),
                            k.workspace_id.clone().unwrap_or_default(),
                            k.status.clone().unwrap_or_default(),
                            spent,
                            format!("{}..{}", k.first_day, k.last_day),
                            k.inventory_key.as_ref().map(|n| format!("inventory key '{n}', bound to no instance")).unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(&["KEY ID", "HINT", "NAME", "WORKSPACE", "STATUS", "SPENT", "DAYS", "NOTE"], &rows);
                println!();
                println!("These keys spend without an owner. Retire one nobody claims: `clawkeep cost deactivate KEY-ID`;");
                println!("or record the Console id on the inventory key that is it (`clawkeep key add … --key-id`).");
            }
            Ok(())
        }
        CostCmd::Deactivate { api_key_id, yes } => {
            if !yes && !crate::input::confirm(&format!("Deactivate {api_key_id} at the Anthropic API (requests with it will fail with 401)?"), "pass --yes")? {
                bail!("not deactivated");
            }
            let r = ck.deactivate_unowned_key(&api_key_id)?;
            if json {
                output::json(&r);
            } else {
                println!(
                    "{} ({}, {}) is now {} at the Anthropic API.",
                    r.id,
                    r.partial_key_hint.as_deref().unwrap_or("no hint"),
                    if r.name.is_empty() { "unnamed" } else { &r.name },
                    r.status
                );
            }
            Ok(())
        }
        CostCmd::Reconcile { since, until, threshold_usd, threshold_percent } => {
            let r = ck.cost_reconcile(day(&since)?, day(&until)?, ReconcileOptions { threshold_usd, threshold_ratio: threshold_percent / 100.0 })?;
            if json {
                output::json(&r);
            } else if r.rows.is_empty() {
                println!("Nothing to reconcile in the cache for that window. Sync first: `clawkeep cost sync`.");
            } else {
                let rows: Vec<Vec<String>> = r
                    .rows
                    .iter()
                    .map(|x| {
                        vec![
                            x.day.to_string(),
                            x.workspace.clone(),
                            money(x.computed_usd),
                            money(x.reported_usd),
                            money(x.difference_usd),
                            format!("{:?}", x.status).to_lowercase(),
                            x.explanations.join("; "),
                        ]
                    })
                    .collect();
                table(&["DAY", "WORKSPACE", "COMPUTED", "REPORTED", "DIFFERENCE", "STATUS", "EXPLANATION"], &rows);
                println!();
                println!("{} finding(s): differences beyond the threshold that nothing explains.", r.findings);
            }
            Ok(())
        }
        CostCmd::Budget(b) => budget(ck, b, json),
        CostCmd::Limits { refresh, all } => {
            let l = if refresh { ck.refresh_rate_limits()? } else { ck.rate_limits()? };
            if json {
                output::json(&l);
            } else if l.entries.is_empty() {
                println!("No rate limits cached. Read them with `clawkeep cost limits --refresh` (or `clawkeep cost sync`); both need a stored Admin key.");
            } else {
                print_limits(&l, all);
            }
            // With --json the notes are in the document (stderr holds only an error).
            if !json {
                for n in &l.notes {
                    eprintln!("note: {n}");
                }
            }
            Ok(())
        }
        CostCmd::Prices => {
            let t = ck.price_table()?;
            if json {
                output::json(&t);
            } else {
                let usd_mtok = |p: i64| format!("{:.4}", p as f64 / 1e6);
                let rows: Vec<Vec<String>> = t
                    .models
                    .iter()
                    .map(|m| {
                        vec![
                            m.model.clone(),
                            m.effective_from.to_string(),
                            usd_mtok(m.input),
                            usd_mtok(m.output),
                            usd_mtok(m.cache_write_5m),
                            usd_mtok(m.cache_write_1h),
                            usd_mtok(m.cache_read),
                            format!("{}%", m.batch_discount_ppm / 10_000),
                            m.long_context.map(|(i, o)| format!("{}/{}", usd_mtok(i), usd_mtok(o))).unwrap_or_default(),
                            m.source.clone(),
                        ]
                    })
                    .collect();
                table(&["MODEL", "FROM", "INPUT", "OUTPUT", "CACHE 5M", "CACHE 1H", "CACHE READ", "BATCH", "LONG CTX", "SOURCE"], &rows);
                println!();
                println!("USD per million tokens; web search ${:.2} per 1,000.", t.web_search as f64 * 1000.0 / 1e12);
                match &t.override_path {
                    Some(p) => println!("Overrides merged from {p}."),
                    None => println!("Override or add prices in {}/prices.json (same shape as the shipped table).", ck.data_dir().display()),
                }
            }
            Ok(())
        }
    }
}

fn sync(ck: &Clawkeep, since: Option<NaiveDate>, page_days: u32, json: bool) -> Result<()> {
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    // Ctrl-C stops between pages; what was committed stays and the next sync resumes there.
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
            rt.block_on(async {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("\ncancelling after the page in flight (what was read is kept)…");
                    c2.cancel();
                }
            });
        }
    });
    // Progress on stderr for people; with --json stderr holds only the error document.
    let progress = |p: &clawkeep_core::cost::SyncProgress| {
        if json {
            return;
        }
        if p.report == "keys" {
            eprintln!("[sync] API keys listed");
        } else {
            eprintln!(
                "[sync] {} report: page {} saved, days before {} stored ({}..{}){}",
                p.report,
                p.pages,
                p.done_until,
                p.start,
                p.end,
                if p.retries > 0 { format!(", {} retries after 429/529", p.retries) } else { String::new() }
            );
        }
    };
    let r = ck.cost_sync(&CostSyncOptions { since, page_days: Some(page_days) }, &progress, &cancel)?;
    if json {
        output::json(&r);
    } else {
        println!(
            "Synced {} API keys; usage: {} rows in {} pages from {}; cost: {} lines in {} pages from {}.",
            r.keys,
            r.usage.rows,
            r.usage.pages,
            r.usage.start.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            r.cost.rows,
            r.cost.pages,
            r.cost.start.map(|d| d.to_string()).unwrap_or_else(|| "-".into())
        );
        if r.rate_limits > 0 {
            println!("Read {} configured rate-limit values (`clawkeep cost limits`).", r.rate_limits);
        }
        if r.spend_limits > 0 {
            println!("Read {} Anthropic spend limits (`clawkeep cost budget spend-limits`).", r.spend_limits);
        }
        if r.spend_limits_availability == clawkeep_core::cost::spend_limits::SpendLimitsAvailability::NotAvailable {
            println!("{}", clawkeep_core::cost::spend_limits::NOT_AVAILABLE);
        }
        if r.cancelled {
            println!("Cancelled: what was read is kept; `clawkeep cost sync` resumes there.");
        }
        for n in &r.notes {
            println!("Note: {n}");
        }
    }
    if r.cancelled {
        bail!("sync cancelled");
    }
    Ok(())
}

fn budget(ck: &Clawkeep, c: BudgetCmd, json: bool) -> Result<()> {
    match c {
        BudgetCmd::Set { target, monthly_usd, warn_at } => {
            let (scope, name) = target.scope();
            let b = ck.set_budget(&BudgetSpec { scope, name, monthly_usd, warn_at })?;
            if json {
                output::json(&b);
            } else {
                println!(
                    "Budget for {} {}: {} a month, warnings at {}.",
                    b.scope.as_str(),
                    b.name,
                    money(b.monthly_usd),
                    b.warn_at.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(", ")
                );
            }
        }
        BudgetCmd::List => {
            let bs = ck.budgets()?;
            if json {
                output::json(&bs);
            } else if bs.is_empty() {
                println!("No budgets. Set one with `clawkeep cost budget set --owner OWNER --monthly-usd 500`.");
            } else {
                let rows: Vec<Vec<String>> = bs
                    .iter()
                    .map(|b| vec![b.scope.as_str().into(), b.name.clone(), money(b.monthly_usd), b.warn_at.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(", ")])
                    .collect();
                table(&["SCOPE", "NAME", "MONTHLY", "WARN AT"], &rows);
            }
            // Anthropic's configured rate limits beside the budgets (the cache; not in --json,
            // whose shape stays the budget list).
            if !json {
                let l = ck.rate_limits()?;
                if !l.entries.is_empty() {
                    println!();
                    println!("Rate limits (Anthropic):");
                    print_limits(&l, false);
                }
                println!();
                print_spend_limits(&ck.spend_limits()?);
            }
        }
        BudgetCmd::Remove { target } => {
            let (scope, name) = target.scope();
            ck.remove_budget(scope, &name)?;
            if !json {
                println!("Removed the budget for {} {name}.", scope.as_str());
            }
        }
        BudgetCmd::Check => {
            let st = ck.budget_check()?;
            // Anthropic's spend limits are judged too (the --json document stays the budget
            // list; `cost budget spend-limits --json` has them).
            let sl = ck.spend_limits()?;
            if json {
                output::json(&st);
            } else if st.is_empty() {
                println!("No budgets.");
            } else {
                let rows: Vec<Vec<String>> = st
                    .iter()
                    .map(|s| {
                        let state = match s.state {
                            BudgetState::Ok => "ok",
                            BudgetState::Warn => "warn",
                            BudgetState::ForecastOver => "FORECAST OVER",
                            BudgetState::Over => "OVER",
                        };
                        vec![
                            format!("{} {}", s.budget.scope.as_str(), s.budget.name),
                            s.month.clone(),
                            money(s.spent_usd),
                            money(s.forecast_usd),
                            money(s.budget.monthly_usd),
                            format!("{:.0}%", s.percent),
                            state.into(),
                            if s.unpriced_models.is_empty() { String::new() } else { format!("spend understated: unpriced {}", s.unpriced_models.join(", ")) },
                        ]
                    })
                    .collect();
                table(&["BUDGET", "MONTH", "SPENT", "FORECAST", "BUDGET/MONTH", "USED", "STATE", "NOTE"], &rows);
            }
            if !json {
                println!();
                print_spend_limits(&sl);
            }
            let mut alerts: Vec<String> = st.iter().filter(|s| s.alert()).map(|s| format!("{} {}", s.budget.scope.as_str(), s.budget.name)).collect();
            alerts.extend(sl.limits.iter().filter(|s| s.alert()).map(|s| format!("Anthropic's {} spend limit", s.scope_label)));
            if !alerts.is_empty() {
                return Err(Reported(ErrorPayload::new("budget_alert", format!("over budget or forecast over: {}", alerts.join(", ")))).into());
            }
        }
        BudgetCmd::SpendLimits { refresh, warn_at } => {
            if !warn_at.is_empty() {
                let t = ck.set_spend_limit_warnings(warn_at)?;
                if !json {
                    println!("Warnings at {} of Anthropic's spend limits.", t.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(", "));
                }
            }
            let sl = if refresh { ck.refresh_spend_limits()? } else { ck.spend_limits()? };
            if json {
                output::json(&sl);
            } else {
                print_spend_limits(&sl);
            }
        }
    }
    Ok(())
}

/// Anthropic's spend limits as a table (limit, spent this period, percent used, state), or the
/// one line saying why there are none to compare.
fn print_spend_limits(sl: &SpendLimits) {
    if let Some(h) = &sl.headline {
        println!("{h}");
        return;
    }
    println!("Spend limits (Anthropic):");
    let rows: Vec<Vec<String>> = sl
        .limits
        .iter()
        .map(|s| {
            let (spent, used, state) = match &s.judgement {
                Some(j) => {
                    let state = match j.state {
                        BudgetState::Ok => "ok".to_string(),
                        BudgetState::Warn => format!("warn ({}%)", j.crossed.unwrap_or_default()),
                        BudgetState::ForecastOver => "FORECAST OVER".into(),
                        BudgetState::Over => "OVER".into(),
                    };
                    (money(j.spent_usd), format!("{:.0}%", j.percent), state)
                }
                None => ("-".into(), "-".into(), "-".into()),
            };
            let mut note = s.note.clone().unwrap_or_default();
            if let Some(j) = s.judgement.as_ref().filter(|j| !j.unpriced_models.is_empty()) {
                note = format!("spend understated: unpriced {}", j.unpriced_models.join(", "));
            }
            vec![s.scope_label.clone(), s.limit.period.clone(), s.amount_label.clone(), spent, used, state, note]
        })
        .collect();
    table(&["SCOPE", "PERIOD", "LIMIT", "SPENT", "USED", "STATE", "NOTE"], &rows);
    if let Some(at) = sl.checked_at {
        println!(
            "Read from the Admin API at {}; warnings at {} (refresh: `clawkeep cost budget spend-limits --refresh`).",
            at.format("%Y-%m-%d %H:%M UTC"),
            sl.warn_at.iter().map(|p| format!("{p}%")).collect::<Vec<_>>().join(", ")
        );
    }
}

/// The configured rate limits as a table: the organisation's, then each workspace's overrides
/// (`all`: also the values it inherits).
fn print_limits(l: &RateLimits, all: bool) {
    let rows: Vec<Vec<String>> = l
        .entries
        .iter()
        .filter(|e| all || e.workspace_id.is_none() || e.source == LimitSource::Workspace)
        .map(|e| {
            let source = match (e.source, e.org_limit) {
                (LimitSource::Workspace, Some(o)) => format!("workspace override (organization {o})"),
                (LimitSource::Workspace, None) => "workspace override".to_string(),
                (LimitSource::Organization, _) if e.workspace_id.is_some() => "inherited".to_string(),
                (LimitSource::Organization, _) => "organization".to_string(),
            };
            vec![e.workspace_id.clone().unwrap_or_else(|| "(organization)".into()), e.group_label().to_string(), e.limiter.clone(), e.value.to_string(), source]
        })
        .collect();
    table(&["WORKSPACE", "GROUP", "LIMIT", "VALUE", "SOURCE"], &rows);
    if let Some(at) = l.fetched_at {
        println!("Read from the Admin API at {} (refresh: `clawkeep cost limits --refresh`).", at.format("%Y-%m-%d %H:%M UTC"));
    }
}
