// Pure tests of the production-readiness settings: the config rules (components/builders/production.ts
// through validateConfig) and the builders of the Ingress/HTTPRoute, PDB, HPA, engine shutdown,
// executor cleanup and ServiceMonitor. No Pulumi runtime here.
import * as crypto from "crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigIssue, type PlainKey, validateConfig } from "../../config";
import { horizontalPodAutoscalerArgs, podDisruptionBudgetArgs } from "../../components/builders/availability";
import { cleanupCronJobArgs, cleanupRoleArgs, cleanupServiceAccountArgs } from "../../components/builders/executorCleanup";
import { httpRouteArgs, ingressArgs } from "../../components/builders/exposure";
import { serviceMonitorArgs } from "../../components/builders/monitoring";
import { BACKUP_SCRIPT, backupCronJobArgs } from "../../components/builders/postgresBackup";
import { majorChangeProblem, postgresMajor } from "../../components/builders/postgresVersion";
import type { ExecutorCleanup, Exposure } from "../../components/builders/production";
import { workloadDeploymentArgs, workloadServiceArgs, type WorkloadSpec } from "../../components/builders/workload";
import { restrictedViolations } from "./podSecurity";

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const base: Partial<Record<PlainKey, string>> = { imageTag: "1.2.3", publicUrl: "https://agents.example.com", licensePublicKey: PEM };
const validate = (values: Partial<Record<PlainKey, string>>) => validateConfig({ values: { ...base, ...values }, secretsSet: {} });
function issues(values: Partial<Record<PlainKey, string>>): Pick<ConfigIssue, "key" | "rule">[] {
  try {
    validate(values);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues.map(({ key, rule }) => ({ key, rule }));
  }
  throw new Error("expected a ConfigError");
}
const keys = (values: Partial<Record<PlainKey, string>>) => issues(values).map((i) => i.key).sort();
type Obj = Record<string, unknown>;

describe("production settings: defaults", () => {
  it("are off except the engine's shutdown: no way in, no autoscaler, no PDB at one replica, no cleanup, no monitoring", () => {
    const p = validate({}).production;
    expect(p.exposure).toEqual({ kind: "none" });
    expect(p.engine).toEqual({ replicas: 1, spread: false });
    expect(p.commandCenter).toEqual({ replicas: 1, spread: false });
    expect(p.engineShutdown).toEqual({ terminationGracePeriodSeconds: 300, preStop: { kind: "sleep", seconds: 10 } });
    expect(p.executorCleanup).toBeUndefined();
    expect(p.monitoring).toBeUndefined();
  });

  it("spread and budget as soon as more than one replica runs", () => {
    expect(validate({ engineReplicas: "3" }).production.engine).toEqual({ replicas: 3, spread: true });
  });
});

/** The ingress controller's namespace allowed in (the sandbox's NetworkPolicies deny ingress otherwise). */
const WAY = { commandCenterIngressFrom: '[{"namespaceLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}]' };

