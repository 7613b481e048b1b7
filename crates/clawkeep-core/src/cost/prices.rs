//! The price table as data: Anthropic's list prices shipped in `prices/anthropic.json`, with a
//! user's `prices.json` in the data directory merged over it (a new model or a negotiated rate
//! needs no release), and the cost of a usage row under it. A model the table does not price on
//! that day is *unpriced* ([`RowCost::Unpriced`]), never $0.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::types::{Pico, Tokens, UsageRow};
use crate::error::{Error, Result};

/// The table shipped with Clawkeep.
pub const SHIPPED: &str = include_str!("../../prices/anthropic.json");
/// The user's override file in the data directory (same shape as the shipped table).
pub const PRICES_OVERRIDE_FILE: &str = "prices.json";
/// The context window billed at the long-context rates.
pub const LONG_CONTEXT_WINDOW: &str = "200k-1M";

/// The document: USD per million tokens.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceDoc {
    #[serde(default, rename = "_comment", skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// USD per 1,000 web searches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search_per_1k: Option<f64>,
    #[serde(default)]
    pub models: Vec<ModelPriceDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPriceDoc {
    pub model: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    pub effective_from: NaiveDate,
    pub input: f64,
    pub output: f64,
    /// Default 1.25 × input.
    #[serde(default)]
    pub cache_write_5m: Option<f64>,
    /// Default 2 × input.
    #[serde(default)]
    pub cache_write_1h: Option<f64>,
    /// Default 0.1 × input.
    #[serde(default)]
    pub cache_read: Option<f64>,
    /// Share taken off token prices for the batch tier (0.5 = −50 %).
    #[serde(default)]
    pub batch_discount: Option<f64>,
    #[serde(default)]
    pub long_context: Option<LongContextDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongContextDoc {
    pub input: f64,
    pub output: f64,
}

/// One model's rates from a date on, in picodollars per token (per search for web search).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct ModelPrice {
    pub model: String,
    pub aliases: Vec<String>,
    pub effective_from: NaiveDate,
    pub input: Pico,
    pub output: Pico,
    pub cache_write_5m: Pico,
    pub cache_write_1h: Pico,
    pub cache_read: Pico,
    /// Parts per million taken off token prices for the batch tier.
    pub batch_discount_ppm: i64,
    /// Long-context (input, output) rates.
    pub long_context: Option<(Pico, Pico)>,
    /// `shipped` or `override`.
    pub source: String,
}

/// The merged table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PriceTable {
    pub models: Vec<ModelPrice>,
    /// Picodollars per web search.
    pub web_search: Pico,
    /// The override file that was merged, if any.
    pub override_path: Option<String>,
}

/// What one usage row costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowCost {
    Priced(Pico),
    /// The table has no price for the model on that day.
    Unpriced,
}

/// USD per million tokens → picodollars per token ($1/MTok = 1e-6 USD = 1,000,000 pico).
fn per_token(usd_per_mtok: f64, what: &str, model: &str) -> Result<Pico> {
    if !usd_per_mtok.is_finite() || !(0.0..=1_000_000.0).contains(&usd_per_mtok) {
        return Err(Error::invalid("prices", format!("model '{model}': {what} must be a price in USD per million tokens between 0 and 1000000")));
    }
    Ok((usd_per_mtok * 1_000_000.0).round() as Pico)
}

fn convert(m: &ModelPriceDoc, source: &str) -> Result<ModelPrice> {
    let name = m.model.trim();
    if name.is_empty() {
        return Err(Error::invalid("prices", "a model entry has an empty model id"));
    }
    let input = per_token(m.input, "input", name)?;
    let opt = |v: Option<f64>, what: &str, default: f64| -> Result<Pico> { per_token(v.unwrap_or(m.input * default), what, name) };
    let discount = m.batch_discount.unwrap_or(0.0);
    if !discount.is_finite() || !(0.0..1.0).contains(&discount) {
        return Err(Error::invalid("prices", format!("model '{name}': batch_discount must be a share from 0 up to (not including) 1, e.g. 0.5")));
    }
    let long_context = match &m.long_context {
        Some(l) => Some((per_token(l.input, "long_context.input", name)?, per_token(l.output, "long_context.output", name)?)),
        None => None,
    };
    Ok(ModelPrice {
        model: name.to_string(),
        aliases: m.aliases.iter().map(|a| a.trim().to_string()).filter(|a| !a.is_empty()).collect(),
        effective_from: m.effective_from,
        input,
        output: per_token(m.output, "output", name)?,
        cache_write_5m: opt(m.cache_write_5m, "cache_write_5m", 1.25)?,
        cache_write_1h: opt(m.cache_write_1h, "cache_write_1h", 2.0)?,
        cache_read: opt(m.cache_read, "cache_read", 0.1)?,
        batch_discount_ppm: (discount * 1_000_000.0).round() as i64,
        long_context,
        source: source.to_string(),
    })
}

