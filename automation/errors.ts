/**
 * Failures a person can act on. The Automation API's CommandError carries the whole CLI
 * transcript ("code: … stdout: … stderr: …"); here it is boiled down to the CLI's own error
 * lines plus a hint for the causes seen most in CI.
 */

/** An error whose message is already written for the person running the CLI. */
export class PlatformError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PlatformError";
  }
}

interface Hint {
  test: RegExp;
  hint: string;
}

const HINTS: Hint[] = [
  {
    test: /passphrase must be set|PULUMI_CONFIG_PASSPHRASE|incorrect passphrase|failed to decrypt/i,
    hint: "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase; `npm run platform` sets the local default through scripts/with-env.sh",
  },
  {
    test: /no stack named .* found/i,
    hint: "the stack does not exist in this backend: pass --create to create it, or check PULUMI_BACKEND_URL / `pulumi login`",
  },
  {
    test: /stack .* already exists/i,
    hint: "a stack with this name already exists; drop --create or pick another name",
  },
  {
    test: /ENOENT.*pulumi|pulumi: (command )?not found|Failed to find Pulumi|spawn pulumi/i,
    hint: "the pulumi CLI is not on PATH: run through `npm run platform` (scripts/with-env.sh puts the locally built CLI on PATH) or install it (`npm run toolchain`, or the official installer)",
  },
  {
    test: /Minimum version requirement failed/i,
    hint: "the pulumi CLI on PATH is older than @pulumi/pulumi requires; rebuild it with `npm run toolchain` or upgrade it",
  },
  {
    test: /PULUMI_ACCESS_TOKEN|pulumi login|not logged in/i,
    hint: "no state backend: set PULUMI_BACKEND_URL (e.g. file://… or s3://…) or PULUMI_ACCESS_TOKEN for Pulumi Cloud",
  },
  {
    test: /Missing required configuration variable|[Cc]onfig(uration)? (key|value).*(invalid|required)/,
    hint: "stack config is incomplete or invalid: set the keys named above with --config / --secret-config or `pulumi config set`",
  },
  {
    test: /connection refused|no such host|Unable to connect to the server|dial tcp|i\/o timeout/i,
    hint: "the Kubernetes API is not reachable: check KUBECONFIG and that the cluster is up (`npm run cluster:status` for the local one)",
  },
  {
    test: /no resource plugin|could not find plugin|plugin .* not found/i,
    hint: "a provider plugin is missing and automatic plugin download is off: build it with `npm run toolchain` (or `pulumi plugin install`)",
  },
  {
    test: /is protected|protected resource/i,
    hint: "the stack holds protected resources (generated secrets, the PostgreSQL PVC); `destroy` keeps them, `destroy --yes --remove-protected` removes them too",
  },
];

/** The lines of a CLI transcript that matter: `error:` lines, else the tail of stderr. */
export function errorLines(message: string): string[] {
  const stderrAt = message.indexOf(" stderr: ");
  const errAt = message.indexOf("\n err?: ");
  const stderr = stderrAt >= 0 ? message.slice(stderrAt + 9, errAt > stderrAt ? errAt : undefined) : message;
  const all = stderr.split("\n").map((l) => l.trimEnd());
  const errors = all.filter((l) => /^\s*error:/i.test(l)).map((l) => l.trim());
  if (errors.length) return [...new Set(errors)];
  const nonEmpty = all.filter((l) => l.trim() !== "");
  return nonEmpty.slice(-15);
}

export function hintFor(message: string): string | undefined {
  return HINTS.find((h) => h.test.test(message))?.hint;
}

/** One message for any thrown value: what failed, why, and what to do. */
export function describeError(err: unknown, doing: string): string {
  if (err instanceof PlatformError) return err.message;
  if (err instanceof Error && err.name === "StackLockedError") return err.message;
  const message = err instanceof Error ? err.message : String(err);
  const lines = errorLines(message);
  const hint = hintFor(message);
  const body = lines.length ? lines.join("\n  ") : message;
  return `${doing} failed:\n  ${body}${hint ? `\nhint: ${hint}` : ""}`;
}
