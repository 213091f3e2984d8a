/**
 * Turning engine events into per-resource changes, and building the drift report.
 * Pure functions over recorded events (the `onEvent` stream of the Automation API).
 *
 * What the engine reports (pulumi 3.259, pkg/engine/update.go and deploy/step.go):
 *  - preview/up: a ResourcePreEvent per step with op create/update/replace/delete… and
 *    `diffs`/`detailedDiff` (property paths), then a ResOutputsEvent.
 *  - refresh (also `refresh --preview-only`): the ResourcePreEvent says op "refresh" with no
 *    diff; the ResOutputsEvent carries the result op ("same", "update", or "delete" when the
 *    object is gone) and the refresh diff (state vs. cluster, framed as what changed outside).
 */
import type { EngineEvent, StepEventMetadata } from "@pulumi/pulumi/automation";
import { PULL_SECRET_REFRESHER_COMPONENT } from "../components/builders/pullSecretRefresh";
import { PULL_SECRET_COMPONENT } from "../components/builders/registry";

export type Phase = "refresh" | "preview" | "update";

export interface ResourceChange {
  urn: string;
  type: string;
  name: string;
  /** The engine op: create, update, replace, delete, … (for refresh: update = changed outside, delete = gone). */
  op: string;
  /** Changed property paths (e.g. "spec.replicas", "data"); empty when the engine gave none. */
  fields: string[];
  /** How the change was found or why it is listed, when that is not obvious. */
  note?: string;
}

const REPLACE_FAMILY = new Set(["replace", "create-replacement", "delete-replaced"]);
/** Engine ops that leave the resource as it is (per event, and as keys of a change summary). */
const NO_CHANGE = new Set(["same", "read", "refresh", "discard", "discard-replaced", "remove-pending-replace"]);

/** Counts resource changes in an engine change summary ({create: 2, same: 10, ...}). */
export function countChanges(summary: Readonly<Record<string, number | undefined>>): number {
  let n = 0;
  for (const [op, count] of Object.entries(summary)) {
    if (!NO_CHANGE.has(op) && typeof count === "number") n += count;
  }
  return n;
}

export function nameFromUrn(urn: string): string {
  const i = urn.lastIndexOf("::");
  return i >= 0 ? urn.slice(i + 2) : urn;
}

