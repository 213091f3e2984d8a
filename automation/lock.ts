/**
 * Everything about a stack that is locked by another update, in one place: recognising the
 * lock error, the retry policy (exponential backoff with jitter; the other update is never
 * cancelled), the lock holders named in the give-up message, and removing a provably stale
 * lock of the local file backend. Only ConcurrentUpdateError (the Automation API's error for
 * "another update is in progress" and "the stack is currently locked by") is retried.
 * The schedule is pure with an injected clock; clearStaleLocks and withStackRetry are the
 * wiring to the file system and to a run.
 */
import { promises as fs } from "node:fs";
import { fileURLToPath } from "node:url";
import type { RunContext } from "./context";

/** Retries after the first attempt when no --retries is given. */
export const DEFAULT_RETRIES = 5;
/** Delay before the first retry when no --retry-delay is given. */
export const DEFAULT_RETRY_DELAY_MS = 5_000;
/** Upper bound of a single delay. */
export const MAX_RETRY_DELAY_MS = 60_000;

export interface RetryPolicy {
  /** Retries after the first attempt (0 = one attempt only). */
  retries: number;
  /** Delay before the first retry, in ms; doubled per retry. */
  baseDelayMs: number;
  /** Upper bound of a single delay. */
  maxDelayMs?: number;
}

export interface Clock {
  sleep(ms: number): Promise<void>;
  /** A number in [0, 1), for jitter. */
  random(): number;
}

export const realClock: Clock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: () => Math.random(),
};

/**
 * Delay before retry number `attempt` (1-based): base * 2^(attempt-1), capped, plus up to
 * 10% jitter so two waiting CI jobs do not retry in lockstep.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const cap = policy.maxDelayMs ?? MAX_RETRY_DELAY_MS;
  const exp = Math.min(cap, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exp + exp * 0.1 * random());
}

export function isConcurrentUpdateError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "ConcurrentUpdateError") return true;
  return (
    err.message.includes("the stack is currently locked by") ||
    err.message.includes("[409] Conflict: Another update is currently in progress")
  );
}

export class StackLockedError extends Error {
  constructor(
    public readonly stack: string,
    public readonly attempts: number,
    public readonly waitedMs: number,
    public readonly holders: LockHolder[],
    cause: unknown,
  ) {
    const who = holders.length
      ? ` Lock held by: ${holders.map((h) => `${h.user}@${h.host} (pid ${h.pid}) since ${h.since}`).join("; ")}.`
      : "";
    super(
      `stack ${stack} is locked by another update; gave up after ${attempts} attempt(s) over ${Math.round(waitedMs / 1000)}s.${who} ` +
        `Wait for that update to finish and run again (or raise --retries / --retry-delay). ` +
        `If you are sure no update is running (for example a CI job that was killed), remove the lock with \`pulumi cancel --stack ${stack}\`.`,
      { cause },
    );
    this.name = "StackLockedError";
  }
}

export interface RetryHooks {
  /** Called before each wait, with the retry number (1-based) and delay. */
  onRetry?: (attempt: number, delayMs: number, err: Error) => void;
  /**
   * Called when the stack is locked; may clear a provably stale lock and return true, in
   * which case the next attempt runs without waiting.
   */
  onLocked?: (err: Error) => Promise<boolean>;
}

export async function withRetry<T>(
  stack: string,
  fn: () => Promise<T>,
  policy: RetryPolicy,
  clock: Clock = realClock,
  hooks: RetryHooks = {},
): Promise<T> {
  let waited = 0;
  let staleCleared = false;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isConcurrentUpdateError(err)) throw err;
      const e = err as Error;
      if (!staleCleared && hooks.onLocked && (await hooks.onLocked(e))) {
        // A stale lock was removed; this extra attempt does not count against the bound.
        staleCleared = true;
        attempt--;
        continue;
      }
      if (attempt >= policy.retries) {
        throw new StackLockedError(stack, attempt + 1, waited, parseLockHolders(e.message), e);
      }
      const delay = backoffDelay(attempt + 1, policy, clock.random);
      hooks.onRetry?.(attempt + 1, delay, e);
      await clock.sleep(delay);
      waited += delay;
    }
  }
}

export interface LockHolder {
  /** Where the lock file is, as the backend prints it (file:///… for the local backend). */
  url: string;
  user: string;
  host: string;
  pid: number;
  since: string;
}

/** Reads the lock holders from the file backend's "currently locked" message. */
export function parseLockHolders(message: string): LockHolder[] {
  const re = /^\s+(\S+): created by (.+?)@(\S+) \(pid (\d+)\) at (\S+)\s*$/gm;
  const out: LockHolder[] = [];
  for (let m = re.exec(message); m; m = re.exec(message)) {
    // The transcript can repeat the same lock (stdout and stderr); keep each once.
    if (!out.some((h) => h.url === m![1])) out.push({ url: m[1], user: m[2], host: m[3], pid: Number(m[4]), since: m[5] });
  }
  return out;
}

/**
 * Locks that are provably stale: local file backend, taken on this host, by a process
 * that no longer exists (a killed `pulumi`). Anything else is a live update and is waited for.
 */
export function staleLocks(holders: readonly LockHolder[], hostname: string, isAlive: (pid: number) => boolean): LockHolder[] {
  return holders.filter((h) => h.url.startsWith("file://") && h.host === hostname && !isAlive(h.pid));
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes lock files of the local file backend that belong to a `pulumi` process of this
 * host that no longer exists. Returns true if every lock holder was such a stale lock.
 * A lock of a live process, another host, or a remote backend is never touched.
 */
async function clearStaleLocks(ctx: RunContext, err: Error): Promise<boolean> {
  const holders = parseLockHolders(err.message);
  if (holders.length === 0) return false;
  const stale = staleLocks(holders, ctx.hostname, processIsAlive);
  if (stale.length !== holders.length) return false;
  for (const h of stale) {
    let file: string;
    try {
      file = fileURLToPath(h.url);
    } catch {
      return false;
    }
    await fs.rm(file, { force: true });
    await fs.rm(`${file}.attrs`, { force: true }); // the file backend's metadata beside each blob
    ctx.note(`removed a stale lock of stack ${ctx.opts.stack}: pulumi (pid ${h.pid}) on this host is gone (lock from ${h.since})`);
  }
  return true;
}

/** Runs a locking stack operation with the --retries/--retry-delay policy. */
export function withStackRetry<T>(ctx: RunContext, fn: () => Promise<T>): Promise<T> {
  return withRetry(
    ctx.opts.stack,
    fn,
    { retries: ctx.opts.retries, baseDelayMs: ctx.opts.retryDelayMs },
    ctx.clock,
    {
      onRetry: (attempt, delayMs) =>
        ctx.note(
          `stack ${ctx.opts.stack} is locked by another update; waiting ${(delayMs / 1000).toFixed(1)}s before retry ${attempt}/${ctx.opts.retries} (the other update is not cancelled)`,
        ),
      onLocked: (e) => clearStaleLocks(ctx, e),
    },
  );
}
