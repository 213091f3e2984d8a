// Pure builder functions: the Kubernetes objects the components create, tested without the engine.
import { describe, expect, it } from "vitest";
import { commandCenterWorkload } from "../../components/builders/commandCenter";
import { hardenedCronJobArgs, type HardenedCronJob } from "../../components/builders/cronJob";
import { LICENSE_DIR, LICENSE_FILE, SERVICE_ACCOUNT_CA, engineFixedEnv, engineUrl, engineWorkload } from "../../components/builders/engine";
import { namespaceArgs, podSecurityLabels } from "../../components/builders/namespaces";
import { PGDATA, PGDATA_MOUNT, postgresDeploymentArgs, postgresPvcArgs, postgresServiceArgs } from "../../components/builders/postgres";
import { EXECUTOR_RULES, executorAccountName, roleArgs, roleBindingArgs, serviceAccountArgs } from "../../components/builders/rbac";
import { EcrTokenError, dockerConfigJson, parseEcrAuthorizationToken, pullSecretArgs, toSecretData } from "../../components/builders/registry";
import { CHECKSUM_ANNOTATION, configChecksum } from "../../components/builders/security";
import { workloadDeploymentArgs, workloadServiceArgs, type WorkloadSpec } from "../../components/builders/workload";
import { restrictedViolations } from "./podSecurity";

const res = { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "1Gi" } };
type Obj = Record<string, unknown>;
const podSpecOf = (d: Obj): Obj => ((d.spec as Obj).template as Obj).spec as Obj;
const containerOf = (d: Obj): Obj => (podSpecOf(d).containers as Obj[])[0];
const envOf = (d: Obj): Obj[] => containerOf(d).env as Obj[];

const PEM = "-----BEGIN PUBLIC KEY-----\nMFk=\n-----END PUBLIC KEY-----\n";
const engineSpec = (over: Partial<Parameters<typeof engineWorkload>[0]> = {}): WorkloadSpec =>
  engineWorkload({
    instance: "ai-2501",
    image: "r/engine:1",
    replicas: 2,
    resources: res,
    serviceAccountName: "engine-executor",
    executors: { namespace: "ai-2501", separate: false },
    licensePublicKeyPem: PEM,
    secrets: { postgresPassword: "a", credentialEncryptionKey: "b", engineApiKey: "c", authSecret: "d", logEncryptionKey: "e" },
    ...over,
  });
const refs = (prefix: string, checksum: string, imagePullSecretName?: string) => ({
  namespace: "ai-2501",
  configMapName: `${prefix}-config`,
  secretName: `${prefix}-secret`,
  filesSecretName: `${prefix}-license`,
  checksum,
  imagePullSecretName,
});
const engine = workloadDeploymentArgs(
  engineSpec({ elasticsearch: { url: "https://es", username: "u" }, secrets: { postgresPassword: "a", credentialEncryptionKey: "b", engineApiKey: "c", authSecret: "d", logEncryptionKey: "e", elasticsearchPassword: "f", aws: { accessKeyId: "g", secretAccessKey: "h" } } }),
  refs("engine", "abc", "ai-2501-registry"),
) as unknown as Obj;
const ccSpec = commandCenterWorkload({
  instance: "ai-2501",
  image: "r/cc:1",
  replicas: 1,
  resources: res,
  publicUrl: "https://agents.example.com",
  engineUrl: engineUrl("ai-2501", "ns"),
  secrets: { engineApiKey: "a", authSecret: "b" },
});
const commandCenter = workloadDeploymentArgs(ccSpec, refs("cc", "def")) as unknown as Obj;
const postgres = postgresDeploymentArgs({
  namespace: "ai-2501",
  instance: "ai-2501",
  image: "postgres:16",
  resources: res,
  secretName: "pg-secret",
  pvcName: "pg-data",
  checksum: "ghi",
}) as unknown as Obj;