/** Top-level keys whose values differ between two property bags (values are compared, never kept). */
function changedKeys(a: Record<string, unknown> | undefined, b: Record<string, unknown> | undefined): string[] {
  if (!a || !b) return [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => !k.startsWith("__") && JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

/**
 * Changed fields: the provider's detailed diff, else its top-level diffs, else (providers
 * that report only "changed", e.g. dynamic providers) the keys whose values differ between
 * the old and new state in the event: inputs for an update, outputs for a refresh result.
 */
function fieldsOf(meta: StepEventMetadata, isRefreshResult: boolean): string[] {
  const detailed = meta.detailedDiff ? Object.keys(meta.detailedDiff) : [];
  if (detailed.length) return [...new Set(detailed)].sort();
  if (meta.diffs?.length) return [...new Set(meta.diffs)].sort();
  if (meta.op !== "update" || !meta.old || !meta.new) return [];
  return isRefreshResult ? changedKeys(meta.old.outputs, meta.new.outputs) : changedKeys(meta.old.inputs, meta.new.inputs);
}

/**
 * Collects the resources an operation changes (or, for a refresh, that changed outside
 * Pulumi) from its engine events. Later events for a URN refine earlier ones; component
 * resources and the stack itself never count.
 */
export function changesFromEvents(events: readonly EngineEvent[]): ResourceChange[] {
  const byUrn = new Map<string, ResourceChange>();
  const refreshed = new Set<string>();
  for (const ev of events) {
    const meta = ev.resourcePreEvent?.metadata ?? ev.resOutputsEvent?.metadata;
    if (!meta) continue;
    if (meta.type === "pulumi:pulumi:Stack" || meta.type.startsWith("pulumi:providers:")) continue;
    const state = meta.new ?? meta.old;
    // Component resources: the engine omits `custom` when false (Go omitempty).
    if (state && state.custom !== true) continue;
    const fields = fieldsOf(meta, ev.resOutputsEvent !== undefined && refreshed.has(meta.urn));
    const prev = byUrn.get(meta.urn);
    if (ev.resourcePreEvent && meta.op === "refresh") refreshed.add(meta.urn);
    if (NO_CHANGE.has(meta.op)) {
      // A result op of "same" after a "refresh" pre-event means: unchanged.
      if (ev.resOutputsEvent && meta.op === "same" && prev) byUrn.delete(meta.urn);
      continue;
    }
    // A replacement shows up as several steps (create-replacement, replace, delete-replaced).
    const replaceFamily = REPLACE_FAMILY.has(meta.op) || (prev !== undefined && REPLACE_FAMILY.has(prev.op));
    const allFields = [...new Set([...(prev?.fields ?? []), ...fields])].sort();
    const initErrors = meta.new?.initErrors ?? meta.old?.initErrors ?? [];
    const change: ResourceChange = {
      urn: meta.urn,
      type: meta.type,
      name: nameFromUrn(meta.urn),
      op: replaceFamily ? "replace" : meta.op,
      fields: allFields,
    };
    // The engine retries an update of a resource that is unhealthy (init errors), with no field changed.
    if (meta.op === "update" && allFields.length === 0 && initErrors.length) {
      change.note = `unhealthy, up would retry it: ${initErrors[0].split("\n")[0].slice(0, 200)}`;
    }
    byUrn.set(meta.urn, change);
  }
  return [...byUrn.values()].sort((a, b) => a.name.localeCompare(b.name) || a.urn.localeCompare(b.urn));
}

/**
 * Paths of a Kubernetes object that the cluster itself changes, or that only record history,
 * and so say nothing about drift: status, bookkeeping metadata, binder/controller annotations.
 */
const SYSTEM_PATHS = [
  /^status(\.|\[|$)/,
  /^metadata\.(resourceVersion|managedFields|generation|creationTimestamp|uid|selfLink|deletionTimestamp|deletionGracePeriodSeconds)(\.|\[|$)/,
  /^metadata\.annotations\["?(deployment\.kubernetes\.io\/|pv\.kubernetes\.io\/|volume\.kubernetes\.io\/|volume\.beta\.kubernetes\.io\/|kubectl\.kubernetes\.io\/last-applied-configuration|control-plane\.alpha\.kubernetes\.io\/)/,
  /^spec\.volumeName$/,
  /^__/,
];

export function isSystemPath(path: string): boolean {
  return SYSTEM_PATHS.some((re) => re.test(path));
}

function pathJoin(base: string, key: string): string {
  if (base === "") return /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}["${key}"]`;
}

/**
 * Deep difference of two Kubernetes objects as property paths (arrays compared by index,
 * a longer or shorter array reported at its path), without system-managed paths.
 * Values are compared, never returned.
 */
export function objectDiffPaths(a: unknown, b: unknown, base = ""): string[] {
  if (base !== "" && isSystemPath(base)) return [];
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [base];
    return a.flatMap((x, i) => objectDiffPaths(x, b[i], `${base}[${i}]`));
  }
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => objectDiffPaths(a[k], b[k], pathJoin(base, k)));
  }
  return base === "" ? [] : [base];
}

export const LIVE_COMPARE_NOTE = "found by comparing the live object with the one last deployed";

/**
 * Out-of-band changes the provider's own refresh diff does not see. The Kubernetes provider
 * diffs the program's inputs against the live object pruned to the inputs' shape, so an
 * element added to a list (a rule added to a Role with kubectl) or a field the program does
 * not set goes unnoticed. Here every refreshed Kubernetes object is compared with the state's
 * copy of it (the object as last deployed), outside status and system-managed metadata.
 * Secret values arrive masked in events, so Secret data is left to the provider's diff.
 */
export function liveChangesFromRefreshEvents(events: readonly EngineEvent[]): ResourceChange[] {
  const refreshed = new Set<string>();
  const out: ResourceChange[] = [];
  for (const ev of events) {
    const pre = ev.resourcePreEvent?.metadata;
    if (pre && pre.op === "refresh") refreshed.add(pre.urn);
    const meta = ev.resOutputsEvent?.metadata;
    if (!meta || !refreshed.has(meta.urn) || !meta.type.startsWith("kubernetes:")) continue;
    if (meta.op === "delete" || !meta.old || !meta.new || meta.new.custom !== true) continue;
    const fields = objectDiffPaths(meta.old.outputs, meta.new.outputs).filter((f) => !isSystemPath(f) && !ownedByAutoscaler(f, meta.old?.inputs));
    if (fields.length) out.push({ urn: meta.urn, type: meta.type, name: nameFromUrn(meta.urn), op: "update", fields, note: LIVE_COMPARE_NOTE });
  }
  return out;
}

/**
 * A replica count the program leaves unset belongs to a HorizontalPodAutoscaler (the program
 * omits `spec.replicas` exactly when one owns it): its changes are the autoscaler at work, not drift.
 */
function ownedByAutoscaler(field: string, inputs: Record<string, unknown> | undefined): boolean {
  if (field !== "spec.replicas") return false;
  const spec = inputs?.spec;
  return typeof spec === "object" && spec !== null && (spec as Record<string, unknown>).replicas === undefined;
}

/** Adds live-comparison findings to the provider's refresh changes (fields merged per resource). */
function mergeChanges(primary: readonly ResourceChange[], extra: readonly ResourceChange[]): ResourceChange[] {
  const byUrn = new Map(primary.map((c) => [c.urn, { ...c }]));
  for (const e of extra) {
    const p = byUrn.get(e.urn);
    if (!p) byUrn.set(e.urn, { ...e });
    else if (p.op === "update") p.fields = [...new Set([...p.fields, ...e.fields])].sort();
  }
  return [...byUrn.values()].sort((a, b) => a.name.localeCompare(b.name) || a.urn.localeCompare(b.urn));
}

/** The component that owns the registry pull secret(s); its Secrets carry the ECR token. */
const SECRET_TYPE = "kubernetes:core/v1:Secret";

/** True for a Kubernetes Secret whose URN has the RegistryPullSecret component among its parents. */
export function isPullSecretUrn(urn: string): boolean {
  // urn:pulumi:<stack>::<project>::<parentType>$<parentType>$<type>::<name>
  const parts = urn.split("::");
  if (parts.length < 4) return false;
  const typeChain = parts[2].split("$");
  return typeChain[typeChain.length - 1] === SECRET_TYPE && typeChain.slice(0, -1).includes(PULL_SECRET_COMPONENT);
}

/** Fields of a pull secret that change on every run in ECR mode (the 12-hour token). */
export function isTokenField(field: string): boolean {
  return /^(data|stringData)(\b|\.|\[|$)/.test(field);
}

export interface ExcludedChange extends ResourceChange {
  reason: string;
}

export const PULL_SECRET_CHURN_REASON =
  "expected churn: the registry pull secret's token data is regenerated on every run (ECR tokens last about 12 h); " +
  "only its data is ignored, any other field of it still counts";

/**
 * Splits preview changes into real ones and the expected pull-secret churn: an update (or a
 * replacement) of a pull secret that touches only data/stringData. A create or delete of the
 * pull secret, or a change to its labels or type, is still reported.
 */
export function excludeExpectedChurn(
  changes: readonly ResourceChange[],
  reason: string = PULL_SECRET_CHURN_REASON,
): { kept: ResourceChange[]; excluded: ExcludedChange[] } {
  const kept: ResourceChange[] = [];
  const excluded: ExcludedChange[] = [];
  for (const c of changes) {
    // The provider may replace the Secret rather than update it when its data changes.
    const churn = (c.op === "update" || c.op === "replace") && isPullSecretUrn(c.urn) && c.fields.length > 0 && c.fields.every(isTokenField);
    if (churn) excluded.push({ ...c, reason });
    else kept.push(c);
  }
  return { kept, excluded };
}

export interface DriftReport {
  drift: boolean;
  /** Resources whose live object differs from the state (found by the refresh). */
  changedOutside: ResourceChange[];
  /** What `up` would do to bring the cluster back to the program (found by the preview). */
  pendingChanges: ResourceChange[];
  /** Changes left out on purpose, each with its reason. */
  excluded: ExcludedChange[];
}

export const REFRESHER_CHURN_REASON =
  "expected churn: the in-cluster pull-secret refresher (CronJob) renewed the ECR token in the pull secret's data since the last up; " +
  "only its data is ignored, any other field of it still counts";

/** True when the state holds the in-cluster pull-secret refresher (an object under its component). */
export function hasPullSecretRefresher(events: readonly EngineEvent[]): boolean {
  return events.some((ev) => {
    const urn = ev.resourcePreEvent?.metadata.urn ?? ev.resOutputsEvent?.metadata.urn;
    const parts = urn?.split("::") ?? [];
    return parts.length >= 4 && parts[2].split("$").includes(PULL_SECRET_REFRESHER_COMPONENT);
  });
}

/**
 * Drift from the refresh phase (state vs. cluster) and the preview phase (program vs. cluster)
 * of a `preview --refresh` (splitRefreshPhase). Refresh-phase changes are real, with one exception: when the stack
 * runs the in-cluster pull-secret refresher (ecr mode), the pull secret's data changed by it is
 * expected. Without the refresher nobody but an operator changes the live pull secret (static
 * mode's data changed by hand is drift). Preview-phase token churn is excluded.
 */
export function buildDriftReport(refreshEvents: readonly EngineEvent[], previewEvents: readonly EngineEvent[]): DriftReport {
  const outside = mergeChanges(changesFromEvents(refreshEvents), liveChangesFromRefreshEvents(refreshEvents));
  const refreshed = hasPullSecretRefresher(refreshEvents) ? excludeExpectedChurn(outside, REFRESHER_CHURN_REASON) : { kept: outside, excluded: [] };
  const { kept, excluded } = excludeExpectedChurn(changesFromEvents(previewEvents));
  return {
    drift: refreshed.kept.length > 0 || kept.length > 0,
    changedOutside: refreshed.kept,
    pendingChanges: kept,
    excluded: [...refreshed.excluded, ...excluded],
  };
}

/**
 * Splits the events of one `preview --refresh` into its two phases. The engine (pulumi 3.259,
 * deploy/deployment_executor.go) refreshes every resource of the state first, in the same event
 * stream: a ResourcePreEvent with op "refresh", then a ResOutputsEvent with the result; the
 * preview's own steps follow. The refresh phase is those pairs; everything else is the preview.
 */
export function splitRefreshPhase(events: readonly EngineEvent[]): { refresh: EngineEvent[]; preview: EngineEvent[] } {
  const refresh: EngineEvent[] = [];
  const preview: EngineEvent[] = [];
  const awaitingResult = new Set<string>();
  for (const ev of events) {
    const pre = ev.resourcePreEvent?.metadata;
    const out = ev.resOutputsEvent?.metadata;
    if (pre && pre.op === "refresh") {
      awaitingResult.add(pre.urn);
      refresh.push(ev);
    } else if (out && awaitingResult.has(out.urn)) {
      awaitingResult.delete(out.urn);
      refresh.push(ev);
    } else {
      preview.push(ev);
    }
  }
  return { refresh, preview };
}

/** Human wording of an op in a drift/refresh context. */
export function describeOp(op: string, phase: Phase): string {
  if (phase === "refresh") {
    if (op === "delete") return "deleted outside Pulumi";
    if (op === "update") return "changed outside Pulumi";
    return op;
  }
  const words: Record<string, string> = {
    create: "create",
    update: "update",
    delete: "delete",
    replace: "replace",
    "create-replacement": "create replacement",
    "delete-replaced": "delete replaced",
    import: "import",
  };
  return words[op] ?? op;
}
