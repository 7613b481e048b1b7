// Display rules of the Team screen, pure (unit-tested in tests/team.test.mjs): the sync's result
// line ("N changes from teammates" and what moved), the lines of a refused change or a conflict
// (from the error's detail, never its message), the text a new member sends an admin, and how
// a member's role and scopes read.

/** The structural parts of the generated `TeamSync` these rules read. */
export interface TeamSyncLike {
  verified_commits: number;
  imported_instances: string[];
  imported_keys: string[];
  updated_instances: string[];
  shared_instances: string[];
  shared_keys: string[];
  pushed: boolean;
}

/** The structural parts of the generated `ErrorDetail`. */
export type TeamDetailLike =
  | { kind: "team_refused"; commit: string; who: string; what: string; path: string }
  | { kind: "team_conflict"; conflicts: { instance: string; field: string; yours: string; theirs: string }[] };

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "No changes from teammates" / "1 change from teammates" / "3 changes from teammates". */
export function teammatesLine(n: number): string {
  return n === 0 ? "No changes from teammates" : `${count(n, "change")} from teammates`;
}

/**
 * The sync's result in one line: the teammates' changes, then only what moved (imported,
 * merged, shared, pushed), e.g. `2 changes from teammates · imported 1 instance, 2 keys · pushed`.
 */
export function syncSummary(s: TeamSyncLike): string {
  const parts = [teammatesLine(s.verified_commits)];
  const imported = [s.imported_instances.length && count(s.imported_instances.length, "instance"), s.imported_keys.length && count(s.imported_keys.length, "key")].filter(Boolean);
  if (imported.length) parts.push(`imported ${imported.join(", ")}`);
  if (s.updated_instances.length) parts.push(`merged teammates' edits into ${count(s.updated_instances.length, "instance")}`);
  const shared = [s.shared_instances.length && count(s.shared_instances.length, "instance"), s.shared_keys.length && count(s.shared_keys.length, "key")].filter(Boolean);
  if (shared.length) parts.push(`shared ${shared.join(", ")}`);
  parts.push(s.pushed ? "pushed" : "nothing to push");
  return parts.join(" · ");
}

/** A refused change or a conflict as a title and rows of [label, value] to show. */
export function detailRows(d: TeamDetailLike): { title: string; rows: [string, string][] } {
  if (d.kind === "team_refused") {
    return {
      title: "A change failed verification: nothing of it was imported and nothing was pushed",
      rows: [["Who", d.who], ["What", d.what], ["Where", d.path], ["Commit", d.commit]],
    };
  }
  return {
    title: "A teammate changed the same fields differently: nothing was written",
    rows: d.conflicts.map((c): [string, string] => [`${c.instance} · ${c.field}`, `yours ${c.yours} — the team store's ${c.theirs}`]),
  };
}

/** What a member who just joined sends an admin (public material only), one fact a line. */
export function inviteRequest(member: string, recipient: string, signingKey: string): string {
  return `member: ${member}\nrecipient: ${recipient}\nsigning key: ${signingKey}\n`;
}

/** An admin reads every owner; a member the owners of their scopes. */
export function scopeLabel(role: "admin" | "member", owners: string[]): string {
  if (role === "admin") return owners.length ? `every owner (scopes: ${owners.join(", ")})` : "every owner";
  return owners.length ? owners.join(", ") : "no owners yet";
}

/** The progress line of a running sync or init. */
export function stageLine(p: { event: string; step?: number; label?: string }): string {
  if (p.event === "step" && p.label) return `${p.label.charAt(0).toUpperCase()}${p.label.slice(1)}…`;
  if (p.event === "started") return "Starting…";
  return "Done";
}
