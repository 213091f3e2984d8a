// A deployment made by the engine's own installer (`2501 infra deploy --target kubernetes`, then
// `kubectl apply -R`) taken over by a stack with `adopt`: the fixture tree in the installer's
// layout is applied to the cluster, a marker file is written into the claim's volume, then
// adopt --dry-run (nothing changes), adopt, up. Afterwards the claim, its volume and the file are
// the same, the stack's Secrets hold the installer's five generated values, drift finds nothing
// and preview shows no changes.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliRunner, kubeconfig, kubectl, kubectlJson, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";
import { applyInstallerTree, copyInstallerTree, fixtureValue, GENERATED, generatedValues, INSTANCE } from "./installer-fixture";

const backend = tempBackend();
const stack = uniqueName("it-adopt");
const ns = uniqueName("adopt");
const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);
const work = mkdtempSync(path.join(os.tmpdir(), "ap-adopt-"));
/** The fixture, in a namespace of this test's own. */
const tree = path.join(work, "kubernetes");
const cli = cliRunner(stack, () => ({ ...process.env, ...backend.env }));

const generated = generatedValues();

/** The error message of a failed run's JSON document. */
const errorOf = (doc: { error?: unknown }): string => (doc.error as { message?: string } | undefined)?.message ?? "";

interface Pvc {
  metadata: { name: string; uid: string; annotations?: Record<string, string> };
  spec: { volumeName: string };
  status: { phase: string };
}

