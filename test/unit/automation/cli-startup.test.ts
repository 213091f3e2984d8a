// The command line starts fast only if its static imports leave the Pulumi SDK (and what it
// pulls in: TypeScript, npm's libraries, gRPC) unloaded until a command opens a stack
// (automation/stack.ts loads the Automation API on first use). One value import of
// "@pulumi/pulumi" anywhere in its graph (a builder, a helper) costs most of a second on every
// start, `--help` included.
import { execFile } from "node:child_process";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const repo = path.resolve(__dirname, "../../..");

function loadedBy(entry: string): Promise<string[]> {
  const probe = `require(${JSON.stringify(entry)}); console.log(JSON.stringify(Object.keys(require.cache)));`;
  return new Promise((resolve, reject) => {
    execFile(path.join(repo, "node_modules/.bin/tsx"), ["-e", probe], { cwd: repo, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "[]") as string[]);
    });
  });
}

describe("the command line's start", () => {
  it("loads no Pulumi SDK, TypeScript or Kubernetes client before a stack is opened", async () => {
    const loaded = await loadedBy("./automation/cli-main.ts");
    expect(loaded.some((f) => f.endsWith(path.join("automation", "cli-main.ts")))).toBe(true);
    const heavy = loaded.filter((f) => /node_modules\/(@pulumi\/|typescript\/|@kubernetes\/client-node\/|@grpc\/)/.test(f));
    expect(heavy).toEqual([]);
  }, 60_000);
});
