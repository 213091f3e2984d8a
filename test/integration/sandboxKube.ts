// kubectl helpers shared by the sandbox integration tests.
import { kubectl, kubectlOk } from "./harness";

export type Json = Record<string, unknown>;

/** Applies manifests as one List (server-side, forcing ownership: the default ServiceAccount is the controller's). */
export async function applyAll(manifests: object[]): Promise<void> {
  await kubectlOk(["apply", "--server-side", "--force-conflicts", "--field-manager", "sandbox-test", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: manifests }));
}

/** The container securityContext Pod Security `restricted` needs, and nothing more. */
export const RESTRICTED_CONTAINER = {
  runAsNonRoot: true,
  runAsUser: 1000,
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
};

/** A pod as the engine would create it: one container, restricted-compliant, no resources. */
export function minimalPod(name: string, namespace: string, image: string, labels: Record<string, string> = {}): Json {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels: { "agent-engine.io/executor": name, ...labels } },
    spec: {
      containers: [{ name: "executor", image, stdin: true, securityContext: { ...RESTRICTED_CONTAINER } }],
      restartPolicy: "Never",
    },
  };
}

/** Creates a pod; with a token, as that ServiceAccount (the engine) would. Returns kubectl's result. */
export function createPod(pod: Json, token?: string, extra: string[] = []) {
  return kubectl(["create", ...extra, "-f", "-"], { input: JSON.stringify(pod), token });
}

export async function deleteNamespaces(names: string[]): Promise<void> {
  for (const n of names) await kubectl(["delete", "namespace", n, "--wait=false", "--ignore-not-found"]);
}
