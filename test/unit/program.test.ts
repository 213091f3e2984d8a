// The whole program (index.ts) under Pulumi mocks with the dev stack's settings: what it registers,
// parents, secrecy, protection, RBAC, env, Pod Security, and its stack outputs.
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { find, ofType, registered, settle, setupMocks, valueOf, type Registered } from "./harness";
import { ecrInvokes, platformVariantTests } from "./platformVariants";
import { productionVariantTests } from "./productionVariants";
import { externalPostgresVariantTests } from "./externalPostgresVariants";
import { restrictedViolations } from "./podSecurity";
import type { LiveObject } from "../../components/builders/ownership";

const PEM = crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const HAND_SET_AUTH = "hand-set-auth-secret-value-0123456789";

/** The dev stack's settings (Pulumi.dev.yaml), with a hand-set secret. */
const DEV_CONFIG: Record<string, string> = {
  "pulumi:disable-default-providers": '["*"]',
  imageTag: "dev",
  publicUrl: "http://localhost:8080",
  registryMode: "none",
  registryServer: "localhost:5000/2501",
  licensePublicKey: PEM,
  postgresStorageSize: "1Gi",
  authSecret: HAND_SET_AUTH,
};
setupMocks(DEV_CONFIG, { secretKeys: ["authSecret"], invokes: ecrInvokes });

/** Replaces the stack config (keys without a namespace are the project's), as setupMocks does. */
function setStackConfig(values: Record<string, string>): void {
  const full = Object.fromEntries(Object.entries(values).map(([k, v]) => [k.includes(":") ? k : `agent-platform:${k}`, v]));
  pulumi.runtime.setAllConfig(full, ["agent-platform:authSecret"]);
}

type Program = Awaited<ReturnType<typeof import("../../index")>>;
let program: Program;
type Obj = Record<string, unknown>;
/** The cluster as the pre-flight checks see it: Kubernetes 1.36 and empty, so everything is created. */
const version = (minor: number) => async () => ({ major: 1, minor, gitVersion: `v1.${minor}.0` });
const emptyCluster = { read: async () => undefined, serverVersion: version(36) };

beforeAll(async () => {
  const main = (await import("../../index")).default;
  program = await main(emptyCluster);
  await settle();
});

const T = {
  ns: "kubernetes:core/v1:Namespace",
  secret: "kubernetes:core/v1:Secret",
  cm: "kubernetes:core/v1:ConfigMap",
  deploy: "kubernetes:apps/v1:Deployment",
  svc: "kubernetes:core/v1:Service",
  sa: "kubernetes:core/v1:ServiceAccount",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  binding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  pvc: "kubernetes:core/v1:PersistentVolumeClaim",
  gen: "pulumi-nodejs:dynamic/agent-platform:GeneratedSecretValue",
  netpol: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  limits: "kubernetes:core/v1:LimitRange",
  quota: "kubernetes:core/v1:ResourceQuota",
  saPatch: "kubernetes:core/v1:ServiceAccountPatch",
  vap: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy",
  vapb: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
  map: "kubernetes:admissionregistration.k8s.io/v1:MutatingAdmissionPolicy",
};
const podSpec = (d: Registered): Obj => (((d.inputs.spec as Obj).template as Obj).spec as Obj);
const env = (d: Registered): Obj[] => ((podSpec(d).containers as Obj[])[0].env as Obj[]);
const parentType = (r: Registered): string => r.parent.split("::")[2]?.split("$").pop() ?? "";

const DEV = /^(k8s|dynamic|platform)(-|$)/;

