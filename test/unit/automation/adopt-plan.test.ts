import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  AdoptError,
  clusterProblems,
  installerDataDirectory,
  parseTree,
  planAdoption,
  PROGRAM_DATA_DIRECTORY,
  registryCredentials,
  splitImage,
  type LiveState,
  type TreeFile,
  type TreeObject,
} from "../../../automation/adopt-plan";
import { validateConfig, type PlainKey, type SecretKey } from "../../../config";

// The installer-layout tree the integration test applies to the cluster.
const ROOT = path.resolve(__dirname, "../../integration/fixtures/installer/kubernetes");

function fixture(): TreeFile[] {
  const out: TreeFile[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(path.join(ROOT, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      if (statSync(path.join(ROOT, p)).isDirectory()) walk(p);
      else out.push({ path: p, text: readFileSync(path.join(ROOT, p), "utf8") });
    }
  };
  walk("");
  return out;
}

/** The fixture with one file's text changed. */
function edited(file: string, edit: (text: string) => string): TreeFile[] {
  return fixture().map((f) => (f.path === file ? { ...f, text: edit(f.text) } : f));
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof AdoptError) return e.problems;
    throw e;
  }
  throw new Error("expected an AdoptError");
}

const SECRETS = {
  postgresPassword: "xYuOo-SMQSlV-AyXx9kE-CnH8blY3D-J",
  credentialEncryptionKey: "16a78a316acbb056796325f230c4d55d352aa27f9051cb99fa4368efab8b611d",
  engineApiKey: "hrd9wUoNzbM2Nmq5Ko0o7wpXxaeBrJ33KPXHigkknE8",
  authSecret: "ImYuAwlZ8Cy2lRACSWeNCta15mu5ospLZLCskltrW759_zIT",
  logEncryptionKey: "71394c61a2aee71a2aa0d0d1fb38d6b30d71dfaa7b3533989bd0d25ac0dde62c",
};

