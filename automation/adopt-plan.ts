/**
 * `adopt`, the pure part: reads the manifest tree the engine's installer writes
 * (`2501 infra deploy --target kubernetes`: namespace.yml, configmap/, secret/, deployment/,
 * service/, pvc/, rbac/), checks it, maps its values to this program's stack config, and decides
 * what happens to each object: the namespace and the postgres claim are taken over (imported),
 * everything else is replaced by the stack's own objects and deleted. No I/O here: the files come
 * in as text, the live objects as plain values (automation/adopt.ts reads and writes).
 *
 * What the installer's documentation leaves open (names, env var names, the data directory) is
 * assumed as docs/adopt.md says; every assumption that matters is checked, and a tree that breaks
 * one is refused with the file, the key and the fix.
 */
import { parseAllDocuments } from "yaml";
import { GENERATED_SECRET_DECLARATIONS, type GeneratedSecretName, type PlainKey, type SecretKey } from "../config";
import { PGDATA, PGDATA_MOUNT, POSTGRES_DB, POSTGRES_USER } from "../components/builders/postgres";
import { OWNER_ANNOTATION } from "../components/builders/ownership";

/** One file of the tree: its path relative to the tree's root ("/" separated) and its text. */
export interface TreeFile {
  path: string;
  text: string;
}

/** A Kubernetes object as the tree holds it. */
export interface TreeObject {
  file: string;
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
  body: Record<string, unknown>;
}

/** The tree, by the role of each file in the installer's layout. */
export interface InstallerTree {
  namespace: TreeObject;
  configMaps: { engine: TreeObject; commandCenter: TreeObject };
  secrets: { engine: TreeObject; commandCenter: TreeObject; postgres: TreeObject; pullSecret: TreeObject; licensePublicKey: TreeObject };
  deployments: { engine: TreeObject; commandCenter: TreeObject; postgres: TreeObject };
  services: { engine: TreeObject; commandCenter: TreeObject; postgres: TreeObject };
  pvc: TreeObject;
  rbac: { serviceAccount: TreeObject; role: TreeObject; roleBinding: TreeObject };
}

