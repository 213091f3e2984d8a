// The executor sandbox namespace and what bounds the pods in it: Pod Security labels, a
// LimitRange, a ResourceQuota and the namespace's default ServiceAccount. Plain manifests
// (apiVersion and kind included) so the same objects feed Pulumi resources and `kubectl apply`.
import { type Labels, standardLabels } from "./labels";
import { namespaceLabels } from "./namespaces";
import type { CpuMemory, SandboxSettings } from "./sandboxSettings";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Labels;
  annotations?: Record<string, string>;
}

/** Resource name to quantity, as the API's resource lists are. */
export type Quantities = Record<string, string>;

export interface NamespaceManifest {
  apiVersion: "v1";
  kind: "Namespace";
  metadata: ObjectMeta;
}

export interface LimitRangeManifest {
  apiVersion: "v1";
  kind: "LimitRange";
  metadata: ObjectMeta;
  spec: { limits: { type: "Container"; defaultRequest: Quantities; default: Quantities; max: Quantities }[] };
}

export interface ResourceQuotaManifest {
  apiVersion: "v1";
  kind: "ResourceQuota";
  metadata: ObjectMeta;
  spec: { hard: Record<string, string> };
}

export interface ServiceAccountManifest {
  apiVersion: "v1";
  kind: "ServiceAccount";
  metadata: ObjectMeta;
  automountServiceAccountToken: boolean;
  imagePullSecrets?: { name: string }[];
}

const cpuMemory = (q: CpuMemory): Quantities => ({ cpu: q.cpu, memory: q.memory });

/** Labels of every sandbox object we create (the default ServiceAccount is patched, not ours). */
export const sandboxLabels = (instance: string) => standardLabels("agent-platform", "executor-sandbox", instance);

/**
 * The sandbox namespace: Pod Security enforced at the configured level (restricted by default),
 * warn and audit always at restricted so anything short of it shows up.
 */
export function sandboxNamespace(s: SandboxSettings): NamespaceManifest {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: s.executorNamespace,
      // The labels the Namespaces component gives it (components/namespaces.ts creates it).
      labels: namespaceLabels("executors", s.podSecurity, s.instance),
    },
  };
}

/**
 * Per-container defaults and maximum. The LimitRanger admission plugin is a mutating one: a
 * container without requests or limits gets these before any validating policy looks at it,
 * and one asking for more than `max` is refused with the reason.
 */
export function sandboxLimitRange(s: SandboxSettings): LimitRangeManifest {
  return {
    apiVersion: "v1",
    kind: "LimitRange",
    metadata: { name: `${s.instance}-executor-limits`, namespace: s.executorNamespace, labels: sandboxLabels(s.instance) },
    spec: {
      limits: [
        {
          type: "Container",
          defaultRequest: cpuMemory(s.limits.defaultRequest),
          default: cpuMemory(s.limits.default),
          max: cpuMemory(s.limits.max),
        },
      ],
    },
  };
}

/**
 * Concurrency (pods) and the sum of CPU and memory limits in the namespace. Quota on limits
 * makes the API server refuse any pod without limits; the LimitRange supplies them first.
 */
export function sandboxResourceQuota(s: SandboxSettings): ResourceQuotaManifest {
  return {
    apiVersion: "v1",
    kind: "ResourceQuota",
    metadata: { name: `${s.instance}-executor-quota`, namespace: s.executorNamespace, labels: sandboxLabels(s.instance) },
    spec: { hard: { pods: String(s.quota.pods), "limits.cpu": s.quota.cpu, "limits.memory": s.quota.memory } },
  };
}

/**
 * The namespace's `default` ServiceAccount, which the controller-manager creates and executor
 * pods run as: no API token mounted unless a pod asks (and the admission policy refuses pods
 * that ask), and the pull secret so executor pods pull from the private registry.
 * Applied as a patch (Pulumi ServiceAccountPatch, `kubectl apply --server-side`): the account
 * is not ours to create or delete.
 */
export function sandboxDefaultServiceAccountPatch(s: SandboxSettings): ServiceAccountManifest {
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "default", namespace: s.executorNamespace },
    automountServiceAccountToken: false,
    ...(s.pullSecretName ? { imagePullSecrets: [{ name: s.pullSecretName }] } : {}),
  };
}
