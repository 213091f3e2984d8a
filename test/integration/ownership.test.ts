// What a stack owns, tried as a new user would on the real local cluster: stable names, two
// stacks that would collide, a namespace that holds someone else's objects, two instances in one
// namespace, and a namespace deleted by hand. Each step asserts the exit code, the message and
// what is (not) left in the cluster.
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner, devStackFile, kubectl, kubectlJson, kubectlOk, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";

const backend = tempBackend();
const env = () => ({ ...process.env, ...backend.env });
const ns = uniqueName("own");
const foreignNs = uniqueName("foreign");
const stacks = { a: uniqueName("it-own-a"), b: uniqueName("it-own-b"), c: uniqueName("it-own-c"), d: uniqueName("it-own-d") };
const files = [
  devStackFile(stacks.a, { namespace: ns, instanceName: "ia" }),
  // Same namespace and instance as A: every object name collides.
  devStackFile(stacks.b, { namespace: ns, instanceName: "ia" }),
  // Same namespace, another instance: nothing collides.
  devStackFile(stacks.c, { namespace: ns, instanceName: "ic", createNamespaces: "false" }),
  devStackFile(stacks.d, { namespace: foreignNs, instanceName: "id" }),
];
const cli = {
  a: cliRunner(stacks.a, env),
  b: cliRunner(stacks.b, env),
  c: cliRunner(stacks.c, env),
  d: cliRunner(stacks.d, env),
};
const ownerOf = (stack: string) => `organization/agent-platform/${stack}`;

type Meta = { name: string; annotations?: Record<string, string>; uid: string };
const list = (kind: string, namespace: string) => kubectlJson<{ items: { metadata: Meta }[] }>(["get", kind, "-n", namespace]);

async function opaqueSecretData(namespace: string, instance: string): Promise<Record<string, Record<string, string>>> {
  const l = await kubectlJson<{ items: { metadata: Meta; type: string; data?: Record<string, string> }[] }>([
    "get", "secrets", "-n", namespace, "-l", `app.kubernetes.io/instance=${instance}`,
  ]);
  return Object.fromEntries(l.items.filter((s) => s.type === "Opaque").map((s) => [s.metadata.name, s.data ?? {}]));
}

