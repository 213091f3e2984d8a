import { describe, expect, it } from "vitest";
import {
  buildDriftReport,
  changesFromEvents,
  countChanges,
  excludeExpectedChurn,
  isPullSecretUrn,
  isTokenField,
  nameFromUrn,
  PULL_SECRET_CHURN_REASON,
  splitRefreshPhase,
} from "../../../automation/changes";
import { cleanPreviewEvents, cleanRefreshEvents, driftPreviewEvents, driftRefreshEvents, outputs, pre, URN } from "./fixtures/events";

describe("changesFromEvents", () => {
  it("reads refresh results from the outputs events, ignoring the stack, same and refresh ops", () => {
    const changes = changesFromEvents(driftRefreshEvents);
    expect(changes).toEqual([
      { urn: URN.configMap, type: "kubernetes:core/v1:ConfigMap", name: "ai-2501-command-center", op: "delete", fields: [] },
      { urn: URN.deployment, type: "kubernetes:apps/v1:Deployment", name: "ai-2501-engine", op: "update", fields: ["spec.replicas"] },
      {
        urn: URN.role,
        type: "kubernetes:rbac.authorization.k8s.io/v1:Role",
        name: "ai-2501-executor",
        op: "update",
        fields: ["rules[0].verbs[5]"],
      },
    ]);
  });

  it("skips providers and component resources (no custom flag) in a preview", () => {
    const urns = changesFromEvents([pre(URN.component, "create", undefined, false), pre(URN.provider, "create"), pre(URN.deployment, "create")]).map(
      (c) => c.urn,
    );
    expect(urns).toEqual([URN.deployment]);
  });

  it("folds the steps of a replacement into one replace with all fields", () => {
    const changes = changesFromEvents([
      pre(URN.deployment, "create-replacement", { "spec.selector": "update-replace" }),
      pre(URN.deployment, "replace", { "spec.selector": "update-replace", "spec.replicas": "update" }),
      pre(URN.deployment, "delete-replaced"),
    ]);
    expect(changes).toHaveLength(1);
    expect(changes[0].op).toBe("replace");
    expect(changes[0].fields).toEqual(["spec.replicas", "spec.selector"]);
  });

  it("falls back to the top-level diffs when there is no detailed diff", () => {
    const ev = pre(URN.role, "update");
    ev.resourcePreEvent!.metadata.diffs = ["rules"];
    expect(changesFromEvents([ev])[0].fields).toEqual(["rules"]);
  });
});

describe("pull secret recognition", () => {
  it("matches a Secret under the RegistryPullSecret component, at any depth", () => {
    expect(isPullSecretUrn(URN.pullSecret)).toBe(true);
    expect(isPullSecretUrn("urn:pulumi:prod::agent-platform::agent-platform:index:RegistryPullSecret$kubernetes:core/v1:Secret::x")).toBe(true);
  });
  it("does not match other Secrets or the component itself", () => {
    expect(isPullSecretUrn(URN.dbSecret)).toBe(false);
    expect(isPullSecretUrn("urn:pulumi:dev::agent-platform::agent-platform:index:AgentPlatform$agent-platform:index:RegistryPullSecret::p")).toBe(false);
    expect(isPullSecretUrn("not-a-urn")).toBe(false);
  });
  it("treats only data/stringData paths as token fields", () => {
    expect(isTokenField("data")).toBe(true);
    expect(isTokenField('data[".dockerconfigjson"]')).toBe(true);
    expect(isTokenField("data.\.dockerconfigjson")).toBe(true);
    expect(isTokenField("stringData")).toBe(true);
    expect(isTokenField("metadata.labels")).toBe(false);
    expect(isTokenField("type")).toBe(false);
    expect(isTokenField("database")).toBe(false);
  });
});

describe("excludeExpectedChurn", () => {
  it("excludes a data-only update of the pull secret and says why", () => {
    const { kept, excluded } = excludeExpectedChurn(changesFromEvents(cleanPreviewEvents));
    expect(kept).toEqual([]);
    expect(excluded).toHaveLength(1);
    expect(excluded[0].urn).toBe(URN.pullSecret);
    expect(excluded[0].fields).toEqual(["data"]);
    expect(excluded[0].reason).toBe(PULL_SECRET_CHURN_REASON);
  });
  it("keeps a pull-secret change that touches more than its data", () => {
    const { kept, excluded } = excludeExpectedChurn(changesFromEvents([pre(URN.pullSecret, "update", { data: "update", "metadata.labels": "update" })]));
    expect(kept.map((c) => c.urn)).toEqual([URN.pullSecret]);
    expect(excluded).toEqual([]);
  });
  it("excludes a data-only replacement of the pull secret (the provider may replace on data)", () => {
    const { kept, excluded } = excludeExpectedChurn(changesFromEvents([pre(URN.pullSecret, "replace", { 'data[".dockerconfigjson"]': "update" })]));
    expect(kept).toEqual([]);
    expect(excluded.map((e) => e.op)).toEqual(["replace"]);
  });
  it("keeps a delete or create of the pull secret", () => {
    expect(excludeExpectedChurn(changesFromEvents([pre(URN.pullSecret, "delete")])).kept).toHaveLength(1);
    expect(excludeExpectedChurn(changesFromEvents([pre(URN.pullSecret, "create")])).kept).toHaveLength(1);
  });
  it("keeps a data change of any other Secret", () => {
    const { kept } = excludeExpectedChurn(changesFromEvents([pre(URN.dbSecret, "update", { data: "update" })]));
    expect(kept.map((c) => c.name)).toEqual(["ai-2501-postgres"]);
  });
});

