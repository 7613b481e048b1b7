// Unit tests of the UI's live key validation (compiled from src/lib/keylint.ts by
// `npm run test:unit`). Fake keys are built at run time; the expected messages are the core's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lintKey } from "./.build/lib/keylint.js";

// What `key_rules` returns (checked against the core by src-tauri/tests/ipc.rs).
const rules = {
  charset: "[A-Za-z0-9_-]",
  kinds: [
    { kind: "api", prefix: "sk-ant-api03-", expected_len: 108, min_body_len: 20 },
    { kind: "admin", prefix: "sk-ant-admin01-", expected_len: 110, min_body_len: 20 },
    { kind: "oauth", prefix: "sk-ant-oat01-", expected_len: null, min_body_len: 40 },
  ],
};
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
function fakeKey(prefix = "sk-ant-api03-", total = 108) {
  let s = prefix;
  while (s.length < total - 2) s += ALPHABET[Math.floor(Math.random() * ALPHABET.length)];
  return s + "AA";
}

test("a well-formed key passes without warnings, surrounding whitespace trimmed", () => {
  const k = fakeKey();
  assert.deepEqual(lintKey(`  ${k}\n`, rules), { ok: true, kind: "api", length: 108, warnings: [] });
  assert.equal(lintKey(fakeKey("sk-ant-admin01-", 110), rules).kind, "admin");
});

test("bad characters are named with their position, never echoing the key", () => {
  const k = fakeKey();
  const cases = [
    [`${k.slice(0, 20)}  ${k.slice(20)}`, "a space at position 21"],
    [`"${k}"`, "a double quote at position 1"],
    [`${k.slice(0, 50)}\n${k.slice(50)}`, "a line break at position 51"],
    [`${k.slice(0, 16)}…${k.slice(-4)}`, "ellipsis ('…') at position 17"],
    [`${k.slice(0, 16)}...${k.slice(-4)}`, "ellipsis ('...') at position 17"],
    [`${k.slice(0, 30)}é${k.slice(31)}`, "non-ASCII character (U+00E9) at position 31"],
    [`${k.slice(0, 30)}+${k.slice(31)}`, "the character '+' at position 31"],
    [`${k.slice(0, 30)}\u201c${k.slice(31)}`, "a typographic quote (U+201C) at position 31"],
  ];
  for (const [bad, expect] of cases) {
    const r = lintKey(bad, rules);
    assert.equal(r.ok, false);
    assert.ok(r.error.includes(expect), `${r.error} should contain ${expect}`);
    assert.ok(!r.error.includes(k.slice(13, 40)));
  }
});

test("a key of the wrong length or ending is refused, as in the core", () => {
  const k = fakeKey();
  assert.equal(lintKey(k.slice(0, 60), rules).error, "the key has 60 characters, but a api key has exactly 108: it looks truncated. Copy the whole key from the Console (only if Anthropic has changed the key format, accept it as a format change; that is audited)");
  assert.match(lintKey(k.slice(0, 105) + "AA", rules).error, /has 107 characters.*looks truncated/);
  assert.match(lintKey(k.slice(0, 106) + "xAA", rules).error, /has 109 characters.*has extra characters/);
  assert.match(lintKey(k.slice(0, 106) + "Ab", rules).error, /does not end in 'AA' as every api key does/);
  assert.match(lintKey(fakeKey("sk-ant-admin01-", 110).slice(0, 109), rules).error, /exactly 110/);
});

test("with a format change: truncation is a warning, then an error; prefixes are checked", () => {
  const k = fakeKey();
  const r = lintKey(k.slice(0, 99) + "z", rules, true); // 100 characters, not ending in AA
  assert.equal(r.ok, true);
  assert.deepEqual(r.warnings, ["looks truncated: 100 characters, a api key has 108", "does not end in 'AA' like Anthropic keys usually do"]);
  const short = lintKey(k.slice(0, 25), rules);
  assert.equal(short.error, "the key is far too short (12 characters after the prefix; a api key has about 95): it looks truncated");
  assert.match(lintKey("sk-proj-abcdefghijklmnopqrstuvwxyz0123456789", rules).error, /another provider's key$/);
  assert.match(lintKey("sk-ant-ort01-abcdefghijklmnopqrstuvwxyz0123456789", rules).error, /refresh token/);
  assert.equal(lintKey("   ", rules).error, "the key is empty");
});
