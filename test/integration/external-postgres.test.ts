// An external PostgreSQL instead of the in-cluster one, on the local cluster, through the CI
// command line: a stack that runs the in-cluster postgres is switched to an external database
// (a private address, as a managed database in the cluster's VPC would have) the way an operator
// would do it. The program first refuses an in-cluster-only key that is still set, then refuses the
// switch itself while this stack's in-cluster data exists, changing nothing; after the claim is
// unprotected and the migration acknowledged, the `up` removes the postgres Deployment, Service and
// Secret, keeps the data claim in the cluster, and the live engine Deployment reads DB_* and
// PGSSLMODE from its ConfigMap and DB_PASSWORD from its Secret. The NetworkPolicies read back from
// the cluster are judged by cyclonus: the engine reaches the database, executors do not.
//
// What this does NOT prove: a connection to a real external database (none runs here, and nothing
// leaves this machine), TLS, or that the engine honours PGSSLMODE (the engine's documentation
// names no TLS setting; docs/program.md).
import { execFile } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner, devStackFile, kubectl, kubectlJson, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";
import { evaluateTraffic, type PodPeer } from "./netpolEval";
import * as path from "node:path";

const backend = tempBackend();
const env = () => ({ ...process.env, ...backend.env, IT_EXTERNAL_DB_PASSWORD: "external-db-password-0123456789" });
const ns = uniqueName("xpg");
const sandbox = `${ns}-sandbox`;
const stack = uniqueName("it-xpg");
const I = "xp";
const DB_IP = "10.20.30.40";
const EXTERNAL = JSON.stringify({ host: DB_IP, port: 5432, database: "agents", user: "agent_engine", sslMode: "verify-full" });
const file = devStackFile(stack, { namespace: ns, instanceName: I });
const cli = cliRunner(stack, env);

type Obj = Record<string, unknown>;
const exists = async (kind: string, name: string) => (await kubectl(["get", kind, name, "-n", ns])).code === 0;

function pulumiCli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(path.join(repoRoot, ".local/bin/pulumi"), args, { cwd: repoRoot, env: env() }, (e, stdout, stderr) =>
      resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, out: String(stdout) + String(stderr) }),
    );
  });
}

afterAll(async () => {
  try {
    await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
  } finally {
    await kubectl(["delete", "pvc", "--all", "-n", ns, "--wait=false"]);
    await kubectl(["delete", "namespace", ns, sandbox, "--wait=false", "--ignore-not-found"]);
    rmSync(file, { force: true });
    backend.remove();
  }
});