describe("buildDriftReport", () => {
  it("names all three out-of-band changes, the repairs, and the excluded token churn", () => {
    const r = buildDriftReport(driftRefreshEvents, driftPreviewEvents);
    expect(r.drift).toBe(true);
    expect(r.changedOutside.map((c) => [c.name, c.op, c.fields])).toEqual([
      ["ai-2501-command-center", "delete", []],
      ["ai-2501-engine", "update", ["spec.replicas"]],
      ["ai-2501-executor", "update", ["rules[0].verbs[5]"]],
    ]);
    expect(r.pendingChanges.map((c) => [c.name, c.op])).toEqual([
      ["ai-2501-command-center", "create"],
      ["ai-2501-engine", "update"],
      ["ai-2501-executor", "update"],
    ]);
    expect(r.excluded.map((c) => c.name)).toEqual(["ai-2501-pull-secret"]);
  });

  it("reports no drift on a clean stack whose only change is the token", () => {
    const r = buildDriftReport(cleanRefreshEvents, cleanPreviewEvents);
    expect(r).toMatchObject({ drift: false, changedOutside: [], pendingChanges: [] });
    expect(r.excluded).toHaveLength(1);
  });

  it("counts a hand edit of the pull secret found by the refresh as drift", () => {
    const r = buildDriftReport([pre(URN.pullSecret, "refresh"), { ...pre(URN.pullSecret, "update", { data: "update" }), resourcePreEvent: undefined, resOutputsEvent: pre(URN.pullSecret, "update", { data: "update" }).resourcePreEvent }], []);
    expect(r.drift).toBe(true);
    expect(r.changedOutside.map((c) => c.urn)).toEqual([URN.pullSecret]);
  });

  it("nameFromUrn takes the part after the last ::", () => {
    expect(nameFromUrn(URN.deployment)).toBe("ai-2501-engine");
  });
});

describe("splitRefreshPhase (drift's one `preview --refresh`)", () => {
  it("finds the same drift in one stream as the refresh preview and the preview found apart", () => {
    const { refresh, preview } = splitRefreshPhase([...driftRefreshEvents, ...driftPreviewEvents]);
    expect(buildDriftReport(refresh, preview)).toEqual(buildDriftReport(driftRefreshEvents, driftPreviewEvents));
    expect(splitRefreshPhase([...cleanRefreshEvents, ...cleanPreviewEvents])).toEqual({ refresh: cleanRefreshEvents, preview: cleanPreviewEvents });
  });

  it("keeps a change found by the refresh even when the preview then sees the resource unchanged", () => {
    // Someone edited a field the program does not set: the refresh sees it, `up` would not touch it.
    const stream = [pre(URN.role, "refresh"), outputs(URN.role, "update", { "rules[1]": "add" }), pre(URN.role, "same"), outputs(URN.role, "same")];
    const { refresh, preview } = splitRefreshPhase(stream);
    const r = buildDriftReport(refresh, preview);
    expect(r.changedOutside.map((c) => [c.name, c.op, c.fields])).toEqual([["ai-2501-executor", "update", ["rules[1]"]]]);
    expect(r.pendingChanges).toEqual([]);
    expect(r.drift).toBe(true);
  });
});

describe("countChanges", () => {
  it("counts only real changes in a change summary, with the ops changesFromEvents skips", () => {
    expect(countChanges({ same: 14, read: 1, refresh: 3, "remove-pending-replace": 1 })).toBe(0);
    expect(countChanges({ same: 14, update: 2, create: 1, delete: 1, replace: 1 })).toBe(5);
    expect(countChanges({})).toBe(0);
    // Each op a summary counts as no change yields no per-resource change from its event either.
    for (const op of ["same", "read", "discard", "discard-replaced", "remove-pending-replace"]) {
      expect(countChanges({ [op]: 1 })).toBe(0);
      expect(changesFromEvents([pre(URN.deployment, op)])).toEqual([]);
    }
  });
});