describe("executor RBAC", () => {
  it("grants exactly the documented verbs, no wildcard", () => {
    const rules = (roleArgs("ns", "i") as unknown as { rules: Obj[] }).rules;
    expect(rules).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] },
      { apiGroups: [""], resources: ["pods/attach"], verbs: ["create", "get"] },
      { apiGroups: [""], resources: ["pods/status"], verbs: ["get"] },
      { apiGroups: [""], resources: ["pods/log"], verbs: ["get"] },
    ]);
    expect(JSON.stringify(EXECUTOR_RULES)).not.toContain("*");
  });

  it("binds the engine-namespace ServiceAccount in the executor namespace", () => {
    const b = roleBindingArgs("sandbox", "role-x", "ai-2501", "i") as unknown as Obj;
    expect((b.metadata as Obj).namespace).toBe("sandbox");
    expect(b.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "role-x" });
    expect(b.subjects).toEqual([{ kind: "ServiceAccount", name: "i-engine-executor", namespace: "ai-2501" }]);
    const sa = serviceAccountArgs("ai-2501", "i", "pull") as unknown as Obj;
    expect(sa.metadata).toMatchObject({ name: executorAccountName("i"), namespace: "ai-2501" });
    expect(sa.imagePullSecrets).toEqual([{ name: "pull" }]);
  });
});

describe("registry pull secret", () => {
  it("round-trips: base64 -> JSON -> auth user:pass", () => {
    const data = toSecretData({ ".dockerconfigjson": dockerConfigJson("reg.example.com", { username: "robot", password: "p@ss:word" }) });
    const args = pullSecretArgs("ai-2501-registry", "ns", "i", data) as unknown as Obj;
    expect(args.type).toBe("kubernetes.io/dockerconfigjson");
    const json = JSON.parse(Buffer.from((args.data as Record<string, string>)[".dockerconfigjson"], "base64").toString("utf8"));
    const entry = json.auths["reg.example.com"];
    expect(entry.username).toBe("robot");
    expect(entry.password).toBe("p@ss:word");
    expect(Buffer.from(entry.auth, "base64").toString("utf8")).toBe("robot:p@ss:word");
    expect(Object.keys(json.auths)).toEqual(["reg.example.com"]);
  });

  it("decodes an ECR token", () => {
    const token = Buffer.from("AWS:eyJwYXlsb2FkIjoiIn0=").toString("base64");
    expect(parseEcrAuthorizationToken(token)).toEqual({ username: "AWS", password: "eyJwYXlsb2FkIjoiIn0=" });
  });

  it.each([
    ["", /token is empty/],
    [undefined, /token is empty/],
    ["   ", /token is empty/],
    ["not base64!", /not base64/],
    [Buffer.from("AWS-no-colon").toString("base64"), /not of the form user:password/],
    [Buffer.from(":password").toString("base64"), /not of the form user:password/],
    [Buffer.from("AWS:").toString("base64"), /empty password/],
  ])("rejects a bad ECR token %j with a clear error", (token, why) => {
    expect(() => parseEcrAuthorizationToken(token)).toThrow(EcrTokenError);
    expect(() => parseEcrAuthorizationToken(token)).toThrow(why);
    expect(() => parseEcrAuthorizationToken(token)).toThrow(/registryRegion and agent-platform:registryId/);
  });
});

