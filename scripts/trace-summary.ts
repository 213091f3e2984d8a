// Where one Pulumi operation's time goes, from what `scripts/bench.sh --trace` records:
//  - the CLI's OpenTelemetry trace (`pulumi up --otel-traces file://<file>`: one JSON document per
//    line, OTLP spans of the CLI, the language host and the Kubernetes provider) -> a timeline of
//    the phases: CLI start, each plugin's start, the refresh's reads, the program's start and its
//    registrations, the steps, the shutdown;
//  - CPU profiles of the Node.js processes (NODE_OPTIONS=--cpu-prof) -> each process's CPU time by
//    package, and the project functions that cost the most.
//
//   npx tsx scripts/trace-summary.ts <trace.json> [<cpu-profile-dir>]
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";

interface Span {
  service: string;
  name: string;
  start: number;
  end: number;
  attributes: Record<string, string>;
}

interface OtlpAttribute {
  key: string;
  value?: { stringValue?: string };
}
interface OtlpDocument {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: { name: string; startTimeUnixNano: string; endTimeUnixNano: string; attributes?: OtlpAttribute[] }[] }[];
  }[];
}

export function readSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const doc = JSON.parse(line) as OtlpDocument;
    for (const rs of doc.resourceSpans ?? []) {
      const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value?.stringValue ?? "?";
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          const attributes: Record<string, string> = {};
          for (const a of s.attributes ?? []) if (a.value?.stringValue !== undefined && !(a.key in attributes)) attributes[a.key] = a.value.stringValue;
          // Nanoseconds since the epoch exceed a double's precision only below a microsecond.
          spans.push({ service, name: s.name, start: Number(BigInt(s.startTimeUnixNano) / 1000n) / 1000, end: Number(BigInt(s.endTimeUnixNano) / 1000n) / 1000, attributes });
        }
      }
    }
  }
  return spans;
}

export interface Phase {
  what: string;
  startMs: number;
  durationMs: number;
}

