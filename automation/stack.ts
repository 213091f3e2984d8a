/**
 * Opening a stack through the Automation API: LocalWorkspace on the repo root, the stack
 * selected (created only with --create), config from flags applied, secret config values
 * registered with the masker.
 */
import type * as Automation from "@pulumi/pulumi/automation";
import type { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import type { ConfigSetting, Env } from "./args";
import type { CommandSpec } from "./commands";
import type { RunContext } from "./context";
import { repairTornSidecars } from "./backend-repair";
import { PlatformError } from "./errors";
import { collectStrings } from "./mask";
import { parseState, type ExportedState } from "./state";

let automation: Promise<typeof Automation> | undefined;

/**
 * The Automation API, loaded on first use: loading it pulls in most of the Pulumi SDK (over a
 * second of CPU), which `--help`, usage errors and the config checks before a stack is opened
 * never need.
 */
export function loadAutomation(): Promise<typeof Automation> {
  automation ??= import("@pulumi/pulumi/automation");
  return automation;
}

export function definedEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === "string") out[k] = v;
  return out;
}

export async function openWorkspace(ctx: RunContext, envOverrides: Record<string, string> = {}): Promise<LocalWorkspace> {
  const { LocalWorkspace } = await loadAutomation();
  return LocalWorkspace.create({
    workDir: ctx.workDir,
    envVars: { ...definedEnv(ctx.env), ...envOverrides },
    pulumiCommand: await explicitRefreshCommand(),
  });
}

/** The operations Pulumi.yaml's `options.refresh: always` applies to. */
const REFRESHING_OPERATIONS = new Set(["up", "preview", "destroy"]);

/**
 * The CLI's arguments with the refresh made explicit: Pulumi.yaml asks every `up`, `preview` and
 * `destroy` to refresh, and the SDK can only add `--refresh`, never turn it off. Here every such
 * call without `--refresh` gets `--refresh=false`, so the command line decides (`--no-refresh`,
 * and drift's repair, which refreshes on its own first).
 */
export function explicitRefresh(args: readonly string[]): string[] {
  if (!REFRESHING_OPERATIONS.has(args[0] ?? "")) return [...args];
  if (args.some((a) => a === "--refresh" || a.startsWith("--refresh="))) return [...args];
  return [...args, "--refresh=false"];
}

type CliRun = (args: string[], ...rest: unknown[]) => Promise<unknown>;

/**
 * The `pulumi` on PATH, with `explicitRefresh` applied to every call. The SDK's PulumiCommand runs
 * the CLI through its `run` method (public in the JavaScript, left out of the typings); the SDK
 * is pinned (package.json), and a unit test fails if that method is gone.
 */
export async function explicitRefreshCommand(): Promise<PulumiCommand> {
  const { PulumiCommand } = await loadAutomation();
  const cmd = await PulumiCommand.get();
  const run = (cmd as unknown as { run?: CliRun }).run;
  if (typeof run !== "function") throw new Error("@pulumi/pulumi's PulumiCommand has no run method: update automation/stack.ts for this SDK version");
  const wrapped = Object.create(cmd) as PulumiCommand & { run: CliRun };
  wrapped.run = (args, ...rest) => run.call(cmd, explicitRefresh(args), ...rest);
  return wrapped;
}

function backendName(env: Env): string {
  return env["PULUMI_BACKEND_URL"] ? `backend ${env["PULUMI_BACKEND_URL"]}` : "the current backend (`pulumi whoami -v`)";
}

