//! Keys that spend without an owner: usage on an `apikey_…` id that no instance in the
//! inventory holds (a forgotten test key, a key copied off a host), with the Admin API's hint,
//! name and workspace for it, most spent first. Also how inventory keys are matched to Console
//! ids: by the stored `anthropic_key_id`, else by a hint only one listed key has.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::aggregate::{KeyOwner, OwnerMap};
use super::prices::{PriceTable, RowCost};
use super::types::{usd, ApiKeyRecord, Pico, Tokens, UsageRow};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UnownedKey {
    pub api_key_id: String,
    /// The Console name, from the Admin API's key list (if synced).
    pub name: Option<String>,
    /// The Admin API's `partial_key_hint`.
    pub hint: Option<String>,
    pub workspace_id: Option<String>,
    /// The Admin API's status (`active`, `inactive`, …), if listed.
    pub status: Option<String>,
    /// The inventory key with this id that no instance holds, if any.
    pub inventory_key: Option<String>,
    pub spent_usd: f64,
    pub spent_pico: Pico,
    pub tokens: Tokens,
    pub unpriced_models: Vec<String>,
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
}

/// A key of the inventory as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryKey {
    pub owner: KeyOwner,
    pub anthropic_key_id: Option<String>,
    /// Clawkeep's hint (first 16 + `...` + last 4, the Admin API's format).
    pub hint: String,
}

/// `apikey_…` → inventory key: by the stored Console id; a key without one is matched to the
/// listed key whose `partial_key_hint` equals its hint, when exactly one listed key has it and
/// no other inventory key claims that id.
pub fn owner_map(inventory: &[InventoryKey], listed: &[ApiKeyRecord]) -> OwnerMap {
    let mut m = OwnerMap::new();
    for k in inventory {
        if let Some(id) = &k.anthropic_key_id {
            m.insert(id.clone(), k.owner.clone());
        }
    }
    let mut by_hint: HashMap<&str, Vec<&ApiKeyRecord>> = HashMap::new();
    for r in listed {
        if let Some(h) = r.partial_key_hint.as_deref() {
            by_hint.entry(h).or_default().push(r);
        }
    }
    for k in inventory.iter().filter(|k| k.anthropic_key_id.is_none()) {
        if let Some([one]) = by_hint.get(k.hint.as_str()).map(Vec::as_slice) {
            m.entry(one.id.clone()).or_insert_with(|| k.owner.clone());
        }
    }
    m
}

