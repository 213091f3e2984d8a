// Shared helpers for integration tests: the real kubectl against the test cluster, throwaway
// Pulumi stacks on a temporary file backend, and polling.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { inject } from "vitest";

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

