// Shared helpers for integration tests: the real kubectl against the test cluster, throwaway
// Pulumi stacks on a temporary file backend, and polling.
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, inject } from "vitest";

export const repoRoot = path.resolve(__dirname, "../..");

// The Automation API finds `pulumi` on this process's PATH: the project's own toolchain first.
const localPath = [path.join(repoRoot, ".local/bin"), path.join(repoRoot, "node_modules/.bin")];
if (!(process.env.PATH ?? "").startsWith(localPath[0])) {
  process.env.PATH = [...localPath, process.env.PATH ?? ""].join(":");
}

export function kubeconfig(): string {
  return inject("kubeconfig");
}

export interface Cmd {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs kubectl against the test cluster; never throws, returns the exit code. */
export async function kubectl(args: string[], opts: { input?: string; token?: string } = {}): Promise<Cmd> {
  const base = ["--kubeconfig", kubeconfig()];
  if (opts.token) {
    // Authenticate with the token alone: drop the admin client certificate.
    const server = readFileSync(kubeconfig(), "utf8").match(/server: (\S+)/)?.[1] ?? "";
    base.splice(0, 2, "--kubeconfig=/dev/null", `--server=${server}`, `--token=${opts.token}`, "--insecure-skip-tls-verify=true");
  }
  return new Promise((resolve) => {
    const child = execFile(
      path.join(repoRoot, ".local/bin/kubectl"),
      [...base, ...args],
      { maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ stdout: String(stdout), stderr: String(stderr), code });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** kubectl that must succeed; returns stdout. */
export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export async function kubectlJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await kubectlOk([...args, "-o", "json"])) as T;
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** One resource of a stack's state as `pulumi stack export` prints it. */
export interface StateResource {
  urn: string;
  type: string;
  parent?: string;
  dependencies?: string[];
  [key: string]: unknown;
}

/** Runs a program to its end; rejects with the tail of its stderr when it fails. */
export function runProgram(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { ...opts, maxBuffer: 64 * 1024 * 1024 }, (e, stdout, stderr) =>
      e ? reject(new Error(`${path.basename(file)} ${args.slice(0, 3).join(" ")} failed: ${String(stderr).slice(-3000)}`)) : resolve({ stdout, stderr }),
    ),
  );
}

/** The project's `pulumi` on one stack of a backend (`env`): `pulumi <args> --stack <stack>`. */
export function pulumiOn(stack: string, env: Record<string, string>): (args: string[]) => Promise<{ stdout: string; stderr: string }> {
  return (args) => runProgram(path.join(repoRoot, ".local/bin/pulumi"), [...args, "--stack", stack], { cwd: repoRoot, env: { ...process.env, ...env } });
}

/** The stack's state (`pulumi stack export`, with the secrets shown only when asked). */
export async function exportedState(stack: string, env: Record<string, string>, o: { showSecrets?: boolean } = {}): Promise<{ deployment: { resources: StateResource[] } }> {
  const { stdout } = await pulumiOn(stack, env)(["stack", "export", ...(o.showSecrets ? ["--show-secrets"] : [])]);
  return JSON.parse(stdout) as { deployment: { resources: StateResource[] } };
}

/** A temporary file backend and passphrase for throwaway stacks; remove() deletes it all. */
export function tempBackend(): { url: string; dir: string; env: Record<string, string>; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ap-backend-"));
  const env: Record<string, string> = {
    PULUMI_BACKEND_URL: `file://${dir}`,
    PULUMI_CONFIG_PASSPHRASE: "integration-test-passphrase",
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    // The repo's Pulumi home: it holds the plugin cache with the locally built providers.
    PULUMI_HOME: path.join(repoRoot, ".local/pulumi-home"),
    KUBECONFIG: kubeconfig(),
    PATH: `${path.join(repoRoot, ".local/bin")}:${path.join(repoRoot, "node_modules/.bin")}:${process.env.PATH ?? ""}`,
  };
  return { url: env.PULUMI_BACKEND_URL, dir, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}


/** The JSON document every `npm run platform -- <command> --json` prints (the fields tests read). */
export interface CliDoc {
  status: string;
  exitCode: number;
  summary: Record<string, number>;
  changes: { urn: string; type: string; name: string; op: string; fields: string[] }[];
  excluded: unknown[];
  notes: string[];
  error?: string;
  outputs?: Record<string, { value: unknown; secret: boolean }>;
  drift?: unknown;
}

export interface CliResult {
  code: number;
  doc: CliDoc;
  /** Everything the command printed besides the document (progress, errors). */
  log: string;
}

/**
 * Runs the CI command line in-process for one stack, as a pipeline would (`--json`, no lock
 * retries unless the step asks for them): `const cli = cliRunner(stack, () => env); await cli(["up", "--yes"])`.
 */
export function cliRunner(
  stack: string,
  env: () => Record<string, string | undefined>,
  onDone?: (args: string[], seconds: number) => void,
): (args: string[], envOverride?: Record<string, string | undefined>) => Promise<CliResult> {
  return async (args, envOverride) => {
    // Imported here: the CLI module graph is only loaded by the files that drive it.
    const { run } = await import("../../automation/cli-main");
    let out = "";
    let err = "";
    const t0 = Date.now();
    const retries = args.includes("--retries") ? [] : ["--retries", "0"];
    const code = await run(
      [...args, "--stack", stack, "--json", ...retries],
      { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } },
      { env: envOverride ?? env() },
    );
    onDone?.(args, (Date.now() - t0) / 1000);
    let doc: CliDoc;
    try {
      doc = JSON.parse(out) as CliDoc;
    } catch {
      throw new Error(`platform ${args.join(" ")} printed no JSON document (exit ${code}):\n${err.slice(-3000)}`);
    }
    return { code, doc, log: err };
  };
}

/** A throwaway stack file with the dev stack's values (without its machine-local salt); returns its path. */
export function devStackFile(stack: string, extra: Record<string, string> = {}): string {
  const dev = readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8").replace(/^encryptionsalt:.*$/m, "");
  const lines = Object.entries(extra).map(([k, v]) => `  agent-platform:${k}: ${JSON.stringify(v)}`);
  const text = dev.replace(/^config:\n/m, `config:\n${lines.map((l) => `${l}\n`).join("")}`);
  const file = path.join(repoRoot, `Pulumi.${stack}.yaml`);
  writeFileSync(file, text);
  return file;
}

/**
 * An earlier commit of this project, checked out beside the repo (a git worktree sharing
 * node_modules), deploying `stack` through its own command line as its users ran it: the start of
 * every upgrade test. The stack file lives in the checkout while the earlier version owns it (it
 * writes its encryption salt there) and comes back with `handOver`.
 */
export interface EarlierVersion {
  /** This version's stack file (repo root), which handOver() writes. */
  stackFile: string;
  /** Checks out the commit and moves the stack file (written by `writeStackFile`) into it. */
  checkout(writeStackFile: () => void): Promise<void>;
  /** `up --create` by the earlier version's CLI; throws with its stderr when it fails. The JSON document's status. */
  up(env: NodeJS.ProcessEnv): Promise<string>;
  /** This version takes the stack file over, with the earlier one's salt (once; later calls do nothing). */
  handOver(): void;
  /** Removes the checkout. */
  remove(): Promise<void>;
}

export function earlierVersion(rev: string, stack: string): EarlierVersion {
  const worktree = path.join(mkdtempSync(path.join(os.tmpdir(), "ap-earlier-")), "repo");
  const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);
  const theirs = path.join(worktree, `Pulumi.${stack}.yaml`);
  return {
    stackFile,
    async checkout(writeStackFile) {
      await runProgram("git", ["-C", repoRoot, "worktree", "add", "--detach", worktree, rev]);
      symlinkSync(path.join(repoRoot, "node_modules"), path.join(worktree, "node_modules"));
      writeStackFile();
      copyFileSync(stackFile, theirs);
      rmSync(stackFile);
    },
    async up(env) {
      const r = await runProgram(
        path.join(repoRoot, "node_modules/.bin/tsx"),
        [path.join(worktree, "automation/cli.ts"), "up", "--stack", stack, "--create", "--yes", "--json", "--retries", "0"],
        { cwd: worktree, env },
      );
      return (JSON.parse(r.stdout) as { status: string }).status;
    },
    handOver() {
      if (!existsSync(stackFile) && existsSync(theirs)) copyFileSync(theirs, stackFile);
    },
    async remove() {
      await runProgram("git", ["-C", repoRoot, "worktree", "remove", "--force", worktree]).catch(() => undefined);
      rmSync(path.dirname(worktree), { recursive: true, force: true });
    },
  };
}

