// AgentPlatform under mocks with the settings the dev stack does not exercise: ECR mode through an
// explicit aws provider (scripted getAuthorizationToken), a separate executor namespace,
// Elasticsearch and AWS values, static registry mode, executors sharing the engine namespace,
// executor pod defaults (the mutating policy); and a failing or empty ECR token.
//
// Not a test file of its own: program.test.ts calls `platformVariantTests()` after its own tests,
// in the same Pulumi runtime, so the suite loads @pulumi/pulumi (and serializes the dynamic
// provider) once. `ecrInvokes` is the invoke script program.test.ts passes to setupMocks.
import * as crypto from "crypto";
import { Provider as AwsProvider } from "@pulumi/aws/provider";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { type PlatformConfig, type RawConfig, validateConfig } from "../../config";
import { type InvokeScript, invokes, registered, settle, valueOf, type Registered } from "./harness";
import { restrictedViolations } from "./podSecurity";

const ECR_TOKEN_CALL = "aws:ecr/getAuthorizationToken:getAuthorizationToken";
const GOOD_ACCOUNT = "111111111111";
const EMPTY_ACCOUNT = "222222222222";
const FAILING_ACCOUNT = "333333333333";
const ECR_PASSWORD = "ecr-password-from-token";
const EXPIRES = "2030-01-01T12:00:00Z";

export const ecrInvokes: InvokeScript = {
  [ECR_TOKEN_CALL]: (inputs) => {
    if (inputs.registryId === FAILING_ACCOUNT) throw new Error("AccessDeniedException: not authorized to perform ecr:GetAuthorizationToken");
    const token = inputs.registryId === EMPTY_ACCOUNT ? "" : Buffer.from(`AWS:${ECR_PASSWORD}`).toString("base64");
    return {
      authorizationToken: token,
      expiresAt: EXPIRES,
      proxyEndpoint: `https://${String(inputs.registryId)}.dkr.ecr.eu-west-1.amazonaws.com`,
      userName: "AWS",
      password: ECR_PASSWORD,
      registryId: inputs.registryId,
      id: "eu-west-1",
    };
  },
};

// Imported after setupMocks, like the program itself.
type Platform = typeof import("../../components/agentPlatform");
type PullSecret = typeof import("../../components/registryPullSecret");
let AgentPlatform: Platform["AgentPlatform"];
let RegistryPullSecret: PullSecret["RegistryPullSecret"];
let plannedObjects: typeof import("../../components/builders/inventory")["plannedObjects"];

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
type Obj = Record<string, unknown>;

function platformConfig(values: RawConfig["values"], secrets: PlatformConfig["secrets"]): PlatformConfig {
  const secretsSet = {
    registryPassword: secrets.registryPassword !== undefined,
    elasticsearchPassword: secrets.elasticsearchPassword !== undefined,
    awsSecretAccessKey: secrets.awsSecretAccessKey !== undefined,
  };
  const v = validateConfig({ values: { imageTag: "1.0.0", publicUrl: "https://agents.example.com", licensePublicKey: PEM, ...values }, secretsSet });
  return { ...v, secrets };
}

const byName = (name: string): Registered => {
  const r = registered.find((x) => x.name === name);
  if (!r) throw new Error(`no resource ${name}: ${registered.map((x) => x.name).join(", ")}`);
  return r;
};
const podSpec = (d: Registered): Obj => (((d.inputs.spec as Obj).template as Obj).spec as Obj);
const env = (d: Registered): Obj[] => ((podSpec(d).containers as Obj[])[0].env as Obj[]);
const decodeDockerConfig = (s: Registered) =>
  JSON.parse(Buffer.from((s.inputs.data as Record<string, string>)[".dockerconfigjson"], "base64").toString("utf8")) as {
    auths: Record<string, { username: string; password: string; auth: string }>;
  };
