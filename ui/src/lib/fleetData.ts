// The Fleet's data as columns: the `fleet_columns` reply (one array per column, repeated strings
// as indexes into one dictionary) and later `fleet_due`'s (the rotation column) kept as typed
// arrays, an order of row indexes for the search, the filters and the sort, and plain row
// objects built only for the rows in view. Pure (no
// Svelte, no DOM): unit-tested in tests/fleetData.test.mjs.
//
// Why: the Fleet holds its whole list while it is open. As 10,000 row objects (and 10,000
// rotation objects in a Map) that cost the webview ~8 MB; as columns it is a few arrays.

import type { FleetColumns } from "../ipc/bindings/FleetColumns";
import type { FleetDue } from "../ipc/bindings/FleetDue";
import type { PackedStrings } from "../ipc/bindings/PackedStrings";

/** Strings held as one string and their end offsets (not one string object each). */
export class PackedColumn {
  readonly text: string;
  readonly end: Uint32Array;
  constructor(p: PackedStrings) {
    this.text = p.text;
    this.end = Uint32Array.from(p.end);
  }
  get length(): number {
    return this.end.length;
  }
  /** Entry `i`. */
  at(i: number): string {
    return this.text.slice(i === 0 ? 0 : (this.end[i - 1] ?? 0), this.end[i] ?? 0);
  }
  /** Entry `i`'s length (UTF-16 units), without building it. */
  lengthAt(i: number): number {
    return (this.end[i] ?? 0) - (i === 0 ? 0 : (this.end[i - 1] ?? 0));
  }
  /** Whether entry `i` is empty. */
  empty(i: number): boolean {
    return (this.end[i] ?? 0) === (i === 0 ? 0 : (this.end[i - 1] ?? 0));
  }
  /** Marks in `hit` the entries containing `needle` (lowercase), case-insensitively. */
  markMatches(needle: string, hit: Uint8Array, lower = this.text.toLowerCase()): void {
    const end = this.end;
    for (let p = lower.indexOf(needle); p >= 0; p = lower.indexOf(needle, p + 1)) {
      // The entry holding position p: the first whose end is past it.
      let lo = 0, hi = end.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((end[mid] ?? 0) > p) hi = mid;
        else lo = mid + 1;
      }
      if (p + needle.length <= (end[lo] ?? 0)) hit[lo] = 1;
    }
  }
  /** Each entry's rank in code-unit order (equal entries equal), computed once when asked. */
  rank(): Uint32Array {
    if (this.ranks) return this.ranks;
    const n = this.length;
    const values = Array.from({ length: n }, (_, i) => this.at(i));
    const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => {
      const x = values[a] ?? "", y = values[b] ?? "";
      return x < y ? -1 : x > y ? 1 : 0;
    });
    const r = new Uint32Array(n);
    for (let k = 1; k < n; k++) r[order[k] ?? 0] = (r[order[k - 1] ?? 0] ?? 0) + (values[order[k] ?? 0] === values[order[k - 1] ?? 0] ? 0 : 1);
    this.ranks = r;
    return r;
  }
  private ranks: Uint32Array | null = null;
}

export type DueStatusName = "expired" | "overdue" | "due-soon" | "upcoming";

/** The Fleet's list: per-instance columns (instance `i` is entry `i` of each), instances by name. */
export interface FleetData {
  readonly length: number;
  readonly dict: readonly string[];
  /** Each dictionary entry lowercased (search). */
  readonly dictLower: readonly string[];
  /** Each dictionary entry's rank among the lowercased entries (sort; equal when equal). */
  readonly dictRank: Uint32Array;
  readonly id: Float64Array;
  readonly name: PackedColumn;
  readonly owner: Uint32Array;
  readonly environment: Uint32Array;
  readonly workload: Uint32Array;
  readonly sshUser: Uint32Array;
  readonly sshHost: PackedColumn;
  readonly sshPort: Uint16Array;
  readonly tags: Uint32Array;
  readonly tagEnd: Uint32Array;
  readonly draft: Uint8Array;
  /** Empty without an active key. */
  readonly keyName: PackedColumn;
  readonly keyHint: PackedColumn;
  readonly keyAge: Int32Array;
}

/** The rotation column, entry `i` for the data's row `i`: status and reason index `dict`. */
export interface FleetDueData {
  readonly dict: readonly string[];
  readonly status: Uint32Array;
  readonly days: Int32Array;
  readonly at: Float64Array;
  readonly reason: Uint32Array;
  readonly inProgress: Uint8Array;
}

/** One instance's next rotation, as its column shows it. */
export interface RowDue {
  status: DueStatusName;
  days_left: number;
  /** RFC 3339, UTC, whole seconds. */
  due_at: string;
  due_reason: string;
  in_progress: boolean;
}

