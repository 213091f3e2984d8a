// A stack deployed by the previous release of this program (random-suffixed names, no owner
// annotations; run from a git worktree of that commit) is upgraded in place by this one: the
// generated secrets keep their values, the postgres claim, its volume and the data on it stay.
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { kubectlJson, upgradeFixture } from "./harness";

/** The last release before stable names and owner annotations. */
const PREVIOUS_RELEASE = "430b8fe";

// The previous release, driven through its own command line, as its users ran it.
const { backend, ns, previous, cli } = upgradeFixture(PREVIOUS_RELEASE, { stack: "it-upgrade", namespace: "upg" });

interface Pvc {
  metadata: { name: string; uid: string };
  spec: { volumeName: string };
}
interface Pv {
  spec: { hostPath?: { path: string } };
}

/** The engine Secret's data (it holds all five generated secrets), found by content, whatever its name. */
async function engineSecretData(): Promise<Record<string, string>> {
  const l = await kubectlJson<{ items: { type: string; data?: Record<string, string> }[] }>(["get", "secrets", "-n", ns, "-l", "app.kubernetes.io/component=engine"]);
  const found = l.items.find((s) => s.type === "Opaque" && s.data?.DB_PASSWORD !== undefined);
  if (!found?.data) throw new Error("no engine Secret with DB_PASSWORD");
  return found.data;
}

async function onlyPvc(): Promise<Pvc> {
  const l = await kubectlJson<{ items: Pvc[] }>(["get", "pvc", "-n", ns]);
  expect(l.items).toHaveLength(1);
  return l.items[0];
}

describe(`upgrade from ${PREVIOUS_RELEASE}`, () => {
  let secretsBefore: Record<string, string>;
  let pvcBefore: Pvc;
  let marker: string;

  it("the previous release deploys the stack", async () => {
    expect(await previous.up({ ...process.env, ...backend.env })).toBe("ok");
    const names = (await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "deployments", "-n", ns])).items.map((d) => d.metadata.name);
    // Random-suffixed, as that release named them.
    expect(names.some((n) => /^platform-engine-deployment-[0-9a-f]{8}$/.test(n))).toBe(true);
    secretsBefore = await engineSecretData();
    pvcBefore = await onlyPvc();
    expect(pvcBefore.metadata.name).toMatch(/^platform-postgres-data-[0-9a-f]{8}$/);
    // Data on the volume: a file in the host-path directory behind the claim's volume.
    const pv = await kubectlJson<Pv>(["get", "pv", pvcBefore.spec.volumeName]);
    const dir = pv.spec.hostPath?.path;
    expect(dir).toBeDefined();
    marker = path.join(dir!, "upgrade-marker");
    writeFileSync(marker, "written before the upgrade\n");
  });

  it("this release upgrades it: same secrets, same claim, same volume, same data, then no drift", async () => {
    previous.handOver(); // the stack file, with that stack's encryption salt
    const up = await cli(["up", "--yes"]);
    expect(up.code, up.log.slice(-4000)).toBe(0);
    // The PVC and the generated secrets were neither replaced nor deleted.
    const touched = up.doc.changes.filter((c) => /PersistentVolumeClaim|GeneratedSecretValue/.test(c.type) && c.op !== "same");
    // The rollout-checksum key is new in this release (created, from the auth secret's value).
    expect(touched.filter((c) => c.op !== "update" && !(c.op === "create" && c.name.endsWith("-rollout-key")))).toEqual([]);

    expect(await engineSecretData()).toEqual(secretsBefore);
    const pvc = await onlyPvc();
    expect(pvc.metadata.uid).toBe(pvcBefore.metadata.uid);
    expect(pvc.spec.volumeName).toBe(pvcBefore.spec.volumeName);
    expect(readFileSync(marker, "utf8")).toBe("written before the upgrade\n");
    const pg = await kubectlJson<{ spec: { template: { spec: { volumes: { persistentVolumeClaim?: { claimName: string } }[] } } } }>([
      "get", "deployment", "ai-2501-postgres", "-n", ns,
    ]);
    expect(pg.spec.template.spec.volumes.map((v) => v.persistentVolumeClaim?.claimName).filter(Boolean)).toEqual([pvcBefore.metadata.name]);
    // The other objects now have stable names; the random-suffixed ones are gone.
    const names = (await kubectlJson<{ items: { metadata: { name: string } }[] }>(["get", "deployments,configmaps", "-n", ns])).items.map((d) => d.metadata.name);
    expect(names.filter((n) => /-[0-9a-f]{8}$/.test(n))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(["ai-2501-engine", "ai-2501-command-center", "ai-2501-postgres"]));

    const drift = await cli(["drift"]);
    expect(drift.code, JSON.stringify(drift.doc.changes)).toBe(0);
    const again = await cli(["preview"]);
    expect(again.code, JSON.stringify(again.doc.changes)).toBe(0);
  });
});
