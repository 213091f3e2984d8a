// AgentPlatform under mocks with every production-readiness option on (Ingress with TLS,
// autoscalers, a second replica, a PreStop command, the executor cleanup, ServiceMonitors on a
// separate metrics port), and a variant with an HTTPRoute: what each registers equals what the
// ownership check reads (plannedObjects), and every pod passes restricted.
//
// Not a test file of its own: program.test.ts calls `productionVariantTests()` in its runtime.
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import { beforeAll, expect, it } from "vitest";
import { type PlainKey, type ValidatedConfig, validateConfig } from "../../config";
import { registered, settle, type Registered } from "./harness";
import { restrictedViolations } from "./podSecurity";

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
type Obj = Record<string, unknown>;

function config(values: Partial<Record<PlainKey, string>>): ValidatedConfig {
  return validateConfig({ values: { imageTag: "1.0.0", publicUrl: "https://agents.example.com", licensePublicKey: PEM, ...values }, secretsSet: {} });
}

const FULL = config({
  instanceName: "pr",
  namespace: "pr",
  executorNamespace: "pr-ex",
  ingressClassName: "nginx",
  ingressTlsSecretName: "agents-tls",
  commandCenterIngressFrom: '[{"namespaceLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}]',
  engineAutoscaling: '{"minReplicas":2,"maxReplicas":6}',
  commandCenterReplicas: "2",
  enginePreStopCommand: '["/app/drain"]',
  engineTerminationGracePeriodSeconds: "900",
  executorCleanupSchedule: "*/15 * * * *",
  prometheusOperator: "true",
  postgresBackupSchedule: "30 2 * * *",
  engineMetrics: '{"port":9464,"path":"/metrics"}',
});
const ROUTE = config({ instanceName: "rt", namespace: "rt", gatewayParent: "gateway-system/public", commandCenterIngressFrom: '[{"namespaceLabels":{"kubernetes.io/metadata.name":"gateway-system"}}]', commandCenterAutoscaling: '{"minReplicas":1,"maxReplicas":3}' });

const of = (prefix: string) => registered.filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`));
const k8sObjects = (prefix: string) => of(prefix).filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch"));
const kindOf = (r: Registered) => (r.type === "kubernetes:apiextensions.k8s.io:CustomResource" ? (r.inputs.kind as string) : r.type.split(":")[2]);
const ref = (r: Registered) => `${kindOf(r)} ${((r.inputs.metadata as Obj).namespace as string | undefined) ?? ""}/${(r.inputs.metadata as Obj).name as string}`;
const byName = (name: string): Registered => {
  const r = registered.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}: ${registered.map((x) => x.name).join(", ")}`);
  return r;
};

