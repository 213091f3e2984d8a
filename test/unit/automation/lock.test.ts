import { describe, expect, it, vi } from "vitest";
import {
  backoffDelay,
  isConcurrentUpdateError,
  parseLockHolders,
  StackLockedError,
  staleLocks,
  withRetry,
  type Clock,
} from "../../../automation/lock";

const LOCK_MESSAGE = `code: 255
 stdout:
 stderr: error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.
  file:///work/main/.local/state/.pulumi/locks/organization/agent-platform/dev/0b6f.json: created by ci@runner-7 (pid 4242) at 2025-11-22T18:00:00Z

 err?: `;

/** A fake clock: sleeping only records the delay and advances virtual time. */
function fakeClock(random = 0): Clock & { delays: number[]; now: number } {
  const c = {
    delays: [] as number[],
    now: 0,
    sleep: async (ms: number) => {
      c.delays.push(ms);
      c.now += ms;
    },
    random: () => random,
  };
  return c;
}

function lockedError(): Error {
  const e = new Error(LOCK_MESSAGE);
  e.name = "ConcurrentUpdateError";
  return e;
}

describe("backoffDelay", () => {
  it("doubles from the base and stops at the cap", () => {
    const policy = { retries: 8, baseDelayMs: 1000, maxDelayMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, policy, () => 0))).toEqual([1000, 2000, 4000, 8000, 10000, 10000]);
  });
  it("adds at most 10% jitter", () => {
    expect(backoffDelay(2, { retries: 3, baseDelayMs: 1000 }, () => 0.999)).toBe(2200);
  });
});