describe("what the dev stack registers", () => {
  it("registers the expected resources under one AgentPlatform", () => {
    const summary = registered.filter((r) => DEV.test(r.name)).map((r) => `${r.type} ${r.name}`).sort();
    expect(summary).toEqual(
      [
        "pulumi:providers:kubernetes k8s",
        "pulumi:providers:pulumi-nodejs dynamic",
        "agent-platform:index:AgentPlatform platform",
        "agent-platform:index:Namespaces platform-namespaces",
        "agent-platform:index:RegistryPullSecret platform-registry",
        "agent-platform:index:Workload platform-command-center",
        "agent-platform:index:Workload platform-engine",
        "agent-platform:index:ExecutorAccess platform-executor-access",
        "agent-platform:index:GeneratedSecrets platform-secrets",
        "agent-platform:index:Postgres platform-postgres",
        "agent-platform:index:Sandbox platform-sandbox",
        `${T.ns} platform-namespaces-workloads`,
        `${T.ns} platform-namespaces-executors`,
        `${T.netpol} platform-sandbox-executor-deny-all`,
        `${T.netpol} platform-sandbox-executor-egress`,
        `${T.netpol} platform-sandbox-default-deny-ingress`,
        `${T.netpol} platform-sandbox-postgres-ingress`,
        `${T.netpol} platform-sandbox-engine-ingress`,
        `${T.limits} platform-sandbox-limit-range`,
        `${T.quota} platform-sandbox-quota`,
        `${T.saPatch} platform-sandbox-default-service-account`,
        `${T.vap} platform-sandbox-validating-policy`,
        `${T.vapb} platform-sandbox-validating-binding`,
        `${T.sa} platform-executor-access-service-account`,
        `${T.role} platform-executor-access-role`,
        `${T.binding} platform-executor-access-role-binding`,
        `${T.gen} platform-secrets-postgres-password`,
        `${T.gen} platform-secrets-credential-encryption-key`,
        `${T.gen} platform-secrets-engine-api-key`,
        `${T.gen} platform-secrets-auth-secret`,
        `${T.gen} platform-secrets-log-encryption-key`,
        `${T.gen} platform-secrets-rollout-key`,
        `${T.secret} platform-postgres-secret`,
        `${T.pvc} platform-postgres-data`,
        `${T.deploy} platform-postgres-deployment`,
        `${T.svc} platform-postgres-service`,
        `${T.cm} platform-engine-config`,
        `${T.secret} platform-engine-secret`,
        `${T.secret} platform-engine-license`,
        `${T.deploy} platform-engine-deployment`,
        `${T.svc} platform-engine-service`,
        `${T.cm} platform-command-center-config`,
        `${T.secret} platform-command-center-secret`,
        `${T.deploy} platform-command-center-deployment`,
        `${T.svc} platform-command-center-service`,
      ].sort(),
    );
  });

  it("parents every resource: the platform at the top, each child under its component, names prefixed", () => {
    for (const r of registered) {
      if (r.type.startsWith("pulumi:providers:") || r.type === "agent-platform:index:AgentPlatform") {
        expect(r.parent, r.name).toBe("");
        continue;
      }
      expect(r.parent, r.name).not.toBe("");
      const parentName = r.parent.split("::").pop()!;
      expect(r.name.startsWith(`${parentName}-`), `${r.name} under ${parentName}`).toBe(true);
      if (r.type.startsWith("agent-platform:index:")) expect(parentType(r)).toBe("agent-platform:index:AgentPlatform");
      else expect(parentType(r)).toMatch(/^agent-platform:index:/);
    }
  });

  it("uses explicit providers only: Kubernetes and pulumi-nodejs (the generated secrets' dynamic provider)", () => {
    expect(ofType("pulumi:providers:kubernetes").map((r) => r.name)).toEqual(["k8s"]);
    expect(ofType("pulumi:providers:pulumi-nodejs").map((r) => r.name)).toEqual(["dynamic"]);
    for (const r of registered.filter((x) => x.custom && !x.type.startsWith("pulumi:providers:"))) {
      const expected = r.type.startsWith("kubernetes:") ? "pulumi:providers:kubernetes::k8s::" : "pulumi:providers:pulumi-nodejs::dynamic::";
      expect(r.provider, r.name).toContain(expected);
    }
    expect(registered.filter((r) => r.type.startsWith("pulumi:providers:aws"))).toEqual([]);
  });

  it("creates no pull secret in none mode and references none", () => {
    expect(ofType(T.secret).filter((s) => s.inputs.type === "kubernetes.io/dockerconfigjson")).toEqual([]);
    for (const d of ofType(T.deploy)) expect(podSpec(d).imagePullSecrets, d.name).toBeUndefined();
  });
});

