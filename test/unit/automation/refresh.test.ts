// Refresh is explicit on every CLI call the command line makes (Pulumi.yaml refreshes by default).
import { PulumiCommand } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import { parseArgs, UsageError } from "../../../automation/args";
import { explicitRefresh } from "../../../automation/stack";

describe("refresh by default, --no-refresh to skip it", () => {
  it("up, preview and destroy refresh unless --no-refresh is given", () => {
    expect(parseArgs(["up", "--stack", "dev"]).refresh).toBe(true);
    expect(parseArgs(["up", "--stack", "dev", "--no-refresh"]).refresh).toBe(false);
    expect(parseArgs(["preview", "--stack", "dev", "--no-refresh"]).refresh).toBe(false);
    expect(() => parseArgs(["up", "--stack", "dev", "--refresh", "--no-refresh"])).toThrow(UsageError);
    expect(() => parseArgs(["drift", "--stack", "dev", "--no-refresh"])).toThrow(/no-refresh/);
  });

  it("turns the project's refresh off explicitly when the SDK did not ask for one", () => {
    expect(explicitRefresh(["up", "--yes", "--skip-preview", "--stack", "dev"])).toEqual(["up", "--yes", "--skip-preview", "--stack", "dev", "--refresh=false"]);
    expect(explicitRefresh(["preview", "--refresh", "--stack", "dev"])).toEqual(["preview", "--refresh", "--stack", "dev"]);
    expect(explicitRefresh(["destroy", "--yes"])).toEqual(["destroy", "--yes", "--refresh=false"]);
    // Other commands have no refresh option to turn off.
    expect(explicitRefresh(["refresh", "--preview-only"])).toEqual(["refresh", "--preview-only"]);
    expect(explicitRefresh(["stack", "export"])).toEqual(["stack", "export"]);
  });

  it("relies on a method the pinned SDK still has", () => {
    expect(typeof (PulumiCommand.prototype as unknown as { run?: unknown }).run).toBe("function");
  });
});
