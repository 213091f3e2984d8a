// An update killed while the file backend wrote its checkpoint's metadata sidecar leaves that
// sidecar empty, and the real `pulumi` then refuses every command on the stack ("failed to load
// checkpoint: EOF"). The CLI removes such a sidecar before it opens the stack (automation/backend-repair.ts).
import { existsSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliRunner, pulumiOn, repoRoot, tempBackend, uniqueName } from "./harness";

const backend = tempBackend();
const stack = uniqueName("it-torn");
const pulumi = pulumiOn(stack, backend.env);
const cli = cliRunner(stack, () => ({ ...process.env, ...backend.env }));

afterAll(async () => {
  await pulumi(["stack", "rm", "--yes", "--force"]).catch(() => undefined);
  rmSync(path.join(repoRoot, `Pulumi.${stack}.yaml`), { force: true });
  backend.remove();
});

describe("a torn checkpoint sidecar of the file backend", () => {
  it("breaks every pulumi command on the stack; the CLI removes it, says so, and the stack is readable again", async () => {
    await pulumi(["stack", "init"]);
    const sidecar = path.join(backend.dir, ".pulumi", "stacks", "agent-platform", `${stack}.json.attrs`);
    expect(existsSync(sidecar)).toBe(true);
    writeFileSync(sidecar, ""); // what a SIGKILL between the sidecar's create and write leaves

    await expect(pulumi(["stack", "export"])).rejects.toThrow(/failed to load checkpoint: EOF/);

    const r = await cli(["outputs"]);
    expect(r.code, r.log.slice(-2000)).toBe(0);
    expect(r.doc.notes.join("\n") + r.log).toMatch(/removed a torn metadata file of the file backend/);
    expect(existsSync(sidecar)).toBe(false);
    const exported = JSON.parse((await pulumi(["stack", "export"])).stdout) as { version: number };
    expect(exported.version).toBe(3);
  });
});