describe("namespaces and executor RBAC", () => {
  it("keeps the workloads namespace on delete (it holds the postgres PVC)", () => {
    expect(find(T.ns, "platform-namespaces-workloads").retainOnDelete).toBe(true);
  });

  it("creates the sandbox namespace <namespace>-sandbox by default; restricted enforced in both, warned and audited", () => {
    const meta = (n: string) => find(T.ns, n).inputs.metadata as Obj;
    expect(meta("platform-namespaces-workloads").name).toBe("ai-2501");
    expect(meta("platform-namespaces-executors").name).toBe("ai-2501-sandbox");
    for (const n of ["platform-namespaces-workloads", "platform-namespaces-executors"]) {
      const labels = meta(n).labels as Obj;
      expect(labels["pod-security.kubernetes.io/enforce"], n).toBe("restricted");
      expect(labels["pod-security.kubernetes.io/warn"], n).toBe("restricted");
      expect(labels["pod-security.kubernetes.io/audit"], n).toBe("restricted");
    }
    // It holds no data: destroy deletes it, unlike the engine namespace.
    expect(find(T.ns, "platform-namespaces-executors").retainOnDelete).toBe(false);
  });

  it("creates ServiceAccount ai-2501-engine-executor and a Role with exactly the documented verbs", () => {
    expect(find(T.sa, "platform-executor-access-service-account").inputs.metadata).toMatchObject({ name: "ai-2501-engine-executor", namespace: "ai-2501" });
    const role = find(T.role, "platform-executor-access-role");
    expect((role.inputs.metadata as Obj).namespace).toBe("ai-2501-sandbox");
    expect(role.inputs.rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
      { apiGroups: [""], resources: ["pods/attach"], verbs: ["create", "get"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    ]);
    const binding = find(T.binding, "platform-executor-access-role-binding");
    expect(binding.inputs.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "ai-2501-engine-executor" });
    expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "ai-2501-engine-executor", namespace: "ai-2501" }]);
    expect((binding.inputs.metadata as Obj).namespace).toBe("ai-2501-sandbox");
    // No other Role or binding anywhere: the sandbox widens nothing.
    expect(ofType(T.role).filter((r) => DEV.test(r.name))).toHaveLength(1);
    expect(registered.filter((r) => /ClusterRole/.test(r.type))).toEqual([]);
  });
});

