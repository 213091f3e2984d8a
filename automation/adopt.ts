/**
 * `adopt --from DIR`: takes over a deployment made by the engine's installer
 * (`2501 infra deploy --target kubernetes`). The decisions are in adopt-plan.ts (pure); this file
 * reads the tree and the cluster, and, unless --dry-run, carries them out in this order:
 *
 *  1. check everything first (tree, config validator, cluster, the stack's state): a refusal
 *     changes nothing;
 *  2. save the stack config (the five generated values as secrets);
 *  3. claim the namespace and the postgres claim (owner annotation; the installer's kubectl field
 *     ownership cleared so the stack's server-side apply owns what it sets; kubectl's
 *     last-applied annotation, the record of what the installer applied, is left as it is);
 *  4. delete the installer's other objects listed in the tree, Deployments first, and wait until
 *     their pods are gone (two postgres must never run on one volume);
 *  5. a targeted `up` that creates only the providers and the parent components, then
 *     `pulumi import` of the namespace and the claim under the program's resources, their
 *     recorded inputs set to the installer's manifests (adopt-plan.ts, installerInputs).
 *
 * The next `up` creates the rest under the stack's own names.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ConfigError, GENERATED_SECRET_DECLARATIONS, PROJECT, validateConfig, type GeneratedSecretName, type PlainKey, type SecretKey, SECRET_KEYS, type ValidatedConfig } from "../config";
import { plannedObjects } from "../components/builders/inventory";
import { describeRef, OWNER_ANNOTATION, ownershipProblem } from "../components/builders/ownership";
import { kubeconfigCluster } from "../components/clusterReader";
import {
  AdoptError,
  clusterProblems,
  describeObject,
  installerInputs,
  ownerForStack,
  parseTree,
  planAdoption,
  type AdoptPlan,
  type LiveState,
  type TreeFile,
  type TreeObject,
  withInputs,
} from "./adopt-plan";
import type { CommandResult } from "./commands";
import type { RunContext } from "./context";
import { PlatformError } from "./errors";
import { withStackRetry } from "./lock";
import { exportState, type OpenedStack } from "./stack";
import { runUp } from "./update";
import { parseState } from "./state";

/** What adopt did or, with --dry-run, would do: in the JSON document as `adopt`. */
export interface AdoptReport {
  from: string;
  dryRun: boolean;
  namespace: string;
  instanceName: string;
  /** Config keys set on the stack; secret values are never included. */
  config: { key: string; secret: boolean; value?: string; from: string; replaces?: boolean }[];
  /** Taken over: annotated as the stack's and imported under the program's resource. */
  imported: { object: string; file: string; as: string; why: string }[];
  /** The installer's objects the stack replaces with its own, deleted (or gone already). */
  deleted: { object: string; file: string; replacedBy: string; state: "deleted" | "would delete" | "already gone" }[];
  next: string;
}

function readTree(dir: string): TreeFile[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new PlatformError(`--from ${dir}: no such directory. Point it at the installer's manifest tree (<configDir>/kubernetes, by default /etc/2501/kubernetes)`);
  }
  if (!stat.isDirectory()) throw new PlatformError(`--from ${dir}: not a directory. Point it at the installer's manifest tree (<configDir>/kubernetes)`);
  const out: TreeFile[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push({ path: p, text: fs.readFileSync(path.join(dir, p), "utf8") });
    }
  };
  walk("");
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Resources in the state that are objects in a cluster (not the stack, providers or components). */
function managedResources(state: Awaited<ReturnType<typeof exportState>>): string[] {
  return (state.deployment?.resources ?? []).filter((r) => r.custom === true && !r.type.startsWith("pulumi:providers:")).map((r) => r.urn);
}

