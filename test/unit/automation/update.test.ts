import { describe, expect, it } from "vitest";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { parseEventLog, resultFromEvents, upArgs } from "../../../automation/update";
import { maskOutputs } from "../../../automation/mask";

const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ciphertext: "[secret]" };
const STACK_URN = "urn:pulumi:dev::agent-platform::pulumi:pulumi:Stack::agent-platform-dev";

function stackOutputs(op: string, outputs: Record<string, unknown>, sequence: number): EngineEvent {
  const state = { type: "pulumi:pulumi:Stack", urn: STACK_URN, id: "", parent: "", inputs: {}, outputs, provider: "" };
  return { sequence, timestamp: 0, resOutputsEvent: { metadata: { op, urn: STACK_URN, type: "pulumi:pulumi:Stack", old: state, new: state, provider: "" } } } as unknown as EngineEvent;
}

describe("the update's command line", () => {
  it("names the event log, the exec kind, and no refresh flag unless asked (explicitRefresh adds --refresh=false)", () => {
    expect(upArgs({ eventLog: "/tmp/e/events.jsonl" })).toEqual(["up", "--yes", "--skip-preview", "--exec-kind", "auto.local", "--event-log", "/tmp/e/events.jsonl"]);
  });
  it("passes refresh, targets, parallelism and plain output for --json", () => {
    const args = upArgs({ eventLog: "/e", refresh: true, target: ["urn:a", "urn:b"], parallel: 4, json: true });
    expect(args).toEqual(["up", "--yes", "--skip-preview", "--refresh", "--target", "urn:a", "--target", "urn:b", "--parallel", "4", "--color", "never", "--exec-kind", "auto.local", "--event-log", "/e"]);
    expect(upArgs({ eventLog: "/e", target: ["urn:a"] })).not.toContain("--target-dependents");
  });
});

describe("the update's result from its event log", () => {
  it("reads one event per line and skips a line cut short by a killed engine", () => {
    const text = `${JSON.stringify({ sequence: 1, timestamp: 0, cancelEvent: {} })}\n\n${JSON.stringify({ sequence: 2, timestamp: 0 })}\n{"sequence": 3, "resOu`;
    expect(parseEventLog(text).map((e) => e.sequence)).toEqual([1, 2]);
  });

  it("takes the counts from the summary event and the outputs of the update, not of the refresh before it", () => {
    const events = [
      stackOutputs("refresh", { namespace: "old", apiKey: SECRET }, 2),
      stackOutputs("same", { namespace: "dev", apiKey: SECRET, pullSecretName: null }, 40),
      { sequence: 41, timestamp: 0, summaryEvent: { maybeCorrupt: false, durationSeconds: 4, resourceChanges: { same: 46 }, policyPacks: {} } } as EngineEvent,
    ];
    const res = resultFromEvents(events);
    expect(res.resourceChanges).toEqual({ same: 46 });
    expect(res.outputs).toEqual({
      namespace: { value: "dev", secret: false },
      apiKey: { value: SECRET, secret: true },
      pullSecretName: { value: null, secret: false },
    });
    // What the report prints of them: the secret masked whole.
    expect(maskOutputs(res.outputs ?? {}).apiKey).toEqual({ value: "[secret]", secret: true });
  });

  it("says what the log lacks (then the state is read instead)", () => {
    expect(resultFromEvents([stackOutputs("refresh", { a: 1 }, 1)])).toEqual({ resourceChanges: undefined, outputs: undefined });
  });
});
