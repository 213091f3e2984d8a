// Production readiness on the real local cluster: the command center's Ingress with TLS, PDBs,
// an autoscaler that owns the engine's replica count (a second `up` after it scaled changes
// nothing), the engine's shutdown settings, ServiceMonitors (against a stand-in CRD), and the
// executor cleanup: its identity's permissions from a TokenRequest token, its program run as that
// identity against the API server, and its CronJob's pod admitted under Pod Security restricted;
// the postgres backup CronJob's pod admitted and scheduled with its claim bound.
//
// What this does NOT prove (KWOK runs no containers, no ingress controller or cert-manager runs):
// that a controller serves the Ingress or issues the certificate, or that the engine drains.
// The PreStop sleep's effect and the cleanup program in a container are proven on the real node
// (realnode-platform.test.ts), pg_dump and pg_restore in realnode-backup.test.ts.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLEANUP_SCRIPT } from "../../components/builders/executorCleanup";
import { cliRunner, devStackFile, kubeconfig, kubectl, kubectlJson, kubectlOk, tempBackend, uniqueName, waitFor } from "./harness";

const backend = tempBackend();
const env = () => ({ ...process.env, ...backend.env });
const ns = uniqueName("prod");
const exNs = `${ns}-ex`;
const stack = uniqueName("it-prod");
const I = "ip";
const ingressClass = `${ns}-class`;
const HOST = "agents.itprod.example";
const file = devStackFile(stack, {
  namespace: ns,
  executorNamespace: exNs,
  instanceName: I,
  ingressClassName: ingressClass,
  ingressCertManagerIssuer: "itprod-issuer",
  commandCenterReplicas: "2",
  executorCleanupSchedule: "*/15 * * * *",
  executorCleanupMaxAgeMinutes: "30",
  prometheusOperator: "true",
  postgresBackupSchedule: "30 2 * * *",
  postgresBackupRetentionDays: "3",
});
// The dev stack's publicUrl replaced (https, a DNS host), and an object key as a stack file holds
// it: a YAML mapping (devStackFile writes strings only).
writeFileSync(
  file,
  readFileSync(file, "utf8")
    .replace(/^  agent-platform:publicUrl: .*$/m, `  agent-platform:publicUrl: https://${HOST}`)
    .replace(
      /^config:\n/m,
      "config:\n  agent-platform:engineAutoscaling: {minReplicas: 2, maxReplicas: 4, cpuUtilization: 60}\n" +
        // The ingress controller's namespace (none runs here): the engine namespace denies ingress otherwise.
        '  agent-platform:commandCenterIngressFrom: [{namespaceLabels: {"kubernetes.io/metadata.name": "ingress-nginx"}}]\n',
    ),
);
const cli = cliRunner(stack, env);

// A stand-in for the Prometheus Operator's CRD: the real one's group, kind and scope, no schema.
const SERVICE_MONITOR_CRD = JSON.stringify({
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "servicemonitors.monitoring.coreos.com" },
  spec: {
    group: "monitoring.coreos.com",
    scope: "Namespaced",
    names: { plural: "servicemonitors", singular: "servicemonitor", kind: "ServiceMonitor", listKind: "ServiceMonitorList" },
    versions: [{ name: "v1", served: true, storage: true, schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } } }],
  },
});

type Obj = Record<string, unknown>;
const get = <T = Obj>(kind: string, name: string, namespace = ns) => kubectlJson<T>(["get", kind, name, "-n", namespace]);

beforeAll(async () => {
  await kubectlOk(["apply", "-f", "-"], JSON.stringify({ apiVersion: "networking.k8s.io/v1", kind: "IngressClass", metadata: { name: ingressClass }, spec: { controller: "example.com/itprod" } }));
  await kubectlOk(["apply", "-f", "-"], SERVICE_MONITOR_CRD);
  await kubectlOk(["wait", "--for=condition=Established", "crd/servicemonitors.monitoring.coreos.com", "--timeout=60s"]);
});

