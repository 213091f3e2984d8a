/**
 * Command-line parsing for the platform CLI. No I/O: takes argv and an environment map,
 * returns typed options or throws a UsageError whose message says what was wrong and how
 * to fix it, so every rule is unit-tested. Which command takes which option, and each
 * command's own usage rules and help line, come from the command table (COMMANDS).
 */
import { COMMAND_NAMES, commandSpec, isCommand, type CheckedOptions, type Command } from "./commands";
import { DEFAULT_RETRIES, DEFAULT_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS } from "./lock";

export interface ConfigSetting {
  key: string;
  value: string;
  secret: boolean;
}

export interface CliOptions {
  command: Command;
  stack: string;
  create: boolean;
  json: boolean;
  yes: boolean;
  refresh: boolean;
  repair: boolean;
  removeProtected: boolean;
  /** Plain and secret config, in the order given (secrets are read from the environment). */
  config: ConfigSetting[];
  target: string[];
  parallel?: number;
  /** How many times a locked stack is retried after the first attempt. */
  retries: number;
  /** First backoff delay in milliseconds; doubles per attempt, capped by MAX_RETRY_DELAY_MS. */
  retryDelayMs: number;
  out?: string;
  // adopt (automation/adopt.ts)
  /** The installer's manifest tree. */
  from?: string;
  dryRun?: boolean;
  // rotate-secret
  /** The command's argument (a positional after the command name), for commands that take one. */
  argument?: string;
  abandonEncryptedData: boolean;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

export class HelpRequested extends Error {
  constructor(public readonly command?: Command) {
    super("help requested");
    this.name = "HelpRequested";
  }
}

type FlagKind = "boolean" | "string" | "repeatable";
interface FlagSpec {
  kind: FlagKind;
  /**
   * Which commands take it: every command, every update-like one, or those that list it in
   * their `options` in COMMANDS.
   */
  scope: "all" | "update-like" | "command";
  help: string;
  valueName?: string;
}

/** Every option, in the order --help lists them. */
const FLAGS = {
  stack: { kind: "string", scope: "all", valueName: "NAME", help: "stack to operate on (required), e.g. dev, prod or org/agent-platform/dev" },
  create: { kind: "boolean", scope: "all", help: "create the stack if it does not exist (otherwise a missing stack is an error)" },
  json: { kind: "boolean", scope: "all", help: "print exactly one JSON document on stdout; progress goes to stderr" },
  // Accepted by every command (as `pulumi --yes` is); required only for destroy.
  yes: { kind: "boolean", scope: "all", help: "skip confirmation; required for destroy (runs are never interactive)" },
  refresh: { kind: "boolean", scope: "command", help: "refresh the state from the cluster before the operation (the default)" },
  "no-refresh": {
    kind: "boolean",
    scope: "command",
    help: "skip the refresh: trust the state (faster; hand deletions and edits in the cluster are then not seen)",
  },
  repair: { kind: "boolean", scope: "command", help: "after reporting drift, run `up` to repair it and check again" },
  "remove-protected": {
    kind: "boolean",
    scope: "command",
    help: "also delete the protected generated secrets and the retained PostgreSQL PVC (data is lost)",
  },
  config: { kind: "repeatable", scope: "update-like", valueName: "KEY=VALUE", help: "set a plain config value on the stack (repeatable)" },
  "secret-config": {
    kind: "repeatable",
    scope: "update-like",
    valueName: "KEY=ENV_VAR",
    help: "set a secret config value read from environment variable ENV_VAR (repeatable); the value never appears in argv or output",
  },
  target: { kind: "repeatable", scope: "command", valueName: "URN", help: "operate on this resource URN only (repeatable)" },
  parallel: { kind: "string", scope: "update-like", valueName: "N", help: "resource operations to run in parallel (positive integer)" },
  retries: {
    kind: "string",
    scope: "all",
    valueName: "N",
    help: `retries when the stack is locked by another update (default ${DEFAULT_RETRIES}; 0 = fail at once)`,
  },
  "retry-delay": {
    kind: "string",
    scope: "all",
    valueName: "DURATION",
    help: `first retry delay, doubled per attempt up to ${MAX_RETRY_DELAY_MS / 1000}s (e.g. 500ms, 5s, 1m; default ${DEFAULT_RETRY_DELAY_MS / 1000}s)`,
  },
  out: { kind: "string", scope: "command", valueName: "DIR", help: "directory the rendered manifests are written to (required for render)" },
  // adopt (automation/adopt.ts)
  from: { kind: "string", scope: "command", valueName: "DIR", help: "the engine installer's manifest tree, <configDir>/kubernetes (required for adopt)" },
  "dry-run": { kind: "boolean", scope: "command", help: "print what adopt would do (config keys, imports, deletions) and change nothing" },
  // rotate-secret
  "abandon-encrypted-data": {
    kind: "boolean",
    scope: "command",
    help:
      "required to rotate credentialEncryptionKey or logEncryptionKey: stored data encrypted with the old key (the engine's " +
      "stored credentials, its logs) becomes unreadable for good; nothing re-encrypts it with the new key",
  },
  help: { kind: "boolean", scope: "all", help: "show this help" },
} as const satisfies Record<string, FlagSpec>;

type FlagName = keyof typeof FLAGS;

/** The options a command names in its `options` in COMMANDS. */
export type CommandOption = { [K in FlagName]: (typeof FLAGS)[K]["scope"] extends "command" ? K : never }[FlagName];

function isFlagName(name: string): name is FlagName {
  return Object.hasOwn(FLAGS, name);
}

function takes(command: Command, flag: FlagName): boolean {
  const spec: FlagSpec = FLAGS[flag];
  const cmd = commandSpec(command);
  if (spec.scope === "all") return true;
  if (spec.scope === "update-like") return cmd.updateLike;
  return cmd.options.some((o) => o === flag);
}

const STACK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]*(\/[A-Za-z0-9][A-Za-z0-9_.\-]*){0,2}$/;

