// rotate-secret without a cluster: its usage rules, how it reads the state and the config, where a
// re-run resumes, and the SCRAM-SHA-256 verifier it sets inside PostgreSQL (checked against RFC
// 7677's example exchange and against verifiers PostgreSQL 15 itself computed).
import { createHash, createHmac } from "node:crypto";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { UsageError, parseArgs } from "../../../automation/args";
import {
  GENERATED_SECRET_TYPE,
  configuredKeeper,
  generatedInState,
  handSet,
  handSetMessage,
  newKeeper,
  postgresInState,
  revealed,
  rolledDeployments,
  rotationStart,
} from "../../../automation/rotate";
import { alterRoleSql, formatVerifier, scramKeys, scramVerifier } from "../../../automation/scram";
import { exitCodeOf } from "../../../automation/postgres-access";

const usage = (argv: string[]): string => {
  try {
    parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  return "";
};

describe("rotate-secret usage", () => {
  it("takes one generated secret's name", () => {
    const o = parseArgs(["rotate-secret", "engineApiKey", "--stack", "dev"]);
    expect(o).toMatchObject({ command: "rotate-secret", argument: "engineApiKey", abandonEncryptedData: false, refresh: true });
    expect(usage(["rotate-secret", "--stack", "dev"])).toMatch(/needs the name of a generated secret, one of: postgresPassword, credentialEncryptionKey, engineApiKey, authSecret, logEncryptionKey/);
    expect(usage(["rotate-secret", "registryPassword", "--stack", "dev"])).toMatch(/"registryPassword" is not a generated secret/);
    expect(usage(["rotate-secret", "engineApiKey", "authSecret", "--stack", "dev"])).toBe('unexpected argument "authSecret"; rotate-secret takes one NAME');
    // Other commands still take no argument.
    expect(usage(["up", "engineApiKey", "--stack", "dev"])).toBe('unexpected argument "engineApiKey"; up takes only options');
  });

  it("refuses an encryption key without --abandon-encrypted-data, and says what is lost", () => {
    for (const key of ["credentialEncryptionKey", "logEncryptionKey"]) {
      const msg = usage(["rotate-secret", key, "--stack", "prod"]);
      expect(msg).toContain(`rotating ${key} makes`);
      expect(msg).toContain("unreadable for good");
      expect(msg).toContain("pass --abandon-encrypted-data");
      expect(parseArgs(["rotate-secret", key, "--stack", "prod", "--abandon-encrypted-data"]).abandonEncryptedData).toBe(true);
    }
    expect(usage(["rotate-secret", "credentialEncryptionKey", "--stack", "prod"])).toContain("credential");
    expect(usage(["rotate-secret", "logEncryptionKey", "--stack", "prod"])).toContain("log");
  });

  it("refuses the data-loss flag where no data is lost, and on other commands", () => {
    expect(usage(["rotate-secret", "engineApiKey", "--stack", "dev", "--abandon-encrypted-data"])).toMatch(/applies only to credentialEncryptionKey and logEncryptionKey/);
    expect(usage(["up", "--stack", "dev", "--abandon-encrypted-data"])).toBe("--abandon-encrypted-data does not apply to up; it is for: rotate-secret");
  });
});

const SIG = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };
const secretOut = (v: unknown) => ({ ...SIG, plaintext: JSON.stringify(v) });
const URN = "urn:pulumi:dev::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:GeneratedSecrets$pulumi-nodejs:dynamic/agent-platform:GeneratedSecretValue::platform-secrets-";
const PG = "urn:pulumi:dev::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:Postgres$";

function exported(resources: Record<string, unknown>[]): unknown {
  return { version: 3, deployment: { manifest: {}, resources } };
}

const generated = (role: string, value: string, rotation: string | undefined, protect = true) => ({
  urn: `${URN}${role}`,
  type: GENERATED_SECRET_TYPE,
  custom: true,
  protect,
  outputs: { bytes: 32, encoding: "base64url", ...(rotation === undefined ? {} : { rotation }), value: secretOut(value), __provider: "exports.handler = …" },
});

const postgresResources = [
  {
    urn: `${PG}kubernetes:apps/v1:Deployment::platform-postgres-deployment`,
    type: "kubernetes:apps/v1:Deployment",
    outputs: {
      metadata: { name: "ai-2501-postgres", namespace: "ai-2501" },
      spec: {
        selector: { matchLabels: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "ai-2501", "app.kubernetes.io/component": "database" } },
        template: { spec: { containers: [{ name: "postgres" }] } },
      },
    },
  },
  { urn: `${PG}kubernetes:core/v1:Secret::platform-postgres-secret`, type: "kubernetes:core/v1:Secret", outputs: { metadata: { name: "ai-2501-postgres", namespace: "ai-2501" }, data: secretOut({}) } },
];

