// The locally built Pulumi CLI, language host and Kubernetes provider work together through
// the Automation API, with no network: up, a preview that shows no changes, destroy.
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kubectl, kubectlJson, kubectlOk, tempBackend, uniqueName } from "./harness";

const ns = uniqueName("it-tiny");
const backend = tempBackend();

beforeAll(async () => {
  await kubectlOk(["create", "namespace", ns]);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", ns, "--wait=false"]);
  backend.remove();
});

describe("Pulumi toolchain", () => {
  it("runs a TypeScript program: up, preview with no changes, destroy", async () => {
    const stackName = uniqueName("tiny");
    const stack = await LocalWorkspace.createStack(
      { stackName, workDir: path.join(__dirname, "fixtures/tiny") },
      { envVars: backend.env, pulumiHome: backend.env.PULUMI_HOME },
    );
    try {
      await stack.setAllConfig({ namespace: { value: ns }, greeting: { value: "hello" } });
      const up = await stack.up();
      expect(up.summary.result).toBe("succeeded");
      expect(up.summary.resourceChanges?.create).toBe(3); // stack, provider, ConfigMap
      const name = up.outputs.name.value as string;
      const cm = await kubectlJson<{ data: Record<string, string> }>(["get", "configmap", name, "-n", ns]);
      expect(cm.data.greeting).toBe("hello");

      const preview = await stack.preview();
      expect(preview.changeSummary.same).toBe(3);
      expect(Object.keys(preview.changeSummary).filter((k) => k !== "same")).toEqual([]);

      const down = await stack.destroy();
      expect(down.summary.result).toBe("succeeded");
      expect((await kubectl(["get", "configmap", name, "-n", ns])).code).not.toBe(0);
    } finally {
      await stack.workspace.removeStack(stackName, { force: true }).catch(() => undefined);
    }
  });
});