/** Levenshtein distance, for "did you mean" suggestions. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

function suggest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(input, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(input.length / 3)) ? best : undefined;
}

/** Parses "500ms", "5s", "2m", "1.5s" or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) {
    throw new UsageError(`--${flag}: "${text}" is not a duration; use e.g. 500ms, 5s or 1m (a bare number means seconds)`);
  }
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  const ms = unit === "ms" ? n : unit === "s" ? n * 1000 : n * 60_000;
  return Math.round(ms);
}

function parseInteger(text: string, flag: string, min: number): number {
  if (!/^\d+$/.test(text.trim())) {
    throw new UsageError(`--${flag}: "${text}" is not a whole number; use e.g. --${flag} ${Math.max(min, 3)}`);
  }
  const n = Number(text);
  if (n < min) {
    throw new UsageError(`--${flag}: must be at least ${min}, got ${n}`);
  }
  return n;
}

const CONFIG_KEY = /^[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-]+)?$/;

function splitKeyValue(raw: string, flag: string, example: string): [string, string] {
  const eq = raw.indexOf("=");
  if (eq <= 0) {
    throw new UsageError(`--${flag}: expected KEY=${flag === "secret-config" ? "ENV_VAR" : "VALUE"}, got "${flag === "secret-config" ? raw : raw.replace(/=.*/, "=…")}"; e.g. --${flag} ${example}`);
  }
  const key = raw.slice(0, eq);
  if (!CONFIG_KEY.test(key)) {
    throw new UsageError(`--${flag}: "${key}" is not a config key; use name or namespace:name, e.g. --${flag} ${example}`);
  }
  return [key, raw.slice(eq + 1)];
}

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parses argv (without node and script) into CliOptions.
 * Accepts `--flag value` and `--flag=value`; `--` ends flag parsing (nothing may follow it).
 */
