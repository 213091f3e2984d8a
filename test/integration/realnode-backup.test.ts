// The backup and restore procedure, for real, on the real node (docs/backup-restore.md,
// docs/real-node.md): the program's stack with backups on, postgres (the image built here from
// Debian's packages: pg_dump and pg_restore included) and the backup CronJob's Jobs running on the
// real node, where kube-router enforces the program's NetworkPolicies. The test runs
// scripts/postgres-backup.sh, the procedure operators run, unchanged:
//  rows written -> `backup` (a Job from the CronJob: the scheduled run's own command) -> `list`
//  shows a non-empty dump -> rows changed and deleted -> `restore latest` -> the rows are back,
//  and the engine and command center were scaled to 0 and back to their replica counts.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../automation/cli-main";
import { kubeconfig, kubectl, kubectlJson, kubectlOk, repoRoot, tempBackend, uniqueName } from "./harness";
import { postgresPod, psqlIn, realNode, realNodeMissing, realNodeStorage } from "./realnode-harness";

const missing = realNodeMissing();
const stack = uniqueName("it-backup");
const ns = uniqueName("apb");
const instance = "bk";
// The data claim and the backup claim share the StorageClass (postgresStorageClass).
const storage = realNodeStorage(ns, { volumes: ["pgdata", "pgbackup"], apps: ["postgres", "postgres-backup"] });
const backend = tempBackend();
const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);

async function platform(args: string[]): Promise<{ code: number; doc: { status: string }; log: string }> {
  let out = "";
  let err = "";
  const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } };
  const code = await run([...args, "--stack", stack, "--json", "--retries", "0"], io, { env: { ...process.env, ...backend.env } });
  try {
    return { code, doc: JSON.parse(out) as { status: string }, log: err };
  } catch {
    throw new Error(`platform ${args.join(" ")} printed no JSON document (exit ${code}):\n${err.slice(-3000)}`);
  }
}

/** scripts/postgres-backup.sh as an operator runs it, against the test cluster. */
function procedure(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      "bash",
      [path.join(repoRoot, "scripts/postgres-backup.sh"), "-n", ns, "-i", instance, ...args],
      { env: { ...process.env, POSTGRES_BACKUP_TIMEOUT: "240", KUBECONFIG: kubeconfig(), PATH: `${path.join(repoRoot, ".local/bin")}:${process.env.PATH ?? ""}` }, timeout: 600_000 },
      (e, stdout, stderr) => resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, out: String(stdout), err: String(stderr) }),
    );
  });
}


const psql = async (sql: string) => {
  const r = await psqlIn(ns, await postgresPod(ns), sql);
  if (r.code !== 0) throw new Error(`psql failed: ${r.out}`);
  return r.out;
};