describe("Pod Security", () => {
  it.each([
    ["engine", engine],
    ["command center", commandCenter],
    ["postgres", postgres],
  ])("the %s pod spec passes the restricted profile", (_n, d) => {
    expect(restrictedViolations(podSpecOf(d))).toEqual([]);
  });

  it("the checker catches what restricted forbids", () => {
    const bad = {
      hostNetwork: true,
      volumes: [{ name: "h", hostPath: { path: "/" } }],
      containers: [{ name: "c", ports: [{ containerPort: 80, hostPort: 80 }], securityContext: { privileged: true, capabilities: { add: ["SYS_ADMIN"] } } }],
    };
    const v = restrictedViolations(bad);
    for (const m of [/hostNetwork/, /hostPath/, /hostPort/, /privileged/, /allowPrivilegeEscalation/, /runAsNonRoot/, /seccompProfile/, /drop ALL/, /SYS_ADMIN/]) {
      expect(v.some((x) => m.test(x)), String(m)).toBe(true);
    }
    const rootUser = podSpecOf(engine);
    expect(restrictedViolations({ ...rootUser, securityContext: { ...(rootUser.securityContext as Obj), runAsUser: 0 } })).toContain("pod runAsUser is 0");
  });

  it("namespaces carry enforce at the given level and warn/audit at restricted", () => {
    expect(podSecurityLabels("baseline")).toMatchObject({
      "pod-security.kubernetes.io/enforce": "baseline",
      "pod-security.kubernetes.io/warn": "restricted",
      "pod-security.kubernetes.io/audit": "restricted",
    });
    const ns = namespaceArgs("ai-2501", "workloads", "restricted", "ai-2501") as unknown as Obj;
    expect((ns.metadata as Obj).labels).toMatchObject({
      "pod-security.kubernetes.io/enforce": "restricted",
      "app.kubernetes.io/part-of": "agent-platform",
      "app.kubernetes.io/managed-by": "pulumi",
      "app.kubernetes.io/instance": "ai-2501",
    });
  });
});