afterAll(async () => {
  try {
    await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
  } finally {
    await kubectl(["delete", "namespace", ns, exNs, "--wait=false", "--ignore-not-found"]);
    await kubectl(["delete", "ingressclass", ingressClass, "--ignore-not-found"]);
    await kubectl(["delete", "crd", "servicemonitors.monitoring.coreos.com", "--ignore-not-found", "--wait=false"]);
    rmSync(file, { force: true });
    backend.remove();
  }
});

describe("production readiness on the real cluster", () => {
  it("deploys an Ingress with TLS, PDBs, an autoscaler, the engine's shutdown settings and ServiceMonitors", async () => {
    const up = await cli(["up", "--create", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);

    const ingress = await get<{ metadata: { annotations: Record<string, string> }; spec: Obj }>("ingress", `${I}-command-center`);
    expect(ingress.spec.ingressClassName).toBe(ingressClass);
    expect(ingress.spec.tls).toEqual([{ hosts: [HOST], secretName: `${I}-command-center-tls` }]);
    expect((ingress.spec.rules as Obj[])[0].host).toBe(HOST);
    expect(ingress.metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("itprod-issuer");

    for (const name of [`${I}-engine`, `${I}-command-center`]) {
      const pdb = await get<{ spec: Obj }>("pdb", name);
      expect(pdb.spec.maxUnavailable, name).toBe(1);
    }
    const hpa = await get<{ spec: Obj }>("hpa", `${I}-engine`);
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 4]);
    expect((await kubectl(["get", "hpa", `${I}-command-center`, "-n", ns])).code).not.toBe(0);

    // The program sets no replica count; the autoscaler controller raises it to its minimum.
    await waitFor("the autoscaler to scale the engine to 2", async () => ((await get<{ spec: { replicas: number } }>("deployment", `${I}-engine`)).spec.replicas === 2 ? true : undefined), 120_000);
    const engine = await get<{ spec: { template: { spec: Obj } } }>("deployment", `${I}-engine`);
    expect(engine.spec.template.spec.terminationGracePeriodSeconds).toBe(300);
    expect(((engine.spec.template.spec.containers as Obj[])[0].lifecycle as Obj).preStop).toEqual({ sleep: { seconds: 10 } });
    expect(engine.spec.template.spec.topologySpreadConstraints).toHaveLength(1);
    const cc = await get<{ spec: { replicas: number; template: { spec: Obj } } }>("deployment", `${I}-command-center`);
    expect(cc.spec.replicas).toBe(2);
    expect(cc.spec.template.spec.topologySpreadConstraints).toHaveLength(1);

    const claim = await get<{ metadata: { annotations: Record<string, string> } }>("pvc", `${I}-postgres-data`);
    expect(claim.metadata.annotations["agent-platform.io/postgres-major"]).toBe("16");

    const monitors = await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "servicemonitors", "-n", ns]);
    expect(monitors.items.map((m) => m.metadata.name).sort()).toEqual([`${I}-command-center`, `${I}-engine`]);
  });

  it("a second up after the autoscaler changed the replica count shows no changes, and drift finds nothing", async () => {
    // As the autoscaler would: through the scale subresource, within its range.
    await kubectlOk(["scale", `deployment/${I}-engine`, "-n", ns, "--replicas=3"]);
    // The autoscaler's change is not drift, before the next up as after it.
    const before = await cli(["drift"]);
    expect(before.doc.changes, JSON.stringify(before.doc)).toEqual([]);
    expect(before.code).toBe(0);
    const up = await cli(["up", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    const changed = Object.entries(up.doc.summary).filter(([k, v]) => k !== "same" && v > 0);
    expect(changed, JSON.stringify(up.doc.changes)).toEqual([]);
    expect((await get<{ spec: { replicas: number } }>("deployment", `${I}-engine`)).spec.replicas).toBe(3);
    const drift = await cli(["drift"]);
    expect(drift.doc.changes, JSON.stringify(drift.doc)).toEqual([]);
    expect(drift.code).toBe(0);
    expect((await get<{ spec: { replicas: number } }>("deployment", `${I}-engine`)).spec.replicas).toBe(3);
  });

  describe("the executor cleanup", () => {
    let token = "";
    beforeAll(async () => {
      token = (await kubectlOk(["create", "token", `${I}-executor-cleanup`, "-n", ns, "--duration=10m"])).trim();
    });
    const can = async (args: string[]) => (await kubectl(["auth", "can-i", ...args], { token })).stdout.trim();

    it("its identity (a TokenRequest token) may list and delete pods where executors run, and nothing else", async () => {
      expect(await can(["list", "pods", "-n", exNs])).toBe("yes");
      expect(await can(["delete", "pods", "-n", exNs])).toBe("yes");
      for (const args of [
        ["create", "pods", "-n", exNs],
        ["get", "secrets", "-n", exNs],
        ["list", "secrets", "-n", exNs],
        ["create", "pods/exec", "-n", exNs],
        ["patch", "pods", "-n", exNs],
        ["list", "pods", "-n", ns],
        ["delete", "pods", "-n", ns],
        ["list", "pods", "-n", "kube-system"],
        ["delete", "deployments", "-n", exNs],
        ["list", "pods", "--all-namespaces"],
      ]) {
        expect(await can(args), args.join(" ")).toBe("no");
      }
    });

    it("its program, run with that token and the CronJob's settings, deletes old executor pods only, and is denied elsewhere", async () => {
      const cron = await get<{ spec: { jobTemplate: { spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } } } } }>("cronjob", `${I}-executor-cleanup`);
      const settings = Object.fromEntries(cron.spec.jobTemplate.spec.template.spec.containers[0].env.map((e) => [e.name, e.value]));
      expect(settings).toEqual({ NAMESPACE: exNs, SELECTOR: "app.kubernetes.io/part-of!=agent-platform", MAX_AGE_SECONDS: "1800" });
      const pod = (name: string, labels: Record<string, string> = {}) =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, labels },
          spec: {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
            // From the stack's registry: the sandbox's admission policy refuses other images.
            containers: [{ name: "x", image: "localhost:5000/2501/executor:dev", securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }],
          },
        });
      await kubectlOk(["apply", "-n", exNs, "-f", "-"], pod("orphan"));
      await kubectlOk(["apply", "-n", exNs, "-f", "-"], pod("platform-owned", { "app.kubernetes.io/part-of": "agent-platform" }));
      await new Promise((r) => setTimeout(r, 3000));
      await kubectlOk(["apply", "-n", exNs, "-f", "-"], pod("fresh"));

      const server = new URL(readFileSync(kubeconfig(), "utf8").match(/server: (\S+)/)?.[1] ?? "");
      const ca = Buffer.from(readFileSync(kubeconfig(), "utf8").match(/certificate-authority-data: (\S+)/)?.[1] ?? "", "base64");
      const saDir = mkdtempSync(path.join(os.tmpdir(), "ap-sa-"));
      writeFileSync(path.join(saDir, "token"), token);
      writeFileSync(path.join(saDir, "ca.crt"), ca);
      const run = (vars: Record<string, string>) =>
        new Promise<{ code: number; out: string }>((resolve) => {
          execFile(process.execPath, ["-e", CLEANUP_SCRIPT], { env: { SA_DIR: saDir, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port, ...vars } }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: `${stdout}${stderr}` }),
          );
        });
      try {
        // Age 2 s instead of the CronJob's 30 minutes: the pods here are seconds old.
        const ok = await run({ ...settings, MAX_AGE_SECONDS: "2" });
        expect(ok.code, ok.out).toBe(0);
        expect(ok.out).toContain(`deleted pod ${exNs}/orphan`);
        const alive = async () =>
          (await kubectlJson<{ items: { metadata: { name: string; deletionTimestamp?: string } }[] }>(["get", "pods", "-n", exNs])).items
            .filter((p) => p.metadata.deletionTimestamp === undefined)
            .map((p) => p.metadata.name)
            .sort();
        expect(await alive()).toEqual(["fresh", "platform-owned"]);
        const denied = await run({ ...settings, NAMESPACE: ns, MAX_AGE_SECONDS: "2" });
        expect(denied.code).toBe(1);
        expect(denied.out).toMatch(/HTTP 403/);
      } finally {
        rmSync(saDir, { recursive: true, force: true });
      }
    });

    it("its CronJob's pod, and the postgres backup's, are admitted where Pod Security restricted is enforced", async () => {
      const labels = (await get<{ metadata: { labels: Record<string, string> } }>("namespace", ns, ns)).metadata.labels;
      expect(labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      await kubectlOk(["create", "job", `${I}-cleanup-now`, `--from=cronjob/${I}-executor-cleanup`, "-n", ns]);
      const pods = await waitFor(
        "the cleanup job's pod",
        async () => {
          const l = await kubectlJson<{ items: { spec: { serviceAccountName: string } }[] }>(["get", "pods", "-n", ns, "-l", `job-name=${I}-cleanup-now`]);
          return l.items.length > 0 ? l.items : undefined;
        },
        60_000,
      );
      expect(pods[0].spec.serviceAccountName).toBe(`${I}-executor-cleanup`);
      const events = await kubectlOk(["get", "events", "-n", ns, "--field-selector", `involvedObject.name=${I}-cleanup-now`]);
      expect(events).not.toMatch(/violates PodSecurity/);
      await kubectl(["delete", "job", `${I}-cleanup-now`, "-n", ns, "--wait=false"]);

      // The backup job: its pod is admitted and scheduled with the backup PVC bound (KWOK runs no
      // container, so pg_dump itself does not run here).
      await kubectlOk(["create", "job", `${I}-backup-now`, `--from=cronjob/${I}-postgres-backup`, "-n", ns]);
      const backup = await waitFor(
        "the backup job's pod to be scheduled",
        async () => {
          const l = await kubectlJson<{ items: { spec: { nodeName?: string; volumes: { persistentVolumeClaim?: { claimName: string } }[] } }[] }>([
            "get", "pods", "-n", ns, "-l", `job-name=${I}-backup-now`,
          ]);
          return l.items[0]?.spec.nodeName ? l.items[0] : undefined;
        },
        90_000,
      );
      expect(backup.spec.volumes.map((v) => v.persistentVolumeClaim?.claimName).filter(Boolean)).toEqual([`${I}-postgres-backup`]);
      expect((await kubectlOk(["get", "pvc", `${I}-postgres-backup`, "-n", ns, "-o", "jsonpath={.status.phase}"])).trim()).toBe("Bound");
      await kubectl(["delete", "job", `${I}-backup-now`, "-n", ns, "--wait=false"]);
    });
  });
  it("refuses another PostgreSQL major than the data claim records, changing nothing, unless allowed", async () => {
    const before = (await get<{ metadata: { resourceVersion: string } }>("deployment", `${I}-postgres`)).metadata.resourceVersion;
    const refused = await cli(["up", "--yes", "--config", "postgresImage=postgres:17"]);
    expect(refused.code).toBe(1);
    expect(`${refused.doc.error ?? ""}\n${refused.log}`).toMatch(/postgres:17" is PostgreSQL 17, but the data in claim \S+ was last deployed with PostgreSQL 16/);
    expect((await get<{ metadata: { resourceVersion: string } }>("deployment", `${I}-postgres`)).metadata.resourceVersion).toBe(before);
    const allowed = await cli(["up", "--yes", "--config", "postgresImage=postgres:17", "--config", "postgresAllowMajorUpgrade=true"]);
    expect(allowed.code, allowed.log.slice(-3000)).toBe(0);
    const claim = await get<{ metadata: { annotations: Record<string, string> } }>("pvc", `${I}-postgres-data`);
    expect(claim.metadata.annotations["agent-platform.io/postgres-major"]).toBe("17");
  });
});
