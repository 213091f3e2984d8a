// The program's own stack, deployed through the Automation API command line, with PostgreSQL
// and an engine stand-in running for real on the real node (docs/real-node.md):
//  - postgres (the image built here from Debian's packages) initialises its volume on the
//    first start, keeps the data across a pod restart and a second `up`, and checks the
//    generated password for real;
//  - the engine stand-in (images/tools/engine-standin, pulled from the authenticated registry
//    through the program's pull secret) does what the engine's documentation says: with its
//    service-account token and NODE_EXTRA_CA_CERTS it creates an executor pod in
//    EXECUTOR_MCP_K8S_NAMESPACE, attaches over stdin/stdout, exchanges a line, deletes the pod.
//    The executor pod goes through the program's sandbox for real: its admission policies, its
//    pod defaults (sandboxPodDefaults put it on the real node), and the sandbox's default
//    ServiceAccount, whose pull secret pulls the executor image;
//  - the engine's PreStop hook (the built-in 10-second sleep): a deleted engine pod leaves the
//    Service's ready endpoints at once and its container gets SIGTERM only after the sleep;
//  - the executor cleanup CronJob's program runs in a real container (the node image built here:
//    Debian plus the project's pinned Node.js, standing in for the engine image the CronJob uses
//    by default) with its own ServiceAccount, and deletes an orphaned executor pod.
// The program has no placement setting for the engine and postgres, so a
// MutatingAdmissionPolicy (the cluster admin's tool) puts those two on the real node.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../automation/cli-main";
import { kubectl, kubectlJson, kubectlOk, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";
import { createPod, minimalPod, type Json } from "./sandboxKube";
import { REAL_NODE_LABEL, REAL_NODE_TAINT, execIn, pod, postgresPod, psqlIn, realNode, realNodeMissing, realNodeStorage } from "./realnode-harness";

const missing = realNodeMissing();
const stack = uniqueName("it-real");
const ns = uniqueName("apr");
const execNs = `${ns}-exec`;
const storage = realNodeStorage(ns, { volumes: ["pgdata"], apps: ["postgres", "agent-engine", "executor-cleanup"] });
const backend = tempBackend();
const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);

interface Doc {
  status: string;
  summary: Record<string, number>;
}

async function platform(args: string[]): Promise<{ code: number; doc: Doc; log: string }> {
  let out = "";
  let err = "";
  const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } };
  const env = { ...process.env, ...backend.env, IT_REGISTRY_PASSWORD: missing ? "" : realNode().registry.password };
  const code = await run([...args, "--stack", stack, "--json", "--retries", "0"], io, { env });
  try {
    return { code, doc: JSON.parse(out) as Doc, log: err };
  } catch {
    throw new Error(`platform ${args.join(" ")} printed no JSON document (exit ${code}):\n${err.slice(-3000)}`);
  }
}

const psql = (podName: string, sql: string) => psqlIn(ns, podName, sql);


interface Exchange {
  result: string;
  step?: string;
  error?: string;
  pod?: string;
  node?: string;
  sent?: string;
  received?: string;
  deleted: boolean;
}

