// Unit tests of the Fleet's columnar data (compiled from src/lib/fleetData.ts by `npm run test:unit`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { EMPTY_FLEET, distinctValues, fleetData, fleetDueData, fleetHost, fleetHostLength, fleetOrder, fleetRow, rfc3339 } from "./.build/lib/fleetData.js";

// Three instances in name order, as `fleet_columns` sends them.
const DICT = ["", "acme", "prod", "agent", "openclaw", "blue", "Beta", "dev"];
const reply = {
  dict: DICT,
  id: [7, 3, 9],
  name: { text: "a-oneb-twoc-three", end: [5, 10, 17] },
  owner: [1, 6, 0],
  environment: [2, 7, 2],
  workload: [3, 0, 3],
  ssh_user: [4, 4, 4],
  ssh_host: { text: "10.0.0.210.0.0.1web.example", end: [8, 16, 27] },
  ssh_port: [22, 2222, 22],
  tags: [5, 2, 5],
  tag_end: [1, 1, 3],
  draft: [0, 1, 0],
  key_name: { text: "k1k3", end: [2, 2, 4] },
  key_hint: { text: "sk-…Ask-…C", end: [5, 5, 10] },
  key_age_days: [10, 0, 3],
};
const d = fleetData(reply);
// `fleet_due`'s reply: the same instances (by id), in the same order.
const dueReply = {
  dict: ["", "upcoming", "max-age", "overdue", "expiry"],
  id: [7, 3, 9],
  status: [1, 0, 3],
  days_left: [80, 0, -2],
  due_at: [1764547200, 0, 1764547200],
  due_reason: [2, 0, 4],
  in_progress: [0, 0, 1],
};
const due = fleetDueData(d, dueReply);
const q = (over = {}) => ({ search: "", owner: "", environment: "", sortBy: "name", sortDir: 1, due, ...over });
const names = (order) => Array.from(order, (i) => d.name.at(i));

test("a row in view: the dictionary's strings, no key and no rotation as null", () => {
  assert.deepEqual(fleetRow(d, due, 0), {
    index: 0, id: 7, name: "a-one", owner: "acme", environment: "prod", workload: "agent", ssh_user: "openclaw", ssh_host: "10.0.0.2", ssh_port: 22,
    draft: false, key_name: "k1", key_hint: "sk-…A", key_age_days: 10,
    due: { status: "upcoming", days_left: 80, due_at: "2025-12-01T00:00:00Z", due_reason: "max-age", in_progress: false },
  });
  const b = fleetRow(d, due, 1);
  assert.equal(b.draft, true);
  assert.equal(b.key_hint, null);
  assert.equal(b.key_age_days, null);
  assert.equal(b.due, null);
  assert.equal(b.workload, "");
  assert.equal(fleetRow(d, due, 2).due?.in_progress, true);
  assert.deepEqual([0, 1].map((i) => fleetHost(d, i)), ["openclaw@10.0.0.2", "openclaw@10.0.0.1:2222"]);
  assert.deepEqual([0, 1, 2].map((i) => fleetHostLength(d, i)), [0, 1, 2].map((i) => fleetHost(d, i).length));
  assert.deepEqual([0, 1, 2].map((i) => d.name.lengthAt(i)), [5, 5, 7]);
  assert.equal(rfc3339(0), "1970-01-01T00:00:00Z");
  assert.equal(fleetRow(d, null, 0).due, null, "no rotation before fleet_due answers");
});

test("the rotation column matched by id when the inventory changed between the replies", () => {
  // An instance added (id 5) and one removed (id 3) since fleet_columns answered.
  const moved = fleetDueData(d, { ...dueReply, id: [5, 9, 7], status: [1, 3, 1], days_left: [1, -2, 80], due_at: [0, 0, 0], due_reason: [2, 4, 2], in_progress: [1, 0, 0] });
  assert.deepEqual([0, 1, 2].map((i) => fleetRow(d, moved, i).due?.status ?? null), ["upcoming", null, "overdue"]);
  assert.equal(fleetRow(d, moved, 0).due?.in_progress, false);
});

