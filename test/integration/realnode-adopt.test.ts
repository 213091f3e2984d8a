// adopt with a real database (docs/adopt.md): the installer's tree deployed with its postgres
// running for real on the real node (the image built here, on a local volume there), rows written
// through it, then `adopt` and `up`: the program's own postgres Deployment starts on the
// installer's data directory (no initdb), the rows are there, and the installer's password (the
// one adopt moved into the stack's config) is what the database accepts over TCP.
// The tree is the fixture's (test/integration/fixtures/installer), edited as if the installer had
// been run with this cluster's postgres image, StorageClass and a 1Gi claim.
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliRunner, kubeconfig, kubectl, kubectlJson, kubectlOk, repoRoot, tempBackend, uniqueName, waitFor } from "./harness";
import { applyInstallerTree, copyInstallerTree, generatedValues, INSTANCE } from "./installer-fixture";
import { execIn, pod, postgresPod, psqlIn, realNode, realNodeMissing, realNodeStorage } from "./realnode-harness";

const missing = realNodeMissing();
const backend = tempBackend();
const stack = uniqueName("it-radopt");
const ns = uniqueName("radopt");
const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);
const work = mkdtempSync(path.join(os.tmpdir(), "ap-radopt-"));
const tree = path.join(work, "kubernetes");
const storage = realNodeStorage(ns, { volumes: ["pgdata"], apps: ["postgres"] });
const cli = cliRunner(stack, () => ({ ...process.env, ...backend.env }));
const generated = generatedValues();
const POSTGRES_UID = 999;

describe.skipIf(missing !== "")(`adopt of an installer deployment whose postgres runs on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    process.env.KUBECONFIG = kubeconfig();
    await storage.create();
    // The official postgres image's entry point starts as root and hands the data directory to
    // its postgres user; this project's image runs as that user (999) from the start, so the
    // volume is handed over here, as the installer's cluster would have it after its first start.
    chownSync(storage.volumeDir("pgdata"), POSTGRES_UID, POSTGRES_UID);
    const n = realNode();
    copyInstallerTree(tree, ns, (file, text) => {
      if (file === path.join("deployment", "postgres.yml")) return text.replace(/image: postgres:16$/m, `image: ${n.images.postgres}`);
      // The real node's local volumes hold 2Gi (realNodeStorage).
      if (file === path.join("pvc", "postgres.yml")) return text.replace(/^spec:$/m, `spec:\n  storageClassName: ${storage.storageClass}`).replace(/storage: 10Gi$/m, "storage: 1Gi");
      return text;
    });
    await applyInstallerTree(tree);
  }, 180_000);

  afterAll(async () => {
    try {
      if (existsSync(stackFile)) await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
    } finally {
      await kubectl(["delete", "pvc", "--all", "-n", ns, "--wait=false"]);
      await kubectl(["delete", "namespace", ns, `${ns}-sandbox`, "--wait=false", "--ignore-not-found"]);
      await storage.remove();
      rmSync(stackFile, { force: true });
      rmSync(work, { recursive: true, force: true });
      backend.remove();
    }
  });

  let installerPod = "";

  it("the installer's postgres initialises its volume on the real node; rows are written", async () => {
    installerPod = await postgresPod(ns);
    expect((await pod(ns, installerPod)).spec.nodeName).toBe(realNode().name);
    // The installer's Deployment has no readiness probe: its pod is "ready" while initdb still runs.
    await waitFor("the installer's postgres to finish initdb", async () =>
      (await kubectlOk(["logs", "-n", ns, installerPod])).includes("initialised /var/lib/postgresql/data/pgdata (database engine, user engine)") ? true : undefined, 120_000);
    const w = await waitFor("the installer's postgres to take a write", async () => {
      const r = await psqlIn(ns, installerPod, "CREATE TABLE agents (name text); INSERT INTO agents VALUES ('written under the installer')");
      return r.code === 0 ? r : undefined;
    }, 60_000);
    expect(w.out).toContain("INSERT 0 1");
  });

  it("adopt and up: the program's postgres starts on the installer's data, keeps the rows and accepts the installer's password", async () => {
    const adopt = await cli(["adopt", "--from", tree, "--create"]);
    expect(adopt.code, adopt.log.slice(-4000)).toBe(0);
    const up = await cli(["up", "--yes"]);
    expect(up.code, up.log.slice(-4000)).toBe(0);

    const programPod = await postgresPod(ns);
    expect(programPod).not.toBe(installerPod);
    const p = await pod(ns, programPod);
    expect(p.spec.nodeName).toBe(realNode().name);
    expect(p.metadata.labels?.["app.kubernetes.io/instance"]).toBe(INSTANCE);
    const logs = await kubectlOk(["logs", "-n", ns, programPod]);
    expect(logs).not.toContain("initialised");
    expect((await psqlIn(ns, programPod, "SELECT name FROM agents")).out).toBe("written under the installer");
    // Over TCP (scram-sha-256, as the engine connects) the installer's password is accepted.
    const tcp = (pw: string) => execIn(ns, programPod, ["env", `PGPASSWORD=${pw}`, "psql", "-h", "127.0.0.1", "-U", "engine", "-d", "engine", "-tA", "-c", "SELECT 'authenticated'"]);
    expect((await tcp(generated.postgresPassword)).out).toBe("authenticated");
    expect((await tcp(`${generated.postgresPassword}-not`)).code).not.toBe(0);
    // The stack's Secret for postgres holds that same password (saved encrypted by adopt).
    const secret = await kubectlJson<{ data: Record<string, string> }>(["get", "secret", `${INSTANCE}-postgres`, "-n", ns]);
    expect(Buffer.from(secret.data.POSTGRES_PASSWORD, "base64").toString()).toBe(generated.postgresPassword);
    expect(readFileSync(stackFile, "utf8")).not.toContain(generated.postgresPassword);

    const drift = await cli(["drift"]);
    expect(drift.code, JSON.stringify(drift.doc.changes)).toBe(0);
  });
});