export function parseArgs(argv: readonly string[], env: Env = {}): CliOptions {
  const booleans = new Set<FlagName>();
  const strings = new Map<FlagName, string>();
  const repeatables = new Map<FlagName, string[]>();
  const positionals: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === "-h") {
      booleans.add("help");
      continue;
    }
    if (!arg.startsWith("--")) {
      if (arg.startsWith("-") && arg.length > 1) {
        throw new UsageError(`unknown option "${arg}"; options are long, e.g. --stack dev (see --help)`);
      }
      positionals.push(arg);
      continue;
    }
    const body = arg.slice(2);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (!isFlagName(name)) {
      const hint = suggest(name, Object.keys(FLAGS));
      throw new UsageError(`unknown option "--${name}"${hint ? `; did you mean --${hint}?` : "; see --help"}`);
    }
    const spec: FlagSpec = FLAGS[name];
    if (spec.kind === "boolean") {
      if (eq >= 0) {
        throw new UsageError(`--${name} is a switch and takes no value; write just --${name}`);
      }
      if (booleans.has(name)) throw new UsageError(`--${name} given twice`);
      booleans.add(name);
      continue;
    }
    let value: string;
    if (eq >= 0) {
      value = body.slice(eq + 1);
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) {
        throw new UsageError(`--${name} needs a value: --${name} ${spec.valueName ?? "VALUE"}`);
      }
      value = next;
      i++;
    }
    if (spec.kind === "string") {
      if (strings.has(name)) throw new UsageError(`--${name} given twice; give it once`);
      strings.set(name, value);
    } else {
      const list = repeatables.get(name) ?? [];
      list.push(value);
      repeatables.set(name, list);
    }
  }

  const commandName = positionals[0];
  if (booleans.has("refresh") && booleans.has("no-refresh")) throw new UsageError("--refresh and --no-refresh contradict each other; give one");
  if (booleans.has("help")) {
    throw new HelpRequested(isCommand(commandName) ? commandName : undefined);
  }
  if (commandName === undefined) {
    throw new UsageError(`missing command; one of: ${COMMAND_NAMES.join(", ")}`);
  }
  if (!isCommand(commandName)) {
    const hint = suggest(commandName, COMMAND_NAMES);
    throw new UsageError(`unknown command "${commandName}"${hint ? `; did you mean ${hint}?` : ""}; commands: ${COMMAND_NAMES.join(", ")}`);
  }
  const command = commandName;
  const argumentSpec = commandSpec(command).argument;
  if (positionals.length > (argumentSpec ? 2 : 1)) {
    const extra = positionals[argumentSpec ? 2 : 1];
    throw new UsageError(
      argumentSpec ? `unexpected argument "${extra}"; ${command} takes one ${argumentSpec.name}` : `unexpected argument "${extra}"; ${command} takes only options`,
    );
  }

  // Per-command applicability.
  const given = [...booleans, ...strings.keys(), ...repeatables.keys()];
  for (const name of given) {
    if (!takes(command, name)) {
      const allowed = COMMAND_NAMES.filter((c) => takes(c, name));
      throw new UsageError(`--${name} does not apply to ${command}; it is for: ${allowed.join(", ")}`);
    }
  }

  const stack = strings.get("stack");
  if (stack === undefined || stack === "") {
    throw new UsageError(`--stack is required, e.g. npm run platform -- ${command} --stack dev`);
  }
  if (!STACK_NAME.test(stack)) {
    throw new UsageError(`--stack: "${stack}" is not a stack name; use letters, digits, "-", "_", "." (optionally org/project/stack)`);
  }

  const config: ConfigSetting[] = [];
  for (const raw of repeatables.get("config") ?? []) {
    const [key, value] = splitKeyValue(raw, "config", "agent-platform:imageTag=1.2.3");
    config.push({ key, value, secret: false });
  }
  for (const raw of repeatables.get("secret-config") ?? []) {
    const [key, envName] = splitKeyValue(raw, "secret-config", "agent-platform:postgresPassword=PG_PASSWORD");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(envName)) {
      throw new UsageError(
        `--secret-config ${key}: "${envName}" is not an environment variable name; the value is read from the environment, e.g. --secret-config ${key}=MY_SECRET`,
      );
    }
    const value = env[envName];
    if (value === undefined || value === "") {
      throw new UsageError(`--secret-config ${key}: environment variable ${envName} is not set or empty; export it (in CI: from the secret store)`);
    }
    config.push({ key, value, secret: true });
  }
  const seen = new Set<string>();
  for (const c of config) {
    if (seen.has(c.key)) throw new UsageError(`config key ${c.key} given more than once`);
    seen.add(c.key);
  }

  const targets = repeatables.get("target") ?? [];
  for (const t of targets) {
    if (!t.startsWith("urn:pulumi:")) {
      throw new UsageError(`--target: "${t}" is not a URN; URNs look like urn:pulumi:dev::agent-platform::kubernetes:apps/v1:Deployment::engine (see \`pulumi stack --show-urns\`)`);
    }
  }

  const parallelText = strings.get("parallel");
  const retriesText = strings.get("retries");
  const delayText = strings.get("retry-delay");
  const out = strings.get("out");

  const checked: CheckedOptions = {
    command,
    stack,
    create: booleans.has("create"),
    json: booleans.has("json"),
    yes: booleans.has("yes"),
    // Refresh unless told not to (as Pulumi.yaml's `options.refresh: always` does for `pulumi up`).
    refresh: !booleans.has("no-refresh"),
    repair: booleans.has("repair"),
    removeProtected: booleans.has("remove-protected"),
    config,
    target: targets,
    out,
    // adopt
    from: strings.get("from"),
    dryRun: booleans.has("dry-run") || undefined,
    argument: positionals[1],
    abandonEncryptedData: booleans.has("abandon-encrypted-data"),
  };
  const broken = commandSpec(command).check?.(checked);
  if (broken !== undefined) throw new UsageError(broken);

  return {
    ...checked,
    parallel: parallelText === undefined ? undefined : parseInteger(parallelText, "parallel", 1),
    retries: retriesText === undefined ? DEFAULT_RETRIES : parseInteger(retriesText, "retries", 0),
    retryDelayMs: delayText === undefined ? DEFAULT_RETRY_DELAY_MS : parseDuration(delayText, "retry-delay"),
  };
}

export function helpText(command?: Command): string {
  const lines: string[] = [];
  lines.push("usage: npm run platform -- <command> --stack <name> [options]", "");
  lines.push("commands:");
  for (const c of COMMAND_NAMES) {
    if (command && c !== command) continue;
    const arg = commandSpec(c).argument;
    lines.push(`  ${(arg ? `${c} ${arg.name}` : c).padEnd(20)} ${commandSpec(c).help}`);
  }
  lines.push("", "options:");
  for (const name of Object.keys(FLAGS) as FlagName[]) {
    if (command && !takes(command, name)) continue;
    const spec: FlagSpec = FLAGS[name];
    const left = `--${name}${spec.valueName ? ` ${spec.valueName}` : ""}`;
    lines.push(`  ${left.padEnd(28)} ${spec.help}`);
  }
  lines.push("", "exit codes: 0 done / no changes, 1 error, 2 changes or drift found (preview, drift)");
  return lines.join("\n") + "\n";
}
