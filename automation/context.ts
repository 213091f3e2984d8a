import type { EngineEvent } from "@pulumi/pulumi/automation";
import type { CliOptions, Env } from "./args";
import type { SecretMasker } from "./mask";
import type { Clock } from "./lock";

export interface Writer {
  write(chunk: string): unknown;
}

export interface Io {
  stdout: Writer;
  stderr: Writer;
}

/** Everything a command needs besides the stack; built once per run by cli-main. */
export interface RunContext {
  opts: CliOptions;
  env: Env;
  /** The Pulumi project directory (the repo root). */
  workDir: string;
  masker: SecretMasker;
  clock: Clock;
  hostname: string;
  signal?: AbortSignal;
  /** Streamed engine output (masked, whole lines): stdout, or stderr with --json. */
  progress: (chunk: string) => void;
  /** A human note (masked): stdout, or stderr with --json. */
  note: (line: string) => void;
}

/** The options every engine operation of a command takes: streamed output, events collected, cancel, parallelism. */
export function engineOptions(ctx: RunContext, events: EngineEvent[]) {
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
