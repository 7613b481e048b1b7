// Unit tests of the Fleet table's column widths (compiled from src/lib/fleet.ts by `npm run test:unit`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FLEET_FIT, FLOOR, fitColumns, longest, longestBy } from "./.build/lib/fleet.js";

// The table's width in a window: the sidebar (200 px), main's padding (2 × 28 px), the border.
const tableIn = (windowPx) => windowPx - 200 - 56 - 2;
const sum = (o) => Object.values(o).reduce((a, b) => a + b, 0);
const ALL = FLEET_FIT.map((c) => c.id);
/** The Fleet's columns with measured content widths (padding included). */
const measured = (wants) => FLEET_FIT.map((c) => (wants[c.id] !== undefined ? { ...c, want: wants[c.id] } : c));
// The seeded demo fleet: "umbrella-staging-123", "openclaw@10.0.104.7", a failed check's pill.
const USUAL = { name: 173, owner: 82, environment: 112, workload: 89, host: 172, check: 164 };

test("a 1,280-px window: Key age and Workload left out, the rest fit the table exactly", () => {
  for (const cols of [FLEET_FIT, measured(USUAL)]) {
    const f = fitColumns(cols, tableIn(1280));
    assert.deepEqual(f.dropped, ["age", "workload"]);
    assert.deepEqual(f.shown, ["name", "owner", "environment", "host", "key", "check", "rotation"]);
    assert.equal(f.total, tableIn(1280));
    assert.equal(sum(f.widths), tableIn(1280));
  }
  const f = fitColumns(measured(USUAL), tableIn(1280));
  for (const id of ["name", "owner", "environment", "host"]) assert.ok(f.widths[id] >= USUAL[id], `${id} cut: ${JSON.stringify(f.widths)}`);
});

test("a 1,920-px window: every column, each value whole, the spare width by weight", () => {
  const f = fitColumns(measured({ ...USUAL, check: 181 }), tableIn(1920));
  assert.deepEqual(f.shown, ALL);
  assert.deepEqual(f.dropped, []);
  assert.equal(f.total, tableIn(1920));
  assert.equal(f.widths.key, 204, "a fixed column keeps its width");
  assert.ok(f.widths.check >= 181, `the pill "fail · account-context" whole (${f.widths.check} px)`);
  assert.ok(f.widths.name > 250 && f.widths.host > 250, JSON.stringify(f.widths));
});

test("one long outlier does not take the spare width from the columns that need a little", () => {
  // A fleet with an FQDN host, a long owner and name, and a failed check's long pill.
  const f = fitColumns(measured({ ...USUAL, name: 332, owner: 177, host: 516, check: 181 }), tableIn(1920));
  assert.ok(f.widths.check >= 181 && f.widths.owner >= 177 && f.widths.name >= 332, JSON.stringify(f.widths));
  assert.ok(f.widths.host < 516, "the outlier gets what is left");
  assert.equal(f.total, tableIn(1920));
});

test("the default 1,200-px window: a short fleet's values all whole; long ones shrink, nothing scrolls sideways", () => {
  // The GUI journey's one instance: acme-prod, acme, prod, openclaw@10.20.0.5.
  const short = fitColumns(measured({ name: 98, owner: 67, environment: 112, workload: 89, host: 160, check: 139 }), tableIn(1200));
  assert.equal(short.total, tableIn(1200));
  assert.ok(short.widths.host >= 160 && short.widths.check >= 139, JSON.stringify(short.widths));
  const long = fitColumns(measured(USUAL), tableIn(1200));
  assert.deepEqual(long.dropped, ["age", "workload"]);
  assert.equal(long.total, tableIn(1200));
  assert.ok(long.widths.name < 172 && long.widths.name >= FLOOR);
});

test("a column's long values get the room the others do not need", () => {
  const f = fitColumns(measured({ ...USUAL, name: 320, owner: 60 }), tableIn(1280));
  assert.equal(f.widths.owner, 60 + 0, "owner: its content, nothing more while another is cut");
  assert.ok(f.widths.name > 172, JSON.stringify(f.widths));
  assert.equal(f.total, tableIn(1280));
});

test("shrinking spares the headers: Environment keeps its label at 1,200 px", () => {
  const f = fitColumns(measured(USUAL).map((c) => (c.id === "environment" ? { ...c, floor: 112 } : c)), tableIn(1200));
  assert.equal(f.widths.environment, 112);
  assert.equal(f.total, tableIn(1200));
});

test("the smallest window: shared columns stop at the floor and the table scrolls", () => {
  const f = fitColumns(FLEET_FIT, tableIn(720));
  assert.ok(f.total > tableIn(720));
  for (const id of ["name", "owner", "environment", "host", "check"]) assert.ok(f.widths[id] >= FLOOR, id);
});

test("columns the person hides make room: Workload and Key age come back at 1,280 without Owner and Environment", () => {
  const f = fitColumns(FLEET_FIT.filter((c) => c.id !== "owner" && c.id !== "environment"), tableIn(1280));
  assert.deepEqual(f.dropped, []);
  assert.ok(f.shown.includes("workload") && f.shown.includes("age"));
  assert.equal(f.total, tableIn(1280));
});

test("longest: the n longest strings, whatever their order", () => {
  assert.deepEqual(longest(["a", "abcd", "ab", "abcdef", "abc"], 2).sort(), ["abcd", "abcdef"]);
  assert.deepEqual(longest([], 3), []);
  assert.deepEqual(longest(["x"], 3), ["x"]);
});

test("longestBy: the indexes of the n longest, by a length, whatever their order", () => {
  const values = ["ab", "abcd", "a", "abcdef", "abc", "abcde"];
  assert.deepEqual(longestBy(values.length, (i) => values[i].length).sort(), [1, 3, 5]);
  assert.deepEqual(longestBy(2, (i) => values[i].length), [0, 1], "fewer than n: all");
  assert.deepEqual(longestBy(0, () => 0), []);
});