/** What upgradeFixture gives a test file. */
export interface UpgradeFixture {
  backend: ReturnType<typeof tempBackend>;
  stack: string;
  ns: string;
  /** The stack file of this version (after `previous.handOver()`). */
  stackFile: string;
  previous: EarlierVersion;
  cli: ReturnType<typeof cliRunner>;
}

/**
 * A throwaway stack that an earlier version deploys first and this version then takes over: its
 * backend, names, the earlier version's checkout and this version's CLI. Registers the hooks: the
 * checkout before the tests; after them, everything destroyed (protected resources too), both
 * namespaces deleted, and the checkout, stack file and backend removed, whatever failed.
 */
export function upgradeFixture(rev: string, prefix: { stack: string; namespace: string }, extraEnv: NodeJS.ProcessEnv = {}): UpgradeFixture {
  const backend = tempBackend();
  const stack = uniqueName(prefix.stack);
  const ns = uniqueName(prefix.namespace);
  const previous = earlierVersion(rev, stack);
  const stackFile = previous.stackFile;
  const cli = cliRunner(stack, () => ({ ...process.env, ...backend.env, ...extraEnv }));

  beforeAll(() => previous.checkout(() => devStackFile(stack, { namespace: ns })), 120_000);
  afterAll(async () => {
    try {
      previous.handOver();
      await cli(["destroy", "--yes", "--remove-protected"]).catch(() => undefined);
    } finally {
      await kubectl(["delete", "namespace", ns, `${ns}-sandbox`, "--wait=false", "--ignore-not-found"]);
      await previous.remove();
      rmSync(stackFile, { force: true });
      backend.remove();
    }
  });
  return { backend, stack, ns, stackFile, previous, cli };
}
