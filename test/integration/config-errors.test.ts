// Bad stack config through the real CLI: one run reports every problem (key, rule, example),
// exits 1, and nothing reaches the cluster or the state.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { run } from "../../automation/cli-main";
import { devStackFile, kubectl, kubectlOk, repoRoot, tempBackend, uniqueName } from "./harness";

const stack = uniqueName("it-bad");
const backend = tempBackend();
const stackFile = path.join(repoRoot, `Pulumi.${stack}.yaml`);

afterAll(async () => {
  const out = { write: () => true };
  await run(["destroy", "--stack", stack, "--yes", "--remove-protected", "--retries", "0"], { stdout: out, stderr: out }, {
    env: { ...process.env, ...backend.env },
  }).catch(() => undefined);
  if (existsSync(stackFile)) rmSync(stackFile);
  backend.remove();
});

describe("invalid stack config", () => {
  it("is reported all at once, before anything is created", async () => {
    const dev = readFileSync(path.join(repoRoot, "Pulumi.dev.yaml"), "utf8").replace(/^encryptionsalt:.*$/m, "");
    writeFileSync(stackFile, dev);
    const badNamespace = "Bad_Namespace";
    let stdout = "";
    let stderr = "";
    const code = await run(
      [
        "up", "--stack", stack, "--create", "--yes", "--retries", "0",
        "--config", `namespace=${badNamespace}`,
        "--config", "publicUrl=ftp://agents.example.com",
        "--config", "registryMode=quay",
        "--config", "postgresStorageSize=lots",
      ],
      { stdout: { write: (s: string) => ((stdout += s), true) }, stderr: { write: (s: string) => ((stderr += s), true) } },
      { env: { ...process.env, ...backend.env } },
    );
    const text = stdout + stderr;
    expect(code).toBe(1);
    expect(text).toContain("Invalid stack configuration (4 problems); nothing was deployed");
    // Every bad key is named in the one report, with what was wrong.
    for (const key of ["namespace", "publicUrl", "registryMode", "postgresStorageSize"]) {
      expect(text).toContain(`agent-platform:${key}`);
    }
    expect(text).toContain(badNamespace);
    expect(text).toMatch(/DNS-1123|lowercase/i);
    expect(text).toMatch(/ecr, static, none/);
    expect(text).toMatch(/e\.g\.|example/i);
    // Nothing was created: no namespace, nothing in the state but the stack itself.
    expect((await kubectl(["get", "namespace", badNamespace.toLowerCase()])).code).not.toBe(0);
    let outputs = "";
    const oc = await run(["outputs", "--stack", stack, "--json"], { stdout: { write: (s: string) => ((outputs += s), true) }, stderr: { write: () => true } }, {
      env: { ...process.env, ...backend.env },
    });
    expect(oc).toBe(0);
    expect(JSON.parse(outputs).outputs ?? {}).toEqual({});
  });
});

describe("mistakes a new user makes", () => {
  it("a mistyped key, a too-short hand-set secret and a system namespace are reported together, without a stack trace or the secret", async () => {
    const typoStack = uniqueName("it-typo");
    const file = devStackFile(typoStack, { imagetag: "1.2.3", namespace: "kube-system" });
    const shortSecret = "abcde";
    const labelsBefore = (await kubectlOk(["get", "namespace", "kube-system", "-o", "jsonpath={.metadata.labels}"])).trim();
    try {
      let stdout = "";
      let stderr = "";
      const code = await run(
        ["up", "--stack", typoStack, "--create", "--yes", "--retries", "0", "--secret-config", "authSecret=IT_SHORT_SECRET"],
        { stdout: { write: (s: string) => ((stdout += s), true) }, stderr: { write: (s: string) => ((stderr += s), true) } },
        { env: { ...process.env, ...backend.env, IT_SHORT_SECRET: shortSecret } },
      );
      const text = stdout + stderr;
      expect(code).toBe(1);
      expect(text).toContain("Invalid stack configuration (3 problems); nothing was deployed");
      expect(text).toMatch(/agent-platform:imagetag = \(not shown\): is not a key this program reads; did you mean agent-platform:imageTag\?/);
      expect(text).toMatch(/agent-platform:authSecret = \(secret\): \(hand-set\) must be at least 16 characters/);
      expect(text).toMatch(/agent-platform:namespace = "kube-system": must not be a namespace the cluster owns/);
      expect(text).not.toContain(shortSecret);
      // No stack trace: the report is the whole error.
      expect(text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
      expect((await kubectlOk(["get", "namespace", "kube-system", "-o", "jsonpath={.metadata.labels}"])).trim()).toBe(labelsBefore);
    } finally {
      const out = { write: () => true };
      await run(["destroy", "--stack", typoStack, "--yes", "--retries", "0"], { stdout: out, stderr: out }, { env: { ...process.env, ...backend.env } }).catch(() => undefined);
      rmSync(file, { force: true });
    }
  });
});
