// rotate-secret on the real local cluster, through the CI command line as a pipeline runs it.
//
// Simulated nodes (the API server decides; no container runs): a stack deployed by the version
// before in-place rotation (its provider code, which replaced on rotation, is what the state
// holds) is upgraded by this one with nothing regenerated and no pod rolled; the refusals; then
// `rotate-secret engineApiKey`: a new value in the Secrets, the engine's and the command center's
// pod templates changed and postgres's not, still protected, the other four secrets unchanged,
// and a preview afterwards shows no changes.
//
// Real node (real PostgreSQL from Debian's packages on a real volume): `rotate-secret
// postgresPassword` changes the password inside the database; a real connection over TCP
// accepts the new password and rejects the old one, and rows written before are still there.
import { existsSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatedInState, type GeneratedInState } from "../../automation/rotate";
import { GENERATED_SECRET_NAMES, type GeneratedSecretName } from "../../config";
import { type CliResult, cliRunner, devStackFile, exportedState, kubectl, pulumiOn, kubectlJson, repoRoot, tempBackend, uniqueName, upgradeFixture, waitFor } from "./harness";
import { postgresPod, psqlIn, realNode, realNodeMissing, realNodeStorage } from "./realnode-harness";


/** The last commit before rotation became an in-place update (and before the rollout key). */
const BEFORE_IN_PLACE_ROTATION = "4d9f8b5";

const CHECKSUM = "agent-platform.io/config-checksum";
const DEPLOYMENTS = ["ai-2501-engine", "ai-2501-command-center", "ai-2501-postgres"] as const;

interface RotationDoc {
  secret: string;
  keeper: string;
  start: string;
  databasePod?: string;
  rolled: string[];
  protected: boolean;
}
const rotationOf = (r: CliResult) => (r.doc as unknown as { rotation?: RotationDoc }).rotation;

async function generatedSecrets(stack: string, env: Record<string, string>): Promise<Record<GeneratedSecretName, GeneratedInState>> {
  const state = await exportedState(stack, env, { showSecrets: true });
  const out = {} as Record<GeneratedSecretName, GeneratedInState>;
  for (const n of GENERATED_SECRET_NAMES) {
    const g = generatedInState(state, n);
    if (!g) throw new Error(`no generated ${n} in the state`);
    out[n] = g;
  }
  return out;
}

async function templateChecksums(ns: string): Promise<Record<string, string>> {
  const list = await kubectlJson<{ items: { metadata: { name: string }; spec: { template: { metadata: { annotations?: Record<string, string> } } } }[] }>([
    "get", "deployments", "-n", ns,
  ]);
  return Object.fromEntries(list.items.map((d) => [d.metadata.name, d.spec.template.metadata.annotations?.[CHECKSUM] ?? ""]));
}

async function secretValues(ns: string, name: string): Promise<Record<string, string>> {
  const s = await kubectlJson<{ data?: Record<string, string> }>(["get", "secret", name, "-n", ns]);
  return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}

function neverPrinted(r: CliResult, values: string[]): void {
  const text = JSON.stringify(r.doc) + r.log;
  for (const v of values) expect(text.includes(v), "a secret value was printed").toBe(false);
}

