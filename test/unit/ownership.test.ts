// The ownership rules (pure): which live objects the program may create or update.
import { describe, expect, it } from "vitest";
import { objectPath } from "../../components/clusterReader";
import { OWNER_ANNOTATION, ownerId, ownershipProblem, ownershipReport, type ObjectRef } from "../../components/builders/ownership";

const owner = ownerId("organization", "agent-platform", "dev");
const cm: ObjectRef = { apiVersion: "v1", kind: "ConfigMap", plural: "configmaps", namespace: "ai", name: "ai-engine" };
const ns: ObjectRef = { apiVersion: "v1", kind: "Namespace", plural: "namespaces", name: "ai" };
const legacyLabels = {
  "app.kubernetes.io/part-of": "agent-platform",
  "app.kubernetes.io/managed-by": "pulumi",
  "app.kubernetes.io/instance": "ai",
};

describe("ownershipProblem", () => {
  it("allows creating what does not exist and updating what this stack owns", () => {
    expect(ownershipProblem(cm, undefined, owner, "ai")).toBeUndefined();
    expect(ownershipProblem(cm, { annotations: { [OWNER_ANNOTATION]: owner } }, owner, "ai")).toBeUndefined();
  });

  it("refuses an object another stack owns, naming that stack and the fix", () => {
    const p = ownershipProblem(cm, { annotations: { [OWNER_ANNOTATION]: "organization/agent-platform/prod" } }, owner, "ai");
    expect(p).toMatch(/^ConfigMap ai\/ai-engine already exists and belongs to stack organization\/agent-platform\/prod/);
    expect(p).toMatch(/choose another agent-platform:instanceName or namespace/);
  });

  it("refuses an object created outside this program", () => {
    const p = ownershipProblem(cm, { annotations: {}, labels: { app: "theirs" } }, owner, "ai");
    expect(p).toMatch(/belongs to something outside this program/);
  });

  it("takes objects of the same instance from before owner annotations as ours, but not another instance's", () => {
    expect(ownershipProblem(cm, { labels: legacyLabels }, owner, "ai")).toBeUndefined();
    expect(ownershipProblem(cm, { labels: legacyLabels }, owner, "other")).toMatch(/outside this program/);
    // An annotation always wins over labels: another stack's object is never "legacy".
    expect(ownershipProblem(cm, { labels: legacyLabels, annotations: { [OWNER_ANNOTATION]: "o/p/s" } }, owner, "ai")).toMatch(/stack o\/p\/s/);
  });

  it("points a foreign namespace at createNamespaces false", () => {
    expect(ownershipProblem(ns, { labels: {} }, owner, "ai")).toMatch(/Namespace ai already exists[\s\S]*createNamespaces false/);
  });

  it("reports every problem in one message, or nothing", () => {
    expect(ownershipReport([])).toBeUndefined();
    expect(ownershipReport(["a", "b"])).toBe("Nothing was changed: 2 problem(s) with the objects this stack would create or use:\n  - a\n  - b");
  });
});

describe("objectPath", () => {
  it("builds the API path of core, grouped, namespaced and cluster-scoped objects", () => {
    expect(objectPath(cm)).toBe("/api/v1/namespaces/ai/configmaps/ai-engine");
    expect(objectPath(ns)).toBe("/api/v1/namespaces/ai");
    expect(objectPath({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", plural: "roles", namespace: "x", name: "r" })).toBe(
      "/apis/rbac.authorization.k8s.io/v1/namespaces/x/roles/r",
    );
  });
});