describe("withRetry", () => {
  it("retries a locked stack with backoff and returns the result", async () => {
    const clock = fakeClock();
    const fn = vi.fn<() => Promise<string>>().mockRejectedValueOnce(lockedError()).mockRejectedValueOnce(lockedError()).mockResolvedValue("done");
    const retries: number[] = [];
    const result = await withRetry("dev", fn, { retries: 5, baseDelayMs: 500 }, clock, { onRetry: (a) => retries.push(a) });
    expect(result).toBe("done");
    expect(fn).toHaveBeenCalledTimes(3);
    expect(clock.delays).toEqual([500, 1000]);
    expect(retries).toEqual([1, 2]);
  });

  it("gives up after the bound with a clear message naming the holder, never more attempts", async () => {
    const clock = fakeClock();
    const fn = vi.fn<() => Promise<void>>().mockRejectedValue(lockedError());
    const err = await withRetry("dev", fn, { retries: 3, baseDelayMs: 1000 }, clock).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackLockedError);
    expect(fn).toHaveBeenCalledTimes(4);
    expect(clock.delays).toEqual([1000, 2000, 4000]);
    const msg = (err as Error).message;
    expect(msg).toContain("stack dev is locked by another update; gave up after 4 attempt(s) over 7s.");
    expect(msg).toContain("ci@runner-7 (pid 4242) since 2025-11-22T18:00:00Z");
    expect(msg).toContain("pulumi cancel --stack dev");
  });

  it("fails at once with retries 0", async () => {
    const clock = fakeClock();
    const fn = vi.fn<() => Promise<void>>().mockRejectedValue(lockedError());
    await expect(withRetry("prod", fn, { retries: 0, baseDelayMs: 1000 }, clock)).rejects.toThrow("gave up after 1 attempt(s) over 0s");
    expect(clock.delays).toEqual([]);
  });

  it("does not retry other errors", async () => {
    const clock = fakeClock();
    const fn = vi.fn<() => Promise<void>>().mockRejectedValue(new Error("error: update failed"));
    await expect(withRetry("dev", fn, { retries: 5, baseDelayMs: 10 }, clock)).rejects.toThrow("update failed");
    expect(fn).toHaveBeenCalledTimes(1);
    expect(clock.delays).toEqual([]);
  });

  it("retries at once, uncounted, after a stale lock was cleared", async () => {
    const clock = fakeClock();
    const fn = vi.fn<() => Promise<string>>().mockRejectedValueOnce(lockedError()).mockResolvedValue("ok");
    const onLocked = vi.fn(async () => true);
    await expect(withRetry("dev", fn, { retries: 0, baseDelayMs: 1000 }, clock, { onLocked })).resolves.toBe("ok");
    expect(clock.delays).toEqual([]);
    expect(onLocked).toHaveBeenCalledTimes(1);
  });

  it("works with the real sleep under fake timers", async () => {
    vi.useFakeTimers();
    try {
      const { realClock } = await import("../../../automation/lock");
      const clock: Clock = { sleep: realClock.sleep, random: () => 0 };
      const fn = vi.fn<() => Promise<string>>().mockRejectedValueOnce(lockedError()).mockResolvedValue("ok");
      const p = withRetry("dev", fn, { retries: 1, baseDelayMs: 30_000 }, clock);
      await vi.advanceTimersByTimeAsync(29_999);
      expect(fn).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1);
      await expect(p).resolves.toBe("ok");
      expect(fn).toHaveBeenCalledTimes(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("lock errors", () => {
  it("recognises the Automation API's ConcurrentUpdateError and the lock messages", () => {
    expect(isConcurrentUpdateError(lockedError())).toBe(true);
    expect(isConcurrentUpdateError(new Error("[409] Conflict: Another update is currently in progress."))).toBe(true);
    expect(isConcurrentUpdateError(new Error("the stack is currently locked by 2 lock(s)"))).toBe(true);
    expect(isConcurrentUpdateError(new Error("no stack named dev found"))).toBe(false);
    expect(isConcurrentUpdateError("locked")).toBe(false);
  });

  it("recognises the error the Automation API builds from a locked file backend's transcript, and reads its holder", async () => {
    // The SDK's own result type and error factory (internal, so not in its typings): what a locked `up` throws.
    type Result = object;
    const { CommandResult } = (await import("@pulumi/pulumi/automation/cmd")) as unknown as {
      CommandResult: new (stdout: string, stderr: string, code: number) => Result;
    };
    const { createCommandError } = (await import("@pulumi/pulumi/automation/errors")) as unknown as {
      createCommandError: (result: Result) => Error;
    };
    const stderr = LOCK_MESSAGE.slice(LOCK_MESSAGE.indexOf("error:"), LOCK_MESSAGE.indexOf("\n\n err?"));
    const err = createCommandError(new CommandResult("", stderr, 255));
    expect(err.name).toBe("ConcurrentUpdateError");
    expect(isConcurrentUpdateError(err)).toBe(true);
    expect(parseLockHolders(err.message).map((h) => `${h.user}@${h.host} ${h.pid}`)).toEqual(["ci@runner-7 4242"]);
  });

  it("parses the lock holders of the file backend", () => {
    expect(parseLockHolders(LOCK_MESSAGE)).toEqual([
      {
        url: "file:///work/main/.local/state/.pulumi/locks/organization/agent-platform/dev/0b6f.json",
        user: "ci",
        host: "runner-7",
        pid: 4242,
        since: "2025-11-22T18:00:00Z",
      },
    ]);
  });

  it("lists a lock repeated in the transcript once", () => {
    expect(parseLockHolders(LOCK_MESSAGE + LOCK_MESSAGE)).toHaveLength(1);
  });

  it("calls a lock stale only on this host, for a dead process, on a file backend", () => {
    const h = parseLockHolders(LOCK_MESSAGE)[0];
    expect(staleLocks([h], "runner-7", () => false)).toEqual([h]);
    expect(staleLocks([h], "runner-7", () => true)).toEqual([]);
    expect(staleLocks([h], "other-host", () => false)).toEqual([]);
    expect(staleLocks([{ ...h, url: "s3://bucket/.pulumi/locks/x.json" }], "runner-7", () => false)).toEqual([]);
  });
});
