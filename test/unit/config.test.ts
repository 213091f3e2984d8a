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

/** ecr mode needs the in-cluster refresher's credentials (pullSecretRefresh); the unit tests of that key are in pullSecretRefresh.test.ts. */
const ECR_REFRESH = JSON.stringify({ serviceAccountRoleArn: "arn:aws:iam::123456789012:role/ecr-pull-refresh" });
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
    expect(c.executors).toEqual({ namespace: "ai-2501-sandbox", separate: true });
    expect(c.executorPodSecurityLevel).toBe("restricted");
    expect(c.sandbox).toMatchObject({
      instance: "ai-2501",
      engineNamespace: "ai-2501",
      executorNamespace: "ai-2501-sandbox",
      podSecurity: "restricted",
      limits: { defaultRequest: { cpu: "250m", memory: "512Mi" }, default: { cpu: "500m", memory: "1Gi" }, max: { cpu: "2", memory: "4Gi" } },
      quota: { pods: 20, cpu: "10", memory: "20Gi" },
      admissionAction: "Deny",
      engineIngressFrom: [],
      commandCenterIngressFrom: [],
      podDefaults: {},
    });
    expect(c.sandbox.imageRegistry).toBeUndefined();
    expect(c.sandbox.pullSecretName).toBeUndefined();
    expect(c.sandbox.egressAllow[0]).toMatchObject({ cidr: "0.0.0.0/0", ports: [{ port: 80, protocol: "TCP" }, { port: 443, protocol: "TCP" }] });
    expect(c.registry).toEqual({ mode: "none", server: undefined });
    expect(c.images).toEqual({ engine: "engine:1.2.3", commandCenter: "command-center:1.2.3", postgres: "postgres:16" });
    expect(c.postgres.storageSize).toBe("10Gi");
    expect(c.engine).toEqual({ replicas: 1, resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "2", memory: "2Gi" } } });
    expect(c.licensePublicKeyPem).toContain("BEGIN PUBLIC KEY");
    expect(c.secretRotation.engineApiKey).toBe("");
    expect(Object.values(c.secretOverrides).every((v) => v === false)).toBe(true);
  });

  it("treats empty strings (the Pulumi.yaml defaults) as unset", () => {
    const c = validateConfig(raw({ executorNamespace: "", kubeContext: "", registryServer: "", sandboxImageRegistry: "" }));
    expect(c.executors).toEqual({ namespace: "ai-2501-sandbox", separate: true });
    expect(c.sandbox.imageRegistry).toBeUndefined();
    expect(c.kubeContext).toBeUndefined();
  });

  it("derives the ECR server from registryId and registryRegion", () => {
    const c = validateConfig(raw({ registryMode: "ecr", registryRegion: "eu-west-1", registryId: "123456789012", pullSecretRefresh: ECR_REFRESH }));
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
    const c = validateConfig(raw({ registryMode: "ecr", registryRegion: "us-east-1", registryServer: "210987654321.dkr.ecr.us-east-1.amazonaws.com/ai", pullSecretRefresh: ECR_REFRESH }));
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

describe("validateConfig: the sandbox, decided once", () => {
  it("shared mode: executorNamespace set to the engine namespace", () => {
    const c = validateConfig(raw({ executorNamespace: "ai-2501", executorPodSecurityLevel: "baseline" }));
    expect(c.executors).toEqual({ namespace: "ai-2501", separate: false });
    expect(c.sandbox.executorNamespace).toBe("ai-2501");
    expect(c.sandbox.podSecurity).toBe("baseline");
  });

  it("merges partial objects over the defaults and reads numbers given as strings (pulumi config set --path)", () => {
    const c = validateConfig(
      raw({
        sandboxLimitRange: '{"max":{"memory":"8Gi"}}',
        sandboxQuota: '{"pods":"5"}',
        sandboxDns: '{"podLabels":{"k8s-app":"coredns"}}',
        sandboxEgressAllow: '[{"cidr":"203.0.113.0/24","ports":[{"port":"5432"}]},{"cidr":"198.51.100.0/24"}]',
        sandboxPodDefaults: '{"nodeSelector":{"pool":"sandbox"},"tolerations":[{"key":"sandbox"}],"runtimeClassName":"gvisor","activeDeadlineSeconds":3600}',
        commandCenterIngressFrom: '[{"namespaceLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}]',
      }),
    );
    expect(c.sandbox.limits.max).toEqual({ cpu: "2", memory: "8Gi" });
    expect(c.sandbox.limits.default).toEqual({ cpu: "500m", memory: "1Gi" });
    expect(c.sandbox.quota).toEqual({ pods: 5, cpu: "10", memory: "20Gi" });
    expect(c.sandbox.dns).toEqual({ namespaceLabels: { "kubernetes.io/metadata.name": "kube-system" }, podLabels: { "k8s-app": "coredns" } });
    expect(c.sandbox.egressAllow).toEqual([
      { cidr: "203.0.113.0/24", except: [], ports: [{ port: 5432, protocol: "TCP" }] },
      { cidr: "198.51.100.0/24", except: [], ports: [] },
    ]);
    expect(c.sandbox.podDefaults).toEqual({ nodeSelector: { pool: "sandbox" }, tolerations: [{ key: "sandbox", operator: "Equal" }], runtimeClassName: "gvisor", activeDeadlineSeconds: 3600 });
    expect(c.sandbox.commandCenterIngressFrom).toEqual([{ namespaceLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } }]);
  });

  it("executor images: sandboxImageRegistry, else registryServer; the pull secret only when the registry has one", () => {
    expect(validateConfig(raw({ registryServer: "localhost:5000/2501" })).sandbox.imageRegistry).toBe("localhost:5000/2501");
    expect(validateConfig(raw({ registryServer: "localhost:5000/2501", sandboxImageRegistry: "r.example.com/tools" })).sandbox.imageRegistry).toBe("r.example.com/tools");
    const ecr = validateConfig(raw({ registryMode: "ecr", registryRegion: "eu-west-1", registryId: "123456789012", pullSecretRefresh: ECR_REFRESH }));
    expect(ecr.sandbox.imageRegistry).toBe("123456789012.dkr.ecr.eu-west-1.amazonaws.com");
    expect(ecr.sandbox.pullSecretName).toBe("ai-2501-registry");
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
    ["pod security level", { executorPodSecurityLevel: "strict" }, {}, "executorPodSecurityLevel", /restricted or baseline/],
    ["pod security level privileged", { executorPodSecurityLevel: "privileged" }, {}, "executorPodSecurityLevel", /privileged is not offered/],
    ["default sandbox namespace too long", { namespace: "a".repeat(60) }, {}, "executorNamespace", /at most 63 characters.*unset: the default a{60}-sandbox/],
    ["limit range not JSON", { sandboxLimitRange: "{max" }, {}, "sandboxLimitRange", /JSON object/],
    ["limit range unknown field", { sandboxLimitRange: '{"maximum":{"cpu":"2"}}' }, {}, "sandboxLimitRange", /unknown field\(s\) maximum/],
    ["limit range bad quantity", { sandboxLimitRange: '{"max":{"cpu":"lots"}}' }, {}, "sandboxLimitRange", /max\.cpu: must be a positive CPU quantity/],
    ["limit range default above max", { sandboxLimitRange: '{"default":{"memory":"8Gi"}}' }, {}, "sandboxLimitRange", /default\.memory: must not exceed sandboxLimitRange\.max\.memory \(4Gi\)/],
    ["quota pods zero", { sandboxQuota: '{"pods":0}' }, {}, "sandboxQuota", /pods: must be a whole number from 1 to 10000/],
    ["quota pods not a number", { sandboxQuota: '{"pods":"many"}' }, {}, "sandboxQuota", /pods: must be a whole number/],
    ["quota below one pod at the maximum", { sandboxQuota: '{"memory":"1Gi"}' }, {}, "sandboxQuota", /memory: must be at least sandboxLimitRange\.max\.memory/],
    ["egress not a list", { sandboxEgressAllow: '{"cidr":"0.0.0.0/0"}' }, {}, "sandboxEgressAllow", /JSON list/],
    ["egress bad CIDR", { sandboxEgressAllow: '[{"cidr":"10.0.0.1/8"}]' }, {}, "sandboxEgressAllow", /\[0\]\.cidr: must be a CIDR with no host bits set/],
    ["egress except outside its CIDR", { sandboxEgressAllow: '[{"cidr":"203.0.113.0/24","except":["10.0.0.0/8"]}]' }, {}, "sandboxEgressAllow", /except\[0\]: must be a strict sub-range/],
    ["egress bad port", { sandboxEgressAllow: '[{"cidr":"203.0.113.0/24","ports":[{"port":70000}]}]' }, {}, "sandboxEgressAllow", /ports\[0\]\.port: must be a port number/],
    ["egress bad protocol", { sandboxEgressAllow: '[{"cidr":"203.0.113.0/24","ports":[{"port":53,"protocol":"ICMP"}]}]' }, {}, "sandboxEgressAllow", /TCP, UDP or SCTP/],
    ["dns without namespace labels", { sandboxDns: '{"namespaceLabels":{}}' }, {}, "sandboxDns", /namespaceLabels: must have at least one label/],
    ["admission action", { sandboxAdmissionAction: "Audit" }, {}, "sandboxAdmissionAction", /Deny or Warn/],
    ["image registry with a scheme", { sandboxImageRegistry: "https://r.example.com" }, {}, "sandboxImageRegistry", /without a scheme/],
    ["pod defaults unknown field", { sandboxPodDefaults: '{"runtimeClass":"gvisor"}' }, {}, "sandboxPodDefaults", /unknown field\(s\) runtimeClass/],
    ["pod defaults bad runtime class", { sandboxPodDefaults: '{"runtimeClassName":"GVisor"}' }, {}, "sandboxPodDefaults", /runtimeClassName: must be a RuntimeClass name/],
    ["pod defaults bad toleration", { sandboxPodDefaults: '{"tolerations":[{"operator":"Exists","value":"x"}]}' }, {}, "sandboxPodDefaults", /tolerations\[0\]\.value: must be empty with operator Exists/],
    ["pod defaults bad node selector", { sandboxPodDefaults: '{"nodeSelector":{"bad key!":"x"}}' }, {}, "sandboxPodDefaults", /nodeSelector\.bad key!: must be a label key/],
    ["pod defaults zero deadline", { sandboxPodDefaults: '{"activeDeadlineSeconds":0}' }, {}, "sandboxPodDefaults", /activeDeadlineSeconds: must be a whole number of seconds/],
    ["pod defaults in shared mode", { executorNamespace: "ai-2501", sandboxPodDefaults: '{"runtimeClassName":"gvisor"}' }, {}, "sandboxPodDefaults", /applies only to a sandbox namespace of its own/],
    ["limit range in shared mode", { executorNamespace: "ai-2501", sandboxLimitRange: '{"max":{"cpu":"4"}}' }, {}, "sandboxLimitRange", /applies only to a sandbox namespace of its own.*shared mode/],
    ["quota in shared mode", { executorNamespace: "ai-2501", sandboxQuota: '{"pods":5}' }, {}, "sandboxQuota", /shared mode/],
    ["admission action in shared mode", { executorNamespace: "ai-2501", sandboxAdmissionAction: "Warn" }, {}, "sandboxAdmissionAction", /shared mode/],
    ["image registry in shared mode", { executorNamespace: "ai-2501", sandboxImageRegistry: "r.example.com" }, {}, "sandboxImageRegistry", /shared mode/],
    ["ingress source of neither shape", { commandCenterIngressFrom: '[{"namespace":"ingress-nginx"}]' }, {}, "commandCenterIngressFrom", /\{namespaceLabels, podLabels\?\} or \{cidr, except\?\}/],
    ["ingress source bad CIDR", { engineIngressFrom: '[{"cidr":"10.0.0.0/33"}]' }, {}, "engineIngressFrom", /\[0\]\.cidr: must be a CIDR/],
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
    expectIssue(raw({ executorNamespace: ns }), "executorNamespace", /system namespace/);
  });

  it("checks the sandbox rules even when an unrelated key is wrong, and skips them when namespace is wrong", () => {
    const keys = issuesOf(raw({ publicUrl: "ftp://x", sandboxQuota: '{"pods":0}', sandboxAdmissionAction: "Audit" })).map((i) => i.key).sort();
    expect(keys).toEqual(["publicUrl", "sandboxAdmissionAction", "sandboxQuota"]);
    // A wrong namespace is reported once: nothing derived from it is reported on top.
    expect(issuesOf(raw({ namespace: "Bad_NS" })).map((i) => i.key)).toEqual(["namespace"]);
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
      // Object keys as Pulumi hands them to the program: JSON.
      if (k.startsWith("agent-platform:")) values[k.slice("agent-platform:".length) as PlainKey] = typeof v === "object" ? JSON.stringify(v) : String(v);
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
