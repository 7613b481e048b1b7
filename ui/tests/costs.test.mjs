// Unit tests of the Costs screen's display rules (compiled from src/lib/costs.ts by `npm run test:unit`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { addDays, limiterLabel, limitRows, money, pivot, spendLimitRows, stack, topMovers, weekStart } from "./.build/lib/costs.js";

const row = (group, period_start, cost_usd, extra = {}) => ({ group, unowned: false, period: period_start, period_start, cost_usd, unpriced_models: [], unpriced_tokens: 0, ...extra });

test("money: cents, below a cent, and unpriced is never $0", () => {
  assert.equal(money(1234.5), "$1,234.50");
  assert.equal(money(0.004), "<$0.01");
  assert.equal(money(0), "$0.00");
  assert.equal(money(0, 120), "unpriced");
});

test("weeks start on Monday, UTC", () => {
  assert.equal(weekStart("2026-12-05"), "2026-11-30"); // a Saturday
  assert.equal(weekStart("2026-11-30"), "2026-11-30");
  assert.equal(weekStart("2026-12-06"), "2026-11-30"); // Sunday
  assert.equal(addDays("2026-12-31", 1), "2027-01-01");
});

test("stack: periods in order, zero-filled, largest groups first, the rest as other", () => {
  const rows = [row("b", "2026-11-02", 1), row("a", "2026-11-01", 5), row("c", "2026-11-02", 0.5), row("a", "2026-11-02", 1)];
  const s = stack(rows, 2);
  assert.deepEqual(s.labels, ["2026-11-01", "2026-11-02"]);
  assert.deepEqual(s.series.map((x) => x.name), ["a", "b", "other"]);
  assert.deepEqual(s.series[0].values, [5, 1]);
  assert.deepEqual(s.series[1].values, [0, 1]);
  assert.deepEqual(s.series[2].values, [0, 0.5]);
});

test("top movers: this week against last, largest change first, unchanged left out", () => {
  const rows = [row("a", "2026-11-23", 10), row("a", "2026-11-30", 12), row("b", "2026-11-30", 30), row("c", "2026-11-23", 8), row("d", "2026-11-23", 1), row("d", "2026-11-30", 1), row("old", "2026-11-16", 99)];
  const m = topMovers(rows, "2026-11-30");
  assert.deepEqual(m.map((x) => [x.group, x.change]), [["b", 30], ["c", -8], ["a", 2]]);
});

test("pivot: unowned groups first, then by total; only the last periods", () => {
  const rows = [row("x", "2026-10-01", 1), row("x", "2026-11-01", 2), row("apikey_1", "2026-11-01", 0.5, { unowned: true }), row("y", "2026-11-01", 9, { unpriced_models: ["m"] })];
  const p = pivot(rows, 1);
  assert.deepEqual(p.periods.map((x) => x.start), ["2026-11-01"]);
  assert.deepEqual(p.lines.map((l) => l.group), ["apikey_1", "y", "x"]);
  assert.deepEqual(p.lines[1].unpriced, ["m"]);
  assert.equal(p.lines[2].total, 2);
});

test("rate limits: the organisation's, then workspace overrides; inherited values are left out", () => {
  const e = (workspace_id, limiter, value, source, org_limit = null, group_name = "Claude Sonnet") => ({ workspace_id, group_type: "model_group", group_name, limiter, value, org_limit, source });
  const rows = limitRows(
    [
      e(null, "requests_per_minute", 4000, "organization"),
      e(null, "input_tokens_per_minute", 2000000, "organization", null, null),
      e("wrkspc_a", "requests_per_minute", 20, "workspace", 4000),
      e("wrkspc_a", "input_tokens_per_minute", 2000000, "organization", 2000000),
      e("wrkspc_b", "requests_per_minute", 5000, "workspace", 4000),
    ],
    { wrkspc_a: "prod-a (alpha)" },
  );
  assert.equal(rows.length, 4);
  assert.deepEqual(rows[0], { scope: "organization", group: "Claude Sonnet", limiter: "requests / min", value: "4,000", source: "organization", tight: false });
  assert.equal(rows[1].group, "model group");
  assert.equal(rows[1].limiter, "input tokens / min");
  assert.equal(rows[2].scope, "prod-a (alpha)");
  assert.equal(rows[2].source, "workspace override (organization 4,000)");
  assert.equal(rows[2].tight, true);
  assert.equal(rows[3].scope, "wrkspc_b");
  assert.equal(rows[3].tight, false, "an override above the organisation's limit is not tight (the lower applies)");
  assert.equal(limiterLabel("tokens_per_day"), "tokens / day");
});

test("spend limits: limit, spent and percent used; what is not compared says why", () => {
  const lim = (id, scope_type, scope_id, scope_label, amount_label, judgement, note = null) => ({ limit: { id, scope_type, scope_id, period: "monthly" }, scope_label, amount_label, judgement, note });
  const j = (spent_usd, percent, state, crossed = null, unpriced_models = []) => ({ spent_usd, percent, state, crossed, unpriced_models });
  const rows = spendLimitRows(
    [
      lim("spl_a", "workspace", "wrkspc_a", "workspace wrkspc_a", "$20.00", j(16, 80, "warn", 80)),
      lim("spl_b", "workspace", "wrkspc_b", "workspace wrkspc_b", "$0.00", j(2.75, 1e9, "over")),
      lim("spl_org", "organization", null, "organization", "$500.00", j(24, 4.8, "ok", null, ["claude-nova-9"])),
      lim("spl_u", "user", "user_1", "user user_1", "no cap", null, "Clawkeep does not attribute spend to a user scope"),
    ],
    { wrkspc_a: "prod-a (alpha)" },
  );
  assert.deepEqual(rows[0], { id: "spl_a", scope: "workspace prod-a (alpha)", period: "monthly", limit: "$20.00", spent: "$16.00", percent: 80, used: "80%", state: "warn", note: "≥ 80%" });
  assert.equal(rows[1].scope, "workspace wrkspc_b");
  assert.equal(rows[1].percent, 100, "the meter stops at 100");
  assert.equal(rows[2].note, "spend understated: unpriced claude-nova-9");
  assert.deepEqual([rows[3].spent, rows[3].used, rows[3].state, rows[3].percent], ["—", "—", null, null]);
  assert.match(rows[3].note, /user scope/);
});
