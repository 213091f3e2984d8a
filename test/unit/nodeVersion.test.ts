// The program's Node.js check (components/nodeVersion.ts).
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { nodeVersionProblem, runtimeNodeProblem } from "../../components/nodeVersion";

describe("the Node.js version check", () => {
  it("accepts the required version and newer ones", () => {
    for (const v of ["22.12.0", "v22.23.3", "23.0.0", "24.1.2"]) expect(nodeVersionProblem(v, ">=22.12.0")).toBeUndefined();
  });

  it("refuses an older one, naming both versions and the fix", () => {
    const p = nodeVersionProblem("v20.20.2", ">=22.12.0");
    expect(p).toContain("Node.js 20.20.2 runs this program; it needs >=22.12.0");
    expect(p).toContain("scripts/with-env.sh");
    expect(nodeVersionProblem("22.11.9", ">=22.12.0")).toContain("needs >=22.12.0");
  });

  it("says so when it cannot read the requirement", () => {
    expect(nodeVersionProblem("22.12.0", "^22")).toContain("reads only");
  });

  it("passes under the Node.js the tests run with (the project's pinned one)", () => {
    expect(runtimeNodeProblem(path.resolve(__dirname, "../.."))).toBeUndefined();
  });
});
