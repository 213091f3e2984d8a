import { describe, expect, it } from "vitest";
import type { ResourceChange } from "../../../automation/changes";
import { humanSummary, jsonDocument } from "../../../automation/report";
import { URN } from "./fixtures/events";

const scaled: ResourceChange = {
  urn: URN.deployment,
  type: "kubernetes:apps/v1:Deployment",
  name: "ai-2501-engine",
  op: "update",
  fields: ["spec.replicas"],
};

function firstLines(command: Parameters<typeof humanSummary>[0]["command"], changes: ResourceChange[]): string[] {
  return humanSummary({ command, stack: "dev" }, { outcome: { kind: "ok" }, changes, notes: [] }).split("\n").slice(0, 2);
}

describe("humanSummary headline and change wording per command", () => {
  it("preview speaks of what would change, or of no changes", () => {
    expect(firstLines("preview", [scaled])).toEqual([
      "preview dev: 1 resource(s) would change",
      "  update                 kubernetes:apps/v1:Deployment ai-2501-engine: spec.replicas",
    ]);
    expect(firstLines("preview", [])[0]).toBe("preview dev: no changes");
  });

  it("refresh words an update as a change made outside Pulumi", () => {
    expect(firstLines("refresh", [scaled])).toEqual([
      "refresh dev: 1 resource(s) changed",
      "  changed outside Pulumi kubernetes:apps/v1:Deployment ai-2501-engine: spec.replicas",
    ]);
  });

  it.each(["up", "destroy", "refresh-pull-secret"] as const)("%s counts the changes it made", (command) => {
    expect(firstLines(command, [scaled])).toEqual([
      `${command} dev: 1 resource(s) changed`,
      "  update                 kubernetes:apps/v1:Deployment ai-2501-engine: spec.replicas",
    ]);
  });

  it.each(["outputs", "render"] as const)("%s just says done", (command) => {
    expect(firstLines(command, [])[0]).toBe(`${command} dev: done`);
  });

  it("ends with the exit code the run returns", () => {
    const text = humanSummary({ command: "preview", stack: "dev" }, { outcome: { kind: "changes" }, changes: [scaled], notes: ["n1"] });
    expect(text.trimEnd().split("\n").slice(-2)).toEqual(["note: n1", "exit 2 (changes)"]);
  });
});

describe("jsonDocument", () => {
  it("carries the exit code of each outcome and the command's own parts", () => {
    const doc = jsonDocument(
      { command: "destroy", stack: "dev" },
      { outcome: { kind: "ok" }, summary: { delete: 3 }, changes: [], kept: ["urn:a"], notes: [] },
      10,
    );
    expect(doc).toEqual({
      schemaVersion: 1,
      command: "destroy",
      stack: "dev",
      status: "ok",
      exitCode: 0,
      durationMs: 10,
      summary: { delete: 3 },
      changes: [],
      excluded: [],
      kept: ["urn:a"],
      notes: [],
    });
    expect(jsonDocument({ command: "preview", stack: "dev" }, { outcome: { kind: "changes" }, notes: [] }, 0).exitCode).toBe(2);
    expect(jsonDocument({ command: "up", stack: "dev" }, undefined, 0, "boom")).toMatchObject({ status: "error", exitCode: 1, error: { message: "boom" } });
  });
});
