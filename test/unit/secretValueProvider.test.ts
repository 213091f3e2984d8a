// The dynamic provider behind the generated secrets, called directly: create generates, diff and
// update never change the value, only a new rotation keeper replaces it.
import { describe, expect, it } from "vitest";
import { secretValueProvider as p, type SecretValueInputs, type SecretValueOutputs } from "../../components/secretValueProvider";

const hex: SecretValueInputs = { bytes: 32, encoding: "hex", rotation: "" };
const b64: SecretValueInputs = { bytes: 48, encoding: "base64url", rotation: "" };

async function create(inputs: SecretValueInputs): Promise<{ id: string; outs: SecretValueOutputs }> {
  const r = await p.create(inputs);
  return { id: r.id, outs: r.outs as SecretValueOutputs };
}

describe("secretValueProvider", () => {
  it("creates a hex value of the requested entropy", async () => {
    const { id, outs } = await create(hex);
    expect(outs.value).toMatch(/^[0-9a-f]{64}$/);
    expect(outs).toMatchObject(hex);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("creates a base64url value (URL-safe, no padding)", async () => {
    const { outs } = await create(b64);
    expect(outs.value).toMatch(/^[A-Za-z0-9_-]{64}$/);
  });

  it("creates a different value every time", async () => {
    const values = await Promise.all(Array.from({ length: 20 }, () => create(hex).then((r) => r.outs.value)));
    expect(new Set(values).size).toBe(20);
  });

  it("reports no change for the same inputs: the value is stable across every up", async () => {
    const { id, outs } = await create(hex);
    const d = await p.diff!(id, outs, { ...hex });
    expect(d.changes).toBe(false);
    expect(d.replaces).toEqual([]);
  });

  it("replaces (regenerates) only when the rotation keeper changes", async () => {
    const { id, outs } = await create(hex);
    const d = await p.diff!(id, outs, { ...hex, rotation: "2025-06" });
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual(["rotation"]);
    expect(d.deleteBeforeReplace).toBe(false);
  });

  it("keeps the value when size or encoding change (a refactor updates, never regenerates)", async () => {
    const { id, outs } = await create(hex);
    const news: SecretValueInputs = { bytes: 64, encoding: "base64url", rotation: "" };
    const d = await p.diff!(id, outs, news);
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual([]);
    expect(d.stables).toEqual(["value"]);
    const u = await p.update!(id, outs, news);
    expect(u.outs).toEqual({ ...news, value: outs.value });
  });

  it("checks its inputs", async () => {
    expect((await p.check!(hex, hex)).failures).toEqual([]);
    const bad = await p.check!(hex, { bytes: 4, encoding: "base32" as "hex", rotation: "" });
    expect(bad.failures?.map((f) => f.property).sort()).toEqual(["bytes", "encoding"]);
  });

  it("captures nothing from its module (Pulumi serializes it into the state)", () => {
    for (const fn of [p.check, p.create, p.diff, p.update, p.read]) {
      const src = String(fn);
      expect(src).not.toMatch(/__vite_ssr_import|_crypto|import\(/);
    }
    expect(String(p.create)).toContain('require("crypto")');
  });
});
