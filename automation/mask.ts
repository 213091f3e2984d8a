/**
 * Secret masking. Every line the CLI prints goes through a SecretMasker that knows the
 * stack's secret config values and the values of outputs marked secret; each occurrence
 * (also in base64, as Kubernetes Secret data carries it) is replaced by MASK.
 */
export const MASK = "[secret]";

/** Values this short are not masked on their own (they would mangle ordinary text). */
const MIN_MASK_LENGTH = 4;

export class SecretMasker {
  private readonly values = new Set<string>();

  add(value: unknown): void {
    for (const s of collectStrings(value)) {
      if (s.length < MIN_MASK_LENGTH) continue;
      this.values.add(s);
      this.values.add(Buffer.from(s, "utf8").toString("base64"));
    }
  }

  mask(text: string): string {
    if (this.values.size === 0 || text.length === 0) return text;
    // Longest first, so a value containing another is masked whole.
    const sorted = [...this.values].sort((a, b) => b.length - a.length);
    let out = text;
    for (const v of sorted) {
      if (out.includes(v)) out = out.split(v).join(MASK);
    }
    return out;
  }
}

/** All string leaves of a value (numbers and booleans as text), for registering secrets. */
export function collectStrings(value: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === "string") out.push(v);
    else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object") Object.values(v as Record<string, unknown>).forEach(walk);
  };
  walk(value);
  return out;
}

export interface StackOutput {
  value: unknown;
  secret: boolean;
}

/**
 * Outputs for display: secret outputs become MASK (whole value, whatever its shape), and
 * nested values that the engine reports as its secret sentinel are masked too.
 */
export function maskOutputs(outputs: Readonly<Record<string, StackOutput>>): Record<string, { value: unknown; secret: boolean }> {
  const result: Record<string, { value: unknown; secret: boolean }> = {};
  for (const key of Object.keys(outputs).sort()) {
    const o = outputs[key];
    result[key] = { value: o.secret ? MASK : maskSentinels(o.value), secret: o.secret };
  }
  return result;
}

/** Pulumi's serialized secret: {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value}. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** Whether a value is Pulumi's serialized secret (as state files and engine events carry it). */
export function isSecretSentinel(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

function maskSentinels(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(maskSentinels);
  if (isSecretSentinel(v)) return MASK;
  if (v && typeof v === "object") {
    const obj = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(obj)) out[k] = maskSentinels(val);
    return out;
  }
  return v;
}

/**
 * A writer that masks whole lines: streamed output arrives in arbitrary chunks, and a
 * secret split across two chunks must still be masked, so text is held until a newline
 * (or flush()).
 */
export class MaskingLineWriter {
  private pending = "";
  constructor(
    private readonly masker: SecretMasker,
    private readonly sink: (text: string) => void,
  ) {}

  write(chunk: string): void {
    this.pending += chunk;
    const nl = this.pending.lastIndexOf("\n");
    if (nl < 0) return;
    const complete = this.pending.slice(0, nl + 1);
    this.pending = this.pending.slice(nl + 1);
    this.sink(this.masker.mask(complete));
  }

  flush(): void {
    if (this.pending) {
      this.sink(this.masker.mask(this.pending));
      this.pending = "";
    }
  }
}