/** The stack config after adopt, validated by the program's own validator before anything changes. */
function validate(plan: AdoptPlan, existing: Record<string, { value: string; secret?: boolean }>, workDir: string): ValidatedConfig {
  const values: Partial<Record<PlainKey, string>> = {};
  const secretsSet: Partial<Record<SecretKey, boolean>> = {};
  const secretProblems: Partial<Record<GeneratedSecretName, string>> = {};
  const consider = (key: string, value: string, secret: boolean) => {
    if (secret) {
      secretsSet[key as SecretKey] = value !== "";
      const decl = (GENERATED_SECRET_DECLARATIONS as Record<string, { check: (v: string) => string | undefined }>)[key];
      const problem = value !== "" ? decl?.check(value) : undefined;
      if (problem !== undefined) secretProblems[key as GeneratedSecretName] = problem;
    } else values[key as PlainKey] = value;
  };
  for (const [full, v] of Object.entries(existing)) {
    if (full.startsWith(`${PROJECT}:`)) consider(full.slice(PROJECT.length + 1), v.value, v.secret === true || (SECRET_KEYS as readonly string[]).includes(full.slice(PROJECT.length + 1)));
  }
  for (const s of plan.settings) consider(s.key, s.value, s.secret);
  try {
    return validateConfig({ values, secretsSet, secretProblems }, { baseDir: workDir });
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const from = new Map(plan.settings.map((s) => [s.key as string, s.from]));
    throw new AdoptError(
      e.issues.map((i) => `${PROJECT}:${i.key} = ${i.value} (${from.get(i.key) ?? "stack config"}): ${i.rule}. Example: ${i.example}`),
      "the config adopt would set does not pass this program's validation; nothing was changed",
    );
  }
}

type KubeClient = {
  objects: import("@kubernetes/client-node").KubernetesObjectApi;
  core: import("@kubernetes/client-node").CoreV1Api;
};

async function kubeClient(context: string | undefined): Promise<KubeClient> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  if (context) kc.setCurrentContext(context);
  return { objects: k8s.KubernetesObjectApi.makeApiClient(kc), core: kc.makeApiClient(k8s.CoreV1Api) };
}

const header = (o: TreeObject) => ({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, ...(o.namespace !== undefined && o.kind !== "Namespace" ? { namespace: o.namespace } : {}) } });
const notFound = (e: unknown) => typeof e === "object" && e !== null && (e as { code?: number }).code === 404;