describe("engine", () => {
  it("fixes the executor backend, the CA bundle and the executor namespace", () => {
    const env = envOf(engine);
    expect(env).toContainEqual({ name: "EXECUTOR_MCP_BACKEND", value: "kube" });
    expect(env).toContainEqual({ name: "NODE_EXTRA_CA_CERTS", value: SERVICE_ACCOUNT_CA });
    expect(env).toContainEqual({ name: "EXECUTOR_MCP_K8S_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } });
    expect(engineFixedEnv({ namespace: "sandbox", separate: true })).toContainEqual({ name: "EXECUTOR_MCP_K8S_NAMESPACE", value: "sandbox" });
  });

  it("reads every secret value through a secretKeyRef and every setting through a configMapKeyRef, each once", () => {
    const env = envOf(engine);
    const secretRefs = env.filter((e) => JSON.stringify(e).includes("secretKeyRef")).map((e) => e.name);
    expect(secretRefs.sort()).toEqual(
      ["AUTH_SECRET", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CREDENTIAL_ENCRYPTION_KEY", "DB_PASSWORD", "ELASTICSEARCH_PASSWORD", "ENGINE_API_KEY", "LOG_ENCRYPTION_KEY"],
    );
    for (const e of env.filter((x) => JSON.stringify(x).includes("secretKeyRef"))) {
      expect(e).toEqual({ name: e.name, valueFrom: { secretKeyRef: { name: "engine-secret", key: e.name } } });
    }
    expect(env).toContainEqual({ name: "DB_HOST", valueFrom: { configMapKeyRef: { name: "engine-config", key: "DB_HOST" } } });
    expect(env).toContainEqual({ name: "ELASTICSEARCH_URL", valueFrom: { configMapKeyRef: { name: "engine-config", key: "ELASTICSEARCH_URL" } } });
    // No env var carries a literal value except the fixed, non-secret ones.
    expect(env.filter((e) => "value" in e).map((e) => e.name).sort()).toEqual(["EXECUTOR_MCP_BACKEND", "NODE_EXTRA_CA_CERTS"]);
    const names = env.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("runs as engine-executor, hardened, with probes, resources, the pull secret, the license file and the rollout checksum", () => {
    const pod = podSpecOf(engine);
    const c = containerOf(engine);
    expect(pod.serviceAccountName).toBe("engine-executor");
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.imagePullSecrets).toEqual([{ name: "ai-2501-registry" }]);
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
    expect(c.volumeMounts).toContainEqual({ name: "license", mountPath: LICENSE_DIR, readOnly: true });
    expect(pod.volumes).toContainEqual({ name: "license", secret: { secretName: "engine-license", items: [{ key: LICENSE_FILE, path: LICENSE_FILE }] } });
    expect(pod.volumes).toContainEqual({ name: "tmp", emptyDir: {} });
    expect(c.readinessProbe).toMatchObject({ tcpSocket: { port: "http" } });
    expect(c.resources).toEqual(res);
    expect((((engine.spec as Obj).template as Obj).metadata as Obj).annotations).toEqual({ [CHECKSUM_ANNOTATION]: "abc" });
    expect((engine.spec as Obj).replicas).toBe(2);
  });

  it("passes Elasticsearch and AWS settings only when configured", () => {
    const plain = engineSpec();
    expect(plain.config).not.toHaveProperty("ELASTICSEARCH_URL");
    expect(Object.keys(plain.secretEnv).sort()).toEqual(["AUTH_SECRET", "CREDENTIAL_ENCRYPTION_KEY", "DB_PASSWORD", "ENGINE_API_KEY", "LOG_ENCRYPTION_KEY"]);
    expect(engineSpec({ instance: "x", elasticsearch: { url: "https://es", username: "u" }, aws: { region: "eu-west-1" } }).config).toMatchObject({
      ELASTICSEARCH_URL: "https://es",
      ELASTICSEARCH_USERNAME: "u",
      AWS_REGION: "eu-west-1",
      DB_HOST: "x-postgres",
    });
  });

  it("has a named ClusterIP Service selecting its pods", () => {
    const s = workloadServiceArgs(engineSpec(), "ns") as unknown as Obj;
    expect((s.metadata as Obj).name).toBe("ai-2501-engine");
    expect((s.spec as Obj).selector).toEqual(((engine.spec as Obj).selector as Obj).matchLabels);
    expect((s.spec as Obj).ports).toEqual([{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }]);
  });
});

describe("command center", () => {
  it("has BASE_URL = the public URL, reaches the engine by its Service, and gets no API token", () => {
    expect(ccSpec.config).toMatchObject({ BASE_URL: "https://agents.example.com", ENGINE_URL: "http://ai-2501-engine.ns.svc:8080" });
    expect(Object.keys(ccSpec.secretEnv).sort()).toEqual(["AUTH_SECRET", "ENGINE_API_KEY"]);
    const env = envOf(commandCenter);
    expect(env).toContainEqual({ name: "ENGINE_API_KEY", valueFrom: { secretKeyRef: { name: "cc-secret", key: "ENGINE_API_KEY" } } });
    expect(env).toContainEqual({ name: "BASE_URL", valueFrom: { configMapKeyRef: { name: "cc-config", key: "BASE_URL" } } });
    const pod = podSpecOf(commandCenter);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod).not.toHaveProperty("serviceAccountName");
    expect(pod.volumes).toEqual([{ name: "tmp", emptyDir: {} }]);
    expect((workloadServiceArgs(ccSpec, "ns") as unknown as { metadata: Obj }).metadata.name).toBe("ai-2501-command-center");
  });
});

describe("postgres", () => {
  it("uses Recreate, uid/gid 999 with fsGroup, a PGDATA subdirectory and pg_isready probes", () => {
    expect((postgres.spec as Obj).strategy).toEqual({ type: "Recreate" });
    expect(podSpecOf(postgres).securityContext).toMatchObject({ runAsUser: 999, runAsGroup: 999, fsGroup: 999, runAsNonRoot: true });
    const env = envOf(postgres);
    expect(env).toContainEqual({ name: "PGDATA", value: PGDATA });
    // initdb refuses a mount point holding lost+found: the data directory is below the mount.
    expect(PGDATA.startsWith(`${PGDATA_MOUNT}/`)).toBe(true);
    expect(containerOf(postgres).volumeMounts).toContainEqual({ name: "data", mountPath: PGDATA_MOUNT });
    expect(env).toContainEqual({ name: "POSTGRES_PASSWORD", valueFrom: { secretKeyRef: { name: "pg-secret", key: "POSTGRES_PASSWORD" } } });
    expect(JSON.stringify(containerOf(postgres).readinessProbe)).toContain("pg_isready");
    expect(podSpecOf(postgres).volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: "pg-data" } });
    const pvc = postgresPvcArgs("ns", "i", "5Gi", "gp3") as unknown as { spec: Obj };
    expect(pvc.spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "gp3", resources: { requests: { storage: "5Gi" } } });
    expect((postgresServiceArgs("ns", "ai-2501") as unknown as { metadata: Obj }).metadata.name).toBe("ai-2501-postgres");
  });
});