describe("production settings: a way in", () => {
  it("an Ingress takes host and path from publicUrl; TLS from a Secret or a cert-manager issuer", () => {
    const p = validate({ ...WAY,  publicUrl: "https://agents.example.com/ui", ingressClassName: "nginx", ingressTlsSecretName: "agents-tls" }).production;
    expect(p.exposure).toEqual({ kind: "ingress", className: "nginx", host: "agents.example.com", path: "/ui", tls: { secretName: "agents-tls" } });
    const q = validate({ ...WAY,  instanceName: "acme", ingressClassName: "nginx", ingressCertManagerIssuer: "letsencrypt" }).production;
    expect(q.exposure).toEqual({ kind: "ingress", className: "nginx", host: "agents.example.com", path: "/", tls: { secretName: "acme-command-center-tls", clusterIssuer: "letsencrypt" } });
  });

  it("https without TLS, http with TLS, a different host, two ways in, two TLS sources are errors", () => {
    expect(issues({ ...WAY,  ingressClassName: "nginx" })).toEqual([{ key: "ingressTlsSecretName", rule: expect.stringMatching(/https URL needs TLS/) as unknown as string }]);
    expect(keys({ ...WAY,  publicUrl: "http://agents.example.com", ingressClassName: "nginx", ingressTlsSecretName: "t" })).toEqual(["publicUrl"]);
    expect(keys({ ...WAY,  ingressClassName: "nginx", ingressTlsSecretName: "t", ingressHost: "other.example.com" })).toEqual(["ingressHost"]);
    expect(keys({ ...WAY,  ingressClassName: "nginx", ingressTlsSecretName: "t", gatewayParent: "gw/public" })).toEqual(["gatewayParent"]);
    expect(keys({ ...WAY,  ingressClassName: "nginx", ingressTlsSecretName: "t", ingressCertManagerIssuer: "i" })).toEqual(["ingressCertManagerIssuer"]);
    expect(keys({ ...WAY,  ingressTlsSecretName: "t" })).toEqual(["ingressClassName"]);
    expect(keys({ ...WAY,  publicUrl: "https://10.0.0.1", ingressClassName: "nginx", ingressTlsSecretName: "t" })).toEqual(["publicUrl"]);
    expect(keys({ ...WAY,  publicUrl: "https://agents.example.com:8443", ingressClassName: "nginx", ingressTlsSecretName: "t" })).toEqual(["publicUrl"]);
    // The host check passes when it matches.
    expect(validate({ ...WAY,  ingressClassName: "nginx", ingressTlsSecretName: "t", ingressHost: "agents.example.com" }).production.exposure.kind).toBe("ingress");
  });

  it("an HTTPRoute attaches to <namespace>/<gateway>[/<listener>]; TLS settings belong to the Gateway", () => {
    expect(validate({ ...WAY,  gatewayParent: "gateway-system/public/https" }).production.exposure).toEqual({
      kind: "httpRoute",
      host: "agents.example.com",
      path: "/",
      parent: { namespace: "gateway-system", name: "public", sectionName: "https" },
    });
    expect(keys({ ...WAY,  gatewayParent: "gw/public", ingressTlsSecretName: "t" })).toEqual(["ingressTlsSecretName"]);
    expect(keys({ ...WAY,  gatewayParent: "public" })).toEqual(["gatewayParent"]);
  });
});

describe("production settings: autoscaling", () => {
  it("an autoscaler owns the replica count: the Deployment's is left unset", () => {
    const p = validate({ engineAutoscaling: '{"minReplicas":2,"maxReplicas":5}' }).production;
    expect(p.engine).toEqual({ autoscaling: { minReplicas: 2, maxReplicas: 5, cpuUtilization: 70 }, spread: true });
  });

  it("refuses a hand-set replica count next to it, max below min, missing bounds and unknown fields, all at once", () => {
    expect(keys({ engineReplicas: "2", engineAutoscaling: '{"minReplicas":3,"maxReplicas":2}', commandCenterAutoscaling: '{"maxReplicas":4}' })).toEqual([
      "commandCenterAutoscaling",
      "engineAutoscaling",
      "engineReplicas",
    ]);
    // Pulumi passes Pulumi.yaml's default (1) as if it were set: that is not a hand-set count.
    expect(validate({ engineReplicas: "1", engineAutoscaling: '{"minReplicas":2,"maxReplicas":3}' }).production.engine.replicas).toBeUndefined();
    expect(keys({ engineAutoscaling: '{"min":2}' })).toEqual(["engineAutoscaling"]);
    expect(keys({ engineAutoscaling: '{"minReplicas":2,"maxReplicas":4,"cpuUtilization":150}' })).toEqual(["engineAutoscaling"]);
  });
});

