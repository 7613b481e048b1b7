// The typed IPC layer: the only module that imports @tauri-apps/*.
// Each function is one command of src-tauri/src/commands.rs; the types are generated from Rust
// (./bindings, kept fresh by src-tauri/tests/integration/bindings.rs). Errors reject with an IpcError
// carrying the core's stable code.
import { invoke, Channel } from "@tauri-apps/api/core";
import type { AppInfo } from "./bindings/AppInfo";
import type { AuditEvent } from "./bindings/AuditEvent";
import type { Rotation } from "./bindings/Rotation";
import type { RotationOptions } from "./bindings/RotationOptions";
import type { RotationPlan } from "./bindings/RotationPlan";
import type { RotationPolicy } from "./bindings/RotationPolicy";
import type { PolicyScope } from "./bindings/PolicyScope";
import type { PolicySpec } from "./bindings/PolicySpec";
import type { ExportFormat } from "./bindings/ExportFormat";
import type { ExportDone } from "./bindings/ExportDone";
import type { StepReport } from "./bindings/StepReport";
import type { DeployResult } from "./bindings/DeployResult";
import type { FleetDeployResult } from "./bindings/FleetDeployResult";
import type { FleetTarget } from "./bindings/FleetTarget";
import type { Deployment } from "./bindings/Deployment";
import type { HostKeyProbe } from "./bindings/HostKeyProbe";
import type { CheckRequest } from "./bindings/CheckRequest";
import type { CheckRun } from "./bindings/CheckRun";
import type { FleetReport } from "./bindings/FleetReport";
import type { InstanceReport } from "./bindings/InstanceReport";
import type { ErrorPayload } from "./bindings/ErrorPayload";
import type { ErrorDetail } from "./bindings/ErrorDetail";
import type { Remedy } from "./bindings/Remedy";
import type { Instance } from "./bindings/Instance";
import type { InstanceDetail } from "./bindings/InstanceDetail";
import type { InstanceFilter } from "./bindings/InstanceFilter";
import type { InstancePatch } from "./bindings/InstancePatch";
import type { InstanceRemoved } from "./bindings/InstanceRemoved";
import type { InstanceRow } from "./bindings/InstanceRow";
import type { FleetColumns } from "./bindings/FleetColumns";
import type { FleetDue } from "./bindings/FleetDue";
import type { InstanceSpec } from "./bindings/InstanceSpec";
import type { Key } from "./bindings/Key";
import type { KeyAdded } from "./bindings/KeyAdded";
import type { KeyRules } from "./bindings/KeyRules";
import type { KeySpec } from "./bindings/KeySpec";
import type { Progress } from "./bindings/Progress";
import type { SelfCheck } from "./bindings/SelfCheck";
import type { Settings } from "./bindings/Settings";
import type { SshIdentity } from "./bindings/SshIdentity";
import type { OnboardBatch } from "./bindings/OnboardBatch";
import type { OnboardFile } from "./bindings/OnboardFile";
import type { OnboardFileKind } from "./bindings/OnboardFileKind";
import type { TrustedFingerprints } from "./bindings/TrustedFingerprints";
import type { OnboardHost } from "./bindings/OnboardHost";
import type { KnownFingerprints } from "./bindings/KnownFingerprints";
import type { FetchedHostKey } from "./bindings/FetchedHostKey";
import type { ConfirmedHost } from "./bindings/ConfirmedHost";
import type { OnboardDefaults } from "./bindings/OnboardDefaults";
import type { OnboardReport } from "./bindings/OnboardReport";

