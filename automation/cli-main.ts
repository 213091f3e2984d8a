/**
 * The command line as a function: `run(argv, io)` parses, runs one command against the
 * stack, prints (human or exactly one JSON document) and returns the exit code. Nothing
 * here calls process.exit, so integration tests run it in-process.
 */
import * as os from "node:os";
import * as path from "node:path";
import { HelpRequested, UsageError, helpText, parseArgs, type CliOptions, type Env } from "./args";
import { commandSpec, type CommandResult } from "./commands";
import type { Io, RunContext } from "./context";
import { describeError } from "./errors";
import { ExitCode, exitCodeFor } from "./exit-codes";
import { MaskingLineWriter, SecretMasker } from "./mask";
import { humanSummary, jsonDocument } from "./report";
import { realClock, type Clock } from "./lock";
import { openStack } from "./stack";

export interface RunDeps {
  env: Env;
  /** The Pulumi project directory; default: the repo root (the parent of automation/). */
  workDir: string;
  clock: Clock;
  signal: AbortSignal;
  now: () => number;
}

const defaultIo: Io = { stdout: process.stdout, stderr: process.stderr };

const REPO_ROOT = path.resolve(__dirname, "..");

/** Runs one command and returns its exit code; `io` is `{ stdout, stderr }`. */
export async function run(argv: string[], io: Io = defaultIo, deps: Partial<RunDeps> = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const now = deps.now ?? Date.now;
  const started = now();
  const masker = new SecretMasker();

  let opts: CliOptions;
  try {
    opts = parseArgs(argv, env);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout.write(helpText(err.command));
      return ExitCode.Ok;
    }
    const message = err instanceof UsageError ? err.message : describeError(err, "parsing arguments");
    if (argv.includes("--json")) {
      io.stdout.write(JSON.stringify(jsonDocument(undefined, undefined, now() - started, `usage: ${message}`)) + "\n");
    }
    io.stderr.write(`error: ${message}\nrun with --help for usage\n`);
    return ExitCode.Error;
  }

  // Human text goes to stdout; with --json, stdout holds only the document and all text goes to stderr.
  const textSink = opts.json ? io.stderr : io.stdout;
  const progressWriter = new MaskingLineWriter(masker, (t) => textSink.write(t));
  const ctx: RunContext = {
    opts,
    env,
    workDir: deps.workDir ?? REPO_ROOT,
    masker,
    clock: deps.clock ?? realClock,
    hostname: os.hostname(),
    signal: deps.signal,
    progress: (chunk) => progressWriter.write(chunk),
    note: (line) => {
      progressWriter.flush();
      textSink.write(masker.mask(`[platform] ${line}\n`));
    },
  };

  let result: CommandResult | undefined;
  let error: string | undefined;
  try {
    const spec = commandSpec(opts.command);
    result = await spec.run(ctx, await openStack(ctx, spec));
  } catch (err) {
    error = masker.mask(describeError(err, `${opts.command} on stack ${opts.stack}`));
  }
  progressWriter.flush();

  const elapsed = now() - started;
  if (opts.json) {
    io.stdout.write(masker.mask(JSON.stringify(jsonDocument(opts, result, elapsed, error), null, 2)) + "\n");
  } else if (result && error === undefined) {
    io.stdout.write(masker.mask(humanSummary(opts, result)));
  }
  if (error !== undefined) {
    io.stderr.write(`error: ${error}\n`);
    return ExitCode.Error;
  }
  return result ? exitCodeFor(result.outcome) : ExitCode.Error;
}
