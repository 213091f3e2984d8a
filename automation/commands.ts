/**
 * The commands, and COMMANDS: the one table that describes each of them (name, help, the
 * options it takes, how its config is handled, what its summary shows, the function that runs
 * it). Parsing, help, dispatch and the report are derived from the table. Each command returns
 * a CommandResult; printing and exit codes are cli-main's job.
 */
import type { EngineEvent, OpMap, Stack } from "@pulumi/pulumi/automation";
import type { CliOptions, CommandOption, Env } from "./args";
import { engineOptions, type RunContext } from "./context";
import {
  buildDriftReport,
  changesFromEvents,
  countChanges,
  excludeExpectedChurn,
  LIVE_COMPARE_NOTE,
  nameFromUrn,
  splitRefreshPhase,
  type DriftReport,
  type ExcludedChange,
  type ResourceChange,
} from "./changes";
import { adopt, type AdoptReport } from "./adopt";
import { PlatformError } from "./errors";
import type { Outcome } from "./exit-codes";
import { maskOutputs, type StackOutput } from "./mask";
import { withStackRetry } from "./lock";
import { render } from "./render";
import { rotateRules, rotateSecret, type RotationReport } from "./rotate";
import { exportState, type OpenedStack } from "./stack";
import { runUp } from "./update";
import { markFieldsStale, pendingOperations, protectedUrns, pullSecretUrns, resourceUrns, withoutProtection } from "./state";

export interface CommandResult {
  outcome: Outcome;
  /** Resource operation counts, as the engine reports them. */
  summary?: Record<string, number>;
  /** Per-resource changes (made, or pending for preview). */
  changes?: ResourceChange[];
  /** Changes deliberately not counted, with the reason. */
  excluded?: ExcludedChange[];
  drift?: DriftResult;
  outputs?: Record<string, { value: unknown; secret: boolean }>;
  /** destroy: resources left in the stack (protected and what they depend on). */
  kept?: string[];
  render?: { out: string; files: string[]; omittedSecrets: { namespace: string; name: string; type: string; keys: string[] }[] };
  /** adopt: what was (or, with --dry-run, would be) set, imported and deleted. */
  adopt?: AdoptReport;
  /** rotate-secret: what was rotated and what rolled. */
  rotation?: RotationReport;
  notes: string[];
}

export interface DriftResult extends DriftReport {
  repaired: boolean;
  /** The check after `--repair`, when a repair ran. */
  afterRepair?: DriftReport;
}

function opMapToRecord(m: OpMap | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(m ?? {})) if (typeof v === "number") out[k] = v;
  return out;
}

function registerSecretOutputs(ctx: RunContext, outputs: Record<string, StackOutput>): void {
  for (const o of Object.values(outputs)) if (o.secret) ctx.masker.add(o.value);
}

/**
 * An update interrupted hard (SIGKILL) leaves pending operations in the state. A refresh
 * with clearPendingCreates resolves them (the Kubernetes provider upserts with server-side
 * apply, so a create that did reach the cluster is adopted by the next `up`).
 */
async function resolvePendingOperations(ctx: RunContext, stack: Stack, notes: string[]): Promise<void> {
  const pending = pendingOperations(await exportState(stack));
  if (pending.length === 0) return;
  const list = pending.map((p) => `${p.op} ${p.urn}`).join(", ");
  const msg = `the state has ${pending.length} pending operation(s) from an interrupted update (${list}); refreshing to resolve them first`;
  ctx.note(msg);
  notes.push(msg);
  await withStackRetry(ctx, () =>
    stack.refresh({ onOutput: ctx.progress, onError: ctx.progress, signal: ctx.signal, clearPendingCreates: true }),
  );
}

async function preview(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () =>
    stack.preview({ ...engineOptions(ctx, events), refresh: ctx.opts.refresh, target: ctx.opts.target.length ? ctx.opts.target : undefined }),
  );
  const summary = opMapToRecord(res.changeSummary);
  const { kept, excluded } = excludeExpectedChurn(changesFromEvents(events));
  // The summary is the fallback when events are missing; churn excluded from it too.
  const fromSummary = countChanges(summary) - excluded.length;
  const hasChanges = events.length > 0 ? kept.length > 0 : fromSummary > 0;
  const notes = excluded.length ? [`${excluded.length} change(s) excluded as expected churn (the registry pull secret's token)`] : [];
  return { outcome: { kind: hasChanges ? "changes" : "ok" }, summary, changes: kept, excluded, notes };
}

