import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { standardLabels } from "./labels";

/**
 * `<instance>-engine-executor`: the ServiceAccount the engine runs as (the engine's installer
 * calls it `engine-executor`; the instance prefix lets two instances share a namespace), and the
 * name of its Role and RoleBinding.
 */
export const executorAccountName = (instance: string) => `${instance}-engine-executor`;

/**
 * Exactly what the engine's Kubernetes executor backend needs (the engine's documentation, "Required access"):
 * no wildcards, no other resources.
 */
export const EXECUTOR_RULES: ReadonlyArray<{ apiGroups: string[]; resources: string[]; verbs: string[] }> = [
  { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
  { apiGroups: [""], resources: ["pods/attach"], verbs: ["create", "get"] },
  { apiGroups: [""], resources: ["pods/status"], verbs: ["get"] },
  { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
];

const labels = (instance: string) => standardLabels("engine-executor", "executor-rbac", instance);

export function serviceAccountArgs(namespace: pulumi.Input<string>, instance: string, pullSecretName?: string): k8s.core.v1.ServiceAccountArgs {
  return {
    metadata: { name: executorAccountName(instance), namespace, labels: labels(instance) },
    // The engine talks to the API with this account's token (the engine's documentation), so it stays mounted.
    automountServiceAccountToken: true,
    imagePullSecrets: pullSecretName ? [{ name: pullSecretName }] : undefined,
  };
}

export function roleArgs(namespace: pulumi.Input<string>, instance: string): k8s.rbac.v1.RoleArgs {
  return {
    metadata: { name: executorAccountName(instance), namespace, labels: labels(instance) },
    rules: EXECUTOR_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
  };
}

export function roleBindingArgs(
  roleNamespace: pulumi.Input<string>,
  roleName: k8s.types.input.rbac.v1.RoleRef["name"],
  serviceAccountNamespace: pulumi.Input<string>,
  instance: string,
): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata: { name: executorAccountName(instance), namespace: roleNamespace, labels: labels(instance) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: executorAccountName(instance), namespace: serviceAccountNamespace }],
  };
}