test("the filters' choices: distinct, non-empty, sorted", () => {
  assert.deepEqual(distinctValues(d, d.owner), ["Beta", "acme"]);
  assert.deepEqual(distinctValues(d, d.environment), ["dev", "prod"]);
  assert.deepEqual(distinctValues(EMPTY_FLEET, EMPTY_FLEET.owner), []);
});

test("search: name, owner, host, workload, environment and tags, any case", () => {
  assert.deepEqual(names(fleetOrder(d, q({ search: " TWO " }))), ["b-two"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "acm" }))), ["a-one"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "web.ex" }))), ["c-three"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "agen" }))), ["a-one", "c-three"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "dev" }))), ["b-two"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "blue" }))), ["a-one", "c-three"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "beta" }))), ["b-two"]);
  assert.deepEqual(names(fleetOrder(d, q({ search: "openclaw" }))), [], "the SSH user is not searched");
  assert.deepEqual(names(fleetOrder(d, q({ search: "nothing" }))), []);
  assert.deepEqual(names(fleetOrder(d, q({ search: "oneb" }))), [], "not across two names");
  assert.deepEqual(names(fleetOrder(d, q({ search: "-t" }))), ["b-two", "c-three"], "several hits in one packed column");
});

test("owner and environment filters, with the search", () => {
  assert.deepEqual(names(fleetOrder(d, q({ owner: "acme" }))), ["a-one"]);
  assert.deepEqual(names(fleetOrder(d, q({ environment: "prod" }))), ["a-one", "c-three"]);
  assert.deepEqual(names(fleetOrder(d, q({ environment: "prod", search: "three" }))), ["c-three"]);
  assert.deepEqual(names(fleetOrder(d, q({ owner: "nobody" }))), []);
  assert.deepEqual(names(fleetOrder(d, q({ owner: "blue" }))), [], "a tag is not an owner");
});

test("every column sorts, both ways; ties by name", () => {
  const by = (sortBy, sortDir = 1, extra = {}) => names(fleetOrder(d, q({ sortBy, sortDir, ...extra })));
  assert.deepEqual(by("name"), ["a-one", "b-two", "c-three"]);
  assert.deepEqual(by("name", -1), ["c-three", "b-two", "a-one"]);
  assert.deepEqual(by("owner"), ["c-three", "a-one", "b-two"], "empty first, then case-insensitive");
  assert.deepEqual(by("environment"), ["b-two", "a-one", "c-three"]);
  assert.deepEqual(by("environment", -1), ["c-three", "a-one", "b-two"]);
  assert.deepEqual(by("workload"), ["b-two", "a-one", "c-three"]);
  assert.deepEqual(by("host"), ["b-two", "a-one", "c-three"]);
  assert.deepEqual(by("key"), ["a-one", "c-three", "b-two"], "no key last");
  assert.deepEqual(by("age"), ["b-two", "c-three", "a-one"], "no key first");
  assert.deepEqual(by("rotation"), ["c-three", "a-one", "b-two"], "overdue, upcoming, none");
  assert.deepEqual(by("rotation", -1), ["b-two", "a-one", "c-three"]);
  assert.deepEqual(by("rotation", 1, { due: null }), ["a-one", "b-two", "c-three"], "not known yet: by name");
  const rank = { "a-one": 4, "b-two": 0, "c-three": 4 };
  assert.deepEqual(by("check", 1, { checkRank: (n) => rank[n] }), ["b-two", "a-one", "c-three"]);
  assert.deepEqual(by("check", -1, { checkRank: (n) => rank[n] }), ["c-three", "a-one", "b-two"]);
});

test("packed strings: entries, empties, ranks", () => {
  assert.deepEqual([0, 1, 2].map((i) => d.sshHost.at(i)), ["10.0.0.2", "10.0.0.1", "web.example"]);
  assert.deepEqual([0, 1, 2].map((i) => d.keyName.empty(i)), [false, true, false]);
  assert.deepEqual(Array.from(d.sshHost.rank()), [1, 0, 2]);
  const dup = fleetData({ ...reply, name: { text: "bab", end: [1, 2, 3] } });
  assert.deepEqual(Array.from(dup.name.rank()), [1, 0, 1], "equal entries, equal ranks");
});

test("no instances", () => {
  assert.equal(EMPTY_FLEET.length, 0);
  assert.equal(fleetOrder(EMPTY_FLEET, q({ search: "x" })).length, 0);
});
