//! Cost by instance, owner, purpose, workspace or model, per day, week or month: usage rows
//! priced with the table and summed. Usage on a key no instance holds is its own group, marked
//! `unowned` and listed first; unpriced usage is carried beside the priced sum.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::prices::PriceTable;
use super::types::{usd, Pico, Tokens, UsageRow};

/// The group of usage on a key no instance holds (owner and purpose views).
pub const UNOWNED: &str = "(unowned)";
/// The group of Workbench usage (no key).
pub const WORKBENCH: &str = "(workbench)";
/// The Default Workspace (no id in the reports).
pub const DEFAULT_WORKSPACE: &str = "(default workspace)";

/// What an `apikey_…` id is in the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct KeyOwner {
    /// The inventory key's name.
    pub key: String,
    /// The instance it serves (`None`: in the inventory but bound to no instance).
    pub instance: Option<String>,
    pub owner: Option<String>,
    pub purpose: Option<String>,
}

/// `apikey_…` → what it is in the inventory.
pub type OwnerMap = HashMap<String, KeyOwner>;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CostGroupBy {
    #[default]
    Instance,
    Owner,
    Purpose,
    Workspace,
    Model,
}

impl CostGroupBy {
    pub fn parse(s: &str) -> Option<CostGroupBy> {
        Some(match s {
            "instance" => CostGroupBy::Instance,
            "owner" | "client" => CostGroupBy::Owner,
            "purpose" => CostGroupBy::Purpose,
            "workspace" => CostGroupBy::Workspace,
            "model" => CostGroupBy::Model,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CostPeriod {
    Day,
    Week,
    #[default]
    Month,
}

impl CostPeriod {
    pub fn parse(s: &str) -> Option<CostPeriod> {
        Some(match s {
            "day" => CostPeriod::Day,
            "week" => CostPeriod::Week,
            "month" => CostPeriod::Month,
            _ => return None,
        })
    }

    /// The first day of the period holding `day` (weeks start on Monday, ISO 8601).
    pub fn start(self, day: NaiveDate) -> NaiveDate {
        match self {
            CostPeriod::Day => day,
            CostPeriod::Week => day - Duration::days(day.weekday().num_days_from_monday() as i64),
            CostPeriod::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// `2026-12-05`, `2026-W49`, `2026-12`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            CostPeriod::Day => start.format("%Y-%m-%d").to_string(),
            CostPeriod::Week => {
                let w = start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            CostPeriod::Month => start.format("%Y-%m").to_string(),
        }
    }
}

/// One group in one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CostReportRow {
    /// Instance, owner, purpose, workspace id or model; an `apikey_…` id for usage on a key no
    /// instance holds (instance view).
    pub group: String,
    /// Usage on a key no instance in the inventory holds.
    pub unowned: bool,
    pub period: String,
    pub period_start: NaiveDate,
    /// The priced part, in USD.
    pub cost_usd: f64,
    pub cost_pico: Pico,
    pub tokens: Tokens,
    /// Models the price table does not price: their usage is not in `cost_usd`.
    pub unpriced_models: Vec<String>,
    pub unpriced_tokens: u64,
}

impl CostReportRow {
    /// Nothing in it is priced: show "unpriced", never $0.
    pub fn fully_unpriced(&self) -> bool {
        self.cost_pico == 0 && self.unpriced_tokens > 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct CostReport {
    pub group_by: CostGroupBy,
    pub period: CostPeriod,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub rows: Vec<CostReportRow>,
    pub total_usd: f64,
    pub total_pico: Pico,
    pub unpriced_models: Vec<String>,
    pub unpriced_tokens: u64,
}

#[derive(Default)]
struct Acc {
    pico: Pico,
    tokens: Tokens,
    unpriced: BTreeSet<String>,
    unpriced_tokens: u64,
}

/// The group of a usage row and whether it is unowned.
pub fn group_of(row: &UsageRow, by: CostGroupBy, owners: &OwnerMap) -> (String, bool) {
    let owner = row.api_key_id.as_ref().and_then(|id| owners.get(id)).filter(|o| o.instance.is_some());
    let unowned = row.api_key_id.is_some() && owner.is_none();
    let g = match by {
        CostGroupBy::Model => row.model.clone(),
        CostGroupBy::Workspace => row.workspace_id.clone().unwrap_or_else(|| DEFAULT_WORKSPACE.into()),
        CostGroupBy::Instance => match (&row.api_key_id, owner) {
            (None, _) => WORKBENCH.into(),
            (Some(_), Some(o)) => o.instance.clone().unwrap_or_default(),
            (Some(id), None) => id.clone(),
        },
        CostGroupBy::Owner | CostGroupBy::Purpose => match (&row.api_key_id, owner) {
            (None, _) => WORKBENCH.into(),
            (Some(_), Some(o)) => (if by == CostGroupBy::Owner { o.owner.clone() } else { o.purpose.clone() }).unwrap_or_default(),
            (Some(_), None) => UNOWNED.into(),
        },
    };
    // Grouped by model or workspace, a row is "unowned" only if the whole group is; those
    // views do not single keys out.
    (g, unowned && matches!(by, CostGroupBy::Instance | CostGroupBy::Owner | CostGroupBy::Purpose))
}

/// Prices and sums `rows` (those within `since..=until`) by `by` and `period`. Unowned groups
/// come first (most spent first), then groups by name, periods in order.
pub fn aggregate(rows: &[UsageRow], prices: &PriceTable, owners: &OwnerMap, by: CostGroupBy, period: CostPeriod, since: Option<NaiveDate>, until: Option<NaiveDate>) -> CostReport {
    // First pass, allocation-free: sum per (the one column that decides the row's group,
    // period), pricing each (model, day) once. A month of 1,000 keys is ~100k rows; the groups
    // are then named once per bucket instead of once per row.
    let mut rates: HashMap<(&str, NaiveDate), Option<&super::prices::ModelPrice>> = HashMap::new();
    let mut buckets: HashMap<(Option<&str>, NaiveDate), (&UsageRow, Acc)> = HashMap::new();
    for r in rows.iter().filter(|r| since.is_none_or(|s| r.day >= s) && until.is_none_or(|u| r.day <= u)) {
        let dim = match by {
            CostGroupBy::Model => Some(r.model.as_str()),
            CostGroupBy::Workspace => r.workspace_id.as_deref(),
            CostGroupBy::Instance | CostGroupBy::Owner | CostGroupBy::Purpose => r.api_key_id.as_deref(),
        };
        let e = buckets.entry((dim, period.start(r.day))).or_insert_with(|| (r, Acc::default()));
        e.1.tokens.add(&r.tokens);
        match *rates.entry((r.model.as_str(), r.day)).or_insert_with(|| prices.price(&r.model, r.day)) {
            Some(p) => e.1.pico += p.cost(&r.tokens, &r.service_tier, &r.context_window, prices.web_search),
            None => {
                e.1.unpriced.insert(r.model.clone());
                e.1.unpriced_tokens += r.tokens.total() + r.tokens.web_search_requests;
            }
        }
    }
    let mut acc: BTreeMap<(String, NaiveDate), (bool, Acc)> = BTreeMap::new();
    for ((_, start), (rep, a)) in buckets {
        let (g, unowned) = group_of(rep, by, owners);
        let e = acc.entry((g, start)).or_insert_with(|| (unowned, Acc::default()));
        e.1.pico += a.pico;
        e.1.tokens.add(&a.tokens);
        e.1.unpriced.extend(a.unpriced);
        e.1.unpriced_tokens += a.unpriced_tokens;
    }
    let mut group_spend: HashMap<String, Pico> = HashMap::new();
    for ((g, _), (_, a)) in &acc {
        *group_spend.entry(g.clone()).or_default() += a.pico;
    }
    let mut out: Vec<CostReportRow> = acc
        .into_iter()
        .map(|((group, start), (unowned, a))| CostReportRow {
            group,
            unowned,
            period: period.label(start),
            period_start: start,
            cost_usd: usd(a.pico),
            cost_pico: a.pico,
            tokens: a.tokens,
            unpriced_models: a.unpriced.into_iter().collect(),
            unpriced_tokens: a.unpriced_tokens,
        })
        .collect();
    out.sort_by(|a, b| {
        b.unowned
            .cmp(&a.unowned)
            .then_with(|| if a.unowned && b.unowned { group_spend[&b.group].cmp(&group_spend[&a.group]) } else { std::cmp::Ordering::Equal })
            .then_with(|| a.group.cmp(&b.group))
            .then(a.period_start.cmp(&b.period_start))
    });
    let total_pico = out.iter().map(|r| r.cost_pico).sum();
    let unpriced: BTreeSet<String> = out.iter().flat_map(|r| r.unpriced_models.iter().cloned()).collect();
    CostReport {
        group_by: by,
        period,
        since,
        until,
        total_usd: usd(total_pico),
        total_pico,
        unpriced_tokens: out.iter().map(|r| r.unpriced_tokens).sum(),
        unpriced_models: unpriced.into_iter().collect(),
        rows: out,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    pub(crate) fn row(day: &str, key: Option<&str>, ws: Option<&str>, model: &str, input: u64, output: u64) -> UsageRow {
        UsageRow {
            day: d(day),
            api_key_id: key.map(str::to_string),
            workspace_id: ws.map(str::to_string),
            model: model.into(),
            service_tier: "standard".into(),
            context_window: "0-200k".into(),
            tokens: Tokens { uncached_input: input, output, ..Default::default() },
        }
    }

    pub(crate) fn owners() -> OwnerMap {
        let mut m = OwnerMap::new();
        m.insert("apikey_a".into(), KeyOwner { key: "ka".into(), instance: Some("alpha".into()), owner: Some("acme".into()), purpose: Some("client".into()) });
        m.insert("apikey_b".into(), KeyOwner { key: "kb".into(), instance: Some("beta".into()), owner: Some("acme".into()), purpose: Some("internal-ops".into()) });
        m.insert("apikey_c".into(), KeyOwner { key: "kc".into(), instance: Some("gamma".into()), owner: Some("globex".into()), purpose: Some("client".into()) });
        // In the inventory, bound to nothing: still unowned.
        m.insert("apikey_loose".into(), KeyOwner { key: "loose".into(), instance: None, owner: None, purpose: None });
        m
    }

    const HAIKU: &str = "claude-haiku-4-5";
    const SONNET: &str = "claude-sonnet-4-5-20250929";

    fn rows() -> Vec<UsageRow> {
        vec![
            // alpha: 1M in + 1M out Haiku on two days = 2 × $6.
            row("2026-11-30", Some("apikey_a"), Some("wrkspc_A"), HAIKU, 1_000_000, 1_000_000),
            row("2026-12-01", Some("apikey_a"), Some("wrkspc_A"), HAIKU, 1_000_000, 1_000_000),
            // beta: Sonnet 1M in = $3; and an unknown model.
            row("2026-12-01", Some("apikey_b"), Some("wrkspc_A"), SONNET, 1_000_000, 0),
            row("2026-12-02", Some("apikey_b"), Some("wrkspc_A"), "claude-nova-9", 500, 500),
            // gamma: $15 of Sonnet output.
            row("2026-12-03", Some("apikey_c"), Some("wrkspc_B"), SONNET, 0, 1_000_000),
            // A stranger key, a loose inventory key, Workbench.
            row("2026-12-02", Some("apikey_x"), None, HAIKU, 2_000_000, 0),
            row("2026-12-02", Some("apikey_loose"), None, HAIKU, 1_000_000, 0),
            row("2026-12-02", None, Some("wrkspc_A"), HAIKU, 0, 200_000),
        ]
    }

    const USD: Pico = super::super::types::PICO_PER_USD;

    #[test]
    fn by_instance_and_month_with_unowned_first() {
        let p = PriceTable::shipped().unwrap();
        let r = aggregate(&rows(), &p, &owners(), CostGroupBy::Instance, CostPeriod::Month, None, None);
        let got: Vec<(&str, &str, Pico, bool)> = r.rows.iter().map(|x| (x.group.as_str(), x.period.as_str(), x.cost_pico, x.unowned)).collect();
        assert_eq!(
            got,
            vec![
                ("apikey_x", "2026-12", 2 * USD, true),
                ("apikey_loose", "2026-12", USD, true),
                ("(workbench)", "2026-12", USD, false),
                ("alpha", "2026-11", 6 * USD, false),
                ("alpha", "2026-12", 6 * USD, false),
                ("beta", "2026-12", 3 * USD, false),
                ("gamma", "2026-12", 15 * USD, false),
            ]
        );
        let beta = r.rows.iter().find(|x| x.group == "beta").unwrap();
        assert_eq!(beta.unpriced_models, vec!["claude-nova-9".to_string()]);
        assert_eq!(beta.unpriced_tokens, 1000);
        assert_eq!(r.total_pico, 34 * USD);
        assert_eq!(r.unpriced_models, vec!["claude-nova-9".to_string()]);
    }

    #[test]
    fn by_owner_workspace_model_purpose() {
        let p = PriceTable::shipped().unwrap();
        let o = owners();
        let sum = |by, since| {
            let r = aggregate(&rows(), &p, &o, by, CostPeriod::Month, since, None);
            r.rows.iter().map(|x| (x.group.clone(), x.cost_pico)).fold(BTreeMap::<String, Pico>::new(), |mut m, (g, c)| {
                *m.entry(g).or_default() += c;
                m
            })
        };
        let owner = sum(CostGroupBy::Owner, None);
        assert_eq!(owner["acme"], 15 * USD);
        assert_eq!(owner["globex"], 15 * USD);
        assert_eq!(owner[UNOWNED], 3 * USD);
        assert_eq!(owner[WORKBENCH], USD);
        let ws = sum(CostGroupBy::Workspace, None);
        assert_eq!((ws["wrkspc_A"], ws["wrkspc_B"], ws[DEFAULT_WORKSPACE]), (16 * USD, 15 * USD, 3 * USD));
        let model = sum(CostGroupBy::Model, Some(d("2026-12-01")));
        assert_eq!((model[HAIKU], model[SONNET], model["claude-nova-9"]), (10 * USD, 18 * USD, 0));
        let purpose = sum(CostGroupBy::Purpose, None);
        assert_eq!((purpose["client"], purpose["internal-ops"]), (27 * USD, 3 * USD));
    }

    #[test]
    fn fully_unpriced_group_is_not_zero() {
        let p = PriceTable::shipped().unwrap();
        let r = aggregate(&rows(), &p, &owners(), CostGroupBy::Model, CostPeriod::Day, None, None);
        let nova = r.rows.iter().find(|x| x.group == "claude-nova-9").unwrap();
        assert!(nova.fully_unpriced());
        assert!(!r.rows.iter().find(|x| x.group == HAIKU).unwrap().fully_unpriced());
    }

    #[test]
    fn periods_start_and_label() {
        let day = d("2026-12-05"); // a Saturday
        assert_eq!(CostPeriod::Week.start(day), d("2026-11-30"));
        assert_eq!(CostPeriod::Week.label(d("2026-11-30")), "2026-W49");
        assert_eq!(CostPeriod::Week.label(d("2027-01-04")), "2027-W01");
        assert_eq!(CostPeriod::Week.label(d("2026-12-28")), "2026-W53");
        assert_eq!(CostPeriod::Month.start(day), d("2026-12-01"));
        assert_eq!(CostPeriod::Month.label(d("2026-12-01")), "2026-12");
        assert_eq!(CostPeriod::Day.label(day), "2026-12-05");
        let p = PriceTable::shipped().unwrap();
        let r = aggregate(&rows(), &p, &owners(), CostGroupBy::Instance, CostPeriod::Week, Some(d("2026-12-01")), Some(d("2026-12-02")));
        let alpha: Vec<_> = r.rows.iter().filter(|x| x.group == "alpha").map(|x| (x.period.clone(), x.cost_pico)).collect();
        assert_eq!(alpha, vec![("2026-W49".to_string(), 6 * USD)], "since/until keep only 12-01 and 12-02");
        assert!(r.rows.iter().all(|x| x.group != "gamma"));
    }
}
