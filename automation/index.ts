/** Library entry: the CLI as a function plus its pure building blocks. */
export { run, runCaptured, REPO_ROOT, type RunDeps, type CapturedRun } from "./cli-main";
export { parseArgs, helpText, parseDuration, UsageError, HelpRequested, COMMANDS, type CliOptions, type Command } from "./args";
export { ExitCode, exitCodeFor, previewOutcome, countChanges, type Outcome } from "./exit-codes";
export { SecretMasker, MaskingLineWriter, maskOutputs, MASK } from "./mask";
export { withRetry, backoffDelay, maxTotalDelay, isConcurrentUpdateError, parseLockHolders, staleLocks, StackLockedError, type Clock } from "./retry";
export {
  changesFromEvents,
  buildDriftReport,
  excludeExpectedChurn,
  isPullSecretUrn,
  PULL_SECRET_COMPONENT,
  type ResourceChange,
  type DriftReport,
} from "./changes";
export { planRender, secretsNote } from "./render-files";
export { RENDER_CONFIG_KEY } from "./render";
export { pullSecretUrns, pendingOperations, protectedUrns, withoutProtection, parseState } from "./state";
export * as commands from "./commands";
export type { Io, Writer } from "./context";
