import type { EngineEvent } from "@pulumi/pulumi/automation";
import { describe, expect, it } from "vitest";
import {
  buildDriftReport,
  changesFromEvents,
  isSystemPath,
  LIVE_COMPARE_NOTE,
  liveChangesFromRefreshEvents,
  objectDiffPaths,
} from "../../../automation/changes";
import { pre, URN } from "./fixtures/events";

const role = (rules: unknown[], extra: Record<string, unknown> = {}) => ({
  apiVersion: "rbac.authorization.k8s.io/v1",
  kind: "Role",
  metadata: { name: "r", namespace: "ns", resourceVersion: "1", managedFields: [{ manager: "pulumi" }], ...extra },
  rules,
});
const POD_RULE = { apiGroups: [""], resources: ["pods"], verbs: ["create", "get", "list", "watch", "delete"] };

/** A refresh of one resource whose provider diff found nothing ("same"), with the objects given. */
function refreshSame(urn: string, oldObj: object, newObj: object): EngineEvent[] {
  const p = pre(urn, "refresh");
  const out = pre(urn, "same");
  out.resourcePreEvent!.metadata.old!.outputs = oldObj as Record<string, unknown>;
  out.resourcePreEvent!.metadata.new!.outputs = newObj as Record<string, unknown>;
  return [p, { sequence: out.sequence, timestamp: 0, resOutputsEvent: out.resourcePreEvent }];
}

describe("objectDiffPaths", () => {
  it("names an element added to a list at the list's path", () => {
    expect(objectDiffPaths(role([POD_RULE]), role([POD_RULE, { apiGroups: [""], resources: ["secrets"], verbs: ["get"] }]))).toEqual(["rules"]);
  });
  it("names a changed leaf with its full path", () => {
    expect(objectDiffPaths({ spec: { replicas: 1, x: [1, 2] } }, { spec: { replicas: 3, x: [1, 5] } })).toEqual(["spec.replicas", "spec.x[1]"]);
  });
  it("quotes keys that are not identifiers", () => {
    expect(objectDiffPaths({ data: { ".dockerconfigjson": "a" } }, { data: { ".dockerconfigjson": "b" } })).toEqual(['data[".dockerconfigjson"]']);
  });
  it("ignores status and system-managed metadata", () => {
    const a = { metadata: { resourceVersion: "1", generation: 1, annotations: { "deployment.kubernetes.io/revision": "1" } }, status: { readyReplicas: 1 } };
    const b = { metadata: { resourceVersion: "9", generation: 2, annotations: { "deployment.kubernetes.io/revision": "2" } }, status: { readyReplicas: 0 } };
    expect(objectDiffPaths(a, b)).toEqual([]);
  });
  it("still sees a label or an annotation someone added", () => {
    expect(objectDiffPaths({ metadata: { labels: { a: "1" } } }, { metadata: { labels: { a: "1", team: "x" }, annotations: { note: "y" } } })).toEqual([
      "metadata.annotations",
      'metadata.labels.team',
    ]);
  });
  it("isSystemPath covers the PVC binder's fields", () => {
    expect(isSystemPath("spec.volumeName")).toBe(true);
    expect(isSystemPath('metadata.annotations["pv.kubernetes.io/bind-completed"]')).toBe(true);
    expect(isSystemPath("spec.replicas")).toBe(false);
  });
});

describe("liveChangesFromRefreshEvents", () => {
  it("finds a rule added to a Role that the provider's diff missed, and drift reports it", () => {
    const events = refreshSame(URN.role, role([POD_RULE]), role([POD_RULE, { apiGroups: [""], resources: ["secrets"], verbs: ["get"] }], { resourceVersion: "7" }));
    expect(changesFromEvents(events)).toEqual([]);
    expect(liveChangesFromRefreshEvents(events)).toEqual([
      { urn: URN.role, type: "kubernetes:rbac.authorization.k8s.io/v1:Role", name: "ai-2501-executor", op: "update", fields: ["rules"], note: LIVE_COMPARE_NOTE },
    ]);
    const report = buildDriftReport(events, []);
    expect(report.drift).toBe(true);
    expect(report.changedOutside.map((c) => c.name)).toEqual(["ai-2501-executor"]);
  });

  it("reports nothing when only status and bookkeeping changed", () => {
    const a = { spec: { replicas: 1 }, status: { availableReplicas: 1 }, metadata: { resourceVersion: "1" } };
    const b = { spec: { replicas: 1 }, status: { availableReplicas: 0 }, metadata: { resourceVersion: "2" } };
    expect(liveChangesFromRefreshEvents(refreshSame(URN.deployment, a, b))).toEqual([]);
  });

  it("leaves a replica count the program does not set to its autoscaler, and reports one it sets", () => {
    const before = { spec: { replicas: 2, paused: false } };
    const scaled = { spec: { replicas: 5, paused: false } };
    const withInputs = (events: EngineEvent[], inputs: Record<string, unknown>) => {
      events[1].resOutputsEvent!.metadata.old!.inputs = inputs;
      return events;
    };
    expect(liveChangesFromRefreshEvents(withInputs(refreshSame(URN.deployment, before, scaled), { spec: { paused: false } }))).toEqual([]);
    expect(liveChangesFromRefreshEvents(withInputs(refreshSame(URN.deployment, before, scaled), { spec: { replicas: 2 } }))[0].fields).toEqual(["spec.replicas"]);
  });

  it("merges its fields into the provider's finding for the same resource", () => {
    const events = refreshSame(URN.deployment, { spec: { replicas: 1, paused: false } }, { spec: { replicas: 3, paused: true } });
    const out = events[1].resOutputsEvent!.metadata;
    out.op = "update" as never;
    out.detailedDiff = { "spec.replicas": { diffKind: "update" as never, inputDiff: true } };
    const report = buildDriftReport(events, []);
    expect(report.changedOutside).toHaveLength(1);
    expect(report.changedOutside[0].fields).toEqual(["spec.paused", "spec.replicas"]);
  });
});

describe("unhealthy resources", () => {
  it("explain an update without fields by the init error", () => {
    const ev = pre(URN.deployment, "update");
    ev.resourcePreEvent!.metadata.new!.initErrors = ["[MinimumReplicasUnavailable] Deployment does not have minimum availability.\nmore"];
    const [c] = changesFromEvents([ev]);
    expect(c.note).toBe("unhealthy, up would retry it: [MinimumReplicasUnavailable] Deployment does not have minimum availability.");
  });
});
