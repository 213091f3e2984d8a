import { describe, expect, it } from "vitest";
import { exitCodeFor } from "../../../automation/exit-codes";

describe("exit codes", () => {
  it("maps outcomes like terraform plan -detailed-exitcode", () => {
    expect(exitCodeFor({ kind: "ok" })).toBe(0);
    expect(exitCodeFor({ kind: "error" })).toBe(1);
    expect(exitCodeFor({ kind: "changes" })).toBe(2);
    expect(exitCodeFor({ kind: "drift" })).toBe(2);
  });
});