describe("the executor sandbox", () => {
  it("bounds executor containers and the namespace: LimitRange defaults and maximum, ResourceQuota", () => {
    const lr = find(T.limits, "platform-sandbox-limit-range");
    expect(lr.inputs.metadata).toMatchObject({ name: "ai-2501-executor-limits", namespace: "ai-2501-sandbox" });
    expect(lr.inputs.spec).toEqual({
      limits: [{ type: "Container", defaultRequest: { cpu: "250m", memory: "512Mi" }, default: { cpu: "500m", memory: "1Gi" }, max: { cpu: "2", memory: "4Gi" } }],
    });
    const q = find(T.quota, "platform-sandbox-quota");
    expect(q.inputs.metadata).toMatchObject({ name: "ai-2501-executor-quota", namespace: "ai-2501-sandbox" });
    expect(q.inputs.spec).toEqual({ hard: { pods: "20", "limits.cpu": "10", "limits.memory": "20Gi" } });
  });

  it("patches the sandbox's default ServiceAccount: no token automount; no pull secret in none mode", () => {
    const sa = find(T.saPatch, "platform-sandbox-default-service-account");
    expect(sa.inputs.metadata).toEqual({ name: "default", namespace: "ai-2501-sandbox" });
    expect(sa.inputs.automountServiceAccountToken).toBe(false);
    expect(sa.inputs.imagePullSecrets).toBeUndefined();
  });

  it("validates executor pods in the sandbox namespace only, refusing images from outside registryServer", () => {
    const vap = find(T.vap, "platform-sandbox-validating-policy");
    expect((vap.inputs.metadata as Obj).name).toBe("ai-2501-ai-2501-sandbox-executor-pods");
    const validations = (vap.inputs.spec as { validations: { expression: string }[] }).validations;
    expect(validations.some((v) => v.expression.includes(JSON.stringify("localhost:5000/2501/")))).toBe(true);
    const binding = find(T.vapb, "platform-sandbox-validating-binding");
    expect(binding.inputs.spec).toEqual({
      policyName: "ai-2501-ai-2501-sandbox-executor-pods",
      validationActions: ["Deny"],
      matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ai-2501-sandbox" } } },
    });
    // No pod default configured: no mutating policy.
    expect(registered.filter((r) => r.type === T.map)).toEqual([]);
  });

  it("isolates the sandbox and the engine namespace with NetworkPolicies in the right namespaces", () => {
    const where = Object.fromEntries(
      ofType(T.netpol).filter((r) => DEV.test(r.name)).map((r) => [r.name.replace("platform-sandbox-", ""), (r.inputs.metadata as Obj).namespace]),
    );
    expect(where).toEqual({
      "executor-deny-all": "ai-2501-sandbox",
      "executor-egress": "ai-2501-sandbox",
      "default-deny-ingress": "ai-2501",
      "postgres-ingress": "ai-2501",
      "engine-ingress": "ai-2501",
    });
    expect(find(T.netpol, "platform-sandbox-executor-deny-all").inputs.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });
  });

  it("puts every sandbox object under the Sandbox component, none holding a secret", () => {
    const children = registered.filter((r) => r.parent.endsWith("::platform-sandbox"));
    expect(children).toHaveLength(10);
    for (const r of children) {
      expect(parentType(r), r.name).toBe("agent-platform:index:Sandbox");
      expect(r.secretPaths, r.name).toEqual([]);
    }
  });
});


