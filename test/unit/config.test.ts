// Pure tests of config.ts: every rule, the all-at-once report, and that the stack files validate.
// (Pulumi.yaml's config block and the docs table are generated from CONFIG_KEYS: npm test runs
// `npm run gen:config -- --check`.) No Pulumi runtime here.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  CONFIG_KEYS,
  ConfigError,
  type ConfigIssue,
  type RawConfig,
  type ConfigKey,
  type PlainKey,
  type SecretKey,
  GENERATED_SECRET_DECLARATIONS,
  nearestKey,
  validateConfig,
} from "../../config";

const repo = path.resolve(__dirname, "../..");
const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const PRIVATE_PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();

const base: Partial<Record<PlainKey, string>> = { imageTag: "1.2.3", publicUrl: "https://agents.example.com", licensePublicKey: PEM };

function raw(values: Partial<Record<PlainKey, string>>, secretsSet: Partial<Record<SecretKey, boolean>> = {}): RawConfig {
  return { values: { ...base, ...values }, secretsSet };
}

function issuesOf(r: RawConfig, opts?: Parameters<typeof validateConfig>[1]): ConfigIssue[] {
  try {
    validateConfig(r, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).issues;
  }
  throw new Error("expected a ConfigError");
}

/** Asserts exactly one issue for `key` whose rule matches `rule`. */
function expectIssue(r: RawConfig, key: string, rule: RegExp): ConfigIssue {
  const issues = issuesOf(r);
  const hits = issues.filter((i) => i.key === key && rule.test(i.rule));
  expect(hits, JSON.stringify(issues, null, 1)).toHaveLength(1);
  expect(hits[0].example.length).toBeGreaterThan(0);
  return hits[0];
}

describe("validateConfig: a valid config", () => {
  it("applies the documented defaults", () => {
    const c = validateConfig(raw({}));
    expect(c.instanceName).toBe("ai-2501");
    expect(c.namespace).toBe("ai-2501");
    expect(c.executors).toEqual({ namespace: "ai-2501", separate: false });
    expect(c.executorPodSecurityLevel).toBe("baseline");
    expect(c.registry).toEqual({ mode: "none", server: undefined });
    expect(c.images).toEqual({ engine: "engine:1.2.3", commandCenter: "command-center:1.2.3", postgres: "postgres:16" });
    expect(c.postgres.storageSize).toBe("10Gi");
    expect(c.engine).toEqual({ replicas: 1, resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } } });
    expect(c.licensePublicKeyPem).toContain("BEGIN PUBLIC KEY");
    expect(c.secretRotation.engineApiKey).toBe("");
    expect(Object.values(c.secretOverrides).every((v) => v === false)).toBe(true);
  });

  it("treats empty strings (the Pulumi.yaml defaults) as unset", () => {
    const c = validateConfig(raw({ executorNamespace: "", kubeContext: "", registryServer: "" }));
    expect(c.executors).toEqual({ namespace: "ai-2501", separate: false });
    expect(c.kubeContext).toBeUndefined();
  });

  it("derives the ECR server from registryId and registryRegion", () => {
    const c = validateConfig(raw({ registryMode: "ecr", registryRegion: "eu-west-1", registryId: "123456789012" }));
    expect(c.registry).toEqual({
      mode: "ecr",
      region: "eu-west-1",
      registryId: "123456789012",
      server: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
    });
    expect(c.images.engine).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com/engine:1.2.3");
  });

  it("takes the registry id from an ECR server with a path", () => {
    const c = validateConfig(raw({ registryMode: "ecr", registryRegion: "us-east-1", registryServer: "210987654321.dkr.ecr.us-east-1.amazonaws.com/ai" }));
    expect(c.registry).toMatchObject({ mode: "ecr", registryId: "210987654321", host: "210987654321.dkr.ecr.us-east-1.amazonaws.com" });
    expect(c.images.commandCenter).toBe("210987654321.dkr.ecr.us-east-1.amazonaws.com/ai/command-center:1.2.3");
  });

  it("accepts static mode with server, user and a secret password", () => {
    const c = validateConfig(raw({ registryMode: "static", registryServer: "harbor.example.com:8443/ai", registryUsername: "robot" }, { registryPassword: true }));
    expect(c.registry).toEqual({ mode: "static", server: "harbor.example.com:8443/ai", host: "harbor.example.com:8443", username: "robot" });
  });

  it("reads the license key from a file through the injected reader", () => {
    const c = validateConfig(raw({ licensePublicKey: undefined, licensePublicKeyFile: "./key.pem" }), {
      readFile: (f) => {
        expect(f).toBe("./key.pem");
        return PEM;
      },
    });
    expect(c.licensePublicKeyPem.trim()).toBe(PEM.trim());
  });

  it("keeps Elasticsearch and AWS values, records hand-set secrets and rotation keepers", () => {
    const c = validateConfig(
      raw({
        elasticsearchUrl: "https://es:9200",
        elasticsearchUsername: "u",
        awsRegion: "eu-west-1",
        awsAccessKeyId: "AKIAIOSFODNN7EXAMPLE",
        secretRotation: '{"engineApiKey":"2025-06"}',
        executorNamespace: "sandbox",
        engineReplicas: "3",
        postgresStorageClass: "gp3",
      }, { elasticsearchPassword: true, awsSecretAccessKey: true, credentialEncryptionKey: true }),
    );
    expect(c.elasticsearch).toEqual({ url: "https://es:9200", username: "u" });
    expect(c.aws).toEqual({ region: "eu-west-1", accessKeyId: "AKIAIOSFODNN7EXAMPLE" });
    expect(c.secretRotation.engineApiKey).toBe("2025-06");
    expect(c.secretOverrides.credentialEncryptionKey).toBe(true);
    expect(c.secretOverrides.engineApiKey).toBe(false);
    expect(c.executors).toEqual({ namespace: "sandbox", separate: true });
    expect(c.engine.replicas).toBe(3);
    expect(c.postgres.storageClass).toBe("gp3");
  });
});

