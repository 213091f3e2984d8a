// The dynamic provider behind the generated secrets, called directly: create generates; diff never
// asks for a replace (the resources are protected); update regenerates only for a new non-empty
// rotation keeper and keeps the value in every other case (upgrade, refactor, keeper removed).
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

  it("rotates in place: a new keeper is an update (never a replace) that regenerates the value", async () => {
    const { id, outs } = await create(hex);
    const news = { ...hex, rotation: "2026-12-02T19:40:00.000Z" };
    const d = await p.diff!(id, outs, news);
    expect(d).toEqual({ changes: true, replaces: [], stables: [], deleteBeforeReplace: false });
    const u = (await p.update!(id, outs, news)).outs as SecretValueOutputs;
    expect(u.value).toMatch(/^[0-9a-f]{64}$/);
    expect(u.value).not.toBe(outs.value);
    expect(u.rotation).toBe("2026-12-02T19:40:00.000Z");
    // The next up with the same keeper: no change, the new value stays.
    expect((await p.diff!(id, u, news)).changes).toBe(false);
    // A second rotation regenerates again.
    const again = (await p.update!(id, u, { ...hex, rotation: "second" })).outs as SecretValueOutputs;
    expect(again.value).not.toBe(u.value);
  });

  it("upgrades a stack deployed before: outputs without a keeper, or with one that config still has, change nothing", async () => {
    const { id, outs } = await create(hex);
    const { rotation: _dropped, ...olderState } = outs;
    const d = await p.diff!(id, olderState as SecretValueOutputs, { ...hex });
    expect(d.changes).toBe(false);
    const rotatedBefore: SecretValueOutputs = { ...outs, rotation: "2025-06" };
    expect((await p.diff!(id, rotatedBefore, { ...hex, rotation: "2025-06" })).changes).toBe(false);
  });

  it("keeps the value when a keeper is removed from config, and again when the same keeper comes back", async () => {
    const { id, outs } = await create(hex);
    const rotated = (await p.update!(id, outs, { ...hex, rotation: "k1" })).outs as SecretValueOutputs;
    // The keeper dropped from the stack config (a cleanup, a merge): no change at all.
    expect(await p.diff!(id, rotated, { ...hex, rotation: "" })).toMatchObject({ changes: false, replaces: [] });
    // Even if an update runs for another reason (a resize), the value and the keeper stay.
    const resized = (await p.update!(id, rotated, { bytes: 64, encoding: "hex", rotation: "" })).outs as SecretValueOutputs;
    expect(resized).toEqual({ bytes: 64, encoding: "hex", rotation: "k1", value: rotated.value });
    // So putting the same keeper back (a revert of the config file) regenerates nothing.
    expect((await p.diff!(id, resized, { bytes: 64, encoding: "hex", rotation: "k1" })).changes).toBe(false);
  });

  it("creates from `initial` when given, and ignores a later change of it", async () => {
    const initial = "an-existing-value-of-enough-length";
    const { id, outs } = await create({ ...b64, initial });
    expect(outs.value).toBe(initial);
    expect(outs).not.toHaveProperty("initial");
    const d = await p.diff!(id, outs, { ...b64, initial: "another-value-of-enough-length" });
    expect(d.changes).toBe(false);
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
    // Never a replace, whatever changes.
    expect((await p.diff!(id, outs, { ...news, rotation: "r" })).replaces).toEqual([]);
  });

  it("checks its inputs", async () => {
    expect((await p.check!(hex, hex)).failures).toEqual([]);
    const bad = await p.check!(hex, { bytes: 4, encoding: "base32" as "hex", rotation: "", initial: "short" });
    expect(bad.failures?.map((f) => f.property).sort()).toEqual(["bytes", "encoding", "initial"]);
  });

  it("captures nothing from its module (Pulumi serializes it into the state)", () => {
    for (const fn of [p.check, p.create, p.diff, p.update, p.read]) {
      const src = String(fn);
      expect(src).not.toMatch(/__vite_ssr_import|_crypto|import\(/);
    }
    expect(String(p.create)).toContain('require("crypto")');
    expect(String(p.update)).toContain('require("crypto")');
  });
});