describe("generated secrets", () => {
  it("are five protected dynamic resources whose value is an additional secret output", () => {
    const gens = ofType(T.gen).filter((g) => g.name !== "platform-secrets-rollout-key");
    expect(gens).toHaveLength(5);
    for (const g of gens) {
      expect(g.protect, g.name).toBe(true);
      expect(g.additionalSecretOutputs).toEqual(["value"]);
      expect(typeof g.inputs.__provider).toBe("string");
      expect(g.inputs.rotation).toBe("");
    }
    expect(find(T.gen, "platform-secrets-credential-encryption-key").inputs).toMatchObject({ bytes: 32, encoding: "hex" });
  });

  it("the rollout checksum has its own key, started from the generated auth secret, so rotating one secret rolls only its users", async () => {
    const key = find(T.gen, "platform-secrets-rollout-key");
    const auth = find(T.gen, "platform-secrets-auth-secret");
    // Unprotected (it only keys checksums), never rotated, created from the generated auth
    // secret (as a secret input): stacks deployed before it keep every checksum, so no pod rolls.
    expect(key.protect).toBe(false);
    expect(key.inputs.rotation).toBe("");
    expect(key.secretPaths).toContain("initial");
    expect(key.additionalSecretOutputs).toEqual(["value"]);
    expect(typeof key.inputs.initial).toBe("string");
    expect(key.inputs.initial).not.toBe(HAND_SET_AUTH);
    expect(auth.inputs.initial).toBeUndefined();
    // The postgres pod's checksum is keyed with it: its Secret data under the rollout key.
    const pg = find(T.secret, "platform-postgres-secret").inputs.data as Record<string, string>;
    const password = Buffer.from(pg.POSTGRES_PASSWORD, "base64").toString();
    const d = find(T.deploy, "platform-postgres-deployment");
    const annotations = (((d.inputs.spec as Obj).template as Obj).metadata as Obj).annotations as Obj;
    const { configChecksum } = await import("../../components/builders/security");
    expect(annotations["agent-platform.io/config-checksum"]).toBe(configChecksum({ secret: { POSTGRES_PASSWORD: password } }, String(key.inputs.initial)));
  });

  it("go into the engine Secret; a hand-set value wins over the generated one", async () => {
    const data = find(T.secret, "platform-engine-secret").inputs.data as Record<string, string>;
    const decoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    expect(Object.keys(decoded).sort()).toEqual(["AUTH_SECRET", "CREDENTIAL_ENCRYPTION_KEY", "DB_PASSWORD", "ENGINE_API_KEY", "LOG_ENCRYPTION_KEY"]);
    expect(decoded.AUTH_SECRET).toBe(HAND_SET_AUTH);
    expect(decoded.CREDENTIAL_ENCRYPTION_KEY).toMatch(/^[0-9a-f]{64}$/);
    expect(decoded.ENGINE_API_KEY).toBe(await valueOf(program.engineApiKey));
    const pg = find(T.secret, "platform-postgres-secret").inputs.data as Record<string, string>;
    expect(Buffer.from(pg.POSTGRES_PASSWORD, "base64").toString()).toBe(decoded.DB_PASSWORD);
  });

  it("keep Secret data secret in what is sent to the engine; Deployments hold no secret at all", () => {
    for (const name of ["platform-engine-secret", "platform-postgres-secret", "platform-command-center-secret"]) {
      expect(find(T.secret, name).secretPaths, name).toEqual(["data"]);
    }
    // The rollout checksum is a keyed HMAC, so it is plain: the pod spec stays readable in diffs.
    for (const d of ofType(T.deploy)) expect(d.secretPaths, d.name).toEqual([]);
    for (const c of ofType(T.cm)) expect(JSON.stringify(c.inputs)).not.toContain(HAND_SET_AUTH);
  });
});

describe("postgres", () => {
  it("keeps its data: the PVC is protected and retained on delete", () => {
    const pvc = find(T.pvc, "platform-postgres-data");
    expect(pvc.protect).toBe(true);
    expect(pvc.retainOnDelete).toBe(true);
    expect(pvc.inputs.spec).toMatchObject({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } });
  });

  it("uses the PVC and the Secret by their stable names, Recreate (old pod stopped first on replacement), and a named Service", () => {
    const d = find(T.deploy, "platform-postgres-deployment");
    expect((d.inputs.spec as Obj).strategy).toEqual({ type: "Recreate" });
    expect(d.deleteBeforeReplace).toBe(true);
    expect(podSpec(d).volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "ai-2501-postgres-data" } });
    expect(env(d)).toContainEqual({ name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "ai-2501-postgres", key: "POSTGRES_PASSWORD" } } });
    expect((find(T.svc, "platform-postgres-service").inputs.metadata as Obj).name).toBe("ai-2501-postgres");
  });
});

