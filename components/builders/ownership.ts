// Ownership: every object this program creates carries the identity of the stack that owns it,
// and the program refuses to create an object that exists and is someone else's. (The Kubernetes
// provider version this project can build applies with server-side apply and would otherwise
// silently take such an object over.) Pure: the cluster is read elsewhere (clusterReader.ts).
import { MANAGED_BY, PART_OF } from "./labels";

/** The annotation every object we create carries: `<organization>/<project>/<stack>`. */
export const OWNER_ANNOTATION = "agent-platform.io/owned-by";

export function ownerId(organization: string, project: string, stack: string): string {
  return `${organization}/${project}/${stack}`;
}

/** One object the program will create or update, as the API server names it. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  /** Lowercase plural of the kind, for the API path. */
  plural: string;
  namespace?: string;
  name: string;
}

/** What the check needs of a live object. */
export interface LiveObject {
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** The PersistentVolumeClaims its pod template mounts (workloads only). */
  claimNames?: string[];
}

export function describeRef(r: ObjectRef): string {
  return `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`;
}

/**
 * Whether the program may create or update `ref`, given the live object (undefined: it does not
 * exist). Returns undefined when it may, otherwise what is wrong and the fix.
 *
 * Objects this instance created before objects carried the owner annotation (an earlier version
 * of this program) are recognised by their recommended labels and taken as ours.
 */
export function ownershipProblem(ref: ObjectRef, live: LiveObject | undefined, owner: string, instance: string): string | undefined {
  if (live === undefined) return undefined;
  const markedBy = live.annotations?.[OWNER_ANNOTATION];
  if (markedBy === owner) return undefined;
  const labels = live.labels ?? {};
  const legacyOurs =
    markedBy === undefined &&
    labels["app.kubernetes.io/part-of"] === PART_OF &&
    labels["app.kubernetes.io/managed-by"] === MANAGED_BY &&
    labels["app.kubernetes.io/instance"] === instance;
  if (legacyOurs) return undefined;
  const who = markedBy !== undefined ? `stack ${markedBy}` : "something outside this program (it has no agent-platform.io/owned-by annotation)";
  const fix =
    ref.kind === "Namespace"
      ? `deploy into it explicitly with \`pulumi config set agent-platform:createNamespaces false\` (the stack then only labels it and never deletes it), or choose another namespace`
      : markedBy !== undefined
        ? `choose another agent-platform:instanceName or namespace for this stack, or destroy stack ${markedBy} first`
        : `choose another agent-platform:instanceName or namespace, or delete or rename that object if it is no longer needed`;
  return `${describeRef(ref)} already exists and belongs to ${who}: refusing to take it over. Fix: ${fix}`;
}

/** Every problem of a whole plan, as one message; undefined when there is none. */
export function ownershipReport(problems: string[]): string | undefined {
  if (problems.length === 0) return undefined;
  return `Nothing was changed: ${problems.length} problem(s) with the objects this stack would create or use:\n${problems.map((p) => `  - ${p}`).join("\n")}`;
}