export function productionVariantTests(): void {
  beforeAll(async () => {
    const { AgentPlatform } = await import("../../components/agentPlatform");
    const provider = new k8s.Provider("k8s-production", {});
    for (const [name, c] of [["pr", FULL], ["rt", ROUTE]] as const) {
      new AgentPlatform(name, { config: { ...c, secrets: { overrides: {} } } }, { providers: [provider] });
    }
    await settle();
  });

  it("registers exactly what the ownership check reads, for both variants", async () => {
    const { plannedObjects } = await import("../../components/builders/inventory");
    for (const [prefix, c] of [["pr", FULL], ["rt", ROUTE]] as const) {
      const planned = plannedObjects(c).map((o) => `${o.kind} ${o.namespace ?? ""}/${o.name}`).sort();
      expect(k8sObjects(prefix).map(ref).sort(), prefix).toEqual(planned);
    }
    const full = k8sObjects("pr").map(ref);
    for (const o of [
      "Ingress pr/pr-command-center",
      "PodDisruptionBudget pr/pr-engine",
      "PodDisruptionBudget pr/pr-command-center",
      "HorizontalPodAutoscaler pr/pr-engine",
      "ServiceAccount pr/pr-executor-cleanup",
      "Role pr-ex/pr-executor-cleanup",
      "RoleBinding pr-ex/pr-executor-cleanup",
      "CronJob pr/pr-executor-cleanup",
      "ServiceMonitor pr/pr-engine",
      "ServiceMonitor pr/pr-command-center",
      "PersistentVolumeClaim pr/pr-postgres-backup",
      "CronJob pr/pr-postgres-backup",
    ]) {
      expect(full).toContain(o);
    }
    expect(full).not.toContain("HorizontalPodAutoscaler pr/pr-command-center");
    expect(k8sObjects("rt").map(ref)).toEqual(expect.arrayContaining(["HTTPRoute rt/rt-command-center", "HorizontalPodAutoscaler rt/rt-command-center", "PodDisruptionBudget rt/rt-command-center"]));
    expect(k8sObjects("rt").map(ref)).not.toContain("PodDisruptionBudget rt/rt-engine");
  });

  it("leaves the engine's replica count to its autoscaler, keeps the command center's, and sets the engine's shutdown", () => {
    const engine = byName("pr-engine-deployment");
    expect(engine.inputs.spec as Obj).not.toHaveProperty("replicas");
    expect((byName("pr-command-center-deployment").inputs.spec as Obj).replicas).toBe(2);
    const pod = ((engine.inputs.spec as Obj).template as Obj).spec as Obj;
    expect(pod.terminationGracePeriodSeconds).toBe(900);
    expect(((pod.containers as Obj[])[0].lifecycle as Obj).preStop).toEqual({ exec: { command: ["/app/drain"] } });
    expect(((byName("pr-engine-service").inputs.spec as Obj).ports as Obj[]).map((p) => `${p.name as string}:${p.port as number}`)).toEqual(["http:8080", "metrics:9464"]);
  });

  it("every pod it defines passes restricted, the cleanup's CronJob included", () => {
    const specs = of("pr")
      .filter((r) => r.type === "kubernetes:apps/v1:Deployment" || r.type === "kubernetes:batch/v1:CronJob")
      .map((r) => {
        const spec = r.inputs.spec as Obj;
        const template = (r.type.endsWith("CronJob") ? (((spec.jobTemplate as Obj).spec as Obj).template as Obj) : (spec.template as Obj));
        return [r.name, template.spec] as const;
      });
    expect(specs.map(([n]) => n).sort()).toEqual(["pr-command-center-deployment", "pr-engine-deployment", "pr-executor-cleanup-cron-job", "pr-postgres-backup-cron-job", "pr-postgres-deployment"]);
    for (const [name, spec] of specs) expect(restrictedViolations(spec), name).toEqual([]);
  });

  it("protects the backup PVC and keeps it on delete, like the data", () => {
    const pvc = byName("pr-postgres-backup-pvc");
    expect([pvc.protect, pvc.retainOnDelete]).toEqual([true, true]);
  });

  it("records the postgres major on the data claim, and refuses another major before registering anything", async () => {
    expect(((byName("pr-postgres-data").inputs.metadata as Obj).annotations as Obj)["agent-platform.io/postgres-major"]).toBe("16");
    const before = registered.length;
    const main = (await import("../../index")).default;
    const recorded15 = async (r: { kind: string; name: string }) =>
      r.kind === "PersistentVolumeClaim" && r.name === "ai-2501-postgres-data" ? { annotations: { "agent-platform.io/owned-by": "organization/agent-platform/dev", "agent-platform.io/postgres-major": "15" } } : undefined;
    const v136 = async () => ({ major: 1, minor: 36, gitVersion: "v1.36.0" });
    await expect(main({ read: recorded15, serverVersion: v136 })).rejects.toThrow(/postgres:16" is PostgreSQL 16, but the data in claim ai-2501\/ai-2501-postgres-data was last deployed with PostgreSQL 15/);
    await settle();
    expect(registered.length).toBe(before);
  });

  it("binds the cleanup's Role (pods list and delete) in the executor namespace to its own ServiceAccount", () => {
    const role = byName("pr-executor-cleanup-role");
    expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["pods"], verbs: ["list", "delete"] }]);
    expect((role.inputs.metadata as Obj).namespace).toBe("pr-ex");
    const binding = byName("pr-executor-cleanup-role-binding");
    expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "pr-executor-cleanup", namespace: "pr" }]);
    expect(byName("pr-executor-cleanup-role").parent).toMatch(/agent-platform:index:ExecutorCleanup::pr-executor-cleanup$/);
  });
}
