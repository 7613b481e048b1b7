//! Reconciliation: per workspace and day, the cost computed from usage × the price table beside
//! the cost report's, the difference, and what explains it where the data can (non-token lines
//! such as code execution appear only in the cost report; usage of a model the table does not
//! price is not computed). What stays unexplained beyond the threshold is a finding.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::aggregate::DEFAULT_WORKSPACE;
use super::prices::{PriceTable, RowCost};
use super::types::{usd, CostLine, Pico, UsageRow, PICO_PER_USD};

/// When a difference is a finding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReconcileOptions {
    /// Unexplained differences up to this many USD are rounding.
    pub threshold_usd: f64,
    /// … or up to this share of the reported cost, whichever is larger.
    pub threshold_ratio: f64,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        ReconcileOptions { threshold_usd: 0.01, threshold_ratio: 0.01 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ReconcileStatus {
    /// Within the threshold.
    Match,
    /// Beyond it, but the explanations account for it.
    Explained,
    /// Beyond it and not explained: a finding.
    Finding,
    /// Only one side has data for the day (the other report not synced, or no usage).
    Missing,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ReconcileRow {
    pub day: NaiveDate,
    /// `(default workspace)` for the Default Workspace.
    pub workspace: String,
    pub computed_usd: f64,
    pub reported_usd: f64,
    /// Reported − computed.
    pub difference_usd: f64,
    /// The part of the difference nothing explains.
    pub unexplained_usd: f64,
    pub status: ReconcileStatus,
    pub explanations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reconciliation {
    pub options: ReconcileOptions,
    pub rows: Vec<ReconcileRow>,
    /// Rows whose status is `finding`.
    pub findings: u32,
}

#[derive(Default)]
struct Side {
    computed: Pico,
    has_usage: bool,
    unpriced_models: BTreeSet<String>,
    reported: Pico,
    has_report: bool,
    /// cost_type → amount, for lines the usage report has no counterpart of.
    non_token: BTreeMap<String, Pico>,
    /// model → reported amount, for models the table does not price.
    reported_by_model: BTreeMap<String, Pico>,
}

/// Cost types the usage report also carries (tokens, web searches), so they are computed.
fn computed_type(cost_type: &str) -> bool {
    matches!(cost_type, "tokens" | "web_search")
}

fn money(p: Pico) -> String {
    format!("${:.4}", usd(p))
}

/// Reconciles usage and cost lines day by day, workspace by workspace, within `since..=until`.
pub fn reconcile(usage: &[UsageRow], lines: &[CostLine], prices: &PriceTable, opts: ReconcileOptions, since: Option<NaiveDate>, until: Option<NaiveDate>) -> Reconciliation {
    let within = |d: NaiveDate| since.is_none_or(|s| d >= s) && until.is_none_or(|u| d <= u);
    let mut sides: BTreeMap<(NaiveDate, String), Side> = BTreeMap::new();
    let ws = |w: &Option<String>| w.clone().unwrap_or_else(|| DEFAULT_WORKSPACE.into());
    for r in usage.iter().filter(|r| within(r.day)) {
        let s = sides.entry((r.day, ws(&r.workspace_id))).or_default();
        s.has_usage = true;
        match prices.cost(r) {
            RowCost::Priced(p) => s.computed += p,
            RowCost::Unpriced => {
                s.unpriced_models.insert(r.model.clone());
            }
        }
    }
    for l in lines.iter().filter(|l| within(l.day)) {
        let s = sides.entry((l.day, ws(&l.workspace_id))).or_default();
        s.has_report = true;
        s.reported += l.amount_pico;
        if !computed_type(&l.cost_type) {
            *s.non_token.entry(l.cost_type.clone()).or_default() += l.amount_pico;
        } else if let Some(m) = &l.model {
            *s.reported_by_model.entry(m.clone()).or_default() += l.amount_pico;
        }
    }
    let mut rows = Vec::new();
    for ((day, workspace), s) in sides {
        let diff = s.reported - s.computed;
        let mut explained: Pico = 0;
        let mut explanations = Vec::new();
        for (t, amt) in &s.non_token {
            explained += amt;
            explanations.push(format!("{} of {t} appears only in the cost report (the usage report has no tokens for it)", money(*amt)));
        }
        for m in &s.unpriced_models {
            let amt = s.reported_by_model.get(m).copied().unwrap_or(0);
            explained += amt;
            explanations.push(format!("model {m} is not in the price table: its usage is not computed (the cost report charges {} for it)", money(amt)));
        }
        let unexplained = diff - explained;
        let limit = ((opts.threshold_usd * PICO_PER_USD as f64) as Pico).max((opts.threshold_ratio * s.reported as f64) as Pico);
        let status = if !s.has_usage || !s.has_report {
            if !s.has_report {
                explanations.push("no cost report lines for this day and workspace (not synced yet, or the report has not caught up)".into());
            } else {
                explanations.push("no usage for this day and workspace (Workbench without a key, or usage not synced yet)".into());
            }
            ReconcileStatus::Missing
        } else if diff.abs() <= limit {
            ReconcileStatus::Match
        } else if unexplained.abs() <= limit {
            ReconcileStatus::Explained
        } else {
            explanations.push(format!(
                "{} unexplained: the price table differs from what Anthropic billed (a negotiated rate, a price change, or a multiplier the table lacks)",
                money(unexplained)
            ));
            ReconcileStatus::Finding
        };
        rows.push(ReconcileRow {
            day,
            workspace,
            computed_usd: usd(s.computed),
            reported_usd: usd(s.reported),
            difference_usd: usd(diff),
            unexplained_usd: usd(unexplained),
            status,
            explanations,
        });
    }
    let findings = rows.iter().filter(|r| r.status == ReconcileStatus::Finding).count() as u32;
    Reconciliation { options: opts, rows, findings }
}

#[cfg(test)]
mod tests {
    use super::super::aggregate::tests::{d, row};
    use super::*;

    const USD: Pico = PICO_PER_USD;

    fn line(day: &str, ws: Option<&str>, cost_type: &str, model: Option<&str>, amount: Pico) -> CostLine {
        CostLine {
            day: d(day),
            workspace_id: ws.map(str::to_string),
            description: None,
            cost_type: cost_type.into(),
            model: model.map(str::to_string),
            service_tier: None,
            token_type: None,
            context_window: None,
            amount_pico: amount,
            currency: "USD".into(),
        }
    }

    const HAIKU: &str = "claude-haiku-4-5";

    #[test]
    fn match_explained_finding_missing() {
        let p = PriceTable::shipped().unwrap();
        let usage = vec![
            // A: $6 computed, $6 reported.
            row("2026-12-01", Some("k"), Some("wrkspc_A"), HAIKU, 1_000_000, 1_000_000),
            // B: $1 computed; reported $1 + $0.50 code execution.
            row("2026-12-01", Some("k"), Some("wrkspc_B"), HAIKU, 1_000_000, 0),
            // C: $1 computed, $0.80 billed (a negotiated rate nobody entered).
            row("2026-12-01", Some("k"), Some("wrkspc_C"), HAIKU, 1_000_000, 0),
            // D: unknown model, billed $2.
            row("2026-12-01", Some("k"), Some("wrkspc_D"), "claude-nova-9", 10, 10),
            // E: usage only.
            row("2026-12-02", Some("k"), Some("wrkspc_A"), HAIKU, 1_000_000, 0),
        ];
        let lines = vec![
            line("2026-12-01", Some("wrkspc_A"), "tokens", Some("claude-haiku-4-5-20251001"), 6 * USD - 3_000_000_000), // 0.3 cent off: rounding
            line("2026-12-01", Some("wrkspc_B"), "tokens", Some("claude-haiku-4-5-20251001"), USD),
            line("2026-12-01", Some("wrkspc_B"), "code_execution", None, USD / 2),
            line("2026-12-01", Some("wrkspc_C"), "tokens", Some("claude-haiku-4-5-20251001"), USD * 8 / 10),
            line("2026-12-01", Some("wrkspc_D"), "tokens", Some("claude-nova-9"), 2 * USD),
        ];
        let r = reconcile(&usage, &lines, &p, ReconcileOptions::default(), None, None);
        let st: Vec<(&str, ReconcileStatus)> = r.rows.iter().map(|x| (x.workspace.as_str(), x.status)).collect();
        assert_eq!(
            st,
            vec![
                ("wrkspc_A", ReconcileStatus::Match),
                ("wrkspc_B", ReconcileStatus::Explained),
                ("wrkspc_C", ReconcileStatus::Finding),
                ("wrkspc_D", ReconcileStatus::Explained),
                ("wrkspc_A", ReconcileStatus::Missing),
            ]
        );
        assert_eq!(r.findings, 1);
        let b = &r.rows[1];
        assert!((b.difference_usd - 0.5).abs() < 1e-9 && b.unexplained_usd.abs() < 1e-9);
        assert!(b.explanations[0].contains("code_execution") && b.explanations[0].contains("$0.5000"), "{:?}", b.explanations);
        let c = &r.rows[2];
        assert!((c.difference_usd + 0.2).abs() < 1e-9);
        assert!(c.explanations.iter().any(|e| e.contains("unexplained")), "{:?}", c.explanations);
        assert!(r.rows[3].explanations[0].contains("claude-nova-9"));
        // A looser threshold turns the finding into a match.
        let loose = reconcile(&usage, &lines, &p, ReconcileOptions { threshold_usd: 0.5, threshold_ratio: 0.0 }, None, None);
        assert_eq!(loose.findings, 0);
        // The window applies.
        let one = reconcile(&usage, &lines, &p, ReconcileOptions::default(), Some(d("2026-12-02")), None);
        assert_eq!(one.rows.len(), 1);
    }
}