export type * from "./bindings/AppInfo";
export type * from "./bindings/AuditEvent";
export type * from "./bindings/ExportDone";
export type * from "./bindings/BlastRadius";
export type * from "./bindings/DueStatus";
export type * from "./bindings/OwnerPlan";
export type * from "./bindings/PlanItem";
export type * from "./bindings/Rotation";
export type * from "./bindings/RotationOptions";
export type * from "./bindings/RotationPlan";
export type * from "./bindings/RotationPolicy";
export type * from "./bindings/PolicyScope";
export type * from "./bindings/PolicySpec";
export type * from "./bindings/ExportFormat";
export type * from "./bindings/RotationStep";
export type * from "./bindings/StepEvent";
export type * from "./bindings/StepReport";
export type * from "./bindings/DeployPlanStep";
export type * from "./bindings/DeployPlanView";
export type * from "./bindings/DeployResult";
export type * from "./bindings/FleetDeployResult";
export type * from "./bindings/FleetNotStarted";
export type * from "./bindings/FleetTarget";
export type * from "./bindings/DeployStale";
export type * from "./bindings/Deployment";
export type * from "./bindings/HostKeyProbe";
export type * from "./bindings/CheckRequest";
export type * from "./bindings/CheckResult";
export type * from "./bindings/CheckRun";
export type * from "./bindings/Domain";
export type * from "./bindings/DomainSummary";
export type * from "./bindings/Evidence";
export type * from "./bindings/FleetFinding";
export type * from "./bindings/FleetReport";
export type * from "./bindings/FleetMatrix";
export type * from "./bindings/MatrixRow";
export type * from "./bindings/MatrixProblem";
export type * from "./bindings/InstanceReport";
export type * from "./bindings/Status";
export type * from "./bindings/ErrorPayload";
export type * from "./bindings/ErrorDetail";
export type * from "./bindings/TeamFieldConflict";
export type * from "./bindings/Remedy";
export type * from "./bindings/Instance";
export type * from "./bindings/InstanceDetail";
export type * from "./bindings/InstanceFilter";
export type * from "./bindings/InstancePatch";
export type * from "./bindings/InstanceRow";
export type * from "./bindings/FleetColumns";
export type * from "./bindings/FleetDue";
export type * from "./bindings/InstanceSpec";
export type * from "./bindings/Key";
export type * from "./bindings/KeyAdded";
export type * from "./bindings/KeyBrief";
export type * from "./bindings/KeyKind";
export type * from "./bindings/KeyRules";
export type * from "./bindings/KeySpec";
export type * from "./bindings/KeyStatus";
export type * from "./bindings/Progress";
export type * from "./bindings/Purpose";
export type * from "./bindings/InjectionMethod";
export type * from "./bindings/SelfCheck";
export type * from "./bindings/ServiceManager";
export type * from "./bindings/Settings";
export type * from "./bindings/SshIdentity";
export type * from "./bindings/OnboardBatch";
export type * from "./bindings/OnboardFile";
export type * from "./bindings/OnboardFileKind";
export type * from "./bindings/TrustedFingerprints";
export type * from "./bindings/OnboardHost";
export type * from "./bindings/KnownFingerprints";
export type * from "./bindings/FetchedHostKey";
export type * from "./bindings/HostKeyStatus";
export type * from "./bindings/ConfirmedHost";
export type * from "./bindings/OnboardDefaults";
export type * from "./bindings/OnboardReport";
export type * from "./bindings/OnboardHostReport";
export type * from "./bindings/HostJudgement";
export type * from "./bindings/KeyDecision";

/** A failed command: `code` is the core's stable error code, `message` is for people,
 *  `remedy` (when core knows one) is what the person can do about it, and `detail` (for the
 *  errors that have one: a refused team change, a sync conflict) the error's facts, as data. */
export class IpcError extends Error {
  readonly code: string;
  readonly remedy: Remedy | null;
  readonly detail: ErrorDetail | null;
  constructor(payload: ErrorPayload) {
    super(payload.message);
    this.code = payload.code;
    this.remedy = payload.remedy ?? null;
    this.detail = payload.detail ?? null;
    this.name = "IpcError";
  }
}

function isPayload(e: unknown): e is ErrorPayload {
  return typeof e === "object" && e !== null && typeof (e as ErrorPayload).code === "string" && typeof (e as ErrorPayload).message === "string";
}

async function call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw isPayload(e) ? new IpcError(e) : new IpcError({ code: "internal", message: String(e), remedy: null });
  }
}