/** The phases of one operation, in ms from the CLI's start, from the CLI's own spans. */
export function phases(spans: Span[]): Phase[] {
  const cli = spans.filter((s) => s.service === "pulumi-cli");
  const t0 = Math.min(...cli.map((s) => s.start));
  const out: Phase[] = [];
  const add = (what: string, ss: Span[]) => {
    if (ss.length === 0) return;
    const start = Math.min(...ss.map((s) => s.start));
    out.push({ what, startMs: start - t0, durationMs: Math.max(...ss.map((s) => s.end)) - start });
  };
  add("whole operation (span `pulumi`)", cli.filter((s) => s.name === "pulumi"));
  add("CLI start to first output", cli.filter((s) => s.name === "time-to-first-print"));
  for (const p of cli.filter((s) => s.name === "newPlugin")) {
    const bin = path.basename(p.attributes["bin"] ?? "?");
    add(`plugin start: ${bin}`, [p]);
  }
  const named = (n: string) => cli.filter((s) => s.name === n);
  add(`refresh: reads (${named("pulumirpc.ResourceProvider/Read").length})`, named("pulumirpc.ResourceProvider/Read"));
  const run = named("run-program");
  add("program: run (language host)", run);
  const regs = named("pulumirpc.ResourceMonitor/RegisterResource");
  if (run.length > 0 && regs.length > 0) {
    const first = Math.min(...regs.map((s) => s.start));
    out.push({ what: "program: start to its first registration (node, modules)", startMs: run[0].start - t0, durationMs: first - run[0].start });
    const real = regs.filter((s) => s.end - s.start > 0).sort((a, b) => a.start - b.start);
    // The root stack registers first; the next registrations wait for the pre-flight reads.
    if (real.length > 1) out.push({ what: "program: root registered to the next registration (config, pre-flight reads)", startMs: real[0].start - t0, durationMs: real[1].start - real[0].start });
  }
  add(`registrations (${regs.length})`, regs);
  add(`steps: checks (${named("pulumirpc.ResourceProvider/Check").length})`, named("pulumirpc.ResourceProvider/Check"));
  add(`steps: diffs (${named("pulumirpc.ResourceProvider/Diff").length})`, named("pulumirpc.ResourceProvider/Diff"));
  add(`steps: creates/updates (${named("pulumirpc.ResourceProvider/Create").length + named("pulumirpc.ResourceProvider/Update").length})`, [...named("pulumirpc.ResourceProvider/Create"), ...named("pulumirpc.ResourceProvider/Update")]);
  add("shutdown: plugins cancelled", named("pulumirpc.ResourceProvider/Cancel"));
  return out.sort((a, b) => a.startMs - b.startMs);
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The package (or project, or Node.js itself) a script URL belongs to. */
export function owner(url: string, repo: string): string {
  if (url === "") return "(native, idle, GC)";
  if (url.startsWith("node:")) return "node (module loader, streams, ...)";
  const file = url.replace(/^file:\/\//, "");
  // The innermost package of a nested node_modules path.
  const m = /.*node_modules\/((@[^/]+\/)?[^/]+)/.exec(file);
  if (m) return m[1];
  return file.startsWith(repo) ? "project" : file;
}

export function profileSummary(profile: CpuProfile, repo: string): { process: string; cpuMs: number; byPackage: [string, number][]; projectFunctions: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const byPackage = new Map<string, number>();
  const projectInclusive = new Map<string, number>();
  let cpuMs = 0;
  let processName = "?";
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const fn = n.callFrame.functionName;
    if (fn === "(idle)" || fn === "(program)") continue;
    cpuMs += ms;
    const key = fn === "(garbage collector)" ? "(garbage collector)" : owner(n.callFrame.url, repo);
    byPackage.set(key, (byPackage.get(key) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur);
      if (!f) break;
      const url = f.callFrame.url.replace(/^file:\/\//, "");
      if (url.includes("/dynamic-provider/")) processName = "dynamic provider (pulumi-resource-pulumi-nodejs)";
      else if (url.includes("/cmd/run/")) processName = "program (language host's node)";
      else if (url.includes("/automation/cli")) processName = "platform CLI";
      if (!url.startsWith(repo) || url.includes("node_modules")) continue;
      const k = `${f.callFrame.functionName || "(module)"} ${path.relative(repo, url)}:${f.callFrame.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      projectInclusive.set(k, (projectInclusive.get(k) ?? 0) + ms);
    }
  }
  const top = <K>(m: Map<K, number>, n: number) => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
  return { process: processName, cpuMs, byPackage: top(byPackage, 8), projectFunctions: top(projectInclusive, 6) };
}

function main(): void {
  const [traceFile, profileDir] = process.argv.slice(2);
  if (!traceFile) {
    console.error("usage: npx tsx scripts/trace-summary.ts <trace.json> [<cpu-profile-dir>]");
    process.exit(2);
  }
  const repo = path.resolve(__dirname, "..");
  console.log(`Phases (ms from the CLI's start; from ${traceFile}):`);
  for (const p of phases(readSpans(readFileSync(traceFile, "utf8")))) {
    console.log(`  ${String(Math.round(p.startMs)).padStart(6)} +${String(Math.round(p.durationMs)).padStart(6)}  ${p.what}`);
  }
  if (!profileDir) return;
  for (const f of readdirSync(profileDir).filter((n) => n.endsWith(".cpuprofile")).sort()) {
    const s = profileSummary(JSON.parse(readFileSync(path.join(profileDir, f), "utf8")) as CpuProfile, repo);
    console.log(`CPU of the ${s.process}: ${Math.round(s.cpuMs)} ms (${f})`);
    console.log(`  by package: ${s.byPackage.map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")}`);
    if (s.projectFunctions.length > 0) console.log(`  project functions (inclusive): ${s.projectFunctions.map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")}`);
  }
}

if (require.main === module) main();