describe("reading the state", () => {
  it("reveals secrets of a state exported with --show-secrets, and refuses an encrypted one", () => {
    expect(revealed(secretOut("s3cret"))).toBe("s3cret");
    expect(revealed(secretOut({ a: 1 }))).toEqual({ a: 1 });
    expect(revealed("plain")).toBe("plain");
    expect(() => revealed({ ...SIG, ciphertext: "v1:abc" })).toThrow(/encrypted secret/);
  });

  it("finds the generated secret by type and role, with its keeper, value and protection", () => {
    const state = exported([
      generated("engine-api-key", "key-one", "2026-01-01T00:00:00.000Z"),
      generated("auth-secret", "auth", undefined),
      generated("rollout-key", "rk", ""),
      { urn: "urn:pulumi:dev::agent-platform::kubernetes:core/v1:Secret::platform-secrets-engine-api-key", type: "kubernetes:core/v1:Secret" },
    ]);
    expect(generatedInState(state, "engineApiKey")).toEqual({ urn: `${URN}engine-api-key`, protect: true, rotation: "2026-01-01T00:00:00.000Z", value: "key-one" });
    // A state written before keepers existed: "" (never rotated).
    expect(generatedInState(state, "authSecret")?.rotation).toBe("");
    expect(generatedInState(state, "postgresPassword")).toBeUndefined();
    expect(generatedInState(exported([generated("auth-secret", "a", "", false)]), "authSecret")?.protect).toBe(false);
  });

  it("finds the in-cluster postgres: namespace, the Deployment's selector, container and Secret", () => {
    expect(postgresInState(exported(postgresResources))).toEqual({
      namespace: "ai-2501",
      selector: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "ai-2501", "app.kubernetes.io/component": "database" },
      container: "postgres",
      secretName: "ai-2501-postgres",
    });
    // No postgres deployed by this stack (or only half of it): none.
    expect(postgresInState(exported(postgresResources.slice(1)))).toBeUndefined();
    expect(postgresInState(exported([]))).toBeUndefined();
  });
});

describe("reading the config", () => {
  const config = (entries: Record<string, string>, secret: string[] = []): ConfigMap =>
    Object.fromEntries(Object.entries(entries).map(([k, value]) => [k, { value, secret: secret.includes(k) }]));

  it("reads the keeper from secretRotation (an object), '' when none", () => {
    const c = config({ "agent-platform:secretRotation": JSON.stringify({ engineApiKey: "k1" }) });
    expect(configuredKeeper(c, "engineApiKey")).toBe("k1");
    expect(configuredKeeper(c, "authSecret")).toBe("");
    expect(configuredKeeper(config({}), "authSecret")).toBe("");
    expect(() => configuredKeeper(config({ "agent-platform:secretRotation": "not json" }), "authSecret")).toThrow(/secretRotation is not an object/);
  });

  it("tells a hand-set secret, and its error names the key and both ways out", () => {
    const c = config({ "agent-platform:engineApiKey": "hand", "agent-platform:authSecret": "" }, ["agent-platform:engineApiKey"]);
    expect(handSet(c, "engineApiKey")).toBe(true);
    expect(handSet(c, "authSecret")).toBe(false);
    expect(handSet(c, "postgresPassword")).toBe(false);
    const msg = handSetMessage("engineApiKey", "prod");
    expect(msg).toContain("agent-platform:engineApiKey is set by hand in the config of stack prod");
    expect(msg).toContain("pulumi config set --secret agent-platform:engineApiKey <new value> --stack prod");
    expect(msg).toContain("pulumi config rm agent-platform:engineApiKey --stack prod");
    expect(handSetMessage("postgresPassword", "prod")).toContain("inside the database");
  });
});

