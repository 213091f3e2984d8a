// scripts/trace-summary.ts (used by `scripts/bench.sh --trace`): phases read from an OTLP trace
// and CPU attributed to packages.
import { describe, expect, it } from "vitest";
import { owner, phases, profileSummary, readSpans } from "../../scripts/trace-summary";

const ns = (ms: number) => String(BigInt(1_700_000_000_000) * 1_000_000n + BigInt(ms) * 1_000_000n);
const span = (name: string, start: number, end: number, attrs: Record<string, string> = {}) => ({
  name,
  startTimeUnixNano: ns(start),
  endTimeUnixNano: ns(end),
  attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: { stringValue: v } })),
});
const doc = (service: string, spans: ReturnType<typeof span>[]) =>
  JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] }, scopeSpans: [{ spans }] }] });

const trace = [
  doc("pulumi-cli", [
    span("pulumi", 0, 5000),
    span("time-to-first-print", 0, 400),
    span("newPlugin", 500, 1300, { bin: "/x/.local/bin/pulumi-resource-pulumi-nodejs" }),
    span("pulumirpc.ResourceProvider/Read", 1400, 1500),
    span("pulumirpc.ResourceProvider/Read", 1450, 1900),
    span("run-program", 2000, 4800),
    span("pulumirpc.ResourceMonitor/RegisterResource", 3000, 3001),
    span("pulumirpc.ResourceMonitor/RegisterResource", 3600, 4700),
  ]),
  doc("pulumi-resource-provider", [span("/pulumirpc.ResourceProvider/Read", 1410, 1490)]),
].join("\n");

describe("trace-summary", () => {
  it("reads every span with its service, in ms", () => {
    const spans = readSpans(trace);
    expect(spans).toHaveLength(9);
    expect(spans.filter((s) => s.service === "pulumi-resource-provider")).toHaveLength(1);
    expect(spans[0].end - spans[0].start).toBe(5000);
  });

  it("derives the phases from the CLI's spans only", () => {
    const byWhat = Object.fromEntries(phases(readSpans(trace)).map((p) => [p.what, [p.startMs, p.durationMs]]));
    expect(byWhat["whole operation (span `pulumi`)"]).toEqual([0, 5000]);
    expect(byWhat["plugin start: pulumi-resource-pulumi-nodejs"]).toEqual([500, 800]);
    // Two CLI reads from 1400 to 1900 (the provider's own span is not counted twice).
    expect(byWhat["refresh: reads (2)"]).toEqual([1400, 500]);
    expect(byWhat["program: start to its first registration (node, modules)"]).toEqual([2000, 1000]);
    expect(byWhat["program: root registered to the next registration (config, pre-flight reads)"]).toEqual([3000, 600]);
  });

  it("attributes CPU to packages, the project and Node.js itself", () => {
    expect(owner("file:///r/node_modules/@pulumi/pulumi/runtime/x.js", "/r")).toBe("@pulumi/pulumi");
    expect(owner("file:///r/node_modules/a/node_modules/zod/index.js", "/r")).toBe("zod");
    expect(owner("file:///r/components/x.ts", "/r")).toBe("project");
    expect(owner("node:internal/modules/cjs/loader", "/r")).toBe("node (module loader, streams, ...)");
    const profile = {
      nodes: [
        { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: 0 }, children: [2, 4] },
        { id: 2, callFrame: { functionName: "main", url: "file:///r/index.ts", lineNumber: 9 }, children: [3] },
        { id: 3, callFrame: { functionName: "load", url: "file:///r/node_modules/@pulumi/pulumi/cmd/run/run.js", lineNumber: 0 } },
        { id: 4, callFrame: { functionName: "(idle)", url: "", lineNumber: 0 } },
      ],
      samples: [3, 3, 2, 4],
      timeDeltas: [1000, 1000, 3000, 50000],
      startTime: 0,
      endTime: 55000,
    };
    const s = profileSummary(profile, "/r");
    expect(s.cpuMs).toBe(5);
    expect(s.process).toBe("program (language host's node)");
    expect(s.byPackage).toEqual([["project", 3], ["@pulumi/pulumi", 2]]);
    expect(s.projectFunctions).toEqual([["main index.ts:10", 5]]);
  });
});