async function up(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const notes: string[] = [];
  await resolvePendingOperations(ctx, stack, notes);
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () => runUp(ctx, stack, events, { refresh: ctx.opts.refresh, target: ctx.opts.target }));
  return {
    outcome: { kind: "ok" },
    summary: opMapToRecord(res.resourceChanges),
    changes: changesFromEvents(events),
    outputs: maskOutputs(res.outputs),
    notes,
  };
}

async function refresh(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const pending = pendingOperations(await exportState(stack));
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () =>
    stack.refresh({
      ...engineOptions(ctx, events),
      target: ctx.opts.target.length ? ctx.opts.target : undefined,
      clearPendingCreates: pending.some((p) => p.op === "creating") || undefined,
    }),
  );
  return {
    outcome: { kind: "ok" },
    summary: opMapToRecord(res.summary.resourceChanges),
    changes: changesFromEvents(events),
    notes: pending.length ? [`resolved ${pending.length} pending operation(s) from an interrupted update`] : [],
  };
}

async function destroy(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const notes: string[] = [];
  if (ctx.opts.removeProtected) {
    // The one explicit way to delete the generated secrets and the retained PVC: clear
    // protect and retainOnDelete in the state, then destroy everything.
    const raw = await stack.exportStack();
    const { state, changed } = withoutProtection(raw);
    if (changed.length) {
      await stack.importStack(state as typeof raw);
      const msg = `--remove-protected: cleared protect/retainOnDelete on ${changed.length} resource(s); they are deleted now: ${changed.join(", ")}`;
      ctx.note(msg);
      notes.push(msg);
    }
  }
  const events: EngineEvent[] = [];
  const targets = ctx.opts.target.length ? ctx.opts.target : undefined;
  const res = await withStackRetry(ctx, () =>
    stack.destroy({
      ...engineOptions(ctx, events),
      refresh: ctx.opts.refresh,
      target: targets,
      excludeProtected: !ctx.opts.removeProtected && targets === undefined,
    }),
  );
  const after = await exportState(stack);
  const kept = resourceUrns(after).filter((u) => !u.includes("::pulumi:providers:"));
  if (kept.length) {
    const prot = protectedUrns(after);
    const msg =
      `kept ${kept.length} resource(s): ${prot.length} protected or retained (generated secrets, PostgreSQL PVC) and what they depend on. ` +
      `To delete them too (data is lost): npm run platform -- destroy --stack ${ctx.opts.stack} --yes --remove-protected`;
    notes.push(msg);
  }
  return { outcome: { kind: "ok" }, summary: opMapToRecord(res.summary.resourceChanges), changes: changesFromEvents(events), kept, notes };
}

async function outputs(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const out = await stack.outputs();
  registerSecretOutputs(ctx, out);
  return { outcome: { kind: "ok" }, outputs: maskOutputs(out), notes: [] };
}

/**
 * One `preview --refresh` (writes nothing): its refresh phase compares the state with the cluster,
 * its preview phase the program with the refreshed state (splitRefreshPhase).
 */
async function checkDrift(ctx: RunContext, stack: Stack): Promise<DriftReport> {
  ctx.note("drift: preview with refresh (compares the state and the program with the cluster; writes nothing)");
  let events: EngineEvent[] = [];
  await withStackRetry(ctx, () => {
    events = []; // a retried attempt starts over
    return stack.preview({ ...engineOptions(ctx, events), refresh: true });
  });
  const { refresh, preview } = splitRefreshPhase(events);
  return buildDriftReport(refresh, preview);
}

