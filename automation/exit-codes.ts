/** Exit codes in the manner of `terraform plan -detailed-exitcode`. */
export const ExitCode = {
  /** Done, or nothing to change / no drift. */
  Ok: 0,
  /** Any error: bad usage, failed operation, locked stack after all retries. */
  Error: 1,
  /** preview: changes pending; drift: drift found (and not repaired). */
  Changes: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export type Outcome =
  | { kind: "ok" }
  | { kind: "changes" }
  | { kind: "drift" }
  | { kind: "error" };

export function exitCodeFor(outcome: Outcome): ExitCode {
  switch (outcome.kind) {
    case "ok":
      return ExitCode.Ok;
    case "changes":
    case "drift":
      return ExitCode.Changes;
    case "error":
      return ExitCode.Error;
  }
}

/** Operation kinds that mean "nothing happens to the resource". */
const NO_CHANGE_OPS = new Set(["same", "read", "refresh", "discard", "discard-replaced"]);

/** Counts resource changes in an engine change summary ({create: 2, same: 10, ...}). */
export function countChanges(summary: Readonly<Record<string, number | undefined>>): number {
  let n = 0;
  for (const [op, count] of Object.entries(summary)) {
    if (!NO_CHANGE_OPS.has(op) && typeof count === "number") n += count;
  }
  return n;
}
