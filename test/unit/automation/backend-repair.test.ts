import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkpointSidecars, fileBackendDir, isTornSidecar, repairTornSidecars } from "../../../automation/backend-repair";

describe("the file backend's directory", () => {
  it("is read from file:// URLs only (absolute, ~, relative; query dropped)", () => {
    expect(fileBackendDir("file:///var/state?no_tmp_dir=true", "/home/u", "/w")).toBe("/var/state");
    expect(fileBackendDir("file://~/.pulumi-state", "/home/u", "/w")).toBe("/home/u/.pulumi-state");
    expect(fileBackendDir("file://./state", "/home/u", "/w")).toBe("/w/state");
    expect(fileBackendDir("s3://bucket/state")).toBeUndefined();
    expect(fileBackendDir(undefined)).toBeUndefined();
  });
});

describe("torn sidecars", () => {
  it("are what is not a JSON object", () => {
    expect(isTornSidecar("")).toBe(true);
    expect(isTornSidecar('{"user.content_type":"appl')).toBe(true);
    expect(isTornSidecar("null")).toBe(true);
    expect(isTornSidecar('{"user.content_type":"application/json","md5":"x"}\n')).toBe(false);
  });
  it("are looked for beside the stack's checkpoint and backup, every compression, both layouts, by the stack's last name", () => {
    const files = checkpointSidecars("/b", "organization/agent-platform/dev");
    expect(files).toContain("/b/.pulumi/stacks/agent-platform/dev.json.attrs");
    expect(files).toContain("/b/.pulumi/stacks/agent-platform/dev.json.gz.bak.attrs");
    expect(files).toContain("/b/.pulumi/stacks/dev.json.zst.attrs");
  });

  let dir: string | undefined;
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));
  it("are removed with a note; whole ones, other stacks' and remote backends are left alone", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "ap-repair-"));
    const stacks = path.join(dir, ".pulumi", "stacks", "agent-platform");
    mkdirSync(stacks, { recursive: true });
    writeFileSync(path.join(stacks, "dev.json.attrs"), "");
    writeFileSync(path.join(stacks, "dev.json.bak.attrs"), '{"md5":"x"}');
    writeFileSync(path.join(stacks, "prod.json.attrs"), "");
    const notes: string[] = [];
    const removed = await repairTornSidecars({ env: { PULUMI_BACKEND_URL: `file://${dir}` }, note: (l) => notes.push(l) }, "dev");
    expect(removed).toEqual([path.join(stacks, "dev.json.attrs")]);
    expect(readdirSync(stacks).sort()).toEqual(["dev.json.bak.attrs", "prod.json.attrs"]);
    expect(notes.join("\n")).toMatch(/removed a torn metadata file .*dev\.json\.attrs, 0 bytes/);
    expect(await repairTornSidecars({ env: { PULUMI_BACKEND_URL: "s3://b" }, note: () => undefined }, "prod")).toEqual([]);
  });
});