/** The message of any error, for display. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export const appInfo = () => call<AppInfo>("app_info");
export const listInstances = (filter?: InstanceFilter) => call<InstanceRow[]>("list_instances", { filter: filter ?? null });
/** The Fleet screen's data in columns (see lib/fleetData.ts). */
export const fleetColumns = (filter?: InstanceFilter) => call<FleetColumns>("fleet_columns", { filter: filter ?? null });
/** The Fleet's rotation column in columns, in `fleetColumns`' order. */
export const fleetDue = (filter?: InstanceFilter) => call<FleetDue>("fleet_due", { filter: filter ?? null });
export const instanceDetail = (name: string) => call<InstanceDetail>("instance_detail", { name });
export const addInstance = (spec: InstanceSpec) => call<Instance>("add_instance", { spec });
export const editInstance = (name: string, patch: InstancePatch) => call<Instance>("edit_instance", { name, patch });
export const removeInstance = (name: string) => call<InstanceRemoved>("remove_instance", { name });
export const keyRules = () => call<KeyRules>("key_rules");
export const suggestKeyName = (instance: string) => call<string>("suggest_key_name", { instance });
/**
 * Sends a pasted key to the core, once. The value is not kept here; the reply holds only the
 * key's hint and fingerprint. Callers clear their field right after.
 */
export const addKey = (spec: KeySpec, value: string) => call<KeyAdded>("add_key", { spec, value });
export const listKeys = (instance?: string) => call<Key[]>("list_keys", { instance: instance ?? null });
export const bindKey = (key: string, instance: string) => call<Key>("bind_key", { key, instance });
export const retireKey = (name: string) => call<Key>("retire_key", { name });
export const removeKey = (name: string, force: boolean) => call<Key>("remove_key", { name, force });
export const auditLog = (opts: { since?: string; subject?: string; limit?: number } = {}) =>
  call<AuditEvent[]>("audit_log", { since: opts.since ?? null, subject: opts.subject ?? null, limit: opts.limit ?? null });
export const settings = () => call<Settings>("settings");
export const setAnthropicBaseUrl = (url: string) => call<Settings>("set_anthropic_base_url", { url });
export const setSshIdentity = (identity: SshIdentity) => call<Settings>("set_ssh_identity", { identity });
/**
 * Unlocks the encrypted SSH key file for this session (memory only, never written). The
 * passphrase crosses IPC once; the caller clears its field. `false`: no passphrase needed.
 */
export const unlockSshKey = (passphrase: string) => call<boolean>("unlock_ssh_key", { passphrase });
export const lockSshKey = () => call<null>("lock_ssh_key");
/** `null`: agent or unencrypted key file; else whether the key file is unlocked. */
export const sshKeyStatus = () => call<boolean | null>("ssh_key_status");
/** A benchmark milestone; `ms`: a duration the UI measured (else the app prints its uptime). */
export const uiMark = (name: "fleet-rendered" | "cost-chart-data" | "cost-chart-drawn", ms?: number) => call<number>("ui_mark", { name, ms: ms === undefined ? null : Math.max(0, Math.round(ms)) });

/** A long operation in progress: its result, and a way to ask it to stop. */
export interface Operation<T> {
  result: Promise<T>;
  cancel: () => Promise<boolean>;
}

let opCounter = 0;

/**
 * Runs a long operation command (one that takes `op_id` and `on_progress`, see the module doc of
 * src-tauri/src/lib.rs): progress events go to `onProgress`, `cancel()` asks it to stop and the
 * result then rejects with code `cancelled`.
 */
function runOperation<T>(cmd: string, args: Record<string, unknown>, onProgress: (p: Progress) => void): Operation<T> {
  const opId = `${cmd}-${Date.now()}-${++opCounter}`;
  const channel = new Channel<Progress>();
  channel.onmessage = onProgress;
  return {
    result: call<T>(cmd, { ...args, op_id: opId, on_progress: channel }),
    cancel: () => call<boolean>("cancel_operation", { op_id: opId }),
  };
}

export const selfCheck = (onProgress: (p: Progress) => void) => runOperation<SelfCheck>("self_check", {}, onProgress);

/**
 * The troubleshooting checklist of one instance (`name`) or, with `name` null, of every
 * non-draft instance. One `step` event per finished instance; every run lands in the history.
 */
export const runChecks = (name: string | null, request: CheckRequest | null, onProgress: (p: Progress) => void) =>
  runOperation<FleetReport>("run_checks", { name, request }, onProgress);
export const checkHistory = (name: string, limit?: number) => call<CheckRun[]>("check_history", { name, limit: limit ?? null });
export const checkReport = (name: string, id: number) => call<InstanceReport>("check_report", { name, id });
export const lastChecks = () => call<CheckRun[]>("last_checks");

