// Display rules of the Costs screen, pure (unit-tested in tests/costs.test.mjs): money, the
// periods a chart spans, the stacked series, the top movers of the week, and the configured
// rate limits beside the budgets.

/** The structural parts of the generated binding types these rules read. */
export interface CostRowLike {
  group: string;
  unowned: boolean;
  period: string;
  period_start: string;
  cost_usd: number;
  unpriced_models: string[];
  unpriced_tokens: number;
}

/** `$1,234.56`; below a cent, `<$0.01`; unpriced-only: "unpriced", never $0. */
export function money(usd: number, unpricedTokens = 0): string {
  if (usd === 0 && unpricedTokens > 0) return "unpriced";
  if (usd > 0 && usd < 0.01) return "<$0.01";
  return usd.toLocaleString("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

/** A UTC day `YYYY-MM-DD`, `days` after `day`. */
export function addDays(day: string, days: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Today in UTC, `YYYY-MM-DD` (the reports' days are UTC days). */
export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

/** The Monday of the ISO week holding `day`. */
export function weekStart(day: string): string {
  const dow = new Date(`${day}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(day, -((dow + 6) % 7));
}

/** A stacked chart's data: one label per period (in order), one series per group, zero-filled. */
export interface Stacked {
  labels: string[];
  series: { name: string; values: number[] }[];
}

/** Pivots report rows (period × group) into a stacked chart; the largest groups first, the
 *  rest (beyond `maxSeries`) summed as "other". */
export function stack(rows: CostRowLike[], maxSeries = 8): Stacked {
  const periods = [...new Map(rows.map((r) => [r.period_start, r.period])).entries()].sort((a, b) => a[0].localeCompare(b[0]));
  const index = new Map(periods.map(([start], i) => [start, i]));
  const totals = new Map<string, number>();
  for (const r of rows) totals.set(r.group, (totals.get(r.group) ?? 0) + r.cost_usd);
  const order = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([g]) => g);
  const kept = order.slice(0, maxSeries);
  const keptSet = new Set(kept);
  const names = order.length > maxSeries ? [...kept, "other"] : kept;
  const values = new Map(names.map((n) => [n, new Array<number>(periods.length).fill(0)]));
  for (const r of rows) {
    const i = index.get(r.period_start);
    const v = values.get(keptSet.has(r.group) ? r.group : "other");
    if (i !== undefined && v) v[i] = (v[i] ?? 0) + r.cost_usd;
  }
  return { labels: periods.map(([, label]) => label), series: names.map((name) => ({ name, values: values.get(name) ?? [] })) };
}

export interface Mover {
  group: string;
  unowned: boolean;
  thisWeek: number;
  lastWeek: number;
  change: number;
}

/** This week against last week per group (weekly rows), largest absolute change first. */
export function topMovers(rows: CostRowLike[], thisWeekStart: string, limit = 5): Mover[] {
  const lastWeekStart = addDays(thisWeekStart, -7);
  const by = new Map<string, Mover>();
  for (const r of rows) {
    if (r.period_start !== thisWeekStart && r.period_start !== lastWeekStart) continue;
    const m = by.get(r.group) ?? { group: r.group, unowned: r.unowned, thisWeek: 0, lastWeek: 0, change: 0 };
    if (r.period_start === thisWeekStart) m.thisWeek += r.cost_usd;
    else m.lastWeek += r.cost_usd;
    m.change = m.thisWeek - m.lastWeek;
    by.set(r.group, m);
  }
  return [...by.values()].filter((m) => m.change !== 0).sort((a, b) => Math.abs(b.change) - Math.abs(a.change) || a.group.localeCompare(b.group)).slice(0, limit);
}

/** A group × period table: the periods (newest last, at most `maxPeriods`) and one line per
 *  group with its cost in each and its total; unowned groups first, then by total. */
export function pivot(rows: CostRowLike[], maxPeriods = 6): { periods: { start: string; label: string }[]; lines: { group: string; unowned: boolean; unpriced: string[]; cells: (CostRowLike | null)[]; total: number }[] } {
  const all = [...new Map(rows.map((r) => [r.period_start, r.period])).entries()].sort((a, b) => a[0].localeCompare(b[0]));
  const periods = all.slice(-maxPeriods).map(([start, label]) => ({ start, label }));
  const col = new Map(periods.map((p, i) => [p.start, i]));
  const lines = new Map<string, { group: string; unowned: boolean; unpriced: Set<string>; cells: (CostRowLike | null)[]; total: number }>();
  for (const r of rows) {
    const i = col.get(r.period_start);
    if (i === undefined) continue;
    const l = lines.get(r.group) ?? { group: r.group, unowned: r.unowned, unpriced: new Set<string>(), cells: new Array<CostRowLike | null>(periods.length).fill(null), total: 0 };
    l.cells[i] = r;
    l.total += r.cost_usd;
    for (const m of r.unpriced_models) l.unpriced.add(m);
    lines.set(r.group, l);
  }
  const out = [...lines.values()].sort((a, b) => Number(b.unowned) - Number(a.unowned) || b.total - a.total || a.group.localeCompare(b.group));
  return { periods, lines: out.map((l) => ({ ...l, unpriced: [...l.unpriced].sort() })) };
}

/** The structural part of a configured rate limit (`RateLimitEntry`) these rules read. */
export interface RateLimitLike {
  workspace_id: string | null;
  group_type: string;
  group_name: string | null;
  limiter: string;
  value: number;
  org_limit: number | null;
  source: "organization" | "workspace";
}

/** One row of the "Rate limits (Anthropic)" table. */
export interface LimitRow {
  scope: string;
  group: string;
  limiter: string;
  value: string;
  source: string;
  /** A workspace override below the organisation's limit. */
  tight: boolean;
}

/** `requests_per_minute` → `requests / min`. */
export function limiterLabel(limiter: string): string {
  return limiter.replace(/_per_minute$/, " / min").replace(/_per_day$/, " / day").replace(/_per_second$/, " / s").replaceAll("_", " ");
}

/**
 * The configured rate limits as the budgets part shows them: the organisation's, then each
 * workspace's overrides (values a workspace only inherits are left out: they repeat the
 * organisation's). Workspaces show by name where the inventory knows one.
 */
export function limitRows(entries: RateLimitLike[], names: Record<string, string> = {}): LimitRow[] {
  return entries
    .filter((e) => e.workspace_id === null || e.source === "workspace")
    .map((e) => {
      const ws = e.workspace_id;
      const tight = e.source === "workspace" && e.org_limit !== null && e.value < e.org_limit;
      return {
        scope: ws === null ? "organization" : (names[ws] ?? ws),
        group: e.group_name ?? e.group_type.replaceAll("_", " "),
        limiter: limiterLabel(e.limiter),
        value: e.value.toLocaleString("en-US"),
        source: ws === null ? "organization" : e.org_limit === null ? "workspace override" : `workspace override (organization ${e.org_limit.toLocaleString("en-US")})`,
        tight,
      };
    });
}

/** What `spendLimitRows` needs of core's `SpendLimitStatus` (kept structural for the unit tests). */
export interface SpendLimitLike {
  limit: { id: string; scope_type: string; scope_id: string | null; period: string };
  scope_label: string;
  amount_label: string;
  judgement: { spent_usd: number; percent: number; crossed: number | null; state: "ok" | "warn" | "forecast_over" | "over"; unpriced_models: string[] } | null;
  note: string | null;
}

/** One row of the "Spend limits (Anthropic)" table. */
export interface SpendLimitRow {
  id: string;
  scope: string;
  period: string;
  limit: string;
  spent: string;
  /** 0–100 for the meter; `null` when not judged. */
  percent: number | null;
  used: string;
  state: "ok" | "warn" | "forecast_over" | "over" | null;
  note: string;
}

/**
 * Anthropic's spend limits as the budgets part shows them, in core's order (most severe first):
 * limit, spent this period, percent used; a limit Clawkeep cannot compare shows why. Workspaces
 * show by name where the inventory knows one.
 */
export function spendLimitRows(limits: SpendLimitLike[], names: Record<string, string> = {}): SpendLimitRow[] {
  return limits.map((s) => {
    const j = s.judgement;
    const ws = s.limit.scope_type === "workspace" && s.limit.scope_id !== null ? s.limit.scope_id : null;
    let note = s.note ?? "";
    if (j && j.unpriced_models.length > 0) note = `spend understated: unpriced ${j.unpriced_models.join(", ")}`;
    else if (j && j.crossed !== null && j.state === "warn") note = `≥ ${j.crossed}%`;
    return {
      id: s.limit.id,
      scope: ws !== null ? `workspace ${names[ws] ?? ws}` : s.scope_label,
      period: s.limit.period,
      limit: s.amount_label,
      spent: j ? money(j.spent_usd) : "—",
      percent: j ? Math.min(100, j.percent) : null,
      used: j ? `${j.percent.toFixed(0)}%` : "—",
      state: j ? j.state : null,
      note,
    };
  });
}