describe.skipIf(missing !== "")(`backup and restore of the in-cluster postgres on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  beforeAll(async () => {
    const dev = readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8").replace(/^encryptionsalt:.*$/m, "");
    writeFileSync(stackFile, dev);
    await storage.create();
  });

  afterAll(async () => {
    try {
      await platform(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
    } finally {
      await kubectl(["delete", "jobs,pvc", "--all", "-n", ns, "--wait=false"]);
      await kubectl(["delete", "namespace", ns, `${ns}-sandbox`, "--wait=false", "--ignore-not-found"]);
      await storage.remove();
      if (existsSync(stackFile)) rmSync(stackFile);
      backend.remove();
    }
  });

  it("an up with backups on runs postgres on the real node; rows are written", async () => {
    const n = realNode();
    const { code, doc, log } = await platform([
      "up", "--create", "--yes",
      "--config", `namespace=${ns}`,
      "--config", `instanceName=${instance}`,
      "--config", `postgresImage=${n.images.postgres}`,
      "--config", `postgresStorageClass=${storage.storageClass}`,
      // Never due during the test: the procedure starts its Jobs from the CronJob.
      "--config", "postgresBackupSchedule=0 0 1 1 *",
      "--config", "postgresBackupStorageSize=1Gi",
    ]);
    expect(doc.status, log.slice(-4000)).toBe("ok");
    expect(code).toBe(0);
    await psql("CREATE TABLE proof (id int PRIMARY KEY, v text); INSERT INTO proof VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    expect(await psql("SELECT count(*) FROM proof")).toBe("3");
  });

  it("backup: a Job from the CronJob writes a non-empty dump on the backup claim, on the real node, through the NetworkPolicies", async () => {
    // The real node has no cluster DNS (docs/real-node.md), and the CronJob's PGHOST is the
    // postgres Service's name: the test sets it to the Service's ClusterIP, the address DNS would
    // resolve the name to, so traffic still goes through kube-proxy and the NetworkPolicies.
    // (Adding an /etc/hosts entry with a MutatingAdmissionPolicy instead made this API server
    // fail the pod create with an internal error.)
    const clusterIp = (await kubectlJson<{ spec: { clusterIP: string } }>(["get", "service", `${instance}-postgres`, "-n", ns])).spec.clusterIP;
    await kubectlOk(["set", "env", `cronjob/${instance}-postgres-backup`, "-n", ns, `PGHOST=${clusterIp}`]);
    const r = await procedure(["backup"]);
    expect(r.code, r.err).toBe(0);
    const written = /backup written: \/backup\/(engine-\d{8}T\d{6}Z\.dump) \((\d+) bytes\)/.exec(r.out);
    expect(written, r.out).not.toBeNull();
    expect(Number(written?.[2])).toBeGreaterThan(0);
    // The Job's pod ran on the real node (a real pg_dump), not on a simulated one.
    const pods = await kubectlJson<{ items: { spec: { nodeName: string } }[] }>(["get", "pods", "-n", ns, "-l", "app.kubernetes.io/name=postgres-backup"]);
    expect(pods.items.map((p) => p.spec.nodeName)).toContain(realNode().name);
    const list = await procedure(["list"]);
    expect(list.code, list.err).toBe(0);
    const line = list.out.split("\n").find((l) => l.endsWith(written?.[1] ?? "?"));
    expect(line, list.out).toBeDefined();
    expect(Number(line?.trim().split(/\s+/)[4])).toBeGreaterThan(0);
  });

  it("restore latest: after rows were changed and deleted, they are back; the engine was stopped meanwhile and runs again", async () => {
    await psql("UPDATE proof SET v = 'changed' WHERE id = 1; DELETE FROM proof WHERE id = 2; INSERT INTO proof VALUES (4, 'after the backup')");
    expect(await psql("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM proof")).toBe("1=changed,3=three,4=after the backup");
    const r = await procedure(["restore", "latest"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/restored \/backup\/engine-\d{8}T\d{6}Z\.dump/);
    expect(r.err).toContain(`scaling ${instance}-engine and ${instance}-command-center to 0`);
    expect(await psql("SELECT string_agg(id || '=' || v, ',' ORDER BY id) FROM proof")).toBe("1=one,2=two,3=three");
    for (const d of [`${instance}-engine`, `${instance}-command-center`]) {
      const dep = await kubectlJson<{ spec: { replicas: number } }>(["get", "deployment", d, "-n", ns]);
      expect(dep.spec.replicas, d).toBe(1);
    }
  });

  it("a restore of a file that is not there fails, changes nothing, and brings the engine back", async () => {
    const r = await procedure(["restore", "engine-19700101T000000Z.dump"]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/no dump engine-19700101T000000Z\.dump in \/backup/);
    expect(await psql("SELECT count(*) FROM proof")).toBe("3");
    const dep = await kubectlJson<{ spec: { replicas: number } }>(["get", "deployment", `${instance}-engine`, "-n", ns]);
    expect(dep.spec.replicas).toBe(1);
    // A name that is not a dump's is refused before anything is done.
    const bad = await procedure(["restore", "../etc/passwd"]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("restore needs a dump's file name");
  });
});