describe("config checksum", () => {
  it("is stable under key order and changes with any value", () => {
    const key = "k".repeat(32);
    const a = configChecksum({ config: { A: "1", B: "2" }, secret: { S: "x" } }, key);
    expect(configChecksum({ secret: { S: "x" }, config: { B: "2", A: "1" } }, key)).toBe(a);
    expect(configChecksum({ config: { A: "1", B: "2" }, secret: { S: "y" } }, key)).not.toBe(a);
    expect(configChecksum({ config: { A: "1", B: "3" }, secret: { S: "x" } }, key)).not.toBe(a);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is keyed: without the random key the digest of a guessed password does not match", () => {
    const parts = { secret: { POSTGRES_PASSWORD: "password" } };
    const a = configChecksum(parts, "a".repeat(43));
    expect(configChecksum(parts, "b".repeat(43))).not.toBe(a);
    expect(a).not.toBe(require("crypto").createHash("sha256").update(JSON.stringify([["secret", [["POSTGRES_PASSWORD", "password"]]]])).digest("hex"));
    expect(() => configChecksum(parts, "short")).toThrow(/random key/);
  });
});

describe("the CronJob shape", () => {
  const base: HardenedCronJob = {
    name: "ai-job",
    namespace: "ai",
    labels: { a: "b" },
    schedule: "@hourly",
    startingDeadlineSeconds: 60,
    successfulJobsHistoryLimit: 1,
    backoffLimit: 1,
    activeDeadlineSeconds: 600,
    uid: 1000,
    container: { name: "job", image: "img:1", command: ["true"] },
  };
  const job = (c: HardenedCronJob) => ((hardenedCronJobArgs(c).spec as unknown as Obj).jobTemplate as Obj).spec as Obj;
  const pod = (c: HardenedCronJob) => (job(c).template as Obj).spec as Obj;

  it("runs one at a time, keeps failed Jobs, labels Job and pod, and hardens pod and container (Pod Security restricted)", () => {
    const spec = hardenedCronJobArgs(base).spec as unknown as Obj;
    expect(spec.concurrencyPolicy).toBe("Forbid");
    expect(spec.failedJobsHistoryLimit).toBe(3);
    expect(((spec.jobTemplate as Obj).metadata as Obj).labels).toEqual({ a: "b" });
    expect((job(base).template as Obj).metadata).toEqual({ labels: { a: "b" } });
    expect(restrictedViolations(pod(base))).toEqual([]);
    expect(pod(base).restartPolicy).toBe("Never");
  });

  it("mounts an API token only for a pod given a ServiceAccount; a TTL only when given", () => {
    expect(pod(base).automountServiceAccountToken).toBe(false);
    expect(pod(base)).not.toHaveProperty("serviceAccountName");
    const withAccount = { ...base, serviceAccountName: "ai-job", ttlSecondsAfterFinished: 86400 };
    expect(pod(withAccount)).toMatchObject({ automountServiceAccountToken: true, serviceAccountName: "ai-job" });
    expect(job(base)).not.toHaveProperty("ttlSecondsAfterFinished");
    expect(job(withAccount).ttlSecondsAfterFinished).toBe(86400);
  });
});