async function drift(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const notes: string[] = [];
  const pending = pendingOperations(await exportState(stack));
  if (pending.length) {
    notes.push(`the state has ${pending.length} pending operation(s) from an interrupted update: ${pending.map((p) => p.urn).join(", ")}`);
  }
  const report = await checkDrift(ctx, stack);
  const result: DriftResult = { ...report, repaired: false };
  if (report.excluded.length) {
    notes.push(`${report.excluded.length} change(s) excluded as expected churn (the registry pull secret's token data)`);
  }
  if (ctx.opts.repair && (report.drift || pending.length > 0)) {
    ctx.note("drift: --repair: running up (with refresh) to bring the cluster back to the program");
    await resolvePendingOperations(ctx, stack, notes);
    // Changes only the live comparison saw: the provider's diff will not see them either, so
    // after a refresh their stored fields are marked stale and `up` re-applies them.
    const pendingUrns = new Set(report.pendingChanges.map((c) => c.urn));
    const liveOnly = report.changedOutside.filter((c) => c.note === LIVE_COMPARE_NOTE && !pendingUrns.has(c.urn));
    let refreshFirst = true;
    if (liveOnly.length) {
      await withStackRetry(ctx, () => stack.refresh({ onOutput: ctx.progress, onError: ctx.progress, signal: ctx.signal }));
      refreshFirst = false;
      const { state, marked } = markFieldsStale(await stack.exportStack(), liveOnly);
      if (marked.length) {
        await stack.importStack(state as Awaited<ReturnType<Stack["exportStack"]>>);
        const msg = `marked for re-apply (the provider's diff cannot see these): ${marked.map((m) => `${nameFromUrn(m.urn)} (${m.fields.join(", ")})`).join("; ")}`;
        ctx.note(msg);
        notes.push(msg);
      }
    }
    const events: EngineEvent[] = [];
    await withStackRetry(ctx, () => runUp(ctx, stack, events, { refresh: refreshFirst }));
    result.repaired = true;
    result.afterRepair = await checkDrift(ctx, stack);
    const still = result.afterRepair.drift;
    notes.push(still ? "drift remains after repair: see afterRepair" : "repaired: no drift after up");
    return { outcome: { kind: still ? "drift" : "ok" }, drift: result, notes };
  }
  return { outcome: { kind: report.drift ? "drift" : "ok" }, drift: result, notes };
}

async function refreshPullSecret(ctx: RunContext, { stack }: OpenedStack): Promise<CommandResult> {
  const urns = pullSecretUrns(await exportState(stack));
  if (urns.length === 0) {
    throw new PlatformError(
      `no registry pull secret in the state of stack ${ctx.opts.stack} (looked for kubernetes:core/v1:Secret resources under ` +
        `agent-platform:index:RegistryPullSecret or of type kubernetes.io/dockerconfigjson). Deploy the stack first (up); ` +
        `if it uses registry mode none there is nothing to refresh, so drop this schedule for it.`,
    );
  }
  ctx.note(`refresh-pull-secret: targeted update of ${urns.join(", ")}`);
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () => runUp(ctx, stack, events, { target: urns }));
  const changes = changesFromEvents(events);
  const notes: string[] = [];
  const outside = changes.filter((c) => !urns.includes(c.urn));
  if (outside.length) {
    throw new PlatformError(`refresh-pull-secret changed resources other than the pull secret(s): ${outside.map((c) => c.urn).join(", ")}`);
  }
  if (changes.length === 0) notes.push("the pull secret(s) were already current (static registry credentials do not change)");
  return { outcome: { kind: "ok" }, summary: opMapToRecord(res.resourceChanges), changes, notes };
}

/**
 * What a command's human summary shows after the engine's progress (report.ts):
 * - pending: "N resource(s) would change" or "no changes", each change with the engine's op;
 * - made: "N resource(s) changed", each change with the engine's op;
 * - refreshed: "N resource(s) changed", an update worded "changed outside Pulumi", a delete "deleted outside Pulumi";
 * - drift: the drift report (and the one after a repair);
 * - done: just "done".
 */
export type SummaryStyle = "pending" | "made" | "refreshed" | "drift" | "done";

/** Options as parsed before the per-command usage rules (the numbers are read after them). */
export type CheckedOptions = Omit<CliOptions, "parallel" | "retries" | "retryDelayMs">;

export interface CommandSpec {
  /** One line of --help. */
  help: string;
  /** The one positional argument the command takes after its name (CliOptions.argument). */
  argument?: { name: string };
  /**
   * Runs the program through the engine: takes --config, --secret-config and --parallel, and
   * the stack's secret config values are registered with the masker before it runs.
   */
  updateLike: boolean;
  /** The options of this command beyond those of every command (and of every update-like one). */
  options: readonly CommandOption[];
  /** --config/--secret-config are saved in the stack's config, as `pulumi config set` does. */
  writesConfig: boolean;
  /** Usage rules beyond which options apply: the message of the first one broken. */
  check?: (opts: CheckedOptions) => string | undefined;
  /** Environment for the pulumi CLI on top of the caller's. */
  env?: (callerEnv: Env) => Record<string, string>;
  summary: SummaryStyle;
  run: (ctx: RunContext, opened: OpenedStack) => Promise<CommandResult>;
}

/**
 * `drift` compares and repairs against the program as the source of truth: a field someone
 * changed with kubectl (scale, edit) is owned by kubectl's field manager afterwards, and a
 * server-side apply of the program's value would stop with a field-manager conflict.
 * PULUMI_K8S_ENABLE_PATCH_FORCE makes the Kubernetes provider take those fields back (only
 * fields the program sets). Set it yourself to "false" to keep conflicts as errors.
 */
