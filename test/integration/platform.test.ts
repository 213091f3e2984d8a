// The whole lifecycle of one throwaway stack of the real program on the real local cluster,
// driven through the CI command line (automation/) exactly as a pipeline runs it:
// fresh up, no-op up, drift found and repaired, stable secrets, an interrupted up,
// the executor identity used as the engine uses it, a targeted pull-secret refresh, destroy.
// Steps share the stack and run in order; each asserts what a platform engineer would check.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as k8s from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliDoc, cliRunner, exportedState, kubectl, kubectlJson, kubectlOk, kubeconfig, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";

const stack = uniqueName("it");
/** The executor ServiceAccount of the dev stack's instance (ai-2501). */
const EXECUTOR_SA = "ai-2501-engine-executor";
const ns = uniqueName("ap");
const execNs = `${ns}-exec`;
const backend = tempBackend();
const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);
const timings: Record<string, number> = {};

const baseEnv = (): Record<string, string | undefined> => ({
  ...process.env,
  ...backend.env,
  IT_REGISTRY_PASSWORD: "first-registry-token",
});

/** Runs one CLI command in-process with --json; returns exit code and the parsed document. */
const platform = cliRunner(stack, baseEnv, (args, seconds) => {
  timings[`${args[0]}${args.includes("--repair") ? " --repair" : ""} #${Object.keys(timings).length + 1}`] = seconds;
});