describe("production settings: engine shutdown, cleanup, monitoring", () => {
  it("a PreStop command replaces the built-in sleep; it must be a JSON array of strings", () => {
    expect(validate({ enginePreStopCommand: '["/app/drain","--timeout","270"]', engineTerminationGracePeriodSeconds: "600" }).production.engineShutdown).toEqual({
      terminationGracePeriodSeconds: 600,
      preStop: { kind: "exec", command: ["/app/drain", "--timeout", "270"] },
    });
    expect(keys({ enginePreStopCommand: "/app/drain" })).toEqual(["enginePreStopCommand"]);
    expect(keys({ engineTerminationGracePeriodSeconds: "5" })).toEqual(["engineTerminationGracePeriodSeconds"]);
  });

  it("the cleanup runs where executors run, never selects our pods, uses the engine image by default", () => {
    const c = validate({ executorNamespace: "agents-ex", executorCleanupSchedule: "*/10 * * * *" }).production.executorCleanup;
    expect(c).toEqual({
      schedule: "*/10 * * * *",
      namespace: "agents-ex",
      maxAgeSeconds: 360 * 60,
      selector: "app.kubernetes.io/part-of!=agent-platform",
      image: "engine:1.2.3",
    });
  });

  it("the cleanup needs a selector when executors share the engine namespace, and a schedule for its other settings", () => {
    // Shared mode: executorNamespace = namespace.
    const shared = { namespace: "ai", executorNamespace: "ai" };
    expect(keys({ ...shared, executorCleanupSchedule: "@hourly" })).toEqual(["executorCleanupSelector"]);
    const c = validate({ ...shared, executorCleanupSchedule: "@hourly", executorCleanupSelector: "app=executor", executorCleanupImage: "node:22-alpine" }).production.executorCleanup;
    expect(c?.selector).toBe("app=executor,app.kubernetes.io/part-of!=agent-platform");
    expect(c?.image).toBe("node:22-alpine");
    expect(keys({ executorCleanupSelector: "app=executor" })).toEqual(["executorCleanupSchedule"]);
    expect(keys({ executorNamespace: "ex", executorCleanupSchedule: "every hour" })).toEqual(["executorCleanupSchedule"]);
    expect(keys({ executorNamespace: "ex", executorCleanupSchedule: "@hourly", executorCleanupMaxAgeMinutes: "1" })).toEqual(["executorCleanupMaxAgeMinutes"]);
  });

  it("monitoring only when the operator's CRDs are said to be there", () => {
    expect(validate({ engineMetrics: '{"port":9464,"path":"/metrics"}' }).production.monitoring).toBeUndefined();
    expect(validate({ prometheusOperator: "true", engineMetrics: '{"port":9464,"path":"/m"}' }).production.monitoring).toEqual({
      engine: { port: 9464, path: "/m" },
      commandCenter: { port: 3000, path: "/metrics" },
    });
    expect(keys({ prometheusOperator: "true", engineMetrics: '{"port":0,"path":"m"}' })).toEqual(["engineMetrics", "engineMetrics"]);
  });
});

describe("postgres backups", () => {
  it("are off by default; a schedule turns them on with a retention and a PVC size", () => {
    expect(validate({}).production.postgresBackup).toBeUndefined();
    expect(validate({ postgresBackupSchedule: "30 2 * * *" }).production.postgresBackup).toEqual({ schedule: "30 2 * * *", retentionDays: 7, storageSize: "20Gi" });
    expect(keys({ postgresBackupSchedule: "daily", postgresBackupRetentionDays: "0", postgresBackupStorageSize: "lots" })).toEqual([
      "postgresBackupRetentionDays",
      "postgresBackupSchedule",
      "postgresBackupStorageSize",
    ]);
  });

  it("run pg_dump as the postgres uid, restricted, password by secretKeyRef, into the backup PVC, renamed when complete, old dumps pruned", () => {
    const cron = backupCronJobArgs({
      instance: "ai",
      namespace: "ai",
      settings: { schedule: "@daily", retentionDays: 9, storageSize: "1Gi" },
      image: "postgres:16",
      secretName: "ai-postgres",
      claimName: "ai-postgres-backup",
      resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } },
    }) as unknown as { spec: { concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: Obj } } } } };
    expect(cron.spec.concurrencyPolicy).toBe("Forbid");
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.automountServiceAccountToken).toBe(false);
    const container = (pod.containers as Obj[])[0];
    expect(container.env).toEqual([
      { name: "PGHOST", value: "ai-postgres" },
      { name: "PGDATABASE", value: "engine" },
      { name: "PGUSER", value: "engine" },
      { name: "RETENTION_DAYS", value: "9" },
      { name: "PGPASSWORD", valueFrom: { secretKeyRef: { name: "ai-postgres", key: "POSTGRES_PASSWORD" } } },
    ]);
    expect(pod.volumes).toEqual([
      { name: "backup", persistentVolumeClaim: { claimName: "ai-postgres-backup" } },
      { name: "tmp", emptyDir: {} },
    ]);
    expect(BACKUP_SCRIPT).toMatch(/pg_dump --format=custom --no-owner --file="\$f.partial"\nmv "\$f.partial" "\$f"/);
    expect(BACKUP_SCRIPT).toContain(`-mtime +"$RETENTION_DAYS" -print -delete`);
  });
});

