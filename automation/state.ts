/**
 * Pure helpers over an exported stack state (`pulumi stack export`, Deployment v3):
 * finding the pull-secret resources, pending operations, protected resources, and the
 * state edit behind `destroy --remove-protected`. The state is validated with zod rather
 * than trusted, since its shape is not typed by the Automation API.
 */
import { z } from "zod";
import { isPullSecretUrn } from "./changes";

const ResourceState = z
  .object({
    urn: z.string(),
    type: z.string(),
    custom: z.boolean().optional(),
    protect: z.boolean().optional(),
    retainOnDelete: z.boolean().optional(),
    outputs: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

const PendingOperation = z
  .object({
    resource: z.object({ urn: z.string(), type: z.string() }).loose(),
    type: z.string(),
  })
  .loose();

const DeploymentBody = z
  .object({
    resources: z.array(ResourceState).optional(),
    pending_operations: z.array(PendingOperation).optional(),
  })
  .loose();

export const ExportedState = z.object({ version: z.number(), deployment: DeploymentBody.optional() }).loose();
export type ExportedState = z.infer<typeof ExportedState>;

export function parseState(raw: unknown): ExportedState {
  const parsed = ExportedState.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`the stack state has an unexpected shape (${parsed.error.issues[0]?.message ?? "invalid"}); is the Pulumi CLI newer than this tool expects?`);
  }
  return parsed.data;
}

function resources(state: ExportedState): z.infer<typeof ResourceState>[] {
  return state.deployment?.resources ?? [];
}

/**
 * URNs of the registry pull secret(s): Kubernetes Secrets under the RegistryPullSecret
 * component (by URN), or any Secret of type kubernetes.io/dockerconfigjson in the state.
 */
export function pullSecretUrns(state: ExportedState): string[] {
  return resources(state)
    .filter((r) => r.custom !== false && r.type === "kubernetes:core/v1:Secret")
    .filter((r) => isPullSecretUrn(r.urn) || r.outputs?.["type"] === "kubernetes.io/dockerconfigjson")
    .map((r) => r.urn)
    .sort();
}

export interface PendingOp {
  urn: string;
  type: string;
  op: string;
}

export function pendingOperations(state: ExportedState): PendingOp[] {
  return (state.deployment?.pending_operations ?? []).map((p) => ({ urn: p.resource.urn, type: p.resource.type, op: p.type }));
}

export function protectedUrns(state: ExportedState): string[] {
  return resources(state)
    .filter((r) => r.protect === true || r.retainOnDelete === true)
    .map((r) => r.urn)
    .sort();
}

export function resourceUrns(state: ExportedState): string[] {
  return resources(state)
    .filter((r) => r.type !== "pulumi:pulumi:Stack")
    .map((r) => r.urn)
    .sort();
}

/**
 * Copy of the state with protect and retainOnDelete cleared on every resource, so that a
 * following destroy really deletes the generated secrets and the PostgreSQL PVC.
 * Returns the URNs that were changed.
 */
export function withoutProtection(raw: unknown): { state: unknown; changed: string[] } {
  const copy = structuredClone(raw) as { deployment?: { resources?: Record<string, unknown>[] } };
  const changed: string[] = [];
  for (const r of copy.deployment?.resources ?? []) {
    if (r["protect"] === true || r["retainOnDelete"] === true) {
      changed.push(String(r["urn"]));
      r["protect"] = false;
      r["retainOnDelete"] = false;
    }
  }
  return { state: copy, changed: changed.sort() };
}

/** Top-level field of a property path: "rules[1]" -> "rules", "spec.replicas" -> "spec". */
function topField(path: string): string {
  const m = /^([^.[]+)/.exec(path.startsWith('["') ? path.slice(2) : path);
  return m ? m[1].replace(/"\]$/, "") : path;
}

/** Fields a re-apply cannot take back or must never be touched in the state. */
const NOT_REAPPLIED = new Set(["metadata", "apiVersion", "kind", "status", "id", "urn"]);

/**
 * For drift --repair: the Kubernetes provider diffs the program against the stored live object
 * pruned to the program's shape, so a change it cannot see (a rule added to a Role) would
 * survive `up`. Here the stored copy of each such top-level field is emptied in the state (a
 * copy), so the next `up` sees a difference and re-applies the program's value (server-side
 * apply with force replaces an atomic list such as Role rules). Only fields the program sets
 * (present in the resource's inputs) are touched. Returns the new state and what was marked.
 */
export function markFieldsStale(
  raw: unknown,
  targets: readonly { urn: string; fields: readonly string[] }[],
): { state: unknown; marked: { urn: string; fields: string[] }[] } {
  const copy = structuredClone(raw) as { deployment?: { resources?: Record<string, unknown>[] } };
  const marked: { urn: string; fields: string[] }[] = [];
  for (const r of copy.deployment?.resources ?? []) {
    const t = targets.find((x) => x.urn === r["urn"]);
    if (!t) continue;
    const inputs = (r["inputs"] ?? {}) as Record<string, unknown>;
    const outputs = (r["outputs"] ?? {}) as Record<string, unknown>;
    const fields = [...new Set(t.fields.map(topField))].filter((f) => !NOT_REAPPLIED.has(f) && f in inputs).sort();
    for (const f of fields) {
      const cur = outputs[f];
      outputs[f] = Array.isArray(cur) ? [] : typeof cur === "object" && cur !== null ? {} : null;
    }
    r["outputs"] = outputs;
    if (fields.length) marked.push({ urn: String(r["urn"]), fields });
  }
  return { state: copy, marked };
}