describe("switching a stack to an external PostgreSQL", () => {
  it("starts with the in-cluster postgres", async () => {
    const up = await cli(["up", "--create", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    for (const kind of ["deployment", "service", "secret"]) expect(await exists(kind, `${I}-postgres`), kind).toBe(true);
    expect(await exists("pvc", `${I}-postgres-data`)).toBe(true);
  });

  it("refuses an in-cluster-only key left set (the dev stack's postgresStorageSize), naming it and the fix", async () => {
    const up = await cli(["up", "--yes", "--config", `externalPostgres=${EXTERNAL}`, "--secret-config", "externalPostgresPassword=IT_EXTERNAL_DB_PASSWORD"]);
    expect(up.code).not.toBe(0);
    expect(`${up.doc.error ?? ""}\n${up.log}`).toMatch(/agent-platform:externalPostgres = .*is set, so no in-cluster PostgreSQL is deployed, and postgresStorageSize would configure it: remove that key \(pulumi config rm <key>\)/);
    expect(await exists("deployment", `${I}-postgres`)).toBe(true);
  });

  let urns: string[] = [];
  it("refuses the switch while this stack's in-cluster data exists, changing nothing, and says how", async () => {
    // As `pulumi config rm postgresStorageSize` does (the --config values above were saved).
    writeFileSync(file, readFileSync(file, "utf8").replace(/^ {2}agent-platform:postgresStorageSize: .*\n/m, ""));
    const up = await cli(["up", "--yes"]);
    expect(up.code).not.toBe(0);
    const message = `${up.doc.error ?? ""}\n${up.log}`;
    expect(message).toContain(`Nothing was changed: agent-platform:externalPostgres is set, but this stack still has its in-cluster PostgreSQL (Deployment ${ns}/${I}-postgres, PersistentVolumeClaim ${ns}/${I}-postgres-data)`);
    expect(message).toContain("pulumi config set --path externalPostgres.inClusterDataMigrated true");
    urns = [...new Set([...message.matchAll(/pulumi state unprotect '([^']+)'/g)].map((m) => m[1]))];
    expect(urns).toEqual([`urn:pulumi:${stack}::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:Postgres$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data`]);
    expect(await exists("deployment", `${I}-postgres`)).toBe(true);
    const config = await kubectlJson<{ data: Record<string, string> }>(["get", "configmap", `${I}-engine`, "-n", ns]);
    expect(config.data.DB_HOST).toBe(`${I}-postgres`);
  });

  it("after the steps it names, deploys no postgres, keeps the data claim, and wires the live engine to the external database", async () => {
    for (const urn of urns) {
      const r = await pulumiCli(["state", "unprotect", urn, "--yes", "--stack", stack]);
      expect(r.code, r.out).toBe(0);
    }
    const up = await cli(["up", "--yes", "--config", `externalPostgres=${JSON.stringify({ ...JSON.parse(EXTERNAL), inClusterDataMigrated: true })}`]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    for (const kind of ["deployment", "service", "secret"]) expect(await exists(kind, `${I}-postgres`), kind).toBe(false);
    const postgresObjects = await kubectlJson<{ items: unknown[] }>(["get", "deployments,services,secrets,cronjobs", "-n", ns, "-l", "app.kubernetes.io/name=postgres"]);
    expect(postgresObjects.items).toEqual([]);
    // Kept on delete: the data outlives the switch.
    expect(await exists("pvc", `${I}-postgres-data`)).toBe(true);

    const deployment = await kubectlJson<{ spec: { template: { spec: { containers: { env: Obj[] }[] } } } }>(["get", "deployment", `${I}-engine`, "-n", ns]);
    const envs = deployment.spec.template.spec.containers[0].env;
    for (const key of ["DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "PGSSLMODE"]) {
      expect(envs, key).toContainEqual({ name: key, valueFrom: { configMapKeyRef: { name: `${I}-engine`, key } } });
    }
    expect(envs).toContainEqual({ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: `${I}-engine`, key: "DB_PASSWORD" } } });
    const config = await kubectlJson<{ data: Record<string, string> }>(["get", "configmap", `${I}-engine`, "-n", ns]);
    expect(config.data).toMatchObject({ DB_HOST: DB_IP, DB_PORT: "5432", DB_NAME: "agents", DB_USER: "agent_engine", PGSSLMODE: "verify-full" });
    const secret = await kubectlJson<{ data: Record<string, string> }>(["get", "secret", `${I}-engine`, "-n", ns]);
    expect(Buffer.from(secret.data.DB_PASSWORD, "base64").toString()).toBe("external-db-password-0123456789");
    // The rolled engine pod runs (KWOK) with the new settings.
    await waitFor("an engine pod of the new template, ready", async () => {
      const pods = await kubectlJson<{ items: { status: { conditions?: { type: string; status: string }[] } }[] }>(["get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=agent-engine"]);
      return pods.items.length === 1 && pods.items[0].status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
    }, 120_000);
  });

  it("a second run finds nothing to change", async () => {
    const preview = await cli(["preview"]);
    expect(preview.doc.changes, JSON.stringify(preview.doc.changes)).toEqual([]);
    expect(preview.code).toBe(0);
  });

  it("NetworkPolicies (read back, judged by cyclonus): no postgres policy; the engine reaches the database, executors do not", async () => {
    const policies: Obj[] = [];
    for (const n of [ns, sandbox]) policies.push(...(await kubectlJson<{ items: Obj[] }>(["get", "networkpolicy", "-n", n])).items);
    expect(policies.map((p) => (p.metadata as { name: string }).name).sort()).toEqual([`${I}-default-deny-ingress`, `${I}-engine-ingress`, `${I}-executor-deny-all`, `${I}-executor-egress`]);
    const labels = async (n: string) => (await kubectlJson<{ metadata: { labels: Record<string, string> } }>(["get", "namespace", n])).metadata.labels;
    const enginePod = (await kubectlJson<{ items: { metadata: { labels: Record<string, string> }; status: { podIP?: string } }[] }>(["get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=agent-engine"])).items[0];
    const engine: PodPeer = { namespace: ns, namespaceLabels: await labels(ns), podLabels: enginePod.metadata.labels, ip: enginePod.status.podIP ?? "10.244.0.10" };
    // An executor pod as the engine creates it (no label of ours), in the sandbox namespace.
    const executor: PodPeer = { namespace: sandbox, namespaceLabels: await labels(sandbox), podLabels: { app: "executor" }, ip: "10.244.1.20" };
    const db = { ip: DB_IP };
    const rows = [
      { name: "engine -> external database 5432", from: engine, to: db, port: 5432, protocol: "TCP" as const },
      { name: "executor -> external database 5432", from: executor, to: db, port: 5432, protocol: "TCP" as const },
      { name: "executor -> external database 443", from: executor, to: db, port: 443, protocol: "TCP" as const },
    ];
    const verdicts = await evaluateTraffic(policies, rows);
    expect(verdicts.map((v) => `${v.name}: ${v.allowed ? "allowed" : "denied"}`)).toEqual([
      "engine -> external database 5432: allowed",
      "executor -> external database 5432: denied",
      "executor -> external database 443: denied",
    ]);
  });
});
