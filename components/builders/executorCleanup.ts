// The cleanup of orphaned executor pods: a CronJob in the engine namespace running a small
// Node.js program (no kubectl, no shell: it needs only `node` in the image, which the engine image
// has) as its own ServiceAccount, allowed to list and delete pods in the executor namespace and
// nothing else.
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { standardLabels } from "./labels";
import type { ExecutorCleanup } from "./production";
import { hardenedCronJobArgs } from "./cronJob";

export const cleanupName = (instance: string) => `${instance}-executor-cleanup`;
export const CLEANUP_UID = 1000;

export const CLEANUP_RULES: ReadonlyArray<{ apiGroups: string[]; resources: string[]; verbs: string[] }> = [
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "delete"] },
];

const labels = (instance: string) => standardLabels("executor-cleanup", "executor-cleanup", instance);

/**
 * The program the CronJob runs with `node -e`. It reads the in-cluster service-account token and
 * CA (or SA_DIR), lists the pods of NAMESPACE that match SELECTOR page by page, and deletes those
 * created more than MAX_AGE_SECONDS ago that are not already terminating. Any API error fails the
 * job (non-zero exit). Kept free of dependencies so any image with node can run it.
 */
export const CLEANUP_SCRIPT = String.raw`
const fs = require("fs"), https = require("https");
const dir = process.env.SA_DIR || "/var/run/secrets/kubernetes.io/serviceaccount";
const token = fs.readFileSync(dir + "/token", "utf8").trim();
const ca = fs.readFileSync(dir + "/ca.crt");
const host = process.env.KUBERNETES_SERVICE_HOST, port = process.env.KUBERNETES_SERVICE_PORT || "443";
const ns = process.env.NAMESPACE, selector = process.env.SELECTOR || "", maxAge = Number(process.env.MAX_AGE_SECONDS);
if (!host || !ns || !(maxAge > 0)) { console.error("KUBERNETES_SERVICE_HOST, NAMESPACE and MAX_AGE_SECONDS are required"); process.exit(2); }
function call(method, path) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, path, method, ca, headers: { Authorization: "Bearer " + token, Accept: "application/json" }, timeout: 30000 }, (res) => {
      let body = ""; res.setEncoding("utf8"); res.on("data", (c) => (body += c));
      res.on("end", () => (res.statusCode >= 200 && res.statusCode < 300) || (method === "DELETE" && res.statusCode === 404)
        ? resolve(body ? JSON.parse(body) : {}) : reject(new Error(method + " " + path + ": HTTP " + res.statusCode + " " + body.slice(0, 300))));
    });
    req.on("timeout", () => req.destroy(new Error("timed out"))); req.on("error", reject); req.end();
  });
}
(async () => {
  const cutoff = Date.now() - maxAge * 1000;
  const base = "/api/v1/namespaces/" + encodeURIComponent(ns) + "/pods";
  let cont = "", deleted = 0, kept = 0;
  do {
    const page = await call("GET", base + "?limit=250&labelSelector=" + encodeURIComponent(selector) + (cont ? "&continue=" + encodeURIComponent(cont) : ""));
    for (const pod of page.items || []) {
      const m = pod.metadata;
      if (m.deletionTimestamp || Date.parse(m.creationTimestamp) > cutoff) { kept++; continue; }
      await call("DELETE", base + "/" + encodeURIComponent(m.name));
      console.log("deleted pod " + ns + "/" + m.name + " (created " + m.creationTimestamp + ")");
      deleted++;
    }
    cont = (page.metadata && page.metadata.continue) || "";
  } while (cont);
  console.log("executor cleanup: " + deleted + " deleted, " + kept + " kept in " + ns);
})().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
`;

export function cleanupServiceAccountArgs(instance: string, namespace: pulumi.Input<string>, imagePullSecretName?: string): k8s.core.v1.ServiceAccountArgs {
  return {
    metadata: { name: cleanupName(instance), namespace, labels: labels(instance) },
    // Mounted only into the cleanup pod, which sets automountServiceAccountToken itself.
    automountServiceAccountToken: false,
    imagePullSecrets: imagePullSecretName ? [{ name: imagePullSecretName }] : undefined,
  };
}

export function cleanupRoleArgs(instance: string, executorNamespace: pulumi.Input<string>): k8s.rbac.v1.RoleArgs {
  return {
    metadata: { name: cleanupName(instance), namespace: executorNamespace, labels: labels(instance) },
    rules: CLEANUP_RULES.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
  };
}

export function cleanupRoleBindingArgs(
  instance: string,
  executorNamespace: pulumi.Input<string>,
  roleName: pulumi.Input<string>,
  serviceAccountNamespace: pulumi.Input<string>,
): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata: { name: cleanupName(instance), namespace: executorNamespace, labels: labels(instance) },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: roleName },
    subjects: [{ kind: "ServiceAccount", name: cleanupName(instance), namespace: serviceAccountNamespace }],
  };
}

export function cleanupCronJobArgs(
  instance: string,
  c: ExecutorCleanup,
  namespace: pulumi.Input<string>,
  serviceAccountName: pulumi.Input<string>,
  imagePullSecretName?: string,
): k8s.batch.v1.CronJobArgs {
  return hardenedCronJobArgs({
    name: cleanupName(instance),
    namespace,
    labels: labels(instance),
    schedule: c.schedule,
    startingDeadlineSeconds: 300,
    successfulJobsHistoryLimit: 1,
    backoffLimit: 1,
    activeDeadlineSeconds: 600,
    ttlSecondsAfterFinished: 86400,
    uid: CLEANUP_UID,
    serviceAccountName,
    imagePullSecretName,
    container: {
      name: "cleanup",
      image: c.image,
      command: ["node", "-e", CLEANUP_SCRIPT],
      env: [
        { name: "NAMESPACE", value: c.namespace },
        { name: "SELECTOR", value: c.selector },
        { name: "MAX_AGE_SECONDS", value: String(c.maxAgeSeconds) },
      ],
      resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
    },
  });
}
