// Display rules for checklist results, shared by the Check view and the Fleet table.
// Pure (no Svelte, no IPC): unit-tested in tests/checks.test.mjs.

export type CheckStatus = "skip" | "pass" | "warn" | "fail";
export type CheckDomain = "credential" | "account-context" | "protocol" | "throughput" | "boundary";
export type Tone = "ok" | "info" | "warn" | "bad" | "muted";

/** The domains in the order the checklist narrows a failure. */
export const DOMAIN_ORDER: readonly CheckDomain[] = ["credential", "account-context", "protocol", "throughput", "boundary"];

const TITLES: Record<CheckDomain, string> = {
  credential: "Credential",
  "account-context": "Account context",
  protocol: "Protocol",
  throughput: "Throughput",
  boundary: "Boundary and host baseline",
};

export function domainTitle(d: CheckDomain): string {
  return TITLES[d];
}

export function statusTone(s: CheckStatus): Tone {
  return s === "pass" ? "ok" : s === "warn" ? "warn" : s === "fail" ? "bad" : "muted";
}

interface DomainLike { domain: CheckDomain; status: CheckStatus; checks: number }
interface CheckLike { domain: CheckDomain; status: CheckStatus; fix: string | null }

/** Domains in checklist order whatever order they came in (unknown ones dropped). */
export function orderedDomains<D extends DomainLike>(domains: readonly D[]): D[] {
  return DOMAIN_ORDER.flatMap((d) => domains.filter((x) => x.domain === d));
}

/** The first failing check of the first failing domain: its fix is the one to show first. */
export function firstFix<C extends CheckLike>(checks: readonly C[], first: CheckDomain | null): C | null {
  if (!first) return null;
  return checks.find((c) => c.domain === first && c.status === "fail") ?? null;
}

/** Checks that deserve their evidence, cause and fix opened by default. */
export function needsAttention(s: CheckStatus): boolean {
  return s === "fail" || s === "warn";
}

/** One short label for a Fleet cell: `pass`, `fail · credential`. */
export function lastCheckLabel(run: { status: CheckStatus; first_failing_domain: CheckDomain | null } | undefined): string {
  if (!run) return "not checked";
  return run.first_failing_domain ? `${run.status} · ${run.first_failing_domain}` : run.status;
}