async function readLive(client: KubeClient, o: TreeObject): Promise<LiveState> {
  try {
    const live = (await client.objects.read(header(o))) as unknown as {
      metadata?: { annotations?: Record<string, string> };
      status?: { phase?: string };
      spec?: { volumeName?: string };
      data?: Record<string, string>;
    };
    const data = live.data ? Object.fromEntries(Object.entries(live.data).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")])) : undefined;
    return { exists: true, annotations: live.metadata?.annotations ?? {}, phase: live.status?.phase, volumeName: live.spec?.volumeName, data };
  } catch (e) {
    if (notFound(e)) return { exists: false };
    throw new PlatformError(`reading ${describeObject(o)} from the cluster failed: ${(e as Error).message}. Nothing was changed`);
  }
}

/** The stack's URN of a resource, by its type chain and name (for the targeted first run). */
function urn(stackName: string, typeChain: string, name: string): string {
  const short = stackName.split("/").pop() ?? stackName;
  return `urn:pulumi:${short}::${PROJECT}::${typeChain}::${name}`;
}

export async function adopt(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const from = path.resolve(ctx.opts.from ?? "");
  const dryRun = ctx.opts.dryRun === true;
  const notes: string[] = [];

  // 1. Everything is checked before anything changes.
  const held = managedResources(await exportState(stack));
  if (held.length > 0) {
    throw new PlatformError(
      `stack ${ctx.opts.stack} already has ${held.length} resource(s) (${held.slice(0, 3).join(", ")}${held.length > 3 ? ", …" : ""}): adopt only fills an empty stack. ` +
        `Fix: adopt into a new stack (--stack <name> --create), or destroy this one first. Nothing was changed`,
    );
  }
  const tree = parseTree(readTree(from));
  const plan = planAdoption(tree, ctx.opts.config);
  for (const s of plan.settings) if (s.secret) ctx.masker.add(s.value);
  const existing = await stack.getAllConfig();
  for (const v of Object.values(existing)) if (v.secret) ctx.masker.add(v.value);
  const config = validate(plan, existing, ctx.workDir);
  const owner = ownerForStack(ctx.opts.stack, PROJECT);

  const client = await kubeClient(config.kubeContext);
  const liveByObject = new Map<TreeObject, LiveState>();
  for (const o of [...plan.imports.map((i) => i.object), ...plan.deletes.map((d) => d.object)]) liveByObject.set(o, await readLive(client, o));
  const problems = clusterProblems(plan, (o) => liveByObject.get(o) ?? { exists: false }, owner);
  // What the stack creates itself must not collide with someone else's object (the installer's
  // ones it deletes first and those it imports aside): the ownership check `up` runs, run now.
  const handled = new Set([...plan.imports.map((i) => i.object), ...plan.deletes.map((d) => d.object)].map((o) => describeObject(o)));
  const reader = kubeconfigCluster(config.kubeContext).read;
  for (const ref of plannedObjects(config)) {
    if (handled.has(describeRef(ref))) continue;
    const p = ownershipProblem(ref, await reader(ref), owner, config.instanceName);
    if (p !== undefined) problems.push(p);
  }
  if (problems.length > 0) throw new AdoptError(problems, `the cluster does not match the tree in ${from}; nothing was changed`);

  const report: AdoptReport = {
    from,
    dryRun,
    namespace: plan.namespace,
    instanceName: plan.instanceName,
    config: plan.settings.map((s) => ({
      key: `${PROJECT}:${s.key}`,
      secret: s.secret,
      ...(s.secret ? {} : { value: s.value }),
      from: s.from,
      ...(existing[`${PROJECT}:${s.key}`] !== undefined ? { replaces: true } : {}),
    })),
    imported: plan.imports.map((i) => ({ object: describeObject(i.object), file: i.object.file, as: `${i.type}::${i.logicalName}`, why: i.why })),
    deleted: plan.deletes.map((d) => ({
      object: describeObject(d.object),
      file: d.object.file,
      replacedBy: d.replacedBy.replace(/<instance>/g, plan.instanceName),
      state: !liveByObject.get(d.object)?.exists ? "already gone" : dryRun ? "would delete" : "deleted",
    })),
    next: `npm run platform -- up --stack ${ctx.opts.stack}`,
  };
  if (dryRun) {
    notes.push("dry run: nothing was changed (no config saved, nothing claimed, imported or deleted)");
    return { outcome: { kind: "ok" }, adopt: report, notes };
  }

  // 2. The stack config.
  for (const s of plan.settings) await stack.setConfig(`${PROJECT}:${s.key}`, { value: s.value, secret: s.secret });
  if (existing["pulumi:disable-default-providers"] === undefined) {
    // As the committed stack files: every resource uses the program's explicit providers.
    await stack.setConfig("pulumi:disable-default-providers[0]", { value: "*", secret: false }, true);
  }
  ctx.note(`adopt: saved ${plan.settings.length} config value(s) (${plan.settings.filter((s) => s.secret).length} as secrets)`);

  // 3. Claim what the stack takes over.
  for (const i of plan.imports) {
    await client.objects.patch(
      { ...header(i.object), metadata: { ...header(i.object).metadata, annotations: { [OWNER_ANNOTATION]: owner } } } as never,
      undefined, undefined, "agent-platform-adopt", undefined, "application/merge-patch+json",
    );
    // [{}] strips every field manager: the stack's server-side apply then owns what it sets,
    // without conflicts with the installer's kubectl apply over labels it changes.
    await client.objects.patch({ ...header(i.object), metadata: { ...header(i.object).metadata, managedFields: [{}] } } as never, undefined, undefined, undefined, undefined, "application/merge-patch+json");
    ctx.note(`adopt: claimed ${describeObject(i.object)} for ${owner}`);
  }

  // 4. The installer's objects the stack replaces: Deployments first, and their pods gone.
  for (const d of plan.deletes) {
    if (!liveByObject.get(d.object)?.exists) continue;
    try {
      await client.objects.delete(header(d.object), undefined, undefined, undefined, undefined, "Background");
      ctx.note(`adopt: deleted ${describeObject(d.object)} (${d.object.file}); the stack's replacement: ${d.replacedBy.replace(/<instance>/g, plan.instanceName)}`);
    } catch (e) {
      if (!notFound(e)) throw e;
    }
    const stop = plan.stopFirst.find((s) => s.object === d.object);
    if (stop && Object.keys(stop.selector).length > 0) await waitForNoPods(ctx, client, plan.namespace, stop.selector, describeObject(d.object));
  }

  // 5. The providers and parents, then the import under them.
  const root = "agent-platform:index:AgentPlatform";
  const targets = [urn(ctx.opts.stack, root, "platform"), urn(ctx.opts.stack, `${root}$agent-platform:index:Namespaces`, "platform-namespaces"), urn(ctx.opts.stack, `${root}$agent-platform:index:Postgres`, "platform-postgres")];
  ctx.note("adopt: first run, targeted: only the providers and the parent components are created");
  const first = await withStackRetry(ctx, () => runUp(ctx, stack, [], { target: targets }));
  const outputOwner = first.outputs.owner?.value;
  if (outputOwner !== owner) {
    throw new PlatformError(`the stack marks its objects ${JSON.stringify(outputOwner)}, adopt claimed the namespace and claim as ${owner}. Fix: annotate ${tree.namespace.name} and ${plan.namespace}/${tree.pvc.name} with ${OWNER_ANNOTATION}=${String(outputOwner)}, then import them (docs/adopt.md)`);
  }
  const state = await exportState(stack);
  const find = (type: string, suffix: string) => (state.deployment?.resources ?? []).find((r) => r.type === type && r.urn.endsWith(suffix))?.urn;
  const nameTable: Record<string, string> = {};
  for (const [name, type, suffix] of [
    ["k8s", "pulumi:providers:kubernetes", "::k8s"],
    ["namespaces", "agent-platform:index:Namespaces", "::platform-namespaces"],
    ["postgres", "agent-platform:index:Postgres", "::platform-postgres"],
  ] as const) {
    const u = find(type, suffix);
    if (u === undefined) throw new PlatformError(`the targeted first run left no ${type} ${suffix.slice(2)} in the state; cannot import. Run adopt again after checking the output above`);
    nameTable[name] = u;
  }
  ctx.note(`adopt: importing ${plan.imports.map((i) => describeObject(i.object)).join(" and ")}`);
  await withStackRetry(ctx, () =>
    stack.import({
      resources: plan.imports.map((i) => ({ type: i.type, name: i.logicalName, id: i.id, parent: i.parentType.endsWith("Namespaces") ? "namespaces" : "postgres", provider: "k8s" })),
      nameTable,
      protect: true,
      generateCode: false,
      onOutput: ctx.progress,
    }),
  );
  // The imported resources' inputs: the installer's manifests (installerInputs explains why).
  const raw = await stack.exportStack();
  const imported = new Map<string, Record<string, unknown>>();
  const after = parseState(raw);
  for (const i of plan.imports) {
    const u = after.deployment?.resources?.find((r) => r.type === i.type && r.urn.endsWith(`::${i.logicalName}`))?.urn;
    if (u === undefined) throw new PlatformError(`the import left no ${i.type} ${i.logicalName} in the state. Run adopt again after checking the output above`);
    imported.set(u, installerInputs(i.object));
  }
  const { state: edited } = withInputs(raw, imported);
  await stack.importStack(edited as typeof raw);
  notes.push(`adopted: now run \`${report.next}\` to create the stack's objects (the engine and command center are down until then)`);
  return { outcome: { kind: "ok" }, adopt: report, notes };
}

async function waitForNoPods(ctx: RunContext, client: KubeClient, namespace: string, selector: Record<string, string>, what: string): Promise<void> {
  const labelSelector = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",");
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const pods = await client.core.listNamespacedPod({ namespace, labelSelector });
    if (pods.items.length === 0) return;
    if (Date.now() > deadline) {
      throw new PlatformError(`the pods of ${what} (${labelSelector}) are still there after 5 minutes; adopt stopped before importing. Fix: find out why they do not end (kubectl get pods -n ${namespace} -l ${labelSelector}), then run adopt again`);
    }
    await ctx.clock.sleep(1000);
  }
}

/** The human summary's lines for an adopt report (report.ts). */
export function adoptSummaryLines(r: AdoptReport): string[] {
  const lines = [`${r.dryRun ? "would adopt" : "adopted"} the installer's deployment in namespace ${r.namespace} (instance ${r.instanceName}) from ${r.from}`];
  lines.push(` config${r.dryRun ? " to set" : " set"} (${r.config.length}):`);
  for (const c of r.config) lines.push(`  ${c.key} = ${c.secret ? "[secret]" : JSON.stringify(c.value)}  (${c.from})${c.replaces ? " replaces the stack's value" : ""}`);
  lines.push(` ${r.dryRun ? "to import" : "imported"} (kept as they are, now the stack's):`);
  for (const i of r.imported) lines.push(`  ${i.object} (${i.file}) as ${i.as}: ${i.why}`);
  lines.push(` replaced by the stack's own objects on the next up, the installer's ${r.dryRun ? "to delete" : "deleted"}:`);
  for (const d of r.deleted) lines.push(`  ${d.object} (${d.file}) ${d.state}: ${d.replacedBy}`);
  lines.push(` next: ${r.next}`);
  return lines;
}