function patchForceUnlessSet(callerEnv: Env): Record<string, string> {
  return callerEnv["PULUMI_K8S_ENABLE_PATCH_FORCE"] === undefined ? { PULUMI_K8S_ENABLE_PATCH_FORCE: "true" } : {};
}

function destroyRules(o: CheckedOptions): string | undefined {
  if (!o.yes) return `destroy deletes the resources of stack ${o.stack}; pass --yes to confirm`;
  if (o.removeProtected && o.target.length > 0) return "--remove-protected removes the whole stack; it cannot be combined with --target";
  return undefined;
}

function renderRules(o: CheckedOptions): string | undefined {
  if (o.out === undefined || o.out === "") {
    return `render needs --out DIR, the directory the manifests are written to, e.g. --out rendered/${o.stack}`;
  }
  return undefined;
}

function adoptRules(o: CheckedOptions): string | undefined {
  if (o.from === undefined || o.from === "") return `adopt needs --from DIR, the installer's manifest tree, e.g. --from /etc/2501/kubernetes`;
  return undefined;
}

/** Every command, in the order help and error messages list them. */
export const COMMANDS = {
  preview: {
    help: "show what `up` would change (exit 2 when there are changes)",
    updateLike: true,
    options: ["refresh", "no-refresh", "target"],
    writesConfig: true,
    summary: "pending",
    run: preview,
  },
  up: {
    help: "deploy the stack",
    updateLike: true,
    options: ["refresh", "no-refresh", "target"],
    writesConfig: true,
    summary: "made",
    run: up,
  },
  refresh: {
    help: "update the stack's state from the cluster",
    updateLike: true,
    options: ["target"],
    writesConfig: true,
    summary: "refreshed",
    run: refresh,
  },
  destroy: {
    help: "delete the stack's resources (keeps protected secrets and the PVC unless --remove-protected); needs --yes",
    updateLike: true,
    options: ["refresh", "no-refresh", "target", "remove-protected"],
    writesConfig: true,
    check: destroyRules,
    summary: "made",
    run: destroy,
  },
  outputs: {
    help: "print the stack's outputs (secret values masked)",
    updateLike: false,
    options: [],
    writesConfig: false,
    summary: "done",
    run: outputs,
  },
  drift: {
    help: "find changes made outside Pulumi (exit 2 when found); --repair deploys to undo them",
    updateLike: true,
    options: ["repair"],
    writesConfig: true,
    env: patchForceUnlessSet,
    summary: "drift",
    run: drift,
  },
  "refresh-pull-secret": {
    help: "targeted update of only the registry pull secret(s) (for a schedule of 6 h or less)",
    updateLike: true,
    options: [],
    writesConfig: true,
    summary: "made",
    run: refreshPullSecret,
  },
  render: {
    help: "write the stack's manifests to --out DIR for GitOps (Secret manifests left out, listed in SECRETS.md)",
    updateLike: true,
    options: ["out"],
    // Its --config/--secret-config go to the throwaway stack it renders on, never to the real one.
    writesConfig: false,
    check: renderRules,
    summary: "done",
    run: render,
  },
  adopt: {
    help: "take over a deployment made by the engine's installer (--from its manifest tree); --dry-run shows what would happen",
    // Runs the program (its first, targeted run) and takes --config/--secret-config, which it
    // validates with the tree's values and saves itself, after its checks (never on --dry-run).
    updateLike: true,
    options: ["from", "dry-run"],
    writesConfig: false,
    check: adoptRules,
    summary: "done",
    run: adopt,
  },
  "rotate-secret": {
    help: "regenerate one generated secret (still protected), postgres password inside the database first; rolls the pods that use it",
    argument: { name: "NAME" },
    updateLike: true,
    options: ["refresh", "no-refresh", "abandon-encrypted-data"],
    writesConfig: true,
    check: rotateRules,
    summary: "made",
    run: rotateSecret,
  },
} as const satisfies Record<string, CommandSpec>;

export type Command = keyof typeof COMMANDS;

export const COMMAND_NAMES = Object.keys(COMMANDS) as Command[];

export function isCommand(name: string | undefined): name is Command {
  return name !== undefined && Object.hasOwn(COMMANDS, name);
}

/** The table's entry for a command, typed as the general shape (optional fields included). */
export function commandSpec(command: Command): CommandSpec {
  return COMMANDS[command];
}