/** Selects the stack, or creates it when --create is given. */
async function selectStack(ctx: RunContext, ws: LocalWorkspace, name: string): Promise<Stack> {
  const { Stack, StackNotFoundError } = await loadAutomation();
  if (ctx.opts.create) {
    return Stack.createOrSelect(name, ws);
  }
  try {
    return await Stack.select(name, ws);
  } catch (err) {
    if (err instanceof StackNotFoundError || (err instanceof Error && /no stack named .* found/.test(err.message))) {
      throw new PlatformError(
        `stack ${name} does not exist in ${backendName(ctx.env)}. Pass --create to create it, or check PULUMI_BACKEND_URL / \`pulumi login\`.`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** Applies --config / --secret-config to the stack (persisted in its config, as `pulumi config set` does). */
async function applyConfig(stack: Stack, settings: readonly ConfigSetting[], ctx: RunContext): Promise<void> {
  for (const s of settings) {
    if (s.secret) ctx.masker.add(s.value);
  }
  for (const s of settings) {
    await stack.setConfig(s.key, { value: s.value, secret: s.secret });
    ctx.note(`config: set ${s.key}${s.secret ? " (secret)" : ""}`);
  }
}

/** Registers every secret config value of the stack with the masker (values are never printed). */
async function maskStackSecrets(stack: Stack, ctx: RunContext): Promise<string[]> {
  const all = await stack.getAllConfig();
  const secrets: string[] = [];
  for (const v of Object.values(all)) {
    if (v.secret) {
      ctx.masker.add(v.value);
      secrets.push(...collectStrings(v.value));
    }
  }
  return secrets;
}

/** A selected stack, and the values of its secret config (for render's leak scan). */
export interface OpenedStack {
  stack: Stack;
  secretValues: readonly string[];
}

/** Opens the stack as the command's entry in COMMANDS says (its environment, config, masking). */
export async function openStack(ctx: RunContext, spec: Pick<CommandSpec, "env" | "writesConfig" | "updateLike">): Promise<OpenedStack> {
  await repairTornSidecars(ctx, ctx.opts.stack);
  const ws = await openWorkspace(ctx, spec.env?.(ctx.env) ?? {});
  const stack = await selectStack(ctx, ws, ctx.opts.stack);
  if (spec.writesConfig) await applyConfig(stack, ctx.opts.config, ctx);
  else for (const s of ctx.opts.config) if (s.secret) ctx.masker.add(s.value);
  const secretValues = spec.updateLike ? await maskStackSecrets(stack, ctx) : [];
  return { stack, secretValues };
}

export interface PulumiRunOptions {
  onOutput?: (chunk: string) => void;
  onError?: (chunk: string) => void;
  signal?: AbortSignal;
}

/**
 * Runs one `pulumi` command for this stack the way the SDK's Stack does (the workspace's
 * command, directory and environment, `--stack`, `PULUMI_DEBUG_COMMANDS` for the hidden
 * `--event-log`), for the calls whose SDK method does more than the caller needs. Errors are
 * the SDK's CommandError classes (so a locked stack is still retried by withStackRetry).
 */
export async function runPulumi(stack: Stack, args: readonly string[], opts: PulumiRunOptions = {}): Promise<string> {
  const ws = stack.workspace;
  const run = (ws.pulumiCommand as unknown as { run?: CliRun }).run;
  if (typeof run !== "function") throw new Error("@pulumi/pulumi's PulumiCommand has no run method: update automation/stack.ts for this SDK version");
  const env: Record<string, string> = { PULUMI_DEBUG_COMMANDS: "true", ...(ws.pulumiHome ? { PULUMI_HOME: ws.pulumiHome } : {}), ...ws.envVars };
  const res = (await run.call(ws.pulumiCommand, [...args, "--stack", stack.name], ws.workDir, env, opts.onOutput, opts.onError, opts.signal)) as {
    stdout?: unknown;
  };
  if (typeof res.stdout !== "string") throw new Error(`pulumi ${args[0] ?? ""} returned no output: update automation/stack.ts for this SDK version`);
  return res.stdout;
}

/**
 * The stack's state for the checks around an operation (pending operations, URNs, types,
 * protection), exported *without* --show-secrets: the SDK's exportStack always decrypts every
 * secret, which these reads never need (and which costs a key derivation: about 0.2 s of each
 * `up`). Secret values stay ciphertext here. `destroy --remove-protected`, which imports an edited
 * state back, keeps using the SDK's export.
 */
export async function exportState(stack: Stack): Promise<ExportedState> {
  return parseState(JSON.parse(await runPulumi(stack, ["stack", "export"])));
}
