import { describe, expect, it } from "vitest";
import { buildDriftReport, type ResourceChange } from "../../../automation/changes";
import { humanSummary, jsonDocument } from "../../../automation/report";
import { driftPreviewEvents, driftRefreshEvents, URN } from "./fixtures/events";

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

describe("drift report", () => {
  const drift = { ...buildDriftReport(driftRefreshEvents, driftPreviewEvents), repaired: false };

  it("builds the JSON document of a drift run", () => {
    const doc = jsonDocument({ command: "drift", stack: "dev" }, { outcome: { kind: "drift" }, drift, notes: ["n"] }, 1234.4);
    expect(doc).toMatchObject({
      schemaVersion: 1,
      command: "drift",
      stack: "dev",
      status: "drift",
      exitCode: 2,
      durationMs: 1234,
      summary: { changedOutside: 3, pendingChanges: 3, excluded: 1 },
      notes: ["n"],
    });
    expect(doc.changes.map((c) => c.name)).toEqual(["ai-2501-command-center", "ai-2501-engine", "ai-2501-executor"]);
    expect(doc.excluded.map((c) => c.name)).toEqual(["ai-2501-pull-secret"]);
  });

  it("writes a human drift summary naming resources, fields and the exclusion", () => {
    const text = humanSummary({ command: "drift", stack: "dev" }, { outcome: { kind: "drift" }, drift, notes: [] });
    expect(text).toContain("drift dev: DRIFT FOUND");
    expect(text).toContain("  deleted outside Pulumi kubernetes:core/v1:ConfigMap ai-2501-command-center");
    expect(text).toContain("  changed outside Pulumi kubernetes:apps/v1:Deployment ai-2501-engine: spec.replicas");
    expect(text).toContain("excluded: kubernetes:core/v1:Secret ai-2501-pull-secret (data[\".dockerconfigjson\"]): expected churn");
    expect(text.trimEnd().endsWith("exit 2 (drift)")).toBe(true);
  });

  it("reports the check after a repair", () => {
    const clean = buildDriftReport([], []);
    const doc = jsonDocument(
      { command: "drift", stack: "dev" },
      { outcome: { kind: "ok" }, drift: { ...drift, repaired: true, afterRepair: clean }, notes: [] },
      1,
    );
    expect(doc.exitCode).toBe(0);
    expect(doc.changes).toEqual([]);
    expect(doc.summary).toMatchObject({ changedOutside: 0, repairedChangedOutside: 3 });
  });
});
