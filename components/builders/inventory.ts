// Every Kubernetes object one stack creates, named as the builders name it: what the ownership
// check (index.ts) reads from the cluster before anything is registered. A unit test keeps it
// equal to what the program registers, for every variant.
import type { ValidatedConfig } from "../../config";
import { commandCenterWorkload } from "./commandCenter";
import { engineWorkload } from "./engine";
import { cleanupName } from "./executorCleanup";
import { backupName } from "./postgresBackup";
import type { ObjectRef } from "./ownership";
import { claimRef, postgresClaimName, postgresDeploymentRef, postgresName } from "./postgres";
import { executorAccountName } from "./rbac";
import { refresherName } from "./pullSecretRefresh";
import { pullSecretName } from "./registry";
import { type SandboxManifest, sandboxManifests } from "./sandboxManifests";
import { workloadFilesName, workloadName, type WorkloadSpec } from "./workload";

const core = (kind: string, plural: string, name: string, namespace?: string): ObjectRef => ({ apiVersion: "v1", kind, plural, name, namespace });
const secret = (name: string, namespace: string) => core("Secret", "secrets", name, namespace);

function workloadObjects(w: Pick<WorkloadSpec, "component" | "instance" | "files">, namespace: string): ObjectRef[] {
  const name = workloadName(w);
  return [
    core("ConfigMap", "configmaps", name, namespace),
    secret(name, namespace),
    ...(w.files ? [secret(workloadFilesName(w, w.files.volume), namespace)] : []),
    { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", name, namespace },
    core("Service", "services", name, namespace),
  ];
}

/** The API's plural for each kind the sandbox creates (objectPath in clusterReader.ts needs it). */
const SANDBOX_PLURALS: Partial<Record<SandboxManifest["kind"], string>> = {
  LimitRange: "limitranges",
  ResourceQuota: "resourcequotas",
  NetworkPolicy: "networkpolicies",
  ValidatingAdmissionPolicy: "validatingadmissionpolicies",
  ValidatingAdmissionPolicyBinding: "validatingadmissionpolicybindings",
  MutatingAdmissionPolicy: "mutatingadmissionpolicies",
  MutatingAdmissionPolicyBinding: "mutatingadmissionpolicybindings",
};

/**
 * The sandbox's objects. Not its namespace (listed with the other namespaces) nor the default
 * ServiceAccount, which is patched, not created.
 */
function sandboxObjects(c: ValidatedConfig): ObjectRef[] {
  return sandboxManifests(c.sandbox).flatMap((m) => {
    const plural = SANDBOX_PLURALS[m.kind];
    return plural === undefined ? [] : [{ apiVersion: m.apiVersion, kind: m.kind, plural, name: m.metadata.name, namespace: m.metadata.namespace }];
  });
}

export function plannedObjects(c: ValidatedConfig): ObjectRef[] {
  const i = c.instanceName;
  const ns = c.namespace;
  const executorNs = c.executors.namespace;
  const rbac = (kind: string, plural: string): ObjectRef => ({ apiVersion: "rbac.authorization.k8s.io/v1", kind, plural, name: executorAccountName(i), namespace: executorNs });
  // The workload specs only for their names: the values do not matter here.
  const none = "";
  const engine = engineWorkload({
    instance: i,
    image: none,
    replicas: 1,
    resources: c.engine.resources,
    serviceAccountName: none,
    executors: c.executors,
    licensePublicKeyPem: none,
    secrets: { postgresPassword: none, credentialEncryptionKey: none, engineApiKey: none, authSecret: none, logEncryptionKey: none },
  });
  const commandCenter = commandCenterWorkload({
    instance: i,
    image: none,
    replicas: 1,
    resources: c.commandCenter.resources,
    publicUrl: none,
    engineUrl: none,
    secrets: { engineApiKey: none, authSecret: none },
  });
  return [
    ...(c.createNamespaces ? [core("Namespace", "namespaces", ns), ...(c.executors.separate ? [core("Namespace", "namespaces", executorNs)] : [])] : []),
    core("ServiceAccount", "serviceaccounts", executorAccountName(i), ns),
    rbac("Role", "roles"),
    rbac("RoleBinding", "rolebindings"),
    ...(c.registry.mode !== "none" ? [secret(pullSecretName(i), ns), ...(c.executors.separate ? [secret(pullSecretName(i), executorNs)] : [])] : []),
    ...refresherObjects(c),
    // The in-cluster PostgreSQL, unless the database is external (externalPostgres).
    ...(c.externalPostgres === undefined
      ? [
          secret(postgresName(i), ns),
          claimRef(postgresClaimName(i), ns),
          postgresDeploymentRef(i, ns),
          core("Service", "services", postgresName(i), ns),
        ]
      : []),
    ...workloadObjects(engine, ns),
    ...workloadObjects(commandCenter, ns),
    ...sandboxObjects(c),
    ...productionObjects(c, workloadName(engine), workloadName(commandCenter)),
  ];
}

/** The ECR pull secret's in-cluster refresher (components/builders/pullSecretRefresh.ts). */
function refresherObjects(c: ValidatedConfig): ObjectRef[] {
  if (!c.pullSecretRefresh) return [];
  const name = refresherName(c.instanceName);
  const namespaces = [c.namespace, ...(c.executors.separate ? [c.executors.namespace] : [])];
  const rbac = (kind: string, plural: string, namespace: string): ObjectRef => ({ apiVersion: "rbac.authorization.k8s.io/v1", kind, plural, name, namespace });
  return [
    core("ServiceAccount", "serviceaccounts", name, c.namespace),
    ...namespaces.flatMap((ns) => [rbac("Role", "roles", ns), rbac("RoleBinding", "rolebindings", ns)]),
    { apiVersion: "batch/v1", kind: "CronJob", plural: "cronjobs", name, namespace: c.namespace },
  ];
}

/** A way in, PDBs and autoscalers, the executor cleanup, ServiceMonitors (components/builders/production.ts). */
function productionObjects(c: ValidatedConfig, engineName: string, commandCenterName: string): ObjectRef[] {
  const p = c.production;
  const ns = c.namespace;
  const out: ObjectRef[] = [];
  for (const [name, a] of [[engineName, p.engine], [commandCenterName, p.commandCenter]] as const) {
    if (a.spread) out.push({ apiVersion: "policy/v1", kind: "PodDisruptionBudget", plural: "poddisruptionbudgets", name, namespace: ns });
    if (a.autoscaling) out.push({ apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", plural: "horizontalpodautoscalers", name, namespace: ns });
  }
  if (p.exposure.kind === "ingress") out.push({ apiVersion: "networking.k8s.io/v1", kind: "Ingress", plural: "ingresses", name: commandCenterName, namespace: ns });
  if (p.exposure.kind === "httpRoute") out.push({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", plural: "httproutes", name: commandCenterName, namespace: ns });
  if (p.executorCleanup) {
    const name = cleanupName(c.instanceName);
    const rbac = (kind: string, plural: string): ObjectRef => ({ apiVersion: "rbac.authorization.k8s.io/v1", kind, plural, name, namespace: p.executorCleanup?.namespace });
    out.push(core("ServiceAccount", "serviceaccounts", name, ns), rbac("Role", "roles"), rbac("RoleBinding", "rolebindings"));
    out.push({ apiVersion: "batch/v1", kind: "CronJob", plural: "cronjobs", name, namespace: ns });
  }
  if (p.postgresBackup && c.externalPostgres === undefined) {
    const name = backupName(c.instanceName);
    out.push(claimRef(name, ns), { apiVersion: "batch/v1", kind: "CronJob", plural: "cronjobs", name, namespace: ns });
  }
  if (p.monitoring) {
    for (const name of [engineName, commandCenterName]) out.push({ apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", plural: "servicemonitors", name, namespace: ns });
  }
  return out;
}