/** The host key the instance presents now, next to the pinned one. */
export const probeHostKey = (name: string) => call<HostKeyProbe>("probe_host_key", { name });
/** Pins the fingerprint the user confirmed; rejects with `host_key_mismatch` if the host now presents another. */
export const trustHostKey = (name: string, fingerprint: string) => call<Instance>("trust_host_key", { name, fingerprint });
/** Connects and plans a deploy of `key` (default: the active key); nothing is written. */
export const deployPlan = (name: string, key: string | null, onProgress: (p: Progress) => void) =>
  runOperation<DeployResult>("deploy_plan", { name, key }, onProgress);
/** Applies the previewed plan (by its digest): write, restart, verify, roll back on failure. */
export const deployApply = (name: string, key: string | null, planDigest: string, removeStale: boolean, onProgress: (p: Progress) => void) =>
  runOperation<DeployResult>("deploy_apply", { name, key, plan_digest: planDigest, remove_stale: removeStale }, onProgress);
/**
 * Plans (`apply` false) or applies the active key on many instances, a few at a time. When
 * applying, each target carries the digest of its reviewed plan: a host whose plan changed is
 * refused and left untouched. One `step` event per host stage; `step` counts finished hosts.
 */
export const deployFleet = (targets: FleetTarget[], apply: boolean, removeStale: boolean, onProgress: (p: Progress) => void) =>
  runOperation<FleetDeployResult>("deploy_fleet", { targets, apply, remove_stale: removeStale }, onProgress);
export const deployments = (name: string | null, limit?: number) => call<Deployment[]>("deployments", { name, limit: limit ?? null });

export const rotationPlan = () => call<RotationPlan>("rotation_plan");
export const rotationPolicies = () => call<RotationPolicy[]>("rotation_policies");
/** Sets a scope's policy; `null` fields keep their value, an empty weekday/window clears it. */
export const setRotationPolicy = (scope: PolicyScope, spec: PolicySpec) => call<RotationPolicy>("set_rotation_policy", { scope, spec });
/**
 * Asks where to save the plan (CSV or an .ics calendar) in a native save dialog the app opens —
 * the UI never names a path — and writes it; resolves to where it went and how many keys it
 * lists, or `null` when the person cancels.
 */
export const exportRotationPlan = (format: ExportFormat) => call<ExportDone | null>("export_rotation_plan", { format });
/** The UI preferences the app keeps (theme, lastView, fleetColumns), from its one store file. */
export const prefsLoad = () => call<Record<string, unknown>>("prefs_load");
/** Saves one UI preference (a known key) in the app's one store file. */
export const prefsSave = (key: string, value: unknown) => call<null>("prefs_save", { key, value });
export const openRotations = () => call<Rotation[]>("open_rotations");
export const rotation = (name: string) => call<Rotation>("rotation", { name });
export const rotationStart = (name: string, options: RotationOptions) => call<Rotation>("rotation_start", { name, options });
/**
 * Runs the rotation's next step. At the paste step `value` is the new key, sent to the core
 * once; the reply holds only its hint. Callers clear their field right after.
 */
export const rotationStep = (name: string, opts: { value?: string; confirm?: boolean; removeStale?: boolean } = {}) =>
  call<StepReport>("rotation_step", { name, value: opts.value ?? null, confirm: opts.confirm ?? false, remove_stale: opts.removeStale ?? false });
export const rotationRollback = (name: string, confirm: boolean) => call<StepReport>("rotation_rollback", { name, confirm });

// Onboarding (src-tauri/src/onboard.rs). The webview never names a path: files come from a
// native open dialog the app runs, ~/.ssh/config is resolved by the app.
/** Reads a pasted CSV/TSV table or list of `[user@]host[:port]`; bad rows come back by line. */
export const onboardParseHosts = (text: string) => call<OnboardBatch>("onboard_parse_hosts", { text });
/** The hosts of the person's ~/.ssh/config. */
export const onboardReadSshConfig = () => call<OnboardBatch>("onboard_read_ssh_config");
/** Trusted host-key fingerprints pasted by the person (a provider's list or ssh-keyscan output). */
export const onboardParseFingerprints = (text: string) => call<TrustedFingerprints>("onboard_parse_fingerprints", { text });
/** Asks for a file in the app's open dialog and reads it; `null` when the person cancels. */
export const onboardOpenFile = (kind: OnboardFileKind) => call<OnboardFile | null>("onboard_open_file", { kind });
/** Every host's key, fetched in parallel (nothing sent), compared with pins and trusted fingerprints. */
export const onboardFetchHostKeys = (hosts: OnboardHost[], known: KnownFingerprints | null, onProgress: (p: Progress) => void) =>
  runOperation<FetchedHostKey[]>("onboard_fetch_host_keys", { hosts, known }, onProgress);
