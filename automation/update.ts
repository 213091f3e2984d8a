/**
 * `pulumi up` for the commands, run directly instead of through the SDK's Stack.up. After every
 * update the SDK reads back the stack's outputs twice (masked, then with --show-secrets) and the
 * last history entry with --show-secrets: three more Go processes, two of them deriving the
 * passphrase key, about 0.9 s of a no-op `up` (README "Measured"). The update's own event log
 * already holds both: its summary event has the resource counts, and the stack resource's
 * outputs event has the outputs, secrets as Pulumi's secret sentinel (which is all the report
 * prints of them). So the engine writes its events to a file, read once the command has ended.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EngineEvent, OpMap, Stack } from "@pulumi/pulumi/automation";
import type { RunContext } from "./context";
import { isSecretSentinel, type StackOutput } from "./mask";
import { runPulumi } from "./stack";

export interface UpOptions {
  /** Refresh first (`--refresh`); without it `--refresh=false` is added (explicitRefresh). */
  refresh?: boolean;
  /** URNs for `--target` (their dependents are not targeted). */
  target?: readonly string[];
}

export interface UpResult {
  resourceChanges: OpMap;
  outputs: Record<string, StackOutput>;
}

/** The command line of one update (without `--stack`, which runPulumi adds). */
export function upArgs(opts: UpOptions & { parallel?: number; json?: boolean; eventLog: string }): string[] {
  const args = ["up", "--yes", "--skip-preview"];
  if (opts.refresh) args.push("--refresh");
  for (const urn of opts.target ?? []) args.push("--target", urn);
  if (opts.parallel) args.push("--parallel", String(opts.parallel));
  if (opts.json) args.push("--color", "never");
  args.push("--exec-kind", "auto.local", "--event-log", opts.eventLog);
  return args;
}

/** The engine's event log (one JSON event per line); a line cut short by a killed engine is skipped. */
export function parseEventLog(text: string): EngineEvent[] {
  const events: EngineEvent[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      events.push(JSON.parse(line) as EngineEvent);
    } catch {
      // the last line of a log whose writer was killed mid-line
    }
  }
  return events;
}

/**
 * The update's summary and the stack's outputs, from its events: the summary event's counts, and
 * the outputs of the stack resource's last outputs event of the update itself (a refresh before
 * it reports the old ones). Either is undefined when the log lacks it.
 */
export function resultFromEvents(events: readonly EngineEvent[]): Partial<UpResult> {
  let resourceChanges: OpMap | undefined;
  let outputs: Record<string, StackOutput> | undefined;
  for (const e of events) {
    if (e.summaryEvent) resourceChanges = e.summaryEvent.resourceChanges;
    const meta = e.resOutputsEvent?.metadata;
    if (meta && meta.type === "pulumi:pulumi:Stack" && meta.op !== "refresh" && meta.new) {
      outputs = {};
      for (const [key, value] of Object.entries(meta.new.outputs ?? {})) outputs[key] = { value, secret: isSecretSentinel(value) };
    }
  }
  return { resourceChanges, outputs };
}

/**
 * One update of the stack, its output streamed to ctx.progress and its events appended to
 * `events`. The summary and outputs come from the events; should the log lack either, they are
 * read from the state as the SDK would.
 */
export async function runUp(ctx: RunContext, stack: Stack, events: EngineEvent[], opts: UpOptions = {}): Promise<UpResult> {
  const dir = await mkdtemp(join(tmpdir(), "agent-platform-events-"));
  const eventLog = join(dir, "events.jsonl");
  let own: EngineEvent[] = [];
  try {
    await runPulumi(stack, upArgs({ ...opts, parallel: ctx.opts.parallel, json: ctx.opts.json, eventLog }), {
      onOutput: ctx.progress,
      onError: ctx.progress,
      signal: ctx.signal,
    });
  } finally {
    own = parseEventLog(await readFile(eventLog, "utf8").catch(() => ""));
    events.push(...own);
    await rm(dir, { recursive: true, force: true });
  }
  const fromEvents = resultFromEvents(own);
  return {
    resourceChanges: fromEvents.resourceChanges ?? (await stack.history(1, 1, false))[0]?.resourceChanges ?? {},
    outputs: fromEvents.outputs ?? (await stack.outputs()),
  };
}