describe("rotate-secret on the simulated nodes", () => {
  // The previous version deploys from its own checkout, with this stack file.
  const { backend, stack, ns, stackFile, previous, cli } = upgradeFixture(BEFORE_IN_PLACE_ROTATION, { stack: "it-rotate", namespace: "rot" }, { IT_HAND_SET: "a-hand-set-auth-secret-value" });

  let before: Record<GeneratedSecretName, GeneratedInState>;
  let checksumsBefore: Record<string, string>;

  it("a stack deployed before in-place rotation upgrades with nothing regenerated and no pod rolled", async () => {
    // The previous version's own command line, on this stack file (it writes the encryption salt there).
    expect(await previous.up({ ...process.env, ...backend.env })).toBe("ok");
    // This version takes over the stack file (with the encryption salt the previous one wrote).
    previous.handOver();
    before = await generatedSecrets(stack, backend.env);
    checksumsBefore = await templateChecksums(ns);
    expect(Object.keys(checksumsBefore).sort()).toEqual([...DEPLOYMENTS].sort());

    const up = await cli(["up", "--yes"]);
    expect(up.code, up.log.slice(-4000)).toBe(0);
    // Of the generated values only the rollout key is new; no secret was regenerated, and every
    // pod template keeps its checksum (the key starts from the auth secret the checksums used).
    const generatedChanges = up.doc.changes.filter((c) => c.type.endsWith(":GeneratedSecretValue") && c.op !== "same").map((c) => `${c.op} ${c.name}`);
    expect(generatedChanges).toEqual(["create platform-secrets-rollout-key"]);
    expect(await generatedSecrets(stack, backend.env)).toEqual(before);
    expect(await templateChecksums(ns)).toEqual(checksumsBefore);
    const preview = await cli(["preview"]);
    expect(preview.code, JSON.stringify(preview.doc.changes)).toBe(0);
  });

  it("refuses a hand-set secret, an encryption key without --abandon-encrypted-data, and a stack with other pending changes", async () => {
    const handSet = await cli(["rotate-secret", "authSecret", "--secret-config", "authSecret=IT_HAND_SET"]);
    expect(handSet.code).toBe(1);
    expect(handSet.doc.error).toBeDefined();
    expect(JSON.stringify(handSet.doc.error)).toContain("agent-platform:authSecret is set by hand");
    expect(JSON.stringify(handSet.doc.error)).toContain("pulumi config rm agent-platform:authSecret");
    neverPrinted(handSet, ["a-hand-set-auth-secret-value"]);
    await pulumiOn(stack, backend.env)(["config", "rm", "agent-platform:authSecret"]);

    const key = await cli(["rotate-secret", "credentialEncryptionKey"]);
    expect(key.code).toBe(1);
    expect(JSON.stringify(key.doc.error)).toContain("--abandon-encrypted-data");

    // Another change pending (an image tag): nothing is rotated, nothing deployed.
    const pending = await cli(["rotate-secret", "engineApiKey", "--config", "imageTag=not-deployed"]);
    expect(pending.code).toBe(1);
    expect(JSON.stringify(pending.doc.error)).toMatch(/pending change\(s\) besides the rotation.*Nothing was rotated/);
    expect(await generatedSecrets(stack, backend.env)).toEqual(before);
    expect(await templateChecksums(ns)).toEqual(checksumsBefore);
    expect(readFileSync(stackFile, "utf8")).not.toContain("secretRotation");
    await pulumiOn(stack, backend.env)(["config", "set", "agent-platform:imageTag", "dev"]);
  });

  it("rotates engineApiKey: new value, engine and command center rolled, postgres not, still protected, the rest unchanged, then no changes", async () => {
    const engineBefore = await secretValues(ns, "ai-2501-engine");
    const r = await cli(["rotate-secret", "engineApiKey"]);
    expect(r.code, r.log.slice(-4000)).toBe(0);
    const rotation = rotationOf(r);
    expect(rotation).toMatchObject({ secret: "engineApiKey", start: "fresh", protected: true });
    expect(rotation?.rolled).toEqual(["platform-command-center-deployment", "platform-engine-deployment"]);

    // The value changed in both Secrets that hold it, and nowhere else.
    const engine = await secretValues(ns, "ai-2501-engine");
    const commandCenter = await secretValues(ns, "ai-2501-command-center");
    expect(engine.ENGINE_API_KEY).not.toBe(engineBefore.ENGINE_API_KEY);
    expect(engine.ENGINE_API_KEY).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(commandCenter.ENGINE_API_KEY).toBe(engine.ENGINE_API_KEY);
    for (const k of ["DB_PASSWORD", "CREDENTIAL_ENCRYPTION_KEY", "AUTH_SECRET", "LOG_ENCRYPTION_KEY"]) expect(engine[k], k).toBe(engineBefore[k]);

    // The pod templates of exactly the two workloads that read it changed.
    const checksums = await templateChecksums(ns);
    expect(checksums["ai-2501-engine"]).not.toBe(checksumsBefore["ai-2501-engine"]);
    expect(checksums["ai-2501-command-center"]).not.toBe(checksumsBefore["ai-2501-command-center"]);
    expect(checksums["ai-2501-postgres"]).toBe(checksumsBefore["ai-2501-postgres"]);

    // State: the new value under the recorded keeper, still protected; the other four untouched.
    const after = await generatedSecrets(stack, backend.env);
    expect(after.engineApiKey.value).toBe(engine.ENGINE_API_KEY);
    expect(after.engineApiKey.rotation).toBe(rotation?.keeper);
    expect(after.engineApiKey.protect).toBe(true);
    expect(after.engineApiKey.urn).toBe(before.engineApiKey.urn);
    for (const n of GENERATED_SECRET_NAMES.filter((x) => x !== "engineApiKey")) expect(after[n], n).toEqual(before[n]);
    // Config and state agree: the keeper is in the stack file, and nothing is pending.
    expect(rotation?.keeper).toMatch(/^rotated-/);
    expect(readFileSync(stackFile, "utf8")).toContain(`engineApiKey: ${rotation?.keeper}`);
    neverPrinted(r, [engineBefore.ENGINE_API_KEY, engine.ENGINE_API_KEY]);

    const preview = await cli(["preview"]);
    expect(preview.code, JSON.stringify(preview.doc.changes)).toBe(0);
  });
});

const missing = realNodeMissing();

