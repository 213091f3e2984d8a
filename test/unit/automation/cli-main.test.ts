import { describe, expect, it } from "vitest";
import { run } from "../../../automation/cli-main";
import { humanSummary, jsonDocument } from "../../../automation/report";
import { buildDriftReport } from "../../../automation/changes";
import { driftPreviewEvents, driftRefreshEvents } from "./fixtures/events";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

describe("run (no Pulumi CLI needed)", () => {
  it("prints help and exits 0", async () => {
    const c = capture();
    expect(await run(["--help"], c.io)).toBe(0);
    expect(c.out()).toContain("usage: npm run platform -- <command> --stack <name> [options]");
  });

  it("exits 1 on a usage error with the message on stderr", async () => {
    const c = capture();
    expect(await run(["up"], c.io, { env: {} })).toBe(1);
    expect(c.err()).toBe("error: --stack is required, e.g. npm run platform -- up --stack dev\nrun with --help for usage\n");
    expect(c.out()).toBe("");
  });

  it("prints exactly one JSON document for a usage error with --json", async () => {
    const c = capture();
    expect(await run(["destroy", "--stack", "prod", "--json"], c.io, { env: {} })).toBe(1);
    const doc = JSON.parse(c.out());
    expect(doc).toMatchObject({ status: "error", exitCode: 1, error: { message: "usage: destroy deletes the resources of stack prod; pass --yes to confirm" } });
    expect(c.err()).toBe("error: destroy deletes the resources of stack prod; pass --yes to confirm\nrun with --help for usage\n");
  });

  it("exits 1 with an actionable message when the Pulumi project cannot be opened", async () => {
    const c = capture();
    const code = await run(["outputs", "--stack", "dev", "--json"], c.io, { env: { PATH: "/nonexistent" }, workDir: "/nonexistent-dir" });
    expect(code).toBe(1);
    const doc = JSON.parse(c.out());
    expect(doc.status).toBe("error");
    expect(doc.error.message).toMatch(/^outputs on stack dev failed:/);
  });
});


describe("report", () => {
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
