/**
 * `rotate-secret NAME`: regenerates one generated secret, keeps it protected, and rolls exactly
 * the pods that use it.
 *
 * How: the generated value is a protected dynamic resource whose `rotation` keeper, set from the
 * stack config `secretRotation.<NAME>`, regenerates it in place (components/secretValueProvider.ts).
 * The command checks that nothing else is pending (so the `up` it runs changes only what the
 * rotation changes), records a new keeper in the stack config, and runs `up`: the Secrets holding
 * the value change, and the rollout checksums of the pods that read them. State and config then
 * agree, so the next `up` changes nothing.
 *
 * The PostgreSQL password is changed inside the database before anything else holds it:
 *   1. a targeted `up` of the generated value alone regenerates it in the state; nothing in the
 *      cluster changes yet, so the engine and postgres keep the old password;
 *   2. `ALTER ROLE` sets the new password in the running postgres pod (psql over the pod's local
 *      socket, SQL on stdin); it carries a SCRAM-SHA-256 verifier computed here, never the password;
 *   3. a full `up` writes the Secrets and rolls the pods that use the password.
 * A run stopped in between is completed by running the command again: the state's value differs
 * from the postgres Secret in the cluster (or the config's keeper from the state's), and the run
 * resumes with the value in the state instead of generating another one.
 */
import type { ConfigMap, EngineEvent, Stack } from "@pulumi/pulumi/automation";
import { GENERATED_SECRET_DECLARATIONS, GENERATED_SECRET_NAMES, PROJECT, type GeneratedSecretName } from "../config";
import { POSTGRES_DB, POSTGRES_USER, postgresSecretData } from "../components/builders/postgres";
import { changesFromEvents, excludeExpectedChurn, type ResourceChange } from "./changes";
import type { CheckedOptions, CommandResult } from "./commands";
import { engineOptions, type RunContext } from "./context";
import { PlatformError } from "./errors";
import { withStackRetry } from "./lock";
import { execWithInput, kubeConfigFor, readSecretData, readyPod } from "./postgres-access";
import { alterRoleSql, scramVerifier } from "./scram";
import { parseState, pendingOperations } from "./state";
import type { OpenedStack } from "./stack";
import { runUp } from "./update";

/** Keys whose old value decrypts stored data: rotating one abandons that data. */
export const DATA_LOSS_SECRETS: readonly GeneratedSecretName[] = ["credentialEncryptionKey", "logEncryptionKey"];
const DATA_LOSS_FLAG = "--abandon-encrypted-data";

const WHAT_IS_LOST: Record<string, string> = {
  credentialEncryptionKey: "every credential the engine has stored encrypted with the old key",
  logEncryptionKey: "every log the engine has stored encrypted with the old key",
};

export const GENERATED_SECRET_TYPE = "pulumi-nodejs:dynamic/agent-platform:GeneratedSecretValue";
const DEPLOYMENT_TYPE = "kubernetes:apps/v1:Deployment";
const SECRET_TYPE = "kubernetes:core/v1:Secret";
const POSTGRES_COMPONENT = "agent-platform:index:Postgres";

function isGeneratedSecretName(n: string): n is GeneratedSecretName {
  return (GENERATED_SECRET_NAMES as string[]).includes(n);
}