/** One row in view: plain values, built only for the rows the table renders. */
export interface FleetRowView {
  /** The row's index in the data (not in the order). */
  index: number;
  id: number;
  name: string;
  owner: string;
  environment: string;
  workload: string;
  ssh_user: string;
  ssh_host: string;
  ssh_port: number;
  draft: boolean;
  key_name: string | null;
  key_hint: string | null;
  key_age_days: number | null;
  due: RowDue | null;
}

export const EMPTY_FLEET: FleetData = fleetData({
  dict: [""], id: [], name: { text: "", end: [] }, owner: [], environment: [], workload: [], ssh_user: [], ssh_host: { text: "", end: [] }, ssh_port: [],
  tags: [], tag_end: [], draft: [], key_name: { text: "", end: [] }, key_hint: { text: "", end: [] }, key_age_days: [],
});

/** The reply kept as typed arrays (the reply's number arrays are left to the collector). */
export function fleetData(r: FleetColumns): FleetData {
  const dictLower = r.dict.map((s) => s.toLowerCase());
  const byLower = [...new Set(dictLower)].sort();
  const rankOf = new Map(byLower.map((s, i) => [s, i]));
  return {
    length: r.name.end.length,
    dict: r.dict,
    dictLower,
    dictRank: Uint32Array.from(dictLower, (s) => rankOf.get(s) ?? 0),
    id: Float64Array.from(r.id),
    name: new PackedColumn(r.name),
    owner: Uint32Array.from(r.owner),
    environment: Uint32Array.from(r.environment),
    workload: Uint32Array.from(r.workload),
    sshUser: Uint32Array.from(r.ssh_user),
    sshHost: new PackedColumn(r.ssh_host),
    sshPort: Uint16Array.from(r.ssh_port),
    tags: Uint32Array.from(r.tags),
    tagEnd: Uint32Array.from(r.tag_end),
    draft: Uint8Array.from(r.draft),
    keyName: new PackedColumn(r.key_name),
    keyHint: new PackedColumn(r.key_hint),
    keyAge: Int32Array.from(r.key_age_days),
  };
}

/** The rotation column of `due` for `d`'s rows, matched by instance id (in the same order, unless
 *  the inventory changed between the two replies); an instance `due` lacks has none planned. */
export function fleetDueData(d: FleetData, due: FleetDue): FleetDueData {
  const n = d.length;
  const dueStatus = new Uint32Array(n), dueDays = new Int32Array(n), dueAt = new Float64Array(n), dueReason = new Uint32Array(n), inProgress = new Uint8Array(n);
  const aligned = due.id.length === n && due.id.every((id, i) => id === d.id[i]);
  const byId = aligned ? null : new Map(due.id.map((id, j) => [id, j]));
  for (let i = 0; i < n; i++) {
    const j = byId ? byId.get(d.id[i] ?? -1) : i;
    if (j === undefined) continue;
    dueStatus[i] = due.status[j] ?? 0;
    dueDays[i] = due.days_left[j] ?? 0;
    dueAt[i] = due.due_at[j] ?? 0;
    dueReason[i] = due.due_reason[j] ?? 0;
    inProgress[i] = due.in_progress[j] ?? 0;
  }
  return { dict: due.dict, status: dueStatus, days: dueDays, at: dueAt, reason: dueReason, inProgress };
}

/** Seconds since the epoch as RFC 3339 in UTC, whole seconds (`2026-12-01T00:00:00Z`). */
export function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d+Z$/, "Z");
}

/** Row `i` as plain values, its rotation from `due` (null: not known yet). */
export function fleetRow(d: FleetData, due: FleetDueData | null, i: number): FleetRowView {
  const hint = d.keyHint.empty(i) ? null : d.keyHint.at(i);
  const status = due ? (due.dict[due.status[i] ?? 0] ?? "") : "";
  return {
    index: i,
    id: d.id[i] ?? 0,
    name: d.name.at(i),
    owner: d.dict[d.owner[i] ?? 0] ?? "",
    environment: d.dict[d.environment[i] ?? 0] ?? "",
    workload: d.dict[d.workload[i] ?? 0] ?? "",
    ssh_user: d.dict[d.sshUser[i] ?? 0] ?? "",
    ssh_host: d.sshHost.at(i),
    ssh_port: d.sshPort[i] ?? 22,
    draft: d.draft[i] === 1,
    key_name: hint === null ? null : d.keyName.at(i),
    key_hint: hint,
    key_age_days: hint === null ? null : (d.keyAge[i] ?? 0),
    due:
      due && status
        ? {
            status: status as DueStatusName,
            days_left: due.days[i] ?? 0,
            due_at: rfc3339(due.at[i] ?? 0),
            due_reason: due.dict[due.reason[i] ?? 0] ?? "",
            in_progress: due.inProgress[i] === 1,
          }
        : null,
  };
}

