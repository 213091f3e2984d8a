import { describe, expect, it } from "vitest";
import { run } from "../../../automation/cli-main";

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