/** Usage rules of rotate-secret (run by the argument parser, before anything is touched). */
export function rotateRules(o: CheckedOptions): string | undefined {
  const names = GENERATED_SECRET_NAMES.join(", ");
  if (o.argument === undefined || o.argument === "") {
    return `rotate-secret needs the name of a generated secret, one of: ${names}; e.g. npm run platform -- rotate-secret engineApiKey --stack ${o.stack}`;
  }
  if (!isGeneratedSecretName(o.argument)) {
    return `rotate-secret: "${o.argument}" is not a generated secret; one of: ${names}`;
  }
  const losesData = DATA_LOSS_SECRETS.includes(o.argument);
  if (losesData && !o.abandonEncryptedData) {
    return (
      `rotating ${o.argument} makes ${WHAT_IS_LOST[o.argument]} unreadable for good: nothing re-encrypts stored data with the new key. ` +
      `If that is what you want, pass ${DATA_LOSS_FLAG}`
    );
  }
  if (!losesData && o.abandonEncryptedData) {
    return `${DATA_LOSS_FLAG} applies only to ${DATA_LOSS_SECRETS.join(" and ")}; rotating ${o.argument} loses no stored data, so drop the flag`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Reading the state and the config (pure)

/** Pulumi's marker of a secret value in an exported state. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/**
 * A value from a state exported with --show-secrets (as the Automation API's exportStack does):
 * a secret is `{<sig>: <secret sig>, plaintext: "<JSON>"}`; anything else is returned as is.
 */
export function revealed(v: unknown): unknown {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  if (o[SIG_KEY] !== SECRET_SIG) return v;
  if (typeof o["plaintext"] === "string") return JSON.parse(o["plaintext"]) as unknown;
  if ("value" in o) return o["value"];
  throw new PlatformError("the exported state holds an encrypted secret this tool cannot read (exported without --show-secrets?)");
}

type StateResource = Record<string, unknown>;

function resourcesOf(raw: unknown): StateResource[] {
  const r = (raw as { deployment?: { resources?: unknown } } | undefined)?.deployment?.resources;
  return Array.isArray(r) ? (r as StateResource[]) : [];
}

const outputsOf = (r: StateResource): Record<string, unknown> => (r["outputs"] as Record<string, unknown> | undefined) ?? {};

export interface GeneratedInState {
  urn: string;
  protect: boolean;
  /** The keeper of the current value ("" before the first rotation). */
  rotation: string;
  value: string;
}

/** The generated secret's resource in the state: type GeneratedSecretValue, named `…-<role>`. */
export function generatedInState(raw: unknown, name: GeneratedSecretName): GeneratedInState | undefined {
  const role = GENERATED_SECRET_DECLARATIONS[name].generated.role;
  const found = resourcesOf(raw).filter((r) => r["type"] === GENERATED_SECRET_TYPE && String(r["urn"]).endsWith(`-${role}`));
  if (found.length > 1) throw new PlatformError(`the state holds ${found.length} generated ${name} resources: ${found.map((r) => String(r["urn"])).join(", ")}`);
  if (found.length === 0) return undefined;
  const r = found[0];
  const out = outputsOf(r);
  const value = revealed(out["value"]);
  const rotation = revealed(out["rotation"]);
  if (typeof value !== "string" || value === "") throw new PlatformError(`the state's generated ${name} (${String(r["urn"])}) has no value`);
  return { urn: String(r["urn"]), protect: r["protect"] === true, rotation: typeof rotation === "string" ? rotation : "", value };
}

export interface PostgresInState {
  namespace: string;
  /** The Deployment's pod selector. */
  selector: Record<string, string>;
  container: string;
  secretName: string;
}

/** The in-cluster PostgreSQL the stack deployed (its Deployment and Secret), or undefined. */
export function postgresInState(raw: unknown): PostgresInState | undefined {
  const underPostgres = resourcesOf(raw).filter((r) => String(r["urn"]).includes(`${POSTGRES_COMPONENT}$`));
  const deployment = underPostgres.find((r) => r["type"] === DEPLOYMENT_TYPE);
  const secret = underPostgres.find((r) => r["type"] === SECRET_TYPE);
  if (!deployment || !secret) return undefined;
  const d = outputsOf(deployment) as {
    metadata?: { namespace?: string };
    spec?: { selector?: { matchLabels?: Record<string, string> }; template?: { spec?: { containers?: { name?: string }[] } } };
  };
  const s = outputsOf(secret) as { metadata?: { name?: string; namespace?: string } };
  const namespace = d.metadata?.namespace;
  const selector = d.spec?.selector?.matchLabels;
  const container = d.spec?.template?.spec?.containers?.[0]?.name;
  const secretName = s.metadata?.name;
  if (!namespace || !selector || Object.keys(selector).length === 0 || !container || !secretName) return undefined;
  return { namespace, selector, container, secretName };
}

/** The keeper the stack config holds for `name` (`agent-platform:secretRotation`, an object), "" when none. */
export function configuredKeeper(config: ConfigMap, name: GeneratedSecretName): string {
  const raw = config[`${PROJECT}:secretRotation`]?.value;
  if (raw === undefined || raw === "") return "";
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new PlatformError(`${PROJECT}:secretRotation is not an object in the stack config; fix it (pulumi config set --path secretRotation.${name} <keeper>)`);
  }
  const v = (parsed as Record<string, unknown> | null)?.[name];
  return typeof v === "string" ? v : "";
}

/** Whether the stack config sets the secret by hand (a non-empty `agent-platform:<name>`). */
export function handSet(config: ConfigMap, name: GeneratedSecretName): boolean {
  const v = config[`${PROJECT}:${name}`];
  return v !== undefined && v.value !== "";
}

export function handSetMessage(name: GeneratedSecretName, stack: string): string {
  const key = `${PROJECT}:${name}`;
  const pg = name === "postgresPassword" ? " (change it inside the database first: ALTER ROLE)" : "";
  return (
    `${key} is set by hand in the config of stack ${stack}, and rotate-secret regenerates only generated values. ` +
    `Rotate it yourself: set a new value with \`pulumi config set --secret ${key} <new value> --stack ${stack}\`${pg}, then up. ` +
    `Or remove the hand-set value to use the generated one again (\`pulumi config rm ${key} --stack ${stack}\`` +
    `${name === "postgresPassword" ? ", after setting the generated password inside the database" : ""}), then rotate-secret.`
  );
}

/**
 * A new keeper: the time of the rotation, made unique against the current one. Prefixed, so the
 * stack file's YAML holds it as a plain string (a bare timestamp could be read back as a date).
 */
export function newKeeper(now: Date, current: string): string {
  const k = `rotated-${now.toISOString()}`;
  return k === current ? `${k}-2` : k;
}

/**
 * What a run does, from where a previous run may have stopped:
 * - fresh: nothing pending; generate a new value;
 * - resume-keeper: the config has a keeper the state has not applied yet (a run stopped before
 *   or during its `up`): apply that keeper, generate no other;
 * - resume-database (postgres only): the state's value is not the one in the postgres Secret in
 *   the cluster (a run stopped after generating it): set that value in the database, then up.
 */
export type RotationStart = { kind: "fresh" } | { kind: "resume-keeper"; keeper: string } | { kind: "resume-database"; keeper: string };

export function rotationStart(a: { stateKeeper: string; configKeeper: string; liveSecretMatchesState?: boolean }): RotationStart {
  if (a.configKeeper !== "" && a.configKeeper !== a.stateKeeper) return { kind: "resume-keeper", keeper: a.configKeeper };
  if (a.liveSecretMatchesState === false) return { kind: "resume-database", keeper: a.stateKeeper };
  return { kind: "fresh" };
}

/** The Deployments whose pod template an `up` changed (their pods roll). */
export function rolledDeployments(changes: readonly ResourceChange[]): string[] {
  return changes
    .filter((c) => c.type === DEPLOYMENT_TYPE && (c.op === "update" || c.op === "replace" || c.op === "create-replacement"))
    .map((c) => c.name)
    .sort();
}

// ---------------------------------------------------------------------------------------------
// The command

export interface RotationReport {
  secret: GeneratedSecretName;
  /** The keeper recorded in the stack config (`secretRotation.<secret>`) and the state. */
  keeper: string;
  /** How the run started (a re-run completes an interrupted rotation). */
  start: RotationStart["kind"];
  /** postgresPassword: the pod in which ALTER ROLE set the new password. */
  databasePod?: string;
  /** Deployments whose pods rolled. */
  rolled: string[];
  protected: boolean;
}

function summaryOf(m: Record<string, number | undefined> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m ?? {})) if (typeof v === "number") out[k] = v;
  return out;
}