/** The CLI as its own process group, as CI runs it. */
function spawnCli(args: string[], extraEnv: Record<string, string> = {}) {
  const child = spawn(
    "bash",
    [path.join(repoRoot, "scripts/with-env.sh"), "tsx", path.join(repoRoot, "automation/cli.ts"), ...args],
    { env: { ...baseEnv(), KUBECONFIG: kubeconfig(), ...extraEnv } as NodeJS.ProcessEnv, detached: true, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number>((resolve) => child.once("exit", (c) => resolve(c ?? -1)));
  return { child, exited, output: () => out };
}

const deploymentsOf = async (namespace: string) =>
  kubectlJson<{ items: { metadata: { name: string; generation: number }; spec: { replicas: number }; status: { availableReplicas?: number } }[] }>([
    "get", "deployments", "-n", namespace,
  ]);

/** The data of every Secret we own in the engine namespace, for byte-for-byte comparison. */
async function secretData(): Promise<Record<string, Record<string, string>>> {
  const list = await kubectlJson<{ items: { metadata: { name: string }; type: string; data?: Record<string, string> }[] }>([
    "get", "secrets", "-n", ns,
  ]);
  const out: Record<string, Record<string, string>> = {};
  for (const s of list.items) if (s.type === "Opaque") out[s.metadata.name] = s.data ?? {};
  return out;
}

const changedNames = (doc: CliDoc) => doc.changes.map((c) => `${c.type}::${c.name}`);

let secretsAfterFirstUp: Record<string, Record<string, string>> = {};

beforeAll(() => {
  // The dev stack's values (license key, sizes) with this test's own namespaces and registry.
  // Without the dev stack's machine-local encryption salt: this stack gets its own.
  const dev = readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8");
  writeFileSync(stackFile, dev.replace(/^encryptionsalt:.*$/m, ""));
});

afterAll(async () => {
  try {
    // Whatever happened above, leave nothing behind: everything, protected or not.
    await platform(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
  } finally {
    await kubectl(["delete", "namespace", ns, execNs, "--wait=false", "--ignore-not-found"]);
    if (existsSync(stackFile)) rmSync(stackFile);
    backend.remove();
    console.log(`[platform timings, s] ${JSON.stringify(timings)}`);
  }
});

describe("agent-platform on the local cluster", () => {
  it("(a) a fresh up makes every Deployment Available and exports the right outputs", async () => {
    const { code, doc, log } = await platform([
      "up", "--create", "--yes",
      "--config", `namespace=${ns}`,
      "--config", `executorNamespace=${execNs}`,
      "--config", "registryMode=static",
      "--config", "registryServer=registry.example.test/agents",
      "--config", "registryUsername=robot",
      "--secret-config", "registryPassword=IT_REGISTRY_PASSWORD",
    ]);
    expect(doc.status, log.slice(-4000)).toBe("ok");
    expect(code).toBe(0);
    const deps = await deploymentsOf(ns);
    expect(deps.items.map((d) => d.metadata.name).sort()).toHaveLength(3);
    for (const d of deps.items) expect(d.status.availableReplicas, d.metadata.name).toBe(d.spec.replicas);
    const outputs = doc.outputs ?? {};
    expect(JSON.stringify(outputs)).toContain(ns);
    expect(JSON.stringify(outputs)).toContain(execNs);
    expect(JSON.stringify(outputs)).toContain(EXECUTOR_SA);
    // The engine API key is a secret output: never printed.
    secretsAfterFirstUp = await secretData();
    const apiKeyEverywhere = Object.values(secretsAfterFirstUp).flatMap((d) => Object.values(d));
    expect(apiKeyEverywhere.length).toBeGreaterThan(0);
    for (const v of apiKeyEverywhere) {
      const plain = Buffer.from(v, "base64").toString();
      if (plain.length >= 16) {
        expect(JSON.stringify(doc)).not.toContain(plain);
        expect(log).not.toContain(plain);
      }
    }
    // A pull secret exists in both namespaces whose pods pull.
    for (const n of [ns, execNs]) {
      const pull = await kubectlJson<{ items: { type: string }[] }>(["get", "secrets", "-n", n]);
      expect(pull.items.filter((s) => s.type === "kubernetes.io/dockerconfigjson")).toHaveLength(1);
    }
    // The order Pulumi creates in, as its state records it: the engine's right to create executor
    // pods (the executor access, its RoleBinding) only after every object of the sandbox that
    // confines them (policies, quota, NetworkPolicies), and the engine only after that right.
    const resources = (await exportedState(stack, backend.env)).deployment.resources;
    const one = (type: string, parent?: string) => {
      const found = resources.filter((r) => r.type === type && (parent === undefined || r.parent === parent));
      expect(found.map((r) => r.urn), type).toHaveLength(1);
      return found[0];
    };
    const sandbox = one("agent-platform:index:Sandbox");
    const sandboxObjects = resources.filter((r) => r.parent === sandbox.urn).map((r) => r.urn);
    expect(sandboxObjects.some((u) => u.includes("ValidatingAdmissionPolicyBinding"))).toBe(true);
    const access = one("agent-platform:index:ExecutorAccess");
    expect(access.dependencies ?? []).toEqual(expect.arrayContaining(sandboxObjects));
    const roleBinding = one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", access.urn);
    const engine = resources.filter((r) => r.type === "agent-platform:index:Workload" && r.urn.endsWith("-engine"));
    expect(engine).toHaveLength(1);
    expect(engine[0].dependencies ?? []).toContain(roleBinding.urn);
  });

  it("(b) a second up changes nothing and drift finds nothing", async () => {
    const up = await platform(["up", "--yes"]);
    expect(up.code).toBe(0);
    const changed = Object.entries(up.doc.summary).filter(([k, v]) => k !== "same" && v > 0);
    expect(changed).toEqual([]);
    const drift = await platform(["drift"]);
    expect(drift.doc.changes, JSON.stringify(drift.doc.changes)).toEqual([]);
    expect(drift.code).toBe(0);
    expect(await secretData()).toEqual(secretsAfterFirstUp);
  });

  it("(b2) a second run on a locked stack retries with backoff, then fails clearly; the first is never cancelled", async () => {
    // A first run that holds the lock for a while: a new image tag rolls two Deployments.
    const first = spawnCli(["up", "--stack", stack, "--yes", "--retries", "0", "--config", "imageTag=dev-b2"]);
    // Wait until the first run holds the stack's lock in the backend.
    const lockDir = path.join(backend.dir, ".pulumi/locks/organization/agent-platform", stack);
    await waitFor("the first run to lock the stack", async () => (existsSync(lockDir) && readdirSync(lockDir).some((f) => f.endsWith(".json")) ? true : undefined), 60_000);
    const second = await platform(["up", "--yes", "--retries", "2", "--retry-delay", "200ms"]);
    expect(second.code).toBe(1);
    expect(second.doc.status).toBe("error");
    expect(second.log).toMatch(/locked by another update; gave up after 3 attempt\(s\)/);
    expect(second.log).toMatch(/Lock held by: .*\(pid \d+\)/);
    const code = await first.exited;
    expect(code, first.output()).toBe(0);
    expect(first.output()).not.toMatch(/cancel/i);
  });

  it("(c) drift names a scaled Deployment, a deleted ConfigMap and an edited Role; --repair undoes them", async () => {
    const deps = await deploymentsOf(ns);
    const engine = deps.items.find((d) => d.metadata.name.includes("engine"));
    expect(engine).toBeDefined();
    await kubectlOk(["scale", "deployment", engine!.metadata.name, "-n", ns, "--replicas=3"]);
    const cms = await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "configmaps", "-n", ns, "-l", "app.kubernetes.io/component=engine"]);
    expect(cms.items.length).toBeGreaterThan(0);
    const cm = cms.items[0].metadata.name;
    await kubectlOk(["delete", "configmap", cm, "-n", ns]);
    const roles = await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "roles", "-n", execNs]);
    expect(roles.items).toHaveLength(1);
    const role = roles.items[0].metadata.name;
    await kubectlOk(["patch", "role", role, "-n", execNs, "--type=json",
      "-p", '[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}}]']);

    const drift = await platform(["drift"]);
    expect(drift.code, drift.log.slice(-3000)).toBe(2);
    const names = changedNames(drift.doc).join("\n");
    expect(names).toContain(`apps/v1:Deployment::`);
    expect(names).toMatch(/ConfigMap::/);
    expect(names).toMatch(/Role::/);
    const scaled = drift.doc.changes.find((c) => c.type.endsWith("Deployment") && c.name.includes("engine"));
    expect(scaled?.fields.join(",")).toContain("replicas");

    const repair = await platform(["drift", "--repair"]);
    expect(repair.code, repair.log.slice(-3000)).toBe(0);
    const again = await platform(["drift"]);
    expect(again.code).toBe(0);
    const liveRole = await kubectlJson<{ rules: { resources: string[] }[] }>(["get", "role", role, "-n", execNs]);
    expect(liveRole.rules.flatMap((r) => r.resources)).not.toContain("secrets");
    const afterEngine = (await deploymentsOf(ns)).items.find((d) => d.metadata.name === engine!.metadata.name);
    expect(afterEngine?.spec.replicas).toBe(engine!.spec.replicas);
  });

  it("(d) the generated secrets are byte-identical after every step so far", async () => {
    expect(await secretData()).toEqual(secretsAfterFirstUp);
  });

  it("(e) an up killed with SIGKILL midway is converged by the next run, secrets unchanged", async () => {
    // A change that makes the engine and command center roll: a new image tag.
    const run = spawnCli(["up", "--stack", stack, "--yes", "--retries", "0", "--config", "imageTag=dev-2"]);
    // Kill the whole process group (CLI, pulumi, plugins) once the update is under way.
    await waitFor("the update to start updating resources", async () => (/kubernetes:\S+ \S+ (updating|creating)/.test(run.output()) ? true : undefined), 180_000);
    process.kill(-run.child.pid!, "SIGKILL");
    await run.exited;

    const next = await platform(["up", "--yes", "--config", "imageTag=dev-2"]);
    expect(next.doc.status, next.log.slice(-4000)).toBe("ok");
    expect(next.code).toBe(0);
    const drift = await platform(["drift"]);
    expect(drift.code, JSON.stringify(drift.doc.changes)).toBe(0);
    expect(await secretData()).toEqual(secretsAfterFirstUp);
  });

  it("(f) the executor identity works as the engine uses it, and nothing more", async () => {
    const token = (await kubectlOk(["create", "token", EXECUTOR_SA, "-n", ns])).trim();
    const admin = new k8s.KubeConfig();
    admin.loadFromFile(kubeconfig());
    const server = admin.getCurrentCluster()!.server;
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server, skipTLSVerify: true }],
      users: [{ name: "engine-executor", token }],
      contexts: [{ name: "x", cluster: "c", user: "engine-executor" }],
      currentContext: "x",
    });
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const podName = uniqueName("executor");
    await core.createNamespacedPod({
      namespace: execNs,
      body: {
        metadata: { name: podName },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: "tool", image: "registry.example.test/agents/executor:dev", stdin: true,
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
          }],
        },
      },
    });
    const running = await waitFor("executor pod Running", async () => {
      const p = await core.readNamespacedPodStatus({ name: podName, namespace: execNs });
      return p.status?.phase === "Running" ? p : undefined;
    });
    expect(running.status?.phase).toBe("Running");
    const listed = await core.listNamespacedPod({ namespace: execNs });
    expect(listed.items.map((p) => p.metadata?.name)).toContain(podName);
    await core.deleteNamespacedPod({ name: podName, namespace: execNs, gracePeriodSeconds: 0 });

    const status = (e: unknown) => (e as { code?: number }).code;
    await expect(core.listNamespacedSecret({ namespace: execNs }).catch(status)).resolves.toBe(403);
    await expect(core.listNamespacedPod({ namespace: ns }).catch(status)).resolves.toBe(403);
    await expect(core.listNamespacedPod({ namespace: "default" }).catch(status)).resolves.toBe(403);
    // pods/exec is not granted, pods/attach is: ask the API server's authorizer.
    const can = await kubectl(["auth", "can-i", "create", "pods", "--subresource=exec", "-n", execNs, "--as", `system:serviceaccount:${ns}:${EXECUTOR_SA}`]);
    expect(can.stdout.trim()).toBe("no");
    const canAttach = await kubectl(["auth", "can-i", "create", "pods", "--subresource=attach", "-n", execNs, "--as", `system:serviceaccount:${ns}:${EXECUTOR_SA}`]);
    expect(canAttach.stdout.trim()).toBe("yes");
  });

  it("(g) refresh-pull-secret updates the pull secrets and nothing else", async () => {
    const before = await kubectlJson<{ items: { metadata: { name: string; namespace: string }; type: string; data: Record<string, string> }[] }>([
      "get", "secrets", "-A", "--field-selector", "type=kubernetes.io/dockerconfigjson",
    ]);
    const ours = before.items.filter((s) => s.metadata.namespace === ns || s.metadata.namespace === execNs);
    expect(ours).toHaveLength(2);
    // The spec generation changes only when something changes the Deployment itself.
    const generations = async () => JSON.stringify((await deploymentsOf(ns)).items.map((d) => [d.metadata.name, d.metadata.generation]));
    const deploymentsBefore = await generations();
    // A new registry token, as a rotated ECR token would be.
    const env = { ...baseEnv(), IT_REGISTRY_PASSWORD: "second-registry-token" };
    const r = await platform(["refresh-pull-secret", "--secret-config", "registryPassword=IT_REGISTRY_PASSWORD"], env);
    expect(r.code, r.log.slice(-3000)).toBe(0);
    const updated = r.doc.changes.filter((c) => c.op !== "same");
    expect(updated.length).toBe(2);
    for (const c of updated) expect(c.type).toBe("kubernetes:core/v1:Secret");
    for (const s of ours) {
      const now = await kubectlJson<{ data: Record<string, string> }>(["get", "secret", s.metadata.name, "-n", s.metadata.namespace]);
      expect(now.data[".dockerconfigjson"]).not.toBe(s.data[".dockerconfigjson"]);
      expect(Buffer.from(now.data[".dockerconfigjson"], "base64").toString()).toContain(Buffer.from("robot:second-registry-token").toString("base64"));
    }
    expect(await generations()).toBe(deploymentsBefore);
    expect(await secretData()).toEqual(secretsAfterFirstUp);
  });

  it("(h) destroy keeps the protected secrets and the PVC; --remove-protected removes the secrets too", async () => {
    const d = await platform(["destroy", "--yes"], { ...baseEnv(), IT_REGISTRY_PASSWORD: "second-registry-token" });
    expect(d.code, d.log.slice(-3000)).toBe(0);
    expect((await deploymentsOf(ns)).items).toHaveLength(0);
    const pvcs = await kubectlJson<{ items: unknown[] }>(["get", "pvc", "-n", ns]);
    expect(pvcs.items).toHaveLength(1);
    const outputs = await platform(["outputs"]);
    expect(outputs.code).toBe(0);

    const all = await platform(["destroy", "--yes", "--remove-protected"], { ...baseEnv(), IT_REGISTRY_PASSWORD: "second-registry-token" });
    expect(all.code, all.log.slice(-3000)).toBe(0);
    // The PVC is kept on delete by design (data outlives the stack): removing it is a
    // deliberate kubectl command, documented in docs/program.md.
    await kubectlOk(["delete", "pvc", "--all", "-n", ns, "--wait=false"]);
    await waitFor("namespace gone or empty", async () => {
      const r = await kubectl(["get", "secrets,deployments,services,configmaps", "-n", ns, "-o", "name"]);
      const left = r.stdout.split("\n").filter((l) => l && !l.includes("kube-root-ca.crt"));
      return left.length === 0 ? true : undefined;
    }, 120_000);
  });
});