/** A tree this program cannot adopt: every problem, each naming the file, the key and the fix. */
export class AdoptError extends Error {
  constructor(
    public readonly problems: string[],
    headline = "cannot adopt this tree; nothing was changed",
  ) {
    super(`${headline} (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "AdoptError";
  }
}

/** The files of the layout, by role. `.yml` as the documentation shows; `.yaml` is accepted too. */
const LAYOUT = {
  namespace: "namespace",
  configMapEngine: "configmap/engine",
  configMapCommandCenter: "configmap/command-center",
  secretEngine: "secret/engine",
  secretCommandCenter: "secret/command-center",
  secretPostgres: "secret/postgres",
  secretPullSecret: "secret/ecr-pull-secret",
  secretLicense: "secret/license-public-key",
  deploymentEngine: "deployment/engine",
  deploymentCommandCenter: "deployment/command-center",
  deploymentPostgres: "deployment/postgres",
  serviceEngine: "service/engine",
  serviceCommandCenter: "service/command-center",
  servicePostgres: "service/postgres",
  pvc: "pvc/postgres",
} as const;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : undefined);

function get(o: unknown, ...path: (string | number)[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (typeof p === "number") cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isRecord(cur) ? cur[p] : undefined;
  }
  return cur;
}

/** Parses every YAML document of every file; objects without kind/name are problems. */
function parseObjects(files: readonly TreeFile[], problems: string[]): TreeObject[] {
  const out: TreeObject[] = [];
  for (const f of files) {
    if (!/\.ya?ml$/.test(f.path)) continue;
    const docs = parseAllDocuments(f.text);
    const list = Array.isArray(docs) ? docs : [docs];
    list.forEach((doc, i) => {
      if (doc.errors.length > 0) {
        problems.push(`${f.path}: document ${i + 1} is not valid YAML (${doc.errors[0].message.split("\n")[0]}). Fix: repair the file or generate the tree again`);
        return;
      }
      const body: unknown = doc.toJS();
      if (body === null || body === undefined) return; // an empty document (a trailing ---)
      const kind = str(get(body, "kind"));
      const apiVersion = str(get(body, "apiVersion"));
      const name = str(get(body, "metadata", "name"));
      if (!isRecord(body) || !kind || !apiVersion || !name) {
        problems.push(`${f.path}: document ${i + 1} is not a Kubernetes object (apiVersion, kind and metadata.name are required). Fix: generate the tree again`);
        return;
      }
      out.push({ file: f.path, apiVersion, kind, name, namespace: str(get(body, "metadata", "namespace")), body });
    });
  }
  return out;
}

/**
 * Reads the tree. Every file of the documented layout must be there with exactly one object of its
 * kind (rbac/ holds the ServiceAccount, Role and RoleBinding, in one file or several), every
 * namespaced object in the namespace of namespace.yml.
 */
export function parseTree(files: readonly TreeFile[]): InstallerTree {
  const problems: string[] = [];
  const objects = parseObjects(files, problems);
  const inFile = (base: string) => objects.filter((o) => o.file === `${base}.yml` || o.file === `${base}.yaml`);
  const one = (base: string, kind: string): TreeObject | undefined => {
    const found = inFile(base);
    if (found.length === 0) {
      const present = files.some((f) => f.path === `${base}.yml` || f.path === `${base}.yaml`);
      problems.push(
        present
          ? `${base}.yml: holds no ${kind}. Fix: generate the tree again with \`2501 infra deploy --target kubernetes\``
          : `${base}.yml is missing: the installer writes it (${kind}). Fix: point --from at the installer's kubernetes/ directory (<configDir>/kubernetes), or generate the tree again`,
      );
      return undefined;
    }
    const right = found.filter((o) => o.kind === kind);
    if (right.length !== 1 || found.length !== 1) {
      problems.push(`${found[0].file}: expected exactly one ${kind}, found ${found.map((o) => `${o.kind} ${o.name}`).join(", ")}. Fix: generate the tree again`);
      return undefined;
    }
    return right[0];
  };
  const rbacObjects = objects.filter((o) => o.file.startsWith("rbac/"));
  const rbacOne = (kind: string): TreeObject | undefined => {
    const found = rbacObjects.filter((o) => o.kind === kind);
    if (found.length !== 1) {
      problems.push(
        `rbac/: expected exactly one ${kind} (the installer's rbac/executor.yml holds the executor ServiceAccount, Role and RoleBinding), found ${found.length}. Fix: generate the tree again`,
      );
      return undefined;
    }
    return found[0];
  };

  const t = {
    namespace: one(LAYOUT.namespace, "Namespace"),
    configMaps: { engine: one(LAYOUT.configMapEngine, "ConfigMap"), commandCenter: one(LAYOUT.configMapCommandCenter, "ConfigMap") },
    secrets: {
      engine: one(LAYOUT.secretEngine, "Secret"),
      commandCenter: one(LAYOUT.secretCommandCenter, "Secret"),
      postgres: one(LAYOUT.secretPostgres, "Secret"),
      pullSecret: one(LAYOUT.secretPullSecret, "Secret"),
      licensePublicKey: one(LAYOUT.secretLicense, "Secret"),
    },
    deployments: {
      engine: one(LAYOUT.deploymentEngine, "Deployment"),
      commandCenter: one(LAYOUT.deploymentCommandCenter, "Deployment"),
      postgres: one(LAYOUT.deploymentPostgres, "Deployment"),
    },
    services: { engine: one(LAYOUT.serviceEngine, "Service"), commandCenter: one(LAYOUT.serviceCommandCenter, "Service"), postgres: one(LAYOUT.servicePostgres, "Service") },
    pvc: one(LAYOUT.pvc, "PersistentVolumeClaim"),
    rbac: { serviceAccount: rbacOne("ServiceAccount"), role: rbacOne("Role"), roleBinding: rbacOne("RoleBinding") },
  };

  const known = new Set<TreeObject>();
  const ns = t.namespace?.name;
  const walk = (v: unknown): void => {
    if (v === undefined) return;
    if (isRecord(v) && "file" in v && "kind" in v) {
      const o = v as unknown as TreeObject;
      known.add(o);
      if (o.kind !== "Namespace" && ns !== undefined && o.namespace !== ns) {
        problems.push(
          `${o.file}: ${o.kind} ${o.name} has metadata.namespace ${o.namespace === undefined ? "(unset)" : JSON.stringify(o.namespace)}, namespace.yml names ${ns}. Fix: set metadata.namespace: ${ns} (the installer writes it into every object)`,
        );
      }
      return;
    }
    if (isRecord(v)) Object.values(v).forEach(walk);
  };
  walk(t);
  for (const o of objects) {
    if (!known.has(o)) {
      problems.push(`${o.file}: ${o.kind} ${o.name} is not part of the installer's layout, so adopt would neither take it over nor delete it. Fix: move it out of the tree (and keep or delete it yourself)`);
    }
  }
  if (problems.length > 0) throw new AdoptError(problems);
  return t as InstallerTree;
}

/** The string values of a Secret: stringData (as the installer writes them) over data (base64). */
export function secretValues(o: TreeObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = get(o.body, "data");
  if (isRecord(data)) for (const [k, v] of Object.entries(data)) if (typeof v === "string") out[k] = Buffer.from(v, "base64").toString("utf8");
  const stringData = get(o.body, "stringData");
  if (isRecord(stringData)) for (const [k, v] of Object.entries(stringData)) { const s = str(v); if (s !== undefined) out[k] = s; }
  return out;
}

function configMapValues(o: TreeObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = get(o.body, "data");
  if (isRecord(data)) for (const [k, v] of Object.entries(data)) { const s = str(v); if (s !== undefined) out[k] = s; }
  return out;
}

/** The first container of a Deployment (the installer's have one each). */
function container(d: TreeObject): Record<string, unknown> | undefined {
  const c = get(d.body, "spec", "template", "spec", "containers", 0);
  return isRecord(c) ? c : undefined;
}