describe.skipIf(missing !== "")(`the program's stack on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    const dev = readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8").replace(/^encryptionsalt:.*$/m, "");
    // Executor pods: the program's own setting puts them on the real node (an object: in the
    // stack file, as `pulumi config set --path` writes it).
    writeFileSync(stackFile, `${dev.trimEnd()}
  agent-platform:sandboxPodDefaults:
    nodeSelector:
      ${REAL_NODE_LABEL}: real
    tolerations:
      - key: ${REAL_NODE_TAINT}
        operator: Exists
        effect: NoSchedule
`);
    await storage.create();
  });

  afterAll(async () => {
    try {
      await platform(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
    } finally {
      // The PVC is kept on delete by design; the volume and the placement policy are this test's.
      await kubectl(["delete", "pvc", "--all", "-n", ns, "--wait=false"]);
      await kubectl(["delete", "namespace", ns, execNs, "--wait=false", "--ignore-not-found"]);
      await storage.remove();
      if (existsSync(stackFile)) rmSync(stackFile);
      backend.remove();
    }
  });

  it("an up deploys postgres and the engine stand-in on the real node, pulling through the program's pull secret", async () => {
    const n = realNode();
    const { code, doc, log } = await platform([
      "up", "--create", "--yes",
      "--config", `namespace=${ns}`,
      "--config", `executorNamespace=${execNs}`,
      "--config", "registryMode=static",
      "--config", `registryServer=${n.registry.server}/agents`,
      "--config", `registryUsername=${n.registry.username}`,
      "--secret-config", "registryPassword=IT_REGISTRY_PASSWORD",
      "--config", "engineImageRepository=engine",
      "--config", `imageTag=${n.imageTag}`,
      "--config", `postgresImage=${n.images.postgres}`,
      "--config", `postgresStorageClass=${storage.storageClass}`,
      // The cleanup CronJob, scheduled never to fire during the test (the test starts its Job).
      "--config", "executorCleanupSchedule=0 0 1 1 *",
      "--config", `executorCleanupImage=${n.images.node}`,
    ]);
    expect(doc.status, log.slice(-4000)).toBe("ok");
    expect(code).toBe(0);
    const pg = await pod(ns, await postgresPod(ns));
    expect(pg.spec.nodeName).toBe(n.name);
    const engine = await kubectlJson<{ items: { spec: { nodeName: string; containers: { image: string }[] } }[] }>([
      "get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=agent-engine",
    ]);
    expect(engine.items).toHaveLength(1);
    expect(engine.items[0].spec.nodeName).toBe(n.name);
    expect(engine.items[0].spec.containers[0].image).toBe(n.images.engine);
  });

  it("postgres initialised its volume with the generated password and keeps data across a pod restart", async () => {
    const first = await postgresPod(ns);
    const logs = await kubectlOk(["logs", "-n", ns, first]);
    expect(logs).toContain("initialised /var/lib/postgresql/data/pgdata (database engine, user engine)");
    // The files are postgres's own (uid 999) on the real node's volume.
    const owner = await execIn(ns, first, ["stat", "-c", "%u:%g %a", "/var/lib/postgresql/data/pgdata"]);
    expect(owner.out).toBe("999:999 700");
    expect((await psql(first, "CREATE TABLE proof (v text); INSERT INTO proof VALUES ('written before the restart')")).code).toBe(0);

    // Over TCP the generated password (the program's Secret) is required and accepted.
    const secrets = await kubectlJson<{ items: { data?: Record<string, string> }[] }>(["get", "secrets", "-n", ns, "-l", "app.kubernetes.io/name=postgres"]);
    const b64 = secrets.items.map((s) => s.data?.POSTGRES_PASSWORD).find((v) => v !== undefined);
    expect(b64).toBeDefined();
    const password = Buffer.from(b64 ?? "", "base64").toString();
    const tcp = (pw: string) => execIn(ns, first, ["env", `PGPASSWORD=${pw}`, "psql", "-h", "127.0.0.1", "-U", "engine", "-d", "engine", "-tA", "-c", "SELECT 'authenticated'"]);
    expect((await tcp(password)).out).toBe("authenticated");
    const wrong = await tcp(`${password}-wrong`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toMatch(/password authentication failed/);

    await kubectlOk(["delete", "pod", first, "-n", ns, "--wait=true"]);
    const second = await waitFor("a new postgres pod", async () => {
      const name = await postgresPod(ns);
      return name !== first ? name : undefined;
    }, 180_000);
    expect((await psql(second, "SELECT v FROM proof")).out).toBe("written before the restart");
    const logs2 = await kubectlOk(["logs", "-n", ns, second]);
    expect(logs2).not.toContain("initialised");
  });

  it("a second up changes nothing and the data is still there", async () => {
    const before = await postgresPod(ns);
    const { code, doc } = await platform(["up", "--yes"]);
    expect(code).toBe(0);
    expect(Object.entries(doc.summary).filter(([k, v]) => k !== "same" && v > 0)).toEqual([]);
    expect(await postgresPod(ns)).toBe(before);
    expect((await psql(before, "SELECT v FROM proof")).out).toBe("written before the restart");
  });

  it("the engine stand-in creates an executor pod, attaches over stdin/stdout, exchanges a line and deletes it", async () => {
    const n = realNode();
    const list = await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=agent-engine"]);
    const engine = list.items[0].metadata.name;
    const result = await waitFor("the stand-in's executor exchange", async () => {
      const logs = await kubectlOk(["logs", "-n", ns, engine]);
      const lines = logs.split("\n").filter((l) => l.startsWith("executor-exchange "));
      const last = lines.at(-1);
      if (!last) return undefined;
      const r = JSON.parse(last.slice("executor-exchange ".length)) as Exchange;
      // The stand-in retries while the platform settles; any last result other than ok after
      // it gave up is the answer.
      return r.result === "ok" || lines.length >= 30 ? r : undefined;
    }, 240_000);
    expect(result, JSON.stringify(result)).toMatchObject({ result: "ok", node: n.name, deleted: true });
    expect(result.received).toContain(result.sent);
    expect(result.received).toMatch(/uid 1000 got: hello from the engine stand-in/);
    // Nothing is left behind in the executor namespace.
    const left = await kubectlJson<{ items: unknown[] }>(["get", "pods", "-n", execNs]);
    expect(left.items).toEqual([]);
  });

  it("a deleted engine pod leaves the Service's ready endpoints at once and gets SIGTERM only after the PreStop sleep", async () => {
    const engine = await kubectlJson<{ items: { metadata: { name: string; deletionTimestamp?: string }; status: { podIP?: string } }[] }>([
      "get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=agent-engine",
    ]);
    const live = engine.items.filter((p) => !p.metadata.deletionTimestamp);
    expect(live).toHaveLength(1);
    const { name } = live[0].metadata;
    const ip = live[0].status.podIP;
    expect(ip).toBeTruthy();
    const services = await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "services", "-n", ns, "-l", "app.kubernetes.io/name=agent-engine"]);
    expect(services.items).toHaveLength(1);
    const service = services.items[0].metadata.name;
    const endpointReady = async (): Promise<boolean> => {
      const slices = await kubectlJson<{ items: { endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] }[] }>([
        "get", "endpointslices", "-n", ns, "-l", `kubernetes.io/service-name=${service}`,
      ]);
      return slices.items.some((s) => (s.endpoints ?? []).some((e) => e.addresses.includes(ip ?? "") && e.conditions?.ready === true));
    };
    expect(await endpointReady()).toBe(true);

    const t0 = Date.now();
    await kubectlOk(["delete", "pod", name, "-n", ns, "--wait=false"]);
    let leftEndpoints: number | undefined;
    let gone: number | undefined;
    let runningAfter5s = false;
    while (gone === undefined && Date.now() - t0 < 120_000) {
      if (leftEndpoints === undefined && !(await endpointReady())) leftEndpoints = Date.now() - t0;
      const p = await kubectl(["get", "pod", name, "-n", ns, "-o", "json"]);
      if (p.code !== 0) {
        if (/NotFound/.test(p.stderr)) gone = Date.now() - t0;
        continue;
      }
      const state = (JSON.parse(p.stdout) as { status: { containerStatuses?: { state: { running?: unknown } }[] } }).status.containerStatuses?.[0]?.state;
      if (Date.now() - t0 > 5_000 && state?.running !== undefined) runningAfter5s = true;
      await new Promise((r) => setTimeout(r, 250));
    }
    // The endpoint goes at once (the EndpointSlice controller acts on the deletion), the container
    // keeps running through the 10-second sleep, then SIGTERM stops it (the stand-in exits on
    // SIGTERM): far less than the 300-second grace period, after which the kubelet would kill it.
    console.info(`[prestop] endpoint not ready after ${leftEndpoints} ms, pod gone after ${gone} ms, container running after 5 s: ${runningAfter5s}`);
    expect(leftEndpoints, "the endpoint never left the Service's ready endpoints").toBeDefined();
    expect(leftEndpoints).toBeLessThan(5_000);
    expect(runningAfter5s).toBe(true);
    expect(gone, "the pod was not gone after 120 s").toBeDefined();
    expect(gone).toBeGreaterThanOrEqual(10_000);
    expect(gone).toBeLessThan(60_000);
  });

  it("the executor cleanup CronJob's program, in a real container with its own identity, deletes an orphaned executor pod and keeps a young one", async () => {
    const n = realNode();
    const executor = (name: string) => minimalPod(name, execNs, n.images.executor);
    const orphan = uniqueName("orphan");
    const young = uniqueName("young");
    expect((await createPod(executor(orphan))).code).toBe(0);
    // The configured minimum age is 5 minutes; the Job below is the CronJob's own template with
    // MAX_AGE_SECONDS lowered to 30 (same image, program, identity, placement and policies).
    const maxAge = 30;
    await new Promise((r) => setTimeout(r, (maxAge + 5) * 1000));
    expect((await createPod(executor(young))).code).toBe(0);

    const cronJobs = await kubectlJson<{ items: { metadata: { name: string }; spec: { jobTemplate: { metadata?: Record<string, unknown>; spec: Json } } }[] }>([
      "get", "cronjobs", "-n", ns, "-l", "app.kubernetes.io/name=executor-cleanup",
    ]);
    expect(cronJobs.items).toHaveLength(1);
    const cron = cronJobs.items[0];
    const spec = JSON.parse(JSON.stringify(cron.spec.jobTemplate.spec)) as { template: { spec: { containers: { image: string; env: { name: string; value: string }[] }[] } } };
    const container = spec.template.spec.containers[0];
    expect(container.image).toBe(n.images.node);
    const env = container.env.find((e) => e.name === "MAX_AGE_SECONDS");
    expect(env).toBeDefined();
    if (env) env.value = String(maxAge);
    const job = `${cron.metadata.name}-it`;
    await kubectlOk(["create", "-f", "-"], JSON.stringify({
      apiVersion: "batch/v1", kind: "Job",
      metadata: { name: job, namespace: ns, labels: cron.spec.jobTemplate.metadata?.labels },
      spec,
    }));
    const done = await waitFor(`job ${job} finished`, async () => {
      const j = await kubectlJson<{ status: { succeeded?: number; failed?: number } }>(["get", "job", job, "-n", ns]);
      return (j.status.succeeded ?? 0) > 0 || (j.status.failed ?? 0) > 0 ? j.status : undefined;
    }, 180_000);
    const logs = await kubectlOk(["logs", "-n", ns, `job/${job}`]);
    expect(done.succeeded, logs).toBe(1);
    const jobPods = await kubectlJson<{ items: { spec: { nodeName: string } }[] }>(["get", "pods", "-n", ns, "-l", `job-name=${job}`]);
    expect(jobPods.items.map((p) => p.spec.nodeName)).toContain(n.name);
    expect(logs).toContain(`deleted pod ${execNs}/${orphan}`);
    expect(logs).not.toContain(young);
    expect(logs).toMatch(/executor cleanup: \d+ deleted, \d+ kept in /);
    expect((await kubectl(["get", "pod", orphan, "-n", execNs])).stderr).toMatch(/NotFound/);
    expect((await kubectl(["get", "pod", young, "-n", execNs])).code).toBe(0);
    await kubectl(["delete", "pod", young, "-n", execNs, "--wait=false"]);
  });
});