/// Usage on keys no instance holds, most spent first (unpriced usage after priced, by tokens).
pub fn unowned_keys(usage: &[UsageRow], prices: &PriceTable, owners: &OwnerMap, listed: &[ApiKeyRecord], since: Option<NaiveDate>) -> Vec<UnownedKey> {
    let mut by_id: HashMap<&str, UnownedKey> = HashMap::new();
    let mut unpriced: HashMap<&str, BTreeSet<String>> = HashMap::new();
    for r in usage.iter().filter(|r| since.is_none_or(|s| r.day >= s)) {
        let Some(id) = r.api_key_id.as_deref() else { continue };
        let inv = owners.get(id);
        if inv.is_some_and(|o| o.instance.is_some()) {
            continue;
        }
        let rec = listed.iter().find(|l| l.id == id);
        let e = by_id.entry(id).or_insert_with(|| UnownedKey {
            api_key_id: id.to_string(),
            name: rec.map(|l| l.name.clone()).filter(|n| !n.is_empty()),
            hint: rec.and_then(|l| l.partial_key_hint.clone()),
            workspace_id: rec.and_then(|l| l.workspace_id.clone()).or_else(|| r.workspace_id.clone()),
            status: rec.map(|l| l.status.clone()),
            inventory_key: inv.map(|o| o.key.clone()),
            spent_usd: 0.0,
            spent_pico: 0,
            tokens: Tokens::default(),
            unpriced_models: vec![],
            first_day: r.day,
            last_day: r.day,
        });
        e.tokens.add(&r.tokens);
        e.first_day = e.first_day.min(r.day);
        e.last_day = e.last_day.max(r.day);
        match prices.cost(r) {
            RowCost::Priced(p) => e.spent_pico += p,
            RowCost::Unpriced => {
                unpriced.entry(id).or_default().insert(r.model.clone());
            }
        }
    }
    let mut out: Vec<UnownedKey> = by_id
        .into_iter()
        .map(|(id, mut k)| {
            k.spent_usd = usd(k.spent_pico);
            k.unpriced_models = unpriced.remove(id).map(|s| s.into_iter().collect()).unwrap_or_default();
            k
        })
        .collect();
    out.sort_by(|a, b| b.spent_pico.cmp(&a.spent_pico).then(b.tokens.total().cmp(&a.tokens.total())).then(a.api_key_id.cmp(&b.api_key_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::super::aggregate::tests::{d, owners, row};
    use super::*;

    fn rec(id: &str, hint: &str) -> ApiKeyRecord {
        ApiKeyRecord {
            id: id.into(),
            name: format!("console {id}"),
            partial_key_hint: Some(hint.into()),
            workspace_id: Some("wrkspc_T".into()),
            status: "active".into(),
            created_at: None,
            expires_at: None,
        }
    }

    fn inv(key: &str, instance: Option<&str>, id: Option<&str>, hint: &str) -> InventoryKey {
        InventoryKey {
            owner: KeyOwner { key: key.into(), instance: instance.map(str::to_string), owner: Some("acme".into()), purpose: None },
            anthropic_key_id: id.map(str::to_string),
            hint: hint.into(),
        }
    }

    #[test]
    fn matched_by_id_then_by_a_unique_hint() {
        let listed = vec![rec("apikey_1", "H1"), rec("apikey_2", "H2"), rec("apikey_3", "DUP"), rec("apikey_4", "DUP")];
        let inventory = vec![
            inv("k1", Some("one"), Some("apikey_1"), "whatever"),
            inv("k2", Some("two"), None, "H2"),
            inv("k3", Some("three"), None, "DUP"), // ambiguous: not matched
            inv("k4", Some("four"), None, "H1"),   // apikey_1 is claimed by id already
        ];
        let m = owner_map(&inventory, &listed);
        assert_eq!(m["apikey_1"].key, "k1");
        assert_eq!(m["apikey_2"].key, "k2");
        assert!(!m.contains_key("apikey_3") && !m.contains_key("apikey_4"));
    }

    #[test]
    fn unowned_keys_most_spent_first_with_hint_and_workspace() {
        let p = PriceTable::shipped().unwrap();
        const HAIKU: &str = "claude-haiku-4-5";
        let usage = vec![
            row("2026-12-01", Some("apikey_a"), None, HAIKU, 5_000_000, 0), // owned: alpha
            row("2026-12-01", Some("apikey_x"), Some("wrkspc_U"), HAIKU, 1_000_000, 0),
            row("2026-12-03", Some("apikey_x"), Some("wrkspc_U"), HAIKU, 1_000_000, 0),
            row("2026-12-02", Some("apikey_loose"), None, HAIKU, 3_000_000, 0),
            row("2026-12-02", Some("apikey_y"), None, "claude-nova-9", 100, 0),
            row("2026-12-02", None, None, HAIKU, 9_000_000, 0), // Workbench: no key to retire
        ];
        let listed = vec![rec("apikey_x", "sk-ant-api03-abc...wxAA")];
        let u = unowned_keys(&usage, &p, &owners(), &listed, None);
        let got: Vec<(&str, Pico)> = u.iter().map(|k| (k.api_key_id.as_str(), k.spent_pico)).collect();
        const USD: Pico = super::super::types::PICO_PER_USD;
        assert_eq!(got, vec![("apikey_loose", 3 * USD), ("apikey_x", 2 * USD), ("apikey_y", 0)]);
        let x = &u[1];
        assert_eq!((x.hint.as_deref(), x.workspace_id.as_deref(), x.name.as_deref()), (Some("sk-ant-api03-abc...wxAA"), Some("wrkspc_T"), Some("console apikey_x")));
        assert_eq!((x.first_day, x.last_day), (d("2026-12-01"), d("2026-12-03")));
        assert_eq!(u[0].inventory_key.as_deref(), Some("loose"));
        assert_eq!(u[2].unpriced_models, vec!["claude-nova-9".to_string()]);
        assert_eq!(unowned_keys(&usage, &p, &owners(), &listed, Some(d("2026-12-03"))).len(), 1);
    }
}