describe("postgres major version", () => {
  it("is read from the image tag, when the tag says", () => {
    expect(["postgres:16", "postgres:16.6", "postgres:17-bookworm", "registry:5000/lib/postgres:15.2@sha256:abc", "postgres", "postgres:latest", "registry:5000/postgres"].map(postgresMajor)).toEqual([
      "16", "16", "17", "15", undefined, undefined, undefined,
    ]);
  });

  it("a change is refused with the way across, unless allowed; same major, nothing recorded or an unknown tag pass", () => {
    expect(majorChangeProblem("15", "postgres:16.6", false, "ai/ai-postgres-data")).toMatch(/PostgreSQL 16, but the data in claim ai\/ai-postgres-data was last deployed with PostgreSQL 15[\s\S]*Dump and restore[\s\S]*postgresAllowMajorUpgrade true/);
    expect(majorChangeProblem("15", "postgres:16.6", true, "c")).toBeUndefined();
    expect(majorChangeProblem("16", "postgres:16.6", false, "c")).toBeUndefined();
    expect(majorChangeProblem(undefined, "postgres:17", false, "c")).toBeUndefined();
    expect(majorChangeProblem("16", "postgres:latest", false, "c")).toBeUndefined();
    expect(validate({}).production.postgresAllowMajorUpgrade).toBe(false);
  });
});

