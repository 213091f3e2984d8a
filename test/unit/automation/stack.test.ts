import { describe, expect, it } from "vitest";
import { parseArgs } from "../../../automation/args";
import type { RunContext } from "../../../automation/context";
import { SecretMasker } from "../../../automation/mask";
import { realClock } from "../../../automation/lock";
import { commandEnv, definedEnv } from "../../../automation/stack";
import { qualifyKey, renderStackName } from "../../../automation/render";

function ctx(argv: string[], env: Record<string, string> = {}): RunContext {
  return {
    opts: parseArgs(argv, env),
    env,
    workDir: "/repo",
    masker: new SecretMasker(),
    clock: realClock,
    hostname: "h",
    progress: () => undefined,
    note: () => undefined,
  };
}

describe("commandEnv", () => {
  it("lets drift take back fields changed by kubectl (patch force)", () => {
    expect(commandEnv(ctx(["drift", "--stack", "dev"]))).toEqual({ PULUMI_K8S_ENABLE_PATCH_FORCE: "true" });
  });
  it("respects a patch-force setting the user made", () => {
    expect(commandEnv(ctx(["drift", "--stack", "dev"], { PULUMI_K8S_ENABLE_PATCH_FORCE: "false" }))).toEqual({});
  });
  it("leaves up and preview at the provider default", () => {
    expect(commandEnv(ctx(["up", "--stack", "dev"]))).toEqual({});
    expect(commandEnv(ctx(["preview", "--stack", "dev"]))).toEqual({});
  });
});

describe("small helpers", () => {
  it("definedEnv drops unset variables", () => {
    expect(definedEnv({ A: "1", B: undefined })).toEqual({ A: "1" });
  });
  it("qualifies config keys like pulumi config set", () => {
    expect(qualifyKey("imageTag")).toBe("agent-platform:imageTag");
    expect(qualifyKey("kubernetes:context")).toBe("kubernetes:context");
  });
  it("names the throwaway render stack after the last segment of the stack name", () => {
    expect(renderStackName("acme/agent-platform/prod", "a1b2c3")).toBe("render-prod-a1b2c3");
    expect(renderStackName("dev", "ffffff")).toBe("render-dev-ffffff");
  });
});