/** Discovers the confirmed hosts (pinned); nothing written, no key read. Each host's `digest` goes back with the apply. */
export const onboardPreview = (hosts: ConfirmedHost[], defaults: OnboardDefaults, onProgress: (p: Progress) => void) =>
  runOperation<OnboardReport>("onboard_preview", { hosts, defaults }, onProgress);
/**
 * Applies the reviewed preview (each host with its `preview_digest`; a host that changed since
 * refuses the run, `onboard_preview_changed`) and adopts the keys of the hosts in `adopt`
 * straight into the keychain; only hints and fingerprints come back.
 */
export const onboardApply = (hosts: ConfirmedHost[], defaults: OnboardDefaults, adopt: string[], onProgress: (p: Progress) => void) =>
  runOperation<OnboardReport>("onboard_apply", { hosts, defaults, adopt }, onProgress);
// The cost trail (issue 13): sync from the Admin API (a long operation), then views of the cache.
import type { CostQuery } from "./bindings/CostQuery";
import type { CostReport } from "./bindings/CostReport";
import type { CostSyncOptions } from "./bindings/CostSyncOptions";
import type { SyncReport } from "./bindings/SyncReport";
import type { SyncMark } from "./bindings/SyncMark";
import type { UnownedKey } from "./bindings/UnownedKey";
import type { ApiKeyRecord } from "./bindings/ApiKeyRecord";
import type { Reconciliation } from "./bindings/Reconciliation";
import type { ReconcileOptions } from "./bindings/ReconcileOptions";
import type { Budget } from "./bindings/Budget";
import type { BudgetScope } from "./bindings/BudgetScope";
import type { BudgetSpec } from "./bindings/BudgetSpec";
import type { BudgetStatus } from "./bindings/BudgetStatus";
import type { RateLimits } from "./bindings/RateLimits";
import type { SpendLimits } from "./bindings/SpendLimits";
export type * from "./bindings/CostQuery";
export type * from "./bindings/CostFilter";
export type * from "./bindings/CostGroupBy";
export type * from "./bindings/CostPeriod";
export type * from "./bindings/CostReport";
export type * from "./bindings/CostReportRow";
export type * from "./bindings/CostSyncOptions";
export type * from "./bindings/SyncReport";
export type * from "./bindings/SyncMark";
export type * from "./bindings/UnownedKey";
export type * from "./bindings/ApiKeyRecord";
export type * from "./bindings/Reconciliation";
export type * from "./bindings/ReconcileRow";
export type * from "./bindings/ReconcileStatus";
export type * from "./bindings/Budget";
export type * from "./bindings/BudgetScope";
export type * from "./bindings/BudgetSpec";
export type * from "./bindings/BudgetState";
export type * from "./bindings/BudgetStatus";
export type * from "./bindings/RateLimits";
export type * from "./bindings/RateLimitEntry";
export type * from "./bindings/LimitSource";
export type * from "./bindings/SpendLimits";
export type * from "./bindings/SpendLimitStatus";
export type * from "./bindings/SpendLimit";
export type * from "./bindings/SpendJudgement";
export type * from "./bindings/SpendLimitsAvailability";