fn parse_doc(text: &str, origin: &str) -> Result<PriceDoc> {
    serde_json::from_str(text).map_err(|e| Error::invalid("prices", format!("{origin}: not a price table (line {}, column {}): {}", e.line(), e.column(), short(&e))))
}

/// serde's message without the echoed input (a price file is the user's, but keep it short).
fn short(e: &serde_json::Error) -> String {
    let s = e.to_string();
    s.split(" at line ").next().unwrap_or(&s).chars().take(200).collect()
}

impl PriceTable {
    /// The shipped table alone.
    pub fn shipped() -> Result<PriceTable> {
        Self::merged(SHIPPED, None, None)
    }

    /// The shipped table with `override_text` (the user's file at `override_path`) merged over
    /// it: an entry with the same model and `effective_from` replaces the shipped one, others
    /// are added; `web_search_per_1k` replaces the shipped rate.
    pub fn merged(shipped: &str, override_text: Option<&str>, override_path: Option<&str>) -> Result<PriceTable> {
        let base = parse_doc(shipped, "the shipped price table")?;
        let mut models = base.models.iter().map(|m| convert(m, "shipped")).collect::<Result<Vec<_>>>()?;
        let mut web = base.web_search_per_1k.unwrap_or(10.0);
        if let Some(text) = override_text {
            let origin = override_path.unwrap_or(PRICES_OVERRIDE_FILE);
            let doc = parse_doc(text, origin)?;
            if let Some(c) = doc.currency.as_deref() {
                if c != "USD" {
                    return Err(Error::invalid("prices", format!("{origin}: currency '{c}' is not supported (the Anthropic reports are in USD)")));
                }
            }
            if let Some(w) = doc.web_search_per_1k {
                web = w;
            }
            for m in &doc.models {
                let mut p = convert(m, "override").map_err(|e| Error::invalid("prices", format!("{origin}: {e}")))?;
                // The replaced entry's aliases still name the model.
                for x in models.iter().filter(|x| x.model == p.model) {
                    for a in &x.aliases {
                        if !p.aliases.contains(a) {
                            p.aliases.push(a.clone());
                        }
                    }
                }
                models.retain(|x| !(x.model == p.model && x.effective_from == p.effective_from));
                models.push(p);
            }
        }
        if !web.is_finite() || !(0.0..=1_000_000.0).contains(&web) {
            return Err(Error::invalid("prices", "web_search_per_1k must be a price in USD per 1,000 searches"));
        }
        models.sort_by(|a, b| a.model.cmp(&b.model).then(a.effective_from.cmp(&b.effective_from)));
        Ok(PriceTable { models, web_search: (web * 1_000_000_000.0).round() as Pico, override_path: override_text.and(override_path).map(str::to_string) })
    }

    /// The months (first days) in which some price takes effect after day 1: a month sum
    /// there would be priced at one rate, so such months are priced per day.
    pub fn months_with_changes(&self) -> std::collections::BTreeSet<NaiveDate> {
        self.models.iter().filter(|m| m.effective_from.day() != 1).map(|m| super::months::month_start(m.effective_from)).collect()
    }