/** A container's environment as the kubelet would build it from the tree (envFrom, then env). */
function effectiveEnv(d: TreeObject, tree: InstallerTree): Record<string, string> {
  const c = container(d);
  const out: Record<string, string> = {};
  const byName = (kind: string, name: string) =>
    [...Object.values(tree.configMaps), ...Object.values(tree.secrets)].find((o) => o.kind === kind && o.name === name);
  const envFrom = get(c, "envFrom");
  if (Array.isArray(envFrom)) {
    for (const e of envFrom) {
      const cm = str(get(e, "configMapRef", "name"));
      const sec = str(get(e, "secretRef", "name"));
      const src = cm !== undefined ? byName("ConfigMap", cm) : sec !== undefined ? byName("Secret", sec) : undefined;
      if (src) Object.assign(out, src.kind === "Secret" ? secretValues(src) : configMapValues(src));
    }
  }
  const env = get(c, "env");
  if (Array.isArray(env)) {
    for (const e of env) {
      const name = str(get(e, "name"));
      const value = str(get(e, "value"));
      if (name !== undefined && value !== undefined) out[name] = value;
    }
  }
  return out;
}

/** One config value adopt sets, and where in the tree it comes from. */
export interface AdoptSetting {
  key: PlainKey | SecretKey;
  value: string;
  secret: boolean;
  /** "secret/engine.yml: DB_PASSWORD", or "--config" when a flag set it. */
  from: string;
}

/** An object adopt takes over: annotated as the stack's and imported under `logicalName`. */
export interface AdoptImport {
  object: TreeObject;
  /** The Pulumi type and name of the program's resource it becomes. */
  type: string;
  logicalName: string;
  /** The import id: `name` or `namespace/name`. */
  id: string;
  /** The component it is imported under (its resource type), found in the state by type. */
  parentType: string;
  why: string;
}

/** An installer object the stack replaces with its own: deleted by adopt. */
export interface AdoptDelete {
  object: TreeObject;
  replacedBy: string;
}

export interface AdoptPlan {
  namespace: string;
  instanceName: string;
  settings: AdoptSetting[];
  imports: AdoptImport[];
  /** In deletion order: Deployments first (postgres must stop before the stack's starts on the same volume). */
  deletes: AdoptDelete[];
  /** Secret values the live Secrets must still hold (the tree must be what is deployed). */
  liveSecretChecks: { object: TreeObject; key: string; value: string }[];
  /** Deployments whose pods must be gone before adopt goes on. */
  stopFirst: { object: TreeObject; selector: Record<string, string> }[];
}

/** Where a generated secret comes from in the tree, and the other places that must agree. */
const GENERATED_SOURCES: Record<GeneratedSecretName, { file: keyof InstallerTree["secrets"]; key: string; sameIn: { file: keyof InstallerTree["secrets"]; key: string }[] }> = {
  postgresPassword: { file: "postgres", key: "POSTGRES_PASSWORD", sameIn: [{ file: "engine", key: "DB_PASSWORD" }] },
  credentialEncryptionKey: { file: "engine", key: "CREDENTIAL_ENCRYPTION_KEY", sameIn: [] },
  engineApiKey: { file: "engine", key: "ENGINE_API_KEY", sameIn: [{ file: "commandCenter", key: "ENGINE_API_KEY" }] },
  authSecret: { file: "engine", key: "AUTH_SECRET", sameIn: [{ file: "commandCenter", key: "AUTH_SECRET" }] },
  logEncryptionKey: { file: "engine", key: "LOG_ENCRYPTION_KEY", sameIn: [] },
};