describe("adopt: the installer's tree as the fixture holds it", () => {
  const plan = planAdoption(parseTree(fixture()));
  const setting = (key: string) => plan.settings.find((s) => s.key === key);

  it("maps the five generated values to the stack's secret config, each from its file and key", () => {
    for (const [key, value] of Object.entries(SECRETS)) {
      expect(setting(key), key).toMatchObject({ value, secret: true });
    }
    expect(setting("postgresPassword")?.from).toBe("secret/postgres.yml: POSTGRES_PASSWORD");
    expect(setting("engineApiKey")?.from).toBe("secret/engine.yml: ENGINE_API_KEY");
  });

  it("maps namespace, instance, image, URL, Elasticsearch, AWS, license and registry to config", () => {
    const plain = Object.fromEntries(plan.settings.filter((s) => !s.secret).map((s) => [s.key, s.value]));
    expect(plain).toMatchObject({
      namespace: "ai-2501",
      instanceName: "ai-2501",
      imageTag: "0.7.3",
      registryServer: "localhost:5000/2501",
      engineImageRepository: "engine",
      commandCenterImageRepository: "command-center",
      registryMode: "static",
      registryUsername: "AWS",
      publicUrl: "https://agents.example.com",
      elasticsearchUrl: "https://es.example.com:9200",
      elasticsearchUsername: "agent-engine",
      awsRegion: "eu-west-1",
      awsAccessKeyId: "AKIAFIXTURE0000000000",
      postgresImage: "postgres:16",
      postgresStorageSize: "10Gi",
    });
    expect(plain.licensePublicKey).toContain("-----BEGIN PUBLIC KEY-----");
    const secretKeys = plan.settings.filter((s) => s.secret).map((s) => s.key).sort();
    expect(secretKeys).toEqual([...Object.keys(SECRETS), "awsSecretAccessKey", "elasticsearchPassword", "registryPassword"].sort());
  });

  it("produces config the program's validator accepts", () => {
    const values: Partial<Record<PlainKey, string>> = {};
    const secretsSet: Partial<Record<SecretKey, boolean>> = {};
    for (const s of plan.settings) {
      if (s.secret) secretsSet[s.key as SecretKey] = true;
      else values[s.key as PlainKey] = s.value;
    }
    const c = validateConfig({ values, secretsSet });
    expect(c.images.engine).toBe("localhost:5000/2501/engine:0.7.3");
    expect(c.registry).toMatchObject({ mode: "static", server: "localhost:5000/2501", username: "AWS" });
    expect(c.secretOverrides).toEqual({ postgresPassword: true, credentialEncryptionKey: true, engineApiKey: true, authSecret: true, logEncryptionKey: true });
  });

  it("imports the namespace and the claim under the program's resources, and deletes everything else of the tree, postgres first", () => {
    expect(plan.imports.map((i) => [i.type, i.logicalName, i.id])).toEqual([
      ["kubernetes:core/v1:Namespace", "platform-namespaces-workloads", "ai-2501"],
      ["kubernetes:core/v1:PersistentVolumeClaim", "platform-postgres-data", "ai-2501/postgres-data"],
    ]);
    const deleted = plan.deletes.map((d) => `${d.object.kind} ${d.object.name}`);
    expect(deleted[0]).toBe("Deployment postgres");
    expect(deleted).toHaveLength(16);
    // Every object of the tree is either imported or deleted, none twice.
    const all = [...plan.imports.map((i) => i.object), ...plan.deletes.map((d) => d.object)];
    expect(new Set(all).size).toBe(18);
    expect(plan.stopFirst.map((s) => s.object.name)).toEqual(["postgres", "engine", "command-center"]);
    expect(plan.stopFirst[0].selector).toEqual({ "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "ai-2501" });
  });

  it("--config and --secret-config win over the tree", () => {
    const p = planAdoption(parseTree(fixture()), [
      { key: "agent-platform:publicUrl", value: "https://other.example.com", secret: false },
      { key: "engineApiKey", value: "a-new-engine-api-key-0123456789", secret: true },
    ]);
    expect(p.settings.find((s) => s.key === "publicUrl")).toMatchObject({ value: "https://other.example.com", from: "--config" });
    expect(p.settings.find((s) => s.key === "engineApiKey")).toMatchObject({ value: "a-new-engine-api-key-0123456789", from: "--secret-config" });
  });
});

describe("adopt refuses a tree it cannot take over, naming the file, the key and the fix", () => {
  it("a missing file of the layout", () => {
    const p = problemsOf(() => parseTree(fixture().filter((f) => f.path !== "pvc/postgres.yml")));
    expect(p).toEqual([expect.stringMatching(/^pvc\/postgres\.yml is missing: .*PersistentVolumeClaim.*Fix: point --from at the installer's kubernetes\/ directory/)]);
  });

  it("an object in another namespace than namespace.yml", () => {
    const p = problemsOf(() => parseTree(edited("service/postgres.yml", (t) => t.replace("namespace: ai-2501", "namespace: elsewhere"))));
    expect(p).toEqual([expect.stringContaining("service/postgres.yml: Service ai-2501-postgres has metadata.namespace \"elsewhere\", namespace.yml names ai-2501. Fix:")]);
  });

  it("an object the layout does not have", () => {
    const files = [...fixture(), { path: "extra/thing.yml", text: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mine\n  namespace: ai-2501\n" }];
    expect(problemsOf(() => parseTree(files))).toEqual([expect.stringContaining("extra/thing.yml: ConfigMap mine is not part of the installer's layout")]);
  });

  it("an empty or missing generated value, without showing any value", () => {
    const files = edited("secret/postgres.yml", (t) => t.replace(`POSTGRES_PASSWORD: ${SECRETS.postgresPassword}`, 'POSTGRES_PASSWORD: ""'));
    const p = problemsOf(() => planAdoption(parseTree(files)));
    expect(p).toEqual([expect.stringMatching(/^secret\/postgres\.yml: POSTGRES_PASSWORD is empty: .*postgresPassword.*Fix: restore the value/)]);
    const noKey = edited("secret/engine.yml", (t) => t.replace(/ {2}LOG_ENCRYPTION_KEY: .*\n/, ""));
    expect(problemsOf(() => planAdoption(parseTree(noKey)))).toEqual([expect.stringMatching(/^secret\/engine\.yml: LOG_ENCRYPTION_KEY is missing/)]);
  });

  it("copies of one value that differ (DB_PASSWORD vs POSTGRES_PASSWORD, the command center's API key)", () => {
    const files = edited("secret/engine.yml", (t) => t.replace(`DB_PASSWORD: ${SECRETS.postgresPassword}`, "DB_PASSWORD: another-password-0123456789").replace(`ENGINE_API_KEY: ${SECRETS.engineApiKey}`, "ENGINE_API_KEY: another-engine-api-key-0123"));
    const p = problemsOf(() => planAdoption(parseTree(files)));
    expect(p).toContain("secret/engine.yml: DB_PASSWORD differs from secret/postgres.yml: POSTGRES_PASSWORD; both must hold the same postgresPassword. Fix: set both to the value the running deployment uses");
    expect(p).toContain("secret/command-center.yml: ENGINE_API_KEY differs from secret/engine.yml: ENGINE_API_KEY; both must hold the same engineApiKey. Fix: set both to the value the running deployment uses");
    for (const line of p) for (const v of [...Object.values(SECRETS), "another-password-0123456789"]) expect(line).not.toContain(v);
  });

  it("a generated value this program would reject (an encryption key that is not 64 hex characters)", () => {
    const files = edited("secret/engine.yml", (t) => t.replace(SECRETS.credentialEncryptionKey, "not-hex-but-long-enough-0123456789"));
    const p = problemsOf(() => planAdoption(parseTree(files)));
    expect(p).toEqual([expect.stringMatching(/^secret\/engine\.yml: CREDENTIAL_ENCRYPTION_KEY: this program's credentialEncryptionKey must be 64 hexadecimal characters/)]);
    expect(p[0]).not.toContain("not-hex-but-long-enough");
  });

  it("settings this program would drop", () => {
    const files = edited("secret/engine.yml", (t) => `${t}  OPENAI_API_KEY: sk-fixture\n`);
    expect(problemsOf(() => planAdoption(parseTree(files)))).toEqual([expect.stringContaining("secret/engine.yml: OPENAI_API_KEY is a setting this program does not pass on")]);
  });

  it("an empty BASE_URL, half-filled Elasticsearch settings, an empty license key", () => {
    let files = edited("configmap/command-center.yml", (t) => t.replace("BASE_URL: https://agents.example.com", 'BASE_URL: ""'));
    files = files.map((f) => (f.path === "secret/engine.yml" ? { ...f, text: f.text.replace("ELASTICSEARCH_PASSWORD: fixture-elasticsearch-password", 'ELASTICSEARCH_PASSWORD: ""') } : f));
    files = files.map((f) => (f.path === "secret/command-center.yml" ? { ...f, text: f.text.replace("ELASTICSEARCH_PASSWORD: fixture-elasticsearch-password", 'ELASTICSEARCH_PASSWORD: ""') } : f));
    files = files.map((f) => (f.path === "secret/license-public-key.yml" ? { ...f, text: f.text.replace(/license\.public\.pem: \|[\s\S]*$/, 'license.public.pem: ""\n') } : f));
    const p = problemsOf(() => planAdoption(parseTree(files)));
    expect(p).toEqual([
      expect.stringMatching(/^secret\/engine\.yml: ELASTICSEARCH_PASSWORD is empty while other ELASTICSEARCH_\* values are set\. Fix:/),
      expect.stringMatching(/^configmap\/command-center\.yml: BASE_URL is empty\. Fix: set it to the command center's public URL/),
      expect.stringMatching(/^secret\/license-public-key\.yml: the key is empty; .*Fix: paste the PEM/),
    ]);
  });

  it("postgres data in the root of the claim (PGDATA left at the image's default)", () => {
    const files = edited("deployment/postgres.yml", (t) => t.replace("            - name: PGDATA\n              value: /var/lib/postgresql/data/pgdata\n", "            - name: TZ\n              value: UTC\n"));
    const p = problemsOf(() => planAdoption(parseTree(files)));
    expect(p).toEqual([expect.stringContaining(`deployment/postgres.yml: the installer's postgres keeps its data in the root of the claim, this program's in ${PROGRAM_DATA_DIRECTORY}/`)]);
  });

  it("another database user than the program's", () => {
    const files = edited("secret/postgres.yml", (t) => t.replace("POSTGRES_USER: engine", "POSTGRES_USER: app"));
    expect(problemsOf(() => planAdoption(parseTree(files)))).toEqual([expect.stringContaining("deployment/postgres.yml: postgres runs with POSTGRES_USER=app")]);
  });

  it("engine and command center images from different registries or tags", () => {
    const files = edited("deployment/command-center.yml", (t) => t.replace("command-center:0.7.3", "command-center:0.7.4"));
    expect(problemsOf(() => planAdoption(parseTree(files)))).toEqual([expect.stringContaining("deployment/command-center.yml: image localhost:5000/2501/command-center:0.7.4 must have the same registry and tag")]);
  });
});

describe("adopt: pieces", () => {
  it("an ECR registry becomes registryMode ecr with its account and region (the tree's token is not kept)", () => {
    const ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com";
    let files = edited("deployment/engine.yml", (t) => t.replace("localhost:5000/2501/engine", `${ecr}/engine`));
    files = files.map((f) => (f.path === "deployment/command-center.yml" ? { ...f, text: f.text.replace("localhost:5000/2501/command-center", `${ecr}/command-center`) } : f));
    const p = planAdoption(parseTree(files));
    const v = Object.fromEntries(p.settings.map((s) => [s.key, s.value]));
    expect(v).toMatchObject({ registryMode: "ecr", registryServer: ecr, registryId: "123456789012", registryRegion: "eu-west-1" });
    expect(v.registryPassword).toBeUndefined();
  });

  it("splitImage and registryCredentials", () => {
    expect(splitImage("localhost:5000/a/engine:1.2")).toEqual({ prefix: "localhost:5000/a", repository: "engine", tag: "1.2" });
    expect(splitImage("engine:1.2")).toEqual({ repository: "engine", tag: "1.2" });
    expect(splitImage("r.example/engine")).toEqual({ prefix: "r.example", repository: "engine", tag: undefined });
    expect(splitImage("r.example/engine@sha256:abc")).toBeUndefined();
    const auth = Buffer.from("u:p@ss:word").toString("base64");
    expect(registryCredentials(JSON.stringify({ auths: { "https://r.example": { auth } } }), "r.example")).toEqual({ username: "u", password: "p@ss:word" });
    expect(registryCredentials(JSON.stringify({ auths: { "r.example": { username: "", password: "" } } }), "r.example")).toBeUndefined();
    expect(registryCredentials("not json", "r.example")).toBeUndefined();
  });

  it("installerDataDirectory follows mountPath, subPath and PGDATA", () => {
    const d = (mount: Record<string, string>) =>
      ({
        file: "deployment/postgres.yml",
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "postgres",
        body: { spec: { template: { spec: { containers: [{ volumeMounts: [{ name: "data", ...mount }] }], volumes: [{ name: "data", persistentVolumeClaim: { claimName: "c" } }] } } } },
      }) as TreeObject;
    expect(installerDataDirectory(d({ mountPath: "/var/lib/postgresql/data" }), { PGDATA: "/var/lib/postgresql/data/pgdata" }, "c")).toBe("pgdata");
    expect(installerDataDirectory(d({ mountPath: "/var/lib/postgresql/data" }), {}, "c")).toBe("");
    expect(installerDataDirectory(d({ mountPath: "/var/lib/postgresql/data", subPath: "postgres" }), {}, "c")).toBe("postgres");
    expect(installerDataDirectory(d({ mountPath: "/data" }), {}, "c")).toBeUndefined();
    expect(installerDataDirectory(d({ mountPath: "/data" }), {}, "other")).toBeUndefined();
  });
});

describe("adopt: the cluster must match the tree", () => {
  const plan = planAdoption(parseTree(fixture()));
  const owner = "organization/agent-platform/prod";
  const secretData: Record<string, Record<string, string>> = {
    engine: { DB_PASSWORD: SECRETS.postgresPassword, CREDENTIAL_ENCRYPTION_KEY: SECRETS.credentialEncryptionKey, ENGINE_API_KEY: SECRETS.engineApiKey, AUTH_SECRET: SECRETS.authSecret, LOG_ENCRYPTION_KEY: SECRETS.logEncryptionKey },
    "command-center": { ENGINE_API_KEY: SECRETS.engineApiKey, AUTH_SECRET: SECRETS.authSecret },
    postgres: { POSTGRES_PASSWORD: SECRETS.postgresPassword },
  };
  const deployed = (o: TreeObject): LiveState => ({
    exists: true,
    annotations: {},
    ...(o.kind === "PersistentVolumeClaim" ? { phase: "Bound", volumeName: "pvc-1" } : {}),
    ...(o.kind === "Secret" ? { data: secretData[o.name] ?? {} } : {}),
  });

  it("as deployed: no problem", () => {
    expect(clusterProblems(plan, deployed, owner)).toEqual([]);
  });

  it("objects to delete that are gone already are fine (an adopt that stopped half-way runs again)", () => {
    expect(clusterProblems(plan, (o) => (o.kind === "Deployment" || o.kind === "Secret" ? { exists: false } : deployed(o)), owner)).toEqual([]);
  });

  it("a missing or unbound claim, a namespace of another stack, a Secret that holds another value", () => {
    const live = (o: TreeObject): LiveState => {
      if (o.kind === "PersistentVolumeClaim") return { exists: true, phase: "Pending" };
      if (o.kind === "Namespace") return { exists: true, annotations: { "agent-platform.io/owned-by": "organization/agent-platform/other" } };
      if (o.kind === "Secret" && o.name === "engine") return { exists: true, data: { ...secretData.engine, AUTH_SECRET: "changed-by-hand-0123456789" } };
      return deployed(o);
    };
    const p = clusterProblems(plan, live, owner);
    expect(p).toEqual([
      "Namespace ai-2501 (namespace.yml) already belongs to stack organization/agent-platform/other. Fix: adopt into that stack, or destroy it first",
      expect.stringContaining("PersistentVolumeClaim ai-2501/postgres-data is Pending, not Bound"),
      expect.stringContaining("secret/engine.yml: AUTH_SECRET is not what Secret ai-2501/engine holds in the cluster"),
    ]);
    expect(p.join("\n")).not.toContain("changed-by-hand");
    expect(clusterProblems(plan, (o) => (o.kind === "PersistentVolumeClaim" ? { exists: false } : deployed(o)), owner)).toEqual([
      expect.stringContaining("PersistentVolumeClaim ai-2501/postgres-data of pvc/postgres.yml is not in the cluster"),
    ]);
  });
});

describe("adopt on the command line", () => {
  it("needs --from; --from and --dry-run are adopt's alone", async () => {
    const { parseArgs } = await import("../../../automation/args");
    expect(() => parseArgs(["adopt", "--stack", "prod"])).toThrow("adopt needs --from DIR, the installer's manifest tree, e.g. --from /etc/2501/kubernetes");
    expect(parseArgs(["adopt", "--stack", "prod", "--from", "/etc/2501/kubernetes", "--dry-run"])).toMatchObject({ command: "adopt", from: "/etc/2501/kubernetes", dryRun: true });
    expect(() => parseArgs(["up", "--stack", "prod", "--dry-run"])).toThrow("--dry-run does not apply to up; it is for: adopt");
  });

  it("the summary shows secret config as [secret] and every object with its file", async () => {
    const { adoptSummaryLines } = await import("../../../automation/adopt");
    const text = adoptSummaryLines({
      from: "/etc/2501/kubernetes",
      dryRun: true,
      namespace: "ai-2501",
      instanceName: "ai-2501",
      config: [
        { key: "agent-platform:postgresPassword", secret: true, from: "secret/postgres.yml: POSTGRES_PASSWORD" },
        { key: "agent-platform:imageTag", secret: false, value: "0.7.3", from: "deployment/engine.yml: image" },
      ],
      imported: [{ object: "PersistentVolumeClaim ai-2501/postgres-data", file: "pvc/postgres.yml", as: "kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data", why: "the data" }],
      deleted: [{ object: "Deployment ai-2501/postgres", file: "deployment/postgres.yml", replacedBy: "Deployment ai-2501-postgres", state: "would delete" }],
      next: "npm run platform -- up --stack prod",
    }).join("\n");
    expect(text).toContain("agent-platform:postgresPassword = [secret]  (secret/postgres.yml: POSTGRES_PASSWORD)");
    expect(text).toContain('agent-platform:imageTag = "0.7.3"  (deployment/engine.yml: image)');
    expect(text).toContain("PersistentVolumeClaim ai-2501/postgres-data (pvc/postgres.yml) as kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data");
    expect(text).toContain("Deployment ai-2501/postgres (deployment/postgres.yml) would delete: Deployment ai-2501-postgres");
  });
});

describe("adopt: the imported resources' inputs", () => {
  it("are the installer's manifests: the claim's inputs hold no field the API server filled in", async () => {
    const { installerInputs, withInputs } = await import("../../../automation/adopt-plan");
    const tree = parseTree(fixture());
    const pvc = installerInputs(tree.pvc);
    expect(pvc).toEqual({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "postgres-data", namespace: "ai-2501", labels: { "app.kubernetes.io/name": "postgres", "app.kubernetes.io/instance": "ai-2501", "app.kubernetes.io/part-of": "ai-2501" } },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Gi" } } },
    });
    expect(installerInputs(tree.namespace).metadata).toEqual({ name: "ai-2501", labels: { "app.kubernetes.io/part-of": "ai-2501" } });
    const urn = "urn:pulumi:prod::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:Postgres$kubernetes:core/v1:PersistentVolumeClaim::platform-postgres-data";
    const raw = {
      version: 3,
      deployment: {
        resources: [
          { urn, type: "kubernetes:core/v1:PersistentVolumeClaim", inputs: { spec: { volumeName: "pvc-1" } }, outputs: { spec: { volumeName: "pvc-1" }, __inputs: { spec: { volumeName: "pvc-1" } } } },
          { urn: "urn:other", type: "x", inputs: { a: 1 } },
        ],
      },
    };
    const { state, changed } = withInputs(raw, new Map([[urn, pvc]]));
    expect(changed).toEqual([urn]);
    const r = (state as typeof raw).deployment.resources;
    expect(r[0].inputs).toEqual(pvc);
    expect(r[0].outputs?.__inputs).toEqual(pvc);
    expect(r[0].outputs?.spec).toEqual({ volumeName: "pvc-1" }); // the live object stays as read
    expect(r[1].inputs).toEqual({ a: 1 });
    expect(raw.deployment.resources[0].inputs).toEqual({ spec: { volumeName: "pvc-1" } }); // a copy
  });
});
