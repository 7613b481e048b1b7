// Unit tests of the Team screen's display rules (compiled from src/lib/team.ts by `npm run test:unit`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { detailRows, inviteRequest, scopeLabel, stageLine, syncSummary, teammatesLine } from "./.build/lib/team.js";

const sync = (extra = {}) => ({
  verified_commits: 0, imported_instances: [], imported_keys: [], updated_instances: [], shared_instances: [], shared_keys: [], pushed: false, ...extra,
});

test("the teammates' changes are counted in words", () => {
  assert.equal(teammatesLine(0), "No changes from teammates");
  assert.equal(teammatesLine(1), "1 change from teammates");
  assert.equal(teammatesLine(3), "3 changes from teammates");
});

test("the sync line names only what moved", () => {
  assert.equal(syncSummary(sync()), "No changes from teammates · nothing to push");
  assert.equal(
    syncSummary(sync({ verified_commits: 2, imported_instances: ["a"], imported_keys: ["k1", "k2"], updated_instances: ["b"], shared_keys: ["k3"], pushed: true })),
    "2 changes from teammates · imported 1 instance, 2 keys · merged teammates' edits into 1 instance · shared 1 key · pushed",
  );
  assert.equal(syncSummary(sync({ shared_instances: ["a", "b"], pushed: true })), "No changes from teammates · shared 2 instances · pushed");
});

test("a refusal reads who, what, where; a conflict both versions", () => {
  const r = detailRows({ kind: "team_refused", commit: "abc123", who: "mallory", what: "not signed by a member", path: "members/eve.txt" });
  assert.match(r.title, /failed verification/);
  assert.deepEqual(r.rows, [["Who", "mallory"], ["What", "not signed by a member"], ["Where", "members/eve.txt"], ["Commit", "abc123"]]);
  const c = detailRows({ kind: "team_conflict", conflicts: [{ instance: "acme-prod", field: "workload", yours: '"ops"', theirs: '"sales"' }] });
  assert.match(c.title, /nothing was written/);
  assert.deepEqual(c.rows, [["acme-prod · workload", 'yours "ops" — the team store\'s "sales"']]);
});

test("what a new member sends an admin, and how scopes read", () => {
  assert.equal(inviteRequest("bob", "age1xyz", "ssh-ed25519 AAAA bob"), "member: bob\nrecipient: age1xyz\nsigning key: ssh-ed25519 AAAA bob\n");
  assert.equal(scopeLabel("admin", []), "every owner");
  assert.equal(scopeLabel("member", []), "no owners yet");
  assert.equal(scopeLabel("member", ["acme", "globex"]), "acme, globex");
});

test("the progress line", () => {
  assert.equal(stageLine({ event: "step", step: 2, label: "verifying change 1 of 3" }), "Verifying change 1 of 3…");
  assert.equal(stageLine({ event: "started" }), "Starting…");
  assert.equal(stageLine({ event: "finished" }), "Done");
});