describe.skipIf(missing !== "")(`rotate-secret postgresPassword on the real node${missing ? ` (skipped: ${missing})` : ""}`, () => {
  const backend = tempBackend();
  const stack = uniqueName("it-rotate-pg");
  const ns = uniqueName("rotpg");
  const storage = realNodeStorage(ns, { volumes: ["pgdata"], apps: ["postgres"] });
  const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);
  const cli = cliRunner(stack, () => ({ ...process.env, ...backend.env }));

  /**
   * A real password login: psql over TCP (SCRAM-SHA-256 against the server's stored verifier),
   * the password on stdin, never in argv.
   */
  const loginOverTcp = async (pod: string, password: string) => {
    const r = await kubectl(
      ["exec", "-i", "-n", ns, pod, "--", "sh", "-c", 'read -r PGPASSWORD; export PGPASSWORD; exec psql -X -h 127.0.0.1 -U engine -d engine -tA -c "SELECT v FROM proof"'],
      { input: `${password}\n` },
    );
    return { code: r.code, out: (r.stdout + r.stderr).trim() };
  };

  beforeAll(async () => {
    const n = realNode();
    devStackFile(stack, { namespace: ns, postgresImage: n.images.postgres, postgresStorageClass: storage.storageClass });
    // Storage on the real node, and a policy that puts postgres there (realnode-harness.ts).
    await storage.create();
  });

  afterAll(async () => {
    try {
      await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
    } finally {
      await kubectl(["delete", "pvc", "--all", "-n", ns, "--wait=false"]);
      await kubectl(["delete", "namespace", ns, `${ns}-sandbox`, "--wait=false", "--ignore-not-found"]);
      await storage.remove();
      if (existsSync(stackFile)) rmSync(stackFile);
      backend.remove();
    }
  });

  it("changes the password inside the database first: the new one logs in, the old one is rejected, the data stays", async () => {
    const up = await cli(["up", "--create", "--yes"]);
    expect(up.code, up.log.slice(-4000)).toBe(0);
    const first = await postgresPod(ns);
    expect((await psqlIn(ns, first, "CREATE TABLE proof (v text); INSERT INTO proof VALUES ('written before the rotation')")).code).toBe(0);
    const oldPassword = (await secretValues(ns, "ai-2501-postgres")).POSTGRES_PASSWORD;
    expect(await loginOverTcp(first, oldPassword)).toEqual({ code: 0, out: "written before the rotation" });
    const checksumsBefore = await templateChecksums(ns);

    const r = await cli(["rotate-secret", "postgresPassword"]);
    expect(r.code, r.log.slice(-4000)).toBe(0);
    const rotation = rotationOf(r);
    expect(rotation).toMatchObject({ secret: "postgresPassword", start: "fresh", databasePod: first, protected: true });
    expect(rotation?.rolled).toEqual(["platform-engine-deployment", "platform-postgres-deployment"]);
    // The order: the database was changed before the up that gave the Secrets the new value.
    expect(r.log.indexOf("inside the database")).toBeGreaterThan(-1);
    expect(r.log.indexOf("inside the database")).toBeLessThan(r.log.indexOf("rotate-secret: up ("));

    const newPassword = (await secretValues(ns, "ai-2501-postgres")).POSTGRES_PASSWORD;
    expect(newPassword).not.toBe(oldPassword);
    expect((await secretValues(ns, "ai-2501-engine")).DB_PASSWORD).toBe(newPassword);
    const checksums = await templateChecksums(ns);
    expect(checksums["ai-2501-engine"]).not.toBe(checksumsBefore["ai-2501-engine"]);
    expect(checksums["ai-2501-postgres"]).not.toBe(checksumsBefore["ai-2501-postgres"]);
    expect(checksums["ai-2501-command-center"]).toBe(checksumsBefore["ai-2501-command-center"]);
    neverPrinted(r, [oldPassword, newPassword]);

    // The rolled postgres pod, on the same volume: real logins over TCP.
    const second = await waitFor("the rolled postgres pod", async () => {
      const p = await postgresPod(ns);
      return p !== first ? p : undefined;
    }, 180_000);
    expect(await loginOverTcp(second, newPassword)).toEqual({ code: 0, out: "written before the rotation" });
    const old = await loginOverTcp(second, oldPassword);
    expect(old.code).not.toBe(0);
    expect(old.out).toMatch(/password authentication failed for user "engine"/);
    // The server stores a SCRAM verifier, never the password.
    const stored = await psqlIn(ns, second, "SELECT rolpassword FROM pg_authid WHERE rolname = 'engine'");
    expect(stored.out).toMatch(/^SCRAM-SHA-256\$4096:/);
    expect(stored.out).not.toContain(newPassword);

    const preview = await cli(["preview"]);
    expect(preview.code, JSON.stringify(preview.doc.changes)).toBe(0);
  });
});