async function state(stack: Stack): Promise<unknown> {
  const raw = await stack.exportStack();
  parseState(raw);
  return raw;
}

/** Refuses when an `up` would change anything: the rotation's `up` must change only what the rotation changes. */
async function requireNothingPending(ctx: RunContext, stack: Stack, name: string): Promise<void> {
  ctx.note(`rotate-secret: preview (nothing else may be pending, so the rotation's up changes only what uses ${name})`);
  const events: EngineEvent[] = [];
  await withStackRetry(ctx, () => stack.preview({ ...engineOptions(ctx, events), refresh: ctx.opts.refresh }));
  const { kept } = excludeExpectedChurn(changesFromEvents(events));
  if (kept.length) {
    const list = kept.map((c) => `${c.op} ${c.type} ${c.name}`).join("; ");
    throw new PlatformError(
      `stack ${ctx.opts.stack} has ${kept.length} pending change(s) besides the rotation (${list}). Nothing was rotated. ` +
        `Deploy them first (npm run platform -- up --stack ${ctx.opts.stack}), then rotate, so that the rotation rolls only what uses ${name}.`,
    );
  }
}

async function setKeeper(ctx: RunContext, stack: Stack, name: GeneratedSecretName, keeper: string): Promise<void> {
  await stack.setConfig(`${PROJECT}:secretRotation.${name}`, { value: keeper }, true);
  ctx.note(`rotate-secret: config: set secretRotation.${name} = ${keeper}`);
}

