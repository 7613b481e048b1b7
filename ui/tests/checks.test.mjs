// Unit tests of the checklist display rules (compiled from src/lib/checks.ts by `npm run test:unit`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { DOMAIN_ORDER, domainTitle, firstFix, lastCheckLabel, needsAttention, orderedDomains, statusTone } from "./.build/lib/checks.js";

test("domains come out in checklist order", () => {
  const shuffled = [...DOMAIN_ORDER].reverse().map((d) => ({ domain: d, status: "pass", checks: 1 }));
  assert.deepEqual(orderedDomains(shuffled).map((d) => d.domain), ["credential", "account-context", "protocol", "throughput", "boundary"]);
  assert.equal(domainTitle("boundary"), "Boundary and host baseline");
});

test("the fix shown first is the first failing check of the first failing domain", () => {
  const checks = [
    { id: "a", domain: "credential", status: "warn", fix: "w" },
    { id: "b", domain: "protocol", status: "fail", fix: "fix protocol" },
    { id: "c", domain: "protocol", status: "fail", fix: "second" },
  ];
  assert.equal(firstFix(checks, "protocol")?.id, "b");
  assert.equal(firstFix(checks, null), null);
  assert.equal(firstFix(checks, "throughput"), null);
});

test("tones and labels", () => {
  assert.equal(statusTone("fail"), "bad");
  assert.equal(statusTone("pass"), "ok");
  assert.equal(statusTone("skip"), "muted");
  assert.ok(needsAttention("warn") && !needsAttention("pass"));
  assert.equal(lastCheckLabel(undefined), "not checked");
  assert.equal(lastCheckLabel({ status: "fail", first_failing_domain: "credential" }), "fail · credential");
  assert.equal(lastCheckLabel({ status: "pass", first_failing_domain: null }), "pass");
});