describe("validateConfig: every rule", () => {
  const cases: Array<[string, Partial<Record<PlainKey, string>>, Partial<Record<SecretKey, boolean>>, string, RegExp]> = [
    ["imageTag missing", { imageTag: undefined }, {}, "imageTag", /is required/],
    ["imageTag malformed", { imageTag: "-bad tag" }, {}, "imageTag", /image tag/],
    ["publicUrl missing", { publicUrl: undefined }, {}, "publicUrl", /is required/],
    ["publicUrl not http(s)", { publicUrl: "ftp://files.example.com" }, {}, "publicUrl", /http/],
    ["publicUrl not a URL", { publicUrl: "agents.example.com" }, {}, "publicUrl", /http/],
    ["instanceName not DNS-1123", { instanceName: "AI_2501" }, {}, "instanceName", /DNS-1123/],
    ["instanceName too long", { instanceName: "a".repeat(41) }, {}, "instanceName", /at most 40/],
    ["namespace not DNS-1123", { namespace: "-ns" }, {}, "namespace", /DNS-1123/],
    ["namespace too long", { namespace: "a".repeat(64) }, {}, "namespace", /DNS-1123/],
    ["executorNamespace not DNS-1123", { executorNamespace: "Sandbox" }, {}, "executorNamespace", /DNS-1123/],
    ["executorNamespace equals namespace", { executorNamespace: "ai-2501" }, {}, "executorNamespace", /must differ from namespace/],
    ["pod security level", { executorPodSecurityLevel: "strict" }, {}, "executorPodSecurityLevel", /privileged, baseline, restricted/],
    ["registry mode", { registryMode: "docker" }, {}, "registryMode", /ecr, static, none/],
    ["ecr without region", { registryMode: "ecr", registryId: "123456789012" }, {}, "registryRegion", /required when registryMode is ecr/],
    ["ecr bad region", { registryMode: "ecr", registryId: "123456789012", registryRegion: "Europe" }, {}, "registryRegion", /AWS region/],
    ["ecr without id or server", { registryMode: "ecr", registryRegion: "eu-west-1" }, {}, "registryId", /required when registryMode is ecr/],
    ["ecr bad id", { registryMode: "ecr", registryRegion: "eu-west-1", registryId: "1234" }, {}, "registryId", /12-digit/],
    ["ecr non-ECR server", { registryMode: "ecr", registryRegion: "eu-west-1", registryServer: "ghcr.io/acme" }, {}, "registryServer", /ECR registry host/],
    ["ecr server of another account", { registryMode: "ecr", registryRegion: "eu-west-1", registryId: "123456789012", registryServer: "999999999999.dkr.ecr.eu-west-1.amazonaws.com" }, {}, "registryServer", /belong to registryId/],
    ["ecr server in another region", { registryMode: "ecr", registryRegion: "eu-west-1", registryServer: "123456789012.dkr.ecr.us-east-1.amazonaws.com" }, {}, "registryServer", /registryRegion/],
    ["ecr with a static password", { registryMode: "ecr", registryRegion: "eu-west-1", registryId: "123456789012" }, { registryPassword: true }, "registryPassword", /only used when registryMode is static/],
    ["registryServer with a scheme", { registryServer: "https://registry.example.com" }, {}, "registryServer", /without a scheme/],
    ["static without server", { registryMode: "static", registryUsername: "u" }, { registryPassword: true }, "registryServer", /required when registryMode is static/],
    ["static without user", { registryMode: "static", registryServer: "r.example.com" }, { registryPassword: true }, "registryUsername", /required when registryMode is static/],
    ["static without password", { registryMode: "static", registryServer: "r.example.com", registryUsername: "u" }, {}, "registryPassword", /required \(as a secret\)/],
    ["none with a password", { registryMode: "none" }, { registryPassword: true }, "registryPassword", /only used when registryMode is static/],
    ["bad image repository", { engineImageRepository: "Engine Image" }, {}, "engineImageRepository", /repository/],
    ["elasticsearch url without user", { elasticsearchUrl: "https://es:9200" }, { elasticsearchPassword: true }, "elasticsearchUsername", /required when elasticsearchUrl/],
    ["elasticsearch url without password", { elasticsearchUrl: "https://es:9200", elasticsearchUsername: "u" }, {}, "elasticsearchPassword", /required \(as a secret\)/],
    ["elasticsearch user without url", { elasticsearchUsername: "u" }, {}, "elasticsearchUrl", /required when elasticsearchUsername/],
    ["elasticsearch password without url", {}, { elasticsearchPassword: true }, "elasticsearchUrl", /required when elasticsearchPassword/],
    ["elasticsearch url not http", { elasticsearchUrl: "es:9200", elasticsearchUsername: "u" }, { elasticsearchPassword: true }, "elasticsearchUrl", /http/],
    ["aws key id without secret", { awsAccessKeyId: "AKIAIOSFODNN7EXAMPLE" }, {}, "awsSecretAccessKey", /required \(as a secret\)/],
    ["aws secret without key id", {}, { awsSecretAccessKey: true }, "awsAccessKeyId", /required when awsSecretAccessKey/],
    ["aws key id malformed", { awsAccessKeyId: "not-a-key" }, { awsSecretAccessKey: true }, "awsAccessKeyId", /access key id/],
    ["aws region malformed", { awsRegion: "mars" }, {}, "awsRegion", /AWS region/],
    ["no license key", { licensePublicKey: undefined }, {}, "licensePublicKey", /is required/],
    ["both license settings", { licensePublicKeyFile: "./k.pem" }, {}, "licensePublicKeyFile", /exactly one/],
    ["license not a PEM", { licensePublicKey: "ssh-ed25519 AAAA" }, {}, "licensePublicKey", /PEM public key/],
    ["license is a private key", { licensePublicKey: PRIVATE_PEM }, {}, "licensePublicKey", /private key or certificate is not accepted/],
    ["license PEM that does not parse", { licensePublicKey: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" }, {}, "licensePublicKey", /parses/],
    ["storage size not a quantity", { postgresStorageSize: "10 GB" }, {}, "postgresStorageSize", /quantity/],
    ["storage class malformed", { postgresStorageClass: "Fast_SSD" }, {}, "postgresStorageClass", /StorageClass/],
    ["replicas zero", { engineReplicas: "0" }, {}, "engineReplicas", /1 to 20/],
    ["replicas not a number", { commandCenterReplicas: "two" }, {}, "commandCenterReplicas", /1 to 20/],
    ["replicas too many", { commandCenterReplicas: "21" }, {}, "commandCenterReplicas", /1 to 20/],
    ["resources not JSON", { engineResources: "{cpu" }, {}, "engineResources", /JSON object/],
    ["resources bad quantity", { postgresResources: '{"requests":{"cpu":"1 core","memory":"1Gi"},"limits":{"cpu":"1","memory":"1Gi"}}' }, {}, "postgresResources", /requests\.cpu: .*quantity/],
    ["resources missing limits", { commandCenterResources: '{"requests":{"cpu":"1","memory":"1Gi"}}' }, {}, "commandCenterResources", /limits: must be an object/],
    ["resources unknown field", { engineResources: '{"requests":{"cpu":"1","memory":"1Gi"},"limits":{"cpu":"1","memory":"1Gi"},"gpu":1}' }, {}, "engineResources", /unknown field\(s\) gpu/],
    ["rotation unknown secret", { secretRotation: '{"apiKey":"1"}' }, {}, "secretRotation", /keys are among postgresPassword/],
    ["rotation empty value", { secretRotation: '{"authSecret":""}' }, {}, "secretRotation", /non-empty/],
  ];
  it.each(cases)("%s", (_label, values, secrets, key, rule) => {
    expectIssue(raw(values, secrets), key, rule);
  });

  it("reports an unreadable license file with its path", () => {
    const issues = issuesOf(raw({ licensePublicKey: undefined, licensePublicKeyFile: "./missing.pem" }), {
      readFile: () => {
        throw new Error("ENOENT: no such file");
      },
    });
    expect(issues).toEqual([expect.objectContaining({ key: "licensePublicKeyFile", value: '"./missing.pem"', rule: expect.stringMatching(/readable file.*ENOENT/) })]);
  });

  it("rejects a key the program does not read", () => {
    const issues = issuesOf({ values: { ...base, ...({ imagetag: "x" } as Partial<Record<PlainKey, string>>) }, secretsSet: {} });
    expect(issues.map((i) => i.key)).toEqual(["imagetag"]);
  });
});

describe("validateConfig: the report", () => {
  it("lists every problem at once, each with key, value, rule and an example", () => {
    const r: RawConfig = {
      values: { namespace: "Bad_NS", publicUrl: "ftp://x", registryMode: "static", engineReplicas: "0", postgresStorageSize: "lots" },
      secretsSet: {},
    };
    let error: ConfigError | undefined;
    try {
      validateConfig(r);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const keys = error!.issues.map((i) => i.key).sort();
    expect(keys).toEqual(
      ["engineReplicas", "imageTag", "licensePublicKey", "namespace", "postgresStorageSize", "publicUrl", "registryPassword", "registryServer", "registryUsername"].sort(),
    );
    for (const i of error!.issues) {
      expect(error!.message).toContain(`agent-platform:${i.key} = ${i.value}: ${i.rule}. Example: ${i.example}`);
    }
    expect(error!.message).toMatch(/^Invalid stack configuration \(9 problems\); nothing was deployed/);
    expect(error!.issues.find((i) => i.key === "namespace")!.value).toBe('"Bad_NS"');
    expect(error!.issues.find((i) => i.key === "imageTag")!.value).toBe("(unset)");
  });

  it("never shows a secret's value: secret keys are reported as (secret)", () => {
    const issue = expectIssue(raw({ registryMode: "none" }, { registryPassword: true }), "registryPassword", /static/);
    expect(issue.value).toBe("(secret)");
  });

  it("reports hand-set generated secrets that break their rule, without their value", () => {
    const check = (name: keyof typeof GENERATED_SECRET_DECLARATIONS, v: string) => GENERATED_SECRET_DECLARATIONS[name].check(v);
    expect(check("credentialEncryptionKey", "ab".repeat(32))).toBeUndefined();
    expect(check("engineApiKey", "a-long-enough-api-key")).toBeUndefined();
    expect(check("logEncryptionKey", "not-hex-but-long-enough")).toMatch(/64 hexadecimal/);
    expect(check("authSecret", "short")).toMatch(/at least 16 characters/);
    const r = raw({}, { authSecret: true, logEncryptionKey: true });
    r.secretProblems = { authSecret: check("authSecret", "short"), logEncryptionKey: check("logEncryptionKey", "xyz") };
    const issues = issuesOf(r);
    expect(issues.map((i) => [i.key, i.value])).toEqual([
      ["authSecret", "(secret)"],
      ["logEncryptionKey", "(secret)"],
    ]);
    expect(issues[1].rule).toMatch(/64 hexadecimal/);
    expect(issues[1].example).toMatch(/openssl rand -hex 32/);
  });

  it("names the nearest known key for a mistyped one, and never shows its value", () => {
    const r = raw({ imagetag: "1.2.3", registryPasword: "hunter2-secret" } as Partial<Record<PlainKey, string>>);
    const issues = issuesOf(r);
    expect(issues.find((i) => i.key === "imagetag")?.rule).toMatch(/did you mean agent-platform:imageTag\?/);
    expect(issues.find((i) => i.key === "registryPasword")?.rule).toMatch(/did you mean agent-platform:registryPassword\?/);
    for (const i of issues) expect(i.value).toBe("(not shown)");
    expect(nearestKey("somethingElseEntirely")).toBeUndefined();
  });

  it("refuses a secret key set as plain text", () => {
    const issue = expectIssue(raw({ engineApiKey: "plain-text-key-value" } as Partial<Record<PlainKey, string>>), "engineApiKey", /is a secret/);
    expect(issue.value).toBe("(secret)");
  });

  it.each(["kube-system", "kube-public", "kube-node-lease", "default"])("refuses the system namespace %s for every namespace key", (ns) => {
    expectIssue(raw({ namespace: ns }), "namespace", /namespace the cluster owns/);
    expectIssue(raw({ executorNamespace: ns }), "executorNamespace", /namespace the cluster owns/);
  });
});

describe("the stack files validate as they stand", () => {
  const keys = Object.keys(CONFIG_KEYS) as ConfigKey[];
  const stacks = ["dev", "prod"].map((name) => ({
    name,
    text: fs.readFileSync(path.join(repo, `Pulumi.${name}.yaml`), "utf8"),
  }));

  it.each(stacks)("Pulumi.$name.yaml disables default providers and uses only declared keys", ({ text }) => {
    const stack = parse(text) as { config: Record<string, unknown> };
    expect(stack.config["pulumi:disable-default-providers"]).toEqual(["*"]);
    for (const k of Object.keys(stack.config)) {
      if (k.startsWith("pulumi:")) continue;
      expect(k.startsWith("agent-platform:"), k).toBe(true);
      expect(keys, k).toContain(k.slice("agent-platform:".length));
    }
  });

  it("Pulumi.dev.yaml holds no encrypted value and validates as it stands", () => {
    const text = stacks[0].text;
    expect(text).not.toMatch(/secure:/);
    const stack = parse(text) as { config: Record<string, unknown> };
    const values: Partial<Record<PlainKey, string>> = {};
    for (const [k, v] of Object.entries(stack.config)) {
      if (!k.startsWith("agent-platform:")) continue;
      values[k.slice("agent-platform:".length) as PlainKey] = typeof v === "string" ? v : JSON.stringify(v);
    }
    const c = validateConfig({ values, secretsSet: {} });
    expect(c.registry.mode).toBe("none");
    expect(c.kubeContext).toBeUndefined();
    expect(c.imageTag).toBe("dev");
  });

  it("Pulumi.prod.yaml validates once its documented secrets are set", () => {
    const stack = parse(stacks[1].text) as { config: Record<string, unknown> };
    const values: Partial<Record<PlainKey, string>> = {};
    for (const [k, v] of Object.entries(stack.config)) {
      if (k.startsWith("agent-platform:")) values[k.slice("agent-platform:".length) as PlainKey] = String(v);
    }
    for (const secret of ["elasticsearchPassword", "awsSecretAccessKey"]) {
      expect(stacks[1].text).toContain(`pulumi config set --secret ${secret}`);
    }
    const c = validateConfig({ values, secretsSet: { elasticsearchPassword: true, awsSecretAccessKey: true } }, { readFile: () => PEM });
    expect(c.registry.mode).toBe("ecr");
    expect(c.kubeContext).toBe("prod-eks");
    expect(() => validateConfig({ values, secretsSet: {} }, { readFile: () => PEM })).toThrow(/elasticsearchPassword[\s\S]*awsSecretAccessKey/);
  });

});
