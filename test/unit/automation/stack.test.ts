import { describe, expect, it } from "vitest";
import { definedEnv } from "../../../automation/stack";
import { qualifyKey, renderStackName } from "../../../automation/render";

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