async function secretData(name: string): Promise<Record<string, string>> {
  const s = await kubectlJson<{ data?: Record<string, string> }>(["get", "secret", name, "-n", ns]);
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

/** Every object in the namespace (and the namespace) with its resourceVersion: each change shows. */
async function snapshot(): Promise<string[]> {
  const l = await kubectlJson<{ items: { kind: string; metadata: { name: string; resourceVersion: string } }[] }>([
    "get", "deployments,services,configmaps,secrets,persistentvolumeclaims,serviceaccounts,roles,rolebindings", "-n", ns,
  ]);
  const nsObj = await kubectlJson<{ metadata: { resourceVersion: string } }>(["get", "namespace", ns]);
  return [`Namespace ${ns} ${nsObj.metadata.resourceVersion}`, ...l.items.map((o) => `${o.kind} ${o.metadata.name} ${o.metadata.resourceVersion}`)].sort();
}

/** A copy of a tree with one file changed, for the refusals. */
function variant(name: string, file: string, edit: (t: string) => string): string {
  const dir = path.join(work, name);
  cpSync(tree, dir, { recursive: true });
  const p = path.join(dir, file);
  if (existsSync(p)) writeFileSync(p, edit(readFileSync(p, "utf8")));
  return dir;
}

beforeAll(async () => {
  // adopt reads the cluster through $KUBECONFIG, as the program's own pre-flight check does.
  process.env.KUBECONFIG = kubeconfig();
  copyInstallerTree(tree, ns);
  await applyInstallerTree(tree);
}, 120_000);

afterAll(async () => {
  try {
    if (existsSync(stackFile)) await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
  } finally {
    await kubectl(["delete", "namespace", ns, `${ns}-sandbox`, "--wait=false", "--ignore-not-found"]);
    rmSync(stackFile, { force: true });
    rmSync(work, { recursive: true, force: true });
    backend.remove();
  }
});

describe("adopt a deployment made by the engine's installer", () => {
  let pvcBefore: Pvc;
  let marker: string | undefined;

  it("the installer's tree is deployed: its claim is bound (a marker file goes onto its volume)", async () => {
    pvcBefore = await waitFor("the installer's claim to be bound", async () => {
      const p = await kubectlJson<Pvc>(["get", "pvc", "postgres-data", "-n", ns]);
      return p.status.phase === "Bound" ? p : undefined;
    });
    const pv = await kubectlJson<{ spec: { hostPath?: { path: string } } }>(["get", "pv", pvcBefore.spec.volumeName]);
    const dir = pv.spec.hostPath?.path;
    // The local cluster's default StorageClass is kubernetes.io/host-path: the volume is a
    // directory on this machine, so data can be put on it without a running container.
    expect(dir, "the local cluster's volumes are host-path directories").toBeDefined();
    marker = path.join(dir!, "pgdata", "adopt-marker");
    mkdirSync(path.dirname(marker), { recursive: true });
    writeFileSync(marker, "written by the installer's postgres\n");
  });

  it("refuses a tree that is incomplete, or that is not what the cluster holds, and changes nothing", async () => {
    const before = await snapshot();
    const incomplete = variant("incomplete", "pvc/postgres.yml", (t) => t);
    rmSync(path.join(incomplete, "pvc/postgres.yml"));
    const r1 = await cli(["adopt", "--from", incomplete, "--create"]);
    expect(r1.code).toBe(1);
    expect(errorOf(r1.doc)).toMatch(/pvc\/postgres\.yml is missing.*Fix:/s);

    // AUTH_SECRET changed in the tree (in both files that hold it), not in the cluster.
    const stale = variant("stale", "secret/engine.yml", (t) => t.replace(generated.authSecret, "an-auth-secret-the-cluster-does-not-hold"));
    writeFileSync(path.join(stale, "secret/command-center.yml"), readFileSync(path.join(stale, "secret/command-center.yml"), "utf8").replace(generated.authSecret, "an-auth-secret-the-cluster-does-not-hold"));
    const r2 = await cli(["adopt", "--from", stale, "--create"]);
    expect(r2.code).toBe(1);
    expect(errorOf(r2.doc)).toContain(`secret/engine.yml: AUTH_SECRET is not what Secret ${ns}/engine holds in the cluster`);
    expect(JSON.stringify(r2.doc) + r2.log).not.toContain("an-auth-secret-the-cluster-does-not-hold");
    expect(await snapshot()).toEqual(before);
  });

  it("adopt --dry-run says what would happen, prints no secret value and changes nothing", async () => {
    const before = await snapshot();
    const r = await cli(["adopt", "--from", tree, "--dry-run", "--create"]);
    expect(r.code, r.log.slice(-3000)).toBe(0);
    const report = (r.doc as unknown as { adopt: { dryRun: boolean; config: { key: string; secret: boolean; value?: string }[]; imported: { object: string }[]; deleted: { object: string; state: string }[] } }).adopt;
    expect(report.dryRun).toBe(true);
    for (const key of Object.keys(GENERATED)) expect(report.config).toContainEqual(expect.objectContaining({ key: `agent-platform:${key}`, secret: true }));
    expect(report.config.filter((c) => c.secret).every((c) => c.value === undefined)).toBe(true);
    expect(report.imported.map((i) => i.object)).toEqual([`Namespace ${ns}`, `PersistentVolumeClaim ${ns}/postgres-data`]);
    expect(report.deleted).toContainEqual({ object: `Deployment ${ns}/postgres`, file: "deployment/postgres.yml", replacedBy: `Deployment ${INSTANCE}-postgres (on the same claim)`, state: "would delete" });
    const printed = JSON.stringify(r.doc) + r.log;
    for (const v of Object.values(generated)) expect(printed).not.toContain(v);
    expect(await snapshot()).toEqual(before);
    // No config was saved on the (new, empty) stack.
    const file = existsSync(stackFile) ? readFileSync(stackFile, "utf8") : "";
    expect(file).not.toContain("agent-platform:");
  });

  it("adopt takes the namespace and the claim over and deletes the installer's other objects", async () => {
    const r = await cli(["adopt", "--from", tree]);
    expect(r.code, r.log.slice(-4000)).toBe(0);
    for (const v of Object.values(generated)) expect(JSON.stringify(r.doc) + r.log).not.toContain(v);
    // Saved encrypted: the stack file holds no value in clear text.
    const file = readFileSync(stackFile, "utf8");
    for (const v of Object.values(generated)) expect(file).not.toContain(v);
    expect(file).toMatch(/agent-platform:postgresPassword:\n\s+secure:/);
    // The installer's workloads and the rest are gone; the claim is the same object.
    const left = await kubectlJson<{ items: { kind: string; metadata: { name: string } }[] }>(["get", "deployments,services,configmaps,secrets,serviceaccounts,roles,rolebindings", "-n", ns]);
    expect(left.items.map((o) => `${o.kind} ${o.metadata.name}`).filter((n) => !/ServiceAccount default|ConfigMap kube-root-ca.crt/.test(n))).toEqual([]);
    const pvc = await kubectlJson<Pvc>(["get", "pvc", "postgres-data", "-n", ns]);
    expect(pvc.metadata.uid).toBe(pvcBefore.metadata.uid);
    expect(pvc.metadata.annotations?.["agent-platform.io/owned-by"]).toBe(`organization/agent-platform/${stack}`);
    // A second adopt refuses: the stack is no longer empty.
    const again = await cli(["adopt", "--from", tree]);
    expect(again.code).toBe(1);
    expect(errorOf(again.doc)).toMatch(/already has 2 resource\(s\).*adopt only fills an empty stack/s);
  });

  it("up deploys the stack on the same claim and volume, with the installer's five values; then no drift and no changes", async () => {
    const up = await cli(["up", "--yes"]);
    expect(up.code, up.log.slice(-4000)).toBe(0);
    // The imported namespace and claim are updated in place (labels, annotations), never replaced.
    const imported = up.doc.changes.filter((c) => ["platform-namespaces-workloads", "platform-postgres-data"].includes(c.name));
    expect(imported.map((c) => [c.name, c.op])).toEqual([["platform-namespaces-workloads", "update"], ["platform-postgres-data", "update"]]);

    const pvc = await kubectlJson<Pvc>(["get", "pvc", "postgres-data", "-n", ns]);
    expect(pvc.metadata.uid).toBe(pvcBefore.metadata.uid);
    expect(pvc.spec.volumeName).toBe(pvcBefore.spec.volumeName);
    expect(readFileSync(marker!, "utf8")).toBe("written by the installer's postgres\n");
    const pg = await kubectlJson<{ spec: { template: { spec: { volumes: { persistentVolumeClaim?: { claimName: string } }[]; containers: { env: { name: string; value?: string }[] }[] } } } }>([
      "get", "deployment", `${INSTANCE}-postgres`, "-n", ns,
    ]);
    expect(pg.spec.template.spec.volumes.map((v) => v.persistentVolumeClaim?.claimName).filter(Boolean)).toEqual(["postgres-data"]);
    expect(pg.spec.template.spec.containers[0].env.find((e) => e.name === "PGDATA")?.value).toBe("/var/lib/postgresql/data/pgdata");

    const engine = await secretData(`${INSTANCE}-engine`);
    expect(engine).toMatchObject({
      DB_PASSWORD: generated.postgresPassword,
      CREDENTIAL_ENCRYPTION_KEY: generated.credentialEncryptionKey,
      ENGINE_API_KEY: generated.engineApiKey,
      AUTH_SECRET: generated.authSecret,
      LOG_ENCRYPTION_KEY: generated.logEncryptionKey,
      ELASTICSEARCH_PASSWORD: fixtureValue("secret/engine.yml", "ELASTICSEARCH_PASSWORD"),
      AWS_SECRET_ACCESS_KEY: fixtureValue("secret/engine.yml", "AWS_SECRET_ACCESS_KEY"),
    });
    expect(await secretData(`${INSTANCE}-command-center`)).toMatchObject({ ENGINE_API_KEY: generated.engineApiKey, AUTH_SECRET: generated.authSecret });
    expect(await secretData(`${INSTANCE}-postgres`)).toEqual({ POSTGRES_PASSWORD: generated.postgresPassword });
    const license = await secretData(`${INSTANCE}-engine-license`);
    expect(Object.values(license)[0]).toContain("-----BEGIN PUBLIC KEY-----");

    const drift = await cli(["drift"]);
    expect(drift.code, JSON.stringify(drift.doc.changes)).toBe(0);
    const preview = await cli(["preview"]);
    expect(preview.code, JSON.stringify(preview.doc.changes)).toBe(0);
  });

  it("refuses another PostgreSQL major than the adopted claim records (it keeps the installer's name), changing nothing", async () => {
    const claim = await kubectlJson<{ metadata: { annotations?: Record<string, string> } }>(["get", "pvc", "postgres-data", "-n", ns]);
    expect(claim.metadata.annotations?.["agent-platform.io/postgres-major"]).toBe("16");
    const version = async () => (await kubectlJson<{ metadata: { resourceVersion: string } }>(["get", "deployment", `${INSTANCE}-postgres`, "-n", ns])).metadata.resourceVersion;
    const before = await version();
    const refused = await cli(["up", "--yes", "--config", "postgresImage=postgres:17"]);
    expect(refused.code).toBe(1);
    expect(`${refused.doc.error ?? ""}\n${refused.log}`).toMatch(new RegExp(`postgres:17" is PostgreSQL 17, but the data in claim ${ns}/postgres-data was last deployed with PostgreSQL 16`));
    expect(await version()).toBe(before);
  });
});
