import { describe, expect, it } from "vitest";
import { describeError, errorLines, hintFor, PlatformError } from "../../../automation/errors";

const transcript = (stderr: string) => `code: 255\n stdout: Previewing update (dev)\n\n stderr: ${stderr}\n err?: \n`;

describe("describeError", () => {
  it("keeps only the CLI's error lines and adds a hint", () => {
    const msg = describeError(
      new Error(transcript("warning: something\nerror: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables")),
      "up on stack dev",
    );
    expect(msg).toBe(
      "up on stack dev failed:\n  error: passphrase must be set with PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE environment variables\n" +
        "hint: set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the stack's passphrase; `npm run platform` sets the local default through scripts/with-env.sh",
    );
  });

  it("passes a PlatformError through unchanged", () => {
    expect(describeError(new PlatformError("stack x does not exist"), "up")).toBe("stack x does not exist");
  });

  it("falls back to the tail of stderr when there is no error line", () => {
    expect(errorLines(transcript("line1\nline2\n"))).toEqual(["line1", "line2"]);
  });

  it("hints at the cluster, the CLI and a missing stack", () => {
    expect(hintFor("dial tcp 127.0.0.1:6443: connect: connection refused")).toMatch(/Kubernetes API is not reachable/);
    expect(hintFor("spawn pulumi ENOENT")).toMatch(/pulumi CLI is not on PATH/);
    expect(hintFor("error: no stack named 'dev' found")).toMatch(/pass --create/);
    expect(hintFor("all fine")).toBeUndefined();
  });
});
