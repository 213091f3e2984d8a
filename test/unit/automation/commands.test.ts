import { describe, expect, it } from "vitest";
import { COMMAND_NAMES, commandSpec } from "../../../automation/commands";

/** The environment the pulumi CLI gets on top of the caller's, as openStack builds it. */
const extraEnv = (command: (typeof COMMAND_NAMES)[number], callerEnv: Record<string, string> = {}) => commandSpec(command).env?.(callerEnv) ?? {};

describe("the pulumi CLI's environment per command", () => {
  it("lets drift take back fields changed by kubectl (patch force)", () => {
    expect(extraEnv("drift")).toEqual({ PULUMI_K8S_ENABLE_PATCH_FORCE: "true" });
  });
  it("respects a patch-force setting the user made", () => {
    expect(extraEnv("drift", { PULUMI_K8S_ENABLE_PATCH_FORCE: "false" })).toEqual({});
  });
  it("leaves every other command at the provider default", () => {
    for (const c of COMMAND_NAMES.filter((n) => n !== "drift")) expect(extraEnv(c), c).toEqual({});
  });
});
