import { describe, expect, it } from "vitest";
import { countChanges, exitCodeFor } from "../../../automation/exit-codes";

describe("exit codes", () => {
  it("maps outcomes like terraform plan -detailed-exitcode", () => {
    expect(exitCodeFor({ kind: "ok" })).toBe(0);
    expect(exitCodeFor({ kind: "error" })).toBe(1);
    expect(exitCodeFor({ kind: "changes" })).toBe(2);
    expect(exitCodeFor({ kind: "drift" })).toBe(2);
  });

  it("counts only real changes in a change summary", () => {
    expect(countChanges({ same: 14, read: 1, refresh: 3 })).toBe(0);
    expect(countChanges({ same: 14, update: 2, create: 1, delete: 1, replace: 1 })).toBe(5);
    expect(countChanges({})).toBe(0);
  });
});
