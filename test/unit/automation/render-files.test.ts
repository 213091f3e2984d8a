import { describe, expect, it } from "vitest";
import { planRender, secretsNote, type RenderedFile } from "../../../automation/render-files";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const PG_PASSWORD = "Zq8-generated-password-1234567890";

const files: RenderedFile[] = [
  {
    path: "1-manifest/v1-namespace-default-ai-2501.yaml",
    content: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ai-2501\n",
  },
  {
    path: "1-manifest/v1-secret-ai-2501-ai-2501-postgres.yaml",
    content: `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ai-2501-postgres\n  namespace: ai-2501\ntype: Opaque\ndata:\n  POSTGRES_PASSWORD: ${b64(PG_PASSWORD)}\n  POSTGRES_USER: ${b64("postgres")}\n`,
  },
  {
    path: "1-manifest/v1-secret-ai-2501-ai-2501-pull-secret.yaml",
    content: `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ai-2501-pull-secret\n  namespace: ai-2501\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: '{"auths":{"r.example":{"auth":"dXNlcjpwYXNzd29yZDEyMzQ1"}}}'\n`,
  },
  {
    path: "1-manifest/apps_v1-deployment-ai-2501-ai-2501-postgres.yaml",
    content:
      "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ai-2501-postgres\n  namespace: ai-2501\nspec:\n  template:\n    spec:\n      containers:\n      - name: postgres\n        env:\n        - name: POSTGRES_USER\n          value: postgres\n",
  },
];

describe("planRender", () => {
  it("keeps everything but Secrets and lists each omitted Secret with its keys", () => {
    const plan = planRender(files);
    expect(plan.kept.map((f) => f.path)).toEqual([
      "1-manifest/apps_v1-deployment-ai-2501-ai-2501-postgres.yaml",
      "1-manifest/v1-namespace-default-ai-2501.yaml",
    ]);
    expect(plan.omitted).toEqual([
      {
        path: "1-manifest/v1-secret-ai-2501-ai-2501-postgres.yaml",
        namespace: "ai-2501",
        name: "ai-2501-postgres",
        type: "Opaque",
        keys: ["POSTGRES_PASSWORD", "POSTGRES_USER"],
      },
      {
        path: "1-manifest/v1-secret-ai-2501-ai-2501-pull-secret.yaml",
        namespace: "ai-2501",
        name: "ai-2501-pull-secret",
        type: "kubernetes.io/dockerconfigjson",
        keys: [".dockerconfigjson"],
      },
    ]);
    // A short value that recurs in plain config (the user name) is not a leak.
    expect(plan.leaks).toEqual([]);
  });

  it("finds a generated secret value that leaked into a kept manifest, plain or base64", () => {
    const leaky = [...files, { path: "1-manifest/v1-configmap-ai-2501-engine.yaml", content: `kind: ConfigMap\napiVersion: v1\nmetadata: {name: engine}\ndata:\n  DATABASE_URL: postgres://postgres:${PG_PASSWORD}@pg/engine\n` }];
    const plan = planRender(leaky);
    expect(plan.leaks).toHaveLength(1);
    expect(plan.leaks[0].path).toBe("1-manifest/v1-configmap-ai-2501-engine.yaml");
    expect(JSON.stringify(plan.leaks)).not.toContain(PG_PASSWORD);

    const leaky64 = [...files, { path: "1-manifest/x.yaml", content: `kind: ConfigMap\ndata:\n  k: ${b64(PG_PASSWORD)}\n` }];
    expect(planRender(leaky64).leaks.map((l) => l.path)).toEqual(["1-manifest/x.yaml"]);
  });

  it("scans for the stack's secret config values too", () => {
    const plan = planRender(files.slice(0, 1), ["ai-2501"]);
    expect(plan.leaks).toEqual([]); // shorter than 8: not scanned
    const plan2 = planRender([{ path: "a.yaml", content: "kind: ConfigMap\ndata:\n  k: elastic-pass-42\n" }], ["elastic-pass-42"]);
    expect(plan2.leaks.map((l) => l.path)).toEqual(["a.yaml"]);
  });

  it("omits a multi-document file that contains a Secret", () => {
    const plan = planRender([{ path: "all.yaml", content: "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\n---\nkind: Secret\napiVersion: v1\nmetadata: {name: b, namespace: n}\n" }]);
    expect(plan.kept).toEqual([]);
    expect(plan.omitted.map((o) => `${o.namespace}/${o.name}`)).toEqual(["n/b"]);
  });
});

describe("secretsNote", () => {
  it("tables the omitted Secrets and gives a kubectl example without values", () => {
    const note = secretsNote("dev", planRender(files).omitted);
    expect(note).toContain("# Secrets not rendered (stack dev)");
    expect(note).toContain("| ai-2501 | ai-2501-postgres | Opaque | POSTGRES_PASSWORD, POSTGRES_USER |");
    expect(note).toContain("kubectl -n ai-2501 create secret generic ai-2501-postgres --from-literal=POSTGRES_PASSWORD=... --from-literal=POSTGRES_USER=...");
    expect(note).not.toContain(b64(PG_PASSWORD));
    expect(note).not.toContain(PG_PASSWORD);
  });
  it("says so when there were no Secrets", () => {
    expect(secretsNote("prod", [])).toContain("This render contained no Secrets.");
  });
});