    /// The rates of `model` on `day`: the entry with the latest `effective_from` not after
    /// `day`. An alias names the model whose entry lists it (an override entry need not repeat
    /// the aliases).
    pub fn price(&self, model: &str, day: NaiveDate) -> Option<&ModelPrice> {
        let id = if self.models.iter().any(|m| m.model == model) { model } else { self.models.iter().find(|m| m.aliases.iter().any(|a| a == model)).map(|m| m.model.as_str())? };
        self.models.iter().filter(|m| m.model == id && m.effective_from <= day).max_by_key(|m| m.effective_from)
    }

    /// What a usage row costs.
    pub fn cost(&self, row: &UsageRow) -> RowCost {
        match self.price(&row.model, row.day) {
            Some(p) => RowCost::Priced(p.cost(&row.tokens, &row.service_tier, &row.context_window, self.web_search)),
            None => RowCost::Unpriced,
        }
    }
}

impl ModelPrice {
    /// Tokens × rates: long-context rates in the 200k-1M window (cache rates scale with the
    /// input rate), the batch discount on tokens for the batch tier, web searches at `search`.
    pub fn cost(&self, t: &Tokens, service_tier: &str, context_window: &str, search: Pico) -> Pico {
        let (inp, out) = match (context_window == LONG_CONTEXT_WINDOW, self.long_context) {
            (true, Some(lc)) => lc,
            _ => (self.input, self.output),
        };
        let scale = |rate: Pico| -> i128 {
            if self.input == 0 {
                rate as i128
            } else {
                rate as i128 * inp as i128 / self.input as i128
            }
        };
        let mut tokens: i128 = t.uncached_input as i128 * inp as i128
            + t.output as i128 * out as i128
            + t.cache_write_5m as i128 * scale(self.cache_write_5m)
            + t.cache_write_1h as i128 * scale(self.cache_write_1h)
            + t.cache_read as i128 * scale(self.cache_read);
        if service_tier == "batch" {
            tokens = tokens * (1_000_000 - self.batch_discount_ppm) as i128 / 1_000_000;
        }
        let total = tokens + t.web_search_requests as i128 * search as i128;
        total.clamp(0, i64::MAX as i128) as Pico
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn row(model: &str, day: &str, t: Tokens) -> UsageRow {
        UsageRow {
            day: d(day),
            api_key_id: Some("apikey_1".into()),
            workspace_id: None,
            model: model.into(),
            service_tier: "standard".into(),
            context_window: "0-200k".into(),
            tokens: t,
        }
    }

    #[test]
    fn shipped_table_parses_and_prices_every_fixture_model() {
        let t = PriceTable::shipped().unwrap();
        assert!(t.models.len() >= 10);
        let p = t.price("claude-sonnet-4-5", d("2026-01-01")).expect("alias resolves");
        assert_eq!(p.model, "claude-sonnet-4-5-20250929");
        assert_eq!((p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read), (3_000_000, 15_000_000, 3_750_000, 6_000_000, 300_000));
        assert_eq!(t.web_search, 10_000_000_000, "1 cent per search");
    }

    #[test]
    fn cost_is_tokens_times_rates_exactly() {
        let t = PriceTable::shipped().unwrap();
        let tok = Tokens { uncached_input: 1_000_000, output: 1_000_000, cache_write_5m: 1_000_000, cache_write_1h: 1_000_000, cache_read: 1_000_000, web_search_requests: 3 };
        // Sonnet 4.5: 3 + 15 + 3.75 + 6 + 0.3 = $28.05, plus 3 searches at 1 cent.
        assert_eq!(t.cost(&row("claude-sonnet-4-5-20250929", "2026-01-01", tok)), RowCost::Priced(28_080_000_000_000));
        // 1,500 input + 500 output on Haiku 4.5: 1500 × $1/M + 500 × $5/M = $0.004.
        let small = Tokens { uncached_input: 1500, output: 500, ..Default::default() };
        assert_eq!(t.cost(&row("claude-haiku-4-5", "2026-01-01", small)), RowCost::Priced(4_000_000_000));
    }

    #[test]
    fn batch_discount_and_long_context_apply() {
        let t = PriceTable::shipped().unwrap();
        let tok = Tokens { uncached_input: 1_000_000, output: 1_000_000, cache_read: 1_000_000, web_search_requests: 1, ..Default::default() };
        let mut r = row("claude-sonnet-4-5-20250929", "2026-01-01", tok);
        r.service_tier = "batch".into();
        // (3 + 15 + 0.3) / 2 on tokens; the search is not discounted.
        assert_eq!(t.cost(&r), RowCost::Priced(9_150_000_000_000 + 10_000_000_000));
        r.service_tier = "standard".into();
        r.context_window = LONG_CONTEXT_WINDOW.into();
        // 6 + 22.5 + cache read scaled by 6/3: 0.6.
        assert_eq!(t.cost(&r), RowCost::Priced(29_100_000_000_000 + 10_000_000_000));
        // A model without long-context rates keeps its rates.
        let mut h = row("claude-haiku-4-5", "2026-01-01", Tokens { uncached_input: 1_000_000, ..Default::default() });
        h.context_window = LONG_CONTEXT_WINDOW.into();
        assert_eq!(t.cost(&h), RowCost::Priced(1_000_000_000_000));
    }

    #[test]
    fn unknown_model_or_day_before_its_price_is_unpriced_never_zero() {
        let t = PriceTable::shipped().unwrap();
        let tok = Tokens { uncached_input: 10, ..Default::default() };
        assert_eq!(t.cost(&row("claude-unknown-9", "2026-01-01", tok)), RowCost::Unpriced);
        assert_eq!(t.cost(&row("claude-opus-5-5", "2026-08-11", tok)), RowCost::Unpriced, "before its effective date");
        assert!(matches!(t.cost(&row("claude-opus-5-5", "2026-08-12", tok)), RowCost::Priced(p) if p > 0));
    }

    #[test]
    fn override_replaces_and_adds_with_effective_dates() {
        let o = r#"{"models":[
            {"model":"claude-haiku-4-5-20251001","aliases":["claude-haiku-4-5"],"effective_from":"2026-06-01","input":0.8,"output":4},
            {"model":"claude-sonnet-4-5-20250929","effective_from":"2025-09-29","input":2,"output":10,"batch_discount":0},
            {"model":"acme-private-model","effective_from":"2026-01-01","input":1,"output":2}],
            "web_search_per_1k": 5}"#;
        let t = PriceTable::merged(SHIPPED, Some(o), Some("/data/prices.json")).unwrap();
        assert_eq!(t.override_path.as_deref(), Some("/data/prices.json"));
        // A negotiated Haiku rate from June on; the list price before.
        assert_eq!(t.price("claude-haiku-4-5", d("2026-05-31")).unwrap().input, 1_000_000);
        let june = t.price("claude-haiku-4-5", d("2026-06-01")).unwrap();
        assert_eq!((june.input, june.cache_write_5m, june.cache_read, june.source.as_str()), (800_000, 1_000_000, 80_000, "override"));
        // Same model and date: replaced, not duplicated.
        assert_eq!(t.models.iter().filter(|m| m.model == "claude-sonnet-4-5-20250929").count(), 1);
        assert_eq!(t.price("claude-sonnet-4-5", d("2026-01-01")).unwrap().input, 2_000_000);
        assert!(t.price("acme-private-model", d("2026-02-01")).is_some());
        assert_eq!(t.web_search, 5_000_000_000);
    }

    #[test]
    fn bad_override_is_a_clear_error() {
        for (text, needle) in [
            ("{", "line"),
            (r#"{"models":[{"model":"m","effective_from":"2026-01-01","input":-1,"output":1}]}"#, "input"),
            (r#"{"models":[{"model":"m","effective_from":"2026-13-01","input":1,"output":1}]}"#, "line"),
            (r#"{"models":[{"model":"m","effective_from":"2026-01-01","input":1,"output":1,"batch_discount":1.5}]}"#, "batch_discount"),
            (r#"{"models":[{"model":"m","effective_from":"2026-01-01","input":1,"output":1,"imput":2}]}"#, "imput"),
            (r#"{"currency":"EUR","models":[]}"#, "EUR"),
        ] {
            let e = PriceTable::merged(SHIPPED, Some(text), Some("p.json")).unwrap_err();
            assert_eq!(e.code(), "invalid_input");
            assert!(e.to_string().contains(needle), "{text}: {e}");
            assert!(e.to_string().contains("p.json"), "{e}");
        }
    }
}