describe("where a run starts", () => {
  it("fresh when state and config agree and the postgres Secret holds the state's value", () => {
    expect(rotationStart({ stateKeeper: "", configKeeper: "" })).toEqual({ kind: "fresh" });
    expect(rotationStart({ stateKeeper: "k1", configKeeper: "k1", liveSecretMatchesState: true })).toEqual({ kind: "fresh" });
    // A keeper removed from the config is not a pending rotation (the provider keeps the value).
    expect(rotationStart({ stateKeeper: "k1", configKeeper: "" })).toEqual({ kind: "fresh" });
  });

  it("resumes a keeper the config has and the state has not applied (a run stopped before or during its up)", () => {
    expect(rotationStart({ stateKeeper: "k1", configKeeper: "k2", liveSecretMatchesState: true })).toEqual({ kind: "resume-keeper", keeper: "k2" });
    expect(rotationStart({ stateKeeper: "k1", configKeeper: "k2", liveSecretMatchesState: false })).toEqual({ kind: "resume-keeper", keeper: "k2" });
  });

  it("resumes with the state's password when the postgres Secret does not hold it yet (a run stopped after generating it)", () => {
    expect(rotationStart({ stateKeeper: "k2", configKeeper: "k2", liveSecretMatchesState: false })).toEqual({ kind: "resume-database", keeper: "k2" });
  });

  it("makes a new keeper from the time, never the current one", () => {
    const now = new Date("2026-12-02T19:40:12.345Z");
    expect(newKeeper(now, "")).toBe("rotated-2026-12-02T19:40:12.345Z");
    expect(newKeeper(now, "rotated-2026-12-02T19:40:12.345Z")).not.toBe("rotated-2026-12-02T19:40:12.345Z");
  });

  it("reports the Deployments an up changed as rolled", () => {
    const c = (type: string, name: string, op: string) => ({ urn: `u-${name}`, type, name, op, fields: [] });
    expect(
      rolledDeployments([
        c("kubernetes:apps/v1:Deployment", "platform-engine-deployment", "update"),
        c("kubernetes:core/v1:Secret", "platform-engine-secret", "update"),
        c("kubernetes:apps/v1:Deployment", "platform-command-center-deployment", "update"),
        c("kubernetes:apps/v1:Deployment", "platform-postgres-deployment", "same"),
      ]),
    ).toEqual(["platform-command-center-deployment", "platform-engine-deployment"]);
  });

  it("reads an exec's exit status", () => {
    expect(exitCodeOf({ status: "Success" })).toBe(0);
    expect(exitCodeOf({ status: "Failure", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "3" }] } })).toBe(3);
    expect(exitCodeOf({ status: "Failure", message: "container not found" })).toBe(-1);
  });
});

describe("SCRAM-SHA-256 verifier", () => {
  it("matches RFC 7677's example exchange (user, pencil): the proof and the server signature follow from its keys", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const k = scramKeys("pencil", salt, 4096);
    // The client key is not stored; recompute it to check the proof as the RFC's client sent it.
    const authMessage =
      "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
    const clientSignature = createHmac("sha256", k.storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
    // The server's check of the proof: H(ClientKey) == StoredKey.
    expect(createHash("sha256").update(clientKey).digest().equals(k.storedKey)).toBe(true);
    expect(createHmac("sha256", k.serverKey).update(authMessage).digest("base64")).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  });

  it.each([
    // Computed by PostgreSQL 15 (Debian's postgresql-15): ALTER ROLE … PASSWORD '<password>' with
    // password_encryption scram-sha-256, then pg_authid.rolpassword.
    ["pencil", "SCRAM-SHA-256$4096:c4GDepDxvOsMzXk2sTS9BA==$avHpI2A+fkeh6qCHdXXOUzLawk+ibbrGu3KTw5plTT8=:z1mgtaqZVEk3raJLK/EppEJVKrKdIvW/hQo2mcNBWFI="],
    [
      "Zx9_-q7WkLrP3mN0vB8cT2yH5jU4eR6aS1dF0gH9kL",
      "SCRAM-SHA-256$4096:D6J//Xfzb8yzYTDiwiN3vw==$CJhwyVldVxyeGmwdDdlMLr/0T18KW9tZnUNykSjH/OU=:Y1l/0dzkRMcyd/Ta39DBY5TjlF0Ntve8ebZwBmx4v08=",
    ],
  ])("is what PostgreSQL stores for %s (same salt)", (password, fromPostgres) => {
    const salt = Buffer.from(fromPostgres.split("$")[1].split(":")[1], "base64");
    expect(formatVerifier(scramKeys(password, salt))).toBe(fromPostgres);
    expect(scramVerifier(password, salt)).toBe(fromPostgres);
  });

  it("uses a fresh 16-byte salt each time, and refuses what it cannot prepare", () => {
    const a = scramVerifier("same-password-for-both");
    const b = scramVerifier("same-password-for-both");
    expect(a).not.toBe(b);
    expect(Buffer.from(a.split("$")[1].split(":")[1], "base64")).toHaveLength(16);
    expect(() => scramVerifier("pässwort")).toThrow(/printable-ASCII/);
    expect(() => scramKeys("pencil", Buffer.alloc(16), 1000)).toThrow(/at least 4096/);
  });

  it("builds ALTER ROLE with the verifier, never the password, and refuses anything else as the literal", () => {
    const v = scramVerifier("the-password-itself");
    const sql = alterRoleSql("engine", v);
    expect(sql).toBe(`ALTER ROLE "engine" PASSWORD '${v}';`);
    expect(sql).not.toContain("the-password-itself");
    expect(alterRoleSql('we"ird', v)).toContain('"we""ird"');
    expect(() => alterRoleSql("engine", "the-password-itself")).toThrow(/not a SCRAM-SHA-256 verifier/);
    expect(() => alterRoleSql("engine", `${v}'; DROP TABLE x; --`)).toThrow(/not a SCRAM-SHA-256 verifier/);
  });
});
