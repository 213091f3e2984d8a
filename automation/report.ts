/**
 * Printing results: the human summary after the streamed progress, and the one JSON
 * document of a --json run. Pure string building.
 */
import type { CliOptions } from "./args";
import { describeOp, type DriftReport, type Phase, type ResourceChange } from "./changes";
import { adoptSummaryLines } from "./adopt";
import { commandSpec, type CommandResult, type SummaryStyle } from "./commands";
import { ExitCode, exitCodeFor } from "./exit-codes";

const JSON_SCHEMA_VERSION = 1;

export interface JsonDocument {
  schemaVersion: number;
  command: string;
  stack: string;
  /** "ok" | "changes" | "drift" | "error" */
  status: string;
  exitCode: number;
  durationMs: number;
  summary: Record<string, number>;
  changes: ResourceChange[];
  excluded: (ResourceChange & { reason: string })[];
  drift?: CommandResult["drift"];
  outputs?: CommandResult["outputs"];
  kept?: string[];
  render?: CommandResult["render"];
  adopt?: CommandResult["adopt"];
  rotation?: CommandResult["rotation"];
  notes: string[];
  error?: { message: string };
}

export function jsonDocument(
  opts: Pick<CliOptions, "command" | "stack"> | undefined,
  result: CommandResult | undefined,
  durationMs: number,
  error?: string,
): JsonDocument {
  const status = error !== undefined || !result ? "error" : result.outcome.kind;
  const exitCode = error !== undefined || !result ? ExitCode.Error : exitCodeFor(result.outcome);
  const doc: JsonDocument = {
    schemaVersion: JSON_SCHEMA_VERSION,
    command: opts?.command ?? "",
    stack: opts?.stack ?? "",
    status,
    exitCode,
    durationMs: Math.round(durationMs),
    summary: result?.summary ?? driftSummary(result?.drift) ?? {},
    changes: result?.changes ?? driftChanges(result?.drift),
    excluded: result?.excluded ?? result?.drift?.excluded ?? [],
    notes: result?.notes ?? [],
  };
  if (result?.drift) doc.drift = result.drift;
  if (result?.outputs) doc.outputs = result.outputs;
  if (result?.kept) doc.kept = result.kept;
  if (result?.render) doc.render = result.render;
  if (result?.adopt) doc.adopt = result.adopt;
  if (result?.rotation) doc.rotation = result.rotation;
  if (error !== undefined) doc.error = { message: error };
  return doc;
}

function driftChanges(d: CommandResult["drift"]): ResourceChange[] {
  if (!d) return [];
  const last: DriftReport = d.afterRepair ?? d;
  const byUrn = new Map<string, ResourceChange>();
  for (const c of [...last.changedOutside, ...last.pendingChanges]) if (!byUrn.has(c.urn)) byUrn.set(c.urn, c);
  return [...byUrn.values()];
}

function driftSummary(d: CommandResult["drift"]): Record<string, number> | undefined {
  if (!d) return undefined;
  const last: DriftReport = d.afterRepair ?? d;
  return {
    changedOutside: last.changedOutside.length,
    pendingChanges: last.pendingChanges.length,
    excluded: last.excluded.length,
    ...(d.repaired ? { repairedChangedOutside: d.changedOutside.length, repairedPendingChanges: d.pendingChanges.length } : {}),
  };
}

function changeLine(c: ResourceChange, phase: Phase): string {
  const fields = c.fields.length ? `: ${c.fields.join(", ")}` : "";
  const note = c.note ? ` (${c.note})` : "";
  return `  ${describeOp(c.op, phase).padEnd(22)} ${c.type} ${c.name}${fields}${note}`;
}

function driftLines(title: string, d: DriftReport): string[] {
  const lines = [title];
  if (d.changedOutside.length) {
    lines.push(` changed outside Pulumi (${d.changedOutside.length}):`);
    lines.push(...d.changedOutside.map((c) => changeLine(c, "refresh")));
  }
  if (d.pendingChanges.length) {
    lines.push(` up would change (${d.pendingChanges.length}):`);
    lines.push(...d.pendingChanges.map((c) => changeLine(c, "preview")));
  }
  if (!d.drift) lines.push(" no drift");
  for (const e of d.excluded) lines.push(` excluded: ${e.type} ${e.name} (${e.fields.join(", ")}): ${e.reason}`);
  return lines;
}

/** The headline of a summary of changes, from the number of resources in it. */
const HEADLINES: Record<Exclude<SummaryStyle, "drift">, (changed: number) => string> = {
  pending: (n) => (n ? `${n} resource(s) would change` : "no changes"),
  made: (n) => `${n} resource(s) changed`,
  refreshed: (n) => `${n} resource(s) changed`,
  done: () => "done",
};

/** The human summary printed after the engine's own progress output. */
export function humanSummary(opts: Pick<CliOptions, "command" | "stack">, result: CommandResult): string {
  const lines: string[] = [];
  const head = `${opts.command} ${opts.stack}:`;
  const style = commandSpec(opts.command).summary;
  if (style === "drift" && result.drift) {
    if (result.drift.repaired && result.drift.afterRepair) {
      lines.push(...driftLines(`${head} drift found before repair`, result.drift));
      lines.push(...driftLines(`${head} after repair`, result.drift.afterRepair));
    } else {
      lines.push(...driftLines(`${head} ${result.drift.drift ? "DRIFT FOUND" : "no drift"}`, result.drift));
    }
  } else {
    const n = result.changes?.length ?? 0;
    lines.push(`${head} ${style === "drift" ? HEADLINES.made(n) : HEADLINES[style](n)}`);
    for (const c of result.changes ?? []) lines.push(changeLine(c, style === "refreshed" ? "refresh" : "preview"));
    for (const e of result.excluded ?? []) lines.push(` excluded: ${e.type} ${e.name} (${e.fields.join(", ")}): ${e.reason}`);
  }
  if (result.outputs) {
    lines.push("outputs:");
    for (const [k, o] of Object.entries(result.outputs)) lines.push(`  ${k}: ${JSON.stringify(o.value)}`);
  }
  if (result.render) {
    lines.push(`rendered ${result.render.files.length} file(s) to ${result.render.out}`);
    for (const s of result.render.omittedSecrets) lines.push(`  left out Secret ${s.namespace}/${s.name} (${s.type})`);
  }
  if (result.adopt) lines.push(...adoptSummaryLines(result.adopt));
  for (const n of result.notes) lines.push(`note: ${n}`);
  lines.push(`exit ${exitCodeFor(result.outcome)} (${result.outcome.kind})`);
  return lines.join("\n") + "\n";
}
