// How the Fleet table's columns share its width. Pure (no Svelte, no DOM): unit-tested in
// tests/fleet.test.mjs.
//
// The table has a fixed layout with these widths, so it never grows wider than its box and a
// column keeps its width while the virtual list scrolls (with the automatic layout, columns
// widened and narrowed as longer names came into view). A column whose content has a known width
// (a key hint, a key's age, a rotation pill) gets that width. The others share the rest: each
// gets what its widest value needs (measured over all rows, not only those in view) up to its
// minimum, then the columns still cut share what is left, in equal parts, up to their widest
// value, then whatever remains goes by weight. Which columns show depends on the window, not on the data: when the
// chosen columns do not fit at their minimums, the optional ones are left out, lowest `optional`
// first (on a 1,280-px window: Key age, then Workload; the instance screen shows both), as the
// Keys table leaves out Kind and Fingerprint. When even what the rest need does not fit (a
// window narrower than about 1,270 px with long names), the shared columns give up what they have
// above their floor (their header) in proportion, and below that the table scrolls sideways. A
// value too long for its column is cut with an ellipsis (the screen shows it whole on hover).

export interface ColumnFit {
  id: string;
  /** Width in px (padding included) of a column whose content has a known width. */
  fixed?: number;
  /** Otherwise the column shares the remaining width by this weight (default 1)… */
  weight?: number;
  /** …gets up to this many px for its content before the columns share what is left, and
   *  counts this many when deciding which columns fit (default FLOOR)… */
  min?: number;
  /** …and wants this many px (padding included) for its widest value and its header; absent:
   *  not measured, taken as `min`. */
  want?: number;
  /** The narrowest it gets before the table scrolls sideways (its header; default FLOOR). */
  floor?: number;
  /** Left out when the columns do not fit, lowest first; absent: never left out. */
  optional?: number;
}

export interface FittedColumns {
  /** The ids shown, in the given order. */
  shown: string[];
  /** The chosen columns left out for want of room. */
  dropped: string[];
  /** Width in px of each shown column. */
  widths: Record<string, number>;
  /** Their sum: the table's width, which is `width` unless the table must scroll sideways. */
  total: number;
}

/** The narrowest a shared column gets before the table scrolls sideways, unless its header needs more. */
export const FLOOR = 72;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const minOf = (c: ColumnFit) => c.fixed ?? c.min ?? FLOOR;

export function fitColumns(cols: readonly ColumnFit[], width: number): FittedColumns {
  let shown = [...cols];
  const dropped: string[] = [];
  const optional = cols.filter((c) => c.optional !== undefined).sort((a, b) => (a.optional ?? 0) - (b.optional ?? 0));
  for (const c of optional) {
    if (sum(shown.map(minOf)) <= width) break;
    shown = shown.filter((s) => s !== c);
    dropped.push(c.id);
  }

  const widths: Record<string, number> = {};
  const flex = shown.filter((c) => c.fixed === undefined);
  for (const c of shown) if (c.fixed !== undefined) widths[c.id] = c.fixed;
  const room = width - sum(Object.values(widths));
  const want = (c: ColumnFit) => Math.ceil(c.want ?? minOf(c));
  const base = (c: ColumnFit) => Math.min(minOf(c), want(c));
  const bases = sum(flex.map(base));
  if (room < bases) {
    // Not even that fits: the shared columns give up what they have above their floor, in
    // proportion; at their floors, the table scrolls sideways.
    const floor = (c: ColumnFit) => Math.min(base(c), Math.max(FLOOR, Math.ceil(c.floor ?? 0)));
    const floors = sum(flex.map(floor));
    const k = room > floors ? (room - floors) / (bases - floors) : 0;
    for (const c of flex) widths[c.id] = Math.floor(floor(c) + (base(c) - floor(c)) * k);
  } else {
    // What is left goes first to the columns still cut, up to their widest value, in equal
    // shares (a column that needs little more gets it whole; one outlier does not take it all)…
    for (const c of flex) widths[c.id] = base(c);
    let left = room - bases;
    const cut = flex.filter((c) => want(c) > base(c)).sort((a, b) => want(a) - base(a) - (want(b) - base(b)));
    cut.forEach((c, i) => {
      const more = Math.min(want(c) - base(c), Math.floor(left / (cut.length - i)));
      widths[c.id] = base(c) + more;
      left -= more;
    });
    // …and the rest by weight.
    const weights = sum(flex.map((c) => c.weight ?? 1));
    if (weights > 0) for (const c of flex) widths[c.id] = (widths[c.id] ?? 0) + Math.floor((left * (c.weight ?? 1)) / weights);
  }
  // Whole pixels: the rounding's remainder goes to the first shared column, so the columns add
  // up to the width exactly (a fixed-layout table spreads any slack over every column).
  const short = width - sum(Object.values(widths));
  if (short > 0 && flex[0]) widths[flex[0].id] = (widths[flex[0].id] ?? 0) + short;
  return { shown: shown.map((c) => c.id), dropped, widths, total: sum(Object.values(widths)) };
}

/** The `n` longest of many strings (by length): the ones worth measuring for a column's width. */
export function longest(values: Iterable<string>, n = 3): string[] {
  const top: string[] = [];
  for (const v of values) {
    if (top.length < n) top.push(v);
    else {
      let shortest = 0;
      for (let i = 1; i < top.length; i++) if ((top[i] ?? "").length < (top[shortest] ?? "").length) shortest = i;
      if (v.length > (top[shortest] ?? "").length) top[shortest] = v;
    }
  }
  return top;
}

/** The indexes of the `n` longest of `count` values, by the length `lengthOf` gives without
 *  building the value: only those get built and measured (building 10,000 strings to measure
 *  three of them left megabytes of garbage in the webview). */
export function longestBy(count: number, lengthOf: (i: number) => number, n = 3): number[] {
  const top: number[] = [];
  const len: number[] = [];
  for (let i = 0; i < count; i++) {
    const l = lengthOf(i);
    if (top.length < n) {
      top.push(i);
      len.push(l);
    } else {
      let shortest = 0;
      for (let k = 1; k < len.length; k++) if ((len[k] ?? 0) < (len[shortest] ?? 0)) shortest = k;
      if (l > (len[shortest] ?? 0)) {
        top[shortest] = i;
        len[shortest] = l;
      }
    }
  }
  return top;
}

/** The Fleet's columns, Instance (always shown) first, in the order of the table. Widths are the
 *  app's fonts (14-px text, 12.5-px mono, 12-px pills) plus 20 px of cell padding; a minimum
 *  holds the column's usual long value. */
export const FLEET_FIT: readonly ColumnFit[] = [
  { id: "name", weight: 3, min: 172 }, // "umbrella-staging-123" (153 px)
  { id: "owner", weight: 1.5, min: 90 },
  { id: "environment", weight: 1, min: 116 }, // its header, "Environment" (92 px)
  { id: "workload", weight: 1.5, min: 90, optional: 2 },
  { id: "host", weight: 3, min: 172 }, // "openclaw@10.0.104.7" (152 px)
  { id: "key", fixed: 204 }, // a key hint: 23 mono characters (184 px)
  { id: "age", fixed: 96, optional: 1 }, // "12 months" (75 px)
  { id: "check", weight: 1, min: 140 }, // the pill "fail · credential" (119 px)
  { id: "rotation", fixed: 116 }, // the pill "in progress" (93 px)
];
