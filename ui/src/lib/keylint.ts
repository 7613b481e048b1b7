// Live validation of a pasted key, in the UI, with the core's format rules received as data
// (`key_rules`): nothing is sent anywhere while the user types. The core checks again on
// submit; its messages are the reference and these mirror them word for word.
// Pure: no imports, so the unit tests run it under plain Node.

export interface KindRule {
  kind: string;
  prefix: string;
  expected_len: number | null;
  min_body_len: number;
}
export interface Rules {
  kinds: KindRule[];
  charset: string;
}

export type LintResult =
  | { ok: true; kind: string; length: number; warnings: string[] }
  | { ok: false; error: string };

const REFRESH_PREFIX = "sk-ant-" + "ort01-";

function hex4(c: string): string {
  return (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0");
}

function describe(c: string): string {
  switch (c) {
    case " ": return "a space";
    case "\t": return "a tab";
    case "\n": return "a line break";
    case "\r": return "a carriage return";
    case '"': return "a double quote";
    case "'": return "a single quote";
    case "`": return "a backtick";
    case "\u00a0": return "a non-breaking space";
    case "\u200b": return "a zero-width space";
    case "\u2018": case "\u2019": case "\u201c": case "\u201d":
      return `a typographic quote (U+${hex4(c)})`;
  }
  if (/^\s$/u.test(c)) return `whitespace (U+${hex4(c)})`;
  if (/^\p{Cc}$/u.test(c)) return `a control character (U+${hex4(c)})`;
  if ((c.codePointAt(0) ?? 0) < 128) return `the character '${c}'`;
  return `a non-ASCII character (U+${hex4(c)})`;
}

/** Checks a pasted value like the core's `keyfmt::lint_with`, without keeping or sending it.
 *  `formatChanged`: the person said Anthropic changed the key format (the length and the `AA`
 *  ending become warnings, as in the core). */
export function lintKey(raw: string, rules: Rules, formatChanged = false): LintResult {
  const trimmed = raw.replace(/^[\s\ufeff]+|[\s\ufeff]+$/gu, "");
  if (trimmed === "") return { ok: false, error: "the key is empty" };
  const allowed = new RegExp(`^${rules.charset}$`);
  const chars = Array.from(trimmed);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    const position = i + 1;
    if (c === "\u2026") {
      return { ok: false, error: `the key contains an ellipsis ('…') at position ${position}: that is a shortened hint, not the full key. Copy the whole key from the Console` };
    }
    if (c === "." && chars[i + 1] === "." && chars[i + 2] === ".") {
      return { ok: false, error: `the key contains an ellipsis ('...') at position ${position}: that is a shortened hint, not the full key. Copy the whole key from the Console` };
    }
    if (!allowed.test(c)) {
      return { ok: false, error: `the key contains ${describe(c)} at position ${position}; only letters, digits, '-' and '_' belong in a key. Paste the key exactly as the Console shows it` };
    }
  }
  if (trimmed.startsWith(REFRESH_PREFIX)) {
    return { ok: false, error: "this is an OAuth refresh token (sk-ant-ort01-), not a credential Clawkeep can use; use an API key (sk-ant-api03-…)" };
  }
  const rule = rules.kinds.find((k) => trimmed.startsWith(k.prefix));
  if (!rule) {
    const detail = trimmed.startsWith("sk-ant-")
      ? "; it starts with sk-ant- but the type tag after it is not one Clawkeep knows"
      : trimmed.startsWith("sk-") ? "; it looks like another provider's key" : "";
    const prefixes = rules.kinds.map((k) => k.prefix).join(", ");
    return { ok: false, error: `the key does not start with a known Anthropic prefix (${prefixes})${detail}` };
  }
  const bodyLen = trimmed.length - rule.prefix.length;
  if (bodyLen < rule.min_body_len) {
    const expected = rule.expected_len !== null ? rule.expected_len - rule.prefix.length : rule.min_body_len;
    return { ok: false, error: `the key is far too short (${bodyLen} characters after the prefix; a ${rule.kind} key has about ${expected}): it looks truncated` };
  }
  const warnings: string[] = [];
  const accept = " Copy the whole key from the Console (only if Anthropic has changed the key format, accept it as a format change; that is audited)";
  if (rule.expected_len !== null && !formatChanged) {
    if (trimmed.length !== rule.expected_len) {
      const what = trimmed.length < rule.expected_len ? "looks truncated" : "has extra characters";
      return { ok: false, error: `the key has ${trimmed.length} characters, but a ${rule.kind} key has exactly ${rule.expected_len}: it ${what}.${accept}` };
    }
    if (!trimmed.endsWith("AA")) {
      return { ok: false, error: `the key does not end in 'AA' as every ${rule.kind} key does: it looks truncated or altered.${accept}` };
    }
  }
  if (rule.expected_len !== null) {
    if (trimmed.length < rule.expected_len) {
      warnings.push(`looks truncated: ${trimmed.length} characters, a ${rule.kind} key has ${rule.expected_len}`);
    } else if (trimmed.length > rule.expected_len) {
      warnings.push(`longer than usual: ${trimmed.length} characters, a ${rule.kind} key has ${rule.expected_len}`);
    }
    if (!trimmed.endsWith("AA")) warnings.push("does not end in 'AA' like Anthropic keys usually do");
  }
  return { ok: true, kind: rule.kind, length: trimmed.length, warnings };
}
