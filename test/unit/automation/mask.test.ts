import { describe, expect, it } from "vitest";
import { MASK, MaskingLineWriter, maskOutputs, SecretMasker } from "../../../automation/mask";

describe("SecretMasker", () => {
  it("masks every occurrence, plain and base64", () => {
    const m = new SecretMasker();
    m.add("p4ssw0rd-xyz");
    const b64 = Buffer.from("p4ssw0rd-xyz").toString("base64");
    expect(m.mask(`url=postgres://u:p4ssw0rd-xyz@db/x data=${b64} again p4ssw0rd-xyz`)).toBe(
      `url=postgres://u:${MASK}@db/x data=${MASK} again ${MASK}`,
    );
  });

  it("masks the longer of two overlapping values whole", () => {
    const m = new SecretMasker();
    m.add("abcd");
    m.add("abcdefgh");
    expect(m.mask("x abcdefgh y abcd")).toBe(`x ${MASK} y ${MASK}`);
  });

  it("registers nested string leaves and ignores values too short to mask", () => {
    const m = new SecretMasker();
    m.add({ user: "ab", token: ["tok-123456"], n: 987654 });
    expect(m.mask("ab tok-123456 987654")).toBe(`ab ${MASK} ${MASK}`);
  });

  it("leaves text alone when nothing is registered", () => {
    expect(new SecretMasker().mask("nothing secret")).toBe("nothing secret");
  });
});

describe("maskOutputs", () => {
  it("replaces secret outputs whole and keeps plain ones", () => {
    const out = maskOutputs({
      publicUrl: { value: "https://agents.example.com", secret: false },
      apiKey: { value: "k-0123456789", secret: true },
      db: { value: { host: "pg", password: "x" }, secret: true },
    });
    expect(out).toEqual({
      apiKey: { value: MASK, secret: true },
      db: { value: MASK, secret: true },
      publicUrl: { value: "https://agents.example.com", secret: false },
    });
    expect(JSON.stringify(out)).not.toContain("k-0123456789");
  });

  it("masks secret sentinels nested in plain outputs", () => {
    const out = maskOutputs({
      conn: { value: { host: "pg", password: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "pw" } }, secret: false },
    });
    expect(out.conn.value).toEqual({ host: "pg", password: MASK });
  });
});

describe("MaskingLineWriter", () => {
  it("masks a secret split across chunks and holds partial lines until flush", () => {
    const m = new SecretMasker();
    m.add("s3cr3t-token");
    const sink: string[] = [];
    const w = new MaskingLineWriter(m, (t) => sink.push(t));
    w.write("updating with s3cr");
    expect(sink).toEqual([]);
    w.write("3t-token done\nnext s3cr3t");
    expect(sink).toEqual([`updating with ${MASK} done\n`]);
    w.write("-token");
    w.flush();
    expect(sink.join("")).toBe(`updating with ${MASK} done\nnext ${MASK}`);
  });
});