describe("engine and command center", () => {
  it("every pod spec passes Pod Security restricted", () => {
    const deployments = ofType(T.deploy);
    expect(deployments).toHaveLength(3);
    for (const d of deployments) expect(restrictedViolations(podSpec(d)), d.name).toEqual([]);
  });

  it("the engine runs as ai-2501-engine-executor with the kube backend, the CA bundle and the sandbox namespace", () => {
    const d = find(T.deploy, "platform-engine-deployment");
    expect(podSpec(d).serviceAccountName).toBe("ai-2501-engine-executor");
    const e = env(d);
    expect(e).toContainEqual({ name: "EXECUTOR_MCP_BACKEND", value: "kube" });
    expect(e).toContainEqual({ name: "NODE_EXTRA_CA_CERTS", value: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" });
    expect(e).toContainEqual({ name: "EXECUTOR_MCP_K8S_NAMESPACE", value: "ai-2501-sandbox" });
    expect((podSpec(d).containers as Obj[])[0].image).toBe("localhost:5000/2501/engine:dev");
  });

  it("every engine env var that holds a secret comes from a secretKeyRef; the rest from its ConfigMap", () => {
    const d = find(T.deploy, "platform-engine-deployment");
    const secretKeys = Object.keys(find(T.secret, "platform-engine-secret").inputs.data as Obj);
    const configKeys = Object.keys(find(T.cm, "platform-engine-config").inputs.data as Obj);
    for (const key of secretKeys) {
      expect(env(d)).toContainEqual({ name: key, valueFrom: { secretKeyRef: { name: "ai-2501-engine", key } } });
    }
    for (const key of configKeys) {
      expect(env(d)).toContainEqual({ name: key, valueFrom: { configMapKeyRef: { name: "ai-2501-engine", key } } });
    }
    expect(env(d)).toHaveLength(secretKeys.length + configKeys.length + 3);
    expect(env(d).filter((v) => "value" in v).map((v) => v.name).sort()).toEqual(["EXECUTOR_MCP_BACKEND", "EXECUTOR_MCP_K8S_NAMESPACE", "NODE_EXTRA_CA_CERTS"]);
  });

  it("the command center gets BASE_URL = publicUrl and its secrets by reference", () => {
    expect(find(T.cm, "platform-command-center-config").inputs.data).toMatchObject({ BASE_URL: "http://localhost:8080", ENGINE_URL: "http://ai-2501-engine.ai-2501.svc:8080" });
    const d = find(T.deploy, "platform-command-center-deployment");
    for (const key of ["ENGINE_API_KEY", "AUTH_SECRET"]) {
      expect(env(d)).toContainEqual({ name: key, valueFrom: { secretKeyRef: { name: "ai-2501-command-center", key } } });
    }
  });

  it("up waits for the Deployments (Available), never for a Service's fixed settle time", () => {
    const services = ofType(T.svc);
    expect(services).toHaveLength(3);
    for (const s of services) expect(((s.inputs.metadata as Obj).annotations as Obj)["pulumi.com/skipAwait"], s.name).toBe("true");
    // Nothing else skips the provider's await: a Deployment that did would let `up` return before its pods are Ready.
    const skipping = registered
      .filter((r) => r.type !== T.svc && (((r.inputs.metadata as Obj | undefined)?.annotations as Obj | undefined)?.["pulumi.com/skipAwait"] !== undefined))
      .map((r) => r.name);
    expect(skipping).toEqual([]);
  });

  it("the rollout checksum covers config and secret data", () => {
    const d = find(T.deploy, "platform-engine-deployment");
    const annotations = (((d.inputs.spec as Obj).template as Obj).metadata as Obj).annotations as Obj;
    expect(annotations["agent-platform.io/config-checksum"]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("ownership", () => {
  const kubernetesObjects = () =>
    registered.filter((r) => r.custom && r.type.startsWith("kubernetes:") && DEV.test(r.name) && !r.type.endsWith("Patch"));

  it("marks every Kubernetes object with the owning stack", () => {
    for (const r of kubernetesObjects()) {
      expect(((r.inputs.metadata as Obj).annotations as Obj)["agent-platform.io/owned-by"], r.name).toBe("organization/agent-platform/dev");
    }
  });

  it("checks exactly the objects it registers, under their stable names", async () => {
    const { loadConfig } = await import("../../config");
    const { plannedObjects } = await import("../../components/builders/inventory");
    const planned = plannedObjects(loadConfig()).map((o) => `${o.kind} ${o.namespace ?? ""}/${o.name}`).sort();
    const actual = kubernetesObjects()
      .map((r) => `${r.type.split(":")[2]} ${((r.inputs.metadata as Obj).namespace as string | undefined) ?? ""}/${(r.inputs.metadata as Obj).name as string}`)
      .sort();
    expect(actual).toEqual(planned);
    expect(actual).toContain("Deployment ai-2501/ai-2501-engine");
    expect(actual).toContain("PersistentVolumeClaim ai-2501/ai-2501-postgres-data");
    expect(actual).toContain("LimitRange ai-2501-sandbox/ai-2501-executor-limits");
    expect(actual).toContain("ValidatingAdmissionPolicy /ai-2501-ai-2501-sandbox-executor-pods");
  });

  it("refuses, before registering anything, to create what exists and is someone else's", async () => {
    const before = registered.length;
    const main = (await import("../../index")).default;
    const taken = async (ref: { kind: string; name: string }) =>
      ref.kind === "Service" && ref.name === "ai-2501-engine" ? { annotations: { "agent-platform.io/owned-by": "organization/agent-platform/prod" } } : undefined;
    await expect(main({ read: taken, serverVersion: version(36) })).rejects.toThrow(/Nothing was changed: 1 problem\(s\)[\s\S]*Service ai-2501\/ai-2501-engine already exists and belongs to stack organization\/agent-platform\/prod/);
    await settle();
    expect(registered.length).toBe(before);
  });
});

describe("the cluster pre-flight", () => {
  it("refuses sandboxPodDefaults on a cluster older than 1.36, naming the version, before registering anything", async () => {
    const before = registered.length;
    const main = (await import("../../index")).default;
    try {
      setStackConfig({ ...DEV_CONFIG, sandboxPodDefaults: JSON.stringify({ runtimeClassName: "gvisor" }) });
      await expect(main({ read: async () => undefined, serverVersion: version(35) })).rejects.toThrow(
        /Nothing was changed: this cluster \(v1\.35\.0\) cannot honour[\s\S]*agent-platform:sandboxPodDefaults: .*MutatingAdmissionPolicy.*Kubernetes 1\.36 or newer\); this cluster is 1\.35/,
      );
      // Without pod defaults the same cluster passes the version check (and reaches the ownership check).
      setStackConfig(DEV_CONFIG);
      const reads: string[] = [];
      const stop = async (r: { kind: string }) => {
        reads.push(r.kind);
        throw new Error("stop here");
      };
      await expect(main({ read: stop, serverVersion: version(35) })).rejects.toThrow(/could not check what already exists in the cluster: stop here/);
      expect(reads.length).toBeGreaterThan(0);
    } finally {
      setStackConfig(DEV_CONFIG);
    }
    await settle();
    expect(registered.length).toBe(before);
  });
});

describe("the postgres major check", () => {
  // The live objects as the pre-flight reads them: the stack's postgres Deployment mounts a claim
  // adopted from an installer (another name than <instance>-postgres-data), recorded as major 15.
  const adopted = (reads: string[]) => async (r: { kind: string; name: string }): Promise<LiveObject | undefined> => {
    reads.push(`${r.kind} ${r.name}`);
    const ours = { "agent-platform.io/owned-by": "organization/agent-platform/dev" };
    if (r.kind === "Deployment" && r.name === "ai-2501-postgres") return { annotations: ours, claimNames: ["postgres-data"] };
    if (r.kind === "PersistentVolumeClaim" && r.name === "postgres-data") return { annotations: { ...ours, "agent-platform.io/postgres-major": "15" } };
    return undefined;
  };

  it("follows the live postgres Deployment to the claim it mounts and refuses another major there, before registering anything", async () => {
    const before = registered.length;
    const main = (await import("../../index")).default;
    const reads: string[] = [];
    await expect(main({ read: adopted(reads), serverVersion: version(36) })).rejects.toThrow(
      /Nothing was changed: agent-platform:postgresImage = "postgres:16" is PostgreSQL 16, but the data in claim ai-2501\/postgres-data was last deployed with PostgreSQL 15/,
    );
    expect(reads).toContain("PersistentVolumeClaim postgres-data");
    await settle();
    expect(registered.length).toBe(before);
  });

  it("passes the same data with its own major version", async () => {
    const main = (await import("../../index")).default;
    try {
      setStackConfig({ ...DEV_CONFIG, postgresImage: "postgres:15.8" });
      const reads: string[] = [];
      // It gets past the check: the ownership check has nothing to refuse, so the program runs on.
      await expect(main({ read: adopted(reads), serverVersion: version(36) })).resolves.toBeDefined();
      expect(reads).toContain("PersistentVolumeClaim postgres-data");
    } finally {
      setStackConfig(DEV_CONFIG);
    }
    await settle();
  });
});

describe("stack outputs", () => {
  it("exports namespaces, service names, the executor account and no pull-secret expiry in none mode", async () => {
    expect(await valueOf(program.namespace)).toBe("ai-2501");
    expect(await valueOf(program.executorNamespace)).toBe("ai-2501-sandbox");
    expect(await valueOf(program.engineServiceName)).toBe("ai-2501-engine");
    expect(await valueOf(program.commandCenterServiceName)).toBe("ai-2501-command-center");
    expect(await valueOf(program.postgresServiceName)).toBe("ai-2501-postgres");
    expect(await valueOf(program.executorServiceAccount)).toBe("ai-2501-engine-executor");
    expect(await valueOf(program.pullSecretExpiresAt)).toBeNull();
    expect(program.pullSecretName).toBeNull();
  });

  it("exports the engine API key as a secret output", async () => {
    expect(await pulumi.isSecret(program.engineApiKey)).toBe(true);
    expect(await valueOf(program.engineApiKey)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await pulumi.isSecret(program.namespace)).toBe(false);
  });
});

// ECR, static, separate executor namespace, Elasticsearch/AWS, bad ECR answers: same runtime,
// registered after the dev program's tests above have run.
describe("other configurations", () => {
  platformVariantTests();
});

// Ingress/HTTPRoute, PDBs, autoscalers, engine shutdown, executor cleanup, ServiceMonitors.
describe("production readiness options", () => {
  productionVariantTests();
});

// An external PostgreSQL instead of the in-cluster one, and the switch to it.
describe("external PostgreSQL", () => {
  externalPostgresVariantTests();
});

describe("loadConfig through the Pulumi SDK", () => {
  it("reads secrets as secret Outputs and the rest as validated values", async () => {
    const { loadConfig } = await import("../../config");
    pulumi.runtime.setAllConfig(
      {
        "agent-platform:imageTag": "2.0.0",
        "agent-platform:publicUrl": "https://a.example.com",
        "agent-platform:licensePublicKey": PEM,
        "agent-platform:registryMode": "static",
        "agent-platform:registryServer": "r.example.com",
        "agent-platform:registryUsername": "robot",
        "agent-platform:registryPassword": "registry-secret",
        "agent-platform:engineApiKey": "",
        "agent-platform:engineReplicas": "3",
      },
      ["agent-platform:registryPassword"],
    );
    const c = loadConfig();
    expect(c.engine.replicas).toBe(3);
    expect(c.registry).toMatchObject({ mode: "static", username: "robot" });
    expect(await pulumi.isSecret(c.secrets.registryPassword!)).toBe(true);
    expect(await valueOf(c.secrets.registryPassword!)).toBe("registry-secret");
    // "" (the Pulumi.yaml default) means unset: the generated value is used.
    expect(c.secrets.overrides.engineApiKey).toBeUndefined();
  });

  it("throws one ConfigError with every problem and registers nothing", async () => {
    const { loadConfig, ConfigError } = await import("../../config");
    pulumi.runtime.setAllConfig({ "agent-platform:namespace": "Bad_NS", "agent-platform:engineReplicas": "0" }, []);
    const before = registered.length;
    let error: unknown;
    try {
      loadConfig();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as InstanceType<typeof ConfigError>).issues.map((i) => i.key).sort()).toEqual(["engineReplicas", "imageTag", "licensePublicKey", "namespace", "publicUrl"]);
    await settle();
    expect(registered.length).toBe(before);
  });
});
