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