export async function rotateSecret(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const name = ctx.opts.argument;
  if (name === undefined || !isGeneratedSecretName(name)) throw new PlatformError("rotate-secret needs a generated secret's name");
  const config = await stack.getAllConfig();
  if (handSet(config, name)) throw new PlatformError(handSetMessage(name, ctx.opts.stack));

  const before = await state(stack);
  const pending = pendingOperations(parseState(before));
  if (pending.length) {
    throw new PlatformError(
      `the state of stack ${ctx.opts.stack} has ${pending.length} pending operation(s) from an interrupted update; ` +
        `run npm run platform -- up --stack ${ctx.opts.stack} (it resolves them) before rotating`,
    );
  }
  const old = generatedInState(before, name);
  if (!old) {
    throw new PlatformError(`stack ${ctx.opts.stack} has no generated ${name} in its state; deploy it first (npm run platform -- up --stack ${ctx.opts.stack})`);
  }
  ctx.masker.add(old.value);
  const configKeeper = configuredKeeper(config, name);
  const notes: string[] = [];

  const postgres = name === "postgresPassword" ? await preparePostgres(ctx, before, config) : undefined;
  const start = rotationStart({
    stateKeeper: old.rotation,
    configKeeper,
    liveSecretMatchesState: postgres ? postgres.liveMatches(old.value) : undefined,
  });

  let keeper: string;
  if (start.kind === "fresh") {
    await requireNothingPending(ctx, stack, name);
    keeper = newKeeper(new Date(), old.rotation);
    await setKeeper(ctx, stack, name, keeper);
  } else {
    keeper = start.keeper;
    const msg =
      start.kind === "resume-keeper"
        ? `completing an interrupted rotation of ${name}: the stack config's keeper (${keeper}) is not applied yet`
        : `completing an interrupted rotation of ${name}: the state's value is not yet in the postgres Secret`;
    ctx.note(`rotate-secret: ${msg}`);
    notes.push(msg);
  }

  let databasePod: string | undefined;
  if (postgres) {
    let current = old;
    if (start.kind !== "resume-database") {
      // 1. Only the generated value, in the state: nothing in the cluster changes yet.
      ctx.note(`rotate-secret: targeted up of ${old.urn} (a new value in the state only)`);
      const events: EngineEvent[] = [];
      await withStackRetry(ctx, () => runUp(ctx, stack, events, { target: [old.urn] }));
      const outside = changesFromEvents(events).filter((c) => c.urn !== old.urn);
      if (outside.length) throw new PlatformError(`the targeted up changed more than the generated password: ${outside.map((c) => c.urn).join(", ")}`);
      const generated = generatedInState(await state(stack), name);
      if (!generated || generated.rotation !== keeper || generated.value === old.value) {
        throw new PlatformError(`the targeted up did not regenerate ${name} (keeper in state: ${generated?.rotation ?? "none"}); run rotate-secret again`);
      }
      current = generated;
      ctx.masker.add(current.value);
    }
    // 2. Inside the database, before any Secret or pod holds the new value.
    databasePod = await postgres.setPassword(current.value);
    const msg = `changed the password of role ${POSTGRES_USER} inside the database (pod ${postgres.namespace}/${databasePod})`;
    ctx.note(`rotate-secret: ${msg}`);
    notes.push(msg);
  }

  // 3. Everything that uses the value follows.
  ctx.note(`rotate-secret: up (the Secrets holding ${name} and the pods that use it)`);
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () => runUp(ctx, stack, events, { refresh: ctx.opts.refresh }));
  const changes = changesFromEvents(events);

  const after = generatedInState(await state(stack), name);
  if (!after) throw new PlatformError(`the generated ${name} is gone from the state of stack ${ctx.opts.stack} after up`);
  ctx.masker.add(after.value);
  if (after.rotation !== keeper) throw new PlatformError(`after up the state's keeper of ${name} is "${after.rotation}", not "${keeper}"`);
  if (start.kind === "fresh" && after.value === old.value) throw new PlatformError(`up did not regenerate ${name}`);
  if (!after.protect) throw new PlatformError(`the generated ${name} lost its protection (${after.urn}); run up again, which sets it`);
  if (postgres && !(await postgres.liveMatchesNow(after.value))) {
    throw new PlatformError(`after up the postgres Secret in the cluster does not hold the rotated password; run rotate-secret again`);
  }
  const rolled = rolledDeployments(changes);
  notes.push(`${name} rotated (keeper ${keeper}, recorded in secretRotation.${name}); still protected; pods rolled: ${rolled.join(", ") || "none"}`);
  const rotation: RotationReport = { secret: name, keeper, start: start.kind, databasePod, rolled, protected: after.protect };
  return { outcome: { kind: "ok" }, summary: summaryOf(res.resourceChanges), changes, notes, rotation };
}

