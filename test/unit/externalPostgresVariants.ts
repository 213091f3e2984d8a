// AgentPlatform under mocks with an external PostgreSQL (externalPostgres): no postgres object is
// registered, what is registered equals what the ownership check reads, the engine is pointed at
// the external database with its password as a secret; and the program refuses, before anything is
// registered, to switch a stack whose in-cluster PostgreSQL still exists unless the data is said
// to be migrated.
//
// Not a test file of its own: program.test.ts calls `externalPostgresVariantTests()` in its runtime.
import * as crypto from "crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, expect, it } from "vitest";
import { type PlainKey, type PlatformConfig, validateConfig } from "../../config";
import { registered, settle, valueOf, type Registered } from "./harness";

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
type Obj = Record<string, unknown>;
const DB_PASSWORD = "external-database-password";
const EXTERNAL = '{"host":"db.example.com","port":6432,"database":"agents","user":"agent_engine","sslMode":"verify-full"}';

function config(values: Partial<Record<PlainKey, string>>): PlatformConfig {
  const v = validateConfig({
    values: { imageTag: "1.0.0", publicUrl: "https://agents.example.com", licensePublicKey: PEM, ...values },
    secretsSet: { externalPostgresPassword: true },
  });
  return { ...v, secrets: { externalPostgresPassword: pulumi.secret(DB_PASSWORD), overrides: {} } };
}

const C = config({ instanceName: "xp", namespace: "xp", externalPostgres: EXTERNAL });
const of = (prefix: string) => registered.filter((r) => r.name === prefix || r.name.startsWith(`${prefix}-`));
const byName = (name: string): Registered => {
  const r = registered.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}`);
  return r;
};
const ref = (r: Registered) => `${r.type.split(":")[2]} ${((r.inputs.metadata as Obj).namespace as string | undefined) ?? ""}/${(r.inputs.metadata as Obj).name as string}`;

export function externalPostgresVariantTests(): void {
  let serviceName: pulumi.Output<string | null>;
  beforeAll(async () => {
    const { AgentPlatform } = await import("../../components/agentPlatform");
    const p = new AgentPlatform("xp", { config: C }, { providers: [new k8s.Provider("k8s-external", {})] });
    serviceName = p.postgresServiceName;
    await settle();
  });

  it("registers no postgres object, and exactly what the ownership check reads", async () => {
    const { plannedObjects } = await import("../../components/builders/inventory");
    const objects = of("xp").filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch")).map(ref).sort();
    expect(objects).toEqual(plannedObjects(C).map((o) => `${o.kind} ${o.namespace ?? ""}/${o.name}`).sort());
    expect(objects.filter((o) => /postgres/.test(o))).toEqual([]);
    expect(of("xp").filter((r) => r.type.startsWith("agent-platform:index:Postgres"))).toEqual([]);
    // The generated password stays (protected), so switching back finds the same one.
    expect(of("xp-secrets").map((r) => r.name)).toContain("xp-secrets-postgres-password");
    expect(await valueOf(serviceName)).toBeNull();
  });

  it("points the engine at the external database: DB_* and PGSSLMODE in its ConfigMap, the password as a secret in its Secret", () => {
    const data = byName("xp-engine-config").inputs.data as Record<string, string>;
    expect(data).toMatchObject({ DB_HOST: "db.example.com", DB_PORT: "6432", DB_NAME: "agents", DB_USER: "agent_engine", PGSSLMODE: "verify-full" });
    const secret = byName("xp-engine-secret");
    expect(Buffer.from((secret.inputs.data as Record<string, string>).DB_PASSWORD, "base64").toString()).toBe(DB_PASSWORD);
    expect(secret.secretPaths).toContain("data");
    const container = ((((byName("xp-engine-deployment").inputs.spec as Obj).template as Obj).spec as Obj).containers as Obj[])[0];
    expect(container.env).toContainEqual({ name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: "xp-engine", key: "DB_PASSWORD" } } });
    expect(container.env).toContainEqual({ name: "PGSSLMODE", valueFrom: { configMapKeyRef: { name: "xp-engine", key: "PGSSLMODE" } } });
  });

  it("drops the postgres NetworkPolicy (no postgres pods) and keeps the others", () => {
    const policies = of("xp-sandbox").filter((r) => r.type === "kubernetes:networking.k8s.io/v1:NetworkPolicy").map((r) => (r.inputs.metadata as Obj).name);
    expect(policies.sort()).toEqual(["xp-default-deny-ingress", "xp-engine-ingress", "xp-executor-deny-all", "xp-executor-egress"]);
  });

  it("fails with the fix when the password is missing (a config built without it)", async () => {
    const { AgentPlatform } = await import("../../components/agentPlatform");
    expect(() => new AgentPlatform("xq", { config: { ...C, secrets: { overrides: {} } } })).toThrow(/externalPostgres is set without its password: pulumi config set --secret externalPostgresPassword/);
  });

  it("refuses to switch a stack whose in-cluster postgres still exists, before registering anything; goes through once the data is said to be migrated", async () => {
    const owner = "organization/agent-platform/dev";
    const inCluster = async (r: { kind: string; name: string }) =>
      (r.kind === "Deployment" && r.name === "ai-2501-postgres") || (r.kind === "PersistentVolumeClaim" && r.name === "ai-2501-postgres-data")
        ? { annotations: { "agent-platform.io/owned-by": owner } }
        : undefined;
    const v136 = async () => ({ major: 1, minor: 36, gitVersion: "v1.36.0" });
    const stackConfig = (external: string) =>
      pulumi.runtime.setAllConfig(
        {
          "agent-platform:imageTag": "dev",
          "agent-platform:publicUrl": "http://localhost:8080",
          "agent-platform:licensePublicKey": PEM,
          "agent-platform:externalPostgres": external,
          "agent-platform:externalPostgresPassword": DB_PASSWORD,
        },
        ["agent-platform:externalPostgresPassword"],
      );
    stackConfig('{"host":"10.20.30.40","database":"engine","user":"engine"}');
    const main = (await import("../../index")).default;
    await settle();
    const before = registered.length;
    const error = await main({ read: inCluster, serverVersion: v136 }).then(() => undefined, (e: unknown) => e);
    expect(String(error)).toMatch(/Nothing was changed: agent-platform:externalPostgres is set, but this stack still has its in-cluster PostgreSQL \(Deployment ai-2501\/ai-2501-postgres, PersistentVolumeClaim ai-2501\/ai-2501-postgres-data\)/);
    expect(String(error)).toContain(
      "pulumi state unprotect 'urn:pulumi:dev::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:Postgres$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data'",
    );
    expect(String(error)).toContain("pulumi config set --path externalPostgres.inClusterDataMigrated true");
    await settle();
    expect(registered.length).toBe(before);
    // Another stack's postgres of the same name is not this stack's data: not in the way.
    const others = async (r: { kind: string; name: string }) => ((await inCluster(r)) ? { annotations: { "agent-platform.io/owned-by": "organization/agent-platform/other" } } : undefined);
    // (The ownership check does not read these objects in external mode, so only this check could refuse.)
    await expect(main({ read: others, serverVersion: v136 })).resolves.toBeDefined();
    stackConfig('{"host":"10.20.30.40","database":"engine","user":"engine","inClusterDataMigrated":true}');
    await expect(main({ read: inCluster, serverVersion: v136 })).resolves.toBeDefined();
    await settle();
  });
}
