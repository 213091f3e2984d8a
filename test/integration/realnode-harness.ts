// Helpers for the tests that run real containers on the real node (cluster/real-node.sh,
// docs/real-node.md): what the cluster script wrote about the node, its registry and its images,
// and the pod fragments that put a pod on it.
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { inject } from "vitest";
import { kubectl, kubectlJson, kubectlOk, repoRoot, waitFor } from "./harness";

export const REAL_NODE_LABEL = "agent-platform.io/node";
export const REAL_NODE_TAINT = "agent-platform.io/real-node";

/** Why the real node is not there ("" when it is): test files skip with this reason. */
export function realNodeMissing(): string {
  return inject("realNodeMissing");
}

export interface RealNode {
  name: string;
  ip: string;
  podCidr: string;
  registry: { server: string; username: string; password: string };
  images: { tools: string; postgres: string; engine: string; executor: string; pause: string; node: string };
  /** The tag of the engine and executor images in the registry. */
  imageTag: string;
}

export function realNode(): RealNode {
  const file = path.join(repoRoot, ".local/cluster", inject("clusterName"), "node/registry.env");
  if (!existsSync(file)) throw new Error(`${file} is missing: the cluster has no real node`);
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  const need = (k: string): string => {
    const v = env[k];
    if (v === undefined || v === "") throw new Error(`${file} has no ${k}`);
    return v;
  };
  return {
    name: need("REAL_NODE_NAME"),
    ip: need("REAL_NODE_IP"),
    podCidr: need("REAL_NODE_POD_CIDR"),
    registry: {
      server: need("REGISTRY_SERVER"),
      username: need("REGISTRY_USERNAME"),
      password: readFileSync(need("REGISTRY_PASSWORD_FILE"), "utf8").trim(),
    },
    images: {
      tools: need("IMAGE_TOOLS_REF"),
      postgres: need("IMAGE_POSTGRES_REF"),
      engine: need("IMAGE_ENGINE_REF"),
      executor: need("IMAGE_EXECUTOR_REF"),
      pause: need("IMAGE_PAUSE_REF"),
      node: need("IMAGE_NODE_REF"),
    },
    imageTag: need("IMAGE_TAG"),
  };
}

/** The pod spec fields that place a pod on the real node (it is tainted against everything else). */
export function onRealNode(): { nodeSelector: Record<string, string>; tolerations: { key: string; operator: string; effect: string }[] } {
  return {
    nodeSelector: { [REAL_NODE_LABEL]: "real" },
    tolerations: [{ key: REAL_NODE_TAINT, operator: "Exists", effect: "NoSchedule" }],
  };
}

/** Restricted-profile container and pod settings for the project's own test programs. */
export const restrictedPod = {
  securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: "RuntimeDefault" } },
};
export const restrictedContainer = {
  securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
};

export interface PodState {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string; nodeSelector?: Record<string, string> };
  status: {
    phase?: string;
    podIP?: string;
    containerStatuses?: { ready: boolean; restartCount: number; state: { waiting?: { reason?: string; message?: string }; running?: unknown } }[];
  };
}

export async function pod(ns: string, name: string): Promise<PodState> {
  return kubectlJson<PodState>(["get", "pod", name, "-n", ns]);
}

/** Waits until a pod runs with all containers ready; fails early with the waiting reason. */
export async function waitRunning(ns: string, name: string, timeoutMs = 120_000): Promise<PodState> {
  return waitFor(`pod ${ns}/${name} Running and ready`, async () => {
    const p = await pod(ns, name);
    const cs = p.status.containerStatuses ?? [];
    return p.status.phase === "Running" && cs.length > 0 && cs.every((c) => c.ready) ? p : undefined;
  }, timeoutMs);
}

/** Runs a command in a pod's container through the API server and the kubelet (no shell needed). */
export async function execIn(ns: string, name: string, cmd: string[]): Promise<{ code: number; out: string }> {
  const r = await kubectl(["exec", "-n", ns, name, "--", ...cmd]);
  return { code: r.code, out: (r.stdout + r.stderr).trim() };
}

/** The one running postgres pod of the program's stack in `ns` (waits through a rollout). */
export async function postgresPod(ns: string): Promise<string> {
  return waitFor("one ready postgres pod", async () => {
    const list = await kubectlJson<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>([
      "get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=postgres",
    ]);
    const live = list.items.filter((p) => !p.metadata.deletionTimestamp);
    if (live.length !== 1) return undefined;
    await waitRunning(ns, live[0].metadata.name, 5_000);
    return live[0].metadata.name;
  }, 180_000);
}