interface PostgresRotation {
  namespace: string;
  /** Whether the postgres Secret read before the run holds this value. */
  liveMatches: (value: string) => boolean;
  /** Reads the Secret again and compares. */
  liveMatchesNow: (value: string) => Promise<boolean>;
  /** ALTER ROLE in the running pod; returns the pod's name. */
  setPassword: (value: string) => Promise<string>;
}

function sameData(live: Record<string, string> | undefined, value: string): boolean {
  if (!live) return false;
  const want = postgresSecretData(value);
  return Object.entries(want).every(([k, v]) => live[k] === Buffer.from(v, "utf8").toString("base64"));
}

/**
 * Checks, before anything changes, that the database can be reached: the stack's postgres, its
 * one ready pod, and psql in it over the local socket.
 */
async function preparePostgres(ctx: RunContext, raw: unknown, config: ConfigMap): Promise<PostgresRotation> {
  const pg = postgresInState(raw);
  if (!pg) {
    throw new PlatformError(
      `stack ${ctx.opts.stack} has no in-cluster PostgreSQL in its state (no Deployment and Secret under ${POSTGRES_COMPONENT}); ` +
        `rotate-secret changes the password inside that database, so deploy it first (up)`,
    );
  }
  // The cluster the program deploys to: the same kubeconfig and the stack's kubeContext.
  const context = config[`${PROJECT}:kubeContext`]?.value;
  const kc = await kubeConfigFor(ctx.env, context || undefined);
  const psql = ["psql", "-X", "-v", "ON_ERROR_STOP=1", "-h", "/var/run/postgresql", "-U", POSTGRES_USER, "-d", POSTGRES_DB, "-tA", "-f", "-"];
  const run = async (sql: string): Promise<{ pod: string; stdout: string }> => {
    const pod = await readyPod(kc, pg.namespace, pg.selector);
    const r = await execWithInput(kc, { namespace: pg.namespace, pod, container: pg.container }, psql, `${sql}\n\\q\n`);
    if (r.code !== 0) {
      throw new PlatformError(`psql in pod ${pg.namespace}/${pod} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`);
    }
    return { pod, stdout: r.stdout };
  };
  ctx.note(`rotate-secret: checking the database: psql in the postgres pod (namespace ${pg.namespace})`);
  const probe = await run("SELECT current_user;");
  if (probe.stdout.trim() !== POSTGRES_USER) {
    throw new PlatformError(`psql in pod ${pg.namespace}/${probe.pod} answered "${probe.stdout.trim().slice(0, 100)}" to SELECT current_user, expected ${POSTGRES_USER}`);
  }
  const live = await readSecretData(kc, pg.namespace, pg.secretName);
  return {
    namespace: pg.namespace,
    liveMatches: (value) => sameData(live, value),
    liveMatchesNow: async (value) => sameData(await readSecretData(kc, pg.namespace, pg.secretName), value),
    setPassword: async (value) => {
      const verifier = scramVerifier(value);
      ctx.masker.add(verifier);
      const r = await run(alterRoleSql(POSTGRES_USER, verifier));
      if (!r.stdout.includes("ALTER ROLE")) throw new PlatformError(`psql in pod ${pg.namespace}/${r.pod} did not confirm ALTER ROLE`);
      return r.pod;
    },
  };
}