afterAll(async () => {
  try {
    for (const c of [cli.d, cli.c, cli.b, cli.a]) await c(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
  } finally {
    await kubectl(["delete", "namespace", ns, `${ns}-sandbox`, foreignNs, `${foreignNs}-sandbox`, "--wait=false", "--ignore-not-found"]);
    for (const f of files) rmSync(f, { force: true });
    backend.remove();
  }
});

describe("a stack owns exactly what it creates", () => {
  let secretsOfA: Record<string, Record<string, string>> = {};

  it("names every object from instanceName and marks it with the owning stack", async () => {
    const up = await cli.a(["up", "--create", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    const deployments = (await list("deployments", ns)).items.map((d) => d.metadata.name).sort();
    expect(deployments).toEqual(["ia-command-center", "ia-engine", "ia-postgres"]);
    // What an operator types: no name to look up first.
    await kubectlOk(["rollout", "status", "deployment/ia-engine", "-n", ns, "--timeout=60s"]);
    const claims = async () => (await list("pvc", ns)).items.map((p) => p.metadata.name);
    await waitFor("C's claim to be deleted", async () => ((await claims()).length === 1 ? true : undefined), 60_000);
    expect(await claims()).toEqual(["ia-postgres-data"]);
    expect((await kubectlOk(["get", "serviceaccount", "ia-engine-executor", "-n", ns, "-o", "name"])).trim()).toBe("serviceaccount/ia-engine-executor");
    for (const kind of ["deployments", "services", "configmaps", "secrets", "serviceaccounts", "roles", "rolebindings", "pvc"]) {
      for (const o of (await list(kind, ns)).items) {
        if (o.metadata.name === "kube-root-ca.crt" || o.metadata.name === "default") continue;
        expect(o.metadata.annotations?.["agent-platform.io/owned-by"], `${kind}/${o.metadata.name}`).toBe(ownerOf(stacks.a));
      }
    }
    secretsOfA = await opaqueSecretData(ns, "ia");
    expect(Object.keys(secretsOfA).sort()).toEqual(["ia-command-center", "ia-engine", "ia-engine-license", "ia-postgres"]);
  });

  it("renders the same names and owner as it deploys, byte-identical twice", async () => {
    const dirs = [mkdtempSync(path.join(os.tmpdir(), "ap-render-")), mkdtempSync(path.join(os.tmpdir(), "ap-render-"))];
    try {
      for (const out of dirs) {
        const r = await cli.a(["render", "--out", out]);
        expect(r.code, r.log.slice(-3000)).toBe(0);
      }
      const files = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name))).sort();
      expect(files(dirs[1])).toEqual(files(dirs[0]));
      for (const f of files(dirs[0])) expect(readFileSync(path.join(dirs[1], f), "utf8"), f).toBe(readFileSync(path.join(dirs[0], f), "utf8"));
      const rendered = files(dirs[0]).map((f) => readFileSync(path.join(dirs[0], f), "utf8")).join("\n---\n");
      for (const name of ["ia-engine", "ia-command-center", "ia-postgres", "ia-postgres-data", "ia-engine-executor"]) expect(rendered).toContain(`name: ${name}\n`);
      expect(rendered).toContain(`agent-platform.io/owned-by: ${ownerOf(stacks.a)}`);
      expect(rendered).not.toMatch(/render-it-own/);
    } finally {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  it("refuses a second stack that would take over the first one's objects, and changes nothing", async () => {
    const before = (await list("deployments", ns)).items.map((d) => [d.metadata.name, d.metadata.uid]);
    const up = await cli.b(["up", "--create", "--yes"]);
    expect(up.code).toBe(1);
    const text = `${up.doc.error ?? ""}\n${up.log}`;
    expect(text).toMatch(/Nothing was changed: \d+ problem\(s\) with the objects this stack would create or use/);
    expect(text).toContain(`Deployment ${ns}/ia-engine already exists and belongs to stack ${ownerOf(stacks.a)}`);
    expect(text).toContain("choose another agent-platform:instanceName or namespace");
    expect((await list("deployments", ns)).items.map((d) => [d.metadata.name, d.metadata.uid])).toEqual(before);
    const marks = (await list("services", ns)).items.map((s) => s.metadata.annotations?.["agent-platform.io/owned-by"]);
    expect(new Set(marks)).toEqual(new Set([ownerOf(stacks.a)]));
    // The plain Pulumi CLI runs the same program, so it refuses the same way.
    const plain = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile("pulumi", ["preview", "--stack", stacks.b, "--non-interactive"], { cwd: repoRoot, env: env(), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` }),
      );
    });
    expect(plain.code).toBe(1);
    expect(plain.out).toContain(`Deployment ${ns}/ia-engine already exists and belongs to stack ${ownerOf(stacks.a)}`);
    // Nothing in B's state, so destroying B cannot touch A.
    const destroy = await cli.b(["destroy", "--yes", "--remove-protected"]);
    expect(destroy.code, destroy.log.slice(-2000)).toBe(0);
    expect((await list("deployments", ns)).items.map((d) => [d.metadata.name, d.metadata.uid])).toEqual(before);
  });

  it("lets a second instance share the namespace without any name colliding", async () => {
    const up = await cli.c(["up", "--create", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    const deployments = (await list("deployments", ns)).items.map((d) => d.metadata.name).sort();
    expect(deployments).toEqual(["ia-command-center", "ia-engine", "ia-postgres", "ic-command-center", "ic-engine", "ic-postgres"]);
    expect(await opaqueSecretData(ns, "ia")).toEqual(secretsOfA);
    const destroy = await cli.c(["destroy", "--yes", "--remove-protected"]);
    expect(destroy.code, destroy.log.slice(-2000)).toBe(0);
    // C did not own the namespace: it is still there, with A's objects untouched.
    expect((await list("deployments", ns)).items.map((d) => d.metadata.name).sort()).toEqual(["ia-command-center", "ia-engine", "ia-postgres"]);
    // --remove-protected took C's claim too, and only C's.
    const claims = async () => (await list("pvc", ns)).items.map((p) => p.metadata.name);
    await waitFor("C's claim to be deleted", async () => ((await claims()).length === 1 ? true : undefined), 60_000);
    expect(await claims()).toEqual(["ia-postgres-data"]);
  });

  it("refuses a namespace that holds someone else's objects unless told to deploy into it, then never deletes it", async () => {
    await kubectlOk(["create", "namespace", foreignNs]);
    await kubectlOk(["create", "configmap", "theirs", "-n", foreignNs, "--from-literal=keep=me"]);
    const refused = await cli.d(["up", "--create", "--yes"]);
    expect(refused.code).toBe(1);
    const text = `${refused.doc.error ?? ""}\n${refused.log}`;
    expect(text).toContain(`Namespace ${foreignNs} already exists and belongs to something outside this program`);
    expect(text).toContain("createNamespaces false");
    expect((await list("deployments", foreignNs)).items).toHaveLength(0);

    // Existing namespaces must all exist: the executors' one (<namespace>-sandbox) does not yet.
    const missing = await cli.d(["up", "--yes", "--config", "createNamespaces=false"]);
    expect(missing.code).toBe(1);
    expect(`${missing.doc.error ?? ""}\n${missing.log}`).toContain(`Namespace ${foreignNs}-sandbox does not exist, and createNamespaces is false`);
    await kubectlOk(["create", "namespace", `${foreignNs}-sandbox`]);
    const up = await cli.d(["up", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    expect(up.log).toContain(`namespace ${foreignNs} exists and is not this stack's`);
    const labels = JSON.parse(await kubectlOk(["get", "namespace", foreignNs, "-o", "jsonpath={.metadata.labels}"])) as Record<string, string>;
    expect(labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
    expect(labels).not.toHaveProperty("agent-platform.io/owned-by");

    const destroy = await cli.d(["destroy", "--yes", "--remove-protected"]);
    expect(destroy.code, destroy.log.slice(-2000)).toBe(0);
    expect((await kubectl(["get", "namespace", foreignNs])).code).toBe(0);
    expect((await kubectlOk(["get", "configmap", "theirs", "-n", foreignNs, "-o", "jsonpath={.data.keep}"])).trim()).toBe("me");
    const after = JSON.parse(await kubectlOk(["get", "namespace", foreignNs, "-o", "jsonpath={.metadata.labels}"])) as Record<string, string>;
    expect(after).not.toHaveProperty("pod-security.kubernetes.io/enforce");
  });

  it("restores everything with one up after the namespace was deleted by hand, with the same generated secrets", async () => {
    await kubectlOk(["delete", "namespace", ns, "--wait=true", "--timeout=120s"]);
    await waitFor("the namespace to be gone", async () => ((await kubectl(["get", "namespace", ns])).code !== 0 ? true : undefined), 120_000);
    const up = await cli.a(["up", "--yes"]);
    expect(up.code, up.log.slice(-3000)).toBe(0);
    expect(up.doc.summary.create ?? 0).toBeGreaterThan(10);
    const deployments = (await list("deployments", ns)).items.map((d) => d.metadata.name).sort();
    expect(deployments).toEqual(["ia-command-center", "ia-engine", "ia-postgres"]);
    await kubectlOk(["rollout", "status", "deployment/ia-engine", "-n", ns, "--timeout=60s"]);
    expect(await opaqueSecretData(ns, "ia")).toEqual(secretsOfA);
    const drift = await cli.a(["drift"]);
    expect(drift.code, JSON.stringify(drift.doc.changes)).toBe(0);
  });
});