/** psql in a postgres pod over its local socket (trust), as the program's database user. */
export function psqlIn(ns: string, pod: string, sql: string): Promise<{ code: number; out: string }> {
  return execIn(ns, pod, ["psql", "-X", "-h", "/var/run/postgresql", "-U", "engine", "-d", "engine", "-v", "ON_ERROR_STOP=1", "-tA", "-c", sql]);
}

/**
 * Storage and placement for a stack of the program on the real node: local volumes there (the
 * cluster admin's kind of storage; the kubelet applies the pod's fsGroup to them) in a StorageClass
 * that binds at once, so a pod follows its volume to the node, and a MutatingAdmissionPolicy (the
 * cluster admin's tool: the program has no placement setting for postgres or its jobs) that puts
 * the pods of `apps` in `namespace` on the real node. Names derive from the namespace:
 * `<ns>-local`, `<ns>-<volume>`, `<ns>-on-real-node`.
 * create() returns only once the API server applies the policy: a new policy takes effect up to
 * about a second after it is stored (measured 0.2-0.9 s idle, longer under load), and a pod
 * created before then lacks the toleration while its volume ties it to the real node, so it stays
 * unschedulable (seen in CI: the installer's postgres, applied right after create()).
 */
export interface RealNodeStorage {
  storageClass: string;
  /** The host directory behind volume `name` (one of `volumes`). */
  volumeDir(name: string): string;
  create(): Promise<void>;
  /** Deletes the volumes, the StorageClass and the policy (not the claims: the test's namespace does). */
  remove(): Promise<void>;
}

export function realNodeStorage(namespace: string, o: { volumes: string[]; apps: string[] }): RealNodeStorage {
  const storageClass = `${namespace}-local`;
  const placement = `${namespace}-on-real-node`;
  const volumes = o.volumes.map((v) => `${namespace}-${v}`);
  // The policy also places this one label value in `default`: a server-side dry run of such a pod
  // there shows whether the policy is in force yet (the test's namespace may not exist yet).
  const probe = { namespace: "default", app: `${placement}-probe` };
  const dir = (v: string) => path.join(repoRoot, ".local/cluster", inject("clusterName"), "volumes", v);
  const pv = (name: string, node: string) => `
apiVersion: v1
kind: PersistentVolume
metadata: {name: ${name}}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ${storageClass}
  local: {path: ${dir(name)}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [${node}]}]
---`;
  return {
    storageClass,
    volumeDir: (name) => dir(`${namespace}-${name}`),
    async create() {
      const node = realNode().name;
      for (const v of volumes) mkdirSync(dir(v), { recursive: true, mode: 0o700 });
      await kubectlOk(["apply", "-f", "-"], `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: ${storageClass}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
---${volumes.map((v) => pv(v, node)).join("")}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata: {name: ${placement}}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
    namespaceSelector:
      matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [${namespace}, ${probe.namespace}]}]
    objectSelector:
      matchExpressions: [{key: app.kubernetes.io/name, operator: In, values: [${[...o.apps, probe.app].join(", ")}]}]
  failurePolicy: Fail
  reinvocationPolicy: Never
  # JSON patches: an apply configuration may not change nodeSelector or tolerations (atomic).
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >-
        [
          JSONPatch{op: "add", path: "/spec/nodeSelector", value: {"${REAL_NODE_LABEL}": "real"}},
          JSONPatch{op: "add", path: "/spec/tolerations", value:
            (has(object.spec.tolerations) ? object.spec.tolerations : []) +
            [Object.spec.tolerations{key: "${REAL_NODE_TAINT}", operator: "Exists", effect: "NoSchedule"}]}
        ]
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata: {name: ${placement}}
spec: {policyName: ${placement}}
`);
      const probePod = JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: probe.app, namespace: probe.namespace, labels: { "app.kubernetes.io/name": probe.app } },
        spec: { containers: [{ name: "probe", image: "probe" }] },
      });
      await waitFor(`the placement policy ${placement} in force`, async () => {
        const dryRun = JSON.parse(await kubectlOk(["create", "--dry-run=server", "-o", "json", "-f", "-"], probePod)) as PodState;
        return dryRun.spec.nodeSelector?.[REAL_NODE_LABEL] === "real" ? true : undefined;
      }, 60_000);
    },
    async remove() {
      await kubectl(["delete", "pv", ...volumes, "--wait=false", "--ignore-not-found"]);
      await kubectl(["delete", "storageclass", storageClass, "--ignore-not-found"]);
      await kubectl(["delete", "mutatingadmissionpolicybinding,mutatingadmissionpolicy", placement, "--ignore-not-found"]);
      for (const v of volumes) rmSync(dir(v), { recursive: true, force: true });
    },
  };
}