/** Keys of the installer's ConfigMaps and Secrets this program sets itself (same meaning, its own values). */
const PROGRAM_SETS: Record<string, readonly string[]> = {
  "configmap/engine": ["NODE_ENV", "PORT", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "EXECUTOR_MCP_BACKEND", "EXECUTOR_MCP_K8S_NAMESPACE", "LICENSE_PUBLIC_KEY_PATH", "NODE_EXTRA_CA_CERTS"],
  "configmap/command-center": ["NODE_ENV", "PORT", "ENGINE_URL", "BASE_URL"],
  "secret/engine": ["DB_PASSWORD", "CREDENTIAL_ENCRYPTION_KEY", "ENGINE_API_KEY", "AUTH_SECRET", "LOG_ENCRYPTION_KEY"],
  "secret/command-center": ["ENGINE_API_KEY", "AUTH_SECRET"],
  "secret/postgres": ["POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "PGDATA"],
};
const EXTERNAL_KEYS = ["ELASTICSEARCH_URL", "ELASTICSEARCH_USERNAME", "ELASTICSEARCH_PASSWORD", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const;

const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$/;

/** `[registry/]repository:tag` split the way this program composes images (config.ts). */
export function splitImage(ref: string): { prefix?: string; repository: string; tag?: string } | undefined {
  if (ref.includes("@")) return undefined; // a digest: this program deploys tags
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  const tag = colon > slash ? ref.slice(colon + 1) : undefined;
  const path = colon > slash ? ref.slice(0, colon) : ref;
  const cut = path.lastIndexOf("/");
  return cut < 0 ? { repository: path, tag } : { prefix: path.slice(0, cut), repository: path.slice(cut + 1), tag };
}

/** Credentials for `host` in a dockerconfigjson (username/password, or the base64 `auth`). */
export function registryCredentials(dockerConfigJson: string, host: string): { username: string; password: string } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(dockerConfigJson);
  } catch {
    return undefined;
  }
  const auths = get(parsed, "auths");
  if (!isRecord(auths)) return undefined;
  const entry = Object.entries(auths).find(([k]) => k.replace(/^https?:\/\//, "").replace(/\/.*$/, "") === host)?.[1];
  let username = str(get(entry, "username")) ?? "";
  let password = str(get(entry, "password")) ?? "";
  const auth = str(get(entry, "auth"));
  if ((!username || !password) && auth) {
    const decoded = Buffer.from(auth, "base64").toString("utf8");
    const i = decoded.indexOf(":");
    if (i > 0) {
      username ||= decoded.slice(0, i);
      password ||= decoded.slice(i + 1);
    }
  }
  return username && password ? { username, password } : undefined;
}

/** The data directory, relative to the claim's root, of the installer's postgres; undefined when it cannot tell. */
export function installerDataDirectory(d: TreeObject, env: Record<string, string>, claimName: string): string | undefined {
  const volumes = get(d.body, "spec", "template", "spec", "volumes");
  const volume = Array.isArray(volumes) ? volumes.find((v) => str(get(v, "persistentVolumeClaim", "claimName")) === claimName) : undefined;
  const volumeName = str(get(volume, "name"));
  const mounts = get(container(d), "volumeMounts");
  const mount = Array.isArray(mounts) ? mounts.find((m) => str(get(m, "name")) === volumeName) : undefined;
  const mountPath = str(get(mount, "mountPath"))?.replace(/\/+$/, "");
  if (volumeName === undefined || mountPath === undefined) return undefined;
  // The official image's default PGDATA.
  const pgdata = (env.PGDATA ?? "/var/lib/postgresql/data").replace(/\/+$/, "");
  if (pgdata !== mountPath && !pgdata.startsWith(`${mountPath}/`)) return undefined;
  const inMount = pgdata.slice(mountPath.length).replace(/^\//, "");
  const subPath = (str(get(mount, "subPath")) ?? "").replace(/^\/+|\/+$/g, "");
  return [subPath, inMount].filter((s) => s !== "").join("/");
}

/** The program's data directory relative to its claim's root (components/builders/postgres.ts). */
export const PROGRAM_DATA_DIRECTORY = PGDATA.slice(PGDATA_MOUNT.length + 1);

/**
 * Maps the tree to stack config and decides what happens to each object. Reports every problem
 * at once (AdoptError). `overrides` (from --config/--secret-config) win over the tree's values.
 */
export function planAdoption(tree: InstallerTree, overrides: readonly { key: string; value: string; secret: boolean }[] = []): AdoptPlan {
  const problems: string[] = [];
  const settings = new Map<string, AdoptSetting>();
  const set = (key: PlainKey | SecretKey, value: string, secret: boolean, from: string) => settings.set(key, { key, value, secret, from });
  const s = tree.secrets;
  const values = {
    engine: secretValues(s.engine),
    commandCenter: secretValues(s.commandCenter),
    postgres: secretValues(s.postgres),
    pullSecret: secretValues(s.pullSecret),
    licensePublicKey: secretValues(s.licensePublicKey),
  };
  const where = (file: keyof InstallerTree["secrets"], key: string) => `${s[file].file}: ${key}`;

  set("namespace", tree.namespace.name, false, `${tree.namespace.file}: metadata.name`);
  // The installer's --stack-name names its Services (`<stack>-engine`) and labels.
  const svc = tree.services.engine;
  const instance = str(get(svc.body, "metadata", "labels", "app.kubernetes.io/instance")) ?? (svc.name.endsWith("-engine") ? svc.name.slice(0, -"-engine".length) : undefined);
  const overridden = (key: string) => overrides.some((o) => o.key === key || o.key === `agent-platform:${key}`);
  if (instance === undefined || instance === "") {
    if (!overridden("instanceName")) {
      problems.push(`${svc.file}: cannot tell the installer's stack name (no app.kubernetes.io/instance label, and the Service name ${svc.name} does not end in -engine). Fix: pass --config instanceName=<the --stack-name you gave the installer>`);
    }
  } else {
    set("instanceName", instance, false, `${svc.file}: ${get(svc.body, "metadata", "labels", "app.kubernetes.io/instance") !== undefined ? "metadata.labels[app.kubernetes.io/instance]" : "metadata.name"}`);
  }

  // The five generated secrets: required, consistent across files, and valid for this program.
  for (const [name, src] of Object.entries(GENERATED_SOURCES) as [GeneratedSecretName, (typeof GENERATED_SOURCES)[GeneratedSecretName]][]) {
    const value = values[src.file][src.key];
    if (overridden(name)) continue;
    if (value === undefined || value === "") {
      problems.push(`${where(src.file, src.key)} is ${value === undefined ? "missing" : "empty"}: it holds the ${name} the installer generated. Fix: restore the value the deployment uses (kubectl get secret ${s[src.file].name} -n ${tree.namespace.name} -o jsonpath='{.data.${src.key}}' | base64 -d)`);
      continue;
    }
    for (const other of src.sameIn) {
      const v = values[other.file][other.key];
      if (v !== undefined && v !== value) {
        problems.push(`${where(other.file, other.key)} differs from ${where(src.file, src.key)}; both must hold the same ${name}. Fix: set both to the value the running deployment uses`);
      }
    }
    const rule = GENERATED_SECRET_DECLARATIONS[name].check(value);
    if (rule !== undefined) {
      problems.push(
        `${where(src.file, src.key)}: this program's ${name} ${rule}, and this value does not. Fix: none by adopt: the engine's stored data needs exactly this value, so change it in the engine first (or, if it protects nothing yet, pass --secret-config ${name}=ENV_VAR with a new value)`,
      );
    }
    set(name, value, true, where(src.file, src.key));
  }

  // Elasticsearch and AWS: the engine's and the command center's must agree (the program passes one set to both).
  for (const key of EXTERNAL_KEYS) {
    const e = values.engine[key] ?? "";
    const c = values.commandCenter[key] ?? "";
    if (c !== "" && e !== c) problems.push(`${where("commandCenter", key)} differs from ${where("engine", key)}; this program passes one value to both. Fix: make them equal in both files`);
  }
  const ext = (key: (typeof EXTERNAL_KEYS)[number]) => values.engine[key] || values.commandCenter[key] || "";
  const esUrl = ext("ELASTICSEARCH_URL");
  const esUser = ext("ELASTICSEARCH_USERNAME");
  const esPassword = ext("ELASTICSEARCH_PASSWORD");
  if (esUrl || esUser || esPassword) {
    for (const [k, v] of [["ELASTICSEARCH_URL", esUrl], ["ELASTICSEARCH_USERNAME", esUser], ["ELASTICSEARCH_PASSWORD", esPassword]] as const) {
      if (!v) problems.push(`${where("engine", k)} is empty while other ELASTICSEARCH_* values are set. Fix: fill it in (the installer leaves it for you to fill) or empty all ELASTICSEARCH_* values`);
    }
    set("elasticsearchUrl", esUrl, false, where("engine", "ELASTICSEARCH_URL"));
    set("elasticsearchUsername", esUser, false, where("engine", "ELASTICSEARCH_USERNAME"));
    set("elasticsearchPassword", esPassword, true, where("engine", "ELASTICSEARCH_PASSWORD"));
  }
  const awsRegion = ext("AWS_REGION");
  const awsKeyId = ext("AWS_ACCESS_KEY_ID");
  const awsSecret = ext("AWS_SECRET_ACCESS_KEY");
  if (awsRegion) set("awsRegion", awsRegion, false, where("engine", "AWS_REGION"));
  if (awsKeyId || awsSecret) {
    if (!awsKeyId) problems.push(`${where("engine", "AWS_ACCESS_KEY_ID")} is empty while AWS_SECRET_ACCESS_KEY is set. Fix: fill it in, or empty both`);
    if (!awsSecret) problems.push(`${where("engine", "AWS_SECRET_ACCESS_KEY")} is empty while AWS_ACCESS_KEY_ID is set. Fix: fill it in, or empty both`);
    set("awsAccessKeyId", awsKeyId, false, where("engine", "AWS_ACCESS_KEY_ID"));
    set("awsSecretAccessKey", awsSecret, true, where("engine", "AWS_SECRET_ACCESS_KEY"));
  }

  // Settings this program has no key for would be dropped: refuse rather than lose them.
  const unmapped = (o: TreeObject, keys: string[], base: string) => {
    const known = new Set([...(PROGRAM_SETS[base] ?? []), ...(base.startsWith("secret/") && base !== "secret/postgres" ? EXTERNAL_KEYS : [])]);
    for (const k of keys) {
      if (!known.has(k)) problems.push(`${o.file}: ${k} is a setting this program does not pass on, so adopting would drop it. Fix: remove it from the file if the engine does not need it; otherwise this program needs a key for it first`);
    }
  };
  unmapped(tree.configMaps.engine, Object.keys(configMapValues(tree.configMaps.engine)), "configmap/engine");
  unmapped(tree.configMaps.commandCenter, Object.keys(configMapValues(tree.configMaps.commandCenter)), "configmap/command-center");
  unmapped(s.engine, Object.keys(values.engine), "secret/engine");
  unmapped(s.commandCenter, Object.keys(values.commandCenter), "secret/command-center");
  unmapped(s.postgres, Object.keys(values.postgres), "secret/postgres");

  const cc = configMapValues(tree.configMaps.commandCenter);
  if (!cc.BASE_URL && !overridden("publicUrl")) {
    problems.push(`${tree.configMaps.commandCenter.file}: BASE_URL is ${cc.BASE_URL === undefined ? "missing" : "empty"}. Fix: set it to the command center's public URL (your real ingress hostname), as the installer asks`);
  } else if (cc.BASE_URL) set("publicUrl", cc.BASE_URL, false, `${tree.configMaps.commandCenter.file}: BASE_URL`);

  const pem = Object.values(values.licensePublicKey);
  if (pem.length !== 1 || pem[0].trim() === "") {
    if (!overridden("licensePublicKey")) {
      problems.push(`${s.licensePublicKey.file}: ${pem.length === 0 ? "holds no key" : pem.length > 1 ? "holds more than one key" : "the key is empty"}; it must hold the license public key PEM. Fix: paste the PEM (from <configDir>/license.public.pem) as its one stringData value`);
    }
  } else {
    set("licensePublicKey", pem[0], false, `${s.licensePublicKey.file}: stringData.${Object.keys(values.licensePublicKey)[0]}`);
  }

  // Images: one tag and one registry prefix for the engine and the command center (as config.ts composes them).
  const image = (d: TreeObject) => str(get(container(d), "image"));
  const engineRef = image(tree.deployments.engine);
  const ccRef = image(tree.deployments.commandCenter);
  const engineImage = engineRef !== undefined ? splitImage(engineRef) : undefined;
  const ccImage = ccRef !== undefined ? splitImage(ccRef) : undefined;
  if (!engineImage?.tag) problems.push(`${tree.deployments.engine.file}: the container image ${JSON.stringify(engineRef ?? "(none)")} has no tag. Fix: use the image tag the installer was given (--image-tag)`);
  if (!ccImage?.tag) problems.push(`${tree.deployments.commandCenter.file}: the container image ${JSON.stringify(ccRef ?? "(none)")} has no tag. Fix: use the image tag the installer was given (--image-tag)`);
  if (engineImage?.tag && ccImage?.tag) {
    if (engineImage.tag !== ccImage.tag || engineImage.prefix !== ccImage.prefix) {
      problems.push(`${tree.deployments.commandCenter.file}: image ${ccRef} must have the same registry and tag as ${tree.deployments.engine.file}'s ${engineRef} (this program sets one imageTag and one registryServer). Fix: make them equal`);
    }
    set("imageTag", engineImage.tag, false, `${tree.deployments.engine.file}: image`);
    set("engineImageRepository", engineImage.repository, false, `${tree.deployments.engine.file}: image`);
    set("commandCenterImageRepository", ccImage.repository, false, `${tree.deployments.commandCenter.file}: image`);
    const prefix = engineImage.prefix;
    const host = prefix?.split("/")[0];
    const ecr = host !== undefined ? ECR_HOST.exec(host) : null;
    if (prefix !== undefined) set("registryServer", prefix, false, `${tree.deployments.engine.file}: image`);
    if (ecr) {
      // The token in the tree is short-lived: the stack fetches its own from ECR on every up.
      set("registryMode", "ecr", false, `${tree.deployments.engine.file}: image (an ECR registry)`);
      set("registryId", ecr[1], false, `${tree.deployments.engine.file}: image`);
      set("registryRegion", ecr[2], false, `${tree.deployments.engine.file}: image`);
    } else if (host !== undefined) {
      const creds = registryCredentials(values.pullSecret[".dockerconfigjson"] ?? "", host);
      if (creds) {
        set("registryMode", "static", false, `${s.pullSecret.file}: .dockerconfigjson (not an ECR registry)`);
        set("registryUsername", creds.username, false, `${s.pullSecret.file}: .dockerconfigjson auths[${host}]`);
        set("registryPassword", creds.password, true, `${s.pullSecret.file}: .dockerconfigjson auths[${host}]`);
      } else if (!overridden("registryMode")) {
        problems.push(`${s.pullSecret.file}: .dockerconfigjson has no username and password for ${host}, the registry of the images. Fix: recreate the pull secret as the installer's documentation shows and regenerate the file, or pass --config registryMode=none if the registry needs no credentials`);
      }
    } else {
      set("registryMode", "none", false, `${tree.deployments.engine.file}: image (no registry prefix)`);
    }
  }
  const pgImage = image(tree.deployments.postgres);
  if (pgImage) set("postgresImage", pgImage, false, `${tree.deployments.postgres.file}: image`);
  else problems.push(`${tree.deployments.postgres.file}: the container has no image. Fix: generate the tree again`);

  // The claim: imported as is, so the stack's size and class must be the claim's.
  const size = str(get(tree.pvc.body, "spec", "resources", "requests", "storage"));
  if (size) set("postgresStorageSize", size, false, `${tree.pvc.file}: spec.resources.requests.storage`);
  else problems.push(`${tree.pvc.file}: spec.resources.requests.storage is missing. Fix: generate the tree again`);
  const storageClass = str(get(tree.pvc.body, "spec", "storageClassName"));
  if (storageClass) set("postgresStorageClass", storageClass, false, `${tree.pvc.file}: spec.storageClassName`);

  // The data must stay usable by this program's postgres: same user, database and data directory.
  const pgEnv = effectiveEnv(tree.deployments.postgres, tree);
  for (const [k, want] of [["POSTGRES_USER", POSTGRES_USER], ["POSTGRES_DB", POSTGRES_DB]] as const) {
    const got = pgEnv[k] ?? "postgres";
    if (got !== want) {
      problems.push(`${tree.deployments.postgres.file}: postgres runs with ${k}=${got} (from its env or the Secret/ConfigMap it reads); this program's postgres and engine use ${want}, so the engine would not find its database. Fix: not supported by adopt: rename the role/database to ${want} inside PostgreSQL first (ALTER ROLE/ALTER DATABASE), then set ${k}: ${want} in the tree`);
    }
  }
  const claimVolume = get(tree.deployments.postgres.body, "spec", "template", "spec", "volumes");
  const usesClaim = Array.isArray(claimVolume) && claimVolume.some((v) => str(get(v, "persistentVolumeClaim", "claimName")) === tree.pvc.name);
  if (!usesClaim) {
    problems.push(`${tree.deployments.postgres.file}: postgres does not mount the claim ${tree.pvc.name} of ${tree.pvc.file}. Fix: generate the tree again; adopt keeps the claim postgres writes to`);
  } else {
    const dir = installerDataDirectory(tree.deployments.postgres, pgEnv, tree.pvc.name);
    if (dir !== PROGRAM_DATA_DIRECTORY) {
      problems.push(
        `${tree.deployments.postgres.file}: the installer's postgres keeps its data in ${dir === undefined ? "a directory adopt cannot work out (PGDATA outside the claim's mount)" : dir === "" ? "the root of the claim" : `${dir}/ of the claim`}, this program's in ${PROGRAM_DATA_DIRECTORY}/ (PGDATA=${PGDATA} on the claim mounted at ${PGDATA_MOUNT}); its postgres would start an empty database. ` +
          `Fix: move the data directory to ${PROGRAM_DATA_DIRECTORY}/ on the volume while postgres is stopped (docs/adopt.md, "The data directory"), set PGDATA to match in the tree, then adopt`,
      );
    }
  }
  const engineConfig = configMapValues(tree.configMaps.engine);
  for (const [k, want] of [["DB_USER", POSTGRES_USER], ["DB_NAME", POSTGRES_DB]] as const) {
    if (engineConfig[k] !== undefined && engineConfig[k] !== want) {
      problems.push(`${tree.configMaps.engine.file}: ${k}=${engineConfig[k]}; this program's engine uses ${want}. Fix: not supported by adopt (see POSTGRES_USER/POSTGRES_DB above)`);
    }
  }

  for (const o of overrides) {
    const key = o.key.replace(/^agent-platform:/, "") as PlainKey | SecretKey;
    set(key, o.value, o.secret, o.secret ? "--secret-config" : "--config");
  }
  if (problems.length > 0) throw new AdoptError(problems);

  const ns = tree.namespace.name;
  const imports: AdoptImport[] = [
    {
      object: tree.namespace,
      type: "kubernetes:core/v1:Namespace",
      logicalName: "platform-namespaces-workloads",
      id: ns,
      parentType: "agent-platform:index:Namespaces",
      why: "deleting a namespace deletes everything in it, the postgres claim included",
    },
    {
      object: tree.pvc,
      type: "kubernetes:core/v1:PersistentVolumeClaim",
      logicalName: "platform-postgres-data",
      id: `${ns}/${tree.pvc.name}`,
      parentType: "agent-platform:index:Postgres",
      why: "the claim and its volume hold the database; the stack keeps the claim's name (ignoreChanges on metadata.name)",
    },
  ];
  const d = tree.deployments;
  const deletes: AdoptDelete[] = [
    { object: d.postgres, replacedBy: "Deployment <instance>-postgres (on the same claim)" },
    { object: d.engine, replacedBy: "Deployment <instance>-engine" },
    { object: d.commandCenter, replacedBy: "Deployment <instance>-command-center" },
    { object: tree.services.engine, replacedBy: "Service <instance>-engine" },
    { object: tree.services.commandCenter, replacedBy: "Service <instance>-command-center" },
    { object: tree.services.postgres, replacedBy: "Service <instance>-postgres" },
    { object: tree.configMaps.engine, replacedBy: "ConfigMap <instance>-engine" },
    { object: tree.configMaps.commandCenter, replacedBy: "ConfigMap <instance>-command-center" },
    { object: s.engine, replacedBy: "Secret <instance>-engine (same values)" },
    { object: s.commandCenter, replacedBy: "Secret <instance>-command-center (same values)" },
    { object: s.postgres, replacedBy: "Secret <instance>-postgres (same password)" },
    { object: s.licensePublicKey, replacedBy: "Secret <instance>-engine-license (same key)" },
    { object: s.pullSecret, replacedBy: "the stack's registry pull secret (registryMode)" },
    { object: tree.rbac.roleBinding, replacedBy: "RoleBinding <instance>-engine-executor" },
    { object: tree.rbac.role, replacedBy: "Role <instance>-engine-executor" },
    { object: tree.rbac.serviceAccount, replacedBy: "ServiceAccount <instance>-engine-executor" },
  ];
  const liveSecretChecks = (Object.entries(GENERATED_SOURCES) as [GeneratedSecretName, (typeof GENERATED_SOURCES)[GeneratedSecretName]][]).flatMap(([, src]) =>
    [src, ...src.sameIn].map((p) => ({ object: s[p.file], key: p.key, value: values[p.file][p.key] ?? "" })).filter((c) => c.value !== ""),
  );
  const selector = (o: TreeObject): Record<string, string> => {
    const m = get(o.body, "spec", "selector", "matchLabels");
    const out: Record<string, string> = {};
    if (isRecord(m)) for (const [k, v] of Object.entries(m)) { const sv = str(v); if (sv !== undefined) out[k] = sv; }
    return out;
  };
  return {
    namespace: ns,
    instanceName: settings.get("instanceName")?.value ?? "",
    settings: [...settings.values()],
    imports,
    deletes,
    liveSecretChecks,
    stopFirst: [d.postgres, d.engine, d.commandCenter].map((o) => ({ object: o, selector: selector(o) })),
  };
}

/** What a live object must look like for adopt to go on. */
export interface LiveState {
  exists: boolean;
  annotations?: Record<string, string>;
  /** PVC only. */
  phase?: string;
  volumeName?: string;
  /** Secret only: decoded values. */
  data?: Record<string, string>;
}

/**
 * Checks the cluster against the plan: the namespace and the claim exist (the claim Bound), nothing
 * of the tree belongs to another stack, and the Secrets hold the tree's values. Objects to delete
 * that are gone already are fine (an adopt that stopped half-way can run again).
 */
export function clusterProblems(plan: AdoptPlan, live: (o: TreeObject) => LiveState, owner: string): string[] {
  const problems: string[] = [];
  const foreignOwner = (o: TreeObject, l: LiveState) => {
    const by = l.annotations?.[OWNER_ANNOTATION];
    if (by !== undefined && by !== owner) problems.push(`${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name} (${o.file}) already belongs to stack ${by}. Fix: adopt into that stack, or destroy it first`);
  };
  for (const i of plan.imports) {
    const l = live(i.object);
    if (!l.exists) {
      problems.push(`${i.object.kind} ${i.object.namespace ? `${i.object.namespace}/` : ""}${i.object.name} of ${i.object.file} is not in the cluster: this tree is not what is deployed there. Fix: check KUBECONFIG / kubeContext, or --from`);
      continue;
    }
    foreignOwner(i.object, l);
    if (i.object.kind === "PersistentVolumeClaim" && l.phase !== "Bound") {
      problems.push(`PersistentVolumeClaim ${i.object.namespace}/${i.object.name} is ${l.phase ?? "in no phase"}, not Bound: there is no volume to keep. Fix: find out why (kubectl describe pvc) before adopting`);
    }
  }
  for (const d of plan.deletes) {
    const l = live(d.object);
    if (l.exists) foreignOwner(d.object, l);
  }
  for (const c of plan.liveSecretChecks) {
    const l = live(c.object);
    if (!l.exists) continue;
    if (l.data?.[c.key] !== c.value) {
      problems.push(`${c.object.file}: ${c.key} is not what Secret ${c.object.namespace}/${c.object.name} holds in the cluster: the tree is not what is deployed, and the running engine uses the cluster's value. Fix: regenerate the tree (the installer reads its values back) or put the cluster's value in the file`);
    }
  }
  return problems;
}

/** The owner annotation value this stack's objects carry (index.ts: <organization>/<project>/<stack>). */
export function ownerForStack(stack: string, project: string): string {
  const parts = stack.split("/");
  // As render does before a first up: a short stack name is in the default organization of a
  // file backend. adopt checks the stack's `owner` output against it after its first run.
  return parts.length === 3 ? stack : `organization/${project}/${parts[parts.length - 1]}`;
}

/** Objects that are only the stack's (not imported, not deleted) but exist and are someone else's. */
export function describeObject(o: Pick<TreeObject, "kind" | "namespace" | "name">): string {
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ""}${o.name}`;
}

/**
 * The object as the installer applied it (its manifest from the tree, without status): what an
 * imported resource's inputs are set to. The provider's import records every input field the live
 * object has (the claim's spec.volumeName and spec.storageClassName too, which the API server
 * filled in); the next `up` would read their absence from the program as a change to fields that
 * force a replacement. With the manifest as the old inputs, `up` sees only what the program
 * really changes (labels, annotations).
 */
export function installerInputs(o: TreeObject): Record<string, unknown> {
  const { status: _status, ...rest } = o.body;
  const metadata = isRecord(rest.metadata) ? rest.metadata : {};
  const kept: Record<string, unknown> = { name: o.name };
  if (o.kind !== "Namespace" && o.namespace !== undefined) kept.namespace = o.namespace;
  if (isRecord(metadata.labels)) kept.labels = metadata.labels;
  if (isRecord(metadata.annotations)) kept.annotations = metadata.annotations;
  return { ...rest, metadata: kept };
}

/**
 * A copy of an exported state with the inputs of the given resources replaced (both the engine's
 * `inputs` and the Kubernetes provider's copy in `outputs.__inputs`). Returns the URNs changed.
 */
export function withInputs(raw: unknown, inputsByUrn: ReadonlyMap<string, Record<string, unknown>>): { state: unknown; changed: string[] } {
  const state = structuredClone(raw) as { deployment?: { resources?: { urn?: unknown; inputs?: unknown; outputs?: unknown }[] } };
  const changed: string[] = [];
  for (const r of state.deployment?.resources ?? []) {
    const inputs = typeof r.urn === "string" ? inputsByUrn.get(r.urn) : undefined;
    if (inputs === undefined) continue;
    r.inputs = structuredClone(inputs);
    if (isRecord(r.outputs)) r.outputs.__inputs = structuredClone(inputs);
    changed.push(r.urn as string);
  }
  return { state, changed };
}
