import { describe, expect, it } from "vitest";
import { markFieldsStale, parseState, pendingOperations, protectedUrns, pullSecretUrns, resourceUrns, withoutProtection } from "../../../automation/state";
import { URN } from "./fixtures/events";

const raw = {
  version: 3,
  deployment: {
    manifest: { time: "2025-11-22T18:00:00Z" },
    resources: [
      { urn: URN.stack, type: "pulumi:pulumi:Stack", custom: false },
      { urn: URN.pullSecret, type: "kubernetes:core/v1:Secret", custom: true, outputs: { type: "kubernetes.io/dockerconfigjson" } },
      {
        urn: "urn:pulumi:dev::agent-platform::kubernetes:core/v1:Secret::extra-registry",
        type: "kubernetes:core/v1:Secret",
        custom: true,
        outputs: { type: "kubernetes.io/dockerconfigjson" },
      },
      { urn: URN.dbSecret, type: "kubernetes:core/v1:Secret", custom: true, protect: true, outputs: { type: "Opaque" } },
      {
        urn: "urn:pulumi:dev::agent-platform::kubernetes:core/v1:PersistentVolumeClaim::pg-data",
        type: "kubernetes:core/v1:PersistentVolumeClaim",
        custom: true,
        protect: true,
        retainOnDelete: true,
      },
      { urn: URN.deployment, type: "kubernetes:apps/v1:Deployment", custom: true },
    ],
    pending_operations: [{ resource: { urn: URN.configMap, type: "kubernetes:core/v1:ConfigMap" }, type: "creating" }],
  },
};

describe("state helpers", () => {
  const state = parseState(raw);

  it("finds the pull secrets by component URN and by dockerconfigjson type", () => {
    expect(pullSecretUrns(state)).toEqual([URN.pullSecret, "urn:pulumi:dev::agent-platform::kubernetes:core/v1:Secret::extra-registry"].sort());
  });

  it("lists pending operations, protected resources, and resources without the stack", () => {
    expect(pendingOperations(state)).toEqual([{ urn: URN.configMap, type: "kubernetes:core/v1:ConfigMap", op: "creating" }]);
    expect(protectedUrns(state)).toEqual([URN.dbSecret, "urn:pulumi:dev::agent-platform::kubernetes:core/v1:PersistentVolumeClaim::pg-data"].sort());
    expect(resourceUrns(state)).toHaveLength(5);
  });

  it("clears protect and retainOnDelete on a copy, leaving the original alone", () => {
    const { state: copy, changed } = withoutProtection(raw);
    expect(changed).toHaveLength(2);
    const resources = (copy as typeof raw).deployment.resources as { protect?: boolean; retainOnDelete?: boolean }[];
    expect(resources.every((r) => r.protect !== true && r.retainOnDelete !== true)).toBe(true);
    expect(raw.deployment.resources[3].protect).toBe(true);
    expect(protectedUrns(parseState(copy))).toEqual([]);
  });

  it("rejects a state of an unknown shape with a clear message", () => {
    expect(() => parseState({ deployment: [] })).toThrow(/unexpected shape/);
  });

  it("handles an empty stack", () => {
    expect(pullSecretUrns(parseState({ version: 3, deployment: {} }))).toEqual([]);
  });
});

describe("markFieldsStale", () => {
  const roleUrn = "urn:pulumi:dev::agent-platform::kubernetes:rbac.authorization.k8s.io/v1:Role::r";
  const st = {
    version: 3,
    deployment: {
      resources: [
        {
          urn: roleUrn,
          type: "kubernetes:rbac.authorization.k8s.io/v1:Role",
          inputs: { metadata: { labels: {} }, rules: [{ verbs: ["get"] }] },
          outputs: { metadata: { name: "r", labels: { team: "x" } }, rules: [{ verbs: ["get"] }, { verbs: ["list"] }] },
        },
        { urn: "urn:other", type: "kubernetes:core/v1:ConfigMap", inputs: { data: {} }, outputs: { data: { a: "1" } } },
      ],
    },
  };

  it("empties the stored copy of fields the program sets, on a copy", () => {
    const { state, marked } = markFieldsStale(st, [{ urn: roleUrn, fields: ["rules", "rules[1]", "metadata.labels.team", "notInInputs"] }]);
    expect(marked).toEqual([{ urn: roleUrn, fields: ["rules"] }]);
    const res = (state as typeof st).deployment.resources;
    expect(res[0].outputs.rules).toEqual([]);
    expect(res[0].outputs.metadata).toEqual({ name: "r", labels: { team: "x" } });
    expect(res[1].outputs).toEqual({ data: { a: "1" } });
    expect(st.deployment.resources[0].outputs.rules).toHaveLength(2);
  });

  it("marks nothing for a change outside what the program sets", () => {
    expect(markFieldsStale(st, [{ urn: roleUrn, fields: ["metadata.labels.team"] }]).marked).toEqual([]);
  });
});