/** Row `i`'s SSH address as the Host column shows it: `user@host`, `:port` unless 22. */
export function fleetHost(d: FleetData, i: number): string {
  const port = d.sshPort[i] ?? 22;
  return `${d.dict[d.sshUser[i] ?? 0] ?? ""}@${d.sshHost.at(i)}${port !== 22 ? `:${port}` : ""}`;
}

/** The length of row `i`'s `fleetHost`, without building it. */
export function fleetHostLength(d: FleetData, i: number): number {
  const port = d.sshPort[i] ?? 22;
  return (d.dict[d.sshUser[i] ?? 0] ?? "").length + 1 + d.sshHost.lengthAt(i) + (port !== 22 ? 1 + String(port).length : 0);
}

/** The distinct non-empty values of a dictionary column, sorted (the filters' choices). */
export function distinctValues(d: FleetData, column: Uint32Array): string[] {
  const seen = new Set<number>(column);
  return [...seen].map((k) => d.dict[k] ?? "").filter(Boolean).sort();
}

const DUE_ORDER: Record<string, number> = { expired: 0, overdue: 1, "due-soon": 2, upcoming: 3 };

export interface FleetQuery {
  /** Matched, case-insensitive, in name, owner, host, workload, environment and tags. */
  search: string;
  /** Exact owner and environment ("" for any). */
  owner: string;
  environment: string;
  /** A column id: name, owner, environment, workload, host, key, age, check, rotation. */
  sortBy: string;
  sortDir: 1 | -1;
  /** The Last check column's sort key for an instance (by name). */
  checkRank?: (name: string) => number;
  /** The rotation column (none planned without it). */
  due?: FleetDueData | null;
}

/** The indexes of the rows matching `q`, sorted as it asks; ties (and the Instance column) by
 *  name, i.e. by index (the data comes in name order), reversed with a descending sort. */
export function fleetOrder(d: FleetData, q: FleetQuery): Uint32Array {
  const n = d.length;
  const needle = q.search.trim().toLowerCase();
  const ownerIx = q.owner ? d.dict.indexOf(q.owner) : -1;
  const envIx = q.environment ? d.dict.indexOf(q.environment) : -1;
  const hit = needle ? Uint8Array.from(d.dictLower, (s) => (s.includes(needle) ? 1 : 0)) : null;
  // Name and host matches: one search through each packed column, not one per instance.
  const rowHit = needle ? new Uint8Array(n) : null;
  if (rowHit) {
    d.name.markMatches(needle, rowHit);
    d.sshHost.markMatches(needle, rowHit);
  }
  const out = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) {
    if (q.owner && d.owner[i] !== ownerIx) continue;
    if (q.environment && d.environment[i] !== envIx) continue;
    if (hit && rowHit && !rowHit[i] && !matches(d, i, hit)) continue;
    out[m++] = i;
  }
  const order = out.slice(0, m);
  const dir = q.sortDir;
  const num = (key: (i: number) => number) => {
    const k = new Float64Array(n);
    for (const i of order) k[i] = key(i);
    return (a: number, b: number) => ((k[a] ?? 0) - (k[b] ?? 0) || a - b) * dir;
  };
  const rank = (col: Uint32Array) => num((i) => d.dictRank[col[i] ?? 0] ?? 0);
  let cmp: (a: number, b: number) => number;
  switch (q.sortBy) {
    case "owner": cmp = rank(d.owner); break;
    case "environment": cmp = rank(d.environment); break;
    case "workload": cmp = rank(d.workload); break;
    case "host": { const r = d.sshHost.rank(); cmp = num((i) => r[i] ?? 0); break; }
    // No key after every hint (hints are ASCII: "sk-…").
    case "key": { const r = d.keyHint.rank(); cmp = num((i) => (d.keyHint.empty(i) ? 2 ** 32 : (r[i] ?? 0))); break; }
    case "age": cmp = num((i) => (d.keyHint.empty(i) ? -1 : (d.keyAge[i] ?? 0))); break;
    case "check": { const r = q.checkRank; cmp = num((i) => (r ? r(d.name.at(i)) : 0)); break; }
    case "rotation": {
      const due = q.due;
      cmp = num((i) => { const s = due ? DUE_ORDER[due.dict[due.status[i] ?? 0] ?? ""] : undefined; return s === undefined ? 9999999 : s * 100000 + (due?.days[i] ?? 0); });
      break;
    }
    // By name: the data's own order, no sort.
    default: return dir === 1 ? order : order.reverse();
  }
  return order.sort(cmp);
}

/** Whether row `i`'s owner, workload, environment or a tag is a dictionary entry marked in `hit`. */
function matches(d: FleetData, i: number, hit: Uint8Array): boolean {
  if (hit[d.owner[i] ?? 0] || hit[d.workload[i] ?? 0] || hit[d.environment[i] ?? 0]) return true;
  for (let t = i === 0 ? 0 : (d.tagEnd[i - 1] ?? 0), end = d.tagEnd[i] ?? t; t < end; t++) if (hit[d.tags[t] ?? 0]) return true;
  return false;
}
