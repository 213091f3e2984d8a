/**
 * The commands. Each returns a CommandResult; printing and exit codes are cli-main's job.
 */
import type { EngineEvent, OpMap, Stack } from "@pulumi/pulumi/automation";
import type { RunContext } from "./context";
import {
  buildDriftReport,
  changesFromEvents,
  countChanges,
  excludeExpectedChurn,
  LIVE_COMPARE_NOTE,
  nameFromUrn,
  type DriftReport,
  type ExcludedChange,
  type ResourceChange,
} from "./changes";
import { PlatformError } from "./errors";
import type { Outcome } from "./exit-codes";
import { maskOutputs, type StackOutput } from "./mask";
import { withStackRetry } from "./lock";
import { exportState } from "./stack";
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

function common(ctx: RunContext, events: EngineEvent[]) {
  return {
    onOutput: ctx.progress,
    onError: ctx.progress,
    onEvent: (e: EngineEvent) => {
      events.push(e);
    },
    signal: ctx.signal,
    parallel: ctx.opts.parallel,
    color: ctx.opts.json ? ("never" as const) : undefined,
  };
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

export async function preview(ctx: RunContext, stack: Stack): Promise<CommandResult> {
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () =>
    stack.preview({ ...common(ctx, events), refresh: ctx.opts.refresh, target: ctx.opts.target.length ? ctx.opts.target : undefined }),
  );
  const summary = opMapToRecord(res.changeSummary);
  const { kept, excluded } = excludeExpectedChurn(changesFromEvents(events));
  // The summary is the fallback when events are missing; churn excluded from it too.
  const fromSummary = countChanges(summary) - excluded.length;
  const hasChanges = events.length > 0 ? kept.length > 0 : fromSummary > 0;
  const notes = excluded.length ? [`${excluded.length} change(s) excluded as expected churn (the registry pull secret's token)`] : [];
  return { outcome: { kind: hasChanges ? "changes" : "ok" }, summary, changes: kept, excluded, notes };
}

export async function up(ctx: RunContext, stack: Stack): Promise<CommandResult> {
  const notes: string[] = [];
  await resolvePendingOperations(ctx, stack, notes);
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () =>
    stack.up({ ...common(ctx, events), refresh: ctx.opts.refresh, target: ctx.opts.target.length ? ctx.opts.target : undefined }),
  );
  registerSecretOutputs(ctx, res.outputs);
  return {
    outcome: { kind: "ok" },
    summary: opMapToRecord(res.summary.resourceChanges),
    changes: changesFromEvents(events),
    outputs: maskOutputs(res.outputs),
    notes,
  };
}

export async function refresh(ctx: RunContext, stack: Stack): Promise<CommandResult> {
  const pending = pendingOperations(await exportState(stack));
  const events: EngineEvent[] = [];
  const res = await withStackRetry(ctx, () =>
    stack.refresh({
      ...common(ctx, events),
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

export async function destroy(ctx: RunContext, stack: Stack): Promise<CommandResult> {
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
      ...common(ctx, events),
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

export async function outputs(ctx: RunContext, stack: Stack): Promise<CommandResult> {
  const out = await stack.outputs();
  registerSecretOutputs(ctx, out);
  return { outcome: { kind: "ok" }, outputs: maskOutputs(out), notes: [] };
}

async function checkDrift(ctx: RunContext, stack: Stack): Promise<DriftReport> {
  const refreshEvents: EngineEvent[] = [];
  ctx.note("drift: refresh preview (compares the state with the cluster; writes nothing)");
  await withStackRetry(ctx, () => stack.previewRefresh({ ...common(ctx, refreshEvents) }));
  const previewEvents: EngineEvent[] = [];
  ctx.note("drift: preview with refresh (compares the program with the cluster; writes nothing)");
  await withStackRetry(ctx, () => stack.preview({ ...common(ctx, previewEvents), refresh: true }));
  return buildDriftReport(refreshEvents, previewEvents);
}

export async function drift(ctx: RunContext, stack: Stack): Promise<CommandResult> {
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
    await withStackRetry(ctx, () => stack.up({ ...common(ctx, events), refresh: refreshFirst }));
    result.repaired = true;
    result.afterRepair = await checkDrift(ctx, stack);
    const still = result.afterRepair.drift;
    notes.push(still ? "drift remains after repair: see afterRepair" : "repaired: no drift after up");
    return { outcome: { kind: still ? "drift" : "ok" }, drift: result, notes };
  }
  return { outcome: { kind: report.drift ? "drift" : "ok" }, drift: result, notes };
}

export async function refreshPullSecret(ctx: RunContext, stack: Stack): Promise<CommandResult> {
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
  const res = await withStackRetry(ctx, () => stack.up({ ...common(ctx, events), target: urns, targetDependents: false }));
  const changes = changesFromEvents(events);
  const notes: string[] = [];
  const outside = changes.filter((c) => !urns.includes(c.urn));
  if (outside.length) {
    throw new PlatformError(`refresh-pull-secret changed resources other than the pull secret(s): ${outside.map((c) => c.urn).join(", ")}`);
  }
  if (changes.length === 0) notes.push("the pull secret(s) were already current (static registry credentials do not change)");
  return { outcome: { kind: "ok" }, summary: opMapToRecord(res.summary.resourceChanges), changes, notes };
}