/** Syncs usage and cost into the cache: one `step` per page; `cancel()` keeps what was read (the report says `cancelled`). */
export const costSync = (options: CostSyncOptions | null, onProgress: (p: Progress) => void) => runOperation<SyncReport>("cost_sync", { options }, onProgress);
export const costSyncMarks = () => call<SyncMark[]>("cost_sync_marks");
export const costReport = (query: CostQuery) => call<CostReport>("cost_report", { query });
export const costUnowned = (since?: string) => call<UnownedKey[]>("cost_unowned", { since: since ?? null });
/** Retires a key that spends without an owner: inactive at the Admin API, audited. */
export const deactivateUnownedKey = (apiKeyId: string) => call<ApiKeyRecord>("deactivate_unowned_key", { api_key_id: apiKeyId });
export const costReconcile = (since?: string, until?: string, options?: ReconcileOptions) =>
  call<Reconciliation>("cost_reconcile", { since: since ?? null, until: until ?? null, options: options ?? null });
export const budgets = () => call<Budget[]>("budgets");
export const setBudget = (spec: BudgetSpec) => call<Budget>("set_budget", { spec });
export const removeBudget = (scope: BudgetScope, name: string) => call<null>("remove_budget", { scope, name });
export const budgetCheck = () => call<BudgetStatus[]>("budget_check");
/** Anthropic's configured rate limits (organisation, then workspaces) from the cache. */
export const rateLimits = () => call<RateLimits>("rate_limits");
/** Reads the configured rate limits from the Admin API into the cache (needs the Admin key). */
export const refreshRateLimits = () => call<RateLimits>("refresh_rate_limits");
/** Anthropic's spend limits from the cache, judged against this period's spend (or why there are none: early access). */
export const spendLimits = () => call<SpendLimits>("spend_limits");
/** Reads Anthropic's spend limits from the Admin API into the cache (needs the Admin key). */
export const refreshSpendLimits = () => call<SpendLimits>("refresh_spend_limits");

// The team vault (issue 15, src-tauri/src/commands_team.rs). Only public material comes back:
// the team identity never leaves the keychain through the app.
import type { TeamStatus } from "./bindings/TeamStatus";
import type { TeamJoined } from "./bindings/TeamJoined";
import type { TeamInit } from "./bindings/TeamInit";
import type { TeamSync } from "./bindings/TeamSync";
import type { TeamChange } from "./bindings/TeamChange";
import type { TeamAuditEntry } from "./bindings/TeamAuditEntry";
import type { TeamLeft } from "./bindings/TeamLeft";
export type * from "./bindings/TeamStatus";
export type * from "./bindings/TeamMemberView";
export type * from "./bindings/TeamJoined";
export type * from "./bindings/TeamInit";
export type * from "./bindings/TeamSync";
export type * from "./bindings/TeamChange";
export type * from "./bindings/TeamAuditEntry";
export type * from "./bindings/TeamLeft";
export type * from "./bindings/Role";

/** This data dir's membership and the team as last verified; `null` before joining. */
export const teamStatus = () => call<TeamStatus | null>("team_status");
/** The members' signed, append-only audit streams as last verified, newest first. */
export const teamAudit = (limit: number) => call<TeamAuditEntry[]>("team_audit", { limit });
/** Makes (or keeps) the team identity; `signingKey` is a path (private key file, or its .pub when in ssh-agent). */
export const teamJoin = (member: string, signingKey: string) => call<TeamJoined>("team_join", { member, signing_key: signingKey });
/** Creates the team store in an empty repository, or attaches to one (history verified, then imported). One `step` per stage. */
export const teamInit = (repository: string, onProgress: (p: Progress) => void) => runOperation<TeamInit>("team_init", { repository }, onProgress);
/** Fetch, verify, import, share, push. One `step` per stage; not cancellable half way. */
export const teamSync = (onProgress: (p: Progress) => void) => runOperation<TeamSync>("team_sync", {}, onProgress);
/** Adds a member (admins only); resolves to the pushed commit. */
export const teamInvite = (member: string, recipient: string, signingKey: string, admin: boolean) =>
  call<string>("team_invite", { member, recipient, signing_key: signingKey, admin });
export const teamGrant = (member: string, owner: string) => call<TeamChange>("team_grant", { member, owner });
export const teamRevoke = (member: string, owner: string) => call<TeamChange>("team_revoke", { member, owner });
/** Back to a solo inventory: the team keys' values move into the keychain; the store is forgotten. */
export const teamLeave = () => call<TeamLeft>("team_leave");
/** Offboards a member: the keys they could read come back in `exposed_keys` (rotate them). */
export const teamRemove = (member: string) => call<TeamChange>("team_remove", { member });