/** The rejection of an Output (Output has no public catch; its promise() is internal). */
function rejectionOf<T>(o: pulumi.Output<T>): Promise<unknown> {
  return (o as unknown as { promise(): Promise<T> }).promise().then(
    () => new Error("expected a rejection"),
    (e: unknown) => e,
  );
}

/** The Kubernetes objects (not patches) registered under one platform, as `<kind> <namespace>/<name>`. */
const objectsOf = (platform: string): string[] =>
  registered
    .filter((r) => r.custom && r.type.startsWith("kubernetes:") && !r.type.endsWith("Patch") && r.name.startsWith(`${platform}-`))
    .map((r) => `${r.type.split(":")[2]} ${((r.inputs.metadata as Obj).namespace as string | undefined) ?? ""}/${(r.inputs.metadata as Obj).name as string}`)
    .sort();
const planned = (c: PlatformConfig): string[] => plannedObjects(c).map((o) => `${o.kind} ${o.namespace ?? ""}/${o.name}`).sort();

export function platformVariantTests(): void {
  let ecrPlatform: InstanceType<Platform["AgentPlatform"]>;
  let staticPlatform: InstanceType<Platform["AgentPlatform"]>;
  let staticConfig: PlatformConfig;
  let ecrConfig: PlatformConfig;
  let sharedConfig: PlatformConfig;
  let defaultsConfig: PlatformConfig;

  beforeAll(async () => {
    ({ AgentPlatform } = await import("../../components/agentPlatform"));
    ({ RegistryPullSecret } = await import("../../components/registryPullSecret"));
    ({ plannedObjects } = await import("../../components/builders/inventory"));
    const k8sProvider = new k8s.Provider("k8s-variants", {});
    const awsProvider = new AwsProvider("ecr", { region: "eu-west-1" });
    ecrConfig = platformConfig(
          {
            instanceName: "agents",
            namespace: "agents",
            executorNamespace: "agents-sandbox",
            executorPodSecurityLevel: "baseline",
            registryMode: "ecr",
            registryRegion: "eu-west-1",
            registryId: GOOD_ACCOUNT,
            elasticsearchUrl: "https://es.example.com:9200",
            elasticsearchUsername: "engine",
            awsRegion: "eu-west-1",
            awsAccessKeyId: "AKIAIOSFODNN7EXAMPLE",
            pullSecretRefresh: JSON.stringify({ awsCredentialsSecret: "ecr-refresh-aws", schedule: "15 */4 * * *" }),
          },
          {
            elasticsearchPassword: pulumi.secret("es-password"),
            awsSecretAccessKey: pulumi.secret("aws-secret"),
            overrides: {},
          },
        );
    ecrPlatform = new AgentPlatform("ecr", { config: ecrConfig, awsProvider }, { providers: [k8sProvider] });
    staticConfig = platformConfig(
      { instanceName: "st", namespace: "st", registryMode: "static", registryServer: "harbor.example.com/ai", registryUsername: "robot" },
      { registryPassword: pulumi.secret("harbor-token"), overrides: {} },
    );
    staticPlatform = new AgentPlatform("static", { config: staticConfig }, { providers: [k8sProvider] });
    // Executors in the engine namespace (shared mode), Pod Security baseline there.
    sharedConfig = platformConfig({ instanceName: "sh", namespace: "sh", executorNamespace: "sh", executorPodSecurityLevel: "baseline" }, { overrides: {} });
    new AgentPlatform("shared", { config: sharedConfig }, { providers: [k8sProvider] });
    // Every pod default set, a command center ingress source, executors from their own registry.
    defaultsConfig = platformConfig(
      {
        instanceName: "pd",
        namespace: "pd",
        sandboxImageRegistry: "tools.example.com/executors",
        sandboxAdmissionAction: "Warn",
        sandboxPodDefaults: JSON.stringify({
          nodeSelector: { "sandbox.example.com/pool": "executors" },
          tolerations: [{ key: "sandbox.example.com/dedicated", operator: "Exists", effect: "NoSchedule" }],
          runtimeClassName: "gvisor",
          activeDeadlineSeconds: 3600,
        }),
        commandCenterIngressFrom: JSON.stringify([{ namespaceLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } }]),
      },
      { overrides: {} },
    );
    new AgentPlatform("defaults", { config: defaultsConfig }, { providers: [k8sProvider] });
    await settle();
  });

  describe("ECR mode", () => {
    it("asks ECR for a token through the explicit aws provider, for the configured registry", () => {
      const calls = invokes.filter((c) => c.token === ECR_TOKEN_CALL && c.inputs.registryId === GOOD_ACCOUNT);
      expect(calls).toHaveLength(1);
      expect(registered.filter((r) => r.type === "pulumi:providers:aws").map((r) => r.name)).toEqual(["ecr"]);
    });

    it("writes a dockerconfigjson into the engine and executor namespaces; it round-trips to AWS:<token password>", () => {
      const copies = registered.filter((r) => r.type === "kubernetes:core/v1:Secret" && r.inputs.type === "kubernetes.io/dockerconfigjson" && r.name.startsWith("ecr-"));
      expect(copies.map((c) => `${c.name} ${(c.inputs.metadata as Obj).namespace}`).sort()).toEqual([
        "ecr-registry-executors agents-sandbox",
        "ecr-registry-workloads agents",
      ]);
      for (const c of copies) {
        expect((c.inputs.metadata as Obj).name).toBe("agents-registry");
        expect(c.secretPaths).toEqual(["data"]);
        const auths = decodeDockerConfig(c).auths;
        const entry = auths[`${GOOD_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`];
        expect(entry.username).toBe("AWS");
        expect(entry.password).toBe(ECR_PASSWORD);
        expect(Buffer.from(entry.auth, "base64").toString()).toBe(`AWS:${ECR_PASSWORD}`);
      }
    });

    it("exports the token expiry", async () => {
      expect(await valueOf(ecrPlatform.pullSecretExpiresAt)).toBe(EXPIRES);
      expect(ecrPlatform.pullSecretName).toBe("agents-registry");
    });

    it("every pod we own pulls with the secret", () => {
      for (const name of ["ecr-engine-deployment", "ecr-command-center-deployment", "ecr-postgres-deployment"]) {
        expect(podSpec(byName(name)).imagePullSecrets, name).toEqual([{ name: "agents-registry" }]);
      }
      expect((podSpec(byName("ecr-engine-deployment")).containers as Obj[])[0].image).toBe(`${GOOD_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/engine:1.0.0`);
      expect(byName("ecr-executor-access-service-account").inputs.imagePullSecrets).toEqual([{ name: "agents-registry" }]);
    });
  });

  describe("ECR mode: the in-cluster refresher of the pull secret", () => {
    const rolesOf = () => registered.filter((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:Role" && r.name.startsWith("ecr-registry-refresh-"));
    it("a Role in each namespace holding a copy, allowing get and patch of exactly that copy", () => {
      expect(rolesOf().map((r) => (r.inputs.metadata as Obj).namespace).sort()).toEqual(["agents", "agents-sandbox"]);
      for (const r of rolesOf()) {
        expect(r.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], resourceNames: ["agents-registry"], verbs: ["get", "patch"] }]);
        expect(r.parent.endsWith("::ecr-registry-refresh"), r.name).toBe(true);
      }
      const bindings = registered.filter((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding" && r.name.startsWith("ecr-registry-refresh-"));
      expect(bindings.map((b) => b.inputs.subjects)).toEqual([
        [{ kind: "ServiceAccount", name: "agents-ecr-refresh", namespace: "agents" }],
        [{ kind: "ServiceAccount", name: "agents-ecr-refresh", namespace: "agents" }],
      ]);
    });

    it("a CronJob on the configured schedule patching both copies, with the AWS keys from the named Secret", () => {
      const cron = byName("ecr-registry-refresh-cron-job");
      expect((cron.inputs.spec as Obj).schedule).toBe("15 */4 * * *");
      const pod = ((((cron.inputs.spec as Obj).jobTemplate as Obj).spec as Obj).template as Obj).spec as Obj;
      const container = (pod.containers as Obj[])[0];
      const e = Object.fromEntries((container.env as Obj[]).map((x) => [x.name, x.value ?? x.valueFrom]));
      expect(e.TARGETS).toBe("agents/agents-registry,agents-sandbox/agents-registry");
      expect(e.REGISTRY_HOST).toBe(`${GOOD_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`);
      expect(e.AWS_SECRET_ACCESS_KEY).toEqual({ secretKeyRef: { name: "ecr-refresh-aws", key: "AWS_SECRET_ACCESS_KEY" } });
      expect(container.image).toBe(`${GOOD_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/ecr-refresh:1.0.0`);
      expect(pod.serviceAccountName).toBe("agents-ecr-refresh");
      expect(pod.automountServiceAccountToken).toBe(true);
    });

    it("no refresher outside ecr mode", () => {
      expect(registered.filter((r) => r.type === "agent-platform:index:PullSecretRefresher").map((r) => r.name)).toEqual(["ecr-registry-refresh"]);
    });
  });

  describe("separate executor namespace", () => {
    it("enforces restricted where we own the pods and the configured level where executors run", () => {
      const labels = (n: string) => ((byName(n).inputs.metadata as Obj).labels as Obj);
      expect(labels("ecr-namespaces-workloads")["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      expect(labels("ecr-namespaces-executors")["pod-security.kubernetes.io/enforce"]).toBe("baseline");
      expect(labels("ecr-namespaces-executors")["pod-security.kubernetes.io/warn"]).toBe("restricted");
      expect(labels("ecr-namespaces-executors")["pod-security.kubernetes.io/audit"]).toBe("restricted");
    });

    it("puts the Role and RoleBinding there, bound to the engine-namespace ServiceAccount", () => {
      expect((byName("ecr-executor-access-service-account").inputs.metadata as Obj).namespace).toBe("agents");
      expect((byName("ecr-executor-access-role").inputs.metadata as Obj).namespace).toBe("agents-sandbox");
      const binding = byName("ecr-executor-access-role-binding");
      expect((binding.inputs.metadata as Obj).namespace).toBe("agents-sandbox");
      expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "agents-engine-executor", namespace: "agents" }]);
    });

    it("sets EXECUTOR_MCP_K8S_NAMESPACE to it instead of the Downward API", async () => {
      expect(env(byName("ecr-engine-deployment"))).toContainEqual({ name: "EXECUTOR_MCP_K8S_NAMESPACE", value: "agents-sandbox" });
      expect(await valueOf(ecrPlatform.executorNamespace)).toBe("agents-sandbox");
    });
  });

  describe("Elasticsearch and AWS values", () => {
    it("reach the engine: settings from the ConfigMap, credentials from secretKeyRefs", () => {
      const cm = byName("ecr-engine-config").inputs.data as Obj;
      expect(cm).toMatchObject({ ELASTICSEARCH_URL: "https://es.example.com:9200", ELASTICSEARCH_USERNAME: "engine", AWS_REGION: "eu-west-1" });
      const data = byName("ecr-engine-secret").inputs.data as Record<string, string>;
      const decoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]));
      expect(decoded).toMatchObject({ ELASTICSEARCH_PASSWORD: "es-password", AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: "aws-secret" });
      for (const key of ["ELASTICSEARCH_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
        for (const d of ["engine", "command-center"]) {
          expect(env(byName(`ecr-${d}-deployment`))).toContainEqual({ name: key, valueFrom: { secretKeyRef: { name: `agents-${d}`, key } } });
        }
      }
      for (const d of registered.filter((r) => r.type === "kubernetes:apps/v1:Deployment")) {
        expect(JSON.stringify(d.inputs), d.name).not.toMatch(/es-password|aws-secret|harbor-token/);
        expect(restrictedViolations(podSpec(d)), d.name).toEqual([]);
      }
    });
  });

  describe("static mode", () => {
    it("builds the dockerconfigjson from server host, user and the secret password", () => {
      const s = byName("static-registry-workloads");
      expect(s.secretPaths).toEqual(["data"]);
      const entry = decodeDockerConfig(s).auths["harbor.example.com"];
      expect(Buffer.from(entry.auth, "base64").toString()).toBe("robot:harbor-token");
      expect(staticPlatform.pullSecretName).toBe("st-registry");
      // The copy in the sandbox namespace, referenced by the namespace's default ServiceAccount.
      expect((byName("static-registry-executors").inputs.metadata as Obj).namespace).toBe("st-sandbox");
      const sa = byName("static-sandbox-default-service-account");
      expect(sa.inputs).toMatchObject({ metadata: { name: "default", namespace: "st-sandbox" }, automountServiceAccountToken: false, imagePullSecrets: [{ name: "st-registry" }] });
    });

    it("keeps the dockerconfigjson a secret Output", async () => {
      const pull = new RegistryPullSecret("secrecy", {
        instanceName: "sec",
        registry: { mode: "static", server: "r.example.com", host: "r.example.com", username: "u" },
        namespaces: {},
        password: pulumi.secret("pw"),
      });
      expect(await pulumi.isSecret(pull.dockerConfigJson)).toBe(true);
      expect(JSON.parse((await valueOf(pull.dockerConfigJson))!).auths["r.example.com"].password).toBe("pw");
    });

    it("has no token expiry", async () => {
      expect(await valueOf(staticPlatform.pullSecretExpiresAt)).toBeUndefined();
    });
  });

  describe("executors in the engine namespace (shared mode)", () => {
    it("creates no sandbox namespace and only NetworkPolicies: nothing that would bind the engine, command center and postgres", () => {
      const sandbox = registered.filter((r) => r.name.startsWith("shared-sandbox-"));
      expect(sandbox.map((r) => `${r.type.split(":")[2]} ${r.name}`).sort()).toEqual(
        ["shared-sandbox-default-deny-ingress", "shared-sandbox-engine-ingress", "shared-sandbox-executor-egress", "shared-sandbox-postgres-ingress"].map((n) => `NetworkPolicy ${n}`),
      );
      expect(registered.some((r) => r.name === "shared-namespaces-executors")).toBe(false);
      expect((((byName("shared-namespaces-workloads").inputs.metadata as Obj).labels as Obj)["pod-security.kubernetes.io/enforce"])).toBe("baseline");
    });

    it("restricts egress of every pod that is not the platform's own, in the engine namespace", () => {
      const egress = byName("shared-sandbox-executor-egress").inputs as { metadata: Obj; spec: Obj };
      expect(egress.metadata.namespace).toBe("sh");
      expect(egress.spec.podSelector).toEqual({ matchExpressions: [{ key: "app.kubernetes.io/part-of", operator: "NotIn", values: ["agent-platform"] }] });
      expect(egress.spec.policyTypes).toEqual(["Egress"]);
    });

    it("keeps the Role where executor pods run and the engine on the Downward API namespace", () => {
      expect((byName("shared-executor-access-role").inputs.metadata as Obj).namespace).toBe("sh");
      expect(env(byName("shared-engine-deployment"))).toContainEqual({ name: "EXECUTOR_MCP_K8S_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } });
    });
  });

  describe("executor pod defaults", () => {
    it("adds the MutatingAdmissionPolicy and its binding (admissionregistration.k8s.io/v1) under the Sandbox component", () => {
      const policy = byName("defaults-sandbox-mutating-policy");
      const binding = byName("defaults-sandbox-mutating-binding");
      expect(policy.type).toBe("kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicy");
      expect(policy.inputs).toMatchObject({ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicy", metadata: { name: "pd-pd-sandbox-executor-defaults" } });
      expect((policy.inputs.spec as { mutations: unknown[] }).mutations).toHaveLength(4);
      expect(binding.inputs).toMatchObject({
        kind: "MutatingAdmissionPolicyBinding",
        spec: { policyName: "pd-pd-sandbox-executor-defaults", matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "pd-sandbox" } } } },
      });
      for (const r of [policy, binding]) expect(r.parent.endsWith("::defaults-sandbox"), r.name).toBe(true);
    });

    it("the validating policy then requires the runtime class and the executors' registry; Warn is Warn + Audit", () => {
      const vap = JSON.stringify(byName("defaults-sandbox-validating-policy").inputs.spec);
      expect(vap).toContain("runtimeClassName");
      expect(vap).toContain("tools.example.com/executors/");
      expect((byName("defaults-sandbox-validating-binding").inputs.spec as Obj).validationActions).toEqual(["Warn", "Audit"]);
      expect(byName("defaults-sandbox-command-center-ingress").inputs.spec).toMatchObject({ ingress: [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } }] }] });
    });
  });

  describe("the ownership check reads exactly what each variant registers", () => {
    it.each([
      ["static", () => staticConfig],
      ["shared", () => sharedConfig],
      ["defaults", () => defaultsConfig],
      ["ecr", () => ecrConfig],
    ] as const)("%s", (platform, config) => {
      expect(objectsOf(platform)).toEqual(planned(config()));
    });
  });

  /**
   * Runs `fn` with the process's unhandledRejection listeners swapped for a collector. A failed
   * invoke rejects every Output derived from it, including Pulumi-internal ones nobody can observe;
   * in a real `pulumi up` the runtime reports them as the deployment's error. Here they are collected
   * and asserted on, instead of being reported by vitest as stray errors.
   */
  async function collectRejections(fn: () => Promise<void>): Promise<unknown[]> {
    const saved = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    const seen: unknown[] = [];
    const collector = (reason: unknown) => {
      seen.push(reason);
    };
    process.on("unhandledRejection", collector);
    try {
      await fn();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off("unhandledRejection", collector);
      for (const l of saved) process.on("unhandledRejection", l);
    }
    return seen;
  }

  describe("a bad ECR answer", () => {
    const ecr = (registryId: string) =>
      ({ mode: "ecr", region: "eu-west-1", registryId, server: `${registryId}.dkr.ecr.eu-west-1.amazonaws.com`, host: `${registryId}.dkr.ecr.eu-west-1.amazonaws.com` }) as const;

    it("an empty token fails the pull secret with a clear error", async () => {
      let error: unknown;
      const stray = await collectRejections(async () => {
        const pull = new RegistryPullSecret("empty", { instanceName: "e", registry: ecr(EMPTY_ACCOUNT), namespaces: {}, awsProvider: new AwsProvider("ecr-empty", { region: "eu-west-1" }) });
        error = await rejectionOf(pull.dockerConfigJson);
      });
      expect(String(error)).toMatch(/ECR returned an unusable authorization token \(the token is empty\)/);
      expect(String(error)).toMatch(/registryRegion and agent-platform:registryId/);
      for (const e of stray) expect(String(e)).toMatch(/the token is empty/);
    });

    it("a failing call surfaces the AWS error", async () => {
      let error: unknown;
      const stray = await collectRejections(async () => {
        const pull = new RegistryPullSecret("failing", { instanceName: "f", registry: ecr(FAILING_ACCOUNT), namespaces: {}, awsProvider: new AwsProvider("ecr-failing", { region: "eu-west-1" }) });
        error = await rejectionOf(pull.dockerConfigJson);
      });
      expect(String(error)).toMatch(/AccessDeniedException: not authorized to perform ecr:GetAuthorizationToken/);
      for (const e of stray) expect(String(e)).toMatch(/AccessDeniedException/);
    });

    it("ecr mode without an aws provider is refused up front", () => {
      expect(() => new RegistryPullSecret("noprov", { instanceName: "n", registry: ecr(GOOD_ACCOUNT), namespaces: {} })).toThrow(/explicit aws provider/);
    });
  });
}