describe("production builders", () => {
  const target = { name: "ai-command-center", namespace: "ai", labels: { a: "b" }, servicePort: 3000 };

  it("the Ingress routes the publicUrl host and path to the command center's Service, with TLS and the issuer annotation", () => {
    const e: Extract<Exposure, { kind: "ingress" }> = { kind: "ingress", className: "nginx", host: "h.example", path: "/", tls: { secretName: "s", clusterIssuer: "le" } };
    const i = ingressArgs(e, target) as { metadata: Obj; spec: Obj };
    expect(i.metadata.annotations).toEqual({ "cert-manager.io/cluster-issuer": "le", "pulumi.com/skipAwait": "true" });
    expect(i.spec).toEqual({
      ingressClassName: "nginx",
      tls: [{ hosts: ["h.example"], secretName: "s" }],
      rules: [{ host: "h.example", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "ai-command-center", port: { number: 3000 } } } }] } }],
    });
    expect((ingressArgs({ ...e, tls: undefined }, target) as { spec: Obj }).spec.tls).toBeUndefined();
  });

  it("the HTTPRoute names its parent Gateway and listener", () => {
    const r = httpRouteArgs({ kind: "httpRoute", host: "h.example", path: "/", parent: { namespace: "gw", name: "public", sectionName: "https" } }, target);
    expect(r.spec.parentRefs).toEqual([{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "gw", name: "public", sectionName: "https" }]);
    expect(r.spec.hostnames).toEqual(["h.example"]);
    expect(r.spec.rules[0].backendRefs).toEqual([{ name: "ai-command-center", port: 3000 }]);
  });

  it("the PDB lets one pod go at a time; the HPA targets the Deployment with the CPU goal", () => {
    const t = { name: "ai-engine", namespace: "ai", labels: {}, selector: { s: "1" } };
    expect((podDisruptionBudgetArgs(t) as { spec: Obj }).spec).toMatchObject({ maxUnavailable: 1, selector: { matchLabels: { s: "1" } } });
    expect((horizontalPodAutoscalerArgs(t, { minReplicas: 2, maxReplicas: 6, cpuUtilization: 65 }) as unknown as { spec: Obj }).spec).toEqual({
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "ai-engine" },
      minReplicas: 2,
      maxReplicas: 6,
      metrics: [{ type: "Resource", resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 65 } } }],
    });
  });

  const spec: WorkloadSpec = {
    app: "agent-engine",
    component: "engine",
    instance: "ai",
    image: "engine:1",
    resources: { requests: { cpu: "1", memory: "1Gi" }, limits: { cpu: "1", memory: "1Gi" } },
    port: 8080,
    uid: 1000,
    config: {},
    secretEnv: {},
  };
  const refs = { namespace: "ai", configMapName: "c", secretName: "s", checksum: "x" };

  it("a Deployment without a replica count when the autoscaler owns it; spread, grace period, PreStop and a metrics port when asked", () => {
    const d = workloadDeploymentArgs({ ...spec, spread: true, shutdown: { terminationGracePeriodSeconds: 300, preStop: { kind: "sleep", seconds: 10 } }, metricsPort: 9464 }, refs) as unknown as {
      spec: { template: { spec: Obj } } & Obj;
    };
    expect(d.spec).not.toHaveProperty("replicas");
    const pod = d.spec.template.spec;
    expect(pod.terminationGracePeriodSeconds).toBe(300);
    expect(pod.topologySpreadConstraints).toEqual([
      { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway", labelSelector: { matchLabels: { "app.kubernetes.io/name": "agent-engine", "app.kubernetes.io/instance": "ai", "app.kubernetes.io/component": "engine" } } },
    ]);
    const container = (pod.containers as Obj[])[0];
    expect(container.lifecycle).toEqual({ preStop: { sleep: { seconds: 10 } } });
    expect(container.ports).toEqual([
      { name: "http", containerPort: 8080, protocol: "TCP" },
      { name: "metrics", containerPort: 9464, protocol: "TCP" },
    ]);
    expect(restrictedViolations(pod)).toEqual([]);
    expect(((workloadServiceArgs({ ...spec, metricsPort: 9464 }, "ai") as { spec: Obj }).spec.ports as Obj[]).map((p) => p.name)).toEqual(["http", "metrics"]);
    expect((workloadDeploymentArgs({ ...spec, replicas: 2 }, refs) as unknown as { spec: Obj }).spec.replicas).toBe(2);
  });

  it("the ServiceMonitor scrapes the http port when metrics share it, else the metrics port", () => {
    const t = { name: "ai-engine", namespace: "ai", labels: {}, serviceSelector: { s: "1" }, appPort: 8080 };
    expect(serviceMonitorArgs({ port: 8080, path: "/metrics" }, t).spec.endpoints).toEqual([{ port: "http", path: "/metrics", interval: "30s" }]);
    expect(serviceMonitorArgs({ port: 9464, path: "/m" }, t).spec.endpoints).toEqual([{ port: "metrics", path: "/m", interval: "30s" }]);
  });

  it("the cleanup's Role is pods list and delete only; its pod is restricted, token mounted, settings in env", () => {
    expect((cleanupRoleArgs("ai", "ex") as { rules: unknown }).rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["list", "delete"] }]);
    expect((cleanupServiceAccountArgs("ai", "ai") as Obj).automountServiceAccountToken).toBe(false);
    const c: ExecutorCleanup = { schedule: "@hourly", namespace: "ex", maxAgeSeconds: 600, selector: "a=b", image: "engine:1" };
    const cron = cleanupCronJobArgs("ai", c, "ai", "ai-executor-cleanup") as unknown as { spec: { concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: Obj } } } } };
    expect(cron.spec.concurrencyPolicy).toBe("Forbid");
    const pod = cron.spec.jobTemplate.spec.template.spec;
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.serviceAccountName).toBe("ai-executor-cleanup");
    const container = (pod.containers as Obj[])[0];
    expect((container.command as string[]).slice(0, 2)).toEqual(["node", "-e"]);
    expect(container.env).toEqual([
      { name: "NAMESPACE", value: "ex" },
      { name: "SELECTOR", value: "a=b" },
      { name: "MAX_AGE_SECONDS", value: "600" },
    ]);
  });
});
